//! Export and import: PostgreSQL → bundle → SQLite gives exactly the file that
//! PostgreSQL → SQLite gives (rows, values, storage classes, schema, losses
//! reported), in both formats, for every type of the mapping and the edge
//! values; a delta bundle merges as `sync --since` does; a damaged bundle is
//! refused before the target is touched; an interrupted export leaves nothing
//! that looks complete.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;

use crate::common::*;

/// Every user table of a SQLite file: its `CREATE` statement and its rows
/// (with each value's storage class), sorted, so two files compare whatever
/// order their rows were written in.
fn contents(path: &Path) -> BTreeMap<String, (String, Vec<Vec<String>>)> {
    let conn = open_sqlite(path);
    let tables = sqlite_rows(
        &conn,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE '\\_pg2sqlite%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name",
    );
    let mut out = BTreeMap::new();
    for t in tables {
        let (Value::Text(name), Value::Text(sql)) = (&t[0], &t[1]) else {
            panic!("sqlite_master: {t:?}")
        };
        let columns = sqlite_rows(
            &conn,
            &format!("SELECT name FROM pragma_table_info({})", sq_literal(name)),
        );
        let exprs: Vec<String> = columns
            .iter()
            .map(|c| match &c[0] {
                Value::Text(c) => format!("typeof({q}) || ':' || quote({q})", q = sq_ident(c)),
                other => panic!("column name {other:?}"),
            })
            .collect();
        let mut rows: Vec<Vec<String>> = sqlite_rows(
            &conn,
            &format!("SELECT {} FROM {}", exprs.join(", "), sq_ident(name)),
        )
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v {
                    Value::Text(s) => s,
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect();
        rows.sort();
        out.insert(name.clone(), (sql.clone(), rows));
    }
    out
}

fn sq_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

fn import(from: &Path, target: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "import",
        "--from",
        path_str(from),
        "--target",
        path_str(target),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// The `loss` list of a `--json` summary.
fn losses(run: &Run) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout));
    v["loss"].clone()
}

/// The test database: every type of the mapping and the edge values.
fn every_type() -> TestDb {
    let db = TestDb::with_demo_and_extra();
    db.load("test_edge_values.sql");
    db
}

/// A database with one table large enough that an export runs for a while.
fn big_table() -> TestDb {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big (id int8 PRIMARY KEY, body text, at timestamptz);
         INSERT INTO big SELECT g, repeat(md5(g::text), 8), now() FROM generate_series(1, 600000) g;
         ANALYZE big;",
    );
    db
}

/// `pg2sqlite export` into `out` over two connections, running in the background.
fn spawn_export(db: &TestDb, out: &Path, extra: &[&str]) -> Spawned {
    let url = db.url();
    let mut args = vec![
        "export",
        "--source",
        &url,
        "--out",
        path_str(out),
        "--jobs",
        "2",
    ];
    args.extend_from_slice(extra);
    Spawned::start(&args)
}

fn round_trip(format: &str) {
    let db = every_type();
    let dir = tempfile::tempdir().unwrap();
    let direct = dir.path().join("direct.db");
    let bundle = dir.path().join("bundle");
    let imported = dir.path().join("imported.db");

    let synced = sync(&db.url(), &direct, &["--json", "--jobs", "2"]);
    synced.assert_success();
    export_of(&db, &bundle, &["--format", format, "--jobs", "2", "--json"]).assert_success();
    let names: Vec<String> = dir_entries(&bundle).into_iter().collect();
    assert!(names.contains(&"manifest.json".to_owned()), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with(&format!(".{format}"))),
        "{names:?}"
    );
    let done = import(&bundle, &imported, &["--json"]);
    done.assert_success();

    let (a, b) = (contents(&direct), contents(&imported));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (table, (sql, rows)) in &a {
        let (sql_b, rows_b) = &b[table];
        assert_eq!(sql, sql_b, "schema of {table}");
        assert_eq!(rows.len(), rows_b.len(), "rows of {table}");
        for (x, y) in rows.iter().zip(rows_b) {
            assert_eq!(x, y, "a row of {table}");
        }
    }
    // The same values reported as not held exactly (lower bounds, -0.0, ...).
    assert_eq!(losses(&synced), losses(&done), "loss ledgers");
    // And `verify` against PostgreSQL says what it says of the direct copy.
    run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        path_str(&imported),
    ])
    .assert_success();
}

