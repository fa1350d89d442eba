//! Warrants: signatures, court binding, scope at the exact edges, validity times.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use escrow_crypto::*;

fn body(court: &str) -> WarrantBody {
    WarrantBody {
        id: WarrantId([9; 16]),
        case_reference: "R v. Doe, case 2026/117".into(),
        court: id(court),
        agency: id("met-police"),
        targets: vec![id("mallory"), id("eve")],
        window: TimeWindow::new(1_000, 2_000).unwrap(),
        issued_at: 500,
        valid_until: 10_000,
        legal_basis: "Investigatory Powers Act 2016 s.19".into(),
        notification_delay_secs: 86_400 * 90,
    }
}

#[test]
fn signed_warrant_verifies_and_round_trips() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let bytes = court.sign(&body("high-court")).unwrap();
    let v = VerifiedWarrant::verify(&bytes, &court.public()).unwrap();
    let mut expected = body("high-court");
    expected.targets.sort();
    assert_eq!(v.body(), &expected);
    assert_eq!(v.as_bytes(), &bytes[..]);
    assert_eq!(v.id().to_string(), "09".repeat(16));
    let pk = CourtPublicKey::from_bytes(&court.public().to_bytes()).unwrap();
    VerifiedWarrant::verify(&bytes, &pk).unwrap();
    let sk = CourtSecretKey::from_bytes(&court.to_bytes()).unwrap();
    assert_eq!(sk.sign(&body("high-court")).unwrap(), bytes, "RFC 6979 signatures are deterministic");
    assert!(format!("{court:?}").contains("<redacted>"));
}

#[test]
fn forged_and_other_court_signatures_do_not_verify() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let rogue = CourtSecretKey::generate(id("rogue-court"), &mut rng(2));
    let genuine = court.sign(&body("high-court")).unwrap();

    // Every single bit flip anywhere is refused.
    for i in 0..genuine.len() {
        let mut b = genuine.clone();
        b[i] ^= 0x01;
        assert!(VerifiedWarrant::verify(&b, &court.public()).is_err(), "byte {i}");
    }
    // A warrant signed by another court, claiming to be from the high court: the
    // signer refuses to sign it, so build it by signing as the rogue and swapping ids.
    let rogue_bytes = rogue.sign(&body("rogue-court")).unwrap();
    assert_eq!(VerifiedWarrant::verify(&rogue_bytes, &court.public()), Err(Error::BadSignature { what: "court" }));
    // The rogue court's genuine warrant verifies under its own key but names it.
    let v = VerifiedWarrant::verify(&rogue_bytes, &rogue.public()).unwrap();
    assert_eq!(v.body().court, id("rogue-court"));
    // A key registered for one court cannot vouch for a warrant naming another.
    let same_key_other_name = CourtSecretKey::from_bytes(&{
        let mut b = court.to_bytes().to_vec();
        assert_eq!(&b[4..14], b"high-court");
        b[4..14].copy_from_slice(b"rogue-cour");
        b
    })
    .unwrap();
    let w = same_key_other_name.sign(&WarrantBody { court: id("rogue-cour"), ..body("high-court") }).unwrap();
    assert_eq!(
        VerifiedWarrant::verify(&w, &court.public()),
        Err(Error::PartyMismatch { what: "court", expected: "high-court".into(), got: "rogue-cour".into() })
    );
    // Courts refuse to sign in another court's name.
    assert!(matches!(court.sign(&body("rogue-court")), Err(Error::PartyMismatch { .. })));
    // verify_any picks the right key and refuses when none is trusted.
    VerifiedWarrant::verify_any(&genuine, &[rogue.public(), court.public()]).unwrap();
    assert_eq!(VerifiedWarrant::verify_any(&genuine, &[rogue.public()]), Err(Error::UntrustedCourt));
    assert_eq!(VerifiedWarrant::verify_any(&genuine, &[]), Err(Error::UntrustedCourt));
}

