//! Which keys one side has and the other lacks, without reading every row: the
//! key sets are hashed into buckets on both sides (PostgreSQL on the server),
//! and only the keys of buckets that differ are read. A delta merge finds the
//! rows PostgreSQL deleted this way.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use futures_util::StreamExt;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tokio_postgres::Client;

use super::checksum::{bucket, bucket_hex, md5, parse_pg_sum, Buckets};
use super::{sqlite_buckets, sqlite_row, TableCheck, NOT_AS_MAPPED};
use crate::error::{Error, Result};
use crate::mapping::decode::push_hex;
use crate::mapping::types::ValueKind;
use crate::plan::TablePlan;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;

/// A SQLite row whose key PostgreSQL does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOnly {
    pub rowid: i64,
    /// `id=7` for messages.
    pub key: String,
}

/// Keys of PostgreSQL rows SQLite lacks listed by name at most.
pub const POSTGRES_ONLY_LISTED: usize = 100;

/// The keys found on one side only.
#[derive(Debug, Clone, Default)]
pub struct KeyDifference {
    pub sqlite_only: Vec<SqliteOnly>,
    /// SQLite rows whose key is not stored as the mapping writes it, so it cannot
    /// be matched to a PostgreSQL key: never candidates for deletion.
    pub unrecognized: Vec<String>,
    pub unrecognized_count: u64,
    /// Keys of PostgreSQL rows SQLite lacks, as `id=7` (the first
    /// [`POSTGRES_ONLY_LISTED`]), and how many there are.
    pub postgres_only: Vec<String>,
    pub postgres_only_count: u64,
}

impl KeyDifference {
    fn add_postgres_only(&mut self, key: impl FnOnce() -> String) {
        self.postgres_only_count += 1;
        if self.postgres_only.len() < POSTGRES_ONLY_LISTED {
            self.postgres_only.push(key());
        }
    }
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
    if let [k] = full.key[..] {
        if let Some(kind) = SortedKind::of(&plan.conversions[k].kind) {
            if let Some(diff) = sorted_difference(client, plan, k, kind, conn, path).await? {
                return Ok(diff);
            }
        }
    }
    bucket_difference(client, plan, &full.key, conn, path).await
}

/// The bucket method: any key, two scans per side.
async fn bucket_difference(
    client: &Client,
    plan: &TablePlan,
    key: &[usize],
    conn: &Connection,
    path: &Path,
) -> Result<KeyDifference> {
    let keys_plan = plan.with_columns(key);
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
                let mapped = values
                    .iter()
                    .all(|v| !v.as_deref().is_some_and(|v| v.starts_with(NOT_AS_MAPPED)));
                if !mapped {
                    diff.unrecognized_count += 1;
                    if diff.unrecognized.len() < POSTGRES_ONLY_LISTED {
                        diff.unrecognized
                            .push(format!("rowid {}", row.get::<_, i64>(n)?));
                    }
                } else if !pg_keys.contains_key(&key) {
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
    let mut missing: Vec<String> = pg_keys
        .into_iter()
        .filter(|(k, _)| !lite_keys.contains(k))
        .map(|(_, display)| display)
        .collect();
    missing.sort();
    for m in missing {
        diff.add_postgres_only(|| m);
    }
    Ok(diff)
}

/// Single-column keys whose order is the same in PostgreSQL and in SQLite's
/// stored form, so both sides can be read sorted and merged in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortedKind {
    Integer,
    /// Text in byte order (`COLLATE "C"`, SQLite's BINARY).
    Text,
    /// uuid in byte order; SQLite's form (dashed or not, any case, or 16 bytes)
    /// is compared as 32 lowercase hex digits.
    Uuid,
}

impl SortedKind {
    fn of(kind: &ValueKind) -> Option<SortedKind> {
        match kind {
            ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => Some(SortedKind::Integer),
            ValueKind::Text => Some(SortedKind::Text),
            ValueKind::Uuid => Some(SortedKind::Uuid),
            _ => None,
        }
    }
}

/// A key in a form both sides agree on, ordered as both sides sort it
/// (SQLite sorts integers before text).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortedKey {
    Int(i64),
    Text(String),
    /// Anything else SQLite holds in the key column; never equal to a
    /// PostgreSQL key, and it ends the sorted method (order unknown).
    Other,
}

impl SortedKey {
    fn from_sqlite(v: ValueRef<'_>, kind: SortedKind) -> SortedKey {
        match (kind, v) {
            (SortedKind::Integer, ValueRef::Integer(i)) => SortedKey::Int(i),
            (SortedKind::Text, ValueRef::Text(t)) => {
                SortedKey::Text(String::from_utf8_lossy(t).into_owned())
            }
            (SortedKind::Uuid, ValueRef::Text(t)) => {
                let hex: String = String::from_utf8_lossy(t)
                    .chars()
                    .filter(|c| *c != '-')
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                SortedKey::Text(hex)
            }
            (SortedKind::Uuid, ValueRef::Blob(b)) if b.len() == 16 => {
                let mut hex = String::with_capacity(32);
                for byte in b {
                    push_hex(&mut hex, *byte);
                }
                SortedKey::Text(hex)
            }
            _ => SortedKey::Other,
        }
    }

