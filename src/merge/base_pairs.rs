//! The base of a full sync, fingerprinted where the copy's rows are read back
//! anyway.
//!
//! A full sync records the base of the next delta's three-way merge: a key and
//! a fingerprint of every row it wrote ([`super::base`]). Filling it with one
//! `INSERT … SELECT` over the finished file read every row a second time, on
//! one thread, after verification had just read them all on two: 0.8–1.1 s of
//! the 1M-row wide table's sync with the other CPU idle. Instead,
//! verification's read-back (or, without verification, a read-back of its own,
//! one thread per part) fingerprints each row it reads and appends the pair to
//! a side file per part; recording the base then loads those files in key
//! order. The fingerprints are taken from the values SQLite returns, as the
//! fill takes them, so the base is the same.
//!
//! A side file is a plain sequence of pairs beside the staging file (`…-base-N`),
//! removed when its [`PairFile`] is dropped; one a killed run left behind goes
//! with the stale staging file (`sink::staging`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use super::base::{entry, BaseKey, BASE_TABLE};
use crate::error::{Error, Result};

/// Pairs per INSERT when loading (3 parameters each).
const PAIRS_PER_INSERT: usize = 128;

const INT_KEY: u8 = 0;
const BYTES_KEY: u8 = 1;

/// What to fingerprint in one table's rows as they are read back: the key
/// columns (the merge key, as indices into the selected columns).
#[derive(Debug, Clone)]
pub struct PairSpec {
    pub key: Vec<usize>,
}

/// Appends the pairs of one part's rows to its side file.
pub struct PairWriter {
    out: BufWriter<File>,
    file: PairFile,
    key: Vec<usize>,
    buf: Vec<u8>,
}

impl PairWriter {
    pub fn create(path: PathBuf, spec: &PairSpec) -> Result<PairWriter> {
        let file = File::create(&path).map_err(Error::io(&path))?;
        Ok(PairWriter {
            out: BufWriter::with_capacity(1 << 16, file),
            file: PairFile { path, pairs: 0 },
            key: spec.key.clone(),
            buf: Vec::new(),
        })
    }

    /// Fingerprints a row from its values `value(0..columns)` (every column
    /// the base covers, in order) and appends its pair.
    pub fn add<'v>(&mut self, columns: usize, value: impl Fn(usize) -> ValueRef<'v>) -> Result<()> {
        if self.key.iter().any(|&k| k >= columns) {
            return Err(Error::Aborted(format!(
                "fingerprinting a row of {columns} values by key {:?}",
                self.key
            )));
        }
        let (key, hash) = entry(columns, &self.key, value, &mut self.buf);
        self.push(&key, hash)
    }

    fn push(&mut self, key: &BaseKey, hash: i64) -> Result<()> {
        self.write(key, hash).map_err(Error::io(&self.file.path))?;
        self.file.pairs += 1;
        Ok(())
    }

    fn write(&mut self, key: &BaseKey, hash: i64) -> std::io::Result<()> {
        match key {
            BaseKey::Int(i) => {
                self.out.write_all(&[INT_KEY])?;
                self.out.write_all(&i.to_le_bytes())?;
            }
            BaseKey::Bytes(b) => {
                let len = u32::try_from(b.len()).map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "a key over 4 GiB")
                })?;
                self.out.write_all(&[BYTES_KEY])?;
                self.out.write_all(&len.to_le_bytes())?;
                self.out.write_all(b)?;
            }
        }
        self.out.write_all(&hash.to_le_bytes())
    }

    /// The finished side file.
    pub fn finish(mut self) -> Result<PairFile> {
        self.out.flush().map_err(Error::io(&self.file.path))?;
        Ok(self.file)
    }
}

/// A finished side file of pairs; removed when dropped.
#[derive(Debug)]
pub struct PairFile {
    path: PathBuf,
    pairs: u64,
}

impl PairFile {
    /// How many rows the file holds a pair of.
    pub fn pairs(&self) -> u64 {
        self.pairs
    }
}

impl Drop for PairFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The side file of part `part` of a sync staged at `staging`; the staging
/// file's cleanup removes it with its other side files.
pub fn side_path(staging: &Path, part: usize) -> PathBuf {
    crate::sink::staging::sidecar(staging, &format!("-base-{part}"))
}

/// Loads the pairs of `files` (one table's parts, in key order) into base
/// `tid`, leaving entries already there as they are. Returns the pairs added.
pub fn load(conn: &Connection, tid: i64, files: &[PairFile]) -> Result<u64> {
    let mut added = 0u64;
    for file in files {
        added += load_file(conn, tid, file)?;
    }
    Ok(added)
}

