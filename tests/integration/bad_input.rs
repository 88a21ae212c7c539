//! Bad input never panics and never writes: every malformed flag value, a
//! `--since` in the future or before 1970, and identifiers PostgreSQL allows
//! but that are awkward everywhere else (quotes, newlines, spaces, 63 bytes).
//! Exit code 101 (a panic) fails every case.

use crate::common::*;

#[test]
fn every_malformed_flag_value_is_a_usage_error_that_names_the_flag() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let out = dir.path().join("bundle");
    let o = out.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--tables", "users", "--quiet"]).assert_success();
    let before = std::fs::read(&target).expect("read");
    let sync_with = |flag: &str, value: &str| -> Vec<String> {
        [
            "sync", "--source", &url, "--target", t, "--tables", "users", flag, value,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (sync_with("--jobs", "0"), "--jobs"),
        (sync_with("--jobs", "many"), "--jobs"),
        (sync_with("--jobs", "99999999999999999999"), "--jobs"),
        (sync_with("--since", "yesterday"), "--since"),
        (sync_with("--since", "2025-11-13"), "--since"),
        (
            sync_with("--since", "2999-01-01T00:00:00Z"),
            "in the future",
        ),
        (sync_with("--since", "1960-01-01T00:00:00Z"), "before 1970"),
        (sync_with("--lag", "soon"), "--lag"),
        (sync_with("--lag", "99999999999999999h"), "--lag"),
        (sync_with("--deletes", "maybe"), "--deletes"),
        (sync_with("--keep-backups", "0"), "--keep-backups"),
        (sync_with("--keep-backups", "x"), "--keep-backups"),
        (sync_with("--backup", "snapshot"), "--backup"),
        (
            vec![
                "undo".into(),
                "--target".into(),
                "/nonexistent/app.db".into(),
            ],
            "no such file",
        ),
        (
            vec!["undo".into(), "--target".into(), t.into()],
            "no undo of it is kept",
        ),
        (sync_with("--lock-timeout", "soon"), "--lock-timeout"),
        (sync_with("--stall-timeout", "0"), "--stall-timeout"),
        (sync_with("--map", "/nonexistent/map.toml"), "map.toml"),
        (sync_with("--schema", "no_such_schema"), "no_such_schema"),
        (sync_with("--tables", "no_such_table"), "no_such_table"),
        (
            vec![
                "sync".into(),
                "--source".into(),
                "postgres://h:port/db".into(),
                "--target".into(),
                t.into(),
            ],
            "--source",
        ),
        (
            vec![
                "sync".into(),
                "--source".into(),
                format!("{url}?bogus=1"),
                "--target".into(),
                t.into(),
            ],
            "bogus",
        ),
        (
            vec![
                "verify".into(),
                "--source".into(),
                url.clone(),
                "--target".into(),
                t.into(),
                "--jobs".into(),
                "0".into(),
            ],
            "--jobs",
        ),
        (
            vec![
                "report".into(),
                "--source".into(),
                url.clone(),
                "--target".into(),
                t.into(),
                "--format".into(),
                "pdf".into(),
            ],
            "--format",
        ),
        (
            vec![
                "export".into(),
                "--source".into(),
                url.clone(),
                "--out".into(),
                o.into(),
                "--format".into(),
                "xml".into(),
            ],
            "--format",
        ),
        (
            vec![
                "export".into(),
                "--source".into(),
                url.clone(),
                "--out".into(),
                o.into(),
                "--since".into(),
                "2999-01-01T00:00:00Z".into(),
            ],
            "in the future",
        ),
        (
            vec![
                "import".into(),
                "--from".into(),
                "/nonexistent/bundle".into(),
                "--target".into(),
                t.into(),
            ],
            "/nonexistent/bundle",
        ),
        (
            vec![
                "fixtures".into(),
                "--target".into(),
                url.clone(),
                "--scale=-1".into(),
            ],
            "--scale",
        ),
        (vec!["completions".into(), "tcsh".into()], "tcsh"),
    ];
    for (args, names) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args);
        assert_eq!(r.code, Some(2), "{args:?}\n{}", r.stderr);
        assert!(
            r.stderr.contains(names),
            "{args:?} should name {names:?}:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
    assert_eq!(
        std::fs::read(&target).expect("read"),
        before,
        "a bad flag changed the target"
    );
    assert!(!out.exists(), "a bad flag wrote a bundle");
}

/// Table and column names with double quotes, single quotes, a newline, spaces
/// and 63 bytes (PostgreSQL's limit) go through a full sync, verify, a delta,
/// a report and an export/import round trip.
#[test]
fn awkward_identifiers_go_through_every_command() {
    let db = TestDb::new();
    let long = "l".repeat(63);
    db.execute(&format!(
        r#"CREATE TABLE "we""ird 'name'" (id int PRIMARY KEY, "col""q" text, "new
line" text, "with space" text, "{long}" int, updated_at timestamptz NOT NULL DEFAULT now());
           INSERT INTO "we""ird 'name'"
           SELECT g, 'q' || g, 'n' || g, 's' || g, g, now() - interval '1 day' FROM generate_series(1, 50) g;
           CREATE TABLE "{long}" (id int PRIMARY KEY, v text);
           INSERT INTO "{long}" VALUES (1, 'one');"#
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    sync(&url, &target, &["--quiet"]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_i64(&conn, r#"SELECT count(*) FROM "we""ird 'name'""#),
        50
    );
    assert_eq!(
        sqlite_i64(
            &conn,
            &format!("SELECT \"{long}\" FROM \"we\"\"ird 'name'\" WHERE id = 7")
        ),
        7
    );
    drop(conn);
    run(&["verify", "--source", &url, "--target", t]).assert_success();

    db.execute(
        r#"UPDATE "we""ird 'name'" SET "new
line" = 'changed', updated_at = now() WHERE id <= 5;
           DELETE FROM "we""ird 'name'" WHERE id = 50;"#,
    );
    let r = run(&["report", "--source", &url, "--target", t]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    sync(
        &url,
        &target,
        &["--since", "2020-01-01T00:00:00Z", "--quiet"],
    )
    .assert_success();
    run(&["verify", "--source", &url, "--target", t]).assert_success();

    let bundle = dir.path().join("bundle");
    let b = bundle.to_str().expect("utf-8");
    run(&["export", "--source", &url, "--out", b, "--quiet"]).assert_success();
    let imported = dir.path().join("imported.db");
    run(&[
        "import",
        "--from",
        b,
        "--target",
        imported.to_str().expect("utf-8"),
        "--quiet",
    ])
    .assert_success();
    run(&[
        "verify",
        "--source",
        &url,
        "--target",
        imported.to_str().expect("utf-8"),
    ])
    .assert_success();
}

/// Map files that are not what they should be: a NUL byte, invalid UTF-8, a
/// directory. Each is a usage error naming the file.
#[test]
fn unreadable_map_files_are_usage_errors() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let nul = dir.path().join("nul.toml");
    std::fs::write(&nul, b"[tables.users]\nname = \"u\0sers\"\n").expect("write");
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"# caf\xe9\n").expect("write");
    for map in [&nul, &latin1, &dir.path().to_path_buf()] {
        let m = map.to_str().expect("utf-8");
        let r = sync(&db.url(), &target, &["--map", m, "--quiet"]);
        assert_eq!(r.code, Some(2), "{m}: {}", r.stderr);
        r.assert_stderr_has(&[m]);
        assert!(!target.exists());
    }
}
