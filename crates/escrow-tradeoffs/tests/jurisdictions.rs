//! Escrow by jurisdiction: the model against its simulation, refusals naming the
//! parameter, and the report's files.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{
    plot_jurisdiction_reach, plot_spillover, Jurisdiction, JurisdictionError, JurisdictionsReport, Rule, Scenario,
    TradeoffError,
};

/// A scenario small enough for a debug build, with four jurisdictions (one without
/// escrow) and a cross-border share well above the default.
fn small() -> Scenario {
    Scenario {
        jurisdictions: vec![
            Jurisdiction::new("uk", 0.2, true),
            Jurisdiction::new("us", 0.4, true),
            Jurisdiction::new("eu", 0.1, true),
            Jurisdiction::new("free", 0.3, false),
        ],
        users: 20_000,
        contacts: 10,
        messages_per_contact: 3,
        cross_border: 0.3,
        seed: 42,
    }
}

/// Every rule, opener and victim: the simulated share lies within 4 standard errors of
/// the model's; and the simulation is not trivially equal to it (it is a simulation).
#[test]
fn analytic_and_simulation_agree() {
    let report = JurisdictionsReport::new(&small()).unwrap();
    // Openers: the three escrowing domains; victims: all four; four rules.
    assert_eq!(report.reach.len(), 4 * 3 * 4);
    assert_eq!(report.messages, 20_000 * 10 * 3);
    for r in &report.reach {
        assert!(r.agrees(), "{r:?}");
        assert!(r.contacts > 1000, "{r:?}");
    }
    assert_eq!(report.disagreements(), 0);
    let moving = report.reach.iter().filter(|r| r.simulated != r.analytic).count();
    assert!(moving > 10, "{moving} rows differ from the model at all");
    // A wrong model is caught: the same graph against a different x disagrees.
    let wrong = JurisdictionsReport::new(&Scenario { cross_border: 0.35, ..small() }).unwrap();
    let off = report
        .reach
        .iter()
        .zip(&wrong.reach)
        .filter(|(r, w)| !escrow_tradeoffs::Reach { analytic: w.analytic, ..(*r).clone() }.agrees())
        .count();
    assert!(off > 5, "only {off} rows notice x off by 0.05");
}

/// The rules' structure at any x: all-of gives no escrowing government any message
/// shared with another escrowing domain; home-of-sender is at most any-of, which is
/// at most the worldwide key; coverage of one's own users is 100% only under any-of.
#[test]
fn rules_order_and_all_of_isolation() {
    let report = JurisdictionsReport::new(&small()).unwrap();
    for opener in ["uk", "us", "eu"] {
        for victim in ["uk", "us", "eu", "free"] {
            let get = |rule| report.get(rule, opener, victim).unwrap().analytic;
            assert!(get(Rule::HomeOfSender) <= get(Rule::AnyOf) + 1e-15);
            assert!(get(Rule::AllOf) <= get(Rule::AnyOf) + 1e-15);
            if opener != victim && victim != "free" {
                assert_eq!(get(Rule::AllOf), 0.0, "{opener} -> {victim}");
            }
        }
        assert_eq!(report.get(Rule::AnyOf, opener, opener).unwrap().analytic, 1.0);
        assert!(report.get(Rule::AllOf, opener, opener).unwrap().analytic < 1.0);
        // A no-escrow party leaves all-of with the opener alone: as much as any-of.
        let any = report.get(Rule::AnyOf, opener, "free").unwrap().analytic;
        assert!(any > 0.0 && any == report.get(Rule::AllOf, opener, "free").unwrap().analytic);
    }
    // The worldwide key: uk (listed first) opens everything, nobody else anything.
    for victim in ["uk", "us", "eu", "free"] {
        assert_eq!(report.get(Rule::Worldwide, "uk", victim).unwrap().analytic, 1.0);
        assert_eq!(report.get(Rule::Worldwide, "us", victim).unwrap().simulated, 0.0);
    }
    // The sweep: uk into us, 0 at x = 0 for every rule but the baseline, rising with x
    // under any-of.
    let first = &report.sweep[0];
    assert_eq!(first.cross_border, 0.0);
    assert_eq!(&first.reach[..3], &[0.0, 0.0, 0.0]);
    assert_eq!(first.reach[3], 1.0);
    assert!(report.sweep.windows(2).all(|w| w[1].reach[0] > w[0].reach[0]));
    assert!((report.sweep.last().unwrap().cross_border - 0.6).abs() < 1e-12);
}

