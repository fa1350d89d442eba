//! The agency's side of lawful access.
//!
//! [`Agency::open_into`] exports the envelopes inside a warrant's scope from the relay
//! page by page, asks every trustee for decryption shares of each batch concurrently,
//! binds each share to the trustee that sent it, combines as soon as t + 1 shares are
//! in (verifying every share it uses, naming any trustee whose share is bad, and
//! waiting for more only then), checks the field carries the recovered key, and
//! decrypts, in bounded memory. Nothing here is trusted by the trustees: they check
//! everything again.
//!
//! In a deployment of several escrow domains, an agency is set to its own domain
//! ([`Agency::for_domain`]; it connects to that domain's trustees, whose epoch keys
//! are the domain's) and opens the envelopes with domain fields through the same
//! pipeline, asking its trustees about its own domain's field only. A message whose
//! rule needs other domains' quorums too (all-of) is reported as such
//! ([`NotOpened::NeedsOtherDomains`]) with the part this agency recovered
//! ([`OpenReport::field_keys`]), and opens once the other domains' parts are given
//! ([`Agency::with_foreign_field_keys`]).

use escrow_service::transport::Credentials;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use escrow_crypto::{DataKey, Domain, EpochId, EpochPublicKey, Error as CryptoError, Label, MessageId, TrusteeIndex};
use escrow_proto::v1 as pb;
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use tonic::transport::Channel;

pub mod witnessed;

mod days;
mod errors;
mod exported;
mod open;
pub use days::DayOpenReport;
pub use errors::{describe, TrusteeError, TrusteeErrors, TrusteeFailure};
pub use open::{Progress, IN_FLIGHT};

// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod domains;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod stragglers;

/// Why opening failed as a whole (per-message failures are in the report).
#[derive(Debug, thiserror::Error)]
pub enum AgencyError {
    /// A transport endpoint is invalid.
    #[error(transparent)]
    Transport(#[from] escrow_service::transport::TransportError),
    /// The relay refused or failed.
    #[error("relay: {:?}: {}", .0.code(), .0.message())]
    Relay(tonic::Status),
    /// A blob from the relay or a trustee did not decode.
    #[error("{what}: {err}")]
    Blob {
        /// Which blob.
        what: String,
        /// The decoding error.
        err: CryptoError,
    },
    /// No trustee answered GetInfo, or they disagree on the epoch keys.
    #[error("trustees: {0}")]
    Trustees(String),
    /// The caller's sink could not take an opened message (writing it failed).
    #[error("writing an opened message: {0}")]
    Output(std::io::Error),
}

/// Why one in-scope message was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotOpened {
    /// No trustee reported a key for the message's epoch.
    #[error("no trustee holds a key for epoch {0}")]
    NoEpochKey(EpochId),
    /// The relay's export carried no key for the sender, so the envelope's signature
    /// cannot be checked.
    #[error("relay sent no key for sender {0}")]
    NoSenderKey(String),
    /// Too few valid shares, or the combined key does not match the field (names the
    /// culprits where there are any).
    #[error("{0}")]
    Combine(CryptoError),
    /// The envelope did not open with the combined key (bad signature or ciphertext).
    #[error("{0}")]
    Decrypt(CryptoError),
    /// A combining worker failed; the message is reported rather than lost.
    #[error("internal error while combining")]
    Internal,
    /// Opened in the day mode, but the envelope carries no day fields (its epoch is
    /// not announced with the day mode, or its sender left them out).
    #[error("the envelope carries no day fields")]
    NoDayFields,
    /// Opened in the day mode, but none of the message's parties is a target of the
    /// warrant (the relay exported it out of scope).
    #[error("no party of the message is a target of the warrant")]
    NoTarget,
    /// The envelope has domain fields, but none for the agency's domain (named): its
    /// trustees hold nothing for it, so they were not asked.
    #[error("the envelope carries no field for domain {0}")]
    NoFieldForDomain(String),
    /// The agency is set to the domain named, but the envelope is a single-domain one
    /// (its label names no domain, so no domain's trustees answer for it).
    #[error("the agency opens for domain {0}, but the envelope has no domain fields")]
    NotADomainEnvelope(String),
    /// The envelope has one field per domain, but the agency is not set to a domain
    /// ([`Agency::for_domain`]), so it cannot tell which field is its trustees'.
    #[error("the envelope has domain fields, but the agency is set to no domain")]
    NoAgencyDomain,
    /// Under all-of, the agency's own field key was recovered (and checked), but the
    /// body key needs every field's part: these domains' quorums are needed too
    /// (mutual legal assistance; see [`Agency::with_foreign_field_keys`]).
    #[error("all-of: the parts of domains {} are needed too", .0.join(", "))]
    NeedsOtherDomains(Vec<String>),
}

