//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, in the text formats
//! of `golang.org/x/mod/sumdb/note`, so Go tooling (and witnesses) can read them.
//!
//! ```text
//! <text ending in a newline>
//!
//! — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>
//! ```
//!
//! The key ID is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`.
//! A verifier key reads `<name>+<key ID as 8 hex digits>+<base64(0x01 || public key)>`;
//! a signer key `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>`.
//!
//! [`open_note`] checks the signature over the exact text bytes before returning
//! the text, so no caller ever parses unauthenticated text.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::LogError;

/// Signed notes larger than this are refused before any parsing.
pub const MAX_NOTE_LEN: usize = 16 * 1024;
/// At most this many signature lines (C2SP asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 100;
/// Key names longer than this are refused.
pub const MAX_NAME_LEN: usize = 255;

/// Signature type byte for Ed25519 in signed notes.
pub(crate) const ALG_ED25519: u8 = 0x01;
/// U+2014 EM DASH and a space: the start of every signature line.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";
pub(crate) const SIGNER_PREFIX: &str = "PRIVATE+KEY+";

/// A key name is non-empty, has no Unicode whitespace, no `+` and no control
/// characters (c2sp.org/signed-note).
pub(crate) fn check_name(name: &str) -> Result<(), LogError> {
    let bad = |reason| Err(LogError::InvalidInput { what: "key name", reason });
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 255 bytes");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or a control character");
    }
    if name.contains('+') {
        return bad("contains '+'");
    }
    Ok(())
}

/// The signed-note key ID: `SHA-256(name || 0x0A || alg || public key)[:4]`, big-endian.
/// `alg` is 0x01 for a log's Ed25519 key, 0x04 for a `cosignature/v1` witness key.
pub(crate) fn key_id_for(name: &str, alg: u8, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d])
}

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    key_id_for(name, ALG_ED25519, public)
}

/// Parses exactly eight lowercase hex digits.
fn parse_key_id(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Splits `<name>+<key id>+<base64>` and checks the name and key ID syntax. The
/// base64 part may itself contain `+`.
pub(crate) fn split_key_text<'a>(what: &'static str, text: &'a str) -> Result<(&'a str, u32, &'a str), LogError> {
    let bad = |reason| LogError::MalformedKey { what, reason };
    let (name, rest) = text.split_once('+').ok_or(bad("expected <name>+<key id>+<key>"))?;
    let (id, key64) = rest.split_once('+').ok_or(bad("expected <name>+<key id>+<key>"))?;
    check_name(name).map_err(|_| bad("invalid key name"))?;
    let id = parse_key_id(id).ok_or(bad("key id is not 8 lowercase hex digits"))?;
    Ok((name, id, key64))
}

/// `PRIVATE+KEY+<name>+<key id>+<base64(alg || seed)>`, the
/// `golang.org/x/mod/sumdb/note` signer format.
pub(crate) fn encode_skey(alg: u8, name: &str, id: u32, key: &SigningKey) -> Zeroizing<Vec<u8>> {
    let mut raw = Zeroizing::new([0u8; 33]);
    if let Some((a, seed)) = raw.split_first_mut() {
        *a = alg;
        seed.copy_from_slice(&*Zeroizing::new(key.to_bytes()));
    }
    let head = format!("{SIGNER_PREFIX}{name}+{id:08x}+");
    // 33 bytes are 44 base64 characters; sized up front so nothing reallocates
    // and leaves a copy of the secret behind.
    let mut out = Zeroizing::new(Vec::with_capacity(head.len() + 44));
    out.extend_from_slice(head.as_bytes());
    let mut b64 = Zeroizing::new([0u8; 44]);
    let written = B64.encode_slice(raw.as_ref(), b64.as_mut()).expect("33 bytes encode to exactly 44 characters");
    debug_assert_eq!(written, 44);
    out.extend_from_slice(b64.as_ref());
    out
}

/// A signer key read from text: the key ID it claims is checked by the caller
/// against the algorithm it derives.
pub(crate) struct DecodedSkey<'a> {
    pub name: &'a str,
    pub id: u32,
    pub seed: Zeroizing<[u8; 32]>,
    pub alg: u8,
}

