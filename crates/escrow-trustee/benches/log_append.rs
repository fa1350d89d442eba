//! Durable log appends at a trustee (SQLite, WAL, `synchronous=FULL`, one checkpoint
//! signed per commit) for several batch sizes, then proof generation at the final
//! size. `cargo bench -p escrow-trustee --bench log_append` (LOG_BENCH_TOTAL sets the
//! number of entries for the proof-size run, default 1,000,000).
//!
//! Anchor: Trillian Tessera reports 300-2,050 entries/s on a small cloud VM.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Instant;

use escrow_log::event::{Entry, Event};
use escrow_log::{leaf_hash, verify_consistency, verify_inclusion, CheckpointSigner};
use escrow_trustee::store::Store;
use rand::SeedableRng;

fn entry(i: u64) -> Entry {
    Entry {
        time: 1_772_409_600 + i,
        event: Event::SharesReleased {
            warrant_id: [7; 16],
            agency: "agency-1".into(),
            fields: vec![[(i % 251) as u8; 32]],
        },
    }
}

fn main() {
    let total: u64 = std::env::var("LOG_BENCH_TOTAL").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    println!("durable log appends: SQLite WAL + synchronous=FULL, a signed checkpoint per commit");
    println!("| batch size | entries | seconds | entries/s |");
    println!("|---:|---:|---:|---:|");
    for (batch, n) in [(1u64, 500u64), (10, 5_000), (100, 50_000), (1_000, 200_000)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let signer = CheckpointSigner::generate("bench", &mut rng).expect("key");
        let mut store = Store::open(dir.path(), "escrow-trustee/bench", signer).expect("store");
        let t = Instant::now();
        let mut i = 0;
        while i < n {
            let entries: Vec<Entry> = (i..i + batch).map(entry).collect();
            store.log_batch(&entries).expect("append");
            i += batch;
        }
        let s = t.elapsed().as_secs_f64();
        println!("| {batch} | {n} | {s:.2} | {:.0} |", n as f64 / s);
    }

    println!("\nproofs at {total} entries (appended in batches of 10,000)");
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = CheckpointSigner::generate("bench", &mut rng).expect("key");
    let mut store = Store::open(dir.path(), "escrow-trustee/bench", signer).expect("store");
    let t = Instant::now();
    let mut i = 0;
    while i < total {
        let k = 10_000.min(total - i);
        store.log_batch(&(i..i + k).map(entry).collect::<Vec<_>>()).expect("append");
        i += k;
    }
    println!("fill: {:.1} s ({:.0} entries/s)", t.elapsed().as_secs_f64(), total as f64 / t.elapsed().as_secs_f64());
    let t = Instant::now();
    drop(store);
    let signer = CheckpointSigner::generate("bench", &mut rng).expect("key");
    let store = Store::open(dir.path(), "escrow-trustee/bench", signer).expect("reopen");
    println!(
        "reopen (recompute {total} leaf hashes from the stored entries, rebuild the tree): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let size = store.log_size();
    let mut inc = Vec::new();
    let mut con = Vec::new();
    for k in 0..200u64 {
        let index = (k * 7_919) % size;
        let t = Instant::now();
        let _p = store.inclusion_proof(index, size).expect("proof");
        inc.push(t.elapsed().as_secs_f64() * 1e6);
        let m = 1 + (k * 104_729) % (size - 1);
        let t = Instant::now();
        let _c = store.consistency_proof(m, size).expect("proof");
        con.push(t.elapsed().as_secs_f64() * 1e6);
    }
    inc.sort_by(f64::total_cmp);
    con.sort_by(f64::total_cmp);
    println!("inclusion proof generation, median: {:.1} µs", inc[inc.len() / 2]);
    println!("consistency proof generation, median: {:.1} µs", con[con.len() / 2]);
    // One end-to-end check that what the bench timed is right.
    let e = store.entries(size / 2, size / 2 + 1).expect("entry");
    let tree_root = {
        let mut leaves = Vec::new();
        for chunk_start in (0..size).step_by(100_000) {
            for raw in store.entries(chunk_start, (chunk_start + 100_000).min(size)).expect("entries") {
                leaves.push(leaf_hash(&raw));
            }
        }
        escrow_log::MerkleTree::from_leaf_hashes(leaves).root(size).expect("root")
    };
    let p = store.inclusion_proof(size / 2, size).expect("proof");
    verify_inclusion(&leaf_hash(&e[0]), size / 2, size, &p, &tree_root).expect("inclusion verifies");
    let half =
        escrow_log::MerkleTree::from_leaf_hashes(store.entries(0, 1000).expect("entries").iter().map(|r| leaf_hash(r)));
    let c = store.consistency_proof(1000, size).expect("proof");
    verify_consistency(1000, size, &half.root(1000).expect("root"), &tree_root, &c).expect("consistency verifies");
    println!("(proofs at {size} entries verified against a root recomputed from the stored entries)");
}
