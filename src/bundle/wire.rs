//! PostgreSQL's binary wire forms, built back from the values a bundle file
//! holds: the inverse of `mapping::decode` where a file type needs more than a
//! byte order (numeric, arrays), and PostgreSQL's text output of an interval
//! for a plan that stores it as text.

use std::fmt::Write;

use crate::mapping::decode::{self, DecodeError};

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// A `numeric` binary value from exact decimal text (`-12.340`, `1e5` is not
/// accepted: files hold PostgreSQL's own form), `NaN`, `Infinity`, `-Infinity`.
/// The scale is the number of digits after the point, as PostgreSQL keeps it.
pub fn numeric_from_text(text: &str) -> Result<Vec<u8>, DecodeError> {
    let special = |sign: u16| {
        let mut out = Vec::with_capacity(8);
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out
    };
    match text {
        "NaN" => return Ok(special(NUMERIC_NAN)),
        "Infinity" => return Ok(special(NUMERIC_PINF)),
        "-Infinity" => return Ok(special(NUMERIC_NINF)),
        _ => {}
    }
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
    {
        return err(format!("numeric: {text:?} is not a decimal number"));
    }
    let dscale =
        u16::try_from(frac_part.len()).map_or_else(|_| err("numeric: scale too large"), Ok)?;
    // Pad the integer part on the left and the fraction on the right to whole
    // groups of four digits, so groups align on the decimal point.
    let int_trimmed = int_part.trim_start_matches('0');
    let int_pad = (4 - int_trimmed.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let mut all = String::with_capacity(int_pad + int_trimmed.len() + frac_part.len() + frac_pad);
    all.extend(std::iter::repeat_n('0', int_pad));
    all.push_str(int_trimmed);
    all.push_str(frac_part);
    all.extend(std::iter::repeat_n('0', frac_pad));
    let int_groups = (int_pad + int_trimmed.len()) / 4;
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|g| g.iter().fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0')))
        .collect();
    // weight: the power of 10000 of the first group.
    let mut weight = i64::try_from(int_groups).unwrap_or(i64::MAX) - 1;
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= i64::try_from(leading).unwrap_or(0);
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let weight = i16::try_from(weight).map_or_else(|_| err("numeric: out of range"), Ok)?;
    let ndigits =
        u16::try_from(groups.len()).map_or_else(|_| err("numeric: too many digits"), Ok)?;
    let sign = if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(out)
}

/// A `numeric(p,s)` binary value as the unscaled integer of a DECIMAL with
/// `scale` digits after the point (`12.34` at scale 2 → 1234). Fails for NaN,
/// infinities and values with more fraction digits than `scale`.
pub fn numeric_to_unscaled(buf: &[u8], scale: u8) -> Result<i128, DecodeError> {
    let mut text = String::new();
    decode::write_numeric(&mut text, buf)?;
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || int_part.is_empty() {
        return err(format!("numeric {text} does not fit a DECIMAL"));
    }
    let frac = frac_part.trim_end_matches('0');
    if frac.len() > usize::from(scale) {
        return err(format!(
            "numeric {text} has more than {scale} digits after the point"
        ));
    }
    let mut v: i128 = 0;
    let overflow = || DecodeError(format!("numeric {text} does not fit a 38-digit DECIMAL"));
    for b in int_part
        .bytes()
        .chain(frac.bytes())
        .chain(std::iter::repeat_n(b'0', usize::from(scale) - frac.len()))
    {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    Ok(if negative { -v } else { v })
}

/// The `numeric` binary value of a DECIMAL's unscaled integer at `scale`, with
/// that scale (as PostgreSQL keeps it for a `numeric(p,s)` column).
pub fn numeric_from_unscaled(v: i128, scale: u8) -> Result<Vec<u8>, DecodeError> {
    let digits = v.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let mut text = String::with_capacity(padded.len() + 2);
    if v < 0 {
        text.push('-');
    }
    text.push_str(int_part);
    if scale > 0 {
        text.push('.');
        text.push_str(frac_part);
    }
    numeric_from_text(&text)
}

/// A PostgreSQL array in binary form, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayParts<'a> {
    pub element_oid: u32,
    /// Length of each dimension, outermost first; empty for an empty array.
    pub dims: Vec<usize>,
    /// Whether a dimension starts at another index than 1 (lists have none).
    pub other_lower_bound: bool,
    /// Elements in row-major order.
    pub elements: Vec<Option<&'a [u8]>>,
}

/// Takes a binary array apart.
pub fn parse_array(buf: &[u8]) -> Result<ArrayParts<'_>, DecodeError> {
    use fallible_iterator::FallibleIterator;
    let array = postgres_protocol::types::array_from_sql(buf)
        .map_or_else(|e| err(format!("array: {e}")), Ok)?;
    let mut dims = Vec::new();
    let mut other_lower_bound = false;
    let mut it = array.dimensions();
    while let Some(d) = it.next().map_or_else(|e| err(format!("array: {e}")), Ok)? {
        other_lower_bound |= d.lower_bound != 1;
        dims.push(usize::try_from(d.len).map_or_else(|_| err("array: negative dimension"), Ok)?);
    }
    let elements: Vec<Option<&[u8]>> = array
        .values()
        .collect()
        .map_or_else(|e| err(format!("array: {e}")), Ok)?;
    let expected: usize = if dims.is_empty() {
        0
    } else {
        dims.iter().product()
    };
    if elements.len() != expected {
        return err(format!(
            "array: {} elements for dimensions {dims:?}",
            elements.len()
        ));
    }
    Ok(ArrayParts {
        element_oid: array.element_type(),
        dims,
        other_lower_bound,
        elements,
    })
}

