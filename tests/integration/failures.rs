//! Failures before or while connecting, and targets pg2sqlite must not touch:
//! each one exits with the documented code, says what went wrong and what to do,
//! and leaves the target directory as it was.

use std::collections::BTreeSet;

use rusqlite::types::Value;

use crate::common::*;

/// Exit codes from the `--help` text (src/cli.rs).
const USAGE: i32 = 2;
const RUNTIME: i32 = 3;

/// A source whose server is not there: nothing listens on port 1.
const UNREACHABLE: &str = "postgres://root@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=10";

fn no_such_database() -> String {
    format!(
        "postgres://root@127.0.0.1:5432/p2s_no_such_db_{}?sslmode=disable",
        std::process::id()
    )
}

#[test]
fn unreachable_server_is_reported_with_host_port_and_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(UNREACHABLE, &target, &[]);
    run.assert_code(RUNTIME).assert_stderr_has(&[
        "cannot connect to PostgreSQL",
        "127.0.0.1:1",
        "hint:",
        "port",
    ]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");
}

#[test]
fn missing_database_is_reported_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let url = no_such_database();
    let name = url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .expect("db name");
    let run = sync(&url, &target, &[]);
    run.assert_code(RUNTIME)
        .assert_stderr_has(&[name, "does not exist", "hint:", "database name"]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");
}

#[test]
fn unknown_table_names_are_usage_errors_listing_known_tables() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");

    let run = sync(&db.url(), &target, &["--tables", "users,no_such_table"]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["no_such_table", "users", "sessions"]);
    assert!(
        !run.stderr.contains("\"users\" in"),
        "users exists: {}",
        run.stderr
    );
    assert!(dir_entries(dir.path()).is_empty(), "files were written");

    let run = sync(&db.url(), &target, &["--exclude", "nope_table"]);
    run.assert_code(USAGE).assert_stderr_has(&["nope_table"]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");

    // billing is not among the chosen schemas by default
    let run = sync(&db.url(), &target, &["--tables", "billing.invoices"]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["billing.invoices"]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");
}

#[test]
fn missing_target_directory_is_a_usage_error() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("no_such_dir").join("app.db");
    let run = sync(&db.url(), &target, &["--tables", "users"]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["no_such_dir", "does not exist"]);
    assert!(
        dir_entries(dir.path()).is_empty(),
        "the directory was created"
    );
}

#[test]
fn target_that_is_not_sqlite_is_never_touched() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("notes.txt");
    let content = b"important notes that are not a database\n\x00\x01\x02".to_vec();
    std::fs::write(&target, &content).expect("write");

    for extra in [
        &["--tables", "users"][..],
        &["--tables", "users", "--full"][..],
    ] {
        let run = sync(&db.url(), &target, extra);
        run.assert_code(USAGE)
            .assert_stderr_has(&["notes.txt", "not a SQLite database"]);
        assert_eq!(
            read_bytes(&target),
            content,
            "the file was changed ({extra:?})"
        );
        assert_eq!(
            dir_entries(dir.path()),
            BTreeSet::from(["notes.txt".to_owned()]),
            "files were written ({extra:?})"
        );
    }
}

#[test]
fn target_that_is_a_directory_is_a_usage_error() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    std::fs::create_dir(&target).expect("mkdir");
    let run = sync(&db.url(), &target, &["--tables", "users", "--full"]);
    run.assert_code(USAGE).assert_stderr_has(&["directory"]);
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );
    assert!(dir_entries(&target).is_empty());
}

