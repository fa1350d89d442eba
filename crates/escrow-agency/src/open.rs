//! Opening a warrant's messages as a pipeline in bounded memory.
//!
//! - The relay's export is read page by page by its own task, cut into batches (at
//!   most the trustees' request size), and handed on through a channel of
//!   [`IN_FLIGHT`] batches: the export runs ahead of the trustees by that much only.
//! - Each batch is asked of every trustee at once, in its own task; at most
//!   [`IN_FLIGHT`] batches are asked and combined at a time, so the trustees work on
//!   one while the agency combines another.
//! - A batch is combined as soon as each of its messages has t + 1 shares: the
//!   slowest trustees are not waited for. Where a combine fails for too few valid
//!   shares (a trustee sent bad ones), the requests still in flight are waited for,
//!   and the combine is tried again with their shares. When a batch is done, the
//!   requests still in flight are cancelled.
//! - A trustee whose answer comes after its batch was opened is not examined: a lie
//!   in it cost nothing and is not named, and the report counts it as not needed.
//!   [`crate::Agency::check_every_trustee`] waits for every answer (each up to a
//!   limit) and checks every share instead, so that every lying trustee is named.
//! - Each opened message goes to the caller's sink as its batch finishes, in relay
//!   order; the report keeps counts and failures, not plaintexts.
//!
//! So no process holds more than about `2 × IN_FLIGHT` batches of envelopes, shares
//! and plaintexts, whatever the number of messages.
//!
//! The pipeline carries envelopes of either kind ([`Exported`]): single-domain ones,
//! and for an agency set to a domain, envelopes with domain fields, of which only the
//! agency's domain's field is asked about. An envelope its trustees cannot answer for
//! fails in its batch before any trustee is asked, and a batch of nothing but such
//! envelopes makes no request at all.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use escrow_crypto::{
    DecryptionShare, Domain, EpochId, EpochPublicKey, Error as CryptoError, Label, RecoverItem, Recovered,
    TrusteeIndex, UserPublicKey,
};
use escrow_proto::v1 as pb;
use pb::relay_client::RelayClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;

pub(crate) use crate::exported::Exported;
use crate::{witnessed, AgencyError, FieldKey, ForeignFieldKeys, NotOpened, OpenReport, OpenedMessage, TrusteeHandle};

/// Batches asked of the trustees and combined at once, and batches the export may run
/// ahead by.
pub const IN_FLIGHT: usize = 2;

/// Envelopes fetched from the relay per export page.
const EXPORT_PAGE: u32 = 500;

/// How far an open has come, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// In-scope messages opened or tried so far.
    pub done: usize,
    /// In-scope messages exported so far.
    pub exported: usize,
    /// Whether the export is complete (then `exported` is the total).
    pub export_complete: bool,
}

/// What a batch task needs, shared by every batch of one open.
pub(crate) struct Shared {
    pub(crate) trustees: Vec<TrusteeHandle>,
    pub(crate) epochs: BTreeMap<EpochId, EpochPublicKey>,
    pub(crate) witness_policy: Option<Arc<escrow_log::Policy>>,
    /// The warrant's id, as the share requests name it.
    pub(crate) warrant_id: Vec<u8>,
    /// With a limit: wait for every trustee's answer (up to the limit each) and
    /// check every share, so that every lying trustee is named
    /// ([`crate::Agency::check_every_trustee`]).
    pub(crate) every: Option<Duration>,
    /// The agency's escrow domain ([`crate::Agency::for_domain`]).
    pub(crate) domain: Option<Domain>,
    /// Other domains' field keys for all-of messages.
    pub(crate) foreign: Arc<ForeignFieldKeys>,
}

/// Consecutive in-scope envelopes, with the keys of their senders.
pub(crate) struct Batch {
    pub(crate) envelopes: Vec<(u64, Exported)>,
    pub(crate) senders: HashMap<String, UserPublicKey>,
}

