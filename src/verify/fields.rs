//! How each column enters a row's hash.
//!
//! PostgreSQL hashes a row with `hash_record_extended(ROW(f1, f2, …), 0)`: each
//! field by its type's own extended hash function, folded as `r = 31·r + h`
//! with NULL as 0. A field is either the column itself, when its type's hash is
//! cheap, exact (no two values PostgreSQL tells apart hash alike by design) and
//! reproducible from the value SQLite stores, or else the column's canonical
//! text (`verify::canonical`), hashed as a text. On this side the same
//! functions run on the stored values: lookup3 over bytes or over one 32-bit
//! word, or, where both halves are computed here, XXH3 in its place
//! (`checksum::RowHasher`).
//!
//! The typed fields save PostgreSQL printing the value: on the 1M-row wide
//! benchmark table the server's checksum took 3.5 s as the text of a record of
//! canonical texts and 1.5 s as typed fields. Types whose hash forgets part of
//! the value are never typed: `numeric` (the sign and the scale), `float8`
//! (0 hashes as NULL), `jsonb` (numbers as `numeric`), `int8` and timestamps
//! (folded to 32 bits, so `2^32 + 1` and `0` collide); `int8` and `float8`
//! enter by their 8 bytes (`int8send`, `float8send`) instead.

use rusqlite::types::ValueRef;

use crate::mapping::format::Format;
use crate::mapping::types::ValueKind;

use super::canonical::stored_text_is_canonical;
use super::checksum::RowHasher;

/// What a column is in the `ROW(…)` PostgreSQL hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `int2`/`int4` as `int4`: `hashint4extended`, the value as a 32-bit word.
    Int4,
    /// `int8` as `int8send(…)`: its 8 big-endian bytes.
    Int8,
    /// `bool`: `hashcharextended`, 1 or 0 as a 32-bit word.
    Bool,
    /// `float8` as `float8send(…)`, after the mapping's accepted changes:
    /// -0 is stored as 0 and every NaN as `NaN`.
    Float8,
    /// `bytea`: its bytes.
    Bytes,
    /// `uuid`: its 16 bytes.
    Uuid,
    /// The canonical text, `COLLATE "C"` so its bytes are hashed whatever the
    /// column's collation.
    Text,
    /// As `Text`, of a kind whose stored text is its canonical text (text,
    /// JSON, dates, the text forms): hashed where it lies. Its bytes need no
    /// check of their own: PostgreSQL's are valid UTF-8, and equal hashes mean
    /// equal bytes.
    StoredText,
}

impl Field {
    /// The field of a column of `kind` stored in `format`. Only the default
    /// mapping stores the value itself; every other format has its own
    /// canonical text.
    pub(crate) fn of(kind: &ValueKind, format: Format) -> Field {
        if format != Format::Default {
            return Field::Text;
        }
        match kind {
            ValueKind::Int2 | ValueKind::Int4 => Field::Int4,
            ValueKind::Int8 => Field::Int8,
            ValueKind::Bool => Field::Bool,
            ValueKind::Float8 => Field::Float8,
            ValueKind::Bytea => Field::Bytes,
            ValueKind::Uuid => Field::Uuid,
            kind if stored_text_is_canonical(kind) => Field::StoredText,
            _ => Field::Text,
        }
    }

    /// The field in PostgreSQL: `column` is the quoted column, `canonical` its
    /// canonical text expression.
    pub(crate) fn pg_field(self, column: &str, canonical: &str) -> String {
        match self {
            Field::Int4 => format!("{column}::int4"),
            Field::Int8 => format!("int8send({column}::int8)"),
            Field::Bool => format!("{column}::bool"),
            // `+ 0` turns -0 into 0; a NaN a computation left may have other bits.
            Field::Float8 => format!(
                "float8send(CASE WHEN {column} = 'NaN' THEN 'NaN'::float8 ELSE {column} + 0 END)"
            ),
            Field::Bytes => format!("{column}::bytea"),
            Field::Uuid => format!("{column}::uuid"),
            Field::Text | Field::StoredText => format!("({canonical}) COLLATE \"C\""),
        }
    }

    /// The hash of a stored value, when it is in the form the mapping writes
    /// for this field (`None`: ask the canonical text).
    pub(crate) fn hash_stored(self, h: RowHasher, v: &ValueRef<'_>) -> Option<u64> {
        match (self, v) {
            (Field::Int4, ValueRef::Integer(i)) => i32::try_from(*i).ok().map(|i| word_hash(h, i)),
            (Field::Int8, ValueRef::Integer(i)) => Some(h.bytes(&i.to_be_bytes())),
            (Field::Bool, ValueRef::Integer(0)) => Some(h.word(0)),
            (Field::Bool, ValueRef::Integer(1)) => Some(h.word(1)),
            (Field::Float8, ValueRef::Real(f)) => Some(float_hash(h, *f)),
            (Field::Bytes, ValueRef::Blob(b)) | (Field::StoredText, ValueRef::Text(b)) => {
                Some(h.bytes(b))
            }
            (Field::Uuid, ValueRef::Text(t)) => std::str::from_utf8(t)
                .ok()
                .and_then(uuid_bytes)
                .map(|b| h.bytes(&b)),
            _ => None,
        }
    }

