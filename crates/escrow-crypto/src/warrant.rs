//! Court-signed warrants.
//!
//! The court signs the exact bytes; everyone verifies the signature *before*
//! decoding anything else, and the only way to get a [`VerifiedWarrant`] is
//! [`VerifiedWarrant::verify`]. Trustees and the relay act only on that type.

use std::fmt;

use p256::ecdsa::{SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::envelope::{decode_signature, sign, verify};
use crate::error::{DecodeError, Error, WarrantTimeError};
use crate::id::PartyId;
use crate::label::{Label, Scope, TimeWindow};
use crate::wire::{Alg, Reader, Writer};

/// Most targets one warrant may name.
pub const MAX_TARGETS: usize = 64;
/// Longest case reference, bytes.
pub const MAX_CASE_REFERENCE_LEN: usize = 256;
/// Longest legal basis, bytes.
pub const MAX_LEGAL_BASIS_LEN: usize = 1024;
/// Longest encoded warrant.
pub const MAX_WARRANT_LEN: usize =
    3 + 16 + 65 + 65 + 2 + MAX_CASE_REFERENCE_LEN + 1 + MAX_TARGETS * 65 + 8 * 5 + 2 + MAX_LEGAL_BASIS_LEN + 64;

const WARRANT_SIG_DST: &[u8] = b"escrow/v1/warrant-signature\0";

/// A 128-bit warrant id, chosen by the court.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WarrantId(pub [u8; 16]);

impl fmt::Display for WarrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for WarrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WarrantId({self})")
    }
}

/// What a warrant says. Built by the court, signed by [`CourtSecretKey::sign`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarrantBody {
    /// Warrant id.
    pub id: WarrantId,
    /// The court's case reference (secret during the investigation; free text).
    pub case_reference: String,
    /// Issuing court.
    pub court: PartyId,
    /// Agency allowed to use it.
    pub agency: PartyId,
    /// Targeted users (1 to 64; stored sorted and distinct).
    pub targets: Vec<PartyId>,
    /// Messages sent in `[from, to)` are in scope.
    pub window: TimeWindow,
    /// Issue time, unix seconds.
    pub issued_at: u64,
    /// The warrant may be used until this time (exclusive), unix seconds.
    pub valid_until: u64,
    /// The statute or order it rests on (free text).
    pub legal_basis: String,
    /// How long after expiry the targets' notification may be delayed, seconds.
    pub notification_delay_secs: u64,
}

fn check_text(s: &str, max: usize) -> Result<(), &'static str> {
    if s.len() > max {
        return Err("too long");
    }
    if s.chars().any(|c| c.is_control()) {
        return Err("contains control characters");
    }
    // Bidi overrides and invisible characters would let a warrant read differently to
    // the operator approving it than to the software enforcing it ("Trojan Source").
    if s.chars().any(|c| matches!(c, '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')) {
        return Err("contains invisible or bidirectional-control characters");
    }
    Ok(())
}

impl WarrantBody {
    /// When the warrant's sealed details (targets, case reference) may be revealed:
    /// `valid_until + notification_delay_secs`, saturating. The one place that time is
    /// computed; trustees log it and auditors hold them to it.
    pub fn reveal_at(&self) -> u64 {
        self.valid_until.saturating_add(self.notification_delay_secs)
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |reason| Error::InvalidInput { what: "warrant", reason };
        check_text(&self.case_reference, MAX_CASE_REFERENCE_LEN).map_err(bad)?;
        check_text(&self.legal_basis, MAX_LEGAL_BASIS_LEN).map_err(bad)?;
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return Err(bad("1 to 64 targets required"));
        }
        if self.issued_at >= self.valid_until {
            return Err(bad("issued_at must be before valid_until"));
        }
        Ok(())
    }

    fn encode_unsigned(&self) -> Result<Writer, Error> {
        self.validate()?;
        let mut targets = self.targets.clone();
        targets.sort();
        let n = targets.len();
        targets.dedup();
        if targets.len() != n {
            return Err(Error::InvalidInput { what: "warrant", reason: "duplicate target" });
        }
        let mut w = Writer::new(Alg::Warrant);
        w.bytes(&self.id.0);
        w.str8(self.court.as_str());
        w.str8(self.agency.as_str());
        w.str16(&self.case_reference);
        w.u8(u8::try_from(targets.len()).expect("at most 64 targets"));
        for t in &targets {
            w.str8(t.as_str());
        }
        w.u64(self.window.from());
        w.u64(self.window.to());
        w.u64(self.issued_at);
        w.u64(self.valid_until);
        w.str16(&self.legal_basis);
        w.u64(self.notification_delay_secs);
        Ok(w)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let id = WarrantId(r.array("id")?);
        let court = r.party_id("court")?;
        let agency = r.party_id("agency")?;
        let case_reference = r.str16("case reference", MAX_CASE_REFERENCE_LEN)?.to_owned();
        let n = usize::from(r.u8("target count")?);
        if n == 0 || n > MAX_TARGETS {
            return Err(r.err(DecodeError::InvalidValue { field: "target count", reason: "must be 1 to 64" }));
        }
        let mut targets: Vec<PartyId> = Vec::with_capacity(n);
        for _ in 0..n {
            let t = r.party_id("target")?;
            if targets.last().is_some_and(|prev| prev >= &t) {
                return Err(r.err(DecodeError::InvalidValue { field: "targets", reason: "not strictly ascending" }));
            }
            targets.push(t);
        }
        let from = r.u64("window from")?;
        let to = r.u64("window to")?;
        let window = TimeWindow::new(from, to)
            .map_err(|_| r.err(DecodeError::InvalidValue { field: "window", reason: "from must be before to" }))?;
        let issued_at = r.u64("issued at")?;
        let valid_until = r.u64("valid until")?;
        let legal_basis = r.str16("legal basis", MAX_LEGAL_BASIS_LEN)?.to_owned();
        let notification_delay_secs = r.u64("notification delay")?;
        let body = WarrantBody {
            id,
            case_reference,
            court,
            agency,
            targets,
            window,
            issued_at,
            valid_until,
            legal_basis,
            notification_delay_secs,
        };
        body.validate().map_err(|e| match e {
            Error::InvalidInput { reason, .. } => r.err(DecodeError::InvalidValue { field: "warrant", reason }),
            other => other,
        })?;
        Ok(body)
    }
}

