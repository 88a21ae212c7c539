//! The rules of a delta merge, in one pure place: a three-way merge against
//! the base (what the last sync left in SQLite, [`super::base`]) where each
//! side changed a row or did not, and last write wins where both did.
//!
//! Cursors are microseconds since 1970-01-01 UTC, or `None` when the row has no
//! cursor value (NULL, or text no timestamp parser understands). An unknown time
//! never makes PostgreSQL's row lose: PostgreSQL is the database the app wrote to
//! since the cutover, so when time cannot decide, its row is the one kept.

/// A row's cursor value: microseconds since 1970-01-01 UTC, `None` if unknown.
pub type Cursor = Option<i64>;

pub use super::base::Ancestor;

/// The SQLite row that has the key of a PostgreSQL row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExistingRow {
    pub cursor: Cursor,
    /// Every merged column already holds PostgreSQL's value.
    pub same_content: bool,
    /// Its fingerprint as stored (see [`super::base`]).
    pub fingerprint: i64,
}

/// Which side's row a conflict kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    Postgres,
    Sqlite,
}

impl Winner {
    pub fn as_str(self) -> &'static str {
        match self {
            Winner::Postgres => "postgres",
            Winner::Sqlite => "sqlite",
        }
    }
}

/// What happens to one PostgreSQL row of the delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowDecision {
    /// No SQLite row has the key.
    Insert,
    /// PostgreSQL's row replaces SQLite's, which did not change.
    Update,
    /// SQLite already holds exactly this row (a repeated delta, an overlap window).
    Unchanged,
    /// SQLite changed the row since the last sync and PostgreSQL did not:
    /// SQLite's row stays. Not a conflict.
    KeepSqlite,
    /// SQLite deleted the row since the last sync and PostgreSQL did not
    /// change it: it stays deleted.
    KeepSqliteDelete,
    /// Both sides changed the row: the later cursor wins, ties go to
    /// PostgreSQL. `Winner::Postgres` is written like an update (or an insert,
    /// when SQLite had deleted the row).
    Conflict(Winner),
}

/// The later cursor wins; ties, and unknown times, go to PostgreSQL.
fn last_write_wins(pg: Cursor, sqlite: Cursor) -> Winner {
    match (pg, sqlite) {
        (Some(p), Some(s)) if s > p => Winner::Sqlite,
        _ => Winner::Postgres,
    }
}

/// Decides one row of the delta, three ways: against the base (what the last
/// sync left, see [`Ancestor`]) each side either changed the row or did not.
/// `pg_fingerprint` gives PostgreSQL's row fingerprinted as SQLite would store
/// it; it is asked for only when the answer depends on it.
///
/// Without a base ([`Ancestor::Unknown`]: the first delta into an app's old
/// file) the since-time stands in for it: a cursor later than `since` is a
/// change after the cutover. `since` is `None` when the table has no cursor.
pub fn decide_row<E>(
    pg: Cursor,
    existing: Option<ExistingRow>,
    since: Cursor,
    ancestor: Ancestor,
    pg_fingerprint: impl FnOnce() -> Result<i64, E>,
) -> Result<RowDecision, E> {
    let Some(old) = existing else {
        return Ok(match ancestor {
            // Without a base, a row PostgreSQL has not changed since the
            // cutover was in SQLite then: SQLite deleted it since.
            Ancestor::Unknown if matches!((pg, since), (Some(p), Some(s)) if p <= s) => {
                RowDecision::KeepSqliteDelete
            }
            Ancestor::Unknown | Ancestor::Absent => RowDecision::Insert,
            Ancestor::Row(base) if pg_fingerprint()? == base => RowDecision::KeepSqliteDelete,
            // SQLite deleted it, PostgreSQL changed it: a delete has no time,
            // so PostgreSQL's row comes back.
            Ancestor::Row(_) => RowDecision::Conflict(Winner::Postgres),
        });
    };
    if old.same_content {
        return Ok(RowDecision::Unchanged);
    }
    Ok(match ancestor {
        Ancestor::Unknown => decide_by_since(pg, old.cursor, since),
        // Both sides created the key on their own.
        Ancestor::Absent => RowDecision::Conflict(last_write_wins(pg, old.cursor)),
        Ancestor::Row(base) if old.fingerprint == base => RowDecision::Update,
        Ancestor::Row(base) if pg_fingerprint()? == base => RowDecision::KeepSqlite,
        Ancestor::Row(_) => RowDecision::Conflict(last_write_wins(pg, old.cursor)),
    })
}

