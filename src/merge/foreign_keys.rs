//! Referential integrity of a delta merge. The merge runs with foreign keys
//! off (parents and children arrive in any order), so before it commits it
//! checks the foreign keys of every table it touched, and of the children of
//! every table it deleted from. The foreign keys are the file's own (the app's
//! schema), read from SQLite.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use crate::sink::ddl::quote;

/// One row whose foreign key points at no row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub table: String,
    pub rowid: i64,
    pub parent: String,
}

/// Parent tables per table of the file, as its foreign keys name them.
pub fn parents(conn: &Connection) -> rusqlite::Result<BTreeMap<String, BTreeSet<String>>> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
             ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = BTreeMap::new();
    for t in tables {
        let mut stmt = conn.prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")?;
        let ps: BTreeSet<String> = stmt
            .query_map([&t], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.insert(t, ps);
    }
    Ok(out)
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

/// The tables whose foreign keys a merge may have broken: those it wrote to,
/// and the children of those it deleted from.
pub fn to_check(
    written: &[String],
    deleted_from: &[String],
    parents: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = written.iter().cloned().collect();
    for (child, ps) in parents {
        if ps
            .iter()
            .any(|p| deleted_from.iter().any(|d| d.eq_ignore_ascii_case(p)))
        {
            out.insert(child.clone());
        }
    }
    out.retain(|t| parents.get(t).is_some_and(|ps| !ps.is_empty()));
    out
}

/// `PRAGMA foreign_key_check` on each of `tables`.
pub fn violations(
    conn: &Connection,
    tables: &BTreeSet<String>,
) -> rusqlite::Result<Vec<Violation>> {
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("PRAGMA foreign_key_check({})", quote(t)))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.push(Violation {
                table: r.get(0)?,
                // NULL for a WITHOUT ROWID table: such rows cannot be named by rowid.
                rowid: r.get::<_, Option<i64>>(1)?.unwrap_or(-1),
                parent: r.get(2)?,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_come_before_their_parents() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE author (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES author (id));
             CREATE TABLE book (id INTEGER PRIMARY KEY, author INTEGER REFERENCES author (id));
             CREATE TABLE tag (id INTEGER PRIMARY KEY);
             CREATE TABLE book_tag (book INTEGER REFERENCES book (id),
                                    tag INTEGER REFERENCES tag (id));
             INSERT INTO author VALUES (1, NULL);
             INSERT INTO book VALUES (1, 1), (2, 9);",
        )?;
        let ps = parents(&conn)?;
        let tables: Vec<String> = ["author", "book", "tag", "book_tag"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let order = children_first(&tables, &ps);
        let at = |name: &str| order.iter().position(|&i| tables[i] == name);
        assert!(at("book_tag") < at("book"));
        assert!(at("book") < at("author"));
        assert!(at("book_tag") < at("tag"));

        let check = to_check(&["tag".to_owned()], &["author".to_owned()], &ps);
        assert_eq!(
            check.into_iter().collect::<Vec<_>>(),
            vec!["author".to_owned(), "book".to_owned()],
            "tag has no foreign keys; author's children are book and author"
        );
        let v = violations(&conn, &["book".to_owned()].into_iter().collect())?;
        assert_eq!(
            v,
            vec![Violation {
                table: "book".into(),
                rowid: 2,
                parent: "author".into()
            }]
        );
        Ok(())
    }
}
