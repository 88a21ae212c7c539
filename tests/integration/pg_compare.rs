//! An independent checker: for every table except all_types (see `values.rs`),
//! PostgreSQL itself computes the text each value must have in SQLite (with
//! `to_char`, casts and output functions), and the SQLite copy is compared with
//! it row by row. Nothing here goes through the code under test.

use rusqlite::types::Value;

use crate::common::*;

/// A timestamptz as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` in UTC, computed by PostgreSQL
/// (finite values; the fixtures hold no infinities in these tables).
fn iso_utc(c: &str) -> String {
    format!(
        "CASE WHEN {c} IS NULL THEN NULL ELSE \
           to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') \
           || CASE WHEN date_part('microseconds', {c})::bigint % 1000000 <> 0 \
                   THEN to_char({c} AT TIME ZONE 'UTC', '.US') ELSE '' END \
           || 'Z' END"
    )
}

/// A value through its type's output function (what psql shows). Unlike `::text`,
/// which for inet is the `text(inet)` function that always adds the netmask.
fn output(c: &str) -> String {
    format!("CASE WHEN {c} IS NULL THEN NULL ELSE format('%s', {c}) END")
}

fn bool01(c: &str) -> String {
    format!("CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN '1' ELSE '0' END")
}

fn date(c: &str) -> String {
    format!("to_char({c}, 'YYYY-MM-DD')")
}

/// A numeric(p,s) with p <= 15 lands in a NUMERIC column as an INTEGER or a REAL;
/// its decimal without trailing zeros is what must come back.
fn trimmed(c: &str) -> String {
    format!("trim_scale({c})::text")
}

/// One table to compare: a PostgreSQL query producing text, the SQLite query for
/// the same columns, and the storage class each SQLite column must have
/// (`"num"`: INTEGER or REAL, as NUMERIC affinity chooses).
struct Check {
    table: &'static str,
    pg: String,
    sqlite: String,
    types: &'static [&'static str],
}

fn checks() -> Vec<Check> {
    let c = |table: &'static str, pg: String, sqlite: &str, types: &'static [&'static str]| Check {
        table,
        pg,
        sqlite: sqlite.to_owned(),
        types,
    };
    vec![
        c(
            "users",
            format!(
                "SELECT id::text, email::text, name, {}, mood::text, {}, {} FROM ONLY users",
                bool01("is_admin"),
                iso_utc("created_at"),
                iso_utc("updated_at")
            ),
            "SELECT id, email, name, is_admin, mood, created_at, updated_at FROM users",
            &["integer", "text", "text", "integer", "text", "text", "text"],
        ),
        c(
            "sessions",
            format!(
                "SELECT token::text, user_id::text, {}, {}, {} FROM ONLY sessions",
                output("ip"),
                iso_utc("started_at"),
                iso_utc("expires_at")
            ),
            "SELECT token, user_id, ip, started_at, expires_at FROM sessions",
            &["text", "integer", "text", "text", "text"],
        ),
        c(
            "categories",
            "SELECT id::text, parent_id::text, label FROM ONLY categories".into(),
            "SELECT id, parent_id, label FROM categories",
            &["integer", "integer", "text"],
        ),
        c(
            "user_categories",
            format!(
                "SELECT user_id::text, category_id::text, {} FROM ONLY user_categories",
                date("since")
            ),
            "SELECT user_id, category_id, since FROM user_categories",
            &["integer", "integer", "text"],
        ),
        c(
            "audit_log",
            format!(
                "SELECT {}, actor, action, details::text FROM ONLY audit_log",
                iso_utc("at")
            ),
            "SELECT at, actor, action, details FROM audit_log",
            &["text", "text", "text", "text"],
        ),
        c(
            "audit_log_archive",
            format!(
                "SELECT {}, actor, action, details::text, {} FROM ONLY audit_log_archive",
                iso_utc("at"),
                date("archived_on")
            ),
            "SELECT at, actor, action, details, archived_on FROM audit_log_archive",
            &["text", "text", "text", "text", "text"],
        ),
        c(
            "Order",
            format!(
                "SELECT \"Id\"::text, \"select\", \"User Id\"::text, {} FROM ONLY \"Order\"",
                trimmed("\"Total\"")
            ),
            "SELECT \"Id\", \"select\", \"User Id\", \"Total\" FROM \"Order\"",
            &["integer", "text", "integer", "num"],
        ),
        c(
            "billing__invoices",
            format!(
                "SELECT id::text, order_id::text, amount::text, {} FROM ONLY billing.invoices",
                date("issued_on")
            ),
            "SELECT id, order_id, amount, issued_on FROM billing__invoices",
            &["integer", "integer", "text", "text"],
        ),
        c(
            "billing__payments",
            format!(
                "SELECT id::text, invoice_id::text, {}, {} FROM ONLY billing.payments",
                iso_utc("paid_at"),
                trimmed("amount")
            ),
            "SELECT id, invoice_id, paid_at, amount FROM billing__payments",
            &["integer", "integer", "text", "num"],
        ),
        c(
            "events",
            format!(
                "SELECT id::text, {}, kind, payload::text FROM events",
                iso_utc("happened_at")
            ),
            "SELECT id, happened_at, kind, payload FROM events",
            &["integer", "text", "text", "text"],
        ),
        c(
            "tags",
            "SELECT code, label, weight::text FROM ONLY tags".into(),
            "SELECT code, label, weight FROM tags",
            &["text", "text", "integer"],
        ),
        c(
            "devices",
            format!(
                "SELECT id::text, user_id::text, tag, vendor, serial_no, {} FROM ONLY devices",
                bool01("retired")
            ),
            "SELECT id, user_id, tag, vendor, serial_no, retired FROM devices",
            &["text", "integer", "text", "text", "text", "integer"],
        ),
        c(
            "empty_things",
            "SELECT id::text, note FROM ONLY empty_things".into(),
            "SELECT id, note FROM empty_things",
            &["integer", "text"],
        ),
        c(
            "Weird \"Name\"",
            "SELECT \"from\"::text, \"a\"\"b\", \"Group\" FROM ONLY \"Weird \"\"Name\"\"\"".into(),
            "SELECT \"from\", \"a\"\"b\", \"Group\" FROM \"Weird \"\"Name\"\"\"",
            &["integer", "text", "text"],
        ),
    ]
}

