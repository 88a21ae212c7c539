//! The rows behind differing key buckets, read from both sides and paired by
//! key: what `verify` lists and what the data-loss report classifies.
//!
//! Buckets are read in groups of about `ROWS_PER_GROUP` rows, so memory
//! stays flat however many rows differ; each group costs one PostgreSQL query
//! and one scan of the SQLite part.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rusqlite::Connection;
use tokio_postgres::Client;

use super::checksum::{bucket_hex, record_text, Buckets};
use super::{
    open_sqlite, part_buckets, parts, pg_canonical_row, pg_totals, sqlite_rows_in,
    sqlite_totals_all, Part, TableCheck,
};
use crate::error::{Error, Result};
use crate::pipeline::Chunk;
use crate::plan::SyncPlan;
use crate::sink::ddl::quote;
use crate::source::chunk::ChunkRange;

/// Rows (of the larger side) read into memory at once, at most about.
const ROWS_PER_GROUP: u64 = 100_000;

/// One row in canonical text, a value per column (`None`: NULL).
pub(crate) type CanonicalRow = Vec<Option<String>>;

/// How one key (or, without a key, one row) differs between the sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowDiff {
    /// Only PostgreSQL has it.
    PgOnly(CanonicalRow),
    /// Only SQLite has it.
    SqliteOnly(CanonicalRow),
    /// Both have the key, with different values.
    Changed {
        pg: CanonicalRow,
        sqlite: CanonicalRow,
    },
}

/// Splits `buckets` into groups whose rows (the larger side's count per
/// bucket) add up to about [`ROWS_PER_GROUP`].
pub(crate) fn bucket_groups(buckets: &[u16], pg: &Buckets, lite: &Buckets) -> Vec<Vec<u16>> {
    let size = |b: &u16| {
        let count = |s: &Buckets| s.0.get(b).map_or(0, |(c, _)| *c);
        count(pg).max(count(lite)).max(1)
    };
    let mut groups: Vec<Vec<u16>> = Vec::new();
    let mut rows = 0u64;
    for b in buckets {
        let n = size(b);
        match groups.last_mut() {
            Some(g) if rows + n <= ROWS_PER_GROUP => g.push(*b),
            _ => {
                groups.push(vec![*b]);
                rows = 0;
            }
        }
        rows += n;
    }
    groups
}

/// Narrows `part` by the sorted method (a single integer key: both sides read
/// in key order with a hash per row), then reads the rows of the differing
/// keys from both sides and hands every difference to `visit`. Exact, however
/// the differences are spread. `None` when the method does not apply (another
/// key, or SQLite holds something else than integers, in order, in the key
/// column): the caller narrows by buckets instead. Returns the rows read (both
/// sides) and the PostgreSQL ranges holding the differing rows.
pub(crate) async fn sorted_rows(
    client: &Client,
    conn: &Connection,
    path: &Path,
    check: &TableCheck<'_>,
    part: &Part,
    visit: &mut impl FnMut(RowDiff),
) -> Result<Option<(u64, Vec<ChunkRange>)>> {
    let Some(spans) = super::narrow::integer_spans(check, std::slice::from_ref(&part.range), 1)
    else {
        return Ok(None);
    };
    let [k] = check.key[..] else {
        return Ok(None);
    };
    let Some((column, found)) =
        super::narrow::sorted_difference(std::slice::from_ref(client), check, spans, path).await?
    else {
        return Ok(None);
    };
    let mut keys: Vec<i64> = found
        .postgres
        .iter()
        .chain(&found.sqlite_only)
        .copied()
        .collect();
    keys.sort_unstable();
    let doing = || format!("locating differences in {}", check.plan.source_name);
    let width = check.plan.sink.columns.len();
    let lite_doing = || Error::sqlite(doing(), path);
    let mut read = 0u64;
    for batch in keys.chunks(super::narrow::KEYS_PER_CHUNK) {
        let range = ChunkRange::Keys {
            column: column.clone(),
            keys: batch.to_vec(),
        };
        let sql = format!(
            "SELECT {} FROM {}",
            check.pg_expressions().join(", "),
            check.plan.copy.from_clause(&range)
        );
        let mut pg_rows: Vec<CanonicalRow> = Vec::new();
        for r in client.query(&sql, &[]).await.map_err(Error::pg(doing()))? {
            pg_rows.push(pg_canonical_row(&r, width).map_err(Error::pg(doing()))?);
        }
        let list: Vec<String> = batch.iter().map(i64::to_string).collect();
        let lite_sql = format!(
            "{} WHERE {} IN ({})",
            check.sqlite_select(&ChunkRange::All),
            quote(&check.plan.sink.columns[k].name),
            list.join(", ")
        );
        let mut lite_rows: Vec<CanonicalRow> = Vec::new();
        {
            let mut stmt = conn.prepare(&lite_sql).map_err(lite_doing())?;
            let mut rows = stmt.query([]).map_err(lite_doing())?;
            while let Some(r) = rows.next().map_err(lite_doing())? {
                lite_rows.push(super::sqlite_row(check, r).map_err(lite_doing())?);
            }
        }
        read += u64::try_from(pg_rows.len() + lite_rows.len()).unwrap_or(u64::MAX);
        pair_by_key(check, pg_rows, lite_rows, visit);
    }
    let ranges = super::narrow::key_chunks(&column, &found.postgres);
    Ok(Some((read, ranges)))
}

