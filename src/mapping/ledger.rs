//! The loss ledger: every value SQLite could not hold exactly, counted per table,
//! column and reason, so nothing changes without being reported.

use std::collections::BTreeMap;

/// Why a value was stored differently from what PostgreSQL holds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LossReason {
    /// A REAL column stores integral doubles as integers, so -0.0 reads back as 0.0.
    NegativeZero,
    /// An array with a lower bound other than 1; JSON arrays always start at index 0.
    ArrayLowerBound,
    /// A SQL NULL element of a json/jsonb array, stored as JSON `null`.
    JsonArrayNull,
    /// A timestamp stored as epoch seconds or milliseconds, or as text with three
    /// fraction digits, lost its smaller digits (allowed in the map with `allow_lossy`).
    TruncatedPrecision,
    /// A numeric with a fraction stored as an INTEGER (allowed with `allow_lossy`).
    RoundedNumeric,
    /// An interval with months stored as a length (a month as 30 days, a year as
    /// 365), or a fraction beyond the format's unit dropped.
    DurationApproximated,
    /// A numeric stored as a REAL whose double reads back as another decimal
    /// (allowed with `allow_lossy`).
    NumericToDouble,
}

impl LossReason {
    pub fn describe(self) -> &'static str {
        match self {
            LossReason::NegativeZero => {
                "-0.0 stored as 0.0 (a SQLite REAL column cannot keep the sign of zero)"
            }
            LossReason::ArrayLowerBound => {
                "array lower bound other than 1 not kept (JSON arrays have no lower bound)"
            }
            LossReason::JsonArrayNull => {
                "SQL NULL element of a json array stored as JSON null (the two become one)"
            }
            LossReason::TruncatedPrecision => {
                "timestamp truncated to the format's unit (allowed by allow_lossy)"
            }
            LossReason::DurationApproximated => {
                "interval stored as a length: months counted as 30 days, years as 365, or \
                 digits beyond the unit dropped (allowed by allow_lossy)"
            }
            LossReason::RoundedNumeric => {
                "numeric rounded to an integer, half away from zero (allowed by allow_lossy)"
            }
            LossReason::NumericToDouble => {
                "numeric stored as a double that reads back as another decimal \
                 (allowed by allow_lossy, or how the app's framework stores it)"
            }
        }
    }
}

/// Counts of changed values, keyed by (table, column, reason).
#[derive(Debug, Clone, Default)]
pub struct LossLedger {
    counts: BTreeMap<(String, String, LossReason), u64>,
}

/// One line of the ledger, as shown in summaries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LossEntry {
    pub table: String,
    pub column: String,
    pub reason: LossReason,
    pub description: &'static str,
    pub count: u64,
}

impl LossLedger {
    pub fn record(&mut self, table: &str, column: &str, reason: LossReason, count: u64) {
        if count > 0 {
            *self
                .counts
                .entry((table.to_owned(), column.to_owned(), reason))
                .or_default() += count;
        }
    }

    pub fn merge(&mut self, other: LossLedger) {
        for ((t, c, r), n) in other.counts {
            *self.counts.entry((t, c, r)).or_default() += n;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub fn entries(&self) -> Vec<LossEntry> {
        self.counts
            .iter()
            .map(|((table, column, reason), count)| LossEntry {
                table: table.clone(),
                column: column.clone(),
                reason: *reason,
                description: reason.describe(),
                count: *count,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_skips_zero() {
        let mut a = LossLedger::default();
        a.record("t", "x", LossReason::NegativeZero, 2);
        a.record("t", "y", LossReason::NegativeZero, 0);
        let mut b = LossLedger::default();
        b.record("t", "x", LossReason::NegativeZero, 3);
        a.merge(b);
        let e = a.entries();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].count, 5);
    }
}
