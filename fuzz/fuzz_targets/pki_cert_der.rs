//! `escrow_pki::Identity::from_cert_der`: x509-parser on arbitrary DER, then the one
//! `escrow:role/` SAN URI. (It reads, it does not verify: servers call it on chains
//! rustls has verified.) An identity found must round-trip through its URI; UTF-8
//! input also goes through `from_cert_pem`.
#![no_main]
use escrow_pki::Identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = Identity::from_cert_der(data) {
        assert_eq!(Identity::from_uri(&id.uri()).ok().as_ref(), Some(&id));
    }
    if let Ok(pem) = std::str::from_utf8(data) {
        let _ = Identity::from_cert_pem(pem);
    }
});
