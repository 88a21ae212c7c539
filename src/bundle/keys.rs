//! Which keys the target has and a delta bundle's table lacks (rows PostgreSQL
//! deleted), and the reverse: the bundle's keys (its keys file, or the rows
//! of a table it holds whole) are converted as a sync would store them, loaded
//! into a temporary table beside the target's, and compared by SQL.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::manifest::{FileFormat, TableEntry};
use super::read::{file_columns, read_into, FileRead, RowAdapter};
use crate::error::{Error, Result};
use crate::mapping::convert::arrow_schema;
use crate::plan::{SyncPlan, TablePlan};
use crate::sink::ddl::quote;
use crate::sink::writer::{bind_row, columns, WriterMessage};
use crate::verify::keys::{KeyDifference, SqliteOnly, POSTGRES_ONLY_LISTED};

/// The temporary table holding one table's bundle keys.
fn keys_table(i: usize) -> String {
    format!("temp.\"_pg2sqlite_bundle_keys_{i}\"")
}

/// A table to compare: its plan, its merge key (indices of the plan's
/// columns) and its manifest entry.
pub struct KeyedTable<'a> {
    pub plan: &'a TablePlan,
    pub key: &'a [usize],
    pub entry: &'a TableEntry,
}

/// Loads the bundle keys of every table into temporary tables of `conn`
/// (created here), reading the files in parallel. Returns the connection.
pub fn load(
    conn: Connection,
    path: &Path,
    dir: &Path,
    format: FileFormat,
    tables: &[KeyedTable<'_>],
) -> Result<Connection> {
    let mut key_plans = Vec::with_capacity(tables.len());
    let mut files = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        let decls: Vec<String> = t
            .key
            .iter()
            .enumerate()
            .map(|(n, &k)| format!("k{n} {}", t.plan.sink.columns[k].declared))
            .collect();
        conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({});",
            decls.join(", "),
            table = keys_table(i)
        ))
        .map_err(Error::sqlite("preparing the key comparison", path))?;
        // A plan of the key columns alone: the converters make exactly the
        // values a sync stores for them.
        let mut key_plan = t.plan.clone();
        key_plan.conversions = t
            .key
            .iter()
            .map(|&k| t.plan.conversions[k].clone())
            .collect();
        key_plan.arrow_schema = arrow_schema(&key_plan.conversions);
        key_plans.push(key_plan);
        let sources: Vec<_> = match &t.entry.keys_file {
            Some(f) => vec![f],
            None => t.entry.files.iter().collect(),
        };
        for f in sources {
            let file_cols = file_columns(t.entry, f);
            let adapter =
                RowAdapter::new(t.plan, t.key, &file_cols).map_err(|e| Error::Plan(vec![e]))?;
            files.push(FileRead {
                table: i,
                path: dir.join(&f.path),
                rows: f.rows,
                columns: file_cols,
                adapter,
            });
        }
    }
    let plan = SyncPlan {
        tables: key_plans,
        not_expressed: Vec::new(),
        views: Vec::new(),
        schema_loss: Vec::new(),
        notes: Vec::new(),
        renames: Vec::new(),
    };
    let widths: Vec<usize> = tables.iter().map(|t| t.key.len()).collect();
    let target: PathBuf = path.to_path_buf();
    let conn = read_into(&plan, format, files, move |rx| {
        insert_keys(&conn, &widths, &rx)
            .map_err(Error::sqlite("loading the bundle's keys", &target))?;
        Ok(conn)
    })?;
    for (i, t) in tables.iter().enumerate() {
        let cols: Vec<String> = (0..t.key.len()).map(|n| format!("k{n}")).collect();
        conn.execute_batch(&format!(
            "CREATE INDEX temp.\"_pg2sqlite_bundle_keys_{i}_idx\" ON \"_pg2sqlite_bundle_keys_{i}\" ({})",
            cols.join(", ")
        ))
        .map_err(Error::sqlite("indexing the bundle's keys", path))?;
    }
    Ok(conn)
}

fn insert_keys(
    conn: &Connection,
    widths: &[usize],
    rx: &crossbeam_channel::Receiver<WriterMessage>,
) -> rusqlite::Result<()> {
    for message in rx {
        let WriterMessage::Batch { table, batch, .. } = message else {
            continue;
        };
        let params: Vec<String> = (1..=widths[table]).map(|n| format!("?{n}")).collect();
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO {} VALUES ({})",
            keys_table(table),
            params.join(", ")
        ))?;
        let cols = columns(&batch)?;
        for row in 0..batch.num_rows() {
            bind_row(&mut stmt, &cols, row, 1)?;
            stmt.raw_execute()?;
        }
    }
    Ok(())
}

/// The keys of table `i` (loaded by [`load`]) found on one side only.
pub fn difference(
    conn: &Connection,
    i: usize,
    t: &KeyedTable<'_>,
) -> rusqlite::Result<KeyDifference> {
    let table = quote(&t.plan.sink.name);
    let names: Vec<&str> = t
        .key
        .iter()
        .map(|&k| t.plan.sink.columns[k].name.as_str())
        .collect();
    let matches: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(n, name)| format!("b.k{n} = t.{}", quote(name)))
        .collect();
    let quoted: Vec<String> = names.iter().map(|n| format!("t.{}", quote(n))).collect();
    let mut diff = KeyDifference::default();
    let mut stmt = conn.prepare(&format!(
        "SELECT t.rowid, {} FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM {} b WHERE {})",
        quoted.join(", "),
        keys_table(i),
        matches.join(" AND ")
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        diff.sqlite_only.push(SqliteOnly {
            rowid: row.get(0)?,
            key: display_key(row, 1, &names)?,
        });
    }
    let bs: Vec<String> = (0..names.len()).map(|n| format!("b.k{n}")).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {} b WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {})",
        bs.join(", "),
        keys_table(i),
        matches.join(" AND ")
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        diff.postgres_only_count += 1;
        if diff.postgres_only.len() < POSTGRES_ONLY_LISTED {
            diff.postgres_only.push(display_key(row, 0, &names)?);
        }
    }
    Ok(diff)
}

/// `id=7, tenant=a` from the key columns of a result row starting at `first`.
fn display_key(row: &rusqlite::Row<'_>, first: usize, names: &[&str]) -> rusqlite::Result<String> {
    let mut parts = Vec::with_capacity(names.len());
    for (n, name) in names.iter().enumerate() {
        let v =
            crate::merge::cursor::display(row.get_ref(first + n)?).unwrap_or_else(|| "NULL".into());
        parts.push(format!("{name}={v}"));
    }
    Ok(parts.join(", "))
}

/// Drops the temporary key tables.
pub fn drop_all(conn: &Connection, n: usize) -> rusqlite::Result<()> {
    for i in 0..n {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", keys_table(i)))?;
    }
    Ok(())
}
