//! The target's health. A file that is already damaged must not be merged
//! into, backed up as if it were good, reported on or verified as if its rows
//! were readable. So `sync --since`, `import` into an existing file, `report` and
//! `verify` first check it: SQLite's header and file format, then `PRAGMA
//! quick_check`.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// At most this many lines of a check are kept for the message.
const PROBLEMS_SHOWN: usize = 10;

/// Runs an integrity pragma (`PRAGMA quick_check`, `PRAGMA integrity_check`,
/// with or without a table) and returns its lines other than `ok`.
pub fn integrity_problems(conn: &Connection, pragma: &str, path: &Path) -> Result<Vec<String>> {
    let fail = |e| Error::sqlite("checking integrity", path)(e);
    let mut stmt = conn.prepare(pragma).map_err(&fail)?;
    let mut rows = stmt.query([]).map_err(&fail)?;
    let mut problems = Vec::new();
    while let Some(r) = rows.next().map_err(&fail)? {
        let text: String = r.get(0).map_err(&fail)?;
        // One row may hold several problems, one per line.
        problems.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && *l != "ok" && !l.starts_with("*** in database"))
                .map(str::to_owned),
        );
    }
    Ok(problems)
}

/// Refuses a target that is not a SQLite database of a format this build reads,
/// or that `PRAGMA quick_check` finds damaged — before anything reads its rows
/// or writes to it.
pub fn check_before_use(path: &Path) -> Result<()> {
    tracing::debug!(
        "checking {} whole: its header, then PRAGMA quick_check",
        path.display()
    );
    let conn = crate::verify::open_sqlite(path)?;
    check_format(path)?;
    let mut problems = match integrity_problems(&conn, "PRAGMA quick_check", path) {
        Ok(p) => p,
        // The check itself stopped on the damage: check each table alone to
        // say which.
        Err(Error::Sqlite { source, .. }) if is_damage(&source) => {
            let mut per_table = per_table_problems(&conn, path);
            if per_table.is_empty() {
                per_table.push(source.to_string());
            }
            per_table
        }
        Err(e) => return Err(e),
    };
    if problems.is_empty() {
        return Ok(());
    }
    name_trees(&conn, &mut problems);
    Err(damaged(path, problems, "PRAGMA quick_check"))
}

/// [`check_before_use`], unless the file is exactly as this tool last left it
/// sound ([`super::seal`]): nothing has written to it since, so it is not read
/// whole again.
pub fn check_unless_unchanged(path: &Path) -> Result<()> {
    if super::seal::unchanged_since_left(path) {
        return Ok(());
    }
    check_before_use(path)
}

/// [`check_before_use`] on a thread of its own, beside work that does not read
/// the file (asking PostgreSQL): whatever reads the file's rows waits for the
/// check first, and when the work beside fails too, the check's error is the
/// one reported (reading a damaged file fails in other ways first).
pub struct CheckBeside(std::thread::JoinHandle<Result<()>>);

impl CheckBeside {
    /// [`CheckBeside::start`], unless the file is exactly as this tool last
    /// left it sound, as for [`check_unless_unchanged`]: then `None`.
    pub fn start_unless_unchanged(path: &Path) -> Result<Option<CheckBeside>> {
        if super::seal::unchanged_since_left(path) {
            return Ok(None);
        }
        CheckBeside::start(path).map(Some)
    }

    pub fn start(path: &Path) -> Result<CheckBeside> {
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("check".into())
            .spawn(move || check_before_use(&path))
            .map(CheckBeside)
            .map_err(|e| Error::Aborted(format!("cannot start the target's check: {e}")))
    }

    /// Waits for the check.
    pub fn wait(self) -> Result<()> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(Error::Aborted("the target's check panicked".into())))
    }

    /// [`CheckBeside::wait`] from async code, on a blocking thread.
    pub async fn passed(self) -> Result<()> {
        tokio::task::spawn_blocking(move || self.wait())
            .await
            .map_err(|e| Error::Aborted(format!("the target's check failed: {e}")))?
    }

    /// The error of the work beside the check: the check's, when it failed too.
    pub fn outranks(check: Result<()>, beside: Error) -> Error {
        check.err().unwrap_or(beside)
    }
}

/// Whether a SQLite error says the file is damaged (rather than busy, or out
/// of memory).
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// `PRAGMA quick_check(t)` for each table of the schema, with the error a
/// check stopped on as that table's problem.
fn per_table_problems(conn: &Connection, path: &Path) -> Vec<String> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect())
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    for table in tables {
        match table_problems(conn, &table, path) {
            Ok(lines) => problems.extend(lines),
            Err(Error::Sqlite { source, .. }) if is_damage(&source) => {
                problems.push(format!("table {table}: {source}"))
            }
            // Busy or another failure: not damage, and not for this check to say.
            Err(_) => {}
        }
    }
    problems
}

/// `PRAGMA quick_check(table)`: the table and its indexes.
fn table_problems(conn: &Connection, table: &str, path: &Path) -> Result<Vec<String>> {
    let pragma = format!("PRAGMA quick_check({})", super::ddl::quote(table));
    integrity_problems(conn, &pragma, path)
}

