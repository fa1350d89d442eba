//! The labeled threshold escrow field: validity, binding to the label, the
//! recipient's re-encryption check, shares, and quorum combination.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use blsttc::blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use blsttc::group::{Curve, Group};
use common::*;
use escrow_crypto::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn subsets(n: u16, k: usize) -> Vec<Vec<u16>> {
    let mut out = Vec::new();
    for mask in 0u32..(1 << n) {
        if mask.count_ones() as usize == k {
            out.push((0..n).filter(|i| mask & (1 << i) != 0).collect());
        }
    }
    out
}

/// The mask of docs/protocol.md, recomputed independently of the crate.
fn mask(point: &G1Affine) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"escrow/v1/field/mask");
    h.update(point.to_compressed());
    h.finalize().into()
}

/// Interpolates at 0 whatever shares it is given, with no quorum check: what t
/// colluders could compute on their own.
fn naive_interpolate(shares: &[DecryptionShare], field: &EscrowField) -> [u8; 32] {
    let xs: Vec<Scalar> = shares.iter().map(|s| Scalar::from(u64::from(s.trustee().0) + 1)).collect();
    let mut acc = G1Projective::identity();
    for (j, s) in shares.iter().enumerate() {
        let point = G1Affine::from_compressed(s.to_bytes()[13..61].try_into().unwrap()).unwrap();
        let mut lambda = Scalar::from(1u64);
        for (m, xm) in xs.iter().enumerate() {
            if m != j {
                lambda *= xm * ff::Field::invert(&(*xm - xs[j])).unwrap();
            }
        }
        acc += G1Projective::from(point) * lambda;
    }
    let v: [u8; 32] = field.to_bytes()[3 + 48..3 + 80].try_into().unwrap();
    let m = mask(&acc.to_affine());
    std::array::from_fn(|i| v[i] ^ m[i])
}

fn sealed(w: &World, seed: u64) -> (Label, DataKey, EscrowField) {
    let l = label(1, "alice", &["bob", "carol"], 1_700_000_000 + seed);
    let dk = DataKey::generate(&mut rng(seed));
    let f = EscrowField::seal(&w.keys.public, &l, &dk).unwrap();
    (l, dk, f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]

    /// For random (t, n), n <= 10: every (t+1)-subset opens; every t-subset is refused
    /// by `combine`, and even interpolated by hand yields a wrong key.
    #[test]
    fn every_quorum_opens_and_no_smaller_set_does(n in 1u16..=10, t_frac in 0.0f64..1.0, seed in any::<u64>()) {
        let t = ((f64::from(n) * t_frac) as u16).min(n - 1);
        let w = World::new(seed, t, n, &[]);
        let (l, dk, f) = sealed(&w, seed);
        let all: Vec<DecryptionShare> = w.keys.shares.iter().map(|s| s.decrypt_share(&w.keys.public, &f, &l).unwrap()).collect();
        for subset in subsets(n, usize::from(t) + 1) {
            let shares: Vec<DecryptionShare> = subset.iter().map(|&i| all[usize::from(i)]).collect();
            let opened = w.keys.public.combine(&f, &l, &shares).unwrap();
            prop_assert_eq!(&opened.data_key, &dk);
            prop_assert!(opened.culprits.is_empty());
        }
        if t > 0 {
            for subset in subsets(n, usize::from(t)) {
                let shares: Vec<DecryptionShare> = subset.iter().map(|&i| all[usize::from(i)]).collect();
                let err = w.keys.public.combine(&f, &l, &shares).unwrap_err();
                prop_assert_eq!(err, Error::NotEnoughShares { valid: usize::from(t), needed: usize::from(t) + 1, culprits: vec![] });
                prop_assert_ne!(&naive_interpolate(&shares, &f), dk.expose_secret());
            }
        }
    }
}

#[test]
fn interpolating_a_quorum_by_hand_matches_the_spec() {
    // Cross-checks the crate's combination against the formulas in docs/protocol.md.
    let w = World::new(3, 2, 5, &[]);
    let (l, dk, f) = sealed(&w, 3);
    let shares: Vec<DecryptionShare> = [4u16, 0, 2]
        .iter()
        .map(|&i| w.keys.shares[usize::from(i)].decrypt_share(&w.keys.public, &f, &l).unwrap())
        .collect();
    assert_eq!(&naive_interpolate(&shares, &f), dk.expose_secret());
}

