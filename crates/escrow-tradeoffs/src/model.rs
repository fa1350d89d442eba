//! The exact probabilities (a) and (b) of the crate docs.

use serde::Serialize;

use crate::{validate, Probability, TradeoffError};

/// The largest number of trustees accepted: `C(200, 100) ~ 9e58` still fits an `f64`
/// comfortably and a committee larger than this is not a design anyone deploys.
pub const MAX_TRUSTEES: u16 = 200;

/// Both risks of one `(n, t, p, q)` deployment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Risk {
    /// (a) P[at least `t + 1` of `n` trustees compromised].
    pub unauthorized: f64,
    /// (b) P[fewer than `t + 1` of `n` trustees available].
    pub fails: f64,
}

/// The exact [`Risk`] of `n` trustees, threshold `t` (`t + 1` shares open), each
/// compromised with probability `p` and unavailable with probability `q`.
///
/// Refuses `n = 0`, `n > 200`, `t >= n`, and `p` or `q` that is NaN or outside `[0, 1]`.
pub fn exact(n: u16, t: u16, p: f64, q: f64) -> Result<Risk, TradeoffError> {
    validate(n, Some(t), p, q)?;
    Ok(Distributions::new(n, p, q).risk(t))
}

/// One event that reaches several trustees at once: a legal order served on every
/// trustee in one country, a flaw in the software they all run, one hosting provider.
///
/// Per epoch, with probability `compromise` one such event compromises `reach` of the
/// trustees at once (the others still fail independently with `p`), and with
/// probability `outage` one makes `reach` of them unavailable at once. Trustees are
/// otherwise independent. [`CommonCause::NONE`] is the independent model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CommonCause {
    /// Per epoch: the probability of one event that compromises `reach` trustees.
    pub compromise: f64,
    /// Per epoch: the probability of one event that takes `reach` trustees offline.
    pub outage: f64,
    /// How many of the `n` trustees one event reaches, `1..=n`.
    pub reach: u16,
}

impl CommonCause {
    /// No common cause: trustees fail independently.
    pub const NONE: CommonCause = CommonCause { compromise: 0.0, outage: 0.0, reach: 1 };

    /// The same event in a committee of `to` trustees instead of `from`: it reaches the
    /// same share of them, rounded to the nearest whole trustee and at least one. (One
    /// country's courts reach its trustees however many there are.)
    pub fn scaled(&self, from: u16, to: u16) -> CommonCause {
        let share = f64::from(self.reach) / f64::from(from.max(1));
        // Both factors are at most 200, so the product fits a u16 after rounding.
        let reach = (share * f64::from(to)).round().clamp(1.0, f64::from(to.max(1))) as u16;
        CommonCause { reach, ..*self }
    }

    /// Checks both probabilities and `1 <= reach <= n`.
    pub(crate) fn validate(&self, n: u16) -> Result<(), TradeoffError> {
        for (which, value) in
            [(Probability::CommonCompromise, self.compromise), (Probability::CommonOutage, self.outage)]
        {
            if !(0.0..=1.0).contains(&value) {
                return Err(TradeoffError::Probability { which, value });
            }
        }
        if self.reach == 0 || self.reach > n {
            return Err(TradeoffError::Reach { reach: self.reach, n });
        }
        Ok(())
    }
}

/// The exact [`Risk`] with a [`CommonCause`] (validated here, like everything else).
pub fn exact_common(n: u16, t: u16, p: f64, q: f64, common: CommonCause) -> Result<Risk, TradeoffError> {
    validate(n, Some(t), p, q)?;
    common.validate(n)?;
    Ok(Distributions::with_common(n, p, q, common).risk(t))
}

/// The probability mass functions of the number of compromised trustees and of the
/// number of available ones, from which every `t`'s [`Risk`] is a tail sum.
#[derive(Debug, Clone)]
pub(crate) struct Distributions {
    /// `compromised[k]` = P[exactly k compromised] = Bin(n, p) at k.
    compromised: Vec<f64>,
    /// `available[k]` = P[exactly k available] = Bin(n, 1-q) at k.
    available: Vec<f64>,
}

impl Distributions {
    /// Callers have validated `n`, `p`, `q`.
    pub(crate) fn new(n: u16, p: f64, q: f64) -> Self {
        let ln_choose: Vec<f64> = pascal_row(n).iter().map(|c| c.ln()).collect();
        Distributions {
            // Success = compromised: ln p and ln(1-p).
            compromised: binomial_pmf(&ln_choose, p.ln(), (-p).ln_1p()),
            // Success = available: ln(1-q) and ln q.
            available: binomial_pmf(&ln_choose, (-q).ln_1p(), q.ln()),
        }
    }

