//! A full sync of a representative schema: which tables arrive, with how many
//! rows, and with which keys, constraints and indexes.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::common::*;

mod expected;
use expected::*;

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn table_columns(conn: &Connection, table: &str) -> Vec<(String, String)> {
    let mut stmt = conn
        .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")
        .expect("pragma_table_info");
    let cols = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("pragma_table_info")
        .collect::<Result<Vec<_>, _>>()
        .expect("pragma_table_info");
    cols
}

fn primary_key(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
        .expect("pragma_table_info");
    let cols = stmt
        .query_map([table], |r| r.get(0))
        .expect("pragma_table_info")
        .collect::<Result<Vec<String>, _>>()
        .expect("pragma_table_info");
    cols
}

fn not_null(conn: &Connection, table: &str) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) WHERE \"notnull\" = 1")
        .expect("pragma_table_info");
    let cols = stmt
        .query_map([table], |r| r.get(0))
        .expect("pragma_table_info")
        .collect::<Result<BTreeSet<String>, _>>()
        .expect("pragma_table_info");
    cols
}

type Fk = (String, String, String, String, String, String);

fn foreign_keys(conn: &Connection, tables: &BTreeSet<String>) -> BTreeSet<Fk> {
    let mut out = BTreeSet::new();
    for t in tables {
        let rows = sqlite_rows(
            conn,
            &format!(
                "SELECT \"from\", \"table\", \"to\", on_update, on_delete \
                 FROM pragma_foreign_key_list('{}')",
                t.replace('\'', "''")
            ),
        );
        for r in rows {
            out.insert((
                t.clone(),
                text(&r[0]),
                text(&r[1]),
                text(&r[2]),
                text(&r[3]),
                text(&r[4]),
            ));
        }
    }
    out
}

type Index = (String, String, bool, Vec<(String, bool)>);

fn explicit_indexes(conn: &Connection) -> BTreeSet<Index> {
    let named = sqlite_rows(
        conn,
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    );
    named
        .iter()
        .map(|r| {
            let (name, table) = (text(&r[0]), text(&r[1]));
            let q = |s: &str| s.replace('\'', "''");
            let unique = sqlite_i64(
                conn,
                &format!(
                    "SELECT \"unique\" FROM pragma_index_list('{}') WHERE name = '{}'",
                    q(&table),
                    q(&name)
                ),
            ) == 1;
            let cols = sqlite_rows(
                conn,
                &format!(
                    "SELECT name, \"desc\" FROM pragma_index_xinfo('{}') WHERE key = 1 ORDER BY seqno",
                    q(&name)
                ),
            )
            .iter()
            .map(|c| {
                let key = match &c[0] {
                    Value::Null => "<expression>".to_owned(),
                    name => text(name),
                };
                (key, c[1] == Value::Integer(1))
            })
            .collect();
            (name, table, unique, cols)
        })
        .collect()
}

