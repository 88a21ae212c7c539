//! Schema maps and rolling back into the app's own SQLite schema: the example
//! maps of `schema-maps/` against their fixtures in `fixtures/apps/` (a
//! PostgreSQL side and the app's old SQLite file), compared value by value and
//! storage class by storage class; `map check` on broken maps; `map init`'s
//! inferences.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;

use crate::common::*;

const USAGE: i32 = 2;

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// `fixtures/apps/<app>.pg.sql` loaded into a new database.
fn app_db(app: &str) -> TestDb {
    let db = TestDb::new();
    db.load(&format!("apps/{app}.pg.sql"));
    db
}

/// The app's old SQLite file, built from `fixtures/apps/<app>.sqlite.sql`.
fn app_sqlite(dir: &Path, app: &str) -> PathBuf {
    let path = dir.join(format!("{app}.db"));
    let sql = std::fs::read_to_string(fixture_path(&format!("apps/{app}.sqlite.sql")))
        .expect("reading the SQLite fixture");
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch(&sql))
        .unwrap_or_else(|e| panic!("building {}: {e}", path.display()));
    path
}

fn example_map(app: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema-maps")
        .join(format!("{app}.toml"))
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("--json: {e}\n{}", run.stdout))
}

fn verify_with_map(db: &TestDb, target: &Path, map: &str) -> Run {
    run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().expect("UTF-8 path"),
        "--map",
        map,
    ])
}

#[test]
fn django_rollback_writes_the_apps_own_representations() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "django");
    let map = example_map("django");
    let run = sync(&db.url(), &target, &["--full", "--map", &map, "--json"]);
    run.assert_success();
    let summary = json(&run);
    assert_eq!(
        summary["schema_loss"],
        serde_json::json!([
            "accounts_user.nickname (text): only in PostgreSQL; the SQLite table has no such \
             column, not copied"
        ])
    );

    let conn = open_sqlite(&target);
    // uuid as 32 hex digits, datetimes in UTC with a space and no zone (the
    // fraction only when not zero), booleans 0/1, decimal in NUMERIC affinity.
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT id, email, is_active, is_staff, date_joined, last_login, balance \
               FROM accounts_user ORDER BY email"
        ),
        vec![
            vec![
                text("a0eebc999c0b4ef8bb6d6bb9bd380a11"),
                text("ada@example.com"),
                Value::Integer(1),
                Value::Integer(1),
                text("2025-11-13 08:30:00.123456"),
                text("2025-11-14 08:00:00"),
                Value::Real(1234.5),
            ],
            vec![
                text("0d3f4c2e5b6a4c8d9e0f1a2b3c4d5e6f"),
                text("bob@example.com"),
                Value::Integer(0),
                Value::Integer(0),
                text("2025-11-13 09:00:00"),
                Value::Null,
                Value::Integer(0),
            ],
            vec![
                text("ffffffff000040008000000000000001"),
                text("new@example.com"),
                Value::Integer(1),
                Value::Integer(0),
                text("2025-11-15 23:59:59.000001"),
                Value::Null,
                Value::Real(-7.25),
            ],
        ]
    );
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT id, title, body, published, created_at, metadata, author_id \
               FROM blog_post ORDER BY id"
        ),
        vec![
            vec![
                Value::Integer(1),
                text("Hello"),
                text("First post"),
                Value::Integer(1),
                text("2025-11-13 08:31:00.500000"),
                text(r#"{"tags": ["intro"], "words": 2}"#),
                text("a0eebc999c0b4ef8bb6d6bb9bd380a11"),
            ],
            vec![
                Value::Integer(2),
                text("Draft"),
                text(""),
                Value::Integer(0),
                text("2025-11-16 10:00:00"),
                Value::Null,
                text("0d3f4c2e5b6a4c8d9e0f1a2b3c4d5e6f"),
            ],
        ]
    );
    // The app's schema is kept as Django wrote it: no nickname column, its own
    // index, django_migrations untouched; the excluded sessions are not created.
    let columns: Vec<Vec<Value>> = sqlite_rows(
        &conn,
        "SELECT name, type FROM pragma_table_info('accounts_user') ORDER BY cid",
    );
    assert_eq!(columns.len(), 7, "{columns:?}");
    assert_eq!(columns[0], vec![text("id"), text("char(32)")]);
    assert_eq!(
        sqlite_tables(&conn),
        [
            "accounts_user",
            "blog_post",
            "django_migrations",
            "sqlite_sequence"
        ]
        .iter()
        .filter(|t| !t.starts_with("sqlite_"))
        .map(|s| (*s).to_owned())
        .collect()
    );
    assert_eq!(
        sqlite_rows(&conn, "SELECT app, name, applied FROM django_migrations"),
        vec![vec![
            text("accounts"),
            text("0001_initial"),
            text("2025-01-02 03:04:05.678901")
        ]]
    );
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name = 'blog_post_author_id_dd7a8485'"
        ),
        1
    );
    assert_sqlite_healthy(&conn);
    drop(conn);

    verify_with_map(&db, &target, &map).assert_success();
}

