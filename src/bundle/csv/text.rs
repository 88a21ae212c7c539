//! The text form of each file type in a CSV file, from and back to
//! PostgreSQL's binary wire form. Every form reads back into the same wire
//! bytes, except where the module docs of [`super`] say otherwise.

use std::fmt::Write;

use crate::bundle::array_json;
use crate::bundle::wire;
use crate::mapping::decode::{self, DecodeError};
use crate::mapping::file_types::FileType;
use crate::mapping::time::{self, TimestampStyle};

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// A value as shown in a message: quoted, cut after 40 characters.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{:?}…", &text[..at]),
        None => format!("{text:?}"),
    }
}

const MICROS_PER_DAY: i64 = time::MICROS_PER_DAY_I64;

/// Appends the text form of `wire`, a value of file type `ft`.
pub fn write_value(out: &mut String, ft: &FileType, wire: &[u8]) -> Result<(), DecodeError> {
    match ft {
        FileType::Bool => out.push(if decode::read_bool(wire)? { 't' } else { 'f' }),
        FileType::Int16 => decode::push_int(out, i64::from(decode::read_i16(wire)?)),
        FileType::Int32 => decode::push_int(out, i64::from(decode::read_i32(wire)?)),
        FileType::Int64 => decode::push_int(out, decode::read_i64(wire)?),
        FileType::Float32 => {
            let f = decode::read_f32(wire)?;
            write_float(out, f64::from(f), f);
        }
        FileType::Float64 => {
            let f = decode::read_f64(wire)?;
            write_float(out, f, f);
        }
        FileType::Decimal { .. } | FileType::Numeric => decode::write_numeric(out, wire)?,
        FileType::Text | FileType::Enum | FileType::PgText | FileType::Json => {
            out.push_str(decode::read_text(wire)?)
        }
        FileType::Jsonb => out.push_str(decode::read_jsonb(wire)?),
        FileType::Bytes => {
            out.reserve(2 + 2 * wire.len());
            out.push_str("\\x");
            for b in wire {
                decode::push_hex(out, *b);
            }
        }
        FileType::Uuid => decode::write_uuid(out, wire)?,
        FileType::Date => time::format_date(out, decode::read_i32(wire)?),
        FileType::Timestamp => {
            time::format_timestamp(out, decode::read_i64(wire)?, TimestampStyle::Space)
        }
        FileType::Timestamptz => {
            time::format_timestamp(out, decode::read_i64(wire)?, TimestampStyle::IsoUtc)
        }
        FileType::Time => {
            let micros = decode::read_i64(wire)?;
            if !(0..=MICROS_PER_DAY).contains(&micros) {
                return err(format!("time: {micros} µs is not a time of day"));
            }
            time::format_time_of_day(out, micros);
        }
        FileType::Interval => write_interval(out, wire)?,
        FileType::Vector => decode::write_vector_json(out, wire)?,
        FileType::AsText { of } => write_value(out, of, wire)?,
        FileType::List { element, .. } => array_json::write_array(out, element, wire)?,
    }
    Ok(())
}

