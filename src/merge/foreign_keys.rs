//! Referential integrity of a delta merge. The merge runs with foreign keys
//! off (parents and children arrive in any order), so before it commits it
//! checks the foreign keys its own writes could have broken: those of the
//! child rows it wrote, and those pointing at the parent rows it deleted. The
//! foreign keys are the file's own (the app's schema), read from SQLite. The
//! checks follow the change: a merge that wrote 100 rows probes 100 rows, where
//! `PRAGMA foreign_key_check` would scan every child table whole.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, OptionalExtension};

use crate::sink::ddl::quote;

/// One row whose foreign key points at no row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub table: String,
    pub rowid: i64,
    pub parent: String,
}

/// One foreign key of the file: `child (from…) REFERENCES parent (to…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub child: String,
    pub parent: String,
    pub from: Vec<String>,
    /// The parent's columns; its primary key (or rowid) when the key names none.
    pub to: Vec<String>,
}

/// Every foreign key of the file's tables.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<ForeignKey>> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
             ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for child in tables {
        let mut stmt = conn.prepare(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )?;
        let rows: Vec<(i64, String, String, Option<String>)> = stmt
            .query_map([&child], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, parent, from, to) in rows {
            let fk = by_id.entry(id).or_insert_with(|| ForeignKey {
                child: child.clone(),
                parent,
                from: Vec::new(),
                to: Vec::new(),
            });
            fk.from.push(from);
            if let Some(to) = to {
                fk.to.push(to);
            }
        }
        for mut fk in by_id.into_values() {
            if fk.to.len() != fk.from.len() {
                fk.to = primary_key(conn, &fk.parent)?;
            }
            out.push(fk);
        }
    }
    Ok(out)
}