#[test]
fn every_byte_of_the_field_is_bound() {
    let w = World::new(1, 1, 3, &[]);
    let (l, _, f) = sealed(&w, 1);
    f.verify(&w.keys.public, &l).unwrap();
    let bytes = f.to_bytes();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            match EscrowField::from_bytes(&b) {
                Err(Error::Decode { .. }) => {}
                Ok(g) => assert_eq!(g.verify(&w.keys.public, &l), Err(Error::InvalidField), "byte {i} flip {flip:#x}"),
                Err(e) => panic!("byte {i}: unexpected {e}"),
            }
        }
    }
}

#[test]
fn every_byte_of_the_label_is_bound() {
    let w = World::new(2, 1, 3, &[]);
    let (l, _, f) = sealed(&w, 2);
    let bytes = l.to_bytes();
    let mut decoded_and_refused = 0;
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        match Label::from_bytes(&b) {
            Err(Error::Decode { .. }) => {}
            Ok(m) => {
                let err = f.verify(&w.keys.public, &m).unwrap_err();
                assert!(matches!(err, Error::InvalidField | Error::EpochMismatch { .. }), "byte {i}: {err}");
                decoded_and_refused += 1;
            }
            Err(e) => panic!("byte {i}: unexpected {e}"),
        }
    }
    assert!(decoded_and_refused > bytes.len() / 2, "most single-bit changes still decode: {decoded_and_refused}");
}

#[test]
fn relabeling_is_refused_by_the_validity_check() {
    let w = World::new(4, 2, 5, &[]);
    let (l, _, f) = sealed(&w, 4);
    let others = [
        label(1, "alice", &["bob", "carol"], l.timestamp() + 1),
        label(1, "mallory", &["bob", "carol"], l.timestamp()),
        label(1, "alice", &["bob"], l.timestamp()),
        label(1, "alice", &["bob", "carol", "dave"], l.timestamp()),
        Label::new(EpochId(1), [8u8; 16], id("alice"), [id("bob"), id("carol")], l.timestamp()).unwrap(),
    ];
    for other in &others {
        assert_eq!(f.verify(&w.keys.public, other), Err(Error::InvalidField), "{other:?}");
        assert_eq!(w.keys.shares[0].decrypt_share(&w.keys.public, &f, other), Err(Error::InvalidField));
    }
    let other_epoch = label(2, "alice", &["bob", "carol"], l.timestamp());
    assert_eq!(f.verify(&w.keys.public, &other_epoch), Err(Error::EpochMismatch { expected: 1, got: 2 }));
}

#[test]
fn recipient_refuses_fields_with_another_key_or_label_blaze_1994() {
    let w = World::new(5, 2, 5, &[]);
    let (l, dk, f) = sealed(&w, 5);
    f.check_carries(&w.keys.public, &l, &dk).unwrap();
    // A field for another data key: valid (anyone can check it), but not this message's.
    let other_dk = DataKey::generate(&mut rng(99));
    let f2 = EscrowField::seal(&w.keys.public, &l, &other_dk).unwrap();
    f2.verify(&w.keys.public, &l).unwrap();
    assert_eq!(f2.check_carries(&w.keys.public, &l, &dk), Err(Error::FieldMismatch));
    // A field for the real key under another label (e.g. outside any warrant's window).
    let l2 = label(1, "alice", &["bob", "carol"], 1);
    let f3 = EscrowField::seal(&w.keys.public, &l2, &dk).unwrap();
    assert_eq!(f3.check_carries(&w.keys.public, &l, &dk), Err(Error::FieldMismatch));
    // A field under another trustee key set.
    let w2 = World::new(6, 2, 5, &[]);
    let f4 = EscrowField::seal(&w2.keys.public, &l, &dk).unwrap();
    assert_eq!(f4.check_carries(&w.keys.public, &l, &dk), Err(Error::FieldMismatch));
    assert_eq!(f4.verify(&w.keys.public, &l), Ok(()), "validity alone cannot tell key sets apart for W; shares can");
}

