//! The report as one self-contained HTML page for the meeting: no scripts, no
//! network, a small SVG bar chart per table of its rows by class, the details
//! below.

use std::fmt::Write;

use super::{method, sample_line, verdict};
use crate::report::classify::RowClass;
use crate::report::model::{Report, TableReport};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}\
td.n{text-align:right}.loss{color:#b00020}.ok{color:#1b5e20}svg{display:block;margin:.5em 0}\
code{background:#f4f4f4}";

/// Bar colours per class (and identical rows last).
const COLOURS: [&str; 6] = [
    "#d32f2f", "#f57c00", "#7b1fa2", "#c2185b", "#1976d2", "#9e9e9e",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar per class, lengths relative to the table's largest class.
fn chart(t: &TableReport) -> String {
    let mut bars: Vec<(&str, u64)> = RowClass::ALL
        .iter()
        .map(|c| (c.title(), t.counts.get(*c)))
        .collect();
    bars.push(("identical", t.counts.identical));
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let mut s = format!(
        "<svg class=\"chart\" data-table=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" height=\"{}\" role=\"img\">",
        esc(&t.table),
        bars.len() * 22 + 4
    );
    for (i, ((label, n), colour)) in bars.iter().zip(COLOURS).enumerate() {
        let y = i * 22 + 2;
        // Bar widths are pixels: the ratio is at most 1, the result at most 300.
        let width = u32::try_from(u128::from(*n) * 300 / u128::from(max)).unwrap_or(300);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{label}</text>\
             <rect class=\"bar\" data-class=\"{label}\" data-count=\"{n}\" x=\"110\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 14,
            width + 116,
            y + 14
        );
    }
    s.push_str("</svg>");
    s
}

pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Data-loss report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        s,
        "<h1>Data-loss report</h1><p>PostgreSQL <code>{}</code> → SQLite <code>{}</code></p><p id=\"verdict\" class=\"{}\"><strong>{}</strong></p><p>{}</p>",
        esc(&report.source),
        esc(&report.target),
        if report.loss { "loss" } else { "ok" },
        esc(&verdict(report)),
        esc(&method(report))
    );
    s.push_str("<table id=\"summary\"><thead><tr><th>table</th>");
    for c in RowClass::ALL {
        let _ = write!(s, "<th>{}</th>", c.title());
    }
    s.push_str("<th>identical</th></tr></thead><tbody>");
    let mut row = |name: &str, counts: &crate::report::model::Counts| {
        let _ = write!(s, "<tr data-table=\"{}\"><td>{}</td>", esc(name), esc(name));
        for c in RowClass::ALL {
            let _ = write!(
                s,
                "<td class=\"n\" data-class=\"{}\">{}</td>",
                c.name(),
                counts.get(c)
            );
        }
        let _ = write!(
            s,
            "<td class=\"n\" data-class=\"identical\">{}</td></tr>",
            counts.identical
        );
    };
    for t in &report.tables {
        row(&t.table, &t.counts);
    }
    row("total", &report.totals);
    s.push_str("</tbody></table>");

    for t in &report.tables {
        let _ =
            write!(
            s,
            "<section class=\"table\"><h2>{}</h2><p>{} rows in PostgreSQL, {} in SQLite{}</p>{}",
            esc(&t.table),
            t.postgres_rows,
            t.sqlite_rows,
            if t.only_in_postgres { "; only in PostgreSQL" } else { "" },
            chart(t)
        );
        for class in RowClass::ALL {
            let samples = t.samples.get(class);
            if samples.is_empty() {
                continue;
            }
            let _ = write!(s, "<h3>{}: {}</h3><ul>", class.title(), t.counts.get(class));
            for sample in samples {
                let _ = write!(s, "<li><code>{}</code></li>", esc(&sample_line(sample)));
            }
            let shown = u64::try_from(samples.len()).unwrap_or(0);
            if shown < t.counts.get(class) {
                let _ = write!(
                    s,
                    "<li>… {} more (list cut by --samples)</li>",
                    t.counts.get(class) - shown
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</section>");
    }

    let d = &report.schema;
    s.push_str("<h2>Schema drift</h2><ul id=\"schema\">");
    for t in &d.tables_only_in_postgres {
        let _ = write!(
            s,
            "<li>table <code>{}</code> only in PostgreSQL: {} rows</li>",
            esc(&t.table),
            t.rows
        );
    }
    for c in &d.columns_only_in_postgres {
        let _ = write!(
            s,
            "<li>column <code>{}.{}</code> ({}) only in PostgreSQL: {} non-NULL values</li>",
            esc(&c.table),
            esc(&c.column),
            esc(&c.postgres_type),
            c.non_null
        );
    }
    for c in &d.type_differences {
        let _ = write!(
            s,
            "<li>column <code>{}.{}</code>: {} maps to {}, SQLite declares {}</li>",
            esc(&c.table),
            esc(&c.column),
            esc(&c.postgres_type),
            esc(&c.mapped_type),
            esc(&c.sqlite_type)
        );
    }
    for t in &d.tables_only_in_sqlite {
        let _ = write!(
            s,
            "<li>table <code>{}</code> only in SQLite: {} rows (kept)</li>",
            esc(&t.table),
            t.rows
        );
    }
    let _ = write!(
        s,
        "<li>foreign-key orphans in the file: {}</li>\
         <li>rows pointing at a parent PostgreSQL deleted that the rollback brings back: {}</li></ul>",
        d.foreign_key_orphans.missing_parent, d.foreign_key_orphans.resurrected_parent
    );
    if !report.loss_ledger.is_empty() {
        s.push_str("<h2>Values SQLite cannot hold exactly</h2><ul>");
        for e in &report.loss_ledger {
            let _ = write!(
                s,
                "<li><code>{}.{}</code>: {} × {}</li>",
                esc(&e.table),
                esc(&e.column),
                e.count,
                esc(e.description)
            );
        }
        s.push_str("</ul>");
    }
    let c = &report.sync;
    let _ = write!(
        s,
        "<h2>A delta sync instead</h2><p id=\"sync\">{} inserts, {} updates, {} deletes, {} conflicts, {} kept{}</p>",
        c.inserts,
        c.updates,
        c.deletes,
        c.conflicts,
        c.kept,
        c.estimated_seconds
            .map_or_else(String::new, |x| format!("; about {x:.1} s"))
    );
    for n in &report.notes {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(n));
    }
    s.push_str("</body></html>\n");
    s
}
