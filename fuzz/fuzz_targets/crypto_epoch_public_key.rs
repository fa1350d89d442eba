//! `EpochPublicKey::from_bytes`: canonical re-encoding and `t < n`, quorum `t + 1`.
#![no_main]
use escrow_crypto::EpochPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(epk) = EpochPublicKey::from_bytes(data) {
        assert_eq!(epk.to_bytes(), data, "epoch public key encoding is not canonical");
        assert!(epk.threshold() < epk.n() && epk.n() <= 64);
        assert_eq!(epk.quorum(), usize::from(epk.threshold()) + 1);
    }
});
