//! The deployment CA and every party's credentials, issued once per identity; and, for
//! child processes, the same PKI written as `escrow pki init` writes it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use escrow_crypto::sealed::{seal, KdfParams, Unlock};
use escrow_crypto::PartyId;
use escrow_pki::layout::{PartyFiles, CA_CERT, CA_KEY};
use escrow_pki::{Ca, Identity, Role, Validity};
use escrow_service::transport::Credentials;
use rand::rngs::OsRng;

use crate::KitError;

/// A CA held in memory and the credentials it issued, one per identity.
pub struct Pki {
    ca: Ca,
    validity: Validity,
    issued: Mutex<HashMap<Identity, Credentials>>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").field("ca", &self.ca).finish_non_exhaustive()
    }
}

fn party(id: &str) -> Result<PartyId, KitError> {
    Ok(PartyId::new(id)?)
}

impl Pki {
    /// A fresh CA named `name` whose certificates are valid for `days`.
    pub fn new(name: &str, days: u32) -> Result<Self, KitError> {
        let validity = Validity::days_from(std::time::SystemTime::now(), days);
        Ok(Pki { ca: Ca::generate(name, validity)?, validity, issued: Mutex::new(HashMap::new()) })
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// The credentials of `identity`, issued on first use.
    pub fn creds(&self, identity: &Identity) -> Result<Credentials, KitError> {
        let mut map = self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = map.get(identity) {
            return Ok(c.clone());
        }
        let c = Credentials::issue(&self.ca, identity, self.validity)?;
        map.insert(identity.clone(), c.clone());
        Ok(c)
    }

    /// A party of `role` (not an operator) with id `id`.
    pub fn party(&self, role: Role, id: &str) -> Result<Credentials, KitError> {
        self.creds(&Identity::new(role, party(id)?)?)
    }

    /// Operator `op` of trustee `trustee`.
    pub fn operator(&self, trustee: &str, op: &str) -> Result<Credentials, KitError> {
        self.creds(&Identity::operator(party(trustee)?, party(op)?))
    }

    /// Writes the CA and every party in `identities` into `dir` as `escrow pki init`
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
        write_file(&dir.join(CA_CERT), self.ca.cert_pem().as_bytes())?;
        write_file(&dir.join(CA_KEY), &sealed(self.ca.key_pem().as_bytes())?)?;
        write_file(&dir.join(escrow_pki::layout::PINS), pins.to_text().as_bytes())?;
        let mut profiles = Vec::new();
        for identity in identities {
            let issued = self.ca.issue(identity, self.validity)?;
            let creds =
                Credentials::new(self.ca.cert_pem().to_string(), issued.cert_pem.clone(), issued.key_pem.clone())?;
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
