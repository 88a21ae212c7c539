//! Preparing one table for a delta merge: its key, its cursor, its base, and
//! how its changed rows are found.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::mapping::time::{parse_timestamp, unix_micros_text};
use crate::merge::base;
use crate::merge::cursor::{self, NoCursor};
use crate::merge::decide::DeletePolicy;
use crate::merge::key::merge_key;
use crate::merge::state::{self, SyncMode};
use crate::merge::writer::{BaseUse, MergeTable};
use crate::plan::TablePlan;

use super::{MergeSettings, Since};
use crate::pipeline::{comparison_chunks, table_chunks};
use crate::source::chunk::ChunkRange;
use crate::source::horizon::{written_since, Horizon, TableHorizon};
use crate::verify::narrow::content_difference;

/// How the changed rows of a table are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    /// The table is new in SQLite: every row.
    NewTable,
    /// The rows whose update cursor is later than the since-time; the base
    /// tells which side changed them.
    Cursor,
    /// The rows whose content differs between the sides: tables without an
    /// update cursor, and every table of a file without a base yet.
    Content,
}

/// A table of the plan, prepared for merging.
pub(super) struct Prepared {
    pub(super) merge: MergeTable,
    pub(super) deletes: DeletePolicy,
    pub(super) mode: SyncMode,
    pub(super) method: Method,
    pub(super) cursor_name: Option<String>,
    pub(super) since_text: Option<String>,
    /// The table's base, when the file holds a complete one.
    pub(super) base_found: Option<i64>,
    /// How its changes were found, for the summary.
    pub(super) found_by: String,
    /// Where PostgreSQL's transaction ids stood when the last sync brought
    /// every row of the table up to date, if it recorded that.
    pub(super) horizon: Option<TableHorizon>,
}

/// Prepares one table, or says why it cannot be merged. `Ok(None)`: the table
/// needs a since-time and has none.
pub(super) fn prepare(
    t: &TablePlan,
    conn: &Connection,
    opts: &MergeSettings<'_>,
    notes: &mut Vec<String>,
) -> std::result::Result<Option<Prepared>, String> {
    let table_map = opts.map.and_then(|m| m.table(&t.source_name));
    let key = merge_key(t, opts.map)?;
    let mut plan = t.clone();
    plan.sink.primary_key = Some(
        key.iter()
            .map(|&k| t.sink.columns[k].name.clone())
            .collect(),
    );
    let deletes = opts
        .deletes
        .or_else(|| table_map.and_then(|m| m.deletes()))
        .unwrap_or_default();
    if !t.sink.existing {
        notes.push(format!(
            "{}: new in PostgreSQL, created in SQLite with all its rows",
            t.sink.name
        ));
        return Ok(Some(Prepared {
            cursor_name: cursor::find(&plan, None).ok().map(|c| c.name),
            merge: MergeTable {
                plan,
                key,
                cursor: None,
                since: None,
                base: NO_BASE_YET,
                restore: Default::default(),
            },
            deletes,
            mode: SyncMode::Full,
            method: Method::NewTable,
            since_text: None,
            base_found: None,
            found_by: String::new(),
            horizon: None,
        }));
    }
    let wanted = table_map
        .and_then(|m| m.cursor())
        .map(|c| t.sink_column_of(c));
    let wanted = match wanted {
        Some(None) => {
            return Err(format!(
                "table {}: the map's cursor column is not merged (it is skipped, or SQLite has \
                 no such column)",
                t.source_name
            ))
        }
        Some(Some(c)) => Some(c),
        None => None,
    };
    let (cursor_index, cursor_name) = match cursor::find(&plan, wanted.as_deref()) {
        Ok(c) => (Some(c.index), Some(c.name)),
        Err(NoCursor::Absent) => {
            notes.push(format!(
                "{}: no updated_at column, so its changes are found by the row versions \
                 PostgreSQL wrote since the last sync (their xmin), or, where those cannot be \
                 told, by comparing content (a checksum scan on each side; only differing rows \
                 are read). A column such as created_at says when a row was made, not when it \
                 last changed. Name an update cursor in the map with `cursor = \"...\"` if the \
                 app keeps one",
                t.sink.name
            ));
            (None, None)
        }
        Err(NoCursor::WrongType { column, pg_type }) => {
            notes.push(format!(
                "{}: column {column} is {pg_type}, not a date or timestamp, so it cannot be a \
                 cursor; its changes are found as for a table without one (the row versions \
                 written since the last sync, or content)",
                t.sink.name
            ));
            (None, None)
        }
    };
    let signature = base::signature(plan.sink.columns.iter().map(|c| c.name.as_str()));
    let base_found = base::find(conn, &plan.sink.name, &signature)
        .map_err(|e| format!("reading the sync base of {}: {e}", t.sink.name))?;
    let since = match (cursor_index, opts.since) {
        (None, _) => None,
        (Some(_), Since::Given(s)) => Some(s),
        (Some(_), Since::Stored { lag }) => {
            let stored = state::watermark(conn, &t.sink.name)
                .map_err(|e| format!("reading the sync state of {}: {e}", t.sink.name))?;
            match stored.as_deref().and_then(parse_timestamp) {
                Some(w) => Some(w.saturating_sub(lag)),
                None => return Ok(None),
            }
        }
    };
    let method = match (cursor_index, base_found) {
        (Some(_), Some(_)) => Method::Cursor,
        _ => Method::Content,
    };
    Ok(Some(Prepared {
        merge: MergeTable {
            plan,
            key,
            cursor: cursor_index,
            since,
            base: NO_BASE_YET,
            restore: Default::default(),
        },
        deletes,
        mode: match method {
            Method::Cursor => SyncMode::Delta,
            _ => SyncMode::Content,
        },
        method,
        cursor_name,
        since_text: since.map(unix_micros_text),
        base_found,
        found_by: String::new(),
        horizon: match method {
            Method::Content => state::horizon(conn, &t.sink.name)
                .map_err(|e| format!("reading the sync state of {}: {e}", t.sink.name))?
                .as_deref()
                .and_then(TableHorizon::parse),
            _ => None,
        },
    }))
}

