//! Text, Markdown, SVG and the report files.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{
    plot_frontier, plot_risk_vs_threshold, render_markdown, render_text, table, write_report, Params,
    DEFAULT_FRONTIER_NS,
};

const PARAMS: Params = Params { n: 5, p_compromise: 0.1, q_outage: 0.05, trials: 20_000, seed: 1 };

fn assert_svg_document(svg: &str) {
    let svg = svg.trim();
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count(), "unbalanced <text>");
}

#[test]
fn text_table() {
    let text = render_text(&table(&PARAMS).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 + 5, "{text}");
    assert!(lines[0].contains("P(unauthorized) exact"));
    assert!(lines[0].contains("P(lawful access fails) exact"));
    assert!(lines[1].chars().all(|c| c == '-'));
    // t = 2, quorum 3: the hand-computed values of tests/exact.rs.
    let t2: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(&t2[..3], ["2", "3", "8.560e-3"], "{}", lines[4]);
    assert!(lines[4].contains("1.158e-3"));
    // Rows whose events the 20,000 trials can test say "ok"; a row whose event is
    // expected under 10 times says so instead of a vacuous "ok": t = 0 fails when all 5
    // are down (3e-7), t = 3 and 4 open without a warrant with 4 or 5 of 5 compromised.
    assert!(lines[4].ends_with("  ok"), "{}", lines[4]);
    assert!(lines[2].ends_with("b: too rare (6e-3 hits expected)"), "{}", lines[2]);
    assert!(lines[5].ends_with("a: too rare (9.2 hits expected)"), "{}", lines[5]);
    assert!(lines[6].ends_with("a: too rare (0.2 hits expected)"), "{}", lines[6]);
    assert!(!text.contains("OFF"), "{text}");
}

#[test]
fn markdown_table() {
    let md = render_markdown(&table(&PARAMS).unwrap());
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines.len(), 2 + 5);
    assert!(lines[0].starts_with("| t | quorum t+1 |"));
    assert_eq!(lines[1], "|---:|---:|---:|---:|---:|---:|---:|");
    assert!(lines[4].starts_with("| 2 | 3 | 8.560e-3 | "), "{}", lines[4]);
    // Every line has the same number of cells.
    assert!(lines.iter().all(|l| l.matches('|').count() == 8));
}

#[test]
fn risk_vs_threshold_svg() {
    let svg = plot_risk_vs_threshold(5, 0.01, 0.05).unwrap();
    assert_svg_document(&svg);
    assert!(svg.contains("Risk vs threshold: n = 5 trustees, p = 0.01, q = 0.05"));
    assert!(svg.contains("unauthorized access (&gt;= t+1 compromised)"));
    assert!(svg.contains("lawful access fails (&lt; t+1 available)"));
    assert!(svg.contains("threshold t (t + 1 shares open)"));
    assert!(svg.contains("probability (log10 scale)"));
    assert!(svg.contains("drawn at 1e-12"));
    // Two series plus legend samples: at least two polylines.
    assert!(svg.matches("<polyline").count() >= 2);
    // n = 1 still draws.
    assert_svg_document(&plot_risk_vs_threshold(1, 0.0, 1.0).unwrap());
}

#[test]
fn frontier_svg() {
    let svg = plot_frontier(&DEFAULT_FRONTIER_NS, 0.01, 0.05).unwrap();
    assert_svg_document(&svg);
    assert!(svg.contains("The frontier: n in {3, 5, 7, 9, 15}, p = 0.01, q = 0.05"));
    for n in DEFAULT_FRONTIER_NS {
        assert!(svg.contains(&format!("n = {n} (points: t = 0..{})", n - 1)));
    }
    assert!(svg.contains("majority quorum, t = floor(n/2)"));
    assert!(svg.contains("P(unauthorized access), log10"));
    assert!(svg.contains("P(lawful access fails), log10"));
}

#[test]
fn report_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let paths = write_report(&out, &PARAMS).unwrap();
    let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["tradeoffs.md", "risk-vs-threshold.svg", "frontier.svg", "tradeoffs.json"]);
    for p in &paths {
        assert!(p.starts_with(&out) && p.is_file(), "{}", p.display());
    }
    let md = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(md.starts_with("# Escrow trade-offs: n = 5, p = 0.1, q = 0.05"));
    for needle in [
        "## Method",
        "## How to read this",
        "| 2 | 3 | 8.560e-3 |",
        "![Risk vs threshold](risk-vs-threshold.svg)",
        "![The frontier](frontier.svg)",
        "Rows outside: 0 of 5.",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    assert_svg_document(&std::fs::read_to_string(&paths[1]).unwrap());
    let frontier = std::fs::read_to_string(&paths[2]).unwrap();
    assert_svg_document(&frontier);
    // params.n = 5 is already among the defaults: not repeated.
    assert!(frontier.contains("n in {3, 5, 7, 9, 15}"));

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&paths[3]).unwrap()).unwrap();
    assert_eq!(json["params"]["n"], 5);
    assert_eq!(json["rows"].as_array().unwrap().len(), 5);
    let u = json["rows"][2]["exact"]["unauthorized"].as_f64().unwrap();
    assert!((u - 0.00856).abs() < 1e-12);
    assert_eq!(json["rows"][2]["monte_carlo"]["unauthorized"]["trials"], 20_000);
    assert_eq!(json["frontier"].as_array().unwrap().len(), 5);
    assert_eq!(json["plot_floor"], 1e-12);
}

#[test]
fn report_adds_params_n_to_the_frontier() {
    let dir = tempfile::tempdir().unwrap();
    let params = Params { n: 4, ..PARAMS };
    let paths = write_report(dir.path(), &params).unwrap();
    let frontier = std::fs::read_to_string(&paths[2]).unwrap();
    assert!(frontier.contains("n in {3, 4, 5, 7, 9, 15}"));
}
