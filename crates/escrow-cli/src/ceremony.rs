//! `escrow dkg ...`, `escrow reshare` (a trustee's operator drives a key ceremony) and
//! `escrow epoch ...` (anyone reads and checks an epoch announcement).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use escrow_crypto::{Announcement, PartyId, SignedAnnouncement};
use escrow_proto::v1 as pb;

use crate::display::text;
use crate::{survey, CliError};

/// A participant as `trustee-3=host:port`.
fn participant(s: &str) -> Result<pb::Participant, String> {
    let (id, addr) = s.split_once('=').ok_or("expected TRUSTEE=HOST:PORT")?;
    PartyId::new(id).map_err(|e| e.to_string())?;
    Ok(pb::Participant { trustee_id: id.into(), addr: addr.into() })
}

/// Flags of a proposal.
#[derive(Args, Debug, Clone)]
pub struct ProposeArgs {
    /// This operator's trustee (host:port).
    #[arg(long)]
    pub trustee: String,
    /// The epoch.
    #[arg(long)]
    pub epoch: u64,
    /// Threshold t of the new key set: t+1 trustees open a field.
    #[arg(long)]
    pub threshold: u32,
    /// A new holder, TRUSTEE=HOST:PORT, in index order (repeat).
    #[arg(long = "player", required = true, value_parser = participant)]
    pub players: Vec<pb::Participant>,
    /// Unix seconds from which senders may use the key (default: now).
    #[arg(long)]
    pub valid_from: Option<u64>,
    /// Unix seconds at which every holder destroys its share.
    #[arg(long)]
    pub destroy_at: u64,
    /// Longest wait for every operator to accept and this one to execute, seconds.
    #[arg(long, default_value_t = 600)]
    pub accept_timeout_secs: u32,
    /// Longest wait in each automatic phase, milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub phase_timeout_ms: u32,
    /// The key set supports the day mode too: its announcement says so, senders add a
    /// day field per party, and trustees whose policy allows it extract day keys.
    #[arg(long)]
    pub day_mode: bool,
}

