//! A real deployment in one test process: n trustee servers and a relay, each on its
//! own `127.0.0.1:0` port with its own SQLite file, sharing a clock the test moves.
#![allow(missing_docs, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use escrow_crypto::*;
use escrow_proto::v1 as pb;
use escrow_service::clock::ManualClock;
use escrow_trustee::policy::Policy;
use escrow_trustee::store::Store;
use escrow_trustee::{EpochKeys, TrusteeService};
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub mod byzantine;

pub const DAY: u64 = 86_400;
/// 2026-01-01T00:00:00Z.
pub const START: u64 = 1_767_225_600;
pub const N: u16 = 5;
pub const T: u16 = 2;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// A server task with a way to stop it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }
}

#[derive(Debug)]
pub struct TrusteeNode {
    pub dir: PathBuf,
    pub policy: String,
    pub server: Running,
}

#[derive(Debug)]
pub struct Deployment {
    pub clock: ManualClock,
    pub keys: DealerOutput,
    pub court: CourtSecretKey,
    pub trustees: Vec<TrusteeNode>,
    pub relay: Running,
    pub relay_dir: PathBuf,
    pub users: Vec<UserSecretKey>,
    pub _dir: tempfile::TempDir,
}

/// A test policy; `extra` is appended, and replaces the default quota table if it
/// brings its own `[agency_quota]`.
pub fn policy_text(i: u16, court: &CourtPublicKey, extra: &str) -> String {
    let quotas = if extra.contains("[agency_quota]") { "" } else { "[agency_quota]\nagency-1 = 100000\n" };
    format!(
        "trustee_id = \"trustee-{i}\"\napproval = \"operator\"\ntrusted_courts = [\"{}\"]\n\
         max_window_secs = 604800\nmax_fields_per_warrant = 1000\nmax_items_per_request = 500\n{extra}\n{quotas}",
        hex::encode(court.to_bytes())
    )
}

/// The checkpoint key of trustee `i` (deterministic, so a restarted trustee keeps it).
pub fn log_signer(i: u16) -> escrow_log::CheckpointSigner {
    escrow_log::CheckpointSigner::generate(&format!("trustee-{i}"), &mut rng(1000 + u64::from(i))).unwrap()
}

/// The log origin of trustee `i`.
pub fn origin(i: u16) -> String {
    format!("escrow-trustee/trustee-{i}")
}

pub async fn start_trustee(
    dir: &std::path::Path,
    policy: &str,
    keys: &DealerOutput,
    i: u16,
    clock: &ManualClock,
) -> Running {
    let policy = Policy::from_toml(policy).unwrap();
    let share = TrusteeKeyShare::from_bytes(&keys.shares[usize::from(i)].to_bytes()).unwrap();
    let store = Store::open(dir, &origin(i), log_signer(i)).unwrap();
    let svc = TrusteeService::new(
        policy,
        vec![EpochKeys { public: keys.public.clone(), share }],
        store,
        Arc::new(clock.clone()),
    )
    .unwrap();
    serve_with(|l, s| async move { escrow_trustee::serve(l, svc, s).await.unwrap() }).await
}

pub async fn start_relay(
    dir: &std::path::Path,
    keys: &DealerOutput,
    court: &CourtPublicKey,
    clock: &ManualClock,
) -> Running {
    let cfg = escrow_relay::RelayConfig::new(dir, keys.public.clone(), vec![court.clone()], Arc::new(clock.clone()));
    let svc = escrow_relay::RelayService::open(cfg).unwrap();
    serve_with(|l, s| async move { escrow_relay::serve(l, svc, s).await.unwrap() }).await
}

/// Binds 127.0.0.1:0, runs `f(listener, shutdown)` in a task, returns the bound address.
pub async fn serve_with<F, Fut>(f: F) -> Running
where
    F: FnOnce(tokio::net::TcpListener, std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = Box::pin(async move {
        let _ = rx.await;
    });
    let handle = tokio::spawn(f(listener, shutdown));
    Running { addr, shutdown: Some(tx), handle: Some(handle) }
}