type Row = Vec<Option<String>>;

/// A SQLite value as the text PostgreSQL computed for it, after checking its
/// storage class.
fn sqlite_text(v: &Value, want: &str, at: &str) -> Result<Option<String>, String> {
    let ok = matches!(
        (v, want),
        (Value::Null, _)
            | (Value::Integer(_), "integer" | "num")
            | (Value::Real(_), "real" | "num")
            | (Value::Text(_), "text")
            | (Value::Blob(_), "blob")
    );
    if !ok {
        return Err(format!(
            "{at}: storage class {} where {want} was expected ({v:?})",
            type_name(v)
        ));
    }
    Ok(match v {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        // Display is the shortest decimal that reads back as the same double; for
        // decimals of at most 15 significant digits that is the decimal itself.
        Value::Real(f) => Some(f.to_string()),
        Value::Text(s) => Some(s.clone()),
        Value::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
    })
}

#[test]
fn every_table_matches_postgres_row_by_row() {
    let db = TestDb::with_demo_and_extra();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(
        &db.url(),
        &target,
        &["--schema", "public,billing", "--quiet"],
    )
    .assert_success();
    let conn = open_sqlite(&target);

    let mut pg = db.client();
    pg.batch_execute(
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3",
    )
    .expect("session settings");

    let mut report = Vec::new();
    let mut compared = 0usize;
    for check in checks() {
        let mut expected: Vec<Row> = pg
            .query(check.pg.as_str(), &[])
            .unwrap_or_else(|e| panic!("{}: {}", check.pg, pg_error(&e)))
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect();
        let mut got = Vec::new();
        let mut type_problems = Vec::new();
        for (n, row) in sqlite_rows(&conn, &check.sqlite).iter().enumerate() {
            assert_eq!(
                row.len(),
                check.types.len(),
                "{}: column count",
                check.table
            );
            let mut out = Vec::new();
            for (i, (v, want)) in row.iter().zip(check.types).enumerate() {
                match sqlite_text(v, want, &format!("{} row {n} column {i}", check.table)) {
                    Ok(t) => out.push(t),
                    Err(e) => {
                        type_problems.push(e);
                        out.push(None);
                    }
                }
            }
            got.push(out);
        }
        // Compare as multisets: audit_log has no key and holds duplicate rows.
        expected.sort();
        got.sort();
        compared += expected.len();
        if expected.len() != got.len() {
            report.push(format!(
                "{}: PostgreSQL has {} rows, SQLite {}",
                check.table,
                expected.len(),
                got.len()
            ));
        }
        let mismatches: Vec<String> = expected
            .iter()
            .zip(&got)
            .filter(|(e, g)| e != g)
            .take(3)
            .map(|(e, g)| format!("  expected {e:?}\n       got {g:?}"))
            .collect();
        let count = expected.iter().zip(&got).filter(|(e, g)| e != g).count();
        if count > 0 {
            report.push(format!(
                "{}: {count} row(s) differ, e.g.\n{}",
                check.table,
                mismatches.join("\n")
            ));
        }
        type_problems.truncate(3);
        report.extend(type_problems);
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
    assert_eq!(compared, 20417, "rows compared (every table but all_types)");
}
