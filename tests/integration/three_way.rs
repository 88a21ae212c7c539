//! Three-way delta merges (issue 10): an ORM-like schema — a self-reference,
//! parents and children with ON DELETE CASCADE and SET NULL, a table whose only
//! timestamp is `created_at`, a table without timestamps, a many-to-many join
//! table — changed on both sides between six consecutive syncs. After each, the
//! file must hold exactly the expected result: `verify` lists as different
//! precisely the rows SQLite kept on purpose, and no foreign key is broken.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;

/// Rows start with old timestamps, so that only what a step changes falls in
/// the default 5-minute lag window of the next delta.
fn create_app(db: &TestDb) {
    db.execute(
        "CREATE TABLE author (id bigint PRIMARY KEY, name text NOT NULL,
                              mentor_id bigint REFERENCES author (id) ON DELETE SET NULL,
                              updated_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX ON author (updated_at);
         CREATE TABLE book (id bigint PRIMARY KEY,
                            author_id bigint NOT NULL REFERENCES author (id) ON DELETE CASCADE,
                            title text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX ON book (updated_at);
         CREATE TABLE review (id bigint PRIMARY KEY,
                              book_id bigint REFERENCES book (id) ON DELETE SET NULL,
                              body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE tag (id int PRIMARY KEY, label text NOT NULL);
         CREATE TABLE book_tag (book_id bigint REFERENCES book (id) ON DELETE CASCADE,
                                tag_id int REFERENCES tag (id) ON DELETE CASCADE,
                                PRIMARY KEY (book_id, tag_id));
         INSERT INTO author VALUES (1, 'Ann', NULL, '2025-01-01T00:00:00Z'),
                                   (2, 'Bob', 1, '2025-01-01T00:00:00Z'),
                                   (3, 'Cid', 1, '2025-01-01T00:00:00Z'),
                                   (4, 'Dee', NULL, '2025-01-01T00:00:00Z');
         INSERT INTO book VALUES (10, 1, 'A1', '2025-01-01T00:00:00Z'),
                                 (11, 2, 'B1', '2025-01-01T00:00:00Z'),
                                 (12, 3, 'C1', '2025-01-01T00:00:00Z'),
                                 (13, 4, 'D1', '2025-01-01T00:00:00Z');
         INSERT INTO review VALUES (100, 10, 'good', '2025-01-01T00:00:00Z'),
                                   (101, 11, 'meh', '2025-01-01T00:00:00Z'),
                                   (102, 12, 'ok', '2025-01-01T00:00:00Z'),
                                   (103, 13, 'fine', '2025-01-01T00:00:00Z');
         INSERT INTO tag VALUES (1, 'red'), (2, 'blue'), (3, 'green');
         INSERT INTO book_tag VALUES (10, 1), (10, 2), (11, 2), (12, 3), (13, 1);",
    );
}

/// What the app does to its SQLite file between syncs.
fn in_sqlite(target: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(target).expect("open");
    conn.execute_batch(sql).expect("app writes to SQLite");
}

/// Runs a delta continuing from the stored watermark; returns its summary.
fn delta(db: &TestDb, target: &Path) -> serde_json::Value {
    let run = sync(&db.url(), target, &["--json", "--quiet", "--no-backup"]);
    run.assert_success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `verify`'s differences as `table kind key` lines, and its foreign-key count.
/// Right after a delta, every difference must be one SQLite made (kept on
/// purpose), and verify must say so.
fn differences(db: &TestDb, target: &Path) -> (BTreeSet<String>, u64) {
    let (out, fk, by_side) = differences_by_side(db, target);
    assert_eq!(
        by_side,
        (u64::try_from(out.len()).unwrap_or(0), 0),
        "every difference is SQLite's: {out:?}"
    );
    (out, fk)
}

/// `verify`'s differences, its foreign-key count, and how many differences
/// it attributes to SQLite and to PostgreSQL.
fn differences_by_side(db: &TestDb, target: &Path) -> (BTreeSet<String>, u64, (u64, u64)) {
    let target = target.to_str().expect("utf-8 path");
    let run = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target,
        "--json",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let mut out = BTreeSet::new();
    let mut by_side = (0, 0);
    for t in v["tables"].as_array().expect("tables") {
        let name = t["table"].as_str().unwrap_or("?");
        by_side.0 += t["by_side"]["sqlite"].as_u64().unwrap_or(0);
        by_side.1 += t["by_side"]["postgres"].as_u64().unwrap_or(0);
        assert_eq!(t["unlocated_buckets"], 0, "{t}");
        for (kind, list) in [("missing", &t["missing"]), ("extra", &t["extra"])] {
            for k in list.as_array().expect("list") {
                out.insert(format!("{name} {kind} {}", k.as_str().unwrap_or("?")));
            }
        }
        for c in t["changed"].as_array().expect("changed") {
            out.insert(format!(
                "{name} changed {}",
                c["key"].as_str().unwrap_or("?")
            ));
        }
    }
    let fk = v["health"]["foreign_key_violations"].as_u64().unwrap_or(99);
    (out, fk, by_side)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn counts(summary: &serde_json::Value, table: &str) -> serde_json::Value {
    summary["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == table))
        .cloned()
        .unwrap_or_else(|| panic!("no table {table} in {summary}"))
}

fn one(target: &Path, sql: &str) -> String {
    let conn = open_sqlite(target);
    conn.query_row(sql, [], |r| {
        Ok(match r.get_ref(0)? {
            rusqlite::types::ValueRef::Null => "NULL".to_owned(),
            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            other => format!("{other:?}"),
        })
    })
    .unwrap_or_else(|e| format!("no row: {e}"))
}

#[test]
fn six_syncs_with_changes_on_both_sides_leave_the_three_way_result() {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    assert_eq!(differences(&db, &target), (set(&[]), 0));

    // 1. PostgreSQL edits a created_at-only row and a row without timestamps,
    //    adds an author with a book, drops a link. The app edits a book in
    //    SQLite without touching its cursor (a bulk update) and adds a tag.
    db.execute(
        "UPDATE review SET body = 'great' WHERE id = 100;
         UPDATE tag SET label = 'navy' WHERE id = 2;
         INSERT INTO author (id, name) VALUES (5, 'Eve');
         INSERT INTO book (id, author_id, title) VALUES (14, 5, 'E1');
         DELETE FROM book_tag WHERE book_id = 13 AND tag_id = 1;",
    );
    in_sqlite(
        &target,
        "UPDATE book SET title = 'B1 (sqlite)' WHERE id = 11;
         INSERT INTO tag VALUES (4, 'sqlite tag');",
    );
    let s = delta(&db, &target);
    assert_eq!(counts(&s, "review")["mode"], "content", "{s}");
    assert_eq!(counts(&s, "review")["updated"], 1, "{s}");
    assert_eq!(counts(&s, "tag")["updated"], 1, "{s}");
    assert_eq!(counts(&s, "book")["kept_sqlite_changes"], 0, "{s}");
    assert_eq!(counts(&s, "book_tag")["deleted"], 1, "{s}");
    assert_eq!(counts(&s, "tag")["new_in_sqlite"], 1, "{s}");
    assert_eq!(
        differences(&db, &target),
        (set(&["book changed id=11", "tag extra id=4"]), 0),
        "after sync 1"
    );
    assert_eq!(
        one(&target, "SELECT body FROM review WHERE id = 100"),
        "great"
    );

    // 2. PostgreSQL deletes author 3: its book goes (CASCADE) with the book's
    //    link, and the book's review loses its book (SET NULL). Both sides edit
    //    book 13; SQLite's cursor is the later one.
    db.execute(
        "DELETE FROM author WHERE id = 3;
         UPDATE book SET title = 'D2', updated_at = now() WHERE id = 13;",
    );
    in_sqlite(
        &target,
        "UPDATE book SET title = 'D1 (sqlite)', updated_at = '2030-01-01T00:00:00Z'
          WHERE id = 13;",
    );
    let s = delta(&db, &target);
    assert_eq!(counts(&s, "book")["conflicts"], 1, "{s}");
    assert_eq!(counts(&s, "book")["kept_sqlite"], 1, "{s}");
    assert_eq!(counts(&s, "author")["deleted"], 1, "{s}");
    assert_eq!(
        differences(&db, &target),
        (
            set(&["book changed id=11", "book changed id=13", "tag extra id=4"]),
            0
        ),
        "after sync 2"
    );
    assert_eq!(one(&target, "SELECT count(*) FROM book WHERE id = 12"), "0");
    assert_eq!(
        one(&target, "SELECT book_id FROM review WHERE id = 102"),
        "NULL"
    );
    assert_eq!(
        one(&target, "SELECT title FROM book WHERE id = 13"),
        "D1 (sqlite)"
    );

    // 3. PostgreSQL deletes author 1: author 2's mentor becomes NULL without
    //    its cursor moving (found through the broken foreign key), book 10 and
    //    its links go, review 100 loses its book. A row inserted and deleted in
    //    PostgreSQL between syncs never appears. The app deletes a review.
    db.execute(
        "DELETE FROM author WHERE id = 1;
         INSERT INTO author (id, name) VALUES (6, 'Flo');
         DELETE FROM author WHERE id = 6;",
    );
    in_sqlite(&target, "DELETE FROM review WHERE id = 103;");
    let s = delta(&db, &target);
    assert!(
        s["foreign_key_repairs"].as_u64().unwrap_or(0) >= 1,
        "author 2 was read again: {s}"
    );
    assert_eq!(
        differences(&db, &target),
        (
            set(&[
                "book changed id=11",
                "book changed id=13",
                "review missing id=103",
                "tag extra id=4"
            ]),
            0
        ),
        "after sync 3"
    );
    assert_eq!(
        one(&target, "SELECT mentor_id FROM author WHERE id = 2"),
        "NULL"
    );
    assert_eq!(
        one(&target, "SELECT count(*) FROM book_tag WHERE book_id = 10"),
        "0"
    );

    // 4. Inside the lag window of the last sync: PostgreSQL edits book 11,
    //    which SQLite changed in step 1 (both changed: PostgreSQL's cursor is
    //    later), deletes book 14 that sync 1 copied seconds after it was made,
    //    adds a tag. The app edits a tag PostgreSQL left alone since sync 1.
    db.execute(
        "UPDATE book SET title = 'B2', updated_at = now() WHERE id = 11;
         DELETE FROM book WHERE id = 14;
         INSERT INTO tag VALUES (5, 'pg tag');",
    );
    in_sqlite(
        &target,
        "UPDATE tag SET label = 'sqlite navy' WHERE id = 2;",
    );
    let s = delta(&db, &target);
    assert_eq!(counts(&s, "book")["deleted"], 1, "{s}");
    assert_eq!(
        differences(&db, &target),
        (
            set(&[
                "book changed id=13",
                "review missing id=103",
                "tag changed id=2",
                "tag extra id=4"
            ]),
            0
        ),
        "after sync 4"
    );
    assert_eq!(one(&target, "SELECT title FROM book WHERE id = 11"), "B2");

    // 5. Both sides change tag 2 (no cursor: PostgreSQL wins), PostgreSQL
    //    deletes the review SQLite already deleted, the app drops its own tag
    //    and links a book to a tag.
    db.execute(
        "UPDATE tag SET label = 'teal' WHERE id = 2;
         DELETE FROM review WHERE id = 103;",
    );
    in_sqlite(
        &target,
        "DELETE FROM tag WHERE id = 4;
         INSERT INTO book_tag VALUES (13, 3);",
    );
    let s = delta(&db, &target);
    assert_eq!(counts(&s, "tag")["conflicts"], 1, "{s}");
    assert_eq!(
        differences(&db, &target),
        (
            set(&["book changed id=13", "book_tag extra book_id=13, tag_id=3"]),
            0
        ),
        "after sync 5"
    );
    assert_eq!(one(&target, "SELECT label FROM tag WHERE id = 2"), "teal");

    // 6. Nothing changed anywhere: nothing is written.
    let s = delta(&db, &target);
    let t = &s["totals"];
    assert_eq!(
        (
            t["inserted"].as_u64(),
            t["updated"].as_u64(),
            t["deleted"].as_u64(),
            t["conflicts"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "{s}"
    );
    assert_eq!(
        differences(&db, &target),
        (
            set(&["book changed id=13", "book_tag extra book_id=13, tag_id=3"]),
            0
        ),
        "after sync 6"
    );

    // Changes PostgreSQL made since are told apart from SQLite's.
    db.execute(
        "UPDATE tag SET label = 'pg again' WHERE id = 1;
         INSERT INTO tag VALUES (7, 'pg new');",
    );
    let (diff, _, by_side) = differences_by_side(&db, &target);
    assert_eq!(diff.len(), 4, "{diff:?}");
    assert_eq!(by_side, (2, 2), "{diff:?}");
    let text = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().expect("utf-8 path"),
    ]);
    assert!(
        text.stdout
            .contains("2 PostgreSQL changed since the last sync (the next delta brings them)"),
        "{}",
        text.stdout
    );
}

/// A row SQLite changed whose parent PostgreSQL deleted (and with it, by
/// CASCADE, the row): keeping SQLite's row would break its foreign key, so the
/// merge is rolled back with the row named, and the file is unchanged.
#[test]
fn a_kept_row_whose_parent_is_gone_rolls_the_merge_back() {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    in_sqlite(
        &target,
        "UPDATE book SET title = 'A1 (sqlite)' WHERE id = 10;",
    );
    db.execute("DELETE FROM author WHERE id = 4; DELETE FROM author WHERE id = 1;");
    let before = read_bytes(&target);
    let run = sync(&db.url(), &target, &["--quiet", "--no-backup"]);
    run.assert_code(1).assert_stderr_has(&[
        "foreign key",
        "book {\"id\":10} references a missing row of author",
        "rolled back",
    ]);
    assert_eq!(read_bytes(&target), before, "the file is unchanged");
}

/// Content comparison reads an integer key in key order on both sides; a
/// SQLite key column holding something else (an app's bad row) ends that
/// method, and the bucket method finds the changes instead, leaving the odd
/// row alone.
#[test]
fn a_non_integer_key_in_sqlite_falls_back_to_buckets() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE item (id bigint PRIMARY KEY, v text NOT NULL);
         INSERT INTO item SELECT g, 'v' || g FROM generate_series(1, 300) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute("UPDATE item SET v = 'changed' WHERE id IN (7, 250)");
    // `item.id` is `INTEGER PRIMARY KEY` in the file; an app writing to a
    // plain BIGINT key column can store text there. Without the horizon the
    // sync recorded (a file of an earlier version), the changes are found by
    // comparing content, not by the rows written since.
    in_sqlite(
        &target,
        "UPDATE _pg2sqlite_sync SET pg_horizon = NULL;
         CREATE TABLE item2 (id BIGINT PRIMARY KEY, v TEXT NOT NULL);
         INSERT INTO item2 SELECT id, v FROM item;
         DROP TABLE item; ALTER TABLE item2 RENAME TO item;
         INSERT INTO item VALUES ('not a number', 'odd');",
    );
    let s = delta(&db, &target);
    let item = counts(&s, "item");
    assert_eq!(item["updated"], 2, "{s}");
    assert!(
        item["found_by"]
            .as_str()
            .is_some_and(|f| f.contains("bucket")),
        "the bucket method took over: {item}"
    );
    assert_eq!(one(&target, "SELECT v FROM item WHERE id = 250"), "changed");
    assert_eq!(
        one(&target, "SELECT v FROM item WHERE id = 'not a number'"),
        "odd"
    );
}

/// A parent no delta reads (PostgreSQL inserted it with an old cursor) and a
/// parent SQLite deleted: rows the merge writes point at both, so both are
/// read from PostgreSQL and merged rather than leaving broken foreign keys.
#[test]
fn parents_the_merged_rows_point_at_are_brought_along() {
    let db = TestDb::new();
    create_app(&db);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    in_sqlite(
        &target,
        "PRAGMA foreign_keys = OFF; DELETE FROM author WHERE id = 4;",
    );
    db.execute(
        "INSERT INTO author VALUES (8, 'Old cursor', NULL, '2025-01-01T00:00:00Z');
         INSERT INTO book (id, author_id, title) VALUES (20, 8, 'new book');
         UPDATE book SET title = 'D2', updated_at = now() WHERE id = 13;",
    );
    let s = delta(&db, &target);
    assert!(s["foreign_key_repairs"].as_u64().unwrap_or(0) >= 2, "{s}");
    assert_eq!(
        one(&target, "SELECT name FROM author WHERE id = 8"),
        "Old cursor"
    );
    assert_eq!(one(&target, "SELECT name FROM author WHERE id = 4"), "Dee");
    assert_eq!(
        counts(&s, "author")["conflicts"],
        1,
        "author 4 came back: {s}"
    );
    assert_eq!(differences(&db, &target), (set(&[]), 0));
}

/// The rows PostgreSQL has and SQLite deleted are reported after the merge,
/// whichever way the merge learnt of them: a row older than the since-time the
/// delta never reads, and a row the delta reads (its cursor is later) which
/// PostgreSQL did not change since the last sync, so SQLite's delete stands.
/// Rows the merge brings in are not among them, and PostgreSQL's delete is
/// applied.
#[test]
fn rows_sqlite_deleted_are_reported_missing_and_new_rows_are_not() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE item (id bigint PRIMARY KEY, v text NOT NULL,
                            updated_at timestamptz NOT NULL);
         CREATE INDEX ON item (updated_at);
         INSERT INTO item VALUES (1, 'a', '2025-01-01T00:00:00Z'), (2, 'b', '2025-01-01T00:00:00Z'),
                                 (3, 'c', '2025-01-01T00:00:00Z'), (4, 'd', '2025-06-01T00:00:00Z'),
                                 (5, 'e', '2025-06-01T00:00:00Z'), (6, 'f', '2025-06-01T00:00:00Z');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    in_sqlite(&target, "DELETE FROM item WHERE id IN (2, 5);");
    db.execute(
        "DELETE FROM item WHERE id = 1;
         UPDATE item SET v = 'd2', updated_at = '2025-06-02T00:00:00Z' WHERE id = 4;
         INSERT INTO item VALUES (7, 'g', '2025-06-03T00:00:00Z');",
    );
    let run = sync(
        &db.url(),
        &target,
        &[
            "--json",
            "--quiet",
            "--no-backup",
            "--since",
            "2025-03-01T00:00:00Z",
        ],
    );
    run.assert_success();
    let s: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let item = counts(&s, "item");
    assert_eq!(item["inserted"], 1, "{s}");
    assert_eq!(item["updated"], 1, "{s}");
    assert_eq!(item["deleted"], 1, "{s}");
    assert_eq!(item["kept_sqlite_deletes"], 1, "{s}");
    assert_eq!(item["missing_older_count"], 2, "{s}");
    let listed: BTreeSet<String> = item["missing_older"]
        .as_array()
        .expect("missing_older")
        .iter()
        .map(|k| k.as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(listed, set(&["id=2", "id=5"]), "{s}");
    assert_eq!(
        one(
            &target,
            "SELECT group_concat(id) FROM (SELECT id FROM item ORDER BY id)"
        ),
        "3,4,6,7"
    );
    assert_eq!(one(&target, "SELECT v FROM item WHERE id = 4"), "d2");
}
