//! PostgreSQL dates and timestamps (days and microseconds since 2000-01-01) as text.
//!
//! Written by hand rather than through a date library because PostgreSQL's range is
//! wider than most (4713 BC to 294276 AD) and its infinities must stay infinities.

use super::format::{FractionStyle, TimeText};

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_DAYS_FROM_UNIX: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_MICROS_FROM_UNIX: i64 = PG_EPOCH_DAYS_FROM_UNIX * MICROS_PER_DAY;

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`). Year 0 is 1 BC, as in astronomy.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = if m <= 2 { y + 1 } else { y };
    // Both fit: d in 1..=31 and m in 1..=12 by construction.
    (
        year,
        u32::try_from(m).unwrap_or(0),
        u32::try_from(d).unwrap_or(0),
    )
}

/// Writes `YYYY-MM-DD`, PostgreSQL style for years outside 1..=9999
/// (`10000-01-01`, `0044-03-15 BC`). Returns whether the date is BC, so the caller
/// can put the ` BC` suffix after a time part, where PostgreSQL puts it.
fn write_date(out: &mut String, days_since_unix: i64) -> bool {
    let (year, month, day) = civil_from_days(days_since_unix);
    let (shown_year, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    push_padded(out, shown_year.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
    bc
}

/// PostgreSQL `date` (days since 2000-01-01) as `YYYY-MM-DD`.
pub fn format_date(out: &mut String, pg_days: i32) {
    match pg_days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        d => {
            if write_date(out, i64::from(d) + PG_EPOCH_DAYS_FROM_UNIX) {
                out.push_str(" BC");
            }
        }
    }
}

/// The inverse of [`format_date`]: `YYYY-MM-DD` (four or more year digits)
/// with an optional ` BC`, `infinity`, `-infinity`. `None` for any other form
/// or a day that does not exist (`2023-02-29`).
pub fn parse_date(text: &str) -> Option<i32> {
    match text {
        "infinity" => return Some(i32::MAX),
        "-infinity" => return Some(i32::MIN),
        _ => {}
    }
    let (s, bc) = match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    finite_pg_days(parse_ymd(s, bc)? - PG_EPOCH_DAYS_FROM_UNIX)
}

/// A day count since 2000-01-01 that `date` holds as a day, not an infinity.
fn finite_pg_days(days: i64) -> Option<i32> {
    i32::try_from(days)
        .ok()
        .filter(|d| *d != i32::MAX && *d != i32::MIN)
}

/// Days since 1970-01-01 of `YYYY-MM-DD` as [`write_date`] writes it: the
/// year as shown (1 BC is year 1 with `bc`), at least four digits.
fn parse_ymd(s: &str, bc: bool) -> Option<i64> {
    let b = s.as_bytes();
    let split = b.len().checked_sub(6)?;
    let (year, md) = (b.get(..split)?, b.get(split..)?);
    if year.len() < 4 || year.len() > 9 || md[0] != b'-' || md[3] != b'-' {
        return None;
    }
    let num = |digits: &[u8]| -> Option<i64> {
        digits.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let shown = num(year)?;
    let month = u32::try_from(num(&md[1..3])?).ok()?;
    let day = u32::try_from(num(&md[4..6])?).ok()?;
    // write_date never shows year 0: 1 BC is `0001-… BC`.
    if shown == 0 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if bc { 1 - shown } else { shown };
    let days = days_from_civil(year, month, day);
    // days_from_civil rolls 02-30 over into March; only a real day maps back.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampStyle {
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`, for `timestamp without time zone`.
    Space,
    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, UTC, for `timestamptz`.
    IsoUtc,
}

/// PostgreSQL `timestamp`/`timestamptz` (microseconds since 2000-01-01) as text.
pub fn format_timestamp(out: &mut String, pg_micros: i64, style: TimestampStyle) {
    let text = match style {
        TimestampStyle::Space => TimeText::SPACE,
        TimestampStyle::IsoUtc => TimeText::ISO_UTC,
    };
    format_timestamp_text(out, pg_micros, text);
}

