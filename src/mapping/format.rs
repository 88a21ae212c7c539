//! Per-column representations: how a value is stored when a schema map or the
//! app's existing SQLite schema asks for something other than the default
//! mapping (uuid as 32 hex digits, datetimes as epoch milliseconds, ...).
//!
//! One [`Format`] is chosen per column while planning; the converter writes it
//! and verification inverts it, so both read the same enum.

use super::types::{Storage, ValueKind};

/// How a date or timestamp is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeText {
    /// `T` between date and time (`iso`), else a space (`iso-space`).
    pub t_separator: bool,
    /// What follows the time: nothing, `Z`, or a `+00:00` offset.
    pub zone: ZoneSuffix,
    pub fraction: FractionStyle,
}

impl TimeText {
    /// The default mapping's `timestamp`: `2025-11-13 08:30:00[.ffffff]`.
    pub const SPACE: TimeText = TimeText {
        t_separator: false,
        zone: ZoneSuffix::None,
        fraction: FractionStyle::Micros,
    };
    /// The default mapping's `timestamptz`: `2025-11-13T08:30:00[.ffffff]Z`.
    pub const ISO_UTC: TimeText = TimeText {
        t_separator: true,
        zone: ZoneSuffix::Z,
        fraction: FractionStyle::Micros,
    };
}

/// The zone written after a UTC time; a map spells it as the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum ZoneSuffix {
    #[serde(rename = "none")]
    None,
    /// `Z`
    Z,
    /// `+00:00`
    #[serde(rename = "+00:00")]
    Offset,
    /// ` +00:00` (Sequelize)
    #[serde(rename = " +00:00")]
    SpaceOffset,
}

impl ZoneSuffix {
    pub fn text(self) -> &'static str {
        match self {
            ZoneSuffix::None => "",
            ZoneSuffix::Z => "Z",
            ZoneSuffix::Offset => "+00:00",
            ZoneSuffix::SpaceOffset => " +00:00",
        }
    }
    /// The map's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ZoneSuffix::None => "none",
            other => other.text(),
        }
    }
}

/// Which fraction of a second a timestamp text carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum FractionStyle {
    /// Six digits when not zero (Python's `str(datetime)`, Django).
    #[serde(rename = "nonzero")]
    Micros,
    /// Always six digits, `.000000` included (SQLAlchemy).
    #[serde(rename = "always")]
    MicrosAlways,
    /// Always three digits (JavaScript's `toISOString`, TypeORM, Sequelize).
    #[serde(rename = "ms")]
    Millis,
}

impl FractionStyle {
    /// The map's spelling.
    pub fn name(self) -> &'static str {
        match self {
            FractionStyle::Micros => "nonzero",
            FractionStyle::MicrosAlways => "always",
            FractionStyle::Millis => "ms",
        }
    }
}

/// Units of an epoch number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
    Micros,
}

impl EpochUnit {
    /// Microseconds per unit.
    pub fn micros(self) -> i64 {
        match self {
            EpochUnit::Seconds => 1_000_000,
            EpochUnit::Millis => 1_000,
            EpochUnit::Micros => 1,
        }
    }
    /// PostgreSQL's `date_trunc` field that drops what the unit cannot hold.
    pub fn pg_trunc_field(self) -> Option<&'static str> {
        match self {
            EpochUnit::Seconds => Some("second"),
            EpochUnit::Millis => Some("milliseconds"),
            EpochUnit::Micros => None,
        }
    }
    /// Fraction digits of a timestamp the unit holds exactly.
    pub fn digits(self) -> i32 {
        match self {
            EpochUnit::Seconds => 0,
            EpochUnit::Millis => 3,
            EpochUnit::Micros => 6,
        }
    }
}

