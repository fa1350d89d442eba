//! The escrow label: what a message *is* for the purposes of lawful access.
//!
//! The label names the key epoch, the message id, the sender, the recipients and the
//! send time. The escrow field is cryptographically bound to the exact label bytes, so
//! a trustee can decide from the label alone whether a field is inside a warrant's
//! scope, and nobody can move a field under another label.

use std::collections::BTreeSet;

use crate::error::{DecodeError, Error};
use crate::id::PartyId;
use crate::keys::EpochId;
use crate::wire::{Alg, Reader, Writer};

/// Most recipients one message may have.
pub const MAX_RECIPIENTS: usize = 32;
/// Longest encoded label: header, epoch, id, sender, count, recipients, timestamp.
pub const MAX_LABEL_LEN: usize = 3 + 8 + 16 + 65 + 1 + MAX_RECIPIENTS * 65 + 8;

/// A 128-bit message id, chosen at random by the sender.
pub type MessageId = [u8; 16];

/// The canonical description of one message, bound into its escrow field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    epoch: EpochId,
    message_id: MessageId,
    sender: PartyId,
    recipients: Vec<PartyId>,
    timestamp: u64,
}

impl Label {
    /// Builds a label. Recipients are sorted and must be distinct, 1 to
    /// [`MAX_RECIPIENTS`] of them; `timestamp` is unix seconds.
    pub fn new(
        epoch: EpochId,
        message_id: MessageId,
        sender: PartyId,
        recipients: impl IntoIterator<Item = PartyId>,
        timestamp: u64,
    ) -> Result<Self, Error> {
        let mut list: Vec<PartyId> = recipients.into_iter().collect();
        let n = list.len();
        list.sort();
        list.dedup();
        if list.len() != n {
            return Err(Error::InvalidInput { what: "label", reason: "duplicate recipient" });
        }
        if list.is_empty() || list.len() > MAX_RECIPIENTS {
            return Err(Error::InvalidInput { what: "label", reason: "1 to 32 recipients required" });
        }
        Ok(Label { epoch, message_id, sender, recipients: list, timestamp })
    }

    /// The key epoch the field is sealed under.
    pub fn epoch(&self) -> EpochId {
        self.epoch
    }
    /// The message id.
    pub fn message_id(&self) -> &MessageId {
        &self.message_id
    }
    /// The sender.
    pub fn sender(&self) -> &PartyId {
        &self.sender
    }
    /// The recipients, in canonical (sorted) order.
    pub fn recipients(&self) -> &[PartyId] {
        &self.recipients
    }
    /// Send time, unix seconds.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// Every party: the sender, then the recipients in canonical order (the order of
    /// an envelope's day fields).
    pub fn parties(&self) -> impl Iterator<Item = &PartyId> {
        std::iter::once(&self.sender).chain(self.recipients.iter())
    }

    /// Whether `user` is the sender or a recipient.
    pub fn involves(&self, user: &PartyId) -> bool {
        &self.sender == user || self.recipients.binary_search(user).is_ok()
    }

    /// The canonical encoding: the exact bytes bound into the escrow field.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::Label);
        w.u64(self.epoch.0);
        w.bytes(&self.message_id);
        w.str8(self.sender.as_str());
        w.u8(u8::try_from(self.recipients.len()).expect("at most 32 recipients, checked at construction"));
        for r in &self.recipients {
            w.str8(r.as_str());
        }
        w.u64(self.timestamp);
        w.finish()
    }

    /// Decodes a label, refusing any non-canonical encoding (unsorted or duplicate
    /// recipients, trailing bytes), so that one label has exactly one encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::Label, MAX_LABEL_LEN)?;
        let label = Self::read(&mut r)?;
        r.finish()?;
        Ok(label)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let epoch = EpochId(r.u64("epoch")?);
        let message_id = r.array("message id")?;
        let sender = r.party_id("sender")?;
        let n = usize::from(r.u8("recipient count")?);
        if n == 0 || n > MAX_RECIPIENTS {
            return Err(r.err(DecodeError::InvalidValue { field: "recipient count", reason: "must be 1 to 32" }));
        }
        let mut recipients: Vec<PartyId> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.party_id("recipient")?;
            if recipients.last().is_some_and(|prev| prev >= &id) {
                return Err(r.err(DecodeError::InvalidValue { field: "recipients", reason: "not strictly ascending" }));
            }
            recipients.push(id);
        }
        let timestamp = r.u64("timestamp")?;
        Ok(Label { epoch, message_id, sender, recipients, timestamp })
    }
}

