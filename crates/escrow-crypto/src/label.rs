//! The escrow label: what a message *is* for the purposes of lawful access.
//!
//! The label names the key epoch, the message id, the sender, the recipients and the
//! send time. The escrow field is cryptographically bound to the exact label bytes, so
//! a trustee can decide from the label alone whether a field is inside a warrant's
//! scope, and nobody can move a field under another label.
//!
//! In a deployment of several escrow domains (`jurisdiction.rs`), a field's label
//! (v2, [`Alg::DomainLabel`]) also names the field's domain, the composition rule and
//! every party's home, and the envelope carries a [`MessageLabel`]: the same message
//! without an epoch or a field domain, from which each field's label is built.

use std::collections::BTreeSet;

use crate::error::{DecodeError, Error};
use crate::id::PartyId;
use crate::jurisdiction::{Domain, DomainTag, Rule};
use crate::keys::{EpochId, EpochPublicKey};
use crate::wire::{Alg, Reader, Writer};

/// Most recipients one message may have.
pub const MAX_RECIPIENTS: usize = 32;
/// Longest encoded label: header, epoch, id, sender, count, recipients, timestamp.
pub const MAX_LABEL_LEN: usize = 3 + 8 + 16 + 65 + 1 + MAX_RECIPIENTS * 65 + 8;
/// Longest encoded label v2: a label, the rule, the field's domain and a home per party.
pub const MAX_DOMAIN_LABEL_LEN: usize = MAX_LABEL_LEN + 1 + 17 + (MAX_RECIPIENTS + 1) * 17;
/// Longest encoded message label: a label v2 without epoch and field domain.
pub const MAX_MESSAGE_LABEL_LEN: usize = MAX_DOMAIN_LABEL_LEN - 8 - 17;

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
    /// The field's domain, the rule and the parties' homes (label v2); `None` in a
    /// deployment of one domain (label v1).
    tag: Option<DomainTag>,
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
        Ok(Label { epoch, message_id, sender, recipients: list, timestamp, tag: None })
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

    /// The field's domain, the rule and the parties' homes, for a label v2.
    pub fn domain_tag(&self) -> Option<&DomainTag> {
        self.tag.as_ref()
    }

    /// `party`'s home, as a label v2 names it.
    pub fn home_of(&self, party: &PartyId) -> Option<&Domain> {
        let tag = self.tag.as_ref()?;
        self.parties().position(|p| p == party).and_then(|k| tag.homes.get(k))
    }

    /// The bytes a field under `epk` is bound to: the encoding, and for a label v2
    /// also the domain's epoch public key, so that a field checks only under its own
    /// domain's key and another domain's trustees refuse it (their shares would open
    /// nothing anyway: they unmask with the wrong key).
    pub(crate) fn field_bytes(&self, epk: &EpochPublicKey) -> Vec<u8> {
        let mut bytes = self.to_bytes();
        if self.tag.is_some() {
            bytes.extend_from_slice(&epk.master().to_compressed());
        }
        bytes
    }

    /// Whether `user` is the sender or a recipient.
    pub fn involves(&self, user: &PartyId) -> bool {
        &self.sender == user || self.recipients.binary_search(user).is_ok()
    }

    /// The canonical encoding: the exact bytes bound into the escrow field.
    /// A label v1 ([`Alg::Label`]) without a domain tag, v2 ([`Alg::DomainLabel`])
    /// with one: v1 then rule (1) ‖ domain (str8) ‖ a home (str8) per party.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(if self.tag.is_some() { Alg::DomainLabel } else { Alg::Label });
        w.u64(self.epoch.0);
        write_parties(&mut w, &self.message_id, &self.sender, &self.recipients, self.timestamp);
        if let Some(tag) = &self.tag {
            w.u8(tag.rule.code());
            w.str8(tag.domain.as_str());
            for h in &tag.homes {
                w.str8(h.as_str());
            }
        }
        w.finish()
    }

    /// Decodes a label v1 or v2, refusing any non-canonical encoding (unsorted or
    /// duplicate recipients, trailing bytes), so that one label has exactly one
    /// encoding; a v2 label's field domain must be a party's home (the sender's under
    /// home-of-sender).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let v2 = bytes.get(1..3) == Some(&(Alg::DomainLabel as u16).to_be_bytes()[..]);
        let (alg, max) = if v2 { (Alg::DomainLabel, MAX_DOMAIN_LABEL_LEN) } else { (Alg::Label, MAX_LABEL_LEN) };
        let mut r = Reader::new(bytes, alg, max)?;
        let epoch = EpochId(r.u64("epoch")?);
        let p = read_parties(&mut r)?;
        let mut label = Label {
            epoch,
            message_id: p.message_id,
            sender: p.sender,
            recipients: p.recipients,
            timestamp: p.timestamp,
            tag: None,
        };
        if v2 {
            let rule = read_rule(&mut r)?;
            let domain = r.domain("field domain")?;
            let homes = read_homes(&mut r, 1 + label.recipients.len())?;
            let tag = DomainTag { rule, domain, homes };
            check_tag(&tag).map_err(|reason| r.err(DecodeError::InvalidValue { field: "field domain", reason }))?;
            label.tag = Some(tag);
        }
        r.finish()?;
        Ok(label)
    }
}

/// Sender, recipients and time: what every label encoding shares.
struct Parties {
    message_id: MessageId,
    sender: PartyId,
    recipients: Vec<PartyId>,
    timestamp: u64,
}

