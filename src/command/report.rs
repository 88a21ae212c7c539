//! `pg2sqlite report`: if we roll back to this SQLite file now, what exactly
//! is lost? Reads PostgreSQL in one snapshot and the file read-only; writes
//! nothing but the report.
//!
//! 1. plan as a sync would (`--map`, `--tables`, `--schema`), split into chunks;
//! 2. compare every table as `verify` does, narrowing differing key ranges to
//!    buckets and rows, and classify each differing row (`report::classify`);
//! 3. tables the file lacks: every row is lost; samples from PostgreSQL;
//! 4. schema drift, foreign-key orphans (missing parents, and children of
//!    the resurrected rows);
//! 5. the loss ledger over the rows a sync of the difference reads;
//! 6. what a delta sync would do and roughly cost.

use std::path::PathBuf;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::map::SchemaMap;
use crate::mapping::ledger::LossLedger;
use crate::merge::cursor::{self, CursorColumn};
use crate::merge::foreign_keys;
use crate::pipeline::{plan_chunks, plan_from_catalog, snapshot_clients, until_signal};
use crate::plan::{PlanInputs, SyncPlan, TableSelection};
use crate::report::classify::RowClass;
use crate::report::model::{
    ClassifiedBy, Counts, Report, ReportCost, Sample, SyncCost, TableReport, TableRows, VERSION,
};
use crate::report::orphans::ResurrectedParents;
use crate::report::tally::{cut, row_name, Rules, Tally};
use crate::report::{ledger, schema};
use crate::sink::existing::TargetSchema;
use crate::source::catalog::read_catalog;
use crate::source::chunk::ChunkRange;
use crate::source::connect::SourceConfig;
use crate::source::snapshot::{self, Consistency};
use crate::verify::rows::{first_rows, walk_differences, RowDiff, TableScan};
use crate::verify::TableCheck;

/// Options of `pg2sqlite report`, validated by the CLI layer.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub source: SourceConfig,
    pub target: PathBuf,
    pub schemas: Vec<String>,
    pub selection: TableSelection,
    pub jobs: usize,
    pub consistency: Consistency,
    pub map: Option<SchemaMap>,
    /// `--since` as given, and as microseconds since 1970.
    pub since: Option<(String, i64)>,
    /// Samples kept per class and table.
    pub samples: usize,
}

/// Builds the report; nothing is written anywhere.
pub fn run(opts: &ReportOptions) -> Result<Report> {
    // Rows a damaged file cannot give back would be counted as lost.
    crate::sink::health::check_unless_unchanged(&opts.target)?;
    until_signal(opts.jobs, run_async(opts), "nothing was written")
}

