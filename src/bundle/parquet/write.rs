//! Writing one bundle file: wire values into per-leaf buffers, one row group
//! at a time.

use std::io::Write;
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{ByteArray, FixedLenByteArray};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::convert::{to_parquet, vector_floats};
use super::schema::{self, repetition, strides, ColumnLayout, Layout, ListLevels, Shape};
use super::{Physical, Value, Values, ROW_GROUP_MAX_BYTES, ROW_GROUP_MAX_ROWS};
use crate::bundle::{wire, BundleError};
use crate::mapping::convert::RawRows;
use crate::mapping::file_types::{BundleColumn, FileType};

/// Writes one table's rows into a Parquet file.
pub struct ParquetTableWriter<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    layout: Layout,
    leaves: Vec<LeafBuffer>,
    /// Rows buffered for the current row group.
    rows: usize,
    max_rows: usize,
    max_bytes: usize,
    /// An error left the buffers with part of a row: nothing more is written.
    failed: bool,
}

/// One leaf column's levels and values for the current row group.
struct LeafBuffer {
    /// Values of fixed-size physical types.
    values: Values,
    /// Byte-array values end to end, and where each ends: one buffer per leaf
    /// rather than an allocation per value (that was a third of the export's
    /// time on a wide table); sliced into the crate's byte arrays on writing.
    arena: Vec<u8>,
    ends: Vec<usize>,
    def: Vec<i16>,
    rep: Vec<i16>,
    /// Whether the leaf is inside a LIST (has repetition levels).
    repeated: bool,
    bytes: usize,
}

impl LeafBuffer {
    fn new(physical: Physical, repeated: bool) -> Self {
        LeafBuffer {
            values: Values::new(physical),
            arena: Vec::new(),
            ends: Vec::new(),
            def: Vec::new(),
            rep: Vec::new(),
            repeated,
            bytes: 0,
        }
    }

    /// Appends one slot: its levels, and its value when it has one.
    fn push(&mut self, def: i16, rep: i16, value: Option<Value>) -> Result<(), String> {
        match value {
            Some(Value::Bytes(b) | Value::Fixed(b)) => {
                if !matches!(self.values, Values::Bytes(_) | Values::Fixed(_)) {
                    return Err("a value's physical type is not its leaf column's".into());
                }
                self.arena.extend_from_slice(&b);
                self.ends.push(self.arena.len());
                self.bytes += b.len() + std::mem::size_of::<usize>();
            }
            Some(v) => {
                self.bytes += self
                    .values
                    .push(v)
                    .ok_or("a value's physical type is not its leaf column's")?;
            }
            None => {}
        }
        self.def.push(def);
        if self.repeated {
            self.rep.push(rep);
        }
        self.bytes += 4;
        Ok(())
    }

    /// The byte-array values, each a slice of the one buffer.
    fn byte_arrays(&mut self) -> Vec<ByteArray> {
        let data = bytes::Bytes::from(std::mem::take(&mut self.arena));
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let b = ByteArray::from(data.slice(start..end));
                start = end;
                b
            })
            .collect()
    }

    fn write(&mut self, w: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
        let arrays = match self.values {
            Values::Bytes(_) | Values::Fixed(_) => self.byte_arrays(),
            _ => Vec::new(),
        };
        let def = Some(self.def.as_slice());
        let rep = self.repeated.then_some(self.rep.as_slice());
        match (&self.values, w) {
            (Values::Bool(v), ColumnWriter::BoolColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::I32(v), ColumnWriter::Int32ColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::I64(v), ColumnWriter::Int64ColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::F32(v), ColumnWriter::FloatColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::F64(v), ColumnWriter::DoubleColumnWriter(w)) => w.write_batch(v, def, rep),
            (Values::Bytes(_), ColumnWriter::ByteArrayColumnWriter(w)) => {
                w.write_batch(&arrays, def, rep)
            }
            (Values::Fixed(_), ColumnWriter::FixedLenByteArrayColumnWriter(w)) => {
                let fixed: Vec<FixedLenByteArray> =
                    arrays.into_iter().map(FixedLenByteArray::from).collect();
                w.write_batch(&fixed, def, rep)
            }
            _ => Err(ParquetError::General(
                "a leaf's buffer does not match its column writer".into(),
            )),
        }
        .map(|_| ())
    }

    fn clear(&mut self) {
        self.values.clear();
        self.arena.clear();
        self.ends.clear();
        self.def.clear();
        self.rep.clear();
        self.bytes = 0;
    }
}

fn io(e: ParquetError) -> BundleError {
    BundleError::Io(std::io::Error::other(format!("Parquet: {e}")))
}

fn properties(columns: &[BundleColumn]) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page);
    // Dictionaries only where values repeat by nature: an enum's labels, and
    // text (statuses, countries, ...), where the crate falls back to plain
    // pages on its own when they do not. Hashing every uuid, number, date or
    // JSON document for a dictionary that is then dropped cost a tenth of the
    // export of a wide table.
    props = props.set_dictionary_enabled(false);
    for c in columns {
        if matches!(
            c.file_type,
            FileType::Enum | FileType::Text | FileType::PgText
        ) {
            props =
                props.set_column_dictionary_enabled(ColumnPath::new(vec![c.name.clone()]), true);
        }
    }
    props.build()
}

