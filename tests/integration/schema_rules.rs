//! The schema around the data (issue 15): CHECKs (table, column, domain,
//! enum), partial and expression unique indexes, defaults, generated columns
//! and views arrive in SQLite, and an app that writes into the file meets the
//! same rules PostgreSQL enforced. Proven by enforcement: rows that break each
//! rule are refused by SQLite, rows that keep them are taken, defaults and
//! generated columns give what PostgreSQL gives.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::common::*;

/// A small shop, with each construct once; none of it is in the fixtures.
const SHOP: &str = r#"
CREATE TYPE order_state AS ENUM ('cart', 'paid', 'shipped');
CREATE DOMAIN quantity AS integer CHECK (VALUE > 0) CHECK (VALUE <= 1000);
CREATE DOMAIN sku_code AS varchar(20) CHECK (VALUE LIKE 'SKU-%');
CREATE DOMAIN country_code AS text NOT NULL DEFAULT 'NL' CHECK (length(VALUE) = 2);
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  email text NOT NULL CHECK (email LIKE '%_@_%'),
  display_name varchar(80) NOT NULL DEFAULT 'anonymous',
  tier smallint NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 3),
  balance numeric(12,2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  active boolean NOT NULL DEFAULT true,
  country country_code,
  -- Not SQLite's to compute alike: lower() of 'É', decimals as doubles.
  email_key text GENERATED ALWAYS AS (lower(email)) STORED,
  double_balance numeric(14,2) GENERATED ALWAYS AS (balance * 2) STORED
);
CREATE UNIQUE INDEX customers_email_live ON customers (lower(email)) WHERE deleted_at IS NULL;
CREATE TABLE products (
  id serial PRIMARY KEY,
  sku sku_code NOT NULL UNIQUE,
  title text NOT NULL CHECK (length(btrim(title)) > 0),
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  discount_cents integer NOT NULL DEFAULT 0,
  net_cents integer GENERATED ALWAYS AS (price_cents - discount_cents) STORED,
  label text GENERATED ALWAYS AS (sku::text || ': ' || title) STORED,
  updated_at timestamptz NOT NULL DEFAULT now(),
  tags text[] NOT NULL DEFAULT '{}',
  CONSTRAINT discount_not_above_price CHECK (discount_cents <= price_cents)
);
CREATE INDEX products_title_prefix ON products (substr(title, 1, 4) DESC);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  state order_state NOT NULL DEFAULT 'cart',
  qty quantity NOT NULL,
  placed_on date NOT NULL DEFAULT CURRENT_DATE,
  paid_at timestamptz,
  shipped_at timestamptz,
  note text CHECK (note IS NULL OR note <> ''),
  CONSTRAINT shipped_after_paid CHECK (shipped_at IS NULL OR shipped_at >= paid_at),
  CONSTRAINT shipped_state CHECK (state <> 'shipped' OR shipped_at IS NOT NULL)
);
CREATE UNIQUE INDEX one_cart_per_customer ON orders (customer_id) WHERE state = 'cart';
CREATE VIEW open_orders AS
  SELECT o.id, c.email, o.qty * 2 AS double_qty
    FROM orders o JOIN customers c ON c.id = o.customer_id
   WHERE o.state <> 'shipped';
-- A view over a view, named so that it comes first.
CREATE VIEW big_open_orders AS SELECT id, email FROM open_orders WHERE double_qty > 4;
CREATE VIEW customer_totals AS
  SELECT c.id, c.email, count(o.id) AS orders, sum(o.qty) AS items, max(o.placed_on) AS last_order
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
   GROUP BY c.id, c.email
  HAVING count(o.id) >= 0
   ORDER BY c.id DESC;
CREATE VIEW latest_paid AS
  SELECT id, paid_at FROM orders ORDER BY paid_at DESC NULLS LAST, id LIMIT 3;

