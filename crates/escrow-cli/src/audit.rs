//! `escrow audit ...`: verify every trustee's log, reconcile them, publish statistics.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use comfy_table::Table;
use escrow_audit::{Reconciliation, TrusteeAudit, VerifiedLog};
use escrow_crypto::CourtPublicKey;

use crate::display::text;
use crate::files::read_hex_as;
use crate::CliError;

/// Flags every audit command takes.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// A trustee's address (repeat for each trustee).
    #[arg(long = "trustee", required = true)]
    pub trustees: Vec<String>,
    /// Where the auditor pins each log's key and keeps the last checkpoint it saw.
    #[arg(long, default_value = ".escrow-audit")]
    pub state_dir: PathBuf,
    /// A trusted court's public key file (hex; repeat). With these, every opened
    /// sealed-details warrant is signature-checked and compared with the log.
    #[arg(long = "court-key")]
    pub court_keys: Vec<PathBuf>,
    /// The deployment's witness policy (C2SP tlog-policy): it pins every trustee's log
    /// key and names the witnesses, whose views of each log are compared with what the
    /// trustee shows (a split view is named).
    #[arg(long, conflicts_with = "trust_on_first_use")]
    pub witness_policy: Option<PathBuf>,
    /// Without a witness policy: pin each trustee's log key the first time it is seen.
    /// A first visit to a substituted log then goes unnoticed.
    #[arg(long)]
    pub trust_on_first_use: bool,
    /// Demo/test only: read "now" (which openings are due, which destructions are
    /// overdue) from this file instead of the system clock.
    #[arg(long, hide = true)]
    pub clock_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Verify each trustee's log: checkpoint signature (key pinned by the witness policy,
    /// or on first use), agreement with every witness's view,
    /// consistency with the last checkpoint seen, root recomputed from every entry,
    /// every entry decoded, sealed-details openings past their reveal time.
    Verify {
        #[command(flatten)]
        args: AuditArgs,
    },
    /// Verify, then reconcile the logs: approvals, quorums, releases, opened fields and
    /// day keys, and flags for releases without approval, after revocation/denial or
    /// expiry, to the wrong agency, day keys outside the warrant's window, and warrants
    /// missing from some logs.
    Reconcile {
        #[command(flatten)]
        args: AuditArgs,
        /// Threshold t: t+1 shares open a field.
        #[arg(long, default_value_t = 2)]
        threshold: usize,
    },
    /// Verify, reconcile, and write the public statistics (report.md, report.json).
    Report {
        #[command(flatten)]
        args: AuditArgs,
        /// Threshold t: t+1 shares open a field.
        #[arg(long, default_value_t = 2)]
        threshold: usize,
        /// Directory to write report.md and report.json into.
        #[arg(long)]
        out: PathBuf,
        /// Also write the public page (index.html: the flags first, each log's head
        /// and witnesses, the statistics with charts, the risk figures) into this
        /// directory, to publish without a server.
        #[arg(long, value_name = "DIR")]
        html: Option<PathBuf>,
    },
    /// Serve the public page over plain HTTP (`/`, and `/report.json`), auditing every
    /// log again every `--every` seconds: the flags first, each log's head and
    /// witnesses, statistics with charts, the deployment's risk figures.
    Serve {
        #[command(flatten)]
        args: AuditArgs,
        /// Threshold t: t+1 shares open a field.
        #[arg(long, default_value_t = 2)]
        threshold: usize,
        /// Address to serve the page on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// Write the bound address here once listening.
        #[arg(long)]
        addr_file: Option<PathBuf>,
        /// Seconds between audits (1 to 86,400).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        every: u64,
    },
}

fn court_keys(paths: &[PathBuf]) -> Result<Vec<CourtPublicKey>, CliError> {
    paths.iter().map(|p| read_hex_as(p, CourtPublicKey::from_bytes)).collect()
}

/// One trustee's log as `audit verify` found it: its lines of text, its element of
/// the JSON array.
#[derive(Debug, serde::Serialize)]
struct LogVerdict {
    /// The address asked.
    address: String,
    /// Whether its log verified.
    ok: bool,
    /// Its log origin, once known.
    origin: Option<String>,
    /// Its checkpoint size, once known.
    size: Option<u64>,
    /// The verified checkpoint's root (hex).
    root: Option<String>,
    /// Sealed-details openings of the verified log.
    openings: Option<Openings>,
    /// Each witness whose view of the log was compared, and the size it cosigned.
    witnessed: Vec<WitnessedAt>,
    /// Witnesses that could not be asked or served a view that does not verify.
    notes: Vec<String>,
    /// What broke, if the log did not verify.
    failure: Option<String>,
}

