//! A client of one witness: `add-checkpoint` and the latest cosigned checkpoint, over
//! one kept-alive HTTP/1.1 connection (TLS for `https://` URLs, verified against the
//! federation: the witness role, certified by its own organisation).

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use escrow_log::witness::{parse_conflict_body, AddCheckpoint};

/// Responses larger than this are refused (cosignature lines are ~150 bytes each).
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// What a witness answered to `add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// 200: the cosignature line(s), not yet verified (verify them with the
    /// witness's key before counting them).
    Cosigned(String),
    /// 409: the witness's latest cosigned size for this origin.
    Conflict(u64),
    /// Any other status, with the body's first line.
    Refused {
        /// The HTTP status.
        status: u16,
        /// What the witness said.
        message: String,
    },
}

/// A witness could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is unusable.
    #[error("witness URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Connecting, TLS, sending or reading failed.
    #[error("witness {url}: {reason}")]
    Transport {
        /// The witness.
        url: String,
        /// What failed.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("witness {0}: no answer in time")]
    Timeout(String),
    /// The answer is not what the spec says (a 409 without a size...).
    #[error("witness {url}: malformed answer: {reason}")]
    Malformed {
        /// The witness.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// One witness, by URL (`https://host:port[/prefix]` or `http://...`).
pub struct WitnessClient {
    url: String,
    authority: String,
    prefix: String,
    tls: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for WitnessClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessClient").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Percent-encodes an origin for a URL path, keeping `/` and unreserved characters.
fn encode_path(origin: &str) -> String {
    let mut out = String::with_capacity(origin.len());
    for b in origin.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl WitnessClient {
    /// A client of the witness at `url`. `https://` needs `trust`, the federation
    /// whose witness organisation certified the witness.
    pub fn new(
        url: &str,
        trust: Option<&Arc<escrow_pki::trust::Trust>>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::Url { url: url.to_owned(), reason: reason.to_owned() };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let authority = uri.authority().ok_or_else(|| bad("no host"))?.to_string();
        if uri.query().is_some() {
            return Err(bad("a witness URL has no query"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let tls = match uri.scheme_str() {
            Some("http") => None,
            Some("https") => {
                let trust = trust.ok_or_else(|| bad("https needs the federation"))?;
                Some(tls_connector(trust).map_err(|e| bad(&e))?)
            }
            _ => return Err(bad("scheme is not http or https")),
        };
        Ok(WitnessClient {
            url: url.trim_end_matches('/').to_owned(),
            authority,
            prefix,
            tls,
            timeout,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// The URL this client was made for.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let transport = |reason: String| ClientError::Transport { url: self.url.clone(), reason };
        let tcp = TcpStream::connect(&self.authority).await.map_err(|e| transport(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let (sender, task) = match &self.tls {
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(|e| transport(format!("handshake: {e}")))?;
                (sender, tokio::spawn(async move { conn.await.map_err(|e| e.to_string()) }))
            }
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| transport(format!("TLS: {e}")))?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|e| transport(format!("handshake: {e}")))?;
                (sender, tokio::spawn(async move { conn.await.map_err(|e| e.to_string()) }))
            }
        };
        drop(task);
        Ok(sender)
    }

    /// Sends one request on the kept-alive connection (reconnecting once if it was
    /// closed) and reads the whole bounded answer.
    async fn send(&self, method: Method, path: &str, body: String) -> Result<(StatusCode, Bytes), ClientError> {
        let attempt = async {
            let mut slot = self.conn.lock().await;
            for retry in [false, true] {
                let reuse = slot.take().filter(|s| !s.is_closed());
                let mut sender = match reuse {
                    Some(s) => s,
                    None => self.connect().await?,
                };
                let request = Request::builder()
                    .method(method.clone())
                    .uri(format!("{}{path}", self.prefix))
                    .header(http::header::HOST, &self.authority)
                    .header(http::header::CONTENT_TYPE, "text/plain")
                    .body(Full::new(Bytes::from(body.clone())))
                    .map_err(|e| ClientError::Transport { url: self.url.clone(), reason: e.to_string() })?;
                let ready = sender.ready().await;
                let response = match ready {
                    Ok(()) => sender.send_request(request).await,
                    Err(e) => Err(e),
                };
                let response = match response {
                    Ok(r) => r,
                    // A kept-alive connection the server closed: one fresh try.
                    Err(_) if !retry => continue,
                    Err(e) => return Err(ClientError::Transport { url: self.url.clone(), reason: e.to_string() }),
                };
                let status = response.status();
                let body = Limited::new(response.into_body(), MAX_RESPONSE_LEN).collect().await.map_err(|e| {
                    ClientError::Transport { url: self.url.clone(), reason: format!("reading the answer: {e}") }
                })?;
                *slot = Some(sender);
                return Ok((status, body.to_bytes()));
            }
            Err(ClientError::Transport { url: self.url.clone(), reason: "connection closed".into() })
        };
        tokio::time::timeout(self.timeout, attempt).await.map_err(|_| ClientError::Timeout(self.url.clone()))?
    }

    /// `POST <prefix>/add-checkpoint`.
    pub async fn add_checkpoint(&self, request: &AddCheckpoint) -> Result<AddOutcome, ClientError> {
        let (status, body) = self.send(Method::POST, "/add-checkpoint", request.to_body()).await?;
        match status {
            StatusCode::OK => {
                let lines = String::from_utf8(body.to_vec()).map_err(|_| ClientError::Malformed {
                    url: self.url.clone(),
                    reason: "cosignatures are not UTF-8".into(),
                })?;
                Ok(AddOutcome::Cosigned(lines))
            }
            StatusCode::CONFLICT => parse_conflict_body(&body).map(AddOutcome::Conflict).ok_or_else(|| {
                ClientError::Malformed { url: self.url.clone(), reason: "409 without a tree size".into() }
            }),
            other => Ok(AddOutcome::Refused { status: other.as_u16(), message: first_line(&body) }),
        }
    }

    /// `GET <prefix>/`: the witness's vkey and origins, as text (a health probe).
    pub async fn info(&self) -> Result<String, ClientError> {
        let (status, body) = self.send(Method::GET, "/", String::new()).await?;
        if status != StatusCode::OK {
            return Err(ClientError::Malformed { url: self.url.clone(), reason: format!("status {status}") });
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| ClientError::Malformed { url: self.url.clone(), reason: "not UTF-8".into() })
    }

    /// `GET <prefix>/checkpoint/<origin>` (escrow extension): the witness's latest
    /// cosigned checkpoint for `origin`, unverified, or `None` on 404.
    pub async fn latest(&self, origin: &str) -> Result<Option<String>, ClientError> {
        let path = format!("/checkpoint/{}", encode_path(origin));
        let (status, body) = self.send(Method::GET, &path, String::new()).await?;
        match status {
            StatusCode::OK => String::from_utf8(body.to_vec()).map(Some).map_err(|_| ClientError::Malformed {
                url: self.url.clone(),
                reason: "checkpoint is not UTF-8".into(),
            }),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(ClientError::Malformed {
                url: self.url.clone(),
                reason: format!("status {other}: {}", first_line(&body)),
            }),
        }
    }
}

fn first_line(body: &[u8]) -> String {
    String::from_utf8_lossy(body).lines().next().unwrap_or_default().chars().take(300).collect()
}

fn tls_connector(
    trust: &Arc<escrow_pki::trust::Trust>,
) -> Result<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>), String> {
    let mut config = rustls::ClientConfig::builder_with_provider(escrow_pki::trust::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(trust.server_verifier(escrow_pki::Role::Witness, None))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name =
        rustls::pki_types::ServerName::try_from(escrow_pki::Role::Witness.server_name()).map_err(|e| e.to_string())?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_percent_encoded_in_paths() {
        assert_eq!(encode_path("escrow-trustee/trustee-0"), "escrow-trustee/trustee-0");
        assert_eq!(encode_path("go.sum database tree"), "go.sum%20database%20tree");
        assert_eq!(encode_path("a?b#c%"), "a%3Fb%23c%25");
    }
}
