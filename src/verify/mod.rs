//! Verification: row counts and content checksums of every table on both
//! sides, narrowed down to the differing rows, plus SQLite's own health checks.
//!
//! PostgreSQL hashes on the server (`md5` over the canonical text, summed per
//! bucket), so an unchanged table costs one scan there and nothing travels but
//! bucket sums. Only buckets that differ are read row by row, from both sides.

pub mod canonical;
pub mod checksum;
pub mod report;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::mapping::types::ValueKind;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::ddl::quote;
use crate::source::chunk::ChunkRange;
use checksum::{
    bucket, bucket_hex, md5, parse_pg_sum, pg_text_expr, push_value, row_hash, Buckets,
};
pub use report::{ChangedRow, Health, TableStatus, TableVerdict, VerifyReport};

/// At most this many differing buckets are read row by row per table.
const MAX_BUCKETS_TO_LOCATE: usize = 64;
/// At most this many keys are listed per kind of difference.
pub const MAX_KEYS_LISTED: usize = 10;

/// What verification needs to know about one table.
struct TableCheck<'a> {
    plan: &'a TablePlan,
    /// Indices of the key columns: the primary key, or every column.
    key: Vec<usize>,
    has_key: bool,
}

impl<'a> TableCheck<'a> {
    fn new(plan: &'a TablePlan) -> TableCheck<'a> {
        let names: Vec<&str> = plan.sink.columns.iter().map(|c| c.name.as_str()).collect();
        match &plan.sink.primary_key {
            Some(pk) => TableCheck {
                plan,
                key: pk
                    .iter()
                    .filter_map(|k| names.iter().position(|n| n == k))
                    .collect(),
                has_key: true,
            },
            None => TableCheck {
                plan,
                key: (0..names.len()).collect(),
                has_key: false,
            },
        }
    }

    fn kind(&self, i: usize) -> &ValueKind {
        &self.plan.conversions[i].kind
    }

    /// `SELECT e1 AS c0, … FROM … OFFSET 0`: canonical columns, computed once.
    fn pg_canonical_select(&self, range: &ChunkRange) -> String {
        let cols: Vec<String> = self
            .plan
            .sink
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{} AS c{i}",
                    canonical::pg_expression(&c.name, self.kind(i), c.storage, c.declared)
                )
            })
            .collect();
        format!(
            "SELECT {} FROM {} OFFSET 0",
            cols.join(", "),
            self.plan.copy.from_clause(range)
        )
    }

    fn pg_key_text(&self) -> String {
        pg_text_expr(&self.key.iter().map(|i| format!("c{i}")).collect::<Vec<_>>())
    }

    fn pg_row_text(&self) -> String {
        pg_text_expr(
            &(0..self.plan.sink.columns.len())
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>(),
        )
    }

    fn pg_bucket_sql(&self, range: &ChunkRange) -> String {
        format!(
            "SELECT substr(k, 1, 4), count(*)::int8, sum(('x' || substr(r, 1, 16))::bit(64)::int8)::text
               FROM (SELECT md5({}) AS k, md5({}) AS r FROM ({}) s) h
              GROUP BY 1",
            self.pg_key_text(),
            self.pg_row_text(),
            self.pg_canonical_select(range)
        )
    }

    fn pg_rows_sql(&self) -> String {
        let cols: Vec<String> = (0..self.plan.sink.columns.len())
            .map(|i| format!("c{i}"))
            .collect();
        format!(
            "SELECT {} FROM ({}) s WHERE substr(md5({}), 1, 4) = ANY($1)",
            cols.join(", "),
            self.pg_canonical_select(&ChunkRange::All),
            self.pg_key_text()
        )
    }

    fn sqlite_select(&self) -> String {
        let cols: Vec<String> = self
            .plan
            .sink
            .columns
            .iter()
            .map(|c| quote(&c.name))
            .collect();
        format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            quote(&self.plan.sink.name)
        )
    }

    /// Key text, row text of one row of canonical values.
    fn texts(&self, row: &[Option<String>]) -> (String, String) {
        let mut key = String::new();
        for &i in &self.key {
            push_value(&mut key, row[i].as_deref());
        }
        let mut text = String::new();
        for v in row {
            push_value(&mut text, v.as_deref());
        }
        (key, text)
    }

    fn key_display(&self, row: &[Option<String>]) -> String {
        if !self.has_key {
            return String::from("(row without key)");
        }
        self.key
            .iter()
            .map(|&i| {
                format!(
                    "{}={}",
                    self.plan.sink.columns[i].name,
                    row[i].as_deref().unwrap_or("NULL")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads one SQLite row as canonical values; a value the mapping could not have
/// written becomes a marker that matches nothing on the PostgreSQL side.
fn sqlite_row(
    check: &TableCheck<'_>,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Vec<Option<String>>> {
    let n = check.plan.sink.columns.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let v = row.get_ref(i)?;
        let declared = check.plan.sink.columns[i].declared;
        out.push(
            match canonical::sqlite_canonical(v, check.kind(i), declared) {
                Ok(c) => c,
                Err(e) => Some(format!("\u{0}not as mapped: {}", e.0)),
            },
        );
    }
    Ok(out)
}

fn sqlite_buckets(conn: &Connection, check: &TableCheck<'_>) -> rusqlite::Result<Buckets> {
    let mut stmt = conn.prepare(&check.sqlite_select())?;
    let mut rows = stmt.query([])?;
    let mut buckets = Buckets::default();
    while let Some(row) = rows.next()? {
        let values = sqlite_row(check, row)?;
        let (key, text) = check.texts(&values);
        buckets.add(bucket(&md5(&key)), 1, row_hash(&md5(&text)));
    }
    Ok(buckets)
}

fn sqlite_rows_in(
    conn: &Connection,
    check: &TableCheck<'_>,
    wanted: &HashSet<u16>,
) -> rusqlite::Result<Vec<Vec<Option<String>>>> {
    let mut stmt = conn.prepare(&check.sqlite_select())?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = sqlite_row(check, row)?;
        let (key, _) = check.texts(&values);
        if wanted.contains(&bucket(&md5(&key))) {
            out.push(values);
        }
    }
    Ok(out)
}

/// Opens the SQLite file for reading, refusing anything that is not SQLite.
pub fn open_sqlite(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::Target {
            path: path.to_path_buf(),
            reason: "does not exist or is not a file".into(),
        });
    }
    if !crate::sink::staging::is_sqlite_file(path)? {
        return Err(Error::Target {
            path: path.to_path_buf(),
            reason: "is not a SQLite database".into(),
        });
    }
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(Error::sqlite("opening for verification", path))
}

