//! The canonical form both sides are checksummed in: PostgreSQL's own text
//! output of each value (session settings fixed by `source::snapshot`), after
//! the accepted changes of the mapping (-0.0 → 0).
//!
//! PostgreSQL computes it with a SQL expression on the server; for SQLite we
//! invert the mapping strictly: a stored value that is not exactly what the
//! mapping writes has no canonical form and can never match.

use rusqlite::types::ValueRef;

use crate::mapping::decode::{push_hex, push_int};
use crate::mapping::format::{interval_micros_sql, Affinity, Format, FractionStyle, TimeText};
use crate::mapping::types::ValueKind;

mod arrays;
mod formats;
use crate::source::catalog::quote_ident;
pub(crate) use arrays::push_array_element;
use arrays::{json_array_to_pg, Json, Parser};
#[cfg(test)]
use formats::vector_json_to_send_hex;
use formats::{formatted_canonical, int_as_f64};

/// The SQL expression giving the canonical text of column `name` in PostgreSQL
/// (NULL stays NULL).
/// `selected` is the column's expression in the COPY query (which, for text
/// forms, calls the type's output function). `affinity` is the SQLite column's.
pub fn pg_expression(
    name: &str,
    selected: &str,
    kind: &ValueKind,
    format: Format,
    affinity: Affinity,
) -> String {
    let c = quote_ident(name);
    match (format, kind) {
        (Format::Default | Format::VectorJson, _) => {}
        // An interval stored as a length or a datetime compares as its length in
        // microseconds, truncated to what the format keeps.
        (Format::Duration(unit), ValueKind::Interval) => {
            let total = interval_micros_sql(&c);
            return format!("floor({total} / {})::int8::text", unit.micros());
        }
        (Format::Time(t), ValueKind::Interval) => {
            let total = interval_micros_sql(&c);
            return match t.fraction {
                FractionStyle::Millis => format!("(floor({total} / 1000) * 1000)::int8::text"),
                _ => format!("{total}::int8::text"),
            };
        }
        (Format::Clock(FractionStyle::Millis), _)
        | (
            Format::Time(TimeText {
                fraction: FractionStyle::Millis,
                ..
            }),
            ValueKind::Time,
        ) => {
            return format!(
                "({c} - (extract(microseconds from {c})::int8 % 1000) \
                 * interval '1 microsecond')::text"
            )
        }
        // What an allowed lossy format stores is what PostgreSQL's own value
        // becomes after the same change: truncated, rounded, made a double.
        (Format::Epoch(unit), ValueKind::Timestamp | ValueKind::Timestamptz) => {
            return match unit.pg_trunc_field() {
                Some(field) => format!("date_trunc('{field}', {c})::text"),
                None => format!("{c}::text"),
            }
        }
        (Format::Time(t), _) if t.fraction == FractionStyle::Millis => {
            return format!("date_trunc('milliseconds', {c})::text")
        }
        (Format::NumericInteger, _) => return format!("round({c})::text"),
        (Format::NumericReal, _) => {
            return format!(
                "CASE WHEN {c} = 'NaN' THEN 'NaN' WHEN {c} = 0 THEN '0' \
                 ELSE encode(float8send({c}::float8), 'hex') END"
            )
        }
        _ => return format!("{c}::text"),
    }
    match kind {
        // Floats compare by their bits: text would depend on how a tie between two
        // shortest decimals is broken, which differs between PostgreSQL and Rust.
        // -0.0 is stored as 0.0 (and counted in the ledger): both become '0'.
        ValueKind::Float4 | ValueKind::Float8 => {
            let send = float_send(kind);
            format!(
                "CASE WHEN {c} = 'NaN' THEN 'NaN' WHEN {c} = 0 THEN '0' \
                 ELSE encode({send}({c}), 'hex') END"
            )
        }
        // Float arrays likewise, by the array's binary form: the dimensions, then
        // each element's length and bits. Slicing sets every lower bound to 1
        // (they are not stored); the null-bitmap flag (a slice keeps it even
        // without NULLs) and the element type are zeroed. One call per row: the
        // per-element subqueries this replaced cost six times a text column.
        ValueKind::Array(element) if matches!(**element, ValueKind::Float4 | ValueKind::Float8) => {
            format!(
                "CASE WHEN {c} IS NOT NULL THEN encode(overlay(array_send(\
                 CASE WHEN cardinality({c}) = 0 THEN {c} \
                 ELSE {c}[array_lower({c}, 1):array_upper({c}, 1)] END) \
                 placing '\\x0000000000000000'::bytea from 5 for 8), 'hex') END"
            )
        }
        ValueKind::Numeric if affinity.converts_text() => {
            // SQLite's NUMERIC affinity keeps the value, not the scale.
            // trim_scale keeps NaN and the infinities (PostgreSQL 14, which
            // verification needs anyway).
            format!("trim_scale({c})::text")
        }
        // The value is its text: a cast to text is a relabel (text, varchar), a
        // copy (name) or the label (enum). concat() of each row cost as much
        // again as the rest of the column's checksum (0.36 s per million rows).
        ValueKind::Text => format!("{c}::text"),
        // char(n)::text drops the padding; its output function keeps it (called
        // directly: concat() looks the function up for every value).
        ValueKind::PaddedText => format!("textin(bpcharout({c}))"),
        ValueKind::Bytea => format!("encode({c}, 'hex')"),
        ValueKind::Vector => format!("encode(vector_send({c}), 'hex')"),
        // A json or jsonb array compares as the JSON the mapping writes:
        // `array_to_json` nests its dimensions, drops its lower bounds and
        // spells a SQL NULL element as JSON null (counted as a loss), each
        // element its own JSON text. So a one-dimensional array of JSON
        // arrays and a two-dimensional array, both `[[1,2]]`, compare alike
        // (as PostgreSQL's array text they did not, and no sync of the first
        // could verify).
        ValueKind::Array(element) if matches!(**element, ValueKind::Json | ValueKind::Jsonb) => {
            format!("array_to_json({c})::text")
        }
        // Arrays have no lower bounds in JSON: compare without them. Only
        // bounds other than 1 print a `[l:u]=` prefix; the common
        // one-dimensional array from 1 skips the regular expression (a third
        // of this column's server time).
        ValueKind::Array(_) => format!(
            "CASE WHEN array_ndims({c}) = 1 AND array_lower({c}, 1) = 1 THEN {c}::text \
             ELSE regexp_replace({c}::text, '^(\\[[^]]*\\])+=', '') END"
        ),
        ValueKind::TextForm | ValueKind::Time | ValueKind::Interval => selected.to_owned(),
        _ => format!("{c}::text"),
    }
}

