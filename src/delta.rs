//! A delta sync: merge the PostgreSQL rows changed since a time into an existing
//! SQLite file, last write wins.
//!
//! 1. Before the snapshot, read the watermark the next run will continue from
//!    (see [`snapshot::times`]); then export one snapshot for every reader.
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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::mapping::format::Format;
use crate::mapping::time::{clock_now, parse_timestamp, rfc3339, unix_micros_text};
use crate::merge::cursor::{self, NoCursor};
use crate::merge::decide::{decide_delete, DeleteDecision, DeletePolicy, Winner};
use crate::merge::state::{
    self, key_json, record_conflict, ConflictKind, ConflictRecord, MergeCounts, SyncMode, TableRun,
};
use crate::merge::writer::{self as merge_writer, MergeTable};
use crate::pipeline::{
    read_into, snapshot_clients, start, table_chunks, until_signal, Chunk, Start,
};
use crate::plan::{SyncPlan, TablePlan, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::backup;
use crate::sink::ddl::quote;
use crate::source::catalog::quote_ident;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::snapshot::Consistency;
use crate::summary::{DeltaSummary, DeltaTableSummary};
use crate::verify::keys::{key_difference, KeyDifference};

/// Rows listed by name per kind in the summary.
const LISTED: usize = 10;

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

/// A table of the plan, prepared for merging.
struct Prepared {
    merge: MergeTable,
    deletes: DeletePolicy,
    mode: SyncMode,
    cursor_name: Option<String>,
    since_text: Option<String>,
    create: bool,
}

fn open_target(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(Error::sqlite("opening the target", path))?;
    // Foreign keys stay off during the merge: parents and children arrive in any
    // order. An app reading the file meanwhile makes us wait, not fail.
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

    // Chunks: the delta of each table, or every row of a table without cursor.
    let plan = SyncPlan {
        tables: prepared.iter().map(|p| p.merge.plan.clone()).collect(),
        not_expressed: Vec::new(),
        schema_loss: Vec::new(),
        notes: Vec::new(),
    };
    let mut chunks = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        match (&p.cursor_name, &p.since_text) {
            (Some(c), Some(s)) if !p.create => chunks.push(Chunk {
                table: i,
                range: ChunkRange::Changed {
                    cursor: c.clone(),
                    since: s.clone(),
                },
            }),
            _ => chunks.extend(
                table_chunks(&coordinator, &plan.tables[i])
                    .await?
                    .into_iter()
                    .map(|range| Chunk { table: i, range }),
            ),
        }
    }
    for p in &prepared {
        if let Some(c) = &p.cursor_name {
            if !p.create && !cursor_indexed(&coordinator, &p.merge.plan, c).await? {
                notes.push(format!(
                    "{}: no index on {c}, so reading the delta scans the whole table; \
                     CREATE INDEX ON {} ({}) makes it proportional to the change",
                    p.merge.plan.source_name,
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
    state::create_tables(&conn).map_err(Error::sqlite("creating the sync state tables", path))?;
    for p in prepared.iter().filter(|p| p.create) {
        conn.execute_batch(&p.merge.plan.sink.create_table_sql())
            .map_err(Error::sqlite(
                format!("creating table {}", p.merge.plan.sink.name),
                path,
            ))?;
        for sql in p.merge.plan.sink.create_index_sqls() {
            conn.execute_batch(&sql).map_err(Error::sqlite(
                format!("creating an index on {}", p.merge.plan.sink.name),
                path,
            ))?;
        }
    }

    // PostgreSQL checksums the delta while it is merged.
    let parts = crate::verify::plan_parts(&plan, &chunks);
    let clients = snapshot_clients(&opts.source, &snap, opts.jobs.clamp(1, 2)).await?;
    let pg_side = crate::verify::pg_totals(&clients, &plan, &parts);
    let tables: Vec<MergeTable> = prepared.iter().map(|p| p.merge.clone()).collect();
    let writer_progress = progress.clone();
    let target = path.to_path_buf();
    let writer_run_at = run_at.clone();
    let merge = read_into(
        &opts.source,
        opts.jobs,
        &plan,
        chunks.clone(),
        &snap,
        move |rx| merge_writer::run(conn, &target, &tables, rx, &writer_progress, &writer_run_at),
    );
    let (outcome, pg_totals) = tokio::try_join!(merge, pg_side)?;
    let conn = outcome.conn;
    let mut results = outcome.tables;

    progress.phase("verifying the merged rows");
    let merged: Vec<(u64, u64)> = results.iter().map(|r| r.totals).collect();
    check_merged_rows(&prepared, &parts, &pg_totals, &merged)?;

    progress.phase("comparing keys");
    let mut summaries = Vec::with_capacity(prepared.len());
    for (i, p) in prepared.iter().enumerate() {
        let diff = key_difference(&clients[0], &p.merge.plan, &conn, path).await?;
        let r = &mut results[i];
        let kept_listed = apply_deletes(&conn, path, p, &diff, &mut r.counts, &run_at)?;
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
            counts: r.counts,
            conflicts_listed: std::mem::take(&mut r.conflicts),
            kept_deletes_listed: kept_listed,
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
        loss: outcome.ledger.entries(),
        notes,
    })
}

/// The merged rows against PostgreSQL: per table, the count and hash sum of the
/// delta as PostgreSQL computed them and as the merge left them in SQLite.
fn check_merged_rows(
    prepared: &[Prepared],
    parts: &[crate::verify::Part],
    pg_totals: &crate::verify::PgTotals,
    merged: &[(u64, u64)],
) -> Result<()> {
    let mut pg_by_table = vec![(0u64, 0u64); prepared.len()];
    for (part, totals) in parts.iter().zip(pg_totals.per_part()) {
        let t = &mut pg_by_table[part.table()];
        t.0 += totals.0;
        t.1 = t.1.wrapping_add(totals.1);
    }
    let differing: Vec<String> = prepared
        .iter()
        .enumerate()
        .filter(|(i, _)| pg_by_table[*i] != merged[*i])
        .map(|(i, p)| {
            format!(
                "{}: {} rows of the delta in PostgreSQL, {} merged, checksums {}",
                p.merge.plan.sink.name,
                pg_by_table[i].0,
                merged[i].0,
                if pg_by_table[i].1 == merged[i].1 {
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

/// Applies the delete policy to the SQLite rows whose key PostgreSQL no longer
/// has; returns the keys of the kept rows to list.
fn apply_deletes(
    conn: &Connection,
    path: &Path,
    p: &Prepared,
    diff: &KeyDifference,
    counts: &mut MergeCounts,
    run_at: &str,
) -> Result<Vec<String>> {
    let mut kept_listed = Vec::new();
    let cols = &p.merge.plan.sink.columns;
    let probe = format!(
        "SELECT {}, {} FROM {} WHERE rowid = ?1",
        p.merge
            .cursor
            .map_or_else(|| "NULL".to_owned(), |c| quote(&cols[c].name)),
        p.merge
            .key
            .iter()
            .map(|&k| quote(&cols[k].name))
            .collect::<Vec<_>>()
            .join(", "),
        quote(&p.merge.plan.sink.name)
    );
    let delete = format!(
        "DELETE FROM {} WHERE rowid = ?1",
        quote(&p.merge.plan.sink.name)
    );
    let cursor_format = p
        .merge
        .cursor
        .map_or(Format::Default, |c| p.merge.plan.conversions[c].format);
    for row in &diff.sqlite_only {
        let (sqlite_cursor, shown, key) = conn
            .query_row(&probe, [row.rowid], |r| {
                let v = r.get_ref(0)?;
                let mut key_values = Vec::with_capacity(p.merge.key.len());
                for (i, &k) in p.merge.key.iter().enumerate() {
                    key_values.push((cols[k].name.as_str(), r.get_ref(i + 1)?));
                }
                Ok((
                    cursor::read(v, cursor_format),
                    cursor::display(v),
                    key_json(key_values.into_iter()),
                ))
            })
            .map_err(Error::sqlite(
                "reading a row PostgreSQL no longer has",
                path,
            ))?;
        match decide_delete(sqlite_cursor, p.merge.since, p.deletes) {
            DeleteDecision::Delete => {
                conn.prepare_cached(&delete)
                    .and_then(|mut d| d.execute([row.rowid]))
                    .map_err(Error::sqlite("deleting a row PostgreSQL deleted", path))?;
                counts.deleted += 1;
            }
            DeleteDecision::Keep { listed } => {
                counts.kept_deletes += 1;
                if listed {
                    record_conflict(
                        conn,
                        run_at,
                        &ConflictRecord {
                            table: p.merge.plan.sink.name.clone(),
                            key: key.clone(),
                            kind: ConflictKind::KeptDelete,
                            postgres_cursor: None,
                            sqlite_cursor: shown,
                            winner: Winner::Sqlite,
                        },
                    )
                    .map_err(Error::sqlite("recording a kept row", path))?;
                    if kept_listed.len() < LISTED {
                        kept_listed.push(key);
                    }
                }
            }
        }
    }
    Ok(kept_listed)
}

/// Prepares one table, or says why it cannot be merged. `Ok(None)`: the table
/// needs a since-time and has none.
fn prepare(
    t: &TablePlan,
    conn: &Connection,
    opts: &DeltaOptions,
    notes: &mut Vec<String>,
) -> std::result::Result<Option<Prepared>, String> {
    let table_map = opts.map.as_ref().and_then(|m| m.table(&t.source_name));
    // The map speaks PostgreSQL's column names; the plan's sink columns may be renamed.
    let sink_name = |pg: &str| -> Option<String> {
        t.copy
            .column_names
            .iter()
            .position(|c| c == pg)
            .map(|i| t.sink.columns[i].name.clone())
    };
    let key_names: Vec<String> = match (&t.sink.primary_key, table_map.and_then(|m| m.key())) {
        (_, Some(key)) => {
            let mapped: Option<Vec<String>> = key.iter().map(|k| sink_name(k)).collect();
            mapped.ok_or_else(|| {
                format!(
                    "table {}: a column of the map's key ({}) is not merged",
                    t.source_name,
                    key.join(", ")
                )
            })?
        }
        (Some(pk), None) => pk.clone(),
        (None, None) => {
            return Err(format!(
                "table {}: no primary key; a delta merge matches rows by key (add a primary \
                 key in PostgreSQL, name a unique key with `key = [...]` in the map, or leave \
                 the table out with --exclude {})",
                t.source_name, t.sink.name
            ))
        }
    };
    let key: Vec<usize> = key_names
        .iter()
        .filter_map(|k| {
            t.sink
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(k))
        })
        .collect();
    if key.len() != key_names.len() {
        return Err(format!(
            "table {}: key column(s) {} are not in SQLite table {}; rows cannot be matched",
            t.source_name,
            key_names.join(", "),
            t.sink.name
        ));
    }
    let mut plan = t.clone();
    plan.sink.primary_key = Some(
        key.iter()
            .map(|&k| t.sink.columns[k].name.clone())
            .collect(),
    );
    let deletes = opts
        .deletes
        .or_else(|| table_map.and_then(|m| m.deletes()))
        .unwrap_or_default();
    if !t.sink.existing {
        notes.push(format!(
            "{}: new in PostgreSQL, created in SQLite with all its rows",
            t.sink.name
        ));
        return Ok(Some(Prepared {
            cursor_name: cursor::find(&plan, None).ok().map(|c| c.name),
            merge: MergeTable {
                plan,
                key,
                cursor: None,
                since: None,
            },
            deletes,
            mode: SyncMode::Full,
            since_text: None,
            create: true,
        }));
    }
    let wanted = table_map.and_then(|m| m.cursor()).map(sink_name);
    let wanted = match wanted {
        Some(None) => {
            return Err(format!(
                "table {}: the map's cursor column is not merged (it is skipped, or SQLite has \
                 no such column)",
                t.source_name
            ))
        }
        Some(Some(c)) => Some(c),
        None => None,
    };
    let (cursor_index, cursor_name) = match cursor::find(&plan, wanted.as_deref()) {
        Ok(c) => (Some(c.index), Some(c.name)),
        Err(NoCursor::Absent) => {
            notes.push(format!(
                "{}: no updated_at or created_at column, so every row is compared (upsert by \
                 key); deletes are inferred from the keys alone (name a cursor in the map with \
                 `cursor = \"...\"`)",
                t.sink.name
            ));
            (None, None)
        }
        Err(NoCursor::WrongType { column, pg_type }) => {
            notes.push(format!(
                "{}: column {column} is {pg_type}, not a date or timestamp, so it cannot be a \
                 cursor; every row is compared (upsert by key)",
                t.sink.name
            ));
            (None, None)
        }
    };
    let since = match (cursor_index, opts.since) {
        (None, _) => None,
        (Some(_), Since::Given(s)) => Some(s),
        (Some(_), Since::Stored { lag }) => {
            let stored = state::watermark(conn, &t.sink.name)
                .map_err(|e| format!("reading the sync state of {}: {e}", t.sink.name))?;
            match stored.as_deref().and_then(parse_timestamp) {
                Some(w) => Some(w.saturating_sub(lag)),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(Prepared {
        merge: MergeTable {
            plan,
            key,
            cursor: cursor_index,
            since,
        },
        deletes,
        mode: if cursor_index.is_some() {
            SyncMode::Delta
        } else {
            SyncMode::Upsert
        },
        cursor_name,
        since_text: since.map(unix_micros_text),
        create: false,
    }))
}

/// Whether an index of the table starts with the cursor column.
async fn cursor_indexed(
    client: &tokio_postgres::Client,
    plan: &TablePlan,
    column: &str,
) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (
                SELECT 1 FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = $1::text::regclass AND a.attname = $2)",
            &[&plan.copy.relation, &column],
        )
        .await
        .map_err(Error::pg(format!("looking for an index on {column}")))?;
    row.try_get(0)
        .map_err(Error::pg(format!("looking for an index on {column}")))
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
