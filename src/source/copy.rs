//! Binary COPY out of PostgreSQL: the query for one chunk, and the row stream.

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

/// Opens the COPY stream for one chunk. The stream yields rows and ends with an
/// error (not a clean end) if the server stops before the COPY trailer.
pub async fn open(
    client: &Client,
    source: &CopySource,
    range: &ChunkRange,
) -> Result<impl futures_util::Stream<Item = Result<BinaryCopyOutRow>>> {
    let sql = source.copy_sql(range);
    let stream = client
        .copy_out(&sql)
        .await
        .map_err(Error::pg(format!("starting COPY of {}", source.relation)))?;
    // Decoding is ours (see mapping::convert), so the declared types only need the
    // right count: raw bytes are read whatever the type.
    let types = vec![Type::BYTEA; source.select_list.len()];
    let relation = source.relation.clone();
    Ok(BinaryCopyOutStream::new(stream, &types).map(move |r| {
        r.map_err(|e| Error::Postgres {
            doing: format!("reading {relation}"),
            source: e,
        })
    }))
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
