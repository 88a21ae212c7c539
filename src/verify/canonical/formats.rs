//! The inverses of the formats a schema map or an existing target chose (hex32
//! uuids, epoch numbers, styled timestamps, ...), each as strict as the
//! default mapping's: a value the format could not have written matches nothing.

use rusqlite::types::ValueRef;

use super::{
    describe, float_canonical, hex, styled_timestamp_to_pg, text, timestamp_to_pg, Json,
    NotCanonical, Parser,
};
use crate::mapping::convert::JULIAN_UNIX_EPOCH;
use crate::mapping::format::{Affinity, Format};
use crate::mapping::time::{
    format_clock, format_date, format_time_on_date, format_timestamp, format_timestamp_text,
    parse_clock, parse_time_on_date, parse_timestamp, pg_time_text, TimestampStyle,
    MICROS_PER_DAY_I64, PG_EPOCH_MICROS_FROM_UNIX,
};
use crate::mapping::types::ValueKind;

/// The inverse of a format a map or an existing target chose.
pub(super) fn formatted_canonical(
    v: ValueRef<'_>,
    kind: &ValueKind,
    format: Format,
    affinity: Affinity,
) -> Result<String, NotCanonical> {
    let integral_reals = matches!(affinity, Affinity::Integer | Affinity::Numeric);
    let what = format.name().unwrap_or("default");
    let not = || NotCanonical(format!("{what}: unexpected {}", describe(&v)));
    match (format, kind, v) {
        (Format::UuidHex32, _, ValueRef::Text(t))
            if t.len() == 32 && t.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(dashed(text(&v, what)?))
        }
        (Format::UuidBlob, _, ValueRef::Blob(b)) if b.len() == 16 => Ok(dashed(&hex(b))),
        (Format::Time(style), ValueKind::Timestamp | ValueKind::Timestamptz, ValueRef::Text(_)) => {
            styled_timestamp_to_pg(
                text(&v, what)?,
                style,
                matches!(kind, ValueKind::Timestamptz),
            )
            .ok_or_else(not)
        }
        (Format::Epoch(unit), ValueKind::Date, ValueRef::Integer(i)) => {
            let per_day = MICROS_PER_DAY_I64 / unit.micros();
            if i.rem_euclid(per_day) != 0 {
                return Err(not());
            }
            pg_date(i.div_euclid(per_day)).ok_or_else(not)
        }
        (
            Format::Epoch(unit),
            ValueKind::Timestamp | ValueKind::Timestamptz,
            ValueRef::Integer(i),
        ) => {
            let pg_micros = i
                .checked_mul(unit.micros())
                .and_then(|m| m.checked_sub(PG_EPOCH_MICROS_FROM_UNIX))
                .filter(|m| *m != i64::MAX && *m != i64::MIN)
                .ok_or_else(not)?;
            let zone = matches!(kind, ValueKind::Timestamptz);
            let mut s = String::new();
            format_timestamp(
                &mut s,
                pg_micros,
                if zone {
                    TimestampStyle::IsoUtc
                } else {
                    TimestampStyle::Space
                },
            );
            timestamp_to_pg(&s, zone).ok_or_else(not)
        }
        (Format::Julian, ValueKind::Date, ValueRef::Real(f)) => {
            let days = f - JULIAN_UNIX_EPOCH;
            if days.fract() != 0.0 || days.abs() > 1e9 {
                return Err(not());
            }
            // Integral and far inside i64 (checked just above).
            #[allow(clippy::cast_possible_truncation)]
            let d = days as i64;
            pg_date(d).ok_or_else(not)
        }
        (Format::BoolText, _, ValueRef::Text(b"true" | b"false")) => Ok(text(&v, what)?.to_owned()),
        (Format::BoolChar, _, ValueRef::Text(b"t")) => Ok("true".to_owned()),
        (Format::BoolChar, _, ValueRef::Text(b"f")) => Ok("false".to_owned()),
        // The new forms are inverted by parsing and writing back: a stored text
        // the format would not have written exactly so matches nothing.
        (Format::Clock(style), ValueKind::Time, ValueRef::Text(_)) => {
            let s = text(&v, what)?;
            let micros = parse_clock(s).ok_or_else(not)?;
            let mut again = String::new();
            format_clock(&mut again, micros, style);
            (again == s).then(|| pg_time_text(micros)).ok_or_else(not)
        }
        // Rails' time: only that time on 2000-01-01, in exactly the form written.
        (Format::Time(style), ValueKind::Time, ValueRef::Text(_)) => {
            let s = text(&v, what)?;
            let micros = parse_time_on_date(s, style).ok_or_else(not)?;
            let mut again = String::new();
            format_time_on_date(&mut again, micros, style);
            (again == s).then(|| pg_time_text(micros)).ok_or_else(not)
        }
        (Format::Duration(_), ValueKind::Interval, ValueRef::Integer(i)) => Ok(i.to_string()),
        (Format::Time(style), ValueKind::Interval, ValueRef::Text(_)) => {
            let s = text(&v, what)?;
            let micros = parse_timestamp(s)
                .filter(|m| *m != i64::MAX && *m != i64::MIN)
                .ok_or_else(not)?;
            let pg = micros
                .checked_sub(PG_EPOCH_MICROS_FROM_UNIX)
                .ok_or_else(not)?;
            let mut again = String::new();
            format_timestamp_text(&mut again, pg, style);
            (again == s).then(|| micros.to_string()).ok_or_else(not)
        }
        (Format::NumericText, _, ValueRef::Text(_)) => Ok(text(&v, what)?.to_owned()),
        (Format::NumericInteger, _, ValueRef::Integer(i)) => Ok(i.to_string()),
        (Format::NumericReal, _, ValueRef::Real(f)) => float_canonical(f, false),
        (Format::NumericReal, _, ValueRef::Integer(i)) if integral_reals => {
            float_canonical(int_as_f64(i), false)
        }
        (Format::NumericReal, _, ValueRef::Text(b"NaN")) => Ok("NaN".to_owned()),
        (Format::VectorJson, _, ValueRef::Text(_)) => {
            vector_json_to_send_hex(text(&v, what)?).ok_or_else(not)
        }
        _ => Err(not()),
    }
}

