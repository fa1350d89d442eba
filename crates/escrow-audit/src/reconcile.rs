//! `reconcile`: what the verified logs say together. A log can be perfectly consistent
//! and still record a trustee doing the wrong thing; the [`Flag`]s name such entries.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use escrow_log::event::{Arrival, DayRelease, Decision, Event};
use escrow_log::Hash;

use crate::check::VerifiedLog;
use crate::failure::ReleaseFinding;

/// A warrant id.
pub type WarrantKey = [u8; 16];

/// One warrant, as all trustees' logs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarrantSummary {
    /// Warrant id.
    pub id: WarrantKey,
    /// Issuing court (from the first log that received it).
    pub court: String,
    /// Agency named (from the first log that received it).
    pub agency: String,
    /// End of validity (from the first log that received it).
    pub valid_until: u64,
    /// Earliest receipt time in any log.
    pub first_received: u64,
    /// Trustees (origins) whose log records the warrant's receipt.
    pub received_by: BTreeSet<String>,
    /// Trustees that approved it (operator or policy).
    pub approvals: BTreeSet<String>,
    /// Trustees that denied it (operator or policy).
    pub denials: BTreeSet<String>,
    /// Trustees that revoked it.
    pub revocations: BTreeSet<String>,
    /// Whether at least t+1 trustees approved it.
    pub reached_quorum: bool,
    /// Fields (escrow field fingerprints) each trustee released under it.
    pub released: BTreeMap<String, BTreeSet<Hash>>,
    /// Fields released by at least t+1 distinct trustees, so opened by the agency,
    /// with the time the (t+1)-th share was released.
    pub opened: BTreeMap<Hash, u64>,
    /// Day keys (epoch, UTC day, party tag) each trustee released an extraction share
    /// of under it.
    pub days_released: BTreeMap<String, BTreeSet<DayRelease>>,
    /// Day keys released by at least t+1 distinct trustees (same epoch, day and party
    /// tag), so extracted by the agency, with the time the (t+1)-th share was released.
    pub days_opened: BTreeMap<DayRelease, u64>,
}

/// What a release entry handed out: decryption shares of escrow fields
/// (`SharesReleased`) or extraction shares of day keys (`DayKeysReleased`), each of
/// which opens everything one party sent or received one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShareKind {
    /// Shares of escrow fields, one per message field.
    Field,
    /// Extraction shares of day keys, one per (party, day).
    DayKey,
}

impl fmt::Display for ShareKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShareKind::Field => "shares",
            ShareKind::DayKey => "day-key shares",
        })
    }
}

