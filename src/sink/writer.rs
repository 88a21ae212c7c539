//! The single SQLite writer: the only owner of the connection. It creates the
//! tables, inserts the batches the converters send, creates indexes once the
//! data is in, and commits.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::{Array, BinaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use crossbeam_channel::Receiver;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement};

use super::ddl::{SinkTable, SinkView};
use super::insert::BatchInsert;
use crate::error::{Error, Result};
use crate::mapping::ledger::LossLedger;
use crate::progress::Progress;

/// Rows per multi-row INSERT: amortises statement overhead, stays well under
/// SQLite's limit of 32766 bound parameters.
const ROWS_PER_INSERT: usize = 64;
const MAX_PARAMS: usize = 32_766;

/// What the readers and converters send to the writer.
pub enum WriterMessage {
    /// Converted rows of table `table`.
    Batch {
        table: usize,
        batch: RecordBatch,
        ledger: LossLedger,
    },
    /// A reader finished one chunk of `table` after reading `rows` rows.
    ChunkDone { table: usize, rows: u64 },
}

/// What the writer reports when it finished.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    pub rows_written: Vec<u64>,
    pub seconds: Vec<f64>,
    pub ledger: LossLedger,
}

struct TableState {
    chunks_left: usize,
    rows_read: u64,
    rows_written: u64,
    started: Option<Instant>,
    seconds: f64,
    done: bool,
}

/// Opens the staging database with pragmas that are only safe because the file is
/// thrown away on failure: no journal, no syncs until we fsync it ourselves.
pub fn open_staging(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(Error::sqlite("opening", path))?;
    conn.execute_batch(
        "PRAGMA page_size = 16384;
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -32768;
         PRAGMA foreign_keys = OFF;",
    )
    .map_err(Error::sqlite("setting staging pragmas", path))?;
    Ok(conn)
}

/// Runs the writer until every sender is gone. `chunks` is the number of chunks
/// planned per table, so the writer knows when a table is complete.
pub fn run(
    path: PathBuf,
    tables: &[SinkTable],
    views: &[SinkView],
    chunks: &[usize],
    rx: Receiver<WriterMessage>,
    progress: &Progress,
) -> Result<WriteOutcome> {
    let conn = open_staging(&path)?;
    let sql_err = |doing: String| Error::sqlite(doing, path.clone());
    conn.execute_batch("BEGIN")
        .map_err(sql_err("starting the load transaction".into()))?;
    // The app's own indexes on the tables whose rows are replaced, set aside
    // while the rows go in and built again, each in one sort, once they are
    // all there (`sync --full` of the 1M-row bench_wide into the file it
    // synced before: the copy took 4.9 s with its index kept, against 2.8 s
    // and 0.5 s for the index into a new file).
    let mut set_aside: Vec<(usize, String)> = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        if t.existing {
            // The app's table keeps its schema; its rows are replaced.
            for (name, sql) in super::existing::own_indexes(&conn, &t.name)
                .map_err(sql_err(format!("reading the indexes of {}", t.name)))?
            {
                conn.execute_batch(&format!("DROP INDEX {}", super::ddl::quote(&name)))
                    .map_err(sql_err(format!("setting index {name} aside")))?;
                set_aside.push((i, sql));
            }
            conn.execute_batch(&format!("DELETE FROM {}", super::ddl::quote(&t.name)))
                .map_err(sql_err(format!("emptying table {}", t.name)))?;
        } else {
            let sql = t.create_table_sql();
            tracing::debug!("sqlite: {sql}");
            conn.execute_batch(&sql)
                .map_err(sql_err(format!("creating table {}", t.name)))?;
        }
    }
    let mut state: Vec<TableState> = chunks
        .iter()
        .map(|&c| TableState {
            chunks_left: c,
            rows_read: 0,
            rows_written: 0,
            started: None,
            seconds: 0.0,
            done: false,
        })
        .collect();
    let mut inserts: Vec<TableInserts<'_>> =
        tables.iter().map(|_| TableInserts::default()).collect();
    let mut ledger = LossLedger::default();
    for (i, s) in state.iter_mut().enumerate() {
        if s.chunks_left == 0 {
            s.done = true;
            progress.table_done(i, &tables[i].name, 0, 0.0);
        }
    }
    for msg in rx {
        let table = match msg {
            WriterMessage::Batch {
                table,
                batch,
                ledger: l,
            } => {
                let t = &tables[table];
                let s = &mut state[table];
                s.started.get_or_insert_with(Instant::now);
                insert_batch(&conn, t, &mut inserts[table], &batch).map_err(|e| {
                    broken_rule(&t.name, &e)
                        .unwrap_or_else(|| sql_err(format!("inserting into {}", t.name))(e))
                })?;
                crate::failpoint::hit("copy.after-batch")?;
                let n = u64::try_from(batch.num_rows()).unwrap_or(u64::MAX);
                s.rows_written += n;
                ledger.merge(l);
                progress.rows_written(table, &t.name, n);
                table
            }
            WriterMessage::ChunkDone { table, rows } => {
                crate::failpoint::hit("copy.after-chunk")?;
                let s = &mut state[table];
                s.chunks_left = s.chunks_left.saturating_sub(1);
                s.rows_read += rows;
                table
            }
        };
        let s = &mut state[table];
        if !s.done && s.chunks_left == 0 && s.rows_written == s.rows_read {
            s.done = true;
            s.seconds = s.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            progress.table_done(table, &tables[table].name, s.rows_written, s.seconds);
        }
    }
    // Every sender is gone: either all chunks arrived, or a reader failed (the
    // pipeline reports that error instead of this one).
    for (i, s) in state.iter().enumerate() {
        if !s.done {
            return Err(Error::Integrity {
                table: tables[i].name.clone(),
                reason: format!(
                    "incomplete: {} chunk(s) missing, {} rows read, {} written",
                    s.chunks_left, s.rows_read, s.rows_written
                ),
            });
        }
    }
    // Statements are finalized before the connection closes.
    drop(inserts);
    conn.execute_batch(&index_build_pragmas())
        .map_err(sql_err("setting the cache size for the indexes".into()))?;
    let translated = tables.iter().flat_map(|t| {
        t.create_index_sqls()
            .into_iter()
            .map(move |sql| (t, sql, false))
    });
    let own = set_aside
        .into_iter()
        .map(|(i, sql)| (&tables[i], sql, true));
    for (t, sql, app_own) in translated.chain(own) {
        progress.phase(&format!("creating indexes on {}", t.name));
        tracing::debug!("sqlite: {sql}");
        conn.execute_batch(&sql).map_err(|e| {
            let broken = if app_own {
                broken_own_index(&t.name, &sql, &e)
            } else {
                broken_rule(&t.name, &e)
            };
            broken.unwrap_or_else(|| sql_err(format!("creating an index on {} ({sql})", t.name))(e))
        })?;
    }
    for v in views {
        progress.phase(&format!("creating view {}", v.name));
        tracing::debug!("sqlite: {}", v.sql);
        conn.execute_batch(&v.sql)
            .map_err(sql_err(format!("creating view {} ({})", v.name, v.sql)))?;
    }
    progress.phase("committing");
    crate::failpoint::hit("copy.before-commit")?;
    conn.execute_batch("COMMIT")
        .map_err(sql_err("committing".into()))?;
    crate::failpoint::hit("copy.after-commit")?;
    conn.execute_batch("PRAGMA journal_mode = DELETE")
        .map_err(sql_err("restoring the journal mode".into()))?;
    conn.close()
        .map_err(|(_, e)| Error::sqlite("closing", path.clone())(e))?;
    Ok(WriteOutcome {
        rows_written: state.iter().map(|s| s.rows_written).collect(),
        seconds: state.iter().map(|s| s.seconds).collect(),
        ledger,
    })
}

