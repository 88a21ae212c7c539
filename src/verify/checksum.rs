//! Row and bucket checksums, computed the same way on both sides.
//!
//! A row's hash is PostgreSQL's own `hash_record_extended(ROW(…), 0)` over its
//! fields (see `verify::fields`), each hashed with Bob Jenkins' lookup3 as
//! PostgreSQL does ([`pg_hash_bytes`], [`pg_hash_u32`]); a table's checksum is
//! the count and the sum of the row hashes (mod 2^64) per bucket, where a row's
//! bucket is the first 2 bytes of `md5(key text)`, the key as PostgreSQL prints
//! a record (`(1,"a b")`). Sums are order-independent, so chunks read in
//! parallel add up, and buckets by key hash line up on both sides whatever the
//! key type or collation.
//!
//! Why lookup3 and not md5: the server hashes every row of every table in the
//! first look, and on a 2-core machine that CPU is taken from the copy. md5 cost
//! a third of the server's checksum time (0.91 s against 0.65 s per 200,000
//! rows of the wide benchmark table); lookup3 is PostgreSQL's fastest built-in
//! 64-bit hash and is just as able to tell a changed row apart (a difference
//! escapes with probability 2^-64 per table).

use std::collections::BTreeMap;

use md5::{Digest, Md5};

/// A row (or key) as PostgreSQL's `ROW(…)::text` prints it: `(1,,"a b","")` —
/// NULL is empty, and a value is quoted when empty or when it holds `"`, `\`,
/// `(`, `)`, `,` or white space, with `"` and `\` doubled. No two rows of
/// values share a text.
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

/// The bytes that make `record_out` quote a field (every one is ASCII).
const QUOTED: [bool; 256] = {
    let mut t = [false; 256];
    let special = *b"\"\\(), \t\n\r\x0b\x0c";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
};

fn push_record_field(out: &mut String, v: &str) {
    if !v.is_empty() && !v.bytes().any(|b| QUOTED[usize::from(b)]) {
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

/// How a row's fields are hashed on our side.
///
/// A sum compared with one the server computes must hash as the server does
/// (lookup3). Where both halves are computed here — a full sync's first look,
/// PostgreSQL's half hashed from the COPY's rows (`verify::wire`) — any hash
/// that tells values apart as well will do, and XXH3 costs a fraction of
/// lookup3 on long values: lookup3 was the largest single function of a
/// verified sync's own CPU (6 % on the 1M-row wide table). A part whose
/// halves disagree is hashed again in lookup3 before the server is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowHasher {
    /// PostgreSQL's lookup3 ([`pg_hash_bytes`], [`pg_hash_u32`]).
    Postgres,
    /// XXH3-64, for sums that never meet the server's.
    Local,
}

impl RowHasher {
    /// The hash of a value's bytes.
    pub fn bytes(self, k: &[u8]) -> u64 {
        match self {
            RowHasher::Postgres => pg_hash_bytes(k),
            RowHasher::Local => xxhash_rust::xxh3::xxh3_64(k),
        }
    }

    /// The hash of a value that is one 32-bit word.
    pub fn word(self, k: u32) -> u64 {
        match self {
            RowHasher::Postgres => pg_hash_u32(k),
            RowHasher::Local => xxhash_rust::xxh3::xxh3_64(&k.to_le_bytes()),
        }
    }
}

/// A text whose server-side hash tells whether the server computes
/// [`pg_hash_bytes`] as we do (see `verify::check_server_hash`).
pub const HASH_PROBE: &str = "pg2sqlite: do both sides hash alike? 0123456789";

/// PostgreSQL's `hash_bytes_extended(k, len, 0)` (src/common/hashfn.c) as a
/// little-endian server computes it: `hashtextextended(text, 0)` as an `int8`.
pub fn pg_hash_bytes(k: &[u8]) -> u64 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    fn word(bytes: &[u8]) -> u32 {
        // Little-endian, missing high bytes zero: how the tail is added.
        bytes
            .iter()
            .rev()
            .fold(0u32, |w, &byte| (w << 8) | u32::from(byte))
    }
    // PostgreSQL takes the length as an `int`; a text is at most 1 GB.
    #[allow(clippy::cast_possible_truncation)]
    let len = k.len() as u32;
    let mut a = 0x9e37_79b9u32.wrapping_add(len).wrapping_add(3_923_095);
    let (mut b, mut c) = (a, a);
    let mut blocks = k.chunks_exact(12);
    // Whole words as the little-endian server loads them; a load each, not a
    // fold over the bytes (this hashes every value of a verified copy twice).
    let load = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    for block in &mut blocks {
        a = a.wrapping_add(load(block, 0));
        b = b.wrapping_add(load(block, 4));
        c = c.wrapping_add(load(block, 8));
        mix(&mut a, &mut b, &mut c);
    }
    let tail = blocks.remainder();
    a = a.wrapping_add(word(&tail[..tail.len().min(4)]));
    if tail.len() > 4 {
        b = b.wrapping_add(word(&tail[4..tail.len().min(8)]));
    }
    if tail.len() > 8 {
        // The lowest byte of c is reserved for the length.
        c = c.wrapping_add(word(&tail[8..]) << 8);
    }
    finish(a, b, c)
}

