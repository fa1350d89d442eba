//! `Label::from_bytes`: a label has exactly one encoding, so whatever decodes must
//! re-encode to the same bytes.
#![no_main]
use escrow_crypto::Label;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(label) = Label::from_bytes(data) {
        assert_eq!(label.to_bytes(), data, "label encoding is not canonical");
        assert!(label.recipients().windows(2).all(|w| w[0] < w[1]), "recipients not strictly ascending");
        assert!(label.involves(label.sender()));
    }
});
