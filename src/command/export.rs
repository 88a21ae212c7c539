//! `pg2sqlite export`: PostgreSQL → a bundle directory of Parquet or CSV files
//! and `manifest.json`, read in one snapshot by the same parallel readers as a
//! sync. Nothing in SQLite is involved: the files hold PostgreSQL's values in
//! their own types (`bundle::columns`), for `import` or any Parquet/CSV reader.
//!
//! 1. Refuse an existing bundle directory without `--force`; write into
//!    `OUT.partial` beside it (a stale one from a killed run is removed).
//! 2. Snapshot, catalog and the default plan, as `sync` into a new file has it.
//! 3. Per column its file type (Parquet: one query per table learns whether a
//!    decimal column holds NaN and how many dimensions its arrays have).
//! 4. Each chunk (a key range, or a delta's changed rows) is streamed by a
//!    reader into a file of its own, written as `NAME.tmp` on a thread of its
//!    own and renamed when complete; PostgreSQL checksums the same rows at the
//!    same time, on other connections, as `verify` does.
//! 5. A delta bundle adds, per table read by its cursor, a file of every key the
//!    table holds, from which `import` learns what PostgreSQL deleted.
//! 6. `manifest.json` last; then `OUT.partial` is renamed to `OUT`.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use tokio_postgres::binary_copy::BinaryCopyOutRow;
use tokio_postgres::Client;

use crate::bundle::file::{FinishedFile, TableFileWriter};
use crate::bundle::manifest::{
    BundleKind, Checksum, FileEntry, FileFormat, Lost, Manifest, RowsHeld, TableEntry,
    FORMAT_VERSION, MANIFEST,
};
use crate::error::{Error, Result};
use crate::mapping::file_types::{file_type, BundleColumn, ColumnFacts, FileType};
use crate::mapping::ledger::{LossLedger, LossReason};
use crate::mapping::time::unix_micros_text;
use crate::mapping::types::ValueKind;
use crate::pipeline::{plan_chunks, plan_with_catalog, snapshot_clients, until_signal, Chunk};
use crate::plan::{PlanInputs, SyncPlan, TablePlan, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::existing::TargetSchema;
use crate::source::catalog::{quote_ident, PgColumn, PgTable};
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::copy::{self, CopySource};
use crate::source::snapshot::{self, Consistency};

/// Options of `pg2sqlite export`, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub source: SourceConfig,
    pub out: PathBuf,
    pub format: FileFormat,
    /// `--since` (µs since 1970 UTC): a delta bundle.
    pub since: Option<i64>,
    pub schemas: Vec<String>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub consistency: Consistency,
    pub progress: ProgressMode,
    /// `--force`: replace an existing bundle directory.
    pub force: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportTableSummary {
    pub name: String,
    pub source: String,
    pub rows: u64,
    pub rows_held: RowsHeld,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub out: PathBuf,
    pub kind: BundleKind,
    pub format: FileFormat,
    pub tables: Vec<ExportTableSummary>,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Values the files could not hold exactly.
    pub loss: Vec<crate::mapping::ledger::LossEntry>,
    pub not_expressed: Vec<String>,
    pub notes: Vec<String>,
}

impl ExportSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let rate = if self.seconds > 0.0 {
            format!(", {:.0} rows/s", self.rows as f64 / self.seconds)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "exported {} rows of {} tables to {} ({} {} bundle, {}) in {:.2} s{rate}",
            self.rows,
            self.tables.len(),
            self.out.display(),
            match self.kind {
                BundleKind::Full => "full",
                BundleKind::Delta => "delta",
            },
            self.format.extension(),
            crate::summary::human_bytes(self.bytes),
            self.seconds
        );
        for t in &self.tables {
            let _ = writeln!(
                s,
                "  {:<32} {:>10} rows{}  {} file(s), {}",
                t.name,
                t.rows,
                match t.rows_held {
                    RowsHeld::All => "",
                    RowsHeld::ChangedSince => " changed",
                },
                t.files,
                crate::summary::human_bytes(t.bytes)
            );
        }
        if !self.loss.is_empty() {
            let _ = writeln!(s, "values the bundle could not hold exactly:");
            for l in &self.loss {
                let _ = writeln!(
                    s,
                    "  {}.{}: {} value(s): {}",
                    l.table, l.column, l.count, l.description
                );
            }
        }
        if !self.not_expressed.is_empty() {
            let _ = writeln!(
                s,
                "  {} schema object(s) SQLite cannot express are listed in the manifest (not_expressed)",
                self.not_expressed.len()
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}

/// Runs an export and publishes the bundle directory.
pub fn run(opts: &ExportOptions) -> Result<ExportSummary> {
    let mut notes = Vec::new();
    check_out_dir(&opts.out, opts.force)?;
    let partial = partial_dir(&opts.out);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(Error::io(&partial))?;
        notes.push(format!(
            "removed an unfinished export left by an interrupted run: {}",
            partial.display()
        ));
    }
    std::fs::create_dir_all(&partial).map_err(Error::io(&partial))?;
    let guard = PartialDir(partial.clone());
    let mut summary = until_signal(
        opts.jobs,
        export_async(opts, &partial),
        "the unfinished bundle was removed",
    )?;
    publish(&partial, &opts.out)?;
    std::mem::forget(guard);
    summary.notes.splice(0..0, notes);
    Ok(summary)
}

/// Removes the unfinished bundle directory unless the export was published.
struct PartialDir(PathBuf);

impl Drop for PartialDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `OUT.partial`, beside `OUT`.
fn partial_dir(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn check_out_dir(out: &Path, force: bool) -> Result<()> {
    if out.file_name().is_none() {
        return Err(Error::Usage(format!(
            "--out {}: name a directory for the bundle",
            out.display()
        )));
    }
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(out)(e)),
        Ok(m) if !m.is_dir() => Err(Error::Usage(format!(
            "--out {}: exists and is not a directory",
            out.display()
        ))),
        Ok(_) if force => Ok(()),
        Ok(_) => {
            let empty = std::fs::read_dir(out)
                .map_err(Error::io(out))?
                .next()
                .is_none();
            if empty {
                Ok(())
            } else {
                Err(Error::Usage(format!(
                    "--out {}: the directory exists and is not empty; pass --force to replace it \
                     (it is replaced only when the new bundle is complete)",
                    out.display()
                )))
            }
        }
    }
}