/// Reads a signer key whose type byte is one of `algs`.
pub(crate) fn decode_skey<'a>(bytes: &'a [u8], algs: &[u8]) -> Result<DecodedSkey<'a>, LogError> {
    let bad = |reason| LogError::MalformedKey { what: "signer key", reason };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
    let rest = text.strip_prefix(SIGNER_PREFIX).ok_or(bad("does not start with PRIVATE+KEY+"))?;
    let (name, id, key64) = split_key_text("signer key", rest)?;
    let mut raw = Zeroizing::new([0u8; 33]);
    if key64.len() != 44 || B64.decode_slice(key64, raw.as_mut()).ok() != Some(33) {
        return Err(bad("key is not base64 of 33 bytes"));
    }
    let (alg, seed) = raw.split_first().ok_or(bad("key is empty"))?;
    if !algs.contains(alg) {
        return Err(bad("not an Ed25519 key of the expected signature type"));
    }
    let seed = Zeroizing::new(<[u8; 32]>::try_from(seed).map_err(|_| bad("seed is not 32 bytes"))?);
    Ok(DecodedSkey { name, id, seed, alg: *alg })
}

/// `<name>+<key id>+<base64(alg || public key)>`, the signed-note vkey format.
pub(crate) fn encode_vkey(alg: u8, name: &str, id: u32, key: &VerifyingKey) -> String {
    let mut raw = [0u8; 33];
    if let Some((a, k)) = raw.split_first_mut() {
        *a = alg;
        k.copy_from_slice(key.as_bytes());
    }
    format!("{name}+{id:08x}+{}", B64.encode(raw))
}

/// Reads a vkey of signature type `alg`, checking the point and the key ID.
pub(crate) fn decode_vkey(text: &str, alg: u8) -> Result<(&str, u32, VerifyingKey), LogError> {
    let bad = |reason| LogError::MalformedKey { what: "verifier key", reason };
    let (name, id, key64) = split_key_text("verifier key", text)?;
    let mut raw = [0u8; 33];
    if key64.len() != 44 || B64.decode_slice(key64, &mut raw).ok() != Some(33) {
        return Err(bad("key is not base64 of 33 bytes"));
    }
    let (a, key) = raw.split_first().ok_or(bad("key is empty"))?;
    if *a != alg {
        return Err(bad(if alg == ALG_ED25519 {
            "not an Ed25519 signed-note key (type 0x01)"
        } else {
            "not an Ed25519 cosignature/v1 key (type 0x04)"
        }));
    }
    let key = <[u8; 32]>::try_from(key).map_err(|_| bad("key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| bad("not a valid Ed25519 point"))?;
    if key.is_weak() {
        return Err(bad("small-order Ed25519 key"));
    }
    if key_id_for(name, alg, &key) != id {
        return Err(bad("key id does not match the name and key"));
    }
    Ok((name, id, key))
}

/// A log's checkpoint signing key: Ed25519, with the key name it signs under.
///
/// The secret is zeroized on drop (`ed25519_dalek::SigningKey` is `ZeroizeOnDrop`);
/// `Debug` prints `<redacted>`. There is deliberately no `Clone`.
pub struct CheckpointSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

impl CheckpointSigner {
    /// A fresh key named `name` (for a trustee's log, its origin line).
    pub fn generate<R: RngCore + CryptoRng>(name: &str, rng: &mut R) -> Result<Self, LogError> {
        check_name(name)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Ok(Self::from_seed(name, &seed))
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        CheckpointSigner { name: name.to_owned(), id: key_id(name, &key.verifying_key()), key }
    }

    /// The key name signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to hand to auditors.
    pub fn verifier(&self) -> CheckpointVerifier {
        CheckpointVerifier::new(self.name.clone(), self.id, self.key.verifying_key())
    }

    /// The secret key as `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>` (the
    /// `golang.org/x/mod/sumdb/note` signer format), for the caller to seal at rest.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        encode_skey(ALG_ED25519, &self.name, self.id, &self.key)
    }

    /// Reads a key written by [`to_bytes`](Self::to_bytes) (or by Go's
    /// `note.GenerateKey`), checking its key ID against its name and public key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        let DecodedSkey { name, id, seed, .. } = decode_skey(bytes, &[ALG_ED25519])?;
        let signer = Self::from_seed(name, &seed);
        if signer.id != id {
            return Err(LogError::MalformedKey {
                what: "signer key",
                reason: "key id does not match the name and key",
            });
        }
        Ok(signer)
    }

    /// Signs `text` (already validated as note text) and returns the signed note.
    pub(crate) fn sign_text(&self, text: &str) -> String {
        let sig: Signature = self.key.sign(text.as_bytes());
        let mut blob = [0u8; 68];
        let (id, rest) = blob.split_at_mut(4);
        id.copy_from_slice(&self.id.to_be_bytes());
        rest.copy_from_slice(&sig.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// The key type of a [`VerifierKey`] (C2SP signed-note): the algorithm byte of its
/// text form, and how `Debug` names it. Implemented by the two key types this crate
/// speaks, [`Ed25519`] and [`crate::CosignatureV1`], and by no other.
pub trait KeyType: private::Sealed {
    /// The algorithm byte in `base64(alg || key)`.
    const ALG: u8;
    /// The name `Debug` shows (`CheckpointVerifier`, `WitnessVerifier`).
    const NAME: &'static str;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Ed25519 {}
    impl Sealed for crate::cosignature::CosignatureV1 {}
}

/// Plain Ed25519 note signatures (type 0x01): a log's checkpoint key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ed25519 {}

impl KeyType for Ed25519 {
    const ALG: u8 = ALG_ED25519;
    const NAME: &'static str = "CheckpointVerifier";
}

/// A public note-verifier key of key type `T`: its name, its 32-bit key ID and the
/// Ed25519 key. One type for both kinds of key the logs use; they differ only in
/// the algorithm byte (and so the key ID) and in what a signature covers.
///
/// Text form (`Display` / `FromStr`): `<name>+<8 hex digit key ID>+<base64(alg || key)>`.
pub struct VerifierKey<T: KeyType> {
    name: String,
    id: u32,
    key: VerifyingKey,
    _type: std::marker::PhantomData<T>,
}

/// A log's public checkpoint key, as auditors configure it (key type 0x01).
pub type CheckpointVerifier = VerifierKey<Ed25519>;

impl<T: KeyType> Clone for VerifierKey<T> {
    fn clone(&self) -> Self {
        VerifierKey { name: self.name.clone(), id: self.id, key: self.key, _type: std::marker::PhantomData }
    }
}

impl<T: KeyType> PartialEq for VerifierKey<T> {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.id, &self.key) == (&other.name, other.id, &other.key)
    }
}

impl<T: KeyType> Eq for VerifierKey<T> {}

impl<T: KeyType> fmt::Debug for VerifierKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({self})", T::NAME)
    }
}

