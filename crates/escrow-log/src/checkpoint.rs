//! Checkpoints: signed tree heads in the C2SP `tlog-checkpoint` format.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard base64>
//!
//! — <key name> <signature>
//! ```
//!
//! This crate writes no extension lines and refuses notes that carry any: an
//! extension line is not auditable, and nothing in escrow needs one. Parsing is
//! strict (canonical decimal and base64, no stray whitespace) so that one checkpoint
//! has exactly one text, and it happens only after the signature verified.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::error::LogError;
use crate::hash::Hash;
use crate::note::{open_note, CheckpointSigner, CheckpointVerifier};

/// Origins longer than this are refused (the whole note stays far below its limit).
pub const MAX_ORIGIN_LEN: usize = 1024;

/// A log's tree head: which log, how many entries, and the root over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

/// An origin is non-empty, at most [`MAX_ORIGIN_LEN`] bytes, has no control
/// characters and no leading or trailing whitespace.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin.is_empty() {
        return Err("empty origin");
    }
    if origin.len() > MAX_ORIGIN_LEN {
        return Err("origin longer than 1024 bytes");
    }
    if origin.chars().any(char::is_control) {
        return Err("control character in origin");
    }
    if origin.starts_with(char::is_whitespace) || origin.ends_with(char::is_whitespace) {
        return Err("whitespace around origin");
    }
    Ok(())
}

/// Parses a tree size: ASCII digits, no sign, no leading zeros (except `0` itself).
fn parse_size(line: &str) -> Option<u64> {
    let canonical =
        !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) && (line == "0" || !line.starts_with('0'));
    if canonical {
        line.parse().ok()
    } else {
        None
    }
}

impl Checkpoint {
    /// A checkpoint for the log named `origin` at `size` entries with root `root`.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, LogError> {
        let origin = origin.into();
        check_origin(&origin).map_err(|reason| LogError::InvalidInput { what: "checkpoint origin", reason })?;
        Ok(Checkpoint { origin, size, root })
    }

    /// The log's identity (first line).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of entries the root covers.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root hash over the first `size` entries.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parses note text that a signature has already authenticated.
    fn parse_body(text: &str) -> Result<Self, LogError> {
        let (checkpoint, extensions) = Self::parse_head(text)?;
        if extensions {
            return Err(LogError::MalformedCheckpoint("extension lines are not accepted".to_owned()));
        }
        Ok(checkpoint)
    }

    /// Parses the three checkpoint lines of (verified) note `text` and says whether
    /// extension lines follow them. A witness accepts other logs' extension lines and
    /// cosigns them with the rest; escrow's own logs never write any.
    pub(crate) fn parse_head(text: &str) -> Result<(Self, bool), LogError> {
        let bad = |reason: &str| LogError::MalformedCheckpoint(reason.to_owned());
        let body = text.strip_suffix('\n').ok_or_else(|| bad("text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_origin(origin).map_err(bad)?;
        let size = lines.next().ok_or_else(|| bad("missing tree size line"))?;
        let size = parse_size(size).ok_or_else(|| bad("tree size is not a canonical decimal number"))?;
        let root = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let mut hash = [0u8; 32];
        if root.len() != 44 || B64.decode_slice(root, &mut hash).ok() != Some(32) {
            return Err(bad("root hash is not the standard base64 of 32 bytes"));
        }
        let mut extensions = false;
        for line in lines {
            if line.is_empty() {
                return Err(bad("empty extension line"));
            }
            extensions = true;
        }
        Ok((Checkpoint { origin: origin.to_owned(), size, root: hash }, extensions))
    }
}

impl CheckpointSigner {
    /// Signs `checkpoint`, returning the signed note text.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        // A valid origin makes valid note text: no control characters, one newline
        // per line, and at most ~1.2 KiB.
        self.sign_text(&checkpoint.body())
    }
}

impl CheckpointVerifier {
    /// Verifies a signed checkpoint note: size limit, note syntax, then this key's
    /// signature over the exact body bytes, and only then the checkpoint body.
    /// Signatures by other keys are ignored. The caller checks the origin (or uses
    /// [`verify_for_origin`](Self::verify_for_origin)).
    pub fn verify(&self, note: &[u8]) -> Result<Checkpoint, LogError> {
        Checkpoint::parse_body(open_note(note, self)?)
    }

    /// [`verify`](Self::verify), and checks the checkpoint names log `origin`.
    pub fn verify_for_origin(&self, note: &[u8], origin: &str) -> Result<Checkpoint, LogError> {
        let checkpoint = self.verify(note)?;
        if checkpoint.origin != origin {
            return Err(LogError::OriginMismatch { expected: origin.to_owned(), got: checkpoint.origin });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_canonical() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("20852163"), Some(20_852_163));
        assert_eq!(parse_size("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "00", "01", "+1", "-1", " 1", "1 ", "1e3", "18446744073709551616", "١"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn origins_are_checked() {
        for bad in ["", " a", "a ", "a\u{7f}", "a\u{85}b", "a\rb", &"o".repeat(1025)] {
            assert!(Checkpoint::new(bad, 0, [0; 32]).is_err(), "{bad:?}");
        }
        assert!(Checkpoint::new("example.com/behind-the-sofa", 0, [0; 32]).is_ok());
    }
}
