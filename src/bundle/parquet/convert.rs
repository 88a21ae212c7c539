//! One scalar value: PostgreSQL's binary wire form to its Parquet leaf value
//! and back.

use super::schema::decimal_physical;
use super::{Physical, Value, ValueRef};
use crate::bundle::wire;
use crate::mapping::decode::{self, DecodeError};
use crate::mapping::file_types::FileType;
use crate::mapping::time::{format_timestamp, TimestampStyle};

/// Days from 1970-01-01 (Parquet's DATE epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 (Parquet's TIMESTAMP epoch) to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;

fn text(e: DecodeError) -> String {
    e.0
}

/// The Parquet value of a wire value of the scalar type `ft`.
pub(super) fn to_parquet<'w>(ft: &FileType, w: &'w [u8]) -> Result<Value<'w>, String> {
    use std::borrow::Cow;
    Ok(match ft {
        FileType::Bool => Value::Bool(decode::read_bool(w).map_err(text)?),
        FileType::Int16 => Value::I32(i32::from(decode::read_i16(w).map_err(text)?)),
        FileType::Int32 => Value::I32(decode::read_i32(w).map_err(text)?),
        FileType::Int64 | FileType::Time => Value::I64(decode::read_i64(w).map_err(text)?),
        // from_be_bytes keeps every bit: NaN payloads, infinities, -0.0.
        FileType::Float32 => Value::F32(decode::read_f32(w).map_err(text)?),
        FileType::Float64 => Value::F64(decode::read_f64(w).map_err(text)?),
        FileType::Decimal { precision, scale } => decimal_to_parquet(w, *precision, *scale)?,
        FileType::Numeric => {
            let mut s = String::new();
            decode::write_numeric(&mut s, w).map_err(text)?;
            Value::Bytes(Cow::Owned(s.into_bytes()))
        }
        // Parquet's String and JSON are UTF-8; refuse what would make the file invalid.
        FileType::Text | FileType::PgText | FileType::Enum | FileType::Json => Value::Bytes(
            Cow::Borrowed(decode::read_text(w).map_err(text)?.as_bytes()),
        ),
        FileType::Jsonb => Value::Bytes(Cow::Borrowed(
            decode::read_jsonb(w).map_err(text)?.as_bytes(),
        )),
        FileType::AsText { of } => {
            let mut s = String::new();
            crate::bundle::csv::text::write_value(&mut s, of, w).map_err(text)?;
            Value::Bytes(Cow::Owned(s.into_bytes()))
        }
        FileType::Bytes => Value::Bytes(Cow::Borrowed(w)),
        FileType::Uuid if w.len() == 16 => Value::Fixed(Cow::Borrowed(w)),
        FileType::Uuid => return Err(format!("uuid: expected 16 bytes, got {}", w.len())),
        FileType::Date => Value::I32(date_to_parquet(decode::read_i32(w).map_err(text)?)?),
        FileType::Timestamp | FileType::Timestamptz => Value::I64(timestamp_to_parquet(
            decode::read_i64(w).map_err(text)?,
            ft,
        )?),
        FileType::Interval | FileType::Vector | FileType::List { .. } => {
            return Err(format!("{ft:?} is not a scalar type"))
        }
    })
}

