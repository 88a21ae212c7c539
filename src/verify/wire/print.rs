//! The canonical texts verification's first look prints from binary values,
//! as PostgreSQL's output functions print them with the session settings of
//! `source::snapshot` (DateStyle ISO, TimeZone UTC): `date_out`,
//! `timestamp_out`, `numeric_out` (and `trim_scale`), `array_out` (without
//! bounds) and the server's sliced `array_send` of a float array.
//!
//! A second implementation on purpose: the converters that wrote the file
//! (`mapping::decode`, `mapping::time`) print these values too, and a check
//! must not share their mistakes.

use super::{be_i32, next_value, push_array_element, Element};

/// The server's `encode(overlay(array_send(c[lower:upper]) placing 8 zero
/// bytes from 5 for 8), 'hex')`: the binary array with its flags and element
/// type zeroed and every lower bound 1 (a slice's), elements as they are.
pub(super) fn print_float_array(v: &[u8], out: &mut String) -> Result<(), String> {
    let ndim = be_i32(v, 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or("an array cut short")?;
    let header = 12 + 8 * ndim;
    if v.len() < header {
        return Err("an array cut short".into());
    }
    for (at, &byte) in v.iter().enumerate() {
        let in_lower_bound = (12..header).contains(&at) && (at - 12) % 8 >= 4;
        let shown = match at {
            4..=11 => 0,
            // A lower bound of 1: its last byte 1, the others 0.
            _ if in_lower_bound => u8::from((at - 12) % 8 == 7),
            _ => byte,
        };
        push_hex(out, shown);
    }
    Ok(())
}

pub(super) fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_decimal(out, v.unsigned_abs(), 1);
}

/// `v` in decimal, zero-padded to at least `width` digits. Canonical texts
/// are printed for every value of a column: no formatting machinery here.
pub(super) fn push_decimal(out: &mut String, v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = v;
    loop {
        at -= 1;
        // A digit: 0..=9.
        digits[at] += u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = at.min(digits.len().saturating_sub(width));
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
}

pub(super) fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 15)]));
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01;
/// the year is astronomical (0 is 1 BC). Howard Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

/// `YYYY-MM-DD` as ISO DateStyle prints it; whether the date is BC.
fn push_civil(out: &mut String, days: i64) -> bool {
    let (year, month, day) = civil(days);
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    push_decimal(out, shown.unsigned_abs(), 4);
    out.push('-');
    push_decimal(out, u64::from(month), 2);
    out.push('-');
    push_decimal(out, u64::from(day), 2);
    bc
}

/// `date_out` (DateStyle ISO).
pub(super) fn print_date(days: i32, out: &mut String) -> Result<(), String> {
    match days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        d => {
            if push_civil(out, i64::from(d) + PG_EPOCH_DAYS) {
                out.push_str(" BC");
            }
        }
    }
    Ok(())
}

