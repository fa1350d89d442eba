//! What trying the system from outside found (log flooding, an existence leak, a
//! trustee serving another's share, two processes on one directory, a failed start
//! leaving state, reflection listing or describing services not served, quota windows
//! that disagreed, malformed warrants reported as untrusted, a body that is not
//! Protobuf answered as a server fault), each with the behaviour that replaced it.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::*;
use escrow_log::event::{Entry, Event};
use escrow_pki::Role;
use escrow_proto::v1 as pb;
use escrow_tests::*;
use escrow_trustee::policy::{quota_window_start, Policy, QUOTA_PERIOD_SECS};
use escrow_trustee::store::{ReleaseLimits, Released, Store, StoreError};
use escrow_trustee::{EpochKeys, StartError, Trustee};
use std::sync::Arc;
use tonic::Code;

/// A policy that lets the floods below through the rate limiter, so that what is
/// measured is what reaches the log.
fn generous(_: u16, p: &mut Policy) {
    p.rate_limit = escrow_service::ratelimit::RateLimit { per_second: 10_000.0, burst: 10_000 };
}

fn agency2(d: &Deployment, i: usize) -> pb::trustee_client::TrusteeClient<tonic::transport::Channel> {
    trustee_client_at(&d.trustees[i].server.addr.to_string(), &creds(Role::Agency, "agency-2"))
}

fn share_request(wid: Vec<u8>, item: &pb::EscrowItem) -> pb::RequestSharesRequest {
    pb::RequestSharesRequest { warrant_id: wid, items: vec![item.clone()] }
}

