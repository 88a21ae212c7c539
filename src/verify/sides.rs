//! Which side made a difference, when the file holds the base the last sync
//! left (`merge::base`): a differing row SQLite changed since that sync is one
//! a delta keeps on purpose (SQLite's change), one PostgreSQL changed is one
//! the next delta brings. `verify` after a delta so says why rows differ.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::mapping::types::ValueKind;
use crate::merge::base::{self, base_key, fingerprint, Ancestor, BaseKey};
use crate::plan::TablePlan;
use crate::sink::ddl::quote;

/// Counts of the differences of one table by the side that made them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BySide {
    /// Rows SQLite changed, added or deleted since the last sync.
    pub sqlite: u64,
    /// Rows PostgreSQL changed, added or deleted since the last sync.
    pub postgres: u64,
}

/// A table's base, for attributing its differences.
pub(crate) struct TableBase {
    tid: i64,
    key: Vec<usize>,
}

impl TableBase {
    /// The base of `plan`'s table, when the file holds one for its columns.
    pub(crate) fn find(conn: &Connection, plan: &TablePlan, key: &[usize]) -> Option<TableBase> {
        let signature = base::signature(plan.sink.columns.iter().map(|c| c.name.as_str()));
        // A file without the base tables, or that cannot be read, has no base.
        let tid = base::find(conn, &plan.sink.name, &signature).ok()??;
        (!key.is_empty()).then(|| TableBase {
            tid,
            key: key.to_vec(),
        })
    }

    /// The key as the default mapping stores it, from canonical key values:
    /// integers as integers, anything else as its text.
    fn stored_key<'a>(
        &self,
        plan: &TablePlan,
        canonical: &'a [Option<String>],
    ) -> Vec<ValueRef<'a>> {
        self.key
            .iter()
            .map(|&k| match canonical[k].as_deref() {
                None => ValueRef::Null,
                Some(t) => match plan.conversions[k].kind {
                    ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => t
                        .parse::<i64>()
                        .map_or(ValueRef::Text(t.as_bytes()), ValueRef::Integer),
                    _ => ValueRef::Text(t.as_bytes()),
                },
            })
            .collect()
    }

    /// The base key and fingerprint of the SQLite row whose canonical values
    /// are `canonical`, read from the file by its key.
    fn stored(
        &self,
        conn: &Connection,
        plan: &TablePlan,
        canonical: &[Option<String>],
    ) -> Option<(BaseKey, i64)> {
        let cols = &plan.sink.columns;
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            cols.iter()
                .map(|c| quote(&c.name))
                .collect::<Vec<_>>()
                .join(", "),
            quote(&plan.sink.name),
            self.key
                .iter()
                .enumerate()
                .map(|(i, &k)| format!("{} = ?{}", quote(&cols[k].name), i + 1))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        let key = self.stored_key(plan, canonical);
        let mut stmt = conn.prepare_cached(&sql).ok()?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(
                key.iter().map(|v| ToSqlOutput::Borrowed(*v)),
            ))
            .ok()?;
        let r = rows.next().ok()??;
        let mut values = Vec::with_capacity(cols.len());
        for i in 0..cols.len() {
            values.push(r.get_ref(i).ok()?);
        }
        Some((
            base_key(self.key.iter().map(|&k| values[k])),
            fingerprint(values),
        ))
    }

    fn ancestor(&self, conn: &Connection, key: &BaseKey) -> Ancestor {
        base::lookup(conn, Some(self.tid), key).unwrap_or(Ancestor::Unknown)
    }

    /// A row both sides hold, differently, or only SQLite holds (SQLite's
    /// canonical values): SQLite made the difference unless its row is the one
    /// the last sync left. A row not found by its key as the default mapping
    /// stores it is not attributed.
    pub(crate) fn sqlite_row_of(
        &self,
        conn: &Connection,
        plan: &TablePlan,
        canonical: &[Option<String>],
        by_side: &mut BySide,
    ) {
        let Some((key, fp)) = self.stored(conn, plan, canonical) else {
            return;
        };
        match self.ancestor(conn, &key) {
            Ancestor::Row(h) if h == fp => by_side.postgres += 1,
            Ancestor::Unknown => {}
            _ => by_side.sqlite += 1,
        }
    }

    /// A row only PostgreSQL holds (its canonical values): SQLite deleted it
    /// when the last sync left it there, else PostgreSQL added it.
    pub(crate) fn postgres_only(
        &self,
        conn: &Connection,
        plan: &TablePlan,
        canonical: &[Option<String>],
        by_side: &mut BySide,
    ) {
        let key = base_key(self.stored_key(plan, canonical));
        match self.ancestor(conn, &key) {
            Ancestor::Row(_) => by_side.sqlite += 1,
            Ancestor::Absent => by_side.postgres += 1,
            Ancestor::Unknown => {}
        }
    }
}
