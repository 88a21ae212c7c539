//! The `pg2sqlite` binary: parse, run, and turn errors into exit codes in one place.

use std::io::Write;
use std::process::ExitCode as ProcessExit;

use clap::Parser;

use pg2sqlite::cli::{
    Cli, Command, ExportArgs, FixturesArgs, ImportArgs, MapCommand, ReportArgs, SourceArgs,
    SyncArgs, VerifyArgs,
};
use pg2sqlite::delta::{
    delta_sync, has_sync_state, parse_lag, parse_since, Apply, BackupKind, BackupPolicy,
    DeltaOptions, Since,
};
use pg2sqlite::error::{Error, ExitCode, Result};
use pg2sqlite::map::SchemaMap;
use pg2sqlite::pipeline::{full_sync, verify_only, FullSyncOptions, Verification, VerifyOptions};
use pg2sqlite::progress::ProgressMode;
use pg2sqlite::sink::staging::ExistingTarget;
use pg2sqlite::source::connect::SourceConfig;
use pg2sqlite::source::snapshot::Consistency;

/// glibc gives each thread that allocates its own heap arena, up to eight per
/// core; freed memory stays in the arena it came from. With readers,
/// converters, file writers and the SQLite writer all allocating, that held
/// 25-50 MB more at peak (export of a 3.5M-row table of text: 164 → 133 MiB;
/// sync of the 1M-row wide fixture: 142 → 116 MiB) and was no faster. Two
/// arenas, unless the user chose otherwise with MALLOC_ARENA_MAX.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called once,
        // before any thread is started.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn main() -> ProcessExit {
    limit_malloc_arenas();
    // Before any connection: see the function's doc.
    pg2sqlite::sink::insert::disable_memory_statistics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ProcessExit::from(if e.use_stderr() {
                ExitCode::Usage as u8
            } else {
                ExitCode::Success as u8
            });
        }
    };
    match run(cli) {
        Ok(code) => ProcessExit::from(code as u8),
        Err(e) => {
            if let Error::Io { source, .. } = &e {
                if source.kind() == std::io::ErrorKind::BrokenPipe {
                    return ProcessExit::SUCCESS;
                }
            }
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("  hint: {hint}");
            }
            ProcessExit::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    pg2sqlite::logging::init(cli.verbose);
    match cli.command {
        Command::Completions(args) => {
            pg2sqlite::command::completions::run(args.shell, &mut std::io::stdout().lock())?;
            Ok(ExitCode::Success)
        }
        Command::Man(args) => {
            let written = pg2sqlite::command::man::run(
                args.out_dir.as_deref(),
                &mut std::io::stdout().lock(),
            )?;
            for path in written {
                println!("{}", path.display());
            }
            Ok(ExitCode::Success)
        }
        Command::Sync(args) => sync(args),
        Command::Verify(args) => verify(args),
        Command::Report(args) => report(args),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
        Command::Undo(args) => {
            let summary = pg2sqlite::command::undo::run(&args.target, args.dry_run)?;
            print_summary(args.json, || summary.to_json(), || summary.to_text())?;
            Ok(ExitCode::Success)
        }
        Command::Fixtures(args) => fixtures(args),
        Command::Map(MapCommand::Init(args)) => {
            let opts = pg2sqlite::map::init::InitOptions {
                source: source(&args.source)?,
                target: args.target,
                schemas: args.schema,
            };
            print(&pg2sqlite::map::init::run(&opts)?)?;
            Ok(ExitCode::Success)
        }
        Command::Map(MapCommand::Check(args)) => {
            let opts = pg2sqlite::map::check::CheckOptions {
                map: SchemaMap::load(&args.map)?,
                source: source(&args.source)?,
                target: args.target,
                schemas: args.schema,
            };
            print(&pg2sqlite::map::check::run(&opts)?)?;
            Ok(ExitCode::Success)
        }
    }
}

