//! Content comparison for a delta merge: which rows of a table differ between
//! PostgreSQL and SQLite, found the way `verify` finds them (counts and hash
//! sums per key range, then per key bucket), and handed back as chunk ranges
//! that read just those rows. A table whose changes no cursor reveals (no
//! update cursor, or no base yet) costs a checksum scan on each side plus the
//! rows that differ, not a transfer of the whole table.

use std::path::Path;

use tokio_postgres::Client;

use super::checksum::{bucket, bucket_hex, md5, Buckets};
use futures_util::StreamExt;
use rusqlite::types::ValueRef;

use super::{
    on_pg, open_sqlite, parts, pg_buckets, pg_totals, sqlite_buckets, sqlite_row,
    sqlite_totals_all, RecordBuffers, TableCheck,
};
use crate::error::{Error, Result};
use crate::mapping::types::ValueKind;
use crate::pipeline::Chunk;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
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
    /// Rows found to differ one by one (the sorted method), if it applied.
    pub rows: Option<usize>,
}

fn one_table(plan: &TablePlan) -> SyncPlan {
    SyncPlan {
        tables: vec![plan.clone()],
        not_expressed: Vec::new(),
        views: Vec::new(),
        schema_loss: Vec::new(),
        notes: Vec::new(),
        renames: Vec::new(),
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
    // A single integer key: one sorted pass per side finds exactly the
    // differing rows, about as fast as the range checksums alone would be.
    let check = TableCheck::new(plan);
    if let Some(spans) = integer_spans(&check, &ranges, clients.len()) {
        if let Some((column, found)) = sorted_difference(clients, &check, spans, path).await? {
            return Ok(ContentDifference {
                ranges: key_chunks(&column, &found.postgres),
                buckets: 0,
                rows: Some(found.postgres.len()),
            });
        }
    }
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
    let key = check.pg_key_text();
    let differing: Vec<usize> = (0..parts.len())
        .filter(|&i| pg.per_part()[i] != lite.totals[i])
        .collect();
    if differing.is_empty() {
        return Ok(ContentDifference::default());
    }
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

/// Keys read per chunk of differing rows.
pub(crate) const KEYS_PER_CHUNK: usize = 4096;

/// The key spans of the sorted method: `ranges` (a table's integer-key
/// ranges in order, or the whole table) joined into about `n` spans, one per
/// connection. `None` unless the table has a single integer key.
pub(crate) fn integer_spans(
    check: &TableCheck<'_>,
    ranges: &[ChunkRange],
    n: usize,
) -> Option<Vec<ChunkRange>> {
    let [k] = check.key[..] else {
        return None;
    };
    if !check.has_key
        || !matches!(
            check.plan.conversions[k].kind,
            ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8
        )
    {
        return None;
    }
    let column = check.plan.copy.column_names[k].clone();
    let bounds: Vec<(Option<i64>, Option<i64>)> = match ranges {
        [ChunkRange::All] => vec![(None, None)],
        _ => ranges
            .iter()
            .map(|r| match r {
                ChunkRange::IntKey { column: c, lo, hi } if *c == column => Some((*lo, *hi)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
    };
    let per_span = bounds.len().div_ceil(n.max(1)).max(1);
    Some(
        bounds
            .chunks(per_span)
            .map(|group| ChunkRange::IntKey {
                column: column.clone(),
                lo: group.first().and_then(|g| g.0),
                hi: group.last().and_then(|g| g.1),
            })
            .collect(),
    )
}

/// The sorted method, for a single integer key: each span is read from both
/// sides in key order with a hash per row, and merged in one pass (spans run
/// at once, one per connection). Exact, however the differences are spread.
/// Returns the key's PostgreSQL name and the differing keys in key order;
/// `None` when SQLite holds something else than integers, in key order, in
/// the key column.
pub(crate) async fn sorted_difference(
    clients: &[Client],
    check: &TableCheck<'_>,
    spans: Vec<ChunkRange>,
    path: &Path,
) -> Result<Option<(String, SortedDifference)>> {
    let column = match spans.first() {
        Some(ChunkRange::IntKey { column, .. }) => column.clone(),
        _ => return Ok(None),
    };
    let jobs: Vec<(usize, ChunkRange)> = spans.into_iter().enumerate().collect();
    let found = on_pg(clients, jobs, |client, i, range| {
        let column = &column;
        async move {
            sorted_pass(client, check, column, &range, path)
                .await
                .map(|found| (i, found))
        }
    })
    .await?;
    let mut by_span = Vec::with_capacity(found.len());
    for (_, (i, f)) in found {
        match f {
            Some(f) => by_span.push((i, f)),
            None => return Ok(None),
        }
    }
    by_span.sort_by_key(|(i, _)| *i);
    let mut all = SortedDifference::default();
    for (_, f) in by_span {
        all.postgres.extend(f.postgres);
        all.sqlite_only.extend(f.sqlite_only);
    }
    Ok(Some((column, all)))
}

/// One span of the sorted method: the keys of rows PostgreSQL has and SQLite
/// lacks or holds differently, and the keys only SQLite has.
async fn sorted_pass(
    client: &Client,
    check: &TableCheck<'_>,
    column: &str,
    range: &ChunkRange,
    path: &Path,
) -> Result<Option<SortedDifference>> {
    let plan = check.plan;
    let doing = || format!("comparing {}", plan.source_name);
    let pg_sql = format!(
        "SELECT {c}::int8, {} FROM {} ORDER BY {c}",
        check.pg_row_hash(),
        plan.copy.from_clause(range),
        c = quote_ident(column)
    );
    let rows = client
        .query_raw(&pg_sql, std::iter::empty::<i32>())
        .await
        .map_err(Error::pg(doing()))?;
    futures_util::pin_mut!(rows);
    let what = doing();
    let [k] = check.key[..] else {
        return Ok(None);
    };
    // SQLite's side hashes on a thread of its own while PostgreSQL's streams.
    let mut next_lite = sqlite_sorted(check.plan, k, range, path.to_path_buf());
    let mut out = Vec::new();
    let mut sqlite_only = Vec::new();
    let mut pg = next_hashed(&mut rows, &what).await?;
    let mut lite = match next_lite.next()? {
        Some(Err(NotSorted)) => return Ok(None),
        other => other.map(|r| r.unwrap_or_default()),
    };
    loop {
        match (pg, lite) {
            (None, None) => break,
            (Some((pk, ph)), Some((lk, lh))) if pk == lk => {
                if ph != lh {
                    out.push(pk);
                }
                pg = next_hashed(&mut rows, &what).await?;
                lite = match next_lite.next()? {
                    Some(Err(NotSorted)) => return Ok(None),
                    other => other.map(|r| r.unwrap_or_default()),
                };
            }
            (Some((pk, _)), Some((lk, _))) if pk < lk => {
                out.push(pk);
                pg = next_hashed(&mut rows, &what).await?;
            }
            (Some((pk, _)), None) => {
                out.push(pk);
                pg = next_hashed(&mut rows, &what).await?;
            }
            (_, Some((lk, _))) => {
                sqlite_only.push(lk);
                lite = match next_lite.next()? {
                    Some(Err(NotSorted)) => return Ok(None),
                    other => other.map(|r| r.unwrap_or_default()),
                };
            }
        }
    }
    Ok(Some(SortedDifference {
        postgres: out,
        sqlite_only,
    }))
}

/// What one sorted pass found, keys in order.
#[derive(Debug, Default)]
pub(crate) struct SortedDifference {
    /// Keys whose row only PostgreSQL has, or both have differently.
    pub postgres: Vec<i64>,
    /// Keys only SQLite has.
    pub sqlite_only: Vec<i64>,
}

/// SQLite holds something in the key column that is not an integer, or its
/// keys do not come in integer order: the sorted method does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotSorted;

type Hashed = std::result::Result<(i64, u64), NotSorted>;

/// The sorted method's SQLite side: (key, row hash) in key order, computed on
/// a thread of its own and handed over in batches.
struct SqliteSorted {
    rx: crossbeam_channel::Receiver<Result<Vec<Hashed>>>,
    batch: std::collections::VecDeque<Hashed>,
    done: bool,
}

impl SqliteSorted {
    fn next(&mut self) -> Result<Option<Hashed>> {
        loop {
            if let Some(h) = self.batch.pop_front() {
                return Ok(Some(h));
            }
            if self.done {
                return Ok(None);
            }
            // A closed channel is the end of the rows.
            match tokio::task::block_in_place(|| self.rx.recv()) {
                Ok(batch) => self.batch.extend(batch?),
                Err(_) => self.done = true,
            }
        }
    }
}

fn sqlite_sorted(
    plan: &TablePlan,
    k: usize,
    range: &ChunkRange,
    path: std::path::PathBuf,
) -> SqliteSorted {
    let (tx, rx) = crossbeam_channel::bounded(8);
    let plan = plan.clone();
    let range = range.clone();
    std::thread::spawn(move || {
        let check = TableCheck::new(&plan);
        let doing = || Error::sqlite(format!("comparing {}", plan.sink.name), &path);
        let run = || -> Result<()> {
            let conn = open_sqlite(&path)?;
            let sql = format!(
                "{} ORDER BY {}",
                check.sqlite_select(&range),
                quote(&plan.sink.columns[k].name)
            );
            let mut stmt = conn.prepare(&sql).map_err(doing())?;
            let mut rows = stmt.query([]).map_err(doing())?;
            let mut buffers = RecordBuffers::default();
            let mut last: Option<i64> = None;
            let mut batch = Vec::with_capacity(1024);
            while let Some(r) = rows.next().map_err(doing())? {
                let key = match r.get_ref(k).map_err(doing())? {
                    ValueRef::Integer(key) if last.is_none_or(|l| l < key) => key,
                    _ => {
                        batch.push(Err(NotSorted));
                        break;
                    }
                };
                last = Some(key);
                let hash = check
                    .row_hash(|i| r.get_ref(i), &mut buffers)
                    .map_err(doing())?;
                batch.push(Ok((key, hash)));
                if batch.len() == 1024 && tx.send(Ok(std::mem::take(&mut batch))).is_err() {
                    return Ok(());
                }
            }
            let _ = tx.send(Ok(batch));
            Ok(())
        };
        if let Err(e) = run() {
            let _ = tx.send(Err(e));
        }
    });
    SqliteSorted {
        rx,
        batch: std::collections::VecDeque::new(),
        done: false,
    }
}

/// The next (key, row hash) of the sorted method's PostgreSQL side.
async fn next_hashed(
    rows: &mut std::pin::Pin<&mut tokio_postgres::RowStream>,
    doing: &str,
) -> Result<Option<(i64, u64)>> {
    match rows.next().await {
        None => Ok(None),
        Some(r) => {
            let r = r.map_err(Error::pg(doing))?;
            let key: i64 = r.try_get(0).map_err(Error::pg(doing))?;
            let hash: i64 = r.try_get(1).map_err(Error::pg(doing))?;
            Ok(Some((key, u64::from_be_bytes(hash.to_be_bytes()))))
        }
    }
}

/// Ranges reading the PostgreSQL rows of `plan`'s table whose key is one of
/// `keys` (stored key values, in key column order, as a foreign key pointing
/// at them holds them), with the other rows of their key buckets. `None` when
/// a value has no canonical text to match (a blob, a real).
pub(crate) fn rows_with_keys(
    plan: &TablePlan,
    keys: &[Vec<rusqlite::types::Value>],
) -> Option<Vec<ChunkRange>> {
    use rusqlite::types::Value;
    let check = TableCheck::new(plan);
    let mut buckets = std::collections::BTreeSet::new();
    for key in keys {
        let texts = key
            .iter()
            .map(|v| match v {
                Value::Null => Some(None),
                Value::Integer(i) => Some(Some(i.to_string())),
                Value::Text(t) => Some(Some(t.clone())),
                Value::Real(_) | Value::Blob(_) => None,
            })
            .collect::<Option<Vec<Option<String>>>>()?;
        let text = super::checksum::record_text(texts.iter().map(Option::as_deref));
        buckets.insert(bucket(&md5(&text)));
    }
    Some(bucket_ranges(&check, buckets))
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
            buckets.insert(bucket(&md5(&check.key_text(&values))));
        }
    }
    Ok(bucket_ranges(&check, buckets))
}

/// The range reading a table's rows in `buckets` of key hashes (none for no
/// buckets).
fn bucket_ranges(
    check: &TableCheck<'_>,
    buckets: std::collections::BTreeSet<u16>,
) -> Vec<ChunkRange> {
    if buckets.is_empty() {
        return Vec::new();
    }
    vec![ChunkRange::Buckets {
        within: Box::new(ChunkRange::All),
        key: check.pg_key_text(),
        buckets: buckets.into_iter().map(bucket_hex).collect(),
    }]
}

/// Ranges reading the rows whose integer key is one of `keys`, a chunk of
/// [`KEYS_PER_CHUNK`] keys each.
pub(crate) fn key_chunks(column: &str, keys: &[i64]) -> Vec<ChunkRange> {
    keys.chunks(KEYS_PER_CHUNK)
        .map(|c| ChunkRange::Keys {
            column: column.to_owned(),
            keys: c.to_vec(),
        })
        .collect()
}
