//! The fast tree against a naive reference written straight from RFC 6962 §2.1
//! (in the manner of transparency-dev/merkle `testonly/reference_test.go`): roots,
//! inclusion proofs and consistency proofs must be identical for every size, the
//! proofs must verify, and any flipped byte in a proof or root must be refused.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_log::*;
use proptest::prelude::*;

/// The RFC's recursion over a slice of leaf hashes; used only here.
mod reference {
    use escrow_log::{node_hash, Hash, EMPTY_ROOT};

    /// k: the largest power of two smaller than n (n > 1).
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k << 1 < n {
            k <<= 1;
        }
        k
    }

    /// MTH(D[n]).
    pub fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    /// PATH(m, D[n]).
    pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// PROOF(m, D[n]) for 0 < m < n; empty at the edges, as the tree returns.
    pub fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        if m == 0 || m == d.len() {
            vec![]
        } else {
            subproof(m, d, true)
        }
    }
}

fn leaves(n: usize, salt: u64) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&[salt.to_be_bytes(), i.to_be_bytes()].concat())).collect()
}

fn flip(h: &Hash, byte: usize, bit: u8) -> Hash {
    let mut h = *h;
    h[byte % 32] ^= 1 << (bit % 8);
    h
}

/// Every size, index and old size up to 48: exhaustive agreement and verification.
#[test]
fn agrees_with_reference_exhaustively_up_to_48() {
    let d = leaves(48, 0);
    let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
    for n in 0..=d.len() {
        let prefix = &d[..n];
        let root = tree.root(n as u64).unwrap();
        assert_eq!(root, reference::mth(prefix), "root {n}");
        for (i, leaf) in prefix.iter().enumerate() {
            let proof = tree.inclusion_proof(i as u64, n as u64).unwrap();
            assert_eq!(proof, reference::path(i, prefix), "inclusion {i} in {n}");
            verify_inclusion(leaf, i as u64, n as u64, &proof, &root).unwrap();
        }
        for m in 0..=n {
            let proof = tree.consistency_proof(m as u64, n as u64).unwrap();
            assert_eq!(proof, reference::proof(m, prefix), "consistency {m} -> {n}");
            verify_consistency(m as u64, n as u64, &reference::mth(&d[..m]), &root, &proof).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn roots_and_proofs_agree_with_reference(
        n in 1usize..=400,
        salt in any::<u64>(),
        i in any::<prop::sample::Index>(),
        m in any::<prop::sample::Index>(),
        n_old in any::<prop::sample::Index>(),
    ) {
        let d = leaves(n, salt);
        let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
        let size = n as u64;
        // Ask about an earlier size too: the tree must answer for its history.
        let n2 = n_old.index(n) + 1;
        for n in [n, n2] {
            let (i, m) = (i.index(n), m.index(n + 1));
            let root = tree.root(n as u64).unwrap();
            prop_assert_eq!(root, reference::mth(&d[..n]));
            let incl = tree.inclusion_proof(i as u64, n as u64).unwrap();
            prop_assert_eq!(&incl, &reference::path(i, &d[..n]));
            prop_assert_eq!(verify_inclusion(&d[i], i as u64, n as u64, &incl, &root), Ok(()));
            let cons = tree.consistency_proof(m as u64, n as u64).unwrap();
            prop_assert_eq!(&cons, &reference::proof(m, &d[..n]));
            let root_m = tree.root(m as u64).unwrap();
            prop_assert_eq!(verify_consistency(m as u64, n as u64, &root_m, &root, &cons), Ok(()));
        }
        prop_assert_eq!(tree.size(), size);
    }

    #[test]
    fn any_flipped_byte_is_refused(
        n in 2usize..=300,
        salt in any::<u64>(),
        i in any::<prop::sample::Index>(),
        m in any::<prop::sample::Index>(),
        which in any::<prop::sample::Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let d = leaves(n, salt);
        let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
        let size = n as u64;
        let root = tree.root(size).unwrap();

        // Inclusion: flip a bit in one proof element, in the root, or in the leaf.
        let i = i.index(n);
        let incl = tree.inclusion_proof(i as u64, size).unwrap();
        if !incl.is_empty() {
            let mut bad = incl.clone();
            let w = which.index(bad.len());
            bad[w] = flip(&bad[w], byte, bit);
            prop_assert!(verify_inclusion(&d[i], i as u64, size, &bad, &root).is_err());
        }
        prop_assert!(verify_inclusion(&d[i], i as u64, size, &incl, &flip(&root, byte, bit)).is_err());
        prop_assert!(verify_inclusion(&flip(&d[i], byte, bit), i as u64, size, &incl, &root).is_err());

        // Consistency (0 < m < n, so the proof is non-empty).
        let m = m.index(n - 1) + 1;
        let root_m = tree.root(m as u64).unwrap();
        let cons = tree.consistency_proof(m as u64, size).unwrap();
        prop_assert!(!cons.is_empty());
        let mut bad = cons.clone();
        let w = which.index(bad.len());
        bad[w] = flip(&bad[w], byte, bit);
        prop_assert!(verify_consistency(m as u64, size, &root_m, &root, &bad).is_err());
        prop_assert!(verify_consistency(m as u64, size, &flip(&root_m, byte, bit), &root, &cons).is_err());
        prop_assert!(verify_consistency(m as u64, size, &root_m, &flip(&root, byte, bit), &cons).is_err());
        // And a proof with an element dropped or repeated has the wrong length.
        prop_assert!(verify_consistency(m as u64, size, &root_m, &root, &cons[1..]).is_err());
        let mut longer = cons.clone();
        longer.push(cons[0]);
        prop_assert!(verify_consistency(m as u64, size, &root_m, &root, &longer).is_err());
    }

    #[test]
    fn rebuilding_from_stored_hashes_is_the_same_tree(n in 0usize..=300, salt in any::<u64>()) {
        let d = leaves(n, salt);
        let mut appended = MerkleTree::new();
        for (i, h) in d.iter().enumerate() {
            prop_assert_eq!(appended.append(*h), i as u64);
        }
        let rebuilt = MerkleTree::from_leaf_hashes(d.iter().copied());
        for k in 0..=n as u64 {
            prop_assert_eq!(appended.root(k).unwrap(), rebuilt.root(k).unwrap());
        }
    }
}
