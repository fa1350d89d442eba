//! The agency's side of lawful access.
//!
//! [`Agency::open`] exports the envelopes inside a warrant's scope from the relay, asks
//! every trustee for decryption shares concurrently, binds each share to the trustee
//! that sent it, verifies every share (naming any trustee whose share is bad),
//! combines the first t+1 good ones, checks the field carries the recovered key, and
//! decrypts. Nothing here is trusted by the trustees: they check everything again.

use escrow_service::transport::Credentials;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use escrow_crypto::{
    DecryptionShare, Envelope, EpochId, EpochPublicKey, Error as CryptoError, Label, TrusteeIndex, UserPublicKey,
};
use escrow_proto::v1 as pb;
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use tonic::transport::Channel;

pub mod witnessed;

mod errors;
pub use errors::{describe, TrusteeError, TrusteeErrors, TrusteeFailure};

// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod stragglers;

/// Envelopes fetched from the relay per export page.
const EXPORT_PAGE: u32 = 500;

/// The least a share request waits for the remaining trustees once every item in it
/// has its t + 1 shares from the others. A trustee that is up answers within about the
/// time the others took; one that is paused, overloaded or behind a dead link would
/// hold every batch until the transport's request timeout (two minutes), which only
/// matters if the shares it holds back are needed, and then they are asked for again
/// (see [`Agency::open`]).
pub const STRAGGLER_GRACE: Duration = Duration::from_secs(2);

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
    /// Messages opened.
    pub opened: Vec<OpenedMessage>,
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
    /// Per trustee id: share requests whose answer was not waited for, because every
    /// message in them already had its t + 1 shares from the others and this trustee
    /// had not answered within the straggler grace.
    pub not_waited_for: BTreeMap<String, usize>,
    /// Share requests made to every trustee (one per batch of messages).
    pub share_requests: usize,
    /// Wall time in the relay export.
    pub export_time: Duration,
    /// Wall time waiting for trustees.
    pub trustee_time: Duration,
    /// CPU-bound time combining and decrypting (agency side).
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
    /// The least a share request waits for the remaining trustees once the others'
    /// shares suffice.
    straggler_grace: Duration,
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
            straggler_grace: STRAGGLER_GRACE,
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

    /// How long a share request waits, at least, for the remaining trustees once
    /// every message in it has its t + 1 shares from the others (default
    /// [`STRAGGLER_GRACE`]; it waits as long again as the others took if that is
    /// longer). A trustee not waited for is counted in
    /// [`OpenReport::not_waited_for`]; if the others' shares then fail to open a
    /// message, that trustee is asked again for it and waited for.
    pub fn with_straggler_grace(mut self, grace: Duration) -> Self {
        self.straggler_grace = grace;
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
    /// scope. `progress(done, total)` is called after each batch.
    ///
    /// Each batch is asked of every trustee at once. A batch does not wait out a
    /// trustee that is slow once the others' shares suffice (see
    /// [`Agency::with_straggler_grace`]); where those shares then fail to open a
    /// message (a trustee sent bad ones), the trustees not waited for are asked again
    /// for that message, and waited for up to the request timeout.
    pub async fn open(
        &self,
        warrant: &[u8],
        progress: impl Fn(usize, usize) + Send + Sync,
    ) -> Result<OpenReport, AgencyError> {
        let mut report = OpenReport::default();
        for (addr, s) in &self.unreachable {
            report.trustee_errors.record(addr, s);
        }
        let t0 = Instant::now();
        let (envelopes, senders) = self.export(warrant).await?;
        report.export_time = t0.elapsed();
        report.exported = envelopes.len();
        self.open_exported(&mut report, &warrant_id(warrant), &envelopes, senders, progress).await?;
        Ok(report)
    }

    /// [`Agency::open`] after the export: shares for `envelopes` under warrant `id`,
    /// gathered batch by batch, combined and decrypted into `report`.
    async fn open_exported(
        &self,
        report: &mut OpenReport,
        id: &[u8],
        envelopes: &[(u64, Envelope)],
        senders: HashMap<String, UserPublicKey>,
        progress: impl Fn(usize, usize) + Send + Sync,
    ) -> Result<(), AgencyError> {
        let served = self.trustees.iter().map(|t| t.max_items).min().unwrap_or(1).clamp(1, 500);
        let batch = self.batch_size.map_or(served, |b| b.min(served));
        let total = envelopes.len();
        let senders = Arc::new(senders);
        let epochs = Arc::new(self.epochs.clone());
        let mut done = 0;
        // The trustees not waited for in the last request: the next one does not wait
        // for them at all once the others' shares suffice (one grace per stall, not
        // one per request). They are still asked, and count again once they answer.
        let mut slow: Vec<String> = Vec::new();
        for chunk in envelopes.chunks(batch) {
            let items: Vec<pb::EscrowItem> = chunk
                .iter()
                .map(|(_, e)| pb::EscrowItem { label: e.label().to_bytes(), field: e.field().to_bytes() })
                .collect();
            // What each item needs: its epoch's t + 1 (nothing if no key is known for it).
            let needed: Vec<usize> =
                chunk.iter().map(|(_, e)| self.epochs.get(&e.label().epoch()).map_or(0, |k| k.quorum())).collect();
            // shares[j] = the shares for item j, each bound to the trustee that sent it.
            let mut shares: Vec<Vec<DecryptionShare>> = vec![Vec::new(); chunk.len()];
            let t1 = Instant::now();
            report.share_requests += 1;
            let wait = Wait::Enough { needed: &needed, slow: &slow };
            let cut = self.ask(&self.trustees, id, &items, wait, &mut shares, report).await;
            report.trustee_time += t1.elapsed();
            for t in &cut {
                *report.not_waited_for.entry(t.id.clone()).or_default() += 1;
            }
            slow = cut.iter().map(|t| t.id.clone()).collect();
            let t2 = Instant::now();
            let mut outcomes = combine(chunk, &shares, &senders, &epochs).await?;
            report.combine_time += t2.elapsed();
            // The others' shares did not open some messages (too few were valid): ask
            // the trustees not waited for again, for those only, and wait for them.
            let retry: Vec<usize> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, (_, _, o))| matches!(o, Err(NotOpened::Combine(_))))
                .map(|(j, _)| j)
                .collect();
            if !cut.is_empty() && !retry.is_empty() {
                let again: Vec<pb::EscrowItem> = retry.iter().filter_map(|&j| items.get(j).cloned()).collect();
                let mut more: Vec<Vec<DecryptionShare>> = vec![Vec::new(); again.len()];
                let t3 = Instant::now();
                self.ask(&cut, id, &again, Wait::All, &mut more, report).await;
                report.trustee_time += t3.elapsed();
                let subset: Vec<(u64, Envelope)> = retry.iter().filter_map(|&j| chunk.get(j).cloned()).collect();
                let merged: Vec<Vec<DecryptionShare>> = retry
                    .iter()
                    .zip(more)
                    .map(|(&j, more)| shares.get(j).into_iter().flatten().cloned().chain(more).collect())
                    .collect();
                let t4 = Instant::now();
                let second = combine(&subset, &merged, &senders, &epochs).await?;
                report.combine_time += t4.elapsed();
                for (&j, outcome) in retry.iter().zip(second) {
                    if let Some(slot) = outcomes.get_mut(j) {
                        *slot = outcome;
                    }
                }
            }
            for (seq, label, outcome) in outcomes {
                match outcome {
                    Ok((plaintext, culprits)) => {
                        for c in culprits {
                            if let Some(t) = self.trustees.iter().find(|t| t.index == c) {
                                *report.culprits.entry(t.id.clone()).or_default() += 1;
                            }
                        }
                        report.opened.push(OpenedMessage { seq, label, plaintext });
                    }
                    Err(e) => report.failed.push((seq, e)),
                }
            }
            done += chunk.len();
            progress(done, total);
        }
        Ok(())
    }

    /// Asks `trustees` concurrently for shares of `items`, taking each answer into
    /// `shares` as it arrives, and waits as `wait` says. Returns the trustees it
    /// stopped waiting for (their requests are cancelled).
    async fn ask(
        &self,
        trustees: &[TrusteeHandle],
        id: &[u8],
        items: &[pb::EscrowItem],
        wait: Wait<'_>,
        shares: &mut [Vec<DecryptionShare>],
        report: &mut OpenReport,
    ) -> Vec<TrusteeHandle> {
        let mut pending = tokio::task::JoinSet::new();
        for (k, t) in trustees.iter().enumerate() {
            let mut c = t.client.clone();
            let req = pb::RequestSharesRequest { warrant_id: id.to_vec(), items: items.to_vec() };
            pending.spawn(async move { (k, c.request_shares(req).await) });
        }
        let started = Instant::now();
        let mut answered = vec![false; trustees.len()];
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                None => pending.join_next().await,
                Some(d) => match tokio::time::timeout_at(d, pending.join_next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            let Some(joined) = next else { break };
            let (k, answer) = match joined {
                Ok(v) => v,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => continue,
            };
            let (Some(t), Some(flag)) = (trustees.get(k), answered.get_mut(k)) else { continue };
            *flag = true;
            self.take_answer(t, id, answer, shares, report);
            let Wait::Enough { needed, slow } = wait else { continue };
            if !shares.iter().zip(needed).all(|(s, n)| s.len() >= *n) {
                continue;
            }
            let only_slow_left = trustees.iter().zip(&answered).all(|(t, a)| *a || slow.contains(&t.id));
            if only_slow_left {
                break;
            }
            if deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + self.straggler_grace.max(started.elapsed()));
            }
        }
        pending.abort_all();
        trustees.iter().zip(answered).filter(|(_, a)| !a).map(|(t, _)| t.clone()).collect()
    }

    /// Takes trustee `t`'s answer to a share request into `shares` (slot j = item j):
    /// shares bound to it only, only with its witnessed approval where that is
    /// required; its errors, missing proof and bad shares go into `report`.
    fn take_answer(
        &self,
        t: &TrusteeHandle,
        id: &[u8],
        answer: Result<tonic::Response<pb::RequestSharesResponse>, tonic::Status>,
        shares: &mut [Vec<DecryptionShare>],
        report: &mut OpenReport,
    ) {
        let resp = match answer {
            Ok(r) => r.into_inner(),
            Err(s) => {
                report.trustee_errors.record(&t.id, &s);
                return;
            }
        };
        if let Some(policy) = &self.witness_policy {
            let wid = <[u8; 16]>::try_from(id).unwrap_or_default();
            if let Err(why) = witnessed::verify(policy, &t.id, &wid, resp.witnessed.as_ref()) {
                tracing::warn!(trustee = %t.id, reason = %why, "shares refused: not witnessed");
                report.unwitnessed.entry(t.id.clone()).or_insert(why);
                return;
            }
        }
        if resp.shares.len() != shares.len() {
            *report.culprits.entry(t.id.clone()).or_default() += shares.len();
            return;
        }
        for (slot, blob) in shares.iter_mut().zip(&resp.shares) {
            match DecryptionShare::from_bytes(blob) {
                // A share claiming another trustee's index is that trustee's fault
                // no matter what it contains: it could only block or confuse.
                Ok(s) if s.trustee() == t.index => slot.push(s),
                _ => *report.culprits.entry(t.id.clone()).or_default() += 1,
            }
        }
    }

    /// Every in-scope envelope from the relay, with the senders' keys.
    async fn export(
        &self,
        warrant: &[u8],
    ) -> Result<(Vec<(u64, Envelope)>, HashMap<String, UserPublicKey>), AgencyError> {
        let mut relay = self.relay.clone();
        let mut after = 0;
        let mut out = Vec::new();
        let mut senders = HashMap::new();
        loop {
            let page = relay
                .export(pb::ExportRequest { warrant: warrant.to_vec(), after_seq: after, limit: EXPORT_PAGE })
                .await
                .map_err(AgencyError::Relay)?
                .into_inner();
            for k in &page.sender_keys {
                let pk = UserPublicKey::from_bytes(k)
                    .map_err(|err| AgencyError::Blob { what: "sender key from relay".into(), err })?;
                senders.insert(pk.id().to_string(), pk);
            }
            for s in &page.envelopes {
                let env = Envelope::from_bytes(&s.envelope)
                    .map_err(|err| AgencyError::Blob { what: format!("envelope {} from relay", s.seq), err })?;
                after = after.max(s.seq);
                out.push((s.seq, env));
            }
            if !page.more || page.envelopes.is_empty() {
                break;
            }
        }
        Ok((out, senders))
    }
}

