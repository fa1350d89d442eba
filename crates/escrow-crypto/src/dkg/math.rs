//! The mathematics of Joint-Feldman key generation (Gennaro, Jarecki, Krawczyk and
//! Rabin, 1999) and of resharing (Desmedt and Jajodia, 1997), on BLS12-381 with the
//! public key in G1 and share `i` at `x = i+1`, as the rest of the crate uses it.
//!
//! - Every dealer `d` draws `f_d(x) = a_{d,0} + … + a_{d,t} x^t` ([`Dealing`]) and
//!   publishes the Feldman commitment `C_{d,k} = a_{d,k}·G1` ([`DealingCommitment`]).
//!   For resharing, `a_{d,0}` is the dealer's old share, so `C_{d,0}` must equal its
//!   old public key share.
//! - Player `j` receives `s_{d,j} = f_d(j+1)` ([`DealtShare`]) encrypted to it, and
//!   checks `s_{d,j}·G1 = Σ_k C_{d,k}·(j+1)^k`.
//! - Over the qualified dealers `Q`, player `j`'s share is `Σ_{d∈Q} λ_d·s_{d,j}` and
//!   the key set's commitment is `Σ_{d∈Q} λ_d·C_d`, where `λ_d = 1` for a fresh key and
//!   the Lagrange coefficient at 0 of the old indices in `Q` for resharing (so the
//!   epoch public key stays `a_0·G1`). [`combine`] does both and checks the result.
//!
//! No messages, no state: [`crate::dkg::machine`] runs the protocol on these.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use blsttc::blstrs::{G1Affine, G1Projective, Scalar};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::{Curve, Group};
use ff::Field;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{DecodeError, Error};
use crate::keys::{EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare, MAX_TRUSTEES};
use crate::wire::{Alg, Reader, Writer};

const SHARE_KDF_SALT: &[u8] = b"escrow/v1/dkg-share";

fn scalar_from_bytes(b: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_bytes_be(b))
}

fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
    // blstrs' Field::random takes rand_core 0.6, which is what `rand` 0.8 provides.
    Scalar::random(&mut *rng)
}

/// A dealer's secret polynomial. Zeroized on drop; `Debug` is redacted.
pub struct Dealing {
    /// `a_0 … a_t`, big-endian, so `Zeroizing` can wipe them.
    coeffs: Vec<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Dealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dealing").field("threshold", &self.threshold()).field("coeffs", &"<redacted>").finish()
    }
}

impl Dealing {
    fn from_scalars(coeffs: Vec<Scalar>) -> Self {
        Dealing { coeffs: coeffs.into_iter().map(|c| Zeroizing::new(c.to_bytes_be())).collect() }
    }

    fn check_threshold(t: u16) -> Result<(), Error> {
        if t >= MAX_TRUSTEES {
            return Err(Error::InvalidInput { what: "dealing", reason: "threshold must be below 64" });
        }
        Ok(())
    }

    /// A fresh random polynomial of degree `t` (every coefficient non-zero, so the
    /// degree is exactly `t` and the constant term is not a known value).
    pub fn fresh<R: RngCore + CryptoRng>(t: u16, rng: &mut R) -> Result<Self, Error> {
        Self::check_threshold(t)?;
        let coeffs = (0..=t)
            .map(|_| loop {
                let c = random_scalar(rng);
                if !bool::from(c.is_zero()) {
                    break c;
                }
            })
            .collect();
        Ok(Self::from_scalars(coeffs))
    }

    /// A random polynomial of degree `t` whose constant term is `share`'s secret: the
    /// dealer's part of moving an existing key to new holders.
    pub fn reshare<R: RngCore + CryptoRng>(share: &TrusteeKeyShare, t: u16, rng: &mut R) -> Result<Self, Error> {
        let mut d = Self::fresh(t, rng)?;
        if let Some(first) = d.coeffs.first_mut() {
            share.with_scalar(|s| **first = s.to_bytes_be());
        }
        Ok(d)
    }

    /// The threshold `t` (degree of the polynomial).
    pub fn threshold(&self) -> u16 {
        u16::try_from(self.coeffs.len().saturating_sub(1)).expect("at most 64 coefficients")
    }

