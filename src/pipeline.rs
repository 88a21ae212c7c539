//! Wires the stages of a full sync: readers (tokio, one per connection) →
//! converters (rayon) → one writer thread, with bounded queues between them so
//! memory stays flat however large a table is.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tokio_postgres::binary_copy::BinaryCopyOutRow;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::mapping::convert::{convert_rows, RawRow};
use crate::mapping::ledger::LossLedger;
use crate::merge::base_pairs::{PairFile, PairSpec};
use crate::plan::{ChunkStrategy, PlanInputs, SyncPlan, TablePlan, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::existing::TargetSchema;
use crate::sink::staging::{check_target, ExistingTarget, Staging};
use crate::sink::writer::{self, WriterMessage};
use crate::source::catalog::{quote_ident, read_catalog, read_views};
use crate::source::chunk::{chunk_count, split_key_range, split_pages, ChunkRange};
use crate::source::connect::SourceConfig;
use crate::source::copy;
use crate::source::snapshot::{self, Consistency, SharedSnapshot};
use crate::summary::{SyncSummary, TableSummary};

/// Rows handed to one converter task at most.
pub(crate) const BATCH_ROWS: usize = 8192;
/// Bytes of raw values handed to one converter task at most.
pub(crate) const BATCH_BYTES: usize = 2 << 20;
/// Converted batches waiting for the writer: two keep it busy (pgbench copies
/// as fast as with four), more only hold memory (about 15 MB less at peak).
const WRITER_QUEUE: usize = 2;

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

/// One unit of reading work: a range of one table of the plan.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub table: usize,
    pub range: ChunkRange,
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
        notes.push(format!(
            "removed a staging file left by an interrupted run: {}",
            stale.display()
        ));
    }
    if snapshot.id.is_none() {
        notes.push("readers did not share one snapshot (--allow-inconsistent)".to_owned());
    }
    for n in &notes {
        progress.note(n);
    }

    // PostgreSQL's side of the verification needs nothing from SQLite: it runs on
    // its own connections, in the same snapshot, while the copy is written.
    let parts = crate::verify::plan_parts(&plan, &chunks);
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
        match opts.verification {
            Verification::Verify => crate::verify::pg_totals(&verify_clients, &plan, &parts)
                .await
                .map(Some),
            Verification::Skip => Ok(None),
        }
    };
    let copy = copy_all(
        opts,
        &plan,
        chunks.clone(),
        &snapshot,
        staging.path().to_path_buf(),
        &progress,
    );
    let joined = tokio::try_join!(copy, pg_side);
    let (outcome, pg_totals) = match joined {
        Ok(both) => both,
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
            Err(e) => return Err(e),
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
}

/// Compares PostgreSQL with an existing SQLite file.
pub fn verify_only(opts: &VerifyOptions) -> Result<crate::verify::VerifyReport> {
    // A damaged target is reported as such, before any checksum reads it.
    crate::sink::health::check_before_use(&opts.target)?;
    let runtime = runtime(opts.jobs)?;
    runtime.block_on(async {
        let coordinator = opts.source.connect().await?;
        let snapshot = snapshot::export(&coordinator, opts.consistency).await?;
        let target = TargetSchema::read(&opts.target)?;
        let inputs = PlanInputs {
            selection: &opts.selection,
            map: opts.map.as_ref(),
            target: &target,
        };
        let plan = plan_from_catalog(&coordinator, &opts.schemas, inputs).await?;
        snapshot::lock_tables(
            &coordinator,
            &opts.source,
            plan.tables.iter().map(|t| t.copy.relation.as_str()),
        )
        .await?;
        let chunks = plan_chunks(&coordinator, &plan).await?;
        let clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
        let report =
            crate::verify::verify(&clients, &plan, &chunks, &opts.target, opts.integrity).await;
        let _ = coordinator.batch_execute("COMMIT").await;
        report
    })
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

/// Splits every table into chunks, largest tables first so the long work starts early.
pub async fn plan_chunks(client: &Client, plan: &SyncPlan) -> Result<Vec<Chunk>> {
    let mut order: Vec<usize> = (0..plan.tables.len()).collect();
    order.sort_by(|&a, &b| {
        plan.tables[b]
            .estimated_rows
            .total_cmp(&plan.tables[a].estimated_rows)
    });
    let mut chunks = Vec::new();
    for i in order {
        let ranges = table_chunks(client, &plan.tables[i]).await?;
        chunks.extend(ranges.into_iter().map(|range| Chunk { table: i, range }));
    }
    Ok(chunks)
}

pub(crate) async fn table_chunks(client: &Client, t: &TablePlan) -> Result<Vec<ChunkRange>> {
    table_chunks_of(client, t, chunk_count(t.estimated_rows)).await
}

/// Rows per range when a table is compared by content: small enough that the
/// ranges whose checksums differ are cheap to narrow down to key buckets.
const COMPARED_RANGE_ROWS: f64 = 1_024.0;

/// The ranges a table is compared by content in: finer than its copy chunks
/// when it has an integer key, so that narrowing reads only the ranges with a
/// difference a second time.
pub(crate) async fn comparison_chunks(client: &Client, t: &TablePlan) -> Result<Vec<ChunkRange>> {
    let mut parts = 1usize;
    while parts < 4096 && (parts as f64) * COMPARED_RANGE_ROWS < t.estimated_rows {
        parts += 1;
    }
    table_chunks_of(client, t, parts).await
}

/// `t` split into `parts` ranges as its chunking strategy allows.
async fn table_chunks_of(client: &Client, t: &TablePlan, parts: usize) -> Result<Vec<ChunkRange>> {
    Ok(match &t.chunking {
        _ if parts <= 1 => vec![ChunkRange::All],
        ChunkStrategy::IntKey(col) => {
            let row = client
                .query_one(
                    &format!(
                        "SELECT min({c})::int8, max({c})::int8 FROM {}",
                        t.copy.relation,
                        c = quote_ident(col)
                    ),
                    &[],
                )
                .await
                .map_err(Error::pg(format!(
                    "reading the key range of {}",
                    t.source_name
                )))?;
            match (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)) {
                (Some(lo), Some(hi)) => split_key_range(lo, hi, parts)
                    .into_iter()
                    .map(|(lo, hi)| ChunkRange::IntKey {
                        column: col.clone(),
                        lo,
                        hi,
                    })
                    .collect(),
                _ => vec![ChunkRange::All],
            }
        }
        ChunkStrategy::Partitions(parts) if !parts.is_empty() => parts
            .iter()
            .map(|(schema, name)| ChunkRange::Partition {
                schema: schema.clone(),
                name: name.clone(),
            })
            .collect(),
        ChunkStrategy::Partitions(_) => vec![ChunkRange::All],
        ChunkStrategy::Pages(pages) => split_pages(*pages, parts)
            .into_iter()
            .map(|(lo, hi)| ChunkRange::Pages { lo, hi })
            .collect(),
    })
}

