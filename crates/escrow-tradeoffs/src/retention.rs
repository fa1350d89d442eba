//! After the fact: a warrant for a moment in the past can be answered only while the
//! moment's epoch key still exists and the relay still keeps its messages. Longer
//! epochs and longer retention answer more late warrants, and let a thief of one
//! epoch's shares read more.

use crate::TradeoffError;

/// The share of messages, sent at a uniformly random moment of their epoch, that a
/// warrant arriving `delay_days` after the message can still open, when each epoch lasts
/// `epoch_days`, its key is destroyed `grace_days` after the epoch ends, and the relay
/// keeps each message `retention_days` after it was sent.
///
/// A message sent `s` days into its epoch opens if `s + delay < epoch + grace` (the key
/// still exists) and `delay < retention` (the relay still has it): with `s` uniform in
/// `[0, epoch)` that is `clamp((epoch + grace - delay) / epoch, 0, 1)` while the relay
/// keeps it, and 0 after.
pub fn answerable(
    epoch_days: f64,
    grace_days: f64,
    retention_days: f64,
    delay_days: f64,
) -> Result<f64, TradeoffError> {
    let checks = [
        ("epoch length in days", epoch_days, false),
        ("grace in days", grace_days, true),
        ("retention in days", retention_days, true),
        ("delay in days", delay_days, true),
    ];
    for (what, value, zero_ok) in checks {
        let ok = value.is_finite() && if zero_ok { value >= 0.0 } else { value > 0.0 };
        if !ok {
            return Err(TradeoffError::Scale { what, value, bound: if zero_ok { ">= 0" } else { "> 0" } });
        }
    }
    if delay_days >= retention_days {
        return Ok(0.0);
    }
    Ok(((epoch_days + grace_days - delay_days) / epoch_days).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // Weekly epochs, destroyed a day after they end, 30 days' retention.
        // Delay 1 day: every message (s + 1 < 8 for all s < 7).
        assert_eq!(answerable(7.0, 1.0, 30.0, 1.0).unwrap(), 1.0);
        // Delay 3 days: s < 5 of 7.
        assert!((answerable(7.0, 1.0, 30.0, 3.0).unwrap() - 5.0 / 7.0).abs() < 1e-15);
        // Delay 8 days or more: none.
        assert_eq!(answerable(7.0, 1.0, 30.0, 8.0).unwrap(), 0.0);
        // Daily epochs: a warrant a day late opens only the grace day's worth.
        assert_eq!(answerable(1.0, 1.0, 30.0, 1.0).unwrap(), 1.0);
        assert_eq!(answerable(1.0, 1.0, 30.0, 2.0).unwrap(), 0.0);
        // 30-day epochs, but the relay keeps a week: the retention decides.
        assert!((answerable(30.0, 1.0, 7.0, 6.0).unwrap() - 25.0 / 30.0).abs() < 1e-15);
        assert_eq!(answerable(30.0, 1.0, 7.0, 7.0).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs_are_named() {
        let e = answerable(0.0, 1.0, 30.0, 1.0).unwrap_err().to_string();
        assert!(e.starts_with("epoch length in days = 0"), "{e}");
        let e = answerable(7.0, -1.0, 30.0, 1.0).unwrap_err().to_string();
        assert!(e.starts_with("grace in days = -1"), "{e}");
        let e = answerable(7.0, 1.0, f64::NAN, 1.0).unwrap_err().to_string();
        assert!(e.starts_with("retention in days = NaN"), "{e}");
        let e = answerable(7.0, 1.0, 30.0, f64::INFINITY).unwrap_err().to_string();
        assert!(e.starts_with("delay in days = inf"), "{e}");
    }
}
