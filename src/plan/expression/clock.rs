//! The current time as a default: `now()` and its spellings, written in the
//! column's stored form.

use sqlparser::ast::{Expr, FunctionArguments};

use super::functions::function_args;
use super::{string_value, strip_casts, Ty};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Now {
    Timestamp,
    Date,
}

/// `now()` and its spellings, as `pg_get_expr` prints them.
pub(super) fn current_time(e: &Expr) -> Option<Now> {
    match e {
        Expr::Nested(inner) => current_time(inner),
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(l) => l.args.is_empty(),
                FunctionArguments::Subquery(_) => false,
            };
            match name.as_str() {
                "now"
                | "current_timestamp"
                | "localtimestamp"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp"
                    if no_args =>
                {
                    Some(Now::Timestamp)
                }
                "current_date" if no_args => Some(Now::Date),
                // timezone('utc'::text, now())
                "timezone" => {
                    let args = function_args(f).ok()?;
                    match args.as_slice() {
                        [zone, inner] if is_utc(zone) => current_time(inner),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        Expr::AtTimeZone {
            timestamp,
            time_zone,
        } if is_utc(time_zone) => current_time(timestamp),
        // ('now'::text)::date
        Expr::Cast {
            expr, data_type, ..
        } => {
            let target = data_type.to_string().to_lowercase();
            match (strip_casts(expr), target.as_str()) {
                (Expr::Value(v), "date") if string_value(&v.value) == Some("now") => {
                    Some(Now::Date)
                }
                (inner, "date") => current_time(inner).map(|_| Now::Date),
                (inner, t) if t.starts_with("timestamp") => current_time(inner),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_utc(e: &Expr) -> bool {
    matches!(strip_casts(e), Expr::Value(v)
        if string_value(&v.value).is_some_and(|s| s.eq_ignore_ascii_case("utc")))
}

/// A SQLite default that writes the current time (UTC) in the form the default
/// mapping stores: `YYYY-MM-DD HH:MM:SS[.ffffff]`, with `T` and `Z` for
/// timestamptz, the fraction (six digits) only when not zero. SQLite's clock has
/// milliseconds; `'now'` is one instant within a statement.
pub(super) fn current_time_sql(now: Now, column: Ty) -> Result<String, String> {
    let (t, z) = match (now, column) {
        (_, Ty::Date) => return Ok("(date('now'))".into()),
        (Now::Timestamp, Ty::Timestamptz) => ("T", "Z"),
        (Now::Timestamp, Ty::Timestamp) => (" ", ""),
        (_, other) => {
            return Err(format!(
                "the current time in a column that stores a {}",
                other.name()
            ))
        }
    };
    Ok(format!(
        "(CASE WHEN strftime('%f', 'now') GLOB '*.000' \
          THEN strftime('%Y-%m-%d{t}%H:%M:%S', 'now') || '{z}' \
          ELSE strftime('%Y-%m-%d{t}%H:%M:%f', 'now') || '000{z}' END)"
    ))
}
