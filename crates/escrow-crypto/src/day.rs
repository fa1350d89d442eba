//! Identity-based escrow per party and day: the second escrow mode.
//!
//! Boneh–Franklin identity-based encryption on BLS12-381, with the epoch's key set as
//! the master key (`PK = a_0·G1`, trustee `i` holds `s_i`), as drand's tlock does for
//! rounds. The identity is (epoch, party, UTC day); its key is the threshold BLS
//! signature on the hashed identity:
//!
//! ```text
//! Q      = hash_to_G2( enc(epoch, day, party) )        (DAY_ID_DST)
//! d_i    = s_i·Q                                       trustee i's extraction share
//!          check: e(G1, d_i) = e(PK_i, Q)
//! d      = Σ λ_i·d_i = a_0·Q                           the day key, from t+1 shares
//! r      = KDF(PK, DK, L, party)                       (DAY_R_SALT; deterministic)
//! U      = r·G1
//! V      = DK ⊕ SHA-256( DAY_MASK_DST ‖ e(PK, Q)^r )
//! open:  DK = V ⊕ SHA-256( DAY_MASK_DST ‖ e(U, d) ),  then refuse unless U = KDF(PK, DK, L, party)·G1
//! ```
//!
//! `e(U, d) = e(r·G1, a_0·Q) = e(PK, Q)^r`. The check after opening is the
//! Fujisaki–Okamoto re-encryption check with the data key itself as the random
//! message (a fresh uniform 256-bit key per message): a field changed in any bit,
//! moved to another label, party or day, or made with another key, opens to nothing.
//! The same check is the recipient's (Blaze's 1994 attack fails as in the
//! per-message mode): [`DayField::check_carries`].
//!
//! What changes against the per-message field (`field.rs`): a trustee's work is one
//! extraction share per (party, day) of a warrant, whatever the traffic, and a day
//! key opens every field of that party and day, in a warrant's hours or not.
//!
//! No maintained crate fits here: commonware's `tle` and tlock encrypt to a BLS
//! signature target under their own key and hash layouts; this module uses the
//! epoch's key set, the same curve library (blst through blstrs) and the same
//! encodings as the rest of the crate, with its own domain separation.

use std::collections::BTreeSet;
use std::fmt;

use blsttc::blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::{Curve, Group};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::field::{lagrange_at_zero, scalar_from_wide, xor32, DataKey};
use crate::id::PartyId;
use crate::keys::{EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
use crate::label::{Label, Scope, ScopeError};
use crate::warrant::VerifiedWarrant;
use crate::wire::{Alg, Reader, Writer};

/// Domain separation for hashing a day identity to G2 (RFC 9380 suite name as suffix).
const DAY_ID_DST: &[u8] = b"ESCROW-V1-DAY-ID_BLS12381G2_XMD:SHA-256_SSWU_RO_";
/// Domain separation for the mask `SHA-256(DAY_MASK_DST ‖ e(PK, Q)^r)`.
const DAY_MASK_DST: &[u8] = b"escrow/v1/day/mask";
/// HKDF salt for deriving `r` from `(PK, DK, L, party)`.
const DAY_R_SALT: &[u8] = b"escrow/v1/day/r";

/// Seconds in a UTC day: day `n` is `[n·86400, (n+1)·86400)` in Unix time.
pub const SECONDS_PER_DAY: u64 = 86_400;
/// Encoded day field length: header, U (48), V (32).
pub const DAY_FIELD_LEN: usize = 3 + 48 + 32;
/// Encoded extraction share length: header, epoch, trustee index, d_i (96).
pub const EXTRACTION_SHARE_LEN: usize = 3 + 8 + 2 + 96;

/// The identity a day key opens: one party's messages of one UTC day, in one epoch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayId {
    epoch: EpochId,
    day: u32,
    party: PartyId,
}

impl DayId {
    /// `party`'s day `day` (days since 1970-01-01 UTC) in `epoch`.
    pub fn new(epoch: EpochId, party: PartyId, day: u32) -> Self {
        DayId { epoch, day, party }
    }

