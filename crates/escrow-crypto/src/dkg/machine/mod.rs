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

use crate::dkg::math::{encrypt_share, CeremonyKey, CeremonyPublicKey, Dealing, DealingCommitment, DealtShare};
use crate::dkg::messages::{Body, CeremonyId, Grievance, Message, Plan, Proposal, SignedMessage};
pub use crate::dkg::outcome::{AbortReason, CeremonyError, Disqualification, Installation, Output, PeerOutcome, Step};
pub use crate::dkg::phase::{transition, Event, Phase, TRANSITIONS};
use crate::dkg::qualify::{complaints_for, pending_justifications, Complaints, Deal, Justifications};

mod agreement;
mod ending;
mod peers;
use crate::error::Error;
use crate::id::PartyId;
use crate::keys::{TrusteeIndex, TrusteeKeyShare};
use crate::trustee_key::{TrusteePins, TrusteeSigningKey, SIGNATURE_LEN};

const TRANSCRIPT_DST: &[u8] = b"escrow/v1/ceremony-transcript\0";
const SHARE_CONTEXT_DST: &[u8] = b"escrow/v1/dkg-share-context\0";
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
    complaints: Complaints,
    justifications: Justifications,
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
    /// It handed the shell an [`Output::Install`] and waits to hear whether the key set
    /// is stored ([`Ceremony::installed`], [`Ceremony::install_failed`]); it stays in
    /// `Agreeing` until then.
    installing: bool,
    /// Why it aborted, once it has: the one record of it.
    aborted: Option<AbortReason>,
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
            installing: false,
            aborted: None,
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

    /// Time passed: closes the phase whose deadline is behind `now_ms`.
    pub fn tick<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        if self.is_final() || self.installing || now_ms < self.deadline_ms {
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
        pending_justifications(&self.complaints, &self.deals, &self.justifications)
    }

    /// Closes the current automatic phase (everything arrived, or its deadline).
    fn close<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Output> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Dealing => {
                self.enter(Event::DealsClosed, now_ms);
                if let Some(j) = self.player_index(self.me()) {
                    let against =
                        complaints_for(self.proposal.dealers.len(), &self.deals, |d| self.my_shares.contains_key(&d));
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
}
