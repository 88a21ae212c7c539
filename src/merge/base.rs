//! The base of the three-way merge: per synced row, a fingerprint of what the
//! last sync left in SQLite.
//!
//! A two-way comparison (PostgreSQL against SQLite, plus a time) cannot tell "the
//! app changed this row in SQLite" from "the last sync wrote this row": rows a
//! sync copied within its `--lag` window look changed after the cutover, and an
//! edit that leaves the cursor alone is invisible. With the base, each side's
//! change is a fact: a side changed a row when its fingerprint differs from the
//! base's (issue 10).
//!
//! The fingerprint (XXH3-64) is taken over the values as SQLite stores them (after column
//! affinity), so it is cheap to compute from any row read from the file, and a
//! PostgreSQL row is fingerprinted as the merge would store it. Keys are stored
//! as SQLite holds them too: a single integer key as the integer, any other key
//! as an exact byte encoding of its stored values. Cost: about 30 bytes per row
//! in a `WITHOUT ROWID` table (see benches/RESULTS.md).
//!
//! A base is only trusted when it is complete: it is written in full by a full
//! sync and by the first delta into a file without one, and kept up to date by
//! every delta after that. A table's line in `_pg2sqlite_base_tables` names the
//! merged columns the fingerprints cover; a different column list (a changed map,
//! a new column) means no base.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use xxhash_rust::xxh3::xxh3_64;

pub const BASE_TABLE: &str = "_pg2sqlite_base";
pub const BASE_TABLES: &str = "_pg2sqlite_base_tables";

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS _pg2sqlite_base_tables (
    id         INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL UNIQUE,
    columns    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _pg2sqlite_base (
    tid  INTEGER NOT NULL,
    key  BLOB NOT NULL,
    hash INTEGER,
    PRIMARY KEY (tid, key)
) WITHOUT ROWID;";

/// A stored key, as the base keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BaseKey {
    Int(i64),
    Bytes(Vec<u8>),
}

impl ToSql for BaseKey {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            BaseKey::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            BaseKey::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// What the base says about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ancestor {
    /// The table has no base: the since-time rules decide.
    Unknown,
    /// SQLite did not hold the key after the last sync.
    Absent,
    /// The fingerprint of the row the last sync left.
    Row(i64),
}

/// Appends one stored value to a fingerprint or key encoding: a type tag, then
/// the value, lengths written out so that no two value lists share an encoding.
fn encode(out: &mut impl FnMut(&[u8]), v: ValueRef<'_>) {
    match v {
        ValueRef::Null => out(&[0]),
        ValueRef::Integer(i) => {
            out(&[1]);
            out(&i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            out(&[2]);
            out(&f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            out(&[3]);
            out(&u64::try_from(t.len()).unwrap_or(u64::MAX).to_be_bytes());
            out(t);
        }
        ValueRef::Blob(b) => {
            out(&[4]);
            out(&u64::try_from(b.len()).unwrap_or(u64::MAX).to_be_bytes());
            out(b);
        }
    }
}

/// The fingerprint of a row from its stored values: XXH3-64 of their
/// encoding. A full sync fingerprints every row it wrote, so the hash must be
/// fast (md5 cost a second per GB); it only has to tell a changed row from the
/// one the sync wrote, and XXH3 is a fixed, documented algorithm, so a base
/// stays valid across versions of this tool.
pub fn fingerprint<'a>(values: impl IntoIterator<Item = ValueRef<'a>>) -> i64 {
    fingerprint_with(&mut Vec::new(), values)
}

/// [`fingerprint`] encoding into `buf` first: one-shot XXH3 over a buffer is
/// several times faster than feeding the streaming hasher a byte and eight
/// bytes at a time, and gives the same digest.
pub(crate) fn fingerprint_with<'a>(
    buf: &mut Vec<u8>,
    values: impl IntoIterator<Item = ValueRef<'a>>,
) -> i64 {
    buf.clear();
    for v in values {
        encode(&mut |b: &[u8]| buf.extend_from_slice(b), v);
    }
    i64::from_be_bytes(xxh3_64(buf).to_be_bytes())
}

/// The base's key of a row from its stored key values.
pub fn base_key<'a>(values: impl IntoIterator<Item = ValueRef<'a>>) -> BaseKey {
    let mut values = values.into_iter().peekable();
    let first = values.next();
    match (first, values.peek()) {
        (Some(ValueRef::Integer(i)), None) => BaseKey::Int(i),
        (first, _) => {
            let mut out = Vec::new();
            for v in first.into_iter().chain(values) {
                encode(&mut |b: &[u8]| out.extend_from_slice(b), v);
            }
            BaseKey::Bytes(out)
        }
    }
}