/// One of alice's messages, and warrant 1 (agency-1's) covering it, submitted to the
/// trustees `at` and approved at trustee-0.
async fn approved_item(d: &Deployment, at: &[usize]) -> pb::EscrowItem {
    let env = d.send("alice", &["bob"], START + DAY, "one").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    for &i in at {
        d.agency_client(i).unwrap().submit_warrant(pb::SubmitWarrantRequest { warrant: w.clone() }).await.unwrap();
    }
    d.approve(&[0], 1).await.unwrap();
    pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_under_warrants_the_caller_does_not_hold_adds_one_attributed_entry_per_window() {
    let d = deploy(90, generous).await;
    let item = approved_item(&d, &[0, 1, 2, 3, 4]).await;
    let before = log_entries(&d, 0).await.len();
    let before_1 = log_entries(&d, 1).await.len();
    // 200 random warrant ids, one malformed id, and agency-1's own warrant: none of
    // them agency-2's.
    let mut c = agency2(&d, 0);
    let mut refused = 0u32;
    for k in 0..200u32 {
        let mut wid = [0u8; 16];
        wid[..4].copy_from_slice(&k.to_be_bytes());
        wid[15] = 0xee;
        let s = c.request_shares(share_request(wid.to_vec(), &item)).await.unwrap_err();
        assert_eq!(s.code(), Code::NotFound, "{}", s.message());
        refused += 1;
    }
    let s = c.request_shares(share_request(vec![1, 2, 3, 4, 5], &item)).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
    let s = c.request_shares(share_request(vec![1; 16], &item)).await.unwrap_err();
    assert_eq!(s.code(), Code::NotFound, "{}", s.message());
    refused += 2;
    // Nothing in the log yet: noise is counted, not logged one by one (before the fix
    // each of these 202 refusals was an entry of its own, naming nobody).
    assert_eq!(log_entries(&d, 0).await.len(), before, "noise reached the log");

    // The window closes; the next refusal logs the sum, attributed, and opens a new window.
    d.clock.set(d.clock.now() + escrow_trustee::refusals::WINDOW_SECS).unwrap();
    let _ = c.request_shares(share_request(vec![9; 16], &item)).await.unwrap_err();
    let after = log_entries(&d, 0).await;
    // One entry per code for the whole window: unknown-warrant (unknown and others' ids) and
    // malformed (the malformed id).
    let summaries: Vec<(String, u32)> = after[before..]
        .iter()
        .map(|e| match &e.event {
            Event::RequestsRefused { caller, warrant_id: None, code, count, first, last, .. } => {
                assert_eq!(caller, "escrow:role/agency/agency-2");
                assert!(first <= last);
                (code.to_string(), *count)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(summaries, vec![("malformed".to_string(), 1), ("unknown-warrant".to_string(), refused - 1)]);
    // The other trustees saw nothing and logged nothing.
    assert_eq!(log_entries(&d, 1).await.len(), before_1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_under_a_held_warrant_are_logged_at_once_then_summed() {
    let d = deploy(91, generous).await;
    let _ = approved_item(&d, &[0, 1, 2, 3, 4]).await;
    // Bob's message is outside warrant 1 (alice only): an over-reach, which is evidence.
    let env = d.send("carol", &["bob"], START + DAY, "not alice's").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let out_of_scope = pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() };
    let before = log_entries(&d, 0).await.len();
    for _ in 0..50 {
        let s =
            d.agency_client(0).unwrap().request_shares(share_request(vec![1; 16], &out_of_scope)).await.unwrap_err();
        assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
    }
    let now = log_entries(&d, 0).await;
    assert_eq!(now.len(), before + 1, "the first refusal is logged at once, the repeats counted");
    match &now[before].event {
        Event::RequestsRefused { caller, warrant_id: Some(w), count: 1, rule, code, .. } => {
            assert_eq!(caller, "escrow:role/agency/agency-1");
            assert_eq!(w, &[1; 16]);
            assert_eq!(code, "out-of-scope");
            assert!(rule.contains("scope"), "{rule}");
        }
        other => panic!("{other:?}"),
    }
    d.clock.set(d.clock.now() + escrow_trustee::refusals::WINDOW_SECS).unwrap();
    let _ = d.agency_client(0).unwrap().request_shares(share_request(vec![1; 16], &out_of_scope)).await.unwrap_err();
    let counts: Vec<u32> = log_entries(&d, 0).await[before..]
        .iter()
        .map(|e| match e.event {
            Event::RequestsRefused { count, .. } => count,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(counts, vec![1, 49, 1], "first, the window's repeats, the next window's first");
}

/// Asking again for fields already released returns the same shares and writes
/// nothing: 20 repeats of one request add no entry (each added one before), and a
/// request mixing a released field with a new one logs only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_release_returns_the_same_share_and_adds_no_entry() {
    let d = deploy(93, generous).await;
    let item = approved_item(&d, &[0]).await;
    let first = d.agency_client(0).unwrap().request_shares(share_request(vec![1; 16], &item)).await.unwrap();
    let before = log_entries(&d, 0).await.len();
    for _ in 0..20 {
        let again = d.agency_client(0).unwrap().request_shares(share_request(vec![1; 16], &item)).await.unwrap();
        assert_eq!(again.get_ref().shares, first.get_ref().shares);
    }
    assert_eq!(log_entries(&d, 0).await.len(), before, "repeated releases grew the log");
    assert_eq!(d.status(0, 1).await.unwrap().fields_released, 1);

    let env = d.send("alice", &["bob"], START + DAY + 60, "two").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let second = pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() };
    let req = pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item.clone(), second.clone()] };
    let both = d.agency_client(0).unwrap().request_shares(req).await.unwrap();
    assert_eq!(both.get_ref().shares.first(), first.get_ref().shares.first());
    let log = log_entries(&d, 0).await;
    assert_eq!(log.len(), before + 1);
    let new_field = env.field().fingerprint();
    match &log[before].event {
        Event::SharesReleased { fields, .. } => assert_eq!(fields, &vec![new_field]),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.status(0, 1).await.unwrap().fields_released, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_is_rate_limited_on_every_rpc_and_others_are_not() {
    let d = deploy(92, |i, p| {
        if i == 0 {
            p.rate_limit = escrow_service::ratelimit::RateLimit { per_second: 0.5, burst: 5 };
        }
    })
    .await;
    let before = log_entries(&d, 0).await.len();
    let mut c = agency2(&d, 0);
    for _ in 0..5 {
        c.get_info(pb::GetInfoRequest {}).await.unwrap();
    }
    let s = c.get_info(pb::GetInfoRequest {}).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{}", s.message());
    assert!(s.message().contains("agency agency-2 is over its request rate; retry in"), "{}", s.message());
    let wait: u64 = s.metadata().get("retry-after-ms").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=2000).contains(&wait), "{wait}");
    // Every RPC spends from the same bucket, share requests too, and nothing is logged.
    let s = c.request_shares(share_request(vec![3; 16], &pb::EscrowItem::default())).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted);
    // Another caller, and the same caller at another trustee, are unaffected.
    d.agency_client(0).unwrap().get_info(pb::GetInfoRequest {}).await.unwrap();
    agency2(&d, 1).get_info(pb::GetInfoRequest {}).await.unwrap();
    assert_eq!(log_entries(&d, 0).await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_warrant_is_answered_exactly_as_an_unknown_one() {
    let d = deploy_plain(93).await;
    // Warrant 1 is at trustees 0-3, not at trustee 4.
    let item = approved_item(&d, &[0, 1, 2, 3]).await;
    let held = agency2(&d, 0).request_shares(share_request(vec![1; 16], &item)).await.unwrap_err();
    let unknown = agency2(&d, 4).request_shares(share_request(vec![1; 16], &item)).await.unwrap_err();
    assert_eq!((held.code(), held.message()), (unknown.code(), unknown.message()));
    assert_eq!(held.code(), Code::NotFound);
    assert!(!held.message().contains("agency-1"), "{}", held.message());
    let held = agency2(&d, 0).get_warrant(pb::GetWarrantRequest { warrant_id: vec![1; 16] }).await.unwrap_err();
    let unknown = agency2(&d, 4).get_warrant(pb::GetWarrantRequest { warrant_id: vec![1; 16] }).await.unwrap_err();
    assert_eq!((held.code(), held.message()), (unknown.code(), unknown.message()));
    assert_eq!(held.code(), Code::NotFound);
    // The owner still gets its answers.
    d.agency_client(0).unwrap().request_shares(share_request(vec![1; 16], &item)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_warrant_is_malformed_not_untrusted() {
    let d = deploy_plain(94).await;
    let w = d.warrant(5, &["alice"], START, START + DAY).unwrap();
    for cut in [1, 10, w.len() / 2, w.len() - 66] {
        let s = d
            .agency_client(0)
            .unwrap()
            .submit_warrant(pb::SubmitWarrantRequest { warrant: w[..w.len() - cut].to_vec() })
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "cut {cut}: {}", s.message());
    }
    // Cut short by 2 bytes or to 100 bytes, the answer says truncated, not a signature
    // rule the bytes that happen to be last break.
    for blob in [&w[..w.len() - 2], &w[..100]] {
        let s = d
            .agency_client(0)
            .unwrap()
            .submit_warrant(pb::SubmitWarrantRequest { warrant: blob.to_vec() })
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{} bytes: {}", blob.len(), s.message());
        assert!(s.message().contains("malformed warrant: truncated at "), "{} bytes: {}", blob.len(), s.message());
        assert!(!s.message().contains("signature:"), "{}", s.message());
    }
    // A well-formed warrant with a broken signature is still untrusted.
    let mut bad = w.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let s = d.agency_client(0).unwrap().submit_warrant(pb::SubmitWarrantRequest { warrant: bad }).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{}", s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_only_the_services_a_server_runs() {
    let d = deploy_plain(95).await;
    let list = |addr: String| async move {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::{server_reflection_request::MessageRequest, ServerReflectionRequest};
        let ch = escrow_service::transport::channel(&addr, &auditor_creds(), Role::Trustee).unwrap();
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(ch)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        match resp.message_response {
            Some(MessageResponse::ListServicesResponse(l)) => {
                let mut names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
                names.sort();
                names
            }
            other => panic!("{other:?}"),
        }
    };
    let common =
        ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
    let mut want: Vec<String> = common
        .iter()
        .chain(&["escrow.v1.Audit", "escrow.v1.Ceremony", "escrow.v1.Trustee"])
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(list(d.trustees[0].server.addr.to_string()).await, want);
    // The relay's certificate carries the relay's server name.
    let relay = {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::{server_reflection_request::MessageRequest, ServerReflectionRequest};
        let ch = escrow_service::transport::channel(&d.relay.addr.to_string(), &auditor_creds(), Role::Relay).unwrap();
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(ch)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        match stream.message().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(l)) => {
                let mut n: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
                n.sort();
                n
            }
            other => panic!("{other:?}"),
        }
    };
    let mut want: Vec<String> = common.iter().chain(&["escrow.v1.Relay"]).map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(relay, want);
}

/// Trustee `i`'s service over `dir` with `share`, as a start would build it.
fn start_with(
    dir: &std::path::Path,
    keys: &DealerOutput,
    i: u16,
    share: usize,
    key_index: Option<u16>,
) -> Result<Trustee, StartError> {
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(7));
    let mut policy = default_policy(i, &court.public());
    policy.key_index = key_index;
    let share = TrusteeKeyShare::from_bytes(&keys.shares[share].to_bytes()).unwrap();
    let store = Store::open(dir, &origin(i), log_signer(i)).map_err(StartError::Store)?;
    Trustee::new(
        policy,
        vec![EpochKeys { public: keys.public.clone(), share }],
        store,
        Arc::new(escrow_service::clock::ManualClock::at(START)),
    )
}

fn log_rows(dir: &std::path::Path) -> usize {
    escrow_trustee::tamper::log_entries(dir).unwrap().len()
}

#[test]
fn a_trustee_refuses_another_trustees_share() {
    let keys = dealer_keygen(EpochId(1), T, N, &mut rng(96)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // trustee-4 installs its own share (index 4)...
    drop(start_with(dir.path(), &keys, 4, 4, None).unwrap());
    let rows = log_rows(dir.path());
    // ...and is then started with trustee-3's file: refused, nothing written.
    match start_with(dir.path(), &keys, 4, 3, None) {
        Err(StartError::Store(StoreError::WrongShareIndex { epoch: 1, installed: 4, given: 3 })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(log_rows(dir.path()), rows);
    // On a new data directory, a policy that pins key_index catches it too.
    let fresh = tempfile::tempdir().unwrap();
    let err = start_with(fresh.path(), &keys, 4, 3, Some(4)).unwrap_err();
    assert!(matches!(err, StartError::WrongKeyIndex { epoch: 1, share: 3, policy: 4 }), "{err:?}");
    assert!(err.to_string().contains("index 3, but the policy says this trustee is index 4"), "{err}");
    assert_eq!(log_rows(fresh.path()), 0);
    start_with(fresh.path(), &keys, 4, 4, Some(4)).unwrap();
}

#[test]
fn one_process_per_data_directory() {
    let keys = dealer_keygen(EpochId(1), T, N, &mut rng(97)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = start_with(dir.path(), &keys, 0, 0, None).unwrap();
    let err = start_with(dir.path(), &keys, 0, 0, None).unwrap_err();
    assert!(err.to_string().contains(&format!("is in use by another process (pid {})", std::process::id())), "{err}");
    drop(first);
    start_with(dir.path(), &keys, 0, 0, None).unwrap();
}

/// A warrant of agency-1 received at `at`, valid 60 days, for the quota-edge tests.
fn long_warrant(court: &CourtSecretKey, wid: u8, at: u64) -> VerifiedWarrant {
    let blob = court
        .sign(&WarrantBody {
            id: WarrantId([wid; 16]),
            case_reference: String::new(),
            court: id("high-court"),
            agency: id("agency-1"),
            targets: vec![id("alice")],
            window: TimeWindow::new(at - DAY, at).unwrap(),
            issued_at: at,
            valid_until: at + 60 * DAY,
            legal_basis: "test".into(),
            notification_delay_secs: 0,
        })
        .unwrap();
    VerifiedWarrant::verify(&blob, &court.public()).unwrap()
}

fn received(w: &VerifiedWarrant, at: u64) -> Entry {
    Entry {
        time: at,
        event: Event::WarrantReceived {
            warrant_id: w.id().0,
            court: "high-court".into(),
            agency: "agency-1".into(),
            window_from: w.body().window.from(),
            window_to: w.body().window.to(),
            valid_until: w.body().valid_until,
            reveal_at: w.body().valid_until,
            details_commitment: [0; 32],
            arrival: escrow_log::event::Arrival::ApprovedByPolicy,
            reason: Default::default(),
        },
    }
}

/// Both quotas count an event at exactly `quota_window_start(now)` and not one a
/// second older: one rule, at the exact edge.
#[test]
fn both_quota_windows_include_the_same_edge() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path(), &origin(0), log_signer(0)).unwrap();
    let court = CourtSecretKey::generate(id("high-court"), &mut rng(98));
    let t0 = START + 40 * DAY;
    let w = long_warrant(&court, 1, t0);
    store
        .insert_warrant(&w, escrow_trustee::state::State::Approved, t0, Some("policy"), None, [0; 32], received(&w, t0))
        .unwrap();
    let released = |k: u8| Released { hash: [k; 32], label: vec![k], field: vec![k] };
    let limits =
        ReleaseLimits { max_fields_per_warrant: 100, agency_quota: 1, unit: escrow_trustee::rules::Unit::Fields };
    store.record_releases(&w, &[released(1)], t0, limits).unwrap().unwrap();

    let edge = t0 + QUOTA_PERIOD_SECS;
    assert_eq!(quota_window_start(edge), t0);
    // At the edge, both the warrant and the release still count...
    assert_eq!(store.warrants_received_since("agency-1", quota_window_start(edge)).unwrap(), 1);
    assert!(store.record_releases(&w, &[released(2)], edge, limits).unwrap().is_err());
    // ...and one second later neither does.
    assert_eq!(store.warrants_received_since("agency-1", quota_window_start(edge + 1)).unwrap(), 0);
    store.record_releases(&w, &[released(2)], edge + 1, limits).unwrap().unwrap();
}

/// A data directory's log is tied to the origin and log key it was first written
/// with, but only once it has an entry: a start refused before any entry (say, for a
/// wrong share) leaves a database that a later start with another, fresh log key
/// still takes; once written, another key or origin is refused, naming both.
#[test]
fn a_log_is_tied_to_its_key_from_its_first_entry() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = || escrow_log::CheckpointSigner::generate(&origin(0), &mut rng(99)).unwrap();
    let other = escrow_log::CheckpointSigner::generate(&origin(0), &mut rng(100)).unwrap();
    drop(Store::open(dir.path(), &origin(0), other).unwrap());
    let mut store = Store::open(dir.path(), &origin(0), fresh()).unwrap();
    store.log(Entry { time: START, event: Event::EpochDestroyed { epoch: 1 } }).unwrap();
    drop(store);
    drop(Store::open(dir.path(), &origin(0), fresh()).unwrap());
    for (o, signer) in [(origin(0), log_signer(0)), (origin(1), fresh())] {
        let err = Store::open(dir.path(), &o, signer).unwrap_err();
        assert!(matches!(err, StoreError::NotThisLog { .. }), "{err}");
        assert!(err.to_string().contains(&format!("but the trustee was started as {o} with the log key")), "{err}");
    }
}

/// A codec that sends its bytes as they are and reads the answer's bytes back: a
/// client that speaks gRPC's framing but not the RPC's message.
#[derive(Clone, Copy, Default)]
struct RawBytes;

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;
    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }
    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

/// `body` sent as the request of the unary RPC at `path`.
async fn raw_call(ch: tonic::transport::Channel, path: &'static str, body: &[u8]) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body.to_vec()), path, RawBytes).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_protobuf_is_invalid_argument_and_changes_nothing() {
    let d = deploy_plain(98).await;
    // Field 0 with wire type 7: no Protobuf message starts so.
    let garbage = b"\x07 this is not protobuf".as_slice();
    let addr = d.trustees[0].server.addr.to_string();
    let trustee = escrow_service::transport::channel(&addr, &agency_creds(), Role::Trustee).unwrap();
    let before = log_rows(&d.trustees[0].dir);
    for path in ["/escrow.v1.Trustee/GetInfo", "/escrow.v1.Trustee/SubmitWarrant"] {
        let s = raw_call(trustee.clone(), path, garbage).await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{path}: {}", s.message());
        assert!(s.message().starts_with("malformed request: failed to decode Protobuf message"), "{}", s.message());
        assert_eq!(s.metadata().get("escrow-rule").unwrap(), "malformed");
    }
    assert_eq!(log_rows(&d.trustees[0].dir), before);
    // An empty body, a valid GetInfoRequest, still gets its answer.
    assert!(!raw_call(trustee, "/escrow.v1.Trustee/GetInfo", b"").await.unwrap().is_empty());
    // The relay, and the health service that needs no certificate, answer alike.
    let relay = escrow_service::transport::channel(&d.relay.addr.to_string(), &agency_creds(), Role::Relay).unwrap();
    let s = raw_call(relay.clone(), "/escrow.v1.Relay/GetEpochKey", garbage).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
    let s = raw_call(relay, "/grpc.health.v1.Health/Check", garbage).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{}", s.message());
}

/// What reflection's `describe` (file containing `symbol`) answers at `addr`: the
/// services in the files it returns, or the code of its refusal.
async fn describe(addr: &str, role: Role, symbol: &str) -> Result<Vec<String>, Code> {
    use prost::Message;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{server_reflection_request::MessageRequest, ServerReflectionRequest};
    let ch = escrow_service::transport::channel(addr, &auditor_creds(), role).unwrap();
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut stream = ServerReflectionClient::new(ch)
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let answer = stream.message().await.map_err(|s| s.code())?;
    match answer.unwrap().message_response {
        Some(MessageResponse::FileDescriptorResponse(f)) => Ok(f
            .file_descriptor_proto
            .iter()
            .flat_map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap().service)
            .map(|s| s.name().to_string())
            .collect()),
        Some(MessageResponse::ErrorResponse(e)) => Err(Code::from_i32(e.error_code)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_describes_only_the_services_a_server_runs() {
    let d = deploy_plain(99).await;
    let not_found = Code::NotFound;
    let trustee = d.trustees[0].server.addr.to_string();
    let relay = d.relay.addr.to_string();
    for (addr, role, runs, not_run) in [
        (&trustee, Role::Trustee, &["Trustee", "Audit", "Ceremony"][..], &["Relay"][..]),
        (&relay, Role::Relay, &["Relay"][..], &["Trustee", "Audit", "Ceremony"][..]),
    ] {
        for s in runs {
            let services = describe(addr, role, &format!("escrow.v1.{s}")).await.unwrap();
            assert!(services.iter().any(|n| n == s), "{s} at {role:?}: {services:?}");
        }
        for s in not_run {
            // Neither the service nor one of its methods.
            assert_eq!(describe(addr, role, &format!("escrow.v1.{s}")).await, Err(not_found), "{s} at {role:?}");
        }
        assert_eq!(describe(addr, role, "grpc.health.v1.Health").await.unwrap(), ["Health"]);
    }
    assert_eq!(describe(&trustee, Role::Trustee, "escrow.v1.Relay.Send").await, Err(not_found));
    assert_eq!(describe(&relay, Role::Relay, "escrow.v1.Trustee.SubmitWarrant").await, Err(not_found));
    // A message type of a file whose service is not run is still described, service-less.
    assert_eq!(describe(&trustee, Role::Trustee, "escrow.v1.SendRequest").await.unwrap(), Vec::<String>::new());
}