/// A court's public signing key, bound to the court's id.
#[derive(Clone, PartialEq, Eq)]
pub struct CourtPublicKey {
    court: PartyId,
    key: VerifyingKey,
}

impl fmt::Debug for CourtPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CourtPublicKey").field("court", &self.court).finish_non_exhaustive()
    }
}

impl CourtPublicKey {
    /// The court id.
    pub fn court(&self) -> &PartyId {
        &self.court
    }
    /// Encoding: version, alg, court id (str8), SEC1 compressed key (33).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::CourtPublicKey);
        w.str8(self.court.as_str());
        w.bytes(self.key.to_encoded_point(true).as_bytes());
        w.finish()
    }
    /// Decodes a court key (point checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::CourtPublicKey, 3 + 65 + 33)?;
        let court = r.party_id("court")?;
        let key = r.p256_verifying("key")?;
        r.finish()?;
        Ok(CourtPublicKey { court, key })
    }
}

/// A court's secret signing key. Zeroized on drop (by `p256`); `Debug` is redacted.
#[derive(Clone)]
pub struct CourtSecretKey {
    court: PartyId,
    key: SigningKey,
}

impl fmt::Debug for CourtSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CourtSecretKey").field("court", &self.court).field("key", &"<redacted>").finish()
    }
}

impl CourtSecretKey {
    /// A fresh key for `court`.
    pub fn generate<R: RngCore + CryptoRng>(court: PartyId, rng: &mut R) -> Self {
        CourtSecretKey { court, key: SigningKey::random(rng) }
    }
    /// The public half.
    pub fn public(&self) -> CourtPublicKey {
        CourtPublicKey { court: self.court.clone(), key: *self.key.verifying_key() }
    }
    /// Signs a warrant of this court; refuses bodies naming another court.
    pub fn sign(&self, body: &WarrantBody) -> Result<Vec<u8>, Error> {
        if body.court != self.court {
            return Err(Error::PartyMismatch {
                what: "court",
                expected: self.court.to_string(),
                got: body.court.to_string(),
            });
        }
        let mut w = body.encode_unsigned()?;
        let sig = sign(&self.key, WARRANT_SIG_DST, w.as_slice());
        w.bytes(&sig.to_bytes());
        Ok(w.finish())
    }
    /// Encoding: version, alg, court id (str8), scalar (32).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(Alg::CourtSecretKey);
        w.str8(self.court.as_str());
        w.bytes(&Zeroizing::new(self.key.to_bytes()));
        Zeroizing::new(w.finish())
    }
    /// Decodes a court secret key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::CourtSecretKey, 3 + 65 + 32)?;
        let court = r.party_id("court")?;
        let key = SigningKey::from(r.p256_scalar("key")?);
        r.finish()?;
        Ok(CourtSecretKey { court, key })
    }
}

