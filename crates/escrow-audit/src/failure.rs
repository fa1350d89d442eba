//! What can go wrong in an audit, as data: [`AuditFailure`] (a log that does not
//! verify), [`OpeningProblem`] (an opening that does not match its commitment) and
//! [`ReleaseFinding`] (a release that the opened details show was wrong). Pure: the
//! checks in [`crate::check`] build them, the fetcher only adds transport failures.

use std::path::PathBuf;

use escrow_log::Hash;

use crate::{short_hex, utc_date};

/// The first 16 hex digits of a hex string, for messages.
fn prefix(hex: &str) -> String {
    format!("{}…", hex.get(..16).unwrap_or(hex))
}

/// The two checkpoints of a split view: what the trustee served and what a witness
/// cosigned, both signed by the trustee's log key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitViews {
    /// What the trustee served.
    pub served_size: u64,
    /// Its root, hex.
    pub served_root: String,
    /// What the witness cosigned.
    pub witnessed_size: u64,
    /// Its root, hex.
    pub witnessed_root: String,
    /// What the check said.
    pub error: String,
}

/// What broke in one trustee's log. Every message starts with the trustee (its log
/// origin, or its address when the origin is not known yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditFailure {
    /// The trustee could not be reached.
    #[error("{trustee}: unreachable: {error}")]
    Unreachable {
        /// Origin or address.
        trustee: String,
        /// Transport error.
        error: String,
    },
    /// The trustee answered a call with an error.
    #[error("{trustee}: {call} refused: {error}")]
    Rpc {
        /// Origin or address.
        trustee: String,
        /// Which call, with its arguments.
        call: String,
        /// Status code and message.
        error: String,
    },
    /// The trustee served something malformed (checkpoint text, key, proof hash, pages).
    #[error("{trustee}: malformed {what}: {error}")]
    Malformed {
        /// Origin or address.
        trustee: String,
        /// What was malformed.
        what: &'static str,
        /// Why.
        error: String,
    },
    /// The checkpoint is not signed by the (pinned) key for its origin.
    #[error("{trustee}: checkpoint signature does not verify: {error}")]
    BadSignature {
        /// Origin.
        trustee: String,
        /// Why.
        error: String,
    },
    /// The trustee serves a different verifier key from the one pinned on first use.
    #[error("{trustee}: key changed: pinned {pinned}, now serving {served}")]
    KeyChanged {
        /// Origin.
        trustee: String,
        /// The pinned verifier key text.
        pinned: String,
        /// The key served now.
        served: String,
    },
    /// The checkpoint is smaller than one seen before.
    #[error("{trustee}: log shrank from {old} to {new}")]
    Shrank {
        /// Origin.
        trustee: String,
        /// Size seen before.
        old: u64,
        /// Size now.
        new: u64,
    },
    /// No consistency between the stored checkpoint and the new one: history rewritten.
    #[error(
        "{trustee}: history rewritten: no consistency between size {old_size} (root {}) and size {new_size} (root {}): {error}",
        prefix(.old_root), prefix(.new_root)
    )]
    Forked {
        /// Origin.
        trustee: String,
        /// Size seen before.
        old_size: u64,
        /// Root seen before, hex.
        old_root: String,
        /// Size now.
        new_size: u64,
        /// Root now, hex.
        new_root: String,
        /// What the proof check said.
        error: String,
    },
    /// The trustee's log is not in the deployment's witness policy (no pinned key).
    #[error("{trustee}: not in the witness policy: no log key is pinned for origin {origin:?}")]
    NotPinned {
        /// Address.
        trustee: String,
        /// The origin it claims.
        origin: String,
    },
    /// **Split view**: the trustee showed this auditor a checkpoint that is not
    /// consistent with one its witnesses cosigned. Signed by the trustee's own key, so
    /// the trustee (or whoever holds its log key) showed two histories.
    #[error(
        "{trustee}: SPLIT VIEW: served size {} (root {}) is not consistent with size {} (root {}) cosigned by witness {witness}: {}",
        .views.served_size, prefix(&.views.served_root), .views.witnessed_size, prefix(&.views.witnessed_root), .views.error
    )]
    SplitView {
        /// Origin.
        trustee: String,
        /// The witness (policy name) whose view disagrees.
        witness: String,
        /// The two checkpoints and what the check said.
        views: Box<SplitViews>,
    },
    /// The trustee served an older checkpoint than its witnesses cosigned: entries the
    /// world can see are hidden from this auditor.
    #[error("{trustee}: served size {served_size}, but witness {witness} cosigned size {witnessed_size} of this log")]
    BehindWitnesses {
        /// Origin.
        trustee: String,
        /// The witness.
        witness: String,
        /// What the trustee served.
        served_size: u64,
        /// What the witness cosigned.
        witnessed_size: u64,
    },
    /// The root over the served entries is not the checkpoint's.
    #[error(
        "{trustee}: root recomputed from {entries} entries is {} but the checkpoint says {} for {size} entries",
        prefix(.computed), prefix(.claimed)
    )]
    RootMismatch {
        /// Origin.
        trustee: String,
        /// Entries served.
        entries: u64,
        /// Checkpoint size.
        size: u64,
        /// Root recomputed from the entries, hex.
        computed: String,
        /// Root in the signed checkpoint, hex.
        claimed: String,
    },
    /// An entry does not decode.
    #[error("{trustee}: entry {index} does not decode: {error}")]
    Undecodable {
        /// Origin.
        trustee: String,
        /// Entry index.
        index: u64,
        /// Why.
        error: String,
    },
    /// A sealed-details opening does not match what the log committed to.
    #[error("{trustee}: sealed details of warrant {warrant} (entry {index}) refused: {what}")]
    OpeningMismatch {
        /// Origin.
        trustee: String,
        /// Warrant id, hex.
        warrant: String,
        /// Index of the WarrantReceived entry.
        index: u64,
        /// What does not match (boxed: it is rare and large).
        what: Box<OpeningProblem>,
    },
    /// The reveal time has passed but the trustee does not serve the opening.
    #[error("{trustee}: sealed details of warrant {warrant} (entry {index}) withheld past reveal time {reveal_at} (now {now}): {error}")]
    OpeningWithheld {
        /// Origin.
        trustee: String,
        /// Warrant id, hex.
        warrant: String,
        /// Index of the WarrantReceived entry.
        index: u64,
        /// When the log says the details open.
        reveal_at: u64,
        /// The auditor's time.
        now: u64,
        /// The trustee's answer.
        error: String,
    },
    /// The auditor's own state could not be read or written.
    #[error("{trustee}: auditor state {}: {error}", .path.display())]
    State {
        /// Origin.
        trustee: String,
        /// The state file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// Why a sealed-details opening was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpeningProblem {
    /// The nonce is not 32 bytes.
    #[error("the nonce is {0} bytes, not 32")]
    NonceLength(usize),
    /// SHA-256(nonce ‖ warrant) is not the logged commitment.
    #[error(
        "the opening does not match the commitment: SHA-256(nonce ‖ warrant) is {} but the log committed to {}",
        short_hex(.opened), short_hex(.committed)
    )]
    Commitment {
        /// What the opening hashes to.
        opened: Hash,
        /// What the log committed to.
        committed: Hash,
    },
    /// Without court keys only the framing is checked: the blob carries another id.
    #[error("the opened warrant carries id {}", .carried.map(hex::encode).unwrap_or_else(|| "none (not a warrant blob)".into()))]
    FramedId {
        /// The id the blob carries, if it is a warrant blob at all.
        carried: Option<[u8; 16]>,
    },
    /// The opened warrant does not verify under any of the given court keys.
    #[error("the opened warrant does not verify under the given court keys: {0}")]
    Signature(escrow_crypto::Error),
    /// The opened (signed) warrant says something other than the log.
    #[error("the log says {field} {logged} but the opened warrant says {opened}")]
    Differs {
        /// Which public term.
        field: &'static str,
        /// As logged.
        logged: String,
        /// As signed by the court.
        opened: String,
    },
}

