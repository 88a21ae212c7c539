//! Test harness: a throwaway PostgreSQL database per test, the `pg2sqlite` binary
//! with a clean environment, and readers for the SQLite files it writes.
//!
//! Every test gets its own database (`p2s_t_<pid>_<counter>_<nanos>`), so tests
//! run in parallel and never see each other's tables. The database is dropped
//! when the [`TestDb`] goes out of scope; databases of test processes that were
//! killed before they could clean up are dropped by the next run.
//!
//! PostgreSQL is expected at 127.0.0.1:5432 with trust authentication for the
//! role `root`.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::types::Value;

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_USER: &str = "root";

/// The binary under test, built by cargo for integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_pg2sqlite");

/// Prefix of every database the harness creates.
const DB_PREFIX: &str = "p2s_t_";

/// How long one run of the binary may take before the test fails instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Environment variables that would change what the binary connects to.
const PG_ENV: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSSLMODE",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLNEGOTIATION",
    "PGTARGETSESSIONATTRS",
    "PGCHANNELBINDING",
    "PGCLIENTENCODING",
    "NO_COLOR",
];

/// A PostgreSQL error with the server's message, which `Display` leaves out.
pub fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {}{}",
            db.code().code(),
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        None => e.to_string(),
    }
}

/// A connection to `dbname` as the test role.
pub fn connect(dbname: &str) -> postgres::Client {
    let conn = format!("host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname}");
    postgres::Client::connect(&conn, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to PostgreSQL ({conn}): {}; the integration tests need a server \
             at {PG_HOST}:{PG_PORT} that trusts the role {PG_USER}",
            pg_error(&e)
        )
    })
}

/// A PostgreSQL identifier, quoted.
pub fn pg_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A database created for one test and dropped when it goes out of scope.
pub struct TestDb {
    name: String,
}

impl TestDb {
    /// Creates an empty, uniquely named database.
    pub fn new() -> TestDb {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static SWEEP: Once = Once::new();
        SWEEP.call_once(drop_leftover_databases);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("{DB_PREFIX}{}_{n}_{nanos}", std::process::id());
        let sql = format!("CREATE DATABASE {}", pg_ident(&name));
        // CREATE DATABASE copies template1 and fails if another session is using
        // it at that moment (e.g. a concurrent CREATE EXTENSION elsewhere); retry.
        let mut admin = connect("postgres");
        let mut attempt = 0;
        loop {
            match admin.batch_execute(&sql) {
                Ok(()) => break,
                Err(e) if attempt < 20 && e.code().is_some_and(|c| c.code() == "55006") => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("{sql}: {}", pg_error(&e)),
            }
        }
        TestDb { name }
    }

    /// A database holding `fixtures/demo.sql`.
    pub fn with_demo() -> TestDb {
        let db = TestDb::new();
        db.load("demo.sql");
        db
    }

    /// A database holding `fixtures/demo.sql` and `fixtures/test_extra.sql`.
    pub fn with_demo_and_extra() -> TestDb {
        let db = TestDb::with_demo();
        db.load("test_extra.sql");
        db
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL the binary is given: `postgres://root@127.0.0.1:5432/<name>?sslmode=disable`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{}?sslmode=disable",
            self.name
        )
    }

    /// A new connection to this database.
    pub fn client(&self) -> postgres::Client {
        connect(&self.name)
    }

    /// Runs SQL (several statements allowed) in this database.
    pub fn execute(&self, sql: &str) {
        self.client()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("in {}: {}\n{sql}", self.name, pg_error(&e)));
    }

    /// Runs `fixtures/<file>` in this database.
    pub fn load(&self, file: &str) {
        let path = fixture_path(file);
        let sql = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        self.client()
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("loading {}: {}", path.display(), pg_error(&e)));
    }

    /// One row count, for checks against the SQLite copy.
    pub fn count(&self, from: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {from}");
        self.client()
            .query_one(sql.as_str(), &[])
            .unwrap_or_else(|e| panic!("{sql}: {}", pg_error(&e)))
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Never panic here (the test may already be unwinding); a database left
        // behind is dropped by the sweep of the next run.
        let conn = format!("host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres");
        if let Ok(mut admin) = postgres::Client::connect(&conn, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_ident(&self.name)
            ));
        }
    }
}

