//! `DecryptionShare::from_bytes`: canonical re-encoding; a decoded share goes through
//! share verification against the KAT epoch key, field and label without panicking.
#![no_main]
use escrow_crypto::DecryptionShare;
use escrow_fuzz::{EPK, FIELD, LABEL};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(share) = DecryptionShare::from_bytes(data) {
        assert_eq!(share.to_bytes(), data, "decryption share encoding is not canonical");
        let _ = EPK.verify_share(&FIELD, &LABEL, &share);
    }
});
