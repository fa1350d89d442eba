//! The escrow field: labeled threshold encryption of a message's data key.
//!
//! A Baek–Zheng / Shoup–Gennaro style scheme on BLS12-381, with the label bound in:
//!
//! ```text
//! r = KDF(PK, DK, L)                  (deterministic: the recipient can recompute it)
//! U = r·G1
//! V = DK ⊕ SHA-256(MASK_DST ‖ r·PK)
//! H = hash_to_G2(U ‖ V ‖ L)           (W_DST)
//! W = r·H
//! ```
//!
//! Anyone can check `e(G1, W) = e(U, H)`: changing U, V or L breaks it, so a field
//! cannot be moved under another label. Trustee `i` answers `S_i = s_i·U`, checkable
//! by `e(S_i, H) = e(PK_i, W)`; `t+1` good shares interpolate to `a_0·U = r·PK`.
//! Because `r` is derived from `(DK, L)`, a recipient who knows DK re-encrypts and
//! compares: a field that does not carry the real key under the real label is
//! refused (the fix for Blaze's 1994 attack on Clipper's 16-bit LEAF checksum).

use std::collections::BTreeSet;
use std::fmt;

use blsttc::blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Scalar};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::{Curve, Group};
use hkdf::Hkdf;
use pairing::{MillerLoopResult, MultiMillerLoop};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::keys::{EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
use crate::label::Label;
use crate::wire::{Alg, Reader, Writer};

/// Domain separation for hash-to-G2 of `(U, V, L)` (RFC 9380 suite name as suffix).
const W_DST: &[u8] = b"ESCROW-V1-FIELD-W_BLS12381G2_XMD:SHA-256_SSWU_RO_";
/// Domain separation for the mask `SHA-256(MASK_DST ‖ r·PK)`.
const MASK_DST: &[u8] = b"escrow/v1/field/mask";
/// HKDF salt for deriving `r` from `(PK, DK, L)`.
const R_SALT: &[u8] = b"escrow/v1/field/r";
/// Domain separation for the batch-verification weights.
const BATCH_DST: &[u8] = b"escrow/v1/share-batch";

/// Encoded escrow field length: header, U (48), V (32), W (96).
pub const ESCROW_FIELD_LEN: usize = 3 + 48 + 32 + 96;
/// Encoded decryption share length: header, epoch, trustee index, S_i (48).
pub const DECRYPTION_SHARE_LEN: usize = 3 + 8 + 2 + 48;

/// A message's 256-bit data key. Zeroized on drop; `Debug` is redacted; compared in
/// constant time.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(self.0.as_slice(), other.0.as_slice()))
    }
}
impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(k.as_mut_slice());
        DataKey(k)
    }
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(Zeroizing::new(bytes))
    }
    /// The raw key, for the AEAD that uses it.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// An escrow field (U, V, W); decoded only through subgroup checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EscrowField {
    pub(crate) u: G1Affine,
    pub(crate) v: [u8; 32],
    pub(crate) w: G2Affine,
}

impl fmt::Debug for EscrowField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EscrowField({})", hex8(&self.fingerprint()))
    }
}

fn hex8(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

fn mask(g: &G1Affine) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(MASK_DST);
    h.update(g.to_compressed());
    h.finalize().into()
}

pub(crate) fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// `H = hash_to_G2(U ‖ V ‖ L)`.
pub(crate) fn hash_uvl(u: &G1Affine, v: &[u8; 32], label: &[u8]) -> G2Affine {
    let mut msg = Vec::with_capacity(48 + 32 + label.len());
    msg.extend_from_slice(&u.to_compressed());
    msg.extend_from_slice(v);
    msg.extend_from_slice(label);
    G2Projective::hash_to_curve(&msg, W_DST, &[]).to_affine()
}

/// Reduces 64 big-endian bytes modulo the group order (bias < 2^-250).
pub(crate) fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar {
    let base = Scalar::from(1u64 << 32) * Scalar::from(1u64 << 32);
    bytes.chunks_exact(8).fold(Scalar::from(0u64), |acc, chunk| {
        let limb = u64::from_be_bytes(chunk.try_into().expect("chunks_exact yields 8 bytes"));
        acc * base + Scalar::from(limb)
    })
}

