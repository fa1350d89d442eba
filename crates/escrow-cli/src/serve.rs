//! `escrow trustee serve` and `escrow relay serve`: long-running services that stop
//! cleanly on SIGINT/SIGTERM (in-flight requests finish).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use escrow_crypto::{EpochPublicKey, TrusteeKeyShare};
use escrow_trustee::policy::Policy;
use escrow_trustee::store::Store;
use escrow_trustee::{EpochKeys, TrusteeService};

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
}

#[derive(Args, Debug)]
pub struct TrusteeServeArgs {
    /// Directory for trustee.db.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Policy file (TOML; see docs/operators.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Epoch public key file (hex), one per epoch held.
    #[arg(long = "epoch-key", required = true)]
    pub epoch_keys: Vec<PathBuf>,
    /// Sealed key share file, one per --epoch-key, same order.
    #[arg(long = "key-share", required = true)]
    pub key_shares: Vec<PathBuf>,
    /// Sealed Ed25519 key that signs this trustee's log checkpoints; created on first
    /// start if missing (default: <data-dir>/log.key).
    #[arg(long)]
    pub log_key: Option<PathBuf>,
    #[command(flatten)]
    pub listen: ListenArgs,
}

#[derive(Args, Debug)]
pub struct RelayServeArgs {
    /// Directory for relay.db.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Current epoch public key file (hex).
    #[arg(long)]
    pub epoch_key: PathBuf,
    /// Trusted court public key file (hex); repeat for several.
    #[arg(long = "court-key")]
    pub court_keys: Vec<PathBuf>,
    /// Largest accepted difference between a message's timestamp and now, seconds.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_MAX_CLOCK_SKEW_SECS)]
    pub max_skew_secs: u64,
    /// Sustained requests per second per caller certificate.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_RATE_LIMIT.per_second)]
    pub rate_limit_per_second: f64,
    /// Requests a caller certificate may make at once after being idle.
    #[arg(long, default_value_t = escrow_relay::DEFAULT_RATE_LIMIT.burst)]
    pub rate_limit_burst: u32,
    #[command(flatten)]
    pub listen: ListenArgs,
}

/// Binds the listening socket (a start-up precondition: it is taken before anything is
/// created or written, so a busy port leaves no state behind).
async fn bind(l: &ListenArgs) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(&l.listen)
        .await
        .map_err(|e| CliError::Start { what: "server", reason: format!("cannot listen on {}: {e}", l.listen) })
}

/// Writes the bound address to `--addr-file` once the service is ready to serve, so
/// that supervisors never see an address for a start that fails.
fn announce(l: &ListenArgs, listener: &tokio::net::TcpListener) -> Result<(), CliError> {
    let addr = listener.local_addr().map_err(|e| CliError::Start { what: "server", reason: e.to_string() })?;
    if let Some(f) = &l.addr_file {
        let tmp = f.with_extension("tmp");
        std::fs::write(&tmp, addr.to_string()).map_err(|e| CliError::io(&tmp, e))?;
        std::fs::rename(&tmp, f).map_err(|e| CliError::io(f, e))?;
    }
    Ok(())
}

async fn shutdown_signal() {
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
    let text = std::fs::read_to_string(&a.policy).map_err(|e| CliError::io(&a.policy, e))?;
    let policy =
        Policy::from_toml(&text).map_err(|e| CliError::trustee_start(format!("{}: {e}", a.policy.display())))?;
    let credentials = ctx.credentials()?;
    escrow_trustee::check_certificate(&policy, &credentials).map_err(CliError::trustee_start)?;
    let mut epochs = Vec::new();
    for (k, s) in a.epoch_keys.iter().zip(&a.key_shares) {
        let public = read_hex_as(k, EpochPublicKey::from_bytes)?;
        let share = secret.read_sealed_as(s, TrusteeKeyShare::from_bytes)?;
        epochs.push(EpochKeys { public, share });
    }
    escrow_trustee::check_epochs(&policy, &epochs, None).map_err(CliError::trustee_start)?;
    let log_key = a.log_key.clone().unwrap_or_else(|| a.data_dir.join("log.key"));
    let (signer, generated) = if log_key.exists() {
        let signer = secret.read_sealed_as(&log_key, escrow_log::CheckpointSigner::from_bytes)?;
        if signer.name() != policy.trustee_id.as_str() {
            return Err(CliError::trustee_start(format!(
                "{}: this log key signs as {:?}, but the policy says this is trustee {}",
                log_key.display(),
                signer.name(),
                policy.trustee_id
            )));
        }
        (signer, false)
    } else {
        let signer = escrow_log::CheckpointSigner::generate(policy.trustee_id.as_str(), &mut rand::rngs::OsRng)
            .map_err(CliError::trustee_start)?;
        (signer, true)
    };
    let listener = bind(&a.listen).await?;
    // From here on, state is created: the directory, its lock, the database.
    std::fs::create_dir_all(&a.data_dir).map_err(|e| CliError::io(&a.data_dir, e))?;
    let origin = escrow_trustee::log_origin(&policy.trustee_id);
    let (signer_bytes, verifier) = (signer.to_bytes(), signer.verifier());
    let store = Store::open(&a.data_dir, &origin, signer).map_err(CliError::trustee_start)?;
    escrow_trustee::check_epochs(&policy, &epochs, Some(&store)).map_err(CliError::trustee_start)?;
    if generated {
        secret.write_sealed(&log_key, &signer_bytes)?;
        tracing::info!(key = %log_key.display(), %verifier, "generated the log checkpoint key");
    }
    let clock = escrow_service::clock::from_option(a.listen.clock_file.clone());
    let svc = TrusteeService::new(policy, epochs, store, clock).map_err(CliError::trustee_start)?;
    announce(&a.listen, &listener)?;
    tracing::info!(trustee = %svc.trustee_id(), addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "trustee serving");
    escrow_trustee::serve(listener, svc, &credentials, shutdown_signal()).await.map_err(CliError::trustee_start)
}

/// A file whose contents were refused, named.
/// Starts the relay; like the trustee, every precondition before anything is written.
pub async fn relay(a: RelayServeArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let credentials = ctx.credentials()?;
    escrow_relay::check_certificate(&credentials).map_err(CliError::relay_start)?;
    let epoch_key = read_hex_as(&a.epoch_key, EpochPublicKey::from_bytes)?;
    let courts = a.court_keys.iter().map(|p| load_court_pub(p)).collect::<Result<Vec<_>, _>>()?;
    let clock: Arc<dyn escrow_service::clock::Clock> = escrow_service::clock::from_option(a.listen.clock_file.clone());
    let mut cfg = escrow_relay::RelayConfig::new(&a.data_dir, epoch_key, courts, clock);
    cfg.max_clock_skew_secs = a.max_skew_secs;
    cfg.rate_limit = escrow_service::ratelimit::RateLimit::new(a.rate_limit_per_second, a.rate_limit_burst)
        .map_err(CliError::relay_start)?;
    let listener = bind(&a.listen).await?;
    let svc = escrow_relay::RelayService::open(cfg).map_err(CliError::relay_start)?;
    announce(&a.listen, &listener)?;
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "relay serving");
    escrow_relay::serve(listener, svc, &credentials, shutdown_signal()).await.map_err(CliError::relay_start)
}
