//! The decision a C2SP `tlog-witness` makes on an `add-checkpoint` request, without
//! the HTTP, the clock or the storage around it.
//!
//! The request body is an old size line, up to 63 consistency-proof lines, a blank
//! line and a signed checkpoint (c2sp.org/tlog-witness, "add-checkpoint"):
//!
//! ```text
//! old 20852014
//! PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
//! ...
//!
//! example.com/behind-the-sofa
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+...
//! ```
//!
//! A witness answers in two steps so that its store can hold one lock only around
//! the second: [`AddCheckpoint::verify`] checks syntax, origin and log signature
//! (404, 403, 400), then [`Submission::check_against`] checks the old size and the
//! proof against the latest checkpoint this witness cosigned (409, 422). Only a
//! submission that passes both may be recorded and cosigned, and the record must be
//! written before the cosignature leaves, in the same critical section as the check.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::note::{open_note, split_note, CheckpointVerifier, MAX_NOTE_LEN};
use crate::proof::verify_consistency;

/// The most consistency-proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body accepted: a note plus the old size and 63 proof lines.
pub const MAX_REQUEST_LEN: usize = MAX_NOTE_LEN + 32 + MAX_PROOF_LINES * 45 + 1;
/// The `Content-Type` of a 409 response, whose body is the latest size and a newline.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why a witness refuses to cosign, with the HTTP status the spec gives each case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the body does not parse, or the old size is above the checkpoint size.
    BadRequest(String),
    /// 403: no signature on the checkpoint verifies against a key trusted for its
    /// origin.
    Forbidden(String),
    /// 404: this witness does not witness the checkpoint's origin.
    UnknownOrigin(String),
    /// 409: the old size is not the size this witness last cosigned (`latest`), or
    /// the sizes are equal and the roots differ.
    Conflict {
        /// The size of the latest checkpoint this witness cosigned for the origin.
        latest: u64,
        /// Which of the two cases.
        reason: String,
    },
    /// 422: the consistency proof does not verify.
    BadProof(String),
}

impl Refusal {
    /// The HTTP status code c2sp.org/tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::BadProof(_) => 422,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BadRequest(r) => write!(f, "bad request: {r}"),
            Refusal::Forbidden(r) => write!(f, "forbidden: {r}"),
            Refusal::UnknownOrigin(o) => write!(f, "unknown origin {o:?}"),
            Refusal::Conflict { latest, reason } => write!(f, "conflict: {reason} (latest cosigned size {latest})"),
            Refusal::BadProof(r) => write!(f, "consistency proof does not verify: {r}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The logs a witness witnesses: for each origin, the keys it trusts to sign it (more
/// than one while a log rotates its key).
#[derive(Debug, Clone, Default)]
pub struct LogKeys {
    logs: BTreeMap<String, Vec<CheckpointVerifier>>,
}

impl LogKeys {
    /// No logs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for checkpoints of `origin`.
    pub fn add(&mut self, origin: &str, key: CheckpointVerifier) {
        let keys = self.logs.entry(origin.to_owned()).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }

    /// The keys trusted for `origin`.
    pub fn get(&self, origin: &str) -> Option<&[CheckpointVerifier]> {
        self.logs.get(origin).map(Vec::as_slice)
    }

    /// Every witnessed origin, in order.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// How many origins.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }
}

/// A parsed `add-checkpoint` request body (nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the proof starts from.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: String,
}

/// Parses a canonical ASCII decimal (no sign, no leading zeroes except `0` itself).
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

impl AddCheckpoint {
    /// Parses a request body, bounded by [`MAX_REQUEST_LEN`] and [`MAX_PROOF_LINES`].
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let bad = |reason: String| Refusal::BadRequest(reason);
        if body.len() > MAX_REQUEST_LEN {
            return Err(bad(format!("body is {} bytes; the limit is {MAX_REQUEST_LEN}", body.len())));
        }
        let text = std::str::from_utf8(body).map_err(|e| bad(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
        let (old_line, mut rest) = text.split_once('\n').ok_or_else(|| bad("no old size line".into()))?;
        let old = old_line.strip_prefix("old ").ok_or_else(|| bad("first line is not \"old <size>\"".into()))?;
        let old_size = parse_decimal(old).ok_or_else(|| bad("old size is not a canonical decimal".into()))?;
        let mut proof = Vec::new();
        loop {
            let (line, next) =
                rest.split_once('\n').ok_or_else(|| bad("no blank line before the checkpoint".into()))?;
            rest = next;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(format!("more than {MAX_PROOF_LINES} consistency proof lines")));
            }
            let mut hash = [0u8; 32];
            if line.len() != 44 || B64.decode_slice(line, &mut hash).ok() != Some(32) {
                return Err(bad(format!("proof line {} is not the base64 of a 32-byte hash", proof.len() + 1)));
            }
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(bad("no checkpoint".into()));
        }
        Ok(AddCheckpoint { old_size, proof, checkpoint: rest.to_owned() })
    }

