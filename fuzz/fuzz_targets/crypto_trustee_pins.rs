//! `TrusteePins::from_text` and `TrusteeVerifyingKey::from_bytes`: what parses prints
//! back to text that parses to the same pins; nothing panics.
#![no_main]
use escrow_crypto::{TrusteePins, TrusteeVerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = TrusteeVerifyingKey::from_bytes(data) {
        assert_eq!(k.to_bytes(), data, "trustee key encoding is not canonical");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(pins) = TrusteePins::from_text(text) {
            assert_eq!(TrusteePins::from_text(&pins.to_text()).expect("printed pins parse"), pins);
        }
    }
});
