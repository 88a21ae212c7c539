use super::*;
use crate::bundle::wire;
use crate::mapping::file_types::FileType;

type Row = Vec<Option<Vec<u8>>>;

fn col(name: &str, file_type: FileType) -> BundleColumn {
    BundleColumn {
        name: name.into(),
        file_type,
    }
}

fn write(columns: &[BundleColumn], rows: &[Row]) -> String {
    let mut w = CsvTableWriter::new(Vec::new(), columns).unwrap();
    w.write_rows(rows).unwrap();
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn read(columns: &[BundleColumn], file: &str) -> Result<Vec<Row>, BundleError> {
    let mut r = CsvTableReader::open(file.as_bytes(), columns)?;
    let mut all = Vec::new();
    while let Some(batch) = r.next_batch()? {
        all.extend(batch);
    }
    Ok(all)
}

/// Writes `rows`, reads them back, asserts they are the same; returns the file.
fn round_trip(columns: &[BundleColumn], rows: &[Row]) -> String {
    let file = write(columns, rows);
    let back = read(columns, &file).unwrap();
    assert_eq!(back.len(), rows.len());
    for (i, (want, got)) in rows.iter().zip(&back).enumerate() {
        assert_eq!(want, got, "row {i} of\n{file}");
    }
    file
}

/// One value's text form, and its wire form read back from that text.
fn text_of(ft: &FileType, wire: &[u8]) -> String {
    let mut s = String::new();
    text::write_value(&mut s, ft, wire).unwrap();
    let back = text::parse_value(ft, &s).unwrap();
    assert_eq!(back, wire, "{ft:?} {s}");
    s
}

fn some(b: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    Some(b.as_ref().to_vec())
}

fn jsonb(text: &str) -> Vec<u8> {
    let mut v = vec![1];
    v.extend_from_slice(text.as_bytes());
    v
}

fn numeric(text: &str) -> Vec<u8> {
    wire::numeric_from_text(text).unwrap()
}

fn vector(floats: &[f32]) -> Vec<u8> {
    let mut v = i16::try_from(floats.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(&0i16.to_be_bytes());
    for f in floats {
        v.extend_from_slice(&f.to_be_bytes());
    }
    v
}

fn list(element: FileType, dims: u8, element_oid: u32) -> FileType {
    FileType::List {
        element: Box::new(element),
        dims,
        element_oid,
    }
}

#[test]
fn null_empty_and_the_text_null_stay_apart() {
    let columns = [col("id", FileType::Int32), col("note", FileType::Text)];
    let notes = [
        None,
        Some(""),
        Some("NULL"),
        Some("a,b"),
        Some("say \"hi\""),
        Some("two\nlines"),
        Some("cr\rlf\r\n"),
        Some("\\."),
        Some(" padded "),
        Some("é ü 🎉 中文"),
        Some("\""),
    ];
    let rows: Vec<Row> = notes
        .iter()
        .zip(1i32..)
        .map(|(n, id)| vec![some(id.to_be_bytes()), n.map(|s| s.as_bytes().to_vec())])
        .collect();
    let file = round_trip(&columns, &rows);
    assert_eq!(
        file,
        "id,note\n1,\n2,\"\"\n3,NULL\n4,\"a,b\"\n5,\"say \"\"hi\"\"\"\n6,\"two\nlines\"\n\
         7,\"cr\rlf\r\n\"\n8,\"\\.\"\n9, padded \n10,é ü 🎉 中文\n11,\"\"\"\"\n"
    );
    // A one-column table's NULL is an empty line, and reads back as one.
    let one = [col("t", FileType::Text)];
    let file = round_trip(&one, &[vec![None], vec![some("")], vec![None]]);
    assert_eq!(file, "t\n\n\"\"\n\n");
}

#[test]
fn scalar_text_forms_are_the_documented_ones() {
    let cases: Vec<(FileType, Vec<u8>, &str)> = vec![
        (FileType::Bool, vec![1], "t"),
        (FileType::Bool, vec![0], "f"),
        (FileType::Int16, i16::MIN.to_be_bytes().to_vec(), "-32768"),
        (
            FileType::Int32,
            i32::MAX.to_be_bytes().to_vec(),
            "2147483647",
        ),
        (
            FileType::Int64,
            i64::MIN.to_be_bytes().to_vec(),
            "-9223372036854775808",
        ),
        (
            FileType::Int64,
            i64::MAX.to_be_bytes().to_vec(),
            "9223372036854775807",
        ),
        (FileType::Float32, 0.1f32.to_be_bytes().to_vec(), "0.1"),
        (FileType::Float32, f32::NAN.to_be_bytes().to_vec(), "NaN"),
        (
            FileType::Float32,
            f32::NEG_INFINITY.to_be_bytes().to_vec(),
            "-Infinity",
        ),
        (FileType::Float32, 1e-45f32.to_be_bytes().to_vec(), "1e-45"),
        (
            FileType::Float32,
            f32::MAX.to_be_bytes().to_vec(),
            "3.4028235e38",
        ),
        (FileType::Float64, (-0.0f64).to_be_bytes().to_vec(), "-0.0"),
        (FileType::Float64, 0.1f64.to_be_bytes().to_vec(), "0.1"),
        (FileType::Float64, 1e-7f64.to_be_bytes().to_vec(), "1e-7"),
        (
            FileType::Float64,
            f64::INFINITY.to_be_bytes().to_vec(),
            "Infinity",
        ),
        (FileType::Float64, f64::NAN.to_be_bytes().to_vec(), "NaN"),
        (
            FileType::Float64,
            5e-324f64.to_be_bytes().to_vec(),
            "5e-324",
        ),
        (
            FileType::Float64,
            f64::MAX.to_be_bytes().to_vec(),
            "1.7976931348623157e308",
        ),
        (
            FileType::Float64,
            123456.789f64.to_be_bytes().to_vec(),
            "123456.789",
        ),
        (FileType::Numeric, numeric("-12.340"), "-12.340"),
        (
            FileType::Numeric,
            numeric("123456789012345678901234567890123456789012.000000000000000000001"),
            "123456789012345678901234567890123456789012.000000000000000000001",
        ),
        (FileType::Numeric, numeric("NaN"), "NaN"),
        (FileType::Numeric, numeric("-Infinity"), "-Infinity"),
        (FileType::Numeric, numeric("0.00"), "0.00"),
        (
            FileType::Decimal {
                precision: 38,
                scale: 2,
            },
            numeric("999999999999999999999999999999999999.99"),
            "999999999999999999999999999999999999.99",
        ),
        (FileType::Text, b"a \"q\", b".to_vec(), "a \"q\", b"),
        (FileType::Enum, b"happy".to_vec(), "happy"),
        (
            FileType::PgText,
            b"192.168.0.0/24".to_vec(),
            "192.168.0.0/24",
        ),
        (
            FileType::Json,
            b"{ \"a\" : [1, 2] }".to_vec(),
            "{ \"a\" : [1, 2] }",
        ),
        (FileType::Jsonb, jsonb("{\"a\": [1, 2]}"), "{\"a\": [1, 2]}"),
        (FileType::Bytes, vec![], "\\x"),
        (FileType::Bytes, vec![0, 0xAB, 0xff, b','], "\\x00abff2c"),
        (
            FileType::Uuid,
            vec![
                0xA0, 0xEE, 0xBC, 0x99, 0x9C, 0x0B, 0x4E, 0xF8, 0xBB, 0x6D, 0x6B, 0xB9, 0xBD, 0x38,
                0x0A, 0x11,
            ],
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ),
        (FileType::Date, 0i32.to_be_bytes().to_vec(), "2000-01-01"),
        (FileType::Date, i32::MAX.to_be_bytes().to_vec(), "infinity"),
        (FileType::Date, i32::MIN.to_be_bytes().to_vec(), "-infinity"),
        (
            FileType::Date,
            (-730_120i32).to_be_bytes().to_vec(),
            "0001-12-31 BC",
        ),
        (
            FileType::Date,
            (-2_451_507i32).to_be_bytes().to_vec(),
            "4713-01-01 BC",
        ),
        (
            FileType::Date,
            2_921_940i32.to_be_bytes().to_vec(),
            "10000-01-01",
        ),
        // PostgreSQL's last date: select '5874897-12-31'::date - '2000-01-01'.
        (
            FileType::Date,
            2_145_031_948i32.to_be_bytes().to_vec(),
            "5874897-12-31",
        ),
        (
            FileType::Timestamp,
            0i64.to_be_bytes().to_vec(),
            "2000-01-01 00:00:00",
        ),
        (
            FileType::Timestamp,
            (86_400_000_000i64 + 3_723_500_000).to_be_bytes().to_vec(),
            "2000-01-02 01:02:03.500000",
        ),
        (
            FileType::Timestamp,
            (-1i64).to_be_bytes().to_vec(),
            "1999-12-31 23:59:59.999999",
        ),
        // PostgreSQL's last timestamp, 294276-12-31 23:59:59.999999.
        (
            FileType::Timestamp,
            9_223_371_331_199_999_999i64.to_be_bytes().to_vec(),
            "294276-12-31 23:59:59.999999",
        ),
        (
            FileType::Timestamp,
            (-730_120i64 * 86_400_000_000 + 1).to_be_bytes().to_vec(),
            "0001-12-31 00:00:00.000001 BC",
        ),
        (
            FileType::Timestamp,
            i64::MAX.to_be_bytes().to_vec(),
            "infinity",
        ),
        (
            FileType::Timestamptz,
            i64::MIN.to_be_bytes().to_vec(),
            "-infinity",
        ),
        (
            FileType::Timestamptz,
            1i64.to_be_bytes().to_vec(),
            "2000-01-01T00:00:00.000001Z",
        ),
        (
            FileType::Timestamptz,
            9_223_371_331_199_999_999i64.to_be_bytes().to_vec(),
            "294276-12-31T23:59:59.999999Z",
        ),
        (
            FileType::Timestamptz,
            (-2_451_507i64 * 86_400_000_000).to_be_bytes().to_vec(),
            "4713-01-01T00:00:00Z BC",
        ),
        (FileType::Time, 0i64.to_be_bytes().to_vec(), "00:00:00"),
        (
            FileType::Time,
            86_400_000_000i64.to_be_bytes().to_vec(),
            "24:00:00",
        ),
        (
            FileType::Time,
            45_015_500_000i64.to_be_bytes().to_vec(),
            "12:30:15.500000",
        ),
        (FileType::Interval, wire::interval(0, 0, 0), "P0M0DT0S"),
        (
            FileType::Interval,
            wire::interval(-3_723_500_000, 3, -14),
            "P-14M3DT-3723.5S",
        ),
        (
            FileType::Interval,
            wire::interval(1, -1, 1),
            "P1M-1DT0.000001S",
        ),
        (
            FileType::Interval,
            wire::interval(i64::MIN, i32::MIN, i32::MAX),
            "P2147483647M-2147483648DT-9223372036854.775808S",
        ),
        (
            FileType::Interval,
            wire::interval(i64::MAX, 0, 0),
            "P0M0DT9223372036854.775807S",
        ),
        (FileType::Vector, vector(&[]), "[]"),
        (
            FileType::Vector,
            vector(&[0.1, -0.0, 1e-45, 3.0]),
            "[0.1,-0.0,1e-45,3.0]",
        ),
    ];
    for (ft, wire, want) in cases {
        assert_eq!(text_of(&ft, &wire), want, "{ft:?}");
    }
}

#[test]
fn every_file_type_round_trips_through_a_file() {
    let columns = [
        col("b", FileType::Bool),
        col("i2", FileType::Int16),
        col("i4", FileType::Int32),
        col("i8", FileType::Int64),
        col("f4", FileType::Float32),
        col("f8", FileType::Float64),
        col(
            "d",
            FileType::Decimal {
                precision: 10,
                scale: 2,
            },
        ),
        col("n", FileType::Numeric),
        col("t", FileType::Text),
        col("e", FileType::Enum),
        col("j", FileType::Json),
        col("jb", FileType::Jsonb),
        col("by", FileType::Bytes),
        col("u", FileType::Uuid),
        col("da", FileType::Date),
        col("ts", FileType::Timestamp),
        col("tz", FileType::Timestamptz),
        col("ti", FileType::Time),
        col("iv", FileType::Interval),
        col("v", FileType::Vector),
        col("pg", FileType::PgText),
        col("ai", list(FileType::Int32, 1, 23)),
    ];
    let full: Row = vec![
        some([1]),
        some(i16::MAX.to_be_bytes()),
        some(i32::MIN.to_be_bytes()),
        some(i64::MIN.to_be_bytes()),
        some((-0.0f32).to_be_bytes()),
        some(f64::NAN.to_be_bytes()),
        some(numeric("-12345678.90")),
        some(numeric("NaN")),
        some("line1\nline2, \"quoted\""),
        some("sad"),
        some("[1, {\"a\": \"x,y\"}]"),
        some(jsonb("{\"k\": \"v\\\"w\"}")),
        some([]),
        some([0xffu8; 16]),
        some((-730_120i32).to_be_bytes()),
        some(9_223_371_331_199_999_999i64.to_be_bytes()),
        some(i64::MIN.to_be_bytes()),
        some(86_400_000_000i64.to_be_bytes()),
        some(wire::interval(-3_723_500_000, 3, -14)),
        some(vector(&[1.5, f32::MIN_POSITIVE])),
        some("[1,2)"),
        some(wire::build_array(23, &[2], [Some(&7i32.to_be_bytes()[..]), None]).unwrap()),
    ];
    let empty_texts: Row = full
        .iter()
        .zip(&columns)
        .map(|(v, c)| match c.file_type {
            FileType::Text | FileType::Enum | FileType::Json | FileType::PgText => some(""),
            FileType::Jsonb => some([1]),
            _ => v.clone(),
        })
        .collect();
    let nulls: Row = vec![None; columns.len()];
    let file = round_trip(&columns, &[full, empty_texts, nulls]);
    let lines: Vec<&str> = file.split('\n').collect();
    assert_eq!(
        lines[0],
        "b,i2,i4,i8,f4,f8,d,n,t,e,j,jb,by,u,da,ts,tz,ti,iv,v,pg,ai"
    );
    assert_eq!(
        lines[1],
        "t,32767,-2147483648,-9223372036854775808,-0.0,NaN,-12345678.90,NaN,\"line1"
    );
    assert!(file.ends_with(&format!("\n{}\n", ",".repeat(columns.len() - 1))));
}

#[test]
fn arrays_round_trip_as_json() {
    let i4 = |v: i32| v.to_be_bytes().to_vec();
    // (type, dimensions, elements, the JSON text)
    let cases: Vec<(FileType, Vec<usize>, Row, &str)> = vec![
        (
            list(FileType::Int32, 1, 23),
            vec![3],
            vec![Some(i4(1)), None, Some(i4(-3))],
            "[1,null,-3]",
        ),
        (
            list(FileType::Int32, 2, 23),
            vec![2, 3],
            vec![
                Some(i4(1)),
                None,
                Some(i4(3)),
                Some(i4(4)),
                Some(i4(5)),
                None,
            ],
            "[[1,null,3],[4,5,null]]",
        ),
        (
            list(FileType::Int64, 3, 20),
            vec![2, 1, 2],
            (0..4i64).map(|v| Some(v.to_be_bytes().to_vec())).collect(),
            "[[[0,1]],[[2,3]]]",
        ),
        (list(FileType::Int32, 1, 23), vec![], vec![], "[]"),
        (
            list(FileType::Text, 1, 25),
            vec![4],
            vec![
                Some(b"a,\"b\"".to_vec()),
                Some(vec![]),
                None,
                Some("é\n\\".into()),
            ],
            "[\"a,\\\"b\\\"\",\"\",null,\"é\\n\\\\\"]",
        ),
        (
            list(FileType::PgText, 1, 25),
            vec![1],
            vec![Some(b"NULL".to_vec())],
            "[\"NULL\"]",
        ),
        (
            list(FileType::Bool, 1, 16),
            vec![3],
            vec![Some(vec![1]), Some(vec![0]), None],
            "[true,false,null]",
        ),
        (
            list(FileType::Float32, 1, 700),
            vec![4],
            [f32::NAN, f32::INFINITY, -0.0, 0.1]
                .iter()
                .map(|f| Some(f.to_be_bytes().to_vec()))
                .collect(),
            "[\"NaN\",\"Infinity\",-0.0,0.1]",
        ),
        (
            list(FileType::Float64, 1, 701),
            vec![2],
            [f64::NEG_INFINITY, 1e300]
                .iter()
                .map(|f| Some(f.to_be_bytes().to_vec()))
                .collect(),
            "[\"-Infinity\",1e300]",
        ),
        (
            list(FileType::Numeric, 1, 1700),
            vec![3],
            vec![
                Some(numeric("12345678901234567890123456789012345678901.5")),
                Some(numeric("NaN")),
                Some(numeric("-0.000")),
            ],
            "[12345678901234567890123456789012345678901.5,\"NaN\",0.000]",
        ),
        (
            list(FileType::Bytes, 1, 17),
            vec![2],
            vec![Some(vec![0xde, 0xad]), Some(vec![])],
            "[\"\\\\xdead\",\"\\\\x\"]",
        ),
        (
            list(FileType::Uuid, 1, 2950),
            vec![1],
            vec![Some(vec![0x11; 16])],
            "[\"11111111-1111-1111-1111-111111111111\"]",
        ),
        (
            list(FileType::Date, 1, 1082),
            vec![3],
            vec![Some(i4(i32::MAX)), Some(i4(-730_120)), Some(i4(0))],
            "[\"infinity\",\"0001-12-31 BC\",\"2000-01-01\"]",
        ),
        (
            list(FileType::Timestamp, 1, 1114),
            vec![1],
            vec![Some(1i64.to_be_bytes().to_vec())],
            "[\"2000-01-01 00:00:00.000001\"]",
        ),
        (
            list(FileType::Timestamptz, 1, 1184),
            vec![2],
            vec![
                Some(i64::MIN.to_be_bytes().to_vec()),
                Some(0i64.to_be_bytes().to_vec()),
            ],
            "[\"-infinity\",\"2000-01-01T00:00:00Z\"]",
        ),
        (
            list(FileType::Enum, 1, 16_500),
            vec![2],
            vec![Some(b"ok".to_vec()), None],
            "[\"ok\",null]",
        ),
        // json elements are their own JSON text, whitespace kept; they may be
        // arrays themselves: the nesting is the column's dimensions.
        (
            list(FileType::Json, 1, 114),
            vec![3],
            vec![
                Some(b"{ \"a\" : [1, \"],\"] }".to_vec()),
                Some(b"[1,2]".to_vec()),
                Some(b"\"s\"".to_vec()),
            ],
            "[{ \"a\" : [1, \"],\"] },[1,2],\"s\"]",
        ),
        (
            list(FileType::Jsonb, 2, 3802),
            vec![2, 1],
            vec![Some(jsonb("{\"a\": 1}")), Some(jsonb("null"))],
            "[[{\"a\": 1}],[null]]",
        ),
    ];
    for (ft, dims, elements, want) in cases {
        let FileType::List { element_oid, .. } = ft else {
            unreachable!()
        };
        let value =
            wire::build_array(element_oid, &dims, elements.iter().map(|e| e.as_deref())).unwrap();
        assert_eq!(text_of(&ft, &value), want);
        round_trip(&[col("a", ft)], &[vec![Some(value)], vec![None]]);
    }
}

#[test]
fn what_arrays_lose_in_csv() {
    // A SQL NULL element of a json array reads back as JSON null (the export
    // counts it as lost).
    let ft = list(FileType::Json, 1, 114);
    let value = wire::build_array(114, &[2], [Some(&b"null"[..]), None]).unwrap();
    let mut s = String::new();
    text::write_value(&mut s, &ft, &value).unwrap();
    assert_eq!(s, "[null,null]");
    let back = text::parse_value(&ft, &s).unwrap();
    assert_eq!(
        wire::parse_array(&back).unwrap().elements,
        vec![Some(&b"null"[..]), Some(&b"null"[..])]
    );
    // A lower bound other than 1 (here '[0:1]={5,6}') reads back as 1.
    let mut lb0 = wire::build_array(
        23,
        &[2],
        [Some(&5i32.to_be_bytes()[..]), Some(&6i32.to_be_bytes()[..])],
    )
    .unwrap();
    lb0[16..20].copy_from_slice(&0i32.to_be_bytes());
    assert!(wire::parse_array(&lb0).unwrap().other_lower_bound);
    let ft = list(FileType::Int32, 1, 23);
    s.clear();
    text::write_value(&mut s, &ft, &lb0).unwrap();
    assert_eq!(s, "[5,6]");
    let back = text::parse_value(&ft, &s).unwrap();
    assert!(!wire::parse_array(&back).unwrap().other_lower_bound);
}

#[test]
fn malformed_arrays_are_refused() {
    let ft = list(FileType::Int32, 2, 23);
    for bad in [
        "[[1,2],[3]]",
        "[[1],2]",
        "[1,[2]]",
        "[[]]",
        "[1,]",
        "[1 2]",
        "[1]x",
        "[\"1\"]",
        "[1.5]",
        "{1,2}",
        "[",
    ] {
        assert!(text::parse_value(&ft, bad).is_err(), "{bad}");
    }
    let ft = list(FileType::Json, 2, 114);
    assert!(text::parse_value(&ft, "[1,2]").is_err());
    assert!(text::parse_value(&ft, "[[\"open]]").is_err());
}

#[test]
fn bad_texts_are_refused() {
    let cases: Vec<(FileType, &str)> = vec![
        (FileType::Bool, "yes"),
        (FileType::Int16, "32768"),
        (FileType::Int32, "1.0"),
        (FileType::Int64, ""),
        (FileType::Float64, "inf"),
        (FileType::Float64, "nan"),
        (FileType::Float32, "1,5"),
        (FileType::Float32, "1e39"),
        (FileType::Float64, "1e309"),
        (FileType::Numeric, "1e5"),
        (FileType::Bytes, "\\xabc"),
        (FileType::Bytes, "abcd"),
        (FileType::Bytes, "\\xzz"),
        (FileType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"),
        (FileType::Uuid, "a0eebc999c0b-4ef8-bb6d-6bb9bd380a11-"),
        (FileType::Date, "2023-02-29"),
        (FileType::Date, "0000-01-01"),
        (FileType::Date, "99-01-01"),
        (FileType::Date, "2000-1-01"),
        (FileType::Timestamp, "2000-01-01T00:00:00"),
        (FileType::Timestamp, "2000-01-01 24:00:00"),
        (FileType::Timestamptz, "2000-01-01 00:00:00"),
        (FileType::Timestamptz, "2000-01-01T00:00:00+01:00"),
        (FileType::Time, "24:00:01"),
        (FileType::Time, "1:00:00"),
        (FileType::Interval, "1 day"),
        (FileType::Interval, "P1M1DT1.1234567S"),
        (FileType::Interval, "P1M1DT-S"),
        (FileType::Interval, "P0M0DT9223372036854.775808S"),
        (FileType::Vector, "[1,x]"),
        (FileType::Vector, "1,2"),
    ];
    for (ft, text) in cases {
        assert!(text::parse_value(&ft, text).is_err(), "{ft:?} {text:?}");
    }
    // Upper-case hex and the long boolean spellings are read.
    assert_eq!(
        text::parse_value(&FileType::Bytes, "\\xABcd").unwrap(),
        vec![0xab, 0xcd]
    );
    assert_eq!(text::parse_value(&FileType::Bool, "true").unwrap(), vec![1]);
    // Fewer than six fraction digits are read too.
    assert_eq!(
        text::parse_value(&FileType::Timestamp, "2000-01-01 00:00:00.5").unwrap(),
        500_000i64.to_be_bytes().to_vec()
    );
}

#[test]
fn the_header_must_match_the_manifest() {
    let columns = [col("id", FileType::Int32), col("name", FileType::Text)];
    let e = read(&columns, "id,title\n1,x\n").err().unwrap().to_string();
    assert_eq!(
        e,
        "the header's column 2 is \"title\", the manifest says \"name\""
    );
    let e = read(&columns, "id\n1\n").err().unwrap().to_string();
    assert_eq!(
        e,
        "the header has 1 columns (id), the manifest 2 (id, name)"
    );
    let e = read(&columns, "").err().unwrap().to_string();
    assert_eq!(e, "the file is empty: no header line");
    // A header with no rows is an empty table.
    assert!(read(&columns, "id,name\n").unwrap().is_empty());
}

#[test]
fn malformed_records_name_line_and_column() {
    let columns = [col("id", FileType::Int32), col("name", FileType::Text)];
    let e = read(&columns, "id,name\n1,a\n2,\"b\nc\"\n3,c,extra\n")
        .err()
        .unwrap();
    assert!(matches!(e, BundleError::Damaged(_)));
    assert_eq!(e.to_string(), "line 5: 3 fields, the table has 2 columns");
    let e = read(&columns, "id,name\n1,\"a\"b\n")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(e, "line 2, column name: text after the closing quote");
    let e = read(&columns, "id,name\n1,a\n2,b,\"c\n")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        e,
        "line 3, field 3: quoted field not closed before the end of the file"
    );
    let e = read(&columns, "id,name\n1,a\n2,\"open\n")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        e,
        "line 3, column name: quoted field not closed before the end of the file"
    );
    let e = read(&columns, "id,name\n1,a\nx2,b\n").err().unwrap();
    match &e {
        BundleError::Value { column, reason } => {
            assert_eq!(column, "id");
            assert_eq!(reason, "line 3: integer: \"x2\" is not an integer");
        }
        other => panic!("{other:?}"),
    }
    let bytes = [col("b", FileType::Bytes)];
    let e = read(&bytes, "b\n\\x00\n\\x0\n").err().unwrap().to_string();
    assert_eq!(
        e,
        "column b: line 3: bytea: \"\\\\x0\" is not \\x and hex digits"
    );
    // A quoted empty field is the empty string, which an integer cannot be.
    let e = read(&columns, "id,name\n\"\",a\n")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(e, "column id: line 2: integer: \"\" is not an integer");
}

#[test]
fn batches_hold_at_most_8192_rows() {
    let columns = [col("n", FileType::Int64)];
    let rows: Vec<Row> = (0..10_000i64)
        .map(|i| vec![some(i.to_be_bytes())])
        .collect();
    let file = write(&columns, &rows);
    let mut r = CsvTableReader::open(file.as_bytes(), &columns).unwrap();
    let first = r.next_batch().unwrap().unwrap();
    let second = r.next_batch().unwrap().unwrap();
    assert_eq!((first.len(), second.len()), (8192, 1808));
    assert_eq!(second[1807], vec![some(9_999i64.to_be_bytes())]);
    assert!(r.next_batch().unwrap().is_none());
    assert!(r.next_batch().unwrap().is_none());
}

#[test]
fn write_errors_name_the_column() {
    let columns = [col("t", FileType::Time)];
    let mut w = CsvTableWriter::new(Vec::new(), &columns).unwrap();
    let e = w
        .write_rows(&[vec![some((-1i64).to_be_bytes())]])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "column t: time: -1 µs is not a time of day");
    let e = w
        .write_rows(&[vec![some([1u8, 2])]])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "column t: int8: expected 8 bytes, got 2");
    let e = w
        .write_rows(&[Vec::<Option<Vec<u8>>>::new()])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "column t: row has no column 0");
}
