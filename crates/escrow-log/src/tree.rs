//! An append-only Merkle tree (RFC 9162 §2.1) that answers for every earlier size.
//!
//! The tree keeps, per level k, the hash of every *complete* subtree of 2^k leaves:
//! `levels[k][j]` covers leaves `j·2^k .. (j+1)·2^k`. A complete subtree never
//! changes once its last leaf is appended, so the cache is valid for every later
//! tree size too. Any `MTH(D[start..start+len])` the RFC recursions need is then a
//! right-leaning fold of at most log2(n) cached subtrees (only a range touching the
//! ragged right edge of a tree of size n needs more than one), which makes
//! `root(n)`, `inclusion_proof` and `consistency_proof` O(log n) hash operations
//! for any n up to the current size. Memory: about 2n hashes (64 MB per million).

use std::fmt;

use crate::error::LogError;
use crate::hash::{node_hash, Hash, EMPTY_ROOT};

/// An in-memory RFC 6962 Merkle tree over leaf hashes.
#[derive(Clone, Default)]
pub struct MerkleTree {
    /// `levels[k][j]` = hash of the complete subtree of 2^k leaves starting at j·2^k.
    levels: Vec<Vec<Hash>>,
}

impl fmt::Debug for MerkleTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleTree").field("size", &self.size()).finish_non_exhaustive()
    }
}

/// Converts a tree position to a vector index. Positions are below the number of
/// leaves held in memory, so they fit in `usize` on every platform that holds them.
fn pos(v: u64) -> usize {
    usize::try_from(v).expect("tree positions are below the in-memory leaf count")
}

/// The largest power of two strictly below `len` (`k` in RFC 9162 §2.1.1), len ≥ 2.
fn split(len: u64) -> u64 {
    debug_assert!(len >= 2);
    1 << (63 - (len - 1).leading_zeros())
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a tree from stored leaf hashes, in log order.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaf_hashes: I) -> Self {
        let iter = leaf_hashes.into_iter();
        let mut tree = MerkleTree { levels: vec![Vec::with_capacity(iter.size_hint().0)] };
        for h in iter {
            tree.append(h);
        }
        tree
    }

    /// Appends one leaf hash (see [`leaf_hash`](crate::leaf_hash)) and returns its
    /// index. Amortised cost: two hash operations.
    pub fn append(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.size();
        let mut carry = leaf_hash;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = self.levels.get_mut(level).expect("the level was just ensured to exist");
            row.push(carry);
            // A row of even length just completed a pair: their parent is complete too.
            match row.as_slice() {
                [.., left, right] if row.len() % 2 == 0 => {
                    carry = node_hash(left, right);
                    level += 1;
                }
                _ => break,
            }
        }
        index
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// The leaf hash at `index`, if the tree has it.
    pub fn leaf_hash(&self, index: u64) -> Option<&Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?)
    }

    /// The root of the tree as it was at size `n` (`MTH(D[0:n])`), for any
    /// `n <= size()`.
    pub fn root(&self, n: u64) -> Result<Hash, LogError> {
        self.check_size(n)?;
        Ok(if n == 0 { EMPTY_ROOT } else { self.subtree(0, n) })
    }

    /// The inclusion proof of leaf `index` in the tree of size `n`
    /// (`PATH(index, D[0:n])`, RFC 6962 §2.1.1), leaf-to-root order.
    pub fn inclusion_proof(&self, index: u64, n: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(n)?;
        if index >= n {
            return Err(LogError::IndexOutOfRange { index, size: n });
        }
        let mut proof = Vec::with_capacity(64);
        self.path(index, 0, n, &mut proof);
        Ok(proof)
    }

    /// The consistency proof from size `m` to size `n` (`PROOF(m, D[0:n])`,
    /// RFC 6962 §2.1.2). Empty when `m == 0` or `m == n`: every tree extends the empty
    /// tree, and a tree is consistent with itself.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(n)?;
        if m > n {
            return Err(LogError::SizesOutOfOrder { old: m, new: n });
        }
        let mut proof = Vec::with_capacity(64);
        if m > 0 && m < n {
            self.subproof(m, 0, n, true, &mut proof);
        }
        Ok(proof)
    }

    fn check_size(&self, n: u64) -> Result<(), LogError> {
        let size = self.size();
        if n > size {
            return Err(LogError::SizeBeyondTree { requested: n, size });
        }
        Ok(())
    }

    /// The cached complete subtree of 2^level leaves starting at leaf `start`.
    fn complete(&self, level: u32, start: u64) -> &Hash {
        debug_assert_eq!(start % (1 << level), 0, "complete subtrees are aligned");
        self.levels
            .get(pos(u64::from(level)))
            .and_then(|row| row.get(pos(start >> level)))
            .expect("callers ask only for complete subtrees inside the tree")
    }

    /// `MTH(D[start..start+len])` for a range the RFC recursion produces: `start` is
    /// a multiple of the largest power of two not above `len`, and the range lies
    /// inside the tree.
    fn subtree(&self, start: u64, len: u64) -> Hash {
        if len.is_power_of_two() {
            return *self.complete(len.trailing_zeros(), start);
        }
        let k = split(len);
        node_hash(self.complete(k.trailing_zeros(), start), &self.subtree(start + k, len - k))
    }

    /// `PATH(m, D[start..start+len])`, appended to `out` (RFC 6962 §2.1.1).
    fn path(&self, m: u64, start: u64, len: u64, out: &mut Vec<Hash>) {
        if len <= 1 {
            return;
        }
        let k = split(len);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.subtree(start + k, len - k));
        } else {
            self.path(m - k, start + k, len - k, out);
            out.push(self.subtree(start, k));
        }
    }

    /// `SUBPROOF(m, D[start..start+len], complete)`, appended to `out` (RFC 6962
    /// §2.1.2); `complete` is the RFC's `b`: the old tree is a complete subtree
    /// whose root the verifier already has.
    fn subproof(&self, m: u64, start: u64, len: u64, complete: bool, out: &mut Vec<Hash>) {
        if m == len {
            if !complete {
                out.push(self.subtree(start, len));
            }
            return;
        }
        let k = split(len);
        if m <= k {
            self.subproof(m, start, k, complete, out);
            out.push(self.subtree(start + k, len - k));
        } else {
            self.subproof(m - k, start + k, len - k, false, out);
            out.push(self.subtree(start, k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn split_is_largest_power_of_two_below() {
        for (len, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1 << 40, 1 << 39), (u64::MAX, 1 << 63)] {
            assert_eq!(split(len), k, "len {len}");
        }
    }

    #[test]
    fn queries_beyond_the_tree_name_the_sizes() {
        let tree = MerkleTree::from_leaf_hashes((0u8..5).map(|i| leaf_hash(&[i])));
        assert_eq!(tree.root(6), Err(LogError::SizeBeyondTree { requested: 6, size: 5 }));
        assert_eq!(tree.inclusion_proof(3, 3), Err(LogError::IndexOutOfRange { index: 3, size: 3 }));
        assert_eq!(tree.consistency_proof(4, 2), Err(LogError::SizesOutOfOrder { old: 4, new: 2 }));
        assert_eq!(tree.consistency_proof(0, 5), Ok(vec![]));
        assert_eq!(tree.consistency_proof(5, 5), Ok(vec![]));
        assert_eq!(tree.root(0), Ok(EMPTY_ROOT));
        assert_eq!(tree.leaf_hash(4), Some(&leaf_hash(&[4])));
        assert_eq!(tree.leaf_hash(5), None);
        assert_eq!(format!("{tree:?}"), "MerkleTree { size: 5, .. }");
    }
}
