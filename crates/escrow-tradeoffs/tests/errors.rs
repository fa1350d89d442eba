//! Bad parameters are refused, and the error names the culprit.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{
    exact, exact_common, plot_common_cause, plot_frontier, plot_risk_vs_threshold, simulate, simulate_common, table,
    CommonCause, Params, Probability, Scale, TradeoffError,
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
    let bad = Params { n: 0, ..Params::new(5, 0.1, 0.1) };
    assert!(matches!(table(&bad), Err(TradeoffError::TrusteeCount { n: 0 })));
    assert!(matches!(simulate(5, 0.1, 2.0, 10, 0), Err(TradeoffError::Probability { which: Probability::Outage, .. })));
    assert!(matches!(simulate(5, 0.1, 0.1, 0, 0), Err(TradeoffError::Trials)));
    let big = Params::new(201, 0.1, 0.1);
    assert!(matches!(plot_risk_vs_threshold(&big), Err(TradeoffError::TrusteeCount { n: 201 })));
    assert!(matches!(plot_common_cause(&big), Err(TradeoffError::TrusteeCount { n: 201 })));
    let ok = Params::new(5, 0.1, 0.1);
    assert!(matches!(plot_frontier(&[], &ok), Err(TradeoffError::NoFrontier)));
    assert!(matches!(plot_frontier(&[3, 0], &ok), Err(TradeoffError::TrusteeCount { n: 0 })));
}

/// The deployment's threshold, the common cause and the scale are checked wherever a
/// computation starts, and the error names which.
#[test]
fn deployment_common_cause_and_scale_are_checked() {
    let base = Params::new(5, 0.1, 0.1);
    let threshold = Params { threshold: 5, ..base };
    assert!(matches!(table(&threshold), Err(TradeoffError::Threshold { t: 5, n: 5 })));
    assert!(matches!(plot_frontier(&[3], &threshold), Err(TradeoffError::Threshold { .. })));
    for (reach, shown) in [(0u16, "reach = 0 with n = 5"), (6, "reach = 6 with n = 5")] {
        let p = Params { common: CommonCause { reach, ..base.common }, ..base };
        let e = table(&p).unwrap_err();
        assert!(matches!(e, TradeoffError::Reach { .. }) && e.to_string().starts_with(shown), "{e}");
        assert!(matches!(plot_common_cause(&p), Err(TradeoffError::Reach { .. })));
    }
    let cases = [
        (CommonCause { compromise: 1.5, ..base.common }, Probability::CommonCompromise, "c_p = 1.5"),
        (CommonCause { outage: f64::NAN, ..base.common }, Probability::CommonOutage, "c_q = NaN"),
    ];
    for (cc, culprit, shown) in cases {
        let e = table(&Params { common: cc, ..base }).unwrap_err();
        assert!(matches!(e, TradeoffError::Probability { which, .. } if which == culprit), "{e}");
        assert!(e.to_string().contains(shown), "{e}");
        assert!(exact_common(5, 2, 0.1, 0.1, cc).is_err());
        assert!(simulate_common(5, 0.1, 0.1, cc, 10, 0).is_err());
    }
    let horizon = Params { scale: Scale { horizon_epochs: 0, ..Scale::DEFAULT }, ..base };
    assert!(matches!(table(&horizon), Err(TradeoffError::Horizon)));
    let users = Params { scale: Scale { users: -1.0, ..Scale::DEFAULT }, ..base };
    let e = plot_risk_vs_threshold(&users).unwrap_err();
    assert!(matches!(e, TradeoffError::Scale { what: "users", .. }), "{e}");
}
