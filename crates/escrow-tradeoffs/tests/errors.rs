//! Bad parameters are refused, and the error names the culprit.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{
    exact, plot_frontier, plot_risk_vs_threshold, simulate, table, Params, Probability, TradeoffError,
};

#[test]
fn zero_or_too_many_trustees() {
    for n in [0u16, 201, u16::MAX] {
        let e = exact(n, 0, 0.1, 0.1).unwrap_err();
        assert!(matches!(e, TradeoffError::TrusteeCount { n: m } if m == n), "{e}");
        assert!(e.to_string().contains(&format!("n = {n}")), "{e}");
    }
}

#[test]
fn threshold_not_below_n() {
    for (n, t) in [(5u16, 5u16), (5, 6), (1, 1)] {
        let e = exact(n, t, 0.1, 0.1).unwrap_err();
        assert!(matches!(e, TradeoffError::Threshold { t: a, n: b } if a == t && b == n), "{e}");
        assert!(e.to_string().contains(&format!("t = {t} with n = {n}")), "{e}");
    }
}

#[test]
fn probability_out_of_range_or_nan() {
    let cases = [
        (1.5, 0.1, Probability::Compromise, "p = 1.5"),
        (-0.1, 0.1, Probability::Compromise, "p = -0.1"),
        (f64::NAN, 0.1, Probability::Compromise, "p = NaN"),
        (0.1, f64::NAN, Probability::Outage, "q = NaN"),
        (0.1, f64::INFINITY, Probability::Outage, "q = inf"),
    ];
    for (p, q, culprit, shown) in cases {
        let e = exact(5, 2, p, q).unwrap_err();
        assert!(matches!(e, TradeoffError::Probability { which, .. } if which == culprit), "{e}");
        assert!(e.to_string().contains(shown), "{e}");
    }
}

#[test]
fn every_entry_point_validates() {
    let bad = Params { n: 0, p_compromise: 0.1, q_outage: 0.1, trials: 10, seed: 0 };
    assert!(matches!(table(&bad), Err(TradeoffError::TrusteeCount { n: 0 })));
    assert!(matches!(simulate(5, 0.1, 2.0, 10, 0), Err(TradeoffError::Probability { which: Probability::Outage, .. })));
    assert!(matches!(simulate(5, 0.1, 0.1, 0, 0), Err(TradeoffError::Trials)));
    assert!(matches!(plot_risk_vs_threshold(201, 0.1, 0.1), Err(TradeoffError::TrusteeCount { n: 201 })));
    assert!(matches!(plot_frontier(&[], 0.1, 0.1), Err(TradeoffError::NoFrontier)));
    assert!(matches!(plot_frontier(&[3, 0], 0.1, 0.1), Err(TradeoffError::TrusteeCount { n: 0 })));
}
