//! The key a delta merge matches rows by: the map's `key`, else the primary key.

use crate::map::SchemaMap;
use crate::plan::TablePlan;

/// Positions (among the merged columns) of the columns rows of `t` are matched
/// by, or why the table cannot be merged.
pub fn merge_key(t: &TablePlan, map: Option<&SchemaMap>) -> Result<Vec<usize>, String> {
    let table_map = map.and_then(|m| m.table(&t.source_name));
    let key_names: Vec<String> = match (&t.sink.primary_key, table_map.and_then(|m| m.key())) {
        (_, Some(key)) => {
            let mapped: Option<Vec<String>> = key.iter().map(|k| t.sink_column_of(k)).collect();
            mapped.ok_or_else(|| {
                format!(
                    "table {}: a column of the map's key ({}) is not merged",
                    t.source_name,
                    key.join(", ")
                )
            })?
        }
        (Some(pk), None) => pk.clone(),
        (None, None) => {
            return Err(format!(
                "table {}: no primary key; a delta merge matches rows by key (add a primary \
                 key in PostgreSQL, name a unique key with `key = [...]` in the map, or leave \
                 the table out with --exclude {})",
                t.source_name, t.sink.name
            ))
        }
    };
    let key: Vec<usize> = key_names
        .iter()
        .filter_map(|k| {
            t.sink
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(k))
        })
        .collect();
    if key.len() != key_names.len() {
        return Err(format!(
            "table {}: key column(s) {} are not in SQLite table {}; rows cannot be matched",
            t.source_name,
            key_names.join(", "),
            t.sink.name
        ));
    }
    Ok(key)
}
