//! Verification: row counts and content checksums of every table on both
//! sides, narrowed down to the differing rows, plus SQLite's own health checks.
//!
//! PostgreSQL hashes on the server (`hash_record_extended` over each column's
//! typed value or canonical text, see `fields`, summed per bucket), so an
//! unchanged table costs one scan there and nothing travels but bucket sums.
//! A sync spares the server that scan where it can: `wire` computes the same
//! sums from the rows its COPY sends (and a difference is rechecked on the
//! server). Only buckets that differ are read row by row, from both sides.

pub mod canonical;
pub mod checksum;
mod fields;
mod health;
mod indexes;
pub mod keys;
pub mod narrow;
mod pg_totals;
mod read_back;
pub mod report;
pub mod rows;
pub mod sides;
mod table_check;
mod wire;

pub use health::sqlite_health;
use health::{index_check_beside_read_back, spawn_health};
use pg_totals::{copy_disagrees, on_pg, recheck_on_server};
pub use pg_totals::{pg_totals, pg_totals_beside, PgTotals};
pub use read_back::{capture_base, pairs_by_table, BaseCapture};
use read_back::{read_back, sqlite_totals_all};
pub use table_check::same_canonical_form;
use table_check::sqlite_row;
pub(crate) use table_check::{
    pg_canonical_row, preview_row, RecordBuffers, TableCheck, NOT_AS_MAPPED,
};
pub use wire::CopyTally;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::merge::base_pairs::PairFile;
use crate::pipeline::Chunk;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::ddl::quote;
use crate::sink::health::CheckBeside;
use crate::source::chunk::ChunkRange;
use checksum::{bucket, md5, parse_pg_sum, Buckets, RowHasher};
pub use report::{ChangedRow, Health, IntegrityCheck, TableStatus, TableVerdict, VerifyReport};
use rows::RowDiff;
use sides::{BySide, TableBase};

/// At most this many differing buckets are read row by row per table.
const MAX_BUCKETS_TO_LOCATE: usize = 64;
/// At most this many keys are listed per kind of difference.
pub const MAX_KEYS_LISTED: usize = 10;

fn sqlite_buckets(
    conn: &Connection,
    check: &TableCheck<'_>,
    range: &ChunkRange,
) -> rusqlite::Result<Buckets> {
    let mut stmt = conn.prepare(&check.sqlite_select(range))?;
    let mut rows = stmt.query([])?;
    let mut buckets = Buckets::default();
    let mut buffers = RecordBuffers::default();
    while let Some(row) = rows.next()? {
        let values = sqlite_row(check, row)?;
        let key = check.key_text(&values);
        let hash = check.row_hash(|i| row.get_ref(i), &mut buffers)?;
        buckets.add(bucket(&md5(&key)), 1, hash);
    }
    Ok(buckets)
}

fn sqlite_rows_in(
    conn: &Connection,
    check: &TableCheck<'_>,
    range: &ChunkRange,
    wanted: &HashSet<u16>,
) -> rusqlite::Result<Vec<Vec<Option<String>>>> {
    let mut stmt = conn.prepare(&check.sqlite_select(range))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = sqlite_row(check, row)?;
        let key = check.key_text(&values);
        if wanted.contains(&bucket(&md5(&key))) {
            out.push(values);
        }
    }
    Ok(out)
}

