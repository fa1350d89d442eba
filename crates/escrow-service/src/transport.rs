//! The one place servers and client channels are built. Mutual TLS and per-role
//! authorization switch on here, for every service and every client at once.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint, Server};

/// Largest gRPC message a server accepts or a client receives (a page of envelopes).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Per-request deadline on the server side.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Concurrent requests per connection.
pub const CONCURRENCY_PER_CONNECTION: usize = 64;

/// Errors building or running the transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server failed.
    #[error("server: {0}")]
    Server(#[from] tonic::transport::Error),
    /// Reflection could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(String),
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
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), TransportError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in service_names {
        reporter.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(escrow_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| TransportError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(escrow_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| TransportError::Reflection(e.to_string()))?;
    let routes = routes.add_service(health).add_service(reflection_v1).add_service(reflection_v1alpha);
    Server::builder()
        .timeout(REQUEST_TIMEOUT)
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .tcp_nodelay(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// A client channel to `addr` (`host:port` or `http://host:port`), connected lazily.
pub fn channel(addr: &str) -> Result<Channel, TransportError> {
    let uri = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|e| TransportError::Endpoint { addr: addr.into(), reason: e.to_string() })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true);
    Ok(endpoint.connect_lazy())
}
