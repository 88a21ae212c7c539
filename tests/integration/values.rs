//! Value by value: every column of every row of `all_types` (fixtures/demo.sql)
//! and `edge_values` (fixtures/test_edge_values.sql), compared with the value
//! and storage class product.md's default mapping promises, which are written
//! out in `values/expected.rs`.
//!
//! These tests look at what the mapping stores, so they publish without the
//! sync's own verification (`--no-verify`): a value the verifier rejects must
//! still show up here as a difference, not as a refused sync. `verify.rs` tests
//! the verification.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::common::*;

mod expected;
use expected::*;

/// Compares a table with its expected columns and returns every difference
/// (declared type, value, storage class), so one run shows all of them.
fn differences(conn: &Connection, table: &str, key: &str, columns: &[Column]) -> Vec<String> {
    let mut problems = Vec::new();
    let declared: Vec<(String, String)> = sqlite_rows(
        conn,
        &format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"),
    )
    .into_iter()
    .map(|r| match (&r[0], &r[1]) {
        (Value::Text(n), Value::Text(t)) => (n.clone(), t.clone()),
        other => panic!("pragma_table_info: {other:?}"),
    })
    .collect();
    let expected_names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let actual_names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(actual_names, expected_names, "columns of {table}");

    for (c, (_, decl)) in columns.iter().zip(&declared) {
        if decl != c.declared {
            problems.push(format!(
                "{table}.{}: declared type: expected {}, got {decl}",
                c.name, c.declared
            ));
        }
        let rows = sqlite_rows(
            conn,
            &format!(
                "SELECT {key}, {q}, typeof({q}) FROM {table} ORDER BY {key}",
                q = sq_ident(c.name)
            ),
        );
        assert_eq!(rows.len(), c.values.len(), "rows of {table}");
        for (row, expected) in rows.iter().zip(&c.values) {
            let (k, got, typ) = (&row[0], &row[1], &row[2]);
            // `Value`'s equality compares doubles with `==`, so -0.0 equals 0.0;
            // the sign of zero has its own test below.
            if got != expected {
                problems.push(format!(
                    "{table}.{} ({key} = {k:?}): expected {expected:?}, got {got:?}",
                    c.name
                ));
            }
            let want = type_name(expected);
            if *typ != Value::Text(want.to_owned()) {
                problems.push(format!(
                    "{table}.{} ({key} = {k:?}): expected typeof {want}, got {typ:?}",
                    c.name
                ));
            }
        }
    }
    problems
}

/// JSON-bearing columns must hold JSON SQLite's own functions accept.
fn invalid_json(conn: &Connection, table: &str, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .flat_map(|c| {
            let q = sq_ident(c);
            sqlite_rows(
                conn,
                &format!(
                    "SELECT id, {q} FROM {table} WHERE {q} IS NOT NULL AND NOT json_valid({q})"
                ),
            )
            .into_iter()
            .map(move |r| {
                format!(
                    "{table}.{c} (id = {:?}) is not valid JSON: {:?}",
                    r[0], r[1]
                )
            })
        })
        .collect()
}

