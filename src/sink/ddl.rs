//! The SQLite schema of a copied table: `CREATE TABLE` before the data,
//! `CREATE INDEX` after it (building an index once is faster than maintaining it
//! row by row).

use crate::mapping::types::Storage;

/// Quotes a SQLite identifier: always, so case and reserved words survive.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[derive(Debug, Clone)]
pub struct SinkColumn {
    pub name: String,
    /// The declared type: the default mapping's, the map's `type`, or the one an
    /// existing table already has.
    pub declared: String,
    pub storage: Storage,
    pub not_null: bool,
    /// A SQLite default expression, already translated.
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SinkIndex {
    pub name: String,
    pub unique: bool,
    /// (column, descending)
    pub columns: Vec<(String, bool)>,
}

/// What a foreign key does on update or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// From `pg_constraint.confupdtype` / `confdeltype`.
    pub fn from_pg(c: char) -> FkAction {
        match c {
            'r' => FkAction::Restrict,
            'c' => FkAction::Cascade,
            'n' => FkAction::SetNull,
            'd' => FkAction::SetDefault,
            _ => FkAction::NoAction,
        }
    }
    fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SinkForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_update: FkAction,
    pub on_delete: FkAction,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

#[derive(Debug, Clone)]
pub struct SinkTable {
    pub name: String,
    pub columns: Vec<SinkColumn>,
    pub primary_key: Option<Vec<String>>,
    pub foreign_keys: Vec<SinkForeignKey>,
    /// Unique constraints and plain indexes, created after the data is loaded.
    pub indexes: Vec<SinkIndex>,
    /// The table already exists in the target (the app's own schema): its rows
    /// are replaced, its schema, indexes and triggers are kept.
    pub existing: bool,
}

fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

impl SinkTable {
    pub fn create_table_sql(&self) -> String {
        let mut parts: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut s = format!("{} {}", quote(&c.name), c.declared);
                if c.not_null {
                    s.push_str(" NOT NULL");
                }
                if let Some(d) = &c.default {
                    s.push_str(" DEFAULT ");
                    s.push_str(d);
                }
                s
            })
            .collect();
        if let Some(pk) = &self.primary_key {
            parts.push(format!("PRIMARY KEY ({})", column_list(pk)));
        }
        for fk in &self.foreign_keys {
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {} ({})",
                column_list(&fk.columns),
                quote(&fk.ref_table),
                column_list(&fk.ref_columns)
            );
            if fk.on_update != FkAction::NoAction {
                s.push_str(" ON UPDATE ");
                s.push_str(fk.on_update.sql());
            }
            if fk.on_delete != FkAction::NoAction {
                s.push_str(" ON DELETE ");
                s.push_str(fk.on_delete.sql());
            }
            if fk.deferrable {
                s.push_str(if fk.initially_deferred {
                    " DEFERRABLE INITIALLY DEFERRED"
                } else {
                    " DEFERRABLE INITIALLY IMMEDIATE"
                });
            }
            parts.push(s);
        }
        format!(
            "CREATE TABLE {} (\n  {}\n)",
            quote(&self.name),
            parts.join(",\n  ")
        )
    }

    pub fn create_index_sqls(&self) -> Vec<String> {
        self.indexes
            .iter()
            .map(|ix| {
                let cols: Vec<String> = ix
                    .columns
                    .iter()
                    .map(|(c, desc)| {
                        if *desc {
                            format!("{} DESC", quote(c))
                        } else {
                            quote(c)
                        }
                    })
                    .collect();
                format!(
                    "CREATE {}INDEX {} ON {} ({})",
                    if ix.unique { "UNIQUE " } else { "" },
                    quote(&ix.name),
                    quote(&self.name),
                    cols.join(", ")
                )
            })
            .collect()
    }

    /// `INSERT INTO t (cols) VALUES (?, …), …` for `rows` rows.
    pub fn insert_sql(&self, rows: usize) -> String {
        let one = format!("({})", vec!["?"; self.columns.len()].join(","));
        let cols: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            quote(&self.name),
            column_list(&cols),
            vec![one; rows].join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_with_keys() {
        let t = SinkTable {
            name: "order".into(),
            columns: vec![
                SinkColumn {
                    name: "id".into(),
                    declared: "INTEGER".into(),
                    storage: Storage::Integer,
                    not_null: true,
                    default: None,
                },
                SinkColumn {
                    name: "Us\"er".into(),
                    declared: "INTEGER".into(),
                    storage: Storage::Integer,
                    not_null: false,
                    default: Some("0".into()),
                },
            ],
            primary_key: Some(vec!["id".into()]),
            foreign_keys: vec![SinkForeignKey {
                columns: vec!["Us\"er".into()],
                ref_table: "users".into(),
                ref_columns: vec!["id".into()],
                on_update: FkAction::NoAction,
                on_delete: FkAction::Cascade,
                deferrable: false,
                initially_deferred: false,
            }],
            existing: false,
            indexes: vec![SinkIndex {
                name: "ix".into(),
                unique: true,
                columns: vec![("Us\"er".into(), true)],
            }],
        };
        assert_eq!(
            t.create_table_sql(),
            "CREATE TABLE \"order\" (\n  \"id\" INTEGER NOT NULL,\n  \"Us\"\"er\" INTEGER DEFAULT 0,\n  \
             PRIMARY KEY (\"id\"),\n  FOREIGN KEY (\"Us\"\"er\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE\n)"
        );
        assert_eq!(
            t.create_index_sqls(),
            vec!["CREATE UNIQUE INDEX \"ix\" ON \"order\" (\"Us\"\"er\" DESC)"]
        );
        assert_eq!(
            t.insert_sql(2),
            "INSERT INTO \"order\" (\"id\", \"Us\"\"er\") VALUES (?,?),(?,?)"
        );
    }
}
