//! Literals and casts in the stored form, the type branches share, and the
//! text forms SQLite needs for LIKE patterns and time order.

use sqlparser::ast::{DataType, Expr, UnaryOperator, Value};

use super::{parse, sql_string, strip_casts, Sql, Ty};
use crate::mapping::time::{self, TimestampStyle};

/// The number a constant expression is (`0`, `-1.5`, `'2'::numeric`), as
/// written.
pub fn number_literal(pg: &str) -> Option<String> {
    fn walk(e: &Expr) -> Option<String> {
        match e {
            Expr::Nested(x) => walk(x),
            Expr::Cast { expr, .. } => walk(expr),
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(n.clone()),
                Value::SingleQuotedString(s) => {
                    let t = s.trim();
                    let digits = t.strip_prefix('-').unwrap_or(t);
                    (!digits.is_empty()
                        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
                        && digits.matches('.').count() <= 1)
                        .then(|| t.to_owned())
                }
                _ => None,
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => walk(expr)
                .filter(|n| !n.starts_with('-'))
                .map(|n| format!("-{n}")),
            _ => None,
        }
    }
    walk(&parse(pg).ok()?)
}

pub(super) fn int_literal(e: &Expr) -> Option<i64> {
    match strip_casts(e) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => int_literal(expr).map(|n| -n),
        _ => None,
    }
}

/// The elements of `ARRAY[…]`, maybe cast (`ARRAY[…]::text[]`).
pub(super) fn array_elements(e: &Expr) -> Result<&[Expr], String> {
    match e {
        Expr::Array(a) => Ok(&a.elem),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => array_elements(expr),
        other => Err(format!(
            "= ANY ({other}): only an ARRAY[…] list is translated"
        )),
    }
}

/// The type the branches of a CASE or COALESCE share.
pub(super) fn common_type(parts: &[Sql]) -> Result<Ty, String> {
    let mut ty = Ty::Null;
    for p in parts {
        ty = match (ty, p.ty) {
            (Ty::Opaque(why), _) | (_, Ty::Opaque(why)) => return Err(format!("a value {why}")),
            (Ty::Null, t) | (t, Ty::Null) => t,
            (Ty::Untyped, t) | (t, Ty::Untyped) if t.is_text() => t,
            (Ty::Text { ordered: a }, Ty::Text { ordered: b }) => Ty::Text { ordered: a && b },
            (a, b) if a == b => a,
            (Ty::Int, Ty::Number) | (Ty::Number, Ty::Int) => Ty::Number,
            (a, b) if a.is_number() && b.is_number() => Ty::Real,
            (a, b) => return Err(format!("branches of a {} and a {}", a.name(), b.name())),
        };
    }
    Ok(ty)
}

pub(super) fn literal(v: &Value) -> Result<Sql, String> {
    match v {
        Value::Number(n, _) => {
            let exact_int = n.bytes().all(|b| b.is_ascii_digit());
            Ok(Sql::new(
                n.clone(),
                if exact_int && n.parse::<i64>().is_ok() {
                    Ty::Int
                } else {
                    Ty::Number
                },
            ))
        }
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Ok(Sql {
            text: sql_string(s),
            ty: Ty::Untyped,
            literal: Some(s.clone()),
        }),
        Value::Boolean(b) => Ok(Sql::new(if *b { "1" } else { "0" }.into(), Ty::Bool)),
        Value::Null => Ok(Sql::new("NULL".into(), Ty::Null)),
        other => Err(format!("the literal {other}")),
    }
}

/// The type a cast names, by how the copy stores it; `None` for a type the
/// copy does not know by name (an enum's, a domain's).
pub(super) fn named_type(data_type: &DataType) -> Option<Ty> {
    let name = data_type.to_string().to_lowercase();
    let base = name.split('(').next().unwrap_or_default().trim();
    Some(match base {
        "text" | "character varying" | "varchar" | "name" => Ty::Text { ordered: true },
        "boolean" | "bool" => Ty::Bool,
        "integer" | "int" | "int4" | "bigint" | "int8" | "smallint" | "int2" => Ty::Int,
        "double precision" | "float8" | "real" | "float4" => Ty::Real,
        "numeric" | "decimal" => Ty::Number,
        "date" => Ty::Date,
        "timestamp with time zone" | "timestamptz" => Ty::Timestamptz,
        "timestamp" | "timestamp without time zone" => Ty::Timestamp,
        "character" | "char" | "bpchar" => {
            Ty::Opaque("char(n), which PostgreSQL compares without its padding")
        }
        _ => return None,
    })
}

