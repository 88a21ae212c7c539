//! `pg2sqlite report`: what a rollback to the SQLite file as it is would lose,
//! per table and class, against a real PostgreSQL and a real SQLite file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::common::{run, sync, Run, TestDb};

const SINCE: &str = "2025-11-13T00:00:00Z";

/// Runs `report` against `target` with `extra` flags.
fn report(db: &TestDb, target: &Path, extra: &[&str]) -> Run {
    let target = target.to_str().expect("UTF-8 path");
    let url = db.url();
    let mut args = vec!["report", "--source", &url, "--target", target];
    args.extend_from_slice(extra);
    run(&args)
}

fn report_json(db: &TestDb, target: &Path, extra: &[&str]) -> (Option<i32>, Json) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let r = report(db, target, &args);
    let json = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!(
            "report printed no JSON ({e})\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        )
    });
    (r.code, json)
}

fn table<'a>(report: &'a Json, name: &str) -> &'a Json {
    report["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["table"] == name))
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

fn sqlite(target: &Path, sql: &str) {
    rusqlite::Connection::open(target)
        .and_then(|c| c.execute_batch(sql))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Users (with `updated_at`), posts referencing them (no cursor) and tags
/// (no primary key), synced into a file before the cutover.
fn synced_app() -> (TestDb, tempfile::TempDir, PathBuf) {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE users (id int PRIMARY KEY, name text, updated_at timestamptz);
         INSERT INTO users SELECT g, 'u' || g, '2025-11-01T00:00:00Z' FROM generate_series(1, 100) g;
         CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users (id), body text);
         INSERT INTO posts SELECT g, g % 100 + 1, 'b' || g FROM generate_series(1, 50) g;
         CREATE TABLE tags (name text, n int);
         INSERT INTO tags VALUES ('a', 1), ('b', 2);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    (db, dir, target)
}

/// After the cutover: each class once in `users`, a resurrected post (whose
/// user is resurrected too), a new tag, a table and a column only PostgreSQL
/// has, a table only SQLite has, and an orphan in the file.
fn diverge(db: &TestDb, target: &Path) {
    db.execute(
        "INSERT INTO users VALUES (101, 'new', '2025-11-20T00:00:00Z');
         UPDATE users SET name = 'renamed', updated_at = '2025-11-20T00:00:00Z' WHERE id = 5;
         UPDATE users SET name = 'pg9', updated_at = '2025-11-20T00:00:00Z' WHERE id = 9;
         DELETE FROM posts WHERE user_id = 7;
         DELETE FROM users WHERE id = 7;
         ALTER TABLE users ADD COLUMN email text;
         UPDATE users SET email = 'x@example.com' WHERE id < 4;
         INSERT INTO tags VALUES ('c', 3);
         CREATE TABLE audit (id int PRIMARY KEY, what text);
         INSERT INTO audit VALUES (1, 'x'), (2, 'y');",
    );
    sqlite(
        target,
        "PRAGMA foreign_keys = OFF;
         UPDATE users SET name = 'lite9', updated_at = '2025-11-21T00:00:00Z' WHERE id = 9;
         INSERT INTO users VALUES (200, 'lite', '2025-11-25T00:00:00Z');
         INSERT INTO posts VALUES (300, 999, 'orphan');
         CREATE TABLE local_only (x);
         INSERT INTO local_only VALUES (1);",
    );
}

#[test]
fn every_class_schema_drift_and_orphans_with_since() {
    let (db, _dir, target) = synced_app();
    diverge(&db, &target);
    let (code, json) = report_json(&db, &target, &["--since", SINCE]);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["version"], 1);
    assert_eq!(json["loss"], true);

    let users = table(&json, "users");
    assert_eq!(users["classified_by"], "cursor");
    assert_eq!(users["cursor"], "updated_at");
    let c = &users["counts"];
    assert_eq!(
        [
            &c["lost_new"],
            &c["lost_changed"],
            &c["resurrected"],
            &c["conflicts"],
            &c["sqlite_only"],
            &c["identical"]
        ],
        [1, 1, 1, 1, 1, 97].map(Json::from).each_ref()
    );
    assert_eq!(users["samples"]["lost_new"][0]["key"], "id=101");
    assert_eq!(users["samples"]["resurrected"][0]["key"], "id=7");
    assert_eq!(users["samples"]["sqlite_only"][0]["key"], "id=200");
    let changed = &users["samples"]["lost_changed"][0];
    assert_eq!(changed["key"], "id=5");
    assert_eq!(changed["changes"][0]["column"], "name");
    assert_eq!(changed["changes"][0]["old"], "u5");
    assert_eq!(changed["changes"][0]["new"], "renamed");
    let conflict = &users["samples"]["conflicts"][0];
    assert_eq!(conflict["key"], "id=9");
    assert_eq!(conflict["changes"][0]["old"], "lite9");
    assert_eq!(conflict["changes"][0]["new"], "pg9");

    // No cursor column: key and content decide; the orphan post is SQLite's.
    let posts = table(&json, "posts");
    assert_eq!(posts["classified_by"], "content");
    assert_eq!(posts["counts"]["resurrected"], 2, "{posts}");
    assert_eq!(posts["counts"]["identical"], 49);
    // No primary key: a multiset of rows.
    let tags = table(&json, "tags");
    assert_eq!(tags["has_key"], false);
    assert_eq!(tags["counts"]["lost_new"], 1);
    assert_eq!(tags["samples"]["lost_new"][0]["key"], "(name=c, n=3)");
    // A table only PostgreSQL has: every row lost.
    let audit = table(&json, "audit");
    assert_eq!(audit["only_in_postgres"], true);
    assert_eq!(audit["counts"]["lost_new"], 2);

    let schema = &json["schema"];
    assert_eq!(schema["tables_only_in_postgres"][0]["table"], "audit");
    assert_eq!(schema["tables_only_in_postgres"][0]["rows"], 2);
    assert_eq!(schema["tables_only_in_sqlite"][0]["table"], "local_only");
    assert_eq!(schema["columns_only_in_postgres"][0]["column"], "email");
    assert_eq!(schema["columns_only_in_postgres"][0]["non_null"], 3);
    assert_eq!(schema["foreign_key_orphans"]["missing_parent"], 1);
    // Post 6 belonged to user 7, both deleted in PostgreSQL: the rollback
    // brings both back, and the post points at a parent PostgreSQL deleted.
    assert_eq!(
        schema["foreign_key_orphans"]["resurrected_parent"], 1,
        "{schema}"
    );
    assert_eq!(
        schema["foreign_key_orphans"]["resurrected_parent_listed"][0],
        "posts rowid 6 references a row of users that PostgreSQL deleted"
    );

    let t = &json["totals"];
    assert_eq!(t["lost_new"], 4);
    assert_eq!(t["resurrected"], 3);
    let s = &json["sync"];
    assert_eq!(
        [&s["inserts"], &s["updates"], &s["deletes"], &s["conflicts"]],
        [4, 1, 3, 1].map(Json::from).each_ref()
    );
}