-- Outside what SQLite can hold with the same meaning: listed.
ALTER TABLE customers ADD CONSTRAINT email_shape CHECK (email ~ '^[^@]+@[^@]+$');
CREATE TABLE ledger (id serial PRIMARY KEY, amount numeric NOT NULL CHECK (amount <> 0));
CREATE MATERIALIZED VIEW order_count AS SELECT count(*) AS n FROM orders;
CREATE VIEW mean_qty AS SELECT avg(qty) AS a FROM orders;
CREATE TABLE coupons (id int PRIMARY KEY, code text, CONSTRAINT one_code UNIQUE NULLS NOT DISTINCT (code));
INSERT INTO coupons VALUES (1, 'SPRING'), (2, NULL);
CREATE TABLE invoices (code text PRIMARY KEY, number bigint GENERATED ALWAYS AS IDENTITY);
INSERT INTO invoices (code) VALUES ('INV-A');

INSERT INTO customers (email, display_name, tier, balance, deleted_at) VALUES
  ('alice@example.com', 'Alice', 2, 10.50, NULL),
  ('ALICE@example.com', 'Alice (old)', 1, 0, '2024-01-01 00:00:00+00'),
  ('bob@example.com', 'Bob', 3, 0, NULL);
INSERT INTO products (sku, title, price_cents, discount_cents) VALUES
  ('SKU-1', 'Kettle', 2500, 500),
  ('SKU-2', 'Mug', 900, 0);
INSERT INTO orders (customer_id, state, qty, paid_at, shipped_at) VALUES
  (1, 'cart', 1, NULL, NULL),
  (1, 'paid', 3, '2024-05-01 10:00:00+00', NULL),
  -- shipped half a second after payment, within the same second: the stored
  -- text '…:00.500000Z' sorts before '…:00Z', the time does not.
  (1, 'shipped', 2, '2024-05-01 10:00:00+00', '2024-05-01 10:00:00.5+00'),
  (2, 'cart', 7, NULL, NULL);
INSERT INTO ledger (amount) VALUES (12.5);
ALTER TABLE orders ADD CONSTRAINT legacy_small CHECK (qty < 5) NOT VALID;
"#;

