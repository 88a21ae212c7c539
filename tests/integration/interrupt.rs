//! Interrupted syncs: a PostgreSQL connection dropped mid-copy, and the process
//! killed mid-copy. Either way the previous target stays byte for byte as it
//! was; a killed run's staging file is cleared (and reported) by the next run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::*;

/// Rows in the table being copied: enough that the copy takes seconds in a debug
/// build, so the test can interrupt it while COPY is running.
const BIG_ROWS: i64 = 1_000_000;

/// How long to wait for the COPY to show up, and for a run to end.
const WAIT: Duration = Duration::from_secs(120);

fn create_big_table(db: &TestDb, primary_key: bool) {
    let key = if primary_key { " PRIMARY KEY" } else { "" };
    db.execute(&format!(
        "CREATE TABLE big (id bigint NOT NULL{key}, payload text NOT NULL, at timestamptz NOT NULL);
         INSERT INTO big SELECT g, md5(g::text), timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
           FROM generate_series(1, {BIG_ROWS}) g;
         ANALYZE big;"
    ));
}

/// Active COPY statements of pg2sqlite's readers in `db`.
const ACTIVE_COPIES: &str = "SELECT count(*) FROM pg_stat_activity
    WHERE datname = $1 AND state = 'active' AND query LIKE 'COPY%' AND pid <> pg_backend_pid()";

#[test]
fn dropped_connection_fails_the_run_and_keeps_the_previous_target() {
    let db = TestDb::new();
    create_big_table(&db, false);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let previous = write_previous_sqlite(&target);

    let mut child = Spawned::sync(&db.url(), &target, &["--full", "--jobs", "2"]);
    let mut side = db.client();
    // Terminate the readers' backends as soon as a COPY is running.
    let terminated = poll_until(WAIT, "a COPY in pg_stat_activity", || {
        if let Some(status) = child.try_wait() {
            panic!("pg2sqlite ended ({status}) before its COPY could be interrupted");
        }
        let n = terminate_copies(&mut side, db.name());
        (n > 0).then_some(n)
    });
    assert!(terminated > 0);

    let (_, run) = child.finish(WAIT);
    run.assert_code(3);
    // What happened, in words: the server's message and what was being read.
    assert!(
        run.stderr.contains("error:") && run.stderr.contains("big"),
        "stderr should say the copy of big failed:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("administrator command") || run.stderr.contains("connection"),
        "stderr should say the connection was terminated:\n{}",
        run.stderr
    );
    assert_eq!(
        read_bytes(&target),
        previous,
        "the previous target was changed"
    );
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()]),
        "the staging file (or a journal) was left behind"
    );
}

#[test]
fn killed_run_keeps_the_previous_target_and_the_next_run_clears_its_staging_file() {
    let db = TestDb::new();
    create_big_table(&db, true);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let staging = staging_path(&target);
    let previous = write_previous_sqlite(&target);

    let mut child = Spawned::sync(&db.url(), &target, &["--full", "--jobs", "2"]);
    let mut side = db.client();
    poll_until(
        WAIT,
        "a COPY in pg_stat_activity and the staging file",
        || {
            if let Some(status) = child.try_wait() {
                panic!("pg2sqlite ended ({status}) before it could be killed");
            }
            let copies: i64 = side
                .query_one(ACTIVE_COPIES, &[&db.name()])
                .expect("pg_stat_activity")
                .get(0);
            (copies > 0 && staging.exists()).then_some(())
        },
    );
    child.kill();
    let (status, _) = child.finish(WAIT);
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "pg2sqlite was not killed: {status}"
        );
    }

    assert_eq!(
        read_bytes(&target),
        previous,
        "the previous target was changed"
    );
    assert!(
        staging.exists(),
        "a SIGKILLed run cannot clean up; its staging file should still be there"
    );

    // The next run takes the stale staging file over, says so, and succeeds.
    let run = sync(&db.url(), &target, &["--full", "--jobs", "3"]);
    run.assert_success()
        .assert_stderr_has(&["removed a staging file left by an interrupted run"]);
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()]),
        "the staging file was not cleared"
    );

    let conn = open_sqlite(&target);
    assert_sqlite_healthy(&conn);
    assert_eq!(sqlite_tables(&conn), BTreeSet::from(["big".to_owned()]));
    // Independent check against PostgreSQL: count, key sum, total payload length,
    // and a few rows in full.
    let mut pg = db.client();
    let agg = pg
        .query_one(
            "SELECT count(*), sum(id)::int8, sum(length(payload))::int8 FROM big",
            &[],
        )
        .expect("aggregate");
    let (count, ids, lengths): (i64, i64, i64) = (agg.get(0), agg.get(1), agg.get(2));
    assert_eq!(count, BIG_ROWS);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM big"), count);
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(DISTINCT id) FROM big"),
        count
    );
    assert_eq!(sqlite_i64(&conn, "SELECT sum(id) FROM big"), ids);
    assert_eq!(
        sqlite_i64(&conn, "SELECT sum(length(payload)) FROM big"),
        lengths
    );
    for id in [1_i64, 250_000, 500_001, BIG_ROWS] {
        let row = pg
            .query_one(
                "SELECT payload, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM big WHERE id = $1",
                &[&id],
            )
            .expect("row");
        let (payload, at): (String, String) = (row.get(0), row.get(1));
        let got = sqlite_rows(
            &conn,
            &format!("SELECT payload, at FROM big WHERE id = {id}"),
        );
        assert_eq!(
            got,
            vec![vec![
                rusqlite::types::Value::Text(payload),
                rusqlite::types::Value::Text(at)
            ]],
            "row {id}"
        );
    }
}

