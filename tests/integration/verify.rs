//! `pg2sqlite verify`: a faithful copy matches; every kind of damage is found
//! and located (table, key, column).

use std::path::Path;

use serde_json::Value as Json;

use crate::common::{run, sync, Run, TestDb};

fn verify_json(db: &TestDb, target: &Path) -> (Option<i32>, Json) {
    verify_schemas_json(db, target, "public,billing")
}

fn verify_schemas_json(db: &TestDb, target: &Path, schemas: &str) -> (Option<i32>, Json) {
    verify_args_json(db, target, schemas, &[])
}

fn verify_schemas_json_with(db: &TestDb, target: &Path, extra: &[&str]) -> (Option<i32>, Json) {
    verify_args_json(db, target, "public,billing", extra)
}

fn verify_args_json(
    db: &TestDb,
    target: &Path,
    schemas: &str,
    extra: &[&str],
) -> (Option<i32>, Json) {
    let target = target.to_str().expect("UTF-8 path");
    let url = db.url();
    let mut args = vec![
        "verify", "--source", &url, "--target", target, "--schema", schemas, "--json",
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    let json: Json = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON ({e})\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        )
    });
    (r.code, json)
}

/// `verify` of the demo's schemas with its text report, and `extra` arguments.
fn verify_text(db: &TestDb, target: &Path, extra: &[&str]) -> Run {
    let target = target.to_str().expect("UTF-8 path");
    let url = db.url();
    let args = [
        "verify",
        "--source",
        url.as_str(),
        "--target",
        target,
        "--schema",
        "public,billing",
    ];
    run(&[&args[..], extra].concat())
}

fn table<'a>(report: &'a Json, name: &str) -> &'a Json {
    report["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["table"] == name))
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

fn synced_demo() -> (TestDb, tempfile::TempDir, std::path::PathBuf) {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("copy.db");
    sync(
        &db.url(),
        &target,
        &["--schema", "public,billing", "--quiet"],
    )
    .assert_success();
    (db, dir, target)
}

#[test]
fn faithful_copy_with_nan_infinities_and_wide_numerics_matches() {
    let (db, _dir, target) = synced_demo();
    let (code, report) = verify_json(&db, &target);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["match"], true);
    for t in report["tables"].as_array().expect("tables") {
        assert_eq!(t["status"], "match", "{t}");
        assert_eq!(t["postgres_rows"], t["sqlite_rows"], "{t}");
    }
    // all_types holds NaN and ±Infinity floats, 40+ digit and NaN numerics,
    // infinity and BC dates: its 4 rows must all verify.
    assert_eq!(table(&report, "all_types")["sqlite_rows"], 4);
    assert_eq!(report["health"]["integrity"], serde_json::json!([]));
    assert_eq!(report["health"]["foreign_key_violations"], 0);

    // The text report for people.
    let text = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        target.to_str().expect("UTF-8"),
    ]);
    text.assert_success();
    assert!(
        text.stdout.contains("users")
            && text.stdout.contains("MATCH")
            && text.stdout.contains("2000 rows"),
        "{}",
        text.stdout
    );
}

