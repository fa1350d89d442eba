//! `--rule` and `--domain`: the escrow domains of a deployment, as the relay and the
//! user's commands take them (docs/protocol.md §5.18). Parsed whole, every key file
//! read and checked, before a command creates or sends anything.

use std::path::Path;

use escrow_crypto::{Domain, EpochPublicKey, Jurisdictions, Rule};

use crate::files::read_hex_as;
use crate::CliError;

/// The deployment's composition rule and each domain's current epoch key.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DomainArgs {
    /// A deployment of several escrow domains: the rule every message across them
    /// follows and binds into its labels (any-of, all-of or home-of-sender). Needs
    /// --domain for each domain.
    #[arg(long, requires = "domains")]
    pub rule: Option<String>,
    /// A domain of the deployment and its current epoch public key file (hex), as
    /// `uk=keys/uk-epoch-1.pub`, or `free=none` for a domain without escrow; repeat
    /// for each domain. Needs --rule.
    #[arg(long = "domain", requires = "rule")]
    pub domains: Vec<String>,
}

impl DomainArgs {
    /// The domains the flags describe; `None` without them (one domain).
    pub fn jurisdictions(&self) -> Result<Option<Jurisdictions>, CliError> {
        let Some(rule) = &self.rule else { return Ok(None) };
        let rule = Rule::from_name(rule)
            .ok_or_else(|| CliError::Usage(format!("--rule {rule:?}: one of any-of, all-of, home-of-sender")))?;
        let mut domains = Vec::with_capacity(self.domains.len());
        for entry in &self.domains {
            let (name, key) = entry
                .split_once('=')
                .ok_or_else(|| CliError::Usage(format!("--domain {entry:?}: write NAME=KEY-FILE, or NAME=none")))?;
            let domain = Domain::new(name).map_err(|e| CliError::Usage(format!("--domain {entry:?}: {e}")))?;
            let key = match key {
                "none" => None,
                path => Some(read_hex_as(Path::new(path), EpochPublicKey::from_bytes)?),
            };
            domains.push((domain, key));
        }
        Jurisdictions::new(rule, domains).map(Some).map_err(|e| CliError::Usage(format!("--rule and --domain: {e}")))
    }
}
