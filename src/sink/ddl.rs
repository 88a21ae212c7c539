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
    /// `GENERATED ALWAYS AS (…)`: SQLite computes it, nothing is written to it.
    pub generated: Option<Generated>,
}

impl SinkColumn {
    /// Whether rows are written into this column (not a generated one).
    pub fn written(&self) -> bool {
        self.generated.is_none()
    }
}

/// A generated column's translated expression.
#[derive(Debug, Clone)]
pub struct Generated {
    pub sql: String,
    /// STORED (computed when the row is written) rather than VIRTUAL.
    pub stored: bool,
}

/// A translated CHECK constraint.
#[derive(Debug, Clone)]
pub struct SinkCheck {
    pub name: String,
    pub sql: String,
}

/// One key of an index: a column or a translated expression.
#[derive(Debug, Clone)]
pub struct IndexKey {
    /// The SQLite column, when the key is one.
    pub column: Option<String>,
    /// The key as SQLite is given it: a quoted column or `(expression)`.
    pub sql: String,
    pub descending: bool,
}

impl IndexKey {
    pub fn column(name: &str, descending: bool) -> IndexKey {
        IndexKey {
            column: Some(name.to_owned()),
            sql: quote(name),
            descending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SinkIndex {
    pub name: String,
    pub unique: bool,
    pub keys: Vec<IndexKey>,
    /// A partial index's translated `WHERE`.
    pub predicate: Option<String>,
}

/// A view whose query was translated.
#[derive(Debug, Clone)]
pub struct SinkView {
    pub name: String,
    /// `CREATE VIEW …`.
    pub sql: String,
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
    /// CHECK constraints: table and column CHECKs, domain CHECKs on the
    /// domain's columns, enum columns' labels.
    pub checks: Vec<SinkCheck>,
    /// Unique constraints and indexes, created after the data is loaded.
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
                if let Some(g) = &c.generated {
                    s.push_str(&format!(
                        " GENERATED ALWAYS AS ({}) {}",
                        g.sql,
                        if g.stored { "STORED" } else { "VIRTUAL" }
                    ));
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
        for c in &self.checks {
            parts.push(format!("CONSTRAINT {} CHECK ({})", quote(&c.name), c.sql));
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
                let keys: Vec<String> = ix
                    .keys
                    .iter()
                    .map(|k| {
                        if k.descending {
                            format!("{} DESC", k.sql)
                        } else {
                            k.sql.clone()
                        }
                    })
                    .collect();
                let mut sql = format!(
                    "CREATE {}INDEX {} ON {} ({})",
                    if ix.unique { "UNIQUE " } else { "" },
                    quote(&ix.name),
                    quote(&self.name),
                    keys.join(", ")
                );
                if let Some(p) = &ix.predicate {
                    sql.push_str(" WHERE ");
                    sql.push_str(p);
                }
                sql
            })
            .collect()
    }

    /// `INSERT INTO t (cols) VALUES (?, …), …` for `rows` rows, of the
    /// written (not generated) columns.
    pub fn insert_sql(&self, rows: usize) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.written())
            .map(|c| c.name.clone())
            .collect();
        let one = format!("({})", vec!["?"; cols.len()].join(","));
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
                    generated: None,
                },
                SinkColumn {
                    name: "Us\"er".into(),
                    declared: "INTEGER".into(),
                    storage: Storage::Integer,
                    not_null: false,
                    default: Some("0".into()),
                    generated: None,
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
            checks: Vec::new(),
            indexes: vec![SinkIndex {
                name: "ix".into(),
                unique: true,
                keys: vec![IndexKey::column("Us\"er", true)],
                predicate: None,
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
