//! `history`: what happened to each warrant and each epoch, in time order, across the
//! verified logs: the public page's timelines and epoch table. Pure, over logs already
//! verified.
//!
//! - A warrant's timeline: its receipt at each trustee, each approval, denial and
//!   revocation, each release (fields or day keys, counted, never listed), each
//!   refusal logged under it, and its sealed details: sealed until their reveal time,
//!   then opened. A log that verified at or after a warrant's reveal time (plus
//!   [`REVEAL_GRACE_SECS`]) had its opening checked against the commitment, or it
//!   would not have verified.
//! - An epoch: when each trustee installed its share, when each must destroy it (from
//!   the ceremony that installed it), and when each did: on schedule, late, overdue,
//!   or still active.

use std::collections::BTreeMap;

use escrow_log::event::{Arrival, CeremonyStep, Decision, Event};

use crate::check::{VerifiedLog, REVEAL_GRACE_SECS};
use crate::reconcile::DESTRUCTION_GRACE_SECS;

/// One thing a trustee's log records about a warrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Received; waiting for an operator, or decided on receipt by policy.
    Received(Arrival),
    /// An operator's decision (operator id, reason as logged).
    Decided(Decision, String, String),
    /// Decryption shares of this many fields released.
    Fields(usize),
    /// Extraction shares of this many day keys released.
    DayKeys(usize),
    /// This many share requests refused, by rule.
    Refused(u32, String),
}

/// A step at a time, at a trustee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// Unix seconds, as the trustee logged it.
    pub time: u64,
    /// The trustee's log origin.
    pub trustee: String,
    /// What it recorded.
    pub step: Step,
}

/// A warrant's sealed details (targets, case reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Details {
    /// Sealed until the reveal time.
    Sealed {
        /// The reveal time.
        until: u64,
    },
    /// Due at the reveal time, and checked against the commitment by every log that
    /// verified since.
    Opened {
        /// The reveal time.
        at: u64,
    },
}

/// One warrant's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Warrant id, hex.
    pub id: String,
    /// Issuing court and agency, from the first receipt.
    pub court: String,
    /// Agency named.
    pub agency: String,
    /// The window it covers, `[from, to)`.
    pub window: (u64, u64),
    /// Its sealed details.
    pub details: Details,
    /// Every step, in time order (ties: log order, trustee by trustee).
    pub events: Vec<Moment>,
}

/// Every warrant's timeline, by first receipt.
pub fn timelines(logs: &[VerifiedLog], now: u64) -> Vec<Timeline> {
    let mut by_id: BTreeMap<[u8; 16], Timeline> = BTreeMap::new();
    let blank = |id: &[u8; 16]| Timeline {
        id: hex::encode(id),
        court: String::new(),
        agency: String::new(),
        window: (0, 0),
        details: Details::Sealed { until: u64::MAX },
        events: Vec::new(),
    };
    for log in logs {
        for e in log.entries() {
            let (id, step) = match &e.event {
                Event::WarrantReceived {
                    warrant_id,
                    court,
                    agency,
                    window_from,
                    window_to,
                    reveal_at,
                    arrival,
                    ..
                } => {
                    let t = by_id.entry(*warrant_id).or_insert_with(|| blank(warrant_id));
                    if t.court.is_empty() {
                        t.court = court.to_string();
                        t.agency = agency.to_string();
                        t.window = (*window_from, *window_to);
                        t.details = if now >= reveal_at.saturating_add(REVEAL_GRACE_SECS) {
                            Details::Opened { at: *reveal_at }
                        } else {
                            Details::Sealed { until: *reveal_at }
                        };
                    }
                    (*warrant_id, Step::Received(*arrival))
                }
                Event::WarrantDecided { warrant_id, decision, operator, reason } => {
                    (*warrant_id, Step::Decided(*decision, operator.to_string(), reason.to_string()))
                }
                Event::SharesReleased { warrant_id, fields, .. } => (*warrant_id, Step::Fields(fields.len())),
                Event::DayKeysReleased { warrant_id, days, .. } => (*warrant_id, Step::DayKeys(days.len())),
                Event::RequestsRefused { warrant_id: Some(id), count, rule, .. } => {
                    (*id, Step::Refused(*count, rule.to_string()))
                }
                _ => continue,
            };
            by_id.entry(id).or_insert_with(|| blank(&id)).events.push(Moment {
                time: e.time,
                trustee: log.origin().to_string(),
                step,
            });
        }
    }
    let mut all: Vec<Timeline> = by_id.into_values().collect();
    for t in &mut all {
        t.events.sort_by_key(|e| e.time);
    }
    all.sort_by_key(|t| t.events.first().map_or(u64::MAX, |e| e.time));
    all
}

