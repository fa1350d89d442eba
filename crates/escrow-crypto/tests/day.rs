//! The second escrow mode: a message's data key encrypted to each party's day, opened
//! with a day key extracted by t+1 trustees.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use blsttc::blstrs::{G2Affine, G2Projective};
use blsttc::group::prime::PrimeCurveAffine;
use blsttc::group::Curve;
use common::*;
use escrow_crypto::*;

const DAY: u64 = 86_400;
/// Noon of day 20,000 (2024-10-04).
const NOON: u64 = 20_000 * DAY + DAY / 2;

fn day_key(w: &World, id: &DayId, who: &[usize]) -> DayKey {
    let shares: Vec<ExtractionShare> = who.iter().map(|&i| w.keys.shares[i].extract_share(id).unwrap()).collect();
    let (key, culprits) = w.keys.public.combine_day_key(id, &shares).unwrap();
    assert!(culprits.is_empty());
    key
}

fn sealed(w: &World, seed: u64, ts: u64, party: &str) -> (Label, DataKey, DayField) {
    let l = label(1, "alice", &["bob", "carol"], ts);
    let dk = DataKey::generate(&mut rng(seed));
    let f = DayField::seal(&w.keys.public, &l, &id(party), &dk).unwrap();
    (l, dk, f)
}

/// Any t+1 trustees extract the same day key, and it opens each party's field of every
/// message of that day; the recipient's re-encryption check accepts the field.
#[test]
fn any_quorum_extracts_the_day_key_and_it_opens_the_days_fields() {
    let w = World::new(31, 2, 5, &[]);
    let alice = DayId::new(EpochId(1), id("alice"), 20_000);
    assert_eq!(DayId::of(&label(1, "alice", &["bob"], NOON), &id("alice")).unwrap(), alice);
    for who in [[0, 1, 2], [2, 3, 4], [4, 0, 3]] {
        let key = day_key(&w, &alice, &who);
        for (k, ts) in [NOON - DAY / 2, NOON, NOON + DAY / 2 - 1].into_iter().enumerate() {
            let (l, dk, f) = sealed(&w, k as u64, ts, "alice");
            assert_eq!(f.open(&key, &l, &id("alice")).unwrap(), dk);
            f.check_carries(&w.keys.public, &l, &id("alice"), &dk).unwrap();
        }
    }
    // Every party of a message has its own field: bob's day key opens bob's.
    let (l, dk, f) = sealed(&w, 9, NOON, "bob");
    let bob = day_key(&w, &DayId::of(&l, &id("bob")).unwrap(), &[1, 2, 3]);
    assert_eq!(f.open(&bob, &l, &id("bob")).unwrap(), dk);
    // The key's Debug names the day, never the key.
    assert_eq!(format!("{bob:?}"), "DayKey(bob on day 20000 of epoch 1, <redacted>)");
}