/// The inverse of [`format_timestamp`] in `style`: microseconds since
/// 2000-01-01 (PostgreSQL's own count, so the whole range up to 294276 AD
/// fits, which [`parse_timestamp`]'s Unix count does not), the infinities at
/// `i64::MAX`/`i64::MIN`. The fraction may have one to six digits.
pub fn parse_pg_timestamp(text: &str, style: TimestampStyle) -> Option<i64> {
    match text {
        "infinity" => return Some(i64::MAX),
        "-infinity" => return Some(i64::MIN),
        _ => {}
    }
    let (s, bc) = match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let (s, separator) = match style {
        TimestampStyle::Space => (s, ' '),
        TimestampStyle::IsoUtc => (s.strip_suffix('Z')?, 'T'),
    };
    let (date, clock) = s.split_once(separator)?;
    let days = parse_ymd(date, bc)? - PG_EPOCH_DAYS_FROM_UNIX;
    // 24:00:00 is a `time`, not the time of a timestamp (that is the next day).
    let micros = parse_clock(clock).filter(|m| *m < MICROS_PER_DAY)?;
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(micros)
        .filter(|m| *m != i64::MAX && *m != i64::MIN)
}

/// A timestamp in any of the text styles a schema map can choose. `Millis`
/// truncates toward the past, as PostgreSQL's `date_trunc` does.
pub fn format_timestamp_text(out: &mut String, pg_micros: i64, style: TimeText) {
    match pg_micros {
        i64::MAX => return out.push_str("infinity"),
        i64::MIN => return out.push_str("-infinity"),
        _ => {}
    }
    let days = pg_micros.div_euclid(MICROS_PER_DAY);
    let micros_of_day = pg_micros.rem_euclid(MICROS_PER_DAY);
    let bc = write_date(out, days + PG_EPOCH_DAYS_FROM_UNIX);
    out.push(if style.t_separator { 'T' } else { ' ' });
    format_clock(out, micros_of_day, style.fraction);
    out.push_str(style.zone.text());
    if bc {
        out.push_str(" BC");
    }
}

/// Microseconds since 1970-01-01 of a PostgreSQL timestamp; `None` for the
/// infinities, which have no epoch number.
pub fn unix_micros(pg_micros: i64) -> Option<i64> {
    match pg_micros {
        i64::MAX | i64::MIN => None,
        m => m.checked_add(PG_EPOCH_MICROS_FROM_UNIX),
    }
}

/// Days since 1970-01-01 of a PostgreSQL date; `None` for the infinities.
pub fn unix_days(pg_days: i32) -> Option<i64> {
    match pg_days {
        i32::MAX | i32::MIN => None,
        d => Some(i64::from(d) + PG_EPOCH_DAYS_FROM_UNIX),
    }
}

/// Microseconds per day.
pub const MICROS_PER_DAY_I64: i64 = MICROS_PER_DAY;

/// `HH:MM:SS[.ffffff]`; the fraction is written (six digits) only when not zero.
pub fn format_time_of_day(out: &mut String, micros: i64) {
    let micros = micros.unsigned_abs();
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    push_padded(out, secs / 3600, 2);
    out.push(':');
    push_padded(out, (secs / 60) % 60, 2);
    out.push(':');
    push_padded(out, secs % 60, 2);
    if frac != 0 {
        out.push('.');
        push_padded(out, frac, 6);
    }
}

/// A `time` value (microseconds since midnight) as `HH:MM:SS` with the fraction
/// in `style`: what Django (`nonzero`), SQLAlchemy (`always`) and JavaScript
/// (`ms`, truncated) write, for times and for the time of a timestamp.
pub fn format_clock(out: &mut String, micros: i64, style: FractionStyle) {
    let frac = micros.rem_euclid(1_000_000);
    format_time_of_day(out, micros - frac);
    match style {
        FractionStyle::Micros if frac == 0 => {}
        FractionStyle::Micros | FractionStyle::MicrosAlways => {
            out.push('.');
            push_padded(out, frac.unsigned_abs(), 6);
        }
        FractionStyle::Millis => {
            out.push('.');
            push_padded(out, (frac / 1000).unsigned_abs(), 3);
        }
    }
}

