//! The one place servers and client channels are built, so that mutual TLS and the
//! authentication layer hold for every service and every client at once: there is no
//! plaintext mode. A server presents its certificate, asks one of the client and
//! believes it only if the organisation the federation names for that identity issued
//! it ([`escrow_pki::trust`]), then reads the caller's role from it ([`crate::auth`]);
//! a client presents its own and accepts only a server of the role it meant to reach,
//! certified by that server's own organisation. The TLS configurations are rustls's,
//! built here with the federation's verifiers; tonic serves over the accepted
//! streams and dials through [`Connector`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use escrow_pki::trust::Trust;
use escrow_pki::{Identity, Role};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server, Uri};
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
/// HTTP/2 keepalive: a PING after this long without traffic on a connection, both
/// ways, so that a peer gone silent (a cut cable, a paused container) is noticed during
/// a long export rather than at the request deadline.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a keepalive PING may go unanswered before the connection is closed.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// A party's TLS material: the federation it pins and, unless anonymous, its own
/// certificate and key. Cheap to clone; `Debug` shows the identity, never the key.
#[derive(Clone)]
pub struct Credentials {
    inner: Arc<CredentialsInner>,
}

struct CredentialsInner {
    trust: Arc<Trust>,
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
    /// The federation, this party's certificate (its identity is read from it) and its
    /// private key, all PEM. Whether the federation believes the certificate is for
    /// the peers to decide ([`Credentials::check_believed`] asks early).
    pub fn new(trust: Arc<Trust>, cert_pem: String, key_pem: Zeroizing<String>) -> Result<Self, TransportError> {
        let identity = Identity::from_cert_pem(&cert_pem).map_err(|e| TransportError::Credentials(e.to_string()))?;
        Ok(Credentials { inner: Arc::new(CredentialsInner { trust, own: Some(Own { cert_pem, key_pem, identity }) }) })
    }

    /// Whether the federation believes this party's own certificate: issued by the
    /// CA of the organisation that may certify its identity, and valid now. Every
    /// peer checks this in the handshake; asking first turns a refused handshake into
    /// an error that says why.
    pub fn check_believed(&self) -> Result<(), TransportError> {
        let bad = |e: String| TransportError::Credentials(e);
        let Some((chain, _)) = self.chain_and_key()? else { return Ok(()) };
        let leaf = chain.first().ok_or_else(|| bad("no PEM certificate".into()))?;
        self.inner
            .trust
            .client_verifier()
            .verify_client_cert(leaf, &[], rustls::pki_types::UnixTime::now())
            .map(|_| ())
            .map_err(|e| bad(format!("the federation does not believe this party's own certificate: {e}")))
    }

    /// Issues a fresh certificate for `identity` from `ca` (which must be the CA of
    /// the organisation that certifies it in `trust`) and returns it as credentials,
    /// without touching disk: for in-process parties and tests.
    pub fn issue(
        ca: &escrow_pki::Ca,
        trust: Arc<Trust>,
        identity: &Identity,
        validity: escrow_pki::Validity,
    ) -> Result<Self, TransportError> {
        let issued = ca.issue(identity, validity).map_err(|e| TransportError::Credentials(e.to_string()))?;
        Credentials::new(trust, issued.cert_pem, issued.key_pem)
    }

    /// Only the federation: a client that presents no certificate. Servers answer it
    /// only on the health service; everything else is `UNAUTHENTICATED`.
    pub fn anonymous(trust: Arc<Trust>) -> Self {
        Credentials { inner: Arc::new(CredentialsInner { trust, own: None }) }
    }

