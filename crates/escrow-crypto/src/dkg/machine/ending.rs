//! How a ceremony ends at this trustee other than by installing: an operator's abort,
//! a local failure (its log or store), a failed install, a restart; and the one record
//! of why ([`Ceremony::abort_reason`]).

use super::{Ceremony, CeremonyError};
use crate::dkg::messages::Body;
use crate::dkg::outcome::{AbortReason, Output, Step};
use crate::dkg::phase::Event;

impl Ceremony {
    /// This trustee's operator aborts.
    pub fn abort(&mut self, reason: &str, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if self.is_final() {
            return Err(CeremonyError::WrongPhase { what: "abort", phase: self.phase });
        }
        Ok(self.abort_with(AbortReason::Operator(reason.chars().take(200).collect()), true, now_ms))
    }

    /// This trustee's own storage failed (its log could not be written): the ceremony
    /// ends here, [`AbortReason::LocalFailure`], and every participant is told.
    pub fn fail_locally(&mut self, why: &str, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if self.is_final() {
            return Err(CeremonyError::WrongPhase { what: "fail", phase: self.phase });
        }
        Ok(self.abort_with(AbortReason::LocalFailure(why.chars().take(200).collect()), true, now_ms))
    }

    /// The shell stored the key set of the [`Output::Install`] it was given: the
    /// ceremony is installed here.
    pub fn installed(&mut self, now_ms: u64) -> Result<(), CeremonyError> {
        if !self.installing {
            return Err(CeremonyError::WrongPhase { what: "installed", phase: self.phase });
        }
        self.installing = false;
        self.enter(Event::AllAgreed, now_ms);
        Ok(())
    }

    /// The shell could not store the key set of the [`Output::Install`] it was given:
    /// the ceremony ends here instead, [`AbortReason::LocalFailure`], and every
    /// participant is told. The share is gone with the attempt.
    pub fn install_failed(&mut self, why: &str, now_ms: u64) -> Result<Vec<Output>, CeremonyError> {
        if !self.installing {
            return Err(CeremonyError::WrongPhase { what: "install failed", phase: self.phase });
        }
        Ok(self.abort_with(AbortReason::LocalFailure(why.chars().take(200).collect()), true, now_ms))
    }

    /// Why the ceremony aborted here, once it has.
    pub fn abort_reason(&self) -> Option<&AbortReason> {
        self.aborted.as_ref()
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

    pub(super) fn abort_with(&mut self, reason: AbortReason, tell: bool, now_ms: u64) -> Vec<Output> {
        if !self.enter(Event::Abort, now_ms) {
            return Vec::new();
        }
        self.installing = false;
        self.aborted = Some(reason.clone());
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
}
