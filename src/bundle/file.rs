//! One table file of a bundle, whichever its format: written from COPY rows,
//! read back into rows of wire values.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};

use super::columns::BundleColumn;
use super::csv::{CsvTableReader, CsvTableWriter};
use super::manifest::{FileFormat, HashingWriter};
use super::parquet::{ParquetTableReader, ParquetTableWriter};
use super::BundleError;
use crate::mapping::convert::RawRow;

/// The byte stream under a table file: buffered, counted and hashed.
pub type FileSink = HashingWriter<BufWriter<File>>;

pub enum TableFileWriter {
    Parquet(ParquetTableWriter<FileSink>),
    Csv(CsvTableWriter<FileSink>),
}

impl TableFileWriter {
    pub fn new(
        format: FileFormat,
        file: File,
        columns: &[BundleColumn],
    ) -> Result<Self, BundleError> {
        let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        Ok(match format {
            FileFormat::Parquet => {
                TableFileWriter::Parquet(ParquetTableWriter::new(sink, columns)?)
            }
            FileFormat::Csv => TableFileWriter::Csv(CsvTableWriter::new(sink, columns)?),
        })
    }

    pub fn write_rows<R: RawRow>(&mut self, rows: &[R]) -> Result<(), BundleError> {
        match self {
            TableFileWriter::Parquet(w) => w.write_rows(rows),
            TableFileWriter::Csv(w) => w.write_rows(rows),
        }
    }

    /// Completes the file and syncs it to disk; returns its size and SHA-256.
    pub fn finish(self) -> Result<(u64, String), BundleError> {
        let sink = match self {
            TableFileWriter::Parquet(w) => w.finish()?,
            TableFileWriter::Csv(w) => w.finish()?,
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
        Ok((bytes, sha256))
    }
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
