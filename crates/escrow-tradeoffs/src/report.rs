//! The table of every threshold, and the report files built from it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::Distributions;
use crate::plot::{
    plot_common_cause, plot_frontier, plot_risk_vs_threshold, COMMON_CAUSE_LEVELS, COMMON_CAUSE_NS,
    DEFAULT_FRONTIER_NS, PLOT_FLOOR,
};
use crate::render::{render_horizon_markdown, render_markdown};
use crate::scale::{over_horizon, OverHorizon, Scale};
use crate::{simulate_common, validate, CommonCause, McOutcome, Risk, TradeoffError};

/// One deployment to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Number of trustees, `1..=200`.
    pub n: u16,
    /// `p`: probability per epoch that a trustee is compromised.
    pub p_compromise: f64,
    /// `q`: probability per epoch that a trustee is unavailable.
    pub q_outage: f64,
    /// Monte Carlo deployments to simulate; 0 skips the Monte Carlo check.
    pub trials: u64,
    /// Seed of the ChaCha20 generator of the Monte Carlo check.
    pub seed: u64,
    /// The deployment's own threshold, `t < n`: marked on every plot.
    pub threshold: u16,
    /// Events that reach several trustees at once.
    pub common: CommonCause,
    /// The horizon and the size of the deployment.
    pub scale: Scale,
}

impl Params {
    /// `n` trustees with `p` and `q`, and the defaults of `escrow tradeoffs` for the
    /// rest: 100,000 trials with seed 1, a majority quorum (`t = n / 2`), no common
    /// cause (but one that would reach all trustees but one, for the plot), and
    /// [`Scale::DEFAULT`].
    pub fn new(n: u16, p: f64, q: f64) -> Params {
        Params {
            n,
            p_compromise: p,
            q_outage: q,
            trials: 100_000,
            seed: 1,
            threshold: n / 2,
            common: CommonCause { reach: n.saturating_sub(1).max(1), ..CommonCause::NONE },
            scale: Scale::DEFAULT,
        }
    }

    /// Checks every parameter, naming the first one at fault.
    pub fn validate(&self) -> Result<(), TradeoffError> {
        validate(self.n, Some(self.threshold), self.p_compromise, self.q_outage)?;
        self.common.validate(self.n)?;
        self.scale.validate()
    }
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
    /// The exact risks carried over the horizon and weighed in messages and warrants.
    pub horizon: OverHorizon,
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
    params.validate()?;
    let Params { n, p_compromise: p, q_outage: q, trials, seed, common, scale, .. } = *params;
    let dist = Distributions::with_common(n, p, q, common);
    let mut mc = if trials == 0 { None } else { Some(simulate_common(n, p, q, common, trials, seed)?.into_iter()) };
    Ok((0..n)
        .map(|t| {
            let exact = dist.risk(t);
            Row {
                t,
                quorum: t + 1,
                exact,
                monte_carlo: mc.as_mut().and_then(Iterator::next),
                horizon: over_horizon(exact, &scale),
            }
        })
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
    /// The common-cause plot's numbers: for each level of `c_p`, the risk at a
    /// majority quorum of each committee size.
    pub common_cause: Vec<CommonCauseCurve>,
    /// Probabilities below this are drawn at the edge of the plots, marked as off the
    /// scale (not in the numbers).
    pub plot_floor: f64,
}

/// P(unauthorized) per epoch at a majority quorum for each committee size, at one
/// level of the common-cause probability `c_p`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommonCauseCurve {
    /// `c_p`, per epoch.
    pub compromise: f64,
    /// One point per committee size.
    pub points: Vec<CommonCausePoint>,
}

/// One committee size on a [`CommonCauseCurve`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CommonCausePoint {
    /// Trustees.
    pub n: u16,
    /// The majority threshold `n / 2`.
    pub t: u16,
    /// Trustees one event reaches ([`CommonCause::scaled`]).
    pub reach: u16,
    /// P(unauthorized) per epoch.
    pub unauthorized: f64,
}