/// `timestamp_out`/`timestamptz_out` (DateStyle ISO, TimeZone UTC): seconds
/// with the fraction's trailing zeros dropped, `+00` for a zone, then ` BC`.
pub(super) fn print_timestamp(micros: i64, zone: bool, out: &mut String) -> Result<(), String> {
    match micros {
        i64::MAX => out.push_str("infinity"),
        i64::MIN => out.push_str("-infinity"),
        m => {
            let days = m.div_euclid(MICROS_PER_DAY);
            let of_day = m.rem_euclid(MICROS_PER_DAY);
            let bc = push_civil(out, days + PG_EPOCH_DAYS);
            // Both are non-negative (rem_euclid).
            let seconds = of_day.unsigned_abs() / 1_000_000;
            let mut fraction = of_day.unsigned_abs() % 1_000_000;
            for (separator, part) in [
                (' ', seconds / 3600),
                (':', seconds / 60 % 60),
                (':', seconds % 60),
            ] {
                out.push(separator);
                push_decimal(out, part, 2);
            }
            if fraction != 0 {
                let mut width = 6;
                while fraction % 10 == 0 {
                    fraction /= 10;
                    width -= 1;
                }
                out.push('.');
                push_decimal(out, fraction, width);
            }
            if zone {
                out.push_str("+00");
            }
            if bc {
                out.push_str(" BC");
            }
        }
    }
    Ok(())
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// `numeric_out`, or with `trim` `trim_scale(…)::text`: base-10000 digit
/// groups, the first `weight + 1` of them before the point, and `dscale`
/// decimal digits after it.
pub(super) fn print_numeric(v: &[u8], trim: bool, out: &mut String) -> Result<(), String> {
    let word = |i: usize| -> Result<u16, String> {
        v.get(2 * i..2 * i + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
            .ok_or_else(|| "a numeric cut short".to_owned())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(i16::from_be_bytes(word(1)?.to_be_bytes()));
    let sign = word(2)?;
    let dscale = i64::from(word(3)?);
    if v.len() != 8 + 2 * ndigits {
        return Err(format!(
            "a numeric of {} bytes with {ndigits} digit groups",
            v.len()
        ));
    }
    let special = match sign {
        NUMERIC_NAN => Some("NaN"),
        NUMERIC_PINF => Some("Infinity"),
        NUMERIC_NINF => Some("-Infinity"),
        _ => None,
    };
    if let Some(name) = special {
        out.push_str(name);
        return Ok(());
    }
    let mut groups = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        let g = word(4 + i)?;
        if g > 9999 {
            return Err(format!("a numeric digit group of {g}"));
        }
        groups.push(g);
    }
    // The group at `index` (0 is the highest), zero beyond those sent.
    let group = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| groups.get(i))
            .copied()
            .unwrap_or(0)
    };
    if sign == NUMERIC_NEG {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        push_decimal(out, u64::from(group(0)), 1);
        for index in 1..=weight {
            push_decimal(out, u64::from(group(index)), 4);
        }
    }
    if dscale > 0 {
        let point = out.len();
        out.push('.');
        let mut written = 0;
        let mut index = weight + 1;
        while written < dscale {
            let four = out.len();
            push_decimal(out, u64::from(group(index)), 4);
            // The last group gives only the digits the scale keeps.
            let take = usize::try_from((dscale - written).min(4)).unwrap_or(4);
            out.truncate(four + take);
            written += 4;
            index += 1;
        }
        if trim {
            let kept = out.trim_end_matches('0').len();
            out.truncate(kept);
            if out.len() == point + 1 {
                out.truncate(point);
            }
        }
    }
    Ok(())
}

/// `array_out` without the `[l:u]=` bounds (the canonical form compares
/// arrays without their lower bounds); for json and jsonb elements
/// `array_to_json`: nested JSON arrays of the elements' own texts, a SQL NULL
/// as `null`.
pub(super) fn print_array(v: &[u8], element: Element, out: &mut String) -> Result<(), String> {
    let int = |at: usize| be_i32(v, at).ok_or("an array cut short");
    let ndim = usize::try_from(int(0)?).map_err(|_| "a negative number of dimensions")?;
    let json = matches!(element, Element::Json | Element::Jsonb);
    if ndim == 0 {
        out.push_str(if json { "[]" } else { "{}" });
        return Ok(());
    }
    if ndim > 6 {
        return Err(format!("an array of {ndim} dimensions"));
    }
    let mut sizes = Vec::with_capacity(ndim);
    for d in 0..ndim {
        let size = usize::try_from(int(12 + 8 * d)?).map_err(|_| "a negative dimension")?;
        sizes.push(size);
    }
    let mut walk = ArrayWalk {
        v,
        element,
        json,
        at: 12 + 8 * ndim,
        element_text: String::new(),
    };
    walk.dimension(&sizes, out)?;
    if walk.at != v.len() {
        return Err("bytes left after an array's elements".into());
    }
    Ok(())
}

/// Where [`print_array`] is in an array's elements.
struct ArrayWalk<'a> {
    v: &'a [u8],
    element: Element,
    /// Printed as `array_to_json` does, not as `array_out`.
    json: bool,
    at: usize,
    element_text: String,
}

