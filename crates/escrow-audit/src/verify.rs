//! `verify`: fetch one trustee's log over `escrow.v1.Audit` and check everything the
//! log claims, remembering the last checkpoint seen so that a rewrite is caught.

use escrow_service::transport::Credentials;
use std::fmt;
use std::path::{Path, PathBuf};

use escrow_crypto::{CourtPublicKey, VerifiedWarrant};
use escrow_log::event::{details_commitment, Entry, Event};
use escrow_log::{leaf_hash, verify_consistency, Checkpoint, CheckpointVerifier, Hash, MerkleTree};
use escrow_proto::v1 as pb;
use pb::audit_client::AuditClient;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::short_hex;

/// Entries asked for per `GetEntries` call (the service's limit).
pub const PAGE: u64 = 1000;
/// Clock skew tolerated between auditor and trustee before a sealed opening past its
/// reveal time counts as withheld.
pub const REVEAL_GRACE_SECS: u64 = 300;
/// Byte offset of the warrant id in a warrant blob (after version u8 and alg u16).
const WARRANT_ID_OFFSET: usize = 3;

/// The first 16 hex digits of a hex string, for messages.
fn prefix(hex: &str) -> String {
    format!("{}…", hex.get(..16).unwrap_or(hex))
}

/// What broke in one trustee's log. Every message starts with the trustee (its log
/// origin, or its address when the origin is not known yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditFailure {
    /// The trustee could not be reached.
    #[error("{trustee}: unreachable: {error}")]
    Unreachable {
        /// Origin or address.
        trustee: String,
        /// Transport error.
        error: String,
    },
    /// The trustee answered a call with an error.
    #[error("{trustee}: {call} refused: {error}")]
    Rpc {
        /// Origin or address.
        trustee: String,
        /// Which call, with its arguments.
        call: String,
        /// Status code and message.
        error: String,
    },
    /// The trustee served something malformed (checkpoint text, key, proof hash, pages).
    #[error("{trustee}: malformed {what}: {error}")]
    Malformed {
        /// Origin or address.
        trustee: String,
        /// What was malformed.
        what: &'static str,
        /// Why.
        error: String,
    },
    /// The checkpoint is not signed by the (pinned) key for its origin.
    #[error("{trustee}: checkpoint signature does not verify: {error}")]
    BadSignature {
        /// Origin.
        trustee: String,
        /// Why.
        error: String,
    },
    /// The trustee serves a different verifier key from the one pinned on first use.
    #[error("{trustee}: key changed: pinned {pinned}, now serving {served}")]
    KeyChanged {
        /// Origin.
        trustee: String,
        /// The pinned verifier key text.
        pinned: String,
        /// The key served now.
        served: String,
    },
    /// The checkpoint is smaller than one seen before.
    #[error("{trustee}: log shrank from {old} to {new}")]
    Shrank {
        /// Origin.
        trustee: String,
        /// Size seen before.
        old: u64,
        /// Size now.
        new: u64,
    },
    /// No consistency between the stored checkpoint and the new one: history rewritten.
    #[error(
        "{trustee}: history rewritten: no consistency between size {old_size} (root {}) and size {new_size} (root {}): {error}",
        prefix(.old_root), prefix(.new_root)
    )]
    Forked {
        /// Origin.
        trustee: String,
        /// Size seen before.
        old_size: u64,
        /// Root seen before, hex.
        old_root: String,
        /// Size now.
        new_size: u64,
        /// Root now, hex.
        new_root: String,
        /// What the proof check said.
        error: String,
    },
    /// The root over the served entries is not the checkpoint's.
    #[error(
        "{trustee}: root recomputed from {entries} entries is {} but the checkpoint says {} for {size} entries",
        prefix(.computed), prefix(.claimed)
    )]
    RootMismatch {
        /// Origin.
        trustee: String,
        /// Entries served.
        entries: u64,
        /// Checkpoint size.
        size: u64,
        /// Root recomputed from the entries, hex.
        computed: String,
        /// Root in the signed checkpoint, hex.
        claimed: String,
    },
    /// An entry does not decode.
    #[error("{trustee}: entry {index} does not decode: {error}")]
    Undecodable {
        /// Origin.
        trustee: String,
        /// Entry index.
        index: u64,
        /// Why.
        error: String,
    },
    /// A sealed-details opening does not match what the log committed to.
    #[error("{trustee}: sealed details of warrant {warrant} (entry {index}) refused: {what}")]
    OpeningMismatch {
        /// Origin.
        trustee: String,
        /// Warrant id, hex.
        warrant: String,
        /// Index of the WarrantReceived entry.
        index: u64,
        /// What does not match.
        what: String,
    },
    /// The reveal time has passed but the trustee does not serve the opening.
    #[error("{trustee}: sealed details of warrant {warrant} (entry {index}) withheld past reveal time {reveal_at} (now {now}): {error}")]
    OpeningWithheld {
        /// Origin.
        trustee: String,
        /// Warrant id, hex.
        warrant: String,
        /// Index of the WarrantReceived entry.
        index: u64,
        /// When the log says the details open.
        reveal_at: u64,
        /// The auditor's time.
        now: u64,
        /// The trustee's answer.
        error: String,
    },
    /// The auditor's own state could not be read or written.
    #[error("{trustee}: auditor state {}: {error}", .path.display())]
    State {
        /// Origin.
        trustee: String,
        /// The state file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// How many sealed-details openings were checked, and how many are still sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Openings {
    /// Openings fetched and matched against their commitments.
    pub checked: u64,
    /// Warrants whose details are still sealed.
    pub sealed: u64,
}