/// How the writer builds indexes once the rows are in. CREATE INDEX sorts
/// runs of entries as large as the cache, writes each to a temporary file and
/// merges them. Small runs sort in the CPU's caches, and with helper threads
/// SQLite sorts one run while the writer reads the next: the index on the 1M-row
/// wide table's timestamps took 1.32 s with one 16 MiB run at a time, 0.65 s
/// with 4 MiB runs and two helpers (and 20 instead of 37 MiB). The cache is
/// also what the writer's whole memory share is sized by.
fn index_build_pragmas() -> String {
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    format!("PRAGMA cache_size = -4096; PRAGMA threads = {helpers};")
}

/// A CHECK or unique index that copied rows break. PostgreSQL held the rows
/// under the same rule, so the translation of the rule is at fault: say so,
/// and how to sync the rest. `None` for any other error.
fn broken_rule(table: &str, e: &rusqlite::Error) -> Option<Error> {
    const CHECK: std::ffi::c_int = rusqlite::ffi::SQLITE_CONSTRAINT_CHECK;
    const UNIQUE: std::ffi::c_int = rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE;
    match e {
        rusqlite::Error::SqliteFailure(f, msg) if matches!(f.extended_code, CHECK | UNIQUE) => {
            Some(Error::Integrity {
                table: table.to_owned(),
                reason: format!(
                    "the copied rows break a rule as pg2sqlite translated it for SQLite ({}), \
                     although PostgreSQL holds them under that rule: the translation is wrong; \
                     please report it. Nothing was published; --exclude {table} syncs the \
                     other tables",
                    msg.as_deref().unwrap_or("constraint failed")
                ),
            })
        }
        _ => None,
    }
}

/// The app's own unique index (`sql`), which PostgreSQL's rows break: a rule
/// of the SQLite file that PostgreSQL never had.
fn broken_own_index(table: &str, sql: &str, e: &rusqlite::Error) -> Option<Error> {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            Some(Error::Integrity {
                table: table.to_owned(),
                reason: format!(
                    "PostgreSQL's rows break the target's own index `{sql}` ({}), a rule \
                     PostgreSQL does not have. Nothing was published; make the rows unique in \
                     PostgreSQL, drop the index from the file, or --exclude {table}",
                    msg.as_deref().unwrap_or("constraint failed")
                ),
            })
        }
        _ => None,
    }
}