/// The id a warrant blob claims (bytes 3..19, after version and algorithm), without
/// verifying anything: for routing and naming a request before it is checked, never
/// for deciding. `None` if the blob is too short or not a warrant.
pub fn peek_warrant_id(blob: &[u8]) -> Option<WarrantId> {
    let header = blob.get(..3)?;
    if header.first() != Some(&crate::wire::VERSION)
        || header.get(1..3) != Some(&(Alg::Warrant as u16).to_be_bytes()[..])
    {
        return None;
    }
    blob.get(3..19).and_then(|b| <[u8; 16]>::try_from(b).ok()).map(WarrantId)
}

/// The targets a warrant blob names, without verifying its signature: for choosing
/// whose day keys to ask the trustees for (they verify the warrant and refuse any
/// other party), never for deciding. `None` if the blob is not a well-formed warrant.
pub fn peek_warrant_targets(blob: &[u8]) -> Option<Vec<PartyId>> {
    let mut r = Reader::new(blob, Alg::Warrant, MAX_WARRANT_LEN).ok()?;
    WarrantBody::decode(&mut r).ok().map(|b| b.targets)
}

/// A warrant whose court signature has been checked. No public constructor: the
/// only way to get one is [`VerifiedWarrant::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedWarrant {
    body: WarrantBody,
    scope: Scope,
    bytes: Vec<u8>,
}

impl VerifiedWarrant {
    /// Parses the bytes (refusing malformed ones as malformed), then verifies the
    /// court's signature over the exact bytes; nothing of the body is returned or
    /// acted on unless it holds. The warrant must name `court` as its issuer.
    pub fn verify(bytes: &[u8], court: &CourtPublicKey) -> Result<Self, Error> {
        if bytes.len() > MAX_WARRANT_LEN {
            return Err(Error::decode(Alg::Warrant, DecodeError::TooLong { max: MAX_WARRANT_LEN, got: bytes.len() }));
        }
        // The body is parsed (bounded, canonical, fuzzed) from the front before the
        // signature is looked at, and the signature is the 64 bytes where the body
        // ends: a malformed or cut-short blob is reported as malformed, and one cut
        // short as truncated (at the field where it ends, or at the signature), never
        // as a bad signature made of whatever bytes happen to be last. Nothing of the
        // body is used until the signature holds.
        let mut r = Reader::new(bytes, Alg::Warrant, MAX_WARRANT_LEN)?;
        let body = WarrantBody::decode(&mut r)?;
        let signed = r.consumed();
        let sig_bytes = r.take(64, "signature")?;
        let sig = decode_signature(sig_bytes, "signature").map_err(|e| Error::decode(Alg::Warrant, e))?;
        r.finish()?;
        if !verify(&court.key, WARRANT_SIG_DST, signed, &sig) {
            return Err(Error::BadSignature { what: "court" });
        }
        if body.court != court.court {
            return Err(Error::PartyMismatch {
                what: "court",
                expected: court.court.to_string(),
                got: body.court.to_string(),
            });
        }
        let scope = Scope::new(body.targets.iter().cloned(), body.window)?;
        Ok(VerifiedWarrant { body, scope, bytes: bytes.to_vec() })
    }

    /// Verifies against whichever of `courts` signed it.
    pub fn verify_any(bytes: &[u8], courts: &[CourtPublicKey]) -> Result<Self, Error> {
        let mut mismatch = None;
        for c in courts {
            match Self::verify(bytes, c) {
                Ok(w) => return Ok(w),
                Err(e @ Error::Decode { .. }) => return Err(e),
                // A trusted key signed it but the warrant names another court.
                Err(e @ Error::PartyMismatch { .. }) => mismatch = Some(e),
                Err(_) => {}
            }
        }
        Err(mismatch.unwrap_or(Error::UntrustedCourt))
    }

    /// What the warrant says.
    pub fn body(&self) -> &WarrantBody {
        &self.body
    }
    /// Its id.
    pub fn id(&self) -> WarrantId {
        self.body.id
    }
    /// Its scope (targets and window).
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
    /// The exact signed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Fails unless `issued_at <= now < valid_until`.
    pub fn check_time(&self, now: u64) -> Result<(), Error> {
        if now < self.body.issued_at {
            return Err(Error::WarrantTime(WarrantTimeError::NotYetValid { issued_at: self.body.issued_at, now }));
        }
        if now >= self.body.valid_until {
            return Err(Error::WarrantTime(WarrantTimeError::Expired { valid_until: self.body.valid_until, now }));
        }
        Ok(())
    }

    /// Fails, naming the rule, unless `label` is inside the warrant's scope.
    pub fn check_scope(&self, label: &Label) -> Result<(), Error> {
        self.scope.check(label).map_err(Error::OutOfScope)
    }

    /// [`check_scope`](Self::check_scope) for a message across escrow domains.
    pub fn check_message_scope(&self, message: &crate::MessageLabel) -> Result<(), Error> {
        self.scope.check_message(message).map_err(Error::OutOfScope)
    }
}
