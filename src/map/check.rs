//! `pg2sqlite map check`: a map against both databases, every problem at once.
//!
//! It runs the same planning as `sync` (so the two can never disagree), without
//! a snapshot and without writing anything.

use std::fmt::Write;
use std::path::PathBuf;

use super::SchemaMap;
use crate::error::Result;
use crate::pipeline::{plan_from_catalog, runtime};
use crate::plan::{PlanInputs, TableSelection};
use crate::sink::existing::TargetSchema;
use crate::source::connect::SourceConfig;

pub struct CheckOptions {
    pub map: SchemaMap,
    pub source: SourceConfig,
    pub target: Option<PathBuf>,
    pub schemas: Vec<String>,
}

/// Checks the map; the text says what a sync with it would do.
pub fn run(opts: &CheckOptions) -> Result<String> {
    let target = match &opts.target {
        Some(p) => TargetSchema::read(p)?,
        None => TargetSchema::default(),
    };
    let selection = TableSelection::default();
    let plan = runtime(1)?.block_on(async {
        let client = opts.source.connect().await?;
        let inputs = PlanInputs {
            selection: &selection,
            map: Some(&opts.map),
            target: &target,
        };
        plan_from_catalog(&client, &opts.schemas, inputs).await
    })?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "schema map {}: ok, checked against PostgreSQL {}{}",
        opts.map.path.display(),
        opts.source.display(),
        match &opts.target {
            Some(p) if target.tables.is_empty() => {
                format!(" ({} has no tables yet)", p.display())
            }
            Some(p) => format!(" and {}", p.display()),
            None => " only (no --target given)".to_owned(),
        }
    );
    for t in &plan.tables {
        let formats: Vec<String> = t
            .conversions
            .iter()
            .filter_map(|c| c.format.name().map(|f| format!("{} as {f}", c.name)))
            .collect();
        let _ = writeln!(
            out,
            "  {} -> {} ({}, {} columns{}{})",
            t.source_name,
            t.sink.name,
            if t.sink.existing {
                "existing table"
            } else {
                "new table"
            },
            t.sink.columns.len(),
            if formats.is_empty() { "" } else { ": " },
            formats.join(", ")
        );
    }
    for n in &plan.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !plan.schema_loss.is_empty() {
        let _ = writeln!(
            out,
            "schema loss: {} PostgreSQL column(s) would not be copied:",
            plan.schema_loss.len()
        );
        for l in &plan.schema_loss {
            let _ = writeln!(out, "  {l}");
        }
    }
    Ok(out)
}