/// A batch column, downcast once.
pub(crate) enum Col<'a> {
    Int(&'a Int64Array),
    Real(&'a Float64Array),
    Text(&'a StringArray),
    Blob(&'a BinaryArray),
}

impl Col<'_> {
    /// The value of `row` as SQLite takes it. SQLite turns a NaN REAL into NULL,
    /// so NaN is stored as the text `'NaN'` instead.
    pub(crate) fn value(&self, row: usize) -> ValueRef<'_> {
        match self {
            Col::Int(a) if a.is_valid(row) => ValueRef::Integer(a.value(row)),
            Col::Real(a) if a.is_valid(row) => {
                let v = a.value(row);
                if v.is_nan() {
                    ValueRef::Text(b"NaN")
                } else {
                    ValueRef::Real(v)
                }
            }
            Col::Text(a) if a.is_valid(row) => ValueRef::Text(a.value(row).as_bytes()),
            Col::Blob(a) if a.is_valid(row) => ValueRef::Blob(a.value(row)),
            _ => ValueRef::Null,
        }
    }
}

pub(crate) fn columns(batch: &RecordBatch) -> rusqlite::Result<Vec<Col<'_>>> {
    batch
        .columns()
        .iter()
        .map(|a| {
            let any = a.as_any();
            if let Some(x) = any.downcast_ref::<Int64Array>() {
                Ok(Col::Int(x))
            } else if let Some(x) = any.downcast_ref::<Float64Array>() {
                Ok(Col::Real(x))
            } else if let Some(x) = any.downcast_ref::<StringArray>() {
                Ok(Col::Text(x))
            } else if let Some(x) = any.downcast_ref::<BinaryArray>() {
                Ok(Col::Blob(x))
            } else {
                Err(rusqlite::Error::InvalidParameterName(format!(
                    "unexpected Arrow type {}",
                    a.data_type()
                )))
            }
        })
        .collect()
}

/// Binds the values of `row` to parameters `first`, `first + 1`, ….
pub(crate) fn bind_row(
    stmt: &mut Statement<'_>,
    cols: &[Col<'_>],
    row: usize,
    first: usize,
) -> rusqlite::Result<()> {
    for (c, col) in cols.iter().enumerate() {
        stmt.raw_bind_parameter(first + c, ToSqlOutput::Borrowed(col.value(row)))?;
    }
    Ok(())
}

/// Binds the written (not generated) columns of `row` to their own numbers
/// (`?1` for the first column): for statements that name only those.
pub(crate) fn bind_written(
    stmt: &mut Statement<'_>,
    cols: &[Col<'_>],
    row: usize,
    table: &SinkTable,
) -> rusqlite::Result<()> {
    for (c, (col, sink)) in cols.iter().zip(&table.columns).enumerate() {
        if sink.written() {
            stmt.raw_bind_parameter(c + 1, ToSqlOutput::Borrowed(col.value(row)))?;
        }
    }
    Ok(())
}

/// A table's prepared INSERTs, kept for the whole load: one of
/// [`ROWS_PER_INSERT`] rows (or fewer for very wide tables) and one of a
/// single row for a batch's remainder.
#[derive(Default)]
pub struct TableInserts<'conn> {
    many: Option<BatchInsert<'conn>>,
    one: Option<BatchInsert<'conn>>,
}

pub fn insert_batch<'conn>(
    conn: &'conn Connection,
    table: &SinkTable,
    inserts: &mut TableInserts<'conn>,
    batch: &RecordBatch,
) -> rusqlite::Result<()> {
    // Generated columns are SQLite's to compute: their values are not bound.
    let cols: Vec<Col<'_>> = columns(batch)?
        .into_iter()
        .zip(&table.columns)
        .filter(|(_, c)| c.written())
        .map(|(col, _)| col)
        .collect();
    let ncols = cols.len();
    let per_stmt = ROWS_PER_INSERT.min(MAX_PARAMS / ncols.max(1)).max(1);
    let n = batch.num_rows();
    let mut row = 0;
    if n >= per_stmt {
        let many = prepared(&mut inserts.many, conn, table, per_stmt, ncols)?;
        while row + per_stmt <= n {
            many.insert(&cols, row)?;
            row += per_stmt;
        }
    }
    if row < n {
        let one = prepared(&mut inserts.one, conn, table, 1, ncols)?;
        while row < n {
            one.insert(&cols, row)?;
            row += 1;
        }
    }
    Ok(())
}

/// The INSERT of `rows` rows of `columns` values in `slot`, prepared the first
/// time it is asked for.
fn prepared<'s, 'conn>(
    slot: &'s mut Option<BatchInsert<'conn>>,
    conn: &'conn Connection,
    table: &SinkTable,
    rows: usize,
    columns: usize,
) -> rusqlite::Result<&'s mut BatchInsert<'conn>> {
    Ok(match slot {
        Some(insert) => insert,
        None => slot.insert(BatchInsert::prepare(
            conn,
            &table.insert_sql(rows),
            rows,
            columns,
        )?),
    })
}
