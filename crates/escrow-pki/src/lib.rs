//! Identities, the CAs that certify them, and the federation that says which CA may
//! certify whom.
//!
//! Every party of a deployment — trustee, relay, agency, trustee operator, auditor,
//! user, witness — holds a certificate that names its role and id in one
//! subject-alternative-name URI, `escrow:role/<role>/<id>` (an operator's names the
//! trustee it operates too: `escrow:role/operator/<trustee-id>/<name>`; a user's may
//! name the escrow domain it lives in: `escrow:role/user/<home>/<id>`). The
//! certificate comes from its own organisation's CA ([`Ca`]); the [`federation`] lists
//! every organisation, its CA and the identities it may certify, and the [`trust`]
//! verifiers believe a certificate only from the organisation that may certify the
//! identity in it. Servers read the identity back from a verified client certificate
//! ([`Identity::from_cert_der`]) and decide each RPC by it; clients check a server's
//! certificate against the role they dialled ([`Role::server_name`]), so an agency's
//! or a user's certificate can never pose as a trustee or the relay.
//!
//! The crate does no file or network IO: `escrow pki init` and `escrow federation`
//! write what it returns.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::SystemTime;

use escrow_crypto::{Domain, PartyId};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType, SerialNumber,
};
use zeroize::Zeroizing;

pub mod access;
pub mod federation;
pub mod trust;

pub use federation::{Federation, FederationError, Organisation};

/// The URI scheme and path prefix of an identity in a certificate.
pub const URI_PREFIX: &str = "escrow:role/";
/// The DNS suffix of the role-wide names in server certificates.
pub const SERVER_DOMAIN: &str = "escrow.internal";

/// What a party may do is decided by its role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Holds a key share; serves `escrow.v1.Trustee` and `escrow.v1.Audit`.
    Trustee,
    /// The messaging provider; serves `escrow.v1.Relay`.
    Relay,
    /// A law-enforcement agency: submits warrants, asks for shares, exports.
    Agency,
    /// A trustee's operator: approves, denies and revokes on that one trustee.
    Operator,
    /// Reads trustees' logs.
    Auditor,
    /// Sends and receives messages.
    User,
    /// Cosigns trustees' log checkpoints (C2SP tlog-witness over HTTPS); holds a
    /// server certificate only and calls no escrow service.
    Witness,
}

impl Role {
    /// Every role, in the order of docs/security.md's table.
    pub const ALL: [Role; 7] =
        [Role::User, Role::Agency, Role::Operator, Role::Auditor, Role::Trustee, Role::Relay, Role::Witness];

    /// The role's name in certificates and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Trustee => "trustee",
            Role::Relay => "relay",
            Role::Agency => "agency",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::User => "user",
            Role::Witness => "witness",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether parties of this role run servers (and so get server certificates).
    pub fn is_server(self) -> bool {
        matches!(self, Role::Trustee | Role::Relay | Role::Witness)
    }

