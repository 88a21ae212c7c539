//! The crash-test suite: every failpoint of `src/failpoint.rs` (stage
//! boundaries of a full sync, a delta merge, an export and an import), hit as an
//! error and as a SIGKILL. After each, what is on disk is judged: the target is
//! the previous one (same rows) or the complete new one (it verifies against
//! PostgreSQL), `PRAGMA integrity_check` passes, no backup that exists is
//! incomplete, and the next run succeeds and leaves no staging or partial file.
//!
//! Needs the binary built with `--features failpoints` (as `.ci/run` does).

use std::path::Path;

use crate::common::*;

const SINCE: &str = "2020-01-01T00:00:00Z";
const TABLES: &str = "users,sessions";

const FULL_SYNC_POINTS: &[&str] = &[
    "copy.after-batch",
    "copy.after-chunk",
    "copy.before-commit",
    "copy.after-commit",
    "publish.before-rename",
    "publish.after-rename",
];
const DELTA_POINTS: &[&str] = &[
    "merge.after-batch",
    "undo.before-link",
    "merge.before-commit",
    "merge.after-commit",
    "undo.before-rename",
];
/// A delta merge with `--backup copy`.
const COPY_POINTS: &[&str] = &["backup.mid-copy", "backup.before-rename"];
const UNDO_POINTS: &[&str] = &["undo.journal-in-place"];
const EXPORT_POINTS: &[&str] = &[
    "export.after-file",
    "export.before-manifest",
    "export.before-rename",
];

#[test]
fn every_failpoint_of_the_code_is_exercised_here() {
    for point in pg2sqlite::failpoint::ALL {
        assert!(
            [
                FULL_SYNC_POINTS,
                DELTA_POINTS,
                COPY_POINTS,
                UNDO_POINTS,
                EXPORT_POINTS
            ]
            .iter()
            .any(|l| l.contains(point)),
            "failpoint {point} is not hit by any crash test"
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Error,
    Kill,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Error => "error",
            Action::Kill => "kill",
        }
    }
}

/// Runs the binary with a failpoint set.
fn run_failing(point: &str, action: Action, args: &[&str]) -> Run {
    let out = pg2sqlite()
        .env("PG2SQLITE_FAILPOINT", format!("{point}={}", action.name()))
        .args(args)
        .output()
        .expect("run pg2sqlite");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every row of every table, opened as an application would open it (a hot
/// journal a killed merge left is rolled back by this open).
fn contents(target: &Path) -> String {
    let conn = rusqlite::Connection::open(target).expect("open the target");
    assert_sqlite_healthy(&conn);
    let mut out = String::new();
    for t in sqlite_tables(&conn) {
        let rows = sqlite_rows(&conn, &format!("SELECT * FROM {} ORDER BY 1", sq_ident(&t)));
        out.push_str(&format!("{t}: {rows:?}\n"));
    }
    out
}

fn verifies(db: &TestDb, target: &Path) -> bool {
    run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().expect("utf-8"),
        "--tables",
        TABLES,
    ])
    .code
        == Some(0)
}

/// What a failed run left must be the old target or the new complete one.
#[track_caller]
fn assert_old_or_complete(db: &TestDb, target: &Path, old: &str, what: &str, r: &Run) {
    let now = contents(target);
    assert!(
        now == old || verifies(db, target),
        "{what}: the target is neither the previous file nor a complete copy\n{}",
        r.stderr
    );
}

#[track_caller]
fn assert_failed_as_asked(action: Action, r: &Run, what: &str) {
    match action {
        Action::Error => {
            assert_eq!(r.code, Some(3), "{what}: {}", r.stderr);
            r.assert_stderr_has(&["failpoint"]);
        }
        Action::Kill => assert_eq!(r.code, None, "{what}: not killed: {}", r.stderr),
    }
}

/// No file beside the target that a user could take for a finished one.
#[track_caller]
fn assert_no_leftovers(dir: &Path, what: &str) {
    for name in dir_entries(dir) {
        assert!(
            !name.contains("pg2sqlite-staging") && !name.ends_with(".partial"),
            "{what}: {name} left after a successful run"
        );
        if name.contains(".pg2sqlite-backup-") {
            let conn = open_sqlite(&dir.join(&name));
            assert_sqlite_healthy(&conn);
        }
        if name.contains(".pg2sqlite-undo-") {
            let journal = dir.join(&name).join("journal");
            let checked = pg2sqlite::sink::rollback_journal::check_file(&journal);
            assert!(
                matches!(checked, Ok(Ok(_))),
                "{what}: the undo {name} is not whole: {checked:?}"
            );
        }
    }
}

fn change_rows(db: &TestDb, round: usize) {
    db.execute(&format!(
        "UPDATE users SET name = name || '{round}', updated_at = now() WHERE id % 7 = {}",
        round % 7
    ));
}