type Outcome = (u64, Label, Result<(Vec<u8>, Vec<TrusteeIndex>), NotOpened>);

/// How long [`Agency::ask`] waits for answers.
#[derive(Clone, Copy)]
enum Wait<'a> {
    /// For every trustee (each request ends by the transport's timeout).
    All,
    /// Until item j has `needed[j]` shares; then for the rest as long again as that
    /// took, at least the straggler grace, and not at all for the trustees in `slow`.
    Enough { needed: &'a [usize], slow: &'a [String] },
}

/// [`combine_all`] off the async threads: one outcome per envelope, in order.
async fn combine(
    envelopes: &[(u64, Envelope)],
    shares: &[Vec<DecryptionShare>],
    senders: &Arc<HashMap<String, UserPublicKey>>,
    epochs: &Arc<BTreeMap<EpochId, EpochPublicKey>>,
) -> Result<Vec<Outcome>, AgencyError> {
    let work: Vec<(u64, Envelope, Vec<DecryptionShare>)> =
        envelopes.iter().zip(shares).map(|((seq, e), s)| (*seq, e.clone(), s.clone())).collect();
    let (senders, epochs) = (senders.clone(), epochs.clone());
    tokio::task::spawn_blocking(move || combine_all(&work, &senders, &epochs))
        .await
        .map_err(|e| AgencyError::Trustees(format!("combine task failed: {e}")))
}