async fn run_async(opts: &ReportOptions) -> Result<Report> {
    let started = Instant::now();
    let coordinator = opts.source.connect().await?;
    let snapshot = snapshot::export(&coordinator, opts.consistency).await?;
    let target = TargetSchema::read(&opts.target)?;
    let inputs = PlanInputs {
        selection: &opts.selection,
        map: opts.map.as_ref(),
        target: &target,
    };
    let plan = keyed_by_map(
        plan_from_catalog(&coordinator, &opts.schemas, inputs).await?,
        opts.map.as_ref(),
    );
    let catalog = read_catalog(&coordinator, &opts.schemas).await?;
    let chunks = plan_chunks(&coordinator, &plan).await?;
    let clients = snapshot_clients(&opts.source, &snapshot, opts.jobs).await?;
    let mut notes = plan.notes.clone();

    // Compare and classify.
    let since = opts.since.as_ref().map(|(_, micros)| *micros);
    let rules: Vec<Rules> = plan
        .tables
        .iter()
        .map(|t| Rules {
            cursor: since.and_then(|_| table_cursor(t, opts.map.as_ref())),
            since,
            limit: opts.samples,
        })
        .collect();
    let mut tallies: Vec<Tally> = plan.tables.iter().map(|_| Tally::default()).collect();
    let compare_started = Instant::now();
    let fks = {
        let conn = crate::verify::open_sqlite(&opts.target)?;
        foreign_keys::all(&conn).map_err(Error::sqlite("reading foreign keys", &opts.target))?
    };
    let mut resurrected = ResurrectedParents::new(fks, &plan);
    let mut visit = |table: usize, check: &TableCheck<'_>, diff: RowDiff| {
        let row = match &diff {
            RowDiff::SqliteOnly(row) if resurrected.watches(table) => Some(row.clone()),
            _ => None,
        };
        let class = rules[table].add(check, &mut tallies[table], diff);
        if let (RowClass::Resurrected, Some(row)) = (class, row) {
            resurrected.add(table, &row);
        }
    };
    let scans = walk_differences(&clients, &plan, &chunks, &opts.target, &mut visit).await?;
    let compare_seconds = compare_started.elapsed().as_secs_f64();

    // Tables the file lacks lose every row; the loss ledger reads what a sync would.
    let mut ledger_book = LossLedger::default();
    let ledger_started = Instant::now();
    let mut ledger_rows = 0u64;
    for (i, t) in plan.tables.iter().enumerate() {
        let tally = &mut tallies[i];
        let scan = &scans[i];
        let ranges = if scan.present {
            scan.ranges.clone()
        } else {
            tally.counts.lost_new = scan.postgres_rows;
            let check = TableCheck::new(t);
            for row in first_rows(&clients[0], &check, opts.samples).await? {
                tally.samples.lost_new.push(Sample {
                    key: row_name(&check, &row),
                    changes: Vec::new(),
                });
            }
            vec![ChunkRange::All]
        };
        ledger_rows += ledger::count(
            &clients[0],
            t,
            &ranges,
            &mut ledger_book,
            &crate::source::copy::StallWatch::silent(opts.source.stall_timeout()),
        )
        .await?;
    }
    let ledger_seconds = ledger_started.elapsed().as_secs_f64();
    let mut drift = schema::drift(
        &clients[0],
        &catalog,
        &plan,
        &opts.target,
        opts.selection.include.is_empty(),
    )
    .await?;
    let (children, listed) = resurrected.children(&opts.target)?;
    drift.foreign_key_orphans.resurrected_parent = children;
    drift.foreign_key_orphans.resurrected_parent_listed = listed;
    if resurrected.truncated {
        notes.push(
            "more resurrected parent rows than the report holds keys of: the count of rows \
             pointing at them is a lower bound"
                .to_owned(),
        );
    }
    let _ = coordinator.batch_execute("COMMIT").await;

    // Assemble.
    let mut tables = Vec::with_capacity(plan.tables.len());
    let mut totals = Counts::default();
    for ((t, scan), (tally, rule)) in plan
        .tables
        .iter()
        .zip(&scans)
        .zip(tallies.into_iter().zip(&rules))
    {
        let mut counts = tally.counts;
        counts.identical = scan
            .postgres_rows
            .saturating_sub(counts.lost_new)
            .saturating_sub(tally.changed_pairs);
        if !scan.present {
            counts.identical = 0;
            drift.tables_only_in_postgres.push(TableRows {
                table: t.sink.name.clone(),
                rows: scan.postgres_rows,
            });
        }
        totals.merge(&counts);
        if since.is_some() && rule.cursor.is_none() {
            notes.push(format!(
                "{}: no cursor column (updated_at, or the map's cursor): classified by key and content",
                t.sink.name
            ));
        }
        tables.push(TableReport {
            table: t.sink.name.clone(),
            source: t.source_name.clone(),
            only_in_postgres: !scan.present,
            cursor: rule.cursor.as_ref().map(|c| c.name.clone()),
            classified_by: if rule.cursor.is_some() {
                ClassifiedBy::Cursor
            } else {
                ClassifiedBy::Content
            },
            has_key: t.sink.primary_key.is_some(),
            postgres_rows: scan.postgres_rows,
            sqlite_rows: scan.sqlite_rows,
            samples_cut: cut(&counts, &tally.samples),
            counts,
            samples: tally.samples,
            parts: scan.parts,
            parts_differing: scan.parts_differing,
            buckets_read: scan.buckets_differing,
        });
    }
    notes.extend(plan.schema_loss.iter().cloned());
    if tables.iter().any(|t| !t.samples_cut.is_empty()) {
        notes.push(format!(
            "sample lists were cut at {} per class (--samples); counts are complete",
            opts.samples
        ));
    }
    let values_lost: u64 = drift
        .columns_only_in_postgres
        .iter()
        .map(|c| c.non_null)
        .sum();
    let sync = sync_cost(&totals, &scans, ledger_rows, ledger_seconds);
    let rows_read: u64 = scans.iter().map(|s| s.rows_read).sum();
    Ok(Report {
        version: VERSION,
        source: opts.source.display().to_owned(),
        target: opts.target.display().to_string(),
        since: opts.since.as_ref().map(|(text, _)| text.clone()),
        loss: totals.lost() > 0 || values_lost > 0,
        totals,
        tables,
        schema: drift,
        loss_ledger: ledger_book.entries(),
        sync,
        cost: ReportCost {
            seconds: started.elapsed().as_secs_f64(),
            checksum_seconds: compare_seconds - scans.iter().map(|s| s.row_seconds).sum::<f64>(),
            rows_read_row_by_row: rows_read,
            parts: scans.iter().map(|s| s.parts).sum(),
            parts_differing: scans.iter().map(|s| s.parts_differing).sum(),
        },
        notes,
    })
}

