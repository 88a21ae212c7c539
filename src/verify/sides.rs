//! Which side made a difference, when the file holds the base the last sync
//! left (`merge::base`): a differing row SQLite changed since that sync is one
//! a delta keeps on purpose (SQLite's change), one PostgreSQL changed is one
//! the next delta brings. `verify` after a delta so says why rows differ.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::mapping::types::ValueKind;
use crate::merge::base::{self, base_key, fingerprint, Ancestor, BaseKey};
use crate::plan::TablePlan;

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

    /// The base key and fingerprint of a SQLite row as stored.
    pub(crate) fn stored(&self, values: &[ValueRef<'_>]) -> (BaseKey, i64) {
        (
            base_key(self.key.iter().map(|&k| values[k])),
            fingerprint(values.iter().copied()),
        )
    }

    fn ancestor(&self, conn: &Connection, key: &BaseKey) -> Ancestor {
        base::lookup(conn, Some(self.tid), key).unwrap_or(Ancestor::Unknown)
    }

    /// A row both sides hold, differently, or only SQLite holds: SQLite made
    /// the difference unless its row is the one the last sync left.
    pub(crate) fn sqlite_row(
        &self,
        conn: &Connection,
        stored: &(BaseKey, i64),
        by_side: &mut BySide,
    ) {
        match self.ancestor(conn, &stored.0) {
            Ancestor::Row(h) if h == stored.1 => by_side.postgres += 1,
            Ancestor::Unknown => {}
            _ => by_side.sqlite += 1,
        }
    }

    /// A row only PostgreSQL holds (its canonical key values): SQLite deleted
    /// it when the last sync left it there, else PostgreSQL added it.
    pub(crate) fn postgres_only(
        &self,
        conn: &Connection,
        plan: &TablePlan,
        canonical: &[Option<String>],
        by_side: &mut BySide,
    ) {
        // The key as the default mapping stores it: integers as integers,
        // anything else as its text.
        let values: Vec<Option<ValueRef<'_>>> = self
            .key
            .iter()
            .map(|&k| {
                canonical[k]
                    .as_deref()
                    .map(|t| match plan.conversions[k].kind {
                        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => t
                            .parse::<i64>()
                            .map_or(ValueRef::Text(t.as_bytes()), ValueRef::Integer),
                        _ => ValueRef::Text(t.as_bytes()),
                    })
            })
            .collect();
        let key = base_key(values.into_iter().map(|v| v.unwrap_or(ValueRef::Null)));
        match self.ancestor(conn, &key) {
            Ancestor::Row(_) => by_side.sqlite += 1,
            Ancestor::Absent => by_side.postgres += 1,
            Ancestor::Unknown => {}
        }
    }
}