#[test]
fn full_sync_copies_every_table_with_keys_constraints_and_indexes() {
    let db = TestDb::with_demo_and_extra();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");

    let run = sync(&db.url(), &target, &["--schema", "public,billing"]);
    run.assert_success();

    // Nothing but the published file is left in the directory.
    assert_eq!(
        dir_entries(dir.path()),
        BTreeSet::from(["app.db".to_owned()])
    );
    let conn = open_sqlite(&target);
    assert_sqlite_healthy(&conn);

    // Exactly the expected tables: partitions (events_2024, events_2025) are
    // folded into their parent, nothing else appears.
    let tables = sqlite_tables(&conn);
    let expected: BTreeSet<String> = EXPECTED_TABLES
        .iter()
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    assert_eq!(tables, expected, "SQLite tables");

    // Row counts: as PostgreSQL counts them, and as the fixtures were written.
    let mut counts = Vec::new();
    for (sqlite, pg, rows) in EXPECTED_TABLES {
        let in_pg = db.count(pg);
        assert_eq!(in_pg, *rows, "fixture row count of {pg}");
        let in_sqlite = sqlite_i64(&conn, &format!("SELECT count(*) FROM {}", sq_ident(sqlite)));
        counts.push((*sqlite, in_pg, in_sqlite));
    }
    let wrong: Vec<_> = counts.iter().filter(|(_, p, s)| p != s).collect();
    assert!(
        wrong.is_empty(),
        "row counts differ (table, PostgreSQL, SQLite): {wrong:?}"
    );

    // Columns, declared types and order.
    for (table, cols) in EXPECTED_COLUMNS {
        let expected: Vec<(String, String)> = cols
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(table_columns(&conn, table), expected, "columns of {table}");
    }

    for (table, pk) in EXPECTED_PRIMARY_KEYS {
        assert_eq!(primary_key(&conn, table), *pk, "primary key of {table}");
    }
    for (table, cols) in EXPECTED_NOT_NULL {
        let expected: BTreeSet<String> = cols.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(
            not_null(&conn, table),
            expected,
            "NOT NULL columns of {table}"
        );
    }

    let expected_fks: BTreeSet<Fk> = EXPECTED_FOREIGN_KEYS
        .iter()
        .map(|(t, c, rt, rc, u, d)| {
            let s = |x: &str| x.to_owned();
            (s(t), s(c), s(rt), s(rc), s(u), s(d))
        })
        .collect();
    assert_eq!(foreign_keys(&conn, &tables), expected_fks, "foreign keys");
    // A deferrable PostgreSQL foreign key stays deferrable.
    let payments_sql = sqlite_rows(
        &conn,
        "SELECT sql FROM sqlite_master WHERE name = 'billing__payments'",
    );
    assert!(
        text(&payments_sql[0][0]).contains("DEFERRABLE INITIALLY DEFERRED"),
        "billing__payments: {payments_sql:?}"
    );

    let expected_indexes: BTreeSet<Index> = EXPECTED_INDEXES
        .iter()
        .map(|(n, t, u, cols)| {
            (
                (*n).to_owned(),
                (*t).to_owned(),
                *u,
                cols.iter().map(|(c, d)| ((*c).to_owned(), *d)).collect(),
            )
        })
        .collect();
    assert_eq!(explicit_indexes(&conn), expected_indexes, "indexes");
    // Uniqueness is enforced, not only declared: text and uuid keys and a
    // multi-column UNIQUE constraint reject duplicates (on a writable copy).
    let copy_path = dir.path().join("scratch.db");
    std::fs::copy(&target, &copy_path).expect("copying the result");
    let copy = Connection::open(&copy_path).expect("open copy");
    for dup in [
        "INSERT INTO tags (code, label, weight) VALUES ('red', 'again', 1)",
        "INSERT INTO devices (id, user_id, vendor, serial_no, retired) \
         SELECT id, user_id, vendor, serial_no || '-x', retired FROM devices LIMIT 1",
        "INSERT INTO devices (id, user_id, vendor, serial_no, retired) \
         SELECT '00000000-0000-0000-0000-000000000001', user_id, vendor, serial_no, retired \
         FROM devices LIMIT 1",
        "INSERT INTO users (id, email, name, is_admin, created_at, updated_at) \
         SELECT 999999, email, name, is_admin, created_at, updated_at FROM users LIMIT 1",
    ] {
        assert!(
            copy.execute(dup, []).is_err(),
            "a duplicate was accepted: {dup}"
        );
    }
    drop(copy);

    let mut defaults = BTreeMap::new();
    for t in &tables {
        let rows = sqlite_rows(
            &conn,
            &format!(
                "SELECT name, dflt_value FROM pragma_table_info('{}') WHERE dflt_value IS NOT NULL",
                t.replace('\'', "''")
            ),
        );
        for r in rows {
            defaults.insert((t.clone(), text(&r[0])), text(&r[1]));
        }
    }
    let expected_defaults: BTreeMap<(String, String), String> = EXPECTED_DEFAULTS
        .iter()
        .map(|(t, c, d)| (((*t).to_owned(), (*c).to_owned()), (*d).to_owned()))
        .collect();
    assert_eq!(defaults, expected_defaults, "column defaults");

    // The summary names every table with its row count, and lists what SQLite
    // cannot express instead of dropping it silently.
    for (sqlite, _, rows) in EXPECTED_TABLES {
        let line_found = run
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with(sqlite) && l.contains(&format!(" {rows} rows")));
        assert!(
            line_found,
            "summary has no line for {sqlite} with {rows} rows:\n{}",
            run.stdout
        );
    }
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("15 tables") && first.contains("20421 rows"),
        "summary totals:\n{}",
        run.stdout
    );
    // Expression and partial indexes and CHECKs are created (issue 15), so
    // the one thing left to list is the inheritance.
    for created in [
        "users_lower_name_idx",
        "Order_Total_check",
        "devices_active_idx",
    ] {
        assert!(
            !run.stdout.contains(created),
            "{created} is created, but the summary lists it:\n{}",
            run.stdout
        );
    }
    let schema = sqlite_rows(&conn, "SELECT group_concat(sql, ';') FROM sqlite_master");
    for sql in [
        "CREATE INDEX \"users_lower_name_idx\" ON \"users\" ((lower(\"name\")))",
        "CREATE INDEX \"devices_active_idx\" ON \"devices\" (\"user_id\") WHERE (NOT \"retired\")",
        "CONSTRAINT \"Order_Total_check\" CHECK ((\"Total\" >= 0))",
    ] {
        assert!(
            text(&schema[0][0]).contains(sql),
            "{sql} missing from the schema"
        );
    }
    // Defaults of the current time are carried over now (see
    // current_time_defaults_write_the_stored_form), so they are not listed.
    for carried in ["users.created_at", "user_categories.since"] {
        assert!(
            !run.stdout.contains(carried),
            "{carried} listed:\n{}",
            run.stdout
        );
    }
}

