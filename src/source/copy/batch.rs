//! Rows of a binary COPY, a batch at a time, without an allocation per row.
//!
//! tokio-postgres's `BinaryCopyOutStream` gives each row a vector of value
//! ranges, grown one value at a time (three allocations for a 16-column row)
//! and freed again once the row is converted: on the 1M-row wide fixture that
//! was a tenth of our process's CPU during the copy. Here every row's message
//! is appended to one buffer per batch and its values are located by offset
//! in one vector per batch, so a batch of thousands of rows costs two
//! allocations, and its memory is exactly what it holds.
//!
//! The format (PostgreSQL's `COPY … (FORMAT binary)`): a header (signature,
//! flags, extension), then per row a 16-bit field count and per field a 32-bit
//! length (−1: NULL) and that many bytes, then a trailer (a field count of −1).

/// Rows handed on at once at most (to a converter, a file writer).
pub const BATCH_ROWS: usize = 8192;
/// Bytes of raw rows handed on at once at most: rows of large values must not
/// pile up between a reader and its consumers.
pub const BATCH_BYTES: usize = 3 << 19;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// The signature, the flags (32 bits) and the extension's length (32 bits).
const HEADER_LEN: usize = SIGNATURE.len() + 8;
/// The flag bit of a COPY WITH OIDS, which we never ask for.
const HAS_OIDS: u32 = 1 << 16;

/// Where one value lies in its batch's buffer.
#[derive(Debug, Clone, Copy)]
struct ValueAt {
    start: u32,
    /// [`NULL`], or the value's length (PostgreSQL's values are shorter than 1 GiB).
    len: u32,
}

const NULL: u32 = u32::MAX;

/// Rows of one COPY as PostgreSQL sent them.
#[derive(Debug)]
pub struct RawBatch {
    columns: usize,
    rows: usize,
    data: Vec<u8>,
    /// `columns` entries per row, row after row.
    values: Vec<ValueAt>,
}

/// Whether a message ended the COPY.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    Rows,
    Trailer,
}

impl RawBatch {
    pub(super) fn new(columns: usize) -> RawBatch {
        RawBatch {
            columns,
            rows: 0,
            data: Vec::new(),
            values: Vec::new(),
        }
    }

    /// An empty batch with room for as much as `previous` held, and a little
    /// more: grown by doubling, a batch's vectors would leave up to half of
    /// their memory unused.
    pub(super) fn like(previous: &RawBatch) -> RawBatch {
        let more = |n: usize| n + n / 8;
        RawBatch {
            columns: previous.columns,
            rows: 0,
            data: Vec::with_capacity(more(previous.data.len())),
            values: Vec::with_capacity(more(previous.values.len())),
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether the batch should be handed on before it takes another row.
    pub(super) fn is_full(&self) -> bool {
        self.rows >= BATCH_ROWS
            || self.data.len() + self.values.len() * std::mem::size_of::<ValueAt>() >= BATCH_BYTES
    }

    /// The rows' fields as PostgreSQL sent them, row after row: per field a
    /// 32-bit length (−1: NULL) and that many bytes. For readers that must not
    /// depend on this batch's value index (`verify::wire`).
    pub fn fields_as_sent(&self) -> &[u8] {
        &self.data
    }

    /// The raw bytes of `column` in `row` (`None`: NULL). Called for every
    /// value a converter reads: inlined, with its errors out of line.
    #[inline]
    pub fn value(&self, row: usize, column: usize) -> Result<Option<&[u8]>, String> {
        if column >= self.columns || row >= self.rows {
            return Err(self.no_value(row, column));
        }
        let at = self.values[row * self.columns + column];
        if at.len == NULL {
            return Ok(None);
        }
        let start = at.start as usize;
        // Within `data` (checked when the row was parsed); never NULL if not.
        match self.data.get(start..start + at.len as usize) {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(self.no_value(row, column)),
        }
    }

    #[cold]
    fn no_value(&self, row: usize, column: usize) -> String {
        format!(
            "no value at row {row}, column {column} (the batch has {} rows of {} columns)",
            self.rows, self.columns
        )
    }

    /// Appends the rows of one CopyData message. `header` says whether the
    /// COPY's header has been read; the first message starts with it.
    pub(super) fn push_message(&mut self, msg: &[u8], header: &mut bool) -> Result<Parsed, String> {
        let mut at = 0;
        if !*header {
            at = read_header(msg)?;
            *header = true;
        }
        while at < msg.len() {
            let count = read_i16(msg, at).ok_or("a row cut short before its field count")?;
            if count == -1 {
                return Ok(Parsed::Trailer);
            }
            if usize::try_from(count).ok() != Some(self.columns) {
                return Err(format!(
                    "a row of {count} values where {} were asked for",
                    self.columns
                ));
            }
            at = self.push_row(msg, at + 2)?;
        }
        Ok(Parsed::Rows)
    }

    /// Appends the row whose first field starts at `msg[first]`; returns
    /// where the row ends. Nothing is appended if the row is not whole.
    fn push_row(&mut self, msg: &[u8], first: usize) -> Result<usize, String> {
        let values_before = self.values.len();
        match self.locate_values(msg, first) {
            Ok(end) => {
                self.data.extend_from_slice(&msg[first..end]);
                self.rows += 1;
                Ok(end)
            }
            Err(e) => {
                self.values.truncate(values_before);
                Err(e)
            }
        }
    }

    /// Pushes where each value of the row at `msg[first]` will lie once the
    /// row is appended to `data`; returns where the row ends.
    fn locate_values(&mut self, msg: &[u8], first: usize) -> Result<usize, String> {
        let base = self.data.len();
        let mut at = first;
        for _ in 0..self.columns {
            let len = read_i32(msg, at).ok_or("a row cut short before a value's length")?;
            at += 4;
            let start = u32::try_from(base + (at - first))
                .map_err(|_| "a batch beyond 4 GiB".to_owned())?;
            if len == -1 {
                self.values.push(ValueAt { start, len: NULL });
                continue;
            }
            let len = u32::try_from(len)
                .ok()
                .filter(|&l| l != NULL)
                .ok_or_else(|| format!("a value of length {len}"))?;
            let end = at.saturating_add(len as usize);
            if end > msg.len() {
                return Err(format!("a row cut short inside a value of {len} bytes"));
            }
            self.values.push(ValueAt { start, len });
            at = end;
        }
        Ok(at)
    }
}

/// Checks the header at the start of `msg`; returns where the rows start.
fn read_header(msg: &[u8]) -> Result<usize, String> {
    if msg.len() < HEADER_LEN || !msg.starts_with(SIGNATURE) {
        return Err("the header's signature is missing".into());
    }
    let flags = read_u32(msg, SIGNATURE.len()).unwrap_or(0);
    if flags & HAS_OIDS != 0 {
        return Err("rows with OIDs, which were not asked for".into());
    }
    let extension = read_u32(msg, SIGNATURE.len() + 4).unwrap_or(0) as usize;
    let rows = HEADER_LEN.saturating_add(extension);
    if rows > msg.len() {
        return Err("the header is cut short".into());
    }
    Ok(rows)
}

fn read_i16(msg: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(msg.get(at..at + 2)?.try_into().ok()?))
}

fn read_i32(msg: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(msg.get(at..at + 4)?.try_into().ok()?))
}