/// The stored representation of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// What the default mapping table says for the type.
    #[default]
    Default,
    /// uuid as 32 lowercase hex digits, no dashes (Django's `char(32)`).
    UuidHex32,
    /// uuid as its 16 bytes.
    UuidBlob,
    /// date/timestamp as text in the given style; an interval as the datetime
    /// that far after 1970-01-01 00:00 (SQLAlchemy's `Interval` on SQLite); a
    /// time of day as that time on 2000-01-01 (Rails' `time` on SQLite).
    Time(TimeText),
    /// date/timestamp as an integer count since 1970-01-01 00:00 UTC.
    Epoch(EpochUnit),
    /// date as a Julian day number (REAL), as SQLite's `julianday()`.
    Julian,
    /// boolean as the text `true` / `false`.
    BoolText,
    /// boolean as the text `t` / `f` (Rails before 5.2, and PostgreSQL's own letters).
    BoolChar,
    /// time of day as `HH:MM:SS` text with the given fraction style (Django,
    /// SQLAlchemy).
    Clock(FractionStyle),
    /// interval as an integer count of the unit (Django's `DurationField`:
    /// microseconds).
    Duration(EpochUnit),
    /// numeric as its exact decimal text, whatever the precision.
    NumericText,
    /// numeric as an INTEGER (rounded half away from zero, as PostgreSQL's `round`).
    NumericInteger,
    /// numeric as a double.
    NumericReal,
    /// pgvector `vector` as a JSON array of numbers.
    VectorJson,
}

/// The name a map writes for the default mapping of `kind`, when there is one.
pub fn default_name(kind: &ValueKind) -> Option<&'static str> {
    Some(match kind {
        ValueKind::Uuid => "text",
        ValueKind::Date => "iso",
        ValueKind::Timestamp => "iso-space",
        ValueKind::Timestamptz => "iso",
        ValueKind::Bool => "int",
        ValueKind::Time | ValueKind::Interval => "text",
        ValueKind::Json | ValueKind::Jsonb | ValueKind::Array(_) => "json",
        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => "integer",
        ValueKind::Float4 | ValueKind::Float8 => "real",
        ValueKind::Text | ValueKind::PaddedText | ValueKind::TextForm => "text",
        ValueKind::Bytea | ValueKind::Vector => "blob",
        // numeric's default depends on its precision (NUMERIC or TEXT)
        ValueKind::Numeric => return None,
    })
}

/// Every name `format` takes, whatever the type.
const KNOWN_FORMATS: &[&str] = &[
    "text",
    "hex32",
    "blob",
    "iso",
    "iso-space",
    "unix",
    "unix_ms",
    "unix_us",
    "julian",
    "int",
    "integer",
    "real",
    "json",
    "tf",
    "micros",
    "millis",
    "seconds",
];

