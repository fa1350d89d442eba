//! Party identifiers: users, courts, agencies and trustees are named by a short
//! printable id, so that ids can appear in labels, logs and terminal output without
//! escaping and without homoglyph tricks.

use std::fmt;

use crate::error::Error;

/// Longest id, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// A validated party id: 1 to 64 bytes of `[A-Za-z0-9._@-]`, not starting with `-`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyId(String);

impl PartyId {
    /// Validates `s` as an id.
    pub fn new(s: impl Into<String>) -> Result<Self, Error> {
        let s = s.into();
        match check(&s) {
            Ok(()) => Ok(PartyId(s)),
            Err(reason) => Err(Error::InvalidInput { what: "party id", reason }),
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule for ids, shared by constructors and decoders.
pub(crate) fn check(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > MAX_ID_LEN {
        return Err("longer than 64 bytes");
    }
    if s.starts_with('-') {
        return Err("starts with '-'");
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-')) {
        return Err("only A-Z a-z 0-9 . _ @ - are allowed");
    }
    Ok(())
}

impl fmt::Debug for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PartyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        PartyId::new(s)
    }
}

impl AsRef<str> for PartyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl crate::wire::Reader<'_> {
    /// Reads an id behind a one-byte length and validates it.
    pub(crate) fn party_id(&mut self, field: &'static str) -> Result<PartyId, Error> {
        let s = self.str8(field)?;
        check(s).map_err(|reason| self.err(crate::error::DecodeError::InvalidValue { field, reason }))?;
        Ok(PartyId(s.to_owned()))
    }
}