fn write_parties(w: &mut Writer, message_id: &MessageId, sender: &PartyId, recipients: &[PartyId], timestamp: u64) {
    w.bytes(message_id);
    w.str8(sender.as_str());
    w.u8(u8::try_from(recipients.len()).expect("at most 32 recipients, checked at construction"));
    for r in recipients {
        w.str8(r.as_str());
    }
    w.u64(timestamp);
}

fn read_parties(r: &mut Reader<'_>) -> Result<Parties, Error> {
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
    Ok(Parties { message_id, sender, recipients, timestamp })
}

fn read_rule(r: &mut Reader<'_>) -> Result<Rule, Error> {
    let code = r.u8("rule")?;
    Rule::from_code(code).ok_or_else(|| r.err(DecodeError::InvalidValue { field: "rule", reason: "unknown rule" }))
}

fn read_homes(r: &mut Reader<'_>, parties: usize) -> Result<Vec<Domain>, Error> {
    (0..parties).map(|_| r.domain("home")).collect()
}

/// The field's domain is a party's home; under home-of-sender, the sender's.
fn check_tag(tag: &DomainTag) -> Result<(), &'static str> {
    match tag.rule {
        Rule::HomeOfSender if tag.homes.first() != Some(&tag.domain) => Err("not the sender's home (home-of-sender)"),
        _ if !tag.homes.contains(&tag.domain) => Err("no party's home"),
        _ => Ok(()),
    }
}

/// What a message is across escrow domains: message id, sender and recipients with
/// each one's home, send time and the deployment's rule. An envelope with domain
/// fields carries it; each field's [`Label`] is this plus the field's domain and that
/// domain's epoch ([`field_label`](Self::field_label)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageLabel {
    message_id: MessageId,
    sender: PartyId,
    recipients: Vec<PartyId>,
    timestamp: u64,
    rule: Rule,
    /// The sender's home, then each recipient's in canonical order.
    homes: Vec<Domain>,
}

impl MessageLabel {
    /// Builds a message label; recipients (with their homes) are sorted and must be
    /// distinct, 1 to [`MAX_RECIPIENTS`] of them.
    pub fn new(
        message_id: MessageId,
        sender: (PartyId, Domain),
        recipients: impl IntoIterator<Item = (PartyId, Domain)>,
        timestamp: u64,
        rule: Rule,
    ) -> Result<Self, Error> {
        let mut list: Vec<(PartyId, Domain)> = recipients.into_iter().collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let base =
            Label::new(EpochId(0), message_id, sender.0.clone(), list.iter().map(|(p, _)| p.clone()), timestamp)?;
        let homes = std::iter::once(sender.1).chain(list.into_iter().map(|(_, h)| h)).collect();
        Ok(MessageLabel { message_id, sender: sender.0, recipients: base.recipients, timestamp, rule, homes })
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
    /// The composition rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }
    /// Every party's home: the sender's, then the recipients' in canonical order.
    pub fn homes(&self) -> &[Domain] {
        &self.homes
    }
    /// Every party: the sender, then the recipients in canonical order.
    pub fn parties(&self) -> impl Iterator<Item = &PartyId> {
        std::iter::once(&self.sender).chain(self.recipients.iter())
    }

    /// The label of this message's field for `domain`, sealed under `epoch`. Refused
    /// if `domain` is no party's home (or, under home-of-sender, not the sender's).
    pub fn field_label(&self, domain: &Domain, epoch: EpochId) -> Result<Label, Error> {
        let tag = DomainTag { rule: self.rule, domain: domain.clone(), homes: self.homes.clone() };
        check_tag(&tag).map_err(|reason| Error::InvalidInput { what: "field domain", reason })?;
        Ok(Label {
            epoch,
            message_id: self.message_id,
            sender: self.sender.clone(),
            recipients: self.recipients.clone(),
            timestamp: self.timestamp,
            tag: Some(tag),
        })
    }

    /// Encoding ([`Alg::MessageLabel`]): message id ‖ sender ‖ count ‖ recipients ‖
    /// timestamp ‖ rule ‖ a home per party.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Alg::MessageLabel);
        write_parties(&mut w, &self.message_id, &self.sender, &self.recipients, self.timestamp);
        w.u8(self.rule.code());
        for h in &self.homes {
            w.str8(h.as_str());
        }
        w.finish()
    }

    /// Decodes a message label, refusing non-canonical encodings as [`Label`] does.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::MessageLabel, MAX_MESSAGE_LABEL_LEN)?;
        let p = read_parties(&mut r)?;
        let rule = read_rule(&mut r)?;
        let homes = read_homes(&mut r, 1 + p.recipients.len())?;
        r.finish()?;
        Ok(MessageLabel {
            message_id: p.message_id,
            sender: p.sender,
            recipients: p.recipients,
            timestamp: p.timestamp,
            rule,
            homes,
        })
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
        self.check_parties(|t| label.involves(t), label.timestamp())
    }

    /// The same rule for a message across escrow domains, by its message label.
    pub fn check_message(&self, message: &MessageLabel) -> Result<(), ScopeError> {
        self.check_parties(|t| message.parties().any(|p| p == t), message.timestamp())
    }

    /// A target is among the parties (`involves`), and `ts` is inside the window.
    fn check_parties(&self, involves: impl Fn(&PartyId) -> bool, ts: u64) -> Result<(), ScopeError> {
        if !self.targets.iter().any(involves) {
            return Err(ScopeError::NotATarget);
        }
        if ts < self.window.from {
            return Err(ScopeError::BeforeWindow { timestamp: ts, from: self.window.from });
        }
        if ts >= self.window.to {
            return Err(ScopeError::AfterWindow { timestamp: ts, to: self.window.to });
        }
        Ok(())
    }
}
