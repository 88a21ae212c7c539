//! The full copy's INSERT, bound without copies.
//!
//! rusqlite binds every text and blob with `SQLITE_TRANSIENT`: SQLite mallocs
//! and copies each value before the statement runs, and copies it once more
//! into the row's record. On the 1M-row wide fixture the first copy was a
//! quarter of the writer thread's time (`sqlite3_bind_text64`: the copy, the
//! allocation and the allocator's mutex). The values live in the batch for as
//! long as the statement runs, so they are bound `SQLITE_STATIC` here: SQLite
//! reads them where the batch holds them. rusqlite has no such bind, so this
//! module prepares, binds and steps the statement through the C API; nothing
//! else in the crate does.
//!
//! Soundness: every pointer handed to SQLite points into `cols`, which
//! [`BatchInsert::insert`] borrows for the whole call; before it returns (on
//! success and on error) the statement is reset and its bindings cleared, so
//! no pointer outlives the borrow.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::ffi;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::writer::Col;

/// One prepared `INSERT … VALUES (…), (…)` of `rows` rows of `columns` values.
pub(crate) struct BatchInsert<'conn> {
    db: *mut ffi::sqlite3,
    stmt: NonNull<ffi::sqlite3_stmt>,
    rows: usize,
    columns: usize,
    /// The statement must not outlive the connection it was prepared on.
    _conn: PhantomData<&'conn Connection>,
}

impl<'conn> BatchInsert<'conn> {
    /// Prepares `sql`, which must insert `rows` rows of `columns` parameters
    /// each, numbered row by row (`?1` … for the first row's columns).
    pub(crate) fn prepare(
        conn: &'conn Connection,
        sql: &str,
        rows: usize,
        columns: usize,
    ) -> rusqlite::Result<Self> {
        // SAFETY: the handle is only used while `conn` is borrowed ('conn), and
        // only on this thread (Connection is not Sync).
        let db = unsafe { conn.handle() };
        let len = length(sql.as_bytes())?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; SQLite writes the statement
        // pointer into `stmt`. PERSISTENT: the statement is reused many times.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| {
            rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_MISUSE),
                Some("an empty INSERT statement".into()),
            )
        })?;
        let insert = BatchInsert {
            db,
            stmt,
            rows,
            columns,
            _conn: PhantomData,
        };
        // SAFETY: a valid statement.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(insert.stmt.as_ptr()) };
        if usize::try_from(params).ok() != Some(rows * columns) {
            return Err(rusqlite::Error::InvalidParameterCount(
                usize::try_from(params).unwrap_or(0),
                rows * columns,
            ));
        }
        Ok(insert)
    }

    /// Inserts the statement's number of rows of `cols`, starting at `first`.
    pub(crate) fn insert(&mut self, cols: &[Col<'_>], first: usize) -> rusqlite::Result<()> {
        if cols.len() != self.columns {
            return Err(rusqlite::Error::InvalidParameterCount(
                cols.len(),
                self.columns,
            ));
        }
        let bound = self.bind(cols, first);
        let stmt = self.stmt.as_ptr();
        let result = bound.and_then(|()| {
            // SAFETY: a valid statement whose bound values are borrowed from
            // `cols` for this whole call.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_DONE => Ok(()),
                ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
                rc => Err(error(self.db, rc)),
            }
        });
        // SAFETY: a valid statement. Reset and unbind whatever happened, so no
        // pointer into `cols` stays with SQLite (see the module's doc).
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        result
    }

    fn bind(&mut self, cols: &[Col<'_>], first: usize) -> rusqlite::Result<()> {
        let stmt = self.stmt.as_ptr();
        let mut param: c_int = 1;
        for row in first..first + self.rows {
            for col in cols {
                // SAFETY: `param` is within the statement's parameters (checked
                // in `prepare`); text and blob pointers stay valid until
                // `insert` clears the bindings.
                let rc = unsafe {
                    match col.value(row) {
                        ValueRef::Null => ffi::sqlite3_bind_null(stmt, param),
                        ValueRef::Integer(i) => ffi::sqlite3_bind_int64(stmt, param, i),
                        ValueRef::Real(f) => ffi::sqlite3_bind_double(stmt, param, f),
                        ValueRef::Text(t) => ffi::sqlite3_bind_text(
                            stmt,
                            param,
                            t.as_ptr().cast::<c_char>(),
                            length(t)?,
                            ffi::SQLITE_STATIC(),
                        ),
                        // A zero-length blob from a null pointer would be NULL.
                        ValueRef::Blob([]) => ffi::sqlite3_bind_zeroblob(stmt, param, 0),
                        ValueRef::Blob(b) => ffi::sqlite3_bind_blob(
                            stmt,
                            param,
                            b.as_ptr().cast::<c_void>(),
                            length(b)?,
                            ffi::SQLITE_STATIC(),
                        ),
                    }
                };
                if rc != ffi::SQLITE_OK {
                    return Err(error(self.db, rc));
                }
                param += 1;
            }
        }
        Ok(())
    }
}

