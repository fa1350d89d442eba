//! What a trustee writes into its log: one canonical, versioned entry per event.
//!
//! Secret details of a warrant (targets, case reference) never appear here, only a
//! commitment to them; the opening is served once the warrant's notification delay
//! has passed. Field fingerprints (SHA-256 of the escrow field blob) name what was
//! released without revealing who talked to whom.

use crate::error::LogError;

/// Entry format version.
pub const ENTRY_VERSION: u8 = 1;
/// Algorithm id of a log entry blob (the escrow-crypto registry uses 0x0001-0x00ff).
pub const ENTRY_ALG: u16 = 0x0101;
/// Largest encoded entry.
pub const MAX_ENTRY_LEN: usize = 3 + 8 + 1 + 16 + 4 + 10_000 * 32 + 4 * 1024 + 4 * 65;
/// Most field fingerprints in one release entry.
pub const MAX_FIELDS_PER_ENTRY: usize = 10_000;
/// Longest text field of an entry (reasons, rules), in bytes.
pub const MAX_TEXT: usize = 1024;
const MAX_ID: usize = 64;
/// Longest caller identity (an `escrow:role/...` URI) in an entry.
pub const MAX_CALLER: usize = 256;

/// A string field of a log entry, and the one owner of the rule for such text: UTF-8
/// with no control characters, at most [`MAX_TEXT`] bytes (ids, codes and callers have
/// their own lower limits, checked when the entry is encoded).
///
/// Text reaches an entry from other parties (an operator's reason, a peer's abort
/// reason, the rule a refusal names); [`Text::lossy`] makes any string loggable, so
/// that an event is never lost because of what someone wrote. [`Text::new`] is the
/// strict form, which the decoder uses: a stored entry holding a control character
/// was not written by this code.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(String);

impl Text {
    /// `s` if it is loggable as it is, else why not.
    pub fn new(s: impl Into<String>) -> Result<Self, LogError> {
        let s = s.into();
        if s.len() > MAX_TEXT {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        if s.chars().any(char::is_control) {
            return Err(LogError::InvalidEntry("text field with control characters"));
        }
        Ok(Text(s))
    }

    /// `s` made loggable: every control character becomes a space and the text is cut
    /// to [`MAX_TEXT`] bytes on a character boundary.
    pub fn lossy(s: &str) -> Self {
        let mut out = String::with_capacity(s.len().min(MAX_TEXT));
        for c in s.chars().map(|c| if c.is_control() { ' ' } else { c }) {
            if out.len() + c.len_utf8() > MAX_TEXT {
                break;
            }
            out.push(c);
        }
        Text(out)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

/// Lossy ([`Text::lossy`]): whatever the string, it can be logged.
impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::lossy(s)
    }
}

/// Lossy ([`Text::lossy`]).
impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= MAX_TEXT && !s.chars().any(char::is_control) {
            Text(s)
        } else {
            Text::lossy(&s)
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.0
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        *self == other.0
    }
}

/// How a warrant stood right after it was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Waiting for an operator.
    Received,
    /// Approved on receipt by policy (auto-approve).
    ApprovedByPolicy,
    /// Denied on receipt by policy.
    DeniedByPolicy,
}

/// An operator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approved.
    Approve,
    /// Denied.
    Deny,
    /// Revoked.
    Revoke,
}