/// `r = HKDF-SHA256(salt = R_SALT, ikm = DK, info = PK ‖ L)` expanded to 64 bytes, mod q.
pub(crate) fn derive_r(pk: &[u8; 48], dk: &DataKey, label: &[u8]) -> Scalar {
    let hk = Hkdf::<Sha256>::new(Some(R_SALT), dk.expose_secret());
    let mut okm = Zeroizing::new([0u8; 64]);
    hk.expand_multi_info(&[pk, label], okm.as_mut_slice()).expect("64 bytes is far below HKDF-SHA256's output limit");
    scalar_from_wide(&okm)
}

impl EscrowField {
    /// Seals `dk` under the epoch key with `label`. Deterministic in `(key, dk, label)`.
    pub fn seal(epk: &EpochPublicKey, label: &Label, dk: &DataKey) -> Result<Self, Error> {
        if label.epoch() != epk.epoch() {
            return Err(Error::EpochMismatch { expected: epk.epoch().0, got: label.epoch().0 });
        }
        Ok(Self::seal_encoded(epk, &label.field_bytes(epk), dk))
    }

    fn seal_encoded(epk: &EpochPublicKey, label: &[u8], dk: &DataKey) -> Self {
        let pk = epk.master();
        let mut r = derive_r(&pk.to_compressed(), dk, label);
        let u = (G1Projective::generator() * r).to_affine();
        let shared = (G1Projective::from(pk) * r).to_affine();
        let v = xor32(dk.expose_secret(), &mask(&shared));
        let w = (G2Projective::from(hash_uvl(&u, &v, label)) * r).to_affine();
        r = Scalar::from(0u64);
        std::hint::black_box(&r);
        EscrowField { u, v, w }
    }

    /// The public validity check `e(G1, W) = e(U, H(U, V, L))`: anyone (relay,
    /// trustee, auditor) can run it; it fails if any part of the field or of the label
    /// was changed.
    pub fn verify(&self, epk: &EpochPublicKey, label: &Label) -> Result<(), Error> {
        self.pending_check(epk, label)?.verify()
    }

    /// The validity check with its per-field half done (the epoch, and hashing
    /// `U ‖ V ‖ L` to G2), the pairing still to come: [`FieldCheck::verify`] for one
    /// field, [`verify_fields`] for many at once.
    pub fn pending_check(&self, epk: &EpochPublicKey, label: &Label) -> Result<FieldCheck, Error> {
        if label.epoch() != epk.epoch() {
            return Err(Error::EpochMismatch { expected: epk.epoch().0, got: label.epoch().0 });
        }
        Ok(self.hashed(&label.field_bytes(epk)))
    }

    fn hashed(&self, label: &[u8]) -> FieldCheck {
        FieldCheck { u: self.u, w: self.w, h: hash_uvl(&self.u, &self.v, label) }
    }

    /// Checks validity and returns the values share verification reuses.
    pub(crate) fn prepare(&self, label: &[u8]) -> Result<Prepared, Error> {
        let (h_prep, w_prep) = self.hashed(label).check()?;
        Ok(Prepared { h_prep, w_prep, statement: [0u8; 32] })
    }

    /// The recipient's check: re-encrypts `dk` under `label` and compares. Refuses a
    /// field that carries another key, another label, or garbage.
    pub fn check_carries(&self, epk: &EpochPublicKey, label: &Label, dk: &DataKey) -> Result<(), Error> {
        if label.epoch() != epk.epoch() {
            return Err(Error::EpochMismatch { expected: epk.epoch().0, got: label.epoch().0 });
        }
        if Self::seal_encoded(epk, &label.field_bytes(epk), dk) == *self {
            Ok(())
        } else {
            Err(Error::FieldMismatch)
        }
    }

