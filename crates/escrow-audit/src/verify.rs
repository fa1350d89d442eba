//! `verify`: fetch one trustee's log over `escrow.v1.Audit` and hand each piece to the
//! checks in [`crate::check`], remembering the last checkpoint seen so that a rewrite
//! is caught. Everything here is transport and the auditor's state files; every
//! decision is made in `check`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use escrow_crypto::CourtPublicKey;
use escrow_log::Hash;
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use escrow_witness::client::{ClientError, WitnessClient};
use pb::audit_client::AuditClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::check::{Entries, Head, OpeningAnswer, PinnedLog, VerifiedLog};
use crate::failure::AuditFailure;
use crate::witnessed::{against_view, pinned_key, proof_needed, witness_view, WitnessView};

/// Entries asked for per `GetEntries` call (the service's limit).
pub const PAGE: u64 = 1000;

/// The audit of one trustee.
#[derive(Debug, Clone)]
pub struct TrusteeAudit {
    /// The address asked.
    pub addr: String,
    /// Its log origin, once known.
    pub origin: Option<String>,
    /// Its checkpoint size, once known.
    pub size: Option<u64>,
    /// The verified log, or what broke.
    pub result: Result<VerifiedLog, AuditFailure>,
    /// With a witness policy: each witness whose view of this log was compared (its
    /// policy name and the size it cosigned).
    pub witnessed: Vec<(String, u64)>,
    /// With a witness policy: witnesses that could not be asked or served a view
    /// that does not verify (their problem, not the trustee's), and why.
    pub witness_notes: Vec<String>,
}

/// Where the auditor's belief in each trustee's log key comes from.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Pin each key the first time it is seen (trust on first use): only behind an
    /// explicit flag, since a first visit to a substituted log goes unnoticed.
    FirstUse,
    /// The deployment's witness policy pins every trustee's log key and names the
    /// witnesses, whose views of each log are compared with what the trustee shows.
    Policy(Arc<PolicyTrust>),
}

/// A witness policy and a client for each of its witnesses with a URL.
#[derive(Debug)]
pub struct PolicyTrust {
    policy: escrow_log::Policy,
    witnesses: Vec<(usize, WitnessClient)>,
}

impl PolicyTrust {
    /// Clients for the policy's witnesses (`https://` URLs need the federation).
    pub fn new(
        policy: escrow_log::Policy,
        trust: Option<&std::sync::Arc<escrow_pki::trust::Trust>>,
    ) -> Result<Self, ClientError> {
        let mut witnesses = Vec::new();
        for (i, w) in policy.witnesses().iter().enumerate() {
            if let Some(url) = &w.url {
                witnesses.push((i, WitnessClient::new(url, trust, std::time::Duration::from_secs(10))?));
            }
        }
        Ok(PolicyTrust { policy, witnesses })
    }

    /// The policy.
    pub fn policy(&self) -> &escrow_log::Policy {
        &self.policy
    }
}

fn state_path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir.join(format!("{}.json", hex::encode(Sha256::digest(origin.as_bytes()))))
}

fn load(path: &Path, origin: &str) -> Result<Option<PinnedLog>, AuditFailure> {
    let err = |error: String| AuditFailure::State { trustee: origin.into(), path: path.into(), error };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| err(e.to_string()))
}