#[test]
fn bad_shares_are_refused_and_their_trustee_named() {
    let w = World::new(7, 2, 5, &[]);
    let (l, dk, f) = sealed(&w, 7);
    let (l_other, _, f_other) = sealed(&w, 8);
    let mut shares: Vec<DecryptionShare> =
        w.keys.shares.iter().map(|s| s.decrypt_share(&w.keys.public, &f, &l).unwrap()).collect();
    // Trustee 1 answers for another field; trustee 3 sends a random point.
    shares[1] = w.keys.shares[1].decrypt_share(&w.keys.public, &f_other, &l_other).unwrap();
    let mut forged = shares[3].to_bytes();
    let random_point = (G1Projective::from(G1Affine::from_compressed(&forged[13..61].try_into().unwrap()).unwrap())
        * Scalar::from(7u64))
    .to_affine();
    forged[13..61].copy_from_slice(&random_point.to_compressed());
    shares[3] = DecryptionShare::from_bytes(&forged).unwrap();

    assert_eq!(w.keys.public.verify_share(&f, &l, &shares[1]), Err(Error::InvalidShare { trustee: TrusteeIndex(1) }));
    assert_eq!(w.keys.public.verify_share(&f, &l, &shares[3]), Err(Error::InvalidShare { trustee: TrusteeIndex(3) }));
    w.keys.public.verify_share(&f, &l, &shares[0]).unwrap();

    let opened = w.keys.public.combine(&f, &l, &shares).unwrap();
    assert_eq!(opened.data_key, dk);
    assert_eq!(opened.culprits, vec![TrusteeIndex(1), TrusteeIndex(3)]);

    let err = w.keys.public.combine(&f, &l, &shares[..4]).unwrap_err();
    assert_eq!(err, Error::NotEnoughShares { valid: 2, needed: 3, culprits: vec![TrusteeIndex(1), TrusteeIndex(3)] });
    assert!(err.to_string().contains("invalid shares from trustees 1, 3"), "{err}");

    let dup = [shares[0], shares[0], shares[2]];
    assert_eq!(w.keys.public.combine(&f, &l, &dup).unwrap_err(), Error::DuplicateShare { trustee: TrusteeIndex(0) });
}

#[test]
fn shares_from_unknown_trustees_or_other_epochs_are_refused() {
    let w = World::new(9, 1, 3, &[]);
    let (l, _, f) = sealed(&w, 9);
    let good = w.keys.shares[0].decrypt_share(&w.keys.public, &f, &l).unwrap();
    let mut b = good.to_bytes();
    b[11..13].copy_from_slice(&7u16.to_be_bytes());
    let unknown = DecryptionShare::from_bytes(&b).unwrap();
    assert_eq!(
        w.keys.public.verify_share(&f, &l, &unknown),
        Err(Error::UnknownTrustee { index: TrusteeIndex(7), n: 3 })
    );
    let mut b = good.to_bytes();
    b[11..13].copy_from_slice(&64u16.to_be_bytes());
    assert!(matches!(
        DecryptionShare::from_bytes(&b),
        Err(Error::Decode { reason: DecodeError::InvalidValue { field: "trustee index", .. }, .. })
    ));
    let mut b = good.to_bytes();
    b[3..11].copy_from_slice(&2u64.to_be_bytes());
    let other_epoch = DecryptionShare::from_bytes(&b).unwrap();
    assert_eq!(w.keys.public.verify_share(&f, &l, &other_epoch), Err(Error::EpochMismatch { expected: 1, got: 2 }));
}

/// Finds an on-curve G1 point outside the prime-order subgroup (almost every on-curve
/// point is: the cofactor is ~2^125).
fn g1_outside_subgroup() -> [u8; 48] {
    for x in 1u8..=255 {
        let mut b = [0u8; 48];
        b[0] = 0x80;
        b[47] = x;
        let on_curve = Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&b));
        if let Some(p) = on_curve {
            assert!(bool::from(p.is_on_curve()));
            if Option::<G1Affine>::from(G1Affine::from_compressed(&b)).is_none() {
                return b;
            }
        }
    }
    unreachable!("some small x gives a non-subgroup point")
}