    /// The federation and its verifiers, for TLS endpoints that are not gRPC (the
    /// witness's HTTPS).
    pub fn trust(&self) -> &Arc<Trust> {
        &self.inner.trust
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

    /// The certificate chain and key for rustls; `None` if anonymous.
    fn chain_and_key(&self) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TransportError> {
        let Some(own) = &self.inner.own else { return Ok(None) };
        let bad = |e: String| TransportError::Credentials(e);
        let chain = CertificateDer::pem_slice_iter(own.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(own.key_pem.as_bytes())
            .map_err(|_| bad("the private key is not a PEM key".into()))?;
        Ok(Some((chain, key)))
    }

    /// The rustls server configuration: this party's certificate, client
    /// certificates verified by the federation (optional, for health), HTTP/2.
    fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TransportError> {
        let (chain, key) = self.chain_and_key()?.ok_or_else(|| {
            TransportError::Credentials("a server needs its own certificate and key, not anonymous credentials".into())
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(escrow_pki::trust::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Credentials(e.to_string()))?
            .with_client_cert_verifier(self.inner.trust.client_verifier())
            .with_single_cert(chain, key)
            .map_err(|e| TransportError::Credentials(format!("certificate and key: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// The rustls client configuration for dialling `server` (and, if known, the
    /// party `id` of that role): the federation's server verifier, this party's
    /// certificate unless anonymous, HTTP/2.
    fn client_config(
        &self,
        server: Role,
        id: Option<escrow_crypto::PartyId>,
    ) -> Result<Arc<rustls::ClientConfig>, TransportError> {
        let builder = rustls::ClientConfig::builder_with_provider(escrow_pki::trust::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Credentials(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(self.inner.trust.server_verifier(server, id));
        let mut config = match self.chain_and_key()? {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TransportError::Credentials(format!("certificate and key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
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
/// relay); every request but health must come with a client certificate the
/// federation believes and, with `rate_limit`, spends a token of that certificate's
/// bucket; then the access table decides, for `access` (this server), whether the
/// caller may call the RPC at all. Every request, refused ones included, is timed and
/// counted in `metrics`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    credentials: &Credentials,
    rate_limit: Option<RateLimit>,
    access: escrow_pki::access::Server,
    metrics: &crate::metrics::Metrics,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), TransportError> {
    match credentials.identity().map(Identity::role) {
        Some(role) if role.is_server() => {}
        _ => {
            return Err(TransportError::Credentials(format!(
                "{} holds no server certificate (only trustees and the relay serve)",
                credentials.identity().map(ToString::to_string).unwrap_or_default()
            )))
        }
    }
    let tls = tokio_rustls::TlsAcceptor::from(credentials.server_config()?);
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
    // Adaptive flow-control windows (BDP estimation): a page of envelopes (up to
    // MAX_MESSAGE_BYTES) is not throttled by the 64 KiB default window.
    Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .http2_adaptive_window(Some(true))
        .layer(metrics.layer())
        .layer(AuthLayer::new(limiter, credentials.trust().clone(), access))
        .timeout(REQUEST_TIMEOUT)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .tcp_nodelay(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(tls_incoming(listener, tls), shutdown)
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

/// How many refused handshakes are written to the log per minute; the rest are
/// counted and summarised, so that a scanner cannot grow the log without bound.
const REFUSALS_LOGGED_PER_MINUTE: u64 = 20;

/// Writes a refused handshake to the log, at most [`REFUSALS_LOGGED_PER_MINUTE`] a
/// minute plus one summary line for the rest.
fn log_refused(peer: std::net::SocketAddr, error: &std::io::Error) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MINUTE: AtomicU64 = AtomicU64::new(0);
    static IN_MINUTE: AtomicU64 = AtomicU64::new(0);
    let minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60);
    if MINUTE.swap(minute, Ordering::Relaxed) != minute {
        let missed = IN_MINUTE.swap(0, Ordering::Relaxed).saturating_sub(REFUSALS_LOGGED_PER_MINUTE);
        if missed > 0 {
            tracing::warn!(missed, "TLS handshakes refused and not logged in the last minute");
        }
    }
    if IN_MINUTE.fetch_add(1, Ordering::Relaxed) < REFUSALS_LOGGED_PER_MINUTE {
        tracing::warn!(%peer, error = %error, "TLS handshake refused");
    }
}

/// Makes an accepted socket ready to serve: `TCP_NODELAY`, so that small answers go
/// out at once instead of waiting for the peer's delayed ACK (Nagle's algorithm
/// costs tens of milliseconds per request-response on an otherwise idle link). The
/// one place every server's accepted sockets are configured: gRPC here, the witness's
/// and the metrics port's HTTP through [`configure_accepted`] too.
pub fn configure_accepted(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set on an accepted socket");
    }
}

/// Accepts one connection on `listener`, configured by [`configure_accepted`].
pub async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    let (tcp, peer) = listener.accept().await?;
    configure_accepted(&tcp);
    Ok((tcp, peer))
}

/// The TLS connections accepted on `listener`, each handshake run on its own task
/// (with [`HANDSHAKE_TIMEOUT`]) so that a slow or silent client holds up nobody.
/// The accept loop ends when the server stops taking connections.
fn tls_incoming(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
) -> ReceiverStream<Result<tokio_rustls::server::TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(CONCURRENCY_PER_CONNECTION);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = tx.closed() => break,
                accepted = accept(&listener) => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (tls, tx) = (tls.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => log_refused(peer, &e),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Dials a server over TCP and TLS for tonic: the federation's verifier checks the
/// server, the handshake has [`HANDSHAKE_TIMEOUT`].
#[derive(Clone, Debug)]
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

/// Why [`Connector`] could not connect: the step, with the IO error as the source
/// (so that callers can say in plain words what a refused or timed-out connection
/// means).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No TCP connection.
    #[error("tcp connect error")]
    Tcp(#[source] std::io::Error),
    /// The TLS handshake failed: a certificate refused on either side, or a timeout.
    #[error("TLS handshake with the server failed: {0}")]
    Tls(#[source] std::io::Error),
}

impl tower::Service<Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let (config, name) = (self.config.clone(), self.name.clone());
        Box::pin(async move {
            let authority = uri
                .authority()
                .ok_or_else(|| {
                    ConnectError::Tcp(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no host:port"))
                })?
                .to_string();
            let tcp = TcpStream::connect(authority.as_str()).await.map_err(ConnectError::Tcp)?;
            tcp.set_nodelay(true).map_err(ConnectError::Tcp)?;
            let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
                .await
                .map_err(|_| ConnectError::Tls(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")))?
                .map_err(ConnectError::Tls)?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        })
    }
}

/// A mutual-TLS client channel to the `server` role at `addr` (`host:port` or
/// `https://host:port`), connected lazily. The server must present a certificate of
/// that role, issued by the organisation the federation names for it.
pub fn channel(addr: &str, credentials: &Credentials, server: Role) -> Result<Channel, TransportError> {
    channel_to(addr, credentials, server, None)
}

/// [`channel`] to one known party: the server's certificate must also name `id`.
pub fn channel_to(
    addr: &str,
    credentials: &Credentials,
    server: Role,
    id: Option<escrow_crypto::PartyId>,
) -> Result<Channel, TransportError> {
    let bad = |reason: String| TransportError::Endpoint { addr: addr.into(), reason };
    let hostport = addr.strip_prefix("https://").unwrap_or(addr);
    if hostport.contains("://") {
        return Err(bad("only https:// is spoken".into()));
    }
    let name = ServerName::try_from(server.server_name()).map_err(|e| bad(e.to_string()))?;
    let connector = Connector { config: credentials.client_config(server, id)?, name };
    // The scheme tonic sees is http: the TLS is the connector's, not tonic's.
    let endpoint = Endpoint::from_shared(format!("http://{hostport}"))
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .http2_adaptive_window(true);
    Ok(endpoint.connect_with_connector_lazy(connector))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every server's accepted sockets go through `accept` (gRPC, the witness's
    /// HTTPS) or `configure_accepted` (axum's plain HTTP): read the option back from
    /// an accepted socket.
    #[tokio::test]
    async fn accepted_sockets_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (tcp, peer) = accept(&listener).await.unwrap();
        assert!(tcp.nodelay().unwrap(), "TCP_NODELAY off on a socket accepted from {peer}");
        let plain = TcpStream::connect(addr);
        let (raw, _) = tokio::join!(listener.accept(), plain);
        let raw = raw.unwrap().0;
        assert!(!raw.nodelay().unwrap(), "the check can fail: a socket accepted bare has Nagle on");
        configure_accepted(&raw);
        assert!(raw.nodelay().unwrap());
        drop(client.await.unwrap());
    }
}