    /// SHA-256 of the encoding: how logs and requests name a field.
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Encoding: version, alg, U (48), V (32), W (96).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::EscrowField);
        self.write(&mut w);
        w.finish()
    }

    /// The data key from the shared point `r·PK` (the field's mask undone).
    pub(crate) fn unmask(&self, shared: &G1Affine) -> DataKey {
        DataKey::from_bytes(xor32(&self.v, &mask(shared)))
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.bytes(&self.u.to_compressed());
        w.bytes(&self.v);
        w.bytes(&self.w.to_compressed());
    }

    /// Decodes a field; U and W are subgroup-checked and must not be the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::EscrowField, ESCROW_FIELD_LEN)?;
        let f = Self::read(&mut r)?;
        r.finish()?;
        Ok(f)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let u = r.g1("U")?;
        let v = r.array::<32>("V")?;
        let w = r.g2("W")?;
        if bool::from(u.is_identity()) {
            return Err(r.err(DecodeError::InvalidPoint("U (identity)")));
        }
        if bool::from(w.is_identity()) {
            return Err(r.err(DecodeError::InvalidPoint("W (identity)")));
        }
        Ok(EscrowField { u, v, w })
    }
}

/// One escrow field's validity check, hashed and waiting for its pairing; made by
/// [`EscrowField::pending_check`]. Holds only public values.
#[derive(Clone, Copy, Debug)]
pub struct FieldCheck {
    u: G1Affine,
    w: G2Affine,
    h: G2Affine,
}

impl FieldCheck {
    /// `e(G1, W) = e(U, H)`, two Miller loops and one final exponentiation.
    pub fn verify(&self) -> Result<(), Error> {
        self.check().map(|_| ())
    }

    fn check(&self) -> Result<(G2Prepared, G2Prepared), Error> {
        if bool::from(self.u.is_identity()) || bool::from(self.w.is_identity()) {
            return Err(Error::InvalidField);
        }
        let h_prep = G2Prepared::from(self.h);
        let w_prep = G2Prepared::from(self.w);
        // e(G1, W) · e(-U, H) == 1
        let g = G1Affine::generator();
        let neg_u = -self.u;
        let ok = Bls12::multi_miller_loop(&[(&g, &w_prep), (&neg_u, &h_prep)]).final_exponentiation().is_identity();
        if bool::from(ok) {
            Ok((h_prep, w_prep))
        } else {
            Err(Error::InvalidField)
        }
    }
}

/// Checks many fields' validity at once, and names the invalid ones.
///
/// With weights `ρ_j` drawn from `rng` (128 bits each, never zero), one product
/// `e(G1, Σ ρ_j W_j) · Π e(−ρ_j U_j, H_j) = 1` stands for every `e(G1, W_j) = e(U_j,
/// H_j)`: n + 1 Miller loops and one final exponentiation instead of 2n and n. The
/// weights are unknown to whoever made the fields, so invalid fields pass together
/// with probability at most 2^-128 (the small-exponents batch test of Bellare, Garay
/// and Rabin, 1998; the points are subgroup-checked on decoding). When the product
/// fails, each field is checked alone, so the answer is per field either way: the
/// result has one entry per check, in order.
pub fn verify_fields<R: RngCore + CryptoRng>(checks: &[FieldCheck], rng: &mut R) -> Vec<Result<(), Error>> {
    if checks.len() > 1 && batch_holds(checks, rng) {
        return vec![Ok(()); checks.len()];
    }
    checks.iter().map(FieldCheck::verify).collect()
}

/// A batch weight in [1, 2^128]: 128 uniform bits from `rng`, plus one so that no
/// equation drops out of the batch.
pub(crate) fn batch_weight<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
    let two_64 = Scalar::from(1u64 << 32) * Scalar::from(1u64 << 32);
    Scalar::from(rng.next_u64()) * two_64 + Scalar::from(rng.next_u64()) + Scalar::from(1u64)
}

fn batch_holds<R: RngCore + CryptoRng>(checks: &[FieldCheck], rng: &mut R) -> bool {
    let mut weights = Vec::with_capacity(checks.len());
    let mut ws = Vec::with_capacity(checks.len());
    let mut us: Vec<blst::blst_p1_affine> = Vec::with_capacity(checks.len());
    let mut hs: Vec<blst::blst_p2_affine> = Vec::with_capacity(checks.len());
    for c in checks {
        if bool::from(c.u.is_identity()) || bool::from(c.w.is_identity()) {
            return false;
        }
        let rho = batch_weight(rng);
        us.push(*(G1Projective::from(c.u) * rho).to_affine().as_ref());
        hs.push(*c.h.as_ref());
        weights.push(rho);
        ws.push(G2Projective::from(c.w));
    }
    if us.is_empty() {
        return true;
    }
    let w_sum = G2Projective::multi_exp(&ws, &weights).to_affine();
    // Π e(ρ_j·U_j, H_j) against e(G1, Σ ρ_j·W_j), both sides' Miller loops, one final
    // exponentiation: blst's multi-Miller loop shares the squarings of all n pairs.
    let lhs = blst::blst_fp12::miller_loop_n(&hs, &us);
    let rhs = blst::blst_fp12::miller_loop(w_sum.as_ref(), G1Affine::generator().as_ref());
    blst::blst_fp12::finalverify(&lhs, &rhs)
}