fn g2_outside_subgroup() -> [u8; 96] {
    for x in 1u8..=255 {
        let mut b = [0u8; 96];
        b[0] = 0x80;
        b[95] = x;
        if Option::<G2Affine>::from(G2Affine::from_compressed_unchecked(&b)).is_some()
            && Option::<G2Affine>::from(G2Affine::from_compressed(&b)).is_none()
        {
            return b;
        }
    }
    unreachable!("some small x gives a non-subgroup point")
}

#[test]
fn points_outside_the_subgroup_or_off_the_curve_are_refused() {
    let w = World::new(10, 1, 3, &[]);
    let (l, _, f) = sealed(&w, 10);
    let bytes = f.to_bytes();
    let bad_g1 = g1_outside_subgroup();
    let bad_g2 = g2_outside_subgroup();

    let mut b = bytes.clone();
    b[3..51].copy_from_slice(&bad_g1);
    assert_eq!(
        EscrowField::from_bytes(&b).unwrap_err(),
        Error::Decode { kind: wire::Alg::EscrowField, reason: DecodeError::InvalidPoint("U") }
    );
    let mut b = bytes.clone();
    b[83..179].copy_from_slice(&bad_g2);
    assert_eq!(
        EscrowField::from_bytes(&b).unwrap_err(),
        Error::Decode { kind: wire::Alg::EscrowField, reason: DecodeError::InvalidPoint("W") }
    );
    // Not on the curve at all / not a compressed encoding / the identity.
    for junk in [[0xffu8; 48], [0u8; 48]] {
        let mut b = bytes.clone();
        b[3..51].copy_from_slice(&junk);
        assert!(matches!(EscrowField::from_bytes(&b), Err(Error::Decode { reason: DecodeError::InvalidPoint(_), .. })));
    }
    let mut identity = [0u8; 48];
    identity[0] = 0xc0;
    let mut b = bytes.clone();
    b[3..51].copy_from_slice(&identity);
    assert_eq!(
        EscrowField::from_bytes(&b).unwrap_err(),
        Error::Decode { kind: wire::Alg::EscrowField, reason: DecodeError::InvalidPoint("U (identity)") }
    );

    let share = w.keys.shares[0].decrypt_share(&w.keys.public, &f, &l).unwrap();
    let mut s = share.to_bytes();
    s[13..61].copy_from_slice(&bad_g1);
    assert!(matches!(
        DecryptionShare::from_bytes(&s),
        Err(Error::Decode { reason: DecodeError::InvalidPoint("S"), .. })
    ));

    let mut k = w.keys.public.to_bytes();
    k[15..63].copy_from_slice(&bad_g1);
    assert!(matches!(
        EpochPublicKey::from_bytes(&k),
        Err(Error::Decode { reason: DecodeError::InvalidPoint("commitment coefficient"), .. })
    ));
}

#[test]
fn epoch_keys_round_trip_and_refuse_degenerate_sets() {
    let w = World::new(11, 2, 5, &[]);
    let bytes = w.keys.public.to_bytes();
    assert_eq!(bytes.len(), 3 + 8 + 2 + 2 + 3 * 48);
    let back = EpochPublicKey::from_bytes(&bytes).unwrap();
    assert_eq!(back, w.keys.public);
    for s in &w.keys.shares {
        s.check_against(&back).unwrap();
        let again = TrusteeKeyShare::from_bytes(&s.to_bytes()).unwrap();
        again.check_against(&back).unwrap();
    }
    // A share checked against another trustee's slot is refused.
    let mut b = w.keys.shares[0].to_bytes().to_vec();
    b[11..13].copy_from_slice(&1u16.to_be_bytes());
    assert!(TrusteeKeyShare::from_bytes(&b).unwrap().check_against(&back).is_err());
    // Threshold must be below n; n at most 64; the top coefficient cannot be the identity.
    let mut b = bytes.clone();
    b[13..15].copy_from_slice(&5u16.to_be_bytes());
    assert!(EpochPublicKey::from_bytes(&b).is_err());
    let mut b = bytes.clone();
    b[11..13].copy_from_slice(&65u16.to_be_bytes());
    assert!(EpochPublicKey::from_bytes(&b).is_err());
    let mut b = bytes.clone();
    let last = b.len() - 48;
    b[last..].copy_from_slice(&[0xc0].iter().chain([0u8; 47].iter()).copied().collect::<Vec<_>>());
    assert!(EpochPublicKey::from_bytes(&b).is_err());
    // Zero and non-canonical secret scalars.
    let mut b = w.keys.shares[0].to_bytes().to_vec();
    b[13..].copy_from_slice(&[0u8; 32]);
    assert!(TrusteeKeyShare::from_bytes(&b).is_err());
    b[13..].copy_from_slice(&[0xffu8; 32]);
    assert!(TrusteeKeyShare::from_bytes(&b).is_err());
    assert!(dealer_keygen(EpochId(1), 3, 3, &mut rng(1)).is_err());
    assert!(dealer_keygen(EpochId(1), 0, 65, &mut rng(1)).is_err());
}