    /// The hash of a value from its canonical text. A text that is not what
    /// this field's type prints is hashed as a text, which the typed hash of
    /// PostgreSQL's value does not equal.
    pub(crate) fn hash_canonical(self, h: RowHasher, text: &str) -> u64 {
        let typed = match self {
            Field::Int4 => text.parse::<i32>().ok().map(|i| word_hash(h, i)),
            Field::Int8 => text.parse::<i64>().ok().map(|i| h.bytes(&i.to_be_bytes())),
            Field::Bool => match text {
                "true" => Some(h.word(1)),
                "false" => Some(h.word(0)),
                _ => None,
            },
            Field::Float8 => match text {
                "NaN" => Some(float_hash(h, f64::NAN)),
                "0" => Some(float_hash(h, 0.0)),
                _ => from_hex(text)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(|b| h.bytes(&b)),
            },
            Field::Bytes => from_hex(text).map(|b| h.bytes(&b)),
            Field::Uuid => uuid_bytes(text).map(|b| h.bytes(&b)),
            Field::Text | Field::StoredText => None,
        };
        typed.unwrap_or_else(|| h.bytes(text.as_bytes()))
    }
}

/// `hashint4extended`: the value's two's-complement bits as one word.
pub(super) fn word_hash(h: RowHasher, i: i32) -> u64 {
    h.word(u32::from_ne_bytes(i.to_ne_bytes()))
}

/// `float8send` of a stored double: 0 for -0 as for 0, and PostgreSQL's one
/// NaN (`'NaN'::float8`).
pub(super) fn float_hash(h: RowHasher, f: f64) -> u64 {
    let bits = if f.is_nan() {
        0x7ff8_0000_0000_0000
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    };
    h.bytes(&bits.to_be_bytes())
}

/// The bytes of lowercase hex text (`encode(…, 'hex')`).
fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Each byte's value as a lowercase hex digit; `NOT_HEX` for any other byte.
const NIBBLE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        let digit = if i < 10 { b'0' + i } else { b'a' + i - 10 };
        t[digit as usize] = i;
        i += 1;
    }
    t
};
const NOT_HEX: u8 = 0xff;

fn nibble(c: u8) -> Option<u8> {
    let n = NIBBLE[usize::from(c)];
    (n != NOT_HEX).then_some(n)
}

/// The 16 bytes of a uuid as PostgreSQL prints it:
/// `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`. Read for every uuid of a
/// verified copy: a table lookup per digit, one check at the end.
fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let b: &[u8; 36] = text.as_bytes().try_into().ok()?;
    if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    // Where each byte's two hex digits are: between the dashes.
    const BYTE_AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut out = [0u8; 16];
    let mut seen = 0u8;
    for (o, at) in out.iter_mut().zip(BYTE_AT) {
        let (high, low) = (NIBBLE[usize::from(b[at])], NIBBLE[usize::from(b[at + 1])]);
        seen |= high | low;
        *o = high << 4 | low;
    }
    // Every digit is below 16; NOT_HEX is not.
    (seen < 16).then_some(out)
}

/// How `hash_record_extended` adds a field's hash to the row's.
pub(crate) fn fold(row: u64, field: Option<u64>) -> u64 {
    row.wrapping_mul(31).wrapping_add(field.unwrap_or(0))
}

/// A row's hash from its fold: hashed once more, as 8 bytes. The fold is
/// linear in the fields' hashes, so a table's sum of folds would only see each
/// column's values, not which row holds them: two rows that swapped a value
/// would sum alike. The hash of the fold does not.
pub(crate) fn mix_row(h: RowHasher, folded: u64) -> u64 {
    h.bytes(&folded.to_be_bytes())
}

