//! `reconcile`: what the verified logs say together. A log can be perfectly consistent
//! and still record a trustee doing the wrong thing; the [`Flag`]s name such entries.

use std::collections::{BTreeMap, BTreeSet};

use escrow_log::event::{Arrival, Decision, Event};
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
    #[error("{trustee}: entry {index} releases {fields} shares for warrant {} without an approval in its log", hex::encode(.warrant))]
    ReleaseWithoutApproval {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// How many fields.
        fields: usize,
    },
    /// Shares released after this log recorded a denial or revocation.
    #[error("{trustee}: entry {index} releases shares for warrant {} after its {what} at entry {stopped_at}", hex::encode(.warrant))]
    ReleaseAfterStop {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
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
    #[error("{trustee}: entry {index} releases shares for warrant {} at {time}, after it expired at {valid_until}", hex::encode(.warrant))]
    ReleaseAfterExpiry {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Release time.
        time: u64,
        /// The warrant's end of validity.
        valid_until: u64,
    },
    /// Shares released to an agency other than the one the warrant names.
    #[error("{trustee}: entry {index} releases shares for warrant {} to {released_to}, but the warrant names {agency}", hex::encode(.warrant))]
    WrongAgency {
        /// Origin.
        trustee: String,
        /// Warrant.
        warrant: WarrantKey,
        /// Entry index.
        index: u64,
        /// Agency in the release.
        released_to: String,
        /// Agency in the warrant.
        agency: String,
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
    // Release times per warrant and field: (time, trustee).
    let mut releases: BTreeMap<(WarrantKey, Hash), Vec<(u64, String)>> = BTreeMap::new();

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
        let mut own_receipt: BTreeMap<WarrantKey, (String, u64)> = BTreeMap::new();
        let mut previous: Option<u64> = None;
        for (index, e) in (0u64..).zip(log.entries()) {
            if let Some(previous) = previous.filter(|p| e.time < *p) {
                rec.flags.push(Flag::TimeWentBack { trustee: log.origin().to_string(), index, time: e.time, previous });
            }
            previous = Some(e.time);
            match &e.event {
                Event::WarrantReceived { warrant_id, arrival, agency, valid_until, .. } => {
                    own_receipt.insert(*warrant_id, (agency.to_string(), *valid_until));
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
                    let flag_base = (log.origin().to_string(), *warrant_id, index);
                    if !s.approved {
                        rec.flags.push(Flag::ReleaseWithoutApproval {
                            trustee: flag_base.0.clone(),
                            warrant: flag_base.1,
                            index,
                            fields: fields.len(),
                        });
                    }
                    if let Some((what, stopped_at)) = s.stopped {
                        rec.flags.push(Flag::ReleaseAfterStop {
                            trustee: flag_base.0.clone(),
                            warrant: flag_base.1,
                            index,
                            what,
                            stopped_at,
                        });
                    }
                    // The warrant's own terms: from this log's receipt, else from any log's.
                    let terms = own_receipt
                        .get(warrant_id)
                        .cloned()
                        .or_else(|| first_seen.get(warrant_id).map(|r| (r.agency.clone(), r.valid_until)));
                    if let Some((expected, valid_until)) = terms {
                        if e.time >= valid_until {
                            rec.flags.push(Flag::ReleaseAfterExpiry {
                                trustee: flag_base.0.clone(),
                                warrant: flag_base.1,
                                index,
                                time: e.time,
                                valid_until,
                            });
                        }
                        if &expected != agency {
                            rec.flags.push(Flag::WrongAgency {
                                trustee: flag_base.0.clone(),
                                warrant: flag_base.1,
                                index,
                                released_to: agency.to_string(),
                                agency: expected,
                            });
                        }
                    }
                    let w = rec.warrants.entry(*warrant_id).or_insert_with(|| summary(warrant_id));
                    let mine = w.released.entry(log.origin().to_string()).or_default();
                    for f in fields {
                        if mine.insert(*f) {
                            releases.entry((*warrant_id, *f)).or_default().push((e.time, log.origin().to_string()));
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

    // Quorums and opened fields: a field opens once t+1 distinct trustees released it.
    let need = threshold.saturating_add(1);
    for w in rec.warrants.values_mut() {
        w.reached_quorum = w.approvals.len() >= need;
    }
    for ((id, field), mut times) in releases {
        times.sort();
        if let (Some((when, _)), Some(w)) = (times.get(need - 1), rec.warrants.get_mut(&id)) {
            w.opened.insert(field, *when);
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
mod tests {
    use super::*;
    use crate::testlog::HandLog;

    /// A log of `events`, signed and verified through the auditor's checks.
    fn log(origin: &str, events: Vec<(u64, Event)>) -> VerifiedLog {
        HandLog::with(origin, events).verified()
    }

    fn received(id: u8, arrival: Arrival) -> Event {
        Event::WarrantReceived {
            warrant_id: [id; 16],
            court: "court".into(),
            agency: "agency".into(),
            window_from: 0,
            window_to: 10,
            valid_until: 100,
            reveal_at: 200,
            details_commitment: [0; 32],
            arrival,
            reason: Default::default(),
        }
    }

    fn release(id: u8, fields: &[u8]) -> Event {
        Event::SharesReleased {
            warrant_id: [id; 16],
            agency: "agency".into(),
            fields: fields.iter().map(|f| [*f; 32]).collect(),
        }
    }

    fn decided(id: u8, decision: Decision) -> Event {
        Event::WarrantDecided { warrant_id: [id; 16], decision, operator: "op".into(), reason: Default::default() }
    }

    #[test]
    fn policy_approvals_count_and_t_plus_one_distinct_trustees_open_a_field() {
        let logs = vec![
            log("a", vec![(1, received(1, Arrival::ApprovedByPolicy)), (2, release(1, &[1, 2]))]),
            log(
                "b",
                vec![(1, received(1, Arrival::Received)), (3, decided(1, Decision::Approve)), (4, release(1, &[2]))],
            ),
            log(
                "c",
                vec![(1, received(1, Arrival::Received)), (3, decided(1, Decision::Approve)), (5, release(1, &[2, 2]))],
            ),
        ];
        let rec = reconcile(&logs, 2);
        assert!(rec.flags.is_empty(), "{:?}", rec.flags);
        let w = &rec.warrants[&[1; 16]];
        assert_eq!(w.approvals.len(), 3);
        assert!(w.reached_quorum);
        // Field 2 has shares from a, b, c (the third at time 5); field 1 only from a.
        assert_eq!(w.opened.iter().collect::<Vec<_>>(), vec![(&[2u8; 32], &5)]);
        assert!(!reconcile(&logs, 3).warrants[&[1; 16]].reached_quorum);
    }

    #[test]
    fn releases_before_approval_or_after_denial_are_flagged_by_index() {
        let logs = vec![
            log(
                "a",
                vec![(1, received(1, Arrival::Received)), (2, release(1, &[1])), (3, decided(1, Decision::Approve))],
            ),
            log("b", vec![(1, received(1, Arrival::DeniedByPolicy)), (2, release(1, &[1]))]),
        ];
        let rec = reconcile(&logs, 1);
        let texts: Vec<String> = rec.flags.iter().map(ToString::to_string).collect();
        let wid = hex::encode([1u8; 16]);
        assert_eq!(
            texts,
            vec![
                format!("a: entry 1 releases 1 shares for warrant {wid} without an approval in its log"),
                format!("b: entry 1 releases 1 shares for warrant {wid} without an approval in its log"),
                format!("b: entry 1 releases shares for warrant {wid} after its denial at entry 0"),
            ]
        );
        // One share each from a and b: with t = 1 the field was opened all the same.
        assert_eq!(rec.warrants[&[1; 16]].opened.len(), 1);
    }

    /// The trace of the revocation race: a release checked before the revocation and
    /// committed after it follows it in the log, stamped earlier. Both are flagged.
    #[test]
    fn a_release_after_a_revocation_and_a_time_going_back_are_flagged() {
        let logs = vec![log(
            "a",
            vec![
                (1, received(1, Arrival::Received)),
                (3, decided(1, Decision::Approve)),
                (10, decided(1, Decision::Revoke)),
                (9, release(1, &[1, 2])),
            ],
        )];
        let texts: Vec<String> = reconcile(&logs, 1).flags.iter().map(ToString::to_string).collect();
        let wid = hex::encode([1u8; 16]);
        assert_eq!(
            texts,
            vec![
                "a: entry 3 is stamped 9, earlier than entry 2 at 10".to_string(),
                format!("a: entry 3 releases shares for warrant {wid} after its revocation at entry 2"),
            ]
        );
        // Equal times are not a step back.
        let same = vec![log("b", vec![(5, received(2, Arrival::ApprovedByPolicy)), (5, release(2, &[1]))])];
        assert!(reconcile(&same, 1).flags.is_empty(), "{:?}", reconcile(&same, 1).flags);
    }

    fn installed(epoch: u64, destroy_at: u64) -> Event {
        Event::Ceremony {
            ceremony: [1; 16],
            step: escrow_log::event::CeremonyStep::Installed {
                announcement: [2; 32],
                epoch,
                generation: 0,
                destroy_at,
            },
        }
    }

    #[test]
    fn a_ceremony_epoch_not_destroyed_by_its_deadline_plus_grace_is_flagged() {
        let g = DESTRUCTION_GRACE_SECS;
        let logs = vec![
            // On time.
            log("a", vec![(1, installed(2, 100)), (100, Event::EpochDestroyed { epoch: 2 })]),
            // Late.
            log("b", vec![(1, installed(2, 100)), (100 + g + 1, Event::EpochDestroyed { epoch: 2 })]),
            // Never.
            log("c", vec![(1, installed(2, 100))]),
        ];
        assert!(destruction_flags(&logs, 100 + g).is_empty(), "nothing is due before the grace ends");
        let flags = destruction_flags(&logs, 100 + g + 10);
        assert_eq!(
            flags,
            vec![
                Flag::DestructionMissing {
                    trustee: "b".into(),
                    epoch: 2,
                    destroy_at: 100,
                    destroyed: Some(100 + g + 1)
                },
                Flag::DestructionMissing { trustee: "c".into(), epoch: 2, destroy_at: 100, destroyed: None },
            ]
        );
        assert_eq!(
            flags[1].to_string(),
            "c: epoch 2 was due for destruction at 100, but the log records no destruction"
        );
        // A reshare reinstalls the epoch with a new deadline: the old one no longer counts.
        let resharded = vec![log("d", vec![(1, installed(2, 100)), (50, installed(2, 10_000))])];
        assert!(destruction_flags(&resharded, 100 + g + 10).is_empty());
        assert_eq!(reconcile_at(&logs, 1, 100 + g + 10).flags.len(), 2);
    }
}
