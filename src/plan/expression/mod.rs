//! PostgreSQL expressions, as `pg_get_expr` prints them, translated into
//! SQLite expressions that mean the same on the values pg2sqlite stores.
//!
//! The text is parsed (sqlparser, PostgreSQL dialect) and the tree walked;
//! nothing is done by string replacement. Every sub-expression gets a type
//! that says how SQLite holds its values ([`Ty`]), and an operator is
//! translated only when SQLite's operator on those stored values gives
//! PostgreSQL's answer: `price > 0` on a numeric kept with NUMERIC affinity
//! compares numbers in both, but on a numeric kept as TEXT SQLite would
//! compare strings, so that translation is refused with the reason. What is
//! refused is listed by the plan, never half-created.
//!
//! The subset: comparisons, AND/OR/NOT, IS [NOT] NULL/TRUE/FALSE/DISTINCT
//! FROM, IN lists and `= ANY (ARRAY[…])`, BETWEEN, LIKE (as GLOB: PostgreSQL's
//! LIKE is case-sensitive, SQLite's is not), arithmetic, `||`, CASE,
//! COALESCE/NULLIF, lower/upper/length/trim/substr/abs/round, casts that keep
//! the stored form, literals (dates and timestamps in the stored form), and
//! the current time as a default.

use sqlparser::ast::{self, BinaryOperator, CastKind, Expr, UnaryOperator, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::sink::ddl::quote;

mod clock;
mod functions;
mod literals;

use clock::{current_time, current_time_sql};
pub use literals::number_literal;
use literals::{array_elements, cast, common_type, like_to_glob, literal, time_key};

/// How SQLite holds the values of an expression, as far as an operator cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// 0 or 1.
    Bool,
    /// Exact integers.
    Int,
    /// Doubles.
    Real,
    /// A numeric kept with NUMERIC affinity: an integer or a double, compared
    /// as numbers.
    Number,
    /// Text. `ordered` when PostgreSQL orders it by bytes too (a C collation, a
    /// literal); an enum's labels or a linguistic collation are not.
    Text { ordered: bool },
    /// A string literal whose type the context decides (`'ok'::mood`).
    Untyped,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    Timestamp,
    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
    Timestamptz,
    /// NULL, which goes with any type.
    Null,
    /// A value no operator may look into (a numeric kept as TEXT, char(n), a
    /// value in a map's own format, …): only IS [NOT] NULL is translated.
    Opaque(&'static str),
}

impl Ty {
    fn is_number(self) -> bool {
        matches!(self, Ty::Int | Ty::Real | Ty::Number)
    }
    fn is_text(self) -> bool {
        matches!(self, Ty::Text { .. } | Ty::Untyped)
    }
    fn is_time(self) -> bool {
        matches!(self, Ty::Date | Ty::Timestamp | Ty::Timestamptz)
    }
    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::Int => "integer",
            Ty::Real => "double",
            Ty::Number => "numeric",
            Ty::Text { .. } | Ty::Untyped => "text",
            Ty::Date => "date",
            Ty::Timestamp => "timestamp",
            Ty::Timestamptz => "timestamptz",
            Ty::Null => "NULL",
            Ty::Opaque(why) => why,
        }
    }
}

/// A column an expression may name: its SQLite spelling and type.
#[derive(Debug, Clone)]
pub struct ColumnRef {
    /// Already quoted, qualified where the query needs it.
    pub sql: String,
    pub ty: Ty,
}

/// What names mean where the expression stands.
pub trait Scope {
    /// The column `name`, of the table called `qualifier` when given.
    fn column(&self, qualifier: Option<&str>, name: &str) -> Result<ColumnRef, String>;
}

/// What the expression is for: the current time is a default's business only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A CHECK, an index predicate, a view's WHERE: must be a boolean.
    Condition,
    /// An index key: equal keys must stay equal; a looser index (fewer
    /// equal keys) never refuses what PostgreSQL held.
    IndexKey,
    /// A stored value (a generated column): must be PostgreSQL's value.
    Value,
    /// A column default: may read the clock.
    Default,
    /// A view's query: may aggregate.
    Query,
}

/// A translated (sub-)expression.
#[derive(Debug, Clone)]
pub struct Sql {
    pub text: String,
    pub ty: Ty,
    /// The literal's value, for a string literal (a LIKE pattern must be one).
    literal: Option<String>,
}

impl Sql {
    fn new(text: String, ty: Ty) -> Sql {
        Sql {
            text,
            ty,
            literal: None,
        }
    }
}