    fn with_scalars<T>(&self, f: impl FnOnce(&[Scalar]) -> T) -> T {
        let scalars: Vec<Scalar> = self
            .coeffs
            .iter()
            .map(|c| scalar_from_bytes(c).expect("coefficients are canonical scalars by construction"))
            .collect();
        let out = f(&scalars);
        drop(Zeroizing::new(scalars.iter().map(Scalar::to_bytes_be).collect::<Vec<_>>()));
        out
    }

    /// The public commitment `a_k·G1` for `k = 0..=t`.
    pub fn commitment(&self) -> DealingCommitment {
        self.with_scalars(|a| DealingCommitment {
            coeffs: a.iter().map(|c| (G1Projective::generator() * c).to_affine()).collect(),
        })
    }

    /// Player `j`'s share `f(j+1)`.
    pub fn share_for(&self, player: TrusteeIndex) -> DealtShare {
        self.with_scalars(|a| {
            let x = player.x();
            // Horner: ((a_t x + a_{t-1}) x + …) x + a_0.
            let v = a.iter().rev().fold(Scalar::zero(), |acc, c| acc * x + c);
            DealtShare { secret: Zeroizing::new(v.to_bytes_be()) }
        })
    }
}

/// A dealer's public Feldman commitment to its polynomial.
#[derive(Clone, PartialEq, Eq)]
pub struct DealingCommitment {
    coeffs: Vec<G1Affine>,
}

impl fmt::Debug for DealingCommitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DealingCommitment").field("threshold", &self.threshold()).finish_non_exhaustive()
    }
}

impl DealingCommitment {
    /// The degree `t`.
    pub fn threshold(&self) -> u16 {
        u16::try_from(self.coeffs.len().saturating_sub(1)).expect("at most 64 coefficients")
    }

    /// `C_0`: the dealer's contribution to the public key (for resharing: its old
    /// public key share).
    pub fn constant(&self) -> G1Affine {
        *self.coeffs.first().expect("a commitment has t+1 >= 1 coefficients")
    }

    fn eval(&self, x: Scalar) -> G1Projective {
        self.coeffs.iter().rev().fold(G1Projective::identity(), |acc, c| acc * x + G1Projective::from(c))
    }

    /// Whether `share` is player `player`'s point on the committed polynomial.
    pub fn verify(&self, player: TrusteeIndex, share: &DealtShare) -> bool {
        let Some(s) = share.scalar() else { return false };
        let ok = G1Projective::generator() * s == self.eval(player.x());
        drop(Zeroizing::new(s.to_bytes_be()));
        ok
    }

    /// Encoding: version, alg, t (u16), t+1 compressed G1 points.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::DealingCommitment);
        w.u16(self.threshold());
        for c in &self.coeffs {
            w.bytes(&c.to_compressed());
        }
        w.finish()
    }

    /// SHA-256 of the encoding: what messages and transcripts name.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Decodes a commitment: every point subgroup-checked, `t < 64`, and neither the
    /// constant nor the top coefficient the identity (so the degree is exactly `t`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let max = 3 + 2 + usize::from(MAX_TRUSTEES) * 48;
        let mut r = Reader::new(bytes, Alg::DealingCommitment, max)?;
        let t = r.u16("threshold")?;
        if t >= MAX_TRUSTEES {
            return Err(r.err(DecodeError::InvalidValue { field: "threshold", reason: "must be below 64" }));
        }
        let mut coeffs = Vec::with_capacity(usize::from(t) + 1);
        for _ in 0..=t {
            coeffs.push(r.g1("coefficient")?);
        }
        r.finish()?;
        let identity = |p: Option<&G1Affine>| p.is_some_and(|p| bool::from(p.is_identity()));
        if identity(coeffs.first()) || identity(coeffs.last()) {
            return Err(Error::decode(Alg::DealingCommitment, DecodeError::InvalidPoint("coefficient (identity)")));
        }
        Ok(DealingCommitment { coeffs })
    }
}

/// One dealer's share for one player, `s_{d,j}`. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct DealtShare {
    secret: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DealtShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DealtShare(<redacted>)")
    }
}

