//! Text, Markdown, SVG and the report files.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{
    plot_common_cause, plot_frontier, plot_risk_vs_threshold, render_horizon_text, render_markdown, render_text, table,
    write_report, CommonCause, Params, Scale, DEFAULT_FRONTIER_NS,
};

const PARAMS: Params = Params {
    n: 5,
    p_compromise: 0.1,
    q_outage: 0.05,
    trials: 20_000,
    seed: 1,
    threshold: 2,
    common: CommonCause { compromise: 0.0, outage: 0.0, reach: 4 },
    scale: Scale::DEFAULT,
};

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
fn horizon_table() {
    let text = render_horizon_text(&table(&PARAMS).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 + 5, "{text}");
    assert!(lines[0].contains("P(any unauthorized access)") && lines[0].contains("warrants that fail"));
    // t = 2: 52 epochs × 0.00856 × 350,000,000 messages = 155,792,000 expected messages;
    // 52 × 10 × 0.001158125 = 0.602 failed warrants; 1 - (1 - 0.00856)^52
    // = 1 - exp(52 × ln 0.99144) = 1 - exp(-0.447035) = 0.36048.
    let t2: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(t2, ["2", "3", "3.605e-1", "155,792,000", "0.602"], "{}", lines[4]);
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

/// The off-scale markers in an SVG: closed polylines of three corners (four points,
/// the last the first), which no series or grid line is.
fn triangles(svg: &str) -> usize {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|el| el.split("points=\"").nth(1)?.split('"').next())
        .filter(|points| {
            let corners: Vec<&str> = points.split_whitespace().collect();
            corners.len() == 4 && corners.first() == corners.last()
        })
        .count()
}

#[test]
fn risk_vs_threshold_svg() {
    let svg = plot_risk_vs_threshold(&Params::new(5, 0.01, 0.05)).unwrap();
    assert_svg_document(&svg);
    assert!(svg.contains("Risk vs threshold: n = 5 trustees, p = 0.01, q = 0.05"));
    assert!(svg.contains("unauthorized access (&gt;= t+1 compromised)"));
    assert!(svg.contains("lawful access fails (&lt; t+1 available)"));
    assert!(svg.contains("threshold t (t + 1 shares open)"));
    assert!(svg.contains("probability per epoch (log10 scale)"));
    assert!(svg.contains("off the scale"));
    // The deployment's t is marked; nothing is below the floor, so no off-scale entry.
    assert!(svg.contains("this deployment: t = 2"));
    assert!(!svg.contains("off scale (below 1e-12)"));
    assert!(count(&svg, "<polyline") >= 2);
    // n = 1 still draws.
    assert_svg_document(&plot_risk_vs_threshold(&Params::new(1, 0.0, 1.0)).unwrap());
}

/// A point below the floor is drawn apart, as a triangle on the edge, and not joined
/// to the line: p = 1e-6 puts unauthorized access at t = 3, 4 below 1e-12.
#[test]
fn off_scale_points_are_not_drawn_as_data() {
    let tiny = Params::new(5, 1e-6, 0.05);
    let svg = plot_risk_vs_threshold(&tiny).unwrap();
    assert!(svg.contains("off scale (below 1e-12), on the edge"), "legend");
    // Unauthorized access at t = 2, 3, 4 is 1e-17, 5e-24 and 1e-30: three markers and
    // the legend's sample. At p = 0.01 nothing is off the scale.
    assert_eq!(triangles(&svg), 3 + 1);
    assert_eq!(triangles(&plot_risk_vs_threshold(&Params::new(5, 0.01, 0.05)).unwrap()), 0);
    let frontier = plot_frontier(&DEFAULT_FRONTIER_NS, &tiny).unwrap();
    assert!(frontier.contains("off scale (below 1e-12), on the edge"));
    assert!(triangles(&frontier) > 1);
}