#[test]
fn without_since_rows_are_classified_by_key_and_content() {
    let (db, _dir, target) = synced_app();
    diverge(&db, &target);
    let r = report(&db, &target, &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.contains("No --since"), "{}", r.stdout);
    let (_, json) = report_json(&db, &target, &[]);
    let c = &table(&json, "users")["counts"];
    // Without a time nothing tells SQLite's own rows or conflicts apart.
    assert_eq!(c["conflicts"], 0);
    assert_eq!(c["sqlite_only"], 0);
    assert_eq!(c["lost_changed"], 2);
    assert_eq!(c["resurrected"], 2);
}

#[test]
fn an_identical_database_loses_nothing_and_exits_0() {
    let (db, _dir, target) = synced_app();
    let r = report(&db, &target, &["--since", SINCE]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("Nothing would be lost"),
        "{}",
        r.stdout
    );
    let (_, json) = report_json(&db, &target, &["--since", SINCE]);
    assert_eq!(json["totals"]["identical"], 152);
    assert_eq!(json["cost"]["parts_differing"], 0);
    assert_eq!(json["cost"]["rows_read_row_by_row"], 0);
}

#[test]
fn samples_cut_short_say_so_and_counts_stay_complete() {
    let (db, _dir, target) = synced_app();
    db.execute(
        "INSERT INTO users SELECT g, 'n' || g, '2025-11-20T00:00:00Z' FROM generate_series(1001, 1030) g",
    );
    let (code, json) = report_json(&db, &target, &["--since", SINCE, "--samples", "5"]);
    assert_eq!(code, Some(1));
    let users = table(&json, "users");
    assert_eq!(users["counts"]["lost_new"], 30);
    assert_eq!(
        users["samples"]["lost_new"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(users["samples_cut"], serde_json::json!(["lost_new"]));
    let r = report(&db, &target, &["--since", SINCE, "--samples", "5"]);
    assert!(r.stdout.contains("… 25 more"), "{}", r.stdout);
    assert!(r.stdout.contains("cut at 5 per class"), "{}", r.stdout);
}

#[test]
fn an_app_schema_through_a_map() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, nick text, changed timestamptz);
         INSERT INTO accounts VALUES (1, 'a', '2025-11-01T00:00:00Z'), (2, 'b', '2025-11-01T00:00:00Z');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    // The app's own schema: another table name, another column name, datetimes with a space.
    sqlite(
        &target,
        "CREATE TABLE app_account (id INTEGER PRIMARY KEY, nickname VARCHAR(20), changed DATETIME);
         INSERT INTO app_account VALUES (1, 'a', '2025-11-01 00:00:00'), (2, 'old', '2025-11-01 00:00:00'),
                                        (3, 'mine', '2025-11-30 00:00:00');",
    );
    let map = dir.path().join("map.toml");
    std::fs::write(
        &map,
        "[tables.accounts]\nrename = \"app_account\"\ncursor = \"changed\"\n\
         [tables.accounts.columns]\nnick = { rename = \"nickname\" }\n",
    )
    .expect("map");
    db.execute("UPDATE accounts SET nick = 'bb', changed = '2025-11-20T00:00:00Z' WHERE id = 2");
    let map = map.to_str().expect("UTF-8");
    let (code, json) = report_json(&db, &target, &["--since", SINCE, "--map", map]);
    assert_eq!(code, Some(1), "{json}");
    let t = table(&json, "app_account");
    assert_eq!(t["source"], "public.accounts");
    assert_eq!(t["cursor"], "changed");
    assert_eq!(t["counts"]["identical"], 1, "{t}");
    assert_eq!(t["counts"]["lost_changed"], 1, "{t}");
    assert_eq!(t["counts"]["sqlite_only"], 1, "{t}");
    let change = &t["samples"]["lost_changed"][0]["changes"][0];
    assert_eq!(change["column"], "nickname");
    assert_eq!(change["new"], "bb");
}

