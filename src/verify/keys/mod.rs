//! Which keys one side has and the other lacks, without reading every row: the
//! key sets are hashed into buckets on both sides (PostgreSQL on the server),
//! and only the keys of buckets that differ are read. A delta merge finds the
//! rows PostgreSQL deleted this way.
//!
//! By key: integer, uuid and text keys first by the count and sums of the
//! hashes of every key (PostgreSQL's own hash functions, reproduced here),
//! which settle a table whose key sets agree in one aggregate; where they
//! differ, integer keys by ranges of the key (count and sums per range), uuid
//! and text keys by buckets of the key's hash ([`hashed`]), any of these read
//! whole and in order when those do not apply. Any other key (composite,
//! other types) by buckets of the md5 of its canonical text.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use futures_util::StreamExt;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tokio_postgres::Client;

use super::checksum::{bucket, bucket_hex, md5};
use super::{pg_buckets, pg_canonical_row, sqlite_buckets, sqlite_row, TableCheck, NOT_AS_MAPPED};
use crate::error::{Error, Result};
use crate::mapping::decode::push_hex;
use crate::mapping::types::ValueKind;
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;

mod hashed;
mod ranges;

/// A SQLite row whose key PostgreSQL does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOnly {
    pub rowid: i64,
    /// `id=7` for messages.
    pub key: String,
}

/// Keys of PostgreSQL rows SQLite lacks listed by name at most.
pub const POSTGRES_ONLY_LISTED: usize = 100;

/// The keys found on one side only.
#[derive(Debug, Clone, Default)]
pub struct KeyDifference {
    pub sqlite_only: Vec<SqliteOnly>,
    /// SQLite rows whose key is not stored as the mapping writes it, so it cannot
    /// be matched to a PostgreSQL key: never candidates for deletion.
    pub unrecognized: Vec<String>,
    pub unrecognized_count: u64,
    /// Keys of PostgreSQL rows SQLite lacks, as `id=7` (the first
    /// [`POSTGRES_ONLY_LISTED`]), and how many there are.
    pub postgres_only: Vec<String>,
    pub postgres_only_count: u64,
}

impl KeyDifference {
    fn add_postgres_only(&mut self, key: impl FnOnce() -> String) {
        self.postgres_only_count += 1;
        if self.postgres_only.len() < POSTGRES_ONLY_LISTED {
            self.postgres_only.push(key());
        }
    }

    /// Completes a difference taken before a merge
    /// ([`key_difference_before_merge`]) with the rows the merge read and did
    /// not insert, SQLite's delete standing: `count` of them, `listed` by key.
    pub fn add_not_inserted(&mut self, count: u64, listed: &[String]) {
        let listed = listed
            .iter()
            .take(usize::try_from(count).unwrap_or(usize::MAX));
        let shown = listed.len() as u64;
        for key in listed {
            self.add_postgres_only(|| key.clone());
        }
        self.postgres_only_count += count - shown;
    }
}

/// Compares the primary-key sets of `plan`'s table in PostgreSQL (through
/// `client`, inside the caller's snapshot) and in SQLite (through `conn`, inside
/// the caller's transaction). The table must have a primary key.
pub async fn key_difference(
    client: &Client,
    plan: &TablePlan,
    conn: &Connection,
    path: &Path,
) -> Result<KeyDifference> {
    let full = TableCheck::new(plan);
    if !full.has_key {
        return Err(Error::Integrity {
            table: plan.source_name.clone(),
            reason: "key comparison needs a primary key".into(),
        });
    }
    if let [k] = full.key[..] {
        if let Some(kind) = SortedKind::of(&plan.conversions[k].kind) {
            if let Some(diff) = sorted_difference(client, plan, k, kind, None, conn, path).await? {
                return Ok(diff);
            }
        }
    }
    bucket_difference(client, plan, &full.key, conn, path).await
}

/// The PostgreSQL rows a delta merge reads: their condition, and whether an
/// index finds them (the cursor's), so that their keys can be read up front
/// for the cost of the change; otherwise reading them is a scan of the table.
#[derive(Debug, Clone, Copy)]
pub struct MergedRows<'a> {
    pub condition: &'a str,
    pub indexed: bool,
}

