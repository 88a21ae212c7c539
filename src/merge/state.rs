//! What a sync leaves in the SQLite file about itself: `_pg2sqlite_sync` (one row
//! per table: the watermark the next delta continues from, and the counts of the
//! last run) and `_pg2sqlite_conflicts` (every row both sides changed, and every
//! deleted row that was kept).

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::decide::Winner;

pub const SYNC_TABLE: &str = "_pg2sqlite_sync";
pub const CONFLICTS_TABLE: &str = "_pg2sqlite_conflicts";

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS _pg2sqlite_sync (
    table_name    TEXT PRIMARY KEY,
    source_table  TEXT NOT NULL,
    mode          TEXT NOT NULL,
    cursor_column TEXT,
    since         TEXT,
    watermark     TEXT NOT NULL,
    snapshot_time TEXT NOT NULL,
    inserted      INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    conflicts     INTEGER NOT NULL,
    kept_deletes  INTEGER NOT NULL,
    run_at        TEXT NOT NULL,
    seconds       REAL NOT NULL,
    pg_horizon    TEXT
);
CREATE TABLE IF NOT EXISTS _pg2sqlite_conflicts (
    run_at          TEXT NOT NULL,
    table_name      TEXT NOT NULL,
    key             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    postgres_cursor TEXT,
    sqlite_cursor   TEXT,
    winner          TEXT NOT NULL
);";

/// Whether a run copied a table whole or merged a delta into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Full,
    Delta,
    /// A delta run found the table's changes by comparing content (no update
    /// cursor, or no base yet).
    Content,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Delta => "delta",
            SyncMode::Content => "content",
        }
    }
}

/// Counts of one table's merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeCounts {
    pub read: u64,
    pub inserted: u64,
    /// Rows replaced by PostgreSQL's, conflicts PostgreSQL won included.
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Rows both sides changed after the cutover (whichever won).
    pub conflicts: u64,
    /// Of the conflicts, those where SQLite's row was kept.
    pub kept_sqlite: u64,
    /// SQLite rows PostgreSQL no longer has, kept (changed in SQLite, or
    /// `--deletes keep|report`).
    pub kept_deletes: u64,
    /// Rows SQLite changed since the last sync and PostgreSQL did not: kept.
    pub kept_sqlite_changes: u64,
    /// Rows SQLite deleted since the last sync and PostgreSQL did not change:
    /// left deleted.
    pub kept_sqlite_deletes: u64,
    /// Rows only SQLite has, created after the last sync: kept.
    pub new_in_sqlite: u64,
}

impl MergeCounts {
    pub fn add(&mut self, o: &MergeCounts) {
        self.read += o.read;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.deleted += o.deleted;
        self.conflicts += o.conflicts;
        self.kept_sqlite += o.kept_sqlite;
        self.kept_deletes += o.kept_deletes;
        self.kept_sqlite_changes += o.kept_sqlite_changes;
        self.kept_sqlite_deletes += o.kept_sqlite_deletes;
        self.new_in_sqlite += o.new_in_sqlite;
    }

    /// Rows the merge changed in SQLite.
    pub fn changed(&self) -> u64 {
        // Conflicts PostgreSQL won are among the inserted and updated rows.
        self.inserted + self.updated + self.deleted
    }
}

/// One table's line in `_pg2sqlite_sync`.
#[derive(Debug, Clone)]
pub struct TableRun<'a> {
    pub table: &'a str,
    pub source_table: &'a str,
    pub mode: SyncMode,
    pub cursor_column: Option<&'a str>,
    pub since: Option<&'a str>,
    pub watermark: &'a str,
    pub snapshot_time: &'a str,
    pub counts: MergeCounts,
    pub run_at: &'a str,
    pub seconds: f64,
    /// Where PostgreSQL's transaction ids stood for this table
    /// (`source::horizon::TableHorizon`), when the run brought every row of it
    /// up to that point; the next delta finds the rows written since by it.
    pub horizon: Option<String>,
}

/// What `_pg2sqlite_conflicts` says about one row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConflictRecord {
    pub table: String,
    /// The key as JSON (`{"id": 7}`).
    pub key: String,
    pub kind: ConflictKind,
    pub postgres_cursor: Option<String>,
    pub sqlite_cursor: Option<String>,
    pub winner: Winner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both sides changed the row after the cutover.
    Update,
    /// PostgreSQL no longer has the row; SQLite's was kept.
    KeptDelete,
    /// SQLite deleted the row, PostgreSQL changed it: PostgreSQL's is back.
    DeletedInSqlite,
}

impl ConflictKind {
    fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Update => "update",
            ConflictKind::KeptDelete => "kept_delete",
            ConflictKind::DeletedInSqlite => "deleted_in_sqlite",
        }
    }
}

