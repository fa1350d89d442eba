//! The ceremony message decoder behind the signature, on its own:
//! `SignedMessage::decode_unsigned` on the part of a message that its signature covers
//! (version, alg, kind, ceremony id, sender, body), which `verify` decodes the same way
//! but never lets a fuzzer past the signature to check. Nothing panics; what decodes
//! encodes (`encode_unsigned`) back to exactly the input, except a proposal failing
//! `Proposal::check` (the state machine's check, not the decoder's), which must then
//! refuse to encode; an acceptance's ceremony key and a revealed share that decode are
//! canonical too. Seeds: the signed part of every message of the ceremonies `gen_seeds`
//! runs.
#![no_main]
use escrow_crypto::dkg::math::{CeremonyPublicKey, DealtShare};
use escrow_crypto::dkg::messages::{Body, SignedMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((ceremony, sender, body)) = SignedMessage::decode_unsigned(data) else { return };
    match SignedMessage::encode_unsigned(&ceremony, &sender, &body) {
        Ok(again) => assert_eq!(again, data, "ceremony {} encoding is not canonical", body.name()),
        Err(e) => assert!(
            matches!(&body, Body::Proposal(p) if p.check().is_err()),
            "a decoded {} does not encode: {e}",
            body.name()
        ),
    }
    assert_eq!(body.proposal_hash().is_none(), matches!(body, Body::Proposal(_)));
    match &body {
        Body::Accept { encryption_key, .. } => {
            if let Ok(k) = CeremonyPublicKey::from_bytes(encryption_key) {
                assert_eq!(&k.to_bytes(), encryption_key, "ceremony key encoding is not canonical");
            }
        }
        Body::Justification { share, .. } => {
            if let Ok(s) = DealtShare::from_bytes(share) {
                assert_eq!(&*s.to_bytes(), share, "revealed share encoding is not canonical");
            }
        }
        _ => {}
    }
});
