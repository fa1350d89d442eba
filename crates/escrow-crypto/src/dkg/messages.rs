//! The key ceremony's messages: one signed blob format for all of them.
//!
//! `version, alg 0x0013, kind (u8), ceremony id (16), sender (str8), body, signature (64)`
//! where the signature is the sender's trustee key over every byte before it, in the
//! domain [`CEREMONY_SIG_DST`]. Every body after the proposal starts with the SHA-256
//! of the proposal message, so a message can only ever count in the ceremony it was
//! made for. Decoding checks the framing; [`SignedMessage::verify`] checks the
//! signature under the sender's pinned key and yields a [`Message`].

use std::fmt;

use sha2::{Digest, Sha256};

use crate::announce::Modes;
use crate::dkg::math::{DealingCommitment, ENCRYPTED_SHARE_LEN};
use crate::error::{DecodeError, Error};
use crate::id::PartyId;
use crate::keys::{EpochId, EpochPublicKey, MAX_TRUSTEES};
use crate::trustee_key::{TrusteePins, TrusteeSigningKey, SIGNATURE_LEN};
use crate::wire::{Alg, Reader, Writer};

/// The signing domain of ceremony messages.
pub const CEREMONY_SIG_DST: &[u8] = b"escrow/v1/ceremony-message\0";
/// Largest encoded ceremony message (a dealing for 64 players).
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;
/// Longest encoded ceremony message without its signature.
const MAX_UNSIGNED_LEN: usize = MAX_MESSAGE_LEN - SIGNATURE_LEN;
/// Longest free-text reason in a rejection or abort.
pub const MAX_REASON_LEN: usize = 512;

/// A ceremony id, chosen at random by the proposer.
pub type CeremonyId = [u8; 16];

/// What a ceremony makes.
#[derive(Clone, PartialEq, Eq)]
pub enum Plan {
    /// A new key set for an epoch: every player deals.
    Fresh,
    /// The key set `previous` (of generation `generation`, held by `holders`) moved to
    /// the proposal's players and threshold, keeping its public key. The dealers are
    /// the old holders named in the proposal.
    Reshare {
        /// The key set being moved.
        previous: EpochPublicKey,
        /// Its generation.
        generation: u32,
        /// Who holds each of its indices.
        holders: Vec<PartyId>,
    },
}

impl Plan {
    /// The generation of the key set this plan makes: 0 for a fresh one, one more
    /// than the reshared key set's.
    #[must_use]
    pub fn next_generation(&self) -> u32 {
        match self {
            Plan::Fresh => 0,
            Plan::Reshare { generation, .. } => generation.saturating_add(1),
        }
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Fresh => f.write_str("Fresh"),
            Plan::Reshare { generation, holders, .. } => {
                f.debug_struct("Reshare").field("generation", generation).field("holders", holders).finish()
            }
        }
    }
}

/// The proposal: what key, among whom, for how long, with which deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The epoch the key is for.
    pub epoch: EpochId,
    /// Threshold of the new key set.
    pub threshold: u16,
    /// The new holders, index = position.
    pub players: Vec<PartyId>,
    /// Who deals: every player for a fresh key; old holders for a reshare.
    pub dealers: Vec<PartyId>,
    /// Fresh key or resharing.
    pub plan: Plan,
    /// From when the key may be used.
    pub valid_from: u64,
    /// When every share is destroyed.
    pub destroy_at: u64,
    /// Longest wait for every participant's operator to accept and the proposer to
    /// execute, milliseconds.
    pub accept_timeout_ms: u32,
    /// Longest wait in each automatic phase (dealing, complaints, justifications,
    /// agreement), milliseconds.
    pub phase_timeout_ms: u32,
    /// The escrow modes the key set will support, as its announcement will say.
    pub modes: Modes,
}

/// The plan byte's flag for the day mode (bit 7); the low bit says fresh or reshare.
const PLAN_DAY_MODE: u8 = 0x80;