/// The binary wire form of `text`, the text form of a value of file type `ft`.
pub fn parse_value(ft: &FileType, text: &str) -> Result<Vec<u8>, DecodeError> {
    Ok(match ft {
        FileType::Bool => match text {
            "t" | "true" => vec![1],
            "f" | "false" => vec![0],
            _ => return err(format!("boolean: expected t or f, got {}", shown(text))),
        },
        FileType::Int16 => parse_int::<i16>(text, "smallint")?.to_be_bytes().to_vec(),
        FileType::Int32 => parse_int::<i32>(text, "integer")?.to_be_bytes().to_vec(),
        FileType::Int64 => parse_int::<i64>(text, "bigint")?.to_be_bytes().to_vec(),
        FileType::Float32 => parse_float::<f32>(text, "real")?.to_be_bytes().to_vec(),
        FileType::Float64 => parse_float::<f64>(text, "double precision")?
            .to_be_bytes()
            .to_vec(),
        FileType::Decimal { .. } | FileType::Numeric => wire::numeric_from_text(text)?,
        FileType::Text | FileType::Enum | FileType::PgText | FileType::Json => {
            text.as_bytes().to_vec()
        }
        FileType::Jsonb => {
            let mut out = Vec::with_capacity(1 + text.len());
            // jsonb's binary form: format version 1, then the text.
            out.push(1);
            out.extend_from_slice(text.as_bytes());
            out
        }
        FileType::Bytes => parse_bytea(text)?,
        FileType::Uuid => parse_uuid(text)?.to_vec(),
        FileType::Date => match time::parse_date(text) {
            Some(d) => d.to_be_bytes().to_vec(),
            None => return err(format!("date: {} is not YYYY-MM-DD", shown(text))),
        },
        FileType::Timestamp => match time::parse_pg_timestamp(text, TimestampStyle::Space) {
            Some(m) => m.to_be_bytes().to_vec(),
            None => {
                return err(format!(
                    "timestamp: {} is not YYYY-MM-DD HH:MM:SS[.ffffff]",
                    shown(text)
                ))
            }
        },
        FileType::Timestamptz => match time::parse_pg_timestamp(text, TimestampStyle::IsoUtc) {
            Some(m) => m.to_be_bytes().to_vec(),
            None => {
                return err(format!(
                    "timestamptz: {} is not YYYY-MM-DDTHH:MM:SS[.ffffff]Z",
                    shown(text)
                ))
            }
        },
        FileType::Time => match time::parse_clock(text) {
            Some(m) => m.to_be_bytes().to_vec(),
            None => return err(format!("time: {} is not HH:MM:SS[.ffffff]", shown(text))),
        },
        FileType::Interval => parse_interval(text)?,
        FileType::Vector => parse_vector(text)?,
        FileType::List {
            element,
            dims,
            element_oid,
        } => array_json::parse_array(text, element, *element_oid, *dims)?,
        FileType::AsText { of } => parse_value(of, text)?,
    })
}

fn parse_int<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, DecodeError> {
    text.parse().map_or_else(
        |_| err(format!("{what}: {} is not an integer", shown(text))),
        Ok,
    )
}

/// A float in the shortest form that reads back as the same value (Rust's
/// `{:?}`, `-0.0` kept), or PostgreSQL's `NaN`, `Infinity`, `-Infinity`.
pub fn write_float(out: &mut String, f: f64, shortest: impl std::fmt::Debug) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{shortest:?}");
    }
}

/// real and double precision, for [`parse_float`].
pub trait Float: std::str::FromStr + Copy {
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn is_finite(self) -> bool;
}

