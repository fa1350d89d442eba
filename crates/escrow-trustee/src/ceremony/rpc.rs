//! The `escrow.v1.Ceremony` gRPC service: a thin adapter that checks each call's
//! arguments, then hands it to the ceremony runtime (the machine of
//! [`escrow_crypto::dkg::machine`] behind [`super::Runtime`]).

use std::collections::BTreeMap;

use escrow_crypto::dkg::machine::{Ceremony, Output};
use escrow_crypto::dkg::messages::{CeremonyId, Plan, Proposal, SignedMessage};
use escrow_crypto::{Announcement, EpochId, Modes, PartyId};
use escrow_proto::v1 as pb;
use escrow_service::auth;
use rand::rngs::OsRng;
use rand::RngCore;
use tonic::{Request, Response, Status};

use super::CeremonyService;
use super::{Active, DEFAULT_ACCEPT_TIMEOUT_MS, DEFAULT_PHASE_TIMEOUT_MS, STALL_MS};
use crate::answer::internal;

fn peers_of(list: &[pb::Participant]) -> Result<BTreeMap<PartyId, String>, Status> {
    list.iter()
        .map(|p| {
            let id = PartyId::new(&p.trustee_id).map_err(|e| Status::invalid_argument(format!("participant: {e}")))?;
            if p.addr.is_empty() || p.addr.len() > 256 {
                return Err(Status::invalid_argument(format!("participant {id}: an address is needed")));
            }
            Ok((id, p.addr.clone()))
        })
        .collect()
}

/// The proposal a `Propose` request asks for, checked ([`Proposal::check`]), and the
/// address of every participant; the one mapping of a request to a proposal.
/// `announced` is this trustee's live announcement of the request's epoch, which a
/// reshare starts from (its key set, generation and holders; the holders deal unless
/// the request names dealers). Zero timeouts take the defaults.
pub fn proposal_of(
    r: &pb::ProposeRequest,
    announced: Option<&Announcement>,
) -> Result<(Proposal, BTreeMap<PartyId, String>), Status> {
    let players = peers_of(&r.players)?;
    let dealers = peers_of(&r.dealers)?;
    let order = |list: &[pb::Participant]| -> Result<Vec<PartyId>, Status> {
        list.iter().map(|p| PartyId::new(&p.trustee_id).map_err(|e| Status::invalid_argument(e.to_string()))).collect()
    };
    let epoch = EpochId(r.epoch);
    let threshold = u16::try_from(r.threshold).map_err(|_| Status::invalid_argument("threshold: at most 63"))?;
    let players_order = order(&r.players)?;
    let (plan, dealers_order) = if r.reshare {
        let announced = announced.ok_or_else(|| {
            Status::failed_precondition(format!("this trustee holds no ceremony key set for epoch {}", epoch.0))
        })?;
        let d = if r.dealers.is_empty() { announced.holders.clone() } else { order(&r.dealers)? };
        let plan = Plan::Reshare {
            previous: announced.key_set.clone(),
            generation: announced.generation,
            holders: announced.holders.clone(),
        };
        (plan, d)
    } else {
        if !r.dealers.is_empty() {
            return Err(Status::invalid_argument("dealers: only for a reshare (every player deals a fresh key)"));
        }
        (Plan::Fresh, players_order.clone())
    };
    let proposal = Proposal {
        epoch,
        threshold,
        players: players_order,
        dealers: dealers_order,
        plan,
        valid_from: r.valid_from,
        destroy_at: r.destroy_at,
        accept_timeout_ms: if r.accept_timeout_ms == 0 { DEFAULT_ACCEPT_TIMEOUT_MS } else { r.accept_timeout_ms },
        phase_timeout_ms: if r.phase_timeout_ms == 0 { DEFAULT_PHASE_TIMEOUT_MS } else { r.phase_timeout_ms },
        modes: if r.day_mode { Modes::BOTH } else { Modes::PER_MESSAGE },
    };
    proposal.check().map_err(|e| Status::invalid_argument(e.to_string()))?;
    let mut peers = players;
    peers.extend(dealers);
    if let Some(p) = proposal.participants().iter().find(|p| !peers.contains_key(*p)) {
        return Err(Status::invalid_argument(format!("no address for participant {p}")));
    }
    Ok((proposal, peers))
}

