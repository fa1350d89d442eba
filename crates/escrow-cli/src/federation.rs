//! `escrow org ...` and `escrow federation ...`: each organisation makes its own CA and
//! certificates on its own machine and publishes a signed entry; the federation file
//! combines the entries, and every party checks and pins it.
//!
//! An organisation's directory holds `ca.pem`, the sealed `ca.key`, `entry.toml` (its
//! signed entry, a federation file of one organisation) and the files of the parties
//! it certifies; it gets `federation.toml`, the combined file its profiles name, back
//! from whoever combines the federation. No command here ever reads two
//! organisations' private keys.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::{Args, Subcommand};
use comfy_table::Table;
use escrow_crypto::PartyId;
use escrow_pki::federation::{Change, Draft, Organisation, Pattern, Pin, Retired};
use escrow_pki::layout::{PartyFiles, CA_CERT, CA_KEY, ENTRY};
use escrow_pki::{Ca, Federation, Identity, Role, Validity};

use crate::display::text;
use crate::files::{write_whole, SecretArgs};
use crate::tls::load_federation;
use crate::CliError;

/// Default validity of an operator's certificate, days: short, so that an operator
/// who leaves is withdrawn by not reissuing, with no revocation list.
pub const OPERATOR_DAYS: u32 = 2;