/// One kind of damage: SQL applied to a copy, and where verify must point.
struct Damage {
    what: &'static str,
    sql: &'static str,
    table: &'static str,
    changed: Option<(&'static str, &'static [&'static str])>,
    missing: Option<&'static str>,
    extra: Option<&'static str>,
}

const fn changed(
    what: &'static str,
    sql: &'static str,
    table: &'static str,
    key: &'static str,
    columns: &'static [&'static str],
) -> Damage {
    Damage {
        what,
        sql,
        table,
        changed: Some((key, columns)),
        missing: None,
        extra: None,
    }
}

const DAMAGES: &[Damage] = &[
    changed("integer", "UPDATE all_types SET i4 = i4 - 1 WHERE id = 1", "all_types", "id=1", &["i4"]),
    changed("bigint at its limit", "UPDATE all_types SET i8 = 9223372036854775806 WHERE id = 1", "all_types", "id=1", &["i8"]),
    changed("float", "UPDATE all_types SET f8 = 1.5 WHERE id = 1", "all_types", "id=1", &["f8"]),
    changed("float NaN to NULL", "UPDATE all_types SET f4 = NULL WHERE id = 2", "all_types", "id=2", &["f4"]),
    changed(
        "numeric, last of 40 digits",
        "UPDATE all_types SET n = '12345678901234567890123456789012345678901234.5678901235' WHERE id = 1",
        "all_types",
        "id=1",
        &["n"],
    ),
    changed("numeric in a NUMERIC column", "UPDATE \"Order\" SET \"Total\" = \"Total\" + 0.01 WHERE \"Id\" = 10", "Order", "Id=10", &["Total"]),
    changed("text", "UPDATE users SET name = 'User 5 ' WHERE id = 5", "users", "id=5", &["name"]),
    changed("char(n) padding dropped", "UPDATE all_types SET ch = 'ab' WHERE id = 1", "all_types", "id=1", &["ch"]),
    changed("blob", "UPDATE all_types SET by = x'deadbeee' WHERE id = 3", "all_types", "id=3", &["by"]),
    changed("empty blob to NULL", "UPDATE all_types SET by = NULL WHERE id = 2", "all_types", "id=2", &["by"]),
    changed(
        "timestamp, one microsecond",
        "UPDATE all_types SET ts = '2024-02-29 23:59:59.123457' WHERE id = 3",
        "all_types",
        "id=3",
        &["ts"],
    ),
    changed(
        "timestamptz written with a space instead of T",
        "UPDATE sessions SET started_at = replace(started_at, 'T', ' ') WHERE token = (SELECT token FROM sessions ORDER BY token LIMIT 1)",
        "sessions",
        "token=0014751a-9ceb-1a33-b410-34008c8a17d4",
        &["started_at"],
    ),
    changed("json", "UPDATE all_types SET jb = '{\"nested\": {\"k\": [true, false]}}' WHERE id = 3", "all_types", "id=3", &["jb"]),
    changed("array", "UPDATE all_types SET ai = '[1,null,4]' WHERE id = 1", "all_types", "id=1", &["ai"]),
    changed("uuid in upper case", "UPDATE all_types SET u = upper(u) WHERE id = 1", "all_types", "id=1", &["u"]),
    changed("boolean", "UPDATE users SET is_admin = 1 - is_admin WHERE id = 3", "users", "id=3", &["is_admin"]),
    changed(
        "NULL turned into an empty string",
        "UPDATE sessions SET expires_at = '' WHERE token = (SELECT token FROM sessions WHERE expires_at IS NULL ORDER BY token LIMIT 1)",
        "sessions",
        "",
        &["expires_at"],
    ),
    changed(
        "swapped pair of values in one row",
        "UPDATE users SET name = email, email = name WHERE id = 3",
        "users",
        "id=3",
        &["email", "name"],
    ),
    changed("table in a second schema", "UPDATE billing__invoices SET amount = '1' WHERE id = 1", "billing__invoices", "id=1", &["amount"]),
    changed("composite key", "UPDATE user_categories SET since = '2024-12-31' WHERE user_id = 1", "user_categories", "user_id=1, category_id=2", &["since"]),
    Damage {
        what: "deleted row",
        sql: "DELETE FROM users WHERE id = 7",
        table: "users",
        changed: None,
        missing: Some("id=7"),
        extra: None,
    },
    Damage {
        what: "extra row",
        sql: "INSERT INTO categories VALUES (99, 1, 'new')",
        table: "categories",
        changed: None,
        missing: None,
        extra: Some("id=99"),
    },
    Damage {
        what: "row changed in a table without a key",
        sql: "UPDATE audit_log SET action = 'action_x' WHERE rowid = 100",
        table: "audit_log",
        changed: None,
        missing: Some("action=action_"),
        extra: Some("action=action_x"),
    },
    Damage {
        what: "one of two duplicate rows deleted in a table without a key",
        sql: "DELETE FROM audit_log WHERE rowid = (SELECT max(rowid) FROM audit_log)",
        table: "audit_log",
        changed: None,
        missing: Some("action=action_"),
        extra: None,
    },
];

#[test]
fn every_kind_of_damage_is_found_and_located() {
    let (db, dir, target) = synced_demo();
    for (i, d) in DAMAGES.iter().enumerate() {
        let copy = dir.path().join(format!("damaged_{i}.db"));
        std::fs::copy(&target, &copy).expect("copy the synced file");
        {
            let conn = rusqlite::Connection::open(&copy).expect("open copy");
            // Damage as an application could: without foreign-key enforcement.
            conn.execute_batch("PRAGMA foreign_keys = OFF")
                .expect("foreign keys off");
            let n = conn
                .execute(d.sql, [])
                .unwrap_or_else(|e| panic!("{}: {}: {e}", d.what, d.sql));
            assert_eq!(n, 1, "{}: the damage must touch exactly one row", d.what);
        }
        let (code, report) = verify_json(&db, &copy);
        assert_eq!(code, Some(1), "{}: verify must exit 1\n{report}", d.what);
        assert_eq!(report["match"], false, "{}", d.what);
        for t in report["tables"].as_array().expect("tables") {
            let expected = if t["table"] == d.table {
                "mismatch"
            } else {
                "match"
            };
            assert_eq!(t["status"], expected, "{}: {t}", d.what);
        }
        let t = table(&report, d.table);
        if let Some((key, columns)) = d.changed {
            let changed = t["changed"].as_array().expect("changed");
            assert_eq!(changed.len(), 1, "{}: {t}", d.what);
            assert!(
                changed[0]["key"].as_str().is_some_and(|k| k.contains(key)),
                "{}: key {key:?} expected in {t}",
                d.what
            );
            let got: Vec<&str> = changed[0]["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .filter_map(Json::as_str)
                .collect();
            assert_eq!(got, columns, "{}: {t}", d.what);
            assert_eq!(t["missing"], serde_json::json!([]), "{}", d.what);
            assert_eq!(t["extra"], serde_json::json!([]), "{}", d.what);
        }
        for (field, expected) in [("missing", d.missing), ("extra", d.extra)] {
            let list = t[field].as_array().expect("list");
            match expected {
                Some(k) => {
                    assert_eq!(list.len(), 1, "{}: one {field} expected: {t}", d.what);
                    assert!(
                        list[0].as_str().is_some_and(|s| s.contains(k)),
                        "{}: {field} should name {k:?}: {t}",
                        d.what
                    );
                }
                None if d.changed.is_none() => {
                    assert!(list.is_empty(), "{}: no {field} expected: {t}", d.what)
                }
                None => {}
            }
        }
    }
}

#[test]
fn integrity_and_foreign_key_problems_are_reported() {
    let (db, dir, target) = synced_demo();
    let copy = dir.path().join("orphans.db");
    std::fs::copy(&target, &copy).expect("copy");
    {
        let conn = rusqlite::Connection::open(&copy).expect("open");
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; UPDATE sessions SET user_id = 999999 WHERE rowid = 1",
        )
        .expect("orphan a session");
    }
    let (code, report) = verify_json(&db, &copy);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["health"]["foreign_key_violations"], 1, "{report}");
    assert_eq!(table(&report, "sessions")["status"], "mismatch");
}