/// The same seed, the same graph and numbers.
#[test]
fn seeded_runs_repeat() {
    let s = Scenario { users: 2000, ..small() };
    assert_eq!(JurisdictionsReport::new(&s).unwrap(), JurisdictionsReport::new(&s).unwrap());
    let other = JurisdictionsReport::new(&Scenario { seed: 43, ..s }).unwrap();
    assert_ne!(other.reach, JurisdictionsReport::new(&Scenario { users: 2000, ..small() }).unwrap().reach);
}

#[test]
fn refusals_name_the_parameter() {
    let base = small();
    let cases: Vec<(Scenario, &str)> = vec![
        (Scenario { users: 0, ..base.clone() }, "users = 0"),
        (Scenario { contacts: 0, ..base.clone() }, "contacts = 0"),
        (Scenario { messages_per_contact: 0, ..base.clone() }, "messages per contact = 0"),
        (Scenario { cross_border: 1.5, ..base.clone() }, "cross-border share x = 1.5"),
        (Scenario { cross_border: -0.1, ..base.clone() }, "cross-border share x = -0.1"),
        (Scenario { cross_border: f64::NAN, ..base.clone() }, "cross-border share x = NaN"),
        (Scenario { users: 10, ..base.clone() }, "jurisdiction \"eu\" gets 1 users"),
        (Scenario { users: 10_000_000, contacts: 10, ..base.clone() }, "users × contacts = 100000000"),
        (Scenario { jurisdictions: vec![Jurisdiction::new("uk", 1.0, true)], ..base.clone() }, "1 jurisdiction(s)"),
    ];
    for (s, needle) in cases {
        let e = JurisdictionsReport::new(&s).unwrap_err();
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        // Wrapped for the CLI, the message is the same.
        assert_eq!(TradeoffError::from(e.clone()).to_string(), e.to_string());
    }
    let mut s = base.clone();
    s.jurisdictions[0].share = 0.3;
    assert!(matches!(s.validate().unwrap_err(), JurisdictionError::ShareSum(sum) if (sum - 1.1).abs() < 1e-9));
    s.jurisdictions[0].share = 0.0;
    assert!(matches!(s.validate().unwrap_err(), JurisdictionError::Share { ref name, .. } if name == "uk"));
    let mut s = base.clone();
    s.jurisdictions[1].name = "uk".to_owned();
    assert_eq!(s.validate().unwrap_err(), JurisdictionError::Name("uk".to_owned()));
}

fn assert_svg_document(svg: &str) {
    let svg = svg.trim();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count(), "unbalanced <text>");
}

#[test]
fn plots_and_report_files() {
    let report = JurisdictionsReport::new(&Scenario { users: 4000, ..small() }).unwrap();
    let spill = plot_spillover(&report).unwrap();
    assert_svg_document(&spill);
    assert!(spill.contains("Share of us users&apos; messages uk can open alone"), "{spill}");
    assert!(spill.contains("worldwide key, held by uk (baseline)"));
    assert!(spill.contains("this scenario: x = 0.3"));
    for rule in ["any-of", "all-of", "home-of-sender"] {
        assert!(spill.contains(rule), "{rule}");
    }
    let bars = plot_jurisdiction_reach(&report).unwrap();
    assert_svg_document(&bars);
    assert!(bars.contains("at x = 0.3"));
    assert!(bars.contains("uk -&gt; us") && bars.contains("eu -&gt; free"));
    // 12 groups of 4 bars, filled rectangles (plus the legend's 4 squares).
    assert!(bars.matches("<rect").count() >= 4 * 12 + 4);

    let md = report.markdown();
    assert!(md.contains("| rule | opener | victim's users |"), "{md}");
    assert!(md.contains("![Spillover](jurisdictions-spillover.svg)"));
    let text = report.text();
    assert_eq!(text.lines().count(), 2 + report.reach.len());

    let dir = tempfile::tempdir().unwrap();
    let paths = report.write(dir.path()).unwrap();
    let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_owned()).collect();
    assert_eq!(
        names,
        ["jurisdictions.md", "jurisdictions-spillover.svg", "jurisdictions-reach.svg", "jurisdictions.json"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("jurisdictions.json")).unwrap()).unwrap();
    let uk_us = json["reach"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "any-of" && r["opener"] == "uk" && r["victim"] == "us");
    let want = report.get(Rule::AnyOf, "uk", "us").unwrap().analytic;
    assert_eq!(uk_us.unwrap()["analytic"].as_f64().unwrap(), want);
    assert_eq!(json["scenario"]["cross_border"], 0.3);
}

