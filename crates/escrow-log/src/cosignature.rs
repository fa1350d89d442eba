//! Witness cosignatures in the C2SP `tlog-cosignature` format, version
//! `cosignature/v1` (Ed25519 with a timestamp).
//!
//! A cosignature is an ordinary signed-note signature line whose key is a witness
//! key and whose signed message is not the note text itself but
//!
//! ```text
//! cosignature/v1
//! time <POSIX seconds>
//! <the checkpoint's note text, extension lines included>
//! ```
//!
//! and whose signature blob is `key ID (4) || timestamp (8, big-endian) || Ed25519
//! signature (64)`. The key ID is `SHA-256(name || "\n" || 0x04 || public key)[:4]`,
//! so a witness key can never be mistaken for a log key (type 0x01) of the same name.
//! Verifier keys are vkeys with type byte 0x04:
//! `<name>+<key ID>+<base64(0x04 || public key)>`.
//!
//! A v1 cosignature says: as of this time, the largest consistent tree this witness
//! has seen for this origin has this root. It makes no statement about extension
//! lines, although they are signed.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::error::LogError;
use crate::note::{
    check_name, check_text, decode_skey, encode_skey, key_id_for, split_note, DecodedSkey, KeyType, VerifierKey,
    ALG_ED25519, SIG_PREFIX,
};

/// The signed-note signature type of `cosignature/v1` keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The domain-separating first line of every `cosignature/v1` signed message.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1";
/// The largest timestamp the format allows (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The exact bytes a `cosignature/v1` signs: the header line, the time line, then
/// the note text (which ends in a newline).
pub fn cosignature_message(timestamp: u64, text: &str) -> String {
    format!("{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n{text}")
}

/// A witness's cosigning key. Zeroized on drop; `Debug` prints `<redacted>`; no
/// `Clone`.
pub struct WitnessSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

impl WitnessSigner {
    /// A fresh key named `name` (a schema-less URL naming the witness, by the spec's
    /// advice).
    pub fn generate<R: RngCore + CryptoRng>(name: &str, rng: &mut R) -> Result<Self, LogError> {
        check_name(name)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Ok(Self::from_seed(name, &seed))
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let id = key_id_for(name, ALG_COSIGNATURE_V1, &key.verifying_key());
        WitnessSigner { name: name.to_owned(), id, key }
    }

    /// The key name cosignature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, for logs' and verifiers' policies.
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier::new(self.name.clone(), self.id, self.key.verifying_key())
    }

    /// The secret as `PRIVATE+KEY+<name>+<key id>+<base64(0x04 || seed)>`, for the
    /// caller to seal at rest.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        encode_skey(ALG_COSIGNATURE_V1, &self.name, self.id, &self.key)
    }

    /// Reads a key written by [`to_bytes`](Self::to_bytes), or an Ed25519 signer
    /// key of type 0x01 as Go's `note.GenerateKey` writes it (its key ID is checked
    /// under type 0x01; the witness then cosigns under type 0x04, as
    /// transparency-dev/formats does with such keys).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        let DecodedSkey { name, id, seed, alg } = decode_skey(bytes, &[ALG_COSIGNATURE_V1, ALG_ED25519])?;
        let key = SigningKey::from_bytes(&seed);
        if key_id_for(name, alg, &key.verifying_key()) != id {
            return Err(LogError::MalformedKey {
                what: "signer key",
                reason: "key id does not match the name and key",
            });
        }
        Ok(Self::from_seed(name, &seed))
    }

    /// The `cosignature/v1` line (`— <name> <base64>` and a newline) over note
    /// `text` at `timestamp`.
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<String, LogError> {
        check_text(text)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(LogError::InvalidInput { what: "cosignature timestamp", reason: "above 2^63 - 1" });
        }
        let sig: Signature = self.key.sign(cosignature_message(timestamp, text).as_bytes());
        let mut blob = [0u8; 76];
        let (id, rest) = blob.split_at_mut(4);
        let (time, sig_bytes) = rest.split_at_mut(8);
        id.copy_from_slice(&self.id.to_be_bytes());
        time.copy_from_slice(&timestamp.to_be_bytes());
        sig_bytes.copy_from_slice(&sig.to_bytes());
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }
}

/// Timestamped Ed25519 cosignatures (type 0x04, `cosignature/v1`): a witness's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CosignatureV1 {}

impl KeyType for CosignatureV1 {
    const ALG: u8 = ALG_COSIGNATURE_V1;
    const NAME: &'static str = "WitnessVerifier";
}

