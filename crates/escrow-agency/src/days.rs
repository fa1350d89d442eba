//! Opening a warrant's messages in the day mode: one day key per (epoch, target, UTC
//! day) that has traffic, extracted from t + 1 trustees once and then used for every
//! message of that target and day, with no trustee asked about any message.
//!
//! - The relay's export is read batch by batch, as the per-message mode reads it
//!   (`open::export`).
//! - For each batch, the day keys not yet held are asked of every trustee at once
//!   (`ExtractDayKeys`, in requests of at most the trustees' item limit). Each key is
//!   combined as soon as t + 1 of its shares verify (`combine_day_key` checks every
//!   share it is given and names the bad ones); the requests still in flight are then
//!   cancelled. With a witness policy, a trustee's shares count only with a witnessed
//!   approval, as in the per-message mode.
//! - Each message is opened with the day key of the first of its parties the warrant
//!   names (`Envelope::open_with_day_key`: the sender's signature, the key's day and
//!   party, the day field's re-encryption check), on every core, and handed to the
//!   sink in relay order.
//!
//! The keys are held for the whole open: one per target and day, a few thousand at
//! most, whatever the number of messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use escrow_crypto::{DayId, DayKey, Envelope, EpochPublicKey, ExtractionShare, PartyId, UserPublicKey};
use escrow_proto::v1 as pb;

use crate::errors::TrusteeErrors;
use crate::open::{self, Batch, Exported, Progress};
use crate::{witnessed, Agency, AgencyError, NotOpened, OpenedMessage, TrusteeHandle};

/// What happened when opening a warrant's messages in the day mode.
#[derive(Debug, Default)]
pub struct DayOpenReport {
    /// Envelopes the relay exported as in scope.
    pub exported: usize,
    /// How many messages were opened.
    pub opened_count: usize,
    /// Messages not opened (relay sequence number), with why.
    pub failed: Vec<(u64, NotOpened)>,
    /// Day keys combined: one per (epoch, target, day) with traffic.
    pub day_keys: usize,
    /// Day keys that could not be combined, with why (their messages are in `failed`).
    pub day_keys_failed: Vec<(DayId, NotOpened)>,
    /// `ExtractDayKeys` requests made to every trustee.
    pub key_requests: usize,
    /// Per trustee: every distinct error (refusal or outage).
    pub trustee_errors: TrusteeErrors,
    /// Per trustee id: how many of its extraction shares were invalid.
    pub culprits: BTreeMap<String, usize>,
    /// With a witness policy, per trustee id: why its shares were not used.
    pub unwitnessed: BTreeMap<String, witnessed::Unwitnessed>,
    /// Wall time waiting for the relay's export.
    pub export_time: Duration,
    /// Wall time waiting for trustees' extraction shares and combining day keys.
    pub key_time: Duration,
    /// Wall time opening messages with day keys (on every core).
    pub open_time: Duration,
}

impl Agency {
    /// Opens every message in the warrant's scope with day keys ([`DayOpenReport`]),
    /// handing each opened message to `sink` in relay order.
    pub async fn open_days_into(
        &self,
        warrant: &[u8],
        mut sink: impl FnMut(OpenedMessage) -> std::io::Result<()> + Send,
        progress: impl Fn(Progress) + Send + Sync,
    ) -> Result<DayOpenReport, AgencyError> {
        let mut report = DayOpenReport::default();
        for (addr, s) in &self.unreachable {
            report.trustee_errors.record(addr, s);
        }
        // Whose day keys to ask for: the targets the warrant names (the trustees verify
        // the warrant and refuse any other party).
        let targets: BTreeSet<PartyId> = escrow_crypto::peek_warrant_targets(warrant)
            .ok_or_else(|| AgencyError::Trustees("the warrant does not decode: no targets to ask day keys for".into()))?
            .into_iter()
            .collect();
        let warrant_id = crate::warrant_id(warrant);
        let served = self.trustees.iter().map(|t| t.max_items).min().unwrap_or(1).clamp(1, 500);
        let (mut batches, exporting) = open::export(self.relay.clone(), warrant.to_vec(), served);
        let mut keys: HashMap<DayId, Arc<DayKey>> = HashMap::new();
        let mut failed_keys: HashMap<DayId, NotOpened> = HashMap::new();
        let mut done = 0;
        let result = loop {
            let batch = match batches.recv().await {
                Some(Ok(b)) => b,
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            };
            report.exported += batch.envelopes.len();
            let t0 = Instant::now();
            let missing: BTreeSet<DayId> = batch
                .envelopes
                .iter()
                .filter_map(|(_, env)| env.single().and_then(|env| day_of(env, &targets).ok()))
                .filter(|id| !keys.contains_key(id) && !failed_keys.contains_key(id))
                .collect();
            if !missing.is_empty() {
                let got = self.extract(&warrant_id, missing, served, &mut report).await;
                for (id, key) in got {
                    match key {
                        Ok(k) => {
                            report.day_keys += 1;
                            keys.insert(id, Arc::new(k));
                        }
                        Err(why) => {
                            report.day_keys_failed.push((id.clone(), why.clone()));
                            failed_keys.insert(id, why);
                        }
                    }
                }
            }
            report.key_time += t0.elapsed();
            let t1 = Instant::now();
            let outcomes = open_batch(batch, &targets, &keys, &failed_keys).await?;
            report.open_time += t1.elapsed();
            done += outcomes.len();
            let mut out = Ok(());
            for (seq, outcome) in outcomes {
                match outcome {
                    Ok((label, plaintext)) => {
                        report.opened_count += 1;
                        if let Err(e) = sink(OpenedMessage { seq, label, plaintext }) {
                            out = Err(AgencyError::Output(e));
                            break;
                        }
                    }
                    Err(why) => report.failed.push((seq, why)),
                }
            }
            if let Err(e) = out {
                break Err(e);
            }
            progress(Progress { done, exported: report.exported, export_complete: false });
        };
        drop(batches);
        report.export_time = exporting.await.unwrap_or_default();
        if result.is_ok() {
            // The export ended: now `exported` is the total.
            progress(Progress { done, exported: report.exported, export_complete: true });
        }
        result.map(|()| report)
    }

