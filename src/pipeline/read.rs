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
use crate::source::chunk::ChunkRange;
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

    let queue = Arc::new(ChunkQueue::new(chunks, plan.tables.len()));
    let errors = Arc::new(FirstError::default());
    let tables = Arc::new(plan.tables.clone());
    // Raw batches in flight between readers and the writer.
    let permits = Arc::new(Semaphore::new(jobs + 2));
    let jobs = jobs.min(queue.len()).max(1);
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
            other => return other.map_err(Error::connecting_mid_run),
        }
    }
}

struct ReaderContext {
    source: SourceConfig,
    snapshot: SharedSnapshot,
    queue: Arc<ChunkQueue>,
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
        let Some((position, chunk, _reading)) = ctx.queue.next(&ctx.errors).await else {
            break;
        };
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

/// The chunks still to read, each with its position (by which the tally
/// knows its part).
///
/// The key ranges of one table are ranges of the same rowid B-tree. Read at
/// once by two readers, their rows reach the writer interleaved, and every
/// insert below the table's current end costs SQLite a search from the root
/// (appending at the end has a fast path): on the 10M-row pgbench table the
/// copy took 5.07 s with two readers and 4.42 s with one. So a table's key
/// ranges are read one after another, in key order, while other readers take
/// other tables' chunks (and any chunk that is not a key range).
pub(crate) struct ChunkQueue {
    state: Mutex<QueueState>,
    /// Woken whenever a key range is finished (or its reader stops).
    turn: tokio::sync::Notify,
}

struct QueueState {
    chunks: VecDeque<(usize, Chunk)>,
    /// Per table: a reader is reading one of its key ranges.
    reading: Vec<bool>,
}

/// A key range being read; the next of its table may start once it is
/// dropped (finished, or its reader stopped).
pub(crate) struct Reading<'q> {
    queue: &'q ChunkQueue,
    table: Option<usize>,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if let Some(table) = self.table {
            if let Some(r) = self.queue.lock().reading.get_mut(table) {
                *r = false;
            }
            self.queue.turn.notify_waiters();
        }
    }
}

impl ChunkQueue {
    fn new(chunks: Vec<Chunk>, tables: usize) -> ChunkQueue {
        ChunkQueue {
            state: Mutex::new(QueueState {
                chunks: chunks.into_iter().enumerate().collect(),
                reading: vec![false; tables],
            }),
            turn: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self) -> usize {
        self.lock().chunks.len()
    }

    /// The next chunk this reader may read, waiting while the only ones left
    /// are key ranges of tables other readers are reading; `None` when none
    /// are left or the run was cancelled.
    async fn next(&self, errors: &FirstError) -> Option<(usize, Chunk, Reading<'_>)> {
        loop {
            let notified = self.turn.notified();
            tokio::pin!(notified);
            // Registered before the queue is looked at: a range finished in
            // between still wakes this reader.
            notified.as_mut().enable();
            if errors.cancelled() {
                return None;
            }
            {
                let mut state = self.lock();
                if state.chunks.is_empty() {
                    return None;
                }
                let free = state.chunks.iter().position(|(_, c)| {
                    !(is_key_range(c) && state.reading.get(c.table).copied().unwrap_or(false))
                });
                if let Some((position, chunk)) = free.and_then(|i| state.chunks.remove(i)) {
                    let table = is_key_range(&chunk).then_some(chunk.table);
                    if let Some(r) = table.and_then(|t| state.reading.get_mut(t)) {
                        *r = true;
                    }
                    return Some((position, chunk, Reading { queue: self, table }));
                }
            }
            notified.await;
        }
    }
}

fn is_key_range(chunk: &Chunk) -> bool {
    matches!(chunk.range, ChunkRange::IntKey { .. })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key_range(table: usize, lo: i64) -> Chunk {
        Chunk {
            table,
            range: ChunkRange::IntKey {
                column: "id".into(),
                lo: Some(lo),
                hi: Some(lo + 10),
            },
        }
    }

    #[tokio::test]
    async fn a_tables_key_ranges_are_read_one_at_a_time_in_order() {
        let queue = ChunkQueue::new(
            vec![
                key_range(0, 0),
                key_range(0, 10),
                key_range(1, 0),
                Chunk {
                    table: 0,
                    range: ChunkRange::All,
                },
            ],
            2,
        );
        let errors = FirstError::default();
        let (first, _, reading_first) = queue.next(&errors).await.expect("a chunk");
        assert_eq!(first, 0);
        // Table 0's next range waits; table 1's range and a chunk that is not a
        // key range do not.
        let (second, _, reading_second) = queue.next(&errors).await.expect("a chunk");
        assert_eq!(second, 2);
        let (third, _, _) = queue.next(&errors).await.expect("a chunk");
        assert_eq!(third, 3);
        drop(reading_second);
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), queue.next(&errors));
        assert!(
            waiting.await.is_err(),
            "table 0's second range started beside its first"
        );
        drop(reading_first);
        let (fourth, _, _) = queue.next(&errors).await.expect("a chunk");
        assert_eq!(fourth, 1);
        assert!(queue.next(&errors).await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_reader_stops_when_the_run_is_cancelled() {
        let queue = Arc::new(ChunkQueue::new(vec![key_range(0, 0), key_range(0, 10)], 1));
        let errors = Arc::new(FirstError::default());
        let (_, _, reading) = queue.next(&errors).await.expect("a chunk");
        let waiter = {
            let (queue, errors) = (queue.clone(), errors.clone());
            tokio::spawn(async move { queue.next(&errors).await.map(|(p, _, _)| p) })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        errors.set(Error::Aborted("a reader failed".into()));
        // The failed reader's range is dropped as it returns.
        drop(reading);
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert!(matches!(woke, Ok(Ok(None))), "{woke:?}");
    }
}
