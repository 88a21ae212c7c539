//! Reading an existing column's representation off its declared type and the
//! values the app stored there. Used by `map init` (which writes what it found,
//! with the evidence) and by a sync into an existing table without a map entry.

use super::framework::AppStyle;
use crate::mapping::format::{
    affinity_conflict, numeric_typmod, Affinity, EpochUnit, Format, FractionStyle, TimeText,
    ZoneSuffix,
};
use crate::mapping::time::{parse_clock, parse_time_on_date, TIME_ON_DATE};
use crate::mapping::types::{Storage, ValueKind};
use crate::sink::existing::{Sample, TargetColumn};

/// A representation and the evidence for it, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub format: Format,
    pub evidence: String,
    /// Nothing stored and no framework told: a guess from the declared type,
    /// which the sync summary and `map init` call one.
    pub guess: bool,
    /// The form the app's own framework writes there: when it is lossy, the
    /// app itself would have lost the same (counted, not refused).
    pub follows_app: bool,
    /// The stored values fit this and another form equally well (six fraction
    /// digits none of them zero: always six, or only when not zero?).
    ambiguous: bool,
}

fn found(format: Format, evidence: String) -> Option<Inferred> {
    Some(Inferred {
        format,
        evidence,
        guess: false,
        follows_app: false,
        ambiguous: false,
    })
}

fn guessed(format: Format, evidence: String) -> Option<Inferred> {
    found(format, evidence).map(|i| Inferred { guess: true, ..i })
}

fn ambiguous(format: Format, evidence: String) -> Option<Inferred> {
    found(format, evidence).map(|i| Inferred {
        ambiguous: true,
        ..i
    })
}

/// The representation of a column of `kind` stored in `column`: what its own
/// stored values show, else (nothing stored, or nothing decided) what the
/// app's framework writes there, else a guess from the declared type. `None`:
/// the default mapping fits, or nothing tells.
pub fn infer(
    kind: &ValueKind,
    typmod: i32,
    column: &TargetColumn,
    style: Option<&AppStyle>,
) -> Option<Inferred> {
    let own = from_column(kind, typmod, column);
    let affinity = Affinity::of(&column.declared);
    let convention = style.and_then(|s| {
        let f = s.framework.convention(kind, &column.declared)?;
        let fits = affinity_conflict(kind, &f, f.storage(Storage::Text), affinity).is_none();
        fits.then_some((s, f))
    });
    let follows = |f: &Format| convention.is_some_and(|(_, c)| c == *f);
    let by_app = |seen: &str, s: &AppStyle, c: Format| Inferred {
        format: c,
        evidence: format!(
            "{seen}; {} writes {} there (app style: {})",
            s.framework.name(),
            c.map_fields(kind).join(", "),
            s.evidence
        ),
        guess: false,
        follows_app: true,
        ambiguous: false,
    };
    match (own, convention) {
        // A guess gives way to the app's convention; undecided values only
        // to one that does not contradict them.
        (Some(i), Some((s, c))) if i.guess || (i.ambiguous && same_shape(&i.format, &c)) => {
            Some(by_app(&i.evidence, s, c))
        }
        (Some(i), _) => Some(Inferred {
            follows_app: follows(&i.format),
            ..i
        }),
        (None, Some((s, c))) if column.samples.is_empty() => Some(by_app("no stored values", s, c)),
        (None, _) => None,
    }
}

