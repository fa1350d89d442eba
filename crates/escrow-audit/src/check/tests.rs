//! The checks of one log, over hand-built logs.

use escrow_crypto::{CourtSecretKey, PartyId, TimeWindow, WarrantBody, WarrantId};
use escrow_log::event::{party_tag, Arrival, DayRelease};
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
    assert!(matches!(err, AuditFailure::Malformed { ref trustee, what: "checkpoint", .. } if trustee == "10.0.0.1:4"));
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
    let other_court =
        CourtSecretKey::generate(PartyId::new("high-court").unwrap(), &mut rand_chacha::ChaCha20Rng::seed_from_u64(12));
    let err = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[other_court.public()], &[]).unwrap_err();
    assert!(
        matches!(err, AuditFailure::OpeningMismatch { ref what, .. } if matches!(**what, OpeningProblem::Signature(_))),
        "{err}"
    );

    // An honest log, one logged release that the opening hides and one item that
    // does not decode.
    let (mut log, blob, nonce, court, reveal) = sealed("agency-1");
    log.push(1, Event::SharesReleased { warrant_id: [5; 16], agency: "agency-1".into(), fields: vec![[3; 32]] });
    let answer =
        OpeningAnswer::Opened { nonce: nonce.to_vec(), warrant: blob, released: vec![(b"x".to_vec(), b"y".to_vec())] };
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
    let err = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], std::slice::from_ref(&served));
    assert!(matches!(err, Err(AuditFailure::Malformed { what: "epoch public key", .. })), "{err:?}");
    log.raw.pop();
    log.push(1, installed(Sha256::digest(&served).into()));
    let v = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], &[served]).unwrap();
    assert!(v.release_findings().is_empty());
}

/// A day-key release of `(epoch, day, party tag)`s under warrant `id`.
fn day_keys(id: u8, days: &[(u64, u32, [u8; 32])]) -> Event {
    Event::DayKeysReleased {
        warrant_id: [id; 16],
        agency: "agency-1".into(),
        days: days.iter().map(|(epoch, day, party)| DayRelease { epoch: *epoch, day: *day, party: *party }).collect(),
    }
}

#[test]
fn after_the_reveal_every_day_key_must_be_for_a_target_on_a_day_of_the_signed_window() {
    // The warrant names alice for [0, DAY): day 0 only.
    let (mut log, blob, nonce, court, reveal) = sealed("agency-1");
    let alice = party_tag(&blob, "alice");
    let approve = Event::WarrantDecided {
        warrant_id: [5; 16],
        decision: escrow_log::event::Decision::Approve,
        operator: "op".into(),
        reason: Default::default(),
    };
    log.push(1, approve);
    // Entry 2: alice on day 0 is lawful; alice's tag on day 1 is outside the window.
    log.push(2, day_keys(5, &[(1, 0, alice), (1, 1, alice)]));
    // Entry 3: a party the court did not name, and alice's tag under another warrant.
    let mallory = party_tag(&blob, "mallory");
    let foreign = party_tag(b"another signed warrant", "alice");
    log.push(3, day_keys(5, &[(1, 0, mallory), (2, 0, foreign), (1, 0, alice)]));
    // Another warrant's entry is not this warrant's business.
    log.push(4, day_keys(6, &[(1, 7, mallory)]));
    let v = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], &[]).unwrap();
    let not_target = |index, epoch, party| ReleaseFinding::DayKeyNotATarget {
        trustee: "log-a".into(),
        warrant: [5; 16],
        index,
        epoch,
        day: 0,
        party,
    };
    let outside = ReleaseFinding::DayKeyOutsideWindow {
        trustee: "log-a".into(),
        warrant: [5; 16],
        index: 2,
        epoch: 1,
        day: 1,
        keys: 1,
        window_from: 0,
        window_to: DAY,
    };
    // In log order; within an entry, the days outside the window, then the tags of no
    // target in (epoch, day, tag) order.
    let expected = vec![outside.clone(), not_target(3, 1, mallory), not_target(3, 2, foreign)];
    assert_eq!(v.release_findings(), expected.as_slice());
    let wid = hex::encode([5u8; 16]);
    assert_eq!(
        outside.to_string(),
        format!(
            "log-a: warrant {wid}, entry 2: 1 day key for day 1 (1970-01-02) of epoch 1 released OUTSIDE the signed window [0, {DAY})"
        )
    );
    assert_eq!(
        not_target(3, 1, mallory).to_string(),
        format!(
            "log-a: warrant {wid}, entry 3: day key for day 0 (1970-01-01) of epoch 1 names party tag {}, which is none of the warrant's targets: released OUTSIDE its scope",
            crate::short_hex(&mallory)
        )
    );
    // They reach reconcile as release mismatches, beside its own window flag.
    let rec = crate::reconcile(std::slice::from_ref(&v), 0);
    assert_eq!(
        rec.flags,
        expected
            .iter()
            .cloned()
            .map(crate::Flag::ReleaseMismatch)
            .chain([crate::Flag::DayOutsideWindow {
                trustee: "log-a".into(),
                warrant: [5; 16],
                index: 2,
                epoch: 1,
                day: 1,
                keys: 1,
                window_from: 0,
                window_to: DAY,
            }])
            // Warrant 6 was never approved here (nor received: its window is unknown).
            .chain([crate::Flag::ReleaseWithoutApproval {
                trustee: "log-a".into(),
                warrant: [6; 16],
                index: 4,
                kind: crate::ShareKind::DayKey,
                count: 1,
            }])
            .collect::<Vec<_>>()
    );

    // The lawful entry alone: nothing.
    let (mut log, blob, nonce, court, reveal) = sealed("agency-1");
    log.push(2, day_keys(5, &[(1, 0, party_tag(&blob, "alice"))]));
    let v = audit_with_courts(&log, reveal, opened(&nonce, &blob), &[court.public()], &[]).unwrap();
    assert!(v.release_findings().is_empty(), "{:?}", v.release_findings());
}