    /// The day of `party` that a message under `label` belongs to; `party` must be its
    /// sender or one of its recipients.
    pub fn of(label: &Label, party: &PartyId) -> Result<Self, Error> {
        if !label.involves(party) {
            return Err(Error::NotAParty(party.to_string()));
        }
        Ok(DayId { epoch: label.epoch(), day: day_of(label.timestamp()), party: party.clone() })
    }

    /// The epoch.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }

    /// The party.
    pub fn party(&self) -> &PartyId {
        &self.party
    }

    /// The UTC day (days since 1970-01-01).
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The bytes hashed to G2: epoch (8), day (4), party (str8).
    fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13 + self.party.as_str().len());
        out.extend_from_slice(&self.epoch.0.to_be_bytes());
        out.extend_from_slice(&self.day.to_be_bytes());
        // Party ids are at most 64 bytes (PartyId's own rule).
        out.push(u8::try_from(self.party.as_str().len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.party.as_str().as_bytes());
        out
    }

    fn point(&self) -> G2Affine {
        G2Projective::hash_to_curve(&self.encoded(), DAY_ID_DST, &[]).to_affine()
    }
}

impl fmt::Display for DayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on day {} of epoch {}", self.party, self.day, self.epoch.0)
    }
}

impl Scope {
    /// Checks that a day key for `id` is inside the scope: its party is a target and
    /// some second of its day lies in the window. A day key opens the whole day, so a
    /// window of one hour still gives whole days: the coarser scope of the day mode.
    pub fn check_day(&self, id: &DayId) -> Result<(), ScopeError> {
        if !self.targets().contains(id.party()) {
            return Err(ScopeError::PartyNotATarget(id.party().to_string()));
        }
        let window = self.window();
        let start = u64::from(id.day()) * SECONDS_PER_DAY;
        if start >= window.to() || start + SECONDS_PER_DAY <= window.from() {
            return Err(ScopeError::DayOutsideWindow { day: id.day(), start, from: window.from(), to: window.to() });
        }
        Ok(())
    }
}

impl VerifiedWarrant {
    /// [`Scope::check_day`] under this warrant's scope.
    pub fn check_day_scope(&self, id: &DayId) -> Result<(), Error> {
        self.scope().check_day(id).map_err(Error::OutOfScope)
    }
}

/// The UTC day of a Unix time (days since 1970-01-01; saturates past year 11 million).
pub fn day_of(timestamp: u64) -> u32 {
    u32::try_from(timestamp / SECONDS_PER_DAY).unwrap_or(u32::MAX)
}

/// `SHA-256(DAY_MASK_DST ‖ gt)` for a pairing value, encoded canonically (after the
/// final exponentiation, 576 bytes big-endian).
fn mask(p: &G1Affine, q: &G2Affine) -> [u8; 32] {
    let gt = blst::blst_fp12::miller_loop(q.as_ref(), p.as_ref()).final_exp();
    let mut h = Sha256::new();
    h.update(DAY_MASK_DST);
    h.update(gt.to_bendian());
    h.finalize().into()
}

fn derive_r(pk: &G1Affine, dk: &DataKey, label: &[u8], party: &PartyId) -> Scalar {
    let hk = Hkdf::<Sha256>::new(Some(DAY_R_SALT), dk.expose_secret());
    let mut okm = Zeroizing::new([0u8; 64]);
    hk.expand_multi_info(&[&pk.to_compressed(), label, party.as_str().as_bytes()], okm.as_mut_slice())
        .expect("64 bytes is far below HKDF-SHA256's output limit");
    scalar_from_wide(&okm)
}

/// A message's data key encrypted to one of its parties' day (U, V). One per party of
/// the message: a day key of any of them opens it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DayField {
    u: G1Affine,
    v: [u8; 32],
}

impl fmt::Debug for DayField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.u.to_compressed();
        write!(f, "DayField(U={:02x}{:02x}{:02x}{:02x}…)", u[0], u[1], u[2], u[3])
    }
}

impl DayField {
    /// Encrypts `dk` to `party`'s day of the message under `label`. Deterministic in
    /// (key set, dk, label, party).
    pub fn seal(epk: &EpochPublicKey, label: &Label, party: &PartyId, dk: &DataKey) -> Result<Self, Error> {
        let id = DayId::of(label, party)?;
        if id.epoch != epk.epoch() {
            return Err(Error::EpochMismatch { expected: epk.epoch().0, got: id.epoch.0 });
        }
        Ok(Self::seal_for(epk.master(), &id, &label.to_bytes(), dk))
    }