/// The function giving a float's IEEE bits in PostgreSQL.
fn float_send(kind: &ValueKind) -> &'static str {
    if matches!(kind, ValueKind::Float4) {
        "float4send"
    } else {
        "float8send"
    }
}

/// Why a SQLite value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCanonical(pub String);

fn bad<T>(what: &str, v: &ValueRef<'_>) -> Result<T, NotCanonical> {
    Err(NotCanonical(format!("{what}: unexpected {}", describe(v))))
}

fn describe(v: &ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("integer {i}"),
        ValueRef::Real(f) => format!("real {f}"),
        ValueRef::Text(t) => format!("text {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob of {} bytes", b.len()),
    }
}

fn text<'a>(v: &ValueRef<'a>, what: &str) -> Result<&'a str, NotCanonical> {
    match v {
        ValueRef::Text(t) => {
            std::str::from_utf8(t).map_err(|_| NotCanonical(format!("{what}: text is not UTF-8")))
        }
        _ => bad(what, v),
    }
}

/// Whether the default mapping's stored text of this kind is its canonical
/// text as it is (text, JSON, dates, the text forms).
pub fn stored_text_is_canonical(kind: &ValueKind) -> bool {
    matches!(
        kind,
        ValueKind::Text
            | ValueKind::PaddedText
            | ValueKind::TextForm
            | ValueKind::Time
            | ValueKind::Interval
            | ValueKind::Json
            | ValueKind::Jsonb
            | ValueKind::Date
    )
}

