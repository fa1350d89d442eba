//! Publishing the log to witnesses, and holding releases until they are witnessed.
//!
//! A serving trustee with a witness policy runs one publisher. At most once per
//! `interval` — sooner only when a release is waiting, never more often — it takes the
//! current checkpoint (one signed note for everyone: witnesses must see the same
//! checkpoint for their cosignatures to add up, the lesson of sigstore/rekor #1067),
//! sends it to every witness with a consistency proof from the size that witness last
//! cosigned, keeps each witness's verified lines, and records the cosigned note once
//! the lines satisfy the policy's quorum. That note is the trustee's *witnessed
//! checkpoint*: served by `Audit.GetCheckpoint` and carried by every release.
//!
//! A share request under a warrant whose approval is not yet in the witnessed
//! checkpoint waits (up to `release_wait`) for the next publication, and fails
//! `UNAVAILABLE` if the quorum is not reached: no witnessed approval, no share.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use escrow_log::cosignature::attach_cosignatures;
use escrow_log::publication::{Evidence, Publication, Reply, Step};
use escrow_log::witness::AddCheckpoint;
use escrow_log::Policy;
use escrow_witness::client::{AddOutcome, WitnessClient};
use tokio::sync::{watch, Notify};

use std::sync::Arc;

use crate::core::Core;

/// Default time between publications.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// Default longest wait of a share request for its approval to be witnessed.
pub const DEFAULT_RELEASE_WAIT: Duration = Duration::from_secs(10);
/// How long one witness may take to answer.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

/// How a trustee reaches its witnesses.
#[derive(Debug)]
pub struct WitnessConfig {
    /// The policy: this trustee's log (by origin), the witnesses and the quorum.
    pub policy: Policy,
    /// A client per policy witness that has a URL, with its index in the policy.
    pub clients: Vec<(usize, WitnessClient)>,
    /// Time between publications.
    pub interval: Duration,
    /// Longest wait of a share request for a witnessed approval.
    pub release_wait: Duration,
}

/// Why a witness configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum WitnessConfigError {
    /// The policy does not list this trustee's log.
    #[error("the witness policy lists no log with origin {0:?}")]
    NoLog(String),
    /// The policy lists this trustee's log under another key.
    #[error("the witness policy's key for {origin:?} is {listed}, but this trustee signs with {ours}")]
    WrongKey {
        /// The origin.
        origin: String,
        /// The key the policy lists.
        listed: String,
        /// This trustee's log key.
        ours: String,
    },
    /// A witness URL is unusable.
    #[error(transparent)]
    Url(#[from] escrow_witness::client::ClientError),
    /// A witness needed for the quorum has no URL, so no checkpoint could be witnessed.
    #[error("the witness policy's quorum cannot be met by the witnesses with URLs ({0})")]
    Unreachable(String),
}

impl WitnessConfig {
    /// Clients for every witness of `policy` with a URL (`https://` needs `trust`, the federation),
    /// after checking that the policy lists this trustee's log (`origin`, signed by
    /// `log_key`) and that the witnesses it can reach could meet the quorum.
    pub fn new(
        policy: Policy,
        origin: &str,
        log_key: &str,
        trust: Option<&std::sync::Arc<escrow_pki::trust::Trust>>,
        interval: Duration,
        release_wait: Duration,
    ) -> Result<Self, WitnessConfigError> {
        let listed = policy.log(origin).ok_or_else(|| WitnessConfigError::NoLog(origin.to_owned()))?;
        if listed.key.to_string() != log_key {
            return Err(WitnessConfigError::WrongKey {
                origin: origin.to_owned(),
                listed: listed.key.to_string(),
                ours: log_key.to_owned(),
            });
        }
        let mut clients = Vec::new();
        for (i, w) in policy.witnesses().iter().enumerate() {
            if let Some(url) = &w.url {
                clients.push((i, WitnessClient::new(url, trust, WITNESS_TIMEOUT)?));
            }
        }
        let mut reachable = vec![false; policy.witnesses().len()];
        for (i, _) in &clients {
            if let Some(r) = reachable.get_mut(*i) {
                *r = true;
            }
        }
        if !policy.quorum_met(&reachable) {
            return Err(WitnessConfigError::Unreachable(policy.quorum_name()));
        }
        Ok(WitnessConfig { policy, clients, interval, release_wait })
    }
}