impl Proposal {
    /// Everyone who takes part: the players, then dealers who are not players.
    pub fn participants(&self) -> Vec<PartyId> {
        let mut out = self.players.clone();
        for d in &self.dealers {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }

    /// Checks the proposal's own consistency (not who may make it).
    pub fn check(&self) -> Result<(), Error> {
        let bad = |reason| Err(Error::InvalidInput { what: "ceremony proposal", reason });
        let n = self.players.len();
        if n == 0 || n > usize::from(MAX_TRUSTEES) || usize::from(self.threshold) >= n {
            return bad("need 0 <= t < players <= 64");
        }
        let unique = |v: &[PartyId]| v.iter().enumerate().all(|(k, p)| !v.iter().skip(k + 1).any(|o| o == p));
        if !unique(&self.players) || !unique(&self.dealers) {
            return bad("a trustee is named twice");
        }
        if self.valid_from >= self.destroy_at {
            return bad("destroy_at must come after valid_from");
        }
        if self.phase_timeout_ms == 0 || self.accept_timeout_ms == 0 {
            return bad("timeouts must be positive");
        }
        match &self.plan {
            Plan::Fresh => {
                if self.dealers != self.players {
                    return bad("for a fresh key every player deals");
                }
            }
            Plan::Reshare { previous, holders, .. } => {
                if previous.epoch() != self.epoch {
                    return bad("a reshare keeps the epoch of the key set it moves");
                }
                if holders.len() != usize::from(previous.n()) || !unique(holders) {
                    return bad("the old holders must name each index of the old key set once");
                }
                if self.dealers.iter().any(|d| !holders.contains(d)) {
                    return bad("only old holders can deal in a reshare");
                }
                if self.dealers.len() < previous.quorum() {
                    return bad("a reshare needs at least t+1 of the old holders as dealers");
                }
            }
        }
        Ok(())
    }

    fn encode(&self, w: &mut Writer) {
        w.u64(self.epoch.0);
        w.u16(self.threshold);
        let ids = |w: &mut Writer, v: &[PartyId]| {
            w.u16(u16::try_from(v.len()).unwrap_or(u16::MAX));
            for p in v {
                w.str8(p.as_str());
            }
        };
        ids(w, &self.players);
        ids(w, &self.dealers);
        let day = if self.modes.day { PLAN_DAY_MODE } else { 0 };
        match &self.plan {
            Plan::Fresh => w.u8(day),
            Plan::Reshare { previous, generation, holders } => {
                w.u8(1 | day);
                w.bytes16(&previous.to_bytes());
                w.u32(*generation);
                ids(w, holders);
            }
        }
        w.u64(self.valid_from);
        w.u64(self.destroy_at);
        w.u32(self.accept_timeout_ms);
        w.u32(self.phase_timeout_ms);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, Error> {
        let epoch = EpochId(r.u64("epoch")?);
        let threshold = r.u16("threshold")?;
        let ids = |r: &mut Reader<'_>, field| -> Result<Vec<PartyId>, Error> {
            let n = r.u16(field)?;
            if n > MAX_TRUSTEES {
                return Err(r.err(DecodeError::InvalidValue { field, reason: "at most 64" }));
            }
            (0..n).map(|_| r.party_id(field)).collect()
        };
        let players = ids(r, "players")?;
        let dealers = ids(r, "dealers")?;
        let plan_byte = r.u8("plan")?;
        let modes = if plan_byte & PLAN_DAY_MODE != 0 { Modes::BOTH } else { Modes::PER_MESSAGE };
        let plan = match plan_byte & !PLAN_DAY_MODE {
            0 => Plan::Fresh,
            1 => {
                let previous = EpochPublicKey::from_bytes(r.bytes16("previous key set", 4000)?)?;
                let generation = r.u32("generation")?;
                let holders = ids(r, "holders")?;
                Plan::Reshare { previous, generation, holders }
            }
            _ => return Err(r.err(DecodeError::InvalidValue { field: "plan", reason: "unknown" })),
        };
        let valid_from = r.u64("valid_from")?;
        let destroy_at = r.u64("destroy_at")?;
        let accept_timeout_ms = r.u32("accept_timeout_ms")?;
        let phase_timeout_ms = r.u32("phase_timeout_ms")?;
        Ok(Proposal {
            epoch,
            threshold,
            players,
            dealers,
            plan,
            valid_from,
            destroy_at,
            accept_timeout_ms,
            phase_timeout_ms,
            modes,
        })
    }
}

/// Why a player complains about a dealer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grievance {
    /// No dealing arrived in time. Nothing can answer it: the dealer is disqualified.
    Missing,
    /// The share did not decrypt or does not match the commitment: the dealer must
    /// reveal the share.
    BadShare,
}