#[tonic::async_trait]
impl pb::ceremony_server::Ceremony for CeremonyService {
    async fn propose(&self, req: Request<pb::ProposeRequest>) -> Result<Response<pb::CeremonyStatus>, Status> {
        let rt = self.runtime()?;
        let r = req.into_inner();
        let epoch = EpochId(r.epoch);
        let announced = if r.reshare {
            self.core.with_announcements(|all| all.get(&epoch).filter(|a| !a.destroyed).map(|a| a.body.clone()))
        } else {
            None
        };
        let (proposal, peers) = proposal_of(&r, announced.as_ref())?;
        if !r.reshare {
            if let Some(refusal) = self.fresh_key_refusal(epoch).await? {
                return Err(Status::failed_precondition(refusal));
            }
        }
        let mut state = rt.state.lock().await;
        if state.active.as_ref().is_some_and(|a| !a.machine.is_final()) {
            return Err(Status::failed_precondition("another ceremony is in progress here"));
        }
        let mut id: CeremonyId = [0; 16];
        OsRng.fill_bytes(&mut id);
        let setup = self.setup(rt, r.reshare.then_some(epoch));
        let (machine, out) = Ceremony::propose(setup, id, proposal, rt.now_ms(), &mut OsRng)
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
        let signed = out.iter().find_map(|o| match o {
            Output::Broadcast(m) if m.hash() == *machine.proposal_hash() => Some(m.as_bytes().to_vec()),
            _ => None,
        });
        let signed = signed.ok_or_else(|| internal("the proposal was not among the machine's outputs"))?;
        self.remember(id, signed, &peers).await?;
        state.active = Some(Active::new(machine, peers));
        self.apply(rt, &mut state, out).await;
        Self::current_status(&state, &id).map(Response::new).ok_or_else(|| internal("ceremony vanished"))
    }

    async fn accept(&self, req: Request<pb::CeremonyRef>) -> Result<Response<pb::CeremonyStatus>, Status> {
        let id = req.into_inner().ceremony_id;
        self.with_active(&id, |m, now| m.accept(now, &mut OsRng)).await.map(Response::new)
    }

    async fn reject(&self, req: Request<pb::CeremonyRef>) -> Result<Response<pb::CeremonyStatus>, Status> {
        let r = req.into_inner();
        let reason = if r.reason.is_empty() { "rejected by the operator".to_string() } else { r.reason };
        self.with_active(&r.ceremony_id, |m, now| m.reject(&reason, now)).await.map(Response::new)
    }

    async fn execute(&self, req: Request<pb::CeremonyRef>) -> Result<Response<pb::CeremonyStatus>, Status> {
        let id = req.into_inner().ceremony_id;
        self.with_active(&id, |m, now| m.execute(now, &mut OsRng)).await.map(Response::new)
    }

    async fn abort(&self, req: Request<pb::CeremonyRef>) -> Result<Response<pb::CeremonyStatus>, Status> {
        let r = req.into_inner();
        let reason = if r.reason.is_empty() { "aborted by the operator".to_string() } else { r.reason };
        self.with_active(&r.ceremony_id, |m, now| m.abort(&reason, now)).await.map(Response::new)
    }

    async fn status(&self, req: Request<pb::CeremonyRef>) -> Result<Response<pb::CeremonyStatus>, Status> {
        // Any trustee's operator may read it, not only this trustee's (the access
        // table): the proposer's operator checks that every participant installed
        // before the announcement goes to the relay (`dkg execute --wait`, `dkg status
        // --all`). So may a peer trustee, to learn how a ceremony it missed messages
        // of ended. Nothing in it is secret: every step is in this trustee's public log.
        let rt = self.runtime()?;
        let id = req.into_inner().ceremony_id;
        let state = rt.state.lock().await;
        Self::current_status(&state, &id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found(format!("no ceremony {} here", hex::encode(&id))))
    }

