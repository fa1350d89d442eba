//! Escrow-field benchmark: our labeled scheme beside blsttc's unlabeled scheme and
//! `threshold_crypto` 0.4 (baseline only), same machine, same run.
//!
//! `cargo bench -p escrow-crypto --features dangerous --bench escrow_field` prints one
//! table of medians (the unchecked rows need the `dangerous` feature), then the
//! compartmented key's combine beside the ordinary one.
//! Rows compare like with like: "checked" rows include the ciphertext validity check
//! in every scheme, because ours always includes it.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::median;

use escrow_crypto::*;
use rand::SeedableRng;

const T: u16 = 2;
const N: u16 = 5;

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

struct Row {
    name: &'static str,
    ours: Option<Duration>,
    blsttc: Option<Duration>,
    tc: Option<Duration>,
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);

    // --- ours
    let keys = dealer_keygen(EpochId(1), T, N, &mut rng).unwrap();
    let epk = &keys.public;
    let label = Label::new(
        EpochId(1),
        [1; 16],
        PartyId::new("alice").unwrap(),
        [PartyId::new("bob").unwrap(), PartyId::new("carol").unwrap()],
        1_700_000_000,
    )
    .unwrap();
    let dk = DataKey::generate(&mut rng);
    let field = EscrowField::seal(epk, &label, &dk).unwrap();
    let shares: Vec<DecryptionShare> =
        keys.shares.iter().take(usize::from(T) + 1).map(|s| s.decrypt_share(epk, &field, &label).unwrap()).collect();

    // --- blsttc, unlabeled
    let b_sks = blsttc::SecretKeySet::random(usize::from(T), &mut rng);
    let b_pks = b_sks.public_keys();
    let b_pk = b_pks.public_key();
    let b_shares: Vec<blsttc::SecretKeyShare> = (0..usize::from(N)).map(|i| b_sks.secret_key_share(i)).collect();
    let b_ct = b_pk.encrypt_with_rng(&mut rng, dk.expose_secret());
    let b_dshares: Vec<(usize, blsttc::DecryptionShare)> =
        (0..=usize::from(T)).map(|i| (i, b_shares[i].decrypt_share(&b_ct).unwrap())).collect();

    // --- threshold_crypto 0.4 (rand 0.7)
    let mut rng07 = <rand07::rngs::StdRng as rand07::SeedableRng>::seed_from_u64(1);
    let t_sks = threshold_crypto::SecretKeySet::random(usize::from(T), &mut rng07);
    let t_pks = t_sks.public_keys();
    let t_pk = t_pks.public_key();
    let t_shares: Vec<threshold_crypto::SecretKeyShare> =
        (0..usize::from(N)).map(|i| t_sks.secret_key_share(i)).collect();
    let t_ct = t_pk.encrypt_with_rng(&mut rng07, dk.expose_secret());
    let t_dshares: Vec<(usize, threshold_crypto::DecryptionShare)> =
        (0..=usize::from(T)).map(|i| (i, t_shares[i].decrypt_share(&t_ct).unwrap())).collect();

    let rows = vec![
        Row {
            name: "seal / encrypt (32-byte key)",
            ours: Some(median(iters, || {
                black_box(EscrowField::seal(epk, &label, &dk).unwrap());
            })),
            blsttc: Some(median(iters, || {
                black_box(b_pk.encrypt_with_rng(&mut rng, dk.expose_secret()));
            })),
            tc: Some(median(iters, || {
                black_box(t_pk.encrypt_with_rng(&mut rng07, dk.expose_secret()));
            })),
        },
        Row {
            name: "validity check",
            ours: Some(median(iters, || field.verify(epk, &label).unwrap())),
            blsttc: Some(median(iters, || assert!(b_ct.verify()))),
            tc: Some(median(iters, || assert!(t_ct.verify()))),
        },
        Row {
            name: "recipient check (re-encrypt, compare)",
            ours: Some(median(iters, || field.check_carries(epk, &label, &dk).unwrap())),
            blsttc: None,
            tc: None,
        },
        Row {
            name: "decryption share, checked",
            ours: Some(median(iters, || {
                black_box(keys.shares[0].decrypt_share(epk, &field, &label).unwrap());
            })),
            blsttc: Some(median(iters, || {
                black_box(b_shares[0].decrypt_share(&b_ct).unwrap());
            })),
            tc: Some(median(iters, || {
                black_box(t_shares[0].decrypt_share(&t_ct).unwrap());
            })),
        },
        Row {
            name: "decryption share, unchecked",
            ours: Some(median(iters, || {
                black_box(keys.shares[0].decrypt_share_unchecked(&field));
            })),
            blsttc: Some(median(iters, || {
                black_box(b_shares[0].decrypt_share_no_verify(&b_ct));
            })),
            tc: Some(median(iters, || {
                black_box(t_shares[0].decrypt_share_no_verify(&t_ct));
            })),
        },
        Row {
            name: "share verification (one share)",
            ours: Some(median(iters, || epk.verify_share(&field, &label, &shares[1]).unwrap())),
            blsttc: Some(median(iters, || {
                assert!(b_pks.public_key_share(1).verify_decryption_share(&b_dshares[1].1, &b_ct))
            })),
            tc: Some(median(iters, || {
                assert!(t_pks.public_key_share(1).verify_decryption_share(&t_dshares[1].1, &t_ct))
            })),
        },
        Row {
            name: "combine t+1=3: check field + shares, open",
            ours: Some(median(iters, || {
                black_box(epk.combine(&field, &label, &shares).unwrap());
            })),
            blsttc: Some(median(iters, || {
                assert!(b_ct.verify());
                for (i, s) in &b_dshares {
                    assert!(b_pks.public_key_share(*i).verify_decryption_share(s, &b_ct));
                }
                black_box(b_pks.decrypt(b_dshares.iter().map(|(i, s)| (*i, s)), &b_ct).unwrap());
            })),
            tc: Some(median(iters, || {
                assert!(t_ct.verify());
                for (i, s) in &t_dshares {
                    assert!(t_pks.public_key_share(*i).verify_decryption_share(s, &t_ct));
                }
                black_box(t_pks.decrypt(t_dshares.iter().map(|(i, s)| (*i, s)), &t_ct).unwrap());
            })),
        },
        Row {
            name: "combine t+1=3: interpolation only",
            ours: None,
            blsttc: Some(median(iters, || {
                black_box(b_pks.decrypt(b_dshares.iter().map(|(i, s)| (*i, s)), &b_ct).unwrap());
            })),
            tc: Some(median(iters, || {
                black_box(t_pks.decrypt(t_dshares.iter().map(|(i, s)| (*i, s)), &t_ct).unwrap());
            })),
        },
    ];

    println!("escrow-field benchmark: t = {T}, n = {N}, median of {iters} runs, microseconds");
    println!(
        "| {:<42} | {:>9} | {:>9} | {:>13} | {:>13} | {:>13} |",
        "operation", "escrow", "blsttc", "thr_crypto", "escrow/blsttc", "thr_cr/escrow"
    );
    println!("|{:-<44}|{:->11}|{:->11}|{:->15}|{:->15}|{:->15}|", "", "", "", "", "", "");
    let cell = |d: Option<Duration>| d.map(us).unwrap_or_else(|| "-".into());
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    };
    for r in &rows {
        println!(
            "| {:<42} | {:>9} | {:>9} | {:>13} | {:>13} | {:>13} |",
            r.name,
            cell(r.ours),
            cell(r.blsttc),
            cell(r.tc),
            ratio(r.ours, r.blsttc),
            ratio(r.tc, r.ours)
        );
    }
    println!(
        "\nescrow's share verification and combine include the field validity check (2-pairing \
         product); combine verifies all shares in one batched 2-pairing check."
    );

    // A compartmented key (3 of 4 domestic trustees and 1 of 1 foreign) beside the
    // ordinary 3 of 5 above, measured again in the same loop shape as the baseline.
    let groups = [
        compartment::GroupSpec { name: "domestic", threshold: 2, n: 4 },
        compartment::GroupSpec { name: "foreign", threshold: 0, n: 1 },
    ];
    let ck = compartment::compartmented_dealer_keygen(EpochId(1), groups, &mut rng).unwrap();
    let cepk = ck.public.epoch_public_key();
    let cfield = EscrowField::seal(cepk, &label, &dk).unwrap();
    let group = |c, k: usize| -> Vec<DecryptionShare> {
        ck.shares(c).iter().take(k).map(|s| s.decrypt_share(cepk, &cfield, &label).unwrap()).collect()
    };
    let (ca, cb) = (group(compartment::Compartment::A, 3), group(compartment::Compartment::B, 1));
    let ordinary = median(iters, || {
        black_box(epk.combine(&field, &label, &shares).unwrap());
    });
    let compartmented = median(iters, || {
        black_box(ck.public.combine(&cfield, &label, &ca, &cb).unwrap());
    });
    println!("\ncombine, check field + shares, open: median of {iters} runs, microseconds");
    println!("| {:<42} | {:>9} |", "access structure", "combine");
    println!("|{:-<44}|{:->11}|", "", "");
    println!("| {:<42} | {:>9} |", "3 of any 5 (baseline)", us(ordinary));
    println!("| {:<42} | {:>9} |", "3 of 4 domestic and 1 of 1 foreign", us(compartmented));
    println!("compartmented / baseline: {:.2}x", compartmented.as_secs_f64() / ordinary.as_secs_f64());

    trustee_batch(&keys, &mut rng, iters);
    agency_batch(&keys, &mut rng, iters);
}

