//! The warrant body decoder behind the signature: the input is the unsigned warrant
//! (version, alg, body); the target signs it with the KAT court's P-256 key exactly as
//! the court does (ECDSA-P256-SHA256 over DST ‖ bytes, low-S) and hands the signed
//! blob to `VerifiedWarrant::verify`, so every input reaches `WarrantBody::decode`.
//! Whatever verifies must re-sign (RFC 6979, deterministic) to the very same blob.
#![no_main]
use escrow_crypto::VerifiedWarrant;
use escrow_fuzz::{COURT_P256, COURT_PK, COURT_SK, WARRANT_SIG_DST};
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::Signature;

fuzz_target!(|data: &[u8]| {
    let mut msg = WARRANT_SIG_DST.to_vec();
    msg.extend_from_slice(data);
    let sig: Signature = COURT_P256.sign(&msg);
    let sig = sig.normalize_s().unwrap_or(sig);
    let mut blob = data.to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    if let Ok(w) = VerifiedWarrant::verify(&blob, &COURT_PK) {
        let resigned = COURT_SK.sign(w.body()).expect("a verified body re-signs");
        assert_eq!(resigned, blob, "warrant body encoding is not canonical");
        let _ = w.check_time(w.body().issued_at);
        let _ = w.check_scope(&escrow_fuzz::LABEL);
    }
});
