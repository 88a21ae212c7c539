//! The end-of-run summary: one screen for a person, JSON for a script.

use std::fmt::Write;
use std::path::PathBuf;

use crate::mapping::ledger::LossEntry;
use crate::merge::decide::Winner;
use crate::merge::state::{ConflictKind, ConflictRecord, MergeCounts, SyncMode};
use crate::verify::VerifyReport;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TableSummary {
    /// SQLite table name.
    pub name: String,
    /// `schema.table` in PostgreSQL.
    pub source: String,
    pub rows: u64,
    pub seconds: f64,
    /// The table already existed in the target (the app's schema was kept and
    /// its rows replaced) rather than being created.
    pub existing: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncSummary {
    pub source: String,
    pub target: PathBuf,
    pub consistent_snapshot: bool,
    pub tables: Vec<TableSummary>,
    pub seconds: f64,
    /// Size of the published SQLite file.
    pub bytes: u64,
    /// Schema objects SQLite could not express (listed, never dropped silently).
    pub not_expressed: Vec<String>,
    /// Columns only PostgreSQL has, not copied because the target's existing
    /// table has no place for them: data the rollback leaves behind.
    pub schema_loss: Vec<String>,
    /// Values stored differently from PostgreSQL, counted.
    pub loss: Vec<LossEntry>,
    /// Tables and columns stored under another name, because SQLite cannot
    /// hold theirs (names differing only in case, `sqlite_…`).
    pub renames: Vec<String>,
    /// The verification run before publishing; None with `--no-verify`.
    pub verification: Option<VerifyReport>,
    /// Things the user should know about the run (a stale staging file removed, ...).
    pub notes: Vec<String>,
}

/// Most tables listed by name on screen; the rest are summed up.
const TABLES_ON_SCREEN: usize = 15;

impl SyncSummary {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("total_rows".into(), self.total_rows().into());
        }
        v.to_string()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let total = self.total_rows();
        #[allow(clippy::cast_precision_loss)]
        let rate = if self.seconds > 0.0 {
            total as f64 / self.seconds
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "synced {} tables, {} rows from {} into {} in {:.1}s ({:.0} rows/s, {})",
            self.tables.len(),
            total,
            self.source,
            self.target.display(),
            self.seconds,
            rate,
            human_bytes(self.bytes)
        );
        let mut by_rows: Vec<&TableSummary> = self.tables.iter().collect();
        by_rows.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.name.cmp(&b.name)));
        let width = by_rows
            .iter()
            .take(TABLES_ON_SCREEN)
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(0);
        for t in by_rows.iter().take(TABLES_ON_SCREEN) {
            let _ = writeln!(
                out,
                "  {:<width$}  {:>12} rows  {:>6.1}s{}",
                t.name,
                t.rows,
                t.seconds,
                if t.existing {
                    "  (into the existing table)"
                } else {
                    ""
                }
            );
        }
        if by_rows.len() > TABLES_ON_SCREEN {
            let rest = &by_rows[TABLES_ON_SCREEN..];
            let _ = writeln!(
                out,
                "  … and {} more tables with {} rows (--json lists all)",
                rest.len(),
                rest.iter().map(|t| t.rows).sum::<u64>()
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        match &self.verification {
            Some(v) => {
                let _ = writeln!(
                    out,
                    "verified before publishing: {} tables match PostgreSQL (counts and checksums), \
                     quick_check and foreign keys ok, in {:.1}s",
                    v.tables.len(),
                    v.seconds
                );
            }
            None => {
                let _ = writeln!(out, "warning: not verified (--no-verify)");
            }
        }
        if !self.consistent_snapshot {
            let _ = writeln!(out, "warning: tables were not read in one snapshot");
        }
        write_loss(&mut out, &self.loss);
        if !self.schema_loss.is_empty() {
            let _ = writeln!(
                out,
                "schema loss: {} PostgreSQL column(s) not copied, the SQLite tables have no \
                 place for them:",
                self.schema_loss.len()
            );
            for w in &self.schema_loss {
                let _ = writeln!(out, "  {w}");
            }
        }
        if !self.renames.is_empty() {
            let _ = writeln!(
                out,
                "renamed, SQLite cannot hold these names ({}; `map init` writes them into a map \
                 to change):",
                self.renames.len()
            );
            for r in &self.renames {
                let _ = writeln!(out, "  {r}");
            }
        }
        if !self.not_expressed.is_empty() {
            let _ = writeln!(
                out,
                "not expressible in SQLite ({}):",
                self.not_expressed.len()
            );
            for w in &self.not_expressed {
                let _ = writeln!(out, "  {w}");
            }
        }
        out
    }
}

