//! Bounded, panic-free reading and writing of the wire formats.
//!
//! Every blob starts with a one-byte format version and a two-byte algorithm id
//! ([`Alg`]); the ids are unique across blob kinds, so a warrant can never be parsed
//! as an escrow field or the other way round. All integers are big-endian. The byte
//! layouts are specified in `docs/protocol.md`.

use crate::error::{DecodeError, Error};

/// The one wire-format version this crate reads and writes.
pub const VERSION: u8 = 1;

/// Algorithm (suite) identifiers. Each names a blob kind *and* the primitives in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Alg {
    /// Escrow label, canonical encoding v1.
    Label = 0x0001,
    /// Escrow field: labeled threshold encryption on BLS12-381 (G1 keys, G2 proofs),
    /// SHA-256 mask, hash-to-G2 `BLS12381G2_XMD:SHA-256_SSWU_RO_`.
    EscrowField = 0x0002,
    /// A trustee's decryption share of an escrow field (a G1 point).
    DecryptionShare = 0x0003,
    /// An epoch's public key set: Feldman commitment to the sharing polynomial in G1.
    EpochPublicKey = 0x0004,
    /// One trustee's secret key share of an epoch (a BLS12-381 scalar).
    TrusteeKeyShare = 0x0005,
    /// Envelope: P-256 ECDH + HKDF-SHA256 key wrap, AES-256-GCM body, ECDSA-P256-SHA256.
    Envelope = 0x0006,
    /// A user's public identity: P-256 ECDSA verifying key and P-256 ECDH key.
    UserPublicKey = 0x0007,
    /// A court-signed warrant, ECDSA-P256-SHA256.
    Warrant = 0x0008,
    /// A court's public signing key, P-256.
    CourtPublicKey = 0x0009,
    /// A user's secret identity keys, P-256.
    UserSecretKey = 0x000a,
    /// A court's secret signing key, P-256.
    CourtSecretKey = 0x000b,
    /// A secret sealed at rest: argon2id (or a raw key file) + AES-256-GCM.
    SealedSecret = 0x000c,
    /// A trustee's secret signing key (announcements, ceremony messages), P-256.
    TrusteeSigningKey = 0x000d,
    /// A trustee's public signing key, P-256, bound to the trustee's id.
    TrusteeVerifyingKey = 0x000e,
    /// A DKG dealer's Feldman commitment to its sharing polynomial, G1 points.
    DealingCommitment = 0x000f,
    /// A DKG share encrypted to its player: P-256 ECDH + HKDF-SHA256 + AES-256-GCM.
    EncryptedShare = 0x0010,
    /// An epoch announcement: the key set, its holders, its lifetime, the transcript.
    EpochAnnouncement = 0x0011,
    /// An epoch announcement with the holders' signatures.
    SignedAnnouncement = 0x0012,
    /// A signed key-ceremony message (proposal, acceptance, dealing, complaint...).
    CeremonyMessage = 0x0013,
    /// A data key encrypted to one party's day: Boneh–Franklin IBE on BLS12-381 (G1
    /// keys, identities hashed to G2), SHA-256 mask, re-encryption check.
    DayField = 0x0014,
    /// A trustee's share of a day key (a G2 point).
    ExtractionShare = 0x0015,
    /// An envelope that also carries a day field per party (both escrow modes).
    EnvelopeWithDays = 0x0016,
    /// What a message is across escrow domains: ids, parties, each party's home
    /// jurisdiction, time and composition rule (the key-wrap AAD of 0x0019).
    MessageLabel = 0x0017,
    /// An escrow label that also names the field's domain, the rule and every party's
    /// home jurisdiction (label v2; bound into each field of 0x0019).
    DomainLabel = 0x0018,
    /// An envelope with one escrow field per domain its rule requires (0 to 16).
    DomainEnvelope = 0x0019,
}

/// Whether `blob`'s header names this version and `alg`; nothing else is checked. For
/// a reader that takes blobs of more than one kind (an envelope with or without domain
/// fields) and must pick the decoder, which then checks everything.
pub fn names(blob: &[u8], alg: Alg) -> bool {
    matches!(blob, [VERSION, hi, lo, ..] if u16::from_be_bytes([*hi, *lo]) == alg as u16)
}

