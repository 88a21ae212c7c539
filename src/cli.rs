//! Command-line flags. The doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Sync data from PostgreSQL back into SQLite.
///
/// Exit codes: 0 success; 1 verification found a difference or a report found
/// loss; 2 usage or configuration error (nothing was written); 3 runtime failure
/// (connection lost, disk full, ...; the previous target is left intact).
#[derive(Debug, Parser)]
#[command(name = "pg2sqlite", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy PostgreSQL tables into a SQLite file.
    ///
    /// A full sync reads every table of the chosen schemas in one consistent
    /// snapshot, over several connections in parallel, writes a new SQLite file
    /// beside the target and renames it into place only when everything
    /// succeeded. An existing target is replaced only with --full.
    Sync(SyncArgs),

    /// Compare a SQLite file with PostgreSQL: row counts and content checksums per
    /// table, the differing keys, PRAGMA integrity_check and foreign_key_check.
    ///
    /// Exit code 1 when anything differs.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// PostgreSQL connection: postgres://user:pass@host:port/db?sslmode=require or
    /// 'host=… dbname=…'. Missing parts come from PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE, PGSSLMODE, PGCONNECT_TIMEOUT.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub source: String,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file to write.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// Replace an existing target with a full copy (it is replaced only after the
    /// new copy is complete).
    #[arg(long)]
    pub full: bool,

    /// PostgreSQL schemas to copy; tables outside `public` become `schema__table`.
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        default_value = "public"
    )]
    pub schema: Vec<String>,

    /// Copy only these tables (`name`, `schema.name` or `schema__name`).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub tables: Vec<String>,

    /// Leave these tables out.
    #[arg(long, value_name = "C,...", value_delimiter = ',')]
    pub exclude: Vec<String>,

    /// Parallel PostgreSQL connections [default: number of CPUs, at least 2, at most 8].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Go on when the readers cannot share one snapshot (e.g. on some standbys or
    /// poolers); tables may then be read at slightly different moments.
    #[arg(long)]
    pub allow_inconsistent: bool,

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
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,

    /// The SQLite file to check.
    #[arg(long, value_name = "FILE")]
    pub target: PathBuf,

    /// PostgreSQL schemas to compare; tables outside `public` are `schema__table`.
    #[arg(
        long,
        value_name = "S,...",
        value_delimiter = ',',
        default_value = "public"
    )]
    pub schema: Vec<String>,

    /// Compare only these tables (`name`, `schema.name` or `schema__name`).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub tables: Vec<String>,

    /// Leave these tables out.
    #[arg(long, value_name = "C,...", value_delimiter = ',')]
    pub exclude: Vec<String>,

    /// Parallel PostgreSQL connections [default: number of CPUs, at least 2, at most 8].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Go on when the connections cannot share one snapshot.
    #[arg(long)]
    pub allow_inconsistent: bool,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