/// Resolves `--source` (or, without it, libpq's environment) and prints the
/// warnings libpq would, such as a password file others can read.
fn source(args: &SourceArgs) -> Result<SourceConfig> {
    // psql would connect to the local default database; a rollback tool asks
    // for the server to be named, by a flag or by the environment.
    let named_by_environment = ["PGSERVICE", "PGHOST", "PGHOSTADDR", "PGDATABASE"]
        .iter()
        .any(|v| pg2sqlite::source::conninfo::env(v).is_some());
    if args.source.is_none() && !named_by_environment {
        return Err(Error::Usage(
            "no PostgreSQL to read from: give --source URL (or set DATABASE_URL, PGSERVICE, \
             or PGHOST and PGDATABASE)"
                .into(),
        ));
    }
    if args.stall_timeout == 0 {
        return Err(Error::Usage(
            "--stall-timeout must be at least 1 second".into(),
        ));
    }
    let config = SourceConfig::resolve(args.source.as_deref().unwrap_or(""), "--source")?
        .with_timeouts(
            std::time::Duration::from_secs(args.lock_timeout),
            std::time::Duration::from_secs(args.stall_timeout),
        );
    for warning in config.warnings() {
        eprintln!("pg2sqlite: warning: {warning}");
    }
    Ok(config)
}

/// Parses `--map` before anything connects: a broken map is a usage error.
fn load_map(path: Option<&std::path::Path>) -> Result<Option<SchemaMap>> {
    path.map(SchemaMap::load).transpose()
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
}

fn jobs(flag: Option<usize>) -> Result<usize> {
    match flag {
        Some(0) => Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => Ok(n),
        None => Ok(default_jobs()),
    }
}

fn consistency(allow_inconsistent: bool) -> Consistency {
    if allow_inconsistent {
        Consistency::AllowInconsistent
    } else {
        Consistency::Snapshot
    }
}

/// `--dry-run` as what a merge does at its end.
fn apply(dry_run: bool) -> Apply {
    if dry_run {
        Apply::DryRun
    } else {
        Apply::Commit
    }
}

/// `--no-backup`, `--backup` and `--keep-backups` as the backup policy of a merge.
fn backup(no_backup: bool, kind: BackupKind, keep: usize) -> Result<BackupPolicy> {
    if no_backup {
        return Ok(BackupPolicy::Skip);
    }
    match std::num::NonZeroUsize::new(keep) {
        Some(keep) => Ok(BackupPolicy::Take { kind, keep }),
        None => Err(Error::Usage(
            "--keep-backups must be at least 1 (to take no backup, use --no-backup)".into(),
        )),
    }
}

/// Prints a summary on stdout: JSON (one line) with `--json`, else the text.
fn print_summary(
    json: bool,
    as_json: impl FnOnce() -> String,
    as_text: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        print(&(as_json() + "\n"))
    } else {
        print(&as_text())
    }
}

fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .map_err(Error::io("stdout"))
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let opts = VerifyOptions {
        source: source(&args.source)?,
        target: args.target,
        schemas: args.read.schema,
        selection: args.read.select.selection(),
        jobs: jobs(args.read.jobs)?,
        consistency: consistency(args.read.allow_inconsistent),
        map: load_map(args.map.as_deref())?,
        integrity: if args.quick_check {
            pg2sqlite::verify::IntegrityCheck::Quick
        } else {
            pg2sqlite::verify::IntegrityCheck::Full
        },
        // Its steps have no row counts to draw a bar of: lines, also on a
        // terminal.
        progress: match ProgressMode::detect(args.quiet || args.json) {
            ProgressMode::Bars => ProgressMode::Lines,
            mode => mode,
        },
    };
    let report = verify_only(&opts)?;
    print_summary(args.json, || report.to_json(), || report.to_text())?;
    Ok(if report.matches() {
        ExitCode::Success
    } else {
        ExitCode::Difference
    })
}

fn export(args: ExportArgs) -> Result<ExitCode> {
    use pg2sqlite::command::export::{run, ExportOptions};
    let opts = ExportOptions {
        source: source(&args.source)?,
        out: args.out,
        format: args.format,
        since: args.since.as_deref().map(parse_since).transpose()?,
        schemas: args.read.schema,
        selection: args.read.select.selection(),
        jobs: jobs(args.read.jobs)?,
        consistency: consistency(args.read.allow_inconsistent),
        progress: ProgressMode::detect(args.quiet || args.json),
        force: args.force,
    };
    let summary = run(&opts)?;
    print_summary(args.json, || summary.to_json(), || summary.to_text())?;
    Ok(ExitCode::Success)
}

