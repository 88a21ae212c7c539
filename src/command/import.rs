//! `pg2sqlite import`: a bundle directory → SQLite, on a host without
//! PostgreSQL, with the planning, mapping, schema map and writers of `sync`.
//!
//! 1. Read `manifest.json`; check every file's size, SHA-256 and row count
//!    before the target is touched (a damaged bundle is refused, naming the file).
//! 2. Plan from the manifest's catalog exactly as `sync` plans from the live
//!    one (map, existing target, table selection).
//! 3. A full bundle is written into a staging file beside the target and
//!    published by rename once verified; a delta bundle is merged into the
//!    existing target three ways, in one transaction (`delta::import`).
//! 4. Verification: each table's count and checksum in SQLite must equal those
//!    PostgreSQL computed at export, where the plan stores the table as the
//!    export's default plan does (a map or an app's schema may store it in
//!    other forms; those tables are checked by row count, and the summary
//!    says so).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::bundle::manifest::{BundleKind, Manifest, TableEntry};
use crate::bundle::read::{check_files, file_columns, read_into, FileRead, RowAdapter};
use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::merge::decide::DeletePolicy;
use crate::pipeline::{publish_full, runtime, table_summaries};
use crate::plan::{PlanInputs, SyncPlan, TablePlan, TableSelection};
use crate::progress::{Progress, ProgressMode};
use crate::sink::existing::TargetSchema;
use crate::sink::staging::{check_target, ExistingTarget, Staging};
use crate::sink::writer;
use crate::source::snapshot::SnapshotTimes;
use crate::summary::{DeltaSummary, SyncSummary};
use crate::verify::{TableStatus, TableVerdict, VerifyReport};

/// Options of `pg2sqlite import`, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub from: PathBuf,
    pub target: PathBuf,
    pub map: Option<SchemaMap>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub progress: ProgressMode,
    /// `--full`: a full bundle replaces an existing target.
    pub existing: ExistingTarget,
    pub deletes: Option<DeletePolicy>,
    pub apply: crate::delta::Apply,
    pub backup: crate::delta::BackupPolicy,
}

/// What an import did: a full copy published, or a delta merged.
pub enum ImportSummary {
    Full(SyncSummary),
    Delta(DeltaSummary),
}

impl ImportSummary {
    pub fn to_json(&self) -> String {
        match self {
            ImportSummary::Full(s) => s.to_json(),
            ImportSummary::Delta(s) => s.to_json(),
        }
    }
    pub fn to_text(&self) -> String {
        match self {
            ImportSummary::Full(s) => s.to_text(),
            ImportSummary::Delta(s) => s.to_text(),
        }
    }
}

/// The bundle as the import sees it: manifest, checked files and the plan.
pub(crate) struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The plan of the import (map, target, selection).
    pub plan: SyncPlan,
    /// For each table of the plan, its manifest entry.
    pub entries: Vec<TableEntry>,
    /// Per table of the plan: whether the manifest's checksum applies to the
    /// table as this plan stores it.
    pub checksum_applies: Vec<bool>,
    /// The export's snapshot times, for the state recorded in the target.
    pub times: SnapshotTimes,
}

impl Bundle {
    /// `source (bundle DIR)`, as summaries name where the rows came from.
    pub fn source_display(&self) -> String {
        format!(
            "{} (bundle {}, exported {})",
            self.manifest.source,
            self.dir.display(),
            self.manifest.snapshot_time
        )
    }

    /// Adds the values the export could not hold exactly to `ledger`, under
    /// the names this plan gives their tables and columns.
    pub fn record_losses(&self, ledger: &mut crate::mapping::ledger::LossLedger) {
        for (t, entry) in self.plan.tables.iter().zip(&self.entries) {
            for l in &entry.lost {
                let column = t
                    .copy
                    .column_names
                    .iter()
                    .position(|n| n == &l.column)
                    .and_then(|i| t.conversions.get(i))
                    .map_or(l.column.as_str(), |c| c.name.as_str());
                ledger.record(&t.sink.name, column, l.reason, l.count);
            }
        }
    }

    /// The files of the plan's tables to read, with their row adapters.
    pub fn row_files(&self) -> Result<Vec<FileRead>> {
        let mut files = Vec::new();
        for (i, (t, entry)) in self.plan.tables.iter().zip(&self.entries).enumerate() {
            let all: Vec<usize> = (0..t.conversions.len()).collect();
            for f in &entry.files {
                let columns = file_columns(entry, f);
                let adapter =
                    RowAdapter::new(t, &all, &columns).map_err(|e| Error::Plan(vec![e]))?;
                files.push(FileRead {
                    table: i,
                    path: self.dir.join(&f.path),
                    rows: f.rows,
                    columns,
                    adapter,
                });
            }
        }
        Ok(files)
    }
}

