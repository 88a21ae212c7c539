//! `pg2sqlite export`: PostgreSQL → a bundle directory of Parquet or CSV files
//! and `manifest.json`, read in one snapshot by the same parallel readers as a
//! sync. Nothing in SQLite is involved: the files hold PostgreSQL's values in
//! their own types (`mapping::file_types`), for `import` or any Parquet/CSV reader.
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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::bundle::dir::{check_out_dir, partial_dir, publish, write_manifest, PartialDir};
use crate::bundle::layout::{delta_chunks, export_tables, file_jobs, source_name};
use crate::bundle::manifest::{
    BundleKind, Checksum, FileFormat, Manifest, RowsHeld, TableEntry, FORMAT_VERSION,
};
use crate::bundle::write::{lost_values, write_files, WrittenFile};
use crate::error::{Error, Result};
use crate::mapping::ledger::LossLedger;
use crate::mapping::time::unix_micros_text;
use crate::pipeline::{plan_chunks, plan_with_catalog, snapshot_clients, until_signal};
use crate::plan::{PlanInputs, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::existing::TargetSchema;
use crate::source::connect::SourceConfig;
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
    let (plan, catalog, views) = plan_with_catalog(&coordinator, &opts.schemas, inputs).await?;
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
    let estimates = plan.estimated_rows();
    let progress = Arc::new(Progress::new(opts.progress, estimates));

    // PostgreSQL checksums the exported rows while they are written.
    let parts = crate::verify::plan_parts(&plan, &chunks);
    let clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
    let checksums = crate::verify::pg_totals(&clients, &plan, &parts);
    let written = write_files(
        &opts.source,
        opts.jobs,
        opts.format,
        &snapshot,
        files,
        dir,
        &progress,
    );
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
        // The ones that translate, for `import` to create.
        views: views
            .into_iter()
            .filter(|v| {
                let name = crate::plan::sqlite_table_name(&v.schema, &v.name);
                plan.views.iter().any(|p| p.name == name)
            })
            .collect(),
    };
    crate::failpoint::hit("export.before-manifest")?;
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
