//! Full and read-only file systems, for real (a small tmpfs of the test's own;
//! needs root to mount): the copy, the merge's journal and an export running out
//! of space, and a target on a read-only mount. Each fails with a clear message
//! and leaves the previous target (or bundle) as it was, and nothing half-written.

use std::path::Path;

use crate::common::*;

fn rows_of(target: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let conn = rusqlite::Connection::open(target).expect("open");
    assert_sqlite_healthy(&conn);
    sqlite_rows(&conn, "SELECT * FROM users ORDER BY id")
}

fn leftovers(dir: &Path) -> Vec<String> {
    dir_entries(dir)
        .into_iter()
        .filter(|n| n.contains("staging") || n.ends_with(".partial") || n.ends_with("-journal"))
        .collect()
}

#[test]
fn the_copy_running_out_of_space_keeps_the_previous_target() {
    let Some(fs) = SmallFs::mount("2m") else {
        return;
    };
    let db = TestDb::with_demo();
    let target = fs.path.join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let before = rows_of(&target);
    let r = sync(&db.url(), &target, &["--full", "--quiet"]);
    r.assert_code(3).assert_stderr_has(&["full", "free space"]);
    assert_eq!(rows_of(&target), before);
    assert!(leftovers(&fs.path).is_empty(), "{:?}", leftovers(&fs.path));
}

#[test]
fn the_merge_journal_running_out_of_space_rolls_back() {
    let Some(fs) = SmallFs::mount("16m") else {
        return;
    };
    let db = TestDb::with_demo();
    let target = fs.path.join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    db.execute("UPDATE users SET name = repeat('x', 200), updated_at = now()");
    let before = rows_of(&target);
    fs.fill_leaving(8 * 1024);
    let r = sync(
        &db.url(),
        &target,
        &[
            "--tables",
            "users",
            "--since",
            "2020-01-01T00:00:00Z",
            "--no-backup",
            "--quiet",
        ],
    );
    r.assert_code(3).assert_stderr_has(&["full"]);
    fs.unfill();
    assert_eq!(rows_of(&target), before, "the merge was not rolled back");
    assert!(leftovers(&fs.path).is_empty(), "{:?}", leftovers(&fs.path));
    sync(
        &db.url(),
        &target,
        &[
            "--tables",
            "users",
            "--since",
            "2020-01-01T00:00:00Z",
            "--quiet",
        ],
    )
    .assert_success();
}

#[test]
fn an_export_running_out_of_space_leaves_no_partial_bundle() {
    let Some(fs) = SmallFs::mount("1m") else {
        return;
    };
    let db = TestDb::with_demo();
    let out = fs.path.join("bundle");
    let r = run(&[
        "export",
        "--source",
        &db.url(),
        "--out",
        out.to_str().expect("utf-8"),
        "--format",
        "csv",
        "--quiet",
    ]);
    r.assert_code(3).assert_stderr_has(&["No space left"]);
    assert!(
        dir_entries(&fs.path).is_empty(),
        "{:?}",
        dir_entries(&fs.path)
    );
}

#[test]
fn a_target_on_a_read_only_file_system_is_refused_and_kept() {
    let Some(fs) = SmallFs::mount("8m") else {
        return;
    };
    let db = TestDb::with_demo();
    let target = fs.path.join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    db.execute("UPDATE users SET name = 'ro', updated_at = now() WHERE id = 1");
    let before = std::fs::read(&target).expect("read");
    fs.set_read_only(true);
    for args in [
        vec!["--tables", "users", "--full", "--quiet"],
        vec![
            "--tables",
            "users",
            "--since",
            "2020-01-01T00:00:00Z",
            "--quiet",
        ],
    ] {
        let r = sync(&db.url(), &target, &args);
        assert!(
            matches!(r.code, Some(2 | 3)),
            "{args:?}: {:?}\n{}",
            r.code,
            r.stderr
        );
        assert!(
            r.stderr.contains("Read-only file system") || r.stderr.contains("read-only"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(std::fs::read(&target).expect("read"), before, "{args:?}");
    }
    fs.set_read_only(false);
}