#[test]
fn prisma_rollback_stores_datetimes_as_epoch_milliseconds() {
    let db = app_db("prisma");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "prisma");
    let map = example_map("prisma");
    let run = sync(&db.url(), &target, &["--full", "--map", &map, "--json"]);
    run.assert_success();
    let summary = json(&run);
    // 19.990000000000000000000000000000 reads back as 19.99: the same number.
    assert_eq!(summary["loss"], serde_json::json!([]));

    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            r#"SELECT id, email, name, isAdmin, createdAt, updatedAt FROM "User" ORDER BY email"#
        ),
        vec![
            vec![
                text("5f0c7a9e-3b2d-4e1f-8a6b-9c0d1e2f3a4b"),
                text("ada@example.com"),
                text("Ada"),
                Value::Integer(1),
                Value::Integer(1_763_022_600_123),
                Value::Integer(1_763_114_400_500),
            ],
            vec![
                text("6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"),
                text("bob@example.com"),
                Value::Null,
                Value::Integer(0),
                // Before 1970: a millisecond before the epoch.
                Value::Integer(-1),
                Value::Integer(1_763_024_400_000),
            ],
        ]
    );
    assert_eq!(
        sqlite_rows(
            &conn,
            r#"SELECT id, title, published, views, rating, price, authorId, createdAt, updatedAt
                 FROM "Post" ORDER BY id"#
        ),
        vec![
            vec![
                Value::Integer(1),
                text("Hello"),
                Value::Integer(1),
                Value::Integer(42),
                Value::Real(4.5),
                Value::Real(19.99),
                text("5f0c7a9e-3b2d-4e1f-8a6b-9c0d1e2f3a4b"),
                Value::Integer(1_763_022_660_000),
                Value::Integer(1_763_022_660_000),
            ],
            vec![
                Value::Integer(2),
                text("Later"),
                Value::Integer(0),
                Value::Integer(0),
                Value::Null,
                Value::Null,
                text("6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"),
                Value::Integer(1_763_287_200_007),
                Value::Integer(1_763_287_200_007),
            ],
        ]
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM _prisma_migrations"),
        1
    );
    assert_sqlite_healthy(&conn);
    drop(conn);
    verify_with_map(&db, &target, &map).assert_success();
}

#[test]
fn sqlalchemy_rollback_counts_every_value_an_allowed_lossy_format_changed() {
    let db = app_db("sqlalchemy");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "sqlalchemy");
    let map = example_map("sqlalchemy");
    let run = sync(&db.url(), &target, &["--full", "--map", &map, "--json"]);
    run.assert_success();
    let summary = json(&run);
    // 0.12345678901234567 and 1.000000000000000001 do not survive a double;
    // 0.2 does (it reads back as 0.2).
    assert_eq!(
        summary["loss"],
        serde_json::json!([{
            "table": "invoices",
            "column": "tax_rate",
            "reason": "numeric_to_double",
            "description": "numeric stored as a double that reads back as another decimal \
                 (allowed by allow_lossy, or how the app's framework stores it)",
            "count": 2
        }])
    );
    // legacy_code is skipped by the map on purpose: no schema loss reported.
    assert_eq!(summary["schema_loss"], serde_json::json!([]));

    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT id, name, vip, created_at FROM customers ORDER BY name"
        ),
        vec![
            vec![
                text("9b2e6c1a7d4f4a3b8e5c1f2a3b4c5d6e"),
                text("Acme"),
                Value::Integer(1),
                text("2025-11-13 08:30:00.000000"),
            ],
            vec![
                text("1c2d3e4f5a6b4c7d8e9fa0b1c2d3e4f5"),
                text("Globex"),
                Value::Integer(0),
                text("2025-11-14 12:00:00.250000"),
            ],
        ]
    );
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT id, number, customer_id, amount, tax_rate, issued_at, paid, tags, data, notes \
               FROM invoices ORDER BY id"
        ),
        vec![
            vec![
                Value::Integer(1),
                text("INV-0001"),
                text("9b2e6c1a7d4f4a3b8e5c1f2a3b4c5d6e"),
                Value::Real(1234.5),
                Value::Real(0.2),
                text("2025-11-13 08:30:00.000000"),
                Value::Integer(1),
                text(r#"["urgent","q4"]"#),
                text(r#"{"lines": 3}"#),
                // Only in SQLite: keeps its default.
                text(""),
            ],
            vec![
                Value::Integer(2),
                text("INV-0002"),
                text("1c2d3e4f5a6b4c7d8e9fa0b1c2d3e4f5"),
                Value::Real(99.99),
                // The double nearest 0.12345678901234567 (PostgreSQL's float8 agrees).
                Value::Real(0.123_456_789_012_345_66),
                text("2025-11-14 12:00:00.123456"),
                Value::Integer(0),
                Value::Null,
                // A bare JSON number in a JSON (NUMERIC affinity) column: SQLite
                // stores it as a number, as it did for the app.
                Value::Integer(7),
                text(""),
            ],
            vec![
                Value::Integer(3),
                text("INV-0003"),
                text("1c2d3e4f5a6b4c7d8e9fa0b1c2d3e4f5"),
                // NUMERIC affinity stores an integral value as an integer.
                Value::Integer(-5),
                Value::Real(1.0),
                text("2025-11-15 00:00:00.500000"),
                Value::Integer(0),
                text("[]"),
                text("[1, 2]"),
                text(""),
            ],
        ]
    );
    assert_eq!(
        sqlite_rows(&conn, "SELECT version_num FROM alembic_version"),
        vec![vec![text("3f1c2b7a9d10")]]
    );
    assert_sqlite_healthy(&conn);
    drop(conn);
    verify_with_map(&db, &target, &map).assert_success();
}

