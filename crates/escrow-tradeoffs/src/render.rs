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
    let cells: Vec<[String; 7]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: [&str; 7]| {
        let padded: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:>w$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(HEADER);
    let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// The table as a GitHub-flavoured Markdown table (numbers right-aligned).
pub fn render_markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!("|{}\n", "---:|".repeat(HEADER.len())));
    for row in rows {
        out.push_str(&format!("| {} |\n", cells(row).join(" | ")));
    }
    out
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
}
