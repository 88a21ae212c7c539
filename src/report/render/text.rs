//! The report for a terminal: one screen of counts per table, then details.

use std::fmt::Write;

use super::{method, sample_line, verdict};
use crate::report::classify::RowClass;
use crate::report::model::{Counts, Report};

pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", verdict(report));
    let width = report
        .tables
        .iter()
        .map(|t| t.table.chars().count())
        .chain(std::iter::once(6))
        .max()
        .unwrap_or(6);
    let _ = writeln!(
        s,
        "\n{:width$}  {:>9} {:>12} {:>11} {:>9} {:>11} {:>9}",
        "table", "lost new", "lost changed", "resurrected", "conflicts", "SQLite only", "identical"
    );
    let row = |s: &mut String, name: &str, c: &Counts| {
        let _ = writeln!(
            s,
            "{name:width$}  {:>9} {:>12} {:>11} {:>9} {:>11} {:>9}",
            c.lost_new, c.lost_changed, c.resurrected, c.conflicts, c.sqlite_only, c.identical
        );
    };
    for t in &report.tables {
        row(&mut s, &t.table, &t.counts);
    }
    row(&mut s, "total", &report.totals);
    let _ = writeln!(s, "\n{}", method(report));

    for t in &report.tables {
        if t.counts.lost() + t.counts.sqlite_only == 0 && !t.only_in_postgres {
            continue;
        }
        let _ = writeln!(s, "\n{} ({})", t.table, t.source);
        if t.only_in_postgres {
            let _ = writeln!(s, "  only in PostgreSQL: the SQLite file has no such table");
        }
        if !t.has_key {
            let _ = writeln!(s, "  no primary key: rows compared as a multiset");
        }
        for class in RowClass::ALL {
            let n = t.counts.get(class);
            if n == 0 {
                continue;
            }
            let samples = t.samples.get(class);
            let _ = writeln!(s, "  {} {n}:", class.title());
            for sample in samples {
                let _ = writeln!(s, "    {}", sample_line(sample));
            }
            if u64::try_from(samples.len()).unwrap_or(u64::MAX) < n {
                let _ = writeln!(
                    s,
                    "    … {} more (--samples)",
                    n - u64::try_from(samples.len()).unwrap_or(0)
                );
            }
        }
    }

    let d = &report.schema;
    if !d.tables_only_in_postgres.is_empty()
        || !d.columns_only_in_postgres.is_empty()
        || !d.type_differences.is_empty()
        || !d.tables_only_in_sqlite.is_empty()
        || d.foreign_key_orphans.missing_parent > 0
        || d.foreign_key_orphans.resurrected_parent > 0
    {
        let _ = writeln!(s, "\nschema");
    }
    for t in &d.tables_only_in_postgres {
        let _ = writeln!(s, "  table {} only in PostgreSQL: {} rows", t.table, t.rows);
    }
    for c in &d.columns_only_in_postgres {
        let _ = writeln!(
            s,
            "  column {}.{} ({}) only in PostgreSQL: {} non-NULL values",
            c.table, c.column, c.postgres_type, c.non_null
        );
    }
    for c in &d.type_differences {
        let _ = writeln!(
            s,
            "  column {}.{}: {} in PostgreSQL maps to {}, SQLite declares {}",
            c.table, c.column, c.postgres_type, c.mapped_type, c.sqlite_type
        );
    }
    for t in &d.tables_only_in_sqlite {
        let _ = writeln!(
            s,
            "  table {} only in SQLite: {} rows (kept, not lost)",
            t.table, t.rows
        );
    }
    let o = &d.foreign_key_orphans;
    if o.missing_parent > 0 {
        let _ = writeln!(
            s,
            "  {} rows whose foreign key points at a missing parent:",
            o.missing_parent
        );
        for l in &o.missing_parent_listed {
            let _ = writeln!(s, "    {l}");
        }
    }
    if o.resurrected_parent > 0 {
        let _ = writeln!(
            s,
            "  {} rows point at a parent PostgreSQL deleted that the rollback brings back:",
            o.resurrected_parent
        );
        for l in &o.resurrected_parent_listed {
            let _ = writeln!(s, "    {l}");
        }
    }

    if !report.loss_ledger.is_empty() {
        let _ = writeln!(
            s,
            "\nvalues SQLite cannot hold exactly (rows a sync would read)"
        );
        for e in &report.loss_ledger {
            let _ = writeln!(
                s,
                "  {}.{}: {} × {}",
                e.table, e.column, e.count, e.description
            );
        }
    }

    let c = &report.sync;
    let _ = writeln!(
        s,
        "\na delta sync instead: {} inserts, {} updates, {} deletes, {} conflicts, {} SQLite rows kept{}",
        c.inserts,
        c.updates,
        c.deletes,
        c.conflicts,
        c.kept,
        match c.estimated_seconds {
            Some(secs) => format!("; about {secs:.1} s"),
            None => String::new(),
        }
    );
    let k = &report.cost;
    let _ = writeln!(
        s,
        "this report: {:.2} s; {} of {} key ranges differed; {} rows read row by row",
        k.seconds, k.parts_differing, k.parts, k.rows_read_row_by_row
    );
    for n in &report.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