/// An empty vector in the allocation of `values`, free of their borrow: a
/// row's values borrow the row, so the vector cannot simply be kept for the
/// next one. (Collecting a vector's own `IntoIter` into the same type reuses
/// its allocation.)
pub(crate) fn recycle_values<'b>(mut values: Vec<ValueRef<'_>>) -> Vec<ValueRef<'b>> {
    values.clear();
    values.into_iter().map(|_| ValueRef::Null).collect()
}

/// A row's entry in the base, from its stored values `value(0..columns)`
/// (every column the base covers, in order): its key (`key` indexes the
/// values) and its fingerprint. The values are asked for where they are, so
/// that a caller reading a row need not collect them first.
pub(crate) fn entry<'a>(
    columns: usize,
    key: &[usize],
    value: impl Fn(usize) -> ValueRef<'a>,
    buf: &mut Vec<u8>,
) -> (BaseKey, i64) {
    (
        base_key(key.iter().map(|&i| value(i))),
        fingerprint_with(buf, (0..columns).map(&value)),
    )
}

pub fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE)
}

fn exists(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 2 FROM sqlite_master WHERE type = 'table' AND name IN (?1, ?2)",
        [BASE_TABLE, BASE_TABLES],
        |r| r.get(0),
    )
}

/// The column list a base of `columns` is recorded under, with the
/// fingerprint's algorithm: a base of another algorithm or other columns is no
/// base.
pub fn signature<'a>(columns: impl IntoIterator<Item = &'a str>) -> String {
    format!(
        "xxh3:{}",
        serde_json::Value::from(columns.into_iter().collect::<Vec<_>>())
    )
}

/// The id of `table`'s base when the file has one for exactly these columns.
pub fn find(conn: &Connection, table: &str, signature: &str) -> rusqlite::Result<Option<i64>> {
    if !exists(conn)? {
        return Ok(None);
    }
    conn.query_row(
        "SELECT id FROM _pg2sqlite_base_tables WHERE table_name = ?1 AND columns = ?2",
        [table, signature],
        |r| r.get(0),
    )
    .optional()
}

/// Starts a new, empty base for `table` (dropping any old one) and returns its id.
pub fn start(conn: &Connection, table: &str, signature: &str) -> rusqlite::Result<i64> {
    create_tables(conn)?;
    if let Some(old) = conn
        .query_row(
            "SELECT id FROM _pg2sqlite_base_tables WHERE table_name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
    {
        conn.execute("DELETE FROM _pg2sqlite_base WHERE tid = ?1", [old])?;
        conn.execute("DELETE FROM _pg2sqlite_base_tables WHERE id = ?1", [old])?;
    }
    conn.execute(
        "INSERT INTO _pg2sqlite_base_tables (table_name, columns) VALUES (?1, ?2)",
        [table, signature],
    )?;
    Ok(conn.last_insert_rowid())
}

/// What the base holds for `key` of base `tid` (`None`: no base for the table).
pub fn lookup(conn: &Connection, tid: Option<i64>, key: &BaseKey) -> rusqlite::Result<Ancestor> {
    let Some(tid) = tid else {
        return Ok(Ancestor::Unknown);
    };
    let hash: Option<Option<i64>> = conn
        .prepare_cached("SELECT hash FROM _pg2sqlite_base WHERE tid = ?1 AND key = ?2")?
        .query_row(params![tid, key], |r| r.get(0))
        .optional()?;
    // A NULL hash is an explicit absence (see `forget`).
    Ok(match hash.flatten() {
        Some(h) => Ancestor::Row(h),
        None => Ancestor::Absent,
    })
}

/// Records that the sync left the row `hash` under `key`.
pub fn store(conn: &Connection, tid: i64, key: &BaseKey, hash: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO _pg2sqlite_base (tid, key, hash) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![tid, key, hash])?;
    Ok(())
}

/// Records that PostgreSQL no longer has `key`. The entry stays, with no
/// fingerprint, so that filling a new base from the file does not bring it back.
pub fn forget(conn: &Connection, tid: i64, key: &BaseKey) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO _pg2sqlite_base (tid, key, hash) VALUES (?1, ?2, NULL)",
    )?
    .execute(params![tid, key])?;
    Ok(())
}