/// Reads the rows of `buckets` of `part` from both sides and hands every
/// difference to `visit`; identical rows are not visited. Returns how many rows
/// were read (both sides).
pub(crate) async fn differing_rows(
    client: &Client,
    conn: &Connection,
    path: &Path,
    check: &TableCheck<'_>,
    part: &Part,
    buckets: &[u16],
    visit: &mut impl FnMut(RowDiff),
) -> Result<u64> {
    let doing = || format!("locating differences in {}", check.plan.source_name);
    let hexes: Vec<String> = buckets.iter().map(|b| bucket_hex(*b)).collect();
    let width = check.plan.sink.columns.len();
    let mut pg_rows: Vec<CanonicalRow> = Vec::new();
    for range in &part.pg_ranges {
        for r in client
            .query(&check.pg_rows_sql(range), &[&hexes])
            .await
            .map_err(Error::pg(doing()))?
        {
            pg_rows.push(pg_canonical_row(&r, width).map_err(Error::pg(doing()))?);
        }
    }
    let wanted: HashSet<u16> = buckets.iter().copied().collect();
    let lite_rows =
        sqlite_rows_in(conn, check, &part.range, &wanted).map_err(Error::sqlite(doing(), path))?;
    let read = u64::try_from(pg_rows.len() + lite_rows.len()).unwrap_or(u64::MAX);
    if check.has_key {
        pair_by_key(check, pg_rows, lite_rows, visit);
    } else {
        pair_as_multiset(pg_rows, lite_rows, visit);
    }
    Ok(read)
}

/// What comparing one table found and cost, besides the differing rows.
#[derive(Debug, Clone, Default)]
pub struct TableScan {
    /// The SQLite file has the table.
    pub present: bool,
    pub postgres_rows: u64,
    pub sqlite_rows: u64,
    /// Parts (key ranges, or the whole table) compared by checksum.
    pub parts: usize,
    pub parts_differing: usize,
    /// Key buckets (of 65,536 per part) read row by row.
    pub buckets_differing: usize,
    /// Rows read row by row, both sides, and the seconds that took (the
    /// bucket sums before are checksum time).
    pub rows_read: u64,
    pub row_seconds: f64,
    /// PostgreSQL ranges holding every differing row (for reading them again).
    pub ranges: Vec<ChunkRange>,
}