/// Openings checked and still sealed.
#[derive(Debug, serde::Serialize)]
struct Openings {
    checked: u64,
    sealed: u64,
}

/// A witness's view a log was found consistent with.
#[derive(Debug, serde::Serialize)]
struct WitnessedAt {
    witness: String,
    size: u64,
}

/// The whole of `escrow audit report --json`: every trustee's verdict, the report
/// (as report.json holds it), and the files written.
#[derive(Debug, serde::Serialize)]
struct ReportJson<'a> {
    trustees: &'a [LogVerdict],
    report: &'a escrow_audit::Report,
    written: Vec<String>,
}

/// The whole of `escrow audit verify --json`.
#[derive(Debug, serde::Serialize)]
struct Verified<'a> {
    trustees: &'a [LogVerdict],
}

impl LogVerdict {
    /// Its lines of text: the notes, then OK (and the witnesses' views) or FAIL.
    fn print(&self) {
        for note in &self.notes {
            println!("NOTE  {}: {}", self.address, text(note));
        }
        match (&self.failure, &self.openings) {
            (None, Some(o)) => {
                println!(
                    "OK    {} ({}): size {}, root {}…, {} openings checked, {} sealed",
                    text(self.origin.as_deref().unwrap_or_default()),
                    self.address,
                    self.size.unwrap_or_default(),
                    self.root.as_deref().and_then(|r| r.get(..16)).unwrap_or_default(),
                    o.checked,
                    o.sealed
                );
                if !self.witnessed.is_empty() {
                    let views: Vec<String> =
                        self.witnessed.iter().map(|w| format!("{} at size {}", w.witness, w.size)).collect();
                    println!("      consistent with the witnesses' views: {}", views.join(", "));
                }
            }
            (failure, _) => println!("FAIL  {}", text(failure.as_deref().unwrap_or_default())),
        }
    }
}

/// Every trustee's log as the page shows it.
fn statuses(verdicts: &[LogVerdict], logs: &[VerifiedLog]) -> Vec<escrow_audit::page::LogStatus> {
    verdicts
        .iter()
        .map(|v| escrow_audit::page::LogStatus {
            address: v.address.clone(),
            origin: v.origin.clone(),
            head: v
                .origin
                .as_deref()
                .filter(|_| v.ok)
                .and_then(|o| logs.iter().find(|l| l.origin() == o))
                .map(escrow_audit::LogHead::of),
            witnessed: v.witnessed.iter().map(|w| (w.witness.clone(), w.size)).collect(),
            failure: v.failure.clone(),
        })
        .collect()
}

/// The risk calculator's figures for `n` trustees and threshold `t`, at its default
/// chances (1% compromised an epoch, 5% unavailable).
fn risk(n: usize, t: usize) -> Option<escrow_audit::page::RiskFigures> {
    let (n, t) = (u16::try_from(n).ok()?, u16::try_from(t).ok()?);
    let (p, q) = (0.01, 0.05);
    let r = escrow_tradeoffs::exact(n, t, p, q).ok()?;
    Some(escrow_audit::page::RiskFigures { n, t, p, q, unauthorized: r.unauthorized, fails: r.fails })
}

/// Verifies every trustee, prints one line each (or, with `--json`, one object for
/// them all), and splits the verified logs from the number of failures.
async fn verify_all(args: &AuditArgs, ctx: &crate::Ctx) -> Result<(Vec<VerifiedLog>, usize), CliError> {
    verify_all_verdicts(args, ctx, true).await.map(|(logs, verdicts)| {
        let failed = verdicts.iter().filter(|v| !v.ok).count();
        (logs, failed)
    })
}

