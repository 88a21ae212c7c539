//! Which keys one side has and the other lacks, without reading every row: the
//! key sets are hashed into buckets on both sides (PostgreSQL on the server),
//! and only the keys of buckets that differ are read. A delta merge finds the
//! rows PostgreSQL deleted this way.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::Connection;
use tokio_postgres::Client;

use super::checksum::{bucket, bucket_hex, md5, parse_pg_sum, Buckets};
use super::{sqlite_buckets, sqlite_row, TableCheck};
use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::chunk::ChunkRange;

/// A SQLite row whose key PostgreSQL does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOnly {
    pub rowid: i64,
    /// `id=7` for messages.
    pub key: String,
}

/// The keys found on one side only.
#[derive(Debug, Clone, Default)]
pub struct KeyDifference {
    pub sqlite_only: Vec<SqliteOnly>,
    /// Keys of PostgreSQL rows SQLite lacks, as `id=7`.
    pub postgres_only: Vec<String>,
}

/// Compares the primary-key sets of `plan`'s table in PostgreSQL (through
/// `client`, inside the caller's snapshot) and in SQLite (through `conn`, inside
/// the caller's transaction). The table must have a primary key.
pub async fn key_difference(
    client: &Client,
    plan: &TablePlan,
    conn: &Connection,
    path: &Path,
) -> Result<KeyDifference> {
    let full = TableCheck::new(plan);
    if !full.has_key {
        return Err(Error::Integrity {
            table: plan.source_name.clone(),
            reason: "key comparison needs a primary key".into(),
        });
    }
    let keys_plan = plan.with_columns(&full.key);
    let check = TableCheck::new(&keys_plan);
    let range = ChunkRange::All;
    let doing = || format!("comparing the keys of {}", plan.source_name);

    let mut pg = Buckets::default();
    for r in client
        .query(&check.pg_bucket_sql(&range), &[])
        .await
        .map_err(Error::pg(doing()))?
    {
        let hex: String = r.try_get(0).map_err(Error::pg(doing()))?;
        let count: i64 = r.try_get(1).map_err(Error::pg(doing()))?;
        let sum: Option<String> = r.try_get(2).map_err(Error::pg(doing()))?;
        let b = u16::from_str_radix(&hex, 16).map_err(|_| Error::Integrity {
            table: plan.source_name.clone(),
            reason: format!("unexpected bucket {hex:?} from PostgreSQL"),
        })?;
        pg.add(
            b,
            u64::try_from(count).unwrap_or(0),
            sum.as_deref().and_then(parse_pg_sum).unwrap_or(0),
        );
    }
    let lite = sqlite_buckets(conn, &check, &range).map_err(Error::sqlite(doing(), path))?;
    let differing = pg.differing(&lite);
    if differing.is_empty() {
        return Ok(KeyDifference::default());
    }

    let hexes: Vec<String> = differing.iter().map(|b| bucket_hex(*b)).collect();
    let n = keys_plan.sink.columns.len();
    let mut pg_keys: HashMap<String, String> = HashMap::new();
    for r in client
        .query(&check.pg_rows_sql(&range), &[&hexes])
        .await
        .map_err(Error::pg(doing()))?
    {
        let values = (0..n)
            .map(|i| r.try_get::<_, Option<String>>(i))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Error::pg(doing()))?;
        pg_keys.insert(check.texts(&values).0, check.key_display(&values));
    }

    let wanted: HashSet<u16> = differing.into_iter().collect();
    let cols: Vec<String> = keys_plan
        .sink
        .columns
        .iter()
        .map(|c| quote(&c.name))
        .collect();
    let sql = format!(
        "SELECT {}, rowid FROM {}",
        cols.join(", "),
        quote(&keys_plan.sink.name)
    );
    let mut lite_keys: HashSet<String> = HashSet::new();
    let mut diff = KeyDifference::default();
    let read =
        |diff: &mut KeyDifference, lite_keys: &mut HashSet<String>| -> rusqlite::Result<()> {
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let values = sqlite_row(&check, row)?;
                let key = check.texts(&values).0;
                if !wanted.contains(&bucket(&md5(&key))) {
                    continue;
                }
                if !pg_keys.contains_key(&key) {
                    diff.sqlite_only.push(SqliteOnly {
                        rowid: row.get(n)?,
                        key: check.key_display(&values),
                    });
                }
                lite_keys.insert(key);
            }
            Ok(())
        };
    read(&mut diff, &mut lite_keys).map_err(Error::sqlite(doing(), path))?;
    diff.postgres_only = pg_keys
        .into_iter()
        .filter(|(k, _)| !lite_keys.contains(k))
        .map(|(_, display)| display)
        .collect();
    diff.postgres_only.sort();
    Ok(diff)
}
