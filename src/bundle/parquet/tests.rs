//! Round trips of every file type through a Parquet file, and the files
//! `open` refuses.

use std::io::{Seek, Write};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::*;
use crate::bundle::{wire, BundleError};
use crate::mapping::decode;
use crate::mapping::file_types::{BundleColumn, FileType};

type Row = WireRow;

fn col(name: &str, file_type: FileType) -> BundleColumn {
    BundleColumn {
        name: name.into(),
        file_type,
    }
}

fn list(element: FileType, dims: u8, element_oid: u32) -> FileType {
    FileType::List {
        element: Box::new(element),
        dims,
        element_oid,
    }
}

fn write(columns: &[BundleColumn], rows: &[Row]) -> Vec<u8> {
    let mut w = ParquetTableWriter::new(Vec::new(), columns).unwrap();
    w.write_rows(rows).unwrap();
    w.finish().unwrap()
}

fn file(bytes: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.rewind().unwrap();
    f
}

fn read(bytes: &[u8], columns: &[BundleColumn]) -> Vec<Row> {
    let mut r = ParquetTableReader::open(file(bytes), columns).unwrap();
    let mut rows = Vec::new();
    while let Some(batch) = r.next_batch().unwrap() {
        assert!(!batch.is_empty() && batch.len() <= BATCH_ROWS);
        rows.extend(batch);
    }
    assert_eq!(r.rows(), u64::try_from(rows.len()).unwrap());
    rows
}

/// Writes `rows`, reads them back and asserts the same wire bytes.
fn round_trip(columns: &[BundleColumn], rows: &[Row]) -> Vec<u8> {
    let bytes = write(columns, rows);
    assert_eq!(read(&bytes, columns), rows);
    bytes
}

/// The first row group's values through the crate's own record reader: what
/// another reader sees in the file.
fn fields(bytes: &[u8]) -> Vec<Vec<Field>> {
    let reader = SerializedFileReader::new(file(bytes)).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| {
            r.unwrap()
                .get_column_iter()
                .map(|(_, f)| f.clone())
                .collect()
        })
        .collect()
}

/// The rows of each row group of a written file.
fn row_group_rows(bytes: &[u8]) -> Vec<i64> {
    let reader = SerializedFileReader::new(file(bytes)).unwrap();
    reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect()
}

fn one(v: &[u8]) -> Option<Vec<u8>> {
    Some(v.to_vec())
}

fn numeric(text: &str) -> Vec<u8> {
    wire::numeric_from_text(text).unwrap()
}

fn numeric_text(w: &[u8]) -> String {
    let mut s = String::new();
    decode::write_numeric(&mut s, w).unwrap();
    s
}

fn value_error(result: Result<(), BundleError>) -> (String, String) {
    match result {
        Err(BundleError::Value { column, reason }) => (column, reason),
        other => panic!("expected a value error, got {other:?}"),
    }
}

#[test]
fn integers_bools_and_floats_round_trip_bit_exact() {
    let columns = [
        col("b", FileType::Bool),
        col("i2", FileType::Int16),
        col("i4", FileType::Int32),
        col("i8", FileType::Int64),
        col("f4", FileType::Float32),
        col("f8", FileType::Float64),
    ];
    let row = |b: u8, i2: i16, i4: i32, i8: i64, f4: f32, f8: f64| -> Row {
        vec![
            one(&[b]),
            one(&i2.to_be_bytes()),
            one(&i4.to_be_bytes()),
            one(&i8.to_be_bytes()),
            one(&f4.to_be_bytes()),
            one(&f8.to_be_bytes()),
        ]
    };
    let rows = vec![
        row(1, i16::MIN, i32::MIN, i64::MIN, f32::NAN, f64::NAN),
        row(
            0,
            i16::MAX,
            i32::MAX,
            i64::MAX,
            f32::INFINITY,
            f64::INFINITY,
        ),
        row(1, 0, 0, 0, f32::NEG_INFINITY, f64::NEG_INFINITY),
        row(0, -1, -1, -1, -0.0, -0.0),
        row(1, 7, 7, 7, f32::from_bits(1), f64::from_bits(1)),
        vec![None; 6],
    ];
    let bytes = round_trip(&columns, &rows);
    // -0.0 keeps its sign bit; NaN stays NaN.
    let back = read(&bytes, &columns);
    assert_eq!(
        back[3][4].as_deref(),
        Some(&0x8000_0000u32.to_be_bytes()[..])
    );
    assert!(f64::from_be_bytes(back[0][5].clone().unwrap().try_into().unwrap()).is_nan());
    let f = fields(&bytes);
    assert_eq!(f[0][1], Field::Short(i16::MIN));
    assert_eq!(f[1][3], Field::Long(i64::MAX));
    assert_eq!(f[5][0], Field::Null);
}

