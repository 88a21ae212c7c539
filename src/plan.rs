//! CLI choices + schema map + both catalogs → one validated, immutable plan,
//! before any write.
//!
//! Every problem found is collected and reported at once: a user fixes their
//! flags and their map in one go, not one error per run. Map problems start with
//! `file:line:`.

use std::collections::{HashMap, HashSet};

use arrow_schema::SchemaRef;

use crate::map::framework::{self, AppStyle};
use crate::map::{SchemaMap, TableMap};
use crate::mapping::convert::{arrow_schema, ColumnConversion};
use crate::mapping::types::ValueKind;
use crate::sink::ddl::{SinkColumn, SinkTable, SinkView};
use crate::sink::existing::TargetSchema;
use crate::source::catalog::{quote_ident, PgTable, RelationKind};

mod columns;
mod constraints;
pub mod expression;
pub mod lossy;
pub mod names;
pub mod views;
use crate::source::copy::CopySource;
pub use columns::can_be_cursor;
use columns::{check_table_map, plan_column, ColumnPlan};

/// Which tables to copy.
#[derive(Debug, Clone, Default)]
pub struct TableSelection {
    /// Names given with `--tables` (empty: all tables of the schemas).
    pub include: Vec<String>,
    /// Names given with `--exclude`.
    pub exclude: Vec<String>,
}

/// How the readers split a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkStrategy {
    /// Ranges of a single-column integer primary key.
    IntKey(String),
    /// One chunk per leaf partition.
    Partitions(Vec<(String, String)>),
    /// Ranges of heap pages.
    Pages(u64),
}

/// Everything needed to copy one table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// `schema.table` as in PostgreSQL, for messages.
    pub source_name: String,
    pub copy: CopySource,
    pub sink: SinkTable,
    pub conversions: Vec<ColumnConversion>,
    pub arrow_schema: SchemaRef,
    pub chunking: ChunkStrategy,
    pub estimated_rows: f64,
    /// The table's OID in PostgreSQL: whether a later run reads the same table.
    pub oid: u32,
    /// How SQLite holds each column's values, for translating the
    /// expressions of views that read it.
    pub value_types: Vec<expression::Ty>,
}

/// The validated plan of a full sync.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub tables: Vec<TablePlan>,
    /// Things SQLite cannot express, listed in the summary.
    pub not_expressed: Vec<String>,
    /// Views whose query translates, created after the data.
    pub views: Vec<SinkView>,
    /// Columns that exist only in PostgreSQL and are not copied, because the
    /// target's existing table has no place for them.
    pub schema_loss: Vec<String>,
    /// What the user should know about the plan (stored values whose form
    /// pg2sqlite does not recognize, ...).
    pub notes: Vec<String>,
    /// Tables and columns given another name because SQLite cannot hold theirs
    /// (see `plan::names`).
    pub renames: Vec<String>,
}

impl SyncPlan {
    /// The planner's row estimate of each table, for progress bars.
    pub fn estimated_rows(&self) -> Vec<u64> {
        self.tables
            .iter()
            .map(|t| {
                // Estimates are non-negative and far below 2^53.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let e = t.estimated_rows.max(0.0) as u64;
                e
            })
            .collect()
    }
}

/// A column written in a form that is lossy for its declared type. Whether it
/// loses anything depends on the values: planning counts, in the snapshot,
/// those that would change, and refuses only when some would (and neither
/// `allow_lossy` nor the app's own framework accepts it).
#[derive(Debug, Clone)]
pub struct LossyCheck {
    /// `table.column` in SQLite.
    pub place: String,
    /// The format and why it is lossy, in words.
    pub what: String,
    /// The quoted PostgreSQL relation.
    pub relation: String,
    /// SQL naming a row by its key, for samples.
    pub key_sql: String,
    /// SQL condition: true for a value the format would change.
    pub changes_sql: String,
    /// The planning problem when any value would change; `None` when changes
    /// are accepted (and counted in the loss ledger).
    pub refusal: Option<String>,
    /// Who accepted the changes, in words, when `refusal` is `None`.
    pub accepted: String,
}

/// What planning works from besides the catalog: the flags, the schema map and
/// the existing target's schema.
#[derive(Debug, Clone, Copy)]
pub struct PlanInputs<'a> {
    pub selection: &'a TableSelection,
    pub map: Option<&'a SchemaMap>,
    pub target: &'a TargetSchema,
}

/// The SQLite name of a PostgreSQL table: `schema__table` outside `public`.
pub fn sqlite_table_name(schema: &str, table: &str) -> String {
    if schema == "public" {
        table.to_owned()
    } else {
        format!("{schema}__{table}")
    }
}

