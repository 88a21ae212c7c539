//! The rules that put one differing row into a class of the data-loss report,
//! in the rollback direction (what happens if the SQLite file is used as it
//! is). Pure: the rows are found by `verify::rows`, the cursors read by
//! `merge::cursor`.
//!
//! With a since-time (the cutover) the rules are the delta merge's two-way
//! rules ([`crate::merge::decide`]): a cursor later than the cutover is a
//! change after it. Without one, or for a table without a cursor column, rows
//! are classified by key and content alone.

use crate::merge::decide::Cursor;

/// Where a differing key (or, without a key, a row) was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    PostgresOnly,
    SqliteOnly,
    /// Both sides have the key, with different values.
    Both,
}

/// What a rollback to the SQLite file does to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowClass {
    /// Only PostgreSQL has it: lost.
    LostNew,
    /// PostgreSQL's version differs and SQLite's is the older one: lost.
    LostChanged,
    /// PostgreSQL deleted it; the rollback brings it back.
    Resurrected,
    /// Both sides changed it after the cutover: PostgreSQL's change is lost.
    Conflict,
    /// SQLite wrote it (or its version of it) after the cutover, PostgreSQL
    /// never had that: nothing of PostgreSQL's is lost.
    SqliteOnly,
}

impl RowClass {
    /// Every class, in the order reports list them.
    pub const ALL: [RowClass; 5] = [
        RowClass::LostNew,
        RowClass::LostChanged,
        RowClass::Resurrected,
        RowClass::Conflict,
        RowClass::SqliteOnly,
    ];

    /// Whether a rollback loses something of PostgreSQL's with such a row.
    pub fn is_loss(self) -> bool {
        !matches!(self, RowClass::SqliteOnly)
    }

    pub fn name(self) -> &'static str {
        match self {
            RowClass::LostNew => "lost_new",
            RowClass::LostChanged => "lost_changed",
            RowClass::Resurrected => "resurrected",
            RowClass::Conflict => "conflicts",
            RowClass::SqliteOnly => "sqlite_only",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            RowClass::LostNew => "lost new",
            RowClass::LostChanged => "lost changed",
            RowClass::Resurrected => "resurrected",
            RowClass::Conflict => "conflicts",
            RowClass::SqliteOnly => "SQLite only",
        }
    }
}

/// Classifies one differing row. `since` is `None` when the report has no
/// since-time or the table no cursor column: then a key only SQLite has counts
/// as resurrected (nothing tells that SQLite wrote it; the rollback brings it
/// back either way) and a differing row as lost-changed.
///
/// With `since`: a SQLite-only row whose cursor is later than the cutover was
/// written to SQLite after it (SQLite-only); otherwise PostgreSQL deleted it
/// (resurrected), as the delta merge's delete rule has it. A row in both is a
/// conflict when both sides changed it after the cutover; when only SQLite
/// did, SQLite's version is kept and nothing of PostgreSQL's is lost. A
/// PostgreSQL row without a cursor value may have changed (as in the merge).
pub fn classify(presence: Presence, pg: Cursor, sqlite: Cursor, since: Cursor) -> RowClass {
    let Some(since) = since else {
        return match presence {
            Presence::PostgresOnly => RowClass::LostNew,
            Presence::SqliteOnly => RowClass::Resurrected,
            Presence::Both => RowClass::LostChanged,
        };
    };
    let after = |c: Cursor| c.is_some_and(|c| c > since);
    match presence {
        Presence::PostgresOnly => RowClass::LostNew,
        Presence::SqliteOnly if after(sqlite) => RowClass::SqliteOnly,
        Presence::SqliteOnly => RowClass::Resurrected,
        Presence::Both => match (pg.is_none() || after(pg), after(sqlite)) {
            (true, true) => RowClass::Conflict,
            (false, true) => RowClass::SqliteOnly,
            (_, false) => RowClass::LostChanged,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Presence::*;

    const SINCE: Cursor = Some(1_000);
    const BEFORE: Cursor = Some(500);
    const AFTER: Cursor = Some(2_000);

    #[test]
    fn rows_only_postgres_has_are_lost() {
        assert_eq!(
            classify(PostgresOnly, AFTER, None, SINCE),
            RowClass::LostNew
        );
        assert_eq!(
            classify(PostgresOnly, BEFORE, None, SINCE),
            RowClass::LostNew
        );
        assert_eq!(classify(PostgresOnly, None, None, None), RowClass::LostNew);
    }

    #[test]
    fn sqlite_rows_older_than_the_cutover_were_deleted_in_postgres() {
        assert_eq!(
            classify(SqliteOnly, None, BEFORE, SINCE),
            RowClass::Resurrected
        );
        assert_eq!(
            classify(SqliteOnly, None, SINCE, SINCE),
            RowClass::Resurrected
        );
        // No cursor value: taken as older than the cutover, as the merge does.
        assert_eq!(
            classify(SqliteOnly, None, None, SINCE),
            RowClass::Resurrected
        );
        assert_eq!(
            classify(SqliteOnly, None, AFTER, SINCE),
            RowClass::SqliteOnly
        );
    }

    #[test]
    fn rows_changed_on_both_sides_after_the_cutover_conflict() {
        assert_eq!(classify(Both, AFTER, AFTER, SINCE), RowClass::Conflict);
        assert_eq!(classify(Both, None, AFTER, SINCE), RowClass::Conflict);
        assert_eq!(classify(Both, AFTER, BEFORE, SINCE), RowClass::LostChanged);
        assert_eq!(classify(Both, AFTER, None, SINCE), RowClass::LostChanged);
        assert_eq!(classify(Both, BEFORE, BEFORE, SINCE), RowClass::LostChanged);
        // Only SQLite changed it: its version stays, PostgreSQL's is older.
        assert_eq!(classify(Both, BEFORE, AFTER, SINCE), RowClass::SqliteOnly);
    }

    #[test]
    fn without_a_since_time_key_and_content_decide() {
        assert_eq!(
            classify(SqliteOnly, None, AFTER, None),
            RowClass::Resurrected
        );
        assert_eq!(classify(Both, AFTER, AFTER, None), RowClass::LostChanged);
    }

    #[test]
    fn only_sqlite_only_rows_lose_nothing() {
        let losses: Vec<bool> = RowClass::ALL.iter().map(|c| c.is_loss()).collect();
        assert_eq!(losses, vec![true, true, true, true, false]);
    }
}
