//! What an export writes: per table its columns' file types (learned from the
//! values where Parquet's types depend on them), the rows a delta holds, the
//! keys file, and the files, one per chunk.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::write::FileJob;
use crate::bundle::manifest::{FileFormat, RowsHeld};
use crate::error::{Error, Result};
use crate::mapping::file_types::{file_type, BundleColumn, ColumnFacts, FileType};
use crate::mapping::types::ValueKind;
use crate::pipeline::Chunk;
use crate::plan::{SyncPlan, TablePlan};
use crate::source::catalog::{quote_ident, PgColumn, PgTable};
use crate::source::chunk::ChunkRange;
use crate::source::copy::CopySource;

pub(crate) fn source_name(t: &PgTable) -> String {
    format!("{}.{}", t.schema, t.name)
}

/// What the export knows of one table beyond its plan.
pub(crate) struct ExportTable {
    /// The COPY of the table with PostgreSQL's binary forms (no text casts for
    /// time and interval: the files hold them typed).
    pub(crate) copy: CopySource,
    pub(crate) columns: Vec<BundleColumn>,
    pub(crate) key: Option<Vec<String>>,
    pub(crate) cursor: Option<String>,
    pub(crate) rows_held: RowsHeld,
    /// For a delta read by cursor: the COPY of the key columns, and their file types.
    pub(crate) keys: Option<(CopySource, Vec<BundleColumn>)>,
}

