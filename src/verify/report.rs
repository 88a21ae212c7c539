//! The verification report: a table a person reads at a glance, JSON for scripts.

use std::fmt::Write;

use super::MAX_KEYS_LISTED;
use crate::plan::TablePlan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableStatus {
    Match,
    Mismatch,
    /// The table is not in the SQLite file at all.
    MissingTable,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChangedRow {
    pub key: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TableVerdict {
    pub table: String,
    pub source: String,
    pub status: TableStatus,
    pub postgres_rows: u64,
    pub sqlite_rows: u64,
    /// Keys (or rows, for tables without a key) in PostgreSQL only.
    pub missing: Vec<String>,
    /// Keys (or rows) in SQLite only.
    pub extra: Vec<String>,
    pub changed: Vec<ChangedRow>,
    /// Differing buckets not read row by row (too many differences to list).
    pub unlocated_buckets: usize,
    /// Of the listed differences, how many each side made since the last sync
    /// (when the file records what that sync left).
    pub by_side: Option<super::sides::BySide>,
}

impl TableVerdict {
    pub fn new(plan: &TablePlan, postgres_rows: u64, sqlite_rows: u64) -> TableVerdict {
        TableVerdict {
            table: plan.sink.name.clone(),
            source: plan.source_name.clone(),
            status: TableStatus::Match,
            postgres_rows,
            sqlite_rows,
            missing: Vec::new(),
            extra: Vec::new(),
            changed: Vec::new(),
            unlocated_buckets: 0,
            by_side: None,
        }
    }

    pub fn missing_table(plan: &TablePlan, postgres_rows: u64) -> TableVerdict {
        TableVerdict {
            status: TableStatus::MissingTable,
            ..TableVerdict::new(plan, postgres_rows, 0)
        }
    }

    fn details(&self) -> String {
        let mut parts = Vec::new();
        if self.postgres_rows == self.sqlite_rows {
            parts.push(format!("{} rows", self.postgres_rows));
        } else {
            parts.push(format!(
                "{} rows in PostgreSQL, {} in SQLite",
                self.postgres_rows, self.sqlite_rows
            ));
        }
        let list = |keys: &[String]| -> String {
            let shown: Vec<&str> = keys
                .iter()
                .take(MAX_KEYS_LISTED)
                .map(String::as_str)
                .collect();
            let mut s = shown.join("; ");
            if keys.len() > MAX_KEYS_LISTED {
                let _ = write!(s, "; … {} more", keys.len() - MAX_KEYS_LISTED);
            }
            s
        };
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} missing ({})",
                self.missing.len(),
                list(&self.missing)
            ));
        }
        if !self.extra.is_empty() {
            parts.push(format!(
                "{} extra ({})",
                self.extra.len(),
                list(&self.extra)
            ));
        }
        if !self.changed.is_empty() {
            let shown: Vec<String> = self
                .changed
                .iter()
                .take(MAX_KEYS_LISTED)
                .map(|c| format!("{}: {}", c.key, c.columns.join(", ")))
                .collect();
            let mut s = format!("{} changed ({}", self.changed.len(), shown.join("; "));
            if self.changed.len() > MAX_KEYS_LISTED {
                let _ = write!(s, "; … {} more", self.changed.len() - MAX_KEYS_LISTED);
            }
            s.push(')');
            parts.push(s);
        }
        if let Some(b) = self.by_side {
            if b.sqlite > 0 {
                parts.push(format!(
                    "{} of these SQLite changed since the last sync (a delta keeps SQLite's \
                     changes)",
                    b.sqlite
                ));
            }
            if b.postgres > 0 {
                parts.push(format!(
                    "{} PostgreSQL changed since the last sync (the next delta brings them)",
                    b.postgres
                ));
            }
        }
        if self.unlocated_buckets > 0 {
            parts.push(format!(
                "more differences in {} key-hash buckets not listed",
                self.unlocated_buckets
            ));
        }
        if self.status == TableStatus::MissingTable {
            parts.push("table missing in SQLite".into());
        }
        parts.join("; ")
    }
}

/// How much of SQLite's own structure a health check reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrityCheck {
    /// `PRAGMA quick_check`: every page, b-tree and record, but not whether
    /// each index entry matches its row (nor UNIQUE, which `CREATE UNIQUE
    /// INDEX` enforced when it built the index). Enough for a file whose indexes
    /// SQLite itself just built or kept over rows whose checksums are compared
    /// (a sync or import before publishing): `integrity_check` costs twelve
    /// times as much there (5.3 s against 0.4 s on a 1.1 GB file), most of it
    /// looking up every row in every index.
    Quick,
    /// What `PRAGMA integrity_check` checks: `quick_check`, and every index
    /// against its table and UNIQUE (`verify::indexes`, by sums, or SQLite's
    /// own `integrity_check(table)` for the indexes sums cannot read alike).
    /// What `pg2sqlite verify` runs on a file others may have written.
    #[default]
    Full,
}

impl IntegrityCheck {
    /// What ran, in words.
    pub fn pragma(self) -> &'static str {
        match self {
            IntegrityCheck::Quick => "PRAGMA quick_check",
            IntegrityCheck::Full => "PRAGMA quick_check and every index against its table",
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Health {
    /// Which check ran.
    pub depth: IntegrityCheck,
    /// Lines of `PRAGMA integrity_check` (or `quick_check`) other than `ok`.
    pub integrity: Vec<String>,
    pub foreign_key_violations: u64,
    /// The first violations of `PRAGMA foreign_key_check`.
    pub foreign_keys: Vec<String>,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.integrity.is_empty() && self.foreign_key_violations == 0
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub tables: Vec<TableVerdict>,
    pub health: Health,
    pub seconds: f64,
}

impl VerifyReport {
    /// Everything agrees and SQLite is healthy.
    pub fn matches(&self) -> bool {
        self.health.ok() && self.tables.iter().all(|t| t.status == TableStatus::Match)
    }

    pub fn differing_tables(&self) -> Vec<&str> {
        self.tables
            .iter()
            .filter(|t| t.status != TableStatus::Match)
            .map(|t| t.table.as_str())
            .collect()
    }

    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("match".into(), self.matches().into());
        }
        v.to_string()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let width = self
            .tables
            .iter()
            .map(|t| t.table.chars().count())
            .chain(["foreign keys".len()])
            .max()
            .unwrap_or(0);
        for t in &self.tables {
            let status = match t.status {
                TableStatus::Match => "MATCH",
                TableStatus::Mismatch | TableStatus::MissingTable => "MISMATCH",
            };
            let _ = writeln!(out, "{:<width$}  {:<9} {}", t.table, status, t.details());
        }
        let integrity = if self.health.integrity.is_empty() {
            "ok".to_owned()
        } else {
            self.health.integrity.join("; ")
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<9} {}: {integrity}",
            "integrity",
            if self.health.integrity.is_empty() {
                "OK"
            } else {
                "FAILED"
            },
            self.health.depth.pragma()
        );
        let fk = if self.health.foreign_key_violations == 0 {
            "none violated".to_owned()
        } else {
            format!(
                "{} violations ({})",
                self.health.foreign_key_violations,
                self.health.foreign_keys.join("; ")
            )
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<9} PRAGMA foreign_key_check: {fk}",
            "foreign keys",
            if self.health.foreign_key_violations == 0 {
                "OK"
            } else {
                "FAILED"
            }
        );
        let _ = writeln!(
            out,
            "{} in {:.1}s",
            if self.matches() {
                "verified: PostgreSQL and SQLite agree"
            } else {
                "verification found differences"
            },
            self.seconds
        );
        out
    }
}