/// The key difference a delta merge will leave, compared before it writes:
/// `merging` are the PostgreSQL rows the merge reads, which it brings into
/// SQLite, so their keys are not counted as PostgreSQL's only.
/// SQLite's own keys are what they will be after the merge (it writes only
/// PostgreSQL's keys), so the rows to delete are the same. Keys the merge
/// reads and does not keep (SQLite's delete stands) are the caller's to add.
///
/// `None` when the key needs the bucket method, which has no such condition;
/// then the comparison is made after the merge.
pub async fn key_difference_before_merge(
    client: &Client,
    plan: &TablePlan,
    merging: MergedRows<'_>,
    conn: &Connection,
    path: &Path,
) -> Result<Option<KeyDifference>> {
    let full = TableCheck::new(plan);
    let [k] = full.key[..] else {
        return Ok(None);
    };
    let Some(kind) = SortedKind::of(&plan.conversions[k].kind) else {
        return Ok(None);
    };
    sorted_difference(client, plan, k, kind, Some(merging), conn, path).await
}

/// The bucket method: any key, two scans per side.
async fn bucket_difference(
    client: &Client,
    plan: &TablePlan,
    key: &[usize],
    conn: &Connection,
    path: &Path,
) -> Result<KeyDifference> {
    let keys_plan = plan.with_columns(key);
    let check = TableCheck::new(&keys_plan);
    let range = ChunkRange::All;
    let doing = || format!("comparing the keys of {}", plan.source_name);

    let pg = pg_buckets(client, &check, &range, "comparing the keys of").await?;
    let lite = sqlite_buckets(conn, &check, &range).map_err(Error::sqlite(doing(), path))?;
    let differing = pg.differing(&lite);
    if differing.is_empty() {
        return Ok(KeyDifference::default());
    }

    let hexes: Vec<String> = differing.iter().map(|b| bucket_hex(*b)).collect();
    let n = keys_plan.sink.columns.len();
    let mut pg_keys: HashMap<String, String> = HashMap::new();
    for r in client
        .query(&check.pg_rows_sql(&range), &[&hexes])
        .await
        .map_err(Error::pg(doing()))?
    {
        let values = pg_canonical_row(&r, n).map_err(Error::pg(doing()))?;
        pg_keys.insert(check.key_text(&values), check.key_display(&values));
    }

    let wanted: HashSet<u16> = differing.into_iter().collect();
    let cols: Vec<String> = keys_plan
        .sink
        .columns
        .iter()
        .map(|c| quote(&c.name))
        .collect();
    let sql = format!(
        "SELECT {}, rowid FROM {}",
        cols.join(", "),
        quote(&keys_plan.sink.name)
    );
    let mut lite_keys: HashSet<String> = HashSet::new();
    let mut diff = KeyDifference::default();
    let read =
        |diff: &mut KeyDifference, lite_keys: &mut HashSet<String>| -> rusqlite::Result<()> {
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let values = sqlite_row(&check, row)?;
                let key = check.key_text(&values);
                if !wanted.contains(&bucket(&md5(&key))) {
                    continue;
                }
                let mapped = values
                    .iter()
                    .all(|v| !v.as_deref().is_some_and(|v| v.starts_with(NOT_AS_MAPPED)));
                if !mapped {
                    diff.unrecognized_count += 1;
                    if diff.unrecognized.len() < POSTGRES_ONLY_LISTED {
                        diff.unrecognized
                            .push(format!("rowid {}", row.get::<_, i64>(n)?));
                    }
                } else if !pg_keys.contains_key(&key) {
                    diff.sqlite_only.push(SqliteOnly {
                        rowid: row.get(n)?,
                        key: check.key_display(&values),
                    });
                }
                lite_keys.insert(key);
            }
            Ok(())
        };
    read(&mut diff, &mut lite_keys).map_err(Error::sqlite(doing(), path))?;
    let mut missing: Vec<String> = pg_keys
        .into_iter()
        .filter(|(k, _)| !lite_keys.contains(k))
        .map(|(_, display)| display)
        .collect();
    missing.sort();
    for m in missing {
        diff.add_postgres_only(|| m);
    }
    Ok(diff)
}