/// Records that neither side has `key` any more.
pub fn remove(conn: &Connection, tid: i64, key: &BaseKey) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM _pg2sqlite_base WHERE tid = ?1 AND key = ?2")?
        .execute(params![tid, key])?;
    Ok(())
}

/// Fills base `tid` with every row of `table` as the file holds it, leaving the
/// entries already there (rows a merge just decided about) as they are. Returns
/// the rows added.
pub fn fill(
    conn: &Connection,
    tid: i64,
    table: &str,
    columns: &[String],
    key: &[usize],
) -> rusqlite::Result<u64> {
    use crate::sink::ddl::quote;
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    if names.len() > MAX_FUNCTION_ARGS {
        return fill_row_by_row(conn, tid, table, &names, key);
    }
    register_functions(conn)?;
    let keys: Vec<&str> = key.iter().map(|&i| names[i].as_str()).collect();
    let added = conn.execute(
        &format!(
            "INSERT OR IGNORE INTO {BASE_TABLE} (tid, key, hash)
             SELECT ?1, pg2sqlite_base_key({}), pg2sqlite_fingerprint({}) FROM {}",
            keys.join(", "),
            names.join(", "),
            quote(table)
        ),
        [tid],
    )?;
    Ok(u64::try_from(added).unwrap_or(0))
}

/// The most arguments an SQL function takes in the bundled SQLite.
const MAX_FUNCTION_ARGS: usize = 1000;

/// [`base_key`] and [`fingerprint`] as SQL functions, so that a fill is one
/// `INSERT … SELECT` SQLite runs without a statement per row: 0.6 s instead of
/// 2 s for the base of a 1M-row, 15-column table.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    let buf = std::cell::RefCell::new(Vec::new());
    conn.create_scalar_function("pg2sqlite_fingerprint", -1, flags, move |ctx| {
        let values = (0..ctx.len()).map(|i| ctx.get_raw(i));
        Ok(match buf.try_borrow_mut() {
            Ok(mut buf) => fingerprint_with(&mut buf, values),
            Err(_) => fingerprint(values),
        })
    })?;
    conn.create_scalar_function("pg2sqlite_base_key", -1, flags, |ctx| {
        Ok(base_key((0..ctx.len()).map(|i| ctx.get_raw(i))))
    })
}

