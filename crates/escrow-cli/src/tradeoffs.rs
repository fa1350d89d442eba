//! `escrow tradeoffs`: for n trustees and per-trustee compromise and outage
//! probabilities, the chance over t of unauthorized access and of failed lawful
//! access — exact, checked by Monte Carlo — as a table, a Markdown report and SVG plots.

use std::path::PathBuf;

use clap::Args;
use escrow_tradeoffs::{render_text, Params, Report};

use crate::CliError;

#[derive(Args, Debug)]
pub struct TradeoffsArgs {
    /// Number of trustees n.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub trustees: u16,
    /// Probability that one trustee's share is stolen or that it colludes (p).
    #[arg(long, short = 'p', default_value_t = 0.01)]
    pub compromise: f64,
    /// Probability that one trustee is unavailable when a warrant comes (q).
    #[arg(long, short = 'q', default_value_t = 0.05)]
    pub outage: f64,
    /// Monte Carlo trials per setting (0: exact only).
    #[arg(long, default_value_t = 100_000)]
    pub trials: u64,
    /// Seed of the Monte Carlo generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for tradeoffs.md, tradeoffs.json and the SVG plots.
    #[arg(long, default_value = "tradeoffs")]
    pub out: PathBuf,
}

pub fn run(a: &TradeoffsArgs) -> Result<(), CliError> {
    let params =
        Params { n: a.trustees, p_compromise: a.compromise, q_outage: a.outage, trials: a.trials, seed: a.seed };
    let report = Report::new(&params)?;
    println!(
        "n = {} trustees, each compromised with p = {}, unavailable with q = {}; {} Monte Carlo trials (seed {}).\n",
        params.n, params.p_compromise, params.q_outage, params.trials, params.seed
    );
    print!("{}", render_text(&report.rows));
    let disagree = report.rows.iter().filter(|r| r.monte_carlo_agrees() == Some(false)).count();
    for path in report.write(&a.out)? {
        println!("wrote {}", path.display());
    }
    if disagree > 0 {
        return Err(CliError::Findings(format!("{disagree} rows: Monte Carlo disagrees with the exact sums")));
    }
    Ok(())
}