impl Grievance {
    /// The code on the wire (kind 6), in the log and in the transcript: 1 missing,
    /// 2 bad share.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Missing => 1,
            Self::BadShare => 2,
        }
    }
}

/// A message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Kind 1: the proposer's proposal.
    Proposal(Proposal),
    /// Kind 2: a participant agrees to take part; players name the key to encrypt
    /// their shares to (fresh for this ceremony).
    Accept {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// Compressed P-256 ceremony key.
        encryption_key: [u8; 33],
    },
    /// Kind 3: a participant refuses.
    Reject {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// Why (the operator's words).
        reason: String,
    },
    /// Kind 4: the proposer starts the ceremony once everyone accepted.
    Execute {
        /// The proposal message's hash.
        proposal: [u8; 32],
    },
    /// Kind 5: a dealer's commitment and one encrypted share per player, in player order.
    Deal {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// The dealer's commitment.
        commitment: DealingCommitment,
        /// `shares[j]` is player `j`'s, encrypted to its ceremony key.
        shares: Vec<Vec<u8>>,
    },
    /// Kind 6: a player's complaints, possibly none (then it says it is done).
    Complaints {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// (dealer's position among the dealers, why).
        against: Vec<(u16, Grievance)>,
    },
    /// Kind 7: a dealer answers a complaint by revealing that player's share.
    Justification {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// The complaining player's index.
        player: u16,
        /// The share, in the clear.
        share: [u8; 32],
    },
    /// Kind 8: a participant's signature over the announcement it computed.
    Agreement {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// SHA-256 of the announcement bytes.
        announcement: [u8; 32],
        /// The announcement signature.
        signature: [u8; SIGNATURE_LEN],
    },
    /// Kind 9: a participant gives up, and says why.
    Abort {
        /// The proposal message's hash.
        proposal: [u8; 32],
        /// Why.
        reason: String,
    },
}

impl Body {
    fn kind(&self) -> u8 {
        match self {
            Body::Proposal(_) => 1,
            Body::Accept { .. } => 2,
            Body::Reject { .. } => 3,
            Body::Execute { .. } => 4,
            Body::Deal { .. } => 5,
            Body::Complaints { .. } => 6,
            Body::Justification { .. } => 7,
            Body::Agreement { .. } => 8,
            Body::Abort { .. } => 9,
        }
    }

