//! rustls verifiers that enforce the federation: a certificate is believed only if
//! the one organisation that may certify the identity it names issued it.
//!
//! Both verifiers read the identity from the leaf, ask the [`Federation`] which
//! organisation may certify it, and hand the chain to rustls's own WebPKI verifier
//! built with that organisation's CAs alone (the current one, and retired ones until
//! their trust ends). They write no path validation of their own. A chain with
//! intermediates is refused: every CA of a deployment signs its leaves directly, and
//! refusing intermediates keeps a stolen CA key from minting a sub-CA that names
//! another organisation.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};

use crate::federation::{Federation, Organisation};
use crate::{Identity, Role};

/// Why a peer's certificate was refused; rustls carries it as
/// `CertificateError::Other`, so it reaches the logs and the client's error text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse(reason: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refusal(reason)))))
}

/// The ring provider every escrow TLS endpoint uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One CA's verifiers and when its trust ends.
#[derive(Debug)]
struct Anchored {
    client: Arc<dyn ClientCertVerifier>,
    server: Arc<WebPkiServerVerifier>,
    until: u64,
    fingerprint: String,
}

/// The federation with a WebPKI verifier per organisation CA: what both TLS sides
/// consult. Cheap to share.
#[derive(Debug)]
pub struct Trust {
    federation: Federation,
    /// Per organisation (federation order), per CA.
    anchors: Vec<Vec<Anchored>>,
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl Trust {
    /// Builds the verifiers for every CA of `federation`.
    pub fn new(federation: Federation) -> Result<Arc<Self>, String> {
        let provider = provider();
        let mut anchors = Vec::new();
        let mut hints = Vec::new();
        for org in federation.organisations() {
            let mut per_org = Vec::new();
            // Every CA the entry names, with its end of trust (checked per handshake).
            for (anchor, until) in org.anchors() {
                let mut roots = rustls::RootCertStore::empty();
                roots
                    .add(CertificateDer::from(anchor.der().to_vec()))
                    .map_err(|e| format!("organisation {}: CA certificate: {e}", org.name()))?;
                let roots = Arc::new(roots);
                hints.extend(roots.subjects());
                let client = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| format!("organisation {}: {e}", org.name()))?;
                let server = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("organisation {}: {e}", org.name()))?;
                per_org.push(Anchored { client, server, until, fingerprint: anchor.fingerprint() });
            }
            anchors.push(per_org);
        }
        Ok(Arc::new(Trust { federation, anchors, hints, provider }))
    }

    /// The federation.
    pub fn federation(&self) -> &Federation {
        &self.federation
    }

    /// The organisation that may certify `identity`, with its verifiers.
    fn organisation(&self, identity: &Identity) -> Result<(&Organisation, &[Anchored]), rustls::Error> {
        let found = self.federation.organisations().iter().zip(&self.anchors).find(|(o, _)| o.may_certify(identity));
        found.map(|(o, a)| (o, a.as_slice())).ok_or_else(|| {
            refuse(format!("no organisation of federation {:?} may certify {identity}", self.federation.deployment()))
        })
    }

    /// Runs `check` with each CA of `identity`'s organisation trusted at `now`;
    /// the first that accepts wins.
    fn check_issuer(
        &self,
        identity: &Identity,
        now: UnixTime,
        check: impl Fn(&Anchored) -> Result<(), rustls::Error>,
    ) -> Result<(), rustls::Error> {
        let (org, anchors) = self.organisation(identity)?;
        let mut last = None;
        for a in anchors.iter().filter(|a| now.as_secs() < a.until) {
            match check(a) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        let fingerprints: Vec<&str> = anchors.iter().map(|a| a.fingerprint.as_str()).collect();
        Err(refuse(format!(
            "{identity} is certified only by organisation {:?} (CA {}), and this certificate does not verify \
             under a CA of it trusted now: {}",
            org.name(),
            fingerprints.join(", "),
            last.map_or_else(|| "its CAs are no longer trusted".to_string(), |e| e.to_string())
        )))
    }

    fn identity(
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<Identity, rustls::Error> {
        if !intermediates.is_empty() {
            return Err(refuse(
                "the chain carries intermediate certificates: an escrow organisation's CA signs its leaves directly"
                    .into(),
            ));
        }
        Identity::from_cert_der(end_entity).map_err(|e| refuse(e.to_string()))
    }

    /// A client-certificate verifier for servers: accepts a certificate only from the
    /// organisation that may certify the identity in it; lets a client without one
    /// through the handshake (the server then answers it on health alone).
    pub fn client_verifier(self: &Arc<Self>) -> Arc<dyn ClientCertVerifier> {
        Arc::new(ClientVerifier(self.clone()))
    }

    /// Checks a certificate shown outside a handshake, as the client verifier would at
    /// `now` (unix seconds), and returns the identity it names: for a user's
    /// certificate that the relay serves with the user's key, so that a client takes
    /// the user's certified home from the organisation that certifies it, not from the
    /// relay. It proves what that organisation certified (role, id, home); it does not
    /// prove that whoever serves it holds the certificate's key.
    pub fn verify_certificate(&self, der: &[u8], now: u64) -> Result<Identity, Refusal> {
        let why = |e: rustls::Error| match e {
            rustls::Error::InvalidCertificate(CertificateError::Other(o)) => Refusal(o.0.to_string()),
            other => Refusal(other.to_string()),
        };
        let end_entity = CertificateDer::from(der);
        let identity = Trust::identity(&end_entity, &[]).map_err(why)?;
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now));
        self.check_issuer(&identity, now, |a| a.client.verify_client_cert(&end_entity, &[], now).map(|_| ()))
            .map_err(why)?;
        Ok(identity)
    }

    /// A server-certificate verifier for clients that dial `role` (and, if known,
    /// the party `id` of that role).
    pub fn server_verifier(
        self: &Arc<Self>,
        role: Role,
        id: Option<escrow_crypto::PartyId>,
    ) -> Arc<dyn ServerCertVerifier> {
        Arc::new(ServerVerifier { trust: self.clone(), role, id })
    }
}

#[derive(Debug)]
struct ClientVerifier(Arc<Trust>);

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.0.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let identity = Trust::identity(end_entity, intermediates)?;
        self.0.check_issuer(&identity, now, |a| a.client.verify_client_cert(end_entity, &[], now).map(|_| ()))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct ServerVerifier {
    trust: Arc<Trust>,
    role: Role,
    id: Option<escrow_crypto::PartyId>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let identity = Trust::identity(end_entity, intermediates)?;
        if identity.role() != self.role || self.id.as_ref().is_some_and(|id| id != identity.id()) {
            let wanted =
                self.id.as_ref().map_or_else(|| format!("a {}", self.role), |id| format!("{} {id}", self.role));
            return Err(refuse(format!("dialled {wanted}, but the server's certificate names {identity}")));
        }
        self.trust.check_issuer(&identity, now, |a| {
            a.server.verify_server_cert(end_entity, &[], server_name, ocsp_response, now).map(|_| ())
        })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.trust.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.trust.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.provider.signature_verification_algorithms.supported_schemes()
    }
}
