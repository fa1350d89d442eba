//! The `escrow.v1.Trustee` gRPC service.
//!
//! Every refusal is a gRPC error whose message names the rule that failed, and
//! changes nothing: checks run first, state changes last, in one transaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use escrow_crypto::{
    DecryptionShare, EpochId, EpochPublicKey, EscrowField, Label, PartyId, TrusteeKeyShare, VerifiedWarrant, WarrantId,
};
use escrow_pki::{Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::auth;
use escrow_service::clock::Clock;
use escrow_service::status::from_crypto;
use tonic::{Request, Response, Status};

use escrow_log::event::{details_commitment, Arrival, Decision, Entry, Event};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::policy::Policy;
use crate::refusals::{Key, Refusal};
use crate::state::{self, Action, State};
use crate::store::{ReleaseLimits, Released, Store, StoreError, WarrantRow};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key share does not match its epoch key.
    #[error("key share: {0}")]
    Key(#[from] escrow_crypto::Error),
    /// The store refused the epochs (destroyed, another key, another share index) or
    /// could not record them.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A share's index is not the one the policy pins (`key_index`).
    #[error("the key share for epoch {epoch} has index {share}, but the policy says this trustee is index {policy} (another trustee's share file?)")]
    WrongKeyIndex {
        /// The epoch.
        epoch: u64,
        /// The share's index.
        share: u16,
        /// The policy's `key_index`.
        policy: u16,
    },
    /// The TLS certificate is not this trustee's.
    #[error("the certificate names {certificate}, but the policy says this is trustee {policy}")]
    WrongCertificate {
        /// Whom the certificate names.
        certificate: String,
        /// The policy's `trustee_id`.
        policy: String,
    },
}

/// Checks that `credentials` are this trustee's own server certificate, before anything
/// is created or written.
pub fn check_certificate(
    policy: &Policy,
    credentials: &escrow_service::transport::Credentials,
) -> Result<(), StartError> {
    match credentials.identity() {
        Some(me) if me.is(Role::Trustee, &policy.trustee_id) => Ok(()),
        other => Err(StartError::WrongCertificate {
            certificate: other.map(ToString::to_string).unwrap_or_else(|| "nobody".into()),
            policy: policy.trustee_id.to_string(),
        }),
    }
}

/// Checks, writing nothing, that the key shares match their epoch keys and the
/// policy's `key_index`, and (with `store`) what that store installed before.
pub fn check_epochs(policy: &Policy, epochs: &[EpochKeys], store: Option<&Store>) -> Result<(), StartError> {
    for e in epochs {
        e.share.check_against(&e.public)?;
        if let Some(k) = policy.key_index {
            if e.share.index().0 != k {
                return Err(StartError::WrongKeyIndex {
                    epoch: e.public.epoch().0,
                    share: e.share.index().0,
                    policy: k,
                });
            }
        }
    }
    if let Some(store) = store {
        store.check_epochs(&loaded(epochs))?;
    }
    Ok(())
}

/// (epoch, SHA-256 of the epoch public key, share index) of each epoch, as the store
/// records them.
fn loaded(epochs: &[EpochKeys]) -> Vec<(u64, [u8; 32], u16)> {
    epochs.iter().map(|e| (e.public.epoch().0, Sha256::digest(e.public.to_bytes()).into(), e.share.index().0)).collect()
}

/// Most entries one GetEntries call returns.
pub const MAX_ENTRIES_PER_CALL: u64 = 1000;

/// Longest reason an operator may record.
pub const MAX_REASON_LEN: usize = 1024;

/// One epoch this trustee holds a share of.
#[derive(Debug)]
pub struct EpochKeys {
    /// The epoch's public key set.
    pub public: EpochPublicKey,
    /// This trustee's secret share (checked against `public` at start-up).
    pub share: TrusteeKeyShare,
}

pub(crate) struct Inner {
    policy: Policy,
    epochs: BTreeMap<EpochId, EpochKeys>,
    store: Mutex<Store>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The trustee service; cheap to clone.
#[derive(Clone)]
pub struct TrusteeService {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TrusteeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrusteeService").field("trustee", &self.inner.policy.trustee_id).finish_non_exhaustive()
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal(format!("trustee internal error: {e}"))
}

pub(crate) fn warrant_id(bytes: &[u8]) -> Result<WarrantId, Status> {
    <[u8; 16]>::try_from(bytes)
        .map(WarrantId)
        .map_err(|_| Status::invalid_argument(format!("warrant id must be 16 bytes, got {}", bytes.len())))
}

/// The answer for a warrant this trustee does not hold — and, word for word, for one
/// the caller may not see, so that the answer does not confirm that it exists.
pub(crate) fn unknown_warrant(id: &WarrantId) -> Status {
    Status::not_found(format!("unknown warrant {id}"))
}

impl TrusteeService {
    /// Builds the service over an opened store. Each key share must match its epoch key.
    pub fn new(
        policy: Policy,
        epochs: Vec<EpochKeys>,
        mut store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        check_epochs(&policy, &epochs, Some(&store))?;
        store.sync_epochs(&loaded(&epochs), clock.now())?;
        store.flush_refusals(clock.now())?;
        let map = epochs.into_iter().map(|e| (e.public.epoch(), e)).collect::<BTreeMap<_, _>>();
        Ok(TrusteeService { inner: Arc::new(Inner { policy, epochs: map, store: Mutex::new(store), clock }) })
    }

    /// The policy this trustee runs under.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Logs the refusals counted in windows that have closed by now (see
    /// [`crate::refusals`]); the server calls it periodically.
    pub async fn flush_refusals(&self) -> Result<usize, Status> {
        let now = self.inner.clock.now();
        self.with_store(move |s| s.flush_refusals(now)).await
    }

    /// This trustee's id.
    pub fn trustee_id(&self) -> &PartyId {
        &self.inner.policy.trustee_id
    }

    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = inner.store.lock().map_err(|_| internal("store lock poisoned"))?;
            f(&mut store).map_err(internal)
        })
        .await
        .map_err(internal)?
    }

    fn status_of(&self, row: &WarrantRow) -> pb::WarrantStatus {
        let now = self.inner.clock.now();
        let parsed = VerifiedWarrant::verify_any(&row.warrant, &self.inner.policy.trusted_courts).ok();
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
        }
    }

    async fn load(&self, id: WarrantId) -> Result<WarrantRow, Status> {
        self.with_store(move |s| s.warrant(&id)).await?.ok_or_else(|| unknown_warrant(&id))
    }

    /// The caller if it is the operator of this trustee (certificate
    /// `escrow:role/operator/<this trustee>/<name>`), else `PERMISSION_DENIED`.
    fn own_operator<T>(&self, req: &Request<T>, rpc: &str) -> Result<Identity, Status> {
        let who = auth::caller(req)?;
        if who.operates(self.trustee_id()) {
            Ok(who)
        } else {
            Err(auth::denied(&who, rpc, &format!("only an operator of {} may", self.trustee_id())))
        }
    }

    /// Whether `who` may read warrant `row`: this trustee's operator, or the agency
    /// that submitted it.
    fn may_read(&self, who: &Identity, row: &WarrantRow) -> bool {
        who.operates(self.trustee_id()) || (who.role() == Role::Agency && who.id().as_str() == row.agency)
    }

    async fn decide(
        &self,
        req: Request<pb::DecideWarrantRequest>,
        action: Action,
    ) -> Result<pb::WarrantStatus, Status> {
        let operator = self.own_operator(&req, &format!("{action} a warrant"))?.id().clone();
        let req = req.into_inner();
        let id = warrant_id(&req.warrant_id)?;
        if req.reason.len() > MAX_REASON_LEN || req.reason.chars().any(char::is_control) {
            return Err(Status::invalid_argument("reason: at most 1024 bytes, no control characters"));
        }
        let row = self.load(id).await?;
        let to = state::transition(row.state, action).map_err(|e| Status::failed_precondition(e.to_string()))?;
        let now = self.inner.clock.now();
        if action == Action::Approve {
            let w = VerifiedWarrant::verify_any(&row.warrant, &self.inner.policy.trusted_courts)
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
                operator: operator.to_string(),
                reason: reason.clone(),
            },
        };
        let by = operator.to_string();
        let moved = self.with_store(move |s| s.decide(&id, from, to, now, &by, &reason, entry)).await?;
        if !moved {
            return Err(Status::aborted("the warrant changed state concurrently; read it and retry"));
        }
        tracing::info!(warrant = %id, %action, by = %operator, "warrant decided");
        let row = self.load(id).await?;
        Ok(self.status_of(&row))
    }

    /// Checks every item of a share request; returns the hashes and shares to release,
    /// or the first refusal (naming the item and the rule).
    fn check_items(
        inner: &Inner,
        warrant: &VerifiedWarrant,
        items: &[pb::EscrowItem],
    ) -> Result<Vec<([u8; 32], DecryptionShare)>, Status> {
        let check_one = |(i, item): (usize, &pb::EscrowItem)| -> Result<([u8; 32], DecryptionShare), Status> {
            let ctx = format!("item {i}");
            let label = Label::from_bytes(&item.label).map_err(|e| from_crypto(&ctx, &e))?;
            let field = EscrowField::from_bytes(&item.field).map_err(|e| from_crypto(&ctx, &e))?;
            let keys = inner.epochs.get(&label.epoch()).ok_or_else(|| {
                Status::failed_precondition(format!(
                    "{ctx}: this trustee holds no key share for epoch {} (never installed or destroyed)",
                    label.epoch()
                ))
            })?;
            warrant.check_scope(&label).map_err(|e| from_crypto(&ctx, &e))?;
            field.verify(&keys.public, &label).map_err(|e| from_crypto(&ctx, &e))?;
            Ok((field.fingerprint(), keys.share.decrypt_share_unchecked(&field)))
        };
        escrow_service::par::par_map(
            items,
            |i, it| check_one((i, it)),
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
        let inner = &self.inner;
        Ok(Response::new(pb::TrusteeInfo {
            trustee_id: inner.policy.trustee_id.to_string(),
            index: inner.epochs.values().next().map(|e| u32::from(e.share.index().0)).unwrap_or(0),
            epoch_public_keys: inner.epochs.values().map(|e| e.public.to_bytes()).collect(),
            max_items_per_request: inner.policy.max_items_per_request,
        }))
    }

    async fn submit_warrant(
        &self,
        req: Request<pb::SubmitWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        let who = auth::require(&req, "SubmitWarrant", &[Role::Agency])?;
        let blob = req.into_inner().warrant;
        let policy = &self.inner.policy;
        let w = VerifiedWarrant::verify_any(&blob, &policy.trusted_courts).map_err(|e| from_crypto("warrant", &e))?;
        if w.body().agency != *who.id() {
            return Err(auth::denied(
                &who,
                "SubmitWarrant",
                &format!("the warrant names agency {}, not the caller", w.body().agency),
            ));
        }
        if let Some(row) = self
            .with_store({
                let id = w.id();
                move |s| s.warrant(&id)
            })
            .await?
        {
            if row.warrant != blob {
                return Err(Status::already_exists(format!("another warrant with id {} is already stored", w.id())));
            }
            return Ok(Response::new(self.status_of(&row)));
        }
        let now = self.inner.clock.now();
        w.check_time(now).map_err(|e| from_crypto("warrant", &e))?;
        let body = w.body();
        let since = crate::policy::quota_window_start(now);
        let agency = body.agency.to_string();
        let recent = self.with_store(move |s| s.warrants_received_since(&agency, since)).await?;
        let allowed = policy.max_warrants_per_agency;
        if recent >= allowed {
            return Err(Status::resource_exhausted(format!(
                "agency {} submitted {recent} warrants in the last 30 days; this trustee accepts at most {allowed}",
                body.agency
            )));
        }
        let (state, by, reason) = if body.window.len_secs() > policy.max_window_secs {
            (
                State::Denied,
                Some("policy"),
                Some(format!(
                    "window of {} s exceeds this trustee's maximum of {} s",
                    body.window.len_secs(),
                    policy.max_window_secs
                )),
            )
        } else if policy.quota(&body.agency) == 0 {
            (State::Denied, Some("policy"), Some(format!("agency {} has no quota at this trustee", body.agency)))
        } else if policy.approval == crate::policy::Approval::Auto {
            (State::Approved, Some("policy"), Some("auto-approved: within policy".to_string()))
        } else {
            (State::Received, None, None)
        };
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
                court: body.court.to_string(),
                agency: body.agency.to_string(),
                window_from: body.window.from(),
                window_to: body.window.to(),
                valid_until: body.valid_until,
                reveal_at: body.valid_until.saturating_add(body.notification_delay_secs),
                details_commitment: details_commitment(&nonce, w.as_bytes()),
                arrival: match state {
                    State::Approved => Arrival::ApprovedByPolicy,
                    State::Denied => Arrival::DeniedByPolicy,
                    _ => Arrival::Received,
                },
                reason: reason.clone().unwrap_or_default(),
            },
        };
        let w2 = w.clone();
        self.with_store(move |s| s.insert_warrant(&w2, state, now, by, reason.as_deref(), nonce, entry)).await?;
        let row = self.load(id).await?;
        Ok(Response::new(self.status_of(&row)))
    }

    async fn get_warrant(&self, req: Request<pb::GetWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        let who = auth::require(&req, "GetWarrant", &[Role::Agency, Role::Operator])?;
        if who.role() == Role::Operator && !who.operates(self.trustee_id()) {
            return Err(auth::denied(&who, "GetWarrant", &format!("only an operator of {} may", self.trustee_id())));
        }
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
        let who = auth::require(&req, "ListWarrants", &[Role::Agency, Role::Operator])?;
        if who.role() == Role::Operator && !who.operates(self.trustee_id()) {
            return Err(auth::denied(&who, "ListWarrants", &format!("only an operator of {} may", self.trustee_id())));
        }
        let want = req.into_inner().state;
        let rows = self.with_store(|s| s.warrants()).await?;
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
        // Authorization first: a caller who may not ask gets PERMISSION_DENIED and
        // leaves no trace in the log, which it could otherwise fill.
        let who = auth::require(&req, "RequestShares", &[Role::Agency])?;
        // The warrant row is read once, here, and handed to the checks below. Another
        // agency's warrant is treated exactly as an unknown one: the answer must not
        // tell the caller that it exists or whose it is.
        let row = match warrant_id(&req.get_ref().warrant_id) {
            Ok(id) => self.with_store(move |s| s.warrant(&id)).await?,
            Err(_) => None,
        }
        .filter(|row| row.agency == who.id().as_str());
        let held = row.as_ref().map(|r| r.id.0);
        match self.request_shares_checked(req.into_inner(), row).await {
            Ok(r) => Ok(r),
            Err(status) if status.code() != tonic::Code::Internal => {
                // Counted, attributed to the caller, and logged as crate::refusals says
                // (evidence at once, noise summed per window). A failure to record it is
                // traced and does not turn the refusal into anything else.
                let refusal = Refusal {
                    key: Key { caller: who.uri(), warrant_id: held, code: format!("{:?}", status.code()) },
                    rule: crate::refusals::loggable(status.message()),
                    time: self.inner.clock.now(),
                };
                if let Err(e) = self.with_store(move |s| s.record_refusal(refusal)).await {
                    tracing::error!(error = %e, "could not record a refused request");
                }
                Err(status)
            }
            Err(status) => Err(status),
        }
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
        let policy = &self.inner.policy;
        if req.items.is_empty() {
            return Err(Status::invalid_argument("no items"));
        }
        if req.items.len() > policy.max_items_per_request as usize {
            return Err(Status::invalid_argument(format!(
                "{} items, at most {} per request",
                req.items.len(),
                policy.max_items_per_request
            )));
        }
        let row = row.ok_or_else(|| unknown_warrant(&id))?;
        match row.state {
            State::Approved => {}
            State::Received => {
                return Err(Status::failed_precondition(format!("warrant {id} is not approved by this trustee yet")))
            }
            State::Denied => {
                return Err(Status::failed_precondition(format!("warrant {id} was denied by this trustee")))
            }
            State::Revoked => return Err(Status::failed_precondition(format!("warrant {id} was revoked"))),
        }
        let warrant = VerifiedWarrant::verify_any(&row.warrant, &policy.trusted_courts)
            .map_err(|e| from_crypto("stored warrant", &e))?;
        let now = self.inner.clock.now();
        warrant.check_time(now).map_err(|e| from_crypto(&format!("warrant {id}"), &e))?;

        let inner = self.inner.clone();
        let items = req.items;
        let items_copy = items.clone();
        let w2 = warrant.clone();
        let checked =
            tokio::task::spawn_blocking(move || Self::check_items(&inner, &w2, &items)).await.map_err(internal)??;

        // Write-before-release: the releases are committed (quota checked in the same
        // transaction) before any share leaves this process.
        let released: Vec<Released> = checked
            .iter()
            .zip(&items_copy)
            .map(|((h, _), it)| Released { hash: *h, label: it.label.clone(), field: it.field.clone() })
            .collect();
        let agency = warrant.body().agency.clone();
        let limits = ReleaseLimits {
            max_fields_per_warrant: policy.max_fields_per_warrant,
            agency_quota: policy.quota(&agency),
        };
        let recorded = self.with_store(move |s| s.record_releases(&id, &agency, &released, now, limits)).await?;
        let new = recorded.map_err(|q| Status::resource_exhausted(q.to_string()))?;
        tracing::info!(warrant = %id, items = checked.len(), new_fields = new, "shares released");
        Ok(Response::new(pb::RequestSharesResponse { shares: checked.iter().map(|(_, s)| s.to_bytes()).collect() }))
    }
}