/// Whether a name given by the user (`table`, `schema.table` or
/// `schema__table`) names the PostgreSQL table `schema.table`.
pub fn names_table(given: &str, schema: &str, table: &str) -> bool {
    given == sqlite_table_name(schema, table)
        || given == table
        || given == format!("{schema}.{table}")
}

fn matches_name(t: &PgTable, name: &str) -> bool {
    names_table(name, &t.schema, &t.name)
}

/// Renames from the map, looked up while planning other tables (foreign keys).
struct Names<'a> {
    defaults: names::DefaultNames,
    map: Option<&'a SchemaMap>,
}

impl Names<'_> {
    fn table_map(&self, schema: &str, table: &str) -> Option<&TableMap> {
        self.map.and_then(|m| m.table_for(schema, table))
    }
    fn mapped_table(map: Option<&SchemaMap>, schema: &str, table: &str) -> Option<String> {
        map.and_then(|m| m.table_for(schema, table))
            .and_then(|t| t.rename.as_ref())
            .map(|r| r.value.clone())
    }
    fn mapped_column(
        map: Option<&SchemaMap>,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Option<String> {
        map.and_then(|m| m.table_for(schema, table))
            .and_then(|t| t.column(column))
            .and_then(|c| c.rename.as_ref())
            .map(|r| r.value.clone())
    }
    fn table(&self, schema: &str, table: &str) -> String {
        Names::mapped_table(self.map, schema, table)
            .or_else(|| self.defaults.table(schema, table).map(str::to_owned))
            .unwrap_or_else(|| sqlite_table_name(schema, table))
    }
    fn column(&self, schema: &str, table: &str, column: &str) -> String {
        Names::mapped_column(self.map, schema, table, column)
            .or_else(|| {
                self.defaults
                    .column(schema, table, column)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| column.to_owned())
    }
}

/// Builds the plan and the lossy forms whose data PostgreSQL must be asked
/// about before it is final, or every reason it cannot be built.
pub fn build(
    catalog: Vec<PgTable>,
    inputs: PlanInputs<'_>,
) -> Result<(SyncPlan, Vec<LossyCheck>), Vec<String>> {
    let PlanInputs {
        selection,
        map,
        target,
    } = inputs;
    let mut problems = Vec::new();
    let at = |line: usize| map.map_or(String::new(), |m| format!("{}: ", m.at(line)));
    // --tables wins over the map's include; both excludes apply.
    let mut include: Vec<(String, String)> = selection
        .include
        .iter()
        .map(|n| (n.clone(), String::new()))
        .collect();
    if include.is_empty() {
        if let Some(list) = map.and_then(|m| m.include.as_ref()) {
            include = list.iter().map(|n| (n.value.clone(), at(n.line))).collect();
        }
    }
    let mut exclude: Vec<(String, String)> = selection
        .exclude
        .iter()
        .map(|n| (n.clone(), String::new()))
        .collect();
    if let Some(m) = map {
        exclude.extend(m.exclude.iter().map(|n| (n.value.clone(), at(n.line))));
    }
    let map_tables = map.map_or(Vec::new(), |m| {
        m.tables
            .iter()
            .map(|t| (t.name.clone(), at(t.line)))
            .collect()
    });
    for (name, where_) in include.iter().chain(&exclude).chain(&map_tables) {
        let hits = catalog.iter().filter(|t| matches_name(t, name)).count();
        if hits == 0 {
            let known: Vec<String> = catalog
                .iter()
                .map(|t| sqlite_table_name(&t.schema, &t.name))
                .take(20)
                .collect();
            let all: Vec<&str> = catalog.iter().map(|t| t.name.as_str()).collect();
            problems.push(format!(
                "{where_}no table named {name:?} in the chosen schemas{} (known: {}{})",
                columns::did_you_mean(name, &all),
                known.join(", "),
                if catalog.len() > 20 { ", …" } else { "" }
            ));
        } else if hits > 1 {
            problems.push(format!(
                "{where_}{name:?} names tables in several schemas; write it as schema.table"
            ));
        }
    }
    let chosen: Vec<PgTable> = catalog
        .into_iter()
        .filter(|t| {
            (include.is_empty() || include.iter().any(|(n, _)| matches_name(t, n)))
                && !exclude.iter().any(|(n, _)| matches_name(t, n))
        })
        .collect();

    if chosen.is_empty() && problems.is_empty() {
        problems.push(
            "nothing to copy: the chosen schemas and --tables/--exclude select no table \
             (check --schema; the default is public)"
                .to_owned(),
        );
    }

    let defaults = names::DefaultNames::assign(
        &chosen,
        |s, t| Names::mapped_table(map, s, t),
        |s, t, c| Names::mapped_column(map, s, t, c),
    );
    let names = Names { map, defaults };
    let mut names_seen: HashMap<String, String> = HashMap::new();
    for t in &chosen {
        let sqlite = names.table(&t.schema, &t.name);
        let key = sqlite.to_lowercase(); // SQLite table names are case-insensitive
        if let Some(other) = names_seen.insert(key, format!("{}.{}", t.schema, t.name)) {
            problems.push(format!(
                "tables {other} and {}.{} would both become SQLite table {sqlite:?}",
                t.schema, t.name
            ));
        }
    }
    let copied: HashSet<(String, String)> = chosen
        .iter()
        .map(|t| (t.schema.clone(), t.name.clone()))
        .collect();

    let mut out = Collected::default();
    // The ORM that wrote the target tells how to fill its columns that hold nothing yet.
    let writes_into_app = chosen
        .iter()
        .any(|t| target.table(&names.table(&t.schema, &t.name)).is_some());
    let style = writes_into_app.then(|| framework::detect(target)).flatten();
    if writes_into_app {
        out.notes.push(match &style {
            Some(s) => format!(
                "app style: {} ({}); its columns with no stored values get {}'s encodings",
                s.framework.name(),
                s.evidence,
                s.framework.name()
            ),
            None => "app style: none detected (no bookkeeping table of Django, SQLAlchemy, \
                     Rails, Prisma or Sequelize, and no telling stored values); columns with \
                     no stored values get the default mapping or a guess from their declared \
                     type"
                .to_owned(),
        });
    }
    let mut tables = Vec::new();
    for t in chosen {
        let ctx = TableContext {
            style: style.as_ref(),
            table: &t,
            table_map: names.table_map(&t.schema, &t.name),
            map,
            names: &names,
            target,
            copied: &copied,
        };
        match plan_table(&ctx, &mut out) {
            Ok(p) => tables.push(p),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok((
            SyncPlan {
                tables,
                not_expressed: out.not_expressed,
                views: Vec::new(),
                schema_loss: out.schema_loss,
                notes: out.notes,
                renames: names.defaults.renames,
            },
            out.lossy,
        ))
    } else {
        // Lossy forms are refused as declared when planning fails anyway:
        // their values are counted once the other problems are fixed.
        problems.extend(out.lossy.into_iter().filter_map(|l| l.refusal));
        Err(problems)
    }
}

/// Lists that every table's planning adds to.
#[derive(Default)]
struct Collected {
    not_expressed: Vec<String>,
    schema_loss: Vec<String>,
    notes: Vec<String>,
    lossy: Vec<LossyCheck>,
    index_names: HashSet<String>,
}

struct TableContext<'a> {
    /// The framework that wrote the target, when one is told.
    style: Option<&'a AppStyle>,
    table: &'a PgTable,
    table_map: Option<&'a TableMap>,
    map: Option<&'a SchemaMap>,
    names: &'a Names<'a>,
    target: &'a TargetSchema,
    copied: &'a HashSet<(String, String)>,
}

impl TableContext<'_> {
    /// `file:line: ` of a map setting, for messages.
    fn at(&self, line: usize) -> String {
        self.map
            .map_or(String::new(), |m| format!("{}: ", m.at(line)))
    }
}

