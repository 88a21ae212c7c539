//! A PostgreSQL server of the test's own: `initdb` and `pg_ctl` in a temporary
//! directory, on a free port, TLS-only on TCP with a CA, a server certificate
//! and a client certificate made here with `openssl`, and stopped when dropped.
//!
//! Roles: `certuser` (client certificate, `hostssl … cert`), `pwuser`
//! (password, SCRAM), `root` (trusted over TLS); all superusers, so that the
//! tool can export snapshots. Database `app` holds `items` (3 rows).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PASSWORD: &str = "s3cret pass";

pub struct Cluster {
    /// Owned by the server's user: data directory, server key, log.
    server_dir: tempfile::TempDir,
    /// Owned by the test: the CAs and the client's certificate and key.
    pub client_dir: tempfile::TempDir,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `program` as the server's user: `postgres` when the tests run as root
/// (initdb refuses root), else as ourselves.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

#[track_caller]
fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    run_ok(Command::new("openssl").current_dir(dir).args(args));
}

/// A key and a certificate signed by `ca` (or self-signed CA when `ca` is None).
fn certificate(dir: &Path, name: &str, subject: &str, ca: Option<&str>, extensions: &str) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    match ca {
        None => openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-keyout",
                &key,
                "-out",
                &crt,
                "-days",
                "2",
                "-subj",
                subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ),
        Some(ca) => {
            let csr = format!("{name}.csr");
            let ext = format!("{name}.ext");
            std::fs::write(dir.join(&ext), extensions).expect("write extensions");
            openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-nodes",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    subject,
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
            );
        }
    }
    set_mode(&dir.join(&key), 0o600);
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// Starts a TLS-only server. `extra_conf` is appended to postgresql.conf.
    pub fn start(extra_conf: &str) -> Cluster {
        let bin = bin_dir();
        let server_dir = tempfile::tempdir().expect("tempdir");
        let client_dir = tempfile::tempdir().expect("tempdir");
        let c = client_dir.path();
        certificate(c, "ca", "/CN=pg2sqlite test CA", None, "");
        certificate(c, "wrong_ca", "/CN=some other CA", None, "");
        certificate(
            c,
            "server",
            "/CN=localhost",
            Some("ca"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        );
        certificate(
            c,
            "client",
            "/CN=certuser",
            Some("ca"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=clientAuth\n",
        );

        let s = server_dir.path();
        let data = s.join("data");
        for f in ["server.crt", "server.key", "ca.crt"] {
            std::fs::copy(c.join(f), s.join(f)).expect("copy certificate");
        }
        set_mode(&s.join("server.key"), 0o600);
        if is_root() {
            run_ok(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(s),
            );
        }
        run_ok(
            as_server_user(&bin.join("initdb"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data),
        );
        let port = free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
             ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\n\
             ssl_ca_file = '{dir}/ca.crt'\nlog_connections = on\nfsync = off\n\
             shared_buffers = 16MB\nmax_connections = 30\n{extra_conf}\n",
            dir = s.display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostnossl all all 0.0.0.0/0 reject\n\
             hostssl all certuser 127.0.0.1/32 cert\n\
             hostssl all pwuser 127.0.0.1/32 scram-sha-256\n\
             hostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("write pg_hba.conf");
        run_ok(
            as_server_user(&bin.join("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(s.join("server.log"))
                .arg("start"),
        );
        let cluster = Cluster {
            server_dir,
            client_dir,
            port,
        };
        let mut admin = cluster.admin("postgres");
        admin
            .batch_execute(&format!(
                "CREATE ROLE certuser LOGIN SUPERUSER;
                 CREATE ROLE pwuser LOGIN SUPERUSER PASSWORD '{PASSWORD}';
                 CREATE ROLE root LOGIN SUPERUSER;"
            ))
            .expect("create roles");
        admin
            .batch_execute("CREATE DATABASE app")
            .expect("create database");
        cluster
            .admin("app")
            .batch_execute(
                "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
                 INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');",
            )
            .expect("create items");
        cluster
    }

    /// A superuser connection over the Unix socket (trusted).
    pub fn admin(&self, dbname: &str) -> postgres::Client {
        let conn = format!(
            "host={} port={} user=postgres dbname={dbname}",
            self.server_dir.path().display(),
            self.port
        );
        postgres::Client::connect(&conn, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster ({conn}): {e}"))
    }

    /// A file of the client's: `ca.crt`, `wrong_ca.crt`, `client.crt`, `client.key`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.client_dir.path().join(name)
    }

    /// `pg_ctl restart -m fast`: every session is ended, as in a failover or an
    /// administrator's restart.
    pub fn restart(&self) {
        run_ok(
            as_server_user(&bin_dir().join("pg_ctl"))
                .args(["-w", "-t", "60", "-m", "fast", "-D"])
                .arg(self.server_dir.path().join("data"))
                .arg("-l")
                .arg(self.server_dir.path().join("server.log"))
                .arg("restart"),
        );
    }

    /// What the server logged so far (connections are logged).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server_dir.path().join("server.log")).unwrap_or_default()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open postgresql.conf");
    f.write_all(text.as_bytes())
        .expect("append postgresql.conf");
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_server_user(&bin_dir().join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.server_dir.path().join("data"))
            .arg("stop")
            .output();
    }
}