/// `field` with `delta` added to its W (the bytes after header, U and V).
fn shift_w(field: &EscrowField, delta: G2Projective) -> EscrowField {
    let mut b = field.to_bytes();
    let w = G2Affine::from_compressed(b[83..179].try_into().unwrap()).unwrap();
    b[83..179].copy_from_slice(&(G2Projective::from(w) + delta).to_affine().to_compressed());
    EscrowField::from_bytes(&b).unwrap()
}

fn check(w: &World, f: &EscrowField, l: &Label) -> FieldCheck {
    f.pending_check(&w.keys.public, l).unwrap()
}

#[test]
fn batched_field_checks_agree_with_single_checks_and_name_the_bad_fields() {
    let w = World::new(9, 2, 5, &[]);
    let fields: Vec<(Label, DataKey, EscrowField)> = (0..12).map(|s| sealed(&w, 100 + s)).collect();
    let good: Vec<FieldCheck> = fields.iter().map(|(l, _, f)| check(&w, f, l)).collect();
    assert!(verify_fields(&good, &mut rng(1)).iter().all(Result::is_ok));
    assert!(verify_fields(&[], &mut rng(1)).is_empty());
    assert_eq!(verify_fields(&good[..1], &mut rng(1)), vec![Ok(())]);

    // Bad fields of every kind, at chosen places among good ones: a field checked under
    // another message's label, and one whose W was changed.
    let mut mixed = good.clone();
    mixed[3] = check(&w, &fields[3].2, &fields[4].0);
    mixed[7] = check(&w, &shift_w(&fields[7].2, G2Projective::generator()), &fields[7].0);
    mixed[11] = check(&w, &fields[0].2, &fields[11].0);
    let out = verify_fields(&mixed, &mut rng(2));
    let bad: Vec<usize> = out.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(bad, vec![3, 7, 11]);
    for (i, r) in out.iter().enumerate() {
        assert_eq!(*r, mixed[i].verify(), "field {i}: the batch and the single check disagree");
    }
    assert_eq!(out[7], Err(Error::InvalidField));
}

/// Two bad fields whose errors cancel in an unweighted sum (W + Δ and W − Δ) pass a
/// batch check without weights; the random weights catch them, and name both.
#[test]
fn errors_that_cancel_without_weights_are_caught() {
    let w = World::new(10, 2, 5, &[]);
    let (l1, _, f1) = sealed(&w, 1);
    let (l2, _, f2) = sealed(&w, 2);
    let delta = G2Projective::generator() * Scalar::from(12345u64);
    let (b1, b2) = (shift_w(&f1, delta), shift_w(&f2, -delta));
    assert_eq!(b1.verify(&w.keys.public, &l1), Err(Error::InvalidField));
    assert_eq!(b2.verify(&w.keys.public, &l2), Err(Error::InvalidField));
    // The unweighted product: e(G1, W1' + W2') = e(U1, H1) · e(U2, H2) holds.
    let h = |f: &EscrowField, l: &Label| {
        let mut msg = f.to_bytes()[3..83].to_vec();
        msg.extend_from_slice(&l.to_bytes());
        G2Projective::hash_to_curve(&msg, b"ESCROW-V1-FIELD-W_BLS12381G2_XMD:SHA-256_SSWU_RO_", &[])
    };
    let u = |f: &EscrowField| G1Affine::from_compressed(f.to_bytes()[3..51].try_into().unwrap()).unwrap();
    let w_of = |f: &EscrowField| G2Affine::from_compressed(f.to_bytes()[83..179].try_into().unwrap()).unwrap();
    let lhs = blsttc::blstrs::pairing(
        &G1Projective::generator().to_affine(),
        &(G2Projective::from(w_of(&b1)) + w_of(&b2)).to_affine(),
    );
    let rhs = blsttc::blstrs::pairing(&u(&b1), &h(&b1, &l1).to_affine())
        + blsttc::blstrs::pairing(&u(&b2), &h(&b2, &l2).to_affine());
    assert_eq!(lhs, rhs, "the attack is real: an unweighted batch would pass it");
    for seed in 0..4 {
        let out = verify_fields(&[check(&w, &b1, &l1), check(&w, &b2, &l2)], &mut rng(seed));
        assert_eq!(out, vec![Err(Error::InvalidField), Err(Error::InvalidField)]);
    }
}

