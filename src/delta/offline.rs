//! A delta merge whose rows come from a delta bundle instead of PostgreSQL
//! (`pg2sqlite import` of a delta bundle): the same preparation, three-way
//! rules, deletes, foreign-key check, base and state as a live delta, in one
//! transaction after a backup. What needs PostgreSQL itself is done from the
//! bundle:
//!
//! - the changed rows are the bundle's rows of each table (those whose cursor is
//!   later than the bundle's since-time, or every row of a table without one);
//! - the merged rows are verified against the checksums PostgreSQL computed at
//!   export;
//! - deleted rows are found against the bundle's keys files;
//! - a foreign key the merge breaks cannot be repaired by reading PostgreSQL
//!   again: the merge is rolled back, naming the rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::bundle::keys::{self, KeyedTable};
use crate::bundle::manifest::{Manifest, RowsHeld};
use crate::bundle::read::read_into;
use crate::command::import::{self as bundle_import, ImportOptions};
use crate::error::{Error, Result};
use crate::mapping::time::{clock_now, parse_timestamp, unix_micros_text};
use crate::merge::foreign_keys;
use crate::merge::state;
use crate::merge::writer::{self as merge_writer, MergeTable};
use crate::plan::SyncPlan;
use crate::progress::Progress;
use crate::summary::DeltaSummary;

use super::passes::{broken_foreign_keys, check_merged_rows};
use super::prepare::{Method, Prepared};
use super::{steps, MergeSettings, Since};

/// Merges a delta bundle into the existing target.
pub fn import(opts: &ImportOptions, manifest: Manifest) -> Result<DeltaSummary> {
    let started = Instant::now();
    let run_at = unix_micros_text(clock_now());
    let path = opts.target.as_path();
    crate::sink::health::check_unless_unchanged(path)?;
    crate::sink::staging::check_writable(path)?;
    crate::sink::staging::Staging::clear_stale(path)?;
    let bundle = bundle_import::open(
        &opts.from,
        manifest,
        path,
        opts.map.as_ref(),
        &opts.selection,
    )?;
    let manifest_path = opts.from.join(crate::bundle::manifest::MANIFEST);
    let since = bundle
        .manifest
        .since
        .as_deref()
        .and_then(parse_timestamp)
        .ok_or_else(|| Error::BundleDamaged {
            path: manifest_path.clone(),
            reason: "a delta bundle without a readable since-time".into(),
        })?;

    let conn = steps::open_target(path)?;
    let mut notes = Vec::new();
    let settings = MergeSettings {
        since: Since::Given(since),
        deletes: opts.deletes,
        map: opts.map.as_ref(),
    };
    let mut prepared = steps::prepare_all(&bundle.plan, &conn, &settings, path, &mut notes)?;
    check_rows_held(&conn, &bundle, &mut prepared, since, &mut notes)?;

    let progress = Arc::new(Progress::new(
        opts.progress,
        bundle.entries.iter().map(|e| e.rows).collect(),
    ));
    for n in &notes {
        progress.note(n);
    }
    let pending_backup = steps::backup(path, opts.apply, opts.backup, &run_at, &progress)?;
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(Error::sqlite("starting the merge transaction", path))?;
    steps::prepare_file(&conn, &mut prepared, path)?;

    progress.phase("merging");
    let plan = SyncPlan {
        tables: prepared.iter().map(|p| p.merge.plan.clone()).collect(),
        not_expressed: Vec::new(),
        views: Vec::new(),
        schema_loss: Vec::new(),
        notes: Vec::new(),
        renames: Vec::new(),
    };
    let tables: Vec<MergeTable> = prepared.iter().map(|p| p.merge.clone()).collect();
    let writer_progress = progress.clone();
    let target = opts.target.clone();
    let writer_run_at = run_at.clone();
    let outcome = read_into(
        &plan,
        bundle.manifest.file_format,
        bundle.row_files()?,
        move |rx| merge_writer::run(conn, &target, &tables, rx, &writer_progress, &writer_run_at),
    )?;
    progress.phase("verifying the merged rows");
    let expected: Vec<(u64, u64)> = bundle
        .entries
        .iter()
        .map(|e| (e.checksum.count, e.checksum.sum))
        .collect();
    let merged: Vec<(u64, u64)> = outcome.tables.iter().map(|r| r.totals).collect();
    check_merged_rows(&prepared, &expected, &merged, &bundle.checksum_applies)?;
    let conn = outcome.conn;
    let mut ledger = outcome.ledger;
    bundle.record_losses(&mut ledger);
    let mut results = outcome.tables;

    progress.phase("comparing keys");
    let keyed: Vec<KeyedTable<'_>> = prepared
        .iter()
        .zip(&bundle.entries)
        .map(|(p, entry)| KeyedTable {
            plan: &p.merge.plan,
            key: &p.merge.key,
            entry,
        })
        .collect();
    let conn = keys::load(conn, path, &bundle.dir, bundle.manifest.file_format, &keyed)?;
    let (fks, order) = steps::deletion_order(&conn, &prepared, path)?;
    let mut outcomes: Vec<steps::TableOutcome> =
        prepared.iter().map(|_| Default::default()).collect();
    for i in order {
        let p = &prepared[i];
        let diff = keys::difference(&conn, i, &keyed[i])
            .map_err(Error::sqlite("comparing keys with the bundle", path))?;
        let kept_listed =
            steps::apply_deletes(&conn, path, p, &diff, &mut results[i].counts, &run_at, &fks)?;
        outcomes[i] = steps::TableOutcome { diff, kept_listed };
    }
    keys::drop_all(&conn, keyed.len())
        .map_err(Error::sqlite("comparing keys with the bundle", path))?;

    progress.phase("checking foreign keys");
    let checked = check_foreign_keys(&conn, path, &prepared, &results, &fks)?;
    progress.phase("recording the rows this import leaves");
    steps::fill_bases(&conn, &prepared, path)?;
    let summaries = steps::record_runs(
        &conn,
        path,
        &prepared,
        &mut results,
        outcomes,
        bundle.times,
        &run_at,
        &mut notes,
    )?;
    let (backup, totals) = steps::Ending {
        conn,
        path,
        prepared: &prepared,
        summaries: &summaries,
        apply: opts.apply,
        pending_backup,
        policy: opts.backup,
        progress: &progress,
    }
    .run(&mut notes)?;
    Ok(DeltaSummary {
        source: bundle.source_display(),
        target: opts.target.clone(),
        dry_run: opts.apply == super::Apply::DryRun,
        backup,
        watermark: bundle.manifest.watermark.clone(),
        totals,
        tables: summaries,
        seconds: started.elapsed().as_secs_f64(),
        loss: ledger.entries(),
        foreign_keys_checked: checked,
        foreign_key_repairs: 0,
        notes,
    })
}

