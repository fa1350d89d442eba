//! What an organisation's entry is made of: the identity patterns it certifies
//! ([`Pattern`]), the keys it pins ([`Pin`]) and its CA certificate ([`Anchor`]), each
//! parsed from its text form once.

use std::fmt;

use escrow_crypto::{CourtPublicKey, PartyId, TrusteeVerifyingKey};
use escrow_log::WitnessVerifier;
use sha2::{Digest, Sha256};

use crate::{Identity, Role};

/// Which identities an organisation may certify: `role/id`, `role/*`,
/// `operator/<trustee>/<name>`, `operator/<trustee>/*` (a `*` trustee is allowed only
/// with a `*` name: `operator/*/*`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern {
    pub(super) role: Role,
    /// For an operator: the trustee (`None` is `*`).
    pub(super) trustee: Option<PartyId>,
    /// `None` is `*`.
    pub(super) id: Option<PartyId>,
}

impl Pattern {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("pattern {text:?}: {why}");
        let mut parts = text.split('/');
        let role = parts.next().and_then(Role::parse).ok_or_else(|| bad("unknown role"))?;
        let part = |s: Option<&str>| -> Result<Option<PartyId>, String> {
            match s.ok_or_else(|| bad("missing id"))? {
                "*" => Ok(None),
                s => PartyId::new(s).map(Some).map_err(|e| bad(&e.to_string())),
            }
        };
        let trustee = if role == Role::Operator { part(parts.next())? } else { None };
        let id = part(parts.next())?;
        if parts.next().is_some() {
            return Err(bad("too many segments"));
        }
        if role == Role::Operator && trustee.is_none() && id.is_some() {
            return Err(bad("operator/*/<name> would certify one name at every trustee: use operator/*/*"));
        }
        Ok(Pattern { role, trustee, id })
    }

    /// Whether `identity` is one this pattern certifies.
    pub fn matches(&self, identity: &Identity) -> bool {
        fn fits(p: &Option<PartyId>, v: Option<&PartyId>) -> bool {
            p.as_ref().is_none_or(|p| Some(p) == v)
        }
        self.role == identity.role()
            && fits(&self.id, Some(identity.id()))
            && (self.role != Role::Operator || fits(&self.trustee, identity.operated_trustee()))
    }

    /// Whether some identity matches both patterns.
    pub(super) fn overlaps(&self, other: &Pattern) -> bool {
        fn meet(a: &Option<PartyId>, b: &Option<PartyId>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        self.role == other.role && meet(&self.id, &other.id) && meet(&self.trustee, &other.trustee)
    }

    /// The role this pattern certifies.
    pub fn role(&self) -> Role {
        self.role
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = |p: &Option<PartyId>| p.as_ref().map_or("*".to_string(), ToString::to_string);
        match self.role {
            Role::Operator => write!(f, "operator/{}/{}", star(&self.trustee), star(&self.id)),
            r => write!(f, "{r}/{}", star(&self.id)),
        }
    }
}

/// A key an organisation pins for everyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// A trustee's signing key (epoch announcements, ceremony messages).
    Trustee(TrusteeVerifyingKey),
    /// A court's warrant-signing key.
    Court(CourtPublicKey),
    /// A witness's cosigning key.
    Witness(WitnessVerifier),
}

impl Pin {
    /// Parses `trustee <hex>`, `court <hex>` or `witness <vkey>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (kind, value) = text.split_once(' ').ok_or_else(|| format!("pin {text:?}: expected `<kind> <key>`"))?;
        let bytes = || hex::decode(value).map_err(|e| format!("pin {text:?}: {e}"));
        match kind {
            "trustee" => TrusteeVerifyingKey::from_bytes(&bytes()?).map(Pin::Trustee).map_err(|e| e.to_string()),
            "court" => CourtPublicKey::from_bytes(&bytes()?).map(Pin::Court).map_err(|e| e.to_string()),
            "witness" => value.parse().map(Pin::Witness).map_err(|e: escrow_log::LogError| e.to_string()),
            _ => Err(format!("pin {text:?}: the kind is trustee, court or witness")),
        }
    }

    /// What the pin names, for conflicts: `trustee trustee-0`, `court court-1`,
    /// `witness w1`.
    pub(super) fn owner(&self) -> String {
        match self {
            Pin::Trustee(k) => format!("the signing key of trustee {}", k.trustee()),
            Pin::Court(k) => format!("the key of court {}", k.court()),
            Pin::Witness(k) => format!("the key of witness {}", k.name()),
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Trustee(k) => write!(f, "trustee {}", hex::encode(k.to_bytes())),
            Pin::Court(k) => write!(f, "court {}", hex::encode(k.to_bytes())),
            Pin::Witness(k) => write!(f, "witness {k}"),
        }
    }
}

/// A CA certificate an organisation's entry names, read once.
#[derive(Clone, PartialEq, Eq)]
pub struct Anchor {
    pem: String,
    der: Vec<u8>,
    /// The certificate's own end of validity, Unix seconds.
    not_after: u64,
    pub(super) subject: Vec<u8>,
    pub(super) public_key: Vec<u8>,
}

impl fmt::Debug for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Anchor({})", self.fingerprint())
    }
}

impl Anchor {
    /// Reads a CA certificate; refuses one that is not a CA.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let (_, block) =
            x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| format!("CA certificate: not PEM: {e}"))?;
        let cert = block.parse_x509().map_err(|e| format!("CA certificate: not X.509: {e}"))?;
        match cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => {}
            _ => return Err("CA certificate: not a CA (basic constraints)".into()),
        }
        let not_after = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
        Ok(Anchor {
            pem: pem.trim().to_owned() + "\n",
            der: block.contents.clone(),
            not_after,
            subject: cert.subject().as_raw().to_vec(),
            public_key: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    /// The certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// When the certificate itself expires, Unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// `SHA256:<hex>` of the DER certificate, as people compare it out of band.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", hex::encode(Sha256::digest(&self.der)))
    }

    /// Whether `sig` is this CA key's ECDSA P-256 signature over `msg`.
    pub(super) fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &self.public_key)
            .verify(msg, sig)
            .is_ok()
    }
}