fn load_file(conn: &Connection, tid: i64, file: &PairFile) -> Result<u64> {
    let path = &file.path;
    let sqlite = |e| Error::sqlite("recording the base", path)(e);
    let mut input = BufReader::with_capacity(1 << 16, File::open(path).map_err(Error::io(path))?);
    let insert_sql = |n: usize| {
        format!(
            "INSERT OR IGNORE INTO {BASE_TABLE} (tid, key, hash) VALUES {}",
            vec!["(?,?,?)"; n].join(",")
        )
    };
    let mut many = conn
        .prepare_cached(&insert_sql(PAIRS_PER_INSERT))
        .map_err(sqlite)?;
    let mut pending: Vec<(BaseKey, i64)> = Vec::with_capacity(PAIRS_PER_INSERT);
    let mut added = 0u64;
    let mut read = 0u64;
    while let Some(pair) = read_pair(&mut input).map_err(Error::io(path))? {
        read += 1;
        pending.push(pair);
        if pending.len() == PAIRS_PER_INSERT {
            added += insert(&mut many, tid, &pending).map_err(sqlite)?;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        let mut rest = conn
            .prepare_cached(&insert_sql(pending.len()))
            .map_err(sqlite)?;
        added += insert(&mut rest, tid, &pending).map_err(sqlite)?;
    }
    if read != file.pairs {
        return Err(Error::Aborted(format!(
            "the side file {} holds {read} of the {} fingerprints written to it",
            path.display(),
            file.pairs
        )));
    }
    Ok(added)
}

fn insert(
    stmt: &mut rusqlite::CachedStatement<'_>,
    tid: i64,
    pairs: &[(BaseKey, i64)],
) -> rusqlite::Result<u64> {
    for (i, (key, hash)) in pairs.iter().enumerate() {
        let first = i * 3 + 1;
        stmt.raw_bind_parameter(first, tid)?;
        stmt.raw_bind_parameter(first + 1, key)?;
        stmt.raw_bind_parameter(first + 2, ToSqlOutput::Borrowed(ValueRef::Integer(*hash)))?;
    }
    Ok(u64::try_from(stmt.raw_execute()?).unwrap_or(0))
}

/// The next pair of a side file; `None` at its end.
fn read_pair(input: &mut impl Read) -> std::io::Result<Option<(BaseKey, i64)>> {
    let mut tag = [0u8; 1];
    match input.read_exact(&mut tag) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut word = [0u8; 8];
    let key = match tag[0] {
        INT_KEY => {
            input.read_exact(&mut word)?;
            BaseKey::Int(i64::from_le_bytes(word))
        }
        BYTES_KEY => {
            let mut len = [0u8; 4];
            input.read_exact(&mut len)?;
            let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
            let mut bytes = vec![0u8; len];
            input.read_exact(&mut bytes)?;
            BaseKey::Bytes(bytes)
        }
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a side file's pair starts with {other}"),
            ))
        }
    };
    input.read_exact(&mut word)?;
    Ok(Some((key, i64::from_le_bytes(word))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::base;

    /// Pairs written from rows read back and loaded give the base the fill gives.
    #[test]
    fn loaded_pairs_equal_the_fill() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a INTEGER, b TEXT, c NUMERIC, d BLOB, PRIMARY KEY (a));
             CREATE TABLE u (a TEXT, b INTEGER, c REAL, PRIMARY KEY (a, b));
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
             INSERT INTO t SELECT i, 'x' || i, i / 3.0, CASE WHEN i % 5 = 0 THEN NULL ELSE randomblob(i % 7) END FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO u SELECT 'k' || (i % 10), i, i * 0.5 FROM n;",
        )
        .unwrap();
        base::create_tables(&conn).unwrap();
        for (table, columns, key) in [
            ("t", vec!["a", "b", "c", "d"], vec![0]),
            ("u", vec!["a", "b", "c"], vec![0, 1]),
        ] {
            let names: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
            let sig = base::signature(columns.iter().copied());
            let filled = base::start(&conn, table, &sig).unwrap();
            base::fill(&conn, filled, table, &names, &key).unwrap();

            // Two parts, as verification's read-back splits a table.
            let spec = PairSpec { key: key.clone() };
            let mut files = Vec::new();
            for (part, cond) in ["rowid <= 150", "rowid > 150"].iter().enumerate() {
                let mut w = PairWriter::create(side_path(&db, part), &spec).unwrap();
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {} FROM {table} WHERE {cond}",
                        names.join(",")
                    ))
                    .unwrap();
                let mut rows = stmt.query([]).unwrap();
                while let Some(r) = rows.next().unwrap() {
                    let values: Vec<ValueRef<'_>> =
                        (0..names.len()).map(|i| r.get_ref(i).unwrap()).collect();
                    w.add(values.len(), |i| values[i]).unwrap();
                }
                files.push(w.finish().unwrap());
            }
            let loaded = base::start(&conn, &format!("{table}_loaded"), &sig).unwrap();
            let n = load(&conn, loaded, &files).unwrap();
            assert_eq!(n, files.iter().map(PairFile::pairs).sum::<u64>());
            let differ: i64 = conn
                .query_row(
                    "SELECT count(*) FROM (
                       SELECT key, hash FROM _pg2sqlite_base WHERE tid = ?1
                       EXCEPT SELECT key, hash FROM _pg2sqlite_base WHERE tid = ?2)",
                    [filled, loaded],
                    |r| r.get(0),
                )
                .unwrap();
            let count: i64 = conn
                .query_row(
                    "SELECT count(*) FROM _pg2sqlite_base WHERE tid = ?1",
                    [loaded],
                    |r| r.get(0),
                )
                .unwrap();
            let rows: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!((differ, count), (0, rows), "table {table}");
            let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
            drop(files);
            assert!(paths.iter().all(|p| !p.exists()), "side files are removed");
        }
    }

    #[test]
    fn a_truncated_side_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, [INT_KEY, 1, 2, 3]).unwrap();
        let mut input = File::open(&path).unwrap();
        assert!(read_pair(&mut input).is_err());
    }
}
