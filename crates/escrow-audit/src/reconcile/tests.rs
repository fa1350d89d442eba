//! Reconciliation over hand-built logs.

use super::*;
use crate::testlog::HandLog;

/// A log of `events`, signed and verified through the auditor's checks.
fn log(origin: &str, events: Vec<(u64, Event)>) -> VerifiedLog {
    HandLog::with(origin, events).verified()
}

fn received(id: u8, arrival: Arrival) -> Event {
    received_in(id, arrival, 0, 10)
}

/// A receipt with window `[from, to)`.
fn received_in(id: u8, arrival: Arrival, from: u64, to: u64) -> Event {
    Event::WarrantReceived {
        warrant_id: [id; 16],
        court: "court".into(),
        agency: "agency".into(),
        window_from: from,
        window_to: to,
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

/// A day-key release of `(epoch, day, party tag byte)`s to `agency`.
fn days_to(id: u8, agency: &str, days: &[(u64, u32, u8)]) -> Event {
    Event::DayKeysReleased {
        warrant_id: [id; 16],
        agency: agency.into(),
        days: days.iter().map(|(epoch, day, p)| DayRelease { epoch: *epoch, day: *day, party: [*p; 32] }).collect(),
    }
}

fn days(id: u8, days: &[(u64, u32, u8)]) -> Event {
    days_to(id, "agency", days)
}

fn decided(id: u8, decision: Decision) -> Event {
    Event::WarrantDecided { warrant_id: [id; 16], decision, operator: "op".into(), reason: Default::default() }
}

#[test]
fn policy_approvals_count_and_t_plus_one_distinct_trustees_open_a_field() {
    let logs = vec![
        log("a", vec![(1, received(1, Arrival::ApprovedByPolicy)), (2, release(1, &[1, 2]))]),
        log("b", vec![(1, received(1, Arrival::Received)), (3, decided(1, Decision::Approve)), (4, release(1, &[2]))]),
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
        log("a", vec![(1, received(1, Arrival::Received)), (2, release(1, &[1])), (3, decided(1, Decision::Approve))]),
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
        step: escrow_log::event::CeremonyStep::Installed { announcement: [2; 32], epoch, generation: 0, destroy_at },
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
            Flag::DestructionMissing { trustee: "b".into(), epoch: 2, destroy_at: 100, destroyed: Some(100 + g + 1) },
            Flag::DestructionMissing { trustee: "c".into(), epoch: 2, destroy_at: 100, destroyed: None },
        ]
    );
    assert_eq!(flags[1].to_string(), "c: epoch 2 was due for destruction at 100, but the log records no destruction");
    // A reshare reinstalls the epoch with a new deadline: the old one no longer counts.
    let resharded = vec![log("d", vec![(1, installed(2, 100)), (50, installed(2, 10_000))])];
    assert!(destruction_flags(&resharded, 100 + g + 10).is_empty());
    assert_eq!(reconcile_at(&logs, 1, 100 + g + 10).flags.len(), 2);
}

const DAY: u64 = 86_400;

/// A day-key entry is held to the same rules as a field release, and its flags say it
/// released day-key shares.
#[test]
fn day_key_releases_without_approval_after_a_stop_after_expiry_or_to_another_agency_are_flagged() {
    let logs = vec![
        // No approval.
        log("a", vec![(1, received(1, Arrival::Received)), (2, days(1, &[(1, 0, 1), (1, 0, 2)]))]),
        // Denied on arrival: no approval, and after the denial.
        log("b", vec![(1, received(1, Arrival::DeniedByPolicy)), (2, days(1, &[(1, 0, 1)]))]),
        // Approved, revoked, then released after expiry (100) to another agency.
        log(
            "c",
            vec![
                (1, received(1, Arrival::ApprovedByPolicy)),
                (3, decided(1, Decision::Revoke)),
                (150, days_to(1, "agency-x", &[(1, 0, 1)])),
            ],
        ),
        // Approved, in time, to the warrant's agency, inside the window: nothing.
        log("d", vec![(1, received(1, Arrival::ApprovedByPolicy)), (99, days(1, &[(1, 0, 1), (1, 0, 2)]))]),
    ];
    let rec = reconcile(&logs, 1);
    let (w, k) = ([1u8; 16], ShareKind::DayKey);
    assert_eq!(
        rec.flags,
        vec![
            Flag::ReleaseWithoutApproval { trustee: "a".into(), warrant: w, index: 1, kind: k, count: 2 },
            Flag::ReleaseWithoutApproval { trustee: "b".into(), warrant: w, index: 1, kind: k, count: 1 },
            Flag::ReleaseAfterStop {
                trustee: "b".into(),
                warrant: w,
                index: 1,
                kind: k,
                what: "denial",
                stopped_at: 0
            },
            Flag::ReleaseAfterStop {
                trustee: "c".into(),
                warrant: w,
                index: 2,
                kind: k,
                what: "revocation",
                stopped_at: 1
            },
            Flag::ReleaseAfterExpiry {
                trustee: "c".into(),
                warrant: w,
                index: 2,
                kind: k,
                time: 150,
                valid_until: 100
            },
            Flag::WrongAgency {
                trustee: "c".into(),
                warrant: w,
                index: 2,
                kind: k,
                released_to: "agency-x".into(),
                agency: "agency".into()
            },
        ]
    );
    let wid = hex::encode(w);
    let texts: Vec<String> = rec.flags.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        vec![
            format!("a: entry 1 releases 2 day-key shares for warrant {wid} without an approval in its log"),
            format!("b: entry 1 releases 1 day-key shares for warrant {wid} without an approval in its log"),
            format!("b: entry 1 releases day-key shares for warrant {wid} after its denial at entry 0"),
            format!("c: entry 2 releases day-key shares for warrant {wid} after its revocation at entry 1"),
            format!("c: entry 2 releases day-key shares for warrant {wid} at 150, after it expired at 100"),
            format!("c: entry 2 releases day-key shares for warrant {wid} to agency-x, but the warrant names agency"),
        ]
    );
    // Field releases keep their words.
    let fields = vec![log("e", vec![(1, received(2, Arrival::Received)), (2, release(2, &[1, 2]))])];
    assert_eq!(
        reconcile(&fields, 1).flags,
        vec![Flag::ReleaseWithoutApproval {
            trustee: "e".into(),
            warrant: [2; 16],
            index: 1,
            kind: ShareKind::Field,
            count: 2
        }]
    );
    assert_eq!(
        reconcile(&fields, 1).flags[0].to_string(),
        format!("e: entry 1 releases 2 shares for warrant {} without an approval in its log", hex::encode([2u8; 16]))
    );
}

