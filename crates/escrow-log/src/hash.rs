//! RFC 6962 §2.1 (RFC 9162 §2.1.1) hashing with SHA-256.
//!
//! The one-byte prefixes separate leaves from interior nodes, so no leaf can be
//! passed off as a subtree (the second-preimage attack on plain Merkle trees).

use sha2::{Digest, Sha256};

use crate::error::LogError;

/// Length of every hash in the log (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node or a tree root.
pub type Hash = [u8; HASH_LEN];

/// The root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1: `MTH({}) = HASH()`).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `MTH({d}) = SHA-256(0x00 || d)`: the hash of one log entry.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Reads a hash from untrusted bytes (a proof element or root off the wire),
/// naming `what` if it has the wrong length.
pub fn hash_from_slice(what: &'static str, bytes: &[u8]) -> Result<Hash, LogError> {
    Hash::try_from(bytes).map_err(|_| LogError::BadHashLength { what, len: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn wrong_length_names_the_culprit() {
        assert_eq!(hash_from_slice("root", &[0; 31]), Err(LogError::BadHashLength { what: "root", len: 31 }));
        assert_eq!(hash_from_slice("root", &[7; 32]), Ok([7; 32]));
    }
}
