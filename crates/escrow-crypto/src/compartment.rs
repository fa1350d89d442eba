//! Compartmented epoch keys: opening needs a quorum from *each* of two groups of
//! trustees (say a domestic and a foreign one), so that no single jurisdiction's
//! order, served on its own trustees alone, can open an epoch.
//!
//! # Construction
//!
//! The epoch secret is `s = s_A + s_B`. Group A's part `s_A` is Shamir-shared with
//! threshold `t_A` among A's `n_A` members, with its own Feldman commitment (an
//! ordinary [`EpochPublicKey`] for the group); the same for B. Fields are sealed,
//! unchanged, under `PK = s_A·G1 + s_B·G1` ([`CompartmentedPublicKey::epoch_public_key`]):
//!
//! ```text
//! U = r·G1,  V = DK ⊕ SHA-256(MASK_DST ‖ r·PK),  W = r·H(U ‖ V ‖ L)
//! ```
//!
//! A member `i` of group `X` answers `S_i = s_{X,i}·U` exactly as in a plain epoch
//! ([`TrusteeKeyShare::decrypt_share`]), checkable against its *group's* public key
//! share: `e(S_i, H) = e(PK_{X,i}, W)`. [`CompartmentedPublicKey::combine`] checks the
//! field under the label once, verifies every share against its group, interpolates
//! `t_A+1` valid shares of A to `s_A·U` and `t_B+1` of B to `s_B·U`, and adds them:
//! `s_A·U + s_B·U = r·PK`, the field's shared point.
//!
//! # Why it is sound
//!
//! The field is an ordinary escrow field under `PK`, so its validity check and label
//! binding are unchanged: a field moved to another label fails the pairing check, and
//! trustees and [`CompartmentedPublicKey::combine`] refuse it. `s_A` and `s_B` are
//! independent and uniform. Whoever holds *all* of group A's secrets (so `s_A`
//! itself) and at most `t_B` shares of B is no better off than an attacker with `t_B`
//! shares of an ordinary key set with public key `s_B·G1`: given such an instance,
//! pick `s_A` yourself and publish `PK = s_A·G1 + s_B·G1`; a field under `PK` with
//! randomness `r` has shared point `r·PK = s_A·U + r·(s_B·G1)`, so opening it means
//! computing `r·(s_B·G1)` from `U`, which is opening the ordinary field's mask, and
//! group-B shares of other fields are the ordinary scheme's shares. Symmetrically for
//! B. Share verification is the ordinary pairing check against the group's own key
//! shares, so a bad share (or one from the other group offered under a B index) is
//! caught and named with its group.
//!
//! # Limits
//!
//! - Key generation here is **weak mode**: one dealer sees both parts of the secret
//!   (like [`crate::dealer_keygen`]).
//! - There is deliberately no constructor from two independently published group
//!   keys: a group that chooses its key *after* seeing the other's could publish
//!   `x·G1 − s_A·G1` and open every field alone (the rogue-key attack). Combining
//!   per-group DKGs needs a proof of knowledge of each group's secret first.
//! - Two groups only; the compartments protect against one group's order only if the
//!   groups really answer to different jurisdictions.

use blsttc::blstrs::{G1Affine, G1Projective};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::Curve;
use rand::{CryptoRng, RngCore};

use crate::error::Error;
use crate::field::{DataKey, DecryptionShare, EscrowField, Prepared};
use crate::keys::{dealer_keygen, EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
use crate::label::Label;

/// Longest group name, in bytes.
pub const MAX_GROUP_NAME_LEN: usize = 64;

/// One of the two groups of a compartmented key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compartment {
    /// The first group given to [`compartmented_dealer_keygen`].
    A,
    /// The second group.
    B,
}

/// One group's shape for [`compartmented_dealer_keygen`]: `threshold + 1` of its `n`
/// members are needed (and the other group's quorum too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSpec<'a> {
    /// A name for errors and logs (e.g. `"domestic"`), 1 to 64 bytes.
    pub name: &'a str,
    /// The group's threshold `t`: `t + 1` of its members are needed.
    pub threshold: u16,
    /// The group's number of members `n` (1 to 64).
    pub n: u16,
}

