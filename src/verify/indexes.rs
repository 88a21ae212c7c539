//! Every index entry against its row, without looking each one up.
//!
//! `PRAGMA integrity_check` is `quick_check` plus two checks: that each index
//! holds exactly its table's entries, and that a UNIQUE index holds no value
//! twice. It does the first by looking every row up in every index, in random
//! order: 47 of `verify`'s 84 s on the 10M-row wide benchmark table, 1.5 s on
//! the 1M-row one. Here each side is read once in its own order — the table for
//! the indexed columns and the rowid, each index by a covering scan — and the
//! two are compared by count and sum of a 64-bit hash of each entry (a
//! difference escapes with probability 2^-64); a value held twice is found
//! between neighbours of the unique index's scan.
//!
//! `verify` reads every synced table back anyway: its read-back sums the
//! entries the table's indexes should hold from the rows it reads
//! ([`EntryPositions`]), and only the indexes are scanned here. A table whose
//! sums differ is read once more on its own before anything is reported, so a
//! problem named is always the table against its indexes.
//!
//! Indexes read otherwise than their table (on expressions, partial, of
//! `WITHOUT ROWID` tables, unique under a collation other than BINARY, or of a
//! table with a column named like the rowid) are left to SQLite's own
//! `PRAGMA integrity_check(table)`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::merge::base::fingerprint_with;
use crate::sink::ddl::quote;
use crate::sink::health::integrity_problems;

/// An index compared by sums: its key columns (positions in the table
/// scan's select list) and whether it is unique.
struct Summed {
    name: String,
    columns: Vec<usize>,
    unique: bool,
}

/// What a table's indexes need.
#[derive(Default)]
struct TableIndexes {
    summed: Vec<Summed>,
    /// The columns the table scan reads, in select-list order.
    columns: Vec<String>,
    /// SQLite checks the table's indexes itself.
    by_sqlite: bool,
}

/// The file's indexes as the check compares them, planned once before
/// anything reads the rows, so that verification's read-back can sum a
/// table's expected entries from the rows it reads anyway.
pub(super) struct IndexPlan {
    tables: Vec<(String, TableIndexes)>,
}

/// Plans the check of every index of the file.
pub(super) fn plan_indexes(conn: &Connection, path: &Path) -> Result<IndexPlan> {
    let fail = |what: &str| Error::sqlite(format!("checking indexes ({what})"), path);
    let mut planned = Vec::new();
    for (table, without_rowid) in tables(conn).map_err(fail("listing tables"))? {
        let plan = plan_table(conn, &table, without_rowid).map_err(fail(&table))?;
        planned.push((table, plan));
    }
    Ok(IndexPlan { tables: planned })
}

impl IndexPlan {
    fn table(&self, name: &str) -> Option<&TableIndexes> {
        self.tables.iter().find(|(t, _)| t == name).map(|(_, p)| p)
    }

    /// Where a read-back of `table` that selects `columns` and then the rowid
    /// finds each compared index's entry; `None` when no index of the table is
    /// compared by sums, or one of their columns is not among `columns`.
    pub(super) fn entries(&self, table: &str, columns: &[&str]) -> Option<EntryPositions> {
        let plan = self
            .table(table)
            .filter(|p| !p.by_sqlite && !p.summed.is_empty())?;
        let at: Vec<usize> = plan
            .columns
            .iter()
            .map(|c| columns.iter().position(|have| have.eq_ignore_ascii_case(c)))
            .collect::<Option<_>>()?;
        let rowid = columns.len();
        Some(EntryPositions(
            plan.summed
                .iter()
                .map(|index| {
                    let mut entry: Vec<usize> = index.columns.iter().map(|&i| at[i]).collect();
                    entry.push(rowid);
                    entry
                })
                .collect(),
        ))
    }
}

/// Per compared index of a table, the positions of its entry's values (key
/// columns, then the rowid) in a row read back.
#[derive(Debug, Clone)]
pub(super) struct EntryPositions(Vec<Vec<usize>>);

impl EntryPositions {
    /// Empty sums, one per index.
    pub(super) fn empty(&self) -> Vec<Sums> {
        vec![Sums::default(); self.0.len()]
    }

    /// Adds one row's entries; `value(i)` is the row's value at position `i`.
    pub(super) fn add<'a>(
        &self,
        sums: &mut [Sums],
        buf: &mut Vec<u8>,
        value: impl Fn(usize) -> ValueRef<'a>,
    ) {
        for (sums, entry) in sums.iter_mut().zip(&self.0) {
            sums.add(buf, entry.iter().map(|&i| value(i)));
        }
    }

    /// The highest position a row must have.
    pub(super) fn width(&self) -> usize {
        self.0.iter().flatten().max().map_or(0, |m| m + 1)
    }
}

