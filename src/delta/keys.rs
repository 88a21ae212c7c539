//! The key sets of the tables found by cursor, compared before the merge
//! writes, on a connection of their own, while the content comparisons and the
//! target's check run: the comparison reads every key on both sides, and would
//! otherwise wait for the merge. The merge writes only PostgreSQL's keys, so
//! the rows to delete are the same before and after it; the PostgreSQL rows it
//! reads are not counted as missing (see
//! [`crate::verify::keys::key_difference_before_merge`]).
//!
//! It must end before the merge's first write: a reader holding the file
//! would keep the merge's writer from spilling its cache.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::snapshot::SharedSnapshot;
use crate::verify::keys::{key_difference_before_merge, KeyDifference};

/// A table whose keys are compared early, and the condition of the rows the
/// merge will read from it.
pub(super) struct Merging {
    pub(super) table: usize,
    pub(super) plan: TablePlan,
    pub(super) condition: String,
}

impl Merging {
    /// The condition of the rows in `ranges` (none: `false`).
    pub(super) fn new(table: usize, plan: &TablePlan, ranges: &[ChunkRange]) -> Merging {
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
        }
    }
}

/// Per table compared (its index in the plan), its key difference; `None`
/// where its key needs the comparison after the merge.
type Compared = Vec<(usize, Option<KeyDifference>)>;

/// The comparison under way.
pub(super) struct EarlyKeys {
    task: Option<tokio::task::JoinHandle<Result<Compared>>>,
}

impl EarlyKeys {
    /// Starts comparing the keys of `tables` in the shared snapshot. Without a
    /// connection to spare (the server's limit), nothing is compared early.
    pub(super) async fn start(
        source: &SourceConfig,
        snapshot: &SharedSnapshot,
        path: &Path,
        tables: Vec<Merging>,
    ) -> Result<EarlyKeys> {
        if tables.is_empty() {
            return Ok(EarlyKeys { task: None });
        }
        let client = match crate::pipeline::snapshot_clients(source, snapshot, 1).await {
            Ok(mut c) => c.pop(),
            Err(e) if e.is_connection_limit() => None,
            Err(e) => return Err(e),
        };
        let Some(client) = client else {
            return Ok(EarlyKeys { task: None });
        };
        let path = path.to_path_buf();
        let handle = tokio::runtime::Handle::current();
        // SQLite's reads block: a thread of their own, which drives the
        // PostgreSQL side through the runtime.
        let task = tokio::task::spawn_blocking(move || {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(Error::sqlite("opening the target to compare keys", &path))?;
            handle.block_on(async {
                let mut out = Vec::with_capacity(tables.len());
                for t in &tables {
                    let diff =
                        key_difference_before_merge(&client, &t.plan, &t.condition, &conn, &path)
                            .await?;
                    out.push((t.table, diff));
                }
                let _ = client.batch_execute("COMMIT").await;
                Ok(out)
            })
        });
        Ok(EarlyKeys { task: Some(task) })
    }

    /// Waits for the comparison: per table of the plan (`n` of them), its key
    /// difference when it was compared.
    pub(super) async fn finish(self, n: usize) -> Result<Vec<Option<KeyDifference>>> {
        let mut diffs: Vec<Option<KeyDifference>> = (0..n).map(|_| None).collect();
        if let Some(task) = self.task {
            let found = task
                .await
                .map_err(|e| Error::Aborted(format!("the key comparison stopped: {e}")))??;
            for (table, diff) in found {
                if let Some(slot) = diffs.get_mut(table) {
                    *slot = diff;
                }
            }
        }
        Ok(diffs)
    }
}
