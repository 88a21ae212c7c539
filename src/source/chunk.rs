//! Chunk planning: splitting a table so that one large table still keeps every
//! reader busy. Integer primary keys split into key ranges; anything else into
//! ranges of heap pages (`ctid`), or per partition for partitioned tables.

use super::catalog::quote_ident;

/// Rows per chunk we aim for: large enough that per-query overhead vanishes,
/// small enough that the last chunk does not leave readers idle for long.
pub const TARGET_CHUNK_ROWS: f64 = 250_000.0;
/// Never more chunks than this per table.
pub const MAX_CHUNKS: usize = 256;

/// Which rows of a table one chunk reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkRange {
    /// The whole relation.
    All,
    /// `key >= lo AND key < hi` on an integer key; open ends are unbounded.
    IntKey {
        column: String,
        lo: Option<i64>,
        hi: Option<i64>,
    },
    /// Heap pages `[lo, hi)` by `ctid`; open ends are unbounded.
    Pages { lo: Option<u64>, hi: Option<u64> },
    /// One leaf partition, read with `ONLY`.
    Partition { schema: String, name: String },
    /// The rows of a delta: cursor later than `since` (a timestamp this program
    /// formatted), or NULL, since a row without a cursor may have changed.
    Changed { cursor: String, since: String },
    /// The rows of `within` whose key falls in one of `buckets`: the first
    /// four hex digits of `md5(key)`, `key` being verification's canonical key
    /// expression. How a content comparison reads just the differing rows.
    Buckets {
        within: Box<ChunkRange>,
        key: String,
        buckets: Vec<String>,
    },
    /// The rows whose integer key is one of `keys`: the differing rows a
    /// content comparison found one by one.
    Keys { column: String, keys: Vec<i64> },
    /// The row versions written by transactions whose 32-bit id is in the
    /// `window` ids from `from` on, modulo 2^32 (see `source::horizon`).
    WrittenSince { from: i64, window: i64 },
}

impl ChunkRange {
    /// The rows' condition as a boolean SQL expression (`true`: every row).
    pub fn condition(&self) -> String {
        self.predicate()
            .strip_prefix(" WHERE ")
            .map_or_else(|| "true".to_owned(), |c| format!("({c})"))
    }

    /// The `WHERE` clause (with a leading space), or an empty string.
    pub fn predicate(&self) -> String {
        match self {
            ChunkRange::All | ChunkRange::Partition { .. } => String::new(),
            ChunkRange::Buckets {
                within,
                key,
                buckets,
            } => {
                let outer = within.predicate();
                // Bucket names are four hex digits (verify::checksum::bucket_hex).
                let list: Vec<String> = buckets
                    .iter()
                    .filter(|b| b.bytes().all(|c| c.is_ascii_hexdigit()))
                    .map(|b| format!("'{b}'"))
                    .collect();
                format!(
                    "{} substr(md5({key}), 1, 4) IN ({})",
                    if outer.is_empty() {
                        " WHERE".to_owned()
                    } else {
                        format!("{outer} AND")
                    },
                    if list.is_empty() {
                        "NULL".to_owned()
                    } else {
                        list.join(", ")
                    }
                )
            }
            ChunkRange::Keys { column, keys } => {
                let list: Vec<String> = keys.iter().map(i64::to_string).collect();
                format!(
                    " WHERE {} IN ({})",
                    quote_ident(column),
                    if list.is_empty() {
                        "NULL".to_owned()
                    } else {
                        list.join(", ")
                    }
                )
            }
            ChunkRange::WrittenSince { from, window } => {
                format!(" WHERE (xmin::text::int8 - {from} + 4294967296) % 4294967296 < {window}")
            }
            ChunkRange::Changed { cursor, since } => {
                let c = quote_ident(cursor);
                format!(
                    " WHERE ({c} > '{}'::timestamptz OR {c} IS NULL)",
                    since.replace('\'', "''")
                )
            }
            ChunkRange::IntKey { column, lo, hi } => {
                let c = quote_ident(column);
                match (lo, hi) {
                    (None, None) => String::new(),
                    (Some(l), None) => format!(" WHERE {c} >= {l}"),
                    (None, Some(h)) => format!(" WHERE {c} < {h}"),
                    (Some(l), Some(h)) => format!(" WHERE {c} >= {l} AND {c} < {h}"),
                }
            }
            ChunkRange::Pages { lo, hi } => match (lo, hi) {
                (None, None) => String::new(),
                (Some(l), None) => format!(" WHERE ctid >= '({l},0)'::tid"),
                (None, Some(h)) => format!(" WHERE ctid < '({h},0)'::tid"),
                (Some(l), Some(h)) => {
                    format!(" WHERE ctid >= '({l},0)'::tid AND ctid < '({h},0)'::tid")
                }
            },
        }
    }
}