/// Renames the finished bundle into place; an existing one (`--force`) is moved
/// aside first and removed once the new one is in place.
fn publish(partial: &Path, out: &Path) -> Result<()> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let old = if out.exists() {
        let mut name = out
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".replaced");
        let old = out.with_file_name(name);
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(Error::io(out))?;
        Some(old)
    } else {
        None
    };
    std::fs::rename(partial, out).map_err(Error::io(out))?;
    sync_dir(out.parent().unwrap_or(Path::new(".")));
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(Error::io(&old))?;
    }
    Ok(())
}

/// Makes renames inside `dir` durable; best effort (not every file system can).
fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

async fn export_async(opts: &ExportOptions, dir: &Path) -> Result<ExportSummary> {
    let started = Instant::now();
    let coordinator = opts.source.connect().await?;
    let times = snapshot::times(&coordinator).await?;
    let snapshot = snapshot::export(&coordinator, opts.consistency).await?;
    // The default plan: what a sync into a new file (and `import` without a map) makes.
    let target = TargetSchema::default();
    let inputs = PlanInputs {
        selection: &opts.selection,
        map: None,
        target: &target,
    };
    let (plan, catalog) = plan_with_catalog(&coordinator, &opts.schemas, inputs).await?;
    let since_text = opts.since.map(unix_micros_text);
    let tables = export_tables(
        &coordinator,
        &plan,
        &catalog,
        opts.format,
        since_text.as_deref(),
    )
    .await?;

    let mut chunks = plan_chunks(&coordinator, &plan).await?;
    if let Some(since) = &since_text {
        chunks = delta_chunks(&plan, chunks, since);
    }
    let files = file_jobs(&plan, &tables, &chunks, opts.format);
    let estimates: Vec<u64> = plan
        .tables
        .iter()
        .map(|t| {
            // Estimates are non-negative and far below 2^53.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let e = t.estimated_rows.max(0.0) as u64;
            e
        })
        .collect();
    let progress = Arc::new(Progress::new(opts.progress, estimates));

    // PostgreSQL checksums the exported rows while they are written.
    let parts = crate::verify::plan_parts(&plan, &chunks);
    let clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
    let checksums = crate::verify::pg_totals(&clients, &plan, &parts);
    let written = write_files(opts, &snapshot, files, dir, &progress);
    let (totals, written) = match tokio::try_join!(checksums, written) {
        Ok(both) => both,
        Err(e) => {
            let _ = coordinator.batch_execute("COMMIT").await;
            return Err(e);
        }
    };
    let _ = coordinator.batch_execute("COMMIT").await;
    progress.finish();

    let mut per_table = vec![(0u64, 0u64); plan.tables.len()];
    for (part, (count, sum)) in parts.iter().zip(totals.per_part()) {
        let t = &mut per_table[part.table()];
        t.0 += count;
        t.1 = t.1.wrapping_add(*sum);
    }
    let mut entries = Vec::with_capacity(plan.tables.len());
    for (i, (t, export)) in plan.tables.iter().zip(tables).enumerate() {
        let mut files: Vec<&WrittenFile> =
            written.iter().filter(|w| w.table == i && !w.keys).collect();
        files.sort_by_key(|w| w.order);
        let rows: u64 = files.iter().map(|f| f.entry.rows).sum();
        let (count, sum) = per_table[i];
        if count != rows {
            return Err(Error::Integrity {
                table: t.source_name.clone(),
                reason: format!(
                    "{rows} rows were written to the bundle but PostgreSQL counts {count} in the \
                     same snapshot"
                ),
            });
        }
        entries.push(TableEntry {
            name: t.sink.name.clone(),
            source: t.source_name.clone(),
            columns: export.columns,
            key: export.key,
            cursor: export.cursor,
            rows_held: export.rows_held,
            sqlite_ddl: t.sink.create_table_sql(),
            rows,
            checksum: Checksum { count, sum },
            files: files.iter().map(|f| f.entry.clone()).collect(),
            lost: lost_values(&files),
            keys_file: written
                .iter()
                .find(|w| w.table == i && w.keys)
                .map(|w| w.entry.clone()),
        });
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        tool: format!("pg2sqlite {}", env!("CARGO_PKG_VERSION")),
        kind: if opts.since.is_some() {
            BundleKind::Delta
        } else {
            BundleKind::Full
        },
        file_format: opts.format,
        csv_convention: (opts.format == FileFormat::Csv)
            .then(|| crate::bundle::csv::CONVENTION.to_owned()),
        source: opts.source.display().to_owned(),
        snapshot_time: unix_micros_text(times.now),
        watermark: unix_micros_text(times.watermark),
        since: since_text,
        consistent_snapshot: snapshot.id.is_some(),
        catalog: catalog
            .into_iter()
            .filter(|c| plan.tables.iter().any(|t| t.source_name == source_name(c)))
            .collect(),
        tables: entries,
        not_expressed: plan.not_expressed.clone(),
    };
    write_manifest(dir, &manifest)?;
    let mut notes = plan.notes.clone();
    if snapshot.id.is_none() {
        notes.push("readers did not share one snapshot (--allow-inconsistent)".to_owned());
    }
    Ok(ExportSummary {
        out: opts.out.clone(),
        kind: manifest.kind,
        format: opts.format,
        tables: manifest
            .tables
            .iter()
            .map(|t| ExportTableSummary {
                name: t.name.clone(),
                source: t.source.clone(),
                rows: t.rows,
                rows_held: t.rows_held,
                files: t.files.len(),
                bytes: t.files.iter().map(|f| f.bytes).sum(),
            })
            .collect(),
        rows: manifest.tables.iter().map(|t| t.rows).sum(),
        bytes: written.iter().map(|w| w.entry.bytes).sum(),
        seconds: started.elapsed().as_secs_f64(),
        loss: {
            let mut ledger = LossLedger::default();
            for t in &manifest.tables {
                for l in &t.lost {
                    ledger.record(&t.name, &l.column, l.reason, l.count);
                }
            }
            ledger.entries()
        },
        not_expressed: manifest.not_expressed.clone(),
        notes,
    })
}

