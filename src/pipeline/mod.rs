//! Wires the stages of a full sync: the plan from the catalog, the chunks
//! (`chunks`), the copy through the reader pool (`read`: readers → converters
//! → one writer thread), PostgreSQL's checksums beside it, verification, the
//! base of the next delta, and the publish.

mod chunks;
mod read;

pub(crate) use chunks::{comparison_chunks, table_chunks};
pub use chunks::{plan_chunks, Chunk};
pub(crate) use read::read_into;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::merge::base_pairs::{PairFile, PairSpec};
use crate::plan::{PlanInputs, SyncPlan, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::existing::TargetSchema;
use crate::sink::health::CheckBeside;
use crate::sink::staging::{check_target, ExistingTarget, Staging};
use crate::sink::writer;
use crate::source::catalog::{read_catalog, read_views};
use crate::source::connect::SourceConfig;
use crate::source::copy;
use crate::source::snapshot::{self, Consistency, SharedSnapshot};
use crate::summary::{SyncSummary, TableSummary};

/// Options of a full sync, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct FullSyncOptions {
    pub source: SourceConfig,
    pub target: PathBuf,
    pub existing: ExistingTarget,
    pub schemas: Vec<String>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub consistency: Consistency,
    pub progress: ProgressMode,
    pub verification: Verification,
    /// The schema map given with `--map`, already parsed.
    pub map: Option<SchemaMap>,
}

/// Whether a sync verifies the copy before publishing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Verify,
    /// `--no-verify`: publish unverified (the summary says so).
    Skip,
}

/// The async runtime of a command: a few threads for the PostgreSQL connections;
/// conversion runs on rayon and SQLite on its own thread.
pub fn runtime(jobs: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(1, 4))
        .enable_all()
        .build()
        .map_err(|e| Error::Aborted(format!("cannot start the async runtime: {e}")))
}

/// Runs a full sync into a new file and publishes it over the target.
pub fn full_sync(opts: &FullSyncOptions) -> Result<SyncSummary> {
    check_target(&opts.target, opts.existing)?;
    // Dropping the sync future drops the staging file with it.
    until_signal(
        opts.jobs,
        full_sync_async(opts),
        "the staging file was removed",
    )
}

/// Runs `work` on a new runtime until it ends or SIGINT/SIGTERM arrive; then
/// `work` is dropped (and with it what it owns) and the error says `undone`.
pub(crate) fn until_signal<T>(
    jobs: usize,
    work: impl std::future::Future<Output = Result<T>>,
    undone: &str,
) -> Result<T> {
    runtime(jobs)?.block_on(async {
        tokio::select! {
            r = work => r,
            s = shutdown_signal() => Err(Error::Aborted(format!("{s}; {undone}"))),
        }
    })
}

/// Resolves on SIGINT or SIGTERM, naming it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (exit) still applies, and
        // the next run clears the staging file.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "terminated (SIGTERM)",
        _ = int.recv() => "interrupted (SIGINT)",
    }
}

