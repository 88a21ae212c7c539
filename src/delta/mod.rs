//! A delta sync: merge the PostgreSQL rows changed since a time into an existing
//! SQLite file, last write wins.
//!
//! 1. Before the snapshot, read the watermark the next run will continue from
//!    (see [`crate::source::snapshot::times`]); then export one snapshot for every reader.
//! 2. Plan: per table the merged columns (those both sides have), the key, the
//!    cursor column and the since-time (`--since`, else the stored watermark
//!    minus `--lag`).
//! 3. Back the target up (online backup API), then open one transaction.
//! 4. Read `cursor > since OR cursor IS NULL` (tables without a cursor: every
//!    row) through the same readers and converters as a full sync; the merge
//!    writer decides row by row. Meanwhile PostgreSQL checksums the same delta.
//! 5. Compare the key sets by buckets to find deleted rows; apply `--deletes`.
//! 6. Verify (the merged rows' checksums equal PostgreSQL's), record the state,
//!    commit — or roll back for `--dry-run`.

mod passes;
mod prepare;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::mapping::time::{clock_now, parse_timestamp, rfc3339, unix_micros_text};
use crate::merge::base;
use crate::merge::decide::DeletePolicy;
use crate::merge::deletes::{self, LISTED};
use crate::merge::foreign_keys;
use crate::merge::state::{self, MergeCounts, TableRun};
use crate::merge::writer::BaseUse;
use crate::pipeline::{snapshot_clients, start, until_signal, Chunk, Start};
use crate::plan::TableSelection;
use crate::progress::{Progress, ProgressMode};
use crate::sink::backup;
use crate::source::catalog::quote_ident;
use crate::source::connect::SourceConfig;
use crate::source::snapshot::Consistency;
use crate::summary::{DeltaSummary, DeltaTableSummary};
use crate::verify::keys::{key_difference, KeyDifference};

use passes::{check_foreign_keys, Writer};
use prepare::{changed_rows, cursor_indexed, prepare, Method, Prepared};

/// Whether a backup is taken before merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupPolicy {
    Take,
    /// `--no-backup`.
    Skip,
}

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
    parse_timestamp(text).ok_or_else(|| Error::Usage(format!("--since {text:?} is out of range")))
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

/// Runs a delta merge into the existing target.
pub fn delta_sync(opts: &DeltaOptions) -> Result<DeltaSummary> {
    crate::verify::open_sqlite(&opts.target)?;
    // The open transaction dies with the connection: SQLite rolls it back.
    until_signal(
        opts.jobs,
        delta_async(opts),
        "the merge was rolled back, the target is unchanged",
    )
}

fn open_target(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(Error::sqlite("opening the target", path))?;
    // Foreign keys stay off during the merge: parents and children arrive in any
    // order; they are checked before commit. An app reading the file meanwhile
    // makes us wait, not fail.
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16384;",
    )
    .map_err(Error::sqlite("opening the target", path))?;
    Ok(conn)
}

