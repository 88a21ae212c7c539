//! Planning one column: which SQLite column it goes to, in which format and
//! declared type, checked against the map and the existing target.

use super::{Collected, LossyCheck, TableContext};
use crate::map::infer::{infer, unrecognized};
use crate::map::{ColumnMap, TableMap};
use crate::mapping::format::{accepted, affinity_conflict, numeric_typmod, Affinity, Format};
use crate::mapping::types::{map_type, Storage, TypeMapping, ValueKind};
use crate::sink::existing::TargetTable;
use crate::source::catalog::{quote_ident, PgColumn};

/// One PostgreSQL column as it will be copied.
pub(super) struct ColumnPlan<'a> {
    pub(super) pg: &'a PgColumn,
    pub(super) mapping: TypeMapping,
    pub(super) sink_name: String,
    pub(super) format: Format,
    pub(super) storage: Storage,
    pub(super) declared: String,
}

/// Whether a column can order rows by when they changed: a date or timestamp
/// (what delta sync compares with `--since`).
pub fn can_be_cursor(c: &PgColumn) -> bool {
    map_type(&c.pg_type, c.typmod).is_ok_and(|m| m.kind.is_point_in_time())
}

/// `; did you mean "email"?` when a known name is one or two edits away from
/// a misspelt one, else nothing.
pub(super) fn did_you_mean(wrong: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(&wrong.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map_or(String::new(), |(_, k)| format!("; did you mean {k:?}?"))
}

/// Levenshtein distance, over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The settings of a table's map entry that name PostgreSQL columns.
pub(super) fn check_table_map(ctx: &TableContext<'_>, tm: &TableMap, problems: &mut Vec<String>) {
    let t = ctx.table;
    let has = |c: &str| t.columns.iter().any(|pc| pc.name == c);
    let known = || {
        t.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    for cm in &tm.columns {
        if !has(&cm.name) {
            problems.push(format!(
                "{}table {}.{} has no column {:?}{} (its columns: {})",
                ctx.at(cm.line),
                t.schema,
                t.name,
                cm.name,
                did_you_mean(&cm.name, &names),
                known()
            ));
        }
    }
    if let Some(c) = &tm.cursor {
        let column = t.columns.iter().find(|pc| pc.name == c.value);
        let orderable = column.is_some_and(can_be_cursor);
        if let (Some(pc), false) = (column, orderable) {
            problems.push(format!(
                "{}cursor: column {:?} of {}.{} is {}; a cursor must be a timestamp or date \
                 column that says when a row last changed",
                ctx.at(c.line),
                c.value,
                t.schema,
                t.name,
                pc.pg_type.display
            ));
        }
        if column.is_none() {
            problems.push(format!(
                "{}cursor: table {}.{} has no column {:?}{} (its columns: {})",
                ctx.at(c.line),
                t.schema,
                t.name,
                c.value,
                did_you_mean(&c.value, &names),
                known()
            ));
        }
    }
    if let Some(k) = &tm.key {
        for c in k.value.iter().filter(|c| !has(c)) {
            problems.push(format!(
                "{}key: table {}.{} has no column {c:?} (its columns: {})",
                ctx.at(k.line),
                t.schema,
                t.name,
                known()
            ));
        }
        if k.value.is_empty() {
            problems.push(format!("{}key: name at least one column", ctx.at(k.line)));
        }
    }
}

/// Plans one column: its name, representation and SQLite type; `None` when it
/// is not copied (skipped by the map, or no place for it in an existing table).
pub(super) fn plan_column<'a>(
    ctx: &TableContext<'_>,
    source_name: &str,
    sqlite_name: &str,
    existing: Option<&TargetTable>,
    c: &'a PgColumn,
    out: &mut Collected,
) -> Result<Option<ColumnPlan<'a>>, Vec<String>> {
    let cm: Option<&ColumnMap> = ctx.table_map.and_then(|tm| tm.column(&c.name));
    // Problems of a column the map does not mention carry no map line.
    let at = cm.map_or(String::new(), |cm| ctx.at(cm.line));
    let here = format!("{at}table {source_name}, column {}", c.name);
    let mut mapping = match map_type(&c.pg_type, c.typmod) {
        Ok(m) => m,
        Err(reason) if cm.is_some_and(|cm| cm.skip) => {
            let _ = reason;
            return Ok(None);
        }
        Err(reason) => {
            return Err(vec![format!(
                "table {source_name}, column {}: {reason}; exclude the table with --exclude \
                 {sqlite_name}, or skip the column in a map (skip = true)",
                c.name
            )])
        }
    };
    if cm.is_some_and(|cm| cm.skip) {
        return Ok(None);
    }
    let sink_name = ctx
        .names
        .column(&ctx.table.schema, &ctx.table.name, &c.name);
    let target_col = match existing {
        None => None,
        Some(et) => match et.column(&sink_name) {
            Some(tc) => Some(tc),
            // SQLite computes it: nothing to write, nothing lost.
            None if et
                .generated
                .iter()
                .any(|g| g.eq_ignore_ascii_case(&sink_name)) =>
            {
                out.notes.push(format!(
                    "{}.{sink_name}: a generated column in the SQLite table; SQLite computes \
                     it, PostgreSQL's values are not written",
                    et.name
                ));
                return Ok(None);
            }
            None => {
                if let Some(r) = cm.and_then(|cm| cm.rename.as_ref()) {
                    return Err(vec![format!(
                        "{}table {source_name}, column {}: renamed to {:?}, but table {} of \
                         the SQLite target has no such column (its columns: {})",
                        ctx.at(r.line),
                        c.name,
                        r.value,
                        et.name,
                        et.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )]);
                }
                out.schema_loss.push(format!(
                    "{}.{} ({}): only in PostgreSQL; the SQLite table has no such column, \
                     not copied",
                    et.name, c.name, c.pg_type.display
                ));
                return Ok(None);
            }
        },
    };
    let mut problems = Vec::new();
    let fraction = cm.and_then(|cm| cm.fraction.as_ref());
    let zone = cm.and_then(|cm| cm.zone.as_ref());
    let (format, inferred) = match cm.and_then(|cm| cm.format.as_ref()) {
        Some(f) => match Format::parse(
            &f.value,
            &mapping.kind,
            fraction.map(|f| f.value),
            zone.map(|z| z.value),
        ) {
            // A map that pins the form the app's framework itself writes (as
            // `map init` does) is accepted as the framework's, lossy or not.
            Ok(fmt) => (
                fmt,
                target_col
                    .and_then(|tc| infer(&mapping.kind, c.typmod, tc, ctx.style))
                    .filter(|i| i.follows_app && i.format == fmt),
            ),
            Err(e) => {
                problems.push(format!(
                    "{}table {source_name}, column {} ({}): {e}",
                    ctx.at(f.line),
                    c.name,
                    c.pg_type.display
                ));
                (Format::Default, None)
            }
        },
        None => {
            let refinement = fraction.map(|f| f.line).or(zone.map(|z| z.line));
            if let Some(line) = refinement {
                problems.push(format!(
                    "{}table {source_name}, column {}: fraction and zone need format = \"iso\" \
                     or \"iso-space\"",
                    ctx.at(line),
                    c.name
                ));
            }
            match target_col.and_then(|tc| infer(&mapping.kind, c.typmod, tc, ctx.style)) {
                Some(i) => {
                    if i.guess {
                        out.notes.push(format!(
                            "{sqlite_name}.{}: written as {} ({}); pin it in a map if the app \
                             writes another form",
                            c.name,
                            i.format.map_fields(&mapping.kind).join(", "),
                            i.evidence
                        ));
                    }
                    (i.format, Some(i))
                }
                None => {
                    if let Some(words) =
                        target_col.and_then(|tc| unrecognized(&mapping.kind, c.typmod, tc))
                    {
                        out.notes.push(format!("{sqlite_name}.{}: {words}", c.name));
                    }
                    (Format::Default, None)
                }
            }
        }
    };
    if let Some(why) = format.lossy(&mapping.kind, c.typmod) {
        let allowed = cm.is_some_and(|cm| cm.allow_lossy);
        // Lossy by declaration is often exact in the data: PostgreSQL counts
        // the values that would change before anything is refused.
        let refusal = match &inferred {
            _ if allowed => None,
            Some(i) if i.follows_app => None,
            None => Some(format!(
                "{here}: format {:?} is lossy ({why}); add allow_lossy = true to accept \
                 it (every changed value is counted in the summary)",
                format.name().unwrap_or_default()
            )),
            Some(i) => Some(format!(
                "{here}: the existing SQLite column would store it as {:?} ({}), \
                 which is lossy ({why}); accept it in the map with {{ {}, allow_lossy = \
                 true }}, or choose another format",
                format.name().unwrap_or_default(),
                i.evidence,
                format.map_fields(&mapping.kind).join(", ")
            )),
        };
        if let Some(changes) = format.changes_sql(&mapping.kind, &quote_ident(&c.name)) {
            let accepted = match &inferred {
                Some(i) if i.follows_app && !allowed => {
                    format!("the app's framework stores it so ({})", i.evidence)
                }
                _ => "allow_lossy".to_owned(),
            };
            out.lossy.push(LossyCheck {
                place: format!("{sqlite_name}.{}", c.name),
                what: format!(
                    "{} is lossy for {} ({why})",
                    format.map_fields(&mapping.kind).join(", "),
                    c.pg_type.display
                ),
                relation: ctx.table.qualified(),
                key_sql: key_sql(ctx.table.primary_key.as_deref()),
                changes_sql: changes,
                refusal,
                accepted,
            });
        } else if let Some(r) = refusal {
            problems.push(r);
        }
    }
    if format != Format::Default && matches!(mapping.kind, ValueKind::Time | ValueKind::Interval) {
        // The format is written from the binary value, not PostgreSQL's text.
        mapping.cast = None;
    }
    let storage = format.storage(mapping.storage);
    let map_declared = cm.and_then(|cm| cm.declared.as_ref());
    let declared = match (target_col, map_declared) {
        (Some(tc), Some(d)) if !tc.declared.eq_ignore_ascii_case(&d.value) => {
            problems.push(format!(
                "{}table {source_name}, column {}: type = {:?} applies to tables pg2sqlite \
                 creates; the SQLite target already declares it {:?}",
                ctx.at(d.line),
                c.name,
                d.value,
                tc.declared
            ));
            tc.declared.clone()
        }
        (Some(tc), _) => tc.declared.clone(),
        (None, Some(d)) => d.value.clone(),
        (None, None) => format.declared(mapping.declared).to_owned(),
    };
    let affinity = Affinity::of(&declared);
    let wide = !matches!(numeric_typmod(c.typmod), Some((p, _)) if p <= 15);
    if mapping.kind == ValueKind::Numeric
        && format == Format::Default
        && affinity.converts_text()
        && wide
    {
        problems.push(format!(
            "{here} ({}): a SQLite column declared {declared:?} turns the numbers stored in \
             it into doubles, which keep about 15 significant digits; declare a TEXT type, or \
             set format = \"real\" with allow_lossy = true",
            c.pg_type.display
        ));
    }
    if let Some(why) = affinity_conflict(&mapping.kind, &format, storage, affinity) {
        problems.push(format!(
            "{here} ({} as {}): cannot go into a SQLite column declared {declared:?}: {why}; \
             choose a format that fits (for {}: {})",
            c.pg_type.display,
            format.name().unwrap_or("the default mapping"),
            c.pg_type.display,
            accepted(&mapping.kind)
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(ColumnPlan {
        pg: c,
        mapping,
        sink_name: target_col.map_or(sink_name, |tc| tc.name.clone()),
        format,
        storage,
        declared,
    }))
}

/// SQL giving a row's key as `id=3` (or `a=1, b=x`), for messages; the row's
/// physical place when the table has no primary key.
fn key_sql(primary_key: Option<&[String]>) -> String {
    match primary_key {
        Some(cols) if !cols.is_empty() => {
            let parts: Vec<String> = cols
                .iter()
                .map(|k| {
                    let lit = format!("'{}='", k.replace('\'', "''"));
                    format!("{lit} || {}::text", quote_ident(k))
                })
                .collect();
            format!("concat_ws(', ', {})", parts.join(", "))
        }
        _ => "'ctid=' || ctid::text".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_misspelt_names() {
        assert_eq!(edit_distance("emial", "email"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("emial", &["id", "email", "is_active"]),
            "; did you mean \"email\"?"
        );
        assert_eq!(did_you_mean("zzzzzz", &["id", "email"]), "");
    }
}