fn sqlite_tables(conn: &Connection, path: &Path) -> Result<HashSet<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .map_err(Error::sqlite("listing tables", path))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<String>>>())
        .map_err(Error::sqlite("listing tables", path))?;
    Ok(names)
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
pub fn sqlite_health(path: &Path) -> Result<Health> {
    let conn = open_sqlite(path)?;
    let mut integrity = Vec::new();
    {
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(Error::sqlite("checking integrity", path))?;
        let mut rows = stmt
            .query([])
            .map_err(Error::sqlite("checking integrity", path))?;
        while let Some(r) = rows
            .next()
            .map_err(Error::sqlite("checking integrity", path))?
        {
            let line: String = r
                .get(0)
                .map_err(Error::sqlite("checking integrity", path))?;
            if line != "ok" {
                integrity.push(line);
            }
        }
    }
    let mut foreign_keys = Vec::new();
    let mut fk_violations = 0u64;
    {
        let mut stmt = conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(Error::sqlite("checking foreign keys", path))?;
        let mut rows = stmt
            .query([])
            .map_err(Error::sqlite("checking foreign keys", path))?;
        while let Some(r) = rows
            .next()
            .map_err(Error::sqlite("checking foreign keys", path))?
        {
            fk_violations += 1;
            if foreign_keys.len() < MAX_KEYS_LISTED {
                let table: String = r.get(0).unwrap_or_default();
                let rowid: Option<i64> = r.get(1).unwrap_or_default();
                let parent: String = r.get(2).unwrap_or_default();
                foreign_keys.push(format!(
                    "{table} rowid {} references a missing row of {parent}",
                    rowid.map_or_else(|| "?".into(), |r| r.to_string())
                ));
            }
        }
    }
    Ok(Health {
        integrity,
        foreign_key_violations: fk_violations,
        foreign_keys,
    })
}

