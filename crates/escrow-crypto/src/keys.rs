//! Epoch key sets: the trustees' threshold key for one epoch, its public part, and
//! each trustee's secret share.
//!
//! The public key set is a Feldman commitment `C_j = a_j·G1` to the sharing
//! polynomial `f(x) = a_0 + a_1 x + ... + a_t x^t`; trustee `i` holds `s_i = f(i+1)`
//! and its public key share is `PK_i = f(i+1)·G1`, computed from the commitment. Any
//! `t+1` shares reconstruct `a_0·U` by Lagrange interpolation in the exponent.

use std::fmt;
use std::sync::OnceLock;

use blsttc::blstrs::{G1Affine, G1Projective, Scalar};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::{Curve, Group};
use blsttc::poly::Commitment;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::wire::{Alg, Reader, Writer};

/// Most trustees one epoch may have.
pub const MAX_TRUSTEES: u16 = 64;
/// Size of an encoded trustee key share.
pub const TRUSTEE_KEY_SHARE_LEN: usize = 3 + 8 + 2 + 32;

/// A key epoch. Senders seal under the current epoch's key; destroying an epoch's
/// shares bounds how far back a future (lawful or not) quorum can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochId(pub u64);

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A trustee's 0-based position in an epoch's trustee set; its share sits at `x = i+1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrusteeIndex(pub u16);

impl fmt::Display for TrusteeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TrusteeIndex {
    /// The evaluation point `x = i + 1` as a scalar.
    pub(crate) fn x(self) -> Scalar {
        Scalar::from(u64::from(self.0) + 1)
    }
}

/// The public key set of one epoch: what senders encrypt to and what share
/// verification checks against.
#[derive(Clone)]
pub struct EpochPublicKey {
    epoch: EpochId,
    n: u16,
    /// Feldman commitment; `coeffs[0]` is the epoch public key.
    coeffs: Vec<G1Affine>,
    /// `PK_i` for every trustee, computed on first use (t+1 scalar multiplications each).
    share_keys: OnceLock<Vec<G1Affine>>,
}

impl PartialEq for EpochPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.epoch == other.epoch && self.n == other.n && self.coeffs == other.coeffs
    }
}
impl Eq for EpochPublicKey {}

impl fmt::Debug for EpochPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochPublicKey")
            .field("epoch", &self.epoch.0)
            .field("n", &self.n)
            .field("threshold", &self.threshold())
            .field("public_key", &hex_short(&self.master().to_compressed()))
            .finish()
    }
}

fn hex_short(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect::<String>() + "…"
}

impl EpochPublicKey {
    pub(crate) fn from_coeffs(epoch: EpochId, n: u16, coeffs: Vec<G1Affine>) -> Self {
        EpochPublicKey { epoch, n, coeffs, share_keys: OnceLock::new() }
    }

    /// The epoch id.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }
    /// Number of trustees `n`.
    pub fn n(&self) -> u16 {
        self.n
    }
    /// The threshold `t`: any `t+1` trustees can open a field, no `t` can.
    pub fn threshold(&self) -> u16 {
        u16::try_from(self.coeffs.len().saturating_sub(1)).expect("at most MAX_TRUSTEES coefficients")
    }
    /// Shares needed to open: `t + 1`.
    pub fn quorum(&self) -> usize {
        self.coeffs.len()
    }

    pub(crate) fn master(&self) -> G1Affine {
        *self.coeffs.first().expect("a decoded or generated key set has t+1 >= 1 coefficients")
    }

    /// The compressed epoch public key `PK = a_0·G1` (48 bytes).
    pub fn public_key_bytes(&self) -> [u8; 48] {
        self.master().to_compressed()
    }

    /// Trustee `i`'s public key share `PK_i`, or an error for an index outside `0..n`.
    pub(crate) fn share_key(&self, i: TrusteeIndex) -> Result<G1Affine, Error> {
        let keys = self.share_keys.get_or_init(|| {
            let commitment = Commitment::from(self.coeffs.clone());
            (0..self.n).map(|i| commitment.evaluate(u64::from(i) + 1)).collect()
        });
        keys.get(usize::from(i.0)).copied().ok_or(Error::UnknownTrustee { index: i, n: self.n })
    }

    /// Encoding: version, alg, epoch (u64), n (u16), t (u16), t+1 compressed G1 points.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::EpochPublicKey);
        w.u64(self.epoch.0);
        w.u16(self.n);
        w.u16(self.threshold());
        for c in &self.coeffs {
            w.bytes(&c.to_compressed());
        }
        w.finish()
    }

    /// Decodes a key set; every point is subgroup-checked, the key and the top
    /// coefficient must not be the identity (so the threshold is exactly `t`), and
    /// `t < n <= MAX_TRUSTEES`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let max = 3 + 8 + 2 + 2 + usize::from(MAX_TRUSTEES) * 48;
        let mut r = Reader::new(bytes, Alg::EpochPublicKey, max)?;
        let epoch = EpochId(r.u64("epoch")?);
        let n = r.u16("n")?;
        let t = r.u16("threshold")?;
        if n == 0 || n > MAX_TRUSTEES {
            return Err(r.err(DecodeError::InvalidValue { field: "n", reason: "must be 1 to 64" }));
        }
        if t >= n {
            return Err(r.err(DecodeError::InvalidValue { field: "threshold", reason: "must be below n" }));
        }
        let mut coeffs = Vec::with_capacity(usize::from(t) + 1);
        for _ in 0..=t {
            coeffs.push(r.g1("commitment coefficient")?);
        }
        r.finish()?;
        let identity = |p: Option<&G1Affine>| p.is_some_and(|p| bool::from(p.is_identity()));
        if identity(coeffs.first()) || identity(coeffs.last()) {
            return Err(Error::decode(
                Alg::EpochPublicKey,
                DecodeError::InvalidPoint("commitment coefficient (identity)"),
            ));
        }
        Ok(Self::from_coeffs(epoch, n, coeffs))
    }
}

/// One trustee's secret share of an epoch key. Zeroized on drop; `Debug` is redacted.
pub struct TrusteeKeyShare {
    epoch: EpochId,
    index: TrusteeIndex,
    /// `s_i` big-endian; kept as bytes so `Zeroizing` can wipe it reliably.
    secret: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for TrusteeKeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrusteeKeyShare")
            .field("epoch", &self.epoch.0)
            .field("index", &self.index.0)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl TrusteeKeyShare {
    /// The epoch this share belongs to.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }
    /// This trustee's index.
    pub fn index(&self) -> TrusteeIndex {
        self.index
    }

    /// Runs `f` with the share as a scalar, then overwrites the scalar. Best effort:
    /// the bytes are wiped for certain, copies the compiler makes of the scalar may not be.
    pub(crate) fn with_scalar<T>(&self, f: impl FnOnce(&Scalar) -> T) -> T {
        let mut s = Option::<Scalar>::from(Scalar::from_bytes_be(&self.secret))
            .expect("secret is validated as a canonical scalar at construction");
        let out = f(&s);
        s = Scalar::from(0u64);
        std::hint::black_box(&s);
        out
    }

    /// The public key share matching this secret share.
    pub fn public_key_share(&self) -> G1Affine {
        self.with_scalar(|s| (G1Projective::generator() * s).to_affine())
    }

    /// A share from its parts (key generation); the scalar must be canonical and non-zero.
    pub(crate) fn from_parts(epoch: EpochId, index: TrusteeIndex, secret: Zeroizing<[u8; 32]>) -> Result<Self, Error> {
        let s = Option::<Scalar>::from(Scalar::from_bytes_be(&secret));
        if index.0 >= MAX_TRUSTEES || s.is_none_or(|s| bool::from(ff::Field::is_zero(&s))) {
            return Err(Error::InvalidInput { what: "trustee key share", reason: "zero or out of range" });
        }
        Ok(TrusteeKeyShare { epoch, index, secret })
    }

    /// Serialized share; the caller must seal it before it touches a disk.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(Alg::TrusteeKeyShare);
        w.u64(self.epoch.0);
        w.u16(self.index.0);
        w.bytes(self.secret.as_slice());
        Zeroizing::new(w.finish())
    }

    /// Decodes a share; the scalar must be canonical and non-zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::TrusteeKeyShare, TRUSTEE_KEY_SHARE_LEN)?;
        let epoch = EpochId(r.u64("epoch")?);
        let index = TrusteeIndex(r.u16("index")?);
        let secret = Zeroizing::new(r.array::<32>("secret")?);
        r.finish()?;
        if index.0 >= MAX_TRUSTEES {
            return Err(Error::decode(
                Alg::TrusteeKeyShare,
                DecodeError::InvalidValue { field: "index", reason: "must be below 64" },
            ));
        }
        let s = Option::<Scalar>::from(Scalar::from_bytes_be(&secret));
        if s.is_none_or(|s| bool::from(ff::Field::is_zero(&s))) {
            return Err(Error::decode(Alg::TrusteeKeyShare, DecodeError::InvalidScalar("secret")));
        }
        Ok(TrusteeKeyShare { epoch, index, secret })
    }

    /// Checks that this share belongs to `epk` (its public key share matches), e.g.
    /// after loading it from disk.
    pub fn check_against(&self, epk: &EpochPublicKey) -> Result<(), Error> {
        if self.epoch != epk.epoch {
            return Err(Error::EpochMismatch { expected: epk.epoch.0, got: self.epoch.0 });
        }
        if epk.share_key(self.index)? != self.public_key_share() {
            return Err(Error::InvalidInput {
                what: "trustee key share",
                reason: "does not match the epoch's public key share for its index",
            });
        }
        Ok(())
    }
}

/// What the dealer hands out: the public key set and one secret share per trustee.
#[derive(Debug)]
pub struct DealerOutput {
    /// The epoch public key set (publish it).
    pub public: EpochPublicKey,
    /// Secret shares, `shares[i]` for trustee `i` (send each to its trustee, sealed).
    pub shares: Vec<TrusteeKeyShare>,
}

/// **Weak mode**: a trusted dealer generates the epoch key and splits it. The dealer
/// sees the master secret and can open every message of the epoch on its own; use
/// distributed key generation for anything real.
pub fn dealer_keygen<R: RngCore + CryptoRng>(
    epoch: EpochId,
    threshold: u16,
    n: u16,
    rng: &mut R,
) -> Result<DealerOutput, Error> {
    if n == 0 || n > MAX_TRUSTEES || threshold >= n {
        return Err(Error::InvalidInput { what: "key set", reason: "need 0 <= t < n <= 64" });
    }
    let sks = blsttc::SecretKeySet::try_random(usize::from(threshold), rng)
        .map_err(|_| Error::InvalidInput { what: "key set", reason: "threshold too large" })?;
    let pks = sks.public_keys();
    // blsttc serializes the commitment as concatenated compressed G1 points.
    let raw = pks.to_bytes();
    let coeffs: Vec<G1Affine> = raw
        .chunks_exact(48)
        .map(|c| {
            let arr: [u8; 48] = c.try_into().expect("chunks_exact yields 48-byte chunks");
            Option::<G1Affine>::from(G1Affine::from_compressed(&arr)).expect("blsttc encodes valid points")
        })
        .collect();
    if coeffs.len() != usize::from(threshold) + 1 || coeffs.iter().any(|c| bool::from(c.is_identity())) {
        // A zero coefficient happens with probability ~2^-255; refuse rather than
        // hand out a key set with a lower threshold than asked for.
        return Err(Error::InvalidInput { what: "key set", reason: "degenerate polynomial, retry" });
    }
    let shares = (0..n)
        .map(|i| TrusteeKeyShare {
            epoch,
            index: TrusteeIndex(i),
            secret: Zeroizing::new(sks.secret_key_share(usize::from(i)).to_bytes()),
        })
        .collect();
    Ok(DealerOutput { public: EpochPublicKey::from_coeffs(epoch, n, coeffs), shares })
}

impl Reader<'_> {
    /// A compressed G1 point, with on-curve and subgroup checks.
    pub(crate) fn g1(&mut self, field: &'static str) -> Result<G1Affine, Error> {
        let raw = self.array::<48>(field)?;
        Option::from(G1Affine::from_compressed(&raw)).ok_or_else(|| self.err(DecodeError::InvalidPoint(field)))
    }

    /// A compressed G2 point, with on-curve and subgroup checks.
    pub(crate) fn g2(&mut self, field: &'static str) -> Result<blsttc::blstrs::G2Affine, Error> {
        let raw = self.array::<96>(field)?;
        Option::from(blsttc::blstrs::G2Affine::from_compressed(&raw))
            .ok_or_else(|| self.err(DecodeError::InvalidPoint(field)))
    }
}
