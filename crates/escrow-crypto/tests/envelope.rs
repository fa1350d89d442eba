//! Envelopes: round trips, tampering, rogue escrow fields, invalid P-256 points.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use escrow_crypto::envelope::MAX_PLAINTEXT_LEN;
use escrow_crypto::*;

const USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];

#[test]
fn round_trip_for_one_to_five_recipients() {
    let w = World::new(1, 2, 5, &USERS);
    for k in 1..=5 {
        let to = &USERS[1..=k];
        let msg = format!("hello to {k} recipients");
        let env = w.send(k as u64, "alice", to, 1_700_000_000, msg.as_bytes());
        let back = Envelope::from_bytes(env.as_bytes()).unwrap();
        assert_eq!(back, env);
        for r in to {
            let pt = back.open(w.user(r), &w.user("alice").public(), &w.keys.public).unwrap();
            assert_eq!(pt, msg.as_bytes());
        }
        // Someone not addressed cannot open it.
        if k < 5 {
            let outsider = USERS[k + 1];
            assert_eq!(
                back.open(w.user(outsider), &w.user("alice").public(), &w.keys.public),
                Err(Error::NotARecipient(outsider.into()))
            );
        }
        // A quorum opens it too, and nothing less.
        let shares = w.shares(&env, &[0, 3, 4]);
        let opened = w.keys.public.combine(env.field(), env.label(), &shares).unwrap();
        assert_eq!(
            env.open_with_data_key(&opened.data_key, &w.user("alice").public(), &w.keys.public).unwrap(),
            msg.as_bytes()
        );
    }
}

#[test]
fn empty_and_maximum_plaintexts() {
    let w = World::new(2, 1, 3, &USERS);
    let env = w.send(1, "alice", &["bob"], 5, b"");
    assert_eq!(env.open(w.user("bob"), &w.user("alice").public(), &w.keys.public).unwrap(), b"");
    let big = vec![0x5au8; MAX_PLAINTEXT_LEN];
    let env = w.send(2, "alice", &["bob"], 5, &big);
    assert_eq!(env.open(w.user("bob"), &w.user("alice").public(), &w.keys.public).unwrap(), big);
    let too_big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    let bob = w.user("bob").public();
    let req = SealRequest {
        sender: w.user("alice"),
        recipients: std::slice::from_ref(&bob),
        epoch_key: &w.keys.public,
        message_id: [1; 16],
        timestamp: 5,
        plaintext: &too_big,
    };
    assert!(matches!(Envelope::seal(&req, &mut rng(1)), Err(Error::InvalidInput { what: "plaintext", .. })));
}

/// Offsets of the parts of an encoded envelope, recomputed from the format.
struct Layout {
    label: std::ops::Range<usize>,
    field: std::ops::Range<usize>,
    ephemeral: std::ops::Range<usize>,
    wrapped: Vec<std::ops::Range<usize>>,
    body: std::ops::Range<usize>,
    signature: std::ops::Range<usize>,
}

fn layout(env: &Envelope) -> Layout {
    let b = env.as_bytes();
    let label_len = u16::from_be_bytes([b[3], b[4]]) as usize;
    let label = 5..5 + label_len;
    let field = label.end..label.end + 176;
    let ephemeral = field.end..field.end + 33;
    let mut pos = ephemeral.end + 1;
    let mut wrapped = Vec::new();
    for _ in 0..b[ephemeral.end] {
        let id_len = b[pos] as usize;
        pos += 1 + id_len;
        wrapped.push(pos..pos + 48);
        pos += 48;
    }
    let body_len = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
    let body = pos + 4..pos + 4 + body_len;
    let signature = body.end..body.end + 64;
    assert_eq!(signature.end, b.len());
    Layout { label, field, ephemeral, wrapped, body, signature }
}

#[test]
fn any_tampering_fails_to_open() {
    let w = World::new(3, 1, 3, &USERS);
    let env = w.send(3, "alice", &["bob", "carol"], 1_700_000_000, b"meet at noon");
    let lay = layout(&env);
    let alice = w.user("alice").public();
    let parts = [
        ("label", lay.label.clone()),
        ("field", lay.field.clone()),
        ("ephemeral", lay.ephemeral.clone()),
        ("wrapped key", lay.wrapped[0].clone()),
        ("body", lay.body.clone()),
        ("signature", lay.signature.clone()),
    ];
    for (name, range) in parts {
        for pos in [range.start, range.start + range.len() / 2, range.end - 1] {
            let mut b = env.as_bytes().to_vec();
            b[pos] ^= 0x04;
            let result = Envelope::from_bytes(&b).and_then(|e| e.open(w.user("bob"), &alice, &w.keys.public));
            assert!(result.is_err(), "{name} byte {pos} changed, still opened");
        }
    }
}

