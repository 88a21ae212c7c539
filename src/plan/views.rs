//! PostgreSQL views as SQLite views: a view whose query is one SELECT over
//! copied tables (inner and left joins, WHERE, GROUP BY, HAVING, ORDER BY,
//! LIMIT, aggregates and expressions the translator takes) is created after
//! the data; any other is listed with the reason.
//! Materialized views hold a snapshot SQLite has no equivalent of: listed.

use std::collections::HashSet;

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, JoinConstraint, JoinOperator, LimitClause, ObjectNamePart,
    OrderBy, OrderByKind, OrderBySort, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::expression::{self, ColumnRef, Scope, Ty};
use super::{sqlite_table_name, SyncPlan};
use crate::sink::ddl::{quote, SinkView};
use crate::source::catalog::PgView;

/// Plans the views: those that translate into `plan.views`, the others into
/// `plan.not_expressed`. A view may read tables pg2sqlite creates and views
/// created before it: views are taken in passes until none more translates.
pub fn plan_views(plan: &mut SyncPlan, views: &[PgView]) {
    // Tables, views and indexes share one namespace in SQLite, without case.
    let mut taken: HashSet<String> = plan
        .tables
        .iter()
        .flat_map(|t| {
            std::iter::once(t.sink.name.to_lowercase())
                .chain(t.sink.indexes.iter().map(|ix| ix.name.to_lowercase()))
        })
        .collect();
    let mut relations: Vec<Relation> = plan
        .tables
        .iter()
        .filter(|t| !t.sink.existing)
        .map(|t| Relation {
            source: t.source_name.clone(),
            sink: t.sink.name.clone(),
            columns: t
                .copy
                .column_names
                .iter()
                .zip(&t.sink.columns)
                .zip(&t.value_types)
                .map(|((pg, sink), ty)| (pg.clone(), sink.name.clone(), *ty))
                .collect(),
        })
        .collect();
    let refused = |v: &PgView, reason: &str| format!("{}: not created: {reason}", v.describe());
    let mut pending: Vec<(&PgView, String)> = Vec::new();
    for v in views {
        let mut columns = HashSet::new();
        if v.materialized {
            plan.not_expressed.push(refused(
                v,
                "a materialized view holds a snapshot; SQLite has no such thing",
            ));
        } else if !v.columns.iter().all(|c| columns.insert(c.to_lowercase())) {
            plan.not_expressed.push(refused(
                v,
                "two of its columns have names SQLite holds as one (they differ in case)",
            ));
        } else {
            pending.push((v, String::new()));
        }
    }
    // Each pass creates the views whose FROM it knows by then; a view that
    // reads one created in this pass gets another try in the next. Any other
    // refusal comes out the same again, so the passes end with one that
    // creates nothing.
    loop {
        let mut created = false;
        let mut still = Vec::new();
        for (v, _) in pending {
            let (select, types) = match translate(v, &relations) {
                Ok(t) => t,
                Err(reason) => {
                    still.push((v, reason));
                    continue;
                }
            };
            let name = sqlite_table_name(&v.schema, &v.name);
            if name.to_lowercase().starts_with("sqlite_") || !taken.insert(name.to_lowercase()) {
                still.push((v, format!("its SQLite name {name} is taken")));
                continue;
            }
            relations.push(Relation {
                source: format!("{}.{}", v.schema, v.name),
                sink: name.clone(),
                columns: v
                    .columns
                    .iter()
                    .zip(types)
                    .map(|(c, ty)| (c.clone(), c.clone(), ty))
                    .collect(),
            });
            plan.views.push(SinkView {
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
            });
            created = true;
        }
        pending = still;
        if !created {
            break;
        }
    }
    for (v, reason) in pending {
        plan.not_expressed.push(refused(v, &reason));
    }
}

/// What a view's FROM may read: a table pg2sqlite creates, or a view
/// created before it.
struct Relation {
    /// `schema.name` as PostgreSQL has it.
    source: String,
    /// Its SQLite name.
    sink: String,
    /// (PostgreSQL name, SQLite name, how SQLite holds its values)
    columns: Vec<(String, String, Ty)>,
}

/// The relations a view's FROM names, by the name its query uses for each.
struct FromScope<'a> {
    tables: Vec<(String, &'a Relation)>,
}

