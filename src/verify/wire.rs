//! PostgreSQL's half of a sync's first look, taken from the rows the COPY
//! already sends instead of a second scan on the server.
//!
//! The server's checksum query cost as much CPU as the COPY itself (session
//! 11: 3.5 s for the 1M-row wide table, on the same two cores as the copy).
//! Every value it hashes also arrives in the COPY, in the type's binary send
//! form, so this module computes the same row hash — `hash_record_extended`
//! over each column's field (`verify::fields`), then `fields::mix_row` — from
//! those bytes, beside the copy and off the server.
//!
//! What keeps it a verification: the bytes are hashed as PostgreSQL sent them,
//! walked here on their own (not through the batch's value index), and the
//! canonical texts that need printing (dates, timestamps, numerics, arrays)
//! are printed by verification's own code (this module, and `array_out`'s
//! quoting, which the read-back shares), never by the converters that wrote
//! SQLite (`mapping::decode`): the numeric printer here is a second one on
//! purpose. A bug in locating, decoding, converting or writing a
//! value changes what SQLite holds and not this hash, so the read-back still
//! differs. A part whose hashes disagree with the read-back is checksummed on
//! the server before anything is reported (`verify::recheck_on_server`), so a
//! mistake here costs time, never a false verdict.
//!
//! Only columns whose canonical form is exactly known from the binary value
//! are taken: the default mapping of the common types. A table with any other
//! column (a map's format, float arrays, vectors, arrays of text forms or
//! JSON) is checksummed on the server as before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::canonical::push_array_element;
use super::checksum::{pg_hash_bytes, pg_hash_u32};
use super::fields::{self, fold, Field};
use super::TableCheck;
use crate::mapping::format::{Affinity, Format};
use crate::mapping::types::ValueKind;
use crate::source::copy::RawBatch;

/// How one column's binary value becomes its field hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireField {
    /// `int2`: hashed as an `int4` word.
    Int2,
    Int4,
    /// `int8`, hashed by its 8 bytes (`int8send`).
    Int8,
    Bool,
    /// `float4`: its canonical text (`NaN`, `0`, or the hex of its bits).
    Float4,
    Float8,
    /// bytea and uuid: the bytes as they arrive.
    Bytes {
        len: Option<usize>,
    },
    /// Text sent as text: text, varchar, name, enum labels, char(n), json,
    /// and the text forms the COPY query asks for.
    Text,
    /// `jsonb`: a version byte (1), then its text.
    Jsonb,
    Date,
    Timestamp {
        zone: bool,
    },
    /// `numeric`; `trim`: as `trim_scale(…)::text` (a NUMERIC-affinity column).
    Numeric {
        trim: bool,
    },
    Array(Element),
    /// An array of floats: the hex of its binary form with every lower bound
    /// 1 and the flags and element type zeroed, as the server's canonical
    /// expression slices and overlays it.
    FloatArray,
    /// pgvector's `vector`: the hex of its binary form.
    Vector,
}

/// An array element kind whose text `array_out` prints is known here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Text,
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric,
    Date,
    Timestamp {
        zone: bool,
    },
    Uuid,
    Bytea,
    /// json and jsonb, whose SQL NULL elements the canonical text spells as
    /// JSON null (`"null"`), as SQLite stores them.
    Json,
    Jsonb,
}

/// One column as the COPY sends it and the checksum takes it.
pub(crate) struct WireColumn<'a> {
    pub kind: &'a ValueKind,
    pub format: Format,
    pub affinity: Affinity,
    /// Whether the COPY query casts the column to text.
    pub cast: bool,
}

