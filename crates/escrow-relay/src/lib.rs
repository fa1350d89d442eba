//! The relay: the messaging provider's server in the escrow deployment.
//!
//! It keeps the key directory (first registration of an id wins), stores envelopes
//! and serves inboxes, and hands an agency the envelopes inside a court-signed
//! warrant. The relay is not trusted with secrets and holds none: it cannot read a
//! message and cannot open an escrow field. It checks on receipt what anyone can
//! check (docs/protocol.md §6) — sender signature, registered parties, the key
//! epoch, the escrow field's validity under its label, the claimed send time — so
//! that a malformed or mislabeled envelope is refused at the door rather than found
//! by a trustee months later, when the warrant that needs it arrives.
//!
//! Every rejection names its culprit, carries the matching gRPC code, and changes no
//! state. State lives in one SQLite file (`relay.db`, WAL, `synchronous=FULL`);
//! accepted envelopes reach it by group commit (`ingest`): one transaction and one
//! fsync for every send that arrived while the previous one was written, each
//! acknowledged only after its fsync.

mod ingest;
mod metrics;
mod pin;
pub mod rules;
mod service;
mod store;
#[cfg(feature = "tamper")]
pub mod tamper;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use escrow_crypto::{CourtPublicKey, EpochPublicKey};
use escrow_proto::v1::relay_server::RelayServer;
use escrow_service::clock::Clock;
use escrow_service::ratelimit::RateLimit;
use escrow_service::transport::{TransportError, MAX_MESSAGE_BYTES};
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use ingest::{Commit, DEFAULT_COMMIT, DEFAULT_MAX_BATCH, DEFAULT_QUEUE, MAX_BATCH_BYTES, MAX_QUEUED_BYTES};
pub use metrics::serve_metrics;
pub use pin::EpochConflict;
pub use service::RelayService;

/// How far a sender's claimed send time may be from the relay's clock by default.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = 300;
/// Requests per second per caller certificate, and the burst: far above what a person
/// sends, low enough that one stolen certificate cannot monopolise the relay.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit { per_second: 500.0, burst: 1000 };
/// Most envelopes one inbox or export page holds (also the page for `limit = 0`).
pub const MAX_PAGE: u32 = 500;
/// The database file inside [`RelayConfig::data_dir`].
pub const DB_FILE: &str = "relay.db";

/// What a relay needs to run.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Directory holding [`DB_FILE`]; created if missing.
    pub data_dir: PathBuf,
    /// The epoch senders must seal under. Envelopes of any other epoch are refused,
    /// so that retiring an epoch at the relay stops new traffic under it.
    pub epoch_key: EpochPublicKey,
    /// Courts whose warrants `Export` honours. Empty means no export is possible.
    pub trusted_courts: Vec<CourtPublicKey>,
    /// Largest accepted `|label timestamp − now|`, seconds. The timestamp decides
    /// whether a message falls inside a warrant's window, so the relay refuses
    /// senders who back- or forward-date it beyond honest clock drift.
    pub max_clock_skew_secs: u64,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Requests per caller (certificate) per second, and burst.
    pub rate_limit: RateLimit,
    /// The trustees' signed announcement of `epoch_key`, served with it. `None` only
    /// for a dealt key (weak mode): then clients with pinned trustee keys refuse it.
    pub announcement: Option<escrow_crypto::VerifiedAnnouncement>,
    /// How accepted envelopes are checked and committed ([`DEFAULT_COMMIT`]: grouped).
    pub commit: Commit,
    /// A deployment of several escrow domains: the composition rule and each domain's
    /// current epoch key (or none, for a domain without escrow). Then every envelope
    /// must carry domain fields, checked against the parties' certified homes;
    /// `None`, one domain: envelopes under `epoch_key` only.
    pub jurisdictions: Option<escrow_crypto::Jurisdictions>,
}

impl RelayConfig {
    /// A configuration with the default clock-skew bound.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        epoch_key: EpochPublicKey,
        trusted_courts: Vec<CourtPublicKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        RelayConfig {
            data_dir: data_dir.into(),
            epoch_key,
            trusted_courts,
            max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
            clock,
            rate_limit: DEFAULT_RATE_LIMIT,
            announcement: None,
            commit: DEFAULT_COMMIT,
            jurisdictions: None,
        }
    }

    /// A configuration for the key set `announcement` states (verified by the caller
    /// under its pinned trustee keys: the type says so).
    pub fn announced(
        data_dir: impl Into<PathBuf>,
        announcement: escrow_crypto::VerifiedAnnouncement,
        trusted_courts: Vec<CourtPublicKey>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut c = Self::new(data_dir, announcement.key_set().clone(), trusted_courts, clock);
        c.announcement = Some(announcement);
        c
    }
}

/// Why the relay could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The data directory could not be created.
    #[error("cannot create relay data directory {}: {source}", .path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or its schema applied (the error names the file).
    #[error("cannot open relay database {0}")]
    Database(#[from] escrow_service::db::DbError),
    /// Another process serves from the same data directory.
    #[error(transparent)]
    Locked(#[from] escrow_service::datadir::LockError),
    /// The gRPC server failed.
    #[error("relay server: {0}")]
    Transport(#[from] TransportError),
    /// The configured announcement does not fit the configuration.
    #[error("epoch announcement: {0}")]
    Announcement(&'static str),
    /// The configured key or announcement conflicts with what this relay served for
    /// the epoch before (`crate::pin`); nothing was written.
    #[error("refusing to serve epoch {epoch}: {0}", epoch = .0.epoch())]
    EpochConflict(#[from] EpochConflict),
    /// The group committer's thread could not be started.
    #[error("cannot start the relay's committer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The relay's record of what it served for an epoch is malformed.
    #[error("{}: the epochs table holds a malformed row for epoch {epoch}", .path.display())]
    CorruptPin {
        /// The database file.
        path: PathBuf,
        /// The epoch.
        epoch: u64,
    },
}

/// Checks that `credentials` are a relay's, before anything is created or written.
pub fn check_certificate(credentials: &escrow_service::transport::Credentials) -> Result<(), RelayError> {
    if credentials.identity().map(escrow_pki::Identity::role) != Some(escrow_pki::Role::Relay) {
        return Err(RelayError::Transport(TransportError::Credentials(format!(
            "the relay needs a relay certificate; this one names {}",
            credentials.identity().map(ToString::to_string).unwrap_or_else(|| "nobody".into())
        ))));
    }
    Ok(())
}

/// Serves the relay on `listener` (with health and reflection) until `shutdown`
/// resolves; in-flight requests then finish.
///
/// The message-size caps are raised to [`MAX_MESSAGE_BYTES`] in both directions: an
/// envelope may be up to ~1 MiB and a page of them up to that cap, while tonic's
/// default of 4 MiB would refuse a full page. Clients must raise their own decoding
/// cap to match (`RelayClient::max_decoding_message_size`).
pub async fn serve(
    listener: TcpListener,
    service: RelayService,
    credentials: &escrow_service::transport::Credentials,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RelayError> {
    check_certificate(credentials)?;
    let rate_limit = service.rate_limit();
    let metrics = service.metrics().clone();
    let server = RelayServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let routes = Routes::new(server);
    escrow_service::transport::serve(
        listener,
        routes,
        &[<RelayServer<RelayService> as NamedService>::NAME],
        credentials,
        Some(rate_limit),
        // No operators; every agency the federation certifies.
        escrow_pki::access::Server::default(),
        &metrics,
        shutdown,
    )
    .await?;
    Ok(())
}
