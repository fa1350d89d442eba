//! `Announcement::from_bytes` and `SignedAnnouncement::from_bytes` / `verify`: canonical
//! re-encoding, holders match the key set, nothing panics.
#![no_main]
use escrow_crypto::{Announcement, SignedAnnouncement, TrusteePins};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Announcement::from_bytes(data) {
        assert_eq!(a.to_bytes().expect("a decoded announcement encodes"), data, "not canonical");
        assert_eq!(a.holders.len(), usize::from(a.key_set.n()));
        assert!(a.valid_from < a.destroy_at);
    }
    if let Ok(s) = SignedAnnouncement::from_bytes(data) {
        assert_eq!(s.to_bytes(), data, "signed announcement encoding is not canonical");
        let _ = s.verify(&TrusteePins::default());
    }
});
