//! Decoders for PostgreSQL's binary wire formats that need more than a byte swap:
//! `numeric`, `uuid`, arrays (as JSON) and pgvector's `vector`.
//!
//! Every decoder returns an error for malformed input rather than guessing.

use std::fmt::Write;

use super::time::{format_date, format_timestamp, push_padded, TimestampStyle};
use super::types::ValueKind;

/// Why a wire value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

fn take<const N: usize>(buf: &[u8], at: usize, what: &str) -> Result<[u8; N], DecodeError> {
    buf.get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .map_or_else(|| err(format!("{what}: value too short")), Ok)
}

pub fn read_i16(buf: &[u8]) -> Result<i16, DecodeError> {
    exact::<2>(buf, "int2").map(i16::from_be_bytes)
}
pub fn read_i32(buf: &[u8]) -> Result<i32, DecodeError> {
    exact::<4>(buf, "int4").map(i32::from_be_bytes)
}
pub fn read_i64(buf: &[u8]) -> Result<i64, DecodeError> {
    exact::<8>(buf, "int8").map(i64::from_be_bytes)
}
pub fn read_f32(buf: &[u8]) -> Result<f32, DecodeError> {
    exact::<4>(buf, "float4").map(f32::from_be_bytes)
}
pub fn read_f64(buf: &[u8]) -> Result<f64, DecodeError> {
    exact::<8>(buf, "float8").map(f64::from_be_bytes)
}
pub fn read_bool(buf: &[u8]) -> Result<bool, DecodeError> {
    match buf {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => err("boolean: expected one byte 0 or 1"),
    }
}

/// An `interval`'s length in microseconds, with a month counted as 30 days and a
/// year as 365 (as psycopg reads one into a `timedelta`; PostgreSQL's
/// `extract` gives the same fields), and whether it had a month part that this
/// changes. The wire form is microseconds (i64), days (i32), months (i32).
pub fn read_interval_micros(buf: &[u8]) -> Result<(i64, bool), DecodeError> {
    let b = exact::<16>(buf, "interval")?;
    let micros = i64::from_be_bytes(take::<8>(&b, 0, "interval")?);
    let days = i32::from_be_bytes(take::<4>(&b, 8, "interval")?);
    let months = i32::from_be_bytes(take::<4>(&b, 12, "interval")?);
    let all_days = i64::from(months / 12) * 365 + i64::from(months % 12) * 30 + i64::from(days);
    all_days
        .checked_mul(86_400_000_000)
        .and_then(|d| d.checked_add(micros))
        .map(|total| (total, months != 0))
        .map_or_else(|| err("interval: too long for 64-bit microseconds"), Ok)
}

fn exact<const N: usize>(buf: &[u8], what: &str) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(buf).map_or_else(
        |_| err(format!("{what}: expected {N} bytes, got {}", buf.len())),
        Ok,
    )
}

/// Text as UTF-8 (the connection's client encoding is UTF8).
pub fn read_text(buf: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(buf).map_or_else(|e| err(format!("text is not valid UTF-8: {e}")), Ok)
}

