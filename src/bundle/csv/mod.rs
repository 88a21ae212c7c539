//! CSV bundle files: one table per file, written from and read back into
//! PostgreSQL's binary wire values.
//!
//! # Format
//!
//! - UTF-8, RFC 4180: fields separated by `,`, records ended by `\n` (`\r\n`
//!   is accepted on reading), the first record is the column names. A field is
//!   quoted with `"` when it holds `,` `"` CR or LF, is empty, or is `\.`
//!   (PostgreSQL's end-of-data marker); a `"` inside quotes is doubled. A
//!   field's text, embedded newlines included, reads back exactly.
//! - **NULL is an unquoted empty field; the empty string is `""`**, as in
//!   PostgreSQL's own CSV (`COPY … FROM STDIN (FORMAT csv, HEADER true)`
//!   loads a file of text and number columns as it is). The text `NULL` is
//!   just that text. A one-column table's NULL is an empty line.
//! - Text forms, by file type (each reads back into the same wire bytes
//!   unless said otherwise):
//!   - boolean: `t` / `f`; integers: decimal.
//!   - real, double precision: the shortest decimal that reads back bit for
//!     bit (`0.1`, `1e-7`, `-0.0`), `NaN`, `Infinity`, `-Infinity` (a NaN's
//!     payload bits are not kept: it reads back as the usual quiet NaN).
//!   - numeric: the exact decimal PostgreSQL prints (`-12.340`, scale kept),
//!     `NaN`, `Infinity`, `-Infinity`. The text is the same after a round trip;
//!     the bytes differ only where PostgreSQL's binary form was not canonical.
//!   - text, varchar, char, name, enum labels, json, and types held as
//!     PostgreSQL's text output: as is. jsonb: its text (the wire form's
//!     version byte is added back).
//!   - bytea: `\x` and lowercase hex (`\x` alone when empty).
//!   - uuid: 36 lowercase characters.
//!   - date: `YYYY-MM-DD` (at least four year digits), `infinity`,
//!     `-infinity`; before year 1 as PostgreSQL writes it: `0044-03-15 BC`.
//!   - timestamp: `YYYY-MM-DD HH:MM:SS[.ffffff]` (six fraction digits when
//!     not zero); timestamptz: UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; both
//!     `infinity`, `-infinity`, and ` BC` after the time before year 1.
//!   - time: `HH:MM:SS[.ffffff]`, `24:00:00` included.
//!   - interval: ISO 8601 with designators, each of PostgreSQL's three fields
//!     signed as stored: `P<months>M<days>DT<seconds>[.ffffff]S`
//!     (`P-14M3DT-3723.5S`; zero is `P0M0DT0S`). PostgreSQL reads this form
//!     (its parser goes through a double: beyond about 2^53 µs of seconds,
//!     some 285 years, it rounds the last microseconds; this reader does not).
//!   - pgvector vector: a JSON array of float4s in their shortest form.
//!   - arrays: a JSON array, as the SQLite mapping stores one: nested once per
//!     dimension, NULL elements `null`, elements in the forms above as JSON
//!     strings (numbers for integers and numerics, `true`/`false` for
//!     booleans, strings `"NaN"`, `"Infinity"`, `"-Infinity"` for such
//!     floats, json elements as their own JSON text). Two things are lost,
//!     as in SQLite: a lower bound other than 1 (arrays read back start at
//!     1), and, in json and jsonb arrays, the difference between a SQL NULL
//!     element and a JSON `null` element (both read back as JSON `null`; the
//!     export counts each SQL NULL element so written as lost). The
//!     nesting of a json/jsonb array is the column's dimensions, since such
//!     elements can be JSON arrays themselves.
//!
//! Reading checks the header against the manifest's columns and reports a
//! malformed record (wrong number of fields, unclosed quote, a value that is
//! not its column's text form) with its line number and column.

mod record;
pub(crate) mod text;

use std::io::{BufReader, Read, Write};

use super::BundleError;
use crate::mapping::convert::RawRows;
use crate::mapping::file_types::BundleColumn;
use record::{Fields, RecordError, RecordReader};

/// The NULL convention and text forms, in words, for the manifest.
pub const CONVENTION: &str = "RFC 4180 CSV in UTF-8, one header line of column names, records \
ended by LF (CRLF accepted). NULL is an unquoted empty field; the empty string is \"\" (as in \
PostgreSQL's CSV). Text forms: boolean t/f; integers decimal; real/double shortest round-trip \
decimal, NaN, Infinity, -Infinity; numeric exact decimal, NaN, Infinity, -Infinity; text, enum, \
json and PostgreSQL text output as is; jsonb its text; bytea \\x + lowercase hex; uuid 36 \
lowercase characters; date YYYY-MM-DD, infinity, -infinity, '… BC' before year 1; timestamp \
YYYY-MM-DD HH:MM:SS[.ffffff]; timestamptz YYYY-MM-DDTHH:MM:SS[.ffffff]Z (UTC); time \
HH:MM:SS[.ffffff]; interval ISO 8601 P<months>M<days>DT<seconds>S, each field signed as stored; \
vector and arrays JSON arrays (nested per dimension, NULL elements null; lower bounds other than \
1 and SQL NULL versus JSON null elements of json/jsonb arrays are not kept: both read back as \
JSON null, and the manifest's `lost` counts them).";

/// Rows per batch handed back by [`CsvTableReader::next_batch`].
const BATCH_ROWS: usize = 8192;

/// Bytes gathered before they are written out.
const FLUSH_BYTES: usize = 1 << 16;

