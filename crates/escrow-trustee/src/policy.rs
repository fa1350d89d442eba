//! A trustee's policy file (TOML): whom it trusts and how much it will release.
//!
//! ```toml
//! trustee_id = "trustee-1"
//! approval = "operator"            # or "auto"
//! trusted_courts = ["0100090a68..."]   # hex CourtPublicKey blobs (`escrow court keygen`)
//! max_window_secs = 2592000        # longest warrant window accepted (30 days)
//! max_fields_per_warrant = 10000   # distinct escrow fields released per warrant
//! max_items_per_request = 1000     # items in one RequestShares call
//! default_agency_quota = 0         # fields per agency per 30 days, for agencies not listed
//! max_warrants_per_agency = 100    # warrants one agency may submit per 30 days
//! max_day_keys_per_warrant = 0     # day mode: (party, day) keys per warrant; 0: off
//! day_key_agency_quota = 0         # day mode: day keys per agency per 30 days
//! key_index = 1                    # optional: this trustee's index in its epochs' key sets
//! auto_accept_ceremonies = false   # accept key-ceremony proposals without the operator
//! agency_organisations = ["org-agency-1"]  # the federation's organisations whose
//!                                  # agencies this trustee serves; empty or absent: every
//!                                  # organisation the federation lets certify an agency
//! domain = "uk"                    # optional: the escrow domain this trustee serves, in a
//!                                  # deployment of several (fields of others are refused)
//! foreign_targets = "refuse"       # with domain: "refuse" (default) targets who live in
//!                                  # another domain, or "allow" them
//! [rate_limit]                     # optional: requests per caller certificate
//! per_second = 50
//! burst = 200
//! [agency_quota]
//! agency-1 = 100000
//! ```

use std::collections::BTreeMap;

use escrow_crypto::{CourtPublicKey, Domain, PartyId};
use escrow_service::ratelimit::RateLimit;
use serde::Deserialize;

/// How long the per-agency quota window is: 30 days.
pub const QUOTA_PERIOD_SECS: u64 = 30 * 86_400;
/// The first second of the quota window that ends at `now`: an event (a warrant
/// received, a field released) at time `t` counts against a quota iff
/// `t >= quota_window_start(now)`. The one rule for every quota.
pub fn quota_window_start(now: u64) -> u64 {
    now.saturating_sub(QUOTA_PERIOD_SECS)
}

/// Hard ceiling on items per request whatever the policy says.
pub const MAX_ITEMS_PER_REQUEST: u32 = 10_000;

/// Whether a verified, in-policy warrant needs an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// An operator must approve each warrant.
    Operator,
    /// Warrants within policy are approved on receipt.
    Auto,
}

/// Whether this trustee answers for a field whose label shows that a warrant target
/// it involves lives in another domain (a UK warrant on a US user who talks to UK
/// users, under any-of).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForeignTargets {
    /// Only targets whose certified home is this trustee's domain ("only our own
    /// users"); every refusal is logged.
    #[default]
    Refuse,
    /// Any target the warrant names, wherever they live, through this domain's fields.
    Allow,
}

impl ForeignTargets {
    /// The policy file's word for it.
    pub fn name(self) -> &'static str {
        match self {
            ForeignTargets::Refuse => "refuse",
            ForeignTargets::Allow => "allow",
        }
    }
}

/// The escrow domain a trustee serves, in a deployment of several (docs/protocol.md
/// §5.18), and its rule for targets who live elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainRule {
    /// This trustee's domain; `None` in a deployment of one domain, where a field with
    /// a domain label (v2) is refused.
    pub domain: Option<Domain>,
    /// What to do with targets who live in another domain.
    pub foreign_targets: ForeignTargets,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    trustee_id: String,
    approval: Approval,
    trusted_courts: Vec<String>,
    max_window_secs: u64,
    max_fields_per_warrant: u64,
    #[serde(default = "default_items")]
    max_items_per_request: u32,
    #[serde(default)]
    default_agency_quota: u64,
    #[serde(default = "default_warrants")]
    max_warrants_per_agency: u64,
    #[serde(default)]
    agency_quota: BTreeMap<String, u64>,
    #[serde(default)]
    max_day_keys_per_warrant: u64,
    #[serde(default)]
    day_key_agency_quota: u64,
    #[serde(default)]
    key_index: Option<u16>,
    #[serde(default)]
    rate_limit: Option<RateLimitFile>,
    #[serde(default)]
    auto_accept_ceremonies: bool,
    #[serde(default)]
    agency_organisations: Vec<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    foreign_targets: Option<ForeignTargets>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    per_second: f64,
    burst: u32,
}

