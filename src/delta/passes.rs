//! The passes of a delta merge over its rows, and their checks: a pass reads
//! chunks and merges them while PostgreSQL checksums the same rows; the merged
//! rows must add up to its sums; the foreign keys the merge may have broken
//! are checked, and rows a cascade changed are read again.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::merge::base::{base_key, BaseKey};
use crate::merge::deletes::LISTED;
use crate::merge::foreign_keys;
use crate::merge::state::key_json;
use crate::merge::writer::{self as merge_writer, MergeTable};
use crate::pipeline::{read_into, Chunk};
use crate::plan::SyncPlan;
use crate::progress::Progress;
use crate::sink::ddl::quote;

use super::prepare::Prepared;
use super::DeltaOptions;

/// What a merge pass needs besides the connection and the rows.
pub(super) struct Writer<'a> {
    pub(super) opts: &'a DeltaOptions,
    pub(super) snapshot: &'a crate::source::snapshot::SharedSnapshot,
    pub(super) clients: &'a [tokio_postgres::Client],
    pub(super) progress: Arc<Progress>,
    pub(super) run_at: &'a str,
}

impl Writer<'_> {
    /// Reads `chunks` and merges them; PostgreSQL checksums the same rows
    /// meanwhile, and the merged rows must add up to its sums.
    pub(super) async fn merge(
        &self,
        conn: Connection,
        prepared: &[Prepared],
        chunks: Vec<Chunk>,
        restore: &[HashSet<BaseKey>],
    ) -> Result<merge_writer::MergeOutcome> {
        let plan = SyncPlan {
            tables: prepared.iter().map(|p| p.merge.plan.clone()).collect(),
            not_expressed: Vec::new(),
            views: Vec::new(),
            schema_loss: Vec::new(),
            notes: Vec::new(),
            renames: Vec::new(),
        };
        let parts = crate::verify::plan_parts(&plan, &chunks);
        let pg_side = crate::verify::pg_totals(self.clients, &plan, &parts);
        let tables: Vec<MergeTable> = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| MergeTable {
                restore: Arc::new(restore.get(i).cloned().unwrap_or_default()),
                ..p.merge.clone()
            })
            .collect();
        let progress = self.progress.clone();
        let target = self.opts.target.clone();
        let run_at = self.run_at.to_owned();
        let waiting = self.progress.clone();
        let merge = read_into(
            &self.opts.source,
            self.opts.jobs,
            &plan,
            chunks,
            self.snapshot,
            Arc::new(move |line: String| waiting.note(&line)),
            None,
            move |rx| merge_writer::run(conn, &target, &tables, rx, &progress, &run_at),
        );
        let (outcome, pg_totals) = tokio::try_join!(merge, pg_side)?;
        self.progress.phase("verifying the merged rows");
        let merged: Vec<(u64, u64)> = outcome.tables.iter().map(|r| r.totals).collect();
        let expected = per_table(prepared.len(), &parts, &pg_totals);
        check_merged_rows(prepared, &expected, &merged, &[])?;
        Ok(outcome)
    }
}

/// Checks the foreign keys the merge may have broken. A child row whose parent
/// the merge deleted or whose key it wrote is read again from PostgreSQL (a
/// cascade there changed or deleted it without touching its cursor) and merged;
/// what is still broken after that rolls the merge back. Returns the
/// connection, the tables checked and the rows repaired.
pub(super) async fn check_foreign_keys(
    writer: &Writer<'_>,
    conn: Connection,
    prepared: &[Prepared],
    results: &mut [merge_writer::TableMerge],
    ledger: &mut crate::mapping::ledger::LossLedger,
    fks: &[foreign_keys::ForeignKey],
) -> Result<(Connection, Vec<String>, u64)> {
    let path = writer.opts.target.as_path();
    let deleted_from: BTreeSet<String> = prepared
        .iter()
        .zip(results.iter())
        .filter(|(_, r)| r.counts.deleted > 0)
        .map(|(p, _)| p.merge.plan.sink.name.clone())
        .collect();
    let written = |results: &[merge_writer::TableMerge], also: &[foreign_keys::Violation]| {
        let mut w: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (p, r) in prepared.iter().zip(results) {
            w.entry(p.merge.plan.sink.name.clone())
                .or_default()
                .extend(r.written.iter().copied());
        }
        for v in also {
            w.entry(v.table.clone()).or_default().push(v.rowid);
        }
        w
    };
    let check = |conn: &Connection, written: &BTreeMap<String, Vec<i64>>| {
        foreign_keys::violations(conn, fks, written, &deleted_from)
            .map_err(Error::sqlite("checking foreign keys", path))
    };
    let (checked, found) = check(&conn, &written(results, &[]))?;
    let checked: Vec<String> = checked.into_iter().collect();
    if found.is_empty() {
        return Ok((conn, checked, 0));
    }
    // Read the offending rows again; PostgreSQL's version of them wins where
    // SQLite did not change them.
    let mut chunks = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        let rowids: Vec<i64> = found
            .iter()
            .filter(|v| v.table.eq_ignore_ascii_case(&p.merge.plan.sink.name))
            .map(|v| v.rowid)
            .collect();
        if rowids.is_empty() {
            continue;
        }
        let ranges = crate::verify::narrow::rows_like(&conn, &p.merge.plan, &rowids)
            .map_err(Error::sqlite("reading rows with broken foreign keys", path))?;
        chunks.extend(ranges.into_iter().map(|range| Chunk { table: i, range }));
    }
    // And the parents they point at: PostgreSQL may have a parent no delta
    // read (its cursor set older than the since-time), which SQLite lacks, or
    // one SQLite deleted that PostgreSQL's rows still point at: it comes back.
    let mut restore: Vec<HashSet<BaseKey>> = vec![HashSet::new(); prepared.len()];
    for (i, p) in prepared.iter().enumerate() {
        let parent = &p.merge.plan.sink.name;
        let pk: Vec<&str> = p
            .merge
            .key
            .iter()
            .map(|&k| p.merge.plan.sink.columns[k].name.as_str())
            .collect();
        let mut keys = Vec::new();
        for fk in fks.iter().filter(|fk| {
            fk.parent.eq_ignore_ascii_case(parent)
                && fk.to.len() == pk.len()
                && fk
                    .to
                    .iter()
                    .zip(&pk)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        }) {
            for v in found.iter().filter(|v| {
                v.table.eq_ignore_ascii_case(&fk.child) && v.parent.eq_ignore_ascii_case(parent)
            }) {
                if let Some(key) = foreign_keys::referenced_key(&conn, fk, v.rowid)
                    .map_err(Error::sqlite("reading a broken foreign key", path))?
                {
                    restore[i].insert(base_key(key.iter().map(ValueRef::from)));
                    keys.push(key);
                }
            }
        }
        if let Some(ranges) = crate::verify::narrow::rows_with_keys(&p.merge.plan, &keys) {
            chunks.extend(ranges.into_iter().map(|range| Chunk { table: i, range }));
        }
    }
    let repaired = u64::try_from(found.len()).unwrap_or(u64::MAX);
    let conn = if chunks.is_empty() {
        conn
    } else {
        writer
            .progress
            .phase("merging rows whose foreign keys broke");
        let outcome = writer.merge(conn, prepared, chunks, &restore).await?;
        for (r, again) in results.iter_mut().zip(outcome.tables) {
            r.absorb(again);
        }
        ledger.merge(outcome.ledger);
        outcome.conn
    };
    let (_, still) = check(&conn, &written(results, &found))?;
    if still.is_empty() {
        return Ok((conn, checked, repaired));
    }
    Err(broken_foreign_keys(&conn, prepared, &still, BROKEN_HINT))
}