/// Opens the SQLite file for reading, refusing anything that is not SQLite.
pub fn open_sqlite(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::Target {
            path: path.to_path_buf(),
            reason: "does not exist or is not a file".into(),
        });
    }
    // An empty file is an empty SQLite database.
    let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    if !empty && !crate::sink::staging::is_sqlite_file(path)? {
        return Err(Error::Target {
            path: path.to_path_buf(),
            reason: "is not a SQLite database".into(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(Error::sqlite("opening for verification", path))?;
    // A writer committing makes readers wait; an application holding its lock
    // longer is named (Error::TargetLocked) instead of waited for without end.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(Error::sqlite("opening for verification", path))?;
    Ok(conn)
}

fn sqlite_tables(conn: &Connection, path: &Path) -> Result<HashSet<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .map_err(Error::sqlite("listing tables", path))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<String>>>())
        .map_err(Error::sqlite("listing tables", path))?;
    Ok(names)
}

/// A part of a table checked on its own: one integer-key range, or the whole
/// table (ctid ranges and partitions mean nothing to SQLite, so such chunks are
/// summed into one part).
#[derive(Clone)]
pub struct Part {
    table: usize,
    /// The rows of the part, as SQLite selects them.
    range: ChunkRange,
    /// The PostgreSQL chunks that make up the part.
    pg_ranges: Vec<ChunkRange>,
}

fn parts(plan: &SyncPlan, chunks: &[Chunk]) -> Vec<Part> {
    parts_and_owners(plan, chunks).0
}

/// The parts, and the part each chunk belongs to (by the chunk's position).
fn parts_and_owners(plan: &SyncPlan, chunks: &[Chunk]) -> (Vec<Part>, Vec<usize>) {
    let mut parts: Vec<Part> = Vec::new();
    let mut owners = Vec::with_capacity(chunks.len());
    let mut whole: Vec<Option<usize>> = vec![None; plan.tables.len()];
    for c in chunks {
        if matches!(c.range, ChunkRange::IntKey { .. }) {
            owners.push(parts.len());
            parts.push(Part {
                table: c.table,
                range: c.range.clone(),
                pg_ranges: vec![c.range.clone()],
            });
        } else if let Some(i) = whole[c.table] {
            owners.push(i);
            parts[i].pg_ranges.push(c.range.clone());
        } else {
            whole[c.table] = Some(parts.len());
            owners.push(parts.len());
            parts.push(Part {
                table: c.table,
                range: ChunkRange::All,
                pg_ranges: vec![c.range.clone()],
            });
        }
    }
    (parts, owners)
}

impl Part {
    /// The plan's index of the part's table.
    pub fn table(&self) -> usize {
        self.table
    }

    /// The rows of the part, as SQLite selects them.
    pub(crate) fn range(&self) -> &ChunkRange {
        &self.range
    }
}

/// Counts and hash sums per part, read back from the SQLite file (`None` for a
/// part whose table is missing).
struct SqliteTotals {
    present: HashSet<String>,
    totals: Vec<(u64, u64)>,
    /// Per table, the sums of the entries its indexes should hold, where the
    /// read-back was asked for them.
    index_sums: HashMap<String, Vec<indexes::Sums>>,
}

/// The parts verification compares, from the chunks a copy reads.
pub fn plan_parts(plan: &SyncPlan, chunks: &[Chunk]) -> Vec<Part> {
    parts(plan, chunks)
}

/// The parts verification compares, and the tally that takes PostgreSQL's
/// side of their first look from the copy's own rows where it can
/// (`verify::wire`).
pub fn plan_parts_with_tally(plan: &SyncPlan, chunks: &[Chunk]) -> (Vec<Part>, CopyTally) {
    let (parts, owners) = parts_and_owners(plan, chunks);
    let checks: Vec<TableCheck<'_>> = plan.tables.iter().map(TableCheck::new).collect();
    let tally = CopyTally::new(&checks, parts.len(), owners);
    let (copied, server): (Vec<_>, Vec<_>) = (0..plan.tables.len()).partition(|&i| tally.covers(i));
    let names = |tables: Vec<usize>| -> Vec<&str> {
        tables
            .into_iter()
            .map(|i| plan.tables[i].source_name.as_str())
            .collect()
    };
    tracing::debug!(
        "PostgreSQL's checksums from the COPY's rows: {:?}; on the server: {:?}",
        names(copied),
        names(server)
    );
    (parts, tally)
}

/// Compares every table of the plan between PostgreSQL (through `clients`, all in
/// one snapshot) and the SQLite file at `path`, both sides at once. PostgreSQL's
/// side starts at once; SQLite's waits for `checked`, the target's
/// `sink::health::check_before_use`, so the `Quick` depth does not read the
/// file for its structure again.
pub async fn verify(
    clients: &[Client],
    plan: &SyncPlan,
    chunks: &[Chunk],
    path: &Path,
    integrity: IntegrityCheck,
    checked: CheckBeside,
    progress: &crate::progress::Progress,
) -> Result<VerifyReport> {
    let started = std::time::Instant::now();
    let parts = parts(plan, chunks);
    // The server's estimate; a table never analyzed has none.
    let rows: f64 = plan.tables.iter().map(|t| t.estimated_rows.max(0.0)).sum();
    progress.phase(&format!(
        "checksumming {} table{}{} on both sides",
        plan.tables.len(),
        if plan.tables.len() == 1 { "" } else { "s" },
        if rows >= 1.0 {
            format!(" (about {rows:.0} rows)")
        } else {
            String::new()
        }
    ));
    let lite = async {
        checked.passed().await?;
        let (indexes, entries) = match integrity {
            IntegrityCheck::Quick => (None, Vec::new()),
            IntegrityCheck::Full => {
                let (check, entries) = index_check_beside_read_back(plan, path)?;
                (Some(check), entries)
            }
        };
        let health = spawn_health(path, true, indexes);
        let (totals, _) = read_back(
            plan,
            &parts,
            path,
            true,
            |_| RowHasher::Postgres,
            None,
            &entries,
        )
        .await?;
        Ok(Compared { totals, health })
    };
    // SQLite's errors come after its check, so a damaged file is reported as
    // such; PostgreSQL's do not depend on the file.
    let (pg, lite) = tokio::try_join!(pg_totals(clients, plan, &parts), lite)?;
    progress.phase("comparing, and narrowing down any difference");
    finish(clients, plan, &parts, &pg, lite, path, started).await
}

/// Completes a verification whose PostgreSQL totals were computed earlier (while
/// the copy was written): reads the SQLite side, compares, narrows down.
/// With `capture`, the read-back also writes the base's side files, returned
/// per part.
pub async fn verify_with(
    clients: &[Client],
    plan: &SyncPlan,
    parts: &[Part],
    pg: &PgTotals,
    path: &Path,
    capture: Option<&BaseCapture<'_>>,
) -> Result<(VerifyReport, Vec<Option<PairFile>>)> {
    let started = std::time::Instant::now();
    let health = spawn_health(path, false, None);
    let (totals, files) =
        read_back(plan, parts, path, true, |i| pg.hasher(i), capture, &[]).await?;
    let lite = Compared { totals, health };
    let report = finish(clients, plan, parts, pg, lite, path, started).await?;
    Ok((report, files))
}

/// The SQLite side once read: totals per part, and the health checks, which run
/// on their own thread while the checksums are computed (they read the whole
/// file too, and on a large file take as long).
struct Compared {
    totals: SqliteTotals,
    health: tokio::task::JoinHandle<Result<(Health, Option<indexes::Unsettled>)>>,
}

async fn finish(
    clients: &[Client],
    plan: &SyncPlan,
    parts: &[Part],
    pg: &PgTotals,
    lite: Compared,
    path: &Path,
    started: std::time::Instant,
) -> Result<VerifyReport> {
    let checks: Vec<TableCheck<'_>> = plan.tables.iter().map(TableCheck::new).collect();
    let health_check = lite.health;
    let present = lite.totals.present;
    let mut lite_totals = lite.totals.totals;
    // A part hashed from the COPY was read back in that hash; where the two
    // disagree, the server's checksum decides, so it is read again in the
    // server's hash (a damaged part costs a second read, a sound one none).
    let disagrees = copy_disagrees(pg, &lite_totals);
    if disagrees.contains(&true) {
        let again: Vec<Part> = parts
            .iter()
            .zip(&disagrees)
            .filter(|(_, d)| **d)
            .map(|(p, _)| p.clone())
            .collect();
        let (reread, _) =
            read_back(plan, &again, path, true, |_| RowHasher::Postgres, None, &[]).await?;
        let positions = disagrees.iter().enumerate().filter(|(_, d)| **d);
        for ((i, _), totals) in positions.zip(reread.totals) {
            lite_totals[i] = totals;
        }
    }
    let pg_totals = &recheck_on_server(clients, plan, parts, pg, &disagrees, &lite_totals).await?;
    let mut verdicts: Vec<TableVerdict> = plan
        .tables
        .iter()
        .map(|t| {
            if present.contains(&t.sink.name) {
                TableVerdict::new(t, 0, 0)
            } else {
                TableVerdict::missing_table(t, 0)
            }
        })
        .collect();
    let conn = open_sqlite(path)?;
    for (i, part) in parts.iter().enumerate() {
        let v = &mut verdicts[part.table];
        v.postgres_rows += pg_totals[i].0;
        v.sqlite_rows += lite_totals[i].0;
        if v.status == TableStatus::MissingTable || pg_totals[i] == lite_totals[i] {
            continue;
        }
        v.status = TableStatus::Mismatch;
        let check = &checks[part.table];
        // Narrow down: a single integer key by one sorted pass per side, else
        // bucket sums by key hash and then the rows of differing buckets.
        if !locate(&clients[0], &conn, path, check, part, Narrowing::Sorted, v).await? {
            let (pg, lite) =
                part_buckets(&clients[0], &conn, path, check, part, "checksumming").await?;
            let differing = pg.differing(&lite);
            locate(
                &clients[0],
                &conn,
                path,
                check,
                part,
                Narrowing::Buckets(&differing),
                v,
            )
            .await?;
        }
    }
    drop(conn);
    let (mut health, unsettled) = health_check
        .await
        .map_err(|e| Error::Aborted(format!("the SQLite health check failed: {e}")))??;
    if let Some(unsettled) = unsettled {
        let index_sums = lite.totals.index_sums;
        let path = path.to_path_buf();
        let problems = tokio::task::spawn_blocking(move || unsettled.settle(&path, &index_sums))
            .await
            .map_err(|e| Error::Aborted(format!("the SQLite index check failed: {e}")))??;
        health.integrity.extend(problems);
    }
    Ok(VerifyReport {
        tables: verdicts,
        health,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A part's bucket counts and hash sums on both sides: PostgreSQL's over its
/// ranges, SQLite's over the part.
pub(crate) async fn part_buckets(
    client: &Client,
    conn: &Connection,
    path: &Path,
    check: &TableCheck<'_>,
    part: &Part,
    doing: &str,
) -> Result<(Buckets, Buckets)> {
    let mut pg = Buckets::default();
    for range in &part.pg_ranges {
        pg.merge(&pg_buckets(client, check, range, doing).await?);
    }
    let lite = sqlite_buckets(conn, check, &part.range).map_err(Error::sqlite(
        format!("{doing} {}", check.plan.sink.name),
        path,
    ))?;
    Ok((pg, lite))
}

/// PostgreSQL's bucket counts and hash sums for the rows of `range`.
async fn pg_buckets(
    client: &Client,
    check: &TableCheck<'_>,
    range: &ChunkRange,
    doing: &str,
) -> Result<Buckets> {
    let doing = || format!("{doing} {}", check.plan.source_name);
    let mut pg = Buckets::default();
    for r in client
        .query(&check.pg_bucket_sql(range), &[])
        .await
        .map_err(Error::pg(doing()))?
    {
        let hex: String = r.try_get(0).map_err(Error::pg(doing()))?;
        let count: i64 = r.try_get(1).map_err(Error::pg(doing()))?;
        let sum: Option<String> = r.try_get(2).map_err(Error::pg(doing()))?;
        let b = u16::from_str_radix(&hex, 16).map_err(|_| Error::Integrity {
            table: check.plan.source_name.clone(),
            reason: format!("unexpected bucket {hex:?} from PostgreSQL"),
        })?;
        pg.add(
            b,
            u64::try_from(count).unwrap_or(0),
            sum.as_deref().and_then(parse_pg_sum).unwrap_or(0),
        );
    }
    Ok(pg)
}

/// Reads the rows of the differing buckets from both sides and names the
/// missing, extra and changed keys (and the changed columns).
/// How `locate` finds a part's differing rows.
enum Narrowing<'a> {
    /// The sorted method (a single integer key), when it applies.
    Sorted,
    /// The rows of these differing key buckets.
    Buckets(&'a [u16]),
}

/// Finds the differing rows of `part` and names them in `verdict`; `false`
/// when the sorted method was asked for and does not apply.
async fn locate(
    client: &Client,
    conn: &Connection,
    path: &Path,
    check: &TableCheck<'_>,
    part: &Part,
    how: Narrowing<'_>,
    verdict: &mut TableVerdict,
) -> Result<bool> {
    let name = |row: &[Option<String>]| {
        if check.has_key {
            check.key_display(row)
        } else {
            preview_row(check, row)
        }
    };
    // With the base the last sync left, each difference is told as SQLite's
    // or PostgreSQL's.
    let base = check
        .has_key
        .then(|| TableBase::find(conn, check.plan, &check.key))
        .flatten();
    let mut by_side = BySide::default();
    let mut visit = |diff: RowDiff| {
        if let Some(b) = &base {
            match &diff {
                RowDiff::PgOnly(row) => b.postgres_only(conn, check.plan, row, &mut by_side),
                RowDiff::SqliteOnly(row) | RowDiff::Changed { sqlite: row, .. } => {
                    b.sqlite_row_of(conn, check.plan, row, &mut by_side);
                }
            }
        }
        match diff {
            RowDiff::PgOnly(row) => verdict.missing.push(name(&row)),
            RowDiff::SqliteOnly(row) => verdict.extra.push(name(&row)),
            RowDiff::Changed { pg, sqlite } => verdict.changed.push(ChangedRow {
                key: check.key_display(&pg),
                columns: check.changed_columns(&pg, &sqlite),
            }),
        }
    };
    let mut unlocated = 0;
    match how {
        Narrowing::Sorted => {
            if rows::sorted_rows(client, conn, path, check, part, &mut visit)
                .await?
                .is_none()
            {
                return Ok(false);
            }
        }
        Narrowing::Buckets(differing) => {
            let chosen: Vec<u16> = differing
                .iter()
                .take(MAX_BUCKETS_TO_LOCATE)
                .copied()
                .collect();
            unlocated = differing.len() - chosen.len();
            rows::differing_rows(client, conn, path, check, part, &chosen, &mut visit).await?;
        }
    }
    verdict.unlocated_buckets += unlocated;
    if base.is_some() {
        let v = verdict.by_side.get_or_insert_with(BySide::default);
        v.sqlite += by_side.sqlite;
        v.postgres += by_side.postgres;
    }
    Ok(true)
}

/// Count and hash sum of every table of the plan in the SQLite file, each
/// table whole (`None` for a table the file lacks): the SQLite side of an
/// offline check against totals PostgreSQL computed earlier (a bundle's
/// manifest).
pub async fn sqlite_table_totals(plan: &SyncPlan, path: &Path) -> Result<Vec<Option<(u64, u64)>>> {
    let conn = open_sqlite(path)?;
    let mut parts = Vec::new();
    for (table, t) in plan.tables.iter().enumerate() {
        // Key ranges are checksummed in parallel, as a sync's parts are.
        let ranges = match &t.chunking {
            crate::plan::ChunkStrategy::IntKey(column) => sqlite_key_ranges(&conn, t, column),
            _ => None,
        };
        parts.extend(
            ranges
                .unwrap_or_else(|| vec![ChunkRange::All])
                .into_iter()
                .map(|range| Part {
                    table,
                    range,
                    pg_ranges: Vec::new(),
                }),
        );
    }
    drop(conn);
    let lite = sqlite_totals_all(plan, &parts, path).await?;
    let mut totals: Vec<Option<(u64, u64)>> = plan
        .tables
        .iter()
        .map(|t| lite.present.contains(&t.sink.name).then_some((0, 0)))
        .collect();
    for (p, (count, sum)) in parts.iter().zip(lite.totals) {
        if let Some(t) = totals[p.table].as_mut() {
            t.0 += count;
            t.1 = t.1.wrapping_add(sum);
        }
    }
    Ok(totals)
}

/// A table's integer key split into ranges for as many threads as the machine
/// has (twice over, so that uneven ranges even out), from SQLite's min and max.
fn sqlite_key_ranges(conn: &Connection, t: &TablePlan, column: &str) -> Option<Vec<ChunkRange>> {
    let sink = t
        .copy
        .column_names
        .iter()
        .position(|n| n == column)
        .map_or(column, |i| t.sink.columns[i].name.as_str());
    let (lo, hi): (Option<i64>, Option<i64>) = conn
        .query_row(
            &format!(
                "SELECT min({c}), max({c}) FROM {}",
                quote(&t.sink.name),
                c = quote(sink)
            ),
            [],
            |r| Ok((r.get(0).ok().flatten(), r.get(1).ok().flatten())),
        )
        .ok()?;
    let parts = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    Some(
        crate::source::chunk::split_key_range(lo?, hi?, parts)
            .into_iter()
            .map(|(lo, hi)| ChunkRange::IntKey {
                column: column.to_owned(),
                lo,
                hi,
            })
            .collect(),
    )
}
