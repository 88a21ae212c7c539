//! Raw COPY rows → one Arrow `RecordBatch` of SQLite-ready values.
//!
//! Runs on the rayon pool. Every column becomes one of four Arrow types that
//! match SQLite's storage classes (Int64, Float64, Utf8, Binary), so the single
//! writer thread only binds values and never formats or parses.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::decode::{self, ArrayLosses, DecodeError};
use super::format::{EpochUnit, Format, FractionStyle};
use super::ledger::{LossLedger, LossReason};
use super::time::{
    format_clock, format_date, format_time_on_date, format_timestamp, format_timestamp_text,
    unix_days, unix_micros, TimestampStyle, MICROS_PER_DAY_I64, PG_EPOCH_MICROS_FROM_UNIX,
};
use super::types::{Storage, ValueKind};
use crate::source::copy::RawBatch;

/// Rows of raw binary values: a batch read from a COPY, or rows of a bundle.
pub trait RawRows {
    fn row_count(&self) -> usize;
    fn raw(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String>;
}

impl RawRows for RawBatch {
    fn row_count(&self) -> usize {
        self.len()
    }
    fn raw(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String> {
        self.value(row, column)
    }
}

/// A row a bundle file gave back: one value per column (`None`: NULL).
type OwnedRow = Vec<Option<Vec<u8>>>;

impl RawRows for [OwnedRow] {
    fn row_count(&self) -> usize {
        self.len()
    }
    fn raw(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String> {
        self.get(row)
            .ok_or_else(|| format!("no row {row}"))?
            .get(column)
            .map(Option::as_deref)
            .ok_or_else(|| format!("row has no column {column}"))
    }
}

impl<const N: usize> RawRows for [OwnedRow; N] {
    fn row_count(&self) -> usize {
        N
    }
    fn raw(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String> {
        RawRows::raw(self.as_slice(), row, column)
    }
}

impl RawRows for Vec<OwnedRow> {
    fn row_count(&self) -> usize {
        self.len()
    }
    fn raw(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String> {
        RawRows::raw(self.as_slice(), row, column)
    }
}

/// What the converter needs to know about one column.
#[derive(Debug, Clone)]
pub struct ColumnConversion {
    /// The SQLite column name, for errors and the ledger.
    pub name: String,
    pub kind: ValueKind,
    /// The representation: the default mapping's, or one a map or the existing
    /// target chose.
    pub format: Format,
    pub storage: Storage,
}

/// A conversion failure, naming the column and the row within the batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct ConvertError {
    pub column: String,
    pub reason: String,
}

/// The Arrow schema for a table's converted batches.
pub fn arrow_schema(columns: &[ColumnConversion]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let dt = match c.storage {
                Storage::Integer => DataType::Int64,
                Storage::Real => DataType::Float64,
                Storage::Text => DataType::Utf8,
                Storage::Blob => DataType::Binary,
            };
            Field::new(c.name.clone(), dt, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

enum Builder {
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Blob(BinaryBuilder),
}

/// One column of a batch being converted: its builder, and what the
/// conversion changed, for the ledger.
struct ColumnBuilder<'c> {
    col: &'c ColumnConversion,
    builder: Builder,
    negative_zeros: u64,
    lower_bounds: u64,
    json_nulls: u64,
    /// Values an allowed lossy format changed.
    changed: u64,
}

impl<'c> ColumnBuilder<'c> {
    fn new(col: &'c ColumnConversion, rows: usize) -> Self {
        let builder = match col.storage {
            Storage::Integer => Builder::Int(Int64Builder::with_capacity(rows)),
            Storage::Real => Builder::Real(Float64Builder::with_capacity(rows)),
            Storage::Text => Builder::Text(StringBuilder::with_capacity(rows, rows * 16)),
            Storage::Blob => Builder::Blob(BinaryBuilder::with_capacity(rows, rows * 16)),
        };
        ColumnBuilder {
            col,
            builder,
            negative_zeros: 0,
            lower_bounds: 0,
            json_nulls: 0,
            changed: 0,
        }
    }

    /// Converts and appends one value (`None`: NULL).
    fn push(&mut self, raw: Option<&[u8]>, scratch: &mut String) -> Result<(), DecodeError> {
        let col = self.col;
        match (&mut self.builder, raw) {
            (Builder::Int(b), None) => b.append_null(),
            (Builder::Real(b), None) => b.append_null(),
            (Builder::Text(b), None) => b.append_null(),
            (Builder::Blob(b), None) => b.append_null(),
            (Builder::Int(b), Some(v)) => {
                let (i, lost) = integer(&col.kind, col.format, v, scratch)?;
                self.changed += u64::from(lost);
                b.append_value(i);
            }
            (Builder::Real(b), Some(v)) => {
                let (f, lost) = real(&col.kind, col.format, v, scratch)?;
                self.changed += u64::from(lost);
                if f == 0.0 && f.is_sign_negative() {
                    self.negative_zeros += 1;
                }
                b.append_value(f);
            }
            (Builder::Text(b), Some(v)) => {
                scratch.clear();
                self.changed += u64::from(text_changes(&col.kind, col.format, v));
                let losses = text(&col.kind, col.format, v, scratch)?;
                self.lower_bounds += u64::from(losses.lower_bound);
                self.json_nulls += losses.json_nulls;
                b.append_value(&*scratch);
            }
            (Builder::Blob(b), Some(v)) => match col.kind {
                ValueKind::Vector => b.append_value(decode::vector_to_le_bytes(v)?),
                ValueKind::Uuid if v.len() != 16 => {
                    return Err(DecodeError(format!(
                        "uuid: expected 16 bytes, got {}",
                        v.len()
                    )))
                }
                _ => b.append_value(v),
            },
        }
        Ok(())
    }

    /// The column's array; what the conversion changed goes to `ledger`.
    fn finish(self, table: &str, ledger: &mut LossLedger) -> ArrayRef {
        let col = self.col;
        ledger.record(
            table,
            &col.name,
            LossReason::NegativeZero,
            self.negative_zeros,
        );
        ledger.record(
            table,
            &col.name,
            LossReason::ArrayLowerBound,
            self.lower_bounds,
        );
        ledger.record(table, &col.name, LossReason::JsonArrayNull, self.json_nulls);
        if let Some(reason) = loss_reason(&col.kind, col.format) {
            ledger.record(table, &col.name, reason, self.changed);
        }
        match self.builder {
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Real(mut b) => Arc::new(b.finish()),
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Blob(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Converts rows into one batch. `table` is only used in ledger entries.
///
/// Row by row, every column of a row while it is in the CPU's cache: column
/// by column, each of a wide table's columns walked the whole batch (2 MiB)
/// again, and reaching a row's value was a cache miss every time.
pub fn convert_rows(
    table: &str,
    columns: &[ColumnConversion],
    schema: &SchemaRef,
    rows: &(impl RawRows + ?Sized),
    ledger: &mut LossLedger,
) -> Result<RecordBatch, ConvertError> {
    let mut builders: Vec<ColumnBuilder<'_>> = columns
        .iter()
        .map(|c| ColumnBuilder::new(c, rows.row_count()))
        .collect();
    let mut scratch = String::new();
    for row in 0..rows.row_count() {
        for (ci, b) in builders.iter_mut().enumerate() {
            let pushed = rows
                .raw(row, ci)
                .and_then(|raw| b.push(raw, &mut scratch).map_err(|e| e.0));
            if let Err(reason) = pushed {
                return Err(ConvertError {
                    column: b.col.name.clone(),
                    reason,
                });
            }
        }
    }
    let arrays: Vec<ArrayRef> = builders
        .into_iter()
        .map(|b| b.finish(table, ledger))
        .collect();
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| ConvertError {
        column: String::from("(batch)"),
        reason: e.to_string(),
    })
}

/// The ledger reason of a format that may change values.
fn loss_reason(kind: &ValueKind, format: Format) -> Option<LossReason> {
    match format {
        Format::Time(_) if *kind == ValueKind::Interval => Some(LossReason::DurationApproximated),
        Format::Time(t) if t.fraction == FractionStyle::Millis => {
            Some(LossReason::TruncatedPrecision)
        }
        Format::Epoch(_) | Format::Clock(FractionStyle::Millis) => {
            Some(LossReason::TruncatedPrecision)
        }
        Format::Duration(_) => Some(LossReason::DurationApproximated),
        Format::NumericInteger => Some(LossReason::RoundedNumeric),
        Format::NumericReal => Some(LossReason::NumericToDouble),
        _ => None,
    }
}

/// An integer value, and whether the format changed it.
fn integer(
    kind: &ValueKind,
    format: Format,
    v: &[u8],
    scratch: &mut String,
) -> Result<(i64, bool), DecodeError> {
    let exact = |i: i64| Ok((i, false));
    match (kind, format) {
        (ValueKind::Bool, _) => exact(i64::from(decode::read_bool(v)?)),
        (ValueKind::Int2, _) => exact(i64::from(decode::read_i16(v)?)),
        (ValueKind::Int4, _) => exact(i64::from(decode::read_i32(v)?)),
        (ValueKind::Int8, _) => exact(decode::read_i64(v)?),
        (ValueKind::Timestamp | ValueKind::Timestamptz, Format::Epoch(unit)) => {
            let micros = unix_micros(decode::read_i64(v)?).ok_or_else(|| no_epoch(unit))?;
            let u = unit.micros();
            Ok((micros.div_euclid(u), micros.rem_euclid(u) != 0))
        }
        (ValueKind::Date, Format::Epoch(unit)) => {
            let days = unix_days(decode::read_i32(v)?).ok_or_else(|| no_epoch(unit))?;
            // Dates reach at most ~5.9 million years: far inside i64 microseconds.
            exact(days * (MICROS_PER_DAY_I64 / unit.micros()))
        }
        (ValueKind::Interval, Format::Duration(unit)) => {
            let (micros, months) = decode::read_interval_micros(v)?;
            let u = unit.micros();
            Ok((micros.div_euclid(u), months || micros.rem_euclid(u) != 0))
        }
        (ValueKind::Numeric, Format::NumericInteger) => {
            scratch.clear();
            decode::write_numeric(scratch, v)?;
            round_decimal(scratch)
        }
        (other, _) => Err(DecodeError(format!(
            "{other:?} cannot be stored as INTEGER"
        ))),
    }
}

fn no_epoch(unit: EpochUnit) -> DecodeError {
    DecodeError(format!(
        "infinity has no {} form; store the column as iso or iso-space",
        Format::Epoch(unit).name().unwrap_or_default()
    ))
}

/// Whether a text format changes the value: three fraction digits drop the
/// last three of a timestamp or time; an interval's months are approximated.
/// (The ledger reason follows the format: see `loss_reason`.)
fn text_changes(kind: &ValueKind, format: Format, v: &[u8]) -> bool {
    match (kind, format) {
        (ValueKind::Interval, Format::Time(t)) => {
            decode::read_interval_micros(v).is_ok_and(|(m, months)| {
                months || (t.fraction == FractionStyle::Millis && m.rem_euclid(1000) != 0)
            })
        }
        (_, Format::Time(t)) if t.fraction == FractionStyle::Millis => {
            decode::read_i64(v).is_ok_and(|m| m != i64::MAX && m != i64::MIN && m % 1000 != 0)
        }
        (ValueKind::Time, Format::Clock(FractionStyle::Millis)) => {
            decode::read_i64(v).is_ok_and(|m| m % 1000 != 0)
        }
        _ => false,
    }
}

/// A decimal text rounded half away from zero, as PostgreSQL's `round(numeric)`;
/// whether a fraction was dropped.
fn round_decimal(s: &str) -> Result<(i64, bool), DecodeError> {
    let out_of_range = || DecodeError(format!("numeric {s} does not fit an INTEGER"));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError(format!("numeric {s} has no INTEGER form")));
    }
    let mut magnitude: i64 = int_part.parse().map_err(|_| out_of_range())?;
    let lost = frac.bytes().any(|b| b != b'0');
    if frac.as_bytes().first().is_some_and(|&b| b >= b'5') {
        magnitude = magnitude.checked_add(1).ok_or_else(out_of_range)?;
    }
    Ok((if negative { -magnitude } else { magnitude }, lost))
}

/// A double, and whether the format changed the value.
fn real(
    kind: &ValueKind,
    format: Format,
    v: &[u8],
    scratch: &mut String,
) -> Result<(f64, bool), DecodeError> {
    match (kind, format) {
        (ValueKind::Float4, _) => decode::read_f32(v).map(|f| (f64::from(f), false)),
        (ValueKind::Float8, _) => decode::read_f64(v).map(|f| (f, false)),
        (ValueKind::Numeric, Format::NumericReal) => {
            scratch.clear();
            decode::write_numeric(scratch, v)?;
            // Rust's parse is correctly rounded, like PostgreSQL's numeric::float8.
            let f: f64 = scratch
                .parse()
                .map_err(|_| DecodeError(format!("numeric {scratch} has no REAL form")))?;
            Ok((f, !same_decimal(scratch, f)))
        }
        (ValueKind::Date, Format::Julian) => {
            let days = unix_days(decode::read_i32(v)?)
                .ok_or_else(|| DecodeError("infinity has no julian form".into()))?;
            // Whole days and halves are exact in a double at any date PostgreSQL holds.
            #[allow(clippy::cast_precision_loss)]
            let d = days as f64;
            Ok((d + JULIAN_UNIX_EPOCH, false))
        }
        (other, _) => Err(DecodeError(format!("{other:?} cannot be stored as REAL"))),
    }
}

/// The Julian day number of 1970-01-01 00:00 UTC.
pub const JULIAN_UNIX_EPOCH: f64 = 2_440_587.5;

/// Whether a double reads back (shortest form) as the same number as a decimal text.
fn same_decimal(decimal: &str, f: f64) -> bool {
    if !f.is_finite() {
        return true; // NaN and the infinities are kept as such
    }
    let trimmed = |s: &str| -> String {
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        };
        if s == "-0" {
            "0".to_owned()
        } else {
            s.to_owned()
        }
    };
    trimmed(decimal) == trimmed(&format!("{f}"))
}

/// Writes the text form; returns what an array lost, if it is one.
fn text(
    kind: &ValueKind,
    format: Format,
    v: &[u8],
    out: &mut String,
) -> Result<ArrayLosses, DecodeError> {
    match (kind, format) {
        (ValueKind::Text | ValueKind::PaddedText | ValueKind::TextForm | ValueKind::Json, _)
        | (ValueKind::Time | ValueKind::Interval, Format::Default) => {
            out.push_str(decode::read_text(v)?)
        }
        (ValueKind::Time, Format::Clock(style)) => format_clock(out, decode::read_i64(v)?, style),
        (ValueKind::Time, Format::Time(style)) => {
            format_time_on_date(out, decode::read_i64(v)?, style)
        }
        (ValueKind::Interval, Format::Time(style)) => {
            let (micros, _) = decode::read_interval_micros(v)?;
            // The datetime that long after 1970-01-01 00:00: what SQLAlchemy stores.
            let pg = micros
                .checked_sub(PG_EPOCH_MICROS_FROM_UNIX)
                .filter(|m| *m != i64::MAX && *m != i64::MIN)
                .ok_or_else(|| DecodeError("interval too long for a datetime".into()))?;
            format_timestamp_text(out, pg, style)
        }
        (ValueKind::Bool, Format::BoolChar) => {
            out.push_str(if decode::read_bool(v)? { "t" } else { "f" })
        }
        (ValueKind::Jsonb, _) => out.push_str(decode::read_jsonb(v)?),
        (ValueKind::Numeric, _) => decode::write_numeric(out, v)?,
        (ValueKind::Uuid, Format::UuidHex32) => decode::write_uuid_hex32(out, v)?,
        (ValueKind::Uuid, _) => decode::write_uuid(out, v)?,
        (ValueKind::Date, _) => format_date(out, decode::read_i32(v)?),
        (ValueKind::Timestamp | ValueKind::Timestamptz, Format::Time(style)) => {
            format_timestamp_text(out, decode::read_i64(v)?, style)
        }
        (ValueKind::Timestamp, _) => {
            format_timestamp(out, decode::read_i64(v)?, TimestampStyle::Space)
        }
        (ValueKind::Timestamptz, _) => {
            format_timestamp(out, decode::read_i64(v)?, TimestampStyle::IsoUtc)
        }
        (ValueKind::Bool, Format::BoolText) => out.push_str(if decode::read_bool(v)? {
            "true"
        } else {
            "false"
        }),
        (ValueKind::Array(element), _) => return decode::write_array_json(out, element, v),
        (ValueKind::Vector, Format::VectorJson) => decode::write_vector_json(out, v)?,
        (other, _) => return Err(DecodeError(format!("{other:?} cannot be stored as TEXT"))),
    }
    Ok(ArrayLosses::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::format::TimeText;
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};

    fn col(name: &str, kind: ValueKind, storage: Storage) -> ColumnConversion {
        ColumnConversion {
            name: name.into(),
            kind,
            format: Format::Default,
            storage,
        }
    }

    #[test]
    fn rails_time_is_written_on_2000_01_01() {
        let mut c = col("t", ValueKind::Time, Storage::Text);
        c.format = Format::Time(TimeText::SPACE);
        let cols = vec![c];
        let schema = arrow_schema(&cols);
        let micros = [
            45_015_000_000_i64, // 12:30:15
            45_015_500_000,     // 12:30:15.5
            0,                  // midnight
            86_399_999_999,     // 23:59:59.999999
            86_400_000_000,     // PostgreSQL's 24:00:00
        ];
        let rows: Vec<Vec<Option<Vec<u8>>>> = micros
            .iter()
            .map(|m| vec![Some(m.to_be_bytes().to_vec())])
            .collect();
        let mut ledger = LossLedger::default();
        let batch = convert_rows("t", &cols, &schema, &rows, &mut ledger).unwrap();
        let t = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let got: Vec<&str> = (0..t.len()).map(|i| t.value(i)).collect();
        assert_eq!(
            got,
            [
                "2000-01-01 12:30:15",
                "2000-01-01 12:30:15.500000",
                "2000-01-01 00:00:00",
                "2000-01-01 23:59:59.999999",
                "2000-01-01 24:00:00",
            ]
        );
        assert!(ledger.entries().is_empty());
    }

    #[test]
    fn converts_and_counts_negative_zero() {
        let cols = vec![
            col("id", ValueKind::Int4, Storage::Integer),
            col("f", ValueKind::Float8, Storage::Real),
            col("d", ValueKind::Date, Storage::Text),
        ];
        let schema = arrow_schema(&cols);
        let rows: Vec<Vec<Option<Vec<u8>>>> = vec![
            vec![
                Some(7i32.to_be_bytes().to_vec()),
                Some((-0.0f64).to_be_bytes().to_vec()),
                Some(0i32.to_be_bytes().to_vec()),
            ],
            vec![Some((-1i32).to_be_bytes().to_vec()), None, None],
        ];
        let mut ledger = LossLedger::default();
        let batch = convert_rows("t", &cols, &schema, &rows, &mut ledger).unwrap();
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.values(), &[7, -1]);
        let f = batch
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert!(f.is_null(1));
        let d = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(d.value(0), "2000-01-01");
        assert_eq!(ledger.entries()[0].count, 1);
    }

    #[test]
    fn numeric_rounding_and_doubles() {
        // As PostgreSQL's round(numeric): half away from zero.
        assert_eq!(round_decimal("12.500").unwrap(), (13, true));
        assert_eq!(round_decimal("-12.5").unwrap(), (-13, true));
        assert_eq!(round_decimal("-12.49").unwrap(), (-12, true));
        assert_eq!(round_decimal("7.000").unwrap(), (7, false));
        assert_eq!(round_decimal("0").unwrap(), (0, false));
        assert!(round_decimal("NaN").is_err());
        assert!(round_decimal("9223372036854775808").is_err());
        assert!(round_decimal("9223372036854775807.5").is_err());
        assert!(same_decimal("0.2000", 0.2));
        assert!(same_decimal("-7", -7.0));
        assert!(!same_decimal(
            "0.12345678901234567",
            0.123_456_789_012_345_66
        ));
        assert!(!same_decimal("1.000000000000000001", 1.0));
    }

    #[test]
    fn bad_width_is_an_error_naming_the_column() {
        let cols = vec![col("n", ValueKind::Int8, Storage::Integer)];
        let schema = arrow_schema(&cols);
        let rows: Vec<Vec<Option<Vec<u8>>>> = vec![vec![Some(vec![1, 2, 3])]];
        let e = convert_rows("t", &cols, &schema, &rows, &mut LossLedger::default()).unwrap_err();
        assert_eq!(e.column, "n");
    }
}
