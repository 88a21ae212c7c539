//! Command-line flags. The doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::merge::decide::DeletePolicy;
use crate::report::render::ReportFormat;

/// Sync data from PostgreSQL back into SQLite.
///
/// Exit codes: 0 success; 1 verification found a difference or a report found
/// loss; 2 usage or configuration error (nothing was written); 3 runtime failure
/// (connection lost, disk full, ...; the previous target is left intact); 4 the
/// target SQLite file is damaged (nothing was read from it or written to it).
#[derive(Debug, Parser)]
#[command(name = "pg2sqlite", version, long_version = long_version(), about, long_about)]
pub struct Cli {
    /// Log to stderr which SQL each stage runs (on PostgreSQL and SQLite) and how
    /// long each stage took, with the time since start on every line.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: ours, and the libraries that speak to both databases.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\nSQLite {} (bundled)\nPostgreSQL protocol 3.0: tokio-postgres {}\nTLS: rustls {} (ring)",
            env!("CARGO_PKG_VERSION"),
            rusqlite::version(),
            env!("PG2SQLITE_TOKIO_POSTGRES_VERSION"),
            env!("PG2SQLITE_RUSTLS_VERSION"),
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy PostgreSQL tables into a SQLite file, or merge the rows changed since
    /// a time into an existing one (three-way; last write wins on conflicts).
    ///
    /// Without a target file, or with --full, a full sync reads every table of
    /// the chosen schemas in one consistent snapshot, over several connections in
    /// parallel, writes a new SQLite file beside the target and renames it into
    /// place only when everything succeeded and verified.
    ///
    /// With an existing target and --since TIME (or, on later runs, the watermark
    /// the last sync stored in the file), a delta merge finds the rows changed
    /// since: by the update cursor (the map's cursor, else updated_at) where the
    /// file records what the last sync wrote, else by comparing content (tables
    /// without an update cursor, and the first delta into an app's old file).
    /// Rows are merged by key, three ways against what the last sync left: a
    /// row only PostgreSQL changed is taken, one only SQLite changed is kept,
    /// one both changed goes to the later cursor (ties: PostgreSQL) and is
    /// listed as a conflict; rows PostgreSQL deleted are deleted unless SQLite
    /// changed them (see --deletes). The target is backed up first, the merge
    /// runs in one transaction and is verified before commit: merged rows
    /// against PostgreSQL's checksums, key sets, and every foreign key its
    /// writes could have broken.
    Sync(SyncArgs),

    /// Compare a SQLite file with PostgreSQL: row counts and content checksums per
    /// table, the differing keys, SQLite's structure (what PRAGMA integrity_check
    /// checks) and foreign_key_check.
    ///
    /// Exit code 1 when anything differs.
    Verify(VerifyArgs),

    /// If we roll back to this SQLite file now, exactly what do we lose? Rows
    /// per table and class (lost-new, lost-changed, resurrected, conflicts,
    /// SQLite-only; identical rows counted), schema drift, values SQLite
    /// cannot hold exactly, and what a delta sync would do instead.
    ///
    /// Writes nothing but the report. Exit code 0 when nothing would be lost,
    /// 1 when something would.
    Report(ReportArgs),

    /// Write PostgreSQL's tables, or the rows changed since a time, to a bundle
    /// directory of Parquet (default) or CSV files with a manifest.
    ///
    /// One snapshot, read over several connections in parallel. Parquet files
    /// keep PostgreSQL's types (decimals, timestamps, uuids, lists, ...), so
    /// DuckDB, pandas or Spark read them directly; `pg2sqlite import` turns a
    /// bundle into SQLite on a host without PostgreSQL. manifest.json (written
    /// last) lists every file with its row count, size and SHA-256, the
    /// PostgreSQL schema, and each table's content checksum. The bundle is
    /// written into OUT.partial and renamed to OUT when complete.
    Export(ExportArgs),

    /// Write a bundle made by `pg2sqlite export` into SQLite, without PostgreSQL.
    ///
    /// Every file is checked against the manifest (size, SHA-256, rows) before
    /// the target is touched. A full bundle becomes a new file, published when
    /// complete and verified against the checksums PostgreSQL computed at export,
    /// as `sync --full` would; a delta bundle (`export --since`) is merged into the
    /// existing target as `sync --since` would merge it: three ways, in one
    /// transaction, after a backup, with --dry-run and --deletes.
    Import(ImportArgs),

