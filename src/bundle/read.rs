//! Reading a bundle back: check every file against the manifest before
//! anything is written, then stream the rows of a plan's tables out of the
//! files, as the readers of a sync stream them out of PostgreSQL.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::file::{TableFileReader, WireRows};
use super::manifest::{hash_file, FileEntry, FileFormat, Manifest, TableEntry};
use super::parquet::ParquetTableReader;
use crate::error::{Error, Result};
use crate::mapping::convert::convert_rows;
use crate::mapping::file_types::{BundleColumn, FileType};
use crate::mapping::format::Format;
use crate::mapping::ledger::LossLedger;
use crate::mapping::types::ValueKind;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::writer::WriterMessage;

fn damaged(path: &Path, reason: impl Into<String>) -> Error {
    Error::BundleDamaged {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks every file the manifest lists: present, of its size and SHA-256,
/// and (Parquet) holding its row count. Files are read in parallel.
pub fn check_files(dir: &Path, manifest: &Manifest) -> Result<()> {
    use rayon::prelude::*;
    let files: Vec<(&TableEntry, &FileEntry)> = manifest
        .tables
        .iter()
        .flat_map(|t| {
            t.files
                .iter()
                .chain(t.keys_file.as_ref())
                .map(move |f| (t, f))
        })
        .collect();
    files.par_iter().try_for_each(|(table, f)| {
        let path = dir.join(&f.path);
        if f.path.contains('/') || f.path.contains('\\') || f.path.starts_with('.') {
            return Err(damaged(
                &path,
                "the manifest names a file outside the bundle",
            ));
        }
        let (bytes, sha256) = hash_file(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                damaged(&path, "missing (the manifest lists it)")
            } else {
                damaged(&path, format!("cannot read it: {e}"))
            }
        })?;
        if bytes != f.bytes {
            return Err(damaged(
                &path,
                format!(
                    "{bytes} bytes, the manifest says {} (truncated or replaced)",
                    f.bytes
                ),
            ));
        }
        if sha256 != f.sha256 {
            return Err(damaged(
                &path,
                "its SHA-256 differs from the manifest's (the file was changed or damaged)",
            ));
        }
        if manifest.file_format == FileFormat::Parquet {
            let columns = file_columns(table, f);
            let file = File::open(&path).map_err(|e| damaged(&path, e.to_string()))?;
            let reader = ParquetTableReader::open(file, &columns)
                .map_err(|e| damaged(&path, e.to_string()))?;
            if reader.rows() != f.rows {
                return Err(damaged(
                    &path,
                    format!("{} rows, the manifest says {}", reader.rows(), f.rows),
                ));
            }
        }
        Ok(())
    })
}

/// The columns of one of a table's files: all of them, or the key columns of
/// its keys file.
pub fn file_columns(table: &TableEntry, file: &FileEntry) -> Vec<BundleColumn> {
    let is_keys = table.keys_file.as_ref() == Some(file);
    match (&table.key, is_keys) {
        (Some(key), true) => key
            .iter()
            .filter_map(|k| table.columns.iter().find(|c| &c.name == k).cloned())
            .collect(),
        _ => table.columns.clone(),
    }
}

/// How one value of a plan's column is made from a bundle file's row.
#[derive(Debug, Clone, Copy)]
enum Adapt {
    /// The file's wire value is what the plan reads.
    Same(usize),
    /// The plan stores `time` as PostgreSQL prints it: the file holds it binary.
    TimeText(usize),
    /// The same for `interval`.
    IntervalText(usize),
}

/// Turns rows of a bundle file into rows as the plan's COPY would have read
/// them: the plan's columns, in its order, in its wire forms.
#[derive(Debug, Clone)]
pub struct RowAdapter {
    columns: Vec<Adapt>,
}

impl RowAdapter {
    /// Matches the plan's columns `wanted` (indices of its conversions, in the
    /// order the rows are to have them) with a file's columns by PostgreSQL
    /// name; a column the plan reads and the file lacks is an error naming it.
    pub fn new(
        plan: &TablePlan,
        wanted: &[usize],
        file: &[BundleColumn],
    ) -> std::result::Result<Self, String> {
        let mut columns = Vec::with_capacity(wanted.len());
        for &i in wanted {
            let Some(conv) = plan.conversions.get(i) else {
                return Err(format!("{}: no column {i}", plan.source_name));
            };
            let name = plan.copy.column_names.get(i).unwrap_or(&conv.name);
            let Some(at) = file.iter().position(|c| &c.name == name) else {
                return Err(format!(
                    "{}: the bundle has no column {name}",
                    plan.source_name
                ));
            };
            let text_form = conv.format == Format::Default;
            columns.push(match (&conv.kind, &file[at].file_type, text_form) {
                (ValueKind::Time, FileType::Time, true) => Adapt::TimeText(at),
                (ValueKind::Interval, FileType::Interval, true) => Adapt::IntervalText(at),
                _ => Adapt::Same(at),
            });
        }
        Ok(RowAdapter { columns })
    }

