//! `SignedMessage::from_bytes`, `peek` and `verify` under fixed pins: nothing panics, and
//! a message that verifies re-signs to the same bytes (signatures are deterministic).
#![no_main]
use escrow_crypto::dkg::messages::SignedMessage;
use escrow_crypto::{PartyId, TrusteePins, TrusteeSigningKey};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;

fn keys() -> Vec<TrusteeSigningKey> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
    (0..3).map(|i| TrusteeSigningKey::generate(PartyId::new(format!("trustee-{i}")).unwrap(), &mut rng)).collect()
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let pins = TrusteePins::new(keys.iter().map(TrusteeSigningKey::public).collect()).unwrap();
    let Ok(msg) = SignedMessage::from_bytes(data) else { return };
    let _ = msg.peek();
    if let Ok(m) = msg.verify(&pins) {
        let key = keys.iter().find(|k| k.trustee() == &m.sender).expect("verified under a pinned key");
        let again = SignedMessage::sign(key, &m.ceremony, &m.body).expect("a verified body re-encodes");
        assert_eq!(again.as_bytes(), data, "ceremony message encoding is not canonical");
    }
});