fn export_of(db: &TestDb, out: &Path, extra: &[&str]) -> Run {
    let url = db.url();
    let mut args = vec!["export", "--source", &url, "--out", path_str(out)];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn parquet_bundle_imports_to_the_file_a_sync_writes() {
    round_trip("parquet");
}

#[test]
fn csv_bundle_imports_to_the_file_a_sync_writes() {
    round_trip("csv");
}

const CUTOVER: &str = "2026-01-01T00:00:00Z";

/// Changes after the cutover on the demo schema: updates, inserts, deletes.
const CHANGES: &str = "
    UPDATE users SET name = name || ' (moved)', updated_at = '2026-01-02T00:00:00Z' WHERE id % 2 = 0;
    INSERT INTO users (email, name, is_admin, mood, created_at, updated_at)
      VALUES ('new@example.com', 'New Person', false, 'happy', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z');
    DELETE FROM sessions WHERE token IN (SELECT token FROM sessions ORDER BY token LIMIT 1);
";

#[test]
fn delta_bundle_merges_as_sync_since_does_and_twice_changes_nothing() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let (live, offline) = (dir.path().join("live.db"), dir.path().join("offline.db"));
    let full = dir.path().join("full");
    sync(&db.url(), &live, &[]).assert_success();
    export_of(&db, &full, &[]).assert_success();
    import(&full, &offline, &[]).assert_success();
    assert_eq!(contents(&live), contents(&offline), "after the full copy");

    db.execute(CHANGES);
    let delta = dir.path().join("delta");
    export_of(&db, &delta, &["--since", CUTOVER, "--format", "csv"]).assert_success();
    // audit_log has no key, so no delta merges it (see delta.rs).
    let merge_flags = ["--no-backup", "--exclude", "audit_log"];
    sync(
        &db.url(),
        &live,
        &[&["--since", CUTOVER][..], &merge_flags].concat(),
    )
    .assert_success();
    let merged = import(&delta, &offline, &[&merge_flags[..], &["--json"]].concat());
    merged.assert_success();
    let summary: serde_json::Value = serde_json::from_str(merged.stdout.trim()).unwrap();
    assert!(
        summary["totals"]["updated"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["totals"]["inserted"].as_u64(), Some(1), "{summary}");
    assert_eq!(summary["totals"]["deleted"].as_u64(), Some(1), "{summary}");
    assert_eq!(contents(&live), contents(&offline), "after the delta");
    run(&[
        "verify",
        "--source",
        &db.url(),
        "--target",
        path_str(&offline),
    ])
    .assert_success();

    // The same bundle again: nothing to do.
    let again = import(&delta, &offline, &[&merge_flags[..], &["--json"]].concat());
    again.assert_success();
    let summary: serde_json::Value = serde_json::from_str(again.stdout.trim()).unwrap();
    for count in ["inserted", "updated", "deleted"] {
        assert_eq!(
            summary["totals"][count].as_u64(),
            Some(0),
            "{count}: {summary}"
        );
    }
    assert_eq!(contents(&live), contents(&offline), "after importing twice");
}

#[test]
fn delta_bundle_dry_run_changes_nothing() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &[]).assert_success();
    db.execute(CHANGES);
    let delta = dir.path().join("delta");
    export_of(&db, &delta, &["--since", CUTOVER]).assert_success();
    let before = read_bytes(&target);
    let r = import(
        &delta,
        &target,
        &["--dry-run", "--json", "--exclude", "audit_log"],
    );
    r.assert_success();
    assert!(r.stdout.contains("\"dry_run\":true"), "{}", r.stdout);
    assert_eq!(read_bytes(&target), before, "a dry run wrote to the target");
}

