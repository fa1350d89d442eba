//! The auditor's checks over material already fetched: no IO, no async, no gRPC.
//!
//! An audit of one log is four steps, each a type that only the previous step's check
//! can produce, so a fetcher cannot skip one:
//!
//! 1. [`Head::check`]: the served checkpoint is signed by the served key, the key is
//!    the one pinned on first use, and the log did not shrink.
//! 2. [`Head::consistent`]: the consistency proof from the pinned checkpoint to the new
//!    one verifies ([`Head::consistency_needed`] says which sizes to ask for).
//! 3. [`Consistent::entries`]: the root recomputed from the served entries is the
//!    checkpoint's, and every entry decodes.
//! 4. [`Entries::finish`]: every sealed-details opening that is due
//!    ([`Entries::due_openings`]) matches its commitment, and, with court keys, every
//!    disclosed release is checked against the log and the warrant's scope, and every
//!    logged day key against the warrant's targets and window. The result is a
//!    [`VerifiedLog`] and the state to pin for the next visit.
//!
//! The fetcher around this ([`crate::verify()`]) only asks the trustee for what each
//! step names and stores what step 4 returns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use escrow_crypto::{CourtPublicKey, EpochPublicKey, EscrowField, Label, VerifiedWarrant};
use escrow_log::event::{details_commitment, party_tag, Entry, Event};
use escrow_log::{leaf_hash, verify_consistency, Checkpoint, CheckpointVerifier, Hash, MerkleTree};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::failure::{AuditFailure, OpeningProblem, ReleaseFinding};

/// Clock skew tolerated between auditor and trustee before a sealed opening past its
/// reveal time counts as withheld.
pub const REVEAL_GRACE_SECS: u64 = 300;

/// What the auditor remembers of a log after a visit where everything verified: the
/// verifier key pinned on first use and the last checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedLog {
    /// The log origin.
    pub origin: String,
    /// The verifier key, in signed-note vkey text.
    pub verifier_key: String,
    /// The last checkpoint note that verified.
    pub checkpoint: String,
}

/// The origin a served checkpoint note claims (its first line), so that the fetcher
/// can find the pinned state; [`Head::check`] then binds it by the signature.
pub fn claimed_origin<'a>(trustee: &str, note: &'a str) -> Result<&'a str, AuditFailure> {
    let origin = note.lines().next().unwrap_or("");
    if origin.is_empty() || origin.len() > escrow_log::checkpoint::MAX_ORIGIN_LEN {
        return Err(AuditFailure::Malformed {
            trustee: trustee.into(),
            what: "checkpoint",
            error: "no origin line".into(),
        });
    }
    Ok(origin)
}

/// The size a served checkpoint note claims (its second line), before any check: only
/// to decide whether to ask again.
pub fn claimed_size(note: &str) -> Option<u64> {
    note.lines().nth(1).and_then(|l| l.parse().ok())
}

/// Step 1: a signed checkpoint under the pinned key, not smaller than the pinned one.
#[derive(Debug)]
pub struct Head {
    origin: String,
    verifier: CheckpointVerifier,
    note: String,
    checkpoint: Checkpoint,
    old: Option<Checkpoint>,
}

