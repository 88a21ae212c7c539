//! Integration tests of `pg2sqlite fixtures`: the real binary builds each
//! profile in a throwaway PostgreSQL database (127.0.0.1:5432, role `root`,
//! trust authentication), and the fixtures are checked for their tables and row
//! counts, for being the same for the same seed, for bursts of changes landing
//! after the cutover, and for `pg2sqlite sync` copying and verifying them.
//!
//! A test binary of its own, on the harness in `tests/common`: each test
//! creates its own database and drops it when it ends, passed or failed.

#[path = "common/mod.rs"]
mod common;

use common::{pg2sqlite, TestDb};

const SINCE: &str = "2025-11-13T00:00:00Z";

/// A database of the shared harness (created for one test, dropped after it),
/// with the queries these tests ask of it.
struct Db(TestDb);

impl Db {
    fn new() -> Db {
        Db(TestDb::new())
    }

    fn url(&self) -> String {
        self.0.url()
    }

    fn client(&self) -> postgres::Client {
        self.0.client()
    }

    /// The single integer `sql` returns.
    fn count(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// md5 over every row's text, in a fixed order: equal iff the contents are.
    fn checksum(&self, table: &str) -> String {
        let sql = format!(
            "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\"), '')) \
             FROM {table} AS t"
        );
        self.client()
            .query_one(&sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }
}

/// `pg2sqlite fixtures --target <db> --quiet <args>`.
fn fixtures(db: &Db, args: &[&str]) -> assert_cmd::assert::Assert {
    pg2sqlite()
        .args(["fixtures", "--target", &db.url(), "--quiet"])
        .args(args)
        .assert()
}

/// Full sync (which verifies before publishing) must succeed; returns the
/// SQLite row count of each table.
fn sync_and_count(db: &Db, tables: &[&str]) -> Vec<(String, i64)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let target = dir.path().join("fixture.db");
    pg2sqlite()
        .args(["sync", "--quiet", "--source", &db.url(), "--target"])
        .arg(&target)
        .assert()
        .success();
    let sqlite = rusqlite::Connection::open(&target).expect("open the synced file");
    tables
        .iter()
        .map(|t| {
            let n: i64 = sqlite
                .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("count {t} in SQLite: {e}"));
            ((*t).to_owned(), n)
        })
        .collect()
}

fn pg_counts(db: &Db, tables: &[&str]) -> Vec<(String, i64)> {
    tables
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                db.count(&format!("SELECT count(*) FROM {t}")),
            )
        })
        .collect()
}

fn named(counts: &[(&str, i64)]) -> Vec<(String, i64)> {
    counts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

const APP_TABLES: &[&str] = &[
    "users",
    "sessions",
    "jobs",
    "artifacts",
    "messages",
    "audit_log",
];
const PGBENCH_TABLES: &[&str] = &[
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_accounts",
    "pgbench_history",
];

#[test]
fn app_fixture_has_its_tables_rows_and_keys_and_syncs() {
    let db = Db::new();
    fixtures(&db, &["--profile", "app", "--scale", "0.01"]).success();
    let expected = named(&[
        ("users", 500),
        ("sessions", 1500),
        ("jobs", 1000),
        ("artifacts", 1000),
        ("messages", 3500),
        ("audit_log", 2500),
    ]);
    assert_eq!(pg_counts(&db, APP_TABLES), expected);

    // keys: bigint and uuid primary keys, foreign keys, indexes on updated_at
    let pk_types: Vec<(String, String)> = db
        .client()
        .query(
            "SELECT c.conrelid::regclass::text, format_type(a.atttypid, a.atttypmod)
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
              WHERE c.contype = 'p' AND c.connamespace = 'public'::regnamespace ORDER BY 1",
            &[],
        )
        .expect("primary keys")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected_pks: Vec<(String, String)> = [
        ("artifacts", "uuid"),
        ("audit_log", "bigint"),
        ("jobs", "bigint"),
        ("messages", "bigint"),
        ("sessions", "uuid"),
        ("users", "bigint"),
    ]
    .iter()
    .map(|(t, ty)| ((*t).to_owned(), (*ty).to_owned()))
    .collect();
    assert_eq!(pk_types, expected_pks);
    assert_eq!(
        db.count("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace"),
        6
    );
    assert_eq!(
        db.count("SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%(updated_at)'"),
        5
    );
    // about 5 % NULLs in a nullable column (25 expected of 500)
    let null_locales = db.count("SELECT count(*) FROM users WHERE locale IS NULL");
    assert!((10..=45).contains(&null_locales), "{null_locales}");
    // nothing is dated after the fixture's time line
    assert_eq!(
        db.count(
            "SELECT count(*) FROM users WHERE updated_at >= '2025-11-01T00:00:00Z' \
             OR created_at > updated_at"
        ),
        0
    );

    assert_eq!(sync_and_count(&db, APP_TABLES), expected);
}

#[test]
fn pgbench_fixture_is_pgbench_init_data_and_syncs() {
    let db = Db::new();
    fixtures(&db, &["--profile", "pgbench", "--scale", "0.01"]).success();
    let expected = named(&[
        ("pgbench_branches", 1),
        ("pgbench_tellers", 10),
        ("pgbench_accounts", 10_000),
        ("pgbench_history", 0),
    ]);
    assert_eq!(pg_counts(&db, PGBENCH_TABLES), expected);
    // as `pgbench -i` leaves them: zero balances, a blank-padded filler
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pgbench_accounts \
             WHERE abalance = 0 AND bid = 1 AND octet_length(filler) = 84"
        ),
        10_000
    );
    assert_eq!(sync_and_count(&db, PGBENCH_TABLES), expected);
}