/// The default scenario's shape: three jurisdictions, the UK a tenth, x = 0.16.
#[test]
fn default_scenario() {
    let s = Scenario::default();
    assert_eq!(s.cross_border, escrow_tradeoffs::DEFAULT_CROSS_BORDER);
    assert_eq!(s.jurisdictions.iter().map(|j| j.escrows).collect::<Vec<_>>(), [true, true, false]);
    s.validate().unwrap();
}

/// The report in docs/tradeoffs/ is what `escrow tradeoffs jurisdictions --out
/// docs/tradeoffs` (all defaults) writes today, byte for byte.
#[test]
fn the_report_in_the_docs_is_current() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tradeoffs");
    let dir = tempfile::tempdir().unwrap();
    for path in JurisdictionsReport::new(&Scenario::default()).unwrap().write(dir.path()).unwrap() {
        let name = path.file_name().unwrap();
        let committed = std::fs::read_to_string(docs.join(name)).unwrap_or_default();
        assert!(
            committed == std::fs::read_to_string(&path).unwrap(),
            "docs/tradeoffs/{} is stale: run `cargo run -p escrow-cli -- tradeoffs jurisdictions --out docs/tradeoffs`",
            name.to_string_lossy()
        );
    }
}

/// x of all messages cross a border; the smallest jurisdiction's users cross more.
#[test]
fn crossing_shares() {
    let report = JurisdictionsReport::new(&Scenario::default()).unwrap();
    let [uk, us, free] = report.crossing[..] else { panic!("{:?}", report.crossing) };
    // Two equal jurisdictions: exactly x each, by symmetry.
    let two = Scenario {
        jurisdictions: vec![Jurisdiction::new("a", 0.5, true), Jurisdiction::new("b", 0.5, true)],
        users: 1000,
        ..Scenario::default()
    };
    let even = JurisdictionsReport::new(&two).unwrap();
    // Both equal 2x/(1+x): a crossing contact puts a's users in both directions' counts.
    for c in &even.crossing {
        assert!((c - 2.0 * 0.16 / 1.16).abs() < 1e-12, "{c}");
    }
    assert!(uk > free && free > us, "{uk} {us} {free}");
    // uk: 0.0249 with us + 0.01778 with no-escrow, of 0.12667 (by hand, module model).
    assert!((uk - (0.024_888_9 + 0.017_777_8) / 0.126_666_7).abs() < 1e-5, "{uk}");
}

/// The calculator's rules are the envelope's: over three jurisdictions, each escrowing
/// or not, every sender's and recipient's home and every opener, `Rule::opens` agrees
/// with `escrow_crypto::jurisdiction::{required_domains, opens_alone}`, which decide
/// which fields a real envelope carries and who can open it.
#[test]
fn the_calculators_rules_are_the_envelopes() {
    use escrow_crypto::jurisdiction::{opens_alone, required_domains, Domain, Rule as EnvelopeRule};
    let names = ["aa", "bb", "cc"];
    let domains: Vec<Domain> = names.iter().map(|n| Domain::new(*n).unwrap()).collect();
    let mut cases = 0;
    for mask in 0..8u8 {
        let escrows = |i: usize| mask & (1 << i) != 0;
        let juris: Vec<Jurisdiction> =
            names.iter().enumerate().map(|(i, n)| Jurisdiction::new(n, 1.0 / 3.0, escrows(i))).collect();
        let escrows_domain = |d: &Domain| domains.iter().position(|x| x == d).is_some_and(escrows);
        for sender in 0..3 {
            for recipient in 0..3 {
                let homes = [domains[sender].clone(), domains[recipient].clone()];
                for (rule, envelope_rule) in [
                    (Rule::AnyOf, EnvelopeRule::AnyOf),
                    (Rule::AllOf, EnvelopeRule::AllOf),
                    (Rule::HomeOfSender, EnvelopeRule::HomeOfSender),
                ] {
                    let fields = required_domains(envelope_rule, &homes, escrows_domain);
                    for (opener, opener_domain) in domains.iter().enumerate() {
                        assert_eq!(
                            rule.opens(opener, sender, recipient, &juris),
                            opens_alone(envelope_rule, &fields, opener_domain),
                            "{} escrow mask {mask:03b}, {sender} -> {recipient}, opener {opener}",
                            rule.name()
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 8 * 3 * 3 * 3 * 3);
}
