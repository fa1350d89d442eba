//! Key material: the dealer, courts and users.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use escrow_crypto::{
    dealer_keygen, CourtSecretKey, EpochId, PartyId, TimeWindow, UserSecretKey, WarrantBody, WarrantId,
};
use rand::rngs::OsRng;
use rand::RngCore;

use crate::files::{read_hex_as, write_hex, SecretArgs};
use crate::CliError;

/// `escrow keygen`: the dealer (weak mode).
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Number of trustees n.
    #[arg(long, default_value_t = 5)]
    pub trustees: u16,
    /// Threshold t: t+1 trustees open a message, t cannot.
    #[arg(long, default_value_t = 2)]
    pub threshold: u16,
    /// Epoch id.
    #[arg(long, default_value_t = 1)]
    pub epoch: u64,
    /// Output directory: epoch-<E>.pub and trustee-<i>.share (sealed).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn keygen(a: &KeygenArgs, secret: &SecretArgs) -> Result<(), CliError> {
    eprintln!(
        "WARNING: dealer key generation. This process saw the epoch's master secret: whoever ran it\n\
         could have kept it and could open every message of epoch {} alone. Use it for demos only.",
        a.epoch
    );
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(&a.out, e))?;
    let keys = dealer_keygen(EpochId(a.epoch), a.threshold, a.trustees, &mut OsRng)?;
    let pub_path = a.out.join(format!("epoch-{}.pub", a.epoch));
    write_hex(&pub_path, &keys.public.to_bytes())?;
    for s in &keys.shares {
        secret.write_sealed(&a.out.join(format!("trustee-{}.share", s.index().0)), &s.to_bytes())?;
    }
    println!("epoch {} key set (t = {}, n = {}): {}", a.epoch, a.threshold, a.trustees, pub_path.display());
    println!("sealed shares: {}/trustee-{{0..{}}}.share — send each to its trustee", a.out.display(), a.trustees - 1);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum CourtCmd {
    /// Make a court signing key: <out>/<court>.key (sealed) and <out>/<court>.pub (hex).
    Keygen {
        #[arg(long)]
        court: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a warrant; writes the signed blob as hex.
    Sign(SignArgs),
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The court's sealed key file.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub agency: String,
    /// Targeted user (repeat for several).
    #[arg(long = "target", required = true)]
    pub targets: Vec<String>,
    /// Window start, unix seconds (inclusive).
    #[arg(long)]
    pub from: u64,
    /// Window end, unix seconds (exclusive).
    #[arg(long)]
    pub to: u64,
    /// Issue time, unix seconds (default: now).
    #[arg(long)]
    pub issued_at: Option<u64>,
    /// Validity from issue, days.
    #[arg(long, default_value_t = 30)]
    pub valid_days: u64,
    #[arg(long, default_value = "")]
    pub case: String,
    #[arg(long, default_value = "")]
    pub basis: String,
    /// Notification delay after expiry, days.
    #[arg(long, default_value_t = 90)]
    pub notify_after_days: u64,
    /// Output file (hex).
    #[arg(long)]
    pub out: PathBuf,
}

/// What `escrow court sign --json` prints: the signed warrant's id and terms, and
/// where the blob went.
#[derive(Debug, serde::Serialize)]
struct Signed<'a> {
    /// The warrant id (hex): what operators approve.
    warrant_id: String,
    court: String,
    agency: &'a str,
    targets: &'a [String],
    /// The window of message times it covers, unix seconds, `to` exclusive.
    from: u64,
    to: u64,
    issued_at: u64,
    valid_until: u64,
    case: &'a str,
    basis: &'a str,
    notification_delay_secs: u64,
    /// The file the signed blob (hex) was written to.
    out: std::borrow::Cow<'a, str>,
}

pub fn court(cmd: &CourtCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let secret = &ctx.secret;
    match cmd {
        CourtCmd::Keygen { court, out } => {
            let id = PartyId::new(court.as_str())?;
            std::fs::create_dir_all(out).map_err(|e| CliError::io(out, e))?;
            let key = CourtSecretKey::generate(id, &mut OsRng);
            secret.write_sealed(&out.join(format!("{court}.key")), &key.to_bytes())?;
            let pub_path = out.join(format!("{court}.pub"));
            write_hex(&pub_path, &key.public().to_bytes())?;
            println!("court key: {} (put its hex in each trustee's trusted_courts)", pub_path.display());
            Ok(())
        }
        CourtCmd::Sign(a) => {
            let key = secret.read_sealed_as(&a.key, CourtSecretKey::from_bytes)?;
            let mut id = [0u8; 16];
            OsRng.fill_bytes(&mut id);
            let issued_at = a.issued_at.unwrap_or_else(crate::now);
            let body = WarrantBody {
                id: WarrantId(id),
                case_reference: a.case.clone(),
                court: key.public().court().clone(),
                agency: PartyId::new(a.agency.as_str())?,
                targets: a.targets.iter().map(|t| PartyId::new(t.as_str())).collect::<Result<_, _>>()?,
                window: TimeWindow::new(a.from, a.to)?,
                issued_at,
                valid_until: issued_at + a.valid_days * 86_400,
                legal_basis: a.basis.clone(),
                notification_delay_secs: a.notify_after_days * 86_400,
            };
            let blob = key.sign(&body)?;
            write_hex(&a.out, &blob)?;
            if !ctx.json {
                println!("warrant {} signed by {}: {}", body.id, body.court, a.out.display());
                return Ok(());
            }
            crate::display::print_json(&Signed {
                warrant_id: body.id.to_string(),
                court: body.court.to_string(),
                agency: &a.agency,
                targets: &a.targets,
                from: a.from,
                to: a.to,
                issued_at: body.issued_at,
                valid_until: body.valid_until,
                case: &a.case,
                basis: &a.basis,
                notification_delay_secs: body.notification_delay_secs,
                out: a.out.to_string_lossy(),
            })
        }
    }
}

/// `escrow user keygen`.
pub fn user_keygen(id: &str, out: &std::path::Path, secret: &SecretArgs) -> Result<(), CliError> {
    let key = UserSecretKey::generate(PartyId::new(id)?, &mut OsRng);
    secret.write_sealed(out, &key.to_bytes())?;
    let pub_path = out.with_extension("pub");
    write_hex(&pub_path, &key.public().to_bytes())?;
    println!("user {id}: secret {} (sealed), public {}", out.display(), pub_path.display());
    Ok(())
}

/// Loads a user's sealed secret key.
pub fn load_user(path: &std::path::Path, secret: &SecretArgs) -> Result<UserSecretKey, CliError> {
    secret.read_sealed_as(path, UserSecretKey::from_bytes)
}

/// Loads a hex court public key file.
pub fn load_court_pub(path: &std::path::Path) -> Result<escrow_crypto::CourtPublicKey, CliError> {
    read_hex_as(path, escrow_crypto::CourtPublicKey::from_bytes)
}
