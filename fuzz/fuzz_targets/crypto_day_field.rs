//! `DayField::from_bytes`: canonical re-encoding; a decoded field goes through the
//! recipient's re-encryption check for bob under the KAT epoch key and label without
//! panicking, and only the KAT field carries the KAT day key there.
#![no_main]
use escrow_crypto::{DataKey, DayField, PartyId};
use escrow_fuzz::{EPK, LABEL};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(field) = DayField::from_bytes(data) {
        assert_eq!(field.to_bytes(), data, "day field encoding is not canonical");
        let bob = PartyId::new("bob").expect("valid id");
        if field.check_carries(&EPK, &LABEL, &bob, &DataKey::from_bytes([7; 32])).is_ok() {
            assert_eq!(data, escrow_fuzz::kat("day_field_bob"), "another field carries the KAT key");
        }
    }
});