impl Head {
    /// Checks a served checkpoint `note` and verifier `key` against what was pinned for
    /// the log (`None` on the first visit: the key is then pinned on first use; the
    /// path only names the pinned state in errors). `trustee` names the log in errors
    /// until its origin is known (its address).
    pub fn check(
        trustee: &str,
        note: &str,
        key: &str,
        pinned: Option<(&Path, &PinnedLog)>,
    ) -> Result<Head, AuditFailure> {
        let origin = claimed_origin(trustee, note)?.to_string();
        let name = origin.as_str();
        let served: CheckpointVerifier = key.parse().map_err(|e: escrow_log::LogError| AuditFailure::Malformed {
            trustee: name.into(),
            what: "verifier key",
            error: e.to_string(),
        })?;
        let old = match pinned {
            None => None,
            Some((path, p)) => {
                let state = |error: String| AuditFailure::State { trustee: name.into(), path: path.into(), error };
                if p.origin != origin {
                    return Err(state(format!("holds origin {:?}", p.origin)));
                }
                let pinned_key: CheckpointVerifier =
                    p.verifier_key.parse().map_err(|e: escrow_log::LogError| state(e.to_string()))?;
                if pinned_key.to_string() != served.to_string() {
                    return Err(AuditFailure::KeyChanged {
                        trustee: name.into(),
                        pinned: pinned_key.to_string(),
                        served: served.to_string(),
                    });
                }
                let old = pinned_key
                    .verify_for_origin(p.checkpoint.as_bytes(), name)
                    .map_err(|e| state(format!("stored checkpoint does not verify: {e}")))?;
                Some(old)
            }
        };
        let checkpoint = served
            .verify_for_origin(note.as_bytes(), name)
            .map_err(|e| AuditFailure::BadSignature { trustee: name.into(), error: e.to_string() })?;
        if let Some(old) = &old {
            if checkpoint.size() < old.size() {
                return Err(AuditFailure::Shrank { trustee: origin, old: old.size(), new: checkpoint.size() });
            }
        }
        Ok(Head { origin, verifier: served, note: note.to_string(), checkpoint, old })
    }

    /// The log origin, bound by the checkpoint signature.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The size of the served checkpoint.
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// The served checkpoint, verified.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// `(first, second)` of the consistency proof to fetch, if a checkpoint was pinned.
    pub fn consistency_needed(&self) -> Option<(u64, u64)> {
        self.old.as_ref().map(|old| (old.size(), self.checkpoint.size()))
    }

    /// Step 2: checks the consistency proof asked for by [`Head::consistency_needed`]
    /// (`None` only when none was needed).
    pub fn consistent(self, proof: Option<&[Hash]>) -> Result<Consistent, AuditFailure> {
        if let Some(old) = &self.old {
            let (first, second) = (old.size(), self.checkpoint.size());
            let forked = |error: String| AuditFailure::Forked {
                trustee: self.origin.clone(),
                old_size: first,
                old_root: hex::encode(old.root()),
                new_size: second,
                new_root: hex::encode(self.checkpoint.root()),
                error,
            };
            let proof = proof.ok_or_else(|| forked("no consistency proof".into()))?;
            verify_consistency(first, second, old.root(), self.checkpoint.root(), proof)
                .map_err(|e| forked(e.to_string()))?;
        }
        Ok(Consistent(self))
    }
}

/// Step 2 done: the served checkpoint extends everything seen before.
#[derive(Debug)]
pub struct Consistent(Head);

impl Consistent {
    /// The head that was shown consistent.
    pub fn head(&self) -> &Head {
        &self.0
    }

    /// Step 3: the served entries (raw, index = position) hash to the checkpoint's root
    /// and each decodes. Fewer entries than the checkpoint's size is a root mismatch.
    pub fn entries(self, raw: &[Vec<u8>]) -> Result<Entries, AuditFailure> {
        let head = self.0;
        let name = head.origin.as_str();
        let size = head.checkpoint.size();
        let tree = MerkleTree::from_leaf_hashes(raw.iter().map(|e| leaf_hash(e)));
        let served = tree.size();
        let computed = tree.root(served).map_err(|e| AuditFailure::Malformed {
            trustee: name.into(),
            what: "entries",
            error: e.to_string(),
        })?;
        if served != size || &computed != head.checkpoint.root() {
            return Err(AuditFailure::RootMismatch {
                trustee: name.into(),
                entries: served,
                size,
                computed: hex::encode(computed),
                claimed: hex::encode(head.checkpoint.root()),
            });
        }
        let mut entries = Vec::with_capacity(raw.len());
        for (index, bytes) in (0u64..).zip(raw) {
            entries.push(Entry::from_bytes(bytes).map_err(|e| AuditFailure::Undecodable {
                trustee: name.into(),
                index,
                error: e.to_string(),
            })?);
        }
        Ok(Entries { head, entries })
    }
}

/// A sealed-details opening whose reveal time has passed at the auditor's `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueOpening {
    /// Index of the `WarrantReceived` entry.
    pub index: u64,
    /// The warrant.
    pub warrant_id: [u8; 16],
    /// When the log says its details open.
    pub reveal_at: u64,
}

