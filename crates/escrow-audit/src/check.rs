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
//!    disclosed release is checked against the log and the warrant's scope. The result
//!    is a [`VerifiedLog`] and the state to pin for the next visit.
//!
//! The fetcher around this ([`crate::verify()`]) only asks the trustee for what each
//! step names and stores what step 4 returns.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use escrow_crypto::{CourtPublicKey, EpochPublicKey, EscrowField, Label, VerifiedWarrant};
use escrow_log::event::{details_commitment, Entry, Event};
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
                    check_opening(entry, nonce, blob, courts).map_err(|what| AuditFailure::OpeningMismatch {
                        trustee: name.into(),
                        warrant: warrant.clone(),
                        index: d.index,
                        what: Box::new(what),
                    })?;
                    openings.checked += 1;
                    if !courts.is_empty() {
                        findings.extend(check_releases(
                            name,
                            &d.warrant_id,
                            blob,
                            released,
                            &self.entries,
                            &keys,
                            courts,
                        ));
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
fn check_opening(
    event: Option<&Event>,
    nonce: &[u8],
    blob: &[u8],
    courts: &[CourtPublicKey],
) -> Result<(), OpeningProblem> {
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
        return Ok(());
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
        return Ok(());
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
    Ok(())
}

/// Checks every item a trustee disclosed for a warrant against its log and the opened
/// warrant: fingerprint logged, field valid for its label under the epoch key (the
/// pairing check binds the two, so a label cannot be swapped in afterwards), label
/// inside the warrant's scope; and every logged fingerprint disclosed.
fn check_releases(
    name: &str,
    warrant_id: &[u8; 16],
    blob: &[u8],
    released: &[(Vec<u8>, Vec<u8>)],
    entries: &[Entry],
    keys: &[EpochPublicKey],
    courts: &[CourtPublicKey],
) -> Vec<ReleaseFinding> {
    let mut out = Vec::new();
    let Ok(w) = VerifiedWarrant::verify_any(blob, courts) else { return out };
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

#[cfg(test)]
mod tests {
    use escrow_crypto::{CourtSecretKey, PartyId, TimeWindow, WarrantBody, WarrantId};
    use escrow_log::event::Arrival;
    use rand::SeedableRng;

    use super::*;
    use crate::testlog::HandLog;
    use escrow_log::CheckpointSigner;

    const DAY: u64 = 86_400;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(11)
    }

    fn refused(n: u8) -> Event {
        Event::RequestRefused { warrant_id: [n; 16], code: "NotFound".into(), rule: "test".into() }
    }

    fn three() -> HandLog {
        HandLog::with("log-a", (0..3).map(|n| (u64::from(n), refused(n))).collect())
    }

    #[test]
    fn first_visit_pins_the_key_and_a_grown_log_is_consistent_with_it() {
        let mut log = three();
        let (v, pinned) = log.audit(None, 0, |_| unreachable!()).unwrap();
        assert_eq!((v.origin(), v.checkpoint().size(), v.entries().len()), ("log-a", 3, 3));
        assert_eq!(pinned, PinnedLog { origin: "log-a".into(), verifier_key: log.key(), checkpoint: log.note() });
        log.push(9, refused(9));
        let (v, again) = log.audit(Some(&pinned), 0, |_| unreachable!()).unwrap();
        assert_eq!(v.checkpoint().size(), 4);
        assert_eq!(again.checkpoint, log.note());
    }

    #[test]
    fn a_rewritten_history_is_a_fork_and_a_smaller_log_shrank() {
        let mut log = three();
        let (_, pinned) = log.audit(None, 0, |_| unreachable!()).unwrap();
        // Same key, entry 1 replaced, one more appended: no consistency proof can hold.
        let mut forged = HandLog::new("log-a");
        for (i, n) in [0u8, 7, 2, 3].into_iter().enumerate() {
            forged.push(i as u64, refused(n));
        }
        let path = Path::new("pinned.json");
        let head = Head::check("addr", &forged.note(), &forged.key(), Some((path, &pinned))).unwrap();
        assert_eq!(head.consistency_needed(), Some((3, 4)));
        let err = head.consistent(Some(&forged.proof(3, 4))).unwrap_err();
        assert!(matches!(err, AuditFailure::Forked { old_size: 3, new_size: 4, .. }), "{err}");
        // A fetcher that brings no proof fails the same way.
        let head = Head::check("addr", &forged.note(), &forged.key(), Some((path, &pinned))).unwrap();
        assert!(matches!(head.consistent(None), Err(AuditFailure::Forked { .. })));

        log.push(3, refused(3));
        let (_, at_four) = log.audit(None, 0, |_| unreachable!()).unwrap();
        let err = Head::check("addr", &log.note_at(3), &log.key(), Some((path, &at_four))).unwrap_err();
        assert_eq!(err, AuditFailure::Shrank { trustee: "log-a".into(), old: 4, new: 3 });
    }

    #[test]
    fn a_new_key_a_foreign_signature_or_another_origin_is_refused() {
        let log = three();
        let (_, pinned) = log.audit(None, 0, |_| unreachable!()).unwrap();
        let other = CheckpointSigner::generate("log-a", &mut rng()).unwrap();
        let path = Path::new("pinned.json");
        let err = Head::check("addr", &log.note(), &other.verifier().to_string(), Some((path, &pinned))).unwrap_err();
        assert!(matches!(err, AuditFailure::KeyChanged { .. }), "{err}");
        // Signed by another key than the one served (first visit: nothing pinned).
        let mut foreign = three();
        foreign.signer = other;
        let err = Head::check("addr", &foreign.note(), &log.key(), None).unwrap_err();
        assert!(matches!(err, AuditFailure::BadSignature { .. }), "{err}");
        let elsewhere = PinnedLog { origin: "log-b".into(), ..pinned };
        let err = Head::check("addr", &log.note(), &log.key(), Some((path, &elsewhere))).unwrap_err();
        assert!(matches!(err, AuditFailure::State { ref error, .. } if error.contains("log-b")), "{err}");
        let err = Head::check("10.0.0.1:4", "", &log.key(), None).unwrap_err();
        assert!(
            matches!(err, AuditFailure::Malformed { ref trustee, what: "checkpoint", .. } if trustee == "10.0.0.1:4")
        );
    }

    #[test]
    fn entries_must_be_exactly_the_checkpoint_and_decode() {
        let log = three();
        let consistent = || Head::check("addr", &log.note(), &log.key(), None).unwrap().consistent(None).unwrap();
        let err = consistent().entries(&log.raw[..2]).unwrap_err();
        assert!(matches!(err, AuditFailure::RootMismatch { entries: 2, size: 3, .. }), "{err}");
        let mut altered = log.raw.clone();
        altered[1] = Entry { time: 1, event: refused(8) }.to_bytes().unwrap();
        let err = consistent().entries(&altered).unwrap_err();
        assert!(matches!(err, AuditFailure::RootMismatch { entries: 3, size: 3, .. }), "{err}");
        // Garbage the checkpoint does commit to: the root holds, the entry does not decode.
        let mut junk = three();
        junk.raw[2] = b"not an entry".to_vec();
        let head = Head::check("addr", &junk.note(), &junk.key(), None).unwrap();
        let err = head.consistent(None).unwrap().entries(&junk.raw).unwrap_err();
        assert!(matches!(err, AuditFailure::Undecodable { index: 2, .. }), "{err}");
    }

    /// A log with one received warrant whose details are committed to, and the pieces
    /// of its honest opening.
    fn sealed(agency_in_log: &str) -> (HandLog, Vec<u8>, [u8; 32], CourtSecretKey, u64) {
        let court = CourtSecretKey::generate(PartyId::new("high-court").unwrap(), &mut rng());
        let body = WarrantBody {
            id: WarrantId([5; 16]),
            case_reference: "CASE/1".into(),
            court: PartyId::new("high-court").unwrap(),
            agency: PartyId::new("agency-1").unwrap(),
            targets: vec![PartyId::new("alice").unwrap()],
            window: TimeWindow::new(0, DAY).unwrap(),
            issued_at: 0,
            valid_until: 2 * DAY,
            legal_basis: "test".into(),
            notification_delay_secs: DAY,
        };
        let blob = court.sign(&body).unwrap();
        let nonce = [9u8; 32];
        let event = Event::WarrantReceived {
            warrant_id: body.id.0,
            court: "high-court".into(),
            agency: agency_in_log.into(),
            window_from: 0,
            window_to: DAY,
            valid_until: body.valid_until,
            reveal_at: body.reveal_at(),
            details_commitment: details_commitment(&nonce, &blob),
            arrival: Arrival::Received,
            reason: Default::default(),
        };
        (HandLog::with("log-a", vec![(0, event)]), blob, nonce, court, body.reveal_at())
    }

    fn opened(nonce: &[u8], blob: &[u8]) -> OpeningAnswer {
        OpeningAnswer::Opened { nonce: nonce.to_vec(), warrant: blob.to_vec(), released: Vec::new() }
    }

    #[test]
    fn an_opening_is_due_at_its_reveal_time_and_must_match_its_commitment() {
        let (log, blob, nonce, _, reveal) = sealed("agency-1");
        let (v, _) = log.audit(None, reveal - 1, |_| unreachable!("not due yet")).unwrap();
        assert_eq!(v.openings(), Openings { checked: 0, sealed: 1 });
        let (v, _) = log.audit(None, reveal, |_| opened(&nonce, &blob)).unwrap();
        assert_eq!(v.openings(), Openings { checked: 1, sealed: 0 });

        let problem = |answer: OpeningAnswer| match log.audit(None, reveal, |_| answer.clone()) {
            Err(AuditFailure::OpeningMismatch { what, index: 0, .. }) => *what,
            other => panic!("{other:?}"),
        };
        assert!(matches!(problem(opened(&[9; 31], &blob)), OpeningProblem::NonceLength(31)));
        assert!(matches!(problem(opened(&[8; 32], &blob)), OpeningProblem::Commitment { .. }));
    }

    #[test]
    fn the_framing_is_checked_without_court_keys() {
        // The commitment holds over a blob that is not a warrant for this id.
        let nonce = [1u8; 32];
        let blob = b"\x01\x00\x03not the warrant".to_vec();
        let (mut log, ..) = sealed("agency-1");
        log.raw.clear();
        log.push(
            0,
            Event::WarrantReceived {
                warrant_id: [5; 16],
                court: "c".into(),
                agency: "a".into(),
                window_from: 0,
                window_to: 1,
                valid_until: 1,
                reveal_at: 10,
                details_commitment: details_commitment(&nonce, &blob),
                arrival: Arrival::Received,
                reason: Default::default(),
            },
        );
        match log.audit(None, 10, |_| opened(&nonce, &blob)) {
            Err(AuditFailure::OpeningMismatch { what, .. }) => {
                assert_eq!(*what, OpeningProblem::FramedId { carried: None });
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_withheld_opening_is_tolerated_only_within_the_grace() {
        let (log, _, _, _, reveal) = sealed("agency-1");
        let not_yet = || OpeningAnswer::NotYetDue { error: "FailedPrecondition: sealed".into() };
        let (v, _) = log.audit(None, reveal + REVEAL_GRACE_SECS - 1, |_| not_yet()).unwrap();
        assert_eq!(v.openings(), Openings { checked: 0, sealed: 1 });
        let err = log.audit(None, reveal + REVEAL_GRACE_SECS, |_| not_yet()).unwrap_err();
        assert!(matches!(err, AuditFailure::OpeningWithheld { index: 0, .. }), "{err}");
        let err = log.audit(None, reveal, |_| OpeningAnswer::Refused { error: "NotFound".into() }).unwrap_err();
        assert!(matches!(err, AuditFailure::OpeningWithheld { .. }), "{err}");
        // A fetcher that skipped the due opening cannot get a VerifiedLog either.
        let head = Head::check("addr", &log.note(), &log.key(), None).unwrap();
        let entries = head.consistent(None).unwrap().entries(&log.raw).unwrap();
        assert!(matches!(entries.finish(&[], &[], reveal, &[]), Err(AuditFailure::OpeningWithheld { .. })));
    }

    /// Runs the checks with court keys and the trustee's served epoch keys.
    fn audit_with_courts(
        log: &HandLog,
        now: u64,
        answer: OpeningAnswer,
        courts: &[CourtPublicKey],
        epoch_keys: &[Vec<u8>],
    ) -> Result<VerifiedLog, AuditFailure> {
        let head = Head::check("addr", &log.note(), &log.key(), None)?;
        let entries = head.consistent(None)?.entries(&log.raw)?;
        let answers: Vec<_> = entries.due_openings(now).into_iter().map(|d| (d, answer.clone())).collect();
        assert!(Entries::needs_epoch_keys(&answers, courts));
        entries.finish(&answers, epoch_keys, now, courts).map(|(v, _)| v)
    }

    #[test]
    fn with_court_keys_the_signed_terms_and_every_release_are_checked() {
        let (log, blob, nonce, court, reveal) = sealed("agency-2");
        let err = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], &[]).unwrap_err();
        match err {
            AuditFailure::OpeningMismatch { what, .. } => {
                assert!(matches!(*what, OpeningProblem::Differs { field: "agency", .. }), "{what}");
            }
            other => panic!("{other:?}"),
        }
        let other_court = CourtSecretKey::generate(
            PartyId::new("high-court").unwrap(),
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(12),
        );
        let err = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[other_court.public()], &[]).unwrap_err();
        assert!(
            matches!(err, AuditFailure::OpeningMismatch { ref what, .. } if matches!(**what, OpeningProblem::Signature(_))),
            "{err}"
        );

        // An honest log, one logged release that the opening hides and one item that
        // does not decode.
        let (mut log, blob, nonce, court, reveal) = sealed("agency-1");
        log.push(1, Event::SharesReleased { warrant_id: [5; 16], agency: "agency-1".into(), fields: vec![[3; 32]] });
        let answer = OpeningAnswer::Opened {
            nonce: nonce.to_vec(),
            warrant: blob,
            released: vec![(b"x".to_vec(), b"y".to_vec())],
        };
        let v = audit_with_courts(&log, reveal, answer, &[court.public()], &[]).unwrap();
        assert_eq!(
            v.release_findings(),
            &[
                ReleaseFinding::Undecodable { trustee: "log-a".into(), warrant: [5; 16], item: 0 },
                ReleaseFinding::NotDisclosed { trustee: "log-a".into(), warrant: [5; 16], field: [3; 32] },
            ]
        );
    }

    #[test]
    fn a_served_epoch_key_must_be_the_one_the_log_installed() {
        let (mut log, blob, nonce, court, reveal) = sealed("agency-1");
        let keys = escrow_crypto::dealer_keygen(escrow_crypto::EpochId(1), 1, 3, &mut rng()).unwrap();
        let served = keys.public.to_bytes();
        let installed = |hash| Event::EpochInstalled { epoch: 1, public_key_hash: hash, trustee_index: 0 };
        log.push(1, installed([0; 32]));
        let err =
            audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], std::slice::from_ref(&served));
        assert!(matches!(err, Err(AuditFailure::Malformed { what: "epoch public key", .. })), "{err:?}");
        log.raw.pop();
        log.push(1, installed(Sha256::digest(&served).into()));
        let v = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], &[served]).unwrap();
        assert!(v.release_findings().is_empty());
    }
}