/// The two-way rules of a delta without a base.
fn decide_by_since(pg: Cursor, sqlite: Cursor, since: Cursor) -> RowDecision {
    let after_cutover = |c: Cursor| matches!((c, since), (Some(c), Some(s)) if c > s);
    let sqlite_changed = after_cutover(sqlite);
    // A PostgreSQL row without a cursor value may have changed.
    let pg_changed = pg.is_none() || since.is_none() || after_cutover(pg);
    if sqlite_changed && !pg_changed {
        return RowDecision::KeepSqlite;
    }
    let sqlite_newer = matches!((pg, sqlite), (Some(p), Some(c)) if c > p);
    match (sqlite_newer, sqlite_changed) {
        (true, _) => RowDecision::Conflict(Winner::Sqlite),
        (false, true) => RowDecision::Conflict(Winner::Postgres),
        (false, false) => RowDecision::Update,
    }
}

/// `--deletes`: what to do with a SQLite row whose key PostgreSQL no longer has.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Delete it when SQLite did not change it since the last sync (without a
    /// base: when it is not newer than the cutover); keep and report it when
    /// SQLite changed it.
    #[default]
    Propagate,
    /// Keep every such row; only count them.
    Keep,
    /// Keep every such row and list each one.
    Report,
}

/// What happens to a SQLite row whose key is not in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteDecision {
    Delete,
    /// Kept; `listed` rows are reported one by one.
    Keep {
        listed: bool,
    },
    /// SQLite created the row after the last sync: it stays, and is not a delete.
    NewInSqlite,
}