/// t shares extract nothing: `combine_day_key` refuses them, and interpolating them by
/// hand gives a point that opens nothing.
#[test]
fn t_shares_do_not_extract_a_day_key() {
    let w = World::new(32, 2, 5, &[]);
    let day = DayId::new(EpochId(1), id("alice"), 20_000);
    let two: Vec<ExtractionShare> = [0, 3].iter().map(|&i| w.keys.shares[i].extract_share(&day).unwrap()).collect();
    assert_eq!(
        w.keys.public.combine_day_key(&day, &two).unwrap_err(),
        Error::NotEnoughExtractionShares { valid: 2, needed: 3, culprits: vec![] }
    );
    // By hand: Lagrange at 0 over {1, 4} (indices 0 and 3), d' = λ_0·d_0 + λ_3·d_3.
    let point = |s: &ExtractionShare| G2Affine::from_compressed(&s.to_bytes()[13..109].try_into().unwrap()).unwrap();
    let (x0, x3) = (blsttc::blstrs::Scalar::from(1u64), blsttc::blstrs::Scalar::from(4u64));
    let l0 = x3 * ff::Field::invert(&(x3 - x0)).unwrap();
    let l3 = x0 * ff::Field::invert(&(x0 - x3)).unwrap();
    let forged = (G2Projective::from(point(&two[0])) * l0 + G2Projective::from(point(&two[1])) * l3).to_affine();
    // The two alone interpolate to another point than the quorum {0, 3, 4} does.
    let third = w.keys.shares[4].extract_share(&day).unwrap();
    let x4 = blsttc::blstrs::Scalar::from(5u64);
    let lag = |xj: blsttc::blstrs::Scalar, others: [blsttc::blstrs::Scalar; 2]| {
        others
            .iter()
            .fold(blsttc::blstrs::Scalar::from(1u64), |acc, xm| acc * xm * ff::Field::invert(&(*xm - xj)).unwrap())
    };
    let real = (G2Projective::from(point(&two[0])) * lag(x0, [x3, x4])
        + G2Projective::from(point(&two[1])) * lag(x3, [x0, x4])
        + G2Projective::from(point(&third)) * lag(x4, [x0, x3]))
    .to_affine();
    assert_ne!(forged, real, "t shares interpolated to the day key");
    // Passed off as trustee 0's share, the forged point is named as invalid.
    let mut b = two[0].to_bytes();
    b[13..109].copy_from_slice(&forged.to_compressed());
    let fake = ExtractionShare::from_bytes(&b).unwrap();
    assert_eq!(
        w.keys.public.verify_extraction_share(&day, &fake),
        Err(Error::InvalidExtractionShare { trustee: TrusteeIndex(0) })
    );
}

/// A bad share is named and the key still comes from the good ones; with too few good
/// ones, the error names it; duplicates, unknown trustees and other epochs are refused.
#[test]
fn a_bad_extraction_share_is_named() {
    let w = World::new(33, 2, 5, &[]);
    let day = DayId::new(EpochId(1), id("alice"), 20_000);
    let other_day = DayId::new(EpochId(1), id("alice"), 20_001);
    let mut shares: Vec<ExtractionShare> = w.keys.shares.iter().map(|s| s.extract_share(&day).unwrap()).collect();
    // Trustee 1 answers for another day; trustee 4 for another party.
    shares[1] = w.keys.shares[1].extract_share(&other_day).unwrap();
    shares[4] = w.keys.shares[4].extract_share(&DayId::new(EpochId(1), id("bob"), 20_000)).unwrap();
    let (key, culprits) = w.keys.public.combine_day_key(&day, &shares).unwrap();
    assert_eq!(culprits, [TrusteeIndex(1), TrusteeIndex(4)]);
    let (l, dk, f) = sealed(&w, 1, NOON, "alice");
    assert_eq!(f.open(&key, &l, &id("alice")).unwrap(), dk);
    assert_eq!(
        w.keys.public.combine_day_key(&day, &shares[..3]).unwrap_err(),
        Error::NotEnoughExtractionShares { valid: 2, needed: 3, culprits: vec![TrusteeIndex(1)] }
    );
    let dup = [shares[0], shares[2], shares[0]];
    assert_eq!(
        w.keys.public.combine_day_key(&day, &dup).unwrap_err(),
        Error::DuplicateShare { trustee: TrusteeIndex(0) }
    );
    let mut b = shares[0].to_bytes();
    b[11..13].copy_from_slice(&9u16.to_be_bytes());
    let unknown = ExtractionShare::from_bytes(&b).unwrap();
    assert_eq!(
        w.keys.public.verify_extraction_share(&day, &unknown),
        Err(Error::UnknownTrustee { index: TrusteeIndex(9), n: 5 })
    );
    let epoch2 = DayId::new(EpochId(2), id("alice"), 20_000);
    assert_eq!(w.keys.shares[0].extract_share(&epoch2), Err(Error::EpochMismatch { expected: 1, got: 2 }));
    assert_eq!(
        w.keys.public.combine_day_key(&epoch2, &shares).unwrap_err(),
        Error::EpochMismatch { expected: 1, got: 2 }
    );
}