/// Appends the canonical text of a SQLite value to `out`; false for NULL.
/// Allocation-free for the common kinds: this runs once per value of a table.
pub fn write_canonical(
    out: &mut String,
    v: ValueRef<'_>,
    kind: &ValueKind,
    format: Format,
    affinity: Affinity,
) -> Result<bool, NotCanonical> {
    // A timestamp in the default mapping's text, or in a style an app's
    // schema or a map chose, without allocating; one that does not parse goes
    // the general way below, which says what is wrong with it.
    if let (ValueKind::Timestamp | ValueKind::Timestamptz, ValueRef::Text(t)) = (kind, v) {
        let zone = matches!(kind, ValueKind::Timestamptz);
        let style = match format {
            Format::Default => Some(default_timestamp_style(zone)),
            Format::Time(style) => Some(style),
            _ => None,
        };
        if style.is_some_and(|style| {
            std::str::from_utf8(t).is_ok_and(|s| write_styled_timestamp(out, s, style, zone))
        }) {
            return Ok(true);
        }
    }
    match (kind, v) {
        (_, ValueRef::Null) => Ok(false),
        _ if format != Format::Default => match sqlite_canonical(v, kind, format, affinity)? {
            Some(s) => {
                out.push_str(&s);
                Ok(true)
            }
            None => Ok(false),
        },
        (kind, ValueRef::Text(_)) if stored_text_is_canonical(kind) => {
            out.push_str(text(&v, "text")?);
            Ok(true)
        }
        (ValueKind::Uuid, ValueRef::Text(_)) => {
            out.push_str(uuid_text(&v)?);
            Ok(true)
        }
        (ValueKind::Numeric, ValueRef::Real(f)) if affinity.converts_text() && f.is_finite() => {
            use std::fmt::Write;
            let _ = write!(out, "{f}");
            Ok(true)
        }
        (ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8, ValueRef::Integer(i)) => {
            push_int(out, i);
            Ok(true)
        }
        _ => match sqlite_canonical(v, kind, format, affinity)? {
            Some(s) => {
                out.push_str(&s);
                Ok(true)
            }
            None => Ok(false),
        },
    }
}

/// The canonical text of a SQLite value (None for NULL).
pub fn sqlite_canonical(
    v: ValueRef<'_>,
    kind: &ValueKind,
    format: Format,
    affinity: Affinity,
) -> Result<Option<String>, NotCanonical> {
    if let ValueRef::Null = v {
        return Ok(None);
    }
    if format != Format::Default {
        return formatted_canonical(v, kind, format, affinity).map(Some);
    }
    // Integer and numeric affinities store integral doubles as integers.
    let integral_reals = matches!(affinity, Affinity::Integer | Affinity::Numeric);
    let s = match kind {
        ValueKind::Bool => match v {
            ValueRef::Integer(1) => "true".to_owned(),
            ValueRef::Integer(0) => "false".to_owned(),
            _ => return bad("boolean", &v),
        },
        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => match v {
            ValueRef::Integer(i) => i.to_string(),
            _ => return bad("integer", &v),
        },
        ValueKind::Float4 | ValueKind::Float8 => {
            let single = matches!(kind, ValueKind::Float4);
            match v {
                ValueRef::Real(f) => float_canonical(f, single)?,
                // A REAL column hands back integral values as REAL; an INTEGER there
                // means someone stored one directly.
                ValueRef::Integer(i) if integral_reals => float_canonical(int_as_f64(i), single)?,
                ValueRef::Integer(_) => return bad("float", &v),
                ValueRef::Text(b"NaN") => "NaN".to_owned(),
                _ => return bad("float", &v),
            }
        }
        ValueKind::Numeric => match (v, affinity.converts_text()) {
            (ValueRef::Text(_), _) => text(&v, "numeric")?.to_owned(),
            (ValueRef::Integer(i), true) => i.to_string(),
            (ValueRef::Real(f), true) if f.is_infinite() => {
                if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
            }
            (ValueRef::Real(f), true) => format!("{f}"),
            _ => return bad("numeric", &v),
        },
        // An app's JSON column (declared JSON: NUMERIC affinity) turns a bare JSON
        // number into a number; it matches when it prints as PostgreSQL's text did.
        ValueKind::Json | ValueKind::Jsonb if integral_reals => match v {
            ValueRef::Integer(i) => i.to_string(),
            ValueRef::Real(f) if f.is_finite() => format!("{f:?}"),
            _ => text(&v, "json")?.to_owned(),
        },
        ValueKind::Text
        | ValueKind::PaddedText
        | ValueKind::TextForm
        | ValueKind::Time
        | ValueKind::Interval
        | ValueKind::Json
        | ValueKind::Jsonb
        | ValueKind::Date => text(&v, "text")?.to_owned(),
        ValueKind::Uuid => uuid_text(&v)?.to_owned(),
        ValueKind::Timestamp => timestamp_to_pg(text(&v, "timestamp")?, false)
            .ok_or_else(|| NotCanonical(format!("timestamp: unexpected {}", describe(&v))))?,
        ValueKind::Timestamptz => timestamp_to_pg(text(&v, "timestamptz")?, true)
            .ok_or_else(|| NotCanonical(format!("timestamptz: unexpected {}", describe(&v))))?,
        ValueKind::Bytea => match v {
            ValueRef::Blob(b) => hex(b),
            _ => return bad("bytea", &v),
        },
        ValueKind::Vector => match v {
            ValueRef::Blob(b) if b.len() % 4 == 0 => {
                let dim = u16::try_from(b.len() / 4)
                    .map_err(|_| NotCanonical("vector too long".into()))?;
                let mut send = Vec::with_capacity(4 + b.len());
                send.extend_from_slice(&dim.to_be_bytes());
                send.extend_from_slice(&[0, 0]);
                for c in b.chunks_exact(4) {
                    send.extend(c.iter().rev());
                }
                hex(&send)
            }
            _ => return bad("vector", &v),
        },
        // A JSON array's canonical form is its JSON text (`array_to_json` on
        // the server), which is what the mapping writes.
        ValueKind::Array(element) if matches!(**element, ValueKind::Json | ValueKind::Jsonb) => {
            text(&v, "array")?.to_owned()
        }
        ValueKind::Array(element) => {
            let json = text(&v, "array")?;
            json_array_to_pg(json, element).ok_or_else(|| {
                NotCanonical(format!("array: not the JSON the mapping writes: {json:?}"))
            })?
        }
    };
    Ok(Some(s))
}

