//! The agency's side, many messages at once: every field's validity and every share
//! checked in one batch, then each data key recovered and checked to be the one its
//! field carries.
//!
//! One message alone costs the agency two checks of two pairings each (the field's
//! `e(G1, W) = e(U, H)` and the shares' `e(Σ ρ_i S_i, H) = e(Σ ρ_i PK_i, W)`, see
//! `field.rs`) and a re-encryption of the field (a hash to G2 and a G2
//! multiplication) to see that it carries the recovered key. Here:
//!
//! - For messages `j` with random weights `α_j` and `ρ_ij` (128 bits each, drawn
//!   from the caller's `rng`, so unknown to whoever made the fields and shares), one
//!   product `Π_j e(Σ_i ρ_ij S_ij − α_j U_j, H_j) · e(α_j G1 − Σ_i ρ_ij PK_i, W_j) = 1`
//!   stands for every field's and every share's equation: two Miller loops per
//!   message and one final exponentiation per batch, where one message alone needs
//!   four and two. Invalid fields or shares pass together with probability at most
//!   2^-128 (the small-exponents batch test of Bellare, Garay and Rabin, 1998; every
//!   point is subgroup-checked on decoding). When the product fails, each message is
//!   checked alone ([`EpochPublicKey::combine`]), which names the culprits.
//! - A valid field (`e(G1, W) = e(U, H)`) carries the recovered key `DK` if and only
//!   if `U = r·G1` for `r = KDF(PK, DK, L)`: then `W = r·H` follows from validity
//!   (the pairing is non-degenerate and G2 has prime order), and `V` from how `DK`
//!   was unmasked (`a_0·U = r·PK`). So one G1 multiplication replaces the
//!   re-encryption.
//!
//! What comes out is a [`Recovered`] key, which only this module builds and which
//! opens only the envelope whose field and label it was recovered for
//! ([`crate::Envelope::open_recovered`]).

use std::collections::BTreeSet;

use blsttc::blstrs::{G1Affine, G1Projective, Scalar};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::{Curve, Group};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::field::{batch_weight, derive_r, hash_uvl, interpolate_lowest, DataKey, DecryptionShare, EscrowField};
use crate::keys::{EpochPublicKey, TrusteeIndex};
use crate::label::Label;

/// Domain separation for what a [`Recovered`] key is bound to.
const BOUND_DST: &[u8] = b"escrow/v1/recovered";

/// A data key recovered from valid shares of a valid field that carries it, bound to
/// that field and label. Built only by [`EpochPublicKey::recover_many`]. `Debug` is
/// redacted (the key is a [`DataKey`]).
#[derive(Debug)]
pub struct Recovered {
    data_key: DataKey,
    culprits: Vec<TrusteeIndex>,
    bound: [u8; 32],
}

impl Recovered {
    /// The data key.
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }

    /// Trustees that sent invalid shares (the key was recovered without them).
    pub fn culprits(&self) -> &[TrusteeIndex] {
        &self.culprits
    }

    /// Whether this key was recovered for `field` under `label`.
    pub(crate) fn is_for(&self, field: &EscrowField, label: &Label) -> bool {
        bound_to(field, label) == self.bound
    }
}

fn bound_to(field: &EscrowField, label: &Label) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(BOUND_DST);
    h.update(field.to_bytes());
    h.update(label.to_bytes());
    h.finalize().into()
}

/// One message to recover: its field, its label and the shares gathered for it.
pub type RecoverItem<'a> = (&'a EscrowField, &'a Label, &'a [DecryptionShare]);