/// The primary-key columns of `table`, in key order (`rowid` when it has none).
fn primary_key(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    let pk: Vec<String> = stmt
        .query_map([table], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(if pk.is_empty() {
        vec!["rowid".to_owned()]
    } else {
        pk
    })
}

/// Parent tables per child table.
pub fn parents(fks: &[ForeignKey]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for fk in fks {
        out.entry(fk.child.clone())
            .or_default()
            .insert(fk.parent.clone());
    }
    out
}

/// `tables` ordered children first: a table comes before every table it
/// references (cycles and self-references are left in their order).
pub fn children_first(
    tables: &[String],
    parents: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<usize> {
    let position = |name: &str| tables.iter().position(|t| t.eq_ignore_ascii_case(name));
    // Depth: how long the longest chain of tables referencing this one is.
    let mut depth = vec![0usize; tables.len()];
    for _ in 0..tables.len() {
        let mut changed = false;
        for (child, name) in tables.iter().enumerate() {
            let Some(ps) = parents.get(name) else {
                continue;
            };
            for p in ps {
                if let Some(pi) = position(p) {
                    if pi != child && depth[pi] < depth[child] + 1 && depth[child] < tables.len() {
                        depth[pi] = depth[child] + 1;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| depth[i]);
    order
}

/// The values row `rowid` of `fk`'s child table holds in the foreign key's
/// columns; `None` when one of them is NULL (a NULL key points nowhere).
pub fn referenced_key(
    conn: &Connection,
    fk: &ForeignKey,
    rowid: i64,
) -> rusqlite::Result<Option<Vec<rusqlite::types::Value>>> {
    let cols: Vec<String> = fk.from.iter().map(|c| quote(c)).collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE rowid = ?1",
        cols.join(", "),
        quote(&fk.child)
    );
    let values: Option<Vec<rusqlite::types::Value>> = conn
        .prepare_cached(&sql)?
        .query_row([rowid], |r| {
            (0..cols.len())
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .optional()?;
    Ok(values.filter(|v| !v.contains(&rusqlite::types::Value::Null)))
}

/// The temp table that keeps the rows a merge deleted from `table`, so that
/// the children still pointing at them can be found.
fn deleted_copy(table: &str) -> String {
    format!("temp.{}", quote(&format!("_pg2sqlite_deleted_{table}")))
}

/// Whether `table` is the parent of a foreign key (its deletes must be kept).
pub fn is_parent(fks: &[ForeignKey], table: &str) -> bool {
    fks.iter().any(|fk| fk.parent.eq_ignore_ascii_case(table))
}

/// Keeps a copy of row `rowid` of `table`, about to be deleted.
pub fn keep_deleted(conn: &Connection, table: &str, rowid: i64) -> rusqlite::Result<()> {
    let copy = deleted_copy(table);
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {copy} AS SELECT * FROM {} LIMIT 0",
        quote(table)
    ))?;
    conn.prepare_cached(&format!(
        "INSERT INTO {copy} SELECT * FROM {} WHERE rowid = ?1",
        quote(table)
    ))?
    .execute([rowid])?;
    Ok(())
}

/// The foreign keys a merge may have broken, checked: of the child rows it
/// wrote (`written`: rowids per table), and of every child row that pointed at
/// a parent row it deleted (kept by [`keep_deleted`]). Returns the tables
/// checked and the violations.
pub fn violations(
    conn: &Connection,
    fks: &[ForeignKey],
    written: &BTreeMap<String, Vec<i64>>,
    deleted_from: &BTreeSet<String>,
) -> rusqlite::Result<(BTreeSet<String>, Vec<Violation>)> {
    let mut checked = BTreeSet::new();
    let mut found = BTreeSet::new();
    for fk in fks {
        let c = quote(&fk.child);
        let p = quote(&fk.parent);
        let pairs = |left: &str, right: &str, cols: (&[String], &[String])| -> String {
            cols.0
                .iter()
                .zip(cols.1)
                .map(|(a, b)| format!("{left}.{} = {right}.{}", quote(a), quote(b)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let not_null = fk
            .from
            .iter()
            .map(|f| format!("c.{} IS NOT NULL", quote(f)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let orphan = format!(
            "{not_null} AND NOT EXISTS (SELECT 1 FROM {p} p WHERE {})",
            pairs("p", "c", (&fk.to, &fk.from))
        );
        let mut sqls = Vec::new();
        if let Some(rowids) = written.get(&fk.child).filter(|r| !r.is_empty()) {
            conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS _pg2sqlite_written (r INTEGER PRIMARY KEY);
                 DELETE FROM temp._pg2sqlite_written;",
            )?;
            let mut insert =
                conn.prepare_cached("INSERT OR IGNORE INTO temp._pg2sqlite_written VALUES (?1)")?;
            for r in rowids {
                insert.execute([r])?;
            }
            sqls.push(format!(
                "SELECT c.rowid FROM {c} c WHERE c.rowid IN (SELECT r FROM temp._pg2sqlite_written) \
                 AND {orphan}"
            ));
        }
        if deleted_from.contains(&fk.parent) {
            // CROSS JOIN keeps the deleted rows the outer loop: the planner
            // knows nothing of the temp table's size and would scan the whole
            // child table; this way each deleted row is one probe of the
            // child's index (or of an automatic one SQLite builds, at worst
            // the same one scan).
            sqls.push(format!(
                "SELECT DISTINCT c.rowid FROM {} d CROSS JOIN {c} c ON {} WHERE {orphan}",
                deleted_copy(&fk.parent),
                pairs("c", "d", (&fk.from, &fk.to))
            ));
        }
        for sql in sqls {
            checked.insert(fk.child.clone());
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                found.insert(Violation {
                    table: fk.child.clone(),
                    rowid: r.get(0)?,
                    parent: fk.parent.clone(),
                });
            }
        }
    }
    Ok((checked, found.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_come_before_their_parents_and_broken_keys_are_found() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE author (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES author (id));
             CREATE TABLE book (id INTEGER PRIMARY KEY, author INTEGER REFERENCES author);
             CREATE TABLE tag (id INTEGER PRIMARY KEY);
             CREATE TABLE book_tag (book INTEGER REFERENCES book (id),
                                    tag INTEGER REFERENCES tag (id));
             INSERT INTO author VALUES (1, NULL), (2, 1), (3, NULL);
             INSERT INTO book VALUES (1, 1), (2, 9), (3, 3);",
        )?;
        let fks = all(&conn)?;
        let ps = parents(&fks);
        let tables: Vec<String> = ["author", "book", "tag", "book_tag"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let order = children_first(&tables, &ps);
        let at = |name: &str| order.iter().position(|&i| tables[i] == name);
        assert!(at("book_tag") < at("book"));
        assert!(at("book") < at("author"));
        assert!(at("book_tag") < at("tag"));
        assert!(is_parent(&fks, "author") && !is_parent(&fks, "book_tag"));

        // The merge wrote book 2 (its author 9 does not exist) and book 3, and
        // deleted author 1 (book 1 and author 2 point at it).
        keep_deleted(&conn, "author", 1)?;
        conn.execute_batch("DELETE FROM author WHERE id = 1")?;
        let written = BTreeMap::from([("book".to_owned(), vec![2, 3])]);
        let deleted = BTreeSet::from(["author".to_owned()]);
        let (checked, v) = violations(&conn, &fks, &written, &deleted)?;
        let v: Vec<(String, i64)> = v.into_iter().map(|v| (v.table, v.rowid)).collect();
        assert_eq!(
            v,
            vec![
                ("author".to_owned(), 2),
                ("book".to_owned(), 1),
                ("book".to_owned(), 2)
            ]
        );
        assert_eq!(
            checked,
            BTreeSet::from(["author".to_owned(), "book".to_owned()])
        );
        Ok(())
    }
}