    fn seal_for(pk: G1Affine, id: &DayId, label: &[u8], dk: &DataKey) -> Self {
        let mut r = derive_r(&pk, dk, label, &id.party);
        let u = (G1Projective::generator() * r).to_affine();
        let shared = (G1Projective::from(pk) * r).to_affine();
        r = Scalar::from(0u64);
        std::hint::black_box(&r);
        DayField { u, v: xor32(dk.expose_secret(), &mask(&shared, &id.point())) }
    }

    /// The recipient's check: re-encrypts `dk` for `party` under `label` and compares.
    pub fn check_carries(
        &self,
        epk: &EpochPublicKey,
        label: &Label,
        party: &PartyId,
        dk: &DataKey,
    ) -> Result<(), Error> {
        if Self::seal(epk, label, party, dk)? == *self {
            Ok(())
        } else {
            Err(Error::FieldMismatch)
        }
    }

    /// Opens the field with `party`'s day key: the key must be for that party's day of
    /// this message, and the recovered data key must re-encrypt to this field.
    pub fn open(&self, key: &DayKey, label: &Label, party: &PartyId) -> Result<DataKey, Error> {
        let id = DayId::of(label, party)?;
        if key.id != id {
            return Err(Error::WrongDayKey { needed: id.to_string(), got: key.id.to_string() });
        }
        let dk = DataKey::from_bytes(xor32(&self.v, &mask(&self.u, &key.d)));
        let mut r = derive_r(&key.pk, &dk, &label.to_bytes(), party);
        let carries = (G1Projective::generator() * r).to_affine() == self.u;
        r = Scalar::from(0u64);
        std::hint::black_box(&r);
        if carries {
            Ok(dk)
        } else {
            Err(Error::FieldMismatch)
        }
    }

    /// U (48) and V (32), as an envelope carries it.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.bytes(&self.u.to_compressed());
        w.bytes(&self.v);
    }

    /// [`write`](Self::write)'s bytes back; U is subgroup-checked and must not be the
    /// identity.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let u = r.g1("U")?;
        if bool::from(u.is_identity()) {
            return Err(r.err(DecodeError::InvalidPoint("U (identity)")));
        }
        let v = r.array::<32>("V")?;
        Ok(DayField { u, v })
    }

    /// Encoding: version, alg, U (48), V (32).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::DayField);
        self.write(&mut w);
        w.finish()
    }

    /// Decodes a day field; U is subgroup-checked and must not be the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::DayField, DAY_FIELD_LEN)?;
        let field = Self::read(&mut r)?;
        r.finish()?;
        Ok(field)
    }
}

/// Trustee `i`'s share `d_i = s_i·Q` of a day key. Says nothing of which day: the
/// request names it, and verification is against that day.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExtractionShare {
    epoch: EpochId,
    trustee: TrusteeIndex,
    d: G2Affine,
}

impl ExtractionShare {
    /// The trustee that made it.
    pub fn trustee(&self) -> TrusteeIndex {
        self.trustee
    }

    /// Encoding: version, alg, epoch (8), trustee index (2), d_i (96).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::ExtractionShare);
        w.u64(self.epoch.0);
        w.u16(self.trustee.0);
        w.bytes(&self.d.to_compressed());
        w.finish()
    }

    /// Decodes a share; d_i is subgroup-checked and must not be the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::ExtractionShare, EXTRACTION_SHARE_LEN)?;
        let epoch = EpochId(r.u64("epoch")?);
        let trustee = TrusteeIndex(r.u16("trustee index")?);
        if trustee.0 >= crate::keys::MAX_TRUSTEES {
            return Err(r.err(DecodeError::InvalidValue { field: "trustee index", reason: "must be below 64" }));
        }
        let d = r.g2("d")?;
        if bool::from(d.is_identity()) {
            return Err(r.err(DecodeError::InvalidPoint("d (identity)")));
        }
        r.finish()?;
        Ok(ExtractionShare { epoch, trustee, d })
    }
}