/// The publisher's shared state.
pub(crate) struct Witnessing {
    pub(crate) config: WitnessConfig,
    /// Woken by a waiting release.
    poke: Notify,
    /// The witnessed size, for waiting releases.
    witnessed: watch::Sender<u64>,
    /// Per client, the size that witness last cosigned (as far as this trustee knows).
    held: Mutex<Vec<u64>>,
    /// Why the last publication did not reach the quorum, for refusals.
    last_failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessing").field("witnesses", &self.config.clients.len()).finish_non_exhaustive()
    }
}

impl Witnessing {
    pub(crate) fn new(config: WitnessConfig, witnessed: u64) -> Self {
        let n = config.clients.len();
        Witnessing {
            config,
            poke: Notify::new(),
            witnessed: watch::Sender::new(witnessed),
            held: Mutex::new(vec![0; n]),
            last_failure: Mutex::new(None),
        }
    }

    fn failure(&self) -> String {
        self.last_failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_else(|| format!("witness quorum ({}) not reached in time", self.config.policy.quorum_name()))
    }
}

/// One witness's answer to one publication.
enum Answer {
    Cosigned(String),
    Failed(String),
}

/// The publisher of one trustee's log: its witnessing state and the core whose store
/// it publishes. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Publisher {
    core: Arc<Core>,
    w: Arc<Witnessing>,
}

impl Publisher {
    /// The publisher of `core`'s log to the witnesses of `config`; `witnessed` is the
    /// size of the witnessed checkpoint in the store.
    pub(crate) fn new(core: Arc<Core>, config: WitnessConfig, witnessed: u64) -> Self {
        Publisher { core, w: Arc::new(Witnessing::new(config, witnessed)) }
    }

    /// Per witness (by its policy name), the size of this log it last cosigned as far
    /// as this trustee knows.
    pub(crate) fn witness_positions(&self) -> Vec<(String, u64)> {
        let w = &self.w;
        let held: Vec<u64> = w.held.lock().map(|h| h.clone()).unwrap_or_default();
        let names = w.config.clients.iter().map(|(i, _)| w.config.policy.witnesses().get(*i).map(|k| k.name.clone()));
        names.zip(held).filter_map(|(name, h)| name.map(|n| (n, h))).collect()
    }