impl EpochPublicKey {
    /// Recovers the data key of every item: every field and every share checked in one
    /// batch (see the module's notes), `t+1` valid shares (the lowest-indexed)
    /// interpolated, and the key checked to be the one the field carries. One result
    /// per item, in order; an item whose batch check fails is checked alone, and its
    /// result is then exactly what [`combine`](Self::combine) and the carry check
    /// give it: culprits named, [`Error::NotEnoughShares`], [`Error::InvalidField`],
    /// [`Error::FieldMismatch`], and so on.
    pub fn recover_many<R: RngCore + CryptoRng>(
        &self,
        items: &[RecoverItem<'_>],
        rng: &mut R,
    ) -> Vec<Result<Recovered, Error>> {
        // Items the batch can take: right epoch, enough distinct shares of known
        // trustees of this epoch. The rest (and all, if the batch fails) go alone.
        let fit: Vec<bool> = items.iter().map(|item| self.fits_batch(item)).collect();
        let batch: Vec<&RecoverItem<'_>> = items.iter().zip(&fit).filter(|(_, f)| **f).map(|(i, _)| i).collect();
        let batch_ok = !batch.is_empty() && self.batch_holds(&batch, rng);
        items
            .iter()
            .zip(fit)
            .map(|(item, fit)| if fit && batch_ok { self.recover_checked(item) } else { self.recover_one(item) })
            .collect()
    }

    fn fits_batch(&self, (_, label, shares): &RecoverItem<'_>) -> bool {
        let mut seen = BTreeSet::new();
        label.epoch() == self.epoch()
            && shares.len() >= self.quorum()
            && shares
                .iter()
                .all(|s| s.epoch == self.epoch() && self.share_key(s.trustee).is_ok() && seen.insert(s.trustee))
    }

    /// `Π_j e(Σ_i ρ_ij S_ij − α_j U_j, H_j) · e(α_j G1 − Σ_i ρ_ij PK_i, W_j) = 1`.
    fn batch_holds<R: RngCore + CryptoRng>(&self, batch: &[&RecoverItem<'_>], rng: &mut R) -> bool {
        let g1 = G1Projective::from(G1Affine::generator());
        let mut on_h: (Vec<blst::blst_p2_affine>, Vec<blst::blst_p1_affine>) = (Vec::new(), Vec::new());
        let mut on_w: (Vec<blst::blst_p2_affine>, Vec<blst::blst_p1_affine>) = (Vec::new(), Vec::new());
        for (field, label, shares) in batch {
            let h = hash_uvl(&field.u, &field.v, &label.field_bytes(self));
            let alpha = batch_weight(rng);
            let mut points = vec![-G1Projective::from(field.u)];
            let mut keys = vec![g1];
            let mut weights = vec![alpha];
            for s in shares.iter() {
                let Ok(pk) = self.share_key(s.trustee) else { return false };
                points.push(G1Projective::from(s.s));
                keys.push(-G1Projective::from(pk));
                weights.push(batch_weight(rng));
            }
            let p = G1Projective::multi_exp(&points, &weights).to_affine();
            let q = G1Projective::multi_exp(&keys, &weights).to_affine();
            on_h.0.push(*h.as_ref());
            on_h.1.push(*p.as_ref());
            // Moved to the other side of the equation: e(P, H) = e(−Q, W).
            on_w.0.push(*field.w.as_ref());
            on_w.1.push(*(-q).as_ref());
        }
        let lhs = blst::blst_fp12::miller_loop_n(&on_h.0, &on_h.1);
        let rhs = blst::blst_fp12::miller_loop_n(&on_w.0, &on_w.1);
        blst::blst_fp12::finalverify(&lhs, &rhs)
    }

    /// One item on its own: the field and every share checked, the culprits named.
    fn recover_one(&self, (field, label, shares): &RecoverItem<'_>) -> Result<Recovered, Error> {
        let opened = self.combine(field, label, shares)?;
        self.carried(field, label, opened.data_key, opened.culprits)
    }

    /// Interpolates t+1 shares already known valid (the lowest-indexed) of a field
    /// already known valid, and checks the field carries the key.
    fn recover_checked(&self, (field, label, shares): &RecoverItem<'_>) -> Result<Recovered, Error> {
        let shared = interpolate_lowest(shares.iter().collect(), self.quorum())?;
        self.carried(field, label, field.unmask(&shared), Vec::new())
    }

    /// `data_key`, recovered from valid shares of a valid field, if the field carries
    /// it: `U = r·G1` (see the module's notes).
    fn carried(
        &self,
        field: &EscrowField,
        label: &Label,
        data_key: DataKey,
        culprits: Vec<TrusteeIndex>,
    ) -> Result<Recovered, Error> {
        let mut r = derive_r(&self.master().to_compressed(), &data_key, &label.field_bytes(self));
        let carries = (G1Projective::generator() * r).to_affine() == field.u;
        // r unmasks the field as well as the key does.
        r = Scalar::from(0u64);
        std::hint::black_box(&r);
        if !carries {
            return Err(Error::FieldMismatch);
        }
        Ok(Recovered { data_key, culprits, bound: bound_to(field, label) })
    }
}
