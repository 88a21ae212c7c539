//! The report as markdown, for the incident document.

use std::fmt::Write;

use super::{method, sample_line, verdict};
use crate::report::classify::RowClass;
use crate::report::model::{Counts, Report};

/// Pipes and line breaks would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Data-loss report\n");
    let _ = writeln!(
        s,
        "PostgreSQL `{}` → SQLite `{}`\n",
        report.source, report.target
    );
    let _ = writeln!(s, "**{}**\n", verdict(report));
    let _ = writeln!(s, "{}\n", method(report));
    let _ = writeln!(
        s,
        "| table | lost new | lost changed | resurrected | conflicts | SQLite only | identical |\n|---|--:|--:|--:|--:|--:|--:|"
    );
    let row = |s: &mut String, name: &str, c: &Counts| {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(name),
            c.lost_new,
            c.lost_changed,
            c.resurrected,
            c.conflicts,
            c.sqlite_only,
            c.identical
        );
    };
    for t in &report.tables {
        row(&mut s, &t.table, &t.counts);
    }
    row(&mut s, "**total**", &report.totals);

    for t in &report.tables {
        if t.counts.lost() + t.counts.sqlite_only == 0 {
            continue;
        }
        let _ = writeln!(s, "\n## {}\n", cell(&t.table));
        if t.only_in_postgres {
            let _ = writeln!(
                s,
                "Only in PostgreSQL: the SQLite file has no such table.\n"
            );
        }
        for class in RowClass::ALL {
            let n = t.counts.get(class);
            if n == 0 {
                continue;
            }
            let samples = t.samples.get(class);
            let _ = writeln!(s, "**{}: {n}**\n", class.title());
            for sample in samples {
                let _ = writeln!(s, "- `{}`", sample_line(sample).replace('`', "'"));
            }
            let shown = u64::try_from(samples.len()).unwrap_or(0);
            if shown < n {
                let _ = writeln!(s, "- … {} more (list cut by --samples)", n - shown);
            }
            s.push('\n');
        }
    }

    let d = &report.schema;
    let _ = writeln!(s, "\n## Schema drift\n");
    for t in &d.tables_only_in_postgres {
        let _ = writeln!(
            s,
            "- table `{}` only in PostgreSQL: {} rows",
            t.table, t.rows
        );
    }
    for c in &d.columns_only_in_postgres {
        let _ = writeln!(
            s,
            "- column `{}.{}` ({}) only in PostgreSQL: {} non-NULL values",
            c.table, c.column, c.postgres_type, c.non_null
        );
    }
    for c in &d.type_differences {
        let _ = writeln!(
            s,
            "- column `{}.{}`: {} maps to {}, SQLite declares {}",
            c.table, c.column, c.postgres_type, c.mapped_type, c.sqlite_type
        );
    }
    for t in &d.tables_only_in_sqlite {
        let _ = writeln!(
            s,
            "- table `{}` only in SQLite: {} rows (kept)",
            t.table, t.rows
        );
    }
    let o = &d.foreign_key_orphans;
    let _ = writeln!(
        s,
        "- foreign-key orphans in the file: {} pointing at a missing parent",
        o.missing_parent
    );
    for l in &o.missing_parent_listed {
        let _ = writeln!(s, "  - {l}");
    }
    let _ = writeln!(
        s,
        "- rows pointing at a parent PostgreSQL deleted that the rollback brings back: {}",
        o.resurrected_parent
    );
    for l in &o.resurrected_parent_listed {
        let _ = writeln!(s, "  - {l}");
    }

    let _ = writeln!(s, "\n## Values SQLite cannot hold exactly\n");
    if report.loss_ledger.is_empty() {
        let _ = writeln!(s, "None among the rows a sync would read.");
    }
    for e in &report.loss_ledger {
        let _ = writeln!(
            s,
            "- `{}.{}`: {} × {}",
            e.table, e.column, e.count, e.description
        );
    }

    let c = &report.sync;
    let _ = writeln!(
        s,
        "\n## A delta sync instead\n\n| inserts | updates | deletes | conflicts | kept | estimate |\n|--:|--:|--:|--:|--:|--:|\n| {} | {} | {} | {} | {} | {} |",
        c.inserts,
        c.updates,
        c.deletes,
        c.conflicts,
        c.kept,
        c.estimated_seconds
            .map_or_else(|| "–".to_owned(), |x| format!("{x:.1} s"))
    );
    if !report.notes.is_empty() {
        let _ = writeln!(s, "\n## Notes\n");
        for n in &report.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}
