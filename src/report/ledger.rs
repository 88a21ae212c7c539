//! The loss ledger of a sync, computed without writing: the PostgreSQL rows a
//! sync of the difference reads are converted as the sync converts them, and
//! what SQLite cannot hold exactly is counted per column.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::mapping::convert::convert_rows;
use crate::mapping::ledger::LossLedger;
use crate::plan::TablePlan;
use crate::source::chunk::ChunkRange;
use crate::source::copy;

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
        let mut rows = copy::open(client, &plan.copy, range, watch).await?;
        while let Some(batch) = rows.next_batch().await? {
            convert_rows(
                &plan.sink.name,
                &plan.conversions,
                &plan.arrow_schema,
                &batch,
                ledger,
            )
            .map_err(|e| Error::Convert {
                table: plan.source_name.clone(),
                column: e.column,
                reason: e.reason,
            })?;
            total += u64::try_from(batch.len()).unwrap_or(u64::MAX);
        }
    }
    Ok(total)
}
