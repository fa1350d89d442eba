//! `escrow open`: the agency opens what a warrant covers.

use std::io::{IsTerminal, Write};
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
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "day_mode")]
    pub batch_size: Option<u32>,
    /// Open in the day mode: ask the trustees once for each day key a message needs
    /// (one per epoch, target and UTC day with in-scope traffic, `ExtractDayKeys`) and
    /// open every in-scope message of that day with it, instead of asking for a
    /// decryption share of every message. The epochs must be announced with the day
    /// mode, and the trustees' policies must allow day keys. A day key also opens the
    /// target's messages of that day outside the warrant's hours, wherever it goes.
    #[arg(long)]
    pub day_mode: bool,
    /// Wait for every trustee's answer to each share request, up to this many seconds
    /// each, and check every share, so that every trustee that sent a bad share is
    /// named. By default each request is opened with the first t + 1 valid shares and
    /// later answers are not examined.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub check_every_trustee: Option<u32>,
    /// The agency's escrow domain, in a deployment of several: the --trustee servers
    /// are that domain's, and each message is opened through that domain's field.
    #[arg(long, conflicts_with = "day_mode")]
    pub domain: Option<String>,
}

/// A trustee as the report names it: by id and address where both are known, by
/// address alone when it never answered (so its id is unknown).
#[derive(Debug, serde::Serialize)]
struct Trustee {
    /// Its id (its own word), if it ever answered.
    trustee: Option<String>,
    /// Where it was asked.
    addr: String,
}

impl Trustee {
    /// The report keys a trustee by its id if it answered, else by its address.
    fn of(agency: &escrow_agency::Agency, key: &str) -> Self {
        match agency.trustees().iter().find(|t| t.id == key) {
            Some(t) => Trustee { trustee: Some(t.id.clone()), addr: t.addr.clone() },
            None => Trustee { trustee: None, addr: key.to_string() },
        }
    }
}

/// How the summary names a trustee: always by both where both are known, escaped (the
/// id is the trustee's word).
impl std::fmt::Display for Trustee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.trustee {
            Some(id) => write!(f, "{} ({})", text(id), self.addr),
            None => write!(f, "at {} (never answered, so its id is unknown)", text(&self.addr)),
        }
    }
}

/// What `escrow open` found: the table and the summary's findings, or with `--json`
/// one object.
#[derive(Debug, serde::Serialize)]
struct Opened {
    /// `per-message` or `day`.
    mode: &'static str,
    /// Envelopes the relay exported as in scope.
    in_scope: usize,
    /// The messages opened (plaintexts in `out`).
    opened: OpenedList,
    /// The in-scope messages not opened, and why.
    not_opened: Vec<NotOpenedMessage>,
    /// Epoch keys refused under the pins that in-scope messages needed.
    refused_epochs: Vec<RefusedEpoch>,
    /// Share requests made to every trustee (one per batch of messages; none in the
    /// day mode).
    share_requests: usize,
    /// In the day mode: the day keys combined, and those that could not be.
    #[serde(skip_serializing_if = "Option::is_none")]
    day_keys: Option<DayKeys>,
    /// Trustees that refused at least once.
    refusing: Vec<Trustee>,
    /// Trustees that could only not be reached.
    unreachable: Vec<Trustee>,
    /// Trustees that held shares back until the approval is witnessed.
    not_yet_witnessed: Vec<Trustee>,
    /// Every distinct error per trustee.
    trustee_errors: Vec<TrusteeErrorLine>,
    /// Trustees whose shares some requests were opened without.
    not_needed: Vec<NotNeeded>,
    /// Trustees that sent invalid shares.
    culprits: Vec<Culprit>,
    /// Trustees whose shares were refused for want of a witnessed approval.
    unwitnessed: Vec<UnwitnessedTrustee>,
    /// Where the plaintexts and summary.txt are.
    out: String,
}

/// The day mode's keys.
#[derive(Debug, serde::Serialize)]
struct DayKeys {
    /// Day keys combined: one per epoch, target and UTC day with in-scope traffic.
    combined: usize,
    /// `ExtractDayKeys` requests made to every trustee.
    key_requests: usize,
    /// Day keys that could not be combined, and why (their messages are in
    /// `not_opened`).
    failed: Vec<DayKeyFailed>,
}

#[derive(Debug, serde::Serialize)]
struct DayKeyFailed {
    epoch: u64,
    party: String,
    /// Days since 1970-01-01 (UTC).
    day: u32,
    why: String,
}

