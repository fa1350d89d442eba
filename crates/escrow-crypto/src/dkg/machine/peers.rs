//! Learning how the ceremony stands at the peers: a trustee that stood still or was
//! cut off asks before it installs on what waited for it, and takes a peer's report of
//! an install (with its proof) or an abort.

use rand::{CryptoRng, RngCore};

use super::Ceremony;
use crate::dkg::outcome::{AbortReason, CeremonyError, Installation, Output, PeerOutcome, Step};
use crate::dkg::phase::Phase;
use crate::id::PartyId;

impl Ceremony {
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
        // Ended, or its installation is with the shell already: nothing to learn.
        if self.is_final() || self.installing {
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
        // Installed once the shell says the key set is stored (`installed`).
        self.installing = true;
        self.ceremony_key = None;
        out.push(Output::Log(Step::Installed { announcement: hash }));
        out.push(Output::Install(Box::new(Installation { announcement: verified, share })));
        Ok(out)
    }
}
