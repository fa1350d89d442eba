//! The warrant flow across real servers: trustees, relay, agency.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use escrow_crypto::*;
use escrow_proto::v1 as pb;
use escrow_tests::*;
use tonic::Code;

/// Six messages over four days; returns (envelope, in scope of a warrant for alice over
/// days 1 and 2).
async fn traffic(d: &Deployment) -> Vec<(Envelope, bool)> {
    let plan = [
        (0, "alice", &["bob"][..], "monday lunch?", false),
        (1, "bob", &["alice"][..], "sure, noon", true),
        (1, "carol", &["dave"][..], "report is late", false),
        (2, "alice", &["carol", "dave"][..], "did you see it?", true),
        (2, "dave", &["bob"][..], "football tonight", false),
        (3, "alice", &["bob"][..], "running late", false),
    ];
    let mut out = Vec::new();
    for (day, from, to, text, in_scope) in plan {
        let env = d.send(from, to, START + day * DAY + 3_600, text).await.unwrap();
        out.push((env, in_scope));
    }
    out
}

fn item(env: &Envelope) -> pb::EscrowItem {
    pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() }
}

async fn request(d: &Deployment, i: usize, wid: u8, items: Vec<pb::EscrowItem>) -> Result<Vec<Vec<u8>>, tonic::Status> {
    d.agency_client(i)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![wid; 16], items })
        .await
        .map(|r| r.into_inner().shares)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lawful_access_opens_exactly_the_in_scope_messages() {
    let d = deploy_plain(1).await;
    let sent = traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    assert_eq!(d.status(0, 1).await.unwrap().state, pb::WarrantState::Received as i32);
    d.approve(&[0, 2, 4], 1).await.unwrap();

    let agency = d.agency().await.unwrap();
    let report = agency.open(&w, |_| {}).await.unwrap();
    let expected: Vec<&Envelope> = sent.iter().filter(|(_, s)| *s).map(|(e, _)| e).collect();
    assert_eq!(report.exported, expected.len());
    assert_eq!(report.opened.len(), expected.len(), "failed: {:?}", report.failed);
    for (o, e) in report.opened.iter().zip(&expected) {
        assert_eq!(&o.label, e.label());
        let recipient = d.user(e.label().recipients()[0].as_str()).unwrap();
        let truth = e.open(recipient, &d.user(e.label().sender().as_str()).unwrap().public(), &d.keys.public).unwrap();
        assert_eq!(o.plaintext, truth);
    }
    // The two trustees that did not approve refused, naming why.
    assert_eq!(report.trustee_errors.refusing().len(), 2);
    assert!(report.trustee_errors.unreachable().is_empty());
    for (_, errors) in report.trustee_errors.iter() {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, Code::FailedPrecondition);
        assert!(errors[0].message.contains("not approved"), "{}", errors[0].message);
    }
    assert!(report.culprits.is_empty());
    // Each approving trustee recorded exactly the in-scope fields.
    for i in [0, 2, 4] {
        assert_eq!(d.status(i, 1).await.unwrap().fields_released, 2);
    }
    for i in [1, 3] {
        assert_eq!(d.status(i, 1).await.unwrap().fields_released, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvals_open_nothing() {
    let d = deploy_plain(2).await;
    traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(2, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[1, 3], 2).await.unwrap();
    let agency = d.agency().await.unwrap();
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert_eq!(report.exported, 2);
    assert!(report.opened.is_empty());
    assert_eq!(report.failed.len(), 2);
    assert!(
        matches!(
            report.failed[0].1,
            escrow_agency::NotOpened::Combine(Error::NotEnoughShares { valid: 2, needed: 3, .. })
        ),
        "{:?}",
        report.failed
    );
    assert!(report.failed[0].1.to_string().contains("2 valid decryption shares, 3 needed"));
}

/// Asserts a refusal's code and that it names `needle`, then that nothing changed.
async fn refused(d: &Deployment, i: usize, wid: u8, r: Result<Vec<Vec<u8>>, tonic::Status>, code: Code, needle: &str) {
    let s = r.expect_err("should be refused");
    assert_eq!(s.code(), code, "{}", s.message());
    assert!(s.message().contains(needle), "expected {needle:?} in {:?}", s.message());
    assert_eq!(d.status(i, wid).await.unwrap().fields_released, 0, "a refusal released something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_rule_has_its_status_and_changes_nothing() {
    let d = deploy(3, |i, p| {
        if i == 4 {
            p.agency_quota = [(id("agency-2"), 5)].into_iter().collect();
        }
    })
    .await;
    let sent = traffic(&d).await;
    let in_scope = &sent[1].0; // bob -> alice, day 1
    let other_user = &sent[2].0; // carol -> dave, day 1
    let outside_window = &sent[0].0; // alice -> bob, day 0
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(3, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();

    // Not yet approved.
    refused(&d, 0, 3, request(&d, 0, 3, vec![item(in_scope)]).await, Code::FailedPrecondition, "not approved").await;
    d.approve(&[0, 1, 2, 3], 3).await.unwrap();

    // Unknown warrant.
    let s = request(&d, 0, 99, vec![item(in_scope)]).await.unwrap_err();
    assert_eq!(s.code(), Code::NotFound);
    // Wrong target, outside window.
    refused(
        &d,
        0,
        3,
        request(&d, 0, 3, vec![item(other_user)]).await,
        Code::PermissionDenied,
        "item 0: out of scope: no target",
    )
    .await;
    refused(&d, 0, 3, request(&d, 0, 3, vec![item(outside_window)]).await, Code::PermissionDenied, "before the window")
        .await;
    // All or nothing: one bad item refuses the batch, naming its position.
    refused(
        &d,
        0,
        3,
        request(&d, 0, 3, vec![item(in_scope), item(other_user)]).await,
        Code::PermissionDenied,
        "item 1",
    )
    .await;
    // Invalid field: garbage, and a valid field with one bit changed.
    let mut bad = item(in_scope);
    bad.field = vec![1, 2, 3];
    refused(&d, 0, 3, request(&d, 0, 3, vec![bad]).await, Code::InvalidArgument, "malformed escrow field").await;
    let mut flipped = item(in_scope);
    let n = flipped.field.len();
    flipped.field[n - 40] ^= 1;
    let r = request(&d, 0, 3, vec![flipped]).await;
    let s = r.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
    // Relabeled: an out-of-scope field presented under an in-scope label.
    let relabeled = pb::EscrowItem { label: in_scope.label().to_bytes(), field: other_user.field().to_bytes() };
    refused(
        &d,
        0,
        3,
        request(&d, 0, 3, vec![relabeled]).await,
        Code::InvalidArgument,
        "escrow field is invalid for this label",
    )
    .await;
    // No quota: trustee 4's policy gives agency-1 nothing, so it denied on receipt.
    let st = d.status(4, 3).await.unwrap();
    assert_eq!(st.state, pb::WarrantState::Denied as i32);
    assert_eq!(st.decided_by, "policy");
    refused(&d, 4, 3, request(&d, 4, 3, vec![item(in_scope)]).await, Code::FailedPrecondition, "denied").await;

    // Denied by an operator.
    let w5 = d.warrant(5, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w5).await.unwrap();
    d.operator_client(1)
        .unwrap()
        .deny_warrant(pb::DecideWarrantRequest { warrant_id: vec![5; 16], reason: "not proportionate".into() })
        .await
        .unwrap();
    refused(&d, 1, 5, request(&d, 1, 5, vec![item(in_scope)]).await, Code::FailedPrecondition, "denied").await;
    // A denied warrant cannot be approved afterwards.
    let s = d
        .operator_client(1)
        .unwrap()
        .approve_warrant(pb::DecideWarrantRequest { warrant_id: vec![5; 16], reason: String::new() })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);

    // Revoked.
    d.operator_client(2)
        .unwrap()
        .revoke_warrant(pb::DecideWarrantRequest { warrant_id: vec![3; 16], reason: "case closed".into() })
        .await
        .unwrap();
    refused(&d, 2, 3, request(&d, 2, 3, vec![item(in_scope)]).await, Code::FailedPrecondition, "revoked").await;

    // The good request works on trustee 0 and is counted once even if repeated.
    assert_eq!(request(&d, 0, 3, vec![item(in_scope)]).await.unwrap().len(), 1);
    assert_eq!(request(&d, 0, 3, vec![item(in_scope), item(in_scope)]).await.unwrap().len(), 2);
    assert_eq!(d.status(0, 3).await.unwrap().fields_released, 1);

    // Expired: the clock passes valid_until.
    d.clock.set(START + 40 * DAY).unwrap();
    assert_eq!(d.status(3, 3).await.unwrap().state, pb::WarrantState::Expired as i32);
    refused(&d, 3, 3, request(&d, 3, 3, vec![item(in_scope)]).await, Code::FailedPrecondition, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_untrusted_expired_and_overbroad_warrants_are_refused_at_submission() {
    let d = deploy_plain(4).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let genuine = d.warrant(6, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    let submit = |w: Vec<u8>| {
        let mut c = d.agency_client(0).unwrap();
        async move { c.submit_warrant(pb::SubmitWarrantRequest { warrant: w }).await }
    };
    let mut forged = genuine.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    assert_eq!(submit(forged).await.unwrap_err().code(), Code::PermissionDenied);
    let mut rng = rng(9);
    let rogue = CourtSecretKey::generate(id("high-court"), &mut rng);
    let untrusted = rogue
        .sign(&WarrantBody {
            id: WarrantId([7; 16]),
            case_reference: "X".into(),
            court: id("high-court"),
            agency: id("agency-1"),
            targets: vec![id("alice")],
            window: TimeWindow::new(START, START + DAY).unwrap(),
            issued_at: START,
            valid_until: START + 30 * DAY,
            legal_basis: String::new(),
            notification_delay_secs: 0,
        })
        .unwrap();
    let s = submit(untrusted).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
    assert!(s.message().contains("no trusted court key"), "{}", s.message());
    // None of the refused submissions was stored.
    let stored =
        d.agency_client(0).unwrap().list_warrants(pb::ListWarrantsRequest { state: 0 }).await.unwrap().into_inner();
    assert!(stored.warrants.is_empty(), "{:?}", stored.warrants.len());
    assert_eq!(submit(vec![0, 1, 2]).await.unwrap_err().code(), Code::InvalidArgument);
    // Expired on arrival: nothing is stored.
    let old = d.warrant(8, &["alice"], START, START + DAY).unwrap();
    d.clock.set(START + 40 * DAY).unwrap();
    assert_eq!(submit(old).await.unwrap_err().code(), Code::FailedPrecondition);
    assert_eq!(
        d.agency_client(0)
            .unwrap()
            .get_warrant(pb::GetWarrantRequest { warrant_id: vec![8; 16] })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // Window longer than this trustee's policy allows (7 days): stored, denied by policy.
    let wide = d.warrant(9, &["alice"], START, START + 30 * DAY).unwrap();
    let st = submit(wide).await.unwrap().into_inner();
    assert_eq!(st.state, pb::WarrantState::Denied as i32);
    assert!(st.reason.contains("exceeds"), "{}", st.reason);
    // Resubmitting the same bytes is idempotent.
    let st2 = submit(d.warrant(9, &["alice"], START, START + 30 * DAY).unwrap()).await.unwrap().into_inner();
    assert_eq!(st2.state, st.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_exhaustion_refuses_the_whole_batch() {
    let mut d = deploy_plain(5).await;
    // Tighten trustee 0 only: restart it with a 2-field warrant maximum.
    let mut policy = d.trustees[0].policy.clone();
    policy.max_fields_per_warrant = 2;
    d.restart_trustee_with(0, policy).await.unwrap();
    let sent = traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(10, &["alice"], START, START + 4 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0], 10).await.unwrap();
    let alice: Vec<pb::EscrowItem> =
        sent.iter().filter(|(e, _)| e.label().involves(&id("alice"))).map(|(e, _)| item(e)).collect();
    assert_eq!(alice.len(), 4);
    refused(&d, 0, 10, request(&d, 0, 10, alice.clone()).await, Code::ResourceExhausted, "warrant quota").await;
    assert_eq!(request(&d, 0, 10, alice[..2].to_vec()).await.unwrap().len(), 2);
    let s = request(&d, 0, 10, alice[2..3].to_vec()).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert_eq!(d.status(0, 10).await.unwrap().fields_released, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_trustee_keeps_its_warrants_and_approvals() {
    let mut d = deploy_plain(6).await;
    traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(11, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1], 11).await.unwrap();
    // Trustee 1 goes down and comes back on a new port with the same data dir.
    d.trustees[1].server.stop().await;
    d.restart_trustee(1).await.unwrap();
    let st = d.status(1, 11).await.unwrap();
    assert_eq!(st.state, pb::WarrantState::Approved as i32);
    assert_eq!(st.decided_by, "op-1");
    d.approve(&[2], 11).await.unwrap();
    let agency = d.agency().await.unwrap();
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?}", report.failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trustee_sending_bad_shares_is_named_and_the_honest_quorum_still_opens() {
    let mut d = deploy_plain(7).await;
    traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(12, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3], 12).await.unwrap();
    // Trustee 0 is replaced by a byzantine proxy that corrupts every share it relays.
    let honest = d.trustees[0].server.addr.to_string();
    let proxy = escrow_tests::byzantine::start(honest, 0).await;
    let mut addrs = d.trustee_addrs();
    addrs[0] = proxy.addr.to_string();
    let agency = escrow_agency::Agency::connect(&d.relay.addr.to_string(), &addrs, &agency_creds()).await.unwrap();
    // By default the liar is named if its answer came before three honest ones did;
    // either way the honest quorum opens everything.
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?}", report.failed);
    assert!(
        report.culprits.get("trustee-0") == Some(&2) || report.not_needed.contains_key("trustee-0"),
        "{:?} {:?}",
        report.culprits,
        report.not_needed
    );
    // Checking every trustee, it is always named.
    let report = agency.check_every_trustee(Duration::from_secs(30)).open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 2, "{:?}", report.failed);
    assert_eq!(report.culprits, BTreeMap::from([("trustee-0".to_string(), 2)]));
    d.trustees[0].server.stop().await;
}

/// A trustee that is down is reported as unreachable, apart from those that refused,
/// with each distinct error: one down before the agency connects (named by address),
/// one stopped after (named by id), and one that answered but had not approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_tells_unreachable_trustees_from_refusing_ones() {
    let mut d = deploy_plain(11).await;
    traffic(&d).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START + DAY, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 2, 3], 1).await.unwrap();
    let early = d.trustees[1].server.addr.to_string();
    d.trustees[1].server.stop().await;
    let agency = d.agency().await.unwrap();
    d.trustees[3].server.stop().await;

    let report = agency.open(&w, |_| {}).await.unwrap();
    assert!(report.opened.is_empty(), "two approving trustees cannot open");
    let unreachable = report.trustee_errors.unreachable();
    assert_eq!(unreachable.len(), 2, "{:?}", report.trustee_errors);
    assert!(unreachable.contains(&early.as_str()), "{unreachable:?} vs {early}");
    assert!(unreachable.contains(&"trustee-3"), "{unreachable:?}");
    assert_eq!(report.trustee_errors.refusing(), vec!["trustee-4"]);
    for (who, errors) in report.trustee_errors.iter() {
        for e in errors {
            match e.failure {
                escrow_agency::TrusteeFailure::Unreachable => assert_eq!(e.code, Code::Unavailable, "{who}: {e:?}"),
                escrow_agency::TrusteeFailure::Refused => {
                    assert_eq!(e.code, Code::FailedPrecondition, "{who}: {e:?}");
                    assert!(e.message.contains("not approved"), "{who}: {e:?}");
                }
                // No witnesses in this deployment: nothing waits for one.
                escrow_agency::TrusteeFailure::NotYetWitnessed => panic!("{who}: {e:?}"),
            }
        }
    }
}
