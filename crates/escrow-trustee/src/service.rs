//! The `escrow.v1.Trustee` gRPC service.
//!
//! Every refusal is a gRPC error whose message names the rule that failed, and
//! changes nothing: checks run first, state changes last, in one transaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use escrow_crypto::{
    Announcement, DecryptionShare, EpochId, PartyId, SignedAnnouncement, TrusteeKeyShare, VerifiedWarrant, WarrantId,
};
use escrow_pki::{Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::auth;
use escrow_service::clock::Clock;
use escrow_service::status::from_crypto;
use tonic::{Request, Response, Status};

use escrow_log::event::{details_commitment, Decision, Entry, Event};
use rand::RngCore;

use crate::answer::{internal, status, unknown_warrant, warrant_id};
pub use crate::config::{check_certificate, check_epochs, StartError};
use crate::config::{loaded, CheckedConfig};
use crate::policy::Policy;
use crate::refusals::{self as counted, Key};
use crate::rules::{self, Refusal};
use crate::state::{self, Action, State};
use crate::store::{ReleaseLimits, Released, Store, StoreError, WarrantRow};

/// Most entries one GetEntries call returns.
pub const MAX_ENTRIES_PER_CALL: u64 = 1000;

pub use crate::rules::{EpochKeys, Epochs};

pub(crate) struct Inner {
    pub(crate) policy: Policy,
    /// Replaced as a whole when a ceremony installs or a schedule destroys an epoch.
    epochs: RwLock<Arc<Epochs>>,
    /// Announcements of the key sets made by ceremonies here, destroyed ones included.
    announcements: RwLock<BTreeMap<EpochId, StoredAnnouncement>>,
    pub(crate) store: Mutex<Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ceremony: Option<crate::ceremony::Runtime>,
    /// With a witness policy: the publisher's state (crate::witnessing).
    pub(crate) witnessing: Option<crate::witnessing::Witnessing>,
    pub(crate) metrics: crate::metrics::TrusteeMetrics,
}

/// A ceremony's announcement as this trustee keeps it: the signed bytes it serves,
/// what they say, and whether its share here is destroyed.
#[derive(Clone, Debug)]
pub(crate) struct StoredAnnouncement {
    pub(crate) signed: SignedAnnouncement,
    pub(crate) body: Announcement,
    pub(crate) destroyed: bool,
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

impl TrusteeService {
    /// Builds the service over an opened store, without key ceremonies (epochs only
    /// from key-share files). Each key share must match its epoch key.
    pub fn new(
        policy: Policy,
        epochs: Vec<EpochKeys>,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        Self::start(policy, epochs, store, clock, None)
    }

    /// Builds the service; with `ceremony` (the trustee's signing key, the pinned
    /// trustee keys and the data directory's sealing key) it takes part in key
    /// ceremonies and loads the epochs earlier ceremonies installed here.
    pub fn start(
        policy: Policy,
        epochs: Vec<EpochKeys>,
        store: Store,
        clock: Arc<dyn Clock>,
        ceremony: Option<crate::ceremony::CeremonyKeys>,
    ) -> Result<Self, StartError> {
        Self::launch(policy, epochs, store, clock, ceremony, None)
    }

    /// Starts the service a served trustee runs, from a config that passed every
    /// check that needs no database ([`crate::TrusteeConfig::check`]), on its opened
    /// `store`, which is checked here against the config (what it installed before;
    /// its ceremony shares open under the sealing key). With witnesses, the trustee
    /// publishes its checkpoints to them and releases shares only under a witnessed
    /// approval (crate::witnessing).
    pub fn start_checked(config: CheckedConfig, store: Store, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let c = config.into_inner();
        Self::launch(c.policy, c.epochs, store, clock, c.ceremony, c.witnesses)
    }

    fn launch(
        policy: Policy,
        mut epochs: Vec<EpochKeys>,
        mut store: Store,
        clock: Arc<dyn Clock>,
        ceremony: Option<crate::ceremony::CeremonyKeys>,
        witnesses: Option<crate::witnessing::WitnessConfig>,
    ) -> Result<Self, StartError> {
        let rows = store.ceremony_keys()?;
        let live = rows.iter().filter(|r| r.share.is_some()).count();
        let mut announcements = BTreeMap::new();
        if live > 0 && ceremony.is_none() {
            return Err(StartError::CeremonyKeysMissing(live));
        }
        for row in &rows {
            let bad = |why: String| StartError::CeremonyKey { epoch: row.epoch, why };
            let signed = SignedAnnouncement::from_bytes(&row.announcement).map_err(|e| bad(e.to_string()))?;
            let body = Announcement::from_bytes(signed.body()).map_err(|e| bad(e.to_string()))?;
            if let (Some(sealed), Some(keys)) = (&row.share, &ceremony) {
                let share = keys.unseal_share(sealed).map_err(|e| match e {
                    escrow_crypto::Error::DecryptionFailed => StartError::CeremonyShareSeal { epoch: row.epoch },
                    e => bad(e.to_string()),
                })?;
                rules::check_holder(&policy.trustee_id, &body.holders, share.index().0).map_err(|position| {
                    StartError::NotTheHolder {
                        epoch: row.epoch,
                        share: share.index().0,
                        trustee: policy.trustee_id.to_string(),
                        position,
                    }
                })?;
                if epochs.iter().any(|e| e.public.epoch().0 == row.epoch) {
                    return Err(StartError::EpochTwice(row.epoch));
                }
                epochs.push(EpochKeys { public: body.key_set.clone(), share });
            }
            announcements
                .insert(EpochId(row.epoch), StoredAnnouncement { signed, body, destroyed: row.share.is_none() });
        }
        check_epochs(&policy, &epochs, Some(&store))?;
        store.sync_epochs(&loaded(&epochs), clock.now())?;
        store.flush_refusals(clock.now())?;
        let map: Epochs = epochs.into_iter().map(|e| (e.public.epoch(), Arc::new(e))).collect();
        let ceremony = ceremony.map(crate::ceremony::Runtime::new);
        let witnessed = store.witnessed().map_or(0, |(size, _)| size);
        let witnessing = witnesses.map(|config| crate::witnessing::Witnessing::new(config, witnessed));
        // Every refusal is behind us: the data directory's lock file stays from here on.
        store.keep_lock();
        Ok(TrusteeService {
            inner: Arc::new(Inner {
                policy,
                epochs: RwLock::new(Arc::new(map)),
                announcements: RwLock::new(announcements),
                store: Mutex::new(store),
                clock,
                ceremony,
                witnessing,
                metrics: crate::metrics::TrusteeMetrics::new(),
            }),
        })
    }

    /// The epochs held now.
    pub(crate) fn epochs(&self) -> Arc<Epochs> {
        self.inner.epochs.read().map(|e| e.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Reads the announcements of the ceremony epochs, by epoch (without copying them).
    pub(crate) fn with_announcements<T>(&self, f: impl FnOnce(&BTreeMap<EpochId, StoredAnnouncement>) -> T) -> T {
        f(&self.inner.announcements.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces what this trustee holds of `epoch` in memory: its keys, or nothing.
    fn set_epoch(&self, epoch: EpochId, keys: Option<EpochKeys>) {
        let mut guard = self.inner.epochs.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut map: Epochs = (**guard).clone();
        match keys {
            Some(k) => map.insert(epoch, Arc::new(k)),
            None => map.remove(&epoch),
        };
        *guard = Arc::new(map);
    }

    /// Installs a ceremony's key set in memory (the store has it already).
    pub(crate) fn install_epoch(&self, keys: Option<EpochKeys>, epoch: EpochId, announcement: StoredAnnouncement) {
        self.set_epoch(epoch, keys);
        self.inner.announcements.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(epoch, announcement);
    }

    /// Destroys every ceremony epoch whose `destroy_at` has come: the share is cleared
    /// from the database and the destruction logged (one transaction), then dropped
    /// from memory. Runs on a timer and before every share request, so that a share
    /// is never used past its time. Returns the epochs destroyed.
    pub async fn destroy_due(&self) -> Result<Vec<EpochId>, Status> {
        let now = self.inner.clock.now();
        let due: Vec<EpochId> = self.with_announcements(|all| {
            all.iter().filter(|(_, a)| !a.destroyed && a.body.destroy_at <= now).map(|(e, _)| *e).collect()
        });
        let mut done = Vec::new();
        for epoch in due {
            let destroyed = self.with_store(move |s| s.destroy_ceremony_key(epoch.0, now)).await?;
            self.set_epoch(epoch, None);
            if let Some(a) =
                self.inner.announcements.write().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(&epoch)
            {
                a.destroyed = true;
            }
            if destroyed {
                tracing::info!(epoch = epoch.0, "epoch share destroyed on schedule");
                done.push(epoch);
            }
        }
        Ok(done)
    }

    /// This trustee's share of `epoch` as a fresh copy (for a reshare it deals in).
    pub(crate) fn share_copy(&self, epoch: EpochId) -> Option<TrusteeKeyShare> {
        self.epochs().get(&epoch).and_then(|k| TrusteeKeyShare::from_bytes(&k.share.to_bytes()).ok())
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

    /// Whether `who` may read warrant `row` (the access table's object rule
    /// `WarrantsAgency`): this trustee's operator, or the agency that submitted it.
    fn may_read(&self, who: &Identity, row: &WarrantRow) -> bool {
        who.operates(self.trustee_id()) || (who.role() == Role::Agency && who.id().as_str() == row.agency)
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
                operator: operator.to_string().into(),
                reason: reason.clone().into(),
            },
        };
        let by = operator.to_string();
        let moved = self.with_store(move |s| s.decide(&id, from, to, now, &by, &reason, entry)).await?;
        if !moved {
            return Err(status(&Refusal::ChangedConcurrently(id)));
        }
        tracing::info!(warrant = %id, %action, by = %operator, "warrant decided");
        let decision = match action {
            Action::Approve => "approve",
            Action::Deny => "deny",
            Action::Revoke => "revoke",
        };
        self.inner.metrics.decisions.get_or_create(&crate::metrics::DecisionLabels { decision }).inc();
        let row = self.load(id).await?;
        Ok(self.status_of(&row))
    }

    /// Checks every item of a share request ([`rules::check_items`]): one run of items
    /// per core, each run's fields checked in one batch; returns the hashes and shares
    /// to release, or the first refusal in item order.
    fn check_items(
        epochs: &Epochs,
        warrant: &VerifiedWarrant,
        items: &[pb::EscrowItem],
    ) -> Result<Vec<([u8; 32], DecryptionShare)>, Status> {
        escrow_service::par::par_chunks(
            items,
            |first, run| {
                let blobs: Vec<(&[u8], &[u8])> = run.iter().map(|it| (&it.label[..], &it.field[..])).collect();
                rules::check_items(epochs, warrant, first, &blobs, &mut rand::rngs::OsRng)
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
        self.destroy_due().await?;
        let inner = &self.inner;
        let epochs = self.epochs();
        Ok(Response::new(pb::TrusteeInfo {
            trustee_id: inner.policy.trustee_id.to_string(),
            index: epochs.values().next().map(|e| u32::from(e.share.index().0)).unwrap_or(0),
            epoch_public_keys: epochs.values().map(|e| e.public.to_bytes()).collect(),
            max_items_per_request: inner.policy.max_items_per_request,
            announcements: self
                .with_announcements(|all| all.values().filter(|a| !a.destroyed).map(|a| a.signed.to_bytes()).collect()),
        }))
    }

    async fn submit_warrant(
        &self,
        req: Request<pb::SubmitWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        let who = auth::caller(&req)?;
        let blob = req.into_inner().warrant;
        let policy = &self.inner.policy;
        let w = VerifiedWarrant::verify_any(&blob, &policy.trusted_courts).map_err(|e| from_crypto("warrant", &e))?;
        if w.body().agency != *who.id() {
            let refusal = Refusal::WrongAgency { named: w.body().agency.clone() };
            tracing::warn!(caller = %who, rule = refusal.code(), "{refusal}");
            return Err(status(&refusal));
        }
        if let Some(row) = self
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
        let now = self.inner.clock.now();
        let since = crate::policy::quota_window_start(now);
        let agency = w.body().agency.to_string();
        let recent = self.with_store(move |s| s.warrants_received_since(&agency, since)).await?;
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
        self.with_store(move |s| s.insert_warrant(&w2, state, now, by, reason.as_deref(), nonce, entry)).await?;
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
        // The access table decided before this handler ran: a caller who may not ask
        // got PERMISSION_DENIED and left no trace in the log, which it could
        // otherwise fill.
        let who = auth::caller(&req)?;
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
                // The refusal's code (its escrow-rule: `out-of-scope`, `revoked`,
                // `unknown-warrant`, ...), which every refusal of this path carries;
                // the gRPC code name only for a status that somehow has none.
                let code = escrow_service::metrics::rule_of(&status)
                    .unwrap_or_else(|| escrow_service::status::code_name(status.code()))
                    .to_owned();
                let refusal = counted::Refusal {
                    key: Key { caller: who.uri(), warrant_id: held, code },
                    rule: escrow_log::Text::lossy(status.message()),
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
        rules::may_release(policy, id, row.as_ref().map(|r| r.state), req.items.len()).map_err(|r| status(&r))?;
        let row = row.ok_or_else(|| unknown_warrant(&id))?;
        let warrant = VerifiedWarrant::verify_any(&row.warrant, &policy.trusted_courts)
            .map_err(|e| from_crypto("stored warrant", &e))?;
        let now = self.inner.clock.now();
        warrant.check_time(now).map_err(|e| from_crypto(&format!("warrant {id}"), &e))?;

        // A share is never used past its scheduled destruction.
        self.destroy_due().await?;
        let epochs = self.epochs();
        let w2 = warrant.clone();
        let (checked, items) = tokio::task::spawn_blocking(move || {
            let checked = Self::check_items(&epochs, &w2, &req.items);
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
        let witnessed = match self.inner.witnessing {
            None => None,
            Some(_) => {
                let marks = self.with_store(move |s| Ok(s.warrant_marks(&id))).await?;
                let approved = marks
                    .and_then(|m| m.approved)
                    .ok_or_else(|| internal(format!("warrant {id} is approved but no approval is in the log")))?;
                self.wait_witnessed(approved, &format!("the approval of warrant {id}")).await?;
                let proof = self
                    .with_store(move |s| s.witnessed_approval(&id))
                    .await?
                    .ok_or_else(|| internal(format!("warrant {id}: the witnessed approval is gone")))?;
                Some(witnessed_pb(proof))
            }
        };
        let limits = ReleaseLimits {
            max_fields_per_warrant: policy.max_fields_per_warrant,
            agency_quota: policy.quota(&warrant.body().agency),
        };
        // The release is decided again inside its transaction, on the warrant's state
        // as stored now and on the clock read under the store's lock (so entry times
        // follow log order): a revocation that committed while the checks or the
        // witness wait ran stops it here.
        let clock = self.inner.clock.clone();
        let recorded = self
            .with_store(move |s| {
                let now = clock.now();
                s.record_releases(&warrant, &released, now, limits)
            })
            .await?;
        let new = recorded.map_err(|r| status(&r))?;
        tracing::info!(warrant = %id, items = checked.len(), new_fields = new, "shares released");
        self.inner.metrics.shares_released.inc_by(checked.len() as u64);
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