/// What became of one message of a batch.
#[derive(Clone)]
struct Outcome {
    seq: u64,
    /// The label it is reported with, its plaintext and the trustees whose shares
    /// were invalid; or why it was not opened.
    result: Result<(Label, Vec<u8>, Vec<TrusteeIndex>), NotOpened>,
    /// Under all-of, the part this agency recovered of a message it could not open
    /// alone.
    part: Option<FieldKey>,
}

impl Outcome {
    fn failed(seq: u64, why: NotOpened) -> Self {
        Outcome { seq, result: Err(why), part: None }
    }
}

/// What one batch came to; merged into the report in batch order.
#[derive(Default)]
struct BatchDone {
    outcomes: Vec<Outcome>,
    errors: Vec<(String, tonic::Status)>,
    culprits: BTreeMap<String, usize>,
    unwitnessed: BTreeMap<String, witnessed::Unwitnessed>,
    /// Trustees whose shares were not examined: their answer came after the batch
    /// was opened without it, or never.
    not_needed: Vec<String>,
    /// Whether the trustees were asked at all (not when every envelope failed first).
    asked: bool,
    trustee_time: Duration,
    combine_time: Duration,
}

/// Runs the pipeline: `batches` from the export, each opened in its own task (at most
/// [`IN_FLIGHT`] at once), merged into `report` and handed to `sink` in order.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut batches: mpsc::Receiver<Result<Batch, AgencyError>>,
    report: &mut OpenReport,
    sink: &mut (dyn FnMut(OpenedMessage) -> std::io::Result<()> + Send),
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<(), AgencyError> {
    let mut running: VecDeque<tokio::task::JoinHandle<Result<BatchDone, AgencyError>>> = VecDeque::new();
    let mut export_open = true;
    let mut done = 0;
    let result = loop {
        while export_open && running.len() < IN_FLIGHT {
            match batches.recv().await {
                Some(Ok(batch)) => {
                    report.exported += batch.envelopes.len();
                    running.push_back(tokio::spawn(open_batch(shared.clone(), batch)));
                }
                Some(Err(e)) => {
                    export_open = false;
                    // Batches already asked are finished first; then the export's error.
                    running.push_back(tokio::spawn(async move { Err(e) }));
                }
                None => export_open = false,
            }
        }
        let Some(next) = running.pop_front() else { break Ok(()) };
        let finished = match next.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(AgencyError::Trustees(format!("a batch task failed: {e}"))),
        };
        let b = match finished {
            Ok(b) => b,
            Err(e) => break Err(e),
        };
        done += b.outcomes.len();
        if let Err(e) = merge(report, b, &shared.trustees, sink) {
            break Err(e);
        }
        progress(Progress { done, exported: report.exported, export_complete: !export_open });
    };
    for task in running {
        task.abort();
    }
    result
}

/// Merges one batch into the report; the opened messages go to `sink`.
fn merge(
    report: &mut OpenReport,
    b: BatchDone,
    trustees: &[TrusteeHandle],
    sink: &mut (dyn FnMut(OpenedMessage) -> std::io::Result<()> + Send),
) -> Result<(), AgencyError> {
    report.share_requests += usize::from(b.asked);
    report.trustee_time += b.trustee_time;
    report.combine_time += b.combine_time;
    for (who, status) in &b.errors {
        report.trustee_errors.record(who, status);
    }
    for (who, n) in b.culprits {
        *report.culprits.entry(who).or_default() += n;
    }
    for (who, why) in b.unwitnessed {
        report.unwitnessed.entry(who).or_insert(why);
    }
    for who in b.not_needed {
        *report.not_needed.entry(who).or_default() += 1;
    }
    for Outcome { seq, result, part } in b.outcomes {
        if let Some(part) = part {
            report.field_keys.push((seq, part));
        }
        match result {
            Ok((label, plaintext, culprits)) => {
                for c in culprits {
                    if let Some(t) = trustees.iter().find(|t| t.index == c) {
                        *report.culprits.entry(t.id.clone()).or_default() += 1;
                    }
                }
                report.opened_count += 1;
                sink(OpenedMessage { seq, label, plaintext }).map_err(AgencyError::Output)?;
            }
            Err(e) => report.failed.push((seq, e)),
        }
    }
    Ok(())
}

