//! The merge writer: the one owner of the target's connection during a delta
//! merge. For every PostgreSQL row of the delta it looks the key up in SQLite
//! and in the base, lets [`decide_row`] choose, writes, and records in the base
//! what it left; all inside the caller's transaction.
//!
//! It also checksums what the merge leaves behind, row by row as it goes: every
//! row that should now equal PostgreSQL's is read back from SQLite and hashed in
//! verification's canonical form, and every row SQLite kept in a conflict is
//! hashed from PostgreSQL's values. The sums must equal PostgreSQL's own sums
//! over the same delta, so the merge is verified at the cost of the change.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use crossbeam_channel::Receiver;
use rusqlite::Connection;

use super::base::{self, base_key, fingerprint, Ancestor, BaseKey};
use super::cursor;
use super::decide::{decide_row, Cursor, ExistingRow, RowDecision, Winner};
use super::deletes::LISTED;
use super::state::{key_json, record_conflict, ConflictKind, ConflictRecord, MergeCounts};
use super::unique::{self, LiftedIndex};
use crate::error::{Error, Result};
use crate::mapping::format::Format;
use crate::mapping::ledger::LossLedger;
use crate::plan::TablePlan;
use crate::progress::Progress;
use crate::sink::ddl::quote;
use crate::sink::writer::{bind_row, bind_written, columns, WriterMessage};
use crate::verify::{RecordBuffers, TableCheck};

/// Conflicts listed in the summary per table; `_pg2sqlite_conflicts` has all.
pub const CONFLICTS_LISTED: usize = 20;

/// One table of a merge.
#[derive(Debug, Clone)]
pub struct MergeTable {
    /// The columns merged: those both sides have.
    pub plan: TablePlan,
    /// Positions of the key columns among them.
    pub key: Vec<usize>,
    pub cursor: Option<usize>,
    /// The cutover of this run; `None` for a table merged in full.
    pub since: Cursor,
    pub base: BaseUse,
    /// Keys of rows SQLite deleted that are brought back all the same: rows
    /// this merge wrote point at them (their foreign keys would break).
    pub restore: std::sync::Arc<HashSet<BaseKey>>,
}

/// The base a table is merged against and keeps up to date.
#[derive(Debug, Clone, Copy)]
pub struct BaseUse {
    /// The base's id in `_pg2sqlite_base_tables`.
    pub tid: i64,
    /// Whether it held the last sync's rows when the run began. An untrusted
    /// base is being built: the since-time rules decide, and the base records
    /// their results.
    pub trusted: bool,
}

/// What the merge did to one table.
#[derive(Debug, Default)]
pub struct TableMerge {
    pub counts: MergeCounts,
    /// Count and hash sum of the delta as the file now holds it (see module doc).
    pub totals: (u64, u64),
    pub conflicts: Vec<ConflictRecord>,
    pub seconds: f64,
    /// Rowids of the rows the merge inserted or replaced.
    pub written: HashSet<i64>,
    /// Keys (`id=7`) of PostgreSQL rows the merge read and did not insert,
    /// since SQLite deleted them (`kept_sqlite_deletes`), the first
    /// [`LISTED`]: rows SQLite still lacks after the merge.
    pub kept_deleted: Vec<String>,
}

impl TableMerge {
    /// Adds what a later pass over the same table did.
    pub fn absorb(&mut self, later: TableMerge) {
        self.counts.add(&later.counts);
        self.totals.0 += later.totals.0;
        self.totals.1 = self.totals.1.wrapping_add(later.totals.1);
        let room = CONFLICTS_LISTED.saturating_sub(self.conflicts.len());
        self.conflicts
            .extend(later.conflicts.into_iter().take(room));
        self.seconds += later.seconds;
        self.written.extend(later.written);
        let room = LISTED.saturating_sub(self.kept_deleted.len());
        self.kept_deleted
            .extend(later.kept_deleted.into_iter().take(room));
    }
}