impl Format {
    /// Parses a map's `format` value for a column of `kind`; `fraction` and
    /// `zone` refine `iso` and `iso-space`. The error says what the type accepts.
    pub fn parse(
        name: &str,
        kind: &ValueKind,
        fraction: Option<FractionStyle>,
        zone: Option<ZoneSuffix>,
    ) -> Result<Format, String> {
        use ValueKind as K;
        let time = |t: bool| {
            let default_zone = if t && matches!(kind, K::Timestamptz) {
                ZoneSuffix::Z
            } else {
                ZoneSuffix::None
            };
            Format::Time(TimeText {
                t_separator: t,
                zone: zone.unwrap_or(default_zone),
                fraction: fraction.unwrap_or(FractionStyle::Micros),
            })
        };
        let f = match (kind, name) {
            (K::Uuid, "text") => Format::Default,
            (K::Uuid, "hex32") => Format::UuidHex32,
            (K::Uuid, "blob") => Format::UuidBlob,
            (K::Date, "iso") => Format::Default,
            (K::Timestamp | K::Timestamptz, "iso") => time(true),
            (K::Timestamp | K::Timestamptz | K::Interval | K::Time, "iso-space") => time(false),
            (K::Time | K::Interval, "text") => Format::Default,
            (K::Time, "iso") => Format::Clock(fraction.unwrap_or(FractionStyle::Micros)),
            (K::Interval, "micros") => Format::Duration(EpochUnit::Micros),
            (K::Interval, "millis") => Format::Duration(EpochUnit::Millis),
            (K::Interval, "seconds") => Format::Duration(EpochUnit::Seconds),
            (K::Date | K::Timestamp | K::Timestamptz, "unix") => Format::Epoch(EpochUnit::Seconds),
            (K::Date | K::Timestamp | K::Timestamptz, "unix_ms") => {
                Format::Epoch(EpochUnit::Millis)
            }
            (K::Date | K::Timestamp | K::Timestamptz, "unix_us") => {
                Format::Epoch(EpochUnit::Micros)
            }
            (K::Date, "julian") => Format::Julian,
            (K::Timestamp | K::Timestamptz, "julian") => {
                return Err(
                    "julian is supported for date columns only: a double cannot hold \
                     a timestamp to the microsecond, and pg2sqlite could not verify it; use \
                     unix_ms or iso-space"
                        .into(),
                )
            }
            (K::Bool, "int") => Format::Default,
            (K::Bool, "text") => Format::BoolText,
            (K::Bool, "tf") => Format::BoolChar,
            (K::Numeric, "text") => Format::NumericText,
            (K::Numeric, "integer") => Format::NumericInteger,
            (K::Numeric, "real") => Format::NumericReal,
            (K::Json | K::Jsonb | K::Array(_), "json") => Format::Default,
            (K::Vector, "json") => Format::VectorJson,
            (K::Int2 | K::Int4 | K::Int8, "integer") => Format::Default,
            (K::Float4 | K::Float8, "real") => Format::Default,
            (K::Text | K::PaddedText | K::TextForm, "text") => Format::Default,
            (K::Bytea | K::Vector, "blob") => Format::Default,
            _ if !KNOWN_FORMATS.contains(&name) => {
                return Err(format!(
                    "unknown format {name:?}; a {} column accepts: {}",
                    kind_name(kind),
                    accepted(kind)
                ))
            }
            _ => {
                return Err(format!(
                    "format {name:?} cannot hold a {} value (it accepts: {})",
                    kind_name(kind),
                    accepted(kind)
                ))
            }
        };
        if (fraction.is_some() && !matches!(f, Format::Time(_) | Format::Clock(_)))
            || (zone.is_some() && !matches!(f, Format::Time(_)))
        {
            return Err(
                "fraction applies to the iso and iso-space formats of timestamps, \
                 intervals and times; zone to those of timestamps and intervals and to \
                 iso-space of times"
                    .into(),
            );
        }
        Ok(f)
    }

