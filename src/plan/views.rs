//! PostgreSQL views as SQLite views: a view whose query is one SELECT over
//! copied tables (inner and left joins, a WHERE, expressions the translator
//! takes) is created after the data; any other is listed with the reason.
//! Materialized views hold a snapshot SQLite has no equivalent of: listed.

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, JoinConstraint, JoinOperator, ObjectNamePart, SelectItem, SetExpr,
    Statement, TableFactor, TableWithJoins,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::expression::{self, ColumnRef, Scope};
use super::{sqlite_table_name, SyncPlan, TablePlan};
use crate::sink::ddl::{quote, SinkView};
use crate::source::catalog::PgView;

/// Plans the views: those that translate into `plan.views`, the others into
/// `plan.not_expressed`.
pub fn plan_views(plan: &mut SyncPlan, views: &[PgView]) {
    for v in views {
        let name = sqlite_table_name(&v.schema, &v.name);
        let taken = plan
            .tables
            .iter()
            .any(|t| t.sink.name.eq_ignore_ascii_case(&name))
            || name.to_lowercase().starts_with("sqlite_");
        let planned = if v.materialized {
            Err("a materialized view holds a snapshot; SQLite has no such thing".to_owned())
        } else if taken {
            Err(format!("its SQLite name {name} is taken"))
        } else {
            translate(v, &plan.tables).map(|select| SinkView {
                // The app's own view of that name, in a target it made, stays.
                sql: format!(
                    "CREATE VIEW IF NOT EXISTS {} ({}) AS {select}",
                    quote(&name),
                    v.columns
                        .iter()
                        .map(|c| quote(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                name,
            })
        };
        match planned {
            Ok(view) => plan.views.push(view),
            Err(reason) => plan
                .not_expressed
                .push(format!("{}: not created: {reason}", v.describe())),
        }
    }
}

/// The tables a view's FROM names, by the name its query uses for each.
struct FromScope<'a> {
    tables: Vec<(String, &'a TablePlan)>,
}

impl Scope for FromScope<'_> {
    fn column(&self, qualifier: Option<&str>, name: &str) -> Result<ColumnRef, String> {
        let mut found = self
            .tables
            .iter()
            .filter(|(alias, _)| qualifier.is_none_or(|q| q == alias))
            .filter_map(|(alias, t)| {
                let i = t.copy.column_names.iter().position(|c| c == name)?;
                Some(ColumnRef {
                    sql: format!("{}.{}", quote(alias), quote(&t.sink.columns[i].name)),
                    ty: t.value_types[i],
                })
            });
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c),
            (Some(_), Some(_)) => Err(format!("the column name {name} is ambiguous")),
            (None, _) => Err(format!(
                "column {}{name} is not copied",
                qualifier.map(|q| format!("{q}.")).unwrap_or_default()
            )),
        }
    }
}

fn translate(v: &PgView, tables: &[TablePlan]) -> Result<String, String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &v.definition)
        .map_err(|e| format!("cannot parse its query: {e}"))?;
    let query = match statements.as_slice() {
        [Statement::Query(q)] => q,
        _ => return Err("its definition is not one query".into()),
    };
    if query.with.is_some()
        || query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
    {
        return Err("WITH, ORDER BY, LIMIT or FETCH".into());
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("UNION, INTERSECT, EXCEPT or VALUES".into());
    };
    let plain_group_by =
        matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if select.having.is_some() || !plain_group_by || select.top.is_some() || select.into.is_some() {
        return Err("GROUP BY, HAVING or aggregates".into());
    }
    let distinct = match &select.distinct {
        None => "",
        Some(Distinct::Distinct) => "DISTINCT ",
        Some(_) => return Err("DISTINCT ON".into()),
    };
    let mut scope = FromScope { tables: Vec::new() };
    let mut from_sql = Vec::new();
    for twj in &select.from {
        from_sql.push(joined(twj, v, tables, &mut scope)?);
    }
    if from_sql.is_empty() {
        return Err("a query without FROM".into());
    }
    let mut items = Vec::new();
    for item in &select.projection {
        let e = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => return Err("a * in its column list".into()),
        };
        if contains_aggregate(e) {
            return Err("GROUP BY, HAVING or aggregates".into());
        }
        items.push(expression::value_of(e, &scope)?);
    }
    if items.len() != v.columns.len() {
        return Err("its column list does not match its columns".into());
    }
    let mut sql = format!(
        "SELECT {distinct}{} FROM {}",
        items.join(", "),
        from_sql.join(", ")
    );
    if let Some(w) = &select.selection {
        sql.push_str(" WHERE ");
        sql.push_str(&expression::condition_of(w, &scope)?);
    }
    Ok(sql)
}

