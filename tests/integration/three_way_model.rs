//! A property test of the three-way merge: random sequences of writes on both
//! sides between deltas, on a table with an update cursor and one without, and
//! after every delta the SQLite file must equal what a model of the merge rules
//! says (issue 10). Every write stores a value never written before, so rows
//! are equal exactly when one was copied from the other.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use crate::common::*;

const KEYS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Table {
    /// `updated_at` is its cursor.
    Cursor,
    /// No timestamp: found by content.
    Plain,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Cursor => "c",
            Table::Plain => "n",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Write {
    side: Side,
    table: Table,
    key: i64,
    /// Delete the row, else insert or update it.
    delete: bool,
}

#[derive(Debug, Clone)]
struct Round {
    writes: Vec<Write>,
    /// `--lag` of the delta after them.
    lag: &'static str,
}

fn write() -> impl Strategy<Value = Write> {
    (
        prop_oneof![Just(Side::Postgres), Just(Side::Sqlite)],
        prop_oneof![Just(Table::Cursor), Just(Table::Plain)],
        1..=KEYS,
        prop::bool::weighted(0.3),
    )
        .prop_map(|(side, table, key, delete)| Write {
            side,
            table,
            key,
            delete,
        })
}

fn rounds() -> impl Strategy<Value = Vec<Round>> {
    prop::collection::vec(
        (
            prop::collection::vec(write(), 0..7),
            prop_oneof![Just("0"), Just("5m")],
        )
            .prop_map(|(writes, lag)| Round { writes, lag }),
        1..5,
    )
}

/// A row as the model knows it: its value and when it was written (the order
/// of the writes, which the cursors follow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    value: i64,
    written: i64,
}

type Rows = BTreeMap<(Table, i64), Row>;

/// The rules, per key: a side that did not change the row since the last
/// sync (its row equals the base) takes the other side's; where both changed
/// it, a row deleted on one side and changed on the other stays changed, and
/// two versions go by the later cursor (the table without one: PostgreSQL).
fn merged(base: &Rows, pg: &Rows, lite: &Rows) -> Rows {
    let mut keys: Vec<(Table, i64)> = base
        .keys()
        .chain(pg.keys())
        .chain(lite.keys())
        .copied()
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Rows::new();
    for k in keys {
        let (b, p, s) = (base.get(&k), pg.get(&k), lite.get(&k));
        let result = if p == s || b == p {
            s
        } else if b == s {
            p
        } else {
            match (p, s) {
                (None, s) => s,
                (p, None) => p,
                (Some(p), Some(s)) if k.0 == Table::Cursor && s.written > p.written => Some(s),
                (p, _) => p,
            }
        };
        if let Some(r) = result {
            out.insert(k, *r);
        }
    }
    out
}

struct World {
    db: TestDb,
    target: std::path::PathBuf,
    _dir: tempfile::TempDir,
    clock: i64,
}

impl World {
    fn new() -> World {
        let db = TestDb::new();
        db.execute(
            "CREATE TABLE c (id int PRIMARY KEY, v bigint NOT NULL, updated_at timestamptz NOT NULL);
             CREATE INDEX ON c (updated_at);
             CREATE TABLE n (id int PRIMARY KEY, v bigint NOT NULL);",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("app.db");
        sync(&db.url(), &target, &["--quiet"]).assert_success();
        World {
            db,
            target,
            _dir: dir,
            clock: 0,
        }
    }

    fn apply(&mut self, w: Write) -> Option<Row> {
        self.clock += 1;
        let v = self.clock;
        let t = w.table.name();
        let k = w.key;
        let cursor = w.table == Table::Cursor;
        let sql = match (w.side, w.delete, cursor) {
            (_, true, _) => format!("DELETE FROM {t} WHERE id = {k}"),
            (Side::Postgres, false, true) => format!(
                "INSERT INTO c VALUES ({k}, {v}, clock_timestamp())
                 ON CONFLICT (id) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at"
            ),
            (Side::Sqlite, false, true) => format!(
                "INSERT INTO c VALUES ({k}, {v},
                   replace(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', '.000000Z', '.001000Z'))
                 ON CONFLICT (id) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at"
            ),
            (_, false, false) => format!(
                "INSERT INTO n VALUES ({k}, {v}) ON CONFLICT (id) DO UPDATE SET v = excluded.v"
            ),
        };
        match w.side {
            Side::Postgres => self.db.execute(&sql),
            Side::Sqlite => {
                let conn = rusqlite::Connection::open(&self.target).expect("open");
                conn.execute_batch(&sql).expect("write to SQLite");
            }
        }
        // The cursors have millisecond resolution on the SQLite side (written
        // with six digits, the form the sync writes, so the column's format
        // is inferred as the sync's own).
        std::thread::sleep(Duration::from_millis(3));
        (!w.delete).then_some(Row {
            value: v,
            written: v,
        })
    }

    fn sqlite_values(&self) -> BTreeMap<(Table, i64), i64> {
        let conn = open_sqlite(&self.target);
        let mut out = BTreeMap::new();
        for t in [Table::Cursor, Table::Plain] {
            for r in sqlite_rows(&conn, &format!("SELECT id, v FROM {}", t.name())) {
                if let [rusqlite::types::Value::Integer(k), rusqlite::types::Value::Integer(v)] =
                    r[..]
                {
                    out.insert((t, k), v);
                }
            }
        }
        out
    }
}

fn check(rounds: &[Round]) -> Result<(), TestCaseError> {
    let mut world = World::new();
    // Empty on both sides after the full sync.
    let (mut base, mut pg, mut lite) = (Rows::new(), Rows::new(), Rows::new());
    for (i, round) in rounds.iter().enumerate() {
        for &w in &round.writes {
            let row = world.apply(w);
            let side = match w.side {
                Side::Postgres => &mut pg,
                Side::Sqlite => &mut lite,
            };
            match row {
                Some(r) => side.insert((w.table, w.key), r),
                None => side.remove(&(w.table, w.key)),
            };
        }
        let expected = merged(&base, &pg, &lite);
        let run = sync(
            &world.db.url(),
            &world.target,
            &["--quiet", "--no-backup", "--lag", round.lag],
        );
        prop_assert_eq!(run.code, Some(0), "round {}: {}", i, run.stderr);
        let got = world.sqlite_values();
        let want: BTreeMap<(Table, i64), i64> =
            expected.iter().map(|(k, r)| (*k, r.value)).collect();
        prop_assert_eq!(&got, &want, "after round {} of {:?}", i, rounds);
        base = pg.clone();
        lite = expected;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 20, ..ProptestConfig::default() })]

    #[test]
    fn every_delta_leaves_what_the_three_way_rules_say(rounds in rounds()) {
        check(&rounds)?;
    }
}

/// A sequence the random search found worth keeping.
#[test]
fn a_row_deleted_in_sqlite_and_changed_in_postgres_comes_back() -> Result<(), TestCaseError> {
    let w = |side, table, key, delete| Write {
        side,
        table,
        key,
        delete,
    };
    check(&[
        Round {
            writes: vec![
                w(Side::Postgres, Table::Cursor, 1, false),
                w(Side::Postgres, Table::Plain, 1, false),
            ],
            lag: "5m",
        },
        Round {
            writes: vec![
                w(Side::Sqlite, Table::Cursor, 1, true),
                w(Side::Sqlite, Table::Plain, 1, true),
                w(Side::Postgres, Table::Cursor, 1, false),
                w(Side::Postgres, Table::Plain, 1, false),
            ],
            lag: "0",
        },
    ])
}
