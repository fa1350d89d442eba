//! The phases of a key ceremony at one trustee and the one table of moves between
//! them ([`TRANSITIONS`]); the machine ([`super::machine`]) moves only through
//! [`transition`].

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

#[cfg(test)]
mod tests {
    use super::*;

    const PHASES: [Phase; 9] = [
        Phase::Proposed,
        Phase::Accepting,
        Phase::Ready,
        Phase::Dealing,
        Phase::Complaining,
        Phase::Justifying,
        Phase::Agreeing,
        Phase::Installed,
        Phase::Aborted,
    ];

    /// Every phase but the two final ones can be aborted; the final ones have no move;
    /// the table is a function (no phase and event lead to two places).
    #[test]
    fn every_open_phase_aborts_the_final_ones_are_final_and_each_move_is_unique() {
        for p in PHASES {
            let open = !matches!(p, Phase::Installed | Phase::Aborted);
            assert_eq!(transition(p, Event::Abort) == Some(Phase::Aborted), open, "{p:?}");
            if !open {
                assert!(TRANSITIONS.iter().all(|(from, _, _)| *from != p), "{p:?} has a move");
            }
        }
        for (i, (p, e, _)) in TRANSITIONS.iter().enumerate() {
            assert!(TRANSITIONS.iter().skip(i + 1).all(|(p2, e2, _)| (p2, e2) != (p, e)), "{p:?} {e:?} twice");
        }
    }

    /// The forward path is the documented one, and never goes back.
    #[test]
    fn the_forward_moves_only_go_forward() {
        for (from, e, to) in TRANSITIONS {
            if *e != Event::Abort {
                assert!(to > from, "{from:?} -{e:?}-> {to:?}");
            }
        }
        let path = [
            (Phase::Proposed, Event::Accept),
            (Phase::Accepting, Event::AllAccepted),
            (Phase::Ready, Event::Execute),
            (Phase::Dealing, Event::DealsClosed),
            (Phase::Complaining, Event::ComplaintsClosed),
            (Phase::Justifying, Event::JustificationsClosed),
            (Phase::Agreeing, Event::AllAgreed),
        ];
        let mut at = Phase::Proposed;
        for (p, e) in path {
            assert_eq!(at, p);
            at = transition(at, e).unwrap_or(Phase::Aborted);
        }
        assert_eq!(at, Phase::Installed);
        assert_eq!(transition(Phase::Complaining, Event::NothingToJustify), Some(Phase::Agreeing));
        assert_eq!(transition(Phase::Ready, Event::Accept), None);
    }
}
