//! One trustee's side of a key ceremony, as a state machine: inputs in (messages,
//! operator commands, the passing of time), outputs out (messages to broadcast, log
//! steps, the installed key or the abort). No IO and no clock: the caller passes
//! `now_ms` (a monotonic millisecond count) and carries the messages.
//!
//! The phases and the moves between them are one table, [`TRANSITIONS`]:
//!
//! ```text
//! Proposed ─accept─▶ Accepting ─all accepted─▶ Ready ─execute─▶ Dealing
//! Dealing ─deals closed─▶ Complaining ─no grievance to answer─▶ Agreeing
//!                         Complaining ─complaints closed─▶ Justifying ─closed─▶ Agreeing
//! Agreeing ─every participant signed the same announcement─▶ Installed
//! any phase but Installed ─abort─▶ Aborted
//! ```
//!
//! A phase closes early when everything it waits for has arrived, else at its deadline.
//! Dealers are disqualified by rules every honest participant applies to the same
//! broadcast messages: no dealing, a dealing that is publicly wrong, a complaint that
//! it is missing, or a complaint that the share is bad with no valid revealed share.
//! The agreement round then compares what each participant concluded: each signs the
//! announcement it computed, whose transcript hash covers the proposal, acceptances,
//! the qualified dealers' commitments, every grievance and justification, and the key
//! set. The key
//! is installed only when **every** participant signed the same bytes; one missing or
//! different signature aborts the ceremony, and then nobody holds a complete signature
//! set, so nobody installs.

use std::collections::BTreeMap;
use std::fmt;

use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::announce::{Announcement, SignedAnnouncement, VerifiedAnnouncement, ANNOUNCEMENT_SIG_DST};
use crate::dkg::math::{
    combine, encrypt_share, CeremonyKey, CeremonyPublicKey, Dealing, DealingCommitment, DealtShare,
};
use crate::dkg::messages::{Body, CeremonyId, Grievance, Message, Plan, Proposal, SignedMessage};
use crate::error::Error;
use crate::id::PartyId;
use crate::keys::{EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
use crate::trustee_key::{TrusteePins, TrusteeSigningKey, SIGNATURE_LEN};

const TRANSCRIPT_DST: &[u8] = b"escrow/v1/ceremony-transcript\0";
const SHARE_CONTEXT_DST: &[u8] = b"escrow/v1/dkg-share-context\0";

/// Where a ceremony stands at one trustee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// The proposal arrived; this trustee's operator has not decided.
    Proposed,
    /// This trustee accepted; waiting for every participant's acceptance.
    Accepting,
    /// Everyone accepted; waiting for the proposer to execute.
    Ready,
    /// Dealings are being exchanged.
    Dealing,
    /// Players report missing or bad shares.
    Complaining,
    /// Accused dealers reveal the shares complained about.
    Justifying,
    /// Every participant signs the announcement it computed.
    Agreeing,
    /// The key set is installed (final).
    Installed,
    /// The ceremony was abandoned (final).
    Aborted,
}

/// What moves a ceremony from one phase to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// This trustee's operator (or its policy) accepts.
    Accept,
    /// Every participant's acceptance has arrived.
    AllAccepted,
    /// The proposer's execute has arrived (or the proposer executes).
    Execute,
    /// Every dealing arrived, or the dealing deadline passed.
    DealsClosed,
    /// Complaints closed with no bad-share grievance left to answer.
    NothingToJustify,
    /// Complaints closed and some dealer must answer.
    ComplaintsClosed,
    /// Every justification arrived, or the deadline passed.
    JustificationsClosed,
    /// Every participant signed the same announcement.
    AllAgreed,
    /// An operator, a participant, a deadline or a failed check ended it.
    Abort,
}

/// Every allowed move; anything not listed is refused.
pub const TRANSITIONS: &[(Phase, Event, Phase)] = &[
    (Phase::Proposed, Event::Accept, Phase::Accepting),
    (Phase::Accepting, Event::AllAccepted, Phase::Ready),
    (Phase::Ready, Event::Execute, Phase::Dealing),
    (Phase::Dealing, Event::DealsClosed, Phase::Complaining),
    (Phase::Complaining, Event::NothingToJustify, Phase::Agreeing),
    (Phase::Complaining, Event::ComplaintsClosed, Phase::Justifying),
    (Phase::Justifying, Event::JustificationsClosed, Phase::Agreeing),
    (Phase::Agreeing, Event::AllAgreed, Phase::Installed),
    (Phase::Proposed, Event::Abort, Phase::Aborted),
    (Phase::Accepting, Event::Abort, Phase::Aborted),
    (Phase::Ready, Event::Abort, Phase::Aborted),
    (Phase::Dealing, Event::Abort, Phase::Aborted),
    (Phase::Complaining, Event::Abort, Phase::Aborted),
    (Phase::Justifying, Event::Abort, Phase::Aborted),
    (Phase::Agreeing, Event::Abort, Phase::Aborted),
];

/// The phase `event` leads to from `phase`, or `None` if the move is not allowed.
pub fn transition(phase: Phase, event: Event) -> Option<Phase> {
    TRANSITIONS.iter().find(|(p, e, _)| *p == phase && *e == event).map(|(_, _, to)| *to)
}

/// Why a dealer was disqualified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disqualification {
    /// Its dealing did not arrive (here, or at a player who said so).
    Missing,
    /// Its dealing is wrong for everyone: another degree, another share count, or (for
    /// a reshare) a constant that is not its old public key share.
    InvalidDealing,
    /// A player complained of a bad share and no valid share was revealed.
    Unanswered,
}

impl Disqualification {
    /// The code in the log and in the transcript: 1 missing, 2 invalid dealing,
    /// 3 unanswered.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Missing => 1,
            Self::InvalidDealing => 2,
            Self::Unanswered => 3,
        }
    }
}

impl fmt::Display for Disqualification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disqualification::Missing => "its dealing was missing",
            Disqualification::InvalidDealing => "its dealing is invalid",
            Disqualification::Unanswered => "a complaint against it was not answered with a valid share",
        })
    }
}

