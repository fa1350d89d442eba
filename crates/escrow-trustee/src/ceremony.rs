//! The trustee's side of key ceremonies: the `escrow.v1.Ceremony` service and the thin
//! shell around the state machine of [`escrow_crypto::dkg::machine`]. The machine
//! decides; this module carries its messages to the peer trustees (mutual TLS, with
//! retries), passes it the time (a monotonic clock, ticked every
//! [`TICK`]), writes every step it reports to this trustee's log **before** acting on
//! what follows (fail closed: a step that cannot be logged aborts the ceremony), and
//! installs the key set it makes (the share sealed under the data directory's key,
//! logged and stored in one transaction).
//!
//! One ceremony at a time; the last [`HISTORY`] finished ones are kept for `Status`.
//! The gRPC service itself is the thin adapter in `ceremony/rpc.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use escrow_crypto::dkg::machine::{AbortReason, Ceremony, Installation, Output, PeerOutcome, Setup, Step};
use escrow_crypto::dkg::messages::{CeremonyId, Plan, SignedMessage};
use escrow_crypto::sealed::{open, seal, KdfParams, Unlock};
use escrow_crypto::{EpochId, PartyId, SignedAnnouncement, TrusteeKeyShare, TrusteePins, TrusteeSigningKey};
use escrow_log::event::{CeremonyStep, Entry, Event};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tonic::Status;
use zeroize::Zeroizing;

use std::sync::Arc;

use self::steps::{describe, log_step, phase_name};
use crate::answer::internal;
use crate::core::{Core, StoredAnnouncement};
use crate::rules::EpochKeys;
use crate::store::{CeremonyKeyRow, NewCeremonyKey, OpenCeremony};

mod rpc;
mod steps;

pub use rpc::proposal_of;

/// How often a running ceremony is given the time.
pub const TICK: Duration = Duration::from_millis(50);
/// Finished ceremonies kept for `Status`.
pub const HISTORY: usize = 16;
/// Default wait for operators to accept and the proposer to execute.
pub const DEFAULT_ACCEPT_TIMEOUT_MS: u32 = 10 * 60 * 1000;
/// Default wait in each automatic phase.
pub const DEFAULT_PHASE_TIMEOUT_MS: u32 = 10 * 1000;
/// How long a message to a peer is retried.
const SEND_FOR: Duration = Duration::from_secs(30);

/// The key that seals this trustee's ceremony shares in its database: 32 random bytes
/// kept in a file sealed under the operator's passphrase. Zeroized on drop.
#[derive(Clone)]
pub struct SealKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(k.as_mut_slice());
        SealKey(k)
    }
    /// From its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        SealKey(Zeroizing::new(*bytes))
    }
    /// Its bytes, to seal into the key file.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }
}

/// What a trustee needs to take part in key ceremonies.
#[derive(Clone)]
pub struct CeremonyKeys {
    /// Its signing key (announcements, ceremony messages).
    pub signing: TrusteeSigningKey,
    /// Every trustee's pinned public key.
    pub pins: TrusteePins,
    /// Seals its shares at rest.
    pub seal: SealKey,
    /// Accept every proposal from a pinned trustee without waiting for the operator.
    pub auto_accept: bool,
    /// Demo and tests only (feature `tamper`): how this trustee cheats in ceremonies.
    #[cfg(feature = "tamper")]
    pub misbehave: Misbehaviour,
}

/// Demo and tests only (feature `tamper`, off in the shipped binary): the adversary
/// behaviours a trustee can be started with, to show that the ceremony catches them.
#[cfg(feature = "tamper")]
#[derive(Clone, Debug, Default)]
pub struct Misbehaviour {
    /// The demo's cheating-dealer scenario: send this trustee a share that does not
    /// decrypt, and the honest one to everyone else.
    pub cheat_on: Option<PartyId>,
    /// Compute the announcement but never sign it.
    pub withhold_agreement: bool,
}

impl fmt::Debug for CeremonyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CeremonyKeys")
            .field("signing", &self.signing)
            .field("auto_accept", &self.auto_accept)
            .finish_non_exhaustive()
    }
}