impl ArrayWalk<'_> {
    fn dimension(&mut self, sizes: &[usize], out: &mut String) -> Result<(), String> {
        let Some((&size, inner)) = sizes.split_first() else {
            return Ok(());
        };
        let (open, close) = if self.json { ('[', ']') } else { ('{', '}') };
        out.push(open);
        for i in 0..size {
            if i > 0 {
                out.push(',');
            }
            if !inner.is_empty() {
                self.dimension(inner, out)?;
                continue;
            }
            let (value, next) = next_value(self.v, self.at)?;
            self.at = next;
            match value {
                None if self.json => out.push_str("null"),
                None => out.push_str("NULL"),
                Some(bytes) if self.json => self.element.print(bytes, out)?,
                Some(bytes) => {
                    self.element_text.clear();
                    self.element.print(bytes, &mut self.element_text)?;
                    push_array_element(out, &self.element_text);
                }
            }
        }
        out.push(close);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::copy::push_test_value;

    fn numeric(weight: i16, sign: u16, dscale: u16, groups: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&u16::try_from(groups.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for g in groups {
            v.extend_from_slice(&g.to_be_bytes());
        }
        v
    }

    fn printed(f: impl FnOnce(&mut String) -> Result<(), String>) -> String {
        let mut s = String::new();
        f(&mut s).unwrap();
        s
    }

    #[test]
    fn numerics_print_as_numeric_out() {
        let n = |weight, sign, dscale, groups: &[u16], trim| {
            printed(|s| print_numeric(&numeric(weight, sign, dscale, groups), trim, s))
        };
        // SELECT numeric_send(x) for each of these, read back.
        assert_eq!(n(0, 0, 2, &[1234, 5600], false), "1234.56");
        assert_eq!(n(0, 0, 2, &[1234, 5600], true), "1234.56");
        assert_eq!(n(0, 0, 3, &[1234, 5000], true), "1234.5");
        assert_eq!(n(0, 0, 2, &[12], true), "12");
        assert_eq!(n(0, 0, 2, &[12], false), "12.00");
        assert_eq!(n(1, 0, 0, &[1], false), "10000");
        assert_eq!(n(2, NUMERIC_NEG, 0, &[12, 0, 5], false), "-1200000005");
        assert_eq!(n(-1, 0, 4, &[5], false), "0.0005");
        assert_eq!(n(-2, 0, 8, &[12], false), "0.00000012");
        assert_eq!(n(-2, NUMERIC_NEG, 10, &[12], true), "-0.00000012");
        assert_eq!(n(0, 0, 0, &[], false), "0");
        assert_eq!(n(0, 0, 2, &[], false), "0.00");
        assert_eq!(n(0, 0, 2, &[], true), "0");
        assert_eq!(n(0, NUMERIC_NAN, 0, &[], true), "NaN");
        assert_eq!(n(0, NUMERIC_PINF, 0, &[], false), "Infinity");
        assert_eq!(n(0, NUMERIC_NINF, 0, &[], false), "-Infinity");
        assert!(print_numeric(&numeric(0, 0, 0, &[10_000]), false, &mut String::new()).is_err());
        let mut short = numeric(0, 0, 0, &[1]);
        short.pop();
        assert!(print_numeric(&short, false, &mut String::new()).is_err());
    }

    #[test]
    fn decimals_print_padded_as_format_does() {
        for (v, width) in [
            (0, 1),
            (7, 2),
            (42, 4),
            (12_345, 2),
            (u64::MAX, 1),
            (5, 6),
            (0, 4),
        ] {
            let mut s = String::new();
            push_decimal(&mut s, v, width);
            assert_eq!(s, format!("{v:0width$}"));
        }
        let mut s = String::new();
        push_i64(&mut s, i64::MIN);
        assert_eq!(s, i64::MIN.to_string());
    }

    #[test]
    fn dates_and_timestamps_print_as_iso() {
        let d = |days| printed(|s| print_date(days, s));
        assert_eq!(d(0), "2000-01-01");
        assert_eq!(d(-1), "1999-12-31");
        assert_eq!(d(60), "2000-03-01");
        // date '0001-01-01' - date '2000-01-01' = -730119; the day before is 1 BC.
        assert_eq!(d(-730_119), "0001-01-01");
        assert_eq!(d(-730_120), "0001-12-31 BC");
        // date '4713-11-24 BC', PostgreSQL's first day.
        assert_eq!(d(-2_451_545), "4714-11-24 BC");
        assert_eq!(d(2_914_635), "9980-01-01");
        assert_eq!(d(2_921_940), "10000-01-01");
        assert_eq!(d(i32::MAX), "infinity");
        assert_eq!(d(i32::MIN), "-infinity");
        let t = |micros, zone| printed(|s| print_timestamp(micros, zone, s));
        assert_eq!(t(0, true), "2000-01-01 00:00:00+00");
        assert_eq!(t(1_500_000, false), "2000-01-01 00:00:01.5");
        assert_eq!(t(-1, true), "1999-12-31 23:59:59.999999+00");
        assert_eq!(t(86_399_000_001, false), "2000-01-01 23:59:59.000001");
        assert_eq!(t(120, false), "2000-01-01 00:00:00.00012");
        assert_eq!(
            t(-730_120 * MICROS_PER_DAY + 3_600_000_000, true),
            "0001-12-31 01:00:00+00 BC"
        );
        assert_eq!(t(i64::MAX, true), "infinity");
        assert_eq!(t(i64::MIN, false), "-infinity");
    }

    fn array(ndim_sizes: &[i32], elements: &[Option<&[u8]>]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&i32::try_from(ndim_sizes.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        v.extend_from_slice(&25u32.to_be_bytes());
        for s in ndim_sizes {
            v.extend_from_slice(&s.to_be_bytes());
            v.extend_from_slice(&3i32.to_be_bytes());
        }
        for e in elements {
            push_test_value(&mut v, *e);
        }
        v
    }

    /// json and jsonb arrays print as `array_to_json` does (values taken
    /// from PostgreSQL 15): the elements' own texts, NULL as null, dimensions
    /// nested.
    #[test]
    fn json_arrays_print_as_array_to_json() {
        let a = |sizes: &[i32], elements: &[Option<&[u8]>], e| {
            printed(|s| print_array(&array(sizes, elements), e, s))
        };
        // array_to_json(ARRAY['{"y": 2}'::json, NULL, '"a,NULL"', '[1, 2]'])
        assert_eq!(
            a(
                &[4],
                &[
                    Some(br#"{"y": 2}"#),
                    None,
                    Some(br#""a,NULL""#),
                    Some(b"[1, 2]")
                ],
                Element::Json
            ),
            r#"[{"y": 2},null,"a,NULL",[1, 2]]"#
        );
        // array_to_json(ARRAY[ARRAY['1'::jsonb, NULL], ARRAY['null', '"x"']])
        assert_eq!(
            a(
                &[2, 2],
                &[Some(b"\x011"), None, Some(b"\x01null"), Some(b"\x01\"x\"")],
                Element::Jsonb
            ),
            r#"[[1,null],[null,"x"]]"#
        );
        assert_eq!(a(&[], &[], Element::Jsonb), "[]");
        let unknown_version = array(&[1], &[Some(b"\x02{}")]);
        assert!(print_array(&unknown_version, Element::Jsonb, &mut String::new()).is_err());
    }

    #[test]
    fn arrays_print_as_array_out_without_bounds() {
        let a = |sizes: &[i32], elements: &[Option<&[u8]>], e| {
            printed(|s| print_array(&array(sizes, elements), e, s))
        };
        assert_eq!(a(&[], &[], Element::Text), "{}");
        assert_eq!(
            a(
                &[6],
                &[
                    Some(b"a"),
                    None,
                    Some(b""),
                    Some(b"null"),
                    Some(b"x \"y\\"),
                    Some(b"{,}")
                ],
                Element::Text
            ),
            r#"{a,NULL,"","null","x \"y\\","{,}"}"#
        );
        assert_eq!(
            a(
                &[2, 2],
                &[
                    Some(&[0, 0, 0, 1]),
                    Some(&[0, 0, 0, 2]),
                    None,
                    Some(&[255, 255, 255, 255])
                ],
                Element::Int4
            ),
            "{{1,2},{NULL,-1}}"
        );
        assert_eq!(a(&[2], &[Some(&[1]), Some(&[0])], Element::Bool), "{t,f}");
        assert_eq!(
            a(
                &[1],
                &[Some(&0i64.to_be_bytes())],
                Element::Timestamp { zone: true }
            ),
            r#"{"2000-01-01 00:00:00+00"}"#
        );
        assert_eq!(
            a(&[1], &[Some(&[0, 0xff])], Element::Bytea),
            r#"{"\\x00ff"}"#
        );
        assert_eq!(
            a(
                &[1],
                &[Some(&[
                    0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd,
                    0x38, 0x0a, 0x11
                ])],
                Element::Uuid
            ),
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"
        );
        let mut cut = array(&[2], &[Some(b"a")]);
        cut.extend_from_slice(&[0, 0]);
        assert!(print_array(&cut, Element::Text, &mut String::new()).is_err());
    }

    #[test]
    fn float_arrays_print_as_the_servers_sliced_binary_form() {
        // '[0:1]={1.5,NULL}'::float8[]: flags 1, element type 701, lower bound 0.
        let mut v = Vec::new();
        for word in [1i32, 1, 701, 2, 0] {
            v.extend_from_slice(&word.to_be_bytes());
        }
        v.extend_from_slice(&8i32.to_be_bytes());
        v.extend_from_slice(&1.5f64.to_be_bytes());
        v.extend_from_slice(&(-1i32).to_be_bytes());
        // SELECT encode(overlay(array_send(a[0:1]) placing '\x0000000000000000'
        //        from 5 for 8), 'hex') FROM (SELECT '[0:1]={1.5,NULL}'::float8[] a) s
        assert_eq!(
            printed(|s| print_float_array(&v, s)),
            "000000010000000000000000000000020000000100000008\
             3ff8000000000000ffffffff"
        );
        assert!(print_float_array(&v[..14], &mut String::new()).is_err());
    }
}