/// What a trustee answered when asked for a due opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpeningAnswer {
    /// The opening: nonce, the signed warrant blob, and every (label, field) released
    /// under it.
    Opened {
        /// The commitment nonce.
        nonce: Vec<u8>,
        /// The exact signed warrant blob.
        warrant: Vec<u8>,
        /// Each released item as (label bytes, field bytes).
        released: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The trustee says the details are not due yet (its clock may lag).
    NotYetDue {
        /// The trustee's words.
        error: String,
    },
    /// The trustee has no opening to give.
    Refused {
        /// The trustee's words.
        error: String,
    },
}

/// Step 3 done: the entries are exactly the checkpoint's, decoded.
#[derive(Debug)]
pub struct Entries {
    head: Head,
    entries: Vec<Entry>,
}

impl Entries {
    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.head.origin
    }

    /// The openings due at `now`, in log order: the fetcher asks the trustee for each.
    pub fn due_openings(&self, now: u64) -> Vec<DueOpening> {
        (0u64..)
            .zip(&self.entries)
            .filter_map(|(index, e)| match &e.event {
                Event::WarrantReceived { warrant_id, reveal_at, .. } if *reveal_at <= now => {
                    Some(DueOpening { index, warrant_id: *warrant_id, reveal_at: *reveal_at })
                }
                _ => None,
            })
            .collect()
    }

    /// Whether [`Entries::finish`] will need the trustee's epoch public keys: only to
    /// check releases under an opened warrant, which needs court keys.
    pub fn needs_epoch_keys(answers: &[(DueOpening, OpeningAnswer)], courts: &[CourtPublicKey]) -> bool {
        !courts.is_empty() && answers.iter().any(|(_, a)| matches!(a, OpeningAnswer::Opened { .. }))
    }

    /// Step 4: checks the `answers` to [`Entries::due_openings`] at `now` and, with
    /// `courts`, every disclosed release against the log (using the trustee's
    /// `epoch_keys`, each checked against the hash its log installed). Returns the
    /// verified log and the state to pin.
    pub fn finish(
        self,
        answers: &[(DueOpening, OpeningAnswer)],
        epoch_keys: &[Vec<u8>],
        now: u64,
        courts: &[CourtPublicKey],
    ) -> Result<(VerifiedLog, PinnedLog), AuditFailure> {
        let name = self.head.origin.as_str();
        let due = self.due_openings(now);
        let mut openings = Openings {
            sealed: (self.entries.iter().filter(|e| matches!(e.event, Event::WarrantReceived { .. })).count())
                .saturating_sub(due.len()) as u64,
            ..Openings::default()
        };
        let keys = if Self::needs_epoch_keys(answers, courts) {
            installed_keys(name, &self.entries, epoch_keys)?
        } else {
            Vec::new()
        };
        let mut findings = Vec::new();
        let withheld = |d: &DueOpening, warrant: String, error: String| AuditFailure::OpeningWithheld {
            trustee: name.into(),
            warrant,
            index: d.index,
            reveal_at: d.reveal_at,
            now,
            error,
        };
        for d in &due {
            let warrant = hex::encode(d.warrant_id);
            let answer = answers.iter().find(|(a, _)| a == d).map(|(_, o)| o);
            match answer {
                Some(OpeningAnswer::Opened { nonce, warrant: blob, released }) => {
                    let entry = self.entries.get(d.index as usize).map(|e| &e.event);
                    let signed =
                        check_opening(entry, nonce, blob, courts).map_err(|what| AuditFailure::OpeningMismatch {
                            trustee: name.into(),
                            warrant: warrant.clone(),
                            index: d.index,
                            what: Box::new(what),
                        })?;
                    openings.checked += 1;
                    if let Some(w) = signed {
                        findings.extend(check_releases(name, &d.warrant_id, &w, released, &self.entries, &keys));
                        findings.extend(check_day_keys(name, &d.warrant_id, &w, &self.entries));
                    }
                }
                Some(OpeningAnswer::NotYetDue { .. }) if now < d.reveal_at.saturating_add(REVEAL_GRACE_SECS) => {
                    openings.sealed += 1;
                }
                Some(OpeningAnswer::NotYetDue { error } | OpeningAnswer::Refused { error }) => {
                    return Err(withheld(d, warrant, error.clone()));
                }
                None => return Err(withheld(d, warrant, "not asked for".into())),
            }
        }
        let Entries { head, entries } = self;
        let pinned =
            PinnedLog { origin: head.origin.clone(), verifier_key: head.verifier.to_string(), checkpoint: head.note };
        let log = VerifiedLog { origin: head.origin, checkpoint: head.checkpoint, entries, openings, findings };
        Ok((log, pinned))
    }
}