/// A ceremony named on the command line.
#[derive(Args, Debug, Clone)]
pub struct RefArgs {
    /// This operator's trustee (host:port).
    #[arg(long)]
    pub trustee: String,
    /// The ceremony id (hex; default: the latest at that trustee).
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DkgCmd {
    /// Propose a key ceremony for a fresh epoch key among the named trustees.
    Propose {
        #[command(flatten)]
        args: ProposeArgs,
    },
    /// Accept the ceremony proposed to this trustee.
    Accept {
        #[command(flatten)]
        r: RefArgs,
    },
    /// Reject it (the ceremony ends everywhere).
    Reject {
        #[command(flatten)]
        r: RefArgs,
        /// Why (recorded in every participant's log).
        #[arg(long)]
        reason: String,
    },
    /// Start it once every participant accepted (the proposer's operator).
    Execute {
        #[command(flatten)]
        r: RefArgs,
        /// Wait until the ceremony ended here, then ask every participant how it ended
        /// there (for up to --peer-wait-secs), and exit non-zero unless every one
        /// installed the same announcement.
        #[arg(long)]
        wait: bool,
        /// With --wait: how long to wait for the other participants to finish.
        #[arg(long, default_value_t = 60)]
        peer_wait_secs: u64,
    },
    /// Abort it (the ceremony ends everywhere).
    Abort {
        #[command(flatten)]
        r: RefArgs,
        /// Why.
        #[arg(long, default_value = "aborted by the operator")]
        reason: String,
    },
    /// Where the ceremony stands at this trustee, with every step it logged.
    Status {
        #[command(flatten)]
        r: RefArgs,
        /// Also ask every participant (at the addresses this trustee uses) and say who
        /// is behind and what to run; exits non-zero on a split install.
        #[arg(long)]
        all: bool,
    },
    /// Benchmark: for each n, start n trustee processes on loopback (mutual TLS) and
    /// time a key ceremony among them (t = (n-1)/2), with each trustee's CPU time.
    Bench {
        /// Trustee counts (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = vec![5u16, 15, 25])]
        sizes: Vec<u16>,
        /// Also write the table as Markdown to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `escrow reshare`: move an epoch's key set (same public key) to new holders or a new
/// threshold, or refresh every share among the same holders.
#[derive(Args, Debug)]
pub struct ReshareArgs {
    #[command(flatten)]
    pub args: ProposeArgs,
    /// An old holder that deals, TRUSTEE=HOST:PORT (repeat; default: every old holder,
    /// addressed as its --player entry).
    #[arg(long = "dealer", value_parser = participant)]
    pub dealers: Vec<pb::Participant>,
}

#[derive(Subcommand, Debug)]
pub enum EpochCmd {
    /// Fetch an epoch's signed announcement from a trustee into a file.
    Fetch {
        /// A trustee (host:port).
        #[arg(long)]
        trustee: String,
        /// The epoch (0: the newest).
        #[arg(long, default_value_t = 0)]
        epoch: u64,
        /// Where to write it (hex).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print what an announcement says (nothing checked).
    Show {
        /// The announcement file (hex).
        file: PathBuf,
    },
    /// Check that every holder signed it under the pinned keys and, with --holder,
    /// that every holder installed it (serves this announcement for the epoch); exits
    /// non-zero if not.
    Verify {
        /// The announcement file (hex).
        file: PathBuf,
        /// Also write the announced key set here (hex), for `--epoch-key` flags.
        #[arg(long)]
        key_out: Option<PathBuf>,
        /// A holder's trustee, TRUSTEE=HOST:PORT (repeat, once per holder): each must
        /// serve this same announcement, else the install was split. Signatures alone
        /// cannot show that a holder installed what it signed.
        #[arg(long = "holder", value_parser = participant)]
        holders: Vec<pb::Participant>,
    },
}

fn client(
    trustee: &str,
    ctx: &crate::Ctx,
) -> Result<pb::ceremony_client::CeremonyClient<tonic::transport::Channel>, CliError> {
    Ok(escrow_service::transport::ceremony_client(trustee, &ctx.credentials()?)?)
}

fn ceremony_ref(id: &Option<String>, reason: &str) -> Result<pb::CeremonyRef, CliError> {
    let ceremony_id = match id {
        None => Vec::new(),
        Some(h) => {
            let b = hex::decode(h).map_err(|e| CliError::Usage(format!("--id: {e}")))?;
            if b.len() != 16 {
                return Err(CliError::Usage("--id: 32 hex digits".into()));
            }
            b
        }
    };
    Ok(pb::CeremonyRef { ceremony_id, reason: reason.into() })
}

/// A trustee's report on a ceremony (`pb::CeremonyStatus`), as `dkg status` shows it:
/// its lines of text, or with `--json` its object. Every string in it is the
/// trustee's.
#[derive(Debug, serde::Serialize)]
struct Ceremony {
    /// The ceremony id (hex).
    ceremony_id: String,
    /// The trustee that answered.
    trustee: String,
    epoch: u64,
    /// fresh or reshare.
    plan: String,
    /// proposed, accepting, ready, dealing, complaining, justifying, agreeing,
    /// installed or aborted.
    phase: String,
    proposer: String,
    participants: Vec<String>,
    /// Where the answering trustee reaches each participant.
    peers: Vec<Peer>,
    /// Every step the trustee logged for the ceremony, in order.
    steps: Vec<String>,
    /// Aborted: why.
    abort_reason: Option<String>,
    /// Installed: the signed announcement (hex).
    announcement: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct Peer {
    trustee: String,
    addr: String,
}

impl Ceremony {
    fn of(s: &pb::CeremonyStatus) -> Self {
        Ceremony {
            ceremony_id: hex::encode(&s.ceremony_id),
            trustee: s.trustee_id.clone(),
            epoch: s.epoch,
            plan: s.plan.clone(),
            phase: s.phase.clone(),
            proposer: s.proposer.clone(),
            participants: s.participants.clone(),
            peers: s.peers.iter().map(|p| Peer { trustee: p.trustee_id.clone(), addr: p.addr.clone() }).collect(),
            steps: s.steps.clone(),
            abort_reason: (!s.abort_reason.is_empty()).then(|| s.abort_reason.clone()),
            announcement: (!s.announcement.is_empty()).then(|| hex::encode(&s.announcement)),
        }
    }

    /// Its lines of text, every string of the trustee's escaped.
    fn print(&self) {
        println!("ceremony {} ({}, epoch {}): {}", self.ceremony_id, text(&self.plan), self.epoch, text(&self.phase));
        println!("proposed by {}; participants: {}", text(&self.proposer), text(&self.participants.join(", ")));
        for step in &self.steps {
            println!("  - {}", text(step));
        }
        if let Some(why) = &self.abort_reason {
            println!("aborted: {}", text(why));
        }
        if let Some(a) = &self.announcement {
            println!("announcement: {a}");
        }
    }
}

/// A trustee's report on a ceremony: text, or with `json` one JSON object.
fn print_status(s: &pb::CeremonyStatus, json: bool) -> Result<(), CliError> {
    let c = Ceremony::of(s);
    if json {
        return crate::display::print_json(&c);
    }
    c.print();
    Ok(())
}

/// `dkg status --all` and `dkg execute --wait` with `--json`: the ceremony as the
/// trustee asked first reports it, where every participant stands, and the verdict.
#[derive(Debug, serde::Serialize)]
struct Surveyed {
    #[serde(flatten)]
    ceremony: Ceremony,
    /// Where each participant stands (the ceremony's `participants` are its ids).
    standings: Vec<survey::Standing>,
    verdict: survey::VerdictJson,
    /// The verdict is a split install.
    split: bool,
}

/// Prints the ceremony at this trustee (`local`), every participant's standing and
/// the verdict: text, or with `json` one JSON object.
fn print_survey(
    local: &pb::CeremonyStatus,
    reports: &[survey::Report],
    verdict: &survey::Verdict,
    json: bool,
) -> Result<(), CliError> {
    if json {
        return crate::display::print_json(&Surveyed {
            ceremony: Ceremony::of(local),
            standings: survey::standings(reports),
            verdict: survey::VerdictJson::of(verdict),
            split: matches!(verdict, survey::Verdict::Split { .. }),
        });
    }
    Ceremony::of(local).print();
    println!("at every participant:");
    for line in survey::lines(reports, verdict) {
        println!("{line}");
    }
    Ok(())
}

fn request(a: &ProposeArgs, reshare: bool, dealers: Vec<pb::Participant>) -> pb::ProposeRequest {
    pb::ProposeRequest {
        epoch: a.epoch,
        threshold: a.threshold,
        players: a.players.clone(),
        dealers,
        reshare,
        valid_from: a.valid_from.unwrap_or_else(crate::now),
        destroy_at: a.destroy_at,
        accept_timeout_ms: a.accept_timeout_secs.saturating_mul(1000),
        phase_timeout_ms: a.phase_timeout_ms,
        day_mode: a.day_mode,
    }
}

/// CPU seconds (user + system) process `pid` has used, from `/proc/<pid>/stat` (Linux;
/// `None` elsewhere). The kernel reports it in USER_HZ = 100 ticks per second.
fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing ')'.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn bench(sizes: &[u16], out: Option<&std::path::Path>) -> Result<(), CliError> {
    let exe = std::env::current_exe().map_err(|e| CliError::Findings(e.to_string()))?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(vec!["n", "t", "ceremony wall time (s)", "CPU per trustee, mean (s)", "max (s)", "result"]);
    let mut md = String::from("| n | t | wall time (s) | CPU per trustee, mean (s) | max (s) | result |\n| --: | --: | --: | --: | --: | --- |\n");
    for &n in sizes {
        if !(2..=64).contains(&n) {
            return Err(CliError::Usage(format!("--sizes: {n} is not between 2 and 64")));
        }
        let t = (n - 1) / 2;
        let mut pass = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut pass);
        let options = escrow_kit::Options {
            name: format!("dkg-bench-{n}"),
            n,
            t,
            seed: None,
            users: vec!["alice".into()],
            launch: escrow_kit::Launch::Processes { exe: exe.clone(), passphrase: hex::encode(pass) },
            keygen: escrow_kit::KeyGen::Ceremony,
            ceremony_phase_ms: 10_000,
            ..escrow_kit::Options::default()
        };
        eprintln!("n = {n}: starting {n} trustee processes and their first ceremony...");
        let d = escrow_kit::Deployment::start(options).await?;
        let pids: Vec<u32> = d.trustees.iter().filter_map(|x| x.server.pid()).collect();
        let before: Vec<f64> = pids.iter().map(|p| cpu_secs(*p).unwrap_or(0.0)).collect();
        let spec = escrow_kit::CeremonySpec {
            epoch: escrow_crypto::EpochId(2),
            threshold: t,
            players: (0..usize::from(n)).collect(),
            dealers: Vec::new(),
            reshare: false,
            proposer: 0,
            valid_from: d.clock.now(),
            destroy_at: d.clock.now() + 86_400,
            phase_ms: 10_000,
            modes: escrow_crypto::Modes::PER_MESSAGE,
        };
        // Timed from the proposal to the last trustee's installation (the operators'
        // accepts and the execute are immediate here).
        let started = std::time::Instant::now();
        let outcome = d.ceremony(&spec).await?;
        let wall = started.elapsed().as_secs_f64();
        let cpu: Vec<f64> = pids.iter().zip(&before).map(|(p, b)| cpu_secs(*p).map_or(0.0, |a| a - b)).collect();
        let mean = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
        let max = cpu.iter().copied().fold(0.0, f64::max);
        let result = if outcome.announcement.is_some() { "installed everywhere".to_string() } else { "FAILED".into() };
        table.add_row(vec![
            n.to_string(),
            t.to_string(),
            format!("{wall:.2}"),
            format!("{mean:.2}"),
            format!("{max:.2}"),
            result.clone(),
        ]);
        md.push_str(&format!("| {n} | {t} | {wall:.2} | {mean:.2} | {max:.2} | {result} |\n"));
        if outcome.announcement.is_none() {
            println!("{table}");
            return Err(CliError::Findings(format!(
                "the ceremony with n = {n} did not install: {:?}",
                outcome.statuses
            )));
        }
    }
    println!("Key ceremony over loopback mutual TLS, one process per trustee, on this machine:");
    println!("{table}");
    if let Some(path) = out {
        std::fs::write(path, md).map_err(|e| CliError::io(path, e))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub async fn dkg(cmd: DkgCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let s = match cmd {
        DkgCmd::Bench { sizes, out } => return bench(&sizes, out.as_deref()).await,
        DkgCmd::Propose { args } => {
            client(&args.trustee, ctx)?.propose(request(&args, false, Vec::new())).await.map_err(CliError::Rpc)?
        }
        DkgCmd::Accept { r } => {
            client(&r.trustee, ctx)?.accept(ceremony_ref(&r.id, "")?).await.map_err(CliError::Rpc)?
        }
        DkgCmd::Reject { r, reason } => {
            client(&r.trustee, ctx)?.reject(ceremony_ref(&r.id, &reason)?).await.map_err(CliError::Rpc)?
        }
        DkgCmd::Abort { r, reason } => {
            client(&r.trustee, ctx)?.abort(ceremony_ref(&r.id, &reason)?).await.map_err(CliError::Rpc)?
        }
        DkgCmd::Status { r, all } => {
            let s = client(&r.trustee, ctx)?.status(ceremony_ref(&r.id, "")?).await.map_err(CliError::Rpc)?;
            if all {
                let s = s.into_inner();
                let reports = survey::survey(ctx, &r.trustee, &s).await;
                let verdict = survey::judge(&reports);
                print_survey(&s, &reports, &verdict, ctx.json)?;
                if let survey::Verdict::Split { .. } = verdict {
                    return Err(CliError::Findings("split install".into()));
                }
                return Ok(());
            }
            s
        }
        DkgCmd::Execute { r, wait, peer_wait_secs } => {
            let mut c = client(&r.trustee, ctx)?;
            let mut s = c.execute(ceremony_ref(&r.id, "")?).await.map_err(CliError::Rpc)?.into_inner();
            if wait {
                let id = pb::CeremonyRef { ceremony_id: s.ceremony_id.clone(), reason: String::new() };
                while s.phase != "installed" && s.phase != "aborted" {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    s = c.status(id.clone()).await.map_err(CliError::Rpc)?.into_inner();
                }
                return wait_for_participants(ctx, &r.trustee, &s, Duration::from_secs(peer_wait_secs)).await;
            }
            tonic::Response::new(s)
        }
    }
    .into_inner();
    print_status(&s, ctx.json)
}

/// One holder of an announcement, asked whether it serves it.
#[derive(Debug, serde::Serialize)]
struct HolderCheck {
    trustee: String,
    addr: String,
    /// It serves this same announcement for the epoch.
    installed: bool,
    /// Why not, if not.
    problem: Option<String>,
}

impl HolderCheck {
    /// `trustee-1 (host:port)`, escaped.
    fn who(&self) -> String {
        format!("{} ({})", text(&self.trustee), text(&self.addr))
    }
}

/// Asks each holder for the announcement it serves for the epoch: whether it serves
/// the same announcement body as `signed`. The holder list must match the
/// announcement's exactly (checked before anything is asked: a usage error).
async fn check_holders(
    ctx: &crate::Ctx,
    signed: &SignedAnnouncement,
    a: &Announcement,
    holders: &[pb::Participant],
) -> Result<Vec<HolderCheck>, CliError> {
    let named: Vec<&str> = holders.iter().map(|h| h.trustee_id.as_str()).collect();
    let missing: Vec<String> =
        a.holders.iter().filter(|h| !named.contains(&h.as_str())).map(ToString::to_string).collect();
    let extra: Vec<&str> = named.iter().copied().filter(|n| !a.holders.iter().any(|h| h.as_str() == *n)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(CliError::Usage(format!(
            "--holder must name every holder of the announcement once (missing: {}; not holders: {})",
            if missing.is_empty() { "none".into() } else { missing.join(", ") },
            if extra.is_empty() {
                "none".into()
            } else {
                extra.iter().map(|e| text(e).into_owned()).collect::<Vec<_>>().join(", ")
            }
        )));
    }
    let epoch = a.epoch().0;
    let mut checks = Vec::new();
    for h in holders {
        let got = match client(&h.addr, ctx) {
            Ok(mut c) => {
                c.get_announcement(pb::GetAnnouncementRequest { epoch }).await.map(|r| r.into_inner().announcement)
            }
            Err(e) => {
                checks.push(HolderCheck {
                    trustee: h.trustee_id.clone(),
                    addr: h.addr.clone(),
                    installed: false,
                    problem: Some(format!("unreachable: {e}")),
                });
                continue;
            }
        };
        let problem = match got {
            Ok(bytes) => match SignedAnnouncement::from_bytes(&bytes) {
                Ok(theirs) if theirs.body() == signed.body() => None,
                Ok(_) => Some(format!("serves another announcement for epoch {epoch}")),
                Err(e) => Some(format!("serves an announcement that does not decode: {e}")),
            },
            Err(s) if s.code() == tonic::Code::NotFound => {
                Some(format!("holds no announcement for epoch {epoch} (it did not install it)"))
            }
            Err(s) => Some(format!("unreachable: {:?}: {}", s.code(), s.message())),
        };
        checks.push(HolderCheck {
            trustee: h.trustee_id.clone(),
            addr: h.addr.clone(),
            installed: problem.is_none(),
            problem,
        });
    }
    Ok(checks)
}

/// What `escrow epoch verify` found: its lines of text, or with `--json` its object.
#[derive(Debug, serde::Serialize)]
struct EpochVerified {
    /// The announcement file.
    file: String,
    epoch: u64,
    generation: u32,
    /// Its holders, in index order: every one signed it under the pinned keys.
    holders: Vec<String>,
    /// With --holder: each holder asked whether it serves this announcement.
    holder_checks: Option<Vec<HolderCheck>>,
    /// With --holder: every holder installed it (null: not checked).
    every_holder_installed: Option<bool>,
    /// Where the key set was written (--key-out), if it was.
    key_out: Option<String>,
}

impl EpochVerified {
    fn print(&self) {
        let holders = self.holders.join(", ");
        println!(
            "OK: epoch {} generation {} signed by every holder ({holders}) under the pinned keys",
            self.epoch, self.generation
        );
        match &self.holder_checks {
            None => println!(
                "not checked: whether every holder installed it (pass --holder TRUSTEE=HOST:PORT for each of {holders})"
            ),
            Some(checks) => {
                for c in checks.iter().filter(|c| c.installed) {
                    println!("  {}: installed it", c.who());
                }
                if checks.iter().all(|c| c.installed) {
                    println!("every holder installed it");
                }
                for c in checks.iter().filter(|c| !c.installed) {
                    println!("  {}: {}", c.who(), text(c.problem.as_deref().unwrap_or_default()));
                }
            }
        }
        if let Some(out) = &self.key_out {
            println!("wrote the key set to {out}");
        }
    }
}

/// After the ceremony ended at this trustee (`local`): asks every participant until
/// each has an answer that will not change, or `patience` ran out, and prints where
/// each stands. Succeeds only if every participant installed the same announcement: a
/// proposer that installed cannot tell alone whether the others did.
async fn wait_for_participants(
    ctx: &crate::Ctx,
    local_addr: &str,
    local: &pb::CeremonyStatus,
    patience: Duration,
) -> Result<(), CliError> {
    let until = tokio::time::Instant::now() + patience;
    let mut reports = survey::survey(ctx, local_addr, local).await;
    while !survey::settled(&reports) && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        reports = survey::survey(ctx, local_addr, local).await;
    }
    let verdict = survey::judge(&reports);
    print_survey(local, &reports, &verdict, ctx.json)?;
    match verdict {
        survey::Verdict::Installed(_) => Ok(()),
        survey::Verdict::Aborted => Err(CliError::Findings(format!("the ceremony aborted: {}", local.abort_reason))),
        survey::Verdict::Running => Err(CliError::Findings(format!(
            "not every participant finished within {} s (see above)",
            patience.as_secs()
        ))),
        survey::Verdict::Split { .. } => Err(CliError::Findings(
            "split install: not every participant installed the announcement (see above)".into(),
        )),
    }
}

pub async fn reshare(a: ReshareArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let s = client(&a.args.trustee, ctx)?
        .propose(request(&a.args, true, a.dealers))
        .await
        .map_err(CliError::Rpc)?
        .into_inner();
    print_status(&s, false)
}

fn read_announcement(path: &std::path::Path) -> Result<SignedAnnouncement, CliError> {
    crate::files::read_hex_as(path, SignedAnnouncement::from_bytes)
}

pub async fn epoch(cmd: EpochCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    match cmd {
        EpochCmd::Fetch { trustee, epoch, out } => {
            let a = client(&trustee, ctx)?
                .get_announcement(pb::GetAnnouncementRequest { epoch })
                .await
                .map_err(CliError::Rpc)?
                .into_inner()
                .announcement;
            SignedAnnouncement::from_bytes(&a)?;
            crate::files::write_hex(&out, &a)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        EpochCmd::Show { file } => {
            let signed = read_announcement(&file)?;
            let a = Announcement::from_bytes(signed.body()).map_err(|e| CliError::bad_file(&file, e))?;
            let k = &a.key_set;
            println!("epoch {} generation {}: n = {}, t = {}", k.epoch(), a.generation, k.n(), k.threshold());
            println!("public key {}", hex::encode(k.public_key_bytes()));
            println!(
                "holders (by index): {}",
                a.holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            println!("valid from {}, destroyed at {}", a.valid_from, a.destroy_at);
            println!("escrow modes: {}", a.modes);
            println!("transcript {}", hex::encode(a.transcript));
            println!("signed by: {}", signed.signers().map(ToString::to_string).collect::<Vec<_>>().join(", "));
            Ok(())
        }
        EpochCmd::Verify { file, key_out, holders } => {
            let signed = read_announcement(&file)?;
            let pins = ctx.tls.pins()?.ok_or_else(|| {
                CliError::Usage(
                    "no pinned trustee keys: pass a federation (--federation or a profile) that pins them".into(),
                )
            })?;
            let v = signed.verify(&pins).map_err(|e| CliError::Findings(format!("{}: {e}", file.display())))?;
            let a = v.announcement();
            let checks = if holders.is_empty() { None } else { Some(check_holders(ctx, &signed, a, &holders).await?) };
            let every = checks.as_ref().map(|c| c.iter().all(|h| h.installed));
            // The key set only from an announcement every holder named installed.
            let key_out = match key_out {
                Some(out) if every != Some(false) => {
                    crate::files::write_hex(&out, &v.key_set().to_bytes())?;
                    Some(out.display().to_string())
                }
                _ => None,
            };
            let verified = EpochVerified {
                file: file.display().to_string(),
                epoch: a.epoch().0,
                generation: a.generation,
                holders: a.holders.iter().map(ToString::to_string).collect(),
                holder_checks: checks,
                every_holder_installed: every,
                key_out,
            };
            if ctx.json {
                crate::display::print_json(&verified)?;
            } else {
                verified.print();
            }
            if let Some(checks) = verified.holder_checks.as_ref().filter(|_| every == Some(false)) {
                return Err(CliError::Findings(format!(
                    "not every holder installed epoch {}'s announcement (split install?): {} of {} did not",
                    verified.epoch,
                    checks.iter().filter(|c| !c.installed).count(),
                    checks.len()
                )));
            }
            Ok(())
        }
    }
}