/// A uuid as the mapping writes it: 36 characters, lowercase, dashed. Any other
/// spelling (upper case, no dashes) is some other program's representation.
fn uuid_text<'a>(v: &ValueRef<'a>) -> Result<&'a str, NotCanonical> {
    let t = text(v, "uuid")?;
    let b = t.as_bytes();
    let ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        });
    if ok {
        Ok(t)
    } else {
        bad("uuid", v)
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        push_hex(&mut s, *x);
    }
    s
}

fn float_canonical(f: f64, single: bool) -> Result<String, NotCanonical> {
    if f == 0.0 {
        return Ok("0".into());
    }
    if f.is_nan() {
        return Ok("NaN".into());
    }
    float_bits(f, single).ok_or_else(|| NotCanonical(format!("float4: {f} is not a float4 value")))
}

/// The big-endian bits of a float, as PostgreSQL's `encode(float8send(x), 'hex')`
/// (or `float4send` for `single`, when `f` holds a float4 exactly).
fn float_bits(f: f64, single: bool) -> Option<String> {
    float_bytes(f, single).map(|b| hex(&b))
}

/// The bytes `float4send` / `float8send` give for the value.
fn float_bytes(f: f64, single: bool) -> Option<Vec<u8>> {
    if single {
        // The REAL holds a float4 exactly; anything else was not written by us.
        #[allow(clippy::cast_possible_truncation)]
        let g = f as f32;
        if f64::from(g) != f && !f.is_nan() {
            return None;
        }
        Some(g.to_bits().to_be_bytes().to_vec())
    } else {
        Some(f.to_bits().to_be_bytes().to_vec())
    }
}

/// Our timestamp text back to PostgreSQL's ISO output: `T` → space, fraction
/// without trailing zeros, `Z` → `+00`. Strict: anything else is None.
fn timestamp_to_pg(s: &str, with_zone: bool) -> Option<String> {
    styled_timestamp_to_pg(s, default_timestamp_style(with_zone), with_zone)
}

/// The style the default mapping writes a timestamp (`with_zone`: a
/// timestamptz) in.
fn default_timestamp_style(with_zone: bool) -> TimeText {
    if with_zone {
        TimeText::ISO_UTC
    } else {
        TimeText::SPACE
    }
}

/// A timestamp written in `style` back to PostgreSQL's ISO output; `pg_zone`
/// for timestamptz, whose output ends in `+00` (the session is in UTC).
fn styled_timestamp_to_pg(s: &str, style: TimeText, pg_zone: bool) -> Option<String> {
    let mut out = String::new();
    write_styled_timestamp(&mut out, s, style, pg_zone).then_some(out)
}