pub(crate) async fn export_tables(
    client: &Client,
    plan: &SyncPlan,
    catalog: &[PgTable],
    format: FileFormat,
    since: Option<&str>,
) -> Result<Vec<ExportTable>> {
    let mut out = Vec::with_capacity(plan.tables.len());
    let mut problems = Vec::new();
    for t in &plan.tables {
        let Some(pg) = catalog.iter().find(|c| source_name(c) == t.source_name) else {
            problems.push(format!("{}: not in the catalog", t.source_name));
            continue;
        };
        let cursor = since.and_then(|_| crate::merge::cursor::find(t, None).ok().map(|c| c.name));
        let range = match (&cursor, since) {
            (Some(c), Some(s)) => ChunkRange::Changed {
                cursor: c.clone(),
                since: s.to_owned(),
            },
            _ => ChunkRange::All,
        };
        let facts = match format {
            FileFormat::Parquet => column_facts(client, t, pg, &range).await?,
            FileFormat::Csv => HashMap::new(),
        };
        let mut copy = t.copy.clone();
        let mut columns = Vec::with_capacity(t.conversions.len());
        for (i, conv) in t.conversions.iter().enumerate() {
            let Some(pg_name) = t.copy.column_names.get(i) else {
                continue;
            };
            let Some(column) = pg.columns.iter().find(|c| &c.name == pg_name) else {
                problems.push(format!(
                    "{}: column {pg_name} not in the catalog",
                    t.source_name
                ));
                continue;
            };
            if matches!(conv.kind, ValueKind::Time | ValueKind::Interval) {
                copy.select_list[i] = quote_ident(pg_name);
            }
            let facts = facts.get(pg_name).copied().unwrap_or_default();
            match file_type(column, &conv.kind, facts) {
                Ok(file_type) => columns.push(BundleColumn {
                    name: pg_name.clone(),
                    file_type,
                }),
                Err(e) => problems.push(format!("{}: {e}", t.source_name)),
            }
        }
        copy.plain_columns = copy
            .select_list
            .iter()
            .zip(&copy.column_names)
            .all(|(s, n)| *s == quote_ident(n))
            && !pg.columns.iter().any(|c| c.generated);
        let key = pg.primary_key.clone();
        let keys = match (&cursor, &key) {
            (Some(_), Some(key)) => Some(key_copy(t, &copy, &columns, key)),
            _ => None,
        };
        out.push(ExportTable {
            copy,
            columns,
            key,
            rows_held: if cursor.is_some() {
                RowsHeld::ChangedSince
            } else {
                RowsHeld::All
            },
            cursor,
            keys,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Plan(problems))
    }
}

/// The COPY of a table's key columns, for a delta bundle's keys file.
pub(crate) fn key_copy(
    t: &TablePlan,
    copy: &CopySource,
    columns: &[BundleColumn],
    key: &[String],
) -> (CopySource, Vec<BundleColumn>) {
    let mut select_list = Vec::with_capacity(key.len());
    let mut names = Vec::with_capacity(key.len());
    let mut key_columns = Vec::with_capacity(key.len());
    for k in key {
        if let Some(i) = copy.column_names.iter().position(|n| n == k) {
            select_list.push(copy.select_list[i].clone());
            names.push(k.clone());
            if let Some(c) = columns.iter().find(|c| &c.name == k) {
                key_columns.push(c.clone());
            }
        }
    }
    let plain = select_list
        .iter()
        .zip(&names)
        .all(|(s, n)| *s == quote_ident(n));
    (
        CopySource {
            relation: t.copy.relation.clone(),
            partitioned: t.copy.partitioned,
            select_list,
            plain_columns: plain,
            column_names: names,
        },
        key_columns,
    )
}

/// What one column of the facts query asks.
pub(crate) enum Probe {
    NumericNan,
    ArrayDims,
    ParquetRange,
}

/// What the values of a table's decimal and array columns need from their
/// Parquet type, learned in the snapshot (one query per table that has such
/// columns; only the rows the bundle holds are looked at).
pub(crate) async fn column_facts(
    client: &Client,
    t: &TablePlan,
    pg: &PgTable,
    range: &ChunkRange,
) -> Result<HashMap<String, ColumnFacts>> {
    let mut exprs = Vec::new();
    let mut asked: Vec<(&PgColumn, Probe)> = Vec::new();
    for (i, conv) in t.conversions.iter().enumerate() {
        let Some(column) = t
            .copy
            .column_names
            .get(i)
            .and_then(|n| pg.columns.iter().find(|c| &c.name == n))
        else {
            continue;
        };
        let c = quote_ident(&column.name);
        match &conv.kind {
            ValueKind::Numeric => {
                let probe = file_type(column, &conv.kind, ColumnFacts::default());
                if matches!(probe, Ok(FileType::Decimal { .. })) {
                    exprs.push(format!("(count(*) FILTER (WHERE {c} = 'NaN'))::int8"));
                    exprs.push("NULL::int8".to_owned());
                    asked.push((column, Probe::NumericNan));
                }
            }
            ValueKind::Array(_) => {
                exprs.push(format!("min(array_ndims({c}))::int8"));
                exprs.push(format!("max(array_ndims({c}))::int8"));
                asked.push((column, Probe::ArrayDims));
            }
            ValueKind::Timestamp | ValueKind::Timestamptz => {
                let last = if conv.kind == ValueKind::Timestamp {
                    "'294247-01-10 04:00:54.775807'::timestamp"
                } else {
                    "'294247-01-10 04:00:54.775807+00'::timestamptz"
                };
                exprs.push(format!(
                    "(count(*) FILTER (WHERE {c} > {last} AND {c} <> 'infinity'))::int8"
                ));
                exprs.push("NULL::int8".to_owned());
                asked.push((column, Probe::ParquetRange));
            }
            _ => {}
        }
    }
    let mut facts = HashMap::new();
    if asked.is_empty() {
        return Ok(facts);
    }
    let sql = format!(
        "SELECT {} FROM {}",
        exprs.join(", "),
        t.copy.from_clause(range)
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(Error::pg(format!(
            "looking at the values of {}",
            t.source_name
        )))?;
    for (i, (column, probe)) in asked.iter().enumerate() {
        let a: Option<i64> = row.get(2 * i);
        let b: Option<i64> = row.get(2 * i + 1);
        let dims = |v: Option<i64>| v.and_then(|d| u8::try_from(d).ok());
        let f = match probe {
            Probe::NumericNan => ColumnFacts {
                numeric_nan: a.unwrap_or(0) > 0,
                ..ColumnFacts::default()
            },
            Probe::ArrayDims => ColumnFacts {
                array_dims: dims(a).zip(dims(b)),
                ..ColumnFacts::default()
            },
            Probe::ParquetRange => ColumnFacts {
                beyond_parquet_range: a.unwrap_or(0) > 0,
                ..ColumnFacts::default()
            },
        };
        facts.insert(column.name.clone(), f);
    }
    Ok(facts)
}

/// A delta reads a table with a cursor by its changed rows (one chunk); tables
/// without one are read whole, as a full sync reads them.
pub(crate) fn delta_chunks(plan: &SyncPlan, chunks: Vec<Chunk>, since: &str) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(chunks.len());
    let mut done = vec![false; plan.tables.len()];
    for c in chunks {
        match crate::merge::cursor::find(&plan.tables[c.table], None) {
            Ok(cursor) => {
                if !done[c.table] {
                    done[c.table] = true;
                    out.push(Chunk {
                        table: c.table,
                        range: ChunkRange::Changed {
                            cursor: cursor.name,
                            since: since.to_owned(),
                        },
                    });
                }
            }
            Err(_) => out.push(c),
        }
    }
    out
}

pub(crate) fn file_jobs(
    plan: &SyncPlan,
    tables: &[ExportTable],
    chunks: &[Chunk],
    format: FileFormat,
) -> Vec<FileJob> {
    let ext = format.extension();
    let stems = file_stems(plan);
    let mut per_table = vec![0usize; plan.tables.len()];
    for c in chunks {
        per_table[c.table] += 1;
    }
    let mut seen = vec![0usize; plan.tables.len()];
    let mut jobs = Vec::with_capacity(chunks.len());
    for c in chunks {
        let order = seen[c.table];
        seen[c.table] += 1;
        let stem = &stems[c.table];
        let file_name = if per_table[c.table] == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}.{:04}.{ext}", order + 1)
        };
        jobs.push(FileJob {
            table: c.table,
            order,
            keys: false,
            copy: tables[c.table].copy.clone(),
            range: c.range.clone(),
            columns: tables[c.table].columns.clone(),
            file_name,
            display_name: plan.tables[c.table].sink.name.clone(),
        });
    }
    for (i, t) in tables.iter().enumerate() {
        if let Some((copy, columns)) = &t.keys {
            jobs.push(FileJob {
                table: i,
                order: 0,
                keys: true,
                copy: copy.clone(),
                range: ChunkRange::All,
                columns: columns.clone(),
                file_name: format!("{}.keys.{ext}", stems[i]),
                display_name: plan.tables[i].sink.name.clone(),
            });
        }
    }
    jobs
}

/// A file name stem per table: its SQLite name with characters a file system
/// may not take replaced, made unique.
pub(crate) fn file_stems(plan: &SyncPlan) -> Vec<String> {
    let mut used: HashMap<String, usize> = HashMap::new();
    plan.tables
        .iter()
        .map(|t| {
            let clean: String = t
                .sink
                .name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let clean = if clean.is_empty() || clean == "manifest" {
                format!("table_{clean}")
            } else {
                clean
            };
            let lower = clean.to_lowercase();
            let n = used.entry(lower).or_insert(0);
            *n += 1;
            if *n == 1 {
                clean
            } else {
                format!("{clean}_{n}")
            }
        })
        .collect()
}
