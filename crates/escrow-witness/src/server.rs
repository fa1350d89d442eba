//! The witness's HTTP interface (c2sp.org/tlog-witness).
//!
//! - `POST /add-checkpoint`: 200 with the cosignature line(s) (`text/plain`), 409
//!   with the latest size (`text/x.tlog.size`), 400/403/404/422 with a one-line reason,
//!   413 for a body over the spec's bound, 500 if the store fails.
//! - `GET /checkpoint/<origin>` (escrow extension, the monitoring prefix): the latest
//!   checkpoint this witness cosigned for the origin, the log's signature and the
//!   cosignature included; 404 if none.
//! - `GET /`: the witness's verifier key and its origins, for operators.
//!
//! The submission and monitoring prefixes are both the server root.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use escrow_log::witness::{Refusal, MAX_REQUEST_LEN, SIZE_CONTENT_TYPE};
use tokio::net::TcpListener;

use crate::{AddError, Witness};

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let counted = witness.clone();
    let outcome = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    let reason = match &outcome {
        Ok(Ok(_)) => None,
        Ok(Err(AddError::Refused(r))) => Some(match r {
            Refusal::BadRequest(_) => "bad-request",
            Refusal::Forbidden(_) => "forbidden",
            Refusal::UnknownOrigin(_) => "unknown-origin",
            Refusal::Conflict { .. } => "conflict",
            Refusal::BadProof(_) => "bad-proof",
        }),
        Ok(Err(AddError::Store(_))) | Err(_) => Some("store"),
    };
    match reason {
        None => {
            counted.metrics.cosigned.inc();
        }
        Some(reason) => {
            counted.metrics.refused.get_or_create(&crate::metrics::ReasonLabels { reason }).inc();
        }
    }
    match outcome {
        Ok(Ok(lines)) => text(StatusCode::OK, lines),
        Ok(Err(AddError::Refused(Refusal::Conflict { latest, .. }))) => {
            (StatusCode::CONFLICT, [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)], format!("{latest}\n")).into_response()
        }
        Ok(Err(AddError::Refused(refusal))) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, format!("{refusal}\n"))
        }
        Ok(Err(AddError::Store(e))) => {
            tracing::error!(error = %e, "witness store failed; nothing cosigned");
            text(StatusCode::INTERNAL_SERVER_ERROR, "the witness store failed; nothing was cosigned\n".into())
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error; nothing was cosigned\n".into()),
    }
}

async fn latest(State(witness): State<Arc<Witness>>, Path(origin): Path<String>) -> Response {
    let outcome = tokio::task::spawn_blocking(move || witness.latest(&origin).map(|n| (origin, n))).await;
    match outcome {
        Ok(Ok((_, Some(note)))) => text(StatusCode::OK, note),
        Ok(Ok((origin, None))) => text(StatusCode::NOT_FOUND, format!("no checkpoint cosigned for {origin:?}\n")),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "witness store failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "the witness store failed\n".into())
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into()),
    }
}

async fn info(State(witness): State<Arc<Witness>>) -> Response {
    let mut body = format!("escrow witness (c2sp.org/tlog-witness)\nvkey {}\n", witness.verifier());
    for origin in witness.logs().origins() {
        body.push_str(&format!("log {origin}\n"));
    }
    text(StatusCode::OK, body)
}

/// The routes, for embedding or testing without a socket.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/checkpoint/{*origin}", get(latest))
        .route("/", get(info))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_LEN))
        .layer(axum::middleware::from_fn_with_state(witness.clone(), crate::metrics::measure))
        .with_state(witness)
}

/// Serves `witness` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish (up to ten seconds). With `tls`, every connection is TLS
/// (a server certificate of the witness's organisation, no client certificate: the spec
/// authenticates requests by the checkpoint's signature alone); without, plain
/// HTTP for a witness behind a TLS-terminating proxy.
pub async fn serve(
    listener: TcpListener,
    witness: Arc<Witness>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(witness);
    let Some(tls) = tls else {
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| escrow_service::transport::configure_accepted(tcp));
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = escrow_service::transport::accept(&listener) => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    Ok(())
}

/// The TLS configuration of a witness: its certificate chain and key (PEM) from
/// its organisation's CA; HTTP/1.1 only.
pub fn tls_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("certificate: no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