#[test]
fn a_second_run_on_the_same_target_is_refused_while_the_first_is_writing() {
    let db = TestDb::new();
    create_big_table(&db, true);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let staging = staging_path(&target);

    let mut first = Spawned::sync(&db.url(), &target, &["--jobs", "2", "--quiet"]);
    let mut side = db.client();
    poll_until(WAIT, "the first run's COPY and staging file", || {
        if let Some(status) = first.try_wait() {
            panic!("the first run ended ({status}) before the second could start");
        }
        let copies: i64 = side
            .query_one(ACTIVE_COPIES, &[&db.name()])
            .expect("pg_stat_activity")
            .get(0);
        (copies > 0 && staging.exists()).then_some(())
    });

    let second = sync(&db.url(), &target, &["--full", "--quiet"]);
    let first_still_running = first.try_wait().is_none();
    second
        .assert_code(2)
        .assert_stderr_has(&["another pg2sqlite run"]);
    assert!(
        first_still_running,
        "the first run ended before the second was refused; the test proves nothing"
    );

    // The refused run did not disturb the first one.
    let (_, run) = first.finish(WAIT);
    run.assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM big"), BIG_ROWS);
    assert_sqlite_healthy(&conn);
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );
}

#[test]
fn sigterm_and_sigint_stop_the_run_cleanly_and_keep_the_previous_target() {
    let db = TestDb::new();
    create_big_table(&db, false);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let staging = staging_path(&target);
    let previous = write_previous_sqlite(&target);
    let mut side = db.client();

    for signal in ["TERM", "INT"] {
        let mut child = Spawned::sync(&db.url(), &target, &["--full", "--jobs", "2"]);
        poll_until(
            WAIT,
            "a COPY in pg_stat_activity and the staging file",
            || {
                if let Some(status) = child.try_wait() {
                    panic!("pg2sqlite ended ({status}) before SIG{signal} could be sent");
                }
                let copies: i64 = side
                    .query_one(ACTIVE_COPIES, &[&db.name()])
                    .expect("pg_stat_activity")
                    .get(0);
                (copies > 0 && staging.exists()).then_some(())
            },
        );
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -{signal} failed");

        let (_, run) = child.finish(WAIT);
        run.assert_code(3)
            .assert_stderr_has(&[&format!("SIG{signal}")]);
        assert_eq!(
            read_bytes(&target),
            previous,
            "SIG{signal} changed the target"
        );
        assert_eq!(
            dir_entries(dir.path()),
            BTreeSet::from(["app.db".to_owned()]),
            "SIG{signal} left the staging file behind"
        );
    }
}

/// PostgreSQL restarted in the middle of the copy (a server of the test's own):
/// the run fails saying the server ended the connection, the previous target is
/// kept, and the next run succeeds.
#[test]
fn a_postgres_restart_mid_copy_keeps_the_previous_target() {
    let cluster = crate::connection::cluster::Cluster::start("");
    cluster
        .admin("app")
        .batch_execute(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g;
             ALTER TABLE big ADD PRIMARY KEY (id);",
        )
        .expect("create big");
    let source = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=root dbname=app sslmode=require",
        cluster.port
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("big.db");
    sync(&source, &target, &["--tables", "items", "--quiet"]).assert_success();
    let before = std::fs::read(&target).expect("read");

    let mut run = Spawned::sync(&source, &target, &["--full", "--jobs", "2"]);
    let mut admin = cluster.admin("postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copying = admin
            .query(
                "SELECT 1 FROM pg_stat_activity WHERE datname = 'app' AND query LIKE 'COPY%'",
                &[],
            )
            .expect("pg_stat_activity");
        if !copying.is_empty() {
            break;
        }
        assert!(
            run.try_wait().is_none(),
            "the sync ended before its COPY was seen"
        );
        assert!(Instant::now() < deadline, "no COPY seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(admin);
    cluster.restart();
    let (status, out) = run.finish(Duration::from_secs(120));
    assert_eq!(status.code(), Some(3), "{}", out.stderr);
    // Whichever connection noticed first (a reader, or the checksums beside
    // it): one that reads the server's FATAL message quotes it; one whose
    // socket closed first (TLS) says the connection was lost; a reader still
    // connecting says the server went away after the run began.
    out.assert_stderr_has(&["the previous target was not changed"]);
    assert!(
        out.stderr
            .contains("terminating connection due to administrator command")
            || out.stderr.contains("the connection to PostgreSQL was lost")
            || out
                .stderr
                .contains("the server answered when this run began"),
        "stderr should say the server ended the connection\n--- stderr ---\n{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&target).expect("read"), before);
    assert!(
        dir_entries(dir.path())
            .iter()
            .all(|n| !n.contains("staging")),
        "{:?}",
        dir_entries(dir.path())
    );
    sync(&source, &target, &["--full", "--quiet"]).assert_success();
}