/// Something the logs show a trustee did wrong, or the trustees disagree about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Flag {
    /// The opened details show a wrong release (outside scope, field invalid for its
    /// label, or not matching the log); the finding names trustee, warrant and item.
    #[error("{0}")]
    ReleaseMismatch(ReleaseFinding),
    /// Shares released for a warrant this log never approved before the release.
    #[error("{trustee}: entry {index} releases {count} {kind} for warrant {} without an approval in its log", hex::encode(.warrant))]
    ReleaseWithoutApproval {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Field shares or day-key shares.
        kind: ShareKind,
        /// How many items the entry releases (fields or day keys).
        count: usize,
    },
    /// Shares released after this log recorded a denial or revocation.
    #[error("{trustee}: entry {index} releases {kind} for warrant {} after its {what} at entry {stopped_at}", hex::encode(.warrant))]
    ReleaseAfterStop {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Field shares or day-key shares.
        kind: ShareKind,
        /// "denial" or "revocation".
        what: &'static str,
        /// Index of the denial or revocation.
        stopped_at: u64,
    },
    /// An entry stamped earlier than the entry before it. A trustee appends under one
    /// lock with the clock read there, so log order is time order; a time that goes
    /// backwards is a clock set back, or the trace of a decision taken before an entry
    /// that was committed after it (as a release checked before a revocation and
    /// committed after it).
    #[error("{trustee}: entry {index} is stamped {time}, earlier than entry {} at {previous}", .index - 1)]
    TimeWentBack {
        /// Origin.
        trustee: String,
        /// Entry index (at least 1).
        index: u64,
        /// Its time.
        time: u64,
        /// The time of the entry before it.
        previous: u64,
    },
    /// Shares released at or after the warrant's `valid_until`.
    #[error("{trustee}: entry {index} releases {kind} for warrant {} at {time}, after it expired at {valid_until}", hex::encode(.warrant))]
    ReleaseAfterExpiry {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Field shares or day-key shares.
        kind: ShareKind,
        /// Release time.
        time: u64,
        /// The warrant's end of validity.
        valid_until: u64,
    },
    /// Shares released to an agency other than the one the warrant names.
    #[error("{trustee}: entry {index} releases {kind} for warrant {} to {released_to}, but the warrant names {agency}", hex::encode(.warrant))]
    WrongAgency {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Field shares or day-key shares.
        kind: ShareKind,
        /// Agency in the release.
        released_to: String,
        /// Agency in the warrant.
        agency: String,
    },
    /// Day keys released for a UTC day no second of which lies in the warrant's window
    /// `[window_from, window_to)` as logged on receipt (this log's receipt, else the
    /// first log's). One flag per entry, epoch and day; `keys` counts its parties.
    #[error("{trustee}: entry {index} releases {keys} day {} for day {day} ({}) of epoch {epoch} under warrant {}, outside its window [{window_from}, {window_to})", if *.keys == 1 { "key" } else { "keys" }, crate::utc_date(.day), hex::encode(.warrant))]
    DayOutsideWindow {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// The day keys' epoch.
        epoch: u64,
        /// The UTC day (days since 1970-01-01).
        day: u32,
        /// How many day keys of that epoch and day the entry releases (one per party).
        keys: usize,
        /// The warrant's window start.
        window_from: u64,
        /// The warrant's window end (exclusive).
        window_to: u64,
    },
    /// A warrant in some logs is missing from this one.
    #[error("{trustee}: warrant {} is missing from its log (received by {} at entry {seen_index})", hex::encode(.warrant), .seen_by)]
    MissingWarrant {
        /// Origin of the log that lacks it.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// A trustee that has it.
        seen_by: String,
        /// Its entry index there.
        seen_index: u64,
    },
    /// An epoch a key ceremony installed here was due for destruction, and the log
    /// shows no destruction by the deadline plus [`DESTRUCTION_GRACE_SECS`].
    #[error("{trustee}: epoch {epoch} was due for destruction at {destroy_at}, {}", match .destroyed { Some(t) => format!("but the log records it only at {t}"), None => "but the log records no destruction".to_string() })]
    DestructionMissing {
        /// Origin.
        trustee: String,
        /// The epoch.
        epoch: u64,
        /// When its shares had to be destroyed (from the ceremony's Installed entry).
        destroy_at: u64,
        /// When the log records the destruction, if it does (late).
        destroyed: Option<u64>,
    },
    /// Two trustees' logs install different key sets as the same epoch and generation
    /// (announcement hashes for a ceremony's key, key set hashes for a dealt one).
    #[error("{trustee}: entry {index} installs epoch {epoch} generation {generation} as {} {}, but {other}'s entry {other_index} installs it as {}: two keys for one epoch", .what, crate::short_hex(.hash), crate::short_hex(.other_hash))]
    Equivocation {
        /// The log that installed it second (in the order the logs were given).
        trustee: String,
        /// Its entry.
        index: u64,
        /// The epoch.
        epoch: u64,
        /// The generation (0 fresh or dealt, +1 per reshare).
        generation: u32,
        /// "announcement" (a ceremony's key) or "key set" (a dealt key): what the
        /// hashes are of.
        what: &'static str,
        /// What it installed.
        hash: [u8; 32],
        /// The log that installed it first.
        other: String,
        /// Its entry.
        other_index: u64,
        /// What that log installed.
        other_hash: [u8; 32],
    },
    /// A log installs an epoch it had already installed, at the same or an earlier
    /// generation: the epoch's key was replaced, and every message sealed under the
    /// old one is lost. Only a reshare (a higher generation) may follow.
    #[error("{trustee}: entry {index} installs epoch {epoch} at generation {generation} after entry {earlier_index} installed it at generation {earlier_generation}: its key was replaced, not reshared")]
    KeyReplaced {
        /// Origin.
        trustee: String,
        /// The epoch.
        epoch: u64,
        /// The second install's entry.
        index: u64,
        /// Its generation.
        generation: u32,
        /// The earlier install's entry.
        earlier_index: u64,
        /// Its generation.
        earlier_generation: u32,
    },
    /// One ceremony installed at some participants and aborted at others: the holders
    /// do not share one key set, and no t+1 of them may be able to open the epoch.
    #[error("ceremony {} for epoch {epoch} was installed at {} but aborted at {}: the holders do not share one key", hex::encode(.ceremony), .installed_at.join(", "), .aborted_at.iter().map(|(o, r)| format!("{o} ({r})")).collect::<Vec<_>>().join(", "))]
    SplitInstall {
        /// The ceremony id.
        ceremony: [u8; 16],
        /// Its epoch.
        epoch: u64,
        /// The logs that record its install.
        installed_at: Vec<String>,
        /// The logs that record its abort, with the reason each gives.
        aborted_at: Vec<(String, String)>,
    },
    /// Two logs record different public terms for one warrant. (Commitments differ by
    /// design: each trustee draws its own nonce.)
    #[error("{trustee}: entry {index} records warrant {} with a different {field} from {other}'s log", hex::encode(.warrant))]
    Disagreement {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Which field differs.
        field: &'static str,
        /// The log it was compared with.
        other: String,
    },
}

