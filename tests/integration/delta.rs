//! Delta sync: the last-write-wins merge of rows changed since a time into an
//! existing SQLite file, checked row by row against what the rules must give.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;

use crate::common::*;

const CUTOVER: &str = "2025-11-13T00:00:00Z";
const BEFORE: &str = "2025-11-01T00:00:00Z";

/// `users` with a cursor, `tags` without one, `notes` with NULL-able cursors.
fn create_app(db: &TestDb) {
    db.execute(&format!(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, score numeric(10,2),
                             updated_at timestamptz);
         CREATE INDEX ON users (updated_at);
         CREATE TABLE tags (id int PRIMARY KEY, label text);
         CREATE TABLE notes (k text PRIMARY KEY, body text, updated_at timestamp);
         CREATE INDEX ON notes (updated_at);
         INSERT INTO users SELECT g, 'user ' || g, g / 4.0, '{BEFORE}' FROM generate_series(1, 100) g;
         INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 10) g;
         INSERT INTO notes VALUES ('a', 'first', '2025-11-01 00:00:00'), ('b', 'second', NULL),
                                  ('c', 'third', '2025-11-01 00:00:00');"
    ));
}

/// The app of [`create_app`], fully synced into `app.db` of a new directory.
fn synced_app() -> (TestDb, tempfile::TempDir, std::path::PathBuf) {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    (db, dir, target)
}