/// Parses `HH:MM:SS[.f{1,6}]` (hours up to 24) into microseconds since
/// midnight; strictness about the form is the caller's, by writing it back.
pub fn parse_clock(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let b = hms.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' || frac.len() > 6 {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (h, m, sec) = (num(&hms[..2])?, num(&hms[3..5])?, num(&hms[6..])?);
    let f = if frac.is_empty() {
        0
    } else {
        num(frac)? * 10_i64.pow(u32::try_from(6 - frac.len()).ok()?)
    };
    if m > 59 || sec > 59 || h > 24 || (h == 24 && (m, sec, f) != (0, 0, 0)) {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1_000_000 + f)
}

/// The date ActiveRecord puts before a `time` it stores in SQLite: its
/// `quoted_time` writes the time as a datetime on 2000-01-01.
pub const TIME_ON_DATE: &str = "2000-01-01";

/// A `time` value (microseconds since midnight) as a datetime on 2000-01-01,
/// as ActiveRecord stores a `time` column in SQLite:
/// `2000-01-01 12:30:15[.500000]`. PostgreSQL's `24:00:00` stays
/// `2000-01-01 24:00:00` rather than becoming the next day, so the date part
/// is the same in every stored value and verify can read each one back.
pub fn format_time_on_date(out: &mut String, micros: i64, style: TimeText) {
    out.push_str(TIME_ON_DATE);
    out.push(if style.t_separator { 'T' } else { ' ' });
    format_clock(out, micros, style.fraction);
    out.push_str(style.zone.text());
}

/// The time of day (microseconds since midnight) of a text in the form
/// [`format_time_on_date`] writes with `style`'s separator and zone; `None` for
/// another date, separator or zone. The fraction's form is the caller's to
/// check, by writing the value back.
pub fn parse_time_on_date(s: &str, style: TimeText) -> Option<i64> {
    let rest = s.strip_prefix(TIME_ON_DATE)?;
    let rest = rest.strip_prefix(if style.t_separator { 'T' } else { ' ' })?;
    parse_clock(rest.strip_suffix(style.zone.text())?)
}

/// PostgreSQL's text of a `time`: `HH:MM:SS` and the fraction without trailing zeros.
pub fn pg_time_text(micros: i64) -> String {
    let mut s = String::new();
    format_time_of_day(&mut s, micros);
    if s.contains('.') {
        let keep = s.trim_end_matches('0').len();
        s.truncate(keep);
    }
    s
}

/// Appends `n` in decimal, zero-padded to at least `width` digits. Formatting
/// through `core::fmt` was a measurable share of a wide table's copy time, and
/// so was this function's general loop: the fields of dates and times (two,
/// four and six digits) are written two digits at a time.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    match (width, n) {
        (0 | 1, 0..=9) => push_digit(out, n),
        (2, 0..=99) => push_two(out, n),
        (4, 0..=9_999) => {
            push_two(out, n / 100);
            push_two(out, n % 100);
        }
        (6, 0..=999_999) => {
            push_two(out, n / 10_000);
            push_two(out, n / 100 % 100);
            push_two(out, n % 100);
        }
        _ => push_padded_any(out, n, width),
    }
}

/// Two digits of `n` (below 100).
fn push_two(out: &mut String, n: u64) {
    push_digit(out, n / 10);
    push_digit(out, n % 10);
}

/// The digit `n` (below 10).
fn push_digit(out: &mut String, n: u64) {
    const DIGITS: &[u8; 10] = b"0123456789";
    // `get` keeps a wrong call harmless.
    let digit = usize::try_from(n).ok().and_then(|i| DIGITS.get(i));
    out.push(char::from(digit.copied().unwrap_or(b'?')));
}

fn push_padded_any(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // n % 10 < 10: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        buf[i] = b'0' + digit;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    // Only ASCII digits were written, so this never fails.
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC); the
/// inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A point in time read back from text: microseconds since 1970-01-01 UTC, with
/// PostgreSQL's infinities at the ends of the range.
pub const INFINITY_MICROS: i64 = i64::MAX;
pub const MINUS_INFINITY_MICROS: i64 = i64::MIN;