/// Parses one PostgreSQL expression.
pub fn parse(pg: &str) -> Result<Expr, String> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(pg)
        .map_err(|e| format!("cannot parse it: {e}"))?;
    let e = parser
        .parse_expr()
        .map_err(|e| format!("cannot parse it: {e}"))?;
    match parser.peek_token().token {
        Token::EOF => Ok(e),
        t => Err(format!(
            "cannot parse it: unexpected {t} after the expression"
        )),
    }
}

/// A boolean condition (CHECK, index predicate).
pub fn condition(pg: &str, scope: &dyn Scope) -> Result<String, String> {
    condition_of(&parse(pg)?, scope, Purpose::Condition)
}

/// A condition in a view's query (WHERE, ON, HAVING).
pub fn query_condition(e: &Expr, scope: &dyn Scope) -> Result<String, String> {
    condition_of(e, scope, Purpose::Query)
}

fn condition_of(e: &Expr, scope: &dyn Scope, purpose: Purpose) -> Result<String, String> {
    let sql = Translator { scope, purpose }.expr(e)?;
    match sql.ty {
        Ty::Bool | Ty::Null => Ok(sql.text),
        t => Err(format!("it is a {}, not a condition", t.name())),
    }
}

/// A value stored in a column of type `column`: a default with
/// [`Purpose::Default`], a generated column with [`Purpose::Value`].
pub fn value(pg: &str, scope: &dyn Scope, purpose: Purpose, column: Ty) -> Result<String, String> {
    let e = parse(pg)?;
    // The clock, in the column's own stored form.
    if purpose == Purpose::Default {
        if let Some(now) = current_time(&e) {
            return current_time_sql(now, column);
        }
    }
    let sql = Translator { scope, purpose }.expr(&e)?;
    match column {
        _ if stores_as(sql.ty, column) => Ok(sql.text),
        Ty::Opaque(why) => Err(format!("the column holds {why}")),
        _ => Err(format!(
            "it gives a {} where the column stores a {}",
            sql.ty.name(),
            column.name()
        )),
    }
}

/// An index key parsed already (a looser key than PostgreSQL's, such as
/// ASCII-only `lower()`, never refuses its rows).
pub fn index_key(e: &Expr, scope: &dyn Scope) -> Result<String, String> {
    unstored_value(e, scope, Purpose::IndexKey).map(|(sql, _)| sql)
}

/// A value of a view's query (a column, a GROUP BY key), with how SQLite
/// holds it.
pub fn query_value(e: &Expr, scope: &dyn Scope) -> Result<(String, Ty), String> {
    unstored_value(e, scope, Purpose::Query)
}

/// A value no column stores: any type but an opaque one.
fn unstored_value(e: &Expr, scope: &dyn Scope, purpose: Purpose) -> Result<(String, Ty), String> {
    let sql = Translator { scope, purpose }.expr(e)?;
    match sql.ty {
        Ty::Opaque(why) => Err(format!("its value is {why}")),
        ty => Ok((sql.text, ty)),
    }
}

/// A view's ORDER BY key, in a form whose SQLite order is PostgreSQL's.
pub fn query_order_key(e: &Expr, scope: &dyn Scope) -> Result<String, String> {
    let sql = Translator {
        scope,
        purpose: Purpose::Query,
    }
    .expr(e)?;
    match sql.ty {
        Ty::Int | Ty::Real | Ty::Number | Ty::Date | Ty::Text { ordered: true } => Ok(sql.text),
        Ty::Timestamp | Ty::Timestamptz => Ok(time_key(sql).text),
        t => Err(format!("ORDER BY a {}", t.name())),
    }
}

/// The text of a constant string, maybe cast (`'{}'::text[]`).
pub fn string_literal(pg: &str) -> Option<String> {
    match strip_casts(&parse(pg).ok()?) {
        Expr::Value(v) => string_value(&v.value).map(str::to_owned),
        _ => None,
    }
}

/// Whether a value of type `got` is stored in a column of type `want` in the
/// form the copy writes there.
fn stores_as(got: Ty, want: Ty) -> bool {
    match (got, want) {
        (Ty::Null, _) => true,
        (Ty::Untyped | Ty::Text { .. }, Ty::Text { .. }) => true,
        (Ty::Int, Ty::Int | Ty::Real | Ty::Number) => true,
        (Ty::Real | Ty::Number, Ty::Real | Ty::Number) => true,
        (a, b) => a == b && !matches!(a, Ty::Opaque(_)),
    }
}

/// The SQLite text of a string literal.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Translator<'a> {
    scope: &'a dyn Scope,
    purpose: Purpose,
}

