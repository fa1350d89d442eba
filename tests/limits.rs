//! The limits of docs/security.md: message size, items per request, warrants per agency
//! per period, request deadlines. Each refusal names the limit and changes nothing.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_pki::Role;
use escrow_proto::v1 as pb;
use escrow_service::transport::MAX_MESSAGE_BYTES;
use escrow_tests::*;
use tonic::Code;

/// Rows in trustee `i`'s log.
fn log_size(d: &Deployment, i: usize) -> usize {
    escrow_trustee::tamper::log_entries(&d.trustees[i].dir).unwrap().len()
}

/// One message of alice's and warrant 1 for it, approved at trustee-0: the item.
async fn approved_item(d: &Deployment) -> pb::EscrowItem {
    let env = d.send("alice", &["bob"], START + DAY, "one").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0], 1).await.unwrap();
    pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_size_limit_are_refused_before_decoding() {
    let d = deploy_plain(80).await;
    let big = vec![0u8; MAX_MESSAGE_BYTES + 1];
    // Clients that would send it (the harness' clients refuse to encode it at all).
    let mut trustee = trustee_client_at(&d.trustees[0].server.addr.to_string(), &agency_creds())
        .max_encoding_message_size(2 * MAX_MESSAGE_BYTES);
    let before = log_size(&d, 0);
    let s = trustee.submit_warrant(pb::SubmitWarrantRequest { warrant: big.clone() }).await.unwrap_err();
    // tonic's code for an oversize message (gRPC's C core says RESOURCE_EXHAUSTED).
    assert_eq!(s.code(), Code::OutOfRange, "{}", s.message());
    assert!(s.message().contains(&MAX_MESSAGE_BYTES.to_string()), "{}", s.message());
    assert_eq!(log_size(&d, 0), before);
    let listed = d.operator_client(0).unwrap().list_warrants(pb::ListWarrantsRequest { state: 0 }).await.unwrap();
    assert!(listed.into_inner().warrants.is_empty());

    let mut relay = relay_client_at(&d.relay.addr.to_string(), &creds(Role::User, "alice"))
        .max_encoding_message_size(2 * MAX_MESSAGE_BYTES);
    let s = relay.send(pb::SendRequest { envelope: big }).await.unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{}", s.message());
    // Just under the transport limit the relay's own envelope bound answers.
    let s = relay.send(pb::SendRequest { envelope: vec![0u8; MAX_MESSAGE_BYTES - 64] }).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
    assert!(s.message().contains("at most"), "{}", s.message());
    // The connection still works after both refusals.
    relay.get_epoch_key(pb::GetEpochKeyRequest {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_items_in_one_request_are_refused_and_logged_without_release() {
    let d = deploy_plain(81).await;
    let item = approved_item(&d).await;
    // The test policy allows 500 per request.
    let before = log_size(&d, 0);
    let s = d
        .agency_client(0)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item.clone(); 501] })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);
    assert!(s.message().contains("501 items, at most 500"), "{}", s.message());
    assert_eq!(d.status(0, 1).await.unwrap().fields_released, 0);
    // The refusal is logged (one entry), nothing else.
    assert_eq!(log_size(&d, 0), before + 1);
    let ok = d
        .agency_client(0)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item; 500] })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().shares.len(), 500);
    assert_eq!(d.status(0, 1).await.unwrap().fields_released, 1, "500 copies of one field are one field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_may_submit_only_so_many_warrants_per_period() {
    let d = deploy(82, |i, p| {
        if i == 0 {
            p.max_warrants_per_agency = 2;
        }
    })
    .await;
    let submit = |wid: u8| {
        let w = d.warrant(wid, &["alice"], START, START + DAY).unwrap();
        let mut c = d.agency_client(0).unwrap();
        async move { c.submit_warrant(pb::SubmitWarrantRequest { warrant: w }).await }
    };
    submit(1).await.unwrap();
    submit(2).await.unwrap();
    let before = log_size(&d, 0);
    let s = submit(3).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert!(s.message().contains("at most 2"), "{}", s.message());
    assert_eq!(log_size(&d, 0), before, "a refused submission is not stored or logged");
    assert_eq!(
        d.agency_client(0)
            .unwrap()
            .get_warrant(pb::GetWarrantRequest { warrant_id: vec![3; 16] })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // Re-submitting an already stored warrant is not a new one.
    submit(2).await.unwrap();
    // Other trustees have their own policy.
    d.agency_client(1)
        .unwrap()
        .submit_warrant(pb::SubmitWarrantRequest { warrant: d.warrant(3, &["alice"], START, START + DAY).unwrap() })
        .await
        .unwrap();
    // The period rolls: 30 days later the agency may submit again.
    d.clock.set(START + 31 * DAY).unwrap();
    submit(4).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_cancelled_and_releases_nothing() {
    let d = deploy_plain(83).await;
    let item = approved_item(&d).await;
    // 500 pairing checks take far longer than a 5 ms deadline; the server enforces the
    // client's grpc-timeout (or its own 120 s, whichever is shorter).
    let mut req =
        tonic::Request::new(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item.clone(); 500] });
    req.set_timeout(std::time::Duration::from_millis(5));
    let before = log_size(&d, 0);
    let s = d.agency_client(0).unwrap().request_shares(req).await.unwrap_err();
    assert_eq!(s.code(), Code::Cancelled, "{}", s.message());
    assert!(s.message().contains("Timeout expired"), "{}", s.message());
    // Give the abandoned checks time to finish: still nothing released or logged.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(d.status(0, 1).await.unwrap().fields_released, 0);
    assert_eq!(log_size(&d, 0), before);
    // With a generous deadline the same request succeeds.
    let mut req = tonic::Request::new(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item; 500] });
    req.set_timeout(std::time::Duration::from_secs(60));
    assert_eq!(d.agency_client(0).unwrap().request_shares(req).await.unwrap().into_inner().shares.len(), 500);
}
