//! Schema drift for the data-loss report: tables and columns only one side
//! has (with the values the rollback loses), columns whose declared type is
//! not what the mapping would declare, and foreign-key orphans in the file.
//!
//! SQL issued: one `SELECT count(col), …` per table with PostgreSQL-only
//! columns; on SQLite `count(*)` of its extra tables and `PRAGMA
//! foreign_key_check`.

use std::collections::HashSet;
use std::path::Path;

use tokio_postgres::Client;

use super::model::{ColumnOnlyInPostgres, Orphans, SchemaDrift, TableRows, TypeDifference};
use crate::error::{Error, Result};
use crate::mapping::format::Affinity;
use crate::mapping::types::map_type;
use crate::plan::SyncPlan;
use crate::sink::ddl::quote;
use crate::source::catalog::{quote_ident, PgTable};

/// Compares the schemas; `all_tables` is false when `--tables` chose some, so
/// the SQLite file's other tables are not listed as its own.
pub(crate) async fn drift(
    client: &Client,
    catalog: &[PgTable],
    plan: &SyncPlan,
    path: &Path,
    all_tables: bool,
) -> Result<SchemaDrift> {
    let mut out = SchemaDrift::default();
    for t in plan.tables.iter().filter(|t| t.sink.existing) {
        let Some(pg) = catalog
            .iter()
            .find(|c| format!("{}.{}", c.schema, c.name) == t.source_name)
        else {
            continue;
        };
        let missing: Vec<_> = pg
            .columns
            .iter()
            .filter(|c| !t.copy.column_names.contains(&c.name))
            .collect();
        if !missing.is_empty() {
            let counts: Vec<String> = missing
                .iter()
                .map(|c| format!("count({})::int8", quote_ident(&c.name)))
                .collect();
            let sql = format!("SELECT {} FROM {}", counts.join(", "), t.copy.relation);
            let doing = || format!("counting the values of {}", t.source_name);
            let row = client
                .query_one(&sql, &[])
                .await
                .map_err(Error::pg(doing()))?;
            for (i, c) in missing.iter().enumerate() {
                let n: i64 = row.try_get(i).map_err(Error::pg(doing()))?;
                out.columns_only_in_postgres.push(ColumnOnlyInPostgres {
                    table: t.sink.name.clone(),
                    column: c.name.clone(),
                    postgres_type: c.pg_type.display.clone(),
                    non_null: u64::try_from(n).unwrap_or(0),
                });
            }
        }
        for (i, name) in t.copy.column_names.iter().enumerate() {
            let Some(c) = pg.columns.iter().find(|c| &c.name == name) else {
                continue;
            };
            let Ok(mapped) = map_type(&c.pg_type, c.typmod) else {
                continue;
            };
            let declared = &t.sink.columns[i].declared;
            if Affinity::of(mapped.declared) != Affinity::of(declared) {
                out.type_differences.push(TypeDifference {
                    table: t.sink.name.clone(),
                    column: t.sink.columns[i].name.clone(),
                    postgres_type: c.pg_type.display.clone(),
                    mapped_type: mapped.declared.to_owned(),
                    sqlite_type: declared.clone(),
                });
            }
        }
    }
    let conn = crate::verify::open_sqlite(path)?;
    if all_tables {
        let ours: HashSet<&str> = plan.tables.iter().map(|t| t.sink.name.as_str()).collect();
        for name in sqlite_tables(&conn, path)? {
            if ours.contains(name.as_str())
                || name.starts_with("_pg2sqlite")
                || name.starts_with("sqlite_")
            {
                continue;
            }
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {}", quote(&name)), [], |r| {
                    r.get(0)
                })
                .map_err(Error::sqlite(format!("counting the rows of {name}"), path))?;
            out.tables_only_in_sqlite.push(TableRows {
                table: name,
                rows: u64::try_from(rows).unwrap_or(0),
            });
        }
    }
    // Only the foreign keys are wanted: the file passed quick_check before the
    // report began (`check_before_use`), and its indexes do not bear on loss.
    let health = crate::verify::sqlite_health(path, crate::verify::IntegrityCheck::Quick, true)?;
    out.foreign_key_orphans = Orphans {
        missing_parent: health.foreign_key_violations,
        missing_parent_listed: health.foreign_keys,
        ..Orphans::default()
    };
    Ok(out)
}

fn sqlite_tables(conn: &rusqlite::Connection, path: &Path) -> Result<Vec<String>> {
    let doing = || Error::sqlite("listing tables", path);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .map_err(doing())?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(doing())?;
    Ok(names)
}
