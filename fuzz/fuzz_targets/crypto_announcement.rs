//! `Announcement::from_bytes` and `SignedAnnouncement::from_bytes` / `verify` (under
//! no pins, and under the pins of the three fixed trustees): canonical re-encoding,
//! holders match the key set, nothing panics; an announcement that verifies under
//! the pins was signed by every holder and its body re-encodes. Seeds: the
//! announcements (signed and bare) of the ceremonies `gen_seeds` runs with these keys.
#![no_main]
use escrow_crypto::{Announcement, SignedAnnouncement, TrusteePins};
use escrow_fuzz::trustee_pins;
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
        if let Ok(v) = s.verify(trustee_pins()) {
            let a = v.announcement();
            assert_eq!(a.to_bytes().expect("a verified announcement encodes"), s.body());
            assert!(a.holders.iter().all(|h| s.signers().any(|p| p == h)), "a holder did not sign");
            assert_eq!(v.signed(), &s);
        }
    }
});
