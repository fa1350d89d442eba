//! `escrow trustee policy`: writes a trustee's policy file from flags, through the
//! same typed policy `trustee serve` reads (`Policy::to_toml`, checked by
//! `Policy::from_toml`), so that no deployment script or manual writes TOML by hand.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use escrow_crypto::{CourtPublicKey, PartyId};
use escrow_trustee::policy::{Approval, DomainRule, ForeignTargets, Policy};

use crate::files::read_hex_as;
use crate::CliError;

/// Flags of `escrow trustee policy`.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// This trustee's id (its certificate names it).
    #[arg(long)]
    pub id: String,
    /// A court whose warrants this trustee accepts: the court's public key file (hex,
    /// as `escrow court keygen` writes it). Repeat for each court. None: the trustee
    /// accepts no warrant (it may still hold keys and run key ceremonies).
    #[arg(long = "court", value_name = "FILE")]
    pub courts: Vec<PathBuf>,
    /// `operator`: each warrant waits for an operator's decision; `auto`: approved on
    /// receipt if it is within the policy.
    #[arg(long, default_value = "operator", value_parser = ["operator", "auto"])]
    pub approval: String,
    /// Longest warrant window accepted, seconds (default 30 days).
    #[arg(long)]
    pub max_window_secs: Option<u64>,
    /// Most distinct fields ever released under one warrant (default 10,000).
    #[arg(long)]
    pub max_fields_per_warrant: Option<u64>,
    /// Most items in one share request (default 1,000; at most 10,000).
    #[arg(long)]
    pub max_items_per_request: Option<u32>,
    /// Fields per rolling 30 days for an agency not given `--agency-quota` (default 0:
    /// none).
    #[arg(long)]
    pub default_agency_quota: Option<u64>,
    /// One agency's quota, fields per rolling 30 days. Repeat for each agency.
    #[arg(long = "agency-quota", value_name = "AGENCY=FIELDS")]
    pub agency_quotas: Vec<String>,
    /// Warrants one agency may submit per rolling 30 days (default 100).
    #[arg(long)]
    pub max_warrants_per_agency: Option<u64>,
    /// The day mode: most (party, day) keys ever released under one warrant (default 0:
    /// the mode is off). A day key opens everything its party sent or received that
    /// day, in the warrant's hours or not.
    #[arg(long)]
    pub max_day_keys_per_warrant: Option<u64>,
    /// The day mode: day keys per agency per rolling 30 days (default 0).
    #[arg(long)]
    pub day_key_agency_quota: Option<u64>,
    /// Pin this trustee's index in its key sets: a share of another index is refused
    /// at start.
    #[arg(long)]
    pub key_index: Option<u16>,
    /// Accept key-ceremony proposals from pinned trustees without the operator (who
    /// can still abort).
    #[arg(long)]
    pub auto_accept_ceremonies: bool,
    /// Serve only agencies certified by this federation organisation. Repeat for
    /// each; none: every organisation the federation lets certify an agency.
    #[arg(long = "agency-organisation", value_name = "ORG")]
    pub agency_organisations: Vec<String>,
    /// The escrow domain this trustee serves, in a deployment of several: it then
    /// answers only for that domain's fields. None: a deployment of one domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// With --domain: `refuse` (the default) answers only warrants on users whose
    /// certified home is this domain; `allow` also warrants on other domains' users
    /// through this domain's fields of their messages.
    #[arg(long, requires = "domain", value_parser = ["refuse", "allow"])]
    pub foreign_targets: Option<String>,
    /// Where to write the policy. An existing file is refused, not overwritten.
    #[arg(long)]
    pub out: PathBuf,
}

/// The policy the flags describe, checked by the rules `trustee serve` applies to the
/// file; nothing is written.
pub fn build(a: &PolicyArgs) -> Result<Policy, CliError> {
    let id = PartyId::new(&a.id).map_err(|e| CliError::Usage(format!("--id: {e}")))?;
    let courts = a.courts.iter().map(|p| read_hex_as(p, CourtPublicKey::from_bytes)).collect::<Result<_, _>>()?;
    let mut policy = Policy::new(id, courts);
    if a.approval == "auto" {
        policy.approval = Approval::Auto;
    }
    if let Some(v) = a.max_window_secs {
        policy.max_window_secs = v;
    }
    if let Some(v) = a.max_fields_per_warrant {
        policy.max_fields_per_warrant = v;
    }
    if let Some(v) = a.max_items_per_request {
        policy.max_items_per_request = v;
    }
    if let Some(v) = a.default_agency_quota {
        policy.default_agency_quota = v;
    }
    for q in &a.agency_quotas {
        let bad = |why: &str| CliError::Usage(format!("--agency-quota {q:?}: {why}"));
        let (agency, fields) = q.split_once('=').ok_or_else(|| bad("expected AGENCY=FIELDS"))?;
        let agency = PartyId::new(agency).map_err(|e| bad(&e.to_string()))?;
        let fields: u64 = fields.parse().map_err(|_| bad("FIELDS is not a whole number"))?;
        if policy.agency_quota.insert(agency, fields).is_some() {
            return Err(bad("this agency is given twice"));
        }
    }
    if let Some(v) = a.max_warrants_per_agency {
        policy.max_warrants_per_agency = v;
    }
    if let Some(v) = a.max_day_keys_per_warrant {
        policy.max_day_keys_per_warrant = v;
    }
    if let Some(v) = a.day_key_agency_quota {
        policy.day_key_agency_quota = v;
    }
    policy.key_index = a.key_index;
    policy.auto_accept_ceremonies = a.auto_accept_ceremonies;
    policy.agency_organisations.clone_from(&a.agency_organisations);
    if let Some(d) = &a.domain {
        let domain = escrow_crypto::Domain::new(d).map_err(|e| CliError::Usage(format!("--domain {d:?}: {e}")))?;
        let foreign_targets = match a.foreign_targets.as_deref() {
            Some("allow") => ForeignTargets::Allow,
            _ => ForeignTargets::Refuse,
        };
        policy.jurisdiction = DomainRule { domain: Some(domain), foreign_targets };
    }
    // The file's own rules (ranges, ceilings, names), exactly as a start reads them.
    Policy::from_toml(&policy.to_toml()).map_err(|e| CliError::Usage(e.to_string()))
}

/// `escrow trustee policy`: writes the policy to `--out` (a new file only).
pub fn run(a: &PolicyArgs) -> Result<(), CliError> {
    let policy = build(a)?;
    let text = policy.to_toml();
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&a.out).map_err(|e| CliError::io(&a.out, e))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| CliError::io(&a.out, e))?;
    println!(
        "wrote the policy of {} to {}: {} approval, {} trusted court(s)",
        policy.trustee_id,
        a.out.display(),
        if policy.approval == Approval::Auto { "automatic" } else { "operator" },
        policy.trusted_courts.len()
    );
    Ok(())
}
