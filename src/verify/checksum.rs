//! Row and bucket checksums, computed the same way on both sides.
//!
//! A row's text is the canonical text of each column, length-prefixed
//! (`5:hello`, `N` for NULL) so no two rows share a text. Its hash is the first
//! 8 bytes of `md5(row text)`; a table's checksum is the count and the sum of the
//! hashes (mod 2^64) per bucket, where a row's bucket is the first 2 bytes of
//! `md5(key text)`. Sums are order-independent, so chunks read in parallel add up,
//! and buckets by key hash line up on both sides whatever the key type or
//! collation.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// Appends one value to a row (or key) text.
pub fn push_value(out: &mut String, v: Option<&str>) {
    match v {
        None => out.push('N'),
        Some(s) => {
            out.push_str(&s.len().to_string());
            out.push(':');
            out.push_str(s);
        }
    }
}

/// The same encoding as a PostgreSQL expression over already-canonical columns.
pub fn pg_text_expr(columns: &[String]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!("CASE WHEN {c} IS NULL THEN 'N' ELSE octet_length({c})::text || ':' || {c} END")
        })
        .collect();
    if parts.is_empty() {
        "''".into()
    } else {
        format!("concat({})", parts.join(", "))
    }
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
    fn row_text_is_unambiguous() {
        let mut a = String::new();
        push_value(&mut a, Some("ab"));
        push_value(&mut a, Some("c"));
        let mut b = String::new();
        push_value(&mut b, Some("a"));
        push_value(&mut b, Some("bc"));
        assert_ne!(a, b);
        let mut n = String::new();
        push_value(&mut n, None);
        push_value(&mut n, Some(""));
        assert_eq!(n, "N0:");
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
