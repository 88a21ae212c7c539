//! Rows of the file that point at a resurrected parent: a parent row that
//! PostgreSQL deleted and a rollback would bring back, with children that
//! still reference it (PostgreSQL cascaded or nulled them; the file did not).
//!
//! The keys of resurrected parent rows are collected while the differences are
//! classified (at most `MAX_KEYS`; past that the count says it is a lower
//! bound), then joined with each child table in a temporary table: one scan
//! or index probe per foreign key, nothing written to the file.

use std::path::Path;

use rusqlite::types::ToSqlOutput;

use crate::error::{Error, Result};
use crate::merge::foreign_keys::ForeignKey;
use crate::plan::SyncPlan;
use crate::sink::ddl::quote;
use crate::verify::rows::CanonicalRow;

/// Resurrected parent keys held in memory at most.
const MAX_KEYS: usize = 1_000_000;
/// Child rows named per report.
const LISTED: usize = 10;

/// One foreign key whose parent table the report compares.
struct Watched {
    fk: ForeignKey,
    /// Plan table of the parent.
    table: usize,
    /// Positions of the referenced columns among the parent's columns.
    columns: Vec<usize>,
    keys: Vec<Vec<Option<String>>>,
}

/// The keys of resurrected parent rows, per foreign key.
pub(crate) struct ResurrectedParents {
    watched: Vec<Watched>,
    held: usize,
    /// More keys than [`MAX_KEYS`]: the count is a lower bound.
    pub truncated: bool,
}

impl ResurrectedParents {
    pub(crate) fn new(fks: Vec<ForeignKey>, plan: &SyncPlan) -> ResurrectedParents {
        let watched = fks
            .into_iter()
            .filter_map(|fk| {
                let table = plan
                    .tables
                    .iter()
                    .position(|t| t.sink.name.eq_ignore_ascii_case(&fk.parent))?;
                let cols = &plan.tables[table].sink.columns;
                let columns = fk
                    .to
                    .iter()
                    .map(|to| cols.iter().position(|c| c.name.eq_ignore_ascii_case(to)))
                    .collect::<Option<Vec<usize>>>()?;
                Some(Watched {
                    fk,
                    table,
                    columns,
                    keys: Vec::new(),
                })
            })
            .collect();
        ResurrectedParents {
            watched,
            held: 0,
            truncated: false,
        }
    }

    /// Whether a resurrected row of plan table `table` can be an orphan's parent.
    pub(crate) fn watches(&self, table: usize) -> bool {
        self.watched.iter().any(|w| w.table == table)
    }

    /// Notes a resurrected row of plan table `table`.
    pub(crate) fn add(&mut self, table: usize, row: &CanonicalRow) {
        for w in self.watched.iter_mut().filter(|w| w.table == table) {
            if self.held >= MAX_KEYS {
                self.truncated = true;
                return;
            }
            w.keys.push(
                w.columns
                    .iter()
                    .map(|&c| row.get(c).cloned().flatten())
                    .collect(),
            );
            self.held += 1;
        }
    }

    /// Counts the child rows of the file pointing at the resurrected parents,
    /// and names the first few.
    pub(crate) fn children(&self, path: &Path) -> Result<(u64, Vec<String>)> {
        let mut count = 0u64;
        let mut listed = Vec::new();
        let conn = crate::verify::open_sqlite(path)?;
        let doing = || Error::sqlite("finding rows that point at resurrected parents", path);
        for w in self.watched.iter().filter(|w| !w.keys.is_empty()) {
            let n = w.columns.len();
            let cols: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            conn.execute_batch(&format!(
                "DROP TABLE IF EXISTS temp._pg2sqlite_resurrected;
                 CREATE TEMP TABLE _pg2sqlite_resurrected ({});",
                cols.join(", ")
            ))
            .map_err(doing())?;
            {
                let params: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
                let mut insert = conn
                    .prepare(&format!(
                        "INSERT INTO temp._pg2sqlite_resurrected VALUES ({})",
                        params.join(", ")
                    ))
                    .map_err(doing())?;
                for key in &w.keys {
                    insert
                        .execute(rusqlite::params_from_iter(key.iter().map(|v| {
                            v.as_deref().map_or(
                                ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Null),
                                |t| {
                                    ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(
                                        t.as_bytes(),
                                    ))
                                },
                            )
                        })))
                        .map_err(doing())?;
                }
            }
            // The child's column affinity converts the key text as storing it would.
            let on: Vec<String> =
                w.fk.from
                    .iter()
                    .zip(&cols)
                    .map(|(f, k)| format!("c.{} = r.{k}", quote(f)))
                    .collect();
            let join = format!(
                "FROM {} c JOIN temp._pg2sqlite_resurrected r ON {}",
                quote(&w.fk.child),
                on.join(" AND ")
            );
            let found: i64 = conn
                .query_row(&format!("SELECT count(*) {join}"), [], |r| r.get(0))
                .map_err(doing())?;
            count += u64::try_from(found).unwrap_or(0);
            if listed.len() < LISTED && found > 0 {
                let mut stmt = conn
                    .prepare(&format!("SELECT c.rowid {join} LIMIT {LISTED}"))
                    .map_err(doing())?;
                let rowids: Vec<i64> = stmt
                    .query_map([], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<_>>())
                    .map_err(doing())?;
                for rowid in rowids.into_iter().take(LISTED - listed.len()) {
                    listed.push(format!(
                        "{} rowid {rowid} references a row of {} that PostgreSQL deleted",
                        w.fk.child, w.fk.parent
                    ));
                }
            }
        }
        Ok((count, listed))
    }
}