    /// The kind's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Proposal(_) => "proposal",
            Body::Accept { .. } => "acceptance",
            Body::Reject { .. } => "rejection",
            Body::Execute { .. } => "execute",
            Body::Deal { .. } => "dealing",
            Body::Complaints { .. } => "complaints",
            Body::Justification { .. } => "justification",
            Body::Agreement { .. } => "agreement",
            Body::Abort { .. } => "abort",
        }
    }

    /// The proposal hash the body is bound to (`None` for the proposal itself).
    pub fn proposal_hash(&self) -> Option<&[u8; 32]> {
        match self {
            Body::Proposal(_) => None,
            Body::Accept { proposal, .. }
            | Body::Reject { proposal, .. }
            | Body::Execute { proposal }
            | Body::Deal { proposal, .. }
            | Body::Complaints { proposal, .. }
            | Body::Justification { proposal, .. }
            | Body::Agreement { proposal, .. }
            | Body::Abort { proposal, .. } => Some(proposal),
        }
    }

    fn encode(&self, w: &mut Writer) -> Result<(), Error> {
        if let Some(h) = self.proposal_hash() {
            w.bytes(h);
        }
        let reason_ok = |r: &str| {
            if r.len() > MAX_REASON_LEN {
                Err(Error::InvalidInput { what: "ceremony message", reason: "reason longer than 512 bytes" })
            } else {
                Ok(())
            }
        };
        match self {
            Body::Proposal(p) => {
                p.check()?;
                p.encode(w);
            }
            Body::Accept { encryption_key, .. } => w.bytes(encryption_key),
            Body::Reject { reason, .. } | Body::Abort { reason, .. } => {
                reason_ok(reason)?;
                w.str16(reason);
            }
            Body::Execute { .. } => {}
            Body::Deal { commitment, shares, .. } => {
                w.bytes16(&commitment.to_bytes());
                if shares.len() > usize::from(MAX_TRUSTEES) || shares.iter().any(|s| s.len() != ENCRYPTED_SHARE_LEN) {
                    return Err(Error::InvalidInput { what: "dealing", reason: "bad encrypted shares" });
                }
                w.u16(u16::try_from(shares.len()).unwrap_or(u16::MAX));
                for s in shares {
                    w.bytes(s);
                }
            }
            Body::Complaints { against, .. } => {
                if against.len() > usize::from(MAX_TRUSTEES) {
                    return Err(Error::InvalidInput { what: "complaints", reason: "at most 64" });
                }
                w.u16(u16::try_from(against.len()).unwrap_or(u16::MAX));
                for (d, g) in against {
                    w.u16(*d);
                    w.u8(g.code());
                }
            }
            Body::Justification { player, share, .. } => {
                w.u16(*player);
                w.bytes(share);
            }
            Body::Agreement { announcement, signature, .. } => {
                w.bytes(announcement);
                w.bytes(signature);
            }
        }
        Ok(())
    }

    fn decode(kind: u8, r: &mut Reader<'_>) -> Result<Self, Error> {
        if kind == 1 {
            return Ok(Body::Proposal(Proposal::decode(r)?));
        }
        let proposal = r.array::<32>("proposal hash")?;
        Ok(match kind {
            2 => Body::Accept { proposal, encryption_key: r.array::<33>("encryption key")? },
            3 => Body::Reject { proposal, reason: r.str16("reason", MAX_REASON_LEN)?.to_string() },
            4 => Body::Execute { proposal },
            5 => {
                let commitment = DealingCommitment::from_bytes(r.bytes16("commitment", 4000)?)?;
                let n = r.u16("shares")?;
                if n > MAX_TRUSTEES {
                    return Err(r.err(DecodeError::InvalidValue { field: "shares", reason: "at most 64" }));
                }
                let shares = (0..n)
                    .map(|_| r.take(ENCRYPTED_SHARE_LEN, "share").map(<[u8]>::to_vec))
                    .collect::<Result<_, _>>()?;
                Body::Deal { proposal, commitment, shares }
            }
            6 => {
                let n = r.u16("complaints")?;
                if n > MAX_TRUSTEES {
                    return Err(r.err(DecodeError::InvalidValue { field: "complaints", reason: "at most 64" }));
                }
                let mut against = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    let d = r.u16("dealer")?;
                    let g = match r.u8("grievance")? {
                        1 => Grievance::Missing,
                        2 => Grievance::BadShare,
                        _ => return Err(r.err(DecodeError::InvalidValue { field: "grievance", reason: "unknown" })),
                    };
                    against.push((d, g));
                }
                Body::Complaints { proposal, against }
            }
            7 => Body::Justification { proposal, player: r.u16("player")?, share: r.array::<32>("share")? },
            8 => Body::Agreement {
                proposal,
                announcement: r.array::<32>("announcement hash")?,
                signature: r.signature("announcement signature")?,
            },
            9 => Body::Abort { proposal, reason: r.str16("reason", MAX_REASON_LEN)?.to_string() },
            _ => return Err(r.err(DecodeError::InvalidValue { field: "kind", reason: "unknown message kind" })),
        })
    }
}

/// A verified message: who sent what in which ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The ceremony.
    pub ceremony: CeremonyId,
    /// The sender, whose pinned key signed it.
    pub sender: PartyId,
    /// What it says.
    pub body: Body,
}

/// A ceremony message as it travels: exact bytes, signature last.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedMessage {
    bytes: Vec<u8>,
}

impl fmt::Debug for SignedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedMessage").field("len", &self.bytes.len()).finish_non_exhaustive()
    }
}

