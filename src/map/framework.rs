//! Which ORM wrote the app's SQLite file, and the encodings it uses there.
//!
//! A column the app never stored a value in shows nothing about its form; the
//! ORM that wrote the rest of the file does. It is told by its bookkeeping
//! table (`django_migrations`, `alembic_version`, ...) or, failing that, by the
//! values stored in the file's other tables. Only columns whose own values
//! decide nothing take the ORM's convention (see `infer`).

use crate::mapping::format::{Affinity, EpochUnit, Format, FractionStyle, TimeText, ZoneSuffix};
use crate::mapping::types::ValueKind;
use crate::sink::existing::{Sample, TargetSchema};

use super::infer::timestamp_shape;

/// An ORM whose SQLite encodings pg2sqlite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Django,
    SqlAlchemy,
    Rails,
    Prisma,
    Sequelize,
}

/// The framework chosen for a file, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppStyle {
    pub framework: Framework,
    pub evidence: String,
}

/// The bookkeeping tables each framework leaves in the files it manages.
const MARKERS: &[(&str, Framework)] = &[
    ("django_migrations", Framework::Django),
    ("alembic_version", Framework::SqlAlchemy),
    ("ar_internal_metadata", Framework::Rails),
    ("schema_migrations", Framework::Rails),
    ("_prisma_migrations", Framework::Prisma),
    ("SequelizeMeta", Framework::Sequelize),
];

/// SQLAlchemy's `DateTime` and `Time` on SQLite: six fraction digits, always.
const ALWAYS_SIX: TimeText = TimeText {
    t_separator: false,
    zone: ZoneSuffix::None,
    fraction: FractionStyle::MicrosAlways,
};

/// Sequelize's `DATE` on SQLite: `2025-11-13 08:30:00.123 +00:00`.
const SEQUELIZE: TimeText = TimeText {
    t_separator: false,
    zone: ZoneSuffix::SpaceOffset,
    fraction: FractionStyle::Millis,
};

impl Framework {
    pub fn name(self) -> &'static str {
        match self {
            Framework::Django => "Django",
            Framework::SqlAlchemy => "SQLAlchemy",
            Framework::Rails => "Rails (ActiveRecord)",
            Framework::Prisma => "Prisma",
            Framework::Sequelize => "Sequelize",
        }
    }

    /// What this framework writes into a SQLite column declared `declared` for
    /// a PostgreSQL column of `kind`; `None` when that is the default mapping
    /// or the framework has no such field.
    pub fn convention(self, kind: &ValueKind, declared: &str) -> Option<Format> {
        use Framework as F;
        let compact: String = declared
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        match (kind, self) {
            // Prisma keeps every DateTime as epoch milliseconds.
            (ValueKind::Date | ValueKind::Timestamp | ValueKind::Timestamptz, F::Prisma) => {
                Some(Format::Epoch(EpochUnit::Millis))
            }
            (ValueKind::Timestamp | ValueKind::Timestamptz, F::Django | F::Rails) => {
                Some(Format::Time(TimeText::SPACE))
            }
            (ValueKind::Timestamp | ValueKind::Timestamptz, F::SqlAlchemy) => {
                Some(Format::Time(ALWAYS_SIX))
            }
            (ValueKind::Timestamp | ValueKind::Timestamptz, F::Sequelize) => {
                Some(Format::Time(SEQUELIZE))
            }
            // Python's str(time); SQLAlchemy's TIME.
            (ValueKind::Time, F::Django) => Some(Format::Clock(FractionStyle::Micros)),
            // ActiveRecord's SQLite adapter quotes a time as that time on
            // 2000-01-01 (`quoted_time` keeps the date): `2000-01-01 12:30:15`.
            (ValueKind::Time, F::Rails) => Some(Format::Time(TimeText::SPACE)),
            (ValueKind::Time, F::SqlAlchemy) => Some(Format::Clock(FractionStyle::MicrosAlways)),
            // DurationField: a bigint of microseconds.
            (ValueKind::Interval, F::Django) => Some(Format::Duration(EpochUnit::Micros)),
            // Interval: a DATETIME that long after the epoch.
            (ValueKind::Interval, F::SqlAlchemy) => Some(Format::Time(ALWAYS_SIX)),
            (ValueKind::Uuid, F::Django | F::SqlAlchemy) if compact.contains("char(32)") => {
                Some(Format::UuidHex32)
            }
            // Every one of them hands SQLite a double for a decimal (or text
            // that its NUMERIC affinity turns into one).
            (ValueKind::Numeric, _)
                if matches!(
                    Affinity::of(declared),
                    Affinity::Numeric | Affinity::Real | Affinity::Integer
                ) =>
            {
                Some(Format::NumericReal)
            }
            _ => None,
        }
    }
}

/// The framework that wrote `target`, when its tables or values tell.
pub fn detect(target: &TargetSchema) -> Option<AppStyle> {
    for (table, framework) in MARKERS {
        if target.table(table).is_some() {
            return Some(AppStyle {
                framework: *framework,
                evidence: format!("the file has its table {table}"),
            });
        }
    }
    from_values(target)
}