/// Parses the timestamp texts this tool writes and the ones apps commonly store:
/// `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]` with an optional `Z`,
/// `±HH`, `±HHMM` or `±HH:MM` zone (none means UTC), a trailing ` BC`, and
/// `infinity`/`-infinity`. Returns microseconds since 1970-01-01 UTC; fractions
/// beyond microseconds are truncated.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let s = text.trim();
    match s {
        "infinity" | "+infinity" => return Some(INFINITY_MICROS),
        "-infinity" => return Some(MINUS_INFINITY_MICROS),
        _ => {}
    }
    let (s, bc) = match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let b = s.as_bytes();
    let mut i = 0;
    let number = |i: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let expect = |i: &mut usize, c: &[u8]| -> Option<()> {
        if *i < b.len() && c.contains(&b[*i]) {
            *i += 1;
            Some(())
        } else {
            None
        }
    };
    let year = number(&mut i, 4, 9)?;
    expect(&mut i, b"-")?;
    let month = u32::try_from(number(&mut i, 2, 2)?).ok()?;
    expect(&mut i, b"-")?;
    let day = u32::try_from(number(&mut i, 2, 2)?).ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut micros_of_day = 0i64;
    let mut offset_secs = 0i64;
    if i < b.len() {
        expect(&mut i, b"Tt ")?;
        let hour = number(&mut i, 2, 2)?;
        expect(&mut i, b":")?;
        let minute = number(&mut i, 2, 2)?;
        let mut second = 0;
        let mut frac = 0i64;
        if expect(&mut i, b":").is_some() {
            second = number(&mut i, 2, 2)?;
            if expect(&mut i, b".").is_some() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = &s[start..i];
                if digits.is_empty() {
                    return None;
                }
                let mut six: String = digits.chars().take(6).collect();
                while six.len() < 6 {
                    six.push('0');
                }
                frac = six.parse().ok()?;
            }
        }
        if hour > 24 || minute > 59 || second > 60 {
            return None;
        }
        micros_of_day = ((hour * 60 + minute) * 60 + second) * 1_000_000 + frac;
        if i < b.len() {
            match b[i] {
                b'Z' | b'z' => i += 1,
                b'+' | b'-' => {
                    let sign = if b[i] == b'-' { -1 } else { 1 };
                    i += 1;
                    let h = number(&mut i, 2, 2)?;
                    let _ = expect(&mut i, b":");
                    let m = if i < b.len() {
                        number(&mut i, 2, 2)?
                    } else {
                        0
                    };
                    offset_secs = sign * (h * 3600 + m * 60);
                }
                _ => return None,
            }
        }
    }
    if i != b.len() {
        return None;
    }
    let astronomical_year = if bc { 1 - year } else { year };
    let days = days_from_civil(astronomical_year, month, day);
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(micros_of_day)?
        .checked_sub(offset_secs * 1_000_000)
}

/// Microseconds since 1970-01-01 UTC as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
pub fn format_unix_micros(out: &mut String, unix_micros: i64) {
    match unix_micros {
        INFINITY_MICROS => out.push_str("infinity"),
        MINUS_INFINITY_MICROS => out.push_str("-infinity"),
        m => format_timestamp(
            out,
            m.saturating_sub(PG_EPOCH_MICROS_FROM_UNIX),
            TimestampStyle::IsoUtc,
        ),
    }
}

/// Microseconds since 1970-01-01 UTC as an owned RFC 3339 string.
pub fn unix_micros_text(unix_micros: i64) -> String {
    let mut s = String::new();
    format_unix_micros(&mut s, unix_micros);
    s
}

