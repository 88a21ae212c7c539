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
    }
}

fn change_rows(db: &TestDb, round: usize) {
    db.execute(&format!(
        "UPDATE users SET name = name || '{round}', updated_at = now() WHERE id % 7 = {}",
        round % 7
    ));
}

#[test]
fn a_full_sync_failing_at_any_stage_keeps_the_previous_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();
    let points = [
        "copy.after-batch",
        "copy.after-chunk",
        "copy.before-commit",
        "copy.after-commit",
        "publish.before-rename",
        "publish.after-rename",
    ];
    for (round, point) in points.iter().enumerate() {
        for action in [Action::Error, Action::Kill] {
            let what = format!("sync --full, {point}={}", action.name());
            change_rows(&db, round);
            let old = contents(&target);
            let r = run_failing(
                point,
                action,
                &[
                    "sync", "--source", &url, "--target", t, "--tables", TABLES, "--full",
                    "--quiet",
                ],
            );
            assert_failed_as_asked(action, &r, &what);
            assert_old_or_complete(&db, &target, &old, &what, &r);
            sync(&url, &target, &["--tables", TABLES, "--full", "--quiet"]).assert_success();
            assert!(verifies(&db, &target), "{what}: the next run");
            assert_no_leftovers(dir.path(), &what);
        }
    }
}

#[test]
fn a_delta_merge_failing_at_any_stage_keeps_the_previous_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", TABLES, "--quiet"]).assert_success();
    let points = [
        "backup.mid-copy",
        "backup.before-rename",
        "merge.after-batch",
        "merge.before-commit",
        "merge.after-commit",
    ];
    for (round, point) in points.iter().enumerate() {
        for action in [Action::Error, Action::Kill] {
            let what = format!("sync --since, {point}={}", action.name());
            change_rows(&db, round);
            let old = contents(&target);
            let r = run_failing(
                point,
                action,
                &[
                    "sync", "--source", &url, "--target", t, "--tables", TABLES, "--since", SINCE,
                    "--quiet",
                ],
            );
            assert_failed_as_asked(action, &r, &what);
            assert_old_or_complete(&db, &target, &old, &what, &r);
            sync(
                &url,
                &target,
                &["--tables", TABLES, "--since", SINCE, "--quiet"],
            )
            .assert_success();
            assert!(verifies(&db, &target), "{what}: the next run");
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
        (&delta, "backup.mid-copy", vec![]),
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