/// Writes the state file atomically (temporary file, then rename).
fn store(path: &Path, pinned: &PinnedLog) -> Result<(), AuditFailure> {
    let err = |error: String| AuditFailure::State { trustee: pinned.origin.clone(), path: path.into(), error };
    let text = serde_json::to_string_pretty(pinned).map_err(|e| err(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

fn rpc_failure(trustee: &str, call: String, s: &tonic::Status) -> AuditFailure {
    match s.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            AuditFailure::Unreachable { trustee: trustee.into(), error: format!("{call}: {}", s.message()) }
        }
        code => AuditFailure::Rpc { trustee: trustee.into(), call, error: format!("{code:?}: {}", s.message()) },
    }
}

fn hashes(trustee: &str, p: pb::ProofResponse) -> Result<Vec<Hash>, AuditFailure> {
    p.hashes
        .iter()
        .map(|h| {
            <Hash>::try_from(h.as_slice()).map_err(|_| AuditFailure::Malformed {
                trustee: trustee.into(),
                what: "proof",
                error: format!("a hash of {} bytes", h.len()),
            })
        })
        .collect()
}

/// Audits every trustee (concurrently) and returns one result per address, in order.
///
/// `state_dir` keeps, per log origin, the verifier key pinned on first use and the
/// last checkpoint that verified; it is updated only for logs where everything
/// verified. `now` (unix seconds; callers pass the system clock) decides which
/// sealed details must be open. With `court_keys`, every opened warrant's signature
/// is verified and its logged fields compared; without, only the commitment and the
/// warrant id in the blob's framing are checked.
pub async fn verify(
    trustee_addrs: &[String],
    credentials: &Credentials,
    state_dir: &Path,
    now: u64,
    court_keys: &[CourtPublicKey],
) -> Vec<TrusteeAudit> {
    verify_with(trustee_addrs, credentials, state_dir, now, court_keys, &Trust::FirstUse).await
}

/// [`verify`] with the log keys from `trust`. Under a witness policy no key is pinned
/// on first use: a trustee serving another key, or a log the policy does not list,
/// fails; and each trustee's checkpoint is compared with every witness's latest view
/// of its log ([`crate::witnessed`]), so a trustee showing this auditor another history
/// than the witnesses cosigned is named (`SplitView`).
pub async fn verify_with(
    trustee_addrs: &[String],
    credentials: &Credentials,
    state_dir: &Path,
    now: u64,
    court_keys: &[CourtPublicKey],
    trust: &Trust,
) -> Vec<TrusteeAudit> {
    let mut set = tokio::task::JoinSet::new();
    for (k, addr) in trustee_addrs.iter().enumerate() {
        let (addr, dir, courts, creds, trust) =
            (addr.clone(), state_dir.to_path_buf(), court_keys.to_vec(), credentials.clone(), trust.clone());
        set.spawn(async move { (k, audit_one(addr, creds, dir, now, courts, trust).await) });
    }
    let mut out: Vec<Option<TrusteeAudit>> = trustee_addrs.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        // A panicking task is a bug in this crate; the slot then reports it below.
        if let Ok((k, audit)) = joined {
            if let Some(slot) = out.get_mut(k) {
                *slot = Some(audit);
            }
        }
    }
    out.into_iter()
        .zip(trustee_addrs)
        .map(|(a, addr)| {
            a.unwrap_or_else(|| TrusteeAudit {
                addr: addr.clone(),
                origin: None,
                size: None,
                result: Err(AuditFailure::Unreachable { trustee: addr.clone(), error: "audit task failed".into() }),
                witnessed: Vec::new(),
                witness_notes: Vec::new(),
            })
        })
        .collect()
}

async fn audit_one(
    addr: String,
    credentials: Credentials,
    state_dir: PathBuf,
    now: u64,
    courts: Vec<CourtPublicKey>,
    trust: Trust,
) -> TrusteeAudit {
    let mut audit = TrusteeAudit {
        addr: addr.clone(),
        origin: None,
        size: None,
        result: Err(AuditFailure::Unreachable { trustee: addr.clone(), error: "not audited".into() }),
        witnessed: Vec::new(),
        witness_notes: Vec::new(),
    };
    let fetcher = Fetcher { addr: &addr, credentials: &credentials, trust: &trust };
    audit.result = fetcher.run(&state_dir, now, &courts, &mut audit).await;
    audit
}

/// Fetches one trustee's log material, step by step as [`crate::check`] asks for it.
struct Fetcher<'a> {
    addr: &'a str,
    credentials: &'a Credentials,
    trust: &'a Trust,
}