/// The curves of the common-cause plot for `params` (validated by the caller):
/// [`COMMON_CAUSE_LEVELS`] and `params.common.compromise`, over [`COMMON_CAUSE_NS`].
pub(crate) fn common_cause_curves(params: &Params) -> Vec<CommonCauseCurve> {
    let mut levels = COMMON_CAUSE_LEVELS.to_vec();
    levels.push(params.common.compromise);
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
        .into_iter()
        .map(|c| CommonCauseCurve {
            compromise: c,
            points: COMMON_CAUSE_NS
                .into_iter()
                .map(|n| {
                    let common = CommonCause { compromise: c, outage: 0.0, ..params.common.scaled(params.n, n) };
                    let t = n / 2;
                    let risk = Distributions::with_common(n, params.p_compromise, params.q_outage, common).risk(t);
                    CommonCausePoint { n, t, reach: common.reach, unauthorized: risk.unauthorized }
                })
                .collect(),
        })
        .collect()
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
                let common = params.common.scaled(params.n, n);
                let dist = Distributions::with_common(n, params.p_compromise, params.q_outage, common);
                FrontierCurve { n, risks: (0..n).map(|t| dist.risk(t)).collect() }
            })
            .collect();
        let common_cause = common_cause_curves(params);
        Ok(Report { params: *params, rows, frontier, common_cause, plot_floor: PLOT_FLOOR })
    }

    /// The Markdown report: parameters, method, the table per epoch and over the
    /// horizon, how to read them, and links to the three SVGs written beside it.
    pub fn markdown(&self) -> String {
        let Params { n, p_compromise: p, q_outage: q, trials, seed, threshold, common, scale } = self.params;
        let ns: Vec<String> = self.frontier.iter().map(|c| c.n.to_string()).collect();
        let mc = if trials == 0 {
            "no Monte Carlo check was run (trials = 0).".to_owned()
        } else {
            let off = self.rows.iter().filter(|r| r.monte_carlo_agrees() == Some(false)).count();
            format!(
                "{trials} simulated epochs (ChaCha20, seed {seed}) estimate both events for every t; \
                 the last column says whether the exact value lies within 4 standard errors of the \
                 estimate (or within 1/trials where the standard error is 0), and says \"too rare\" \
                 where fewer than 10 hits are expected, so that agreement would prove nothing. \
                 Rows outside: {off} of {n}."
            )
        };
        let h = scale.horizon_epochs;
        let deployed = self.rows.get(usize::from(threshold));
        let c_line = if common.compromise == 0.0 && common.outage == 0.0 {
            format!(
                "- No common cause in the table (c_p = c_q = 0): trustees fail independently. The \
                 common-cause plot shows what one event reaching {} of {n} trustees would change.\n",
                common.reach
            )
        } else {
            format!(
                "- Common cause, per epoch: with c_p = {} one event (an order, a flaw, a jurisdiction) \
                 compromises {} of the {n} trustees at once; with c_q = {} one takes {} offline at once.\n",
                common.compromise, common.reach, common.outage, common.reach
            )
        };
        let summary = deployed.map_or_else(String::new, |r| {
            format!(
                "**This deployment (n = {n}, t = {threshold}, {quorum} of {n} open)**, over {h} epochs \
                 ({days} days): P(at least one epoch opened without a warrant) = {pu}, about {exposed} \
                 messages read without a warrant on average, against {failed} warrants that fail. One \
                 breach opens {per_epoch} messages; one failure loses one warrant.\n\n",
                quorum = r.quorum,
                days = crate::render::amount(scale.horizon_days()),
                pu = crate::render::probability(r.horizon.unauthorized),
                exposed = crate::render::amount(r.horizon.messages_exposed),
                failed = crate::render::amount(r.horizon.failed_warrants),
                per_epoch = crate::render::amount(scale.messages_per_epoch()),
            )
        });
        format!(
            "# Escrow trade-offs: n = {n}, p = {p}, q = {q}\n\n\
             ## Parameters\n\n\
             - n = {n} trustees; threshold t means t + 1 shares open and t cannot. This \
             deployment's t = {threshold}, marked on every plot.\n\
             - p = {p} per epoch: each trustee is compromised (share stolen, or colluding).\n\
             - q = {q} per epoch: each trustee is unavailable (down, refusing, or share lost).\n\
             {c_line}\
             - Horizon: {h} epochs of {epoch_days} days. Scale: {users} users × {mpd} messages a day \
             = {per_epoch} messages per epoch; {warrants} warrants per epoch.\n\
             - Monte Carlo: trials = {trials}, seed = {seed}.\n\n\
             ## Method\n\n\
             - (a) unauthorized access = P[at least t+1 of n compromised in an epoch] = \
             (1 - c_p) sum_{{k=t+1}}^{{n}} C(n,k) p^k (1-p)^(n-k) + c_p P[at least t+1-r of the other n-r], \
             r = trustees one event reaches.\n\
             - (b) lawful access fails = P[fewer than t+1 available] = (1 - c_q) sum_{{k=0}}^{{t}} \
             C(n,k) (1-q)^k q^(n-k) + c_q P[fewer than t+1 of the other n-r available].\n\
             - Over the horizon of H epochs, taken as independent: P(at least one unauthorized access) = \
             1 - (1 - a)^H; expected messages read without a warrant = H × a × messages per epoch (t+1 \
             shares open the whole epoch); expected failed warrants = H × warrants per epoch × b.\n\
             - Both sums are computed exactly in f64 (log-space terms, no subtraction); {mc}\n\n\
             ## Per epoch\n\n{table}\n\
             ## Over {h} epochs\n\n{summary}{horizon}\n\
             ## How to read this\n\n\
             Each row is one choice of threshold. Raising t makes unauthorized access rarer (more \
             trustees must be compromised) and lawful access more fragile (more must be available): \
             pick the row whose two risks you can both accept. The two failures are not the same \
             size: one unauthorized access reads a whole epoch of everyone's messages, one failed \
             lawful access loses one warrant. Exact 0 or 1 appear only when a probability is 0 or 1.\n\n\
             ![Risk vs threshold](risk-vs-threshold.svg)\n\n\
             *Risk vs threshold*: both risks per epoch against t on a log scale; the ring marks this \
             deployment's t. Points below {floor:.0e} (including exact 0) are off the scale: they are \
             drawn as open triangles on the bottom edge, not joined to the line.\n\n\
             ![The frontier](frontier.svg)\n\n\
             *The frontier*: for n in {{{ns}}}, each threshold t is a point (P(unauthorized), \
             P(lawful access fails)) on log-log axes; down and left is safer. The dashed line joins \
             the majority quorums t = floor(n/2): when it heads down and left as n grows, a larger \
             committee with a proportional threshold lowers both risks. It does so steeply only \
             while p and q are small, barely as they approach 1/2, and above 1/2 the corresponding \
             risk grows with n instead. The ring marks this deployment. Off-scale points are drawn \
             as open triangles on the edge.\n\n\
             ![A common cause](common-cause.svg)\n\n\
             *A common cause*: P(unauthorized) per epoch at a majority quorum against n, for several \
             probabilities c_p of one event that reaches {share:.0}% of the trustees. Independent \
             trustees (c_p = 0) get safer fast as n grows; with a common cause that reaches a quorum \
             the curve flattens at c_p, and no number of trustees buys it down.\n",
            epoch_days = scale.epoch_days,
            users = crate::render::amount(scale.users),
            mpd = scale.messages_per_user_day,
            per_epoch = crate::render::amount(scale.messages_per_epoch()),
            warrants = scale.warrants_per_epoch,
            table = render_markdown(&self.rows),
            horizon = render_horizon_markdown(&self.rows),
            floor = PLOT_FLOOR,
            ns = ns.join(", "),
            share = 100.0 * f64::from(common.reach) / f64::from(n),
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

/// Writes `tradeoffs.md`, `risk-vs-threshold.svg`, `frontier.svg`, `common-cause.svg` and
/// `tradeoffs.json`
/// into `dir` (created if missing) and returns their paths in that order. The frontier
/// covers [`DEFAULT_FRONTIER_NS`] and `params.n`.
pub fn write_report(dir: &Path, params: &Params) -> Result<Vec<PathBuf>, TradeoffError> {
    Report::new(params)?.write(dir)
}

impl Report {
    /// Writes this report's five files into `dir` (see [`write_report`]), without
    /// computing anything again.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, TradeoffError> {
        write_files(self, dir)
    }
}

fn write_files(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, TradeoffError> {
    let ns: Vec<u16> = report.frontier.iter().map(|c| c.n).collect();
    let files = [
        ("tradeoffs.md", report.markdown()),
        ("risk-vs-threshold.svg", plot_risk_vs_threshold(&report.params)?),
        ("frontier.svg", plot_frontier(&ns, &report.params)?),
        ("common-cause.svg", plot_common_cause(&report.params)?),
        ("tradeoffs.json", serde_json::to_string_pretty(report)? + "\n"),
    ];
    write_named(dir, files)
}

/// Writes each `(name, contents)` into `dir` (created if missing), every file computed
/// before this is called so that a refused parameter writes nothing; the paths, in order.
pub(crate) fn write_named<const N: usize>(
    dir: &Path,
    files: [(&str, String); N],
) -> Result<Vec<PathBuf>, TradeoffError> {
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

impl crate::JurisdictionsReport {
    /// Writes `jurisdictions.md`, `jurisdictions-spillover.svg`, `jurisdictions-reach.svg`
    /// and `jurisdictions.json` into `dir` (created if missing); their paths, in order.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, TradeoffError> {
        let files = [
            ("jurisdictions.md", self.markdown()),
            ("jurisdictions-spillover.svg", crate::plot_spillover(self)?),
            ("jurisdictions-reach.svg", crate::plot_jurisdiction_reach(self)?),
            ("jurisdictions.json", serde_json::to_string_pretty(self)? + "\n"),
        ];
        write_named(dir, files)
    }
}
