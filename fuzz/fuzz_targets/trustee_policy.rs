//! `escrow_trustee::policy::Policy::from_toml` on UTF-8 input (other input returns).
//! A parsed policy holds only validated values: trusted court keys that round-trip,
//! a positive window, 1 to 10,000 items per request.
#![no_main]
use escrow_crypto::CourtPublicKey;
use escrow_trustee::policy::{Policy, MAX_ITEMS_PER_REQUEST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = Policy::from_toml(text) else { return };
    assert!(p.max_window_secs > 0);
    assert!((1..=MAX_ITEMS_PER_REQUEST).contains(&p.max_items_per_request));
    for c in &p.trusted_courts {
        assert_eq!(CourtPublicKey::from_bytes(&c.to_bytes()).as_ref(), Ok(c));
    }
    for agency in p.agency_quota.keys() {
        assert_eq!(p.quota(agency), p.agency_quota[agency]);
    }
});
