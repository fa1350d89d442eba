//! A trustee's long-term signing key: it signs every key-ceremony message the trustee
//! sends and every epoch announcement it agrees to. Its public half is pinned in every
//! party's profile, so that an epoch key is believed only when the trustees that hold
//! it say so, never on the relay's word.

use std::fmt;

use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::envelope::{sign, verify};
use crate::error::Error;
use crate::id::PartyId;
use crate::wire::{Alg, Reader, Writer};

/// Length of a signature: `r ‖ s`, low S.
pub const SIGNATURE_LEN: usize = 64;

/// A trustee's public signing key, bound to the trustee's id.
#[derive(Clone, PartialEq, Eq)]
pub struct TrusteeVerifyingKey {
    trustee: PartyId,
    key: VerifyingKey,
}

impl fmt::Debug for TrusteeVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let point = self.key.to_encoded_point(true);
        let short: String = point.as_bytes().iter().take(8).map(|b| format!("{b:02x}")).collect();
        f.debug_struct("TrusteeVerifyingKey").field("trustee", &self.trustee).field("key", &short).finish()
    }
}

impl TrusteeVerifyingKey {
    /// The trustee this key speaks for.
    pub fn trustee(&self) -> &PartyId {
        &self.trustee
    }

    /// Checks `sig` over `msg` in the signing domain `dst`; the error names the trustee.
    pub fn verify(&self, dst: &[u8], msg: &[u8], sig: &[u8; SIGNATURE_LEN]) -> Result<(), Error> {
        let bad = || Error::BadSignature { what: "trustee" };
        let sig = crate::envelope::decode_signature(sig, "signature").map_err(|_| bad())?;
        if verify(&self.key, dst, msg, &sig) {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// Encoding: version, alg, trustee id (str8), SEC1 compressed key (33).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::TrusteeVerifyingKey);
        w.str8(self.trustee.as_str());
        w.bytes(self.key.to_encoded_point(true).as_bytes());
        w.finish()
    }

    /// Decodes a trustee's public key (point checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::TrusteeVerifyingKey, 3 + 65 + 33)?;
        let trustee = r.party_id("trustee")?;
        let key = r.p256_verifying("key")?;
        r.finish()?;
        Ok(TrusteeVerifyingKey { trustee, key })
    }
}

/// A trustee's secret signing key. Zeroized on drop (by `p256`); `Debug` is redacted.
#[derive(Clone)]
pub struct TrusteeSigningKey {
    trustee: PartyId,
    key: SigningKey,
}

impl fmt::Debug for TrusteeSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrusteeSigningKey").field("trustee", &self.trustee).field("key", &"<redacted>").finish()
    }
}

impl TrusteeSigningKey {
    /// A fresh key for `trustee`.
    pub fn generate<R: RngCore + CryptoRng>(trustee: PartyId, rng: &mut R) -> Self {
        TrusteeSigningKey { trustee, key: SigningKey::random(rng) }
    }

    /// The trustee this key signs for.
    pub fn trustee(&self) -> &PartyId {
        &self.trustee
    }

    /// The public half, to pin.
    pub fn public(&self) -> TrusteeVerifyingKey {
        TrusteeVerifyingKey { trustee: self.trustee.clone(), key: *self.key.verifying_key() }
    }

    /// Signs `msg` in the domain `dst` (deterministic ECDSA, low S).
    pub fn sign(&self, dst: &[u8], msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: Signature = sign(&self.key, dst, msg);
        sig.to_bytes().into()
    }

    /// Encoding: version, alg, trustee id (str8), scalar (32). Seal it before it
    /// touches a disk.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(Alg::TrusteeSigningKey);
        w.str8(self.trustee.as_str());
        w.bytes(&Zeroizing::new(self.key.to_bytes()));
        Zeroizing::new(w.finish())
    }

    /// Decodes a trustee secret key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::TrusteeSigningKey, 3 + 65 + 32)?;
        let trustee = r.party_id("trustee")?;
        let key = SigningKey::from(r.p256_scalar("key")?);
        r.finish()?;
        Ok(TrusteeSigningKey { trustee, key })
    }
}