/// The values a table's files could not hold exactly, summed per column.
fn lost_values(files: &[&WrittenFile]) -> Vec<Lost> {
    let mut ledger = LossLedger::default();
    for f in files {
        for (column, reason, n) in &f.losses {
            ledger.record("", column, *reason, *n);
        }
    }
    ledger
        .entries()
        .into_iter()
        .map(|e| Lost {
            column: e.column,
            reason: e.reason,
            count: e.count,
        })
        .collect()
}

fn source_name(t: &PgTable) -> String {
    format!("{}.{}", t.schema, t.name)
}

/// What the export knows of one table beyond its plan.
struct ExportTable {
    /// The COPY of the table with PostgreSQL's binary forms (no text casts for
    /// time and interval: the files hold them typed).
    copy: CopySource,
    columns: Vec<BundleColumn>,
    key: Option<Vec<String>>,
    cursor: Option<String>,
    rows_held: RowsHeld,
    /// For a delta read by cursor: the COPY of the key columns, and their file types.
    keys: Option<(CopySource, Vec<BundleColumn>)>,
}

async fn export_tables(
    client: &Client,
    plan: &SyncPlan,
    catalog: &[PgTable],
    format: FileFormat,
    since: Option<&str>,
) -> Result<Vec<ExportTable>> {
    let mut out = Vec::with_capacity(plan.tables.len());
    let mut problems = Vec::new();
    for t in &plan.tables {
        let Some(pg) = catalog.iter().find(|c| source_name(c) == t.source_name) else {
            problems.push(format!("{}: not in the catalog", t.source_name));
            continue;
        };
        let cursor = since.and_then(|_| crate::merge::cursor::find(t, None).ok().map(|c| c.name));
        let range = match (&cursor, since) {
            (Some(c), Some(s)) => ChunkRange::Changed {
                cursor: c.clone(),
                since: s.to_owned(),
            },
            _ => ChunkRange::All,
        };
        let facts = match format {
            FileFormat::Parquet => column_facts(client, t, pg, &range).await?,
            FileFormat::Csv => HashMap::new(),
        };
        let mut copy = t.copy.clone();
        let mut columns = Vec::with_capacity(t.conversions.len());
        for (i, conv) in t.conversions.iter().enumerate() {
            let Some(pg_name) = t.copy.column_names.get(i) else {
                continue;
            };
            let Some(column) = pg.columns.iter().find(|c| &c.name == pg_name) else {
                problems.push(format!(
                    "{}: column {pg_name} not in the catalog",
                    t.source_name
                ));
                continue;
            };
            if matches!(conv.kind, ValueKind::Time | ValueKind::Interval) {
                copy.select_list[i] = quote_ident(pg_name);
            }
            let facts = facts.get(pg_name).copied().unwrap_or_default();
            match file_type(column, &conv.kind, facts) {
                Ok(file_type) => columns.push(BundleColumn {
                    name: pg_name.clone(),
                    file_type,
                }),
                Err(e) => problems.push(format!("{}: {e}", t.source_name)),
            }
        }
        copy.plain_columns = copy
            .select_list
            .iter()
            .zip(&copy.column_names)
            .all(|(s, n)| *s == quote_ident(n))
            && !pg.columns.iter().any(|c| c.generated);
        let key = pg.primary_key.clone();
        let keys = match (&cursor, &key) {
            (Some(_), Some(key)) => Some(key_copy(t, &copy, &columns, key)),
            _ => None,
        };
        out.push(ExportTable {
            copy,
            columns,
            key,
            rows_held: if cursor.is_some() {
                RowsHeld::ChangedSince
            } else {
                RowsHeld::All
            },
            cursor,
            keys,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Plan(problems))
    }
}

/// The COPY of a table's key columns, for a delta bundle's keys file.
fn key_copy(
    t: &TablePlan,
    copy: &CopySource,
    columns: &[BundleColumn],
    key: &[String],
) -> (CopySource, Vec<BundleColumn>) {
    let mut select_list = Vec::with_capacity(key.len());
    let mut names = Vec::with_capacity(key.len());
    let mut key_columns = Vec::with_capacity(key.len());
    for k in key {
        if let Some(i) = copy.column_names.iter().position(|n| n == k) {
            select_list.push(copy.select_list[i].clone());
            names.push(k.clone());
            if let Some(c) = columns.iter().find(|c| &c.name == k) {
                key_columns.push(c.clone());
            }
        }
    }
    let plain = select_list
        .iter()
        .zip(&names)
        .all(|(s, n)| *s == quote_ident(n));
    (
        CopySource {
            relation: t.copy.relation.clone(),
            partitioned: t.copy.partitioned,
            select_list,
            plain_columns: plain,
            column_names: names,
        },
        key_columns,
    )
}

/// What one column of the facts query asks.
enum Probe {
    NumericNan,
    ArrayDims,
    ParquetRange,
}

/// What the values of a table's decimal and array columns need from their
/// Parquet type, learned in the snapshot (one query per table that has such
/// columns; only the rows the bundle holds are looked at).
async fn column_facts(
    client: &Client,
    t: &TablePlan,
    pg: &PgTable,
    range: &ChunkRange,
) -> Result<HashMap<String, ColumnFacts>> {
    let mut exprs = Vec::new();
    let mut asked: Vec<(&PgColumn, Probe)> = Vec::new();
    for (i, conv) in t.conversions.iter().enumerate() {
        let Some(column) = t
            .copy
            .column_names
            .get(i)
            .and_then(|n| pg.columns.iter().find(|c| &c.name == n))
        else {
            continue;
        };
        let c = quote_ident(&column.name);
        match &conv.kind {
            ValueKind::Numeric => {
                let probe = file_type(column, &conv.kind, ColumnFacts::default());
                if matches!(probe, Ok(FileType::Decimal { .. })) {
                    exprs.push(format!("(count(*) FILTER (WHERE {c} = 'NaN'))::int8"));
                    exprs.push("NULL::int8".to_owned());
                    asked.push((column, Probe::NumericNan));
                }
            }
            ValueKind::Array(_) => {
                exprs.push(format!("min(array_ndims({c}))::int8"));
                exprs.push(format!("max(array_ndims({c}))::int8"));
                asked.push((column, Probe::ArrayDims));
            }
            ValueKind::Timestamp | ValueKind::Timestamptz => {
                let last = if conv.kind == ValueKind::Timestamp {
                    "'294247-01-10 04:00:54.775807'::timestamp"
                } else {
                    "'294247-01-10 04:00:54.775807+00'::timestamptz"
                };
                exprs.push(format!(
                    "(count(*) FILTER (WHERE {c} > {last} AND {c} <> 'infinity'))::int8"
                ));
                exprs.push("NULL::int8".to_owned());
                asked.push((column, Probe::ParquetRange));
            }
            _ => {}
        }
    }
    let mut facts = HashMap::new();
    if asked.is_empty() {
        return Ok(facts);
    }
    let sql = format!(
        "SELECT {} FROM {}",
        exprs.join(", "),
        t.copy.from_clause(range)
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(Error::pg(format!(
            "looking at the values of {}",
            t.source_name
        )))?;
    for (i, (column, probe)) in asked.iter().enumerate() {
        let a: Option<i64> = row.get(2 * i);
        let b: Option<i64> = row.get(2 * i + 1);
        let dims = |v: Option<i64>| v.and_then(|d| u8::try_from(d).ok());
        let f = match probe {
            Probe::NumericNan => ColumnFacts {
                numeric_nan: a.unwrap_or(0) > 0,
                ..ColumnFacts::default()
            },
            Probe::ArrayDims => ColumnFacts {
                array_dims: dims(a).zip(dims(b)),
                ..ColumnFacts::default()
            },
            Probe::ParquetRange => ColumnFacts {
                beyond_parquet_range: a.unwrap_or(0) > 0,
                ..ColumnFacts::default()
            },
        };
        facts.insert(column.name.clone(), f);
    }
    Ok(facts)
}

/// A delta reads a table with a cursor by its changed rows (one chunk); tables
/// without one are read whole, as a full sync reads them.
fn delta_chunks(plan: &SyncPlan, chunks: Vec<Chunk>, since: &str) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(chunks.len());
    let mut done = vec![false; plan.tables.len()];
    for c in chunks {
        match crate::merge::cursor::find(&plan.tables[c.table], None) {
            Ok(cursor) => {
                if !done[c.table] {
                    done[c.table] = true;
                    out.push(Chunk {
                        table: c.table,
                        range: ChunkRange::Changed {
                            cursor: cursor.name,
                            since: since.to_owned(),
                        },
                    });
                }
            }
            Err(_) => out.push(c),
        }
    }
    out
}

/// One file to write: a chunk of a table's rows, or a delta table's keys.
#[derive(Clone)]
struct FileJob {
    table: usize,
    /// The file's place among its table's files.
    order: usize,
    keys: bool,
    copy: CopySource,
    range: ChunkRange,
    columns: Vec<BundleColumn>,
    file_name: String,
    display_name: String,
}

struct WrittenFile {
    table: usize,
    order: usize,
    keys: bool,
    entry: FileEntry,
    losses: Vec<(String, LossReason, u64)>,
}

fn file_jobs(
    plan: &SyncPlan,
    tables: &[ExportTable],
    chunks: &[Chunk],
    format: FileFormat,
) -> Vec<FileJob> {
    let ext = format.extension();
    let stems = file_stems(plan);
    let mut per_table = vec![0usize; plan.tables.len()];
    for c in chunks {
        per_table[c.table] += 1;
    }
    let mut seen = vec![0usize; plan.tables.len()];
    let mut jobs = Vec::with_capacity(chunks.len());
    for c in chunks {
        let order = seen[c.table];
        seen[c.table] += 1;
        let stem = &stems[c.table];
        let file_name = if per_table[c.table] == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}.{:04}.{ext}", order + 1)
        };
        jobs.push(FileJob {
            table: c.table,
            order,
            keys: false,
            copy: tables[c.table].copy.clone(),
            range: c.range.clone(),
            columns: tables[c.table].columns.clone(),
            file_name,
            display_name: plan.tables[c.table].sink.name.clone(),
        });
    }
    for (i, t) in tables.iter().enumerate() {
        if let Some((copy, columns)) = &t.keys {
            jobs.push(FileJob {
                table: i,
                order: 0,
                keys: true,
                copy: copy.clone(),
                range: ChunkRange::All,
                columns: columns.clone(),
                file_name: format!("{}.keys.{ext}", stems[i]),
                display_name: plan.tables[i].sink.name.clone(),
            });
        }
    }
    jobs
}

