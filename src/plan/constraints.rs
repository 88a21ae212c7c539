//! The schema around the data of a table pg2sqlite creates: foreign keys,
//! CHECKs (the table's, its columns' domains', its enum columns' labels),
//! indexes (on columns, on expressions, partial), defaults and generated
//! columns. Expressions go through [`super::expression`]; what SQLite cannot
//! hold with the same meaning is listed with the reason, never half-made.

use crate::mapping::format::Format;
use crate::mapping::types::{Storage, ValueKind};
use crate::sink::ddl::{
    quote, FkAction, Generated, IndexKey, SinkCheck, SinkForeignKey, SinkIndex,
};

use super::columns::ColumnPlan;
use super::expression::{self, Purpose, TableScope, Ty};
use super::{sqlite_table_name, Collected, TableContext};

/// How SQLite holds a copied column's values, for the translator.
fn column_ty(p: &ColumnPlan<'_>) -> Ty {
    if p.format != Format::Default {
        return Ty::Opaque("in a form the schema map chose");
    }
    if !p.declared.eq_ignore_ascii_case(p.mapping.declared) {
        return Ty::Opaque("in a column the schema map declares with another type");
    }
    match p.mapping.kind {
        ValueKind::Bool => Ty::Bool,
        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8 => Ty::Int,
        ValueKind::Float4 | ValueKind::Float8 => Ty::Real,
        ValueKind::Numeric if p.mapping.storage == Storage::Text && p.declared == "NUMERIC" => {
            Ty::Number
        }
        ValueKind::Numeric => {
            Ty::Opaque("a numeric kept as TEXT, which SQLite would compare as strings")
        }
        ValueKind::PaddedText => {
            Ty::Opaque("char(n), which PostgreSQL compares without its padding")
        }
        ValueKind::Text => Ty::Text {
            ordered: p.pg.enum_labels.is_empty() && p.pg.orders_by_bytes(),
        },
        // Stored as PostgreSQL prints them: equal values print alike (jsonb
        // prints its canonical form); their order is not the text's.
        ValueKind::Uuid | ValueKind::Json | ValueKind::Jsonb => Ty::Text { ordered: false },
        ValueKind::Date => Ty::Date,
        ValueKind::Timestamp => Ty::Timestamp,
        ValueKind::Timestamptz => Ty::Timestamptz,
        _ => Ty::Opaque("a value pg2sqlite stores in a form of its own"),
    }
}

