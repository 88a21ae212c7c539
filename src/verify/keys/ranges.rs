//! Integer keys compared by ranges of the key: each side counts and sums the
//! keys per range where it runs, and only the ranges that differ are read, in
//! key order, one index range scan each.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tokio_postgres::Client;

use super::{
    add_hash, as_i64, bucket_count, differing_buckets, each_pg_value, merge_sorted, pg_bucket_sums,
    pg_hash_totals, take_hash, totals_agree, BucketSums, KeyDifference, MergedRows, PgKeys,
    SortedKey, SortedKind,
};
use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;
use crate::verify::checksum::pg_hash_i64;

/// The integer key ranges whose keys differ between the two sides, and the
/// keys of the rows the merge reads, where they were read up front.
pub(super) struct IntegerRanges {
    pub(super) ranges: Vec<(i64, i64)>,
    pub(super) merged: Option<HashSet<i64>>,
}

/// The integer key ranges whose keys differ between the two sides, found by
/// comparing first the count and hash sums of every key, then, where those
/// differ, per range the count and two sums of the keys: scans of the
/// primary-key index in PostgreSQL and one of the smallest covering index in
/// SQLite, aggregated where they run. The rows the merge reads (`merging`) are
/// left out of the totals where an index finds them, and are in the ranges as
/// any other. `None` when
/// the method does not apply (keys that are not all integers, a range too
/// wide for 64-bit arithmetic, or so many differing ranges that reading every
/// key in order is cheaper).
pub(super) async fn integer_ranges(
    client: &Client,
    plan: &TablePlan,
    column: &str,
    merging: Option<MergedRows<'_>>,
    conn: &Connection,
    path: &Path,
    what: &str,
) -> Result<Option<IntegerRanges>> {
    let pg_k = format!("{}::int8", quote_ident(column));
    let from = plan.copy.from_clause(&ChunkRange::All);
    let lite_k = quote(column);
    let table = quote(&plan.sink.name);
    // min and max of the bare column, cast after: a cast inside would hide
    // an integer or smallint key's index (a scan of the whole table).
    let bare = quote_ident(column);
    let row = client
        .query_one(
            &format!("SELECT min({bare})::int8, max({bare})::int8 FROM {from}"),
            &[],
        )
        .await
        .map_err(Error::pg(what))?;
    let pg_range: (Option<i64>, Option<i64>) = (
        row.try_get(0).map_err(Error::pg(what))?,
        row.try_get(1).map_err(Error::pg(what))?,
    );
    // A key column holding anything but integers ends the method; the range
    // scan below finds any such value, min/max only the text and blobs.
    let as_int = |v: ValueRef<'_>| match v {
        ValueRef::Null => Some(None),
        ValueRef::Integer(i) => Some(Some(i)),
        _ => None,
    };
    let lite_range = conn
        .query_row(
            &format!("SELECT min({lite_k}), max({lite_k}) FROM {table}"),
            [],
            |r| Ok((as_int(r.get_ref(0)?), as_int(r.get_ref(1)?))),
        )
        .map_err(Error::sqlite(what, path))?;
    let (Some(lite_min), Some(lite_max)) = lite_range else {
        return Ok(None);
    };
    let lite_range = (lite_min, lite_max);
    let lo = [pg_range.0, lite_range.0].into_iter().flatten().min();
    let hi = [pg_range.1, lite_range.1].into_iter().flatten().max();
    let (Some(lo), Some(hi)) = (lo, hi) else {
        // Both sides empty.
        return Ok(Some(IntegerRanges {
            ranges: Vec::new(),
            merged: None,
        }));
    };
    let Some(span) = hi.checked_sub(lo) else {
        return Ok(None);
    };
    let buckets = i64::try_from(bucket_count(plan.estimated_rows)).unwrap_or(4096);
    let width = span / buckets + 1;
    // The totals first: when they agree, as they do for a table without
    // deletes, the sums per range (a grouping of every key, twice the cost)
    // are not asked for. The keys the merge reads are found through the
    // cursor's index and taken out with their hashes, computed here as the
    // server computes them; without an index they are read only for the
    // ranges that differ, and both totals hold them.
    let pg_hash = format!("hashint8extended({pg_k}, 0)");
    let mut pg_total = pg_hash_totals(client, &pg_hash, &from, what).await?;
    let mut merged = None;
    if let Some(MergedRows {
        condition,
        indexed: true,
    }) = merging
    {
        let mut keys = HashSet::new();
        let sql = format!("SELECT {pg_k} FROM {from} WHERE {condition}");
        each_pg_value(client, &sql, what, |k: i64| {
            take_hash(&mut pg_total, as_i64(pg_hash_i64(k)));
            keys.insert(k);
        })
        .await?;
        merged = Some(keys);
    }
    // SQLite reads the keys from its smallest covering index, in no particular
    // order, and the ranges are summed here: grouping in SQL would sort them all.
    let mut lite: HashMap<i64, BucketSums> = HashMap::new();
    let mut lite_total: BucketSums = (0, 0, 0);
    {
        let mut stmt = conn
            .prepare(&format!("SELECT {lite_k} FROM {table}"))
            .map_err(Error::sqlite(what, path))?;
        let mut rows = stmt.query([]).map_err(Error::sqlite(what, path))?;
        while let Some(r) = rows.next().map_err(Error::sqlite(what, path))? {
            let ValueRef::Integer(k) = r.get_ref(0).map_err(Error::sqlite(what, path))? else {
                return Ok(None);
            };
            let h = as_i64(pg_hash_i64(k));
            if !merged.as_ref().is_some_and(|m| m.contains(&k)) {
                add_hash(&mut lite_total, h);
            }
            // lo <= k <= hi, so k - lo cannot overflow (span fits).
            let d = k - lo;
            let e = lite.entry(d / width).or_insert((0, 0, 0));
            e.0 += 1;
            e.1 += d % 1_000_000_007;
            e.2 += h % 2_147_483_647;
        }
    }
    if lite_total == pg_total {
        totals_agree(&plan.source_name, merged.as_ref().map_or(0, HashSet::len));
        return Ok(Some(IntegerRanges {
            ranges: Vec::new(),
            merged,
        }));
    }
    // Per range, the count, the sum of the keys and the sum of their hashes
    // (`hashint8extended`, as [`pg_hash_i64`] computes it). The keys' sum
    // tells any one key from another of its range; the hashes' sum keeps
    // several from cancelling out, as PostgreSQL deleting 10 and 13 while the
    // app deleted 11 and 12 would in sums of the keys alone. Every term is
    // below 2^31 in magnitude (k - lo fits, as span does); the sums come back
    // as numeric.
    let pg_sums = format!(
        "(({pg_k} - {lo}) / {width})::int8, count(*)::int8, \
         sum(({pg_k} - {lo}) % 1000000007)::int8, \
         sum({pg_hash} % 2147483647)::int8"
    );
    let pg = pg_bucket_sums(
        client,
        &format!("SELECT {pg_sums} FROM {from} GROUP BY 1"),
        what,
    )
    .await?;
    let mut differing = differing_buckets(&pg, &lite);
    if i64::try_from(differing.len()).unwrap_or(i64::MAX) > buckets / 4 {
        return Ok(None);
    }
    differing.sort_unstable();
    // Adjacent buckets become one range [from, to).
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for b in differing {
        let start = lo + b * width;
        let end = start.saturating_add(width);
        match ranges.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    Ok(Some(IntegerRanges { ranges, merged }))
}