impl Scope for FromScope<'_> {
    fn column(&self, qualifier: Option<&str>, name: &str) -> Result<ColumnRef, String> {
        let mut found = self
            .tables
            .iter()
            .filter(|(alias, _)| qualifier.is_none_or(|q| q == alias))
            .filter_map(|(alias, r)| {
                let (_, sink, ty) = r.columns.iter().find(|(pg, _, _)| pg == name)?;
                Some(ColumnRef {
                    sql: format!("{}.{}", quote(alias), quote(sink)),
                    ty: *ty,
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

/// The view's SELECT in SQLite, and how SQLite holds each of its columns.
fn translate(v: &PgView, tables: &[Relation]) -> Result<(String, Vec<Ty>), String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &v.definition)
        .map_err(|e| format!("cannot parse its query: {e}"))?;
    let query = match statements.as_slice() {
        [Statement::Query(q)] => q,
        _ => return Err("its definition is not one query".into()),
    };
    if query.with.is_some() || query.fetch.is_some() || !query.locks.is_empty() {
        return Err("WITH, FETCH or FOR UPDATE".into());
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err("UNION, INTERSECT, EXCEPT or VALUES".into());
    };
    if select.top.is_some() || select.into.is_some() || !select.named_window.is_empty() {
        return Err("TOP, INTO or WINDOW".into());
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
        items.push(expression::query_value(e, &scope)?);
    }
    if items.len() != v.columns.len() {
        return Err("its column list does not match its columns".into());
    }
    let (items, types): (Vec<String>, Vec<Ty>) = items.into_iter().unzip();
    let mut sql = format!(
        "SELECT {distinct}{} FROM {}",
        items.join(", "),
        from_sql.join(", ")
    );
    if let Some(w) = &select.selection {
        sql.push_str(" WHERE ");
        sql.push_str(&expression::query_condition(w, &scope)?);
    }
    match &select.group_by {
        GroupByExpr::Expressions(keys, modifiers) if modifiers.is_empty() => {
            if !keys.is_empty() {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| expression::query_value(k, &scope).map(|(sql, _)| sql))
                    .collect::<Result<_, _>>()?;
                sql.push_str(" GROUP BY ");
                sql.push_str(&keys.join(", "));
            }
        }
        _ => return Err("GROUP BY ROLLUP, CUBE or GROUPING SETS".into()),
    }
    if let Some(h) = &select.having {
        sql.push_str(" HAVING ");
        sql.push_str(&expression::query_condition(h, &scope)?);
    }
    if let Some(order) = &query.order_by {
        sql.push_str(" ORDER BY ");
        sql.push_str(&order_by(order, &scope)?);
    }
    if let Some(limit) = &query.limit_clause {
        sql.push_str(&limit_sql(limit)?);
    }
    Ok((sql, types))
}

/// ORDER BY with PostgreSQL's NULL placement spelled out: PostgreSQL puts
/// NULLs last ascending and first descending, SQLite the other way round.
fn order_by(order: &OrderBy, scope: &FromScope<'_>) -> Result<String, String> {
    let OrderByKind::Expressions(keys) = &order.kind else {
        return Err("ORDER BY ALL".into());
    };
    let mut parts = Vec::with_capacity(keys.len());
    for k in keys {
        let descending = match &k.options.sort {
            None | Some(OrderBySort::Asc) => false,
            Some(OrderBySort::Desc) => true,
            Some(OrderBySort::Using(op)) => return Err(format!("ORDER BY … USING {op}")),
        };
        let nulls_first = k.options.nulls_first.unwrap_or(descending);
        parts.push(format!(
            "{} {} NULLS {}",
            expression::query_order_key(&k.expr, scope)?,
            if descending { "DESC" } else { "ASC" },
            if nulls_first { "FIRST" } else { "LAST" }
        ));
    }
    Ok(parts.join(", "))
}

/// LIMIT and OFFSET of literal counts.
fn limit_sql(limit: &LimitClause) -> Result<String, String> {
    let count = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) if n.parse::<u64>().is_ok() => Ok(n.clone()),
            _ => Err(format!("LIMIT or OFFSET {e}")),
        },
        _ => Err(format!("LIMIT or OFFSET {e}")),
    };
    match limit {
        LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        } if limit_by.is_empty() => {
            // SQLite has OFFSET only after a LIMIT; -1 is no limit.
            let mut sql = format!(
                " LIMIT {}",
                limit.as_ref().map_or(Ok("-1".to_owned()), count)?
            );
            if let Some(o) = offset {
                sql.push_str(&format!(" OFFSET {}", count(&o.value)?));
            }
            Ok(sql)
        }
        _ => Err("LIMIT BY or LIMIT offset, count".into()),
    }
}

/// A FROM item with its joins (PostgreSQL prints `FROM (a JOIN b ON …)`).
fn joined<'a>(
    twj: &TableWithJoins,
    v: &PgView,
    tables: &'a [Relation],
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
            JoinConstraint::On(e) => expression::query_condition(e, scope)?,
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
    tables: &'a [Relation],
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

/// A FROM item: a copied table, by the name the view's query gives it.
fn table<'a>(
    f: &TableFactor,
    v: &PgView,
    tables: &'a [Relation],
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
        .find(|t| t.source == format!("{schema}.{relation}"))
        .or_else(|| {
            // pg_get_viewdef leaves out the schema of tables on the search path.
            (parts.len() == 1)
                .then(|| {
                    tables
                        .iter()
                        .find(|t| t.source == format!("public.{relation}"))
                })
                .flatten()
        })
        .ok_or_else(|| {
            format!(
                "it reads {name}, which is neither a copied table nor a view that could \
                 be created (a table of the app's own schema is not changed)"
            )
        })?;
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return Err("a table alias with column names".into());
    }
    let used = alias.as_ref().map_or(relation, |a| a.name.value.as_str());
    if scope.tables.iter().any(|(a, _)| a == used) {
        return Err(format!("the name {used} is used twice"));
    }
    scope.tables.push((used.to_owned(), found));
    Ok(format!("{} AS {}", quote(&found.sink), quote(used)))
}