#[test]
fn wide_fixture_has_every_type_and_edge_values_and_syncs() {
    let db = Db::new();
    fixtures(&db, &["--profile", "wide", "--scale", "0.01"]).success();
    assert_eq!(db.count("SELECT count(*) FROM wide_types"), 10_000);
    let types: Vec<String> = db
        .client()
        .query(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = 'wide_types'::regclass AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[],
        )
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected = [
        "bigint",
        "smallint",
        "integer",
        "bigint",
        "integer",
        "boolean",
        "real",
        "double precision",
        "numeric(12,2)",
        "numeric(38,10)",
        "numeric",
        "text",
        "character varying(64)",
        "character(8)",
        "citext",
        "name",
        "bytea",
        "uuid",
        "date",
        "timestamp without time zone",
        "timestamp with time zone",
        "time without time zone",
        "time with time zone",
        "interval",
        "json",
        "jsonb",
        "integer[]",
        "text[]",
        "double precision[]",
        "integer[]",
        "wide_mood",
        "wide_positive",
        "inet",
        "cidr",
        "macaddr",
        "money",
        "bit(8)",
        "bit varying(16)",
        "tsvector",
        "int4range",
        "tstzrange",
        "xml",
        "point",
        "box",
        "timestamp with time zone",
        "timestamp with time zone",
    ];
    assert_eq!(types, expected);
    // the edge values are there: rows 1, 1001, …, 9001 hold NaN and infinities
    assert_eq!(
        db.count("SELECT count(*) FROM wide_types WHERE c_double = 'NaN'"),
        10
    );
    assert_eq!(
        db.count("SELECT count(*) FROM wide_types WHERE c_real = '-Infinity'::real"),
        10
    );
    assert_eq!(
        db.count("SELECT count(*) FROM wide_types WHERE c_date = 'infinity'"),
        10
    );
    assert_eq!(
        db.count("SELECT count(*) FROM wide_types WHERE c_numeric_free = 'NaN'"),
        10
    );
    assert_eq!(
        sync_and_count(&db, &["wide_types"]),
        named(&[("wide_types", 10_000)])
    );
}

/// Row 11523 of the wide fixture holds the real -355.953125, exactly halfway
/// between the shortest decimals -355.95312 and -355.95313: PostgreSQL prints
/// the even one, Rust's shortest formatting the other. Verification compares
/// floats by their bits, so the copy verifies (it used to be a false mismatch).
#[test]
fn wide_fixture_with_float_ties_syncs() {
    let db = Db::new();
    fixtures(&db, &["--profile", "wide", "--scale", "0.012"]).success();
    assert_eq!(
        db.count("SELECT count(*) FROM wide_types WHERE id = 11523 AND c_real = -355.953125"),
        1
    );
    assert_eq!(
        sync_and_count(&db, &["wide_types"]),
        named(&[("wide_types", 12_000)])
    );
}

/// The same seed builds the same contents; another seed other contents; and a
/// rebuild replaces the earlier fixture of the profile.
#[test]
fn same_seed_same_data() {
    let db = Db::new();
    for (profile, tables) in [
        ("app", APP_TABLES),
        ("pgbench", PGBENCH_TABLES),
        ("wide", &["wide_types"][..]),
    ] {
        let checksums =
            |db: &Db| -> Vec<String> { tables.iter().map(|t| db.checksum(t)).collect() };
        fixtures(
            &db,
            &["--profile", profile, "--scale", "0.01", "--seed", "7"],
        )
        .success();
        let first = checksums(&db);
        fixtures(
            &db,
            &["--profile", profile, "--scale", "0.01", "--seed", "7"],
        )
        .success();
        assert_eq!(checksums(&db), first, "{profile}: seed 7 twice");
        if profile != "pgbench" {
            // pgbench's own data does not depend on a seed
            fixtures(
                &db,
                &["--profile", profile, "--scale", "0.01", "--seed", "8"],
            )
            .success();
            let other = checksums(&db);
            for ((t, a), b) in tables.iter().zip(&first).zip(&other) {
                assert_ne!(a, b, "{profile}: {t} is the same for seeds 7 and 8");
            }
        }
    }
    // three profiles side by side in one database
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' \
             AND obj_description(oid, 'pg_class') LIKE 'pg2sqlite fixture: profile %'"
        ),
        11
    );
}

