//! The table of every threshold, and the report files built from it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::Distributions;
use crate::plot::{plot_frontier, plot_risk_vs_threshold, DEFAULT_FRONTIER_NS, PLOT_FLOOR};
use crate::render::render_markdown;
use crate::{simulate, validate, McOutcome, Risk, TradeoffError};

/// One deployment to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Number of trustees, `1..=200`.
    pub n: u16,
    /// `p`: probability that a trustee is compromised.
    pub p_compromise: f64,
    /// `q`: probability that a trustee is unavailable.
    pub q_outage: f64,
    /// Monte Carlo deployments to simulate; 0 skips the Monte Carlo check.
    pub trials: u64,
    /// Seed of the ChaCha20 generator of the Monte Carlo check.
    pub seed: u64,
}

/// One threshold's line of the table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Row {
    /// The threshold: `t` shares cannot open.
    pub t: u16,
    /// `t + 1`, the shares that open.
    pub quorum: u16,
    /// The exact probabilities.
    pub exact: Risk,
    /// The Monte Carlo estimates, unless `trials` was 0.
    pub monte_carlo: Option<McOutcome>,
}

impl Row {
    /// Whether both Monte Carlo estimates agree with the exact values
    /// ([`McEstimate::agrees_with`](crate::McEstimate::agrees_with)); `None` without
    /// a Monte Carlo run.
    pub fn monte_carlo_agrees(&self) -> Option<bool> {
        self.monte_carlo
            .map(|mc| mc.unauthorized.agrees_with(self.exact.unauthorized) && mc.fails.agrees_with(self.exact.fails))
    }
}

/// Rows `t = 0..n` for `params`: exact risks and, if `trials > 0`, Monte Carlo
/// estimates from one seeded simulation shared by all rows.
pub fn table(params: &Params) -> Result<Vec<Row>, TradeoffError> {
    let Params { n, p_compromise: p, q_outage: q, trials, seed } = *params;
    validate(n, None, p, q)?;
    let dist = Distributions::new(n, p, q);
    let mut mc = if trials == 0 { None } else { Some(simulate(n, p, q, trials, seed)?.into_iter()) };
    Ok((0..n)
        .map(|t| Row { t, quorum: t + 1, exact: dist.risk(t), monte_carlo: mc.as_mut().and_then(Iterator::next) })
        .collect())
}

/// What `tradeoffs.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The inputs.
    pub params: Params,
    /// The table.
    pub rows: Vec<Row>,
    /// The frontier plot's numbers: exact risks for every `t` of each `n`.
    pub frontier: Vec<FrontierCurve>,
    /// Probabilities below this are drawn at this value in the plots (not in the
    /// numbers).
    pub plot_floor: f64,
}

/// The exact risks of one committee size, `risks[t]` for `t = 0..n`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontierCurve {
    /// Number of trustees.
    pub n: u16,
    /// One entry per threshold.
    pub risks: Vec<Risk>,
}

impl Report {
    /// Computes the table and the frontier for `params`; the frontier covers
    /// [`DEFAULT_FRONTIER_NS`] and `params.n`.
    pub fn new(params: &Params) -> Result<Self, TradeoffError> {
        let rows = table(params)?;
        let frontier = frontier_ns(params.n)
            .into_iter()
            .map(|n| {
                let dist = Distributions::new(n, params.p_compromise, params.q_outage);
                FrontierCurve { n, risks: (0..n).map(|t| dist.risk(t)).collect() }
            })
            .collect();
        Ok(Report { params: *params, rows, frontier, plot_floor: PLOT_FLOOR })
    }

