//! The errors of every stage, and the exit code each one maps to.
//!
//! Library code returns these typed errors; `main` prints them once and turns
//! them into the documented exit codes.

use std::path::PathBuf;

/// Documented process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything succeeded.
    Success = 0,
    /// Verification found a difference, or a report found loss.
    Difference = 1,
    /// Bad flags, a bad map, an unknown table: nothing was done.
    Usage = 2,
    /// A failure while running: connection lost, disk full, a value that failed to convert.
    Runtime = 3,
    /// The target SQLite file is damaged: nothing was read from it or written to it
    /// (a merge that found damage in what it wrote was rolled back).
    TargetDamaged = 4,
}

/// Every failure pg2sqlite reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("cannot connect to PostgreSQL at {target}: {reason}\n  hint: {hint}")]
    Connect {
        target: String,
        reason: String,
        hint: String,
    },

    #[error("PostgreSQL error while {doing}: {}", pg_message(source))]
    Postgres {
        doing: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("{0}")]
    Snapshot(String),

    #[error("planning failed:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Plan(Vec<String>),

    #[error("target {path}: {reason}")]
    Target { path: PathBuf, reason: String },

    #[error("{path} is locked by another program (while {doing}){}", if holders.is_empty() { String::new() } else { format!("; it is open in {}", holders.join(", ")) })]
    TargetLocked {
        path: PathBuf,
        doing: String,
        /// The other processes that have the file open.
        holders: Vec<String>,
    },

    #[error("PostgreSQL sent nothing for {seconds} s while copying {relation}{chunk}")]
    Stalled {
        relation: String,
        /// The chunk's predicate (` WHERE …`), empty for a whole table.
        chunk: String,
        seconds: u64,
    },

    #[error("the target {path} is damaged ({check} found {found} problem(s)):\n  {}", problems.join("\n  "))]
    TargetDamaged {
        path: PathBuf,
        /// Which check found it.
        check: String,
        /// How many problems it found; `problems` lists the first of them.
        found: usize,
        problems: Vec<String>,
        /// This tool's newest backup of the target that passes quick_check, if any.
        backup: Option<PathBuf>,
    },

    #[error("SQLite error while {doing} in {path}: {source}")]
    Sqlite {
        doing: String,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("table {table}, column {column}: {reason}")]
    Convert {
        table: String,
        column: String,
        reason: String,
    },

    #[error("table {table}: {reason}")]
    Integrity { table: String, reason: String },

    #[error("interrupted: {0}")]
    Aborted(String),

    #[error("the merge into {path} was committed, but its undo could not be kept ({reason}): the file is merged and verified, and this merge cannot be undone")]
    UndoNotKept { path: PathBuf, reason: String },

    #[error("the undo of {path} stopped with its journal {journal} in place ({reason}): the next program to open the file rolls the merge back; run `pg2sqlite undo` again to finish")]
    UndoInterrupted {
        path: PathBuf,
        journal: PathBuf,
        reason: String,
    },

    /// PostgreSQL's COPY data was not in the binary COPY format (cut short, a
    /// wrong column count): nothing read from it is used.
    #[error("reading {relation}: PostgreSQL's COPY data is not as expected: {reason}")]
    CopyData { relation: String, reason: String },

    /// A bundle file could not be written (a value its type cannot hold, a full disk).
    #[error("bundle file {path}: {reason}")]
    BundleWrite { path: PathBuf, reason: String },

    /// A bundle that is not what its manifest says: nothing was written.
    #[error("bundle {path}: {reason}")]
    BundleDamaged { path: PathBuf, reason: String },

    #[error("the copy does not match PostgreSQL; the target was not replaced\n{0}")]
    VerificationFailed(String),

    #[error("the merged rows do not read back as PostgreSQL has them; the merge was rolled back and the target is unchanged\n{0}")]
    MergeVerificationFailed(String),

    #[error("the merge would leave rows whose foreign key points at no row, which PostgreSQL does not have; the merge was rolled back and the target is unchanged\n{0}")]
    ForeignKeysBroken(String),
}