/// A field checked under a label, with the values share verification reuses.
#[derive(Clone)]
pub(crate) struct Prepared {
    h_prep: G2Prepared,
    w_prep: G2Prepared,
    /// SHA-256 of (key set, field, label): bound into the batch weights.
    statement: [u8; 32],
}

/// Trustee `i`'s decryption share `S_i = s_i·U` of one field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DecryptionShare {
    pub(crate) epoch: EpochId,
    pub(crate) trustee: TrusteeIndex,
    pub(crate) s: G1Affine,
}

impl DecryptionShare {
    /// The trustee that produced the share.
    pub fn trustee(&self) -> TrusteeIndex {
        self.trustee
    }
    /// The epoch of the key share used.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }

    /// Encoding: version, alg, epoch (u64), trustee index (u16), S_i (48).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::DecryptionShare);
        w.u64(self.epoch.0);
        w.u16(self.trustee.0);
        w.bytes(&self.s.to_compressed());
        w.finish()
    }

    /// Decodes a share (subgroup-checked). Whether it is *correct* is
    /// [`EpochPublicKey::verify_share`]'s job.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::DecryptionShare, DECRYPTION_SHARE_LEN)?;
        let epoch = EpochId(r.u64("epoch")?);
        let trustee = TrusteeIndex(r.u16("trustee index")?);
        if trustee.0 >= crate::keys::MAX_TRUSTEES {
            return Err(r.err(DecodeError::InvalidValue { field: "trustee index", reason: "must be below 64" }));
        }
        let s = r.g1("S")?;
        if bool::from(s.is_identity()) {
            return Err(r.err(DecodeError::InvalidPoint("S (identity)")));
        }
        r.finish()?;
        Ok(DecryptionShare { epoch, trustee, s })
    }
}

impl TrusteeKeyShare {
    /// Checks the field's validity under `label` (fail closed), then answers with
    /// this trustee's decryption share. Scope and policy are the caller's to check.
    pub fn decrypt_share(
        &self,
        epk: &EpochPublicKey,
        field: &EscrowField,
        label: &Label,
    ) -> Result<DecryptionShare, Error> {
        if self.epoch() != epk.epoch() {
            return Err(Error::EpochMismatch { expected: epk.epoch().0, got: self.epoch().0 });
        }
        field.verify(epk, label)?;
        Ok(self.share_for(field))
    }

    /// [`decrypt_share`](Self::decrypt_share) for many fields at once: every field's
    /// validity is checked in one batch ([`verify_fields`]: n + 1 Miller loops and one
    /// final exponentiation, with random weights from `rng`; only a batch that fails is
    /// checked field by field, to name the bad ones), then each valid field gets this
    /// trustee's share. One result per item, in order; an item's error is exactly the
    /// one `decrypt_share` gives it.
    pub fn decrypt_shares<R: RngCore + CryptoRng>(
        &self,
        epk: &EpochPublicKey,
        items: &[(&EscrowField, &Label)],
        rng: &mut R,
    ) -> Vec<Result<DecryptionShare, Error>> {
        if self.epoch() != epk.epoch() {
            let wrong = Error::EpochMismatch { expected: epk.epoch().0, got: self.epoch().0 };
            return items.iter().map(|_| Err(wrong.clone())).collect();
        }
        let pending: Vec<Result<FieldCheck, Error>> = items.iter().map(|(f, l)| f.pending_check(epk, l)).collect();
        let checks: Vec<FieldCheck> = pending.iter().filter_map(|p| p.as_ref().ok().copied()).collect();
        // One verdict per check, in the order of the items that have one.
        let mut verdicts = verify_fields(&checks, rng).into_iter();
        items
            .iter()
            .zip(pending)
            .map(|((field, _), check)| {
                check?;
                verdicts.next().unwrap_or(Err(Error::InvalidField))?;
                Ok(self.share_for(field))
            })
            .collect()
    }

