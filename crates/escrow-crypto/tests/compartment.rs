//! Compartmented keys: a quorum from each of two groups is needed, one group alone
//! opens nothing, bad shares are named with their group, relabeling yields nothing.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use blsttc::blstrs::{G1Affine, G1Projective, Scalar};
use blsttc::group::{Curve, Group};
use common::*;
use escrow_crypto::*;
use sha2::{Digest, Sha256};

const A: Compartment = Compartment::A;
const B: Compartment = Compartment::B;

fn keygen(seed: u64, (n_a, t_a): (u16, u16), (n_b, t_b): (u16, u16)) -> CompartmentedDealerOutput {
    compartmented_dealer_keygen(
        EpochId(1),
        [GroupSpec { name: "domestic", threshold: t_a, n: n_a }, GroupSpec { name: "foreign", threshold: t_b, n: n_b }],
        &mut rng(seed),
    )
    .unwrap()
}

/// A field sealed under the combined key with a fresh data key, and its label.
fn sealed(keys: &CompartmentedDealerOutput, seed: u64) -> (EscrowField, Label, DataKey) {
    let l = label(1, "alice", &["bob"], 1_767_225_600 + seed);
    let dk = DataKey::generate(&mut rng(seed));
    let field = EscrowField::seal(keys.public.epoch_public_key(), &l, &dk).unwrap();
    (field, l, dk)
}

fn shares(
    keys: &CompartmentedDealerOutput,
    c: Compartment,
    who: &[u16],
    field: &EscrowField,
    l: &Label,
) -> Vec<DecryptionShare> {
    who.iter()
        .map(|&i| keys.shares(c)[usize::from(i)].decrypt_share(keys.public.group_key(c), field, l).unwrap())
        .collect()
}

fn all(n: u16) -> Vec<u16> {
    (0..n).collect()
}

/// The share with its trustee index replaced (the bytes are otherwise untouched).
fn reindexed(share: &DecryptionShare, index: u16) -> DecryptionShare {
    let mut bytes = share.to_bytes();
    bytes[11..13].copy_from_slice(&index.to_be_bytes());
    DecryptionShare::from_bytes(&bytes).unwrap()
}

fn point(share: &DecryptionShare) -> G1Projective {
    G1Projective::from(G1Affine::from_compressed(share.to_bytes()[13..61].try_into().unwrap()).unwrap())
}

/// Interpolates at 0 whatever shares it is given, with no checks at all.
fn naive_interpolate(shares: &[DecryptionShare]) -> G1Projective {
    let xs: Vec<Scalar> = shares.iter().map(|s| Scalar::from(u64::from(s.trustee().0) + 1)).collect();
    let mut acc = G1Projective::identity();
    for (j, s) in shares.iter().enumerate() {
        let mut lambda = Scalar::from(1u64);
        for (m, xm) in xs.iter().enumerate() {
            if m != j {
                lambda *= xm * ff::Field::invert(&(*xm - xs[j])).unwrap();
            }
        }
        acc += point(s) * lambda;
    }
    acc
}

/// The field's data key if `shared` were `r·PK`: the mask of docs/protocol.md,
/// recomputed independently of the crate and undone on V.
fn unmask(field: &EscrowField, shared: &G1Projective) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"escrow/v1/field/mask");
    h.update(shared.to_affine().to_compressed());
    let mask: [u8; 32] = h.finalize().into();
    let v = &field.to_bytes()[3 + 48..3 + 48 + 32];
    let mut out = [0u8; 32];
    for ((o, m), x) in out.iter_mut().zip(mask).zip(v) {
        *o = m ^ x;
    }
    out
}

fn subsets(n: u16, k: usize) -> Vec<Vec<u16>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

// 4. The happy path -------------------------------------------------------------------