fn sqlite_map(path: &Path, sql: &str) -> BTreeMap<String, Vec<Value>> {
    let conn = open_sqlite(path);
    sqlite_rows(&conn, sql)
        .into_iter()
        .map(|mut r| {
            let k = match r.remove(0) {
                Value::Integer(i) => i.to_string(),
                Value::Text(t) => t,
                other => panic!("unexpected key {other:?}"),
            };
            (k, r)
        })
        .collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn table_counts(summary: &serde_json::Value, table: &str) -> serde_json::Value {
    summary["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == table))
        .cloned()
        .unwrap_or_else(|| panic!("no table {table} in {summary}"))
}

/// Every rule of product.md on one scenario, then a second run that must
/// change nothing.
#[test]
fn last_write_wins_merge_follows_every_rule_and_is_idempotent() {
    let (db, _dir, target) = synced_app();

    // After the cutover, in PostgreSQL:
    db.execute(
        "UPDATE users SET name = 'pg newer', updated_at = '2025-11-14T00:00:00Z' WHERE id = 1;
         UPDATE users SET name = 'pg older', updated_at = '2025-11-14T00:00:00Z' WHERE id = 2;
         UPDATE users SET name = 'pg tie', updated_at = '2025-11-15T00:00:00Z' WHERE id = 3;
         UPDATE users SET name = 'pg wins late', updated_at = '2025-11-16T00:00:00Z' WHERE id = 4;
         INSERT INTO users VALUES (101, 'new in pg', 1.25, '2025-11-14T00:00:00Z');
         DELETE FROM users WHERE id IN (5, 6);
         UPDATE tags SET label = 'relabelled' WHERE id = 1;
         DELETE FROM tags WHERE id = 2;
         INSERT INTO tags VALUES (11, 'tag 11');
         UPDATE notes SET body = 'no cursor now', updated_at = NULL WHERE k = 'a';
         UPDATE notes SET body = 'second, edited' WHERE k = 'b';",
    );
    // ... and in SQLite, the app kept writing:
    {
        let conn = rusqlite::Connection::open(&target).expect("open");
        conn.execute_batch(
            "UPDATE users SET name = 'sqlite newer', updated_at = '2025-11-20T00:00:00Z' WHERE id = 2;
             UPDATE users SET name = 'sqlite tie', updated_at = '2025-11-15T00:00:00Z' WHERE id = 3;
             UPDATE users SET name = 'sqlite earlier', updated_at = '2025-11-15T00:00:00Z' WHERE id = 4;
             UPDATE users SET name = 'sqlite edit of a row pg deleted', updated_at = '2025-11-20T00:00:00Z' WHERE id = 6;
             INSERT INTO users VALUES (500, 'new in sqlite', NULL, '2025-11-21T00:00:00Z');",
        )
        .expect("app writes");
    }

    let run = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--json", "--quiet"],
    );
    run.assert_success();
    let summary = json(&run);

    let users = sqlite_map(
        &target,
        "SELECT id, name, updated_at FROM users ORDER BY id",
    );
    let name = |id: &str| users.get(id).map(|r| r[0].clone());
    assert_eq!(
        name("1"),
        Some(text("pg newer")),
        "PostgreSQL newer: updated"
    );
    assert_eq!(name("2"), Some(text("sqlite newer")), "SQLite newer: kept");
    assert_eq!(name("3"), Some(text("pg tie")), "a tie goes to PostgreSQL");
    assert_eq!(
        name("4"),
        Some(text("pg wins late")),
        "both changed, PostgreSQL later"
    );
    assert_eq!(name("101"), Some(text("new in pg")), "inserted");
    assert_eq!(
        name("5"),
        None,
        "deleted in PostgreSQL, untouched in SQLite: deleted"
    );
    assert_eq!(
        name("6"),
        Some(text("sqlite edit of a row pg deleted")),
        "deleted in PostgreSQL but edited in SQLite after the cutover: kept"
    );
    assert_eq!(
        name("500"),
        Some(text("new in sqlite")),
        "SQLite's own new row is kept"
    );
    assert_eq!(name("7"), Some(text("user 7")), "untouched rows stay");
    assert_eq!(users.len(), 100 + 1 - 1 + 1);
    assert_eq!(
        users.get("101").map(|r| r[1].clone()),
        Some(text("2025-11-14T00:00:00Z"))
    );

    let tags = sqlite_map(&target, "SELECT id, label FROM tags ORDER BY id");
    assert_eq!(tags.get("1"), Some(&vec![text("relabelled")]));
    assert_eq!(
        tags.get("2"),
        None,
        "table without cursor: deletes follow the keys"
    );
    assert_eq!(tags.get("11"), Some(&vec![text("tag 11")]));
    assert_eq!(tags.len(), 10);

    let notes = sqlite_map(&target, "SELECT k, body, updated_at FROM notes ORDER BY k");
    assert_eq!(
        notes.get("a"),
        Some(&vec![text("no cursor now"), Value::Null]),
        "a NULL cursor counts as changed"
    );
    assert_eq!(
        notes.get("b"),
        Some(&vec![text("second, edited"), Value::Null]),
        "a row whose cursor is NULL is read every time"
    );

    let u = table_counts(&summary, "users");
    assert_eq!(u["mode"], "delta");
    assert_eq!(u["inserted"], 1);
    assert_eq!(
        u["updated"], 3,
        "row 1, and rows 3 and 4 that PostgreSQL won"
    );
    assert_eq!(u["deleted"], 1);
    assert_eq!(
        u["conflicts"], 3,
        "rows 2, 3 and 4 were changed on both sides"
    );
    assert_eq!(u["kept_sqlite"], 1);
    assert_eq!(
        u["kept_deletes"], 1,
        "row 6, deleted in PostgreSQL and changed in SQLite"
    );
    assert_eq!(u["new_in_sqlite"], 1, "row 500, only SQLite has it");
    let t = table_counts(&summary, "tags");
    assert_eq!(t["mode"], "content");
    assert_eq!(
        (
            t["inserted"].as_u64(),
            t["updated"].as_u64(),
            t["deleted"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );

    // The state the file keeps about itself.
    let conn = open_sqlite(&target);
    let conflicts = sqlite_rows(
        &conn,
        "SELECT key, kind, postgres_cursor, sqlite_cursor, winner FROM _pg2sqlite_conflicts
          WHERE table_name = 'users' ORDER BY key, kind",
    );
    assert_eq!(
        conflicts,
        vec![
            vec![
                text(r#"{"id":2}"#),
                text("update"),
                text("2025-11-14T00:00:00Z"),
                text("2025-11-20T00:00:00Z"),
                text("sqlite")
            ],
            vec![
                text(r#"{"id":3}"#),
                text("update"),
                text("2025-11-15T00:00:00Z"),
                text("2025-11-15T00:00:00Z"),
                text("postgres")
            ],
            vec![
                text(r#"{"id":4}"#),
                text("update"),
                text("2025-11-16T00:00:00Z"),
                text("2025-11-15T00:00:00Z"),
                text("postgres")
            ],
            vec![
                text(r#"{"id":6}"#),
                text("kept_delete"),
                Value::Null,
                text("2025-11-20T00:00:00Z"),
                text("sqlite")
            ],
        ]
    );
    let state = sqlite_rows(
        &conn,
        "SELECT mode, cursor_column, since, inserted, deleted, conflicts FROM _pg2sqlite_sync
          WHERE table_name = 'users'",
    );
    assert_eq!(
        state,
        vec![vec![
            text("delta"),
            text("updated_at"),
            text(CUTOVER),
            Value::Integer(1),
            Value::Integer(1),
            Value::Integer(3)
        ]]
    );
    assert_sqlite_healthy(&conn);
    drop(conn);

    // The merge kept its undo (the file as it was before it is in the
    // `undo` tests, byte for byte).
    assert_eq!(summary["backup_kind"], "undo", "{summary}");
    let undo = summary["backup"].as_str().expect("the undo's path");
    assert!(Path::new(undo).join("journal").is_file(), "{undo}");

    // The same delta again changes nothing.
    let dump = |p: &Path| {
        let conn = open_sqlite(p);
        ["users", "tags", "notes"]
            .iter()
            .map(|t| sqlite_rows(&conn, &format!("SELECT * FROM {t} ORDER BY 1")))
            .collect::<Vec<_>>()
    };
    let after_first = dump(&target);
    let again = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--json", "--quiet"],
    );
    again.assert_success();
    let s2 = json(&again);
    for k in ["inserted", "updated", "deleted"] {
        assert_eq!(s2["totals"][k], 0, "second run {k}: {s2}");
    }
    assert_eq!(dump(&target), after_first, "a repeated delta changed data");
}

/// A transaction that started before a sync and commits after it wrote a
/// cursor older than that sync's start: the next sync must still pick it up.
#[test]
fn late_commit_is_picked_up_by_the_next_sync_from_the_stored_watermark() {
    let (db, _dir, target) = synced_app();

    let mut late = db.client();
    late.batch_execute("BEGIN; UPDATE users SET name = 'late', updated_at = now() WHERE id = 9;")
        .expect("open the late transaction");
    std::thread::sleep(Duration::from_millis(1200));
    db.execute("UPDATE users SET name = 'early', updated_at = now() WHERE id = 8");

    // --lag 0: only the watermark protects the late row.
    sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--lag", "0", "--quiet"],
    )
    .assert_success();
    let users = sqlite_map(
        &target,
        "SELECT id, name FROM users WHERE id IN (8, 9) ORDER BY id",
    );
    assert_eq!(users.get("8"), Some(&vec![text("early")]));
    assert_eq!(
        users.get("9"),
        Some(&vec![text("user 9")]),
        "not committed yet"
    );

    late.batch_execute("COMMIT").expect("commit");
    let run = sync(&db.url(), &target, &["--lag", "0", "--json", "--quiet"]);
    run.assert_success();
    let users = sqlite_map(
        &target,
        "SELECT id, name FROM users WHERE id IN (8, 9) ORDER BY id",
    );
    assert_eq!(
        users.get("9"),
        Some(&vec![text("late")]),
        "the late commit was lost"
    );
    assert_eq!(table_counts(&json(&run), "users")["updated"], 1);
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let (db, dir, target) = synced_app();
    db.execute(
        "UPDATE users SET name = 'x', updated_at = '2025-11-14T00:00:00Z' WHERE id <= 3;
         DELETE FROM users WHERE id = 50;",
    );
    let before = read_bytes(&target);
    let entries = dir_entries(dir.path());
    let run = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--dry-run", "--json", "--quiet"],
    );
    run.assert_success();
    let s = json(&run);
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["totals"]["updated"], 3);
    assert_eq!(s["totals"]["deleted"], 1);
    assert_eq!(read_bytes(&target), before, "the target changed");
    assert_eq!(
        dir_entries(dir.path()),
        entries,
        "files appeared (a backup?)"
    );

    let text_run = sync(&db.url(), &target, &["--since", CUTOVER, "--dry-run"]);
    text_run.assert_success();
    assert!(
        text_run.stdout.contains("dry run, nothing changed"),
        "{}",
        text_run.stdout
    );
}

#[test]
fn first_delta_needs_a_since_time_and_tables_need_a_key() {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    // A SQLite file pg2sqlite did not write: no state, so no delta without --since.
    {
        let conn = rusqlite::Connection::open(&target).expect("open");
        conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("create");
    }
    sync(&db.url(), &target, &[])
        .assert_code(2)
        .assert_stderr_has(&["--since", "--full"]);

    db.execute("CREATE TABLE events (at timestamptz, what text)");
    let before = read_bytes(&target);
    sync(&db.url(), &target, &["--since", CUTOVER])
        .assert_code(2)
        .assert_stderr_has(&["public.events", "no primary key", "--exclude events"]);
    sync(&db.url(), &target, &["--since", "yesterday"])
        .assert_code(2)
        .assert_stderr_has(&["RFC 3339"]);
    assert_eq!(read_bytes(&target), before);
}

/// Columns only PostgreSQL has are reported, tables only PostgreSQL has are
/// created, and `--deletes keep` keeps what PostgreSQL deleted.
#[test]
fn merge_into_an_older_schema_and_deletes_keep() {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    {
        let conn = rusqlite::Connection::open(&target).expect("open");
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT,
                                 nickname TEXT DEFAULT 'none');
             INSERT INTO users (id, name, updated_at) VALUES (1, 'old one', '2025-11-01T00:00:00Z'),
                                                            (999, 'gone in pg', '2025-11-01T00:00:00Z');",
        )
        .expect("old schema");
    }
    let run = sync(
        &db.url(),
        &target,
        &[
            "--since",
            "2025-01-01T00:00:00Z",
            "--deletes",
            "keep",
            "--no-backup",
        ],
    );
    run.assert_success();
    assert!(
        run.stdout.contains("score"),
        "the PostgreSQL-only column is reported:\n{}",
        run.stdout
    );
    let conn = open_sqlite(&target);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 101);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT name, nickname FROM users WHERE id IN (1, 999) ORDER BY id"
        ),
        vec![
            vec![text("user 1"), text("none")],
            vec![text("gone in pg"), text("none")]
        ]
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM tags"),
        10,
        "new table created"
    );
    assert_eq!(
        dir_entries(dir.path()).len(),
        1,
        "--no-backup wrote a backup"
    );
}

