//! `DealingCommitment::from_bytes`: canonical re-encoding, degree below 64.
#![no_main]
use escrow_crypto::dkg::math::DealingCommitment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = DealingCommitment::from_bytes(data) {
        assert_eq!(c.to_bytes(), data, "dealing commitment encoding is not canonical");
        assert!(c.threshold() < 64);
    }
});