async fn delta_async(opts: &DeltaOptions) -> Result<DeltaSummary> {
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

    let conn = open_target(path)?;
    let mut problems = Vec::new();
    let mut notes = full_plan.notes.clone();
    notes.extend(full_plan.schema_loss.iter().map(|c| {
        format!("schema loss: {c} (only PostgreSQL has this column; its values are not merged)")
    }));
    let mut no_state = Vec::new();
    let mut prepared: Vec<Prepared> = Vec::new();
    for t in &full_plan.tables {
        match prepare(t, &conn, opts, &mut notes) {
            Ok(Some(p)) => prepared.push(p),
            Ok(None) => no_state.push(t.sink.name.clone()),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Plan(problems));
    }
    if !no_state.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no sync state for {}: a first delta merge needs --since TIME (the \
             cutover, RFC 3339), or use --full to replace the file with a fresh copy",
            path.display(),
            no_state.join(", ")
        )));
    }
    let unbased: Vec<&str> = prepared
        .iter()
        .filter(|p| p.base_found.is_none() && p.method != Method::NewTable)
        .map(|p| p.merge.plan.sink.name.as_str())
        .collect();
    if !unbased.is_empty() {
        notes.push(format!(
            "no record of an earlier sync's rows for {}: compared by content this once and \
             merged by the since-time rules; the rows this run leaves are recorded, so the next \
             run is a three-way merge",
            unbased.join(", ")
        ));
    }
    for p in &prepared {
        if let (Method::Cursor, Some(c)) = (p.method, &p.cursor_name) {
            if !cursor_indexed(&coordinator, &p.merge.plan, c).await? {
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
    let pending_backup = match (opts.apply, opts.backup) {
        (Apply::Commit, BackupPolicy::Take) => {
            let stamp: String = run_at
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let to = backup::backup_path(path, &stamp);
            progress.phase(&format!("backing up to {}", to.display()));
            Some(backup::take(&conn, &to)?)
        }
        _ => None,
    };

    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(Error::sqlite("starting the merge transaction", path))?;
    let clients = snapshot_clients(&opts.source, &snap, opts.jobs.clamp(1, 2)).await?;
    // Before anything is written: the content comparison reads the file over
    // connections of its own, which see it as this transaction found it.
    progress.phase("finding the changed rows");
    let mut chunks = Vec::new();
    for (i, p) in prepared.iter_mut().enumerate() {
        let ranges = changed_rows(p, &coordinator, &clients, path).await?;
        chunks.extend(ranges.into_iter().map(|range| Chunk { table: i, range }));
    }

    let mut prepare_file = || -> rusqlite::Result<()> {
        state::create_tables(&conn)?;
        base::create_tables(&conn)?;
        for p in prepared.iter_mut() {
            let sink = &p.merge.plan.sink;
            if p.method == Method::NewTable {
                conn.execute_batch(&sink.create_table_sql())?;
                for sql in sink.create_index_sqls() {
                    conn.execute_batch(&sql)?;
                }
            }
            let signature = base::signature(sink.columns.iter().map(|c| c.name.as_str()));
            p.merge.base = match (p.method, p.base_found) {
                (Method::NewTable, _) | (_, None) => BaseUse {
                    tid: base::start(&conn, &sink.name, &signature)?,
                    // A table created empty has a complete, empty base.
                    trusted: p.method == Method::NewTable,
                },
                (_, Some(tid)) => BaseUse { tid, trusted: true },
            };
        }
        Ok(())
    };
    prepare_file().map_err(Error::sqlite("preparing the target for the merge", path))?;

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
    let names: Vec<String> = prepared
        .iter()
        .map(|p| p.merge.plan.sink.name.clone())
        .collect();
    let fks = foreign_keys::all(&conn).map_err(Error::sqlite("reading foreign keys", path))?;
    let parents = foreign_keys::parents(&fks);
    let mut diffs: Vec<KeyDifference> = vec![KeyDifference::default(); prepared.len()];
    let mut kept_listed: Vec<Vec<String>> = vec![Vec::new(); prepared.len()];
    // Children first, as PostgreSQL's cascades went.
    for i in foreign_keys::children_first(&names, &parents) {
        let p = &prepared[i];
        let diff = key_difference(&clients[0], &p.merge.plan, &conn, path).await?;
        kept_listed[i] = deletes::apply(
            &conn,
            path,
            &p.merge,
            p.deletes,
            &diff.sqlite_only,
            &mut results[i].counts,
            &run_at,
            foreign_keys::is_parent(&fks, &p.merge.plan.sink.name),
        )?;
        diffs[i] = diff;
    }

    progress.phase("checking foreign keys");
    let (conn, checked, repaired) =
        check_foreign_keys(&writer, conn, &prepared, &mut results, &mut ledger, &fks).await?;
    if repaired > 0 {
        // Rows the repair brought back are no longer missing in SQLite.
        for (i, p) in prepared.iter().enumerate() {
            let again = key_difference(&clients[0], &p.merge.plan, &conn, path).await?;
            diffs[i].postgres_only = again.postgres_only;
            diffs[i].postgres_only_count = again.postgres_only_count;
        }
    }

    let fill = || -> rusqlite::Result<()> {
        for p in prepared.iter().filter(|p| !p.merge.base.trusted) {
            let columns: Vec<String> = p
                .merge
                .plan
                .sink
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect();
            base::fill(
                &conn,
                p.merge.base.tid,
                &p.merge.plan.sink.name,
                &columns,
                &p.merge.key,
            )?;
        }
        Ok(())
    };
    progress.phase("recording the rows this sync leaves");
    fill().map_err(Error::sqlite("recording the base of the merge", path))?;

    let mut summaries = Vec::with_capacity(prepared.len());
    for (i, p) in prepared.iter().enumerate() {
        let diff = std::mem::take(&mut diffs[i]);
        let r = &mut results[i];
        if diff.unrecognized_count > 0 {
            notes.push(format!(
                "{}: {} row(s) hold a key not stored the way this sync writes keys ({}{}), so \
                 they cannot be matched with PostgreSQL; they were kept as they are (a schema \
                 map can name the representation)",
                p.merge.plan.sink.name,
                diff.unrecognized_count,
                diff.unrecognized.join(", "),
                if diff.unrecognized_count > u64::try_from(diff.unrecognized.len()).unwrap_or(0) {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        let run = TableRun {
            table: &p.merge.plan.sink.name,
            source_table: &p.merge.plan.source_name,
            mode: p.mode,
            cursor_column: p.cursor_name.as_deref(),
            since: p.since_text.as_deref(),
            watermark: &unix_micros_text(times.watermark),
            snapshot_time: &unix_micros_text(times.now),
            counts: r.counts,
            run_at: &run_at,
            seconds: r.seconds,
        };
        state::record_run(&conn, &run).map_err(Error::sqlite("recording the sync state", path))?;
        summaries.push(DeltaTableSummary {
            name: p.merge.plan.sink.name.clone(),
            source: p.merge.plan.source_name.clone(),
            mode: p.mode,
            cursor: p.cursor_name.clone(),
            since: p.since_text.clone(),
            found_by: p.found_by.clone(),
            counts: r.counts,
            conflicts_listed: std::mem::take(&mut r.conflicts),
            kept_deletes_listed: std::mem::take(&mut kept_listed[i]),
            missing_older_count: diff.postgres_only_count,
            missing_older: diff.postgres_only.into_iter().take(LISTED).collect(),
            seconds: r.seconds,
        });
    }
    for c in &clients {
        let _ = c.batch_execute("COMMIT").await;
    }
    let _ = coordinator.batch_execute("COMMIT").await;

    // The target changes for good only once its backup is durable.
    let backup_path = match pending_backup {
        Some(b) => {
            progress.phase("syncing the backup");
            let p = b.finish()?;
            progress.note(&format!("backup of the target: {}", p.display()));
            Some(p)
        }
        None => None,
    };
    match opts.apply {
        Apply::Commit => {
            progress.phase("committing");
            conn.execute_batch("COMMIT")
                .map_err(Error::sqlite("committing the merge", path))?;
        }
        Apply::DryRun => {
            conn.execute_batch("ROLLBACK")
                .map_err(Error::sqlite("rolling back the dry run", path))?;
        }
    }
    conn.close()
        .map_err(|(_, e)| Error::sqlite("closing the target", path)(e))?;
    progress.finish();

    let mut totals = MergeCounts::default();
    for s in &summaries {
        totals.add(&s.counts);
    }
    Ok(DeltaSummary {
        source: opts.source.display().to_owned(),
        target: opts.target.clone(),
        dry_run: opts.apply == Apply::DryRun,
        backup: backup_path,
        watermark: unix_micros_text(times.watermark),
        tables: summaries,
        totals,
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