/// A log that verified: its signed head and every entry, decoded.
#[derive(Debug, Clone)]
pub struct VerifiedLog {
    /// The log origin (`escrow-trustee/<trustee id>`).
    pub origin: String,
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// Every entry, index = position.
    pub entries: Vec<Entry>,
    /// Sealed-details openings.
    pub openings: Openings,
    /// Releases that the opened details show were wrong: a released field outside the
    /// warrant's scope, invalid for its label, not matching any logged fingerprint, or
    /// a logged fingerprint whose item the trustee did not disclose.
    pub release_findings: Vec<String>,
}

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
}

/// The pinned state of one log in the auditor's state dir.
#[derive(Debug, Serialize, Deserialize)]
struct Pinned {
    origin: String,
    verifier_key: String,
    checkpoint: String,
}

fn state_path(state_dir: &Path, origin: &str) -> PathBuf {
    state_dir.join(format!("{}.json", hex::encode(Sha256::digest(origin.as_bytes()))))
}

fn load(path: &Path, origin: &str) -> Result<Option<Pinned>, AuditFailure> {
    let err = |error: String| AuditFailure::State { trustee: origin.into(), path: path.into(), error };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let pinned: Pinned = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if pinned.origin != origin {
        return Err(err(format!("holds origin {:?}", pinned.origin)));
    }
    Ok(Some(pinned))
}

/// Writes the state file atomically (temporary file, then rename).
fn store(path: &Path, pinned: &Pinned) -> Result<(), AuditFailure> {
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
    let mut set = tokio::task::JoinSet::new();
    for (k, addr) in trustee_addrs.iter().enumerate() {
        let (addr, dir, courts, creds) =
            (addr.clone(), state_dir.to_path_buf(), court_keys.to_vec(), credentials.clone());
        set.spawn(async move { (k, audit_one(addr, creds, dir, now, courts).await) });
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
) -> TrusteeAudit {
    let mut audit = TrusteeAudit {
        addr: addr.clone(),
        origin: None,
        size: None,
        result: Err(AuditFailure::Unreachable { trustee: addr.clone(), error: "not audited".into() }),
    };
    audit.result = Auditor { addr: &addr, credentials: &credentials, state_dir: &state_dir, now, courts: &courts }
        .run(&mut audit.origin, &mut audit.size)
        .await;
    audit
}

struct Auditor<'a> {
    addr: &'a str,
    credentials: &'a Credentials,
    state_dir: &'a Path,
    now: u64,
    courts: &'a [CourtPublicKey],
}

