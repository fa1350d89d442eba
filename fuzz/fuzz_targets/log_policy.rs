//! tlog-policy parsing and note verification under a parsed policy: nothing panics,
//! and a policy that parses verifies (or refuses) any note without panicking.
#![no_main]
use escrow_log::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The input as a policy, and then its own bytes as a note to verify under it.
    if let Ok(policy) = text.parse::<Policy>() {
        let _ = policy.verify(data);
        let _ = policy.quorum_met(&vec![true; policy.witnesses().len()]);
    }
});
