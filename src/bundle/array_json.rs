//! Arrays as JSON text, the JSON array `decode::write_array_json` writes (as
//! the SQLite mapping stores one), read back into PostgreSQL's binary array:
//! how a CSV file holds every array, and a Parquet file an array column whose
//! values have different numbers of dimensions (a list nests a fixed number).
//!
//! The reader scans the JSON itself rather than through `serde_json::Value`:
//! that would turn a numeric element into an f64 (digits lost), parse floats
//! only approximately by default, and re-serialize json elements (whitespace
//! and key order lost). Only string unescaping goes through serde_json.

use super::csv::text::{self, shown};
use crate::bundle::wire;
use crate::mapping::decode::{self, DecodeError};
use crate::mapping::file_types::FileType;
use crate::mapping::types::ValueKind;

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// Appends an array (binary form) of `element`s as a JSON array. A lower
/// bound other than 1 and the difference between a json element's SQL NULL
/// and JSON `null` are not kept (the module docs of [`super`] say so).
pub fn write_array(out: &mut String, element: &FileType, wire: &[u8]) -> Result<(), DecodeError> {
    decode::write_array_json(out, &element_kind(element)?, wire).map(|_| ())
}

/// The value kind whose JSON element form `write_array_json` writes for a
/// list of `element`s.
fn element_kind(element: &FileType) -> Result<ValueKind, DecodeError> {
    Ok(match element {
        FileType::Bool => ValueKind::Bool,
        FileType::Int16 => ValueKind::Int2,
        FileType::Int32 => ValueKind::Int4,
        FileType::Int64 => ValueKind::Int8,
        FileType::Float32 => ValueKind::Float4,
        FileType::Float64 => ValueKind::Float8,
        FileType::Decimal { .. } | FileType::Numeric => ValueKind::Numeric,
        FileType::Text | FileType::Enum => ValueKind::Text,
        FileType::PgText => ValueKind::TextForm,
        FileType::Json => ValueKind::Json,
        FileType::Jsonb => ValueKind::Jsonb,
        FileType::Bytes => ValueKind::Bytea,
        FileType::Uuid => ValueKind::Uuid,
        FileType::Date => ValueKind::Date,
        FileType::Timestamp => ValueKind::Timestamp,
        FileType::Timestamptz => ValueKind::Timestamptz,
        // Arrays of times and intervals are read as text[] (types::map_array).
        FileType::Time
        | FileType::Interval
        | FileType::Vector
        | FileType::List { .. }
        | FileType::AsText { .. } => {
            return err(format!(
                "arrays of {element:?} elements are not held in CSV"
            ))
        }
    })
}

/// The binary array of `element`s (type `element_oid`) written as `text`.
/// Dimensions come from the nesting, except for json/jsonb elements, which
/// may be JSON arrays themselves: their nesting is `dims` levels.
pub fn parse_array(
    text: &str,
    element: &FileType,
    element_oid: u32,
    dims: u8,
) -> Result<Vec<u8>, DecodeError> {
    element_kind(element)?;
    let json_depth =
        matches!(element, FileType::Json | FileType::Jsonb).then_some(usize::from(dims));
    let mut p = Parser {
        text,
        at: 0,
        element,
        json_depth,
        elements: Vec::new(),
        lengths: Vec::new(),
        leaf_depth: None,
        deepest_list: 0,
    };
    p.skip_ws();
    let outer = p.list(0)?;
    p.skip_ws();
    if p.at != text.len() {
        return err(format!("array: text after the array in {}", shown(text)));
    }
    if outer == 0 {
        return wire::build_array(element_oid, &[], std::iter::empty());
    }
    let Some(leaf_depth) = p.leaf_depth else {
        return err("array: no elements");
    };
    let dims: Vec<usize> = p
        .lengths
        .get(..leaf_depth)
        .and_then(|l| l.iter().copied().collect::<Option<Vec<usize>>>())
        .ok_or_else(|| DecodeError("array: dimensions not found".into()))?;
    wire::build_array(element_oid, &dims, p.elements.iter().map(|e| e.as_deref()))
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    element: &'a FileType,
    /// For json/jsonb elements: the depth at which elements are (raw JSON).
    json_depth: Option<usize>,
    /// Elements in row-major order, as wire values.
    elements: Vec<Option<Vec<u8>>>,
    /// The length of every list at each depth (all equal: arrays are
    /// rectangular), once one list at that depth is closed.
    lengths: Vec<Option<usize>>,
    /// The depth of the elements, once the first is found.
    leaf_depth: Option<usize>,
    /// The deepest list opened so far.
    deepest_list: usize,
}