#[test]
fn tables_and_exclude_choose_what_is_copied() {
    let db = TestDb::with_demo_and_extra();
    let dir = tempfile::tempdir().expect("tempdir");

    // --tables accepts `name`, `schema.name` and `schema__name`.
    let target = dir.path().join("some.db");
    let run = sync(
        &db.url(),
        &target,
        &[
            "--schema",
            "public,billing",
            "--tables",
            "users,billing.invoices,billing__payments",
            "--quiet",
        ],
    );
    run.assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_tables(&conn),
        BTreeSet::from([
            "billing__invoices".into(),
            "billing__payments".into(),
            "users".into()
        ])
    );
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2000);
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(*) FROM billing__invoices"),
        1500
    );
    assert_sqlite_healthy(&conn);
    // The foreign key to a table that was left out cannot be created: it is
    // reported, and the one between two copied tables is kept.
    assert!(
        run.stdout.contains("Order") && run.stdout.contains("not copied"),
        "the dropped foreign key to \"Order\" is not reported:\n{}",
        run.stdout
    );
    let fks = sqlite_rows(
        &conn,
        "SELECT \"table\" FROM pragma_foreign_key_list('billing__invoices')",
    );
    assert!(
        fks.is_empty(),
        "billing__invoices keeps a foreign key to a missing table: {fks:?}"
    );
    let fks = sqlite_rows(
        &conn,
        "SELECT \"table\" FROM pragma_foreign_key_list('billing__payments')",
    );
    assert_eq!(fks, vec![vec![Value::Text("billing__invoices".into())]]);

    // Without --schema only `public` is read; --exclude leaves tables out.
    let target = dir.path().join("rest.db");
    sync(
        &db.url(),
        &target,
        &["--exclude", "all_types,events,Weird \"Name\"", "--quiet"],
    )
    .assert_success();
    let conn = open_sqlite(&target);
    let expected: BTreeSet<String> = [
        "Order",
        "audit_log",
        "audit_log_archive",
        "categories",
        "devices",
        "empty_things",
        "sessions",
        "tags",
        "user_categories",
        "users",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(sqlite_tables(&conn), expected);
    assert_sqlite_healthy(&conn);
}

#[test]
fn full_resync_reflects_changes_made_in_postgres() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(
        &db.url(),
        &target,
        &["--tables", "users,categories", "--quiet"],
    )
    .assert_success();

    db.execute(
        "INSERT INTO users (email, name, created_at, updated_at)
              VALUES ('new@example.com', 'Newcomer', '2025-11-13 08:00:00+01', '2025-11-13 08:00:00+01');
         UPDATE users SET name = 'Renamed' WHERE id = 5;
         DELETE FROM user_categories WHERE category_id = 4;
         DELETE FROM categories WHERE id = 4;",
    );
    sync(
        &db.url(),
        &target,
        &["--tables", "users,categories", "--full", "--quiet"],
    )
    .assert_success();

    let conn = open_sqlite(&target);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2001);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM categories"), 3);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT name, created_at FROM users WHERE email = 'new@example.com'"
        ),
        vec![vec![
            Value::Text("Newcomer".into()),
            Value::Text("2025-11-13T07:00:00Z".into())
        ]]
    );
    assert_eq!(
        sqlite_rows(&conn, "SELECT name FROM users WHERE id = 5"),
        vec![vec![Value::Text("Renamed".into())]]
    );
    assert_sqlite_healthy(&conn);
}