fn listed(summary: &serde_json::Value) -> Vec<String> {
    summary["not_expressed"]
        .as_array()
        .expect("not_expressed")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

/// Runs `sql` and returns SQLite's error, or `None` when the write was taken.
fn refused(conn: &Connection, sql: &str) -> Option<String> {
    conn.execute_batch(&format!("SAVEPOINT t; {sql}; RELEASE t;"))
        .err()
        .map(|e| {
            let _ = conn.execute_batch("ROLLBACK TO t; RELEASE t;");
            e.to_string()
        })
}

#[test]
fn checks_indexes_defaults_generated_columns_and_views_are_enforced_in_sqlite() {
    let db = TestDb::new();
    db.execute(SHOP);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("shop.db");
    let run = sync(&db.url(), &target, &["--json", "--quiet"]);
    run.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json");
    let listed = listed(&summary);

    // What SQLite cannot hold alike is listed, with the reason.
    for (what, why) in [
        ("email_shape", "regular expressions"),
        ("ledger_amount_check", "numeric kept as TEXT"),
        ("legacy_small", "NOT VALID"),
        ("order_count", "materialized"),
        ("one_code", "NULLS NOT DISTINCT"),
        ("invoices.number", "identity"),
        ("mean_qty", "avg()"),
        ("customers.email_key", "ASCII"),
        ("customers.double_balance", "doubles"),
    ] {
        assert!(
            listed.iter().any(|l| l.contains(what) && l.contains(why)),
            "{what} listed because of {why}: {listed:#?}"
        );
    }
    // And what it can is not.
    for created in [
        "customers_email_check",
        "customers_email_live",
        "sku_code",
        "discount_not_above_price",
        "net_cents",
        "label",
        "products_title_prefix",
        "one_cart_per_customer",
        "shipped_after_paid",
        "open_orders",
        "customer_totals",
        "latest_paid",
        "big_open_orders",
        "default",
    ] {
        assert!(
            !listed.iter().any(|l| l.contains(created)),
            "{created} should be created, not listed: {listed:#?}"
        );
    }

    let conn = Connection::open(&target).expect("open");
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .expect("foreign keys");

    // Rows that break a rule: refused, each by the rule it breaks.
    for (sql, rule) in [
        ("INSERT INTO customers (email) VALUES ('nobody')", "customers_email_check"),
        ("INSERT INTO customers (email, tier) VALUES ('t@x.io', 4)", "customers_tier_check"),
        ("INSERT INTO customers (email, balance) VALUES ('b@x.io', -0.01)", "customers_balance_check"),
        ("INSERT INTO customers (email, country) VALUES ('c@x.io', NULL)", "NOT NULL constraint failed: customers.country"),
        ("INSERT INTO customers (email, country) VALUES ('c@x.io', 'NLD')", "country_code_check"),
        ("INSERT INTO coupons VALUES (3, 'SPRING')", "UNIQUE"),
        ("INSERT INTO customers (email) VALUES ('Alice@Example.com')", "UNIQUE"),
        ("UPDATE customers SET deleted_at = NULL WHERE display_name = 'Alice (old)'", "UNIQUE"),
        ("INSERT INTO products (sku, title, price_cents) VALUES ('XYZ-1', 'Pan', 100)", "sku_code_check"),
        ("INSERT INTO products (sku, title, price_cents) VALUES ('SKU-1', 'Pan', 100)", "UNIQUE"),
        ("INSERT INTO products (sku, title, price_cents) VALUES ('SKU-3', '   ', 100)", "products_title_check"),
        ("INSERT INTO products (sku, title, price_cents, discount_cents) VALUES ('SKU-3', 'Pan', 100, 101)", "discount_not_above_price"),
        ("INSERT INTO products (sku, title, price_cents, net_cents) VALUES ('SKU-3', 'Pan', 100, 5)", "generated column"),
        ("INSERT INTO orders (customer_id, state, qty) VALUES (3, 'lost', 1)", "state_is_order_state"),
        ("INSERT INTO orders (customer_id, state, qty) VALUES (3, 'paid', 0)", "quantity_check"),
        ("INSERT INTO orders (customer_id, state, qty) VALUES (3, 'paid', 1001)", "quantity_check1"),
        ("INSERT INTO orders (customer_id, qty) VALUES (1, 1)", "UNIQUE"),
        ("INSERT INTO orders (customer_id, state, qty, paid_at, shipped_at) VALUES (3, 'shipped', 1, '2024-05-01T10:00:00.5Z', '2024-05-01T10:00:00Z')", "shipped_after_paid"),
        ("INSERT INTO orders (customer_id, state, qty) VALUES (3, 'shipped', 1)", "shipped_state"),
        ("INSERT INTO orders (customer_id, state, qty, note) VALUES (3, 'paid', 1, '')", "orders_note_check"),
        ("INSERT INTO orders (customer_id, state, qty) VALUES (99, 'paid', 1)", "FOREIGN KEY"),
    ] {
        match refused(&conn, sql) {
            Some(err) => assert!(err.contains(rule), "{sql}: refused, but not by {rule}: {err}"),
            None => panic!("{sql}: SQLite took a row that breaks {rule}"),
        }
    }

    // Rows that keep the rules: taken.
    for sql in [
        "INSERT INTO customers (email) VALUES ('carol@example.com')",
        "INSERT INTO customers (email, deleted_at) VALUES ('alice@example.com', '2025-02-02T00:00:00Z')",
        "INSERT INTO products (sku, title, price_cents, discount_cents) VALUES ('SKU-9', 'Teapot', 4000, 1500)",
        "INSERT INTO orders (customer_id, qty) VALUES (3, 5)",
        "INSERT INTO orders (customer_id, state, qty, paid_at, shipped_at) VALUES (3, 'shipped', 1, '2024-05-01T10:00:00Z', '2024-05-01T10:00:00.25Z')",
        "UPDATE orders SET state = 'paid' WHERE customer_id = 2",
    ] {
        if let Some(err) = refused(&conn, sql) {
            panic!("{sql}: refused although it keeps every rule: {err}");
        }
    }

    // Defaults give what PostgreSQL gives, in the stored form.
    let mut pg = db.client();
    let pg_row = pg
        .query_one(
            "INSERT INTO customers (email) VALUES ('dave@example.com')
             RETURNING display_name, tier::int8, active, country::text",
            &[],
        )
        .expect("insert into PostgreSQL");
    let row = sqlite_rows(
        &conn,
        "SELECT display_name, tier, balance, active, country, created_at FROM customers
          WHERE email = 'carol@example.com'",
    );
    assert_eq!(
        row[0][..5],
        [
            Value::Text(pg_row.get(0)),
            Value::Integer(pg_row.get(1)),
            // numeric(12,2) 0.00, kept with NUMERIC affinity, as the copy stores it
            sqlite_rows(
                &conn,
                "SELECT balance FROM customers WHERE email = 'bob@example.com'"
            )[0][0]
                .clone(),
            Value::Integer(i64::from(pg_row.get::<_, bool>(2))),
            // the domain's default
            Value::Text(pg_row.get(3)),
        ],
        "defaults"
    );
    let Value::Text(created) = &row[0][5] else {
        panic!("created_at: {:?}", row[0][5]);
    };
    assert!(
        created.len() >= 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "DEFAULT now() in the stored form: {created}"
    );
    let order = sqlite_rows(
        &conn,
        "SELECT state, placed_on = date('now') FROM orders WHERE customer_id = 3 AND qty = 5",
    );
    assert_eq!(
        order,
        vec![vec![Value::Text("cart".into()), Value::Integer(1)]]
    );

    // Generated columns: SQLite computes what PostgreSQL computed.
    let pg_generated: Vec<(String, i64, String)> = pg
        .query(
            "SELECT sku::text, net_cents::int8, label FROM products ORDER BY sku",
            &[],
        )
        .expect("read PostgreSQL")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let sqlite_generated: Vec<(String, i64, String)> = conn
        .prepare("SELECT sku, net_cents, label FROM products WHERE sku <> 'SKU-9' ORDER BY sku")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("read SQLite");
    assert_eq!(sqlite_generated, pg_generated);
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT net_cents, label FROM products WHERE sku = 'SKU-9'"
        ),
        vec![vec![
            Value::Integer(2500),
            Value::Text("SKU-9: Teapot".into())
        ]]
    );
    // An empty array default is the copy's empty JSON array.
    assert_eq!(
        sqlite_rows(&conn, "SELECT DISTINCT tags FROM products"),
        vec![vec![Value::Text("[]".into())]]
    );

    // The expression index is one, and the view reads like PostgreSQL's.
    let index_sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'products_title_prefix'",
            [],
            |r| r.get(0),
        )
        .expect("products_title_prefix exists");
    assert!(index_sql.contains("substr(\"title\", 1, 4)"), "{index_sql}");
    drop(conn);
    let fresh = dir.path().join("fresh.db");
    sync(&db.url(), &fresh, &["--quiet"]).assert_success();
    let fresh = Connection::open(&fresh).expect("open");
    let mut pg_view: Vec<(i64, String, i64)> = pg
        .query(
            "SELECT id::int8, email, double_qty::int8 FROM open_orders",
            &[],
        )
        .expect("PostgreSQL view")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut sqlite_view: Vec<(i64, String, i64)> = fresh
        .prepare("SELECT id, email, double_qty FROM open_orders")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("SQLite view");
    pg_view.sort();
    sqlite_view.sort();
    assert_eq!(sqlite_view, pg_view);
    assert!(!pg_view.is_empty());

    // Aggregates, GROUP BY, HAVING and ORDER BY: the same rows in the same order.
    let pg_totals: Vec<Vec<Value>> = pg
        .query(
            "SELECT id::int8, email, orders::int8, items::int8, last_order::text
               FROM customer_totals",
            &[],
        )
        .expect("PostgreSQL view")
        .iter()
        .map(|r| {
            let opt_int = |i: usize| {
                r.get::<_, Option<i64>>(i)
                    .map_or(Value::Null, Value::Integer)
            };
            vec![
                Value::Integer(r.get(0)),
                Value::Text(r.get(1)),
                opt_int(2),
                opt_int(3),
                r.get::<_, Option<String>>(4)
                    .map_or(Value::Null, Value::Text),
            ]
        })
        .collect();
    assert_eq!(
        sqlite_rows(
            &fresh,
            "SELECT id, email, orders, items, last_order FROM customer_totals"
        ),
        pg_totals
    );
    assert!(pg_totals.len() >= 3);
    let pg_latest: Vec<Vec<Value>> = pg
        .query("SELECT id::int8 FROM latest_paid", &[])
        .expect("PostgreSQL view")
        .iter()
        .map(|r| vec![Value::Integer(r.get(0))])
        .collect();
    assert_eq!(sqlite_rows(&fresh, "SELECT id FROM latest_paid"), pg_latest);
    let pg_big: Vec<Vec<Value>> = pg
        .query(
            "SELECT id::int8, email FROM big_open_orders ORDER BY id",
            &[],
        )
        .expect("PostgreSQL view")
        .iter()
        .map(|r| vec![Value::Integer(r.get(0)), Value::Text(r.get(1))])
        .collect();
    assert!(!pg_big.is_empty());
    assert_eq!(
        sqlite_rows(&fresh, "SELECT id, email FROM big_open_orders ORDER BY id"),
        pg_big
    );
}

