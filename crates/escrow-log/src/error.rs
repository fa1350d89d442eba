//! Errors that name what failed: which proof, which root, which line, which key.
//!
//! Nothing here is secret (roots, sizes and note text are public), so errors carry
//! the computed and claimed values; an auditor's report can quote them directly.

use std::fmt;

use crate::hash::Hash;

/// Which kind of Merkle proof an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofKind {
    /// An inclusion (audit) proof: RFC 9162 §2.1.3.
    Inclusion,
    /// A consistency proof: RFC 9162 §2.1.4.
    Consistency,
}

impl fmt::Display for ProofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofKind::Inclusion => "inclusion",
            ProofKind::Consistency => "consistency",
        })
    }
}

/// Everything that can go wrong in `escrow-log`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A log entry does not decode or cannot be encoded.
    #[error("invalid log entry: {0}")]
    InvalidEntry(&'static str),
    /// A tree size was asked of a tree that does not have that many entries yet.
    #[error("tree size {requested} is beyond the log's {size} entries")]
    SizeBeyondTree {
        /// The size asked for.
        requested: u64,
        /// The number of entries the tree holds.
        size: u64,
    },
    /// A leaf index is not inside the tree it is claimed to be in.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size it was checked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("consistency from size {old} to size {new}: the old tree is larger than the new one")]
    SizesOutOfOrder {
        /// The size claimed as older.
        old: u64,
        /// The size claimed as newer.
        new: u64,
    },
    /// A proof has the wrong number of hashes for the sizes (and index) it claims.
    #[error("{proof} proof has {got} hashes; {expected} expected for these sizes")]
    WrongProofLength {
        /// Which proof.
        proof: ProofKind,
        /// The length these sizes require.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A proof does not lead to the root it is checked against.
    #[error("{proof} proof does not match the {which}: computed {}, claimed {}", hex::encode(.computed), hex::encode(.claimed))]
    RootMismatch {
        /// Which proof.
        proof: ProofKind,
        /// Which root failed ("tree root", "old root", "new root").
        which: &'static str,
        /// The root the proof leads to.
        computed: Hash,
        /// The root it was checked against.
        claimed: Hash,
    },
    /// A byte string that should be a SHA-256 hash has another length.
    #[error("{what} is {len} bytes; a SHA-256 hash is 32")]
    BadHashLength {
        /// What the bytes were meant to be.
        what: &'static str,
        /// Their length.
        len: usize,
    },
    /// A signed note is larger than this crate accepts.
    #[error("signed note is {got} bytes; the limit is {max}")]
    NoteTooLarge {
        /// The limit.
        max: usize,
        /// The size given.
        got: usize,
    },
    /// A signed note is not valid UTF-8.
    #[error("signed note is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    /// A signed note's structure is wrong (before any signature is checked).
    #[error("malformed signed note: {0}")]
    MalformedNote(String),
    /// A verified note's text is not a well-formed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// A value given to a constructor is not acceptable (a key name with a space...).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was being constructed.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A key in text form (verifier key, signer key) did not parse.
    #[error("malformed {what}: {reason}")]
    MalformedKey {
        /// Which kind of key.
        what: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A signature line from the expected key is present but does not verify: the
    /// note was altered or the signature forged.
    #[error("signature by {key} does not verify over this note")]
    BadSignature {
        /// The key, as `name+keyid`.
        key: String,
    },
    /// The note carries no signature from the expected key (others are ignored).
    #[error("note has no signature by {key}")]
    NoSignature {
        /// The key, as `name+keyid`.
        key: String,
    },
    /// A verified checkpoint names another log than the one expected.
    #[error("checkpoint is for origin {got:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller expected.
        expected: String,
        /// The origin in the checkpoint.
        got: String,
    },
    /// A tlog-policy file does not parse (line 0: the file as a whole).
    #[error("malformed policy, line {line}: {reason}")]
    MalformedPolicy {
        /// The 1-based line number, or 0 for the whole file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint's origin is not a log the policy lists.
    #[error("no log in the policy has origin {origin:?}")]
    UnknownLog {
        /// The checkpoint's origin.
        origin: String,
    },
    /// A checkpoint's valid cosignatures do not satisfy the policy's quorum.
    #[error("witness quorum ({quorum}) not met: valid cosignatures from [{}]", .cosigned.join(", "))]
    QuorumNotMet {
        /// The quorum, in words.
        quorum: String,
        /// The policy names of the witnesses whose cosignatures did verify.
        cosigned: Vec<String>,
    },
}