/// What both modes' reports say alike.
struct Found<'a> {
    exported: usize,
    opened_count: usize,
    failed: &'a [(u64, NotOpened)],
    trustee_errors: &'a escrow_agency::TrusteeErrors,
    culprits: &'a std::collections::BTreeMap<String, usize>,
    unwitnessed: &'a std::collections::BTreeMap<String, escrow_agency::witnessed::Unwitnessed>,
}

impl<'a> From<&'a escrow_agency::OpenReport> for Found<'a> {
    fn from(r: &'a escrow_agency::OpenReport) -> Self {
        Found {
            exported: r.exported,
            opened_count: r.opened_count,
            failed: &r.failed,
            trustee_errors: &r.trustee_errors,
            culprits: &r.culprits,
            unwitnessed: &r.unwitnessed,
        }
    }
}

impl<'a> From<&'a escrow_agency::DayOpenReport> for Found<'a> {
    fn from(r: &'a escrow_agency::DayOpenReport) -> Self {
        Found {
            exported: r.exported,
            opened_count: r.opened_count,
            failed: &r.failed,
            trustee_errors: &r.trustee_errors,
            culprits: &r.culprits,
            unwitnessed: &r.unwitnessed,
        }
    }
}

/// Either mode's report.
enum Report {
    PerMessage(escrow_agency::OpenReport),
    Day(escrow_agency::DayOpenReport),
}

#[derive(Debug, serde::Serialize)]
struct OpenedList {
    count: usize,
    /// Each opened message's label, in relay order (only with `--json`).
    messages: Vec<OpenedLabel>,
}

/// An opened message's label.
#[derive(Debug, serde::Serialize)]
struct OpenedLabel {
    seq: u64,
    sender: String,
    recipients: Vec<String>,
    timestamp: u64,
}

impl OpenedLabel {
    fn of(m: &escrow_agency::OpenedMessage) -> Self {
        OpenedLabel {
            seq: m.seq,
            sender: m.label.sender().to_string(),
            recipients: m.label.recipients().iter().map(|r| r.to_string()).collect(),
            timestamp: m.label.timestamp(),
        }
    }
}

/// Its line of summary.txt.
impl std::fmt::Display for OpenedLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "opened #{} from {} to {} at {}", self.seq, self.sender, self.recipients.join(","), self.timestamp)
    }
}

#[derive(Debug, serde::Serialize)]
struct NotOpenedMessage {
    seq: u64,
    why: String,
}

#[derive(Debug, serde::Serialize)]
struct RefusedEpoch {
    epoch: u64,
    why: String,
    /// In-scope messages of that epoch not opened.
    not_opened: usize,
}

#[derive(Debug, serde::Serialize)]
struct TrusteeErrorLine {
    #[serde(flatten)]
    who: Trustee,
    /// unreachable, refused or not_yet_witnessed.
    failure: &'static str,
    /// The gRPC code.
    code: String,
    message: String,
    /// How many requests ended with this error.
    requests: usize,
}

#[derive(Debug, serde::Serialize)]
struct NotNeeded {
    #[serde(flatten)]
    who: Trustee,
    /// Of `share_requests`.
    requests: usize,
}

#[derive(Debug, serde::Serialize)]
struct Culprit {
    #[serde(flatten)]
    who: Trustee,
    invalid_shares: usize,
}

#[derive(Debug, serde::Serialize)]
struct UnwitnessedTrustee {
    #[serde(flatten)]
    who: Trustee,
    why: String,
}

fn failure_name(f: escrow_agency::TrusteeFailure) -> &'static str {
    use escrow_agency::TrusteeFailure as F;
    match f {
        F::Unreachable => "unreachable",
        F::Refused => "refused",
        F::NotYetWitnessed => "not_yet_witnessed",
    }
}

impl Opened {
    /// What the agency's report says, each trustee named by id and address; `opened`
    /// the labels of the messages opened, if they were kept.
    fn of(report: &Report, agency: &escrow_agency::Agency, opened: Vec<OpenedLabel>, out: &std::path::Path) -> Self {
        match report {
            Report::PerMessage(r) => Opened {
                share_requests: r.share_requests,
                not_needed: r
                    .not_needed
                    .iter()
                    .map(|(t, n)| NotNeeded { who: Trustee::of(agency, t), requests: *n })
                    .collect(),
                ..Opened::found(r.into(), "per-message", agency, opened, out)
            },
            Report::Day(r) => Opened {
                day_keys: Some(DayKeys {
                    combined: r.day_keys,
                    key_requests: r.key_requests,
                    failed: r
                        .day_keys_failed
                        .iter()
                        .map(|(id, why)| DayKeyFailed {
                            epoch: id.epoch().0,
                            party: id.party().to_string(),
                            day: id.day(),
                            why: why.to_string(),
                        })
                        .collect(),
                }),
                ..Opened::found(r.into(), "day", agency, opened, out)
            },
        }
    }

