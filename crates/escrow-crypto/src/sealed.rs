//! Secrets sealed at rest: a trustee's key share (or any secret blob) encrypted under a
//! passphrase (argon2id) or a 32-byte key file, with AES-256-GCM.
//!
//! Pure: the caller reads and writes the files. The KDF parameters travel in the
//! sealed blob (authenticated as AAD) so they can be raised later without breaking old
//! files, and are bounded on decode so a hostile file cannot make us allocate
//! gigabytes or spin for minutes.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::wire::{Alg, Reader, Writer};

/// Largest secret that can be sealed (far more than any key we hold).
pub const MAX_SEALED_PLAINTEXT: usize = 64 * 1024;
/// Upper bounds accepted when opening: 1 GiB of memory, 16 passes, 8 lanes.
const MAX_M_KIB: u32 = 1 << 20;
const MAX_T: u32 = 16;
const MAX_P: u32 = 8;

const KDF_ARGON2ID: u8 = 1;
const KDF_RAW_KEY: u8 = 2;

/// What unlocks a sealed secret.
pub enum Unlock<'a> {
    /// A passphrase, stretched with argon2id.
    Passphrase(&'a [u8]),
    /// A 32-byte random key (e.g. from a key file), used directly.
    KeyFile(&'a [u8; 32]),
}

impl fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unlock::Passphrase(_) => f.write_str("Unlock::Passphrase(<redacted>)"),
            Unlock::KeyFile(_) => f.write_str("Unlock::KeyFile(<redacted>)"),
        }
    }
}

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option).
    fn default() -> Self {
        KdfParams { m_kib: 64 * 1024, t: 3, p: 1 }
    }
}

impl KdfParams {
    /// Minimal costs, **insecure**: for tests and throwaway demo deployments only.
    pub fn insecure_fast() -> Self {
        KdfParams { m_kib: 64, t: 1, p: 1 }
    }
}

fn derive(unlock: &Unlock<'_>, kdf: u8, params: KdfParams, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut key = Zeroizing::new([0u8; 32]);
    match (unlock, kdf) {
        (Unlock::Passphrase(pass), KDF_ARGON2ID) => {
            let p = Params::new(params.m_kib, params.t, params.p, Some(32))
                .map_err(|_| Error::InvalidInput { what: "kdf parameters", reason: "rejected by argon2" })?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
                .hash_password_into(pass, salt, key.as_mut_slice())
                .map_err(|_| Error::InvalidInput { what: "passphrase", reason: "rejected by argon2" })?;
        }
        (Unlock::KeyFile(k), KDF_RAW_KEY) => key.copy_from_slice(k.as_slice()),
        _ => return Err(Error::InvalidInput { what: "unlock", reason: "sealed with the other kind of secret" }),
    }
    Ok(key)
}

/// Seals `plaintext`. Layout: version, alg, kdf id (u8), m_kib, t, p (u32 each), salt
/// (16), nonce (12), ciphertext length (u32), AES-256-GCM ciphertext with the header as AAD.
pub fn seal<R: RngCore + CryptoRng>(
    plaintext: &[u8],
    unlock: &Unlock<'_>,
    params: KdfParams,
    rng: &mut R,
) -> Result<Vec<u8>, Error> {
    if plaintext.len() > MAX_SEALED_PLAINTEXT {
        return Err(Error::InvalidInput { what: "sealed secret", reason: "longer than 64 KiB" });
    }
    let (kdf, params) = match unlock {
        Unlock::Passphrase(_) => (KDF_ARGON2ID, params),
        Unlock::KeyFile(_) => (KDF_RAW_KEY, KdfParams { m_kib: 0, t: 0, p: 0 }),
    };
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let key = derive(unlock, kdf, params, &salt)?;
    let mut w = Writer::new(Alg::SealedSecret);
    w.u8(kdf);
    w.u32(params.m_kib);
    w.u32(params.t);
    w.u32(params.p);
    w.bytes(&salt);
    w.bytes(&nonce);
    let ct_len = u32::try_from(plaintext.len() + 16).expect("bounded above");
    w.u32(ct_len);
    let ct = Aes256Gcm::new_from_slice(key.as_slice())
        .expect("32-byte key")
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: w.as_slice() })
        .map_err(|_| Error::InvalidInput { what: "sealed secret", reason: "AEAD refused input" })?;
    w.bytes(&ct);
    Ok(w.finish())
}

/// Opens a sealed secret. A wrong passphrase or key and a tampered file give the same
/// opaque [`Error::DecryptionFailed`].
pub fn open(sealed: &[u8], unlock: &Unlock<'_>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut r = Reader::new(sealed, Alg::SealedSecret, 3 + 1 + 12 + 16 + 12 + 4 + MAX_SEALED_PLAINTEXT + 16)?;
    let kdf = r.u8("kdf")?;
    let params = KdfParams { m_kib: r.u32("m_kib")?, t: r.u32("t")?, p: r.u32("p")? };
    match kdf {
        KDF_ARGON2ID if params.m_kib > MAX_M_KIB || params.t > MAX_T || params.p > MAX_P => {
            return Err(
                r.err(DecodeError::InvalidValue { field: "kdf parameters", reason: "above the accepted maximum" })
            );
        }
        KDF_RAW_KEY if params != (KdfParams { m_kib: 0, t: 0, p: 0 }) => {
            return Err(
                r.err(DecodeError::InvalidValue { field: "kdf parameters", reason: "must be zero for a key file" })
            );
        }
        KDF_ARGON2ID | KDF_RAW_KEY => {}
        _ => return Err(r.err(DecodeError::InvalidValue { field: "kdf", reason: "unknown kdf id" })),
    }
    let salt = r.array::<16>("salt")?;
    let nonce = r.array::<12>("nonce")?;
    let ct_len = usize::try_from(r.u32("ciphertext length")?).unwrap_or(usize::MAX);
    let aad = r.consumed();
    let ct = r.take(ct_len, "ciphertext")?;
    r.finish()?;
    let key = derive(unlock, kdf, params, &salt)?;
    Aes256Gcm::new_from_slice(key.as_slice())
        .expect("32-byte key")
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}