/// Requests per second per caller certificate, and burst, unless the policy says
/// otherwise: agencies ask in batches of up to 1,000 fields, operators decide by hand.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit { per_second: 50.0, burst: 200 };

fn default_items() -> u32 {
    1000
}

fn default_warrants() -> u64 {
    100
}

/// A parsed, validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// This trustee's id.
    pub trustee_id: PartyId,
    /// Operator approval or auto-approve.
    pub approval: Approval,
    /// Courts whose warrants this trustee accepts.
    pub trusted_courts: Vec<CourtPublicKey>,
    /// Longest accepted warrant window, seconds.
    pub max_window_secs: u64,
    /// Most distinct fields released under one warrant.
    pub max_fields_per_warrant: u64,
    /// Most items in one share request.
    pub max_items_per_request: u32,
    /// Quota for agencies not listed, fields per [`QUOTA_PERIOD_SECS`].
    pub default_agency_quota: u64,
    /// Per-agency quotas, fields per [`QUOTA_PERIOD_SECS`].
    pub agency_quota: BTreeMap<PartyId, u64>,
    /// Warrants one agency may submit per [`QUOTA_PERIOD_SECS`]: a bound on how
    /// fast an agency (or a stolen agency certificate) can widen its reach, whatever
    /// the per-warrant field limits.
    pub max_warrants_per_agency: u64,
    /// The day mode: most (party, day) keys released under one warrant. Zero, the
    /// default, turns the mode off here: a day key opens everything its party sent or
    /// received that day, in the warrant's hours or not, so an operator opts in.
    pub max_day_keys_per_warrant: u64,
    /// Day keys per agency per [`QUOTA_PERIOD_SECS`], for every agency.
    pub day_key_agency_quota: u64,
    /// This trustee's index in the key sets of the epochs it holds, if the operator
    /// pins it: a share of any other index (another trustee's file) is refused at start.
    pub key_index: Option<u16>,
    /// Requests per caller certificate.
    pub rate_limit: RateLimit,
    /// Accept key-ceremony proposals from pinned trustees without waiting for the
    /// operator (who can still abort).
    pub auto_accept_ceremonies: bool,
    /// The federation's organisations whose agencies this trustee serves; empty: every
    /// organisation the federation lets certify an agency.
    pub agency_organisations: Vec<String>,
    /// The escrow domain this trustee serves and its rule for foreign targets.
    pub jurisdiction: DomainRule,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML or wrong fields.
    #[error("policy file: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value breaks a rule.
    #[error("policy file: {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl Policy {
    /// A policy as a typed value (TOML is only the file format): operator approval,
    /// 30-day windows, 10,000 fields per warrant, 1,000 items per request, no agency
    /// quota (set `agency_quota` or `default_agency_quota`), 100 warrants per agency,
    /// the default rate limit.
    pub fn new(trustee_id: PartyId, trusted_courts: Vec<CourtPublicKey>) -> Self {
        Policy {
            trustee_id,
            approval: Approval::Operator,
            trusted_courts,
            max_window_secs: QUOTA_PERIOD_SECS,
            max_fields_per_warrant: 10_000,
            max_items_per_request: default_items(),
            default_agency_quota: 0,
            agency_quota: BTreeMap::new(),
            max_warrants_per_agency: default_warrants(),
            max_day_keys_per_warrant: 0,
            day_key_agency_quota: 0,
            key_index: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            auto_accept_ceremonies: false,
            agency_organisations: Vec::new(),
            jurisdiction: DomainRule::default(),
        }
    }

    /// Parses and validates a policy file's text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let f: PolicyFile = toml::from_str(text)?;
        let invalid = |field: &str, reason: String| PolicyError::Invalid { field: field.into(), reason };
        let trustee_id = PartyId::new(&f.trustee_id).map_err(|e| invalid("trustee_id", e.to_string()))?;
        let mut trusted_courts = Vec::new();
        for (i, h) in f.trusted_courts.iter().enumerate() {
            let bytes = hex::decode(h.trim()).map_err(|e| invalid(&format!("trusted_courts[{i}]"), e.to_string()))?;
            let key = CourtPublicKey::from_bytes(&bytes)
                .map_err(|e| invalid(&format!("trusted_courts[{i}]"), e.to_string()))?;
            trusted_courts.push(key);
        }
        if f.max_window_secs == 0 {
            return Err(invalid("max_window_secs", "must be positive".into()));
        }
        if f.max_items_per_request == 0 || f.max_items_per_request > MAX_ITEMS_PER_REQUEST {
            return Err(invalid("max_items_per_request", format!("must be 1 to {MAX_ITEMS_PER_REQUEST}")));
        }
        let mut agency_quota = BTreeMap::new();
        for (agency, q) in f.agency_quota {
            let id = PartyId::new(&agency).map_err(|e| invalid(&format!("agency_quota.{agency}"), e.to_string()))?;
            agency_quota.insert(id, q);
        }
        for (i, org) in f.agency_organisations.iter().enumerate() {
            if !escrow_pki::federation::is_name(org) {
                return Err(invalid(
                    &format!("agency_organisations[{i}]"),
                    format!("{org:?} is not an organisation name"),
                ));
            }
        }
        let domain = f.domain.as_deref().map(Domain::new).transpose().map_err(|e| invalid("domain", e.to_string()))?;
        if domain.is_none() && f.foreign_targets.is_some() {
            return Err(invalid("foreign_targets", "needs a domain: set `domain` too".into()));
        }
        let jurisdiction = DomainRule { domain, foreign_targets: f.foreign_targets.unwrap_or_default() };
        let rate_limit = match f.rate_limit {
            Some(r) => RateLimit::new(r.per_second, r.burst).map_err(|e| invalid("rate_limit", e))?,
            None => DEFAULT_RATE_LIMIT,
        };
        Ok(Policy {
            key_index: f.key_index,
            rate_limit,
            trustee_id,
            approval: f.approval,
            trusted_courts,
            max_window_secs: f.max_window_secs,
            max_fields_per_warrant: f.max_fields_per_warrant,
            max_items_per_request: f.max_items_per_request,
            default_agency_quota: f.default_agency_quota,
            agency_quota,
            max_warrants_per_agency: f.max_warrants_per_agency,
            max_day_keys_per_warrant: f.max_day_keys_per_warrant,
            day_key_agency_quota: f.day_key_agency_quota,
            auto_accept_ceremonies: f.auto_accept_ceremonies,
            agency_organisations: f.agency_organisations,
            jurisdiction,
        })
    }

    /// The policy file text for this policy: [`Policy::from_toml`] reads it back to an
    /// equal policy. For tools that build a policy as a value and hand it to a trustee
    /// process as a file.
    pub fn to_toml(&self) -> String {
        let approval = match self.approval {
            Approval::Operator => "operator",
            Approval::Auto => "auto",
        };
        let courts: Vec<String> =
            self.trusted_courts.iter().map(|c| format!("{:?}", hex::encode(c.to_bytes()))).collect();
        let mut out = format!(
            "trustee_id = {:?}\napproval = {approval:?}\ntrusted_courts = [{}]\nmax_window_secs = {}\n\
             max_fields_per_warrant = {}\nmax_items_per_request = {}\ndefault_agency_quota = {}\n\
             max_warrants_per_agency = {}\n",
            self.trustee_id.as_str(),
            courts.join(", "),
            self.max_window_secs,
            self.max_fields_per_warrant,
            self.max_items_per_request,
            self.default_agency_quota,
            self.max_warrants_per_agency,
        );
        if self.max_day_keys_per_warrant > 0 || self.day_key_agency_quota > 0 {
            out.push_str(&format!(
                "max_day_keys_per_warrant = {}\nday_key_agency_quota = {}\n",
                self.max_day_keys_per_warrant, self.day_key_agency_quota
            ));
        }
        if let Some(k) = self.key_index {
            out.push_str(&format!("key_index = {k}\n"));
        }
        if self.auto_accept_ceremonies {
            out.push_str("auto_accept_ceremonies = true\n");
        }
        if !self.agency_organisations.is_empty() {
            let names: Vec<String> = self.agency_organisations.iter().map(|o| format!("{o:?}")).collect();
            out.push_str(&format!("agency_organisations = [{}]\n", names.join(", ")));
        }
        if let Some(d) = &self.jurisdiction.domain {
            out.push_str(&format!(
                "domain = {:?}\nforeign_targets = {:?}\n",
                d.as_str(),
                self.jurisdiction.foreign_targets.name()
            ));
        }
        // `{:?}` of an f64 always has a decimal point or exponent, so TOML reads a float.
        out.push_str(&format!(
            "\n[rate_limit]\nper_second = {:?}\nburst = {}\n",
            self.rate_limit.per_second, self.rate_limit.burst
        ));
        out.push_str("\n[agency_quota]\n");
        for (agency, q) in &self.agency_quota {
            out.push_str(&format!("{:?} = {q}\n", agency.as_str()));
        }
        out
    }

    /// Whether this trustee serves agencies certified by organisation `org`.
    pub fn serves_agencies_of(&self, org: &str) -> bool {
        self.agency_organisations.is_empty() || self.agency_organisations.iter().any(|o| o == org)
    }

    /// The quota of `agency`, fields per [`QUOTA_PERIOD_SECS`].
    pub fn quota(&self, agency: &PartyId) -> u64 {
        self.agency_quota.get(agency).copied().unwrap_or(self.default_agency_quota)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        trustee_id = "trustee-1"
        approval = "operator"
        trusted_courts = []
        max_window_secs = 172800
        max_fields_per_warrant = 100
        [agency_quota]
        agency-1 = 50
    "#;

    #[test]
    fn parses_and_defaults() {
        let p = Policy::from_toml(GOOD).unwrap();
        assert_eq!(p.approval, Approval::Operator);
        assert_eq!(p.max_items_per_request, 1000);
        assert_eq!(p.max_warrants_per_agency, 100);
        assert_eq!(p.quota(&PartyId::new("agency-1").unwrap()), 50);
        assert_eq!(p.quota(&PartyId::new("agency-2").unwrap()), 0);
        assert_eq!(p.key_index, None);
        assert_eq!(p.rate_limit, DEFAULT_RATE_LIMIT);
        assert_eq!((p.max_day_keys_per_warrant, p.day_key_agency_quota), (0, 0), "the day mode is off unless set");
    }

    /// No domain: a one-domain deployment. A domain alone refuses foreign targets.
    #[test]
    fn parses_the_domain_and_its_rule_for_foreign_targets() {
        assert_eq!(Policy::from_toml(GOOD).unwrap().jurisdiction, DomainRule::default());
        let p = Policy::from_toml(&format!("domain = \"uk\"\n{GOOD}")).unwrap();
        assert_eq!(p.jurisdiction.domain, Some(Domain::new("uk").unwrap()));
        assert_eq!(p.jurisdiction.foreign_targets, ForeignTargets::Refuse);
        let p = Policy::from_toml(&format!("domain = \"us\"\nforeign_targets = \"allow\"\n{GOOD}")).unwrap();
        assert_eq!(p.jurisdiction.foreign_targets, ForeignTargets::Allow);
    }

    #[test]
    fn parses_the_key_index_and_rate_limit() {
        let p =
            Policy::from_toml(&format!("key_index = 3\n{GOOD}\n[rate_limit]\nper_second = 2.5\nburst = 7\n")).unwrap();
        assert_eq!(p.key_index, Some(3));
        assert_eq!(p.rate_limit, RateLimit { per_second: 2.5, burst: 7 });
    }

    #[test]
    fn a_typed_policy_round_trips_through_its_file_text() {
        use rand::SeedableRng;
        let court = escrow_crypto::CourtSecretKey::generate(
            PartyId::new("high-court").unwrap(),
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
        );
        let mut p = Policy::new(PartyId::new("trustee-3").unwrap(), vec![court.public()]);
        p.approval = Approval::Auto;
        p.key_index = Some(3);
        p.auto_accept_ceremonies = true;
        p.rate_limit = RateLimit { per_second: 2.0, burst: 9 };
        p.agency_quota.insert(PartyId::new("agency-1").unwrap(), 77);
        p.default_agency_quota = 5;
        p.agency_organisations = vec!["org-agency-1".into(), "police".into()];
        p.max_day_keys_per_warrant = 60;
        p.day_key_agency_quota = 600;
        p.jurisdiction =
            DomainRule { domain: Some(Domain::new("uk").unwrap()), foreign_targets: ForeignTargets::Allow };
        let back = Policy::from_toml(&p.to_toml()).unwrap();
        assert_eq!(back.jurisdiction, p.jurisdiction);
        assert_eq!((back.max_day_keys_per_warrant, back.day_key_agency_quota), (60, 600));
        assert_eq!(back.to_toml(), p.to_toml());
        assert_eq!((back.approval, back.key_index, back.rate_limit), (Approval::Auto, Some(3), p.rate_limit));
        assert!(back.auto_accept_ceremonies);
        assert_eq!(back.trusted_courts, p.trusted_courts);
        assert_eq!(back.quota(&PartyId::new("agency-1").unwrap()), 77);
        assert_eq!(back.quota(&PartyId::new("agency-9").unwrap()), 5);
        assert!(back.serves_agencies_of("police") && !back.serves_agencies_of("org-agency-2"));
        let empty = Policy::new(PartyId::new("trustee-0").unwrap(), Vec::new());
        assert!(empty.serves_agencies_of("anyone"), "no list: every agency organisation of the federation");
        let bad = format!("agency_organisations = [\"bad name\"]\n{GOOD}");
        assert!(Policy::from_toml(&bad).unwrap_err().to_string().contains("agency_organisations[0]"));
        assert_eq!(Policy::from_toml(&empty.to_toml()).unwrap().to_toml(), empty.to_toml());
    }

    #[test]
    fn the_quota_window_includes_its_first_second() {
        let now = 100 * 86_400;
        let start = quota_window_start(now);
        assert_eq!(now - start, QUOTA_PERIOD_SECS);
        assert_eq!(quota_window_start(5), 0, "no underflow near the epoch");
    }

    #[test]
    fn the_example_in_deploy_parses() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/policy.example.toml"))
            .expect("deploy/policy.example.toml exists");
        let p = Policy::from_toml(&text).expect("the example policy is valid");
        assert_eq!(p.trusted_courts.len(), 1);
        assert_eq!(p.quota(&PartyId::new("agency-1").unwrap()), 100_000);
    }

    #[test]
    fn refuses_bad_files() {
        for (bad, what) in [
            (GOOD.replace("operator", "sometimes"), "approval"),
            (GOOD.replace("trusted_courts = []", "trusted_courts = [\"zz\"]"), "trusted_courts[0]"),
            (GOOD.replace("trusted_courts = []", "trusted_courts = [\"0100\"]"), "trusted_courts[0]"),
            (GOOD.replace("172800", "0"), "max_window_secs"),
            (GOOD.replace("trustee-1", "trustee 1"), "trustee_id"),
            (GOOD.replace("agency-1 = 50", "\"bad agency\" = 50"), "agency_quota"),
            (format!("unknown_key = 1\n{GOOD}"), "unknown"),
            (format!("max_items_per_request = 0\n{GOOD}"), "max_items_per_request"),
            (format!("{GOOD}\n[rate_limit]\nper_second = 0\nburst = 5\n"), "rate_limit"),
            (format!("{GOOD}\n[rate_limit]\nper_second = 5\nburst = 0\n"), "rate_limit"),
            (format!("key_index = -1\n{GOOD}"), "key_index"),
            (format!("domain = \"UK\"\n{GOOD}"), "domain"),
            (format!("foreign_targets = \"allow\"\n{GOOD}"), "foreign_targets: needs a domain"),
            (format!("domain = \"uk\"\nforeign_targets = \"sometimes\"\n{GOOD}"), "foreign_targets"),
        ] {
            let err = Policy::from_toml(&bad).unwrap_err().to_string();
            assert!(err.contains(what), "{what}: {err}");
        }
    }
}
