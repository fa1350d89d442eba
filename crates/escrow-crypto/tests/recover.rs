//! The agency's batched recovery (`EpochPublicKey::recover_many`): it agrees with
//! one-by-one `combine` and the re-encryption check on every item, good or bad, and a
//! recovered key opens only its own envelope.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use blsttc::blstrs::{G1Affine, G1Projective, G2Projective, Scalar};
use blsttc::group::{Curve, Group};
use common::*;
use escrow_crypto::*;

/// What one message alone gives: `combine`, then the recipient's re-encryption check.
fn alone(
    w: &World,
    f: &EscrowField,
    l: &Label,
    shares: &[DecryptionShare],
) -> Result<(DataKey, Vec<TrusteeIndex>), Error> {
    let opened = w.keys.public.combine(f, l, shares)?;
    f.check_carries(&w.keys.public, l, &opened.data_key)?;
    Ok((opened.data_key, opened.culprits))
}

fn shares_of(w: &World, f: &EscrowField, l: &Label, which: &[usize]) -> Vec<DecryptionShare> {
    which.iter().map(|&i| w.keys.shares[i].decrypt_share(&w.keys.public, f, l).unwrap()).collect()
}

/// Recovers `items` in one batch and checks every result is what the item gets alone;
/// returns the batch's results.
fn recover_agreeing(w: &World, items: &[(EscrowField, Label, Vec<DecryptionShare>)]) -> Vec<Result<Recovered, Error>> {
    let view: Vec<RecoverItem<'_>> = items.iter().map(|(f, l, s)| (f, l, s.as_slice())).collect();
    let out = w.keys.public.recover_many(&view, &mut rng(2));
    for (j, (f, l, s)) in items.iter().enumerate() {
        let got = out[j].as_ref().map(|r| (r.data_key().clone(), r.culprits().to_vec())).map_err(Clone::clone);
        assert_eq!(got, alone(w, f, l, s), "message {j}");
    }
    out
}

/// `share` with its point multiplied by `k`: well-formed, its own index, invalid.
fn scaled(share: &DecryptionShare, k: u64) -> DecryptionShare {
    let mut b = share.to_bytes();
    let p = G1Affine::from_compressed(&b[13..61].try_into().unwrap()).unwrap();
    b[13..61].copy_from_slice(&(G1Projective::from(p) * Scalar::from(k)).to_affine().to_compressed());
    DecryptionShare::from_bytes(&b).unwrap()
}

/// `share` with `delta` added to its point.
fn shifted(share: &DecryptionShare, delta: G1Projective) -> DecryptionShare {
    let mut b = share.to_bytes();
    let p = G1Affine::from_compressed(&b[13..61].try_into().unwrap()).unwrap();
    b[13..61].copy_from_slice(&(G1Projective::from(p) + delta).to_affine().to_compressed());
    DecryptionShare::from_bytes(&b).unwrap()
}

/// A field anyone can check is valid (`U = r'·G1`, `W = r'·H(U, V, L)`) but that no
/// honest sender made: `r'` is not derived from the key it unmasks to, so it carries
/// no key. Only the agency's carry check can refuse it.
fn valid_but_carrying_nothing(template: &EscrowField, l: &Label, seed: u64) -> EscrowField {
    let r = Scalar::from(seed * 7919 + 13);
    let u = (G1Projective::generator() * r).to_affine();
    let v = [seed as u8; 32];
    let mut msg = u.to_compressed().to_vec();
    msg.extend_from_slice(&v);
    msg.extend_from_slice(&l.to_bytes());
    let h = G2Projective::hash_to_curve(&msg, b"ESCROW-V1-FIELD-W_BLS12381G2_XMD:SHA-256_SSWU_RO_", &[]);
    let mut b = template.to_bytes()[..3].to_vec();
    b.extend_from_slice(&u.to_compressed());
    b.extend_from_slice(&v);
    b.extend_from_slice(&(h * r).to_affine().to_compressed());
    EscrowField::from_bytes(&b).unwrap()
}

#[test]
fn a_batch_of_good_messages_recovers_what_combine_recovers() {
    let w = World::new(21, 2, 5, &[]);
    let fields: Vec<(Label, DataKey, EscrowField)> = (0..40)
        .map(|s| {
            let l = label(1, "alice", &["bob"], 1_700_000_000 + s);
            let dk = DataKey::generate(&mut rng(s));
            let f = EscrowField::seal(&w.keys.public, &l, &dk).unwrap();
            (l, dk, f)
        })
        .collect();
    // Different trustee sets, some with more than t + 1 shares.
    let sets: [&[usize]; 4] = [&[0, 1, 2], &[2, 3, 4], &[0, 1, 2, 3, 4], &[4, 1, 3, 0]];
    let shares: Vec<Vec<DecryptionShare>> =
        fields.iter().enumerate().map(|(j, (l, _, f))| shares_of(&w, f, l, sets[j % 4])).collect();
    let items: Vec<RecoverItem<'_>> = fields.iter().zip(&shares).map(|((l, _, f), s)| (f, l, s.as_slice())).collect();
    let out = w.keys.public.recover_many(&items, &mut rng(1));
    assert_eq!(out.len(), 40);
    for (j, r) in out.iter().enumerate() {
        let r = r.as_ref().unwrap();
        assert_eq!(r.data_key(), &fields[j].1, "message {j}");
        assert!(r.culprits().is_empty());
    }
    assert!(w.keys.public.recover_many(&[], &mut rng(1)).is_empty());
}

