//! The one place servers and client channels are built, so that mutual TLS and the
//! authentication layer hold for every service and every client at once: there is no
//! plaintext mode. A server presents its certificate, requires one from the client
//! (verified against the deployment's CA by rustls) and reads the caller's role from
//! it ([`crate::auth`]); a client presents its own and accepts only a server whose
//! certificate carries the role-wide name of the role it meant to reach.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use escrow_pki::{Identity, Role};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Server, ServerTlsConfig};
use zeroize::Zeroizing;

use crate::auth::AuthLayer;
use crate::ratelimit::{RateLimit, RateLimiter};

/// The services every server runs beside its own: health and both reflection versions.
pub const ALWAYS_SERVED: [&str; 3] =
    ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/// Largest gRPC message a server accepts or a client receives (a page of envelopes).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Per-request deadline on the server side.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Concurrent requests per connection.
pub const CONCURRENCY_PER_CONNECTION: usize = 64;
/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A party's TLS material: the deployment's CA and, unless anonymous, its own
/// certificate and key. Cheap to clone; `Debug` shows the identity, never the key.
#[derive(Clone)]
pub struct Credentials {
    inner: Arc<CredentialsInner>,
}

struct CredentialsInner {
    ca_pem: String,
    own: Option<Own>,
}

struct Own {
    cert_pem: String,
    key_pem: Zeroizing<String>,
    identity: Identity,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("identity", &self.identity()).finish_non_exhaustive()
    }
}

impl Credentials {
    /// The CA certificate, this party's certificate (its identity is read from it) and
    /// its private key, all PEM.
    pub fn new(ca_pem: String, cert_pem: String, key_pem: Zeroizing<String>) -> Result<Self, TransportError> {
        escrow_pki::check_ca_pem(&ca_pem).map_err(|e| TransportError::Credentials(e.to_string()))?;
        let identity = Identity::from_cert_pem(&cert_pem).map_err(|e| TransportError::Credentials(e.to_string()))?;
        Ok(Credentials { inner: Arc::new(CredentialsInner { ca_pem, own: Some(Own { cert_pem, key_pem, identity }) }) })
    }

    /// Issues a fresh certificate for `identity` from `ca` and returns it as
    /// credentials, without touching disk: for in-process parties and tests.
    pub fn issue(
        ca: &escrow_pki::Ca,
        identity: &Identity,
        validity: escrow_pki::Validity,
    ) -> Result<Self, TransportError> {
        let issued = ca.issue(identity, validity).map_err(|e| TransportError::Credentials(e.to_string()))?;
        Credentials::new(ca.cert_pem().to_string(), issued.cert_pem, issued.key_pem)
    }

    /// Only the CA: a client that presents no certificate. Servers answer it only on
    /// the health service; everything else is `UNAUTHENTICATED`.
    pub fn anonymous(ca_pem: String) -> Result<Self, TransportError> {
        escrow_pki::check_ca_pem(&ca_pem).map_err(|e| TransportError::Credentials(e.to_string()))?;
        Ok(Credentials { inner: Arc::new(CredentialsInner { ca_pem, own: None }) })
    }

    /// The CA certificate (PEM), for TLS endpoints that are not gRPC (the witness's
    /// HTTPS).
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// This party's certificate and private key (PEM), for TLS endpoints that are not
    /// gRPC; `None` if anonymous.
    pub fn cert_and_key_pem(&self) -> Option<(&str, &Zeroizing<String>)> {
        self.inner.own.as_ref().map(|o| (o.cert_pem.as_str(), &o.key_pem))
    }

    /// Whose credentials these are; `None` if anonymous.
    pub fn identity(&self) -> Option<&Identity> {
        self.inner.own.as_ref().map(|o| &o.identity)
    }

    fn tls_identity(&self) -> Option<tonic::transport::Identity> {
        self.inner.own.as_ref().map(|o| tonic::transport::Identity::from_pem(&o.cert_pem, o.key_pem.as_bytes()))
    }
}

/// Errors building or running the transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server failed.
    #[error("server: {0}")]
    Server(#[from] tonic::transport::Error),
    /// Reflection could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(String),
    /// The TLS material is unusable.
    #[error("TLS credentials: {0}")]
    Credentials(String),
    /// A client endpoint address is invalid.
    #[error("invalid endpoint {addr:?}: {reason}")]
    Endpoint {
        /// The address given.
        addr: String,
        /// Why it was refused.
        reason: String,
    },
}

