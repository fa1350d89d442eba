//! The trustee's tamper-evident log, as an auditor sees it over the Audit service.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::*;
use escrow_log::event::{details_commitment, Arrival, Decision, Entry, Event};
use escrow_log::{leaf_hash, verify_consistency, verify_inclusion, CheckpointVerifier, Hash, MerkleTree};
use escrow_proto::v1 as pb;
use escrow_tests::*;
use pb::audit_client::AuditClient;
use tonic::transport::Channel;

fn audit(d: &Deployment, i: usize) -> AuditClient<Channel> {
    d.audit_client(i).unwrap()
}

async fn checkpoint(d: &Deployment, i: usize) -> (escrow_log::Checkpoint, String) {
    let r = audit(d, i).get_checkpoint(pb::GetCheckpointRequest {}).await.unwrap().into_inner();
    let verifier: CheckpointVerifier = r.verifier_key.parse().unwrap();
    assert_eq!(verifier.to_string(), log_signer(i as u16).verifier().to_string());
    (verifier.verify_for_origin(r.checkpoint.as_bytes(), &origin(i as u16)).unwrap(), r.checkpoint)
}

async fn entries(d: &Deployment, i: usize, size: u64) -> Vec<Vec<u8>> {
    audit(d, i).get_entries(pb::GetEntriesRequest { start: 0, end: size }).await.unwrap().into_inner().entries
}

