//! Where the server's transaction ids stood when a run's snapshot was taken,
//! so that a later delta can find the rows written since without comparing
//! content: every INSERT or UPDATE leaves a row version whose `xmin` is the
//! writing transaction's id, and a row no transaction wrote since the snapshot
//! keeps the `xmin` it had.
//!
//! Why a row written after the recorded snapshot is never missed:
//! - its writer's id is at least the snapshot's `xmin` (the oldest transaction
//!   still running then: any transaction not finished by then, subtransactions
//!   included, got its id later or is that one), and below the xmax of the
//!   delta's own snapshot, which sees the row;
//! - that window is under 2^31 ids (checked), so the 32-bit `xmin` a row
//!   shows falls in it modulo 2^32 exactly when its full id does, except for
//!   rows frozen long ago whose id was reused, which are read needlessly,
//!   never skipped (freezing keeps the raw `xmin` since PostgreSQL 9.4);
//! - ids are only comparable on the same cluster (system identifier), the
//!   same timeline (a promoted standby or a restore to an earlier point starts
//!   a new one and may reuse ids) and the same table (its OID: a table renamed
//!   into place brings rows with old ids). Anything else falls back to
//!   comparing content.
//!
//! What it does not see, like an update cursor: rows deleted (the key sets
//! are compared for those), and rows whose text changes without being written
//! (an enum label renamed). A partitioned table is always compared by
//! content: attaching a partition brings rows with old ids.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::plan::TablePlan;
use crate::source::chunk::ChunkRange;

/// The server's position at a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Horizon {
    /// `pg_control_system().system_identifier`: which cluster.
    pub system: i64,
    /// The timeline the server writes on.
    pub timeline: i64,
    /// The database's OID.
    pub database: i64,
    /// The 64-bit transaction id (with its epoch) of the oldest transaction
    /// running when the snapshot was taken, or the next id when none was.
    pub xmin: i64,
}

/// Reads the server's [`Horizon`] on a connection outside a transaction, just
/// before the snapshot is exported (the `xmin` can only be older than the
/// snapshot's own, which reads more rows later, never fewer). `None` when the
/// server cannot tell (a standby, a server before PostgreSQL 13, a role that
/// may not read the control data): deltas then compare content.
pub async fn read(client: &Client) -> Option<Horizon> {
    let usable = client
        .query_one(
            "SELECT NOT pg_is_in_recovery() \
                    AND current_setting('server_version_num')::int >= 130000 \
                    AND has_function_privilege('pg_control_system()', 'execute')",
            &[],
        )
        .await
        .and_then(|r| r.try_get::<_, bool>(0));
    if !matches!(usable, Ok(true)) {
        return None;
    }
    let row = client
        .query_one(
            "SELECT (SELECT system_identifier FROM pg_control_system()),
                    ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int8,
                    (SELECT oid FROM pg_database WHERE datname = current_database())::int8,
                    txid_snapshot_xmin(txid_current_snapshot())",
            &[],
        )
        .await
        .ok()?;
    Some(Horizon {
        system: row.try_get(0).ok()?,
        timeline: row.try_get(1).ok()?,
        database: row.try_get(2).ok()?,
        xmin: row.try_get(3).ok()?,
    })
}

/// What a run records of one table it brought up to date: the server's
/// position, the table, and how its values were mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableHorizon {
    #[serde(flatten)]
    pub at: Horizon,
    /// The table's OID.
    pub relation: i64,
    /// [`plan_fingerprint`] of the plan that wrote it: another select list
    /// reads other values of rows nobody wrote.
    pub plan: String,
}

impl TableHorizon {
    pub fn new(at: Horizon, plan: &TablePlan) -> TableHorizon {
        TableHorizon {
            at,
            relation: i64::from(plan.oid),
            plan: plan_fingerprint(plan),
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The recorded text, `None` for anything this version did not write.
    pub fn parse(text: &str) -> Option<TableHorizon> {
        serde_json::from_str(text).ok()
    }
}

/// What decides which value of PostgreSQL's each column holds: its select
/// expression and kind. Not the representation in SQLite (a file's own
/// format or the default's): a content comparison sees through it as well,
/// comparing values, not their text.
pub fn plan_fingerprint(plan: &TablePlan) -> String {
    let kinds: Vec<&crate::mapping::types::ValueKind> =
        plan.conversions.iter().map(|c| &c.kind).collect();
    let text = format!("{:?}|{kinds:?}", plan.copy.select_list);
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Ids this far apart or more cannot be told apart by their low 32 bits.
const WINDOW_LIMIT: i64 = 1 << 31;

/// The rows of `plan`'s table written since `recorded`, as seen by a run at
/// `now` whose snapshot's xmax is `xmax`; or why they cannot be found that
/// way (for the summary).
pub fn written_since(
    recorded: &TableHorizon,
    now: &Horizon,
    xmax: i64,
    plan: &TablePlan,
) -> std::result::Result<ChunkRange, &'static str> {
    let was = &recorded.at;
    if was.system != now.system || was.database != now.database {
        return Err("the last sync read another database");
    }
    if was.timeline != now.timeline {
        return Err("the server changed timeline since the last sync (a failover or a restore)");
    }
    if recorded.relation != i64::from(plan.oid) {
        return Err("the table was replaced since the last sync");
    }
    if plan.copy.partitioned {
        return Err("a partitioned table (an attached partition brings old rows)");
    }
    if recorded.plan != plan_fingerprint(plan) {
        return Err("its columns or their mapping changed since the last sync");
    }
    let window = xmax - was.xmin;
    if !(0..WINDOW_LIMIT).contains(&window) {
        return Err("more than two billion transactions since the last sync");
    }
    Ok(ChunkRange::WrittenSince {
        // The low 32 bits, as the xmin column shows them.
        from: was.xmin.rem_euclid(1 << 32),
        window,
    })
}

/// The xmax of the caller's snapshot: every row it sees was written by a
/// transaction with a smaller id. Call it inside the snapshot's transaction.
pub async fn snapshot_xmax(client: &Client) -> Result<i64> {
    let doing = "reading the snapshot's transaction ids";
    client
        .query_one("SELECT txid_snapshot_xmax(txid_current_snapshot())", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(Error::pg(doing))
}
