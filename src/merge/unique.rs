//! Unique indexes set aside while a merge writes, and built again before it
//! commits.
//!
//! PostgreSQL can move a unique value from one row to another in one
//! transaction: two users swap emails, an order leaves the cart state while
//! another becomes the cart (`UNIQUE (customer) WHERE state = 'cart'`). The
//! merge writes row by row, and SQLite checks a unique index at every
//! statement, so the second row can find its value still held by the first,
//! and a swap is a cycle no order of writes resolves. On such a clash the
//! table's unique indexes are dropped inside the merge's transaction and the
//! write retried; before the commit they are created again from their own
//! SQL, which fails, naming the index, only if the merged rows really hold a
//! value twice. Nothing is paid until a clash happens.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::sink::ddl::quote;

/// A unique index dropped for the rest of the merge.
#[derive(Debug)]
pub struct LiftedIndex {
    pub table: String,
    pub name: String,
    /// Its `CREATE UNIQUE INDEX` as `sqlite_master` has it.
    pub sql: String,
}

/// Whether a write failed on a unique index (not the primary key).
pub fn is_clash(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// Executes a bound write into `table`; on a unique clash, sets the table's
/// unique indexes aside and executes it again.
pub fn execute(
    conn: &Connection,
    stmt: &mut rusqlite::Statement<'_>,
    table: &str,
    lifted: &mut Vec<LiftedIndex>,
) -> rusqlite::Result<()> {
    match stmt.raw_execute() {
        Err(e) if is_clash(&e) => {
            if !lift(conn, table, lifted)? {
                return Err(e);
            }
            stmt.raw_execute().map(drop)
        }
        r => r.map(drop),
    }
}

/// Drops the unique indexes of `table` that can be created again from their
/// SQL (not those of inline UNIQUE constraints, which SQLite cannot drop), and
/// says whether there were any.
fn lift(conn: &Connection, table: &str, lifted: &mut Vec<LiftedIndex>) -> rusqlite::Result<bool> {
    let mut any = false;
    for (name, sql) in crate::sink::existing::own_indexes(conn, table)? {
        if !sql
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("CREATE UNIQUE")
        {
            continue;
        }
        conn.execute_batch(&format!("DROP INDEX {}", quote(&name)))?;
        tracing::debug!("merge: unique index {name} of {table} set aside until the commit");
        lifted.push(LiftedIndex {
            table: table.to_owned(),
            name,
            sql,
        });
        any = true;
    }
    Ok(any)
}

/// Creates the lifted indexes again, before the commit.
pub fn restore(conn: &Connection, lifted: &[LiftedIndex], path: &std::path::Path) -> Result<()> {
    for ix in lifted {
        conn.execute_batch(&ix.sql).map_err(|e| {
            // Building a unique index fails on a constraint only for a value
            // held twice.
            if matches!(&e, rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation)
            {
                Error::Integrity {
                    table: ix.table.clone(),
                    reason: format!(
                        "after the merge, two rows hold the same value of unique index {}: \
                         a row written in SQLite and a row from PostgreSQL, or two rows \
                         the app wrote; nothing was committed. Find them with the index's \
                         columns ({}), change one in SQLite or PostgreSQL, and run again",
                        ix.name, ix.sql
                    ),
                }
            } else {
                Error::sqlite(format!("creating unique index {} again", ix.name), path)(e)
            }
        })?;
    }
    Ok(())
}