impl Auditor<'_> {
    async fn run(
        &self,
        origin_out: &mut Option<String>,
        size_out: &mut Option<u64>,
    ) -> Result<VerifiedLog, AuditFailure> {
        let addr = self.addr;
        let mut client = escrow_service::transport::audit_client(addr, self.credentials)
            .map_err(|e| AuditFailure::Unreachable { trustee: addr.into(), error: e.to_string() })?;
        let head = client
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await
            .map_err(|s| rpc_failure(addr, "GetCheckpoint".into(), &s))?
            .into_inner();

        // The origin is the note's first line; the signature check below binds it.
        let origin = head.checkpoint.lines().next().unwrap_or("").to_string();
        if origin.is_empty() || origin.len() > escrow_log::checkpoint::MAX_ORIGIN_LEN {
            return Err(AuditFailure::Malformed {
                trustee: addr.into(),
                what: "checkpoint",
                error: "no origin line".into(),
            });
        }
        *origin_out = Some(origin.clone());
        let name = origin.as_str();
        let served: CheckpointVerifier = head.verifier_key.parse().map_err(|e: escrow_log::LogError| {
            AuditFailure::Malformed { trustee: name.into(), what: "verifier key", error: e.to_string() }
        })?;
        let path = state_path(self.state_dir, name);
        let pinned = load(&path, name)?;
        let old = match &pinned {
            None => None,
            Some(p) => {
                let pinned_key: CheckpointVerifier = p.verifier_key.parse().map_err(|e: escrow_log::LogError| {
                    AuditFailure::State { trustee: name.into(), path: path.clone(), error: e.to_string() }
                })?;
                if pinned_key.to_string() != served.to_string() {
                    return Err(AuditFailure::KeyChanged {
                        trustee: name.into(),
                        pinned: pinned_key.to_string(),
                        served: served.to_string(),
                    });
                }
                let old =
                    pinned_key.verify_for_origin(p.checkpoint.as_bytes(), name).map_err(|e| AuditFailure::State {
                        trustee: name.into(),
                        path: path.clone(),
                        error: format!("stored checkpoint does not verify: {e}"),
                    })?;
                Some(old)
            }
        };
        let checkpoint = served
            .verify_for_origin(head.checkpoint.as_bytes(), name)
            .map_err(|e| AuditFailure::BadSignature { trustee: name.into(), error: e.to_string() })?;
        let size = checkpoint.size();
        *size_out = Some(size);

        if let Some(old) = &old {
            self.check_consistency(&mut client, name, old, &checkpoint).await?;
        }
        let raw = self.fetch_entries(&mut client, name, size).await?;
        let tree = MerkleTree::from_leaf_hashes(raw.iter().map(|e| leaf_hash(e)));
        let served_count = tree.size();
        let computed = tree.root(served_count).map_err(|e| AuditFailure::Malformed {
            trustee: name.into(),
            what: "entries",
            error: e.to_string(),
        })?;
        if served_count != size || &computed != checkpoint.root() {
            return Err(AuditFailure::RootMismatch {
                trustee: name.into(),
                entries: served_count,
                size,
                computed: hex::encode(computed),
                claimed: hex::encode(checkpoint.root()),
            });
        }
        let mut entries = Vec::with_capacity(raw.len());
        for (index, bytes) in (0u64..).zip(&raw) {
            entries.push(Entry::from_bytes(bytes).map_err(|e| AuditFailure::Undecodable {
                trustee: name.into(),
                index,
                error: e.to_string(),
            })?);
        }
        let (openings, release_findings) = self.check_openings(&mut client, name, &entries).await?;
        store(
            &path,
            &Pinned { origin: origin.clone(), verifier_key: served.to_string(), checkpoint: head.checkpoint },
        )?;
        Ok(VerifiedLog { origin, checkpoint, entries, openings, release_findings })
    }

    async fn check_consistency(
        &self,
        client: &mut AuditClient<Channel>,
        name: &str,
        old: &Checkpoint,
        new: &Checkpoint,
    ) -> Result<(), AuditFailure> {
        if new.size() < old.size() {
            return Err(AuditFailure::Shrank { trustee: name.into(), old: old.size(), new: new.size() });
        }
        let (first, second) = (old.size(), new.size());
        let proof = client
            .get_consistency_proof(pb::GetConsistencyProofRequest { first, second })
            .await
            .map_err(|s| rpc_failure(name, format!("GetConsistencyProof({first}, {second})"), &s))?
            .into_inner();
        let proof = hashes(name, proof)?;
        verify_consistency(first, second, old.root(), new.root(), &proof).map_err(|e| AuditFailure::Forked {
            trustee: name.into(),
            old_size: first,
            old_root: hex::encode(old.root()),
            new_size: second,
            new_root: hex::encode(new.root()),
            error: e.to_string(),
        })
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

    async fn check_openings(
        &self,
        client: &mut AuditClient<Channel>,
        name: &str,
        entries: &[Entry],
    ) -> Result<(Openings, Vec<String>), AuditFailure> {
        let mut openings = Openings::default();
        let mut findings = Vec::new();
        let mut epoch_keys: Option<Vec<escrow_crypto::EpochPublicKey>> = None;
        for (index, entry) in (0u64..).zip(entries) {
            let Event::WarrantReceived { warrant_id, reveal_at, .. } = &entry.event else { continue };
            if *reveal_at > self.now {
                openings.sealed += 1;
                continue;
            }
            let warrant = hex::encode(warrant_id);
            match client.get_details_opening(pb::GetDetailsOpeningRequest { warrant_id: warrant_id.to_vec() }).await {
                Ok(o) => {
                    let o = o.into_inner();
                    self.check_opening(&entry.event, &o).map_err(|what| AuditFailure::OpeningMismatch {
                        trustee: name.into(),
                        warrant,
                        index,
                        what,
                    })?;
                    openings.checked += 1;
                    if !self.courts.is_empty() {
                        if epoch_keys.is_none() {
                            epoch_keys = Some(self.epoch_keys(name, entries).await?);
                        }
                        let keys = epoch_keys.as_deref().unwrap_or_default();
                        findings.extend(check_releases(name, warrant_id, &o, entries, keys, self.courts));
                    }
                }
                Err(s)
                    if s.code() == tonic::Code::FailedPrecondition
                        && self.now < reveal_at.saturating_add(REVEAL_GRACE_SECS) =>
                {
                    openings.sealed += 1;
                }
                Err(s) if matches!(s.code(), tonic::Code::FailedPrecondition | tonic::Code::NotFound) => {
                    return Err(AuditFailure::OpeningWithheld {
                        trustee: name.into(),
                        warrant,
                        index,
                        reveal_at: *reveal_at,
                        now: self.now,
                        error: format!("{:?}: {}", s.code(), s.message()),
                    });
                }
                Err(s) => return Err(rpc_failure(name, format!("GetDetailsOpening({warrant})"), &s)),
            }
        }
        Ok((openings, findings))
    }

    /// The trustee's epoch public keys (GetInfo), each checked against the SHA-256 its
    /// log recorded when the epoch was installed.
    async fn epoch_keys(
        &self,
        name: &str,
        entries: &[Entry],
    ) -> Result<Vec<escrow_crypto::EpochPublicKey>, AuditFailure> {
        use sha2::{Digest, Sha256};
        let info = escrow_service::transport::trustee_client(self.addr, self.credentials)
            .map_err(|e| AuditFailure::Unreachable { trustee: name.into(), error: e.to_string() })?
            .get_info(pb::GetInfoRequest {})
            .await
            .map_err(|s| rpc_failure(name, "GetInfo".into(), &s))?
            .into_inner();
        let logged: Vec<(u64, [u8; 32])> = entries
            .iter()
            .filter_map(|e| match e.event {
                Event::EpochInstalled { epoch, public_key_hash, .. } => Some((epoch, public_key_hash)),
                _ => None,
            })
            .collect();
        let mut keys = Vec::new();
        for blob in &info.epoch_public_keys {
            let hash: [u8; 32] = Sha256::digest(blob).into();
            let epk = escrow_crypto::EpochPublicKey::from_bytes(blob).map_err(|e| AuditFailure::Malformed {
                trustee: name.into(),
                what: "epoch public key",
                error: e.to_string(),
            })?;
            if !logged.contains(&(epk.epoch().0, hash)) {
                return Err(AuditFailure::Malformed {
                    trustee: name.into(),
                    what: "epoch public key",
                    error: format!("the key served for epoch {} is not the one its log installed", epk.epoch()),
                });
            }
            keys.push(epk);
        }
        Ok(keys)
    }

    /// Checks one opening against the logged `WarrantReceived` event; says what differs.
    fn check_opening(&self, event: &Event, o: &pb::DetailsOpening) -> Result<(), String> {
        let Event::WarrantReceived {
            warrant_id,
            court,
            agency,
            window_from,
            window_to,
            valid_until,
            reveal_at,
            details_commitment: committed,
            ..
        } = event
        else {
            return Ok(());
        };
        let nonce: [u8; 32] =
            o.nonce.as_slice().try_into().map_err(|_| format!("the nonce is {} bytes, not 32", o.nonce.len()))?;
        let opened = details_commitment(&nonce, &o.warrant);
        if &opened != committed {
            return Err(format!(
                "the opening does not match the commitment: SHA-256(nonce ‖ warrant) is {} but the log committed to {}",
                short_hex(&opened),
                short_hex(committed)
            ));
        }
        if self.courts.is_empty() {
            let framed = o.warrant.get(WARRANT_ID_OFFSET..WARRANT_ID_OFFSET + 16);
            if framed != Some(&warrant_id[..]) {
                return Err(format!(
                    "the opened warrant carries id {}",
                    framed.map(hex::encode).unwrap_or_else(|| "none (truncated)".into())
                ));
            }
            return Ok(());
        }
        let w = VerifiedWarrant::verify_any(&o.warrant, self.courts)
            .map_err(|e| format!("the opened warrant does not verify under the given court keys: {e}"))?;
        let b = w.body();
        let differs = |field: &str, logged: String, opened: String| {
            Err(format!("the log says {field} {logged} but the opened warrant says {opened}"))
        };
        if b.id.0 != *warrant_id {
            return differs("id", hex::encode(warrant_id), b.id.to_string());
        }
        if b.court.as_str() != court {
            return differs("court", court.clone(), b.court.to_string());
        }
        if b.agency.as_str() != agency {
            return differs("agency", agency.clone(), b.agency.to_string());
        }
        if (b.window.from(), b.window.to()) != (*window_from, *window_to) {
            return differs(
                "window",
                format!("[{window_from}, {window_to})"),
                format!("[{}, {})", b.window.from(), b.window.to()),
            );
        }
        if b.valid_until != *valid_until {
            return differs("valid_until", valid_until.to_string(), b.valid_until.to_string());
        }
        let due = b.reveal_at();
        if due != *reveal_at {
            return differs("reveal_at", reveal_at.to_string(), due.to_string());
        }
        Ok(())
    }
}