    /// Undo the newest delta merge into a SQLite file, without PostgreSQL.
    ///
    /// A merge keeps its own rollback journal beside the file
    /// (FILE.pg2sqlite-undo-TIME/, see sync --backup). While the file is exactly
    /// as that merge left it, undo checks the journal whole and has SQLite
    /// roll the merge back, then checks the file (PRAGMA quick_check). Run it
    /// again to undo the merge before, while its undo is kept. A file written
    /// since the merge is refused (exit 2), nothing changed: restore a copy then.
    Undo(UndoArgs),

    /// Write a schema map for the live databases, or check one against them.
    ///
    /// A schema map (TOML, see schema-maps/README.md) renames and filters tables
    /// and columns and pins how each column is stored in SQLite (uuid as 32 hex
    /// digits, datetimes as epoch milliseconds, ...).
    #[command(subcommand)]
    Map(MapCommand),

    /// Build a large, deterministic fixture database inside PostgreSQL, for tests
    /// and benchmarks; or apply a burst of writes after a cutover to one.
    ///
    /// The rows are generated by the server (nothing is sent row by row), the
    /// same seed gives the same data, and --scale 1 is about a million rows.
    /// Tables an earlier run made for the same profile are replaced; any other
    /// table of the same name is left alone (exit code 2).
    Fixtures(FixturesArgs),

    /// Print a shell completion script for pg2sqlite.
    ///
    /// bash: `pg2sqlite completions bash > ~/.local/share/bash-completion/completions/pg2sqlite`;
    /// zsh: `pg2sqlite completions zsh > ~/.zfunc/_pg2sqlite` (with ~/.zfunc in fpath);
    /// fish: `pg2sqlite completions fish > ~/.config/fish/completions/pg2sqlite.fish`;
    /// PowerShell: `pg2sqlite completions powershell >> $PROFILE`.
    Completions(CompletionsArgs),

    /// Print the man page (roff), or write one page per command into a directory.
    ///
    /// `pg2sqlite man | man -l -` reads it; `pg2sqlite man --out-dir
    /// /usr/local/share/man/man1` installs pg2sqlite.1 and pg2sqlite-COMMAND.1.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pg2sqlite.1 and one page per command into this directory instead of
    /// printing pg2sqlite.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Print a complete, commented schema map for the live database to edit.
    ///
    /// With --target, each column's representation is inferred from the SQLite
    /// declared type and the values already stored there, with the evidence in a
    /// comment.
    Init(MapInitArgs),

    /// Check a schema map against PostgreSQL (and the SQLite target): every
    /// problem, with file:line, table and column, before anything is written.
    ///
    /// Exit code 2 when the map has problems.
    Check(MapCheckArgs),
}

#[derive(Debug, Args)]
pub struct MapInitArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The existing SQLite file to roll back into, whose schema and stored values
    /// decide the representations.
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,

    /// PostgreSQL schemas to read.
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        default_value = "public"
    )]
    pub schema: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MapCheckArgs {
    /// The schema map to check.
    #[arg(long, value_name = "FILE")]
    pub map: PathBuf,

    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file the map will write into (if it exists, its tables are
    /// checked too).
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,

    /// PostgreSQL schemas to read.
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        default_value = "public"
    )]
    pub schema: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// PostgreSQL connection, as libpq takes it: postgres://user@host:port/db?sslmode=verify-full,
    /// 'host=… dbname=…', or service=NAME (pg_service.conf). Missing parts come from
    /// the service, then PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE,
    /// PGSSLROOTCERT, … and the password from PGPASSWORD or ~/.pgpass. Without
    /// --source or DATABASE_URL, everything comes from those when PGSERVICE,
    /// PGHOST, PGHOSTADDR or PGDATABASE is set.
    /// See the README's "Connecting" section.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub source: Option<String>,

    /// Give up, naming the table, when a table lock waits longer than this: the
    /// run takes ACCESS SHARE locks on the tables it reads (as pg_dump does), and
    /// a schema change running or queued on one would otherwise keep it waiting.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_timeout: u64,

    /// Give up, naming the table, when a COPY from PostgreSQL sends nothing for
    /// this long (a stalled server or network); every 15 s of waiting is shown in
    /// the progress output first. Connections also send TCP keepalives, so a
    /// dead peer is noticed within about two minutes.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub stall_timeout: u64,
}