fn hashes(p: pb::ProofResponse) -> Vec<Hash> {
    p.hashes.iter().map(|h| <Hash>::try_from(h.as_slice()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_is_logged_and_the_log_verifies() {
    let d = deploy_plain(30).await;
    let (cp0, _) = checkpoint(&d, 0).await;
    assert_eq!(cp0.size(), 1, "epoch installation is the first entry");
    let env = d.send("bob", &["alice"], START + DAY, "in scope").await.unwrap();
    let other = d.send("carol", &["dave"], START + DAY, "out of scope").await.unwrap();
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(40, &["alice"], START, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0], 40).await.unwrap();
    let item = |e: &Envelope| pb::EscrowItem { label: e.label().to_bytes(), field: e.field().to_bytes() };
    let mut c = d.agency_client(0).unwrap();
    c.request_shares(pb::RequestSharesRequest { warrant_id: vec![40; 16], items: vec![item(&env)] }).await.unwrap();
    let refused = c
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![40; 16], items: vec![item(&other)] })
        .await
        .unwrap_err();

    let (cp, _) = checkpoint(&d, 0).await;
    assert_eq!(cp.size(), 5);
    let raw = entries(&d, 0, cp.size()).await;
    // The root recomputed from the entries is the signed one.
    let tree = MerkleTree::from_leaf_hashes(raw.iter().map(|e| leaf_hash(e)));
    assert_eq!(&tree.root(cp.size()).unwrap(), cp.root());
    let decoded: Vec<Entry> = raw.iter().map(|e| Entry::from_bytes(e).unwrap()).collect();
    assert!(matches!(decoded[0].event, Event::EpochInstalled { epoch: 1, trustee_index: 0, .. }));
    match &decoded[1].event {
        Event::WarrantReceived { warrant_id, agency, arrival, details_commitment: c, .. } => {
            assert_eq!(warrant_id, &[40; 16]);
            assert_eq!(agency, "agency-1");
            assert_eq!(*arrival, Arrival::Received);
            assert_ne!(c, &[0u8; 32]);
        }
        e => panic!("{e:?}"),
    }
    // Targets and case reference are not in the log, only committed to.
    assert!(!raw[1].windows(5).any(|w| w == b"alice"));
    assert!(!raw[1].windows(7).any(|w| w == b"TEST/40"));
    assert!(
        matches!(&decoded[2].event, Event::WarrantDecided { decision: Decision::Approve, operator, .. } if operator == "op-0")
    );
    match &decoded[3].event {
        Event::SharesReleased { fields, .. } => assert_eq!(fields, &vec![env.field().fingerprint()]),
        e => panic!("{e:?}"),
    }
    match &decoded[4].event {
        Event::RequestsRefused { caller, warrant_id, code, rule, count, first, last } => {
            assert_eq!(caller, "escrow:role/agency/agency-1");
            assert_eq!(warrant_id, &Some([40; 16]));
            // The refusal's code, the rule the agency was told.
            assert_eq!(code, "out-of-scope");
            assert_eq!(escrow_service::metrics::rule_of(&refused), Some("out-of-scope"));
            assert_eq!(rule, refused.message());
            assert_eq!((*count, first), (1, last));
        }
        e => panic!("{e:?}"),
    }

    // Inclusion of every entry, consistency with the first checkpoint.
    for (i, e) in raw.iter().enumerate() {
        let p = audit(&d, 0)
            .get_inclusion_proof(pb::GetInclusionProofRequest { index: i as u64, tree_size: cp.size() })
            .await
            .unwrap()
            .into_inner();
        verify_inclusion(&leaf_hash(e), i as u64, cp.size(), &hashes(p), cp.root()).unwrap();
    }
    let p = audit(&d, 0)
        .get_consistency_proof(pb::GetConsistencyProofRequest { first: cp0.size(), second: cp.size() })
        .await
        .unwrap()
        .into_inner();
    verify_consistency(cp0.size(), cp.size(), cp0.root(), cp.root(), &hashes(p)).unwrap();
    // Out-of-range requests are refused.
    let s = audit(&d, 0).get_entries(pb::GetEntriesRequest { start: 0, end: 99 }).await.unwrap_err();
    assert_eq!(s.code(), tonic::Code::OutOfRange);
    let s =
        audit(&d, 0).get_inclusion_proof(pb::GetInclusionProofRequest { index: 9, tree_size: 5 }).await.unwrap_err();
    assert_eq!(s.code(), tonic::Code::OutOfRange);

    // The sealed details open only after valid_until + notification delay.
    let s =
        audit(&d, 0).get_details_opening(pb::GetDetailsOpeningRequest { warrant_id: vec![40; 16] }).await.unwrap_err();
    assert_eq!(s.code(), tonic::Code::FailedPrecondition);
    d.clock.set(START + 4 * DAY + 30 * DAY + 90 * DAY).unwrap();
    let o = audit(&d, 0)
        .get_details_opening(pb::GetDetailsOpeningRequest { warrant_id: vec![40; 16] })
        .await
        .unwrap()
        .into_inner();
    let nonce: [u8; 32] = o.nonce.as_slice().try_into().unwrap();
    let Event::WarrantReceived { details_commitment: c, .. } = &decoded[1].event else { unreachable!() };
    assert_eq!(&details_commitment(&nonce, &o.warrant), c);
    assert_eq!(o.warrant, w);
    // A different opening does not match the commitment.
    assert_ne!(&details_commitment(&[0u8; 32], &o.warrant), c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_survives_a_restart_and_stays_consistent() {
    let mut d = deploy_plain(31).await;
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(41, &["alice"], START, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    let (before, _) = checkpoint(&d, 1).await;
    d.trustees[1].server.stop().await;
    d.restart_trustee(1).await.unwrap();
    let (after, _) = checkpoint(&d, 1).await;
    assert_eq!(after.size(), before.size(), "a restart appends nothing (the epoch is already installed)");
    assert_eq!(after.root(), before.root());
    d.approve(&[1], 41).await.unwrap();
    let (later, _) = checkpoint(&d, 1).await;
    assert_eq!(later.size(), before.size() + 1);
    let p = audit(&d, 1)
        .get_consistency_proof(pb::GetConsistencyProofRequest { first: before.size(), second: later.size() })
        .await
        .unwrap()
        .into_inner();
    verify_consistency(before.size(), later.size(), before.root(), later.root(), &hashes(p)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_no_effect() {
    // If the trustee cannot append to its log, the action fails and nothing changes:
    // break the log table from outside and try to approve and to release.
    let d = deploy_plain(32).await;
    let env = d.send("bob", &["alice"], START + DAY, "in scope").await.unwrap();
    d.clock.set(START + 4 * DAY).unwrap();
    let w = d.warrant(42, &["alice"], START, START + 3 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[2], 42).await.unwrap();
    escrow_trustee::tamper::break_log_writes(&d.trustees[0].dir).unwrap();
    let s = d
        .operator_client(0)
        .unwrap()
        .approve_warrant(pb::DecideWarrantRequest { warrant_id: vec![42; 16], reason: String::new() })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::Internal);
    assert_eq!(d.status(0, 42).await.unwrap().state, pb::WarrantState::Received as i32);
    // Trustee 2 approved earlier; break its log too, then ask for a share.
    escrow_trustee::tamper::break_log_writes(&d.trustees[2].dir).unwrap();
    let item = pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() };
    let s = d
        .agency_client(2)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![42; 16], items: vec![item.clone()] })
        .await
        .unwrap_err();
    assert_eq!(s.code(), tonic::Code::Internal);
    assert_eq!(d.status(2, 42).await.unwrap().fields_released, 0);
    // Repaired, it works.
    escrow_trustee::tamper::repair_log_writes(&d.trustees[2].dir).unwrap();
    let ok = d
        .agency_client(2)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![42; 16], items: vec![item] })
        .await
        .unwrap();
    assert_eq!(ok.into_inner().shares.len(), 1);
}