impl DealtShare {
    fn scalar(&self) -> Option<Scalar> {
        scalar_from_bytes(&self.secret)
    }

    /// The 32 big-endian bytes, for a justification that reveals it.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.secret.clone()
    }

    /// A share from its bytes; refuses a non-canonical scalar.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        if scalar_from_bytes(bytes).is_none() {
            return Err(Error::InvalidInput { what: "dealt share", reason: "not a canonical scalar" });
        }
        Ok(DealtShare { secret: Zeroizing::new(*bytes) })
    }
}

/// The key a player publishes for one ceremony so that dealers can encrypt its
/// shares to it: an ephemeral P-256 ECDH key, thrown away with the ceremony.
#[derive(Clone, PartialEq, Eq)]
pub struct CeremonyPublicKey {
    key: PublicKey,
}

impl fmt::Debug for CeremonyPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CeremonyPublicKey").finish_non_exhaustive()
    }
}

impl CeremonyPublicKey {
    /// SEC1 compressed point (33 bytes).
    pub fn to_bytes(&self) -> [u8; 33] {
        let p = self.key.to_encoded_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(p.as_bytes());
        out
    }

    /// Decodes a compressed point (on the curve, not the identity).
    pub fn from_bytes(bytes: &[u8; 33]) -> Result<Self, Error> {
        if !matches!(bytes.first(), Some(0x02 | 0x03)) {
            return Err(Error::InvalidInput { what: "ceremony key", reason: "not a compressed P-256 point" });
        }
        PublicKey::from_sec1_bytes(bytes)
            .map(|key| CeremonyPublicKey { key })
            .map_err(|_| Error::InvalidInput { what: "ceremony key", reason: "not a P-256 point" })
    }
}

/// A player's secret ceremony key. Zeroized on drop (by `p256`); `Debug` is redacted.
pub struct CeremonyKey {
    key: SecretKey,
}

impl fmt::Debug for CeremonyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CeremonyKey(<redacted>)")
    }
}

fn share_aead(shared: &[u8], eph: &[u8; 33], to: &[u8; 33]) -> Aes256Gcm {
    let hk = Hkdf::<Sha256>::new(Some(SHARE_KDF_SALT), shared);
    let mut key = Zeroizing::new([0u8; 32]);
    let info = [eph.as_slice(), to.as_slice()].concat();
    hk.expand(&info, key.as_mut_slice()).expect("32 bytes is a valid HKDF-SHA256 output length");
    Aes256Gcm::new_from_slice(key.as_slice()).expect("AES-256 takes a 32-byte key")
}

/// One encrypted share is version, alg, ephemeral key (33), ciphertext (32 + 16 tag).
pub const ENCRYPTED_SHARE_LEN: usize = 3 + 33 + 48;

impl CeremonyKey {
    /// A fresh key for one ceremony.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        CeremonyKey { key: SecretKey::random(rng) }
    }

    /// The public half, to send in the acceptance.
    pub fn public(&self) -> CeremonyPublicKey {
        CeremonyPublicKey { key: self.key.public_key() }
    }

    /// Decrypts a share sealed to this key under `context` (which binds it to one
    /// ceremony, dealer, player and commitment). Opaque on failure.
    pub fn decrypt_share(&self, context: &[u8], blob: &[u8]) -> Result<DealtShare, Error> {
        let mut r = Reader::new(blob, Alg::EncryptedShare, ENCRYPTED_SHARE_LEN)?;
        let eph_raw = r.array::<33>("ephemeral key")?;
        let ct = r.take(48, "ciphertext")?;
        r.finish()?;
        let eph = CeremonyPublicKey::from_bytes(&eph_raw)?;
        let shared = p256::ecdh::diffie_hellman(self.key.to_nonzero_scalar(), eph.key.as_affine());
        let aead = share_aead(shared.raw_secret_bytes(), &eph_raw, &self.public().to_bytes());
        let pt = Zeroizing::new(
            aead.decrypt(&Nonce::from([0u8; 12]), Payload { msg: ct, aad: context })
                .map_err(|_| Error::DecryptionFailed)?,
        );
        let bytes: [u8; 32] = pt.as_slice().try_into().map_err(|_| Error::DecryptionFailed)?;
        DealtShare::from_bytes(&bytes).map_err(|_| Error::DecryptionFailed)
    }
}