/// A delta merge writes into a table with generated columns: the inserted
/// and updated rows get SQLite's computed values, which match PostgreSQL's.
#[test]
fn a_delta_merge_leaves_generated_columns_to_sqlite() {
    let db = TestDb::new();
    db.execute(SHOP);
    db.execute("UPDATE products SET updated_at = '2025-01-01 00:00:00+00'");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("shop.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute(
        "UPDATE products SET price_cents = 3000, updated_at = '2026-06-01 00:00:00+00'
          WHERE sku = 'SKU-1';
         INSERT INTO products (sku, title, price_cents, updated_at)
              VALUES ('SKU-5', 'Spoon', 150, '2026-06-01 00:00:00+00');",
    );
    let run = sync(
        &db.url(),
        &target,
        &[
            "--since",
            "2026-01-01T00:00:00Z",
            "--tables",
            "products",
            "--json",
            "--quiet",
        ],
    );
    run.assert_success();
    // SQLite computes them: not a loss, and not written.
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json");
    assert!(
        !summary.to_string().contains("only in PostgreSQL"),
        "generated columns reported as lost: {summary:#}"
    );
    let conn = Connection::open(&target).expect("open");
    assert_eq!(
        sqlite_rows(
            &conn,
            "SELECT sku, net_cents, label FROM products WHERE sku IN ('SKU-1', 'SKU-5') ORDER BY sku"
        ),
        vec![
            vec![
                Value::Text("SKU-1".into()),
                Value::Integer(2500),
                Value::Text("SKU-1: Kettle".into())
            ],
            vec![
                Value::Text("SKU-5".into()),
                Value::Integer(150),
                Value::Text("SKU-5: Spoon".into())
            ],
        ]
    );
}