/// A party's day key `d = a_0·Q`, checked against the epoch's key set: opens every
/// day field of that party and day. Built only from t+1 valid shares
/// ([`EpochPublicKey::combine_day_key`]). `Debug` shows the day, not the key; the
/// point is overwritten when dropped.
pub struct DayKey {
    id: DayId,
    d: G2Affine,
    pk: G1Affine,
}

impl fmt::Debug for DayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DayKey({}, <redacted>)", self.id)
    }
}

impl Drop for DayKey {
    fn drop(&mut self) {
        self.d = G2Affine::identity();
        std::hint::black_box(&self.d);
    }
}

impl DayKey {
    /// Whose day it opens.
    pub fn id(&self) -> &DayId {
        &self.id
    }
}

impl TrusteeKeyShare {
    /// This trustee's extraction share of `id`'s day key. Which days may be extracted
    /// (a warrant's targets and days) is the caller's to check.
    pub fn extract_share(&self, id: &DayId) -> Result<ExtractionShare, Error> {
        if id.epoch != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: id.epoch.0 });
        }
        let q = G2Projective::from(id.point());
        let d = self.with_scalar(|s| (q * s).to_affine());
        Ok(ExtractionShare { epoch: self.epoch(), trustee: self.index(), d })
    }
}

impl EpochPublicKey {
    /// Verifies one extraction share of `id`: `e(G1, d_i) = e(PK_i, Q)`.
    pub fn verify_extraction_share(&self, id: &DayId, share: &ExtractionShare) -> Result<(), Error> {
        self.check_extraction(&id.point(), id, share)
    }

    fn check_extraction(&self, q: &G2Affine, id: &DayId, share: &ExtractionShare) -> Result<(), Error> {
        if id.epoch != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: id.epoch.0 });
        }
        if share.epoch != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: share.epoch.0 });
        }
        let pk_i = self.share_key(share.trustee)?;
        // e(G1, d_i) · e(−PK_i, Q) == 1
        let lhs = blst::blst_fp12::miller_loop(share.d.as_ref(), G1Affine::generator().as_ref());
        let rhs = blst::blst_fp12::miller_loop(q.as_ref(), pk_i.as_ref());
        if blst::blst_fp12::finalverify(&lhs, &rhs) {
            Ok(())
        } else {
            Err(Error::InvalidExtractionShare { trustee: share.trustee })
        }
    }

    /// Verifies every share of `id` and interpolates t+1 valid ones (the
    /// lowest-indexed) to the day key. Returns it with the trustees whose shares were
    /// invalid; with fewer than t+1 valid shares the error names them.
    pub fn combine_day_key(
        &self,
        id: &DayId,
        shares: &[ExtractionShare],
    ) -> Result<(DayKey, Vec<TrusteeIndex>), Error> {
        if id.epoch != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: id.epoch.0 });
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = shares.iter().find(|s| !seen.insert(s.trustee)) {
            return Err(Error::DuplicateShare { trustee: dup.trustee });
        }
        let q = id.point();
        let culprits: Vec<TrusteeIndex> =
            shares.iter().filter(|s| self.check_extraction(&q, id, s).is_err()).map(|s| s.trustee).collect();
        let mut good: Vec<&ExtractionShare> = shares.iter().filter(|s| !culprits.contains(&s.trustee)).collect();
        if good.len() < self.quorum() {
            return Err(Error::NotEnoughExtractionShares { valid: good.len(), needed: self.quorum(), culprits });
        }
        good.sort_by_key(|s| s.trustee);
        good.truncate(self.quorum());
        let xs: Vec<Scalar> = good.iter().map(|s| s.trustee.x()).collect();
        let lambdas = lagrange_at_zero(&xs)
            .ok_or(Error::InvalidInput { what: "shares", reason: "duplicate evaluation points" })?;
        let points: Vec<G2Projective> = good.iter().map(|s| G2Projective::from(s.d)).collect();
        let d = G2Projective::multi_exp(&points, &lambdas).to_affine();
        Ok((DayKey { id: id.clone(), d, pk: self.master() }, culprits))
    }
}
