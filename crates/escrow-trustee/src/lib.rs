//! A trustee: one independent organisation's service. It holds one key share per
//! epoch, checks each warrant against its own policy, lets its operator approve or
//! deny, and releases decryption shares only for escrow fields inside an approved,
//! unexpired, unrevoked warrant's scope, within quota, after recording the release.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod audit;
pub mod policy;
pub mod service;
pub mod state;
pub mod store;

use std::future::Future;

pub use audit::AuditService;
use escrow_proto::v1::audit_server::AuditServer;
use escrow_proto::v1::trustee_server::TrusteeServer;
pub use service::{EpochKeys, StartError, TrusteeService};
use tonic::server::NamedService;

/// Serves the trustee and its audit service on `listener` (with health and
/// reflection) until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: TrusteeService,
    credentials: &escrow_service::transport::Credentials,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), escrow_service::transport::TransportError> {
    match credentials.identity() {
        Some(me) if me.is(escrow_pki::Role::Trustee, service.trustee_id()) => {}
        other => {
            return Err(escrow_service::transport::TransportError::Credentials(format!(
                "the certificate names {}, but the policy says this is trustee {}",
                other.map(ToString::to_string).unwrap_or_else(|| "nobody".into()),
                service.trustee_id()
            )))
        }
    }
    let audit = AuditServer::new(AuditService::new(service.clone()))
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let svc = TrusteeServer::new(service)
        .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES);
    let routes = tonic::service::Routes::new(svc).add_service(audit);
    let names =
        [<TrusteeServer<TrusteeService> as NamedService>::NAME, <AuditServer<AuditService> as NamedService>::NAME];
    escrow_service::transport::serve(listener, routes, &names, credentials, shutdown).await
}