/// Drops test databases whose test process is gone (killed, or aborted before
/// its `Drop` ran). Databases of live processes, including parallel runs of this
/// suite, are left alone.
fn drop_leftover_databases() {
    let mut admin = connect("postgres");
    let rows = admin
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            // `_` is a LIKE wildcard: escape it so only our own names match.
            &[&format!("{}%", DB_PREFIX.replace('_', "\\_"))],
        )
        .unwrap_or_else(|e| panic!("listing test databases: {}", pg_error(&e)));
    for row in rows {
        let name: String = row.get(0);
        let pid = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if pid.is_some() && !alive {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_ident(&name)
            ));
        }
    }
}

/// `fixtures/<file>` of this repository.
pub fn fixture_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(file)
}

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// The binary, with no PostgreSQL variables inherited from the environment and
/// a timeout so that a hang fails the test instead of stalling the suite.
pub fn pg2sqlite() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    for v in PG_ENV {
        cmd.env_remove(v);
    }
    cmd.timeout(RUN_TIMEOUT);
    cmd
}

/// The same as [`pg2sqlite`], as a `std` command for tests that spawn and kill it.
pub fn pg2sqlite_std() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    for v in PG_ENV {
        cmd.env_remove(v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: &std::process::Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing everything the run printed when it differs.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit code {expected}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        self.assert_code(0)
    }

    /// Asserts that stderr contains every one of `parts`.
    #[track_caller]
    pub fn assert_stderr_has(&self, parts: &[&str]) -> &Run {
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr should contain {p:?}\n--- stderr ---\n{}",
                self.stderr
            );
        }
        self
    }

    /// Stdout and stderr together, for checks that nothing leaks into either.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with `args` and returns what it printed.
pub fn run(args: &[&str]) -> Run {
    let out = pg2sqlite()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    Run::from_output(&out)
}

/// `pg2sqlite sync --source URL --target FILE <extra>`.
pub fn sync(source: &str, target: &Path, extra: &[&str]) -> Run {
    command_on("sync", source, target, extra)
}

/// `pg2sqlite verify --source URL --target FILE <extra>`.
pub fn verify(source: &str, target: &Path, extra: &[&str]) -> Run {
    command_on("verify", source, target, extra)
}

fn command_on(command: &str, source: &str, target: &Path, extra: &[&str]) -> Run {
    let target = target.to_str().expect("test paths are UTF-8");
    let mut args = vec![command, "--source", source, "--target", target];
    args.extend_from_slice(extra);
    run(&args)
}

/// A running binary whose output is drained by background threads, so it can
/// never block on a full pipe while the test polls.
pub struct Spawned {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

impl Spawned {
    /// Starts `pg2sqlite sync --source URL --target FILE <extra>`.
    pub fn sync(source: &str, target: &Path, extra: &[&str]) -> Spawned {
        let target = target.to_str().expect("test paths are UTF-8");
        let mut args = vec!["sync", "--source", source, "--target", target];
        args.extend_from_slice(extra);
        Spawned::start(&args)
    }

    /// Starts `pg2sqlite <args>`.
    pub fn start(args: &[&str]) -> Spawned {
        let mut child = pg2sqlite_std()
            .args(args)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Spawned {
            child,
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for pg2sqlite: {e}"))
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("killing pg2sqlite: {e}"));
    }