/// A framework told by the stored values alone, the most telling first.
fn from_values(target: &TargetSchema) -> Option<AppStyle> {
    let mut seen: Vec<(Framework, String)> = Vec::new();
    for t in &target.tables {
        for c in &t.columns {
            let upper = c.declared.to_ascii_uppercase();
            let datetime = upper.contains("DATE") || upper.contains("TIME");
            for s in &c.samples {
                let found = match s {
                    Sample::Text(v) => match timestamp_shape(v) {
                        Some((false, ZoneSuffix::SpaceOffset, 3)) => Some(Framework::Sequelize),
                        Some((false, ZoneSuffix::None, 6)) if v.ends_with(".000000") => {
                            Some(Framework::SqlAlchemy)
                        }
                        Some((false, ZoneSuffix::None, 0 | 6)) => Some(Framework::Django),
                        _ if matches!(v.as_str(), "t" | "f") && upper.contains("BOOL") => {
                            Some(Framework::Rails)
                        }
                        _ => None,
                    },
                    Sample::Integer(i) if datetime && i.unsigned_abs() >= 100_000_000_000 => {
                        Some(Framework::Prisma)
                    }
                    _ => None,
                };
                if let Some(f) = found {
                    let what = match s {
                        Sample::Text(v) => format!("{v:?}"),
                        Sample::Integer(i) => i.to_string(),
                        _ => String::new(),
                    };
                    seen.push((f, format!("{}.{} holds {what}", t.name, c.name)));
                }
            }
        }
    }
    // Django's style is the plainest (Rails writes the same datetimes): any
    // more particular one seen wins over it.
    let order = [
        Framework::Sequelize,
        Framework::SqlAlchemy,
        Framework::Prisma,
        Framework::Rails,
        Framework::Django,
    ];
    order.iter().find_map(|f| {
        seen.iter().find(|(g, _)| g == f).map(|(f, why)| AppStyle {
            framework: *f,
            evidence: format!(
                "no bookkeeping table of a known ORM, but {why}, as {} writes it",
                if *f == Framework::Django {
                    "Django (or Rails)"
                } else {
                    f.name()
                }
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::existing::{TargetColumn, TargetTable};

    fn table(name: &str, declared: &str, samples: Vec<Sample>) -> TargetTable {
        TargetTable {
            name: name.into(),
            columns: vec![TargetColumn {
                name: "c".into(),
                declared: declared.into(),
                not_null: false,
                has_default: false,
                primary_key: false,
                samples,
            }],
            rowid_key: false,
            unreadable: None,
            generated: Vec::new(),
        }
    }

    #[test]
    fn markers_then_values() {
        let t = |tables| TargetSchema { tables };
        let alembic = t(vec![table("alembic_version", "VARCHAR(32)", vec![])]);
        assert_eq!(detect(&alembic).unwrap().framework, Framework::SqlAlchemy);
        let six = t(vec![table(
            "events",
            "DATETIME",
            vec![Sample::Text("2025-11-13 08:30:00.000000".into())],
        )]);
        let style = detect(&six).unwrap();
        assert_eq!(style.framework, Framework::SqlAlchemy);
        assert!(style.evidence.contains("events.c"), "{}", style.evidence);
        let plain = t(vec![table(
            "events",
            "datetime",
            vec![Sample::Text("2025-11-13 08:30:00".into())],
        )]);
        assert_eq!(detect(&plain).unwrap().framework, Framework::Django);
        let ms = t(vec![table(
            "Post",
            "DATETIME",
            vec![Sample::Integer(1_763_022_600_123)],
        )]);
        assert_eq!(detect(&ms).unwrap().framework, Framework::Prisma);
        assert_eq!(detect(&t(vec![table("x", "TEXT", vec![])])), None);
    }

    #[test]
    fn conventions() {
        assert_eq!(
            Framework::SqlAlchemy.convention(&ValueKind::Time, "TIME"),
            Some(Format::Clock(FractionStyle::MicrosAlways))
        );
        assert_eq!(
            Framework::Rails.convention(&ValueKind::Time, "time"),
            Some(Format::Time(TimeText::SPACE))
        );
        assert_eq!(
            Framework::Django.convention(&ValueKind::Time, "time"),
            Some(Format::Clock(FractionStyle::Micros))
        );
        assert_eq!(
            Framework::Django.convention(&ValueKind::Interval, "bigint"),
            Some(Format::Duration(EpochUnit::Micros))
        );
        assert_eq!(
            Framework::Django.convention(&ValueKind::Numeric, "decimal"),
            Some(Format::NumericReal)
        );
        assert_eq!(
            Framework::Django.convention(&ValueKind::Numeric, "text"),
            None
        );
        assert_eq!(
            Framework::Rails.convention(&ValueKind::Uuid, "char(32)"),
            None
        );
    }
}