impl<T: KeyType> fmt::Display for VerifierKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_vkey(T::ALG, &self.name, self.id, &self.key))
    }
}

impl<T: KeyType> FromStr for VerifierKey<T> {
    type Err = LogError;

    fn from_str(text: &str) -> Result<Self, LogError> {
        let (name, id, key) = decode_vkey(text, T::ALG)?;
        Ok(VerifierKey::new(name.to_owned(), id, key))
    }
}

impl<T: KeyType> VerifierKey<T> {
    pub(crate) fn new(name: String, id: u32, key: VerifyingKey) -> Self {
        VerifierKey { name, id, key, _type: std::marker::PhantomData }
    }

    /// The key name signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key ID (derived from the name, the key type and the key).
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The raw public key, to spot two policy entries wrapping one key.
    pub(crate) fn key_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The Ed25519 key.
    pub(crate) fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// `name+keyid`, how errors name this key.
    pub(crate) fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }
}

/// Checks note text: non-empty, ends in a newline, no control characters but newline.
pub(crate) fn check_text(text: &str) -> Result<(), LogError> {
    if !text.ends_with('\n') {
        return Err(LogError::MalformedNote("text does not end in a newline".into()));
    }
    if let Some(i) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(LogError::MalformedNote(format!("control character at byte {i}")));
    }
    Ok(())
}

/// Signs arbitrary note `text` (non-empty, newline-terminated, no control characters
/// other than newline) with `signer`.
pub fn sign_note(text: &str, signer: &CheckpointSigner) -> Result<String, LogError> {
    check_text(text)?;
    let note = signer.sign_text(text);
    if note.len() > MAX_NOTE_LEN {
        return Err(LogError::NoteTooLarge { max: MAX_NOTE_LEN, got: note.len() });
    }
    Ok(note)
}

/// One signature line of a signed note, syntax-checked but not verified.
pub(crate) struct SigLine<'a> {
    /// The key name.
    pub name: &'a str,
    /// The 32-bit key ID the line claims.
    pub id: u32,
    /// The signature bytes after the key ID (at least one byte).
    pub sig: Vec<u8>,
}