/// A new user's mistakes, all in one map: a misspelt column, a format the type
/// cannot take, an impossible conversion into the existing schema, a lossy
/// format without permission, a table that does not exist, a text cursor. All are reported in
/// one run, each with file:line, table and column, and nothing is written.
#[test]
fn broken_map_reports_every_problem_with_file_line_table_and_column() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "django");
    let before = read_bytes(&target);
    let map = dir.path().join("broken.toml");
    std::fs::write(
        &map,
        r#"exclude = ["django_session"]

[tables.accounts_user.columns]
id = { format = "hex32" }
emial = { format = "text" }
is_active = { format = "unix" }
date_joined = { format = "unix_ms" }

[tables.blog_post.columns]
title = { format = "integer" }

[tables.blog_psot]
cursor = "created_at"

[tables.blog_post]
cursor = "title"
"#,
    )
    .expect("writing the map");
    let map = map.to_str().expect("UTF-8 path");
    let target_arg = target.to_str().expect("UTF-8 path");

    let check = run(&[
        "map",
        "check",
        "--map",
        map,
        "--source",
        &db.url(),
        "--target",
        target_arg,
    ]);
    check.assert_code(USAGE).assert_stderr_has(&[
        // misspelt column
        &format!("{map}:5: table public.accounts_user has no column \"emial\"; did you mean \"email\"?"),
        // a format of another type
        &format!("{map}:6: table public.accounts_user, column is_active (boolean): format \"unix\" cannot hold a boolean value (it accepts: int, text, tf)"),
        // lossy without allow_lossy: timestamptz has microseconds
        &format!("{map}:7: table public.accounts_user, column date_joined: format \"unix_ms\" is lossy"),
        "allow_lossy = true",
        // text -> integer
        &format!("{map}:10: table public.blog_post, column title (character varying): format \"integer\" cannot hold a text value"),
        // unknown table
        &format!("{map}:12: no table named \"blog_psot\" in the chosen schemas; did you mean \"blog_post\"?"),
        // a cursor that cannot order rows
        &format!("{map}:16: cursor: column \"title\" of public.blog_post is character varying"),
    ]);

    // sync refuses the same map before writing anything.
    let run = sync(&db.url(), &target, &["--full", "--map", map]);
    run.assert_code(USAGE)
        .assert_stderr_has(&[&format!("{map}:5:"), &format!("{map}:12:")]);
    assert_eq!(read_bytes(&target), before, "the target was changed");
    assert_eq!(
        dir_entries(dir.path()),
        ["broken.toml", "django.db"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    );
}

