//! Per-caller token buckets: every authenticated request spends one token of its
//! certificate identity's bucket, and a caller whose bucket is empty gets
//! `RESOURCE_EXHAUSTED` (with a `retry-after-ms` hint) before any handler runs, so
//! that no single certificate can monopolise a service or make it write without
//! bound. One caller's flood leaves every other caller's bucket untouched.
//!
//! Refusals are reported to the service log in summary, not one line each: a caller
//! flooding a server would otherwise fill its log (one agency calling `GetInfo` from
//! 16 threads for 5 s wrote 23,054 lines). The limiter tells its caller, per request,
//! whether to write the first refusal of an interval in full, a summary of the
//! refusals it kept quiet, or nothing ([`Report`]). The count lives in the caller's
//! bucket, so it is bounded exactly as the buckets are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle (full) ones are dropped; a caller with a full bucket is
/// indistinguishable from one never seen, so dropping it changes nothing.
const PRUNE_AT: usize = 4_096;

/// How long refusals of one caller go unlogged after one was logged: at most one log
/// line per caller per interval, however hard it floods.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// How fast each caller may call: a sustained rate and a burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second (sustained requests per second).
    pub per_second: f64,
    /// Bucket size: requests a caller may make at once after being idle.
    pub burst: u32,
}

impl RateLimit {
    /// The limit, refusing nonsense (non-positive or non-finite rate, zero burst).
    pub fn new(per_second: f64, burst: u32) -> Result<Self, String> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(format!("rate limit: requests per second must be positive, got {per_second}"));
        }
        if burst == 0 {
            return Err("rate limit: burst must be at least 1".into());
        }
        Ok(RateLimit { per_second, burst })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// While refusals of this caller are being counted, not logged: since when.
    quiet_since: Option<Instant>,
    /// Refusals since `quiet_since` that were not logged.
    suppressed: u64,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Bucket { tokens: burst, at: now, quiet_since: None, suppressed: 0 }
    }

    /// The summary of the quiet interval if it is over (and starts no new one).
    fn end_quiet(&mut self, now: Instant) -> Option<Report> {
        let since = self.quiet_since?;
        let over = now.saturating_duration_since(since);
        if over < REPORT_INTERVAL {
            return None;
        }
        self.quiet_since = None;
        let refused = std::mem::take(&mut self.suppressed);
        (refused > 0).then_some(Report::Summary { refused, over })
    }
}

/// What the service log should say about one request's rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// This refusal opens a quiet interval: write it in full; the refusals that follow
    /// within [`REPORT_INTERVAL`] are only counted.
    First,
    /// A quiet interval of `over` ended (at this request, refused or not) with
    /// `refused` refusals that were not written: write one line with the count.
    Summary {
        /// Refusals counted and not logged in the interval.
        refused: u64,
        /// How long the interval lasted.
        over: Duration,
    },
}

/// The limiter's decision on one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// `Ok` if admitted, else how long until the caller's next token.
    pub result: Result<(), Duration>,
    /// What to log, if anything.
    pub report: Option<Report>,
}