    fn display(&self, column: &str) -> String {
        match self {
            SortedKey::Int(i) => format!("{column}={i}"),
            SortedKey::Text(t) => format!("{column}={t}"),
            SortedKey::Other => format!("{column}=(not a key value)"),
        }
    }
}

async fn next_pg_key(
    rows: &mut std::pin::Pin<&mut tokio_postgres::RowStream>,
    kind: SortedKind,
    doing: &str,
) -> Result<Option<SortedKey>> {
    match rows.next().await {
        None => Ok(None),
        Some(Err(e)) => Err(Error::pg(doing)(e)),
        Some(Ok(r)) => Ok(Some(match kind {
            SortedKind::Integer => SortedKey::Int(r.try_get(0).map_err(Error::pg(doing))?),
            SortedKind::Text | SortedKind::Uuid => {
                SortedKey::Text(r.try_get(0).map_err(Error::pg(doing))?)
            }
        })),
    }
}

/// The sorted method: both key columns read in order and merged, nothing but
/// the differences kept. `None` when SQLite's stored keys turn out not to sort
/// like PostgreSQL's (mixed representations): the caller uses buckets instead.
async fn sorted_difference(
    client: &Client,
    plan: &TablePlan,
    key: usize,
    kind: SortedKind,
    conn: &Connection,
    path: &Path,
) -> Result<Option<KeyDifference>> {
    let column = &plan.sink.columns[key].name;
    let pg_column = quote_ident(column);
    let (select, order) = match kind {
        SortedKind::Integer => (format!("{pg_column}::int8"), pg_column.clone()),
        SortedKind::Text => (
            format!("{pg_column}::text"),
            format!("{pg_column} COLLATE \"C\""),
        ),
        SortedKind::Uuid => (
            format!("replace({pg_column}::text, '-', '')"),
            pg_column.clone(),
        ),
    };
    let doing = || format!("comparing the keys of {}", plan.source_name);
    let pg_sql = format!(
        "SELECT {select} FROM {} ORDER BY {order}",
        plan.copy.from_clause(&ChunkRange::All)
    );
    let rows = client
        .query_raw(&pg_sql, std::iter::empty::<i32>())
        .await
        .map_err(Error::pg(doing()))?;
    futures_util::pin_mut!(rows);
    let what = doing();
    let sqlite_sql = format!(
        "SELECT {c}, rowid FROM {t} ORDER BY {c}{collate}",
        c = quote(column),
        t = quote(&plan.sink.name),
        collate = if kind == SortedKind::Integer {
            ""
        } else {
            " COLLATE BINARY"
        }
    );
    let mut stmt = conn
        .prepare(&sqlite_sql)
        .map_err(Error::sqlite(what.as_str(), path))?;
    let mut lite_rows = stmt.query([]).map_err(Error::sqlite(what.as_str(), path))?;
    let mut next_lite = || -> Result<Option<(SortedKey, i64)>> {
        match lite_rows
            .next()
            .map_err(Error::sqlite(what.as_str(), path))?
        {
            None => Ok(None),
            Some(r) => {
                let v = r.get_ref(0).map_err(Error::sqlite(what.as_str(), path))?;
                let rowid: i64 = r.get(1).map_err(Error::sqlite(what.as_str(), path))?;
                Ok(Some((SortedKey::from_sqlite(v, kind), rowid)))
            }
        }
    };

    let mut diff = KeyDifference::default();
    let mut pg = next_pg_key(&mut rows, kind, &what).await?;
    let mut lite = next_lite()?;
    let mut last_lite: Option<SortedKey> = None;
    loop {
        if let Some((k, _)) = &lite {
            if *k == SortedKey::Other || last_lite.as_ref().is_some_and(|l| l > k) {
                return Ok(None);
            }
        }
        match (&pg, &lite) {
            (None, None) => break,
            (Some(p), Some((l, _))) if p == l => {
                last_lite = lite.take().map(|x| x.0);
                pg = next_pg_key(&mut rows, kind, &what).await?;
                lite = next_lite()?;
            }
            (Some(p), Some((l, _))) if p < l => {
                diff.add_postgres_only(|| p.display(column));
                pg = next_pg_key(&mut rows, kind, &what).await?;
            }
            (Some(p), None) => {
                diff.add_postgres_only(|| p.display(column));
                pg = next_pg_key(&mut rows, kind, &what).await?;
            }
            (_, Some((l, rowid))) => {
                diff.sqlite_only.push(SqliteOnly {
                    rowid: *rowid,
                    key: l.display(column),
                });
                last_lite = lite.take().map(|x| x.0);
                lite = next_lite()?;
            }
        }
    }
    Ok(Some(diff))
}