/// The merge's result; the connection is still inside its transaction.
pub struct MergeOutcome {
    pub conn: Connection,
    pub tables: Vec<TableMerge>,
    pub ledger: LossLedger,
}

struct Statements {
    probe: String,
    insert: String,
    update: Option<String>,
    delete: String,
    read_back: String,
    /// A scratch copy of the table (same column affinities) in which a row
    /// SQLite kept is stored as PostgreSQL has it, to hash it as SQLite would
    /// hold it.
    scratch: [String; 4],
}

fn statements(t: &MergeTable) -> Statements {
    let cols = &t.plan.sink.columns;
    let name = quote(&t.plan.sink.name);
    let key_match: Vec<String> = t
        .key
        .iter()
        .map(|&k| format!("{} = ?{}", quote(&cols[k].name), k + 1))
        .collect();
    let same: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} IS ?{}", quote(&c.name), i + 1))
        .collect();
    let cursor = t
        .cursor
        .map_or_else(|| "NULL".to_owned(), |i| quote(&cols[i].name));
    // Generated columns are read and compared, never written.
    let set: Vec<String> = cols
        .iter()
        .enumerate()
        .filter(|(i, c)| !t.key.contains(i) && c.written())
        .map(|(i, c)| format!("{} = ?{}", quote(&c.name), i + 1))
        .collect();
    let names: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let (written_names, written_params): (Vec<String>, Vec<String>) = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c.written())
        .map(|(i, c)| (quote(&c.name), format!("?{}", i + 1)))
        .unzip();
    Statements {
        // Comparing inside SQLite applies the column's affinity to the bound
        // value, exactly as storing it would.
        probe: format!(
            "SELECT rowid, {cursor}, ({}), {} FROM {name} WHERE {}",
            same.join(" AND "),
            names.join(", "),
            key_match.join(" AND ")
        ),
        insert: format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            written_names.join(", "),
            written_params.join(", ")
        ),
        update: (!set.is_empty()).then(|| {
            format!(
                "UPDATE {name} SET {} WHERE {}",
                set.join(", "),
                key_match.join(" AND ")
            )
        }),
        delete: format!("DELETE FROM {name} WHERE rowid = ?1"),
        read_back: format!("SELECT {} FROM {name} WHERE rowid = ?1", names.join(", ")),
        scratch: {
            let scratch = format!(
                "temp.{}",
                quote(&format!("_pg2sqlite_kept_{}", t.plan.sink.name))
            );
            [
                format!(
                    "CREATE TABLE IF NOT EXISTS {scratch} AS SELECT {} FROM {name} LIMIT 0",
                    names.join(", ")
                ),
                format!(
                    "INSERT INTO {scratch} ({}) VALUES ({})",
                    names.join(", "),
                    params.join(", ")
                ),
                format!("SELECT {} FROM {scratch}", names.join(", ")),
                format!("DELETE FROM {scratch}"),
            ]
        },
    }
}

/// Applies the delta batches to the tables, then hands the connection back
/// with the transaction still open.
pub fn run(
    conn: Connection,
    path: &Path,
    tables: &[MergeTable],
    rx: Receiver<WriterMessage>,
    progress: &Progress,
    run_at: &str,
) -> Result<MergeOutcome> {
    let mut out: Vec<TableMerge> = tables.iter().map(|_| TableMerge::default()).collect();
    let mut ledger = LossLedger::default();
    let stmts: Vec<Statements> = tables.iter().map(statements).collect();
    let checks: Vec<TableCheck<'_>> = tables.iter().map(|t| TableCheck::new(&t.plan)).collect();
    let mut buffers = RecordBuffers::default();
    let mut lifted: Vec<LiftedIndex> = Vec::new();
    for msg in rx {
        let WriterMessage::Batch {
            table,
            batch,
            ledger: l,
        } = msg
        else {
            continue;
        };
        let t = &tables[table];
        let started = Instant::now();
        let doing = format!("merging into {}", t.plan.sink.name);
        let merged = merge_batch(
            &conn,
            t,
            &stmts[table],
            &checks[table],
            &batch,
            &mut out[table],
            &mut buffers,
            run_at,
            &mut lifted,
        )
        .map_err(Error::sqlite(doing, path))?;
        crate::failpoint::hit("merge.after-batch")?;
        ledger.merge(l);
        out[table].seconds += started.elapsed().as_secs_f64();
        progress.rows_written(table, &t.plan.sink.name, merged);
    }
    unique::restore(&conn, &lifted, path)?;
    Ok(MergeOutcome {
        conn,
        tables: out,
        ledger,
    })
}

