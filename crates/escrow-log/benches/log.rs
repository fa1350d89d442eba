//! Transparency-log benchmark: in-memory appends, proofs at 1,000,000 entries, and
//! checkpoint signatures.
//!
//! `cargo bench -p escrow-log --bench log` prints one table. `BENCH_ENTRIES` and
//! `BENCH_ITERS` override the tree size (default 1,000,000) and the number of timed
//! runs per median (default 2,000). Durable SQLite appends are the trustee's to
//! measure (they include the database commit), not this pure crate's.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use escrow_log::*;
use rand::{Rng, SeedableRng};

/// Median wall time of `f` over `iters` runs after a short warm-up.
fn median<F: FnMut()>(iters: usize, mut f: F) -> Duration {
    for _ in 0..iters.div_ceil(10) {
        f();
    }
    let mut v: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    let n = env("BENCH_ENTRIES", 1_000_000);
    let iters = env("BENCH_ITERS", 2_000) as usize;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut rows: Vec<(String, String)> = Vec::new();

    // A log entry about the size of an encoded "shares released" event.
    let entry = |i: u64| {
        let mut e = vec![0u8; 200];
        e[..8].copy_from_slice(&i.to_be_bytes());
        e
    };
    let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();

    let mut tree = MerkleTree::new();
    let t = Instant::now();
    for e in &entries {
        tree.append(leaf_hash(e));
    }
    let append = t.elapsed();
    rows.push((
        format!("append {n} entries in memory (leaf hash + insert)"),
        format!("{:.0} entries/s ({:.2} s total)", n as f64 / append.as_secs_f64(), append.as_secs_f64()),
    ));

    let hashes: Vec<Hash> = (0..n).map(|i| *tree.leaf_hash(i).unwrap()).collect();
    let t = Instant::now();
    let rebuilt = MerkleTree::from_leaf_hashes(hashes.iter().copied());
    let rebuild = t.elapsed();
    assert_eq!(rebuilt.root(n).unwrap(), tree.root(n).unwrap());
    rows.push((
        format!("rebuild from {n} stored leaf hashes"),
        format!("{:.0} entries/s ({:.2} s total)", n as f64 / rebuild.as_secs_f64(), rebuild.as_secs_f64()),
    ));

    let root = tree.root(n).unwrap();
    rows.push((format!("root at size {n}"), us(median(iters, || drop(black_box(tree.root(black_box(n))))))));
    rows.push((
        "historical root at a random size".into(),
        us(median(iters, || {
            let m = rng.gen_range(1..=n);
            black_box(tree.root(m).unwrap());
        })),
    ));

    let mut proof_len = 0;
    let incl_gen = median(iters, || {
        let i = rng.gen_range(0..n);
        proof_len = black_box(tree.inclusion_proof(i, n).unwrap()).len();
    });
    rows.push((format!("inclusion proof, generate ({proof_len} hashes)"), us(incl_gen)));
    rows.push((
        "inclusion proof, generate + verify".into(),
        us(median(iters, || {
            let i = rng.gen_range(0..n);
            let proof = tree.inclusion_proof(i, n).unwrap();
            verify_inclusion(&hashes[i as usize], i, n, &proof, &root).unwrap();
        })),
    ));

    let cons_gen = median(iters, || {
        let m = rng.gen_range(1..n);
        proof_len = black_box(tree.consistency_proof(m, n).unwrap()).len();
    });
    rows.push((format!("consistency proof, generate (~{proof_len} hashes)"), us(cons_gen)));
    rows.push((
        "consistency proof, generate + verify (random m -> n)".into(),
        us(median(iters, || {
            let m = rng.gen_range(1..n);
            let proof = tree.consistency_proof(m, n).unwrap();
            let root_m = tree.root(m).unwrap();
            verify_consistency(m, n, &root_m, &root, &proof).unwrap();
        })),
    ));

    let signer = CheckpointSigner::generate("trustee-1.example/log", &mut rng).unwrap();
    let verifier = signer.verifier();
    let checkpoint = Checkpoint::new("trustee-1.example/log", n, root).unwrap();
    let note = signer.sign(&checkpoint);
    rows.push((
        "checkpoint sign (Ed25519 signed note)".into(),
        us(median(iters, || drop(black_box(signer.sign(&checkpoint))))),
    ));
    rows.push((
        "checkpoint verify (parse + Ed25519 verify_strict)".into(),
        us(median(iters, || drop(black_box(verifier.verify(note.as_bytes()).unwrap())))),
    ));

    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("escrow-log benchmark: {n} entries, medians of {iters} runs");
    println!("{:width$}  result", "operation");
    println!("{}  {}", "-".repeat(width), "-".repeat(36));
    for (k, v) in rows {
        println!("{k:width$}  {v}");
    }
    println!();
    println!("In memory only: durable (SQLite, fsync'd) appends are measured by the trustee, not here.");
}
