//! `TrusteeKeyShare::from_bytes`: canonical re-encoding; `check_against` the KAT epoch
//! key runs without panicking (it must accept the KAT share 3).
#![no_main]
use escrow_crypto::TrusteeKeyShare;
use escrow_fuzz::EPK;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(share) = TrusteeKeyShare::from_bytes(data) {
        assert_eq!(share.to_bytes().as_slice(), data, "trustee key share encoding is not canonical");
        assert!(share.index().0 < 64);
        let _ = share.check_against(&EPK);
    }
});
