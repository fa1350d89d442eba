//! `EscrowField::from_bytes`: canonical re-encoding; a decoded field goes through the
//! public validity check (pairing) against the KAT epoch key and label without panicking.
#![no_main]
use escrow_crypto::EscrowField;
use escrow_fuzz::{EPK, LABEL};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(field) = EscrowField::from_bytes(data) {
        assert_eq!(field.to_bytes(), data, "escrow field encoding is not canonical");
        let _ = field.verify(&EPK, &LABEL);
    }
});
