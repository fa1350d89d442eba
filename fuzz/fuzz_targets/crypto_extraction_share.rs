//! `ExtractionShare::from_bytes`: canonical re-encoding; a decoded share goes through
//! verification against the KAT epoch key for alice's day of the KAT label without
//! panicking.
#![no_main]
use escrow_crypto::{DayId, ExtractionShare, PartyId};
use escrow_fuzz::{EPK, LABEL};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(share) = ExtractionShare::from_bytes(data) {
        assert_eq!(share.to_bytes(), data, "extraction share encoding is not canonical");
        let alice = DayId::of(&LABEL, &PartyId::new("alice").expect("valid id")).expect("alice sent the KAT label");
        let _ = EPK.verify_extraction_share(&alice, &share);
    }
});
