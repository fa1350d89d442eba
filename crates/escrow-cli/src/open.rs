//! `escrow open`: the agency opens what a warrant covers.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};

use escrow_agency::NotOpened;

use crate::display::text;
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
    /// Weak mode: believe the dealt epoch key in this file (`escrow keygen`'s
    /// epoch-<n>.pub) without an announcement signed by its trustees; the trustees
    /// must serve exactly this key. Repeat for more epochs.
    #[arg(long = "epoch-key")]
    pub epoch_keys: Vec<PathBuf>,
    /// Most messages per share request (default: the smallest the trustees accept, at
    /// most 500). Smaller requests report progress more often.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Once every message of a request has t + 1 shares from the other trustees, wait
    /// at least this long for the rest (and as long again as the others took, if that
    /// is longer) before going on without them. If the shares in hand then fail to
    /// open a message, the trustees not waited for are asked again for it.
    #[arg(long, default_value_t = escrow_agency::STRAGGLER_GRACE.as_millis() as u64)]
    pub straggler_grace_ms: u64,
}

/// How the summary names a trustee the report keys by id (it answered) or by address
/// (it never did): always by both where both are known, escaped (the id is the
/// trustee's word).
fn trustee_names(agency: &escrow_agency::Agency) -> impl Fn(&str) -> String + '_ {
    move |key: &str| match agency.trustees().iter().find(|t| t.id == key) {
        Some(t) => format!("{} ({})", text(&t.id), t.addr),
        None => format!("at {} (never answered, so its id is unknown)", text(key)),
    }
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
    for path in &a.epoch_keys {
        let key = crate::files::read_hex_as(path, escrow_crypto::EpochPublicKey::from_bytes)?;
        agency.believe_unannounced(&key).map_err(|e| CliError::bad_file(path, e))?;
        eprintln!(
            "warning: weak mode: believing the epoch key in {} without an announcement signed by its trustees",
            path.display()
        );
    }
    if let Some(policy) = witness_policy {
        agency = agency.require_witnessed(policy);
    }
    agency = agency.with_straggler_grace(std::time::Duration::from_millis(a.straggler_grace_ms));
    if let Some(n) = a.batch_size {
        agency = agency.with_batch_size(n as usize);
    }
    // On a terminal a bar; elsewhere (a log, a script) a line per share request.
    let lines = !std::io::stderr().is_terminal();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = agency
        .open(&warrant, |done, total| {
            if lines {
                eprintln!("opened or tried {done}/{total} in-scope messages");
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    // An epoch key refused under the pins matters only for the in-scope messages of
    // that epoch: one line per such epoch, none when no message needs it.
    for (epoch, why) in &agency.unannounced {
        let needed = report.failed.iter().filter(|(_, f)| *f == NotOpened::NoEpochKey(*epoch)).count();
        if needed > 0 {
            eprintln!("refusing epoch {epoch}: {} ({needed} in-scope messages of it not opened)", text(why));
        }
    }
    let name = trustee_names(&agency);
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
    // Everything below names what trustees sent (ids, messages): escaped.
    for (seq, why) in &report.failed {
        summary.push_str(&format!("sealed #{seq}: {}\n", text(&why.to_string())));
    }
    for (t, errors) in report.trustee_errors.iter() {
        for e in errors {
            let times = if e.count > 1 { format!(" ({} requests)", e.count) } else { String::new() };
            summary.push_str(&format!(
                "trustee {} {}: {:?}: {}{times}\n",
                name(t),
                e.failure,
                e.code,
                text(&e.message)
            ));
        }
    }
    for (t, n) in &report.not_waited_for {
        summary.push_str(&format!(
            "trustee {} not waited for in {n} of {} share requests: the others' shares sufficed; it had not \
             answered {} ms later, and the requests after went on without waiting for it\n",
            name(t),
            report.share_requests,
            a.straggler_grace_ms
        ));
    }
    for (t, n) in &report.culprits {
        summary.push_str(&format!("trustee {} sent {n} invalid shares\n", name(t)));
    }
    for (t, why) in &report.unwitnessed {
        summary.push_str(&format!("trustee {}: shares refused, not witnessed: {}\n", name(t), text(&why.to_string())));
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
        "trustees not yet witnessed",
        "trustees not waited for",
        "culprit trustees",
        "unwitnessed trustees",
    ]);
    t.add_row(vec![
        report.exported.to_string(),
        report.opened.len().to_string(),
        report.failed.len().to_string(),
        report.trustee_errors.refusing().len().to_string(),
        report.trustee_errors.unreachable().len().to_string(),
        report.trustee_errors.not_yet_witnessed().len().to_string(),
        report.not_waited_for.len().to_string(),
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
