//! Fixed keys and blobs shared by the fuzz targets and the seed generator.
//!
//! Everything comes from the committed known-answer file
//! (`crates/escrow-crypto/tests/vectors/kat-v1.txt`) or from a seeded RNG, so a
//! crash reproduces byte for byte on any machine.

use std::sync::{LazyLock, OnceLock};

use escrow_crypto::{
    CourtPublicKey, CourtSecretKey, EpochPublicKey, EscrowField, Label, PartyId, TrusteePins, TrusteeSigningKey,
    UserPublicKey, UserSecretKey,
};
use escrow_log::{CheckpointSigner, CheckpointVerifier};
use rand::{CryptoRng, RngCore, SeedableRng};

/// The escrow-crypto known answers, `name hex` per line.
pub const KAT: &str = include_str!("../../crates/escrow-crypto/tests/vectors/kat-v1.txt");
/// The escrow-crypto negative vectors (each must be refused by its decoder).
pub const NEGATIVE: &str = include_str!("../../crates/escrow-crypto/tests/vectors/negative-v1.txt");
/// The passphrase the KAT `sealed_secret` was sealed under.
pub const KAT_PASSPHRASE: &[u8] = b"kat passphrase";
/// The key file the sealed-secret seeds with `kdf = 2` are sealed under.
pub const FUZZ_KEY_FILE: [u8; 32] = [0x5e; 32];
/// Domain separation of the court's warrant signature (docs/protocol.md; private in
/// escrow-crypto, repeated here because `crypto_warrant_body` signs raw bodies).
pub const WARRANT_SIG_DST: &[u8] = b"escrow/v1/warrant-signature\0";
/// The key name (and checkpoint origin) of the fixed log signer.
pub const LOG_ORIGIN: &str = "trustee-1.example/log";

/// Every `name hex` line of a vector file, decoded.
pub fn vectors(file: &str) -> Vec<(String, Vec<u8>)> {
    file.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' '))
        .map(|(name, h)| (name.to_owned(), hex::decode(h.trim()).expect("vector files hold hex")))
        .collect()
}

/// One KAT blob by name.
pub fn kat(name: &str) -> Vec<u8> {
    vectors(KAT).into_iter().find(|(n, _)| n == name).map(|(_, b)| b).expect("blob is in kat-v1.txt")
}

/// The KAT court ("high-court"): it signed the KAT warrant.
pub static COURT_SK: LazyLock<CourtSecretKey> =
    LazyLock::new(|| CourtSecretKey::from_bytes(&kat("court_secret_key")).expect("KAT court key decodes"));
/// Its public key.
pub static COURT_PK: LazyLock<CourtPublicKey> = LazyLock::new(|| COURT_SK.public());
/// A second, unrelated court from a seeded RNG (for `verify_any`).
pub static OTHER_COURT_PK: LazyLock<CourtPublicKey> = LazyLock::new(|| {
    let id = PartyId::new("other-court").expect("valid id");
    CourtSecretKey::generate(id, &mut rand_chacha::ChaCha20Rng::seed_from_u64(0xf022)).public()
});
/// The KAT court's raw P-256 signing key (the last 32 bytes of its blob), to sign
/// arbitrary warrant bodies.
pub static COURT_P256: LazyLock<p256::ecdsa::SigningKey> = LazyLock::new(|| {
    let blob = kat("court_secret_key");
    p256::ecdsa::SigningKey::from_slice(&blob[blob.len() - 32..]).expect("KAT court scalar")
});
/// The KAT epoch key set (epoch 42, t = 2, n = 5).
pub static EPK: LazyLock<EpochPublicKey> =
    LazyLock::new(|| EpochPublicKey::from_bytes(&kat("epoch_public_key")).expect("KAT epoch key decodes"));
/// The KAT label and escrow field (of the KAT envelope).
pub static LABEL: LazyLock<Label> = LazyLock::new(|| Label::from_bytes(&kat("label")).expect("KAT label decodes"));
/// The KAT escrow field.
pub static FIELD: LazyLock<EscrowField> =
    LazyLock::new(|| EscrowField::from_bytes(&kat("escrow_field")).expect("KAT field decodes"));