impl Deployment {
    pub async fn start(seed: u64, extra_policy: impl Fn(u16) -> String) -> Self {
        let mut r = rng(seed);
        let dir = tempfile::tempdir().unwrap();
        let keys = dealer_keygen(EpochId(1), T, N, &mut r).unwrap();
        let court = CourtSecretKey::generate(id("high-court"), &mut r);
        let clock = ManualClock::at(START);
        let mut trustees = Vec::new();
        for i in 0..N {
            let tdir = dir.path().join(format!("trustee-{i}"));
            std::fs::create_dir_all(&tdir).unwrap();
            let policy = policy_text(i, &court.public(), &extra_policy(i));
            let server = start_trustee(&tdir, &policy, &keys, i, &clock).await;
            trustees.push(TrusteeNode { dir: tdir, policy, server });
        }
        let relay_dir = dir.path().join("relay");
        let relay = start_relay(&relay_dir, &keys, &court.public(), &clock).await;
        let users = ["alice", "bob", "carol", "dave", "mallory"]
            .iter()
            .map(|u| UserSecretKey::generate(id(u), &mut r))
            .collect::<Vec<_>>();
        let d = Deployment { clock, keys, court, trustees, relay, relay_dir, users, _dir: dir };
        for u in &d.users {
            d.relay_client()
                .register_user(pb::RegisterUserRequest { user_public_key: u.public().to_bytes() })
                .await
                .unwrap();
        }
        d
    }

    pub fn user(&self, name: &str) -> &UserSecretKey {
        self.users.iter().find(|u| u.id().as_str() == name).unwrap()
    }

    pub fn relay_client(&self) -> RelayClient<Channel> {
        RelayClient::new(escrow_service::transport::channel(&self.relay.addr.to_string()).unwrap())
            .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
    }

    pub fn trustee_client(&self, i: usize) -> TrusteeClient<Channel> {
        TrusteeClient::new(escrow_service::transport::channel(&self.trustees[i].server.addr.to_string()).unwrap())
            .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
            .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
    }

    pub fn trustee_addrs(&self) -> Vec<String> {
        self.trustees.iter().map(|t| t.server.addr.to_string()).collect()
    }

    /// Seals and sends a message at simulated time `ts` (the clock moves there).
    pub async fn send(&self, seed: u64, from: &str, to: &[&str], ts: u64, text: &str) -> Envelope {
        self.clock.set(ts);
        let recipients: Vec<UserPublicKey> = to.iter().map(|u| self.user(u).public()).collect();
        let mut message_id = [0u8; 16];
        message_id[..8].copy_from_slice(&seed.to_be_bytes());
        let env = Envelope::seal(
            &SealRequest {
                sender: self.user(from),
                recipients: &recipients,
                epoch_key: &self.keys.public,
                message_id,
                timestamp: ts,
                plaintext: text.as_bytes(),
            },
            &mut rng(seed),
        )
        .unwrap();
        self.relay_client().send(pb::SendRequest { envelope: env.as_bytes().to_vec() }).await.unwrap();
        env
    }

    /// A warrant of the test court for `targets` over `[from, to)`, valid 30 days from now.
    pub fn warrant(&self, wid: u8, targets: &[&str], from: u64, to: u64) -> Vec<u8> {
        let now = self.clock.now_secs();
        self.court
            .sign(&WarrantBody {
                id: WarrantId([wid; 16]),
                case_reference: format!("TEST/{wid}"),
                court: id("high-court"),
                agency: id("agency-1"),
                targets: targets.iter().map(|t| id(t)).collect(),
                window: TimeWindow::new(from, to).unwrap(),
                issued_at: now,
                valid_until: now + 30 * DAY,
                legal_basis: "test".into(),
                notification_delay_secs: 90 * DAY,
            })
            .unwrap()
    }

    pub async fn submit_everywhere(&self, warrant: &[u8]) {
        for i in 0..self.trustees.len() {
            self.trustee_client(i)
                .submit_warrant(pb::SubmitWarrantRequest { warrant: warrant.to_vec() })
                .await
                .unwrap();
        }
    }

    pub async fn approve(&self, which: &[usize], wid: u8) {
        for &i in which {
            self.trustee_client(i)
                .approve_warrant(pb::DecideWarrantRequest {
                    warrant_id: vec![wid; 16],
                    operator: format!("operator-{i}"),
                    reason: "lawful and proportionate".into(),
                })
                .await
                .unwrap();
        }
    }

    pub async fn status(&self, i: usize, wid: u8) -> pb::WarrantStatus {
        self.trustee_client(i)
            .get_warrant(pb::GetWarrantRequest { warrant_id: vec![wid; 16] })
            .await
            .unwrap()
            .into_inner()
    }
}

/// Reads a ManualClock's time (the trait method, without importing it everywhere).
pub trait NowSecs {
    fn now_secs(&self) -> u64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> u64 {
        escrow_service::clock::Clock::now(self)
    }
}