/// A half-open time window `[from, to)` in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    from: u64,
    to: u64,
}

impl TimeWindow {
    /// `[from, to)`; `from < to` is required.
    pub fn new(from: u64, to: u64) -> Result<Self, Error> {
        if from >= to {
            return Err(Error::InvalidInput { what: "time window", reason: "from must be before to" });
        }
        Ok(TimeWindow { from, to })
    }
    /// First second inside the window.
    pub fn from(&self) -> u64 {
        self.from
    }
    /// First second after the window.
    pub fn to(&self) -> u64 {
        self.to
    }
    /// Length in seconds.
    pub fn len_secs(&self) -> u64 {
        self.to - self.from
    }
    /// Whether `t` is in `[from, to)`.
    pub fn contains(&self, t: u64) -> bool {
        self.from <= t && t < self.to
    }
}

/// What a warrant covers: messages sent or received by any target, sent in the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    targets: BTreeSet<PartyId>,
    window: TimeWindow,
}

/// Which scope rule a label breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Neither the sender nor any recipient is a target.
    #[error("no target of the warrant sent or received this message")]
    NotATarget,
    /// Sent before the window opens.
    #[error("sent at {timestamp}, before the window opens at {from}")]
    BeforeWindow {
        /// Label timestamp.
        timestamp: u64,
        /// Window start.
        from: u64,
    },
    /// Sent at or after the window closes.
    #[error("sent at {timestamp}, at or after the window closes at {to}")]
    AfterWindow {
        /// Label timestamp.
        timestamp: u64,
        /// Window end (exclusive).
        to: u64,
    },
    /// A day key asked for a party the warrant does not name.
    #[error("{0} is not a target of the warrant")]
    PartyNotATarget(String),
    /// A day key asked for a day with no second inside the window.
    #[error("day {day} (from {start}) has no second in the window [{from}, {to})")]
    DayOutsideWindow {
        /// The UTC day.
        day: u32,
        /// Its first second.
        start: u64,
        /// Window start.
        from: u64,
        /// Window end (exclusive).
        to: u64,
    },
}

impl Scope {
    /// A scope over a non-empty set of targets.
    pub fn new(targets: impl IntoIterator<Item = PartyId>, window: TimeWindow) -> Result<Self, Error> {
        let targets: BTreeSet<PartyId> = targets.into_iter().collect();
        if targets.is_empty() {
            return Err(Error::InvalidInput { what: "scope", reason: "no targets" });
        }
        Ok(Scope { targets, window })
    }
    /// The targeted users.
    pub fn targets(&self) -> &BTreeSet<PartyId> {
        &self.targets
    }
    /// The time window.
    pub fn window(&self) -> TimeWindow {
        self.window
    }

    /// Checks that `label` is inside the scope, naming the rule it breaks otherwise.
    pub fn check(&self, label: &Label) -> Result<(), ScopeError> {
        if !self.targets.iter().any(|t| label.involves(t)) {
            return Err(ScopeError::NotATarget);
        }
        let ts = label.timestamp();
        if ts < self.window.from {
            return Err(ScopeError::BeforeWindow { timestamp: ts, from: self.window.from });
        }
        if ts >= self.window.to {
            return Err(ScopeError::AfterWindow { timestamp: ts, to: self.window.to });
        }
        Ok(())
    }
}