/// A witness's public key, as policies list it (key type 0x04).
///
/// Text form (`Display` / `FromStr`): `<name>+<key ID>+<base64(0x04 || key)>`.
pub type WitnessVerifier = VerifierKey<CosignatureV1>;

impl VerifierKey<CosignatureV1> {
    /// Checks a signature blob (after the key ID) from this key over note `text`;
    /// returns the cosignature's timestamp.
    fn check(&self, text: &str, sig: &[u8]) -> Result<u64, LogError> {
        let bad = || LogError::BadSignature { key: self.label() };
        let (time, sig) = sig.split_first_chunk::<8>().ok_or_else(bad)?;
        let timestamp = u64::from_be_bytes(*time);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad());
        }
        let sig = Signature::from_slice(sig).map_err(|_| bad())?;
        self.key().verify_strict(cosignature_message(timestamp, text).as_bytes(), &sig).map_err(|_| bad())?;
        Ok(timestamp)
    }
}

/// One verified cosignature: which of the given witnesses, and when it signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cosigned {
    /// Index into the witness list given to [`verify_cosignatures`].
    pub witness: usize,
    /// The cosignature's timestamp (POSIX seconds).
    pub timestamp: u64,
}

/// Verifies every cosignature line in `note` from one of `witnesses` over the note's
/// text and returns them, at most one per witness (the latest timestamp wins).
///
/// Lines from keys not in `witnesses` (the log's own signature among them) are
/// ignored, as the spec requires. A line that claims a listed key but does not
/// verify rejects the whole note: it was altered or forged. The log's own signature
/// is not checked here; [`crate::policy::Policy::verify`] checks both.
pub fn verify_cosignatures(note: &[u8], witnesses: &[WitnessVerifier]) -> Result<Vec<Cosigned>, LogError> {
    let (text, lines) = split_note(note)?;
    let mut out: Vec<Cosigned> = Vec::new();
    for line in &lines {
        let Some((witness, key)) =
            witnesses.iter().enumerate().find(|(_, w)| w.name() == line.name && w.key_id() == line.id)
        else {
            continue;
        };
        let timestamp = key.check(text, &line.sig)?;
        match out.iter_mut().find(|c| c.witness == witness) {
            Some(seen) => seen.timestamp = seen.timestamp.max(timestamp),
            None => out.push(Cosigned { witness, timestamp }),
        }
    }
    Ok(out)
}

/// Appends cosignature lines (each `— ...\n`, as a witness's 200 response carries
/// them) to a signed note, after syntax-checking each line. Lines are not verified
/// here: whoever reads the note verifies them against its own witness keys.
pub fn attach_cosignatures(note: &str, lines: &str) -> Result<String, LogError> {
    for line in lines.split_terminator('\n') {
        crate::note::parse_sig_line(line)
            .map_err(|reason| LogError::MalformedNote(format!("cosignature: {reason}")))?;
    }
    if !lines.is_empty() && !lines.ends_with('\n') {
        return Err(LogError::MalformedNote("cosignature lines do not end in a newline".into()));
    }
    let joined = format!("{note}{lines}");
    split_note(joined.as_bytes())?;
    Ok(joined)
}

/// Keeps, of the signature `lines` a witness returned for `note`, only the lines of
/// `witness`'s own key that verify over the note, so that one witness's answer can
/// neither add lines under another witness's name nor spoil the note for the rest.
/// A line that claims `witness`'s key and does not verify is an error.
pub fn own_cosignatures(note: &str, lines: &str, witness: &WitnessVerifier) -> Result<String, LogError> {
    let mut kept = String::new();
    for line in lines.split_terminator('\n') {
        let (name, (id, _)) = crate::note::parse_sig_line(line)
            .map_err(|reason| LogError::MalformedNote(format!("cosignature: {reason}")))?;
        if name == witness.name() && id == witness.key_id() {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if kept.is_empty() {
        return Err(LogError::NoSignature { key: witness.label() });
    }
    let joined = attach_cosignatures(note, &kept)?;
    verify_cosignatures(joined.as_bytes(), std::slice::from_ref(witness))?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_header_time_then_text() {
        assert_eq!(cosignature_message(0, "a\n1\nr\n"), "cosignature/v1\ntime 0\na\n1\nr\n");
    }

    #[test]
    fn timestamps_above_the_format_are_refused() {
        let s = WitnessSigner::generate("w", &mut rand::rngs::OsRng).unwrap();
        assert!(s.cosign("a\n", MAX_TIMESTAMP).is_ok());
        assert!(s.cosign("a\n", MAX_TIMESTAMP + 1).is_err());
    }
}
