//! `escrow_log::event::Entry::from_bytes`: entries are canonical, so whatever decodes
//! must re-encode (`to_bytes`) to the same bytes.
#![no_main]
use escrow_log::event::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::from_bytes(data) {
        let again = entry.to_bytes().expect("a decoded entry re-encodes");
        assert_eq!(again, data, "log entry encoding is not canonical");
    }
});