/// Combines and decrypts a batch on all cores.
fn combine_all(
    work: &[(u64, Envelope, Vec<DecryptionShare>)],
    senders: &HashMap<String, UserPublicKey>,
    epochs: &BTreeMap<EpochId, EpochPublicKey>,
) -> Vec<Outcome> {
    let one = |(seq, env, shares): &(u64, Envelope, Vec<DecryptionShare>)| -> Outcome {
        let label = env.label().clone();
        let r = (|| {
            let epk = epochs.get(&label.epoch()).ok_or(NotOpened::NoEpochKey(label.epoch()))?;
            let sender = senders
                .get(label.sender().as_str())
                .ok_or_else(|| NotOpened::NoSenderKey(label.sender().to_string()))?;
            let opened = epk.combine(env.field(), &label, shares).map_err(NotOpened::Combine)?;
            let pt = env.open_with_data_key(&opened.data_key, sender, epk).map_err(NotOpened::Decrypt)?;
            Ok((pt, opened.culprits))
        })();
        (*seq, label, r)
    };
    escrow_service::par::par_map(
        work,
        |_, w| one(w),
        // A panicking worker must not make messages vanish from the report.
        |_, (seq, env, _)| (*seq, env.label().clone(), Err(NotOpened::Internal)),
    )
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
