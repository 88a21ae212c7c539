//! PostgreSQL's half of a sync's first look, taken from the rows the COPY
//! already sends instead of a second scan on the server.
//!
//! The server's checksum query cost as much CPU as the COPY itself (session
//! 11: 3.5 s for the 1M-row wide table, on the same two cores as the copy).
//! Every value it hashes also arrives in the COPY, in the type's binary send
//! form, so this module computes the same row hash — `hash_record_extended`
//! over each column's field (`verify::fields`), then `fields::mix_row` — from
//! those bytes, beside the copy and off the server. Since both halves are
//! then ours, both hash with XXH3 instead of the server's lookup3
//! (`checksum::RowHasher`): the same fields and folds, a cheaper function.
//!
//! What keeps it a verification: the bytes are hashed as PostgreSQL sent them,
//! walked here on their own (not through the batch's value index), and the
//! canonical texts that need printing (dates, timestamps, numerics, arrays)
//! are printed by verification's own code (`print`, and `array_out`'s
//! quoting, which the read-back shares), never by the converters that wrote
//! SQLite (`mapping::decode`). A bug in locating, decoding, converting or
//! writing a value changes what SQLite holds and not this hash, so the
//! read-back still differs. A part whose hashes disagree with the read-back is
//! read back again in lookup3 and checksummed on the server before anything
//! is reported (`verify::recheck_on_server`), so a mistake here costs time,
//! never a false verdict.
//!
//! Only columns whose canonical form is exactly known from the binary value
//! are taken: the default mapping of every type, except arrays of text forms
//! (they arrive as `text[]`, and box's delimiter is not a comma). A table
//! with such a column, or with a map's format, is checksummed on the server
//! as before.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::canonical::push_array_element;
use super::checksum::RowHasher;
use super::fields::{self, fold, Field};
use super::TableCheck;
use crate::mapping::format::{Affinity, Format, FractionStyle};
use crate::mapping::types::ValueKind;
use crate::source::copy::RawBatch;

mod print;
use print::{
    print_array, print_date, print_float_array, print_numeric, print_timestamp, push_hex, push_i64,
};

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
    /// json and jsonb: the array prints as `array_to_json` does, as SQLite
    /// stores it.
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
        let canonical_as_default = match (c.format, c.kind) {
            (Format::Default, _) => true,
            // A vector stored as JSON text is compared by its binary form too.
            (Format::VectorJson, ValueKind::Vector) => true,
            // A timestamp stored in another text style with every microsecond
            // (a file an ORM or an earlier sync wrote, whose style `verify`
            // reads off the file) has the same canonical form as the
            // default's: the value's own text (`canonical::pg_expression`).
            (Format::Time(t), ValueKind::Timestamp | ValueKind::Timestamptz) => {
                t.fraction != FractionStyle::Millis
            }
            _ => false,
        };
        if !canonical_as_default {
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
    fn hash(
        self,
        h: RowHasher,
        value: Option<&[u8]>,
        text: &mut String,
    ) -> Result<Option<u64>, String> {
        let Some(v) = value else { return Ok(None) };
        let hash = match self {
            WireField::Int2 => fields::word_hash(h, i32::from(i16::from_be_bytes(fixed(v)?))),
            WireField::Int4 => fields::word_hash(h, i32::from_be_bytes(fixed(v)?)),
            WireField::Int8 => h.bytes(&fixed::<8>(v)?),
            WireField::Bool => match v {
                [0] => h.word(0),
                [1] => h.word(1),
                _ => return Err(format!("a boolean of {} bytes", v.len())),
            },
            WireField::Float8 => fields::float_hash(h, f64::from_be_bytes(fixed(v)?)),
            WireField::Bytes { len } => {
                if len.is_some_and(|l| l != v.len()) {
                    return Err(format!("a uuid of {} bytes", v.len()));
                }
                h.bytes(v)
            }
            WireField::Text => h.bytes(v),
            WireField::Jsonb => match v.split_first() {
                Some((1, json)) => h.bytes(json),
                _ => return Err("a jsonb value of an unknown version".into()),
            },
            printed => {
                text.clear();
                printed.print(v, text)?;
                h.bytes(text.as_bytes())
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

/// The first-look hash of a table's rows as the COPY sends them, in
/// [`RowHasher::Local`]: only the read-back's sums meet it.
pub(crate) struct WireCheck {
    fields: Vec<WireField>,
}

/// How a [`WireCheck`] and the read-back it is compared with hash.
pub(crate) const WIRE_HASHER: RowHasher = RowHasher::Local;

impl WireCheck {
    /// `Err(i)` when column `i`'s canonical form is not known here (the
    /// first such column).
    pub(crate) fn of<'a>(
        columns: impl IntoIterator<Item = WireColumn<'a>>,
    ) -> Result<WireCheck, usize> {
        let fields = columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| WireField::of(&c).ok_or(i))
            .collect::<Result<Vec<_>, usize>>()?;
        Ok(WireCheck { fields })
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
                row = fold(row, field.hash(WIRE_HASHER, value, &mut text)?);
            }
            sum = sum.wrapping_add(fields::mix_row(WIRE_HASHER, row));
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
    let len = be_i32(wire, at).ok_or("rows cut short before a value's length")?;
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

/// The big-endian 32-bit integer at `v[at]`: a length, a count or a bound
/// of PostgreSQL's binary forms.
fn be_i32(v: &[u8], at: usize) -> Option<i32> {
    v.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|_| "text that is not UTF-8".to_owned())
}

fn fixed<const N: usize>(v: &[u8]) -> Result<[u8; N], String> {
    <[u8; N]>::try_from(v)
        .map_err(|_| format!("a value of {} bytes where {N} were expected", v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::copy::push_test_value;

    fn wire_rows(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut v = Vec::new();
        for row in rows {
            for value in *row {
                push_test_value(&mut v, *value);
            }
        }
        v
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
            fields::mix_row(
                WIRE_HASHER,
                fold(
                    fold(0, Field::Int4.hash_stored(WIRE_HASHER, &a)),
                    Field::StoredText.hash_stored(WIRE_HASHER, &b),
                ),
            )
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

    /// A timestamp the file stores in another text style with every
    /// microsecond (as `verify` reads a synced file's style off it) hashes as
    /// the server's `::text` of the value; one cut to milliseconds does not.
    #[test]
    fn timestamps_in_any_microsecond_style_are_taken() {
        use crate::mapping::format::TimeText;
        let tz = ValueKind::Timestamptz;
        let col = |format| WireColumn {
            kind: &tz,
            format,
            affinity: Affinity::Text,
            cast: false,
        };
        let always = TimeText {
            fraction: FractionStyle::MicrosAlways,
            ..TimeText::SPACE
        };
        let millis = TimeText {
            fraction: FractionStyle::Millis,
            ..TimeText::ISO_UTC
        };
        assert!(WireField::of(&col(Format::Time(millis))).is_none());
        // 2024-01-02 03:04:05.6789 UTC, in microseconds since 2000-01-01.
        let micros: i64 = 757_479_845_678_900;
        let wire = wire_rows(&[&[Some(&micros.to_be_bytes())]]);
        let expected = fields::mix_row(
            WIRE_HASHER,
            fold(
                0,
                Some(Field::Text.hash_canonical(WIRE_HASHER, "2024-01-02 03:04:05.6789+00")),
            ),
        );
        for style in [TimeText::ISO_UTC, always] {
            let check = WireCheck::of([col(Format::Time(style))]).unwrap();
            assert_eq!(check.totals(&wire, 1).unwrap(), (1, expected), "{style:?}");
        }
    }
}
