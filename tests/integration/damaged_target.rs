//! A damaged target is refused, not merged into, backed up, reported on or
//! verified as if it were good: each kind of damage, through each command that
//! reads an existing file, judged by what is left on disk.

use std::path::Path;

use crate::common::*;

const DAMAGED: i32 = 4;

/// A target synced from the demo's users and sessions.
fn synced_target(db: &TestDb, dir: &Path) -> std::path::PathBuf {
    let target = dir.join("app.db");
    sync(
        &db.url(),
        &target,
        &["--tables", "users,sessions", "--quiet"],
    )
    .assert_success();
    target
}

/// The page size and the root page of `name` (a table or an index).
fn root_page(target: &Path, name: &str) -> (usize, usize) {
    let conn = open_sqlite(target);
    let page_size = sqlite_i64(&conn, "PRAGMA page_size");
    let root = sqlite_i64(
        &conn,
        &format!("SELECT rootpage FROM sqlite_master WHERE name = '{name}'"),
    );
    (
        usize::try_from(page_size).expect("page size"),
        usize::try_from(root).expect("root page"),
    )
}

/// Garbage over a b-tree page, after its 8-byte header: cell pointers and cells.
fn overwrite_page(target: &Path, name: &str) {
    let (page_size, root) = root_page(target, name);
    let mut bytes = std::fs::read(target).expect("read target");
    let start = (root - 1) * page_size + 8;
    for b in &mut bytes[start..start + page_size - 8] {
        *b = 0xA5;
    }
    std::fs::write(target, bytes).expect("write target");
}

/// A delta of the demo's users and sessions since 2020 into `target`.
fn merge_users_and_sessions(db: &TestDb, target: &Path, flags: &[&str]) -> Run {
    let mut args = vec![
        "--tables",
        "users,sessions",
        "--since",
        "2020-01-01T00:00:00Z",
    ];
    args.extend_from_slice(flags);
    sync(&db.url(), target, &args)
}

fn truncate_to_half(target: &Path) {
    let len = std::fs::metadata(target).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(target)
        .expect("open");
    f.set_len(len / 2).expect("truncate");
}

fn backups(dir: &Path) -> Vec<String> {
    dir_entries(dir)
        .into_iter()
        .filter(|n| n.contains(".pg2sqlite-backup-"))
        .collect()
}

/// Every command that reads an existing target refuses it with exit code 4,
/// changes no byte of it and takes no backup of it.
fn assert_refused_everywhere(db: &TestDb, dir: &Path, target: &Path, expect: &[&str]) {
    let before = std::fs::read(target).expect("read");
    let backups_before = backups(dir);
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    let runs = [
        (
            "sync --since",
            run(&[
                "sync",
                "--source",
                &url,
                "--target",
                t,
                "--tables",
                "users,sessions",
                "--since",
                "2020-01-01T00:00:00Z",
                "--quiet",
            ]),
        ),
        (
            "report",
            run(&[
                "report",
                "--source",
                &url,
                "--target",
                t,
                "--tables",
                "users,sessions",
            ]),
        ),
        (
            "verify",
            run(&[
                "verify",
                "--source",
                &url,
                "--target",
                t,
                "--tables",
                "users,sessions",
            ]),
        ),
    ];
    for (what, r) in &runs {
        assert_eq!(r.code, Some(DAMAGED), "{what}: {}", r.stderr);
        r.assert_stderr_has(expect);
        r.assert_stderr_has(&["is damaged", "nothing was written"]);
        assert_eq!(
            std::fs::read(target).expect("read"),
            before,
            "{what} changed the file"
        );
        assert_eq!(
            backups(dir),
            backups_before,
            "{what} took a backup of a damaged file"
        );
    }
}

#[test]
fn a_table_page_overwritten_is_refused_by_every_command() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    overwrite_page(&target, "users");
    assert_refused_everywhere(
        &db,
        dir.path(),
        &target,
        &["PRAGMA quick_check", "table users"],
    );
}

#[test]
fn an_index_page_overwritten_is_refused() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    overwrite_page(&target, "users_email_key");
    assert_refused_everywhere(&db, dir.path(), &target, &["index users_email_key"]);
}

