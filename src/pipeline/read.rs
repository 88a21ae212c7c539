//! The reader pool of a copy: one tokio task per PostgreSQL connection reads
//! chunks in the shared snapshot, converters on rayon turn raw rows into
//! batches, and one writer thread (given by the caller) is the only code that
//! touches SQLite. Bounded queues between them keep memory flat however large
//! a table is.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio_postgres::Client;

use super::Chunk;
use crate::error::{Error, Result};
use crate::mapping::convert::convert_rows;
use crate::mapping::ledger::LossLedger;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::writer::WriterMessage;
use crate::source::connect::SourceConfig;
use crate::source::copy::{self, RawBatch};
use crate::source::snapshot::{self, SharedSnapshot};
use crate::verify::CopyTally;

/// Converted batches waiting for the writer: two keep it busy (pgbench copies
/// as fast as with four), more only hold memory (about 15 MB less at peak).
const WRITER_QUEUE: usize = 2;

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

/// Reads `chunks` over `jobs` connections in the snapshot, converts the rows on
/// rayon and hands the batches to `write`, which runs on a thread of its own and
/// is the only code that touches SQLite. With `tally`, verification's first
/// look hashes the rows as they arrive (`verify::wire`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read_into<W, F>(
    source: &SourceConfig,
    jobs: usize,
    plan: &SyncPlan,
    chunks: Vec<Chunk>,
    snapshot: &SharedSnapshot,
    on_wait: copy::OnWait,
    tally: Option<Arc<CopyTally>>,
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

    // Each chunk with its position, by which the tally knows its part.
    let queue = Arc::new(Mutex::new(
        chunks.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
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
            tally: tally.clone(),
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
    queue: Arc<Mutex<VecDeque<(usize, Chunk)>>>,
    errors: Arc<FirstError>,
    tables: Arc<Vec<TablePlan>>,
    permits: Arc<Semaphore>,
    tx: crossbeam_channel::Sender<WriterMessage>,
    watch: copy::StallWatch,
    /// Readers that have not given up for want of a connection.
    readers_left: Arc<std::sync::atomic::AtomicUsize>,
    tally: Option<Arc<CopyTally>>,
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
        let Some((position, chunk)) = next else { break };
        let table = &ctx.tables[chunk.table];
        let mut rows = copy::open(&client, &table.copy, &chunk.range, &ctx.watch).await?;
        let mut total = 0u64;
        while let Some(batch) = rows.next_batch().await? {
            total += dispatch(&ctx, position, chunk.table, batch).await?;
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

/// Hands rows of the chunk at `position` to a converter on the rayon pool
/// (and the tally, if any); waits while too many are in flight.
async fn dispatch(
    ctx: &ReaderContext,
    position: usize,
    table: usize,
    rows: RawBatch,
) -> Result<u64> {
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
    let tally = ctx.tally.clone();
    rayon::spawn(move || {
        let _permit = permit;
        if errors.cancelled() {
            return;
        }
        if let Some(tally) = &tally {
            tally.add(position, table, &rows);
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
