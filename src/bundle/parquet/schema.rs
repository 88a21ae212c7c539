//! The Parquet schema of a bundle file, and how each column's values are laid
//! out over leaf columns (the table in [`crate::mapping::file_types`]).

use std::ops::Range;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::schema::types::{Type, TypePtr};

use super::Physical;
use crate::bundle::BundleError;
use crate::mapping::file_types::{BundleColumn, FileType};

/// The root group's name (the one Arrow writes too).
const ROOT: &str = "schema";

/// Definition levels of a LIST column: 0 is a NULL column, 1 an empty list;
/// each dimension adds two (the repeated `list` group and its optional
/// `element`), the innermost element one more when it can be NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ListLevels {
    pub dims: u8,
    pub nullable: bool,
}

impl ListLevels {
    /// pgvector's `vector`: one dimension of REQUIRED floats.
    pub const VECTOR: ListLevels = ListLevels {
        dims: 1,
        nullable: false,
    };
    pub const NULL: i16 = 0;
    pub const EMPTY: i16 = 1;

    /// The level of an innermost element slot that holds NULL.
    pub fn null_element(self) -> i16 {
        2 * i16::from(self.dims)
    }

    /// The level of an innermost element that holds a value.
    pub fn value(self) -> i16 {
        self.null_element() + i16::from(self.nullable)
    }
}

/// How one column's values are laid out over its leaf columns.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    /// One leaf; definition level 1 for a value, 0 for NULL.
    Scalar,
    /// Three REQUIRED leaves (months, days, micros) in an OPTIONAL group.
    Interval,
    /// A PostgreSQL array: one leaf, `levels.dims` nested LISTs.
    Array {
        element: FileType,
        element_oid: u32,
        levels: ListLevels,
    },
    /// pgvector's `vector`: a LIST of FLOAT.
    Vector,
}

#[derive(Debug, Clone)]
pub(super) struct ColumnLayout {
    pub name: String,
    pub file_type: FileType,
    pub shape: Shape,
    /// This column's leaves among the file's leaf columns.
    pub leaves: Range<usize>,
}

impl ColumnLayout {
    /// Whether the column's leaves are inside a LIST (have repetition levels).
    pub fn repeated(&self) -> bool {
        matches!(self.shape, Shape::Array { .. } | Shape::Vector)
    }
}

/// The leaf columns of a file with `columns`, in schema order.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub columns: Vec<ColumnLayout>,
    pub leaves: Vec<Physical>,
}

impl Layout {
    pub fn new(columns: &[BundleColumn]) -> Result<Self, BundleError> {
        let mut layout = Layout {
            columns: Vec::with_capacity(columns.len()),
            leaves: Vec::with_capacity(columns.len()),
        };
        for c in columns {
            let invalid = |reason: String| BundleError::Value {
                column: c.name.clone(),
                reason,
            };
            let (shape, physical) = shape(&c.file_type).map_err(invalid)?;
            let start = layout.leaves.len();
            layout.leaves.extend_from_slice(&physical);
            layout.columns.push(ColumnLayout {
                name: c.name.clone(),
                file_type: c.file_type.clone(),
                shape,
                leaves: start..layout.leaves.len(),
            });
        }
        Ok(layout)
    }
}

fn shape(ft: &FileType) -> Result<(Shape, Vec<Physical>), String> {
    Ok(match ft {
        FileType::Interval => (
            Shape::Interval,
            vec![Physical::I32, Physical::I32, Physical::I64],
        ),
        FileType::Vector => (Shape::Vector, vec![Physical::F32]),
        FileType::List {
            element,
            dims,
            element_oid,
        } => {
            let physical = scalar_physical(element)
                .ok_or_else(|| format!("arrays of {element:?} cannot be held in Parquet"))?;
            if *dims == 0 {
                return Err("an array column of 0 dimensions".into());
            }
            let levels = ListLevels {
                dims: *dims,
                nullable: true,
            };
            let shape = Shape::Array {
                element: (**element).clone(),
                element_oid: *element_oid,
                levels,
            };
            (shape, vec![physical])
        }
        scalar => (
            Shape::Scalar,
            vec![scalar_physical(scalar).ok_or("not a scalar type")?],
        ),
    })
}