#[test]
fn a_missing_table_and_a_target_that_is_not_sqlite_are_reported() {
    let (db, dir, target) = synced_demo();
    let copy = dir.path().join("dropped.db");
    std::fs::copy(&target, &copy).expect("copy");
    {
        let conn = rusqlite::Connection::open(&copy).expect("open");
        conn.execute_batch("PRAGMA foreign_keys = OFF; DROP TABLE categories")
            .expect("drop a table");
    }
    let (code, report) = verify_json(&db, &copy);
    assert_eq!(code, Some(1));
    assert_eq!(
        table(&report, "categories")["status"],
        "missing_table",
        "{report}"
    );

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").expect("write");
    let r = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        junk.to_str().expect("UTF-8"),
    ]);
    r.assert_code(2)
        .assert_stderr_has(&["not a SQLite database"]);
}

#[test]
fn sync_says_when_it_did_not_verify() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("unverified.db");
    let r = sync(&db.url(), &target, &["--no-verify", "--quiet"]);
    r.assert_success();
    assert!(r.stdout.contains("not verified"), "{}", r.stdout);
    let verified = sync(&db.url(), &target, &["--full", "--quiet"]);
    verified.assert_success();
    assert!(
        verified.stdout.contains("verified before publishing"),
        "{}",
        verified.stdout
    );
}

