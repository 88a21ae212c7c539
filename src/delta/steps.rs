//! The steps of a delta merge that do not depend on where the rows come from
//! (PostgreSQL for `sync`, a bundle for `import`): preparing the tables and
//! the file, the backup, recording the base and the state, committing.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::merge::base;
use crate::merge::deletes::LISTED;
use crate::merge::state::{self, MergeCounts, SyncMode, TableRun};
use crate::merge::writer::{BaseUse, TableMerge};
use crate::plan::SyncPlan;
use crate::progress::Progress;
use crate::sink::backup::{self, PendingBackup};
use crate::sink::undo;
use crate::source::horizon::TableHorizon;
use crate::source::snapshot::SnapshotTimes;
use crate::summary::{DeltaTableSummary, KeptBackup};
use crate::verify::keys::KeyDifference;

use super::prepare::{prepare, Method, Prepared};
use super::{Apply, BackupKind, BackupPolicy, MergeSettings};
use crate::mapping::time::unix_micros_text;

/// Opens the target for merging.
pub(super) fn open_target(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
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

/// Prepares every table of the plan, or says what stops the merge. Notes what
/// the user should know (schema loss, tables without a base).
pub(super) fn prepare_all(
    plan: &SyncPlan,
    conn: &Connection,
    settings: &MergeSettings<'_>,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<Prepared>> {
    notes.extend(plan.notes.iter().cloned());
    notes.extend(plan.schema_loss.iter().map(|c| {
        format!("schema loss: {c} (only PostgreSQL has this column; its values are not merged)")
    }));
    let mut problems = Vec::new();
    let mut no_state = Vec::new();
    let mut prepared: Vec<Prepared> = Vec::new();
    for t in &plan.tables {
        match prepare(t, conn, settings, notes) {
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
    Ok(prepared)
}

/// What a merge takes before its first write so that it can be undone.
pub(super) enum Safeguard {
    /// A copy of the file, written and being made durable.
    Copy(PendingBackup),
    /// The merge's journal, to be kept when it commits.
    Undo(undo::Planned),
}

/// A [`Safeguard`] still being taken: the copy keeps its temporary name until
/// the target's check has passed.
pub(super) enum Taking {
    Copy(backup::Copied),
    Undo(undo::Planned),
}

impl Taking {
    /// The target passed its check: the copy becomes the backup.
    pub(super) fn keep(self) -> Result<Safeguard> {
        Ok(match self {
            Taking::Copy(copied) => Safeguard::Copy(copied.keep()?),
            Taking::Undo(planned) => Safeguard::Undo(planned),
        })
    }

    /// The target failed its check: a copy of it is no backup.
    pub(super) fn discard(self) {
        if let Taking::Copy(copied) = self {
            copied.discard();
        }
    }
}

/// Backs the target up before it changes (not for a dry run or `--no-backup`).
pub(super) fn backup(
    path: &Path,
    apply: Apply,
    policy: BackupPolicy,
    run_at: &str,
    progress: &Progress,
) -> Result<Option<Safeguard>> {
    start_backup(path, apply, policy, run_at, progress)?
        .map(Taking::keep)
        .transpose()
}

/// The first half of [`backup`]: for an undo, that the file keeps a rollback
/// journal; for a copy, the target's pages copied under a temporary name,
/// which becomes the backup with [`Taking::keep`].
pub(super) fn start_backup(
    path: &Path,
    apply: Apply,
    policy: BackupPolicy,
    run_at: &str,
    progress: &Progress,
) -> Result<Option<Taking>> {
    let (Apply::Commit, BackupPolicy::Take { kind, .. }) = (apply, policy) else {
        return Ok(None);
    };
    let stamp: String = run_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    // The merge's connection may hold its write transaction already
    // (nothing written yet), and SQLite's backup cannot read through a
    // writing connection; a reader of its own sees the file as it is,
    // which no one else can change while that transaction is open.
    let reader = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(Error::sqlite("opening the target to back it up", path))?;
    if kind == BackupKind::Undo {
        if undo::journals(&reader).map_err(Error::sqlite("reading the journal mode", path))? {
            backup::check_room(path, false)?;
            let planned = undo::Planned::new(path, &stamp);
            progress.note(&format!(
                "the merge's journal will be kept as its undo: {}",
                planned.path().display()
            ));
            return Ok(Some(Taking::Undo(planned)));
        }
        progress.note(
            "the target is in WAL mode, which keeps no rollback journal to undo the merge \
             with: a copy of it is taken instead",
        );
    }
    backup::check_room(path, true)?;
    let to = backup::backup_path(path, &stamp);
    // A note, not a phase: in a live merge the backup runs beside the
    // search for changed rows, which is the phase under way.
    progress.note(&format!("backing up to {}", to.display()));
    Ok(Some(Taking::Copy(backup::copy(&reader, path, &to)?)))
}

/// Inside the merge transaction: the state and base tables, new tables, and
/// each table's base.
pub(super) fn prepare_file(
    conn: &Connection,
    prepared: &mut [Prepared],
    path: &Path,
) -> Result<()> {
    let mut run = || -> rusqlite::Result<()> {
        state::create_tables(conn)?;
        base::create_tables(conn)?;
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
                    tid: base::start(conn, &sink.name, &signature)?,
                    // A table created empty has a complete, empty base.
                    trusted: p.method == Method::NewTable,
                },
                (_, Some(tid)) => BaseUse { tid, trusted: true },
            };
        }
        Ok(())
    };
    run().map_err(Error::sqlite("preparing the target for the merge", path))
}