/// Compares every table of the plan between PostgreSQL (through `clients`, all in
/// one snapshot) and the SQLite file at `path`.
pub async fn verify(
    clients: &[Client],
    plan: &SyncPlan,
    chunks: &[crate::pipeline::Chunk],
    path: &Path,
) -> Result<VerifyReport> {
    let started = std::time::Instant::now();
    let conn = open_sqlite(path)?;
    let present = sqlite_tables(&conn, path)?;
    drop(conn);

    // PostgreSQL side: bucket sums per chunk, spread over the connections.
    let pg_buckets: Arc<Mutex<Vec<Buckets>>> =
        Arc::new(Mutex::new(vec![Buckets::default(); plan.tables.len()]));
    let queue: Arc<Mutex<Vec<&crate::pipeline::Chunk>>> =
        Arc::new(Mutex::new(chunks.iter().rev().collect()));
    let checks: Vec<TableCheck<'_>> = plan.tables.iter().map(TableCheck::new).collect();
    let pg_side = async {
        let workers = clients.iter().map(|client| {
            let queue = queue.clone();
            let pg_buckets = pg_buckets.clone();
            let checks = &checks;
            async move {
                loop {
                    let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(chunk) = next else {
                        return Ok::<(), Error>(());
                    };
                    let check = &checks[chunk.table];
                    let rows = client
                        .query(&check.pg_bucket_sql(&chunk.range), &[])
                        .await
                        .map_err(Error::pg(format!(
                            "checksumming {}",
                            check.plan.source_name
                        )))?;
                    let mut b = Buckets::default();
                    for r in rows {
                        let hex: String = r.get(0);
                        let count: i64 = r.get(1);
                        let sum: Option<String> = r.get(2);
                        let bucket =
                            u16::from_str_radix(&hex, 16).map_err(|_| Error::Integrity {
                                table: check.plan.source_name.clone(),
                                reason: format!("unexpected bucket {hex:?} from PostgreSQL"),
                            })?;
                        let sum = sum.as_deref().and_then(parse_pg_sum).unwrap_or(0);
                        b.add(bucket, u64::try_from(count).unwrap_or(0), sum);
                    }
                    if let Ok(mut all) = pg_buckets.lock() {
                        all[chunk.table].merge(&b);
                    }
                }
            }
        });
        futures_util::future::try_join_all(workers)
            .await
            .map(|_| ())
    };

    // SQLite side, on a blocking thread while PostgreSQL works.
    let sqlite_side = {
        let path = path.to_path_buf();
        let plan_tables: Vec<TablePlan> = plan.tables.clone();
        let present = present.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<Option<Buckets>>> {
            let conn = open_sqlite(&path)?;
            plan_tables
                .iter()
                .map(|t| {
                    if !present.contains(&t.sink.name) {
                        return Ok(None);
                    }
                    let check = TableCheck::new(t);
                    sqlite_buckets(&conn, &check)
                        .map(Some)
                        .map_err(Error::sqlite(
                            format!("checksumming {}", t.sink.name),
                            &path,
                        ))
                })
                .collect()
        })
    };
    let (pg_result, sqlite_result) = tokio::join!(pg_side, sqlite_side);
    pg_result?;
    let sqlite_buckets_all = sqlite_result
        .map_err(|e| Error::Aborted(format!("the SQLite checksum thread failed: {e}")))??;
    let pg_buckets = pg_buckets.lock().map(|b| b.clone()).unwrap_or_default();

    let mut verdicts = Vec::with_capacity(plan.tables.len());
    let conn = open_sqlite(path)?;
    for (i, check) in checks.iter().enumerate() {
        let pg = &pg_buckets[i];
        let Some(lite) = &sqlite_buckets_all[i] else {
            verdicts.push(TableVerdict::missing_table(check.plan, pg.rows()));
            continue;
        };
        let differing = pg.differing(lite);
        let mut verdict = TableVerdict::new(check.plan, pg.rows(), lite.rows());
        if !differing.is_empty() {
            verdict.status = TableStatus::Mismatch;
            locate(&clients[0], &conn, path, check, &differing, &mut verdict).await?;
        }
        verdicts.push(verdict);
    }
    drop(conn);
    let health = sqlite_health(path)?;
    Ok(VerifyReport {
        tables: verdicts,
        health,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Reads the rows of the differing buckets from both sides and names the
/// missing, extra and changed keys (and the changed columns).
async fn locate(
    client: &Client,
    conn: &Connection,
    path: &Path,
    check: &TableCheck<'_>,
    differing: &[u16],
    verdict: &mut TableVerdict,
) -> Result<()> {
    let chosen: Vec<u16> = differing
        .iter()
        .take(MAX_BUCKETS_TO_LOCATE)
        .copied()
        .collect();
    if differing.len() > chosen.len() {
        verdict.unlocated_buckets = differing.len() - chosen.len();
    }
    let hexes: Vec<String> = chosen.iter().map(|b| bucket_hex(*b)).collect();
    let pg_rows = client
        .query(&check.pg_rows_sql(), &[&hexes])
        .await
        .map_err(Error::pg(format!(
            "locating differences in {}",
            check.plan.source_name
        )))?;
    let pg_rows: Vec<Vec<Option<String>>> = pg_rows
        .iter()
        .map(|r| {
            (0..check.plan.sink.columns.len())
                .map(|i| r.get(i))
                .collect()
        })
        .collect();
    let wanted: HashSet<u16> = chosen.into_iter().collect();
    let lite_rows = sqlite_rows_in(conn, check, &wanted).map_err(Error::sqlite(
        format!("locating differences in {}", check.plan.sink.name),
        path,
    ))?;

    if check.has_key {
        let index = |rows: Vec<Vec<Option<String>>>| -> BTreeMap<String, Vec<Option<String>>> {
            rows.into_iter().map(|r| (check.texts(&r).0, r)).collect()
        };
        let pg = index(pg_rows);
        let lite = index(lite_rows);
        for (k, row) in &pg {
            match lite.get(k) {
                None => verdict.missing.push(check.key_display(row)),
                Some(other) if other != row => {
                    let columns = row
                        .iter()
                        .zip(other)
                        .enumerate()
                        .filter(|(_, (a, b))| a != b)
                        .map(|(i, _)| check.plan.sink.columns[i].name.clone())
                        .collect();
                    verdict.changed.push(ChangedRow {
                        key: check.key_display(row),
                        columns,
                    });
                }
                Some(_) => {}
            }
        }
        for (k, row) in &lite {
            if !pg.contains_key(k) {
                verdict.extra.push(check.key_display(row));
            }
        }
    } else {
        // A multiset of rows: count each distinct row on both sides.
        let mut counts: BTreeMap<String, (i64, Vec<Option<String>>)> = BTreeMap::new();
        for r in pg_rows {
            let t = check.texts(&r).1;
            counts.entry(t).or_insert((0, r)).0 += 1;
        }
        for r in lite_rows {
            let t = check.texts(&r).1;
            counts.entry(t).or_insert((0, r)).0 -= 1;
        }
        for (_, (n, row)) in counts {
            let preview = preview_row(check, &row);
            for _ in 0..n.max(0) {
                verdict.missing.push(preview.clone());
            }
            for _ in 0..(-n).max(0) {
                verdict.extra.push(preview.clone());
            }
        }
    }
    Ok(())
}

fn preview_row(check: &TableCheck<'_>, row: &[Option<String>]) -> String {
    let mut s: String = check
        .plan
        .sink
        .columns
        .iter()
        .zip(row)
        .map(|(c, v)| format!("{}={}", c.name, v.as_deref().unwrap_or("NULL")))
        .collect::<Vec<_>>()
        .join(", ");
    if s.chars().count() > 120 {
        s = s.chars().take(119).collect::<String>() + "…";
    }
    format!("({s})")
}
