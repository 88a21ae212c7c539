//! What a data-loss report holds: counts and samples per table and class,
//! schema drift, the loss ledger and what a sync would cost. Every renderer
//! reads this; JSON is its serialization (`"version": 1`).

use serde::Serialize;

use super::classify::RowClass;
use crate::mapping::ledger::LossEntry;

/// Version of the JSON form; bumped when a field changes meaning or goes.
pub const VERSION: u32 = 1;

/// Samples kept per class and table unless `--samples` says otherwise.
pub const DEFAULT_SAMPLES: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub source: String,
    pub target: String,
    /// The cutover given with `--since`, as given.
    pub since: Option<String>,
    /// Whether anything of PostgreSQL's would be lost: the exit code.
    pub loss: bool,
    pub totals: Counts,
    pub tables: Vec<TableReport>,
    pub schema: SchemaDrift,
    /// Values SQLite cannot hold exactly under the mapping, counted over the
    /// PostgreSQL rows a sync of this difference reads.
    pub loss_ledger: Vec<LossEntry>,
    pub sync: SyncCost,
    pub cost: ReportCost,
    pub notes: Vec<String>,
}

/// Rows per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub lost_new: u64,
    pub lost_changed: u64,
    pub resurrected: u64,
    pub conflicts: u64,
    pub sqlite_only: u64,
    pub identical: u64,
}

impl Counts {
    pub fn get(&self, class: RowClass) -> u64 {
        match class {
            RowClass::LostNew => self.lost_new,
            RowClass::LostChanged => self.lost_changed,
            RowClass::Resurrected => self.resurrected,
            RowClass::Conflict => self.conflicts,
            RowClass::SqliteOnly => self.sqlite_only,
        }
    }

    fn slot(&mut self, class: RowClass) -> &mut u64 {
        match class {
            RowClass::LostNew => &mut self.lost_new,
            RowClass::LostChanged => &mut self.lost_changed,
            RowClass::Resurrected => &mut self.resurrected,
            RowClass::Conflict => &mut self.conflicts,
            RowClass::SqliteOnly => &mut self.sqlite_only,
        }
    }

    pub fn add(&mut self, class: RowClass, n: u64) {
        *self.slot(class) += n;
    }

    pub fn merge(&mut self, other: &Counts) {
        for c in RowClass::ALL {
            self.add(c, other.get(c));
        }
        self.identical += other.identical;
    }

    /// Rows of PostgreSQL's the rollback loses (or brings back).
    pub fn lost(&self) -> u64 {
        RowClass::ALL
            .iter()
            .filter(|c| c.is_loss())
            .map(|c| self.get(*c))
            .sum()
    }
}

/// One listed row: its key (or, without a key, its values) and, for rows in
/// both databases, the columns that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub key: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ColumnChange>,
}

/// A column whose value the rollback changes: SQLite's (`old`, what the
/// rollback keeps) and PostgreSQL's (`new`), in canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnChange {
    pub column: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Samples per class, at most `limit` each; `cut` names the classes whose
/// list is shorter than their count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    pub lost_new: Vec<Sample>,
    pub lost_changed: Vec<Sample>,
    pub resurrected: Vec<Sample>,
    pub conflicts: Vec<Sample>,
    pub sqlite_only: Vec<Sample>,
}

impl Samples {
    pub fn get(&self, class: RowClass) -> &[Sample] {
        match class {
            RowClass::LostNew => &self.lost_new,
            RowClass::LostChanged => &self.lost_changed,
            RowClass::Resurrected => &self.resurrected,
            RowClass::Conflict => &self.conflicts,
            RowClass::SqliteOnly => &self.sqlite_only,
        }
    }

    pub fn list_mut(&mut self, class: RowClass) -> &mut Vec<Sample> {
        match class {
            RowClass::LostNew => &mut self.lost_new,
            RowClass::LostChanged => &mut self.lost_changed,
            RowClass::Resurrected => &mut self.resurrected,
            RowClass::Conflict => &mut self.conflicts,
            RowClass::SqliteOnly => &mut self.sqlite_only,
        }
    }
}

/// How a table's rows were classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifiedBy {
    /// The cursor column against `--since`.
    Cursor,
    /// Key and content alone (no `--since`, or no cursor column).
    Content,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// The SQLite name.
    pub table: String,
    /// `schema.table` in PostgreSQL.
    pub source: String,
    /// The SQLite file has no such table: every PostgreSQL row is lost.
    pub only_in_postgres: bool,
    pub cursor: Option<String>,
    pub classified_by: ClassifiedBy,
    /// Rows are matched by primary key; without one, as a multiset.
    pub has_key: bool,
    pub postgres_rows: u64,
    pub sqlite_rows: u64,
    pub counts: Counts,
    pub samples: Samples,
    /// Classes whose samples were cut short by `--samples`.
    pub samples_cut: Vec<RowClass>,
    /// Key ranges compared by checksum, those that differed, and the key
    /// buckets read row by row.
    pub parts: usize,
    pub parts_differing: usize,
    pub buckets_read: usize,
}

/// What the two schemas disagree on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SchemaDrift {
    pub tables_only_in_postgres: Vec<TableRows>,
    /// Tables the SQLite file has that the report did not compare (not lost).
    pub tables_only_in_sqlite: Vec<TableRows>,
    pub columns_only_in_postgres: Vec<ColumnOnlyInPostgres>,
    pub type_differences: Vec<TypeDifference>,
    pub foreign_key_orphans: Orphans,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnOnlyInPostgres {
    pub table: String,
    pub column: String,
    pub postgres_type: String,
    /// Values the rollback loses.
    pub non_null: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeDifference {
    pub table: String,
    pub column: String,
    pub postgres_type: String,
    /// What the default mapping would declare.
    pub mapped_type: String,
    /// What the SQLite file declares.
    pub sqlite_type: String,
}

/// Rows the rolled-back file would hold whose parent is gone: their foreign
/// key points at no row (`PRAGMA foreign_key_check`), or at a row PostgreSQL
/// deleted that the rollback brings back (the first ten of each listed).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Orphans {
    pub missing_parent: u64,
    pub missing_parent_listed: Vec<String>,
    pub resurrected_parent: u64,
    pub resurrected_parent_listed: Vec<String>,
}

/// What a delta sync of this difference would do instead, and about how long.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncCost {
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub conflicts: u64,
    /// SQLite-only rows a sync keeps.
    pub kept: u64,
    /// Rows read row by row per second while this report ran.
    pub measured_rows_per_second: Option<f64>,
    pub estimated_seconds: Option<f64>,
}

/// What the report itself cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportCost {
    pub seconds: f64,
    pub checksum_seconds: f64,
    pub rows_read_row_by_row: u64,
    pub parts: usize,
    pub parts_differing: usize,
}