/// Flips one byte in the middle of a file.
fn damage(path: &Path) {
    let mut bytes = read_bytes(path);
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_or_truncated_bundle_is_refused_before_the_target_is_touched() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    export_of(&db, &bundle, &[]).assert_success();
    let target = dir.path().join("app.db");

    let file = bundle.join("users.parquet");
    let original = read_bytes(&file);
    damage(&file);
    let r = import(&bundle, &target, &[]);
    r.assert_code(2)
        .assert_stderr_has(&["users.parquet", "SHA-256"]);
    assert!(!target.exists(), "the target was created");

    std::fs::write(&file, &original[..original.len() - 100]).unwrap();
    import(&bundle, &target, &[])
        .assert_code(2)
        .assert_stderr_has(&["users.parquet", "truncated"]);
    std::fs::write(&file, &original).unwrap();

    std::fs::remove_file(bundle.join("manifest.json")).unwrap();
    import(&bundle, &target, &[])
        .assert_code(2)
        .assert_stderr_has(&["manifest.json", "did not finish"]);
    assert!(!target.exists(), "the target was created");
}

#[test]
fn an_existing_bundle_is_replaced_only_with_force() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    export_of(&db, &bundle, &[]).assert_success();
    let manifest = read_bytes(&bundle.join("manifest.json"));
    export_of(&db, &bundle, &[])
        .assert_code(2)
        .assert_stderr_has(&["--force"]);
    assert_eq!(read_bytes(&bundle.join("manifest.json")), manifest);
    export_of(&db, &bundle, &["--force", "--format", "csv"]).assert_success();
    let names = dir_entries(&bundle);
    assert!(names.contains("users.csv"), "{names:?}");
    assert!(
        !names.contains("users.parquet"),
        "old files left: {names:?}"
    );
    assert!(!dir.path().join("bundle.partial").exists());
}

#[test]
fn an_export_killed_at_any_moment_leaves_nothing_that_looks_complete() {
    let db = big_table();
    let dir = tempfile::tempdir().unwrap();
    for (i, delay) in [30u64, 150, 400, 900].into_iter().enumerate() {
        let out = dir.path().join(format!("b{i}"));
        let mut child = spawn_export(&db, &out, &["-q"]);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill();
        let (_, _) = child.finish(Duration::from_secs(30));
        if out.exists() {
            // The rename was the last step: a bundle under its name is complete.
            assert!(
                out.join("manifest.json").exists(),
                "{:?}",
                dir_entries(&out)
            );
            import(&out, &dir.path().join(format!("b{i}.db")), &[]).assert_success();
            continue;
        }
        let partial = dir.path().join(format!("b{i}.partial"));
        if partial.exists() {
            let names = dir_entries(&partial);
            assert!(!names.contains("manifest.json"), "{names:?}");
            // A file under its final name is complete: its footer reads.
            for n in names.iter().filter(|n| n.ends_with(".parquet")) {
                let bytes = read_bytes(&partial.join(n));
                assert_eq!(&bytes[bytes.len() - 4..], b"PAR1", "{n} lacks its footer");
            }
        }
        // The next export clears what the killed one left.
        let again = export_of(&db, &out, &["-q"]);
        again.assert_success();
        assert!(!partial.exists());
    }
}

#[test]
fn a_delta_bundle_needs_an_existing_target() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let delta = dir.path().join("delta");
    export_of(&db, &delta, &["--since", CUTOVER]).assert_success();
    import(&delta, &dir.path().join("none.db"), &[])
        .assert_code(2)
        .assert_stderr_has(&["import a full bundle first"]);
}

/// The Python with pyarrow, DuckDB and psycopg (`scripts/orm-venv.sh`, which
/// `.ci/run` calls); missing, the test fails under CI and is skipped elsewhere.
fn readers_python() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PG2SQLITE_ORM_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-orm/bin/python"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: run scripts/orm-venv.sh (CI runs it in .ci/run)",
        path.display()
    );
    eprintln!(
        "skipping: {} is missing (run scripts/orm-venv.sh)",
        path.display()
    );
    None
}