impl Translator<'_> {
    fn expr(&self, e: &Expr) -> Result<Sql, String> {
        match e {
            Expr::Nested(inner) => {
                let s = self.expr(inner)?;
                // `(name)::text`: a name or literal needs no parentheses.
                if matches!(
                    **inner,
                    Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_)
                ) {
                    return Ok(s);
                }
                Ok(Sql {
                    text: format!("({})", s.text),
                    ..s
                })
            }
            Expr::Identifier(id) => self.column(None, id),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, c] => self.column(Some(&q.value), c),
                _ => Err(format!("the name {e} has more parts than table.column")),
            },
            Expr::Value(v) => literal(&v.value),
            Expr::TypedString(ts) => {
                let lit = literal(&ts.value.value)?;
                cast(lit, &ts.data_type)
            }
            Expr::Cast {
                kind: CastKind::Cast | CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
            } => {
                let inner = self.expr(expr)?;
                cast(inner, data_type)
            }
            Expr::UnaryOp { op, expr } => {
                let s = self.expr(expr)?;
                match op {
                    UnaryOperator::Not if matches!(s.ty, Ty::Bool | Ty::Null) => {
                        Ok(Sql::new(format!("NOT {}", s.text), Ty::Bool))
                    }
                    UnaryOperator::Minus | UnaryOperator::Plus if s.ty.is_number() => Ok(Sql::new(
                        format!(
                            "{}{}",
                            if *op == UnaryOperator::Minus {
                                "-"
                            } else {
                                "+"
                            },
                            s.text
                        ),
                        s.ty,
                    )),
                    _ => Err(format!("{op} on a {}", s.ty.name())),
                }
            }
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            Expr::IsNull(x) => Ok(Sql::new(
                format!("{} IS NULL", self.expr(x)?.text),
                Ty::Bool,
            )),
            Expr::IsNotNull(x) => Ok(Sql::new(
                format!("{} IS NOT NULL", self.expr(x)?.text),
                Ty::Bool,
            )),
            Expr::IsTrue(x) => self.is_bool(x, "IS TRUE"),
            Expr::IsNotTrue(x) => self.is_bool(x, "IS NOT TRUE"),
            Expr::IsFalse(x) => self.is_bool(x, "IS FALSE"),
            Expr::IsNotFalse(x) => self.is_bool(x, "IS NOT FALSE"),
            Expr::IsDistinctFrom(a, b) => {
                let (a, b) = self.equatable(a, b)?;
                Ok(Sql::new(format!("{} IS NOT {}", a.text, b.text), Ty::Bool))
            }
            Expr::IsNotDistinctFrom(a, b) => {
                let (a, b) = self.equatable(a, b)?;
                Ok(Sql::new(format!("{} IS {}", a.text, b.text), Ty::Bool))
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, lo) = self.ordered(expr, low)?;
                let (_, hi) = self.ordered(expr, high)?;
                Ok(Sql::new(
                    format!(
                        "{} {}BETWEEN {} AND {}",
                        x.text,
                        if *negated { "NOT " } else { "" },
                        lo.text,
                        hi.text
                    ),
                    Ty::Bool,
                ))
            }
            Expr::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                global: false,
            } => self.in_list(expr, list, *negated),
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                is_some: _,
            } => self.in_list(left, array_elements(right)?, false),
            Expr::AllOp {
                left,
                compare_op: BinaryOperator::NotEq,
                right,
            } => self.in_list(left, array_elements(right)?, true),
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.like(expr, pattern, *negated),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            Expr::Function(f) => self.function(f),
            Expr::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters: None,
            } => {
                let s = self.text_arg(expr, "trim")?;
                let chars = match trim_what {
                    Some(w) => Some(self.text_arg(w, "trim")?),
                    None => None,
                };
                let f = match trim_where {
                    None | Some(ast::TrimWhereField::Both) => "trim",
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                };
                Ok(Sql::new(
                    match chars {
                        Some(c) => format!("{f}({}, {})", s.text, c.text),
                        None => format!("{f}({})", s.text),
                    },
                    s.ty,
                ))
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![expr.as_ref()];
                args.extend(substring_from.as_deref());
                args.extend(substring_for.as_deref());
                self.substr(&args)
            }
            other => Err(format!("{other} is outside what pg2sqlite translates")),
        }
    }

    fn column(&self, qualifier: Option<&str>, id: &ast::Ident) -> Result<Sql, String> {
        let c = self.scope.column(qualifier, &id.value)?;
        Ok(Sql::new(c.sql, c.ty))
    }

    fn is_bool(&self, x: &Expr, test: &str) -> Result<Sql, String> {
        let s = self.expr(x)?;
        match s.ty {
            Ty::Bool | Ty::Null => Ok(Sql::new(format!("{} {test}", s.text), Ty::Bool)),
            t => Err(format!("{test} on a {}", t.name())),
        }
    }

    /// Two operands `=` may compare: the same kind of stored value.
    fn equatable(&self, a: &Expr, b: &Expr) -> Result<(Sql, Sql), String> {
        let a = self.expr(a)?;
        let b = self.expr(b)?;
        let ok = match (a.ty, b.ty) {
            (Ty::Opaque(why), _) | (_, Ty::Opaque(why)) => {
                return Err(format!("comparing a value that is {why}"))
            }
            (Ty::Null, _) | (_, Ty::Null) => true,
            (x, y) if x.is_number() && y.is_number() => true,
            (x, y) if x.is_text() && y.is_text() => true,
            (x, y) => x == y,
        };
        if ok {
            Ok((a, b))
        } else {
            Err(format!(
                "comparing a {} with a {}",
                a.ty.name(),
                b.ty.name()
            ))
        }
    }

    /// Two operands `<` may compare, each in a form whose SQLite order is
    /// PostgreSQL's order.
    fn ordered(&self, a: &Expr, b: &Expr) -> Result<(Sql, Sql), String> {
        let (a, b) = self.equatable(a, b)?;
        match (a.ty, b.ty) {
            (Ty::Text { ordered: false }, _) | (_, Ty::Text { ordered: false }) => Err(
                "ordering text that PostgreSQL orders by a collation or an enum's order, \
                 SQLite by bytes"
                    .into(),
            ),
            (Ty::Bool, _) | (_, Ty::Bool) => Err("ordering booleans".into()),
            (x, y) if x.is_time() || y.is_time() => Ok((time_key(a), time_key(b))),
            _ => Ok((a, b)),
        }
    }

    fn binary(&self, left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Sql, String> {
        use BinaryOperator as B;
        let bool_of = |a: Sql, sql_op: &str, b: Sql| {
            Sql::new(format!("{} {sql_op} {}", a.text, b.text), Ty::Bool)
        };
        match op {
            B::And | B::Or => {
                let a = self.expr(left)?;
                let b = self.expr(right)?;
                for s in [&a, &b] {
                    if !matches!(s.ty, Ty::Bool | Ty::Null) {
                        return Err(format!("{op} on a {}", s.ty.name()));
                    }
                }
                Ok(bool_of(a, &op.to_string(), b))
            }
            B::Eq => {
                let (a, b) = self.equatable(left, right)?;
                Ok(bool_of(a, "=", b))
            }
            B::NotEq => {
                let (a, b) = self.equatable(left, right)?;
                Ok(bool_of(a, "<>", b))
            }
            B::Lt | B::LtEq | B::Gt | B::GtEq => {
                let (a, b) = self.ordered(left, right)?;
                Ok(bool_of(a, &op.to_string(), b))
            }
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                let a = self.expr(left)?;
                let b = self.expr(right)?;
                let ty = match (a.ty, b.ty) {
                    (Ty::Null, t) | (t, Ty::Null) if t.is_number() => t,
                    (Ty::Int, Ty::Int) => Ty::Int,
                    // PostgreSQL turns the numeric into a double too.
                    (Ty::Real, y) | (y, Ty::Real) if y.is_number() => Ty::Real,
                    // SQLite holds a numeric as a double (or an integer, which
                    // it would divide as one); PostgreSQL's decimal arithmetic
                    // does not round where doubles do (0.1 + 0.2).
                    (Ty::Number, y) | (y, Ty::Number) if y.is_number() => {
                        return Err(format!(
                            "{op} on a numeric: SQLite computes it with doubles, which round \
                             where PostgreSQL's decimals do not"
                        ))
                    }
                    (x, y) => return Err(format!("{op} on a {} and a {}", x.name(), y.name())),
                };
                Ok(Sql::new(format!("{} {op} {}", a.text, b.text), ty))
            }
            B::StringConcat => {
                let a = self.expr(left)?;
                let b = self.expr(right)?;
                for s in [&a, &b] {
                    // Integers and text print alike in both; doubles, dates and
                    // booleans do not.
                    if !(s.ty.is_text() || matches!(s.ty, Ty::Int | Ty::Null)) {
                        return Err(format!("|| on a {}", s.ty.name()));
                    }
                }
                Ok(Sql::new(
                    format!("{} || {}", a.text, b.text),
                    Ty::Text {
                        ordered: [a.ty, b.ty]
                            .iter()
                            .all(|t| !matches!(t, Ty::Text { ordered: false })),
                    },
                ))
            }
            B::PGLikeMatch => self.like(left, right, false),
            B::PGNotLikeMatch => self.like(left, right, true),
            B::PGILikeMatch | B::PGNotILikeMatch => Err(
                "ILIKE: PostgreSQL folds the case of every letter, SQLite's LIKE only of ASCII"
                    .into(),
            ),
            B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                Err("regular expressions (SQLite has no REGEXP function)".into())
            }
            other => Err(format!("the operator {other}")),
        }
    }

    /// LIKE with a literal pattern, as GLOB: PostgreSQL's LIKE is
    /// case-sensitive, as GLOB is; SQLite's LIKE folds ASCII case.
    fn like(&self, expr: &Expr, pattern: &Expr, negated: bool) -> Result<Sql, String> {
        let s = self.expr(expr)?;
        if !s.ty.is_text() {
            return Err(format!("LIKE on a {}", s.ty.name()));
        }
        let p = self.expr(pattern)?;
        let Some(pattern) = p.literal.filter(|_| p.ty.is_text()) else {
            return Err("LIKE with a pattern that is not a literal".into());
        };
        Ok(Sql::new(
            format!(
                "{} {}GLOB {}",
                s.text,
                if negated { "NOT " } else { "" },
                sql_string(&like_to_glob(&pattern))
            ),
            Ty::Bool,
        ))
    }

    fn in_list(&self, expr: &Expr, list: &[Expr], negated: bool) -> Result<Sql, String> {
        if list.is_empty() {
            return Err("an empty IN list".into());
        }
        let mut items = Vec::with_capacity(list.len());
        let mut x = None;
        for item in list {
            let (a, b) = self.equatable(expr, item)?;
            x.get_or_insert(a);
            items.push(b.text);
        }
        let x = x.map(|a| a.text).unwrap_or_default();
        Ok(Sql::new(
            format!(
                "{x} {}IN ({})",
                if negated { "NOT " } else { "" },
                items.join(", ")
            ),
            Ty::Bool,
        ))
    }

    fn case(
        &self,
        operand: Option<&Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&Expr>,
    ) -> Result<Sql, String> {
        let mut text = String::from("CASE");
        if let Some(o) = operand {
            text.push(' ');
            text.push_str(&self.expr(o)?.text);
        }
        let mut results = Vec::new();
        for w in conditions {
            let cond = match operand {
                Some(o) => self.equatable(o, &w.condition)?.1,
                None => self.expr(&w.condition)?,
            };
            if operand.is_none() && !matches!(cond.ty, Ty::Bool | Ty::Null) {
                return Err(format!("CASE WHEN on a {}", cond.ty.name()));
            }
            let r = self.expr(&w.result)?;
            text.push_str(&format!(" WHEN {} THEN {}", cond.text, r.text));
            results.push(r);
        }
        if let Some(e) = else_result {
            let r = self.expr(e)?;
            text.push_str(&format!(" ELSE {}", r.text));
            results.push(r);
        }
        text.push_str(" END");
        Ok(Sql::new(text, common_type(&results)?))
    }
}

