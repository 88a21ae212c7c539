//! The last-write-wins rules of a delta merge, in one pure place.
//!
//! Cursors are microseconds since 1970-01-01 UTC, or `None` when the row has no
//! cursor value (NULL, or text no timestamp parser understands). An unknown time
//! never makes PostgreSQL's row lose: PostgreSQL is the database the app wrote to
//! since the cutover, so when time cannot decide, its row is the one kept.

/// A row's cursor value: microseconds since 1970-01-01 UTC, `None` if unknown.
pub type Cursor = Option<i64>;

/// The SQLite row that has the key of a PostgreSQL row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExistingRow {
    pub cursor: Cursor,
    /// Every merged column already holds PostgreSQL's value.
    pub same_content: bool,
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
    /// PostgreSQL's row replaces SQLite's, which did not change after the cutover.
    Update,
    /// SQLite already holds exactly this row (a repeated delta, an overlap window).
    Unchanged,
    /// Both sides changed the row after the cutover: the later cursor wins, ties
    /// go to PostgreSQL. `Winner::Postgres` is written like an update.
    Conflict(Winner),
}

/// Decides one row. `since` is the cutover of this run (`None` when the table is
/// merged in full because it has no cursor column).
pub fn decide_row(pg: Cursor, existing: Option<ExistingRow>, since: Cursor) -> RowDecision {
    let Some(old) = existing else {
        return RowDecision::Insert;
    };
    if old.same_content {
        return RowDecision::Unchanged;
    }
    let sqlite_changed_since_cutover = match (old.cursor, since) {
        (Some(c), Some(s)) => c > s,
        _ => false,
    };
    let sqlite_newer = matches!((pg, old.cursor), (Some(p), Some(c)) if c > p);
    match (sqlite_newer, sqlite_changed_since_cutover) {
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
    /// Delete it when it is not newer than the cutover (PostgreSQL deleted it);
    /// keep and report it when SQLite wrote it after the cutover.
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
}

/// Decides one SQLite-only row. Deletes carry no timestamp, so the SQLite cursor
/// decides: a row not later than the cutover existed before it, and PostgreSQL
/// removed it; a later one was written to SQLite after the cutover and is kept.
/// A row without a cursor value (or a table without a cursor column) is taken
/// as older than the cutover.
pub fn decide_delete(sqlite: Cursor, since: Cursor, policy: DeletePolicy) -> DeleteDecision {
    match policy {
        DeletePolicy::Keep => DeleteDecision::Keep { listed: false },
        DeletePolicy::Report => DeleteDecision::Keep { listed: true },
        DeletePolicy::Propagate => match (sqlite, since) {
            (Some(c), Some(s)) if c > s => DeleteDecision::Keep { listed: true },
            _ => DeleteDecision::Delete,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINCE: Cursor = Some(1_000);

    fn old(cursor: Cursor, same_content: bool) -> Option<ExistingRow> {
        Some(ExistingRow {
            cursor,
            same_content,
        })
    }

    #[test]
    fn absent_rows_are_inserted() {
        assert_eq!(decide_row(Some(2_000), None, SINCE), RowDecision::Insert);
        assert_eq!(decide_row(None, None, SINCE), RowDecision::Insert);
    }

    #[test]
    fn identical_rows_are_left_alone_whatever_the_cursors() {
        assert_eq!(
            decide_row(Some(2_000), old(Some(3_000), true), SINCE),
            RowDecision::Unchanged
        );
        assert_eq!(
            decide_row(None, old(None, true), SINCE),
            RowDecision::Unchanged
        );
    }

    #[test]
    fn newer_postgres_rows_replace_rows_sqlite_did_not_touch() {
        assert_eq!(
            decide_row(Some(2_000), old(Some(500), false), SINCE),
            RowDecision::Update
        );
        // The cursor equal to the cutover is not after it.
        assert_eq!(
            decide_row(Some(2_000), old(Some(1_000), false), SINCE),
            RowDecision::Update
        );
    }

    #[test]
    fn both_changed_later_cursor_wins_ties_go_to_postgres() {
        assert_eq!(
            decide_row(Some(2_000), old(Some(3_000), false), SINCE),
            RowDecision::Conflict(Winner::Sqlite)
        );
        assert_eq!(
            decide_row(Some(3_000), old(Some(2_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
        assert_eq!(
            decide_row(Some(2_000), old(Some(2_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
    }

    #[test]
    fn unknown_times_never_make_postgres_lose() {
        // PostgreSQL row without a cursor: it was read because it may have changed.
        assert_eq!(
            decide_row(None, old(Some(500), false), SINCE),
            RowDecision::Update
        );
        assert_eq!(
            decide_row(None, old(Some(3_000), false), SINCE),
            RowDecision::Conflict(Winner::Postgres)
        );
        assert_eq!(
            decide_row(Some(2_000), old(None, false), SINCE),
            RowDecision::Update
        );
        // A table merged in full (no cursor column): content decides alone.
        assert_eq!(
            decide_row(None, old(None, false), None),
            RowDecision::Update
        );
    }

    #[test]
    fn deletes_follow_the_sqlite_cursor_and_the_policy() {
        let p = DeletePolicy::Propagate;
        assert_eq!(decide_delete(Some(500), SINCE, p), DeleteDecision::Delete);
        assert_eq!(decide_delete(Some(1_000), SINCE, p), DeleteDecision::Delete);
        assert_eq!(
            decide_delete(Some(1_001), SINCE, p),
            DeleteDecision::Keep { listed: true }
        );
        assert_eq!(decide_delete(None, SINCE, p), DeleteDecision::Delete);
        assert_eq!(decide_delete(Some(9_999), None, p), DeleteDecision::Delete);
        assert_eq!(
            decide_delete(Some(500), SINCE, DeletePolicy::Keep),
            DeleteDecision::Keep { listed: false }
        );
        assert_eq!(
            decide_delete(Some(500), SINCE, DeletePolicy::Report),
            DeleteDecision::Keep { listed: true }
        );
    }
}
