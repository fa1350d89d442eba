//! A trustee: one independent organisation's service. It holds one key share per
//! epoch, checks each warrant against its own policy, lets its operator approve or
//! deny, and releases decryption shares only for escrow fields inside an approved,
//! unexpired, unrevoked warrant's scope, within quota, after recording the release.

mod answer;
pub mod audit;
pub mod ceremony;
pub mod config;
mod core;
mod days;
pub mod metrics;
mod node;
pub mod policy;
pub mod refusals;
pub mod rules;
pub mod service;
pub mod state;
pub mod store;
#[cfg(feature = "tamper")]
pub mod tamper;
pub mod witnessing;

use std::future::Future;

pub use audit::AuditService;
pub use ceremony::CeremonyService;
pub use config::{check_certificate, check_epochs, CheckedConfig, StartError, TrusteeConfig};
use escrow_proto::v1::audit_server::AuditServer;
use escrow_proto::v1::ceremony_server::CeremonyServer;
use escrow_proto::v1::trustee_server::TrusteeServer;
pub use node::Trustee;
pub use rules::{EpochKeys, Epochs};
pub use service::TrusteeService;
use tonic::server::NamedService;

/// The origin line of a trustee's log checkpoints: `escrow-trustee/<trustee id>`
/// ([`escrow_log::trustee_origin`]).
pub fn log_origin(trustee_id: &escrow_crypto::PartyId) -> String {
    escrow_log::trustee_origin(trustee_id.as_str())
}

/// Serves the trustee's Trustee, Audit and Ceremony services on `listener` (with
/// health and reflection) until `shutdown`, with its background tasks: counted
/// refusals logged, due shares destroyed, ceremonies ticked, the log published.
pub async fn serve(
    listener: tokio::net::TcpListener,
    trustee: Trustee,
    credentials: &escrow_service::transport::Credentials,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), escrow_service::transport::TransportError> {
    config::check_certificate(trustee.policy(), credentials)
        .map_err(|e| escrow_service::transport::TransportError::Credentials(e.to_string()))?;
    let rate_limit = trustee.policy().rate_limit;
    // Refusals counted in a window are logged when it closes, even if no request
    // comes after it.
    let flusher = {
        let trustee = trustee.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFUSAL_FLUSH_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = trustee.flush_refusals().await {
                    tracing::error!(error = %e, "could not log counted refusals");
                }
            }
        })
    };
    // Shares are destroyed at their announced time even when nobody asks for one.
    let destroyer = {
        let trustee = trustee.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(DESTRUCTION_CHECK_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = trustee.destroy_due().await {
                    tracing::error!(error = %e, "could not destroy a due epoch share");
                }
            }
        })
    };
    let mut tasks = vec![flusher, destroyer];
    tasks.extend(trustee.start_tasks(credentials));
    let audit = AuditServer::new(trustee.audit_service())
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let svc = TrusteeServer::new(trustee.trustee_service())
        .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let ceremony = CeremonyServer::new(trustee.ceremony_service())
        .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let routes = tonic::service::Routes::new(svc).add_service(audit).add_service(ceremony);
    let names = [
        <TrusteeServer<TrusteeService> as NamedService>::NAME,
        <AuditServer<AuditService> as NamedService>::NAME,
        <CeremonyServer<CeremonyService> as NamedService>::NAME,
    ];
    let served = escrow_service::transport::serve(
        listener,
        routes,
        &names,
        credentials,
        Some(rate_limit),
        escrow_pki::access::Server {
            trustee: Some(trustee.policy().trustee_id.clone()),
            agency_organisations: trustee.policy().agency_organisations.clone(),
        },
        &trustee.metrics().clone(),
        shutdown,
    )
    .await;
    // Wait until the background tasks (and their handles on the store) are gone: the
    // data directory's lock must be free when serve returns, for a restart.
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    served
}

/// Serves this trustee's `/metrics` on `listener` (plain HTTP) until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    trustee: Trustee,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = trustee.metrics().clone();
    escrow_service::metrics::serve_http(listener, metrics, move || trustee.refresh_metrics(), shutdown).await
}

/// How often a serving trustee logs the refusals of closed counting windows.
pub const REFUSAL_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How often a serving trustee checks for epoch shares due for destruction.
pub const DESTRUCTION_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