fn plan_table(ctx: &TableContext<'_>, out: &mut Collected) -> Result<TablePlan, Vec<String>> {
    let t = ctx.table;
    let source_name = format!("{}.{}", t.schema, t.name);
    let sqlite_name = ctx.names.table(&t.schema, &t.name);
    let existing = ctx.target.table(&sqlite_name);
    let mut problems = Vec::new();
    if let Some(reason) = existing.and_then(|e| e.unreadable.as_deref()) {
        return Err(vec![format!(
            "table {source_name}: table {sqlite_name} of the SQLite target cannot be read \
             ({reason}); exclude it, or rename it in a map"
        )]);
    }
    if !t.readable {
        problems.push(format!(
            "table {source_name}: permission denied, the role may not SELECT from it \
             (GRANT SELECT, or use --exclude {sqlite_name})"
        ));
    }
    // Only a map can name a table so (see plan::names).
    if sqlite_name.to_lowercase().starts_with("sqlite_") {
        problems.push(format!(
            "table {source_name}: the map renames it to {sqlite_name}, and SQLite reserves \
             names starting with sqlite_"
        ));
    }
    if let Some(tm) = ctx.table_map {
        check_table_map(ctx, tm, &mut problems);
    }
    let mut column_names: HashMap<String, &str> = HashMap::new();
    for c in &t.columns {
        let sink = ctx.names.column(&t.schema, &t.name, &c.name);
        // SQLite column names are case-insensitive.
        if let Some(other) = column_names.insert(sink.to_lowercase(), &c.name) {
            problems.push(format!(
                "table {source_name}: columns {other:?} and {:?} would both become SQLite \
                 column {sink:?}, which SQLite cannot hold (rename one in a map, or use \
                 --exclude {sqlite_name})",
                c.name
            ));
        }
    }
    if t.columns.is_empty() {
        problems.push(format!(
            "table {source_name} has no columns; SQLite cannot hold it (use --exclude)"
        ));
    }
    let mut plans: Vec<ColumnPlan<'_>> = Vec::new();
    // SQLite columns whose PostgreSQL column was refused above or skipped: a
    // NOT NULL one among them is not "fed by no column" — its cause is named.
    let mut unfed: Vec<(String, bool)> = Vec::new();
    for c in &t.columns {
        let sink = ctx.names.column(&t.schema, &t.name, &c.name);
        match plan_column(ctx, &source_name, &sqlite_name, existing, c, out) {
            Ok(Some(p)) => plans.push(p),
            Ok(None) => unfed.push((sink, false)),
            Err(mut e) => {
                problems.append(&mut e);
                unfed.push((sink, true));
            }
        }
    }
    if let Some(target) = existing {
        for tc in &target.columns {
            let fed = plans
                .iter()
                .any(|p| p.sink_name.eq_ignore_ascii_case(&tc.name));
            let fills_itself = tc.has_default || (tc.primary_key && target.rowid_key);
            let cause = unfed.iter().find(|(n, _)| n.eq_ignore_ascii_case(&tc.name));
            if let (false, true, false, Some((_, refused))) =
                (fed, tc.not_null, fills_itself, cause)
            {
                if !refused {
                    problems.push(format!(
                        "table {sqlite_name} in the SQLite target: column {:?} is NOT NULL \
                         without a default, and the map skips the PostgreSQL column that \
                         feeds it; copy it (remove skip = true), or exclude the table",
                        tc.name
                    ));
                }
                // A refused column's own problem says what to do.
            } else if !fed && tc.not_null && !fills_itself {
                problems.push(format!(
                    "table {sqlite_name} in the SQLite target: column {:?} is NOT NULL \
                     without a default and no PostgreSQL column of {source_name} feeds it; \
                     rename the PostgreSQL column that holds its values to {:?} in the map \
                     ([tables.{}.columns.NAME] rename = {:?})",
                    tc.name, tc.name, t.name, tc.name
                ));
            }
        }
    }
    if plans.is_empty() && problems.is_empty() {
        problems.push(format!(
            "table {source_name}: none of its columns would be copied; exclude it"
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let pk = t.primary_key.clone();
    let int_key = match pk.as_deref() {
        Some([only]) => plans
            .iter()
            .find(|p| {
                &p.pg.name == only
                    && matches!(
                        p.mapping.kind,
                        ValueKind::Int2 | ValueKind::Int4 | ValueKind::Int8
                    )
            })
            .map(|p| p.pg.name.clone()),
        _ => None,
    };
    let sink_col = |pg: &str| -> Option<String> {
        plans
            .iter()
            .find(|p| p.pg.name == pg)
            .map(|p| p.sink_name.clone())
    };
    // Verification matches rows by key: the primary key, when all of it is copied.
    let sink_pk: Option<Vec<String>> = pk
        .as_ref()
        .and_then(|cols| cols.iter().map(|c| sink_col(c)).collect());

    let scope = constraints::scope_columns(&plans);
    let mut columns = Vec::new();
    for (p, (_, _, ty)) in plans.iter().zip(&scope) {
        let c = p.pg;
        if existing.is_some() {
            columns.push(SinkColumn {
                name: p.sink_name.clone(),
                declared: p.declared.clone(),
                storage: p.storage,
                not_null: c.not_null,
                default: None,
                generated: None,
            });
            continue;
        }
        let is_rowid = int_key.as_deref() == Some(c.name.as_str());
        let in_key = pk.as_ref().is_some_and(|k| k.contains(&c.name));
        let (default, generated) = constraints::plan_default_and_generation(
            &sqlite_name,
            p,
            *ty,
            &scope,
            is_rowid,
            in_key,
            out,
        );
        columns.push(SinkColumn {
            name: p.sink_name.clone(),
            declared: p.declared.clone(),
            storage: p.storage,
            not_null: c.not_null,
            default,
            generated,
        });
    }

    let (foreign_keys, indexes, checks) = if existing.is_none() {
        let (fks, ixs) =
            constraints::plan_keys_and_indexes(ctx, &sqlite_name, &sink_col, &scope, out);
        let checks = constraints::plan_checks(&sqlite_name, ctx, &plans, &scope, out);
        (fks, ixs, checks)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };

    let select_list: Vec<String> = plans
        .iter()
        .map(|p| match &p.mapping.cast {
            Some(cast) => cast.select(&quote_ident(&p.pg.name)),
            None => quote_ident(&p.pg.name),
        })
        .collect();
    let copy = CopySource {
        relation: t.qualified(),
        partitioned: t.kind == RelationKind::Partitioned,
        // COPY's column list refuses generated columns; SELECT reads them.
        plain_columns: plans
            .iter()
            .all(|p| p.mapping.cast.is_none() && !p.pg.generated),
        column_names: plans.iter().map(|p| p.pg.name.clone()).collect(),
        select_list,
    };
    let conversions: Vec<ColumnConversion> = plans
        .iter()
        .map(|p| ColumnConversion {
            name: p.sink_name.clone(),
            kind: p.mapping.kind.clone(),
            format: p.format,
            storage: p.storage,
        })
        .collect();
    let chunking = match (&int_key, t.kind) {
        (Some(k), _) => ChunkStrategy::IntKey(k.clone()),
        (None, RelationKind::Partitioned) => ChunkStrategy::Partitions(t.partitions.clone()),
        (None, RelationKind::Table) => ChunkStrategy::Pages(u64::try_from(t.pages).unwrap_or(0)),
    };
    let estimated_rows = if t.estimated_rows > 0.0 {
        t.estimated_rows
    } else {
        // Never analyzed: guess from the size, ~100 bytes a row.
        #[allow(clippy::cast_precision_loss)]
        let guess = t.pages as f64 * 80.0;
        guess
    };
    Ok(TablePlan {
        source_name,
        arrow_schema: arrow_schema(&conversions),
        copy,
        sink: SinkTable {
            name: existing.map_or(sqlite_name, |e| e.name.clone()),
            columns,
            primary_key: sink_pk,
            foreign_keys,
            checks,
            indexes,
            existing: existing.is_some(),
        },
        conversions,
        chunking,
        estimated_rows,
        oid: t.oid,
        value_types: scope.iter().map(|(_, _, ty)| *ty).collect(),
    })
}

impl TablePlan {
    /// The SQLite name of the column PostgreSQL calls `pg` (a map may rename
    /// it; the map speaks PostgreSQL's names).
    pub fn sink_column_of(&self, pg: &str) -> Option<String> {
        self.copy
            .column_names
            .iter()
            .position(|c| c == pg)
            .map(|i| self.sink.columns[i].name.clone())
    }

    /// The same table with only the columns at `keep` (in that order): what a
    /// merge writes when the target lacks some columns, or just the key.
    pub fn with_columns(&self, keep: &[usize]) -> TablePlan {
        let pick = |v: &[String]| keep.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        let conversions: Vec<ColumnConversion> =
            keep.iter().map(|&i| self.conversions[i].clone()).collect();
        let kept_names: HashSet<&str> = keep
            .iter()
            .map(|&i| self.sink.columns[i].name.as_str())
            .collect();
        let mut copy = self.copy.clone();
        copy.select_list = pick(&self.copy.select_list);
        copy.column_names = pick(&self.copy.column_names);
        let mut sink = self.sink.clone();
        sink.columns = keep.iter().map(|&i| self.sink.columns[i].clone()).collect();
        sink.foreign_keys
            .retain(|fk| fk.columns.iter().all(|c| kept_names.contains(c.as_str())));
        sink.indexes.retain(|ix| {
            ix.predicate.is_none()
                && ix
                    .keys
                    .iter()
                    .all(|k| k.column.as_deref().is_some_and(|c| kept_names.contains(c)))
        });
        // A CHECK or generated column may name a column left out.
        sink.checks.clear();
        for c in &mut sink.columns {
            c.generated = None;
        }
        TablePlan {
            source_name: self.source_name.clone(),
            copy,
            sink,
            arrow_schema: arrow_schema(&conversions),
            conversions,
            chunking: self.chunking.clone(),
            estimated_rows: self.estimated_rows,
            oid: self.oid,
            value_types: keep.iter().map(|&i| self.value_types[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_schemas_are_prefixed() {
        assert_eq!(sqlite_table_name("public", "users"), "users");
        assert_eq!(sqlite_table_name("billing", "Invoice"), "billing__Invoice");
    }
}