/// An existing column whose declared type cannot hold the values unchanged is
/// refused, naming the column and its declared type.
#[test]
fn impossible_conversion_into_the_existing_schema_is_refused() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE notes (id int PRIMARY KEY, body text, code uuid);
         INSERT INTO notes VALUES (1, '12', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body INTEGER, code BLOB)")
        })
        .expect("app schema");
    let run = sync(&db.url(), &target, &["--full"]);
    run.assert_code(USAGE).assert_stderr_has(&[
        "table public.notes, column body",
        "declared \"INTEGER\"",
        "numeric affinity would turn text that looks like a number into a number",
    ]);
    // With a map that does not mention the column, the message carries no map
    // line (it once said `m.toml:0:`).
    let map = dir.path().join("m.toml");
    std::fs::write(&map, "[tables.notes]\ncursor = \"id\"\n").expect("writing the map");
    let run = sync(
        &db.url(),
        &target,
        &["--full", "--map", map.to_str().expect("UTF-8 path")],
    );
    run.assert_code(USAGE)
        .assert_stderr_has(&["  - table public.notes, column body"]);
    assert!(!run.stderr.contains(":0:"), "{}", run.stderr);
}

/// Unknown keys are refused with their line (a misspelt `formt` must not pass
/// for "no format").
#[test]
fn unknown_key_in_a_map_is_a_usage_error_with_its_line() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("typo.toml");
    std::fs::write(
        &map,
        "[tables.accounts_user.columns]\nid = { formt = \"hex32\" }\n",
    )
    .expect("writing the map");
    let map = map.to_str().expect("UTF-8 path");
    run(&["map", "check", "--map", map, "--source", &db.url()])
        .assert_code(USAGE)
        .assert_stderr_has(&[&format!("{map}:2"), "formt", "format"]);
}

/// A NOT NULL column only SQLite has, without a default, cannot be filled: a
/// planning error that says how to feed it.
#[test]
fn sqlite_only_not_null_column_without_default_is_a_planning_error() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, sku TEXT NOT NULL)",
            )
        })
        .expect("app schema");
    sync(&db.url(), &target, &["--full"])
        .assert_code(USAGE)
        .assert_stderr_has(&["column \"sku\" is NOT NULL without a default", "rename"]);

    // A map that feeds it from PostgreSQL's `name` column is accepted.
    let map = dir.path().join("m.toml");
    std::fs::write(
        &map,
        "[tables.items.columns]\nname = { rename = \"sku\" }\n",
    )
    .expect("writing the map");
    sync(
        &db.url(),
        &target,
        &["--full", "--map", map.to_str().expect("UTF-8 path")],
    )
    .assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(&conn, "SELECT id, name, sku FROM items"),
        vec![vec![Value::Integer(1), Value::Null, text("a")]]
    );
}

/// `map init` against the Prisma app's old file reads the representations off
/// the stored values and says on what evidence; the map it prints passes
/// `map check` after the lossy line is allowed, and a sync without any map
/// writes the same representations.
#[test]
fn map_init_infers_representations_from_the_stored_values() {
    let db = app_db("prisma");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "prisma");
    let target_arg = target.to_str().expect("UTF-8 path");
    let init = run(&["map", "init", "--source", &db.url(), "--target", target_arg]);
    init.assert_success();
    let lines: Vec<&str> = init.stdout.lines().collect();
    let line = |prefix: &str, table: &str| -> String {
        let start = lines
            .iter()
            .position(|l| *l == format!("[tables.{table}.columns]"))
            .unwrap_or_else(|| panic!("no columns of {table}:\n{}", init.stdout));
        lines[start..]
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in {table}:\n{}", init.stdout))
            .to_string()
    };
    let created = line("createdAt = ", "User");
    assert!(
        created.starts_with(r#"createdAt = { format = "unix_ms" }"#)
            && created.contains("1763022600123: epoch milliseconds"),
        "{created}"
    );
    let id = line("id = ", "User");
    assert!(
        id.starts_with(r#"id = { format = "text" }"#) && id.contains("dashed"),
        "{id}"
    );
    let admin = line("isAdmin = ", "User");
    assert!(
        admin.starts_with(r#"isAdmin = { format = "int" }"#) && admin.contains("0/1"),
        "{admin}"
    );
    let price = line("price = ", "Post");
    assert!(
        price.starts_with(r#"price = { format = "real" }"#) && price.contains("LOSSY"),
        "{price}"
    );

    // As printed, the lossy column is what Prisma itself stores (a double), and
    // none of the stored values changes in one: the map is valid as it is.
    let map = dir.path().join("init.toml");
    std::fs::write(&map, &init.stdout).expect("writing the map");
    let map_arg = map.to_str().expect("UTF-8 path");
    let check = |map: &str| {
        run(&[
            "map",
            "check",
            "--map",
            map,
            "--source",
            &db.url(),
            "--target",
            target_arg,
        ])
    };
    let checked = check(map_arg);
    checked.assert_success();
    assert!(
        checked.stdout.contains("app style: Prisma")
            && checked.stdout.contains("Post.price")
            && checked.stdout.contains("copied exactly"),
        "{}",
        checked.stdout
    );
    let allowed = init.stdout.replace(
        r#"price = { format = "real" }"#,
        r#"price = { format = "real", allow_lossy = true }"#,
    );
    std::fs::write(&map, allowed).expect("writing the map");
    check(map_arg).assert_success();

    // Synced with the map init wrote, the representations are the app's own.
    sync(&db.url(), &target, &["--full", "--map", map_arg]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            r#"SELECT createdAt, typeof(createdAt), id FROM "User" ORDER BY email"#
        ),
        vec![
            vec![
                Value::Integer(1_763_022_600_123),
                text("integer"),
                text("5f0c7a9e-3b2d-4e1f-8a6b-9c0d1e2f3a4b")
            ],
            vec![
                Value::Integer(-1),
                text("integer"),
                text("6a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d")
            ],
        ]
    );
}

/// Without a map, an existing Django table is written in what its stored values
/// show: hex32 uuids and space-separated datetimes.
#[test]
fn sync_without_a_map_infers_the_existing_representation() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "django");
    sync(
        &db.url(),
        &target,
        &["--full", "--tables", "accounts_user,blog_post", "--quiet"],
    )
    .assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT id, date_joined FROM accounts_user WHERE email = 'new@example.com'"
        ),
        vec![vec![
            text("ffffffff000040008000000000000001"),
            text("2025-11-15 23:59:59.000001")
        ]]
    );
}