    /// The name a map writes for this format (`None` for the default).
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Format::Default => return None,
            Format::UuidHex32 => "hex32",
            Format::UuidBlob => "blob",
            Format::Time(t) if t.t_separator => "iso",
            Format::Time(_) => "iso-space",
            Format::Epoch(EpochUnit::Seconds) => "unix",
            Format::Epoch(EpochUnit::Millis) => "unix_ms",
            Format::Epoch(EpochUnit::Micros) => "unix_us",
            Format::Julian => "julian",
            Format::BoolText => "text",
            Format::BoolChar => "tf",
            Format::Clock(_) => "iso",
            Format::Duration(EpochUnit::Micros) => "micros",
            Format::Duration(EpochUnit::Millis) => "millis",
            Format::Duration(EpochUnit::Seconds) => "seconds",
            Format::NumericText => "text",
            Format::NumericInteger => "integer",
            Format::NumericReal => "real",
            Format::VectorJson => "json",
        })
    }

    /// The map settings that choose this format for a column of `kind`, as
    /// TOML `key = value` pairs: `format = "iso"`, `fraction = "ms"`, ...
    pub fn map_fields(&self, kind: &ValueKind) -> Vec<String> {
        let mut fields = Vec::new();
        if let Some(f) = self.name().or_else(|| default_name(kind)) {
            fields.push(format!("format = \"{f}\""));
        }
        if let Format::Clock(f) = self {
            if *f != FractionStyle::Micros {
                fields.push(format!("fraction = \"{}\"", f.name()));
            }
        }
        if let Format::Time(t) = self {
            if t.fraction != FractionStyle::Micros {
                fields.push(format!("fraction = \"{}\"", t.fraction.name()));
            }
            let default_zone = if t.t_separator && matches!(kind, ValueKind::Timestamptz) {
                ZoneSuffix::Z
            } else {
                ZoneSuffix::None
            };
            if t.zone != default_zone {
                fields.push(format!("zone = \"{}\"", t.zone.name()));
            }
        }
        fields
    }

    /// How SQLite stores the column: the format's class, or the default's.
    pub fn storage(&self, default: Storage) -> Storage {
        match self {
            Format::Default => default,
            Format::UuidBlob => Storage::Blob,
            Format::Epoch(_) | Format::Duration(_) | Format::NumericInteger => Storage::Integer,
            Format::Julian | Format::NumericReal => Storage::Real,
            Format::UuidHex32
            | Format::Time(_)
            | Format::BoolText
            | Format::BoolChar
            | Format::Clock(_)
            | Format::NumericText
            | Format::VectorJson => Storage::Text,
        }
    }

    /// The declared type of a column pg2sqlite creates in this format.
    pub fn declared(&self, default: &'static str) -> &'static str {
        match self {
            Format::Default => default,
            _ => match self.storage(Storage::Text) {
                Storage::Integer => "INTEGER",
                Storage::Real => "REAL",
                Storage::Text => "TEXT",
                Storage::Blob => "BLOB",
            },
        }
    }

    /// Why this format may change a value of a column of `kind` with the given
    /// `typmod`, or `None` when it holds every value exactly.
    pub fn lossy(&self, kind: &ValueKind, typmod: i32) -> Option<String> {
        // An interval's months have no fixed length in microseconds.
        const MONTHS: &str = "an interval with a month part has no fixed length (a month is \
                              counted as 30 days, a year as 365)";
        match (self, kind) {
            (Format::Duration(unit), ValueKind::Interval) => Some(match unit {
                EpochUnit::Micros => MONTHS.to_owned(),
                _ => format!(
                    "{MONTHS}, and {} drops fraction digits beyond {}",
                    self.name().unwrap_or_default(),
                    unit.digits()
                ),
            }),
            (Format::Time(t), ValueKind::Interval) => Some(match t.fraction {
                FractionStyle::Millis => {
                    format!("{MONTHS}, and fraction = \"ms\" drops fraction digits beyond 3")
                }
                _ => MONTHS.to_owned(),
            }),
            (Format::Clock(FractionStyle::Millis), ValueKind::Time)
            | (
                Format::Time(TimeText {
                    fraction: FractionStyle::Millis,
                    ..
                }),
                ValueKind::Time,
            ) => {
                let digits = if typmod >= 0 { typmod } else { 6 };
                (digits > 3).then(|| {
                    format!(
                        "fraction = \"ms\" drops fraction digits beyond 3 (the column holds \
                         {digits})"
                    )
                })
            }
            (Format::Time(t), ValueKind::Timestamp | ValueKind::Timestamptz)
                if t.fraction == FractionStyle::Millis =>
            {
                let digits = if typmod >= 0 { typmod } else { 6 };
                (digits > 3).then(|| {
                    format!(
                        "fraction = \"ms\" drops fraction digits beyond 3 (the column holds \
                         {digits})"
                    )
                })
            }
            (Format::Epoch(unit), ValueKind::Timestamp | ValueKind::Timestamptz) => {
                // typmod is the fraction digits of timestamp(p); -1 means 6.
                let digits = if typmod >= 0 { typmod } else { 6 };
                (digits > unit.digits()).then(|| {
                    format!(
                        "{} drops fraction digits beyond {} (the column holds {digits})",
                        self.name().unwrap_or_default(),
                        unit.digits()
                    )
                })
            }
            (Format::NumericInteger, _) => match numeric_typmod(typmod) {
                Some((p, 0)) if p <= 18 => None,
                Some((_, 0)) => Some("integer holds 18 digits; larger values fail".into()),
                _ => Some("integer rounds away the fraction".into()),
            },
            (Format::NumericReal, _) => match numeric_typmod(typmod) {
                Some((p, _)) if p <= 15 => None,
                _ => Some("real keeps about 15 significant digits".into()),
            },
            _ => None,
        }
    }
}