#[test]
fn decimals_round_trip_to_the_same_text() {
    let columns = [
        col(
            "p38s0",
            FileType::Decimal {
                precision: 38,
                scale: 0,
            },
        ),
        col(
            "p38s10",
            FileType::Decimal {
                precision: 38,
                scale: 10,
            },
        ),
        col(
            "p38s38",
            FileType::Decimal {
                precision: 38,
                scale: 38,
            },
        ),
        col(
            "p9s2",
            FileType::Decimal {
                precision: 9,
                scale: 2,
            },
        ),
        col(
            "p18s4",
            FileType::Decimal {
                precision: 18,
                scale: 4,
            },
        ),
    ];
    let texts = [
        [
            "99999999999999999999999999999999999999",
            "9999999999999999999999999999.9999999999",
            "0.99999999999999999999999999999999999999",
            "9999999.99",
            "99999999999999.9999",
        ],
        [
            "-99999999999999999999999999999999999999",
            "-1234567890123456789012345678.1234567890",
            "-0.12345678901234567890123456789012345678",
            "-0.01",
            "-12345678901234.5678",
        ],
        [
            "0",
            "0.0000000000",
            "0.00000000000000000000000000000000000000",
            "0.00",
            "0.0000",
        ],
        [
            "1",
            "0.0000000001",
            "0.00000000000000000000000000000000000001",
            "1.50",
            "10000.0000",
        ],
    ];
    let rows: Vec<Row> = texts
        .iter()
        .map(|r| r.iter().map(|t| Some(numeric(t))).collect())
        .chain([vec![None; 5]])
        .collect();
    let bytes = write(&columns, &rows);
    let back = read(&bytes, &columns);
    for (row, want) in back.iter().zip(&texts) {
        let got: Vec<String> = row
            .iter()
            .map(|v| numeric_text(v.as_ref().unwrap()))
            .collect();
        assert_eq!(got, want);
    }
    assert_eq!(back[4], vec![None; 5]);
    // What another reader sees: DECIMAL of the right scale.
    let f = fields(&bytes);
    assert_eq!(f[3][3].to_string(), "1.50");
    assert_eq!(f[1][4].to_string(), "-12345678901234.5678");
}

#[test]
fn decimals_refuse_what_they_cannot_hold() {
    let columns = [col(
        "d",
        FileType::Decimal {
            precision: 5,
            scale: 2,
        },
    )];
    let mut w = ParquetTableWriter::new(Vec::new(), &columns).unwrap();
    let (column, reason) = value_error(w.write_rows(&[vec![Some(numeric("NaN"))]]));
    assert_eq!(column, "d");
    assert!(reason.contains("NaN"), "{reason}");
    let mut w = ParquetTableWriter::new(Vec::new(), &columns).unwrap();
    let (_, reason) = value_error(w.write_rows(&[vec![Some(numeric("1234.5"))]]));
    assert!(reason.contains("more than 5 digits"), "{reason}");
    // The writer refuses to go on with part of a row buffered.
    assert!(w.write_rows(&[vec![None]]).is_err());
    assert!(w.finish().is_err());
}

#[test]
fn numeric_text_keeps_nan_infinities_and_scale() {
    let columns = [col("n", FileType::Numeric)];
    let texts = [
        "NaN",
        "Infinity",
        "-Infinity",
        "123456789012345678901234567890.123456789012345",
        "-0.000001",
        "0",
        "1.10",
    ];
    let mut rows: Vec<Row> = texts.iter().map(|t| vec![Some(numeric(t))]).collect();
    rows.push(vec![None]);
    let bytes = round_trip(&columns, &rows);
    let f = fields(&bytes);
    assert_eq!(f[0][0], Field::Str("NaN".into()));
    assert_eq!(f[6][0], Field::Str("1.10".into()));
}