    /// The request body, byte for byte as the spec lays it out.
    pub fn to_body(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            out.push_str(&B64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Checks syntax, origin and the log's signature: 404 for an origin not in
    /// `logs`, 403 when no trusted key's signature verifies (or a trusted key's line
    /// is forged), 400 for a malformed note or an old size above the new one.
    pub fn verify(self, logs: &LogKeys) -> Result<Submission, Refusal> {
        let bad = |reason: String| Refusal::BadRequest(reason);
        // The origin is read before any signature is checked only to choose the keys.
        let (text, _) = split_note(self.checkpoint.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let origin = text.split('\n').next().unwrap_or_default();
        let keys = logs.get(origin).ok_or_else(|| Refusal::UnknownOrigin(origin.to_owned()))?;
        let mut verified = None;
        let mut last_error = None;
        for key in keys {
            match open_note(self.checkpoint.as_bytes(), key) {
                Ok(text) => {
                    verified = Some(text);
                }
                Err(e) => last_error = Some(e),
            }
        }
        let text = verified.ok_or_else(|| {
            Refusal::Forbidden(last_error.map_or_else(|| "no trusted key".to_owned(), |e| e.to_string()))
        })?;
        let (checkpoint, _) = Checkpoint::parse_head(text).map_err(|e| bad(e.to_string()))?;
        if self.old_size > checkpoint.size() {
            return Err(bad(format!("old size {} is above the checkpoint size {}", self.old_size, checkpoint.size())));
        }
        if self.old_size == 0 && !self.proof.is_empty() {
            return Err(bad("a consistency proof from size 0 must be empty".into()));
        }
        let text = text.to_owned();
        Ok(Submission { old_size: self.old_size, proof: self.proof, note: self.checkpoint, text, checkpoint })
    }
}

/// A request whose checkpoint is signed by a trusted key of a witnessed origin.
#[derive(Debug, Clone)]
pub struct Submission {
    old_size: u64,
    proof: Vec<Hash>,
    note: String,
    text: String,
    checkpoint: Checkpoint,
}

/// What a witness records per origin: the latest checkpoint it cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

impl Submission {
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note text (the part a cosignature covers, extension lines included).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signed note as submitted (log signature lines included).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Checks the submission against `latest`, the checkpoint this witness last
    /// cosigned for the origin (`None` if never): 409 if the old size is not its size
    /// or if the sizes match and the roots do not, 422 if the proof fails. On `Ok` the
    /// caller records this checkpoint as the new latest, then cosigns it.
    pub fn check_against(&self, latest: Option<&Latest>) -> Result<(), Refusal> {
        let latest_size = latest.map_or(0, |l| l.size);
        if self.old_size != latest_size {
            return Err(Refusal::Conflict {
                latest: latest_size,
                reason: format!("old size {} is not the latest cosigned size", self.old_size),
            });
        }
        let Some(latest) = latest else {
            return Ok(());
        };
        let (size, root) = (self.checkpoint.size(), self.checkpoint.root());
        if self.old_size == size {
            if root != &latest.root {
                return Err(Refusal::Conflict {
                    latest: latest_size,
                    reason: format!("a different root at the same size {size}"),
                });
            }
            if !self.proof.is_empty() {
                return Err(Refusal::BadProof("a proof between equal sizes must be empty".into()));
            }
            return Ok(());
        }
        if self.old_size == 0 {
            return Ok(());
        }
        verify_consistency(self.old_size, size, &latest.root, root, &self.proof)
            .map_err(|e| Refusal::BadProof(e.to_string()))
    }
}

/// Reads a 409 body (`text/x.tlog.size`): the latest size and a newline.
pub fn parse_conflict_body(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    parse_decimal(text.strip_suffix('\n')?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_bodies_are_canonical() {
        assert_eq!(parse_conflict_body(b"12\n"), Some(12));
        assert_eq!(parse_conflict_body(b"0\n"), Some(0));
        for bad in [&b"12"[..], b"012\n", b" 12\n", b"12\n\n", b"-1\n", b""] {
            assert_eq!(parse_conflict_body(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn statuses_are_the_specs() {
        assert_eq!(Refusal::BadRequest(String::new()).status(), 400);
        assert_eq!(Refusal::Forbidden(String::new()).status(), 403);
        assert_eq!(Refusal::UnknownOrigin(String::new()).status(), 404);
        assert_eq!(Refusal::Conflict { latest: 0, reason: String::new() }.status(), 409);
        assert_eq!(Refusal::BadProof(String::new()).status(), 422);
    }
}
