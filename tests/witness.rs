//! Witnessed release across real servers: five trustees publishing to three
//! witnesses (HTTPS, quorum two), the agency checking every trustee's witnessed
//! approval, and what happens when the quorum is missing or a trustee lies about it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use escrow_agency::witnessed::{verify, Unwitnessed};
use escrow_kit::{Deployment, Options, WitnessOptions, DAY};
use escrow_log::{Checkpoint, LogError};
use escrow_proto::v1 as pb;
use escrow_tests::byzantine::{start_lying, Lie};
use escrow_tests::{agency_creds, auditor_creds, pki};

const START: u64 = escrow_kit::world::START;

async fn deploy(seed: u64, witnesses: WitnessOptions) -> Deployment {
    let options = Options {
        name: "witness-tests".into(),
        seed: Some(seed),
        pki: Some(pki()),
        witnesses: Some(witnesses),
        ..Options::default()
    };
    Deployment::start(options).await.unwrap()
}

/// Two messages in alice's scope on day 1 (returned as share-request items), one
/// outside it.
async fn traffic(d: &Deployment) -> Vec<pb::EscrowItem> {
    let a = d.send("alice", &["bob"], START + DAY + 3_600, "monday lunch?").await.unwrap();
    let b = d.send("bob", &["alice"], START + DAY + 7_200, "sure, noon").await.unwrap();
    d.send("carol", &["dave"], START + DAY + 9_000, "not in scope").await.unwrap();
    d.clock.set(START + 4 * DAY).unwrap();
    [a, b].iter().map(|e| pb::EscrowItem { label: e.label().to_bytes(), field: e.field().to_bytes() }).collect()
}

