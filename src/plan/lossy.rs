//! Lossy by declaration, exact in the data? Before a lossy form is refused,
//! PostgreSQL counts (in the sync's snapshot, one aggregate per column) the
//! stored values it would change: none, and the column is copied exactly.
//!
//! SQL issued, per column: `SELECT (SELECT count(*) FROM t WHERE changes),
//! ARRAY(SELECT key FROM t WHERE changes LIMIT 3)`.

use tokio_postgres::Client;

use super::LossyCheck;
use crate::error::{Error, Result};

/// Keys shown for values that would change.
const SAMPLE_KEYS: i64 = 3;

/// Runs every check; adds what it found to `notes` and returns the planning
/// problems (changes nobody accepted).
pub async fn count(
    client: &Client,
    checks: &[LossyCheck],
    notes: &mut Vec<String>,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for check in checks {
        let sql = format!(
            "SELECT (SELECT count(*) FROM {rel} WHERE {cond}), \
                    ARRAY(SELECT {key} FROM {rel} WHERE {cond} LIMIT {SAMPLE_KEYS})",
            rel = check.relation,
            cond = check.changes_sql,
            key = check.key_sql
        );
        let row = client
            .query_one(&sql, &[])
            .await
            .map_err(Error::pg("counting the values a lossy format would change"))?;
        let changed: i64 = row.get(0);
        let keys: Vec<String> = row.get(1);
        match (&check.refusal, changed) {
            (_, 0) => notes.push(format!(
                "{}: {}, but none of its stored values changes: copied exactly",
                check.place, check.what
            )),
            (Some(refusal), n) => problems.push(format!(
                "{refusal}; {n} stored value{} would change (keys: {}{})",
                if n == 1 { "" } else { "s" },
                keys.join("; "),
                if n > SAMPLE_KEYS { "; …" } else { "" }
            )),
            (None, n) => notes.push(format!(
                "{}: {}; accepted ({}): {n} value{} change, counted in the loss ledger",
                check.place,
                check.what,
                check.accepted,
                if n == 1 { "" } else { "s" },
            )),
        }
    }
    Ok(problems)
}