/// The wire value of a Parquet value of the scalar type `ft`.
pub(super) fn from_parquet(ft: &FileType, v: ValueRef<'_>) -> Result<Vec<u8>, String> {
    Ok(match (ft, v) {
        (FileType::Bool, ValueRef::Bool(b)) => vec![u8::from(b)],
        (FileType::Int16, ValueRef::I32(x)) => i16::try_from(x)
            .map_err(|_| format!("{x} does not fit a smallint"))?
            .to_be_bytes()
            .to_vec(),
        (FileType::Int32, ValueRef::I32(x)) => x.to_be_bytes().to_vec(),
        (FileType::Int64 | FileType::Time, ValueRef::I64(x)) => x.to_be_bytes().to_vec(),
        (FileType::Float32, ValueRef::F32(x)) => x.to_be_bytes().to_vec(),
        (FileType::Float64, ValueRef::F64(x)) => x.to_be_bytes().to_vec(),
        (FileType::Decimal { scale, .. }, v) => decimal_from_parquet(v, *scale)?,
        (FileType::Numeric, ValueRef::Bytes(b)) => {
            let s = std::str::from_utf8(b).map_err(|e| format!("numeric: {e}"))?;
            wire::numeric_from_text(s).map_err(text)?
        }
        (
            FileType::Text | FileType::PgText | FileType::Enum | FileType::Json,
            ValueRef::Bytes(b),
        )
        | (FileType::Bytes, ValueRef::Bytes(b)) => b.to_vec(),
        // jsonb's wire form is a version byte (1) and the text.
        (FileType::Jsonb, ValueRef::Bytes(b)) => {
            let mut out = Vec::with_capacity(b.len() + 1);
            out.push(1);
            out.extend_from_slice(b);
            out
        }
        (FileType::AsText { of }, ValueRef::Bytes(b)) => {
            let s = std::str::from_utf8(b).map_err(|e| format!("{of:?} as text: {e}"))?;
            crate::bundle::csv::text::parse_value(of, s).map_err(text)?
        }
        (FileType::Uuid, ValueRef::Bytes(b)) if b.len() == 16 => b.to_vec(),
        (FileType::Date, ValueRef::I32(x)) => date_from_parquet(x)?.to_be_bytes().to_vec(),
        (FileType::Timestamp | FileType::Timestamptz, ValueRef::I64(x)) => {
            timestamp_from_parquet(x)?.to_be_bytes().to_vec()
        }
        (ft, v) => return Err(format!("{v:?} is not a value of {ft:?}")),
    })
}

fn decimal_to_parquet(w: &[u8], precision: u8, scale: u8) -> Result<Value<'static>, String> {
    let v = wire::numeric_to_unscaled(w, scale).map_err(text)?;
    // A DECIMAL(p,s) holds at most p digits; readers reject more.
    let limit = 10i128.pow(u32::from(precision.min(38)));
    if v.unsigned_abs() >= limit.unsigned_abs() {
        return Err(format!(
            "numeric with unscaled value {v} has more than {precision} digits"
        ));
    }
    let too_wide = |_| format!("unscaled {v} does not fit DECIMAL({precision},{scale})");
    Ok(match decimal_physical(precision) {
        Physical::I32 => Value::I32(i32::try_from(v).map_err(too_wide)?),
        Physical::I64 => Value::I64(i64::try_from(v).map_err(too_wide)?),
        _ => Value::Fixed(std::borrow::Cow::Owned(v.to_be_bytes().to_vec())),
    })
}

fn decimal_from_parquet(v: ValueRef<'_>, scale: u8) -> Result<Vec<u8>, String> {
    let unscaled = match v {
        ValueRef::I32(x) => i128::from(x),
        ValueRef::I64(x) => i128::from(x),
        ValueRef::Bytes(b) => {
            let be: [u8; 16] = b
                .try_into()
                .map_err(|_| format!("decimal: expected 16 bytes, got {}", b.len()))?;
            i128::from_be_bytes(be)
        }
        other => return Err(format!("decimal: unexpected {other:?}")),
    };
    wire::numeric_from_unscaled(unscaled, scale).map_err(text)
}

/// -infinity in a file, as DuckDB writes it: the negated maximum, one above
/// the type's minimum (DuckDB reads i32::MIN / i64::MIN as finite dates and
/// timestamps far BC). +infinity is the maximum in both PostgreSQL and DuckDB.
/// No finite PostgreSQL date or timestamp comes near either after the shift of
/// epoch.
const DATE_NEG_INFINITY: i32 = -i32::MAX;
const TIMESTAMP_NEG_INFINITY: i64 = -i64::MAX;