/// A day key opens its own party's fields of its own day and nothing else: not another
/// day's (even one second past midnight), not another party's, not a field moved under
/// another label, and not a field with any bit changed.
#[test]
fn moving_a_field_to_another_day_party_or_label_yields_nothing() {
    let w = World::new(34, 2, 5, &[]);
    let (l, _, f) = sealed(&w, 1, NOON, "alice");
    let alice = day_key(&w, &DayId::of(&l, &id("alice")).unwrap(), &[0, 1, 2]);
    // The next day's message: alice's day-20000 key is the wrong key.
    let (l_next, _, f_next) = sealed(&w, 2, 20_001 * DAY, "alice");
    assert!(matches!(f_next.open(&alice, &l_next, &id("alice")), Err(Error::WrongDayKey { .. })));
    // Relabelled as if sent a day later: the key does not match that day either.
    assert!(matches!(f.open(&alice, &l_next, &id("alice")), Err(Error::WrongDayKey { .. })));
    // Moved under another label of the same day: opens to nothing.
    let same_day = label(1, "alice", &["bob", "carol"], NOON + 60);
    assert_eq!(f.open(&alice, &same_day, &id("alice")), Err(Error::FieldMismatch));
    // Passed off as bob's field, with bob's day key: nothing.
    let bob = day_key(&w, &DayId::of(&l, &id("bob")).unwrap(), &[0, 1, 2]);
    assert_eq!(f.open(&bob, &l, &id("bob")), Err(Error::FieldMismatch));
    // A party the message does not involve.
    assert_eq!(f.open(&alice, &l, &id("dave")), Err(Error::NotAParty("dave".into())));
    assert_eq!(
        DayField::seal(&w.keys.public, &l, &id("dave"), &DataKey::generate(&mut rng(1))),
        Err(Error::NotAParty("dave".into()))
    );
    // Every bit of V, and U replaced by another valid point.
    let bytes = f.to_bytes();
    for bit in 0..32 * 8 {
        let mut b = bytes.clone();
        b[51 + bit / 8] ^= 1 << (bit % 8);
        let g = DayField::from_bytes(&b).unwrap();
        assert_eq!(g.open(&alice, &l, &id("alice")), Err(Error::FieldMismatch), "bit {bit} of V");
    }
    let (_, _, other) = sealed(&w, 3, NOON, "alice");
    let mut b = bytes.clone();
    b[3..51].copy_from_slice(&other.to_bytes()[3..51]);
    assert_eq!(DayField::from_bytes(&b).unwrap().open(&alice, &l, &id("alice")), Err(Error::FieldMismatch));
}

/// The recipient refuses a day field that does not carry the message's key: one for
/// another key, another label, another party, or another key set.
#[test]
fn recipients_refuse_forged_day_fields() {
    let w = World::new(35, 2, 5, &[]);
    let (l, dk, f) = sealed(&w, 1, NOON, "bob");
    let epk = &w.keys.public;
    f.check_carries(epk, &l, &id("bob"), &dk).unwrap();
    let other_key = DayField::seal(epk, &l, &id("bob"), &DataKey::generate(&mut rng(7))).unwrap();
    assert_eq!(other_key.check_carries(epk, &l, &id("bob"), &dk), Err(Error::FieldMismatch));
    let elsewhere = DayField::seal(epk, &label(1, "alice", &["bob", "carol"], NOON + 1), &id("bob"), &dk).unwrap();
    assert_eq!(elsewhere.check_carries(epk, &l, &id("bob"), &dk), Err(Error::FieldMismatch));
    let carols = DayField::seal(epk, &l, &id("carol"), &dk).unwrap();
    assert_eq!(carols.check_carries(epk, &l, &id("bob"), &dk), Err(Error::FieldMismatch));
    let w2 = World::new(36, 2, 5, &[]);
    let other_set = DayField::seal(&w2.keys.public, &l, &id("bob"), &dk).unwrap();
    assert_eq!(other_set.check_carries(epk, &l, &id("bob"), &dk), Err(Error::FieldMismatch));
    // Sealing under another epoch's key is refused.
    let l2 = label(2, "alice", &["bob"], NOON);
    assert_eq!(DayField::seal(epk, &l2, &id("bob"), &dk), Err(Error::EpochMismatch { expected: 1, got: 2 }));
    // Deterministic: the same inputs seal to the same bytes.
    assert_eq!(DayField::seal(epk, &l, &id("bob"), &dk).unwrap(), f);
}

