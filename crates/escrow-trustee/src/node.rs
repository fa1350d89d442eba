//! One trustee, started: its core, checked against its store, and the parts built
//! around it (the Trustee, Audit and Ceremony services and the witness publisher).
//! This is the only place that knows all of them; `serve` in `lib.rs` serves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use escrow_crypto::{Announcement, EpochId, PartyId, SignedAnnouncement};
use escrow_service::clock::Clock;
use escrow_service::metrics::Metrics;
use tonic::Status;

use crate::audit::AuditService;
use crate::ceremony::{CeremonyKeys, CeremonyService};
use crate::config::{check_epochs, loaded, CheckedConfig, StartError};
use crate::core::{Core, StoredAnnouncement};
use crate::metrics::Reading;
use crate::policy::Policy;
use crate::rules::{self, EpochKeys, Epochs};
use crate::service::TrusteeService;
use crate::store::Store;
use crate::witnessing::{Publisher, WitnessConfig};

/// A started trustee; cheap to clone.
#[derive(Clone, Debug)]
pub struct Trustee {
    core: Arc<Core>,
    trustee: TrusteeService,
    ceremony: CeremonyService,
    publisher: Option<Publisher>,
}

impl Trustee {
    /// Starts a trustee over an opened store, without key ceremonies (epochs only
    /// from key-share files). Each key share must match its epoch key.
    pub fn new(
        policy: Policy,
        epochs: Vec<EpochKeys>,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        Self::start(policy, epochs, store, clock, None)
    }

    /// Starts a trustee; with `ceremony` (the trustee's signing key, the pinned
    /// trustee keys and the data directory's sealing key) it takes part in key
    /// ceremonies and loads the epochs earlier ceremonies installed here.
    pub fn start(
        policy: Policy,
        epochs: Vec<EpochKeys>,
        store: Store,
        clock: Arc<dyn Clock>,
        ceremony: Option<CeremonyKeys>,
    ) -> Result<Self, StartError> {
        Self::launch(policy, epochs, store, clock, ceremony, None)
    }

    /// Starts the trustee a served trustee runs, from a config that passed every
    /// check that needs no database ([`crate::config::TrusteeConfig::check`]), on its opened
    /// `store`, which is checked here against the config (what it installed before;
    /// its ceremony shares open under the sealing key). With witnesses, the trustee
    /// publishes its checkpoints to them and releases shares only under a witnessed
    /// approval ([`crate::witnessing`]).
    pub fn start_checked(config: CheckedConfig, store: Store, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let c = config.into_inner();
        Self::launch(c.policy, c.epochs, store, clock, c.ceremony, c.witnesses)
    }

    fn launch(
        policy: Policy,
        mut epochs: Vec<EpochKeys>,
        mut store: Store,
        clock: Arc<dyn Clock>,
        ceremony: Option<CeremonyKeys>,
        witnesses: Option<WitnessConfig>,
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
        let witnessed = store.witnessed().map_or(0, |(size, _)| size);
        // Every refusal is behind us: the data directory's lock file stays from here on.
        store.keep_lock();
        let core = Arc::new(Core::new(policy, map, announcements, store, clock));
        let publisher = witnesses.map(|config| Publisher::new(core.clone(), config, witnessed));
        Ok(Trustee {
            trustee: TrusteeService::new(core.clone(), publisher.clone()),
            ceremony: CeremonyService::new(core.clone(), ceremony),
            publisher,
            core,
        })
    }

    /// The `escrow.v1.Trustee` service.
    pub fn trustee_service(&self) -> TrusteeService {
        self.trustee.clone()
    }

    /// The `escrow.v1.Audit` service.
    pub fn audit_service(&self) -> AuditService {
        AuditService::new(self.core.clone())
    }

    /// The `escrow.v1.Ceremony` service.
    pub fn ceremony_service(&self) -> CeremonyService {
        self.ceremony.clone()
    }

    /// The policy this trustee runs under.
    pub fn policy(&self) -> &Policy {
        &self.core.policy
    }

    /// This trustee's id.
    pub fn trustee_id(&self) -> &PartyId {
        self.core.trustee_id()
    }

    /// Destroys every ceremony epoch whose `destroy_at` has come (see
    /// `Core::destroy_due`); returns the epochs destroyed.
    pub async fn destroy_due(&self) -> Result<Vec<EpochId>, Status> {
        self.core.destroy_due().await
    }

    /// Logs the refusals counted in windows that have closed by now (see
    /// [`crate::refusals`]); the server calls it periodically.
    pub async fn flush_refusals(&self) -> Result<usize, Status> {
        self.core.flush_refusals().await
    }

    /// Publishes the current checkpoint to the witnesses once, if the log grew past
    /// the witnessed one; returns the new witnessed size if the quorum was reached.
    /// Without witnesses, `None`.
    pub async fn publish(&self) -> Result<Option<u64>, Status> {
        match &self.publisher {
            Some(p) => p.publish().await,
            None => Ok(None),
        }
    }

    /// This trustee's metrics registry (RPC metrics included).
    pub fn metrics(&self) -> &Metrics {
        &self.core.metrics.registry
    }

    /// Sets the gauges read from state; blocks on the store (call it off the async
    /// workers).
    pub fn refresh_metrics(&self) {
        self.core.metrics.refresh(Reading {
            counts: self.core.counts(),
            witnesses: self.publisher.as_ref().map(Publisher::witness_positions).unwrap_or_default(),
            epochs_held: self.core.epochs().len(),
            phases: self.ceremony.phases(),
        });
    }

    /// Starts the background tasks of a served trustee: the ceremony ticker (which
    /// needs the served `credentials` to reach its peers) and the publisher.
    pub(crate) fn start_tasks(
        &self,
        credentials: &escrow_service::transport::Credentials,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let ceremonies = self.ceremony.start(credentials);
        let publisher = self.publisher.as_ref().map(Publisher::start);
        [ceremonies, publisher].into_iter().flatten().collect()
    }
}