/// The public side of a compartmented epoch key: each group's key set, and the
/// combined key fields are sealed under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompartmentedPublicKey {
    names: [String; 2],
    groups: [EpochPublicKey; 2],
    /// `PK = PK_A + PK_B` as a sealing-only key set (n = 1, t = 0, see below).
    combined: EpochPublicKey,
}

/// The result of a compartmented combination: the key, and who sent bad shares.
#[derive(Debug)]
pub struct CompartmentedOpened {
    /// The field's data key.
    pub data_key: DataKey,
    /// Trustees (group, index within the group) whose shares were invalid; the key
    /// was recovered without them.
    pub culprits: Vec<(Compartment, TrusteeIndex)>,
}

impl CompartmentedPublicKey {
    /// The epoch id.
    pub fn epoch(&self) -> EpochId {
        self.combined.epoch()
    }

    /// The key to seal under: an [`EpochPublicKey`] whose public key is
    /// `PK_A + PK_B`, so [`EscrowField::seal`], [`EscrowField::verify`],
    /// [`EscrowField::check_carries`] and envelopes work unchanged.
    ///
    /// It is a **sealing-only** key set: it presents itself as one trustee with
    /// threshold 0 whose key share is `PK` itself, which nobody holds (no one knows
    /// `s_A + s_B` outside the dealer). Open with [`Self::combine`], not with this
    /// key's own `combine`, which refuses every group member's share.
    pub fn epoch_public_key(&self) -> &EpochPublicKey {
        &self.combined
    }

    /// Group `c`'s own key set (its Feldman commitment): its members check their
    /// key shares against it and may pass it to [`TrusteeKeyShare::decrypt_share`].
    pub fn group_key(&self, c: Compartment) -> &EpochPublicKey {
        let [a, b] = &self.groups;
        match c {
            Compartment::A => a,
            Compartment::B => b,
        }
    }

    /// Group `c`'s name.
    pub fn group_name(&self, c: Compartment) -> &str {
        let [a, b] = &self.names;
        match c {
            Compartment::A => a,
            Compartment::B => b,
        }
    }

    /// Checks the field under `label`, then verifies one decryption share from a
    /// member of group `group`: `e(S_i, H) = e(PK_{group,i}, W)`. A share that fails,
    /// names an index outside the group or another epoch is
    /// [`Error::GroupInvalidShare`], naming the group and the index.
    pub fn verify_share(
        &self,
        field: &EscrowField,
        label: &Label,
        group: Compartment,
        share: &DecryptionShare,
    ) -> Result<(), Error> {
        let key = self.group_key(group);
        let prep = key.prepare_for(field, label)?;
        key.check_share(&prep, share).map_err(|_| Error::GroupInvalidShare {
            group: self.group_name(group).to_owned(),
            trustee: share.trustee(),
        })
    }

    /// Checks the field under `label` once, verifies every share against its own
    /// group, interpolates `t_A + 1` valid shares of group A and `t_B + 1` of group B
    /// (the lowest-indexed of each) and opens the field with the sum.
    ///
    /// Invalid shares are set aside and named in [`CompartmentedOpened::culprits`];
    /// a group left with fewer than its quorum is [`Error::GroupNotEnoughShares`]
    /// naming the group, the counts and its culprits (group A is checked first).
    pub fn combine(
        &self,
        field: &EscrowField,
        label: &Label,
        shares_a: &[DecryptionShare],
        shares_b: &[DecryptionShare],
    ) -> Result<CompartmentedOpened, Error> {
        if label.epoch() != self.epoch() {
            return Err(Error::EpochMismatch { expected: self.epoch().0, got: label.epoch().0 });
        }
        let label_bytes = label.field_bytes(self.epoch_public_key());
        // The field's validity check (the label binding), once for both groups.
        let checked = field.prepare(&label_bytes)?;
        let (part_a, culprits_a) = self.open_group(Compartment::A, &checked, field, &label_bytes, shares_a)?;
        let (part_b, culprits_b) = self.open_group(Compartment::B, &checked, field, &label_bytes, shares_b)?;
        let shared = (G1Projective::from(part_a) + part_b).to_affine();
        let culprits = culprits_a
            .into_iter()
            .map(|i| (Compartment::A, i))
            .chain(culprits_b.into_iter().map(|i| (Compartment::B, i)))
            .collect();
        Ok(CompartmentedOpened { data_key: field.unmask(&shared), culprits })
    }

