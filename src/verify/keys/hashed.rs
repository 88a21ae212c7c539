//! uuid and text keys compared by hashed buckets. PostgreSQL hashes each key
//! with the function behind its hash indexes (`uuid_hash_extended`,
//! `hashtextextended` under the "C" collation), which is lookup3 over the
//! key's bytes as [`pg_hash_bytes`] computes it here; each side counts and sums
//! the hashes of all its keys where it runs, then, where those totals differ,
//! per bucket, and only the keys of buckets that differ are read, sorted and
//! merged. Reading every key in order (the method
//! this replaces when it applies) sent every key over the wire and sorted the
//! table on the server, for a difference that is usually a handful of rows.
//!
//! A wrong hash on either side (another server build, another encoding) makes
//! buckets differ, never agree: it costs reading their keys, not a missed key.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tokio_postgres::Client;

use super::{
    add_hash, as_i64, bucket_count, differing_buckets, each_pg_row, merge_sorted, merged_column,
    pg_bucket_sums, pg_hash_totals, take_hash, totals_agree, BucketSums, KeyColumn, KeyDifference,
    MergedRows, PgKeys, SortedKey, SortedKind, PG_HASH_SUMS,
};
use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;
use crate::verify::checksum::pg_hash_bytes;

/// The form uuid keys are stored in, which must be the same for every key:
/// keys stored in mixed forms are left to the methods that report the ones
/// not stored as the mapping writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UuidForm {
    Blob,
    Text { dashed: bool, upper: bool },
}

/// What the SQLite side knows of its keys: the hash of each is taken over the
/// bytes PostgreSQL hashes (a uuid's 16 bytes, a text's UTF-8).
struct SqliteKeys {
    kind: SortedKind,
    form: Option<UuidForm>,
}

/// One SQLite key as the bytes PostgreSQL hashes. The passes over every key
/// hash them and compare their text without building it; only the keys kept
/// become a [`SortedKey`].
enum KeyBytes<'a> {
    Uuid([u8; 16]),
    Text(&'a str),
}

impl KeyBytes<'_> {
    fn hash(&self) -> i64 {
        as_i64(pg_hash_bytes(match self {
            KeyBytes::Uuid(b) => b,
            KeyBytes::Text(t) => t.as_bytes(),
        }))
    }

    /// Calls `f` with the key's text as PostgreSQL sends it (a uuid as 32
    /// lowercase hex digits).
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            KeyBytes::Text(t) => f(t),
            KeyBytes::Uuid(b) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut hex = [0u8; 32];
                for (pair, byte) in hex.chunks_exact_mut(2).zip(b) {
                    pair[0] = HEX[usize::from(byte >> 4)];
                    pair[1] = HEX[usize::from(byte & 0xf)];
                }
                f(std::str::from_utf8(&hex).unwrap_or_default())
            }
        }
    }

    fn key(&self) -> SortedKey {
        SortedKey::Text(self.with_text(str::to_owned))
    }
}

impl SqliteKeys {
    /// The key's bytes; `None` for a value that is no key PostgreSQL could
    /// have, or a uuid in another form than the keys before it.
    fn read<'a>(&mut self, v: ValueRef<'a>) -> Option<KeyBytes<'a>> {
        match (self.kind, v) {
            (SortedKind::Text, ValueRef::Text(t)) => {
                Some(KeyBytes::Text(std::str::from_utf8(t).ok()?))
            }
            (SortedKind::Uuid, ValueRef::Blob(b)) => {
                let bytes: [u8; 16] = b.try_into().ok()?;
                self.same_form(UuidForm::Blob)?;
                Some(KeyBytes::Uuid(bytes))
            }
            (SortedKind::Uuid, ValueRef::Text(t)) => {
                let (bytes, form) = uuid_text(t)?;
                self.same_form(form)?;
                Some(KeyBytes::Uuid(bytes))
            }
            _ => None,
        }
    }

    fn same_form(&mut self, form: UuidForm) -> Option<()> {
        match self.form {
            None => {
                self.form = Some(form);
                Some(())
            }
            Some(f) if f == form => Some(()),
            Some(_) => None,
        }
    }
}

/// A uuid's bytes from its text: 32 hex digits of one case, dashed in the
/// standard places or not at all.
fn uuid_text(t: &[u8]) -> Option<([u8; 16], UuidForm)> {
    let dashed = match t.len() {
        36 => {
            if [8, 13, 18, 23].iter().any(|&i| t[i] != b'-') {
                return None;
            }
            true
        }
        32 => false,
        _ => return None,
    };
    let digits = t.iter().filter(|&&c| c != b'-');
    let (mut lower, mut upper) = (false, false);
    let mut bytes = [0u8; 16];
    let mut n = 0;
    for c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => {
                lower = true;
                c - b'a' + 10
            }
            b'A'..=b'F' => {
                upper = true;
                c - b'A' + 10
            }
            _ => return None,
        };
        let byte = bytes.get_mut(n / 2)?;
        *byte = (*byte << 4) | d;
        n += 1;
    }
    if n != 32 || (lower && upper) {
        return None;
    }
    Some((bytes, UuidForm::Text { dashed, upper }))
}