/// Single-column keys whose order is the same in PostgreSQL and in SQLite's
/// stored form, so both sides can be read sorted and merged in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortedKind {
    Integer,
    /// Text in byte order (`COLLATE "C"`, SQLite's BINARY).
    Text,
    /// uuid in byte order; SQLite's form (dashed or not, any case, or 16 bytes)
    /// is compared as 32 lowercase hex digits.
    Uuid,
}

impl SortedKind {
    fn of(kind: &ValueKind) -> Option<SortedKind> {
        match kind {
            ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => Some(SortedKind::Integer),
            ValueKind::Text | ValueKind::PaddedText => Some(SortedKind::Text),
            ValueKind::Uuid => Some(SortedKind::Uuid),
            _ => None,
        }
    }
}

/// A key in a form both sides agree on, ordered as both sides sort it
/// (SQLite sorts integers before text).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SortedKey {
    Int(i64),
    Text(String),
    /// Anything else SQLite holds in the key column; never equal to a
    /// PostgreSQL key, and it ends the sorted method (order unknown).
    Other,
}

impl SortedKey {
    fn from_sqlite(v: ValueRef<'_>, kind: SortedKind) -> SortedKey {
        match (kind, v) {
            (SortedKind::Integer, ValueRef::Integer(i)) => SortedKey::Int(i),
            (SortedKind::Text, ValueRef::Text(t)) => {
                SortedKey::Text(String::from_utf8_lossy(t).into_owned())
            }
            (SortedKind::Uuid, ValueRef::Text(t)) => {
                let hex: String = String::from_utf8_lossy(t)
                    .chars()
                    .filter(|c| *c != '-')
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                SortedKey::Text(hex)
            }
            (SortedKind::Uuid, ValueRef::Blob(b)) if b.len() == 16 => {
                let mut hex = String::with_capacity(32);
                for byte in b {
                    push_hex(&mut hex, *byte);
                }
                SortedKey::Text(hex)
            }
            _ => SortedKey::Other,
        }
    }

    fn display(&self, column: &str) -> String {
        match self {
            SortedKey::Int(i) => format!("{column}={i}"),
            SortedKey::Text(t) => format!("{column}={t}"),
            SortedKey::Other => format!("{column}=(not a key value)"),
        }
    }
}

/// The next PostgreSQL key, and whether the merge reads its row (the second
/// column of the query).
async fn next_pg_key(
    rows: &mut std::pin::Pin<&mut tokio_postgres::RowStream>,
    kind: SortedKind,
    doing: &str,
) -> Result<Option<(SortedKey, bool)>> {
    match rows.next().await {
        None => Ok(None),
        Some(Err(e)) => Err(Error::pg(doing)(e)),
        Some(Ok(r)) => {
            let key = match kind {
                SortedKind::Integer => SortedKey::Int(r.try_get(0).map_err(Error::pg(doing))?),
                SortedKind::Text | SortedKind::Uuid => {
                    SortedKey::Text(r.try_get(0).map_err(Error::pg(doing))?)
                }
            };
            let merged: Option<bool> = r.try_get(1).map_err(Error::pg(doing))?;
            Ok(Some((key, merged == Some(true))))
        }
    }
}

/// The SQL of the second column of the PostgreSQL key queries: whether the
/// merge reads the row.
fn merged_column<'a>(merging: Option<MergedRows<'a>>) -> &'a str {
    merging.map_or("false", |m| m.condition)
}

