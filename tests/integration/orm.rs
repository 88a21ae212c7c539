//! Real applications, rolled back through their own ORMs: a Django app, a
//! SQLAlchemy app and a Sequelize app (`tests/orm/`) create their schema on
//! SQLite (the old file, with the rows written before the migration) and on
//! PostgreSQL (every row), pg2sqlite rolls PostgreSQL back into the old file —
//! with no map, and with only what `map init` wrote — and the ORM reads every
//! object back as PostgreSQL has it, stored exactly as it stores it itself, and
//! its queries (ranges, equality, JSON keys) give PostgreSQL's answers.
//!
//! The Python ORMs live in `.venv-orm` (`scripts/orm-venv.sh`);
//! `PG2SQLITE_ORM_PYTHON` names another interpreter. Sequelize lives in
//! `tests/orm/sequelize/node_modules` (`scripts/orm-node.sh`, which builds
//! sqlite3's native module). `.ci/run` calls both scripts. Without them the
//! tests fail under CI and are skipped, saying so, elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Missing tooling fails the test under CI, and skips it (saying so) elsewhere.
fn missing(what: &str, script: &str) -> Option<Driver> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is missing: run {script} (CI runs it in .ci/run)"
    );
    eprintln!("skipping the ORM test: {what} is missing (run {script})");
    None
}

/// How the test talks to one app: the program and its leading arguments, run in
/// `tests/orm`, then the command (`setup-sqlite FILE`, `setup-pg URL`,
/// `reference FILE`, `check FILE URL REF`; see `tests/orm/harness.py`).
struct Driver {
    program: PathBuf,
    args: Vec<String>,
    name: String,
}

impl Driver {
    /// `harness.py ORM` with the Python that has the pinned ORMs.
    fn python(orm: &str) -> Option<Driver> {
        let path = std::env::var_os("PG2SQLITE_ORM_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join(".venv-orm/bin/python"));
        if !path.exists() {
            return missing(&path.display().to_string(), "scripts/orm-venv.sh");
        }
        Some(Driver {
            program: path,
            args: vec!["harness.py".into(), orm.into()],
            name: format!("harness.py {orm}"),
        })
    }

    /// `node sequelize/driver.js`, once `npm ci` and the sqlite3 build are done.
    fn sequelize() -> Option<Driver> {
        let app = repo().join("tests/orm/sequelize");
        let native = app.join("node_modules/sqlite3/build/Release/node_sqlite3.node");
        let node = Command::new("node").arg("--version").output();
        if !node.is_ok_and(|out| out.status.success()) {
            return missing("node", "scripts/orm-node.sh");
        }
        if !app.join("node_modules/sequelize").exists() || !native.exists() {
            return missing(&native.display().to_string(), "scripts/orm-node.sh");
        }
        Some(Driver {
            program: PathBuf::from("node"),
            args: vec!["sequelize/driver.js".into()],
            name: "sequelize/driver.js".into(),
        })
    }

    /// Runs one command; panics with its output when it fails.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.program)
            .current_dir(repo().join("tests/orm"))
            .args(&self.args)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program.display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{} {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Sets the app up on both sides, then rolls back twice (no map; the map
/// `map init` wrote) and checks each rollback through the ORM and `verify`.
fn rolls_back(driver: Option<Driver>) {
    let Some(app) = driver else { return };
    let db = TestDb::new();
    let url = db.url();
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.db");
    let reference = dir.path().join("reference.db");
    app.run(&["setup-sqlite", path_str(&old)]);
    app.run(&["setup-pg", &url]);
    app.run(&["reference", path_str(&reference)]);

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
        let checked = app.run(&["check", path_str(target), &url, path_str(&reference)]);
        let summary: serde_json::Value = serde_json::from_str(checked.trim())
            .unwrap_or_else(|e| panic!("{} check printed {checked:?}: {e}", app.name));
        assert_eq!(summary["objects"], 10, "{summary}");
        assert!(summary["queries"].as_u64() > Some(20), "{summary}");
        let mut args = vec!["verify", "--source", &url, "--target", path_str(target)];
        args.extend(map.iter().flat_map(|m| ["--map", *m]));
        run(&args).assert_success();
    }
}

#[test]
fn django_app_rolls_back_without_a_hand_written_map() {
    rolls_back(Driver::python("django"));
}

#[test]
fn sqlalchemy_app_rolls_back_without_a_hand_written_map() {
    rolls_back(Driver::python("sqlalchemy"));
}

/// Sequelize 6 (`pg` and `sqlite3` dialects): DATE as `2025-11-13 08:30:00.123
/// +00:00`, DATEONLY, TIME, TINYINT(1) booleans, narrow and wide DECIMALs, UUID,
/// JSON (keys queried through `json_extract` and `->>`), BLOB, a foreign key and
/// a table empty in the old file. The one value Sequelize reads back wrong from
/// SQLite (a DATE in year 1, from its own file too) is pinned by the driver.
#[test]
fn sequelize_app_rolls_back_without_a_hand_written_map() {
    rolls_back(Driver::sequelize());
}
