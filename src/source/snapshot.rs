//! One consistent view of the database for every reader: the coordinator exports
//! a snapshot, each reader connection imports it.

use tokio_postgres::Client;

use super::connect::SourceConfig;
use crate::error::{Error, Result};

/// Session settings every connection uses, so text forms are the same whatever
/// the server's or the role's defaults. `lock_timeout` comes with the connection
/// (`--lock-timeout`, see `connect`).
const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
     SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = 'hex'; \
     SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0";

/// Whether every reader must see the same snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// One exported snapshot for all readers, or fail.
    Snapshot,
    /// The user accepted that readers may each see a different moment.
    AllowInconsistent,
}

/// The snapshot readers join: an exported id, or none when the user accepted
/// an inconsistent copy and exporting was impossible.
#[derive(Debug, Clone)]
pub struct SharedSnapshot {
    pub id: Option<String>,
}

/// Starts the coordinator's transaction and exports its snapshot. The client must
/// stay open (and its transaction with it) until every reader has joined.
pub async fn export(client: &Client, consistency: Consistency) -> Result<SharedSnapshot> {
    client
        .batch_execute(SESSION_SETTINGS)
        .await
        .map_err(Error::pg("setting up the session"))?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(Error::pg("starting the snapshot transaction"))?;
    match client.query_one("SELECT pg_export_snapshot()", &[]).await {
        Ok(row) => Ok(SharedSnapshot {
            id: Some(row.get(0)),
        }),
        Err(e) => match consistency {
            Consistency::Snapshot => Err(Error::Snapshot(format!(
                "cannot export a snapshot for the parallel readers: {}\n  hint: on a \
                 standby or pooler that forbids this, use --jobs 1 for a consistent copy, or \
                 pass --allow-inconsistent to accept that tables may be read at different moments",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            ))),
            Consistency::AllowInconsistent => {
                client
                    .batch_execute("ROLLBACK; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(Error::pg("restarting the transaction"))?;
                Ok(SharedSnapshot { id: None })
            }
        },
    }
}

/// Starts a reader's transaction in the shared snapshot.
pub async fn join(client: &Client, snapshot: &SharedSnapshot) -> Result<()> {
    client
        .batch_execute(SESSION_SETTINGS)
        .await
        .map_err(Error::pg("setting up a reader session"))?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(Error::pg("starting a reader transaction"))?;
    if let Some(id) = &snapshot.id {
        // The id comes from pg_export_snapshot(): hex digits and dashes only.
        let safe = id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !safe {
            return Err(Error::Snapshot(format!("unexpected snapshot id {id:?}")));
        }
        client
            .batch_execute(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
            .await
            .map_err(Error::pg("joining the shared snapshot"))?;
    }
    Ok(())
}

/// When a snapshot about to be taken starts, as a delta's next watermark must
/// see it: microseconds since 1970-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotTimes {
    /// Where the server's transaction ids stood (see [`super::horizon`]);
    /// `None` when it cannot tell, or for a bundle.
    pub horizon: Option<super::horizon::Horizon>,
    /// The server's clock just before the snapshot.
    pub now: i64,
    /// The earliest moment a row this snapshot cannot see may carry as its
    /// cursor: the start of the oldest transaction still open (its `now()` is
    /// what it writes to `updated_at`), or `now` when none is. A transaction that
    /// commits after the snapshot is read by the next delta.
    pub watermark: i64,
}

/// Reads [`SnapshotTimes`]; call it on a connection outside a transaction, just
/// before [`export`], so that every transaction the snapshot will not see either
/// is open now or starts later.
pub async fn times(client: &Client) -> Result<SnapshotTimes> {
    // Other roles' transactions are visible only to superusers and members of
    // pg_read_all_stats; for the rest, the lag window is the guard.
    let row = client
        .query_one(
            "SELECT (extract(epoch FROM t.now) * 1000000)::int8,
                    (extract(epoch FROM least(t.now, t.oldest)) * 1000000)::int8
               FROM (SELECT clock_timestamp() AS now,
                            (SELECT min(xact_start) FROM pg_stat_activity
                              WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL
                                AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)
                            ) AS oldest) t",
            &[],
        )
        .await
        .map_err(Error::pg("reading the server's clock"))?;
    let now: i64 = row
        .try_get(0)
        .map_err(Error::pg("reading the server's clock"))?;
    let oldest: i64 = row
        .try_get(1)
        .map_err(Error::pg("reading the server's clock"))?;
    // A row written by the oldest open transaction carries exactly its start
    // time, and deltas read cursors strictly later than the watermark.
    Ok(SnapshotTimes {
        now,
        watermark: oldest - 1,
        horizon: super::horizon::read(client).await,
    })
}

/// Takes ACCESS SHARE locks on the tables the run reads, inside the
/// coordinator's snapshot transaction, as pg_dump does: a schema change that
/// starts later waits for the run instead of changing a table under it, and
/// one already running or queued makes the run fail after `lock_timeout`,
/// naming the table and the sessions in its way, instead of queuing for ever.
pub async fn lock_tables<'a>(
    client: &Client,
    source: &SourceConfig,
    relations: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    for relation in relations {
        if let Err(e) = client
            .batch_execute(&format!("LOCK TABLE {relation} IN ACCESS SHARE MODE"))
            .await
        {
            return Err(name_lock_holders(
                source,
                Error::Postgres {
                    doing: format!("locking {relation} for reading"),
                    source: e,
                },
            )
            .await);
        }
    }
    Ok(())
}

/// Adds to a lock timeout (SQLSTATE 55P03) the sessions holding or awaiting an
/// exclusive lock on a table of this database, looked up on a connection of its
/// own (the failed statement ended the transaction). Other errors pass through.
pub async fn name_lock_holders(source: &SourceConfig, error: Error) -> Error {
    let Error::Postgres { doing, source: pg } = error else {
        return error;
    };
    if pg.code().map(|c| c.code()) != Some("55P03") {
        return Error::Postgres { doing, source: pg };
    }
    let holders = match source.connect().await {
        Ok(client) => {
            let sql = "SELECT coalesce(l.relation::regclass::text, '?'), l.pid::text, \
                              coalesce(a.usename::text, '?'), \
                              CASE WHEN l.granted THEN 'holds' ELSE 'waits for' END, \
                              coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 100), '') \
                         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
                        WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' \
                          AND l.database = (SELECT oid FROM pg_database \
                                             WHERE datname = current_database()) \
                        ORDER BY l.granted DESC, l.pid LIMIT 3";
            match client.query(sql, &[]).await {
                Ok(rows) => rows
                    .iter()
                    .map(|r| {
                        format!(
                            "table {}: pid {} ({}) {} an exclusive lock: {}",
                            r.get::<_, String>(0),
                            r.get::<_, String>(1),
                            r.get::<_, String>(2),
                            r.get::<_, String>(3),
                            r.get::<_, String>(4)
                        )
                    })
                    .collect::<Vec<_>>(),
                Err(_) => Vec::new(),
            }
        }
        Err(_) => Vec::new(),
    };
    let doing = if holders.is_empty() {
        doing
    } else {
        format!("{doing} (in the way: {})", holders.join("; "))
    };
    Error::Postgres { doing, source: pg }
}