#[test]
fn a_truncated_file_is_refused_and_the_newest_backup_is_named() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    // A delta that changes the file takes a backup; that is the one to name.
    // (An undo, the default, cannot restore a damaged file: it is not named.)
    db.execute("UPDATE users SET name = name || '!', updated_at = now() WHERE id <= 9");
    merge_users_and_sessions(&db, &target, &["--quiet"]).assert_success();
    db.execute("UPDATE users SET name = name || '!', updated_at = now() WHERE id <= 10");
    merge_users_and_sessions(&db, &target, &["--backup", "copy", "--quiet"]).assert_success();
    let taken = backups(dir.path());
    assert_eq!(taken.len(), 1, "{taken:?}");
    truncate_to_half(&target);
    assert_refused_everywhere(&db, dir.path(), &target, &[taken[0].as_str()]);
}

#[test]
fn a_delta_bundle_is_not_imported_into_a_damaged_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    let bundle = dir.path().join("delta-bundle");
    run(&[
        "export",
        "--source",
        &db.url(),
        "--out",
        bundle.to_str().expect("utf-8"),
        "--tables",
        "users,sessions",
        "--since",
        "2020-01-01T00:00:00Z",
        "--quiet",
    ])
    .assert_success();
    overwrite_page(&target, "sessions");
    let before = std::fs::read(&target).expect("read");
    let r = run(&[
        "import",
        "--from",
        bundle.to_str().expect("utf-8"),
        "--target",
        target.to_str().expect("utf-8"),
        "--quiet",
    ]);
    r.assert_code(DAMAGED)
        .assert_stderr_has(&["is damaged", "table sessions"]);
    assert_eq!(std::fs::read(&target).expect("read"), before);
    assert!(backups(dir.path()).is_empty());
}

#[test]
fn an_unknown_file_format_version_is_refused_as_unsupported() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    let mut bytes = std::fs::read(&target).expect("read");
    bytes[18] = 9;
    bytes[19] = 9;
    std::fs::write(&target, &bytes).expect("write");
    let r = sync(
        &db.url(),
        &target,
        &[
            "--tables",
            "users,sessions",
            "--since",
            "2020-01-01T00:00:00Z",
            "--quiet",
        ],
    );
    r.assert_code(2)
        .assert_stderr_has(&["file format versions 9/9"]);
    assert_eq!(std::fs::read(&target).expect("read"), bytes);
}

/// A target this tool left is not read whole again before the next merge; one
/// written since by another program is, even when that program set the file's
/// modification time back (SQLite's change counter moved).
#[test]
fn a_file_as_this_tool_left_it_is_not_checked_again_one_written_since_is() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = synced_target(&db, dir.path());
    let delta = || merge_users_and_sessions(&db, &target, &["-v"]);
    const SKIPPED: &str = "unchanged since this tool last left it sound";
    const CHECKED: &str = "changed since this tool last left it: it is checked whole";
    let r = delta();
    r.assert_success().assert_stderr_has(&[SKIPPED]);
    assert!(!r.stderr.contains("PRAGMA quick_check"), "{}", r.stderr);

    // Another program writes through SQLite, in place (the size stays), then
    // puts the time back: SQLite's change counter still tells.
    let before = std::fs::metadata(&target).expect("stat");
    let conn = rusqlite::Connection::open(&target).expect("open to write");
    conn.execute_batch(
        "UPDATE users SET name = substr(name, 2) || substr(name, 1, 1) WHERE id = (SELECT min(id) FROM users)",
    )
    .expect("write");
    drop(conn);
    std::fs::File::options()
        .write(true)
        .open(&target)
        .and_then(|f| f.set_modified(before.modified().expect("mtime")))
        .expect("set the time back");
    assert_eq!(
        std::fs::metadata(&target).expect("stat").len(),
        before.len()
    );
    let r = delta();
    r.assert_success()
        .assert_stderr_has(&[CHECKED, "PRAGMA quick_check"]);
    // That merge left the file sound again, and noted it.
    delta().assert_success().assert_stderr_has(&[SKIPPED]);

    // verify always reads the whole file.
    verify(&db.url(), &target, &["--tables", "users,sessions", "-v"])
        .assert_stderr_has(&["PRAGMA quick_check"]);
}