/// This machine's clock, in microseconds since 1970-01-01 UTC.
pub fn clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks that `text` is an RFC 3339 date-time (`2025-11-13T00:00:00Z`,
/// `2025-11-13 02:00:00.5+02:00`) and returns it unchanged. PostgreSQL would
/// accept much more (`yesterday`, `now`), and the result of those depends on when
/// the command runs, so the shape is checked here.
pub fn rfc3339(text: &str) -> Result<&str, String> {
    let err = || {
        format!(
            "--since {text:?} is not an RFC 3339 time; write e.g. 2025-11-13T00:00:00Z \
             or 2025-11-13T02:00:00+02:00"
        )
    };
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    let (Some(_year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return Err(err());
    };
    let shape = sep(4, b"-")
        && sep(7, b"-")
        && sep(10, b"Tt ")
        && sep(13, b":")
        && sep(16, b":")
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !shape {
        return Err(err());
    }
    // optional fraction, then Z or ±HH:MM
    let mut at = 19;
    if sep(at, b".") {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return Err(err());
        }
    }
    let zone_ok = match b.get(at) {
        Some(b'Z' | b'z') => at + 1 == b.len(),
        Some(b'+' | b'-') => {
            at + 6 == b.len()
                && sep(at + 3, b":")
                && digits(at + 1..at + 3).is_some_and(|h| h <= 23)
                && digits(at + 4..at + 6).is_some_and(|m| m <= 59)
        }
        _ => false,
    };
    if zone_ok {
        Ok(text)
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(d: i32) -> String {
        let mut s = String::new();
        format_date(&mut s, d);
        s
    }
    fn ts(m: i64, style: TimestampStyle) -> String {
        let mut s = String::new();
        format_timestamp(&mut s, m, style);
        s
    }

    #[test]
    fn dates_around_the_epoch_and_edges() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(59), "2000-02-29");
        assert_eq!(date(-10957), "1970-01-01");
        assert_eq!(date(i32::MAX), "infinity");
        assert_eq!(date(i32::MIN), "-infinity");
        // 0001-01-01 AD is day -730119; the day before is 1 BC.
        assert_eq!(date(-730_119), "0001-01-01");
        assert_eq!(date(-730_120), "0001-12-31 BC");
        // PostgreSQL: select '10000-01-01'::date - '2000-01-01'::date = 2921940
        assert_eq!(date(2_921_940), "10000-01-01");
        // select '4713-01-01 BC'::date - '2000-01-01'::date = -2451507
        assert_eq!(date(-2_451_507), "4713-01-01 BC");
    }

    #[test]
    fn dates_and_timestamps_parse_back_from_their_formats() {
        for d in [
            0,
            -1,
            59,
            -730_119,
            -730_120,
            -2_451_507,
            2_921_940,
            i32::MAX,
            i32::MIN,
        ] {
            assert_eq!(parse_date(&date(d)), Some(d), "{}", date(d));
        }
        for bad in [
            "2023-02-29",
            "0000-01-01",
            "01-01-01",
            "2000-01-01 AD",
            "2000-01-1",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for m in [
            0,
            1,
            -1,
            -730_120 * 86_400_000_000 + 1,
            9_223_371_331_199_999_999,
        ] {
            for style in [TimestampStyle::Space, TimestampStyle::IsoUtc] {
                assert_eq!(
                    parse_pg_timestamp(&ts(m, style), style),
                    Some(m),
                    "{}",
                    ts(m, style)
                );
            }
        }
        assert_eq!(
            parse_pg_timestamp("2000-01-01 00:00:00Z", TimestampStyle::Space),
            None
        );
        assert_eq!(
            parse_pg_timestamp("2000-01-01T24:00:00Z", TimestampStyle::IsoUtc),
            None
        );
    }

    #[test]
    fn padding() {
        let mut s = String::new();
        push_padded(&mut s, 7, 2);
        push_padded(&mut s, 0, 1);
        push_padded(&mut s, 12345, 4);
        push_padded(&mut s, u64::MAX, 1);
        assert_eq!(s, format!("07012345{}", u64::MAX));
        // The two-digits-at-a-time widths agree with the general loop and
        // with core::fmt, on and around their bounds.
        for width in [0, 1, 2, 4, 6] {
            for n in (0..1_000_000u64).step_by(997).chain([
                0, 9, 10, 99, 100, 9_999, 10_000, 999_999, 1_000_000, 12_345_678,
            ]) {
                let mut fast = String::new();
                push_padded(&mut fast, n, width);
                let mut general = String::new();
                push_padded_any(&mut general, n, width);
                assert_eq!(fast, general, "{n} in {width}");
                assert_eq!(fast, format!("{n:0width$}"), "{n} in {width}");
            }
        }
    }

    #[test]
    fn timestamps_in_both_styles() {
        assert_eq!(ts(0, TimestampStyle::Space), "2000-01-01 00:00:00");
        assert_eq!(ts(1, TimestampStyle::IsoUtc), "2000-01-01T00:00:00.000001Z");
        assert_eq!(ts(-1, TimestampStyle::Space), "1999-12-31 23:59:59.999999");
        assert_eq!(
            ts(86_400_000_000 + 3_723_500_000, TimestampStyle::Space),
            "2000-01-02 01:02:03.500000"
        );
        assert_eq!(ts(i64::MAX, TimestampStyle::IsoUtc), "infinity");
        assert_eq!(ts(i64::MIN, TimestampStyle::Space), "-infinity");
        assert_eq!(
            ts(-730_120 * 86_400_000_000, TimestampStyle::IsoUtc),
            "0001-12-31T00:00:00Z BC"
        );
    }

    #[test]
    fn parses_what_it_formats_and_common_app_forms() {
        for m in [
            0i64,
            1,
            -1,
            86_400_000_000 + 3_723_500_000,
            -730_120 * 86_400_000_000,
        ] {
            for style in [TimestampStyle::Space, TimestampStyle::IsoUtc] {
                let text = ts(m, style);
                assert_eq!(
                    parse_timestamp(&text),
                    Some(m + PG_EPOCH_MICROS_FROM_UNIX),
                    "{text}"
                );
            }
        }
        let noon = parse_timestamp("2025-11-13T12:00:00Z");
        assert_eq!(noon, Some(1_763_035_200_000_000));
        assert_eq!(parse_timestamp("2025-11-13 14:00:00+02:00"), noon);
        assert_eq!(parse_timestamp("2025-11-13T07:00:00-0500"), noon);
        assert_eq!(parse_timestamp("2025-11-13 12:00"), noon);
        assert_eq!(
            parse_timestamp("2025-11-13T12:00:00.1234567Z"),
            noon.map(|n| n + 123_456)
        );
        assert_eq!(parse_timestamp("2025-11-13"), Some(1_762_992_000_000_000));
        assert_eq!(parse_timestamp("infinity"), Some(INFINITY_MICROS));
        assert_eq!(parse_timestamp("-infinity"), Some(MINUS_INFINITY_MICROS));
        for bad in [
            "",
            "2025-11-13T",
            "2025-13-01",
            "2025-11-13T12:00:00.",
            "yesterday",
            "2025-11-13T12:00:00Zjunk",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        let mut s = String::new();
        format_unix_micros(&mut s, 1_763_035_200_000_000);
        assert_eq!(s, "2025-11-13T12:00:00Z");
    }

    #[test]
    fn rfc3339_accepts_the_standard_forms() {
        for ok in [
            "2025-11-13T00:00:00Z",
            "2025-11-13t00:00:00z",
            "2025-11-13 00:00:00Z",
            "2025-11-13T02:00:00.123456+02:00",
            "2025-11-13T23:59:60-05:30",
        ] {
            assert_eq!(rfc3339(ok), Ok(ok));
        }
    }

    #[test]
    fn rfc3339_refuses_everything_else() {
        for bad in [
            "",
            "now",
            "yesterday",
            "2025-11-13",
            "2025-11-13T00:00:00",
            "2025-11-13T00:00Z",
            "2025-13-13T00:00:00Z",
            "2025-11-13T24:00:00Z",
            "2025-11-13T00:00:00.Z",
            "2025-11-13T00:00:00+0200",
            "2025-11-13T00:00:00Z'; DROP TABLE users; --",
            "2025-11-13T00:00:00+02:00 ",
            "２０２５-11-13T00:00:00Z",
        ] {
            assert!(rfc3339(bad).is_err(), "{bad:?}");
        }
    }
}