/// Every format a map can choose, into a table pg2sqlite creates (renamed,
/// with a renamed column), value by value; the lossy ones allowed and counted.
/// The expected values are written out: julian days as SQLite's `julianday()`
/// prints them, epoch numbers as `date +%s` would.
#[test]
fn every_format_is_stored_as_documented_and_verifies() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE events (
             id int PRIMARY KEY,
             code uuid,
             flag boolean,
             day date,
             day_s date,
             at_s timestamptz,
             at_us timestamp,
             at_t timestamp,
             at_z timestamptz,
             at_ms timestamp(3),
             amount numeric(12, 3),
             big numeric,
             ratio numeric(6, 4),
             at_js timestamptz
         );
         INSERT INTO events VALUES
           (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, '2025-11-13', '2025-11-13',
            '2025-11-13 08:30:00.75+00', '1969-12-31 23:59:59.999999', '2025-11-13 08:30:00',
            '2025-11-13 08:30:00+00', '2025-11-13 08:30:00.123', 12.500,
            123456789012345678901234567890.123456789, 0.1234, '2025-11-13 08:30:00.123456+00'),
           (2, '00000000-0000-0000-0000-000000000000', false, '0001-01-01', '1969-12-31',
            '1969-12-31 23:59:59.5+00', '2025-11-13 08:30:00', '2025-11-13 08:30:00.25',
            '2025-11-13 08:30:00.000001+00', '1969-12-31 23:59:59.999', -12.500, -1, -0.5,
            '1969-12-31 23:59:59.9995+00'),
           (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 7, NULL, NULL, NULL);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let map = dir.path().join("all.toml");
    std::fs::write(
        &map,
        r#"include = ["events"]

[tables.events]
rename = "app_events"

[tables.events.columns]
code = { format = "blob", rename = "code_bytes" }
flag = { format = "text" }
day = { format = "julian" }
day_s = { format = "unix" }
at_s = { format = "unix", allow_lossy = true }
at_us = { format = "unix_us" }
at_t = { format = "iso" }
at_z = { format = "iso", fraction = "always" }
at_ms = { format = "unix_ms", type = "DATETIME" }
amount = { format = "integer", allow_lossy = true }
big = { format = "text" }
ratio = { format = "real" }
at_js = { format = "iso", fraction = "ms", zone = "+00:00", allow_lossy = true }
"#,
    )
    .expect("writing the map");
    let map = map.to_str().expect("UTF-8 path");
    let run = sync(&db.url(), &target, &["--map", map, "--json"]);
    run.assert_success();
    let summary = json(&run);
    let loss: Vec<(String, String, u64)> = summary["loss"]
        .as_array()
        .expect("loss")
        .iter()
        .map(|l| {
            (
                l["column"].as_str().expect("column").to_owned(),
                l["reason"].as_str().expect("reason").to_owned(),
                l["count"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(
        loss,
        vec![
            ("amount".to_owned(), "rounded_numeric".to_owned(), 2),
            ("at_js".to_owned(), "truncated_precision".to_owned(), 2),
            ("at_s".to_owned(), "truncated_precision".to_owned(), 2),
        ],
        "{}",
        run.stdout
    );
    assert_eq!(summary["loss"][0]["table"], "app_events");

    let conn = open_sqlite(&target);
    let declared = sqlite_rows(
        &conn,
        "SELECT name, type FROM pragma_table_info('app_events') ORDER BY cid",
    );
    assert_eq!(declared[1], vec![text("code_bytes"), text("BLOB")]);
    assert_eq!(declared[9], vec![text("at_ms"), text("DATETIME")]);
    assert_eq!(declared[10], vec![text("amount"), text("INTEGER")]);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT code_bytes, flag, day, day_s, at_s, at_us, at_t, at_z, at_ms, amount, big, ratio,
                    at_js
               FROM app_events ORDER BY id"
        ),
        vec![
            vec![
                Value::Blob(vec![
                    0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd,
                    0x38, 0x0a, 0x11
                ]),
                text("true"),
                Value::Real(2_460_992.5),
                Value::Integer(1_762_992_000),
                // .75 s truncated: counted
                Value::Integer(1_763_022_600),
                Value::Integer(-1),
                text("2025-11-13T08:30:00"),
                text("2025-11-13T08:30:00.000000Z"),
                Value::Integer(1_763_022_600_123),
                // 12.5 rounded half away from zero: counted
                Value::Integer(13),
                text("123456789012345678901234567890.123456789"),
                Value::Real(0.1234),
                // .123456 truncated to milliseconds: counted
                text("2025-11-13T08:30:00.123+00:00"),
            ],
            vec![
                Value::Blob(vec![0; 16]),
                text("false"),
                Value::Real(1_721_425.5),
                Value::Integer(-86_400),
                // 1969-12-31 23:59:59.5 truncated toward the past: counted
                Value::Integer(-1),
                Value::Integer(1_763_022_600_000_000),
                text("2025-11-13T08:30:00.250000"),
                text("2025-11-13T08:30:00.000001Z"),
                Value::Integer(-1),
                Value::Integer(-13),
                text("-1"),
                Value::Real(-0.5),
                // truncated toward the past, as date_trunc: counted
                text("1969-12-31T23:59:59.999+00:00"),
            ],
            vec![
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Integer(7),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ]
    );
    drop(conn);
    verify_with_map(&db, &target, map).assert_success();
    // With the same names but the default formats pinned, verification's strict
    // inverse finds the rows stored in another representation.
    let defaults = dir.path().join("defaults.toml");
    std::fs::write(
        &defaults,
        r#"[tables.events]
rename = "app_events"

[tables.events.columns]
code = { rename = "code_bytes", format = "text" }
day = { format = "iso" }
day_s = { format = "iso" }
at_s = { format = "iso" }
at_us = { format = "iso-space" }
at_t = { format = "iso-space" }
at_ms = { format = "iso-space" }
at_js = { format = "iso", fraction = "ms", zone = "+00:00", allow_lossy = true }
"#,
    )
    .expect("writing the map");
    let r = verify_with_map(&db, &target, defaults.to_str().expect("UTF-8 path"));
    r.assert_code(1);
    assert!(
        r.stdout.contains("app_events") && r.stdout.contains("MISMATCH"),
        "{}",
        r.stdout
    );
}

/// The app's file is the app's: written into, it keeps its journal mode (WAL
/// here), its user_version and its other tables, and no sidecar is left behind.
#[test]
fn app_file_keeps_wal_mode_and_user_version() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "django");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
            c.execute_batch("PRAGMA user_version = 42")
        })
        .expect("WAL mode");
    sync(
        &db.url(),
        &target,
        &["--full", "--map", &example_map("django"), "--quiet"],
    )
    .assert_success();
    assert_eq!(
        dir_entries(dir.path()),
        ["django.db"].iter().map(|s| (*s).to_owned()).collect()
    );
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(&conn, "PRAGMA journal_mode"),
        vec![vec![text("wal")]]
    );
    assert_eq!(sqlite_i64(&conn, "PRAGMA user_version"), 42);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM accounts_user"), 3);
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM django_migrations"),
        1
    );
}

