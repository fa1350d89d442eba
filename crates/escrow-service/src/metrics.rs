//! Prometheus metrics: every server's RPC latencies and refusals (a tower layer in
//! front of the routes), the registry each service adds its own metrics to, and the
//! plain-HTTP `/metrics` endpoint that serves them in the OpenMetrics text format.
//!
//! Label values come only from bounded sets the server owns — the RPC paths of
//! `escrow.v1` and the standard services ([`known_method`]; anything else is
//! `other`), gRPC code names, and the rule names handlers attach with [`with_rule`] —
//! so no caller can grow the registry by calling made-up paths. The endpoint carries
//! counts only: no warrant id, no party, nothing the public logs do not already show
//! in aggregate. It has no TLS and no authentication; serve it on a monitoring
//! network only (docs/deploy.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::Status;

/// The response metadata key that names the rule a refusal broke (`out-of-scope`,
/// `not-approved`, `rate-limit`, ...): counted by [`RpcLayer`] and readable by clients.
pub const RULE_HEADER: &str = "escrow-rule";

/// `status` with the name of the rule that refused the request attached as
/// [`RULE_HEADER`]. Rule names are fixed strings of the server's code.
pub fn with_rule(mut status: Status, rule: &'static str) -> Status {
    status.metadata_mut().insert(RULE_HEADER, MetadataValue::from_static(rule));
    status
}

/// The rule a status names, if a handler attached one.
pub fn rule_of(status: &Status) -> Option<&str> {
    status.metadata().get(RULE_HEADER).and_then(|v| v.to_str().ok())
}

/// The RPC paths served besides `escrow.v1`'s: health and reflection.
const STANDARD_METHODS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// `path` as a label value if it is an RPC this code base defines, else `"other"`.
pub fn known_method(path: &str) -> &'static str {
    escrow_proto::METHODS.iter().chain(STANDARD_METHODS.iter()).find(|m| **m == path).copied().unwrap_or("other")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    method: &'static str,
    rule: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s: a health probe to a 100,000-field share batch.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The per-RPC metrics every gRPC server keeps (registered by [`Metrics::new`]).
#[derive(Clone, Debug)]
struct RpcMetrics {
    duration: Family<RpcLabels, Histogram, fn() -> Histogram>,
    refusals: Family<RefusalLabels, Counter>,
}

/// A server's metrics registry: the RPC metrics of [`RpcLayer`] plus whatever its
/// service registers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    rpc: RpcMetrics,
}

impl Metrics {
    /// A registry with the `escrow_` prefix holding the RPC metrics; `register` adds
    /// the service's own before the registry is frozen.
    pub fn new(register: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::with_prefix("escrow");
        let rpc = RpcMetrics {
            duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            refusals: Family::default(),
        };
        registry.register_with_unit(
            "rpc_duration",
            "Time from a request's arrival to its response headers, by RPC and gRPC status code",
            prometheus_client::registry::Unit::Seconds,
            rpc.duration.clone(),
        );
        registry.register(
            "refusals",
            "Requests refused, by RPC and the rule that refused them (the escrow-rule response metadata)",
            rpc.refusals.clone(),
        );
        register(&mut registry);
        Metrics { registry: Arc::new(registry), rpc }
    }

    /// The layer that times and counts every request of a gRPC server.
    pub fn layer(&self) -> RpcLayer {
        RpcLayer { rpc: self.rpc.clone() }
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a
        // metric, and a partial page is still better than none for a scrape.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode the metrics");
        }
        out
    }
}

/// Tower layer timing every request by RPC and status code and counting refusals by
/// rule; outermost, so that requests the authentication layer refuses count too.
#[derive(Clone, Debug)]
pub struct RpcLayer {
    rpc: RpcMetrics,
}

impl<S> tower::Layer<S> for RpcLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Measured { inner, rpc: self.rpc.clone() }
    }
}

/// The service [`RpcLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct Measured<S> {
    inner: S,
    rpc: RpcMetrics,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// The gRPC code of a response: a trailers-only response (every error tonic makes)
/// carries `grpc-status` in its headers; a response without one is under way, and
/// counted as OK (a stream that fails later is not re-counted).
fn code_of<B>(response: &http::Response<B>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

/// Longest rule name counted as it is; a longer one (a bug) is counted as `other`.
const MAX_RULE_LEN: usize = 40;

impl<S, B> tower::Service<http::Request<B>> for Measured<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = known_method(req.uri().path());
        let rpc = self.rpc.clone();
        let start = Instant::now();
        let future = self.inner.call(req);
        Box::pin(async move {
            let response = future.await?;
            let code = code_of(&response);
            rpc.duration
                .get_or_create(&RpcLabels { method, code: crate::status::code_name(code) })
                .observe(start.elapsed().as_secs_f64());
            if let Some(rule) = response.headers().get(RULE_HEADER).and_then(|v| v.to_str().ok()) {
                let rule = if rule.len() <= MAX_RULE_LEN { rule.to_owned() } else { "other".to_owned() };
                rpc.refusals.get_or_create(&RefusalLabels { method, rule }).inc();
            }
            Ok(response)
        })
    }
}

