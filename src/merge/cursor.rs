//! The cursor column of a table, and its values read as points in time.

use rusqlite::types::ValueRef;

use super::decide::Cursor;
use crate::mapping::format::Format;
use crate::mapping::time::parse_timestamp;
use crate::plan::TablePlan;

/// Cursor columns tried in order when the map names none. Only columns that
/// change with every update: a creation time (`created_at`) would hide every
/// later edit of the row (issue 10).
pub const DEFAULT_CURSORS: [&str; 2] = ["updated_at", "updatedAt"];

/// The column a delta of a table is read by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorColumn {
    pub name: String,
    /// Position among the table's merged columns.
    pub index: usize,
}

/// Why a table has no usable cursor column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCursor {
    /// No default name exists: the table's changes are found by content.
    Absent,
    /// The column exists but is not a date or timestamp.
    WrongType { column: String, pg_type: String },
}

/// Finds the cursor column: `wanted` (from the map) or the first default name
/// the table has. Only dates and timestamps are cursors.
pub fn find(plan: &TablePlan, wanted: Option<&str>) -> Result<CursorColumn, NoCursor> {
    let names: Vec<&str> = match wanted {
        Some(w) => vec![w],
        None => DEFAULT_CURSORS.to_vec(),
    };
    for name in names {
        let Some(index) = plan.sink.columns.iter().position(|c| c.name == name) else {
            continue;
        };
        let kind = &plan.conversions[index].kind;
        return if kind.is_point_in_time() {
            Ok(CursorColumn {
                name: name.to_owned(),
                index,
            })
        } else {
            Err(NoCursor::WrongType {
                column: name.to_owned(),
                pg_type: format!("{kind:?}").to_lowercase(),
            })
        };
    }
    Err(NoCursor::Absent)
}

/// Reads a stored cursor value as a point in time, in the column's format when
/// that says how (epoch units, Julian days). Otherwise text is parsed as a
/// timestamp in any of the usual forms, and numbers are epoch times, their unit
/// told by their size (seconds, milliseconds or microseconds since 1970; a REAL
/// between 1e6 and 1e7 is a Julian day, as SQLite's `julianday()` writes).
/// Anything else is an unknown time.
pub fn read(v: ValueRef<'_>, format: Format) -> Cursor {
    match (format, v) {
        (Format::Epoch(unit), ValueRef::Integer(i)) => i.checked_mul(unit.micros()),
        _ => read_any(v),
    }
}

fn read_any(v: ValueRef<'_>) -> Cursor {
    match v {
        ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(parse_timestamp),
        ValueRef::Integer(i) => epoch_micros(i),
        ValueRef::Real(f) if (1e6..1e7).contains(&f) => {
            // Julian day 2440587.5 is 1970-01-01T00:00:00Z.
            let micros = ((f - 2_440_587.5) * 86_400e6).round();
            // Within ±1e7 days the product fits an i64 with room to spare.
            #[allow(clippy::cast_possible_truncation)]
            Some(micros as i64)
        }
        ValueRef::Real(f) if f.is_finite() && f.abs() < 9e15 => {
            #[allow(clippy::cast_possible_truncation)]
            let whole = f.trunc() as i64;
            #[allow(clippy::cast_possible_truncation)]
            let frac = ((f - f.trunc()) * 1e6).round() as i64;
            epoch_micros(whole).map(|m| {
                if whole.abs() < 100_000_000_000 {
                    m + frac
                } else {
                    m
                }
            })
        }
        _ => None,
    }
}

/// An integer epoch time in microseconds; the unit follows the magnitude (dates
/// between 1973 and 5138 AD are told apart unambiguously).
fn epoch_micros(i: i64) -> Cursor {
    let a = i.unsigned_abs();
    if a < 100_000_000_000 {
        i.checked_mul(1_000_000)
    } else if a < 100_000_000_000_000 {
        i.checked_mul(1_000)
    } else {
        Some(i)
    }
}

/// A cursor value for messages and the conflicts table.
pub fn display(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::format::EpochUnit;

    const NOON: i64 = 1_763_035_200_000_000; // 2025-11-13T12:00:00Z

    #[test]
    fn the_column_format_decides_the_epoch_unit() {
        let ms = Format::Epoch(EpochUnit::Millis);
        // Without the format, 5 000 000 000 would be read as seconds.
        assert_eq!(
            read(ValueRef::Integer(5_000_000_000), ms),
            Some(5_000_000_000_000)
        );
        assert_eq!(
            read(ValueRef::Text(b"2025-11-13T12:00:00Z"), ms),
            Some(NOON)
        );
    }

    #[test]
    fn every_common_representation_reads_as_the_same_instant() {
        let read = |v| read(v, Format::Default);
        assert_eq!(read(ValueRef::Text(b"2025-11-13T12:00:00Z")), Some(NOON));
        assert_eq!(read(ValueRef::Text(b"2025-11-13 12:00:00")), Some(NOON));
        assert_eq!(read(ValueRef::Integer(1_763_035_200)), Some(NOON));
        assert_eq!(read(ValueRef::Integer(1_763_035_200_000)), Some(NOON));
        assert_eq!(read(ValueRef::Integer(NOON)), Some(NOON));
        assert_eq!(read(ValueRef::Real(1_763_035_200.25)), Some(NOON + 250_000));
        // julianday('2025-11-13T12:00:00Z')
        assert_eq!(read(ValueRef::Real(2_460_993.0)), Some(NOON));
        assert_eq!(read(ValueRef::Null), None);
        assert_eq!(read(ValueRef::Text(b"soon")), None);
        assert_eq!(read(ValueRef::Blob(b"\x01")), None);
    }
}
