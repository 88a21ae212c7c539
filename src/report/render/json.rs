//! The report as JSON for scripts: the model as it is (`"version": 1`).

use crate::report::model::Report;

pub fn render(report: &Report) -> String {
    // The model holds only strings, numbers and lists: it always serializes.
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}