pub fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE)?;
    // Files of versions before the column: added, empty (their next delta
    // compares content).
    if !has_horizon_column(conn)? {
        conn.execute_batch("ALTER TABLE _pg2sqlite_sync ADD COLUMN pg_horizon TEXT")?;
    }
    Ok(())
}

pub fn record_run(conn: &Connection, run: &TableRun<'_>) -> rusqlite::Result<()> {
    let c = &run.counts;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT OR REPLACE INTO _pg2sqlite_sync
           (table_name, source_table, mode, cursor_column, since, watermark, snapshot_time,
            inserted, updated, deleted, conflicts, kept_deletes, run_at, seconds, pg_horizon)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            run.table,
            run.source_table,
            run.mode.as_str(),
            run.cursor_column,
            run.since,
            run.watermark,
            run.snapshot_time,
            n(c.inserted),
            n(c.updated),
            n(c.deleted),
            n(c.conflicts),
            n(c.kept_deletes),
            run.run_at,
            run.seconds,
            run.horizon
        ],
    )?;
    Ok(())
}

pub fn record_conflict(
    conn: &Connection,
    run_at: &str,
    c: &ConflictRecord,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO _pg2sqlite_conflicts
           (run_at, table_name, key, kind, postgres_cursor, sqlite_cursor, winner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        run_at,
        c.table,
        c.key,
        c.kind.as_str(),
        c.postgres_cursor,
        c.sqlite_cursor,
        c.winner.as_str()
    ])?;
    Ok(())
}

/// Whether an earlier sync left its state in the file.
pub fn has_state(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [SYNC_TABLE],
        |r| r.get(0),
    )
}

/// The watermark stored for `table`, if the file has one.
pub fn watermark(conn: &Connection, table: &str) -> rusqlite::Result<Option<String>> {
    if !has_state(conn)? {
        return Ok(None);
    }
    conn.query_row(
        "SELECT watermark FROM _pg2sqlite_sync WHERE table_name = ?1",
        [table],
        |r| r.get(0),
    )
    .optional()
}

fn has_horizon_column(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('_pg2sqlite_sync') WHERE name = 'pg_horizon'",
        [],
        |r| r.get(0),
    )
}

/// The horizon recorded for `table` (see [`TableRun::horizon`]), if any.
pub fn horizon(conn: &Connection, table: &str) -> rusqlite::Result<Option<String>> {
    if !has_state(conn)? {
        return Ok(None);
    }
    if !has_horizon_column(conn)? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT pg_horizon FROM _pg2sqlite_sync WHERE table_name = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// A row's key as a JSON object (`{"id":7}`), for the conflicts table.
pub fn key_json<'a>(columns: impl Iterator<Item = (&'a str, ValueRef<'a>)>) -> String {
    let mut map = serde_json::Map::new();
    for (name, v) in columns {
        let v = match v {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(i) => i.into(),
            ValueRef::Real(f) => f.into(),
            ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned().into(),
        };
        map.insert(name.to_owned(), v);
    }
    serde_json::Value::Object(map).to_string()
}

/// Whether `name` is one of the tables this module owns.
pub fn is_state_table(name: &str) -> bool {
    [
        SYNC_TABLE,
        CONFLICTS_TABLE,
        super::base::BASE_TABLE,
        super::base::BASE_TABLES,
    ]
    .iter()
    .any(|t| name.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_watermarks_round_trip() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        assert_eq!(watermark(&conn, "users")?, None);
        create_tables(&conn)?;
        let run = TableRun {
            table: "users",
            source_table: "public.users",
            mode: SyncMode::Delta,
            cursor_column: Some("updated_at"),
            since: Some("2025-11-13T00:00:00Z"),
            watermark: "2025-11-14T00:00:00Z",
            snapshot_time: "2025-11-14T00:00:01Z",
            counts: MergeCounts {
                inserted: 3,
                ..MergeCounts::default()
            },
            run_at: "2025-11-14T00:00:02Z",
            seconds: 0.5,
            horizon: Some("h".into()),
        };
        record_run(&conn, &run)?;
        record_run(
            &conn,
            &TableRun {
                watermark: "2025-11-15T00:00:00Z",
                ..run
            },
        )?;
        assert_eq!(
            watermark(&conn, "users")?.as_deref(),
            Some("2025-11-15T00:00:00Z")
        );
        assert_eq!(watermark(&conn, "other")?, None);
        assert_eq!(horizon(&conn, "users")?.as_deref(), Some("h"));
        assert_eq!(horizon(&conn, "other")?, None);
        Ok(())
    }
}