/// What to do about rows a live merge leaves with a broken foreign key.
const BROKEN_HINT: &str = "their parent is in neither database after the merge: PostgreSQL \
     deleted it and SQLite changed the child, or a table of the foreign key is not synced; fix \
     these rows in the file, or leave the table out with --exclude, and run again";

/// The error naming the rows whose foreign key is broken (the first of them).
pub(super) fn broken_foreign_keys(
    conn: &Connection,
    prepared: &[Prepared],
    still: &[foreign_keys::Violation],
    hint: &str,
) -> Error {
    let index_of = |table: &str| {
        prepared
            .iter()
            .position(|p| p.merge.plan.sink.name.eq_ignore_ascii_case(table))
    };
    let listed: Vec<String> = still
        .iter()
        .take(LISTED)
        .map(|v| {
            let key = index_of(&v.table)
                .and_then(|i| row_key(conn, &prepared[i].merge, v.rowid))
                .unwrap_or_else(|| format!("rowid {}", v.rowid));
            format!("{} {key} references a missing row of {}", v.table, v.parent)
        })
        .collect();
    Error::ForeignKeysBroken(format!(
        "  {}{}\n  ({hint})",
        listed.join("\n  "),
        if still.len() > LISTED {
            format!("\n  … {} rows in all", still.len())
        } else {
            String::new()
        }
    ))
}

/// The key of SQLite row `rowid` as JSON, for messages.
fn row_key(conn: &Connection, t: &MergeTable, rowid: i64) -> Option<String> {
    let cols = &t.plan.sink.columns;
    let sql = format!(
        "SELECT {} FROM {} WHERE rowid = ?1",
        t.key
            .iter()
            .map(|&k| quote(&cols[k].name))
            .collect::<Vec<_>>()
            .join(", "),
        quote(&t.plan.sink.name)
    );
    conn.query_row(&sql, [rowid], |r| {
        let mut values = Vec::new();
        for (i, &k) in t.key.iter().enumerate() {
            values.push((cols[k].name.as_str(), r.get_ref(i)?));
        }
        Ok(key_json(values.into_iter()))
    })
    .ok()
}

/// Per table, the count and hash sum PostgreSQL computed for the parts.
fn per_table(
    n: usize,
    parts: &[crate::verify::Part],
    pg_totals: &crate::verify::PgTotals,
) -> Vec<(u64, u64)> {
    let mut by_table = vec![(0u64, 0u64); n];
    for (part, totals) in parts.iter().zip(pg_totals.per_part()) {
        let t = &mut by_table[part.table()];
        t.0 += totals.0;
        t.1 = t.1.wrapping_add(totals.1);
    }
    by_table
}

/// The merged rows against PostgreSQL: per table, the count and hash sum of the
/// delta as PostgreSQL computed them (`expected`) and as the merge left them in
/// SQLite. Where `content[i]` is false the sums are not comparable (the
/// table is stored in other forms than those PostgreSQL's sums were made for)
/// and only the counts are.
pub(super) fn check_merged_rows(
    prepared: &[Prepared],
    expected: &[(u64, u64)],
    merged: &[(u64, u64)],
    content: &[bool],
) -> Result<()> {
    let differing: Vec<String> = prepared
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            expected[*i].0 != merged[*i].0
                || (content.get(*i).copied().unwrap_or(true) && expected[*i].1 != merged[*i].1)
        })
        .map(|(i, p)| {
            format!(
                "{}: {} rows of the delta in PostgreSQL, {} merged, checksums {}",
                p.merge.plan.sink.name,
                expected[i].0,
                merged[i].0,
                if expected[i].1 == merged[i].1 {
                    "equal"
                } else {
                    "differ"
                }
            )
        })
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(Error::MergeVerificationFailed(format!(
            "  {}",
            differing.join("\n  ")
        )))
    }
}