/// A trustee answers 1,000 fields with one batched validity check
/// (`TrusteeKeyShare::decrypt_shares`): all good, every share is the one
/// `decrypt_share` gives alone. One bad field among them (its W changed) is named at
/// its place and the other 999 still get their shares; a field whose label is of
/// another epoch gets `decrypt_share`'s error; two fields whose errors cancel without
/// weights are both refused; a share of another epoch refuses every item.
#[test]
fn a_trustee_batch_of_a_thousand_fields_names_the_one_bad_field() {
    let w = World::new(11, 2, 5, &[]);
    let share = &w.keys.shares[1];
    let fields: Vec<(Label, DataKey, EscrowField)> = (0..1000).map(|s| sealed(&w, 5000 + s)).collect();
    let alone: Vec<DecryptionShare> =
        fields.iter().map(|(l, _, f)| share.decrypt_share(&w.keys.public, f, l).unwrap()).collect();
    let items: Vec<(&EscrowField, &Label)> = fields.iter().map(|(l, _, f)| (f, l)).collect();
    let out = share.decrypt_shares(&w.keys.public, &items, &mut rng(3));
    assert_eq!(out.len(), 1000);
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r.as_ref().ok(), Some(&alone[i]), "field {i}");
    }

    let bad = shift_w(&fields[617].2, G2Projective::generator());
    let other_epoch = label(2, "alice", &["bob"], 1_700_000_000);
    let mut mixed = items.clone();
    mixed[617] = (&bad, &fields[617].0);
    mixed[40] = (&fields[40].2, &other_epoch);
    let out = share.decrypt_shares(&w.keys.public, &mixed, &mut rng(4));
    let refused: Vec<usize> = out.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(refused, vec![40, 617]);
    assert_eq!(out[617], Err(Error::InvalidField));
    assert_eq!(out[40], share.decrypt_share(&w.keys.public, &fields[40].2, &other_epoch));
    assert!(out
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 40 && *i != 617)
        .all(|(i, r)| r.as_ref().ok() == Some(&alone[i])));

    let delta = G2Projective::generator() * Scalar::from(777u64);
    let (b1, b2) = (shift_w(&fields[1].2, delta), shift_w(&fields[2].2, -delta));
    let cancelling = vec![(&b1, &fields[1].0), (&b2, &fields[2].0), items[3]];
    for seed in 0..4 {
        let out = share.decrypt_shares(&w.keys.public, &cancelling, &mut rng(seed));
        assert_eq!(out[..2], [Err(Error::InvalidField), Err(Error::InvalidField)]);
        assert_eq!(out[2].as_ref().ok(), Some(&alone[3]));
    }

    let other = World::new(12, 2, 5, &[]);
    let mismatched = dealer_keygen(EpochId(3), 2, 5, &mut rng(13)).unwrap();
    let out = mismatched.shares[0].decrypt_shares(&other.keys.public, &items[..3], &mut rng(5));
    assert!(out.iter().all(|r| matches!(r, Err(Error::EpochMismatch { .. }))), "{out:?}");
}