#[test]
fn changes_land_after_the_cutover_and_sync() {
    let db = Db::new();
    fixtures(&db, &["--profile", "app", "--scale", "0.01"]).success();
    let since = format!("'{SINCE}'::timestamptz");
    for t in ["users", "sessions", "jobs", "artifacts", "messages"] {
        assert_eq!(
            db.count(&format!(
                "SELECT count(*) FROM {t} WHERE updated_at > {since} OR created_at > {since}"
            )),
            0,
            "{t} before the burst"
        );
    }
    let before = db.checksum("users");
    fixtures(
        &db,
        &["--profile", "app", "--changes", "10", "--since", SINCE],
    )
    .success();
    assert_ne!(db.checksum("users"), before);

    // about 10 % of the 500 users updated, about 5 % new ones
    let updated = db.count(&format!(
        "SELECT count(*) FROM users WHERE updated_at > {since} AND created_at <= {since}"
    ));
    assert!((25..=80).contains(&updated), "updated users: {updated}");
    let new = db.count(&format!(
        "SELECT count(*) FROM users WHERE created_at > {since}"
    ));
    assert_eq!(new, 25, "new users: 5 % of 500");
    for t in ["sessions", "jobs", "artifacts", "messages", "audit_log"] {
        let n = db.count(&format!(
            "SELECT count(*) FROM {t} WHERE created_at > {since}"
        ));
        assert!(n > 0, "{t}: no rows created after the cutover");
    }
    // every stamp of the burst lies in the two days after the cutover
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM messages WHERE updated_at > {since} + interval '2 days'"
        )),
        0
    );
    // some of the old sessions are gone
    let old_sessions = db.count(&format!(
        "SELECT count(*) FROM sessions WHERE created_at <= {since}"
    ));
    assert!(
        (1400..1500).contains(&old_sessions),
        "old sessions: {old_sessions}"
    );
    // a copy of the changed database still verifies
    let counts = pg_counts(&db, APP_TABLES);
    assert_eq!(sync_and_count(&db, APP_TABLES), counts);
}

#[test]
fn build_and_changes_in_one_run_are_deterministic_for_every_profile() {
    let db = Db::new();
    for (profile, table, cursor) in [
        ("app", "messages", "updated_at"),
        ("pgbench", "pgbench_history", "mtime"),
        ("wide", "wide_types", "updated_at"),
    ] {
        let run = || {
            fixtures(
                &db,
                &[
                    "--profile",
                    profile,
                    "--scale",
                    "0.01",
                    "--seed",
                    "3",
                    "--changes",
                    "5",
                    "--since",
                    SINCE,
                ],
            )
            .success();
            db.checksum(table)
        };
        let first = run();
        assert_eq!(run(), first, "{profile}: the same build and burst twice");
        let after = db.count(&format!(
            "SELECT count(*) FROM {table} WHERE {cursor} > '2025-11-13 00:00:00'"
        ));
        assert!(after > 0, "{profile}: nothing after the cutover");
    }
}

#[test]
fn a_table_the_fixtures_did_not_make_is_never_replaced() {
    let db = Db::new();
    db.client()
        .batch_execute(
            "CREATE TABLE sessions (id int PRIMARY KEY); INSERT INTO sessions VALUES (42)",
        )
        .expect("an application's own table");
    fixtures(&db, &["--profile", "app", "--scale", "0.01"])
        .code(2)
        .stderr(predicates::str::contains("table sessions already exists"));
    assert_eq!(db.count("SELECT count(*) FROM sessions WHERE id = 42"), 1);
    assert_eq!(
        db.count("SELECT count(*) FROM pg_class WHERE relname = 'users'"),
        0,
        "nothing was created"
    );
}

#[test]
fn usage_errors_exit_2() {
    let db = Db::new();
    // nothing to change yet
    fixtures(&db, &["--changes", "5", "--since", SINCE])
        .code(2)
        .stderr(predicates::str::contains("no app fixture to change"));
    for args in [
        &["--scale", "0"][..],
        &["--scale", "-1"],
        &["--scale", "NaN"],
        &["--scale", "1", "--profile", "nope"],
        &["--scale", "1", "--changes", "5"],
        &["--scale", "1", "--changes", "500", "--since", SINCE],
        &["--scale", "1", "--changes", "5", "--since", "yesterday"],
        &["--scale", "1", "--changes", "5", "--since", "2025-11-13"],
        &[],
    ] {
        fixtures(&db, args).code(2);
    }
    assert_eq!(
        db.count("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"),
        0
    );
}