    /// What both modes report alike; nothing of either mode's own.
    fn found(
        report: Found<'_>,
        mode: &'static str,
        agency: &escrow_agency::Agency,
        opened: Vec<OpenedLabel>,
        out: &std::path::Path,
    ) -> Self {
        let who = |key: &str| Trustee::of(agency, key);
        let errors = report.trustee_errors;
        Opened {
            mode,
            day_keys: None,
            in_scope: report.exported,
            opened: OpenedList { count: report.opened_count, messages: opened },
            not_opened: report
                .failed
                .iter()
                .map(|(seq, why)| NotOpenedMessage { seq: *seq, why: why.to_string() })
                .collect(),
            refused_epochs: agency
                .unannounced
                .iter()
                .map(|(epoch, why)| RefusedEpoch {
                    epoch: epoch.0,
                    why: why.clone(),
                    not_opened: report.failed.iter().filter(|(_, f)| *f == NotOpened::NoEpochKey(*epoch)).count(),
                })
                .filter(|r| r.not_opened > 0)
                .collect(),
            share_requests: 0,
            refusing: errors.refusing().into_iter().map(who).collect(),
            unreachable: errors.unreachable().into_iter().map(who).collect(),
            not_yet_witnessed: errors.not_yet_witnessed().into_iter().map(who).collect(),
            trustee_errors: errors
                .iter()
                .flat_map(|(t, errors)| {
                    errors.iter().map(move |e| TrusteeErrorLine {
                        who: who(t),
                        failure: failure_name(e.failure),
                        code: format!("{:?}", e.code),
                        message: e.message.clone(),
                        requests: e.count,
                    })
                })
                .collect(),
            not_needed: Vec::new(),
            culprits: report.culprits.iter().map(|(t, n)| Culprit { who: who(t), invalid_shares: *n }).collect(),
            unwitnessed: report
                .unwitnessed
                .iter()
                .map(|(t, why)| UnwitnessedTrustee { who: who(t), why: why.to_string() })
                .collect(),
            out: out.display().to_string(),
        }
    }

    /// The summary's lines after the opened messages': one per message not opened and
    /// per trustee finding. Everything a trustee sent (ids, messages) is escaped.
    fn findings(&self) -> String {
        let mut tail = String::new();
        for m in &self.not_opened {
            tail.push_str(&format!("sealed #{}: {}\n", m.seq, text(&m.why)));
        }
        for k in self.day_keys.iter().flat_map(|d| &d.failed) {
            tail.push_str(&format!(
                "day key of {} for day {} of epoch {} not combined: {}\n",
                text(&k.party),
                escrow_audit::utc_date(&k.day),
                k.epoch,
                text(&k.why)
            ));
        }
        for e in &self.trustee_errors {
            let times = if e.requests > 1 { format!(" ({} requests)", e.requests) } else { String::new() };
            let failure = e.failure.replace('_', " ");
            tail.push_str(&format!("trustee {} {failure}: {}: {}{times}\n", e.who, e.code, text(&e.message)));
        }
        for t in &self.not_needed {
            tail.push_str(&format!(
                "trustee {} not needed in {} of {} share requests: the others' shares opened them first \
                 (its answer, if any, was not checked; --check-every-trustee checks every answer)\n",
                t.who, t.requests, self.share_requests,
            ));
        }
        for c in &self.culprits {
            tail.push_str(&format!("trustee {} sent {} invalid shares\n", c.who, c.invalid_shares));
        }
        for u in &self.unwitnessed {
            tail.push_str(&format!("trustee {}: shares refused, not witnessed: {}\n", u.who, text(&u.why)));
        }
        tail
    }

    /// The table of counts.
    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        let mut header = vec!["in scope (exported)", "opened", "not opened"];
        let mut row = vec![self.in_scope.to_string(), self.opened.count.to_string(), self.not_opened.len().to_string()];
        if let Some(d) = &self.day_keys {
            header.extend(["day keys combined", "day keys not combined", "day-key requests"]);
            row.extend([d.combined.to_string(), d.failed.len().to_string(), d.key_requests.to_string()]);
        }
        header.extend([
            "trustees refusing",
            "trustees unreachable",
            "trustees not yet witnessed",
            "trustees not needed",
            "culprit trustees",
            "unwitnessed trustees",
        ]);
        row.extend([
            self.refusing.len().to_string(),
            self.unreachable.len().to_string(),
            self.not_yet_witnessed.len().to_string(),
            self.not_needed.len().to_string(),
            self.culprits.len().to_string(),
            self.unwitnessed.len().to_string(),
        ]);
        t.set_header(header);
        t.add_row(row);
        t
    }
}

