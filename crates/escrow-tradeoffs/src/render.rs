//! The table as aligned plain text and as Markdown.

use crate::{McEstimate, Row};

const HEADER: [&str; 7] = [
    "t",
    "quorum t+1",
    "P(unauthorized) exact",
    "MC estimate ± SE",
    "P(lawful access fails) exact",
    "MC estimate ± SE",
    "MC check (within 4 SE)",
];

/// The table as plain text: one row per threshold, columns aligned, numbers right.
pub fn render_text(rows: &[Row]) -> String {
    aligned(&HEADER, &rows.iter().map(cells).collect::<Vec<_>>())
}

/// The table as a GitHub-flavoured Markdown table (numbers right-aligned).
pub fn render_markdown(rows: &[Row]) -> String {
    markdown(&HEADER, rows.iter().map(cells))
}

fn cells(row: &Row) -> [String; 7] {
    let mc = |e: Option<&McEstimate>| match e {
        Some(e) if e.std_error == 0.0 => format!("{} ± 0", probability(e.estimate)),
        Some(e) => format!("{} ± {:.1e}", probability(e.estimate), e.std_error),
        None => "n/a".to_owned(),
    };
    let check = match row.monte_carlo {
        None => "n/a".to_owned(),
        Some(mc) => {
            let verdicts =
                [(mc.unauthorized.verdict(row.exact.unauthorized), "a"), (mc.fails.verdict(row.exact.fails), "b")];
            let notes: Vec<String> = verdicts
                .iter()
                .filter_map(|(v, which)| match v {
                    crate::Verdict::Agrees => None,
                    crate::Verdict::Disagrees => Some(format!("{which}: OFF")),
                    crate::Verdict::TooRare { expected } if *expected < 0.1 => {
                        Some(format!("{which}: too rare ({expected:.0e} hits expected)"))
                    }
                    crate::Verdict::TooRare { expected } => {
                        Some(format!("{which}: too rare ({expected:.1} hits expected)"))
                    }
                })
                .collect();
            if notes.is_empty() {
                "ok".to_owned()
            } else {
                notes.join(", ")
            }
        }
    };
    [
        row.t.to_string(),
        row.quorum.to_string(),
        probability(row.exact.unauthorized),
        mc(row.monte_carlo.as_ref().map(|m| &m.unauthorized)),
        probability(row.exact.fails),
        mc(row.monte_carlo.as_ref().map(|m| &m.fails)),
        check,
    ]
}

const HORIZON_HEADER: [&str; 5] =
    ["t", "quorum t+1", "P(any unauthorized access)", "messages read without warrant", "warrants that fail"];

/// The horizon table as plain text: per threshold, the chance of at least one
/// unauthorized access over the horizon, and the expected messages and warrants lost.
pub fn render_horizon_text(rows: &[Row]) -> String {
    aligned(&HORIZON_HEADER, &rows.iter().map(horizon_cells).collect::<Vec<_>>())
}

/// The horizon table as Markdown.
pub fn render_horizon_markdown(rows: &[Row]) -> String {
    markdown(&HORIZON_HEADER, rows.iter().map(horizon_cells))
}

/// A GitHub-flavoured Markdown table, every column right-aligned.
pub(crate) fn markdown<const N: usize>(header: &[&str; N], rows: impl Iterator<Item = [String; N]>) -> String {
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---:|".repeat(N));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn horizon_cells(row: &Row) -> [String; 5] {
    [
        row.t.to_string(),
        row.quorum.to_string(),
        probability(row.horizon.unauthorized),
        amount(row.horizon.messages_exposed),
        amount(row.horizon.failed_warrants),
    ]
}

/// Columns aligned right, two spaces apart, a rule under the header.
pub(crate) fn aligned<const N: usize>(header: &[&str; N], cells: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: [&str; N]| {
        let padded: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:>w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(*header);
    let total = widths.iter().sum::<usize>() + 2 * (N - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in cells {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// An expected count for a reader: whole numbers with thousands separators from 1,000
/// up, three significant digits below, scientific notation below 0.01, and 0 plainly.
pub fn amount(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x < 0.01 {
        format!("{x:.1e}")
    } else if x < 1000.0 {
        let decimals = if x < 1.0 {
            3
        } else if x < 10.0 {
            2
        } else if x < 100.0 {
            1
        } else {
            0
        };
        format!("{x:.decimals$}")
    } else {
        // Finite and at least 1,000 here; beyond u64 (1.8e19) scientific is clearer.
        if x >= 1e15 {
            return format!("{x:.2e}");
        }
        let digits = format!("{:.0}", x.round());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

/// Four significant digits in scientific notation; 0 and 1 plainly.
pub(crate) fn probability(x: f64) -> String {
    if x == 0.0 || x == 1.0 {
        format!("{x}")
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_format() {
        assert_eq!(probability(0.0), "0");
        assert_eq!(probability(1.0), "1");
        assert_eq!(probability(0.00856), "8.560e-3");
        assert_eq!(probability(0.5), "5.000e-1");
    }

    #[test]
    fn amount_format() {
        assert_eq!(amount(0.0), "0");
        assert_eq!(amount(3.4e-5), "3.4e-5");
        assert_eq!(amount(0.052), "0.052");
        assert_eq!(amount(5.2), "5.20");
        assert_eq!(amount(52.0), "52.0");
        assert_eq!(amount(520.4), "520");
        assert_eq!(amount(1000.0), "1,000");
        assert_eq!(amount(18_200_000.0), "18,200,000");
        assert_eq!(amount(350_000.4), "350,000");
        assert_eq!(amount(2e15), "2.00e15");
    }
}
