//! The deployment's organisations, one CA each, and every party's credentials, issued
//! once per identity by its own organisation's CA; and, for child processes, the same
//! PKI written as `escrow pki init` writes it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use escrow_crypto::sealed::{seal, KdfParams, Unlock};
use escrow_crypto::PartyId;
use escrow_pki::federation::{Draft, Organisation, Pattern, Pin};
use escrow_pki::layout::{PartyFiles, CA_CERT, CA_KEY, ENTRY, FEDERATION};
use escrow_pki::trust::Trust;
use escrow_pki::{Ca, Federation, Identity, Role, Validity};
use escrow_service::transport::Credentials;
use rand::rngs::OsRng;

use crate::KitError;

/// The organisations' CAs held in memory, the federation they make, and the
/// credentials issued, one per identity.
pub struct Pki {
    /// Each organisation's name and CA, in federation order.
    cas: Vec<(String, Ca)>,
    /// The federation of their entries, with its verifiers.
    trust: Arc<Trust>,
    validity: Validity,
    issued: Mutex<HashMap<Identity, Credentials>>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.cas.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Pki").field("organisations", &names).finish_non_exhaustive()
    }
}

fn party(id: &str) -> Result<PartyId, KitError> {
    Ok(PartyId::new(id)?)
}

fn trust_error(e: String) -> KitError {
    KitError::Pki(escrow_pki::PkiError::Certificate(e))
}

impl Pki {
    /// One CA per organisation, as [`escrow_pki::layout::organisations`] splits a
    /// deployment of `n` trustees, `agencies` and `witnesses`; certificates valid
    /// for `days`.
    pub fn federated(name: &str, days: u32, n: u16, agencies: &[&str], witnesses: &[&str]) -> Result<Self, KitError> {
        Self::with_organisations(name, days, escrow_pki::layout::organisations(n, agencies, witnesses)?)
    }

