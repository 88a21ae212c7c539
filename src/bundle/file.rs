//! One table file of a bundle, whichever its format: written from COPY rows,
//! read back into rows of wire values.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};

use super::csv::{CsvTableReader, CsvTableWriter};
use super::manifest::{FileFormat, HashingWriter};
use super::parquet::{ParquetTableReader, ParquetTableWriter};
use super::BundleError;
use crate::mapping::convert::RawRows;
use crate::mapping::file_types::{BundleColumn, FileType};
use crate::mapping::ledger::LossReason;

/// The byte stream under a table file: buffered, counted and hashed.
pub type FileSink = HashingWriter<BufWriter<File>>;

pub struct TableFileWriter {
    format: FormatWriter,
    /// Columns whose values are arrays: their lower bounds are not kept.
    arrays: Vec<usize>,
    /// Per column of `arrays`, values whose lower bound was not 1.
    lower_bounds: Vec<u64>,
    /// Per column of `arrays`: whether the format writes a SQL NULL element of
    /// a json array as JSON null (CSV does), and how many it wrote.
    json_nulls_lost: Vec<bool>,
    json_nulls: Vec<u64>,
    names: Vec<String>,
}

enum FormatWriter {
    // Boxed: one writer per file, and the variants differ in size by hundreds of bytes.
    Parquet(Box<ParquetTableWriter<FileSink>>),
    Csv(Box<CsvTableWriter<FileSink>>),
}

/// A complete file: its size, its SHA-256, and the values it could not hold
/// exactly, per column.
pub struct FinishedFile {
    pub bytes: u64,
    pub sha256: String,
    pub losses: Vec<(String, LossReason, u64)>,
}

impl TableFileWriter {
    pub fn new(
        format: FileFormat,
        file: File,
        columns: &[BundleColumn],
    ) -> Result<Self, BundleError> {
        let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        let arrays: Vec<usize> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| match &c.file_type {
                FileType::List { .. } => true,
                FileType::AsText { of } => matches!(**of, FileType::List { .. }),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        Ok(TableFileWriter {
            format: match format {
                FileFormat::Parquet => {
                    FormatWriter::Parquet(Box::new(ParquetTableWriter::new(sink, columns)?))
                }
                FileFormat::Csv => FormatWriter::Csv(Box::new(CsvTableWriter::new(sink, columns)?)),
            },
            lower_bounds: vec![0; arrays.len()],
            json_nulls_lost: arrays
                .iter()
                .map(|&i| match &columns[i].file_type {
                    // JSON text has one null for a SQL NULL element and JSON null.
                    FileType::AsText { of } => {
                        matches!(&**of, FileType::List { element, .. } if is_json(element))
                    }
                    FileType::List { element, .. } => format == FileFormat::Csv && is_json(element),
                    _ => false,
                })
                .collect(),
            json_nulls: vec![0; arrays.len()],
            arrays,
            names: columns.iter().map(|c| c.name.clone()).collect(),
        })
    }

    pub fn write_rows(&mut self, rows: &(impl RawRows + ?Sized)) -> Result<(), BundleError> {
        // Lists (and the JSON arrays of CSV) start at index 1 by definition.
        for (n, &column) in self.arrays.iter().enumerate() {
            for row in 0..rows.row_count() {
                let raw = rows.raw(row, column).map_err(|reason| BundleError::Value {
                    column: self.names[column].clone(),
                    reason,
                })?;
                if let Some(v) = raw {
                    let fail = |e: crate::mapping::decode::DecodeError| BundleError::Value {
                        column: self.names[column].clone(),
                        reason: e.to_string(),
                    };
                    if super::wire::other_lower_bound(v).map_err(fail)? {
                        self.lower_bounds[n] += 1;
                    }
                    if self.json_nulls_lost[n] {
                        let parts = super::wire::parse_array(v).map_err(fail)?;
                        let nulls = parts.elements.iter().filter(|e| e.is_none()).count();
                        self.json_nulls[n] += u64::try_from(nulls).unwrap_or(u64::MAX);
                    }
                }
            }
        }
        match &mut self.format {
            FormatWriter::Parquet(w) => w.write_rows(rows),
            FormatWriter::Csv(w) => w.write_rows(rows),
        }
    }

    /// Completes the file and syncs it to disk.
    pub fn finish(self) -> Result<FinishedFile, BundleError> {
        let mut losses = Vec::new();
        for (n, &c) in self.arrays.iter().enumerate() {
            for (reason, count) in [
                (LossReason::ArrayLowerBound, self.lower_bounds[n]),
                (LossReason::JsonArrayNull, self.json_nulls[n]),
            ] {
                if count > 0 {
                    losses.push((self.names[c].clone(), reason, count));
                }
            }
        }
        let sink = match self.format {
            FormatWriter::Parquet(w) => w.finish()?,
            FormatWriter::Csv(w) => w.finish()?,
        };
        let (mut buffered, bytes, sha256) = {
            let mut sink = sink;
            sink.flush()?;
            sink.into_parts()
        };
        buffered.flush()?;
        let file = buffered
            .into_inner()
            .map_err(|e| BundleError::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(FinishedFile {
            bytes,
            sha256,
            losses,
        })
    }
}

fn is_json(t: &FileType) -> bool {
    matches!(t, FileType::Json | FileType::Jsonb)
}

/// Rows of wire values, one `Vec` per row.
pub type WireRows = Vec<Vec<Option<Vec<u8>>>>;

pub enum TableFileReader {
    Parquet(ParquetTableReader),
    Csv(CsvTableReader<BufReader<File>>),
}

impl TableFileReader {
    pub fn open(
        format: FileFormat,
        file: File,
        columns: &[BundleColumn],
    ) -> Result<Self, BundleError> {
        Ok(match format {
            FileFormat::Parquet => {
                TableFileReader::Parquet(ParquetTableReader::open(file, columns)?)
            }
            FileFormat::Csv => TableFileReader::Csv(CsvTableReader::open(
                BufReader::with_capacity(1 << 20, file),
                columns,
            )?),
        })
    }

    pub fn next_batch(&mut self) -> Result<Option<WireRows>, BundleError> {
        match self {
            TableFileReader::Parquet(r) => r.next_batch(),
            TableFileReader::Csv(r) => r.next_batch(),
        }
    }
}
