//! `DomainEnvelope::from_bytes`: the decoder keeps the exact bytes, the message label
//! inside re-encodes to the bytes it came from, field domains are strictly ascending
//! and each field's label is the message's with that domain. Every decoded envelope
//! then goes through the sender-signature check (KAT Alice) and a full open by a KAT
//! recipient (Bob: rule, certified homes, required fields, key unwrap, each field's
//! re-encryption check under its domain's key, body).
#![no_main]
use escrow_crypto::DomainEnvelope;
use escrow_fuzz::{ALICE_PK, BOB_SK, HOMES, JURISDICTIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = DomainEnvelope::from_bytes(data) else { return };
    assert_eq!(env.as_bytes(), data);
    // version (1) ‖ alg (2) ‖ message label length (2) ‖ message label.
    let len = usize::from(u16::from_be_bytes([data[3], data[4]]));
    assert_eq!(env.message().to_bytes(), &data[5..5 + len], "message label is not canonical");
    let domains: Vec<_> = env.domains().collect();
    assert!(domains.windows(2).all(|w| w[0] < w[1]), "field domains not strictly ascending");
    assert_eq!(domains.len(), env.fields().len());
    for (label, _) in env.fields() {
        let tag = label.domain_tag().expect("a field label names its domain");
        assert!(env.message().homes().contains(tag.domain()), "field domain is no party's home");
        assert_eq!(tag.homes(), env.message().homes());
        assert_eq!(label.sender(), env.message().sender());
    }
    assert_eq!(DomainEnvelope::from_bytes(env.as_bytes()).as_ref(), Ok(&env));
    if env.verify_sender(&ALICE_PK).is_ok() {
        let _ = env.open(&BOB_SK, &ALICE_PK, &HOMES, &JURISDICTIONS);
    }
});