    /// Waits until the log entry at `index` is in the witnessed checkpoint, poking the
    /// publisher; refuses ([`crate::rules::Refusal::NotWitnessed`], with the last
    /// failure) if that does not happen within the release wait. Without witnesses it returns at once.
    pub(crate) async fn wait_witnessed(&self, index: u64, what: &str) -> Result<(), tonic::Status> {
        let w = &self.w;
        let mut rx = w.witnessed.subscribe();
        if *rx.borrow() > index {
            return Ok(());
        }
        w.poke.notify_one();
        let reached = tokio::time::timeout(w.config.release_wait, rx.wait_for(|size| *size > index))
            .await
            .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            let refusal = crate::rules::Refusal::NotWitnessed { what: what.to_string(), failure: w.failure() };
            Err(crate::answer::status(&refusal))
        }
    }

    /// Runs the publisher until aborted.
    pub(crate) fn start(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let w = &service.w;
            let interval = w.config.interval;
            let mut last = Instant::now().checked_sub(interval).unwrap_or_else(Instant::now);
            loop {
                tokio::select! {
                    () = w.poke.notified() => {}
                    () = tokio::time::sleep(interval) => {}
                }
                // Never more than one publication per interval: every witness gets the
                // same checkpoint, and a burst of releases shares one publication.
                if let Some(wait) = interval.checked_sub(last.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                last = Instant::now();
                if let Err(e) = service.publish().await {
                    tracing::error!(error = %e, "publishing the checkpoint to witnesses failed");
                }
            }
        })
    }

    /// Publishes the current checkpoint once, if the log grew past the witnessed
    /// one; returns the new witnessed size if the quorum was reached.
    pub(crate) async fn publish(&self) -> Result<Option<u64>, tonic::Status> {
        let w = &self.w;
        let witnessed = *w.witnessed.borrow();
        let (size, note) = self.core.with_store(|s| Ok(s.checkpoint_now())).await?;
        if size == 0 || size <= witnessed {
            return Ok(None);
        }
        let held: Vec<u64> = w.held.lock().map(|h| h.clone()).unwrap_or_default();
        let mut tasks = tokio::task::JoinSet::new();
        for (slot, (&old, _)) in held.iter().zip(&w.config.clients).enumerate() {
            let service = self.clone();
            let note = note.clone();
            tasks.spawn(async move {
                let answer = service.ask_witness(slot, old, size, note).await;
                (slot, answer)
            });
        }
        let mut lines = String::new();
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((slot, (answer, now_held))) = done else { continue };
            if let (Some(h), Ok(mut all)) = (now_held, w.held.lock()) {
                if let Some(cell) = all.get_mut(slot) {
                    *cell = h;
                }
            }
            match answer {
                Answer::Cosigned(l) => lines.push_str(&l),
                Answer::Failed(why) => failures.push(why),
            }
        }
        let cosigned = attach_cosignatures(&note, &lines).map_err(crate::answer::internal)?;
        match w.config.policy.verify(cosigned.as_bytes()) {
            Ok(v) => {
                let recorded = self.core.with_store(move |s| s.set_witnessed(size, &cosigned)).await?;
                if recorded {
                    w.witnessed.send_replace(size);
                    if let Ok(mut f) = w.last_failure.lock() {
                        *f = None;
                    }
                    let by: Vec<&str> = v.cosigners.iter().map(|(n, _)| n.as_str()).collect();
                    tracing::info!(size, cosigners = ?by, "checkpoint witnessed");
                }
                Ok(Some(size))
            }
            Err(e) => {
                let why = if failures.is_empty() { e.to_string() } else { format!("{e}; {}", failures.join("; ")) };
                tracing::warn!(size, reason = %why, "checkpoint not witnessed");
                if let Ok(mut f) = w.last_failure.lock() {
                    *f = Some(why);
                }
                Ok(None)
            }
        }
    }

    /// Publishes `note` (size `size`) to the witness in `slot`, which last cosigned
    /// `old` entries as far as this trustee knows. What each answer means, and the one
    /// retry after a 409, are [`Publication`]'s; this only carries the requests.
    /// Returns the answer and the size the witness is now known to hold.
    async fn ask_witness(&self, slot: usize, old: u64, size: u64, note: String) -> (Answer, Option<u64>) {
        let w = &self.w;
        let Some((index, client)) = w.config.clients.get(slot) else {
            return (Answer::Failed("no such witness".into()), None);
        };
        let Some(key) = w.config.policy.witnesses().get(*index) else {
            return (Answer::Failed("no such witness".into()), None);
        };
        let (mut publication, mut step) = Publication::start(&key.key, &note, size, old);
        loop {
            match step {
                Step::Send { old_size, prove } => {
                    let proof = if prove {
                        self.core
                            .with_store(move |s| Ok(s.consistency_proof(old_size, size)))
                            .await
                            .and_then(|p| p.map_err(|e| tonic::Status::internal(e.to_string())))
                    } else {
                        Ok(Vec::new())
                    };
                    let reply = match proof {
                        Err(e) => Reply::NotAnswered(e.message().to_string()),
                        Ok(proof) => {
                            let request = AddCheckpoint { old_size, proof, checkpoint: note.clone() };
                            match client.add_checkpoint(&request).await {
                                Ok(AddOutcome::Cosigned(lines)) => Reply::Cosigned(lines),
                                Ok(AddOutcome::Conflict(latest)) => Reply::Conflict(latest),
                                Ok(AddOutcome::Refused { status, message }) => Reply::Refused { status, message },
                                Err(e) => Reply::NotAnswered(e.to_string()),
                            }
                        }
                    };
                    step = publication.answer(reply);
                }
                Step::Cosigned { lines, held } => return (Answer::Cosigned(lines), Some(held)),
                Step::Failed { why, held, evidence } => {
                    match evidence {
                        Some(Evidence::AheadOfLog { latest, size }) => {
                            tracing::error!(witness = %key.name, latest, size, "a witness cosigned more of this log than it holds");
                        }
                        Some(Evidence::ForkRefused) => {
                            tracing::error!(witness = %key.name, size, reason = %why, "a witness refused this log's checkpoint as a fork");
                        }
                        None => {}
                    }
                    return (Answer::Failed(why), held);
                }
            }
        }
    }
}

impl WitnessConfig {
    /// The witnesses and quorum in words, for start-up logs.
    pub fn describe(&self) -> String {
        let urls: Vec<&str> = self.clients.iter().map(|(_, c)| c.url()).collect();
        format!("{} witnesses ({}), quorum {}", urls.len(), urls.join(", "), self.policy.quorum_name())
    }
}