/// The sorted method restricted to the key ranges `[from, to)` of `found`;
/// `merging` are the rows the merge reads, whose keys `found` may hold.
#[allow(clippy::too_many_arguments)]
pub(super) async fn ranges_difference(
    client: &Client,
    plan: &TablePlan,
    column: &str,
    merging: Option<MergedRows<'_>>,
    found: IntegerRanges,
    conn: &Connection,
    path: &Path,
    what: &str,
) -> Result<Option<KeyDifference>> {
    let IntegerRanges { ranges, merged } = found;
    if ranges.is_empty() {
        return Ok(Some(KeyDifference::default()));
    }
    let pg_column = quote_ident(column);
    let (starts, ends): (Vec<i64>, Vec<i64>) = ranges.iter().copied().unzip();
    // The keys in these ranges of the rows the merge will read, where they
    // were not read up front: asking for the condition in the query below
    // would read the table's rows instead of its key index (and the planner
    // then scans the whole table per range).
    let merged = match (merged, merging) {
        (Some(keys), _) => keys,
        (None, None) => HashSet::new(),
        (None, Some(MergedRows { condition, .. })) => {
            let mut keys = HashSet::new();
            let sql = format!(
                "SELECT {pg_column}::int8 FROM {} WHERE {condition}",
                plan.copy.from_clause(&ChunkRange::All)
            );
            each_pg_value(client, &sql, what, |k: i64| {
                // ranges are sorted and disjoint: the one that may hold k.
                let i = ranges.partition_point(|&(_, end)| end <= k);
                if ranges.get(i).is_some_and(|&(start, _)| start <= k) {
                    keys.insert(k);
                }
            })
            .await?;
            keys
        }
    };
    // One index range scan per range (LATERAL), on the bare column so an
    // integer or smallint key's index serves the int8 bounds too.
    // OFFSET 0 keeps the subquery a subquery, planned as one range of the
    // key's index: flattened into a join, the planner may pick a scan of the
    // whole table per range (it did on a table not yet vacuumed, where an
    // index-only scan looks costly: 41 s for 1000 ranges of 1M wide rows).
    let pg_sql = format!(
        "SELECT k, false FROM unnest($1::int8[], $2::int8[]) AS r(a, b)
           CROSS JOIN LATERAL (SELECT {pg_column}::int8 AS k FROM {}
                                WHERE {pg_column} >= r.a AND {pg_column} < r.b
                               OFFSET 0) t
          ORDER BY 1",
        plan.copy.from_clause(&ChunkRange::All)
    );
    let rows = client
        .query_raw(
            &pg_sql,
            [&starts as &(dyn tokio_postgres::types::ToSql + Sync), &ends],
        )
        .await
        .map_err(Error::pg(what))?;
    futures_util::pin_mut!(rows);
    // SQLite: one index range per differing range, in key order.
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {c}, rowid FROM {t} WHERE {c} >= ?1 AND {c} < ?2 ORDER BY {c}",
            c = quote(column),
            t = quote(&plan.sink.name)
        ))
        .map_err(Error::sqlite(what, path))?;
    let mut keys: Vec<(SortedKey, i64)> = Vec::new();
    for (a, b) in &ranges {
        let mut rows = stmt.query([a, b]).map_err(Error::sqlite(what, path))?;
        while let Some(r) = rows.next().map_err(Error::sqlite(what, path))? {
            keys.push((
                SortedKey::Int(r.get(0).map_err(Error::sqlite(what, path))?),
                r.get(1).map_err(Error::sqlite(what, path))?,
            ));
        }
    }
    let mut lite = keys.into_iter();
    let mut next_lite = || Ok(lite.next());
    let pg = PgKeys {
        rows: &mut rows,
        kind: SortedKind::Integer,
        merged: &merged,
    };
    merge_sorted(pg, &mut next_lite, column, what).await
}