/// Stopped (SIGTERM) or killed (SIGKILL) in the middle of the merge, the target
/// is the old file.
#[test]
fn killed_merge_leaves_the_previous_file() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text, updated_at timestamptz);
         INSERT INTO big SELECT g, md5(g::text), '2025-11-01T00:00:00Z' FROM generate_series(1, 300000) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute("UPDATE big SET payload = 'changed', updated_at = '2025-11-14T00:00:00Z'");
    // Opened read-write, as the app would: SQLite rolls a hot journal back.
    let content = |p: &Path| {
        let conn = rusqlite::Connection::open(p).expect("open");
        sqlite_rows(
            &conn,
            "SELECT count(*), sum(length(payload)), max(updated_at) FROM big",
        )
    };
    let before = content(&target);

    let journal = dir.path().join("app.db-journal");
    for signal in ["TERM", "KILL"] {
        let mut child = Spawned::sync(&db.url(), &target, &["--since", CUTOVER, "--no-backup"]);
        poll_until(
            Duration::from_secs(120),
            "the merge transaction's journal",
            || {
                if let Some(status) = child.try_wait() {
                    panic!("pg2sqlite ended ({status}) before SIG{signal} could be sent");
                }
                journal.exists().then_some(())
            },
        );
        std::thread::sleep(Duration::from_millis(300));
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal} failed");
        let (_, run) = child.finish(Duration::from_secs(60));
        if signal == "TERM" {
            run.assert_code(3)
                .assert_stderr_has(&["SIGTERM", "rolled back"]);
        } else {
            assert!(
                journal.exists(),
                "killed outside the transaction: the test proves nothing"
            );
        }
        assert_eq!(
            content(&target),
            before,
            "SIG{signal} in the middle of the merge left a half-merged file"
        );
    }

    // And a run to the end merges everything.
    sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--quiet", "--no-backup"],
    )
    .assert_success();
    let after = content(&target);
    assert_eq!(
        after,
        vec![vec![
            Value::Integer(300_000),
            Value::Integer(300_000 * 7),
            text("2025-11-14T00:00:00Z")
        ]]
    );
}

