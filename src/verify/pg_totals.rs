//! PostgreSQL's side of the first look: counts and hash sums per part,
//! computed by the server's checksum query, or taken from the COPY's rows
//! (`wire`) and rechecked on the server where they differ from the file's.

use std::sync::Mutex;

use tokio_postgres::Client;

use super::checksum::{self, parse_pg_sum, RowHasher};
use super::fields::{self, fold, Field};
use super::wire::{CopyTally, TotalsFrom, WIRE_HASHER};
use super::{Part, TableCheck};
use crate::error::{Error, Result};
use crate::plan::SyncPlan;
use crate::source::chunk::ChunkRange;

/// Runs `query` for every (part, PostgreSQL range) over the connections.
pub(super) async fn on_pg<'c, T, F, Fut>(
    clients: &'c [Client],
    jobs: Vec<(usize, ChunkRange)>,
    query: F,
) -> Result<Vec<(usize, T)>>
where
    F: Fn(&'c Client, usize, ChunkRange) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    let workers = clients.iter().map(|client| {
        let queue = &queue;
        let results = &results;
        let query = &query;
        async move {
            loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some((part, range)) = next else {
                    return Ok::<(), Error>(());
                };
                let r = query(client, part, range).await?;
                if let Ok(mut all) = results.lock() {
                    all.push((part, r));
                }
            }
        }
    });
    futures_util::future::try_join_all(workers).await?;
    Ok(results.into_inner().unwrap_or_default())
}

/// Counts and hash sums per part of PostgreSQL's rows: computed on the
/// server, or from the COPY's rows (`wire`).
pub struct PgTotals {
    totals: Vec<(u64, u64)>,
    from: Vec<TotalsFrom>,
}

impl PgTotals {
    /// (count, hash sum) of each part, in the order of the parts.
    pub fn per_part(&self) -> &[(u64, u64)] {
        &self.totals
    }

    /// How the read-back hashes `part` to be compared with these totals:
    /// as the COPY's rows were hashed, or as the server hashes.
    pub(crate) fn hasher(&self, part: usize) -> RowHasher {
        match self.from.get(part) {
            Some(TotalsFrom::Copy) => WIRE_HASHER,
            _ => RowHasher::Postgres,
        }
    }

    /// These totals, with those of the parts `tally` covers taken from it.
    pub fn with_copy(mut self, parts: &[Part], tally: &CopyTally) -> PgTotals {
        for (i, part) in parts.iter().enumerate() {
            if let Some((totals, from)) = tally.part(i, part.table) {
                self.totals[i] = totals;
                self.from[i] = from;
            }
        }
        self
    }
}

/// The PostgreSQL side of the first look. It needs nothing from SQLite, so a
/// sync runs it while the copy is still being written.
pub async fn pg_totals(clients: &[Client], plan: &SyncPlan, parts: &[Part]) -> Result<PgTotals> {
    server_totals(clients, plan, parts, |_, _| true).await
}

/// [`pg_totals`] of the parts `tally` does not cover; theirs are added with
/// [`PgTotals::with_copy`] once the copy has read them.
pub async fn pg_totals_beside(
    clients: &[Client],
    plan: &SyncPlan,
    parts: &[Part],
    tally: &CopyTally,
) -> Result<PgTotals> {
    server_totals(clients, plan, parts, |_, p| !tally.covers(p.table)).await
}

/// The server's totals of the parts `wanted` picks (the others are 0).
async fn server_totals(
    clients: &[Client],
    plan: &SyncPlan,
    parts: &[Part],
    wanted: impl Fn(usize, &Part) -> bool,
) -> Result<PgTotals> {
    if let Some(client) = clients.first() {
        check_server_hash(client).await?;
    }
    let checks: Vec<TableCheck<'_>> = plan.tables.iter().map(TableCheck::new).collect();
    let pg_jobs: Vec<(usize, ChunkRange)> = parts
        .iter()
        .enumerate()
        .filter(|(i, p)| wanted(*i, p))
        .flat_map(|(i, p)| p.pg_ranges.iter().map(move |r| (i, r.clone())))
        .collect();
    let results = on_pg(clients, pg_jobs, |client, part, range| {
        let check = &checks[parts[part].table];
        async move {
            let row = client
                .query_one(&check.pg_totals_sql(&range), &[])
                .await
                .map_err(Error::pg(format!(
                    "checksumming {}",
                    check.plan.source_name
                )))?;
            let count: i64 = row.get(0);
            let sum: Option<String> = row.get(1);
            Ok((
                u64::try_from(count).unwrap_or(0),
                sum.as_deref().and_then(parse_pg_sum).unwrap_or(0),
            ))
        }
    })
    .await?;
    let mut totals = vec![(0u64, 0u64); parts.len()];
    for (i, (c, s)) in results {
        totals[i].0 += c;
        totals[i].1 = totals[i].1.wrapping_add(s);
    }
    Ok(PgTotals {
        totals,
        from: vec![TotalsFrom::Server; parts.len()],
    })
}

