//! A delta sync: merge the PostgreSQL rows changed since a time into an existing
//! SQLite file, last write wins.
//!
//! 1. Before the snapshot, read the watermark the next run will continue from
//!    (see [`crate::source::snapshot::times`]); then export one snapshot for every reader.
//! 2. Plan: per table the merged columns (those both sides have), the key, the
//!    cursor column and the since-time (`--since`, else the stored watermark
//!    minus `--lag`).
//! 3. Open one transaction; a backup, when asked for a copy (its bytes under a
//!    read lock, see `sink::backup`), is taken before the first write.
//! 4. Read `cursor > since OR cursor IS NULL` (tables without a cursor: every
//!    row) through the same readers and converters as a full sync; the merge
//!    writer decides row by row. Meanwhile PostgreSQL checksums the same delta.
//! 5. Compare the key sets by buckets to find deleted rows; apply `--deletes`.
//! 6. Verify (the merged rows' checksums equal PostgreSQL's), record the state,
//!    commit, keeping the transaction's journal as the merge's undo
//!    (`sink::undo`) — or roll back for `--dry-run`.

mod keys;
mod offline;
mod passes;
mod preflight;
mod prepare;
mod steps;

pub use offline::import;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::mapping::time::{clock_now, parse_timestamp, rfc3339, unix_micros_text};
use crate::merge::decide::DeletePolicy;
use crate::merge::state;
use crate::pipeline::{snapshot_clients, start, until_signal, Chunk, Start};
use crate::plan::TableSelection;
use crate::progress::{Progress, ProgressMode};
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::horizon;
use crate::source::snapshot::Consistency;
use crate::summary::DeltaSummary;
use crate::verify::keys::key_difference;

use keys::EarlyKeys;
use passes::{check_foreign_keys, Writer};
use preflight::{Order, Preflight};
use prepare::{any_rows, changed_rows, cursor_indexed, written_range, Method};

/// Whether a backup is taken before merging, of which kind, and how many of
/// this tool's backups of the target are kept after a merge that changed rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupPolicy {
    /// `--backup KIND --keep-backups N` (default undo, [`DEFAULT_KEEP_BACKUPS`]).
    Take {
        kind: BackupKind,
        keep: std::num::NonZeroUsize,
    },
    /// `--no-backup`.
    Skip,
}

/// How a merge can be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    // `sink::undo`. (Doc comments here are `--help` text.)
    /// The merge's own journal, kept: the pages it changed, as they were
    Undo,
    // `sink::backup`.
    /// A copy of the whole file, taken before the merge
    Copy,
}

/// How many backups of a target are kept unless `--keep-backups` says otherwise.
pub const DEFAULT_KEEP_BACKUPS: usize = 3;

/// Whether the merge is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    Commit,
    /// `--dry-run`: computed in full, then rolled back.
    DryRun,
}

/// Where the rows of a delta start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// `--since`: exactly this time (µs since 1970 UTC).
    Given(i64),
    /// The watermark each table's last sync stored, minus this lag (µs).
    Stored { lag: i64 },
}

/// Options of a delta sync, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct DeltaOptions {
    pub source: SourceConfig,
    pub target: PathBuf,
    pub schemas: Vec<String>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub consistency: Consistency,
    pub progress: ProgressMode,
    pub since: Since,
    /// `--deletes`; when absent, the map's per-table policy, else propagate.
    pub deletes: Option<DeletePolicy>,
    pub apply: Apply,
    pub backup: BackupPolicy,
    pub map: Option<SchemaMap>,
}

/// Parses `--since`: an RFC 3339 time, as microseconds since 1970-01-01 UTC.
pub fn parse_since(text: &str) -> Result<i64> {
    let text = rfc3339(text).map_err(Error::Usage)?;
    // Every RFC 3339 time is a form parse_timestamp reads.
    let micros = parse_timestamp(text)
        .ok_or_else(|| Error::Usage(format!("--since {text:?} is out of range")))?;
    let what_to_give = "give the cutover, when the application started writing to PostgreSQL \
                        (RFC 3339, e.g. 2025-11-13T00:00:00Z)";
    if micros < 0 {
        return Err(Error::Usage(format!(
            "--since {text:?} is before 1970, earlier than any row an application wrote; \
             {what_to_give}"
        )));
    }
    // Ten minutes of grace for clocks that disagree.
    let now = clock_now();
    if micros > now.saturating_add(600_000_000) {
        return Err(Error::Usage(format!(
            "--since {text:?} is in the future (this machine's clock says {}), so no row can \
             have changed since; {what_to_give}",
            unix_micros_text(now)
        )));
    }
    Ok(micros)
}