#[test]
fn a_recipient_cannot_swap_the_body_without_the_sender() {
    // Bob knows DK, so he can re-encrypt another body under the same header; the
    // signature covers the body, so Carol still refuses it.
    let w = World::new(4, 1, 3, &USERS);
    let env = w.send(4, "alice", &["bob", "carol"], 10, b"original");
    let lay = layout(&env);
    let mut b = env.as_bytes().to_vec();
    let body_len = lay.body.len();
    b[lay.body.clone()].copy_from_slice(&vec![0u8; body_len]);
    let e = Envelope::from_bytes(&b).unwrap();
    assert_eq!(
        e.open(w.user("carol"), &w.user("alice").public(), &w.keys.public),
        Err(Error::BadSignature { what: "envelope sender" })
    );
}

#[test]
fn wrong_sender_key_is_refused() {
    let w = World::new(5, 1, 3, &USERS);
    let env = w.send(5, "alice", &["bob"], 10, b"x");
    assert!(matches!(
        env.open(w.user("bob"), &w.user("carol").public(), &w.keys.public),
        Err(Error::PartyMismatch { what: "sender", .. })
    ));
    // Same id, other key (an impostor registered as alice).
    let impostor = UserSecretKey::generate(id("alice"), &mut rng(77)).public();
    assert_eq!(
        env.open(w.user("bob"), &impostor, &w.keys.public),
        Err(Error::BadSignature { what: "envelope sender" })
    );
}

// Forging needs the `dangerous` API; `cargo test --workspace` has it on (the CLI's demo
// enables it), so this runs in CI.
#[cfg(feature = "dangerous")]
#[test]
fn rogue_field_is_refused_by_honest_recipients() {
    let w = World::new(6, 2, 5, &USERS);
    let bob = w.user("bob").public();
    let alice = w.user("alice");
    let req = SealRequest {
        sender: alice,
        recipients: std::slice::from_ref(&bob),
        epoch_key: &w.keys.public,
        message_id: [6; 16],
        timestamp: 1_700_000_000,
        plaintext: b"you will never read this",
    };
    type Forge = fn(&EpochPublicKey, &Label, &DataKey) -> Result<EscrowField, Error>;
    let forgeries: [(&str, Forge); 3] = [
        ("random key", |epk, l, _| EscrowField::seal(epk, l, &DataKey::generate(&mut rng(1)))),
        ("other label", |epk, l, dk| {
            let other = Label::new(l.epoch(), [0; 16], l.sender().clone(), l.recipients().iter().cloned(), 0)?;
            EscrowField::seal(epk, &other, dk)
        }),
        ("other trustees", |_, l, dk| {
            let rogue = dealer_keygen(l.epoch(), 0, 1, &mut rng(2))?;
            EscrowField::seal(&rogue.public, l, dk)
        }),
    ];
    for (name, forge) in forgeries {
        let env = Envelope::seal_dangerous_with_field(&req, &mut rng(3), forge).unwrap();
        assert_eq!(env.open(w.user("bob"), &alice.public(), &w.keys.public), Err(Error::FieldMismatch), "{name}");
    }
}

#[test]
fn invalid_p256_points_are_refused() {
    let w = World::new(7, 1, 3, &USERS);
    let env = w.send(7, "alice", &["bob"], 10, b"x");
    let lay = layout(&env);
    // x = 1 is not on P-256 (1 - 3 + b is not a square mod p); x = 0xff..ff is >= p;
    // prefix 0x05 is SEC1's "compact" form, which we refuse so each key has one encoding.
    let mut x1 = [0u8; 33];
    x1[32] = 1;
    let mut big = [0xffu8; 33];
    big[0] = 0x02;
    let mut bad_prefix = env.as_bytes()[lay.ephemeral.clone()].to_vec();
    bad_prefix[0] = 0x05;
    for bad in [x1, big, bad_prefix.try_into().unwrap()] {
        let mut pt = bad;
        if pt[0] == 0 {
            pt[0] = 0x02;
        }
        let mut b = env.as_bytes().to_vec();
        b[lay.ephemeral.clone()].copy_from_slice(&pt);
        assert!(matches!(
            Envelope::from_bytes(&b),
            Err(Error::Decode { reason: DecodeError::InvalidPoint("ephemeral key"), .. })
        ));
    }
    let pk = w.user("bob").public().to_bytes();
    let mut b = pk.clone();
    let n = b.len();
    b[n - 33..].copy_from_slice(&[0x04; 33]);
    assert!(matches!(UserPublicKey::from_bytes(&b), Err(Error::Decode { reason: DecodeError::InvalidPoint(_), .. })));
    assert_eq!(UserPublicKey::from_bytes(&pk).unwrap(), w.user("bob").public());
}

#[test]
fn user_keys_round_trip_and_secrets_stay_out_of_debug() {
    let sk = UserSecretKey::generate(id("alice"), &mut rng(8));
    let bytes = sk.to_bytes();
    let back = UserSecretKey::from_bytes(&bytes).unwrap();
    assert_eq!(back.public(), sk.public());
    let dbg = format!("{sk:?}");
    assert!(dbg.contains("<redacted>"));
    let secret_hex = hex::encode(&bytes[3 + 6..3 + 6 + 32]);
    assert!(!dbg.contains(&secret_hex[..8]));
    assert!(!format!("{:?}", DataKey::from_bytes([0xab; 32])).contains("ab"));
}