/// How many chunks a table of `rows` estimated rows gets.
pub fn chunk_count(estimated_rows: f64) -> usize {
    // NaN and negative estimates (never analyzed) mean one chunk.
    if estimated_rows.is_nan() || estimated_rows <= TARGET_CHUNK_ROWS {
        return 1;
    }
    let n = (estimated_rows / TARGET_CHUNK_ROWS).ceil();
    // n is finite and > 1 here; MAX_CHUNKS bounds it.
    let mut count = 1usize;
    while count < MAX_CHUNKS && (count as f64) < n {
        count += 1;
    }
    count
}

/// Splits `[min, max]` into `parts` contiguous key ranges; the first is open
/// below and the last open above, so no row can fall outside all ranges.
pub fn split_key_range(min: i64, max: i64, parts: usize) -> Vec<(Option<i64>, Option<i64>)> {
    let span = i128::from(max) - i128::from(min) + 1;
    let parts_i = i128::try_from(parts.max(1)).unwrap_or(1).min(span.max(1));
    if parts_i <= 1 {
        return vec![(None, None)];
    }
    let mut bounds = Vec::new();
    for i in 1..parts_i {
        let b = i128::from(min) + span * i / parts_i;
        bounds.push(i64::try_from(b).unwrap_or(i64::MAX));
    }
    bounds.dedup();
    let mut out = Vec::with_capacity(bounds.len() + 1);
    let mut lo = None;
    for b in bounds {
        out.push((lo, Some(b)));
        lo = Some(b);
    }
    out.push((lo, None));
    out
}

/// Splits `pages` heap pages into `parts` ranges, open at both ends.
pub fn split_pages(pages: u64, parts: usize) -> Vec<(Option<u64>, Option<u64>)> {
    let parts = u64::try_from(parts.max(1)).unwrap_or(1).min(pages.max(1));
    if parts <= 1 {
        return vec![(None, None)];
    }
    let mut out = Vec::new();
    let mut lo = None;
    for i in 1..parts {
        let b = pages * i / parts;
        out.push((lo, Some(b)));
        lo = Some(b);
    }
    out.push((lo, None));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_cover_everything() {
        assert_eq!(split_key_range(1, 100, 1), vec![(None, None)]);
        assert_eq!(
            split_key_range(1, 100, 4),
            vec![
                (None, Some(26)),
                (Some(26), Some(51)),
                (Some(51), Some(76)),
                (Some(76), None)
            ]
        );
        // more parts than keys
        assert_eq!(
            split_key_range(5, 6, 8),
            vec![(None, Some(6)), (Some(6), None)]
        );
        // the full i64 range does not overflow
        assert_eq!(
            split_key_range(i64::MIN, i64::MAX, 2),
            vec![(None, Some(0)), (Some(0), None)]
        );
    }

    #[test]
    fn page_ranges() {
        assert_eq!(split_pages(0, 4), vec![(None, None)]);
        assert_eq!(
            split_pages(10, 3),
            vec![(None, Some(3)), (Some(3), Some(6)), (Some(6), None)]
        );
    }

    #[test]
    fn counts() {
        assert_eq!(chunk_count(-1.0), 1);
        assert_eq!(chunk_count(f64::NAN), 1);
        assert_eq!(chunk_count(1_000_000.0), 4);
        assert_eq!(chunk_count(1e12), MAX_CHUNKS);
    }

    #[test]
    fn predicates_quote_columns() {
        let r = ChunkRange::IntKey {
            column: "Order".into(),
            lo: Some(1),
            hi: Some(5),
        };
        assert_eq!(r.predicate(), " WHERE \"Order\" >= 1 AND \"Order\" < 5");
    }
}