#[test]
fn texts_json_bytes_and_uuids_round_trip() {
    let columns = [
        col("t", FileType::Text),
        col("pg", FileType::PgText),
        col("e", FileType::Enum),
        col("j", FileType::Json),
        col("jb", FileType::Jsonb),
        col("by", FileType::Bytes),
        col("u", FileType::Uuid),
    ];
    let uuid: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
    let rows = vec![
        vec![
            one(b""),
            one(b"192.168.0.1/32"),
            one(b"happy"),
            one(br#"{"a" : [1, 2]}"#),
            one(b"\x01{\"a\": 1}"),
            one(b""),
            Some(uuid.clone()),
        ],
        vec![
            one("héllo ✓ 日本 🦀".as_bytes()),
            one(b"[1,5)"),
            one(b"sad"),
            one(b"null"),
            one(b"\x01[]"),
            one(&[0, 255, 0, 10]),
            one(&[0; 16]),
        ],
        vec![None; 7],
    ];
    let bytes = round_trip(&columns, &rows);
    let f = fields(&bytes);
    // An empty string is not NULL, and jsonb is stored without its version byte.
    assert_eq!(f[0][0], Field::Str(String::new()));
    assert_eq!(f[2][0], Field::Null);
    assert_eq!(f[0][4], Field::Str(r#"{"a": 1}"#.into()));
    // The enum column is dictionary-encoded.
    let reader = SerializedFileReader::new(file(&bytes)).unwrap();
    let chunk = reader.metadata().row_group(0).column(2);
    assert!(chunk
        .encodings()
        .any(|e| e == parquet::basic::Encoding::RLE_DICTIONARY));
    assert!(matches!(
        chunk.compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    assert!(chunk.statistics().is_some());
}

#[test]
fn invalid_utf8_and_short_uuids_are_refused() {
    let mut w = ParquetTableWriter::new(Vec::new(), &[col("t", FileType::Text)]).unwrap();
    let (column, reason) = value_error(w.write_rows(&[vec![one(&[0xff, 0xfe])]]));
    assert_eq!(column, "t");
    assert!(reason.contains("UTF-8"), "{reason}");
    let mut w = ParquetTableWriter::new(Vec::new(), &[col("u", FileType::Uuid)]).unwrap();
    let (_, reason) = value_error(w.write_rows(&[vec![one(&[1, 2, 3])]]));
    assert!(reason.contains("16 bytes"), "{reason}");
}

/// PostgreSQL's first day (4714-11-24 BC) and last (5874897-12-31), in days
/// since 2000-01-01.
const PG_FIRST_DAY: i32 = -2_451_545;
const PG_LAST_DAY: i32 = 2_145_031_948;
/// 4714-11-24 BC 00:00 in microseconds since 2000-01-01.
const PG_FIRST_MICROS: i64 = -211_813_488_000_000_000;

#[test]
fn dates_and_timestamps_keep_infinities_and_extremes() {
    let columns = [
        col("d", FileType::Date),
        col("ts", FileType::Timestamp),
        col("tz", FileType::Timestamptz),
    ];
    let row = |d: i32, ts: i64| -> Row {
        vec![
            one(&d.to_be_bytes()),
            one(&ts.to_be_bytes()),
            one(&ts.to_be_bytes()),
        ]
    };
    let far_future = 8_000_000_000_000_000_000i64; // year 255 000 or so
    let rows = vec![
        row(0, 0),
        row(i32::MAX, i64::MAX),
        row(i32::MIN, i64::MIN),
        row(PG_FIRST_DAY, PG_FIRST_MICROS),
        row(PG_LAST_DAY, far_future),
        row(-1, -1),
        vec![None; 3],
    ];
    let bytes = round_trip(&columns, &rows);
    // Stored since 1970, as Parquet's DATE and TIMESTAMP are.
    let f = fields(&bytes);
    assert_eq!(f[0][0], Field::Date(10_957));
    assert_eq!(f[0][1], Field::TimestampMicros(946_684_800_000_000));
    // +infinity is the maximum, -infinity the negated maximum, as DuckDB has them.
    assert_eq!(f[1][0], Field::Date(i32::MAX));
    assert_eq!(f[1][2], Field::TimestampMicros(i64::MAX));
    assert_eq!(f[2][0], Field::Date(-i32::MAX));
    assert_eq!(f[2][2], Field::TimestampMicros(-i64::MAX));
    assert_eq!(f[5][1], Field::TimestampMicros(946_684_799_999_999));
}

#[test]
fn a_timestamp_beyond_unix_microseconds_is_an_error() {
    // PostgreSQL's last microsecond: 294276-12-31 23:59:59.999999.
    let last = 9_223_371_331_199_999_999i64;
    let mut w = ParquetTableWriter::new(Vec::new(), &[col("ts", FileType::Timestamptz)]).unwrap();
    let (column, reason) = value_error(w.write_rows(&[vec![one(&last.to_be_bytes())]]));
    assert_eq!(column, "ts");
    assert!(reason.contains("294276-12-31"), "{reason}");
}

#[test]
fn times_and_intervals_round_trip() {
    let columns = [col("t", FileType::Time), col("iv", FileType::Interval)];
    let row = |t: i64, iv: (i64, i32, i32)| -> Row {
        vec![
            one(&t.to_be_bytes()),
            Some(wire::interval(iv.0, iv.1, iv.2)),
        ]
    };
    let rows = vec![
        row(0, (0, 0, 0)),
        row(86_400_000_000, (-1, -2, -3)),
        row(45_296_789_012, (i64::MAX, i32::MIN, i32::MAX)),
        row(1, (i64::MIN, i32::MAX, i32::MIN)),
        vec![None, None],
    ];
    let bytes = round_trip(&columns, &rows);
    let f = fields(&bytes);
    assert_eq!(f[1][0], Field::TimeMicros(86_400_000_000));
    assert_eq!(f[1][1].to_string(), "{months: -3, days: -2, micros: -1}");
    assert_eq!(f[4][1], Field::Null);
}

fn vector(values: &[f32]) -> Vec<u8> {
    let mut out = i16::try_from(values.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0]);
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

#[test]
fn vectors_round_trip() {
    let columns = [col("v", FileType::Vector)];
    let rows = vec![
        vec![Some(vector(&[1.0, -0.0, f32::NAN, f32::INFINITY, -2.5]))],
        vec![Some(vector(&[]))],
        vec![None],
        vec![Some(vector(&[0.125]))],
    ];
    let bytes = round_trip(&columns, &rows);
    assert_eq!(fields(&bytes)[3][0].to_string(), "[0.125]");
    let mut w = ParquetTableWriter::new(Vec::new(), &columns).unwrap();
    let (_, reason) = value_error(w.write_rows(&[vec![one(&[0, 2, 0, 0, 1])]]));
    assert!(reason.contains("vector"), "{reason}");
}

fn array(oid: u32, dims: &[usize], elements: &[Option<Vec<u8>>]) -> Option<Vec<u8>> {
    Some(wire::build_array(oid, dims, elements.iter().map(|e| e.as_deref())).unwrap())
}

fn int4(v: i32) -> Option<Vec<u8>> {
    one(&v.to_be_bytes())
}

#[test]
fn one_dimensional_arrays_of_every_element_type_round_trip() {
    let cases: Vec<(FileType, u32, Row)> = vec![
        (FileType::Int32, 23, vec![int4(1), None, int4(i32::MIN)]),
        (FileType::Int16, 21, vec![one(&(-5i16).to_be_bytes()), None]),
        (FileType::Int64, 20, vec![one(&i64::MAX.to_be_bytes())]),
        (FileType::Bool, 16, vec![one(&[1]), one(&[0]), None]),
        (
            FileType::Float32,
            700,
            vec![one(&f32::NAN.to_be_bytes()), one(&(-0.0f32).to_be_bytes())],
        ),
        (
            FileType::Float64,
            701,
            vec![one(&f64::NEG_INFINITY.to_be_bytes()), None],
        ),
        (
            FileType::Numeric,
            1700,
            vec![Some(numeric("NaN")), Some(numeric("-1.50")), None],
        ),
        (
            FileType::Text,
            25,
            vec![one(b"a"), one(b""), None, one("ü".as_bytes())],
        ),
        (FileType::PgText, 25, vec![one(b"10.0.0.1")]),
        (FileType::Enum, 16_385, vec![one(b"happy"), None]),
        (FileType::Json, 114, vec![one(b"{}"), one(b"[1]")]),
        (FileType::Jsonb, 3802, vec![one(b"\x01{\"k\": null}"), None]),
        (FileType::Bytes, 17, vec![one(b""), one(&[0, 1]), None]),
        (FileType::Uuid, 2950, vec![one(&[7; 16]), None]),
        (
            FileType::Date,
            1082,
            vec![one(&i32::MAX.to_be_bytes()), one(&0i32.to_be_bytes())],
        ),
        (
            FileType::Timestamp,
            1114,
            vec![one(&i64::MIN.to_be_bytes()), one(&1i64.to_be_bytes())],
        ),
        (
            FileType::Timestamptz,
            1184,
            vec![one(&0i64.to_be_bytes()), None],
        ),
        (
            FileType::Time,
            1083,
            vec![one(&86_400_000_000i64.to_be_bytes())],
        ),
    ];
    for (element, oid, elements) in cases {
        let columns = [col("a", list(element.clone(), 1, oid))];
        let rows = vec![
            vec![array(oid, &[elements.len()], &elements)],
            vec![array(oid, &[], &[])],
            vec![None],
            vec![array(oid, &[1], &[None])],
            vec![array(oid, &[1], &elements[..1])],
        ];
        let bytes = write(&columns, &rows);
        assert_eq!(read(&bytes, &columns), rows, "{element:?}");
    }
}

#[test]
fn multi_dimensional_arrays_round_trip() {
    let columns = [col("m", list(FileType::Int32, 2, 23))];
    let rows = vec![
        vec![array(
            23,
            &[2, 3],
            &[int4(1), int4(2), int4(3), int4(4), None, int4(6)],
        )],
        vec![array(23, &[2, 1], &[int4(1), int4(2)])],
        vec![array(23, &[1, 1], &[None])],
        vec![array(23, &[], &[])],
        vec![None],
        vec![array(23, &[1, 3], &[None, None, int4(9)])],
    ];
    let bytes = round_trip(&columns, &rows);
    assert_eq!(fields(&bytes)[1][0].to_string(), "[[1], [2]]");
    let cube: Vec<Option<Vec<u8>>> = (0..24)
        .map(|i| (i % 5 != 0).then(|| int4(i).unwrap()))
        .collect();
    let columns = [col("c", list(FileType::Int32, 3, 23))];
    round_trip(
        &columns,
        &[
            vec![array(23, &[2, 3, 4], &cube)],
            vec![array(23, &[4, 3, 2], &cube)],
        ],
    );
}

#[test]
fn an_array_of_other_dimensions_is_an_error() {
    let columns = [col("m", list(FileType::Int32, 2, 23))];
    let mut w = ParquetTableWriter::new(Vec::new(), &columns).unwrap();
    let (column, reason) = value_error(w.write_rows(&[vec![array(23, &[2], &[int4(1), int4(2)])]]));
    assert_eq!(column, "m");
    assert!(
        reason.contains("an array of 1 dimensions in a column of 2-dimensional"),
        "{reason}"
    );
}

fn numbered(i: usize) -> Row {
    let n = i32::try_from(i).unwrap();
    let f = f32::from(u16::try_from(i % 1000).unwrap());
    vec![
        one(&i64::try_from(i).unwrap().to_be_bytes()),
        one(format!("row {i}").as_bytes()),
        array(23, &[2], &[int4(n), None]),
        (!i.is_multiple_of(3))
            .then(|| array(23, &[1, i % 4 + 1], &vec![int4(n); i % 4 + 1]).unwrap()),
        Some(vector(&vec![f; i % 3])),
        Some(wire::interval(i64::from(n), -n, n)),
    ]
}

#[test]
fn several_row_groups_read_back_in_order() {
    let columns = [
        col("id", FileType::Int64),
        col("name", FileType::Text),
        col("a", list(FileType::Int32, 1, 23)),
        col("m", list(FileType::Int32, 2, 23)),
        col("v", FileType::Vector),
        col("iv", FileType::Interval),
    ];
    let rows: Vec<Row> = (0..25_000).map(numbered).collect();
    // Row groups of 12 000 rows: batches of 8192 end inside them.
    let mut w = ParquetTableWriter::new(Vec::new(), &columns)
        .unwrap()
        .with_caps(12_000, usize::MAX);
    for part in rows.chunks(9_000) {
        w.write_rows(part).unwrap();
    }
    let bytes = w.finish().unwrap();
    let groups = row_group_rows(&bytes);
    assert_eq!(groups, vec![12_000, 12_000, 1_000]);
    let mut r = ParquetTableReader::open(file(&bytes), &columns).unwrap();
    let mut sizes = Vec::new();
    let mut back = Vec::new();
    while let Some(batch) = r.next_batch().unwrap() {
        sizes.push(batch.len());
        back.extend(batch);
    }
    assert_eq!(sizes, vec![8192, 3808, 8192, 3808, 1000]);
    assert_eq!(back, rows);
}

#[test]
fn row_groups_are_capped_by_rows() {
    let columns = [col("id", FileType::Int32)];
    let rows: Vec<Row> = (0..ROW_GROUP_MAX_ROWS + 10)
        .map(|i| vec![int4(i32::try_from(i).unwrap())])
        .collect();
    let mut w = ParquetTableWriter::new(Vec::new(), &columns).unwrap();
    let (a, b) = rows.split_at(100_000);
    w.write_rows(a).unwrap();
    w.write_rows(b).unwrap();
    let bytes = w.finish().unwrap();
    let groups = row_group_rows(&bytes);
    assert_eq!(groups, vec![i64::try_from(ROW_GROUP_MAX_ROWS).unwrap(), 10]);
    assert_eq!(read(&bytes, &columns), rows);
}

#[test]
fn row_groups_are_capped_by_bytes() {
    let columns = [col("id", FileType::Int32), col("blob", FileType::Bytes)];
    let mib = 1024 * 1024;
    // 1 MiB values: a group closes once its values reach the byte cap.
    let per_group = ROW_GROUP_MAX_BYTES / mib;
    let rows: Vec<Row> = (0..40u8)
        .map(|i| vec![int4(i32::from(i)), Some(vec![i; mib])])
        .collect();
    let bytes = write(&columns, &rows);
    let groups = row_group_rows(&bytes);
    let per_group = i64::try_from(per_group).unwrap();
    let mut expected = vec![per_group; 40 / usize::try_from(per_group).unwrap()];
    if 40 % per_group > 0 {
        expected.push(40 % per_group);
    }
    assert_eq!(groups, expected);
    assert_eq!(read(&bytes, &columns), rows);
}

#[test]
fn an_empty_file_has_no_rows() {
    let columns = [col("id", FileType::Int32), col("iv", FileType::Interval)];
    let bytes = write(&columns, &[]);
    let mut r = ParquetTableReader::open(file(&bytes), &columns).unwrap();
    assert_eq!(r.rows(), 0);
    assert!(r.next_batch().unwrap().is_none());
}

fn open_error(bytes: &[u8], columns: &[BundleColumn]) -> String {
    match ParquetTableReader::open(file(bytes), columns) {
        Err(BundleError::Damaged(m)) => m,
        Err(e) => panic!("expected Damaged, got {e:?}"),
        Ok(_) => panic!("expected Damaged, the file opened"),
    }
}

#[test]
fn open_refuses_another_schema() {
    let columns = [col("id", FileType::Int32), col("ts", FileType::Timestamp)];
    let bytes = write(&columns, &[vec![int4(1), None]]);
    let other = [col("id", FileType::Int32), col("ts", FileType::Timestamptz)];
    let m = open_error(&bytes, &other);
    assert!(
        m.contains("column ts") && m.contains("TIMESTAMP(MICROS,false)"),
        "{m}"
    );
    let renamed = [col("key", FileType::Int32), col("ts", FileType::Timestamp)];
    assert!(open_error(&bytes, &renamed).contains("column key"));
    let fewer = [col("id", FileType::Int32)];
    assert!(open_error(&bytes, &fewer).contains("2 columns"));
    let dims = [
        col("id", list(FileType::Int32, 1, 23)),
        col("ts", FileType::Timestamp),
    ];
    assert!(open_error(&bytes, &dims).contains("column id"));
}

#[test]
fn open_refuses_a_truncated_file() {
    let columns = [col("id", FileType::Int32)];
    let rows: Vec<Row> = (0..100).map(|i| vec![int4(i)]).collect();
    let bytes = write(&columns, &rows);
    for cut in [1, 8, bytes.len() / 2] {
        let m = open_error(&bytes[..bytes.len() - cut], &columns);
        assert!(m.contains("not a readable Parquet file"), "{m}");
    }
}
