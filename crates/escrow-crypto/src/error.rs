//! Errors that name the culprit: which blob, which field, which trustee, which rule.
//!
//! Only AEAD failures are opaque ([`Error::DecryptionFailed`]): saying *why* an
//! authenticated decryption failed would help an attacker and never helps a user.

use crate::keys::TrusteeIndex;
use crate::label::ScopeError;
use crate::wire::Alg;

/// Everything that can go wrong in `escrow-crypto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blob did not decode.
    #[error("malformed {}: {reason}", .kind.name())]
    Decode {
        /// The kind of blob being decoded.
        kind: Alg,
        /// What was wrong with it.
        reason: DecodeError,
    },
    /// A value given to a constructor is not acceptable (e.g. an id with a space).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was being constructed.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The escrow field's public validity check (the pairing equation binding U, V
    /// and the label) failed: the field was altered or moved to another label.
    #[error("escrow field is invalid for this label")]
    InvalidField,
    /// The escrow field does not carry the message's real data key under its real
    /// label (the recipient's re-encryption check; Blaze 1994).
    #[error("escrow field does not carry this message's data key under its label")]
    FieldMismatch,
    /// A blob belongs to another key epoch than the key it is used with.
    #[error("epoch mismatch: expected epoch {expected}, got {got}")]
    EpochMismatch {
        /// The epoch of the key in use.
        expected: u64,
        /// The epoch named by the blob.
        got: u64,
    },
    /// A decryption share failed verification against its trustee's public key share.
    #[error("decryption share from trustee {trustee} is invalid")]
    InvalidShare {
        /// The trustee whose share is bad.
        trustee: TrusteeIndex,
    },
    /// A share names a trustee index outside the epoch's trustee set.
    #[error("trustee index {index} is outside the epoch's {n} trustees")]
    UnknownTrustee {
        /// The index given.
        index: TrusteeIndex,
        /// The number of trustees in the epoch.
        n: u16,
    },
    /// Two shares from the same trustee were offered.
    #[error("duplicate decryption share from trustee {trustee}")]
    DuplicateShare {
        /// The trustee named twice.
        trustee: TrusteeIndex,
    },
    /// Too few valid shares to open the field; `culprits` sent invalid ones.
    #[error("{valid} valid decryption shares, {needed} needed{}", culprit_list(.culprits))]
    NotEnoughShares {
        /// Valid shares offered.
        valid: usize,
        /// Shares needed (threshold + 1).
        needed: usize,
        /// Trustees whose shares were invalid.
        culprits: Vec<TrusteeIndex>,
    },
    /// Compartmented key: a decryption share is not valid for its group (it fails
    /// verification against that group's public key share, names an index outside
    /// the group, or belongs to another epoch).
    #[error("decryption share from trustee {trustee} of group {group:?} is invalid")]
    GroupInvalidShare {
        /// The group the share was offered for.
        group: String,
        /// The trustee (index within that group) whose share is bad.
        trustee: TrusteeIndex,
    },
    /// Compartmented key: one group sent too few valid shares; `culprits` (indices
    /// within that group) sent invalid ones. Every group must reach its own quorum.
    #[error("group {group:?}: {valid} valid decryption shares, {needed} needed{}", culprit_list(.culprits))]
    GroupNotEnoughShares {
        /// The group short of its quorum.
        group: String,
        /// Valid shares offered from that group.
        valid: usize,
        /// Shares needed from that group (its threshold + 1).
        needed: usize,
        /// Trustees of that group whose shares were invalid.
        culprits: Vec<TrusteeIndex>,
    },
    /// Compartmented key: two shares from the same trustee of one group.
    #[error("duplicate decryption share from trustee {trustee} of group {group:?}")]
    GroupDuplicateShare {
        /// The group.
        group: String,
        /// The trustee named twice.
        trustee: TrusteeIndex,
    },
    /// A signature (envelope sender, court) did not verify.
    #[error("{what} signature does not verify")]
    BadSignature {
        /// Whose signature.
        what: &'static str,
    },
    /// No trusted court key verifies the warrant: forged, altered, or from a court
    /// this party does not trust.
    #[error("no trusted court key verifies this warrant's signature")]
    UntrustedCourt,
    /// A blob is bound to another party than the key offered for it.
    #[error("{what} mismatch: expected {expected:?}, got {got:?}")]
    PartyMismatch {
        /// Which party (sender, court...).
        what: &'static str,
        /// The party named by the key.
        expected: String,
        /// The party named by the blob.
        got: String,
    },
    /// A domain that the deployment does not hold.
    #[error("unknown domain {0:?}")]
    UnknownDomain(String),
    /// The label's composition rule is not the deployment's.
    #[error("the message says rule {got}; this deployment's rule is {expected}")]
    RuleMismatch {
        /// The deployment's rule.
        expected: &'static str,
        /// The rule the label names.
        got: &'static str,
    },
    /// The label gives a party another home than the one certified for it (or the
    /// checker has no certified home for that party).
    #[error("{party:?}'s home: certified {certified}, the message says {labelled}")]
    HomeMismatch {
        /// The party.
        party: String,
        /// The home its certificate names ("none known" if there was none).
        certified: String,
        /// The home the label names.
        labelled: String,
    },
    /// The rule and the parties' homes require a field for this domain, and the
    /// envelope carries none (a field stripped by a rogue client).
    #[error("no escrow field for domain {0:?}, which the rule requires")]
    MissingField(String),
    /// The envelope carries a field for a domain that the rule and the parties'
    /// homes do not call for (a field added by a rogue client).
    #[error("an escrow field for domain {0:?}, which the rule does not call for")]
    UnexpectedField(String),
    /// A day field or day identity names a party that is neither the message's
    /// sender nor one of its recipients.
    #[error("{0:?} is neither the sender nor a recipient of this message")]
    NotAParty(String),
    /// A day key is for another party, day or epoch than the field needs.
    #[error("the day key is for {got}; this field needs {needed}")]
    WrongDayKey {
        /// The day the field is for.
        needed: String,
        /// The day the key is for.
        got: String,
    },
    /// An extraction share failed verification against its trustee's public key share.
    #[error("day-key extraction share from trustee {trustee} is invalid")]
    InvalidExtractionShare {
        /// The trustee whose share is bad.
        trustee: TrusteeIndex,
    },
    /// Too few valid extraction shares for a day key; `culprits` sent invalid ones.
    #[error("{valid} valid day-key extraction shares, {needed} needed{}", culprit_list(.culprits))]
    NotEnoughExtractionShares {
        /// Valid shares offered.
        valid: usize,
        /// Shares needed (threshold + 1).
        needed: usize,
        /// Trustees whose shares were invalid.
        culprits: Vec<TrusteeIndex>,
    },
    /// The caller is not among the envelope's recipients.
    #[error("{0:?} is not a recipient of this envelope")]
    NotARecipient(String),
    /// Authenticated decryption failed (opaque on purpose).
    #[error("decryption failed")]
    DecryptionFailed,
    /// A label is outside a warrant's scope.
    #[error("out of scope: {0}")]
    OutOfScope(#[from] ScopeError),
    /// A warrant is used outside its validity period.
    #[error("warrant {0}")]
    WarrantTime(WarrantTimeError),
    /// A message claims a sender whose key this party has not pinned.
    #[error("no pinned key for trustee {0}")]
    UnpinnedTrustee(String),
    /// An epoch announcement is not signed as it must be; names the trustee.
    #[error("epoch announcement: trustee {trustee} {problem}")]
    AnnouncementSignature {
        /// The trustee whose signature is missing or bad.
        trustee: String,
        /// What is wrong.
        problem: &'static str,
    },
}

