//! The delta's backups (its undo, or with `--backup copy` a copy of the file)
//! do not fill the disk: none is kept when nothing changed, old ones go beyond
//! `--keep-backups`, and a file system without room for the backup is said so
//! before anything is written. A copy is the file as it was.

use std::path::Path;

use crate::common::*;

const SINCE: &str = "2020-01-01T00:00:00Z";

/// This tool's backups and undos beside the target.
fn backups(dir: &Path) -> Vec<String> {
    dir_entries(dir)
        .into_iter()
        .filter(|n| n.contains(".pg2sqlite-backup-") || n.contains(".pg2sqlite-undo-"))
        .collect()
}

fn delta(db: &TestDb, target: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--tables", "users", "--since", SINCE, "--quiet"];
    args.extend_from_slice(extra);
    sync(&db.url(), target, &args)
}

#[test]
fn a_delta_that_changes_nothing_keeps_no_backup_and_old_ones_are_pruned() {
    for kind in ["undo", "copy"] {
        let db = TestDb::with_demo();
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("app.db");
        sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();

        let r = delta(&db, &target, &["--backup", kind]);
        r.assert_success();
        assert!(
            backups(dir.path()).is_empty(),
            "{kind}: {:?}",
            backups(dir.path())
        );
        assert!(
            r.stdout.contains("no row changed, so the"),
            "{kind}: {}",
            r.stdout
        );

        // Three merges that change rows, keeping two backups: the newest two stay.
        let mut kept = Vec::new();
        for round in 1..=3 {
            db.execute(&format!(
                "UPDATE users SET name = name || '{round}', updated_at = now() WHERE id = {round}"
            ));
            let r = delta(&db, &target, &["--backup", kind, "--keep-backups", "2"]);
            r.assert_success();
            let now = backups(dir.path());
            kept.extend(
                now.iter()
                    .filter(|b| !kept.contains(*b))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            assert!(now.len() <= 2, "{kind}, round {round}: {now:?}");
        }
        let left = backups(dir.path());
        assert_eq!(
            left,
            kept[kept.len() - 2..].to_vec(),
            "{kind}: the newest two stay"
        );
        assert!(
            left.iter().all(|b| b.contains(&format!(
                ".pg2sqlite-{}-",
                if kind == "copy" { "backup" } else { "undo" }
            ))),
            "{kind}: {left:?}"
        );

        delta(&db, &target, &["--keep-backups", "0"])
            .assert_code(2)
            .assert_stderr_has(&["--keep-backups", "--no-backup"]);
    }
}

/// A file system too small for the backup (a tmpfs of the test's own; needs
/// root to mount): refused before anything is written, with how much is needed.
#[test]
fn no_room_for_the_backup_is_said_before_anything_is_written() {
    let Some(fs) = SmallFs::mount("6m") else {
        return;
    };
    let db = TestDb::with_demo();
    let mount = fs.path.clone();
    let target = mount.join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute("UPDATE users SET name = name || '!', updated_at = now() WHERE id <= 5");
    let before = std::fs::read(&target).expect("read");
    let r = delta(&db, &target, &["--backup", "copy"]);
    r.assert_code(2).assert_stderr_has(&[
        "the backup and the merge's journal need about",
        "MiB free",
        "--no-backup",
    ]);
    assert_eq!(std::fs::read(&target).expect("read"), before);
    assert!(backups(&mount).is_empty());
    // The undo needs no copy, only the journal's room, which is not there either.
    delta(&db, &target, &[])
        .assert_code(2)
        .assert_stderr_has(&["the merge's journal (kept as its undo) need about"]);
    assert_eq!(std::fs::read(&target).expect("read"), before);
    // Without a backup the merge fits.
    delta(&db, &target, &["--no-backup"]).assert_success();
}

/// Nothing changed in PostgreSQL after the since-time: the merge will write
/// nothing, so it takes no backup at all (no copy of the file, no disk); a
/// row deleted in PostgreSQL is a change, and the backup is taken and kept.
#[test]
fn a_delta_with_nothing_to_merge_takes_no_backup() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let since = "2026-01-01T00:00:00Z";
    db.execute("UPDATE users SET updated_at = '2025-06-01' WHERE updated_at > '2026-01-01'");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let before = std::fs::read(&target).expect("read");

    let r = sync(
        &db.url(),
        &target,
        &["--tables", "users", "--since", since, "--quiet"],
    );
    r.assert_success();
    assert!(r.stdout.contains("no backup was taken"), "{}", r.stdout);
    assert!(backups(dir.path()).is_empty(), "{:?}", backups(dir.path()));
    let after = std::fs::read(&target).expect("read");
    assert_eq!(after.len(), before.len(), "only bookkeeping rows changed");

    // A delete is a change: backed up first.
    db.execute(
        "DELETE FROM user_categories WHERE user_id = (SELECT max(id) FROM users);
         DELETE FROM sessions WHERE user_id = (SELECT max(id) FROM users);
         DELETE FROM users WHERE id = (SELECT max(id) FROM users)",
    );
    let r = sync(
        &db.url(),
        &target,
        &["--tables", "users", "--since", since, "--quiet"],
    );
    r.assert_success();
    assert_eq!(backups(dir.path()).len(), 1, "{}", r.stdout);
}

/// The backup of a target in rollback-journal mode is its bytes as they were
/// before the merge, every one of them (copied under a read lock, around the
/// page cache); the merge changed the target itself.
#[test]
fn the_backup_is_the_target_as_it_was_byte_for_byte() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let before = std::fs::read(&target).expect("read");
    db.execute("UPDATE users SET name = name || ' (renamed)', updated_at = now() WHERE id <= 40");

    delta(&db, &target, &["--backup", "copy"]).assert_success();
    let taken = backups(dir.path());
    assert_eq!(taken.len(), 1, "{taken:?}");
    let backup = std::fs::read(dir.path().join(&taken[0])).expect("read the backup");
    assert!(
        backup == before,
        "the backup differs from the target before the merge"
    );
    assert_ne!(std::fs::read(&target).expect("read"), before);
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM users WHERE name LIKE '% (renamed)'"
        ),
        40
    );
}

/// A target in WAL mode whose application still has it open, with committed
/// rows only in the WAL: the backup holds them (the file's bytes alone would
/// not).
#[test]
fn a_target_in_wal_mode_is_backed_up_with_the_rows_only_its_wal_holds() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let app = rusqlite::Connection::open(&target).expect("open");
    app.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .expect("WAL");
    app.execute_batch(
        "PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE app_notes (id INTEGER PRIMARY KEY, note TEXT);
         INSERT INTO app_notes (note) VALUES ('written since the cutover');",
    )
    .expect("the app writes");
    db.execute("UPDATE users SET name = name || '!', updated_at = now() WHERE id <= 3");

    delta(&db, &target, &[]).assert_success();
    drop(app);
    let taken = backups(dir.path());
    assert_eq!(taken.len(), 1, "{taken:?}");
    let backup = open_sqlite(&dir.path().join(&taken[0]));
    assert_eq!(
        sqlite_i64(
            &backup,
            "SELECT count(*) FROM app_notes WHERE note LIKE 'written%'"
        ),
        1
    );
    assert_eq!(
        sqlite_i64(&backup, "SELECT count(*) FROM users WHERE name LIKE '%!'"),
        0,
        "the backup is of the target before the merge"
    );
}
