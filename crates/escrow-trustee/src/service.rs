//! The `escrow.v1.Trustee` gRPC service: a thin adapter over the trustee's core
//! ([`crate::core`]) and, with witnesses, its publisher ([`crate::witnessing`]).
//!
//! Every refusal is a gRPC error whose message names the rule that failed, and
//! changes nothing: checks run first, state changes last, in one transaction.

use std::sync::Arc;

use escrow_crypto::{DecryptionShare, VerifiedWarrant, WarrantId};
use escrow_pki::{Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::auth;
use escrow_service::status::from_crypto;
use tonic::{Request, Response, Status};

use escrow_log::event::{details_commitment, Decision, Entry, Event};
use rand::RngCore;

use crate::answer::{internal, status, unknown_warrant, warrant_id};
use crate::core::Core;
use crate::policy::DomainRule;
use crate::refusals::{self as counted, Key};
use crate::rules::{self, Epochs, Refusal};
use crate::state::{self, Action, State};
use crate::store::{ReleaseLimits, Released, WarrantRow};
use crate::witnessing::Publisher;

/// The `escrow.v1.Trustee` service of one trustee; cheap to clone.
#[derive(Clone, Debug)]
pub struct TrusteeService {
    pub(crate) core: Arc<Core>,
    /// With a witness policy: no share leaves before its approval is witnessed.
    pub(crate) publisher: Option<Publisher>,
}

impl TrusteeService {
    pub(crate) fn new(core: Arc<Core>, publisher: Option<Publisher>) -> Self {
        TrusteeService { core, publisher }
    }

    fn status_of(&self, row: &WarrantRow) -> pb::WarrantStatus {
        let now = self.core.clock.now();
        let parsed = VerifiedWarrant::verify_any(&row.warrant, &self.core.policy.trusted_courts).ok();
        let expired = parsed.as_ref().is_some_and(|w| now >= w.body().valid_until);
        let state = match row.state {
            State::Received | State::Approved if expired => pb::WarrantState::Expired,
            State::Received => pb::WarrantState::Received,
            State::Approved => pb::WarrantState::Approved,
            State::Denied => pb::WarrantState::Denied,
            State::Revoked => pb::WarrantState::Revoked,
        };
        let body = parsed.as_ref().map(|w| w.body());
        pb::WarrantStatus {
            warrant_id: row.id.0.to_vec(),
            state: state as i32,
            court: row.court.clone(),
            agency: row.agency.clone(),
            targets: body.map(|b| b.targets.iter().map(|t| t.to_string()).collect()).unwrap_or_default(),
            window_from: body.map(|b| b.window.from()).unwrap_or(0),
            window_to: body.map(|b| b.window.to()).unwrap_or(0),
            valid_until: body.map(|b| b.valid_until).unwrap_or(0),
            received_at: row.received_at,
            decided_at: row.decided_at.unwrap_or(0),
            decided_by: row.decided_by.clone().unwrap_or_default(),
            reason: row.reason.clone().unwrap_or_default(),
            fields_released: row.fields_released,
            warrant: row.warrant.clone(),
            day_keys_released: row.day_keys_released,
        }
    }

    async fn load(&self, id: WarrantId) -> Result<WarrantRow, Status> {
        self.core.with_store(move |s| s.warrant(&id)).await?.ok_or_else(|| unknown_warrant(&id))
    }

    /// Whether `who` may read warrant `row` (the access table's object rule
    /// `WarrantsAgency`): this trustee's operator, or the agency that submitted it.
    fn may_read(&self, who: &Identity, row: &WarrantRow) -> bool {
        who.operates(self.core.trustee_id()) || (who.role() == Role::Agency && who.id().as_str() == row.agency)
    }

    async fn decide(
        &self,
        req: Request<pb::DecideWarrantRequest>,
        action: Action,
    ) -> Result<pb::WarrantStatus, Status> {
        let operator = auth::caller(&req)?.id().clone();
        let req = req.into_inner();
        let id = warrant_id(&req.warrant_id)?;
        // The log's own rule for text (escrow_log::Text); an operator's reason is refused
        // rather than cleaned, so that what is logged is what the operator wrote.
        if escrow_log::Text::new(req.reason.as_str()).is_err() {
            return Err(status(&Refusal::BadReason));
        }
        let row = self.load(id).await?;
        let to = state::transition(row.state, action).map_err(|e| status(&Refusal::Transition(e)))?;
        let now = self.core.clock.now();
        if action == Action::Approve {
            let w = VerifiedWarrant::verify_any(&row.warrant, &self.core.policy.trusted_courts)
                .map_err(|e| from_crypto("stored warrant", &e))?;
            w.check_time(now).map_err(|e| from_crypto("cannot approve", &e))?;
        }
        let from = row.state;
        let reason = req.reason.clone();
        let entry = Entry {
            time: now,
            event: Event::WarrantDecided {
                warrant_id: id.0,
                decision: match action {
                    Action::Approve => Decision::Approve,
                    Action::Deny => Decision::Deny,
                    Action::Revoke => Decision::Revoke,
                },
                operator: operator.to_string().into(),
                reason: reason.clone().into(),
            },
        };
        let by = operator.to_string();
        let moved = self.core.with_store(move |s| s.decide(&id, from, to, now, &by, &reason, entry)).await?;
        if !moved {
            return Err(status(&Refusal::ChangedConcurrently(id)));
        }
        tracing::info!(warrant = %id, %action, by = %operator, "warrant decided");
        let decision = match action {
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Revoke => "revoke",
        };
        self.core.metrics.decisions.get_or_create(&crate::metrics::DecisionLabels { decision }).inc();
        let row = self.load(id).await?;
        Ok(self.status_of(&row))
    }

    /// Checks every item of a share request ([`rules::check_items`]): one run of items
    /// per core, each run's fields checked in one batch; returns the hashes and shares
    /// to release, or the first refusal in item order.
    fn check_items(
        epochs: &Epochs,
        domain: &DomainRule,
        warrant: &VerifiedWarrant,
        items: &[pb::EscrowItem],
    ) -> Result<Vec<([u8; 32], DecryptionShare)>, Status> {
        escrow_service::par::par_chunks(
            items,
            |first, run| {
                let blobs: Vec<(&[u8], &[u8])> = run.iter().map(|it| (&it.label[..], &it.field[..])).collect();
                rules::check_items(epochs, domain, warrant, first, &blobs, &mut rand::rngs::OsRng)
                    .into_iter()
                    .map(|r| r.map_err(|r| status(&r)))
                    .collect()
            },
            |_, _| Err(internal("verifier thread panicked")),
        )
        .into_iter()
        .collect()
    }
}

#[tonic::async_trait]
impl pb::trustee_server::Trustee for TrusteeService {
    async fn get_info(&self, req: Request<pb::GetInfoRequest>) -> Result<Response<pb::TrusteeInfo>, Status> {
        auth::caller(&req)?;
        self.core.destroy_due().await?;
        let inner = &self.core;
        let epochs = self.core.epochs();
        Ok(Response::new(pb::TrusteeInfo {
            trustee_id: inner.policy.trustee_id.to_string(),
            index: epochs.values().next().map(|e| u32::from(e.share.index().0)).unwrap_or(0),
            epoch_public_keys: epochs.values().map(|e| e.public.to_bytes()).collect(),
            max_items_per_request: inner.policy.max_items_per_request,
            announcements: self
                .core
                .with_announcements(|all| all.values().filter(|a| !a.destroyed).map(|a| a.signed.to_bytes()).collect()),
        }))
    }

    async fn submit_warrant(
        &self,
        req: Request<pb::SubmitWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        let who = auth::caller(&req)?;
        let blob = req.into_inner().warrant;
        let policy = &self.core.policy;
        let w = VerifiedWarrant::verify_any(&blob, &policy.trusted_courts).map_err(|e| from_crypto("warrant", &e))?;
        if w.body().agency != *who.id() {
            let refusal = Refusal::WrongAgency { named: w.body().agency.clone() };
            tracing::warn!(caller = %who, rule = refusal.code(), "{refusal}");
            return Err(status(&refusal));
        }
        if let Some(row) = self
            .core
            .with_store({
                let id = w.id();
                move |s| s.warrant(&id)
            })
            .await?
        {
            if row.warrant != blob {
                return Err(status(&Refusal::Duplicate(w.id())));
            }
            return Ok(Response::new(self.status_of(&row)));
        }
        let now = self.core.clock.now();
        let since = crate::policy::quota_window_start(now);
        let agency = w.body().agency.to_string();
        let recent = self.core.with_store(move |s| s.warrants_received_since(&agency, since)).await?;
        let admission = rules::admit(policy, &w, now, recent).map_err(|r| status(&r))?;
        let body = w.body();
        let state = admission.state;
        let by = admission.by_policy.as_ref().map(|_| "policy");
        let reason = admission.by_policy.as_ref().map(ToString::to_string);
        let id = w.id();
        tracing::info!(warrant = %id, agency = %body.agency, court = %body.court, state = %state, "warrant received");
        // Targets and case reference stay secret during the investigation: the log gets
        // a commitment to the signed warrant, opened after the notification delay.
        let mut nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let entry = Entry {
            time: now,
            event: Event::WarrantReceived {
                warrant_id: id.0,
                court: body.court.to_string().into(),
                agency: body.agency.to_string().into(),
                window_from: body.window.from(),
                window_to: body.window.to(),
                valid_until: body.valid_until,
                reveal_at: body.reveal_at(),
                details_commitment: details_commitment(&nonce, w.as_bytes()),
                arrival: admission.arrival(),
                reason: reason.clone().unwrap_or_default().into(),
            },
        };
        let w2 = w.clone();
        self.core.with_store(move |s| s.insert_warrant(&w2, state, now, by, reason.as_deref(), nonce, entry)).await?;
        let row = self.load(id).await?;
        Ok(Response::new(self.status_of(&row)))
    }

    async fn get_warrant(&self, req: Request<pb::GetWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        let who = auth::caller(&req)?;
        let id = warrant_id(&req.into_inner().warrant_id)?;
        let row = self.load(id).await?;
        // Another agency's warrant answers exactly as an unknown one.
        if !self.may_read(&who, &row) {
            return Err(unknown_warrant(&id));
        }
        Ok(Response::new(self.status_of(&row)))
    }

    async fn list_warrants(
        &self,
        req: Request<pb::ListWarrantsRequest>,
    ) -> Result<Response<pb::ListWarrantsResponse>, Status> {
        let who = auth::caller(&req)?;
        let want = req.into_inner().state;
        let rows = self.core.with_store(|s| s.warrants()).await?;
        // An agency sees only its own warrants.
        let warrants = rows
            .iter()
            .filter(|r| self.may_read(&who, r))
            .map(|r| self.status_of(r))
            .filter(|st| want == pb::WarrantState::Unspecified as i32 || st.state == want)
            .collect();
        Ok(Response::new(pb::ListWarrantsResponse { warrants }))
    }

    async fn approve_warrant(
        &self,
        req: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.decide(req, Action::Approve).await.map(Response::new)
    }

    async fn deny_warrant(
        &self,
        req: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.decide(req, Action::Deny).await.map(Response::new)
    }

    async fn revoke_warrant(
        &self,
        req: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        self.decide(req, Action::Revoke).await.map(Response::new)
    }

    async fn request_shares(
        &self,
        req: Request<pb::RequestSharesRequest>,
    ) -> Result<Response<pb::RequestSharesResponse>, Status> {
        let (who, row) = self.held_warrant(&req, &req.get_ref().warrant_id).await?;
        let held = row.as_ref().map(|r| r.id.0);
        let answer = self.request_shares_checked(req.into_inner(), row).await;
        self.counted(&who, held, answer).await
    }

    async fn extract_day_keys(
        &self,
        req: Request<pb::ExtractDayKeysRequest>,
    ) -> Result<Response<pb::ExtractDayKeysResponse>, Status> {
        let (who, row) = self.held_warrant(&req, &req.get_ref().warrant_id).await?;
        let held = row.as_ref().map(|r| r.id.0);
        let answer = self.extract_day_keys_checked(req.into_inner(), row).await;
        self.counted(&who, held, answer).await
    }
}

impl TrusteeService {
    /// The caller of a release request, and the stored warrant `warrant_id` names if
    /// the caller holds it. The access table decided before the handler ran: a caller
    /// who may not ask got PERMISSION_DENIED and left no trace in the log, which it
    /// could otherwise fill. The warrant row is read once, here, and handed to the
    /// checks. Another agency's warrant is treated exactly as an unknown one: the
    /// answer must not tell the caller that it exists or whose it is.
    async fn held_warrant<T>(
        &self,
        req: &Request<T>,
        warrant_id_bytes: &[u8],
    ) -> Result<(Identity, Option<WarrantRow>), Status> {
        let who = auth::caller(req)?;
        let row = match warrant_id(warrant_id_bytes) {
            Ok(id) => self.core.with_store(move |s| s.warrant(&id)).await?,
            Err(_) => None,
        }
        .filter(|row| row.agency == who.id().as_str());
        Ok((who, row))
    }

    /// A release request's answer, with its refusal (if any) counted, attributed to
    /// the caller, and logged as crate::refusals says (evidence at once, noise summed
    /// per window). A failure to record it is traced and does not turn the refusal
    /// into anything else. Internal failures are not refusals and are not counted.
    async fn counted<T>(&self, who: &Identity, held: Option<[u8; 16]>, answer: Result<T, Status>) -> Result<T, Status> {
        let status = match answer {
            Err(status) if status.code() != tonic::Code::Internal => status,
            other => return other,
        };
        // The refusal's code (its escrow-rule: `out-of-scope`, `revoked`,
        // `unknown-warrant`, ...), which every refusal of these paths carries; the
        // gRPC code name only for a status that somehow has none.
        let code = escrow_service::metrics::rule_of(&status)
            .unwrap_or_else(|| escrow_service::status::code_name(status.code()))
            .to_owned();
        let refusal = counted::Refusal {
            key: Key { caller: who.uri(), warrant_id: held, code },
            rule: escrow_log::Text::lossy(status.message()),
            time: self.core.clock.now(),
        };
        if let Err(e) = self.core.with_store(move |s| s.record_refusal(refusal)).await {
            tracing::error!(error = %e, "could not record a refused request");
        }
        Err(status)
    }

    /// What every release request checks after its pure admission rule (`may`): the
    /// stored warrant verifies under a trusted court and is valid now; then every share
    /// due for destruction is destroyed, so that none is used past its schedule.
    pub(crate) async fn releasable(
        &self,
        id: WarrantId,
        row: Option<WarrantRow>,
        may: Result<(), Refusal>,
    ) -> Result<VerifiedWarrant, Status> {
        may.map_err(|r| status(&r))?;
        let row = row.ok_or_else(|| unknown_warrant(&id))?;
        let warrant = VerifiedWarrant::verify_any(&row.warrant, &self.core.policy.trusted_courts)
            .map_err(|e| from_crypto("stored warrant", &e))?;
        warrant.check_time(self.core.clock.now()).map_err(|e| from_crypto(&format!("warrant {id}"), &e))?;
        self.core.destroy_due().await?;
        Ok(warrant)
    }

    /// Witnessed release: with a witness policy, waits until the warrant's receipt and
    /// approval are in a checkpoint the witnesses cosigned, and returns the proof that
    /// goes with the shares; without one, `None` at once.
    pub(crate) async fn witnessed_approval(&self, id: WarrantId) -> Result<Option<pb::WitnessedApproval>, Status> {
        let Some(publisher) = &self.publisher else { return Ok(None) };
        let marks = self.core.with_store(move |s| Ok(s.warrant_marks(&id))).await?;
        let approved = marks
            .and_then(|m| m.approved)
            .ok_or_else(|| internal(format!("warrant {id} is approved but no approval is in the log")))?;
        publisher.wait_witnessed(approved, &format!("the approval of warrant {id}")).await?;
        let proof = self
            .core
            .with_store(move |s| s.witnessed_approval(&id))
            .await?
            .ok_or_else(|| internal(format!("warrant {id}: the witnessed approval is gone")))?;
        Ok(Some(witnessed_pb(proof)))
    }
}

impl TrusteeService {
    /// `row` is the stored warrant `req` names, if there is one.
    async fn request_shares_checked(
        &self,
        req: pb::RequestSharesRequest,
        row: Option<WarrantRow>,
    ) -> Result<Response<pb::RequestSharesResponse>, Status> {
        let id = warrant_id(&req.warrant_id)?;
        let policy = &self.core.policy;
        let may = rules::may_release(policy, id, row.as_ref().map(|r| r.state), req.items.len());
        let warrant = self.releasable(id, row, may).await?;
        let epochs = self.core.epochs();
        let w2 = warrant.clone();
        let domain = policy.jurisdiction.clone();
        let (checked, items) = tokio::task::spawn_blocking(move || {
            let checked = Self::check_items(&epochs, &domain, &w2, &req.items);
            (checked, req.items)
        })
        .await
        .map_err(internal)?;
        let checked = checked?;

        // Write-before-release: the releases are committed (quota checked in the same
        // transaction) before any share leaves this process.
        let released: Vec<Released> = checked
            .iter()
            .zip(items)
            .map(|((h, _), it)| Released { hash: *h, label: it.label, field: it.field })
            .collect();
        // Witnessed release: no share leaves before the warrant's receipt and approval
        // are in a checkpoint the witnesses cosigned, and the proof goes with them.
        let witnessed = self.witnessed_approval(id).await?;
        let limits = ReleaseLimits {
            max_fields_per_warrant: policy.max_fields_per_warrant,
            agency_quota: policy.quota(&warrant.body().agency),
            unit: rules::Unit::Fields,
        };
        // The release is decided again inside its transaction, on the warrant's state
        // as stored now and on the clock read under the store's lock (so entry times
        // follow log order): a revocation that committed while the checks or the
        // witness wait ran stops it here.
        let clock = self.core.clock.clone();
        let recorded = self
            .core
            .with_store(move |s| {
                let now = clock.now();
                s.record_releases(&warrant, &released, now, limits)
            })
            .await?;
        let new = recorded.map_err(|r| status(&r))?;
        tracing::info!(warrant = %id, items = checked.len(), new_fields = new, "shares released");
        self.core.metrics.shares_released.inc_by(checked.len() as u64);
        Ok(Response::new(pb::RequestSharesResponse {
            shares: checked.iter().map(|(_, s)| s.to_bytes()).collect(),
            witnessed,
        }))
    }
}

fn inclusion_pb(i: crate::store::Inclusion) -> pb::LogInclusion {
    pb::LogInclusion { index: i.index, entry: i.entry, proof: i.proof.iter().map(|h| h.to_vec()).collect() }
}

fn witnessed_pb(w: crate::store::WitnessedApproval) -> pb::WitnessedApproval {
    pb::WitnessedApproval {
        checkpoint: w.checkpoint,
        receipt: Some(inclusion_pb(w.receipt)),
        approval: Some(inclusion_pb(w.approval)),
    }
}