/// Encodings: lengths, version and algorithm ids, and points outside the subgroup or
/// at infinity are refused with the blob named.
#[test]
fn day_blobs_decode_only_when_well_formed() {
    let w = World::new(37, 2, 5, &[]);
    let (_, _, f) = sealed(&w, 1, NOON, "alice");
    let share = w.keys.shares[0].extract_share(&DayId::new(EpochId(1), id("alice"), 1)).unwrap();
    let (fb, sb) = (f.to_bytes(), share.to_bytes());
    assert_eq!((fb.len(), sb.len()), (83, 109));
    assert_eq!(DayField::from_bytes(&fb).unwrap(), f);
    assert_eq!(ExtractionShare::from_bytes(&sb).unwrap(), share);
    let named = |e: Error, what: &str| assert!(e.to_string().starts_with(&format!("malformed {what}")), "{e}");
    named(DayField::from_bytes(&fb[..82]).unwrap_err(), "day field");
    named(DayField::from_bytes(&[fb.clone(), vec![0]].concat()).unwrap_err(), "day field");
    named(DayField::from_bytes(&sb).unwrap_err(), "day field");
    named(ExtractionShare::from_bytes(&fb).unwrap_err(), "extraction share");
    let mut b = fb.clone();
    b[3..51].copy_from_slice(&blsttc::blstrs::G1Affine::identity().to_compressed());
    named(DayField::from_bytes(&b).unwrap_err(), "day field");
    let mut b = sb.clone();
    b[13..109].copy_from_slice(&G2Affine::identity().to_compressed());
    named(ExtractionShare::from_bytes(&b).unwrap_err(), "extraction share");
    let mut b = sb.clone();
    b[11..13].copy_from_slice(&64u16.to_be_bytes());
    named(ExtractionShare::from_bytes(&b).unwrap_err(), "extraction share");
    let mut b = sb.clone();
    b[0] = 2;
    named(ExtractionShare::from_bytes(&b).unwrap_err(), "extraction share");
    assert_eq!(day_of(20_000 * DAY - 1), 19_999);
    assert_eq!(day_of(20_000 * DAY), 20_000);
    assert_eq!(day_of(u64::MAX), u32::MAX);
}