/// Where one trustee's share of an epoch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    /// Held, before its destruction time.
    Active,
    /// Destroyed by its destruction time (plus [`DESTRUCTION_GRACE_SECS`]).
    DestroyedOnSchedule {
        /// When.
        at: u64,
    },
    /// Destroyed, but after its destruction time.
    DestroyedLate {
        /// When.
        at: u64,
    },
    /// Still held after its destruction time.
    Overdue,
    /// Destroyed; the log states no destruction time (a dealt key).
    Destroyed {
        /// When.
        at: u64,
    },
    /// Held; the log states no destruction time.
    Held,
}

/// One trustee's share of one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochShare {
    /// The trustee's log origin.
    pub trustee: String,
    /// When it installed its latest share of the epoch.
    pub installed: u64,
    /// When it must destroy it, if its log says.
    pub destroy_at: Option<u64>,
    /// Where it stands.
    pub state: ShareState,
}

/// Every epoch any log installed, with each trustee's share, by epoch.
pub fn epochs(logs: &[VerifiedLog], now: u64) -> BTreeMap<u64, Vec<EpochShare>> {
    let mut out: BTreeMap<u64, Vec<EpochShare>> = BTreeMap::new();
    for log in logs {
        // Per epoch: installed at, its deadline, destroyed at.
        let mut mine: BTreeMap<u64, (u64, Option<u64>, Option<u64>)> = BTreeMap::new();
        for e in log.entries() {
            match &e.event {
                Event::Ceremony { step: CeremonyStep::Installed { epoch, destroy_at, .. }, .. } => {
                    mine.insert(*epoch, (e.time, Some(*destroy_at), None));
                }
                Event::EpochInstalled { epoch, .. } => {
                    // A ceremony's installation is logged as both; keep its deadline.
                    let deadline = mine.get(epoch).and_then(|(_, d, _)| *d);
                    mine.insert(*epoch, (e.time, deadline, None));
                }
                Event::EpochDestroyed { epoch } => {
                    if let Some((_, _, destroyed)) = mine.get_mut(epoch) {
                        destroyed.get_or_insert(e.time);
                    }
                }
                _ => {}
            }
        }
        for (epoch, (installed, destroy_at, destroyed)) in mine {
            let state = match (destroy_at.map(|d| d.saturating_add(DESTRUCTION_GRACE_SECS)), destroyed) {
                (Some(deadline), Some(at)) if at <= deadline => ShareState::DestroyedOnSchedule { at },
                (Some(_), Some(at)) => ShareState::DestroyedLate { at },
                (Some(deadline), None) if now > deadline => ShareState::Overdue,
                (Some(_), None) => ShareState::Active,
                (None, Some(at)) => ShareState::Destroyed { at },
                (None, None) => ShareState::Held,
            };
            out.entry(epoch).or_default().push(EpochShare {
                trustee: log.origin().to_string(),
                installed,
                destroy_at,
                state,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testlog::HandLog;
    use escrow_log::event::Text;

    fn text(s: &str) -> Text {
        Text::new(s).unwrap()
    }

    fn received(id: u8, at_reveal: u64) -> Event {
        Event::WarrantReceived {
            warrant_id: [id; 16],
            court: text("high-court"),
            agency: text("agency-1"),
            window_from: 100,
            window_to: 200,
            valid_until: 300,
            reveal_at: at_reveal,
            details_commitment: [0; 32],
            arrival: Arrival::Received,
            reason: text(""),
        }
    }

    #[test]
    fn a_warrants_steps_come_in_time_order_across_trustees() {
        let decided = |d| Event::WarrantDecided {
            warrant_id: [1; 16],
            decision: d,
            operator: text("op-0"),
            reason: text("necessary"),
        };
        let a = HandLog::with(
            "escrow-trustee/a",
            vec![
                (10, received(1, 1_000)),
                (30, decided(Decision::Approve)),
                (50, Event::SharesReleased { warrant_id: [1; 16], agency: text("agency-1"), fields: vec![[7; 32]; 3] }),
            ],
        );
        let b = HandLog::with("escrow-trustee/b", vec![(20, received(1, 1_000)), (40, decided(Decision::Deny))]);
        let logs = [a.verified(), b.verified()];
        let all = timelines(&logs, 500);
        assert_eq!(all.len(), 1);
        let t = &all[0];
        assert_eq!((t.court.as_str(), t.agency.as_str(), t.window), ("high-court", "agency-1", (100, 200)));
        assert_eq!(t.details, Details::Sealed { until: 1_000 });
        let steps: Vec<(u64, &str, &Step)> = t.events.iter().map(|e| (e.time, e.trustee.as_str(), &e.step)).collect();
        assert_eq!(
            steps,
            [
                (10, "escrow-trustee/a", &Step::Received(Arrival::Received)),
                (20, "escrow-trustee/b", &Step::Received(Arrival::Received)),
                (30, "escrow-trustee/a", &Step::Decided(Decision::Approve, "op-0".into(), "necessary".into())),
                (40, "escrow-trustee/b", &Step::Decided(Decision::Deny, "op-0".into(), "necessary".into())),
                (50, "escrow-trustee/a", &Step::Fields(3)),
            ]
        );
        // Past the reveal time and its grace: opened.
        assert_eq!(timelines(&logs, 1_000 + REVEAL_GRACE_SECS)[0].details, Details::Opened { at: 1_000 });
    }

    #[test]
    fn each_share_of_an_epoch_is_on_schedule_late_overdue_or_active() {
        let installed = |epoch, destroy_at| Event::Ceremony {
            ceremony: [0; 16],
            step: CeremonyStep::Installed { announcement: [0; 32], epoch, generation: 0, destroy_at },
        };
        let grace = DESTRUCTION_GRACE_SECS;
        let on_time = HandLog::with(
            "escrow-trustee/a",
            vec![(10, installed(1, 1_000)), (1_000, Event::EpochDestroyed { epoch: 1 }), (1_010, installed(2, 5_000))],
        );
        let late = HandLog::with(
            "escrow-trustee/b",
            vec![(10, installed(1, 1_000)), (1_001 + grace, Event::EpochDestroyed { epoch: 1 })],
        );
        let kept = HandLog::with("escrow-trustee/c", vec![(10, installed(1, 1_000))]);
        let logs = [on_time.verified(), late.verified(), kept.verified()];
        let now = 2_000 + grace;
        let all = epochs(&logs, now);
        let states: Vec<(&str, ShareState)> = all[&1].iter().map(|s| (s.trustee.as_str(), s.state)).collect();
        assert_eq!(
            states,
            [
                ("escrow-trustee/a", ShareState::DestroyedOnSchedule { at: 1_000 }),
                ("escrow-trustee/b", ShareState::DestroyedLate { at: 1_001 + grace }),
                ("escrow-trustee/c", ShareState::Overdue),
            ]
        );
        assert_eq!(all[&2][0].state, ShareState::Active);
        assert_eq!(all[&2][0].destroy_at, Some(5_000));
        // Before epoch 1's deadline, trustee c's share is simply active.
        assert_eq!(epochs(&logs, 1_000)[&1][2].state, ShareState::Active);
    }
}