/// The sorted method: both key columns read in order and merged, nothing but
/// the differences kept. `None` when SQLite's stored keys turn out not to sort
/// like PostgreSQL's (mixed representations): the caller uses buckets instead.
/// `merging`: see [`key_difference_before_merge`].
#[allow(clippy::too_many_arguments)]
async fn sorted_difference(
    client: &Client,
    plan: &TablePlan,
    key: usize,
    kind: SortedKind,
    merging: Option<MergedRows<'_>>,
    conn: &Connection,
    path: &Path,
) -> Result<Option<KeyDifference>> {
    let column = &plan.sink.columns[key].name;
    let what = format!("comparing the keys of {}", plan.source_name);
    let key = KeyColumn {
        column,
        kind,
        merging,
    };
    if kind == SortedKind::Integer {
        if let Some(found) =
            ranges::integer_ranges(client, plan, column, merging, conn, path, &what).await?
        {
            return ranges::ranges_difference(
                client, plan, column, merging, found, conn, path, &what,
            )
            .await;
        }
    }
    if let Some(diff) = hashed::hashed_difference(client, plan, key, conn, path, &what).await? {
        return Ok(Some(diff));
    }
    let pg_sql = format!(
        "SELECT {}, {} FROM {} ORDER BY {}",
        key.pg_select(),
        merged_column(merging),
        plan.copy.from_clause(&ChunkRange::All),
        key.pg_order()
    );
    let rows = client
        .query_raw(&pg_sql, std::iter::empty::<i32>())
        .await
        .map_err(Error::pg(what.as_str()))?;
    futures_util::pin_mut!(rows);

    let sqlite_sql = format!(
        "SELECT {c}, rowid FROM {t} ORDER BY {c}{collate}",
        c = quote(column),
        t = quote(&plan.sink.name),
        collate = if kind == SortedKind::Integer {
            ""
        } else {
            " COLLATE BINARY"
        }
    );
    let mut stmt = conn
        .prepare(&sqlite_sql)
        .map_err(Error::sqlite(what.as_str(), path))?;
    let mut lite_rows = stmt.query([]).map_err(Error::sqlite(what.as_str(), path))?;
    let mut next_lite = || -> Result<Option<(SortedKey, i64)>> {
        match lite_rows
            .next()
            .map_err(Error::sqlite(what.as_str(), path))?
        {
            None => Ok(None),
            Some(r) => {
                let v = r.get_ref(0).map_err(Error::sqlite(what.as_str(), path))?;
                let rowid: i64 = r.get(1).map_err(Error::sqlite(what.as_str(), path))?;
                Ok(Some((SortedKey::from_sqlite(v, kind), rowid)))
            }
        }
    };
    let no_set = HashSet::new();
    let pg = PgKeys {
        rows: &mut rows,
        kind,
        merged: &no_set,
    };
    merge_sorted(pg, &mut next_lite, column, &what).await
}

/// The key column compared, how both sides sort it, and the condition of the
/// rows a merge will read (see [`key_difference_before_merge`]).
#[derive(Clone, Copy)]
struct KeyColumn<'a> {
    column: &'a str,
    kind: SortedKind,
    merging: Option<MergedRows<'a>>,
}

impl KeyColumn<'_> {
    /// The key as PostgreSQL sends it for [`SortedKey`] (a uuid as 32 hex
    /// digits).
    fn pg_select(&self) -> String {
        let c = quote_ident(self.column);
        match self.kind {
            SortedKind::Integer => format!("{c}::int8"),
            SortedKind::Text => format!("{c}::text"),
            SortedKind::Uuid => format!("replace({c}::text, '-', '')"),
        }
    }

    /// PostgreSQL's order of the keys, the byte order SQLite and [`SortedKey`]
    /// sort them in.
    fn pg_order(&self) -> String {
        let c = quote_ident(self.column);
        match self.kind {
            SortedKind::Text => format!("{c} COLLATE \"C\""),
            SortedKind::Integer | SortedKind::Uuid => c,
        }
    }
}

/// PostgreSQL's sorted keys, each with whether the merge reads its row: the
/// query's second column says so, or the key is in `merged`.
struct PgKeys<'a, 'r> {
    rows: &'a mut std::pin::Pin<&'r mut tokio_postgres::RowStream>,
    kind: SortedKind,
    merged: &'a HashSet<i64>,
}