    /// The DNS name every server of this role carries and clients verify, e.g.
    /// `trustee.escrow.internal`: a client that dials a trustee's address accepts only
    /// a certificate of the trustee role, whatever the address.
    pub fn server_name(self) -> String {
        format!("{}.{SERVER_DOMAIN}", self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a certificate says its holder is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    role: Role,
    id: PartyId,
    /// For an operator: the trustee it operates.
    trustee: Option<PartyId>,
    /// For a user in a deployment of several escrow domains: the domain it lives in,
    /// certified here so that clients take it from what they verify, not from the
    /// relay (docs/protocol.md §5.18).
    home: Option<Domain>,
}

impl Identity {
    /// A party of any role but [`Role::Operator`] (use [`Identity::operator`]).
    pub fn new(role: Role, id: PartyId) -> Result<Self, PkiError> {
        if role == Role::Operator {
            return Err(PkiError::Identity("an operator identity names its trustee: use Identity::operator".into()));
        }
        Ok(Identity { role, id, trustee: None, home: None })
    }

    /// The operator `name` of trustee `trustee`.
    pub fn operator(trustee: PartyId, name: PartyId) -> Self {
        Identity { role: Role::Operator, id: name, trustee: Some(trustee), home: None }
    }

    /// User `id`, who lives in escrow domain `home`.
    pub fn user_of(home: Domain, id: PartyId) -> Self {
        Identity { role: Role::User, id, trustee: None, home: Some(home) }
    }

    /// A user's certified home domain; `None` for other roles and for users of a
    /// deployment of one domain.
    pub fn home(&self) -> Option<&Domain> {
        self.home.as_ref()
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The party's id (an operator's own name).
    pub fn id(&self) -> &PartyId {
        &self.id
    }

    /// The trustee an operator operates; `None` for other roles.
    pub fn operated_trustee(&self) -> Option<&PartyId> {
        self.trustee.as_ref()
    }

    /// Whether this is the operator of trustee `trustee`.
    pub fn operates(&self, trustee: &PartyId) -> bool {
        self.role == Role::Operator && self.trustee.as_ref() == Some(trustee)
    }

    /// Whether this is a party of `role` with id `id`.
    pub fn is(&self, role: Role, id: &PartyId) -> bool {
        self.role == role && &self.id == id
    }

    /// The SAN URI that carries this identity.
    pub fn uri(&self) -> String {
        match (&self.trustee, &self.home) {
            (Some(t), _) => format!("{URI_PREFIX}{}/{t}/{}", self.role, self.id),
            (None, Some(h)) => format!("{URI_PREFIX}{}/{h}/{}", self.role, self.id),
            (None, None) => format!("{URI_PREFIX}{}/{}", self.role, self.id),
        }
    }

    /// Parses `escrow:role/<role>/<id>`, `escrow:role/operator/<trustee>/<name>` or
    /// `escrow:role/user/<home>/<id>`.
    pub fn from_uri(uri: &str) -> Result<Self, PkiError> {
        let bad = |why: &str| PkiError::Identity(format!("{uri:?}: {why}"));
        let rest = uri.strip_prefix(URI_PREFIX).ok_or_else(|| bad("not an escrow:role/ URI"))?;
        let mut parts = rest.split('/');
        let role = parts.next().and_then(Role::parse).ok_or_else(|| bad("unknown role"))?;
        let party = |s: Option<&str>| -> Result<PartyId, PkiError> {
            PartyId::new(s.ok_or_else(|| bad("missing id"))?).map_err(|e| bad(&e.to_string()))
        };
        let segments: Vec<&str> = parts.by_ref().take(2).collect();
        let identity = match (role, segments.as_slice()) {
            (Role::Operator, [trustee, name]) => Identity::operator(party(Some(trustee))?, party(Some(name))?),
            (Role::Operator, _) => return Err(bad("missing id")),
            (Role::User, [home, id]) => {
                Identity::user_of(Domain::new(*home).map_err(|e| bad(&e.to_string()))?, party(Some(id))?)
            }
            (_, [id]) => Identity { role, id: party(Some(id))?, trustee: None, home: None },
            (_, [_, _]) => return Err(bad("too many path segments")),
            _ => return Err(bad("missing id")),
        };
        if parts.next().is_some() {
            return Err(bad("too many path segments"));
        }
        Ok(identity)
    }

    /// The identity in a DER certificate: its one `escrow:role/` SAN URI.
    ///
    /// This reads the certificate; it does not verify it. Servers call it only on a
    /// chain rustls has already verified against the deployment's CA.
    pub fn from_cert_der(der: &[u8]) -> Result<Self, PkiError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Certificate(format!("not X.509: {e}")))?;
        let san = cert
            .subject_alternative_name()
            .map_err(|e| PkiError::Certificate(format!("subject alternative names: {e}")))?
            .ok_or_else(|| PkiError::Certificate("no subject alternative names, so no escrow role".into()))?;
        let mut found = san.value.general_names.iter().filter_map(|n| match n {
            x509_parser::extensions::GeneralName::URI(u) if u.starts_with(URI_PREFIX) => Some(*u),
            _ => None,
        });
        let uri = found.next().ok_or_else(|| PkiError::Certificate("no escrow:role/ URI in the certificate".into()))?;
        if found.next().is_some() {
            return Err(PkiError::Certificate("more than one escrow:role/ URI: the role is ambiguous".into()));
        }
        Identity::from_uri(uri)
    }

    /// The identity in the first certificate of a PEM file (a chain's leaf comes first).
    pub fn from_cert_pem(pem: &str) -> Result<Self, PkiError> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| PkiError::Certificate(format!("not a PEM certificate: {e}")))?;
        Identity::from_cert_der(&block.contents)
    }

    /// A file-name stem for this party's files, unique within a deployment:
    /// `agency-1`, `trustee-0`, `user-alice`, `witness-w1`, `trustee-0.op-0` (operator
    /// op-0 of trustee-0).
    pub fn file_stem(&self) -> String {
        match (&self.role, &self.trustee) {
            (Role::Operator, Some(t)) => format!("{t}.{}", self.id),
            (Role::User, _) => format!("user-{}", self.id),
            (Role::Witness, _) => format!("witness-{}", self.id),
            (Role::Auditor, _) | (Role::Agency, _) | (Role::Trustee, _) | (Role::Relay, _) | (Role::Operator, None) => {
                self.id.to_string()
            }
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.trustee, &self.home) {
            (Some(t), _) => write!(f, "operator {} of {t}", self.id),
            (None, Some(h)) => write!(f, "{} {} (home {h})", self.role, self.id),
            (None, None) => write!(f, "{} {}", self.role, self.id),
        }
    }
}

