//! A real deployment in one test process: n trustee servers and a relay, each on its
//! own `127.0.0.1:0` port with its own SQLite file, sharing a clock the test moves.
#![allow(missing_docs, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use escrow_crypto::*;
use escrow_pki::{Ca, Identity, Role, Validity};
use escrow_proto::v1 as pb;
use escrow_service::clock::ManualClock;
use escrow_service::transport::Credentials;
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

/// The CA of every deployment in this test binary.
pub fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::generate("tests", validity()).unwrap())
}

pub fn validity() -> Validity {
    Validity::days_from(std::time::SystemTime::now(), 2)
}

/// Credentials for `identity` from [`ca`], issued once per test binary.
pub fn creds_for(identity: Identity) -> Credentials {
    static CACHE: OnceLock<Mutex<HashMap<Identity, Credentials>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap();
    map.entry(identity.clone()).or_insert_with(|| Credentials::issue(ca(), &identity, validity()).unwrap()).clone()
}

/// Credentials of a party of `role` (not an operator) with id `party`.
pub fn creds(role: Role, party: &str) -> Credentials {
    creds_for(Identity::new(role, id(party)).unwrap())
}

/// The credentials of operator `op-<i>` of trustee `trustee-<i>`.
pub fn operator_creds(i: usize) -> Credentials {
    creds_for(Identity::operator(id(&format!("trustee-{i}")), id(&format!("op-{i}"))))
}

/// The agency of the test warrants.
pub fn agency_creds() -> Credentials {
    creds(Role::Agency, "agency-1")
}

/// The auditor.
pub fn auditor_creds() -> Credentials {
    creds(Role::Auditor, "auditor-1")
}

/// A trustee client for `addr` presenting `creds`.
pub fn trustee_client_at(addr: &str, creds: &Credentials) -> TrusteeClient<Channel> {
    escrow_service::transport::trustee_client(addr, creds).unwrap()
}

/// A relay client for `addr` presenting `creds`.
pub fn relay_client_at(addr: &str, creds: &Credentials) -> RelayClient<Channel> {
    escrow_service::transport::relay_client(addr, creds).unwrap()
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
    escrow_trustee::log_origin(&id(&format!("trustee-{i}")))
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
    let me = creds(Role::Trustee, &format!("trustee-{i}"));
    serve_with(|l, s| async move { escrow_trustee::serve(l, svc, &me, s).await.unwrap() }).await
}

pub async fn start_relay(
    dir: &std::path::Path,
    keys: &DealerOutput,
    court: &CourtPublicKey,
    clock: &ManualClock,
) -> Running {
    let cfg = escrow_relay::RelayConfig::new(dir, keys.public.clone(), vec![court.clone()], Arc::new(clock.clone()));
    let svc = escrow_relay::RelayService::open(cfg).unwrap();
    let me = creds(Role::Relay, "relay");
    serve_with(|l, s| async move { escrow_relay::serve(l, svc, &me, s).await.unwrap() }).await
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
            d.relay_client_as(u.id().as_str())
                .register_user(pb::RegisterUserRequest { user_public_key: u.public().to_bytes() })
                .await
                .unwrap();
        }
        d
    }

    pub fn user(&self, name: &str) -> &UserSecretKey {
        self.users.iter().find(|u| u.id().as_str() == name).unwrap()
    }

    /// The relay as user `user`.
    pub fn relay_client_as(&self, user: &str) -> RelayClient<Channel> {
        relay_client_at(&self.relay.addr.to_string(), &creds(Role::User, user))
    }

    /// Trustee `i` as the agency (`agency-1`), which the test warrants name.
    pub fn trustee_client(&self, i: usize) -> TrusteeClient<Channel> {
        trustee_client_at(&self.trustees[i].server.addr.to_string(), &agency_creds())
    }

    /// Trustee `i` as its own operator.
    pub fn operator_client(&self, i: usize) -> TrusteeClient<Channel> {
        trustee_client_at(&self.trustees[i].server.addr.to_string(), &operator_creds(i))
    }

    /// Trustee `i`'s audit service as the auditor.
    pub fn audit_client(&self, i: usize) -> pb::audit_client::AuditClient<Channel> {
        escrow_service::transport::audit_client(&self.trustees[i].server.addr.to_string(), &auditor_creds()).unwrap()
    }

    /// The agency's client library, connected to everything.
    pub async fn agency(&self) -> escrow_agency::Agency {
        escrow_agency::Agency::connect(&self.relay.addr.to_string(), &self.trustee_addrs(), &agency_creds())
            .await
            .unwrap()
    }

    pub fn trustee_addrs(&self) -> Vec<String> {
        self.trustees.iter().map(|t| t.server.addr.to_string()).collect()
    }

    /// `user`'s client library, with the deployment's epoch key pinned.
    pub fn user_client(&self, user: &str) -> escrow_user::UserClient {
        let mut c = escrow_user::UserClient::connect(&self.relay.addr.to_string(), &creds(Role::User, user)).unwrap();
        c.pin(self.keys.public.clone());
        c
    }

    /// Seals and sends a message at simulated time `ts` (the clock moves there), as a
    /// user's client does; deterministic for a given `seed`.
    pub async fn send(&self, seed: u64, from: &str, to: &[&str], ts: u64, text: &str) -> Envelope {
        self.clock.set(ts);
        let to: Vec<PartyId> = to.iter().map(|u| id(u)).collect();
        self.user_client(from).send(self.user(from), &to, text.as_bytes(), ts, &mut rng(seed)).await.unwrap().envelope
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
        let clients = (0..self.trustees.len()).map(|i| (format!("trustee-{i}"), self.trustee_client(i)));
        for (who, r) in escrow_agency::submit_to_every_trustee(clients, warrant).await {
            r.unwrap_or_else(|s| panic!("{who}: {s:?}"));
        }
    }

    pub async fn approve(&self, which: &[usize], wid: u8) {
        for &i in which {
            self.operator_client(i)
                .approve_warrant(pb::DecideWarrantRequest {
                    warrant_id: vec![wid; 16],
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
