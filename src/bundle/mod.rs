//! Bundles: a full copy or a delta written to files (Parquet or CSV) with a
//! manifest, and read back by `import` on a host without PostgreSQL.
//!
//! A file holds PostgreSQL's values in their own types (`mapping::file_types` is the type
//! table, next to the SQLite one). What crosses between a file and the rest of the program is each
//! value's binary wire form, exactly as binary COPY delivers it ([`wire`]): the
//! exporter writes COPY rows into files, the importer reads files back into
//! such rows and hands them to the same converters and writers as `sync`, so an
//! imported file is the file a sync would have written.

pub mod array_json;
pub mod csv;
pub mod dir;
pub mod file;
pub mod keys;
pub mod layout;
pub mod manifest;
pub mod parquet;
pub mod read;
pub mod wire;
pub mod write;

/// Why a bundle file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A value that the column's file type cannot hold, or a malformed one.
    #[error("column {column}: {reason}")]
    Value { column: String, reason: String },
    /// The file is not what the manifest says (damaged, truncated, other schema).
    #[error("{0}")]
    Damaged(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
