//! Streaming an export's files: each chunk of a table (or a delta table's keys)
//! is read by a reader in the snapshot and written by a thread of its own into
//! `NAME.tmp`, renamed to `NAME` when complete.

use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_postgres::Client;

use crate::bundle::file::{FinishedFile, TableFileWriter};
use crate::bundle::manifest::{FileEntry, FileFormat, Lost};
use crate::error::{Error, Result};
use crate::mapping::file_types::BundleColumn;
use crate::mapping::ledger::{LossLedger, LossReason};
use crate::progress::Progress;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::copy::{self, CopySource, RawBatch};
use crate::source::snapshot;

/// The values a table's files could not hold exactly, summed per column.
pub(crate) fn lost_values(files: &[&WrittenFile]) -> Vec<Lost> {
    let mut ledger = LossLedger::default();
    for f in files {
        for (column, reason, n) in &f.losses {
            ledger.record("", column, *reason, *n);
        }
    }
    ledger
        .entries()
        .into_iter()
        .map(|e| Lost {
            column: e.column,
            reason: e.reason,
            count: e.count,
        })
        .collect()
}

/// One file to write: a chunk of a table's rows, or a delta table's keys.
#[derive(Clone)]
pub(crate) struct FileJob {
    pub(crate) table: usize,
    /// The file's place among its table's files.
    pub(crate) order: usize,
    pub(crate) keys: bool,
    pub(crate) copy: CopySource,
    pub(crate) range: ChunkRange,
    pub(crate) columns: Vec<BundleColumn>,
    pub(crate) file_name: String,
    pub(crate) display_name: String,
}

pub(crate) struct WrittenFile {
    pub(crate) table: usize,
    pub(crate) order: usize,
    pub(crate) keys: bool,
    pub(crate) entry: FileEntry,
    pub(crate) losses: Vec<(String, LossReason, u64)>,
}

/// Writes every file over `jobs` connections in the snapshot.
pub(crate) async fn write_files(
    source: &SourceConfig,
    connections: usize,
    format: FileFormat,
    snapshot: &snapshot::SharedSnapshot,
    jobs: Vec<FileJob>,
    dir: &Path,
    progress: &Arc<Progress>,
) -> Result<Vec<WrittenFile>> {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let n = connections
        .min(queue.lock().map(|q| q.len()).unwrap_or(1))
        .max(1);
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let queue = queue.clone();
        let source = source.clone();
        let snapshot = snapshot.clone();
        let dir = dir.to_path_buf();

        let progress = progress.clone();
        let waiting = progress.clone();
        let watch = copy::StallWatch {
            timeout: source.stall_timeout(),
            on_wait: Arc::new(move |line: String| waiting.note(&line)),
        };
        readers.push(async move {
            let client = source.connect().await?;
            snapshot::join(&client, &snapshot).await?;
            let mut written = Vec::new();
            loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(job) = next else { break };
                let (entry, losses) =
                    write_file(&client, &job, &dir, format, &progress, &watch).await?;
                written.push(WrittenFile {
                    table: job.table,
                    order: job.order,
                    keys: job.keys,
                    entry,
                    losses,
                });
            }
            let _ = client.batch_execute("COMMIT").await;
            Ok::<_, Error>(written)
        });
    }
    let all = futures_util::future::try_join_all(readers).await?;
    Ok(all.into_iter().flatten().collect())
}

/// Batches waiting for the file writer: enough to keep it busy.
pub(crate) const WRITER_QUEUE: usize = 2;

/// What the reader hands the file's writer thread.
pub(crate) enum ToWriter {
    Rows(RawBatch),
    /// The COPY ended with its trailer: the file may be completed.
    End,
}

/// Streams one chunk into one file: `NAME.tmp` on a thread of its own, renamed
/// to `NAME` when complete. A COPY that fails leaves no file behind.
pub(crate) async fn write_file(
    client: &Client,
    job: &FileJob,
    dir: &Path,
    format: FileFormat,
    progress: &Arc<Progress>,
    watch: &copy::StallWatch,
) -> Result<(FileEntry, Vec<(String, LossReason, u64)>)> {
    let path = dir.join(&job.file_name);
    let tmp = dir.join(format!("{}.tmp", job.file_name));
    let mut copy_rows = copy::open(client, &job.copy, &job.range, watch).await?;
    let (tx, rx) = crossbeam_channel::bounded::<ToWriter>(WRITER_QUEUE);
    let columns = job.columns.clone();
    let writer_tmp = tmp.clone();
    let writer = std::thread::Builder::new()
        .name("bundle-writer".into())
        .spawn(move || write_file_thread(&writer_tmp, format, &columns, &rx))
        .map_err(|e| Error::Aborted(format!("cannot start a file writer: {e}")))?;
    let mut failed: Option<Error> = None;
    loop {
        match copy_rows.next_batch().await {
            Ok(Some(batch)) => {
                let n = u64::try_from(batch.len()).unwrap_or(0);
                if tx.send(ToWriter::Rows(batch)).is_err() {
                    break;
                }
                if !job.keys {
                    progress.rows_written(job.table, &job.display_name, n);
                }
            }
            Ok(None) => {
                let _ = tx.send(ToWriter::End);
                break;
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let result = tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| Error::Aborted(format!("waiting for a file writer: {e}")))?
        .unwrap_or_else(|_| Err(Error::Aborted("a file writer panicked".into())));
    if let Some(e) = failed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let (rows, finished) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    crate::failpoint::hit("export.after-file")?;
    let entry = FileEntry {
        path: job.file_name.clone(),
        rows,
        bytes: finished.bytes,
        sha256: finished.sha256,
    };
    Ok((entry, finished.losses))
}

/// The writer thread of one file: rows in, a complete file out, only when the
/// reader said the COPY ended (otherwise the file is abandoned unfinished).
pub(crate) fn write_file_thread(
    tmp: &Path,
    format: FileFormat,
    columns: &[BundleColumn],
    rx: &crossbeam_channel::Receiver<ToWriter>,
) -> Result<(u64, FinishedFile)> {
    let fail = |e: crate::bundle::BundleError| Error::BundleWrite {
        path: tmp.to_path_buf(),
        reason: e.to_string(),
    };
    let file = File::create(tmp).map_err(Error::io(tmp))?;
    let mut writer = TableFileWriter::new(format, file, columns).map_err(fail)?;
    let mut rows = 0u64;
    for message in rx {
        match message {
            ToWriter::Rows(batch) => {
                writer.write_rows(&batch).map_err(fail)?;
                rows += u64::try_from(batch.len()).unwrap_or(0);
            }
            ToWriter::End => {
                return Ok((rows, writer.finish().map_err(fail)?));
            }
        }
    }
    Err(Error::Aborted(
        "the export stopped before the file was complete".into(),
    ))
}