/// How long after an epoch's `destroy_at` a trustee may log the destruction before the
/// auditor flags it (clock skew and the trustee's check interval).
pub const DESTRUCTION_GRACE_SECS: u64 = 3600;

/// The reconciled view of all trustees' logs.
#[derive(Debug, Clone, Default)]
pub struct Reconciliation {
    /// The threshold t: t+1 approvals / shares are needed.
    pub threshold: usize,
    /// Every warrant any log mentions, by id.
    pub warrants: BTreeMap<WarrantKey, WarrantSummary>,
    /// What the logs show was done wrong.
    pub flags: Vec<Flag>,
}

/// The public facts of one WarrantReceived entry, to compare logs.
#[derive(PartialEq, Eq, Clone)]
struct Received {
    origin: String,
    index: u64,
    court: String,
    agency: String,
    window: (u64, u64),
    valid_until: u64,
    reveal_at: u64,
}

impl Received {
    fn terms(&self) -> Terms {
        Terms { agency: self.agency.clone(), valid_until: self.valid_until, window: self.window }
    }
}

/// The terms a release is held to.
#[derive(Clone)]
struct Terms {
    agency: String,
    valid_until: u64,
    window: (u64, u64),
}

/// One release entry, as the checks common to both kinds see it.
struct Release<'a> {
    trustee: &'a str,
    warrant: WarrantKey,
    index: u64,
    time: u64,
    agency: &'a str,
    kind: ShareKind,
    count: usize,
}

/// The flags of one release entry given where its warrant stands in its log and the
/// warrant's terms (if any log received it): no approval before it, a denial or
/// revocation before it, at or after expiry, to another agency.
fn release_flags(r: &Release<'_>, s: &Standing, terms: Option<&Terms>) -> Vec<Flag> {
    let mut out = Vec::new();
    let (trustee, warrant, index, kind) = (r.trustee.to_string(), r.warrant, r.index, r.kind);
    if !s.approved {
        out.push(Flag::ReleaseWithoutApproval { trustee: trustee.clone(), warrant, index, kind, count: r.count });
    }
    if let Some((what, stopped_at)) = s.stopped {
        out.push(Flag::ReleaseAfterStop { trustee: trustee.clone(), warrant, index, kind, what, stopped_at });
    }
    if let Some(t) = terms {
        if r.time >= t.valid_until {
            out.push(Flag::ReleaseAfterExpiry {
                trustee: trustee.clone(),
                warrant,
                index,
                kind,
                time: r.time,
                valid_until: t.valid_until,
            });
        }
        if t.agency != r.agency {
            out.push(Flag::WrongAgency {
                trustee,
                warrant,
                index,
                kind,
                released_to: r.agency.to_string(),
                agency: t.agency.clone(),
            });
        }
    }
    out
}