fn write_loss(out: &mut String, loss: &[LossEntry]) {
    if loss.is_empty() {
        return;
    }
    let _ = writeln!(out, "values SQLite could not hold exactly:");
    for l in loss {
        let _ = writeln!(
            out,
            "  {}.{}: {} value(s): {}",
            l.table, l.column, l.count, l.description
        );
    }
}

/// One table of a delta merge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeltaTableSummary {
    /// SQLite table name.
    pub name: String,
    /// `schema.table` in PostgreSQL.
    pub source: String,
    pub mode: SyncMode,
    pub cursor: Option<String>,
    /// Rows with a cursor later than this were read (RFC 3339); none when merged in full.
    pub since: Option<String>,
    /// How the table's changed rows were found: by its cursor, by comparing
    /// content, or every row of a new table.
    pub found_by: String,
    #[serde(flatten)]
    pub counts: MergeCounts,
    /// Conflicts (both sides changed after the cutover), the first few.
    pub conflicts_listed: Vec<ConflictRecord>,
    /// SQLite rows PostgreSQL no longer has that were kept, the first few.
    pub kept_deletes_listed: Vec<String>,
    /// PostgreSQL rows SQLite lacks after the merge: SQLite deleted them and
    /// PostgreSQL did not change them since (the first few, and how many).
    pub missing_older: Vec<String>,
    pub missing_older_count: u64,
    pub seconds: f64,
}

/// The backup a delta merge left, and which kind it is (`"backup"` and
/// `"backup_kind"` in the JSON summary).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptBackup {
    #[serde(rename = "backup_kind")]
    pub kind: crate::delta::BackupKind,
    #[serde(rename = "backup")]
    pub path: PathBuf,
}

/// The summary of a delta merge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeltaSummary {
    pub source: String,
    pub target: PathBuf,
    /// `--dry-run`: everything was computed and rolled back.
    pub dry_run: bool,
    /// The backup the merge left: the copy taken before it, or its undo.
    #[serde(flatten)]
    pub backup: Option<KeptBackup>,
    /// Where the next delta continues (before subtracting `--lag`).
    pub watermark: String,
    pub tables: Vec<DeltaTableSummary>,
    pub totals: MergeCounts,
    pub seconds: f64,
    pub loss: Vec<LossEntry>,
    /// Tables whose foreign keys were checked before commit.
    pub foreign_keys_checked: Vec<String>,
    /// Rows whose foreign key the merge broke and that were read again from
    /// PostgreSQL (changed there by a cascade).
    pub foreign_key_repairs: u64,
    /// Warnings and facts the user should know (no cursor column, no index, ...).
    pub notes: Vec<String>,
}