impl CeremonyKeys {
    pub(crate) fn unseal_share(&self, sealed: &[u8]) -> Result<TrusteeKeyShare, escrow_crypto::Error> {
        let bytes = open(sealed, &Unlock::KeyFile(&self.seal.0))?;
        TrusteeKeyShare::from_bytes(&bytes)
    }

    fn seal_share(&self, share: &TrusteeKeyShare) -> Result<Vec<u8>, escrow_crypto::Error> {
        seal(&share.to_bytes(), &Unlock::KeyFile(&self.seal.0), KdfParams::default(), &mut OsRng)
    }

    /// What these keys bring to one ceremony's machine: the signing key and the pins,
    /// `old_share` (this trustee's share of a key set it reshares) and, with feature
    /// `tamper`, the misbehaviour the machine itself carries out. The sealing key and
    /// `auto_accept` stay with the shell. The one mapping of keys to a `Setup`.
    fn setup(&self, old_share: Option<TrusteeKeyShare>) -> Setup {
        #[allow(unused_mut)]
        let mut setup = Setup::new(self.signing.clone(), self.pins.clone(), old_share);
        #[cfg(feature = "tamper")]
        {
            setup.withhold_agreement = self.misbehave.withhold_agreement;
        }
        setup
    }
}

struct Active {
    machine: Ceremony,
    peers: BTreeMap<PartyId, String>,
    steps: Vec<String>,
    /// The signed announcement, once it is stored here.
    announcement: Option<Vec<u8>>,
    /// Asking the peers how the ceremony stands there is under way.
    asking: bool,
    /// When the peers were last asked, or when the ceremony last moved here.
    quiet_since: Instant,
}

impl Active {
    fn new(machine: Ceremony, peers: BTreeMap<PartyId, String>) -> Self {
        Active { machine, peers, steps: Vec::new(), announcement: None, asking: false, quiet_since: Instant::now() }
    }
}

/// A gap between two ticks (or since the last tick, when a message arrives) longer
/// than this means the process stood still, and a message that waited longer than this
/// at its sender means this trustee was unreachable: either way the machine is told
/// (`set_stalled`) and asks the peers before it installs on what waited for it.
const STALL_MS: u64 = 1000;
/// How long a ceremony may stand still here before this trustee asks its peers how it
/// stands there (a trustee that was cut off learns the outcome it missed).
const ASK_WHEN_QUIET: Duration = Duration::from_secs(5);
/// How long one peer may take to answer that question.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one attempt to deliver a ceremony message may take.
const DELIVER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    active: Option<Active>,
    finished: VecDeque<Active>,
}

/// The running ceremonies of one trustee.
pub struct Runtime {
    keys: CeremonyKeys,
    started: Instant,
    /// `now_ms` at the ticker's last tick: a gap much longer than [`TICK`] means this
    /// process stood still (see [`STALL_MS`]).
    last_tick_ms: std::sync::atomic::AtomicU64,
    state: tokio::sync::Mutex<State>,
    /// This trustee's own TLS credentials, to reach its peers; set when it serves.
    credentials: OnceLock<Credentials>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Runtime {
    pub(crate) fn new(keys: CeremonyKeys) -> Self {
        Runtime {
            keys,
            started: Instant::now(),
            last_tick_ms: std::sync::atomic::AtomicU64::new(0),
            state: tokio::sync::Mutex::new(State::default()),
            credentials: OnceLock::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the ticker has not run for [`STALL_MS`]: this process was stopped or
    /// starved (`docker pause`, SIGSTOP), and what arrives now may have waited for it.
    fn stalled(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_tick_ms.load(std::sync::atomic::Ordering::Relaxed)) > STALL_MS
    }

    pub(crate) fn set_credentials(&self, c: &Credentials) {
        let _ = self.credentials.set(c.clone());
    }
}

/// The `escrow.v1.Ceremony` service of one trustee: its core, and the ceremony
/// runtime when it was started with ceremony keys. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CeremonyService {
    core: Arc<Core>,
    runtime: Option<Arc<Runtime>>,
}

impl CeremonyService {
    /// The ceremony service of `core`; without `keys` every call is refused
    /// (`FAILED_PRECONDITION`).
    pub(crate) fn new(core: Arc<Core>, keys: Option<CeremonyKeys>) -> Self {
        CeremonyService { core, runtime: keys.map(|k| Arc::new(Runtime::new(k))) }
    }

