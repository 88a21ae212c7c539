//! Our JSON arrays back to PostgreSQL's array text (or, for float arrays, to
//! the hex of the binary form `pg_expression` computes): a strict parser of
//! exactly what `decode::write_array_json` writes, and `array_out`'s quoting.

use super::{float_bytes, hex, timestamp_to_pg};
use crate::mapping::types::ValueKind;

/// A JSON value as written by `decode::write_array_json`, with raw spans.
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    /// A number's text, exactly as written.
    Number(&'a str),
    String(String),
    Array(Vec<Json<'a>>),
    /// An object: no array the mapping writes this way holds one (json and
    /// jsonb arrays compare as their JSON text, see `pg_expression`).
    Object,
}

pub(super) struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `s`.
    pub(super) fn new(s: &'a str) -> Parser<'a> {
        Parser { s, i: 0 }
    }

    /// Whether only white space is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }
    pub(super) fn value(&mut self) -> Option<Json<'a>> {
        self.ws();
        match self.peek()? {
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(Json::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(Json::String),
            b'{' => {
                self.skip_raw()?;
                Some(Json::Object)
            }
            b't' if self.s[self.i..].starts_with("true") => {
                self.i += 4;
                Some(Json::Bool(true))
            }
            b'f' if self.s[self.i..].starts_with("false") => {
                self.i += 5;
                Some(Json::Bool(false))
            }
            b'n' if self.s[self.i..].starts_with("null") => {
                self.i += 4;
                Some(Json::Null)
            }
            _ => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                (self.i > start).then(|| Json::Number(&self.s[start..self.i]))
            }
        }
    }
    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = self.s[self.i..].chars().next()?;
            self.i += c.len_utf8();
            match c {
                '"' => return Some(out),
                '\\' => {
                    let e = self.s[self.i..].chars().next()?;
                    self.i += 1;
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => {
                            let code =
                                u32::from_str_radix(self.s.get(self.i..self.i + 4)?, 16).ok()?;
                            self.i += 4;
                            out.push(char::from_u32(code)?);
                        }
                        _ => return None,
                    }
                }
                c => out.push(c),
            }
        }
    }
    /// Skips a nested object or array, honouring strings.
    fn skip_raw(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.i += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
    }
}

/// Our JSON array back to PostgreSQL's array text (`{1,NULL,"a b"}`), or for
/// float arrays to the hex of the binary form `pg_expression` computes.
pub(super) fn json_array_to_pg(json: &str, element: &ValueKind) -> Option<String> {
    let mut p = Parser::new(json);
    let v = p.value()?;
    if !p.at_end() {
        return None;
    }
    if matches!(element, ValueKind::Float4 | ValueKind::Float8) {
        return float_array_canonical(&v, matches!(element, ValueKind::Float4));
    }
    let mut out = String::new();
    match &v {
        Json::Array(items) if items.is_empty() => out.push_str("{}"),
        Json::Array(_) => write_pg_array(&mut out, &v, element)?,
        _ => return None,
    }
    Some(out)
}

/// PostgreSQL's `array_send` of the float array, with every lower bound 1 and
/// the null flag and element type zeroed, as `pg_expression` computes it.
fn float_array_canonical(v: &Json<'_>, single: bool) -> Option<String> {
    // Lengths of the dimensions: follow the first element down; every sub-array
    // of a PostgreSQL array has the same shape.
    let mut lengths = Vec::new();
    let mut level = v;
    while let Json::Array(items) = level {
        if items.is_empty() {
            break;
        }
        lengths.push(u32::try_from(items.len()).ok()?);
        level = &items[0];
    }
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&u32::try_from(lengths.len()).ok()?.to_be_bytes());
    bytes.extend_from_slice(&[0; 8]);
    for length in lengths {
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&1u32.to_be_bytes());
    }
    flatten_floats(v, single, &mut bytes)?;
    Some(hex(&bytes))
}

fn flatten_floats(v: &Json<'_>, single: bool, out: &mut Vec<u8>) -> Option<()> {
    let f = match v {
        Json::Array(items) => {
            for item in items {
                flatten_floats(item, single, out)?;
            }
            return Some(());
        }
        Json::Null => {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Some(());
        }
        // A float4 element was written with float4's shortest digits: read it as one.
        Json::Number(n) if single => f64::from(n.parse::<f32>().ok()?),
        Json::Number(n) => n.parse().ok()?,
        Json::String(s) => match s.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => return None,
        },
        _ => return None,
    };
    let bits = float_bytes(f, single)?;
    out.extend_from_slice(&u32::try_from(bits.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&bits);
    Some(())
}

fn write_pg_array(out: &mut String, v: &Json<'_>, element: &ValueKind) -> Option<()> {
    let Json::Array(items) = v else { return None };
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Json::Array(_) => write_pg_array(out, item, element)?,
            Json::Null => out.push_str("NULL"),
            other => push_array_element(out, &element_text(other, element)?),
        }
    }
    out.push('}');
    Some(())
}

fn element_text(v: &Json<'_>, element: &ValueKind) -> Option<String> {
    Some(match (element, v) {
        (ValueKind::Bool, Json::Bool(b)) => if *b { "t" } else { "f" }.to_owned(),
        (ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8, Json::Number(n)) => (*n).to_owned(),
        (ValueKind::Numeric, Json::Number(n)) => (*n).to_owned(),
        (ValueKind::Numeric, Json::String(s)) => s.clone(),
        (ValueKind::Timestamp, Json::String(s)) => timestamp_to_pg(s, false)?,
        (ValueKind::Timestamptz, Json::String(s)) => timestamp_to_pg(s, true)?,
        (
            ValueKind::Text
            | ValueKind::PaddedText
            | ValueKind::TextForm
            | ValueKind::Uuid
            | ValueKind::Date
            | ValueKind::Bytea,
            Json::String(s),
        ) => s.clone(),
        _ => return None,
    })
}

/// `array_out`'s quoting: quote empty strings, `NULL`, and anything with
/// braces, quotes, backslashes, commas or white space.
pub(crate) fn push_array_element(out: &mut String, s: &str) {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| {
            matches!(
                c,
                '{' | '}' | '"' | '\\' | ',' | ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}'
            )
        });
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}