/// Encrypts `share` to `to` under `context`: a fresh ephemeral key per share, so the
/// all-zero nonce is never reused under one key.
pub fn encrypt_share<R: RngCore + CryptoRng>(
    to: &CeremonyPublicKey,
    context: &[u8],
    share: &DealtShare,
    rng: &mut R,
) -> Vec<u8> {
    let eph = SecretKey::random(rng);
    let eph_pub = CeremonyPublicKey { key: eph.public_key() }.to_bytes();
    let shared = p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), to.key.as_affine());
    let aead = share_aead(shared.raw_secret_bytes(), &eph_pub, &to.to_bytes());
    let ct = aead
        .encrypt(&Nonce::from([0u8; 12]), Payload { msg: share.secret.as_slice(), aad: context })
        .expect("AES-GCM encrypts 32 bytes");
    let mut w = Writer::new(Alg::EncryptedShare);
    w.bytes(&eph_pub);
    w.bytes(&ct);
    w.finish()
}

/// The Lagrange coefficients at `x = 0` for the evaluation points of `indices`.
fn lagrange_at_zero(indices: &[TrusteeIndex]) -> Result<Vec<Scalar>, Error> {
    let xs: Vec<Scalar> = indices.iter().map(|i| i.x()).collect();
    xs.iter()
        .enumerate()
        .map(|(k, xk)| {
            let (mut num, mut den) = (Scalar::one(), Scalar::one());
            for (m, xm) in xs.iter().enumerate() {
                if m != k {
                    num *= xm;
                    den *= *xm - xk;
                }
            }
            Option::<Scalar>::from(den.invert())
                .map(|inv| num * inv)
                .ok_or(Error::InvalidInput { what: "dealers", reason: "an index appears twice" })
        })
        .collect()
}

/// What the qualified dealers' contributions combine into.
pub struct Combined {
    /// The new key set: `n` holders, threshold `t`.
    pub public: EpochPublicKey,
    /// This player's share, when a player's shares were given.
    pub share: Option<TrusteeKeyShare>,
}

impl fmt::Debug for Combined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Combined").field("public", &self.public).field("share", &self.share).finish()
    }
}