    /// The phase of each ceremony held (the running one and the finished ones kept),
    /// for metrics; `None` without ceremony keys or while a ceremony step holds the state.
    pub(crate) fn phases(&self) -> Option<Vec<&'static str>> {
        let runtime = self.runtime.as_deref()?;
        let state = runtime.state.try_lock().ok()?;
        Some(state.active.iter().chain(state.finished.iter()).map(|a| phase_name(a.machine.phase())).collect())
    }

    /// Why a fresh key ceremony for `epoch` may not run here, if it may not: the epoch
    /// is installed here (dealt, or made by an earlier ceremony, even if destroyed since),
    /// and a fresh key would replace it. Only a reshare may follow an installed epoch.
    async fn fresh_key_refusal(&self, epoch: EpochId) -> Result<Option<String>, Status> {
        let installed = self.core.with_store(move |s| s.installed_generation(epoch.0)).await?;
        Ok(installed.map(|g| {
            format!(
                "epoch {} is installed at {} (generation {g}); a fresh key would replace it: only a reshare may follow",
                epoch.0,
                self.core.trustee_id()
            )
        }))
    }

    fn runtime(&self) -> Result<&Runtime, Status> {
        self.runtime.as_deref().ok_or_else(|| {
            Status::failed_precondition("this trustee takes no part in key ceremonies (started without --signing-key)")
        })
    }

