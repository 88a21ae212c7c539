//! Turns the differing rows of one table into counts and samples per class:
//! counts exact, at most `limit` samples kept per class, so memory stays flat.

use super::classify::{classify, Presence, RowClass};
use super::model::{ColumnChange, Counts, Sample, Samples};
use crate::mapping::time::parse_timestamp;
use crate::merge::cursor::{self, CursorColumn};
use crate::merge::decide::Cursor;
use crate::verify::rows::{CanonicalRow, RowDiff};
use crate::verify::TableCheck;

/// Counts and samples of one table.
#[derive(Debug, Default)]
pub struct Tally {
    pub counts: Counts,
    pub samples: Samples,
    /// Keys in both databases whose rows differ (whatever their class).
    pub changed_pairs: u64,
}

/// How one table's rows are classified.
pub struct Rules {
    /// The cursor column, when the report has a since-time and the table a cursor.
    pub cursor: Option<CursorColumn>,
    pub since: Cursor,
    pub limit: usize,
}

impl Rules {
    /// A row's cursor from its canonical text: a timestamp, or an epoch number
    /// in the column's format.
    fn cursor_of(&self, check: &TableCheck<'_>, row: &CanonicalRow) -> Cursor {
        let c = self.cursor.as_ref()?;
        let text = row.get(c.index)?.as_deref()?;
        parse_timestamp(text).or_else(|| {
            let n: i64 = text.parse().ok()?;
            let format = check.plan().conversions[c.index].format;
            cursor::read(rusqlite::types::ValueRef::Integer(n), format)
        })
    }

    fn since(&self) -> Cursor {
        self.cursor.as_ref().and(self.since)
    }

    /// Classifies one differing row into `tally`; returns its class.
    pub(crate) fn add(&self, check: &TableCheck<'_>, tally: &mut Tally, diff: RowDiff) -> RowClass {
        let (class, row, changes) = match diff {
            RowDiff::PgOnly(row) => {
                let class = classify(
                    Presence::PostgresOnly,
                    self.cursor_of(check, &row),
                    None,
                    None,
                );
                (class, row, None)
            }
            RowDiff::SqliteOnly(row) => {
                let c = self.cursor_of(check, &row);
                (
                    classify(Presence::SqliteOnly, None, c, self.since()),
                    row,
                    None,
                )
            }
            RowDiff::Changed { pg, sqlite } => {
                tally.changed_pairs += 1;
                let class = classify(
                    Presence::Both,
                    self.cursor_of(check, &pg),
                    self.cursor_of(check, &sqlite),
                    self.since(),
                );
                (class, pg, Some(sqlite))
            }
        };
        tally.counts.add(class, 1);
        let list = tally.samples.list_mut(class);
        if list.len() >= self.limit {
            return class;
        }
        let changes = match changes {
            None => Vec::new(),
            Some(old) => column_changes(check, &old, &row),
        };
        list.push(Sample {
            key: row_name(check, &row),
            changes,
        });
        class
    }
}

fn column_changes(
    check: &TableCheck<'_>,
    old: &CanonicalRow,
    new: &CanonicalRow,
) -> Vec<ColumnChange> {
    old.iter()
        .zip(new)
        .zip(&check.plan().sink.columns)
        .filter(|((o, n), _)| o != n)
        .map(|((o, n), c)| ColumnChange {
            column: c.name.clone(),
            old: o.clone(),
            new: n.clone(),
        })
        .collect()
}

/// The classes whose samples are fewer than their count.
pub fn cut(counts: &Counts, samples: &Samples) -> Vec<RowClass> {
    RowClass::ALL
        .into_iter()
        .filter(|c| u64::try_from(samples.get(*c).len()).unwrap_or(u64::MAX) < counts.get(*c))
        .collect()
}

/// How a sample names its row: the key, or (without one) the row's values.
pub(crate) fn row_name(check: &TableCheck<'_>, row: &CanonicalRow) -> String {
    if check.has_key() {
        check.key_display(row)
    } else {
        crate::verify::preview_row(check, row)
    }
}