/// A trustee's share request of 1,000 fields on one core: each field's validity
/// checked alone (two Miller loops and a final exponentiation each) beside one batch
/// (`verify_fields`, `TrusteeKeyShare::decrypt_shares`), and the floor the batch
/// approaches: hashing each field to G2 plus one Miller loop per field.
fn trustee_batch(keys: &DealerOutput, rng: &mut rand_chacha::ChaCha20Rng, iters: usize) {
    use blsttc::blstrs::{G1Projective, G2Projective};
    use blsttc::group::{Curve, Group};
    const FIELDS: usize = 1000;
    let iters = (iters / 40).max(3);
    let epk = &keys.public;
    let share = &keys.shares[0];
    let sealed: Vec<(Label, EscrowField)> = (0..FIELDS)
        .map(|i| {
            let l = Label::new(
                EpochId(1),
                [2; 16],
                PartyId::new("alice").unwrap(),
                [PartyId::new("bob").unwrap()],
                1_700_000_000 + i as u64,
            )
            .unwrap();
            let f = EscrowField::seal(epk, &l, &DataKey::generate(rng)).unwrap();
            (l, f)
        })
        .collect();
    let items: Vec<(&EscrowField, &Label)> = sealed.iter().map(|(l, f)| (f, l)).collect();
    // Every row starts from the field and label bytes decoded: hashing to G2 is in each.
    let alone = median(iters, || {
        for (f, l) in &items {
            f.verify(epk, l).unwrap();
        }
    });
    let batched = median(iters, || {
        let checks: Vec<FieldCheck> = items.iter().map(|(f, l)| f.pending_check(epk, l).unwrap()).collect();
        black_box(verify_fields(&checks, rng));
    });
    let hashing = median(iters, || {
        for (f, l) in &items {
            black_box(f.pending_check(epk, l).unwrap());
        }
    });
    // One Miller loop per field, over as many (G1, G2) pairs, without the final
    // exponentiation: the pairing work no batch can avoid.
    let us: Vec<blst::blst_p1_affine> = (1..=FIELDS as u64)
        .map(|k| *(G1Projective::generator() * blsttc::blstrs::Scalar::from(k)).to_affine().as_ref())
        .collect();
    let hs: Vec<blst::blst_p2_affine> = (1..=FIELDS as u64)
        .map(|k| *(G2Projective::generator() * blsttc::blstrs::Scalar::from(k + 7)).to_affine().as_ref())
        .collect();
    let miller = median(iters, || {
        black_box(blst::blst_fp12::miller_loop_n(&hs, &us));
    });
    let shares_alone = median(iters, || {
        for (f, l) in &items {
            black_box(share.decrypt_share(epk, f, l).unwrap());
        }
    });
    let shares_batched = median(iters, || {
        black_box(share.decrypt_shares(epk, &items, rng));
    });
    let floor = hashing + miller;
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    println!("\na trustee's request of {FIELDS} fields, one core: median of {iters} runs, milliseconds");
    println!("| {:<52} | {:>9} |", "step", "ms");
    println!("|{:-<54}|{:->11}|", "", "");
    println!("| {:<52} | {:>9} |", "validity, each field alone (baseline)", ms(alone));
    println!("| {:<52} | {:>9} |", "validity, one batch (verify_fields)", ms(batched));
    println!("| {:<52} | {:>9} |", "floor: hash to G2 + 1 Miller loop per field", ms(floor));
    println!("| {:<52} | {:>9} |", "  of which hash to G2", ms(hashing));
    println!("| {:<52} | {:>9} |", "validity + share, each alone (decrypt_share)", ms(shares_alone));
    println!("| {:<52} | {:>9} |", "validity + share, one batch (decrypt_shares)", ms(shares_batched));
    println!(
        "batch speed-up {:.2}x (validity), {:.2}x (with shares); batch / floor {:.2}x",
        alone.as_secs_f64() / batched.as_secs_f64(),
        shares_alone.as_secs_f64() / shares_batched.as_secs_f64(),
        batched.as_secs_f64() / floor.as_secs_f64()
    );
}