/// Damage that keeps every column's values and moves them to other rows: a
/// checksum that summed the columns' values alone would miss it. Also the
/// values whose hash is computed from the stored value itself (integers,
/// booleans, blobs, uuids), changed in ways a text comparison would see.
#[test]
fn values_moved_between_rows_and_typed_values_are_found() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE moved (id int8 PRIMARY KEY, n int4, b bool, t text, u uuid, by bytea, s int2);
         INSERT INTO moved
         SELECT i, i * 10, i % 2 = 0, 'text ' || i, md5(i::text)::uuid, int4send(i), i::int2
           FROM generate_series(1, 50) i;
         INSERT INTO moved VALUES (4294967297, 0, NULL, NULL, NULL, NULL, NULL);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("moved.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    let damages: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "integers swapped between two rows",
            "UPDATE moved SET n = CASE id WHEN 3 THEN 40 ELSE 30 END WHERE id IN (3, 4)",
            &["id=3", "id=4"],
            &["n"],
        ),
        (
            "texts swapped between two rows",
            "UPDATE moved SET t = CASE id WHEN 7 THEN 'text 9' ELSE 'text 7' END WHERE id IN (7, 9)",
            &["id=7", "id=9"],
            &["t"],
        ),
        (
            "one row's values shifted to the next",
            "UPDATE moved SET by = (SELECT by FROM moved m WHERE m.id = moved.id - 1) WHERE id BETWEEN 20 AND 22",
            &["id=20", "id=21", "id=22"],
            &["by"],
        ),
        (
            "int4 out of its range",
            "UPDATE moved SET n = n + 4294967296 WHERE id = 5",
            &["id=5"],
            &["n"],
        ),
        (
            "int2 out of its range",
            "UPDATE moved SET s = 65536 + 6 WHERE id = 6",
            &["id=6"],
            &["s"],
        ),
        (
            "boolean as 2",
            "UPDATE moved SET b = 2 WHERE id = 8",
            &["id=8"],
            &["b"],
        ),
        (
            "bigint key whose halves cancel",
            "UPDATE moved SET id = 0 WHERE id = 4294967297",
            &[],
            &[],
        ),
        (
            "blob as its hex text",
            "UPDATE moved SET by = hex(by) WHERE id = 10",
            &["id=10"],
            &["by"],
        ),
        (
            "uuid without hyphens",
            "UPDATE moved SET u = replace(u, '-', '') WHERE id = 11",
            &["id=11"],
            &["u"],
        ),
    ];
    for (i, (what, sql, keys, columns)) in damages.iter().enumerate() {
        let damaged = dir.path().join(format!("damaged_{i}.db"));
        std::fs::copy(&target, &damaged).expect("copy");
        rusqlite::Connection::open(&damaged)
            .and_then(|c| c.execute(sql, []))
            .unwrap_or_else(|e| panic!("{what}: {sql}: {e}"));
        let (code, report) = verify_schemas_json(&db, &damaged, "public");
        assert_eq!(code, Some(1), "{what}: {report}");
        let t = table(&report, "moved");
        assert_eq!(t["status"], "mismatch", "{what}: {t}");
        if keys.is_empty() {
            // A changed key: one row missing, one extra.
            assert_eq!(
                t["missing"].as_array().map(Vec::len),
                Some(1),
                "{what}: {t}"
            );
            assert_eq!(t["extra"].as_array().map(Vec::len), Some(1), "{what}: {t}");
            continue;
        }
        let changed = t["changed"].as_array().expect("changed");
        assert_eq!(changed.len(), keys.len(), "{what}: {t}");
        for (row, key) in changed.iter().zip(keys.iter()) {
            assert!(
                row["key"].as_str().is_some_and(|k| k.contains(key)),
                "{what}: {key} expected in {t}"
            );
            assert_eq!(row["columns"], serde_json::json!(columns), "{what}: {t}");
        }
    }
}

