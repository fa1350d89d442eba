//! The two escrow modes side by side, same machine, same run: per-message fields
//! (`EscrowField`, a trustee share per message) and day fields (`DayField`, one
//! extraction share per party and day).
//!
//! `cargo bench -p escrow-crypto --bench modes` prints three tables of medians:
//! what sealing costs the sender, what a warrant costs each trustee, and what it costs
//! the agency, for one target's messages over 30 days. Cryptography only: no network,
//! no database (the services' numbers are in docs/performance.md's other tables).
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
const DAYS: u64 = 30;
const DAY: u64 = 86_400;
/// Midnight starting day 20,000 (2024-10-04 UTC).
const START: u64 = 20_000 * DAY;

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// `m` messages from alice to bob spread evenly over 30 days, each with its data key.
fn traffic(
    epk: &EpochPublicKey,
    m: usize,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Vec<(Label, DataKey, EscrowField, DayField)> {
    (0..m)
        .map(|k| {
            let ts = START + (k as u64 * DAYS * DAY) / m as u64;
            let l = Label::new(EpochId(1), [9; 16], id("alice"), [id("bob")], ts).unwrap();
            let dk = DataKey::generate(rng);
            let f = EscrowField::seal(epk, &l, &dk).unwrap();
            let d = DayField::seal(epk, &l, &id("alice"), &dk).unwrap();
            (l, dk, f, d)
        })
        .collect()
}

fn main() {
    let iters: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(16);
    let keys = dealer_keygen(EpochId(1), T, N, &mut rng).unwrap();
    let epk = &keys.public;

    // --- The sender: one message to R recipients.
    println!("sealing one message, median of {iters} runs: milliseconds and escrow bytes per message");
    println!(
        "| {:>10} | {:>14} | {:>13} | {:>14} | {:>13} |",
        "recipients", "per-message ms", "per-message B", "day fields ms", "day fields B"
    );
    println!("|{:->12}|{:->16}|{:->15}|{:->16}|{:->15}|", "", "", "", "", "");
    for r in [1usize, 3, 10] {
        let recipients: Vec<PartyId> = (0..r).map(|k| id(&format!("r{k:02}"))).collect();
        let l = Label::new(EpochId(1), [1; 16], id("alice"), recipients, START).unwrap();
        let dk = DataKey::generate(&mut rng);
        let parties: Vec<PartyId> = std::iter::once(l.sender().clone()).chain(l.recipients().iter().cloned()).collect();
        let per_message = median(iters, || {
            black_box(EscrowField::seal(epk, &l, &dk).unwrap());
        });
        let day = median(iters, || {
            for p in &parties {
                black_box(DayField::seal(epk, &l, p, &dk).unwrap());
            }
        });
        let field_bytes = EscrowField::seal(epk, &l, &dk).unwrap().to_bytes().len();
        let day_bytes: usize = parties.iter().map(|p| DayField::seal(epk, &l, p, &dk).unwrap().to_bytes().len()).sum();
        println!("| {r:>10} | {:>14} | {field_bytes:>13} | {:>14} | {day_bytes:>13} |", ms(per_message), ms(day));
    }

    // --- One trustee and the agency, for a warrant over alice's 30 days. Measured on
    // 1,000 messages; the per-message rows grow with the messages and are scaled to
    // 100,000, the day rows do not grow at all (30 extractions) except the agency's
    // opening, which is per message in both modes.
    const SAMPLE: usize = 1000;
    let sample = traffic(epk, SAMPLE, &mut rng);
    let share = &keys.shares[0];
    let items: Vec<(&EscrowField, &Label)> = sample.iter().map(|(l, _, f, _)| (f, l)).collect();
    let runs = (iters / 10).max(3);
    let trustee_per_message = median(runs, || {
        black_box(share.decrypt_shares(epk, &items, &mut rand::rngs::OsRng));
    });
    let days: Vec<DayId> = (0..DAYS as u32).map(|k| DayId::new(EpochId(1), id("alice"), 20_000 + k)).collect();
    let trustee_day = median(runs, || {
        for d in &days {
            black_box(share.extract_share(d).unwrap());
        }
    });
    let quorum = &keys.shares[..=usize::from(T)];
    let shares: Vec<Vec<DecryptionShare>> = sample
        .iter()
        .map(|(l, _, f, _)| quorum.iter().map(|s| s.decrypt_share(epk, f, l).unwrap()).collect())
        .collect();
    let recover: Vec<RecoverItem<'_>> =
        sample.iter().zip(&shares).map(|((l, _, f, _), s)| (f, l, s.as_slice())).collect();
    let agency_per_message = median(runs, || {
        for r in epk.recover_many(&recover, &mut rand::rngs::OsRng) {
            black_box(r.unwrap());
        }
    });
    let extraction: Vec<Vec<ExtractionShare>> =
        days.iter().map(|d| quorum.iter().map(|s| s.extract_share(d).unwrap()).collect()).collect();
    let agency_keys = median(runs, || {
        for (d, s) in days.iter().zip(&extraction) {
            black_box(epk.combine_day_key(d, s).unwrap());
        }
    });
    let day_keys: Vec<DayKey> =
        days.iter().zip(&extraction).map(|(d, s)| epk.combine_day_key(d, s).unwrap().0).collect();
    let agency_open = median(runs, || {
        for (l, dk, _, f) in &sample {
            let day = day_of(l.timestamp()) - 20_000;
            assert_eq!(&f.open(&day_keys[day as usize], l, &id("alice")).unwrap(), dk);
        }
    });
    let scale = |d: Duration, m: usize| d.mul_f64(m as f64 / SAMPLE as f64);
    println!("\na warrant over alice's {DAYS} days, t + 1 = {} of {N}: median of {runs} runs, seconds", T + 1);
    println!("(measured on {SAMPLE} messages; the 100,000 column scales what grows with the messages)");
    println!("| {:<58} | {:>12} | {:>14} |", "work", "1,000 msgs", "100,000 msgs");
    println!("|{:-<60}|{:->14}|{:->16}|", "", "", "");
    let row = |name: &str, a: Duration, b: Duration| {
        println!("| {name:<58} | {:>12.3} | {:>14.3} |", a.as_secs_f64(), b.as_secs_f64());
    };
    row("each trustee, per-message: field checks + shares", trustee_per_message, scale(trustee_per_message, 100_000));
    row("each trustee, day mode: 30 extraction shares", trustee_day, trustee_day);
    row("agency, per-message: recover_many", agency_per_message, scale(agency_per_message, 100_000));
    row("agency, day mode: 30 day keys", agency_keys, agency_keys);
    row("agency, day mode: open each message's day field", agency_open, scale(agency_open, 100_000));
    println!(
        "each trustee: day mode / per-message {:.4}x at 1,000 messages, {:.6}x at 100,000",
        trustee_day.as_secs_f64() / trustee_per_message.as_secs_f64(),
        trustee_day.as_secs_f64() / scale(trustee_per_message, 100_000).as_secs_f64()
    );
    println!(
        "agency: day mode / per-message {:.2}x at 1,000 messages",
        (agency_keys + agency_open).as_secs_f64() / agency_per_message.as_secs_f64()
    );
}