/// Walks both sorted key sequences at once and keeps the keys only one side has.
/// `None` when the SQLite sequence is not sorted as PostgreSQL's.
async fn merge_sorted(
    pg_keys: PgKeys<'_, '_>,
    next_lite: &mut dyn FnMut() -> Result<Option<(SortedKey, i64)>>,
    column: &str,
    what: &str,
) -> Result<Option<KeyDifference>> {
    let PgKeys { rows, kind, merged } = pg_keys;
    let mut diff = KeyDifference::default();
    let mut next_pg_key = async || -> Result<Option<(SortedKey, bool)>> {
        Ok(next_pg_key(rows, kind, what).await?.map(|(k, flagged)| {
            let in_set = matches!(k, SortedKey::Int(i) if merged.contains(&i));
            (k, flagged || in_set)
        }))
    };
    let mut pg = next_pg_key().await?;
    let mut lite = next_lite()?;
    let mut last_lite: Option<SortedKey> = None;
    loop {
        if let Some((k, _)) = &lite {
            if *k == SortedKey::Other || last_lite.as_ref().is_some_and(|l| l > k) {
                return Ok(None);
            }
        }
        match (&pg, &lite) {
            (None, None) => break,
            (Some((p, _)), Some((l, _))) if p == l => {
                last_lite = lite.take().map(|x| x.0);
                pg = next_pg_key().await?;
                lite = next_lite()?;
            }
            (Some((p, merged)), Some((l, _))) if p < l => {
                if !merged {
                    diff.add_postgres_only(|| p.display(column));
                }
                pg = next_pg_key().await?;
            }
            (Some((p, merged)), None) => {
                if !merged {
                    diff.add_postgres_only(|| p.display(column));
                }
                pg = next_pg_key().await?;
            }
            (_, Some((l, rowid))) => {
                diff.sqlite_only.push(SqliteOnly {
                    rowid: *rowid,
                    key: l.display(column),
                });
                last_lite = lite.take().map(|x| x.0);
                lite = next_lite()?;
            }
        }
    }
    Ok(Some(diff))
}

/// A bucket of keys as both sides describe it: how many, and two sums of
/// numbers taken from each key (below 2^31 each, so exact up to 2^32 keys).
type BucketSums = (i64, i64, i64);

/// Adds a key's hash to a count and sums (each term below 2^31 in magnitude,
/// as [`BucketSums`] needs), as [`pg_hash_totals`] and the buckets of the
/// hashed method sum them in PostgreSQL.
fn add_hash(sums: &mut BucketSums, h: i64) {
    sums.0 += 1;
    sums.1 += h % 1_000_000_007;
    sums.2 += (h / 4_294_967_296) % 2_147_483_647;
}

/// Takes a key's hash back out of what [`add_hash`] summed.
fn take_hash(sums: &mut BucketSums, h: i64) {
    sums.0 -= 1;
    sums.1 -= h % 1_000_000_007;
    sums.2 -= (h / 4_294_967_296) % 2_147_483_647;
}

/// The count and sums [`add_hash`] takes of the hashes `h`, in PostgreSQL's
/// SQL: the one place they are written for the server (an empty table sums
/// to 0, as here).
const PG_HASH_SUMS: &str = "count(*)::int8, coalesce(sum(h % 1000000007), 0)::int8, \
     coalesce(sum((h / 4294967296) % 2147483647), 0)::int8";

/// PostgreSQL's [`PG_HASH_SUMS`] of the key hash `hash` over every row of
/// `from`: one aggregate, without the grouping of the buckets.
async fn pg_hash_totals(client: &Client, hash: &str, from: &str, what: &str) -> Result<BucketSums> {
    let sql = format!("SELECT {PG_HASH_SUMS} FROM (SELECT {hash} AS h FROM {from}) k");
    let r = client.query_one(&sql, &[]).await.map_err(Error::pg(what))?;
    Ok((
        r.try_get(0).map_err(Error::pg(what))?,
        r.try_get(1).map_err(Error::pg(what))?,
        r.try_get(2).map_err(Error::pg(what))?,
    ))
}

/// Says that `table`'s key sets were settled by their totals, `merged` keys
/// of rows the merge reads left out.
fn totals_agree(table: &str, merged: usize) {
    tracing::debug!(
        "keys of {table}: every key's count and hash sums agree ({merged} keys the merge reads \
         left out)"
    );
}

/// A 64-bit hash as the `int8` PostgreSQL returns it.
fn as_i64(h: u64) -> i64 {
    i64::from_be_bytes(h.to_be_bytes())
}