/// How many sealed-details openings were checked, and how many are still sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Openings {
    /// Openings fetched and matched against their commitments.
    pub checked: u64,
    /// Warrants whose details are still sealed.
    pub sealed: u64,
}

impl fmt::Display for Openings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} openings checked, {} sealed", self.checked, self.sealed)
    }
}

/// A log that verified: its signed head and every entry, decoded. Only
/// [`Entries::finish`] makes one, so holding one means every check above passed.
#[derive(Debug, Clone)]
pub struct VerifiedLog {
    origin: String,
    checkpoint: Checkpoint,
    entries: Vec<Entry>,
    openings: Openings,
    findings: Vec<ReleaseFinding>,
}

impl VerifiedLog {
    /// The log origin (`escrow-trustee/<trustee id>`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Every entry, index = position.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Sealed-details openings checked and still sealed.
    pub fn openings(&self) -> Openings {
        self.openings
    }

    /// Releases that the opened details show were wrong.
    pub fn release_findings(&self) -> &[ReleaseFinding] {
        &self.findings
    }
}

/// The trustee's served epoch public keys, each checked against the SHA-256 its log
/// recorded when the epoch was installed.
fn installed_keys(name: &str, entries: &[Entry], served: &[Vec<u8>]) -> Result<Vec<EpochPublicKey>, AuditFailure> {
    let logged: Vec<(u64, [u8; 32])> = entries
        .iter()
        .filter_map(|e| match e.event {
            Event::EpochInstalled { epoch, public_key_hash, .. } => Some((epoch, public_key_hash)),
            _ => None,
        })
        .collect();
    let mut keys = Vec::new();
    for blob in served {
        let hash: [u8; 32] = Sha256::digest(blob).into();
        let malformed =
            |error: String| AuditFailure::Malformed { trustee: name.into(), what: "epoch public key", error };
        let epk = EpochPublicKey::from_bytes(blob).map_err(|e| malformed(e.to_string()))?;
        if !logged.contains(&(epk.epoch().0, hash)) {
            return Err(malformed(format!(
                "the key served for epoch {} is not the one its log installed",
                epk.epoch()
            )));
        }
        keys.push(epk);
    }
    Ok(keys)
}