/// One [`Flag::DayOutsideWindow`] per epoch and day of `days` that does not overlap
/// the window `[from, to)`, counting the distinct day keys (parties) of each.
fn window_flags(r: &Release<'_>, days: &[DayRelease], (from, to): (u64, u64)) -> Vec<Flag> {
    let mut outside: BTreeMap<(u64, u32), BTreeSet<&[u8; 32]>> = BTreeMap::new();
    for d in days.iter().filter(|d| !d.overlaps(from, to)) {
        outside.entry((d.epoch, d.day)).or_default().insert(&d.party);
    }
    outside
        .into_iter()
        .map(|((epoch, day), parties)| Flag::DayOutsideWindow {
            trustee: r.trustee.to_string(),
            warrant: r.warrant,
            index: r.index,
            epoch,
            day,
            keys: parties.len(),
            window_from: from,
            window_to: to,
        })
        .collect()
}

/// The time each item was opened: the release time of its (t+1)-th distinct trustee
/// (`need` = t+1), for the items that have that many.
fn opened_at<K: Ord>(releases: BTreeMap<K, Vec<(u64, String)>>, need: usize) -> impl Iterator<Item = (K, u64)> {
    releases.into_iter().filter_map(move |(k, mut times)| {
        times.sort();
        times.get(need.saturating_sub(1)).map(|(when, _)| (k, *when))
    })
}

/// The terms a log's release of warrant `id` is judged by: the warrant as this log
/// received it (`own`), else as the first log that received it did.
fn terms_for(
    own: &BTreeMap<WarrantKey, Terms>,
    first_seen: &BTreeMap<WarrantKey, Received>,
    id: &WarrantKey,
) -> Option<Terms> {
    own.get(id).cloned().or_else(|| first_seen.get(id).map(Received::terms))
}

