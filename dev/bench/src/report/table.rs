//! The report being built: the table's rows (figure, value, target) and the results file, and
//! how a target reads (met or not) and the table prints.

use serde_json::Value;

/// The table's rows (figure, value, target) and the results file being built.
pub(super) struct Report {
    pub(super) rows: Vec<(String, String, String)>,
    pub(super) results: Value,
}

impl Report {
    pub(super) fn row(&mut self, figure: impl Into<String>, value: impl Into<String>, target: impl Into<String>) {
        self.rows.push((figure.into(), value.into(), target.into()));
    }
}

/// A target as the table shows it: what it asks, and whether it was met.
pub(super) fn target(met: bool, what: &str) -> String {
    format!("{what} {}", if met { "✓" } else { "✗" })
}

pub(super) fn print_table(rows: &[(String, String, String)]) {
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (f, v, t) in rows {
        println!("{f:<w0$}  {v:<w1$}  {t}");
    }
}