#[test]
fn a_quorum_of_each_group_opens_for_several_shapes() {
    // (n_A, t_A), (n_B, t_B); the first is the demo's roster: 4 domestic, 3 of them
    // needed, and 1 foreign, needed.
    for (seed, a, b) in [(1, (4, 2), (1, 0)), (2, (3, 1), (3, 1)), (3, (2, 1), (5, 2)), (4, (1, 0), (1, 0))] {
        let keys = keygen(seed, a, b);
        let (field, l, dk) = sealed(&keys, seed);
        field.verify(keys.public.epoch_public_key(), &l).unwrap();
        // Every quorum of A with every quorum of B, and each share verifies on its own.
        for who_a in subsets(a.0, usize::from(a.1) + 1) {
            for who_b in subsets(b.0, usize::from(b.1) + 1) {
                let sa = shares(&keys, A, &who_a, &field, &l);
                let sb = shares(&keys, B, &who_b, &field, &l);
                for s in &sa {
                    keys.public.verify_share(&field, &l, A, s).unwrap();
                }
                for s in &sb {
                    keys.public.verify_share(&field, &l, B, s).unwrap();
                }
                let opened = keys.public.combine(&field, &l, &sa, &sb).unwrap();
                assert_eq!(opened.data_key, dk, "shape {a:?} {b:?}, A {who_a:?}, B {who_b:?}");
                assert!(opened.culprits.is_empty());
            }
        }
        // More than a quorum is fine too.
        let opened = keys
            .public
            .combine(&field, &l, &shares(&keys, A, &all(a.0), &field, &l), &shares(&keys, B, &all(b.0), &field, &l))
            .unwrap();
        assert_eq!(opened.data_key, dk);
    }
}

#[test]
fn envelopes_seal_unchanged_under_the_combined_key() {
    let keys = keygen(10, (4, 2), (1, 0));
    let mut r = rng(11);
    let alice = UserSecretKey::generate(id("alice"), &mut r);
    let bob = UserSecretKey::generate(id("bob"), &mut r);
    let epk = keys.public.epoch_public_key();
    let env = Envelope::seal(
        &SealRequest {
            sender: &alice,
            recipients: &[bob.public()],
            epoch_key: epk,
            message_id: [3; 16],
            timestamp: 1_767_225_600,
            plaintext: b"one secret order",
        },
        &mut r,
    )
    .unwrap();
    assert_eq!(env.open(&bob, &alice.public(), epk).unwrap(), b"one secret order");
    let sa = shares(&keys, A, &[0, 1, 3], env.field(), env.label());
    let sb = shares(&keys, B, &[0], env.field(), env.label());
    let opened = keys.public.combine(env.field(), env.label(), &sa, &sb).unwrap();
    assert_eq!(env.open_with_data_key(&opened.data_key, &alice.public(), epk).unwrap(), b"one secret order");
}

// 1. One group alone opens nothing ---------------------------------------------------

#[test]
fn one_group_alone_is_refused_with_the_quorum_error() {
    // The demo's roster: all four domestic trustees, no foreign one.
    let keys = keygen(20, (4, 2), (1, 0));
    let (field, l, _) = sealed(&keys, 20);
    let sa = shares(&keys, A, &all(4), &field, &l);
    assert_eq!(
        keys.public.combine(&field, &l, &sa, &[]).unwrap_err(),
        Error::GroupNotEnoughShares { group: "foreign".into(), valid: 0, needed: 1, culprits: vec![] }
    );
    // The foreign trustee alone, or with too few domestic ones.
    let sb = shares(&keys, B, &[0], &field, &l);
    assert_eq!(
        keys.public.combine(&field, &l, &[], &sb).unwrap_err(),
        Error::GroupNotEnoughShares { group: "domestic".into(), valid: 0, needed: 3, culprits: vec![] }
    );
    assert_eq!(
        keys.public.combine(&field, &l, &sa[..2], &sb).unwrap_err(),
        Error::GroupNotEnoughShares { group: "domestic".into(), valid: 2, needed: 3, culprits: vec![] }
    );

    // 3 + 3 groups, 2 of each needed: all of A with one of B is short in B.
    let keys = keygen(21, (3, 1), (3, 1));
    let (field, l, _) = sealed(&keys, 21);
    let sa = shares(&keys, A, &all(3), &field, &l);
    let sb = shares(&keys, B, &[2], &field, &l);
    let err = keys.public.combine(&field, &l, &sa, &sb).unwrap_err();
    assert_eq!(err, Error::GroupNotEnoughShares { group: "foreign".into(), valid: 1, needed: 2, culprits: vec![] });
    assert_eq!(err.to_string(), "group \"foreign\": 1 valid decryption shares, 2 needed");
}

