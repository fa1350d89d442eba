//! What every part of a trustee shares: its policy, its store, the epochs it holds,
//! the announcements of its ceremonies, its clock and its metrics. The gRPC services
//! (`service.rs`, `audit.rs`, `ceremony/rpc.rs`) and the witness publisher
//! (`witnessing.rs`) are thin adapters around one `Arc<Core>`; none of them holds
//! another, and the core holds none of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use escrow_crypto::{Announcement, EpochId, PartyId, SignedAnnouncement, TrusteeKeyShare};
use escrow_service::clock::Clock;
use tonic::Status;

use crate::answer::internal;
use crate::metrics::TrusteeMetrics;
use crate::policy::Policy;
use crate::rules::{EpochKeys, Epochs};
use crate::store::{Store, StoreCounts, StoreError};

/// A ceremony's announcement as this trustee keeps it: the signed bytes it serves,
/// what they say, and whether its share here is destroyed.
#[derive(Clone, Debug)]
pub(crate) struct StoredAnnouncement {
    pub(crate) signed: SignedAnnouncement,
    pub(crate) body: Announcement,
    pub(crate) destroyed: bool,
}

/// The state one trustee's services share.
pub(crate) struct Core {
    pub(crate) policy: Policy,
    /// Replaced as a whole when a ceremony installs or a schedule destroys an epoch.
    epochs: RwLock<Arc<Epochs>>,
    /// Announcements of the key sets made by ceremonies here, destroyed ones included.
    announcements: RwLock<BTreeMap<EpochId, StoredAnnouncement>>,
    /// Behind an `Arc` so that a blocking task can hold it past the request.
    store: Arc<Mutex<Store>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: TrusteeMetrics,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("trustee", &self.policy.trustee_id).finish_non_exhaustive()
    }
}

impl Core {
    /// The core over an opened, checked store, holding `epochs` and `announcements`.
    pub(crate) fn new(
        policy: Policy,
        epochs: Epochs,
        announcements: BTreeMap<EpochId, StoredAnnouncement>,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Core {
            policy,
            epochs: RwLock::new(Arc::new(epochs)),
            announcements: RwLock::new(announcements),
            store: Arc::new(Mutex::new(store)),
            clock,
            metrics: TrusteeMetrics::new(),
        }
    }

    /// This trustee's id.
    pub(crate) fn trustee_id(&self) -> &PartyId {
        &self.policy.trustee_id
    }

    /// The epochs held now.
    pub(crate) fn epochs(&self) -> Arc<Epochs> {
        self.epochs.read().map(|e| e.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Reads the announcements of the ceremony epochs, by epoch (without copying them).
    pub(crate) fn with_announcements<T>(&self, f: impl FnOnce(&BTreeMap<EpochId, StoredAnnouncement>) -> T) -> T {
        f(&self.announcements.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces what this trustee holds of `epoch` in memory: its keys, or nothing.
    fn set_epoch(&self, epoch: EpochId, keys: Option<EpochKeys>) {
        let mut guard = self.epochs.write().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        self.announcements.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(epoch, announcement);
    }

    /// This trustee's share of `epoch` as a fresh copy (for a reshare it deals in).
    pub(crate) fn share_copy(&self, epoch: EpochId) -> Option<TrusteeKeyShare> {
        self.epochs().get(&epoch).and_then(|k| TrusteeKeyShare::from_bytes(&k.share.to_bytes()).ok())
    }

    /// Destroys every ceremony epoch whose `destroy_at` has come: the share is cleared
    /// from the database and the destruction logged (one transaction), then dropped
    /// from memory. Runs on a timer and before every share request, so that a share
    /// is never used past its time. Returns the epochs destroyed.
    pub(crate) async fn destroy_due(&self) -> Result<Vec<EpochId>, Status> {
        let now = self.clock.now();
        let due: Vec<EpochId> = self.with_announcements(|all| {
            all.iter().filter(|(_, a)| !a.destroyed && a.body.destroy_at <= now).map(|(e, _)| *e).collect()
        });
        let mut done = Vec::new();
        for epoch in due {
            let destroyed = self.with_store(move |s| s.destroy_ceremony_key(epoch.0, now)).await?;
            self.set_epoch(epoch, None);
            if let Some(a) =
                self.announcements.write().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(&epoch)
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

    /// Logs the refusals counted in windows that have closed by now (see
    /// [`crate::refusals`]).
    pub(crate) async fn flush_refusals(&self) -> Result<usize, Status> {
        let now = self.clock.now();
        self.with_store(move |s| s.flush_refusals(now)).await
    }

    /// Runs `f` on the store in a blocking task; a store error is `INTERNAL`.
    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| internal("store lock poisoned"))?;
            f(&mut store).map_err(internal)
        })
        .await
        .map_err(internal)?
    }

    /// The store's counts for metrics; blocks on the store (call it off the async
    /// workers). `None` if the lock is poisoned.
    pub(crate) fn counts(&self) -> Option<Result<StoreCounts, StoreError>> {
        self.store.lock().ok().map(|s| s.counts())
    }
}