/// One row of every type of the mapping table, a row of NULLs and edge values;
/// a second table with ±infinity dates and timestamps.
const READER_TYPES: &str = r#"
    CREATE TYPE color AS ENUM ('red', 'green', 'blue');
    CREATE TABLE typed (
        id int4 PRIMARY KEY, b bool, i2 int2, i8 int8, f4 real, f8 float8,
        n numeric(12,3), wide numeric(30,10), nu numeric, tx text, vc varchar(20), e color,
        j jsonb, js json, by bytea, u uuid, d date, ts timestamp, tstz timestamptz,
        tm time, iv interval, inet_ inet, ai int4[], at text[], a2 int8[][], an numeric[]
    );
    INSERT INTO typed VALUES
      (1, true, -32768, 9223372036854775807, 1.25, 3.141592653589793,
       -123456789.125, 12345678901234567890.0123456789, 'NaN', 'héllo, "world"', '', 'green',
       '{"a": [1, 2.5, null], "b": "x"}', '[1, {"k": "v"}]', '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '1066-10-14', '2024-02-29 13:14:15.123456', '1999-12-31 23:59:59.999999+00',
       '13:14:15.5', '-1 year 2 mons -3 days 04:05:06.789', '192.168.0.1/24',
       '{1,NULL,3}', '{"a,b","",NULL,"NULL"}', '{{1,2},{3,4}}', '{1.5,NULL,-0.001}'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, false, 0, -9223372036854775808, 'NaN', '-Infinity',
       0, -0.0000000001, 'Infinity', 'NULL', 'x', 'red',
       'null', '"s"', '', '00000000-0000-0000-0000-000000000000',
       '9999-12-31', '1970-01-01 00:00:00', '2262-04-11 23:47:16.854775+00',
       '00:00:00', '00:00:00', '::1', '{}', '{}', '{}', '{}');
    CREATE TABLE endless (id int4 PRIMARY KEY, d date, ts timestamp, tstz timestamptz);
    INSERT INTO endless VALUES (1, 'infinity', 'infinity', '-infinity'),
      (2, '-infinity', '-infinity', 'infinity'), (3, '2024-01-01', '2024-01-01', '2024-01-01');
"#;

#[test]
fn pyarrow_duckdb_and_postgresql_read_the_bundle_as_postgresql_has_it() {
    let Some(python) = readers_python() else {
        return;
    };
    let db = TestDb::new();
    db.execute(READER_TYPES);
    let dir = tempfile::tempdir().unwrap();
    let plain_url = format!("postgresql://root@127.0.0.1:5432/{}", db.name());
    for format in ["parquet", "csv"] {
        let bundle = dir.path().join(format);
        export_of(&db, &bundle, &["--format", format]).assert_success();
        let out = std::process::Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bundle/read_bundle.py"))
            .arg(&bundle)
            .arg(&plain_url)
            .arg("typed")
            .args(["--infinities", "endless"])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{format}:\n{text}");
        let expected: &[&str] = if format == "parquet" {
            &[
                "pyarrow: the types",
                "pyarrow: 3 rows equal",
                "duckdb: 3 rows equal",
                "duckdb: ±infinity",
            ]
        } else {
            &["COPY FROM csv: 3 rows equal"]
        };
        for e in expected {
            assert!(text.contains(e), "{format}: {e:?} not in\n{text}");
        }
    }
}

#[test]
fn sigint_stops_an_export_and_removes_what_it_wrote() {
    let db = big_table();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let partial = dir.path().join("bundle.partial");
    let mut child = spawn_export(&db, &out, &[]);
    // Once a file is being written, the export is in the middle of its work.
    poll_until(Duration::from_secs(60), "a file being written", || {
        if let Some(status) = child.try_wait() {
            panic!("the export ended ({status}) before SIGINT could be sent");
        }
        (partial.exists() && dir_entries(&partial).iter().any(|n| n.ends_with(".tmp")))
            .then_some(())
    });
    let sent = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let (_, r) = child.finish(Duration::from_secs(60));
    r.assert_code(3).assert_stderr_has(&["SIGINT"]);
    assert!(!out.exists(), "an interrupted export published a bundle");
    assert!(
        dir_entries(dir.path()).is_empty(),
        "left behind: {:?}",
        dir_entries(dir.path())
    );
}