/// Writes one table's rows as a CSV file.
pub struct CsvTableWriter<W: Write> {
    out: W,
    columns: Vec<BundleColumn>,
    /// Records not yet written to `out`.
    buf: String,
    /// One value's text form.
    scratch: String,
}

impl<W: Write> CsvTableWriter<W> {
    /// Writes the header line (column names); like the rows, it is buffered
    /// and reaches `out` once 64 KiB have gathered or at [`Self::finish`].
    pub fn new(out: W, columns: &[BundleColumn]) -> Result<Self, BundleError> {
        let mut writer = CsvTableWriter {
            out,
            columns: columns.to_vec(),
            buf: String::with_capacity(FLUSH_BYTES + 4096),
            scratch: String::new(),
        };
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                writer.buf.push(',');
            }
            record::push_field(&mut writer.buf, Some(&c.name));
        }
        writer.buf.push('\n');
        Ok(writer)
    }

    /// Writes `rows`, each holding one wire value per column.
    pub fn write_rows(&mut self, rows: &(impl RawRows + ?Sized)) -> Result<(), BundleError> {
        for row in 0..rows.row_count() {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                let value_error = |reason: String| BundleError::Value {
                    column: column.name.clone(),
                    reason,
                };
                match rows.raw(row, i).map_err(value_error)? {
                    None => record::push_field(&mut self.buf, None),
                    Some(wire) => {
                        self.scratch.clear();
                        text::write_value(&mut self.scratch, &column.file_type, wire)
                            .map_err(|e| value_error(e.0))?;
                        record::push_field(&mut self.buf, Some(&self.scratch));
                    }
                }
            }
            self.buf.push('\n');
            if self.buf.len() >= FLUSH_BYTES {
                self.out.write_all(self.buf.as_bytes())?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W, BundleError> {
        self.out.write_all(self.buf.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads one table's CSV file back into wire values.
pub struct CsvTableReader<R: Read> {
    records: RecordReader<BufReader<R>>,
    columns: Vec<BundleColumn>,
    fields: Fields,
}

impl<R: Read> CsvTableReader<R> {
    /// Reads and checks the header against `columns`.
    pub fn open(input: R, columns: &[BundleColumn]) -> Result<Self, BundleError> {
        let mut reader = CsvTableReader {
            records: RecordReader::new(BufReader::with_capacity(1 << 16, input)),
            columns: columns.to_vec(),
            fields: Fields::default(),
        };
        let header = reader
            .records
            .next_record(&mut reader.fields)
            .map_err(|e| reader.record_error(e))?;
        if header.is_none() {
            return Err(BundleError::Damaged(
                "the file is empty: no header line".into(),
            ));
        }
        let names: Vec<String> = (0..reader.fields.len())
            .filter_map(|i| reader.fields.get(i))
            .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
            .collect();
        let expected: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if names.len() != expected.len() {
            return Err(BundleError::Damaged(format!(
                "the header has {} columns ({}), the manifest {} ({})",
                names.len(),
                names.join(", "),
                expected.len(),
                expected.join(", ")
            )));
        }
        if let Some((i, (found, want))) = names
            .iter()
            .zip(&expected)
            .enumerate()
            .find(|(_, (found, want))| found != *want)
        {
            return Err(BundleError::Damaged(format!(
                "the header's column {} is {found:?}, the manifest says {want:?}",
                i + 1
            )));
        }
        Ok(reader)
    }

    /// A malformed record as damage, naming the column of the field.
    fn record_error(&self, e: RecordError) -> BundleError {
        match e {
            RecordError::Io(e) => BundleError::Io(e),
            RecordError::Malformed { line, field, what } => {
                let column = match field.checked_sub(1).and_then(|i| self.columns.get(i)) {
                    Some(c) => format!("column {}", c.name),
                    None => format!("field {field}"),
                };
                BundleError::Damaged(format!("line {line}, {column}: {what}"))
            }
        }
    }

    /// The next batch of at most 8192 rows, each a wire value per column
    /// (`None`: NULL); `None` at the end of the file.
    #[allow(clippy::type_complexity)]
    pub fn next_batch(&mut self) -> Result<Option<Vec<Vec<Option<Vec<u8>>>>>, BundleError> {
        let mut rows = Vec::new();
        while rows.len() < BATCH_ROWS {
            let record = self.records.next_record(&mut self.fields);
            let Some(line) = record.map_err(|e| self.record_error(e))? else {
                break;
            };
            if self.fields.len() != self.columns.len() {
                return Err(BundleError::Damaged(format!(
                    "line {line}: {} fields, the table has {} columns",
                    self.fields.len(),
                    self.columns.len()
                )));
            }
            let mut row = Vec::with_capacity(self.columns.len());
            for (i, column) in self.columns.iter().enumerate() {
                let value_error = |reason: String| BundleError::Value {
                    column: column.name.clone(),
                    reason: format!("line {line}: {reason}"),
                };
                let Some((bytes, quoted)) = self.fields.get(i) else {
                    return Err(value_error("field missing".into()));
                };
                if bytes.is_empty() && !quoted {
                    row.push(None);
                    continue;
                }
                let field = std::str::from_utf8(bytes)
                    .map_err(|e| value_error(format!("not UTF-8 ({e})")))?;
                let wire =
                    text::parse_value(&column.file_type, field).map_err(|e| value_error(e.0))?;
                row.push(Some(wire));
            }
            rows.push(row);
        }
        Ok((!rows.is_empty()).then_some(rows))
    }
}

#[cfg(test)]
mod tests;