/// Why a ceremony ended without a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// An operator aborted (this trustee's, or the proposer's).
    Operator(String),
    /// A participant rejected the proposal.
    Rejected {
        /// Who.
        by: PartyId,
        /// Their reason.
        reason: String,
    },
    /// A participant aborted.
    AbortedBy {
        /// Who.
        by: PartyId,
        /// Their reason.
        reason: String,
    },
    /// A phase's deadline passed without what it needs; names who was missing.
    TimedOut {
        /// The phase.
        phase: Phase,
        /// The participants whose messages did not arrive.
        missing: Vec<PartyId>,
    },
    /// Too few dealers qualified.
    TooFewQualified {
        /// Qualified.
        qualified: usize,
        /// Needed.
        needed: usize,
    },
    /// A participant signed a different announcement: the views diverged.
    Disagreement {
        /// Who.
        by: PartyId,
    },
    /// The qualified dealings did not combine (should not happen after the checks).
    Combine(Error),
    /// This trustee restarted during the ceremony: its state (ceremony key, dealing,
    /// what it received) died with the process, so it cannot go on.
    Restarted {
        /// This trustee.
        by: PartyId,
    },
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::Operator(r) => write!(f, "aborted by the operator: {r}"),
            AbortReason::Rejected { by, reason } => write!(f, "{by} rejected the proposal: {reason}"),
            AbortReason::AbortedBy { by, reason } => write!(f, "{by} aborted: {reason}"),
            AbortReason::TimedOut { phase, missing } => {
                let names: Vec<&str> = missing.iter().map(PartyId::as_str).collect();
                write!(f, "timed out in {phase:?} waiting for {}", names.join(", "))
            }
            AbortReason::TooFewQualified { qualified, needed } => {
                write!(f, "{qualified} dealers qualified, {needed} needed")
            }
            AbortReason::Disagreement { by } => write!(f, "{by} signed a different announcement"),
            AbortReason::Combine(e) => write!(f, "the qualified dealings do not combine: {e}"),
            AbortReason::Restarted { by } => write!(f, "{by} restarted during the ceremony and lost its state"),
        }
    }
}

/// How a ceremony ended at a peer, as the peer reports it ([`Ceremony::learn`]).
#[derive(Clone, Debug)]
pub enum PeerOutcome {
    /// It installed this signed announcement.
    Installed(SignedAnnouncement),
    /// It aborted, for this reason.
    Aborted {
        /// Its reason.
        reason: String,
    },
}

/// A fact to write to this trustee's log before it takes effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The proposal was made or received.
    Proposed {
        /// SHA-256 of the proposal message.
        proposal: [u8; 32],
        /// Who proposed.
        proposer: PartyId,
    },
    /// A participant accepted.
    Accepted {
        /// Who.
        by: PartyId,
    },
    /// The proposer executed.
    Executed,
    /// A dealer's dealing was received (or made here).
    Dealt {
        /// Who.
        dealer: PartyId,
        /// SHA-256 of its commitment.
        commitment: [u8; 32],
    },
    /// A player complained.
    Complained {
        /// Who complained.
        by: PartyId,
        /// Against which dealer.
        against: PartyId,
        /// Why.
        grievance: Grievance,
    },
    /// A dealer revealed a share to answer a complaint.
    Justified {
        /// The dealer.
        dealer: PartyId,
        /// The complaining player.
        player: PartyId,
    },
    /// A dealer was disqualified.
    Disqualified {
        /// Who.
        dealer: PartyId,
        /// Why.
        why: Disqualification,
    },
    /// A participant signed the announcement (this trustee's is logged before sending).
    Agreed {
        /// Who.
        by: PartyId,
        /// SHA-256 of the announcement it signed.
        announcement: [u8; 32],
    },
    /// The key set was installed.
    Installed {
        /// SHA-256 of the announcement.
        announcement: [u8; 32],
    },
    /// The ceremony was aborted.
    Aborted {
        /// Why.
        reason: AbortReason,
    },
}

/// The key a ceremony made, for this trustee.
pub struct Installation {
    /// The announcement every participant signed, checked under the pins.
    pub announcement: VerifiedAnnouncement,
    /// This trustee's new share (`None` for a dealer leaving in a reshare).
    pub share: Option<TrusteeKeyShare>,
}

impl Installation {
    /// The key set made (the one the announcement states).
    pub fn key_set(&self) -> &EpochPublicKey {
        self.announcement.key_set()
    }
}

impl fmt::Debug for Installation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installation").field("key_set", self.key_set()).field("share", &self.share).finish()
    }
}

/// What the caller must do, in order: log each step before acting on what follows it.
#[derive(Debug)]
pub enum Output {
    /// Write this to the log.
    Log(Step),
    /// Send this to every other participant.
    Broadcast(SignedMessage),
    /// Install this key (after logging the step before it).
    Install(Box<Installation>),
    /// The ceremony is over without a key.
    Abort(AbortReason),
    /// Ask the peers how the ceremony stands there before going on (after a stall;
    /// see [`Ceremony::set_stalled`]); answer with [`Ceremony::learn`] or
    /// [`Ceremony::peers_undecided`].
    AskPeers,
}

/// Why an input was refused (the ceremony is unchanged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The message does not verify or decode.
    #[error("{0}")]
    Message(Error),
    /// The message belongs to another ceremony or proposal.
    #[error("the message is for another ceremony or proposal")]
    WrongCeremony,
    /// The sender does not take part, or not in the role the message needs.
    #[error("{sender} may not send a {what} in this ceremony")]
    NotAllowed {
        /// The sender.
        sender: PartyId,
        /// The message kind.
        what: &'static str,
    },
    /// The command does not fit the phase.
    #[error("cannot {what} in phase {phase:?}")]
    WrongPhase {
        /// The command.
        what: &'static str,
        /// The phase.
        phase: Phase,
    },
    /// The proposal cannot be taken part in (inconsistent, unpinned trustees, or this
    /// trustee's old share missing for a reshare it must deal in).
    #[error("proposal refused: {0}")]
    Proposal(Error),
}

/// What this trustee brings to a ceremony.
pub struct Setup {
    /// Its signing key (its id is the key's trustee).
    pub key: TrusteeSigningKey,
    /// The pinned keys of every trustee it may meet.
    pub pins: TrusteePins,
    /// Its share of the key set being reshared, if it deals in a reshare.
    pub old_share: Option<TrusteeKeyShare>,
    /// Compute the announcement but do not sign it: a participant that refuses at the
    /// last moment (tests and the demo show that the ceremony then aborts everywhere).
    /// Only with the `dangerous` feature: a shipped trustee cannot be told to do this.
    #[cfg(feature = "dangerous")]
    pub withhold_agreement: bool,
}

impl Setup {
    /// What an honest trustee brings. Callers that may misbehave (tests, the demo) set
    /// `withhold_agreement` afterwards; building `Setup` through here keeps them
    /// compiling whichever features the build unifies.
    pub fn new(key: TrusteeSigningKey, pins: TrusteePins, old_share: Option<TrusteeKeyShare>) -> Self {
        Setup {
            key,
            pins,
            old_share,
            #[cfg(feature = "dangerous")]
            withhold_agreement: false,
        }
    }
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup").field("key", &self.key).field("old_share", &self.old_share).finish_non_exhaustive()
    }
}

