//! The relay's Prometheus metrics: messages accepted and envelopes exported (counted
//! as they happen), users and stored messages (read from the database at each
//! scrape). RPC latencies and refusals by rule come from the transport's layer.

use std::future::Future;

use escrow_service::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::service::RelayService;

/// The metrics of one relay.
#[derive(Clone, Debug)]
pub(crate) struct RelayMetrics {
    pub(crate) registry: Metrics,
    pub(crate) accepted: Counter,
    pub(crate) exported: Counter,
    pub(crate) users: Gauge,
    pub(crate) messages: Gauge,
}

impl RelayMetrics {
    pub(crate) fn new() -> Self {
        let (accepted, exported, users, messages) =
            (Counter::default(), Counter::default(), Gauge::default(), Gauge::default());
        let registry = Metrics::new(|r| {
            r.register("relay_messages_accepted", "Envelopes accepted by Send since start", accepted.clone());
            r.register(
                "relay_envelopes_exported",
                "Envelopes exported to agencies under warrants since start",
                exported.clone(),
            );
            r.register("relay_users", "Registered users", users.clone());
            r.register("relay_messages", "Stored messages", messages.clone());
        });
        RelayMetrics { registry, accepted, exported, users, messages }
    }
}

/// Serves the relay's `/metrics` on `listener` (plain HTTP) until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    service: RelayService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = service.metrics().clone();
    escrow_service::metrics::serve_http(listener, metrics, move || service.refresh_metrics(), shutdown).await
}