impl<W: Write + Send> ParquetTableWriter<W> {
    /// ZSTD compression, statistics on, row groups capped by rows AND by buffered bytes.
    pub fn new(out: W, columns: &[BundleColumn]) -> Result<Self, BundleError> {
        let layout = Layout::new(columns)?;
        let message = schema::message(columns)?;
        let writer =
            SerializedFileWriter::new(out, message, Arc::new(properties(columns))).map_err(io)?;
        let mut leaves = Vec::with_capacity(layout.leaves.len());
        for c in &layout.columns {
            let repeated = c.repeated();
            for &physical in &layout.leaves[c.leaves.clone()] {
                leaves.push(LeafBuffer::new(physical, repeated));
            }
        }
        Ok(ParquetTableWriter {
            writer,
            layout,
            leaves,
            rows: 0,
            max_rows: ROW_GROUP_MAX_ROWS,
            max_bytes: ROW_GROUP_MAX_BYTES,
            failed: false,
        })
    }

    /// Smaller row groups, for tests.
    #[cfg(test)]
    pub(super) fn with_caps(mut self, max_rows: usize, max_bytes: usize) -> Self {
        self.max_rows = max_rows;
        self.max_bytes = max_bytes;
        self
    }

    /// Appends rows; values are wire forms of each column's FileType.
    pub fn write_rows(&mut self, rows: &(impl RawRows + ?Sized)) -> Result<(), BundleError> {
        if self.failed {
            return Err(failed());
        }
        for row in 0..rows.row_count() {
            let done = self.write_row(rows, row).and_then(|()| {
                self.rows += 1;
                let bytes: usize = self.leaves.iter().map(|l| l.bytes).sum();
                if self.rows >= self.max_rows || bytes >= self.max_bytes {
                    self.flush()
                } else {
                    Ok(())
                }
            });
            if done.is_err() {
                self.failed = true;
                return done;
            }
        }
        Ok(())
    }

    /// Flushes the last row group, writes the footer, returns the writer.
    pub fn finish(mut self) -> Result<W, BundleError> {
        if self.failed {
            return Err(failed());
        }
        self.flush()?;
        self.writer.into_inner().map_err(io)
    }

    fn write_row(&mut self, rows: &(impl RawRows + ?Sized), row: usize) -> Result<(), BundleError> {
        for (ci, column) in self.layout.columns.iter().enumerate() {
            let fail = |reason: String| BundleError::Value {
                column: column.name.clone(),
                reason,
            };
            let value = rows.raw(row, ci).map_err(fail)?;
            let leaves = &mut self.leaves[column.leaves.clone()];
            push(column, leaves, value).map_err(fail)?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> Result<(), BundleError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(io)?;
        for leaf in &mut self.leaves {
            let mut column = group
                .next_column()
                .map_err(io)?
                .ok_or_else(|| io(ParquetError::General("fewer columns than leaves".into())))?;
            leaf.write(column.untyped()).map_err(io)?;
            column.close().map_err(io)?;
            leaf.clear();
        }
        group.close().map_err(io)?;
        self.rows = 0;
        Ok(())
    }
}

fn failed() -> BundleError {
    BundleError::Io(std::io::Error::other(
        "the Parquet writer failed earlier and holds part of a row",
    ))
}

/// Appends one column value (NULL when `None`) to the column's leaves.
fn push(
    column: &ColumnLayout,
    leaves: &mut [LeafBuffer],
    value: Option<&[u8]>,
) -> Result<(), String> {
    let Some(w) = value else {
        for leaf in leaves {
            leaf.push(0, 0, None)?;
        }
        return Ok(());
    };
    match (&column.shape, leaves) {
        (Shape::Scalar, [leaf]) => leaf.push(1, 0, Some(to_parquet(&column.file_type, w)?)),
        (Shape::Interval, [months, days, micros]) => {
            let (us, d, m) = wire::interval_fields(w).map_err(|e| e.0)?;
            months.push(1, 0, Some(Value::I32(m)))?;
            days.push(1, 0, Some(Value::I32(d)))?;
            micros.push(1, 0, Some(Value::I64(us)))
        }
        (
            Shape::Array {
                element, levels, ..
            },
            [leaf],
        ) => push_array(leaf, element, *levels, w),
        (Shape::Vector, [leaf]) => push_vector(leaf, w),
        (shape, leaves) => Err(format!("{shape:?} with {} leaves", leaves.len())),
    }
}

fn push_array(
    leaf: &mut LeafBuffer,
    element: &FileType,
    levels: ListLevels,
    w: &[u8],
) -> Result<(), String> {
    let parts = wire::parse_array(w).map_err(|e| e.0)?;
    // PostgreSQL has one empty array, of no dimensions.
    if parts.elements.is_empty() {
        return leaf.push(ListLevels::EMPTY, 0, None);
    }
    if parts.dims.len() != usize::from(levels.dims) {
        return Err(format!(
            "an array of {} dimensions in a column of {}-dimensional arrays \
             (a Parquet list nests the same for every value; export with --format csv)",
            parts.dims.len(),
            levels.dims
        ));
    }
    let strides = strides(&parts.dims);
    for (i, e) in parts.elements.iter().enumerate() {
        let rep = repetition(i, &strides);
        match e {
            None => leaf.push(levels.null_element(), rep, None)?,
            Some(v) => {
                let value = to_parquet(element, v).map_err(|r| format!("array element: {r}"))?;
                leaf.push(levels.value(), rep, Some(value))?;
            }
        }
    }
    Ok(())
}

fn push_vector(leaf: &mut LeafBuffer, w: &[u8]) -> Result<(), String> {
    let floats = vector_floats(w)?;
    if floats.is_empty() {
        return leaf.push(ListLevels::EMPTY, 0, None);
    }
    for (i, f) in floats.into_iter().enumerate() {
        leaf.push(
            ListLevels::VECTOR.value(),
            i16::from(i > 0),
            Some(Value::F32(f)),
        )?;
    }
    Ok(())
}
