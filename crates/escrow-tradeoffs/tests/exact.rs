//! Exact probabilities against hand-computed values, closed forms at the edges, a
//! naive reference implementation, and monotonicity in t.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_tradeoffs::{exact, exact_common, CommonCause, Risk};

const GRID_P: [f64; 9] = [0.0, 1e-9, 1e-4, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0];

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn n5_t2_p01_unauthorized() {
    // C(5,3) 0.1^3 0.9^2 + C(5,4) 0.1^4 0.9 + C(5,5) 0.1^5
    //   = 10 * 0.001 * 0.81 + 5 * 0.0001 * 0.9 + 0.00001
    //   = 0.0081 + 0.00045 + 0.00001 = 0.00856
    let r = exact(5, 2, 0.1, 0.05).unwrap();
    assert!(close(r.unauthorized, 0.00856, 1e-12), "{}", r.unauthorized);
}

#[test]
fn n5_t2_q005_fails() {
    // P[available <= 2] = C(5,0) q^5 + C(5,1) (0.95) q^4 + C(5,2) (0.95)^2 q^3 with q = 0.05:
    //   q^5 = 3.125e-7
    //   5 * 0.95 * q^4 = 5 * 0.95 * 6.25e-6 = 2.96875e-5
    //   10 * 0.9025 * q^3 = 10 * 0.9025 * 1.25e-4 = 0.001128125
    //   sum = 0.0000003125 + 0.0000296875 + 0.001128125 = 0.001158125
    let r = exact(5, 2, 0.1, 0.05).unwrap();
    assert!(close(r.fails, 0.001158125, 1e-12), "{}", r.fails);
}

#[test]
fn t0_one_share_opens() {
    for n in [1u16, 2, 5, 13, 200] {
        for p in GRID_P {
            for q in GRID_P {
                let r = exact(n, 0, p, q).unwrap();
                let nn = i32::from(n);
                assert!(close(r.unauthorized, 1.0 - (1.0 - p).powi(nn), 1e-12));
                assert!(close(r.fails, q.powi(nn), 1e-12));
            }
        }
    }
}

#[test]
fn t_max_every_share_needed() {
    for n in [1u16, 2, 5, 13, 200] {
        for p in GRID_P {
            for q in GRID_P {
                let r = exact(n, n - 1, p, q).unwrap();
                let nn = i32::from(n);
                assert!(close(r.unauthorized, p.powi(nn), 1e-12), "n={n} p={p}");
                assert!(close(r.fails, 1.0 - (1.0 - q).powi(nn), 1e-12), "n={n} q={q}");
            }
        }
    }
}

#[test]
fn certain_and_impossible_parameters() {
    for n in [1u16, 4, 9, 200] {
        for t in 0..n {
            // p = 0: no one is ever compromised; p = 1: everyone is.
            assert_eq!(exact(n, t, 0.0, 0.5).unwrap().unauthorized, 0.0);
            assert_eq!(exact(n, t, 1.0, 0.5).unwrap().unauthorized, 1.0);
            // q = 0: everyone is available; q = 1: no one is.
            assert_eq!(exact(n, t, 0.5, 0.0).unwrap().fails, 0.0);
            assert_eq!(exact(n, t, 0.5, 1.0).unwrap().fails, 1.0);
        }
    }
}

#[test]
fn monotone_in_threshold() {
    let ns = [1u16, 2, 3, 5, 8, 21, 64, 200];
    for n in ns {
        for p in GRID_P {
            for q in GRID_P {
                let risks: Vec<Risk> = (0..n).map(|t| exact(n, t, p, q).unwrap()).collect();
                for pair in risks.windows(2) {
                    let (lo, hi) = (pair[0], pair[1]);
                    assert!(hi.unauthorized <= lo.unauthorized, "n={n} p={p}: {pair:?}");
                    assert!(hi.fails >= lo.fails, "n={n} q={q}: {pair:?}");
                }
                for r in &risks {
                    assert!((0.0..=1.0).contains(&r.unauthorized));
                    assert!((0.0..=1.0).contains(&r.fails));
                }
            }
        }
    }
}

/// (b) at t with outage q is (a) at n-1-t with compromise q: fewer than t+1 available
/// means at least n-t unavailable.
#[test]
fn fails_is_mirrored_unauthorized() {
    for n in [1u16, 3, 10, 50] {
        for x in GRID_P {
            for t in 0..n {
                let fails = exact(n, t, 0.5, x).unwrap().fails;
                let mirrored = exact(n, n - 1 - t, x, 0.5).unwrap().unauthorized;
                assert!(close(fails, mirrored, 1e-13), "n={n} t={t} x={x}");
            }
        }
    }
}

