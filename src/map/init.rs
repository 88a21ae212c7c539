//! `pg2sqlite map init`: a complete, commented schema map for the live
//! databases, so a user edits one instead of writing one.
//!
//! Every table and column is listed. With an existing target, each column's
//! format is what its declared type and stored values show, and the comment
//! gives that evidence; columns only one side has are listed as comments.

use std::fmt::Write;
use std::path::PathBuf;

use super::framework::{detect, AppStyle};
use super::infer::{infer, unrecognized};
use crate::error::{Error, Result};
use crate::mapping::format::{accepted, Format};
use crate::mapping::types::map_type;
use crate::pipeline::runtime;
use crate::plan::names::DefaultNames;
use crate::plan::{can_be_cursor, sqlite_table_name};
use crate::sink::existing::{TargetSchema, TargetTable};
use crate::source::catalog::{read_catalog, PgColumn, PgTable};
use crate::source::connect::SourceConfig;

pub struct InitOptions {
    pub source: SourceConfig,
    pub target: Option<PathBuf>,
    pub schemas: Vec<String>,
}

/// Reads both databases and returns the map text.
pub fn run(opts: &InitOptions) -> Result<String> {
    let target = match &opts.target {
        Some(p) => TargetSchema::read(p)?,
        None => TargetSchema::default(),
    };
    let catalog = runtime(1)?.block_on(async {
        let client = opts.source.connect().await?;
        read_catalog(&client, &opts.schemas).await
    })?;
    if catalog.is_empty() {
        return Err(Error::Usage(format!(
            "PostgreSQL has no tables in schema(s) {}; nothing to map (check --schema)",
            opts.schemas.join(", ")
        )));
    }
    Ok(render(&catalog, &target, opts))
}

/// A TOML key: bare when it can be, else a quoted string.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_owned()
    } else {
        toml_string(s)
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render(catalog: &[PgTable], target: &TargetSchema, opts: &InitOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Schema map written by `pg2sqlite map init` from PostgreSQL {} (schemas: {}){}.",
        opts.source.display(),
        opts.schemas.join(", "),
        opts.target
            .as_ref()
            .map_or(String::new(), |p| format!(" and SQLite {}", p.display()))
    );
    out.push_str(
        "# The format is described in schema-maps/README.md. Edit it, then check it with\n\
         #   pg2sqlite map check --map FILE --source URL [--target FILE]\n\
         # and use it with `pg2sqlite sync --map FILE`.\n\n\
         # Only these tables (default: every table of the schemas):\n\
         # include = [\"...\"]\n\
         # Leave these tables out:\n\
         # exclude = [\"...\"]\n",
    );
    let style = (!target.tables.is_empty())
        .then(|| detect(target))
        .flatten();
    match &style {
        Some(s) => {
            let _ = writeln!(
                out,
                "\n# App style: {} ({}). Columns with no stored values get its encodings.",
                s.framework.name(),
                s.evidence
            );
        }
        None if !target.tables.is_empty() => out.push_str(
            "\n# App style: none detected (no bookkeeping table of Django, SQLAlchemy, Rails,\n\
             # Prisma or Sequelize, and no telling stored values). Columns with no stored\n\
             # values get the default mapping or a guess from their declared type.\n",
        ),
        None => {}
    }
    // The names a sync would give where SQLite cannot hold PostgreSQL's, written
    // out as renames so that the user can choose others.
    let defaults = DefaultNames::assign(catalog, |_, _| None, |_, _, _| None);
    let mut mapped = Vec::new();
    for t in catalog {
        let sqlite = defaults
            .table(&t.schema, &t.name)
            .map_or_else(|| sqlite_table_name(&t.schema, &t.name), str::to_owned);
        let existing = target.table(&sqlite);
        if let Some(reason) = existing.and_then(|e| e.unreadable.as_deref()) {
            let _ = writeln!(
                out,
                "\n# CHECK: SQLite table {sqlite} cannot be read ({reason}); a sync into it fails"
            );
        }
        let existing = existing.filter(|e| e.unreadable.is_none());
        mapped.push(sqlite.to_lowercase());
        render_table(&mut out, t, &sqlite, existing, style.as_ref(), &defaults);
    }
    let only_sqlite: Vec<&str> = target
        .tables
        .iter()
        .filter(|t| !mapped.contains(&t.name.to_lowercase()))
        .map(|t| t.name.as_str())
        .collect();
    if !only_sqlite.is_empty() {
        let _ = writeln!(
            out,
            "\n# Tables only in SQLite, left as they are by a sync: {}",
            only_sqlite.join(", ")
        );
    }
    out
}