/// A FROM item with its joins (PostgreSQL prints `FROM (a JOIN b ON …)`).
fn joined<'a>(
    twj: &TableWithJoins,
    v: &PgView,
    tables: &'a [TablePlan],
    scope: &mut FromScope<'a>,
) -> Result<String, String> {
    let mut item = factor(&twj.relation, v, tables, scope)?;
    for j in &twj.joins {
        let (kind, constraint) = match &j.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => ("JOIN", c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => ("LEFT JOIN", c),
            _ => return Err("a join other than INNER or LEFT".into()),
        };
        let right = factor(&j.relation, v, tables, scope)?;
        let on = match constraint {
            JoinConstraint::On(e) => expression::condition_of(e, scope)?,
            _ => return Err("a join with USING or NATURAL".into()),
        };
        item = format!("{item} {kind} {right} ON {on}");
    }
    Ok(item)
}

/// One side of a join: a table, or joins in parentheses.
fn factor<'a>(
    f: &TableFactor,
    v: &PgView,
    tables: &'a [TablePlan],
    scope: &mut FromScope<'a>,
) -> Result<String, String> {
    match f {
        TableFactor::NestedJoin {
            table_with_joins,
            alias: None,
        } => Ok(format!("({})", joined(table_with_joins, v, tables, scope)?)),
        other => table(other, v, tables, scope),
    }
}

fn contains_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => matches!(
            f.name.to_string().to_lowercase().as_str(),
            "count"
                | "sum"
                | "min"
                | "max"
                | "avg"
                | "array_agg"
                | "string_agg"
                | "bool_and"
                | "bool_or"
        ),
        Expr::Nested(x) | Expr::Cast { expr: x, .. } => contains_aggregate(x),
        _ => false,
    }
}

/// A FROM item: a copied table, by the name the view's query gives it.
fn table<'a>(
    f: &TableFactor,
    v: &PgView,
    tables: &'a [TablePlan],
    scope: &mut FromScope<'a>,
) -> Result<String, String> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = f
    else {
        return Err("a subquery or function in its FROM".into());
    };
    let parts: Vec<&str> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => Ok(id.value.as_str()),
            ObjectNamePart::Function(_) => Err(format!("the name {name}")),
        })
        .collect::<Result<_, _>>()?;
    let (schema, relation) = match parts.as_slice() {
        [t] => (v.schema.as_str(), *t),
        [s, t] => (*s, *t),
        _ => return Err(format!("the name {name}")),
    };
    let found = tables
        .iter()
        .find(|t| t.source_name == format!("{schema}.{relation}"))
        .or_else(|| {
            // pg_get_viewdef leaves out the schema of tables on the search path.
            (parts.len() == 1)
                .then(|| {
                    tables
                        .iter()
                        .find(|t| t.source_name == format!("public.{relation}"))
                })
                .flatten()
        })
        .ok_or_else(|| format!("it reads {name}, which is not a copied table"))?;
    if found.sink.existing {
        return Err(format!(
            "it reads {name}, a table of the app's own schema, which pg2sqlite does not change"
        ));
    }
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return Err("a table alias with column names".into());
    }
    let used = alias.as_ref().map_or(relation, |a| a.name.value.as_str());
    if scope.tables.iter().any(|(a, _)| a == used) {
        return Err(format!("the name {used} is used twice"));
    }
    scope.tables.push((used.to_owned(), found));
    Ok(format!("{} AS {}", quote(&found.sink.name), quote(used)))
}
