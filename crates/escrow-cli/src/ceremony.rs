//! `escrow dkg ...`, `escrow reshare` (a trustee's operator drives a key ceremony) and
//! `escrow epoch ...` (anyone reads and checks an epoch announcement).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use escrow_crypto::{Announcement, PartyId, SignedAnnouncement};
use escrow_proto::v1 as pb;

use crate::CliError;

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
        /// Wait until this trustee installed or aborted, and exit non-zero unless installed.
        #[arg(long)]
        wait: bool,
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
    /// Check that every holder signed it under the pinned keys; exits non-zero if not.
    Verify {
        /// The announcement file (hex).
        file: PathBuf,
        /// Also write the announced key set here (hex), for `--epoch-key` flags.
        #[arg(long)]
        key_out: Option<PathBuf>,
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

fn print_status(s: &pb::CeremonyStatus) {
    println!("ceremony {} ({}, epoch {}): {}", hex::encode(&s.ceremony_id), s.plan, s.epoch, s.phase);
    println!("proposed by {}; participants: {}", s.proposer, s.participants.join(", "));
    for step in &s.steps {
        println!("  - {step}");
    }
    if !s.abort_reason.is_empty() {
        println!("aborted: {}", s.abort_reason);
    }
    if !s.announcement.is_empty() {
        println!("announcement: {}", hex::encode(&s.announcement));
    }
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
    }
}

pub async fn dkg(cmd: DkgCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let s = match cmd {
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
        DkgCmd::Status { r } => {
            client(&r.trustee, ctx)?.status(ceremony_ref(&r.id, "")?).await.map_err(CliError::Rpc)?
        }
        DkgCmd::Execute { r, wait } => {
            let mut c = client(&r.trustee, ctx)?;
            let mut s = c.execute(ceremony_ref(&r.id, "")?).await.map_err(CliError::Rpc)?.into_inner();
            if wait {
                let id = pb::CeremonyRef { ceremony_id: s.ceremony_id.clone(), reason: String::new() };
                while s.phase != "installed" && s.phase != "aborted" {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    s = c.status(id.clone()).await.map_err(CliError::Rpc)?.into_inner();
                }
                print_status(&s);
                if s.phase != "installed" {
                    return Err(CliError::Findings(format!("the ceremony aborted: {}", s.abort_reason)));
                }
                return Ok(());
            }
            tonic::Response::new(s)
        }
    }
    .into_inner();
    print_status(&s);
    Ok(())
}

pub async fn reshare(a: ReshareArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let s = client(&a.args.trustee, ctx)?
        .propose(request(&a.args, true, a.dealers))
        .await
        .map_err(CliError::Rpc)?
        .into_inner();
    print_status(&s);
    Ok(())
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
            println!("transcript {}", hex::encode(a.transcript));
            println!("signed by: {}", signed.signers().map(ToString::to_string).collect::<Vec<_>>().join(", "));
            Ok(())
        }
        EpochCmd::Verify { file, key_out } => {
            let signed = read_announcement(&file)?;
            let pins = ctx.tls.pins()?.ok_or_else(|| {
                CliError::Usage("no pinned trustee keys: pass --pins or a profile that names them".into())
            })?;
            let v = signed.verify(&pins).map_err(|e| CliError::Findings(format!("{}: {e}", file.display())))?;
            let a = v.announcement();
            println!(
                "OK: epoch {} generation {} signed by every holder ({}) under the pinned keys",
                a.epoch(),
                a.generation,
                a.holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            if let Some(out) = key_out {
                crate::files::write_hex(&out, &v.key_set().to_bytes())?;
                println!("wrote the key set to {}", out.display());
            }
            Ok(())
        }
    }
}