/// A file name stem per table: its SQLite name with characters a file system
/// may not take replaced, made unique.
fn file_stems(plan: &SyncPlan) -> Vec<String> {
    let mut used: HashMap<String, usize> = HashMap::new();
    plan.tables
        .iter()
        .map(|t| {
            let clean: String = t
                .sink
                .name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let clean = if clean.is_empty() || clean == "manifest" {
                format!("table_{clean}")
            } else {
                clean
            };
            let lower = clean.to_lowercase();
            let n = used.entry(lower).or_insert(0);
            *n += 1;
            if *n == 1 {
                clean
            } else {
                format!("{clean}_{n}")
            }
        })
        .collect()
}

/// Writes every file over `jobs` connections in the snapshot.
async fn write_files(
    opts: &ExportOptions,
    snapshot: &snapshot::SharedSnapshot,
    jobs: Vec<FileJob>,
    dir: &Path,
    progress: &Arc<Progress>,
) -> Result<Vec<WrittenFile>> {
    let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
    let n = opts
        .jobs
        .min(queue.lock().map(|q| q.len()).unwrap_or(1))
        .max(1);
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let queue = queue.clone();
        let source = opts.source.clone();
        let snapshot = snapshot.clone();
        let dir = dir.to_path_buf();
        let format = opts.format;
        let progress = progress.clone();
        readers.push(async move {
            let client = source.connect().await?;
            snapshot::join(&client, &snapshot).await?;
            let mut written = Vec::new();
            loop {
                let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                let Some(job) = next else { break };
                let (entry, losses) = write_file(&client, &job, &dir, format, &progress).await?;
                written.push(WrittenFile {
                    table: job.table,
                    order: job.order,
                    keys: job.keys,
                    entry,
                    losses,
                });
            }
            let _ = client.batch_execute("COMMIT").await;
            Ok::<_, Error>(written)
        });
    }
    let all = futures_util::future::try_join_all(readers).await?;
    Ok(all.into_iter().flatten().collect())
}