impl WireField {
    fn of(c: &WireColumn<'_>) -> Option<WireField> {
        // A vector stored as JSON text is compared by its binary form too.
        let vector_json = c.format == Format::VectorJson && *c.kind == ValueKind::Vector;
        if c.format != Format::Default && !vector_json {
            return None;
        }
        let field = match (c.kind, c.cast) {
            // The text forms are their cast's output, which is the canonical text.
            (ValueKind::TextForm | ValueKind::Time | ValueKind::Interval, true) => WireField::Text,
            (_, true) => return None,
            (ValueKind::Int2, _) => WireField::Int2,
            (ValueKind::Int4, _) => WireField::Int4,
            (ValueKind::Int8, _) => WireField::Int8,
            (ValueKind::Bool, _) => WireField::Bool,
            (ValueKind::Float4, _) => WireField::Float4,
            (ValueKind::Float8, _) => WireField::Float8,
            (ValueKind::Bytea, _) => WireField::Bytes { len: None },
            (ValueKind::Uuid, _) => WireField::Bytes { len: Some(16) },
            (ValueKind::Text | ValueKind::PaddedText | ValueKind::Json, _) => WireField::Text,
            (ValueKind::Jsonb, _) => WireField::Jsonb,
            (ValueKind::Date, _) => WireField::Date,
            (ValueKind::Timestamp, _) => WireField::Timestamp { zone: false },
            (ValueKind::Timestamptz, _) => WireField::Timestamp { zone: true },
            (ValueKind::Numeric, _) => WireField::Numeric {
                trim: c.affinity.converts_text(),
            },
            (ValueKind::Array(element), _)
                if matches!(**element, ValueKind::Float4 | ValueKind::Float8) =>
            {
                WireField::FloatArray
            }
            (ValueKind::Array(element), _) => WireField::Array(Element::of(element)?),
            (ValueKind::Vector, _) => WireField::Vector,
            _ => return None,
        };
        // The field the server hashes must be the one this hash stands for.
        let expected = match field {
            WireField::Int2 | WireField::Int4 => Field::Int4,
            WireField::Int8 => Field::Int8,
            WireField::Bool => Field::Bool,
            WireField::Float8 => Field::Float8,
            WireField::Bytes { len: None } => Field::Bytes,
            WireField::Bytes { len: Some(_) } => Field::Uuid,
            WireField::Text | WireField::Jsonb | WireField::Date => Field::StoredText,
            WireField::Float4
            | WireField::Timestamp { .. }
            | WireField::Numeric { .. }
            | WireField::Array(_)
            | WireField::FloatArray
            | WireField::Vector => Field::Text,
        };
        (Field::of(c.kind, c.format) == expected).then_some(field)
    }

    /// The field's hash (`None`: NULL), `text` a scratch buffer.
    fn hash(self, value: Option<&[u8]>, text: &mut String) -> Result<Option<u64>, String> {
        let Some(v) = value else { return Ok(None) };
        let hash = match self {
            WireField::Int2 => word(i32::from(i16::from_be_bytes(fixed(v)?))),
            WireField::Int4 => word(i32::from_be_bytes(fixed(v)?)),
            WireField::Int8 => pg_hash_bytes(&fixed::<8>(v)?),
            WireField::Bool => match v {
                [0] => pg_hash_u32(0),
                [1] => pg_hash_u32(1),
                _ => return Err(format!("a boolean of {} bytes", v.len())),
            },
            WireField::Float8 => fields::float_hash(f64::from_be_bytes(fixed(v)?)),
            WireField::Bytes { len } => {
                if len.is_some_and(|l| l != v.len()) {
                    return Err(format!("a uuid of {} bytes", v.len()));
                }
                pg_hash_bytes(v)
            }
            WireField::Text => pg_hash_bytes(v),
            WireField::Jsonb => match v.split_first() {
                Some((1, json)) => pg_hash_bytes(json),
                _ => return Err("a jsonb value of an unknown version".into()),
            },
            printed => {
                text.clear();
                printed.print(v, text)?;
                pg_hash_bytes(text.as_bytes())
            }
        };
        Ok(Some(hash))
    }

    /// The canonical text of a value of the kinds that are printed.
    fn print(self, v: &[u8], out: &mut String) -> Result<(), String> {
        match self {
            WireField::Float4 => {
                let bits: [u8; 4] = fixed(v)?;
                let f = f32::from_be_bytes(bits);
                if f.is_nan() {
                    out.push_str("NaN");
                } else if f == 0.0 {
                    out.push('0');
                } else {
                    for b in bits {
                        push_hex(out, b);
                    }
                }
                Ok(())
            }
            WireField::Date => print_date(i32::from_be_bytes(fixed(v)?), out),
            WireField::Timestamp { zone } => {
                print_timestamp(i64::from_be_bytes(fixed(v)?), zone, out)
            }
            WireField::Numeric { trim } => print_numeric(v, trim, out),
            WireField::Array(element) => print_array(v, element, out),
            WireField::FloatArray => print_float_array(v, out),
            WireField::Vector => {
                v.iter().for_each(|&b| push_hex(out, b));
                Ok(())
            }
            _ => Err("not a printed field".into()),
        }
    }
}