/// The pinned public keys of a deployment's trustees, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrusteePins {
    keys: Vec<TrusteeVerifyingKey>,
}

impl TrusteePins {
    /// Pins `keys`; refuses two keys for one trustee.
    pub fn new(keys: Vec<TrusteeVerifyingKey>) -> Result<Self, Error> {
        for (k, key) in keys.iter().enumerate() {
            if keys.iter().skip(k + 1).any(|other| other.trustee == key.trustee) {
                return Err(Error::InvalidInput { what: "trustee pins", reason: "two keys for one trustee" });
            }
        }
        Ok(TrusteePins { keys })
    }

    /// The pinned key of `trustee`, if any.
    pub fn get(&self, trustee: &PartyId) -> Option<&TrusteeVerifyingKey> {
        self.keys.iter().find(|k| &k.trustee == trustee)
    }

    /// Every pinned key.
    pub fn keys(&self) -> &[TrusteeVerifyingKey] {
        &self.keys
    }

    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The pins file text: a comment line, then one hex-encoded verifying key per line.
    pub fn to_text(&self) -> String {
        let mut out = String::from("# escrow trustee keys: one hex TrusteeVerifyingKey per line\n");
        for k in &self.keys {
            out.push_str(&hex_encode(&k.to_bytes()));
            out.push('\n');
        }
        out
    }

    /// Reads a pins file: blank lines and `#` comments are skipped; every other line
    /// must be a verifying key; at most 64 keys, one per trustee.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let bad = |reason| Error::InvalidInput { what: "trustee pins", reason };
        let mut keys = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let bytes = hex_decode(line).ok_or_else(|| bad("a line is not hex"))?;
            keys.push(TrusteeVerifyingKey::from_bytes(&bytes)?);
            if keys.len() > 64 {
                return Err(bad("more than 64 keys"));
            }
        }
        Self::new(keys)
    }
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would take "+f" as 0x0f: one key, two spellings.
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

impl Reader<'_> {
    /// A 64-byte trustee signature, kept as bytes (checked when verified).
    pub(crate) fn signature(&mut self, field: &'static str) -> Result<[u8; SIGNATURE_LEN], Error> {
        let raw = self.array::<SIGNATURE_LEN>(field)?;
        crate::envelope::decode_signature(&raw, field).map_err(|e| self.err(e))?;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn signs_verifies_and_names_domain_and_trustee() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let k = TrusteeSigningKey::generate(PartyId::new("trustee-0").unwrap(), &mut rng);
        let sig = k.sign(b"dst-a", b"msg");
        let pk = TrusteeVerifyingKey::from_bytes(&k.public().to_bytes()).unwrap();
        assert_eq!(pk, k.public());
        pk.verify(b"dst-a", b"msg", &sig).unwrap();
        assert!(pk.verify(b"dst-b", b"msg", &sig).is_err(), "another domain");
        assert!(pk.verify(b"dst-a", b"msh", &sig).is_err(), "another message");
        let back = TrusteeSigningKey::from_bytes(&k.to_bytes()).unwrap();
        assert_eq!(back.public(), k.public());
        assert!(!format!("{back:?}").contains(&format!("{:?}", &k.to_bytes()[..])));
        assert!(format!("{back:?}").contains("<redacted>"));
        let dup = TrusteePins::new(vec![k.public(), k.public()]);
        assert!(dup.is_err());
        let other = TrusteeSigningKey::generate(PartyId::new("trustee-1").unwrap(), &mut rng);
        let pins = TrusteePins::new(vec![k.public(), other.public()]).unwrap();
        assert_eq!(TrusteePins::from_text(&pins.to_text()).unwrap(), pins);
        assert!(TrusteePins::from_text("zz\n").is_err());
        // One spelling per key: a sign where a digit belongs is not hex.
        assert_eq!(hex_decode("0f"), Some(vec![0x0f]));
        assert_eq!(hex_decode("+f"), None);
        assert_eq!(hex_decode("-0"), None);
        assert!(TrusteePins::from_text(&format!("{}\n{}", pins.to_text(), hex_encode(&k.public().to_bytes()))).is_err());
    }
}