/// [`mix_row`] in PostgreSQL, of an `int8` expression: a record of one
/// `bytea` field hashes as that field's bytes.
pub(crate) fn pg_mix_row(folded: &str) -> String {
    format!("hash_record_extended(ROW(int8send({folded})), 0)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: RowHasher = RowHasher::Postgres;

    #[allow(clippy::cast_sign_loss)]
    fn pg(v: i64) -> u64 {
        v as u64
    }

    #[test]
    fn typed_fields_hash_as_postgresql() {
        // PostgreSQL 15: hashint4extended(n, 0) and hash_record_extended(ROW(v), 0).
        let i = |v: i64| Field::Int4.hash_stored(P, &ValueRef::Integer(v));
        assert_eq!(i(0), Some(pg(4_154_612_158_245_552_303)));
        assert_eq!(i(1), Some(pg(-3_670_598_878_359_251_130)));
        assert_eq!(i(-1), Some(pg(-1_888_257_769_727_981_238)));
        assert_eq!(i(2_147_483_647), Some(pg(-9_109_110_466_470_504_941)));
        assert_eq!(i(-2_147_483_648), Some(pg(1_977_219_185_673_256_887)));
        assert_eq!(i(2_147_483_648), None, "out of int4's range");
        assert_eq!(
            Field::Bool.hash_stored(P, &ValueRef::Integer(1)),
            Some(pg(-3_670_598_878_359_251_130))
        );
        assert_eq!(
            Field::Bool.hash_stored(P, &ValueRef::Integer(0)),
            Some(pg(4_154_612_158_245_552_303))
        );
        assert_eq!(Field::Bool.hash_stored(P, &ValueRef::Integer(2)), None);
        assert_eq!(
            Field::Int8.hash_stored(P, &ValueRef::Integer(-2)),
            Some(pg(3_473_119_052_402_046_332))
        );
        assert_eq!(
            Field::Int8.hash_stored(P, &ValueRef::Integer(i64::MAX)),
            Some(pg(6_043_476_346_663_963_261))
        );
        assert_eq!(
            Field::Bytes.hash_stored(P, &ValueRef::Blob(&[1, 2, 0xff])),
            Some(pg(-6_866_554_790_736_646_419))
        );
        assert_eq!(
            Field::Uuid.hash_canonical(P, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            pg(7_543_054_272_012_930_821)
        );
        assert_eq!(
            Field::Text.hash_canonical(P, "hello"),
            pg(3_449_563_369_152_288_809)
        );
        assert_eq!(
            Field::StoredText.hash_stored(P, &ValueRef::Text(b"hello")),
            Some(pg(3_449_563_369_152_288_809))
        );
        // hash_record_extended(ROW(float8send(x)), 0) for NaN, 1.5 and -0 + 0.
        let f = |x: f64| Field::Float8.hash_stored(P, &ValueRef::Real(x));
        assert_eq!(f(1.5), Some(pg(-7_093_296_405_694_324_225)));
        assert_eq!(f(-0.0), Some(pg(7_025_667_271_560_692_764)));
        assert_eq!(f(0.0), f(-0.0));
        assert_eq!(
            Field::Float8.hash_canonical(P, "NaN"),
            pg(-4_049_696_873_896_861_356)
        );
    }

    #[test]
    fn canonical_texts_hash_as_the_stored_values() {
        for (field, stored, text) in [
            (Field::Int4, ValueRef::Integer(-7), "-7"),
            (Field::Int8, ValueRef::Integer(1 << 40), "1099511627776"),
            (Field::Bool, ValueRef::Integer(1), "true"),
            (Field::Bool, ValueRef::Integer(0), "false"),
            (Field::Bytes, ValueRef::Blob(&[0, 0xab]), "00ab"),
            (Field::Float8, ValueRef::Real(1.5), "3ff8000000000000"),
            (Field::Float8, ValueRef::Real(0.0), "0"),
        ] {
            for h in [RowHasher::Postgres, RowHasher::Local] {
                assert_eq!(
                    field.hash_stored(h, &stored),
                    Some(field.hash_canonical(h, text)),
                    "{field:?} {text} {h:?}"
                );
            }
        }
        // What the type does not print is hashed as a text: no typed value matches.
        assert_ne!(
            Field::Int4.hash_canonical(P, "7 "),
            Field::Int4.hash_canonical(P, "7")
        );
        assert_ne!(
            Field::Uuid.hash_canonical(P, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
            Field::Uuid.hash_canonical(P, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        );
        assert_ne!(
            Field::Bytes.hash_canonical(P, "0"),
            Field::Bytes.hash_canonical(P, "00")
        );
    }

    #[test]
    fn uuids_are_read_only_as_postgresql_prints_them() {
        assert_eq!(
            uuid_bytes("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Some([
                0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
                0x0a, 0x11
            ])
        );
        for not_printed in [
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            "A0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1}",
        ] {
            assert_eq!(uuid_bytes(not_printed), None, "{not_printed}");
        }
    }

    #[test]
    fn rows_fold_as_hash_record_extended() {
        // hash_record_extended(ROW(1::int4, NULL::text, 'hello'::text), 0)
        let row = [
            Field::Int4.hash_stored(P, &ValueRef::Integer(1)),
            None,
            Some(Field::Text.hash_canonical(P, "hello")),
        ]
        .into_iter()
        .fold(0, fold);
        assert_eq!(row, pg(-667_840_655_563_688_465));
        // hash_record_extended(ROW(int8send(-667840655563688465)), 0)
        assert_eq!(mix_row(P, row), pg(-2_977_939_944_421_062_931));
    }
}