impl Fetcher<'_> {
    async fn run(
        &self,
        state_dir: &Path,
        now: u64,
        courts: &[CourtPublicKey],
        progress: &mut TrusteeAudit,
    ) -> Result<VerifiedLog, AuditFailure> {
        let addr = self.addr;
        let mut client = escrow_service::transport::audit_client(addr, self.credentials)
            .map_err(|e| AuditFailure::Unreachable { trustee: addr.into(), error: e.to_string() })?;
        let mut served = client
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .map_err(|s| rpc_failure(addr, "GetCheckpoint".into(), &s))?
            .into_inner();
        let origin = crate::check::claimed_origin(addr, &served.checkpoint)?.to_string();
        progress.origin = Some(origin.clone());
        let path = state_path(state_dir, &origin);
        let pinned = load(&path, &origin)?;

        // The key the checkpoint must verify under: pinned by the policy, or (trust on
        // first use) whatever the trustee serves the first time.
        let mut views = Vec::new();
        let key = match self.trust {
            Trust::FirstUse => served.verifier_key.clone(),
            Trust::Policy(p) => {
                let key = pinned_key(&p.policy, addr, &origin)?.to_string();
                if served.verifier_key != key {
                    return Err(AuditFailure::KeyChanged { trustee: origin, pinned: key, served: served.verifier_key });
                }
                views = self.witness_views(p, &origin, progress).await;
                // A witness may have cosigned a newer checkpoint since the first ask: an
                // honest trustee has it too, so ask once more before comparing.
                let newest = views.iter().map(|v| v.checkpoint.size()).max().unwrap_or(0);
                if crate::check::claimed_size(&served.checkpoint).is_some_and(|n| n < newest) {
                    served = client
                        .get_checkpoint(pb::GetCheckpointRequest {})
                        .await
                        .map_err(|s| rpc_failure(&origin, "GetCheckpoint".into(), &s))?
                        .into_inner();
                }
                key
            }
        };
        let head = Head::check(addr, &served.checkpoint, &key, pinned.as_ref().map(|p| (path.as_path(), p)))?;
        progress.size = Some(head.size());
        for view in &views {
            let proof = match proof_needed(head.checkpoint(), view) {
                None => None,
                Some((first, second)) => client
                    .get_consistency_proof(pb::GetConsistencyProofRequest { first, second })
                    .await
                    .ok()
                    .map(|p| hashes(&origin, p.into_inner()))
                    .transpose()?,
            };
            against_view(&origin, head.checkpoint(), view, proof.as_deref())?;
            progress.witnessed.push((view.witness.clone(), view.checkpoint.size()));
        }
        let proof = match head.consistency_needed() {
            None => None,
            Some((first, second)) => {
                let p = client
                    .get_consistency_proof(pb::GetConsistencyProofRequest { first, second })
                    .await
                    .map_err(|s| rpc_failure(&origin, format!("GetConsistencyProof({first}, {second})"), &s))?
                    .into_inner();
                Some(hashes(&origin, p)?)
            }
        };
        let consistent = head.consistent(proof.as_deref())?;
        let raw = self.fetch_entries(&mut client, &origin, consistent.head().size()).await?;
        let entries = consistent.entries(&raw)?;

        let mut answers = Vec::new();
        for due in entries.due_openings(now) {
            let warrant_id = due.warrant_id.to_vec();
            let answer = match client.get_details_opening(pb::GetDetailsOpeningRequest { warrant_id }).await {
                Ok(o) => {
                    let o = o.into_inner();
                    let released = o.released.into_iter().map(|r| (r.label, r.field)).collect();
                    OpeningAnswer::Opened { nonce: o.nonce, warrant: o.warrant, released }
                }
                Err(s) => {
                    let error = format!("{:?}: {}", s.code(), s.message());
                    match s.code() {
                        tonic::Code::FailedPrecondition => OpeningAnswer::NotYetDue { error },
                        tonic::Code::NotFound => OpeningAnswer::Refused { error },
                        _ => {
                            let call = format!("GetDetailsOpening({})", hex::encode(due.warrant_id));
                            return Err(rpc_failure(&origin, call, &s));
                        }
                    }
                }
            };
            answers.push((due, answer));
        }
        let epoch_keys =
            if Entries::needs_epoch_keys(&answers, courts) { self.epoch_keys(&origin).await? } else { Vec::new() };
        let (log, pin) = entries.finish(&answers, &epoch_keys, now, courts)?;
        store(&path, &pin)?;
        Ok(log)
    }

    /// Every witness's verified view of `origin`; witnesses that cannot be asked or
    /// serve a view that does not verify are noted, not held against the trustee.
    async fn witness_views(&self, p: &PolicyTrust, origin: &str, progress: &mut TrusteeAudit) -> Vec<WitnessView> {
        let mut views = Vec::new();
        for (index, client) in &p.witnesses {
            let name = p.policy.witnesses().get(*index).map_or("?", |w| w.name.as_str());
            match client.latest(origin).await {
                Ok(Some(note)) => match witness_view(&p.policy, *index, origin, &note) {
                    Ok(v) => views.push(v),
                    Err(e) => progress.witness_notes.push(format!("witness {name}: view does not verify: {e}")),
                },
                Ok(None) => progress.witness_notes.push(format!("witness {name}: has cosigned nothing of {origin}")),
                Err(e) => progress.witness_notes.push(format!("witness {name}: {e}")),
            }
        }
        views
    }

    /// Every entry of a log of `size`, in pages. A short page ends the fetch: the root
    /// check then names how many entries were actually served.
    async fn fetch_entries(
        &self,
        client: &mut AuditClient<Channel>,
        name: &str,
        size: u64,
    ) -> Result<Vec<Vec<u8>>, AuditFailure> {
        let mut raw: Vec<Vec<u8>> = Vec::new();
        let mut start = 0u64;
        while start < size {
            let end = size.min(start.saturating_add(PAGE));
            let page = client
                .get_entries(pb::GetEntriesRequest { start, end })
                .await
                .map_err(|s| rpc_failure(name, format!("GetEntries [{start}, {end})"), &s))?
                .into_inner()
                .entries;
            let got = page.len() as u64;
            if got > end - start {
                return Err(AuditFailure::Malformed {
                    trustee: name.into(),
                    what: "entries page",
                    error: format!("{got} entries served for [{start}, {end})"),
                });
            }
            raw.extend(page);
            if got < end - start {
                break;
            }
            start = end;
        }
        Ok(raw)
    }

    /// The trustee's epoch public keys as it serves them (`GetInfo`); `check` compares
    /// each with the hash its log installed.
    async fn epoch_keys(&self, name: &str) -> Result<Vec<Vec<u8>>, AuditFailure> {
        let info = escrow_service::transport::trustee_client(self.addr, self.credentials)
            .map_err(|e| AuditFailure::Unreachable { trustee: name.into(), error: e.to_string() })?
            .get_info(pb::GetInfoRequest {})
            .await
            .map_err(|s| rpc_failure(name, "GetInfo".into(), &s))?
            .into_inner();
        Ok(info.epoch_public_keys)
    }
}
