//! The federation: every organisation of one deployment, each with its own CA, the
//! identities that CA may certify and the keys it pins — so that no one key is a root
//! for everybody.
//!
//! A deployment spans organisations that do not trust one another's CAs: the
//! organisations running the trustees, the provider running the relay, the agencies,
//! the courts, the auditors and the witnesses. Each makes its CA and its people's
//! certificates on its own machine and publishes an *entry*: its name, its CA
//! certificate, the identities it certifies (`operator/trustee-2/*`), the keys it
//! pins (a trustee's signing key, a court's warrant key, a witness's cosigning key),
//! and a signature over all of that by its own CA key. The federation file is the
//! list of entries; every party pins it, and [`Federation::parse`] is the one check
//! every command that reads it runs.
//!
//! What the check guarantees, and the TLS verifiers ([`crate::trust`]) rely on:
//! - every entry is signed by the CA it names, for this deployment;
//! - no two organisations may certify one identity, and no two share a CA;
//! - only the organisation that certifies trustee `T` certifies `T`'s operators and
//!   pins `T`'s signing key.
//!
//! So a certificate for "operator of trustee-2" is believed only if trustee-2's own
//! organisation's CA issued it, and one stolen CA key reaches one organisation's
//! identities — at most one trustee's approvals.
//!
//! Rotation and revocation: an organisation publishes a new entry with a higher
//! generation, signed by its new CA, listing the old CA under `previous` with the
//! time its trust ends (now, for a revocation). There are no CRLs: operator
//! certificates are short-lived, and an organisation's whole CA is withdrawn by its
//! entry. The crate does no IO.

use std::collections::BTreeSet;

use base64::Engine as _;
use escrow_crypto::{PartyId, TrusteePins, TrusteeVerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{Ca, Identity, Role};

mod parts;
pub use parts::{Anchor, Pattern, Pin};

/// Longest federation file read, bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Most organisations in one federation.
pub const MAX_ORGANISATIONS: usize = 64;
/// Most patterns, pins or previous CAs in one entry.
pub const MAX_PER_ENTRY: usize = 64;
/// Longest organisation or deployment name.
pub const MAX_NAME_LEN: usize = 64;

const DOMAIN: &[u8] = b"escrow federation entry v1\0";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a federation file or entry was refused. Each names the organisation at fault
/// where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// The text is not a federation file.
    #[error("not a federation file: {0}")]
    Syntax(String),
    /// An entry is malformed (a bad name, pattern, pin or certificate).
    #[error("organisation {org:?}: {reason}")]
    Entry {
        /// The organisation.
        org: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry's signature does not verify under the CA it names.
    #[error(
        "organisation {org:?}: the entry's signature does not verify under its own CA: the entry was altered or forged"
    )]
    Signature {
        /// The organisation.
        org: String,
    },
    /// Two organisations claim one thing (an identity, a CA, a name, a pinned key).
    #[error("organisations {first:?} and {second:?} both claim {what}: each identity, CA and key has one owner")]
    Conflict {
        /// The organisation listed first.
        first: String,
        /// The one listed second.
        second: String,
        /// What both claim.
        what: String,
    },
    /// An operator pattern or trustee pin outside the trustee's own organisation.
    #[error("organisation {org:?} claims {what}, but trustee {trustee} belongs to {owner}: only a trustee's own organisation certifies its operators and pins its key")]
    NotItsTrustee {
        /// The organisation.
        org: String,
        /// The claim.
        what: String,
        /// The trustee.
        trustee: String,
        /// Who certifies that trustee, or "no organisation".
        owner: String,
    },
    /// A replacement entry that does not supersede the one it replaces.
    #[error("organisation {org:?}: generation {new} does not supersede generation {old}: a replacement entry needs a higher generation")]
    Stale {
        /// The organisation.
        org: String,
        /// Its generation in the federation.
        old: u64,
        /// The new entry's.
        new: u64,
    },
    /// An entry made for another deployment.
    #[error("organisation {org:?}: the entry is for deployment {entry:?}, not {federation:?}")]
    Deployment {
        /// The organisation.
        org: String,
        /// The entry's deployment.
        entry: String,
        /// The federation's.
        federation: String,
    },
}