/// With `--json`, a share request answered: `{"progress": {"done", "exported",
/// "export_complete"}}`, a line on stderr.
#[derive(Debug, serde::Serialize)]
struct ProgressLine {
    progress: ProgressJson,
}

#[derive(Debug, serde::Serialize)]
struct ProgressJson {
    /// In-scope messages opened or tried so far.
    done: usize,
    /// In-scope messages exported so far.
    exported: usize,
    /// The export is complete (`exported` is the total).
    export_complete: bool,
}

pub async fn run(a: OpenArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let domain = a
        .domain
        .as_deref()
        .map(|d| escrow_crypto::Domain::new(d).map_err(|e| CliError::Usage(format!("--domain {d:?}: {e}"))))
        .transpose()?;
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
    if let Some(n) = a.batch_size {
        agency = agency.with_batch_size(n as usize);
    }
    if let Some(secs) = a.check_every_trustee {
        agency = agency.check_every_trustee(std::time::Duration::from_secs(secs.into()));
    }
    if let Some(d) = domain {
        agency = agency.for_domain(d);
    }
    // With --json a JSON line per share request; else on a terminal a bar, elsewhere
    // (a log, a script) a line of text per share request.
    let lines = !std::io::stderr().is_terminal();
    let bar = if ctx.json { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Each opened message is written as its batch finishes (the open holds only a few
    // batches), and its line appended to summary.txt.
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(&a.out, e))?;
    let summary_path = a.out.join("summary.txt");
    let mut summary =
        std::io::BufWriter::new(std::fs::File::create(&summary_path).map_err(|e| CliError::io(&summary_path, e))?);
    let out = a.out.clone();
    // With --json, every opened message's label is kept for the object (the labels only).
    let mut labels = Vec::new();
    let sink = |m: escrow_agency::OpenedMessage| {
        std::fs::write(out.join(format!("{:08}.txt", m.seq)), &m.plaintext)?;
        let label = OpenedLabel::of(&m);
        writeln!(summary, "{label}")?;
        if ctx.json {
            labels.push(label);
        }
        Ok(())
    };
    let progress = |p: escrow_agency::Progress| {
        if ctx.json {
            let line = ProgressJson { done: p.done, exported: p.exported, export_complete: p.export_complete };
            if let Ok(line) = crate::display::json(&ProgressLine { progress: line }) {
                eprintln!("{line}");
            }
        } else if lines {
            let total = if p.export_complete { p.exported.to_string() } else { format!("{}+", p.exported) };
            eprintln!("opened or tried {}/{total} in-scope messages", p.done);
        }
        bar.set_length(p.exported as u64);
        bar.set_position(p.done as u64);
    };
    let report = if a.day_mode {
        agency.open_days_into(&warrant, sink, progress).await.map(Report::Day)
    } else {
        agency.open_into(&warrant, sink, progress).await.map(Report::PerMessage)
    };
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        escrow_agency::AgencyError::Output(e) => CliError::io(&a.out, e),
        e => e.into(),
    })?;
    let opened = Opened::of(&report, &agency, labels, &a.out);
    // An epoch key refused under the pins matters only for the in-scope messages of
    // that epoch: one line per such epoch, none when no message needs it.
    for r in &opened.refused_epochs {
        eprintln!("refusing epoch {}: {} ({} in-scope messages of it not opened)", r.epoch, text(&r.why), r.not_opened);
    }
    let mut summary = summary.into_inner().map_err(|e| CliError::io(&summary_path, e.into_error()))?;
    let tail = opened.findings();
    summary.write_all(tail.as_bytes()).map_err(|e| CliError::io(&summary_path, e))?;
    if ctx.json {
        crate::display::print_json(&opened)?;
    } else {
        println!(
            "{}\n{tail}{} opened: plaintexts and summary.txt in {}",
            opened.table(),
            opened.opened.count,
            a.out.display()
        );
    }
    if opened.not_opened.is_empty() {
        Ok(())
    } else {
        Err(CliError::Findings(format!("{} in-scope messages could not be opened", opened.not_opened.len())))
    }
}