/// [`verify_all`], keeping each trustee's verdict; with `--json`, the verdicts are
/// printed as one object only if `json_alone` (else the caller prints them in its own).
async fn verify_all_verdicts(
    args: &AuditArgs,
    ctx: &crate::Ctx,
    json_alone: bool,
) -> Result<(Vec<VerifiedLog>, Vec<LogVerdict>), CliError> {
    let (logs, verdicts) = Auditor::new(args, ctx)?.verdicts(&args.trustees).await;
    for v in verdicts.iter().filter(|_| !ctx.json) {
        v.print();
    }
    if ctx.json && json_alone {
        crate::display::print_json(&Verified { trustees: &verdicts })?;
    }
    Ok((logs, verdicts))
}

/// What every audit needs, read and checked before the first fetch: the trusted
/// courts' keys, this auditor's credentials, how log keys are pinned, where the pins
/// are kept, and the clock.
pub(crate) struct Auditor {
    courts: Vec<CourtPublicKey>,
    creds: escrow_service::transport::Credentials,
    trust: escrow_audit::Trust,
    state_dir: PathBuf,
    clock: std::sync::Arc<dyn escrow_service::clock::Clock>,
}

impl Auditor {
    pub(crate) fn new(args: &AuditArgs, ctx: &crate::Ctx) -> Result<Self, CliError> {
        let courts = court_keys(&args.court_keys)?;
        let creds = ctx.credentials()?;
        let trust = match (&args.witness_policy, args.trust_on_first_use) {
            (Some(path), _) => {
                let policy = crate::files::read_witness_policy(path)?;
                let trust = escrow_audit::PolicyTrust::new(policy, Some(creds.trust()))
                    .map_err(|e| CliError::bad_file(path, e))?;
                escrow_audit::Trust::Policy(std::sync::Arc::new(trust))
            }
            (None, true) => escrow_audit::Trust::FirstUse,
            (None, false) => {
                return Err(CliError::Usage(
                    "give --witness-policy (the deployment's policy pins every log key) or, knowingly, \
                     --trust-on-first-use"
                        .into(),
                ))
            }
        };
        let clock = escrow_service::clock::from_option(args.clock_file.clone());
        Ok(Auditor { courts, creds, trust, state_dir: args.state_dir.clone(), clock })
    }

    /// Fetches and verifies every trustee's log: the verified logs, and a verdict per
    /// trustee in the order given.
    async fn verdicts(&self, trustees: &[String]) -> (Vec<VerifiedLog>, Vec<LogVerdict>) {
        let now = self.clock.now();
        let audits =
            escrow_audit::verify_with(trustees, &self.creds, &self.state_dir, now, &self.courts, &self.trust).await;
        let mut logs = Vec::new();
        let mut verdicts = Vec::new();
        for TrusteeAudit { addr, origin, size, result, witnessed, witness_notes } in audits {
            let witnessed = witnessed.into_iter().map(|(witness, size)| WitnessedAt { witness, size }).collect();
            let notes = witness_notes.iter().map(ToString::to_string).collect();
            let verdict = match result {
                Ok(log) => {
                    let o = log.openings();
                    let verdict = LogVerdict {
                        address: addr,
                        ok: true,
                        origin: Some(log.origin().to_string()),
                        size: Some(log.checkpoint().size()),
                        root: Some(hex::encode(log.checkpoint().root())),
                        openings: Some(Openings { checked: o.checked, sealed: o.sealed }),
                        witnessed,
                        notes,
                        failure: None,
                    };
                    logs.push(log);
                    verdict
                }
                Err(e) => LogVerdict {
                    address: addr,
                    ok: false,
                    origin,
                    size,
                    root: None,
                    openings: None,
                    witnessed,
                    notes,
                    failure: Some(e.to_string()),
                },
            };
            verdicts.push(verdict);
        }
        (logs, verdicts)
    }

    /// One whole audit: verify, reconcile (at t = `threshold`), report.
    pub(crate) async fn audit(&self, trustees: &[String], threshold: usize) -> Audited {
        let (logs, verdicts) = self.verdicts(trustees).await;
        let checked_at = self.clock.now();
        let rec = escrow_audit::reconcile_at(&logs, threshold, checked_at);
        let report = escrow_audit::report(&logs, &rec);
        Audited::new(&logs, &verdicts, report, checked_at, trustees.len(), threshold)
    }
}

