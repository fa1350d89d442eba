//! `UserSecretKey::from_bytes`: canonical re-encoding; its public half round-trips.
#![no_main]
use escrow_crypto::{UserPublicKey, UserSecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sk) = UserSecretKey::from_bytes(data) {
        assert_eq!(sk.to_bytes().as_slice(), data, "user secret key encoding is not canonical");
        let pk = sk.public();
        assert_eq!(UserPublicKey::from_bytes(&pk.to_bytes()).as_ref(), Ok(&pk));
    }
});