/// The base of a table until the transaction has started and it is known.
const NO_BASE_YET: BaseUse = BaseUse {
    tid: 0,
    trusted: false,
};

/// Whether an index of the table starts with the cursor column.
pub(super) async fn cursor_indexed(
    client: &tokio_postgres::Client,
    plan: &TablePlan,
    column: &str,
) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (
                SELECT 1 FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = $1::text::regclass AND a.attname = $2)",
            &[&plan.copy.relation, &column],
        )
        .await
        .map_err(Error::pg(format!("looking for an index on {column}")))?;
    row.try_get(0)
        .map_err(Error::pg(format!("looking for an index on {column}")))
}

/// The ranges that hold the changed rows of `p`'s table, found by its method
/// (and noted in `p.found_by` for the summary). Content comparison reads the
/// file over connections of its own: nothing may have been written yet.
pub(super) async fn changed_rows(
    p: &mut Prepared,
    now: Option<(Horizon, i64)>,
    coordinator: &tokio_postgres::Client,
    clients: &[tokio_postgres::Client],
    path: &std::path::Path,
) -> crate::error::Result<Vec<ChunkRange>> {
    Ok(match (p.method, &p.cursor_name, &p.since_text) {
        (Method::Cursor, Some(c), Some(s)) => {
            p.found_by = format!("cursor {c} later than {s}");
            vec![ChunkRange::Changed {
                cursor: c.clone(),
                since: s.clone(),
            }]
        }
        (Method::NewTable, ..) => {
            p.found_by = "new table: every row".to_owned();
            table_chunks(coordinator, &p.merge.plan).await?
        }
        _ => {
            let written = written_range(p, now);
            if let Some(Ok(range)) = written {
                p.found_by = "rows PostgreSQL wrote since the last sync (their xmin)".to_owned();
                return Ok(vec![range]);
            }
            let ranges = comparison_chunks(coordinator, &p.merge.plan).await?;
            let diff = content_difference(clients, &p.merge.plan, ranges, path).await?;
            p.found_by = match (diff.rows, diff.buckets) {
                (Some(0), _) | (None, 0) => "content: no difference".to_owned(),
                (Some(n), _) => format!("content: {n} differing row(s) read"),
                (None, n) => format!("content: {n} differing key bucket(s) read"),
            };
            if let Some(Err(why)) = written {
                p.found_by += &format!(" (not by the rows written since the last sync: {why})");
            }
            diff.ranges
        }
    })
}

/// For a table compared by content: the rows PostgreSQL wrote since the last
/// sync recorded where its ids stood (`Ok`), or why they cannot be told
/// (`Err`); `None` when nothing was recorded, or the file has no base yet.
pub(super) fn written_range(
    p: &Prepared,
    now: Option<(Horizon, i64)>,
) -> Option<std::result::Result<ChunkRange, &'static str>> {
    match (p.method, &p.horizon, now, p.base_found) {
        (Method::Content, Some(recorded), Some((at, xmax)), Some(_)) => {
            Some(written_since(recorded, &at, xmax, &p.merge.plan))
        }
        _ => None,
    }
}

/// Whether PostgreSQL has any row of `plan`'s table in `range` (in the
/// caller's snapshot): one probe of the cursor's index.
pub(super) async fn any_rows(
    client: &tokio_postgres::Client,
    plan: &crate::plan::TablePlan,
    range: &ChunkRange,
) -> crate::error::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {}{})",
        plan.copy.relation,
        range.predicate()
    );
    let row = client
        .query_one(sql.as_str(), &[])
        .await
        .map_err(crate::error::Error::pg(format!(
            "asking whether {} has changed rows",
            plan.source_name
        )))?;
    Ok(row.get(0))
}