struct Deal {
    commitment: DealingCommitment,
    /// Publicly wrong (every participant with it sees the same).
    invalid: bool,
}

/// One trustee's ceremony.
pub struct Ceremony {
    setup: Setup,
    id: CeremonyId,
    proposal: Proposal,
    proposal_hash: [u8; 32],
    proposer: PartyId,
    participants: Vec<PartyId>,
    phase: Phase,
    deadline_ms: u64,
    executed_at_ms: u64,
    ceremony_key: Option<CeremonyKey>,
    accepts: BTreeMap<PartyId, (SignedMessage, [u8; 33])>,
    execute: Option<SignedMessage>,
    dealing: Option<Dealing>,
    deals: BTreeMap<u16, Deal>,
    my_shares: BTreeMap<u16, DealtShare>,
    complaints: BTreeMap<u16, Vec<(u16, Grievance)>>,
    justifications: BTreeMap<(u16, u16), DealtShare>,
    /// The announcement this trustee computed (its bytes and their hash), once it has.
    announcement: Option<(Vec<u8>, [u8; 32])>,
    /// Its new share, computed with the announcement.
    new_share: Option<TrusteeKeyShare>,
    agreements: BTreeMap<PartyId, [u8; SIGNATURE_LEN]>,
    /// Messages that arrived before this trustee accepted, verified: the first of each
    /// kind from each sender.
    early: BTreeMap<(PartyId, &'static str), (Message, SignedMessage)>,
    /// Agreements (announcement hash, signature) that arrived before this trustee
    /// computed its own announcement: the first from each participant.
    early_agreements: BTreeMap<PartyId, ([u8; 32], [u8; SIGNATURE_LEN])>,
    /// This trustee's process stood still (paused, starved) or was cut off while the
    /// ceremony ran ([`Ceremony::set_stalled`]): before it installs on what was waiting
    /// for it, it asks its peers, who may have given up meanwhile.
    stalled: bool,
    /// It asked ([`Output::AskPeers`]) and waits for the answer.
    asking: bool,
    /// The agreement deadline passed and the peers were asked once then.
    asked_at_deadline: bool,
}

/// How long past the agreement deadline a trustee waits for its peers' answer
/// ([`Output::AskPeers`]) before it aborts all the same.
pub const ASK_GRACE_MS: u64 = 3_000;

impl fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ceremony")
            .field("me", self.me())
            .field("phase", &self.phase)
            .field("epoch", &self.proposal.epoch)
            .finish_non_exhaustive()
    }
}

fn position(v: &[PartyId], p: &PartyId) -> Option<u16> {
    v.iter().position(|x| x == p).and_then(|i| u16::try_from(i).ok())
}

impl Ceremony {
    /// Proposes `proposal` as ceremony `id`: signs it, and accepts it on this
    /// trustee's behalf (the proposer consents by proposing).
    pub fn propose<R: RngCore + CryptoRng>(
        setup: Setup,
        id: CeremonyId,
        proposal: Proposal,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(Ceremony, Vec<Output>), CeremonyError> {
        let msg = SignedMessage::sign(&setup.key, &id, &Body::Proposal(proposal)).map_err(CeremonyError::Proposal)?;
        let mut c = Self::from_proposal(setup, &msg, now_ms)?;
        let mut out = vec![Output::Log(Step::Proposed { proposal: c.proposal_hash, proposer: c.proposer.clone() })];
        out.push(Output::Broadcast(msg));
        out.extend(c.accept(now_ms, rng)?);
        Ok((c, out))
    }

    /// Takes part in a received proposal; with `auto_accept` this trustee accepts
    /// at once (its policy's choice), else its operator decides.
    pub fn join<R: RngCore + CryptoRng>(
        setup: Setup,
        msg: &SignedMessage,
        auto_accept: bool,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(Ceremony, Vec<Output>), CeremonyError> {
        let mut c = Self::from_proposal(setup, msg, now_ms)?;
        let mut out = vec![Output::Log(Step::Proposed { proposal: c.proposal_hash, proposer: c.proposer.clone() })];
        if auto_accept {
            out.extend(c.accept(now_ms, rng)?);
        }
        Ok((c, out))
    }

    fn from_proposal(setup: Setup, msg: &SignedMessage, now_ms: u64) -> Result<Ceremony, CeremonyError> {
        let Message { ceremony, sender, body } = msg.verify(&setup.pins).map_err(CeremonyError::Message)?;
        let Body::Proposal(proposal) = body else {
            return Err(CeremonyError::NotAllowed { sender, what: "message before the proposal" });
        };
        proposal.check().map_err(CeremonyError::Proposal)?;
        let participants = proposal.participants();
        if !participants.contains(&sender) {
            return Err(CeremonyError::NotAllowed { sender, what: "proposal" });
        }
        let me = setup.key.trustee().clone();
        if !participants.contains(&me) {
            return Err(CeremonyError::Proposal(Error::InvalidInput {
                what: "ceremony proposal",
                reason: "this trustee does not take part",
            }));
        }
        if let Some(p) = participants.iter().find(|p| setup.pins.get(p).is_none()) {
            return Err(CeremonyError::Proposal(Error::UnpinnedTrustee(p.to_string())));
        }
        if let Plan::Reshare { previous, holders, .. } = &proposal.plan {
            if proposal.dealers.contains(&me) {
                let index = position(holders, &me).map(TrusteeIndex);
                let ok = setup
                    .old_share
                    .as_ref()
                    .is_some_and(|s| Some(s.index()) == index && s.check_against(previous).is_ok());
                if !ok {
                    return Err(CeremonyError::Proposal(Error::InvalidInput {
                        what: "reshare",
                        reason: "this trustee deals but holds no share of the key set at its old index",
                    }));
                }
            }
        }
        let deadline_ms = now_ms.saturating_add(u64::from(proposal.accept_timeout_ms));
        Ok(Ceremony {
            setup,
            id: ceremony,
            proposal_hash: msg.hash(),
            proposer: sender,
            participants,
            proposal,
            phase: Phase::Proposed,
            deadline_ms,
            executed_at_ms: 0,
            ceremony_key: None,
            accepts: BTreeMap::new(),
            execute: None,
            dealing: None,
            deals: BTreeMap::new(),
            my_shares: BTreeMap::new(),
            complaints: BTreeMap::new(),
            justifications: BTreeMap::new(),
            announcement: None,
            new_share: None,
            agreements: BTreeMap::new(),
            early: BTreeMap::new(),
            early_agreements: BTreeMap::new(),
            stalled: false,
            asking: false,
            asked_at_deadline: false,
        })
    }

    /// This trustee.
    pub fn me(&self) -> &PartyId {
        self.setup.key.trustee()
    }
    /// The ceremony id.
    pub fn id(&self) -> &CeremonyId {
        &self.id
    }
    /// The proposal.
    pub fn proposal(&self) -> &Proposal {
        &self.proposal
    }
    /// SHA-256 of the proposal message, which every later message names.
    pub fn proposal_hash(&self) -> &[u8; 32] {
        &self.proposal_hash
    }
    /// Who proposed.
    pub fn proposer(&self) -> &PartyId {
        &self.proposer
    }
    /// Everyone taking part.
    pub fn participants(&self) -> &[PartyId] {
        &self.participants
    }
    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// When the current phase ends if nothing moves it (monotonic milliseconds).
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }
    /// Whether the ceremony is over.
    pub fn is_final(&self) -> bool {
        matches!(self.phase, Phase::Installed | Phase::Aborted)
    }

    fn sign(&self, body: &Body) -> SignedMessage {
        SignedMessage::sign(&self.setup.key, &self.id, body).expect("bodies this trustee builds are within limits")
    }

    /// Moves by `event`. The automatic phases end on a schedule counted from when
    /// this trustee saw the execute (dealing at 1, complaints at 2, justifications at
    /// 3, agreement at 4 phase timeouts), not from when each began: a trustee that
    /// closed a phase early still waits as long as the slowest for the next one.
    fn enter(&mut self, event: Event, now_ms: u64) -> bool {
        let Some(next) = transition(self.phase, event) else { return false };
        self.phase = next;
        if next == Phase::Dealing {
            self.executed_at_ms = now_ms;
        }
        let slot = match next {
            Phase::Dealing => 1,
            Phase::Complaining => 2,
            Phase::Justifying => 3,
            Phase::Agreeing => 4,
            Phase::Proposed | Phase::Accepting | Phase::Ready | Phase::Installed | Phase::Aborted => 0,
        };
        if slot > 0 {
            self.deadline_ms = self.executed_at_ms.saturating_add(slot * u64::from(self.proposal.phase_timeout_ms));
        }
        true
    }

    fn player_index(&self, p: &PartyId) -> Option<u16> {
        position(&self.proposal.players, p)
    }

    fn dealer_position(&self, p: &PartyId) -> Option<u16> {
        position(&self.proposal.dealers, p)
    }

    fn dealer_id(&self, d: u16) -> PartyId {
        self.proposal.dealers.get(usize::from(d)).cloned().expect("dealer positions index the dealers")
    }

    fn player_id(&self, j: u16) -> PartyId {
        self.proposal.players.get(usize::from(j)).cloned().expect("player indices index the players")
    }

    /// The index a dealer's commitment constant answers to: its old index for a
    /// reshare, its position otherwise.
    fn dealer_weight_index(&self, d: u16) -> TrusteeIndex {
        match &self.proposal.plan {
            Plan::Fresh => TrusteeIndex(d),
            Plan::Reshare { holders, .. } => {
                TrusteeIndex(position(holders, &self.dealer_id(d)).expect("reshare dealers are old holders"))
            }
        }
    }

    fn share_context(&self, dealer: u16, player: u16, commitment: &DealingCommitment) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(SHARE_CONTEXT_DST);
        h.update(self.id);
        h.update(self.proposal_hash);
        h.update(dealer.to_be_bytes());
        h.update(player.to_be_bytes());
        h.update(commitment.hash());
        h.finalize().to_vec()
    }