/// One step of a key ceremony, as the trustee that took it (or saw it) logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CeremonyStep {
    /// The ceremony was proposed (by this trustee or a peer) and taken part in.
    Proposed {
        /// SHA-256 of the signed proposal message.
        proposal: [u8; 32],
        /// Who proposed.
        proposer: Text,
        /// The epoch the key is for.
        epoch: u64,
        /// 0: a fresh key; 1: a reshare of the epoch's key.
        plan: u8,
        /// The new key set's threshold.
        threshold: u16,
        /// The new key set's holders.
        players: u16,
    },
    /// A participant accepted.
    Accepted {
        /// Who.
        by: Text,
    },
    /// The proposer executed the ceremony.
    Executed,
    /// A dealer's dealing arrived (or was made here).
    Dealt {
        /// Who dealt.
        dealer: Text,
        /// SHA-256 of its commitment.
        commitment: [u8; 32],
    },
    /// A player complained about a dealer (1: missing, 2: bad share).
    Complained {
        /// Who complained.
        by: Text,
        /// Against whom.
        against: Text,
        /// 1 missing, 2 bad share.
        grievance: u8,
    },
    /// A dealer revealed a share to answer a complaint.
    Justified {
        /// The dealer.
        dealer: Text,
        /// The complaining player.
        player: Text,
    },
    /// A dealer was disqualified (1: missing, 2: invalid dealing, 3: unanswered).
    Disqualified {
        /// Who.
        dealer: Text,
        /// 1 missing, 2 invalid dealing, 3 a complaint left unanswered.
        why: u8,
    },
    /// A participant signed the announcement it computed.
    Agreed {
        /// Who.
        by: Text,
        /// SHA-256 of that announcement.
        announcement: [u8; 32],
    },
    /// The key set was installed here: every participant signed the same announcement.
    Installed {
        /// SHA-256 of the announcement.
        announcement: [u8; 32],
        /// Its epoch.
        epoch: u64,
        /// Its generation (0 fresh, +1 per reshare).
        generation: u32,
        /// When every holder must have destroyed its share.
        destroy_at: u64,
    },
    /// The ceremony was abandoned here.
    Aborted {
        /// Why.
        reason: Text,
    },
}

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A verified warrant was received and stored.
    WarrantReceived {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// Issuing court.
        court: Text,
        /// Agency named.
        agency: Text,
        /// Window start.
        window_from: u64,
        /// Window end (exclusive).
        window_to: u64,
        /// End of validity.
        valid_until: u64,
        /// When the sealed details may be revealed (valid_until + notification delay).
        reveal_at: u64,
        /// SHA-256 commitment to the sealed details (targets, case reference).
        details_commitment: [u8; 32],
        /// State right after receipt.
        arrival: Arrival,
        /// Why, for decisions by policy.
        reason: Text,
    },
    /// An operator decided.
    WarrantDecided {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// The decision.
        decision: Decision,
        /// Operator id.
        operator: Text,
        /// Recorded reason.
        reason: Text,
    },
    /// Decryption shares were released for these fields.
    SharesReleased {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// Agency the shares went to.
        agency: Text,
        /// SHA-256 of each released escrow field blob.
        fields: Vec<[u8; 32]>,
    },
    /// A share request was refused (kind 4, written before refusals were attributed
    /// and aggregated; still decoded so that older logs verify, never written now).
    RequestRefused {
        /// Warrant id (all zeros if the request named none).
        warrant_id: [u8; 16],
        /// The gRPC code name.
        code: Text,
        /// The rule that failed, as told to the requester.
        rule: Text,
    },
    /// `count` share requests by `caller` were refused between `first` and `last`
    /// (kind 7). Under a warrant the caller holds, the first refusal of each kind is
    /// logged at once with `count = 1` (it is evidence) and repeats are summed into one
    /// later entry; requests under warrants the caller does not hold are summed per
    /// caller and code into one entry per window, with `warrant_id = None`, so no
    /// caller can grow the log faster than a few entries per window per warrant it
    /// holds.
    RequestsRefused {
        /// The caller's certificate identity (`escrow:role/agency/<id>`).
        caller: Text,
        /// The warrant, if the caller holds it; `None` for unknown, malformed or
        /// other agencies' warrant ids (the log does not say which).
        warrant_id: Option<[u8; 16]>,
        /// The gRPC code name of the first refusal counted.
        code: Text,
        /// The rule of the first refusal counted, as told to the requester.
        rule: Text,
        /// How many refusals this entry stands for (at least 1).
        count: u32,
        /// Time of the first of them.
        first: u64,
        /// Time of the last of them.
        last: u64,
    },
    /// An epoch key share was installed at this trustee.
    EpochInstalled {
        /// Epoch id.
        epoch: u64,
        /// SHA-256 of the epoch public key blob.
        public_key_hash: [u8; 32],
        /// This trustee's index.
        trustee_index: u16,
    },
    /// An epoch key share was destroyed at this trustee.
    EpochDestroyed {
        /// Epoch id.
        epoch: u64,
    },
    /// A step of key ceremony `ceremony` (kind 8).
    Ceremony {
        /// The ceremony id.
        ceremony: [u8; 16],
        /// What happened.
        step: CeremonyStep,
    },
}

