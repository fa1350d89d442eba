//! How safe, and how available, is an escrow key split among `n` trustees with
//! threshold `t`? This crate answers with exact binomial probabilities, checks them by
//! Monte Carlo, carries them over a horizon of epochs in messages and warrants, and
//! renders the answer as tables (plain text, Markdown, JSON) and three SVG plots.
//!
//! # Model
//!
//! - `n` trustees each hold a share of an epoch's escrow key; any `t + 1` shares open
//!   every message of that epoch and `t` cannot (`0 <= t < n`, `1 <= n <= 200`).
//! - In each epoch, each trustee is **compromised** (its share stolen, or it colludes)
//!   with probability `p`, independently of the others.
//! - In each epoch, each trustee is **unavailable** (down, refuses, or lost its share)
//!   with probability `q`, independently of the others and of compromise.
//! - Optionally, a [`CommonCause`]: with probability `c_p` per epoch one event (an
//!   order, a flaw, a jurisdiction) compromises `reach` trustees at once, and with
//!   `c_q` one takes `reach` offline at once.
//!
//! Two events, per threshold `t` and epoch:
//!
//! - (a) *unauthorized access*: at least `t + 1` of the `n` are compromised,
//!   `P = sum_{k=t+1}^{n} C(n,k) p^k (1-p)^(n-k)` without a common cause.
//! - (b) *lawful access fails*: fewer than `t + 1` are available,
//!   `P = sum_{k=0}^{t} C(n,k) (1-q)^k q^(n-k)` without a common cause.
//!
//! With a common cause each is a mixture: weight `1 - c` on the sum above and `c` on
//! the same event among the `n - reach` trustees the event missed. Over `H` epochs
//! ([`Scale`]), `1 - (1 - a)^H` is the chance of at least one unauthorized access,
//! `H × a × messages per epoch` the messages it is expected to expose, and
//! `H × warrants per epoch × b` the warrants expected to fail.
//!
//! Raising `t` trades (a) for (b): [`exact()`] and [`exact_common()`] compute both,
//! [`table()`] lists them for every `t` next to a seeded Monte Carlo estimate
//! ([`McEstimate`]) and over the horizon ([`OverHorizon`]), and
//! [`plot_risk_vs_threshold()`], [`plot_frontier()`] and [`plot_common_cause()`] draw
//! them, each marking the deployment's own `(n, t)`.
//!
//! # Method
//!
//! Both sums add non-negative terms only (no `1 - x` cancellation), each term computed
//! in log space as `exp(ln C(n,k) + k ln x + (n-k) ln(1-x))`, with `C(n,k)` from Pascal's
//! triangle in `f64` (exact up to 2^53, correctly rounded to within a few ulps beyond)
//! and `ln(1-x)` by `ln_1p`, so tiny `p` or `q` lose no precision; the horizon uses
//! `exp_m1` and `ln_1p` for the same reason.
//!
//! What the model leaves out: real values of `p`, `q` and `c`, which nobody can
//! measure in advance, and dependence between epochs (an insider who stays).
//!
//! # Escrow by jurisdiction
//!
//! A second question, "only our own users": with an escrow domain per jurisdiction,
//! how much of *other* jurisdictions' users' traffic does each government open alone,
//! under each rule for composing escrow across borders ([`Rule`])? A
//! [`JurisdictionsReport`] answers exactly and by simulating a seeded contact graph
//! ([`ContactGraph`]), and [`plot_spillover()`] and [`plot_jurisdiction_reach()`] draw it.
//!
//! # Plotters
//!
//! Plots use `plotters` without default features (`svg_backend`, `line_series`): its
//! built-in "naive" font estimator lays text out and the SVG backend writes `<text>`
//! elements, so no font files, font-kit or fontconfig are needed; the viewer's fonts
//! render the labels.

mod compartment;
mod jurisdictions;
mod model;
mod monte_carlo;
mod plot;
mod render;
mod report;
mod retention;
mod scale;

pub use compartment::exact_compartmented;
pub use jurisdictions::{
    plot_jurisdiction_reach, plot_spillover, reach_share, ContactGraph, Jurisdiction, JurisdictionError,
    JurisdictionsReport, Reach, Rule, Scenario, SweepPoint, Tally, DEFAULT_CROSS_BORDER, MAX_CONTACTS_TOTAL,
    MAX_MESSAGES_PER_CONTACT, MAX_USERS, SWEEP_MAX, SWEEP_STEPS,
};
pub use model::{exact, exact_common, CommonCause, Risk, MAX_TRUSTEES};
pub use monte_carlo::{simulate, simulate_common, McEstimate, McOutcome, Verdict, MIN_EXPECTED_HITS};
pub use plot::{
    plot_common_cause, plot_frontier, plot_risk_vs_threshold, COMMON_CAUSE_LEVELS, COMMON_CAUSE_NS,
    DEFAULT_FRONTIER_NS, PLOT_FLOOR,
};
pub use render::{amount, render_horizon_markdown, render_horizon_text, render_markdown, render_text};
pub use report::{table, write_report, CommonCauseCurve, CommonCausePoint, FrontierCurve, Params, Report, Row};
pub use retention::answerable;
pub use scale::{over_horizon, OverHorizon, Scale};

/// Which probability parameter an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probability {
    /// `p`: a trustee is compromised.
    Compromise,
    /// `q`: a trustee is unavailable.
    Outage,
    /// `c_p`: one event compromises several trustees at once.
    CommonCompromise,
    /// `c_q`: one event takes several trustees offline at once.
    CommonOutage,
}

impl Probability {
    /// The symbol used in the model: `p` or `q`.
    pub fn symbol(self) -> &'static str {
        match self {
            Probability::Compromise => "p",
            Probability::Outage => "q",
            Probability::CommonCompromise => "c_p",
            Probability::CommonOutage => "c_q",
        }
    }
}

impl std::fmt::Display for Probability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Probability::Compromise => "compromise probability",
            Probability::Outage => "outage probability",
            Probability::CommonCompromise => "common-cause compromise probability",
            Probability::CommonOutage => "common-cause outage probability",
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
    /// A common cause that reaches no trustee, or more than there are.
    #[error("reach = {reach} with n = {n}: one common-cause event must reach between 1 and n trustees")]
    Reach {
        /// The rejected reach.
        reach: u16,
        /// The number of trustees.
        n: u16,
    },
    /// The horizon is zero epochs.
    #[error("horizon = 0 epochs: the horizon must be at least one epoch")]
    Horizon,
    /// A size of the deployment (users, messages, epoch length, warrants) is negative,
    /// NaN or infinite, or the epoch length is zero.
    #[error("{what} = {value}: must be a finite number {bound}")]
    Scale {
        /// Which quantity.
        what: &'static str,
        /// Its rejected value.
        value: f64,
        /// What it must be: ">= 0" or "> 0".
        bound: &'static str,
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
    /// A scenario of escrow by jurisdiction was refused.
    #[error(transparent)]
    Jurisdictions(#[from] JurisdictionError),
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