fn import(args: ImportArgs) -> Result<ExitCode> {
    use pg2sqlite::command::import::{run, ImportOptions};
    let opts = ImportOptions {
        from: args.from,
        target: args.target,
        map: load_map(args.map.as_deref())?,
        selection: args.select.selection(),
        jobs: jobs(args.jobs)?,
        progress: ProgressMode::detect(args.quiet || args.json),
        existing: if args.full {
            ExistingTarget::Replace
        } else {
            ExistingTarget::Refuse
        },
        deletes: args.deletes,
        apply: apply(args.dry_run),
        backup: backup(args.no_backup, args.backup, args.keep_backups)?,
    };
    let summary = run(&opts)?;
    print_summary(args.json, || summary.to_json(), || summary.to_text())?;
    Ok(ExitCode::Success)
}

fn report(args: ReportArgs) -> Result<ExitCode> {
    use pg2sqlite::report::render;
    let since = match args.since {
        Some(text) => {
            let micros = parse_since(&text)?;
            Some((text, micros))
        }
        None => None,
    };
    let opts = pg2sqlite::command::report::ReportOptions {
        source: source(&args.source)?,
        target: args.target,
        schemas: args.read.schema,
        selection: args.read.select.selection(),
        jobs: jobs(args.read.jobs)?,
        consistency: consistency(args.read.allow_inconsistent),
        map: load_map(args.map.as_deref())?,
        since,
        samples: args.samples,
    };
    let report = pg2sqlite::command::report::run(&opts)?;
    let text = render::render(&report, args.format);
    match &args.output {
        Some(path) => render::write_atomically(path, &text)?,
        None => print(&text)?,
    }
    Ok(if report.loss {
        ExitCode::Difference
    } else {
        ExitCode::Success
    })
}

fn sync(args: SyncArgs) -> Result<ExitCode> {
    let jobs = jobs(args.read.jobs)?;
    let source = source(&args.source)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let lag = parse_lag(&args.lag)?;
    let selection = args.read.select.selection();
    let progress = ProgressMode::detect(args.quiet || args.json);
    let map = load_map(args.map.as_deref())?;
    let target_exists = args.target.exists();
    let delta = target_exists && !args.full && (since.is_some() || has_sync_state(&args.target));
    if delta {
        let opts = DeltaOptions {
            source,
            target: args.target,
            schemas: args.read.schema,
            selection,
            jobs,
            consistency: consistency(args.read.allow_inconsistent),
            progress,
            since: match since {
                Some(s) => Since::Given(s),
                None => Since::Stored { lag },
            },
            deletes: args.deletes,
            apply: apply(args.dry_run),
            backup: backup(args.no_backup, args.backup, args.keep_backups)?,
            map,
        };
        let summary = delta_sync(&opts)?;
        print_summary(args.json, || summary.to_json(), || summary.to_text())?;
        return Ok(ExitCode::Success);
    }
    if args.dry_run {
        return Err(Error::Usage(format!(
            "--dry-run previews a delta merge into an existing target; {} {}",
            args.target.display(),
            if target_exists {
                "has no sync state yet: add --since TIME"
            } else {
                "does not exist, so the sync would be a full copy"
            }
        )));
    }
    let opts = FullSyncOptions {
        source,
        target: args.target,
        existing: if args.full {
            ExistingTarget::Replace
        } else {
            ExistingTarget::Refuse
        },
        schemas: args.read.schema,
        selection,
        jobs,
        consistency: consistency(args.read.allow_inconsistent),
        progress,
        verification: if args.no_verify {
            Verification::Skip
        } else {
            Verification::Verify
        },
        map,
    };
    let summary = full_sync(&opts)?;
    print_summary(args.json, || summary.to_json(), || summary.to_text())?;
    Ok(ExitCode::Success)
}

fn fixtures(args: FixturesArgs) -> Result<ExitCode> {
    let opts = pg2sqlite::fixtures::FixturesOptions::from_args(args)?;
    let summary = pg2sqlite::fixtures::run(&opts)?;
    print(&summary.to_text())?;
    Ok(ExitCode::Success)
}
