//! `escrow_pki::Identity::from_uri` (`escrow:role/<role>/<id>`, operators
//! `escrow:role/operator/<trustee>/<name>`): one identity, one URI, so whatever parses
//! must print (`uri`) back to the input.
#![no_main]
use escrow_pki::Identity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = Identity::from_uri(text) {
        assert_eq!(id.uri(), text, "identity URI is not canonical");
    }
});