/// A naive reference: exact integer binomial coefficients (n <= 60 fits u128 through
/// the multiplicative formula) and plain `powi`.
fn reference(n: u16, t: u16, p: f64, q: f64) -> Risk {
    let choose = |k: u16| -> f64 {
        let mut c: u128 = 1;
        for i in 0..u128::from(k) {
            c = c * (u128::from(n) - i) / (i + 1);
        }
        c as f64
    };
    let nn = i32::from(n);
    let unauthorized = (t + 1..=n).map(|k| choose(k) * p.powi(i32::from(k)) * (1.0 - p).powi(nn - i32::from(k))).sum();
    let fails = (0..=t).map(|k| choose(k) * (1.0 - q).powi(i32::from(k)) * q.powi(nn - i32::from(k))).sum();
    Risk { unauthorized, fails }
}

#[test]
fn matches_naive_reference() {
    for n in [1u16, 2, 3, 7, 16, 33, 60] {
        for p in [0.0, 0.001, 0.05, 0.25, 0.5, 0.75, 1.0] {
            for t in 0..n {
                let got = exact(n, t, p, p).unwrap();
                let want = reference(n, t, p, p);
                for (g, w) in [(got.unauthorized, want.unauthorized), (got.fails, want.fails)] {
                    // Relative, so tiny tails are compared too.
                    assert!(
                        (g - w).abs() <= 1e-11 * w.max(1e-300) || (g - w).abs() < 1e-15,
                        "n={n} t={t} p={p}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn large_committee_is_stable() {
    // P[C >= 100] + P[C >= 101] = P[C >= 100] + P[C <= 99] = 1 for C ~ Bin(200, 1/2).
    let a = exact(200, 99, 0.5, 0.5).unwrap().unauthorized;
    let b = exact(200, 100, 0.5, 0.5).unwrap().unauthorized;
    assert!(close(a + b, 1.0, 1e-12), "{a} + {b}");
    // P[C = 100] = C(200,100) / 2^200 = 0.05634847900925...
    assert!(close(a - b, 0.056_348_479_009_25, 1e-12), "{}", a - b);
    // Tiny p: the upper tail is p^200-ish, far below f64's range; no NaN, just 0.
    let r = exact(200, 199, 1e-9, 1e-9).unwrap();
    assert_eq!(r.unauthorized, 0.0);
    // 1 - (1 - 1e-9)^200 = 200e-9 - C(200,2) 1e-18 + ... = 1.999999801e-7 (to 1e-24).
    assert!(close(r.fails, 1.999_999_801e-7, 1e-19), "{}", r.fails);
}

/// The common-cause mixture against values worked out by hand, n = 3, t = 1.
#[test]
fn common_cause_by_hand() {
    // Independent: P(>= 2 of 3 at p = 0.1) = 3 (0.01)(0.9) + 0.001 = 0.028.
    // An event reaching 2 (c_p = 0.01) leaves 2 compromised: certain. 0.99 × 0.028 + 0.01 = 0.03772.
    let two = CommonCause { compromise: 0.01, outage: 0.0, reach: 2 };
    let r = exact_common(3, 1, 0.1, 0.1, two).unwrap();
    assert!(close(r.unauthorized, 0.03772, 1e-15), "{}", r.unauthorized);
    // No outage event: failures are the independent ones, P(<= 1 of 3 up at q = 0.1) = 0.028.
    assert!(close(r.fails, 0.028, 1e-15), "{}", r.fails);
    // Reaching 1, below the quorum of 2: one more of the other 2 is needed, 1 - 0.9^2 = 0.19.
    // 0.99 × 0.028 + 0.01 × 0.19 = 0.02962.
    let one = CommonCause { reach: 1, ..two };
    let r = exact_common(3, 1, 0.1, 0.1, one).unwrap();
    assert!(close(r.unauthorized, 0.02962, 1e-15), "{}", r.unauthorized);
    // An outage event taking 2 of 3 (c_q = 0.01): 1 left cannot make a quorum of 2.
    // 0.99 × 0.028 + 0.01 × 1 = 0.03772.
    let down = CommonCause { compromise: 0.0, outage: 0.01, reach: 2 };
    let r = exact_common(3, 1, 0.1, 0.1, down).unwrap();
    assert!(close(r.fails, 0.03772, 1e-15), "{}", r.fails);
    assert!(close(r.unauthorized, 0.028, 1e-15), "{}", r.unauthorized);
    // No common cause is the independent model, exactly.
    let none = CommonCause { compromise: 0.0, outage: 0.0, reach: 3 };
    assert_eq!(exact_common(3, 1, 0.1, 0.1, none).unwrap(), exact(3, 1, 0.1, 0.1).unwrap());
}

/// However many trustees, an event that reaches a quorum keeps P(unauthorized) at or
/// above c_p; independent trustees go far below it.
#[test]
fn common_cause_floors_the_benefit_of_more_trustees() {
    let c = 1e-3;
    for n in [5u16, 9, 15, 51] {
        let t = n / 2;
        let reach = CommonCause { compromise: c, outage: 0.0, reach: n - 1 };
        let with = exact_common(n, t, 0.01, 0.05, reach).unwrap().unauthorized;
        let without = exact(n, t, 0.01, 0.05).unwrap().unauthorized;
        assert!(with >= c && with < c + without + 1e-15, "n={n}: {with}");
        assert!(without < c / 10.0, "n={n}: {without}");
    }
}