/// The columns expressions of this table may name.
pub(super) fn scope_columns(plans: &[ColumnPlan<'_>]) -> Vec<(String, String, Ty)> {
    plans
        .iter()
        .map(|p| (p.pg.name.clone(), p.sink_name.clone(), column_ty(p)))
        .collect()
}

/// A column's default and generation, translated; what cannot be is listed.
pub(super) fn plan_default_and_generation(
    sqlite_name: &str,
    p: &ColumnPlan<'_>,
    ty: Ty,
    scope: &[(String, String, Ty)],
    is_rowid: bool,
    in_key: bool,
    out: &mut Collected,
) -> (Option<String>, Option<Generated>) {
    let c = p.pg;
    let table = TableScope {
        columns: scope,
        value: None,
    };
    let Some(expr) = c.default.as_deref() else {
        if c.identity && !is_rowid {
            out.not_expressed.push(format!(
                "{sqlite_name}.{}: identity column's numbering not carried over (SQLite has \
                 no sequences; only an INTEGER PRIMARY KEY numbers itself)",
                p.sink_name
            ));
        }
        return (None, None);
    };
    if c.generated {
        let why = if in_key {
            Err("SQLite cannot generate a primary key column".to_owned())
        } else {
            expression::value(expr, &table, Purpose::Value, ty)
        };
        return match why {
            Ok(sql) => (
                None,
                Some(Generated {
                    sql,
                    stored: !c.generated_virtual,
                }),
            ),
            Err(reason) => {
                out.not_expressed.push(format!(
                    "{sqlite_name}.{}: generated column ({expr}) copied as plain values: {reason}",
                    p.sink_name
                ));
                (None, None)
            }
        };
    }
    if expr.trim_start().starts_with("nextval(") {
        if !is_rowid {
            out.not_expressed.push(format!(
                "{sqlite_name}.{}: default {expr} not carried over (SQLite has no sequences; \
                 only an INTEGER PRIMARY KEY numbers itself)",
                p.sink_name
            ));
        }
        return (None, None);
    }
    let translated = match ty {
        // '{}'::text[]: the empty array, which the copy writes as JSON.
        _ if matches!(p.mapping.kind, ValueKind::Array(_))
            && p.format == Format::Default
            && expression::string_literal(expr).as_deref() == Some("{}") =>
        {
            Ok("'[]'".to_owned())
        }
        // An unconstrained numeric prints a constant as written: `0`, `1.50`.
        Ty::Opaque(_)
            if p.mapping.kind == ValueKind::Numeric
                && p.format == Format::Default
                && c.typmod < 0 =>
        {
            expression::number_literal(expr)
                .map(|n| format!("'{n}'"))
                .ok_or_else(|| "only a constant default of a numeric kept as TEXT".to_owned())
        }
        ty => expression::value(expr, &table, Purpose::Default, ty),
    };
    match translated {
        Ok(sql) => (Some(sql), None),
        Err(reason) => {
            out.not_expressed.push(format!(
                "{sqlite_name}.{}: default {expr} not carried over: {reason}",
                p.sink_name
            ));
            (None, None)
        }
    }
}

/// The table's CHECKs, its columns' domain CHECKs and its enum columns'
/// labels, translated.
pub(super) fn plan_checks(
    sqlite_name: &str,
    ctx: &TableContext<'_>,
    plans: &[ColumnPlan<'_>],
    scope: &[(String, String, Ty)],
    out: &mut Collected,
) -> Vec<SinkCheck> {
    let mut checks = Vec::new();
    let mut add = |name: String, expr: &str, validated: bool, value: Option<usize>| {
        let what = match value {
            Some(i) => format!(
                "{sqlite_name}.{}: CHECK {name} of domain {}",
                plans[i].sink_name, plans[i].pg.pg_type.display
            ),
            None => format!("{sqlite_name}: CHECK {name}"),
        };
        if !validated {
            out.not_expressed.push(format!(
                "{what} not created ({expr}): it is NOT VALID in PostgreSQL, so rows from \
                 before it may break it"
            ));
            return;
        }
        let scope = TableScope {
            columns: scope,
            value,
        };
        match expression::condition(expr, &scope) {
            Ok(sql) => checks.push(SinkCheck { name, sql }),
            Err(reason) => out
                .not_expressed
                .push(format!("{what} not created ({expr}): {reason}")),
        }
    };
    for c in &ctx.table.checks {
        add(c.name.clone(), &c.expr, c.validated, None);
    }
    for (i, p) in plans.iter().enumerate() {
        for c in &p.pg.domain_constraints {
            add(c.name.clone(), &c.expr, c.validated, Some(i));
        }
    }
    for p in plans {
        if p.pg.enum_labels.is_empty() || p.format != Format::Default {
            continue;
        }
        if !matches!(p.mapping.kind, ValueKind::Text) {
            continue; // an array of labels is one JSON text
        }
        let labels: Vec<String> =
            p.pg.enum_labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
        checks.push(SinkCheck {
            name: format!("{}_is_{}", p.sink_name, p.pg.pg_type.name),
            sql: format!("{} IN ({})", quote(&p.sink_name), labels.join(", ")),
        });
    }
    checks
}

/// Foreign keys and indexes of a table pg2sqlite creates, in SQLite names.
pub(super) fn plan_keys_and_indexes(
    ctx: &TableContext<'_>,
    sqlite_name: &str,
    sink_col: &dyn Fn(&str) -> Option<String>,
    scope: &[(String, String, Ty)],
    out: &mut Collected,
) -> (Vec<SinkForeignKey>, Vec<SinkIndex>) {
    let t = ctx.table;
    let all =
        |cols: &[String]| -> Option<Vec<String>> { cols.iter().map(|c| sink_col(c)).collect() };
    let mut foreign_keys = Vec::new();
    for fk in &t.foreign_keys {
        let copied = ctx
            .copied
            .contains(&(fk.ref_schema.clone(), fk.ref_table.clone()));
        match (copied, all(&fk.columns)) {
            (true, Some(columns)) => foreign_keys.push(SinkForeignKey {
                columns,
                ref_table: ctx.names.table(&fk.ref_schema, &fk.ref_table),
                ref_columns: fk
                    .ref_columns
                    .iter()
                    .map(|c| ctx.names.column(&fk.ref_schema, &fk.ref_table, c))
                    .collect(),
                on_update: FkAction::from_pg(fk.on_update),
                on_delete: FkAction::from_pg(fk.on_delete),
                deferrable: fk.deferrable,
                initially_deferred: fk.initially_deferred,
            }),
            (false, _) => out.not_expressed.push(format!(
                "{sqlite_name}: foreign key {} references {}.{}, which is not copied",
                fk.name, fk.ref_schema, fk.ref_table
            )),
            (true, None) => out.not_expressed.push(format!(
                "{sqlite_name}: foreign key {} not created (a column of it is not copied)",
                fk.name
            )),
        }
    }

    let index_names = &mut out.index_names;
    let mut index_name = |pg_name: &str| -> String {
        let mut base = sqlite_table_name(&t.schema, pg_name);
        if base.to_lowercase().starts_with("sqlite_") {
            base = format!("pg_{base}"); // SQLite reserves sqlite_* names
        }
        let mut name = base.clone();
        let mut n = 2;
        while !index_names.insert(name.to_lowercase()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    };
    let mut indexes = Vec::new();
    let mut lost = Vec::new();
    for (name, cols) in &t.unique_constraints {
        if t.nulls_not_distinct.contains(name) {
            lost.push(format!(
                "{sqlite_name}: unique constraint {name} created without NULLS NOT DISTINCT: \
                 SQLite's unique indexes let NULLs repeat"
            ));
        }
        match all(cols) {
            Some(columns) => indexes.push(SinkIndex {
                name: index_name(name),
                unique: true,
                keys: columns.iter().map(|c| IndexKey::column(c, false)).collect(),
                predicate: None,
            }),
            None => lost.push(format!(
                "{sqlite_name}: unique constraint {name} not created (a column of it is not \
                 copied)"
            )),
        }
    }
    let table = TableScope {
        columns: scope,
        value: None,
    };
    for ix in &t.indexes {
        let planned = index_keys(ix, sink_col, &table).and_then(|keys| {
            let predicate = match &ix.predicate {
                Some(p) => {
                    Some(expression::condition(p, &table).map_err(|e| format!("its WHERE: {e}"))?)
                }
                None => None,
            };
            Ok((keys, predicate))
        });
        if planned.is_ok() && ix.nulls_not_distinct {
            // Looser than PostgreSQL's, but still a unique index.
            lost.push(format!(
                "{sqlite_name}: index {} created without NULLS NOT DISTINCT: SQLite's unique \
                 indexes let NULLs repeat",
                ix.name
            ));
        }
        match planned {
            Ok((keys, predicate)) => indexes.push(SinkIndex {
                name: index_name(&ix.name),
                unique: ix.unique,
                keys,
                predicate,
            }),
            Err(reason) => lost.push(format!(
                "{sqlite_name}: index {} not created ({}): {reason}",
                ix.name, ix.definition
            )),
        }
    }
    out.not_expressed.append(&mut lost);
    for parent in &t.inherits {
        out.not_expressed.push(format!(
            "{sqlite_name}: inherits from {parent}; copied as a table of its own rows only"
        ));
    }
    for c in &t.other_constraints {
        out.not_expressed.push(format!(
            "{sqlite_name}: {} {} not created ({})",
            c.kind, c.name, c.definition
        ));
    }
    (foreign_keys, indexes)
}

/// The keys of an index SQLite can build alike: columns or translated
/// expressions, of a B-tree or hash index.
fn index_keys(
    ix: &crate::source::catalog::PgIndex,
    sink_col: &dyn Fn(&str) -> Option<String>,
    table: &TableScope<'_>,
) -> Result<Vec<IndexKey>, String> {
    if !matches!(ix.method.as_str(), "btree" | "hash") {
        return Err(format!("SQLite has no {} indexes", ix.method));
    }
    if let Some(cols) = &ix.columns {
        return cols
            .iter()
            .map(|(c, desc)| {
                sink_col(c)
                    .map(|s| IndexKey::column(&s, *desc))
                    .ok_or_else(|| format!("column {c} is not copied"))
            })
            .collect();
    }
    if ix.keys.is_empty() {
        return Err("its keys were not read (a bundle from an older pg2sqlite)".into());
    }
    ix.keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let descending = ix.descending.get(i).copied().unwrap_or(false);
            match expression::parse(key)? {
                sqlparser::ast::Expr::Identifier(id) => sink_col(&id.value)
                    .map(|s| IndexKey::column(&s, descending))
                    .ok_or_else(|| format!("column {} is not copied", id.value)),
                e => Ok(IndexKey {
                    column: None,
                    sql: format!("({})", expression::index_key(&e, table)?),
                    descending,
                }),
            }
        })
        .collect()
}
