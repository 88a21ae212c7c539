//! The bundle type table: how a PostgreSQL column is held in a bundle file,
//! next to `mapping::types` (how it is held in SQLite). One line per type; the
//! README's "`pg2sqlite export` and `import`" section is this table in words.
//!
//! | PostgreSQL                  | Parquet                                   | CSV text                          |
//! |-----------------------------|-------------------------------------------|-----------------------------------|
//! | boolean                     | BOOLEAN                                   | `t` / `f`                         |
//! | smallint / integer / bigint | INT32 (Int16) / INT32 / INT64             | decimal                           |
//! | real / double precision     | FLOAT / DOUBLE (NaN, ±Inf kept)           | shortest round trip, `NaN`, `Infinity`, `-Infinity` |
//! | numeric(p,s), p ≤ 38, 0 ≤ s ≤ p, no NaN | DECIMAL(p,s)                  | exact decimal                     |
//! | other numeric               | BYTE_ARRAY String, exact decimal text     | exact decimal                     |
//! | text, varchar, char, name   | BYTE_ARRAY String                         | as is                             |
//! | enum                        | BYTE_ARRAY String, dictionary-encoded     | label                             |
//! | json / jsonb                | BYTE_ARRAY JSON                           | as is                             |
//! | bytea                       | BYTE_ARRAY                                | `\x` + lowercase hex              |
//! | uuid                        | FIXED_LEN_BYTE_ARRAY(16) UUID             | 36 lowercase characters           |
//! | date                        | INT32 DATE (±infinity: i32::MAX / -i32::MAX, as DuckDB) | ISO `YYYY-MM-DD`, `infinity`, `-infinity`, years < 1 as PostgreSQL (`… BC`) |
//! | timestamp                   | INT64 TIMESTAMP(µs, not UTC)              | ISO, space, 6-digit fraction trimmed |
//! | timestamptz                 | INT64 TIMESTAMP(µs, UTC) (±infinity: i64::MAX / -i64::MAX, as DuckDB) | ISO UTC with `Z`   |
//! | timestamp(tz) columns with values after 294247 AD | BYTE_ARRAY String, the CSV text form | as above |
//! | time                        | INT64 TIME(µs, not UTC)                   | `HH:MM:SS[.ffffff]`               |
//! | interval                    | group {months INT32, days INT32, micros INT64} | ISO 8601 `P<m>M<d>DT<s>S`    |
//! | arrays                      | LIST, nested once per dimension; a column whose values differ in dimensions: JSON text of each | JSON array, as SQLite stores it |
//! | pgvector vector             | LIST of FLOAT                             | JSON array                        |
//! | everything else             | BYTE_ARRAY String: PostgreSQL's text output | PostgreSQL's text output        |

use serde::{Deserialize, Serialize};

use crate::mapping::types::ValueKind;
use crate::source::catalog::{PgColumn, TypeClass};

/// How one column is held in a bundle file. Each variant also fixes the binary
/// wire form its values are read back into ([`super::wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(p,s)` that Parquet's DECIMAL holds exactly.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// Any other `numeric`: its exact decimal text (`NaN`, `Infinity` included).
    Numeric,
    /// text, varchar, char(n), name.
    Text,
    /// An enum's label; dictionary-encoded in Parquet.
    Enum,
    Json,
    Jsonb,
    Bytes,
    Uuid,
    /// Wire: PostgreSQL days since 2000-01-01 (i32).
    Date,
    /// Wire: PostgreSQL microseconds since 2000-01-01 (i64).
    Timestamp,
    Timestamptz,
    /// Wire: microseconds since midnight (i64).
    Time,
    /// Wire: microseconds (i64), days (i32), months (i32).
    Interval,
    /// pgvector's `vector`.
    Vector,
    /// PostgreSQL's own text output of the value (inet, ranges, money, …).
    PgText,
    /// An array; `dims` levels of lists in Parquet (every value of the column
    /// has that many dimensions; empty arrays have none and are an empty list).
    List {
        element: Box<FileType>,
        dims: u8,
        /// The element type's oid, written into the wire form read back.
        element_oid: u32,
    },
    /// A column Parquet's own type cannot hold every value of, held as the
    /// CSV text form of `of` (a String column; JSON for arrays): an array
    /// column whose values have different numbers of dimensions (a Parquet
    /// list nests a fixed number of levels), or a timestamp column with values
    /// after 294247 AD (PostgreSQL's reach 294276; Parquet's microseconds
    /// since 1970 end there).
    AsText {
        of: Box<FileType>,
    },
}

/// What the exporter learned of a column's values in the snapshot, where the
/// file type depends on them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnFacts {
    /// Whether a `numeric` column holds `NaN` (Parquet's DECIMAL cannot).
    pub numeric_nan: bool,
    /// Dimensions of an array column's values: (fewest, most); `None` when
    /// every value is NULL or empty.
    pub array_dims: Option<(u8, u8)>,
    /// Whether a timestamp column holds values after Parquet's last
    /// microsecond since 1970 (294247-01-10T04:00:54.775807).
    pub beyond_parquet_range: bool,
}

