//! Locks and stalls are bounded and named: a schema change in the way fails the
//! run after `--lock-timeout`, naming the table and the session; a server that
//! stops sending is shown as waiting, then fails after `--stall-timeout`.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_schema_change_in_the_way_fails_after_the_lock_timeout_naming_it() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let mut blocker = db.client();
    blocker
        .batch_execute("BEGIN; ALTER TABLE users ADD COLUMN extra int")
        .expect("hold the lock");
    let started = Instant::now();
    let r = sync(
        &db.url(),
        &target,
        &["--tables", "users", "--lock-timeout", "2", "--quiet"],
    );
    r.assert_code(3).assert_stderr_has(&[
        "lock timeout",
        "in the way: table users: pid",
        "holds an exclusive lock: BEGIN; ALTER TABLE users ADD COLUMN extra int",
        "--lock-timeout",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(!target.exists());
    blocker.batch_execute("ROLLBACK").expect("rollback");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
}

/// Resumes and ends the stopped backend, whatever the test's outcome.
struct Stopped(i32);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
        let _ = connect("postgres").execute("SELECT pg_terminate_backend($1)", &[&self.0]);
    }
}

#[test]
fn a_server_that_stops_sending_is_shown_waiting_then_fails_naming_the_table() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: pausing a PostgreSQL backend (SIGSTOP) needs root");
        return;
    }
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 2000000) g;
         ALTER TABLE big ADD PRIMARY KEY (id);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("big.db");
    let mut run = Spawned::sync(
        &db.url(),
        &target,
        &["--jobs", "1", "--stall-timeout", "17"],
    );
    // The backend serving the COPY, paused as a hung server or network would be.
    let mut admin = connect("postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        let rows = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active' \
                 AND query LIKE 'COPY%'",
                &[&db.name()],
            )
            .expect("pg_stat_activity");
        if let Some(row) = rows.first() {
            break row.get::<_, i32>(0);
        }
        assert!(
            run.try_wait().is_none(),
            "the sync ended before its COPY was seen"
        );
        assert!(Instant::now() < deadline, "no COPY seen");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _resume = Stopped(pid);
    let status = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .expect("kill -STOP");
    assert!(status.success());
    let (status, out) = run.finish(Duration::from_secs(90));
    assert_eq!(status.code(), Some(3), "{}", out.stderr);
    out.assert_stderr_has(&[
        "waiting for PostgreSQL: \"public\".\"big\"",
        "nothing received for 15 s",
        "PostgreSQL sent nothing for 17 s while copying \"public\".\"big\"",
        "--stall-timeout",
    ]);
    assert!(!target.exists());
}

#[test]
fn a_target_the_app_holds_locked_is_named_after_a_bounded_wait() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--tables", "users", "--quiet"]).assert_success();
    let before = std::fs::read(&target).expect("read");
    // The "app": this test process, in an exclusive transaction on the file. (No
    // other handle of this process may touch the file meanwhile: closing one
    // would drop the process's POSIX locks, SQLite's included.)
    let app = rusqlite::Connection::open(&target).expect("open");
    app.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let me = format!("it is open in pid {}", std::process::id());
    for args in [
        vec![
            "--tables",
            "users",
            "--since",
            "2020-01-01T00:00:00Z",
            "--quiet",
        ],
        vec!["--tables", "users", "--full", "--quiet"],
    ] {
        let started = Instant::now();
        let r = sync(&db.url(), &target, &args);
        r.assert_code(3)
            .assert_stderr_has(&["is locked by another program", &me, "hint:"]);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{args:?}: {:?}",
            started.elapsed()
        );
    }
    let r = verify(&db.url(), &target, &[]);
    r.assert_code(3)
        .assert_stderr_has(&["is locked by another program", &me]);
    app.execute_batch("ROLLBACK").expect("unlock");
    drop(app);
    assert_eq!(std::fs::read(&target).expect("read"), before);
    assert!(
        dir_entries(dir.path())
            .iter()
            .all(|n| !n.contains("pg2sqlite-backup")),
        "no backup of a file that was never merged into"
    );
}