#[test]
fn a_backend_killed_mid_export_fails_it_and_leaves_no_bundle() {
    let db = big_table();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let mut child = spawn_export(&db, &out, &["-q"]);
    let mut side = db.client();
    poll_until(Duration::from_secs(60), "a COPY to terminate", || {
        if let Some(status) = child.try_wait() {
            panic!("the export ended ({status}) before its COPY could be terminated");
        }
        let n = terminate_copies(&mut side, db.name());
        (n > 0).then_some(())
    });
    let (_, r) = child.finish(Duration::from_secs(60));
    r.assert_code(3);
    assert!(!out.exists(), "a failed export published a bundle");
    assert!(
        dir_entries(dir.path()).is_empty(),
        "left behind: {:?}",
        dir_entries(dir.path())
    );
}

/// Replaces one table's checksum in a manifest, as if the bundle's rows were
/// not the ones PostgreSQL checksummed.
fn forge_checksum(bundle: &Path, table: &str) {
    let path = bundle.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&read_bytes(&path)).unwrap();
    let tables = manifest["tables"].as_array_mut().unwrap();
    let t = tables.iter_mut().find(|t| t["name"] == table).unwrap();
    t["checksum"]["sum"] = serde_json::Value::String("0123456789abcdef".into());
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn rows_that_do_not_add_up_to_the_manifest_are_neither_published_nor_merged() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    export_of(&db, &full, &[]).assert_success();
    forge_checksum(&full, "users");
    let target = dir.path().join("app.db");
    import(&full, &target, &[])
        .assert_code(1)
        .assert_stderr_has(&["users", "MISMATCH"]);
    assert!(!target.exists(), "an unverified import was published");

    sync(&db.url(), &target, &[]).assert_success();
    db.execute(CHANGES);
    let delta = dir.path().join("delta");
    export_of(&db, &delta, &["--since", CUTOVER]).assert_success();
    forge_checksum(&delta, "users");
    let before = read_bytes(&target);
    import(&delta, &target, &["--no-backup", "--exclude", "audit_log"])
        .assert_code(1)
        .assert_stderr_has(&["users", "checksums differ"]);
    assert_eq!(
        read_bytes(&target),
        before,
        "an unverified merge was committed"
    );
}

/// A bundle an older pg2sqlite wrote (format 2: rows hashed as the text of a
/// record) still imports; its checksums mean something else, so each table is
/// checked by its row count, and the summary says so.
#[test]
fn a_bundle_of_an_older_format_is_checked_by_row_counts() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    export_of(&db, &full, &[]).assert_success();
    forge_checksum(&full, "users");
    let path = full.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&read_bytes(&path)).unwrap();
    manifest["format_version"] = serde_json::json!(2);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let target = dir.path().join("app.db");
    let done = import(&full, &target, &[]);
    done.assert_success();
    assert!(
        done.stdout.contains("bundle format 2") && done.stdout.contains("row count only"),
        "the summary should say how the tables were checked:\n{}",
        done.stdout
    );
    assert!(target.exists());
}

/// Bundle format 3 hashed a json or jsonb array as PostgreSQL's array text;
/// this version hashes it as its JSON. A format-3 bundle still imports: the
/// checksum of a table with such a column is not compared (the summary says
/// so), every other table's still is.
#[test]
fn a_format_3_bundle_compares_checksums_except_of_json_arrays() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE tagged (id int PRIMARY KEY, a jsonb[]);
         INSERT INTO tagged VALUES (1, ARRAY['{\"k\": 1}'::jsonb, NULL]), (2, '{}');
         CREATE TABLE plain (id int PRIMARY KEY, t text);
         INSERT INTO plain VALUES (1, 'one'), (2, 'two');",
    );
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    export_of(&db, &full, &[]).assert_success();
    let path = full.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&read_bytes(&path)).unwrap();
    assert_eq!(manifest["format_version"], 4);
    manifest["format_version"] = serde_json::json!(3);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    // What format 3 wrote for the json array table is another hash.
    forge_checksum(&full, "tagged");

    let target = dir.path().join("app.db");
    let done = import(&full, &target, &[]);
    done.assert_success();
    assert!(
        done.stdout.contains("tagged: a json or jsonb array column")
            && done.stdout.contains("bundle format 3"),
        "{}",
        done.stdout
    );

    forge_checksum(&full, "plain");
    let other = dir.path().join("other.db");
    import(&full, &other, &[])
        .assert_code(1)
        .assert_stderr_has(&["plain", "MISMATCH"]);
}
