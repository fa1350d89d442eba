//! The auditor against real trustees: clean logs verify (twice, the second time
//! through stored checkpoints and consistency proofs); a log changed behind the
//! trustee's back, cut short or forked and re-signed is caught and named; a release
//! written straight into a database verifies but is flagged by `reconcile`; a sealed
//! opening that does not match its commitment is refused; the report counts right;
//! day keys are counted, and one outside the window (at once) or for no target (once
//! the details open) is flagged.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

use escrow_audit::{
    reconcile, report, verify, AuditFailure, Flag, ReleaseFinding, ShareKind, TrusteeAudit, VerifiedLog,
};
use escrow_crypto::*;
use escrow_log::event::{party_tag, DayRelease, Entry, Event};
use escrow_proto::v1 as pb;
use escrow_tests::*;
use escrow_trustee::tamper;

const WID: u8 = 60;

/// Entry `index` of trustee `i`'s log, decoded, as it sits in the database.
fn stored_entry(d: &Deployment, i: usize, index: u64) -> Entry {
    let entries = tamper::log_entries(&d.trustees[i].dir).unwrap();
    let (_, bytes) = entries.iter().find(|(k, _)| *k == index).unwrap();
    Entry::from_bytes(bytes).unwrap()
}

async fn audit(d: &Deployment, state: &Path) -> Vec<TrusteeAudit> {
    verify(&d.trustee_addrs(), &auditor_creds(), state, d.clock.now(), &[d.court.public()]).await
}

fn all_ok(audits: Vec<TrusteeAudit>) -> Vec<VerifiedLog> {
    audits.into_iter().map(|a| a.result.unwrap_or_else(|e| panic!("{} should verify: {e}", a.addr))).collect()
}

fn failure(audits: &[TrusteeAudit], i: usize) -> String {
    for (k, a) in audits.iter().enumerate() {
        if k != i {
            assert!(a.result.is_ok(), "only trustee {i} should fail, {k}: {:?}", a.result.as_ref().err());
        }
    }
    let e = audits[i].result.as_ref().expect_err("this trustee must fail");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{}: ", origin(i as u16))), "names the trustee: {text}");
    text
}