/// A JavaScript app (Sequelize style) the examples do not cover: datetimes as
/// `2025-11-13 08:30:00.123 +00:00`, booleans as 0/1. Without a map, sync reads
/// the form off the stored values and writes it; a column whose stored form it
/// does not know (a +01:00 offset) is written in the default form and said so.
#[test]
fn sequelize_style_datetimes_are_inferred_and_unknown_forms_are_noted() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE \"Users\" (id serial PRIMARY KEY, \"createdAt\" timestamptz(3) NOT NULL,
                                 \"seenAt\" timestamptz, active boolean NOT NULL);
         INSERT INTO \"Users\" VALUES
           (1, '2025-11-13 08:30:00.123+00', '2025-11-13 10:00:00+01', true),
           (2, '2025-11-14 00:00:00+00', NULL, false);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.sqlite");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE `Users` (`id` INTEGER PRIMARY KEY AUTOINCREMENT,
                     `createdAt` DATETIME NOT NULL, `seenAt` DATETIME,
                     `active` TINYINT(1) NOT NULL DEFAULT 1);
                 INSERT INTO Users VALUES (1, '2025-11-01 12:00:00.000 +00:00',
                     '2025-11-01 13:00:00.000+01:00', 1);",
            )
        })
        .expect("app schema");
    let run = sync(&db.url(), &target, &["--full", "--json"]);
    run.assert_success();
    let summary = json(&run);
    let notes = summary["notes"].to_string();
    assert!(
        notes.contains("Users.seenAt") && notes.contains("13:00:00.000+01:00"),
        "{notes}"
    );
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT createdAt, seenAt, active FROM Users ORDER BY id"
        ),
        vec![
            vec![
                text("2025-11-13 08:30:00.123 +00:00"),
                text("2025-11-13T09:00:00Z"),
                Value::Integer(1)
            ],
            vec![
                text("2025-11-14 00:00:00.000 +00:00"),
                Value::Null,
                Value::Integer(0)
            ],
        ]
    );
}