/// When a certificate is valid.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// Start.
    pub not_before: SystemTime,
    /// End.
    pub not_after: SystemTime,
}

impl Validity {
    /// From an hour ago (clock drift between machines) for `days` days.
    pub fn days_from(now: SystemTime, days: u32) -> Self {
        let hour = std::time::Duration::from_secs(3600);
        let span = std::time::Duration::from_secs(u64::from(days) * 86_400);
        Validity { not_before: now.checked_sub(hour).unwrap_or(now), not_after: now.checked_add(span).unwrap_or(now) }
    }
}

/// A certificate and its private key, in PEM.
pub struct Issued {
    /// Who the certificate names.
    pub identity: Identity,
    /// The certificate.
    pub cert_pem: String,
    /// The PKCS#8 private key; a secret.
    pub key_pem: Zeroizing<String>,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued").field("identity", &self.identity).field("key_pem", &"<redacted>").finish()
    }
}

/// The deployment's certificate authority: its certificate and signing key.
pub struct Ca {
    cert_pem: String,
    key_pem: Zeroizing<String>,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca").field("key", &"<redacted>").finish_non_exhaustive()
    }
}

fn rcgen_error(doing: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
    move |e| PkiError::Rcgen { doing, reason: e.to_string() }
}

fn random_serial() -> SerialNumber {
    let mut serial = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut serial);
    // Positive and without a leading zero byte, as RFC 5280 §4.1.2.2 wants.
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7f) | 0x40;
    }
    SerialNumber::from_slice(&serial)
}

impl Ca {
    /// A new CA named after the deployment `name`. It may sign only end-entity
    /// certificates (path length 0).
    pub fn generate(name: &str, validity: Validity) -> Result<Self, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, format!("escrow CA {name}"));
        params.distinguished_name.push(DnType::OrganizationName, "escrow deployment");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = validity.not_before.into();
        params.not_after = validity.not_after.into();
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().map_err(rcgen_error("generating the CA key"))?;
        let cert = params.self_signed(&key).map_err(rcgen_error("self-signing the CA"))?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        Ok(Ca { cert_pem: cert.pem(), key_pem, issuer: Issuer::new(params, key) })
    }

    /// A CA from its certificate and key (as written by [`Ca::cert_pem`] and [`Ca::key_pem`]).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(rcgen_error("reading the CA key"))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(rcgen_error("reading the CA certificate"))?;
        Ok(Ca { cert_pem: cert_pem.to_string(), key_pem: Zeroizing::new(key_pem.to_string()), issuer })
    }

    /// The CA certificate every party trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key; a secret (seal it at rest).
    pub fn key_pem(&self) -> &Zeroizing<String> {
        &self.key_pem
    }

    /// Signs `msg` with the CA key (ECDSA P-256 with SHA-256, ASN.1 DER): how an
    /// organisation signs its federation entry.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
        rcgen::SigningKey::sign(self.issuer.key(), msg).map_err(rcgen_error("signing with the CA key"))
    }

    /// A certificate and fresh P-256 key for `identity`. Everyone gets TLS client
    /// authentication; trustees and the relay also get server authentication, their
    /// role-wide DNS name, `localhost` and the loopback addresses.
    pub fn issue(&self, identity: &Identity, validity: Validity) -> Result<Issued, PkiError> {
        let uri = identity.uri();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, identity.to_string());
        params.distinguished_name.push(DnType::OrganizationName, "escrow deployment");
        params
            .subject_alt_names
            .push(SanType::URI(uri.clone().try_into().map_err(|_| PkiError::Identity(format!("{uri:?} is not IA5")))?));
        params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
        if identity.role.is_server() {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
            for dns in [identity.role.server_name(), "localhost".to_string()] {
                params.subject_alt_names.push(SanType::DnsName(
                    dns.clone().try_into().map_err(|_| PkiError::Identity(format!("{dns:?} is not a DNS name")))?,
                ));
            }
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before.into();
        params.not_after = validity.not_after.into();
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().map_err(rcgen_error("generating a party key"))?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rcgen_error("signing a party certificate"))?;
        Ok(Issued { identity: identity.clone(), cert_pem: cert.pem(), key_pem: Zeroizing::new(key.serialize_pem()) })
    }
}