#[test]
fn existing_sqlite_target_is_replaced_only_with_full() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let previous = write_previous_sqlite(&target);

    let run = sync(&db.url(), &target, &["--tables", "users,categories"]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["app.db", "already exists", "--full"]);
    assert_eq!(read_bytes(&target), previous, "the target was changed");
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );

    let run = sync(
        &db.url(),
        &target,
        &["--tables", "users,categories", "--full"],
    );
    run.assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_tables(&conn),
        BTreeSet::from(["categories".to_owned(), "users".to_owned()]),
        "the old tables must be gone, the new ones there"
    );
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2000);
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(&db.url(), &target, &["--jobs", "0"]);
    run.assert_code(USAGE).assert_stderr_has(&["--jobs"]);
    let run = sync(&db.url(), &target, &["--no-such-flag"]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["--no-such-flag"]);
    let run = crate::common::run(&["sync", "--target", target.to_str().expect("utf-8")]);
    run.assert_code(USAGE).assert_stderr_has(&["--source"]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");
}

#[test]
fn passwords_never_appear_in_any_output() {
    const PW: &str = "Pw_s3cret_XyZ";
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let target_s = target.to_str().expect("utf-8");

    let failing_sources = [
        // database that does not exist (trust auth: the password is not even asked for)
        format!("postgres://root:{PW}@127.0.0.1:5432/p2s_no_such_db_{}?sslmode=disable", std::process::id()),
        // server that is not there
        format!("postgres://root:{PW}@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=10"),
        // key=value form
        format!("host=127.0.0.1 port=1 user=root password={PW} dbname=postgres sslmode=disable connect_timeout=10"),
        // a string that does not even parse
        format!("postgres://root:{PW}@127.0.0.1:notaport/postgres"),
        format!("host=127.0.0.1 password={PW} dbname=x sslmode=bogus"),
    ];
    for source in &failing_sources {
        let run = sync(source, &target, &[]);
        assert!(run.code != Some(0), "{source}: should fail");
        assert!(
            !run.all_output().contains(PW),
            "the password leaked for source {source}:\n{}",
            run.all_output()
        );
    }

    // Through DATABASE_URL and PGPASSWORD, in errors and in --help.
    let url =
        format!("postgres://root:{PW}@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=10");
    for args in [&["sync", "--target", target_s][..], &["sync", "--help"][..]] {
        let out = pg2sqlite()
            .env("DATABASE_URL", &url)
            .env("PGPASSWORD", PW)
            .args(args)
            .output()
            .expect("run");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(PW),
            "the password leaked with {args:?}:\n{all}"
        );
    }

    // A successful run (trust auth accepts any password): summary, JSON, progress.
    let db = TestDb::with_demo();
    let source = format!(
        "postgres://root:{PW}@127.0.0.1:5432/{}?sslmode=disable",
        db.name()
    );
    for extra in [
        &["--tables", "users"][..],
        &["--tables", "users", "--full", "--json"][..],
    ] {
        let run = sync(&source, &target, extra);
        run.assert_success();
        assert!(
            !run.all_output().contains(PW),
            "the password leaked in a successful run ({extra:?}):\n{}",
            run.all_output()
        );
    }
    assert!(!dir_entries(dir.path()).iter().any(|f| f.contains(PW)));
}

