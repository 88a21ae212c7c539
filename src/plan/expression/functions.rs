//! Functions and aggregates in an expression: which SQLite has with
//! PostgreSQL's meaning on the stored values, and with which arguments.

use sqlparser::ast::{self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::literals::{common_type, int_literal};
use super::{Purpose, Sql, Translator, Ty};

pub(super) fn function_args(f: &ast::Function) -> Result<Vec<&Expr>, String> {
    match &f.args {
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::Subquery(_) => Err(format!("{}: a subquery", f.name)),
        FunctionArguments::List(l) => {
            if l.duplicate_treatment.is_some() || !l.clauses.is_empty() {
                return Err(format!("{}(…) with DISTINCT or ORDER BY", f.name));
            }
            l.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    _ => Err(format!("{}(…) with a named or * argument", f.name)),
                })
                .collect()
        }
    }
}

impl Translator<'_> {
    pub(super) fn text_arg(&self, e: &Expr, f: &str) -> Result<Sql, String> {
        let s = self.expr(e)?;
        if s.ty.is_text() || s.ty == Ty::Null {
            Ok(s)
        } else {
            Err(format!("{f}() of a {}", s.ty.name()))
        }
    }

    pub(super) fn function(&self, f: &ast::Function) -> Result<Sql, String> {
        if f.filter.is_some() || f.over.is_some() || !f.within_group.is_empty() {
            return Err(format!("{}(…) with FILTER, OVER or WITHIN GROUP", f.name));
        }
        let name = f.name.to_string().to_lowercase();
        let name = name.trim_start_matches("pg_catalog.").trim_matches('"');
        if self.purpose == Purpose::Query {
            if let Some(sql) = self.aggregate(name, f)? {
                return Ok(sql);
            }
        }
        let args = function_args(f)?;
        match (name, args.as_slice()) {
            ("coalesce", [one]) => self.expr(one),
            ("coalesce", many) if !many.is_empty() => {
                let parts: Vec<Sql> = many
                    .iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<_, _>>()?;
                let ty = common_type(&parts)?;
                let texts: Vec<String> = parts.into_iter().map(|p| p.text).collect();
                Ok(Sql::new(format!("coalesce({})", texts.join(", ")), ty))
            }
            ("nullif", [a, b]) => {
                let (a, b) = self.equatable(a, b)?;
                Ok(Sql::new(format!("nullif({}, {})", a.text, b.text), a.ty))
            }
            // SQLite folds the case of ASCII letters only. In a rule that is,
            // for other letters, a looser rule (a rule it makes stricter stops
            // the sync on the copied rows); a value (a generated column, a
            // view's) would differ from PostgreSQL's.
            ("lower" | "upper", [x]) => {
                if !matches!(self.purpose, Purpose::Condition | Purpose::IndexKey) {
                    return Err(format!(
                        "{name}() as a value: SQLite folds the case of ASCII letters only"
                    ));
                }
                let s = self.text_arg(x, name)?;
                Ok(Sql::new(format!("{name}({})", s.text), s.ty))
            }
            ("length" | "char_length" | "character_length", [x]) => {
                let s = self.text_arg(x, name)?;
                Ok(Sql::new(format!("length({})", s.text), Ty::Int))
            }
            ("btrim" | "ltrim" | "rtrim", [x]) | ("btrim" | "ltrim" | "rtrim", [x, _]) => {
                let s = self.text_arg(x, name)?;
                let f = if name == "btrim" { "trim" } else { name };
                let chars = match args.get(1) {
                    Some(c) => format!(", {}", self.text_arg(c, name)?.text),
                    None => String::new(),
                };
                Ok(Sql::new(format!("{f}({}{chars})", s.text), s.ty))
            }
            ("substr" | "substring", _) => self.substr(&args),
            ("abs", [x]) => {
                let s = self.expr(x)?;
                if !s.ty.is_number() {
                    return Err(format!("abs() of a {}", s.ty.name()));
                }
                Ok(Sql::new(format!("abs({})", s.text), s.ty))
            }
            ("round", [x]) | ("round", [x, _]) => {
                let s = self.expr(x)?;
                let digits = match args.get(1) {
                    Some(d) => {
                        Some(int_literal(d).ok_or("round() to a computed number of places")?)
                    }
                    None => None,
                };
                match (s.ty, digits) {
                    (Ty::Int, None) => Ok(s),
                    (Ty::Int, Some(d)) if d >= 0 => Ok(s),
                    // A numeric is a double in SQLite: 2.675 is 2.67499…, which
                    // SQLite rounds down where PostgreSQL's decimal rounds up;
                    // PostgreSQL rounds a double half to even, SQLite away.
                    (t, _) => Err(format!("round() of a {}", t.name())),
                }
            }
            (
                "now"
                | "current_timestamp"
                | "current_date"
                | "localtimestamp"
                | "clock_timestamp"
                | "statement_timestamp"
                | "transaction_timestamp",
                _,
            ) => Err(format!(
                "{name}() reads the clock{}",
                if self.purpose == Purpose::Default {
                    " in a form the column does not store"
                } else {
                    ", which only a default may"
                }
            )),
            _ => Err(format!("the function {}()", f.name)),
        }
    }

    /// An aggregate of a view's query, `None` for any other function.
    /// Only those whose SQLite result is PostgreSQL's: count; sum of integers
    /// (of doubles or numerics the order of the additions changes the last
    /// digits); min and max of what orders alike.
    fn aggregate(&self, name: &str, f: &ast::Function) -> Result<Option<Sql>, String> {
        if !matches!(
            name,
            "count"
                | "sum"
                | "min"
                | "max"
                | "avg"
                | "array_agg"
                | "string_agg"
                | "bool_and"
                | "bool_or"
                | "every"
                | "json_agg"
                | "jsonb_agg"
        ) {
            return Ok(None);
        }
        let FunctionArguments::List(list) = &f.args else {
            return Err(format!("{name}() without arguments"));
        };
        if !list.clauses.is_empty() {
            return Err(format!("{name}(…) with ORDER BY"));
        }
        let distinct = match list.duplicate_treatment {
            Some(ast::DuplicateTreatment::Distinct) => "DISTINCT ",
            _ => "",
        };
        let arg = match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if name == "count" => {
                return Ok(Some(Sql::new("count(*)".into(), Ty::Int)))
            }
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => self.expr(e)?,
            _ => return Err(format!("{name}() with other arguments than one value")),
        };
        let ty = match (name, arg.ty) {
            (_, Ty::Opaque(why)) => return Err(format!("{name}() of a value {why}")),
            ("count", _) => Ty::Int,
            ("sum", Ty::Int) => Ty::Int,
            ("min" | "max", t @ (Ty::Int | Ty::Real | Ty::Number | Ty::Date)) => t,
            ("min" | "max", t @ Ty::Text { ordered: true }) => t,
            (_, t) => return Err(format!("{name}() of a {}", t.name())),
        };
        Ok(Some(Sql::new(
            format!("{name}({distinct}{})", arg.text),
            ty,
        )))
    }

    /// substr(text, start[, count]) with a literal start of at least 1:
    /// SQLite counts a negative start from the end, PostgreSQL does not.
    pub(super) fn substr(&self, args: &[&Expr]) -> Result<Sql, String> {
        let (s, rest) = match args {
            [s, rest @ ..] if (1..=2).contains(&rest.len()) => (self.text_arg(s, "substr")?, rest),
            _ => return Err("substr() with other arguments than (text, start[, count])".into()),
        };
        let mut nums = Vec::new();
        for (i, a) in rest.iter().enumerate() {
            match int_literal(a) {
                Some(n) if n >= i64::from(i == 0) => nums.push(n.to_string()),
                _ => {
                    return Err(
                        "substr() with a start or count that is not a positive literal".into(),
                    )
                }
            }
        }
        Ok(Sql::new(
            format!("substr({}, {})", s.text, nums.join(", ")),
            s.ty,
        ))
    }
}
