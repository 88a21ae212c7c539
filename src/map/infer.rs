//! Reading an existing column's representation off its declared type and the
//! values the app stored there. Used by `map init` (which writes what it found,
//! with the evidence) and by a sync into an existing table without a map entry.

use crate::mapping::format::{numeric_typmod, Affinity, EpochUnit, Format, TimeText};
use crate::mapping::types::ValueKind;
use crate::sink::existing::{Sample, TargetColumn};

/// A representation and the evidence for it, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub format: Format,
    pub evidence: String,
}

fn found(format: Format, evidence: String) -> Option<Inferred> {
    Some(Inferred { format, evidence })
}

fn texts(samples: &[Sample]) -> Option<Vec<&str>> {
    samples
        .iter()
        .map(|s| match s {
            Sample::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn integers(samples: &[Sample]) -> Option<Vec<i64>> {
    samples
        .iter()
        .map(|s| match s {
            Sample::Integer(i) => Some(*i),
            _ => None,
        })
        .collect()
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The representation of a column of `kind` stored in `column`, when anything
/// other than the default is called for. `None`: the default mapping fits, or
/// nothing tells.
pub fn infer(kind: &ValueKind, typmod: i32, column: &TargetColumn) -> Option<Inferred> {
    let declared = column.declared.as_str();
    let n = column.samples.len();
    let affinity = Affinity::of(declared);
    match kind {
        ValueKind::Uuid => {
            if n > 0 && column.samples.iter().all(|s| *s == Sample::Blob(16)) {
                return found(
                    Format::UuidBlob,
                    format!("{n} stored values are 16-byte blobs"),
                );
            }
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                if t.iter().all(|s| s.len() == 32 && is_hex(s)) {
                    return found(
                        Format::UuidHex32,
                        format!("{n} stored values are 32 hex digits, like {:?}", t[0]),
                    );
                }
                if t.iter()
                    .all(|s| s.len() == 36 && s.matches('-').count() == 4)
                {
                    return found(
                        Format::Default,
                        format!("{n} stored values are dashed, like {:?}", t[0]),
                    );
                }
                return None;
            }
            let compact: String = declared
                .to_ascii_lowercase()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if n == 0 && compact.contains("char(32)") {
                return found(
                    Format::UuidHex32,
                    format!("declared {declared}, no stored values"),
                );
            }
            if n == 0 && affinity == Affinity::Blob && !declared.is_empty() {
                return found(
                    Format::UuidBlob,
                    format!("declared {declared}, no stored values"),
                );
            }
            None
        }
        ValueKind::Date | ValueKind::Timestamp | ValueKind::Timestamptz => {
            if let Some(ints) = integers(&column.samples).filter(|i| !i.is_empty()) {
                let max = ints.iter().map(|i| i.unsigned_abs()).max().unwrap_or(0);
                let (unit, what) = if max < 100_000_000_000 {
                    (EpochUnit::Seconds, "epoch seconds")
                } else if max < 100_000_000_000_000 {
                    (EpochUnit::Millis, "epoch milliseconds")
                } else {
                    (EpochUnit::Micros, "epoch microseconds")
                };
                return found(
                    Format::Epoch(unit),
                    format!("{n} stored integers, like {}: {what}", ints[0]),
                );
            }
            if matches!(kind, ValueKind::Date) {
                if n > 0 && column.samples.iter().all(|s| matches!(s, Sample::Real(_))) {
                    return found(Format::Julian, format!("{n} stored reals: julian days"));
                }
                return None;
            }
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                let parsed: Option<Vec<(bool, bool, usize)>> =
                    t.iter().map(|s| timestamp_shape(s)).collect();
                let parsed = parsed?;
                let t_sep = parsed[0].0;
                if parsed.iter().any(|p| p.0 != t_sep) {
                    return None;
                }
                let zulu = matches!(kind, ValueKind::Timestamptz) && parsed.iter().all(|p| p.1);
                // Only a stored zero fraction proves it is always written: a
                // writer that drops zero fractions writes the others the same way.
                let always_fraction = t
                    .iter()
                    .any(|s| s.trim_end_matches('Z').ends_with(".000000"))
                    && parsed.iter().all(|p| p.2 == 6);
                let style = TimeText {
                    t_separator: t_sep,
                    zulu,
                    always_fraction,
                };
                let words = format!(
                    "{n} stored texts like {:?}: {}{}{}",
                    t[0],
                    if t_sep {
                        "T separator"
                    } else {
                        "space separator"
                    },
                    if zulu { ", Z suffix" } else { ", no zone" },
                    if always_fraction {
                        ", six fraction digits even when zero"
                    } else if parsed.iter().any(|p| p.2 == 0) {
                        ", fraction only when not zero"
                    } else {
                        ", no zero fraction stored (if the app writes .000000, add fraction = \"always\")"
                    }
                );
                return found(Format::Time(style), words);
            }
            if n == 0 && affinity == Affinity::Integer {
                return found(
                    Format::Epoch(EpochUnit::Millis),
                    format!(
                        "declared {declared} and no stored values: a guess, check it \
                         (unix, unix_ms or unix_us)"
                    ),
                );
            }
            if n == 0 && matches!(kind, ValueKind::Timestamptz) {
                return found(
                    Format::Time(TimeText {
                        t_separator: false,
                        zulu: false,
                        always_fraction: false,
                    }),
                    format!("declared {declared:?} and no stored values: a guess, check it"),
                );
            }
            None
        }
        ValueKind::Bool => {
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                if t.iter().all(|s| matches!(*s, "true" | "false")) {
                    return found(Format::BoolText, format!("{n} stored texts true/false"));
                }
                return None;
            }
            if let Some(i) = integers(&column.samples).filter(|i| !i.is_empty()) {
                if i.iter().all(|v| matches!(v, 0 | 1)) {
                    return found(Format::Default, format!("{n} stored integers 0/1"));
                }
            }
            None
        }
        ValueKind::Numeric => {
            let typmod = numeric_typmod(typmod);
            match affinity {
                Affinity::Text => found(
                    Format::NumericText,
                    format!("declared {declared} (TEXT affinity)"),
                ),
                Affinity::Real => found(
                    Format::NumericReal,
                    format!("declared {declared} (REAL affinity)"),
                ),
                Affinity::Integer if matches!(typmod, Some((_, 0))) => found(
                    Format::NumericInteger,
                    format!("declared {declared} (INTEGER affinity)"),
                ),
                // SQLite turns numeric text in these columns into doubles.
                Affinity::Integer | Affinity::Numeric if !matches!(typmod, Some((p, _)) if p <= 15) => {
                    found(
                        Format::NumericReal,
                        format!(
                            "declared {declared}: SQLite turns numbers stored there into \
                             doubles (about 15 significant digits)"
                        ),
                    )
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// (T separator, Z suffix, fraction digits) of a stored timestamp text, or
/// `None` when it is not one pg2sqlite writes.
fn timestamp_shape(s: &str) -> Option<(bool, bool, usize)> {
    let (body, zulu) = match s.strip_suffix('Z') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let b = body.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let frac = match body.get(19..) {
        Some("") => 0,
        Some(f) if f.starts_with('.') && f[1..].bytes().all(|c| c.is_ascii_digit()) => f.len() - 1,
        _ => return None,
    };
    Some((b[10] == b'T', zulu, frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(declared: &str, samples: Vec<Sample>) -> TargetColumn {
        TargetColumn {
            name: "c".into(),
            declared: declared.into(),
            not_null: false,
            has_default: false,
            primary_key: false,
            samples,
        }
    }
    fn text(s: &str) -> Sample {
        Sample::Text(s.into())
    }

    #[test]
    fn uuids() {
        let hex = col("char(32)", vec![text("0123456789abcdef0123456789abcdef")]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &hex).unwrap().format,
            Format::UuidHex32
        );
        let empty = col("CHAR (32)", vec![]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &empty).unwrap().format,
            Format::UuidHex32
        );
        let dashed = col("TEXT", vec![text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &dashed).unwrap().format,
            Format::Default
        );
        let blob = col("BLOB", vec![Sample::Blob(16)]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &blob).unwrap().format,
            Format::UuidBlob
        );
    }

    #[test]
    fn timestamps() {
        let ms = col("DATETIME", vec![Sample::Integer(1_763_022_600_123)]);
        assert_eq!(
            infer(&ValueKind::Timestamp, -1, &ms).unwrap().format,
            Format::Epoch(EpochUnit::Millis)
        );
        let s = col("INTEGER", vec![Sample::Integer(1_763_022_600)]);
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &s).unwrap().format,
            Format::Epoch(EpochUnit::Seconds)
        );
        let django = col(
            "datetime",
            vec![
                text("2025-11-13 08:30:00.123456"),
                text("2025-11-13 08:30:00"),
            ],
        );
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &django).unwrap().format,
            Format::Time(TimeText {
                t_separator: false,
                zulu: false,
                always_fraction: false
            })
        );
        let iso = col("TEXT", vec![text("2025-11-13T08:30:00.000000Z")]);
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &iso).unwrap().format,
            Format::Time(TimeText {
                t_separator: true,
                zulu: true,
                always_fraction: true
            })
        );
        let mixed = col(
            "TEXT",
            vec![text("2025-11-13T08:30:00"), text("2025-11-13 08:30:00")],
        );
        assert_eq!(infer(&ValueKind::Timestamp, -1, &mixed), None);
    }

    #[test]
    fn booleans_and_numerics() {
        let b = col("bool", vec![Sample::Integer(0), Sample::Integer(1)]);
        assert_eq!(
            infer(&ValueKind::Bool, -1, &b).unwrap().format,
            Format::Default
        );
        let t = col("TEXT", vec![text("true")]);
        assert_eq!(
            infer(&ValueKind::Bool, -1, &t).unwrap().format,
            Format::BoolText
        );
        let n = col("decimal(10,2)", vec![]);
        let p10s2 = (10 << 16 | 2) + 4;
        assert_eq!(infer(&ValueKind::Numeric, p10s2, &n), None);
        // Unconstrained numeric in a NUMERIC-affinity column: SQLite makes doubles.
        assert_eq!(
            infer(&ValueKind::Numeric, -1, &n).unwrap().format,
            Format::NumericReal
        );
        let r = col("FLOAT", vec![]);
        assert_eq!(
            infer(&ValueKind::Numeric, p10s2, &r).unwrap().format,
            Format::NumericReal
        );
        let i = col("BIGINT", vec![]);
        assert_eq!(
            infer(&ValueKind::Numeric, (12 << 16) + 4, &i)
                .unwrap()
                .format,
            Format::NumericInteger
        );
    }
}