/// A release that the opened details show was wrong. Each names the trustee (origin),
/// the warrant and the released item (its position in the opening, or for day keys the
/// log entry that released it and the key's epoch and day).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseFinding {
    /// The disclosed label or field does not decode.
    #[error("{trustee}: warrant {}, released item {item} does not decode", hex::encode(.warrant))]
    Undecodable {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// Position in the opening.
        item: usize,
    },
    /// A disclosed field whose fingerprint no `SharesReleased` entry records.
    #[error("{trustee}: warrant {}, released item {item}: field {} was never logged as released", hex::encode(.warrant), short_hex(.field))]
    NeverLogged {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// Position in the opening.
        item: usize,
        /// The field's fingerprint.
        field: Hash,
    },
    /// The label names an epoch whose key the log never installed.
    #[error("{trustee}: warrant {}, released item {item}: no installed key for epoch {epoch}", hex::encode(.warrant))]
    NoEpochKey {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// Position in the opening.
        item: usize,
        /// The label's epoch.
        epoch: u64,
    },
    /// The field is not valid for the disclosed label (the pairing check fails), so the
    /// label shown is not the one the sender bound.
    #[error("{trustee}: warrant {}, released item {item}: the field is not valid for the disclosed label", hex::encode(.warrant))]
    InvalidForLabel {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// Position in the opening.
        item: usize,
    },
    /// The label lies outside the warrant's scope.
    #[error("{trustee}: warrant {}, released item {item}: released OUTSIDE the warrant's scope ({reason})", hex::encode(.warrant))]
    OutOfScope {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// Position in the opening.
        item: usize,
        /// Which scope rule the label breaks.
        reason: escrow_crypto::Error,
    },
    /// A logged release whose item the opening does not disclose.
    #[error("{trustee}: warrant {}: released field {} was not disclosed in the opening", hex::encode(.warrant), short_hex(.field))]
    NotDisclosed {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// The logged fingerprint.
        field: Hash,
    },
    /// A logged day key whose party tag is the tag of none of the opened warrant's
    /// targets (`party_tag(signed warrant, target)`): a day key for someone the court
    /// did not name, or one tagged under another warrant.
    #[error("{trustee}: warrant {}, entry {index}: day key for day {day} ({}) of epoch {epoch} names party tag {}, which is none of the warrant's targets: released OUTSIDE its scope", hex::encode(.warrant), utc_date(.day), short_hex(.party))]
    DayKeyNotATarget {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// The `DayKeysReleased` entry.
        index: u64,
        /// The day key's epoch.
        epoch: u64,
        /// Its UTC day (days since 1970-01-01).
        day: u32,
        /// The party tag as logged.
        party: Hash,
    },
    /// Logged day keys for a UTC day no second of which lies in the window the court
    /// signed. One finding per entry, epoch and day; `keys` counts its parties.
    #[error("{trustee}: warrant {}, entry {index}: {keys} day {} for day {day} ({}) of epoch {epoch} released OUTSIDE the signed window [{window_from}, {window_to})", hex::encode(.warrant), if *.keys == 1 { "key" } else { "keys" }, utc_date(.day))]
    DayKeyOutsideWindow {
        /// Origin.
        trustee: String,
        /// Warrant id.
        warrant: [u8; 16],
        /// The `DayKeysReleased` entry.
        index: u64,
        /// The day keys' epoch.
        epoch: u64,
        /// Their UTC day (days since 1970-01-01).
        day: u32,
        /// How many day keys of that epoch and day the entry releases (one per party).
        keys: usize,
        /// The signed window's start.
        window_from: u64,
        /// The signed window's end (exclusive).
        window_to: u64,
    },
}
