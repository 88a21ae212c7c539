//! Real applications, rolled back through their own ORMs: a Django app and a
//! SQLAlchemy app (`tests/orm/`) create their schema on SQLite (the old file,
//! with the rows written before the migration) and on PostgreSQL (every row),
//! pg2sqlite rolls PostgreSQL back into the old file — with no map, and with
//! only what `map init` wrote — and the ORM reads every object back as
//! PostgreSQL has it, stored exactly as it stores it itself, and its queries
//! (ranges, equality, JSON keys) give PostgreSQL's answers.
//!
//! The ORMs live in `.venv-orm` (`scripts/orm-venv.sh`, which `.ci/run` calls);
//! `PG2SQLITE_ORM_PYTHON` names another interpreter. Without one the tests fail
//! under CI and are skipped, saying so, elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with the pinned ORMs, or `None` (skip) outside CI.
fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PG2SQLITE_ORM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-orm/bin/python"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: run scripts/orm-venv.sh (CI runs it in .ci/run)",
        path.display()
    );
    eprintln!(
        "skipping the ORM test: {} is missing (run scripts/orm-venv.sh)",
        path.display()
    );
    None
}

/// `tests/orm/harness.py ORM ARGS...`; panics with its output when it fails.
fn harness(python: &Path, orm: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .current_dir(repo().join("tests/orm"))
        .arg("harness.py")
        .arg(orm)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "harness.py {orm} {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Sets the app up on both sides, then rolls back twice (no map; the map
/// `map init` wrote) and checks each rollback through the ORM and `verify`.
fn rolls_back(orm: &str) {
    let Some(py) = python() else { return };
    let db = TestDb::new();
    let url = db.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.db");
    let reference = dir.path().join("reference.db");
    harness(&py, orm, &["setup-sqlite", path_str(&old)]);
    harness(&py, orm, &["setup-pg", &url]);
    harness(&py, orm, &["reference", path_str(&reference)]);

    // `map init` reads the old file as it was before any rollback.
    let init = run(&["map", "init", "--source", &url, "--target", path_str(&old)]);
    init.assert_success();
    assert!(init.stdout.contains("# App style: "), "{}", init.stdout);
    let map = dir.path().join("app.toml");
    std::fs::write(&map, &init.stdout).expect("writing the map");
    let with_map = dir.path().join("with-map.db");
    std::fs::copy(&old, &with_map).expect("copying the old file");

    for (target, map) in [(&old, None), (&with_map, Some(path_str(&map)))] {
        let mut extra = vec!["--full", "--quiet"];
        extra.extend(map.iter().flat_map(|m| ["--map", *m]));
        let synced = sync(&url, target, &extra);
        synced.assert_success();
        assert!(
            synced.stdout.contains("app style: "),
            "the summary names the app's style\n{}",
            synced.stdout
        );
        let checked = harness(
            &py,
            orm,
            &["check", path_str(target), &url, path_str(&reference)],
        );
        let summary: serde_json::Value = serde_json::from_str(checked.trim())
            .unwrap_or_else(|e| panic!("harness check printed {checked:?}: {e}"));
        assert_eq!(summary["objects"], 10, "{summary}");
        assert!(summary["queries"].as_u64() > Some(20), "{summary}");
        let mut args = vec!["verify", "--source", &url, "--target", path_str(target)];
        args.extend(map.iter().flat_map(|m| ["--map", *m]));
        run(&args).assert_success();
    }
}

#[test]
fn django_app_rolls_back_without_a_hand_written_map() {
    rolls_back("django");
}

#[test]
fn sqlalchemy_app_rolls_back_without_a_hand_written_map() {
    rolls_back("sqlalchemy");
}