/// Checks that the bundle holds the rows each table's merge needs, and says
/// in the summary how they were found. A table read by cursor must have been
/// exported by the same cursor, from a time no later than the one the target
/// was last synced to; a table the target lacks must be held whole.
fn check_rows_held(
    conn: &rusqlite::Connection,
    bundle: &bundle_import::Bundle,
    prepared: &mut [Prepared],
    since: i64,
    notes: &mut Vec<String>,
) -> Result<()> {
    let since_text = unix_micros_text(since);
    let mut problems = Vec::new();
    for (p, entry) in prepared.iter_mut().zip(&bundle.entries) {
        let name = &p.merge.plan.sink.name;
        match entry.rows_held {
            RowsHeld::All => {
                p.found_by = format!("bundle: every row ({} rows)", entry.rows);
            }
            RowsHeld::ChangedSince => {
                let bundle_cursor = entry
                    .cursor
                    .as_deref()
                    .and_then(|c| p.merge.plan.sink_column_of(c));
                if p.method == Method::NewTable {
                    problems.push(format!(
                        "table {name}: not in the target, and the bundle holds only its rows \
                         changed since {since_text}; import a full bundle first"
                    ));
                } else if bundle_cursor.is_none() || bundle_cursor != p.cursor_name {
                    problems.push(format!(
                        "table {name}: the bundle holds the rows whose {} changed since \
                         {since_text}, but this merge finds changes by {}; export again with \
                         the same map, or merge without the map's cursor",
                        entry.cursor.as_deref().unwrap_or("cursor"),
                        p.cursor_name.as_deref().unwrap_or("content")
                    ));
                } else {
                    p.found_by = format!(
                        "bundle: cursor {} later than {since_text}",
                        p.cursor_name.as_deref().unwrap_or_default()
                    );
                }
                let stored = state::watermark(conn, name).ok().flatten();
                if let Some(w) = stored.as_deref().and_then(parse_timestamp) {
                    if w < since {
                        // As `sync --since` later than the watermark does: the
                        // user chose the time; say what it leaves out.
                        notes.push(format!(
                            "{name}: the target was last synced up to {}, the bundle holds \
                             changes since {since_text}: rows changed between are not in it \
                             (export with --since {} to include them)",
                            unix_micros_text(w),
                            unix_micros_text(w)
                        ));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Plan(problems))
    }
}

/// Checks the foreign keys the merge may have broken; offline, a broken one
/// cannot be repaired from PostgreSQL, so it rolls the merge back.
fn check_foreign_keys(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    prepared: &[Prepared],
    results: &[merge_writer::TableMerge],
    fks: &[foreign_keys::ForeignKey],
) -> Result<Vec<String>> {
    let deleted_from: BTreeSet<String> = prepared
        .iter()
        .zip(results)
        .filter(|(_, r)| r.counts.deleted > 0)
        .map(|(p, _)| p.merge.plan.sink.name.clone())
        .collect();
    let mut written: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (p, r) in prepared.iter().zip(results) {
        written
            .entry(p.merge.plan.sink.name.clone())
            .or_default()
            .extend(r.written.iter().copied());
    }
    let (checked, found) = foreign_keys::violations(conn, fks, &written, &deleted_from)
        .map_err(Error::sqlite("checking foreign keys", path))?;
    if found.is_empty() {
        return Ok(checked.into_iter().collect());
    }
    Err(broken_foreign_keys(
        conn,
        prepared,
        &found,
        "a bundle holds the changed rows only; their parent is neither in the target nor in \
         the bundle. A sync from PostgreSQL reads such parents; offline, export a bundle with \
         an earlier --since, or a full bundle",
    ))
}
