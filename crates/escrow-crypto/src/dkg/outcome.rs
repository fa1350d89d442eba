//! What a key ceremony's machine tells its caller: the steps to log, the outputs to
//! carry out, why a dealer was disqualified or the ceremony aborted, and why an input
//! was refused.

use std::fmt;

use crate::announce::{SignedAnnouncement, VerifiedAnnouncement};
use crate::dkg::messages::{Grievance, SignedMessage};
use crate::dkg::phase::Phase;
use crate::error::Error;
use crate::id::PartyId;
use crate::keys::{EpochPublicKey, TrusteeKeyShare};

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
    /// This trustee could not record the ceremony: its log or its store failed (an IO
    /// failure here, not anyone's decision).
    LocalFailure(String),
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
            AbortReason::LocalFailure(why) => write!(f, "this trustee could not record the ceremony: {why}"),
        }
    }
}

/// How a ceremony ended at a peer, as the peer reports it ([`Ceremony::learn`](super::machine::Ceremony::learn)).
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
    /// see [`Ceremony::set_stalled`](super::machine::Ceremony::set_stalled)); answer with
    /// [`Ceremony::learn`](super::machine::Ceremony::learn) or
    /// [`Ceremony::peers_undecided`](super::machine::Ceremony::peers_undecided).
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