/// Float arrays are compared by their elements' bits, whatever their lower
/// bounds (not stored) or shape; one changed element in SQLite is found.
#[test]
fn float_arrays_compare_by_bits_through_any_shape() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE shapes (id int PRIMARY KEY, d float8[], f float4[]);
         INSERT INTO shapes VALUES
           (1, '[0:1][3:4]={{1.5,NULL},{NaN,-0}}', '{1.5,-355.953125}'),
           (2, '{}', '{}'),
           (3, NULL, NULL),
           (4, '[5:7]={Infinity,-Infinity,0.1}', '[2:2]={NaN}'),
           (5, '{{{1}},{{2}}}', '{{0.25,NULL}}');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("shapes.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    let (code, report) = verify_schemas_json(&db, &target, "public");
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(table(&report, "shapes")["status"], "match", "{report}");

    let damaged = dir.path().join("damaged.db");
    std::fs::copy(&target, &damaged).expect("copy");
    {
        let conn = rusqlite::Connection::open(&damaged).expect("open");
        let stored: String = conn
            .query_row("SELECT d FROM shapes WHERE id = 4", [], |r| r.get(0))
            .expect("stored array");
        // The last element, 0.1, becomes the next float up: same text to 15 digits.
        let changed = stored.replace("0.1", "0.10000000000000002");
        assert_ne!(stored, changed, "the array is stored as {stored}");
        conn.execute("UPDATE shapes SET d = ?1 WHERE id = 4", [&changed])
            .expect("damage");
    }
    let (code, report) = verify_schemas_json(&db, &damaged, "public");
    assert_eq!(code, Some(1), "{report}");
    let t = table(&report, "shapes");
    let changed = t["changed"].as_array().expect("changed");
    assert_eq!(changed.len(), 1, "{t}");
    assert!(
        changed[0]["key"]
            .as_str()
            .is_some_and(|k| k.contains("id=4")),
        "{t}"
    );
    assert_eq!(changed[0]["columns"], serde_json::json!(["d"]), "{t}");
}

/// An index whose entries no longer match its table's rows (its definition
/// rewritten to name another column, which `quick_check` does not notice): the
/// default check finds it and names the index; `--quick-check` does not look.
#[test]
fn an_index_that_does_not_match_its_table_fails_the_full_check() {
    let (db, dir, target) = synced_demo();
    let copy = dir.path().join("index.db");
    std::fs::copy(&target, &copy).expect("copy");
    rusqlite::Connection::open(&copy)
        .and_then(|c| {
            c.execute_batch(
                "PRAGMA writable_schema = ON;
                 UPDATE sqlite_schema SET sql = 'CREATE INDEX sessions_user_idx ON sessions (user_id, expires_at DESC)'
                  WHERE name = 'sessions_user_idx';
                 PRAGMA writable_schema = OFF;",
            )
        })
        .expect("redefine the index");
    let (code, report) = verify_json(&db, &copy);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["health"]["depth"], "full", "{report}");
    let problems = report["health"]["integrity"].to_string();
    assert!(
        problems.contains("sessions_user_idx") && problems.contains("sessions"),
        "{report}"
    );
    // The rows themselves still match PostgreSQL.
    assert_eq!(table(&report, "sessions")["status"], "match", "{report}");
    // The entries the index should hold came from the read-back of the
    // synced tables, not from a scan of their own.
    let r = run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        copy.to_str().expect("UTF-8 path"),
        "--schema",
        "public,billing",
        "-v",
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("checked every index against its table"))
        .unwrap_or_else(|| panic!("no index check logged: {}", r.stderr));
    assert!(
        !line.contains("(0 of them against the read-back's sums)"),
        "{line}"
    );
    let (code, report) = verify_schemas_json_with(&db, &copy, &["--quick-check"]);
    assert_eq!(code, Some(0), "{report}");
}

