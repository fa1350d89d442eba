//! Per-caller token buckets: every authenticated request spends one token of its
//! certificate identity's bucket, and a caller whose bucket is empty gets
//! `RESOURCE_EXHAUSTED` (with a `retry-after-ms` hint) before any handler runs, so
//! that no single certificate can monopolise a service or make it write without
//! bound. One caller's flood leaves every other caller's bucket untouched.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle (full) ones are dropped; a caller with a full bucket is
/// indistinguishable from one never seen, so dropping it changes nothing.
const PRUNE_AT: usize = 4_096;

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

    /// Spends one token of `caller`'s bucket at `now`; `Err(wait)` if it is empty,
    /// with how long until the next token.
    pub fn check(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        let RateLimit { per_second, burst } = self.limit;
        let burst = f64::from(burst);
        // A poisoned lock only means another request panicked mid-update; the map is
        // still a map of buckets, so keep limiting rather than failing open or closed.
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PRUNE_AT {
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < burst);
        }
        let b = map.entry(caller.to_string()).or_insert(Bucket { tokens: burst, at: now });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_second;
        b.tokens = (b.tokens + refill).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
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
            l.check("a", t0).unwrap();
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!(wait > Duration::from_millis(99) && wait <= Duration::from_millis(100), "{wait:?}");
        // Another caller is untouched by a's flood.
        l.check("b", t0).unwrap();
        // One token back after 100 ms, not two.
        let t1 = t0 + Duration::from_millis(100);
        l.check("a", t1).unwrap();
        assert!(l.check("a", t1).is_err());
        // Refill is capped at the burst.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            l.check("a", t2).unwrap();
        }
        assert!(l.check("a", t2).is_err());
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
            l.check(&format!("idle-{i}"), t0).unwrap();
        }
        let t1 = t0 + Duration::from_secs(10);
        l.check("busy", t1).unwrap();
        l.check("busy", t1).unwrap();
        // The prune ran: idle callers (refilled by now) went, the busy one stayed empty.
        assert!(l.check("busy", t1).is_err());
        assert!(l.buckets.lock().unwrap().len() < PRUNE_AT);
    }
}