/// Opens one batch: asks every trustee at once, combines as soon as every message has
/// its t + 1 shares, waits for more answers only for messages whose combine found too
/// few valid shares, and cancels what is still in flight when done.
async fn open_batch(shared: Arc<Shared>, batch: Batch) -> Result<BatchDone, AgencyError> {
    let Batch { envelopes: exported, senders } = batch;
    let mut b = BatchDone::default();
    // Each envelope's outcome where it is decided before asking anyone (no field the
    // trustees answer for); the others, in order, are the items asked about.
    let mut first: Vec<Option<Outcome>> = Vec::with_capacity(exported.len());
    let mut envelopes: Vec<(u64, Exported)> = Vec::with_capacity(exported.len());
    let mut items: Vec<pb::EscrowItem> = Vec::with_capacity(exported.len());
    // What each item needs: its epoch's t + 1 (nothing if no key is known for it: it
    // fails at once, as it would with every share).
    let mut needed: Vec<usize> = Vec::with_capacity(exported.len());
    for (seq, env) in exported {
        let asked = env.escrow(shared.domain.as_ref()).map(|(label, field)| {
            items.push(pb::EscrowItem { label: label.to_bytes(), field: field.to_bytes() });
            needed.push(shared.epochs.get(&label.epoch()).map_or(0, EpochPublicKey::quorum));
        });
        match asked {
            Ok(()) => {
                first.push(None);
                envelopes.push((seq, env));
            }
            Err(why) => first.push(Some(Outcome::failed(seq, why))),
        }
    }
    if envelopes.is_empty() {
        b.outcomes = first.into_iter().flatten().collect();
        return Ok(b);
    }
    b.asked = true;
    let mut shares: Vec<Vec<DecryptionShare>> = vec![Vec::new(); envelopes.len()];
    let mut outcomes: Vec<Option<Outcome>> = vec![None; envelopes.len()];
    let mut pending = tokio::task::JoinSet::new();
    for (k, t) in shared.trustees.iter().enumerate() {
        let mut c = t.client.clone();
        let req = pb::RequestSharesRequest { warrant_id: shared.warrant_id.clone(), items: items.clone() };
        let limit = shared.every;
        pending.spawn(async move {
            let answer = match limit {
                None => c.request_shares(req).await,
                Some(limit) => tokio::time::timeout(limit, c.request_shares(req)).await.unwrap_or_else(|_| {
                    Err(tonic::Status::deadline_exceeded(format!("no answer within {} s", limit.as_secs_f64())))
                }),
            };
            (k, answer)
        });
    }
    drop(items);
    // Trustees whose answer was looked at before the batch was decided.
    let mut examined = vec![false; shared.trustees.len()];
    let senders = Arc::new(senders);
    let t0 = Instant::now();
    loop {
        let open: Vec<usize> = (0..envelopes.len()).filter(|j| outcomes.get(*j).is_some_and(Option::is_none)).collect();
        if open.is_empty() {
            break;
        }
        // Wait until every undecided message has enough shares (checking every trustee:
        // until every answer is in), or no answer is left.
        while shared.every.is_some()
            || open.iter().any(|&j| shares.get(j).map_or(0, Vec::len) < needed.get(j).copied().unwrap_or(0))
        {
            match pending.join_next().await {
                Some(joined) => take_joined(&shared, joined, &mut examined, Some(&mut shares), &mut b),
                None => break,
            }
        }
        let last_chance = pending.is_empty();
        let ready: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&j| last_chance || shares.get(j).map_or(0, Vec::len) >= needed.get(j).copied().unwrap_or(0))
            .collect();
        b.trustee_time = t0.elapsed();
        let t1 = Instant::now();
        let work: Vec<(u64, Exported, Vec<DecryptionShare>)> = ready
            .iter()
            .filter_map(|&j| {
                let (seq, env) = envelopes.get(j)?;
                Some((*seq, env.clone(), shares.get(j)?.clone()))
            })
            .collect();
        let combined = combine(work, senders.clone(), &shared).await?;
        b.combine_time += t1.elapsed();
        let mut retry = false;
        for (&j, outcome) in ready.iter().zip(combined) {
            // Too few valid shares while answers are still coming: wait for them.
            let short = matches!(&outcome.result, Err(NotOpened::Combine(CryptoError::NotEnoughShares { .. })));
            if short && !last_chance {
                retry = true;
                continue;
            }
            if let Some(slot) = outcomes.get_mut(j) {
                *slot = Some(outcome);
            }
        }
        if retry {
            // At least one more answer before combining those again.
            if let Some(joined) = pending.join_next().await {
                take_joined(&shared, joined, &mut examined, Some(&mut shares), &mut b);
            }
        }
    }
    // Answers in already but too late for the batch: their errors and missing proofs
    // are reported; their shares are not checked (so a lie in them is not named and
    // the trustee counts as not needed). The rest are cancelled.
    while let Some(joined) = pending.try_join_next() {
        take_joined(&shared, joined, &mut examined, None, &mut b);
    }
    pending.abort_all();
    b.not_needed = shared.trustees.iter().zip(&examined).filter(|(_, e)| !**e).map(|(t, _)| t.id.clone()).collect();
    // Back in relay order: each slot not decided first takes the next asked outcome.
    let mut asked = outcomes.into_iter().flatten();
    b.outcomes = first.into_iter().filter_map(|o| o.or_else(|| asked.next())).collect();
    Ok(b)
}