/// The index scans of a table whose expected entries the read-back sums:
/// compared by [`Unsettled::settle`] once both are in.
pub(super) struct ScannedIndexes {
    table: String,
    found: Vec<Sums>,
}

/// The problems `PRAGMA integrity_check` would add to `quick_check`'s on this
/// file, in words of their own; for the tables in `read_back` only the indexes
/// are read here, and their comparison is left to [`Unsettled::settle`].
pub(super) fn index_problems(
    conn: &Connection,
    path: &Path,
    planned: &IndexPlan,
    read_back: &HashSet<String>,
) -> Result<(Vec<String>, Vec<ScannedIndexes>)> {
    let fail = |what: &str| Error::sqlite(format!("checking indexes ({what})"), path);
    let mut problems = Vec::new();
    let mut scanned = Vec::new();
    for (table, plan) in &planned.tables {
        if plan.by_sqlite {
            let pragma = format!("PRAGMA integrity_check({})", quote(table));
            problems.extend(integrity_problems(conn, &pragma, path)?);
            continue;
        }
        if plan.summed.is_empty() {
            continue;
        }
        if read_back.contains(table) {
            let (found, twice) = scan_indexes(conn, table, plan).map_err(fail(table))?;
            problems.extend(twice);
            scanned.push(ScannedIndexes {
                table: table.clone(),
                found,
            });
            continue;
        }
        let expected = scan_table(conn, table, plan).map_err(fail(table))?;
        let (found, twice) = scan_indexes(conn, table, plan).map_err(fail(table))?;
        problems.extend(differences(table, plan, &found, &expected));
        problems.extend(twice);
    }
    Ok((problems, scanned))
}

/// The index scans of the tables whose expected entries the read-back sums,
/// with the plan they were read by: what is left of the check until the
/// read-back's sums are in.
pub(super) struct Unsettled {
    pub(super) planned: IndexPlan,
    pub(super) scanned: Vec<ScannedIndexes>,
}

impl Unsettled {
    /// Compares the index scans with the read-back's sums (`expected`, by
    /// table). A table whose sums differ is read again here, on its own, so
    /// that what is reported is the table against its indexes, whatever the
    /// read-back saw.
    pub(super) fn settle(
        self,
        path: &Path,
        expected: &HashMap<String, Vec<Sums>>,
    ) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut conn = None;
        for ScannedIndexes { table, found } in self.scanned {
            if expected.get(&table) == Some(&found) {
                continue;
            }
            let Some(plan) = self.planned.table(&table) else {
                continue;
            };
            let conn = match &mut conn {
                Some(conn) => conn,
                None => conn.insert(super::open_sqlite(path)?),
            };
            let from_table = scan_table(conn, &table, plan)
                .map_err(Error::sqlite(format!("checking indexes ({table})"), path))?;
            problems.extend(differences(&table, plan, &found, &from_table));
        }
        Ok(problems)
    }
}

/// The ordinary tables of the file, and whether each is `WITHOUT ROWID`.
fn tables(conn: &Connection) -> rusqlite::Result<Vec<(String, bool)>> {
    let mut stmt = conn.prepare(
        "SELECT name, wr FROM pragma_table_list
          WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?;
    rows.collect()
}

fn plan_table(
    conn: &Connection,
    table: &str,
    without_rowid: bool,
) -> rusqlite::Result<TableIndexes> {
    let mut plan = TableIndexes::default();
    let mut indexes = Vec::new();
    {
        let mut stmt =
            conn.prepare("SELECT name, \"unique\", partial FROM pragma_index_list(?1)")?;
        let mut rows = stmt.query([table])?;
        while let Some(r) = rows.next()? {
            indexes.push((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? != 0,
                r.get::<_, i64>(2)? != 0,
            ));
        }
    }
    if indexes.is_empty() {
        return Ok(plan);
    }
    let shadows_rowid = conn
        .prepare(
            "SELECT 1 FROM pragma_table_info(?1) WHERE lower(name) IN ('rowid', '_rowid_', 'oid')",
        )?
        .exists([table])?;
    if without_rowid || shadows_rowid || indexes.iter().any(|(_, _, partial)| *partial) {
        plan.by_sqlite = true;
        return Ok(plan);
    }
    let mut key_stmt = conn.prepare(
        "SELECT cid, name, coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
    )?;
    for (name, unique, _) in indexes {
        let mut columns = Vec::new();
        let mut rows = key_stmt.query([&name])?;
        while let Some(r) = rows.next()? {
            let cid: i64 = r.get(0)?;
            let column: Option<String> = r.get(1)?;
            let collation: Option<String> = r.get(2)?;
            let plain =
                cid >= 0 && (!unique || collation.is_none_or(|c| c.eq_ignore_ascii_case("BINARY")));
            match column.filter(|_| plain) {
                Some(column) => columns.push(column),
                None => {
                    plan.by_sqlite = true;
                    return Ok(plan);
                }
            }
        }
        let columns = columns
            .into_iter()
            .map(|c| match plan.columns.iter().position(|have| *have == c) {
                Some(i) => i,
                None => {
                    plan.columns.push(c);
                    plan.columns.len() - 1
                }
            })
            .collect();
        plan.summed.push(Summed {
            name,
            columns,
            unique,
        });
    }
    Ok(plan)
}

/// Count and hash sum of entries (indexed values, then the rowid).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sums {
    count: u64,
    sum: u64,
}