#[test]
fn unsupported_type_names_table_column_and_type_before_writing() {
    let db = TestDb::new();
    // intarray's query_int is not in the mapping table.
    db.execute(
        "CREATE EXTENSION IF NOT EXISTS intarray;
         CREATE TABLE searches (id int PRIMARY KEY, q query_int);
         CREATE TABLE plain (id int PRIMARY KEY);
         INSERT INTO searches VALUES (1, '1&2'); INSERT INTO plain VALUES (1);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(&db.url(), &target, &[]);
    run.assert_code(USAGE)
        .assert_stderr_has(&["searches", "q", "query_int", "--exclude"]);
    assert!(dir_entries(dir.path()).is_empty(), "files were written");

    // Following the hint works.
    sync(&db.url(), &target, &["--exclude", "searches", "--quiet"]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(sqlite_tables(&conn), BTreeSet::from(["plain".to_owned()]));
}

/// A typo in --schema must not pass for "a database without tables": with
/// --full that would replace a good SQLite file with an empty one.
#[test]
fn unknown_schema_is_a_usage_error_and_keeps_the_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let previous = write_previous_sqlite(&target);
    for schemas in ["publik", "Public", "public,billin"] {
        let run = sync(&db.url(), &target, &["--schema", schemas, "--full"]);
        let wrong = schemas.rsplit(',').next().expect("schema");
        run.assert_code(USAGE).assert_stderr_has(&[wrong, "schema"]);
        assert_eq!(
            read_bytes(&target),
            previous,
            "--schema {schemas} changed the target"
        );
        assert_eq!(
            dir_entries(dir.path()),
            BTreeSet::from(["app.db".to_owned()])
        );
    }
}

/// Names PostgreSQL allows and SQLite cannot hold are found while planning,
/// before anything is written: columns that differ only in case (SQLite column
/// names are case-insensitive) and table names SQLite reserves (`sqlite_…`).
/// Names PostgreSQL accepts and SQLite cannot hold (tables and columns that
/// differ only in case, `sqlite_…` tables) are renamed by the documented rule,
/// listed in the summary and `--json`, written out by `map init`, and every
/// command uses the new names: foreign keys, verify, a delta, export/import.
#[test]
fn names_sqlite_cannot_hold_are_renamed_listed_and_used_everywhere() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE \"Dup\" (id int PRIMARY KEY, v text);
         CREATE TABLE dup (id int PRIMARY KEY, v text);
         CREATE TABLE child (id int PRIMARY KEY, dup_id int REFERENCES dup (id));
         CREATE TABLE people (id int PRIMARY KEY, \"Name\" text, name text,
                              updated_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE sqlite_stuff (id int PRIMARY KEY);
         INSERT INTO \"Dup\" VALUES (1, 'upper');
         INSERT INTO dup VALUES (1, 'lower'), (2, 'lower');
         INSERT INTO child VALUES (10, 2);
         INSERT INTO people VALUES (1, 'Ann', 'ann', now() - interval '1 day');
         INSERT INTO sqlite_stuff VALUES (7);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let t = target.to_str().expect("utf-8");
    let url = db.url();
    let run_sync = sync(&url, &target, &["--json", "--quiet"]);
    run_sync.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run_sync.stdout).expect("json");
    let renames: Vec<String> = summary["renames"]
        .as_array()
        .expect("renames")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for expected in [
        "table public.dup -> dup_2",
        "column public.people.name -> people.name_2",
        "table public.sqlite_stuff -> pg_sqlite_stuff",
    ] {
        assert!(
            renames.iter().any(|r| r.starts_with(expected)),
            "{expected} not in {renames:?}"
        );
    }
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(&conn, "SELECT v FROM \"Dup\""),
        vec![vec![Value::Text("upper".into())]]
    );
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM dup_2"), 2);
    assert_eq!(sqlite_i64(&conn, "SELECT id FROM pg_sqlite_stuff"), 7);
    assert_eq!(
        sqlite_rows(&conn, "SELECT \"Name\", name_2 FROM people"),
        vec![vec![Value::Text("Ann".into()), Value::Text("ann".into())]]
    );
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT \"table\" FROM pragma_foreign_key_list('child')"
        ),
        vec![vec![Value::Text("dup_2".into())]]
    );
    drop(conn);
    let plain = sync(&url, &dir.path().join("again.db"), &[]);
    plain.assert_success();
    assert!(
        plain
            .stdout
            .contains("renamed, SQLite cannot hold these names (3"),
        "{}",
        plain.stdout
    );

    run(&["verify", "--source", &url, "--target", t]).assert_success();
    db.execute("UPDATE people SET name = 'annie', updated_at = now() WHERE id = 1");
    sync(
        &url,
        &target,
        &["--since", "2020-01-01T00:00:00Z", "--quiet"],
    )
    .assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(&conn, "SELECT name_2 FROM people"),
        vec![vec![Value::Text("annie".into())]]
    );
    drop(conn);
    run(&["verify", "--source", &url, "--target", t]).assert_success();

    let map = run(&["map", "init", "--source", &url]);
    map.assert_success();
    assert!(map.stdout.contains("rename = \"dup_2\""), "{}", map.stdout);
    assert!(map.stdout.contains("rename = \"name_2\""), "{}", map.stdout);

    let bundle = dir.path().join("bundle");
    let b = bundle.to_str().expect("utf-8");
    run(&["export", "--source", &url, "--out", b, "--quiet"]).assert_success();
    let imported = dir.path().join("imported.db");
    let i = imported.to_str().expect("utf-8");
    run(&["import", "--from", b, "--target", i, "--quiet"]).assert_success();
    run(&["verify", "--source", &url, "--target", i]).assert_success();
}