    /// The share without checking the field. **Dangerous**: answering an unchecked
    /// field is the decryption oracle the validity check exists to close. Only with the
    /// `dangerous` feature, for the demo's key-theft scenario and benchmarks.
    #[cfg(feature = "dangerous")]
    pub fn decrypt_share_unchecked(&self, field: &EscrowField) -> DecryptionShare {
        self.share_for(field)
    }

    fn share_for(&self, field: &EscrowField) -> DecryptionShare {
        let s = self.with_scalar(|s| (G1Projective::from(field.u) * s).to_affine());
        DecryptionShare { epoch: self.epoch(), trustee: self.index(), s }
    }
}

/// The result of combining shares: the key, and the trustees whose shares were bad.
#[derive(Debug)]
pub struct Opened {
    /// The field's data key.
    pub data_key: DataKey,
    /// Trustees that sent invalid shares (the key was recovered without them).
    pub culprits: Vec<TrusteeIndex>,
}

impl EpochPublicKey {
    /// Verifies one decryption share: `e(S_i, H) = e(PK_i, W)`. Also checks the field.
    pub fn verify_share(&self, field: &EscrowField, label: &Label, share: &DecryptionShare) -> Result<(), Error> {
        let prep = self.prepare_for(field, label)?;
        self.check_share(&prep, share)
    }