#[test]
fn all_of_one_group_with_a_stand_in_for_the_other_yields_no_plaintext() {
    let keys = keygen(30, (4, 2), (1, 0));
    let (field, l, dk) = sealed(&keys, 30);
    let epk = keys.public.epoch_public_key();
    let sa = shares(&keys, A, &all(4), &field, &l);

    // Through the API: a domestic share offered as the foreign trustee's, or the
    // foreign trustee's share of another field. Refused, and the stand-in is named.
    let (other_field, other_label, _) = sealed(&keys, 31);
    let other_b = shares(&keys, B, &[0], &other_field, &other_label);
    for stand_in in [reindexed(&sa[1], 0), sa[0], other_b[0]] {
        assert_eq!(
            keys.public.combine(&field, &l, &sa, &[stand_in]).unwrap_err(),
            Error::GroupNotEnoughShares {
                group: "foreign".into(),
                valid: 0,
                needed: 1,
                culprits: vec![TrusteeIndex(0)]
            }
        );
    }
    // The combined key's own (sealing-only) key set does not take group shares.
    assert!(matches!(epk.combine(&field, &l, &sa[..1]), Err(Error::NotEnoughShares { valid: 0, .. })));

    // Around the API: what all of A can compute, s_A·U (checked: it is the real
    // part), plus every stand-in at hand for s_B·U, unmasked with no checks at all.
    let s_a_u = naive_interpolate(&sa[..3]);
    assert_eq!(s_a_u, naive_interpolate(&sa[1..]), "any 3 domestic shares agree on s_A·U");
    let real_b = naive_interpolate(&shares(&keys, B, &[0], &field, &l));
    assert_eq!(unmask(&field, &(s_a_u + real_b)), *dk.expose_secret(), "the harness itself is right");
    let stand_ins = [
        G1Projective::identity(),
        s_a_u,
        point(&sa[0]),
        point(&other_b[0]),
        naive_interpolate(&shares(&keys, A, &[0, 1, 2], &other_field, &other_label)),
    ];
    for stand_in in stand_ins {
        let guess = unmask(&field, &(s_a_u + stand_in));
        assert_ne!(guess, *dk.expose_secret());
        assert_eq!(field.check_carries(epk, &l, &DataKey::from_bytes(guess)), Err(Error::FieldMismatch));
    }
    // And s_A·U on its own, as if it were the whole secret (the plain 3-of-4 reading).
    assert_ne!(unmask(&field, &s_a_u), *dk.expose_secret());
}

// 2. Bad shares are named with their group --------------------------------------------

