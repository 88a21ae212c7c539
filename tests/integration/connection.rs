//! The ways to say where PostgreSQL is: a URL, a `key=value` string, and the
//! environment (`DATABASE_URL`, libpq's `PG*` variables).

use crate::common::*;

fn assert_copied_users(target: &std::path::Path) {
    let conn = open_sqlite(target);
    assert_eq!(sqlite_i64(&conn, "SELECT count(*) FROM users"), 2000);
}

#[test]
fn source_can_be_a_key_value_string() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let source = format!(
        "host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={} sslmode=disable",
        db.name()
    );
    sync(&source, &target, &["--tables", "users", "--quiet"]).assert_success();
    assert_copied_users(&target);
}

#[test]
fn source_falls_back_to_database_url() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let out = pg2sqlite()
        .env("DATABASE_URL", db.url())
        .args(["sync", "--target"])
        .arg(&target)
        .args(["--tables", "users", "--quiet"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_copied_users(&target);
}

#[test]
fn missing_parts_of_the_source_come_from_libpq_variables() {
    let db = TestDb::with_demo();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let out = pg2sqlite()
        .env("PGHOST", PG_HOST)
        .env("PGPORT", PG_PORT.to_string())
        .env("PGUSER", PG_USER)
        .env("PGDATABASE", db.name())
        .env("PGSSLMODE", "disable")
        .args(["sync", "--source", "application_name=p2s_test", "--target"])
        .arg(&target)
        .args(["--tables", "users", "--quiet"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_copied_users(&target);

    // The port in the URL wins over PGPORT.
    let target = dir.path().join("again.db");
    let out = pg2sqlite()
        .env("PGPORT", "1")
        .args(["sync", "--source", &db.url(), "--target"])
        .arg(&target)
        .args(["--tables", "users", "--quiet"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_copied_users(&target);
}