impl Element {
    fn of(kind: &ValueKind) -> Option<Element> {
        Some(match kind {
            ValueKind::Text | ValueKind::PaddedText => Element::Text,
            ValueKind::Bool => Element::Bool,
            ValueKind::Int2 => Element::Int2,
            ValueKind::Int4 => Element::Int4,
            ValueKind::Int8 => Element::Int8,
            ValueKind::Numeric => Element::Numeric,
            ValueKind::Date => Element::Date,
            ValueKind::Timestamp => Element::Timestamp { zone: false },
            ValueKind::Timestamptz => Element::Timestamp { zone: true },
            ValueKind::Uuid => Element::Uuid,
            ValueKind::Bytea => Element::Bytea,
            ValueKind::Json => Element::Json,
            ValueKind::Jsonb => Element::Jsonb,
            _ => return None,
        })
    }

    /// `array_out`'s text of one element, before quoting.
    fn print(self, v: &[u8], out: &mut String) -> Result<(), String> {
        match self {
            Element::Text => out.push_str(utf8(v)?),
            Element::Bool => match v {
                [0] => out.push('f'),
                [1] => out.push('t'),
                _ => return Err(format!("a boolean of {} bytes", v.len())),
            },
            Element::Int2 => push_i64(out, i64::from(i16::from_be_bytes(fixed(v)?))),
            Element::Int4 => push_i64(out, i64::from(i32::from_be_bytes(fixed(v)?))),
            Element::Int8 => push_i64(out, i64::from_be_bytes(fixed(v)?)),
            Element::Numeric => print_numeric(v, false, out)?,
            Element::Date => print_date(i32::from_be_bytes(fixed(v)?), out)?,
            Element::Timestamp { zone } => {
                print_timestamp(i64::from_be_bytes(fixed(v)?), zone, out)?
            }
            Element::Uuid => {
                let b: [u8; 16] = fixed(v)?;
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        out.push('-');
                    }
                    push_hex(out, *byte);
                }
            }
            Element::Bytea => {
                out.push_str("\\x");
                for byte in v {
                    push_hex(out, *byte);
                }
            }
            Element::Json => out.push_str(utf8(v)?),
            Element::Jsonb => match v.split_first() {
                Some((1, json)) => out.push_str(utf8(json)?),
                _ => return Err("a jsonb element of an unknown version".into()),
            },
        }
        Ok(())
    }
}

/// The first-look hash of a table's rows as the COPY sends them.
pub(crate) struct WireCheck {
    fields: Vec<WireField>,
}

impl WireCheck {
    /// `None` when any column's canonical form is not known here.
    pub(crate) fn of<'a>(columns: impl IntoIterator<Item = WireColumn<'a>>) -> Option<WireCheck> {
        let fields = columns
            .into_iter()
            .map(|c| WireField::of(&c))
            .collect::<Option<Vec<_>>>()?;
        Some(WireCheck { fields })
    }

    /// Count and hash sum of `rows` rows whose fields, as the COPY sent them
    /// (per field a 32-bit length, −1 for NULL, then its bytes), are `wire`.
    pub(crate) fn totals(&self, wire: &[u8], rows: usize) -> Result<(u64, u64), String> {
        let mut at = 0;
        let mut sum = 0u64;
        let mut text = String::new();
        for _ in 0..rows {
            let mut row = 0u64;
            for field in &self.fields {
                let (value, next) = next_value(wire, at)?;
                at = next;
                row = fold(row, field.hash(value, &mut text)?);
            }
            sum = sum.wrapping_add(fields::mix_row(row));
        }
        if at != wire.len() {
            return Err(format!("{} bytes left after {rows} rows", wire.len() - at));
        }
        Ok((u64::try_from(rows).unwrap_or(u64::MAX), sum))
    }
}

/// PostgreSQL's totals of the parts whose tables a [`WireCheck`] covers, added
/// up as the readers hand their batches on (`pipeline::read`).
pub struct CopyTally {
    /// Per table of the plan.
    checks: Vec<Option<WireCheck>>,
    /// The part each chunk of the copy belongs to, by the chunk's position.
    part_of_chunk: Vec<usize>,
    parts: Vec<PartTally>,
}

#[derive(Default)]
struct PartTally {
    rows: AtomicU64,
    sum: AtomicU64,
    /// A batch could not be hashed here: the server checksums the part.
    failed: AtomicBool,
}