/// product.md: "what cannot be expressed is listed, never silently dropped".
/// A domain's CHECK (all_types.dom is `positive_int`, CHECK (VALUE > 0)) is
/// created on the column and refuses what PostgreSQL refuses; table
/// inheritance (reading audit_log in PostgreSQL includes audit_log_archive's
/// rows; in SQLite it does not) is listed.
#[test]
fn domain_checks_are_enforced_and_inheritance_is_listed() {
    let db = TestDb::with_demo_and_extra();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(&db.url(), &target, &["--json"]);
    run.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json output");
    let listed: Vec<String> = summary["not_expressed"]
        .as_array()
        .expect("not_expressed")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect();
    let inheritance = listed.iter().any(|l| {
        l.contains("audit_log_archive")
            && l.contains("audit_log")
            && l.to_lowercase().contains("inherit")
    });
    assert!(
        inheritance,
        "inheritance listed; not_expressed: {listed:#?}"
    );
    assert!(
        !listed.iter().any(|l| l.contains("positive_int")),
        "the domain CHECK is created, not listed: {listed:#?}"
    );
    let conn = Connection::open(&target).expect("open");
    let err = conn
        .execute("UPDATE all_types SET dom = 0 WHERE dom IS NOT NULL", [])
        .expect_err("dom = 0 breaks positive_int's CHECK");
    assert!(err.to_string().contains("positive_int_check"), "{err}");
    conn.execute("UPDATE all_types SET dom = 7 WHERE dom IS NOT NULL", [])
        .expect("dom = 7 keeps it");
}

/// `DEFAULT now()` / `CURRENT_DATE` become SQLite defaults that write the current
/// time in the form the copied rows have, so that an app inserting without
/// those columns gets values the next sync and verify understand. Checked with
/// the bundled SQLite and, where installed, the system's older `sqlite3`.
#[test]
fn current_time_defaults_write_the_stored_form() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let run = sync(
        &db.url(),
        &target,
        &["--tables", "users,user_categories,categories", "--quiet"],
    );
    run.assert_success();
    assert!(
        !run.stdout.contains("default now() not carried over"),
        "{}",
        run.stdout
    );
    let conn = rusqlite::Connection::open(&target).expect("open");
    conn.execute_batch(
        "INSERT INTO users (id, email, name) VALUES (900001, 'd1@example.com', 'd');
         INSERT INTO user_categories (user_id, category_id) SELECT 900001, min(id) FROM categories;",
    )
    .expect("insert without the defaulted columns");
    let (created, updated): (String, String) = conn
        .query_row(
            "SELECT created_at, updated_at FROM users WHERE id = 900001",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("read back");
    let since: String = conn
        .query_row(
            "SELECT since FROM user_categories WHERE user_id = 900001",
            [],
            |r| r.get(0),
        )
        .expect("read back");
    drop(conn);
    let iso_utc = |s: &str| {
        let b = s.as_bytes();
        let frac_ok = match b.len() {
            20 => true,
            27 => b[19] == b'.' && b[20..26].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        frac_ok && b[10] == b'T' && b[b.len() - 1] == b'Z' && s.starts_with("20")
    };
    assert!(
        iso_utc(&created) && iso_utc(&updated),
        "{created} / {updated}"
    );
    let today = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(since, today);
    assert!(created.starts_with(&today), "{created}");

    // An older SQLite (the system's sqlite3, as an app might link) runs the same defaults.
    if let Ok(out) = std::process::Command::new("sqlite3")
        .arg(&target)
        .arg("INSERT INTO users (id, email, name) VALUES (900002, 'd2@example.com', 'd'); SELECT created_at FROM users WHERE id = 900002;")
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(iso_utc(&text), "{text}");
    }
}
