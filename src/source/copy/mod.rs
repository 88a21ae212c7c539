//! Binary COPY out of PostgreSQL: the query for one chunk, and its rows read a
//! batch at a time ([`batch`]), watched for stalls: a COPY that sends nothing
//! is reported every [`WAIT_REPORT`] and fails, naming the table and chunk,
//! after the `--stall-timeout`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio_postgres::{Client, CopyOutStream};

mod batch;

use batch::Parsed;
pub use batch::{RawBatch, BATCH_BYTES, BATCH_ROWS};

use super::catalog::quote_ident;
use super::chunk::ChunkRange;
use crate::error::{Error, Result};

/// What a reader needs to know to read a table.
#[derive(Debug, Clone)]
pub struct CopySource {
    /// `"schema"."table"`.
    pub relation: String,
    pub partitioned: bool,
    /// Select expressions, one per column, e.g. `"addr"::text`.
    pub select_list: Vec<String>,
    /// Whether every expression is a bare column, allowing `COPY t (cols) TO`.
    pub plain_columns: bool,
    /// Column names, for the plain form.
    pub column_names: Vec<String>,
}

impl CopySource {
    /// The `COPY … TO STDOUT (FORMAT binary)` statement for one chunk.
    pub fn copy_sql(&self, range: &ChunkRange) -> String {
        if *range == ChunkRange::All && self.plain_columns && !self.partitioned {
            let cols: Vec<String> = self.column_names.iter().map(|c| quote_ident(c)).collect();
            return format!(
                "COPY {} ({}) TO STDOUT (FORMAT binary)",
                self.relation,
                cols.join(", ")
            );
        }
        format!(
            "COPY (SELECT {} FROM {}) TO STDOUT (FORMAT binary)",
            self.select_list.join(", "),
            self.from_clause(range)
        )
    }

    /// `ONLY "s"."t" WHERE …`: the relation and predicate of one chunk.
    pub fn from_clause(&self, range: &ChunkRange) -> String {
        let mut relation_range = range;
        while let ChunkRange::Buckets { within, .. } = relation_range {
            relation_range = within;
        }
        let from = match relation_range {
            ChunkRange::Partition { schema, name } => {
                format!("ONLY {}.{}", quote_ident(schema), quote_ident(name))
            }
            // A partitioned parent includes its partitions; an ordinary table must
            // not include inheritance children, which are copied on their own.
            _ if self.partitioned => self.relation.clone(),
            _ => format!("ONLY {}", self.relation),
        };
        format!("{from}{}", range.predicate())
    }
}

/// How often a COPY that sends nothing is reported as waiting.
pub const WAIT_REPORT: Duration = Duration::from_secs(15);

/// Called with a "waiting for …" line while a COPY sends nothing.
pub type OnWait = Arc<dyn Fn(String) + Send + Sync>;

/// How long a COPY may send nothing, and whom to tell while it waits.
#[derive(Clone)]
pub struct StallWatch {
    pub timeout: Duration,
    pub on_wait: OnWait,
}

impl StallWatch {
    /// A watch that only fails, telling no one while it waits.
    pub fn silent(timeout: Duration) -> StallWatch {
        StallWatch {
            timeout,
            on_wait: Arc::new(|_| {}),
        }
    }

    /// Waits for `work`, reporting every [`WAIT_REPORT`] and failing after the
    /// timeout with what `what` names.
    async fn bound<T>(
        &self,
        what: &(dyn Fn() -> (String, String) + Send + Sync),
        work: impl std::future::Future<Output = T>,
    ) -> Result<T> {
        futures_util::pin_mut!(work);
        let mut waited = Duration::ZERO;
        loop {
            let slice = WAIT_REPORT.min(self.timeout.saturating_sub(waited));
            match tokio::time::timeout(slice, &mut work).await {
                Ok(done) => return Ok(done),
                Err(_) => {
                    waited += slice;
                    let (relation, chunk) = what();
                    if waited >= self.timeout {
                        return Err(Error::Stalled {
                            relation,
                            chunk,
                            seconds: waited.as_secs(),
                        });
                    }
                    (self.on_wait)(format!(
                        "waiting for PostgreSQL: {relation}{chunk}: nothing received for {} s \
                         (gives up after {} s, --stall-timeout)",
                        waited.as_secs(),
                        self.timeout.as_secs()
                    ));
                }
            }
        }
    }
}

