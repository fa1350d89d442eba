//! `escrow audit serve`: the public transparency page over plain HTTP, kept fresh on a
//! schedule. Every `--every` seconds the auditor fetches and verifies every trustee's
//! log, reconciles them and renders the page (`escrow_audit::page`). A request always
//! gets the latest render at once; it never waits for a fetch, and no request makes
//! the auditor ask the trustees anything.
//!
//! - `GET /`: the page. `GET /report.json`: the same report as `audit report`'s
//!   report.json, with the time of the audit it comes from.
//! - Before the first audit is done: `503` with `Retry-After`.
//! - The page has no script and loads nothing: it is served with a Content Security
//!   Policy that allows no script and no outside resource, so that even a template
//!   bug could not run code from a log's text.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::RwLock;

use crate::audit::{AuditArgs, Audited};
use crate::CliError;

/// The latest render.
struct Snapshot {
    html: String,
    json: String,
}

type Latest = Arc<RwLock<Option<Snapshot>>>;

/// What `/` and `/report.json` are served with, besides their type.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub async fn run(
    args: AuditArgs,
    threshold: usize,
    listen: &str,
    addr_file: Option<std::path::PathBuf>,
    every: u64,
    ctx: &crate::Ctx,
) -> Result<(), CliError> {
    // Every precondition (files, credentials, the witness policy) before binding.
    let auditor = crate::audit::Auditor::new(&args, ctx)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Start { what: "audit page", reason: format!("cannot listen on {listen}: {e}") })?;
    let addr = listener.local_addr().map_err(|e| CliError::Start { what: "audit page", reason: e.to_string() })?;
    let latest: Latest = Arc::new(RwLock::new(None));
    let poller = {
        let latest = latest.clone();
        let trustees = args.trustees.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let audited = auditor.audit(&trustees, threshold).await;
                let snapshot = snapshot(&audited);
                tracing::info!(
                    verified = audited.logs,
                    trustees = trustees.len(),
                    flags = audited.flag_count(),
                    "audited every log"
                );
                *latest.write().await = Some(snapshot);
            }
        })
    };
    if let Some(f) = &addr_file {
        crate::serve::write_addr(f, &addr.to_string())?;
    }
    println!("the public page is at http://{addr}/ (refreshed every {every} s)");
    let app = axum::Router::new()
        .route("/", axum::routing::get(page))
        .route("/report.json", axum::routing::get(report_json))
        .with_state(latest);
    let served = axum::serve(listener, app).with_graceful_shutdown(crate::serve::shutdown_signal()).await;
    poller.abort();
    served.map_err(|e| CliError::Start { what: "audit page", reason: e.to_string() })
}

/// The page and the JSON of one audit. A report that does not encode (it always
/// does) is served as an error object rather than not at all.
fn snapshot(a: &Audited) -> Snapshot {
    let json = a.report_json().unwrap_or_else(|e| format!("{{\"error\":\"the report did not encode: {e}\"}}"));
    Snapshot { html: a.page(), json }
}

async fn page(axum::extract::State(latest): axum::extract::State<Latest>) -> Response {
    serve(&latest, |s| s.html.clone(), "text/html; charset=utf-8").await
}

async fn report_json(axum::extract::State(latest): axum::extract::State<Latest>) -> Response {
    serve(&latest, |s| s.json.clone(), "application/json").await
}

async fn serve(latest: &Latest, body: impl Fn(&Snapshot) -> String, content_type: &'static str) -> Response {
    let guard = latest.read().await;
    let mut response = match guard.as_ref() {
        Some(s) => ([(header::CONTENT_TYPE, content_type)], body(s)).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "2"), (header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the first audit of the trustees' logs is still running\n",
        )
            .into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