/// `jsonb` binary: a version byte (1) followed by the JSON text.
pub fn read_jsonb(buf: &[u8]) -> Result<&str, DecodeError> {
    match buf.split_first() {
        Some((1, rest)) => read_text(rest),
        Some((v, _)) => err(format!("jsonb: unknown format version {v}")),
        None => err("jsonb: empty value"),
    }
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// `numeric` binary (base-10000 digits) as the exact decimal text PostgreSQL prints:
/// `-12.340`, `0.0001`, `NaN`, `Infinity`, `-Infinity`.
pub fn write_numeric(out: &mut String, buf: &[u8]) -> Result<(), DecodeError> {
    let ndigits = u16::from_be_bytes(take::<2>(buf, 0, "numeric")?);
    let weight = i16::from_be_bytes(take::<2>(buf, 2, "numeric")?);
    let sign = u16::from_be_bytes(take::<2>(buf, 4, "numeric")?);
    let dscale = u16::from_be_bytes(take::<2>(buf, 6, "numeric")?);
    let ndigits = usize::from(ndigits);
    if buf.len() != 8 + 2 * ndigits {
        return err(format!(
            "numeric: {ndigits} digits announced, {} bytes present",
            buf.len()
        ));
    }
    match sign {
        NUMERIC_NAN => {
            out.push_str("NaN");
            return Ok(());
        }
        NUMERIC_PINF => {
            out.push_str("Infinity");
            return Ok(());
        }
        NUMERIC_NINF => {
            out.push_str("-Infinity");
            return Ok(());
        }
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return err(format!("numeric: unknown sign word {other:#06x}")),
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let d = i16::from_be_bytes(take::<2>(buf, 8 + 2 * i, "numeric")?);
        match u16::try_from(d) {
            Ok(d) if d < 10_000 => digits.push(d),
            _ => return err(format!("numeric: digit {d} out of range")),
        }
    }
    // digits[j] is the coefficient of 10000^(weight - j).
    let digit_at = |exp: i32| -> u16 {
        let j = i32::from(weight) - exp;
        usize::try_from(j)
            .ok()
            .and_then(|j| digits.get(j).copied())
            .unwrap_or(0)
    };
    if sign == NUMERIC_NEG && digits.iter().any(|&d| d != 0) {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        push_padded(out, u64::from(digit_at(i32::from(weight))), 1);
        for exp in (0..i32::from(weight)).rev() {
            push_padded(out, u64::from(digit_at(exp)), 4);
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut remaining = usize::from(dscale);
        let mut exp = -1;
        let mut group = String::with_capacity(4);
        while remaining > 0 {
            group.clear();
            push_padded(&mut group, u64::from(digit_at(exp)), 4);
            let n = remaining.min(4);
            out.push_str(&group[..n]);
            remaining -= n;
            exp -= 1;
        }
    }
    Ok(())
}

/// `uuid` binary (16 bytes) as 36 lowercase characters.
pub fn write_uuid(out: &mut String, buf: &[u8]) -> Result<(), DecodeError> {
    let bytes = exact::<16>(buf, "uuid")?;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        push_hex(out, *b);
    }
    Ok(())
}

/// `uuid` binary as 32 lowercase hex digits without dashes.
pub fn write_uuid_hex32(out: &mut String, buf: &[u8]) -> Result<(), DecodeError> {
    for b in exact::<16>(buf, "uuid")? {
        push_hex(out, b);
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn push_hex(out: &mut String, b: u8) {
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// pgvector `vector` binary (i16 dimensions, i16 unused, big-endian f32s) as
/// little-endian f32 bytes.
pub fn vector_to_le_bytes(buf: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let dim = i16::from_be_bytes(take::<2>(buf, 0, "vector")?);
    let dim = usize::try_from(dim).map_or_else(|_| err("vector: negative dimension"), Ok)?;
    if buf.len() != 4 + 4 * dim {
        return err(format!("vector: {dim} dimensions, {} bytes", buf.len()));
    }
    let mut out = Vec::with_capacity(4 * dim);
    for chunk in buf[4..].chunks_exact(4) {
        let f = f32::from_be_bytes(take::<4>(chunk, 0, "vector")?);
        out.extend_from_slice(&f.to_le_bytes());
    }
    Ok(out)
}

/// pgvector `vector` binary as a JSON array of its float4 values, each in the
/// shortest form that reads back as the same float4.
pub fn write_vector_json(out: &mut String, buf: &[u8]) -> Result<(), DecodeError> {
    let le = vector_to_le_bytes(buf)?;
    out.push('[');
    for (i, chunk) in le.chunks_exact(4).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f32::from_le_bytes(take::<4>(chunk, 0, "vector")?);
        write_json_float(out, f64::from(f), f);
    }
    out.push(']');
    Ok(())
}

/// A float as a JSON value: a number, or a string for the values JSON has no
/// number for (`"NaN"`, `"Infinity"`, `"-Infinity"`).
fn write_json_float(out: &mut String, f: f64, shortest: impl std::fmt::Debug) {
    if f.is_nan() {
        out.push_str("\"NaN\"");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        let _ = write!(out, "{shortest:?}");
    }
}

pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `v` in decimal without going through `core::fmt`.
pub fn push_int(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_padded(out, v.unsigned_abs(), 1);
}

/// One array element as a JSON value, using the same text forms as scalar columns.
fn write_json_element(out: &mut String, kind: &ValueKind, buf: &[u8]) -> Result<(), DecodeError> {
    match kind {
        ValueKind::Bool => out.push_str(if read_bool(buf)? { "true" } else { "false" }),
        ValueKind::Int2 => push_int(out, i64::from(read_i16(buf)?)),
        ValueKind::Int4 => push_int(out, i64::from(read_i32(buf)?)),
        ValueKind::Int8 => push_int(out, read_i64(buf)?),
        ValueKind::Float4 => {
            let f = read_f32(buf)?;
            write_json_float(out, f64::from(f), f);
        }
        ValueKind::Float8 => {
            let f = read_f64(buf)?;
            write_json_float(out, f, f);
        }
        ValueKind::Numeric => {
            let mut s = String::new();
            write_numeric(&mut s, buf)?;
            if s.bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                out.push_str(&s);
            } else {
                write_json_string(out, &s);
            }
        }
        // Arrays of times and intervals are read as text (types::map_array).
        ValueKind::Text
        | ValueKind::PaddedText
        | ValueKind::TextForm
        | ValueKind::Time
        | ValueKind::Interval => write_json_string(out, read_text(buf)?),
        ValueKind::Json => out.push_str(read_text(buf)?),
        ValueKind::Jsonb => out.push_str(read_jsonb(buf)?),
        ValueKind::Bytea => {
            let mut s = String::with_capacity(2 + 2 * buf.len());
            s.push_str("\\x");
            for b in buf {
                push_hex(&mut s, *b);
            }
            write_json_string(out, &s);
        }
        ValueKind::Uuid => {
            out.push('"');
            write_uuid(out, buf)?;
            out.push('"');
        }
        ValueKind::Date => {
            out.push('"');
            format_date(out, read_i32(buf)?);
            out.push('"');
        }
        ValueKind::Timestamp | ValueKind::Timestamptz => {
            let style = if matches!(kind, ValueKind::Timestamp) {
                TimestampStyle::Space
            } else {
                TimestampStyle::IsoUtc
            };
            out.push('"');
            format_timestamp(out, read_i64(buf)?, style);
            out.push('"');
        }
        ValueKind::Vector | ValueKind::Array(_) => {
            return err("arrays of this element type are not supported")
        }
    }
    Ok(())
}

/// What an array lost on its way to JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrayLosses {
    /// A lower bound other than 1 (JSON arrays have none).
    pub lower_bound: bool,
    /// SQL NULL elements of a json/jsonb array, now the same `null` as JSON null.
    pub json_nulls: u64,
}

/// A PostgreSQL array (binary form) as a JSON array: nested for several
/// dimensions, NULL elements as `null`. Returns what could not be kept, so the
/// caller can count it.
pub fn write_array_json(
    out: &mut String,
    element: &ValueKind,
    buf: &[u8],
) -> Result<ArrayLosses, DecodeError> {
    let array = postgres_protocol::types::array_from_sql(buf)
        .map_or_else(|e| err(format!("array: {e}")), Ok)?;
    let mut dims = Vec::new();
    let mut losses = ArrayLosses::default();
    {
        use fallible_iterator::FallibleIterator;
        let mut it = array.dimensions();
        while let Some(d) = it
            .next()
            .map_or_else(|e| err(format!("array dimensions: {e}")), Ok)?
        {
            losses.lower_bound |= d.lower_bound != 1;
            dims.push(
                usize::try_from(d.len).map_or_else(|_| err("array: negative dimension"), Ok)?,
            );
        }
    }
    let mut values = array.values();
    if dims.is_empty() {
        out.push_str("[]");
        return Ok(losses);
    }
    write_array_level(out, element, &dims, &mut values, &mut losses)?;
    use fallible_iterator::FallibleIterator;
    if values
        .next()
        .map_or_else(|e| err(format!("array: {e}")), Ok)?
        .is_some()
    {
        return err("array: more elements than its dimensions hold");
    }
    Ok(losses)
}

fn write_array_level(
    out: &mut String,
    element: &ValueKind,
    dims: &[usize],
    values: &mut postgres_protocol::types::ArrayValues<'_>,
    losses: &mut ArrayLosses,
) -> Result<(), DecodeError> {
    use fallible_iterator::FallibleIterator;
    out.push('[');
    let (len, inner) = match dims.split_first() {
        Some((len, inner)) => (*len, inner),
        None => return err("array: no dimensions"),
    };
    for i in 0..len {
        if i > 0 {
            out.push(',');
        }
        if inner.is_empty() {
            match values.next() {
                Ok(Some(Some(v))) => write_json_element(out, element, v)?,
                Ok(Some(None)) => {
                    if matches!(element, ValueKind::Json | ValueKind::Jsonb) {
                        losses.json_nulls += 1;
                    }
                    out.push_str("null")
                }
                Ok(None) => return err("array: fewer elements than its dimensions hold"),
                Err(e) => return err(format!("array: {e}")),
            }
        } else {
            write_array_level(out, element, inner, values, losses)?;
        }
    }
    out.push(']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> String {
        let mut buf = Vec::new();
        buf.extend_from_slice(&ndigits.to_be_bytes());
        buf.extend_from_slice(&weight.to_be_bytes());
        buf.extend_from_slice(&sign.to_be_bytes());
        buf.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            buf.extend_from_slice(&d.to_be_bytes());
        }
        let mut s = String::new();
        write_numeric(&mut s, &buf).unwrap();
        s
    }

    #[test]
    fn numeric_forms() {
        assert_eq!(numeric(0, 0, NUMERIC_POS, 0, &[]), "0");
        assert_eq!(numeric(0, 0, NUMERIC_POS, 2, &[]), "0.00");
        assert_eq!(numeric(1, 0, NUMERIC_POS, 0, &[42]), "42");
        // 12.340: digits [12, 3400], weight 0, dscale 3
        assert_eq!(numeric(2, 0, NUMERIC_NEG, 3, &[12, 3400]), "-12.340");
        // 0.0001: digits [1], weight -1
        assert_eq!(numeric(1, -1, NUMERIC_POS, 4, &[1]), "0.0001");
        // 0.00000001: digits [1], weight -2
        assert_eq!(numeric(1, -2, NUMERIC_POS, 8, &[1]), "0.00000001");
        // 100000000: digits [1], weight 2 (trailing zero groups omitted)
        assert_eq!(numeric(1, 2, NUMERIC_POS, 0, &[1]), "100000000");
        assert_eq!(numeric(2, 1, NUMERIC_POS, 0, &[1, 2]), "10002");
        assert_eq!(numeric(0, 0, NUMERIC_NAN, 0, &[]), "NaN");
        assert_eq!(numeric(0, 0, NUMERIC_PINF, 0, &[]), "Infinity");
        assert_eq!(numeric(0, 0, NUMERIC_NINF, 0, &[]), "-Infinity");
    }

    #[test]
    fn numeric_rejects_garbage() {
        let mut s = String::new();
        assert!(write_numeric(&mut s, &[0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(write_numeric(&mut s, &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
    }

    #[test]
    fn uuid_is_lowercase_dashed() {
        let mut s = String::new();
        write_uuid(
            &mut s,
            &[
                0xA0, 0xEE, 0xBC, 0x99, 0x9C, 0x0B, 0x4E, 0xF8, 0xBB, 0x6D, 0x6B, 0xB9, 0xBD, 0x38,
                0x0A, 0x11,
            ],
        )
        .unwrap();
        assert_eq!(s, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
