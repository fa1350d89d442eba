//! `escrow tradeoffs jurisdictions`: the files it writes hold the library's numbers, and
//! a bad parameter is refused, named, before anything is written.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{escrow_as, p, text};
use escrow_tradeoffs::{Jurisdiction, JurisdictionsReport, Rule, Scenario};

#[test]
fn writes_the_report_with_the_librarys_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = ["tradeoffs", "jurisdictions", "--users", "5000", "--contacts", "8", "--cross-border", "0.25"];
    let run = escrow_as("").args(args).args(["--seed", "9", "--out", p(&out)]).output().unwrap();
    let printed = text(&run);
    assert!(run.status.success(), "{printed}");
    for name in ["jurisdictions.md", "jurisdictions.json", "jurisdictions-spillover.svg", "jurisdictions-reach.svg"] {
        assert!(printed.contains(&format!("wrote {}", p(&out.join(name)))), "{name}: {printed}");
        assert!(std::fs::metadata(out.join(name)).unwrap().len() > 500, "{name}");
    }
    let lib = JurisdictionsReport::new(&Scenario {
        users: 5000,
        contacts: 8,
        cross_border: 0.25,
        seed: 9,
        ..Scenario::default()
    })
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("jurisdictions.json")).unwrap()).unwrap();
    let find = |rule: &str, opener: &str, victim: &str| {
        json["reach"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == rule && r["opener"] == opener && r["victim"] == victim)
            .unwrap()
            .clone()
    };
    for (rule, name) in [(Rule::AnyOf, "any-of"), (Rule::AllOf, "all-of"), (Rule::HomeOfSender, "home-of-sender")] {
        let want = lib.get(rule, "uk", "us").unwrap();
        let got = find(name, "uk", "us");
        assert_eq!(got["analytic"].as_f64().unwrap(), want.analytic, "{name}");
        assert_eq!(got["simulated"].as_f64().unwrap(), want.simulated, "{name}");
    }
    // The printed table carries the same number, and the report the same table.
    let any = lib.get(Rule::AnyOf, "uk", "us").unwrap();
    let cell = format!("{:.2}%", 100.0 * any.analytic);
    assert!(printed.lines().any(|l| l.contains("any-of") && l.contains("us") && l.contains(&cell)), "{printed}");
    let md = std::fs::read_to_string(out.join("jurisdictions.md")).unwrap();
    assert!(md.contains(&format!("| any-of | uk | us | {cell} |")), "{md}");
    assert_eq!(json["messages"], 5000 * 8 * 5);
}

#[test]
fn custom_jurisdictions() {
    let dir = tempfile::tempdir().unwrap();
    let run = escrow_as("")
        .args(["tradeoffs", "jurisdictions", "--users", "2000", "--contacts", "4", "--out", p(dir.path())])
        .args(["--jurisdiction", "a:0.5:escrow", "--jurisdiction", "b:0.5:none"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let lib = JurisdictionsReport::new(&Scenario {
        jurisdictions: vec![Jurisdiction::new("a", 0.5, true), Jurisdiction::new("b", 0.5, false)],
        users: 2000,
        contacts: 4,
        ..Scenario::default()
    })
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("jurisdictions.json")).unwrap()).unwrap();
    assert_eq!(json["reach"].as_array().unwrap().len(), lib.reach.len());
    assert_eq!(json["reach"][1]["analytic"].as_f64().unwrap(), lib.reach[1].analytic);
}

#[test]
fn a_bad_parameter_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (args, named) in [
        (&["--cross-border", "1.5"][..], "cross-border share x = 1.5"),
        (&["--users", "0"], "users = 0"),
        (&["--contacts", "0"], "contacts = 0"),
        (&["--jurisdiction", "uk:0.7:escrow", "--jurisdiction", "us:0.7:escrow"], "population shares sum to 1.4"),
        (&["--jurisdiction", "uk:0.5"], "expected NAME:SHARE:escrow or NAME:SHARE:none"),
    ] {
        let run = escrow_as("").args(["tradeoffs", "jurisdictions", "--out", p(&out)]).args(args).output().unwrap();
        assert!(!run.status.success(), "{args:?}");
        assert!(text(&run).contains(named), "{args:?}: {}", text(&run));
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // Mixing the calculator's flags with the subcommand is a usage error.
    let run = escrow_as("").args(["tradeoffs", "-n", "3", "jurisdictions", "--out", p(&out)]).output().unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(!out.exists());
}