/// Hits each of `points` as an error and as a kill in `sync` with `mode`
/// (`--full`, or `--since …`), then judges the target and runs again cleanly.
fn fail_sync_at_each(points: &[&str], mode: &[&str]) {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();
    let mut args = vec![
        "sync", "--source", &url, "--target", t, "--tables", TABLES, "--quiet",
    ];
    args.extend_from_slice(mode);
    for (round, point) in points.iter().enumerate() {
        for action in [Action::Error, Action::Kill] {
            let what = format!("sync {mode:?}, {point}={}", action.name());
            change_rows(&db, round);
            let old = contents(&target);
            let r = run_failing(point, action, &args);
            assert_failed_as_asked(action, &r, &what);
            assert_old_or_complete(&db, &target, &old, &what, &r);
            if matches!(action, Action::Error) {
                // A run that failed (and was not killed) cleans up after itself:
                // a partial backup on a full disk would keep its room.
                for name in dir_entries(dir.path()) {
                    assert!(
                        !name.ends_with(".partial") && !name.contains("pg2sqlite-staging"),
                        "{what}: {name} left by the failed run"
                    );
                }
            }
            run(&args).assert_success();
            assert!(verifies(&db, &target), "{what}: the next run");
            assert_no_leftovers(dir.path(), &what);
        }
    }
}

#[test]
fn a_full_sync_failing_at_any_stage_keeps_the_previous_target() {
    fail_sync_at_each(FULL_SYNC_POINTS, &["--full"]);
}

#[test]
fn a_delta_merge_failing_at_any_stage_keeps_the_previous_target() {
    fail_sync_at_each(DELTA_POINTS, &["--since", SINCE]);
}

#[test]
fn a_delta_merge_taking_a_copy_failing_at_any_stage_keeps_the_previous_target() {
    fail_sync_at_each(COPY_POINTS, &["--since", SINCE, "--backup", "copy"]);
}

/// An undo stopped once its journal is in place: whichever program opens the
/// file next rolls the merge back, and `undo` run again finishes the job.
#[test]
fn an_undo_stopped_after_its_journal_is_in_place_still_undoes() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();
    let undos = || {
        dir_entries(dir.path())
            .into_iter()
            .filter(|n| n.contains(".pg2sqlite-undo-"))
            .count()
    };
    for (round, point) in UNDO_POINTS.iter().enumerate() {
        for action in [Action::Error, Action::Kill] {
            let what = format!("undo, {point}={}", action.name());
            let before = contents(&target);
            change_rows(&db, round);
            sync(
                &url,
                &target,
                &["--tables", TABLES, "--since", SINCE, "--quiet"],
            )
            .assert_success();
            assert_ne!(
                contents(&target),
                before,
                "{what}: the merge changed nothing"
            );
            let r = run_failing(point, action, &["undo", "--target", t]);
            assert_failed_as_asked(action, &r, &what);
            if matches!(action, Action::Error) {
                r.assert_stderr_has(&["run `pg2sqlite undo` again to finish"]);
                // Opened as an app would: the journal in place is rolled back.
                assert_eq!(contents(&target), before, "{what}");
            }
            // Run again, after the app opened the file or straight away.
            run(&["undo", "--target", t]).assert_success();
            assert_eq!(contents(&target), before, "{what}: after undo again");
            assert_eq!(undos(), 0, "{what}: the undo stays");
            assert_no_leftovers(dir.path(), &what);
        }
    }
}

#[test]
fn an_export_failing_at_any_stage_keeps_the_previous_bundle() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bundle");
    let o = out.to_str().expect("utf-8");
    let url = db.url();
    let args = vec![
        "export", "--source", &url, "--out", o, "--tables", TABLES, "--force", "--quiet",
    ];
    run(&args).assert_success();
    for point in [
        "export.after-file",
        "export.before-manifest",
        "export.before-rename",
    ] {
        for action in [Action::Error, Action::Kill] {
            let what = format!("export --force, {point}={}", action.name());
            let manifest_before = std::fs::read(out.join("manifest.json")).expect("manifest");
            let r = run_failing(point, action, &args);
            assert_failed_as_asked(action, &r, &what);
            // The old bundle is still there, whole.
            assert_eq!(
                std::fs::read(out.join("manifest.json")).expect("manifest"),
                manifest_before,
                "{what}"
            );
            let target = dir.path().join("from-bundle.db");
            let _ = std::fs::remove_file(&target);
            run(&[
                "import",
                "--from",
                o,
                "--target",
                target.to_str().expect("utf-8"),
                "--quiet",
            ])
            .assert_success();
            run(&args).assert_success();
            for name in dir_entries(dir.path()) {
                assert!(
                    !name.ends_with(".partial") && !name.ends_with(".replaced"),
                    "{what}: {name} left after a successful export"
                );
            }
        }
    }
}

