//! The SQLite half of verification's first look: every part of the file read
//! back on a thread of its own, counted and hashed; and, for a full sync, the
//! base of the next delta fingerprinted in the same pass
//! (`merge::base_pairs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::checksum::RowHasher;
use super::indexes::{EntryPositions, Sums};
use super::{open_sqlite, sqlite_tables, Part, RecordBuffers, SqliteTotals, TableCheck};
use crate::error::{Error, Result};
use crate::merge::base::recycle_values;
use crate::merge::base_pairs::{self, PairFile, PairSpec, PairWriter};
use crate::plan::SyncPlan;
use crate::source::chunk::ChunkRange;

pub(super) async fn sqlite_totals_all(
    plan: &SyncPlan,
    parts: &[Part],
    path: &Path,
) -> Result<SqliteTotals> {
    read_back(plan, parts, path, true, |_| RowHasher::Postgres, None, &[])
        .await
        .map(|(totals, _)| totals)
}

/// The fingerprints of the base of a full sync, taken by the read-back of the
/// file it wrote (`merge::base_pairs`): a spec per table of the plan (`None`:
/// the table gets no base), side files beside `staging`.
pub struct BaseCapture<'a> {
    pub specs: &'a [Option<PairSpec>],
    pub staging: &'a Path,
}

/// Reads every part of the file at `path` back, each on a thread of its own:
/// counts, hash sums when `checksums` (part `i`'s rows hashed by `hasher(i)`),
/// the base's side files when `capture` is
/// given (one per part whose table has a spec), and the sums of the index
/// entries of the tables `entries` has positions for (by the plan's table).
pub(super) async fn read_back(
    plan: &SyncPlan,
    parts: &[Part],
    path: &Path,
    checksums: bool,
    hasher: impl Fn(usize) -> RowHasher,
    capture: Option<&BaseCapture<'_>>,
    entries: &[Option<EntryPositions>],
) -> Result<(SqliteTotals, Vec<Option<PairFile>>)> {
    let conn = open_sqlite(path)?;
    let present = sqlite_tables(&conn, path)?;
    drop(conn);
    let path_buf = path.to_path_buf();
    let tables = plan.tables.clone();
    let jobs: Vec<ReadJob> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| present.contains(&tables[p.table].sink.name))
        // Without checksums, only the parts that give the base something.
        .filter(|(_, p)| {
            checksums || capture.is_some_and(|c| matches!(c.specs.get(p.table), Some(Some(_))))
        })
        .map(|(i, p)| {
            let side = capture.and_then(|c| {
                let spec = c.specs.get(p.table)?.clone()?;
                Some((base_pairs::side_path(c.staging, i), spec))
            });
            ReadJob {
                part: i,
                hasher: hasher(i),
                table: p.table,
                range: p.range.clone(),
                side,
                entries: entries.get(p.table).cloned().flatten(),
            }
        })
        .collect();
    let n = parts.len();
    let results = tokio::task::spawn_blocking(move || -> Result<Vec<PartRead>> {
        use rayon::prelude::*;
        jobs.into_par_iter()
            .map(|job| {
                let conn = open_sqlite(&path_buf)?;
                let check = TableCheck::new(&tables[job.table]).hashed_by(job.hasher);
                let mut pairs = match job.side {
                    Some((side, spec)) => Some(PairWriter::create(side, &spec)?),
                    None => None,
                };
                let mut index = job.entries.map(|at| (at.empty(), at));
                let totals = sqlite_totals(
                    &conn,
                    &check,
                    &job.range,
                    checksums,
                    pairs.as_mut(),
                    index.as_mut().map(|(sums, at)| (&*at, sums.as_mut_slice())),
                )?;
                let file = pairs.map(PairWriter::finish).transpose()?;
                Ok(PartRead {
                    part: job.part,
                    totals,
                    file,
                    index_sums: index.map(|(sums, _)| sums),
                })
            })
            .collect()
    })
    .await
    .map_err(|e| Error::Aborted(format!("the SQLite checksum thread failed: {e}")))??;
    let mut totals = vec![(0u64, 0u64); n];
    let mut files: Vec<Option<PairFile>> = (0..n).map(|_| None).collect();
    let mut index_sums: HashMap<String, Vec<Sums>> = HashMap::new();
    for read in results {
        totals[read.part] = read.totals;
        files[read.part] = read.file;
        if let Some(sums) = read.index_sums {
            let table = &plan.tables[parts[read.part].table].sink.name;
            match index_sums.get_mut(table) {
                Some(all) => all.iter_mut().zip(&sums).for_each(|(a, s)| a.merge(s)),
                None => {
                    index_sums.insert(table.clone(), sums);
                }
            }
        }
    }
    let totals = SqliteTotals {
        present,
        totals,
        index_sums,
    };
    Ok((totals, files))
}