    /// This trustee's operator (or policy) accepts.
    pub fn accept<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Result<Vec<Output>, CeremonyError> {
        if !self.enter(Event::Accept, now_ms) {
            return Err(CeremonyError::WrongPhase { what: "accept", phase: self.phase });
        }
        let key = CeremonyKey::generate(rng);
        let encryption_key = key.public().to_bytes();
        self.ceremony_key = Some(key);
        let msg = self.sign(&Body::Accept { proposal: self.proposal_hash, encryption_key });
        self.accepts.insert(self.me().clone(), (msg.clone(), encryption_key));
        let mut out = vec![Output::Log(Step::Accepted { by: self.me().clone() }), Output::Broadcast(msg)];
        let early = std::mem::take(&mut self.early).into_values().collect();
        out.extend(self.replay(early, now_ms, rng));
        out.extend(self.advance(now_ms, rng));
        Ok(out)
    }

    /// This trustee's operator rejects: the ceremony ends here and everywhere.
    pub fn reject(&mut self, reason: &str, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if self.phase != Phase::Proposed {
            return Err(CeremonyError::WrongPhase { what: "reject", phase: self.phase });
        }
        let reason: String = reason.chars().take(200).collect();
        let msg = self.sign(&Body::Reject { proposal: self.proposal_hash, reason: reason.clone() });
        let mut out = vec![Output::Broadcast(msg)];
        out.extend(self.abort_with(AbortReason::Rejected { by: self.me().clone(), reason }, false, now_ms));
        Ok(out)
    }

    /// The proposer's operator starts the ceremony (every participant accepted).
    pub fn execute<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Result<Vec<Output>, CeremonyError> {
        if self.me() != &self.proposer {
            return Err(CeremonyError::NotAllowed { sender: self.me().clone(), what: "execute" });
        }
        if self.phase != Phase::Ready {
            return Err(CeremonyError::WrongPhase { what: "execute", phase: self.phase });
        }
        let msg = self.sign(&Body::Execute { proposal: self.proposal_hash });
        self.execute = Some(msg.clone());
        let mut out = vec![Output::Broadcast(msg)];
        out.extend(self.advance(now_ms, rng));
        Ok(out)
    }

    /// This trustee's operator aborts.
    pub fn abort(&mut self, reason: &str, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if self.is_final() {
            return Err(CeremonyError::WrongPhase { what: "abort", phase: self.phase });
        }
        Ok(self.abort_with(AbortReason::Operator(reason.chars().take(200).collect()), true, now_ms))
    }

    /// The caller saw this trustee's process stand still while the ceremony ran (its
    /// ticks stopped for longer than a tick should take: `docker pause`, SIGSTOP, a
    /// starved host), or a message that had waited at its sender (this trustee was cut
    /// off, and is back while the peers still retry). The peers may have passed their
    /// deadlines and aborted meanwhile, and the messages that waited for this trustee
    /// may include every agreement but not yet the aborts: a trustee cut off before the
    /// execute would otherwise run the whole ceremony on its own late schedule and
    /// install where the others aborted. So it does not install on them at once: when every agreement
    /// is in, it emits [`Output::AskPeers`] and installs only after
    /// [`Ceremony::peers_undecided`] (no peer has ended) or on [`Ceremony::learn`]. The
    /// agreement deadline does the same once: the machine asks before it aborts.
    pub fn set_stalled(&mut self) {
        if !self.is_final() {
            self.stalled = true;
        }
    }