/// Compares every table of `plan` the way `verify` does (checksums per part,
/// then per key bucket) and hands every differing row to `visit` with its
/// table's index. Tables the SQLite file lacks are counted, not read.
pub(crate) async fn walk_differences(
    clients: &[Client],
    plan: &SyncPlan,
    chunks: &[Chunk],
    path: &Path,
    visit: &mut impl FnMut(usize, &TableCheck<'_>, RowDiff),
) -> Result<Vec<TableScan>> {
    let parts = parts(plan, chunks);
    let (pg, lite) = tokio::join!(
        pg_totals(clients, plan, &parts),
        sqlite_totals_all(plan, &parts, path)
    );
    let (pg, lite) = (pg?, lite?);
    let checks: Vec<TableCheck<'_>> = plan.tables.iter().map(TableCheck::new).collect();
    let mut scans: Vec<TableScan> = plan
        .tables
        .iter()
        .map(|t| TableScan {
            present: lite.present.contains(&t.sink.name),
            ..TableScan::default()
        })
        .collect();
    let conn = open_sqlite(path)?;
    for (i, part) in parts.iter().enumerate() {
        let scan = &mut scans[part.table];
        scan.parts += 1;
        scan.postgres_rows += pg.per_part()[i].0;
        scan.sqlite_rows += lite.totals[i].0;
        if !scan.present || pg.per_part()[i] == lite.totals[i] {
            continue;
        }
        scan.parts_differing += 1;
        let check = &checks[part.table];
        let started = std::time::Instant::now();
        let mut one = |d| visit(part.table, check, d);
        if let Some((read, ranges)) =
            sorted_rows(&clients[0], &conn, path, check, part, &mut one).await?
        {
            scan.rows_read += read;
            scan.ranges.extend(ranges);
            scan.row_seconds += started.elapsed().as_secs_f64();
            continue;
        }
        let (pg_side, lite_side) =
            part_buckets(&clients[0], &conn, path, check, part, "comparing").await?;
        let differing = pg_side.differing(&lite_side);
        scan.buckets_differing += differing.len();
        let key = check.pg_key_text();
        let hexes: Vec<String> = differing.iter().map(|b| bucket_hex(*b)).collect();
        scan.ranges
            .extend(part.pg_ranges.iter().map(|r| ChunkRange::Buckets {
                within: Box::new(r.clone()),
                key: key.clone(),
                buckets: hexes.clone(),
            }));
        let started = std::time::Instant::now();
        for group in bucket_groups(&differing, &pg_side, &lite_side) {
            let mut one = |d| visit(part.table, check, d);
            scan.rows_read +=
                differing_rows(&clients[0], &conn, path, check, part, &group, &mut one).await?;
        }
        scan.row_seconds += started.elapsed().as_secs_f64();
    }
    Ok(scans)
}

/// The first `n` rows of a table in PostgreSQL, in canonical text: samples of
/// a table the SQLite file lacks.
pub(crate) async fn first_rows(
    client: &Client,
    check: &TableCheck<'_>,
    n: usize,
) -> Result<Vec<CanonicalRow>> {
    let sql = format!(
        "SELECT {} FROM {} LIMIT {n}",
        check.pg_expressions().join(", "),
        check.plan.copy.from_clause(&ChunkRange::All)
    );
    let doing = || format!("reading samples of {}", check.plan.source_name);
    let width = check.plan.sink.columns.len();
    let mut out = Vec::new();
    for r in client.query(&sql, &[]).await.map_err(Error::pg(doing()))? {
        out.push(pg_canonical_row(&r, width).map_err(Error::pg(doing()))?);
    }
    Ok(out)
}

fn pair_by_key(
    check: &TableCheck<'_>,
    pg_rows: Vec<CanonicalRow>,
    lite_rows: Vec<CanonicalRow>,
    visit: &mut impl FnMut(RowDiff),
) {
    let mut lite: BTreeMap<String, CanonicalRow> = lite_rows
        .into_iter()
        .map(|r| (check.key_text(&r), r))
        .collect();
    for row in pg_rows {
        match lite.remove(&check.key_text(&row)) {
            None => visit(RowDiff::PgOnly(row)),
            Some(other) if other != row => visit(RowDiff::Changed {
                pg: row,
                sqlite: other,
            }),
            Some(_) => {}
        }
    }
    for (_, row) in lite {
        visit(RowDiff::SqliteOnly(row));
    }
}

/// Without a key a table is a multiset of rows: each distinct row is counted on
/// both sides, and every copy one side has more of is a difference.
fn pair_as_multiset(
    pg_rows: Vec<CanonicalRow>,
    lite_rows: Vec<CanonicalRow>,
    visit: &mut impl FnMut(RowDiff),
) {
    let mut counts: BTreeMap<String, (i64, CanonicalRow)> = BTreeMap::new();
    for r in pg_rows {
        counts
            .entry(record_text(r.iter().map(Option::as_deref)))
            .or_insert((0, r))
            .0 += 1;
    }
    for r in lite_rows {
        counts
            .entry(record_text(r.iter().map(Option::as_deref)))
            .or_insert((0, r))
            .0 -= 1;
    }
    for (_, (n, row)) in counts {
        for _ in 0..n.max(0) {
            visit(RowDiff::PgOnly(row.clone()));
        }
        for _ in 0..(-n).max(0) {
            visit(RowDiff::SqliteOnly(row.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(entries: &[(u16, u64)]) -> Buckets {
        let mut b = Buckets::default();
        for (k, c) in entries {
            b.add(*k, *c, 0);
        }
        b
    }

    #[test]
    fn groups_hold_about_a_fixed_number_of_rows() {
        let pg = buckets(&[(1, 60_000), (2, 50_000), (3, 10)]);
        let lite = buckets(&[(1, 10), (3, 40_000)]);
        assert_eq!(
            bucket_groups(&[1, 2, 3], &pg, &lite),
            vec![vec![1], vec![2, 3]]
        );
        assert_eq!(bucket_groups(&[], &pg, &lite), Vec::<Vec<u16>>::new());
    }
}