/// Which tables: shared by every command that reads tables.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Only these tables (`name`, `schema.name` or `schema__name`).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub tables: Vec<String>,

    /// Leave these tables out.
    #[arg(long, value_name = "C,...", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

impl SelectArgs {
    pub fn selection(self) -> crate::plan::TableSelection {
        crate::plan::TableSelection {
            include: self.tables,
            exclude: self.exclude,
        }
    }
}

/// Which tables to read and how: shared by every command that reads PostgreSQL.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// PostgreSQL schemas to read; tables outside `public` are `schema__table` in SQLite.
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        default_value = "public"
    )]
    pub schema: Vec<String>,

    #[command(flatten)]
    pub select: SelectArgs,

    /// Parallel PostgreSQL connections [default: number of CPUs, at least 2, at most 8].
    /// One table's integer-key ranges are read one after another (SQLite appends
    /// rows in key order), other tables beside them.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Go on when the connections cannot share one snapshot (e.g. on some standbys
    /// or poolers); tables may then be read at slightly different moments.
    #[arg(long)]
    pub allow_inconsistent: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file to write.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// Replace an existing target with a full copy (it is replaced only after the
    /// new copy is complete). Tables the target already holds (the app's own
    /// schema) keep their schema: their rows are replaced, written into their
    /// existing columns in the representation the stored values show; the rest
    /// of such a file is kept.
    #[arg(long, conflicts_with_all = ["since", "dry_run"])]
    pub full: bool,

    /// Schema map (TOML) that renames, filters and pins representations; checked
    /// against both databases before anything is written.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,

    /// Merge the rows changed after TIME (RFC 3339, e.g. 2025-11-13T00:00:00Z:
    /// the cutover) into the existing target. Later runs without --since continue
    /// from the watermark the previous sync stored in the file.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// How far before the stored watermark a continuing delta starts reading, to
    /// catch rows whose cursor was set by a clock other than the server's or by a
    /// transaction this tool could not see: 300, 90s, 5m, 1h. Rows read again
    /// in this window that did not change are left alone.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub lag: String,

    /// What a delta does with SQLite rows whose key PostgreSQL no longer has:
    /// propagate deletes them unless SQLite changed them since the last sync
    /// (without a record of it: unless SQLite's cursor is later than the
    /// since-time); those are kept and reported, and rows the last sync never
    /// wrote are SQLite's own and stay; keep keeps them all (counted); report
    /// keeps and lists each one in the summary and in _pg2sqlite_conflicts.
    /// [default: the map's `deletes` for the table, else propagate]
    #[arg(long, value_enum)]
    pub deletes: Option<DeletePolicy>,

    /// Compute the whole delta merge, print what it would change, and change
    /// nothing (the transaction is rolled back; no backup is taken).
    #[arg(long)]
    pub dry_run: bool,

    /// How a delta merge can be undone. undo (default): the merge's own rollback
    /// journal, the original of every page it changed, is kept beside the file
    /// (FILE.pg2sqlite-undo-TIME/), which costs no copy; `pg2sqlite undo`
    /// plays it back while the file is as the merge left it. copy: the whole
    /// file is copied first (FILE.pg2sqlite-backup-TIME, its bytes under a read
    /// lock), which restores it whatever happens to it later. A file in WAL
    /// mode has no rollback journal and is always copied. Either is removed
    /// again when the merge changed no row.
    #[arg(long, value_enum, value_name = "KIND", default_value = "undo")]
    pub backup: crate::delta::BackupKind,

    /// Take no backup and keep no undo of a delta merge.
    #[arg(long, conflicts_with = "backup")]
    pub no_backup: bool,

    /// Keep this many of pg2sqlite's backups of the target, and as many undos
    /// (the newest); older ones are removed after a merge that kept a new one.
    #[arg(long, value_name = "N", default_value_t = crate::delta::DEFAULT_KEEP_BACKUPS)]
    pub keep_backups: usize,

    #[command(flatten)]
    pub read: ReadArgs,

    /// Publish without verifying the copy first (verification compares counts and
    /// checksums of every table with PostgreSQL, in the same snapshot).
    #[arg(long)]
    pub no_verify: bool,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The bundle directory to write (it must not exist or be empty, unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// File format of the tables.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: crate::bundle::manifest::FileFormat,

    /// Export only the rows changed after TIME (RFC 3339, e.g. the cutover
    /// 2025-11-13T00:00:00Z): a delta bundle. Tables with an update cursor
    /// (updated_at) hold their rows whose cursor is later, plus every key (to
    /// find deletions); tables without one are held whole.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Replace an existing bundle directory (only once the new one is complete).
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub read: ReadArgs,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle directory `pg2sqlite export` wrote.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,

    /// The SQLite file to write (full bundle) or merge into (delta bundle).
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// Schema map (TOML), as for sync: renames, filters, representations.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,

    /// Replace an existing target with a full bundle (only once the new file is
    /// complete and verified); the app's own tables keep their schema, as with
    /// `sync --full`.
    #[arg(long, conflicts_with = "dry_run")]
    pub full: bool,

    #[command(flatten)]
    pub select: SelectArgs,

    /// What a delta bundle's merge does with SQLite rows whose key PostgreSQL no
    /// longer had at export (see `sync --help`). [default: the map's `deletes`,
    /// else propagate]
    #[arg(long, value_enum)]
    pub deletes: Option<DeletePolicy>,

    /// Compute the whole merge of a delta bundle, print what it would change, and
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How a delta bundle's merge can be undone: its journal kept (undo) or a
    /// copy of the file (copy); see sync --backup.
    #[arg(long, value_enum, value_name = "KIND", default_value = "undo")]
    pub backup: crate::delta::BackupKind,

    /// Do not back up the target before merging a delta bundle (see sync --no-backup).
    #[arg(long, conflicts_with = "backup")]
    pub no_backup: bool,

    /// Keep this many of pg2sqlite's backups of the target (see sync --keep-backups).
    #[arg(long, value_name = "N", default_value_t = crate::delta::DEFAULT_KEEP_BACKUPS)]
    pub keep_backups: usize,

    /// Threads reading the bundle's files [default: number of CPUs, at least 2, at most 8].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file to check.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// The schema map the target was synced with.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,

    #[command(flatten)]
    pub read: ReadArgs,

    /// Check SQLite's structure with PRAGMA quick_check only: every page, b-tree
    /// and record, but not each index against its table (nor UNIQUE). Without
    /// it, each index and its table are also read once and compared by sums (the
    /// 1M-row wide benchmark file: 0.7 s, where PRAGMA integrity_check's lookup of
    /// every row in every index took 2.0 s).
    #[arg(long)]
    pub quick_check: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The SQLite file to put back as it was before its newest merge.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// Check that the newest undo applies, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file a rollback would use.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// The schema map a sync into the target would use.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,

    /// The cutover (RFC 3339): rows are classified by their cursor column
    /// against it, as a delta merge would. Without it, by key and content alone.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// How the report is printed.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,

    /// Write the report to FILE (atomically: a temporary file renamed into place).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Sample rows listed per class and table; counts are always complete.
    #[arg(long, value_name = "N", default_value_t = crate::report::model::DEFAULT_SAMPLES)]
    pub samples: usize,

    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// The PostgreSQL database to fill, which must exist:
    /// postgres://user@host:port/db or 'host=… dbname=…' (libpq variables fill
    /// in what is missing, as for --source).
    #[arg(long, value_name = "URL")]
    pub target: String,

    /// How big: 1 is about a million rows in total, 0.01 about ten thousand,
    /// 100 about a hundred million.
    #[arg(long, value_name = "N", required_unless_present = "changes")]
    pub scale: Option<f64>,

    /// app: users, sessions, jobs, artifacts, messages, audit_log (keys, foreign
    /// keys, jsonb, arrays, bytea, an enum, NULLs); pgbench: the pgbench tables
    /// (--scale 1 is pgbench's scale 10); wide: one table with a column of every
    /// type of the default mapping, edge values included.
    #[arg(long, value_name = "NAME", default_value = "app", value_parser = ["app", "pgbench", "wide"])]
    pub profile: String,

    /// Seed of the generated values.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub seed: i64,

    /// Apply a burst of writes after --since: PCT % of the rows updated, PCT/2 %
    /// inserted, PCT/10 % deleted, all stamped after the cutover. After building
    /// when --scale is given, else to the fixture already in the database.
    #[arg(long, value_name = "PCT", requires = "since")]
    pub changes: Option<f64>,

    /// The cutover for --changes, RFC 3339 (2025-11-13T00:00:00Z).
    #[arg(long, value_name = "TIME", requires = "changes")]
    pub since: Option<String>,

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}