/// PostgreSQL's exact length of an interval column `c` in microseconds, a month
/// counted as 30 days and a year as 365 (as psycopg reads one into a
/// `timedelta`); the converter computes the same from the binary value.
pub fn interval_micros_sql(c: &str) -> String {
    format!(
        "((extract(year from {c}) * 365 + extract(month from {c}) * 30 + extract(day from {c})) \
         * 86400000000 + extract(hour from {c}) * 3600000000 + extract(minute from {c}) * 60000000 \
         + extract(microseconds from {c}))"
    )
}

impl Format {
    /// A SQL condition, true for the stored values of PostgreSQL column `c`
    /// (already quoted) that this format would change; `None` when it changes
    /// none. Planning counts them before it refuses a lossy format: lossy by
    /// declaration is often exact in the data.
    pub fn changes_sql(&self, kind: &ValueKind, c: &str) -> Option<String> {
        let months = format!("(extract(year from {c}) <> 0 OR extract(month from {c}) <> 0)");
        let sub_unit = |unit: i64| format!("(extract(microseconds from {c})::int8 % {unit} <> 0)");
        Some(match (self, kind) {
            (Format::Duration(unit), ValueKind::Interval) => match unit.micros() {
                1 => months,
                u => format!("{months} OR {}", sub_unit(u)),
            },
            (Format::Time(t), ValueKind::Interval) => match t.fraction {
                FractionStyle::Millis => format!("{months} OR {}", sub_unit(1000)),
                _ => months,
            },
            (Format::Clock(FractionStyle::Millis), ValueKind::Time)
            | (
                Format::Time(TimeText {
                    fraction: FractionStyle::Millis,
                    ..
                }),
                ValueKind::Time,
            ) => sub_unit(1000),
            (Format::Epoch(unit), ValueKind::Timestamp | ValueKind::Timestamptz) => {
                format!("{c} <> date_trunc('{}', {c})", unit.pg_trunc_field()?)
            }
            (Format::Time(t), ValueKind::Timestamp | ValueKind::Timestamptz)
                if t.fraction == FractionStyle::Millis =>
            {
                format!("{c} <> date_trunc('milliseconds', {c})")
            }
            (Format::NumericInteger, _) => format!("{c} <> round({c})"),
            // float8's text is the shortest that reads back, as the converter's test.
            (Format::NumericReal, _) => format!("{c}::float8::text::numeric <> {c}"),
            _ => return None,
        })
    }
}

/// (precision, scale) of a numeric typmod, `None` when unconstrained.
pub fn numeric_typmod(typmod: i32) -> Option<(i32, i32)> {
    (typmod >= 4).then(|| (((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff))
}

fn kind_name(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Bool => "boolean",
        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => "integer",
        ValueKind::Float4 | ValueKind::Float8 => "float",
        ValueKind::Numeric => "numeric",
        ValueKind::Text | ValueKind::PaddedText => "text",
        ValueKind::TextForm => "text-form",
        ValueKind::Json | ValueKind::Jsonb => "json",
        ValueKind::Bytea => "bytea",
        ValueKind::Uuid => "uuid",
        ValueKind::Date => "date",
        ValueKind::Timestamp => "timestamp",
        ValueKind::Timestamptz => "timestamptz",
        ValueKind::Time => "time",
        ValueKind::Interval => "interval",
        ValueKind::Vector => "vector",
        ValueKind::Array(_) => "array",
    }
}

/// The formats a column of `kind` accepts, for messages.
pub fn accepted(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Uuid => "text, hex32, blob",
        ValueKind::Date => "iso, unix, unix_ms, unix_us, julian",
        ValueKind::Timestamp | ValueKind::Timestamptz => "iso, iso-space, unix, unix_ms, unix_us",
        ValueKind::Bool => "int, text, tf",
        ValueKind::Time => "text, iso, iso-space",
        ValueKind::Interval => "text, micros, millis, seconds, iso-space",
        ValueKind::Numeric => "text, integer, real",
        ValueKind::Json | ValueKind::Jsonb | ValueKind::Array(_) => "json",
        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => "integer",
        ValueKind::Float4 | ValueKind::Float8 => "real",
        ValueKind::Text | ValueKind::PaddedText | ValueKind::TextForm => "text",
        ValueKind::Bytea => "blob",
        ValueKind::Vector => "blob, json",
    }
}