fn culprit_list(culprits: &[TrusteeIndex]) -> String {
    if culprits.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = culprits.iter().map(|c| c.to_string()).collect();
        format!("; invalid shares from trustees {}", names.join(", "))
    }
}

/// Why a warrant cannot be used at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WarrantTimeError {
    /// `now` is before the warrant's issue time.
    #[error("is not valid before its issue time {issued_at} (now {now})")]
    NotYetValid {
        /// Issue time, unix seconds.
        issued_at: u64,
        /// The time checked.
        now: u64,
    },
    /// `now` is at or after `valid_until`.
    #[error("expired at {valid_until} (now {now})")]
    Expired {
        /// End of validity, unix seconds (exclusive).
        valid_until: u64,
        /// The time checked.
        now: u64,
    },
}

/// Why a blob did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The whole blob is larger than its kind allows.
    #[error("{got} bytes, at most {max} allowed")]
    TooLong {
        /// Limit.
        max: usize,
        /// Actual size.
        got: usize,
    },
    /// Unknown format version.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The algorithm id is not the one for this blob kind.
    #[error("algorithm id {got:#06x}, expected {expected:#06x}")]
    WrongAlgorithm {
        /// Expected id.
        expected: u16,
        /// Id found.
        got: u16,
    },
    /// The blob ended inside a field.
    #[error("truncated at {0}")]
    Truncated(&'static str),
    /// A string field is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// A length-prefixed field is longer than allowed.
    #[error("{field} is {got} bytes, at most {max} allowed")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Limit.
        max: usize,
        /// Actual length.
        got: usize,
    },
    /// Bytes left over after the last field.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A curve point is not a valid encoding, not on the curve, not in the prime-order
    /// subgroup, or is the identity where that is not allowed.
    #[error("{0} is not a valid curve point")]
    InvalidPoint(&'static str),
    /// A scalar is not canonical (>= the group order) or is zero.
    #[error("{0} is not a valid scalar")]
    InvalidScalar(&'static str),
    /// A field's value breaks a rule of the format.
    #[error("{field}: {reason}")]
    InvalidValue {
        /// Field name.
        field: &'static str,
        /// The rule broken.
        reason: &'static str,
    },
}

impl Error {
    pub(crate) fn decode(kind: Alg, reason: DecodeError) -> Self {
        Error::Decode { kind, reason }
    }
}