/// An app file may hold a virtual table of a module this build lacks (an
/// extension the app loads). It cannot be read, which matters only if a sync
/// wants to write into it.
#[test]
fn unreadable_virtual_table_in_the_app_file_only_matters_when_written() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a');
         CREATE TABLE vectors (id int PRIMARY KEY);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            // What `CREATE VIRTUAL TABLE vectors USING vec0(...)` leaves in a
            // file, written by hand since this build has no such module.
            c.execute_batch(
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);
                 PRAGMA writable_schema = ON;
                 INSERT INTO sqlite_master VALUES
                   ('table', 'vectors', 'vectors', 0,
                    'CREATE VIRTUAL TABLE vectors USING vec0(embedding float[4])');
                 PRAGMA writable_schema = OFF;",
            )
        })
        .expect("app schema");
    sync(&db.url(), &target, &["--full", "--tables", "items"]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(&conn, "SELECT id, name FROM items"),
        vec![vec![Value::Integer(1), text("a")]]
    );
    drop(conn);
    sync(&db.url(), &target, &["--full", "--tables", "vectors"])
        .assert_code(USAGE)
        .assert_stderr_has(&["vectors", "cannot be read", "vec0"]);
}

/// `map init` without a target writes a complete map of the default mapping:
/// it passes `map check` as printed, and a sync with it writes the same file
/// contents, value for value and declared type for declared type, as a sync
/// without any map (fixtures/demo.sql covers every type of the mapping table).
#[test]
fn map_init_without_a_target_spells_out_the_default_mapping() {
    let db = TestDb::with_demo();
    let init = run(&["map", "init", "--source", &db.url()]);
    init.assert_success();
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("demo.toml");
    std::fs::write(&map, &init.stdout).expect("writing the map");
    let map = map.to_str().expect("UTF-8 path");
    let check = run(&["map", "check", "--map", map, "--source", &db.url()]);
    check.assert_success();
    assert!(
        check.stdout.contains("ok, checked against PostgreSQL")
            && check.stdout.contains("-> users (new table"),
        "{}",
        check.stdout
    );

    let plain = dir.path().join("plain.db");
    let mapped = dir.path().join("mapped.db");
    sync(&db.url(), &plain, &["--quiet"]).assert_success();
    sync(&db.url(), &mapped, &["--quiet", "--map", map]).assert_success();
    let a = open_sqlite(&plain);
    let b = open_sqlite(&mapped);
    let tables = sqlite_tables(&a);
    assert_eq!(tables, sqlite_tables(&b));
    for t in &tables {
        let schema = format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}')");
        assert_eq!(sqlite_rows(&a, &schema), sqlite_rows(&b, &schema), "{t}");
        let rows = format!("SELECT * FROM {} ORDER BY 1, 2", sq_ident(t));
        assert_eq!(sqlite_rows(&a, &rows), sqlite_rows(&b, &rows), "{t}");
    }
}