fn read_u32(msg: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(msg.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut h = SIGNATURE.to_vec();
        h.extend_from_slice(&0u32.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes());
        h
    }

    fn row(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut r = i16::try_from(values.len()).unwrap().to_be_bytes().to_vec();
        for v in values {
            super::super::push_test_value(&mut r, *v);
        }
        r
    }

    #[test]
    fn rows_are_read_across_messages_with_nulls_and_empty_values() {
        let mut batch = RawBatch::new(3);
        let mut seen = false;
        let mut first = header();
        first.extend(row(&[Some(b"a"), None, Some(b"")]));
        assert_eq!(batch.push_message(&first, &mut seen), Ok(Parsed::Rows));
        assert!(seen);
        let mut two = row(&[Some(b"bc"), Some(b"def"), None]);
        two.extend(row(&[None, None, Some(b"g")]));
        assert_eq!(batch.push_message(&two, &mut seen), Ok(Parsed::Rows));
        assert_eq!(
            batch.push_message(&(-1i16).to_be_bytes(), &mut seen),
            Ok(Parsed::Trailer)
        );
        assert_eq!(batch.len(), 3);
        let got: Vec<Vec<Option<&[u8]>>> = (0..3)
            .map(|r| (0..3).map(|c| batch.value(r, c).unwrap()).collect())
            .collect();
        let want: Vec<Vec<Option<&[u8]>>> = vec![
            vec![Some(b"a"), None, Some(b"")],
            vec![Some(b"bc"), Some(b"def"), None],
            vec![None, None, Some(b"g")],
        ];
        assert_eq!(got, want);
        assert!(batch.value(3, 0).is_err() && batch.value(0, 3).is_err());
    }

    #[test]
    fn damaged_data_is_refused_and_leaves_the_batch_as_it_was() {
        let mut seen = false;
        assert!(RawBatch::new(1)
            .push_message(b"PGCOPY\n", &mut seen)
            .is_err());
        let mut oids = header();
        oids[SIGNATURE.len()..SIGNATURE.len() + 4].copy_from_slice(&HAS_OIDS.to_be_bytes());
        assert!(RawBatch::new(1).push_message(&oids, &mut false).is_err());

        let mut batch = RawBatch::new(2);
        let mut seen = false;
        let mut msg = header();
        msg.extend(row(&[Some(b"x"), Some(b"y")]));
        batch.push_message(&msg, &mut seen).unwrap();
        let wrong_count = row(&[Some(b"x")]);
        let e = batch.push_message(&wrong_count, &mut seen).unwrap_err();
        assert!(e.contains("1 values where 2"), "{e}");
        let full = row(&[Some(b"long"), Some(b"value")]);
        for cut in [3, 7, full.len() - 1] {
            let e = batch.push_message(&full[..cut], &mut seen).unwrap_err();
            assert!(e.contains("cut short"), "{cut}: {e}");
        }
        let mut negative = 2i16.to_be_bytes().to_vec();
        negative.extend_from_slice(&(-1i32).to_be_bytes());
        negative.extend_from_slice(&(-2i32).to_be_bytes());
        let e = batch.push_message(&negative, &mut seen).unwrap_err();
        assert!(e.contains("length -2"), "{e}");
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.value(0, 1), Ok(Some(&b"y"[..])));
    }
}