/// Where a part's PostgreSQL totals came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TotalsFrom {
    /// The server's checksum query.
    Server,
    /// The COPY's rows, hashed here.
    Copy,
    /// The COPY's rows, but a batch could not be hashed: not known yet.
    Unknown,
}

impl CopyTally {
    /// `tables` are the plan's checks; `part_of_chunk` the part of each chunk
    /// the copy reads, in the order it is given them.
    pub(crate) fn new(
        tables: &[TableCheck<'_>],
        parts: usize,
        part_of_chunk: Vec<usize>,
    ) -> CopyTally {
        CopyTally {
            checks: tables.iter().map(TableCheck::wire_check).collect(),
            part_of_chunk,
            parts: (0..parts).map(|_| PartTally::default()).collect(),
        }
    }

    /// Whether the copy's rows of `table` are hashed here.
    pub fn covers(&self, table: usize) -> bool {
        matches!(self.checks.get(table), Some(Some(_)))
    }

    /// Adds a batch of chunk `chunk` (its position among the copy's chunks).
    pub fn add(&self, chunk: usize, table: usize, batch: &RawBatch) {
        let (Some(Some(check)), Some(tally)) = (
            self.checks.get(table),
            self.part_of_chunk
                .get(chunk)
                .and_then(|&p| self.parts.get(p)),
        ) else {
            return;
        };
        match check.totals(batch.fields_as_sent(), batch.len()) {
            Ok((rows, sum)) => {
                tally.rows.fetch_add(rows, Ordering::Relaxed);
                // fetch_add wraps: sums are taken mod 2^64 on both sides.
                tally.sum.fetch_add(sum, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::debug!("a batch of table {table} was not hashed from the COPY: {e}");
                tally.failed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The totals of `part` and where they came from (`None`: not covered).
    pub(crate) fn part(&self, part: usize, table: usize) -> Option<((u64, u64), TotalsFrom)> {
        if !self.covers(table) {
            return None;
        }
        let tally = self.parts.get(part)?;
        let totals = (
            tally.rows.load(Ordering::Relaxed),
            tally.sum.load(Ordering::Relaxed),
        );
        let from = if tally.failed.load(Ordering::Relaxed) {
            TotalsFrom::Unknown
        } else {
            TotalsFrom::Copy
        };
        Some((totals, from))
    }
}

/// The value at `wire[at]` (a 32-bit length, −1 for NULL, then the bytes) and
/// where the next one starts.
fn next_value(wire: &[u8], at: usize) -> Result<(Option<&[u8]>, usize), String> {
    let len = wire
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or("rows cut short before a value's length")?;
    let start = at + 4;
    if len == -1 {
        return Ok((None, start));
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|&end| end <= wire.len())
        .ok_or_else(|| format!("a value of length {len} past the rows' end"))?;
    Ok((Some(&wire[start..end]), end))
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|_| "text that is not UTF-8".to_owned())
}

/// The server's `encode(overlay(array_send(c[lower:upper]) placing 8 zero
/// bytes from 5 for 8), 'hex')`: the binary array with its flags and element
/// type zeroed and every lower bound 1 (a slice's), elements as they are.
fn print_float_array(v: &[u8], out: &mut String) -> Result<(), String> {
    let ndim = v
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("an array cut short")?;
    let header = 12 + 8 * ndim;
    if v.len() < header {
        return Err("an array cut short".into());
    }
    for (at, &byte) in v.iter().enumerate() {
        let in_lower_bound = (12..header).contains(&at) && (at - 12) % 8 >= 4;
        let shown = match at {
            4..=11 => 0,
            // A lower bound of 1: its last byte 1, the others 0.
            _ if in_lower_bound => u8::from((at - 12) % 8 == 7),
            _ => byte,
        };
        push_hex(out, shown);
    }
    Ok(())
}

fn fixed<const N: usize>(v: &[u8]) -> Result<[u8; N], String> {
    <[u8; N]>::try_from(v)
        .map_err(|_| format!("a value of {} bytes where {N} were expected", v.len()))
}

/// `hashint4extended`.
fn word(i: i32) -> u64 {
    pg_hash_u32(u32::from_ne_bytes(i.to_ne_bytes()))
}

fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_decimal(out, v.unsigned_abs(), 1);
}

/// `v` in decimal, zero-padded to at least `width` digits. Canonical texts
/// are printed for every value of a column: no formatting machinery here.
fn push_decimal(out: &mut String, v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = v;
    loop {
        at -= 1;
        // A digit: 0..=9.
        digits[at] += u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = at.min(digits.len().saturating_sub(width));
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 15)]));
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01;
/// the year is astronomical (0 is 1 BC). Howard Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

/// `YYYY-MM-DD` as ISO DateStyle prints it; whether the date is BC.
fn push_civil(out: &mut String, days: i64) -> bool {
    let (year, month, day) = civil(days);
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    push_decimal(out, shown.unsigned_abs(), 4);
    out.push('-');
    push_decimal(out, u64::from(month), 2);
    out.push('-');
    push_decimal(out, u64::from(day), 2);
    bc
}

/// `date_out` (DateStyle ISO).
fn print_date(days: i32, out: &mut String) -> Result<(), String> {
    match days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        d => {
            if push_civil(out, i64::from(d) + PG_EPOCH_DAYS) {
                out.push_str(" BC");
            }
        }
    }
    Ok(())
}