    /// Waits for the end (killing the process after `timeout`) and collects its output.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, Run) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.try_wait() {
                break s;
            }
            if Instant::now() > deadline {
                self.kill();
                let _ = self.child.wait();
                panic!("pg2sqlite did not end within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let join = |h: Option<JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        let run = Run {
            code: status.code(),
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        };
        (status, run)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // A test that panics mid-way must not leave the process running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Terminates the backends of `db` that are running a COPY (the readers of a
/// sync or an export); returns how many.
pub fn terminate_copies(side: &mut postgres::Client, db: &str) -> i64 {
    side.query_one(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE datname = $1 AND state = 'active' AND query LIKE 'COPY%'
            AND pid <> pg_backend_pid()",
        &[&db],
    )
    .expect("pg_terminate_backend")
    .get(0)
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout`
/// with `what` in the message.
pub fn poll_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Files and SQLite
// ---------------------------------------------------------------------------

/// Where the binary stages a full copy of `target`: `.<name>.pg2sqlite-staging`
/// in the same directory (written out here, not taken from the code under test).
pub fn staging_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .expect("test targets have a UTF-8 file name");
    target.with_file_name(format!(".{name}.pg2sqlite-staging"))
}

/// Names of the entries of `dir`, hidden ones included.
pub fn dir_entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The bytes of a file, which must exist.
pub fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Writes a small, valid SQLite database (a table `previous_copy` with one row)
/// at `path` and returns its bytes, to stand in for an earlier sync's output.
pub fn write_previous_sqlite(path: &Path) -> Vec<u8> {
    {
        let conn = rusqlite::Connection::open(path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        conn.execute_batch(
            "CREATE TABLE previous_copy (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
             INSERT INTO previous_copy VALUES (1, 'written before the test');",
        )
        .expect("writing the previous SQLite file");
    }
    read_bytes(path)
}

/// Opens a SQLite file read-only.
pub fn open_sqlite(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("cannot open {} with SQLite: {e}", path.display()))
}

/// A SQLite identifier, quoted.
pub fn sq_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The data tables of a SQLite database: neither SQLite's own nor the sync
/// state pg2sqlite keeps (`_pg2sqlite_sync`, `_pg2sqlite_conflicts`).
pub fn sqlite_tables(conn: &rusqlite::Connection) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
               AND name NOT LIKE '\\_pg2sqlite\\_%' ESCAPE '\\'",
        )
        .expect("listing SQLite tables");
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("listing SQLite tables")
        .collect::<Result<BTreeSet<_>, _>>()
        .expect("listing SQLite tables");
    names
}

/// Every row of a SQLite query, as SQLite values.
pub fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"));
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"))
        .collect::<Result<Vec<Vec<Value>>, _>>()
        .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"));
    rows
}

/// One integer from SQLite.
pub fn sqlite_i64(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"))
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check` both pass.
#[track_caller]
pub fn assert_sqlite_healthy(conn: &rusqlite::Connection) {
    let integrity = sqlite_rows(conn, "PRAGMA integrity_check");
    assert_eq!(
        integrity,
        vec![vec![Value::Text("ok".into())]],
        "PRAGMA integrity_check"
    );
    let fk = sqlite_rows(conn, "PRAGMA foreign_key_check");
    assert!(fk.is_empty(), "PRAGMA foreign_key_check found {fk:?}");
}

/// The storage class name of a value, as SQLite's `typeof()` spells it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Integer(_) => "integer",
        Value::Real(_) => "real",
        Value::Text(_) => "text",
        Value::Blob(_) => "blob",
    }
}

/// A small tmpfs of the test's own, unmounted when dropped: disk-full and
/// read-only file systems for real. Mounting needs root; `None` otherwise (the
/// caller says it skipped).
pub struct SmallFs {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SmallFs {
    pub fn mount(size: &str) -> Option<SmallFs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).expect("mkdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs");
        Some(SmallFs { _dir: dir, path })
    }

    /// Remounts read-only (or read-write again).
    pub fn set_read_only(&self, read_only: bool) {
        let opts = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = std::process::Command::new("mount")
            .args(["-o", opts])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -o {opts}");
    }

    /// Fills the file system until `leave` bytes are free.
    pub fn fill_leaving(&self, leave: u64) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path.join("filler")).expect("filler");
        let block = vec![0x5Au8; 64 * 1024];
        loop {
            let free = fs_free(&self.path);
            if free <= leave {
                break;
            }
            let n = usize::try_from((free - leave).min(block.len() as u64)).unwrap_or(0);
            if n == 0 || f.write_all(&block[..n]).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
    }

    /// Frees what `fill_leaving` took.
    pub fn unfill(&self) {
        let _ = std::fs::remove_file(self.path.join("filler"));
    }
}

fn fs_free(path: &Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .expect("run df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// A run's `--json` summary (stdout).
pub fn summary_json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// One table's line of a sync's `--json` summary.
pub fn summary_table(summary: &serde_json::Value, table: &str) -> serde_json::Value {
    summary["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == table))
        .cloned()
        .unwrap_or_else(|| panic!("no table {table} in {summary}"))
}
