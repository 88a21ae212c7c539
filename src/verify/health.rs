//! SQLite's own health checks beside the comparison with PostgreSQL:
//! `PRAGMA quick_check`, for the `Full` depth every index against its table
//! (`indexes`), and `PRAGMA foreign_key_check`.

use std::collections::HashSet;
use std::path::Path;

use super::indexes::{self, EntryPositions, Unsettled};
use super::{open_sqlite, Health, IntegrityCheck, MAX_KEYS_LISTED};
use crate::error::{Error, Result};
use crate::plan::SyncPlan;

/// `PRAGMA quick_check`, for the `Full` depth every index against its table
/// (`indexes`: what `integrity_check` adds), and `PRAGMA foreign_key_check`.
/// `quick_checked`: the file passed `PRAGMA quick_check` already
/// (`sink::health::check_before_use`), which is then not repeated.
pub fn sqlite_health(path: &Path, depth: IntegrityCheck, quick_checked: bool) -> Result<Health> {
    let indexes = match depth {
        IntegrityCheck::Quick => None,
        IntegrityCheck::Full => {
            let conn = open_sqlite(path)?;
            Some(IndexCheck {
                planned: indexes::plan_indexes(&conn, path)?,
                read_back: HashSet::new(),
            })
        }
    };
    health_of(path, quick_checked, indexes).map(|(health, _)| health)
}

/// The index check of the `Full` depth: the file's indexes, and the tables
/// whose expected entries the read-back sums (their indexes are only scanned,
/// and compared by `indexes::Unsettled::settle`).
pub(super) struct IndexCheck {
    planned: indexes::IndexPlan,
    read_back: HashSet<String>,
}

/// [`sqlite_health`], at the `Full` depth when `indexes` is given; also the
/// index scans left to compare with the read-back's sums.
pub(super) fn health_of(
    path: &Path,
    quick_checked: bool,
    indexes: Option<IndexCheck>,
) -> Result<(Health, Option<Unsettled>)> {
    let conn = open_sqlite(path)?;
    // Every check reads each page once, in order: a small cache is enough.
    conn.execute_batch("PRAGMA cache_size = -16384")
        .map_err(Error::sqlite("setting the cache size", path))?;
    let mut integrity = if quick_checked {
        Vec::new()
    } else {
        crate::sink::health::integrity_problems(&conn, "PRAGMA quick_check", path)?
    };
    let mut unsettled = None;
    let depth = match indexes {
        None => IntegrityCheck::Quick,
        Some(check) => {
            let started = std::time::Instant::now();
            let (problems, scanned) =
                indexes::index_problems(&conn, path, &check.planned, &check.read_back)?;
            integrity.extend(problems);
            tracing::debug!(
                "checked every index against its table in {:.3} s ({} of them against the read-back's sums)",
                started.elapsed().as_secs_f64(),
                scanned.len()
            );
            if !scanned.is_empty() {
                unsettled = Some(indexes::Unsettled {
                    planned: check.planned,
                    scanned,
                });
            }
            IntegrityCheck::Full
        }
    };
    let mut foreign_keys = Vec::new();
    let mut fk_violations = 0u64;
    {
        let mut stmt = conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(Error::sqlite("checking foreign keys", path))?;
        let mut rows = stmt
            .query([])
            .map_err(Error::sqlite("checking foreign keys", path))?;
        while let Some(r) = rows
            .next()
            .map_err(Error::sqlite("checking foreign keys", path))?
        {
            fk_violations += 1;
            if foreign_keys.len() < MAX_KEYS_LISTED {
                let table: String = r.get(0).unwrap_or_default();
                let rowid: Option<i64> = r.get(1).unwrap_or_default();
                let parent: String = r.get(2).unwrap_or_default();
                foreign_keys.push(format!(
                    "{table} rowid {} references a missing row of {parent}",
                    rowid.map_or_else(|| "?".into(), |r| r.to_string())
                ));
            }
        }
    }
    let health = Health {
        depth,
        integrity,
        foreign_key_violations: fk_violations,
        foreign_keys,
    };
    Ok((health, unsettled))
}

/// The index check of `verify`, and for each table of the plan, where its
/// read-back finds the entries its indexes should hold (the parts of a table
/// hold every row of it, see `TableCheck::sqlite_select`).
pub(super) fn index_check_beside_read_back(
    plan: &SyncPlan,
    path: &Path,
) -> Result<(IndexCheck, Vec<Option<EntryPositions>>)> {
    let conn = open_sqlite(path)?;
    let planned = indexes::plan_indexes(&conn, path)?;
    let mut read_back = HashSet::new();
    let entries = plan
        .tables
        .iter()
        .map(|table| {
            let columns: Vec<&str> = table.sink.columns.iter().map(|c| c.name.as_str()).collect();
            let at = planned.entries(&table.sink.name, &columns);
            if at.is_some() {
                read_back.insert(table.sink.name.clone());
            }
            at
        })
        .collect();
    let check = IndexCheck { planned, read_back };
    Ok((check, entries))
}

pub(super) fn spawn_health(
    path: &Path,
    quick_checked: bool,
    indexes: Option<IndexCheck>,
) -> tokio::task::JoinHandle<Result<(Health, Option<Unsettled>)>> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || health_of(&path, quick_checked, indexes))
}
