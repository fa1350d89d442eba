//! `SignedMessage::from_bytes`, `peek` and `verify` under the pins of the three fixed
//! trustees: nothing panics; a message that verifies re-signs (deterministic ECDSA) to
//! exactly the input, `peek` names its ceremony and sender, and `decode_unsigned` reads
//! the same out of its signed part. Only a proposal that fails `Proposal::check` may
//! verify without re-encoding (the decoder leaves that check to the state machine).
//! Seeds: every message of the ceremonies `gen_seeds` runs with these keys.
#![no_main]
use escrow_crypto::dkg::messages::{Body, SignedMessage};
use escrow_crypto::trustee_key::SIGNATURE_LEN;
use escrow_fuzz::{trustee_keys, trustee_pins};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = SignedMessage::from_bytes(data) else { return };
    let peeked = msg.peek();
    let Ok(m) = msg.verify(trustee_pins()) else { return };
    assert_eq!(peeked.ok(), Some((m.ceremony, m.sender.clone())), "peek disagrees with verify");
    let unsigned = SignedMessage::decode_unsigned(&data[..data.len() - SIGNATURE_LEN]);
    assert_eq!(unsigned.ok(), Some((m.ceremony, m.sender.clone(), m.body.clone())), "decode_unsigned disagrees");
    let key = trustee_keys().iter().find(|k| k.trustee() == &m.sender).expect("verified under a pinned key");
    match SignedMessage::sign(key, &m.ceremony, &m.body) {
        Ok(again) => assert_eq!(again.as_bytes(), data, "ceremony message encoding is not canonical"),
        Err(e) => assert!(
            matches!(&m.body, Body::Proposal(p) if p.check().is_err()),
            "a verified {} does not re-encode: {e}",
            m.body.name()
        ),
    }
});