impl Drop for BatchInsert<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on a connection that is still
        // open ('conn) and is finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// A value's length as SQLite's bind takes it; SQLite's own limit on a value
/// (1 GB by default) is far below where this fails.
fn length(value: &[u8]) -> rusqlite::Result<c_int> {
    c_int::try_from(value.len()).map_err(|_| {
        rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_TOOBIG),
            Some(format!("a value of {} bytes", value.len())),
        )
    })
}

/// The connection's error after `rc`, as rusqlite reports it (extended code
/// and message), so that callers match on it as on any other.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is an open connection; the message is copied before any
    // other call on it.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let message = (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned());
        (if code == ffi::SQLITE_OK { rc } else { code }, message)
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), message)
}

/// Turns off SQLite's memory statistics for the whole process. With them on
/// (the bundled build's default), every allocation SQLite makes takes one
/// global mutex, and the writer's allocations then contend with those of
/// verification's reader threads. Must run before SQLite is first used;
/// later it changes nothing and returns false.
pub fn disable_memory_statistics() -> bool {
    // SAFETY: a configuration call with one int argument, as the option takes.
    unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BinaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
    use rusqlite::Connection;

    use super::BatchInsert;
    use crate::sink::writer::columns;

    fn batch() -> RecordBatch {
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3)]));
        let reals: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)]));
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("é\0x"), Some(""), None]));
        let blobs: ArrayRef = Arc::new(BinaryArray::from(vec![
            Some(&b"\x00\xff"[..]),
            Some(&b""[..]),
            None,
        ]));
        RecordBatch::try_from_iter(vec![("i", ids), ("r", reals), ("t", texts), ("b", blobs)])
            .unwrap()
    }

    fn stored(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT quote(i), quote(r), typeof(t) || ':' || hex(t), quote(b) FROM t ORDER BY i",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..4)
                    .map(|c| r.get::<_, String>(c))
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .join(" "))
            })
            .unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn values_are_stored_as_bound_one_row_or_many() {
        let batch = batch();
        let cols = columns(&batch).unwrap();
        for rows in [1, 3] {
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch("CREATE TABLE t (i INTEGER PRIMARY KEY, r REAL, t TEXT, b BLOB)")
                .unwrap();
            let one = "(?,?,?,?)";
            let sql = format!("INSERT INTO t VALUES {}", vec![one; rows].join(","));
            let mut insert = BatchInsert::prepare(&conn, &sql, rows, 4).unwrap();
            for first in (0..3).step_by(rows) {
                insert.insert(&cols, first).unwrap();
            }
            drop(insert);
            // Text with an embedded NUL keeps its length; NaN is stored as
            // text; an empty blob stays a blob, not NULL.
            assert_eq!(
                stored(&conn),
                [
                    "1 1.5 text:C3A90078 X'00FF'",
                    "2 NULL text: X''",
                    "3 'NaN' null: NULL",
                ],
                "{rows} row(s) per statement"
            );
        }
    }

    #[test]
    fn a_broken_constraint_is_reported_with_its_extended_code() {
        let batch = batch();
        let cols = columns(&batch).unwrap();
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (i INTEGER PRIMARY KEY, r REAL, t TEXT, b BLOB CHECK (b IS NOT NULL))",
        )
        .unwrap();
        let mut insert =
            BatchInsert::prepare(&conn, "INSERT INTO t VALUES (?,?,?,?)", 1, 4).unwrap();
        insert.insert(&cols, 0).unwrap();
        let err = insert.insert(&cols, 2).unwrap_err();
        match err {
            rusqlite::Error::SqliteFailure(f, Some(msg)) => {
                assert_eq!(f.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_CHECK);
                assert!(msg.contains("CHECK constraint failed"), "{msg}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        // The statement is usable again after the error.
        insert.insert(&cols, 1).unwrap();
        assert!(
            BatchInsert::prepare(&conn, "INSERT INTO t VALUES (?,?,?,?)", 2, 4).is_err(),
            "a statement whose parameters are not rows × columns is refused"
        );
    }
}