/// Deletes are found whatever the key: a composite key (bucket comparison), a
/// uuid key (sorted comparison), the same stored as the app wrote it, without
/// dashes in upper case (sorted still), and a file mixing both forms, where keys
/// not stored as mapped are never deleted.
#[test]
fn deletes_are_found_for_composite_and_uuid_keys() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE pairs (a int, b text, v text, updated_at timestamptz, PRIMARY KEY (a, b));
         INSERT INTO pairs SELECT g % 7, 'k' || g, 'v', '2025-11-01Z' FROM generate_series(1, 500) g;
         CREATE TABLE docs (id uuid PRIMARY KEY, v text, updated_at timestamptz);
         INSERT INTO docs SELECT md5(g::text)::uuid, 'v', '2025-11-01Z' FROM generate_series(1, 500) g;
         CREATE TABLE many (id int PRIMARY KEY, updated_at timestamptz);
         INSERT INTO many SELECT g, '2025-11-01Z' FROM generate_series(-2000, 3000) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    let variant = |name: &str, sql: &str| {
        let path = dir.path().join(name);
        std::fs::copy(&target, &path).expect("copy");
        let conn = rusqlite::Connection::open(&path).expect("open");
        // An app's own file with its own key style: no base from an earlier sync.
        conn.execute_batch(sql).expect("app-style keys");
        conn.execute_batch("DROP TABLE _pg2sqlite_base; DROP TABLE _pg2sqlite_base_tables;")
            .expect("drop the base");
        path
    };
    let upper = variant(
        "upper.db",
        "UPDATE docs SET id = upper(replace(id, '-', ''))",
    );
    let mixed = variant(
        "mixed.db",
        "UPDATE docs SET id = upper(replace(id, '-', '')) WHERE rowid % 2 = 0",
    );
    db.execute(
        "DELETE FROM pairs WHERE a = 3 AND b IN ('k3', 'k10');
         DELETE FROM docs WHERE id IN (md5('1')::uuid, md5('2')::uuid, md5('3')::uuid);
         DELETE FROM many WHERE id % 2 = 0 OR id IN (-1999, 2999);",
    );
    for file in [&target, &upper, &mixed] {
        let run = sync(
            &db.url(),
            file,
            &["--since", CUTOVER, "--json", "--quiet", "--no-backup"],
        );
        run.assert_success();
        let s = json(&run);
        let notes = s["notes"].to_string();
        // The app-style copies have no base, so this once they are compared by
        // content and the cursor is not read.
        assert_eq!(
            notes.contains("no index on updated_at") && notes.contains("CREATE INDEX ON"),
            file == &target,
            "the missing cursor index is named when the cursor is read: {notes}"
        );
        let conn = open_sqlite(file);
        assert_eq!(
            table_counts(&s, "pairs")["deleted"],
            2,
            "{}",
            file.display()
        );
        assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM pairs"), 498);
        assert_eq!(
            sqlite_i64(
                &conn,
                "SELECT count(*) FROM pairs WHERE a = 3 AND b IN ('k3', 'k10')"
            ),
            0
        );
        // Integer keys: by key ranges, or (this many differing ranges) in one pass.
        assert_eq!(table_counts(&s, "many")["deleted"], 2503);
        assert_eq!(
            sqlite_i64(
                &conn,
                "SELECT count(*) FROM many WHERE id % 2 = 0 OR id IN (-1999, 2999)"
            ),
            0
        );
        assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM many"), 5001 - 2503);
        let docs = sqlite_i64(&conn, "SELECT count(*) FROM docs");
        if *file == mixed {
            // Only keys stored as mapped can be matched; the rest are kept and named.
            let deleted = table_counts(&s, "docs")["deleted"].as_i64().unwrap_or(-1);
            assert!((0..=3).contains(&deleted), "deleted {deleted}");
            assert_eq!(docs, 500 - deleted);
            assert!(s["notes"].to_string().contains("not stored the way"), "{s}");
        } else {
            assert_eq!(table_counts(&s, "docs")["deleted"], 3, "{}", file.display());
            assert_eq!(docs, 497);
        }
    }
}