/// Checks one opening against its logged `WarrantReceived` event: the commitment, then
/// (with court keys) the court's signature and every public term the log recorded.
/// Returns the warrant, verified, when court keys were given.
fn check_opening(
    event: Option<&Event>,
    nonce: &[u8],
    blob: &[u8],
    courts: &[CourtPublicKey],
) -> Result<Option<VerifiedWarrant>, OpeningProblem> {
    let Some(Event::WarrantReceived {
        warrant_id,
        court,
        agency,
        window_from,
        window_to,
        valid_until,
        reveal_at,
        details_commitment: committed,
        ..
    }) = event
    else {
        return Ok(None);
    };
    let nonce: [u8; 32] = nonce.try_into().map_err(|_| OpeningProblem::NonceLength(nonce.len()))?;
    let opened = details_commitment(&nonce, blob);
    if &opened != committed {
        return Err(OpeningProblem::Commitment { opened, committed: *committed });
    }
    if courts.is_empty() {
        let carried = escrow_crypto::peek_warrant_id(blob).map(|w| w.0);
        if carried != Some(*warrant_id) {
            return Err(OpeningProblem::FramedId { carried });
        }
        return Ok(None);
    }
    let w = VerifiedWarrant::verify_any(blob, courts).map_err(OpeningProblem::Signature)?;
    let b = w.body();
    let differs =
        |field: &'static str, logged: String, opened: String| Err(OpeningProblem::Differs { field, logged, opened });
    if b.id.0 != *warrant_id {
        return differs("id", hex::encode(warrant_id), b.id.to_string());
    }
    if b.court.as_str() != *court {
        return differs("court", court.to_string(), b.court.to_string());
    }
    if b.agency.as_str() != *agency {
        return differs("agency", agency.to_string(), b.agency.to_string());
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
    Ok(Some(w))
}

/// Checks every item a trustee disclosed for a warrant against its log and the opened
/// warrant: fingerprint logged, field valid for its label under the epoch key (the
/// pairing check binds the two, so a label cannot be swapped in afterwards), label
/// inside the warrant's scope; and every logged fingerprint disclosed.
fn check_releases(
    name: &str,
    warrant_id: &[u8; 16],
    w: &VerifiedWarrant,
    released: &[(Vec<u8>, Vec<u8>)],
    entries: &[Entry],
    keys: &[EpochPublicKey],
) -> Vec<ReleaseFinding> {
    let mut out = Vec::new();
    let (trustee, warrant) = (name.to_string(), *warrant_id);
    let logged: BTreeSet<Hash> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::SharesReleased { warrant_id: id, fields, .. } if id == warrant_id => Some(fields.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut disclosed = BTreeSet::new();
    for (item, (label, field)) in released.iter().enumerate() {
        let (label, field) = match (Label::from_bytes(label), EscrowField::from_bytes(field)) {
            (Ok(l), Ok(f)) => (l, f),
            _ => {
                out.push(ReleaseFinding::Undecodable { trustee: trustee.clone(), warrant, item });
                continue;
            }
        };
        let fp = field.fingerprint();
        disclosed.insert(fp);
        if !logged.contains(&fp) {
            out.push(ReleaseFinding::NeverLogged { trustee: trustee.clone(), warrant, item, field: fp });
        }
        match keys.iter().find(|k| k.epoch() == label.epoch()) {
            None => {
                out.push(ReleaseFinding::NoEpochKey { trustee: trustee.clone(), warrant, item, epoch: label.epoch().0 })
            }
            Some(epk) => {
                if field.verify(epk, &label).is_err() {
                    out.push(ReleaseFinding::InvalidForLabel { trustee: trustee.clone(), warrant, item });
                }
            }
        }
        if let Err(reason) = w.check_scope(&label) {
            out.push(ReleaseFinding::OutOfScope { trustee: trustee.clone(), warrant, item, reason });
        }
    }
    for fp in logged.difference(&disclosed) {
        out.push(ReleaseFinding::NotDisclosed { trustee: trustee.clone(), warrant, field: *fp });
    }
    out
}

/// Checks every day key the log released under an opened warrant: its party tag must
/// be `party_tag(signed warrant, target)` for one of the warrant's targets, and its
/// day must overlap the signed window. In log order; within an entry, the days outside
/// the window (one finding per epoch and day), then the tags of no target.
fn check_day_keys(name: &str, warrant_id: &[u8; 16], w: &VerifiedWarrant, entries: &[Entry]) -> Vec<ReleaseFinding> {
    let b = w.body();
    let targets: BTreeSet<Hash> = b.targets.iter().map(|t| party_tag(w.as_bytes(), t.as_str())).collect();
    let (from, to) = (b.window.from(), b.window.to());
    let (trustee, warrant) = (name.to_string(), *warrant_id);
    let mut out = Vec::new();
    for (index, e) in (0u64..).zip(entries) {
        let Event::DayKeysReleased { warrant_id: id, days, .. } = &e.event else { continue };
        if id != warrant_id {
            continue;
        }
        let days: BTreeSet<_> = days.iter().collect();
        let mut outside: BTreeMap<(u64, u32), usize> = BTreeMap::new();
        for d in days.iter().filter(|d| !d.overlaps(from, to)) {
            *outside.entry((d.epoch, d.day)).or_default() += 1;
        }
        for ((epoch, day), keys) in outside {
            out.push(ReleaseFinding::DayKeyOutsideWindow {
                trustee: trustee.clone(),
                warrant,
                index,
                epoch,
                day,
                keys,
                window_from: from,
                window_to: to,
            });
        }
        for d in days.iter().filter(|d| !targets.contains(&d.party)) {
            out.push(ReleaseFinding::DayKeyNotATarget {
                trustee: trustee.clone(),
                warrant,
                index,
                epoch: d.epoch,
                day: d.day,
                party: d.party,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