/// Every way an item can be wrong, each among good ones: every item's result is
/// exactly what it gets alone, and the good ones still recover.
#[test]
fn every_bad_item_gets_what_it_would_get_alone() {
    let w = World::new(22, 2, 5, &[]);
    let fields: Vec<(Label, DataKey, EscrowField)> = (0..12)
        .map(|s| {
            let l = label(1, "alice", &["bob", "carol"], 1_700_000_000 + s);
            let dk = DataKey::generate(&mut rng(100 + s));
            let f = EscrowField::seal(&w.keys.public, &l, &dk).unwrap();
            (l, dk, f)
        })
        .collect();
    let mut items: Vec<(EscrowField, Label, Vec<DecryptionShare>)> =
        fields.iter().map(|(l, _, f)| (*f, l.clone(), shares_of(&w, f, l, &[0, 1, 2, 3]))).collect();
    // First the faults the batch leaves to each item alone (7, 8, 10) or that only the
    // carry check finds (9): the batch of the rest holds.
    // 7: a label of another epoch.
    items[7].1 = label(2, "alice", &["bob"], 1_700_000_000);
    // 8: the same trustee's share twice.
    items[8].2[1] = items[8].2[0];
    // 9: a valid field that carries no key, with valid shares of it.
    let forged = valid_but_carrying_nothing(&fields[9].2, &fields[9].0, 9);
    forged.verify(&w.keys.public, &fields[9].0).unwrap();
    items[9] = (forged, fields[9].0.clone(), shares_of(&w, &forged, &fields[9].0, &[0, 2, 4]));
    // 10: only t shares.
    items[10].2.truncate(2);
    let out = recover_agreeing(&w, &items);
    let failed: Vec<usize> = out.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(j, _)| j).collect();
    assert_eq!(failed, [7, 8, 9, 10]);
    assert_eq!(out[9].as_ref().unwrap_err(), &Error::FieldMismatch);

    // Then bad shares and fields, which fail the batch.
    // 1: trustee 1 sends a bad share; three good ones remain: recovered, 1 named.
    items[1].2[1] = scaled(&items[1].2[1], 2);
    // 3: two bad of four: too few valid shares, both named.
    items[3].2[0] = scaled(&items[3].2[0], 3);
    items[3].2[2] = scaled(&items[3].2[2], 5);
    // 4: two errors that cancel in an unweighted sum.
    let delta = G1Projective::generator() * Scalar::from(4242u64);
    items[4].2[0] = shifted(&items[4].2[0], delta);
    items[4].2[1] = shifted(&items[4].2[1], -delta);
    // 5: another message's label: the field is invalid under it.
    items[5].1 = fields[6].0.clone();
    let out = recover_agreeing(&w, &items);
    let failed: Vec<usize> = out.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(j, _)| j).collect();
    assert_eq!(failed, [3, 4, 5, 7, 8, 9, 10]);
    assert_eq!(out[1].as_ref().unwrap().culprits(), [TrusteeIndex(1)]);
    assert_eq!(out[1].as_ref().unwrap().data_key(), &fields[1].1);
    assert!(
        matches!(&out[4], Err(Error::NotEnoughShares { valid: 2, culprits, .. }) if culprits == &[TrusteeIndex(0), TrusteeIndex(1)])
    );
    assert_eq!(out[9].as_ref().unwrap_err(), &Error::FieldMismatch);
    for j in [0, 2, 6, 11] {
        assert_eq!(out[j].as_ref().unwrap().data_key(), &fields[j].1, "message {j}");
    }
}

/// A recovered key opens its own envelope, and no other: not another message's, even
/// of the same sender, and not with the wrong sender's key.
#[test]
fn a_recovered_key_opens_only_its_own_envelope() {
    let w = World::new(23, 2, 5, &["alice", "bob", "carol"]);
    let a = w.send(1, "alice", &["bob"], 1_700_000_000, b"first");
    let b = w.send(2, "alice", &["carol"], 1_700_000_100, b"second");
    let (sa, sb) = (w.shares(&a, &[0, 1, 2]), w.shares(&b, &[2, 3, 4]));
    let items: [RecoverItem<'_>; 2] = [(a.field(), a.label(), &sa), (b.field(), b.label(), &sb)];
    let out = w.keys.public.recover_many(&items, &mut rng(3));
    let (ka, kb) = (out[0].as_ref().unwrap(), out[1].as_ref().unwrap());
    let alice = w.user("alice").public();
    assert_eq!(a.open_recovered(ka, &alice).unwrap(), b"first");
    assert_eq!(b.open_recovered(kb, &alice).unwrap(), b"second");
    assert_eq!(a.open_recovered(kb, &alice), Err(Error::FieldMismatch));
    assert_eq!(b.open_recovered(ka, &alice), Err(Error::FieldMismatch));
    assert!(a.open_recovered(ka, &w.user("bob").public()).is_err());
    // The key's Debug shows no key bytes.
    let shown = format!("{ka:?}");
    assert!(!shown.contains(&format!("{:?}", ka.data_key().expose_secret())), "{shown}");
}