/// `verify` runs the full integrity_check unless `--quick-check` asks for the
/// cheaper one, and says which ran; both find the same content differences.
#[test]
fn quick_check_is_asked_for_and_reported() {
    let (db, _dir, target) = synced_demo();
    let (code, full) = verify_json(&db, &target);
    assert_eq!(code, Some(0), "{full}");
    assert_eq!(full["health"]["depth"], "full", "{full}");
    let (code, quick) = verify_schemas_json_with(&db, &target, &["--quick-check"]);
    assert_eq!(code, Some(0), "{quick}");
    assert_eq!(quick["health"]["depth"], "quick", "{quick}");
    assert_eq!(quick["match"], true, "{quick}");
    let text = verify_text(&db, &target, &["--quick-check"]);
    assert!(
        text.stdout.contains("PRAGMA quick_check: ok"),
        "{}",
        text.stdout
    );
}

/// `verify` reads every row on both sides, which takes minutes on a large file:
/// it says which step it is at on stderr, as the other commands do, and
/// nothing there with `--quiet`; either way the report reaches stdout.
#[test]
fn verify_shows_its_steps_unless_quiet() {
    let (db, _dir, target) = synced_demo();
    let shown = verify_text(&db, &target, &[]);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    for step in [
        "pg2sqlite: checking the file",
        "pg2sqlite: checksumming ",
        "pg2sqlite: comparing",
    ] {
        assert!(
            shown.stderr.contains(step),
            "no {step:?} in:\n{}",
            shown.stderr
        );
    }
    let quiet = verify_text(&db, &target, &["--quiet"]);
    assert_eq!(quiet.code, Some(0), "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains("pg2sqlite: "),
        "--quiet printed progress:\n{}",
        quiet.stderr
    );
    for report in [&shown.stdout, &quiet.stdout] {
        assert!(
            report.contains("verified: PostgreSQL and SQLite agree"),
            "{report}"
        );
    }
}