/// One column of a bundle file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleColumn {
    pub name: String,
    #[serde(flatten)]
    pub file_type: FileType,
}

/// The file type of a column read as `kind` (binary COPY, casts as the plan
/// makes them), or why the column cannot be held in a Parquet file.
pub fn file_type(
    column: &PgColumn,
    kind: &ValueKind,
    facts: ColumnFacts,
) -> Result<FileType, String> {
    let is_enum = matches!(base_class(&column.pg_type.class), TypeClass::Enum);
    Ok(match kind {
        ValueKind::Bool => FileType::Bool,
        ValueKind::Int2 => FileType::Int16,
        ValueKind::Int4 => FileType::Int32,
        ValueKind::Int8 => FileType::Int64,
        ValueKind::Float4 => FileType::Float32,
        ValueKind::Float8 => FileType::Float64,
        ValueKind::Numeric => match numeric_precision_scale(column.typmod) {
            Some((precision, scale)) if !facts.numeric_nan => {
                FileType::Decimal { precision, scale }
            }
            _ => FileType::Numeric,
        },
        ValueKind::Text if is_enum => FileType::Enum,
        ValueKind::Text | ValueKind::PaddedText => FileType::Text,
        ValueKind::TextForm => FileType::PgText,
        ValueKind::Json => FileType::Json,
        ValueKind::Jsonb => FileType::Jsonb,
        ValueKind::Bytea => FileType::Bytes,
        ValueKind::Uuid => FileType::Uuid,
        ValueKind::Date => FileType::Date,
        ValueKind::Timestamp | ValueKind::Timestamptz => {
            let t = if *kind == ValueKind::Timestamp {
                FileType::Timestamp
            } else {
                FileType::Timestamptz
            };
            if facts.beyond_parquet_range {
                FileType::AsText { of: Box::new(t) }
            } else {
                t
            }
        }
        ValueKind::Time => FileType::Time,
        ValueKind::Interval => FileType::Interval,
        ValueKind::Vector => FileType::Vector,
        ValueKind::Array(inner) => {
            let (element, element_oid) = match base_class(&column.pg_type.class) {
                TypeClass::Array(e) => (e, e.oid),
                _ => return Err(format!("{}: an array without an element type", column.name)),
            };
            let element_type = match inner.as_ref() {
                // Arrays of text forms are read as text[] (types::map_array).
                ValueKind::TextForm => FileType::PgText,
                k => {
                    let as_column = PgColumn {
                        pg_type: (**element).clone(),
                        typmod: -1,
                        ..column.clone()
                    };
                    file_type(&as_column, k, ColumnFacts::default())?
                }
            };
            let element_oid = if matches!(inner.as_ref(), ValueKind::TextForm) {
                TEXT_OID
            } else {
                element_oid
            };
            match facts.array_dims {
                None => FileType::List {
                    element: Box::new(element_type),
                    dims: 1,
                    element_oid,
                },
                Some((lo, hi)) if lo == hi => FileType::List {
                    element: Box::new(element_type),
                    dims: hi,
                    element_oid,
                },
                Some(_) => FileType::AsText {
                    of: Box::new(FileType::List {
                        element: Box::new(element_type),
                        dims: 1,
                        element_oid,
                    }),
                },
            }
        }
    })
}

/// `text`'s oid: the element type of arrays PostgreSQL was asked to cast to `text[]`.
const TEXT_OID: u32 = 25;

fn base_class(class: &TypeClass) -> &TypeClass {
    match class {
        TypeClass::Domain(base) => base_class(&base.class),
        c => c,
    }
}

/// `numeric(p,s)` that Parquet's DECIMAL holds: precision at most 38 and a scale
/// between 0 and the precision (PostgreSQL 15 allows others).
fn numeric_precision_scale(typmod: i32) -> Option<(u8, u8)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    // The scale is an 11-bit signed field since PostgreSQL 15.
    let scale = {
        let s = t & 0x7ff;
        if s & 0x400 != 0 {
            s - 0x800
        } else {
            s
        }
    };
    match (u8::try_from(precision), u8::try_from(scale)) {
        (Ok(p), Ok(s)) if (1..=38).contains(&p) && s <= p => Some((p, s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_only_where_parquet_holds_them() {
        let typmod = |p: i32, s: i32| ((p << 16) | (s & 0x7ff)) + 4;
        assert_eq!(numeric_precision_scale(typmod(10, 2)), Some((10, 2)));
        assert_eq!(numeric_precision_scale(typmod(38, 0)), Some((38, 0)));
        assert_eq!(numeric_precision_scale(typmod(39, 2)), None);
        assert_eq!(numeric_precision_scale(typmod(5, -2)), None);
        assert_eq!(numeric_precision_scale(typmod(2, 4)), None);
        assert_eq!(numeric_precision_scale(-1), None);
    }
}
