//! A transparency-log witness speaking C2SP `tlog-witness`, and the client logs use
//! to reach witnesses.
//!
//! A witness keeps, for each log it is configured for, the latest checkpoint it
//! cosigned. It cosigns a new checkpoint (C2SP `cosignature/v1`) only when the log
//! proves it consistent with that one, and records the new one durably before the
//! cosignature leaves. So two checkpoints it cosigned for one origin are always
//! consistent: a log that shows different histories to different parties cannot
//! get both witnessed.
//!
//! - [`Witness`]: the decision ([`escrow_log::witness`]) around an SQLite store
//!   ([`store`]), one lock held from the check of the old size to the commit, as the
//!   spec requires (no rollback race).
//! - [`server`]: `POST /add-checkpoint` over HTTP/1.1 (axum), TLS from the deployment
//!   CA or plain HTTP behind a proxy; plus `GET /checkpoint/<origin>`, an escrow
//!   extension serving the latest cosigned checkpoint to auditors (the spec's monitor
//!   retrieval is still to be designed).
//! - [`client`]: [`client::WitnessClient`], one kept-alive connection per witness.
//! - [`config`]: the TOML list of witnessed logs.

use std::path::Path;
use std::sync::{Arc, Mutex};

use escrow_log::witness::{AddCheckpoint, LogKeys, Refusal};
use escrow_log::{WitnessSigner, WitnessVerifier};
use escrow_service::clock::Clock;

pub mod client;
pub mod config;
pub mod metrics;
pub mod server;
pub mod store;

pub use store::Store;

/// Why a request was not cosigned.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The spec's refusals (400, 403, 404, 409, 422).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed; nothing was cosigned (500).
    #[error("witness store: {0}")]
    Store(#[from] store::StoreError),
}

/// A witness: its key, the logs it witnesses and its store.
pub struct Witness {
    signer: WitnessSigner,
    logs: LogKeys,
    store: Mutex<Store>,
    clock: Arc<dyn Clock>,
    metrics: metrics::WitnessMetrics,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness").field("signer", &self.signer).field("logs", &self.logs.len()).finish_non_exhaustive()
    }
}

impl Witness {
    /// Opens (creating if needed) `witness.db` in `dir`.
    pub fn open(dir: &Path, signer: WitnessSigner, logs: LogKeys, clock: Arc<dyn Clock>) -> Result<Self, AddError> {
        let store = Store::open(dir)?;
        Ok(Witness { signer, logs, store: Mutex::new(store), clock, metrics: metrics::WitnessMetrics::new() })
    }

    /// This witness's verifier key, for policies.
    pub fn verifier(&self) -> WitnessVerifier {
        self.signer.verifier()
    }

    /// The logs it witnesses.
    pub fn logs(&self) -> &LogKeys {
        &self.logs
    }

    /// Handles one `add-checkpoint` body: on success, the cosignature line(s) the
    /// 200 response carries, after the checkpoint was committed to the store.
    ///
    /// Blocking (SQLite with `synchronous=FULL`): async callers run it on a blocking
    /// thread.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddError> {
        let submission = AddCheckpoint::parse(body)?.verify(&self.logs)?;
        let checkpoint = submission.checkpoint();
        let origin = checkpoint.origin();
        let size = i64::try_from(checkpoint.size())
            .map_err(|_| Refusal::BadRequest("tree sizes above 2^63 - 1 are not supported".into()))?;
        // One critical section from reading the latest checkpoint to committing the
        // new one: two racing requests cannot both pass against the same old state.
        let store = self.store.lock().map_err(|_| store::StoreError::Poisoned)?;
        let latest = store.latest(origin)?;
        if let Err(refusal) = submission.check_against(latest.as_ref().map(|l| &l.latest)) {
            tracing::warn!(%origin, size = checkpoint.size(), %refusal, "refused a checkpoint");
            return Err(refusal.into());
        }
        let now = self.clock.now();
        let line = self
            .signer
            .cosign(submission.text(), now)
            .map_err(|e| Refusal::BadRequest(format!("cannot cosign this note: {e}")))?;
        let cosigned = format!("{}{line}", submission.note());
        store.record(origin, size, checkpoint.root(), &cosigned, now)?;
        drop(store);
        tracing::info!(%origin, size = checkpoint.size(), "cosigned");
        Ok(line)
    }

    /// The latest checkpoint cosigned for `origin`, with the log's signatures and this
    /// witness's cosignature, or `None` if it never cosigned one.
    pub fn latest(&self, origin: &str) -> Result<Option<String>, AddError> {
        let store = self.store.lock().map_err(|_| store::StoreError::Poisoned)?;
        Ok(store.latest(origin)?.map(|l| l.cosigned))
    }
}