/// A Rails app: ActiveRecord's SQLite adapter stores a `time` as that time on
/// 2000-01-01 (`2000-01-01 12:30:15[.500000]`). Without a map, sync reads that
/// form off the stored values (and, for a column with none, off the Rails
/// bookkeeping tables), writes it, and verify inverts it.
#[test]
fn rails_times_are_stored_on_2000_01_01_and_verify() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE shifts (id int PRIMARY KEY, starts_at time NOT NULL, ends_at time,
                              break_at time);
         INSERT INTO shifts VALUES
           (1, '12:30:15', '12:30:15.5', '00:00:00'),
           (2, '00:00:00', '23:59:59.999999', '10:15:00.000001'),
           (3, '23:59:59.999999', NULL, NULL);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("development.sqlite3");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TABLE \"schema_migrations\" (\"version\" varchar NOT NULL PRIMARY KEY);
                 CREATE TABLE \"ar_internal_metadata\" (\"key\" varchar NOT NULL PRIMARY KEY,
                     \"value\" varchar, \"created_at\" datetime(6) NOT NULL,
                     \"updated_at\" datetime(6) NOT NULL);
                 INSERT INTO schema_migrations VALUES ('20251101120000');
                 INSERT INTO ar_internal_metadata VALUES ('environment', 'development',
                     '2025-11-01 12:00:00.000000', '2025-11-01 12:00:00.000000');
                 CREATE TABLE \"shifts\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
                     \"starts_at\" time NOT NULL, \"ends_at\" time, \"break_at\" time);
                 INSERT INTO shifts VALUES (1, '2000-01-01 09:00:00',
                     '2000-01-01 17:30:00.250000', NULL);",
            )
        })
        .expect("app schema");
    sync(&db.url(), &target, &["--full", "--quiet"]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT starts_at, ends_at, break_at FROM shifts ORDER BY id"
        ),
        vec![
            vec![
                text("2000-01-01 12:30:15"),
                text("2000-01-01 12:30:15.500000"),
                text("2000-01-01 00:00:00"),
            ],
            vec![
                text("2000-01-01 00:00:00"),
                text("2000-01-01 23:59:59.999999"),
                text("2000-01-01 10:15:00.000001"),
            ],
            vec![text("2000-01-01 23:59:59.999999"), Value::Null, Value::Null,],
        ]
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM schema_migrations"),
        1
    );
    drop(conn);
    let r = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().expect("UTF-8 path"),
    ]);
    r.assert_success();
    assert!(
        r.stdout.contains("shifts") && r.stdout.contains("MATCH") && !r.stdout.contains("MISMATCH"),
        "{}",
        r.stdout
    );
}

/// The app's own indexes are set aside while their tables' rows are replaced
/// and built again after: the file keeps each one under its name and
/// statement, and they answer queries. A unique index of the app's that
/// PostgreSQL's rows break is named, and nothing is published.
#[test]
fn the_apps_own_indexes_come_back_and_a_broken_unique_one_is_named() {
    let db = app_db("django");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = app_sqlite(dir.path(), "django");
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch(
                "CREATE INDEX blog_post_title_lower ON blog_post (lower(title)) WHERE published;",
            )
        })
        .expect("an index of the app's");
    let indexes = |path: &Path| {
        sqlite_rows(
            &open_sqlite(path),
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
              ORDER BY name",
        )
    };
    let before = indexes(&target);
    assert_eq!(before.len(), 2, "{before:?}");
    let map = example_map("django");
    sync(&db.url(), &target, &["--full", "--map", &map, "--quiet"]).assert_success();
    assert_eq!(indexes(&target), before);
    let conn = open_sqlite(&target);
    assert_sqlite_healthy(&conn);
    assert_eq!(
        sqlite_i64(
            &conn,
            "SELECT count(*) FROM blog_post INDEXED BY blog_post_title_lower
              WHERE lower(title) = 'hello' AND published"
        ),
        1
    );
    drop(conn);

    // Two posts with one title: the app's SQLite file forbids it, PostgreSQL
    // does not.
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute_batch("CREATE UNIQUE INDEX blog_post_title ON blog_post (title);"))
        .expect("a unique index of the app's");
    db.execute("UPDATE blog_post SET title = 'Hello'");
    let file = read_bytes(&target);
    sync(&db.url(), &target, &["--full", "--map", &map, "--quiet"])
        .assert_code(3)
        .assert_stderr_has(&[
            "blog_post",
            "CREATE UNIQUE INDEX blog_post_title ON blog_post (title)",
            "a rule PostgreSQL does not have",
        ]);
    assert!(read_bytes(&target) == file, "the target changed");
}
