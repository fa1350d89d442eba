//! The checkpoint body parser behind the signature: the input is note text; the
//! target signs it with the fixed log key (`sign_note`) and verifies it back
//! (`CheckpointVerifier::verify`), so every input reaches the checkpoint parser.
//! Checkpoints are canonical: a parsed one must print (`body`) and sign (Ed25519 is
//! deterministic) to exactly the text and note it came from.
#![no_main]
use escrow_fuzz::{LOG_SIGNER, LOG_VERIFIER};
use escrow_log::note::sign_note;
use escrow_log::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(note) = sign_note(text, &LOG_SIGNER) else { return };
    let opened = escrow_log::note::open_note(note.as_bytes(), &LOG_VERIFIER);
    let Ok(cp) = LOG_VERIFIER.verify(note.as_bytes()) else { return };
    assert_eq!(opened, Ok(text), "a verified checkpoint's note did not open to its text");
    assert_eq!(cp.body(), text, "checkpoint text is not canonical");
    assert_eq!(LOG_SIGNER.sign(&cp), note);
    assert_eq!(Checkpoint::new(cp.origin(), cp.size(), *cp.root()).as_ref(), Ok(&cp));
    assert!(LOG_VERIFIER.verify_for_origin(note.as_bytes(), cp.origin()).is_ok());
});