#[derive(Subcommand, Debug)]
pub enum OrgCmd {
    /// Make this organisation's CA and its signed federation entry in <dir>: ca.pem,
    /// ca.key (sealed) and entry.toml. Hand entry.toml to whoever combines the
    /// federation, and the CA fingerprint to every party out of band.
    Init {
        /// The organisation's directory (must not hold a CA yet).
        dir: PathBuf,
        /// The organisation's name, unique in the federation.
        #[arg(long)]
        name: String,
        /// The deployment's name (every entry of one federation names the same).
        #[arg(long)]
        deployment: String,
        /// An identity pattern this organisation certifies (repeat): trustee/<id>,
        /// operator/<trustee>/*, agency/<id>, relay/*, user/*, auditor/*, witness/<id>.
        #[arg(long = "certifies")]
        certifies: Vec<String>,
        /// Validity of the CA certificate, days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Issue a certificate, sealed key and profile for one of this organisation's
    /// parties. A trustee also gets its signing key, which the entry then pins
    /// (entry.toml changes: hand it to the federation again).
    Issue {
        /// The organisation's directory.
        dir: PathBuf,
        #[command(flatten)]
        party: PartyArgs,
        /// Validity, days (default: 2 for an operator, whose certificate is reissued
        /// rather than revoked; 30 for every other party).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Pin a court's warrant key (a court's organisation) or a witness's cosigning
    /// key (a witness's) in this organisation's entry.
    Pin {
        /// The organisation's directory.
        dir: PathBuf,
        /// A court public key file (`escrow court keygen`'s <court>.pub).
        #[arg(long, conflicts_with = "witness_vkey")]
        court_key: Option<PathBuf>,
        /// A witness's vkey (`escrow witness init` prints it).
        #[arg(long)]
        witness_vkey: Option<String>,
    },
    /// Replace this organisation's CA: a new CA and entry (next generation) listing
    /// the old CA as trusted for --overlap-hours more, or not at all with --revoke
    /// (its key was stolen). Reissue every party's certificate afterwards.
    Rotate {
        /// The organisation's directory.
        dir: PathBuf,
        /// How long certificates of the old CA stay believed.
        #[arg(long, default_value_t = 24)]
        overlap_hours: u64,
        /// The old CA is believed no longer, from the moment the federation carries
        /// the new entry.
        #[arg(long, conflicts_with = "overlap_hours")]
        revoke: bool,
        /// Validity of the new CA certificate, days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum FederationCmd {
    /// Add organisations' entries to a federation file (made if missing), or
    /// replace an organisation's entry with a newer generation. Every entry and the
    /// whole are checked before anything is written.
    Add {
        /// The federation file.
        federation: PathBuf,
        /// Entry files (`escrow org init`'s entry.toml), in the order to list them.
        #[arg(required = true)]
        entries: Vec<PathBuf>,
    },
    /// Check a federation file: every entry's signature under its own CA, and that
    /// no two organisations claim one identity, CA or key.
    Verify {
        /// The federation file.
        federation: PathBuf,
    },
    /// Show every organisation: its CA's fingerprint, what it certifies and pins,
    /// and at how many trustees one stolen key of its CA could approve.
    Show {
        /// The federation file.
        federation: PathBuf,
    },
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// This organisation's entry, read back from its directory.
fn load_entry(dir: &Path) -> Result<Organisation, CliError> {
    let path = dir.join(ENTRY);
    let fed = load_federation(&path)?;
    match fed.organisations() {
        [one] => Ok(one.clone()),
        _ => Err(CliError::bad_file(&path, "an entry file holds exactly one organisation")),
    }
}

fn load_ca(dir: &Path, secret: &SecretArgs) -> Result<Ca, CliError> {
    let cert_path = dir.join(CA_CERT);
    let cert = std::fs::read_to_string(&cert_path).map_err(|e| CliError::io(&cert_path, e))?;
    let key_path = dir.join(CA_KEY);
    let key = secret.read_sealed(&key_path)?;
    let key = std::str::from_utf8(&key).map_err(|_| CliError::bad_file(&key_path, "not a PEM key"))?;
    Ca::from_pem(&cert, key).map_err(|e| CliError::bad_file(&key_path, e))
}

fn write_entry(dir: &Path, entry: &Organisation) -> Result<(), CliError> {
    let text = entry.render_entry().map_err(usage)?;
    write_whole(&dir.join(ENTRY), text.as_bytes())
}

fn party(s: &str) -> Result<PartyId, CliError> {
    Ok(PartyId::new(s)?)
}

/// Whom a certificate is for (`escrow org issue`, `escrow pki issue`).
#[derive(Args, Debug)]
pub struct PartyArgs {
    /// user, agency, operator, auditor, trustee, relay or witness.
    #[arg(long)]
    role: String,
    /// The party's id (an operator's own name).
    #[arg(long)]
    id: String,
    /// For an operator: the trustee it operates.
    #[arg(long)]
    trustee: Option<String>,
    /// For a user in a deployment of several escrow domains: the domain it lives in,
    /// certified in its certificate (`escrow:role/user/<home>/<id>`).
    #[arg(long)]
    home: Option<String>,
}

impl PartyArgs {
    /// The identity these flags name.
    pub fn identity(&self) -> Result<Identity, CliError> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            usage(format!("unknown role {:?}: user, agency, operator, auditor, trustee, relay or witness", self.role))
        })?;
        match (role, &self.trustee, &self.home) {
            (_, _, Some(_)) if role != Role::User => Err(usage("--home is only for users")),
            (Role::User, None, Some(h)) => {
                let home = escrow_crypto::Domain::new(h.as_str()).map_err(|e| usage(format!("--home {h:?}: {e}")))?;
                Ok(Identity::user_of(home, party(&self.id)?))
            }
            (Role::Operator, Some(t), _) => Ok(Identity::operator(party(t)?, party(&self.id)?)),
            (Role::Operator, None, _) => Err(usage("an operator needs --trustee")),
            (_, Some(_), _) => Err(usage("--trustee is only for operators")),
            (r, None, _) => Ok(Identity::new(r, party(&self.id)?)?),
        }
    }
}

pub fn run_org(cmd: OrgCmd, secret: &SecretArgs) -> Result<(), CliError> {
    match cmd {
        OrgCmd::Init { dir, name, deployment, certifies, days } => {
            if dir.join(CA_CERT).exists() || dir.join(ENTRY).exists() {
                return Err(usage(format!("{} already holds an organisation", dir.display())));
            }
            let certifies = certifies.iter().map(|p| Pattern::parse(p).map_err(usage)).collect::<Result<_, _>>()?;
            let validity = Validity::days_from(SystemTime::now(), days);
            let ca = Ca::generate(&name, validity)?;
            let draft = Draft { deployment, name, generation: 1, certifies, pins: vec![], previous: vec![] };
            // Checked before anything is written.
            let entry = Organisation::sign(draft, &ca).map_err(usage)?;
            std::fs::create_dir_all(&dir).map_err(|e| CliError::io(&dir, e))?;
            secret.write_sealed(&dir.join(CA_KEY), ca.key_pem().as_bytes())?;
            std::fs::write(dir.join(CA_CERT), ca.cert_pem()).map_err(|e| CliError::io(&dir.join(CA_CERT), e))?;
            write_entry(&dir, &entry)?;
            println!("organisation {}: CA {}", entry.name(), entry.ca().fingerprint());
            println!("entry: {} (hand it to whoever combines the federation)", dir.join(ENTRY).display());
            println!("Every party should compare this fingerprint with the one you tell them out of band.");
            Ok(())
        }
        OrgCmd::Issue { dir, party, days } => {
            let identity = party.identity()?;
            let entry = load_entry(&dir)?;
            if !entry.may_certify(&identity) {
                let patterns: Vec<String> = entry.certifies().iter().map(ToString::to_string).collect();
                return Err(usage(format!(
                    "organisation {} does not certify {identity}: its entry certifies {}",
                    entry.name(),
                    patterns.join(", ")
                )));
            }
            let files = PartyFiles::of(&identity);
            if dir.join(&files.cert).exists() {
                return Err(usage(format!("{identity} already has a certificate in {}", dir.display())));
            }
            let ca = load_ca(&dir, secret)?;
            let days = days.unwrap_or(if identity.role() == Role::Operator { OPERATOR_DAYS } else { 30 });
            let issued = ca.issue(&identity, Validity::days_from(SystemTime::now(), days))?;
            if let Some(signing) = &files.signing_key {
                let key = escrow_crypto::TrusteeSigningKey::generate(identity.id().clone(), &mut rand::rngs::OsRng);
                let entry = entry
                    .reissue(&ca, |d| {
                        d.pins.retain(|p| !matches!(p, Pin::Trustee(k) if k.trustee() == identity.id()));
                        d.pins.push(Pin::Trustee(key.public()));
                    })
                    .map_err(usage)?;
                secret.write_sealed(&dir.join(signing), &key.to_bytes())?;
                write_entry(&dir, &entry)?;
                println!("entry.toml now pins {identity}'s signing key (generation {})", entry.generation());
            }
            std::fs::write(dir.join(&files.cert), &issued.cert_pem)
                .map_err(|e| CliError::io(&dir.join(&files.cert), e))?;
            secret.write_sealed(&dir.join(&files.key), issued.key_pem.as_bytes())?;
            let profile = dir.join(&files.profile);
            std::fs::write(&profile, files.profile_text()).map_err(|e| CliError::io(&profile, e))?;
            println!("{identity}: {} (names federation.toml beside it)", profile.display());
            Ok(())
        }
        OrgCmd::Pin { dir, court_key, witness_vkey } => {
            let pin = match (court_key, witness_vkey) {
                (Some(path), None) => {
                    Pin::Court(crate::files::read_hex_as(&path, escrow_crypto::CourtPublicKey::from_bytes)?)
                }
                (None, Some(vkey)) => Pin::parse(&format!("witness {vkey}")).map_err(usage)?,
                _ => return Err(usage("pin one key: --court-key or --witness-vkey")),
            };
            let entry = load_entry(&dir)?;
            let ca = load_ca(&dir, secret)?;
            let entry = entry.reissue(&ca, |d| d.pins.push(pin)).map_err(usage)?;
            write_entry(&dir, &entry)?;
            println!("entry.toml pins {} key(s) (generation {})", entry.pins().len(), entry.generation());
            Ok(())
        }
        OrgCmd::Rotate { dir, overlap_hours, revoke, days } => {
            let entry = load_entry(&dir)?;
            let old = load_ca(&dir, secret)?;
            if old.cert_pem().trim() != entry.ca().pem().trim() {
                return Err(CliError::bad_file(&dir.join(CA_CERT), "is not the CA entry.toml names"));
            }
            let until = if revoke { now_secs() } else { now_secs().saturating_add(overlap_hours.saturating_mul(3600)) };
            let new = Ca::generate(entry.name(), Validity::days_from(SystemTime::now(), days))?;
            let retired = Retired { ca: entry.ca().clone(), trusted_until: until };
            let next = entry
                .reissue(&new, |d| {
                    d.previous.retain(|r| r.trusted_until > now_secs());
                    d.previous.push(retired);
                })
                .map_err(usage)?;
            // The old CA's files are kept under their generation, never overwritten.
            let gen = entry.generation();
            for (from, to) in [(CA_CERT, format!("ca.{gen}.pem")), (CA_KEY, format!("ca.{gen}.key"))] {
                std::fs::rename(dir.join(from), dir.join(&to)).map_err(|e| CliError::io(&dir.join(to), e))?;
            }
            secret.write_sealed(&dir.join(CA_KEY), new.key_pem().as_bytes())?;
            std::fs::write(dir.join(CA_CERT), new.cert_pem()).map_err(|e| CliError::io(&dir.join(CA_CERT), e))?;
            write_entry(&dir, &next)?;
            println!("organisation {}: new CA {}", next.name(), next.ca().fingerprint());
            if revoke {
                println!(
                    "old CA {} revoked: believed by nobody once the federation carries this entry",
                    entry.ca().fingerprint()
                );
            } else {
                println!("old CA {} believed for {overlap_hours} more hours", entry.ca().fingerprint());
            }
            println!("Hand entry.toml to the federation; reissue every party's certificate from the new CA.");
            Ok(())
        }
    }
}

/// `json`: print `federation show` as JSON (no other federation command prints it).
pub fn run_federation(cmd: FederationCmd, json: bool) -> Result<(), CliError> {
    match cmd {
        FederationCmd::Add { federation, entries } => {
            let mut fed: Option<Federation> =
                if federation.exists() { Some(load_federation(&federation)?) } else { None };
            let mut report = Vec::new();
            for path in &entries {
                for org in load_federation(path)?.organisations() {
                    let (next, change) = match &fed {
                        Some(f) => f.with(org.clone()).map_err(|e| CliError::bad_file(path, e))?,
                        None => (
                            Federation::new(org.deployment(), vec![org.clone()])
                                .map_err(|e| CliError::bad_file(path, e))?,
                            Change::Joined,
                        ),
                    };
                    let old_ca = fed.as_ref().and_then(|f| f.organisation(org.name())).map(|o| o.ca().fingerprint());
                    report.push(match change {
                        Change::Joined => format!("joined: {} (CA {})", org.name(), org.ca().fingerprint()),
                        Change::Replaced { old_generation, ca_changed: false } => format!(
                            "replaced: {} generation {old_generation} -> {} (same CA)",
                            org.name(),
                            org.generation()
                        ),
                        Change::Replaced { old_generation, ca_changed: true } => format!(
                            "replaced: {} generation {old_generation} -> {}, NEW CA {} (was {}): confirm it out of band",
                            org.name(),
                            org.generation(),
                            org.ca().fingerprint(),
                            old_ca.unwrap_or_default()
                        ),
                    });
                    fed = Some(next);
                }
            }
            let fed = fed.ok_or_else(|| usage("no organisation in the entries given"))?;
            write_whole(&federation, fed.render().as_bytes())?;
            for line in report {
                println!("{line}");
            }
            println!("{}: {} organisations, {}", federation.display(), fed.organisations().len(), fed.digest());
            Ok(())
        }
        FederationCmd::Verify { federation } => {
            let fed = load_federation(&federation)?;
            println!(
                "{}: deployment {}, {} organisations, every entry signed by its own CA; {}",
                federation.display(),
                text(fed.deployment()),
                fed.organisations().len(),
                fed.digest()
            );
            Ok(())
        }
        FederationCmd::Show { federation } => {
            let fed = load_federation(&federation)?;
            if json {
                return crate::display::print_json(&Shown::of(&fed));
            }
            print!("{}", show(&fed));
            Ok(())
        }
    }
}

/// What `escrow federation show` shows: its table and warning, or with `--json` its
/// object.
#[derive(Debug, serde::Serialize)]
struct Shown {
    deployment: String,
    /// SHA-256 of the whole file, as `federation verify` prints it.
    digest: String,
    /// How many trustees the federation names.
    trustees: usize,
    organisations: Vec<OrgShown>,
    /// One organisation's CA certifies operators of more than one trustee.
    one_root: bool,
    /// The most trustees one organisation's CA certifies operators of.
    widest_reach: usize,
}

/// One organisation of the federation.
#[derive(Debug, serde::Serialize)]
struct OrgShown {
    name: String,
    generation: u64,
    /// Its CA's fingerprint (SHA-256).
    ca_fingerprint: String,
    /// Earlier CAs still listed (believed until their time runs out).
    retired_cas: usize,
    /// The identity patterns it certifies.
    certifies: Vec<String>,
    /// The keys its entry pins.
    pins: Vec<PinShown>,
    /// At how many of the federation's trustees one stolen key of its CA could approve.
    approves_at: Reach,
}

#[derive(Debug, serde::Serialize)]
struct PinShown {
    /// trustee, court or witness.
    kind: &'static str,
    /// The trustee's, court's or witness's name.
    name: String,
}

/// N of M trustees.
#[derive(Debug, serde::Serialize)]
struct Reach {
    trustees: usize,
    of: usize,
}

impl Shown {
    fn of(fed: &Federation) -> Self {
        let trustees = fed.trustees();
        let organisations: Vec<OrgShown> = fed
            .organisations()
            .iter()
            .map(|o| OrgShown {
                name: o.name().to_string(),
                generation: o.generation(),
                ca_fingerprint: o.ca().fingerprint(),
                retired_cas: o.previous().len(),
                certifies: o.certifies().iter().map(ToString::to_string).collect(),
                pins: o
                    .pins()
                    .iter()
                    .map(|p| match p {
                        Pin::Trustee(k) => PinShown { kind: "trustee", name: k.trustee().to_string() },
                        Pin::Court(k) => PinShown { kind: "court", name: k.court().to_string() },
                        Pin::Witness(k) => PinShown { kind: "witness", name: k.name().to_string() },
                    })
                    .collect(),
                approves_at: Reach { trustees: o.operator_reach(&trustees).len(), of: trustees.len() },
            })
            .collect();
        let widest = organisations.iter().map(|o| o.approves_at.trustees).max().unwrap_or(0);
        Shown {
            deployment: fed.deployment().to_string(),
            digest: fed.digest(),
            trustees: trustees.len(),
            organisations,
            one_root: widest > 1,
            widest_reach: widest,
        }
    }
}

/// The table `escrow federation show` prints, and the one-root warning.
pub fn show(fed: &Federation) -> String {
    let shown = Shown::of(fed);
    let mut table = Table::new();
    table.set_header(["organisation", "gen", "CA (SHA-256)", "certifies", "pins", "one stolen CA key approves at"]);
    for o in &shown.organisations {
        let pins: Vec<String> = o
            .pins
            .iter()
            .map(|p| match p.kind {
                "witness" => format!("witness key {}", text(&p.name)),
                kind => format!("{kind} key {}", p.name),
            })
            .collect();
        let fp = &o.ca_fingerprint;
        let short = fp.get(..23).unwrap_or(fp).to_string() + "…";
        let ca = if o.retired_cas > 0 { format!("{short} (+{} retired)", o.retired_cas) } else { short };
        let reach = match o.approves_at.trustees {
            0 => "no trustee".to_string(),
            n => format!("{n} of {} trustees", o.approves_at.of),
        };
        table.add_row([o.name.clone(), o.generation.to_string(), ca, o.certifies.join("\n"), pins.join("\n"), reach]);
    }
    let mut out = format!("federation {} ({})\n{table}\n", text(&shown.deployment), shown.digest);
    if shown.one_root {
        out.push_str(&format!(
            "ONE ROOT: a single organisation's CA certifies operators of {} trustees, so one stolen key \
             approves at all of them.\n",
            shown.widest_reach
        ));
    } else {
        out.push_str("No organisation's CA certifies the operators of more than one trustee.\n");
    }
    out
}
