//! No input makes a decoder panic: random bytes, and random mutations of valid blobs
//! (which get past the header checks and exercise the deeper ones).
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use escrow_crypto::*;
use proptest::prelude::*;

fn decode_all(bytes: &[u8], court: &CourtPublicKey) {
    let _ = Label::from_bytes(bytes);
    let _ = EscrowField::from_bytes(bytes);
    let _ = DecryptionShare::from_bytes(bytes);
    let _ = EpochPublicKey::from_bytes(bytes);
    let _ = TrusteeKeyShare::from_bytes(bytes);
    let _ = UserPublicKey::from_bytes(bytes);
    let _ = UserSecretKey::from_bytes(bytes);
    let _ = CourtPublicKey::from_bytes(bytes);
    let _ = CourtSecretKey::from_bytes(bytes);
    let _ = VerifiedWarrant::verify(bytes, court);
    if let Ok(env) = Envelope::from_bytes(bytes) {
        let _ = env.label().to_bytes();
    }
    let _ = MessageLabel::from_bytes(bytes);
    if let Ok(env) = DomainEnvelope::from_bytes(bytes) {
        let _ = env.message().to_bytes();
    }
}

fn samples() -> (Vec<Vec<u8>>, CourtPublicKey) {
    let w = World::new(1, 1, 3, &["alice", "bob"]);
    let env = w.send(1, "alice", &["bob"], 100, b"hi");
    let court = CourtSecretKey::generate(id("c"), &mut rng(2));
    let warrant = court
        .sign(&WarrantBody {
            id: WarrantId([1; 16]),
            case_reference: "x".into(),
            court: id("c"),
            agency: id("a"),
            targets: vec![id("alice")],
            window: TimeWindow::new(1, 2).unwrap(),
            issued_at: 1,
            valid_until: 2,
            legal_basis: String::new(),
            notification_delay_secs: 0,
        })
        .unwrap();
    let share = w.shares(&env, &[0]).remove(0);
    let d = |s: &str| Domain::new(s).unwrap();
    let j = Jurisdictions::new(Rule::AllOf, [(d("uk"), Some(w.keys.public.clone())), (d("free"), None)]).unwrap();
    let residents = [Resident { key: w.user("bob").public(), home: d("free") }];
    let domain_env = DomainEnvelope::seal(
        &DomainSealRequest {
            sender: w.user("alice"),
            sender_home: &d("uk"),
            recipients: &residents,
            jurisdictions: &j,
            message_id: [3; 16],
            timestamp: 100,
            plaintext: b"hi",
        },
        &mut rng(3),
    )
    .unwrap();
    (
        vec![
            env.as_bytes().to_vec(),
            env.label().to_bytes(),
            env.field().to_bytes(),
            share.to_bytes(),
            w.keys.public.to_bytes(),
            w.keys.shares[0].to_bytes().to_vec(),
            w.user("alice").public().to_bytes(),
            w.user("alice").to_bytes().to_vec(),
            court.public().to_bytes(),
            court.to_bytes().to_vec(),
            warrant,
            domain_env.as_bytes().to_vec(),
            domain_env.message().to_bytes(),
            domain_env.fields()[0].0.to_bytes(),
        ],
        court.public(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (_, court) = samples();
        decode_all(&bytes, &court);
    }

    #[test]
    fn mutated_valid_blobs(which in 0usize..14, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let (blobs, court) = samples();
        let mut b = blobs[which].clone();
        for (at, val) in edits {
            let i = at.index(b.len());
            b[i] = val;
        }
        if truncate {
            b.truncate(cut.index(b.len() + 1));
        }
        decode_all(&b, &court);
    }
}

#[test]
fn secrets_never_reach_debug_output() {
    let w = World::new(3, 1, 3, &["alice"]);
    let share = &w.keys.shares[0];
    let raw = share.to_bytes();
    let secret_hex = hex::encode(&raw[13..]);
    let dbg = format!("{share:?} {:?} {:#?}", w.keys, w.user("alice"));
    assert!(dbg.contains("<redacted>"), "{dbg}");
    for window in secret_hex.as_bytes().chunks(8) {
        assert!(!dbg.contains(std::str::from_utf8(window).unwrap()), "secret bytes in {dbg}");
    }
}
