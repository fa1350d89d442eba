//! `CourtPublicKey::from_bytes`: canonical re-encoding.
#![no_main]
use escrow_crypto::CourtPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pk) = CourtPublicKey::from_bytes(data) {
        assert_eq!(pk.to_bytes(), data, "court public key encoding is not canonical");
    }
});