/// `x::type`: a literal becomes the stored form of its value in that type; a
/// column may only be cast to a type it is stored the same way as.
pub(super) fn cast(inner: Sql, data_type: &DataType) -> Result<Sql, String> {
    let target = named_type(data_type);
    if let Some(lit) = &inner.literal {
        let Some(target) = target else {
            // 'ok'::mood: a label, whose column decides what it is.
            return Ok(inner);
        };
        return literal_as(lit, target).ok_or_else(|| {
            format!("the literal '{lit}' as {data_type}, which pg2sqlite does not write")
        });
    }
    let Some(target) = target else {
        return match inner.ty {
            // A text column cast to its enum or domain type keeps its text.
            t if t.is_text() => Ok(inner),
            t => Err(format!("a cast of a {} to {data_type}", t.name())),
        };
    };
    let same = match (inner.ty, target) {
        (Ty::Null, _) => true,
        (a, Ty::Text { .. }) if a.is_text() => true,
        (Ty::Int, t) if t.is_number() => true,
        (Ty::Number | Ty::Real, Ty::Real) => true,
        (Ty::Number, Ty::Number) => true,
        (a, b) => a == b && !matches!(a, Ty::Opaque(_)),
    };
    if same {
        let ty = match (inner.ty, target) {
            // An enum or collated text keeps how it orders.
            (Ty::Text { ordered }, Ty::Text { .. }) => Ty::Text { ordered },
            (Ty::Null, t) => t,
            (_, t) => t,
        };
        Ok(Sql { ty, ..inner })
    } else {
        Err(format!(
            "a cast of a {} to {data_type}, which changes its stored form",
            inner.ty.name()
        ))
    }
}

/// A literal's text as the copy would store a value of type `ty`.
pub(super) fn literal_as(lit: &str, ty: Ty) -> Option<Sql> {
    let text = match ty {
        Ty::Text { .. } => {
            return Some(Sql {
                text: sql_string(lit),
                ty: Ty::Text { ordered: true },
                literal: Some(lit.to_owned()),
            })
        }
        Ty::Int => lit.trim().parse::<i64>().ok()?.to_string(),
        Ty::Real | Ty::Number => {
            let n: f64 = lit.trim().parse().ok()?;
            if !n.is_finite() {
                return None;
            }
            lit.trim().to_owned()
        }
        Ty::Bool => match lit.trim().to_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => "1".into(),
            "f" | "false" | "n" | "no" | "off" | "0" => "0".into(),
            _ => return None,
        },
        Ty::Date => {
            let days = time::parse_date(lit)?;
            let mut s = String::new();
            time::format_date(&mut s, days);
            sql_string(&s)
        }
        Ty::Timestamp => {
            let micros = time::parse_pg_timestamp(lit, TimestampStyle::Space)?;
            let mut s = String::new();
            time::format_timestamp(&mut s, micros, TimestampStyle::Space);
            sql_string(&s)
        }
        Ty::Timestamptz => sql_string(&time::unix_micros_text(time::parse_timestamp(lit)?)),
        Ty::Untyped | Ty::Null | Ty::Opaque(_) => return None,
    };
    Some(Sql::new(text, ty))
}

/// A form of a date or timestamp whose text order is the time order: the
/// stored form writes the fraction only when it is not zero, so `…:05Z` would
/// sort after `…:05.5Z`; padding it to six digits makes them comparable.
/// Exact from year 1 to 9999 (fixed-width years) and for ±infinity.
pub(super) fn time_key(s: Sql) -> Sql {
    let (whole, zone) = match s.ty {
        Ty::Timestamptz => (20, "Z"),
        Ty::Timestamp => (19, ""),
        _ => return s,
    };
    // A literal was converted to the stored form already: pad it here.
    if s.text.starts_with('\'') && s.text.len() == whole + 2 && !s.text.contains("infinity") {
        let inner = &s.text[1..s.text.len() - 1];
        let head = inner.strip_suffix(zone).unwrap_or(inner);
        return Sql::new(format!("'{head}.000000{zone}'"), s.ty);
    }
    let x = &s.text;
    Sql::new(
        format!(
            "(CASE WHEN length({x}) = {whole} THEN substr({x}, 1, 19) || '.000000{zone}' ELSE {x} END)"
        ),
        s.ty,
    )
}

/// A LIKE pattern as a GLOB pattern: `%` is `*`, `_` is `?`, `\` escapes, and
/// GLOB's own `*`, `?`, `[` are matched literally.
pub(super) fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '\\' => match chars.next() {
                Some(e) => push_glob_literal(&mut out, e),
                None => out.push('\\'),
            },
            c => push_glob_literal(&mut out, c),
        }
    }
    out
}

pub(super) fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' | '?' | '[' => {
            out.push('[');
            out.push(c);
            out.push(']');
        }
        c => out.push(c),
    }
}