/// Whether a binary array has a dimension that starts at another index than 1,
/// read from its header alone (the elements are not looked at).
pub fn other_lower_bound(buf: &[u8]) -> Result<bool, DecodeError> {
    let word = |at: usize| -> Result<i32, DecodeError> {
        buf.get(at..at + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(i32::from_be_bytes)
            .ok_or_else(|| DecodeError("array: header too short".into()))
    };
    let ndim = usize::try_from(word(0)?).map_or_else(|_| err("array: negative dimensions"), Ok)?;
    // ndim, has-nulls flag, element oid, then (length, lower bound) per dimension.
    for d in 0..ndim {
        if word(12 + 8 * d + 4)? != 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A binary array of `elements` (row-major) with dimensions `dims` (outermost
/// first, every lower bound 1); no dimensions for an empty array.
pub fn build_array<'e>(
    element_oid: u32,
    dims: &[usize],
    elements: impl IntoIterator<Item = Option<&'e [u8]>>,
) -> Result<Vec<u8>, DecodeError> {
    let ndim = i32::try_from(dims.len()).map_or_else(|_| err("array: too many dimensions"), Ok)?;
    let mut head = Vec::with_capacity(12 + 8 * dims.len());
    let mut body = Vec::new();
    let mut has_nulls = false;
    let mut count = 0usize;
    for e in elements {
        count += 1;
        match e {
            None => {
                has_nulls = true;
                body.extend_from_slice(&(-1i32).to_be_bytes());
            }
            Some(v) => {
                let len =
                    i32::try_from(v.len()).map_or_else(|_| err("array: element too long"), Ok)?;
                body.extend_from_slice(&len.to_be_bytes());
                body.extend_from_slice(v);
            }
        }
    }
    let expected: usize = if dims.is_empty() {
        0
    } else {
        dims.iter().product()
    };
    if count != expected {
        return err(format!("array: {count} elements for dimensions {dims:?}"));
    }
    head.extend_from_slice(&ndim.to_be_bytes());
    head.extend_from_slice(&i32::from(has_nulls).to_be_bytes());
    head.extend_from_slice(&element_oid.to_be_bytes());
    for &d in dims {
        let len = i32::try_from(d).map_or_else(|_| err("array: dimension too long"), Ok)?;
        head.extend_from_slice(&len.to_be_bytes());
        head.extend_from_slice(&1i32.to_be_bytes());
    }
    head.extend_from_slice(&body);
    Ok(head)
}

/// An `interval` binary value from its three fields.
pub fn interval(micros: i64, days: i32, months: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&micros.to_be_bytes());
    out.extend_from_slice(&days.to_be_bytes());
    out.extend_from_slice(&months.to_be_bytes());
    out
}

/// An `interval` binary value's three fields: (microseconds, days, months).
pub fn interval_fields(buf: &[u8]) -> Result<(i64, i32, i32), DecodeError> {
    let b: [u8; 16] = buf.try_into().map_or_else(
        |_| err(format!("interval: expected 16 bytes, got {}", buf.len())),
        Ok,
    )?;
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[..8]);
    let mut d = [0u8; 4];
    d.copy_from_slice(&b[8..12]);
    let mut mo = [0u8; 4];
    mo.copy_from_slice(&b[12..]);
    Ok((
        i64::from_be_bytes(m),
        i32::from_be_bytes(d),
        i32::from_be_bytes(mo),
    ))
}

/// PostgreSQL's text output of an interval with `IntervalStyle = postgres`
/// (the session setting every connection of pg2sqlite uses): what a plan that
/// stores intervals as PostgreSQL prints them expects on the wire.
pub fn interval_text(buf: &[u8]) -> Result<String, DecodeError> {
    let (micros, days, months) = interval_fields(buf)?;
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let _ = write!(
            out,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
        is_zero = false;
    };
    part(&mut out, i64::from(months / 12), "year");
    part(&mut out, i64::from(months % 12), "mon");
    part(&mut out, i64::from(days), "day");
    let hours = micros / 3_600_000_000;
    let rest = micros % 3_600_000_000;
    let minutes = rest / 60_000_000;
    let rest = rest % 60_000_000;
    let seconds = rest / 1_000_000;
    let fraction = rest % 1_000_000;
    if is_zero || micros != 0 {
        let minus = micros < 0;
        let _ = write!(
            out,
            "{}{}{:02}:{:02}:{:02}",
            if is_zero { "" } else { " " },
            if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            },
            hours.unsigned_abs(),
            minutes.unsigned_abs(),
            seconds.unsigned_abs()
        );
        if fraction != 0 {
            let digits = format!("{:06}", fraction.unsigned_abs());
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut out = String::new();
        decode::write_numeric(&mut out, &numeric_from_text(text).unwrap()).unwrap();
        out
    }

    #[test]
    fn numeric_text_round_trips() {
        for t in [
            "0",
            "0.00",
            "42",
            "-12.340",
            "0.0001",
            "0.00000001",
            "100000000",
            "10002",
            "123456789012345678901234567890.123456789",
            "-0.5",
            "NaN",
            "Infinity",
            "-Infinity",
            "99999999",
            "1.0000",
        ] {
            assert_eq!(round_trip(t), t);
        }
        // PostgreSQL prints -0 as 0.
        assert_eq!(round_trip("-0.00"), "0.00");
        assert!(numeric_from_text("1e5").is_err());
        assert!(numeric_from_text("").is_err());
        assert!(numeric_from_text("1.2.3").is_err());
    }

    #[test]
    fn decimals_and_numerics_convert_exactly() {
        let n = numeric_from_text("-12.340").unwrap();
        assert_eq!(numeric_to_unscaled(&n, 3).unwrap(), -12340);
        assert_eq!(numeric_to_unscaled(&n, 5).unwrap(), -1_234_000);
        assert!(numeric_to_unscaled(&n, 1).is_err());
        assert!(numeric_to_unscaled(&numeric_from_text("NaN").unwrap(), 2).is_err());
        let mut s = String::new();
        decode::write_numeric(&mut s, &numeric_from_unscaled(-1234, 3).unwrap()).unwrap();
        assert_eq!(s, "-1.234");
        s.clear();
        decode::write_numeric(&mut s, &numeric_from_unscaled(5, 4).unwrap()).unwrap();
        assert_eq!(s, "0.0005");
        let max = "99999999999999999999999999999999999999"
            .parse::<i128>()
            .unwrap();
        s.clear();
        decode::write_numeric(&mut s, &numeric_from_unscaled(max, 0).unwrap()).unwrap();
        assert_eq!(s, "99999999999999999999999999999999999999");
    }

    #[test]
    fn arrays_round_trip() {
        let one = 1i32.to_be_bytes();
        let two = 2i32.to_be_bytes();
        let built = build_array(
            23,
            &[2, 2],
            [Some(&one[..]), None, Some(&two[..]), Some(&one[..])],
        )
        .unwrap();
        let parts = parse_array(&built).unwrap();
        assert_eq!(parts.dims, vec![2, 2]);
        assert_eq!(parts.element_oid, 23);
        assert_eq!(
            parts.elements,
            vec![Some(&one[..]), None, Some(&two[..]), Some(&one[..])]
        );
        assert!(!other_lower_bound(&built).unwrap());
        let mut shifted = built.clone();
        shifted[24..28].copy_from_slice(&0i32.to_be_bytes());
        assert!(other_lower_bound(&shifted).unwrap());
        assert!(parse_array(&shifted).unwrap().other_lower_bound);
        let empty = build_array(23, &[], std::iter::empty()).unwrap();
        assert!(parse_array(&empty).unwrap().dims.is_empty());
        assert!(build_array(23, &[3], [Some(&one[..])]).is_err());
    }

    #[test]
    fn interval_text_is_postgres_style() {
        let t = |micros: i64, days: i32, months: i32| {
            interval_text(&interval(micros, days, months)).unwrap()
        };
        assert_eq!(t(0, 0, 0), "00:00:00");
        assert_eq!(t(0, 3, 14), "1 year 2 mons 3 days");
        assert_eq!(
            t(14_706_789_000, 3, 14),
            "1 year 2 mons 3 days 04:05:06.789"
        );
        assert_eq!(t(-7_200_000_000, -1, 0), "-1 days -02:00:00");
        assert_eq!(t(7_200_000_000, -1, 0), "-1 days +02:00:00");
        assert_eq!(t(0, 1, 1), "1 mon 1 day");
        assert_eq!(t(360_000_000_000, 0, -12), "-1 years +100:00:00");
        assert_eq!(t(500_000, 0, 0), "00:00:00.5");
    }
}
