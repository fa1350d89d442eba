//! A seeded Monte Carlo check of the exact sums: simulate deployments trustee by
//! trustee and count how often each event happens.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::{validate, CommonCause, TradeoffError};

/// The share of `trials` in which an event happened, with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McEstimate {
    /// Trials in which the event happened.
    pub hits: u64,
    /// Trials run (at least 1).
    pub trials: u64,
    /// `hits / trials`.
    pub estimate: f64,
    /// `sqrt(estimate (1 - estimate) / trials)`.
    pub std_error: f64,
}

impl McEstimate {
    /// The estimate from `hits` out of `trials` (`trials >= 1`, `hits <= trials`).
    pub fn from_counts(hits: u64, trials: u64) -> Result<Self, TradeoffError> {
        if trials == 0 {
            return Err(TradeoffError::Trials);
        }
        let hits = hits.min(trials);
        // Counts up to 2^53 convert exactly; beyond, the rounding is far below the SE.
        let estimate = hits as f64 / trials as f64;
        Ok(McEstimate { hits, trials, estimate, std_error: standard_error(estimate, trials) })
    }

    /// Whether `exact` is consistent with this estimate: within 4 standard errors, with
    /// the standard error taken at whichever of the estimate and `exact` gives the
    /// larger one, and never tighter than one trial's worth (`1 / trials`).
    ///
    /// The maximum keeps a rare event that happened in no trial (estimate 0, SE 0) from
    /// being flagged, and the `1 / trials` floor handles exact 0 and 1, whose SE is 0.
    pub fn agrees_with(&self, exact: f64) -> bool {
        let se = self.std_error.max(standard_error(exact, self.trials));
        let tolerance = (4.0 * se).max(1.0 / self.trials as f64);
        (self.estimate - exact).abs() <= tolerance
    }
}

/// Fewer expected hits (or misses) than this, and a simulation that agrees has shown
/// nothing: with an expected 0.2 hits, 0 hits is what a right and a wrong formula both
/// give.
pub const MIN_EXPECTED_HITS: f64 = 10.0;

/// What a Monte Carlo estimate says about an exact value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Within the tolerance, with enough expected hits to mean something.
    Agrees,
    /// Outside the tolerance: the exact value or the simulation is wrong.
    Disagrees,
    /// Within the tolerance, but the event is too rare (or too certain) at this many
    /// trials for agreement to confirm anything.
    TooRare {
        /// Hits (or misses, for an event near certain) the exact value predicts.
        expected: f64,
    },
}

impl McEstimate {
    /// [`McEstimate::agrees_with`], and whether agreement could have failed: an event
    /// with `0 < exact × trials < MIN_EXPECTED_HITS` (or the same for misses) is
    /// [`Verdict::TooRare`] unless the estimate disagrees outright. Exact 0 and 1
    /// (p or q at 0 or 1) count as agreement: the simulation draws them exactly.
    pub fn verdict(&self, exact: f64) -> Verdict {
        if !self.agrees_with(exact) {
            return Verdict::Disagrees;
        }
        let expected = exact.min(1.0 - exact) * self.trials as f64;
        if expected > 0.0 && expected < MIN_EXPECTED_HITS {
            Verdict::TooRare { expected }
        } else {
            Verdict::Agrees
        }
    }
}

fn standard_error(x: f64, trials: u64) -> f64 {
    (x * (1.0 - x) / trials as f64).max(0.0).sqrt()
}

/// Both events' estimates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McOutcome {
    /// Estimate of (a), at least `t + 1` compromised.
    pub unauthorized: McEstimate,
    /// Estimate of (b), fewer than `t + 1` available.
    pub fails: McEstimate,
}

/// Simulates `trials` deployments of `n` trustees with a ChaCha20 generator seeded by
/// `seed`, and returns the estimates for every threshold `t = 0..n` (index `t`).
///
/// Per deployment and trustee, two uniform draws in `[0, 1)`: compromised if the first
/// is below `p`, unavailable if the second is below `q`. The same deployments serve all
/// thresholds, so the estimates of neighbouring rows are correlated (each is still
/// unbiased). Same inputs, same output, on every platform.
pub fn simulate(n: u16, p: f64, q: f64, trials: u64, seed: u64) -> Result<Vec<McOutcome>, TradeoffError> {
    simulate_common(n, p, q, CommonCause::NONE, trials, seed)
}

