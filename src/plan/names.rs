//! The SQLite names of the tables and columns a run copies, where no map names
//! them. SQLite compares names without regard to case and reserves `sqlite_…`
//! table names, so a database PostgreSQL accepts may hold names SQLite cannot:
//! those get a new name by a fixed rule, and every rename is reported.
//!
//! The rule (README "What lands in SQLite"):
//! - a table `sqlite_x` becomes `pg_sqlite_x`;
//! - of the names that differ only in case, the first keeps its name: tables in
//!   byte order of `schema.table`, columns in their table's order; each later
//!   one gets `_2`, `_3`, …, the first suffix no other name of the run holds;
//! - names a map gives are kept as they are (a collision among them stays an
//!   error the map must fix).

use std::collections::{HashMap, HashSet};

use crate::source::catalog::PgTable;

use super::sqlite_table_name;

/// Default names for the chosen tables and their columns.
#[derive(Debug, Default)]
pub struct DefaultNames {
    tables: HashMap<(String, String), String>,
    columns: HashMap<(String, String, String), String>,
    /// Every rename, for the summary, `--json` and `map init`.
    pub renames: Vec<String>,
}

impl DefaultNames {
    /// Assigns names. `mapped_table` and `mapped_column` return the name a map
    /// gives, if any.
    pub fn assign(
        tables: &[PgTable],
        mapped_table: impl Fn(&str, &str) -> Option<String>,
        mapped_column: impl Fn(&str, &str, &str) -> Option<String>,
    ) -> DefaultNames {
        let mut out = DefaultNames::default();
        let mut order: Vec<&PgTable> = tables.iter().collect();
        order.sort_by(|a, b| {
            (a.schema.as_bytes(), a.name.as_bytes()).cmp(&(b.schema.as_bytes(), b.name.as_bytes()))
        });

        let wanted: Vec<Wanted> = order
            .iter()
            .map(|t| match mapped_table(&t.schema, &t.name) {
                Some(name) => Wanted::Fixed(name),
                None => {
                    let base = sqlite_table_name(&t.schema, &t.name);
                    if base.to_lowercase().starts_with("sqlite_") {
                        Wanted::Reserved(format!("pg_{base}"))
                    } else {
                        Wanted::Free(base)
                    }
                }
            })
            .collect();
        let names = resolve(&wanted);
        for ((t, w), name) in order.iter().zip(&wanted).zip(&names) {
            let source = format!("{}.{}", t.schema, t.name);
            match w {
                Wanted::Reserved(_) => out.renames.push(format!(
                    "table {source} -> {name} (SQLite reserves names starting with sqlite_)"
                )),
                Wanted::Free(base) if base != name => out.renames.push(format!(
                    "table {source} -> {name} (SQLite table names ignore case, and another \
                     table is {base:?})"
                )),
                _ => {}
            }
            out.tables
                .insert((t.schema.clone(), t.name.clone()), name.clone());

            let col_wanted: Vec<Wanted> = t
                .columns
                .iter()
                .map(|c| match mapped_column(&t.schema, &t.name, &c.name) {
                    Some(name) => Wanted::Fixed(name),
                    None => Wanted::Free(c.name.clone()),
                })
                .collect();
            let col_names = resolve(&col_wanted);
            for ((c, w), col) in t.columns.iter().zip(&col_wanted).zip(col_names) {
                if let Wanted::Free(base) = w {
                    if *base != col {
                        out.renames.push(format!(
                            "column {source}.{} -> {name}.{col} (SQLite column names ignore \
                             case, and another column is {base:?})",
                            c.name
                        ));
                    }
                }
                out.columns
                    .insert((t.schema.clone(), t.name.clone(), c.name.clone()), col);
            }
        }
        out
    }

    pub fn table(&self, schema: &str, table: &str) -> Option<&str> {
        self.tables
            .get(&(schema.to_owned(), table.to_owned()))
            .map(String::as_str)
    }

    pub fn column(&self, schema: &str, table: &str, column: &str) -> Option<&str> {
        self.columns
            .get(&(schema.to_owned(), table.to_owned(), column.to_owned()))
            .map(String::as_str)
    }
}

/// A name asked for.
enum Wanted {
    /// Given by a map: kept.
    Fixed(String),
    /// A reserved name already replaced: kept unless it collides.
    Reserved(String),
    /// The PostgreSQL name: kept unless it collides.
    Free(String),
}

impl Wanted {
    fn name(&self) -> &str {
        match self {
            Wanted::Fixed(n) | Wanted::Reserved(n) | Wanted::Free(n) => n,
        }
    }
}

/// Final names, in the order of `wanted`: fixed names and the first of each
/// case-insensitive group keep theirs; the others get the first free suffix.
fn resolve(wanted: &[Wanted]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut keeps = vec![false; wanted.len()];
    // Map names first, then the first holder of each other name.
    for (i, w) in wanted.iter().enumerate() {
        if matches!(w, Wanted::Fixed(_)) {
            taken.insert(w.name().to_lowercase());
            keeps[i] = true;
        }
    }
    for (i, w) in wanted.iter().enumerate() {
        if !keeps[i] && taken.insert(w.name().to_lowercase()) {
            keeps[i] = true;
        }
    }
    wanted
        .iter()
        .zip(keeps)
        .map(|(w, keep)| {
            if keep {
                return w.name().to_owned();
            }
            let mut k = 2;
            loop {
                let candidate = format!("{}_{k}", w.name());
                if taken.insert(candidate.to_lowercase()) {
                    return candidate;
                }
                k += 1;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free(names: &[&str]) -> Vec<Wanted> {
        names
            .iter()
            .map(|n| Wanted::Free((*n).to_owned()))
            .collect()
    }

    #[test]
    fn the_first_keeps_its_name_and_later_ones_get_the_first_free_suffix() {
        assert_eq!(
            resolve(&free(&["Users", "users", "USERS", "users_2", "other"])),
            vec!["Users", "users_3", "USERS_4", "users_2", "other"]
        );
        let mut with_map = free(&["a", "A"]);
        with_map.push(Wanted::Fixed("a_2".into()));
        assert_eq!(resolve(&with_map), vec!["a", "A_3", "a_2"]);
    }
}