/// One audit's findings, as the page and report.json show them.
pub(crate) struct Audited {
    pub(crate) statuses: Vec<escrow_audit::page::LogStatus>,
    pub(crate) report: escrow_audit::Report,
    timelines: Vec<escrow_audit::history::Timeline>,
    epochs: std::collections::BTreeMap<u64, Vec<escrow_audit::history::EpochShare>>,
    pub(crate) checked_at: u64,
    pub(crate) trustees: usize,
    pub(crate) threshold: usize,
    /// Logs that verified.
    pub(crate) logs: usize,
}

impl Audited {
    fn new(
        logs: &[VerifiedLog],
        verdicts: &[LogVerdict],
        report: escrow_audit::Report,
        checked_at: u64,
        trustees: usize,
        threshold: usize,
    ) -> Self {
        Audited {
            statuses: statuses(verdicts, logs),
            report,
            timelines: escrow_audit::history::timelines(logs, checked_at),
            epochs: escrow_audit::history::epochs(logs, checked_at),
            checked_at,
            trustees,
            threshold,
            logs: logs.len(),
        }
    }

    /// The public page.
    pub(crate) fn page(&self) -> String {
        escrow_audit::page::render(&escrow_audit::page::Page {
            checked_at: self.checked_at,
            logs: &self.statuses,
            report: &self.report,
            timelines: &self.timelines,
            epochs: &self.epochs,
            risk: risk(self.trustees, self.threshold),
        })
    }

    /// report.json.
    pub(crate) fn report_json(&self) -> Result<String, serde_json::Error> {
        self.report.to_json()
    }

    /// Logs that did not verify, and reconciliation flags.
    pub(crate) fn flag_count(&self) -> usize {
        self.statuses.iter().filter(|s| s.failure.is_some()).count() + self.report.flags.len()
    }
}

/// "Now" for reconciling: the system clock, or `--clock-file`'s, as verification reads it.
fn audit_now(args: &AuditArgs) -> u64 {
    escrow_service::clock::from_option(args.clock_file.clone()).now()
}

fn failed_error(failed: usize, total: usize) -> CliError {
    CliError::Findings(format!("{failed} of {total} trustee logs failed verification"))
}

fn warrants_table(rec: &Reconciliation) -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "warrant",
        "court",
        "agency",
        "received by",
        "approvals",
        "denials",
        "revocations",
        "quorum",
        "fields released (per trustee)",
        "fields opened",
        "day keys released (per trustee)",
        "day keys opened",
    ]);
    for w in rec.warrants.values() {
        let released =
            w.released.iter().map(|(o, f)| format!("{}: {}", text(o), f.len())).collect::<Vec<_>>().join("\n");
        let days =
            w.days_released.iter().map(|(o, d)| format!("{}: {}", text(o), d.len())).collect::<Vec<_>>().join("\n");
        t.add_row(vec![
            hex::encode(w.id),
            text(&w.court).into_owned(),
            text(&w.agency).into_owned(),
            w.received_by.len().to_string(),
            w.approvals.len().to_string(),
            w.denials.len().to_string(),
            w.revocations.len().to_string(),
            if w.reached_quorum { "yes" } else { "no" }.to_string(),
            released,
            w.opened.len().to_string(),
            days,
            w.days_opened.len().to_string(),
        ]);
    }
    t
}

/// One line of totals over the report's warrants (fields and day keys are counted per
/// warrant, as in the report's per-warrant table).
fn report_summary(r: &escrow_audit::Report) -> String {
    let sum = |f: fn(&escrow_audit::Row) -> u64| r.per_warrant.iter().map(|w| f(&w.counts)).sum::<u64>();
    format!(
        "{} warrants: {} fields released, {} messages opened; {} day keys released, {} day keys opened; {} flags",
        r.per_warrant.len(),
        sum(|c| c.fields_released),
        sum(|c| c.messages_opened),
        sum(|c| c.day_keys_released),
        sum(|c| c.day_keys_opened),
        r.flags.len()
    )
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::io(path, e))
}