/// Rows handed to the file writer at once.
const BATCH_ROWS: usize = 8192;
/// Batches waiting for the file writer: enough to keep it busy.
const WRITER_QUEUE: usize = 2;

/// What the reader hands the file's writer thread.
enum ToWriter {
    Rows(Vec<BinaryCopyOutRow>),
    /// The COPY ended with its trailer: the file may be completed.
    End,
}

/// Streams one chunk into one file: `NAME.tmp` on a thread of its own, renamed
/// to `NAME` when complete. A COPY that fails leaves no file behind.
async fn write_file(
    client: &Client,
    job: &FileJob,
    dir: &Path,
    format: FileFormat,
    progress: &Arc<Progress>,
) -> Result<(FileEntry, Vec<(String, LossReason, u64)>)> {
    let path = dir.join(&job.file_name);
    let tmp = dir.join(format!("{}.tmp", job.file_name));
    let stream = copy::open(client, &job.copy, &job.range).await?;
    futures_util::pin_mut!(stream);
    let (tx, rx) = crossbeam_channel::bounded::<ToWriter>(WRITER_QUEUE);
    let columns = job.columns.clone();
    let writer_tmp = tmp.clone();
    let writer = std::thread::Builder::new()
        .name("bundle-writer".into())
        .spawn(move || write_file_thread(&writer_tmp, format, &columns, &rx))
        .map_err(|e| Error::Aborted(format!("cannot start a file writer: {e}")))?;
    let mut rows: Vec<BinaryCopyOutRow> = Vec::with_capacity(BATCH_ROWS);
    let mut failed: Option<Error> = None;
    while let Some(row) = stream.next().await {
        match row {
            Ok(row) => rows.push(row),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        if rows.len() >= BATCH_ROWS {
            let n = u64::try_from(rows.len()).unwrap_or(0);
            if tx.send(ToWriter::Rows(std::mem::take(&mut rows))).is_err() {
                break;
            }
            if !job.keys {
                progress.rows_written(job.table, &job.display_name, n);
            }
        }
    }
    if failed.is_none() {
        let n = u64::try_from(rows.len()).unwrap_or(0);
        let _ = tx.send(ToWriter::Rows(rows));
        let _ = tx.send(ToWriter::End);
        if !job.keys {
            progress.rows_written(job.table, &job.display_name, n);
        }
    }
    drop(tx);
    let result = tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| Error::Aborted(format!("waiting for a file writer: {e}")))?
        .unwrap_or_else(|_| Err(Error::Aborted("a file writer panicked".into())));
    if let Some(e) = failed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let (rows, finished) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    let entry = FileEntry {
        path: job.file_name.clone(),
        rows,
        bytes: finished.bytes,
        sha256: finished.sha256,
    };
    Ok((entry, finished.losses))
}