    /// Asks every trustee for the extraction shares of `ids` (in requests of at most
    /// `per_request` days) and combines each key as soon as t + 1 of its shares verify.
    async fn extract(
        &self,
        warrant_id: &[u8],
        ids: BTreeSet<DayId>,
        per_request: usize,
        report: &mut DayOpenReport,
    ) -> Vec<(DayId, Result<DayKey, NotOpened>)> {
        let ids: Vec<DayId> = ids.into_iter().collect();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(per_request) {
            report.key_requests += 1;
            out.extend(self.extract_chunk(warrant_id, chunk, report).await);
        }
        out
    }

    async fn extract_chunk(
        &self,
        warrant_id: &[u8],
        ids: &[DayId],
        report: &mut DayOpenReport,
    ) -> Vec<(DayId, Result<DayKey, NotOpened>)> {
        let days: Vec<pb::DayKeyItem> = ids
            .iter()
            .map(|id| pb::DayKeyItem { epoch: id.epoch().0, party: id.party().to_string(), day: id.day() })
            .collect();
        let mut pending = tokio::task::JoinSet::new();
        for (k, t) in self.trustees.iter().enumerate() {
            let mut c = t.client.clone();
            let req = pb::ExtractDayKeysRequest { warrant_id: warrant_id.to_vec(), days: days.clone() };
            let limit = self.check_every;
            pending.spawn(async move {
                let answer = match limit {
                    None => c.extract_day_keys(req).await,
                    Some(limit) => tokio::time::timeout(limit, c.extract_day_keys(req)).await.unwrap_or_else(|_| {
                        Err(tonic::Status::deadline_exceeded(format!("no answer within {} s", limit.as_secs_f64())))
                    }),
                };
                (k, answer)
            });
        }
        let mut shares: Vec<Vec<ExtractionShare>> = vec![Vec::new(); ids.len()];
        let mut keys: Vec<Option<Result<DayKey, NotOpened>>> = (0..ids.len()).map(|_| None).collect();
        while let Some(joined) = pending.join_next().await {
            let Ok((k, answer)) = joined else { continue };
            let Some(t) = self.trustees.get(k) else { continue };
            if let Some(got) = self.take_answer(t, warrant_id, answer, ids.len(), report) {
                for (slot, s) in shares.iter_mut().zip(got) {
                    slot.push(s);
                }
            }
            // Combine every key that has enough shares now and keep waiting for the
            // rest; checking every trustee, combine once every answer is in, so that
            // every share is examined.
            if self.check_every.is_some() && !pending.is_empty() {
                continue;
            }
            for (j, id) in ids.iter().enumerate() {
                let (Some(slot), Some(have)) = (keys.get_mut(j), shares.get_mut(j)) else { continue };
                if slot.as_ref().is_some_and(Result::is_ok) {
                    continue;
                }
                let Some(epk) = self.epochs.get(&id.epoch()) else {
                    *slot = Some(Err(NotOpened::NoEpochKey(id.epoch())));
                    continue;
                };
                if have.len() >= epk.quorum() {
                    let (key, culprits) = combine(epk, id, have);
                    // A bad share is named once, and not examined again.
                    have.retain(|s| !culprits.contains(&s.trustee()));
                    for c in culprits {
                        if let Some(t) = self.trustees.iter().find(|t| t.index == c) {
                            *report.culprits.entry(t.id.clone()).or_default() += 1;
                        }
                    }
                    *slot = Some(key);
                }
            }
            if self.check_every.is_none() && keys.iter().all(|k| k.as_ref().is_some_and(Result::is_ok)) {
                break;
            }
        }
        pending.abort_all();
        ids.iter()
            .cloned()
            .zip(keys)
            .map(|(id, k)| {
                let k = k.unwrap_or_else(|| {
                    Err(NotOpened::Combine(escrow_crypto::Error::NotEnoughExtractionShares {
                        valid: 0,
                        needed: self.epochs.get(&id.epoch()).map_or(0, EpochPublicKey::quorum),
                        culprits: Vec::new(),
                    }))
                });
                (id, k)
            })
            .collect()
    }