/// Opens the COPY of one chunk, to be read a batch at a time.
pub async fn open(
    client: &Client,
    source: &CopySource,
    range: &ChunkRange,
    watch: &StallWatch,
) -> Result<CopyRows> {
    let sql = source.copy_sql(range);
    let relation = source.relation.clone();
    let predicate = range.predicate();
    let stream = {
        let what = || (relation.clone(), predicate.clone());
        watch
            .bound(&what, client.copy_out(&sql))
            .await?
            .map_err(Error::pg(format!("starting COPY of {}", source.relation)))?
    };
    Ok(CopyRows {
        stream: Box::pin(stream),
        columns: source.select_list.len(),
        header: false,
        ended: false,
        next: None,
        watch: watch.clone(),
        relation,
        predicate,
    })
}

/// The rows of one COPY. Reading fails (it does not end cleanly) if the
/// server stops before the COPY's trailer, sends what is not binary COPY
/// data, or sends nothing for as long as the watch allows.
pub struct CopyRows {
    stream: std::pin::Pin<Box<CopyOutStream>>,
    columns: usize,
    /// Whether the COPY's header has been read.
    header: bool,
    /// Whether the trailer has been read.
    ended: bool,
    /// The next batch, empty, with room for as much as the last one held.
    next: Option<RawBatch>,
    watch: StallWatch,
    relation: String,
    predicate: String,
}

impl CopyRows {
    /// The next batch of rows (at most [`BATCH_ROWS`] rows, or about
    /// [`BATCH_BYTES`]); `None` after the last.
    pub async fn next_batch(&mut self) -> Result<Option<RawBatch>> {
        let mut batch = self
            .next
            .take()
            .unwrap_or_else(|| RawBatch::new(self.columns));
        while !self.ended && !batch.is_full() {
            let message = self.next_message().await?;
            let parsed = batch
                .push_message(&message, &mut self.header)
                .map_err(|reason| Error::CopyData {
                    relation: format!("{}{}", self.relation, self.predicate),
                    reason,
                })?;
            self.ended = parsed == Parsed::Trailer;
        }
        if batch.is_empty() {
            return Ok(None);
        }
        self.next = Some(RawBatch::like(&batch));
        Ok(Some(batch))
    }

    /// The next CopyData message. Most are already buffered: only one that
    /// has to be waited for gets a timer.
    async fn next_message(&mut self) -> Result<Bytes> {
        let CopyRows {
            stream,
            watch,
            relation,
            predicate,
            ..
        } = self;
        let mut next = stream.next();
        let item = match futures_util::FutureExt::now_or_never(&mut next) {
            Some(ready) => ready,
            None => {
                let what = || (relation.clone(), predicate.clone());
                watch.bound(&what, next).await?
            }
        };
        match item {
            Some(Ok(message)) => Ok(message),
            Some(Err(e)) => Err(Error::Postgres {
                doing: format!("reading {relation}"),
                source: e,
            }),
            None => Err(Error::CopyData {
                relation: format!("{relation}{predicate}"),
                reason: "it ended before its trailer".into(),
            }),
        }
    }
}

/// Appends a value as binary COPY (and `array_send`) lay it out: a 32-bit
/// length, −1 for NULL, then its bytes. For tests that build rows by hand.
#[cfg(test)]
pub(crate) fn push_test_value(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(b) => {
            let len = i32::try_from(b.len()).unwrap_or(i32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(plain: bool) -> CopySource {
        CopySource {
            relation: "\"public\".\"Users\"".into(),
            partitioned: false,
            select_list: vec!["\"id\"".into(), "\"ip\"::text".into()],
            plain_columns: plain,
            column_names: vec!["id".into(), "ip".into()],
        }
    }

    #[test]
    fn whole_table_uses_plain_copy_when_possible() {
        assert_eq!(
            src(true).copy_sql(&ChunkRange::All),
            "COPY \"public\".\"Users\" (\"id\", \"ip\") TO STDOUT (FORMAT binary)"
        );
        assert_eq!(
            src(false).copy_sql(&ChunkRange::Pages { lo: Some(3), hi: None }),
            "COPY (SELECT \"id\", \"ip\"::text FROM ONLY \"public\".\"Users\" WHERE ctid >= '(3,0)'::tid) TO STDOUT (FORMAT binary)"
        );
    }
}
