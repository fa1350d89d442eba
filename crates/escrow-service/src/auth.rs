//! Who is calling: the identity in the client's certificate, checked once per request
//! in front of every service, and the helpers handlers use to decide an RPC by it.
//!
//! rustls has already verified the certificate during the handshake against the CA
//! of the one organisation the federation lets certify the identity in it (a
//! certificate from any other CA never gets a session). This layer reads the role
//! and id from the verified leaf and refuses, with `UNAUTHENTICATED`, any request
//! without one — except the standard health service,
//! which probes may call without a certificate and which reveals nothing. It then
//! decides whether the caller may call the RPC at all, by the one access table
//! ([`escrow_pki::access::allow`]), before any handler runs: `PERMISSION_DENIED`
//! otherwise. Handlers get the caller ([`caller`]) and the [`Grant`], and apply the
//! grant's object rule to the object they load. A denial changes no state and is not
//! written to the trustee's log (which an unauthorized caller could otherwise fill),
//! only to the service's own trace.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use escrow_pki::access::{self, Grant};
use escrow_pki::trust::Trust;
use escrow_pki::Identity;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;

use crate::metrics::with_rule;
use crate::ratelimit::{RateLimiter, Report};
use crate::status::undecodable_is_invalid_argument;

/// Requests to this gRPC path prefix pass without a certificate.
pub const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// The verified caller, put into each request's extensions by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Caller(pub Identity);

/// The organisation whose CA certified the caller (the federation names exactly one
/// per identity), put into each request's extensions beside [`Caller`].
#[derive(Clone, Debug)]
pub struct CallerOrganisation(pub String);

/// The caller's organisation; `UNAUTHENTICATED` if there is none (fails closed, as
/// [`caller`]).
pub fn organisation<T>(req: &tonic::Request<T>) -> Result<String, Status> {
    req.extensions()
        .get::<CallerOrganisation>()
        .map(|c| c.0.clone())
        .ok_or_else(|| with_rule(Status::unauthenticated("no verified client certificate"), "unauthenticated"))
}

/// The identity of the party calling; `UNAUTHENTICATED` if there is none (a service
/// served without [`AuthLayer`] would land here too, so it fails closed).
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Identity, Status> {
    req.extensions()
        .get::<Caller>()
        .map(|c| c.0.clone())
        .ok_or_else(|| with_rule(Status::unauthenticated("no verified client certificate"), "unauthenticated"))
}

/// The DER of the caller's leaf certificate, as the handshake verified it (the one
/// [`caller`] was read from); `UNAUTHENTICATED` if there is none. For a server that
/// keeps it to show others what the caller's organisation certified (the relay, a
/// user's home).
pub fn caller_certificate<T>(req: &tonic::Request<T>) -> Result<Vec<u8>, Status> {
    let certs = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>().and_then(|info| info.peer_certs());
    certs
        .as_deref()
        .and_then(|c| c.first())
        .map(|leaf| leaf.as_ref().to_vec())
        .ok_or_else(|| with_rule(Status::unauthenticated("no verified client certificate"), "unauthenticated"))
}

/// `PERMISSION_DENIED` naming the caller, the RPC and the rule, traced as a warning.
pub fn denied(caller: &Identity, rpc: &str, rule: &str) -> Status {
    tracing::warn!(%caller, rpc, rule, "permission denied");
    with_rule(Status::permission_denied(format!("{caller} may not call {rpc}: {rule}")), "permission")
}

/// What the access table let the caller do, put into each request's extensions by
/// [`AuthLayer`]; `PERMISSION_DENIED` if there is none (fails closed, as [`caller`]).
pub fn grant<T>(req: &tonic::Request<T>) -> Result<Grant, Status> {
    req.extensions()
        .get::<Grant>()
        .copied()
        .ok_or_else(|| with_rule(Status::permission_denied("no access decision for this request"), "permission"))
}

/// The method's name in a gRPC path (`/escrow.v1.Trustee/GetInfo` → `GetInfo`).
fn method(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn identify(ext: &http::Extensions) -> Result<Identity, Status> {
    let certs = ext
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .ok_or_else(|| Status::unauthenticated("a client certificate the federation believes is required"))?;
    let leaf = certs.first().ok_or_else(|| Status::unauthenticated("the client sent an empty certificate chain"))?;
    Identity::from_cert_der(leaf.as_ref()).map_err(|e| Status::unauthenticated(format!("client {e}")))
}

/// Tower layer that authenticates every request, decides its access (see the module
/// documentation) and, with a [`RateLimiter`], spends one token of the caller's
/// bucket per request.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    limiter: Option<Arc<RateLimiter>>,
    trust: Arc<Trust>,
    server: Arc<access::Server>,
}

