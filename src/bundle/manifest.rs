//! `manifest.json`: what a bundle holds and how to check it. Written last, so a
//! directory without one is visibly incomplete; read first by `import`, which
//! checks every file against it before touching a target.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mapping::file_types::BundleColumn;
use crate::mapping::types::ValueKind;
use crate::plan::TablePlan;
use crate::source::catalog::PgTable;

/// The manifest's own file name inside a bundle directory.
pub const MANIFEST: &str = "manifest.json";
/// Bumped when a reader of an older version would misread a bundle.
///
/// 2: row hashes are `hashtextextended` (lookup3) instead of md5, and long
/// columns enter a row's record as their hash, so the checksums of a format-1
/// bundle cannot be compared (its row counts still are).
/// 3: row hashes are `hash_record_extended` over typed fields and canonical
/// texts (`verify::fields`); format 1 and 2 checksums are not compared.
/// 4: a json or jsonb array's canonical text is its JSON (`array_to_json`);
/// format 3's checksums are compared for tables without such a column.
pub const FORMAT_VERSION: u32 = 4;

/// The file format of a bundle's table files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Parquet,
    Csv,
}

impl FileFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

/// Whether a bundle holds whole tables or the rows changed since a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleKind {
    Full,
    Delta,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// `pg2sqlite <version>` that wrote the bundle.
    pub tool: String,
    pub kind: BundleKind,
    pub file_format: FileFormat,
    /// For CSV bundles: the NULL convention and text forms, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv_convention: Option<String>,
    /// The PostgreSQL connection, without a password.
    pub source: String,
    /// The snapshot's time and the watermark the next delta continues from
    /// (RFC 3339, UTC), as a sync stores them in the SQLite file.
    pub snapshot_time: String,
    pub watermark: String,
    /// A delta bundle's since-time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub consistent_snapshot: bool,
    /// The PostgreSQL schema of the exported tables, as the catalog read it:
    /// `import` plans from it exactly as `sync` plans from the live catalog.
    pub catalog: Vec<PgTable>,
    pub tables: Vec<TableEntry>,
    /// Schema objects SQLite cannot express, as a sync would list them.
    pub not_expressed: Vec<String>,
    /// The views `import` creates (their queries translate); the others are
    /// in `not_expressed`.
    #[serde(default)]
    pub views: Vec<crate::source::catalog::PgView>,
}

/// Which rows of a table a bundle holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowsHeld {
    /// Every row of the table.
    All,
    /// The rows whose cursor is later than the since-time, or NULL.
    ChangedSince,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    /// The SQLite table name a default sync gives it.
    pub name: String,
    /// `schema.table` in PostgreSQL.
    pub source: String,
    pub columns: Vec<BundleColumn>,
    /// Primary key columns (PostgreSQL names), if any.
    pub key: Option<Vec<String>>,
    /// The update cursor a delta reads by, if the table has one.
    pub cursor: Option<String>,
    pub rows_held: RowsHeld,
    /// The `CREATE TABLE` an import into a new file runs (without a map).
    pub sqlite_ddl: String,
    pub rows: u64,
    /// Row count and content checksum of the rows held, as `verify` computes
    /// them on PostgreSQL's side (the canonical form of the default mapping).
    pub checksum: Checksum,
    pub files: Vec<FileEntry>,
    /// Values the files could not hold exactly (an array's lower bound), per
    /// column: `import` reports them as a sync would.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<Lost>,
    /// For a delta bundle: a file with every key the table holds now, from
    /// which `import` finds the rows PostgreSQL deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_file: Option<FileEntry>,
}

/// Values of one column a bundle could not hold exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lost {
    /// The PostgreSQL column.
    pub column: String,
    pub reason: crate::mapping::ledger::LossReason,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub count: u64,
    /// Wrapping sum of the per-row hashes, in hex.
    #[serde(with = "hex_u64")]
    pub sum: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the bundle directory.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

mod hex_u64 {
    pub fn serialize<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// Why a bundle directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{dir}: no {MANIFEST}: not a bundle, or an export that did not finish")]
    Missing { dir: PathBuf },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Manifest {
    /// Whether its checksums hash rows as this version does (format 1 used md5,
    /// format 2 the text of a record).
    pub fn hashes_rows_alike(&self) -> bool {
        self.format_version >= 3
    }

    /// Whether its checksum of `table` hashes the rows as this version does:
    /// format 3 took a json or jsonb array as PostgreSQL's array text.
    pub fn hashes_table_alike(&self, table: &TablePlan) -> bool {
        self.format_version >= 4
            || (self.hashes_rows_alike()
                && !table.conversions.iter().any(|c| {
                    matches!(&c.kind, ValueKind::Array(e) if matches!(**e, ValueKind::Json | ValueKind::Jsonb))
                }))
    }

    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing {
                    dir: dir.to_path_buf(),
                })
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| ManifestError::Invalid {
                path: path.clone(),
                reason: format!("not a pg2sqlite manifest: {e}"),
            })?;
        if manifest.format_version > FORMAT_VERSION {
            return Err(ManifestError::Invalid {
                path,
                reason: format!(
                    "written by {} in bundle format {}; this pg2sqlite reads format {FORMAT_VERSION} \
                     (upgrade pg2sqlite)",
                    manifest.tool, manifest.format_version
                ),
            });
        }
        Ok(manifest)
    }

    /// The manifest as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// A writer that counts and hashes what passes through it, so a file's size and
/// SHA-256 are known when it is finished without reading it again.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    /// The inner writer, the byte count and the SHA-256 in lowercase hex.
    pub fn into_parts(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += u64::try_from(n).unwrap_or(u64::MAX);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Size and SHA-256 of a file, read in full.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += u64::try_from(n).unwrap_or(u64::MAX);
    }
    Ok((bytes, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        crate::mapping::decode::push_hex(&mut s, *b);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_agrees_with_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = HashingWriter::new(std::fs::File::create(&path).unwrap());
        w.write_all(b"hello bundle").unwrap();
        let (_, bytes, sha) = w.into_parts();
        assert_eq!(bytes, 12);
        assert_eq!(hash_file(&path).unwrap(), (12, sha.clone()));
        // SHA-256 of "hello bundle".
        assert_eq!(sha.len(), 64);
    }

    #[test]
    fn checksum_sums_are_hex_in_json() {
        let c = Checksum {
            count: 3,
            sum: 0xdead_beef,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(text, r#"{"count":3,"sum":"00000000deadbeef"}"#);
        assert_eq!(serde_json::from_str::<Checksum>(&text).unwrap(), c);
    }
}
