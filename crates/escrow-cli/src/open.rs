//! `escrow open`: the agency opens what a warrant covers.

use std::path::PathBuf;

use clap::Args;
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};

use crate::files::read_hex;
use crate::CliError;

#[derive(Args, Debug)]
pub struct OpenArgs {
    #[arg(long)]
    pub relay: String,
    #[arg(long = "trustee", required = true)]
    pub trustees: Vec<String>,
    /// Warrant file (hex).
    #[arg(long)]
    pub warrant: PathBuf,
    /// Directory for the plaintexts and summary.txt.
    #[arg(long)]
    pub out: PathBuf,
    /// The deployment's witness policy (C2SP tlog-policy): use a trustee's shares only
    /// with proof that the warrant's approval is in a checkpoint its witnesses cosigned.
    #[arg(long)]
    pub witness_policy: Option<PathBuf>,
}

pub async fn run(a: OpenArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let warrant = read_hex(&a.warrant)?;
    let pins = ctx.tls.pins()?;
    let witness_policy = match &a.witness_policy {
        Some(path) => Some(crate::files::read_witness_policy(path)?),
        None => None,
    };
    let mut agency =
        escrow_agency::Agency::connect_with(&a.relay, &a.trustees, &ctx.credentials()?, pins.as_ref()).await?;
    if let Some(policy) = witness_policy {
        agency = agency.require_witnessed(policy);
    }
    for (epoch, why) in &agency.unannounced {
        eprintln!("refusing epoch {epoch}: {why}");
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = agency
        .open(&warrant, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(&a.out, e))?;
    let mut summary = String::new();
    for m in &report.opened {
        let p = a.out.join(format!("{:08}.txt", m.seq));
        std::fs::write(&p, &m.plaintext).map_err(|e| CliError::io(&p, e))?;
        summary.push_str(&format!(
            "opened #{} from {} to {} at {}\n",
            m.seq,
            m.label.sender(),
            m.label.recipients().iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","),
            m.label.timestamp()
        ));
    }
    for (seq, why) in &report.failed {
        summary.push_str(&format!("sealed #{seq}: {why}\n"));
    }
    for (t, errors) in report.trustee_errors.iter() {
        for e in errors {
            let times = if e.count > 1 { format!(" ({} requests)", e.count) } else { String::new() };
            summary.push_str(&format!("trustee {t} {}: {:?}: {}{times}\n", e.failure, e.code, e.message));
        }
    }
    for (t, n) in &report.culprits {
        summary.push_str(&format!("trustee {t} sent {n} invalid shares\n"));
    }
    for (t, why) in &report.unwitnessed {
        summary.push_str(&format!("trustee {t}: shares refused, not witnessed: {why}\n"));
    }
    let p = a.out.join("summary.txt");
    std::fs::write(&p, &summary).map_err(|e| CliError::io(&p, e))?;
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "in scope (exported)",
        "opened",
        "not opened",
        "trustees refusing",
        "trustees unreachable",
        "culprit trustees",
        "unwitnessed trustees",
    ]);
    t.add_row(vec![
        report.exported.to_string(),
        report.opened.len().to_string(),
        report.failed.len().to_string(),
        report.trustee_errors.refusing().len().to_string(),
        report.trustee_errors.unreachable().len().to_string(),
        report.culprits.len().to_string(),
        report.unwitnessed.len().to_string(),
    ]);
    println!("{t}\n{summary}plaintexts in {}", a.out.display());
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Findings(format!("{} in-scope messages could not be opened", report.failed.len())))
    }
}