/// `timestamp_out`/`timestamptz_out` (DateStyle ISO, TimeZone UTC): seconds
/// with the fraction's trailing zeros dropped, `+00` for a zone, then ` BC`.
fn print_timestamp(micros: i64, zone: bool, out: &mut String) -> Result<(), String> {
    match micros {
        i64::MAX => out.push_str("infinity"),
        i64::MIN => out.push_str("-infinity"),
        m => {
            let days = m.div_euclid(MICROS_PER_DAY);
            let of_day = m.rem_euclid(MICROS_PER_DAY);
            let bc = push_civil(out, days + PG_EPOCH_DAYS);
            // Both are non-negative (rem_euclid).
            let seconds = of_day.unsigned_abs() / 1_000_000;
            let mut fraction = of_day.unsigned_abs() % 1_000_000;
            for (separator, part) in [
                (' ', seconds / 3600),
                (':', seconds / 60 % 60),
                (':', seconds % 60),
            ] {
                out.push(separator);
                push_decimal(out, part, 2);
            }
            if fraction != 0 {
                let mut width = 6;
                while fraction % 10 == 0 {
                    fraction /= 10;
                    width -= 1;
                }
                out.push('.');
                push_decimal(out, fraction, width);
            }
            if zone {
                out.push_str("+00");
            }
            if bc {
                out.push_str(" BC");
            }
        }
    }
    Ok(())
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// `numeric_out`, or with `trim` `trim_scale(…)::text`: base-10000 digit
/// groups, the first `weight + 1` of them before the point, and `dscale`
/// decimal digits after it.
fn print_numeric(v: &[u8], trim: bool, out: &mut String) -> Result<(), String> {
    let word = |i: usize| -> Result<u16, String> {
        v.get(2 * i..2 * i + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
            .ok_or_else(|| "a numeric cut short".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(i16::from_be_bytes(word(1)?.to_be_bytes()));
    let sign = word(2)?;
    let dscale = i64::from(word(3)?);
    if v.len() != 8 + 2 * ndigits {
        return Err(format!(
            "a numeric of {} bytes with {ndigits} digit groups",
            v.len()
        ));
    }
    let special = match sign {
        NUMERIC_NAN => Some("NaN"),
        NUMERIC_PINF => Some("Infinity"),
        NUMERIC_NINF => Some("-Infinity"),
        _ => None,
    };
    if let Some(name) = special {
        out.push_str(name);
        return Ok(());
    }
    let mut groups = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let g = word(4 + i)?;
        if g > 9999 {
            return Err(format!("a numeric digit group of {g}"));
        }
        groups.push(g);
    }
    // The group at `index` (0 is the highest), zero beyond those sent.
    let group = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| groups.get(i))
            .copied()
            .unwrap_or(0)
    };
    if sign == NUMERIC_NEG {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        push_decimal(out, u64::from(group(0)), 1);
        for index in 1..=weight {
            push_decimal(out, u64::from(group(index)), 4);
        }
    }
    if dscale > 0 {
        let point = out.len();
        out.push('.');
        let mut written = 0;
        let mut index = weight + 1;
        while written < dscale {
            let four = out.len();
            push_decimal(out, u64::from(group(index)), 4);
            // The last group gives only the digits the scale keeps.
            let take = usize::try_from((dscale - written).min(4)).unwrap_or(4);
            out.truncate(four + take);
            written += 4;
            index += 1;
        }
        if trim {
            let kept = out.trim_end_matches('0').len();
            out.truncate(kept);
            if out.len() == point + 1 {
                out.truncate(point);
            }
        }
    }
    Ok(())
}

/// `array_out` without the `[l:u]=` bounds (the canonical form compares
/// arrays without their lower bounds).
fn print_array(v: &[u8], element: Element, out: &mut String) -> Result<(), String> {
    let int = |at: usize| -> Result<i32, String> {
        v.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes)
            .ok_or_else(|| "an array cut short".to_owned())
    };
    let ndim = usize::try_from(int(0)?).map_err(|_| "a negative number of dimensions")?;
    if ndim == 0 {
        out.push_str("{}");
        return Ok(());
    }
    if ndim > 6 {
        return Err(format!("an array of {ndim} dimensions"));
    }
    let mut sizes = Vec::with_capacity(ndim);
    for d in 0..ndim {
        let size = usize::try_from(int(12 + 8 * d)?).map_err(|_| "a negative dimension")?;
        sizes.push(size);
    }
    let mut at = 12 + 8 * ndim;
    let mut element_text = String::new();
    print_dimension(v, &sizes, element, &mut at, &mut element_text, out)?;
    if at != v.len() {
        return Err("bytes left after an array's elements".into());
    }
    Ok(())
}