/// PostgreSQL's `hash_bytes_uint32_extended(k, 0)`: how `int2`, `int4`, `bool`
/// and `date` values hash (`hashint4extended`, `hashcharextended`).
pub fn pg_hash_u32(k: u32) -> u64 {
    let a = 0x9e37_79b9u32.wrapping_add(4).wrapping_add(3_923_095);
    finish(a.wrapping_add(k), a, a)
}

/// PostgreSQL's `hashint8extended(k, 0)`: the high half folded into the low
/// one (so that an `int8` hashes as the `int4` of the same value does), then
/// hashed as [`pg_hash_u32`].
pub fn pg_hash_i64(k: i64) -> u64 {
    let [b0, b1, b2, b3, b4, b5, b6, b7] = k.to_le_bytes();
    let lo = u32::from_le_bytes([b0, b1, b2, b3]);
    let hi = u32::from_le_bytes([b4, b5, b6, b7]);
    pg_hash_u32(lo ^ if k >= 0 { hi } else { !hi })
}

/// lookup3's `final(a, b, c)`, seven steps of `x ^= y; x -= rot(y, k)`, and
/// the 64-bit result PostgreSQL takes from it.
fn finish(a: u32, b: u32, c: u32) -> u64 {
    let mut s = [a, b, c];
    for (x, y, k) in [
        (2, 1, 14),
        (0, 2, 11),
        (1, 0, 25),
        (2, 1, 16),
        (0, 2, 4),
        (1, 0, 14),
        (2, 1, 24),
    ] {
        s[x] ^= s[y];
        s[x] = s[x].wrapping_sub(s[y].rotate_left(k));
    }
    let [_, b, c] = s;
    (u64::from(b) << 32) | u64::from(c)
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
    fn int8_hash_matches_hashint8extended() {
        // SELECT k, hashint8extended(k, 0) on PostgreSQL 15, x86_64. 0 and
        // 2^32 + 1 fold alike, as the server's do.
        for (k, h) in [
            (0, 4_154_612_158_245_552_303),
            (1, -3_670_598_878_359_251_130),
            (-1, -1_888_257_769_727_981_238),
            (50_010, -4_624_438_055_867_789_987),
            (4_294_967_297, 4_154_612_158_245_552_303),
            (-1_099_511_627_776, 6_372_911_805_303_557_281),
            (i64::MAX, 1_977_219_185_673_256_887),
            (i64::MIN, -9_109_110_466_470_504_941),
        ] {
            assert_eq!(i64::from_be_bytes(pg_hash_i64(k).to_be_bytes()), h, "{k}");
        }
    }

    #[test]
    fn md5_matches_postgres() {
        // SELECT md5('1:a') = '1d6f6b4b7f0d6ba0e0a6df8c0a9d4c0e'? computed by PostgreSQL:
        // select md5('hello') -> 5d41402abc4b2a76b9719d911017c592
        let d = md5("hello");
        assert_eq!(bucket_hex(bucket(&d)), "5d41");
    }

    #[test]
    fn text_hash_matches_hashtextextended() {
        let text_hash = |t: &str| pg_hash_bytes(t.as_bytes());
        // SELECT hashtextextended(t, 0) on PostgreSQL 15, x86_64: every tail
        // length, an exact number of 12-byte blocks, and multi-byte UTF-8.
        #[allow(clippy::cast_sign_loss)]
        let pg = |v: i64| v as u64;
        assert_eq!(text_hash("hello"), pg(3_449_563_369_152_288_809));
        assert_eq!(text_hash(""), pg(-6_939_563_903_564_495_251));
        assert_eq!(
            text_hash("abcdefghijklmnopqrstuvwxyz0123456789"),
            pg(-9_049_552_497_159_076_100)
        );
        assert_eq!(text_hash("héllo wörld!"), pg(8_457_746_650_430_369_626));
        // Several whole blocks, and a tail.
        assert_eq!(text_hash(HASH_PROBE), pg(3_243_872_707_064_921_763));
        assert_eq!(
            text_hash("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            pg(-7_787_470_666_893_688_682)
        );
        // hashtextextended(left('abcdefghijklmnopqrstuvwxyz', n), 0), n = 1..=25
        let prefixes: [i64; 25] = [
            3591986179850072241,
            2833316173711343549,
            -6747756470228489321,
            -1038429303365892052,
            3076356108696143428,
            290958262752763840,
            -6158032784613548338,
            -8882191227074733005,
            -3278210106038014113,
            -3183301415634409076,
            3112909444737856467,
            -7556637188122330412,
            8871624171452417744,
            4973135103275945525,
            9043359162837317271,
            878954068520307163,
            981995727863167554,
            484589330715449564,
            -232611774418841497,
            772495730612720881,
            7996419909667933074,
            5065299895581918398,
            -1198571854151947912,
            -1933194731779935345,
            5649064133428767341,
        ];
        let alphabet = "abcdefghijklmnopqrstuvwxyz";
        for (n, expected) in prefixes.into_iter().enumerate() {
            assert_eq!(text_hash(&alphabet[..=n]), pg(expected), "length {}", n + 1);
        }
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
