//! The ways to say where PostgreSQL is: a URL, a `key=value` string, the
//! environment (`DATABASE_URL`, libpq's `PG*` variables), service files,
//! password files, verified TLS with client certificates, and host lists —
//! the TLS ones against a server of the test's own ([`cluster`]).

pub(crate) mod cluster;

use std::path::Path;

use cluster::{set_mode, Cluster, PASSWORD};

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

/// Runs the binary with a home directory of the test's and extra variables.
fn run_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = pg2sqlite();
    cmd.env("HOME", home).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pg2sqlite");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `sync --full` of `items` from `source` into a fresh file; the rows it copied.
fn sync_items(home: &Path, source: &str, envs: &[(&str, &str)]) -> (Run, Option<i64>) {
    let target = home.join(format!(
        "out-{}.db",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let mut args = vec!["sync", "--target", target.to_str().expect("utf-8 path")];
    if !source.is_empty() {
        args.extend(["--source", source]);
    }
    args.extend(["--tables", "items", "--quiet"]);
    let run = run_in(home, &args, envs);
    let rows = (run.code == Some(0))
        .then(|| sqlite_i64(&open_sqlite(&target), "SELECT count(*) FROM items"));
    (run, rows)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn verified_tls_needs_the_right_ca_and_host_name() {
    let c = Cluster::start("");
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let ca = c.file("ca.crt");
    let base = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=root dbname=app",
        c.port
    );

    let (run, rows) = sync_items(
        h,
        &format!("{base} sslmode=verify-full sslrootcert={}", path(&ca)),
        &[],
    );
    run.assert_success();
    assert_eq!(rows, Some(3));

    // Another CA signed the server's certificate: refused, naming the file.
    let wrong = c.file("wrong_ca.crt");
    let (run, _) = sync_items(
        h,
        &format!("{base} sslmode=verify-full sslrootcert={}", path(&wrong)),
        &[],
    );
    run.assert_code(3)
        .assert_stderr_has(&["not signed by a CA in", "wrong_ca.crt", "hint:"]);

    // The certificate is for "localhost", not for 127.0.0.1: verify-full refuses,
    // verify-ca (the chain only) accepts.
    let by_ip = format!(
        "host=127.0.0.1 port={} user=root dbname=app sslrootcert={}",
        c.port,
        path(&ca)
    );
    let (run, _) = sync_items(h, &format!("{by_ip} sslmode=verify-full"), &[]);
    run.assert_code(3)
        .assert_stderr_has(&["not valid for the host name \"127.0.0.1\"", "verify-ca"]);
    let (run, rows) = sync_items(h, &format!("{by_ip} sslmode=verify-ca"), &[]);
    run.assert_success();
    assert_eq!(rows, Some(3));

    // verify-full without sslrootcert: ~/.postgresql/root.crt, as libpq; when it
    // is missing, a usage error that says so.
    let (run, _) = sync_items(h, &format!("{base} sslmode=verify-full"), &[]);
    run.assert_code(2).assert_stderr_has(&[
        "root certificate file",
        ".postgresql/root.crt",
        "does not exist",
    ]);
    std::fs::create_dir_all(h.join(".postgresql")).expect("mkdir");
    std::fs::copy(&ca, h.join(".postgresql/root.crt")).expect("copy CA");
    let (run, rows) = sync_items(h, &format!("{base} sslmode=verify-full"), &[]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    std::fs::remove_file(h.join(".postgresql/root.crt")).expect("rm");

    // PGSSLROOTCERT names the CA file too; a wrong one is named with its variable.
    let (run, rows) = sync_items(
        h,
        &format!("{base} sslmode=verify-full"),
        &[("PGSSLROOTCERT", path(&ca))],
    );
    run.assert_success();
    assert_eq!(rows, Some(3));
    let (run, _) = sync_items(
        h,
        &format!("{base} sslmode=verify-full"),
        &[("PGSSLROOTCERT", path(&wrong))],
    );
    run.assert_code(3)
        .assert_stderr_has(&["sslrootcert from PGSSLROOTCERT"]);

    // sslrootcert=system: the system's trust store (here SSL_CERT_FILE), verify-full implied.
    let (run, rows) = sync_items(
        h,
        &format!("{base} sslrootcert=system"),
        &[("SSL_CERT_FILE", path(&ca))],
    );
    run.assert_success();
    assert_eq!(rows, Some(3));
    let (run, _) = sync_items(
        h,
        &format!("{base} sslrootcert=system"),
        &[("SSL_CERT_FILE", path(&wrong))],
    );
    run.assert_code(3)
        .assert_stderr_has(&["not signed by a CA in the system's trust store"]);

    // require without any CA still encrypts: the server logs TLS for it, and it
    // refuses unencrypted connections (hostnossl … reject).
    let before = c.log().matches("SSL enabled").count();
    let (run, rows) = sync_items(h, &format!("{base} sslmode=require"), &[]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    assert!(
        c.log().matches("SSL enabled").count() > before,
        "{}",
        c.log()
    );
    let (run, _) = sync_items(h, &format!("{base} sslmode=disable"), &[]);
    run.assert_code(3)
        .assert_stderr_has(&["no encryption", "use sslmode=require"]);
    assert!(
        c.log().contains("application_name=pg2sqlite"),
        "{}",
        c.log()
    );
}

#[test]
fn client_certificates_and_service_files() {
    let c = Cluster::start("");
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let services = h.join("services.conf");
    std::fs::write(
        &services,
        format!(
            "# the test's services\n[tlsapp]\nhost=localhost\nhostaddr=127.0.0.1\nport={}\nuser=certuser\n\
             dbname=app\nsslmode=verify-full\nsslrootcert={}\nsslcert={}\nsslkey={}\n\n[nocert]\n\
             host=localhost\nhostaddr=127.0.0.1\nport={}\nuser=certuser\ndbname=app\nsslmode=verify-full\nsslrootcert={}\n",
            c.port,
            path(&c.file("ca.crt")),
            path(&c.file("client.crt")),
            path(&c.file("client.key")),
            c.port,
            path(&c.file("ca.crt")),
        ),
    )
    .expect("write service file");
    let envs = [("PGSERVICEFILE", path(&services))];

    // service= in --source, and PGSERVICE with no --source at all.
    let (run, rows) = sync_items(h, "service=tlsapp", &envs);
    run.assert_success();
    assert_eq!(rows, Some(3));
    let (run, rows) = sync_items(h, "", &[envs[0], ("PGSERVICE", "tlsapp")]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    assert!(c.log().contains("user=certuser"), "{}", c.log());

    // The --source string wins over the service: a wrong port given there is used.
    let (run, _) = sync_items(h, "service=tlsapp port=1", &envs);
    run.assert_code(3).assert_stderr_has(&[":1/app"]);

    // No client certificate: the server refuses, and the hint says how to give one.
    let (run, _) = sync_items(h, "service=nocert", &envs);
    run.assert_code(3)
        .assert_stderr_has(&["certificate", "sslcert=FILE"]);
    // The default client certificate, ~/.postgresql/postgresql.crt and .key.
    std::fs::create_dir_all(h.join(".postgresql")).expect("mkdir");
    std::fs::copy(c.file("client.crt"), h.join(".postgresql/postgresql.crt")).expect("copy");
    std::fs::copy(c.file("client.key"), h.join(".postgresql/postgresql.key")).expect("copy");
    set_mode(&h.join(".postgresql/postgresql.key"), 0o600);
    let (run, rows) = sync_items(h, "service=nocert", &envs);
    run.assert_success();
    assert_eq!(rows, Some(3));

    // A key others can read is refused before anything connects, as libpq does.
    set_mode(&h.join(".postgresql/postgresql.key"), 0o644);
    let (run, _) = sync_items(h, "service=nocert", &envs);
    run.assert_code(2)
        .assert_stderr_has(&["postgresql.key", "group or world access"]);
    std::fs::remove_dir_all(h.join(".postgresql")).expect("rm ~/.postgresql");

    // A service only in the system's file: PGSYSCONFDIR/pg_service.conf.
    let sysconf = h.join("etc");
    std::fs::create_dir_all(&sysconf).expect("mkdir");
    std::fs::write(
        sysconf.join("pg_service.conf"),
        format!(
            "[sysapp]\nhost=localhost\nhostaddr=127.0.0.1\nport={}\nuser=root\ndbname=app\nsslmode=verify-full\n",
            c.port
        ),
    )
    .expect("write system service file");
    let (run, rows) = sync_items(
        h,
        "service=sysapp",
        &[
            envs[0],
            ("PGSYSCONFDIR", path(&sysconf)),
            ("PGSSLROOTCERT", path(&c.file("ca.crt"))),
        ],
    );
    run.assert_success();
    assert_eq!(rows, Some(3));

    // A service that is nowhere: the message names the files looked in.
    let (run, _) = sync_items(h, "service=missing", &envs);
    run.assert_code(2)
        .assert_stderr_has(&["service \"missing\" not found", "services.conf"]);
}

#[test]
fn passwords_come_from_the_password_file_and_a_rejected_one_is_named() {
    let c = Cluster::start("");
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let ca = c.file("ca.crt");
    let source = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=pwuser dbname=app sslmode=verify-full sslrootcert={}",
        c.port,
        path(&ca)
    );
    let pgpass = h.join(".pgpass");
    let escaped = PASSWORD.replace(':', "\\:");

    // No password anywhere.
    let (run, _) = sync_items(h, &source, &[]);
    run.assert_code(3)
        .assert_stderr_has(&["no password", "~/.pgpass"]);

    // A wrong one on line 2 of ~/.pgpass: named by file and line, never shown.
    std::fs::write(
        &pgpass,
        format!(
            "# passwords\nlocalhost:{}:app:pwuser:wrong-one\n*:*:*:*:{escaped}\n",
            c.port
        ),
    )
    .expect("write");
    set_mode(&pgpass, 0o600);
    let (run, _) = sync_items(h, &source, &[]);
    run.assert_code(3).assert_stderr_has(&[
        "password from ~/.pgpass line 2 was rejected",
        "correct line 2",
    ]);
    assert!(!run.all_output().contains("wrong-one"));

    // The right line first: it works.
    std::fs::write(
        &pgpass,
        format!("localhost:{}:app:pwuser:{escaped}\n", c.port),
    )
    .expect("write");
    let (run, rows) = sync_items(h, &source, &[]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    assert!(!run.all_output().contains(PASSWORD));

    // PGPASSFILE names another file; passfile= in the string wins over it.
    let other = h.join("other.pgpass");
    std::fs::write(&other, format!("*:*:*:pwuser:{escaped}\n")).expect("write");
    set_mode(&other, 0o600);
    std::fs::write(&pgpass, "*:*:*:*:nope\n").expect("write");
    let (run, rows) = sync_items(h, &source, &[("PGPASSFILE", path(&other))]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    let (run, _) = sync_items(
        h,
        &format!("{source} passfile={}", path(&pgpass)),
        &[("PGPASSFILE", path(&other))],
    );
    run.assert_code(3)
        .assert_stderr_has(&["line 1 was rejected"]);

    // A file others can read is ignored with libpq's warning, which the error repeats.
    set_mode(&other, 0o644);
    let (run, _) = sync_items(h, &source, &[("PGPASSFILE", path(&other))]);
    run.assert_code(3).assert_stderr_has(&[
        "warning: password file",
        "group or world access",
        "no password",
    ]);

    // PGPASSWORD is used before the file, and named when rejected.
    let (run, _) = sync_items(h, &source, &[("PGPASSWORD", "bad")]);
    run.assert_code(3)
        .assert_stderr_has(&["the password from PGPASSWORD was rejected"]);
}

#[test]
fn host_lists_go_to_the_first_server_with_the_session_asked_for() {
    let c = Cluster::start("");
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items SELECT g, 'main' FROM generate_series(1, 5) g;",
    );
    // The same database on the test's server, read-only there.
    c.admin("postgres")
        .batch_execute(&format!("CREATE DATABASE {}", pg_ident(db.name())))
        .expect("create database");
    c.admin(db.name())
        .batch_execute(&format!(
            "CREATE TABLE items (id int PRIMARY KEY, name text);
             INSERT INTO items VALUES (1, 'tls'), (2, 'tls'), (3, 'tls');
             ALTER DATABASE {} SET default_transaction_read_only = on;",
            pg_ident(db.name())
        ))
        .expect("create items");
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let hosts = format!(
        "host={PG_HOST},{PG_HOST},{PG_HOST} port=1,{},{PG_PORT} user={PG_USER} dbname={} sslmode=prefer",
        c.port,
        db.name()
    );

    // Port 1 refuses, the test's server is read-only, the main one is writable.
    let (run, rows) = sync_items(h, &format!("{hosts} target_session_attrs=read-write"), &[]);
    run.assert_success();
    assert_eq!(rows, Some(5));
    let (run, rows) = sync_items(h, &format!("{hosts} target_session_attrs=read-only"), &[]);
    run.assert_success();
    assert_eq!(rows, Some(3));
    let (run, rows) = sync_items(h, &hosts, &[("PGTARGETSESSIONATTRS", "prefer-standby")]);
    run.assert_success();
    assert_eq!(rows, Some(3), "no standby: the first host that answers");

    // None is a standby: each host's reason is listed.
    let (run, _) = sync_items(h, &format!("{hosts} target_session_attrs=standby"), &[]);
    run.assert_code(3).assert_stderr_has(&[
        "no host could be used",
        "127.0.0.1:1:",
        &format!("127.0.0.1:{}: the server is not a standby", c.port),
        "target_session_attrs (from --source)",
    ]);

    // options= reaches the server (which refuses a bad setting by name), and
    // application_name can be chosen.
    let (run, _) = sync_items(h, &format!("{hosts} options='-c work_mem=bogus'"), &[]);
    run.assert_code(3).assert_stderr_has(&["work_mem"]);
    let (run, rows) = sync_items(
        h,
        &format!("{hosts} target_session_attrs=read-only application_name=rollback-rehearsal"),
        &[],
    );
    run.assert_success();
    assert_eq!(rows, Some(3));
    assert!(
        c.log().contains("application_name=rollback-rehearsal"),
        "{}",
        c.log()
    );
}