    /// Reorders (and where needed re-forms) one batch of rows in place of a new
    /// allocation per value.
    pub fn adapt(&self, rows: WireRows) -> std::result::Result<WireRows, String> {
        let take =
            |row: &mut Vec<Option<Vec<u8>>>, at: usize| row.get_mut(at).and_then(Option::take);
        rows.into_iter()
            .map(|mut row| {
                self.columns
                    .iter()
                    .map(|a| match *a {
                        Adapt::Same(at) => Ok(take(&mut row, at)),
                        Adapt::TimeText(at) => take(&mut row, at)
                            .map(|v| {
                                crate::mapping::decode::read_i64(&v)
                                    .map(|m| crate::mapping::time::pg_time_text(m).into_bytes())
                            })
                            .transpose()
                            .map_err(|e| e.to_string()),
                        Adapt::IntervalText(at) => take(&mut row, at)
                            .map(|v| super::wire::interval_text(&v).map(String::into_bytes))
                            .transpose()
                            .map_err(|e| e.to_string()),
                    })
                    .collect()
            })
            .collect()
    }
}

/// One file to read for a table of the plan.
pub struct FileRead {
    pub table: usize,
    pub path: PathBuf,
    pub rows: u64,
    pub columns: Vec<BundleColumn>,
    pub adapter: RowAdapter,
}

/// Reads `files` in parallel (rayon), converts the rows with the plan's
/// converters and hands the batches to `write`, which runs on a thread of its
/// own and is the only code that touches SQLite: `pipeline::read_into` with
/// files for connections.
pub fn read_into<W, F>(
    plan: &SyncPlan,
    format: FileFormat,
    files: Vec<FileRead>,
    write: F,
) -> Result<W>
where
    W: Send + 'static,
    F: FnOnce(crossbeam_channel::Receiver<WriterMessage>) -> Result<W> + Send + 'static,
{
    use rayon::prelude::*;
    let (tx, rx) = crossbeam_channel::bounded::<WriterMessage>(2);
    let writer = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || write(rx))
        .map_err(|e| Error::Aborted(format!("cannot start the writer thread: {e}")))?;
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let failed = || first_error.lock().map(|e| e.is_some()).unwrap_or(true);
    files.par_iter().for_each(|f| {
        if failed() {
            return;
        }
        if let Err(e) = read_file(plan, format, f, &tx) {
            if let Ok(mut slot) = first_error.lock() {
                slot.get_or_insert(e);
            }
        }
    });
    drop(tx);
    let written = writer
        .join()
        .unwrap_or_else(|_| Err(Error::Aborted("the SQLite writer panicked".into())));
    match (first_error.into_inner().ok().flatten(), written) {
        (Some(Error::Aborted(_)), Err(w)) => Err(w),
        (Some(e), _) => Err(e),
        (None, w) => w,
    }
}

fn read_file(
    plan: &SyncPlan,
    format: FileFormat,
    f: &FileRead,
    tx: &crossbeam_channel::Sender<WriterMessage>,
) -> Result<()> {
    let t = &plan.tables[f.table];
    let file = File::open(&f.path).map_err(|e| damaged(&f.path, e.to_string()))?;
    let mut reader = TableFileReader::open(format, file, &f.columns)
        .map_err(|e| damaged(&f.path, e.to_string()))?;
    let mut rows = 0u64;
    while let Some(batch) = reader
        .next_batch()
        .map_err(|e| damaged(&f.path, e.to_string()))?
    {
        rows += u64::try_from(batch.len()).unwrap_or(0);
        let batch = f.adapter.adapt(batch).map_err(|e| damaged(&f.path, e))?;
        let mut ledger = LossLedger::default();
        let converted = convert_rows(
            &t.sink.name,
            &t.conversions,
            &t.arrow_schema,
            &batch,
            &mut ledger,
        )
        .map_err(|e| Error::Convert {
            table: t.source_name.clone(),
            column: e.column,
            reason: e.reason,
        })?;
        tx.send(WriterMessage::Batch {
            table: f.table,
            batch: converted,
            ledger,
        })
        .map_err(|_| Error::Aborted("the SQLite writer stopped".into()))?;
    }
    if rows != f.rows {
        return Err(damaged(
            &f.path,
            format!("{rows} rows read, the manifest says {}", f.rows),
        ));
    }
    tx.send(WriterMessage::ChunkDone {
        table: f.table,
        rows,
    })
    .map_err(|_| Error::Aborted("the SQLite writer stopped".into()))
}