    async fn deliver(&self, req: Request<pb::DeliverRequest>) -> Result<Response<pb::DeliverResponse>, Status> {
        let who = auth::caller(&req)?;
        let rt = self.runtime()?;
        let r = req.into_inner();
        let msg = SignedMessage::from_bytes(&r.message).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (ceremony, sender) = msg.peek().map_err(|e| Status::invalid_argument(e.to_string()))?;
        if &sender != who.id() {
            return Err(auth::denied(
                &who,
                "Deliver",
                &format!("a message signed as {sender} must come from {sender}"),
            ));
        }
        let mut state = rt.state.lock().await;
        let now = rt.now_ms();
        let same = state.active.as_ref().is_some_and(|a| a.machine.id() == &ceremony);
        if same {
            let Some(active) = state.active.as_mut() else { return Err(internal("ceremony vanished")) };
            if rt.stalled(now) {
                active.machine.set_stalled();
            } else if r.waited_ms > STALL_MS && !active.machine.is_final() {
                // This trustee was unreachable (cut off) while the ceremony ran: what
                // waited for it may include every agreement but not yet the aborts.
                tracing::warn!(
                    peer = %who.id(),
                    waited_ms = r.waited_ms,
                    "a ceremony message waited for this trustee; asking the peers before installing"
                );
                active.machine.set_stalled();
            }
            let out =
                active.machine.receive(&msg, now, &mut OsRng).map_err(|e| Status::invalid_argument(e.to_string()))?;
            self.apply(rt, &mut state, out).await;
            return Ok(Response::new(pb::DeliverResponse {}));
        }
        if state.finished.iter().any(|a| a.machine.id() == &ceremony) {
            // Late messages for a ceremony that is over here change nothing.
            return Ok(Response::new(pb::DeliverResponse {}));
        }
        if state.active.as_ref().is_some_and(|a| !a.machine.is_final()) {
            return Err(Status::failed_precondition("another ceremony is in progress here"));
        }
        // A new ceremony: only a proposal can start one.
        let peers = peers_of(&r.peers)?;
        let epoch = msg.verify(&rt.keys.pins).ok().and_then(|m| match m.body {
            escrow_crypto::dkg::messages::Body::Proposal(p) => Some(p.epoch),
            _ => None,
        });
        let Some(epoch) = epoch else {
            return Err(Status::not_found(format!("no ceremony {} here", hex::encode(ceremony))));
        };
        let setup = self.setup(rt, Some(epoch));
        let (mut machine, mut out) = Ceremony::join(setup, &msg, rt.keys.auto_accept, now, &mut OsRng)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if r.waited_ms > STALL_MS {
            machine.set_stalled();
        }
        if let Some(p) = machine.participants().iter().find(|p| !peers.contains_key(*p)) {
            return Err(Status::invalid_argument(format!("the proposal came without an address for {p}")));
        }
        // A fresh key for an epoch installed here would replace it: refused at once, in
        // the open (the rejection reaches every participant and the ceremony aborts).
        if matches!(machine.proposal().plan, Plan::Fresh) {
            if let Some(refusal) = self.fresh_key_refusal(epoch).await? {
                tracing::warn!(epoch = epoch.0, "refused a fresh ceremony for an installed epoch");
                let more = match machine.reject(&refusal, now) {
                    Ok(more) => more,
                    Err(_) => machine.abort(&refusal, now).map_err(|e| internal(e.to_string()))?,
                };
                out.extend(more);
            }
        }
        self.remember(ceremony, r.message.clone(), &peers).await?;
        state.active = Some(Active::new(machine, peers));
        self.apply(rt, &mut state, out).await;
        Ok(Response::new(pb::DeliverResponse {}))
    }

    async fn get_announcement(
        &self,
        req: Request<pb::GetAnnouncementRequest>,
    ) -> Result<Response<pb::GetAnnouncementResponse>, Status> {
        auth::caller(&req)?;
        let epoch = req.into_inner().epoch;
        let found = self.core.with_announcements(|all| {
            let a = if epoch == 0 { all.values().next_back() } else { all.get(&EpochId(epoch)) };
            a.map(|a| a.signed.to_bytes())
        });
        let announcement = found.ok_or_else(|| Status::not_found(format!("no announced epoch {epoch} here")))?;
        Ok(Response::new(pb::GetAnnouncementResponse { announcement }))
    }
}
