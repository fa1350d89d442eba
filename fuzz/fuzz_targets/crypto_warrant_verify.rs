//! `VerifiedWarrant::verify` and `verify_any` on arbitrary bytes, with the KAT court's
//! key (and an unrelated court from a seeded RNG for `verify_any`). The signature is
//! checked before the body is decoded, so this target mostly exercises framing and
//! signature decoding; `crypto_warrant_body` reaches the body decoder. A warrant that
//! verifies must keep its exact bytes, name the court, and its signed part must be
//! the canonical encoding of its body (re-signing reproduces it).
#![no_main]
use escrow_crypto::VerifiedWarrant;
use escrow_fuzz::{COURT_PK, COURT_SK, OTHER_COURT_PK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let one = VerifiedWarrant::verify(data, &COURT_PK);
    let any = VerifiedWarrant::verify_any(data, &[OTHER_COURT_PK.clone(), COURT_PK.clone()]);
    assert_eq!(one.is_ok(), any.is_ok(), "verify and verify_any disagree: {one:?} / {any:?}");
    if let Ok(w) = one {
        assert_eq!(w.as_bytes(), data);
        assert_eq!(&w.body().court, COURT_PK.court());
        let resigned = COURT_SK.sign(w.body()).expect("a verified body re-signs");
        assert_eq!(resigned[..resigned.len() - 64], data[..data.len() - 64], "warrant body is not canonical");
        assert!(w.body().targets.iter().all(|t| w.scope().targets().contains(t)));
        assert_eq!(w.scope().targets().len(), w.body().targets.len());
    }
});