/// Why a certificate or identity was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// An identity URI or value is malformed.
    #[error("identity {0}")]
    Identity(String),
    /// A certificate could not be read or carries no usable identity.
    #[error("certificate: {0}")]
    Certificate(String),
    /// Generating or signing failed.
    #[error("{doing}: {reason}")]
    Rcgen {
        /// What was being done.
        doing: &'static str,
        /// rcgen's reason (never key material).
        reason: String,
    },
}

/// The layout of a PKI directory as `escrow pki init` writes it: one owner for the file
/// names and the profile text, used by the CLI and by the deployment kit alike.
pub mod layout {
    use super::Identity;

    /// An organisation's CA certificate's file name (`<org>.ca.pem` beside others').
    pub const CA_CERT: &str = "ca.pem";
    /// An organisation's sealed CA key's file name.
    pub const CA_KEY: &str = "ca.key";
    /// The federation file every profile names: every organisation's CA, what it
    /// certifies, and the pinned keys (every trustee's signing key among them).
    pub const FEDERATION: &str = "federation.toml";
    /// An organisation's signed entry in its own directory (`escrow org init`): a
    /// federation file of that one organisation, to hand to whoever combines them.
    pub const ENTRY: &str = "entry.toml";

    /// The file names of one party's certificate, sealed key and profile.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PartyFiles {
        /// The certificate (PEM).
        pub cert: String,
        /// The sealed private key.
        pub key: String,
        /// The profile naming the federation, the certificate and the key.
        pub profile: String,
        /// For a trustee: its sealed signing key (announcements, ceremony messages).
        pub signing_key: Option<String>,
    }

    impl PartyFiles {
        /// The files of `identity`, named by its file stem.
        pub fn of(identity: &Identity) -> Self {
            let stem = identity.file_stem();
            let signing_key = (identity.role() == super::Role::Trustee).then(|| format!("{stem}.signing.key"));
            PartyFiles {
                cert: format!("{stem}.pem"),
                key: format!("{stem}.key"),
                profile: format!("{stem}.profile.toml"),
                signing_key,
            }
        }

        /// The profile file text for these files, beside the federation file.
        pub fn profile_text(&self) -> String {
            let mut text = profile_text(FEDERATION, &self.cert, &self.key);
            if let Some(s) = &self.signing_key {
                text.push_str(&format!("signing_key = {s:?}\n"));
            }
            text
        }
    }

    /// Every party of a local deployment with `n` trustees: each trustee `trustee-<i>`
    /// and its operator `op-<i>`, the relay, and the given agencies, auditors and
    /// users — what `escrow pki init` certifies.
    pub fn deployment_identities(
        n: u16,
        agencies: &[&str],
        auditors: &[&str],
        users: &[&str],
    ) -> Result<Vec<Identity>, super::PkiError> {
        use super::Role;
        let party = |s: &str| escrow_crypto::PartyId::new(s).map_err(|e| super::PkiError::Identity(e.to_string()));
        let mut out = Vec::new();
        for i in 0..n {
            let t = party(&format!("trustee-{i}"))?;
            out.push(Identity::new(Role::Trustee, t.clone())?);
            out.push(Identity::operator(t, party(&format!("op-{i}"))?));
        }
        out.push(Identity::new(Role::Relay, party("relay")?)?);
        for (role, ids) in [(Role::Agency, agencies), (Role::Auditor, auditors), (Role::User, users)] {
            for id in ids {
                out.push(Identity::new(role, party(id)?)?);
            }
        }
        Ok(out)
    }

    /// How a local deployment splits into organisations, one CA each: every
    /// trustee's own organisation `org-<trustee>` (the trustee and its operators),
    /// the provider (the relay and the users), each agency `org-<agency>`, the
    /// auditors, and each witness `org-<witness>`. The name and the patterns it
    /// certifies, in federation order.
    pub fn organisations(
        n: u16,
        agencies: &[&str],
        witnesses: &[&str],
    ) -> Result<Vec<(String, Vec<crate::federation::Pattern>)>, super::PkiError> {
        use crate::federation::Pattern;
        let pattern = |s: String| Pattern::parse(&s).map_err(super::PkiError::Identity);
        let mut out = Vec::new();
        for i in 0..n {
            let t = format!("trustee-{i}");
            out.push((format!("org-{t}"), vec![pattern(format!("trustee/{t}"))?, pattern(format!("operator/{t}/*"))?]));
        }
        out.push(("provider".to_string(), vec![pattern("relay/*".into())?, pattern("user/*".into())?]));
        for a in agencies {
            out.push((format!("org-{a}"), vec![pattern(format!("agency/{a}"))?]));
        }
        out.push(("auditors".to_string(), vec![pattern("auditor/*".into())?]));
        for w in witnesses {
            out.push((format!("org-{w}"), vec![pattern(format!("witness/{w}"))?]));
        }
        Ok(out)
    }

    /// A profile file's text: the federation, certificate and key paths (relative to
    /// the profile's own directory).
    pub fn profile_text(federation: &str, cert: &str, key: &str) -> String {
        format!(
            "# escrow TLS profile: pass with --profile or ESCROW_PROFILE.\nfederation = {federation:?}\ncert = {cert:?}\nkey = {key:?}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PartyId {
        PartyId::new(s).unwrap()
    }

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents
    }

    #[test]
    fn uris_round_trip_and_bad_ones_are_refused() {
        let cases = [
            Identity::new(Role::Agency, id("agency-1")).unwrap(),
            Identity::new(Role::User, id("alice")).unwrap(),
            Identity::new(Role::Trustee, id("trustee-0")).unwrap(),
            Identity::operator(id("trustee-0"), id("op-0")),
            Identity::user_of(Domain::new("uk").unwrap(), id("alice")),
        ];
        for c in cases {
            assert_eq!(Identity::from_uri(&c.uri()).unwrap(), c);
        }
        assert_eq!(Identity::operator(id("trustee-3"), id("op")).uri(), "escrow:role/operator/trustee-3/op");
        for bad in [
            "escrow:role/king/x",
            "escrow:role/agency/",
            "escrow:role/agency/a/b",
            "escrow:role/operator/trustee-0",
            "escrow:role/agency/bad id",
            "https://agency-1",
            "escrow:role/agency",
            "escrow:role/user/UK/alice",
            "escrow:role/user/uk/alice/x",
            "escrow:role/user/uk/",
        ] {
            assert!(Identity::from_uri(bad).is_err(), "{bad}");
        }
        assert!(Identity::new(Role::Operator, id("x")).is_err());
        let alice = Identity::from_uri("escrow:role/user/uk/alice").unwrap();
        assert_eq!(
            (alice.role(), alice.id().as_str(), alice.home()),
            (Role::User, "alice", Some(&Domain::new("uk").unwrap()))
        );
        assert_eq!(alice.to_string(), "user alice (home uk)");
        assert_eq!(Identity::from_uri("escrow:role/user/alice").unwrap().home(), None);
        assert_eq!(alice.file_stem(), "user-alice");
    }

    #[test]
    fn issued_certificates_carry_the_identity_and_the_ca_reloads() {
        let v = Validity::days_from(SystemTime::now(), 1);
        let ca = Ca::generate("test", v).unwrap();
        let op = Identity::operator(id("trustee-2"), id("op-2"));
        let issued = ca.issue(&op, v).unwrap();
        assert_eq!(Identity::from_cert_der(&der(&issued.cert_pem)).unwrap(), op);
        // A CA loaded back from PEM issues certificates naming the same issuer.
        let again = Ca::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        let relay = Identity::new(Role::Relay, id("relay")).unwrap();
        let r = again.issue(&relay, v).unwrap();
        assert_eq!(Identity::from_cert_der(&der(&r.cert_pem)).unwrap(), relay);
        // A user's certificate carries its home.
        let alice = Identity::user_of(Domain::new("uk").unwrap(), id("alice"));
        let a = ca.issue(&alice, v).unwrap();
        assert_eq!(Identity::from_cert_der(&der(&a.cert_pem)).unwrap().home(), alice.home());
        use federation::Anchor;
        assert!(Anchor::from_pem(ca.cert_pem()).is_ok());
        assert!(Anchor::from_pem(&r.cert_pem).unwrap_err().contains("not a CA"));
        assert!(Anchor::from_pem("junk").is_err());
        // The CA certificate itself carries no identity.
        assert!(Identity::from_cert_der(&der(ca.cert_pem())).is_err());
        assert!(Identity::from_cert_der(b"not a certificate").is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let v = Validity::days_from(SystemTime::now(), 1);
        let ca = Ca::generate("test", v).unwrap();
        let issued = ca.issue(&Identity::new(Role::User, id("alice")).unwrap(), v).unwrap();
        let key_body: String = issued.key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!format!("{issued:?}").contains(&key_body[..20]));
        let ca_body: String = ca.key_pem().lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!format!("{ca:?}").contains(&ca_body[..20]));
    }
}