/// One domain's recovered field key for one message: what an agency hands a partner
/// agency under all-of, and what the partner gives it back
/// ([`Agency::with_foreign_field_keys`]). The key is only as good as the domain's
/// trustees who released it; the opener checks it against its field all the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldKey {
    /// The message (its id, from the message label every field shares).
    pub message: MessageId,
    /// The domain whose field carries the key.
    pub domain: Domain,
    /// That domain's epoch key for the field.
    pub epoch_key: EpochPublicKey,
    /// The key the field carries (under all-of, that domain's part of the body key).
    pub key: DataKey,
}

/// Other domains' recovered field keys, by message, for opening all-of messages.
#[derive(Debug, Clone, Default)]
pub struct ForeignFieldKeys(BTreeMap<MessageId, Vec<FieldKey>>);

impl ForeignFieldKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one domain's key for one message.
    pub fn insert(&mut self, key: FieldKey) {
        self.0.entry(key.message).or_default().push(key);
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys given for `message`, except for `ours` (the agency's own domain: its
    /// own trustees' key is the one used).
    pub(crate) fn for_message<'a>(
        &'a self,
        message: &MessageId,
        ours: &'a Domain,
    ) -> impl Iterator<Item = (&'a Domain, &'a EpochPublicKey, &'a DataKey)> + 'a {
        self.0
            .get(message)
            .into_iter()
            .flatten()
            .filter(move |k| &k.domain != ours)
            .map(|k| (&k.domain, &k.epoch_key, &k.key))
    }
}

impl FromIterator<FieldKey> for ForeignFieldKeys {
    fn from_iter<I: IntoIterator<Item = FieldKey>>(iter: I) -> Self {
        let mut keys = ForeignFieldKeys::new();
        for k in iter {
            keys.insert(k);
        }
        keys
    }
}

/// One trustee as the agency sees it.
#[derive(Debug, Clone)]
pub struct TrusteeHandle {
    /// Address it was reached at.
    pub addr: String,
    /// Its id (from GetInfo).
    pub id: String,
    /// Its index in the trustee set (from GetInfo); its shares must carry this index.
    pub index: TrusteeIndex,
    /// Most items per share request.
    pub max_items: usize,
    client: TrusteeClient<Channel>,
}

/// A message the agency opened.
#[derive(Debug, Clone)]
pub struct OpenedMessage {
    /// Relay sequence number.
    pub seq: u64,
    /// The message's label (sender, recipients, time).
    pub label: Label,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// What happened when opening a warrant's messages.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Envelopes the relay exported as in scope.
    pub exported: usize,
    /// Messages opened ([`Agency::open`]; [`Agency::open_into`] hands them to its sink
    /// instead and leaves this empty).
    pub opened: Vec<OpenedMessage>,
    /// How many messages were opened.
    pub opened_count: usize,
    /// Messages not opened (relay sequence number), with why.
    pub failed: Vec<(u64, NotOpened)>,
    /// Per trustee: every distinct error (refusal or outage), including trustees that
    /// were unreachable when the agency connected (named by address).
    pub trustee_errors: TrusteeErrors,
    /// Per trustee id: how many of its shares were invalid or mislabeled.
    pub culprits: BTreeMap<String, usize>,
    /// With a witness policy, per trustee id: why its shares were not used (no
    /// witnessed approval, or one that does not verify). The first reason is kept.
    pub unwitnessed: BTreeMap<String, witnessed::Unwitnessed>,
    /// Per trustee id: share requests opened without examining its answer, because
    /// every message in them already had t + 1 valid shares from the others (its
    /// request was then cancelled, or its shares, come too late, were not checked).
    /// The slowest trustees of each request are here; a paused or cut-off one is
    /// here for every request. Empty with [`Agency::check_every_trustee`].
    pub not_needed: BTreeMap<String, usize>,
    /// Under all-of, the field keys this agency recovered for messages it could not
    /// open alone ([`NotOpened::NeedsOtherDomains`]), by relay sequence number: its
    /// part, to hand to the agencies of the other domains.
    pub field_keys: Vec<(u64, FieldKey)>,
    /// Share requests made to every trustee (one per batch of messages that has
    /// anything to ask them).
    pub share_requests: usize,
    /// Wall time waiting for the relay's export pages (it runs beside the rest).
    pub export_time: Duration,
    /// Wall time waiting for trustees, summed over batches (up to [`IN_FLIGHT`]
    /// batches overlap).
    pub trustee_time: Duration,
    /// Wall time combining and decrypting (agency side, on every core), summed over
    /// batches.
    pub combine_time: Duration,
}

/// The agency's connections to the relay and the trustees.
#[derive(Debug, Clone)]
pub struct Agency {
    relay: RelayClient<Channel>,
    trustees: Vec<TrusteeHandle>,
    /// Unreachable trustees at connect time: (addr, status).
    pub unreachable: Vec<(String, tonic::Status)>,
    /// With pinned trustee keys: epoch keys the trustees serve that no announcement
    /// signed by all their holders states, and why. Messages of those epochs are not
    /// opened.
    pub unannounced: Vec<(EpochId, String)>,
    epochs: BTreeMap<EpochId, EpochPublicKey>,
    /// The keys the trustees serve for the epochs in `unannounced`.
    unannounced_keys: BTreeMap<EpochId, EpochPublicKey>,
    /// With a witness policy: shares count only with a witnessed approval.
    witness_policy: Option<Arc<escrow_log::Policy>>,
    /// Most items per share request, if smaller than the trustees' own limit.
    batch_size: Option<usize>,
    /// With a limit: wait for every trustee's answer and check every share.
    check_every: Option<Duration>,
    /// The escrow domain the agency (and so its trustees) belongs to; `None` in a
    /// deployment of one domain.
    domain: Option<Domain>,
    /// Other domains' field keys for all-of messages.
    foreign: Arc<ForeignFieldKeys>,
}

impl Agency {
    /// Connects to the relay and asks every trustee who it is. Trustees that do not
    /// answer are listed in [`Agency::unreachable`]; the rest must agree on epoch keys.
    pub async fn connect(
        relay_addr: &str,
        trustee_addrs: &[String],
        credentials: &Credentials,
    ) -> Result<Self, AgencyError> {
        Self::connect_with(relay_addr, trustee_addrs, credentials, None).await
    }

    /// [`Agency::connect`], believing an epoch key only when an announcement that every
    /// holder signed under `pins` states it (any trustee may serve the announcement;
    /// the signatures, not the server, make it true). Other keys land in
    /// [`Agency::unannounced`].
    pub async fn connect_with(
        relay_addr: &str,
        trustee_addrs: &[String],
        credentials: &Credentials,
        pins: Option<&escrow_crypto::TrusteePins>,
    ) -> Result<Self, AgencyError> {
        let relay = escrow_service::transport::relay_client(relay_addr, credentials)?;
        let mut trustees = Vec::new();
        let mut unreachable = Vec::new();
        let mut epochs: BTreeMap<EpochId, EpochPublicKey> = BTreeMap::new();
        let mut announced: Vec<EpochPublicKey> = Vec::new();
        let infos = futures_join(trustee_addrs.iter().map(|addr| {
            let (addr, credentials) = (addr.clone(), credentials.clone());
            async move {
                let mut client = escrow_service::transport::trustee_client(&addr, &credentials)?;
                let info = client.get_info(pb::GetInfoRequest {}).await;
                Ok::<_, AgencyError>((addr, client, info))
            }
        }))
        .await;
        for r in infos {
            let (addr, client, info) = r?;
            let info = match info {
                Ok(i) => i.into_inner(),
                Err(s) => {
                    unreachable.push((addr, s));
                    continue;
                }
            };
            if let Some(pins) = pins {
                for a in &info.announcements {
                    if let Ok(v) = escrow_crypto::SignedAnnouncement::from_bytes(a).and_then(|s| s.verify(pins)) {
                        announced.push(v.key_set().clone());
                    }
                }
            }
            for blob in &info.epoch_public_keys {
                let epk = EpochPublicKey::from_bytes(blob)
                    .map_err(|err| AgencyError::Blob { what: format!("epoch key from {addr}"), err })?;
                match epochs.get(&epk.epoch()) {
                    Some(known) if known != &epk => {
                        return Err(AgencyError::Trustees(format!(
                            "trustee {} serves a different public key for epoch {}",
                            info.trustee_id,
                            epk.epoch()
                        )))
                    }
                    _ => {
                        epochs.insert(epk.epoch(), epk);
                    }
                }
            }
            let index = u16::try_from(info.index).map(TrusteeIndex).map_err(|_| {
                AgencyError::Trustees(format!("trustee {} reports index {}", info.trustee_id, info.index))
            })?;
            trustees.push(TrusteeHandle {
                addr,
                id: info.trustee_id,
                index,
                max_items: usize::try_from(info.max_items_per_request).unwrap_or(1).max(1),
                client,
            });
        }
        let mut unannounced = Vec::new();
        let mut unannounced_keys = BTreeMap::new();
        if pins.is_some() {
            epochs.retain(|epoch, key| {
                let ok = announced.contains(key);
                if !ok {
                    unannounced.push((*epoch, "no announcement signed by all its holders states this key set".into()));
                    unannounced_keys.insert(*epoch, key.clone());
                }
                ok
            });
        }
        Ok(Agency {
            relay,
            trustees,
            unreachable,
            unannounced,
            epochs,
            unannounced_keys,
            witness_policy: None,
            batch_size: None,
            check_every: None,
            domain: None,
            foreign: Arc::default(),
        })
    }

    /// Believes `key` for its epoch without an announcement: weak mode, where a
    /// dealer made the key and no ceremony announced it, and the agency holds the
    /// key's file. The trustees must serve exactly this key for that epoch.
    pub fn believe_unannounced(&mut self, key: &EpochPublicKey) -> Result<(), AgencyError> {
        let epoch = key.epoch();
        let served = self.unannounced_keys.get(&epoch).or_else(|| self.epochs.get(&epoch));
        match served {
            Some(s) if s == key => {
                self.unannounced_keys.remove(&epoch);
                self.unannounced.retain(|(e, _)| *e != epoch);
                self.epochs.insert(epoch, key.clone());
                Ok(())
            }
            Some(_) => Err(AgencyError::Trustees(format!(
                "the trustees serve a different public key for epoch {epoch} than the pinned one"
            ))),
            None => Err(AgencyError::Trustees(format!("no trustee serves a public key for epoch {epoch}"))),
        }
    }

    /// From now on, uses a trustee's shares only if its answer proves, under `policy`
    /// (every trustee's log key, the witnesses, the quorum), that the warrant's
    /// receipt and approval are in a witnessed checkpoint of its log
    /// ([`witnessed::verify`]). Shares without that proof are refused and the
    /// trustee is listed in [`OpenReport::unwitnessed`].
    pub fn require_witnessed(mut self, policy: escrow_log::Policy) -> Self {
        self.witness_policy = Some(Arc::new(policy));
        self
    }

    /// Asks for at most `n` items per share request (at least 1; never more than the
    /// trustees accept, nor 500). Smaller requests report progress more often and
    /// hold less in memory; larger ones cost fewer round trips.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n.max(1));
        self
    }

    /// Sets the agency to escrow domain `domain`: it opens envelopes with domain fields
    /// by `domain`'s field, the only one its trustees answer for. The trustees it
    /// connected to must be `domain`'s, so its epoch keys are that domain's (each
    /// domain has its own key, possibly under the same epoch number as another's).
    /// Single-domain envelopes then fail ([`NotOpened::NotADomainEnvelope`]).
    pub fn for_domain(mut self, domain: Domain) -> Self {
        self.domain = Some(domain);
        self
    }

    /// The domain the agency is set to, if any.
    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }

    /// Gives the agency other domains' recovered field keys (from their agencies,
    /// under mutual legal assistance), so that all-of messages open once every
    /// domain's part is in: each key is checked against its own field before use,
    /// so a wrong one fails the message ([`NotOpened::Decrypt`]) and never opens it.
    pub fn with_foreign_field_keys(mut self, keys: ForeignFieldKeys) -> Self {
        self.foreign = Arc::new(keys);
        self
    }

    /// From now on, waits for every trustee's answer to each share request (up to
    /// `limit` each, then it counts as a `DEADLINE_EXCEEDED` error) and checks every
    /// share, so that [`OpenReport::culprits`] names every trustee that sent a bad
    /// one and [`OpenReport::unwitnessed`] every one without its proof. By default
    /// a batch is opened with the first t + 1 valid shares and later answers are not
    /// examined: faster, and a trustee that is down costs nothing, but a lie that
    /// arrived too late to matter goes unnamed.
    pub fn check_every_trustee(mut self, limit: Duration) -> Self {
        self.check_every = Some(limit);
        self
    }

    /// The trustees that answered.
    pub fn trustees(&self) -> &[TrusteeHandle] {
        &self.trustees
    }

    /// Submits a warrant to every reachable trustee; one result per trustee.
    pub async fn submit_warrant(&self, warrant: &[u8]) -> Vec<(String, Result<pb::WarrantStatus, tonic::Status>)> {
        submit_to_every_trustee(self.trustees.iter().map(|t| (t.id.clone(), t.client.clone())), warrant).await
    }

    /// Exports, gathers shares, combines and decrypts every message in the warrant's
    /// scope, keeping every plaintext in [`OpenReport::opened`]: for a few messages
    /// (tests, the demo). [`Agency::open_into`] holds only a few batches at a time.
    pub async fn open(
        &self,
        warrant: &[u8],
        progress: impl Fn(Progress) + Send + Sync,
    ) -> Result<OpenReport, AgencyError> {
        let mut opened = Vec::new();
        let mut report = self
            .open_into(
                warrant,
                |m| {
                    opened.push(m);
                    Ok(())
                },
                progress,
            )
            .await?;
        report.opened = opened;
        Ok(report)
    }

    /// Opens every message in the warrant's scope as a pipeline in bounded memory
    /// (see `open.rs`): the export page by page, each batch asked of every trustee at
    /// once and combined as soon as its messages have t + 1 shares, each opened
    /// message handed to `sink` as its batch finishes, in relay order. `progress` is
    /// called after each batch. A `sink` error stops the open and is returned.
    pub async fn open_into(
        &self,
        warrant: &[u8],
        mut sink: impl FnMut(OpenedMessage) -> std::io::Result<()> + Send,
        progress: impl Fn(Progress) + Send + Sync,
    ) -> Result<OpenReport, AgencyError> {
        let mut report = OpenReport::default();
        for (addr, s) in &self.unreachable {
            report.trustee_errors.record(addr, s);
        }
        let served = self.trustees.iter().map(|t| t.max_items).min().unwrap_or(1).clamp(1, 500);
        let batch = self.batch_size.map_or(served, |b| b.min(served));
        let shared = Arc::new(open::Shared {
            trustees: self.trustees.clone(),
            epochs: self.epochs.clone(),
            witness_policy: self.witness_policy.clone(),
            warrant_id: warrant_id(warrant),
            every: self.check_every,
            domain: self.domain.clone(),
            foreign: self.foreign.clone(),
        });
        let (batches, exporting) = open::export(self.relay.clone(), warrant.to_vec(), batch);
        let ran = open::run(shared, batches, &mut report, &mut sink, &progress).await;
        // The export ends once its receiver is gone (on an error) or it is complete.
        report.export_time = exporting.await.unwrap_or_default();
        ran.map(|()| report)
    }
}

fn warrant_id(warrant: &[u8]) -> Vec<u8> {
    // The trustees verify the warrant themselves, so a malformed blob only makes them
    // answer INVALID_ARGUMENT.
    escrow_crypto::peek_warrant_id(warrant).map(|w| w.0.to_vec()).unwrap_or_default()
}

/// Submits `warrant` to every trustee given (name, client), concurrently; one answer
/// per trustee, in the order given. The one way every caller submits.
pub async fn submit_to_every_trustee(
    trustees: impl IntoIterator<Item = (String, TrusteeClient<Channel>)>,
    warrant: &[u8],
) -> Vec<(String, Result<pb::WarrantStatus, tonic::Status>)> {
    futures_join(trustees.into_iter().map(|(name, mut c)| {
        let w = warrant.to_vec();
        async move { (name, c.submit_warrant(pb::SubmitWarrantRequest { warrant: w }).await.map(|r| r.into_inner())) }
    }))
    .await
}

/// Runs futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}
