//! `escrow_log::note::open_note` and `CheckpointVerifier::verify` on arbitrary bytes
//! with the fixed verifier key. The returned text must be a prefix of the note ending
//! in a newline; a verified checkpoint's body must be exactly that text.
#![no_main]
use escrow_fuzz::LOG_VERIFIER;
use escrow_log::note::open_note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opened = open_note(data, &LOG_VERIFIER);
    if let Ok(text) = &opened {
        assert!(data.starts_with(text.as_bytes()), "opened text is not the note's prefix");
        assert!(text.ends_with('\n'));
    }
    let checkpoint = LOG_VERIFIER.verify(data);
    if let Ok(cp) = &checkpoint {
        assert_eq!(
            Ok(cp.body().as_str()),
            opened.as_deref().map_err(|_| ()),
            "checkpoint body differs from the note text"
        );
    }
    assert!(checkpoint.is_err() || opened.is_ok());
});