impl Alg {
    /// The blob kind's name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Label => "label",
            Alg::EscrowField => "escrow field",
            Alg::DecryptionShare => "decryption share",
            Alg::EpochPublicKey => "epoch public key",
            Alg::TrusteeKeyShare => "trustee key share",
            Alg::Envelope => "envelope",
            Alg::UserPublicKey => "user public key",
            Alg::Warrant => "warrant",
            Alg::CourtPublicKey => "court public key",
            Alg::UserSecretKey => "user secret key",
            Alg::CourtSecretKey => "court secret key",
            Alg::SealedSecret => "sealed secret",
            Alg::TrusteeSigningKey => "trustee signing key",
            Alg::TrusteeVerifyingKey => "trustee verifying key",
            Alg::DealingCommitment => "dealing commitment",
            Alg::EncryptedShare => "encrypted share",
            Alg::EpochAnnouncement => "epoch announcement",
            Alg::SignedAnnouncement => "signed announcement",
            Alg::CeremonyMessage => "ceremony message",
            Alg::DayField => "day field",
            Alg::ExtractionShare => "extraction share",
            Alg::EnvelopeWithDays => "envelope with day fields",
            Alg::MessageLabel => "message label",
            Alg::DomainLabel => "domain label",
            Alg::DomainEnvelope => "envelope with domain fields",
        }
    }
}

/// Appends big-endian fields to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts a blob with its version and algorithm id.
    pub(crate) fn new(alg: Alg) -> Self {
        let mut w = Writer { buf: Vec::with_capacity(256) };
        w.u8(VERSION);
        w.u16(alg as u16);
        w
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// A string of at most 255 bytes behind a one-byte length. Callers pass only
    /// values whose length was validated at construction.
    pub(crate) fn str8(&mut self, s: &str) {
        let len = u8::try_from(s.len()).expect("str8 values are validated to fit in 255 bytes");
        self.u8(len);
        self.bytes(s.as_bytes());
    }

    /// A string of at most 65535 bytes behind a two-byte length (validated by callers).
    pub(crate) fn str16(&mut self, s: &str) {
        self.bytes16(s.as_bytes());
    }

    /// Bytes behind a two-byte length (validated by callers).
    pub(crate) fn bytes16(&mut self, b: &[u8]) {
        let len = u16::try_from(b.len()).expect("bytes16 values are validated to fit in 65535 bytes");
        self.u16(len);
        self.bytes(b);
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads big-endian fields from untrusted bytes; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    kind: Alg,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Checks the version and algorithm id of a blob of kind `alg` and bounds its size.
    pub(crate) fn new(buf: &'a [u8], alg: Alg, max_len: usize) -> Result<Self, Error> {
        if buf.len() > max_len {
            return Err(Error::decode(alg, DecodeError::TooLong { max: max_len, got: buf.len() }));
        }
        let mut r = Reader { kind: alg, buf, pos: 0 };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(Error::decode(alg, DecodeError::UnsupportedVersion(version)));
        }
        let got = r.u16("algorithm id")?;
        if got != alg as u16 {
            return Err(Error::decode(alg, DecodeError::WrongAlgorithm { expected: alg as u16, got }));
        }
        Ok(r)
    }

    pub(crate) fn err(&self, e: DecodeError) -> Error {
        Error::decode(self.kind, e)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (end, s))) {
            Some((end, s)) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(DecodeError::Truncated(field))),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let s = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A UTF-8 string behind a one-byte length.
    pub(crate) fn str8(&mut self, field: &'static str) -> Result<&'a str, Error> {
        let len = self.u8(field)?;
        let raw = self.take(usize::from(len), field)?;
        std::str::from_utf8(raw).map_err(|_| self.err(DecodeError::NotUtf8(field)))
    }

    /// A UTF-8 string behind a two-byte length, at most `max` bytes.
    pub(crate) fn str16(&mut self, field: &'static str, max: usize) -> Result<&'a str, Error> {
        let raw = self.bytes16(field, max)?;
        std::str::from_utf8(raw).map_err(|_| self.err(DecodeError::NotUtf8(field)))
    }

    /// Bytes behind a two-byte length, at most `max` bytes.
    pub(crate) fn bytes16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], Error> {
        let len = usize::from(self.u16(field)?);
        if len > max {
            return Err(self.err(DecodeError::FieldTooLong { field, max, got: len }));
        }
        self.take(len, field)
    }

    /// Bytes consumed so far (the start of the blob up to here).
    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn consumed(&self) -> &'a [u8] {
        self.buf.get(..self.pos).unwrap_or_default()
    }

    /// Fails unless every byte was consumed: encodings are canonical, so trailing
    /// bytes are an error rather than ignored.
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err(DecodeError::TrailingBytes(self.buf.len() - self.pos)))
        }
    }
}