/// A sync hashes PostgreSQL's side of its first look from the COPY's own rows
/// (`verify::wire`) for the kinds whose canonical text it can print. Each
/// value here is one that text is easy to get wrong (BC dates, infinities,
/// numeric scales, quoted array elements, lower bounds); the sync must find
/// its own hash equal to the read-back's, never fall back to the server's
/// for a difference that is not there, and say which tables it hashed so.
#[test]
fn the_syncs_own_checksums_agree_with_the_servers_for_every_kind_they_take() {
    let db = TestDb::new();
    db.execute(
        r#"CREATE TYPE feeling AS ENUM ('ok', 'not ok', 'NULL');
         CREATE TABLE wire_kinds (
             id int PRIMARY KEY, i2 int2, i8 int8, b bool, f4 float4, f8 float8,
             n numeric, n2 numeric(10, 2), t text, vc varchar(20), ch char(4), nm name,
             by bytea, u uuid, d date, ts timestamp, tstz timestamptz, tm time,
             iv interval, ip inet, j json, jb jsonb, e feeling,
             a_t text[], a_i int4[], a_n numeric[], a_d date[], a_ts timestamptz[],
             a_b bool[], a_u uuid[], a_by bytea[], a_ch char(2)[], a_e feeling[]
         );
         INSERT INTO wire_kinds VALUES
           (1, -32768, -9223372036854775808, true, '-0', '-0', '-12.3400', 0.10, '', 'x y',
            'ab', 'nm', '\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '0001-01-01 BC',
            '0044-03-15 12:00:00.5 BC', '1999-12-31 23:59:59.999999+00', '24:00:00',
            '-1 mon 2 days 00:00:00.000001', '::1', '{"a": [1, 2.50]}', '{"b": 1.50, "a": null}',
            'not ok', '{"", NULL, "null", "a,b", "q\"\\", " s"}', '[0:1]={1,-2}',
            '{1.50, NaN, -0.001, Infinity}', '{-infinity, 2000-02-29}',
            '{"1970-01-01 00:00:00+00", infinity}', '{{t,f},{NULL,t}}',
            '{00000000-0000-0000-0000-000000000000}', '{"\\x", "\\x0a"}', '{a, "b "}',
            '{NULL, "not ok", "NULL"}'),
           (2, 32767, 9223372036854775807, false, 'NaN', '1e-320', 'NaN', -99999999.99,
            'tab	and
newline', 'é', 'abcd', '', '\x', '00000000-0000-0000-0000-000000000001', 'infinity',
            '-infinity', 'infinity', '00:00:00', '0', '10.0.0.0/8', 'null', '[]', 'ok', '{}',
            '{}', '{0.00000000000000000001}', '{4713-01-01 BC}', '{}', '{}', '{}', '{}', '{}',
            '{}'),
           (3, 0, 0, NULL, '1e-45', '1.7976931348623157e308', 'Infinity', 0, NULL, NULL, NULL,
            NULL, NULL, NULL, '294276-12-31', '294276-12-31 23:59:59.999999',
            '4713-01-01 00:00:00+00 BC', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (4, NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, '2000-01-01', '2000-01-01 00:00:00', '2024-02-29 13:14:15.1+00', NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, '{0.0000, 10000, -1.00010}', NULL, NULL, NULL,
            NULL, NULL, NULL, NULL);
         INSERT INTO wire_kinds (id, n, n2)
              SELECT g, (g * 1.37)::numeric(20, 4) / 1000, g / 7.0 FROM generate_series(5, 3000) g;
         CREATE TABLE wire_arrays (id int PRIMARY KEY, f8 float8[], f4 float4[], jb jsonb[],
                                   j json[]);
         INSERT INTO wire_arrays VALUES
           (1, '[0:1]={1.5, -0}', '{{NaN, -Infinity}, {1e-45, NULL}}',
            ARRAY['{"a": [1, "x y"]}'::jsonb, NULL, 'null', '"NULL"'], ARRAY['{"k": "v, w"}'::json, NULL]),
           (2, '{}', '{}', '{}', '{}'),
           (3, NULL, '{0}', ARRAY['{}'::jsonb], ARRAY['"a\"b"'::json]),
           (4, NULL, NULL, ARRAY[ARRAY['{"k": "x,NULL}"}'::jsonb, NULL], ARRAY['1'::jsonb, 'null'::jsonb]],
            ARRAY['"a,NULL,b"'::json, NULL, '"NULL"']),
           (5, NULL, NULL, ARRAY['[1, {"a": [2]}]'::jsonb, '[]'], ARRAY['[1, 2]'::json]);
         CREATE TABLE on_the_server (id int PRIMARY KEY, ips inet[]);
         INSERT INTO on_the_server VALUES (1, '{::1, 10.0.0.0/8}');"#,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("kinds.db");
    let r = sync(&db.url(), &target, &["-v"]);
    r.assert_success();
    assert!(
        r.stdout.contains("verified before publishing"),
        "{}",
        r.stdout
    );
    let said = r
        .stderr
        .lines()
        .find_map(|l| l.split_once("checksums from the COPY's rows: "))
        .and_then(|(_, rest)| rest.split_once("; on the server: "))
        .unwrap_or_else(|| {
            panic!(
                "which tables were hashed from the COPY is not said:\n{}",
                r.stderr
            )
        });
    assert_eq!(
        said,
        (
            r#"["public.wire_arrays", "public.wire_kinds"]"#,
            r#"["public.on_the_server"]"#
        )
    );
    assert!(
        !r.stderr.contains("differs from the server's"),
        "the COPY's hash of a value differs from PostgreSQL's:\n{}",
        r.stderr
    );
    // The server's own checksums (what `verify` asks, and what a recheck
    // compares) agree with the file for every kind too.
    let (code, report) = verify_args_json(&db, &target, "public", &[]);
    assert_eq!(code, Some(0), "the server's checksum disagrees: {report}");
    for name in ["wire_kinds", "wire_arrays", "on_the_server"] {
        assert_eq!(table(&report, name)["status"], "match", "{report}");
    }
    // One value changed in each row with edge values: the narrowing reads the
    // rows' canonical texts from both sides and must name those rows and that
    // column only.
    rusqlite::Connection::open(&target)
        .and_then(|c| {
            c.execute_batch(
                "UPDATE wire_kinds SET i2 = 7 WHERE id <= 4;
                 UPDATE wire_arrays SET f8 = '[2.5]' WHERE id = 3;
                 UPDATE on_the_server SET id = id WHERE id = 1;",
            )
        })
        .expect("change one value per table");
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute("UPDATE wire_arrays SET f4 = '[1.5]' WHERE id = 1", []))
        .expect("change one more");
    let (code, report) = verify_args_json(&db, &target, "public", &[]);
    assert_eq!(code, Some(1), "{report}");
    for (name, expected) in [
        (
            "wire_kinds",
            serde_json::json!((1..=4)
                .map(|id| serde_json::json!({"key": format!("id={id}"), "columns": ["i2"]}))
                .collect::<Vec<_>>()),
        ),
        (
            "wire_arrays",
            serde_json::json!([
                {"key": "id=1", "columns": ["f4"]},
                {"key": "id=3", "columns": ["f8"]}
            ]),
        ),
    ] {
        assert_eq!(table(&report, name)["changed"], expected, "{report}");
    }
    assert_eq!(
        table(&report, "on_the_server")["status"],
        "match",
        "{report}"
    );
}

/// The app's own schema changes rows as they are written (a trigger): the
/// file no longer holds what PostgreSQL sent. The sync's check, hashed from
/// the COPY's rows, must refuse to publish and name the changed rows, as the
/// server's checksum does.
#[test]
fn rows_changed_on_their_way_into_the_file_fail_the_syncs_check() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE shouted (id int PRIMARY KEY, name text, qty int);
         INSERT INTO shouted SELECT g, 'name ' || g, g FROM generate_series(1, 2000) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let app = rusqlite::Connection::open(&target).expect("create the app's file");
    app.execute_batch(
        "CREATE TABLE shouted (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
         CREATE TRIGGER shout AFTER INSERT ON shouted WHEN new.id % 500 = 7
         BEGIN UPDATE shouted SET name = upper(new.name) WHERE id = new.id; END;",
    )
    .expect("the app's schema");
    drop(app);
    let r = sync(&db.url(), &target, &["--full", "-v"]);
    r.assert_code(1);
    assert!(
        r.stderr
            .contains(r#"checksums from the COPY's rows: ["public.shouted"]"#),
        "{}",
        r.stderr
    );
    let report = r.all_output();
    for key in ["id=7", "id=507", "id=1007", "id=1507"] {
        assert!(report.contains(key), "{key} is not named:\n{report}");
    }
    assert!(report.contains("4 changed"), "{report}");
}

/// SQLite lets a primary key that is not the rowid (`BIGINT PRIMARY KEY` in an
/// app's own schema) hold NULL, which no key range takes. A table large enough
/// to be verified in key ranges still counts such a row: the report names it
/// as one SQLite has and PostgreSQL has not, instead of saying they agree.
#[test]
fn a_row_whose_key_is_null_is_found_in_a_table_checked_by_key_ranges() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE ledger (id bigint PRIMARY KEY, note text);
         INSERT INTO ledger SELECT g, 'n' || g FROM generate_series(1, 600000) g;
         ANALYZE ledger;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute_batch("CREATE TABLE ledger (id BIGINT PRIMARY KEY, note TEXT)"))
        .expect("the app's schema");
    sync(&db.url(), &target, &["--full", "--quiet"]).assert_success();
    rusqlite::Connection::open(&target)
        .and_then(|c| c.execute("INSERT INTO ledger VALUES (NULL, 'written by the app')", []))
        .expect("a row with a NULL key");

    let url = db.url();
    let r = run(&[
        "verify",
        "--source",
        &url,
        "--target",
        target.to_str().expect("UTF-8 path"),
        "--json",
        "-v",
    ]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    // Checked in key ranges, which is where a NULL key could fall through.
    assert!(r.stderr.contains("WHERE \"id\" <"), "{}", r.stderr);
    let report: Json = serde_json::from_str(r.stdout.trim()).expect("JSON");
    let t = table(&report, "ledger");
    assert_eq!(t["status"], "mismatch", "{t}");
    assert_eq!(t["sqlite_rows"], 600_001, "{t}");
    assert!(
        t["extra"]
            .as_array()
            .is_some_and(|e| e.len() == 1 && e[0].as_str().is_some_and(|k| k.contains("NULL"))),
        "{t}"
    );
}
