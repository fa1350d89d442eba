//! The pure transparency-log core of escrow: no IO, no async, no storage.
//!
//! Every trustee appends every event to its own append-only log; auditors check
//! that the log only ever grew and that each entry they rely on is in it
//! (design: docs/design.md, "Logs"). This crate holds the mathematics and the formats:
//!
//! - [`hash`]: RFC 6962 / RFC 9162 §2.1.1 leaf and node hashing.
//! - [`tree`]: an in-memory [`MerkleTree`] that serves roots, inclusion proofs and
//!   consistency proofs for any earlier size in O(log n) hashes.
//! - [`proof`]: [`verify_inclusion`] and [`verify_consistency`], the RFC 9162
//!   §2.1.3.2 / §2.1.4.2 algorithms, with errors that say what failed.
//! - [`checkpoint`]: signed tree heads in the C2SP `tlog-checkpoint` format.
//! - [`cosignature`]: witness cosignatures in the C2SP `tlog-cosignature` format
//!   (`cosignature/v1`: [`WitnessSigner`], [`WitnessVerifier`]).
//! - [`witness`]: the C2SP `tlog-witness` `add-checkpoint` request and the decision
//!   a witness makes on it, without HTTP or storage.
//! - [`policy`]: C2SP `tlog-policy` files: known logs, known witnesses, the quorum.
//! - [`note`]: the C2SP `signed-note` format with Ed25519 keys
//!   ([`CheckpointSigner`], [`CheckpointVerifier`]), compatible with
//!   `golang.org/x/mod/sumdb/note`.
//!
//! Storage is the caller's: a trustee keeps entries (and their leaf hashes) in its
//! database and rebuilds the tree with [`MerkleTree::from_leaf_hashes`] on start.
//! No input makes these functions panic; every size is bounded.
//!
//! ```
//! use escrow_log::*;
//! # fn main() -> Result<(), LogError> {
//! let mut rng = rand::rngs::OsRng;
//! let mut tree = MerkleTree::new();
//! for event in ["warrant received", "warrant approved", "shares released"] {
//!     tree.append(leaf_hash(event.as_bytes()));
//! }
//! // The trustee signs its tree head...
//! let signer = CheckpointSigner::generate("trustee-1.example/log", &mut rng)?;
//! let note = signer.sign(&Checkpoint::new("trustee-1.example/log", tree.size(), tree.root(tree.size())?)?);
//! // ...and an auditor who knows only the verifier key checks it, then a proof.
//! let verifier: CheckpointVerifier = signer.verifier().to_string().parse()?;
//! let checkpoint = verifier.verify(note.as_bytes())?;
//! let proof = tree.inclusion_proof(1, checkpoint.size())?;
//! verify_inclusion(&leaf_hash(b"warrant approved"), 1, checkpoint.size(), &proof, checkpoint.root())?;
//! // Later, after more appends, the log proves it only grew.
//! tree.append(leaf_hash(b"warrant revoked"));
//! let consistency = tree.consistency_proof(checkpoint.size(), tree.size())?;
//! verify_consistency(checkpoint.size(), tree.size(), checkpoint.root(), &tree.root(tree.size())?, &consistency)?;
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod cosignature;
pub mod error;
pub mod event;
pub mod hash;
pub mod note;
pub mod policy;
pub mod proof;
pub mod publication;
pub mod tree;
pub mod witness;

/// The origin line of trustee `trustee_id`'s log checkpoints:
/// `escrow-trustee/<trustee id>`. The one place that name is made.
pub fn trustee_origin(trustee_id: &str) -> String {
    format!("escrow-trustee/{trustee_id}")
}

pub use checkpoint::Checkpoint;
pub use cosignature::{CosignatureV1, WitnessSigner, WitnessVerifier};
pub use error::{LogError, ProofKind};
pub use event::Text;
pub use hash::{hash_from_slice, leaf_hash, node_hash, Hash, EMPTY_ROOT, HASH_LEN};
pub use note::{CheckpointSigner, CheckpointVerifier, Ed25519, KeyType, VerifierKey};
pub use policy::{Policy, WitnessedCheckpoint};
pub use proof::{verify_consistency, verify_inclusion};
pub use tree::MerkleTree;