/// The physical type of a scalar file type; `None` for groups and lists.
pub(super) fn scalar_physical(ft: &FileType) -> Option<Physical> {
    Some(match ft {
        FileType::Bool => Physical::Bool,
        FileType::Int16 | FileType::Int32 | FileType::Date => Physical::I32,
        FileType::Int64 | FileType::Timestamp | FileType::Timestamptz | FileType::Time => {
            Physical::I64
        }
        FileType::Float32 => Physical::F32,
        FileType::Float64 => Physical::F64,
        FileType::Decimal { precision, .. } => decimal_physical(*precision),
        FileType::Numeric
        | FileType::Text
        | FileType::PgText
        | FileType::Enum
        | FileType::Json
        | FileType::Jsonb
        | FileType::AsText { .. }
        | FileType::Bytes => Physical::Bytes,
        FileType::Uuid => Physical::Fixed,
        FileType::Interval | FileType::Vector | FileType::List { .. } => return None,
    })
}

/// DECIMAL's physical type: the smallest that the Parquet format allows for
/// the precision (readers expect INT32 up to 9 digits, INT64 up to 18).
pub(super) fn decimal_physical(precision: u8) -> Physical {
    match precision {
        0..=9 => Physical::I32,
        10..=18 => Physical::I64,
        _ => Physical::Fixed,
    }
}

const UUID_BYTES: i32 = 16;
/// Bytes of a FIXED_LEN_BYTE_ARRAY DECIMAL: an i128 in big-endian two's
/// complement, which holds every 38-digit value.
const DECIMAL_BYTES: i32 = 16;

/// The message type of a file with `columns`: every column OPTIONAL.
pub(super) fn message(columns: &[BundleColumn]) -> Result<TypePtr, BundleError> {
    let mut fields = Vec::with_capacity(columns.len());
    for c in columns {
        let t = field(&c.name, &c.file_type, Repetition::OPTIONAL).map_err(|reason| {
            BundleError::Value {
                column: c.name.clone(),
                reason,
            }
        })?;
        fields.push(Arc::new(t));
    }
    Type::group_type_builder(ROOT)
        .with_fields(fields)
        .build()
        .map(Arc::new)
        .map_err(|e| BundleError::Damaged(format!("Parquet schema: {e}")))
}

fn field(name: &str, ft: &FileType, repetition: Repetition) -> Result<Type, String> {
    match ft {
        FileType::Interval => interval(name, repetition),
        FileType::Vector => list(name, repetition, 1, &|n| {
            primitive(n, &FileType::Float32, Repetition::REQUIRED)
        }),
        FileType::List { element, dims, .. } => list(name, repetition, *dims, &|n| {
            primitive(n, element, Repetition::OPTIONAL)
        }),
        scalar => primitive(name, scalar, repetition),
    }
}

/// The standard three-level LIST, nested `dims` times:
/// `<rep> group name (LIST) { repeated group list { optional … element } }`.
fn list(
    name: &str,
    repetition: Repetition,
    dims: u8,
    element: &dyn Fn(&str) -> Result<Type, String>,
) -> Result<Type, String> {
    let inner = if dims > 1 {
        list("element", Repetition::OPTIONAL, dims - 1, element)?
    } else {
        element("element")?
    };
    let repeated = Type::group_type_builder("list")
        .with_repetition(Repetition::REPEATED)
        .with_fields(vec![Arc::new(inner)])
        .build()
        .map_err(|e| e.to_string())?;
    Type::group_type_builder(name)
        .with_repetition(repetition)
        .with_logical_type(Some(LogicalType::List))
        .with_fields(vec![Arc::new(repeated)])
        .build()
        .map_err(|e| e.to_string())
}