/// uuid and text keys are compared by hashed buckets (PostgreSQL's hash index
/// functions, reproduced here): deletes, the rows the merge inserts and a row
/// PostgreSQL has with an older cursor (never read, so named as missing) come
/// out exactly, without sending every key.
#[test]
fn uuid_and_text_keys_are_compared_by_hashed_buckets() {
    let db = TestDb::new();
    db.execute(&format!(
        "CREATE TABLE docs (id uuid PRIMARY KEY, v text, updated_at timestamptz);
         CREATE INDEX ON docs (updated_at);
         INSERT INTO docs SELECT md5(g::text)::uuid, 'v', '{BEFORE}' FROM generate_series(1, 20000) g;
         CREATE TABLE slugs (slug text PRIMARY KEY, v text, updated_at timestamptz);
         CREATE INDEX ON slugs (updated_at);
         INSERT INTO slugs SELECT 'slug-' || g || '-é', 'v', '{BEFORE}' FROM generate_series(1, 20000) g;"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute(
        "DELETE FROM docs WHERE id IN (SELECT md5(g::text)::uuid FROM generate_series(1, 7) g);
         DELETE FROM slugs WHERE slug IN (SELECT 'slug-' || g || '-é' FROM generate_series(11, 15) g);
         INSERT INTO docs SELECT md5('new' || g)::uuid, 'new', '2025-11-20Z' FROM generate_series(1, 300) g;
         INSERT INTO slugs SELECT 'new-' || g, 'new', '2025-11-20Z' FROM generate_series(1, 300) g;
         UPDATE docs SET v = 'changed', updated_at = '2025-11-20Z'
          WHERE id IN (SELECT md5(g::text)::uuid FROM generate_series(100, 109) g);
         INSERT INTO docs VALUES (md5('older')::uuid, 'older', '2025-11-02Z');
         INSERT INTO slugs VALUES ('older', 'older', '2025-11-02Z');",
    );
    let run = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--json", "-v", "--no-backup"],
    );
    run.assert_success();
    let s = json(&run);
    for (table, sql) in [
        ("docs", "uuid_hash_extended"),
        ("slugs", "hashtextextended"),
    ] {
        // Both sides hashed alike: no fall back to reading every key in order.
        assert!(
            run.stderr.contains(sql)
                && !run
                    .stderr
                    .contains(&format!("FROM ONLY \"public\".\"{table}\" ORDER BY")),
            "{table}: compared by hashed buckets\n{}",
            run.stderr
        );
        // The 300 keys the merge reads are taken out of PostgreSQL's sums:
        // only the buckets of the deletes and of the older row differ.
        let differing: usize = run
            .stderr
            .split(&format!("keys of public.{table}: "))
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{table}: no count of differing buckets\n{}", run.stderr));
        assert!(differing <= 8, "{table}: {differing} buckets differ");
    }
    let docs = table_counts(&s, "docs");
    assert_eq!(docs["deleted"], 7, "{s}");
    assert_eq!(docs["inserted"], 300, "{s}");
    assert_eq!(docs["updated"], 10, "{s}");
    assert_eq!(docs["missing_older_count"], 1, "{s}");
    let older: String = db
        .client()
        .query_one("SELECT md5('older')", &[])
        .and_then(|r| r.try_get(0))
        .expect("md5");
    assert_eq!(docs["missing_older"][0], format!("id={older}"), "{s}");
    let slugs = table_counts(&s, "slugs");
    assert_eq!(slugs["deleted"], 5, "{s}");
    assert_eq!(slugs["inserted"], 300, "{s}");
    assert_eq!(
        slugs["missing_older"],
        serde_json::json!(["slug=older"]),
        "{s}"
    );
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM docs"),
        20000 - 7 + 300
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM slugs"),
        20000 - 5 + 300
    );
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM slugs WHERE slug IN ('slug-11-é', 'slug-15-é')"
        ),
        0
    );
}