impl Parser<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The text from `start` to here (both at ASCII bytes, so on char boundaries).
    fn since(&self, start: usize) -> &str {
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self
            .peek()
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, DecodeError> {
        err(format!(
            "array: {what} at character {} of {}",
            self.at + 1,
            shown(self.text)
        ))
    }

    /// A list at `depth` (0: the array itself); returns its length.
    fn list(&mut self, depth: usize) -> Result<usize, DecodeError> {
        if self.peek() != Some(b'[') {
            return self.fail("expected [");
        }
        if self.leaf_depth.is_some_and(|leaf| leaf <= depth) {
            return self.fail("not rectangular");
        }
        self.deepest_list = self.deepest_list.max(depth);
        self.at += 1;
        self.skip_ws();
        let mut len = 0;
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                self.item(depth + 1)?;
                len += 1;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return self.fail("expected , or ]"),
                }
            }
        }
        // PostgreSQL has no empty sub-arrays: only the whole array is `[]`.
        if len == 0 && depth > 0 {
            return self.fail("empty inner array");
        }
        if self.lengths.len() <= depth {
            self.lengths.resize(depth + 1, None);
        }
        match self.lengths[depth] {
            None => self.lengths[depth] = Some(len),
            Some(l) if l == len => {}
            Some(_) => return self.fail("not rectangular"),
        }
        Ok(len)
    }

    /// An item of a list: a nested list or an element at `depth`.
    fn item(&mut self, depth: usize) -> Result<(), DecodeError> {
        let start = self.at;
        self.skip_ws();
        let nested = match self.json_depth {
            Some(json_depth) => depth < json_depth,
            None => self.peek() == Some(b'['),
        };
        if nested {
            self.list(depth)?;
            return Ok(());
        }
        if self.leaf_depth.is_some_and(|leaf| leaf != depth) || self.deepest_list >= depth {
            return self.fail("not rectangular");
        }
        self.leaf_depth = Some(depth);
        let value = if self.json_depth.is_some() {
            // The element's JSON text exactly as written, between the separators.
            self.skip_value()?;
            self.skip_ws();
            // `null` reads back as JSON null: a SQL NULL element was written
            // the same, and the export counted it as lost (`JsonArrayNull`).
            let raw = self.since(start);
            if matches!(self.element, FileType::Jsonb) {
                let mut v = Vec::with_capacity(1 + raw.len());
                v.push(1);
                v.extend_from_slice(raw.as_bytes());
                Some(v)
            } else {
                Some(raw.as_bytes().to_vec())
            }
        } else {
            self.scalar()?
        };
        self.elements.push(value);
        Ok(())
    }

    /// An element of a non-JSON type: a string or a bare token.
    fn scalar(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            self.skip_string()?;
            let s: String = serde_json::from_str(self.since(start))
                .map_or_else(|e| self.fail(&format!("bad string ({e})")), Ok)?;
            let special = matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity");
            return match self.element {
                FileType::Float32
                | FileType::Float64
                | FileType::Decimal { .. }
                | FileType::Numeric
                    if special =>
                {
                    text::parse_value(self.element, &s).map(Some)
                }
                FileType::Text
                | FileType::Enum
                | FileType::PgText
                | FileType::Bytes
                | FileType::Uuid
                | FileType::Date
                | FileType::Timestamp
                | FileType::Timestamptz => text::parse_value(self.element, &s).map(Some),
                _ => self.fail(&format!("a string where a {:?} belongs", self.element)),
            };
        }
        self.skip_bare();
        let token = self.since(start);
        match (self.element, token) {
            (_, "") => self.fail("expected a value"),
            (_, "null") => Ok(None),
            (FileType::Bool, "true") => Ok(Some(vec![1])),
            (FileType::Bool, "false") => Ok(Some(vec![0])),
            (
                FileType::Int16
                | FileType::Int32
                | FileType::Int64
                | FileType::Float32
                | FileType::Float64
                | FileType::Decimal { .. }
                | FileType::Numeric,
                t,
            ) if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                text::parse_value(self.element, t).map(Some)
            }
            _ => self.fail(&format!("{} is not a {:?}", shown(token), self.element)),
        }
    }

    /// Past a number, `true`, `false` or `null`.
    fn skip_bare(&mut self) {
        while self
            .peek()
            .is_some_and(|b| !matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    /// Past a string, from its opening quote.
    fn skip_string(&mut self) -> Result<(), DecodeError> {
        self.at += 1;
        loop {
            match self.peek() {
                None => return self.fail("string not closed"),
                Some(b'\\') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// Past any JSON value (objects and arrays by bracket depth).
    fn skip_value(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'[' | b'{') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        None => return self.fail("JSON value not closed"),
                        Some(b'"') => self.skip_string()?,
                        Some(b'[' | b'{') => {
                            depth += 1;
                            self.at += 1;
                        }
                        Some(b']' | b'}') => {
                            self.at += 1;
                            depth -= 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        Some(_) => self.at += 1,
                    }
                }
            }
            _ => {
                let start = self.at;
                self.skip_bare();
                if self.at == start {
                    return self.fail("expected a value");
                }
                Ok(())
            }
        }
    }
}
