//! Time and size: a risk per epoch, carried over a horizon of epochs and weighed in
//! messages and warrants.

use serde::Serialize;

use crate::{Risk, TradeoffError};

/// How long the deployment runs and how much passes through it.
///
/// `p`, `q` and the common-cause probabilities are per epoch. One unauthorized access
/// opens a whole epoch (t+1 shares interpolate the epoch's key), so its size is the
/// messages of one epoch; one failed lawful access loses one warrant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scale {
    /// How many epochs to look ahead, at least 1.
    pub horizon_epochs: u32,
    /// Days per epoch, more than 0.
    pub epoch_days: f64,
    /// Users whose messages are escrowed.
    pub users: f64,
    /// Messages each user sends per day.
    pub messages_per_user_day: f64,
    /// Warrants served per epoch.
    pub warrants_per_epoch: f64,
}

impl Scale {
    /// One year of weekly epochs for a million users sending 50 messages a day, and 10
    /// warrants a week. The defaults of `escrow tradeoffs`; every one is a flag.
    pub const DEFAULT: Scale = Scale {
        horizon_epochs: 52,
        epoch_days: 7.0,
        users: 1_000_000.0,
        messages_per_user_day: 50.0,
        warrants_per_epoch: 10.0,
    };

    /// Messages escrowed under one epoch's key: users × messages per day × days.
    pub fn messages_per_epoch(&self) -> f64 {
        self.users * self.messages_per_user_day * self.epoch_days
    }

    /// The horizon in days.
    pub fn horizon_days(&self) -> f64 {
        f64::from(self.horizon_epochs) * self.epoch_days
    }

    /// Checks each quantity in the order of the fields.
    pub(crate) fn validate(&self) -> Result<(), TradeoffError> {
        if self.horizon_epochs == 0 {
            return Err(TradeoffError::Horizon);
        }
        let positive = [("epoch length in days", self.epoch_days)];
        let non_negative = [
            ("users", self.users),
            ("messages per user and day", self.messages_per_user_day),
            ("warrants per epoch", self.warrants_per_epoch),
        ];
        for (what, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(TradeoffError::Scale { what, value, bound: "> 0" });
            }
        }
        for (what, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(TradeoffError::Scale { what, value, bound: ">= 0" });
            }
        }
        Ok(())
    }
}

/// One threshold's risks over the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OverHorizon {
    /// P[at least one epoch in the horizon is opened without a warrant]:
    /// `1 - (1 - P_epoch)^H`, epochs independent.
    pub unauthorized: f64,
    /// Expected messages read without a warrant over the horizon:
    /// `H × P_epoch × messages per epoch`.
    pub messages_exposed: f64,
    /// Expected warrants that fail over the horizon: `H × warrants per epoch × P_fails`.
    pub failed_warrants: f64,
}

/// `risk`, per epoch, carried over `scale`'s horizon (validated by the caller).
pub fn over_horizon(risk: Risk, scale: &Scale) -> OverHorizon {
    let h = f64::from(scale.horizon_epochs);
    OverHorizon {
        // 1 - (1 - P)^H without cancellation for tiny P; P = 1 gives exp_m1(-inf) = -1.
        unauthorized: (-(h * (-risk.unauthorized).ln_1p()).exp_m1()).clamp(0.0, 1.0),
        messages_exposed: h * risk.unauthorized * scale.messages_per_epoch(),
        failed_warrants: h * scale.warrants_per_epoch * risk.fails,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_by_hand() {
        let scale = Scale { horizon_epochs: 52, ..Scale::DEFAULT };
        let o = over_horizon(Risk { unauthorized: 1e-3, fails: 0.01 }, &scale);
        // 1 - 0.999^52 = 0.050657...
        let want = 1.0 - 0.999_f64.powi(52);
        assert!((o.unauthorized - want).abs() < 1e-15, "{}", o.unauthorized);
        // 52 × 1e-3 × (1e6 × 50 × 7) = 52 × 350,000 = 18,200,000
        assert!((o.messages_exposed - 18_200_000.0).abs() < 1e-6, "{}", o.messages_exposed);
        // 52 × 10 × 0.01 = 5.2
        assert!((o.failed_warrants - 5.2).abs() < 1e-12);
        // Tiny P: no cancellation (52e-18 would be lost as 1 - (1 - 1e-18)^52 = 0).
        let tiny = over_horizon(Risk { unauthorized: 1e-18, fails: 0.0 }, &scale);
        assert!((tiny.unauthorized - 52e-18).abs() < 1e-30, "{}", tiny.unauthorized);
        assert_eq!(over_horizon(Risk { unauthorized: 1.0, fails: 1.0 }, &scale).unauthorized, 1.0);
    }

    #[test]
    fn bad_scales_are_named() {
        let cases = [
            (Scale { horizon_epochs: 0, ..Scale::DEFAULT }, "horizon = 0"),
            (Scale { epoch_days: 0.0, ..Scale::DEFAULT }, "epoch length in days = 0"),
            (Scale { users: -1.0, ..Scale::DEFAULT }, "users = -1"),
            (Scale { messages_per_user_day: f64::NAN, ..Scale::DEFAULT }, "messages per user and day = NaN"),
            (Scale { warrants_per_epoch: f64::INFINITY, ..Scale::DEFAULT }, "warrants per epoch = inf"),
        ];
        for (scale, shown) in cases {
            let e = scale.validate().unwrap_err().to_string();
            assert!(e.starts_with(shown), "{e}");
        }
        assert!(Scale::DEFAULT.validate().is_ok());
    }
}