/// Records the base of tables that had none: every row the merge leaves.
pub(super) fn fill_bases(conn: &Connection, prepared: &[Prepared], path: &Path) -> Result<()> {
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
                conn,
                p.merge.base.tid,
                &p.merge.plan.sink.name,
                &columns,
                &p.merge.key,
            )?;
        }
        Ok(())
    };
    fill().map_err(Error::sqlite("recording the base of the merge", path))
}

/// Applies the table's delete policy to its rows whose key the source (PostgreSQL
/// or a bundle) no longer has; returns the keys kept and listed.
pub(super) fn apply_deletes(
    conn: &Connection,
    path: &Path,
    p: &Prepared,
    diff: &KeyDifference,
    counts: &mut MergeCounts,
    run_at: &str,
    fks: &[crate::merge::foreign_keys::ForeignKey],
) -> Result<Vec<String>> {
    crate::merge::deletes::apply(
        conn,
        path,
        &p.merge,
        p.deletes,
        &diff.sqlite_only,
        counts,
        run_at,
        crate::merge::foreign_keys::is_parent(fks, &p.merge.plan.sink.name),
    )
}

/// The file's foreign keys and the order in which deletes are applied to the
/// prepared tables: children first, as PostgreSQL's cascades went.
pub(super) fn deletion_order(
    conn: &Connection,
    prepared: &[Prepared],
    path: &Path,
) -> Result<(Vec<crate::merge::foreign_keys::ForeignKey>, Vec<usize>)> {
    use crate::merge::foreign_keys;
    let names: Vec<String> = prepared
        .iter()
        .map(|p| p.merge.plan.sink.name.clone())
        .collect();
    let fks = foreign_keys::all(conn).map_err(Error::sqlite("reading foreign keys", path))?;
    let order = foreign_keys::children_first(&names, &foreign_keys::parents(&fks));
    Ok((fks, order))
}

/// What the merge of one table found, besides its writer's result.
#[derive(Default)]
pub(super) struct TableOutcome {
    pub diff: KeyDifference,
    pub kept_listed: Vec<String>,
}

/// Records each table's run in the sync state and builds its summary line.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_runs(
    conn: &Connection,
    path: &Path,
    prepared: &[Prepared],
    results: &mut [TableMerge],
    outcomes: Vec<TableOutcome>,
    times: SnapshotTimes,
    run_at: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<DeltaTableSummary>> {
    let mut summaries = Vec::with_capacity(prepared.len());
    for ((p, r), outcome) in prepared.iter().zip(results.iter_mut()).zip(outcomes) {
        let TableOutcome { diff, kept_listed } = outcome;
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
            run_at,
            seconds: r.seconds,
            // Only a table whose every row was looked at (by content, by the
            // rows written since, or whole) is up to date as of the snapshot:
            // a cursor sees only what the app stamped.
            horizon: match (p.mode, times.horizon) {
                (SyncMode::Content | SyncMode::Full, Some(at)) => {
                    Some(TableHorizon::new(at, &p.merge.plan).to_text())
                }
                _ => None,
            },
        };
        state::record_run(conn, &run).map_err(Error::sqlite("recording the sync state", path))?;
        summaries.push(DeltaTableSummary {
            name: p.merge.plan.sink.name.clone(),
            source: p.merge.plan.source_name.clone(),
            mode: p.mode,
            cursor: p.cursor_name.clone(),
            since: p.since_text.clone(),
            found_by: p.found_by.clone(),
            counts: r.counts,
            conflicts_listed: std::mem::take(&mut r.conflicts),
            kept_deletes_listed: kept_listed,
            missing_older_count: diff.postgres_only_count,
            missing_older: diff.postgres_only.into_iter().take(LISTED).collect(),
            seconds: r.seconds,
        });
    }
    Ok(summaries)
}

/// How a merge ends, the same whichever its rows' source (PostgreSQL or a
/// bundle): the backup made durable, the transaction committed (or rolled
/// back for `--dry-run`), and the backup or undo kept or removed. It stays
/// only if rows changed.
pub(super) struct Ending<'a> {
    pub conn: Connection,
    pub path: &'a Path,
    pub prepared: &'a [Prepared],
    pub summaries: &'a [DeltaTableSummary],
    pub apply: Apply,
    pub pending_backup: Option<Safeguard>,
    pub policy: BackupPolicy,
    pub progress: &'a Progress,
}