type Joined =
    Result<(usize, Result<tonic::Response<pb::RequestSharesResponse>, tonic::Status>), tokio::task::JoinError>;

/// Takes one finished share request into the batch (`shares`: `None` once the batch
/// is decided), marking its trustee examined unless only its shares were left.
fn take_joined(
    shared: &Shared,
    joined: Joined,
    examined: &mut [bool],
    shares: Option<&mut [Vec<DecryptionShare>]>,
    b: &mut BatchDone,
) {
    let (k, answer) = match joined {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => return,
    };
    let (Some(t), Some(flag)) = (shared.trustees.get(k), examined.get_mut(k)) else { return };
    *flag = take_answer(shared, t, answer, shares, b);
}

/// Takes trustee `t`'s answer to a share request into `shares` (slot j = item j):
/// shares bound to it only, only with its witnessed approval where that is required;
/// its errors, missing proof and bad shares go into the batch. Returns whether the
/// answer was examined in full: false only for shares that came with `shares` `None`.
fn take_answer(
    shared: &Shared,
    t: &TrusteeHandle,
    answer: Result<tonic::Response<pb::RequestSharesResponse>, tonic::Status>,
    shares: Option<&mut [Vec<DecryptionShare>]>,
    b: &mut BatchDone,
) -> bool {
    let resp = match answer {
        Ok(r) => r.into_inner(),
        Err(s) => {
            b.errors.push((t.id.clone(), s));
            return true;
        }
    };
    if let Some(policy) = &shared.witness_policy {
        let wid = <[u8; 16]>::try_from(shared.warrant_id.as_slice()).unwrap_or_default();
        if let Err(why) = witnessed::verify(policy, &t.id, &wid, resp.witnessed.as_ref()) {
            tracing::warn!(trustee = %t.id, reason = %why, "shares refused: not witnessed");
            b.unwitnessed.entry(t.id.clone()).or_insert(why);
            return true;
        }
    }
    let Some(shares) = shares else { return false };
    if resp.shares.len() != shares.len() {
        *b.culprits.entry(t.id.clone()).or_default() += shares.len();
        return true;
    }
    for (slot, blob) in shares.iter_mut().zip(&resp.shares) {
        match DecryptionShare::from_bytes(blob) {
            // A share claiming another trustee's index is that trustee's fault no
            // matter what it contains: it could only block or confuse.
            Ok(s) if s.trustee() == t.index => slot.push(s),
            _ => *b.culprits.entry(t.id.clone()).or_default() += 1,
        }
    }
    true
}

