//! CLI choices + catalog → one validated, immutable plan, before any write.
//!
//! Every problem found is collected and reported at once: a user fixes their
//! flags in one go, not one error per run.

use std::collections::{HashMap, HashSet};

use arrow_schema::SchemaRef;

use crate::mapping::convert::{arrow_schema, ColumnConversion};
use crate::mapping::types::{map_type, Storage, TypeMapping, ValueKind};
use crate::sink::ddl::{FkAction, SinkColumn, SinkForeignKey, SinkIndex, SinkTable};
use crate::source::catalog::{quote_ident, PgColumn, PgTable, RelationKind};
use crate::source::copy::CopySource;

/// Which tables to copy.
#[derive(Debug, Clone, Default)]
pub struct TableSelection {
    /// Names given with `--tables` (empty: all tables of the schemas).
    pub include: Vec<String>,
    /// Names given with `--exclude`.
    pub exclude: Vec<String>,
}

/// How the readers split a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkStrategy {
    /// Ranges of a single-column integer primary key.
    IntKey(String),
    /// One chunk per leaf partition.
    Partitions(Vec<(String, String)>),
    /// Ranges of heap pages.
    Pages(u64),
}

/// Everything needed to copy one table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// `schema.table` as in PostgreSQL, for messages.
    pub source_name: String,
    pub copy: CopySource,
    pub sink: SinkTable,
    pub conversions: Vec<ColumnConversion>,
    pub arrow_schema: SchemaRef,
    pub chunking: ChunkStrategy,
    pub estimated_rows: f64,
}

/// The validated plan of a full sync.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub tables: Vec<TablePlan>,
    /// Things SQLite cannot express, listed in the summary.
    pub not_expressed: Vec<String>,
}

/// The SQLite name of a PostgreSQL table: `schema__table` outside `public`.
pub fn sqlite_table_name(schema: &str, table: &str) -> String {
    if schema == "public" {
        table.to_owned()
    } else {
        format!("{schema}__{table}")
    }
}

fn matches_name(t: &PgTable, name: &str) -> bool {
    name == sqlite_table_name(&t.schema, &t.name)
        || name == t.name
        || name == format!("{}.{}", t.schema, t.name)
}