async fn approved_warrant(d: &Deployment, wid: u8, at: &[usize]) -> Vec<u8> {
    let w = d.warrant(wid, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(at, wid).await.unwrap();
    w
}

/// One share request straight to trustee `i`, as the agency.
async fn request(
    d: &Deployment,
    i: usize,
    items: &[pb::EscrowItem],
    wid: u8,
) -> Result<pb::RequestSharesResponse, tonic::Status> {
    let req = pb::RequestSharesRequest { warrant_id: vec![wid; 16], items: items.to_vec() };
    d.agency_client(i).unwrap().request_shares(req).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_carry_witnessed_approvals_that_the_agency_checks() {
    let d = deploy(40, WitnessOptions::default()).await;
    let items = traffic(&d).await;
    let w = approved_warrant(&d, 1, &[0, 1, 2]).await;
    let report = d.agency().await.unwrap().open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?} {:?}", report.failed, report.unwitnessed);
    assert!(report.unwitnessed.is_empty(), "{:?}", report.unwitnessed);

    // Each answer's checkpoint is the trustee's own log, cosigned by at least two of
    // the three witnesses, and holds the warrant's receipt and approval.
    let policy = d.witness_policy().unwrap().unwrap();
    let resp = request(&d, 0, &items, 1).await.unwrap();
    let witnessed = verify(&policy, "trustee-0", &[1; 16], resp.witnessed.as_ref()).unwrap();
    assert!(witnessed.cosigners.len() >= 2, "{:?}", witnessed.cosigners);
    assert_eq!(witnessed.checkpoint.origin(), "escrow-trustee/trustee-0");
    // The Audit service serves the witnessed checkpoint, and each witness its latest
    // view of the log.
    let cp = d.audit_client(0).unwrap().get_checkpoint(pb::GetCheckpointRequest {}).await.unwrap().into_inner();
    let served = policy.verify(cp.witnessed_checkpoint.as_bytes()).unwrap();
    assert!(served.checkpoint.size() >= witnessed.checkpoint.size());
    let ca = d.world.pki.trust().clone();
    let client = escrow_witness::client::WitnessClient::new(
        &format!("https://{}", d.witness(0).unwrap().server.addr),
        Some(&ca),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let latest = client.latest("escrow-trustee/trustee-0").await.unwrap().unwrap();
    let by_witness = d.witness_policy().unwrap().unwrap().logs()[0].key.verify(latest.as_bytes()).unwrap();
    assert!(by_witness.size() >= witnessed.checkpoint.size());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agency_refuses_shares_without_a_valid_witnessed_approval() {
    let d = deploy(41, WitnessOptions::default()).await;
    traffic(&d).await;
    let w = approved_warrant(&d, 2, &[0, 1, 2, 3, 4]).await;
    // Trustee 0 drops its proof; trustee 1 passes its receipt off as the approval.
    let drop0 = start_lying(d.trustees[0].server.addr.to_string(), 0, Lie::DropWitness).await;
    let fake1 = start_lying(d.trustees[1].server.addr.to_string(), 1, Lie::FakeApproval).await;
    let mut addrs = d.trustee_addrs();
    addrs[0] = drop0.addr.to_string();
    addrs[1] = fake1.addr.to_string();
    let relay = d.relay.addr.to_string();
    let policy = d.witness_policy().unwrap().unwrap();
    // Every trustee's answer is checked: by default one that came after the honest
    // quorum's would not be examined.
    let agency = escrow_agency::Agency::connect(&relay, &addrs, &agency_creds())
        .await
        .unwrap()
        .require_witnessed(policy)
        .check_every_trustee(Duration::from_secs(30));
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert_eq!(report.unwitnessed.get("trustee-0"), Some(&Unwitnessed::Missing));
    assert!(
        matches!(report.unwitnessed.get("trustee-1"), Some(Unwitnessed::Entry { which: "approval", .. })),
        "{:?}",
        report.unwitnessed
    );
    assert_eq!(report.unwitnessed.len(), 2);
    // The three honest trustees still open the warrant's messages.
    assert_eq!(report.opened.len(), 2, "{:?}", report.failed);

    // Control: an agency without a witness policy takes the same answers.
    let lax = escrow_agency::Agency::connect(&relay, &addrs, &agency_creds()).await.unwrap();
    let lax_report = lax.open(&w, |_| {}).await.unwrap();
    assert!(lax_report.unwitnessed.is_empty());
    assert_eq!(lax_report.opened.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_a_witnessed_approval_can_be_wrong_is_refused() {
    let d = deploy(42, WitnessOptions::default()).await;
    let items = traffic(&d).await;
    approved_warrant(&d, 3, &[0, 1, 2]).await;
    let policy = d.witness_policy().unwrap().unwrap();
    let good = request(&d, 0, &items, 3).await.unwrap().witnessed.unwrap();
    verify(&policy, "trustee-0", &[3; 16], Some(&good)).unwrap();

    let check = |w: &pb::WitnessedApproval, trustee: &str, wid: [u8; 16]| verify(&policy, trustee, &wid, Some(w));
    assert_eq!(verify(&policy, "trustee-0", &[3; 16], None), Err(Unwitnessed::Missing));
    // Another trustee's answer passed off as this one's.
    assert!(matches!(check(&good, "trustee-1", [3; 16]), Err(Unwitnessed::WrongOrigin { .. })));
    // Another warrant.
    assert!(matches!(check(&good, "trustee-0", [9; 16]), Err(Unwitnessed::Entry { which: "receipt", .. })));
    // A proof hash changed, an index moved, an entry edited.
    let mut bad = good.clone();
    bad.receipt.as_mut().unwrap().proof[0][0] ^= 1;
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Inclusion { which: "receipt", .. })));
    let mut bad = good.clone();
    bad.approval.as_mut().unwrap().index += 1;
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Inclusion { which: "approval", .. })));
    let mut bad = good.clone();
    let last = bad.approval.as_mut().unwrap().entry.last_mut().unwrap();
    *last ^= 1;
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Inclusion { which: "approval", .. })));
    // The cosignatures stripped: the trustee's signature alone is not witnessed.
    let mut bad = good.clone();
    let log_only: String =
        bad.checkpoint.lines().filter(|l| !l.starts_with("\u{2014} witness.")).map(|l| format!("{l}\n")).collect();
    bad.checkpoint = log_only;
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Checkpoint(LogError::QuorumNotMet { .. }))));
    // A checkpoint re-signed by someone else's key under the trustee's origin.
    let mut bad = good.clone();
    let impostor = escrow_log::CheckpointSigner::generate("escrow-trustee/trustee-0", &mut rand::rngs::OsRng).unwrap();
    let cp = policy.verify(good.checkpoint.as_bytes()).unwrap().checkpoint;
    bad.checkpoint = impostor.sign(&Checkpoint::new(cp.origin(), cp.size(), *cp.root()).unwrap());
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Checkpoint(_))));
    // The approval pointed at the receipt of a warrant that needed an operator.
    let mut bad = good.clone();
    bad.approval = bad.receipt.clone();
    assert!(matches!(check(&bad, "trustee-0", [3; 16]), Err(Unwitnessed::Entry { which: "approval", .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_continue_while_the_quorum_holds_and_stop_when_it_does_not() {
    let witnesses = WitnessOptions { release_wait_ms: 1_500, ..WitnessOptions::default() };
    let mut d = deploy(43, witnesses).await;
    let items = traffic(&d).await;
    // One of three witnesses down: two still cosign, releases go on.
    d.stop_witness(0).await.unwrap();
    let w4 = approved_warrant(&d, 4, &[0, 1, 2]).await;
    let report = d.agency().await.unwrap().open(&w4, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?}", report.trustee_errors);

    // Two down: no checkpoint gets two cosignatures, no trustee releases, and each
    // says why.
    d.stop_witness(1).await.unwrap();
    let w5 = approved_warrant(&d, 5, &[0, 1, 2]).await;
    let refused = request(&d, 0, &items, 5).await.unwrap_err();
    // A refusal the agency can tell from an outage: the rule, not the words.
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert_eq!(escrow_service::metrics::rule_of(&refused), Some(escrow_proto::RULE_NOT_WITNESSED));
    assert!(refused.message().contains("not yet in a witnessed checkpoint"), "{}", refused.message());
    assert!(refused.message().contains("quorum"), "{}", refused.message());
    let report = d.agency().await.unwrap().open(&w5, |_| {}).await.unwrap();
    assert!(report.opened.is_empty());
    // Nothing was released: the warrant's fields are still unused at every trustee.
    for i in 0..3 {
        let st = d
            .agency_client(i)
            .unwrap()
            .get_warrant(pb::GetWarrantRequest { warrant_id: vec![5; 16] })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(st.fields_released, 0, "trustee-{i}");
    }

    // The witnesses come back: the next publication is witnessed, releases resume.
    d.restart_witness(0).await.unwrap();
    d.restart_witness(1).await.unwrap();
    let report = d.agency().await.unwrap().open(&w5, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?}", report.trustee_errors);
}

/// The revocation race: a share request passes every check and waits for its
/// approval to be witnessed; meanwhile the operator revokes the warrant; then the
/// witnesses come back and the approval is witnessed. The release is decided again
/// inside its transaction, on the warrant as stored then: no share leaves, the agency
/// is told the warrant was revoked, and the log holds the revocation and, after it,
/// the refused request, with times that never go backwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_during_the_witness_wait_stops_the_release() {
    use escrow_log::event::{Decision, Event};
    let witnesses = WitnessOptions { release_wait_ms: 20_000, ..WitnessOptions::default() };
    let mut d = deploy(46, witnesses).await;
    let items = traffic(&d).await;
    let t0 = std::time::Instant::now();
    let at = |what: &str| eprintln!("race: {:>6} ms  {what}", t0.elapsed().as_millis());
    // Two of three witnesses down: the approval below cannot be witnessed yet.
    d.stop_witness(0).await.unwrap();
    d.stop_witness(1).await.unwrap();
    approved_warrant(&d, 6, &[0]).await;
    at("warrant 6 approved at trustee-0; witnesses w1 and w2 down");
    let mut client = d.agency_client(0).unwrap();
    let req = pb::RequestSharesRequest { warrant_id: vec![6; 16], items: items.clone() };
    let pending = tokio::spawn(async move { client.request_shares(req).await });
    // The request passes its checks in milliseconds and then waits for the witnesses.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(!pending.is_finished(), "the request should be waiting for a witnessed approval");
    at("RequestShares checked and waiting for a witnessed approval");
    d.decide(0, [6; 16], escrow_trustee::state::Action::Revoke, "the court withdrew it").await.unwrap();
    at("operator op-0 revoked warrant 6 (committed)");
    d.restart_witness(0).await.unwrap();
    d.restart_witness(1).await.unwrap();
    at("witnesses back");
    let refused = pending.await.unwrap().unwrap_err();
    at(&format!("RequestShares answered: {:?} {}", refused.code(), refused.message()));
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert_eq!(refused.message(), format!("warrant {} was revoked", escrow_crypto::WarrantId([6; 16])));
    assert_eq!(d.status(0, 6).await.unwrap().fields_released, 0);

    let log = escrow_tests::log_entries(&d, 0).await;
    let mine = |e: &Event| match e {
        Event::WarrantDecided { warrant_id, .. } | Event::SharesReleased { warrant_id, .. } => *warrant_id == [6; 16],
        Event::RequestsRefused { warrant_id, .. } => *warrant_id == Some([6; 16]),
        _ => false,
    };
    let trail: Vec<(usize, &escrow_log::event::Entry)> =
        log.iter().enumerate().filter(|(_, e)| mine(&e.event)).collect();
    for (i, e) in &trail {
        eprintln!("race: log[{i}] t={} {:?}", e.time, e.event);
    }
    assert!(!trail.iter().any(|(_, e)| matches!(e.event, Event::SharesReleased { .. })), "{trail:?}");
    let revoked = trail
        .iter()
        .position(|(_, e)| matches!(e.event, Event::WarrantDecided { decision: Decision::Revoke, .. }))
        .unwrap();
    let refusal = trail
        .iter()
        .position(|(_, e)| matches!(&e.event, Event::RequestsRefused { rule, .. } if rule.contains("revoked")));
    assert!(refusal.is_some_and(|r| r > revoked), "the refused request follows the revocation: {trail:?}");
    assert!(log.windows(2).all(|w| w[0].time <= w[1].time), "entry times go backwards");
}

async fn audit(
    d: &Deployment,
    state: &std::path::Path,
    trust: &escrow_audit::Trust,
) -> Vec<escrow_audit::TrusteeAudit> {
    escrow_audit::verify_with(&d.trustee_addrs(), &auditor_creds(), state, d.clock.now(), &[], trust).await
}

async fn fully_witnessed(d: &Deployment, i: usize) {
    d.wait_witnessed(i, std::time::Duration::from_secs(10)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_log_gets_no_witnessed_release_and_the_auditor_names_the_split_view() {
    let mut d = deploy(44, WitnessOptions::default()).await;
    let items = traffic(&d).await;
    let w = approved_warrant(&d, 6, &[0, 1, 2]).await;
    assert_eq!(d.agency().await.unwrap().open(&w, |_| {}).await.unwrap().opened.len(), 2);
    d.clock.set(START + 5 * DAY).unwrap();
    for i in 0..5 {
        fully_witnessed(&d, i).await;
    }
    let policy = d.witness_policy().unwrap().unwrap();
    let ca = d.world.pki.trust().clone();
    let trust = escrow_audit::Trust::Policy(Arc::new(escrow_audit::PolicyTrust::new(policy, Some(&ca)).unwrap()));
    let before = tempfile::tempdir().unwrap();
    for a in audit(&d, before.path(), &trust).await {
        assert!(a.result.is_ok(), "{}: {:?}", a.addr, a.result);
        assert_eq!(a.witnessed.len(), 3, "{:?}", a.witness_notes);
    }

    // Trustee 0 (or whoever holds its database and log key) rewrites its release to
    // warrant 6 into something harmless, carefully rehashed: its own tree and new
    // checkpoints are consistent, signed by its real key.
    let dir = d.trustees[0].dir.clone();
    d.trustees[0].server.stop().await;
    let entries = escrow_trustee::tamper::log_entries(&dir).unwrap();
    let (index, _) = entries
        .iter()
        .find(|(_, e)| {
            matches!(
                escrow_log::event::Entry::from_bytes(e).map(|e| e.event),
                Ok(escrow_log::event::Event::SharesReleased { .. })
            )
        })
        .unwrap();
    let harmless =
        escrow_log::event::Entry { time: START + DAY, event: escrow_log::event::Event::EpochDestroyed { epoch: 99 } };
    escrow_trustee::tamper::rewrite_log_entry_rehashed(&dir, *index, &harmless.to_bytes().unwrap()).unwrap();
    d.restart_trustee(0).await.unwrap();

    // The witnesses refuse every checkpoint of the fork, so the forked trustee can
    // release nothing more: its next approval is never witnessed.
    let w7 = approved_warrant(&d, 7, &[0, 1, 2]).await;
    let refused = request(&d, 0, &items, 7).await.unwrap_err();
    // A refusal the agency can tell from an outage: the rule, not the words.
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert_eq!(escrow_service::metrics::rule_of(&refused), Some(escrow_proto::RULE_NOT_WITNESSED));
    assert!(refused.message().contains("not yet in a witnessed checkpoint"), "{}", refused.message());
    let report = d.agency().await.unwrap().open(&w7, |_| {}).await.unwrap();
    assert!(report.opened.is_empty(), "two honest trustees are not a quorum of three");

    // An auditor who never saw this log before, with the deployment's policy: the
    // witnesses' views name the split view.
    let fresh = tempfile::tempdir().unwrap();
    let audits = audit(&d, fresh.path(), &trust).await;
    match &audits[0].result {
        Err(escrow_audit::AuditFailure::SplitView { trustee, witness, .. }) => {
            assert_eq!(trustee, "escrow-trustee/trustee-0");
            assert!(witness.starts_with('w'), "{witness}");
        }
        other => panic!("expected a split view, got {other:?}"),
    }
    for a in &audits[1..] {
        assert!(a.result.is_ok(), "{}: {:?}", a.addr, a.result);
    }
    // Control: the same first-time auditor trusting on first use sees nothing wrong.
    let tofu = tempfile::tempdir().unwrap();
    let audits = audit(&d, tofu.path(), &escrow_audit::Trust::FirstUse).await;
    assert!(audits[0].result.is_ok(), "{:?}", audits[0].result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_burst_of_entries_every_witness_holds_the_same_checkpoint() {
    // A long interval: a burst of 12 warrants (24 log entries at each trustee) is
    // published in at most a few checkpoints, each sent to every witness alike, so the
    // witnesses' cosignatures are over one and the same checkpoint.
    let witnesses = WitnessOptions { interval_ms: 1_500, ..WitnessOptions::default() };
    let d = deploy(45, witnesses).await;
    traffic(&d).await;
    let before = d.wait_witnessed(0, std::time::Duration::from_secs(10)).await.unwrap();
    for wid in 20..32 {
        let w = d.warrant(wid, &["alice"], START + DAY, START + 3 * DAY).unwrap();
        d.submit_everywhere(&w).await.unwrap();
        d.approve(&[0], wid).await.unwrap();
    }
    let after = d.wait_witnessed(0, std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(after, before + 24, "12 receipts and 12 approvals");
    // Every witness holds that very checkpoint: one size, one root, for all three.
    let ca = d.world.pki.trust().clone();
    let key = &d.witness_policy().unwrap().unwrap().logs()[0].key.clone();
    let mut views = Vec::new();
    for j in 0..3 {
        let url = format!("https://{}", d.witness(j).unwrap().server.addr);
        let c = escrow_witness::client::WitnessClient::new(&url, Some(&ca), std::time::Duration::from_secs(5)).unwrap();
        let note = c.latest("escrow-trustee/trustee-0").await.unwrap().unwrap();
        views.push(key.verify(note.as_bytes()).unwrap());
    }
    assert!(views.iter().all(|v| v == &views[0]), "{views:?}");
    assert_eq!(views[0].size(), after);
}