/// Decides one SQLite-only row. Against the base: a row SQLite left as the
/// last sync wrote it was deleted in PostgreSQL, so it goes; a row SQLite
/// changed is a conflict and stays (listed); a row the last sync never wrote is
/// SQLite's own. Without a base, deletes carry no timestamp, so the SQLite
/// cursor decides: a row not later than the cutover existed before it; a later
/// one was written to SQLite after the cutover and is kept. A row without a
/// cursor value (or a table without a cursor column) is taken as older than the
/// cutover.
pub fn decide_delete(
    sqlite: Cursor,
    since: Cursor,
    policy: DeletePolicy,
    ancestor: Ancestor,
    fingerprint: i64,
) -> DeleteDecision {
    match (policy, ancestor) {
        (_, Ancestor::Absent) => DeleteDecision::NewInSqlite,
        (DeletePolicy::Keep, _) => DeleteDecision::Keep { listed: false },
        (DeletePolicy::Report, _) => DeleteDecision::Keep { listed: true },
        (DeletePolicy::Propagate, Ancestor::Row(base)) if base == fingerprint => {
            DeleteDecision::Delete
        }
        (DeletePolicy::Propagate, Ancestor::Row(_)) => DeleteDecision::Keep { listed: true },
        (DeletePolicy::Propagate, Ancestor::Unknown) => match (sqlite, since) {
            (Some(c), Some(s)) if c > s => DeleteDecision::Keep { listed: true },
            _ => DeleteDecision::Delete,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINCE: Cursor = Some(1_000);
    const BASE: i64 = 77;

    fn old(cursor: Cursor, same_content: bool) -> Option<ExistingRow> {
        old_fp(cursor, same_content, 1)
    }

    fn old_fp(cursor: Cursor, same_content: bool, fingerprint: i64) -> Option<ExistingRow> {
        Some(ExistingRow {
            cursor,
            same_content,
            fingerprint,
        })
    }

    /// Without a base: the since-time rules.
    fn two_way(pg: Cursor, existing: Option<ExistingRow>, since: Cursor) -> RowDecision {
        let never = || -> Result<i64, ()> { panic!("no fingerprint without a base") };
        decide_row(pg, existing, since, Ancestor::Unknown, never).unwrap_or(RowDecision::Update)
    }

    /// With a base entry `ancestor` and PostgreSQL's row fingerprinted `pg_fp`.
    fn three_way(
        pg: Cursor,
        existing: Option<ExistingRow>,
        ancestor: Ancestor,
        pg_fp: i64,
    ) -> RowDecision {
        decide_row(pg, existing, SINCE, ancestor, || Ok::<i64, ()>(pg_fp))
            .unwrap_or(RowDecision::Update)
    }

    #[test]
    fn absent_rows_are_inserted() {
        assert_eq!(two_way(Some(2_000), None, SINCE), RowDecision::Insert);
        assert_eq!(two_way(None, None, SINCE), RowDecision::Insert);
        assert_eq!(
            three_way(Some(2_000), None, Ancestor::Absent, 5),
            RowDecision::Insert
        );
    }

    #[test]
    fn identical_rows_are_left_alone_whatever_the_cursors() {
        assert_eq!(
            two_way(Some(2_000), old(Some(3_000), true), SINCE),
            RowDecision::Unchanged
        );
        assert_eq!(
            two_way(None, old(None, true), SINCE),
            RowDecision::Unchanged
        );
        assert_eq!(
            three_way(Some(2_000), old(Some(3_000), true), Ancestor::Row(BASE), 5),
            RowDecision::Unchanged
        );
    }

    #[test]
    fn newer_postgres_rows_replace_rows_sqlite_did_not_touch() {
        assert_eq!(
            two_way(Some(2_000), old(Some(500), false), SINCE),
            RowDecision::Update
        );
        // The cursor equal to the cutover is not after it.
        assert_eq!(
            two_way(Some(2_000), old(Some(1_000), false), SINCE),
            RowDecision::Update
        );
    }

    #[test]
    fn both_changed_later_cursor_wins_ties_go_to_postgres() {
        assert_eq!(
            two_way(Some(2_000), old(Some(3_000), false), SINCE),
            RowDecision::Conflict(Winner::Sqlite)
        );
        assert_eq!(
            two_way(Some(3_000), old(Some(2_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
        assert_eq!(
            two_way(Some(2_000), old(Some(2_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
    }

    #[test]
    fn without_a_base_a_sqlite_change_stays_when_postgres_did_not_change() {
        assert_eq!(
            two_way(Some(500), old(Some(3_000), false), SINCE),
            RowDecision::KeepSqlite
        );
    }

    #[test]
    fn unknown_times_never_make_postgres_lose() {
        // PostgreSQL row without a cursor: it was read because it may have changed.
        assert_eq!(
            two_way(None, old(Some(500), false), SINCE),
            RowDecision::Update
        );
        assert_eq!(
            two_way(None, old(Some(3_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
        assert_eq!(
            two_way(Some(2_000), old(None, false), SINCE),
            RowDecision::Update
        );
        // A table merged in full (no cursor column): content decides alone.
        assert_eq!(two_way(None, old(None, false), None), RowDecision::Update);
        assert_eq!(
            three_way(None, old_fp(None, false, 1), Ancestor::Row(BASE), 2),
            RowDecision::Conflict(Winner::Postgres)
        );
    }

    #[test]
    fn with_a_base_each_side_changed_or_did_not() {
        let base = Ancestor::Row(BASE);
        // Only PostgreSQL changed it: whatever the cursors say (the lag window).
        assert_eq!(
            three_way(Some(500), old_fp(Some(9_000), false, BASE), base, 5),
            RowDecision::Update
        );
        // Only SQLite changed it: SQLite's stays, and it is no conflict, even
        // when PostgreSQL's cursor is the later one (read again in the lag window).
        assert_eq!(
            three_way(Some(9_000), old_fp(Some(500), false, 3), base, BASE),
            RowDecision::KeepSqlite
        );
        // Both changed it: last write wins.
        assert_eq!(
            three_way(Some(2_000), old_fp(Some(3_000), false, 3), base, 5),
            RowDecision::Conflict(Winner::Sqlite)
        );
        assert_eq!(
            three_way(Some(3_000), old_fp(Some(2_000), false, 3), base, 5),
            RowDecision::Conflict(Winner::Postgres)
        );
        assert_eq!(
            three_way(Some(3_000), old_fp(Some(3_000), false, 3), base, 5),
            RowDecision::Conflict(Winner::Postgres)
        );
        // Both created the key since the last sync.
        assert_eq!(
            three_way(
                Some(2_000),
                old_fp(Some(3_000), false, 3),
                Ancestor::Absent,
                5
            ),
            RowDecision::Conflict(Winner::Sqlite)
        );
    }

    #[test]
    fn without_a_base_a_missing_row_older_than_the_cutover_was_deleted_in_sqlite() {
        assert_eq!(
            two_way(Some(500), None, SINCE),
            RowDecision::KeepSqliteDelete
        );
        assert_eq!(two_way(Some(500), None, None), RowDecision::Insert);
    }

    #[test]
    fn a_row_sqlite_deleted_stays_deleted_unless_postgres_changed_it() {
        let base = Ancestor::Row(BASE);
        assert_eq!(
            three_way(Some(500), None, base, BASE),
            RowDecision::KeepSqliteDelete
        );
        assert_eq!(
            three_way(Some(500), None, base, 5),
            RowDecision::Conflict(Winner::Postgres)
        );
    }

    #[test]
    fn the_fingerprint_is_asked_for_only_when_it_decides() {
        let asked = std::cell::Cell::new(false);
        let fp = || {
            asked.set(true);
            Ok::<i64, ()>(5)
        };
        let d = decide_row(
            Some(2_000),
            old_fp(Some(500), false, BASE),
            SINCE,
            Ancestor::Row(BASE),
            fp,
        );
        assert_eq!(d, Ok(RowDecision::Update));
        assert!(!asked.get());
    }

    #[test]
    fn deletes_follow_the_sqlite_cursor_and_the_policy() {
        let p = DeletePolicy::Propagate;
        let u = Ancestor::Unknown;
        assert_eq!(
            decide_delete(Some(500), SINCE, p, u, 1),
            DeleteDecision::Delete
        );
        assert_eq!(
            decide_delete(Some(1_000), SINCE, p, u, 1),
            DeleteDecision::Delete
        );
        assert_eq!(
            decide_delete(Some(1_001), SINCE, p, u, 1),
            DeleteDecision::Keep { listed: true }
        );
        assert_eq!(decide_delete(None, SINCE, p, u, 1), DeleteDecision::Delete);
        assert_eq!(
            decide_delete(Some(9_999), None, p, u, 1),
            DeleteDecision::Delete
        );
        assert_eq!(
            decide_delete(Some(500), SINCE, DeletePolicy::Keep, u, 1),
            DeleteDecision::Keep { listed: false }
        );
        assert_eq!(
            decide_delete(Some(500), SINCE, DeletePolicy::Report, u, 1),
            DeleteDecision::Keep { listed: true }
        );
    }

    #[test]
    fn with_a_base_deletes_follow_what_sqlite_did() {
        let p = DeletePolicy::Propagate;
        // Untouched since the last sync, even with a cursor in the lag window.
        assert_eq!(
            decide_delete(Some(9_999), SINCE, p, Ancestor::Row(BASE), BASE),
            DeleteDecision::Delete
        );
        assert_eq!(
            decide_delete(Some(9_999), SINCE, p, Ancestor::Row(BASE), 3),
            DeleteDecision::Keep { listed: true }
        );
        assert_eq!(
            decide_delete(Some(9_999), SINCE, p, Ancestor::Absent, 3),
            DeleteDecision::NewInSqlite
        );
        assert_eq!(
            decide_delete(None, SINCE, DeletePolicy::Keep, Ancestor::Row(BASE), BASE),
            DeleteDecision::Keep { listed: false }
        );
    }
}