/// A login role without privileges, dropped on drop (roles are global to the
/// server, so the name is unique to this test process).
struct LimitedRole {
    name: String,
}

impl LimitedRole {
    fn new() -> LimitedRole {
        let name = format!("p2s_t_role_{}", std::process::id());
        connect("postgres")
            .batch_execute(&format!("CREATE ROLE {} LOGIN", pg_ident(&name)))
            .unwrap_or_else(|e| panic!("CREATE ROLE {name}: {}", pg_error(&e)));
        LimitedRole { name }
    }
}

impl Drop for LimitedRole {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(
            &format!("host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"),
            postgres::NoTls,
        ) {
            let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {}", pg_ident(&self.name)));
        }
    }
}

/// A table the role may not read is found while planning, before anything is
/// written, and the message says what to do.
#[test]
fn missing_privilege_is_found_before_writing() {
    let role = LimitedRole::new();
    let db = TestDb::new();
    db.execute(&format!(
        "CREATE TABLE visible (id int PRIMARY KEY); CREATE TABLE secret (id int PRIMARY KEY);
         GRANT SELECT ON visible TO {};",
        pg_ident(&role.name)
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let source = format!(
        "postgres://{}@{PG_HOST}:{PG_PORT}/{}?sslmode=disable",
        role.name,
        db.name()
    );
    let run = sync(&source, &target, &[]);
    run.assert_code(USAGE).assert_stderr_has(&[
        "secret",
        "permission denied",
        "GRANT SELECT",
        "--exclude",
    ]);
    assert!(dir_entries(dir.path()).is_empty(), "files were left behind");
    drop(db); // before the role, which may still have sessions in it
}

/// A role allowed fewer connections than --jobs: the copy goes on with the
/// connections it gets and says so; with too few for even one reader, a clear
/// error and the previous target kept.
#[test]
fn a_connection_limit_below_jobs_reads_with_fewer_connections() {
    let db = TestDb::with_demo();
    let role = format!("{}_lim", db.name());
    let mut admin = connect("postgres");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN CONNECTION LIMIT 3",
            pg_ident(&role)
        ))
        .expect("create role");
    db.execute(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
        pg_ident(&role)
    ));
    let source = format!(
        "host={PG_HOST} port={PG_PORT} user={role} dbname={} sslmode=disable",
        db.name()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let r = sync(
        &source,
        &target,
        &["--tables", "users,sessions", "--jobs", "6"],
    );
    r.assert_success()
        .assert_stderr_has(&["PostgreSQL allows fewer connections than --jobs 6"]);
    let before = std::fs::read(&target).expect("read");

    admin
        .batch_execute(&format!(
            "ALTER ROLE {} CONNECTION LIMIT 1",
            pg_ident(&role)
        ))
        .expect("alter role");
    let r = sync(
        &source,
        &target,
        &["--tables", "users,sessions", "--full", "--quiet"],
    );
    r.assert_code(3)
        .assert_stderr_has(&["too many connections", "lower --jobs"]);
    assert_eq!(std::fs::read(&target).expect("read"), before);
    db.execute(&format!(
        "REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {}",
        pg_ident(&role)
    ));
    drop(db);
    let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", pg_ident(&role)));
}