/// Combines the qualified dealers' commitments (and, for a player, its shares from
/// them, in the same order) into epoch `epoch`'s key set for `n` holders.
///
/// `previous` is the key set being reshared, or `None` for a fresh key. For
/// resharing, `dealers[k].0` is dealer `k`'s index in `previous`; its commitment's
/// constant must be its old public key share, and the result must keep `previous`'s
/// public key. Every commitment must have degree `t`; each share must verify against
/// its commitment; the player's combined share must match the combined commitment.
pub fn combine(
    epoch: EpochId,
    n: u16,
    t: u16,
    previous: Option<&EpochPublicKey>,
    dealers: &[(TrusteeIndex, &DealingCommitment)],
    player: Option<(TrusteeIndex, &[DealtShare])>,
) -> Result<Combined, Error> {
    let bad = |reason| Err(Error::InvalidInput { what: "key generation", reason });
    if n == 0 || n > MAX_TRUSTEES || t >= n {
        return bad("need 0 <= t < n <= 64");
    }
    if dealers.is_empty() {
        return bad("no qualified dealer");
    }
    if dealers.iter().any(|(_, c)| c.threshold() != t) {
        return bad("a dealing has another degree than the threshold");
    }
    let weights = match previous {
        None => vec![Scalar::one(); dealers.len()],
        Some(old) => {
            if dealers.len() < old.quorum() {
                return bad("fewer qualified dealers than the old threshold + 1");
            }
            for (index, c) in dealers {
                if old.share_key(*index)? != c.constant() {
                    return bad("a dealing's constant is not the dealer's old public key share");
                }
            }
            lagrange_at_zero(&dealers.iter().map(|(i, _)| *i).collect::<Vec<_>>())?
        }
    };
    let mut coeffs = vec![G1Projective::identity(); usize::from(t) + 1];
    for ((_, c), w) in dealers.iter().zip(&weights) {
        for (acc, ck) in coeffs.iter_mut().zip(&c.coeffs) {
            *acc += G1Projective::from(ck) * w;
        }
    }
    let coeffs: Vec<G1Affine> = coeffs.iter().map(Curve::to_affine).collect();
    if coeffs.iter().any(|c| bool::from(c.is_identity())) {
        return bad("a combined coefficient is the identity; run the ceremony again");
    }
    if let Some(old) = previous {
        if coeffs.first() != Some(&old.master()) {
            return bad("the reshared key set does not keep the public key");
        }
    }
    let public = EpochPublicKey::from_coeffs(epoch, n, coeffs);
    let share = match player {
        None => None,
        Some((me, shares)) => {
            if me.0 >= n {
                return Err(Error::UnknownTrustee { index: me, n });
            }
            if shares.len() != dealers.len() {
                return bad("one share per qualified dealer is needed");
            }
            let mut sum = Scalar::zero();
            for (((_, c), s), w) in dealers.iter().zip(shares).zip(&weights) {
                if !c.verify(me, s) {
                    return bad("a share does not match its dealer's commitment");
                }
                let v = s.scalar().ok_or(Error::InvalidInput { what: "dealt share", reason: "not a scalar" })?;
                sum += v * w;
            }
            let secret = Zeroizing::new(sum.to_bytes_be());
            sum = Scalar::zero();
            std::hint::black_box(&sum);
            let share = TrusteeKeyShare::from_parts(epoch, me, secret)?;
            share.check_against(&public)?;
            Some(share)
        }
    };
    Ok(Combined { public, share })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(seed)
    }

    #[test]
    fn shares_verify_against_their_commitment_only() {
        let mut r = rng(1);
        let d = Dealing::fresh(2, &mut r).unwrap();
        let c = d.commitment();
        assert_eq!(DealingCommitment::from_bytes(&c.to_bytes()).unwrap(), c);
        let s = d.share_for(TrusteeIndex(3));
        assert!(c.verify(TrusteeIndex(3), &s));
        assert!(!c.verify(TrusteeIndex(2), &s), "another player's point");
        let other = Dealing::fresh(2, &mut r).unwrap().commitment();
        assert!(!other.verify(TrusteeIndex(3), &s), "another dealer's commitment");
        assert!(format!("{d:?} {s:?}").contains("<redacted>"));
    }

    #[test]
    fn encrypted_shares_open_only_for_their_player_and_context() {
        let mut r = rng(2);
        let share = Dealing::fresh(1, &mut r).unwrap().share_for(TrusteeIndex(0));
        let (bob, eve) = (CeremonyKey::generate(&mut r), CeremonyKey::generate(&mut r));
        let blob = encrypt_share(&bob.public(), b"ctx", &share, &mut r);
        assert_eq!(blob.len(), ENCRYPTED_SHARE_LEN);
        assert_eq!(*bob.decrypt_share(b"ctx", &blob).unwrap().to_bytes(), *share.to_bytes());
        assert_eq!(bob.decrypt_share(b"other", &blob).unwrap_err(), Error::DecryptionFailed);
        assert_eq!(eve.decrypt_share(b"ctx", &blob).unwrap_err(), Error::DecryptionFailed);
        let pk = CeremonyPublicKey::from_bytes(&bob.public().to_bytes()).unwrap();
        assert_eq!(pk, bob.public());
    }

    #[test]
    fn lagrange_weights_sum_a_polynomial_back_to_its_constant() {
        let mut r = rng(3);
        let d = Dealing::fresh(2, &mut r).unwrap();
        let idx = [TrusteeIndex(0), TrusteeIndex(3), TrusteeIndex(4)];
        let w = lagrange_at_zero(&idx).unwrap();
        let sum = idx.iter().zip(&w).fold(Scalar::zero(), |acc, (i, w)| acc + d.share_for(*i).scalar().unwrap() * w);
        assert_eq!(G1Projective::generator() * sum, G1Projective::from(d.commitment().constant()));
        assert!(lagrange_at_zero(&[TrusteeIndex(1), TrusteeIndex(1)]).is_err());
    }
}