/// The content type of the OpenMetrics text format, which Prometheus asks for.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `listener` over plain HTTP/1.1 until `shutdown`: before
/// each scrape, `refresh` (run on a blocking thread: it may read the service's
/// database) sets the gauges that are read from state rather than counted as events.
/// Every other path is 404.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Metrics,
    refresh: impl Fn() + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresh = Arc::new(refresh);
    let handler = move || {
        let metrics = metrics.clone();
        let refresh = refresh.clone();
        async move {
            let page = tokio::task::spawn_blocking(move || {
                refresh();
                metrics.encode()
            })
            .await;
            match page {
                Ok(page) => ([(http::header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "metrics refresh failed");
                    (http::StatusCode::INTERNAL_SERVER_ERROR, "metrics refresh failed\n").into_response()
                }
            }
        }
    };
    let app = axum::Router::new().route("/metrics", axum::routing::get(handler));
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| crate::transport::configure_accepted(tcp));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// The largest scrape page [`scrape`] reads: far above any server's (a few hundred
/// series), so that a wrong address cannot make it read without end.
pub const MAX_SCRAPE_LEN: usize = 4 << 20;

/// Why a scrape failed, naming the address.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// No connection, no complete answer, or the timeout passed.
    #[error("metrics at {addr}: {reason}")]
    Transport {
        /// The address asked.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// An answer other than 200 with text.
    #[error("metrics at {addr}: {reason}")]
    Refused {
        /// The address asked.
        addr: String,
        /// The status, or why the page is not text.
        reason: String,
    },
}

/// `GET http://{addr}/metrics` over plain HTTP/1.1: the page as text, read up to
/// [`MAX_SCRAPE_LEN`] within `timeout`. For scripts and images without an HTTP client
/// (`escrow metrics`).
pub async fn scrape(addr: &str, timeout: std::time::Duration) -> Result<String, ScrapeError> {
    use http_body_util::{BodyExt, Empty, Limited};
    let transport = |reason: String| ScrapeError::Transport { addr: addr.to_owned(), reason };
    let get = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| transport(format!("connect: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| transport(format!("handshake: {e}")))?;
        let driver = tokio::spawn(conn);
        let request = http::Request::builder()
            .uri("/metrics")
            .header(http::header::HOST, addr)
            .body(Empty::<hyper::body::Bytes>::new())
            .map_err(|e| transport(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_SCRAPE_LEN)
            .collect()
            .await
            .map_err(|e| transport(format!("reading the page: {e}")))?
            .to_bytes();
        driver.abort();
        if status != http::StatusCode::OK {
            return Err(ScrapeError::Refused { addr: addr.to_owned(), reason: format!("status {status}") });
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| ScrapeError::Refused { addr: addr.to_owned(), reason: "the page is not UTF-8".into() })
    };
    tokio::time::timeout(timeout, get).await.map_err(|_| transport(format!("no answer in {timeout:?}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real endpoint: the page comes back whole; once it is gone, the error names
    /// the address.
    #[tokio::test]
    async fn scrape_reads_the_page_and_names_failures() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let metrics = Metrics::new(|_| {});
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_http(listener, metrics, || {}, async {
            let _ = stopped.await;
        }));
        let page = scrape(&addr, std::time::Duration::from_secs(5)).await.unwrap();
        assert!(page.ends_with("# EOF\n"), "{page}");
        let _ = stop.send(());
        let _ = server.await;
        let closed = scrape(&addr, std::time::Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(closed, ScrapeError::Transport { .. }), "{closed}");
        assert!(closed.to_string().contains(&addr), "{closed}");
    }

    #[test]
    fn only_defined_rpcs_become_label_values() {
        assert_eq!(known_method("/escrow.v1.Trustee/RequestShares"), "/escrow.v1.Trustee/RequestShares");
        assert_eq!(known_method("/grpc.health.v1.Health/Check"), "/grpc.health.v1.Health/Check");
        assert_eq!(known_method("/escrow.v1.Trustee/NoSuchMethod"), "other");
        assert_eq!(known_method(&format!("/escrow.v1.Trustee/{}", "x".repeat(5000))), "other");
        assert!(escrow_proto::METHODS.len() > 20, "{:?}", escrow_proto::METHODS);
    }

    #[test]
    fn a_rule_is_attached_and_read_back() {
        let s = with_rule(Status::permission_denied("no"), "out-of-scope");
        assert_eq!(rule_of(&s), Some("out-of-scope"));
        assert_eq!(rule_of(&Status::internal("x")), None);
        let http = s.into_http::<tonic::body::Body>();
        assert_eq!(http.headers().get(RULE_HEADER).and_then(|v| v.to_str().ok()), Some("out-of-scope"));
        assert_eq!(code_of(&http), tonic::Code::PermissionDenied);
    }

    #[test]
    fn the_registry_encodes_rpc_metrics_with_the_prefix() {
        let m = Metrics::new(|r| {
            let c: Counter = Counter::default();
            c.inc_by(3);
            r.register("things", "Things", c);
        });
        m.rpc.duration.get_or_create(&RpcLabels { method: "other", code: "OK" }).observe(0.01);
        let page = m.encode();
        assert!(page.contains("escrow_things_total 3"), "{page}");
        assert!(page.contains("escrow_rpc_duration_seconds_count{method=\"other\",code=\"OK\"} 1"), "{page}");
        assert!(page.ends_with("# EOF\n"), "{page}");
    }
}