/// The parts whose COPY totals the read-back's disagree with.
pub(super) fn copy_disagrees(pg: &PgTotals, lite: &[(u64, u64)]) -> Vec<bool> {
    (0..pg.totals.len())
        .map(|i| pg.from[i] == TotalsFrom::Copy && lite.get(i) != Some(&pg.totals[i]))
        .collect()
}

/// Replaces the COPY's totals of every part the read-back disagreed with
/// (`disagrees`, [`copy_disagrees`]; `lite` then holds those parts read
/// again in the server's hash), and of every part that could not be hashed
/// from the COPY, by the server's, before anything is reported: a
/// difference is only ever told by the server's checksum. The COPY's hash
/// differing where the server's matches is this tool's mistake, logged,
/// never a verdict.
pub(super) async fn recheck_on_server(
    clients: &[Client],
    plan: &SyncPlan,
    parts: &[Part],
    pg: &PgTotals,
    disagrees: &[bool],
    lite: &[(u64, u64)],
) -> Result<Vec<(u64, u64)>> {
    let chosen: Vec<bool> = (0..parts.len())
        .map(|i| match pg.from[i] {
            TotalsFrom::Server => false,
            TotalsFrom::Copy => disagrees.get(i).copied().unwrap_or(true),
            TotalsFrom::Unknown => true,
        })
        .collect();
    let mut totals = pg.totals.clone();
    if !chosen.contains(&true) {
        return Ok(totals);
    }
    let server = server_totals(clients, plan, parts, |i, _| chosen[i]).await?;
    for (i, part) in parts.iter().enumerate() {
        if !chosen[i] {
            continue;
        }
        if pg.from[i] == TotalsFrom::Copy && server.totals[i] == lite[i] {
            tracing::info!(
                "the COPY's checksum of {} differs from the server's, which matches the file",
                plan.tables[part.table].source_name
            );
        }
        totals[i] = server.totals[i];
    }
    Ok(totals)
}

/// Refuses to compare checksums with a server that does not hash rows as we
/// do: before PostgreSQL 14 there is no `hash_record_extended`, and a
/// big-endian server hashes the same bytes differently (every table would
/// look changed).
async fn check_server_hash(client: &Client) -> Result<()> {
    let doing = "checking how the server hashes";
    let probe = client
        .query_one(
            &format!(
                "SELECT {}",
                fields::pg_mix_row(
                    "hash_record_extended(ROW($1::text COLLATE \"C\", 1::int4, NULL::int4, \
                     int8send(-2::int8), true), 0)"
                )
            ),
            &[&checksum::HASH_PROBE],
        )
        .await;
    let row = match probe {
        Ok(row) => row,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_FUNCTION) => {
            return Err(Error::Aborted(
                "verification needs PostgreSQL 14 or later (it hashes rows with \
                 hash_record_extended()), and this server is older; run with --no-verify \
                 and check the result another way"
                    .into(),
            ))
        }
        Err(e) => return Err(Error::pg(doing)(e)),
    };
    let theirs: i64 = row.try_get(0).map_err(Error::pg(doing))?;
    let pg = RowHasher::Postgres;
    let ours = [
        Some(Field::Text.hash_canonical(pg, checksum::HASH_PROBE)),
        Field::Int4.hash_stored(pg, &rusqlite::types::ValueRef::Integer(1)),
        None,
        Field::Int8.hash_stored(pg, &rusqlite::types::ValueRef::Integer(-2)),
        Field::Bool.hash_stored(pg, &rusqlite::types::ValueRef::Integer(1)),
    ]
    .into_iter()
    .fold(0, fold);
    if u64::from_be_bytes(theirs.to_be_bytes()) == fields::mix_row(pg, ours) {
        return Ok(());
    }
    Err(Error::Aborted(
        "this PostgreSQL server's hash_record_extended() gives other values than \
         pg2sqlite's (a big-endian machine?), so content checksums cannot be compared \
         with it; run with --no-verify and check the result another way"
            .into(),
    ))
}
