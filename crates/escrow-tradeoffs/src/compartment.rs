//! Both risks of a compartmented key: a quorum from each of two groups is needed.

use crate::model::{exact, Risk};
use crate::TradeoffError;

/// The exact [`Risk`] of a compartmented key (`escrow_crypto::compartment`): group A
/// of `a.0` trustees with threshold `a.1` (`a.1 + 1` needed) and group B of `b.0`
/// with threshold `b.1`, opening only with a quorum of *each*; every trustee is
/// compromised with probability `p` and unavailable with probability `q`,
/// independently.
///
/// - (a) unauthorized access needs both groups compromised:
///   `P_A(>= t_A+1 compromised) × P_B(>= t_B+1 compromised)`.
/// - (b) lawful access fails unless both groups have a quorum up:
///   `1 − P_A(>= t_A+1 up) × P_B(>= t_B+1 up)`, computed as `f_A + f_B (1 − f_A)` from
///   each group's failure probability, a sum of non-negative terms.
///
/// This is the independent model only; what compartments are for is a common cause
/// confined to one group (one jurisdiction's order), which then opens nothing unless
/// the other group is compromised too. Refuses what [`exact()`] refuses, for either
/// group.
pub fn exact_compartmented(a: (u16, u16), b: (u16, u16), p: f64, q: f64) -> Result<Risk, TradeoffError> {
    let ra = exact(a.0, a.1, p, q)?;
    let rb = exact(b.0, b.1, p, q)?;
    Ok(Risk { unauthorized: ra.unauthorized * rb.unauthorized, fails: ra.fails + rb.fails * (1.0 - ra.fails) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() <= 1e-14 * y.abs().max(1e-300)
    }

    /// The demo's roster split 4 domestic (3 needed) + 1 foreign (needed), q = 0.05,
    /// against the plain 3-of-5, by hand.
    #[test]
    fn demo_roster_by_hand() {
        let (q, up) = (0.05_f64, 0.95_f64);
        // P(>= 3 of 4 up) = 0.95^4 + 4·0.95^3·0.05 = 0.81450625 + 0.171475 = 0.98598125;
        // P(1 of 1 up) = 0.95; fails = 1 − 0.98598125 × 0.95 = 0.0633178125.
        let split = exact_compartmented((4, 2), (1, 0), 0.0, q).unwrap();
        assert!(close(split.fails, 0.063_317_812_5), "{}", split.fails);
        assert!(close(split.fails, 1.0 - (up.powi(4) + 4.0 * up.powi(3) * q) * up));
        assert_eq!(split.unauthorized, 0.0);
        // Plain 3 of 5 fails with <= 2 up: q^5 + 5 q^4 (1−q) + 10 q^3 (1−q)^2
        // = 3.125e-7 + 2.96875e-5 + 1.128125e-3 = 1.158125e-3: the lone foreign
        // trustee makes lawful access fail ~55 times as often.
        let plain = exact(5, 2, 0.0, q).unwrap();
        assert!(close(plain.fails, 1.158_125e-3), "{}", plain.fails);
        assert!(split.fails > 50.0 * plain.fails);
        // p = 0.1: A needs 3 of 4 compromised, 4·0.1^3·0.9 + 0.1^4 = 0.0037, B needs
        // its one (0.1): 0.00037, against 3 of 5: 0.0081 + 0.00045 + 0.00001 = 0.00856.
        let split = exact_compartmented((4, 2), (1, 0), 0.1, 0.0).unwrap();
        assert!(close(split.unauthorized, 3.7e-4), "{}", split.unauthorized);
        assert_eq!(split.fails, 0.0);
        let plain = exact(5, 2, 0.1, 0.0).unwrap();
        assert!(close(plain.unauthorized, 8.56e-3), "{}", plain.unauthorized);
    }

    #[test]
    fn refuses_what_exact_refuses_and_edges() {
        assert!(exact_compartmented((4, 4), (1, 0), 0.0, 0.05).is_err());
        assert!(exact_compartmented((4, 2), (0, 0), 0.0, 0.05).is_err());
        assert!(exact_compartmented((4, 2), (1, 0), 0.0, f64::NAN).is_err());
        let all_down = exact_compartmented((4, 2), (2, 0), 1.0, 1.0).unwrap();
        assert_eq!((all_down.unauthorized, all_down.fails), (1.0, 1.0));
    }
}