/// One warrant for alice, approved by trustees 0, 2 and 4, two in-scope messages whose
/// shares those three release. Returns the two field fingerprints.
async fn lawful_flow(d: &Deployment) -> [[u8; 32]; 2] {
    let a = d.send("bob", &["alice"], START + DAY, "in scope 1").await.unwrap();
    let b = d.send("alice", &["carol"], START + 2 * DAY, "in scope 2").await.unwrap();
    d.send("carol", &["dave"], START + DAY, "out of scope").await.unwrap();
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(WID, &["alice"], START, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 2, 4], WID).await.unwrap();
    let item = |e: &Envelope| pb::EscrowItem { label: e.label().to_bytes(), field: e.field().to_bytes() };
    for i in [0, 2, 4] {
        let shares = d
            .agency_client(i)
            .unwrap()
            .request_shares(pb::RequestSharesRequest { warrant_id: vec![WID; 16], items: vec![item(&a), item(&b)] })
            .await
            .unwrap()
            .into_inner()
            .shares;
        assert_eq!(shares.len(), 2);
    }
    // An unapproved trustee refuses, and logs the refusal.
    d.agency_client(1)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![WID; 16], items: vec![item(&a)] })
        .await
        .unwrap_err();
    [a.field().fingerprint(), b.field().fingerprint()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_flow_verifies_twice_and_reconciles_without_flags() {
    let d = deploy_plain(60).await;
    let state = tempfile::tempdir().unwrap();
    let first = all_ok(audit(&d, state.path()).await);
    assert_eq!(first.len(), 5);
    assert!(first.iter().all(|l| l.checkpoint().size() == 1), "only the epoch installation so far");
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 5, "one pinned file per origin");

    let fields = lawful_flow(&d).await;
    let audits = audit(&d, state.path()).await;
    for (i, a) in audits.iter().enumerate() {
        assert_eq!(a.origin.as_deref(), Some(origin(i as u16).as_str()));
    }
    let logs = all_ok(audits);
    assert_eq!(logs[0].checkpoint().size(), 4, "epoch, received, approved, one release of two fields");
    assert_eq!(logs[1].checkpoint().size(), 3, "epoch, received, refused");
    assert!(logs.iter().all(|l| l.openings().sealed == 1 && l.openings().checked == 0));

    let rec = reconcile(&logs, T.into());
    assert!(rec.flags.is_empty(), "{:?}", rec.flags);
    let w = &rec.warrants[&[WID; 16]];
    assert_eq!(w.received_by.len(), 5);
    assert_eq!(w.approvals.len(), 3);
    assert!(w.reached_quorum);
    assert_eq!(w.released.len(), 3);
    assert_eq!(w.opened.keys().copied().collect::<Vec<_>>(), {
        let mut f = fields.to_vec();
        f.sort();
        f
    });

    // A third visit with nothing new is still consistent (equal sizes, equal roots).
    all_ok(audit(&d, state.path()).await);

    // A different key for a pinned origin is refused.
    let pinned = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains(&origin(3)))
        .unwrap();
    let text = std::fs::read_to_string(&pinned).unwrap();
    let swapped = text.replace(&log_signer(3).verifier().to_string(), &log_signer(0).verifier().to_string());
    assert_ne!(text, swapped);
    std::fs::write(&pinned, swapped).unwrap();
    let audits = audit(&d, state.path()).await;
    let msg = failure(&audits, 3);
    assert!(msg.contains(": key changed: pinned "), "{msg}");

    // Nobody listening: unreachable, named by address.
    let gone = verify(&["127.0.0.1:1".to_string()], &auditor_creds(), state.path(), d.clock.now(), &[]).await;
    let msg = gone[0].result.as_ref().unwrap_err().to_string();
    assert!(msg.starts_with("127.0.0.1:1: unreachable: "), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_changed_in_the_database_is_caught() {
    let d = deploy_plain(61).await;
    lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    all_ok(audit(&d, state.path()).await);
    // Rewrite the approval at trustee 2 into a denial, re-encoded canonically.
    let mut e = stored_entry(&d, 2, 2);
    let Event::WarrantDecided { decision, .. } = &mut e.event else { panic!("{e:?}") };
    *decision = escrow_log::event::Decision::Deny;
    tamper::rewrite_log_entry(&d.trustees[2].dir, 2, &e.to_bytes().unwrap()).unwrap();

    let audits = audit(&d, state.path()).await;
    let msg = failure(&audits, 2);
    assert!(msg.contains(": root recomputed from 4 entries is "), "{msg}");
    assert!(msg.contains(" but the checkpoint says "), "{msg}");
    assert!(matches!(audits[2].result, Err(AuditFailure::RootMismatch { entries: 4, size: 4, .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_removed_is_caught_and_a_shrunk_log_too() {
    let mut d = deploy_plain(62).await;
    lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    all_ok(audit(&d, state.path()).await);
    // Remove trustee 4's release entry (its last) while it runs.
    tamper::delete_last_log_entry(&d.trustees[4].dir).unwrap();
    let audits = audit(&d, state.path()).await;
    let msg = failure(&audits, 4);
    assert!(msg.contains(": root recomputed from 3 entries is "), "{msg}");
    assert!(msg.contains(" for 4 entries"), "{msg}");

    // Restarted, the trustee signs the shorter log; the auditor remembers the longer one.
    d.trustees[4].server.stop().await;
    d.restart_trustee(4).await.unwrap();
    let audits = audit(&d, state.path()).await;
    let msg = failure(&audits, 4);
    assert!(msg.ends_with(": log shrank from 4 to 3"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_history_with_a_fresh_checkpoint_is_caught() {
    let mut d = deploy_plain(63).await;
    lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    all_ok(audit(&d, state.path()).await);

    // Trustee 2 rewrites its approval (entry 2) into an auto-approval with another
    // operator, fixes the leaf hash, restarts: its new tree and checkpoint are
    // internally consistent, and it keeps growing.
    d.trustees[2].server.stop().await;
    let mut e = stored_entry(&d, 2, 2);
    let Event::WarrantDecided { operator, .. } = &mut e.event else { panic!("{e:?}") };
    *operator = "someone-else".into();
    tamper::rewrite_log_entry_rehashed(&d.trustees[2].dir, 2, &e.to_bytes().unwrap()).unwrap();
    d.restart_trustee(2).await.unwrap();
    let w2 = d.warrant(WID + 1, &["bob"], START, START + DAY).unwrap();
    d.submit_everywhere(&w2).await.unwrap();

    let audits = audit(&d, state.path()).await;
    let msg = failure(&audits, 2);
    assert!(msg.contains(": history rewritten: no consistency between size 4 (root "), "{msg}");
    assert!(msg.contains(") and size 5 (root "), "{msg}");
    assert!(matches!(audits[2].result, Err(AuditFailure::Forked { old_size: 4, new_size: 5, .. })));
    // The failed visit stored nothing: the next one fails the same way.
    let again = audit(&d, state.path()).await;
    assert!(matches!(again[2].result, Err(AuditFailure::Forked { old_size: 4, .. })));
    // An auditor that never saw the old history cannot tell: that is why checkpoints
    // are kept (and, later, cosigned by witnesses).
    let fresh = tempfile::tempdir().unwrap();
    all_ok(audit(&d, fresh.path()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_written_into_the_database_verifies_but_is_flagged() {
    let mut d = deploy_plain(64).await;
    lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    all_ok(audit(&d, state.path()).await);

    // Trustee 3 never approved; someone writes a release into its log directly.
    d.trustees[3].server.stop().await;
    let e = Entry {
        time: d.clock.now(),
        event: Event::SharesReleased { warrant_id: [WID; 16], agency: "agency-1".into(), fields: vec![[7u8; 32]] },
    };
    let index = tamper::append_log_entry(&d.trustees[3].dir, &e.to_bytes().unwrap()).unwrap();
    d.restart_trustee(3).await.unwrap();

    // The log only grew and is consistent: verify passes...
    let logs = all_ok(audit(&d, state.path()).await);
    // ...but the behaviour is wrong.
    let rec = reconcile(&logs, T.into());
    assert_eq!(
        rec.flags,
        vec![Flag::ReleaseWithoutApproval {
            trustee: origin(3),
            warrant: [WID; 16],
            index,
            kind: ShareKind::Field,
            count: 1
        }]
    );
    let text = rec.flags[0].to_string();
    assert_eq!(
        text,
        format!(
            "escrow-trustee/trustee-3: entry {index} releases 1 shares for warrant {} without an approval in its log",
            hex::encode([WID; 16])
        )
    );
    // One share of [7; 32] opens nothing.
    assert_eq!(rec.warrants[&[WID; 16]].opened.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_flags_missing_warrants_late_and_misdirected_releases() {
    let mut d = deploy_plain(65).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(WID, &["alice"], START, START + 3 * DAY).unwrap();
    for i in 0..4 {
        d.agency_client(i).unwrap().submit_warrant(pb::SubmitWarrantRequest { warrant: w.clone() }).await.unwrap();
    }
    d.approve(&[0], WID).await.unwrap();
    // Trustee 0's log gains a release to another agency, after expiry, after a revocation.
    d.trustees[0].server.stop().await;
    {
        let revoke = Entry {
            time: START + 5 * DAY,
            event: Event::WarrantDecided {
                warrant_id: [WID; 16],
                decision: escrow_log::event::Decision::Revoke,
                operator: "op".into(),
                reason: Default::default(),
            },
        };
        let late = Entry {
            time: START + 40 * DAY,
            event: Event::SharesReleased { warrant_id: [WID; 16], agency: "agency-2".into(), fields: vec![[9u8; 32]] },
        };
        for e in [revoke, late] {
            tamper::append_log_entry(&d.trustees[0].dir, &e.to_bytes().unwrap()).unwrap();
        }
    }
    d.restart_trustee(0).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let logs = all_ok(audit(&d, state.path()).await);
    let rec = reconcile(&logs, T.into());
    let texts: Vec<String> = rec.flags.iter().map(ToString::to_string).collect();
    let wid = hex::encode([WID; 16]);
    assert_eq!(rec.flags.len(), 4, "{texts:#?}");
    assert!(texts.contains(&format!(
        "escrow-trustee/trustee-0: entry 4 releases shares for warrant {wid} after its revocation at entry 3"
    )));
    assert!(texts.contains(&format!(
        "escrow-trustee/trustee-0: entry 4 releases shares for warrant {wid} at {}, after it expired at {}",
        START + 40 * DAY,
        START + 34 * DAY
    )));
    assert!(texts.contains(&format!(
        "escrow-trustee/trustee-0: entry 4 releases shares for warrant {wid} to agency-2, but the warrant names agency-1"
    )));
    assert!(texts.contains(&format!(
        "escrow-trustee/trustee-4: warrant {wid} is missing from its log (received by escrow-trustee/trustee-0 at entry 1)"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_opening_that_does_not_match_its_commitment_is_refused() {
    let d = deploy_plain(66).await;
    lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    // Before the reveal time every opening is sealed and simply counted.
    let logs = all_ok(audit(&d, state.path()).await);
    assert!(logs.iter().all(|l| l.openings().sealed == 1));

    // valid_until = issue (day 4) + 30 days; notification delay 90 days.
    d.clock.set(START + 4 * DAY + 30 * DAY + 90 * DAY).unwrap();
    tamper::set_details_nonce(&d.trustees[1].dir, &[WID; 16], &[0; 32]).unwrap();
    let other = d.warrant(WID + 1, &["bob"], START, START + DAY).unwrap();
    tamper::set_warrant_blob(&d.trustees[3].dir, &[WID; 16], &other).unwrap();
    let audits = audit(&d, state.path()).await;
    let wid = hex::encode([WID; 16]);
    for i in [1, 3] {
        let msg = audits[i].result.as_ref().unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "{}: sealed details of warrant {wid} (entry 1) refused: the opening does not match the commitment: SHA-256(nonce ‖ warrant) is ",
                origin(i as u16)
            )),
            "{msg}"
        );
        assert!(msg.contains(" but the log committed to "), "{msg}");
    }
    for i in [0, 2, 4] {
        let log = audits[i].result.as_ref().unwrap();
        assert_eq!((log.openings().checked, log.openings().sealed), (1, 0), "opened and checked against the court key");
    }
    // Without court keys the commitment is still checked.
    let audits = verify(&d.trustee_addrs(), &auditor_creds(), state.path(), d.clock.now(), &[]).await;
    assert!(matches!(audits[1].result, Err(AuditFailure::OpeningMismatch { .. })));
    assert!(audits[0].result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_counts_a_known_flow() {
    let d = deploy_plain(67).await;
    let [fa, fb] = lawful_flow(&d).await;
    let state = tempfile::tempdir().unwrap();
    let logs = all_ok(audit(&d, state.path()).await);
    let rec = reconcile(&logs, T.into());
    let r = report(&logs, &rec);
    let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    let wid = hex::encode([WID; 16]);

    let w = &json["per_warrant"][0];
    assert_eq!(w["key"], wid);
    assert_eq!(w["court"], "high-court");
    assert_eq!(w["agency"], "agency-1");
    assert_eq!(w["trustees"], 5);
    assert_eq!(w["reached_quorum"], true);
    assert_eq!(w["warrants_received"], 1);
    assert_eq!(w["approvals"], 3);
    assert_eq!(w["denials"], 0);
    assert_eq!(w["refusals"], 1);
    assert_eq!(w["fields_released"], 2);
    assert_eq!(w["shares_released"], 6);
    assert_eq!(w["messages_opened"], 2);
    for table in ["per_agency", "per_court", "per_month"] {
        assert_eq!(json[table].as_array().unwrap().len(), 1, "{table}");
        let row = &json[table][0];
        assert_eq!((row["approvals"].as_u64(), row["messages_opened"].as_u64()), (Some(3), Some(2)), "{table}");
    }
    assert_eq!(json["per_agency"][0]["key"], "agency-1");
    assert_eq!(json["per_court"][0]["key"], "high-court");
    assert_eq!(json["per_month"][0]["key"], "2026-01");
    assert_eq!(json["per_month"][0]["refusals"], 1);
    let trustees = json["per_trustee"].as_array().unwrap();
    assert_eq!(trustees.len(), 5);
    for (i, t) in trustees.iter().enumerate() {
        let released = [0, 2, 4].contains(&i);
        assert_eq!(t["key"], origin(i as u16));
        assert_eq!(t["warrants_received"], 1);
        assert_eq!(t["approvals"].as_u64(), Some(u64::from(released)));
        assert_eq!(t["fields_released"].as_u64(), Some(if released { 2 } else { 0 }));
        assert_eq!(t["messages_opened"].as_u64(), Some(if released { 2 } else { 0 }));
        assert_eq!(t["refusals"].as_u64(), Some(u64::from(i == 1)));
    }
    assert_eq!(json["flags"].as_array().unwrap().len(), 0);
    // Public statistics only: no targets, no case reference, no field fingerprints.
    let md = r.to_markdown();
    for text in [json.to_string(), md.clone()] {
        assert!(!text.contains("alice") && !text.contains("TEST/"), "{text}");
        assert!(!text.contains(&hex::encode(fa)) && !text.contains(&hex::encode(fb)));
    }
    assert!(md.contains(&format!("| `{wid}` | high-court | agency-1 | 5 | yes | 3 | 0 | 0 | 1 | 2 | 6 | 2 |")), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_outside_the_scope_is_flagged_once_the_details_open() {
    let mut d = deploy_plain(68).await;
    lawful_flow(&d).await;
    // A message nobody targeted; trustee 0's database is then made to release it.
    let now = d.clock.now();
    let outside = d.send("carol", &["dave"], START + DAY, "not covered").await.unwrap();
    d.clock.set(now).unwrap();
    d.trustees[0].server.stop().await;
    {
        let dir = &d.trustees[0].dir;
        let fp = outside.field().fingerprint();
        let (label, field) = (outside.label().to_bytes(), outside.field().to_bytes());
        tamper::insert_release(dir, &[WID; 16], &fp, "agency-1", now, &label, &field).unwrap();
        let e = Entry {
            time: now,
            event: Event::SharesReleased { warrant_id: [WID; 16], agency: "agency-1".into(), fields: vec![fp] },
        };
        tamper::append_log_entry(dir, &e.to_bytes().unwrap()).unwrap();
    }
    d.restart_trustee(0).await.unwrap();
    let state = tempfile::tempdir().unwrap();

    // While the details are sealed, nothing can tell: the log is consistent and the
    // release was approved.
    let rec = reconcile(&all_ok(audit(&d, state.path()).await), T.into());
    assert!(rec.flags.is_empty(), "{:?}", rec.flags);

    // After valid_until + notification delay, the opening shows what was released.
    d.clock.set(now + 30 * DAY + 90 * DAY + 1).unwrap();
    let logs = all_ok(audit(&d, state.path()).await);
    for (i, log) in logs.iter().enumerate() {
        if i == 0 {
            assert_eq!(log.release_findings().len(), 1, "{:?}", log.release_findings());
        } else {
            assert!(log.release_findings().is_empty(), "trustee {i}: {:?}", log.release_findings());
        }
    }
    let rec = reconcile(&logs, T.into());
    let texts: Vec<String> = rec.flags.iter().map(|f| f.to_string()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("escrow-trustee/trustee-0: warrant"), "{}", texts[0]);
    assert!(texts[0].contains("released OUTSIDE the warrant's scope"), "{}", texts[0]);
    assert!(texts[0].contains("no target of the warrant sent or received this message"), "{}", texts[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_keys_are_counted_and_those_outside_the_warrant_are_flagged() {
    let mut d = deploy_plain(69).await;
    lawful_flow(&d).await;
    // The warrant lawful_flow submitted: the same body, issued at the same time, and
    // the court's signature is deterministic.
    let blob = d.warrant(WID, &["alice"], START, START + 3 * DAY).unwrap();
    let (alice, mallory) = (party_tag(&blob, "alice"), party_tag(&blob, "mallory"));
    let (day0, day5) = (u32::try_from(START / DAY).unwrap(), u32::try_from(START / DAY + 5).unwrap());
    let key = |day, party| DayRelease { epoch: 1, day, party };
    let now = d.clock.now();
    // The three approving trustees release alice's first day; trustee 0 also a day
    // after the window and a party the court did not name.
    let mut index0 = 0;
    for i in [0, 2, 4] {
        let mut days = vec![key(day0, alice)];
        if i == 0 {
            days.extend([key(day5, alice), key(day0, mallory)]);
        }
        d.trustees[i].server.stop().await;
        let e = Entry {
            time: now,
            event: Event::DayKeysReleased { warrant_id: [WID; 16], agency: "agency-1".into(), days },
        };
        let index = tamper::append_log_entry(&d.trustees[i].dir, &e.to_bytes().unwrap()).unwrap();
        if i == 0 {
            index0 = index;
        }
        d.restart_trustee(i).await.unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let window = (START, START + 3 * DAY);

    // Sealed: only the day outside the logged window shows.
    let logs = all_ok(audit(&d, state.path()).await);
    let rec = reconcile(&logs, T.into());
    let outside = Flag::DayOutsideWindow {
        trustee: origin(0),
        warrant: [WID; 16],
        index: index0,
        epoch: 1,
        day: day5,
        keys: 1,
        window_from: window.0,
        window_to: window.1,
    };
    assert_eq!(rec.flags, vec![outside.clone()]);
    let w = &rec.warrants[&[WID; 16]];
    assert_eq!(w.days_opened.keys().collect::<Vec<_>>(), [&key(day0, alice)]);
    let json: serde_json::Value = serde_json::from_str(&report(&logs, &rec).to_json().unwrap()).unwrap();
    let row = &json["per_warrant"][0];
    assert_eq!(
        (row["day_keys_released"].as_u64(), row["day_key_shares_released"].as_u64(), row["day_keys_opened"].as_u64()),
        (Some(3), Some(5), Some(1))
    );

    // Revealed: the signed warrant opens the tags; alice's pass at every trustee.
    d.clock.set(now + 30 * DAY + 90 * DAY + 1).unwrap();
    let logs = all_ok(audit(&d, state.path()).await);
    let findings = vec![
        ReleaseFinding::DayKeyOutsideWindow {
            trustee: origin(0),
            warrant: [WID; 16],
            index: index0,
            epoch: 1,
            day: day5,
            keys: 1,
            window_from: window.0,
            window_to: window.1,
        },
        ReleaseFinding::DayKeyNotATarget {
            trustee: origin(0),
            warrant: [WID; 16],
            index: index0,
            epoch: 1,
            day: day0,
            party: mallory,
        },
    ];
    assert_eq!(logs[0].release_findings(), findings.as_slice());
    for log in &logs[1..] {
        assert!(log.release_findings().is_empty(), "{}: {:?}", log.origin(), log.release_findings());
    }
    let rec = reconcile(&logs, T.into());
    let expected: Vec<Flag> = findings.into_iter().map(Flag::ReleaseMismatch).chain([outside]).collect();
    assert_eq!(rec.flags, expected);
}