/// A column of a table, for [`Scope`]: names as PostgreSQL spells them.
pub struct TableScope<'a> {
    /// (PostgreSQL name, SQLite name, type)
    pub columns: &'a [(String, String, Ty)],
    /// The name domain CHECKs use for the column they check (`VALUE`).
    pub value: Option<usize>,
}

impl Scope for TableScope<'_> {
    fn column(&self, qualifier: Option<&str>, name: &str) -> Result<ColumnRef, String> {
        if qualifier.is_some() {
            return Err(format!(
                "the qualified name {}.{name}",
                qualifier.unwrap_or_default()
            ));
        }
        if let Some(i) = self.value.filter(|_| name.eq_ignore_ascii_case("value")) {
            let (_, sink, ty) = &self.columns[i];
            return Ok(ColumnRef {
                sql: quote(sink),
                ty: *ty,
            });
        }
        match self.columns.iter().find(|(pg, _, _)| pg == name) {
            Some((_, sink, ty)) => Ok(ColumnRef {
                sql: quote(sink),
                ty: *ty,
            }),
            None => Err(format!("column {name} is not copied")),
        }
    }
}

fn strip_casts(e: &Expr) -> &Expr {
    match e {
        Expr::Cast { expr, .. } | Expr::Nested(expr) => strip_casts(expr),
        e => e,
    }
}

fn string_value(v: &Value) -> Option<&str> {
    match v {
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