    /// The Markdown report: parameters, method, the table, how to read it, and links
    /// to the two SVGs written beside it.
    pub fn markdown(&self) -> String {
        let Params { n, p_compromise: p, q_outage: q, trials, seed } = self.params;
        let ns: Vec<String> = self.frontier.iter().map(|c| c.n.to_string()).collect();
        let mc = if trials == 0 {
            "no Monte Carlo check was run (trials = 0).".to_owned()
        } else {
            let off = self.rows.iter().filter(|r| r.monte_carlo_agrees() == Some(false)).count();
            format!(
                "{trials} simulated deployments (ChaCha20, seed {seed}) estimate both events for every t; \
                 the last column says whether the exact value lies within 4 standard errors of the \
                 estimate (or within 1/trials where the standard error is 0). Rows outside: {off} of {n}."
            )
        };
        format!(
            "# Escrow trade-offs: n = {n}, p = {p}, q = {q}\n\n\
             ## Parameters\n\n\
             - n = {n} trustees; threshold t means t + 1 shares open and t cannot.\n\
             - p = {p}: each trustee is independently compromised (share stolen, or colluding).\n\
             - q = {q}: each trustee is independently unavailable (down, refusing, or share lost).\n\
             - Monte Carlo: trials = {trials}, seed = {seed}.\n\n\
             ## Method\n\n\
             - (a) unauthorized access = P[at least t+1 of n compromised] = sum_{{k=t+1}}^{{n}} C(n,k) p^k (1-p)^(n-k).\n\
             - (b) lawful access fails = P[fewer than t+1 available] = sum_{{k=0}}^{{t}} C(n,k) (1-q)^k q^(n-k).\n\
             - Both sums are computed exactly in f64 (log-space terms, no subtraction); {mc}\n\n\
             ## Table\n\n{table}\n\
             ## How to read this\n\n\
             Each row is one choice of threshold. Raising t makes unauthorized access rarer (more \
             trustees must be compromised) and lawful access more fragile (more must be available): \
             pick the row whose two risks you can both accept. The model assumes independent \
             trustees; correlated failures (shared hosting, jurisdiction or software) make both \
             risks larger than shown. Exact 0 or 1 appear only when p or q is 0 or 1.\n\n\
             ![Risk vs threshold](risk-vs-threshold.svg)\n\n\
             *Risk vs threshold*: both risks against t on a log scale; values below {floor:.0e} \
             (including exact 0) are drawn at {floor:.0e}.\n\n\
             ![The frontier](frontier.svg)\n\n\
             *The frontier*: for n in {{{ns}}}, each threshold t is a point (P(unauthorized), \
             P(lawful access fails)) on log-log axes; down and left is safer. The dashed line joins \
             the majority quorums t = floor(n/2): when it heads down and left as n grows, a larger \
             committee with a proportional threshold lowers both risks. It does so steeply only \
             while p and q are small, barely as they approach 1/2, and above 1/2 the corresponding \
             risk grows with n instead. Values below {floor:.0e} are drawn at {floor:.0e}.\n",
            table = render_markdown(&self.rows),
            floor = PLOT_FLOOR,
            ns = ns.join(", "),
        )
    }
}

/// [`DEFAULT_FRONTIER_NS`] and `n`, sorted, without repeats.
fn frontier_ns(n: u16) -> Vec<u16> {
    let mut ns = DEFAULT_FRONTIER_NS.to_vec();
    ns.push(n);
    ns.sort_unstable();
    ns.dedup();
    ns
}

/// Writes `tradeoffs.md`, `risk-vs-threshold.svg`, `frontier.svg` and `tradeoffs.json`
/// into `dir` (created if missing) and returns their paths in that order. The frontier
/// covers [`DEFAULT_FRONTIER_NS`] and `params.n`.
pub fn write_report(dir: &Path, params: &Params) -> Result<Vec<PathBuf>, TradeoffError> {
    Report::new(params)?.write(dir)
}

impl Report {
    /// Writes this report's four files into `dir` (see [`write_report`]), without
    /// computing anything again.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, TradeoffError> {
        write_files(self, dir)
    }
}

fn write_files(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, TradeoffError> {
    let Params { n, p_compromise: p, q_outage: q, .. } = report.params;
    let ns: Vec<u16> = report.frontier.iter().map(|c| c.n).collect();
    let files = [
        ("tradeoffs.md", report.markdown()),
        ("risk-vs-threshold.svg", plot_risk_vs_threshold(n, p, q)?),
        ("frontier.svg", plot_frontier(&ns, p, q)?),
        ("tradeoffs.json", serde_json::to_string_pretty(report)? + "\n"),
    ];
    std::fs::create_dir_all(dir).map_err(|source| TradeoffError::Io { path: dir.to_owned(), source })?;
    files
        .into_iter()
        .map(|(name, contents)| {
            let path = dir.join(name);
            std::fs::write(&path, contents).map_err(|source| TradeoffError::Io { path: path.clone(), source })?;
            Ok(path)
        })
        .collect()
}