fn date_to_parquet(pg_days: i32) -> Result<i32, String> {
    match pg_days {
        i32::MAX => Ok(i32::MAX),
        i32::MIN => Ok(DATE_NEG_INFINITY),
        d => d
            .checked_add(EPOCH_DAYS)
            .filter(|u| (DATE_NEG_INFINITY + 1..i32::MAX).contains(u))
            .ok_or_else(|| format!("date of day {d} after 2000-01-01 is out of range")),
    }
}

fn date_from_parquet(unix_days: i32) -> Result<i32, String> {
    match unix_days {
        i32::MAX => Ok(i32::MAX),
        // i32::MIN too: PostgreSQL's own -infinity, which no finite date reaches.
        DATE_NEG_INFINITY | i32::MIN => Ok(i32::MIN),
        d => d
            .checked_sub(EPOCH_DAYS)
            .ok_or_else(|| format!("date of day {d} after 1970-01-01 is out of range")),
    }
}

/// A finite timestamp whose distance to 1970 overflows 64-bit microseconds
/// (after year 294247) cannot be held.
fn timestamp_to_parquet(pg_micros: i64, ft: &FileType) -> Result<i64, String> {
    match pg_micros {
        i64::MAX => Ok(i64::MAX),
        i64::MIN => Ok(TIMESTAMP_NEG_INFINITY),
        m => m
            .checked_add(EPOCH_MICROS)
            .filter(|u| (TIMESTAMP_NEG_INFINITY + 1..i64::MAX).contains(u))
            .ok_or_else(|| {
                let mut shown = String::new();
                let style = match ft {
                    FileType::Timestamptz => TimestampStyle::IsoUtc,
                    _ => TimestampStyle::Space,
                };
                format_timestamp(&mut shown, m, style);
                format!(
                    "timestamp {shown} is beyond the range of Parquet's microseconds since 1970"
                )
            }),
    }
}

fn timestamp_from_parquet(unix_micros: i64) -> Result<i64, String> {
    match unix_micros {
        i64::MAX => Ok(i64::MAX),
        TIMESTAMP_NEG_INFINITY | i64::MIN => Ok(i64::MIN),
        m => m
            .checked_sub(EPOCH_MICROS)
            .ok_or_else(|| format!("timestamp of {m} µs since 1970 is out of range")),
    }
}

/// pgvector's binary `vector`: i16 dimensions, i16 unused (always 0), then
/// big-endian f32s.
pub(super) fn vector_floats(w: &[u8]) -> Result<Vec<f32>, String> {
    let (head, body) = w.split_at_checked(4).ok_or("vector: value too short")?;
    let dim = i16::from_be_bytes([head[0], head[1]]);
    let unused = i16::from_be_bytes([head[2], head[3]]);
    let dim = usize::try_from(dim).map_err(|_| format!("vector: {dim} dimensions"))?;
    if unused != 0 || body.len() != 4 * dim {
        return Err(format!(
            "vector: {dim} dimensions (unused field {unused}) in {} bytes",
            w.len()
        ));
    }
    Ok(body
        .chunks_exact(4)
        .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub(super) fn vector_wire(floats: &[f32]) -> Result<Vec<u8>, String> {
    let dim =
        i16::try_from(floats.len()).map_err(|_| format!("vector: {} dimensions", floats.len()))?;
    let mut out = Vec::with_capacity(4 + 4 * floats.len());
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for f in floats {
        out.extend_from_slice(&f.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_minus_infinities_read_back_as_postgresql_s() {
        assert_eq!(date_from_parquet(i32::MIN), Ok(i32::MIN));
        assert_eq!(date_from_parquet(-i32::MAX), Ok(i32::MIN));
        assert_eq!(timestamp_from_parquet(i64::MIN), Ok(i64::MIN));
        assert_eq!(timestamp_from_parquet(-i64::MAX), Ok(i64::MIN));
        assert_eq!(date_to_parquet(i32::MIN), Ok(-i32::MAX));
        // A finite value may not land on an infinity.
        assert!(date_to_parquet(i32::MAX - EPOCH_DAYS).is_err());
        assert!(timestamp_to_parquet(i64::MAX - EPOCH_MICROS, &FileType::Timestamp).is_err());
    }
}
