//! The machine-readable summary (`--json`) and the quiet modes.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::common::*;

#[test]
fn json_summary_lists_tables_rows_bytes_and_losses() {
    let db = TestDb::with_demo_and_extra();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(
        &db.url(),
        &target,
        &["--schema", "public,billing", "--json"],
    );
    run.assert_success();
    // stdout is one JSON document and nothing else; no progress on stderr.
    let summary: Json = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("--json output does not parse: {e}\n{}", run.stdout));
    assert_eq!(run.stderr, "", "--json should print nothing on stderr");

    let tables = summary["tables"].as_array().expect("tables is an array");
    let rows: BTreeMap<&str, u64> = tables
        .iter()
        .map(|t| {
            assert!(
                t["seconds"].as_f64().is_some_and(|s| s >= 0.0),
                "seconds of {t}"
            );
            assert!(t["source"].is_string(), "source of {t}");
            (
                t["name"].as_str().expect("table name"),
                t["rows"].as_u64().expect("table rows"),
            )
        })
        .collect();
    let expected: BTreeMap<&str, u64> = [
        ("Order", 1500),
        ("Weird \"Name\"", 3),
        ("all_types", 4),
        ("audit_log", 3005),
        ("audit_log_archive", 100),
        ("billing__invoices", 1500),
        ("billing__payments", 1000),
        ("categories", 4),
        ("devices", 300),
        ("empty_things", 0),
        ("events", 4000),
        ("sessions", 5000),
        ("tags", 5),
        ("user_categories", 2000),
        ("users", 2000),
    ]
    .into_iter()
    .collect();
    assert_eq!(rows, expected, "tables and rows in the JSON summary");
    let billing = tables
        .iter()
        .find(|t| t["name"] == "billing__invoices")
        .expect("billing__invoices");
    assert_eq!(billing["source"], "billing.invoices");
    assert_eq!(summary["total_rows"], 20421);

    assert!(
        summary["seconds"].as_f64().is_some_and(|s| s > 0.0),
        "seconds: {}",
        summary["seconds"]
    );
    let size = std::fs::metadata(&target).expect("target").len();
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(size),
        "bytes is the file size"
    );
    assert_eq!(summary["consistent_snapshot"], true);

    let not_expressed: Vec<&str> = summary["not_expressed"]
        .as_array()
        .expect("not_expressed is an array")
        .iter()
        .map(|v| v.as_str().expect("not_expressed entries are strings"))
        .collect();
    assert!(
        not_expressed
            .iter()
            .any(|l| l.contains("audit_log_archive") && l.contains("inherits")),
        "inheritance missing from not_expressed: {not_expressed:#?}"
    );
    // Indexes and CHECKs SQLite can hold are not listed as lost.
    for name in [
        "users_lower_name_idx",
        "Order_Total_check",
        "devices_active_idx",
        "users_updated_at_idx",
        "sessions_user_idx",
        "payments_paid_at_idx",
    ] {
        assert!(
            !not_expressed.iter().any(|l| l.contains(name)),
            "{name} was created but is listed in not_expressed"
        );
    }

    // all_types holds one double precision -0 (id 3, f8). A REAL column cannot
    // keep the sign of zero; nothing may change silently, so either its sign
    // survives in SQLite, or the loss ledger counts it (as it does today).
    let loss = summary["loss"].as_array().expect("loss is an array");
    let negative_zero: Vec<&Json> = loss
        .iter()
        .filter(|l| l["reason"] == "negative_zero")
        .collect();
    let conn = open_sqlite(&target);
    let stored = sqlite_rows(&conn, "SELECT f8 FROM all_types WHERE id = 3");
    let sign_kept = match &stored[0][0] {
        rusqlite::types::Value::Real(f) => *f == 0.0 && f.is_sign_negative(),
        rusqlite::types::Value::Text(s) => s.starts_with('-'),
        other => panic!("all_types.f8 of id 3 is {other:?}"),
    };
    if sign_kept {
        assert!(
            negative_zero.is_empty(),
            "loss reports a kept value: {loss:#?}"
        );
    } else {
        assert_eq!(negative_zero.len(), 1, "loss: {loss:#?}");
        assert_eq!(negative_zero[0]["table"], "all_types");
        assert_eq!(negative_zero[0]["column"], "f8");
        assert_eq!(negative_zero[0]["count"], 1);
        assert!(
            negative_zero[0]["description"].is_string(),
            "loss entries say why: {loss:#?}"
        );
    }
}

#[test]
fn quiet_prints_the_summary_and_nothing_on_stderr() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(
        &db.url(),
        &target,
        &["--tables", "users,sessions", "--quiet"],
    );
    run.assert_success();
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.starts_with("synced 2 tables, 7000 rows"),
        "summary:\n{}",
        run.stdout
    );
}