/// When SQLite's version of a rule refuses rows PostgreSQL holds (here
/// lower(), which SQLite applies to ASCII letters only), the sync stops before
/// publishing and names the rule; the target is not touched.
#[test]
fn a_rule_the_copied_rows_break_in_sqlite_stops_the_sync_by_name() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE tags (id int PRIMARY KEY, name text NOT NULL,
                            CONSTRAINT has_capital CHECK (lower(name) <> name));
         INSERT INTO tags VALUES (1, 'Rust'), (2, 'Élan');",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("tags.db");
    let run = sync(&db.url(), &target, &["--quiet"]);
    run.assert_code(3)
        .assert_stderr_has(&["tags", "has_capital", "translat", "--exclude tags"]);
    assert!(!target.exists(), "nothing published");
}

/// A bundle carries the schema too: `import` creates the same CHECKs,
/// generated columns and views a sync does, and lists what the export listed.
#[test]
fn an_imported_bundle_gets_the_same_rules() {
    let db = TestDb::new();
    db.execute(SHOP);
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle");
    let url = db.url();
    let bundle_arg = bundle.to_str().expect("utf-8 path");
    run(&["export", "--source", &url, "--out", bundle_arg, "--quiet"]).assert_success();
    let synced = dir.path().join("synced.db");
    sync(&db.url(), &synced, &["--quiet"]).assert_success();
    let imported = dir.path().join("imported.db");
    let target_arg = imported.to_str().expect("utf-8 path");
    let run = run(&[
        "import", "--from", bundle_arg, "--target", target_arg, "--json", "--quiet",
    ]);
    run.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json");
    let listed = listed(&summary);
    assert!(
        listed.iter().any(|l| l.contains("email_shape")),
        "{listed:#?}"
    );
    assert!(
        !listed.iter().any(|l| l.contains("open_orders")),
        "{listed:#?}"
    );
    let schema = |path: &std::path::Path| {
        sqlite_rows(
            &Connection::open(path).expect("open"),
            "SELECT type, name, sql FROM sqlite_master
              WHERE name NOT LIKE '\\_pg2sqlite%' ESCAPE '\\' AND sql IS NOT NULL ORDER BY name",
        )
    };
    assert_eq!(
        schema(&imported),
        schema(&synced),
        "the same schema as a sync"
    );
    let conn = Connection::open(&imported).expect("open");
    let err = refused(
        &conn,
        "INSERT INTO orders (customer_id, state, qty) VALUES (3, 'lost', 1)",
    )
    .expect("the enum's CHECK refuses it");
    assert!(err.contains("state_is_order_state"), "{err}");
}

