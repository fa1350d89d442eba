//! `CheckpointSigner::from_bytes` (the `PRIVATE+KEY+...` text): canonical, so a key
//! that decodes re-encodes to the same bytes, and its verifier's text parses back.
#![no_main]
use escrow_log::{CheckpointSigner, CheckpointVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(signer) = CheckpointSigner::from_bytes(data) {
        assert_eq!(signer.to_bytes().as_slice(), data, "signer key text is not canonical");
        let v = signer.verifier();
        assert_eq!(v.to_string().parse::<CheckpointVerifier>().as_ref(), Ok(&v));
    }
});