/// The buckets of every caller of one server.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Limiter for `limit`; every caller starts with a full bucket.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Spends one token of `caller`'s bucket at `now`; refused (with how long until the
    /// next token) if it is empty. The verdict also says what to log ([`Report`]).
    pub fn check(&self, caller: &str, now: Instant) -> Verdict {
        let RateLimit { per_second, burst } = self.limit;
        let burst = f64::from(burst);
        // A poisoned lock only means another request panicked mid-update; the map is
        // still a map of buckets, so keep limiting rather than failing open or closed.
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            // A bucket with refusals not yet reported stays until its caller's next
            // request reports them: one entry per caller, as before.
            map.retain(|_, b| {
                b.suppressed > 0 || b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst
            });
        }
        let b = map.entry(caller.to_string()).or_insert_with(|| Bucket::full(burst, now));
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_second;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        let ended = b.end_quiet(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Verdict { result: Ok(()), report: ended };
        }
        let wait = Duration::from_secs_f64((1.0 - b.tokens) / per_second);
        let report = match (ended, b.quiet_since) {
            // Still within a quiet interval: count only.
            (None, Some(_)) => {
                b.suppressed = b.suppressed.saturating_add(1);
                None
            }
            // An interval with refusals just ended and the flood goes on: its summary
            // is this refusal's line, and a new interval starts counting.
            // This refusal is counted in the new interval, so that the lines always
            // add up to every refusal.
            (Some(summary), _) => {
                b.quiet_since = Some(now);
                b.suppressed = 1;
                Some(summary)
            }
            // No interval, or one that ended with nothing kept quiet: log in full.
            (None, None) => {
                b.quiet_since = Some(now);
                Some(Report::First)
            }
        };
        Verdict { result: Err(wait), report }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate_per_caller() {
        let l = RateLimiter::new(RateLimit::new(10.0, 3).unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            l.check("a", t0).result.unwrap();
        }
        let wait = l.check("a", t0).result.unwrap_err();
        assert!(wait > Duration::from_millis(99) && wait <= Duration::from_millis(100), "{wait:?}");
        // Another caller is untouched by a's flood.
        l.check("b", t0).result.unwrap();
        // One token back after 100 ms, not two.
        let t1 = t0 + Duration::from_millis(100);
        l.check("a", t1).result.unwrap();
        assert!(l.check("a", t1).result.is_err());
        // Refill is capped at the burst.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            l.check("a", t2).result.unwrap();
        }
        assert!(l.check("a", t2).result.is_err());
    }

    #[test]
    fn refusals_are_logged_first_then_summarised_per_interval_with_their_count() {
        let l = RateLimiter::new(RateLimit::new(1.0, 1).unwrap());
        let t0 = Instant::now();
        assert_eq!(l.check("a", t0), Verdict { result: Ok(()), report: None });
        // The first refusal is reported in full, the next 99 only counted.
        assert_eq!(l.check("a", t0).report, Some(Report::First));
        for _ in 0..99 {
            let v = l.check("a", t0);
            assert!(v.result.is_err());
            assert_eq!(v.report, None);
        }
        // Another caller's first refusal is its own, not summarised with a's.
        l.check("b", t0).result.unwrap();
        assert_eq!(l.check("b", t0).report, Some(Report::First));
        // Still inside the interval: quiet.
        let t1 = t0 + REPORT_INTERVAL - Duration::from_millis(1);
        l.check("a", t1).result.unwrap();
        let v = l.check("a", t1);
        assert!(v.result.is_err());
        assert_eq!(v.report, None);
        // The flood goes on past the interval: one summary line with every refusal
        // kept quiet (99 at t0, 1 at t1), and this one counts in the next interval.
        let t2 = t0 + REPORT_INTERVAL;
        let v = l.check("a", t2);
        assert!(v.result.is_err());
        assert_eq!(v.report, Some(Report::Summary { refused: 100, over: REPORT_INTERVAL }));
        for _ in 0..4 {
            assert_eq!(l.check("a", t2).report, None);
        }
        // The flood stops; the next request, admitted, reports the tail (1 + 4).
        let t3 = t2 + REPORT_INTERVAL * 2;
        assert_eq!(
            l.check("a", t3),
            Verdict { result: Ok(()), report: Some(Report::Summary { refused: 5, over: REPORT_INTERVAL * 2 }) }
        );
        // A later refusal opens a new interval in full.
        assert_eq!(l.check("a", t3).report, Some(Report::First));
        // b was refused once and never again: its interval ends with nothing to say.
        l.check("b", t3).result.unwrap();
        assert_eq!(l.check("b", t3).report, Some(Report::First));
    }

    #[test]
    fn a_bucket_with_unreported_refusals_is_not_pruned() {
        let l = RateLimiter::new(RateLimit::new(1.0, 1).unwrap());
        let t0 = Instant::now();
        l.check("flooder", t0).result.unwrap();
        assert_eq!(l.check("flooder", t0).report, Some(Report::First));
        for _ in 0..7 {
            l.check("flooder", t0).result.unwrap_err();
        }
        let t1 = t0 + Duration::from_secs(60);
        for i in 0..PRUNE_AT {
            l.check(&format!("idle-{i}"), t1).result.unwrap();
        }
        let t2 = t1 + Duration::from_secs(60);
        l.check("trigger", t2).result.unwrap();
        assert!(l.buckets.lock().unwrap().len() < PRUNE_AT);
        let v = l.check("flooder", t2);
        assert_eq!(v.report, Some(Report::Summary { refused: 7, over: Duration::from_secs(120) }));
    }

    #[test]
    fn nonsense_limits_are_refused() {
        assert!(RateLimit::new(0.0, 1).is_err());
        assert!(RateLimit::new(f64::NAN, 1).is_err());
        assert!(RateLimit::new(-1.0, 1).is_err());
        assert!(RateLimit::new(1.0, 0).is_err());
    }

    #[test]
    fn idle_buckets_are_pruned_and_busy_ones_kept() {
        let l = RateLimiter::new(RateLimit::new(1.0, 2).unwrap());
        let t0 = Instant::now();
        for i in 0..PRUNE_AT {
            l.check(&format!("idle-{i}"), t0).result.unwrap();
        }
        let t1 = t0 + Duration::from_secs(10);
        l.check("busy", t1).result.unwrap();
        l.check("busy", t1).result.unwrap();
        // The prune ran: idle callers (refilled by now) went, the busy one stayed empty.
        assert!(l.check("busy", t1).result.is_err());
        assert!(l.buckets.lock().unwrap().len() < PRUNE_AT);
    }
}