/// SQLite's type affinity of a declared column type (section 3.1 of
/// <https://www.sqlite.org/datatype3.html>): it decides what SQLite does to a
/// value bound into the column, so it decides which formats can be stored there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

impl Affinity {
    pub fn of(declared: &str) -> Affinity {
        let d = declared.to_ascii_uppercase();
        if d.contains("INT") {
            Affinity::Integer
        } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
            Affinity::Text
        } else if d.contains("BLOB") || d.trim().is_empty() {
            Affinity::Blob
        } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    /// Whether SQLite turns numeric-looking text into a number here.
    pub fn converts_text(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }
}

/// Why values of `kind` in `format`, stored as `storage`, cannot be kept
/// unchanged by a column of `affinity`, or `None` when they can.
pub fn affinity_conflict(
    kind: &ValueKind,
    format: &Format,
    storage: Storage,
    affinity: Affinity,
) -> Option<String> {
    match (storage, affinity) {
        (_, Affinity::Blob) => None,
        (Storage::Blob, _) => None,
        (Storage::Integer, Affinity::Integer | Affinity::Numeric) => None,
        (Storage::Integer, Affinity::Real) => {
            Some("REAL affinity turns the integers this format writes into doubles".into())
        }
        (Storage::Integer, Affinity::Text) => {
            Some("TEXT affinity turns the integers this format writes into text".into())
        }
        (Storage::Real, Affinity::Real | Affinity::Integer | Affinity::Numeric) => None,
        (Storage::Real, Affinity::Text) => {
            Some("TEXT affinity turns the doubles this format writes into text".into())
        }
        (Storage::Text, Affinity::Text) => None,
        (Storage::Text, _) => {
            // Text that never looks like a number survives a numeric affinity.
            let never_numeric = matches!(
                (kind, format),
                (
                    ValueKind::Date | ValueKind::Timestamp | ValueKind::Timestamptz,
                    Format::Default | Format::Time(_)
                ) | (ValueKind::Uuid, Format::Default)
                    | (ValueKind::Bool, Format::BoolText | Format::BoolChar)
                    // Every form of a time has colons, of an interval colons or
                    // words: SQLite keeps them as text, as the ORMs store them.
                    | (ValueKind::Time, Format::Default | Format::Clock(_) | Format::Time(_))
                    | (ValueKind::Interval, Format::Default | Format::Time(_))
                    | (ValueKind::Json | ValueKind::Jsonb | ValueKind::Array(_), _)
                    | (ValueKind::Numeric, Format::Default)
            );
            (!never_numeric).then(|| {
                "the column's numeric affinity would turn text that looks like a number \
                 into a number"
                    .into()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_rules() {
        assert_eq!(Affinity::of("char(32)"), Affinity::Text);
        assert_eq!(Affinity::of("varchar(32)"), Affinity::Text);
        assert_eq!(Affinity::of("datetime"), Affinity::Numeric);
        assert_eq!(Affinity::of("bool"), Affinity::Numeric);
        assert_eq!(Affinity::of("BIGINT"), Affinity::Integer);
        // "POINT" contains "INT": SQLite's own rule, quirks included.
        assert_eq!(Affinity::of("FLOATING POINT"), Affinity::Integer);
        assert_eq!(Affinity::of(""), Affinity::Blob);
        assert_eq!(Affinity::of("DOUBLE PRECISION"), Affinity::Real);
        assert_eq!(Affinity::of("NUMERIC(10, 2)"), Affinity::Numeric);
    }

    #[test]
    fn formats_belong_to_types() {
        assert_eq!(
            Format::parse("hex32", &ValueKind::Uuid, None, None),
            Ok(Format::UuidHex32)
        );
        let e = Format::parse("hex32", &ValueKind::Text, None, None).unwrap_err();
        assert!(e.contains("text") && e.contains("hex32"), "{e}");
        let e = Format::parse("integer", &ValueKind::Text, None, None).unwrap_err();
        assert!(e.contains("cannot hold"), "{e}");
        let e = Format::parse("hex33", &ValueKind::Uuid, None, None).unwrap_err();
        assert!(
            e.contains("unknown format \"hex33\"") && e.contains("hex32"),
            "{e}"
        );
        assert!(Format::parse("julian", &ValueKind::Timestamp, None, None).is_err());
        let always = Some(FractionStyle::MicrosAlways);
        assert!(Format::parse("unix", &ValueKind::Timestamp, always, None).is_err());
        assert_eq!(
            Format::parse("iso", &ValueKind::Timestamptz, None, None),
            Ok(Format::Time(TimeText::ISO_UTC))
        );
        assert_eq!(
            Format::parse("iso-space", &ValueKind::Timestamp, None, None),
            Ok(Format::Time(TimeText::SPACE))
        );
    }

    #[test]
    fn a_time_as_iso_space_is_rails_datetime_on_2000_01_01() {
        let time = ValueKind::Time;
        let f = Format::parse("iso-space", &time, None, None).unwrap();
        assert_eq!(f, Format::Time(TimeText::SPACE));
        assert_eq!(f.map_fields(&time), ["format = \"iso-space\""]);
        let ms = Format::parse("iso-space", &time, Some(FractionStyle::Millis), None).unwrap();
        assert_eq!(
            ms.map_fields(&time),
            ["format = \"iso-space\"", "fraction = \"ms\""]
        );
        assert_eq!(f.lossy(&time, -1), None);
        assert!(ms.lossy(&time, -1).is_some());
        assert_eq!(ms.lossy(&time, 3), None);
        assert_eq!(f.changes_sql(&time, "\"t\""), None);
        assert!(ms.changes_sql(&time, "\"t\"").is_some());
        // Rails declares the column `time` (NUMERIC affinity): the text survives.
        assert_eq!(
            affinity_conflict(&time, &f, Storage::Text, Affinity::of("time")),
            None
        );
        let e = Format::parse("unix", &time, None, None).unwrap_err();
        assert!(e.contains("iso-space"), "{e}");
    }

    #[test]
    fn lossiness_follows_the_declared_precision() {
        let ms = Format::Epoch(EpochUnit::Millis);
        assert_eq!(ms.lossy(&ValueKind::Timestamp, 3), None);
        assert!(ms.lossy(&ValueKind::Timestamp, -1).is_some());
        assert_eq!(ms.lossy(&ValueKind::Date, -1), None);
        let int = Format::NumericInteger;
        assert_eq!(int.lossy(&ValueKind::Numeric, (10 << 16) + 4), None);
        assert!(int.lossy(&ValueKind::Numeric, (10 << 16 | 2) + 4).is_some());
        assert!(Format::NumericReal.lossy(&ValueKind::Numeric, -1).is_some());
        let ms_text = Format::Time(TimeText {
            fraction: FractionStyle::Millis,
            ..TimeText::SPACE
        });
        assert_eq!(ms_text.lossy(&ValueKind::Timestamp, 3), None);
        assert!(ms_text.lossy(&ValueKind::Timestamptz, -1).is_some());
    }
}