fn entry_err(org: &str, reason: impl Into<String>) -> FederationError {
    FederationError::Entry { org: org.to_owned(), reason: reason.into() }
}

/// A CA an organisation retired, trusted until a time (its rotation overlap, or now
/// for a revocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retired {
    /// The old CA.
    pub ca: Anchor,
    /// Unix seconds after which certificates of this CA are refused.
    pub trusted_until: u64,
}

/// One organisation's entry: who it is, what it certifies and pins, and its CA —
/// checked: only [`Organisation::sign`] and [`Federation::parse`] build one, and both
/// verify the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    /// What it states, as signed.
    draft: Draft,
    ca: Anchor,
    signature: Vec<u8>,
}

/// What an organisation states in its entry, before it signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The deployment the entry is for.
    pub deployment: String,
    /// The organisation's name, unique in the federation.
    pub name: String,
    /// Starts at 1; a replacement entry needs a higher one.
    pub generation: u64,
    /// The identities its CA certifies.
    pub certifies: Vec<Pattern>,
    /// The keys it pins.
    pub pins: Vec<Pin>,
    /// Retired CAs still trusted for a while.
    pub previous: Vec<Retired>,
}

/// Whether `name` may name an organisation or a deployment: 1 to [`MAX_NAME_LEN`] of
/// `A-Z a-z 0-9 - _ .` (safe in file names, terminals and TOML keys).
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The patterns of an organisation that certifies every identity: the one root.
pub const EVERY_IDENTITY: [&str; 7] =
    ["trustee/*", "operator/*/*", "relay/*", "agency/*", "auditor/*", "user/*", "witness/*"];

fn check_name(org: &str, what: &str, name: &str) -> Result<(), FederationError> {
    if is_name(name) {
        Ok(())
    } else {
        Err(entry_err(org, format!("{what} {name:?} must be 1-{MAX_NAME_LEN} of A-Z a-z 0-9 - _ .")))
    }
}

fn signed_bytes(d: &Draft, ca: &Anchor) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut out = DOMAIN.to_vec();
    field(&mut out, d.deployment.as_bytes());
    field(&mut out, d.name.as_bytes());
    out.extend_from_slice(&d.generation.to_be_bytes());
    field(&mut out, ca.der());
    out.extend_from_slice(&(d.certifies.len() as u32).to_be_bytes());
    for p in &d.certifies {
        field(&mut out, p.to_string().as_bytes());
    }
    out.extend_from_slice(&(d.pins.len() as u32).to_be_bytes());
    for p in &d.pins {
        field(&mut out, p.to_string().as_bytes());
    }
    out.extend_from_slice(&(d.previous.len() as u32).to_be_bytes());
    for r in &d.previous {
        field(&mut out, r.ca.der());
        out.extend_from_slice(&r.trusted_until.to_be_bytes());
    }
    out
}

/// Checks one draft on its own (names, sizes, no duplicates, pins it may hold).
fn check_draft(d: &Draft, ca: &Anchor) -> Result<(), FederationError> {
    let org = d.name.as_str();
    check_name(org, "organisation name", org)?;
    check_name(org, "deployment name", &d.deployment)?;
    if d.generation == 0 {
        return Err(entry_err(org, "generation starts at 1"));
    }
    for (what, n) in [("patterns", d.certifies.len()), ("pins", d.pins.len()), ("previous CAs", d.previous.len())] {
        if n > MAX_PER_ENTRY {
            return Err(entry_err(org, format!("more than {MAX_PER_ENTRY} {what}")));
        }
    }
    for (i, p) in d.certifies.iter().enumerate() {
        if d.certifies.iter().skip(i + 1).any(|q| q.overlaps(p)) {
            return Err(entry_err(org, format!("pattern {p} overlaps another of its own patterns")));
        }
    }
    for r in &d.previous {
        if r.ca == *ca || r.ca.public_key == ca.public_key {
            return Err(entry_err(org, "a previous CA is the current one"));
        }
    }
    Ok(())
}

