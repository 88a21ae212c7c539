//! The expected contents of `all_types` (fixtures/demo.sql) and `edge_values`
//! (fixtures/test_edge_values.sql), written out value by value from product.md's
//! default mapping and PostgreSQL's own text output.

use rusqlite::types::Value;

pub fn null() -> Value {
    Value::Null
}
pub fn int(i: i64) -> Value {
    Value::Integer(i)
}
pub fn real(f: f64) -> Value {
    Value::Real(f)
}
pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
pub fn blob(b: &[u8]) -> Value {
    Value::Blob(b.to_vec())
}

/// One column: its name, its declared SQLite type, and its value in each row
/// (rows in key order).
pub struct Column {
    pub name: &'static str,
    pub declared: &'static str,
    pub values: Vec<Value>,
}

pub fn col<const N: usize>(
    name: &'static str,
    declared: &'static str,
    values: [Value; N],
) -> Column {
    Column {
        name,
        declared,
        values: values.into(),
    }
}

pub fn all_types_expected() -> Vec<Column> {
    let n = null;
    vec![
        col("id", "INTEGER", [int(0), int(1), int(2), int(3)]),
        col("i2", "INTEGER", [n(), int(32767), int(-32768), int(0)]),
        col(
            "i4",
            "INTEGER",
            [n(), int(2_147_483_647), int(-2_147_483_648), int(0)],
        ),
        col("i8", "INTEGER", [n(), int(i64::MAX), int(i64::MIN), int(0)]),
        col("b", "INTEGER", [n(), int(1), int(0), int(1)]),
        // real 3.4028235e38 is f32::MAX, held exactly by a double
        col(
            "f4",
            "REAL",
            [
                n(),
                real(3.402_823_466_385_288_6e38),
                text("NaN"),
                real(f64::NEG_INFINITY),
            ],
        ),
        col("f8", "REAL", [n(), real(f64::MAX), text("NaN"), real(-0.0)]),
        // unconstrained numeric: a TEXT column, the exact decimal
        col(
            "n",
            "TEXT",
            [
                n(),
                text("12345678901234567890123456789012345678901234.5678901234"),
                text("NaN"),
                text("-0.000000000000000000000000000000000000001"),
            ],
        ),
        // numeric(10,2): a NUMERIC column; SQLite keeps the number, not the scale
        col(
            "n_small",
            "NUMERIC",
            [n(), real(12_345_678.9), real(-0.01), int(0)],
        ),
        col(
            "t",
            "TEXT",
            [
                n(),
                text(""),
                text("line1\nline2 with 'quotes' and \"dq\" and tab\tand unicode ✓ é 漢字"),
                text(" padded "),
            ],
        ),
        col("vc", "TEXT", [n(), text(""), text("x"), text("ten chars!")]),
        // char(n) keeps its padding
        col(
            "ch",
            "TEXT",
            [n(), text("ab   "), text("a    "), text("abcde")],
        ),
        col("nm", "TEXT", [n(), text("pg_name"), text(""), text("n")]),
        col("ci", "TEXT", [n(), text("MiXeD"), text(""), text("x")]),
        // an empty bytea is an empty BLOB, not NULL
        col(
            "by",
            "BLOB",
            [
                n(),
                blob(&[0x00, 0xff, 0x00]),
                blob(&[]),
                blob(&[0xde, 0xad, 0xbe, 0xef]),
            ],
        ),
        col(
            "u",
            "TEXT",
            [
                n(),
                text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                text("00000000-0000-0000-0000-000000000000"),
                text("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            ],
        ),
        col(
            "d",
            "TEXT",
            [
                n(),
                text("infinity"),
                text("0044-03-15 BC"),
                text("2024-02-29"),
            ],
        ),
        col(
            "ts",
            "TEXT",
            [
                n(),
                text("infinity"),
                text("0044-03-15 12:00:00 BC"),
                text("2024-02-29 23:59:59.123456"),
            ],
        ),
        // timestamptz in UTC; '2024-06-01 12:00:00.5+02' is 10:00:00.5 UTC
        col(
            "tstz",
            "TEXT",
            [
                n(),
                text("-infinity"),
                text("10000-01-01T00:00:00Z"),
                text("2024-06-01T10:00:00.500000Z"),
            ],
        ),
        col(
            "tm",
            "TEXT",
            [
                n(),
                text("00:00:00"),
                text("12:34:56.000001"),
                text("24:00:00"),
            ],
        ),
        col(
            "tmtz",
            "TEXT",
            [
                n(),
                text("23:59:59.999999+05:30"),
                text("00:00:00-08"),
                text("12:00:00+00"),
            ],
        ),
        col(
            "iv",
            "TEXT",
            [
                n(),
                text("1 year 2 mons 3 days 04:05:06.789"),
                text("-1 days"),
                text("00:00:00.000001"),
            ],
        ),
        // json keeps its text as written (key order, spacing); the JSON value
        // `null` is the text 'null', not SQL NULL
        col(
            "j",
            "TEXT",
            [
                n(),
                text(r#"{"b": 1, "a": [1, 2.50]}"#),
                text("null"),
                text(r#""str""#),
            ],
        ),
        col(
            "jb",
            "TEXT",
            [
                n(),
                text(r#"{"a": [1, 2.50], "b": 1}"#),
                text("[]"),
                text(r#"{"nested": {"k": [true, false, null]}}"#),
            ],
        ),
        col(
            "ai",
            "TEXT",
            [n(), text("[1,null,3]"), text("[]"), text("[-1]")],
        ),
        col(
            "at",
            "TEXT",
            [
                n(),
                text(r#"["a","b c",null,"\"q\""]"#),
                text("[]"),
                text(r#"[""]"#),
            ],
        ),
        col(
            "a2",
            "TEXT",
            [
                n(),
                text("[[1,2],[3,4]]"),
                text("[]"),
                text("[[null,null]]"),
            ],
        ),
        col(
            "af",
            "TEXT",
            [
                n(),
                text(r#"[1.5,"NaN","Infinity","-Infinity"]"#),
                text("[]"),
                text("[-0.0,1e-300]"),
            ],
        ),
        col("e", "TEXT", [n(), text("happy"), text("sad"), text("ok")]),
        // a domain maps as its base type
        col("dom", "INTEGER", [n(), int(7), int(1), int(2_147_483_647)]),
        // PostgreSQL's text output: inet omits a full-length netmask
        col(
            "inet_v",
            "TEXT",
            [
                n(),
                text("192.168.0.1/24"),
                text("::1"),
                text("2001:db8::1"),
            ],
        ),
        col(
            "cidr_v",
            "TEXT",
            [n(), text("10.0.0.0/8"), text("::/0"), text("2001:db8::/32")],
        ),
        col(
            "mac",
            "TEXT",
            [
                n(),
                text("08:00:2b:01:02:03"),
                text("ff:ff:ff:ff:ff:ff"),
                text("00:00:00:00:00:00"),
            ],
        ),
        // lc_monetary of the test server is C.UTF-8
        col(
            "money_v",
            "TEXT",
            [n(), text("$1,234.56"), text("-$0.01"), text("$0.00")],
        ),
        col(
            "bits",
            "TEXT",
            [n(), text("1010"), text("0000"), text("1111")],
        ),
        col("vbits", "TEXT", [n(), text("101"), text(""), text("1")]),
        col(
            "tsv",
            "TEXT",
            [n(), text("'a' 'cat' 'fat'"), text(""), text("'zebra':1A")],
        ),
        col(
            "rng",
            "TEXT",
            [n(), text("[1,10)"), text("empty"), text("(,)")],
        ),
        col(
            "tsrng",
            "TEXT",
            [
                n(),
                text(r#"["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")"#),
                text("empty"),
                text("(,)"),
            ],
        ),
        // xml as PostgreSQL prints it (its output drops the default declaration)
        col(
            "x",
            "TEXT",
            [n(), text("<a>x</a>"), text("<r/>"), text("<x/>")],
        ),
        col(
            "pt",
            "TEXT",
            [
                n(),
                text("(1.5,2)"),
                text("(0,0)"),
                text("(-1e+300,1e-300)"),
            ],
        ),
        col(
            "bx",
            "TEXT",
            [
                n(),
                text("(1,1),(0,0)"),
                text("(1,1),(1,1)"),
                text("(1,1),(-1,-1)"),
            ],
        ),
        col(
            "circ",
            "TEXT",
            [
                n(),
                text("<(0,0),2>"),
                text("<(1,1),0>"),
                text("<(0,0),0.5>"),
            ],
        ),
    ]
}

pub fn edge_values_expected() -> Vec<Column> {
    let n = null;
    let every_byte: Vec<u8> = (0..=255).collect();
    vec![
        col("id", "INTEGER", [int(1), int(2), int(3), int(4)]),
        col(
            "d",
            "TEXT",
            [
                text("-infinity"),
                text("4713-01-01 BC"),
                text("10000-01-01"),
                n(),
            ],
        ),
        col(
            "ts",
            "TEXT",
            [
                text("-infinity"),
                text("294276-12-31 23:59:59.999999"),
                text("1999-12-31 23:59:59.999999"),
                n(),
            ],
        ),
        // '2024-12-31 23:30:00.000001-02' is 01:30 UTC the next day, next year
        col(
            "tstz",
            "TEXT",
            [
                text("infinity"),
                text("0044-03-15T12:00:00Z BC"),
                text("2025-01-01T01:30:00.000001Z"),
                n(),
            ],
        ),
        col(
            "n",
            "TEXT",
            [
                text("Infinity"),
                text("-Infinity"),
                text("100.000"),
                text("0.00000000000000000001"),
            ],
        ),
        // numeric(15,2): 15 digits still fit a NUMERIC column exactly
        col(
            "n15",
            "NUMERIC",
            [
                real(1_234_567_890_123.45),
                real(0.1),
                real(-9_999_999_999_999.99),
                text("NaN"),
            ],
        ),
        // numeric(16,2): one digit more goes to a TEXT column
        col(
            "n16",
            "TEXT",
            [text("12345678901234.56"), text("-0.01"), text("NaN"), n()],
        ),
        col("n_int", "NUMERIC", [int(12345), int(-99999), int(0), n()]),
        // real values widened to double: exact, so 1.1::real is 1.100000023841858
        col(
            "f4",
            "REAL",
            [
                real(-0.0),
                real(1.100_000_023_841_858),
                real(1.401_298_464_324_817e-45),
                n(),
            ],
        ),
        col(
            "f8",
            "REAL",
            [real(1e-320), real(-1e308), real(-1.5e-300), n()],
        ),
        col("by", "BLOB", [blob(&every_byte), n(), blob(&[0]), n()]),
        col(
            "t",
            "TEXT",
            [text("😀 ok"), text("tab\there\r\n"), text("a\\b"), n()],
        ),
        col(
            "jb",
            "TEXT",
            [
                text(r#"{"a": "é", "b": [1.0, 2], "c": "line\nbreak"}"#),
                text("[]"),
                text(r#"{"k": "\"q\" \\"}"#),
                n(),
            ],
        ),
        // JSON arrays have no lower bound: the elements are kept, the bound is
        // reported as loss
        col(
            "a_lb",
            "TEXT",
            [text("[1,2]"), text("[[1,2],[3,4]]"), n(), n()],
        ),
        col(
            "a_uuid",
            "TEXT",
            [
                text(r#"["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",null]"#),
                n(),
                n(),
                n(),
            ],
        ),
        col(
            "a_date",
            "TEXT",
            [
                text(r#"["2024-01-01","infinity","0044-03-15 BC"]"#),
                n(),
                n(),
                n(),
            ],
        ),
        col(
            "a_tstz",
            "TEXT",
            [
                text(r#"["2023-12-31T22:00:00Z","-infinity"]"#),
                n(),
                n(),
                n(),
            ],
        ),
        col("a_bool", "TEXT", [text("[true,false,null]"), n(), n(), n()]),
        col(
            "a_num",
            "TEXT",
            [text(r#"[1.50,"NaN",-0.001,"-Infinity"]"#), n(), n(), n()],
        ),
        col(
            "a_bytea",
            "TEXT",
            [text(r#"["\\x00ff","\\x"]"#), n(), n(), n()],
        ),
        col(
            "a_jsonb",
            "TEXT",
            [text(r#"[{"a": 1},null]"#), n(), n(), n()],
        ),
        col(
            "a_inet",
            "TEXT",
            [text(r#"["::1","10.0.0.1/8"]"#), n(), n(), n()],
        ),
        col(
            "a_mood",
            "TEXT",
            [text(r#"["sad","happy"]"#), n(), n(), n()],
        ),
        col("a_f4", "TEXT", [text("[1.1,-0.0]"), n(), n(), n()]),
        col("ch1", "TEXT", [text("a"), n(), n(), n()]),
        col(
            "mrng",
            "TEXT",
            [text("{[1,3),[5,7)}"), text("{}"), n(), n()],
        ),
        // an extension type: its own text output
        col(
            "hs",
            "TEXT",
            [text(r#""a"=>"1", "b"=>NULL, "c d"=>"""#), n(), n(), n()],
        ),
    ]
}
