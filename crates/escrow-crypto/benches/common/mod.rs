//! Timing shared by the crate's benchmarks.

use std::time::{Duration, Instant};

/// Median wall time of `f` over `iters` runs after a short warm-up (a tenth as many
/// runs, at least one).
pub fn median<F: FnMut()>(iters: usize, mut f: F) -> Duration {
    for _ in 0..iters.div_ceil(10).max(1) {
        f();
    }
    let mut v: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}