/// Parses `--lag`: `300`, `90s`, `5m`, `1h`.
pub fn parse_lag(text: &str) -> Result<i64> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if seconds_per_unit > 0 && !digits.is_empty() => n
            .checked_mul(seconds_per_unit * 1_000_000)
            .ok_or_else(|| Error::Usage(format!("--lag {text:?} is too large"))),
        _ => Err(Error::Usage(format!(
            "--lag {text:?} is not a duration; write e.g. 300s, 5m or 1h"
        ))),
    }
}

/// Whether the target has sync state from an earlier run (so that a sync without
/// `--since` continues as a delta).
pub fn has_sync_state(target: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return false;
    };
    state::has_state(&conn).unwrap_or(false)
}

/// What decides a merge besides the rows, whichever their source.
pub(crate) struct MergeSettings<'a> {
    pub since: Since,
    /// `--deletes`; when absent, the map's per-table policy, else propagate.
    pub deletes: Option<DeletePolicy>,
    pub map: Option<&'a SchemaMap>,
}

impl DeltaOptions {
    fn settings(&self) -> MergeSettings<'_> {
        MergeSettings {
            since: self.since,
            deletes: self.deletes,
            map: self.map.as_ref(),
        }
    }
}

/// Runs a delta merge into the existing target.
pub fn delta_sync(opts: &DeltaOptions) -> Result<DeltaSummary> {
    crate::sink::staging::check_writable(&opts.target)?;
    // A full sync killed earlier left its staging file; a run still writing one
    // makes this merge wait its turn (an error naming it).
    crate::sink::staging::Staging::clear_stale(&opts.target)?;
    // A damaged file is neither merged into nor backed up as if it were good:
    // the check runs while PostgreSQL is asked for the changes, and the merge
    // waits for it before its first write.
    let mut preflight = Preflight::start(&opts.target)?;
    // The open transaction dies with the connection: SQLite rolls it back.
    let merged = until_signal(
        opts.jobs,
        delta_async(opts, &mut preflight),
        "the merge was rolled back, the target is unchanged",
    );
    preflight.settle(merged)
}

