//! RFC 4180 records, written and read by hand because the reader must know
//! whether a field was quoted: an unquoted empty field is NULL, a quoted one
//! (`""`) the empty string, as in PostgreSQL's own CSV.

use std::io::BufRead;

/// Why a record could not be read.
#[derive(Debug)]
pub enum RecordError {
    Io(std::io::Error),
    /// Not RFC 4180: at `field` (1-based) of the record starting on `line`.
    Malformed {
        line: u64,
        field: usize,
        what: &'static str,
    },
}

impl From<std::io::Error> for RecordError {
    fn from(e: std::io::Error) -> Self {
        RecordError::Io(e)
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Io(e) => write!(f, "{e}"),
            RecordError::Malformed { line, field, what } => {
                write!(f, "line {line}, field {field}: {what}")
            }
        }
    }
}

/// Appends one field: nothing for NULL; quoted when it holds `,` `"` CR or LF,
/// is empty (else it would read back as NULL) or is `\.` (PostgreSQL's
/// end-of-data marker when alone on a line, which it does not take for one
/// when quoted); `"` doubled inside quotes.
pub fn push_field(out: &mut String, field: Option<&str>) {
    let Some(s) = field else { return };
    let needs_quotes =
        s.is_empty() || s == "\\." || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while let Some(at) = rest.find('"') {
        out.push_str(&rest[..=at]);
        out.push('"');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// The fields of one record, kept in one buffer to spare an allocation each.
#[derive(Debug, Default)]
pub struct Fields {
    data: Vec<u8>,
    /// End of each field in `data`, and whether it was quoted.
    ends: Vec<(usize, bool)>,
}

impl Fields {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`'s bytes (quotes removed, `""` undoubled) and whether it was quoted.
    pub fn get(&self, i: usize) -> Option<(&[u8], bool)> {
        let (end, quoted) = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev)?.0,
            None => 0,
        };
        Some((self.data.get(start..end)?, quoted))
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    fn end_field(&mut self, quoted: bool) {
        self.ends.push((self.data.len(), quoted));
    }
}

/// Reads records one at a time, counting physical lines for messages.
pub struct RecordReader<R: BufRead> {
    input: R,
    /// The physical lines of the record being read.
    buf: Vec<u8>,
    /// Physical lines consumed so far.
    lines: u64,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R) -> Self {
        RecordReader {
            input,
            buf: Vec::new(),
            lines: 0,
        }
    }

    /// Reads the next record into `fields`; returns the line it starts on
    /// (1-based), or `None` at the end of the input. An empty line is a record
    /// of one NULL field (a one-column table's NULL), not skipped.
    pub fn next_record(&mut self, fields: &mut Fields) -> Result<Option<u64>, RecordError> {
        self.buf.clear();
        fields.clear();
        if self.input.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        self.lines += 1;
        let line = self.lines;
        let damaged =
            |field: usize, what: &'static str| RecordError::Malformed { line, field, what };
        let mut i = 0;
        loop {
            let field = fields.len() + 1;
            let quoted = self.buf.get(i) == Some(&b'"');
            if quoted {
                i += 1;
                loop {
                    match self.buf[i..].iter().position(|&b| b == b'"') {
                        Some(at) => {
                            fields.data.extend_from_slice(&self.buf[i..i + at]);
                            i += at + 1;
                            if self.buf.get(i) == Some(&b'"') {
                                fields.data.push(b'"');
                                i += 1;
                            } else {
                                break;
                            }
                        }
                        None => {
                            // The newline is part of the field: read on.
                            fields.data.extend_from_slice(&self.buf[i..]);
                            i = self.buf.len();
                            if self.input.read_until(b'\n', &mut self.buf)? == 0 {
                                return Err(damaged(
                                    field,
                                    "quoted field not closed before the end of the file",
                                ));
                            }
                            self.lines += 1;
                        }
                    }
                }
            } else {
                let start = i;
                while self
                    .buf
                    .get(i)
                    .is_some_and(|b| !matches!(b, b',' | b'\n' | b'\r' | b'"'))
                {
                    i += 1;
                }
                fields.data.extend_from_slice(&self.buf[start..i]);
            }
            fields.end_field(quoted);
            match (self.buf.get(i), self.buf.get(i + 1)) {
                (Some(b','), _) => i += 1,
                (None | Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => return Ok(Some(line)),
                (Some(b'"'), _) => return Err(damaged(field, "quote inside an unquoted field")),
                (Some(b'\r'), _) => return Err(damaged(field, "carriage return outside quotes")),
                (Some(_), _) => return Err(damaged(field, "text after the closing quote")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[Option<&str>]) -> String {
        let mut s = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_field(&mut s, *f);
        }
        s.push('\n');
        s
    }

    /// A record's start line and fields.
    type Record = (u64, Vec<Option<String>>);

    fn read_all(text: &str) -> Result<Vec<Record>, RecordError> {
        let mut r = RecordReader::new(text.as_bytes());
        let mut f = Fields::default();
        let mut out = Vec::new();
        while let Some(line) = r.next_record(&mut f)? {
            let fields = (0..f.len())
                .map(|i| {
                    let (b, quoted) = f.get(i).unwrap();
                    (quoted || !b.is_empty()).then(|| String::from_utf8(b.to_vec()).unwrap())
                })
                .collect();
            out.push((line, fields));
        }
        Ok(out)
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(
            line(&[
                None,
                Some(""),
                Some("NULL"),
                Some("a,b"),
                Some("say \"hi\""),
                Some("\\.")
            ]),
            ",\"\",NULL,\"a,b\",\"say \"\"hi\"\"\",\"\\.\"\n"
        );
        assert_eq!(line(&[Some("x\ny"), Some("cr\r")]), "\"x\ny\",\"cr\r\"\n");
        assert_eq!(line(&[None]), "\n");
    }

    #[test]
    fn records_read_back_exactly() {
        let rows: Vec<Vec<Option<&str>>> = vec![
            vec![None, Some(""), Some("NULL"), Some("\"")],
            vec![
                Some("multi\nline\r\n\"quoted\""),
                Some(","),
                Some("é🎉"),
                None,
            ],
            vec![Some("\\."), Some(" spaced "), Some("\r"), Some("\n")],
        ];
        let text: String = rows.iter().map(|r| line(r)).collect();
        let back = read_all(&text).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].0, 1);
        assert_eq!(back[1].0, 2);
        // The second record spans lines 2 to 4.
        assert_eq!(back[2].0, 5);
        for (row, (_, fields)) in rows.iter().zip(&back) {
            let want: Vec<Option<String>> = row.iter().map(|f| f.map(String::from)).collect();
            assert_eq!(&want, fields);
        }
    }

    #[test]
    fn crlf_and_missing_final_newline_are_accepted() {
        let back = read_all("a,\"b\"\r\n,\"\"\r\nlast,x").unwrap();
        let fields: Vec<_> = back.into_iter().map(|(_, f)| f).collect();
        assert_eq!(
            fields,
            vec![
                vec![Some("a".into()), Some("b".into())],
                vec![None, Some(String::new())],
                vec![Some("last".into()), Some("x".into())],
            ]
        );
        // An empty line is one NULL field.
        assert_eq!(read_all("\n").unwrap(), vec![(1, vec![None])]);
    }

    #[test]
    fn malformed_records_name_line_and_field() {
        let e = read_all("a,b\nc,\"open\nstill open\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "line 2, field 2: quoted field not closed before the end of the file"
        );
        let e = read_all("a,b\n\"x\"y,z\n").unwrap_err().to_string();
        assert_eq!(e, "line 2, field 1: text after the closing quote");
        let e = read_all("a,b\"c\n").unwrap_err().to_string();
        assert_eq!(e, "line 1, field 2: quote inside an unquoted field");
        let e = read_all("a\rb\n").unwrap_err().to_string();
        assert_eq!(e, "line 1, field 1: carriage return outside quotes");
    }

    proptest::proptest! {
        /// Any fields, NULL or text of the characters that matter to CSV,
        /// read back as written.
        #[test]
        fn any_records_read_back(
            rows in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::option::of("[a,\"\r\n \\.é]{0,6}"),
                    3,
                ),
                0..20,
            )
        ) {
            let text: String = rows
                .iter()
                .map(|r| line(&r.iter().map(|f| f.as_deref()).collect::<Vec<_>>()))
                .collect();
            let back: Vec<Vec<Option<String>>> =
                read_all(&text).unwrap().into_iter().map(|(_, f)| f).collect();
            proptest::prop_assert_eq!(back, rows);
        }
    }
}
