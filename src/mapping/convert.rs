//! Raw COPY rows → one Arrow `RecordBatch` of SQLite-ready values.
//!
//! Runs on the rayon pool. Every column becomes one of four Arrow types that
//! match SQLite's storage classes (Int64, Float64, Utf8, Binary), so the single
//! writer thread only binds values and never formats or parses.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::decode::{self, ArrayLosses, DecodeError};
use super::ledger::{LossLedger, LossReason};
use super::time::{format_date, format_timestamp, TimestampStyle};
use super::types::{Storage, ValueKind};

/// Anything that hands out the raw binary value of column `i` of one row.
pub trait RawRow {
    fn raw(&self, column: usize) -> Result<Option<&[u8]>, String>;
}

impl RawRow for tokio_postgres::binary_copy::BinaryCopyOutRow {
    fn raw(&self, column: usize) -> Result<Option<&[u8]>, String> {
        self.try_get::<Option<AnyRaw<'_>>>(column)
            .map(|v| v.map(|r| r.0))
            .map_err(|e| e.to_string())
    }
}

impl RawRow for Vec<Option<Vec<u8>>> {
    fn raw(&self, column: usize) -> Result<Option<&[u8]>, String> {
        self.get(column)
            .map(|v| v.as_deref())
            .ok_or_else(|| format!("row has no column {column}"))
    }
}

/// Borrows a value's bytes whatever its PostgreSQL type: decoding is ours.
struct AnyRaw<'a>(&'a [u8]);

impl<'a> tokio_postgres::types::FromSql<'a> for AnyRaw<'a> {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(AnyRaw(raw))
    }
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}

/// What the converter needs to know about one column.
#[derive(Debug, Clone)]
pub struct ColumnConversion {
    /// The SQLite column name, for errors and the ledger.
    pub name: String,
    pub kind: ValueKind,
    pub storage: Storage,
}

/// A conversion failure, naming the column and the row within the batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct ConvertError {
    pub column: String,
    pub reason: String,
}