/// Reads a bundle's manifest, refusing a directory without a valid one.
fn read_manifest(from: &Path) -> Result<Manifest> {
    Manifest::read(from).map_err(|e| Error::BundleDamaged {
        path: from.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Checks a bundle's files against its manifest and plans the import into `target`.
pub(crate) fn open(
    from: &Path,
    manifest: Manifest,
    target: &Path,
    map: Option<&SchemaMap>,
    selection: &TableSelection,
) -> Result<Bundle> {
    check_files(from, &manifest)?;
    let parse_time = |what: &str, text: &str| {
        crate::mapping::time::parse_timestamp(text).ok_or_else(|| Error::BundleDamaged {
            path: from.join(crate::bundle::manifest::MANIFEST),
            reason: format!("{what} {text:?} is not a time"),
        })
    };
    let times = SnapshotTimes {
        now: parse_time("snapshot_time", &manifest.snapshot_time)?,
        watermark: parse_time("watermark", &manifest.watermark)?,
        // Transaction ids are the server's; the bundle's rows are compared.
        horizon: None,
    };
    let target_schema = TargetSchema::read(target)?;
    let inputs = PlanInputs {
        selection,
        map,
        target: &target_schema,
    };
    let (mut plan, lossy) =
        crate::plan::build(manifest.catalog.clone(), inputs).map_err(Error::Plan)?;
    // Offline, values a lossy format would change cannot be counted first
    // (sync asks PostgreSQL); such a format must be allowed in the map.
    let refused: Vec<String> = lossy
        .iter()
        .filter_map(|l| l.refusal.clone())
        .map(|r| {
            format!("{r} (import cannot count the values it would change: set allow_lossy in the map to accept it)")
        })
        .collect();
    if !refused.is_empty() {
        return Err(Error::Plan(refused));
    }
    for l in &lossy {
        plan.notes.push(format!(
            "{}: {} (accepted by {}; changed values are counted below)",
            l.place, l.what, l.accepted
        ));
    }
    let empty = TargetSchema::default();
    let default_inputs = PlanInputs {
        selection,
        map: None,
        target: &empty,
    };
    let (default_plan, _) =
        crate::plan::build(manifest.catalog.clone(), default_inputs).map_err(Error::Plan)?;
    let mut entries = Vec::with_capacity(plan.tables.len());
    let mut checksum_applies = Vec::with_capacity(plan.tables.len());
    let mut problems = Vec::new();
    for t in &plan.tables {
        match manifest.tables.iter().find(|e| e.source == t.source_name) {
            Some(e) => entries.push(e.clone()),
            None => problems.push(format!(
                "{}: in the manifest's catalog but not among its tables",
                t.source_name
            )),
        }
        checksum_applies.push(
            manifest.hashes_table_alike(t)
                && default_plan
                    .tables
                    .iter()
                    .find(|d| d.source_name == t.source_name)
                    .is_some_and(|d| crate::verify::same_canonical_form(d, t)),
        );
    }
    if !problems.is_empty() {
        return Err(Error::Plan(problems));
    }
    crate::plan::views::plan_views(&mut plan, &manifest.views);
    // What could not be created was listed at the export, once.
    plan.not_expressed.clone_from(&manifest.not_expressed);
    Ok(Bundle {
        dir: from.to_path_buf(),
        manifest,
        plan,
        entries,
        checksum_applies,
        times,
    })
}

/// Runs an import.
pub fn run(opts: &ImportOptions) -> Result<ImportSummary> {
    let manifest = read_manifest(&opts.from)?;
    match manifest.kind {
        BundleKind::Full => {
            if opts.apply == crate::delta::Apply::DryRun {
                return Err(Error::Usage(
                    "--dry-run previews merging a delta bundle; a full bundle is written into a \
                     new file, which replaces the target only when complete and verified"
                        .into(),
                ));
            }
            check_target(&opts.target, opts.existing)?;
            full(opts, manifest).map(ImportSummary::Full)
        }
        BundleKind::Delta => {
            if !opts.target.exists() {
                return Err(Error::Target {
                    path: opts.target.clone(),
                    reason: "does not exist: a delta bundle is merged into the SQLite file an \
                             earlier sync or full import made (import a full bundle first)"
                        .into(),
                });
            }
            crate::delta::import(opts, manifest).map(ImportSummary::Delta)
        }
    }
}

fn full(opts: &ImportOptions, manifest: Manifest) -> Result<SyncSummary> {
    let started = Instant::now();
    let bundle = open(
        &opts.from,
        manifest,
        &opts.target,
        opts.map.as_ref(),
        &opts.selection,
    )?;
    let plan = &bundle.plan;
    let files = bundle.row_files()?;
    let (mut staging, stale) = Staging::create(&opts.target)?;
    if plan.tables.iter().any(|t| t.sink.existing) {
        staging.start_from_target()?;
    }
    let estimates: Vec<u64> = bundle.entries.iter().map(|e| e.rows).collect();
    let progress = Arc::new(Progress::new(opts.progress, estimates));
    let mut notes = plan.notes.clone();
    if let Some(stale) = stale {
        notes.push(crate::sink::staging::stale_note(&stale));
    }
    for n in &notes {
        progress.note(n);
    }
    let mut files_per_table = vec![0usize; plan.tables.len()];
    for f in &files {
        files_per_table[f.table] += 1;
    }
    let sink_tables: Vec<_> = plan.tables.iter().map(|t| t.sink.clone()).collect();
    let views = plan.views.clone();
    let staging_path = staging.path().to_path_buf();
    let writer_progress = progress.clone();
    let outcome = read_into(plan, bundle.manifest.file_format, files, move |rx| {
        writer::run(
            staging_path,
            &sink_tables,
            &views,
            &files_per_table,
            rx,
            &writer_progress,
        )
    })?;

    staging.flush_in_background();
    progress.phase("verifying");
    let verification = verify_against_manifest(&bundle, staging.path(), opts.jobs)?;
    if !verification.matches() {
        progress.finish();
        return Err(Error::VerificationFailed(verification.to_text()));
    }
    if !bundle.manifest.hashes_rows_alike() {
        notes.push(format!(
            "the bundle was written by an older pg2sqlite (bundle format {}, other row \
                 hashes), so every table was checked by row count only",
            bundle.manifest.format_version
        ));
    } else {
        // Tables whose checksums were not compared: for the bundle's older
        // hash of json arrays, or for forms other than the default mapping.
        let (older, other_forms): (Vec<&TablePlan>, Vec<&TablePlan>) = plan
            .tables
            .iter()
            .zip(&bundle.checksum_applies)
            .filter(|(_, applies)| !**applies)
            .map(|(t, _)| t)
            .partition(|t| !bundle.manifest.hashes_table_alike(t));
        let names = |tables: Vec<&TablePlan>| -> String {
            let names: Vec<&str> = tables.iter().map(|t| t.sink.name.as_str()).collect();
            names.join(", ")
        };
        let (older, other_forms) = (names(older), names(other_forms));
        if !older.is_empty() {
            notes.push(format!(
                "{}: a json or jsonb array column, which bundle format {} hashed as \
                 PostgreSQL's array text, so checked by row count",
                older, bundle.manifest.format_version
            ));
        }
        if !other_forms.is_empty() {
            notes.push(format!(
                "{}: stored in other forms than the export's default mapping (map or existing \
                 schema), so checked by row count; content checksums were compared for the rest",
                other_forms
            ));
        }
    }
    let bytes = publish_full(
        staging,
        plan,
        opts.map.as_ref(),
        &outcome,
        bundle.times,
        Vec::new(),
        &progress,
    )?;
    Ok(SyncSummary {
        source: bundle.source_display(),
        target: opts.target.clone(),
        consistent_snapshot: bundle.manifest.consistent_snapshot,
        tables: table_summaries(plan, &outcome),
        seconds: started.elapsed().as_secs_f64(),
        bytes,
        not_expressed: plan.not_expressed.clone(),
        renames: plan.renames.clone(),
        schema_loss: plan.schema_loss.clone(),
        loss: {
            let mut ledger = outcome.ledger;
            bundle.record_losses(&mut ledger);
            ledger.entries()
        },
        verification: Some(verification),
        notes,
    })
}

/// Compares every table of the written file with the manifest: count and
/// checksum where they apply, else the count.
fn verify_against_manifest(bundle: &Bundle, path: &Path, jobs: usize) -> Result<VerifyReport> {
    let started = Instant::now();
    let plan = &bundle.plan;
    // The health checks read the whole file too: beside the checksums, as in `sync`.
    let health_path = path.to_path_buf();
    let health = std::thread::spawn(move || {
        crate::verify::sqlite_health(&health_path, crate::verify::IntegrityCheck::Quick, false)
    });
    let totals = runtime(jobs)?.block_on(crate::verify::sqlite_table_totals(plan, path))?;
    let health = health
        .join()
        .unwrap_or_else(|_| Err(Error::Aborted("the SQLite health check panicked".into())))?;
    let tables = plan
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let entry = &bundle.entries[i];
            let expected = (entry.checksum.count, entry.checksum.sum);
            match totals[i] {
                None => TableVerdict::missing_table(t, expected.0),
                Some((count, sum)) => {
                    let mut v = TableVerdict::new(t, expected.0, count);
                    let differs =
                        count != expected.0 || (bundle.checksum_applies[i] && sum != expected.1);
                    if differs {
                        v.status = TableStatus::Mismatch;
                    }
                    v
                }
            }
        })
        .collect();
    Ok(VerifyReport {
        tables,
        health,
        seconds: started.elapsed().as_secs_f64(),
    })
}