/// The writer thread of one file: rows in, a complete file out, only when the
/// reader said the COPY ended (otherwise the file is abandoned unfinished).
fn write_file_thread(
    tmp: &Path,
    format: FileFormat,
    columns: &[BundleColumn],
    rx: &crossbeam_channel::Receiver<ToWriter>,
) -> Result<(u64, FinishedFile)> {
    let fail = |e: crate::bundle::BundleError| Error::BundleWrite {
        path: tmp.to_path_buf(),
        reason: e.to_string(),
    };
    let file = File::create(tmp).map_err(Error::io(tmp))?;
    let mut writer = TableFileWriter::new(format, file, columns).map_err(fail)?;
    let mut rows = 0u64;
    for message in rx {
        match message {
            ToWriter::Rows(batch) => {
                writer.write_rows(&batch).map_err(fail)?;
                rows += u64::try_from(batch.len()).unwrap_or(0);
            }
            ToWriter::End => {
                return Ok((rows, writer.finish().map_err(fail)?));
            }
        }
    }
    Err(Error::Aborted(
        "the export stopped before the file was complete".into(),
    ))
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    use std::io::Write;
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let mut file = File::create(&tmp).map_err(Error::io(&tmp))?;
    file.write_all(manifest.to_json().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    sync_dir(dir);
    Ok(())
}
