//! Binary COPY out of PostgreSQL: the query for one chunk, and the row stream,
//! watched for stalls: a COPY that sends nothing is reported every
//! [`WAIT_REPORT`] and fails, naming the table and chunk, after the
//! `--stall-timeout`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

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

/// Opens the COPY stream for one chunk. The stream yields rows and ends with an
/// error (not a clean end) if the server stops before the COPY trailer, or sends
/// nothing for as long as `watch` allows.
pub async fn open(
    client: &Client,
    source: &CopySource,
    range: &ChunkRange,
    watch: &StallWatch,
) -> Result<impl futures_util::Stream<Item = Result<BinaryCopyOutRow>>> {
    let sql = source.copy_sql(range);
    let relation = source.relation.clone();
    let predicate = range.predicate();
    let what = move || (relation.clone(), predicate.clone());
    let stream = watch
        .bound(&what, client.copy_out(&sql))
        .await?
        .map_err(Error::pg(format!("starting COPY of {}", source.relation)))?;
    // Decoding is ours (see mapping::convert), so the declared types only need the
    // right count: raw bytes are read whatever the type.
    let types = vec![Type::BYTEA; source.select_list.len()];
    let rows = Box::pin(BinaryCopyOutStream::new(stream, &types));
    let watch = watch.clone();
    Ok(futures_util::stream::unfold(
        Some((rows, watch, what)),
        |state| async move {
            let (mut rows, watch, what) = state?;
            // Most rows are already buffered: only a row that has to be waited
            // for gets a timer.
            let mut next = rows.next();
            let item = match futures_util::FutureExt::now_or_never(&mut next) {
                Some(ready) => Ok(ready),
                None => watch.bound(&what, next).await,
            };
            match item {
                Ok(Some(Ok(row))) => Some((Ok(row), Some((rows, watch, what)))),
                Ok(Some(Err(e))) => Some((
                    Err(Error::Postgres {
                        doing: format!("reading {}", what().0),
                        source: e,
                    }),
                    None,
                )),
                Ok(None) => None,
                Err(stalled) => Some((Err(stalled), None)),
            }
        },
    ))
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
