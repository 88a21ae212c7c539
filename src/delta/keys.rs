//! The key sets of the tables found by cursor, compared before the merge
//! writes, on connections of their own (two tables at once), while the content
//! comparisons and the target's check run: the comparison reads every key on
//! both sides, and would otherwise wait for the merge. The merge writes only
//! PostgreSQL's keys, so the rows to delete are the same before and after it;
//! the PostgreSQL rows it reads are not counted as missing (see
//! [`crate::verify::keys::key_difference_before_merge`]).
//!
//! It must end before the merge's first write: a reader holding the file
//! would keep the merge's writer from spilling its cache.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::snapshot::SharedSnapshot;
use crate::verify::keys::{key_difference_before_merge, KeyDifference, MergedRows};

/// A table whose keys are compared early, the condition of the rows the
/// merge will read from it, and whether an index finds those.
pub(super) struct Merging {
    pub(super) table: usize,
    pub(super) plan: TablePlan,
    pub(super) condition: String,
    pub(super) indexed: bool,
}

impl Merging {
    /// The condition of the rows in `ranges` (none: `false`), which an index
    /// finds when `indexed`.
    pub(super) fn new(
        table: usize,
        plan: &TablePlan,
        ranges: &[ChunkRange],
        indexed: bool,
    ) -> Merging {
        let condition = if ranges.is_empty() {
            "false".to_owned()
        } else {
            let any: Vec<String> = ranges.iter().map(ChunkRange::condition).collect();
            format!("({})", any.join(" OR "))
        };
        Merging {
            table,
            plan: plan.clone(),
            condition,
            indexed,
        }
    }
}

/// Per table compared (its index in the plan), its key difference; `None`
/// where its key needs the comparison after the merge.
type Compared = Vec<(usize, Option<KeyDifference>)>;

/// How many tables are compared at once, each over a connection of its own:
/// most of a comparison is the server's (a scan summing every key) or the
/// file's (a read of every key), one core each, so two at once keep both of
/// this machine's kind busy while the cursor probes wait on the server.
const COMPARING_AT_ONCE: usize = 2;

/// The comparison under way.
pub(super) struct EarlyKeys {
    workers: Vec<tokio::task::JoinHandle<Result<Compared>>>,
}

impl EarlyKeys {
    /// Starts comparing the keys of `tables` in the shared snapshot, the
    /// largest first, over up to [`COMPARING_AT_ONCE`] connections. Without a
    /// connection to spare (the server's limit), nothing is compared early.
    pub(super) async fn start(
        source: &SourceConfig,
        snapshot: &SharedSnapshot,
        path: &Path,
        mut tables: Vec<Merging>,
    ) -> Result<EarlyKeys> {
        if tables.is_empty() {
            return Ok(EarlyKeys {
                workers: Vec::new(),
            });
        }
        let wanted = COMPARING_AT_ONCE.min(tables.len());
        let clients = match crate::pipeline::snapshot_clients(source, snapshot, wanted).await {
            Ok(c) => c,
            Err(e) if e.is_connection_limit() => Vec::new(),
            Err(e) => return Err(e),
        };
        tables.sort_by(|a, b| b.plan.estimated_rows.total_cmp(&a.plan.estimated_rows));
        let queue = Arc::new(Mutex::new(VecDeque::from(tables)));
        let handle = tokio::runtime::Handle::current();
        let workers = clients
            .into_iter()
            .map(|client| {
                let (path, queue, handle) = (path.to_path_buf(), queue.clone(), handle.clone());
                // SQLite's reads block: a thread of their own, which drives
                // the PostgreSQL side through the runtime.
                tokio::task::spawn_blocking(move || {
                    let conn = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(Error::sqlite("opening the target to compare keys", &path))?;
                    handle.block_on(async {
                        let mut out = Vec::new();
                        let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                        while let Some(t) = next() {
                            let diff = key_difference_before_merge(
                                &client,
                                &t.plan,
                                MergedRows {
                                    condition: &t.condition,
                                    indexed: t.indexed,
                                },
                                &conn,
                                &path,
                            )
                            .await?;
                            out.push((t.table, diff));
                        }
                        let _ = client.batch_execute("COMMIT").await;
                        Ok(out)
                    })
                })
            })
            .collect();
        Ok(EarlyKeys { workers })
    }

    /// Waits for the comparison: per table of the plan (`n` of them), its key
    /// difference when it was compared. Every worker has ended (and closed its
    /// reader of the file) when this returns, also on an error.
    pub(super) async fn finish(self, n: usize) -> Result<Vec<Option<KeyDifference>>> {
        let mut diffs: Vec<Option<KeyDifference>> = (0..n).map(|_| None).collect();
        let mut failed = None;
        for worker in self.workers {
            let found = match worker.await {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                    continue;
                }
                Err(e) => {
                    failed
                        .get_or_insert(Error::Aborted(format!("the key comparison stopped: {e}")));
                    continue;
                }
            };
            for (table, diff) in found {
                if let Some(slot) = diffs.get_mut(table) {
                    *slot = diff;
                }
            }
        }
        failed.map_or(Ok(diffs), Err)
    }
}