#[test]
fn an_import_failing_at_any_stage_keeps_the_previous_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();
    change_rows(&db, 1);
    let full = dir.path().join("full");
    let delta = dir.path().join("delta");
    for (out, extra) in [(&full, None), (&delta, Some(SINCE))] {
        let mut args = vec![
            "export",
            "--source",
            &url,
            "--out",
            out.to_str().expect("utf-8"),
            "--tables",
            TABLES,
            "--quiet",
        ];
        if let Some(since) = extra {
            args.extend(["--since", since]);
        }
        run(&args).assert_success();
    }
    let cases = [
        (&full, "copy.before-commit", vec!["--full"]),
        (&full, "publish.before-rename", vec!["--full"]),
        (&delta, "backup.mid-copy", vec!["--backup", "copy"]),
        (&delta, "undo.before-link", vec![]),
        (&delta, "undo.before-rename", vec![]),
        (&delta, "merge.after-batch", vec![]),
        (&delta, "merge.before-commit", vec![]),
    ];
    for (bundle, point, extra) in cases {
        for action in [Action::Error, Action::Kill] {
            let what = format!("import {}, {point}={}", bundle.display(), action.name());
            let old = contents(&target);
            let mut args = vec![
                "import",
                "--from",
                bundle.to_str().expect("utf-8"),
                "--target",
                t,
                "--quiet",
            ];
            args.extend(extra.iter().copied());
            let r = run_failing(point, action, &args);
            assert_failed_as_asked(action, &r, &what);
            assert_eq!(contents(&target), old, "{what}: the target changed");
            run(&args).assert_success();
            assert_no_leftovers(dir.path(), &what);
        }
    }
}

/// A small deterministic generator (xorshift), so a failing seed can be re-run:
/// `PG2SQLITE_CRASH_SEED=N cargo test --features failpoints crash::random`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The run each sync leaves in the file: changes only when one completed.
fn last_runs(target: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let conn = rusqlite::Connection::open(target).expect("open the target");
    sqlite_rows(
        &conn,
        "SELECT table_name, run_at FROM _pg2sqlite_sync ORDER BY table_name",
    )
}

#[test]
fn random_kills_of_full_and_delta_syncs_under_concurrent_writes_lose_nothing() {
    let seed: u64 = std::env::var("PG2SQLITE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(1)
        })
        .max(1);
    eprintln!("random kills: PG2SQLITE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let db = TestDb::with_demo();
    db.execute(
        "INSERT INTO sessions
         SELECT gen_random_uuid(), s.user_id, s.ip, s.started_at, s.expires_at
           FROM sessions s, generate_series(1, 20) g",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();

    // Writers keep changing PostgreSQL while the syncs run and die.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let name = db.name().to_owned();
        std::thread::spawn(move || {
            let mut client = connect(&name);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let _ = client.batch_execute(&format!(
                    "UPDATE users SET name = 'w{i}', updated_at = now() WHERE id = {};
                     DELETE FROM sessions WHERE token = (SELECT token FROM sessions LIMIT 1);",
                    i % 2000 + 1
                ));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let budget = std::time::Instant::now() + std::time::Duration::from_secs(25);
    let mut rounds = 0;
    while rounds < 12 && std::time::Instant::now() < budget {
        rounds += 1;
        let full = rng.below(2) == 0;
        let old = contents(&target);
        let old_runs = last_runs(&target);
        let t = target.to_str().expect("utf-8");
        let mut args = vec![
            "sync", "--source", &url, "--target", t, "--tables", TABLES, "--quiet",
        ];
        if full {
            args.push("--full");
        } else {
            args.extend(["--since", SINCE]);
        }
        let mut child = Spawned::start(&args);
        std::thread::sleep(std::time::Duration::from_millis(rng.below(1500)));
        let finished = child.try_wait().is_some();
        if !finished {
            child.kill();
        }
        let (status, out) = child.finish(std::time::Duration::from_secs(60));
        let what = format!(
            "round {rounds} (seed {seed}): {} {}",
            if full { "full" } else { "delta" },
            if finished { "finished" } else { "killed" }
        );
        if finished {
            // A run that ended by itself: success, or a clear failure.
            assert!(
                matches!(status.code(), Some(0 | 1)),
                "{what}: {:?}\n{}",
                status.code(),
                out.stderr
            );
        }
        // Old rows, or a run that completed (and verified before it published
        // or committed): never anything in between.
        let now = contents(&target);
        assert!(
            now == old || last_runs(&target) != old_runs,
            "{what}: the target changed without a completed run"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer.join();
    sync(
        &url,
        &target,
        &["--tables", TABLES, "--since", SINCE, "--quiet"],
    )
    .assert_success();
    assert!(
        verifies(&db, &target),
        "after {rounds} rounds (seed {seed})"
    );
    assert_no_leftovers(dir.path(), &format!("seed {seed}"));
}