/// Alice (the KAT envelope's sender) and Bob (a recipient).
pub static ALICE_PK: LazyLock<UserPublicKey> =
    LazyLock::new(|| UserPublicKey::from_bytes(&kat("user_public_key_alice")).expect("KAT alice decodes"));
/// Bob's secret keys.
pub static BOB_SK: LazyLock<UserSecretKey> =
    LazyLock::new(|| UserSecretKey::from_bytes(&kat("user_secret_key_bob")).expect("KAT bob decodes"));

/// The KAT deployment of escrow domains: uk (the KAT epoch key) and us (its own KAT
/// key) escrow under all-of, free does not.
pub static JURISDICTIONS: LazyLock<escrow_crypto::Jurisdictions> = LazyLock::new(|| {
    let us = EpochPublicKey::from_bytes(&kat("epoch_public_key_us")).expect("KAT us key decodes");
    let d = |s: &str| escrow_crypto::Domain::new(s).expect("a domain name");
    escrow_crypto::Jurisdictions::new(
        escrow_crypto::Rule::AllOf,
        [(d("uk"), Some(EPK.clone())), (d("us"), Some(us)), (d("free"), None)],
    )
    .expect("three distinct domains")
});
/// The KAT users' certified homes: alice uk, bob us, carol free.
pub static HOMES: LazyLock<std::collections::BTreeMap<escrow_crypto::PartyId, escrow_crypto::Domain>> =
    LazyLock::new(|| {
        [("alice", "uk"), ("bob", "us"), ("carol", "free")]
            .into_iter()
            .map(|(p, h)| {
                (escrow_crypto::PartyId::new(p).expect("an id"), escrow_crypto::Domain::new(h).expect("a domain"))
            })
            .collect()
    });

/// The fixed log signer (seeded RNG, the same seed as escrow-log's tests).
pub fn log_signer() -> CheckpointSigner {
    CheckpointSigner::generate(LOG_ORIGIN, &mut rand_chacha::ChaCha20Rng::seed_from_u64(0x10c)).expect("valid key name")
}
/// The fixed log signer, built once.
pub static LOG_SIGNER: LazyLock<CheckpointSigner> = LazyLock::new(log_signer);
/// Its verifier key.
pub static LOG_VERIFIER: LazyLock<CheckpointVerifier> = LazyLock::new(|| LOG_SIGNER.verifier());

/// The three trustees (`trustee-0`, `trustee-1`, `trustee-2`, from a ChaCha20 RNG
/// seeded with 42) of the key-ceremony targets, and of the ceremonies `gen_seeds` runs
/// to make their seeds: so the seeds verify under [`trustee_pins`] and the fuzzer
/// starts past the signature checks. Made once per process: generating them for every
/// input held `crypto_ceremony_message` to a few hundred executions a second.
pub fn trustee_keys() -> &'static [TrusteeSigningKey] {
    static KEYS: OnceLock<Vec<TrusteeSigningKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
        (0..3)
            .map(|i| TrusteeSigningKey::generate(PartyId::new(format!("trustee-{i}")).expect("valid id"), &mut rng))
            .collect()
    })
}

/// The pins of [`trustee_keys`], made once per process.
pub fn trustee_pins() -> &'static TrusteePins {
    static PINS: OnceLock<TrusteePins> = OnceLock::new();
    PINS.get_or_init(|| {
        TrusteePins::new(trustee_keys().iter().map(TrusteeSigningKey::public).collect()).expect("three distinct ids")
    })
}

/// An "RNG" that hands out fixed bytes in order: re-sealing with the salt and nonce
/// read from a blob must give the blob back.
#[derive(Debug)]
pub struct Replay(pub Vec<u8>);

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(self.0.len() >= dest.len(), "replay RNG ran dry: seal drew more than salt and nonce");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Replay {}
