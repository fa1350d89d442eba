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
const MAX_TEXT: usize = 1024;
/// Longest caller identity (an `escrow:role/...` URI) in an entry.
pub const MAX_CALLER: usize = 256;

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
        proposer: String,
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
        by: String,
    },
    /// The proposer executed the ceremony.
    Executed,
    /// A dealer's dealing arrived (or was made here).
    Dealt {
        /// Who dealt.
        dealer: String,
        /// SHA-256 of its commitment.
        commitment: [u8; 32],
    },
    /// A player complained about a dealer (1: missing, 2: bad share).
    Complained {
        /// Who complained.
        by: String,
        /// Against whom.
        against: String,
        /// 1 missing, 2 bad share.
        grievance: u8,
    },
    /// A dealer revealed a share to answer a complaint.
    Justified {
        /// The dealer.
        dealer: String,
        /// The complaining player.
        player: String,
    },
    /// A dealer was disqualified (1: missing, 2: invalid dealing, 3: unanswered).
    Disqualified {
        /// Who.
        dealer: String,
        /// 1 missing, 2 invalid dealing, 3 a complaint left unanswered.
        why: u8,
    },
    /// A participant signed the announcement it computed.
    Agreed {
        /// Who.
        by: String,
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
        reason: String,
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
        court: String,
        /// Agency named.
        agency: String,
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
        reason: String,
    },
    /// An operator decided.
    WarrantDecided {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// The decision.
        decision: Decision,
        /// Operator id.
        operator: String,
        /// Recorded reason.
        reason: String,
    },
    /// Decryption shares were released for these fields.
    SharesReleased {
        /// Warrant id.
        warrant_id: [u8; 16],
        /// Agency the shares went to.
        agency: String,
        /// SHA-256 of each released escrow field blob.
        fields: Vec<[u8; 32]>,
    },
    /// A share request was refused (kind 4, written before refusals were attributed
    /// and aggregated; still decoded so that older logs verify, never written now).
    RequestRefused {
        /// Warrant id (all zeros if the request named none).
        warrant_id: [u8; 16],
        /// The gRPC code name.
        code: String,
        /// The rule that failed, as told to the requester.
        rule: String,
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
        caller: String,
        /// The warrant, if the caller holds it; `None` for unknown, malformed or
        /// other agencies' warrant ids (the log does not say which).
        warrant_id: Option<[u8; 16]>,
        /// The gRPC code name of the first refusal counted.
        code: String,
        /// The rule of the first refusal counted, as told to the requester.
        rule: String,
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
    fn text(&mut self, s: &str, max: usize) -> Result<(), LogError> {
        if s.len() > max || s.chars().any(char::is_control) {
            return Err(LogError::InvalidEntry("text field too long or with control characters"));
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
    fn text(&mut self, max: usize) -> Result<String, LogError> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(LogError::InvalidEntry("text field too long"));
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| LogError::InvalidEntry("text field not UTF-8"))?;
        if s.chars().any(char::is_control) {
            return Err(LogError::InvalidEntry("text field with control characters"));
        }
        Ok(s.to_owned())
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
                w.text(court, 64)?;
                w.text(agency, 64)?;
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
                w.text(operator, 64)?;
                w.text(reason, MAX_TEXT)?;
            }
            Event::SharesReleased { warrant_id, agency, fields } => {
                w.u8(3);
                w.bytes(warrant_id);
                w.text(agency, 64)?;
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
                w.text(code, 64)?;
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
                w.text(code, 64)?;
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
                        w.text(proposer, 64)?;
                        w.u64(*epoch);
                        w.u8(*plan);
                        w.u16(*threshold);
                        w.u16(*players);
                    }
                    CeremonyStep::Accepted { by } => {
                        w.u8(2);
                        w.text(by, 64)?;
                    }
                    CeremonyStep::Executed => w.u8(3),
                    CeremonyStep::Dealt { dealer, commitment } => {
                        w.u8(4);
                        w.text(dealer, 64)?;
                        w.bytes(commitment);
                    }
                    CeremonyStep::Complained { by, against, grievance } => {
                        w.u8(5);
                        w.text(by, 64)?;
                        w.text(against, 64)?;
                        w.u8(*grievance);
                    }
                    CeremonyStep::Justified { dealer, player } => {
                        w.u8(6);
                        w.text(dealer, 64)?;
                        w.text(player, 64)?;
                    }
                    CeremonyStep::Disqualified { dealer, why } => {
                        w.u8(7);
                        w.text(dealer, 64)?;
                        w.u8(*why);
                    }
                    CeremonyStep::Agreed { by, announcement } => {
                        w.u8(8);
                        w.text(by, 64)?;
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
                court: r.text(64)?,
                agency: r.text(64)?,
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
                operator: r.text(64)?,
                reason: r.text(MAX_TEXT)?,
            },
            3 => {
                let warrant_id = r.arr()?;
                let agency = r.text(64)?;
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
            4 => Event::RequestRefused { warrant_id: r.arr()?, code: r.text(64)?, rule: r.text(MAX_TEXT)? },
            5 => Event::EpochInstalled { epoch: r.u64()?, public_key_hash: r.arr()?, trustee_index: r.u16()? },
            6 => Event::EpochDestroyed { epoch: r.u64()? },
            7 => {
                let caller = r.text(MAX_CALLER)?;
                let warrant_id = match r.u8()? {
                    0 => None,
                    1 => Some(r.arr()?),
                    _ => return Err(LogError::InvalidEntry("unknown warrant-id presence flag")),
                };
                let (code, rule) = (r.text(64)?, r.text(MAX_TEXT)?);
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
                        proposer: r.text(64)?,
                        epoch: r.u64()?,
                        plan: r.u8()?,
                        threshold: r.u16()?,
                        players: r.u16()?,
                    },
                    2 => CeremonyStep::Accepted { by: r.text(64)? },
                    3 => CeremonyStep::Executed,
                    4 => CeremonyStep::Dealt { dealer: r.text(64)?, commitment: r.arr()? },
                    5 => CeremonyStep::Complained { by: r.text(64)?, against: r.text(64)?, grievance: r.u8()? },
                    6 => CeremonyStep::Justified { dealer: r.text(64)?, player: r.text(64)? },
                    7 => CeremonyStep::Disqualified { dealer: r.text(64)?, why: r.u8()? },
                    8 => CeremonyStep::Agreed { by: r.text(64)?, announcement: r.arr()? },
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