#[test]
fn a_bad_share_of_group_b_is_named() {
    let keys = keygen(40, (3, 1), (3, 1));
    let (field, l, dk) = sealed(&keys, 40);
    let (other_field, other_label, _) = sealed(&keys, 41);
    let sa = shares(&keys, A, &[0, 2], &field, &l);
    let good_b = shares(&keys, B, &all(3), &field, &l);

    // B's trustee 1 answers for another field; then A's trustee 1 is passed off as B's.
    let for_other_field = shares(&keys, B, &[1], &other_field, &other_label)[0];
    let from_group_a = shares(&keys, A, &[1], &field, &l)[0];
    for bad in [for_other_field, from_group_a] {
        assert_eq!(bad.trustee(), TrusteeIndex(1));
        let err = keys.public.verify_share(&field, &l, B, &bad).unwrap_err();
        assert_eq!(err, Error::GroupInvalidShare { group: "foreign".into(), trustee: TrusteeIndex(1) });
        assert_eq!(err.to_string(), "decryption share from trustee 1 of group \"foreign\" is invalid");
        // Exactly a quorum with the bad one: refused, naming B and trustee 1.
        let err = keys.public.combine(&field, &l, &sa, &[good_b[0], bad]).unwrap_err();
        assert_eq!(
            err,
            Error::GroupNotEnoughShares {
                group: "foreign".into(),
                valid: 1,
                needed: 2,
                culprits: vec![TrusteeIndex(1)]
            }
        );
        assert!(err.to_string().ends_with("invalid shares from trustees 1"), "{err}");
        // With a spare good share: opened, and the culprit still named.
        let opened = keys.public.combine(&field, &l, &sa, &[good_b[0], bad, good_b[2]]).unwrap();
        assert_eq!(opened.data_key, dk);
        assert_eq!(opened.culprits, vec![(B, TrusteeIndex(1))]);
    }
    // A valid B share offered as A's is named in A (its index exists in A too).
    assert_eq!(
        keys.public.verify_share(&field, &l, A, &good_b[2]).unwrap_err(),
        Error::GroupInvalidShare { group: "domestic".into(), trustee: TrusteeIndex(2) }
    );
    // Duplicates and indices outside the group.
    assert_eq!(
        keys.public.combine(&field, &l, &sa, &[good_b[0], good_b[0]]).unwrap_err(),
        Error::GroupDuplicateShare { group: "foreign".into(), trustee: TrusteeIndex(0) }
    );
    let outside = reindexed(&good_b[0], 7);
    assert_eq!(
        keys.public.verify_share(&field, &l, B, &outside).unwrap_err(),
        Error::GroupInvalidShare { group: "foreign".into(), trustee: TrusteeIndex(7) }
    );
    assert_eq!(
        keys.public.combine(&field, &l, &sa, &[good_b[0], outside]).unwrap_err(),
        Error::GroupNotEnoughShares { group: "foreign".into(), valid: 1, needed: 2, culprits: vec![TrusteeIndex(7)] }
    );
}

#[test]
fn a_bad_share_of_group_a_is_named() {
    // The demo's roster; domestic trustee 2's share is swapped for the foreign
    // trustee's share passed off as index 2, then for its own share of another field.
    let keys = keygen(50, (4, 2), (1, 0));
    let (field, l, dk) = sealed(&keys, 50);
    let (other_field, other_label, _) = sealed(&keys, 51);
    let sb = shares(&keys, B, &[0], &field, &l);
    let good_a = shares(&keys, A, &all(4), &field, &l);
    for bad in [reindexed(&sb[0], 2), shares(&keys, A, &[2], &other_field, &other_label)[0]] {
        assert_eq!(
            keys.public.verify_share(&field, &l, A, &bad).unwrap_err(),
            Error::GroupInvalidShare { group: "domestic".into(), trustee: TrusteeIndex(2) }
        );
        assert_eq!(
            keys.public.combine(&field, &l, &[good_a[0], good_a[1], bad], &sb).unwrap_err(),
            Error::GroupNotEnoughShares {
                group: "domestic".into(),
                valid: 2,
                needed: 3,
                culprits: vec![TrusteeIndex(2)]
            }
        );
        let opened = keys.public.combine(&field, &l, &[good_a[0], good_a[1], bad, good_a[3]], &sb).unwrap();
        assert_eq!(opened.data_key, dk);
        assert_eq!(opened.culprits, vec![(A, TrusteeIndex(2))]);
    }
}

// 3. Relabeling yields nothing ---------------------------------------------------------