/// Builds the plan, or every reason it cannot be built.
pub fn build(catalog: Vec<PgTable>, selection: &TableSelection) -> Result<SyncPlan, Vec<String>> {
    let mut problems = Vec::new();
    for name in selection.include.iter().chain(&selection.exclude) {
        let hits = catalog.iter().filter(|t| matches_name(t, name)).count();
        if hits == 0 {
            let known: Vec<String> = catalog
                .iter()
                .map(|t| sqlite_table_name(&t.schema, &t.name))
                .take(20)
                .collect();
            problems.push(format!(
                "no table named {name:?} in the chosen schemas (known: {}{})",
                known.join(", "),
                if catalog.len() > 20 { ", …" } else { "" }
            ));
        } else if hits > 1 {
            problems.push(format!(
                "{name:?} names tables in several schemas; write it as schema.table"
            ));
        }
    }
    let chosen: Vec<PgTable> = catalog
        .into_iter()
        .filter(|t| {
            (selection.include.is_empty() || selection.include.iter().any(|n| matches_name(t, n)))
                && !selection.exclude.iter().any(|n| matches_name(t, n))
        })
        .collect();

    if chosen.is_empty() && problems.is_empty() {
        problems.push(
            "nothing to copy: the chosen schemas and --tables/--exclude select no table \
             (check --schema; the default is public)"
                .to_owned(),
        );
    }

    let mut names_seen: HashMap<String, String> = HashMap::new();
    for t in &chosen {
        let sqlite = sqlite_table_name(&t.schema, &t.name);
        let key = sqlite.to_lowercase(); // SQLite table names are case-insensitive
        if let Some(other) = names_seen.insert(key, format!("{}.{}", t.schema, t.name)) {
            problems.push(format!(
                "tables {other} and {}.{} would both become SQLite table {sqlite:?}",
                t.schema, t.name
            ));
        }
    }
    let copied: HashSet<(String, String)> = chosen
        .iter()
        .map(|t| (t.schema.clone(), t.name.clone()))
        .collect();

    let mut not_expressed = Vec::new();
    let mut tables = Vec::new();
    let mut index_names: HashSet<String> = HashSet::new();
    for t in chosen {
        match plan_table(&t, &copied, &mut not_expressed, &mut index_names) {
            Ok(p) => tables.push(p),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(SyncPlan {
            tables,
            not_expressed,
        })
    } else {
        Err(problems)
    }
}

fn plan_table(
    t: &PgTable,
    copied: &HashSet<(String, String)>,
    not_expressed: &mut Vec<String>,
    index_names: &mut HashSet<String>,
) -> Result<TablePlan, Vec<String>> {
    let source_name = format!("{}.{}", t.schema, t.name);
    let sqlite_name = sqlite_table_name(&t.schema, &t.name);
    let mut problems = Vec::new();
    if !t.readable {
        problems.push(format!(
            "table {source_name}: permission denied, the role may not SELECT from it \
             (GRANT SELECT, or use --exclude {sqlite_name})"
        ));
    }
    if sqlite_name.to_lowercase().starts_with("sqlite_") {
        problems.push(format!(
            "table {source_name}: SQLite reserves names starting with sqlite_ \
             (use --exclude {sqlite_name})"
        ));
    }
    let mut column_names: HashMap<String, &str> = HashMap::new();
    for c in &t.columns {
        // SQLite column names are case-insensitive.
        if let Some(other) = column_names.insert(c.name.to_lowercase(), &c.name) {
            problems.push(format!(
                "table {source_name}: columns {other:?} and {:?} differ only in case, which \
                 SQLite cannot hold (use --exclude {sqlite_name})",
                c.name
            ));
        }
    }
    if t.columns.is_empty() {
        problems.push(format!(
            "table {source_name} has no columns; SQLite cannot hold it (use --exclude)"
        ));
    }
    let mut mappings: Vec<(&PgColumn, TypeMapping)> = Vec::new();
    for c in &t.columns {
        match map_type(&c.pg_type, c.typmod) {
            Ok(m) => mappings.push((c, m)),
            Err(reason) => problems.push(format!(
                "table {source_name}, column {}: {reason}; exclude the table with --exclude {}",
                c.name, sqlite_name
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let pk = t.primary_key.clone();
    let int_key = match pk.as_deref() {
        Some([only]) => mappings
            .iter()
            .find(|(c, m)| {
                &c.name == only
                    && matches!(m.kind, ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8)
            })
            .map(|(c, _)| c.name.clone()),
        _ => None,
    };

    let mut columns = Vec::new();
    for (c, m) in &mappings {
        let is_rowid = int_key.as_deref() == Some(c.name.as_str());
        for check in &c.domain_checks {
            not_expressed.push(format!(
                "{sqlite_name}.{}: CHECK of domain {} not created ({check})",
                c.name, c.pg_type.display
            ));
        }
        if c.generated {
            not_expressed.push(format!(
                "{sqlite_name}.{}: generated column ({}) copied as plain values",
                c.name,
                c.default.as_deref().unwrap_or_default()
            ));
        }
        let default = match translate_default(c.default.as_deref().filter(|_| !c.generated), m) {
            DefaultTranslation::None => None,
            DefaultTranslation::Sql(s) => Some(s),
            DefaultTranslation::Sequence if is_rowid => None, // SQLite assigns rowids itself
            DefaultTranslation::Sequence | DefaultTranslation::Unsupported => {
                not_expressed.push(format!(
                    "{sqlite_name}.{}: default {} not carried over",
                    c.name,
                    c.default.as_deref().unwrap_or_default()
                ));
                None
            }
        };
        columns.push(SinkColumn {
            name: c.name.clone(),
            declared: m.declared,
            storage: m.storage,
            not_null: c.not_null,
            default,
        });
    }

    let mut foreign_keys = Vec::new();
    for fk in &t.foreign_keys {
        if copied.contains(&(fk.ref_schema.clone(), fk.ref_table.clone())) {
            foreign_keys.push(SinkForeignKey {
                columns: fk.columns.clone(),
                ref_table: sqlite_table_name(&fk.ref_schema, &fk.ref_table),
                ref_columns: fk.ref_columns.clone(),
                on_update: FkAction::from_pg(fk.on_update),
                on_delete: FkAction::from_pg(fk.on_delete),
                deferrable: fk.deferrable,
                initially_deferred: fk.initially_deferred,
            });
        } else {
            not_expressed.push(format!(
                "{sqlite_name}: foreign key {} references {}.{}, which is not copied",
                fk.name, fk.ref_schema, fk.ref_table
            ));
        }
    }

    let mut indexes = Vec::new();
    let mut index_name = |pg_name: &str| -> String {
        let mut base = sqlite_table_name(&t.schema, pg_name);
        if base.to_lowercase().starts_with("sqlite_") {
            base = format!("pg_{base}"); // SQLite reserves sqlite_* names
        }
        let mut name = base.clone();
        let mut n = 2;
        while !index_names.insert(name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    };
    for (name, cols) in &t.unique_constraints {
        indexes.push(SinkIndex {
            name: index_name(name),
            unique: true,
            columns: cols.iter().map(|c| (c.clone(), false)).collect(),
        });
    }
    for ix in &t.indexes {
        let expressible = matches!(ix.method.as_str(), "btree" | "hash") && !ix.partial;
        match (&ix.columns, expressible) {
            (Some(cols), true) => indexes.push(SinkIndex {
                name: index_name(&ix.name),
                unique: ix.unique,
                columns: cols.clone(),
            }),
            _ => not_expressed.push(format!(
                "{sqlite_name}: index {} not created ({})",
                ix.name, ix.definition
            )),
        }
    }
    for parent in &t.inherits {
        not_expressed.push(format!(
            "{sqlite_name}: inherits from {parent}; copied as a table of its own rows only"
        ));
    }
    for c in &t.other_constraints {
        not_expressed.push(format!(
            "{sqlite_name}: {} {} not created ({})",
            c.kind, c.name, c.definition
        ));
    }

    let select_list: Vec<String> = mappings
        .iter()
        .map(|(c, m)| match &m.cast {
            Some(cast) => cast.select(&quote_ident(&c.name)),
            None => quote_ident(&c.name),
        })
        .collect();
    let copy = CopySource {
        relation: t.qualified(),
        partitioned: t.kind == RelationKind::Partitioned,
        // COPY's column list refuses generated columns; SELECT reads them.
        plain_columns: mappings
            .iter()
            .all(|(c, m)| m.cast.is_none() && !c.generated),
        column_names: mappings.iter().map(|(c, _)| c.name.clone()).collect(),
        select_list,
    };
    let conversions: Vec<ColumnConversion> = mappings
        .iter()
        .map(|(c, m)| ColumnConversion {
            name: c.name.clone(),
            kind: m.kind.clone(),
            storage: m.storage,
        })
        .collect();
    let chunking = match (&int_key, t.kind) {
        (Some(k), _) => ChunkStrategy::IntKey(k.clone()),
        (None, RelationKind::Partitioned) => ChunkStrategy::Partitions(t.partitions.clone()),
        (None, RelationKind::Table) => ChunkStrategy::Pages(u64::try_from(t.pages).unwrap_or(0)),
    };
    let estimated_rows = if t.estimated_rows > 0.0 {
        t.estimated_rows
    } else {
        // Never analyzed: guess from the size, ~100 bytes a row.
        #[allow(clippy::cast_precision_loss)]
        let guess = t.pages as f64 * 80.0;
        guess
    };
    Ok(TablePlan {
        source_name,
        arrow_schema: arrow_schema(&conversions),
        copy,
        sink: SinkTable {
            name: sqlite_name,
            columns,
            primary_key: pk,
            foreign_keys,
            indexes,
        },
        conversions,
        chunking,
        estimated_rows,
    })
}

impl TablePlan {
    /// The same table with only the columns at `keep` (in that order): what a
    /// merge writes when the target lacks some columns, or just the key.
    pub fn with_columns(&self, keep: &[usize]) -> TablePlan {
        let pick = |v: &[String]| keep.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        let conversions: Vec<ColumnConversion> =
            keep.iter().map(|&i| self.conversions[i].clone()).collect();
        let kept_names: HashSet<&str> = keep
            .iter()
            .map(|&i| self.sink.columns[i].name.as_str())
            .collect();
        let mut copy = self.copy.clone();
        copy.select_list = pick(&self.copy.select_list);
        copy.column_names = pick(&self.copy.column_names);
        let mut sink = self.sink.clone();
        sink.columns = keep.iter().map(|&i| self.sink.columns[i].clone()).collect();
        sink.foreign_keys
            .retain(|fk| fk.columns.iter().all(|c| kept_names.contains(c.as_str())));
        sink.indexes.retain(|ix| {
            ix.columns
                .iter()
                .all(|(c, _)| kept_names.contains(c.as_str()))
        });
        TablePlan {
            source_name: self.source_name.clone(),
            copy,
            sink,
            arrow_schema: arrow_schema(&conversions),
            conversions,
            chunking: self.chunking.clone(),
            estimated_rows: self.estimated_rows,
        }
    }
}

enum DefaultTranslation {
    None,
    Sql(String),
    Sequence,
    Unsupported,
}

/// Carries over the defaults SQLite can express with the same meaning: numeric
/// and boolean constants, and string constants of text-like columns.
fn translate_default(expr: Option<&str>, m: &TypeMapping) -> DefaultTranslation {
    let Some(expr) = expr else {
        return DefaultTranslation::None;
    };
    let e = expr.trim();
    if e.starts_with("nextval(") {
        return DefaultTranslation::Sequence;
    }
    let unparen = e.trim_start_matches('(').trim_end_matches(')');
    let is_number = {
        let digits = unparen.strip_prefix('-').unwrap_or(unparen);
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.chars().filter(|&c| c == '.').count() <= 1
    };
    match m.kind {
        ValueKind::Bool => match e {
            "true" => return DefaultTranslation::Sql("1".into()),
            "false" => return DefaultTranslation::Sql("0".into()),
            _ => {}
        },
        ValueKind::Int2
        | ValueKind::Int4
        | ValueKind::Int8
        | ValueKind::Float4
        | ValueKind::Float8
            if is_number =>
        {
            return DefaultTranslation::Sql(unparen.to_owned())
        }
        ValueKind::Numeric if is_number => {
            return DefaultTranslation::Sql(if m.storage == Storage::Text {
                format!("'{unparen}'")
            } else {
                unparen.to_owned()
            })
        }
        ValueKind::Text | ValueKind::Json | ValueKind::Jsonb => {
            // 'literal'::type — PostgreSQL and SQLite quote strings the same way.
            if let Some(lit) = string_literal(e) {
                return DefaultTranslation::Sql(lit.to_owned());
            }
        }
        _ => {}
    }
    DefaultTranslation::Unsupported
}

/// The `'…'` part of `'…'::type`, if the expression is exactly that.
fn string_literal(e: &str) -> Option<&str> {
    if !e.starts_with('\'') {
        return None;
    }
    let bytes = e.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            let rest = &e[i + 1..];
            let ok = rest.is_empty()
                || (rest.starts_with("::") && !rest[2..].contains(['(', '\'', ' ']))
                || rest.starts_with("::character varying")
                || rest.starts_with("::\"");
            return ok.then_some(&e[..=i]);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: ValueKind, storage: Storage) -> TypeMapping {
        TypeMapping {
            kind,
            cast: None,
            storage,
            declared: "X",
        }
    }

    #[test]
    fn defaults() {
        let text = m(ValueKind::Text, Storage::Text);
        assert!(
            matches!(translate_default(Some("'a''b'::text"), &text), DefaultTranslation::Sql(s) if s == "'a''b'")
        );
        assert!(
            matches!(translate_default(Some("'x'::character varying"), &text), DefaultTranslation::Sql(s) if s == "'x'")
        );
        assert!(matches!(
            translate_default(Some("now()"), &text),
            DefaultTranslation::Unsupported
        ));
        let int = m(ValueKind::Int4, Storage::Integer);
        assert!(
            matches!(translate_default(Some("(-1)"), &int), DefaultTranslation::Sql(s) if s == "-1")
        );
        assert!(matches!(
            translate_default(Some("nextval('s'::regclass)"), &int),
            DefaultTranslation::Sequence
        ));
        let b = m(ValueKind::Bool, Storage::Integer);
        assert!(
            matches!(translate_default(Some("true"), &b), DefaultTranslation::Sql(s) if s == "1")
        );
        let ts = m(ValueKind::Timestamptz, Storage::Text);
        assert!(matches!(
            translate_default(
                Some("'2020-01-01 00:00:00+00'::timestamp with time zone"),
                &ts
            ),
            DefaultTranslation::Unsupported
        ));
    }

    #[test]
    fn other_schemas_are_prefixed() {
        assert_eq!(sqlite_table_name("public", "users"), "users");
        assert_eq!(sqlite_table_name("billing", "Invoice"), "billing__Invoice");
    }
}
