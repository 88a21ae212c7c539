//! The loss ledger of a sync, computed without writing: the PostgreSQL rows a
//! sync of the difference reads are converted as the sync converts them, and
//! what SQLite cannot hold exactly is counted per column.

use futures_util::StreamExt;
use tokio_postgres::binary_copy::BinaryCopyOutRow;
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::mapping::convert::convert_rows;
use crate::mapping::ledger::LossLedger;
use crate::plan::TablePlan;
use crate::source::chunk::ChunkRange;
use crate::source::copy;

/// Rows converted at once; the batches are dropped as soon as they are counted.
const BATCH_ROWS: usize = 8192;

/// Converts the rows of `ranges` of `plan`'s table into `ledger`; returns how
/// many rows were read.
pub(crate) async fn count(
    client: &Client,
    plan: &TablePlan,
    ranges: &[ChunkRange],
    ledger: &mut LossLedger,
    watch: &copy::StallWatch,
) -> Result<u64> {
    let mut total = 0u64;
    for range in ranges {
        let stream = copy::open(client, &plan.copy, range, watch).await?;
        futures_util::pin_mut!(stream);
        let mut rows: Vec<BinaryCopyOutRow> = Vec::with_capacity(BATCH_ROWS);
        loop {
            let next = stream.next().await.transpose()?;
            let done = next.is_none();
            rows.extend(next);
            if rows.len() >= BATCH_ROWS || (done && !rows.is_empty()) {
                convert_rows(
                    &plan.sink.name,
                    &plan.conversions,
                    &plan.arrow_schema,
                    &rows,
                    ledger,
                )
                .map_err(|e| Error::Convert {
                    table: plan.source_name.clone(),
                    column: e.column,
                    reason: e.reason,
                })?;
                total += u64::try_from(rows.len()).unwrap_or(u64::MAX);
                rows.clear();
            }
            if done {
                break;
            }
        }
    }
    Ok(total)
}
