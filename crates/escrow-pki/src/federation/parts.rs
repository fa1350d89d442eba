//! What an organisation's entry is made of: the identity patterns it certifies
//! ([`Pattern`]), the keys it pins ([`Pin`]) and its CA certificate ([`Anchor`]), each
//! parsed from its text form once.

use std::fmt;

use escrow_crypto::{CourtPublicKey, Domain, PartyId, TrusteeVerifyingKey};
use escrow_log::WitnessVerifier;
use sha2::{Digest, Sha256};

use crate::{Identity, Role};

/// Which identities an organisation may certify: `role/id`, `role/*`,
/// `operator/<trustee>/<name>`, `operator/<trustee>/*` (a `*` trustee is allowed only
/// with a `*` name: `operator/*/*`), and for users of one escrow domain
/// `user/<home>/<id>` or `user/<home>/*` (`user/*` and `user/<id>` certify users of
/// any home, or of none).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern {
    pub(super) role: Role,
    /// For an operator: the trustee (`None` is `*`).
    pub(super) trustee: Option<PartyId>,
    /// `None` is `*`.
    pub(super) id: Option<PartyId>,
    /// For a user: the one home it certifies (`None`: any home, or none).
    pub(super) home: Option<Domain>,
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
        let rest: Vec<&str> = parts.collect();
        let (trustee, home, id) = match (role, rest.as_slice()) {
            (Role::Operator, [t, i]) => (part(Some(t))?, None, part(Some(i))?),
            (Role::User, [h, i]) => (None, Some(Domain::new(*h).map_err(|e| bad(&e.to_string()))?), part(Some(i))?),
            (Role::Operator, [_]) | (_, []) => return Err(bad("missing id")),
            (Role::Operator, _) | (Role::User, [_, _, _, ..]) | (_, [_, _, ..]) => {
                return Err(bad("too many segments"))
            }
            (_, [i]) => (None, None, part(Some(i))?),
        };
        if role == Role::Operator && trustee.is_none() && id.is_some() {
            return Err(bad("operator/*/<name> would certify one name at every trustee: use operator/*/*"));
        }
        Ok(Pattern { role, trustee, id, home })
    }

    /// Whether `identity` is one this pattern certifies.
    pub fn matches(&self, identity: &Identity) -> bool {
        fn fits(p: &Option<PartyId>, v: Option<&PartyId>) -> bool {
            p.as_ref().is_none_or(|p| Some(p) == v)
        }
        self.role == identity.role()
            && fits(&self.id, Some(identity.id()))
            && (self.role != Role::Operator || fits(&self.trustee, identity.operated_trustee()))
            && self.home.as_ref().is_none_or(|h| identity.home() == Some(h))
    }

    /// Whether some identity matches both patterns.
    pub(super) fn overlaps(&self, other: &Pattern) -> bool {
        fn meet(a: &Option<PartyId>, b: &Option<PartyId>) -> bool {
            a.is_none() || b.is_none() || a == b
        }
        let homes_meet = self.home.is_none() || other.home.is_none() || self.home == other.home;
        self.role == other.role && meet(&self.id, &other.id) && meet(&self.trustee, &other.trustee) && homes_meet
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
            r if self.home.is_some() => {
                write!(f, "{r}/{}/{}", self.home.as_ref().map_or("*", Domain::as_str), star(&self.id))
            }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn user(home: Option<&str>, id: &str) -> Identity {
        let id = PartyId::new(id).unwrap();
        match home {
            Some(h) => Identity::user_of(Domain::new(h).unwrap(), id),
            None => Identity::new(Role::User, id).unwrap(),
        }
    }

    /// `user/uk/*` certifies the users who live in uk and no others; `user/*` and
    /// `user/<id>` certify users of any home or none, as before homes existed.
    #[test]
    fn a_home_pattern_certifies_that_homes_users_only() {
        let uk = Pattern::parse("user/uk/*").unwrap();
        assert_eq!(uk.to_string(), "user/uk/*");
        assert!(uk.matches(&user(Some("uk"), "alice")));
        assert!(!uk.matches(&user(Some("us"), "alice")));
        assert!(!uk.matches(&user(None, "alice")));
        let one = Pattern::parse("user/uk/alice").unwrap();
        assert_eq!(one.to_string(), "user/uk/alice");
        assert!(one.matches(&user(Some("uk"), "alice")) && !one.matches(&user(Some("uk"), "bob")));
        let any = Pattern::parse("user/*").unwrap();
        for h in [Some("uk"), Some("us"), None] {
            assert!(any.matches(&user(h, "alice")));
        }
        // Two organisations may split users by home, not share one.
        let us = Pattern::parse("user/us/*").unwrap();
        assert!(!uk.overlaps(&us));
        assert!(uk.overlaps(&any) && any.overlaps(&uk));
        assert!(uk.overlaps(&one));
        for bad in ["user/UK/*", "user/uk/alice/x", "user/uk/", "agency/uk/x", "user/-uk/*"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        // A home pattern is for users only: other roles keep their one segment.
        assert!(Pattern::parse("trustee/uk/x").is_err());
    }
}