impl Organisation {
    /// Signs `draft` with `ca`'s key: the entry this organisation publishes.
    pub fn sign(draft: Draft, ca: &Ca) -> Result<Self, FederationError> {
        let anchor = Anchor::from_pem(ca.cert_pem()).map_err(|e| entry_err(&draft.name, e))?;
        check_draft(&draft, &anchor)?;
        let signature = ca.sign(&signed_bytes(&draft, &anchor)).map_err(|e| entry_err(&draft.name, e.to_string()))?;
        Ok(Organisation { draft, ca: anchor, signature })
    }

    fn checked(draft: Draft, ca: Anchor, signature: Vec<u8>) -> Result<Self, FederationError> {
        check_draft(&draft, &ca)?;
        if !ca.verify(&signed_bytes(&draft, &ca), &signature) {
            return Err(FederationError::Signature { org: draft.name });
        }
        Ok(Organisation { draft, ca, signature })
    }

    /// The deployment its entry is for.
    pub fn deployment(&self) -> &str {
        &self.draft.deployment
    }

    /// The organisation's name.
    pub fn name(&self) -> &str {
        &self.draft.name
    }

    /// Its entry's generation.
    pub fn generation(&self) -> u64 {
        self.draft.generation
    }

    /// What it certifies.
    pub fn certifies(&self) -> &[Pattern] {
        &self.draft.certifies
    }

    /// What it pins.
    pub fn pins(&self) -> &[Pin] {
        &self.draft.pins
    }

    /// Its current CA.
    pub fn ca(&self) -> &Anchor {
        &self.ca
    }

    /// Its retired CAs.
    pub fn previous(&self) -> &[Retired] {
        &self.draft.previous
    }

    /// Whether its CA may certify `identity`.
    pub fn may_certify(&self, identity: &Identity) -> bool {
        self.draft.certifies.iter().any(|p| p.matches(identity))
    }

    /// Every CA this entry names, with the time (Unix seconds) its certificates stop
    /// being believed: the current CA when it expires, and each retired one at the
    /// earlier of its `trusted_until` and its expiry.
    pub fn anchors(&self) -> Vec<(&Anchor, u64)> {
        let mut out = vec![(&self.ca, self.ca.not_after())];
        out.extend(self.draft.previous.iter().map(|r| (&r.ca, r.trusted_until.min(r.ca.not_after()))));
        out
    }

    /// The trustees whose operators this organisation's CA alone can certify, out of
    /// `trustees`: what one stolen CA key of this organisation could approve at.
    pub fn operator_reach<'a>(&self, trustees: &'a [PartyId]) -> Vec<&'a PartyId> {
        trustees
            .iter()
            .filter(|t| {
                let probe = PartyId::new("probe").map(|p| Identity::operator((*t).clone(), p));
                probe.is_ok_and(|op| self.may_certify(&op))
            })
            .collect()
    }

    /// The trustee signing keys this entry pins.
    fn trustee_keys(&self) -> impl Iterator<Item = &TrusteeVerifyingKey> {
        self.draft.pins.iter().filter_map(|p| if let Pin::Trustee(k) = p { Some(k) } else { None })
    }

    /// The trustees this organisation certifies by name (`trustee/<id>`).
    fn named_trustees(&self) -> impl Iterator<Item = &PartyId> {
        self.draft.certifies.iter().filter(|p| p.role == Role::Trustee).filter_map(|p| p.id.as_ref())
    }
}

/// Every organisation of one deployment, checked together (see the module
/// documentation): only [`Federation::parse`] and [`Federation::new`] build one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Federation {
    deployment: String,
    organisations: Vec<Organisation>,
}