/// A vector's JSON array back to `encode(vector_send(v), 'hex')`: the dimension
/// count, two unused bytes, the big-endian float4s.
pub(super) fn vector_json_to_send_hex(json: &str) -> Option<String> {
    let mut p = Parser::new(json);
    let Json::Array(items) = p.value()? else {
        return None;
    };
    if !p.at_end() {
        return None;
    }
    let dim = u16::try_from(items.len()).ok()?;
    let mut send = Vec::with_capacity(4 + 4 * items.len());
    send.extend_from_slice(&dim.to_be_bytes());
    send.extend_from_slice(&[0, 0]);
    for item in &items {
        let Json::Number(n) = item else { return None };
        send.extend_from_slice(&n.parse::<f32>().ok()?.to_be_bytes());
    }
    Some(hex(&send))
}

/// An integer SQLite stored for an integral double: exact, since it came from one.
pub(super) fn int_as_f64(i: i64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let f = i as f64;
    f
}

/// PostgreSQL's text of the date `unix_days` after 1970-01-01, when it has one.
fn pg_date(unix_days: i64) -> Option<String> {
    let pg_days = i32::try_from(unix_days.checked_sub(10_957)?).ok()?;
    if pg_days == i32::MAX || pg_days == i32::MIN {
        return None;
    }
    let mut s = String::new();
    format_date(&mut s, pg_days);
    Some(s)
}

/// 32 hex digits as PostgreSQL prints a uuid: 8-4-4-4-12.
fn dashed(h: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