fn print_dimension(
    v: &[u8],
    sizes: &[usize],
    element: Element,
    at: &mut usize,
    element_text: &mut String,
    out: &mut String,
) -> Result<(), String> {
    let Some((&size, inner)) = sizes.split_first() else {
        return Ok(());
    };
    out.push('{');
    for i in 0..size {
        if i > 0 {
            out.push(',');
        }
        if inner.is_empty() {
            let (value, next) = next_value(v, *at)?;
            *at = next;
            match value {
                // The canonical text of a JSON array has JSON null there.
                None if matches!(element, Element::Json | Element::Jsonb) => {
                    out.push_str("\"null\"");
                }
                None => out.push_str("NULL"),
                Some(bytes) => {
                    element_text.clear();
                    element.print(bytes, element_text)?;
                    push_array_element(out, element_text);
                }
            }
        } else {
            print_dimension(v, inner, element, at, element_text, out)?;
        }
    }
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(weight: i16, sign: u16, dscale: u16, groups: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&u16::try_from(groups.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for g in groups {
            v.extend_from_slice(&g.to_be_bytes());
        }
        v
    }

    fn printed(f: impl FnOnce(&mut String) -> Result<(), String>) -> String {
        let mut s = String::new();
        f(&mut s).unwrap();
        s
    }

    #[test]
    fn numerics_print_as_numeric_out() {
        let n = |weight, sign, dscale, groups: &[u16], trim| {
            printed(|s| print_numeric(&numeric(weight, sign, dscale, groups), trim, s))
        };
        // SELECT numeric_send(x) for each of these, read back.
        assert_eq!(n(0, 0, 2, &[1234, 5600], false), "1234.56");
        assert_eq!(n(0, 0, 2, &[1234, 5600], true), "1234.56");
        assert_eq!(n(0, 0, 3, &[1234, 5000], true), "1234.5");
        assert_eq!(n(0, 0, 2, &[12], true), "12");
        assert_eq!(n(0, 0, 2, &[12], false), "12.00");
        assert_eq!(n(1, 0, 0, &[1], false), "10000");
        assert_eq!(n(2, NUMERIC_NEG, 0, &[12, 0, 5], false), "-1200000005");
        assert_eq!(n(-1, 0, 4, &[5], false), "0.0005");
        assert_eq!(n(-2, 0, 8, &[12], false), "0.00000012");
        assert_eq!(n(-2, NUMERIC_NEG, 10, &[12], true), "-0.00000012");
        assert_eq!(n(0, 0, 0, &[], false), "0");
        assert_eq!(n(0, 0, 2, &[], false), "0.00");
        assert_eq!(n(0, 0, 2, &[], true), "0");
        assert_eq!(n(0, NUMERIC_NAN, 0, &[], true), "NaN");
        assert_eq!(n(0, NUMERIC_PINF, 0, &[], false), "Infinity");
        assert_eq!(n(0, NUMERIC_NINF, 0, &[], false), "-Infinity");
        assert!(print_numeric(&numeric(0, 0, 0, &[10_000]), false, &mut String::new()).is_err());
        let mut short = numeric(0, 0, 0, &[1]);
        short.pop();
        assert!(print_numeric(&short, false, &mut String::new()).is_err());
    }

    #[test]
    fn decimals_print_padded_as_format_does() {
        for (v, width) in [
            (0, 1),
            (7, 2),
            (42, 4),
            (12_345, 2),
            (u64::MAX, 1),
            (5, 6),
            (0, 4),
        ] {
            let mut s = String::new();
            push_decimal(&mut s, v, width);
            assert_eq!(s, format!("{v:0width$}"));
        }
        let mut s = String::new();
        push_i64(&mut s, i64::MIN);
        assert_eq!(s, i64::MIN.to_string());
    }

    #[test]
    fn dates_and_timestamps_print_as_iso() {
        let d = |days| printed(|s| print_date(days, s));
        assert_eq!(d(0), "2000-01-01");
        assert_eq!(d(-1), "1999-12-31");
        assert_eq!(d(60), "2000-03-01");
        // date '0001-01-01' - date '2000-01-01' = -730119; the day before is 1 BC.
        assert_eq!(d(-730_119), "0001-01-01");
        assert_eq!(d(-730_120), "0001-12-31 BC");
        // date '4713-11-24 BC', PostgreSQL's first day.
        assert_eq!(d(-2_451_545), "4714-11-24 BC");
        assert_eq!(d(2_914_635), "9980-01-01");
        assert_eq!(d(2_921_940), "10000-01-01");
        assert_eq!(d(i32::MAX), "infinity");
        assert_eq!(d(i32::MIN), "-infinity");
        let t = |micros, zone| printed(|s| print_timestamp(micros, zone, s));
        assert_eq!(t(0, true), "2000-01-01 00:00:00+00");
        assert_eq!(t(1_500_000, false), "2000-01-01 00:00:01.5");
        assert_eq!(t(-1, true), "1999-12-31 23:59:59.999999+00");
        assert_eq!(t(86_399_000_001, false), "2000-01-01 23:59:59.000001");
        assert_eq!(t(120, false), "2000-01-01 00:00:00.00012");
        assert_eq!(
            t(-730_120 * MICROS_PER_DAY + 3_600_000_000, true),
            "0001-12-31 01:00:00+00 BC"
        );
        assert_eq!(t(i64::MAX, true), "infinity");
        assert_eq!(t(i64::MIN, false), "-infinity");
    }

    fn array(ndim_sizes: &[i32], elements: &[Option<&[u8]>]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&i32::try_from(ndim_sizes.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        v.extend_from_slice(&25u32.to_be_bytes());
        for s in ndim_sizes {
            v.extend_from_slice(&s.to_be_bytes());
            v.extend_from_slice(&3i32.to_be_bytes());
        }
        for e in elements {
            push_value(&mut v, *e);
        }
        v
    }

    /// A value as the COPY and `array_send` lay it out: a 32-bit length (−1
    /// for NULL), then its bytes.
    fn push_value(v: &mut Vec<u8>, value: Option<&[u8]>) {
        match value {
            None => v.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                v.extend_from_slice(&i32::try_from(b.len()).unwrap().to_be_bytes());
                v.extend_from_slice(b);
            }
        }
    }

    #[test]
    fn arrays_print_as_array_out_without_bounds() {
        let a = |sizes: &[i32], elements: &[Option<&[u8]>], e| {
            printed(|s| print_array(&array(sizes, elements), e, s))
        };
        assert_eq!(a(&[], &[], Element::Text), "{}");
        assert_eq!(
            a(
                &[6],
                &[
                    Some(b"a"),
                    None,
                    Some(b""),
                    Some(b"null"),
                    Some(b"x \"y\\"),
                    Some(b"{,}")
                ],
                Element::Text
            ),
            r#"{a,NULL,"","null","x \"y\\","{,}"}"#
        );
        assert_eq!(
            a(
                &[2, 2],
                &[
                    Some(&[0, 0, 0, 1]),
                    Some(&[0, 0, 0, 2]),
                    None,
                    Some(&[255, 255, 255, 255])
                ],
                Element::Int4
            ),
            "{{1,2},{NULL,-1}}"
        );
        assert_eq!(a(&[2], &[Some(&[1]), Some(&[0])], Element::Bool), "{t,f}");
        assert_eq!(
            a(
                &[1],
                &[Some(&0i64.to_be_bytes())],
                Element::Timestamp { zone: true }
            ),
            r#"{"2000-01-01 00:00:00+00"}"#
        );
        assert_eq!(
            a(&[1], &[Some(&[0, 0xff])], Element::Bytea),
            r#"{"\\x00ff"}"#
        );
        assert_eq!(
            a(
                &[1],
                &[Some(&[
                    0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd,
                    0x38, 0x0a, 0x11
                ])],
                Element::Uuid
            ),
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"
        );
        let mut cut = array(&[2], &[Some(b"a")]);
        cut.extend_from_slice(&[0, 0]);
        assert!(print_array(&cut, Element::Text, &mut String::new()).is_err());
    }

    fn wire_rows(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut v = Vec::new();
        for row in rows {
            for value in *row {
                push_value(&mut v, *value);
            }
        }
        v
    }

    #[test]
    fn float_arrays_print_as_the_servers_sliced_binary_form() {
        // '[0:1]={1.5,NULL}'::float8[]: flags 1, element type 701, lower bound 0.
        let mut v = Vec::new();
        for word in [1i32, 1, 701, 2, 0] {
            v.extend_from_slice(&word.to_be_bytes());
        }
        v.extend_from_slice(&8i32.to_be_bytes());
        v.extend_from_slice(&1.5f64.to_be_bytes());
        v.extend_from_slice(&(-1i32).to_be_bytes());
        // SELECT encode(overlay(array_send(a[0:1]) placing '\x0000000000000000'
        //        from 5 for 8), 'hex') FROM (SELECT '[0:1]={1.5,NULL}'::float8[] a) s
        assert_eq!(
            printed(|s| print_float_array(&v, s)),
            "000000010000000000000000000000020000000100000008\
             3ff8000000000000ffffffff"
        );
        assert!(print_float_array(&v[..14], &mut String::new()).is_err());
    }

    #[test]
    fn rows_hash_as_the_read_back_hashes_the_stored_values() {
        use rusqlite::types::ValueRef;
        let int4 = ValueKind::Int4;
        let text = ValueKind::Text;
        let column = |kind| WireColumn {
            kind,
            format: Format::Default,
            affinity: Affinity::Text,
            cast: false,
        };
        let check = WireCheck::of([column(&int4), column(&text)]).unwrap();
        let wire = wire_rows(&[
            &[Some(&7i32.to_be_bytes()), Some(b"hello")],
            &[None, Some(b"")],
        ]);
        let (count, sum) = check.totals(&wire, 2).unwrap();
        assert_eq!(count, 2);
        let stored = |a: ValueRef<'_>, b: ValueRef<'_>| {
            fields::mix_row(fold(
                fold(0, Field::Int4.hash_stored(&a)),
                Field::StoredText.hash_stored(&b),
            ))
        };
        let expected = stored(ValueRef::Integer(7), ValueRef::Text(b"hello"))
            .wrapping_add(stored(ValueRef::Null, ValueRef::Text(b"")));
        assert_eq!(sum, expected);
        // Rows cut short, or bytes left over, are refused.
        assert!(check.totals(&wire[..wire.len() - 1], 2).is_err());
        assert!(check.totals(&wire, 1).is_err());
    }

    #[test]
    fn only_known_canonical_forms_are_taken() {
        let col = |kind, format, cast| WireColumn {
            kind,
            format,
            affinity: Affinity::Text,
            cast,
        };
        let text_form_array = ValueKind::Array(Box::new(ValueKind::TextForm));
        let interval_array = ValueKind::Array(Box::new(ValueKind::Interval));
        // Arrays of text forms come as text[] (the delimiter of box[] is not
        // a comma), and arrays of times and intervals likewise.
        for kind in [&text_form_array, &interval_array] {
            for cast in [false, true] {
                assert!(
                    WireField::of(&col(kind, Format::Default, cast)).is_none(),
                    "{kind:?}"
                );
            }
        }
        let float_array = ValueKind::Array(Box::new(ValueKind::Float8));
        assert_eq!(
            WireField::of(&col(&float_array, Format::Default, false)),
            Some(WireField::FloatArray)
        );
        let vector = ValueKind::Vector;
        assert_eq!(
            WireField::of(&col(&vector, Format::VectorJson, false)),
            Some(WireField::Vector)
        );
        let time = ValueKind::Time;
        assert_eq!(
            WireField::of(&col(&time, Format::Default, true)),
            Some(WireField::Text)
        );
        // A time decoded from binary (a map's format) is not taken.
        assert!(WireField::of(&col(&time, Format::Default, false)).is_none());
        let flag = ValueKind::Bool;
        assert!(WireField::of(&col(&flag, Format::BoolText, false)).is_none());
    }
}
