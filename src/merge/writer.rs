//! The merge writer: the one owner of the target's connection during a delta
//! merge. For every PostgreSQL row of the delta it looks the key up in SQLite,
//! lets [`decide_row`] choose, and writes; all inside the caller's transaction.
//!
//! It also checksums what the merge leaves behind, row by row as it goes: every
//! row that should now equal PostgreSQL's is read back from SQLite and hashed in
//! verification's canonical form, and every row SQLite kept in a conflict is
//! hashed from PostgreSQL's values. The sums must equal PostgreSQL's own sums
//! over the same delta, so the merge is verified at the cost of the change.

use std::path::Path;
use std::time::Instant;

use crossbeam_channel::Receiver;
use rusqlite::Connection;

use super::cursor;
use super::decide::{decide_row, Cursor, ExistingRow, RowDecision, Winner};
use super::state::{key_json, record_conflict, ConflictKind, ConflictRecord, MergeCounts};
use crate::error::{Error, Result};
use crate::mapping::format::Format;
use crate::mapping::ledger::LossLedger;
use crate::plan::TablePlan;
use crate::progress::Progress;
use crate::sink::ddl::quote;
use crate::sink::writer::{bind_row, columns, WriterMessage};
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
}

/// What the merge did to one table.
#[derive(Debug, Default)]
pub struct TableMerge {
    pub counts: MergeCounts,
    /// Count and hash sum of the delta as the file now holds it (see module doc).
    pub totals: (u64, u64),
    pub conflicts: Vec<ConflictRecord>,
    pub seconds: f64,
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
    let set: Vec<String> = cols
        .iter()
        .enumerate()
        .filter(|(i, _)| !t.key.contains(i))
        .map(|(i, c)| format!("{} = ?{}", quote(&c.name), i + 1))
        .collect();
    let names: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
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
            names.join(", "),
            params.join(", ")
        ),
        update: (!set.is_empty()).then(|| {
            format!(
                "UPDATE {name} SET {} WHERE {}",
                set.join(", "),
                key_match.join(" AND ")
            )
        }),
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
        )
        .map_err(Error::sqlite(doing, path))?;
        ledger.merge(l);
        out[table].seconds += started.elapsed().as_secs_f64();
        progress.rows_written(table, &t.plan.sink.name, merged);
    }
    Ok(MergeOutcome {
        conn,
        tables: out,
        ledger,
    })
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
) -> rusqlite::Result<u64> {
    let cols = columns(batch)?;
    let cursor_format = t
        .cursor
        .map_or(Format::Default, |i| t.plan.conversions[i].format);
    let mut probe = conn.prepare_cached(&sql.probe)?;
    let mut read_back = conn.prepare_cached(&sql.read_back)?;
    let n = batch.num_rows();
    for row in 0..n {
        bind_row(&mut probe, &cols, row, 1)?;
        let existing = {
            let mut rows = probe.raw_query();
            match rows.next()? {
                Some(r) => {
                    let rowid: i64 = r.get(0)?;
                    let cursor_value = r.get_ref(1)?;
                    let same = r.get::<_, Option<i64>>(2)? == Some(1);
                    // An identical row is hashed as it is stored, here: it
                    // will not be written, so there is nothing to read back.
                    let stored_hash = if same {
                        Some(check.row_hash(|i| r.get_ref(3 + i), buffers)?)
                    } else {
                        None
                    };
                    Some((
                        rowid,
                        ExistingRow {
                            cursor: cursor::read(cursor_value, cursor_format),
                            same_content: same,
                        },
                        cursor::display(cursor_value),
                        stored_hash,
                    ))
                }
                None => None,
            }
        };
        let pg_cursor = t.cursor.map(|i| cols[i].value(row));
        let decision = decide_row(
            pg_cursor.and_then(|v| cursor::read(v, cursor_format)),
            existing.as_ref().map(|e| e.1),
            t.since,
        );
        out.counts.read += 1;
        let rowid = match (decision, &existing) {
            (RowDecision::Insert, _) => {
                let mut insert = conn.prepare_cached(&sql.insert)?;
                bind_row(&mut insert, &cols, row, 1)?;
                insert.raw_execute()?;
                out.counts.inserted += 1;
                Some(conn.last_insert_rowid())
            }
            (RowDecision::Unchanged, Some(e)) => {
                out.counts.unchanged += 1;
                Some(e.0)
            }
            (RowDecision::Update | RowDecision::Conflict(Winner::Postgres), Some(e)) => {
                if let Some(update) = &sql.update {
                    let mut update = conn.prepare_cached(update)?;
                    bind_row(&mut update, &cols, row, 1)?;
                    update.raw_execute()?;
                }
                out.counts.updated += 1;
                Some(e.0)
            }
            _ => None,
        };
        if let RowDecision::Conflict(winner) = decision {
            out.counts.conflicts += 1;
            if winner == Winner::Sqlite {
                out.counts.kept_sqlite += 1;
            }
            let record = ConflictRecord {
                table: t.plan.sink.name.clone(),
                key: key_json(
                    t.key
                        .iter()
                        .map(|&k| (t.plan.sink.columns[k].name.as_str(), cols[k].value(row))),
                ),
                kind: ConflictKind::Update,
                postgres_cursor: pg_cursor.and_then(cursor::display),
                sqlite_cursor: existing.as_ref().and_then(|e| e.2.clone()),
                winner,
            };
            record_conflict(conn, run_at, &record)?;
            if out.conflicts.len() < CONFLICTS_LISTED {
                out.conflicts.push(record);
            }
        }
        let stored_hash = match (decision, &existing) {
            (RowDecision::Unchanged, Some(e)) => e.3,
            _ => None,
        };
        let hash = match (stored_hash, rowid) {
            (Some(h), _) => h,
            (None, Some(rowid)) => {
                let mut rows = read_back.query([rowid])?;
                match rows.next()? {
                    Some(r) => check.row_hash(|i| r.get_ref(i), buffers)?,
                    None => 0,
                }
            }
            // SQLite's row was kept: PostgreSQL's row is accounted for as SQLite
            // would have stored it.
            (None, None) => {
                let [create, insert, select, clear] = &sql.scratch;
                conn.execute_batch(create)?;
                let mut insert = conn.prepare_cached(insert)?;
                bind_row(&mut insert, &cols, row, 1)?;
                insert.raw_execute()?;
                let hash = {
                    let mut select = conn.prepare_cached(select)?;
                    let mut rows = select.query([])?;
                    match rows.next()? {
                        Some(r) => check.row_hash(|i| r.get_ref(i), buffers)?,
                        None => 0,
                    }
                };
                conn.execute_batch(clear)?;
                hash
            }
        };
        out.totals.0 += 1;
        out.totals.1 = out.totals.1.wrapping_add(hash);
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}
