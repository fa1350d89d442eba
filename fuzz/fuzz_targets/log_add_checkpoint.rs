//! The witness's request parser and decision: any body either is refused with one of
//! the spec's statuses or, parsed, prints back to exactly the bytes it came from; a
//! submission that verifies under the fixed log key and passes against an empty state
//! is a checkpoint of that log. Nothing panics.
#![no_main]
use escrow_fuzz::LOG_VERIFIER;
use escrow_log::witness::{AddCheckpoint, LogKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let req = match AddCheckpoint::parse(data) {
        Ok(r) => r,
        Err(refusal) => {
            assert_eq!(refusal.status(), 400, "a body that does not parse is a 400");
            return;
        }
    };
    assert_eq!(req.to_body().as_bytes(), data, "add-checkpoint bodies are canonical");
    let mut logs = LogKeys::new();
    logs.add(LOG_VERIFIER.name(), LOG_VERIFIER.clone());
    match req.verify(&logs) {
        Ok(sub) => {
            assert_eq!(sub.checkpoint().origin(), LOG_VERIFIER.name());
            let _ = sub.check_against(None);
        }
        Err(refusal) => assert!([400, 403, 404].contains(&refusal.status()), "{refusal}"),
    }
});