/// One row read from SQLite, in both of its hashes.
struct StoredRow {
    /// Verification's canonical hash (the same PostgreSQL computes).
    canonical: u64,
    /// The base's fingerprint of the stored values.
    fingerprint: i64,
    key: BaseKey,
}

/// The merged columns of a row read from SQLite, starting at column `first`.
fn stored_values<'r>(
    r: &'r rusqlite::Row<'_>,
    first: usize,
    t: &MergeTable,
) -> rusqlite::Result<Vec<rusqlite::types::ValueRef<'r>>> {
    (0..t.plan.sink.columns.len())
        .map(|i| r.get_ref(first + i))
        .collect()
}

fn stored_row(
    r: &rusqlite::Row<'_>,
    first: usize,
    t: &MergeTable,
    check: &TableCheck<'_>,
    buffers: &mut RecordBuffers,
) -> rusqlite::Result<StoredRow> {
    let values = stored_values(r, first, t)?;
    Ok(StoredRow {
        canonical: check.row_hash(|i| Ok(values[i]), buffers)?,
        key: base_key(t.key.iter().map(|&k| values[k])),
        fingerprint: fingerprint(values),
    })
}

/// The SQLite row with key of the PostgreSQL row being merged.
struct Probed {
    rowid: i64,
    row: ExistingRow,
    cursor_shown: Option<String>,
    key: BaseKey,
    /// Its canonical hash, taken only when it already equals PostgreSQL's row
    /// (it is then not written, so there is nothing to read back); other rows
    /// are hashed as the merge leaves them.
    canonical: Option<u64>,
}