/// A delta into a Prisma app's own SQLite file, through its schema map: the
/// cursor is `updatedAt` stored as INTEGER epoch milliseconds, ids are dashed
/// TEXT, booleans 0/1 — rows are matched, compared and written in those forms.
#[test]
fn delta_into_an_app_schema_uses_the_maps_cursor_and_representations() {
    let db = TestDb::new();
    db.load("apps/prisma.pg.sql");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("prisma.db");
    let sql = std::fs::read_to_string(fixture_path("apps/prisma.sqlite.sql")).expect("fixture");
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute_batch(&sql))
        .expect("the app's SQLite file");
    let map = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema-maps/prisma.toml");
    let map = map.to_str().expect("UTF-8 path");

    let run = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--map", map, "--json", "--quiet"],
    );
    run.assert_success();
    let s = json(&run);
    let user = table_counts(&s, "User");
    assert_eq!(
        (user["inserted"].as_u64(), user["updated"].as_u64()),
        (Some(1), Some(1))
    );
    // Ada changed on both sides after the cutover; PostgreSQL's change is later.
    assert_eq!(user["conflicts"], 1);
    let post = table_counts(&s, "Post");
    // Post 1: the same updatedAt millisecond on both sides, other views: a tie,
    // PostgreSQL wins.
    assert_eq!(
        (post["inserted"].as_u64(), post["updated"].as_u64()),
        (Some(1), Some(1))
    );

    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            r#"SELECT id, isAdmin, createdAt, updatedAt FROM "User" ORDER BY email"#
        ),
        vec![
            vec![
                text("5f0c7a9e-3b2d-4e1f-8a6b-9c0d1e2f3a4b"),
                Value::Integer(1),
                Value::Integer(1_763_022_600_123),
                Value::Integer(1_763_114_400_500)
            ],
            vec![
                text("6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"),
                Value::Integer(0),
                Value::Integer(-1),
                Value::Integer(1_763_024_400_000)
            ],
        ]
    );
    assert_eq!(
        sqlite_rows(
            &conn,
            r#"SELECT id, views, updatedAt FROM "Post" ORDER BY id"#
        ),
        vec![
            vec![
                Value::Integer(1),
                Value::Integer(42),
                Value::Integer(1_763_022_660_000)
            ],
            vec![
                Value::Integer(2),
                Value::Integer(0),
                Value::Integer(1_763_287_200_007)
            ],
        ]
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM _prisma_migrations"),
        1
    );
    drop(conn);

    // Again: nothing changes.
    let again = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--map", map, "--json", "--quiet"],
    );
    again.assert_success();
    let s2 = json(&again);
    for k in ["inserted", "updated", "deleted"] {
        assert_eq!(s2["totals"][k], 0, "second run {k}: {s2}");
    }
}