#[test]
fn high_s_signatures_are_refused() {
    use p256::elliptic_curve::PrimeField;
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let bytes = court.sign(&body("high-court")).unwrap();
    let n = bytes.len();
    // s' = q - s verifies under plain ECDSA; we refuse it so each warrant has one encoding.
    let s = p256::Scalar::from_repr(p256::FieldBytes::from(<[u8; 32]>::try_from(&bytes[n - 32..]).unwrap())).unwrap();
    let mut b = bytes.clone();
    b[n - 32..].copy_from_slice(&(-s).to_repr());
    assert!(matches!(
        VerifiedWarrant::verify(&b, &court.public()),
        Err(Error::Decode { reason: DecodeError::InvalidValue { reason: "high-S signature", .. }, .. })
    ));
}

#[test]
fn scope_at_the_exact_edges_of_the_window() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let v = VerifiedWarrant::verify(&court.sign(&body("high-court")).unwrap(), &court.public()).unwrap();
    let at = |sender: &str, to: &[&str], ts| v.check_scope(&label(1, sender, to, ts));
    assert_eq!(
        at("mallory", &["bob"], 999),
        Err(Error::OutOfScope(ScopeError::BeforeWindow { timestamp: 999, from: 1_000 }))
    );
    assert_eq!(at("mallory", &["bob"], 1_000), Ok(()));
    assert_eq!(at("mallory", &["bob"], 1_999), Ok(()));
    assert_eq!(
        at("mallory", &["bob"], 2_000),
        Err(Error::OutOfScope(ScopeError::AfterWindow { timestamp: 2_000, to: 2_000 }))
    );
    assert_eq!(at("bob", &["alice", "eve"], 1_500), Ok(()), "a target among the recipients");
    assert_eq!(at("bob", &["alice", "carol"], 1_500), Err(Error::OutOfScope(ScopeError::NotATarget)));
    assert_eq!(at("evelyn", &["mallory2"], 1_500), Err(Error::OutOfScope(ScopeError::NotATarget)), "no prefix matches");
}

/// A day key is in scope when its party is a target and its day has a second in the
/// window: the window [1000, 2000) lies in day 0, so day 0 is in and day 1 is out; a
/// window ending exactly at midnight does not reach the next day.
#[test]
fn day_scope_at_the_exact_edges_of_the_window() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let v = VerifiedWarrant::verify(&court.sign(&body("high-court")).unwrap(), &court.public()).unwrap();
    let day = |party: &str, d| v.check_day_scope(&DayId::new(EpochId(1), id(party), d));
    assert_eq!(day("mallory", 0), Ok(()));
    assert_eq!(day("eve", 0), Ok(()));
    assert_eq!(
        day("mallory", 1),
        Err(Error::OutOfScope(ScopeError::DayOutsideWindow { day: 1, start: 86_400, from: 1_000, to: 2_000 }))
    );
    assert_eq!(day("bob", 0), Err(Error::OutOfScope(ScopeError::PartyNotATarget("bob".into()))));
    assert_eq!(day("mallory2", 0), Err(Error::OutOfScope(ScopeError::PartyNotATarget("mallory2".into()))));

    let mut b = body("high-court");
    b.window = TimeWindow::new(86_400 - 1, 2 * 86_400).unwrap();
    let v = VerifiedWarrant::verify(&court.sign(&b).unwrap(), &court.public()).unwrap();
    let day = |d| v.check_day_scope(&DayId::new(EpochId(1), id("eve"), d));
    assert_eq!(day(0), Ok(()), "the window's first second is the day's last");
    assert_eq!(day(1), Ok(()));
    assert!(day(2).is_err(), "the window ends at the midnight day 2 starts");
}

/// The targets are read without the signature, for routing only: a warrant's blob
/// gives its (sorted) targets, anything else nothing.
#[test]
fn peeking_at_the_targets_reads_them_and_nothing_else() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let bytes = court.sign(&body("high-court")).unwrap();
    assert_eq!(peek_warrant_targets(&bytes), Some(vec![id("eve"), id("mallory")]));
    assert_eq!(peek_warrant_targets(&bytes[..40]), None);
    assert_eq!(peek_warrant_targets(b"not a warrant"), None);
    let mut other_alg = bytes.clone();
    other_alg[2] ^= 1;
    assert_eq!(peek_warrant_targets(&other_alg), None);
}

