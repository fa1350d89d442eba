//! `escrow tradeoffs`: for n trustees and per-trustee compromise and outage
//! probabilities per epoch, the chance over t of unauthorized access and of failed
//! lawful access (exact, checked by Monte Carlo), carried over a horizon of epochs and
//! weighed in messages and warrants, as tables, a Markdown report and SVG plots.

use std::path::PathBuf;

use clap::Args;
use escrow_tradeoffs::{render_horizon_text, render_text, CommonCause, Params, Report, Scale};

use crate::CliError;

#[derive(Args, Debug)]
pub struct TradeoffsArgs {
    /// Number of trustees n.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub trustees: u16,
    /// This deployment's threshold t (t + 1 shares open), marked on the plots
    /// [default: n / 2, a majority quorum].
    #[arg(long, short = 't')]
    pub threshold: Option<u16>,
    /// Probability, per epoch, that one trustee's share is stolen or that it colludes (p).
    #[arg(long, short = 'p', default_value_t = 0.01)]
    pub compromise: f64,
    /// Probability, per epoch, that one trustee is unavailable when a warrant comes (q).
    #[arg(long, short = 'q', default_value_t = 0.05)]
    pub outage: f64,
    /// Probability, per epoch, of one event (an order, a software flaw, a jurisdiction)
    /// that compromises --common-reach trustees at once (c_p).
    #[arg(long, default_value_t = 0.0)]
    pub common_compromise: f64,
    /// Probability, per epoch, of one event that takes --common-reach trustees offline
    /// at once (c_q).
    #[arg(long, default_value_t = 0.0)]
    pub common_outage: f64,
    /// How many trustees one common-cause event reaches [default: n - 1, as when all
    /// but one trustee sit in one country].
    #[arg(long)]
    pub common_reach: Option<u16>,
    /// The horizon, in epochs.
    #[arg(long, default_value_t = Scale::DEFAULT.horizon_epochs)]
    pub epochs: u32,
    /// Days per epoch (an epoch's key opens everything sent in it).
    #[arg(long, default_value_t = Scale::DEFAULT.epoch_days)]
    pub epoch_days: f64,
    /// Users whose messages are escrowed.
    #[arg(long, default_value_t = Scale::DEFAULT.users)]
    pub users: f64,
    /// Messages each user sends per day.
    #[arg(long, default_value_t = Scale::DEFAULT.messages_per_user_day)]
    pub messages_per_day: f64,
    /// Warrants served per epoch.
    #[arg(long, default_value_t = Scale::DEFAULT.warrants_per_epoch)]
    pub warrants: f64,
    /// Monte Carlo trials (0: exact only).
    #[arg(long, default_value_t = 100_000)]
    pub trials: u64,
    /// Seed of the Monte Carlo generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for tradeoffs.md, tradeoffs.json and the SVG plots.
    #[arg(long, default_value = "tradeoffs")]
    pub out: PathBuf,
}

impl TradeoffsArgs {
    /// The calculator's parameters; checked by the calculator, which names the culprit.
    fn params(&self) -> Params {
        let defaults = Params::new(self.trustees, self.compromise, self.outage);
        Params {
            trials: self.trials,
            seed: self.seed,
            threshold: self.threshold.unwrap_or(defaults.threshold),
            common: CommonCause {
                compromise: self.common_compromise,
                outage: self.common_outage,
                reach: self.common_reach.unwrap_or(defaults.common.reach),
            },
            scale: Scale {
                horizon_epochs: self.epochs,
                epoch_days: self.epoch_days,
                users: self.users,
                messages_per_user_day: self.messages_per_day,
                warrants_per_epoch: self.warrants,
            },
            ..defaults
        }
    }
}

pub fn run(a: &TradeoffsArgs) -> Result<(), CliError> {
    let params = a.params();
    let report = Report::new(&params)?;
    let Params { n, p_compromise: p, q_outage: q, common, scale, trials, seed, .. } = params;
    println!("n = {n} trustees, each compromised with p = {p} and unavailable with q = {q} per epoch.");
    if common.compromise > 0.0 || common.outage > 0.0 {
        println!(
            "One event reaching {} of them at once: compromises with c_p = {}, takes offline with c_q = {}.",
            common.reach, common.compromise, common.outage
        );
    }
    println!("{trials} Monte Carlo trials (seed {seed}).\n\nPer epoch:");
    print!("{}", render_text(&report.rows));
    println!(
        "\nOver {} epochs of {} days; one epoch holds {:.0} messages ({} users x {} a day), \
         {} warrants per epoch:",
        scale.horizon_epochs,
        scale.epoch_days,
        scale.messages_per_epoch(),
        scale.users,
        scale.messages_per_user_day,
        scale.warrants_per_epoch
    );
    print!("{}", render_horizon_text(&report.rows));
    let disagree = report.rows.iter().filter(|r| r.monte_carlo_agrees() == Some(false)).count();
    println!();
    for path in report.write(&a.out)? {
        println!("wrote {}", path.display());
    }
    if disagree > 0 {
        return Err(CliError::Findings(format!("{disagree} rows: Monte Carlo disagrees with the exact sums")));
    }
    Ok(())
}
