//! The schema of an existing SQLite target (the app's own file, usually), with a
//! few stored values per column: what the app wrote there tells pg2sqlite how
//! to write (uuid with or without dashes, datetimes with `T` or a space, ...).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::sink::ddl::quote;

/// Stored values read per column to infer its representation.
const SAMPLES: usize = 20;
/// Rows of a table looked at for those samples.
const SCANNED: usize = 10_000;

/// One stored value, as SQLite hands it back.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Integer(i64),
    Real(f64),
    Text(String),
    /// A blob's length.
    Blob(usize),
}

#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// The declared type as written in the app's CREATE TABLE (may be empty).
    pub declared: String,
    pub not_null: bool,
    pub has_default: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// Up to 20 non-NULL stored values.
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
pub struct TargetTable {
    pub name: String,
    pub columns: Vec<TargetColumn>,
    /// Whether the primary key is the rowid (`INTEGER PRIMARY KEY`): SQLite
    /// fills it in when no value is given.
    pub rowid_key: bool,
    /// Why the table could not be read (a virtual table of a module this
    /// build lacks, ...): fine unless a sync wants to write into it.
    pub unreadable: Option<String>,
    /// Its generated columns, which SQLite computes and `table_info` leaves
    /// out of `columns`.
    pub generated: Vec<String>,
}

impl TargetTable {
    /// The column of that name; SQLite compares names case-insensitively.
    pub fn column(&self, name: &str) -> Option<&TargetColumn> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// The tables of an existing target.
#[derive(Debug, Clone, Default)]
pub struct TargetSchema {
    pub tables: Vec<TargetTable>,
}

impl TargetSchema {
    /// Reads the target's tables; an absent or empty file has none.
    pub fn read(path: &Path) -> Result<TargetSchema> {
        let present = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0);
        if !present {
            return Ok(TargetSchema::default());
        }
        if !crate::sink::staging::is_sqlite_file(path)? {
            return Err(Error::Target {
                path: path.to_path_buf(),
                reason: "is not a SQLite database".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(Error::sqlite("opening to read its schema", path))?;
        read_tables(&conn).map_err(Error::sqlite("reading its schema", path))
    }

    /// The table of that name; SQLite compares names case-insensitively.
    pub fn table(&self, name: &str) -> Option<&TargetTable> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

fn read_tables(conn: &Connection) -> rusqlite::Result<TargetSchema> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::new();
    for name in names {
        match read_table(conn, &name) {
            Ok(t) => tables.push(t),
            Err(e) => tables.push(TargetTable {
                name,
                columns: Vec::new(),
                rowid_key: false,
                unreadable: Some(e.to_string()),
                generated: Vec::new(),
            }),
        }
    }
    Ok(TargetSchema { tables })
}

fn read_table(conn: &Connection, name: &str) -> rusqlite::Result<TargetTable> {
    let mut columns = Vec::new();
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", quote(name)))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        columns.push(TargetColumn {
            name: r.get(1)?,
            declared: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            not_null: r.get::<_, i64>(3)? != 0,
            has_default: r.get_ref(4)? != ValueRef::Null,
            primary_key: r.get::<_, i64>(5)? > 0,
            samples: Vec::new(),
        });
    }
    let pk: Vec<&TargetColumn> = columns.iter().filter(|c| c.primary_key).collect();
    let rowid_key = matches!(pk.as_slice(), [c] if c.declared.eq_ignore_ascii_case("INTEGER"));
    for c in &mut columns {
        c.samples = samples(conn, name, &c.name)?;
    }
    // hidden 2 and 3: VIRTUAL and STORED generated columns.
    let generated = conn
        .prepare("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden IN (2, 3)")?
        .query_map([name], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(TargetTable {
        name: name.to_owned(),
        columns,
        rowid_key,
        unreadable: None,
        generated,
    })
}

fn samples(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<Vec<Sample>> {
    let c = quote(column);
    // Only the first rows are looked at: a column that is NULL almost
    // everywhere must not cost a scan of a large table.
    let mut stmt = conn.prepare(&format!(
        "SELECT {c} FROM (SELECT {c} FROM {} LIMIT {SCANNED}) WHERE {c} IS NOT NULL LIMIT {SAMPLES}",
        quote(table)
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(match r.get_ref(0)? {
            ValueRef::Integer(i) => Sample::Integer(i),
            ValueRef::Real(f) => Sample::Real(f),
            ValueRef::Text(t) => Sample::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Sample::Blob(b.len()),
            ValueRef::Null => continue,
        });
    }
    Ok(out)
}

/// The indexes of `table` that a statement created (name and that statement),
/// in the order they were made: not those SQLite made for its own PRIMARY KEY
/// and UNIQUE constraints, which have no statement and cannot be dropped.
pub fn own_indexes(conn: &Connection, table: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT name, sql FROM sqlite_schema
          WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL
          ORDER BY rowid",
    )?;
    let rows = stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}