const SWAPS: &str = "
CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE, updated_at timestamptz NOT NULL);
CREATE TABLE carts (id int PRIMARY KEY, customer int NOT NULL, state text NOT NULL,
                    updated_at timestamptz NOT NULL);
CREATE UNIQUE INDEX one_open_cart ON carts (customer) WHERE state = 'open';
INSERT INTO accounts VALUES (1, 'a@x.io', '2025-01-01'), (2, 'b@x.io', '2025-01-01');
INSERT INTO carts VALUES (1, 7, 'open', '2025-01-01'), (2, 7, 'paid', '2025-01-01');
";

/// PostgreSQL moved unique values between rows in one transaction (two
/// accounts swap emails; the open cart becomes paid while a paid one is
/// reopened). Row by row, each write finds its value still held: the merge
/// sets the unique indexes aside and builds them again before the commit.
#[test]
fn a_delta_merge_applies_values_that_moved_between_rows_of_a_unique_index() {
    let db = TestDb::new();
    db.execute(SWAPS);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("swap.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    db.execute(
        "BEGIN;
         UPDATE accounts SET email = 'tmp' WHERE id = 1;
         UPDATE accounts SET email = 'a@x.io', updated_at = '2026-06-01' WHERE id = 2;
         UPDATE accounts SET email = 'b@x.io', updated_at = '2026-06-01' WHERE id = 1;
         UPDATE carts SET state = 'paid', updated_at = '2026-06-01' WHERE id = 1;
         UPDATE carts SET state = 'open', updated_at = '2026-06-01' WHERE id = 2;
         COMMIT;",
    );
    sync(
        &db.url(),
        &target,
        &["--since", "2026-01-01T00:00:00Z", "--quiet"],
    )
    .assert_success();
    let conn = Connection::open(&target).expect("open");
    assert_eq!(
        sqlite_rows(&conn, "SELECT id, email FROM accounts ORDER BY id"),
        vec![
            vec![Value::Integer(1), Value::Text("b@x.io".into())],
            vec![Value::Integer(2), Value::Text("a@x.io".into())],
        ]
    );
    assert_eq!(
        sqlite_rows(&conn, "SELECT id, state FROM carts ORDER BY id"),
        vec![
            vec![Value::Integer(1), Value::Text("paid".into())],
            vec![Value::Integer(2), Value::Text("open".into())],
        ]
    );
    // The indexes are back, and still enforce.
    let err = conn
        .execute(
            "INSERT INTO accounts VALUES (3, 'a@x.io', '2026-07-01T00:00:00Z')",
            [],
        )
        .expect_err("the unique index is back");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    assert!(refused(&conn, "UPDATE carts SET state = 'open' WHERE id = 1").is_some());
}