#[test]
fn markdown_and_json_go_to_a_file_written_whole() {
    let (db, dir, target) = synced_app();
    diverge(&db, &target);
    let md = dir.path().join("reports").join("loss.md");
    std::fs::create_dir_all(md.parent().expect("parent")).expect("mkdir");
    let r = report(
        &db,
        &target,
        &[
            "--since",
            SINCE,
            "--format",
            "markdown",
            "--output",
            md.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let text = std::fs::read_to_string(&md).expect("markdown written");
    assert!(text.starts_with("# Data-loss report"), "{text}");
    assert!(
        text.contains("| users | 1 | 1 | 1 | 1 | 1 | 97 |"),
        "{text}"
    );
    // Nothing but the report is left in the directory.
    let names: Vec<_> = std::fs::read_dir(md.parent().expect("parent"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// The HTML page rendered by a real headless browser: the summary table and
/// the charts show the right numbers, and a screenshot is taken.
#[test]
fn html_renders_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        if std::env::var_os("PG2SQLITE_SKIP_BROWSER").is_some() {
            return;
        }
        panic!("no chromium on PATH: .ci/run installs it (apt-get install chromium), or set PG2SQLITE_SKIP_BROWSER=1");
    };
    let (db, dir, target) = synced_app();
    diverge(&db, &target);
    let html = dir.path().join("loss.html");
    let r = report(
        &db,
        &target,
        &[
            "--since",
            SINCE,
            "--format",
            "html",
            "--output",
            html.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(
        !page.contains("http://") || !page.contains("src=\"http"),
        "no network resources"
    );
    assert!(!page.contains("<script"), "no scripts");

    let url = format!("file://{}", html.display());
    let profile = dir.path().join("profile");
    let profile_flag = format!("--user-data-dir={}", profile.display());
    let headless = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        profile_flag.as_str(),
    ];
    let out = Command::new(browser)
        .args(headless)
        .args(["--dump-dom", &url])
        .output()
        .expect("run the browser");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The browser parsed the table and the charts: the counts are in its DOM.
    assert!(
        dom.contains("<td class=\"n\" data-class=\"lost_new\">1</td>"),
        "{dom}"
    );
    assert!(
        dom.contains(
            "<tr data-table=\"total\"><td>total</td><td class=\"n\" data-class=\"lost_new\">4</td>"
        ),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<svg class=\"chart\"").count(),
        4,
        "one chart per table"
    );
    assert!(
        dom.contains("data-class=\"identical\" data-count=\"97\""),
        "{dom}"
    );

    let shot = dir.path().join("loss.png");
    let out = Command::new(browser)
        .args(headless)
        .args([
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,1400",
            &url,
        ])
        .output()
        .expect("run the browser");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot taken");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot: {} bytes",
        png.len()
    );
    // Kept for a person to look at.
    let kept = std::env::temp_dir().join("pg2sqlite-report-screenshot.png");
    let _ = std::fs::copy(&shot, kept);
}

#[test]
fn values_sqlite_cannot_hold_are_counted_without_writing_the_file() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE m (id int PRIMARY KEY, x float8);
         INSERT INTO m VALUES (1, 1.5);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute("INSERT INTO m VALUES (2, '-0'), (3, '-0'), (4, 2.5)");
    let before = std::fs::read(&target).expect("file");
    let (code, json) = report_json(&db, &target, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(table(&json, "m")["counts"]["lost_new"], 3);
    let ledger = json["loss_ledger"].as_array().expect("ledger");
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["column"], "x");
    assert_eq!(ledger[0]["reason"], "negative_zero");
    assert_eq!(ledger[0]["count"], 2);
    assert_eq!(
        std::fs::read(&target).expect("file"),
        before,
        "the file is unchanged"
    );
}
