//! Cosignature lines on any note: verification under a fixed witness key never
//! panics, and lines that the witness key does not claim are ignored.
#![no_main]
use std::sync::OnceLock;

use escrow_log::cosignature::{own_cosignatures, verify_cosignatures, WitnessVerifier};
use escrow_log::WitnessSigner;
use libfuzzer_sys::fuzz_target;

/// The tlog-policy fixture witness's verifier key, parsed once per process rather
/// than for every input.
fn witness() -> &'static WitnessVerifier {
    static KEY: OnceLock<WitnessVerifier> = OnceLock::new();
    KEY.get_or_init(|| {
        WitnessSigner::from_bytes(b"PRIVATE+KEY+Wit1+55ee4561+AeadRiG7XM4XiieCHzD8lxysXMwcViy5nYsoXURWGrlE")
            .expect("the tlog-policy fixture key")
            .verifier()
    })
}

fuzz_target!(|data: &[u8]| {
    let key = witness();
    let _ = verify_cosignatures(data, std::slice::from_ref(key));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((note, lines)) = text.split_once("\n\n\n") {
            let _ = own_cosignatures(&format!("{note}\n"), lines, key);
        }
    }
});
