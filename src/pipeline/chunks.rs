//! How tables are split into chunks: the units of reading work of a copy, and
//! the ranges a delta compares by content.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::plan::{ChunkStrategy, SyncPlan, TablePlan};
use crate::source::catalog::quote_ident;
use crate::source::chunk::{chunk_count, split_key_range, split_pages, ChunkRange};

/// One unit of reading work: a range of one table of the plan.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub table: usize,
    pub range: ChunkRange,
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