fn render_table(
    out: &mut String,
    t: &PgTable,
    sqlite: &str,
    existing: Option<&TargetTable>,
    style: Option<&AppStyle>,
    defaults: &DefaultNames,
) {
    let table_key = if t.schema == "public" {
        key(&t.name)
    } else {
        key(&format!("{}.{}", t.schema, t.name))
    };
    let _ = writeln!(out, "\n[tables.{table_key}]");
    let _ = writeln!(
        out,
        "# PostgreSQL {}.{} -> SQLite {sqlite} ({})",
        t.schema,
        t.name,
        match existing {
            Some(e) => format!("existing table, {} columns", e.columns.len()),
            None => "created by pg2sqlite".to_owned(),
        }
    );
    if sqlite == sqlite_table_name(&t.schema, &t.name) {
        let _ = writeln!(out, "# rename = {}", toml_string(sqlite));
    } else {
        let _ = writeln!(
            out,
            "rename = {}  # SQLite cannot hold {:?} beside another table of this name in other \
             case (or reserves it); choose another name here if you like",
            toml_string(sqlite),
            sqlite_table_name(&t.schema, &t.name)
        );
    }
    // Only columns that change with every update: a creation time would hide
    // every later edit of a row from a delta (issue 10).
    let cursor = ["updated_at", "modified_at", "updatedAt"]
        .into_iter()
        .find(|name| {
            t.columns
                .iter()
                .any(|c| c.name == *name && can_be_cursor(c))
        });
    match cursor {
        Some(c) => {
            let _ = writeln!(
                out,
                "cursor = {}  # delta sync: when a row last changed",
                toml_string(c)
            );
        }
        None => out.push_str("# cursor = \"updated_at\"  # delta sync: when a row last changed\n"),
    }
    out.push_str("# deletes = \"propagate\"  # delta sync: propagate | keep | report\n");
    if t.primary_key.is_none() {
        out.push_str(
            "# key = [\"...\"]  # no primary key: a unique key for delta sync to match rows by\n",
        );
    }
    let _ = writeln!(out, "\n[tables.{table_key}.columns]");
    for c in &t.columns {
        let renamed = defaults
            .column(&t.schema, &t.name, &c.name)
            .filter(|n| *n != c.name);
        render_column(out, c, existing, style, renamed);
    }
    if let Some(e) = existing {
        for tc in &e.columns {
            if t.columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&tc.name))
            {
                continue;
            }
            let fills = tc.has_default || !tc.not_null || (tc.primary_key && e.rowid_key);
            let _ = writeln!(
                out,
                "# {}: only in SQLite (declared {:?}); {}",
                tc.name,
                tc.declared,
                if fills {
                    "keeps its default".to_owned()
                } else {
                    format!(
                        "NOT NULL without a default: rename the PostgreSQL column that holds \
                         its values to {:?}, or sync refuses",
                        tc.name
                    )
                }
            );
        }
    }
}

fn render_column(
    out: &mut String,
    c: &PgColumn,
    existing: Option<&TargetTable>,
    style: Option<&AppStyle>,
    renamed: Option<&str>,
) {
    let name = key(&c.name);
    let m = match map_type(&c.pg_type, c.typmod) {
        Ok(m) => m,
        Err(reason) => {
            let _ = writeln!(out, "{name} = {{ skip = true }}  # {reason}");
            return;
        }
    };
    let target_col = existing.and_then(|e| e.column(&c.name));
    if existing.is_some() && target_col.is_none() {
        let _ = writeln!(
            out,
            "# {name}: only in PostgreSQL ({}); the SQLite table has no such column, so a \
             sync reports it as schema loss (rename it to an existing column to copy it)",
            c.pg_type.display
        );
        return;
    }
    let inferred = target_col.and_then(|tc| infer(&m.kind, c.typmod, tc, style));
    if let Some(words) = target_col.and_then(|tc| unrecognized(&m.kind, c.typmod, tc)) {
        let _ = writeln!(out, "# CHECK {name}: {words}");
    }
    let format = inferred.as_ref().map_or(Format::Default, |i| i.format);
    let mut fields = format.map_fields(&m.kind);
    if let Some(new) = renamed {
        fields.insert(0, format!("rename = {}", toml_string(new)));
    }
    let mut comment = format!(
        "{} -> {}",
        c.pg_type.display,
        target_col.map_or_else(
            || format.declared(m.declared).to_owned(),
            |tc| {
                if tc.declared.is_empty() {
                    "(no declared type)".to_owned()
                } else {
                    tc.declared.clone()
                }
            }
        )
    );
    match &inferred {
        Some(i) => {
            let _ = write!(comment, "; inferred: {}", i.evidence);
        }
        None if target_col.is_some() => {
            comment.push_str("; default mapping (nothing stored says otherwise)")
        }
        None => {}
    }
    if let Some(why) = format.lossy(&m.kind, c.typmod) {
        if inferred.as_ref().is_some_and(|i| i.follows_app) {
            let _ = write!(
                comment,
                "; LOSSY: {why}, as the app itself stores it: a sync counts every changed \
                 value in the loss ledger"
            );
        } else {
            let _ = write!(
                comment,
                "; LOSSY: {why}; a sync counts the stored values it would change and refuses \
                 only if there are some; add allow_lossy = true to accept them"
            );
        }
    }
    let _ = write!(comment, " (formats: {})", accepted(&m.kind));
    let fields = if fields.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{ {} }}", fields.join(", "))
    };
    let _ = writeln!(out, "{name} = {fields}  # {comment}");
}
