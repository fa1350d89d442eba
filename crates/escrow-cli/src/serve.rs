//! `escrow trustee serve` and `escrow relay serve`: long-running services that stop
//! cleanly on SIGINT/SIGTERM (in-flight requests finish).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use escrow_crypto::{EpochPublicKey, TrusteeKeyShare};
use escrow_trustee::policy::Policy;
use escrow_trustee::store::Store;
use escrow_trustee::{EpochKeys, Trustee};

use crate::files::read_hex_as;
use crate::keys::load_court_pub;
use crate::CliError;

/// Where to listen and where to report the bound address.
#[derive(Args, Debug, Clone)]
pub struct ListenArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Write the bound address here once listening (for supervisors and the demo).
    #[arg(long)]
    pub addr_file: Option<PathBuf>,
    /// Demo/test only: read "now" from this file instead of the system clock.
    #[arg(long, hide = true)]
    pub clock_file: Option<PathBuf>,
    /// Also serve Prometheus metrics over plain HTTP (`GET /metrics`) on this address;
    /// counts only, no TLS: bind it to a monitoring network.
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Write the metrics endpoint's bound address here once listening.
    #[arg(long, requires = "metrics_listen")]
    pub metrics_addr_file: Option<PathBuf>,
}

/// The bound listening sockets of a server: its own and, with `--metrics-listen`,
/// the metrics endpoint's. Both are taken before anything is written.
pub(crate) struct Listeners {
    pub(crate) main: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
}

impl Listeners {
    /// Writes the bound addresses to `--addr-file` and `--metrics-addr-file`.
    pub(crate) fn announce(&self, l: &ListenArgs) -> Result<(), CliError> {
        if let (Some(m), Some(f)) = (&self.metrics, &l.metrics_addr_file) {
            let addr = m.local_addr().map_err(|e| CliError::Start { what: "metrics", reason: e.to_string() })?;
            write_addr(f, &addr.to_string())?;
            tracing::info!(%addr, "metrics at http://{addr}/metrics");
        }
        announce(l, &self.main)
    }

    /// Runs `main` to its end, with the metrics endpoint `metrics` serves (if one was
    /// asked for) beside it; the endpoint stops with it, releasing what it holds.
    pub(crate) async fn run<M, MF, F, T>(self, metrics: M, main: impl FnOnce(tokio::net::TcpListener) -> F) -> T
    where
        M: FnOnce(tokio::net::TcpListener) -> MF,
        MF: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
        F: std::future::Future<Output = T>,
    {
        let endpoint = self.metrics.map(|l| {
            let served = metrics(l);
            tokio::spawn(async move {
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "the metrics endpoint failed");
                }
            })
        });
        let out = main(self.main).await;
        if let Some(task) = endpoint {
            task.abort();
            let _ = task.await;
        }
        out
    }
}

/// Binds the server's socket and, with `--metrics-listen`, the metrics endpoint's.
pub(crate) async fn bind_all(l: &ListenArgs) -> Result<Listeners, CliError> {
    let main = bind(l).await?;
    let metrics = match &l.metrics_listen {
        None => None,
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Start { what: "metrics", reason: format!("cannot listen on {addr}: {e}") })?,
        ),
    };
    Ok(Listeners { main, metrics })
}

pub(crate) fn write_addr(f: &std::path::Path, addr: &str) -> Result<(), CliError> {
    crate::files::write_whole(f, addr.as_bytes())
}

#[derive(Args, Debug)]
pub struct TrusteeServeArgs {
    /// Directory for trustee.db.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Policy file (TOML; see docs/operators.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Epoch public key file (hex), one per dealt epoch held (weak mode: key sets
    /// made by a key ceremony are kept in the data directory instead).
    #[arg(long = "epoch-key")]
    pub epoch_keys: Vec<PathBuf>,
    /// Sealed key share file, one per --epoch-key, same order.
    #[arg(long = "key-share")]
    pub key_shares: Vec<PathBuf>,
    /// Sealed Ed25519 key that signs this trustee's log checkpoints; created on first
    /// start if missing (default: <data-dir>/log.key).
    #[arg(long)]
    pub log_key: Option<PathBuf>,
    /// Sealed trustee signing key (key ceremonies and epoch announcements; default: the
    /// profile's `signing_key`). Needs the trustee pins (the federation's). Without
    /// one, the trustee takes no part in key ceremonies.
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// Demo builds only: the adversary flags of the demo's ceremony scenarios.
    #[cfg(feature = "demo")]
    #[command(flatten)]
    pub misbehave: MisbehaveArgs,
    /// Witness policy (C2SP tlog-policy: every trustee's log key, the witnesses with
    /// their URLs, the quorum). With it the trustee publishes its checkpoints to the
    /// witnesses and releases shares only under an approval they have witnessed.
    #[arg(long)]
    pub witness_policy: Option<PathBuf>,
    /// Milliseconds between publications to the witnesses (the batching interval).
    #[arg(long, default_value_t = 1000, requires = "witness_policy")]
    pub witness_interval_ms: u64,
    /// Longest a share request waits for its approval to be witnessed, milliseconds.
    #[arg(long, default_value_t = 10_000, requires = "witness_policy")]
    pub release_wait_ms: u64,
    #[command(flatten)]
    pub listen: ListenArgs,
}