async fn full_sync_async(opts: &FullSyncOptions) -> Result<SyncSummary> {
    let started = Instant::now();
    let Start {
        coordinator,
        times,
        snapshot,
        plan,
    } = start(
        &opts.source,
        opts.consistency,
        &opts.target,
        &opts.schemas,
        &opts.selection,
        opts.map.as_ref(),
    )
    .await?;
    let chunks = plan_chunks(&coordinator, &plan).await?;

    let (mut staging, stale) = Staging::create(&opts.target)?;
    // Rows go into the app's own tables: everything else in its file stays.
    if plan.tables.iter().any(|t| t.sink.existing) {
        staging.start_from_target()?;
    }
    let estimates = plan.estimated_rows();
    let progress = Arc::new(Progress::new(opts.progress, estimates));
    let mut notes = plan.notes.clone();
    if let Some(stale) = stale {
        notes.push(crate::sink::staging::stale_note(&stale));
    }
    if snapshot.id.is_none() {
        notes.push("readers did not share one snapshot (--allow-inconsistent)".to_owned());
    }
    for n in &notes {
        progress.note(n);
    }

    // PostgreSQL's side of the verification needs nothing from SQLite: it runs on
    // its own connections, in the same snapshot, while the copy is written.
    // Where it can, PostgreSQL's side is hashed from the copy's own rows.
    let (parts, tally) = match opts.verification {
        Verification::Verify => {
            let (parts, tally) = crate::verify::plan_parts_with_tally(&plan, &chunks);
            (parts, Some(Arc::new(tally)))
        }
        Verification::Skip => (crate::verify::plan_parts(&plan, &chunks), None),
    };
    let verify_clients = match opts.verification {
        Verification::Verify => {
            let mut clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
            // Fewer than asked: the server's connection limit. Leave one to the
            // readers, or the copy would find none.
            if clients.len() < opts.jobs {
                if clients.len() > 1 {
                    clients.pop();
                }
                let note = format!(
                    "PostgreSQL allows fewer connections than --jobs {}: verifying over {} and \
                     reading over what is left",
                    opts.jobs,
                    clients.len()
                );
                progress.note(&note);
                notes.push(note);
            }
            clients
        }
        Verification::Skip => Vec::new(),
    };
    let pg_side = async {
        match &tally {
            Some(tally) => crate::verify::pg_totals_beside(&verify_clients, &plan, &parts, tally)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let copy = copy_all(
        opts,
        &plan,
        chunks.clone(),
        &snapshot,
        staging.path().to_path_buf(),
        &progress,
        tally.clone(),
    );
    let joined = tokio::try_join!(copy, pg_side);
    let (outcome, pg_totals) = match joined {
        Ok((outcome, pg)) => {
            let pg = match (pg, &tally) {
                (Some(pg), Some(tally)) => Some(pg.with_copy(&parts, tally)),
                (pg, _) => pg,
            };
            (outcome, pg)
        }
        Err(e) => {
            let _ = coordinator.batch_execute("COMMIT").await;
            return Err(e);
        }
    };
    staging.flush_in_background();
    // The base of the next delta is fingerprinted where the rows are read back
    // (merge::base_pairs).
    let base_specs: Vec<Option<PairSpec>> = plan
        .tables
        .iter()
        .map(|t| {
            crate::merge::key::merge_key(t, opts.map.as_ref())
                .ok()
                .map(|key| PairSpec { key })
        })
        .collect();
    let capture = crate::verify::BaseCapture {
        specs: &base_specs,
        staging: staging.path(),
    };
    let (verification, pair_files) = match pg_totals {
        Some(pg) => {
            progress.phase("verifying");
            let (report, files) = crate::verify::verify_with(
                &verify_clients,
                &plan,
                &parts,
                &pg,
                staging.path(),
                Some(&capture),
            )
            .await?;
            (Some(report), files)
        }
        None => {
            progress.phase("reading the rows back for the base of the next delta");
            let files =
                crate::verify::capture_base(&plan, &parts, staging.path(), &capture).await?;
            (None, files)
        }
    };
    let base_pairs = crate::verify::pairs_by_table(&parts, pair_files, plan.tables.len());
    // The snapshot can end now: every reader has finished.
    let _ = coordinator.batch_execute("COMMIT").await;
    if let Some(report) = &verification {
        if !report.matches() {
            progress.finish();
            return Err(Error::VerificationFailed(report.to_text()));
        }
    }
    let bytes = publish_full(
        staging,
        &plan,
        opts.map.as_ref(),
        &outcome,
        times,
        base_pairs,
        &progress,
    )?;
    Ok(SyncSummary {
        source: opts.source.display().to_owned(),
        target: opts.target.clone(),
        consistent_snapshot: snapshot.id.is_some(),
        tables: table_summaries(&plan, &outcome),
        seconds: started.elapsed().as_secs_f64(),
        bytes,
        not_expressed: plan.not_expressed.clone(),
        renames: plan.renames.clone(),
        schema_loss: plan.schema_loss.clone(),
        loss: outcome.ledger.entries(),
        verification,
        notes,
    })
}

/// One summary line per table of a full copy.
pub(crate) fn table_summaries(
    plan: &SyncPlan,
    outcome: &writer::WriteOutcome,
) -> Vec<TableSummary> {
    plan.tables
        .iter()
        .enumerate()
        .map(|(i, t)| TableSummary {
            name: t.sink.name.clone(),
            source: t.source_name.clone(),
            rows: outcome.rows_written.get(i).copied().unwrap_or(0),
            seconds: outcome.seconds.get(i).copied().unwrap_or(0.0),
            existing: t.sink.existing,
        })
        .collect()
}

/// What every sync starts from: the coordinator connection holding the
/// snapshot, the times the next delta's watermark comes from, and the plan
/// against PostgreSQL's catalog and the target's schema as it is.
pub(crate) struct Start {
    pub coordinator: Client,
    pub times: snapshot::SnapshotTimes,
    pub snapshot: SharedSnapshot,
    pub plan: SyncPlan,
}

/// Reads the times, exports the snapshot, reads the target's schema and plans.
pub(crate) async fn start(
    source: &SourceConfig,
    consistency: Consistency,
    target_path: &std::path::Path,
    schemas: &[String],
    selection: &TableSelection,
    map: Option<&crate::map::SchemaMap>,
) -> Result<Start> {
    let coordinator = source.connect().await?;
    // Before the snapshot: see snapshot::times.
    let times = snapshot::times(&coordinator).await?;
    let snapshot = snapshot::export(&coordinator, consistency).await?;
    let target = TargetSchema::read(target_path)?;
    let plan = match plan_from_catalog(
        &coordinator,
        schemas,
        PlanInputs {
            selection,
            map,
            target: &target,
        },
    )
    .await
    {
        Ok(plan) => plan,
        // Sizes are read under a lock too: a schema change can stop us there.
        Err(e) => return Err(snapshot::name_lock_holders(source, e).await),
    };
    snapshot::lock_tables(
        &coordinator,
        source,
        plan.tables.iter().map(|t| t.copy.relation.as_str()),
    )
    .await?;
    Ok(Start {
        coordinator,
        times,
        snapshot,
        plan,
    })
}

/// The end of a verified full copy (a sync or an import): records the state
/// and the base in the staging file, publishes it over the target, and returns
/// the published file's size.
pub(crate) fn publish_full(
    staging: Staging,
    plan: &SyncPlan,
    map: Option<&SchemaMap>,
    outcome: &writer::WriteOutcome,
    times: snapshot::SnapshotTimes,
    base_pairs: Vec<Option<Vec<PairFile>>>,
    progress: &Progress,
) -> Result<u64> {
    progress.phase("recording the rows this copy leaves");
    record_full_sync(staging.path(), plan, map, outcome, times, base_pairs)?;
    progress.phase("publishing");
    let target = staging.target().to_path_buf();
    staging.publish()?;
    progress.finish();
    Ok(std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0))
}

/// Leaves the watermark in the new file, so that the next sync into it can be a
/// delta without `--since`, and the base of the next delta's three-way merge:
/// a fingerprint of every row it wrote (`merge::base`).
fn record_full_sync(
    path: &std::path::Path,
    plan: &SyncPlan,
    map: Option<&SchemaMap>,
    outcome: &writer::WriteOutcome,
    times: snapshot::SnapshotTimes,
    base_pairs: Vec<Option<Vec<PairFile>>>,
) -> Result<()> {
    use crate::mapping::time::{clock_now, unix_micros_text};
    use crate::merge::base;
    use crate::merge::state::{self, MergeCounts, SyncMode, TableRun};
    let watermark = unix_micros_text(times.watermark);
    let snapshot_time = unix_micros_text(times.now);
    let run_at = unix_micros_text(clock_now());
    // Still the staging file: no journal or syncs needed (it is thrown away on
    // failure), which halves the time the base takes to write.
    let conn = writer::open_staging(path)?;
    let sqlite = |e| Error::sqlite("recording the sync state", path)(e);
    conn.execute_batch("BEGIN").map_err(sqlite)?;
    state::create_tables(&conn).map_err(sqlite)?;
    let mut base_pairs = base_pairs.into_iter();
    for (i, t) in plan.tables.iter().enumerate() {
        let pairs = base_pairs.next().flatten();
        // A table without a key cannot be merged later; it needs no base.
        let Ok(key) = crate::merge::key::merge_key(t, map) else {
            continue;
        };
        let columns: Vec<String> = t.sink.columns.iter().map(|c| c.name.clone()).collect();
        let signature = base::signature(columns.iter().map(String::as_str));
        let tid = base::start(&conn, &t.sink.name, &signature).map_err(sqlite)?;
        let rows = outcome.rows_written.get(i).copied().unwrap_or(0);
        match pairs {
            // Every row read back has its pair: load them.
            Some(files) if files.iter().map(PairFile::pairs).sum::<u64>() == rows => {
                crate::merge::base_pairs::load(&conn, tid, &files)?;
            }
            _ => {
                base::fill(&conn, tid, &t.sink.name, &columns, &key).map_err(sqlite)?;
            }
        }
    }
    let record = || -> rusqlite::Result<()> {
        for (i, t) in plan.tables.iter().enumerate() {
            let rows = outcome.rows_written.get(i).copied().unwrap_or(0);
            let cursor = crate::merge::cursor::find(t, None).ok();
            state::record_run(
                &conn,
                &TableRun {
                    table: &t.sink.name,
                    source_table: &t.source_name,
                    mode: SyncMode::Full,
                    cursor_column: cursor.as_ref().map(|c| c.name.as_str()),
                    since: None,
                    watermark: &watermark,
                    snapshot_time: &snapshot_time,
                    counts: MergeCounts {
                        read: rows,
                        inserted: rows,
                        ..MergeCounts::default()
                    },
                    run_at: &run_at,
                    seconds: outcome.seconds.get(i).copied().unwrap_or(0.0),
                    horizon: times
                        .horizon
                        .map(|at| crate::source::horizon::TableHorizon::new(at, t).to_text()),
                },
            )?;
        }
        conn.execute_batch("COMMIT")
    };
    record().map_err(Error::sqlite("recording the sync state", path))
}

/// `n` connections that all see the shared snapshot.
pub(crate) async fn snapshot_clients(
    source: &SourceConfig,
    snapshot: &SharedSnapshot,
    n: usize,
) -> Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let c = match source.connect().await {
            Ok(c) => c,
            // A server or role with few connections: go on with those we have.
            Err(e) if e.is_connection_limit() && !clients.is_empty() => {
                tracing::debug!("connection limit reached at {} clients: {e}", clients.len());
                break;
            }
            Err(e) => return Err(e.connecting_mid_run()),
        };
        snapshot::join(&c, snapshot).await?;
        clients.push(c);
    }
    Ok(clients)
}