/// [`simulate`] with a [`CommonCause`]: per deployment, before the trustees' own draws,
/// one draw decides whether a compromising event hits (if `c_p > 0`) and one whether
/// an outage event hits (if `c_q > 0`); a hit forces the first `reach` trustees
/// compromised, or unavailable. With no common cause the draws, and so the estimates,
/// are exactly those of [`simulate`].
pub fn simulate_common(
    n: u16,
    p: f64,
    q: f64,
    common: CommonCause,
    trials: u64,
    seed: u64,
) -> Result<Vec<McOutcome>, TradeoffError> {
    validate(n, None, p, q)?;
    common.validate(n)?;
    if trials == 0 {
        return Err(TradeoffError::Trials);
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    // by_compromised[k] / by_available[k]: trials with exactly k compromised / available.
    let slots = usize::from(n) + 1;
    let mut by_compromised = vec![0u64; slots];
    let mut by_available = vec![0u64; slots];
    for _ in 0..trials {
        let struck = common.compromise > 0.0 && rng.gen::<f64>() < common.compromise;
        let downed = common.outage > 0.0 && rng.gen::<f64>() < common.outage;
        let (mut compromised, mut available) = (0usize, 0usize);
        for i in 0..n {
            let reached = i < common.reach;
            // Both draws always happen, so a hit does not shift the stream.
            let (u, v) = (rng.gen::<f64>(), rng.gen::<f64>());
            compromised += usize::from((struck && reached) || u < p);
            available += usize::from(!(downed && reached) && v >= q);
        }
        // Both counts are at most n, so these slots exist.
        if let Some(c) = by_compromised.get_mut(compromised) {
            *c += 1;
        }
        if let Some(a) = by_available.get_mut(available) {
            *a += 1;
        }
    }
    (0..n)
        .map(|t| {
            let quorum = usize::from(t) + 1;
            let unauthorized: u64 = by_compromised.iter().skip(quorum).sum();
            let fails: u64 = by_available.iter().take(quorum).sum();
            Ok(McOutcome {
                unauthorized: McEstimate::from_counts(unauthorized, trials)?,
                fails: McEstimate::from_counts(fails, trials)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_and_standard_error() {
        let e = McEstimate::from_counts(25, 100).unwrap();
        assert_eq!(e.estimate, 0.25);
        // sqrt(0.25 * 0.75 / 100) = sqrt(0.001875)
        assert!((e.std_error - 0.001875_f64.sqrt()).abs() < 1e-15);
        assert!(matches!(McEstimate::from_counts(0, 0), Err(TradeoffError::Trials)));
    }

    /// An event expected 0.2 times in 20,000 trials is "too rare", not "ok", when it is
    /// not seen; seen 50 times it is off; expected 20 times and seen 18, it agrees.
    #[test]
    fn verdicts_tell_a_vacuous_agreement_from_a_real_one() {
        let none = McEstimate::from_counts(0, 20_000).unwrap();
        match none.verdict(1e-5) {
            Verdict::TooRare { expected } => assert!((expected - 0.2).abs() < 1e-9, "{expected}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(McEstimate::from_counts(50, 20_000).unwrap().verdict(1e-5), Verdict::Disagrees);
        assert_eq!(McEstimate::from_counts(18, 20_000).unwrap().verdict(1e-3), Verdict::Agrees);
        // Near certain: the misses are what is rare.
        assert!(matches!(
            McEstimate::from_counts(20_000, 20_000).unwrap().verdict(1.0 - 1e-5),
            Verdict::TooRare { .. }
        ));
        // Impossible and certain events are drawn exactly.
        assert_eq!(none.verdict(0.0), Verdict::Agrees);
        assert_eq!(McEstimate::from_counts(20_000, 20_000).unwrap().verdict(1.0), Verdict::Agrees);
    }

    #[test]
    fn agreement_window() {
        let e = McEstimate::from_counts(25, 100).unwrap();
        // 4 SE ~ 0.1732 either side of 0.25 (the SE at exact is larger near 0.5).
        assert!(e.agrees_with(0.25));
        assert!(e.agrees_with(0.40));
        assert!(!e.agrees_with(0.50));
        assert!(!e.agrees_with(0.05));
        // Exact 0 and 1: only within one trial's worth.
        let zero = McEstimate::from_counts(0, 1000).unwrap();
        assert!(zero.agrees_with(0.0));
        assert!(zero.agrees_with(1e-3));
        // 0 of 1000 when 20 were expected.
        assert!(!zero.agrees_with(0.02));
        let one = McEstimate::from_counts(1000, 1000).unwrap();
        assert!(one.agrees_with(1.0));
        assert!(!one.agrees_with(0.98));
    }

    #[test]
    fn simulation_is_deterministic_per_seed() {
        let a = simulate(5, 0.2, 0.3, 2_000, 7).unwrap();
        let b = simulate(5, 0.2, 0.3, 2_000, 7).unwrap();
        let c = simulate(5, 0.2, 0.3, 2_000, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 5);
    }
}