/// [`styled_timestamp_to_pg`] appending to `out`, without allocating: this
/// runs for every timestamp verification reads. `YYYY-MM-DD<sep>HH:MM:SS`, a
/// year of four or more digits, then the fraction the style writes, the
/// zone's suffix and ` BC` for years before 1; checked byte by byte (the
/// searches of a split cost as much as the rest of the row's canonical form).
fn write_styled_timestamp(out: &mut String, s: &str, style: TimeText, pg_zone: bool) -> bool {
    if s == "infinity" || s == "-infinity" {
        out.push_str(s);
        return true;
    }
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, " BC"),
        None => (s, ""),
    };
    let Some(body) = body.strip_suffix(style.zone.text()) else {
        return false;
    };
    let b = body.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    // The year's digits, then `-MM-DD`, the separator and `HH:MM:SS`.
    let year = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let sep = if style.t_separator { b'T' } else { b' ' };
    let t = year + 6; // where the separator is
    let shape_ok = year >= 4
        && b.get(year) == Some(&b'-')
        && digits(year + 1..year + 3)
        && b.get(year + 3) == Some(&b'-')
        && digits(year + 4..year + 6)
        && b.get(t) == Some(&sep)
        && digits(t + 1..t + 3)
        && b.get(t + 3) == Some(&b':')
        && digits(t + 4..t + 6)
        && b.get(t + 6) == Some(&b':')
        && digits(t + 7..t + 9);
    if !shape_ok {
        return false;
    }
    let end = t + 9;
    // Everything checked so far is ASCII, so these are character boundaries.
    let (date, hms, rest) = (&body[..t], &body[t + 1..end], &body[end..]);
    let fraction = rest.strip_prefix('.');
    let all_digits = |f: &str, n: usize| f.len() == n && f.bytes().all(|d| d.is_ascii_digit());
    let frac = match (fraction, style.fraction) {
        (Some(f), FractionStyle::Micros) if all_digits(f, 6) && f != "000000" => {
            f.trim_end_matches('0')
        }
        (Some(f), FractionStyle::MicrosAlways) if all_digits(f, 6) => f.trim_end_matches('0'),
        (Some(f), FractionStyle::Millis) if all_digits(f, 3) => f.trim_end_matches('0'),
        (None, FractionStyle::Micros) if rest.is_empty() => "",
        _ => return false,
    };
    out.push_str(date);
    out.push(' ');
    out.push_str(hms);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if pg_zone {
        out.push_str("+00");
    }
    out.push_str(bc);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_compare_by_bits() {
        // Expected values printed by PostgreSQL: encode(float8send(-355.953125), 'hex').
        // -355.953125 is a tie between two shortest decimals, the case text got wrong.
        assert_eq!(
            float_canonical(-355.953_125, false).unwrap(),
            "c0763f4000000000"
        );
        assert_eq!(float_canonical(-355.953_125, true).unwrap(), "c3b1fa00");
        assert_eq!(float_canonical(-0.0, false).unwrap(), "0");
        assert!(
            float_canonical(0.1, true).is_err(),
            "0.1 as a double is no float4"
        );
        // Expected values printed by PostgreSQL for pg_expression's array form, on
        // '[0:1][3:4]={{1.5,NULL},{NaN,-0}}'::float8[], '{}'::float4[] and
        // '{1.5,-355.953125}'::float4[] (lower bounds are not stored).
        assert_eq!(
            json_array_to_pg(r#"[[1.5,null],["NaN",-0.0]]"#, &ValueKind::Float8).as_deref(),
            Some(
                "00000002000000000000000000000002000000010000000200000001\
                 000000083ff8000000000000ffffffff000000087ff8000000000000\
                 000000088000000000000000"
            )
        );
        assert_eq!(
            json_array_to_pg("[]", &ValueKind::Float4).as_deref(),
            Some("000000000000000000000000")
        );
        assert_eq!(
            json_array_to_pg("[1.5,-355.953125]", &ValueKind::Float4).as_deref(),
            Some("0000000100000000000000000000000200000001000000043fc0000000000004c3b1fa00")
        );
    }

    #[test]
    fn timestamps_back_to_postgres_text() {
        assert_eq!(
            timestamp_to_pg("2024-06-01T10:00:00.500000Z", true).as_deref(),
            Some("2024-06-01 10:00:00.5+00")
        );
        assert_eq!(
            timestamp_to_pg("0001-12-31T00:00:00Z BC", true).as_deref(),
            Some("0001-12-31 00:00:00+00 BC")
        );
        assert_eq!(
            timestamp_to_pg("2024-02-29 23:59:59.123456", false).as_deref(),
            Some("2024-02-29 23:59:59.123456")
        );
        // not what the mapping writes
        assert_eq!(timestamp_to_pg("2024-06-01 10:00:00Z", true), None);
        assert_eq!(timestamp_to_pg("2024-06-01T10:00:00.5Z", true), None);
        assert_eq!(timestamp_to_pg("2024-06-01 10:00:00.000000", false), None);
    }

    #[test]
    fn styled_timestamps_are_read_strictly() {
        let iso_utc = TimeText::ISO_UTC;
        let ms = TimeText {
            fraction: FractionStyle::Millis,
            ..TimeText::SPACE
        };
        let always = TimeText {
            fraction: FractionStyle::MicrosAlways,
            ..TimeText::SPACE
        };
        let ok = |s: &str, style: TimeText, zone: bool| styled_timestamp_to_pg(s, style, zone);
        assert_eq!(
            ok("12024-06-01T10:00:00Z", iso_utc, true).as_deref(),
            Some("12024-06-01 10:00:00+00")
        );
        assert_eq!(
            ok("2024-06-01 10:00:00.120", ms, false).as_deref(),
            Some("2024-06-01 10:00:00.12")
        );
        assert_eq!(
            ok("2024-06-01 10:00:00.000", ms, false).as_deref(),
            Some("2024-06-01 10:00:00")
        );
        assert_eq!(
            ok("2024-06-01 10:00:00.000000", always, false).as_deref(),
            Some("2024-06-01 10:00:00")
        );
        assert_eq!(ok("infinity", ms, false).as_deref(), Some("infinity"));
        // Anything the style could not have written has no canonical form.
        for bad in [
            "2024-06-01T10:00:00Zx",
            "2024-06-01T10:00:00",
            "2024-06-01 10:00:00Z",
            "2024-06-01T10:00Z",
            "2024-06-01T10:00:00.Z",
            "2024-06-01T10:00:00.1234567Z",
            "2024-06-01T10:00:00.000000Z",
            "2024-06-01T10:00:00.12345aZ",
            "2024-06-01T10:00:00.5.0000Z",
            "202-06-01T10:00:00Z",
            "2024-6-01T10:00:00Z",
            "2024-06-1T10:00:00Z",
            "2024-06-01T1:00:00Z",
            "2024-06-01T10-00-00Z",
            "2024/06/01T10:00:00Z",
            "-2024-06-01T10:00:00Z",
            "2024-06-01T10:00:0\u{663}Z",
            "2024-06-01T10:00:00Z BC BC",
            "",
            "Z",
        ] {
            assert_eq!(ok(bad, iso_utc, true), None, "{bad}");
        }
        assert_eq!(ok("2024-06-01 10:00:00", always, false), None);
        assert_eq!(ok("2024-06-01 10:00:00.12", ms, false), None);
        assert_eq!(ok("2024-06-01 10:00:00.1200", ms, false), None);
    }

    #[test]
    fn arrays_back_to_postgres_text() {
        // Expected values printed by PostgreSQL 15.
        let t = |j: &str, k: ValueKind| json_array_to_pg(j, &k);
        assert_eq!(
            t(
                r#"["a b","",null,"NULL","x\"y","q\\z","{"," "]"#,
                ValueKind::Text
            )
            .as_deref(),
            Some(r#"{"a b","",NULL,"NULL","x\"y","q\\z","{"," "}"#)
        );
        assert_eq!(
            t(r#"["2024-01-01T00:00:00Z",null]"#, ValueKind::Timestamptz).as_deref(),
            Some(r#"{"2024-01-01 00:00:00+00",NULL}"#)
        );
        assert_eq!(t("[true,false]", ValueKind::Bool).as_deref(), Some("{t,f}"));
        assert_eq!(
            t("[[1,2],[3,4]]", ValueKind::Int4).as_deref(),
            Some("{{1,2},{3,4}}")
        );
        assert_eq!(
            t(r#"[1.5,"NaN"]"#, ValueKind::Numeric).as_deref(),
            Some("{1.5,NaN}")
        );
        assert_eq!(t("[]", ValueKind::Int4).as_deref(), Some("{}"));
        assert_eq!(
            t(r#"["\\x00ff"]"#, ValueKind::Bytea).as_deref(),
            Some(r#"{"\\x00ff"}"#)
        );

        assert_eq!(t("[1,2", ValueKind::Int4), None);
    }

    #[test]
    fn vector_json_round_trips_to_vector_send() {
        // vector_send of '[1.5,0.1]': 2 dimensions, 2 unused bytes, big-endian float4s.
        let mut send = vec![0, 2, 0, 0];
        send.extend_from_slice(&1.5f32.to_be_bytes());
        send.extend_from_slice(&0.1f32.to_be_bytes());
        let mut json = String::new();
        crate::mapping::decode::write_vector_json(&mut json, &send).unwrap();
        assert_eq!(json, "[1.5,0.1]");
        assert_eq!(vector_json_to_send_hex(&json), Some(hex(&send)));
        let v = ValueRef::Text(json.as_bytes());
        let k = ValueKind::Vector;
        assert_eq!(
            sqlite_canonical(v, &k, Format::VectorJson, Affinity::Text).unwrap(),
            Some(hex(&send))
        );
        assert!(sqlite_canonical(
            ValueRef::Text(b"[1.5,\"x\"]"),
            &k,
            Format::VectorJson,
            Affinity::Text
        )
        .is_err());
    }

    #[test]
    fn formats_invert_strictly() {
        let ts = ValueKind::Timestamp;
        let space_always = Format::Time(TimeText {
            fraction: FractionStyle::MicrosAlways,
            ..TimeText::SPACE
        });
        let c = |v: ValueRef<'_>, k: &ValueKind, f: Format| {
            sqlite_canonical(v, k, f, Affinity::Numeric)
        };
        assert_eq!(
            c(
                ValueRef::Text(b"2025-11-13 08:30:00.000000"),
                &ts,
                space_always
            )
            .unwrap(),
            Some("2025-11-13 08:30:00".to_owned())
        );
        assert!(c(ValueRef::Text(b"2025-11-13 08:30:00"), &ts, space_always).is_err());
        let hex32 = Format::UuidHex32;
        assert_eq!(
            c(
                ValueRef::Text(b"a0eebc999c0b4ef8bb6d6bb9bd380a11"),
                &ValueKind::Uuid,
                hex32
            )
            .unwrap(),
            Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".to_owned())
        );
        // upper case is not what the format writes
        assert!(c(
            ValueRef::Text(b"A0EEBC999C0B4EF8BB6D6BB9BD380A11"),
            &ValueKind::Uuid,
            hex32
        )
        .is_err());
        let ms = Format::Epoch(crate::mapping::format::EpochUnit::Millis);
        assert_eq!(
            c(ValueRef::Integer(-1), &ts, ms).unwrap(),
            Some("1969-12-31 23:59:59.999".to_owned())
        );
        assert_eq!(
            c(
                ValueRef::Integer(1_763_022_600_123),
                &ValueKind::Timestamptz,
                ms
            )
            .unwrap(),
            Some("2025-11-13 08:30:00.123+00".to_owned())
        );
        // a date stored as epoch milliseconds must be a midnight
        assert!(c(ValueRef::Integer(1), &ValueKind::Date, ms).is_err());
        assert_eq!(
            c(
                ValueRef::Real(2_460_992.5),
                &ValueKind::Date,
                Format::Julian
            )
            .unwrap(),
            Some("2025-11-13".to_owned())
        );
    }

    #[test]
    fn orm_formats_invert_strictly() {
        let c = |v: ValueRef<'_>, k: &ValueKind, f: Format| {
            sqlite_canonical(v, k, f, Affinity::Numeric)
        };
        let t = |s: &'static str| ValueRef::Text(s.as_bytes());
        // Django's time: six digits only when not zero; PostgreSQL's text back.
        let django = Format::Clock(FractionStyle::Micros);
        let time = ValueKind::Time;
        assert_eq!(
            c(t("12:30:15.500000"), &time, django).unwrap().as_deref(),
            Some("12:30:15.5")
        );
        assert_eq!(
            c(t("06:30:00"), &time, django).unwrap().as_deref(),
            Some("06:30:00")
        );
        assert!(c(t("06:30:00.000000"), &time, django).is_err());
        assert!(c(t("12:30:15.5"), &time, django).is_err());
        let always = Format::Clock(FractionStyle::MicrosAlways);
        assert!(c(t("06:30:00"), &time, always).is_err());
        // Rails' time: that time on 2000-01-01, six digits only when not zero.
        let rails = Format::Time(TimeText::SPACE);
        for (stored, pg) in [
            ("2000-01-01 12:30:15.500000", "12:30:15.5"),
            ("2000-01-01 00:00:00", "00:00:00"),
            ("2000-01-01 23:59:59.999999", "23:59:59.999999"),
            ("2000-01-01 24:00:00", "24:00:00"),
        ] {
            assert_eq!(
                c(t(stored), &time, rails).unwrap().as_deref(),
                Some(pg),
                "{stored}"
            );
        }
        for not_as_mapped in [
            "12:30:15",
            "2000-01-02 12:30:15",
            "1999-12-31 12:30:15",
            "2000-01-01T12:30:15",
            "2000-01-01 12:30:15Z",
            "2000-01-01 12:30:15.5",
            "2000-01-01 12:30:15.000000",
            "2000-01-01 12:30",
            "2000-01-01 25:00:00",
            " 2000-01-01 12:30:15",
        ] {
            assert!(
                c(t(not_as_mapped), &time, rails).is_err(),
                "{not_as_mapped}"
            );
        }
        assert!(c(ValueRef::Integer(45_015), &time, rails).is_err());
        let rails_ms = Format::Time(TimeText {
            fraction: FractionStyle::Millis,
            ..TimeText::SPACE
        });
        assert_eq!(
            c(t("2000-01-01 12:30:15.500"), &time, rails_ms)
                .unwrap()
                .as_deref(),
            Some("12:30:15.5")
        );
        assert!(
            pg_expression("t", "\"t\"::text", &time, rails_ms, Affinity::Numeric)
                .contains("interval '1 microsecond'")
        );
        assert_eq!(
            pg_expression("t", "\"t\"::text", &time, rails, Affinity::Numeric),
            "\"t\"::text"
        );
        // Intervals compare as their length in microseconds.        // Intervals compare as their length in microseconds.
        let interval = ValueKind::Interval;
        let micros = Format::Duration(crate::mapping::format::EpochUnit::Micros);
        assert_eq!(
            c(ValueRef::Integer(90_123_500_000), &interval, micros)
                .unwrap()
                .as_deref(),
            Some("90123500000")
        );
        assert!(c(t("90123500000"), &interval, micros).is_err());
        let sqla = Format::Time(TimeText {
            fraction: FractionStyle::MicrosAlways,
            ..TimeText::SPACE
        });
        assert_eq!(
            c(t("1970-01-02 01:02:03.500000"), &interval, sqla)
                .unwrap()
                .as_deref(),
            Some("90123500000")
        );
        assert_eq!(
            c(t("1969-12-31 00:00:05.000000"), &interval, sqla)
                .unwrap()
                .as_deref(),
            Some("-86395000000")
        );
        assert!(c(t("1970-01-02 01:02:03.5"), &interval, sqla).is_err());
        // Rails' booleans.
        let tf = Format::BoolChar;
        assert_eq!(
            c(t("t"), &ValueKind::Bool, tf).unwrap().as_deref(),
            Some("true")
        );
        assert!(c(t("true"), &ValueKind::Bool, tf).is_err());
        assert!(c(ValueRef::Integer(1), &ValueKind::Bool, tf).is_err());
    }

    #[test]
    fn strict_inverse() {
        let k = ValueKind::Bool;
        assert_eq!(
            sqlite_canonical(ValueRef::Integer(1), &k, Format::Default, Affinity::Integer)
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert!(
            sqlite_canonical(ValueRef::Integer(2), &k, Format::Default, Affinity::Integer).is_err()
        );
        assert!(
            sqlite_canonical(ValueRef::Text(b"1"), &k, Format::Default, Affinity::Integer).is_err()
        );
        let n = ValueKind::Numeric;
        assert_eq!(
            sqlite_canonical(
                ValueRef::Real(12_345_678.9),
                &n,
                Format::Default,
                Affinity::Numeric
            )
            .unwrap()
            .as_deref(),
            Some("12345678.9")
        );
        assert_eq!(
            sqlite_canonical(
                ValueRef::Real(-0.01),
                &n,
                Format::Default,
                Affinity::Numeric
            )
            .unwrap()
            .as_deref(),
            Some("-0.01")
        );
        assert!(
            sqlite_canonical(ValueRef::Real(1.5), &n, Format::Default, Affinity::Text).is_err()
        );
        let f = ValueKind::Float8;
        assert_eq!(
            sqlite_canonical(ValueRef::Text(b"NaN"), &f, Format::Default, Affinity::Real)
                .unwrap()
                .as_deref(),
            Some("NaN")
        );
        assert_eq!(
            sqlite_canonical(ValueRef::Real(-0.0), &f, Format::Default, Affinity::Real)
                .unwrap()
                .as_deref(),
            Some("0")
        );
    }
}
