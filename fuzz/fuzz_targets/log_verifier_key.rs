//! `CheckpointVerifier::from_str` (`<name>+<key id>+<base64 key>`): canonical, so a
//! key that parses prints back to the same text.
#![no_main]
use escrow_log::CheckpointVerifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = text.parse::<CheckpointVerifier>() {
        assert_eq!(v.to_string(), text, "verifier key text is not canonical");
    }
});