/// A log entry: when, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unix seconds at the trustee.
    pub time: u64,
    /// The event.
    pub event: Event,
}

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// `s` as u16 length + bytes; [`Text`] guarantees the characters, `max` is the
    /// field's own limit (ids, codes, callers are shorter than [`MAX_TEXT`]).
    fn text(&mut self, s: &Text, max: usize) -> Result<(), LogError> {
        if s.len() > max {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        self.u16(u16::try_from(s.len()).map_err(|_| LogError::InvalidEntry("text field too long"))?);
        self.bytes(s.as_bytes());
        Ok(())
    }
}

struct R<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LogError> {
        let end = self.pos.checked_add(n).ok_or(LogError::InvalidEntry("truncated"))?;
        let s = self.buf.get(self.pos..end).ok_or(LogError::InvalidEntry("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], LogError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, LogError> {
        Ok(u8::from_be_bytes(self.arr()?))
    }
    fn u16(&mut self) -> Result<u16, LogError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, LogError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, LogError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    fn text(&mut self, max: usize) -> Result<Text, LogError> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| LogError::InvalidEntry("text field not UTF-8"))?;
        Text::new(s)
    }
}

impl Entry {
    /// Canonical encoding: version, alg, time, kind, fields (big-endian, u16-length text).
    pub fn to_bytes(&self) -> Result<Vec<u8>, LogError> {
        let mut w = W(Vec::with_capacity(128));
        w.u8(ENTRY_VERSION);
        w.u16(ENTRY_ALG);
        w.u64(self.time);
        match &self.event {
            Event::WarrantReceived {
                warrant_id,
                court,
                agency,
                window_from,
                window_to,
                valid_until,
                reveal_at,
                details_commitment,
                arrival,
                reason,
            } => {
                w.u8(1);
                w.bytes(warrant_id);
                w.text(court, MAX_ID)?;
                w.text(agency, MAX_ID)?;
                w.u64(*window_from);
                w.u64(*window_to);
                w.u64(*valid_until);
                w.u64(*reveal_at);
                w.bytes(details_commitment);
                w.u8(match arrival {
                    Arrival::Received => 1,
                    Arrival::ApprovedByPolicy => 2,
                    Arrival::DeniedByPolicy => 3,
                });
                w.text(reason, MAX_TEXT)?;
            }
            Event::WarrantDecided { warrant_id, decision, operator, reason } => {
                w.u8(2);
                w.bytes(warrant_id);
                w.u8(match decision {
                    Decision::Approve => 1,
                    Decision::Deny => 2,
                    Decision::Revoke => 3,
                });
                w.text(operator, MAX_ID)?;
                w.text(reason, MAX_TEXT)?;
            }
            Event::SharesReleased { warrant_id, agency, fields } => {
                w.u8(3);
                w.bytes(warrant_id);
                w.text(agency, MAX_ID)?;
                if fields.len() > MAX_FIELDS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many fields in one entry"));
                }
                w.u32(u32::try_from(fields.len()).map_err(|_| LogError::InvalidEntry("too many fields"))?);
                for f in fields {
                    w.bytes(f);
                }
            }
            Event::RequestRefused { warrant_id, code, rule } => {
                w.u8(4);
                w.bytes(warrant_id);
                w.text(code, MAX_ID)?;
                w.text(rule, MAX_TEXT)?;
            }
            Event::RequestsRefused { caller, warrant_id, code, rule, count, first, last } => {
                if *count == 0 || first > last {
                    return Err(LogError::InvalidEntry("a refusal count must be positive and first <= last"));
                }
                w.u8(7);
                w.text(caller, MAX_CALLER)?;
                match warrant_id {
                    Some(id) => {
                        w.u8(1);
                        w.bytes(id);
                    }
                    None => w.u8(0),
                }
                w.text(code, MAX_ID)?;
                w.text(rule, MAX_TEXT)?;
                w.u32(*count);
                w.u64(*first);
                w.u64(*last);
            }
            Event::EpochInstalled { epoch, public_key_hash, trustee_index } => {
                w.u8(5);
                w.u64(*epoch);
                w.bytes(public_key_hash);
                w.u16(*trustee_index);
            }
            Event::EpochDestroyed { epoch } => {
                w.u8(6);
                w.u64(*epoch);
            }
            Event::Ceremony { ceremony, step } => {
                w.u8(8);
                w.bytes(ceremony);
                match step {
                    CeremonyStep::Proposed { proposal, proposer, epoch, plan, threshold, players } => {
                        w.u8(1);
                        w.bytes(proposal);
                        w.text(proposer, MAX_ID)?;
                        w.u64(*epoch);
                        w.u8(*plan);
                        w.u16(*threshold);
                        w.u16(*players);
                    }
                    CeremonyStep::Accepted { by } => {
                        w.u8(2);
                        w.text(by, MAX_ID)?;
                    }
                    CeremonyStep::Executed => w.u8(3),
                    CeremonyStep::Dealt { dealer, commitment } => {
                        w.u8(4);
                        w.text(dealer, MAX_ID)?;
                        w.bytes(commitment);
                    }
                    CeremonyStep::Complained { by, against, grievance } => {
                        w.u8(5);
                        w.text(by, MAX_ID)?;
                        w.text(against, MAX_ID)?;
                        w.u8(*grievance);
                    }
                    CeremonyStep::Justified { dealer, player } => {
                        w.u8(6);
                        w.text(dealer, MAX_ID)?;
                        w.text(player, MAX_ID)?;
                    }
                    CeremonyStep::Disqualified { dealer, why } => {
                        w.u8(7);
                        w.text(dealer, MAX_ID)?;
                        w.u8(*why);
                    }
                    CeremonyStep::Agreed { by, announcement } => {
                        w.u8(8);
                        w.text(by, MAX_ID)?;
                        w.bytes(announcement);
                    }
                    CeremonyStep::Installed { announcement, epoch, generation, destroy_at } => {
                        w.u8(9);
                        w.bytes(announcement);
                        w.u64(*epoch);
                        w.u32(*generation);
                        w.u64(*destroy_at);
                    }
                    CeremonyStep::Aborted { reason } => {
                        w.u8(10);
                        w.text(reason, MAX_TEXT)?;
                    }
                }
            }
        }
        Ok(w.0)
    }

    /// Decodes an entry; refuses unknown versions, kinds, trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(LogError::InvalidEntry("entry too long"));
        }
        let mut r = R { buf: bytes, pos: 0 };
        if r.u8()? != ENTRY_VERSION {
            return Err(LogError::InvalidEntry("unsupported entry version"));
        }
        if r.u16()? != ENTRY_ALG {
            return Err(LogError::InvalidEntry("not a log entry (algorithm id)"));
        }
        let time = r.u64()?;
        let event = match r.u8()? {
            1 => Event::WarrantReceived {
                warrant_id: r.arr()?,
                court: r.text(MAX_ID)?,
                agency: r.text(MAX_ID)?,
                window_from: r.u64()?,
                window_to: r.u64()?,
                valid_until: r.u64()?,
                reveal_at: r.u64()?,
                details_commitment: r.arr()?,
                arrival: match r.u8()? {
                    1 => Arrival::Received,
                    2 => Arrival::ApprovedByPolicy,
                    3 => Arrival::DeniedByPolicy,
                    _ => return Err(LogError::InvalidEntry("unknown arrival state")),
                },
                reason: r.text(MAX_TEXT)?,
            },
            2 => Event::WarrantDecided {
                warrant_id: r.arr()?,
                decision: match r.u8()? {
                    1 => Decision::Approve,
                    2 => Decision::Deny,
                    3 => Decision::Revoke,
                    _ => return Err(LogError::InvalidEntry("unknown decision")),
                },
                operator: r.text(MAX_ID)?,
                reason: r.text(MAX_TEXT)?,
            },
            3 => {
                let warrant_id = r.arr()?;
                let agency = r.text(MAX_ID)?;
                let n = usize::try_from(r.u32()?).unwrap_or(usize::MAX);
                if n > MAX_FIELDS_PER_ENTRY {
                    return Err(LogError::InvalidEntry("too many fields in one entry"));
                }
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    fields.push(r.arr()?);
                }
                Event::SharesReleased { warrant_id, agency, fields }
            }
            4 => Event::RequestRefused { warrant_id: r.arr()?, code: r.text(MAX_ID)?, rule: r.text(MAX_TEXT)? },
            5 => Event::EpochInstalled { epoch: r.u64()?, public_key_hash: r.arr()?, trustee_index: r.u16()? },
            6 => Event::EpochDestroyed { epoch: r.u64()? },
            7 => {
                let caller = r.text(MAX_CALLER)?;
                let warrant_id = match r.u8()? {
                    0 => None,
                    1 => Some(r.arr()?),
                    _ => return Err(LogError::InvalidEntry("unknown warrant-id presence flag")),
                };
                let (code, rule) = (r.text(MAX_ID)?, r.text(MAX_TEXT)?);
                let (count, first, last) = (r.u32()?, r.u64()?, r.u64()?);
                if count == 0 || first > last {
                    return Err(LogError::InvalidEntry("a refusal count must be positive and first <= last"));
                }
                Event::RequestsRefused { caller, warrant_id, code, rule, count, first, last }
            }
            8 => {
                let ceremony = r.arr()?;
                let step = match r.u8()? {
                    1 => CeremonyStep::Proposed {
                        proposal: r.arr()?,
                        proposer: r.text(MAX_ID)?,
                        epoch: r.u64()?,
                        plan: r.u8()?,
                        threshold: r.u16()?,
                        players: r.u16()?,
                    },
                    2 => CeremonyStep::Accepted { by: r.text(MAX_ID)? },
                    3 => CeremonyStep::Executed,
                    4 => CeremonyStep::Dealt { dealer: r.text(MAX_ID)?, commitment: r.arr()? },
                    5 => CeremonyStep::Complained { by: r.text(MAX_ID)?, against: r.text(MAX_ID)?, grievance: r.u8()? },
                    6 => CeremonyStep::Justified { dealer: r.text(MAX_ID)?, player: r.text(MAX_ID)? },
                    7 => CeremonyStep::Disqualified { dealer: r.text(MAX_ID)?, why: r.u8()? },
                    8 => CeremonyStep::Agreed { by: r.text(MAX_ID)?, announcement: r.arr()? },
                    9 => CeremonyStep::Installed {
                        announcement: r.arr()?,
                        epoch: r.u64()?,
                        generation: r.u32()?,
                        destroy_at: r.u64()?,
                    },
                    10 => CeremonyStep::Aborted { reason: r.text(MAX_TEXT)? },
                    _ => return Err(LogError::InvalidEntry("unknown ceremony step")),
                };
                Event::Ceremony { ceremony, step }
            }
            _ => return Err(LogError::InvalidEntry("unknown event kind")),
        };
        if r.pos != bytes.len() {
            return Err(LogError::InvalidEntry("trailing bytes"));
        }
        Ok(Entry { time, event })
    }
}