    /// The distributions under a [`CommonCause`] (callers have validated it): a
    /// mixture of the independent model, weight `1 - c`, and the model in which the
    /// event has already taken `reach` trustees, weight `c`. Every term is a product of
    /// non-negative numbers, so the mixture loses no precision either.
    pub(crate) fn with_common(n: u16, p: f64, q: f64, common: CommonCause) -> Self {
        let mut base = Self::new(n, p, q);
        let k = common.reach.min(n);
        let rest = Self::new(n - k, p, q);
        let k = usize::from(k);
        let (c, d) = (common.compromise, common.outage);
        if c > 0.0 {
            // k already compromised: j compromised in all when j - k of the rest are.
            for (j, slot) in base.compromised.iter_mut().enumerate() {
                let forced = j.checked_sub(k).and_then(|i| rest.compromised.get(i)).copied().unwrap_or(0.0);
                *slot = (1.0 - c) * *slot + c * forced;
            }
        }
        if d > 0.0 {
            // k down: j available in all when j of the rest are (none of the k).
            for (j, slot) in base.available.iter_mut().enumerate() {
                let forced = rest.available.get(j).copied().unwrap_or(0.0);
                *slot = (1.0 - d) * *slot + d * forced;
            }
        }
        base
    }

    /// The risks at threshold `t` (callers have checked `t < n`).
    pub(crate) fn risk(&self, t: u16) -> Risk {
        let quorum = usize::from(t) + 1;
        // Smallest terms first: the upper tail of "compromised" shrinks towards k = n,
        // the lower tail of "available" towards k = 0.
        let unauthorized: f64 = self.compromised.iter().skip(quorum).rev().sum();
        let fails: f64 = self.available.iter().take(quorum).sum();
        Risk { unauthorized: unauthorized.clamp(0.0, 1.0), fails: fails.clamp(0.0, 1.0) }
    }
}

/// `C(n, k)` for `k = 0..=n` by Pascal's rule: additions only, so exact while the
/// values stay below 2^53 (all `n <= 56`), and within a few ulps beyond.
fn pascal_row(n: u16) -> Vec<f64> {
    let mut row = vec![1.0_f64];
    for _ in 0..n {
        let inner = row.iter().zip(row.iter().skip(1)).map(|(a, b)| a + b);
        row = std::iter::once(1.0).chain(inner).chain(std::iter::once(1.0)).collect();
    }
    row
}

/// Bin(n, x) at every k, given `ln C(n, k)` for `k = 0..=n`, `ln x` and `ln(1 - x)`.
fn binomial_pmf(ln_choose: &[f64], ln_success: f64, ln_failure: f64) -> Vec<f64> {
    let n = ln_choose.len().saturating_sub(1);
    ln_choose
        .iter()
        .enumerate()
        .map(|(k, ln_c)| (ln_c + times(k, ln_success) + times(n.saturating_sub(k), ln_failure)).exp())
        .collect()
}

/// `k * ln_x`, with `0 * ln 0 = 0` (that is, `0^0 = 1`) instead of NaN.
fn times(k: usize, ln_x: f64) -> f64 {
    if k == 0 {
        0.0
    } else {
        // k <= 200, exact in f64.
        k as f64 * ln_x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_rows_match_known_values() {
        assert_eq!(pascal_row(0), vec![1.0]);
        assert_eq!(pascal_row(5), vec![1.0, 5.0, 10.0, 10.0, 5.0, 1.0]);
        let row = pascal_row(200);
        assert_eq!(row.len(), 201);
        assert_eq!(row[1], 200.0);
        assert_eq!(row[2], 19_900.0);
        // C(200, 100) = 90548514656103281165404177077484163874504589675413336841320
        let c = 9.054_851_465_610_328e58;
        assert!((row[100] - c).abs() / c < 1e-14, "{}", row[100]);
        // C(60, 30) = 118264581564861424, above 2^53: still correct to an ulp or so.
        let c60 = 118_264_581_564_861_424.0_f64;
        assert!((pascal_row(60)[30] - c60).abs() / c60 < 1e-15);
    }

    #[test]
    fn scaled_reach_keeps_the_share() {
        let four_of_five = CommonCause { compromise: 0.01, outage: 0.0, reach: 4 };
        assert_eq!(four_of_five.scaled(5, 5).reach, 4);
        assert_eq!(four_of_five.scaled(5, 15).reach, 12);
        assert_eq!(four_of_five.scaled(5, 3).reach, 2);
        assert_eq!(four_of_five.scaled(5, 1).reach, 1);
        let one_of_five = CommonCause { reach: 1, ..four_of_five };
        assert_eq!(one_of_five.scaled(5, 2).reach, 1);
        assert_eq!(one_of_five.scaled(5, 15).reach, 3);
    }

    #[test]
    fn common_pmf_sums_to_one() {
        for n in [1u16, 2, 5, 17] {
            for reach in [1, n] {
                let cc = CommonCause { compromise: 0.3, outage: 0.7, reach };
                let d = Distributions::with_common(n, 0.1, 0.2, cc);
                for pmf in [&d.compromised, &d.available] {
                    let s: f64 = pmf.iter().sum();
                    assert!((s - 1.0).abs() < 1e-12, "n={n} reach={reach} sum={s}");
                }
            }
        }
    }

    #[test]
    fn pmf_sums_to_one() {
        for n in [1u16, 2, 5, 17, 100, 200] {
            for x in [0.0, 1e-9, 0.01, 0.3, 0.5, 0.99, 1.0] {
                let d = Distributions::new(n, x, x);
                for pmf in [&d.compromised, &d.available] {
                    let s: f64 = pmf.iter().sum();
                    assert!((s - 1.0).abs() < 1e-12, "n={n} x={x} sum={s}");
                }
            }
        }
    }
}
