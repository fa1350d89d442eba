//! `Envelope::from_bytes`: the decoder keeps the exact bytes, and the label and escrow
//! field it found must re-encode to the bytes they were decoded from. Every decoded
//! envelope then goes through the sender-signature check (KAT Alice) and a full open
//! by a KAT recipient (Bob: ECDH, key unwrap, escrow-field re-encryption check, body).
#![no_main]
use escrow_crypto::Envelope;
use escrow_fuzz::{ALICE_PK, BOB_SK, EPK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::from_bytes(data) else { return };
    assert_eq!(env.as_bytes(), data);
    // version (1) ‖ alg (2) ‖ label length (2) ‖ label ‖ field without its header (176).
    let label_len = usize::from(u16::from_be_bytes([data[3], data[4]]));
    let label_bytes = &data[5..5 + label_len];
    assert_eq!(env.label().to_bytes(), label_bytes, "envelope label is not canonical");
    let field = env.field().to_bytes();
    assert_eq!(&field[3..], &data[5 + label_len..5 + label_len + 176], "envelope field is not canonical");
    assert_eq!(Envelope::from_bytes(env.as_bytes()).as_ref(), Ok(&env));
    if env.verify_sender(&ALICE_PK).is_ok() {
        let _ = env.open(&BOB_SK, &ALICE_PK, &EPK);
    }
});