    /// Starts the ceremony ticker (the server calls it once it serves with `credentials`).
    pub(crate) fn start(&self, credentials: &Credentials) -> Option<tokio::task::JoinHandle<()>> {
        let rt = self.runtime.as_deref()?;
        rt.set_credentials(credentials);
        let svc = self.clone();
        Some(tokio::spawn(async move {
            if let Ok(rt) = svc.runtime() {
                svc.recover(rt).await;
            }
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Ok(rt) = svc.runtime() {
                    let mut state = rt.state.lock().await;
                    let now = rt.now_ms();
                    let stalled = rt.stalled(now);
                    rt.last_tick_ms.store(now, std::sync::atomic::Ordering::Relaxed);
                    let Some(a) = state.active.as_mut().filter(|a| !a.machine.is_final()) else { continue };
                    if stalled {
                        tracing::warn!(
                            "this process stood still during a ceremony; asking the peers before installing"
                        );
                        a.machine.set_stalled();
                    }
                    if !a.asking && a.quiet_since.elapsed() >= ASK_WHEN_QUIET {
                        // Stood still for a while: a trustee cut off past the peers'
                        // retries learns how the ceremony ended elsewhere. (At the
                        // agreement deadline and after a stall the machine itself asks:
                        // `Output::AskPeers`.)
                        svc.ask_peers(a, false);
                    }
                    let out = a.machine.tick(now, &mut OsRng);
                    svc.apply(rt, &mut state, out).await;
                }
            }
        }))
    }

    /// Asks every other participant (over its trustee certificate) how the ceremony
    /// stands there, in the background; the first that installed or aborted it is
    /// passed to the machine ([`Ceremony::learn`]), which installs only on the signed
    /// announcement it computed itself, with every participant's signature.
    ///
    /// `for_machine`: the machine asked (`Output::AskPeers`) and waits for the answer,
    /// so "nobody has ended it" is passed on too (`Ceremony::peers_undecided`).
    fn ask_peers(&self, active: &mut Active, for_machine: bool) {
        let Ok(rt) = self.runtime() else { return };
        // Credentials are set before the service serves, so before any ceremony runs;
        // without them the machine's question stays open and its deadline (plus
        // `ASK_GRACE_MS`) ends the ceremony.
        let Some(creds) = rt.credentials.get().cloned() else { return };
        active.asking = true;
        active.quiet_since = Instant::now();
        let id = *active.machine.id();
        let me = active.machine.me().clone();
        let peers: Vec<(PartyId, String)> =
            active.peers.iter().filter(|(p, _)| **p != me).map(|(p, a)| (p.clone(), a.clone())).collect();
        let svc = self.clone();
        tokio::spawn(async move {
            // Every peer at once, each bounded; an install (with its proof) counts over
            // an abort, so that a trustee that can still join the holders does.
            let mut asks = tokio::task::JoinSet::new();
            for (peer, addr) in peers {
                let creds = creds.clone();
                asks.spawn(async move {
                    let mut c = escrow_service::transport::ceremony_client(&addr, &creds).ok()?;
                    let asked = c.status(pb::CeremonyRef { ceremony_id: id.to_vec(), reason: String::new() });
                    let s = tokio::time::timeout(ASK_TIMEOUT, asked).await.ok()?.ok()?.into_inner();
                    let outcome = match s.phase.as_str() {
                        "installed" => PeerOutcome::Installed(SignedAnnouncement::from_bytes(&s.announcement).ok()?),
                        "aborted" => PeerOutcome::Aborted { reason: s.abort_reason },
                        _ => return None,
                    };
                    Some((peer, outcome))
                });
            }
            let mut learned: Option<(PartyId, PeerOutcome)> = None;
            while let Some(answer) = asks.join_next().await {
                let Ok(Some((peer, outcome))) = answer else { continue };
                let installed = matches!(outcome, PeerOutcome::Installed(_));
                if learned.is_none() || installed {
                    learned = Some((peer, outcome));
                }
                if installed {
                    break;
                }
            }
            asks.abort_all();
            let Ok(rt) = svc.runtime() else { return };
            let mut state = rt.state.lock().await;
            let Some(a) = state.active.as_mut().filter(|a| a.machine.id() == &id) else { return };
            a.asking = false;
            a.quiet_since = Instant::now();
            let now = rt.now_ms();
            let Some((peer, outcome)) = learned else {
                // Nobody has ended it: the machine goes on (installs on the agreements
                // that waited for it, or aborts at a deadline that passed).
                if for_machine {
                    let out = a.machine.peers_undecided(now, &mut OsRng);
                    svc.apply(rt, &mut state, out).await;
                }
                return;
            };
            match a.machine.learn(&peer, &outcome, now) {
                Ok(out) => {
                    if !out.is_empty() {
                        tracing::info!(peer = %peer, "learned how the ceremony ended from a peer");
                    }
                    svc.apply(rt, &mut state, out).await;
                }
                Err(e) => tracing::warn!(peer = %peer, error = %e, "a peer's report of the ceremony was refused"),
            }
        });
    }

    /// Carries out the machine's outputs in order; a step that cannot be logged aborts
    /// the ceremony before anything after it happens.
    async fn apply(&self, rt: &Runtime, state: &mut State, outputs: Vec<Output>) {
        if !outputs.is_empty() {
            if let Some(a) = state.active.as_mut() {
                a.quiet_since = Instant::now();
            }
        }
        for o in outputs {
            let Some(active) = state.active.as_mut() else { return };
            let now_ms = rt.now_ms();
            match o {
                Output::Log(Step::Installed { .. }) => {
                    // Logged with the installation itself, in its transaction.
                }
                Output::Log(step) => {
                    active.steps.push(describe(&step));
                    let entry = self.step_entry(&active.machine, &step);
                    if let Err(e) = self.core.with_store(move |s| s.log(entry)).await {
                        tracing::error!(error = %e, "could not log a ceremony step; aborting the ceremony");
                        // The machine records why; only the broadcast of the abort goes
                        // out (its log entry could not be written either).
                        let more =
                            active.machine.fail_locally("its log could not be written", now_ms).unwrap_or_default();
                        for m in more {
                            if let Output::Broadcast(msg) = m {
                                self.broadcast(rt, active, msg);
                            }
                        }
                        self.finish(state);
                        return;
                    }
                }
                Output::Broadcast(msg) => self.broadcast(rt, active, msg),
                Output::Install(inst) => match self.install(rt, active, *inst).await {
                    Ok(()) => {
                        if let Err(e) = active.machine.installed(now_ms) {
                            tracing::error!(error = %e, "the machine refused the installation it asked for");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not install the ceremony's key set");
                        let more =
                            active.machine.install_failed(&format!("install failed: {e}"), now_ms).unwrap_or_default();
                        for m in more {
                            match m {
                                Output::Broadcast(msg) => self.broadcast(rt, active, msg),
                                Output::Log(step) => {
                                    let entry = self.step_entry(&active.machine, &step);
                                    if let Err(e) = self.core.with_store(move |s| s.log(entry)).await {
                                        tracing::error!(error = %e, "could not log the end of the ceremony");
                                    }
                                }
                                _ => {}
                            }
                        }
                        self.finish(state);
                        return;
                    }
                },
                // The machine keeps why it aborted (`Ceremony::abort_reason`).
                Output::Abort(_) => {}
                Output::AskPeers => self.ask_peers(active, true),
            }
        }
        if let Some(id) = state.active.as_ref().filter(|a| a.machine.is_final()).map(|a| *a.machine.id()) {
            // Ended and logged: a restart has nothing left to end. If this fails the
            // record stays, and a restart finds the end in the log and drops it then.
            if let Err(e) = self.core.with_store(move |s| s.forget_ceremony(&id)).await {
                tracing::warn!(error = %e, "could not drop the record of a finished ceremony");
            }
            self.finish(state);
        }
    }

    /// The log entry of `step` of `machine`'s ceremony, stamped now.
    fn step_entry(&self, machine: &Ceremony, step: &Step) -> Entry {
        Entry {
            time: self.core.clock.now(),
            event: Event::Ceremony { ceremony: *machine.id(), step: log_step(machine.proposal(), step) },
        }
    }

    /// Records the ceremony this trustee now takes part in (before any of its steps is
    /// acted on), so that a restart knows it.
    async fn remember(
        &self,
        ceremony: CeremonyId,
        proposal: Vec<u8>,
        peers: &BTreeMap<PartyId, String>,
    ) -> Result<(), Status> {
        let record = OpenCeremony {
            ceremony,
            proposal,
            peers: peers.iter().map(|(id, addr)| (id.to_string(), addr.clone())).collect(),
        };
        self.core.with_store(move |s| s.remember_ceremony(&record)).await
    }

    /// After a restart: ends the ceremony this trustee was in when it stopped. Its
    /// state (the ceremony key, its dealing, what it received) died with the process,
    /// so it cannot go on; it logs the abort and tells every participant, who then end
    /// it too instead of waiting for their deadlines and refusing new proposals. A
    /// ceremony whose end is already in the log is only forgotten.
    async fn recover(&self, rt: &Runtime) {
        let open = match self.core.with_store(|s| s.open_ceremonies()).await {
            Ok(open) => open,
            Err(e) => {
                tracing::error!(error = %e, "could not read the ceremony in progress before the restart");
                return;
            }
        };
        for c in open {
            let id = c.ceremony;
            match self.core.with_store(move |s| s.ceremony_ended(&id)).await {
                Ok(true) => {
                    let _ = self.core.with_store(move |s| s.forget_ceremony(&id)).await;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "could not read the log to end the ceremony in progress");
                    continue;
                }
            }
            let reason = AbortReason::Restarted { by: rt.keys.signing.trustee().clone() }.to_string();
            let peers: BTreeMap<PartyId, String> =
                c.peers.iter().filter_map(|(t, a)| PartyId::new(t).ok().map(|t| (t, a.clone()))).collect();
            let now = rt.now_ms();
            let joined = SignedMessage::from_bytes(&c.proposal).ok().and_then(|msg| {
                let epoch = msg.verify(&rt.keys.pins).ok().and_then(|m| match m.body {
                    escrow_crypto::dkg::messages::Body::Proposal(p) => Some(p.epoch),
                    _ => None,
                });
                Ceremony::join(self.setup(rt, epoch), &msg, false, now, &mut OsRng).ok()
            });
            let mut state = rt.state.lock().await;
            match joined {
                Some((mut machine, _proposed_again)) => {
                    // The Proposed step is in the log already; only the abort follows.
                    let out = machine.abandon_after_restart(now).unwrap_or_default();
                    tracing::warn!(ceremony = %hex::encode(id), "ended the ceremony in progress before the restart");
                    state.active = Some(Active::new(machine, peers));
                    self.apply(rt, &mut state, out).await;
                }
                None => {
                    // The proposal no longer verifies (the pins changed): log the end
                    // without telling anyone (there is no machine to sign the abort).
                    let entry = Entry {
                        time: self.core.clock.now(),
                        event: Event::Ceremony {
                            ceremony: id,
                            step: CeremonyStep::Aborted { reason: escrow_log::Text::lossy(&reason) },
                        },
                    };
                    match self.core.with_store(move |s| s.log(entry)).await {
                        Ok(_) => {
                            let _ = self.core.with_store(move |s| s.forget_ceremony(&id)).await;
                        }
                        Err(e) => tracing::error!(error = %e, "could not log the end of the ceremony in progress"),
                    }
                }
            }
        }
    }

    fn finish(&self, state: &mut State) {
        if let Some(a) = state.active.take() {
            state.finished.push_front(a);
            state.finished.truncate(HISTORY);
        }
    }

    /// Sends `msg` to every other participant, each in its own task with retries.
    fn broadcast(&self, rt: &Runtime, active: &Active, msg: SignedMessage) {
        let Some(creds) = rt.credentials.get().cloned() else { return };
        let me = active.machine.me().clone();
        #[cfg(feature = "tamper")]
        let cheat = rt.keys.misbehave.cheat_on.clone();
        let with_peers = active.machine.proposal_hash() == &msg.hash();
        let peers: Vec<pb::Participant> = if with_peers {
            active
                .peers
                .iter()
                .map(|(id, addr)| pb::Participant { trustee_id: id.to_string(), addr: addr.clone() })
                .collect()
        } else {
            Vec::new()
        };
        for p in active.machine.participants() {
            if p == &me {
                continue;
            }
            let Some(addr) = active.peers.get(p).cloned() else {
                tracing::warn!(peer = %p, "no address for a ceremony participant");
                continue;
            };
            #[cfg_attr(not(feature = "tamper"), allow(unused_mut))]
            let mut bytes = msg.as_bytes().to_vec();
            #[cfg(feature = "tamper")]
            if cheat.as_ref() == Some(p) {
                if let Some(bad) = cheat_deal(&rt.keys.signing, &msg, p, active) {
                    bytes = bad;
                }
            }
            let (creds, peers, peer) = (creds.clone(), peers.clone(), p.clone());
            tokio::spawn(async move {
                let first = Instant::now();
                let until = first + SEND_FOR;
                loop {
                    let waited_ms = u64::try_from(first.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let sent = match escrow_service::transport::ceremony_client(&addr, &creds) {
                        Ok(mut c) => {
                            let request =
                                pb::DeliverRequest { message: bytes.clone(), peers: peers.clone(), waited_ms };
                            // Bounded per attempt: one sent into a partition must not
                            // hold the message past the retries (and a message that
                            // arrives late without saying so).
                            match tokio::time::timeout(DELIVER_TIMEOUT, c.deliver(request)).await {
                                Ok(r) => r.map(|_| ()).map_err(|s| s.to_string()),
                                Err(_) => Err("timed out".to_string()),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    match sent {
                        Ok(()) => return,
                        Err(e) if Instant::now() > until => {
                            tracing::warn!(peer = %peer, error = %e, "gave up sending a ceremony message");
                            return;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            });
        }
    }

    async fn install(&self, rt: &Runtime, active: &mut Active, inst: Installation) -> Result<(), Status> {
        let Installation { announcement, share } = inst;
        let signed = announcement.signed().clone();
        let a = announcement.announcement().clone();
        let key_set = a.key_set.clone();
        let epoch = key_set.epoch();
        let sealed = share.as_ref().map(|s| rt.keys.seal_share(s)).transpose().map_err(internal)?;
        let key_set_hash: [u8; 32] = Sha256::digest(key_set.to_bytes()).into();
        let installed = self.step_entry(&active.machine, &Step::Installed { announcement: signed.hash() });
        let row = CeremonyKeyRow {
            epoch: epoch.0,
            generation: a.generation,
            key_set: key_set.to_bytes(),
            announcement: signed.to_bytes(),
            share: sealed,
            destroy_at: a.destroy_at,
            destroyed_at: None,
        };
        let index = share.as_ref().map(|s| s.index().0);
        let now = self.core.clock.now();
        self.core
            .with_store(move |s| s.install_ceremony_key(NewCeremonyKey { row, key_set_hash, index, installed }, now))
            .await?;
        let generation = a.generation;
        active.announcement = Some(signed.to_bytes());
        let stored = StoredAnnouncement { signed, body: a, destroyed: share.is_none() };
        self.core.install_epoch(share.map(|share| EpochKeys { public: key_set, share }), epoch, stored);
        active.steps.push(format!("installed epoch {} generation {generation}", epoch.0));
        tracing::info!(epoch = epoch.0, generation, "key set installed by ceremony");
        Ok(())
    }

    fn setup(&self, rt: &Runtime, proposal_epoch: Option<EpochId>) -> Setup {
        rt.keys.setup(proposal_epoch.and_then(|e| self.core.share_copy(e)))
    }

    fn ceremony_status(active: &Active) -> pb::CeremonyStatus {
        let m = &active.machine;
        pb::CeremonyStatus {
            ceremony_id: m.id().to_vec(),
            epoch: m.proposal().epoch.0,
            phase: phase_name(m.phase()).into(),
            proposer: m.proposer().to_string(),
            participants: m.participants().iter().map(ToString::to_string).collect(),
            steps: active.steps.clone(),
            announcement: active.announcement.clone().unwrap_or_default(),
            abort_reason: m.abort_reason().map(ToString::to_string).unwrap_or_default(),
            plan: match m.proposal().plan {
                Plan::Fresh => "fresh".into(),
                Plan::Reshare { .. } => "reshare".into(),
            },
            peers: active
                .peers
                .iter()
                .map(|(id, addr)| pb::Participant { trustee_id: id.to_string(), addr: addr.clone() })
                .collect(),
            trustee_id: m.me().to_string(),
        }
    }

    /// Runs `f` on the ceremony `id` names (empty: the active one), then applies its
    /// outputs; answers with the status.
    async fn with_active(
        &self,
        id: &[u8],
        f: impl FnOnce(&mut Ceremony, u64) -> Result<Vec<Output>, escrow_crypto::dkg::machine::CeremonyError>,
    ) -> Result<pb::CeremonyStatus, Status> {
        let rt = self.runtime()?;
        let mut state = rt.state.lock().await;
        let now = rt.now_ms();
        let active = state.active.as_mut().ok_or_else(|| Status::not_found("no ceremony in progress here"))?;
        if !id.is_empty() && active.machine.id().as_slice() != id {
            return Err(Status::not_found(format!("ceremony {} is not the one in progress", hex::encode(id))));
        }
        let out = f(&mut active.machine, now).map_err(|e| Status::failed_precondition(e.to_string()))?;
        let status = Self::ceremony_status(active);
        self.apply(rt, &mut state, out).await;
        Ok(Self::current_status(&state, &status.ceremony_id).unwrap_or(status))
    }

    fn current_status(state: &State, id: &[u8]) -> Option<pb::CeremonyStatus> {
        state
            .active
            .iter()
            .chain(state.finished.iter())
            .find(|a| id.is_empty() || a.machine.id().as_slice() == id)
            .map(Self::ceremony_status)
    }
}

/// The cheating dealer of the demo: its dealing to `victim`, with the victim's share
/// replaced by one that does not decrypt (the commitment and every other share stay).
#[cfg(feature = "tamper")]
fn cheat_deal(key: &TrusteeSigningKey, msg: &SignedMessage, victim: &PartyId, active: &Active) -> Option<Vec<u8>> {
    use escrow_crypto::dkg::math::{encrypt_share, CeremonyKey, Dealing};
    use escrow_crypto::dkg::messages::Body;
    let pins = TrusteePins::new(vec![key.public()]).ok()?;
    let m = msg.verify(&pins).ok()?;
    let Body::Deal { proposal, commitment, mut shares } = m.body else { return None };
    let j = active.machine.proposal().players.iter().position(|p| p == victim)?;
    let junk = Dealing::fresh(commitment.threshold(), &mut OsRng).ok()?.share_for(escrow_crypto::TrusteeIndex(0));
    *shares.get_mut(j)? = encrypt_share(&CeremonyKey::generate(&mut OsRng).public(), b"junk", &junk, &mut OsRng);
    let bad = SignedMessage::sign(key, &m.ceremony, &Body::Deal { proposal, commitment, shares }).ok()?;
    tracing::warn!(victim = %victim, "dangerous: sent a share that does not decrypt");
    Some(bad.as_bytes().to_vec())
}

#[cfg(test)]
mod tests;
