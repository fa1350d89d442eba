//! Proof verification: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
//!
//! Both checks first compare the proof's length with the one the sizes imply, so a
//! padded or truncated proof is named as such rather than as a root mismatch, and
//! then run the RFC's loop step by step. The loops keep the RFC's own `sn == 0`
//! guards as a second line of defence.

use crate::error::{LogError, ProofKind};
use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// Number of hashes in an inclusion proof for `index` in a tree of `size` leaves
/// (`index < size`): the levels where the path to the root has a right neighbour
/// inside the tree (`inner`), plus the left-hand complete subtrees above them
/// (`border`).
fn inclusion_len(index: u64, size: u64) -> (u32, u32) {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// Checks that `leaf_hash` is the leaf at `index` of the tree of `size` leaves whose
/// root is `root`, given the inclusion `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf_hash: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), LogError> {
    // Step 1.
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    let (inner, border) = inclusion_len(index, size);
    let expected = (inner + border) as usize;
    if proof.len() != expected {
        return Err(LogError::WrongProofLength { proof: ProofKind::Inclusion, expected, got: proof.len() });
    }
    // Steps 2-4.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(LogError::WrongProofLength { proof: ProofKind::Inclusion, expected, got: proof.len() });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(LogError::WrongProofLength { proof: ProofKind::Inclusion, expected, got: proof.len() });
    }
    if r != *root {
        return Err(LogError::RootMismatch {
            proof: ProofKind::Inclusion,
            which: "tree root",
            computed: r,
            claimed: *root,
        });
    }
    Ok(())
}

/// Checks that the tree of size `m` with root `root_m` is a prefix of the tree of
/// size `n` with root `root_n`, given the consistency `proof` (RFC 9162 §2.1.4.2).
///
/// The RFC defines the check for `0 < m < n`. For the edges: `m == n` needs an empty
/// proof and equal roots; `m == 0` needs an empty proof and `root_m` equal to the
/// empty-tree root (a size-0 tree has no other root, so a checkpoint claiming one is
/// refused rather than ignored; transparency-dev/merkle accepts any `root_m` here).
pub fn verify_consistency(m: u64, n: u64, root_m: &Hash, root_n: &Hash, proof: &[Hash]) -> Result<(), LogError> {
    let wrong_len =
        |expected: usize| LogError::WrongProofLength { proof: ProofKind::Consistency, expected, got: proof.len() };
    let mismatch = |which, computed: &Hash, claimed: &Hash| LogError::RootMismatch {
        proof: ProofKind::Consistency,
        which,
        computed: *computed,
        claimed: *claimed,
    };
    if m > n {
        return Err(LogError::SizesOutOfOrder { old: m, new: n });
    }
    if m == 0 || m == n {
        if !proof.is_empty() {
            return Err(wrong_len(0));
        }
        if m == 0 && *root_m != EMPTY_ROOT {
            return Err(mismatch("old root (the empty tree)", &EMPTY_ROOT, root_m));
        }
        if m == n && root_m != root_n {
            return Err(mismatch("new root (same size as the old)", root_m, root_n));
        }
        return Ok(());
    }

    // The proof omits the old root when the old tree is one complete subtree.
    let shift = m.trailing_zeros();
    let (inner, border) = inclusion_len(m - 1, n);
    let old_is_complete = m.is_power_of_two();
    let expected = usize::from(!old_is_complete) + (inner - shift + border) as usize;
    if proof.len() != expected {
        return Err(wrong_len(expected));
    }

    // Step 2: if m is a power of 2, prepend root_m to the path.
    let (seed, rest) = if old_is_complete {
        (root_m, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(wrong_len(expected)),
        }
    };
    // Steps 3-5.
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(wrong_len(expected));
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(wrong_len(expected));
    }
    if fr != *root_m {
        return Err(mismatch("old root", &fr, root_m));
    }
    if sr != *root_n {
        return Err(mismatch("new root", &sr, root_n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_lengths_match_known_shapes() {
        // Leaf 0 of 1: no siblings. Leaf 3 of 4: two. Leaf 4 of 5: one (the left
        // complete subtree of 4). Leaf 0 of 5: three.
        assert_eq!(inclusion_len(0, 1), (0, 0));
        assert_eq!(inclusion_len(3, 4), (0, 2));
        assert_eq!(inclusion_len(4, 5), (0, 1));
        assert_eq!(inclusion_len(0, 5), (3, 0));
        assert_eq!(inclusion_len(u64::MAX - 1, u64::MAX), (0, 63));
    }

    #[test]
    fn edges_of_the_consistency_check() {
        let a = [1; 32];
        assert_eq!(verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]), Ok(()));
        assert_eq!(verify_consistency(0, 7, &EMPTY_ROOT, &a, &[]), Ok(()));
        assert_eq!(verify_consistency(3, 3, &a, &a, &[]), Ok(()));
        assert!(matches!(verify_consistency(0, 7, &a, &a, &[]), Err(LogError::RootMismatch { .. })));
        assert!(matches!(verify_consistency(0, 7, &EMPTY_ROOT, &a, &[a]), Err(LogError::WrongProofLength { .. })));
        assert!(matches!(verify_consistency(3, 3, &a, &[2; 32], &[]), Err(LogError::RootMismatch { .. })));
        assert!(matches!(verify_consistency(3, 3, &a, &a, &[a]), Err(LogError::WrongProofLength { .. })));
        assert_eq!(verify_consistency(4, 3, &a, &a, &[]), Err(LogError::SizesOutOfOrder { old: 4, new: 3 }));
        assert!(matches!(
            verify_consistency(1, 2, &a, &a, &[]),
            Err(LogError::WrongProofLength { expected: 1, got: 0, .. })
        ));
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let a = [1; 32];
        assert!(verify_inclusion(&a, u64::MAX, u64::MAX, &[], &a).is_err());
        assert!(verify_inclusion(&a, u64::MAX - 1, u64::MAX, &[a; 63], &a).is_err());
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &a, &a, &[a; 64]).is_err());
        assert!(verify_consistency(1 << 63, u64::MAX, &a, &a, &[a; 63]).is_err());
    }
}