#[test]
fn a_relabeled_field_is_refused_with_valid_shares() {
    let keys = keygen(60, (4, 2), (1, 0));
    let (field, l, dk) = sealed(&keys, 60);
    let sa = shares(&keys, A, &[0, 1, 2], &field, &l);
    let sb = shares(&keys, B, &[0], &field, &l);
    assert_eq!(keys.public.combine(&field, &l, &sa, &sb).unwrap().data_key, dk);

    // The same field and the same (valid) shares under other labels: another
    // timestamp, another recipient list, another sender.
    let moved = [
        label(1, "alice", &["bob"], 1_767_225_601 + 60),
        label(1, "alice", &["bob", "carol"], 1_767_225_600 + 60),
        label(1, "mallory", &["bob"], 1_767_225_600 + 60),
    ];
    for l2 in &moved {
        assert_ne!(l2, &l);
        assert_eq!(keys.public.combine(&field, l2, &sa, &sb).unwrap_err(), Error::InvalidField);
        assert_eq!(keys.public.verify_share(&field, l2, A, &sa[0]).unwrap_err(), Error::InvalidField);
        assert_eq!(keys.public.verify_share(&field, l2, B, &sb[0]).unwrap_err(), Error::InvalidField);
        assert_eq!(field.verify(keys.public.epoch_public_key(), l2), Err(Error::InvalidField));
        // Trustees of either group refuse to answer for it.
        for c in [A, B] {
            assert_eq!(
                keys.shares(c)[0].decrypt_share(keys.public.group_key(c), &field, l2).unwrap_err(),
                Error::InvalidField
            );
        }
    }
    // Another epoch's label: refused before any pairing.
    let l3 = label(2, "alice", &["bob"], 1_767_225_600 + 60);
    assert_eq!(keys.public.combine(&field, &l3, &sa, &sb).unwrap_err(), Error::EpochMismatch { expected: 1, got: 2 });

    // Just as an ordinary field behaves.
    let plain = dealer_keygen(EpochId(1), 2, 5, &mut rng(61)).unwrap();
    let pf = EscrowField::seal(&plain.public, &l, &dk).unwrap();
    let ps: Vec<_> = plain.shares[..3].iter().map(|k| k.decrypt_share(&plain.public, &pf, &l).unwrap()).collect();
    assert_eq!(plain.public.combine(&pf, &moved[0], &ps).unwrap_err(), Error::InvalidField);
}

// Key generation -----------------------------------------------------------------------

#[test]
fn keygen_refuses_bad_groups_and_keeps_secrets_out_of_debug() {
    let spec = |name, threshold, n| GroupSpec { name, threshold, n };
    let mut r = rng(70);
    for groups in [
        [spec("x", 2, 4), spec("x", 0, 1)],
        [spec("", 2, 4), spec("y", 0, 1)],
        [spec("x", 4, 4), spec("y", 0, 1)],
        [spec("x", 2, 4), spec("y", 0, 0)],
        [spec("x", 2, 65), spec("y", 0, 1)],
    ] {
        assert!(
            matches!(compartmented_dealer_keygen(EpochId(1), groups, &mut r), Err(Error::InvalidInput { .. })),
            "{groups:?}"
        );
    }
    let keys = keygen(71, (4, 2), (1, 0));
    let public = &keys.public;
    assert_eq!(public.group_name(A), "domestic");
    assert_eq!(public.group_name(B), "foreign");
    assert_eq!((public.group_key(A).n(), public.group_key(A).quorum()), (4, 3));
    assert_eq!((public.group_key(B).n(), public.group_key(B).quorum()), (1, 1));
    // The sealing key is PK_A + PK_B.
    let pk = |k: &EpochPublicKey| G1Projective::from(G1Affine::from_compressed(&k.public_key_bytes()).unwrap());
    assert_eq!(
        (pk(public.group_key(A)) + pk(public.group_key(B))).to_affine().to_compressed(),
        public.epoch_public_key().public_key_bytes()
    );
    // Each share matches its group's key set.
    for c in [A, B] {
        for s in keys.shares(c) {
            s.check_against(public.group_key(c)).unwrap();
        }
    }
    let debug = format!("{keys:?}");
    assert!(debug.contains("<redacted>"));
    for c in [A, B] {
        for s in keys.shares(c) {
            assert!(!debug.contains(&hex::encode(&s.to_bytes()[13..])));
        }
    }
}
