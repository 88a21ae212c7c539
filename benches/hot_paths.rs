//! Micro-benchmarks of the hot paths of a copy: converting raw COPY values into
//! an Arrow batch, and writing batches into SQLite.
//!
//! `cargo bench --bench hot_paths`. The end-to-end numbers live in
//! `benches/RESULTS.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use pg2sqlite::mapping::convert::{arrow_schema, convert_rows, ColumnConversion};
use pg2sqlite::mapping::format::Format;
use pg2sqlite::mapping::ledger::LossLedger;
use pg2sqlite::mapping::types::{Storage, ValueKind};
use pg2sqlite::sink::ddl::{SinkColumn, SinkTable};
use pg2sqlite::sink::writer::{insert_batch, open_staging, TableInserts};

const ROWS: usize = 8192;

/// Raw rows as the COPY stream hands them out: one optional value per column.
type RawRows = Vec<Vec<Option<Vec<u8>>>>;

/// pgbench_accounts-like rows: int4 key, int4, int4, char(84) filler.
fn accounts() -> (Vec<ColumnConversion>, RawRows) {
    let cols = vec![
        col("aid", ValueKind::Int4, Storage::Integer),
        col("bid", ValueKind::Int4, Storage::Integer),
        col("abalance", ValueKind::Int4, Storage::Integer),
        col("filler", ValueKind::Text, Storage::Text),
    ];
    let filler = vec![b' '; 84];
    let rows = (0..ROWS)
        .map(|i| {
            let i = i32::try_from(i).unwrap_or(0);
            vec![
                Some(i.to_be_bytes().to_vec()),
                Some((i / 100_000).to_be_bytes().to_vec()),
                Some(0i32.to_be_bytes().to_vec()),
                Some(filler.clone()),
            ]
        })
        .collect();
    (cols, rows)
}

/// Types that need formatting: timestamptz, uuid, numeric, date, int array.
fn formatted() -> (Vec<ColumnConversion>, RawRows) {
    let cols = vec![
        col("ts", ValueKind::Timestamptz, Storage::Text),
        col("u", ValueKind::Uuid, Storage::Text),
        col("n", ValueKind::Numeric, Storage::Text),
        col("d", ValueKind::Date, Storage::Text),
        col("f", ValueKind::Float8, Storage::Real),
    ];
    // numeric 12345.67: ndigits 2, weight 1, sign +, dscale 2, digits [1, 2345, 6700]
    let mut numeric = Vec::new();
    for v in [3i16, 1, 0, 2, 1, 2345, 6700] {
        numeric.extend_from_slice(&v.to_be_bytes());
    }
    let rows = (0..ROWS)
        .map(|i| {
            let i = i64::try_from(i).unwrap_or(0);
            vec![
                Some((i * 1_000_003).to_be_bytes().to_vec()),
                Some((0u8..16).map(|b| b.wrapping_mul(7)).collect()),
                Some(numeric.clone()),
                Some(i32::try_from(i).unwrap_or(0).to_be_bytes().to_vec()),
                Some((1.5f64).to_be_bytes().to_vec()),
            ]
        })
        .collect();
    (cols, rows)
}

fn col(name: &str, kind: ValueKind, storage: Storage) -> ColumnConversion {
    ColumnConversion {
        name: name.into(),
        kind,
        format: Format::Default,
        storage,
    }
}

fn bench_convert(c: &mut Criterion) {
    let mut g = c.benchmark_group("convert");
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, (cols, rows)) in [("accounts", accounts()), ("formatted", formatted())] {
        let schema = arrow_schema(&cols);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut ledger = LossLedger::default();
                black_box(convert_rows("t", &cols, &schema, &rows, &mut ledger))
            })
        });
    }
    g.finish();
}

fn bench_write(c: &mut Criterion) {
    let (cols, rows) = accounts();
    let schema = arrow_schema(&cols);
    let mut ledger = LossLedger::default();
    let Ok(batch) = convert_rows("t", &cols, &schema, &rows, &mut ledger) else {
        return;
    };
    let table = SinkTable {
        name: "pgbench_accounts".into(),
        columns: cols
            .iter()
            .map(|c| SinkColumn {
                name: c.name.clone(),
                declared: if c.storage == Storage::Integer {
                    "INTEGER".into()
                } else {
                    "TEXT".into()
                },
                storage: c.storage,
                not_null: false,
                default: None,
                generated: None,
            })
            .collect(),
        primary_key: None,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        indexes: Vec::new(),
        existing: false,
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(conn) = open_staging(&dir.path().join("bench.db")) else {
        return;
    };
    if conn.execute_batch(&table.create_table_sql()).is_err()
        || conn.execute_batch("BEGIN").is_err()
    {
        return;
    }
    let mut g = c.benchmark_group("sqlite_write");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("accounts", |b| {
        let mut inserts = TableInserts::default();
        b.iter(|| black_box(insert_batch(&conn, &table, &mut inserts, &batch)))
    });
    g.finish();
}

criterion_group!(benches, bench_convert, bench_write);
criterion_main!(benches);
