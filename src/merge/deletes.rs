//! Deletes of a delta merge: the SQLite rows whose key PostgreSQL no longer
//! has, decided one by one against the base ([`decide_delete`]).

use std::path::Path;

use rusqlite::Connection;

use super::base::{self, base_key, fingerprint};
use super::cursor;
use super::decide::{decide_delete, DeleteDecision, DeletePolicy, Winner};
use super::state::{key_json, record_conflict, ConflictKind, ConflictRecord, MergeCounts};
use super::writer::MergeTable;
use crate::error::{Error, Result};
use crate::mapping::format::Format;
use crate::sink::ddl::quote;
use crate::verify::keys::SqliteOnly;

/// Rows listed by name per table in the summary.
pub const LISTED: usize = 10;

/// Applies the delete policy to `rows`, SQLite rows of `t`'s table whose key
/// PostgreSQL no longer has. Returns the keys of the kept rows to list. The
/// deleted rows of a parent table are kept aside (`keep_deleted`) for the
/// foreign-key check.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    conn: &Connection,
    path: &Path,
    t: &MergeTable,
    policy: DeletePolicy,
    rows: &[SqliteOnly],
    counts: &mut MergeCounts,
    run_at: &str,
    keep_deleted: bool,
) -> Result<Vec<String>> {
    let mut kept_listed = Vec::new();
    let cols = &t.plan.sink.columns;
    let names: Vec<String> = cols.iter().map(|c| quote(&c.name)).collect();
    let probe = format!(
        "SELECT {}, {} FROM {} WHERE rowid = ?1",
        t.cursor
            .map_or_else(|| "NULL".to_owned(), |c| quote(&cols[c].name)),
        names.join(", "),
        quote(&t.plan.sink.name)
    );
    let delete = format!("DELETE FROM {} WHERE rowid = ?1", quote(&t.plan.sink.name));
    let cursor_format = t
        .cursor
        .map_or(Format::Default, |c| t.plan.conversions[c].format);
    let trusted = t.base.trusted.then_some(t.base.tid);
    let doing = "reading a row PostgreSQL no longer has";
    for row in rows {
        let mut stmt = conn
            .prepare_cached(&probe)
            .map_err(Error::sqlite(doing, path))?;
        let mut found = stmt
            .query([row.rowid])
            .map_err(Error::sqlite(doing, path))?;
        let Some(r) = found.next().map_err(Error::sqlite(doing, path))? else {
            continue;
        };
        let read = || -> rusqlite::Result<_> {
            let c = r.get_ref(0)?;
            let mut values = Vec::with_capacity(cols.len());
            for i in 0..cols.len() {
                values.push(r.get_ref(1 + i)?);
            }
            Ok((
                cursor::read(c, cursor_format),
                cursor::display(c),
                key_json(t.key.iter().map(|&k| (cols[k].name.as_str(), values[k]))),
                base_key(t.key.iter().map(|&k| values[k])),
                fingerprint(values),
            ))
        };
        let (sqlite_cursor, shown, key, bkey, fp) = read().map_err(Error::sqlite(doing, path))?;
        drop(found);
        let ancestor =
            base::lookup(conn, trusted, &bkey).map_err(Error::sqlite("reading the base", path))?;
        match decide_delete(sqlite_cursor, t.since, policy, ancestor, fp) {
            DeleteDecision::Delete => {
                if keep_deleted {
                    super::foreign_keys::keep_deleted(conn, &t.plan.sink.name, row.rowid)
                        .map_err(Error::sqlite("keeping a deleted row aside", path))?;
                }
                conn.prepare_cached(&delete)
                    .and_then(|mut d| d.execute([row.rowid]))
                    .and_then(|_| base::remove(conn, t.base.tid, &bkey))
                    .map_err(Error::sqlite("deleting a row PostgreSQL deleted", path))?;
                counts.deleted += 1;
            }
            DeleteDecision::NewInSqlite => counts.new_in_sqlite += 1,
            DeleteDecision::Keep { listed } => {
                counts.kept_deletes += 1;
                if listed {
                    // SQLite's change won over PostgreSQL's delete: from now on
                    // the row is SQLite's own.
                    base::forget(conn, t.base.tid, &bkey)
                        .and_then(|()| {
                            record_conflict(
                                conn,
                                run_at,
                                &ConflictRecord {
                                    table: t.plan.sink.name.clone(),
                                    key: key.clone(),
                                    kind: ConflictKind::KeptDelete,
                                    postgres_cursor: None,
                                    sqlite_cursor: shown,
                                    winner: Winner::Sqlite,
                                },
                            )
                        })
                        .map_err(Error::sqlite("recording a kept row", path))?;
                    if kept_listed.len() < LISTED {
                        kept_listed.push(key);
                    }
                }
            }
        }
    }
    Ok(kept_listed)
}
