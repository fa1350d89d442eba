//! What the benchmarks (`relay bench`, `witness bench`) share.

use std::time::Duration;

use crate::CliError;

/// A benchmark step that went wrong, as the command's error.
pub(crate) fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Findings(e.to_string())
}

/// The `p` quantile (0 to 1) of `sorted`, in milliseconds, by nearest rank; 0 if empty.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}