/// A table without a primary key is merged when the map names a unique key.
#[test]
fn map_key_stands_in_for_a_missing_primary_key() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE events (uid text NOT NULL UNIQUE, what text, updated_at timestamptz);
         INSERT INTO events VALUES ('a', 'first', '2025-11-01Z'), ('b', 'second', '2025-11-01Z');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute(
        "UPDATE events SET what = 'changed', updated_at = '2025-11-14Z' WHERE uid = 'a';
         DELETE FROM events WHERE uid = 'b';
         INSERT INTO events VALUES ('c', 'third', '2025-11-14Z');",
    );
    sync(&db.url(), &target, &["--since", CUTOVER])
        .assert_code(2)
        .assert_stderr_has(&["public.events", "no primary key", "key = [...]"]);
    let map = dir.path().join("map.toml");
    std::fs::write(&map, "[tables.events]\nkey = [\"uid\"]\n").expect("map");
    let map = map.to_str().expect("UTF-8 path");
    sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--map", map, "--quiet"],
    )
    .assert_success();
    assert_eq!(
        sqlite_map(&target, "SELECT uid, what FROM events ORDER BY uid"),
        BTreeMap::from([
            ("a".to_owned(), vec![text("changed")]),
            ("c".to_owned(), vec![text("third")]),
        ])
    );
}