/// What [`Federation::with`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new organisation joined.
    Joined,
    /// An organisation's entry was replaced; `ca_changed` if its CA is a new one.
    Replaced {
        /// The generation replaced.
        old_generation: u64,
        /// Whether the CA changed (a rotation or revocation: compare fingerprints out
        /// of band before accepting).
        ca_changed: bool,
    },
}

impl Federation {
    /// The federation of `organisations`, all for `deployment`, checked together.
    pub fn new(deployment: &str, organisations: Vec<Organisation>) -> Result<Self, FederationError> {
        check_name("", "deployment name", deployment)?;
        if organisations.len() > MAX_ORGANISATIONS {
            return Err(FederationError::Syntax(format!("more than {MAX_ORGANISATIONS} organisations")));
        }
        for o in &organisations {
            if o.draft.deployment != deployment {
                return Err(FederationError::Deployment {
                    org: o.draft.name.clone(),
                    entry: o.draft.deployment.clone(),
                    federation: deployment.to_owned(),
                });
            }
        }
        check_together(&organisations)?;
        Ok(Federation { deployment: deployment.to_owned(), organisations })
    }

    /// A federation of one organisation, `name`, whose CA `ca` certifies every
    /// identity: the one-root layout of a single-machine demo, where this one key can
    /// approve at every trustee.
    pub fn one_root(deployment: &str, name: &str, ca: &Ca, pins: Vec<Pin>) -> Result<Self, FederationError> {
        let certifies = EVERY_IDENTITY
            .iter()
            .map(|p| Pattern::parse(p).map_err(|e| entry_err(name, e)))
            .collect::<Result<_, _>>()?;
        let draft = Draft {
            deployment: deployment.into(),
            name: name.into(),
            generation: 1,
            certifies,
            pins,
            previous: vec![],
        };
        Federation::new(deployment, vec![Organisation::sign(draft, ca)?])
    }

    /// The deployment's name.
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// Every organisation, in file order.
    pub fn organisations(&self) -> &[Organisation] {
        &self.organisations
    }

