//! Renders a [`Report`] as text, markdown, JSON or one
//! self-contained HTML page, and writes it where it was asked to go.

pub mod html;
pub mod json;
pub mod markdown;
pub mod text;

use std::io::Write;
use std::path::Path;

use super::classify::RowClass;
use super::model::{Report, Sample};
use crate::error::{Error, Result};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// A one-screen table, then the details.
    #[default]
    Text,
    /// For an incident document.
    Markdown,
    /// Every count and sample, `"version": 1`.
    Json,
    /// One self-contained page (no network) with a chart per table.
    Html,
}

pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Text => text::render(report),
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Json => json::render(report),
        ReportFormat::Html => html::render(report),
    }
}

/// Writes `text` to `path` through a temporary file beside it, renamed into
/// place: a reader never sees half a report.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.pg2sqlite-tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path)(e)
    })
}

/// One sample in a line: `id=7` or `id=7: title 'a' → 'b'`.
pub(crate) fn sample_line(s: &Sample) -> String {
    if s.changes.is_empty() {
        return s.key.clone();
    }
    let changes: Vec<String> = s
        .changes
        .iter()
        .map(|c| format!("{} {} → {}", c.column, value(&c.old), value(&c.new)))
        .collect();
    format!("{}: {}", s.key, changes.join(", "))
}

fn value(v: &Option<String>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) if s.chars().count() > 60 => {
            format!("'{}…'", s.chars().take(59).collect::<String>())
        }
        Some(s) => format!("'{s}'"),
    }
}

/// The headline: what the rollback loses, in one sentence.
pub(crate) fn verdict(report: &Report) -> String {
    if !report.loss {
        return "Nothing would be lost by rolling back to this SQLite file.".into();
    }
    let t = &report.totals;
    let mut parts: Vec<String> = RowClass::ALL
        .iter()
        .filter(|c| c.is_loss() && t.get(**c) > 0)
        .map(|c| format!("{} {}", t.get(*c), c.title()))
        .collect();
    let values: u64 = report
        .schema
        .columns_only_in_postgres
        .iter()
        .map(|c| c.non_null)
        .sum();
    if values > 0 {
        parts.push(format!("{values} values in columns only PostgreSQL has"));
    }
    format!(
        "Rolling back to this SQLite file would lose data: {}.",
        parts.join(", ")
    )
}

/// How the rows were classified, in words.
pub(crate) fn method(report: &Report) -> String {
    match &report.since {
        Some(s) => format!(
            "Rows classified by their cursor column against --since {s} (tables without one: by key and content)."
        ),
        None => "No --since: rows classified by key and content alone; a row only SQLite has \
                 counts as resurrected, a differing row as lost-changed, and there are no \
                 conflicts."
            .into(),
    }
}
