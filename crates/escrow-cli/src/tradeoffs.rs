//! `escrow tradeoffs`: for n trustees and per-trustee compromise and outage
//! probabilities per epoch, the chance over t of unauthorized access and of failed
//! lawful access (exact, checked by Monte Carlo), carried over a horizon of epochs and
//! weighed in messages and warrants, as tables, a Markdown report and SVG plots.
//!
//! `escrow tradeoffs jurisdictions`: escrow domains per jurisdiction, and how much of
//! other jurisdictions' users' traffic each government opens alone under each rule for
//! messages across borders, exact and simulated over a seeded contact graph.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use escrow_tradeoffs::{
    render_horizon_text, render_text, CommonCause, Jurisdiction, JurisdictionsReport, Params, Report, Scale, Scenario,
};

use crate::CliError;

#[derive(Args, Debug)]
// `escrow tradeoffs -n 5 ...` is the calculator, as before; `escrow tradeoffs
// jurisdictions ...` takes none of its flags.
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TradeoffsArgs {
    #[command(subcommand)]
    pub command: Option<TradeoffsCmd>,
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

/// What `escrow tradeoffs` does besides the calculator.
#[derive(Subcommand, Debug)]
pub enum TradeoffsCmd {
    /// "Only our own users": escrow domains per jurisdiction; the share of each
    /// jurisdiction's users' messages each government opens alone under any-of, all-of
    /// and home-of-sender composition, against one worldwide key.
    Jurisdictions(JurisdictionsArgs),
}

#[derive(Args, Debug)]
pub struct JurisdictionsArgs {
    /// Users in the synthetic contact graph (N).
    #[arg(long, default_value_t = Scenario::default().users)]
    pub users: u32,
    /// Contacts per user (k).
    #[arg(long, default_value_t = Scenario::default().contacts)]
    pub contacts: u32,
    /// Messages per contact (m), each in a random direction.
    #[arg(long, default_value_t = Scenario::default().messages_per_contact)]
    pub messages: u32,
    /// Share of contacts in another jurisdiction (x, in [0, 1]); the default is an
    /// assumption, not a measurement.
    #[arg(long, default_value_t = Scenario::default().cross_border)]
    pub cross_border: f64,
    /// Seed of the generator that draws the graph and the messages.
    #[arg(long, default_value_t = Scenario::default().seed)]
    pub seed: u64,
    /// A jurisdiction, NAME:SHARE:escrow or NAME:SHARE:none, repeated for each (shares
    /// sum to 1; the first holds the worldwide key and opens in the spillover plot,
    /// into the second's users) [default: uk:0.1:escrow us:0.5:escrow
    /// no-escrow:0.4:none].
    #[arg(long = "jurisdiction", value_parser = parse_jurisdiction)]
    pub jurisdictions: Vec<Jurisdiction>,
    /// Directory for jurisdictions.md, jurisdictions.json and the SVG plots.
    #[arg(long, default_value = "tradeoffs")]
    pub out: PathBuf,
}

/// `NAME:SHARE:escrow` or `NAME:SHARE:none`; the library checks the share's range.
fn parse_jurisdiction(s: &str) -> Result<Jurisdiction, String> {
    let mut parts = s.split(':');
    let (Some(name), Some(share), Some(kind), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?}: expected NAME:SHARE:escrow or NAME:SHARE:none"));
    };
    let share: f64 = share.parse().map_err(|e| format!("{s:?}: share {share:?} is not a number: {e}"))?;
    let escrows = match kind {
        "escrow" => true,
        "none" => false,
        other => return Err(format!("{s:?}: {other:?} must be escrow or none")),
    };
    Ok(Jurisdiction::new(name, share, escrows))
}

impl JurisdictionsArgs {
    /// The scenario; checked by the library, which names the culprit.
    fn scenario(&self) -> Scenario {
        let defaults = Scenario::default();
        Scenario {
            jurisdictions: if self.jurisdictions.is_empty() {
                defaults.jurisdictions
            } else {
                self.jurisdictions.clone()
            },
            users: self.users,
            contacts: self.contacts,
            messages_per_contact: self.messages,
            cross_border: self.cross_border,
            seed: self.seed,
        }
    }
}

/// `escrow tradeoffs jurisdictions`: computes everything (refusing bad parameters before
/// writing anything), prints the table and writes the report.
fn jurisdictions(a: &JurisdictionsArgs) -> Result<(), CliError> {
    let report = JurisdictionsReport::new(&a.scenario()).map_err(escrow_tradeoffs::TradeoffError::from)?;
    let s = &report.scenario;
    for (j, (n, c)) in s.jurisdictions.iter().zip(report.users_per_jurisdiction.iter().zip(&report.crossing)) {
        let escrow = if j.escrows { "escrows" } else { "no escrow" };
        println!(
            "{}: {:.1}% of users ({n} simulated), {escrow}; {:.1}% of its users' messages cross a border",
            j.name,
            100.0 * j.share,
            100.0 * c
        );
    }
    println!(
        "{} users x {} contacts x {} messages = {} messages; cross-border share x = {}{}; seed {}.
",
        s.users,
        s.contacts,
        s.messages_per_contact,
        report.messages,
        s.cross_border,
        if s.cross_border == escrow_tradeoffs::DEFAULT_CROSS_BORDER { " (assumed)" } else { "" },
        s.seed
    );
    println!("Share of the victim's users' messages the opener opens alone:");
    print!("{}", report.text());
    println!();
    for path in report.write(&a.out)? {
        println!("wrote {}", path.display());
    }
    match report.disagreements() {
        0 => Ok(()),
        off => Err(CliError::Findings(format!("{off} rows: the simulation disagrees with the model"))),
    }
}

pub fn run(a: &TradeoffsArgs) -> Result<(), CliError> {
    if let Some(TradeoffsCmd::Jurisdictions(j)) = &a.command {
        return jurisdictions(j);
    }
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