/// Serves `routes` on `listener` beside the standard gRPC health service (every name in
/// `service_names` reported SERVING) and server reflection (v1 and v1alpha, so that
/// grpcurl 1.8 works too), until `shutdown` resolves; in-flight requests then finish.
/// Reflection lists and describes exactly `service_names`, health and reflection
/// itself: a client must not be told of services this server does not run.
///
/// Every connection is TLS with `credentials`, which must be a server's (trustee or
/// relay); every request but health must come with a client certificate of the CA,
/// and, with `rate_limit`, spends a token of that certificate's bucket. Every request,
/// refused ones included, is timed and counted in `metrics`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    credentials: &Credentials,
    rate_limit: Option<RateLimit>,
    metrics: &crate::metrics::Metrics,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), TransportError> {
    let identity = credentials.tls_identity().ok_or_else(|| {
        TransportError::Credentials("a server needs its own certificate and key, not anonymous credentials".into())
    })?;
    match credentials.identity().map(Identity::role) {
        Some(role) if role.is_server() => {}
        _ => {
            return Err(TransportError::Credentials(format!(
                "{} holds no server certificate (only trustees and the relay serve)",
                credentials.identity().map(ToString::to_string).unwrap_or_default()
            )))
        }
    }
    let tls = ServerTlsConfig::new()
        .identity(identity)
        .client_ca_root(Certificate::from_pem(&credentials.inner.ca_pem))
        .client_auth_optional(true)
        .timeout(HANDSHAKE_TIMEOUT);
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in service_names {
        reporter.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let served = served_descriptors(service_names)?;
    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_file_descriptor_set(served.clone())
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for name in service_names.iter().chain(&ALWAYS_SERVED) {
            b = b.with_service_name(*name);
        }
        b
    };
    let reflection_v1 = reflection().build_v1().map_err(|e| TransportError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(|e| TransportError::Reflection(e.to_string()))?;
    let routes = routes.add_service(health).add_service(reflection_v1).add_service(reflection_v1alpha);
    let limiter = rate_limit.map(|l| Arc::new(RateLimiter::new(l)));
    Server::builder()
        .tls_config(tls)?
        .layer(metrics.layer())
        .layer(AuthLayer::new(limiter))
        .timeout(REQUEST_TIMEOUT)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .tcp_nodelay(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// `escrow.v1`'s descriptors with only the services in `served` left in them, for
/// reflection. tonic-reflection's service names only limit what `list` shows; a
/// `describe` (file containing a symbol) answers from every descriptor registered, so
/// a trustee would describe the relay's service and the relay the trustee's. The
/// messages stay (a served service may use them, and types reveal no service).
fn served_descriptors(served: &[&str]) -> Result<prost_types::FileDescriptorSet, TransportError> {
    use prost::Message;
    let mut set = prost_types::FileDescriptorSet::decode(escrow_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| TransportError::Reflection(e.to_string()))?;
    for file in &mut set.file {
        let package = file.package().to_string();
        file.service.retain(|s| served.iter().any(|name| *name == format!("{package}.{}", s.name())));
    }
    Ok(set)
}

/// A mutual-TLS client channel to the `server` role at `addr` (`host:port` or
/// `https://host:port`), connected lazily. The server must present a certificate of
/// the CA carrying [`Role::server_name`] of `server`.
pub fn channel(addr: &str, credentials: &Credentials, server: Role) -> Result<Channel, TransportError> {
    let hostport = addr.strip_prefix("https://").unwrap_or(addr);
    if hostport.contains("://") {
        return Err(TransportError::Endpoint { addr: addr.into(), reason: "only https:// is spoken".into() });
    }
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&credentials.inner.ca_pem))
        .domain_name(server.server_name())
        .timeout(HANDSHAKE_TIMEOUT);
    if let Some(identity) = credentials.tls_identity() {
        tls = tls.identity(identity);
    }
    let endpoint = Endpoint::from_shared(format!("https://{hostport}"))
        .map_err(|e| TransportError::Endpoint { addr: addr.into(), reason: e.to_string() })?
        .tls_config(tls)
        .map_err(|e| TransportError::Endpoint { addr: addr.into(), reason: e.to_string() })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true);
    Ok(endpoint.connect_lazy())
}

/// A `Trustee` client for the trustee at `addr`, with the message-size caps raised to
/// [`MAX_MESSAGE_BYTES`] both ways (tonic's 4 MiB default would refuse a full share
/// batch). The one place trustee clients are built.
pub fn trustee_client(
    addr: &str,
    credentials: &Credentials,
) -> Result<escrow_proto::v1::trustee_client::TrusteeClient<Channel>, TransportError> {
    Ok(escrow_proto::v1::trustee_client::TrusteeClient::new(channel(addr, credentials, Role::Trustee)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// An `Audit` client for the trustee at `addr`, with the caps of [`trustee_client`].
pub fn audit_client(
    addr: &str,
    credentials: &Credentials,
) -> Result<escrow_proto::v1::audit_client::AuditClient<Channel>, TransportError> {
    Ok(escrow_proto::v1::audit_client::AuditClient::new(channel(addr, credentials, Role::Trustee)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A client of a trustee's `escrow.v1.Ceremony` service (operators, auditors, peer
/// trustees), with the size caps.
pub fn ceremony_client(
    addr: &str,
    credentials: &Credentials,
) -> Result<escrow_proto::v1::ceremony_client::CeremonyClient<Channel>, TransportError> {
    Ok(escrow_proto::v1::ceremony_client::CeremonyClient::new(channel(addr, credentials, Role::Trustee)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A `Relay` client for the relay at `addr`, with the caps of [`trustee_client`] (a
/// page of envelopes can exceed tonic's default).
pub fn relay_client(
    addr: &str,
    credentials: &Credentials,
) -> Result<escrow_proto::v1::relay_client::RelayClient<Channel>, TransportError> {
    Ok(escrow_proto::v1::relay_client::RelayClient::new(channel(addr, credentials, Role::Relay)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}
