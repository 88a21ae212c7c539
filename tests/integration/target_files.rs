//! The files around the target: a relative target, and SQLite's side files
//! (`-wal`) left by the application that used the previous target.

use std::collections::BTreeSet;

use rusqlite::types::Value;

use crate::common::*;

#[test]
fn relative_target_is_staged_and_written_in_the_current_directory() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pg2sqlite()
        .current_dir(dir.path())
        .args([
            "sync",
            "--source",
            &db.url(),
            "--target",
            "app.db",
            "--tables",
            "users",
            "--quiet",
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );
    let conn = open_sqlite(&dir.path().join("app.db"));
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2000);
}

/// The previous target was used in WAL mode by an application that did not
/// close it cleanly (crashed, or is still running): `app.db-wal` holds committed
/// pages of the *old* database. Renaming a new file over `app.db` and leaving
/// that WAL beside it makes SQLite replay the old pages over the new copy the
/// next time anyone opens it. pg2sqlite must either refuse (usage error, nothing
/// touched) or publish a copy that reads back as the new data.
#[test]
fn leftover_wal_of_the_previous_target_does_not_shadow_the_new_copy() {
    let db = TestDb::with_demo();
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let wal = dir.path().join("app.db-wal");
    {
        // Build the crashed state: the database file and its WAL as they are on
        // disk while the application holds the database open.
        let live = scratch.path().join("app.db");
        let conn = rusqlite::Connection::open(&live).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE old_stuff (id INTEGER PRIMARY KEY, v TEXT);
             WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 2000)
             INSERT INTO old_stuff SELECT i, printf('%.200c', 'x') FROM g;",
        )
        .expect("writing the old database");
        std::fs::copy(&live, &target).expect("copy db");
        std::fs::copy(scratch.path().join("app.db-wal"), &wal).expect("copy wal");
    }
    let (old_db, old_wal) = (read_bytes(&target), read_bytes(&wal));
    assert!(old_wal.len() > 100_000, "the WAL holds the old data");

    let run = sync(
        &db.url(),
        &target,
        &["--tables", "users,categories", "--full", "--quiet"],
    );
    if run.code == Some(2) {
        // Refused: everything as it was, and the message says why.
        run.assert_stderr_has(&["app.db-wal"]);
        assert_eq!(read_bytes(&target), old_db);
        assert_eq!(read_bytes(&wal), old_wal);
        return;
    }
    run.assert_success();
    let conn = open_sqlite(&target);
    let tables = sqlite_tables(&conn);
    assert_eq!(
        tables,
        BTreeSet::from(["categories".to_owned(), "users".to_owned()]),
        "after a successful sync, opening the target shows the old database's WAL \
         instead of the new copy"
    );
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2000);
    assert_eq!(
        sqlite_rows(&conn, "PRAGMA integrity_check"),
        vec![vec![Value::Text("ok".into())]]
    );
}

/// A 1 MiB tmpfs, unmounted on drop.
struct SmallFileSystem {
    dir: tempfile::TempDir,
}

impl SmallFileSystem {
    /// `None` when this machine does not let the test mount one (not root, or
    /// no mount permission in the container).
    fn mount() -> Option<SmallFileSystem> {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallFileSystem { dir })
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn full_disk_fails_the_run_and_keeps_the_previous_target() {
    let Some(fs) = SmallFileSystem::mount() else {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    };
    let db = TestDb::with_demo();
    let target = fs.dir.path().join("app.db");
    let previous = write_previous_sqlite(&target);

    // users + sessions take well over 1 MiB in SQLite.
    let run = sync(
        &db.url(),
        &target,
        &["--tables", "users,sessions", "--full"],
    );
    run.assert_code(3)
        .assert_stderr_has(&["full", "hint:", "space"]);
    assert_eq!(
        read_bytes(&target),
        previous,
        "the previous target was changed"
    );
    assert_eq!(
        dir_entries(fs.dir.path()),
        BTreeSet::from(["app.db".to_owned()]),
        "the staging file was left on the full file system"
    );
}

/// A private target stays private: the file that replaces it and the delta's
/// backup get its mode (and, as root, its owner); a fresh file follows the umask.
#[test]
fn copies_and_backups_keep_the_targets_privacy() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("private.db");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("stat").mode() & 0o7777;

    // Fresh: the umask decides (here 027), as for any program.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 027; exec '{BIN}' sync --source '{}' --target '{}' --tables users --quiet",
            db.url(),
            target.display()
        ))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&target), 0o640);

    // An existing 0600 target (owned by someone else, when we can say so).
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&target, Some(4321), Some(4322)).expect("chown");
    }
    sync(
        &db.url(),
        &target,
        &["--tables", "users", "--full", "--quiet"],
    )
    .assert_success();
    assert_eq!(mode(&target), 0o600, "the published file");
    // A merge taking a copy, then one keeping its undo, whose journal holds
    // pages of the file: SQLite gave it the file's access when it created it.
    let mut kept = Vec::new();
    for (kind, named, inside) in [
        ("copy", ".pg2sqlite-backup-", None),
        ("undo", ".pg2sqlite-undo-", Some("journal")),
    ] {
        db.execute("UPDATE users SET name = name || '?', updated_at = now() WHERE id <= 3");
        sync(
            &db.url(),
            &target,
            &[
                "--tables",
                "users",
                "--since",
                "2020-01-01T00:00:00Z",
                "--backup",
                kind,
                "--quiet",
            ],
        )
        .assert_success();
        let backup = dir_entries(dir.path())
            .into_iter()
            .find(|n| n.contains(named))
            .map(|n| {
                let kept = dir.path().join(n);
                inside.map_or(kept.clone(), |file| kept.join(file))
            })
            .expect("a backup");
        assert_eq!(mode(&backup), 0o600, "the {kind} backup");
        assert_eq!(mode(&target), 0o600, "the merged target");
        kept.push(backup);
    }
    if root {
        for f in std::iter::once(&target).chain(&kept) {
            let meta = std::fs::metadata(f).expect("stat");
            assert_eq!((meta.uid(), meta.gid()), (4321, 4322), "{}", f.display());
        }
    }
}

/// A target that is a symbolic link: the file it points to is replaced, the
/// link stays; a dangling link is a clear usage error.
#[test]
fn a_symlinked_target_replaces_the_file_it_points_to() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let app = dir.path().join("app");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::create_dir_all(&app).expect("mkdir");
    let real = data.join("real.db");
    let link = app.join("app.db");
    sync(&db.url(), &real, &["--tables", "users", "--quiet"]).assert_success();
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    db.execute("UPDATE users SET name = 'changed' WHERE id = 1");
    sync(
        &db.url(),
        &link,
        &["--tables", "users", "--full", "--quiet"],
    )
    .assert_success();
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let conn = open_sqlite(&real);
    assert_eq!(
        sqlite_rows(&conn, "SELECT name FROM users WHERE id = 1"),
        vec![vec![Value::Text("changed".into())]]
    );
    assert_eq!(dir_entries(&app), BTreeSet::from(["app.db".to_owned()]));
    assert_eq!(dir_entries(&data), BTreeSet::from(["real.db".to_owned()]));

    let dangling = app.join("gone.db");
    std::os::unix::fs::symlink(data.join("nothing.db"), &dangling).expect("symlink");
    sync(
        &db.url(),
        &dangling,
        &["--tables", "users", "--full", "--quiet"],
    )
    .assert_code(2)
    .assert_stderr_has(&["symbolic link"]);
}