impl DeltaSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let t = &self.totals;
        let _ = writeln!(
            out,
            "{} {} tables from {} into {} in {:.1}s: {} rows read, {} inserted, {} updated, \
             {} deleted, {} unchanged, {} conflicts",
            if self.dry_run {
                "dry run, nothing changed: would merge"
            } else {
                "merged"
            },
            self.tables.len(),
            self.source,
            self.target.display(),
            self.seconds,
            t.read,
            t.inserted,
            t.updated,
            t.deleted,
            t.unchanged,
            t.conflicts
        );
        match &self.backup {
            Some(KeptBackup {
                kind: crate::delta::BackupKind::Copy,
                path,
            }) => {
                let _ = writeln!(out, "backup of the previous file: {}", path.display());
            }
            Some(KeptBackup {
                kind: crate::delta::BackupKind::Undo,
                path,
            }) => {
                let _ = writeln!(
                    out,
                    "undo of this merge: {} (`pg2sqlite undo --target {}` puts the file back \
                     as it was)",
                    path.display(),
                    self.target.display()
                );
            }
            None => {}
        }
        let width = self
            .tables
            .iter()
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = writeln!(
            out,
            "  {:<width$}  {:<6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
            "table", "mode", "read", "inserted", "updated", "deleted", "unchanged", "conflicts"
        );
        for tb in &self.tables {
            let c = &tb.counts;
            let mode = tb.mode.as_str();
            let _ = writeln!(
                out,
                "  {:<width$}  {:<6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
                tb.name, mode, c.read, c.inserted, c.updated, c.deleted, c.unchanged, c.conflicts
            );
        }
        for tb in &self.tables {
            for c in &tb.conflicts_listed {
                let what = match c.kind {
                    ConflictKind::DeletedInSqlite => {
                        "SQLite deleted it, PostgreSQL changed it or its rows point at it"
                    }
                    ConflictKind::KeptDelete => "PostgreSQL deleted it, SQLite changed it",
                    ConflictKind::Update => "both sides changed it",
                };
                let _ = writeln!(
                    out,
                    "conflict: {} {}: {what}; kept {}'s row (PostgreSQL {}, SQLite {})",
                    tb.name,
                    c.key,
                    match c.winner {
                        Winner::Postgres => "PostgreSQL",
                        Winner::Sqlite => "SQLite",
                    },
                    c.postgres_cursor.as_deref().unwrap_or("no cursor"),
                    c.sqlite_cursor.as_deref().unwrap_or("no cursor")
                );
            }
            if tb.counts.conflicts > u64::try_from(tb.conflicts_listed.len()).unwrap_or(0) {
                let _ = writeln!(
                    out,
                    "  … {} conflicts in {} in all (table _pg2sqlite_conflicts lists every one)",
                    tb.counts.conflicts, tb.name
                );
            }
            if tb.counts.kept_deletes > 0 {
                let _ = writeln!(
                    out,
                    "kept: {} row(s) of {} that PostgreSQL no longer has{}{}",
                    tb.counts.kept_deletes,
                    tb.name,
                    if tb.kept_deletes_listed.is_empty() {
                        ""
                    } else {
                        ": "
                    },
                    tb.kept_deletes_listed.join(", ")
                );
            }
            if tb.missing_older_count > 0 {
                let _ = writeln!(
                    out,
                    "not in SQLite: {} row(s) of {} are in PostgreSQL, not in SQLite, and not \
                     changed there since the last sync (SQLite deleted them, or their cursor was \
                     set older than the sync) ({}); a --full sync brings them back",
                    tb.missing_older_count,
                    tb.name,
                    tb.missing_older.join(", ")
                );
            }
            if tb.counts.kept_sqlite_changes + tb.counts.new_in_sqlite > 0 {
                let _ = writeln!(
                    out,
                    "kept: {} row(s) of {} that only SQLite changed since the last sync, and {} \
                     that only SQLite has",
                    tb.counts.kept_sqlite_changes, tb.name, tb.counts.new_in_sqlite
                );
            }
        }
        for tb in &self.tables {
            let _ = writeln!(out, "changes of {} found by {}", tb.name, tb.found_by);
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        write_loss(&mut out, &self.loss);
        if self.foreign_key_repairs > 0 {
            let _ = writeln!(
                out,
                "{} row(s) whose foreign key the merge broke were read again from PostgreSQL \
                 (a cascade there changed them) and merged",
                self.foreign_key_repairs
            );
        }
        if !self.dry_run {
            let _ = writeln!(
                out,
                "verified before commit: the {} merged rows read back as PostgreSQL has them \
                 (counts and checksums); key sets compared for deletes; {}. Next run continues \
                 from {}",
                self.totals.read,
                if self.foreign_keys_checked.is_empty() {
                    "no foreign key could break (none leads from a written row or to a deleted \
                     one)"
                        .to_owned()
                } else {
                    format!(
                        "foreign keys of the written rows and of the children of deleted rows \
                         hold ({})",
                        self.foreign_keys_checked.join(", ")
                    )
                },
                self.watermark
            );
        }
        out
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