/// PostgreSQL's answer to `sql`, whose rows are a bucket and its three sums.
async fn pg_bucket_sums(
    client: &Client,
    sql: &str,
    what: &str,
) -> Result<HashMap<i64, BucketSums>> {
    let mut pg = HashMap::new();
    for r in client.query(sql, &[]).await.map_err(Error::pg(what))? {
        pg.insert(
            r.try_get(0).map_err(Error::pg(what))?,
            (
                r.try_get(1).map_err(Error::pg(what))?,
                r.try_get(2).map_err(Error::pg(what))?,
                r.try_get(3).map_err(Error::pg(what))?,
            ),
        );
    }
    Ok(pg)
}

/// Streams the single column of `sql`'s rows into `each`.
async fn each_pg_value<T>(client: &Client, sql: &str, what: &str, each: impl FnMut(T)) -> Result<()>
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    each_pg_row(client, sql, what, |r| r.try_get(0), each).await
}

/// Streams `sql`'s rows into `each`, each taken apart by `read`.
async fn each_pg_row<T>(
    client: &Client,
    sql: &str,
    what: &str,
    read: impl Fn(&tokio_postgres::Row) -> std::result::Result<T, tokio_postgres::Error>,
    mut each: impl FnMut(T),
) -> Result<()> {
    let rows = client
        .query_raw(sql, std::iter::empty::<i32>())
        .await
        .map_err(Error::pg(what))?;
    futures_util::pin_mut!(rows);
    while let Some(r) = rows.next().await {
        each(r.and_then(|r| read(&r)).map_err(Error::pg(what))?);
    }
    Ok(())
}

/// The buckets whose sums differ, or that one side lacks.
fn differing_buckets(pg: &HashMap<i64, BucketSums>, lite: &HashMap<i64, BucketSums>) -> Vec<i64> {
    let mut differing: Vec<i64> = lite
        .iter()
        .filter(|(b, sums)| pg.get(b) != Some(sums))
        .map(|(b, _)| *b)
        .collect();
    differing.extend(pg.keys().filter(|b| !lite.contains_key(b)));
    differing
}

/// How many keys a bucket of the first look holds on average, at least:
/// fewer buckets make each differing one cost more keys, and a delta's few
/// deletes spread over more of them (past a quarter, every key is read); more
/// buckets make a larger first answer.
const KEYS_PER_BUCKET: f64 = 128.0;
const MIN_BUCKETS: u64 = 4096;
/// PostgreSQL groups the buckets in memory (`work_mem`): at most this many.
const MAX_BUCKETS: u64 = 65536;

/// The buckets of the first look for a table of about `estimated_rows` rows:
/// a power of two.
fn bucket_count(estimated_rows: f64) -> u64 {
    // Estimates are non-negative and far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let wanted = (estimated_rows.max(0.0) / KEYS_PER_BUCKET) as u64;
    wanted.clamp(MIN_BUCKETS, MAX_BUCKETS).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sums_keep_the_sign_as_postgresql_does() {
        let mut s = (0, 0, 0);
        add_hash(&mut s, -1);
        add_hash(&mut s, i64::MIN);
        add_hash(&mut s, i64::MAX);
        // PostgreSQL: -1 % 1000000007 = -1; -9223372036854775808 % 1000000007
        // = -291172004; 9223372036854775807 % 1000000007 = 291172003;
        // -1 / 4294967296 = 0, i64::MIN / 2^32 = -2147483648 → % 2147483647 = -1,
        // i64::MAX / 2^32 = 2147483647 → 0.
        assert_eq!(s, (3, -1 - 291_172_004 + 291_172_003, -1));
    }

    #[test]
    fn a_hash_taken_out_leaves_the_sums_without_it() {
        let (mut with, mut without) = ((0, 0, 0), (0, 0, 0));
        for h in [-1, i64::MIN, 5 << 40, i64::MAX] {
            add_hash(&mut with, h);
        }
        for h in [-1, i64::MAX] {
            add_hash(&mut without, h);
        }
        take_hash(&mut with, i64::MIN);
        take_hash(&mut with, 5 << 40);
        assert_eq!(with, without);
        take_hash(&mut with, -1);
        take_hash(&mut with, i64::MAX);
        assert_eq!(with, (0, 0, 0));
    }
}