#[derive(Args, Debug)]
pub struct LogKeyArgs {
    /// The trustee's data directory (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The trustee's id, as its policy's `trustee_id`.
    #[arg(long)]
    pub id: String,
    /// The sealed log key (default: <data-dir>/log.key, as `trustee serve` reads it).
    #[arg(long)]
    pub log_key: Option<PathBuf>,
    /// Print the witness-config `[[log]]` entry (origin and vkey) instead of the
    /// policy's `log` line.
    #[arg(long)]
    pub witness_config: bool,
}

/// `escrow trustee log-key`: the log key `trustee serve` will sign with, made now if
/// there is none, printed as a policy line or a witness-config entry.
pub fn log_key(a: &LogKeyArgs, secret: &crate::files::SecretArgs) -> Result<(), CliError> {
    let id = escrow_crypto::PartyId::new(&a.id).map_err(|e| CliError::Usage(format!("--id: {e}")))?;
    let origin = escrow_trustee::log_origin(&id);
    let path = a.log_key.clone().unwrap_or_else(|| a.data_dir.join("log.key"));
    let signer = if path.exists() {
        let signer = secret.read_sealed_as(&path, escrow_log::CheckpointSigner::from_bytes)?;
        if signer.name() != origin && signer.name() != id.as_str() {
            return Err(CliError::bad_file(
                &path,
                format!("this log key signs as {:?}, not as {origin:?}", signer.name()),
            ));
        }
        signer
    } else {
        let signer = escrow_log::CheckpointSigner::generate(&origin, &mut rand::rngs::OsRng)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        std::fs::create_dir_all(&a.data_dir).map_err(|e| CliError::io(&a.data_dir, e))?;
        secret.write_sealed(&path, &signer.to_bytes())?;
        signer
    };
    if a.witness_config {
        print!("{}", escrow_witness::config::render(&[(origin, signer.verifier())]));
    } else {
        println!("log {}", signer.verifier());
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct RelayServeArgs {
    /// Directory for relay.db.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The current epoch's signed announcement (hex, from `escrow epoch fetch`): it is
    /// verified under the trustee keys the federation pins and served
    /// with the key, so that clients need not take the key on the relay's word.
    #[arg(long, conflicts_with = "epoch_key")]
    pub announcement: Option<PathBuf>,
    /// Weak mode: a bare (dealt) epoch public key file (hex), served without an
    /// announcement; clients with pinned trustee keys refuse it.
    #[arg(long, required_unless_present = "announcement")]
    pub epoch_key: Option<PathBuf>,
    /// Trusted court public key file (hex); repeat for several.
    #[arg(long = "court-key")]
    pub court_keys: Vec<PathBuf>,
    #[command(flatten)]
    pub domains: crate::domains::DomainArgs,
    /// Largest accepted difference between a message's timestamp and now, seconds.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_MAX_CLOCK_SKEW_SECS)]
    pub max_skew_secs: u64,
    /// Sustained requests per second per caller certificate.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_RATE_LIMIT.per_second)]
    pub rate_limit_per_second: f64,
    /// Requests a caller certificate may make at once after being idle.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_RATE_LIMIT.burst)]
    pub rate_limit_burst: u32,
    /// Most sends stored in one transaction (group commit: one fsync for all, each
    /// acknowledged after it). 1 checks and commits each message alone, as before
    /// group commit: the ingest benchmark's baseline.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_MAX_BATCH as u32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_batch: u32,
    /// Most sends waiting for the committer; beyond it, RESOURCE_EXHAUSTED with a
    /// retry-after.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_QUEUE as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ingest_queue: u32,
    #[command(flatten)]
    pub listen: ListenArgs,
}

impl RelayServeArgs {
    /// How the relay commits, from `--max-batch` and `--ingest-queue`.
    pub fn commit(&self) -> escrow_relay::Commit {
        match self.max_batch {
            1 => escrow_relay::Commit::EachAlone,
            n => escrow_relay::Commit::Grouped { max_batch: n as usize, queue: self.ingest_queue as usize },
        }
    }
}

/// Binds the listening socket (a start-up precondition: it is taken before anything is
/// created or written, so a busy port leaves no state behind).
pub(crate) async fn bind(l: &ListenArgs) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(&l.listen)
        .await
        .map_err(|e| CliError::Start { what: "server", reason: format!("cannot listen on {}: {e}", l.listen) })
}

/// Writes the bound address to `--addr-file` once the service is ready to serve, so
/// that supervisors never see an address for a start that fails.
pub(crate) fn announce(l: &ListenArgs, listener: &tokio::net::TcpListener) -> Result<(), CliError> {
    let addr = listener.local_addr().map_err(|e| CliError::Start { what: "server", reason: e.to_string() })?;
    if let Some(f) = &l.addr_file {
        write_addr(f, &addr.to_string())?;
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}

/// Starts a trustee. Every precondition — the policy, the certificate naming this
/// trustee, each share matching its epoch key and the policy's `key_index`, the log
/// key naming this trustee, the port, the data directory's lock, and what the
/// directory's log installed before — is checked before anything is created or
/// written, so a refused start leaves no state that a later start could reuse.
pub async fn trustee(a: TrusteeServeArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let secret = &ctx.secret;
    if a.epoch_keys.len() != a.key_shares.len() {
        return Err(CliError::Usage("give one --key-share per --epoch-key".into()));
    }
    if a.epoch_keys.is_empty() && a.signing_key.is_none() && ctx.tls.signing_key()?.is_none() {
        return Err(CliError::Usage(
            "a trustee needs --epoch-key/--key-share (dealt keys) or a signing key (key ceremonies)".into(),
        ));
    }
    let text = std::fs::read_to_string(&a.policy).map_err(|e| CliError::io(&a.policy, e))?;
    let policy =
        Policy::from_toml(&text).map_err(|e| CliError::trustee_start(format!("{}: {e}", a.policy.display())))?;
    let credentials = ctx.credentials()?;
    let mut epochs = Vec::new();
    for (k, s) in a.epoch_keys.iter().zip(&a.key_shares) {
        let public = read_hex_as(k, EpochPublicKey::from_bytes)?;
        let share = secret.read_sealed_as(s, TrusteeKeyShare::from_bytes)?;
        epochs.push(EpochKeys { public, share });
    }
    let log_key = a.log_key.clone().unwrap_or_else(|| a.data_dir.join("log.key"));
    let origin = escrow_trustee::log_origin(&policy.trustee_id);
    let (signer, generated) = if log_key.exists() {
        // Keys are named by the log's origin (C2SP tlog-policy); keys made before
        // witnesses existed are named by the trustee id and still sign (checked with
        // the rest of the config below).
        (secret.read_sealed_as(&log_key, escrow_log::CheckpointSigner::from_bytes)?, false)
    } else {
        let signer =
            escrow_log::CheckpointSigner::generate(&origin, &mut rand::rngs::OsRng).map_err(CliError::trustee_start)?;
        (signer, true)
    };
    let witnesses = match &a.witness_policy {
        None => None,
        Some(path) => {
            let wp = crate::files::read_witness_policy(path)?;
            let config = escrow_trustee::witnessing::WitnessConfig::new(
                wp,
                &origin,
                &signer.verifier().to_string(),
                Some(credentials.trust()),
                std::time::Duration::from_millis(a.witness_interval_ms.max(1)),
                std::time::Duration::from_millis(a.release_wait_ms),
            )
            .map_err(|e| CliError::bad_file(path, e))?;
            Some(config)
        }
    };
    let (ceremony, signing_path, fresh_seal) = match ceremony_keys(&a, policy.auto_accept_ceremonies, ctx)? {
        Some((keys, path, fresh)) => {
            let seal = fresh.then(|| keys.seal.to_bytes());
            (Some(keys), Some(path), seal)
        }
        None => (None, None, None),
    };
    if let Some(w) = &witnesses {
        tracing::info!(witnesses = %w.describe(), "publishing checkpoints to witnesses");
    }
    // Every check that needs no database, in the one place the kit uses too; the
    // errors about a key name its file.
    let config = escrow_trustee::TrusteeConfig { policy, epochs, ceremony, witnesses };
    let config = config.check(&credentials, &signer).map_err(|e| {
        let file = match &e {
            escrow_trustee::StartError::WrongLogKey { .. } => Some(log_key.clone()),
            escrow_trustee::StartError::WrongSigningKey { .. }
            | escrow_trustee::StartError::SigningKeyNotPinned { .. } => signing_path.clone(),
            _ => None,
        };
        match file {
            Some(f) => CliError::trustee_start(format!("{}: {e}", f.display())),
            None => CliError::trustee_start(e),
        }
    })?;
    let listeners = bind_all(&a.listen).await?;
    // From here on, state is created: the directory, its lock, the database.
    std::fs::create_dir_all(&a.data_dir).map_err(|e| CliError::io(&a.data_dir, e))?;
    let (signer_bytes, verifier) = (signer.to_bytes(), signer.verifier());
    let store = Store::open(&a.data_dir, &origin, signer).map_err(CliError::trustee_start)?;
    if generated {
        secret.write_sealed(&log_key, &signer_bytes)?;
        tracing::info!(key = %log_key.display(), %verifier, "generated the log checkpoint key");
    }
    let clock = escrow_service::clock::from_option(a.listen.clock_file.clone());
    let seal_path = a.data_dir.join(SEAL_KEY_FILE);
    let svc = Trustee::start_checked(config, store, clock).map_err(|e| match e {
        // The service knows no paths: name the two files that do not go together.
        escrow_trustee::StartError::CeremonyShareSeal { epoch } => CliError::trustee_start(format!(
            "ceremony epoch {epoch}: the share stored in {} does not open with the sealing key {} (decryption \
                 failed): {}",
            a.data_dir.join(escrow_trustee::store::DB_FILE).display(),
            seal_path.display(),
            if fresh_seal.is_some() {
                "the sealing key file is missing; restore the one made with this database"
            } else {
                "the two files do not belong together; restore the sealing key made with this database"
            }
        )),
        e => CliError::trustee_start(e),
    })?;
    if let Some(seal) = fresh_seal {
        // First start with ceremonies: the new sealing key is written now that the
        // start has gone ahead (a refused start leaves no key that seals nothing).
        secret.write_sealed(&seal_path, seal.as_slice())?;
        tracing::info!(key = %seal_path.display(), "made the data directory's sealing key");
    }
    listeners.announce(&a.listen)?;
    tracing::info!(trustee = %svc.trustee_id(), addr = %listeners.main.local_addr().map(|a| a.to_string()).unwrap_or_default(), "trustee serving");
    let for_metrics = svc.clone();
    listeners
        .run(
            |l| escrow_trustee::serve_metrics(l, for_metrics, std::future::pending()),
            |l| escrow_trustee::serve(l, svc, &credentials, shutdown_signal()),
        )
        .await
        .map_err(CliError::trustee_start)
}

/// Demo builds only (feature `demo`, off with `--no-default-features`, as the image,
/// systemd and Kubernetes binaries are built): how a demo trustee cheats in ceremonies.
#[cfg(feature = "demo")]
#[derive(Args, Debug, Default)]
pub struct MisbehaveArgs {
    /// As a dealer in a key ceremony, send this trustee a share that does not decrypt.
    #[arg(long, hide = true, value_name = "TRUSTEE")]
    pub dangerous_cheat_dealing_to: Option<String>,
    /// Never sign a key ceremony's agreement.
    #[arg(long, hide = true)]
    pub dangerous_withhold_agreement: bool,
}

#[cfg(feature = "demo")]
impl MisbehaveArgs {
    fn any(&self) -> bool {
        self.dangerous_cheat_dealing_to.is_some() || self.dangerous_withhold_agreement
    }

    fn misbehaviour(&self) -> Result<escrow_trustee::ceremony::Misbehaviour, CliError> {
        let cheat_on = self
            .dangerous_cheat_dealing_to
            .as_deref()
            .map(escrow_crypto::PartyId::new)
            .transpose()
            .map_err(|e| CliError::Usage(format!("--dangerous-cheat-dealing-to: {e}")))?;
        Ok(escrow_trustee::ceremony::Misbehaviour { cheat_on, withhold_agreement: self.dangerous_withhold_agreement })
    }
}

/// The ceremony keys a trustee starts with, read before anything is written: the
/// signing key (flag or profile), the trustee keys the federation pins, and the data
/// directory's sealing key, if there is one (it must open). Whether the signing key
/// signs for this trustee and is the one pinned for it is
/// [`escrow_trustee::TrusteeConfig::check`]'s. Also returns the signing key's file (to
/// name it in an error), and true when no sealing key exists yet: the keys carry a
/// fresh one, which the caller writes once the start goes ahead.
fn ceremony_keys(
    a: &TrusteeServeArgs,
    auto_accept: bool,
    ctx: &crate::Ctx,
) -> Result<Option<(escrow_trustee::ceremony::CeremonyKeys, std::path::PathBuf, bool)>, CliError> {
    let Some(path) = a.signing_key.clone().or(ctx.tls.signing_key()?) else {
        #[cfg(feature = "demo")]
        if a.misbehave.any() {
            return Err(CliError::Usage("the dangerous ceremony flags need a signing key".into()));
        }
        return Ok(None);
    };
    let signing = ctx.secret.read_sealed_as(&path, escrow_crypto::TrusteeSigningKey::from_bytes)?;
    let pins = ctx.tls.pins()?.ok_or_else(|| {
        CliError::Usage(
            "a trustee with a signing key needs the pinned trustee keys: a federation (--federation or the profile's) that pins them".into(),
        )
    })?;
    #[cfg(feature = "demo")]
    let misbehave = a.misbehave.misbehaviour()?;
    let seal_path = a.data_dir.join(SEAL_KEY_FILE);
    let (seal, fresh) = if seal_path.exists() {
        let bytes = ctx.secret.read_sealed(&seal_path)?;
        let arr: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| CliError::bad_file(&seal_path, "not a 32-byte sealing key"))?;
        (escrow_trustee::ceremony::SealKey::from_bytes(&arr), false)
    } else {
        (escrow_trustee::ceremony::SealKey::generate(), true)
    };
    let keys = escrow_trustee::ceremony::CeremonyKeys {
        signing,
        pins,
        seal,
        auto_accept,
        #[cfg(feature = "demo")]
        misbehave,
    };
    Ok(Some((keys, path, fresh)))
}

/// The data directory's sealing key file: the key that seals ceremony shares in
/// trustee.db, itself sealed under the operator's passphrase.
pub const SEAL_KEY_FILE: &str = "seal.key";

/// Starts the relay; like the trustee, every precondition before anything is written.
pub async fn relay(a: RelayServeArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let credentials = ctx.credentials()?;
    escrow_relay::check_certificate(&credentials).map_err(CliError::relay_start)?;
    let courts = a.court_keys.iter().map(|p| load_court_pub(p)).collect::<Result<Vec<_>, _>>()?;
    let jurisdictions = a.domains.jurisdictions()?;
    let clock: Arc<dyn escrow_service::clock::Clock> = escrow_service::clock::from_option(a.listen.clock_file.clone());
    let mut cfg = match (&a.announcement, &a.epoch_key) {
        (Some(path), _) => {
            let pins = ctx.tls.pins()?.ok_or_else(|| {
                CliError::Usage("--announcement needs the pinned trustee keys: a federation (--federation or the profile's) that pins them".into())
            })?;
            let signed = read_hex_as(path, escrow_crypto::SignedAnnouncement::from_bytes)?;
            let verified = signed.verify(&pins).map_err(|e| CliError::bad_file(path, e))?;
            escrow_relay::RelayConfig::announced(&a.data_dir, verified, courts, clock)
        }
        (None, Some(path)) => {
            let epoch_key = read_hex_as(path, EpochPublicKey::from_bytes)?;
            escrow_relay::RelayConfig::new(&a.data_dir, epoch_key, courts, clock)
        }
        (None, None) => return Err(CliError::Usage("give --announcement (or, weak mode, --epoch-key)".into())),
    };
    cfg.max_clock_skew_secs = a.max_skew_secs;
    cfg.commit = a.commit();
    cfg.jurisdictions = jurisdictions;
    cfg.rate_limit = escrow_service::ratelimit::RateLimit::new(a.rate_limit_per_second, a.rate_limit_burst)
        .map_err(CliError::relay_start)?;
    let listeners = bind_all(&a.listen).await?;
    let svc = escrow_relay::RelayService::open(cfg).map_err(CliError::relay_start)?;
    listeners.announce(&a.listen)?;
    tracing::info!(addr = %listeners.main.local_addr().map(|a| a.to_string()).unwrap_or_default(), "relay serving");
    let for_metrics = svc.clone();
    listeners
        .run(
            |l| escrow_relay::serve_metrics(l, for_metrics, std::future::pending()),
            |l| escrow_relay::serve(l, svc, &credentials, shutdown_signal()),
        )
        .await
        .map_err(CliError::relay_start)
}
