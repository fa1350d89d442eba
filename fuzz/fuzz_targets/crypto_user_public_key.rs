//! `UserPublicKey::from_bytes`: canonical re-encoding (compressed points, validated id).
#![no_main]
use escrow_crypto::UserPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pk) = UserPublicKey::from_bytes(data) {
        assert_eq!(pk.to_bytes(), data, "user public key encoding is not canonical");
    }
});