#[test]
fn every_type_of_all_types_is_stored_as_documented() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("types.db");
    sync(
        &db.url(),
        &target,
        &["--tables", "all_types", "--quiet", "--no-verify"],
    )
    .assert_success();
    let conn = open_sqlite(&target);

    let mut problems = differences(&conn, "all_types", "id", &all_types_expected());
    problems.extend(invalid_json(
        &conn,
        "all_types",
        &["j", "jb", "ai", "at", "a2", "af"],
    ));
    assert!(
        problems.is_empty(),
        "{} difference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn edge_values_are_stored_as_documented() {
    let db = TestDb::with_demo();
    db.load("test_edge_values.sql");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("edges.db");
    let run = sync(
        &db.url(),
        &target,
        &["--tables", "edge_values", "--json", "--no-verify"],
    );
    run.assert_success();
    let conn = open_sqlite(&target);

    let mut problems = differences(&conn, "edge_values", "id", &edge_values_expected());
    problems.extend(invalid_json(
        &conn,
        "edge_values",
        &[
            "jb", "a_lb", "a_uuid", "a_date", "a_tstz", "a_bool", "a_num", "a_bytea", "a_jsonb",
            "a_inet", "a_mood", "a_f4",
        ],
    ));
    assert!(
        problems.is_empty(),
        "{} difference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Two arrays lost a lower bound other than 1: counted, never silent.
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json output");
    let losses = summary["loss"].as_array().expect("loss is an array");
    let lower_bound = losses.iter().find(|l| {
        l["table"] == "edge_values" && l["column"] == "a_lb" && l["reason"] == "array_lower_bound"
    });
    assert_eq!(
        lower_bound.map(|l| &l["count"]),
        Some(&serde_json::json!(2)),
        "loss entries: {losses:#?}"
    );
}

/// product.md asks that -0.0 keep its sign, but a REAL column cannot hold it:
/// SQLite stores integral REALs as integers, and text '-0.0' is converted the
/// same way. So the copy stores 0.0 and says so in the loss ledger (README,
/// "Two things SQLite cannot hold"); it never loses the sign silently.
#[test]
fn negative_zero_is_stored_as_zero_and_reported() {
    let db = TestDb::with_demo();
    db.load("test_edge_values.sql");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("zero.db");
    let run = sync(
        &db.url(),
        &target,
        &["--tables", "all_types,edge_values", "--json"],
    );
    run.assert_success();
    let conn = open_sqlite(&target);
    let f8 = sqlite_rows(&conn, "SELECT f8, typeof(f8) FROM all_types WHERE id = 3");
    let f4 = sqlite_rows(&conn, "SELECT f4, typeof(f4) FROM edge_values WHERE id = 1");
    for v in [&f8[0], &f4[0]] {
        assert_eq!(v[1], rusqlite::types::Value::Text("real".into()), "{v:?}");
        assert_eq!(v[0], rusqlite::types::Value::Real(0.0), "{v:?}");
    }
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON summary");
    let losses = summary["loss"].as_array().expect("loss list");
    for (table, column) in [("all_types", "f8"), ("edge_values", "f4")] {
        assert!(
            losses.iter().any(|l| l["table"] == table
                && l["column"] == column
                && l["reason"] == "negative_zero"
                && l["count"].as_u64().is_some_and(|n| n >= 1)),
            "{table}.{column} must be in the loss ledger: {losses:?}"
        );
    }
}

/// Values larger than a whole reader batch, and a table as wide as PostgreSQL
/// allows (1600 columns), arrive byte for byte.
#[test]
fn large_values_and_wide_rows_are_copied_exactly() {
    let db = TestDb::new();
    let columns: Vec<String> = (1..=1600).map(|i| format!("c{i} int")).collect();
    db.execute(&format!(
        "CREATE TABLE blobs (id int PRIMARY KEY, b bytea, t text);
         INSERT INTO blobs SELECT g, decode(repeat(md5(g::text), 400000), 'hex'),
                                  repeat('é✓', 1000000 * g) FROM generate_series(1, 3) g;
         CREATE TABLE wide ({});
         INSERT INTO wide (c1, c800, c1600) SELECT g, -g, g * 2 FROM generate_series(1, 300) g;",
        columns.join(", ")
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("big_values.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    let conn = open_sqlite(&target);

    let mut pg = db.client();
    for row in pg
        .query("SELECT id, b, t FROM blobs ORDER BY id", &[])
        .expect("blobs")
    {
        let (id, b, t): (i32, Vec<u8>, String) = (row.get(0), row.get(1), row.get(2));
        let got = sqlite_rows(&conn, &format!("SELECT b, t FROM blobs WHERE id = {id}"));
        assert_eq!(got.len(), 1, "row {id}");
        assert!(got[0][0] == Value::Blob(b), "bytea of row {id} differs");
        assert!(got[0][1] == Value::Text(t), "text of row {id} differs");
    }
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT count(*), sum(c1), sum(c800), sum(c1600), count(c2) FROM wide"
        ),
        vec![vec![int(300), int(45150), int(-45150), int(90300), int(0)]]
    );
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM pragma_table_info('wide')"),
        1600
    );
}

/// A jsonb array can hold both the JSON value `null` and an SQL NULL element;
/// as JSON text both would be `null`. Either the copy keeps them apart, or the
/// loss ledger counts the values it merged: never a silent change.
#[test]
fn json_null_and_sql_null_array_elements_are_not_silently_merged() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE docs (id int PRIMARY KEY, a jsonb[]);
         INSERT INTO docs VALUES (1, ARRAY['null'::jsonb]), (2, ARRAY[NULL::jsonb]);",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("docs.db");
    let run = sync(&db.url(), &target, &["--json", "--no-verify"]);
    run.assert_success();
    let conn = open_sqlite(&target);
    let rows = sqlite_rows(&conn, "SELECT a FROM docs ORDER BY id");
    if rows[0] != rows[1] {
        return;
    }
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json output");
    let counted = summary["loss"]
        .as_array()
        .expect("loss")
        .iter()
        .any(|l| l["table"] == "docs" && l["column"] == "a" && l["count"].as_u64() >= Some(1));
    assert!(
        counted,
        "JSON null and SQL NULL both stored as {:?}, and the loss ledger is silent: {}",
        rows[0][0], summary["loss"]
    );
}