impl AuthLayer {
    /// Authentication under `trust` (which names each caller's organisation), and a
    /// per-caller rate limit if `limiter` is given, and access decided for `server`.
    pub fn new(limiter: Option<Arc<RateLimiter>>, trust: Arc<Trust>, server: access::Server) -> Self {
        AuthLayer { limiter, trust, server: Arc::new(server) }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, limiter: self.limiter.clone(), trust: self.trust.clone(), server: self.server.clone() }
    }
}

/// The service [`AuthLayer`] wraps around the routes.
#[derive(Clone, Debug)]
pub struct Authenticate<S> {
    inner: S,
    limiter: Option<Arc<RateLimiter>>,
    trust: Arc<Trust>,
    server: Arc<access::Server>,
}

/// Writes what the limiter's [`Report`] says to the service log: a caller's first
/// refusal in full, then one summary line per interval with the count of those not
/// written, so that a flood costs a few lines rather than one per request.
fn report_rate(caller: &Identity, path: &str, wait: Option<Duration>, report: Option<Report>) {
    match report {
        Some(Report::First) => tracing::warn!(
            %caller,
            path,
            wait_ms = wait.map_or(0, |w| w.as_millis() as u64),
            "rate limited (further refusals of this caller are counted and summarised)"
        ),
        Some(Report::Summary { refused, over }) => {
            tracing::warn!(%caller, refused, over_s = over.as_secs(), "rate limited: {refused} more refusals not logged")
        }
        None => {}
    }
}

/// `RESOURCE_EXHAUSTED` for a caller over its rate, with the wait in the message and
/// in a `retry-after-ms` header that clients can read.
fn over_rate(caller: &Identity, wait: Duration) -> Status {
    let ms = wait.as_millis().max(1);
    let mut status = with_rule(
        Status::resource_exhausted(format!("{caller} is over its request rate; retry in {ms} ms")),
        "rate-limit",
    );
    if let Ok(v) = ms.to_string().parse() {
        status.metadata_mut().insert(RETRY_AFTER_MS, v);
    }
    status
}

/// The response header that says how long a rate-limited caller should wait.
pub const RETRY_AFTER_MS: &str = "retry-after-ms";

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// The routes' answer to an authenticated request, with a body that did not decode
/// reported as the caller's fault ([`undecodable_is_invalid_argument`]): every request
/// that reaches a service passes here, health's too.
fn answer<F, E>(call: F) -> BoxFuture<http::Response<tonic::body::Body>, E>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send + 'static,
{
    Box::pin(async move { call.await.map(undecodable_is_invalid_argument) })
}

impl<S, B> tower::Service<http::Request<B>> for Authenticate<S>
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

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if req.uri().path().starts_with(HEALTH_PREFIX) {
            return answer(self.inner.call(req));
        }
        let identified = identify(req.extensions()).and_then(|identity| {
            // The handshake verified the certificate under this organisation's CA.
            let org = self.trust.federation().organisation_for(&identity).map(|o| o.name().to_owned());
            let org = org.ok_or_else(|| Status::unauthenticated(format!("no organisation certifies {identity}")))?;
            Ok((identity, org))
        });
        match identified {
            Ok((identity, org)) => {
                if let Some(limiter) = &self.limiter {
                    let verdict = limiter.check(&identity.uri(), Instant::now());
                    report_rate(&identity, req.uri().path(), verdict.result.err(), verdict.report);
                    if let Err(wait) = verdict.result {
                        let status = over_rate(&identity, wait);
                        return Box::pin(async move { Ok(status.into_http()) });
                    }
                }
                let path = req.uri().path();
                let decided =
                    access::allow(path, access::Caller { identity: &identity, organisation: &org }, &self.server);
                let grant = match decided {
                    Ok(grant) => grant,
                    Err(why) => {
                        let status = denied(&identity, method(path), &why.to_string());
                        return Box::pin(async move { Ok(status.into_http()) });
                    }
                };
                req.extensions_mut().insert(grant);
                req.extensions_mut().insert(Caller(identity));
                req.extensions_mut().insert(CallerOrganisation(org));
                answer(self.inner.call(req))
            }
            Err(status) => {
                let status = with_rule(status, "unauthenticated");
                tracing::warn!(path = req.uri().path(), reason = status.message(), "unauthenticated request refused");
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
