//! Consistency: all tables and all chunks are read in one snapshot, even while
//! the application keeps writing; and chunked reads (key ranges, heap-page
//! ranges, partitions) neither lose nor repeat rows.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;

/// Rows per table: above the 250 000-row chunk size, so both tables are read
/// in several chunks by several readers.
const ROWS: i64 = 400_000;

#[test]
fn tables_and_chunks_are_read_in_one_snapshot_while_postgres_is_written() {
    let db = TestDb::new();
    // `keyed` is chunked by key ranges, `heap` (no key) by heap pages. Every
    // transaction below changes both the same way, so in any one snapshot they
    // hold the same (id, v) rows.
    db.execute(&format!(
        "CREATE TABLE keyed (id bigint PRIMARY KEY, v bigint NOT NULL);
         CREATE TABLE heap (id bigint NOT NULL, v bigint NOT NULL);
         INSERT INTO keyed SELECT g, 0 FROM generate_series(1, {ROWS}) g;
         INSERT INTO heap SELECT g, 0 FROM generate_series(1, {ROWS}) g;
         ANALYZE keyed; ANALYZE heap;"
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, commits) = (stop.clone(), commits.clone());
        let mut client = db.client();
        std::thread::spawn(move || {
            let mut n: i64 = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                // Insert at the end, delete at the start, and update in the middle
                // (which moves the heap row to another page).
                let sql = format!(
                    "BEGIN;
                     INSERT INTO keyed VALUES ({new}, {n}); INSERT INTO heap VALUES ({new}, {n});
                     DELETE FROM keyed WHERE id = {n}; DELETE FROM heap WHERE id = {n};
                     UPDATE keyed SET v = v + 1 WHERE id = {mid}; UPDATE heap SET v = v + 1 WHERE id = {mid};
                     COMMIT;",
                    new = ROWS + n,
                    mid = ROWS / 2 + n % 1000,
                );
                client.batch_execute(&sql).expect("concurrent writer");
                commits.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // Make sure the writer is going before the sync starts.
    poll_until(Duration::from_secs(30), "the concurrent writer", || {
        (commits.load(Ordering::SeqCst) > 0).then_some(())
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    let before = commits.load(Ordering::SeqCst);
    let run = sync(&db.url(), &target, &["--jobs", "3", "--quiet"]);
    let during = commits.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");
    run.assert_success();
    assert!(during > 0, "no transaction committed while the sync ran");

    let conn = open_sqlite(&target);
    let keyed = sqlite_i64(&conn, "SELECT count(*) FROM keyed");
    let heap = sqlite_i64(&conn, "SELECT count(*) FROM heap");
    assert_eq!(keyed, ROWS, "every transaction keeps the row count");
    assert_eq!(heap, ROWS, "every transaction keeps the row count");
    assert_eq!(
        sqlite_i64(&conn, "SELECT count(DISTINCT id) FROM heap"),
        ROWS,
        "a heap row was read twice"
    );
    let differ = sqlite_i64(
        &conn,
        "SELECT count(*) FROM (
             SELECT id, v FROM keyed EXCEPT SELECT id, v FROM heap
             UNION ALL
             SELECT id, v FROM heap EXCEPT SELECT id, v FROM keyed)",
    );
    assert_eq!(
        differ, 0,
        "the two tables were read at different moments ({during} commits during the sync)"
    );
    // The copy shows one moment that lies within the sync: some of the writer's
    // transactions, in order.
    let seen = sqlite_i64(&conn, "SELECT max(v) FROM keyed WHERE id > 0");
    let deleted_upto = sqlite_i64(&conn, "SELECT min(id) FROM keyed") - 1;
    let inserted_upto = sqlite_i64(&conn, "SELECT max(id) FROM keyed") - ROWS;
    assert_eq!(deleted_upto, inserted_upto, "a transaction was seen half");
    assert!(
        inserted_upto >= 1 && seen >= 1,
        "the copy predates the writer"
    );
}

/// A partitioned table large enough to be read one leaf partition per chunk,
/// with a default partition and a partition that is itself partitioned: every
/// row arrives once, in one SQLite table named after the parent.
#[test]
fn large_partitioned_table_is_read_per_partition_and_complete() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE measurements (id bigint NOT NULL, region text NOT NULL, at date NOT NULL, v int NOT NULL)
             PARTITION BY LIST (region);
         CREATE TABLE m_north PARTITION OF measurements FOR VALUES IN ('north');
         CREATE TABLE m_south PARTITION OF measurements FOR VALUES IN ('south') PARTITION BY RANGE (at);
         CREATE TABLE m_south_2024 PARTITION OF m_south FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE m_south_rest PARTITION OF m_south DEFAULT;
         CREATE TABLE m_other PARTITION OF measurements DEFAULT;
         INSERT INTO measurements
         SELECT g, (ARRAY['north', 'south', 'east'])[1 + g % 3], date '2024-06-01' + (g % 400), g % 1000
           FROM generate_series(1, 360000) g;
         ANALYZE measurements;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("app.db");
    sync(&db.url(), &target, &["--jobs", "3", "--quiet"]).assert_success();
    let conn = open_sqlite(&target);
    assert_eq!(
        sqlite_tables(&conn),
        std::collections::BTreeSet::from(["measurements".to_owned()])
    );
    let agg = db
        .client()
        .query_one(
            "SELECT count(*), count(DISTINCT id), sum(id)::int8, sum(v)::int8,
                    count(*) FILTER (WHERE region = 'south' AND at >= '2025-01-01')
               FROM measurements",
            &[],
        )
        .expect("aggregate");
    let expected: Vec<i64> = (0..5).map(|i| agg.get(i)).collect();
    assert_eq!(expected[0], 360_000);
    assert!(expected[4] > 0, "the nested default partition holds rows");
    let got: Vec<i64> = [
        "SELECT count(*) FROM measurements",
        "SELECT count(DISTINCT id) FROM measurements",
        "SELECT sum(id) FROM measurements",
        "SELECT sum(v) FROM measurements",
        "SELECT count(*) FROM measurements WHERE region = 'south' AND at >= '2025-01-01'",
    ]
    .iter()
    .map(|q| sqlite_i64(&conn, q))
    .collect();
    assert_eq!(
        got, expected,
        "count, distinct ids, sum(id), sum(v), nested default rows"
    );
}