impl Sums {
    /// Adds another part's entries.
    pub(super) fn merge(&mut self, other: &Sums) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// Adds one entry; `buf` is reused between entries.
    fn add<'a>(&mut self, buf: &mut Vec<u8>, entry: impl Iterator<Item = ValueRef<'a>>) {
        let hash = fingerprint_with(buf, entry);
        self.count += 1;
        self.sum = self
            .sum
            .wrapping_add(u64::from_ne_bytes(hash.to_ne_bytes()));
    }
}

/// The entries each compared index should hold, from one scan of the table.
fn scan_table(conn: &Connection, table: &str, plan: &TableIndexes) -> rusqlite::Result<Vec<Sums>> {
    let select: Vec<String> = plan.columns.iter().map(|c| quote(c)).collect();
    let rowid = plan.columns.len();
    let mut from_table = vec![Sums::default(); plan.summed.len()];
    let mut buf = Vec::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, rowid FROM {} NOT INDEXED",
        select.join(", "),
        quote(table)
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        for (sums, index) in from_table.iter_mut().zip(&plan.summed) {
            let entry = index
                .columns
                .iter()
                .chain(std::iter::once(&rowid))
                .map(|&i| r.get_ref(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            sums.add(&mut buf, entry.into_iter());
        }
    }
    Ok(from_table)
}

/// The entries each compared index holds, by a covering scan of each, and the
/// problems of unique indexes holding a value twice.
fn scan_indexes(
    conn: &Connection,
    table: &str,
    plan: &TableIndexes,
) -> rusqlite::Result<(Vec<Sums>, Vec<String>)> {
    let mut buf = Vec::new();
    let mut found_all = Vec::with_capacity(plan.summed.len());
    let mut problems = Vec::new();
    for index in &plan.summed {
        let names: Vec<String> = index
            .columns
            .iter()
            .map(|&i| quote(&plan.columns[i]))
            .collect();
        let mut stmt = conn.prepare(&format!(
            "SELECT {}, rowid FROM {} INDEXED BY {}",
            names.join(", "),
            quote(table),
            quote(&index.name)
        ))?;
        let width = names.len();
        let mut rows = stmt.query([])?;
        let mut found = Sums::default();
        let mut previous: Option<Vec<Stored>> = None;
        let mut twice = 0u64;
        while let Some(r) = rows.next()? {
            let entry = (0..=width)
                .map(|i| r.get_ref(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if index.unique {
                let key = &entry[..width];
                if previous.as_deref().is_some_and(|p| same_unique_key(p, key)) {
                    twice += 1;
                }
                previous = Some(key.iter().map(Stored::from).collect());
            }
            found.add(&mut buf, entry.into_iter());
        }
        if twice > 0 {
            problems.push(format!(
                "unique index {} of {table} holds {twice} value(s) more than once",
                index.name
            ));
        }
        found_all.push(found);
    }
    Ok((found_all, problems))
}

/// The indexes whose entries are not their table's.
fn differences(table: &str, plan: &TableIndexes, found: &[Sums], expected: &[Sums]) -> Vec<String> {
    plan.summed
        .iter()
        .zip(found.iter().zip(expected))
        .filter(|(_, (found, expected))| found != expected)
        .map(|(index, (found, expected))| {
            format!(
                "index {} of {table} does not hold its table's rows: {} entries for {} rows{}",
                index.name,
                found.count,
                expected.count,
                if found.count == expected.count {
                    ", with other values"
                } else {
                    ""
                }
            )
        })
        .collect()
}

/// An index value kept from the previous entry.
#[derive(Debug)]
enum Stored {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl From<&ValueRef<'_>> for Stored {
    fn from(v: &ValueRef<'_>) -> Stored {
        match *v {
            ValueRef::Null => Stored::Null,
            ValueRef::Integer(i) => Stored::Integer(i),
            ValueRef::Real(f) => Stored::Real(f),
            ValueRef::Text(t) => Stored::Text(t.to_vec()),
            ValueRef::Blob(b) => Stored::Blob(b.to_vec()),
        }
    }
}

/// Whether two neighbouring entries of a unique index break it: every value
/// non-NULL, and each equal as SQLite compares under BINARY (an integer equals
/// a real of the same value).
fn same_unique_key(a: &[Stored], b: &[ValueRef<'_>]) -> bool {
    a.iter().zip(b).all(|(x, y)| match (x, y) {
        (Stored::Integer(x), ValueRef::Integer(y)) => x == y,
        (Stored::Real(x), ValueRef::Real(y)) => x == y,
        (Stored::Integer(i), ValueRef::Real(f)) | (Stored::Real(f), ValueRef::Integer(i)) => {
            int_equals_real(*i, *f)
        }
        (Stored::Text(x), ValueRef::Text(y)) | (Stored::Blob(x), ValueRef::Blob(y)) => {
            x.as_slice() == *y
        }
        (Stored::Null, _) | (_, _) => false,
    })
}

/// An integer and a double hold the same number.
fn int_equals_real(i: i64, f: f64) -> bool {
    // Exact both ways: the double is integral, within i64's range, and
    // converts back to the integer.
    const RANGE: std::ops::Range<f64> = -9.223_372_036_854_776e18..9.223_372_036_854_776e18;
    #[allow(clippy::cast_possible_truncation)]
    let back = f as i64;
    f.fract() == 0.0 && RANGE.contains(&f) && back == i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch(sql))
            .expect("schema");
        (dir, path)
    }

    /// Rewrites index t_a's definition without touching its entries.
    fn redefine_t_a(path: &Path, sql: &str) {
        Connection::open(path)
            .and_then(|c| {
                c.execute_batch("PRAGMA writable_schema = ON")?;
                c.execute(
                    "UPDATE sqlite_schema SET sql = ?1 WHERE name = 't_a'",
                    [sql],
                )?;
                c.execute_batch("PRAGMA writable_schema = OFF")
            })
            .expect("redefine");
    }

    fn problems(path: &Path) -> Vec<String> {
        let conn = Connection::open(path).expect("open");
        let planned = plan_indexes(&conn, path).expect("planned");
        let (problems, scanned) =
            index_problems(&conn, path, &planned, &HashSet::new()).expect("checked");
        assert!(scanned.is_empty());
        problems
    }

    const SCHEMA: &str = "
        CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INT, c REAL);
        CREATE INDEX t_a ON t (a);
        CREATE UNIQUE INDEX t_b ON t (b, c DESC);
        WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 500)
        INSERT INTO t (a, b, c) SELECT 'v' || (value % 7), value, value / 3.0 FROM n;";

    #[test]
    fn a_sound_file_has_no_problems_and_is_read_by_covering_scans() {
        let (_dir, path) = file(SCHEMA);
        assert_eq!(problems(&path), Vec::<String>::new());
        let conn = Connection::open(&path).expect("open");
        let mut stmt = conn
            .prepare("EXPLAIN QUERY PLAN SELECT a, rowid FROM t INDEXED BY t_a")
            .expect("explain");
        let plan: Vec<String> = stmt
            .query_map([], |r| r.get(3))
            .and_then(|rows| rows.collect())
            .expect("plan");
        let plan = plan.join("; ");
        assert!(plan.contains("COVERING INDEX t_a"), "{plan}");
    }

    /// The index's definition made to name another column: its entries no
    /// longer match the rows, which quick_check does not see.
    #[test]
    fn an_index_that_does_not_match_its_table_is_found() {
        let (_dir, path) = file(SCHEMA);
        redefine_t_a(&path, "CREATE INDEX t_a ON t (b)");
        let conn = Connection::open(&path).expect("open");
        let sqlite = integrity_problems(&conn, "PRAGMA integrity_check", &path).expect("pragma");
        assert!(!sqlite.is_empty(), "SQLite sees it too");
        let found = problems(&path);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("index t_a of t"), "{found:?}");
    }

    #[test]
    fn a_unique_index_holding_a_value_twice_is_found() {
        let (_dir, path) = file(SCHEMA);
        redefine_t_a(&path, "CREATE UNIQUE INDEX t_a ON t (a)");
        let found = problems(&path);
        assert!(
            found
                .iter()
                .any(|p| p.contains("unique index t_a") && p.contains("493")),
            "{found:?}"
        );
    }

    /// The entries the read-back sums from the rows it reads.
    fn read_back_sums(path: &Path, rows: &str) -> HashMap<String, Vec<Sums>> {
        let conn = Connection::open(path).expect("open");
        let planned = plan_indexes(&conn, path).expect("planned");
        let columns = ["id", "a", "b", "c"];
        let positions = planned.entries("t", &columns).expect("t is summed");
        let mut sums = positions.empty();
        let mut buf = Vec::new();
        let mut stmt = conn
            .prepare(&format!("SELECT id, a, b, c, rowid FROM t {rows}"))
            .expect("select");
        let mut rows = stmt.query([]).expect("rows");
        while let Some(r) = rows.next().expect("row") {
            positions.add(&mut sums, &mut buf, |i| r.get_ref_unwrap(i));
        }
        HashMap::from([("t".to_owned(), sums)])
    }

    fn settled(path: &Path, expected: &HashMap<String, Vec<Sums>>) -> Vec<String> {
        let conn = Connection::open(path).expect("open");
        let planned = plan_indexes(&conn, path).expect("planned");
        let read_back = HashSet::from(["t".to_owned()]);
        let (mut problems, scanned) =
            index_problems(&conn, path, &planned, &read_back).expect("checked");
        assert_eq!(scanned.len(), 1, "t's indexes are only scanned");
        let left = Unsettled { planned, scanned };
        problems.extend(left.settle(path, expected).expect("settled"));
        problems
    }

    #[test]
    fn the_read_backs_sums_stand_in_for_the_table_scan() {
        let (_dir, path) = file(SCHEMA);
        let conn = Connection::open(&path).expect("open");
        let planned = plan_indexes(&conn, &path).expect("planned");
        let from_table = scan_table(&conn, "t", planned.table("t").expect("t")).expect("scan");
        let read_back = read_back_sums(&path, "");
        assert_eq!(read_back["t"], from_table);
        assert_eq!(settled(&path, &read_back), Vec::<String>::new());
        // A read-back that missed rows does not make a sound index look
        // damaged: the table is read again before anything is said.
        assert_eq!(
            settled(&path, &read_back_sums(&path, "WHERE id > 250")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_damaged_index_is_found_against_the_read_backs_sums() {
        let (_dir, path) = file(SCHEMA);
        redefine_t_a(&path, "CREATE INDEX t_a ON t (b)");
        let found = settled(&path, &read_back_sums(&path, ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("index t_a of t"), "{found:?}");
    }

    #[test]
    fn partial_and_expression_indexes_are_left_to_sqlite() {
        let (_dir, path) = file(
            "CREATE TABLE p (id INTEGER PRIMARY KEY, a TEXT);
             CREATE INDEX p_lower ON p (lower(a));
             INSERT INTO p (a) VALUES ('X'), ('y');",
        );
        let conn = Connection::open(&path).expect("open");
        let plan = plan_table(&conn, "p", false).expect("plan");
        assert!(plan.by_sqlite);
        let planned = plan_indexes(&conn, &path).expect("planned");
        assert!(planned.entries("p", &["id", "a"]).is_none());
        assert_eq!(problems(&path), Vec::<String>::new());
    }

    #[test]
    fn integers_equal_reals_of_the_same_value() {
        assert!(int_equals_real(3, 3.0));
        assert!(!int_equals_real(3, 3.5));
        assert!(!int_equals_real(i64::MAX, 9.223_372_036_854_776e18));
        assert!(same_unique_key(
            &[Stored::Integer(1), Stored::Text(b"a".to_vec())],
            &[ValueRef::Real(1.0), ValueRef::Text(b"a")]
        ));
        assert!(!same_unique_key(&[Stored::Null], &[ValueRef::Null]));
        assert!(!same_unique_key(
            &[Stored::Text(b"a".to_vec())],
            &[ValueRef::Blob(b"a")]
        ));
    }
}