impl Ending<'_> {
    /// Ends the merge; returns the backup that stays and the totals.
    pub(super) fn run(self, notes: &mut Vec<String>) -> Result<(Option<KeptBackup>, MergeCounts)> {
        let mut totals = MergeCounts::default();
        for s in self.summaries {
            totals.add(&s.counts);
        }
        let changed = totals.inserted + totals.updated + totals.deleted > 0
            || self.prepared.iter().any(|p| p.method == Method::NewTable);
        let (path, policy) = (self.path, self.policy);
        let taken = self.commit()?;
        let backup = settle_backup(path, taken, changed, policy, notes)?;
        Ok((backup, totals))
    }

    /// Commits (once the backup is durable, with the journal linked aside for
    /// an undo) or rolls back a dry run; returns the backup kept.
    fn commit(self) -> Result<Option<KeptBackup>> {
        let Ending {
            conn,
            path,
            apply,
            pending_backup,
            progress,
            ..
        } = self;
        // What the merge wrote is not read whole again (`PRAGMA quick_check`
        // of each table it wrote, and of the base): every write went through
        // SQLite, in this one transaction, under the write lock, into a file
        // that passed its check before the first write, and the merged rows
        // were read back and compared with PostgreSQL's checksums. That second
        // check cost a sixth of a 1 % delta (0.9 of 5.2 s at scale 1) to catch
        // only a fault of SQLite itself or of the machine; `verify` checks the
        // whole file when asked.
        // The target changes for good only once its backup is durable.
        let (copy, planned) = match pending_backup {
            Some(Safeguard::Copy(b)) => {
                progress.phase("syncing the backup");
                let p = b.finish()?;
                progress.note(&format!("backup of the target: {}", p.display()));
                (Some(p), None)
            }
            Some(Safeguard::Undo(planned)) => (None, Some(planned)),
            None => (None, None),
        };
        let mut linked = None;
        match apply {
            Apply::Commit => {
                progress.phase("committing");
                // Every page the merge changed has its original in the
                // journal now; the commit syncs it before it writes the file.
                linked = planned.map(|p| p.link_journal(path)).transpose()?;
                crate::failpoint::hit("merge.before-commit")?;
                conn.execute_batch("COMMIT")
                    .map_err(Error::sqlite("committing the merge", path))?;
                crate::failpoint::hit("merge.after-commit")?;
            }
            Apply::DryRun => {
                conn.execute_batch("ROLLBACK")
                    .map_err(Error::sqlite("rolling back the dry run", path))?;
            }
        }
        conn.close()
            .map_err(|(_, e)| Error::sqlite("closing the target", path)(e))?;
        // Sound before the first write, and written by SQLite alone since
        // (`sink::seal`).
        crate::sink::seal::record(path);
        let undo = linked
            .map(|l| l.keep(path))
            .transpose()
            .map_err(|e| Error::UndoNotKept {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        progress.finish();
        Ok(match (copy, undo) {
            (Some(path), _) => Some(KeptBackup {
                kind: BackupKind::Copy,
                path,
            }),
            (None, Some(path)) => Some(KeptBackup {
                kind: BackupKind::Undo,
                path,
            }),
            (None, None) => None,
        })
    }
}

/// After the commit: a backup of a merge that changed no row is removed (the
/// file differs from it only in the sync's own bookkeeping), else the oldest
/// backups of its kind beyond `--keep-backups` are. Returns the backup that
/// stays.
fn settle_backup(
    path: &Path,
    taken: Option<KeptBackup>,
    changed: bool,
    policy: BackupPolicy,
    notes: &mut Vec<String>,
) -> Result<Option<KeptBackup>> {
    let (Some(taken), BackupPolicy::Take { keep, .. }) = (taken, policy) else {
        return Ok(None);
    };
    let (what, removed) = match taken.kind {
        BackupKind::Copy => {
            if !changed {
                std::fs::remove_file(&taken.path).map_err(Error::io(&taken.path))?;
                notes.push(
                    "no row changed, so the backup taken before the merge was removed".into(),
                );
                return Ok(None);
            }
            ("backup(s)", backup::prune(path, keep)?)
        }
        BackupKind::Undo => {
            if !changed {
                std::fs::remove_dir_all(&taken.path).map_err(Error::io(&taken.path))?;
                notes.push("no row changed, so the merge's undo was not kept".into());
                return Ok(None);
            }
            ("undo(s)", undo::prune(path, keep)?)
        }
    };
    if !removed.is_empty() {
        notes.push(format!(
            "removed {} older {what} of the target, keeping the newest {keep} (--keep-backups): {}",
            removed.len(),
            removed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Some(taken))
}
