//! One bundle file in Parquet: PostgreSQL's binary wire values in, the same
//! wire values out, held in between in the Parquet types of [`crate::mapping::file_types`].
//!
//! The crate's low-level API is used (no Arrow): each column is one or more
//! leaf columns ([`schema`]), values are converted one by one ([`convert`]),
//! buffered per leaf for one row group ([`write`]) and read back in batches
//! ([`read`]).

mod convert;
mod read;
mod schema;
mod write;

#[cfg(test)]
mod tests;

pub use read::ParquetTableReader;
pub use write::ParquetTableWriter;

use parquet::data_type::{ByteArray, FixedLenByteArray};

/// Rows in one row group at most. Readers (DuckDB, Arrow) read a row group as
/// a unit; 128k rows keeps that unit small enough to stream while leaving
/// statistics and dictionaries enough rows to be worth having.
const ROW_GROUP_MAX_ROWS: usize = 128 * 1024;

/// Bytes of buffered values that close a row group before it reaches
/// [`ROW_GROUP_MAX_ROWS`]: a whole row group is held in memory until it is
/// written (columns are written one after the other), so wide rows or large
/// values must not grow it without bound. Each of an export's connections
/// fills one: at 12 MiB (about 90k rows of a 16-column table; DuckDB puts
/// 122,880 in one) the export of the app fixture at scale 10 peaked at
/// 135 MiB (16 MiB: 156 MiB; 8 MiB: 116 MiB, but slower).
const ROW_GROUP_MAX_BYTES: usize = 12 * 1024 * 1024;

/// One row read back: each column's wire value, `None` for NULL.
pub type WireRow = Vec<Option<Vec<u8>>>;

/// Rows returned by one [`ParquetTableReader::next_batch`] at most.
const BATCH_ROWS: usize = 8192;

/// One leaf column's values, in its physical type (NULLs are in the levels).
enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

/// One value of a leaf column, as [`convert`] produces it for writing: bytes
/// borrowed from the wire value where they are the same (text, json, bytea,
/// uuid), so that most values are copied once, into the leaf's buffer.
#[derive(Debug)]
enum Value<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(std::borrow::Cow<'a, [u8]>),
    Fixed(std::borrow::Cow<'a, [u8]>),
}

/// One value of a leaf column, as read back.
#[derive(Debug, Clone, Copy)]
enum ValueRef<'a> {
    Bool(bool),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(&'a [u8]),
}

/// The physical type of a leaf column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Physical {
    Bool,
    I32,
    I64,
    F32,
    F64,
    Bytes,
    Fixed,
}

impl Values {
    fn new(physical: Physical) -> Self {
        match physical {
            Physical::Bool => Values::Bool(Vec::new()),
            Physical::I32 => Values::I32(Vec::new()),
            Physical::I64 => Values::I64(Vec::new()),
            Physical::F32 => Values::F32(Vec::new()),
            Physical::F64 => Values::F64(Vec::new()),
            Physical::Bytes => Values::Bytes(Vec::new()),
            Physical::Fixed => Values::Fixed(Vec::new()),
        }
    }

    /// Appends a value; returns the bytes it occupies in memory (roughly), or
    /// `None` when its physical type is not this leaf's (a bug, not data).
    fn push(&mut self, value: Value) -> Option<usize> {
        Some(match (self, value) {
            (Values::Bool(v), Value::Bool(x)) => {
                v.push(x);
                1
            }
            (Values::I32(v), Value::I32(x)) => {
                v.push(x);
                4
            }
            (Values::I64(v), Value::I64(x)) => {
                v.push(x);
                8
            }
            (Values::F32(v), Value::F32(x)) => {
                v.push(x);
                4
            }
            (Values::F64(v), Value::F64(x)) => {
                v.push(x);
                8
            }
            (Values::Bytes(v), Value::Bytes(x)) => {
                let n = x.len() + std::mem::size_of::<ByteArray>();
                v.push(ByteArray::from(x.into_owned()));
                n
            }
            (Values::Fixed(v), Value::Fixed(x)) => {
                let n = x.len() + std::mem::size_of::<FixedLenByteArray>();
                v.push(FixedLenByteArray::from(x.into_owned()));
                n
            }
            _ => return None,
        })
    }

    fn get(&self, i: usize) -> Option<ValueRef<'_>> {
        match self {
            Values::Bool(v) => v.get(i).map(|&x| ValueRef::Bool(x)),
            Values::I32(v) => v.get(i).map(|&x| ValueRef::I32(x)),
            Values::I64(v) => v.get(i).map(|&x| ValueRef::I64(x)),
            Values::F32(v) => v.get(i).map(|&x| ValueRef::F32(x)),
            Values::F64(v) => v.get(i).map(|&x| ValueRef::F64(x)),
            Values::Bytes(v) => v.get(i).map(|x| ValueRef::Bytes(x.data())),
            Values::Fixed(v) => v.get(i).map(|x| ValueRef::Bytes(x.data())),
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Bool(v) => v.clear(),
            Values::I32(v) => v.clear(),
            Values::I64(v) => v.clear(),
            Values::F32(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
            Values::Fixed(v) => v.clear(),
        }
    }
}