impl fmt::Display for Openings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} openings checked, {} sealed", self.checked, self.sealed)
    }
}

/// Checks every item a trustee disclosed for a warrant against its log and the opened
/// warrant: fingerprint logged, field valid for its label under the epoch key (the
/// pairing check binds the two, so a label cannot be swapped in afterwards), label
/// inside the warrant's scope; and every logged fingerprint disclosed.
fn check_releases(
    name: &str,
    warrant_id: &[u8; 16],
    o: &pb::DetailsOpening,
    entries: &[Entry],
    keys: &[escrow_crypto::EpochPublicKey],
    courts: &[CourtPublicKey],
) -> Vec<String> {
    use escrow_crypto::{EscrowField, Label};
    let warrant = hex::encode(warrant_id);
    let mut out = Vec::new();
    let Ok(w) = VerifiedWarrant::verify_any(&o.warrant, courts) else { return out };
    let logged: std::collections::BTreeSet<[u8; 32]> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::SharesReleased { warrant_id: id, fields, .. } if id == warrant_id => Some(fields.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut disclosed = std::collections::BTreeSet::new();
    for (k, item) in o.released.iter().enumerate() {
        let what = format!("{name}: warrant {warrant}, released item {k}");
        let (label, field) = match (Label::from_bytes(&item.label), EscrowField::from_bytes(&item.field)) {
            (Ok(l), Ok(f)) => (l, f),
            _ => {
                out.push(format!("{what} does not decode"));
                continue;
            }
        };
        let fp = field.fingerprint();
        disclosed.insert(fp);
        if !logged.contains(&fp) {
            out.push(format!("{what}: field {} was never logged as released", short_hex(&fp)));
        }
        match keys.iter().find(|k| k.epoch() == label.epoch()) {
            None => out.push(format!("{what}: no installed key for epoch {}", label.epoch())),
            Some(epk) => {
                if field.verify(epk, &label).is_err() {
                    out.push(format!("{what}: the field is not valid for the disclosed label"));
                }
            }
        }
        if let Err(e) = w.check_scope(&label) {
            out.push(format!("{what}: released OUTSIDE the warrant's scope ({e})"));
        }
    }
    for fp in logged.difference(&disclosed) {
        out.push(format!(
            "{name}: warrant {warrant}: released field {} was not disclosed in the opening",
            short_hex(fp)
        ));
    }
    out
}