    pub(crate) fn prepare_for(&self, field: &EscrowField, label: &Label) -> Result<Prepared, Error> {
        if label.epoch() != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: label.epoch().0 });
        }
        let label_bytes = label.field_bytes(self);
        let prep = field.prepare(&label_bytes)?;
        Ok(self.bind(&prep, field, &label_bytes))
    }

    /// `prep` (a field already checked under `label`) with the batch statement bound
    /// to this key set: lets several key sets share one validity check.
    pub(crate) fn bind(&self, prep: &Prepared, field: &EscrowField, label: &[u8]) -> Prepared {
        let mut statement = Sha256::new();
        statement.update(self.to_bytes());
        statement.update(field.to_bytes());
        statement.update(label);
        Prepared { statement: statement.finalize().into(), ..prep.clone() }
    }

    pub(crate) fn check_share(&self, prep: &Prepared, share: &DecryptionShare) -> Result<(), Error> {
        if share.epoch != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: share.epoch.0 });
        }
        let pk_i = self.share_key(share.trustee)?;
        // e(S_i, H) · e(-PK_i, W) == 1
        let neg_pk = -pk_i;
        let ok = Bls12::multi_miller_loop(&[(&share.s, &prep.h_prep), (&neg_pk, &prep.w_prep)])
            .final_exponentiation()
            .is_identity();
        if bool::from(ok) {
            Ok(())
        } else {
            Err(Error::InvalidShare { trustee: share.trustee })
        }
    }

    /// Verifies all `shares` in one two-pairing check with weights derived from the
    /// statement and the shares themselves (`ρ_i = H(key set, field, label, all
    /// shares, i)`, so a cheater cannot aim at them):
    /// `e(Σ ρ_i S_i, H) = e(Σ ρ_i PK_i, W)`. Falls back to one check per share to name
    /// the culprits only when the batch fails.
    fn check_shares(&self, prep: &Prepared, shares: &[DecryptionShare]) -> Vec<TrusteeIndex> {
        if shares.len() > 1 && self.batch_ok(prep, shares) {
            return Vec::new();
        }
        shares.iter().filter(|s| self.check_share(prep, s).is_err()).map(|s| s.trustee).collect()
    }

    fn batch_ok(&self, prep: &Prepared, shares: &[DecryptionShare]) -> bool {
        let mut transcript = Sha256::new();
        transcript.update(BATCH_DST);
        transcript.update(prep.statement);
        for s in shares {
            transcript.update(s.to_bytes());
        }
        let seed: [u8; 32] = transcript.finalize().into();
        let mut points = Vec::with_capacity(shares.len());
        let mut keys = Vec::with_capacity(shares.len());
        let mut weights = Vec::with_capacity(shares.len());
        for (j, s) in shares.iter().enumerate() {
            let Ok(pk) = self.share_key(s.trustee) else { return false };
            if s.epoch != self.epoch() {
                return false;
            }
            let mut wide = [0u8; 64];
            let hk = Hkdf::<Sha256>::from_prk(&seed).expect("32-byte PRK");
            hk.expand(&(j as u64).to_be_bytes(), &mut wide).expect("64-byte output");
            weights.push(scalar_from_wide(&wide));
            points.push(G1Projective::from(s.s));
            keys.push(G1Projective::from(pk));
        }
        let lhs = G1Projective::multi_exp(&points, &weights).to_affine();
        let rhs = -G1Projective::multi_exp(&keys, &weights).to_affine();
        bool::from(
            Bls12::multi_miller_loop(&[(&lhs, &prep.h_prep), (&rhs, &prep.w_prep)])
                .final_exponentiation()
                .is_identity(),
        )
    }

    /// Verifies the field and every share, then combines `t+1` valid shares (the
    /// lowest-indexed) into the data key. Invalid shares are set aside and named in
    /// [`Opened::culprits`]; with fewer than `t+1` valid shares the error names them.
    pub fn combine(&self, field: &EscrowField, label: &Label, shares: &[DecryptionShare]) -> Result<Opened, Error> {
        let prep = self.prepare_for(field, label)?;
        let (shared, culprits) = self.interpolate(&prep, shares)?;
        Ok(Opened { data_key: field.unmask(&shared), culprits })
    }

    /// Verifies `shares` against this key set and interpolates `t+1` valid ones (the
    /// lowest-indexed) to `a_0·U`; returns it with the trustees whose shares were bad.
    pub(crate) fn interpolate(
        &self,
        prep: &Prepared,
        shares: &[DecryptionShare],
    ) -> Result<(G1Affine, Vec<TrusteeIndex>), Error> {
        let mut seen = BTreeSet::new();
        for s in shares {
            if !seen.insert(s.trustee) {
                return Err(Error::DuplicateShare { trustee: s.trustee });
            }
        }
        let culprits = self.check_shares(prep, shares);
        let good: Vec<&DecryptionShare> = shares.iter().filter(|s| !culprits.contains(&s.trustee)).collect();
        if good.len() < self.quorum() {
            return Err(Error::NotEnoughShares { valid: good.len(), needed: self.quorum(), culprits });
        }
        Ok((interpolate_lowest(good, self.quorum())?, culprits))
    }
}

/// Interpolates at 0 the `quorum` lowest-indexed of `good` (shares already known valid,
/// at least `quorum` of them): `a_0·U`.
pub(crate) fn interpolate_lowest(mut good: Vec<&DecryptionShare>, quorum: usize) -> Result<G1Affine, Error> {
    good.sort_by_key(|s| s.trustee);
    good.truncate(quorum);
    let xs: Vec<Scalar> = good.iter().map(|s| s.trustee.x()).collect();
    let lambdas =
        lagrange_at_zero(&xs).ok_or(Error::InvalidInput { what: "shares", reason: "duplicate evaluation points" })?;
    let points: Vec<G1Projective> = good.iter().map(|s| G1Projective::from(s.s)).collect();
    Ok(G1Projective::multi_exp(&points, &lambdas).to_affine())
}

/// Lagrange coefficients `λ_j = Π_{m≠j} x_m / (x_m − x_j)` for interpolation at 0.
pub(crate) fn lagrange_at_zero(xs: &[Scalar]) -> Option<Vec<Scalar>> {
    let mut out = Vec::with_capacity(xs.len());
    for (j, xj) in xs.iter().enumerate() {
        let mut num = Scalar::from(1u64);
        let mut den = Scalar::from(1u64);
        for (m, xm) in xs.iter().enumerate() {
            if m != j {
                num *= xm;
                den *= *xm - xj;
            }
        }
        let inv: Option<Scalar> = ff::Field::invert(&den).into();
        out.push(num * inv?);
    }
    Some(out)
}