/// A message sealed in both modes, alice to bob and carol, by `seal`.
fn sealed_as(w: &World, seed: u64, ts: u64, seal: impl FnOnce(&SealRequest<'_>) -> Envelope) -> Envelope {
    let recipients: Vec<UserPublicKey> = ["bob", "carol"].iter().map(|r| w.user(r).public()).collect();
    let req = SealRequest {
        sender: w.user("alice"),
        recipients: &recipients,
        epoch_key: &w.keys.public,
        message_id: [seed as u8; 16],
        timestamp: ts,
        plaintext: b"both modes",
    };
    seal(&req)
}

/// [`sealed_as`] with an honest day field per party.
fn both_modes(w: &World, seed: u64, ts: u64) -> Envelope {
    sealed_as(w, seed, ts, |req| Envelope::seal_with_days(req, &mut rng(seed)).unwrap())
}

/// An envelope of both modes carries one day field per party, in label order, inside
/// the signed header: the recipients open it (checking every day field), each party's
/// day key opens it without any trustee asked about the message, and the per-message
/// field still works as before.
#[test]
fn an_envelope_of_both_modes_opens_with_each_partys_day_key() {
    let w = World::new(33, 2, 5, &["alice", "bob", "carol", "dave"]);
    let env = both_modes(&w, 1, NOON);
    let plain = w.send(1, "alice", &["bob", "carol"], NOON, b"both modes");
    assert!(env.has_day_fields() && !plain.has_day_fields());
    assert_eq!(env.as_bytes().len(), plain.as_bytes().len() + 3 * 80, "80 bytes per party");
    assert_eq!(Envelope::from_bytes(env.as_bytes()).unwrap(), env);
    assert_eq!(u16::from_be_bytes([env.as_bytes()[1], env.as_bytes()[2]]), 0x0016);
    let alice = w.user("alice").public();
    for r in ["bob", "carol"] {
        assert_eq!(env.open(w.user(r), &alice, &w.keys.public).unwrap(), b"both modes");
    }
    for party in ["alice", "bob", "carol"] {
        let key = day_key(&w, &DayId::of(env.label(), &id(party)).unwrap(), &[0, 2, 4]);
        assert_eq!(env.open_with_day_key(&key, &id(party), &alice).unwrap(), b"both modes", "{party}");
        // A party's key opens only that party's field.
        let other = if party == "bob" { "carol" } else { "bob" };
        assert!(matches!(env.open_with_day_key(&key, &id(other), &alice), Err(Error::WrongDayKey { .. })));
    }
    let key = day_key(&w, &DayId::of(env.label(), &id("bob")).unwrap(), &[0, 1, 2]);
    assert_eq!(env.open_with_day_key(&key, &id("dave"), &alice), Err(Error::NotAParty("dave".into())));
    assert_eq!(plain.open_with_day_key(&key, &id("bob"), &alice), Err(Error::NotAParty("bob".into())));
    // The next day's key does not open today's message.
    let tomorrow = day_key(&w, &DayId::new(EpochId(1), id("bob"), day_of(NOON) + 1), &[0, 1, 2]);
    assert!(matches!(env.open_with_day_key(&tomorrow, &id("bob"), &alice), Err(Error::WrongDayKey { .. })));
}

/// A sender who hides another key in one party's day field (so that party's day key
/// would open nothing, or something else) is caught by every recipient's
/// re-encryption check; the relay cannot tell, as no public check exists. Forging
/// needs the `dangerous` API, which `cargo test --workspace` has on.
#[cfg(feature = "dangerous")]
#[test]
fn recipients_refuse_an_envelope_with_a_forged_day_field() {
    let w = World::new(34, 2, 5, &["alice", "bob", "carol"]);
    let alice = w.user("alice").public();
    let other_key = DataKey::from_bytes([7; 32]);
    let bob = id("bob");
    let lies: [(&str, &MakeDayField<'_>); 3] = [
        ("carol's field under another key", &|epk, l, p, dk| {
            DayField::seal(epk, l, p, if p.as_str() == "carol" { &other_key } else { dk })
        }),
        ("bob's field in carol's place", &|epk, l, p, dk| {
            DayField::seal(epk, l, if p.as_str() == "carol" { &bob } else { p }, dk)
        }),
        ("alice's field of another message", &|epk, l, p, dk| {
            let elsewhere = label(1, "alice", &["bob", "carol"], l.timestamp() + 1);
            if p.as_str() == "alice" {
                DayField::seal(epk, &elsewhere, p, dk)
            } else {
                DayField::seal(epk, l, p, dk)
            }
        }),
    ];
    for (what, lie) in lies {
        let env =
            sealed_as(&w, 2, NOON, |req| Envelope::seal_dangerous_with_day_fields(req, &mut rng(2), lie).unwrap());
        assert_eq!(Envelope::from_bytes(env.as_bytes()).unwrap(), env, "{what}: it decodes");
        for r in ["bob", "carol"] {
            assert_eq!(env.open(w.user(r), &alice, &w.keys.public), Err(Error::FieldMismatch), "{what}: {r}");
        }
    }
    // The honest one opens (control).
    let env = both_modes(&w, 2, NOON);
    assert!(env.open(w.user("carol"), &alice, &w.keys.public).is_ok());
}

/// The day section is part of the framing: a truncated or missing section, or day
/// fields under the plain envelope's alg id, does not decode.
#[test]
fn a_malformed_day_section_does_not_decode() {
    let w = World::new(35, 2, 5, &["alice", "bob", "carol"]);
    let env = both_modes(&w, 3, NOON);
    let bytes = env.as_bytes();
    let mut as_plain = bytes.to_vec();
    as_plain[1..3].copy_from_slice(&0x0006u16.to_be_bytes());
    assert!(Envelope::from_bytes(&as_plain).is_err(), "day fields read as the body length");
    let plain = w.send(3, "alice", &["bob", "carol"], NOON, b"both modes");
    let mut as_days = plain.as_bytes().to_vec();
    as_days[1..3].copy_from_slice(&0x0016u16.to_be_bytes());
    assert!(Envelope::from_bytes(&as_days).is_err(), "no day section");
    assert!(Envelope::from_bytes(&bytes[..bytes.len() - 1]).is_err());
}
