//! A table without an update cursor: after a sync that recorded where
//! PostgreSQL's transaction ids stood, the next delta reads only the row
//! versions written since (their `xmin`) instead of comparing content. What
//! must never happen is a row written after the snapshot left behind: by a
//! transaction open during the sync, by a subtransaction, by a row frozen
//! since. When the ids cannot be trusted (another table, an older file), the
//! content comparison is used, and says why.

use crate::common::*;

const FOUND_BY_XMIN: &str = "rows PostgreSQL wrote since the last sync";

fn found_by(summary: &serde_json::Value, table: &str) -> String {
    summary_table(summary, table)["found_by"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A delta of the table `events` (and only it) into `target`, its summary.
fn delta(db: &TestDb, target: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "--quiet", "--tables", "events"];
    args.extend(extra);
    let run = sync(&db.url(), target, &args);
    run.assert_success();
    summary_json(&run)
}

fn assert_verified(db: &TestDb, target: &std::path::Path) {
    let run = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().unwrap_or_default(),
        "--tables",
        "events",
    ]);
    run.assert_success();
}

/// Rows written by a transaction open while the sync ran (and by its
/// subtransaction), updated, deleted, inserted and then frozen: all found by
/// their xmin, none missed, and the file then matches PostgreSQL.
#[test]
fn rows_written_since_the_last_sync_are_found_by_their_xmin() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, n int);
         INSERT INTO events SELECT g, 'old', g FROM generate_series(1, 5000) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");

    // Open before the sync, committed after it: its rows are not in the
    // sync's snapshot, and their ids are below the ids of anything later.
    let mut open = db.client();
    let mut tx = open.transaction().expect("begin");
    tx.batch_execute(
        "INSERT INTO events VALUES (10001, 'open during the sync', 1);
         SAVEPOINT s; INSERT INTO events VALUES (10002, 'subtransaction', 2); RELEASE SAVEPOINT s;
         UPDATE events SET kind = 'changed by the open one' WHERE id = 17;",
    )
    .expect("write in the open transaction");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    tx.commit().expect("commit after the sync");

    db.execute(
        "UPDATE events SET n = -n WHERE id % 500 = 3;
         DELETE FROM events WHERE id % 700 = 5;
         INSERT INTO events SELECT g, 'new', g FROM generate_series(20001, 20100) g;",
    );
    // Frozen rows keep the id they were written by.
    db.execute("VACUUM (FREEZE) events");
    let s = delta(&db, &target, &["--no-backup"]);
    assert!(found_by(&s, "events").contains(FOUND_BY_XMIN), "{s}");
    let c = summary_table(&s, "events");
    assert_eq!(c["inserted"], 2 + 100, "{s}");
    assert_eq!(c["updated"], 1 + 10, "{s}");
    assert_eq!(c["deleted"], 8, "{s}");
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM events WHERE id IN (10001, 10002)"
        ),
        2
    );
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM events WHERE kind = 'changed by the open one'"
        ),
        1
    );
    assert_verified(&db, &target);

    // The delta recorded where it stood: the next one finds nothing to do,
    // the same way. Where it stood is the oldest transaction running in the
    // whole cluster when its snapshot was taken, and the other tests write
    // meanwhile: one of theirs still running then keeps the burst above (110
    // rows) inside the window. Those rows are read again and found
    // unchanged; anything more would be a window that does not move.
    let s = delta(&db, &target, &[]);
    assert!(found_by(&s, "events").contains(FOUND_BY_XMIN), "{s}");
    let c = summary_table(&s, "events");
    assert!(c["read"].as_u64().is_some_and(|n| n <= 110), "{s}");
    assert_eq!(c["unchanged"], c["read"], "{s}");
    let notes = s["notes"].to_string();
    assert!(
        notes.contains("no backup was taken") || notes.contains("undo was not kept"),
        "{s}"
    );
}

/// Another table under the same name (rows with old ids), and a file written
/// before the horizon was recorded: both compared by content, and the summary
/// says why; the next delta of the older file uses the ids again.
#[test]
fn a_replaced_table_and_an_older_file_are_compared_by_content() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL);
         INSERT INTO events SELECT g, 'old' FROM generate_series(1, 1000) g;
         CREATE TABLE events_next (id bigint PRIMARY KEY, kind text NOT NULL);
         INSERT INTO events_next SELECT g, 'next' FROM generate_series(1, 1000) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet", "--tables", "events"]).assert_success();
    let older = dir.path().join("older.db");
    std::fs::copy(&target, &older).expect("copy");
    rusqlite::Connection::open(&older)
        .and_then(|c| c.execute_batch("ALTER TABLE _pg2sqlite_sync DROP COLUMN pg_horizon"))
        .expect("a file of an earlier version");

    db.execute(
        "ALTER TABLE events RENAME TO events_old; ALTER TABLE events_next RENAME TO events;",
    );
    let s = delta(&db, &target, &["--no-backup"]);
    let how = found_by(&s, "events");
    assert!(how.contains("the table was replaced"), "{s}");
    assert_eq!(summary_table(&s, "events")["updated"], 1000, "{s}");
    assert_verified(&db, &target);

    let s = delta(&db, &older, &["--no-backup"]);
    assert!(found_by(&s, "events").starts_with("content"), "{s}");
    assert_eq!(summary_table(&s, "events")["updated"], 1000, "{s}");
    db.execute("UPDATE events SET kind = 'later' WHERE id = 5");
    let s = delta(&db, &older, &["--no-backup"]);
    assert!(found_by(&s, "events").contains(FOUND_BY_XMIN), "{s}");
    assert_eq!(summary_table(&s, "events")["updated"], 1, "{s}");
    assert_verified(&db, &older);
}