/// A table without a primary key is matched by the unique key the map names
/// for it, as a delta merge matches it; otherwise as a multiset of rows.
fn keyed_by_map(mut plan: SyncPlan, map: Option<&SchemaMap>) -> SyncPlan {
    for t in &mut plan.tables {
        if t.sink.primary_key.is_some() {
            continue;
        }
        if let Ok(key) = crate::merge::key::merge_key(t, map) {
            let names = key
                .iter()
                .map(|&k| t.sink.columns[k].name.clone())
                .collect();
            t.sink.primary_key = Some(names);
        }
    }
    plan
}

/// The cursor column the delta merge would read the table by: the map's
/// `cursor` (a PostgreSQL column name), else the default names.
fn table_cursor(t: &crate::plan::TablePlan, map: Option<&SchemaMap>) -> Option<CursorColumn> {
    let wanted = map
        .and_then(|m| m.table(&t.source_name))
        .and_then(|m| m.cursor())
        .and_then(|pg| t.sink_column_of(pg));
    cursor::find(t, wanted.as_deref()).ok()
}

/// The delta merge this difference needs and an estimate of its time: the
/// rows it changes at the rate this report read differing rows (a delta reads
/// them by cursor, or by content like this report for tables without one).
fn sync_cost(
    totals: &Counts,
    scans: &[TableScan],
    ledger_rows: u64,
    ledger_seconds: f64,
) -> SyncCost {
    let rows: u64 = scans.iter().map(|s| s.rows_read).sum::<u64>() + ledger_rows;
    let seconds: f64 = scans.iter().map(|s| s.row_seconds).sum::<f64>() + ledger_seconds;
    let rate = (rows > 0 && seconds > 0.0).then(|| rows_f64(rows) / seconds);
    let writes = totals.lost_new + totals.lost_changed + totals.resurrected + totals.conflicts;
    SyncCost {
        inserts: totals.lost_new,
        updates: totals.lost_changed,
        deletes: totals.resurrected,
        conflicts: totals.conflicts,
        kept: totals.sqlite_only,
        measured_rows_per_second: rate,
        estimated_seconds: rate.map(|r| rows_f64(writes) / r),
    }
}

/// A row count as a float for rates: exact below 2^53, close enough above.
fn rows_f64(n: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    f
}