    /// One trustee's answer: its shares in request order, if it answered every day
    /// with a well-formed share of its own index and (with a witness policy) a
    /// witnessed approval; otherwise recorded against it.
    fn take_answer(
        &self,
        t: &TrusteeHandle,
        warrant_id: &[u8],
        answer: Result<tonic::Response<pb::ExtractDayKeysResponse>, tonic::Status>,
        expected: usize,
        report: &mut DayOpenReport,
    ) -> Option<Vec<ExtractionShare>> {
        let resp = match answer {
            Ok(r) => r.into_inner(),
            Err(s) => {
                report.trustee_errors.record(&t.id, &s);
                return None;
            }
        };
        if let Some(policy) = &self.witness_policy {
            let wid: [u8; 16] = warrant_id.try_into().unwrap_or_default();
            if let Err(why) = witnessed::verify(policy, &t.id, &wid, resp.witnessed.as_ref()) {
                report.unwitnessed.entry(t.id.clone()).or_insert(why);
                return None;
            }
        }
        let shares: Option<Vec<ExtractionShare>> = resp
            .shares
            .iter()
            .map(|b| ExtractionShare::from_bytes(b).ok().filter(|s| s.trustee() == t.index))
            .collect();
        match shares.filter(|s| s.len() == expected) {
            Some(s) => Some(s),
            None => {
                *report.culprits.entry(t.id.clone()).or_default() += 1;
                None
            }
        }
    }
}

/// Combines `id`'s key from `shares`, each checked, and names the trustees whose
/// shares did not verify.
fn combine(
    epk: &EpochPublicKey,
    id: &DayId,
    shares: &[ExtractionShare],
) -> (Result<DayKey, NotOpened>, Vec<escrow_crypto::TrusteeIndex>) {
    match epk.combine_day_key(id, shares) {
        Ok((key, culprits)) => (Ok(key), culprits),
        Err(e) => {
            let culprits = match &e {
                escrow_crypto::Error::NotEnoughExtractionShares { culprits, .. } => culprits.clone(),
                _ => Vec::new(),
            };
            (Err(NotOpened::Combine(e)), culprits)
        }
    }
}

/// The day key a message is opened with: that of the first of its parties the warrant
/// names, for the message's epoch and day.
fn day_of(env: &Envelope, targets: &BTreeSet<PartyId>) -> Result<DayId, NotOpened> {
    if !env.has_day_fields() {
        return Err(NotOpened::NoDayFields);
    }
    let label = env.label();
    let party = label.parties().find(|p| targets.contains(*p)).ok_or(NotOpened::NoTarget)?;
    DayId::of(label, party).map_err(NotOpened::Decrypt)
}

type Outcome = (u64, Result<(escrow_crypto::Label, Vec<u8>), NotOpened>);

/// What opening one message takes: its day key, the party it is for, the sender's key.
type Ready = Result<(Arc<DayKey>, PartyId, UserPublicKey), NotOpened>;

/// Opens a batch with the day keys held, on every core, in relay order.
async fn open_batch(
    batch: Batch,
    targets: &BTreeSet<PartyId>,
    keys: &HashMap<DayId, Arc<DayKey>>,
    failed: &HashMap<DayId, NotOpened>,
) -> Result<Vec<Outcome>, AgencyError> {
    let Batch { envelopes, senders } = batch;
    let work: Vec<(u64, Exported, Ready)> = envelopes
        .into_iter()
        .map(|(seq, env)| {
            // Envelopes with domain fields carry no day fields.
            let single = env.single().ok_or(NotOpened::NoDayFields);
            let ready = single.and_then(|single| day_of(single, targets)).and_then(|id| {
                let key =
                    keys.get(&id).cloned().ok_or_else(|| failed.get(&id).cloned().unwrap_or(NotOpened::Internal))?;
                let sender = env.sender().to_string();
                let pk = senders.get(&sender).cloned().ok_or(NotOpened::NoSenderKey(sender))?;
                Ok((key, id.party().clone(), pk))
            });
            (seq, env, ready)
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        escrow_service::par::par_map(
            &work,
            |_, (seq, env, ready)| {
                let outcome = match (ready, env.single()) {
                    (Ok((key, party, sender)), Some(env)) => env
                        .open_with_day_key(key, party, sender)
                        .map(|pt| (env.label().clone(), pt))
                        .map_err(NotOpened::Decrypt),
                    (Ok(_), None) => Err(NotOpened::NoDayFields),
                    (Err(why), _) => Err(why.clone()),
                };
                (*seq, outcome)
            },
            |_, (seq, _, _)| (*seq, Err(NotOpened::Internal)),
        )
    })
    .await
    .map_err(|e| AgencyError::Trustees(format!("an opening task failed: {e}")))
}
