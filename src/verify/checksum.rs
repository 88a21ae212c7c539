//! Row and bucket checksums, computed the same way on both sides.
//!
//! A row's text is its canonical values as PostgreSQL prints a record,
//! `(1,,"a b")`, so no two rows share a text. Its hash is the first
//! 8 bytes of `md5(row text)`; a table's checksum is the count and the sum of the
//! hashes (mod 2^64) per bucket, where a row's bucket is the first 2 bytes of
//! `md5(key text)`. Sums are order-independent, so chunks read in parallel add up,
//! and buckets by key hash line up on both sides whatever the key type or
//! collation.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// A row (or key) as PostgreSQL's `ROW(…)::text` prints it: `(1,,"a b","")` —
/// NULL is empty, and a value is quoted when empty or when it holds `"`, `\`,
/// `(`, `)`, `,` or white space, with `"` and `\` doubled. Using the record's own
/// output lets PostgreSQL hash a row with each expression evaluated once.
pub fn record_text<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut out = String::from("(");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(v) = v {
            push_record_field(&mut out, v);
        }
    }
    out.push(')');
    out
}

pub fn push_record_field(out: &mut String, v: &str) {
    // Byte-wise: every character that matters is ASCII (this is a hot loop).
    let special = |b: u8| {
        matches!(
            b,
            b'"' | b'\\' | b'(' | b')' | b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
        )
    };
    if !v.is_empty() && !v.bytes().any(special) {
        out.push_str(v);
        return;
    }
    out.push('"');
    let mut start = 0;
    for (i, b) in v.bytes().enumerate() {
        if b == b'"' || b == b'\\' {
            // Push up to and including it; the next segment starts with it again.
            out.push_str(&v[start..=i]);
            start = i;
        }
    }
    out.push_str(&v[start..]);
    out.push('"');
}

/// The same text as a PostgreSQL expression over canonical expressions.
pub fn pg_record_expr(expressions: &[String]) -> String {
    format!("ROW({})::text", expressions.join(", "))
}

pub fn md5(text: &str) -> [u8; 16] {
    Md5::digest(text.as_bytes()).into()
}

/// First 8 bytes of the md5, as PostgreSQL's `('x' || substr(md5, 1, 16))::bit(64)::int8`.
pub fn row_hash(digest: &[u8; 16]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

/// First 2 bytes of the md5, as PostgreSQL's `substr(md5, 1, 4)`.
pub fn bucket(digest: &[u8; 16]) -> u16 {
    u16::from_be_bytes([digest[0], digest[1]])
}

pub fn bucket_hex(b: u16) -> String {
    format!("{b:04x}")
}

/// Per-bucket row count and hash sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets(pub BTreeMap<u16, (u64, u64)>);

impl Buckets {
    pub fn add(&mut self, bucket: u16, count: u64, sum: u64) {
        let e = self.0.entry(bucket).or_insert((0, 0));
        e.0 += count;
        e.1 = e.1.wrapping_add(sum);
    }

    pub fn merge(&mut self, other: &Buckets) {
        for (b, (c, s)) in &other.0 {
            self.add(*b, *c, *s);
        }
    }

    pub fn rows(&self) -> u64 {
        self.0.values().map(|(c, _)| c).sum()
    }

    /// Buckets whose count or sum differ.
    pub fn differing(&self, other: &Buckets) -> Vec<u16> {
        let mut keys: Vec<u16> = self.0.keys().chain(other.0.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .filter(|k| self.0.get(k) != other.0.get(k))
            .collect()
    }
}

/// A PostgreSQL `sum(int8)` (numeric text) reduced mod 2^64.
pub fn parse_pg_sum(s: &str) -> Option<u64> {
    let v: i128 = s.parse().ok()?;
    let m = v.rem_euclid(1i128 << 64);
    u64::try_from(m).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_matches_postgres() {
        // SELECT ROW(1::text, NULL::text, 'a b', '', 'q"\\z', '(x)', 'a,b', 'plain')::text
        assert_eq!(
            record_text([
                Some("1"),
                None,
                Some("a b"),
                Some(""),
                Some("q\"\\z"),
                Some("(x)"),
                Some("a,b"),
                Some("plain")
            ]),
            r#"(1,,"a b","","q""\\z","(x)","a,b",plain)"#
        );
        assert_ne!(
            record_text([Some("a,b")]),
            record_text([Some("a"), Some("b")])
        );
        assert_ne!(record_text([None]), record_text([Some("")]));
    }

    #[test]
    fn md5_matches_postgres() {
        // SELECT md5('1:a') = '1d6f6b4b7f0d6ba0e0a6df8c0a9d4c0e'? computed by PostgreSQL:
        // select md5('hello') -> 5d41402abc4b2a76b9719d911017c592
        let d = md5("hello");
        assert_eq!(bucket_hex(bucket(&d)), "5d41");
        assert_eq!(row_hash(&d), 0x5d41_402a_bc4b_2a76);
    }

    #[test]
    fn sums_wrap_like_postgres_mod() {
        assert_eq!(parse_pg_sum("-1"), Some(u64::MAX));
        assert_eq!(parse_pg_sum("18446744073709551617"), Some(1));
        let mut b = Buckets::default();
        b.add(1, 1, u64::MAX);
        b.add(1, 1, 2);
        assert_eq!(b.0[&1], (2, 1));
    }
}