/// PostgreSQL's hash of the key column, as [`pg_hash_bytes`] of its bytes.
fn pg_hash(kind: SortedKind, column: &str) -> Option<String> {
    let c = quote_ident(column);
    match kind {
        SortedKind::Uuid => Some(format!("uuid_hash_extended({c}, 0)")),
        SortedKind::Text => Some(format!("hashtextextended({c}::text COLLATE \"C\", 0)")),
        SortedKind::Integer => None,
    }
}

/// The key difference by hashed buckets; `None` when the method does not apply
/// (a key kind without a hash here, a server without the hash functions, SQLite
/// keys that are not all stored in one form of the mapping, or so many
/// differing buckets that reading every key in order costs less).
pub(super) async fn hashed_difference(
    client: &Client,
    plan: &TablePlan,
    key: KeyColumn<'_>,
    conn: &Connection,
    path: &Path,
    what: &str,
) -> Result<Option<KeyDifference>> {
    let Some(hash) = pg_hash(key.kind, key.column) else {
        return Ok(None);
    };
    // A server without these functions (before PostgreSQL 11) would fail the
    // query and, with it, the snapshot's transaction: ask first.
    let has_hash: bool = client
        .query_one(
            "SELECT to_regprocedure('uuid_hash_extended(uuid,int8)') IS NOT NULL \
             AND to_regprocedure('hashtextextended(text,int8)') IS NOT NULL",
            &[],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(Error::pg(what))?;
    if !has_hash {
        return Ok(None);
    }
    let buckets = bucket_count(plan.estimated_rows);
    let mask = i64::try_from(buckets - 1).unwrap_or(i64::MAX);

    let from = plan.copy.from_clause(&ChunkRange::All);
    // Every key is summed, so the server can answer from the key's index
    // alone; the keys the merge reads (found by their condition, through the
    // cursor's index) are then taken out with the server's own hash of each.
    // Leaving them out in SQL instead would make it read every row for the
    // condition. The totals come first: when they agree, as they do for a
    // table without deletes, the sums per bucket (a grouping of every key,
    // twice the cost) are not asked for.
    let mut pg_total = pg_hash_totals(client, &hash, &from, what).await?;
    let mut merged: HashSet<String> = HashSet::new();
    let mut merged_hashes: Vec<i64> = Vec::new();
    if let Some(MergedRows { condition, .. }) = key.merging {
        let sql = format!(
            "SELECT {}, {hash} FROM {from} WHERE {condition}",
            key.pg_select()
        );
        let read = |r: &tokio_postgres::Row| Ok((r.try_get(0)?, r.try_get(1)?));
        each_pg_row(client, &sql, what, read, |(k, h): (String, i64)| {
            take_hash(&mut pg_total, h);
            merged_hashes.push(h);
            merged.insert(k);
        })
        .await?;
    }

    let sqlite_sql = format!(
        "SELECT {}, rowid FROM {}",
        quote(key.column),
        quote(&plan.sink.name)
    );
    let mut stmt = conn
        .prepare(&sqlite_sql)
        .map_err(Error::sqlite(what, path))?;
    let mut keys = SqliteKeys {
        kind: key.kind,
        form: None,
    };
    let mut lite: HashMap<i64, BucketSums> = HashMap::new();
    let mut lite_total: BucketSums = (0, 0, 0);
    {
        let mut rows = stmt.query([]).map_err(Error::sqlite(what, path))?;
        while let Some(r) = rows.next().map_err(Error::sqlite(what, path))? {
            let v = r.get_ref(0).map_err(Error::sqlite(what, path))?;
            let Some(k) = keys.read(v) else {
                return Ok(None);
            };
            if merged.is_empty() || !k.with_text(|t| merged.contains(t)) {
                let h = k.hash();
                add_hash(lite.entry(h & mask).or_insert((0, 0, 0)), h);
                add_hash(&mut lite_total, h);
            }
        }
    }
    if lite_total == pg_total {
        totals_agree(&plan.source_name, merged.len());
        return Ok(Some(KeyDifference::default()));
    }
    let sql = format!(
        "SELECT h & {mask}, {PG_HASH_SUMS} FROM (SELECT {hash} AS h FROM {from}) k GROUP BY 1"
    );
    let mut pg = pg_bucket_sums(client, &sql, what).await?;
    for h in merged_hashes {
        if let Some(sums) = pg.get_mut(&(h & mask)) {
            take_hash(sums, h);
            if *sums == (0, 0, 0) {
                // A bucket left without keys is no bucket, as on a side that
                // never had one.
                pg.remove(&(h & mask));
            }
        }
    }
    let differing = differing_buckets(&pg, &lite);
    tracing::debug!(
        "keys of {}: {} of {buckets} hashed buckets differ ({} keys the merge reads left out)",
        plan.source_name,
        differing.len(),
        merged.len()
    );
    if differing.is_empty() {
        return Ok(Some(KeyDifference::default()));
    }
    if differing.len() as u64 > buckets / 4 {
        return Ok(None);
    }
    let wanted: HashSet<i64> = differing.iter().copied().collect();

    // The keys of the differing buckets, sorted on both sides as PostgreSQL
    // sorts them (byte order), then merged.
    let mut lite_keys: Vec<(SortedKey, i64)> = Vec::new();
    {
        let mut rows = stmt.query([]).map_err(Error::sqlite(what, path))?;
        while let Some(r) = rows.next().map_err(Error::sqlite(what, path))? {
            let v = r.get_ref(0).map_err(Error::sqlite(what, path))?;
            let Some(k) = keys.read(v) else {
                return Ok(None);
            };
            if wanted.contains(&(k.hash() & mask)) {
                lite_keys.push((k.key(), r.get(1).map_err(Error::sqlite(what, path))?));
            }
        }
    }
    lite_keys.sort_unstable();
    // The differing buckets as a bitmap: a test per row that costs the same
    // for one bucket or thousands (`= ANY` of an array compares each).
    let mut bitmap = vec![0u8; usize::try_from(buckets / 8).unwrap_or(0).max(1)];
    for &b in &differing {
        if let Some(byte) = usize::try_from(b / 8).ok().and_then(|i| bitmap.get_mut(i)) {
            *byte |= 1 << (b % 8);
        }
    }
    let pg_sql = format!(
        "SELECT {}, {} FROM {from} WHERE get_bit($1::bytea, ({hash} & {mask})::int) = 1 \
         ORDER BY {}",
        key.pg_select(),
        merged_column(key.merging),
        key.pg_order(),
    );
    let rows = client
        .query_raw(
            &pg_sql,
            [&bitmap as &(dyn tokio_postgres::types::ToSql + Sync)],
        )
        .await
        .map_err(Error::pg(what))?;
    futures_util::pin_mut!(rows);
    let mut lite = lite_keys.into_iter();
    let mut next_lite = || Ok(lite.next());
    let no_set = HashSet::new();
    let pg = PgKeys {
        rows: &mut rows,
        kind: key.kind,
        merged: &no_set,
    };
    merge_sorted(pg, &mut next_lite, key.column, what).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_texts_of_one_form_are_read_and_mixed_forms_end_the_method() {
        let dashed = b"0123abcd-0000-4000-8000-00000000ffff";
        let (bytes, form) = uuid_text(dashed).expect("a dashed uuid");
        assert_eq!(bytes[0], 0x01);
        assert_eq!(bytes[15], 0xff);
        assert_eq!(
            form,
            UuidForm::Text {
                dashed: true,
                upper: false
            }
        );
        assert_eq!(
            uuid_text(b"0123ABCD00004000800000000000FFFF").map(|(b, _)| b),
            Some(bytes)
        );
        for bad in [
            &b"0123abcd-0000-4000-8000-00000000fffg"[..],
            b"0123abcd00004000800000000000ffff0",
            b"0123abcd-0000-4000-8000000000000fff-",
            b"0123ABCD00004000800000000000ffff",
        ] {
            assert_eq!(uuid_text(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let mut keys = SqliteKeys {
            kind: SortedKind::Uuid,
            form: None,
        };
        let k = keys.read(ValueRef::Text(dashed)).expect("the first key");
        assert_eq!(
            k.key(),
            SortedKey::Text("0123abcd00004000800000000000ffff".into())
        );
        assert_eq!(k.hash(), as_i64(pg_hash_bytes(&bytes)));
        // A blob key reads as the same key and hash.
        let blob = SqliteKeys {
            kind: SortedKind::Uuid,
            form: None,
        }
        .read(ValueRef::Blob(&bytes))
        .map(|b| (b.key(), b.hash()));
        assert_eq!(blob, Some((k.key(), k.hash())));
        assert!(keys.read(ValueRef::Blob(&bytes)).is_none(), "another form");
        assert!(keys.read(ValueRef::Text(dashed)).is_some());
    }

    #[test]
    fn keys_hash_as_postgresql_hashes_them() {
        // SELECT uuid_hash_extended('0123abcd-0000-4000-8000-00000000ffff', 0),
        //        hashtextextended('abc', 0)
        let (bytes, _) = uuid_text(b"0123abcd-0000-4000-8000-00000000ffff").expect("a uuid");
        assert_eq!(as_i64(pg_hash_bytes(&bytes)), 1_292_919_930_712_317_194);
        let mut keys = SqliteKeys {
            kind: SortedKind::Text,
            form: None,
        };
        let read = keys.read(ValueRef::Text(b"abc")).map(|k| k.hash());
        assert_eq!(read, Some(-6_747_756_470_228_489_321));
        assert!(keys.read(ValueRef::Integer(7)).is_none());
    }
}
