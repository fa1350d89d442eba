//! The witness's Prometheus metrics: HTTP requests by route and status (timed),
//! checkpoints cosigned and refused (by the spec's reason), and, read from the store
//! at each scrape, the size of each log it last cosigned. Origins appear as label
//! values only once cosigned, so only the logs of this witness's configuration.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use escrow_service::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Unit;

use crate::Witness;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    pub(crate) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OriginLabels {
    origin: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// The metrics of one witness.
#[derive(Clone, Debug)]
pub(crate) struct WitnessMetrics {
    pub(crate) registry: Metrics,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub(crate) cosigned: Counter,
    pub(crate) refused: Family<ReasonLabels, Counter>,
    log_size: Family<OriginLabels, Gauge>,
}

impl WitnessMetrics {
    pub(crate) fn new() -> Self {
        let http = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let cosigned = Counter::default();
        let refused = Family::<ReasonLabels, Counter>::default();
        let log_size = Family::<OriginLabels, Gauge>::default();
        let registry = Metrics::new(|r| {
            r.register_with_unit(
                "witness_http_duration",
                "Time to answer an HTTP request, by route and status",
                Unit::Seconds,
                http.clone(),
            );
            r.register("witness_cosigned", "Checkpoints cosigned since start", cosigned.clone());
            r.register(
                "witness_refused",
                "Checkpoints refused since start, by reason (bad-request, forbidden, unknown-origin, conflict, bad-proof, store)",
                refused.clone(),
            );
            r.register("witness_log_size", "Size of the latest checkpoint cosigned, by log origin", log_size.clone());
        });
        WitnessMetrics { registry, http, cosigned, refused, log_size }
    }
}

/// A route as a label value: the spec's paths, or `other`.
fn route(path: &str) -> &'static str {
    match path {
        "/add-checkpoint" => "add-checkpoint",
        "/" => "info",
        p if p.starts_with("/checkpoint/") => "checkpoint",
        _ => "other",
    }
}

/// Axum middleware timing every request of the witness's router.
pub(crate) async fn measure(
    axum::extract::State(witness): axum::extract::State<Arc<Witness>>,
    req: Request,
    next: Next,
) -> Response {
    let route = route(req.uri().path());
    let start = Instant::now();
    let response = next.run(req).await;
    witness
        .metrics
        .http
        .get_or_create(&HttpLabels { route, status: response.status().as_u16() })
        .observe(start.elapsed().as_secs_f64());
    response
}

impl Witness {
    /// This witness's metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics.registry
    }

    /// Sets the per-log sizes from the store; blocks (call it off the async workers).
    pub fn refresh_metrics(&self) {
        let sizes = match self.store.lock() {
            Ok(store) => store.sizes(),
            Err(_) => return,
        };
        match sizes {
            Ok(sizes) => {
                for (origin, size) in sizes {
                    self.metrics
                        .log_size
                        .get_or_create(&OriginLabels { origin })
                        .set(i64::try_from(size).unwrap_or(i64::MAX));
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the witness store for metrics"),
        }
    }
}

/// Serves the witness's `/metrics` on `listener` (plain HTTP) until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = witness.metrics().clone();
    escrow_service::metrics::serve_http(listener, metrics, move || witness.refresh_metrics(), shutdown).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_spec_routes_are_label_values() {
        assert_eq!(super::route("/add-checkpoint"), "add-checkpoint");
        assert_eq!(super::route("/checkpoint/escrow-trustee/trustee-0"), "checkpoint");
        assert_eq!(super::route("/"), "info");
        assert_eq!(super::route("/anything-else"), "other");
    }
}