/// [`combine_all`] off the async threads: one outcome per item, in order.
async fn combine(
    work: Vec<(u64, Exported, Vec<DecryptionShare>)>,
    senders: Arc<HashMap<String, UserPublicKey>>,
    shared: &Arc<Shared>,
) -> Result<Vec<Outcome>, AgencyError> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || combine_all(&work, &senders, &shared))
        .await
        .map_err(|e| AgencyError::Trustees(format!("combine task failed: {e}")))
}

/// Recovers and decrypts a batch on all cores: one run per core, each run's fields
/// and shares checked in one batch per epoch ([`EpochPublicKey::recover_many`]).
fn combine_all(
    work: &[(u64, Exported, Vec<DecryptionShare>)],
    senders: &HashMap<String, UserPublicKey>,
    shared: &Shared,
) -> Vec<Outcome> {
    escrow_service::par::par_chunks(
        work,
        |_, run| open_run(run, senders, shared),
        // A panicking worker must not make messages vanish from the report.
        |_, (seq, _, _)| Outcome::failed(*seq, NotOpened::Internal),
    )
}

/// One run of [`combine_all`], in order.
fn open_run(
    run: &[(u64, Exported, Vec<DecryptionShare>)],
    senders: &HashMap<String, UserPublicKey>,
    shared: &Shared,
) -> Vec<Outcome> {
    let (domain, epochs) = (shared.domain.as_ref(), &shared.epochs);
    // What each message needs before any pairing: its field (the agency's domain's),
    // its epoch's key and its sender's.
    let mut keys: Vec<Result<&UserPublicKey, NotOpened>> = Vec::with_capacity(run.len());
    let mut by_epoch: BTreeMap<EpochId, Vec<usize>> = BTreeMap::new();
    for (j, (_, env, _)) in run.iter().enumerate() {
        let ready = env.escrow(domain).and_then(|(label, _)| {
            let epoch = label.epoch();
            if !epochs.contains_key(&epoch) {
                return Err(NotOpened::NoEpochKey(epoch));
            }
            let sender = senders
                .get(label.sender().as_str())
                .ok_or_else(|| NotOpened::NoSenderKey(label.sender().to_string()))?;
            Ok((epoch, sender))
        });
        if let Ok((epoch, _)) = &ready {
            by_epoch.entry(*epoch).or_default().push(j);
        }
        keys.push(ready.map(|(_, sender)| sender));
    }
    let mut recovered: Vec<Option<Result<Recovered, CryptoError>>> = run.iter().map(|_| None).collect();
    for (epoch, members) in by_epoch {
        let Some(epk) = epochs.get(&epoch) else { continue };
        // Each item with its message's index, so they stay paired whatever is skipped.
        let (members, items): (Vec<usize>, Vec<RecoverItem<'_>>) = members
            .iter()
            .filter_map(|&j| {
                let (_, env, shares) = run.get(j)?;
                let (label, field) = env.escrow(domain).ok()?;
                Some((j, (field, label, shares.as_slice())))
            })
            .unzip();
        for (j, r) in members.iter().zip(epk.recover_many(&items, &mut rand::rngs::OsRng)) {
            if let Some(slot) = recovered.get_mut(*j) {
                *slot = Some(r);
            }
        }
    }
    run.iter()
        .zip(keys)
        .zip(recovered)
        .map(|(((seq, env, _), sender), key)| match sender {
            Ok(sender) => open_one(*seq, env, sender, key, shared),
            Err(why) => Outcome::failed(*seq, why),
        })
        .collect()
}

/// Opens one message with the key its shares recovered (`None`: none was tried). Under
/// all-of, a message that needs other domains' parts keeps this agency's part.
fn open_one(
    seq: u64,
    env: &Exported,
    sender: &UserPublicKey,
    key: Option<Result<Recovered, CryptoError>>,
    shared: &Shared,
) -> Outcome {
    let domain = shared.domain.as_ref();
    let tried = (|| {
        let key = key.ok_or(NotOpened::Internal)?.map_err(NotOpened::Combine)?;
        let (label, _) = env.escrow(domain)?;
        let epk = shared.epochs.get(&label.epoch()).ok_or(NotOpened::NoEpochKey(label.epoch()))?;
        Ok((key, label, epk))
    })();
    let (key, label, epk) = match tried {
        Ok(t) => t,
        Err(why) => return Outcome::failed(seq, why),
    };
    match env.open(domain, epk, &key, sender, &shared.foreign) {
        Ok(pt) => Outcome { seq, result: Ok((label.clone(), pt, key.culprits().to_vec())), part: None },
        Err(why) => {
            let part = match (&why, domain, env.message_id()) {
                (NotOpened::NeedsOtherDomains(_), Some(d), Some(message)) => Some(FieldKey {
                    message: *message,
                    domain: d.clone(),
                    epoch_key: epk.clone(),
                    key: key.data_key().clone(),
                }),
                _ => None,
            };
            Outcome { seq, result: Err(why), part }
        }
    }
}

/// Starts the export: pages of the warrant's in-scope envelopes from the relay, cut
/// into batches of `batch` and sent on the returned channel (at most [`IN_FLIGHT`]
/// waiting). The task ends with the export, on the first error (sent on), or when
/// the receiver is dropped; it returns the time spent waiting for the relay.
pub(crate) fn export(
    mut relay: RelayClient<Channel>,
    warrant: Vec<u8>,
    batch: usize,
) -> (mpsc::Receiver<Result<Batch, AgencyError>>, tokio::task::JoinHandle<Duration>) {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let task = tokio::spawn(async move {
        let mut waited = Duration::ZERO;
        let mut after = 0;
        // Every sender's key seen so far: bounded by the number of users, not messages.
        let mut keys: HashMap<String, UserPublicKey> = HashMap::new();
        let mut current = Batch { envelopes: Vec::with_capacity(batch), senders: HashMap::new() };
        loop {
            let t = Instant::now();
            let page = relay
                .export(pb::ExportRequest { warrant: warrant.clone(), after_seq: after, limit: EXPORT_PAGE })
                .await
                .map_err(AgencyError::Relay);
            waited += t.elapsed();
            let page = match page {
                Ok(p) => p.into_inner(),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return waited;
                }
            };
            for k in &page.sender_keys {
                match UserPublicKey::from_bytes(k) {
                    Ok(pk) => {
                        keys.insert(pk.id().to_string(), pk);
                    }
                    Err(err) => {
                        let _ = tx.send(Err(AgencyError::Blob { what: "sender key from relay".into(), err })).await;
                        return waited;
                    }
                }
            }
            for s in &page.envelopes {
                // By its algorithm id: either kind of envelope, or a clear decode error.
                let env = match Exported::from_bytes(&s.envelope) {
                    Ok(env) => env,
                    Err(err) => {
                        let what = format!("envelope {} from relay", s.seq);
                        let _ = tx.send(Err(AgencyError::Blob { what, err })).await;
                        return waited;
                    }
                };
                after = after.max(s.seq);
                let sender = env.sender().as_str();
                if let Some(k) = keys.get(sender) {
                    current.senders.entry(sender.to_owned()).or_insert_with(|| k.clone());
                }
                current.envelopes.push((s.seq, env));
                if current.envelopes.len() >= batch {
                    let full = std::mem::replace(
                        &mut current,
                        Batch { envelopes: Vec::with_capacity(batch), senders: HashMap::new() },
                    );
                    if tx.send(Ok(full)).await.is_err() {
                        return waited;
                    }
                }
            }
            if !page.more || page.envelopes.is_empty() {
                break;
            }
        }
        if !current.envelopes.is_empty() {
            let _ = tx.send(Ok(current)).await;
        }
        waited
    });
    (rx, task)
}