#[allow(clippy::too_many_arguments)]
fn merge_batch(
    conn: &Connection,
    t: &MergeTable,
    sql: &Statements,
    check: &TableCheck<'_>,
    batch: &arrow_array::RecordBatch,
    out: &mut TableMerge,
    buffers: &mut RecordBuffers,
    run_at: &str,
    lifted: &mut Vec<LiftedIndex>,
) -> rusqlite::Result<u64> {
    let cols = columns(batch)?;
    let cursor_format = t
        .cursor
        .map_or(Format::Default, |i| t.plan.conversions[i].format);
    let trusted = t.base.trusted.then_some(t.base.tid);
    let mut probe = conn.prepare_cached(&sql.probe)?;
    let mut read_back = conn.prepare_cached(&sql.read_back)?;
    let n = batch.num_rows();
    for row in 0..n {
        bind_row(&mut probe, &cols, row, 1)?;
        let existing = {
            let mut rows = probe.raw_query();
            match rows.next()? {
                Some(r) => {
                    let cursor_value = r.get_ref(1)?;
                    let same_content = r.get::<_, Option<i64>>(2)? == Some(1);
                    let values = stored_values(r, 3, t)?;
                    let canonical = if same_content {
                        Some(check.row_hash(|i| Ok(values[i]), buffers)?)
                    } else {
                        None
                    };
                    Some(Probed {
                        rowid: r.get(0)?,
                        key: base_key(t.key.iter().map(|&k| values[k])),
                        row: ExistingRow {
                            cursor: cursor::read(cursor_value, cursor_format),
                            same_content,
                            fingerprint: fingerprint(values),
                        },
                        cursor_shown: cursor::display(cursor_value),
                        canonical,
                    })
                }
                None => None,
            }
        };
        let pg_cursor_value = t.cursor.map(|i| cols[i].value(row));
        let pg_cursor = pg_cursor_value.and_then(|v| cursor::read(v, cursor_format));
        out.counts.read += 1;
        // PostgreSQL's row as SQLite stores it: what the merge wrote and read
        // back, or its copy in the scratch table.
        let (decision, written, inserted) = match &existing {
            None => {
                let mut insert = conn.prepare_cached(&sql.insert)?;
                bind_written(&mut insert, &cols, row, &t.plan.sink)?;
                unique::execute(conn, &mut insert, &t.plan.sink.name, lifted)?;
                let rowid = conn.last_insert_rowid();
                let stored = read_row(&mut read_back, rowid, t, check, buffers)?;
                let ancestor = base::lookup(conn, trusted, &stored.key)?;
                let mut d = decide_row(pg_cursor, None, t.since, ancestor, || {
                    Ok::<_, rusqlite::Error>(stored.fingerprint)
                })?;
                if d == RowDecision::KeepSqliteDelete && t.restore.contains(&stored.key) {
                    d = RowDecision::Conflict(Winner::Postgres);
                }
                if d == RowDecision::KeepSqliteDelete {
                    conn.prepare_cached(&sql.delete)?.execute([rowid])?;
                }
                (d, stored, Some(rowid))
            }
            Some(e) => {
                let ancestor = base::lookup(conn, trusted, &e.key)?;
                let mut scratch = None;
                let d = decide_row(pg_cursor, Some(e.row), t.since, ancestor, || {
                    let s = scratch_row(conn, sql, &cols, row, t, check, buffers)?;
                    let fp = s.fingerprint;
                    scratch = Some(s);
                    Ok::<_, rusqlite::Error>(fp)
                })?;
                let written = match d {
                    RowDecision::Unchanged => {
                        if ancestor != Ancestor::Row(e.row.fingerprint) {
                            base::store(conn, t.base.tid, &e.key, e.row.fingerprint)?;
                        }
                        match e.canonical {
                            // Identical: hashed from the probe, nothing to read back.
                            Some(canonical) => StoredRow {
                                canonical,
                                fingerprint: e.row.fingerprint,
                                key: e.key.clone(),
                            },
                            None => read_row(&mut read_back, e.rowid, t, check, buffers)?,
                        }
                    }
                    RowDecision::Update | RowDecision::Conflict(Winner::Postgres) => {
                        if let Some(update) = &sql.update {
                            let mut update = conn.prepare_cached(update)?;
                            bind_written(&mut update, &cols, row, &t.plan.sink)?;
                            unique::execute(conn, &mut update, &t.plan.sink.name, lifted)?;
                        }
                        read_row(&mut read_back, e.rowid, t, check, buffers)?
                    }
                    // SQLite's row stays: PostgreSQL's is accounted for as SQLite
                    // would have stored it.
                    _ => match scratch {
                        Some(s) => s,
                        None => scratch_row(conn, sql, &cols, row, t, check, buffers)?,
                    },
                };
                (d, written, None)
            }
        };
        match decision {
            RowDecision::Insert => out.counts.inserted += 1,
            RowDecision::Update => out.counts.updated += 1,
            RowDecision::Unchanged => out.counts.unchanged += 1,
            RowDecision::KeepSqlite => out.counts.kept_sqlite_changes += 1,
            RowDecision::KeepSqliteDelete => {
                out.counts.kept_sqlite_deletes += 1;
                if out.kept_deleted.len() < LISTED {
                    out.kept_deleted.push(key_display(t, &cols, row));
                }
            }
            RowDecision::Conflict(winner) => {
                out.counts.conflicts += 1;
                match (winner, &existing) {
                    (Winner::Sqlite, _) => out.counts.kept_sqlite += 1,
                    (Winner::Postgres, Some(_)) => out.counts.updated += 1,
                    (Winner::Postgres, None) => out.counts.inserted += 1,
                }
                let record = ConflictRecord {
                    table: t.plan.sink.name.clone(),
                    key: key_json(
                        t.key
                            .iter()
                            .map(|&k| (t.plan.sink.columns[k].name.as_str(), cols[k].value(row))),
                    ),
                    kind: if existing.is_some() {
                        ConflictKind::Update
                    } else {
                        ConflictKind::DeletedInSqlite
                    },
                    postgres_cursor: pg_cursor_value.and_then(cursor::display),
                    sqlite_cursor: existing.as_ref().and_then(|e| e.cursor_shown.clone()),
                    winner,
                };
                record_conflict(conn, run_at, &record)?;
                if out.conflicts.len() < CONFLICTS_LISTED {
                    out.conflicts.push(record);
                }
            }
        }
        // The base now holds PostgreSQL's row: either SQLite has it, or SQLite's
        // own change was kept over it (the next run sees SQLite changed, and
        // PostgreSQL not, until PostgreSQL changes it again).
        if !matches!(
            decision,
            RowDecision::Unchanged | RowDecision::KeepSqliteDelete
        ) {
            base::store(conn, t.base.tid, &written.key, written.fingerprint)?;
        }
        match (decision, inserted, &existing) {
            (RowDecision::Insert | RowDecision::Conflict(Winner::Postgres), Some(rowid), _) => {
                out.written.insert(rowid);
            }
            (RowDecision::Update | RowDecision::Conflict(Winner::Postgres), _, Some(e)) => {
                out.written.insert(e.rowid);
            }
            _ => {}
        }
        out.totals.0 += 1;
        out.totals.1 = out.totals.1.wrapping_add(written.canonical);
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A key as the summary lists it: `id=7`, or `a=1, b=2`.
fn key_display(t: &MergeTable, cols: &[crate::sink::writer::Col<'_>], row: usize) -> String {
    t.key
        .iter()
        .map(|&k| {
            let value = cursor::display(cols[k].value(row)).unwrap_or_else(|| "NULL".into());
            format!("{}={value}", t.plan.sink.columns[k].name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_row(
    read_back: &mut rusqlite::CachedStatement<'_>,
    rowid: i64,
    t: &MergeTable,
    check: &TableCheck<'_>,
    buffers: &mut RecordBuffers,
) -> rusqlite::Result<StoredRow> {
    let mut rows = read_back.query([rowid])?;
    match rows.next()? {
        Some(r) => stored_row(r, 0, t, check, buffers),
        None => Err(rusqlite::Error::QueryReturnedNoRows),
    }
}

/// PostgreSQL's row stored in the scratch copy of the table and read back.
#[allow(clippy::too_many_arguments)]
fn scratch_row(
    conn: &Connection,
    sql: &Statements,
    cols: &[crate::sink::writer::Col<'_>],
    row: usize,
    t: &MergeTable,
    check: &TableCheck<'_>,
    buffers: &mut RecordBuffers,
) -> rusqlite::Result<StoredRow> {
    let [create, insert, select, clear] = &sql.scratch;
    conn.execute_batch(create)?;
    let mut insert = conn.prepare_cached(insert)?;
    bind_row(&mut insert, cols, row, 1)?;
    insert.raw_execute()?;
    let stored = {
        let mut select = conn.prepare_cached(select)?;
        let mut rows = select.query([])?;
        match rows.next()? {
            Some(r) => stored_row(r, 0, t, check, buffers)?,
            None => return Err(rusqlite::Error::QueryReturnedNoRows),
        }
    };
    conn.execute_batch(clear)?;
    Ok(stored)
}