/// [`fill`] for a table wider than an SQL function's arguments.
fn fill_row_by_row(
    conn: &Connection,
    tid: i64,
    table: &str,
    names: &[String],
    key: &[usize],
) -> rusqlite::Result<u64> {
    use crate::sink::ddl::quote;
    let mut select = conn.prepare(&format!(
        "SELECT {} FROM {}",
        names.join(", "),
        quote(table)
    ))?;
    let mut insert =
        conn.prepare("INSERT OR IGNORE INTO _pg2sqlite_base (tid, key, hash) VALUES (?1, ?2, ?3)")?;
    let n = names.len();
    let mut rows = select.query([])?;
    let mut added = 0u64;
    let mut buf = Vec::new();
    let mut spare: Vec<ValueRef<'static>> = Vec::with_capacity(n);
    while let Some(r) = rows.next()? {
        let mut values = recycle_values(std::mem::take(&mut spare));
        for i in 0..n {
            values.push(r.get_ref(i)?);
        }
        let (k, hash) = entry(n, key, |i| values[i], &mut buf);
        spare = recycle_values(values);
        added += u64::try_from(insert.execute(params![tid, k, hash])?).unwrap_or(0);
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_vector_keeps_its_allocation() {
        let text = String::from("borrowed");
        let mut values = Vec::with_capacity(16);
        values.push(ValueRef::Text(text.as_bytes()));
        let at = values.as_ptr().cast::<()>();
        let recycled: Vec<ValueRef<'static>> = recycle_values(values);
        assert!(recycled.is_empty());
        assert_eq!(recycled.as_ptr().cast::<()>(), at);
        assert!(recycled.capacity() >= 16);
    }

    #[test]
    fn fingerprints_tell_stored_types_and_boundaries_apart() {
        let f = |v: &[ValueRef<'_>]| fingerprint(v.iter().copied());
        assert_ne!(
            f(&[ValueRef::Integer(1)]),
            f(&[ValueRef::Real(1.0)]),
            "1 and 1.0"
        );
        assert_ne!(f(&[ValueRef::Text(b"1")]), f(&[ValueRef::Integer(1)]));
        assert_ne!(f(&[ValueRef::Text(b"")]), f(&[ValueRef::Null]));
        assert_ne!(f(&[ValueRef::Text(b"")]), f(&[ValueRef::Blob(b"")]));
        assert_ne!(
            f(&[ValueRef::Text(b"ab"), ValueRef::Text(b"c")]),
            f(&[ValueRef::Text(b"a"), ValueRef::Text(b"bc")])
        );
        assert_eq!(
            f(&[ValueRef::Text(b"x"), ValueRef::Null]),
            f(&[ValueRef::Text(b"x"), ValueRef::Null])
        );
    }

    #[test]
    fn single_integer_keys_are_kept_as_integers() {
        assert_eq!(base_key([ValueRef::Integer(7)]), BaseKey::Int(7));
        assert!(matches!(
            base_key([ValueRef::Integer(7), ValueRef::Integer(8)]),
            BaseKey::Bytes(_)
        ));
        assert_ne!(
            base_key([ValueRef::Text(b"7")]),
            base_key([ValueRef::Integer(7)])
        );
    }

    #[test]
    fn a_base_round_trips_and_absences_survive_a_fill() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )?;
        let sig = signature(["id", "v"]);
        assert_eq!(find(&conn, "t", &sig)?, None);
        let tid = start(&conn, "t", &sig)?;
        let gone = BaseKey::Int(3);
        forget(&conn, tid, &gone)?;
        store(&conn, tid, &BaseKey::Int(2), 42)?;
        let cols = ["id".to_owned(), "v".to_owned()];
        assert_eq!(fill(&conn, tid, "t", &cols, &[0])?, 1);
        assert_eq!(find(&conn, "t", &sig)?, Some(tid));
        assert_eq!(find(&conn, "t", &signature(["id"]))?, None);
        let a = fingerprint([ValueRef::Integer(1), ValueRef::Text(b"a")]);
        assert_eq!(
            lookup(&conn, Some(tid), &BaseKey::Int(1))?,
            Ancestor::Row(a)
        );
        assert_eq!(
            lookup(&conn, Some(tid), &BaseKey::Int(2))?,
            Ancestor::Row(42)
        );
        assert_eq!(lookup(&conn, Some(tid), &gone)?, Ancestor::Absent);
        assert_eq!(
            lookup(&conn, Some(tid), &BaseKey::Int(9))?,
            Ancestor::Absent
        );
        assert_eq!(lookup(&conn, None, &gone)?, Ancestor::Unknown);
        // A new base replaces the old one.
        let again = start(&conn, "t", &sig)?;
        assert_eq!(
            lookup(&conn, Some(again), &BaseKey::Int(1))?,
            Ancestor::Absent
        );
        Ok(())
    }

    #[test]
    fn sqlite_computes_the_same_base_as_the_row_by_row_fill() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE t (a TEXT, b INTEGER, v REAL, w BLOB, PRIMARY KEY (a, b));
             INSERT INTO t VALUES ('x', 1, 1.5, x'00ff'), ('x', 2, NULL, NULL),
                                  ('y', 1, -0.0, x''), ('', 0, 3, 'text');",
        )?;
        let cols: Vec<String> = ["a", "b", "v", "w"].map(str::to_owned).into();
        let by_sql = start(&conn, "t", "sql")?;
        assert_eq!(fill(&conn, by_sql, "t", &cols, &[0, 1])?, 4);
        let names: Vec<String> = cols.iter().map(|c| crate::sink::ddl::quote(c)).collect();
        let by_rows = start(&conn, "t2", "rows")?;
        assert_eq!(fill_row_by_row(&conn, by_rows, "t", &names, &[0, 1])?, 4);
        let base = |tid: i64| -> rusqlite::Result<Vec<(Vec<u8>, i64)>> {
            conn.prepare("SELECT key, hash FROM _pg2sqlite_base WHERE tid = ?1 ORDER BY key")?
                .query_map([tid], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        };
        let expected = base(by_rows)?;
        assert_eq!(base(by_sql)?, expected);
        // And both are the fingerprint of the row as read back.
        let (a, b, v, w): (String, i64, f64, Vec<u8>) = conn.query_row(
            "SELECT a, b, v, w FROM t WHERE a = 'x' AND b = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let key = base_key([ValueRef::Text(a.as_bytes()), ValueRef::Integer(b)]);
        let hash = fingerprint([
            ValueRef::Text(a.as_bytes()),
            ValueRef::Integer(b),
            ValueRef::Real(v),
            ValueRef::Blob(&w),
        ]);
        assert_eq!(lookup(&conn, Some(by_sql), &key)?, Ancestor::Row(hash));
        Ok(())
    }
}
