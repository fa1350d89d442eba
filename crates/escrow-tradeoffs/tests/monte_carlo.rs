//! The seeded Monte Carlo check agrees with the exact sums, and flags a wrong one.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{exact, exact_common, simulate, simulate_common, table, CommonCause, Params};

fn params(n: u16, p: f64, q: f64, trials: u64, seed: u64) -> Params {
    Params { trials, seed, ..Params::new(n, p, q) }
}

#[test]
fn agrees_with_exact_for_several_settings() {
    let settings = [
        params(5, 0.1, 0.05, 20_000, 1),
        params(3, 0.5, 0.5, 20_000, 2),
        params(7, 0.3, 0.2, 20_000, 3),
        params(9, 0.01, 0.1, 20_000, 4),
        params(15, 0.2, 0.4, 5_000, 5),
        // Certain and impossible events: estimates are exactly 0 or 1.
        params(4, 0.0, 1.0, 1_000, 6),
        params(4, 1.0, 0.0, 1_000, 7),
    ];
    for s in settings {
        let rows = table(&s).unwrap();
        assert_eq!(rows.len(), usize::from(s.n));
        for row in rows {
            let mc = row.monte_carlo.expect("trials > 0");
            assert_eq!(mc.unauthorized.trials, s.trials);
            assert_eq!(row.monte_carlo_agrees(), Some(true), "{s:?} t={}: exact {:?}, MC {mc:?}", row.t, row.exact);
        }
    }
}

#[test]
fn a_wrong_exact_value_is_flagged() {
    let mc = simulate(5, 0.1, 0.05, 20_000, 1).unwrap();
    let right = exact(5, 2, 0.1, 0.05).unwrap();
    let est = mc[2].unauthorized;
    assert!(est.agrees_with(right.unauthorized));
    // 0.00856 has SE ~ 6.5e-4 at 20 000 trials: doubling it, or the classic slip of
    // forgetting the binomial coefficient (0.1^3 0.9^2 + ... = 0.00091), is caught.
    assert!(!est.agrees_with(2.0 * right.unauthorized));
    assert!(!est.agrees_with(0.1f64.powi(3) * 0.81 + 0.1f64.powi(4) * 0.9 + 1e-5));
    // And so is a wrong "fails", e.g. P[available <= 2] confused with P[available < 2].
    let wrong_fails = exact(5, 1, 0.1, 0.05).unwrap().fails;
    assert!(mc[2].fails.agrees_with(right.fails));
    assert!(!mc[2].fails.agrees_with(wrong_fails));
}

#[test]
fn table_is_deterministic_and_trials_zero_skips_mc() {
    let a = table(&params(5, 0.01, 0.05, 10_000, 1)).unwrap();
    let b = table(&params(5, 0.01, 0.05, 10_000, 1)).unwrap();
    assert_eq!(a, b);
    let none = table(&params(5, 0.01, 0.05, 0, 1)).unwrap();
    assert!(none.iter().all(|r| r.monte_carlo.is_none()));
    assert!(none.iter().all(|r| r.monte_carlo_agrees().is_none()));
    let exact_only: Vec<_> = a.iter().map(|r| r.exact).collect();
    assert_eq!(exact_only, none.iter().map(|r| r.exact).collect::<Vec<_>>());
}

/// With a common cause, the simulation (which forces the first `reach` trustees) agrees
/// with the exact mixture at every threshold, and disagrees with the independent model
/// where the common cause matters.
#[test]
fn common_cause_agrees_with_exact_and_differs_from_independence() {
    let cases = [
        (5u16, 0.1, 0.2, CommonCause { compromise: 0.05, outage: 0.1, reach: 3 }),
        (7, 0.02, 0.05, CommonCause { compromise: 0.2, outage: 0.0, reach: 6 }),
        (3, 0.3, 0.3, CommonCause { compromise: 0.0, outage: 0.5, reach: 1 }),
    ];
    for (i, (n, p, q, cc)) in cases.into_iter().enumerate() {
        let params = Params { trials: 40_000, seed: i as u64, common: cc, ..Params::new(n, p, q) };
        for row in table(&params).unwrap() {
            let want = exact_common(n, row.t, p, q, cc).unwrap();
            assert_eq!(row.exact, want);
            assert_eq!(
                row.monte_carlo_agrees(),
                Some(true),
                "{cc:?} t={}: exact {:?}, MC {:?}",
                row.t,
                row.exact,
                row.monte_carlo
            );
        }
    }
    // n = 7, t = 3: independent P(>= 4 of 7 at p = 0.02) ~ 2.6e-5; the event reaching 6
    // makes it about 0.2. The simulation tells them apart.
    let cc = CommonCause { compromise: 0.2, outage: 0.0, reach: 6 };
    let mc = simulate_common(7, 0.02, 0.05, cc, 40_000, 9).unwrap();
    assert!(mc[3].unauthorized.agrees_with(exact_common(7, 3, 0.02, 0.05, cc).unwrap().unauthorized));
    assert!(!mc[3].unauthorized.agrees_with(exact(7, 3, 0.02, 0.05).unwrap().unauthorized));
}

/// No common cause draws exactly what the independent simulation draws.
#[test]
fn no_common_cause_is_the_independent_simulation() {
    let none = CommonCause { compromise: 0.0, outage: 0.0, reach: 4 };
    assert_eq!(simulate_common(5, 0.2, 0.3, none, 3_000, 4).unwrap(), simulate(5, 0.2, 0.3, 3_000, 4).unwrap());
}