/// A value the app wrote in SQLite and PostgreSQL gave another row since:
/// the merge cannot hold both, stops before the commit, names the index, and
/// leaves the target as it was.
#[test]
fn a_delta_merge_that_would_hold_a_unique_value_twice_stops_naming_the_index() {
    let db = TestDb::new();
    db.execute(SWAPS);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("clash.db");
    sync(&db.url(), &target, &["--quiet"]).assert_success();
    {
        let conn = Connection::open(&target).expect("open");
        conn.execute(
            "INSERT INTO accounts VALUES (50, 'c@x.io', '2026-05-01T00:00:00Z')",
            [],
        )
        .expect("the app writes in SQLite");
    }
    db.execute("INSERT INTO accounts VALUES (3, 'c@x.io', '2026-06-01')");
    let before = std::fs::read(&target).expect("read target");
    let run = sync(
        &db.url(),
        &target,
        &["--since", "2026-01-01T00:00:00Z", "--quiet"],
    );
    run.assert_code(3).assert_stderr_has(&[
        "accounts",
        "accounts_email_key",
        "nothing was committed",
    ]);
    assert_eq!(
        std::fs::read(&target).expect("read target"),
        before,
        "target unchanged"
    );
}

/// Names that differ only in case are renamed (session 6), and the rules
/// follow the renamed columns and tables: CHECKs, a partial unique index, a
/// generated column and views name the SQLite names.
#[test]
fn rules_follow_renamed_columns_and_tables() {
    let db = TestDb::new();
    db.execute(
        r#"CREATE TABLE "Item" (id int PRIMARY KEY, "Qty" int CHECK ("Qty" > 0),
                               qty int CHECK (qty < 10),
                               total int GENERATED ALWAYS AS ("Qty" + qty) STORED);
           CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL CHECK (name <> ''));
           CREATE UNIQUE INDEX item_big_qty ON "Item" ("Qty") WHERE qty > 5;
           CREATE VIEW "V" AS SELECT id, "Qty" AS "A", qty AS "a" FROM "Item";
           CREATE VIEW v AS SELECT i.id, i.name, j.total FROM item i JOIN "Item" j ON j.id = i.id;
           INSERT INTO "Item" VALUES (1, 5, 6), (2, 7, 1);
           INSERT INTO item VALUES (1, 'one'), (2, 'two');"#,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("names.db");
    let run = sync(&db.url(), &target, &["--json", "--quiet"]);
    run.assert_success();
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("--json");
    let listed = listed(&summary);
    assert!(
        listed
            .iter()
            .any(|l| l.contains("view public.V") && l.contains("differ in case")),
        "{listed:#?}"
    );
    let conn = Connection::open(&target).expect("open");
    for (sql, rule) in [
        (
            r#"INSERT INTO "Item" (id, "Qty", qty_2) VALUES (9, 0, 1)"#,
            "Item_Qty_check",
        ),
        (
            r#"INSERT INTO "Item" (id, "Qty", qty_2) VALUES (9, 1, 10)"#,
            "Item_qty_check",
        ),
        (
            r#"INSERT INTO "Item" (id, "Qty", qty_2) VALUES (9, 5, 8)"#,
            "UNIQUE",
        ),
        (
            "INSERT INTO item_2 (id, name) VALUES (9, '')",
            "item_name_check",
        ),
    ] {
        match refused(&conn, sql) {
            Some(err) => assert!(err.contains(rule), "{sql}: not refused by {rule}: {err}"),
            None => panic!("{sql}: taken although it breaks {rule}"),
        }
    }
    assert!(refused(
        &conn,
        r#"INSERT INTO "Item" (id, "Qty", qty_2) VALUES (9, 5, 1)"#
    )
    .is_none());
    assert_eq!(
        sqlite_rows(&conn, "SELECT id, name, total FROM v ORDER BY id"),
        vec![
            vec![
                Value::Integer(1),
                Value::Text("one".into()),
                Value::Integer(11)
            ],
            vec![
                Value::Integer(2),
                Value::Text("two".into()),
                Value::Integer(8)
            ],
        ]
    );
}