/// Options of `pg2sqlite verify`.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub source: SourceConfig,
    pub target: PathBuf,
    pub schemas: Vec<String>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub consistency: Consistency,
    /// The schema map given with `--map`, already parsed.
    pub map: Option<SchemaMap>,
    /// How much of SQLite's own structure to check.
    pub integrity: crate::verify::IntegrityCheck,
    pub progress: ProgressMode,
}

/// Compares PostgreSQL with an existing SQLite file.
pub fn verify_only(opts: &VerifyOptions) -> Result<crate::verify::VerifyReport> {
    // A target that is not a SQLite file is refused before the server is asked.
    drop(crate::verify::open_sqlite(&opts.target)?);
    let runtime = runtime(opts.jobs)?;
    // The target's check reads every page and needs no server: it runs while
    // PostgreSQL is asked, and a damaged target is reported as such before any
    // checksum reads its rows.
    let before = crate::sink::seal::BeforeCheck::observe(&opts.target);
    let progress = Progress::new(opts.progress, Vec::new());
    progress.phase("checking the file while PostgreSQL's catalog is read");
    let checked = CheckBeside::start(&opts.target)?;
    let report = runtime.block_on(async {
        let (coordinator, plan, chunks, clients) = match prepare_verify(opts).await {
            Ok(prepared) => prepared,
            Err(e) => return Err(CheckBeside::outranks(checked.passed().await, e)),
        };
        let report = crate::verify::verify(
            &clients,
            &plan,
            &chunks,
            &opts.target,
            opts.integrity,
            checked,
            &progress,
        )
        .await;
        let _ = coordinator.batch_execute("COMMIT").await;
        report
    });
    progress.finish();
    let report = report?;
    // A file found sound, and not written while it was read, needs no second
    // whole-file check before the next merge (`sink::seal`).
    if report.health.integrity.is_empty() {
        before.passed(&opts.target);
    }
    Ok(report)
}

