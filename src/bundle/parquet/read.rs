//! Reading one bundle file back: leaf columns in batches of rows, reassembled
//! into the wire values they were written from.

use std::fs::File;

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{
    BoolType, ByteArrayType, DoubleType, FixedLenByteArrayType, FloatType, Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;

use super::convert::{from_parquet, vector_wire};
use super::schema::{self, repetition, strides, ColumnLayout, Layout, ListLevels, Shape};
use super::{Physical, ValueRef, Values, WireRow, BATCH_ROWS};
use crate::bundle::{wire, BundleError};
use crate::mapping::file_types::{BundleColumn, FileType};

/// Reads one table's rows back from a Parquet file.
pub struct ParquetTableReader {
    reader: SerializedFileReader<File>,
    layout: Layout,
    rows: u64,
    next_group: usize,
    group: Option<Group>,
    chunks: Vec<LeafChunk>,
}

/// The row group being read: a reader per leaf column.
struct Group {
    readers: Vec<LeafReader>,
    remaining: usize,
}

enum LeafReader {
    Bool(ColumnReaderImpl<BoolType>),
    I32(ColumnReaderImpl<Int32Type>),
    I64(ColumnReaderImpl<Int64Type>),
    F32(ColumnReaderImpl<FloatType>),
    F64(ColumnReaderImpl<DoubleType>),
    Bytes(ColumnReaderImpl<ByteArrayType>),
    Fixed(ColumnReaderImpl<FixedLenByteArrayType>),
}

impl LeafReader {
    fn new(column: ColumnReader) -> Option<Self> {
        Some(match column {
            ColumnReader::BoolColumnReader(r) => LeafReader::Bool(r),
            ColumnReader::Int32ColumnReader(r) => LeafReader::I32(r),
            ColumnReader::Int64ColumnReader(r) => LeafReader::I64(r),
            ColumnReader::FloatColumnReader(r) => LeafReader::F32(r),
            ColumnReader::DoubleColumnReader(r) => LeafReader::F64(r),
            ColumnReader::ByteArrayColumnReader(r) => LeafReader::Bytes(r),
            ColumnReader::FixedLenByteArrayColumnReader(r) => LeafReader::Fixed(r),
            ColumnReader::Int96ColumnReader(_) => return None,
        })
    }

    /// Reads `n` whole rows into `chunk`; returns how many there were.
    fn read(&mut self, n: usize, chunk: &mut LeafChunk) -> Result<usize, ParquetError> {
        let (def, rep) = (Some(&mut chunk.def), Some(&mut chunk.rep));
        let (records, _, _) = match (self, &mut chunk.values) {
            (LeafReader::Bool(r), Values::Bool(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::I32(r), Values::I32(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::I64(r), Values::I64(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::F32(r), Values::F32(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::F64(r), Values::F64(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::Bytes(r), Values::Bytes(v)) => r.read_records(n, def, rep, v)?,
            (LeafReader::Fixed(r), Values::Fixed(v)) => r.read_records(n, def, rep, v)?,
            _ => {
                return Err(ParquetError::General(
                    "a leaf column's type differs from the schema".into(),
                ))
            }
        };
        Ok(records)
    }
}

/// One leaf column's levels and values of the current batch, and how far
/// they have been taken.
struct LeafChunk {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    repeated: bool,
    level: usize,
    value: usize,
}

impl LeafChunk {
    fn new(physical: Physical, repeated: bool) -> Self {
        LeafChunk {
            values: Values::new(physical),
            def: Vec::new(),
            rep: Vec::new(),
            repeated,
            level: 0,
            value: 0,
        }
    }

    fn clear(&mut self) {
        self.values.clear();
        self.def.clear();
        self.rep.clear();
        self.level = 0;
        self.value = 0;
    }

    /// The next slot's definition level.
    fn next_def(&mut self) -> Result<i16, String> {
        let d = *self.def.get(self.level).ok_or("fewer levels than rows")?;
        self.level += 1;
        Ok(d)
    }

    /// The repetition level of the next slot, if it continues the current row.
    fn continues_row(&self) -> Option<i16> {
        if !self.repeated {
            return None;
        }
        self.rep.get(self.level).copied().filter(|&r| r > 0)
    }

    fn next_value(&mut self) -> Result<ValueRef<'_>, String> {
        let i = self.value;
        self.value += 1;
        self.values
            .get(i)
            .ok_or_else(|| "fewer values than levels".into())
    }

    fn exhausted(&self) -> bool {
        self.level == self.def.len()
            && (!self.repeated || self.level == self.rep.len())
            && self.values.get(self.value).is_none()
    }
}

fn damaged(what: &str) -> impl Fn(ParquetError) -> BundleError + '_ {
    move |e| BundleError::Damaged(format!("{what}: {e}"))
}

impl ParquetTableReader {
    /// Opens a file and checks that its schema is the one `columns` describe (else BundleError::Damaged naming what differs).
    pub fn open(file: File, columns: &[BundleColumn]) -> Result<Self, BundleError> {
        let layout = Layout::new(columns)?;
        let expected = schema::message(columns)?;
        let reader =
            SerializedFileReader::new(file).map_err(damaged("not a readable Parquet file"))?;
        let meta = reader.metadata();
        schema::check(meta.file_metadata().schema(), &expected)?;
        let rows = u64::try_from(meta.file_metadata().num_rows())
            .map_err(|_| BundleError::Damaged("a negative row count".into()))?;
        let in_groups = meta
            .row_groups()
            .iter()
            .try_fold(0i64, |sum, g| sum.checked_add(g.num_rows()));
        if in_groups.and_then(|n| u64::try_from(n).ok()) != Some(rows) {
            return Err(BundleError::Damaged(format!(
                "the footer counts {rows} rows, its row groups {in_groups:?}"
            )));
        }
        let mut chunks = Vec::with_capacity(layout.leaves.len());
        for c in &layout.columns {
            let repeated = c.repeated();
            for &physical in &layout.leaves[c.leaves.clone()] {
                chunks.push(LeafChunk::new(physical, repeated));
            }
        }
        Ok(ParquetTableReader {
            reader,
            layout,
            rows,
            next_group: 0,
            group: None,
            chunks,
        })
    }

    /// Rows in the file (from the footer).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The next batch of at most ~8192 rows, each a Vec of wire values (None = NULL); None at the end.
    pub fn next_batch(&mut self) -> Result<Option<Vec<WireRow>>, BundleError> {
        loop {
            let group = match &mut self.group {
                Some(g) if g.remaining > 0 => g,
                _ => {
                    if self.next_group >= self.reader.num_row_groups() {
                        self.group = None;
                        return Ok(None);
                    }
                    self.group = Some(open_group(&self.reader, self.next_group)?);
                    self.next_group += 1;
                    continue;
                }
            };
            let n = group.remaining.min(BATCH_ROWS);
            for (leaf, (reader, chunk)) in
                group.readers.iter_mut().zip(&mut self.chunks).enumerate()
            {
                chunk.clear();
                let got = reader.read(n, chunk).map_err(damaged("reading a column"))?;
                if got != n {
                    return Err(BundleError::Damaged(format!(
                        "leaf column {leaf} holds {got} of a row group's next {n} rows"
                    )));
                }
            }
            group.remaining -= n;
            return self.assemble(n).map(Some);
        }
    }

    /// The `n` rows the leaf chunks hold, as wire values.
    fn assemble(&mut self, n: usize) -> Result<Vec<WireRow>, BundleError> {
        let width = self.layout.columns.len();
        let mut rows: Vec<WireRow> = (0..n).map(|_| Vec::with_capacity(width)).collect();
        for column in &self.layout.columns {
            let fail =
                |reason: String| BundleError::Damaged(format!("column {}: {reason}", column.name));
            let chunks = &mut self.chunks[column.leaves.clone()];
            for row in &mut rows {
                row.push(take_value(column, chunks).map_err(fail)?);
            }
            if !chunks.iter().all(LeafChunk::exhausted) {
                return Err(fail("more levels or values than rows".into()));
            }
        }
        Ok(rows)
    }
}

fn open_group(reader: &SerializedFileReader<File>, index: usize) -> Result<Group, BundleError> {
    let group = reader
        .get_row_group(index)
        .map_err(damaged("a row group"))?;
    let remaining = usize::try_from(group.metadata().num_rows())
        .map_err(|_| BundleError::Damaged(format!("row group {index}: a negative row count")))?;
    let mut readers = Vec::with_capacity(group.num_columns());
    for leaf in 0..group.num_columns() {
        let column = group
            .get_column_reader(leaf)
            .map_err(damaged("a column chunk"))?;
        readers.push(LeafReader::new(column).ok_or_else(|| {
            BundleError::Damaged(format!("leaf column {leaf}: INT96 is not a bundle type"))
        })?);
    }
    Ok(Group { readers, remaining })
}

/// The next row's value of `column` from its leaf chunks.
fn take_value(column: &ColumnLayout, chunks: &mut [LeafChunk]) -> Result<Option<Vec<u8>>, String> {
    match (&column.shape, chunks) {
        (Shape::Scalar, [leaf]) => match leaf.next_def()? {
            0 => Ok(None),
            _ => from_parquet(&column.file_type, leaf.next_value()?).map(Some),
        },
        (Shape::Interval, [months, days, micros]) => {
            let defs = (months.next_def()?, days.next_def()?, micros.next_def()?);
            match defs {
                (0, 0, 0) => Ok(None),
                (1, 1, 1) => {
                    let m = int32(months.next_value()?)?;
                    let d = int32(days.next_value()?)?;
                    let us = match micros.next_value()? {
                        ValueRef::I64(x) => x,
                        other => return Err(format!("interval micros: {other:?}")),
                    };
                    Ok(Some(wire::interval(us, d, m)))
                }
                _ => Err("an interval's parts disagree on NULL".into()),
            }
        }
        (
            Shape::Array {
                element,
                element_oid,
                levels,
            },
            [leaf],
        ) => take_array(leaf, element, *element_oid, *levels),
        (Shape::Vector, [leaf]) => take_vector(leaf),
        (shape, chunks) => Err(format!("{shape:?} with {} leaves", chunks.len())),
    }
}

fn int32(v: ValueRef<'_>) -> Result<i32, String> {
    match v {
        ValueRef::I32(x) => Ok(x),
        other => Err(format!("expected INT32, found {other:?}")),
    }
}

/// What one row of a LIST column holds.
enum ListRow {
    Null,
    /// Dimensions, outermost first; none for an empty list.
    Elements(Vec<usize>),
}

/// Takes one row of a LIST column, handing each innermost element (None for
/// NULL) to `element` in order, and checks that the lists are rectangular.
fn take_list(
    leaf: &mut LeafChunk,
    levels: ListLevels,
    mut element: impl FnMut(Option<ValueRef<'_>>) -> Result<(), String>,
) -> Result<ListRow, String> {
    let start = leaf.level;
    if leaf.rep.get(start).is_some_and(|&r| r != 0) {
        return Err("a row starts inside a list".into());
    }
    match leaf.next_def()? {
        ListLevels::NULL => return Ok(ListRow::Null),
        ListLevels::EMPTY => return Ok(ListRow::Elements(Vec::new())),
        _ => {}
    }
    let d = usize::from(levels.dims);
    let (mut index, mut dims) = (vec![0usize; d], vec![0usize; d]);
    let mut count = 0usize;
    let mut def = leaf.def.get(start).copied().unwrap_or_default();
    loop {
        if def == levels.value() {
            element(Some(leaf.next_value()?))?;
        } else if def == levels.null_element() && levels.nullable {
            element(None)?;
        } else {
            return Err("an empty or NULL list inside an array (not rectangular)".into());
        }
        count += 1;
        for (k, len) in dims.iter_mut().enumerate() {
            *len = (*len).max(index[k] + 1);
        }
        let Some(rep) = leaf.continues_row() else {
            break;
        };
        // A new item begins in dimension `rep`; deeper indexes restart.
        let k = usize::try_from(rep - 1).map_err(|_| "a bad repetition level")?;
        let slot = index
            .get_mut(k)
            .ok_or("a repetition level beyond the dimensions")?;
        *slot += 1;
        index[k + 1..].fill(0);
        def = leaf.next_def()?;
    }
    // Rectangular: as many elements as the dimensions make, each starting the
    // items the row-major order says it starts.
    let strides = strides(&dims);
    let reps = &leaf.rep[start..leaf.level];
    if dims.iter().product::<usize>() != count
        || reps
            .iter()
            .enumerate()
            .any(|(i, &r)| r != repetition(i, &strides))
    {
        return Err(format!("an array of {count} elements is not rectangular"));
    }
    Ok(ListRow::Elements(dims))
}

fn take_array(
    leaf: &mut LeafChunk,
    element: &FileType,
    element_oid: u32,
    levels: ListLevels,
) -> Result<Option<Vec<u8>>, String> {
    let mut elements: Vec<Option<Vec<u8>>> = Vec::new();
    let row = take_list(leaf, levels, |v| {
        elements.push(v.map(|v| from_parquet(element, v)).transpose()?);
        Ok(())
    })?;
    match row {
        ListRow::Null => Ok(None),
        ListRow::Elements(dims) => {
            wire::build_array(element_oid, &dims, elements.iter().map(|e| e.as_deref()))
                .map(Some)
                .map_err(|e| e.0)
        }
    }
}

fn take_vector(leaf: &mut LeafChunk) -> Result<Option<Vec<u8>>, String> {
    let mut floats = Vec::new();
    let row = take_list(leaf, ListLevels::VECTOR, |v| match v {
        Some(ValueRef::F32(f)) => {
            floats.push(f);
            Ok(())
        }
        other => Err(format!("vector element {other:?}")),
    })?;
    match row {
        ListRow::Null => Ok(None),
        ListRow::Elements(_) => vector_wire(&floats).map(Some),
    }
}