    /// The organisation named `name`.
    pub fn organisation(&self, name: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.draft.name == name)
    }

    /// The one organisation that may certify `identity`; `None` if no organisation
    /// may (every party then refuses the certificate).
    pub fn organisation_for(&self, identity: &Identity) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.may_certify(identity))
    }

    /// Every trustee's pinned signing key.
    pub fn trustee_pins(&self) -> Result<TrusteePins, FederationError> {
        let keys = self.organisations.iter().flat_map(Organisation::trustee_keys).cloned().collect();
        TrusteePins::new(keys).map_err(|e| FederationError::Syntax(e.to_string()))
    }

    /// Every trustee an entry names (`trustee/<id>`) or pins a key of, in file order.
    pub fn trustees(&self) -> Vec<PartyId> {
        let mut out: Vec<PartyId> = Vec::new();
        for o in &self.organisations {
            for t in o.named_trustees().chain(o.trustee_keys().map(TrusteeVerifyingKey::trustee)) {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
        out
    }

    /// This federation with `entry` added, or replacing the entry of the same name
    /// (which needs a higher generation); the whole is checked again.
    pub fn with(&self, entry: Organisation) -> Result<(Federation, Change), FederationError> {
        let mut orgs = self.organisations.clone();
        let change = match orgs.iter_mut().find(|o| o.draft.name == entry.draft.name) {
            Some(old) => {
                if entry.draft.generation <= old.draft.generation {
                    return Err(FederationError::Stale {
                        org: entry.draft.name,
                        old: old.draft.generation,
                        new: entry.draft.generation,
                    });
                }
                let change = Change::Replaced { old_generation: old.draft.generation, ca_changed: old.ca != entry.ca };
                *old = entry;
                change
            }
            None => {
                orgs.push(entry);
                Change::Joined
            }
        };
        Ok((Federation::new(&self.deployment, orgs)?, change))
    }

    /// Reads and checks a federation file (see the module documentation for what is
    /// checked); the error names the organisation at fault.
    pub fn parse(text: &str) -> Result<Self, FederationError> {
        if text.len() > MAX_FILE_BYTES {
            return Err(FederationError::Syntax(format!("longer than {MAX_FILE_BYTES} bytes")));
        }
        let file: FileForm = toml::from_str(text).map_err(|e| FederationError::Syntax(e.message().to_owned()))?;
        let mut orgs = Vec::with_capacity(file.organisation.len());
        for e in file.organisation {
            let org = e.name.clone();
            let certifies = e
                .certifies
                .iter()
                .map(|p| Pattern::parse(p).map_err(|r| entry_err(&org, r)))
                .collect::<Result<_, _>>()?;
            let pins =
                e.pins.iter().map(|p| Pin::parse(p).map_err(|r| entry_err(&org, r))).collect::<Result<_, _>>()?;
            let previous = e
                .previous
                .iter()
                .map(|r| {
                    Ok(Retired {
                        ca: Anchor::from_pem(&r.ca).map_err(|why| entry_err(&org, format!("previous {why}")))?,
                        trusted_until: r.trusted_until,
                    })
                })
                .collect::<Result<_, FederationError>>()?;
            let ca = Anchor::from_pem(&e.ca).map_err(|why| entry_err(&org, why))?;
            let signature = B64.decode(e.signature.trim()).map_err(|_| entry_err(&org, "signature is not base64"))?;
            let draft = Draft {
                deployment: file.deployment.clone(),
                name: e.name,
                generation: e.generation,
                certifies,
                pins,
                previous,
            };
            orgs.push(Organisation::checked(draft, ca, signature)?);
        }
        Federation::new(&file.deployment, orgs)
    }

    /// The file text: readable, one entry per organisation, stable so that two
    /// versions diff by what changed.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# escrow federation: every organisation of one deployment, each entry signed by its own CA.\n\
             # Check it with `escrow federation verify <file>`; every party pins this file.\n",
        );
        out.push_str(&format!("deployment = {:?}\n", self.deployment));
        for o in &self.organisations {
            out.push_str(&format!(
                "\n[[organisation]]\nname = {:?}\ngeneration = {}\n",
                o.draft.name, o.draft.generation
            ));
            out.push_str(&format!("# CA {}\n", o.ca.fingerprint()));
            out.push_str(&list("certifies", o.draft.certifies.iter().map(ToString::to_string)));
            out.push_str(&list("pins", o.draft.pins.iter().map(ToString::to_string)));
            out.push_str(&format!("ca = \"\"\"\n{}\"\"\"\n", o.ca.pem()));
            out.push_str(&format!("signature = {:?}\n", B64.encode(&o.signature)));
            for r in &o.draft.previous {
                out.push_str(&format!(
                    "\n[[organisation.previous]]\n# CA {}\ntrusted_until = {}\nca = \"\"\"\n{}\"\"\"\n",
                    r.ca.fingerprint(),
                    r.trusted_until,
                    r.ca.pem()
                ));
            }
        }
        out
    }

    /// `SHA256:<hex>` of the rendered file: what parties compare to know they pin the
    /// same federation.
    pub fn digest(&self) -> String {
        format!("SHA256:{}", hex::encode(Sha256::digest(self.render().as_bytes())))
    }
}

impl Organisation {
    /// This entry as a federation file of its own, to hand to whoever combines the
    /// federation.
    pub fn render_entry(&self) -> Result<String, FederationError> {
        Ok(Federation::new(&self.draft.deployment, vec![self.clone()])?.render())
    }

    /// The entry signed again by `ca` with `change` applied to its draft, its
    /// generation raised by one: a rotation when `ca` is a new CA (list the old one
    /// in `previous`), an update of pins or patterns otherwise.
    pub fn reissue(&self, ca: &Ca, change: impl FnOnce(&mut Draft)) -> Result<Organisation, FederationError> {
        let mut d = self.draft.clone();
        d.generation =
            self.draft.generation.checked_add(1).ok_or_else(|| entry_err(&self.draft.name, "generation overflow"))?;
        change(&mut d);
        Organisation::sign(d, ca)
    }
}

