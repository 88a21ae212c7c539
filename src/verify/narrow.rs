//! Content comparison for a delta merge: which rows of a table differ between
//! PostgreSQL and SQLite, found the way `verify` finds them (counts and hash
//! sums per key range, then per key bucket), and handed back as chunk ranges
//! that read just those rows. A table whose changes no cursor reveals (no
//! update cursor, or no base yet) costs a checksum scan on each side plus the
//! rows that differ, not a transfer of the whole table.

use std::path::Path;

use tokio_postgres::Client;

use super::checksum::{bucket, bucket_hex, md5, Buckets};
use super::{
    on_pg, open_sqlite, parts, pg_buckets, pg_totals, sqlite_buckets, sqlite_row,
    sqlite_totals_all, TableCheck,
};
use crate::error::{Error, Result};
use crate::pipeline::Chunk;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::ddl::quote;
use crate::source::chunk::ChunkRange;

/// Past this many differing buckets in one part (of 65,536), reading the whole
/// part is cheaper than naming the buckets.
const WHOLE_PART_BUCKETS: usize = 4096;

/// The rows of a table that differ between the two sides, as ranges to read.
#[derive(Debug, Default)]
pub struct ContentDifference {
    /// Ranges covering every differing row (and some identical neighbours).
    pub ranges: Vec<ChunkRange>,
    /// Key buckets that differ (parts read whole count 65,536 each).
    pub buckets: usize,
}

fn one_table(plan: &TablePlan) -> SyncPlan {
    SyncPlan {
        tables: vec![plan.clone()],
        not_expressed: Vec::new(),
        schema_loss: Vec::new(),
        notes: Vec::new(),
    }
}

/// Compares `plan`'s table over `ranges` (its chunks) on both sides: PostgreSQL
/// through `clients` in the caller's snapshot, SQLite through read-only
/// connections to `path` (the caller holds the write lock, and has written
/// nothing yet).
pub(crate) async fn content_difference(
    clients: &[Client],
    plan: &TablePlan,
    ranges: Vec<ChunkRange>,
    path: &Path,
) -> Result<ContentDifference> {
    let one = one_table(plan);
    let chunks: Vec<Chunk> = ranges
        .into_iter()
        .map(|range| Chunk { table: 0, range })
        .collect();
    let parts = parts(&one, &chunks);
    let (pg, lite) = tokio::join!(
        pg_totals(clients, &one, &parts),
        sqlite_totals_all(&one, &parts, path)
    );
    let (pg, lite) = (pg?, lite?);
    let check = TableCheck::new(plan);
    let key = check.pg_key_text();
    let differing: Vec<usize> = (0..parts.len())
        .filter(|&i| pg.0[i] != lite.totals[i])
        .collect();
    // Narrow the differing parts down to key buckets: PostgreSQL's side over
    // every connection, SQLite's on the rayon pool, both at once.
    let pg_jobs: Vec<(usize, ChunkRange)> = differing
        .iter()
        .flat_map(|&i| parts[i].pg_ranges.iter().map(move |r| (i, r.clone())))
        .collect();
    let pg_side = on_pg(clients, pg_jobs, |client, _, range| {
        let check = &check;
        async move { pg_buckets(client, check, &range, "comparing").await }
    });
    let lite_jobs: Vec<(usize, ChunkRange)> = differing
        .iter()
        .map(|&i| (i, parts[i].range.clone()))
        .collect();
    let owned = plan.clone();
    let file = path.to_path_buf();
    let lite_side = tokio::task::spawn_blocking(move || -> Result<Vec<(usize, Buckets)>> {
        use rayon::prelude::*;
        let check = TableCheck::new(&owned);
        lite_jobs
            .par_iter()
            .map(|(i, range)| {
                let conn = open_sqlite(&file)?;
                sqlite_buckets(&conn, &check, range)
                    .map(|b| (*i, b))
                    .map_err(Error::sqlite(
                        format!("comparing {}", owned.sink.name),
                        &file,
                    ))
            })
            .collect()
    });
    let (pg_buckets_of, lite_buckets_of) = tokio::join!(pg_side, lite_side);
    let lite_buckets_of = lite_buckets_of
        .map_err(|e| Error::Aborted(format!("the SQLite comparison thread failed: {e}")))??;
    let mut pg_by_part: std::collections::HashMap<usize, Buckets> = Default::default();
    for (i, b) in pg_buckets_of? {
        pg_by_part.entry(i).or_default().merge(&b);
    }
    let mut out = ContentDifference::default();
    for (i, lite_side) in lite_buckets_of {
        let part = &parts[i];
        let pg_side = pg_by_part.remove(&i).unwrap_or_default();
        let differing = pg_side.differing(&lite_side);
        if differing.len() > WHOLE_PART_BUCKETS {
            out.buckets += 1 << 16;
            out.ranges.extend(part.pg_ranges.iter().cloned());
            continue;
        }
        out.buckets += differing.len();
        let buckets: Vec<String> = differing.into_iter().map(bucket_hex).collect();
        if buckets.is_empty() {
            continue;
        }
        out.ranges
            .extend(part.pg_ranges.iter().map(|r| ChunkRange::Buckets {
                within: Box::new(r.clone()),
                key: key.clone(),
                buckets: buckets.clone(),
            }));
    }
    Ok(out)
}

/// Ranges reading the PostgreSQL rows whose keys equal those of the SQLite
/// rows `rowids` of `plan`'s table (with the other rows of their key buckets).
pub(crate) fn rows_like(
    conn: &rusqlite::Connection,
    plan: &TablePlan,
    rowids: &[i64],
) -> rusqlite::Result<Vec<ChunkRange>> {
    let check = TableCheck::new(plan);
    let cols: Vec<String> = plan.sink.columns.iter().map(|c| quote(&c.name)).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {} WHERE rowid = ?1",
        cols.join(", "),
        quote(&plan.sink.name)
    ))?;
    let mut buckets = std::collections::BTreeSet::new();
    for rowid in rowids {
        let mut rows = stmt.query([rowid])?;
        if let Some(r) = rows.next()? {
            let values = sqlite_row(&check, r)?;
            buckets.insert(bucket(&md5(&check.texts(&values).0)));
        }
    }
    if buckets.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![ChunkRange::Buckets {
        within: Box::new(ChunkRange::All),
        key: check.pg_key_text(),
        buckets: buckets.into_iter().map(bucket_hex).collect(),
    }])
}