    /// The organisations of [`escrow_pki::layout::organisations`], each CA made by
    /// `escrow org init` in a child process of `exe` (as each organisation would on its
    /// own machine) under `dir/<org>/`, sealed under `passphrase` with the fast KDF;
    /// their signed entries make the federation. This process then loads every CA:
    /// it plays every party of the deployment (and, in the demo, the thief of one CA).
    pub fn made_by_organisations(
        exe: &Path,
        dir: &Path,
        name: &str,
        days: u32,
        orgs: Vec<(String, Vec<Pattern>)>,
        passphrase: &str,
    ) -> Result<Self, KitError> {
        let validity = Validity::days_from(std::time::SystemTime::now(), days);
        let mut cas = Vec::new();
        let mut entries = Vec::new();
        for (org, certifies) in orgs {
            let home = dir.join(&org);
            let mut cmd = std::process::Command::new(exe);
            cmd.env("ESCROW_PASSPHRASE", passphrase).env_remove("ESCROW_PROFILE").args(["org", "init"]);
            cmd.arg(&home).args(["--name", &org, "--deployment", name, "--days", &days.to_string()]);
            for p in &certifies {
                cmd.args(["--certifies", &p.to_string()]);
            }
            let out = cmd.arg("--insecure-fast-kdf").output().map_err(|e| KitError::io(exe, e))?;
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(KitError::Start { name: format!("escrow org init {org}"), why });
            }
            let read = |f: &str| std::fs::read(home.join(f)).map_err(|e| KitError::io(home.join(f), e));
            let key = escrow_crypto::sealed::open(&read(CA_KEY)?, &Unlock::Passphrase(passphrase.as_bytes()))?;
            let key = std::str::from_utf8(&key).map_err(|_| trust_error(format!("{org}: the CA key is not PEM")))?;
            let cert = String::from_utf8(read(CA_CERT)?).map_err(|_| trust_error(format!("{org}: not PEM")))?;
            let ca = Ca::from_pem(&cert, key)?;
            let entry = String::from_utf8(read(ENTRY)?).map_err(|_| trust_error(format!("{org}: not UTF-8")))?;
            let entry = Federation::parse(&entry).map_err(|e| trust_error(e.to_string()))?;
            entries.extend(entry.organisations().iter().cloned());
            cas.push((org, ca));
        }
        Self::assemble(name, validity, cas, entries)
    }

    /// One CA, named `root`, that certifies every identity: the one-root layout.
    pub fn one_root(name: &str, days: u32) -> Result<Self, KitError> {
        let patterns = escrow_pki::federation::EVERY_IDENTITY
            .iter()
            .map(|p| Pattern::parse(p).map_err(trust_error))
            .collect::<Result<_, _>>()?;
        Self::with_organisations(name, days, vec![("root".to_string(), patterns)])
    }

    /// A CA for each `(organisation, patterns)`.
    pub fn with_organisations(name: &str, days: u32, orgs: Vec<(String, Vec<Pattern>)>) -> Result<Self, KitError> {
        let validity = Validity::days_from(std::time::SystemTime::now(), days);
        let mut cas = Vec::new();
        let mut entries = Vec::new();
        for (org, certifies) in orgs {
            let ca = Ca::generate(&org, validity)?;
            let draft = Draft {
                deployment: name.into(),
                name: org.clone(),
                generation: 1,
                certifies,
                pins: vec![],
                previous: vec![],
            };
            entries.push(Organisation::sign(draft, &ca).map_err(|e| trust_error(e.to_string()))?);
            cas.push((org, ca));
        }
        Self::assemble(name, validity, cas, entries)
    }

    /// The CAs `cas` and their signed `entries`, as the federation `name`.
    fn assemble(
        name: &str,
        validity: Validity,
        cas: Vec<(String, Ca)>,
        entries: Vec<Organisation>,
    ) -> Result<Self, KitError> {
        let federation = Federation::new(name, entries).map_err(|e| trust_error(e.to_string()))?;
        let trust = Trust::new(federation).map_err(trust_error)?;
        Ok(Pki { cas, trust, validity, issued: Mutex::new(HashMap::new()) })
    }

    /// The federation (without pins: see [`Pki::federation_with_pins`]).
    pub fn federation(&self) -> &Federation {
        self.trust.federation()
    }

    /// The federation's verifiers, shared by every credential issued here.
    pub fn trust(&self) -> &Arc<Trust> {
        &self.trust
    }

    /// The CA of organisation `org`: the key a thief of that organisation's CA holds.
    pub fn ca_of(&self, org: &str) -> Result<&Ca, KitError> {
        self.cas
            .iter()
            .find(|(n, _)| n == org)
            .map(|(_, ca)| ca)
            .ok_or_else(|| KitError::Unknown { what: "organisation", name: org.to_owned() })
    }

    /// The CA of the organisation that certifies `identity`.
    fn ca_for(&self, identity: &Identity) -> Result<&Ca, KitError> {
        let org = self
            .federation()
            .organisation_for(identity)
            .ok_or_else(|| KitError::Unknown { what: "organisation certifying", name: identity.to_string() })?;
        self.ca_of(org.name())
    }

    /// The federation with every trustee's signing key pinned by the trustee's own
    /// organisation (each entry re-signed at the next generation), as the written
    /// `federation.toml` carries it.
    pub fn federation_with_pins(&self, pins: &escrow_crypto::TrusteePins) -> Result<Federation, KitError> {
        let mut fed = self.federation().clone();
        for (org, ca) in &self.cas {
            let Some(entry) = fed.organisation(org) else { continue };
            let mine: Vec<Pin> = pins
                .keys()
                .iter()
                .filter(|k| Identity::new(Role::Trustee, k.trustee().clone()).is_ok_and(|t| entry.may_certify(&t)))
                .map(|k| Pin::Trustee(k.clone()))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let entry = entry.reissue(ca, |d| d.pins = mine).map_err(|e| trust_error(e.to_string()))?;
            fed = fed.with(entry).map_err(|e| trust_error(e.to_string()))?.0;
        }
        Ok(fed)
    }

    /// The credentials of `identity`, issued on first use by its organisation's CA.
    pub fn creds(&self, identity: &Identity) -> Result<Credentials, KitError> {
        let mut map = self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = map.get(identity) {
            return Ok(c.clone());
        }
        let c = Credentials::issue(self.ca_for(identity)?, self.trust.clone(), identity, self.validity)?;
        map.insert(identity.clone(), c.clone());
        Ok(c)
    }

    /// Credentials for `identity` issued by organisation `org`'s CA, whether or not
    /// the federation lets that organisation certify it: what a thief of that CA
    /// could present. Not cached.
    pub fn creds_from(&self, org: &str, identity: &Identity) -> Result<Credentials, KitError> {
        Ok(Credentials::issue(self.ca_of(org)?, self.trust.clone(), identity, self.validity)?)
    }

    /// A party of `role` (not an operator) with id `id`.
    pub fn party(&self, role: Role, id: &str) -> Result<Credentials, KitError> {
        self.creds(&Identity::new(role, party(id)?)?)
    }

    /// Operator `op` of trustee `trustee`.
    pub fn operator(&self, trustee: &str, op: &str) -> Result<Credentials, KitError> {
        self.creds(&Identity::operator(party(trustee)?, party(op)?))
    }

    /// Writes the federation (with `pins`), every organisation's CA certificate
    /// (`<org>.ca.pem`, for tools such as grpcurl; the CA keys stay with their
    /// organisations) and every party in `identities` into `dir` as `escrow pki init`
    /// does (certificate, key sealed under `passphrase` with `kdf`, profile), so that
    /// child processes can be given `--profile`. Each written certificate is the one
    /// [`Pki::creds`] returns for that identity afterwards.
    pub fn write(
        &self,
        dir: &Path,
        identities: &[Identity],
        passphrase: &str,
        kdf: KdfParams,
        trustee_keys: &[escrow_crypto::TrusteeSigningKey],
        pins: &escrow_crypto::TrusteePins,
    ) -> Result<Vec<PathBuf>, KitError> {
        std::fs::create_dir_all(dir).map_err(|e| KitError::io(dir, e))?;
        let sealed = |bytes: &[u8]| seal(bytes, &Unlock::Passphrase(passphrase.as_bytes()), kdf, &mut OsRng);
        let fed = self.federation_with_pins(pins)?;
        write_file(&dir.join(FEDERATION), fed.render().as_bytes())?;
        for (org, ca) in &self.cas {
            write_file(&dir.join(format!("{org}.{CA_CERT}")), ca.cert_pem().as_bytes())?;
        }
        let mut profiles = Vec::new();
        for identity in identities {
            let issued = self.ca_for(identity)?.issue(identity, self.validity)?;
            let creds = Credentials::new(self.trust.clone(), issued.cert_pem.clone(), issued.key_pem.clone())?;
            let files = PartyFiles::of(identity);
            write_file(&dir.join(&files.cert), issued.cert_pem.as_bytes())?;
            write_file(&dir.join(&files.key), &sealed(issued.key_pem.as_bytes())?)?;
            write_file(&dir.join(&files.profile), files.profile_text().as_bytes())?;
            if let Some(signing) = &files.signing_key {
                let key = trustee_keys
                    .iter()
                    .find(|k| k.trustee() == identity.id())
                    .ok_or_else(|| KitError::Unknown { what: "trustee signing key", name: identity.to_string() })?;
                write_file(&dir.join(signing), &sealed(&key.to_bytes())?)?;
            }
            self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(identity.clone(), creds);
            profiles.push(dir.join(files.profile));
        }
        Ok(profiles)
    }
}

/// Writes `bytes` to `path`, private to this user (keys among them).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), KitError> {
    escrow_service::files::write_private(path, bytes).map_err(|e| KitError::io(path, e))
}

/// Seals `secret` under `passphrase` and writes it (mode 0600) for a child process to
/// unseal, as `escrow`'s own sealed files are.
pub(crate) fn write_sealed(
    path: &Path,
    secret: &[u8],
    passphrase: &str,
    kdf: escrow_crypto::sealed::KdfParams,
) -> Result<(), KitError> {
    let unlock = escrow_crypto::sealed::Unlock::Passphrase(passphrase.as_bytes());
    let blob = escrow_crypto::sealed::seal(secret, &unlock, kdf, &mut rand::rngs::OsRng)?;
    write_file(path, &blob)
}