#[test]
fn validity_period_edges() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let v = VerifiedWarrant::verify(&court.sign(&body("high-court")).unwrap(), &court.public()).unwrap();
    assert_eq!(v.check_time(499), Err(Error::WarrantTime(WarrantTimeError::NotYetValid { issued_at: 500, now: 499 })));
    assert_eq!(v.check_time(500), Ok(()));
    assert_eq!(v.check_time(9_999), Ok(()));
    assert_eq!(
        v.check_time(10_000),
        Err(Error::WarrantTime(WarrantTimeError::Expired { valid_until: 10_000, now: 10_000 }))
    );
}

#[test]
fn malformed_warrants_are_refused_before_and_after_signing() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let bad_bodies = [
        WarrantBody { targets: vec![], ..body("high-court") },
        WarrantBody { targets: vec![id("eve"), id("eve")], ..body("high-court") },
        WarrantBody { issued_at: 10_000, ..body("high-court") },
        WarrantBody { case_reference: "a\nb".into(), ..body("high-court") },
        WarrantBody { legal_basis: "s.19 \u{202e}lanigiro\u{202c}".into(), ..body("high-court") },
        WarrantBody { case_reference: "R v. Doe\u{200b}".into(), ..body("high-court") },
        WarrantBody { legal_basis: "x".repeat(1025), ..body("high-court") },
        WarrantBody { targets: (0..65).map(|i| id(&format!("u{i}"))).collect(), ..body("high-court") },
    ];
    for b in bad_bodies {
        assert!(matches!(court.sign(&b), Err(Error::InvalidInput { what: "warrant", .. })), "{b:?}");
    }
    assert!(TimeWindow::new(5, 5).is_err());
    let genuine = court.sign(&body("high-court")).unwrap();
    for cut in [0, 1, 3, 10, genuine.len() - 65, genuine.len() - 1] {
        assert!(VerifiedWarrant::verify(&genuine[..cut], &court.public()).is_err());
    }
    let mut long = genuine.clone();
    long.extend(vec![0u8; warrant::MAX_WARRANT_LEN]);
    assert!(matches!(
        VerifiedWarrant::verify(&long, &court.public()),
        Err(Error::Decode { reason: DecodeError::TooLong { .. }, .. })
    ));
}

#[test]
fn a_warrant_cut_short_is_reported_as_truncated_not_as_a_bad_signature() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let genuine = court.sign(&body("high-court")).unwrap();
    // Each cut of a real warrant is truncated, and at the field where the blob ends.
    // (Read from the end, the last 64 bytes of a cut blob were body and signature
    // bytes, a "high-S" or "out of range" signature.)
    for (len, at) in [(genuine.len() - 2, "signature"), (genuine.len() - 64, "signature"), (100, "issued at")] {
        let err = VerifiedWarrant::verify(&genuine[..len], &court.public()).unwrap_err();
        assert_eq!(err, Error::Decode { kind: wire::Alg::Warrant, reason: DecodeError::Truncated(at) }, "{len} bytes");
        assert_eq!(err.to_string(), format!("malformed warrant: truncated at {at}"), "{len} bytes");
    }
    // A byte too many after the signature is still trailing, not part of it.
    let mut long = genuine.clone();
    long.push(0);
    assert!(matches!(
        VerifiedWarrant::verify(&long, &court.public()),
        Err(Error::Decode { reason: DecodeError::TrailingBytes(1), .. })
    ));
}

#[test]
fn the_id_can_be_peeked_but_only_from_a_warrant_blob() {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(1));
    let body = body("high-court");
    let blob = court.sign(&body).unwrap();
    assert_eq!(escrow_crypto::peek_warrant_id(&blob), Some(body.id));
    assert_eq!(escrow_crypto::peek_warrant_id(&blob[..18]), None, "too short");
    let mut other = blob.clone();
    other[2] ^= 1;
    assert_eq!(escrow_crypto::peek_warrant_id(&other), None, "another algorithm id");
    assert_eq!(body.reveal_at(), body.valid_until + body.notification_delay_secs);
}