    fn open_group(
        &self,
        c: Compartment,
        checked: &Prepared,
        field: &EscrowField,
        label: &[u8],
        shares: &[DecryptionShare],
    ) -> Result<(G1Affine, Vec<TrusteeIndex>), Error> {
        let key = self.group_key(c);
        let group = || self.group_name(c).to_owned();
        key.interpolate(&key.bind(checked, field, label), shares).map_err(|e| match e {
            Error::NotEnoughShares { valid, needed, culprits } => {
                Error::GroupNotEnoughShares { group: group(), valid, needed, culprits }
            }
            Error::DuplicateShare { trustee } => Error::GroupDuplicateShare { group: group(), trustee },
            other => other,
        })
    }
}

/// What the compartmented dealer hands out: the public key and each group's shares.
#[derive(Debug)]
pub struct CompartmentedDealerOutput {
    /// The compartmented public key (publish it).
    pub public: CompartmentedPublicKey,
    /// Group A's secret shares, `a[i]` for its member `i`.
    pub a: Vec<TrusteeKeyShare>,
    /// Group B's secret shares, `b[i]` for its member `i`.
    pub b: Vec<TrusteeKeyShare>,
}

impl CompartmentedDealerOutput {
    /// Group `c`'s secret shares.
    pub fn shares(&self, c: Compartment) -> &[TrusteeKeyShare] {
        match c {
            Compartment::A => &self.a,
            Compartment::B => &self.b,
        }
    }
}

/// **Weak mode**: a trusted dealer generates a compartmented epoch key, `s = s_A +
/// s_B`, and splits `s_A` among group A (`t_A + 1` of `n_A` needed) and `s_B` among
/// group B. The dealer sees both parts and can open every message of the epoch on
/// its own, like [`dealer_keygen`]'s.
///
/// Refuses an empty, over-long or repeated group name and any group that
/// [`dealer_keygen`] would refuse (`0 <= t < n <= 64`).
pub fn compartmented_dealer_keygen<R: RngCore + CryptoRng>(
    epoch: EpochId,
    groups: [GroupSpec<'_>; 2],
    rng: &mut R,
) -> Result<CompartmentedDealerOutput, Error> {
    let [spec_a, spec_b] = groups;
    for spec in &groups {
        if spec.name.is_empty() || spec.name.len() > MAX_GROUP_NAME_LEN {
            return Err(Error::InvalidInput { what: "group name", reason: "must be 1 to 64 bytes" });
        }
    }
    if spec_a.name == spec_b.name {
        return Err(Error::InvalidInput { what: "group name", reason: "the two groups need different names" });
    }
    let a = dealer_keygen(epoch, spec_a.threshold, spec_a.n, rng)?;
    let b = dealer_keygen(epoch, spec_b.threshold, spec_b.n, rng)?;
    let pk = (G1Projective::from(a.public.master()) + b.public.master()).to_affine();
    if bool::from(pk.is_identity()) {
        // s_A + s_B = 0 happens with probability 2^-255; refuse rather than seal to it.
        return Err(Error::InvalidInput { what: "key set", reason: "degenerate combined key, retry" });
    }
    let combined = EpochPublicKey::from_coeffs(epoch, 1, vec![pk]);
    Ok(CompartmentedDealerOutput {
        public: CompartmentedPublicKey {
            names: [spec_a.name.to_owned(), spec_b.name.to_owned()],
            groups: [a.public, b.public],
            combined,
        },
        a: a.shares,
        b: b.shares,
    })
}
