//! What each composition rule of escrow domains costs per message, same machine, same
//! run: escrow bytes, the sender's sealing time and a recipient's opening time for a
//! message whose three parties live in 1, 2 or 3 escrowing jurisdictions, beside
//! today's single-domain envelope as the baseline.
//!
//! `cargo bench -p escrow-crypto --bench jurisdictions` prints one table of medians.
//! Cryptography only: no network, no database.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use common::median;

use escrow_crypto::*;
use rand::SeedableRng;

const PLAINTEXT: &[u8] = &[0x42; 200];

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

fn dom(s: &str) -> Domain {
    Domain::new(s).unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(33);
    let names = ["uk", "us", "eu"];
    let keys: Vec<DealerOutput> = names.iter().map(|_| dealer_keygen(EpochId(1), 2, 5, &mut rng).unwrap()).collect();
    let users: Vec<UserSecretKey> =
        ["alice", "bob", "carol"].iter().map(|u| UserSecretKey::generate(id(u), &mut rng)).collect();
    let recipients = [users[1].public(), users[2].public()];

    println!("one message from alice to bob and carol, {} bytes; median of {iters} runs", PLAINTEXT.len());
    println!(
        "| {:<22} | {:>13} | {:>6} | {:>12} | {:>14} | {:>7} | {:>7} |",
        "rule", "jurisdictions", "fields", "escrow bytes", "envelope bytes", "seal ms", "open ms"
    );
    println!("|{:-<24}|{:->15}|{:->8}|{:->14}|{:->16}|{:->9}|{:->9}|", "", "", "", "", "", "", "");

    // The baseline: today's envelope, one domain, one field.
    let req = SealRequest {
        sender: &users[0],
        recipients: &recipients,
        epoch_key: &keys[0].public,
        message_id: [1; 16],
        timestamp: 1_764_115_200,
        plaintext: PLAINTEXT,
    };
    let seal = median(iters, || {
        black_box(Envelope::seal(&req, &mut rng).unwrap());
    });
    let env = Envelope::seal(&req, &mut rng).unwrap();
    let alice = users[0].public();
    let open = median(iters, || {
        black_box(env.open(&users[1], &alice, &keys[0].public).unwrap());
    });
    println!(
        "| {:<22} | {:>13} | {:>6} | {:>12} | {:>14} | {:>7} | {:>7} |",
        "one domain (baseline)",
        1,
        1,
        176,
        env.as_bytes().len(),
        ms(seal),
        ms(open)
    );

    let j_of = |rule: Rule| {
        Jurisdictions::new(rule, names.iter().zip(&keys).map(|(n, k)| (dom(n), Some(k.public.clone())))).unwrap()
    };
    for rule in Rule::ALL {
        let j = j_of(rule);
        for k in 1..=3usize {
            // alice in uk; bob and carol spread so the three parties span k domains.
            let homes = match k {
                1 => ["uk", "uk", "uk"],
                2 => ["uk", "us", "us"],
                _ => ["uk", "us", "eu"],
            };
            let residents = [
                Resident { key: users[1].public(), home: dom(homes[1]) },
                Resident { key: users[2].public(), home: dom(homes[2]) },
            ];
            let sender_home = dom(homes[0]);
            let req = DomainSealRequest {
                sender: &users[0],
                sender_home: &sender_home,
                recipients: &residents,
                jurisdictions: &j,
                message_id: [2; 16],
                timestamp: 1_764_115_200,
                plaintext: PLAINTEXT,
            };
            let seal = median(iters, || {
                black_box(DomainEnvelope::seal(&req, &mut rng).unwrap());
            });
            let env = DomainEnvelope::seal(&req, &mut rng).unwrap();
            let certified: BTreeMap<PartyId, Domain> =
                users.iter().zip(homes).map(|(u, h)| (u.id().clone(), dom(h))).collect();
            let open = median(iters, || {
                black_box(env.open(&users[1], &alice, &certified, &j).unwrap());
            });
            println!(
                "| {:<22} | {:>13} | {:>6} | {:>12} | {:>14} | {:>7} | {:>7} |",
                rule.name(),
                k,
                env.fields().len(),
                env.escrow_overhead(),
                env.as_bytes().len(),
                ms(seal),
                ms(open)
            );
        }
    }
}