/// Per log and warrant: where it stands as the entries are replayed in order.
#[derive(Default)]
struct Standing {
    approved: bool,
    stopped: Option<(&'static str, u64)>,
}

/// Reconciles verified logs with threshold `threshold` (t: t+1 shares open a field).
pub fn reconcile(logs: &[VerifiedLog], threshold: usize) -> Reconciliation {
    let mut rec = Reconciliation { threshold, ..Reconciliation::default() };
    for log in logs {
        rec.flags.extend(log.release_findings().iter().cloned().map(Flag::ReleaseMismatch));
    }
    let mut first_seen: BTreeMap<WarrantKey, Received> = BTreeMap::new();
    // Release times per warrant and field, and per warrant and day key: (time, trustee).
    let mut releases: BTreeMap<(WarrantKey, Hash), Vec<(u64, String)>> = BTreeMap::new();
    let mut day_releases: BTreeMap<(WarrantKey, DayRelease), Vec<(u64, String)>> = BTreeMap::new();

    // Pass 1: receipts, so that every release can be checked against the warrant.
    for log in logs {
        for (index, e) in (0u64..).zip(log.entries()) {
            let Event::WarrantReceived {
                warrant_id,
                court,
                agency,
                window_from,
                window_to,
                valid_until,
                reveal_at,
                ..
            } = &e.event
            else {
                continue;
            };
            let here = Received {
                origin: log.origin().to_string(),
                index,
                court: court.to_string(),
                agency: agency.to_string(),
                window: (*window_from, *window_to),
                valid_until: *valid_until,
                reveal_at: *reveal_at,
            };
            let w = rec.warrants.entry(*warrant_id).or_insert_with(|| WarrantSummary {
                id: *warrant_id,
                court: court.to_string(),
                agency: agency.to_string(),
                valid_until: *valid_until,
                first_received: e.time,
                ..WarrantSummary::default()
            });
            w.first_received = w.first_received.min(e.time);
            w.received_by.insert(log.origin().to_string());
            match first_seen.get(warrant_id) {
                None => {
                    first_seen.insert(*warrant_id, here);
                }
                Some(first) => {
                    let field = if first.court != here.court {
                        Some("court")
                    } else if first.agency != here.agency {
                        Some("agency")
                    } else if first.window != here.window {
                        Some("window")
                    } else if first.valid_until != here.valid_until {
                        Some("valid_until")
                    } else if first.reveal_at != here.reveal_at {
                        Some("reveal_at")
                    } else {
                        None
                    };
                    if let Some(field) = field {
                        rec.flags.push(Flag::Disagreement {
                            trustee: log.origin().to_string(),
                            warrant: *warrant_id,
                            index,
                            field,
                            other: first.origin.clone(),
                        });
                    }
                }
            }
        }
    }

    // Pass 2: replay each log in order.
    for log in logs {
        let mut standing: BTreeMap<WarrantKey, Standing> = BTreeMap::new();
        let mut own_receipt: BTreeMap<WarrantKey, Terms> = BTreeMap::new();
        let mut previous: Option<u64> = None;
        for (index, e) in (0u64..).zip(log.entries()) {
            if let Some(previous) = previous.filter(|p| e.time < *p) {
                rec.flags.push(Flag::TimeWentBack { trustee: log.origin().to_string(), index, time: e.time, previous });
            }
            previous = Some(e.time);
            match &e.event {
                Event::WarrantReceived { warrant_id, arrival, agency, valid_until, window_from, window_to, .. } => {
                    own_receipt.insert(
                        *warrant_id,
                        Terms {
                            agency: agency.to_string(),
                            valid_until: *valid_until,
                            window: (*window_from, *window_to),
                        },
                    );
                    let s = standing.entry(*warrant_id).or_default();
                    let w = rec.warrants.entry(*warrant_id).or_insert_with(|| summary(warrant_id));
                    match arrival {
                        Arrival::ApprovedByPolicy => {
                            s.approved = true;
                            w.approvals.insert(log.origin().to_string());
                        }
                        Arrival::DeniedByPolicy => {
                            s.stopped.get_or_insert(("denial", index));
                            w.denials.insert(log.origin().to_string());
                        }
                        Arrival::Received => {}
                    }
                }
                Event::WarrantDecided { warrant_id, decision, .. } => {
                    let s = standing.entry(*warrant_id).or_default();
                    let w = rec.warrants.entry(*warrant_id).or_insert_with(|| summary(warrant_id));
                    match decision {
                        Decision::Approve => {
                            s.approved = true;
                            w.approvals.insert(log.origin().to_string());
                        }
                        Decision::Deny => {
                            s.stopped.get_or_insert(("denial", index));
                            w.denials.insert(log.origin().to_string());
                        }
                        Decision::Revoke => {
                            s.stopped.get_or_insert(("revocation", index));
                            w.revocations.insert(log.origin().to_string());
                        }
                    }
                }
                Event::SharesReleased { warrant_id, agency, fields } => {
                    let s = standing.entry(*warrant_id).or_default();
                    let terms = terms_for(&own_receipt, &first_seen, warrant_id);
                    let r = Release {
                        trustee: log.origin(),
                        warrant: *warrant_id,
                        index,
                        time: e.time,
                        agency,
                        kind: ShareKind::Field,
                        count: fields.len(),
                    };
                    rec.flags.extend(release_flags(&r, s, terms.as_ref()));
                    let w = rec.warrants.entry(*warrant_id).or_insert_with(|| summary(warrant_id));
                    let mine = w.released.entry(log.origin().to_string()).or_default();
                    for f in fields {
                        if mine.insert(*f) {
                            releases.entry((*warrant_id, *f)).or_default().push((e.time, log.origin().to_string()));
                        }
                    }
                }
                Event::DayKeysReleased { warrant_id, agency, days } => {
                    let s = standing.entry(*warrant_id).or_default();
                    let terms = terms_for(&own_receipt, &first_seen, warrant_id);
                    let r = Release {
                        trustee: log.origin(),
                        warrant: *warrant_id,
                        index,
                        time: e.time,
                        agency,
                        kind: ShareKind::DayKey,
                        count: days.len(),
                    };
                    rec.flags.extend(release_flags(&r, s, terms.as_ref()));
                    if let Some(t) = &terms {
                        rec.flags.extend(window_flags(&r, days, t.window));
                    }
                    let w = rec.warrants.entry(*warrant_id).or_insert_with(|| summary(warrant_id));
                    let mine = w.days_released.entry(log.origin().to_string()).or_default();
                    for d in days {
                        if mine.insert(*d) {
                            day_releases.entry((*warrant_id, *d)).or_default().push((e.time, log.origin().to_string()));
                        }
                    }
                }
                Event::RequestRefused { .. }
                | Event::RequestsRefused { .. }
                | Event::EpochInstalled { .. }
                | Event::EpochDestroyed { .. }
                | Event::Ceremony { .. } => {}
            }
        }
    }

    // Which warrants are missing where.
    let origins: BTreeSet<&str> = logs.iter().map(|l| l.origin()).collect();
    for (id, first) in &first_seen {
        let Some(w) = rec.warrants.get(id) else { continue };
        for o in &origins {
            if !w.received_by.contains(*o) {
                rec.flags.push(Flag::MissingWarrant {
                    trustee: (*o).to_string(),
                    warrant: *id,
                    seen_by: first.origin.clone(),
                    seen_index: first.index,
                });
            }
        }
    }

    // Quorums, opened fields and day keys: a field (a day key) opens once t+1 distinct
    // trustees released a share of it.
    let need = threshold.saturating_add(1);
    for w in rec.warrants.values_mut() {
        w.reached_quorum = w.approvals.len() >= need;
    }
    for ((id, field), when) in opened_at(releases, need) {
        if let Some(w) = rec.warrants.get_mut(&id) {
            w.opened.insert(field, when);
        }
    }
    for ((id, day), when) in opened_at(day_releases, need) {
        if let Some(w) = rec.warrants.get_mut(&id) {
            w.days_opened.insert(day, when);
        }
    }
    rec.flags.extend(crate::ceremonies::ceremony_flags(logs.iter().map(|l| (l.origin(), l.entries()))));
    rec
}

/// [`reconcile`] at the auditor's time `now`, with one more check: every epoch a key
/// ceremony installed in a log and whose `destroy_at` plus [`DESTRUCTION_GRACE_SECS`]
/// has passed must have an `EpochDestroyed` entry by then
/// ([`Flag::DestructionMissing`] names the trustee and the epoch otherwise).
pub fn reconcile_at(logs: &[VerifiedLog], threshold: usize, now: u64) -> Reconciliation {
    let mut rec = reconcile(logs, threshold);
    rec.flags.extend(destruction_flags(logs, now));
    rec
}

/// The destruction check of [`reconcile_at`].
pub fn destruction_flags(logs: &[VerifiedLog], now: u64) -> Vec<Flag> {
    use escrow_log::event::CeremonyStep;
    let mut flags = Vec::new();
    for log in logs {
        // Per epoch: the deadline of its latest installation, and when it was destroyed after it.
        let mut due: BTreeMap<u64, (u64, Option<u64>)> = BTreeMap::new();
        for e in log.entries() {
            match &e.event {
                Event::Ceremony { step: CeremonyStep::Installed { epoch, destroy_at, .. }, .. } => {
                    due.insert(*epoch, (*destroy_at, None));
                }
                Event::EpochDestroyed { epoch } => {
                    if let Some((_, destroyed)) = due.get_mut(epoch) {
                        destroyed.get_or_insert(e.time);
                    }
                }
                _ => {}
            }
        }
        for (epoch, (destroy_at, destroyed)) in due {
            let deadline = destroy_at.saturating_add(DESTRUCTION_GRACE_SECS);
            if now > deadline && destroyed.is_none_or(|t| t > deadline) {
                flags.push(Flag::DestructionMissing {
                    trustee: log.origin().to_string(),
                    epoch,
                    destroy_at,
                    destroyed,
                });
            }
        }
    }
    flags
}

/// A warrant first met in a decision or release (its receipt is in no log).
fn summary(id: &WarrantKey) -> WarrantSummary {
    WarrantSummary { id: *id, ..WarrantSummary::default() }
}

#[cfg(test)]
mod tests;