pub async fn run(cmd: AuditCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Verify { args } => {
            let (_, failed) = verify_all(&args, ctx).await?;
            if failed > 0 {
                return Err(failed_error(failed, args.trustees.len()));
            }
        }
        AuditCmd::Reconcile { args, threshold } => {
            let (logs, failed) = verify_all(&args, ctx).await?;
            let rec = escrow_audit::reconcile_at(&logs, threshold, audit_now(&args));
            println!("{}", warrants_table(&rec));
            if rec.flags.is_empty() {
                println!("no flags");
            }
            for f in &rec.flags {
                println!("FLAG  {}", text(&f.to_string()));
            }
            if failed > 0 {
                return Err(failed_error(failed, args.trustees.len()));
            }
            if !rec.flags.is_empty() {
                return Err(CliError::Findings(format!("{} flags raised", rec.flags.len())));
            }
        }
        AuditCmd::Serve { args, threshold, listen, addr_file, every } => {
            crate::audit_serve::run(args, threshold, &listen, addr_file, every, ctx).await?;
        }
        AuditCmd::Report { args, threshold, out, html } => {
            let (logs, verdicts) = verify_all_verdicts(&args, ctx, false).await?;
            let failed = verdicts.iter().filter(|v| !v.ok).count();
            let now = audit_now(&args);
            let rec = escrow_audit::reconcile_at(&logs, threshold, now);
            let report = escrow_audit::report(&logs, &rec);
            if let Some(dir) = &html {
                let audited = Audited::new(&logs, &verdicts, report.clone(), now, args.trustees.len(), threshold);
                std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
                let index = dir.join("index.html");
                write(&index, &audited.page())?;
                if !ctx.json {
                    println!("public page written to {}", index.display());
                }
            }
            std::fs::create_dir_all(&out).map_err(|e| CliError::io(&out, e))?;
            let json = report.to_json().map_err(|e| CliError::Findings(format!("report: {e}")))?;
            let (md_path, json_path) = (out.join("report.md"), out.join("report.json"));
            write(&md_path, &report.to_markdown())?;
            write(&json_path, &json)?;
            if ctx.json {
                crate::display::print_json(&ReportJson {
                    trustees: &verdicts,
                    report: &report,
                    written: vec![md_path.display().to_string(), json_path.display().to_string()]
                        .into_iter()
                        .chain(html.iter().map(|d| d.join("index.html").display().to_string()))
                        .collect(),
                })?;
            } else {
                println!("{}", report_summary(&report));
                println!(
                    "report over {} verified logs written to {} and {}",
                    logs.len(),
                    md_path.display(),
                    json_path.display()
                );
            }
            if failed > 0 {
                return Err(failed_error(failed, args.trustees.len()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use escrow_audit::{Report, Row, WarrantRow, WarrantSummary};
    use escrow_log::event::DayRelease;

    use super::*;

    #[test]
    fn the_warrants_table_counts_day_keys_per_trustee_and_escapes_names() {
        let key = |p: u8| DayRelease { epoch: 1, day: 20_454, party: [p; 32] };
        let w = WarrantSummary {
            id: [1; 16],
            days_released: BTreeMap::from([
                ("t-0\u{1b}[2J".to_string(), BTreeSet::from([key(1), key(2)])),
                ("t-1".to_string(), BTreeSet::from([key(1)])),
            ]),
            days_opened: BTreeMap::from([(key(1), 9)]),
            ..WarrantSummary::default()
        };
        let rec = Reconciliation { threshold: 1, warrants: BTreeMap::from([([1; 16], w)]), flags: Vec::new() };
        let table = warrants_table(&rec).to_string();
        assert!(table.contains("day keys released") && table.contains("day keys opened"), "{table}");
        assert!(table.contains("t-0\\u{1b}[2J: 2") && table.contains("t-1: 1"), "{table}");
        assert!(!table.contains('\u{1b}'), "{table}");
    }

    #[test]
    fn the_report_line_sums_fields_and_day_keys_over_warrants() {
        let row = |released, opened| WarrantRow {
            court: "c".into(),
            agency: "a".into(),
            trustees: 3,
            reached_quorum: true,
            counts: Row {
                fields_released: 4,
                messages_opened: 2,
                day_keys_released: released,
                day_keys_opened: opened,
                ..Row::default()
            },
        };
        let report = Report {
            threshold: 1,
            logs: Vec::new(),
            per_warrant: vec![row(3, 1), row(5, 0)],
            per_agency: Vec::new(),
            per_court: Vec::new(),
            per_trustee: Vec::new(),
            per_month: Vec::new(),
            flags: vec!["x".into()],
        };
        assert_eq!(
            report_summary(&report),
            "2 warrants: 8 fields released, 4 messages opened; 8 day keys released, 1 day keys opened; 1 flags"
        );
    }
}