/// Whether a framework's convention refines what undecided stored values show
/// without contradicting them (same separator and zone, a time stays a time).
fn same_shape(seen: &Format, convention: &Format) -> bool {
    match (seen, convention) {
        (Format::Time(a), Format::Time(b)) => a.t_separator == b.t_separator && a.zone == b.zone,
        (Format::Clock(_) | Format::Default, Format::Clock(_)) => true,
        (Format::Duration(_), Format::Duration(_)) => true,
        _ => false,
    }
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

/// "3 stored values", for evidence.
fn sampled(n: usize) -> String {
    format!("{n} stored value{}", if n == 1 { "" } else { "s" })
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a column's declared type and its own stored values show.
fn from_column(kind: &ValueKind, typmod: i32, column: &TargetColumn) -> Option<Inferred> {
    let declared = column.declared.as_str();
    let n = column.samples.len();
    let affinity = Affinity::of(declared);
    match kind {
        ValueKind::Uuid => {
            if n > 0 && column.samples.iter().all(|s| *s == Sample::Blob(16)) {
                return found(
                    Format::UuidBlob,
                    format!("{}, all 16-byte blobs", sampled(n)),
                );
            }
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                if t.iter().all(|s| s.len() == 32 && is_hex(s)) {
                    return found(
                        Format::UuidHex32,
                        format!("{}, all 32 hex digits, like {:?}", sampled(n), t[0]),
                    );
                }
                if t.iter()
                    .all(|s| s.len() == 36 && s.matches('-').count() == 4)
                {
                    return found(
                        Format::Default,
                        format!("{}, all dashed, like {:?}", sampled(n), t[0]),
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
                    format!("{}, integers like {}: {what}", sampled(n), ints[0]),
                );
            }
            if matches!(kind, ValueKind::Date) {
                if n > 0 && column.samples.iter().all(|s| matches!(s, Sample::Real(_))) {
                    return found(
                        Format::Julian,
                        format!("{}, reals: julian days", sampled(n)),
                    );
                }
                return None;
            }
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                return time_text(&t).and_then(|(style, words, undecided)| {
                    let words = format!("{}, texts like {:?}: {words}", sampled(n), t[0]);
                    if undecided {
                        ambiguous(Format::Time(style), words)
                    } else {
                        found(Format::Time(style), words)
                    }
                });
            }
            if n == 0 && affinity == Affinity::Integer {
                return guessed(
                    Format::Epoch(EpochUnit::Millis),
                    format!(
                        "declared {declared} and no stored values: a guess, check it \
                         (unix, unix_ms or unix_us)"
                    ),
                );
            }
            let upper = declared.to_ascii_uppercase();
            let datetime_type = upper.contains("DATE") || upper.contains("TIME");
            if n == 0 && datetime_type && matches!(kind, ValueKind::Timestamptz) {
                // An app's DATETIME column holds naive UTC text in most ORMs.
                return guessed(
                    Format::Time(TimeText::SPACE),
                    format!("declared {declared:?} and no stored values: a guess, check it"),
                );
            }
            None
        }
        ValueKind::Time => {
            let t = texts(&column.samples).filter(|t| !t.is_empty())?;
            if t.iter().all(|s| s.starts_with(TIME_ON_DATE)) {
                time_on_date_text(&t, n)
            } else {
                clock_text(&t, n)
            }
        }
        ValueKind::Interval => {
            if let Some(ints) = integers(&column.samples).filter(|i| !i.is_empty()) {
                // Integers do not tell their unit: Django's microseconds, unless
                // the app's framework says otherwise.
                return ambiguous(
                    Format::Duration(EpochUnit::Micros),
                    format!(
                        "{}, integers like {}: a length, taken as microseconds (Django's \
                         DurationField; millis or seconds if the app counts those)",
                        sampled(n),
                        ints[0]
                    ),
                );
            }
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                if t.iter().all(|s| s.starts_with("19")) {
                    if let Some((style, words, undecided)) = time_text(&t) {
                        let words = format!(
                            "{}, datetimes like {:?}: a length from 1970-01-01 (SQLAlchemy's \
                             Interval), {words}",
                            sampled(n),
                            t[0]
                        );
                        return if undecided {
                            ambiguous(Format::Time(style), words)
                        } else {
                            found(Format::Time(style), words)
                        };
                    }
                }
                return None;
            }
            let upper = declared.to_ascii_uppercase();
            if n == 0 && affinity == Affinity::Integer {
                return guessed(
                    Format::Duration(EpochUnit::Micros),
                    format!(
                        "declared {declared} and no stored values: a guess (Django's \
                         microseconds), check it (micros, millis or seconds)"
                    ),
                );
            }
            if n == 0 && (upper.contains("DATE") || upper.contains("TIME")) {
                return guessed(
                    Format::Time(TimeText {
                        fraction: FractionStyle::MicrosAlways,
                        ..TimeText::SPACE
                    }),
                    format!(
                        "declared {declared} and no stored values: a guess (SQLAlchemy's \
                         Interval, a datetime from 1970-01-01), check it"
                    ),
                );
            }
            None
        }
        ValueKind::Bool => {
            if let Some(t) = texts(&column.samples).filter(|t| !t.is_empty()) {
                if t.iter().all(|s| matches!(*s, "true" | "false")) {
                    return found(Format::BoolText, format!("{}, all true/false", sampled(n)));
                }
                if t.iter().all(|s| matches!(*s, "t" | "f")) {
                    return found(
                        Format::BoolChar,
                        format!("{}, all t/f (older Rails)", sampled(n)),
                    );
                }
                return None;
            }
            if let Some(i) = integers(&column.samples).filter(|i| !i.is_empty()) {
                if i.iter().all(|v| matches!(v, 0 | 1)) {
                    return found(Format::Default, format!("{}, all 0/1", sampled(n)));
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

/// The text style shared by every stored timestamp text, and the evidence in
/// words; `None` when they differ or one is not a style pg2sqlite writes.
fn time_text(texts: &[&str]) -> Option<(TimeText, String, bool)> {
    // The infinities are written the same way in every style, and a BC suffix
    // follows whatever the style wrote.
    let texts: Vec<&str> = texts
        .iter()
        .filter(|s| !matches!(**s, "infinity" | "-infinity"))
        .map(|s| s.strip_suffix(" BC").unwrap_or(s))
        .collect();
    let shapes: Vec<(bool, ZoneSuffix, usize)> = texts
        .iter()
        .map(|s| timestamp_shape(s))
        .collect::<Option<_>>()?;
    let (t_separator, zone, _) = *shapes.first()?;
    if shapes.iter().any(|s| s.0 != t_separator || s.1 != zone) {
        return None;
    }
    let digits: Vec<usize> = shapes.iter().map(|s| s.2).collect();
    let (fraction, words, undecided) = if digits.iter().all(|&d| d == 3) {
        (FractionStyle::Millis, "always three fraction digits", false)
    } else if digits.iter().any(|&d| d != 0 && d != 6) {
        return None;
    } else if digits.contains(&0) {
        (
            FractionStyle::Micros,
            "six fraction digits only when not zero",
            false,
        )
    } else if texts.iter().any(|s| s.contains(".000000")) {
        // Only a stored zero fraction proves it is always written: a writer
        // that drops zero fractions writes the others the same way.
        (
            FractionStyle::MicrosAlways,
            "six fraction digits even when zero",
            false,
        )
    } else {
        (
            FractionStyle::Micros,
            "six fraction digits, none of them zero (if the app writes .000000, set \
             fraction = \"always\")",
            true,
        )
    };
    let style = TimeText {
        t_separator,
        zone,
        fraction,
    };
    let words = format!(
        "{} separator, zone {:?}, {words}",
        if t_separator { "T" } else { "space" },
        zone.name()
    );
    Some((style, words, undecided))
}

/// The style of stored time-of-day texts (`12:30:15.500000`), or `None` when
/// one of them is no time pg2sqlite writes.
fn clock_text(texts: &[&str], n: usize) -> Option<Inferred> {
    let mut digits = Vec::with_capacity(texts.len());
    for t in texts {
        parse_clock(t)?;
        digits.push(t.split_once('.').map_or(0, |(_, f)| f.len()));
    }
    // PostgreSQL's own text drops the fraction's trailing zeros.
    let trimmed = texts
        .iter()
        .all(|t| t.split_once('.').is_none_or(|(_, f)| !f.ends_with('0')));
    let like = format!("{}, texts like {:?}", sampled(n), texts[0]);
    if digits.iter().all(|&d| d == 3) {
        found(
            Format::Clock(FractionStyle::Millis),
            format!("{like}: always three fraction digits"),
        )
    } else if digits.iter().any(|&d| d != 0 && d != 6) {
        trimmed
            .then(|| {
                found(
                    Format::Default,
                    format!("{like}: PostgreSQL's own text (fraction without trailing zeros)"),
                )
            })
            .flatten()
    } else if texts.iter().any(|t| t.ends_with(".000000")) {
        found(
            Format::Clock(FractionStyle::MicrosAlways),
            format!("{like}: six fraction digits even when zero"),
        )
    } else if digits.contains(&0) && digits.contains(&6) {
        found(
            Format::Clock(FractionStyle::Micros),
            format!("{like}: six fraction digits only when not zero"),
        )
    } else {
        ambiguous(
            Format::Clock(FractionStyle::Micros),
            format!(
                "{like}: six fraction digits only when not zero (if the app writes .000000, \
                 set fraction = \"always\")"
            ),
        )
    }
}

/// The style of stored times written as datetimes on 2000-01-01
/// (`2000-01-01 12:30:15.500000`, Rails' `time` on SQLite), or `None` when one
/// of them is not such a time in a style pg2sqlite writes.
fn time_on_date_text(texts: &[&str], n: usize) -> Option<Inferred> {
    let (style, words, undecided) = time_text(texts)?;
    // Only the space form has a map spelling for a time (iso-space).
    if style.t_separator || texts.iter().any(|t| parse_time_on_date(t, style).is_none()) {
        return None;
    }
    let words = format!(
        "{}, datetimes on {TIME_ON_DATE} like {:?}: a time of day (Rails' time), {words}",
        sampled(n),
        texts[0]
    );
    if undecided {
        ambiguous(Format::Time(style), words)
    } else {
        found(Format::Time(style), words)
    }
}

/// (T separator, zone, fraction digits) of a stored timestamp text, or `None`
/// when it is not one pg2sqlite writes (another offset than UTC, ...).
pub(super) fn timestamp_shape(s: &str) -> Option<(bool, ZoneSuffix, usize)> {
    let (body, zone) = if let Some(b) = s.strip_suffix(" +00:00") {
        (b, ZoneSuffix::SpaceOffset)
    } else if let Some(b) = s.strip_suffix("+00:00") {
        (b, ZoneSuffix::Offset)
    } else if let Some(b) = s.strip_suffix('Z') {
        (b, ZoneSuffix::Z)
    } else {
        (s, ZoneSuffix::None)
    };
    let b = body.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let frac = match body.get(19..) {
        Some("") => 0,
        Some(f)
            if f.starts_with('.') && f.len() > 1 && f[1..].bytes().all(|c| c.is_ascii_digit()) =>
        {
            f.len() - 1
        }
        _ => return None,
    };
    Some((b[10] == b'T', zone, frac))
}

/// Words for stored values that match no format pg2sqlite writes for `kind`,
/// so a sync can say it writes the default instead; `None` when there are no
/// such values.
pub fn unrecognized(kind: &ValueKind, typmod: i32, column: &TargetColumn) -> Option<String> {
    let checked = matches!(
        kind,
        ValueKind::Uuid
            | ValueKind::Date
            | ValueKind::Timestamp
            | ValueKind::Timestamptz
            | ValueKind::Time
            | ValueKind::Bool
    );
    let infinite = |s: &Sample| matches!(s, Sample::Text(t) if t == "infinity" || t == "-infinity");
    if !checked
        || column.samples.iter().all(infinite)
        || from_column(kind, typmod, column).is_some()
    {
        return None;
    }
    let first = match &column.samples[0] {
        Sample::Integer(i) => i.to_string(),
        Sample::Real(f) => f.to_string(),
        Sample::Text(t) => format!("{t:?}"),
        Sample::Blob(n) => format!("a blob of {n} bytes"),
    };
    // Dates stored as the default text are recognized by the default itself.
    let default_date = |t: &str| {
        matches!(t, "infinity" | "-infinity") || is_iso_date(t.strip_suffix(" BC").unwrap_or(t))
    };
    if matches!(kind, ValueKind::Date)
        && column
            .samples
            .iter()
            .all(|s| matches!(s, Sample::Text(t) if default_date(t)))
    {
        return None;
    }
    Some(format!(
        "stored values like {first} match no format pg2sqlite writes for this column; \
         it writes the default mapping's form unless the map sets a format"
    ))
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
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
            infer(&ValueKind::Uuid, -1, &hex, None).unwrap().format,
            Format::UuidHex32
        );
        let empty = col("CHAR (32)", vec![]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &empty, None).unwrap().format,
            Format::UuidHex32
        );
        let dashed = col("TEXT", vec![text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &dashed, None).unwrap().format,
            Format::Default
        );
        let blob = col("BLOB", vec![Sample::Blob(16)]);
        assert_eq!(
            infer(&ValueKind::Uuid, -1, &blob, None).unwrap().format,
            Format::UuidBlob
        );
    }

    #[test]
    fn timestamps() {
        let ms = col("DATETIME", vec![Sample::Integer(1_763_022_600_123)]);
        assert_eq!(
            infer(&ValueKind::Timestamp, -1, &ms, None).unwrap().format,
            Format::Epoch(EpochUnit::Millis)
        );
        let s = col("INTEGER", vec![Sample::Integer(1_763_022_600)]);
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &s, None).unwrap().format,
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
            infer(&ValueKind::Timestamptz, -1, &django, None)
                .unwrap()
                .format,
            Format::Time(TimeText::SPACE)
        );
        let iso = col("TEXT", vec![text("2025-11-13T08:30:00.000000Z")]);
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &iso, None)
                .unwrap()
                .format,
            Format::Time(TimeText {
                fraction: FractionStyle::MicrosAlways,
                ..TimeText::ISO_UTC
            })
        );
        // TypeORM / JavaScript: three digits always; Sequelize: and an offset.
        let js = col(
            "datetime",
            vec![
                text("2025-11-13 08:30:00.000"),
                text("2025-11-13 08:30:01.123"),
            ],
        );
        assert_eq!(
            infer(&ValueKind::Timestamp, -1, &js, None).unwrap().format,
            Format::Time(TimeText {
                fraction: FractionStyle::Millis,
                ..TimeText::SPACE
            })
        );
        let sequelize = col("DATETIME", vec![text("2025-11-13 08:30:00.123 +00:00")]);
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &sequelize, None)
                .unwrap()
                .format,
            Format::Time(TimeText {
                t_separator: false,
                zone: ZoneSuffix::SpaceOffset,
                fraction: FractionStyle::Millis,
            })
        );
        // Another zone than UTC is no format pg2sqlite writes: said, not guessed.
        let paris = col("DATETIME", vec![text("2025-11-13 09:30:00+01:00")]);
        assert_eq!(infer(&ValueKind::Timestamptz, -1, &paris, None), None);
        assert!(unrecognized(&ValueKind::Timestamptz, -1, &paris)
            .unwrap()
            .contains("09:30:00+01:00"));
        let day = col(
            "date",
            vec![text("2025-11-13"), text("infinity"), text("0044-03-15 BC")],
        );
        assert_eq!(unrecognized(&ValueKind::Date, -1, &day), None);
        let ours = col(
            "TEXT",
            vec![
                text("infinity"),
                text("2025-11-13T08:30:00Z"),
                text("0001-12-31T00:00:00Z BC"),
            ],
        );
        assert_eq!(
            infer(&ValueKind::Timestamptz, -1, &ours, None)
                .unwrap()
                .format,
            Format::Time(TimeText::ISO_UTC)
        );
        let mixed = col(
            "TEXT",
            vec![text("2025-11-13T08:30:00"), text("2025-11-13 08:30:00")],
        );
        assert_eq!(infer(&ValueKind::Timestamp, -1, &mixed, None), None);
    }

    #[test]
    fn rails_times_on_2000_01_01() {
        use crate::map::framework::{AppStyle, Framework};
        let time = ValueKind::Time;
        let rails = col(
            "time",
            vec![
                text("2000-01-01 12:30:15"),
                text("2000-01-01 12:30:15.500000"),
            ],
        );
        let i = infer(&time, -1, &rails, None).unwrap();
        assert_eq!(i.format, Format::Time(TimeText::SPACE));
        assert!(
            i.evidence.contains("2000-01-01") && i.evidence.contains("Rails"),
            "{}",
            i.evidence
        );
        assert_eq!(unrecognized(&time, -1, &rails), None);
        // Six digits, none zero: undecided, and Rails' convention settles it.
        let six = col("time", vec![text("2000-01-01 12:30:15.500000")]);
        let app = AppStyle {
            framework: Framework::Rails,
            evidence: "test".into(),
        };
        let i = infer(&time, -1, &six, Some(&app)).unwrap();
        assert_eq!(i.format, Format::Time(TimeText::SPACE));
        assert!(i.follows_app, "{}", i.evidence);
        // Nothing stored: Rails' convention, and it is no guess.
        let empty = col("time", vec![]);
        let i = infer(&time, -1, &empty, Some(&app)).unwrap();
        assert_eq!(i.format, Format::Time(TimeText::SPACE));
        assert!(i.follows_app && !i.guess);
        // Another date, or the date mixed with plain times, is no Rails time.
        let other_day = col("time", vec![text("2000-01-02 12:30:15")]);
        assert_eq!(infer(&time, -1, &other_day, None), None);
        assert!(unrecognized(&time, -1, &other_day).is_some());
        let mixed = col("time", vec![text("2000-01-01 12:30:15"), text("12:30:15")]);
        assert_eq!(infer(&time, -1, &mixed, None), None);
        let t_sep = col("time", vec![text("2000-01-01T12:30:15")]);
        assert_eq!(infer(&time, -1, &t_sep, None), None);
    }

    #[test]
    fn times_intervals_and_app_styles() {
        use crate::map::framework::{AppStyle, Framework};
        let django = col("time", vec![text("12:30:15.500000"), text("06:30:00")]);
        assert_eq!(
            infer(&ValueKind::Time, -1, &django, None).unwrap().format,
            Format::Clock(FractionStyle::Micros)
        );
        let pg = col("TEXT", vec![text("12:30:15.5")]);
        assert_eq!(
            infer(&ValueKind::Time, -1, &pg, None).unwrap().format,
            Format::Default
        );
        let sqla = AppStyle {
            framework: Framework::SqlAlchemy,
            evidence: "test".into(),
        };
        // Nothing stored: the app's framework decides, and it is no guess.
        let empty = col("TIME", vec![]);
        let i = infer(&ValueKind::Time, -1, &empty, Some(&sqla)).unwrap();
        assert_eq!(i.format, Format::Clock(FractionStyle::MicrosAlways));
        assert!(i.follows_app && !i.guess);
        let empty = col("DATETIME", vec![]);
        assert_eq!(
            infer(&ValueKind::Timestamp, -1, &empty, Some(&sqla))
                .unwrap()
                .format,
            Format::Time(TimeText {
                fraction: FractionStyle::MicrosAlways,
                ..TimeText::SPACE
            })
        );
        // Six digits none of them zero: the framework settles it.
        let undecided = col("DATETIME", vec![text("2025-11-13 08:30:00.123456")]);
        let i = infer(&ValueKind::Timestamp, -1, &undecided, Some(&sqla)).unwrap();
        assert_eq!(
            i.format,
            Format::Time(TimeText {
                fraction: FractionStyle::MicrosAlways,
                ..TimeText::SPACE
            })
        );
        let ints = col("bigint", vec![Sample::Integer(90_123_500_000)]);
        assert_eq!(
            infer(&ValueKind::Interval, -1, &ints, None).unwrap().format,
            Format::Duration(EpochUnit::Micros)
        );
        let dated = col("DATETIME", vec![text("1970-01-02 01:02:03.500000")]);
        assert!(matches!(
            infer(&ValueKind::Interval, -1, &dated, None)
                .unwrap()
                .format,
            Format::Time(_)
        ));
        let rails = col("boolean", vec![text("t"), text("f")]);
        assert_eq!(
            infer(&ValueKind::Bool, -1, &rails, None).unwrap().format,
            Format::BoolChar
        );
        // A guess with no evidence is marked as one, and gives way to the app's style.
        let bare = col("INTEGER", vec![]);
        assert!(infer(&ValueKind::Timestamp, -1, &bare, None).unwrap().guess);
        let sequelize = AppStyle {
            framework: Framework::Sequelize,
            evidence: "test".into(),
        };
        let empty = col("DATETIME", vec![]);
        let i = infer(&ValueKind::Timestamptz, -1, &empty, Some(&sequelize)).unwrap();
        assert!(!i.guess && i.follows_app);
        assert!(
            matches!(i.format, Format::Time(t) if t.zone == ZoneSuffix::SpaceOffset),
            "{i:?}"
        );
    }

    #[test]
    fn booleans_and_numerics() {
        let b = col("bool", vec![Sample::Integer(0), Sample::Integer(1)]);
        assert_eq!(
            infer(&ValueKind::Bool, -1, &b, None).unwrap().format,
            Format::Default
        );
        let t = col("TEXT", vec![text("true")]);
        assert_eq!(
            infer(&ValueKind::Bool, -1, &t, None).unwrap().format,
            Format::BoolText
        );
        let n = col("decimal(10,2)", vec![]);
        let p10s2 = (10 << 16 | 2) + 4;
        assert_eq!(infer(&ValueKind::Numeric, p10s2, &n, None), None);
        // Unconstrained numeric in a NUMERIC-affinity column: SQLite makes doubles.
        assert_eq!(
            infer(&ValueKind::Numeric, -1, &n, None).unwrap().format,
            Format::NumericReal
        );
        let r = col("FLOAT", vec![]);
        assert_eq!(
            infer(&ValueKind::Numeric, p10s2, &r, None).unwrap().format,
            Format::NumericReal
        );
        let i = col("BIGINT", vec![]);
        assert_eq!(
            infer(&ValueKind::Numeric, (12 << 16) + 4, &i, None)
                .unwrap()
                .format,
            Format::NumericInteger
        );
    }
}