/// The first error of the run wins; everything after it is a consequence.
#[derive(Default)]
struct FirstError {
    cancelled: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl FirstError {
    fn set(&self, e: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.cancelled.store(true, Ordering::SeqCst);
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
    fn take(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

async fn copy_all(
    opts: &FullSyncOptions,
    plan: &SyncPlan,
    chunks: Vec<Chunk>,
    snapshot: &SharedSnapshot,
    staging: PathBuf,
    progress: &Arc<Progress>,
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

/// Reads `chunks` over `jobs` connections in the snapshot, converts the rows on
/// rayon and hands the batches to `write`, which runs on a thread of its own and
/// is the only code that touches SQLite.
pub(crate) async fn read_into<W, F>(
    source: &SourceConfig,
    jobs: usize,
    plan: &SyncPlan,
    chunks: Vec<Chunk>,
    snapshot: &SharedSnapshot,
    on_wait: copy::OnWait,
    write: F,
) -> Result<W>
where
    W: Send + 'static,
    F: FnOnce(crossbeam_channel::Receiver<WriterMessage>) -> Result<W> + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded::<WriterMessage>(WRITER_QUEUE);
    let writer = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || write(rx))
        .map_err(|e| Error::Aborted(format!("cannot start the writer thread: {e}")))?;

    let queue = Arc::new(Mutex::new(VecDeque::from(chunks)));
    let errors = Arc::new(FirstError::default());
    let tables = Arc::new(plan.tables.clone());
    // Raw batches in flight between readers and the writer.
    let permits = Arc::new(Semaphore::new(jobs + 2));
    let jobs = jobs.min(queue.lock().map(|q| q.len()).unwrap_or(1)).max(1);
    let readers_left = Arc::new(std::sync::atomic::AtomicUsize::new(jobs));
    let mut readers = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let ctx = ReaderContext {
            source: source.clone(),
            snapshot: snapshot.clone(),
            queue: queue.clone(),
            errors: errors.clone(),
            tables: tables.clone(),
            permits: permits.clone(),
            tx: tx.clone(),
            watch: copy::StallWatch {
                timeout: source.stall_timeout(),
                on_wait: on_wait.clone(),
            },
            readers_left: readers_left.clone(),
        };
        readers.push(tokio::spawn(async move {
            let errors = ctx.errors.clone();
            if let Err(e) = reader(ctx).await {
                errors.set(e);
            }
        }));
    }
    drop(tx);
    for r in readers {
        if let Err(e) = r.await {
            errors.set(Error::Aborted(format!(
                "a reader stopped unexpectedly: {e}"
            )));
        }
    }
    // Converters still running hold senders; the writer ends when they are done.
    let written = tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| Error::Aborted(format!("waiting for the writer: {e}")))?;
    let written = match written {
        Ok(r) => r,
        Err(_) => Err(Error::Aborted("the SQLite writer panicked".into())),
    };
    match (errors.take(), written) {
        // Readers saw the writer stop: the writer's own error says why.
        (Some(Error::Aborted(_)), Err(w)) => Err(w),
        // A reader or converter failed first; the writer's view is a consequence.
        (Some(e), _) => Err(e),
        (None, w) => w,
    }
}

/// A reader's connection. At a connection limit it tries a few times more: a
/// connection just closed elsewhere in this run frees its slot a moment later.
async fn connect_reader(source: &SourceConfig) -> Result<Client> {
    let mut tries = 0;
    loop {
        match source.connect().await {
            Err(e) if e.is_connection_limit() && tries < 3 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            other => return other,
        }
    }
}

struct ReaderContext {
    source: SourceConfig,
    snapshot: SharedSnapshot,
    queue: Arc<Mutex<VecDeque<Chunk>>>,
    errors: Arc<FirstError>,
    tables: Arc<Vec<TablePlan>>,
    permits: Arc<Semaphore>,
    tx: crossbeam_channel::Sender<WriterMessage>,
    watch: copy::StallWatch,
    /// Readers that have not given up for want of a connection.
    readers_left: Arc<std::sync::atomic::AtomicUsize>,
}

async fn reader(ctx: ReaderContext) -> Result<()> {
    let client = match connect_reader(&ctx.source).await {
        Ok(c) => c,
        // The server allows fewer connections than --jobs: the other readers
        // take this one's chunks, unless it was the last one.
        Err(e) if e.is_connection_limit() => {
            let left = ctx
                .readers_left
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            if left <= 1 {
                return Err(e);
            }
            (ctx.watch.on_wait)(
                "PostgreSQL refused a reader connection (too many connections); reading with \
                 fewer than --jobs asked"
                    .to_owned(),
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    snapshot::join(&client, &ctx.snapshot).await?;
    loop {
        if ctx.errors.cancelled() {
            return Ok(());
        }
        let next = ctx.queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
        let Some(chunk) = next else { break };
        let table = &ctx.tables[chunk.table];
        let stream = copy::open(&client, &table.copy, &chunk.range, &ctx.watch).await?;
        futures_util::pin_mut!(stream);
        let mut rows: Vec<BinaryCopyOutRow> = Vec::with_capacity(1024);
        let mut bytes = 0usize;
        let mut total = 0u64;
        while let Some(row) = stream.next().await {
            let row = row?;
            bytes += row_bytes(&row, table.conversions.len());
            rows.push(row);
            if rows.len() >= BATCH_ROWS || bytes >= BATCH_BYTES {
                total += dispatch(&ctx, chunk.table, std::mem::take(&mut rows)).await?;
                bytes = 0;
            }
        }
        if !rows.is_empty() {
            total += dispatch(&ctx, chunk.table, rows).await?;
        }
        ctx.tx
            .send(WriterMessage::ChunkDone {
                table: chunk.table,
                rows: total,
            })
            .map_err(|_| Error::Aborted("the SQLite writer stopped".into()))?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(Error::pg("ending a reader transaction"))?;
    Ok(())
}

/// The memory a COPY row holds, for batches capped by size: its values, plus
/// what tokio-postgres keeps per row (a shared buffer handle, a vector of types)
/// and per column (the value's byte range) — on a 46-column table of short
/// values that is as much again as the values themselves.
pub(crate) fn row_bytes(row: &BinaryCopyOutRow, columns: usize) -> usize {
    const PER_ROW: usize = 64;
    const PER_COLUMN: usize = std::mem::size_of::<Option<std::ops::Range<usize>>>();
    let values: usize = (0..columns)
        .map(|i| row.raw(i).ok().flatten().map_or(0, <[u8]>::len))
        .sum();
    values + PER_ROW + PER_COLUMN * columns
}

/// Hands rows to a converter on the rayon pool; waits while too many are in flight.
async fn dispatch(ctx: &ReaderContext, table: usize, rows: Vec<BinaryCopyOutRow>) -> Result<u64> {
    let n = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    if ctx.errors.cancelled() {
        return Err(Error::Aborted("stopping after an earlier error".into()));
    }
    let permit = ctx
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::Aborted("the pipeline was closed".into()))?;
    let tables = ctx.tables.clone();
    let tx = ctx.tx.clone();
    let errors = ctx.errors.clone();
    rayon::spawn(move || {
        let _permit = permit;
        if errors.cancelled() {
            return;
        }
        let t = &tables[table];
        let mut ledger = LossLedger::default();
        match convert_rows(
            &t.sink.name,
            &t.conversions,
            &t.arrow_schema,
            &rows,
            &mut ledger,
        ) {
            Ok(batch) => {
                drop(rows);
                if tx
                    .send(WriterMessage::Batch {
                        table,
                        batch,
                        ledger,
                    })
                    .is_err()
                {
                    errors.set(Error::Aborted("the SQLite writer stopped".into()));
                }
            }
            Err(e) => errors.set(Error::Convert {
                table: t.source_name.clone(),
                column: e.column,
                reason: e.reason,
            }),
        }
    });
    Ok(n)
}