/// Splits a signed note into its text and its signature lines, checking the syntax
/// of both (size, UTF-8, control characters, the blank line, each line's prefix,
/// name and base64) but no signature. Callers verify before they read the text.
pub(crate) fn split_note(note: &[u8]) -> Result<(&str, Vec<SigLine<'_>>), LogError> {
    let malformed = |reason: String| LogError::MalformedNote(reason);
    if note.len() > MAX_NOTE_LEN {
        return Err(LogError::NoteTooLarge { max: MAX_NOTE_LEN, got: note.len() });
    }
    let note = std::str::from_utf8(note).map_err(|e| LogError::NotUtf8(e.valid_up_to()))?;
    if let Some(i) = note.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(malformed(format!("control character at byte {i}")));
    }
    // The text ends at the last blank line; signature lines follow it.
    let split = note.rfind("\n\n").ok_or_else(|| malformed("no blank line before the signatures".into()))?;
    let text = note.get(..split + 1).ok_or_else(|| malformed("no text".into()))?;
    let sigs = note.get(split + 2..).ok_or_else(|| malformed("no signatures".into()))?;
    let sigs = sigs.strip_suffix('\n').ok_or_else(|| malformed("signature block does not end in a newline".into()))?;
    if sigs.is_empty() {
        return Err(malformed("no signature lines".into()));
    }
    let text_lines = text.matches('\n').count();
    let mut lines = Vec::new();
    for (i, line) in sigs.split('\n').enumerate() {
        let line_no = text_lines + 2 + i;
        if i >= MAX_SIGNATURES {
            return Err(malformed(format!("more than {MAX_SIGNATURES} signature lines")));
        }
        let (name, blob) = parse_sig_line(line).map_err(|reason| malformed(format!("line {line_no}: {reason}")))?;
        lines.push(SigLine { name, id: blob.0, sig: blob.1 });
    }
    Ok((text, lines))
}

/// Parses one `— <name> <base64(key id || signature)>` line (without its newline).
pub(crate) fn parse_sig_line(line: &str) -> Result<(&str, (u32, Vec<u8>)), String> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| "not a signature line (\"\u{2014} <name> <signature>\")".to_owned())?;
    let (name, sig64) = rest.split_once(' ').ok_or_else(|| "no space after the key name".to_owned())?;
    check_name(name).map_err(|e| e.to_string())?;
    let blob = B64.decode(sig64).map_err(|_| "signature is not base64".to_owned())?;
    match blob.split_first_chunk::<4>() {
        Some((id, sig)) if !sig.is_empty() => Ok((name, (u32::from_be_bytes(*id), sig.to_vec()))),
        _ => Err("signature shorter than 5 bytes".to_owned()),
    }
}

/// Opens a signed note: checks its syntax, then the signature(s) by `verifier`'s key
/// over the exact text bytes, and only then returns the text.
///
/// Signature lines from other keys (other names, or the same name with another key
/// ID) are ignored, as c2sp.org/signed-note requires. Every line from this key must
/// verify: one bad signature from a known key rejects the whole note.
pub fn open_note<'a>(note: &'a [u8], verifier: &CheckpointVerifier) -> Result<&'a str, LogError> {
    let (text, lines) = split_note(note)?;
    let mut verified = false;
    for line in lines.iter().filter(|l| l.name == verifier.name && l.id == verifier.id) {
        let ok = Signature::from_slice(&line.sig)
            .is_ok_and(|sig| verifier.key().verify_strict(text.as_bytes(), &sig).is_ok());
        if !ok {
            return Err(LogError::BadSignature { key: verifier.label() });
        }
        verified = true;
    }
    if !verified {
        return Err(LogError::NoSignature { key: verifier.label() });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_zeroized_on_drop() {
        fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroize_on_drop::<SigningKey>();
    }

    #[test]
    fn key_names_follow_the_spec() {
        for bad in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{2003}b", "a\u{7f}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        for good in ["trustee-1.example/log", "PeterNeumann", "ü/ß", &"x".repeat(255)] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn key_ids_are_canonical_hex() {
        assert_eq!(parse_key_id("c74f20a3"), Some(0xc74f20a3));
        for bad in ["C74F20A3", "c74f20a", "c74f20a30", "+74f20a3", "c74f20g3", " 74f20a3"] {
            assert_eq!(parse_key_id(bad), None, "{bad:?}");
        }
    }
}
