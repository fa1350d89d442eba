//! What a trustee writes into its log: one canonical, versioned entry per event.
//!
//! Secret details of a warrant (targets, case reference) never appear here, only a
//! commitment to them; the opening is served once the warrant's notification delay
//! has passed. Field fingerprints (SHA-256 of the escrow field blob) name what was
//! released without revealing who talked to whom.

use crate::error::LogError;

mod codec;

/// Entry format version.
pub const ENTRY_VERSION: u8 = 1;
/// Algorithm id of a log entry blob (the escrow-crypto registry uses 0x0001-0x00ff).
pub const ENTRY_ALG: u16 = 0x0101;
/// Largest encoded entry.
pub const MAX_ENTRY_LEN: usize = 3 + 8 + 1 + 16 + 4 + 10_000 * 32 + 4 * 1024 + 4 * 65;
/// Most field fingerprints in one release entry.
pub const MAX_FIELDS_PER_ENTRY: usize = 10_000;
/// Most (party, day) keys in one day-key release entry: 64 targets for 64 days.
pub const MAX_DAYS_PER_ENTRY: usize = 4_096;
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
    /// Extraction shares of day keys were released (kind 9): one per (party, day) of
    /// the warrant, each of which opens everything that party sent or received that
    /// day under that epoch.
    DayKeysReleased {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// Agency the shares went to.
        agency: Text,
        /// The day keys, each naming its party only by [`party_tag`].
        days: Vec<DayRelease>,
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

/// One day key released: the epoch and UTC day (days since 1970-01-01) in the clear,
/// the party sealed as [`party_tag`] until the warrant's details are revealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayRelease {
    /// Epoch of the key.
    pub epoch: u64,
    /// UTC day number.
    pub day: u32,
    /// [`party_tag`] of the party under the warrant.
    pub party: [u8; 32],
}

impl DayRelease {
    /// Unix seconds of the day's first second.
    pub fn start(&self) -> u64 {
        u64::from(self.day) * 86_400
    }

    /// Whether any second of the day lies in `[from, to)`.
    pub fn overlaps(&self, from: u64, to: u64) -> bool {
        self.start() < to && from < self.start() + 86_400
    }
}

/// A log entry: when, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unix seconds at the trustee.
    pub time: u64,
    /// The event.
    pub event: Event,
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

/// Domain separation for a sealed party.
const PARTY_DST: &[u8] = b"escrow/v1/sealed-party\0";

/// How a day-key release names its party: `SHA-256(DST ‖ u32 length ‖ warrant blob ‖
/// party)`. The signed warrant is known only to its court, its agency and the trustees
/// until the details are revealed, so nobody else can test a guessed party against the
/// log; every trustee computes the same tag, so the auditor can count a day key once
/// t + 1 trustees released it; and the revealed warrant lets the auditor check each tag
/// against the warrant's targets.
pub fn party_tag(warrant: &[u8], party: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(PARTY_DST);
    h.update(u32::try_from(warrant.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(warrant);
    h.update(party.as_bytes());
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