    /// The answer to [`Output::AskPeers`]: no peer reported an end (they are still in
    /// the ceremony, or did not answer). This trustee goes on as it would have.
    pub fn peers_undecided<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        self.stalled = false;
        self.asking = false;
        if self.is_final() {
            return Vec::new();
        }
        let mut out = self.advance(now_ms, rng);
        // Past the agreement deadline, and still short of an agreement: now it aborts.
        out.extend(self.tick(now_ms, rng));
        out
    }

    /// What a peer reports the ceremony came to, asked over an authenticated channel by
    /// a trustee that was paused or cut off and missed messages. An abort is taken on
    /// the peer's word (any participant may abort); an install only with the proof
    /// that makes installing safe: the signed announcement, with every participant's
    /// signature over the very announcement this trustee computed.
    pub fn learn(&mut self, from: &PartyId, outcome: &PeerOutcome, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if !self.participants.contains(from) || from == self.me() {
            return Err(CeremonyError::NotAllowed { sender: from.clone(), what: "ceremony outcome" });
        }
        if self.is_final() {
            return Ok(Vec::new());
        }
        let signed = match outcome {
            PeerOutcome::Aborted { reason } => {
                let reason = reason.chars().take(200).collect();
                return Ok(self.abort_with(AbortReason::AbortedBy { by: from.clone(), reason }, false, now_ms));
            }
            PeerOutcome::Installed(signed) => signed,
        };
        let mine = self.announcement.clone().filter(|(body, _)| self.phase == Phase::Agreeing && signed.body() == body);
        let Some((_, hash)) = mine else {
            // It installed what this trustee never computed (it missed a phase, or its
            // view differs): it cannot follow, and ends the ceremony here.
            return Ok(self.abort_with(AbortReason::Disagreement { by: from.clone() }, true, now_ms));
        };
        let every = self.participants.iter().all(|p| signed.signers().any(|s| s == p));
        let verified = signed.verify(&self.setup.pins).map_err(CeremonyError::Message)?;
        if !every {
            return Err(CeremonyError::NotAllowed {
                sender: from.clone(),
                what: "announcement without every signature",
            });
        }
        let mut out: Vec<Output> = self
            .participants
            .iter()
            .filter(|p| !self.agreements.contains_key(*p))
            .map(|p| Output::Log(Step::Agreed { by: p.clone(), announcement: hash }))
            .collect();
        let share = self.new_share.take();
        self.enter(Event::AllAgreed, now_ms);
        self.ceremony_key = None;
        out.push(Output::Log(Step::Installed { announcement: hash }));
        out.push(Output::Install(Box::new(Installation { announcement: verified, share })));
        Ok(out)
    }

    /// Ends a ceremony this trustee was in before it restarted (rebuilt from the
    /// proposal with [`Ceremony::join`]): logs why and tells every participant.
    pub fn abandon_after_restart(&mut self, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if self.is_final() {
            return Err(CeremonyError::WrongPhase { what: "abandon", phase: self.phase });
        }
        let by = self.me().clone();
        Ok(self.abort_with(AbortReason::Restarted { by }, true, now_ms))
    }

    fn abort_with(&mut self, reason: AbortReason, tell: bool, now_ms: u64) -> Vec<Output> {
        if !self.enter(Event::Abort, now_ms) {
            return Vec::new();
        }
        self.dealing = None;
        self.my_shares.clear();
        self.new_share = None;
        self.ceremony_key = None;
        let mut out = Vec::new();
        if tell {
            let text: String = reason.to_string().chars().take(200).collect();
            out.push(Output::Broadcast(self.sign(&Body::Abort { proposal: self.proposal_hash, reason: text })));
        }
        out.push(Output::Log(Step::Aborted { reason: reason.clone() }));
        out.push(Output::Abort(reason));
        out
    }

    /// Time passed: closes the phase whose deadline is behind `now_ms`.
    pub fn tick<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        if self.is_final() || now_ms < self.deadline_ms {
            return Vec::new();
        }
        match self.phase {
            Phase::Proposed | Phase::Accepting | Phase::Ready => {
                let missing = match self.phase {
                    Phase::Ready => vec![self.proposer.clone()],
                    Phase::Proposed => vec![self.me().clone()],
                    _ => self.participants.iter().filter(|p| !self.accepts.contains_key(*p)).cloned().collect(),
                };
                self.abort_with(AbortReason::TimedOut { phase: self.phase, missing }, true, now_ms)
            }
            Phase::Agreeing => {
                // Before giving up, ask the peers once: one that installed holds every
                // signature, and this trustee joins it instead of splitting the holders
                // ([`Ceremony::learn`]). The abort waits for the answer, at most
                // [`ASK_GRACE_MS`].
                if !self.asked_at_deadline {
                    self.asked_at_deadline = true;
                    self.stalled = true;
                    if !self.asking {
                        self.asking = true;
                        return vec![Output::AskPeers];
                    }
                    return Vec::new();
                }
                if self.asking && now_ms < self.deadline_ms.saturating_add(ASK_GRACE_MS) {
                    return Vec::new();
                }
                let missing = self.participants.iter().filter(|p| !self.agreements.contains_key(*p)).cloned().collect();
                self.abort_with(AbortReason::TimedOut { phase: Phase::Agreeing, missing }, true, now_ms)
            }
            Phase::Dealing | Phase::Complaining | Phase::Justifying => self.close(now_ms, rng),
            Phase::Installed | Phase::Aborted => Vec::new(),
        }
    }

    /// A message from another participant.
    pub fn receive<R: RngCore + CryptoRng>(
        &mut self,
        msg: &SignedMessage,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Output>, CeremonyError> {
        let m = msg.verify(&self.setup.pins).map_err(CeremonyError::Message)?;
        if m.ceremony != self.id {
            return Err(CeremonyError::WrongCeremony);
        }
        if matches!(m.body, Body::Proposal(_)) {
            return if msg.hash() == self.proposal_hash { Ok(Vec::new()) } else { Err(CeremonyError::WrongCeremony) };
        }
        if m.body.proposal_hash() != Some(&self.proposal_hash) {
            return Err(CeremonyError::WrongCeremony);
        }
        if !self.participants.contains(&m.sender) || m.sender == *self.me() {
            return Err(CeremonyError::NotAllowed { sender: m.sender, what: m.body.name() });
        }
        if self.is_final() {
            return Ok(Vec::new());
        }
        // The deadline is checked on every message, not only when the caller ticks: a
        // message that arrives after its phase closed is taken in the phase that
        // follows (or not at all), exactly as if the tick had come first. Without
        // this, a trustee whose ticker lagged (a paused process) could install on an
        // agreement that arrived after the deadline at which the others aborted.
        let mut out = self.tick(now_ms, rng);
        if self.is_final() {
            return Ok(out);
        }
        // Until this trustee accepted, only a rejection or an abort can change anything;
        // the rest waits (bounded: one per sender and kind).
        if self.phase == Phase::Proposed && !matches!(m.body, Body::Reject { .. } | Body::Abort { .. }) {
            self.early.entry((m.sender.clone(), m.body.name())).or_insert_with(|| (m, msg.clone()));
            return Ok(out);
        }
        out.extend(self.take(m, msg, now_ms, rng)?);
        Ok(out)
    }

    #[allow(clippy::too_many_lines)]
    fn take<R: RngCore + CryptoRng>(
        &mut self,
        m: Message,
        msg: &SignedMessage,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Output>, CeremonyError> {
        let mut out = Vec::new();
        let sender = m.sender;
        match m.body {
            Body::Proposal(_) => {}
            Body::Accept { encryption_key, .. } => {
                if CeremonyPublicKey::from_bytes(&encryption_key).is_err() {
                    return Err(CeremonyError::NotAllowed { sender, what: "acceptance with a bad key" });
                }
                if !self.accepts.contains_key(&sender) && self.phase <= Phase::Ready {
                    self.accepts.insert(sender.clone(), (msg.clone(), encryption_key));
                    out.push(Output::Log(Step::Accepted { by: sender }));
                }
            }
            Body::Reject { reason, .. } => {
                return Ok(self.abort_with(AbortReason::Rejected { by: sender, reason }, false, now_ms));
            }
            Body::Abort { reason, .. } => {
                return Ok(self.abort_with(AbortReason::AbortedBy { by: sender, reason }, false, now_ms));
            }
            Body::Execute { .. } => {
                if sender != self.proposer {
                    return Err(CeremonyError::NotAllowed { sender, what: "execute" });
                }
                if self.execute.is_none() {
                    self.execute = Some(msg.clone());
                }
            }
            Body::Deal { commitment, shares, .. } => {
                let d = self
                    .dealer_position(&sender)
                    .ok_or(CeremonyError::NotAllowed { sender: sender.clone(), what: "dealing" })?;
                if self.phase <= Phase::Dealing && !self.deals.contains_key(&d) {
                    out.extend(self.store_deal(d, commitment, shares));
                }
            }
            Body::Complaints { against, .. } => {
                let j = self
                    .player_index(&sender)
                    .ok_or(CeremonyError::NotAllowed { sender: sender.clone(), what: "complaints" })?;
                let dealers = self.proposal.dealers.len();
                if against.iter().any(|(d, _)| usize::from(*d) >= dealers) {
                    return Err(CeremonyError::NotAllowed { sender, what: "complaint against a non-dealer" });
                }
                if self.phase <= Phase::Complaining && !self.complaints.contains_key(&j) {
                    for (d, g) in &against {
                        out.push(Output::Log(Step::Complained {
                            by: sender.clone(),
                            against: self.dealer_id(*d),
                            grievance: *g,
                        }));
                    }
                    out.extend(self.answer(j, &against));
                    self.complaints.insert(j, against);
                }
            }
            Body::Justification { player, share, .. } => {
                let d = self
                    .dealer_position(&sender)
                    .ok_or(CeremonyError::NotAllowed { sender: sender.clone(), what: "justification" })?;
                let Ok(share) = DealtShare::from_bytes(&share) else {
                    return Err(CeremonyError::NotAllowed { sender, what: "justification with a bad share" });
                };
                if usize::from(player) >= self.proposal.players.len() {
                    return Err(CeremonyError::NotAllowed { sender, what: "justification for a non-player" });
                }
                if self.phase <= Phase::Justifying && !self.justifications.contains_key(&(d, player)) {
                    out.push(Output::Log(Step::Justified { dealer: sender, player: self.player_id(player) }));
                    self.justifications.insert((d, player), share);
                }
            }
            Body::Agreement { announcement, signature, .. } => {
                out.extend(self.take_agreement(sender, announcement, signature, now_ms));
            }
        }
        out.extend(self.advance(now_ms, rng));
        Ok(out)
    }

    /// A participant's agreement: counted if it signs the announcement this trustee
    /// computed, the end of the ceremony if it signs another. Before this trustee has
    /// its own, the first from each sender is kept and taken then.
    fn take_agreement(
        &mut self,
        sender: PartyId,
        announcement: [u8; 32],
        signature: [u8; SIGNATURE_LEN],
        now_ms: u64,
    ) -> Vec<Output> {
        if self.is_final() || self.agreements.contains_key(&sender) {
            return Vec::new();
        }
        let Some((body, hash)) = &self.announcement else {
            self.early_agreements.entry(sender).or_insert((announcement, signature));
            return Vec::new();
        };
        let agrees = &announcement == hash
            && self.setup.pins.get(&sender).is_some_and(|k| k.verify(ANNOUNCEMENT_SIG_DST, body, &signature).is_ok());
        let mut out = vec![Output::Log(Step::Agreed { by: sender.clone(), announcement })];
        if agrees {
            self.agreements.insert(sender, signature);
        } else {
            out.extend(self.abort_with(AbortReason::Disagreement { by: sender }, true, now_ms));
        }
        out
    }

    /// A dealer answers complaints against itself by revealing the shares (and counts
    /// its own answer, as every other participant will).
    fn answer(&mut self, player: u16, against: &[(u16, Grievance)]) -> Vec<Output> {
        let (Some(me), Some(dealing)) = (self.dealer_position(self.me()), &self.dealing) else { return Vec::new() };
        let mut out = Vec::new();
        for (d, g) in against {
            if *d == me && *g == Grievance::BadShare && !self.justifications.contains_key(&(me, player)) {
                let revealed = dealing.share_for(TrusteeIndex(player));
                let share = *revealed.to_bytes();
                self.justifications.insert((me, player), revealed);
                out.push(Output::Log(Step::Justified { dealer: self.me().clone(), player: self.player_id(player) }));
                out.push(Output::Broadcast(self.sign(&Body::Justification {
                    proposal: self.proposal_hash,
                    player,
                    share,
                })));
            }
        }
        out
    }

    fn store_deal(&mut self, d: u16, commitment: DealingCommitment, shares: Vec<Vec<u8>>) -> Vec<Output> {
        let mut invalid =
            commitment.threshold() != self.proposal.threshold || shares.len() != self.proposal.players.len();
        if let Plan::Reshare { previous, .. } = &self.proposal.plan {
            let index = self.dealer_weight_index(d);
            invalid |= previous.share_key(index).map_or(true, |k| k != commitment.constant());
        }
        if !invalid {
            if let (Some(j), Some(key)) = (self.player_index(self.me()), &self.ceremony_key) {
                let ctx = self.share_context(d, j, &commitment);
                let mine = shares
                    .get(usize::from(j))
                    .and_then(|blob| key.decrypt_share(&ctx, blob).ok())
                    .filter(|s| commitment.verify(TrusteeIndex(j), s));
                if let Some(s) = mine {
                    self.my_shares.insert(d, s);
                }
            }
        }
        let step = Step::Dealt { dealer: self.dealer_id(d), commitment: commitment.hash() };
        self.deals.insert(d, Deal { commitment, invalid });
        vec![Output::Log(step)]
    }

    /// Moves on as far as what has arrived allows.
    fn advance<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        let mut out = Vec::new();
        loop {
            let before = self.phase;
            match self.phase {
                Phase::Accepting if self.participants.iter().all(|p| self.accepts.contains_key(p)) => {
                    self.enter(Event::AllAccepted, now_ms);
                }
                Phase::Ready if self.execute.is_some() => {
                    self.enter(Event::Execute, now_ms);
                    out.push(Output::Log(Step::Executed));
                    out.extend(self.deal(rng));
                }
                Phase::Dealing if self.deals.len() == self.proposal.dealers.len() => {
                    out.extend(self.close(now_ms, rng))
                }
                Phase::Complaining if self.complaints.len() == self.proposal.players.len() => {
                    out.extend(self.close(now_ms, rng));
                }
                Phase::Justifying if self.pending_justifications().is_empty() => out.extend(self.close(now_ms, rng)),
                Phase::Agreeing if self.participants.iter().all(|p| self.agreements.contains_key(p)) => {
                    if self.stalled {
                        if !self.asking {
                            self.asking = true;
                            out.push(Output::AskPeers);
                        }
                    } else {
                        out.extend(self.install(now_ms));
                    }
                }
                _ => {}
            }
            if self.phase == before {
                break;
            }
        }
        out
    }

    /// Takes messages that were kept for later (verified when they arrived), once each.
    fn replay<R: RngCore + CryptoRng>(
        &mut self,
        kept: Vec<(Message, SignedMessage)>,
        now_ms: u64,
        rng: &mut R,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        for (m, msg) in kept {
            if let Ok(more) = self.take(m, &msg, now_ms, rng) {
                out.extend(more);
            }
        }
        out
    }

    fn deal<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> Vec<Output> {
        let Some(d) = self.dealer_position(self.me()) else { return Vec::new() };
        let t = self.proposal.threshold;
        let dealing = match (&self.proposal.plan, &self.setup.old_share) {
            (Plan::Fresh, _) => Dealing::fresh(t, rng),
            (Plan::Reshare { .. }, Some(old)) => Dealing::reshare(old, t, rng),
            (Plan::Reshare { .. }, None) => {
                Err(Error::InvalidInput { what: "reshare", reason: "no old share to deal" })
            }
        };
        let Ok(dealing) = dealing else { return Vec::new() };
        let commitment = dealing.commitment();
        let mut shares = Vec::with_capacity(self.proposal.players.len());
        for (j, p) in self.proposal.players.iter().enumerate() {
            let j = u16::try_from(j).expect("at most 64 players");
            let key = self.accepts.get(p).and_then(|(_, k)| CeremonyPublicKey::from_bytes(k).ok());
            let Some(key) = key else { return Vec::new() };
            let ctx = self.share_context(d, j, &commitment);
            shares.push(encrypt_share(&key, &ctx, &dealing.share_for(TrusteeIndex(j)), rng));
        }
        let msg = self.sign(&Body::Deal {
            proposal: self.proposal_hash,
            commitment: commitment.clone(),
            shares: shares.clone(),
        });
        self.dealing = Some(dealing);
        let mut out = self.store_deal(d, commitment, shares);
        out.push(Output::Broadcast(msg));
        out
    }

    /// The bad-share complaints still waiting for their dealer's revealed share.
    fn pending_justifications(&self) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        for (j, against) in &self.complaints {
            for (d, g) in against {
                let hopeless = against.iter().any(|(d2, g2)| d2 == d && *g2 == Grievance::Missing)
                    || self.deals.get(d).is_none_or(|x| x.invalid);
                if *g == Grievance::BadShare && !hopeless && !self.justifications.contains_key(&(*d, *j)) {
                    out.push((*d, *j));
                }
            }
        }
        out
    }

    /// Closes the current automatic phase (everything arrived, or its deadline).
    fn close<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Dealing => {
                self.enter(Event::DealsClosed, now_ms);
                if let Some(j) = self.player_index(self.me()) {
                    let mut against = Vec::new();
                    for d in 0..self.proposal.dealers.len() {
                        let d = u16::try_from(d).expect("at most 64 dealers");
                        match self.deals.get(&d) {
                            None => against.push((d, Grievance::Missing)),
                            Some(deal) if !deal.invalid && !self.my_shares.contains_key(&d) => {
                                against.push((d, Grievance::BadShare));
                            }
                            Some(_) => {}
                        }
                    }
                    for (d, g) in &against {
                        out.push(Output::Log(Step::Complained {
                            by: self.me().clone(),
                            against: self.dealer_id(*d),
                            grievance: *g,
                        }));
                    }
                    out.extend(self.answer(j, &against));
                    out.push(Output::Broadcast(
                        self.sign(&Body::Complaints { proposal: self.proposal_hash, against: against.clone() }),
                    ));
                    self.complaints.insert(j, against);
                }
            }
            Phase::Complaining if !self.pending_justifications().is_empty() => {
                self.enter(Event::ComplaintsClosed, now_ms);
            }
            Phase::Complaining | Phase::Justifying => {
                let event = if self.phase == Phase::Complaining {
                    Event::NothingToJustify
                } else {
                    Event::JustificationsClosed
                };
                self.enter(event, now_ms);
                out.extend(self.agree(now_ms));
                for (sender, (announcement, signature)) in std::mem::take(&mut self.early_agreements) {
                    out.extend(self.take_agreement(sender, announcement, signature, now_ms));
                }
            }
            _ => {}
        }
        out.extend(self.advance(now_ms, rng));
        out
    }

    /// Decides the qualified dealers, combines, and signs the announcement.
    fn agree(&mut self, now_ms: u64) -> Vec<Output> {
        let mut out = Vec::new();
        let mut qualified = Vec::new();
        let mut disqualified = Vec::new();
        for d in 0..self.proposal.dealers.len() {
            let d = u16::try_from(d).expect("at most 64 dealers");
            let why = match self.deals.get(&d) {
                None => Some(Disqualification::Missing),
                Some(deal) if deal.invalid => Some(Disqualification::InvalidDealing),
                Some(deal) => {
                    let missing = self.complaints.values().any(|a| a.contains(&(d, Grievance::Missing)));
                    let unanswered = self.complaints.iter().any(|(j, a)| {
                        a.contains(&(d, Grievance::BadShare))
                            && self
                                .justifications
                                .get(&(d, *j))
                                .is_none_or(|s| !deal.commitment.verify(TrusteeIndex(*j), s))
                    });
                    if missing {
                        Some(Disqualification::Missing)
                    } else if unanswered {
                        Some(Disqualification::Unanswered)
                    } else {
                        None
                    }
                }
            };
            match why {
                None => qualified.push(d),
                Some(why) => {
                    out.push(Output::Log(Step::Disqualified { dealer: self.dealer_id(d), why }));
                    disqualified.push((d, why));
                }
            }
        }
        let previous = match &self.proposal.plan {
            Plan::Fresh => None,
            Plan::Reshare { previous, .. } => Some(previous.clone()),
        };
        let needed = previous.as_ref().map_or(usize::from(self.proposal.threshold) + 1, EpochPublicKey::quorum);
        if qualified.len() < needed {
            out.extend(self.abort_with(
                AbortReason::TooFewQualified { qualified: qualified.len(), needed },
                true,
                now_ms,
            ));
            return out;
        }
        let dealers: Vec<(TrusteeIndex, &DealingCommitment)> = qualified
            .iter()
            .filter_map(|d| self.deals.get(d).map(|x| (self.dealer_weight_index(*d), &x.commitment)))
            .collect();
        let me = self.player_index(self.me());
        let mut mine = Vec::new();
        if let Some(j) = me {
            for d in &qualified {
                let s = self.justifications.get(&(*d, j)).or_else(|| self.my_shares.get(d));
                if let Some(s) = s {
                    mine.push(s.clone());
                }
            }
        }
        let n = u16::try_from(self.proposal.players.len()).expect("at most 64 players");
        let combined = combine(
            self.proposal.epoch,
            n,
            self.proposal.threshold,
            previous.as_ref(),
            &dealers,
            me.map(|j| (TrusteeIndex(j), mine.as_slice())),
        );
        let combined = match combined {
            Ok(c) => c,
            Err(e) => {
                out.extend(self.abort_with(AbortReason::Combine(e), true, now_ms));
                return out;
            }
        };
        let transcript = self.transcript(&qualified, &disqualified, &combined.public);
        let announcement = Announcement {
            key_set: combined.public,
            generation: self.proposal.plan.next_generation(),
            holders: self.proposal.players.clone(),
            valid_from: self.proposal.valid_from,
            destroy_at: self.proposal.destroy_at,
            transcript,
        };
        let body = match announcement.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                out.extend(self.abort_with(AbortReason::Combine(e), true, now_ms));
                return out;
            }
        };
        let hash: [u8; 32] = Sha256::digest(&body).into();
        let signature = self.setup.key.sign(ANNOUNCEMENT_SIG_DST, &body);
        self.announcement = Some((body, hash));
        self.new_share = combined.share;
        self.dealing = None;
        self.my_shares.clear();
        #[cfg(feature = "dangerous")]
        if self.setup.withhold_agreement {
            return out;
        }
        self.agreements.insert(self.me().clone(), signature);
        out.push(Output::Log(Step::Agreed { by: self.me().clone(), announcement: hash }));
        out.push(Output::Broadcast(self.sign(&Body::Agreement {
            proposal: self.proposal_hash,
            announcement: hash,
            signature,
        })));
        out
    }

    fn transcript(
        &self,
        qualified: &[u16],
        disqualified: &[(u16, Disqualification)],
        key_set: &EpochPublicKey,
    ) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(TRANSCRIPT_DST);
        h.update(self.id);
        h.update(self.proposal_hash);
        for p in &self.participants {
            h.update(self.accepts.get(p).map(|(m, _)| m.hash()).unwrap_or([0; 32]));
        }
        h.update(self.execute.as_ref().map(SignedMessage::hash).unwrap_or([0; 32]));
        h.update((qualified.len() as u32).to_be_bytes());
        // The commitments, not the dealing messages: each player's ciphertext is its own
        // business (a bad one is settled by complaint), but a dealer that showed two
        // commitments is caught here.
        for d in qualified {
            h.update(d.to_be_bytes());
            h.update(self.deals.get(d).map(|x| x.commitment.hash()).unwrap_or([0; 32]));
        }
        h.update((disqualified.len() as u32).to_be_bytes());
        for (d, why) in disqualified {
            h.update(d.to_be_bytes());
            h.update([why.code()]);
        }
        let complaints: usize = self.complaints.values().map(Vec::len).sum();
        h.update((complaints as u32).to_be_bytes());
        for (j, against) in &self.complaints {
            for (d, g) in against {
                h.update(j.to_be_bytes());
                h.update(d.to_be_bytes());
                h.update([g.code()]);
            }
        }
        let answered = self.justifications.keys().filter(|(d, _)| qualified.contains(d)).count();
        h.update((answered as u32).to_be_bytes());
        for ((d, j), s) in &self.justifications {
            if qualified.contains(d) {
                h.update(d.to_be_bytes());
                h.update(j.to_be_bytes());
                h.update(Sha256::digest(*s.to_bytes()));
            }
        }
        h.update(key_set.to_bytes());
        h.finalize().into()
    }

    fn install(&mut self, now_ms: u64) -> Vec<Output> {
        let Some((body, hash)) = self.announcement.clone() else { return Vec::new() };
        let signatures =
            self.participants.iter().filter_map(|p| self.agreements.get(p).map(|s| (p.clone(), *s))).collect();
        // Every signature was checked as it arrived; this makes the verified type (and
        // checks that the holders are exactly the signers this trustee counted).
        let announcement = match SignedAnnouncement::new(body, signatures).verify(&self.setup.pins) {
            Ok(a) => a,
            Err(e) => return self.abort_with(AbortReason::Combine(e), true, now_ms),
        };
        let share = self.new_share.take();
        self.enter(Event::AllAgreed, now_ms);
        self.ceremony_key = None;
        vec![
            Output::Log(Step::Installed { announcement: hash }),
            Output::Install(Box::new(Installation { announcement, share })),
        ]
    }
}