impl SignedMessage {
    /// Encodes and signs `body` for `ceremony` as `key`'s trustee.
    pub fn sign(key: &TrusteeSigningKey, ceremony: &CeremonyId, body: &Body) -> Result<Self, Error> {
        let mut bytes = Self::encode_unsigned(ceremony, key.trustee(), body)?;
        let sig = key.sign(CEREMONY_SIG_DST, &bytes);
        bytes.extend_from_slice(&sig);
        Ok(SignedMessage { bytes })
    }

    /// The bytes a message's signature covers: version, alg, kind, ceremony id,
    /// sender, body. [`SignedMessage::sign`] signs exactly these and appends the
    /// signature; public so that [`SignedMessage::decode_unsigned`] can be checked to
    /// be canonical (what it decodes encodes back to the same bytes).
    pub fn encode_unsigned(ceremony: &CeremonyId, sender: &PartyId, body: &Body) -> Result<Vec<u8>, Error> {
        let mut w = Writer::new(Alg::CeremonyMessage);
        w.u8(body.kind());
        w.bytes(ceremony);
        w.str8(sender.as_str());
        body.encode(&mut w)?;
        let bytes = w.finish();
        if bytes.len() > MAX_UNSIGNED_LEN {
            return Err(Error::InvalidInput { what: "ceremony message", reason: "longer than 64 KiB" });
        }
        Ok(bytes)
    }

    /// Decodes what [`SignedMessage::encode_unsigned`] writes, with no signature after
    /// it: the ceremony id, the sender and the body a message claims. This is the very
    /// decoder [`SignedMessage::verify`] runs on a message's bytes up to the signature,
    /// before it checks the signature over them. Nothing it returns is believed, since
    /// nothing here is signed: it is public so that the body decoders can be fuzzed on
    /// their own (`fuzz/fuzz_targets/crypto_ceremony_body.rs`), because through
    /// `verify` a fuzzer never gets past the signature to see whether what decoded
    /// encodes back to the same bytes.
    pub fn decode_unsigned(bytes: &[u8]) -> Result<(CeremonyId, PartyId, Body), Error> {
        let mut r = Reader::new(bytes, Alg::CeremonyMessage, MAX_UNSIGNED_LEN)?;
        let claimed = read_unsigned(&mut r)?;
        r.finish()?;
        Ok(claimed)
    }

    /// The framed bytes, to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the exact bytes: how transcripts name a message.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// Takes received bytes; nothing is believed until [`SignedMessage::verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(Error::decode(
                Alg::CeremonyMessage,
                DecodeError::TooLong { max: MAX_MESSAGE_LEN, got: bytes.len() },
            ));
        }
        Ok(SignedMessage { bytes: bytes.to_vec() })
    }

    /// The ceremony and sender the message claims, unverified (to route it).
    pub fn peek(&self) -> Result<(CeremonyId, PartyId), Error> {
        let mut r = Reader::new(&self.bytes, Alg::CeremonyMessage, MAX_MESSAGE_LEN)?;
        let _kind = r.u8("kind")?;
        let ceremony = r.array::<16>("ceremony")?;
        Ok((ceremony, r.party_id("sender")?))
    }

    /// Decodes the message and checks its signature under the sender's pinned key.
    pub fn verify(&self, pins: &TrusteePins) -> Result<Message, Error> {
        let mut r = Reader::new(&self.bytes, Alg::CeremonyMessage, MAX_MESSAGE_LEN)?;
        let (ceremony, sender, body) = read_unsigned(&mut r)?;
        let signed = r.consumed();
        let sig = r.signature("signature")?;
        r.finish()?;
        let key = pins.get(&sender).ok_or_else(|| Error::UnpinnedTrustee(sender.to_string()))?;
        key.verify(CEREMONY_SIG_DST, signed, &sig)?;
        Ok(Message { ceremony, sender, body })
    }
}

/// Reads the kind, ceremony id, sender and body after the version and alg (the part
/// the signature covers): shared by [`SignedMessage::verify`] and
/// [`SignedMessage::decode_unsigned`], so that fuzzing the one fuzzes the other.
fn read_unsigned(r: &mut Reader<'_>) -> Result<(CeremonyId, PartyId, Body), Error> {
    let kind = r.u8("kind")?;
    let ceremony = r.array::<16>("ceremony")?;
    let sender = r.party_id("sender")?;
    let body = Body::decode(kind, r)?;
    Ok((ceremony, sender, body))
}