impl Float for f32 {
    const NAN: Self = f32::NAN;
    const INFINITY: Self = f32::INFINITY;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    const NAN: Self = f64::NAN;
    const INFINITY: Self = f64::INFINITY;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// The inverse of [`write_float`]: PostgreSQL's spellings of the special
/// values, else a decimal number (Rust's parser rounds correctly, so the
/// shortest form comes back bit for bit). Rust's own `inf`/`nan` are refused,
/// and so is a number too large for the type (Rust would make it infinite,
/// PostgreSQL refuses it).
pub fn parse_float<T: Float>(text: &str, what: &str) -> Result<T, DecodeError> {
    match text {
        "NaN" => return Ok(T::NAN),
        "Infinity" => return Ok(T::INFINITY),
        "-Infinity" => return Ok(T::NEG_INFINITY),
        _ => {}
    }
    let decimal = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    match text.parse::<T>() {
        Ok(f) if decimal && f.is_finite() => Ok(f),
        Ok(_) if decimal => err(format!("{what}: {} is out of range", shown(text))),
        _ => err(format!("{what}: {} is not a number", shown(text))),
    }
}

/// `\x` and hex digits (either case) to bytes.
fn parse_bytea(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bad = || DecodeError(format!("bytea: {} is not \\x and hex digits", shown(text)));
    let hex = text.strip_prefix("\\x").ok_or_else(bad)?.as_bytes();
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    hex.chunks_exact(2)
        .map(|pair| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// 36 characters, dashes after the 8th, 12th, 16th and 20th hex digit.
fn parse_uuid(text: &str) -> Result<[u8; 16], DecodeError> {
    let bad = || DecodeError(format!("uuid: {} is not a UUID", shown(text)));
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return Err(bad());
    }
    let mut digits = b.iter().filter(|&&c| c != b'-');
    let mut out = [0u8; 16];
    for byte in &mut out {
        let (Some(hi), Some(lo)) = (digits.next(), digits.next()) else {
            return Err(bad());
        };
        *byte = hex_digit(*hi).ok_or_else(bad)? << 4 | hex_digit(*lo).ok_or_else(bad)?;
    }
    Ok(out)
}

/// ISO 8601 with designators, each field signed as stored:
/// `P<months>M<days>DT<seconds>[.ffffff]S` (`P-14M3DT-3723.5S`, `P0M0DT0S`).
/// PostgreSQL reads it back into the same three fields.
fn write_interval(out: &mut String, wire: &[u8]) -> Result<(), DecodeError> {
    let (micros, days, months) = wire::interval_fields(wire)?;
    out.push('P');
    decode::push_int(out, i64::from(months));
    out.push('M');
    decode::push_int(out, i64::from(days));
    out.push_str("DT");
    if micros < 0 {
        out.push('-');
    }
    let abs = micros.unsigned_abs();
    time::push_padded(out, abs / 1_000_000, 1);
    let fraction = abs % 1_000_000;
    if fraction != 0 {
        let mut digits = String::with_capacity(6);
        time::push_padded(&mut digits, fraction, 6);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('S');
    Ok(())
}

/// The inverse of [`write_interval`].
fn parse_interval(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bad = || {
        DecodeError(format!(
            "interval: {} is not P<months>M<days>DT<seconds>S",
            shown(text)
        ))
    };
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    let (months, rest) = rest.split_once('M').ok_or_else(bad)?;
    let (days, rest) = rest.split_once("DT").ok_or_else(bad)?;
    let seconds = rest.strip_suffix('S').ok_or_else(bad)?;
    let months: i32 = months.parse().map_err(|_| bad())?;
    let days: i32 = days.parse().map_err(|_| bad())?;
    let (negative, unsigned) = match seconds.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, seconds),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 6 {
        return Err(bad());
    }
    let whole: i128 = whole.parse().map_err(|_| bad())?;
    // Up to six digits after the point, padded to microseconds.
    let fraction_micros = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0i128, |acc, b| acc * 10 + i128::from(b - b'0'));
    let magnitude = whole * 1_000_000 + fraction_micros;
    let micros = i64::try_from(if negative { -magnitude } else { magnitude })
        .map_err(|_| DecodeError(format!("interval: {} out of range", shown(text))))?;
    Ok(wire::interval(micros, days, months))
}

/// pgvector's binary form from the JSON array [`decode::write_vector_json`]
/// writes: i16 dimensions, i16 unused, big-endian float4s. Parsed by hand, not
/// through serde_json, whose default float parsing is not always exact.
fn parse_vector(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bad = || {
        DecodeError(format!(
            "vector: {} is not a JSON array of numbers",
            shown(text)
        ))
    };
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    let mut floats = Vec::new();
    if !inner.trim().is_empty() {
        for item in inner.split(',') {
            let item = item.trim();
            let item = match item {
                "\"NaN\"" | "\"Infinity\"" | "\"-Infinity\"" => &item[1..item.len() - 1],
                _ => item,
            };
            floats.push(parse_float::<f32>(item, "vector")?);
        }
    }
    let dims = i16::try_from(floats.len())
        .map_err(|_| DecodeError(format!("vector: {} dimensions", floats.len())))?;
    let mut out = Vec::with_capacity(4 + 4 * floats.len());
    out.extend_from_slice(&dims.to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for f in floats {
        out.extend_from_slice(&f.to_be_bytes());
    }
    Ok(out)
}