#[test]
fn destroying_an_epoch_is_logged_and_cannot_be_undone() {
    use escrow_service::clock::ManualClock;
    use escrow_trustee::store::{Store, StoreError};
    use escrow_trustee::{EpochKeys, StartError, Trustee};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let mut r = rng(33);
    let keys = dealer_keygen(EpochId(1), 1, 3, &mut r).unwrap();
    let court = CourtSecretKey::generate(id("high-court"), &mut r);
    let policy = || default_policy(0, &court.public());
    let epoch1 = || {
        vec![EpochKeys {
            public: keys.public.clone(),
            share: TrusteeKeyShare::from_bytes(&keys.shares[0].to_bytes()).unwrap(),
        }]
    };
    let clock = || Arc::new(ManualClock::at(START));
    let store = || Store::open(dir.path(), &origin(0), log_signer(0)).unwrap();

    drop(Trustee::new(policy(), epoch1(), store(), clock()).unwrap());
    // Restarted without the share: the destruction is logged.
    drop(Trustee::new(policy(), vec![], store(), clock()).unwrap());
    let s = store();
    let entries: Vec<Entry> =
        s.entries(0, s.log_size()).unwrap().iter().map(|e| Entry::from_bytes(e).unwrap()).collect();
    assert!(matches!(entries[0].event, Event::EpochInstalled { epoch: 1, .. }));
    assert!(matches!(entries[1].event, Event::EpochDestroyed { epoch: 1 }));
    assert_eq!(entries.len(), 2);
    drop(s);
    // Loading the destroyed epoch's share again is refused, and nothing is logged.
    match Trustee::new(policy(), epoch1(), store(), clock()) {
        Err(StartError::Store(StoreError::EpochDestroyed(1))) => {}
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    assert_eq!(store().log_size(), 2);
}

#[test]
fn a_trustee_refuses_to_start_over_an_edited_log() {
    use escrow_trustee::store::{Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), &origin(0), log_signer(0)).unwrap();
    let entries: Vec<Entry> =
        (0..3).map(|i| Entry { time: START + i, event: Event::EpochDestroyed { epoch: i } }).collect();
    s.log_batch(&entries).unwrap();
    drop(s);
    let forged = Entry { time: START, event: Event::EpochDestroyed { epoch: 9 } }.to_bytes().unwrap();
    escrow_trustee::tamper::rewrite_log_entry(dir.path(), 1, &forged).unwrap();
    match Store::open(dir.path(), &origin(0), log_signer(0)) {
        Err(StoreError::Corrupt(what)) => assert!(what.contains("leaf hash"), "{what}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
