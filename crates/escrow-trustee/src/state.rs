//! The warrant state machine at one trustee: one table of allowed moves.
//!
//! `Expired` is not stored: it is how an unrevoked warrant past `valid_until` is
//! reported, so that expiry needs no background job and cannot be forgotten.

use std::fmt;

/// A warrant's stored state at this trustee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Verified and stored, waiting for an operator.
    Received,
    /// Approved (by an operator, or by policy in auto-approve mode).
    Approved,
    /// Denied (by an operator, or by policy).
    Denied,
    /// Revoked after receipt or approval.
    Revoked,
}

/// What an operator (or policy) does to a warrant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Approve a received warrant.
    Approve,
    /// Deny a received warrant.
    Deny,
    /// Revoke a received or approved warrant.
    Revoke,
}

/// The allowed moves; anything not listed is refused.
const TRANSITIONS: &[(State, Action, State)] = &[
    (State::Received, Action::Approve, State::Approved),
    (State::Received, Action::Deny, State::Denied),
    (State::Received, Action::Revoke, State::Revoked),
    (State::Approved, Action::Revoke, State::Revoked),
];

/// A move the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a warrant that is {from}")]
pub struct Forbidden {
    /// Current state.
    pub from: State,
    /// Attempted action.
    pub action: Action,
}

/// The state after `action`, or why it is not allowed.
pub fn transition(from: State, action: Action) -> Result<State, Forbidden> {
    TRANSITIONS
        .iter()
        .find(|(f, a, _)| *f == from && *a == action)
        .map(|(_, _, to)| *to)
        .ok_or(Forbidden { from, action })
}

impl State {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Revoked => "revoked",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "received" => Some(State::Received),
            "approved" => Some(State::Approved),
            "denied" => Some(State::Denied),
            "revoked" => Some(State::Revoked),
            _ => None,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Revoke => "revoke",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [State; 4] = [State::Received, State::Approved, State::Denied, State::Revoked];
    const ACTIONS: [Action; 3] = [Action::Approve, Action::Deny, Action::Revoke];

    #[test]
    fn every_allowed_and_forbidden_move() {
        let expected = |from, action| match (from, action) {
            (State::Received, Action::Approve) => Some(State::Approved),
            (State::Received, Action::Deny) => Some(State::Denied),
            (State::Received, Action::Revoke) => Some(State::Revoked),
            (State::Approved, Action::Revoke) => Some(State::Revoked),
            _ => None,
        };
        let mut allowed = 0;
        for from in STATES {
            for action in ACTIONS {
                match (transition(from, action), expected(from, action)) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want);
                        allowed += 1;
                    }
                    (Err(e), None) => assert_eq!(e, Forbidden { from, action }),
                    (got, want) => panic!("{from} {action}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(allowed, 4);
    }

    #[test]
    fn names_round_trip() {
        for s in STATES {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("expired"), None);
    }
}