/// Integer keys are compared by ranges of the key, each summed on both sides.
/// Sums of the keys alone cancel out: PostgreSQL deleting 50010 and 50013
/// while the app deleted 50011 and 50012 from SQLite leaves every range's
/// count and sum of keys equal. The deletes must still be found, and the rows
/// SQLite lacks named. Tables without deletes (`tags`, `notes`) are settled by
/// the totals of every key, the rows the merge reads left out, without the
/// sums per range or bucket.
#[test]
fn integer_key_deletes_that_sum_alike_on_both_sides_are_found() {
    let db = TestDb::new();
    db.execute(&format!(
        "CREATE TABLE items (id int8 PRIMARY KEY, v text, updated_at timestamptz);
         CREATE INDEX ON items (updated_at);
         INSERT INTO items SELECT g, 'v', '{BEFORE}' FROM generate_series(1, 100000) g;
         CREATE TABLE tags (id int4 PRIMARY KEY, v text, updated_at timestamptz);
         CREATE INDEX ON tags (updated_at);
         INSERT INTO tags SELECT g, 'v', '{BEFORE}' FROM generate_series(1, 20000) g;
         CREATE TABLE notes (id uuid PRIMARY KEY, v text, updated_at timestamptz);
         CREATE INDEX ON notes (updated_at);
         INSERT INTO notes SELECT md5(g::text)::uuid, 'v', '{BEFORE}' FROM generate_series(1, 20000) g;"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute_batch("DELETE FROM items WHERE id IN (50011, 50012)"))
        .expect("the app deletes two rows");
    db.execute(
        "DELETE FROM items WHERE id IN (50010, 50013);
         INSERT INTO tags SELECT g, 'new', '2025-11-20Z' FROM generate_series(20001, 20050) g;
         UPDATE tags SET v = 'changed', updated_at = '2025-11-20Z' WHERE id <= 5;
         INSERT INTO notes SELECT md5('new' || g)::uuid, 'new', '2025-11-20Z'
           FROM generate_series(1, 50) g;
         UPDATE notes SET v = 'changed', updated_at = '2025-11-20Z'
          WHERE id IN (SELECT md5(g::text)::uuid FROM generate_series(1, 5) g);",
    );
    let run = sync(
        &db.url(),
        &target,
        &["--since", CUTOVER, "--json", "-v", "--no-backup"],
    );
    run.assert_success();
    let s = json(&run);
    let items = table_counts(&s, "items");
    assert_eq!(items["deleted"], 2, "{s}");
    assert_eq!(
        items["missing_older"],
        serde_json::json!(["id=50011", "id=50012"]),
        "{s}"
    );
    // The totals of items differ (its deletes): its sums per range are asked
    // for, in the query the tables below must not need.
    assert!(
        run.stderr.contains("\"public\".\"items\" GROUP BY"),
        "{}",
        run.stderr
    );
    for table in ["tags", "notes"] {
        let counts = table_counts(&s, table);
        assert_eq!(
            (&counts["inserted"], &counts["updated"], &counts["deleted"]),
            (
                &serde_json::json!(50),
                &serde_json::json!(5),
                &serde_json::json!(0)
            ),
            "{s}"
        );
        assert!(
            run.stderr.contains(&format!(
                "keys of public.{table}: every key's count and hash sums agree (55 keys the merge \
                 reads left out)"
            )) && !run
                .stderr
                .lines()
                .any(|l| l.contains(&format!("\"public\".\"{table}\" GROUP BY"))
                    || l.contains(&format!("\"public\".\"{table}\") k GROUP BY"))),
            "{table}: settled by the totals\n{}",
            run.stderr
        );
    }
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM items WHERE id BETWEEN 50010 AND 50013"
        ),
        0
    );
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM items"), 99996);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM tags"), 20050);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM notes"), 20050);
}