/// The Arrow schema for a table's converted batches.
pub fn arrow_schema(columns: &[ColumnConversion]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let dt = match c.storage {
                Storage::Integer => DataType::Int64,
                Storage::Real => DataType::Float64,
                Storage::Text => DataType::Utf8,
                Storage::Blob => DataType::Binary,
            };
            Field::new(c.name.clone(), dt, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

enum Builder {
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Blob(BinaryBuilder),
}

/// Converts rows into one batch. `table` is only used in ledger entries.
pub fn convert_rows<R: RawRow>(
    table: &str,
    columns: &[ColumnConversion],
    schema: &SchemaRef,
    rows: &[R],
    ledger: &mut LossLedger,
) -> Result<RecordBatch, ConvertError> {
    let n = rows.len();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut scratch = String::new();
    for (ci, col) in columns.iter().enumerate() {
        let fail = |reason: String| ConvertError {
            column: col.name.clone(),
            reason,
        };
        let mut builder = match col.storage {
            Storage::Integer => Builder::Int(Int64Builder::with_capacity(n)),
            Storage::Real => Builder::Real(Float64Builder::with_capacity(n)),
            Storage::Text => Builder::Text(StringBuilder::with_capacity(n, n * 16)),
            Storage::Blob => Builder::Blob(BinaryBuilder::with_capacity(n, n * 16)),
        };
        let mut negative_zeros = 0u64;
        let mut lower_bounds = 0u64;
        let mut json_nulls = 0u64;
        for row in rows {
            let raw = row.raw(ci).map_err(&fail)?;
            let result = match (&mut builder, raw) {
                (Builder::Int(b), None) => {
                    b.append_null();
                    Ok(())
                }
                (Builder::Real(b), None) => {
                    b.append_null();
                    Ok(())
                }
                (Builder::Text(b), None) => {
                    b.append_null();
                    Ok(())
                }
                (Builder::Blob(b), None) => {
                    b.append_null();
                    Ok(())
                }
                (Builder::Int(b), Some(v)) => integer(&col.kind, v).map(|i| b.append_value(i)),
                (Builder::Real(b), Some(v)) => real(&col.kind, v).map(|f| {
                    if f == 0.0 && f.is_sign_negative() {
                        negative_zeros += 1;
                    }
                    b.append_value(f)
                }),
                (Builder::Text(b), Some(v)) => {
                    scratch.clear();
                    text(&col.kind, v, &mut scratch).map(|losses| {
                        lower_bounds += u64::from(losses.lower_bound);
                        json_nulls += losses.json_nulls;
                        b.append_value(&scratch)
                    })
                }
                (Builder::Blob(b), Some(v)) => match col.kind {
                    ValueKind::Vector => decode::vector_to_le_bytes(v).map(|x| b.append_value(x)),
                    _ => {
                        b.append_value(v);
                        Ok(())
                    }
                },
            };
            result.map_err(|e| fail(e.0))?;
        }
        ledger.record(table, &col.name, LossReason::NegativeZero, negative_zeros);
        ledger.record(table, &col.name, LossReason::ArrayLowerBound, lower_bounds);
        ledger.record(table, &col.name, LossReason::JsonArrayNull, json_nulls);
        arrays.push(match builder {
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Real(mut b) => Arc::new(b.finish()),
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Blob(mut b) => Arc::new(b.finish()),
        });
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| ConvertError {
        column: String::from("(batch)"),
        reason: e.to_string(),
    })
}

fn integer(kind: &ValueKind, v: &[u8]) -> Result<i64, DecodeError> {
    match kind {
        ValueKind::Bool => decode::read_bool(v).map(i64::from),
        ValueKind::Int2 => decode::read_i16(v).map(i64::from),
        ValueKind::Int4 => decode::read_i32(v).map(i64::from),
        ValueKind::Int8 => decode::read_i64(v),
        other => Err(DecodeError(format!(
            "{other:?} cannot be stored as INTEGER"
        ))),
    }
}

fn real(kind: &ValueKind, v: &[u8]) -> Result<f64, DecodeError> {
    match kind {
        ValueKind::Float4 => decode::read_f32(v).map(f64::from),
        ValueKind::Float8 => decode::read_f64(v),
        other => Err(DecodeError(format!("{other:?} cannot be stored as REAL"))),
    }
}

/// Writes the text form; returns what an array lost, if it is one.
fn text(kind: &ValueKind, v: &[u8], out: &mut String) -> Result<ArrayLosses, DecodeError> {
    match kind {
        ValueKind::Text | ValueKind::TextForm | ValueKind::Json => {
            out.push_str(decode::read_text(v)?)
        }
        ValueKind::Jsonb => out.push_str(decode::read_jsonb(v)?),
        ValueKind::Numeric => decode::write_numeric(out, v)?,
        ValueKind::Uuid => decode::write_uuid(out, v)?,
        ValueKind::Date => format_date(out, decode::read_i32(v)?),
        ValueKind::Timestamp => format_timestamp(out, decode::read_i64(v)?, TimestampStyle::Space),
        ValueKind::Timestamptz => {
            format_timestamp(out, decode::read_i64(v)?, TimestampStyle::IsoUtc)
        }
        ValueKind::Array(element) => return decode::write_array_json(out, element, v),
        other => return Err(DecodeError(format!("{other:?} cannot be stored as TEXT"))),
    }
    Ok(ArrayLosses::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};

    fn col(name: &str, kind: ValueKind, storage: Storage) -> ColumnConversion {
        ColumnConversion {
            name: name.into(),
            kind,
            storage,
        }
    }

    #[test]
    fn converts_and_counts_negative_zero() {
        let cols = vec![
            col("id", ValueKind::Int4, Storage::Integer),
            col("f", ValueKind::Float8, Storage::Real),
            col("d", ValueKind::Date, Storage::Text),
        ];
        let schema = arrow_schema(&cols);
        let rows: Vec<Vec<Option<Vec<u8>>>> = vec![
            vec![
                Some(7i32.to_be_bytes().to_vec()),
                Some((-0.0f64).to_be_bytes().to_vec()),
                Some(0i32.to_be_bytes().to_vec()),
            ],
            vec![Some((-1i32).to_be_bytes().to_vec()), None, None],
        ];
        let mut ledger = LossLedger::default();
        let batch = convert_rows("t", &cols, &schema, &rows, &mut ledger).unwrap();
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.values(), &[7, -1]);
        let f = batch
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert!(f.is_null(1));
        let d = batch
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(d.value(0), "2000-01-01");
        assert_eq!(ledger.entries()[0].count, 1);
    }

    #[test]
    fn bad_width_is_an_error_naming_the_column() {
        let cols = vec![col("n", ValueKind::Int8, Storage::Integer)];
        let schema = arrow_schema(&cols);
        let rows: Vec<Vec<Option<Vec<u8>>>> = vec![vec![Some(vec![1, 2, 3])]];
        let e = convert_rows("t", &cols, &schema, &rows, &mut LossLedger::default()).unwrap_err();
        assert_eq!(e.column, "n");
    }
}