/// "Tree 6 page 13 …" → "Tree 6 (table users) page 13 …", where the schema is
/// still readable.
fn name_trees(conn: &Connection, problems: &mut [String]) {
    let Ok(mut stmt) = conn.prepare("SELECT type, name, rootpage FROM sqlite_master") else {
        return;
    };
    let Ok(roots) = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
    else {
        return;
    };
    for line in problems.iter_mut() {
        let Some(rest) = line.strip_prefix("Tree ") else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(root) = digits.parse::<i64>() else {
            continue;
        };
        if let Some((kind, name, _)) = roots.iter().find(|(_, _, r)| *r == root) {
            *line = format!("Tree {root} ({kind} {name}){}", &rest[digits.len()..]);
        }
    }
}

fn damaged(path: &Path, mut problems: Vec<String>, check: &str) -> Error {
    let found = problems.len();
    problems.truncate(PROBLEMS_SHOWN);
    if found > PROBLEMS_SHOWN {
        problems.push(format!("… and {} more", found - PROBLEMS_SHOWN));
    }
    Error::TargetDamaged {
        path: path.to_path_buf(),
        check: check.to_owned(),
        found,
        problems,
        backup: last_good_backup(path),
    }
}

/// The page size a SQLite header (its first 18 bytes or more) names: bytes
/// 16..18, where 1 stands for 65536.
pub(crate) fn header_page_size(header: &[u8]) -> u32 {
    let Some(&[high, low]) = header.get(16..18) else {
        return 0;
    };
    match u16::from_be_bytes([high, low]) {
        1 => 65_536,
        size => u32::from(size),
    }
}

/// SQLite's header: the file format versions (bytes 18 and 19: 1 for rollback
/// journal, 2 for WAL) and a page size SQLite allows.
fn check_format(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let mut f = std::fs::File::open(path).map_err(Error::io(path))?;
    match f.read_exact(&mut header) {
        Ok(()) => {}
        // An empty file is an empty database; a shorter one is not SQLite and
        // open_sqlite said so already.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
        Err(e) => return Err(Error::io(path)(e)),
    }
    let (write_version, read_version) = (header[18], header[19]);
    if !(1..=2).contains(&write_version) || !(1..=2).contains(&read_version) {
        return Err(Error::Target {
            path: path.to_path_buf(),
            reason: format!(
                "has SQLite file format versions {write_version}/{read_version}, which this \
                 build (SQLite {}) cannot read or write",
                rusqlite::version()
            ),
        });
    }
    let page_size = header_page_size(&header);
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(damaged(
            path,
            vec![format!(
                "the header's page size {page_size} is not one SQLite writes"
            )],
            "the SQLite header",
        ));
    }
    Ok(())
}

/// The newest of this tool's backups of `target` that passes `PRAGMA
/// quick_check`, if any: the file to restore. Backups are named
/// `TARGET.pg2sqlite-backup-STAMP`, and the stamps sort by time.
pub fn last_good_backup(target: &Path) -> Option<PathBuf> {
    let backups = super::backup::backups_of(target).ok()?;
    backups.into_iter().rev().find(|b| {
        crate::verify::open_sqlite(b)
            .and_then(|conn| integrity_problems(&conn, "PRAGMA quick_check", b))
            .is_ok_and(|problems| problems.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headers_page_size_reads_one_as_65536() {
        let header = |high: u8, low: u8| {
            let mut h = [0u8; 100];
            h[16] = high;
            h[17] = low;
            h
        };
        assert_eq!(header_page_size(&header(0x10, 0x00)), 4096);
        assert_eq!(header_page_size(&header(0x40, 0x00)), 16_384);
        assert_eq!(header_page_size(&header(0x00, 0x01)), 65_536);
        assert_eq!(header_page_size(&[0u8; 10]), 0);
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::read(table_file(dir.path())).unwrap();
        assert_eq!(header_page_size(&file), 4096);
    }

    fn table_file(dir: &Path) -> PathBuf {
        let path = dir.join("app.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA page_size = 4096;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             CREATE INDEX t_v ON t (v);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO t SELECT i, printf('value %d', i) FROM n;",
        )
        .unwrap();
        path
    }

    #[test]
    fn a_healthy_file_passes_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_file(dir.path());
        check_before_use(&path).unwrap();
        // Overwrite the middle of the table's b-tree.
        let mut bytes = std::fs::read(&path).unwrap();
        let page = 4096 * 3;
        for b in &mut bytes[page + 200..page + 1200] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        match check_before_use(&path) {
            Err(Error::TargetDamaged { problems, .. }) => assert!(!problems.is_empty()),
            other => panic!("expected damage, got {other:?}"),
        }
    }

    #[test]
    fn unknown_file_format_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_file(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[19] = 3;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(check_before_use(&path), Err(Error::Target { reason, .. }) if reason.contains("format versions"))
        );
    }
}