/// The base's side files of a sync that does not verify: the read-back alone,
/// without checksums.
pub async fn capture_base(
    plan: &SyncPlan,
    parts: &[Part],
    path: &Path,
    capture: &BaseCapture<'_>,
) -> Result<Vec<Option<PairFile>>> {
    read_back(
        plan,
        parts,
        path,
        false,
        |_| RowHasher::Postgres,
        Some(capture),
        &[],
    )
    .await
    .map(|(_, files)| files)
}

/// One part to read back, and where its side file goes.
struct ReadJob {
    part: usize,
    hasher: RowHasher,
    table: usize,
    range: ChunkRange,
    side: Option<(PathBuf, PairSpec)>,
    entries: Option<EntryPositions>,
}

/// What reading one part back gave.
struct PartRead {
    part: usize,
    totals: (u64, u64),
    file: Option<PairFile>,
    index_sums: Option<Vec<Sums>>,
}

/// One part's count and hash sum (the sum is 0 without `checksums`), with
/// `pairs` the base's fingerprint of every row read, and with `index` the sums
/// of the entries its table's indexes should hold for these rows.
fn sqlite_totals(
    conn: &Connection,
    check: &TableCheck<'_>,
    range: &ChunkRange,
    checksums: bool,
    mut pairs: Option<&mut PairWriter>,
    index: Option<(&EntryPositions, &mut [Sums])>,
) -> Result<(u64, u64)> {
    let sqlite = |e| {
        Error::sqlite(
            format!("checksumming {}", check.plan.sink.name),
            conn_path(conn),
        )(e)
    };
    let select = match index {
        Some(_) => check.sqlite_select_and_rowid(range),
        None => check.sqlite_select(range),
    };
    let mut stmt = conn.prepare(&select).map_err(sqlite)?;
    let columns = check.plan.sink.columns.len();
    let needed = index
        .as_ref()
        .map_or(columns, |(at, _)| at.width().max(columns));
    if stmt.column_count() < needed {
        return Err(Error::Aborted(format!(
            "the read-back of {} selects {} of the {needed} columns it needs",
            check.plan.sink.name,
            stmt.column_count()
        )));
    }
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let (mut count, mut sum) = (0u64, 0u64);
    let mut buffers = RecordBuffers::default();
    let mut spare: Vec<ValueRef<'static>> = Vec::with_capacity(columns);
    let mut index = index;
    let mut entry = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite)? {
        count += 1;
        if let Some((at, sums)) = index.as_mut() {
            // Every position is below the statement's column count (checked
            // above).
            at.add(sums, &mut entry, |i| row.get_ref_unwrap(i));
        }
        let Some(pairs) = pairs.as_deref_mut() else {
            if checksums {
                let hash = check
                    .row_hash(|i| row.get_ref(i), &mut buffers)
                    .map_err(sqlite)?;
                sum = sum.wrapping_add(hash);
            }
            continue;
        };
        if !checksums {
            // Every index is below the statement's column count (checked
            // above); nothing collected per row.
            pairs.add(columns, |i| row.get_ref_unwrap(i))?;
            continue;
        }
        // Both: each value fetched from SQLite once (each fetch is several
        // calls into SQLite: a tenth of the read-back's time), into the
        // vector the previous row used.
        let mut values = recycle_values(std::mem::take(&mut spare));
        for i in 0..columns {
            values.push(row.get_ref(i).map_err(sqlite)?);
        }
        let hash = check
            .row_hash(|i| Ok(values[i]), &mut buffers)
            .map_err(sqlite)?;
        sum = sum.wrapping_add(hash);
        pairs.add(columns, |i| values[i])?;
        spare = recycle_values(values);
    }
    Ok((count, sum))
}

/// The file a connection reads, for messages.
fn conn_path(conn: &Connection) -> PathBuf {
    conn.path().map(PathBuf::from).unwrap_or_default()
}

/// The base's side files of a read-back, per table of the plan, in key order:
/// `Some` only for a table whose every part has one.
pub fn pairs_by_table(
    parts: &[Part],
    files: Vec<Option<PairFile>>,
    tables: usize,
) -> Vec<Option<Vec<PairFile>>> {
    // A table's files with the low end of their key range.
    type Ranged = Vec<(Option<i64>, PairFile)>;
    let mut by_table: Vec<Option<Ranged>> = (0..tables).map(|_| Some(Vec::new())).collect();
    for (part, file) in parts.iter().zip(files) {
        let Some(slot) = by_table.get_mut(part.table()) else {
            continue;
        };
        match (slot.as_mut(), file) {
            (Some(list), Some(file)) => {
                let lo = match part.range() {
                    ChunkRange::IntKey { lo, .. } => *lo,
                    _ => None,
                };
                list.push((lo, file));
            }
            // A part without a file: the table's base is filled from the file.
            _ => *slot = None,
        }
    }
    by_table
        .into_iter()
        .map(|list| {
            let mut list = list.filter(|l| !l.is_empty())?;
            // Loading in key order appends to the base's B-tree.
            list.sort_by_key(|(lo, _)| *lo);
            Some(list.into_iter().map(|(_, f)| f).collect())
        })
        .collect()
}