/// Days are checked against the window of the log's own receipt, else the first log's;
/// a day that overlaps the window by one second is inside it.
#[test]
fn a_day_key_for_a_day_outside_the_warrant_window_is_flagged_per_epoch_and_day() {
    // Window: from 01:00 on day 10 to the end of day 11 (exclusive end = start of day 12).
    let (from, to) = (10 * DAY + 3600, 12 * DAY);
    let logs = vec![
        log(
            "a",
            vec![
                (1, received_in(1, Arrival::ApprovedByPolicy, from, to)),
                (
                    2,
                    days(
                        1,
                        &[
                            (1, 9, 1),
                            (1, 9, 2),
                            (1, 9, 2), // the same key twice counts once
                            (1, 10, 1),
                            (1, 11, 1),
                            (1, 12, 1),
                            (2, 12, 1),
                        ],
                    ),
                ),
            ],
        ),
        // Its own receipt logs a wider window (a disagreement), under which day 12 is in.
        log("b", vec![(1, received_in(1, Arrival::ApprovedByPolicy, from, 13 * DAY)), (2, days(1, &[(1, 12, 1)]))]),
        // No receipt of its own: held to the first log's window.
        log("c", vec![(1, decided(1, Decision::Approve)), (2, days(1, &[(1, 12, 1), (1, 11, 1)]))]),
    ];
    let rec = reconcile(&logs, 1);
    let outside = |trustee: &str, index, epoch, day, keys| Flag::DayOutsideWindow {
        trustee: trustee.into(),
        warrant: [1; 16],
        index,
        epoch,
        day,
        keys,
        window_from: from,
        window_to: to,
    };
    assert_eq!(
        rec.flags,
        vec![
            Flag::Disagreement { trustee: "b".into(), warrant: [1; 16], index: 0, field: "window", other: "a".into() },
            outside("a", 1, 1, 9, 2),
            outside("a", 1, 1, 12, 1),
            outside("a", 1, 2, 12, 1),
            outside("c", 1, 1, 12, 1),
            Flag::MissingWarrant { trustee: "c".into(), warrant: [1; 16], seen_by: "a".into(), seen_index: 0 },
        ]
    );
    assert_eq!(
        rec.flags[1].to_string(),
        format!(
            "a: entry 1 releases 2 day keys for day 9 (1970-01-10) of epoch 1 under warrant {}, outside its window [{from}, {to})",
            hex::encode([1u8; 16])
        )
    );
    assert!(rec.flags[2].to_string().starts_with("a: entry 1 releases 1 day key for day 12 (1970-01-13) of epoch 1 "));
}

/// A day key opens once t+1 distinct trustees released a share of the same epoch, day
/// and party tag; t trustees, or one trustee twice, open nothing.
#[test]
fn t_plus_one_distinct_trustees_open_a_day_key_and_t_do_not() {
    let (k1, k2, k3, k4) = ((1, 0, 1), (1, 0, 2), (1, 0, 3), (2, 0, 1));
    let logs = vec![
        log("a", vec![(1, received(1, Arrival::ApprovedByPolicy)), (2, days(1, &[k1, k2, k3, k4]))]),
        log("b", vec![(1, received(1, Arrival::ApprovedByPolicy)), (6, days(1, &[k1, k2]))]),
        log(
            "c",
            vec![
                (1, received(1, Arrival::ApprovedByPolicy)),
                (4, days(1, &[k1, k3])),
                (5, days(1, &[k3])),
                (7, days(1, &[k2])),
            ],
        ),
    ];
    let key = |(epoch, day, p): (u64, u32, u8)| DayRelease { epoch, day, party: [p; 32] };
    let rec = reconcile(&logs, 2);
    assert!(rec.flags.is_empty(), "{:?}", rec.flags);
    let w = &rec.warrants[&[1; 16]];
    assert_eq!(w.days_released["a"], [k1, k2, k3, k4].map(key).into_iter().collect());
    assert_eq!(w.days_released["b"], [k1, k2].map(key).into_iter().collect());
    assert_eq!(w.days_released["c"], [k1, k2, k3].map(key).into_iter().collect());
    // k1: a at 2, c at 4, b at 6; k2: a at 2, b at 6, c at 7. k3: a and c (twice), k4:
    // a only (another epoch than k1, same day and party): not opened.
    assert_eq!(w.days_opened, BTreeMap::from([(key(k1), 6), (key(k2), 7)]));
    assert!(w.opened.is_empty() && w.released.is_empty());
    // With t = 1, k3 opens at c's first release, and k4 still does not.
    let w = &reconcile(&logs, 1).warrants[&[1; 16]];
    assert_eq!(w.days_opened, BTreeMap::from([(key(k1), 4), (key(k2), 6), (key(k3), 4)]));
}