#[test]
fn frontier_svg() {
    let svg = plot_frontier(&DEFAULT_FRONTIER_NS, &Params::new(5, 0.01, 0.05)).unwrap();
    assert_svg_document(&svg);
    assert!(svg.contains("The frontier: n in {3, 5, 7, 9, 15}, p = 0.01, q = 0.05"));
    for n in DEFAULT_FRONTIER_NS {
        assert!(svg.contains(&format!("n = {n} (points: t = 0..{})", n - 1)));
    }
    assert!(svg.contains("majority quorum, t = floor(n/2)"));
    assert!(svg.contains("P(unauthorized access) per epoch, log10"));
    assert!(svg.contains("P(lawful access fails) per epoch, log10"));
    assert!(svg.contains("this deployment: n = 5, t = 2"));
    // Palette99's yellow, which the n = 7 line used to get, is gone.
    assert!(!svg.contains("#E6E600") && !svg.contains("#F0E442"), "no yellow line");
    // A deployment off the default sizes is still marked.
    let other = plot_frontier(&DEFAULT_FRONTIER_NS, &Params { threshold: 3, ..Params::new(4, 0.01, 0.05) }).unwrap();
    assert!(other.contains("this deployment: n = 4, t = 3"));
}

#[test]
fn common_cause_svg() {
    let params =
        Params { common: CommonCause { compromise: 2e-3, outage: 0.0, reach: 4 }, ..Params::new(5, 0.01, 0.05) };
    let svg = plot_common_cause(&params).unwrap();
    assert_svg_document(&svg);
    assert!(svg.contains("A common cause: one event reaches 80% of the trustees, p = 0.01"), "title");
    for label in
        ["c_p = 0: independent trustees", "c_p = 0.0001 per epoch", "c_p = 0.01 per epoch", "c_p = 0.002 per epoch"]
    {
        assert!(svg.contains(label), "missing {label}");
    }
    assert!(svg.contains("this deployment: n = 5, t = 2"));
}

#[test]
fn report_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let paths = write_report(&out, &PARAMS).unwrap();
    let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["tradeoffs.md", "risk-vs-threshold.svg", "frontier.svg", "common-cause.svg", "tradeoffs.json"]);
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
        "![A common cause](common-cause.svg)",
        "## Over 52 epochs",
        "| 2 | 3 | 3.605e-1 | 155,792,000 | 0.602 |",
        "Rows outside: 0 of 5.",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    assert_svg_document(&std::fs::read_to_string(&paths[1]).unwrap());
    let frontier = std::fs::read_to_string(&paths[2]).unwrap();
    assert_svg_document(&frontier);
    // params.n = 5 is already among the defaults: not repeated.
    assert!(frontier.contains("n in {3, 5, 7, 9, 15}"));

    assert_svg_document(&std::fs::read_to_string(&paths[3]).unwrap());
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&paths[4]).unwrap()).unwrap();
    assert_eq!(json["params"]["n"], 5);
    assert_eq!(json["rows"].as_array().unwrap().len(), 5);
    let u = json["rows"][2]["exact"]["unauthorized"].as_f64().unwrap();
    assert!((u - 0.00856).abs() < 1e-12);
    assert_eq!(json["rows"][2]["monte_carlo"]["unauthorized"]["trials"], 20_000);
    assert_eq!(json["frontier"].as_array().unwrap().len(), 5);
    assert_eq!(json["params"]["threshold"], 2);
    assert_eq!(json["params"]["scale"]["horizon_epochs"], 52);
    let exposed = json["rows"][2]["horizon"]["messages_exposed"].as_f64().unwrap();
    assert!((exposed - 155_792_000.0).abs() < 1e-3, "{exposed}");
    // Levels 0, 1e-4, 1e-3, 1e-2 (the deployment's 0 is among them), odd n from 1 to 15.
    let cc = json["common_cause"].as_array().unwrap();
    assert_eq!(cc.len(), 4);
    assert_eq!(cc[3]["points"].as_array().unwrap().len(), 8);
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

/// The report in docs/tradeoffs/ is what `escrow tradeoffs --out docs/tradeoffs` (all
/// defaults) writes today, byte for byte: the plots in the docs are the code's.
#[test]
fn the_report_in_the_docs_is_current() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tradeoffs");
    let dir = tempfile::tempdir().unwrap();
    for path in write_report(dir.path(), &Params::new(5, 0.01, 0.05)).unwrap() {
        let name = path.file_name().unwrap();
        let committed = std::fs::read_to_string(docs.join(name)).unwrap_or_default();
        assert!(
            committed == std::fs::read_to_string(&path).unwrap(),
            "docs/tradeoffs/{} is stale: run `cargo run -p escrow-cli -- tradeoffs --out docs/tradeoffs`",
            name.to_string_lossy()
        );
    }
}