async fn delta_async(opts: &DeltaOptions, preflight: &mut Preflight) -> Result<DeltaSummary> {
    let started = Instant::now();
    let run_at = unix_micros_text(clock_now());
    let path = opts.target.as_path();
    let Start {
        coordinator,
        times,
        snapshot: snap,
        plan: full_plan,
    } = start(
        &opts.source,
        opts.consistency,
        path,
        &opts.schemas,
        &opts.selection,
        opts.map.as_ref(),
    )
    .await?;

    let conn = steps::open_target(path)?;
    let mut notes = Vec::new();
    let mut prepared = steps::prepare_all(&full_plan, &conn, &opts.settings(), path, &mut notes)?;
    // Tables whose changed rows an index finds: whether there are any is asked
    // before anything is read, so a table without changes costs one probe.
    let mut probe_changes = vec![false; prepared.len()];
    for (i, p) in prepared.iter().enumerate() {
        if let (Method::Cursor, Some(c)) = (p.method, &p.cursor_name) {
            probe_changes[i] = cursor_indexed(&coordinator, &p.merge.plan, c).await?;
            if !probe_changes[i] {
                notes.push(format!(
                    "{}: no index on {c}, so reading the delta scans the whole table; \
                     CREATE INDEX ON {} ({}) makes it proportional to the change",
                    p.merge.plan.sink.name,
                    p.merge.plan.copy.relation,
                    quote_ident(c)
                ));
            }
        }
    }

    let progress = Arc::new(Progress::new(opts.progress, vec![0; prepared.len()]));
    for n in &notes {
        progress.note(n);
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(Error::sqlite("starting the merge transaction", path))?;
    let clients = snapshot_clients(&opts.source, &snap, opts.jobs.clamp(1, 2)).await?;
    // Before anything is written: the content comparison reads the file over
    // connections of its own, which see it as this transaction found it.
    progress.phase("finding the changed rows");
    let backup_order = || Order {
        apply: opts.apply,
        policy: opts.backup,
        run_at: run_at.clone(),
        progress: progress.clone(),
    };
    let mut chunks = Vec::new();
    // Tables found by cursor first: their probes are cheap. Their key sets are
    // then compared beside the content comparisons, which are slow; and once
    // one of them has a change the merge will write, so the backup can start
    // beside them too.
    let (by_content, by_cursor): (Vec<usize>, Vec<usize>) =
        (0..prepared.len()).partition(|&i| prepared[i].method == Method::Content);
    // Where the server stands, for tables whose last sync recorded where it
    // stood then: their rows written since are read instead of compared.
    let now = match times.horizon {
        Some(at) if by_content.iter().any(|&i| prepared[i].horizon.is_some()) => {
            Some((at, horizon::snapshot_xmax(&coordinator).await?))
        }
        _ => None,
    };
    // Tables without a cursor whose rows written since can be read are found
    // as cheaply as by a cursor, and their keys compared early the same way.
    let (by_written, by_content): (Vec<usize>, Vec<usize>) = by_content
        .into_iter()
        .partition(|&i| matches!(written_range(&prepared[i], now), Some(Ok(_))));
    let mut merging = Vec::new();
    let mut found = Vec::new();
    for &i in by_cursor.iter().chain(&by_written) {
        let p = &mut prepared[i];
        let ranges = changed_rows(p, now, &coordinator, &clients, path).await?;
        if p.method == Method::Cursor || by_written.contains(&i) {
            // Only a cursor with an index finds the rows without a scan.
            merging.push(keys::Merging::new(
                i,
                &p.merge.plan,
                &ranges,
                probe_changes[i],
            ));
        }
        found.push((i, ranges));
    }
    // The key comparisons start first: the probes below can take a scan of
    // a whole table each, and both wait on the server.
    let early_keys = EarlyKeys::start(&opts.source, &snap, path, merging).await?;
    for (i, ranges) in found {
        for range in ranges {
            // A written-since range has no index: whether it holds any row is
            // one scan of xmin, cheaper than a backup and a merge of nothing.
            let written = matches!(range, ChunkRange::WrittenSince { .. });
            if (probe_changes[i] || written)
                && !any_rows(&coordinator, &prepared[i].merge.plan, &range).await?
            {
                continue;
            }
            chunks.push(Chunk { table: i, range });
        }
    }
    if !chunks.is_empty() {
        preflight.backup(backup_order())?;
    }
    for &i in &by_content {
        let p = &mut prepared[i];
        for range in changed_rows(p, now, &coordinator, &clients, path).await? {
            chunks.push(Chunk { table: i, range });
        }
    }
    // The merge's chunks in the plan's order of tables, as before.
    chunks.sort_by_key(|c| c.table);
    let mut diffs = early_keys.finish(prepared.len()).await?;
    // With no row to merge and no table to create, only deletes could change
    // the file, and the key sets tell that before anything is written (the
    // merge leaves them as they are): a merge that will write nothing takes
    // no backup. Otherwise the backup is taken now, inside the transaction,
    // before the first write.
    let will_write = if chunks.is_empty() && prepared.iter().all(|p| p.method != Method::NewTable) {
        progress.phase("comparing keys");
        for (p, diff) in prepared.iter().zip(diffs.iter_mut()) {
            if diff.is_none() {
                *diff = Some(key_difference(&clients[0], &p.merge.plan, &conn, path).await?);
            }
        }
        diffs.iter().flatten().any(|d| !d.sqlite_only.is_empty())
    } else {
        true
    };
    let pending_backup = if will_write {
        preflight.backup(backup_order())?;
        preflight.wait()?
    } else {
        preflight.wait()?;
        if opts.backup != BackupPolicy::Skip && opts.apply == Apply::Commit {
            notes.push(
                "nothing to merge (no row changed in PostgreSQL since the since-time, none \
                 deleted), so no backup was taken"
                    .into(),
            );
        }
        None
    };
    steps::prepare_file(&conn, &mut prepared, path)?;

    let writer = Writer {
        opts,
        snapshot: &snap,
        clients: &clients,
        progress: progress.clone(),
        run_at: &run_at,
    };
    progress.phase("merging");
    let outcome = writer.merge(conn, &prepared, chunks, &[]).await?;
    let conn = outcome.conn;
    let mut ledger = outcome.ledger;
    let mut results = outcome.tables;

    progress.phase("comparing keys");
    let (fks, order) = steps::deletion_order(&conn, &prepared, path)?;
    let mut outcomes: Vec<steps::TableOutcome> =
        prepared.iter().map(|_| Default::default()).collect();
    for i in order {
        let p = &prepared[i];
        let diff = match diffs[i].take() {
            // Compared before the merge: the rows it read and did not insert
            // are still missing.
            Some(mut diff) => {
                let r = &results[i];
                diff.add_not_inserted(r.counts.kept_sqlite_deletes, &r.kept_deleted);
                diff
            }
            None => key_difference(&clients[0], &p.merge.plan, &conn, path).await?,
        };
        let kept_listed =
            steps::apply_deletes(&conn, path, p, &diff, &mut results[i].counts, &run_at, &fks)?;
        outcomes[i] = steps::TableOutcome { diff, kept_listed };
    }

    progress.phase("checking foreign keys");
    let (conn, checked, repaired) =
        check_foreign_keys(&writer, conn, &prepared, &mut results, &mut ledger, &fks).await?;
    if repaired > 0 {
        // Rows the repair brought back are no longer missing in SQLite.
        for (i, p) in prepared.iter().enumerate() {
            let again = key_difference(&clients[0], &p.merge.plan, &conn, path).await?;
            outcomes[i].diff.postgres_only = again.postgres_only;
            outcomes[i].diff.postgres_only_count = again.postgres_only_count;
        }
    }
    progress.phase("recording the rows this sync leaves");
    steps::fill_bases(&conn, &prepared, path)?;
    let summaries = steps::record_runs(
        &conn,
        path,
        &prepared,
        &mut results,
        outcomes,
        times,
        &run_at,
        &mut notes,
    )?;
    for c in &clients {
        let _ = c.batch_execute("COMMIT").await;
    }
    let _ = coordinator.batch_execute("COMMIT").await;
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
        source: opts.source.display().to_owned(),
        target: opts.target.clone(),
        dry_run: opts.apply == Apply::DryRun,
        backup,
        watermark: unix_micros_text(times.watermark),
        totals,
        tables: summaries,
        seconds: started.elapsed().as_secs_f64(),
        loss: ledger.entries(),
        foreign_keys_checked: checked,
        foreign_key_repairs: repaired,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_must_be_rfc3339_with_a_zone() {
        assert_eq!(
            parse_since("2025-11-13T00:00:00Z").ok(),
            Some(1_762_992_000_000_000)
        );
        assert_eq!(
            parse_since("2025-11-13T02:00:00+02:00").ok(),
            Some(1_762_992_000_000_000)
        );
        for bad in ["2025-11-13", "2025-11-13T00:00:00", "yesterday", ""] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
        for (bad, says) in [
            ("2999-01-01T00:00:00Z", "in the future"),
            ("1969-12-31T23:59:59Z", "before 1970"),
            ("0001-01-01T00:00:00Z", "before 1970"),
        ] {
            assert!(
                matches!(parse_since(bad), Err(Error::Usage(m)) if m.contains(says)),
                "{bad}"
            );
        }
    }

    #[test]
    fn lag_units() {
        assert_eq!(parse_lag("300").ok(), Some(300_000_000));
        assert_eq!(parse_lag("5m").ok(), Some(300_000_000));
        assert_eq!(parse_lag("0").ok(), Some(0));
        assert_eq!(parse_lag("1h").ok(), Some(3_600_000_000));
        assert!(parse_lag("5 minutes").is_err());
        assert!(parse_lag("-1s").is_err());
        assert!(parse_lag("m").is_err());
    }
}