/// What `verify` asks PostgreSQL before comparing: the snapshot (held by the
/// coordinator's transaction), the plan, its chunks, and the clients that read
/// them in the snapshot.
async fn prepare_verify(
    opts: &VerifyOptions,
) -> Result<(Client, SyncPlan, Vec<Chunk>, Vec<Client>)> {
    let Start {
        coordinator,
        snapshot,
        plan,
        ..
    } = start(
        &opts.source,
        opts.consistency,
        &opts.target,
        &opts.schemas,
        &opts.selection,
        opts.map.as_ref(),
    )
    .await?;
    let chunks = plan_chunks(&coordinator, &plan).await?;
    let clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
    Ok((coordinator, plan, chunks, clients))
}

/// Reads the catalog of `schemas` and the target's schema, and builds the plan;
/// a schema that does not exist is a planning error, not an empty copy.
pub async fn plan_from_catalog(
    client: &Client,
    schemas: &[String],
    inputs: PlanInputs<'_>,
) -> Result<SyncPlan> {
    plan_with_catalog(client, schemas, inputs)
        .await
        .map(|(plan, _, _)| plan)
}

/// [`plan_from_catalog`], also returning the tables and views the plan was
/// built from (an export writes them into the bundle's manifest).
pub async fn plan_with_catalog(
    client: &Client,
    schemas: &[String],
    inputs: PlanInputs<'_>,
) -> Result<(
    SyncPlan,
    Vec<crate::source::catalog::PgTable>,
    Vec<crate::source::catalog::PgView>,
)> {
    let existing: Vec<String> = client
        .query(
            "SELECT nspname::text FROM pg_namespace
              WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
              ORDER BY 1",
            &[],
        )
        .await
        .map_err(Error::pg("listing schemas"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<String> = schemas
        .iter()
        .filter(|s| !existing.contains(s))
        .map(|s| {
            format!(
                "schema {s:?} does not exist (schemas: {})",
                existing.join(", ")
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::Plan(missing));
    }
    let catalog = read_catalog(client, schemas).await?;
    let (mut plan, lossy) = crate::plan::build(catalog.clone(), inputs).map_err(Error::Plan)?;
    let problems = crate::plan::lossy::count(client, &lossy, &mut plan.notes).await?;
    if !problems.is_empty() {
        return Err(Error::Plan(problems));
    }
    let views = read_views(client, schemas).await?;
    crate::plan::views::plan_views(&mut plan, &views);
    Ok((plan, catalog, views))
}

async fn copy_all(
    opts: &FullSyncOptions,
    plan: &SyncPlan,
    chunks: Vec<Chunk>,
    snapshot: &SharedSnapshot,
    staging: PathBuf,
    progress: &Arc<Progress>,
    tally: Option<Arc<crate::verify::CopyTally>>,
) -> Result<writer::WriteOutcome> {
    let mut chunks_per_table = vec![0usize; plan.tables.len()];
    for c in &chunks {
        chunks_per_table[c.table] += 1;
    }
    let sink_tables: Vec<_> = plan.tables.iter().map(|t| t.sink.clone()).collect();
    let views = plan.views.clone();
    let writer_progress = progress.clone();
    let waiting = progress.clone();
    let on_wait: copy::OnWait = Arc::new(move |line: String| waiting.note(&line));
    read_into(
        &opts.source,
        opts.jobs,
        plan,
        chunks,
        snapshot,
        on_wait,
        tally,
        move |rx| {
            writer::run(
                staging,
                &sink_tables,
                &views,
                &chunks_per_table,
                rx,
                &writer_progress,
            )
        },
    )
    .await
}
