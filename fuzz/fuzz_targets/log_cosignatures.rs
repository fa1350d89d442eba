//! Cosignature lines on any note: verification under a fixed witness key never
//! panics, and lines that the witness key does not claim are ignored.
#![no_main]
use escrow_log::cosignature::{own_cosignatures, verify_cosignatures};
use escrow_log::WitnessSigner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signer = WitnessSigner::from_bytes(b"PRIVATE+KEY+Wit1+55ee4561+AeadRiG7XM4XiieCHzD8lxysXMwcViy5nYsoXURWGrlE")
        .expect("the tlog-policy fixture key");
    let key = signer.verifier();
    let _ = verify_cosignatures(data, std::slice::from_ref(&key));
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((note, lines)) = text.split_once("\n\n\n") {
            let _ = own_cosignatures(&format!("{note}\n"), lines, &key);
        }
    }
});