fn list(key: &str, items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.map(|s| format!("  {s:?},\n")).collect();
    if items.is_empty() {
        format!("{key} = []\n")
    } else {
        format!("{key} = [\n{}]\n", items.concat())
    }
}

/// The cross-entry rules (module documentation).
fn check_together(orgs: &[Organisation]) -> Result<(), FederationError> {
    let conflict = |a: &Organisation, b: &Organisation, what: String| FederationError::Conflict {
        first: a.draft.name.clone(),
        second: b.draft.name.clone(),
        what,
    };
    for (i, a) in orgs.iter().enumerate() {
        for b in orgs.iter().skip(i + 1) {
            if a.draft.name == b.draft.name {
                return Err(conflict(a, b, "one name".into()));
            }
            let a_keys: BTreeSet<&[u8]> =
                std::iter::once(&a.ca).chain(a.draft.previous.iter().map(|r| &r.ca)).map(|c| &*c.public_key).collect();
            if std::iter::once(&b.ca)
                .chain(b.draft.previous.iter().map(|r| &r.ca))
                .any(|c| a_keys.contains(&*c.public_key))
            {
                return Err(conflict(a, b, "one CA key".into()));
            }
            if a.ca.subject == b.ca.subject {
                return Err(conflict(a, b, "one CA subject name".into()));
            }
            for p in &a.draft.certifies {
                if let Some(q) = b.draft.certifies.iter().find(|q| q.overlaps(p)) {
                    return Err(conflict(a, b, format!("identities of both {p} and {q}")));
                }
            }
            for p in &a.draft.pins {
                if b.draft.pins.iter().any(|q| q.owner() == p.owner()) {
                    return Err(conflict(a, b, p.owner()));
                }
            }
        }
    }
    // Operators and trustee pins belong to the trustee's own organisation.
    let owner_of = |t: &PartyId| -> Option<&Organisation> {
        let probe = Identity::new(Role::Trustee, t.clone()).ok()?;
        orgs.iter().find(|o| o.may_certify(&probe))
    };
    for o in orgs {
        for p in o.draft.certifies.iter().filter(|p| p.role == Role::Operator) {
            let trustees_covered: Vec<&Organisation> = match &p.trustee {
                Some(t) => owner_of(t).into_iter().collect(),
                None => orgs.iter().filter(|x| x.draft.certifies.iter().any(|q| q.role == Role::Trustee)).collect(),
            };
            let trustee = p.trustee.as_ref().map_or("*".to_string(), ToString::to_string);
            if let Some(other) = trustees_covered.iter().find(|x| x.draft.name != o.draft.name) {
                return Err(FederationError::NotItsTrustee {
                    org: o.draft.name.clone(),
                    what: p.to_string(),
                    trustee,
                    owner: other.draft.name.clone(),
                });
            }
            if p.trustee.is_some() && trustees_covered.is_empty() {
                return Err(FederationError::NotItsTrustee {
                    org: o.draft.name.clone(),
                    what: p.to_string(),
                    trustee,
                    owner: "no organisation".into(),
                });
            }
        }
        for pin in &o.draft.pins {
            if let Pin::Trustee(k) = pin {
                let owner = owner_of(k.trustee());
                if owner.is_none_or(|x| x.draft.name != o.draft.name) {
                    return Err(FederationError::NotItsTrustee {
                        org: o.draft.name.clone(),
                        what: pin.owner(),
                        trustee: k.trustee().to_string(),
                        owner: owner.map_or("no organisation".into(), |x| x.draft.name.clone()),
                    });
                }
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    deployment: String,
    #[serde(default)]
    organisation: Vec<EntryForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryForm {
    name: String,
    generation: u64,
    #[serde(default)]
    certifies: Vec<String>,
    #[serde(default)]
    pins: Vec<String>,
    ca: String,
    signature: String,
    #[serde(default)]
    previous: Vec<RetiredForm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetiredForm {
    ca: String,
    trusted_until: u64,
}
