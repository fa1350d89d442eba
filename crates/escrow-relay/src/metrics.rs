//! The relay's Prometheus metrics: messages accepted and envelopes exported (counted
//! as they happen), users and stored messages (read from the database at each
//! scrape), and the size of each group commit. RPC latencies and refusals by rule come from the transport's layer.

use std::future::Future;

use escrow_service::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use crate::service::RelayService;

/// The metrics of one relay.
#[derive(Clone, Debug)]
pub(crate) struct RelayMetrics {
    pub(crate) registry: Metrics,
    pub(crate) accepted: Counter,
    pub(crate) exported: Counter,
    pub(crate) users: Gauge,
    pub(crate) messages: Gauge,
    pub(crate) commit: crate::ingest::CommitMetrics,
}

impl RelayMetrics {
    pub(crate) fn new() -> Self {
        let (accepted, exported, users, messages) =
            (Counter::default(), Counter::default(), Gauge::default(), Gauge::default());
        let commit = crate::ingest::CommitMetrics { batch_messages: Histogram::new(exponential_buckets(1.0, 2.0, 10)) };
        let registry = Metrics::new(|r| {
            r.register("relay_messages_accepted", "Envelopes accepted by Send since start", accepted.clone());
            r.register(
                "relay_envelopes_exported",
                "Envelopes exported to agencies under warrants since start",
                exported.clone(),
            );
            r.register("relay_users", "Registered users", users.clone());
            r.register("relay_messages", "Stored messages", messages.clone());
            r.register(
                "relay_commit_batch_messages",
                "Messages per group commit (one transaction, one fsync)",
                commit.batch_messages.clone(),
            );
        });
        RelayMetrics { registry, accepted, exported, users, messages, commit }
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
