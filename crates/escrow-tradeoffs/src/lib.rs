//! How safe, and how available, is an escrow key split among `n` trustees with
//! threshold `t`? This crate answers with exact binomial probabilities, checks them by
//! Monte Carlo, and renders the answer as a table (plain text, Markdown, JSON) and two
//! SVG plots.
//!
//! # Model
//!
//! - `n` trustees each hold a share of the escrow key; any `t + 1` shares open a
//!   message and `t` cannot (`0 <= t < n`, `1 <= n <= 200`).
//! - Each trustee is **compromised** (its share stolen, or it colludes) with
//!   probability `p`, independently of the others.
//! - Each trustee is **unavailable** (down, refuses, or lost its share) with
//!   probability `q`, independently of the others and of compromise.
//!
//! Two events, per threshold `t`:
//!
//! - (a) *unauthorized access*: at least `t + 1` of the `n` are compromised,
//!   `P = sum_{k=t+1}^{n} C(n,k) p^k (1-p)^(n-k)`.
//! - (b) *lawful access fails*: fewer than `t + 1` are available,
//!   `P = sum_{k=0}^{t} C(n,k) (1-q)^k q^(n-k)`.
//!
//! Raising `t` trades (a) for (b): [`exact()`] computes both, [`table()`] lists them for
//! every `t` next to a seeded Monte Carlo estimate ([`McEstimate`]), and
//! [`plot_risk_vs_threshold()`] / [`plot_frontier()`] draw them.
//!
//! # Method
//!
//! Both sums add non-negative terms only (no `1 - x` cancellation), each term computed
//! in log space as `exp(ln C(n,k) + k ln x + (n-k) ln(1-x))`, with `C(n,k)` from Pascal's
//! triangle in `f64` (exact up to 2^53, correctly rounded to within a few ulps beyond)
//! and `ln(1-x)` by `ln_1p`, so tiny `p` or `q` lose no precision.
//!
//! What the model leaves out, on purpose: correlated failures (one data centre, one
//! jurisdiction, one software bug shared by all trustees), which make both risks worse
//! than these numbers say.
//!
//! # Plotters
//!
//! Plots use `plotters` without default features (`svg_backend`, `line_series`): its
//! built-in "naive" font estimator lays text out and the SVG backend writes `<text>`
//! elements, so no font files, font-kit or fontconfig are needed; the viewer's fonts
//! render the labels.

mod model;
mod monte_carlo;
mod plot;
mod render;
mod report;

pub use model::{exact, Risk, MAX_TRUSTEES};
pub use monte_carlo::{simulate, McEstimate, McOutcome, Verdict, MIN_EXPECTED_HITS};
pub use plot::{plot_frontier, plot_risk_vs_threshold, DEFAULT_FRONTIER_NS, PLOT_FLOOR};
pub use render::{render_markdown, render_text};
pub use report::{table, write_report, FrontierCurve, Params, Report, Row};

/// Which probability parameter an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probability {
    /// `p`: a trustee is compromised.
    Compromise,
    /// `q`: a trustee is unavailable.
    Outage,
}

impl Probability {
    /// The symbol used in the model: `p` or `q`.
    pub fn symbol(self) -> &'static str {
        match self {
            Probability::Compromise => "p",
            Probability::Outage => "q",
        }
    }
}

impl std::fmt::Display for Probability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Probability::Compromise => "compromise probability",
            Probability::Outage => "outage probability",
        };
        write!(f, "{name} {}", self.symbol())
    }
}

/// Why a computation, plot or report was refused or failed. Each variant names the
/// parameter (or file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum TradeoffError {
    /// `n` is 0 or above [`MAX_TRUSTEES`].
    #[error("n = {n}: the number of trustees must be between 1 and {MAX_TRUSTEES}")]
    TrusteeCount {
        /// The rejected number of trustees.
        n: u16,
    },
    /// `t >= n`: not even all trustees together could open.
    #[error("t = {t} with n = {n}: the threshold must satisfy t < n (t + 1 shares open)")]
    Threshold {
        /// The rejected threshold.
        t: u16,
        /// The number of trustees it was checked against.
        n: u16,
    },
    /// `p` or `q` is NaN or outside `[0, 1]`.
    #[error("{which} = {value}: must be a number in [0, 1]")]
    Probability {
        /// Which parameter.
        which: Probability,
        /// Its rejected value.
        value: f64,
    },
    /// A Monte Carlo run was asked for zero trials.
    #[error("trials = 0: a Monte Carlo estimate needs at least one trial")]
    Trials,
    /// A plot was asked for no trustee counts.
    #[error("the frontier plot needs at least one n")]
    NoFrontier,
    /// The plotting library failed (it writes into a `String`, so this is a bug).
    #[error("drawing {plot}: {message}")]
    Plot {
        /// Which plot.
        plot: &'static str,
        /// The library's error.
        message: String,
    },
    /// A report file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON report could not be serialized.
    #[error("serializing the JSON report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Checks `1 <= n <= MAX_TRUSTEES`, both probabilities in `[0, 1]`, and (if given)
/// `t < n`, in that order.
pub(crate) fn validate(n: u16, t: Option<u16>, p: f64, q: f64) -> Result<(), TradeoffError> {
    if n == 0 || n > MAX_TRUSTEES {
        return Err(TradeoffError::TrusteeCount { n });
    }
    for (which, value) in [(Probability::Compromise, p), (Probability::Outage, q)] {
        // `contains` is false for NaN.
        if !(0.0..=1.0).contains(&value) {
            return Err(TradeoffError::Probability { which, value });
        }
    }
    match t {
        Some(t) if t >= n => Err(TradeoffError::Threshold { t, n }),
        _ => Ok(()),
    }
}
