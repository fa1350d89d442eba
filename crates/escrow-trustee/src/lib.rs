//! A trustee: one independent organisation's service. It holds one key share per
//! epoch, checks each warrant against its own policy, lets its operator approve or
//! deny, and releases decryption shares only for escrow fields inside an approved,
//! unexpired, unrevoked warrant's scope, within quota, after recording the release.

mod answer;
pub mod audit;
pub mod ceremony;
pub mod config;
pub mod metrics;
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
pub use config::{CheckedConfig, TrusteeConfig};
use escrow_proto::v1::audit_server::AuditServer;
use escrow_proto::v1::ceremony_server::CeremonyServer;
use escrow_proto::v1::trustee_server::TrusteeServer;
pub use metrics::serve_metrics;
pub use service::{check_certificate, check_epochs, EpochKeys, StartError, TrusteeService};
use tonic::server::NamedService;

/// The origin line of a trustee's log checkpoints: `escrow-trustee/<trustee id>`
/// ([`escrow_log::trustee_origin`]).
pub fn log_origin(trustee_id: &escrow_crypto::PartyId) -> String {
    escrow_log::trustee_origin(trustee_id.as_str())
}

/// Serves the trustee and its audit service on `listener` (with health and
/// reflection) until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: TrusteeService,
    credentials: &escrow_service::transport::Credentials,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), escrow_service::transport::TransportError> {
    service::check_certificate(service.policy(), credentials)
        .map_err(|e| escrow_service::transport::TransportError::Credentials(e.to_string()))?;
    let rate_limit = service.policy().rate_limit;
    // Refusals counted in a window are logged when it closes, even if no request
    // comes after it.
    let flusher = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFUSAL_FLUSH_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = service.flush_refusals().await {
                    tracing::error!(error = %e, "could not log counted refusals");
                }
            }
        })
    };
    // Shares are destroyed at their announced time even when nobody asks for one.
    let destroyer = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(DESTRUCTION_CHECK_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = service.destroy_due().await {
                    tracing::error!(error = %e, "could not destroy a due epoch share");
                }
            }
        })
    };
    let ceremonies = service.start_ceremonies(credentials);
    let publisher = service.start_witnessing();
    let audit = AuditServer::new(AuditService::new(service.clone()))
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let svc = TrusteeServer::new(service.clone())
        .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let ceremony = CeremonyServer::new(service.clone())
        .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let routes = tonic::service::Routes::new(svc).add_service(audit).add_service(ceremony);
    let names = [
        <TrusteeServer<TrusteeService> as NamedService>::NAME,
        <AuditServer<AuditService> as NamedService>::NAME,
        <CeremonyServer<TrusteeService> as NamedService>::NAME,
    ];
    let served = escrow_service::transport::serve(
        listener,
        routes,
        &names,
        credentials,
        Some(rate_limit),
        escrow_pki::access::Server {
            trustee: Some(service.policy().trustee_id.clone()),
            agency_organisations: service.policy().agency_organisations.clone(),
        },
        &service.metrics().clone(),
        shutdown,
    )
    .await;
    // Wait until the flusher (and its handle on the store) is gone: the data
    // directory's lock must be free when serve returns, for a restart.
    for task in [Some(flusher), Some(destroyer), ceremonies, publisher].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    served
}

/// How often a serving trustee logs the refusals of closed counting windows.
pub const REFUSAL_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How often a serving trustee checks for epoch shares due for destruction.
pub const DESTRUCTION_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