/// Domain separation for the sealed-details commitment.
const DETAILS_DST: &[u8] = b"escrow/v1/warrant-details\0";

/// The commitment to a warrant's sealed details: `SHA-256(DST ‖ nonce ‖ warrant blob)`.
/// The opening is the nonce and the signed warrant itself, so an auditor who gets it
/// can also check the court's signature and every scope rule.
pub fn details_commitment(nonce: &[u8; 32], warrant: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(DETAILS_DST);
    h.update(nonce);
    h.update(warrant);
    h.finalize().into()
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_is_checked_strictly_and_made_loggable_lossily() {
        assert_eq!(Text::new("lawful and proportionate").unwrap(), "lawful and proportionate");
        assert!(Text::new("a\nb").is_err());
        assert!(Text::new("x".repeat(MAX_TEXT + 1)).is_err());
        assert!(Text::new("x".repeat(MAX_TEXT)).is_ok());
        // Control characters become spaces; 5,000 bytes are cut to the limit on a
        // character boundary.
        let hostile = format!("\u{1b}[2J\u{1b}[31m FAKE\n{}", "é".repeat(2_500));
        let t = Text::lossy(&hostile);
        assert!(t.starts_with(" [2J [31m FAKE é"), "{t:?}");
        assert!(t.len() <= MAX_TEXT && t.len() >= MAX_TEXT - 1, "{}", t.len());
        assert!(Text::new(t.as_str()).is_ok());
        assert_eq!(Text::from("a\tb"), "a b");
        // What the strict form refuses never decodes from an entry either.
        let entry = Entry {
            time: 1,
            event: Event::Ceremony { ceremony: [1; 16], step: CeremonyStep::Aborted { reason: t.clone() } },
        };
        let mut bytes = entry.to_bytes().unwrap();
        assert_eq!(Entry::from_bytes(&bytes).unwrap(), entry);
        let at = bytes.len() - t.len();
        bytes[at] = b'\n';
        assert!(Entry::from_bytes(&bytes).is_err());
    }
}