fn interval(name: &str, repetition: Repetition) -> Result<Type, String> {
    let part = |n: &str, t: PhysicalType| {
        Type::primitive_type_builder(n, t)
            .with_repetition(Repetition::REQUIRED)
            .build()
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    Type::group_type_builder(name)
        .with_repetition(repetition)
        .with_fields(vec![
            part("months", PhysicalType::INT32)?,
            part("days", PhysicalType::INT32)?,
            part("micros", PhysicalType::INT64)?,
        ])
        .build()
        .map_err(|e| e.to_string())
}

fn primitive(name: &str, ft: &FileType, repetition: Repetition) -> Result<Type, String> {
    let (physical, logical) = match ft {
        FileType::Bool => (PhysicalType::BOOLEAN, None),
        FileType::Int16 => (PhysicalType::INT32, Some(LogicalType::integer(16, true))),
        FileType::Int32 => (PhysicalType::INT32, None),
        FileType::Int64 => (PhysicalType::INT64, None),
        FileType::Float32 => (PhysicalType::FLOAT, None),
        FileType::Float64 => (PhysicalType::DOUBLE, None),
        FileType::Decimal { precision, scale } => {
            return decimal(name, *precision, *scale, repetition)
        }
        FileType::Numeric | FileType::Text | FileType::PgText | FileType::Enum => {
            (PhysicalType::BYTE_ARRAY, Some(LogicalType::String))
        }
        FileType::Json | FileType::Jsonb => (PhysicalType::BYTE_ARRAY, Some(LogicalType::Json)),
        FileType::AsText { of } => match **of {
            FileType::List { .. } => (PhysicalType::BYTE_ARRAY, Some(LogicalType::Json)),
            _ => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        },
        FileType::Bytes => (PhysicalType::BYTE_ARRAY, None),
        FileType::Uuid => {
            return Type::primitive_type_builder(name, PhysicalType::FIXED_LEN_BYTE_ARRAY)
                .with_repetition(repetition)
                .with_length(UUID_BYTES)
                .with_logical_type(Some(LogicalType::Uuid))
                .build()
                .map_err(|e| e.to_string())
        }
        FileType::Date => (PhysicalType::INT32, Some(LogicalType::Date)),
        FileType::Timestamp => (
            PhysicalType::INT64,
            Some(LogicalType::timestamp(false, TimeUnit::MICROS)),
        ),
        FileType::Timestamptz => (
            PhysicalType::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
        ),
        FileType::Time => (
            PhysicalType::INT64,
            Some(LogicalType::time(false, TimeUnit::MICROS)),
        ),
        FileType::Interval | FileType::Vector | FileType::List { .. } => {
            return Err(format!("{ft:?} is not a scalar type"))
        }
    };
    Type::primitive_type_builder(name, physical)
        .with_repetition(repetition)
        .with_logical_type(logical)
        .build()
        .map_err(|e| e.to_string())
}

fn decimal(name: &str, precision: u8, scale: u8, repetition: Repetition) -> Result<Type, String> {
    let (physical, length) = match decimal_physical(precision) {
        Physical::I32 => (PhysicalType::INT32, -1),
        Physical::I64 => (PhysicalType::INT64, -1),
        _ => (PhysicalType::FIXED_LEN_BYTE_ARRAY, DECIMAL_BYTES),
    };
    Type::primitive_type_builder(name, physical)
        .with_repetition(repetition)
        .with_length(length)
        .with_precision(i32::from(precision))
        .with_scale(i32::from(scale))
        .with_logical_type(Some(LogicalType::decimal(
            i32::from(scale),
            i32::from(precision),
        )))
        .build()
        .map_err(|e| e.to_string())
}

/// Whether the file's schema is `expected`; otherwise what differs, by column.
pub(super) fn check(found: &Type, expected: &Type) -> Result<(), BundleError> {
    let (found, expected) = (found.get_fields(), expected.get_fields());
    if found.len() != expected.len() {
        return Err(BundleError::Damaged(format!(
            "the file has {} columns, the manifest {}",
            found.len(),
            expected.len()
        )));
    }
    for (f, e) in found.iter().zip(expected) {
        if f != e {
            return Err(BundleError::Damaged(format!(
                "column {}: the file holds `{}`, the manifest says `{}`",
                e.name(),
                describe(f),
                describe(e)
            )));
        }
    }
    Ok(())
}

/// A field's schema on one line, as Parquet's tools print it.
fn describe(t: &Type) -> String {
    let mut out = Vec::new();
    parquet::schema::printer::print_schema(&mut out, t);
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `strides[k]`: how many elements one item of dimension `k` (outermost 0)
/// spans in row-major order.
pub(super) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; dims.len()];
    for k in (0..dims.len().saturating_sub(1)).rev() {
        s[k] = s[k + 1].saturating_mul(dims[k + 1]);
    }
    s
}

/// The repetition level of the `i`-th element (row-major) of an array with
/// these strides: 0 starts the row, otherwise the outermost dimension (1-based)
/// in which a new item begins with this element.
pub(super) fn repetition(i: usize, strides: &[usize]) -> i16 {
    if i == 0 {
        return 0;
    }
    let k = strides
        .iter()
        .position(|&s| i.checked_rem(s) == Some(0))
        .unwrap_or(strides.len().saturating_sub(1));
    i16::try_from(k + 1).unwrap_or(i16::MAX)
}