impl Error {
    /// The exit code this error is reported with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_)
            | Error::Plan(_)
            | Error::Target { .. }
            | Error::BundleDamaged { .. } => ExitCode::Usage,
            Error::TargetDamaged { .. } => ExitCode::TargetDamaged,
            Error::VerificationFailed(_)
            | Error::MergeVerificationFailed(_)
            | Error::ForeignKeysBroken(_) => ExitCode::Difference,
            Error::Connect { .. }
            | Error::Stalled { .. }
            | Error::TargetLocked { .. }
            | Error::Postgres { .. }
            | Error::Snapshot(_)
            | Error::Sqlite { .. }
            | Error::Io { .. }
            | Error::Convert { .. }
            | Error::Integrity { .. }
            | Error::BundleWrite { .. }
            | Error::CopyData { .. }
            | Error::Aborted(_)
            | Error::UndoNotKept { .. }
            | Error::UndoInterrupted { .. } => ExitCode::Runtime,
        }
    }

    /// A connection that failed after the run had begun (a reader's, or one of
    /// those that share the snapshot): the server answered moments ago, so it
    /// went away or stopped taking connections, and nothing was published.
    pub fn connecting_mid_run(self) -> Error {
        match self {
            Error::Connect {
                target,
                reason,
                hint,
            } => Error::Connect {
                target,
                reason,
                hint: format!(
                    "{hint}; the server answered when this run began, so it went away or \
                     stopped taking connections: run again — the previous target was not changed"
                ),
            },
            other => other,
        }
    }

    /// Whether the server refused a connection for want of free connections
    /// (SQLSTATE 53300: the server's, the role's or the database's limit).
    pub fn is_connection_limit(&self) -> bool {
        matches!(self, Error::Connect { reason, .. }
            if reason.contains("too many connections") || reason.contains("too many clients"))
    }

    /// What the user can do about it, when there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::TargetDamaged { path, backup, .. } => Some(match backup {
                Some(b) => format!(
                    "nothing was written to it. The newest backup pg2sqlite took of it that \
                     passes quick_check is {}: \
                     check it with `pg2sqlite verify --source URL --target` on that file, then \
                     move the damaged file aside and copy the backup into its place (or write a fresh \
                     copy with `pg2sqlite sync --full`); keep the damaged file for recovery \
                     (`sqlite3 {} .recover`)",
                    b.display(),
                    path.display()
                ),
                None => format!(
                    "nothing was written to it, and pg2sqlite has no copy of it (the undo a \
                     merge keeps restores only the file that merge left; `--backup copy` keeps \
                     whole copies). Restore the app's own backup, or move the damaged file aside and write a fresh copy \
                     with `pg2sqlite sync --full`; keep the damaged file for recovery \
                     (`sqlite3 {} .recover`)",
                    path.display()
                ),
            }),
            Error::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } if f.code == rusqlite::ErrorCode::DiskFull => Some(
                "free space on the target's file system (the staging file needs about the size \
                 of the finished database) and run again; the previous target was not changed"
                    .into(),
            ),
            Error::Postgres { source, .. } => {
                let code = source.code().map(|c| c.code().to_owned());
                match code.as_deref() {
                    Some("57P01" | "57P02" | "57P03") => Some(
                        "the server ended the connection (terminated by an administrator, or \
                         shutting down); run again — the previous target was not changed"
                            .into(),
                    ),
                    Some("55P03") => Some(
                        "another session holds or waits for a conflicting lock on that table (a \
                         schema change, VACUUM FULL, REINDEX or LOCK TABLE): let it finish and run \
                         again, or wait longer with --lock-timeout SECONDS; the previous target \
                         was not changed"
                            .into(),
                    ),
                    Some("42501") => Some(
                        "the role lacks a privilege it needs: it must be able to SELECT every \
                         copied table"
                            .into(),
                    ),
                    _ if source.is_closed() => Some(
                        "the connection to PostgreSQL was lost; run again — the previous \
                         target was not changed"
                            .into(),
                    ),
                    _ => None,
                }
            }
            Error::TargetLocked { .. } => Some(
                "an application holds a write lock or a long transaction on it; pg2sqlite \
                 waited 10 s. Stop the application (a rollback means it must not write now \
                 anyway) or let its transaction end, then run again; nothing was changed"
                    .into(),
            ),
            Error::Stalled { .. } => Some(
                "the server or the network stopped sending (a stuck or paused backend, a network \
                 partition, a server short of disk or memory): check the server and run again; \
                 if this table's query needs longer to produce its first rows, raise \
                 --stall-timeout SECONDS. The previous target was not changed"
                    .into(),
            ),
            Error::Io { .. }
            | Error::Convert { .. }
            | Error::Integrity { .. }
            | Error::CopyData { .. }
            | Error::Aborted(_) => Some("the previous target was not changed".into()),
            _ => None,
        }
    }

    /// Wraps a PostgreSQL error with what we were doing when it happened. The
    /// message is only made into a String when there is an error: these wrap
    /// calls made once per row.
    pub fn pg(doing: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
        move |source| Error::Postgres {
            doing: doing.into(),
            source,
        }
    }

    /// Wraps a SQLite error with what we were doing and on which file. A file
    /// another program holds locked (after the busy timeout) becomes
    /// [`Error::TargetLocked`], naming the programs that have it open.
    pub fn sqlite(
        doing: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| {
            let path = path.into();
            match &source {
                rusqlite::Error::SqliteFailure(f, _)
                    if matches!(
                        f.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
                {
                    Error::TargetLocked {
                        doing: doing.into(),
                        holders: crate::sink::holders::processes_with_open(&path),
                        path,
                    }
                }
                _ => Error::Sqlite {
                    doing: doing.into(),
                    path,
                    source,
                },
            }
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A PostgreSQL error with the server's own words: `Display` of a server error
/// says only "db error".
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                s.push_str(&format!("; hint: {hint}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s = format!("{s}: {inner}");
                src = inner.source();
            }
            s
        }
    }
}