/// The agency's side of 1,000 messages with t + 1 shares each: each message alone
/// (`combine`, which checks the field and the shares, then the re-encryption check
/// `check_carries`) beside one batch (`EpochPublicKey::recover_many`: every field and
/// share in one product, and one G1 multiplication for the carry check).
fn agency_batch(keys: &DealerOutput, rng: &mut rand_chacha::ChaCha20Rng, iters: usize) {
    const MESSAGES: usize = 1000;
    let iters = (iters / 40).max(3);
    let epk = &keys.public;
    let sealed: Vec<(Label, DataKey, EscrowField, Vec<DecryptionShare>)> = (0..MESSAGES)
        .map(|i| {
            let l = Label::new(
                EpochId(1),
                [3; 16],
                PartyId::new("alice").unwrap(),
                [PartyId::new("bob").unwrap()],
                1_700_000_000 + i as u64,
            )
            .unwrap();
            let dk = DataKey::generate(rng);
            let f = EscrowField::seal(epk, &l, &dk).unwrap();
            let shares = keys.shares[..=usize::from(T)].iter().map(|s| s.decrypt_share(epk, &f, &l).unwrap()).collect();
            (l, dk, f, shares)
        })
        .collect();
    let alone = median(iters, || {
        for (l, _, f, shares) in &sealed {
            let opened = epk.combine(f, l, shares).unwrap();
            f.check_carries(epk, l, &opened.data_key).unwrap();
        }
    });
    let items: Vec<RecoverItem<'_>> = sealed.iter().map(|(l, _, f, s)| (f, l, s.as_slice())).collect();
    let batched = median(iters, || {
        for r in epk.recover_many(&items, rng) {
            black_box(r.unwrap());
        }
    });
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    println!("\nthe agency's {MESSAGES} messages, t + 1 = {} shares each: median of {iters} runs, milliseconds", T + 1);
    println!("(blst spreads a multi-Miller loop over every core; the rest runs on one)");
    println!("| {:<52} | {:>9} |", "step", "ms");
    println!("|{:-<54}|{:->11}|", "", "");
    println!("| {:<52} | {:>9} |", "combine + carry check, each alone (baseline)", ms(alone));
    println!("| {:<52} | {:>9} |", "one batch (recover_many)", ms(batched));
    println!("batch speed-up {:.2}x", alone.as_secs_f64() / batched.as_secs_f64());
}
