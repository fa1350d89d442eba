//! Key ceremonies among real trustee servers over mutual TLS: the operators propose,
//! accept and execute through the Ceremony service, the trustees carry the messages
//! peer to peer, log every step and install the key set in their databases.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::sealed::{open, Unlock};
use escrow_crypto::*;
use escrow_kit::{CeremonySpec, KeyGen};
use escrow_log::event::{CeremonyStep, Entry, Event};
use escrow_proto::v1 as pb;
use escrow_tests::*;

const PHASE_MS: u32 = 700;

fn options(seed: u64, n: u16, t: u16, keygen: KeyGen) -> Options {
    Options {
        name: "ceremony".into(),
        n,
        t,
        seed: Some(seed),
        pki: Some(pki()),
        keygen,
        ceremony_phase_ms: PHASE_MS,
        ..Options::default()
    }
}

fn spec(epoch: u64, t: u16, players: std::ops::Range<usize>) -> CeremonySpec {
    CeremonySpec {
        epoch: EpochId(epoch),
        threshold: t,
        players: players.collect(),
        dealers: Vec::new(),
        reshare: false,
        proposer: 0,
        valid_from: START,
        destroy_at: START + 365 * DAY,
        phase_ms: PHASE_MS,
        modes: escrow_crypto::Modes::PER_MESSAGE,
    }
}

fn ceremony_steps(log: &[Entry]) -> Vec<CeremonyStep> {
    log.iter()
        .filter_map(|e| match &e.event {
            Event::Ceremony { step, .. } => Some(step.clone()),
            _ => None,
        })
        .collect()
}

/// Trustee `i`'s share of `epoch` as a thief copying its database and its data
/// directory's key would take it.
fn stolen_share(d: &Deployment, i: usize, epoch: u64) -> TrusteeKeyShare {
    let rows = escrow_trustee::tamper::ceremony_shares(&d.trustees[i].dir).unwrap();
    let (_, _, sealed) = rows.iter().find(|(e, _, _)| *e == epoch).unwrap();
    let key = d.seal_keys[i].to_bytes();
    TrusteeKeyShare::from_bytes(&open(sealed, &Unlock::KeyFile(&key)).unwrap()).unwrap()
}

fn sealed_to(key: &EpochPublicKey, seed: u64) -> Envelope {
    let mut r = rng(seed);
    let alice = UserSecretKey::generate(id("alice"), &mut r);
    let bob = UserSecretKey::generate(id("bob"), &mut r);
    Envelope::seal(
        &SealRequest {
            sender: &alice,
            recipients: &[bob.public()],
            epoch_key: key,
            message_id: [seed as u8; 16],
            timestamp: START,
            plaintext: b"ceremony",
        },
        &mut r,
    )
    .unwrap()
}

fn opens(key: &EpochPublicKey, shares: &[&TrusteeKeyShare], env: &Envelope) -> bool {
    let ds: Vec<DecryptionShare> =
        shares.iter().map(|s| s.decrypt_share(key, env.field(), env.label()).unwrap()).collect();
    key.combine(env.field(), env.label(), &ds).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trustees_make_epoch_1_themselves_and_exactly_t_plus_one_of_them_open_it() {
    let d = Deployment::start(options(120, 5, 2, KeyGen::Ceremony)).await.unwrap();
    assert!(d.keys.shares.is_empty(), "no process of the kit saw a share");
    // Every trustee serves the same announcement, signed by all five under the pins.
    let mut served = Vec::new();
    for i in 0..5 {
        let mut c = escrow_service::transport::ceremony_client(&d.trustee_addrs()[i], &auditor_creds()).unwrap();
        let a = c.get_announcement(pb::GetAnnouncementRequest { epoch: 1 }).await.unwrap().into_inner().announcement;
        served.push(a);
    }
    assert!(served.iter().all(|a| a == &served[0]));
    let v = SignedAnnouncement::from_bytes(&served[0]).unwrap().verify(&d.pins).unwrap();
    assert_eq!(v.key_set(), &d.keys.public);
    assert_eq!((v.key_set().n(), v.key_set().threshold()), (5, 2));
    // A message sealed to it opens under a warrant approved by three trustees...
    d.send("alice", &["bob"], START + DAY, "hello epoch 1").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3, 4], 1).await.unwrap();
    // ...with any three trustees, and with no two.
    let addrs = d.trustee_addrs();
    for (size, opens) in [(3, true), (2, false)] {
        for set in (0u32..32).filter(|m| m.count_ones() == size) {
            let chosen: Vec<String> = (0..5).filter(|i| set & (1 << i) != 0).map(|i| addrs[i].clone()).collect();
            let agency =
                escrow_agency::Agency::connect(&d.relay.addr.to_string(), &chosen, &agency_creds()).await.unwrap();
            let report = agency.open(&w, |_| {}).await.unwrap();
            assert_eq!(report.opened.len() == 1, opens, "trustees {chosen:?}: {:?}", report.failed);
        }
    }
    // Every trustee logged the whole ceremony, ending with its installation.
    for i in 0..5 {
        let steps = ceremony_steps(&log_entries(&d, i).await);
        assert!(matches!(steps.first(), Some(CeremonyStep::Proposed { epoch: 1, threshold: 2, players: 5, .. })));
        assert_eq!(steps.iter().filter(|s| matches!(s, CeremonyStep::Dealt { .. })).count(), 5);
        assert_eq!(steps.iter().filter(|s| matches!(s, CeremonyStep::Agreed { .. })).count(), 5);
        assert!(matches!(steps.last(), Some(CeremonyStep::Installed { epoch: 1, generation: 0, .. })));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cheating_dealer_is_resolved_the_same_way_at_every_trustee() {
    let mut d = deploy_plain(121).await;
    // trustee-1 sends trustee-3 a share that does not decrypt.
    d.trustee_mut(1).unwrap().misbehave.cheat_on = Some(id("trustee-3"));
    d.restart_trustee(1).await.unwrap();
    let out = d.ceremony(&spec(2, 2, 0..5)).await.unwrap();
    let a = out.announcement.unwrap_or_else(|| panic!("{:#?}", out.statuses));
    for i in 0..5 {
        let steps = ceremony_steps(&log_entries(&d, i).await);
        assert!(
            steps.contains(&CeremonyStep::Complained {
                by: "trustee-3".into(),
                against: "trustee-1".into(),
                grievance: 2
            }),
            "trustee-{i}: {steps:?}"
        );
        assert!(steps.contains(&CeremonyStep::Justified { dealer: "trustee-1".into(), player: "trustee-3".into() }));
        assert!(!steps.iter().any(|s| matches!(s, CeremonyStep::Disqualified { .. })));
    }
    // trustee-3's share, built from the revealed one, works with the others.
    let key = a.key_set().clone();
    let env = sealed_to(&key, 3);
    let (s3, s0, s4) = (stolen_share(&d, 3, 2), stolen_share(&d, 0, 2), stolen_share(&d, 4, 2));
    assert!(opens(&key, &[&s3, &s0, &s4], &env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trustee_that_withholds_its_agreement_aborts_the_ceremony_and_nothing_is_installed() {
    let mut d = deploy_plain(122).await;
    d.trustee_mut(4).unwrap().misbehave.withhold_agreement = true;
    d.restart_trustee(4).await.unwrap();
    let out = d.ceremony(&spec(2, 2, 0..5)).await.unwrap();
    assert!(out.announcement.is_none());
    for (i, s) in out.statuses.iter().enumerate() {
        assert_eq!(s.phase, "aborted", "trustee-{i}: {s:?}");
        assert!(s.announcement.is_empty(), "trustee-{i} installed");
        assert!(s.abort_reason.contains("trustee-4"), "trustee-{i}: {}", s.abort_reason);
    }
    for i in 0..5 {
        assert!(escrow_trustee::tamper::ceremony_shares(&d.trustees[i].dir).unwrap().is_empty());
        let mut c = escrow_service::transport::ceremony_client(&d.trustee_addrs()[i], &auditor_creds()).unwrap();
        let e = c.get_announcement(pb::GetAnnouncementRequest { epoch: 2 }).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert!(matches!(ceremony_steps(&log_entries(&d, i).await).last(), Some(CeremonyStep::Aborted { .. })));
    }
}

/// trustee-0's operator proposes a fresh epoch 2 among all five trustees (t = 2) and
/// leaves the rest to the test; the ceremony id.
async fn propose_epoch_2(d: &Deployment) -> Vec<u8> {
    let players: Vec<pb::Participant> = (0..5)
        .map(|i| pb::Participant { trustee_id: format!("trustee-{i}"), addr: d.trustee_addrs()[i].clone() })
        .collect();
    let req = pb::ProposeRequest {
        epoch: 2,
        threshold: 2,
        players,
        dealers: vec![],
        reshare: false,
        valid_from: START,
        destroy_at: START + 365 * DAY,
        accept_timeout_ms: 30_000,
        phase_timeout_ms: PHASE_MS,
        day_mode: false,
    };
    d.ceremony_client(0).unwrap().propose(req).await.unwrap().into_inner().ceremony_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trustee_killed_mid_ceremony_aborts_it_and_a_rerun_succeeds() {
    let mut d = deploy_plain(123).await;
    let id = propose_epoch_2(&d).await;
    let r = || pb::CeremonyRef { ceremony_id: id.clone(), reason: String::new() };
    for i in 1..5 {
        loop {
            let s = d.ceremony_client(i).unwrap().status(r()).await;
            if s.is_ok_and(|s| s.into_inner().phase == "proposed") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        d.ceremony_client(i).unwrap().accept(r()).await.unwrap();
    }
    loop {
        if d.ceremony_client(0).unwrap().status(r()).await.unwrap().into_inner().phase == "ready" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // trustee-2 dies just before the proposer executes.
    d.trustees[2].server.stop().await;
    d.ceremony_client(0).unwrap().execute(r()).await.unwrap();
    for i in [0, 1, 3, 4] {
        let end = loop {
            let s = d.ceremony_client(i).unwrap().status(r()).await.unwrap().into_inner();
            if s.phase == "installed" || s.phase == "aborted" {
                break s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(end.phase, "aborted", "trustee-{i}: {end:?}");
    }
    // Restarted, trustee-2 ends the ceremony it was in (logged); a new one succeeds.
    d.restart_trustee(2).await.unwrap();
    let out = d.ceremony(&spec(2, 2, 0..5)).await.unwrap();
    assert!(out.announcement.is_some(), "{:#?}", out.statuses);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharing_5_with_t2_to_7_with_t3_keeps_the_key_and_a_stolen_old_share_is_useless() {
    let d = Deployment::start(options(124, 7, 2, KeyGen::Dealer)).await.unwrap();
    // Epoch 2 among trustees 0..5 first.
    let first = d.ceremony(&spec(2, 2, 0..5)).await.unwrap().announcement.unwrap();
    let old_key = first.key_set().clone();
    let old0 = stolen_share(&d, 0, 2);
    // Then moved to all seven with t = 3.
    let mut s = spec(2, 3, 0..7);
    s.reshare = true;
    let moved = d.ceremony(&s).await.unwrap();
    let new = moved.announcement.unwrap_or_else(|| panic!("{:#?}", moved.statuses));
    let new_key = new.key_set().clone();
    assert_eq!(new.announcement().generation, 1);
    assert_eq!((new_key.n(), new_key.threshold()), (7, 3));
    assert_eq!(new_key.public_key_bytes(), old_key.public_key_bytes(), "the public key is kept");
    let shares: Vec<TrusteeKeyShare> = (0..7).map(|i| stolen_share(&d, i, 2)).collect();
    let env = sealed_to(&old_key, 24);
    assert!(opens(&new_key, &[&shares[6], &shares[5], &shares[1], &shares[0]], &env));
    assert!(!opens(&new_key, &[&shares[6], &shares[5], &shares[1]], &env));
    // The old share is refused by the new key set and does not combine with new ones.
    assert!(old0.check_against(&new_key).is_err());
    let ds = vec![
        old0.decrypt_share(&old_key, env.field(), env.label()).unwrap(),
        shares[1].decrypt_share(&new_key, env.field(), env.label()).unwrap(),
        shares[2].decrypt_share(&new_key, env.field(), env.label()).unwrap(),
        shares[3].decrypt_share(&new_key, env.field(), env.label()).unwrap(),
    ];
    assert!(matches!(new_key.combine(env.field(), env.label(), &ds), Err(Error::NotEnoughShares { valid: 3, .. })));
    // Every trustee serves the new announcement.
    let mut c = escrow_service::transport::ceremony_client(&d.trustee_addrs()[6], &auditor_creds()).unwrap();
    let served = c.get_announcement(pb::GetAnnouncementRequest { epoch: 2 }).await.unwrap().into_inner().announcement;
    assert_eq!(SignedAnnouncement::from_bytes(&served).unwrap().verify(&d.pins).unwrap(), new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_drive_a_ceremony_and_only_peers_deliver() {
    let d = deploy_plain(125).await;
    let addr = d.trustee_addrs()[0].clone();
    let as_agency = escrow_service::transport::ceremony_client(&addr, &agency_creds()).unwrap();
    let propose = pb::ProposeRequest { epoch: 2, threshold: 1, ..Default::default() };
    let e = as_agency.clone().propose(propose.clone()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    // Another trustee's operator may not drive this one.
    let other_op = escrow_service::transport::ceremony_client(&addr, &operator_creds(1)).unwrap();
    assert_eq!(other_op.clone().propose(propose).await.unwrap_err().code(), tonic::Code::PermissionDenied);
    // A message signed as trustee-2 delivered by trustee-1 is refused.
    let key2 = d.trustee_keys[2].clone();
    let msg = escrow_crypto::dkg::messages::SignedMessage::sign(
        &key2,
        &[1; 16],
        &escrow_crypto::dkg::messages::Body::Abort { proposal: [0; 32], reason: "x".into() },
    )
    .unwrap();
    let as_t1 =
        escrow_service::transport::ceremony_client(&addr, &creds(escrow_pki::Role::Trustee, "trustee-1")).unwrap();
    let e = as_t1
        .clone()
        .deliver(pb::DeliverRequest { message: msg.as_bytes().to_vec(), peers: vec![], waited_ms: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    // From trustee-2 itself, but for no ceremony: not found, nothing logged.
    let before = log_entries(&d, 0).await.len();
    let as_t2 =
        escrow_service::transport::ceremony_client(&addr, &creds(escrow_pki::Role::Trustee, "trustee-2")).unwrap();
    let e = as_t2
        .clone()
        .deliver(pb::DeliverRequest { message: msg.as_bytes().to_vec(), peers: vec![], waited_ms: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    // Garbage: invalid argument.
    let e = as_t2
        .clone()
        .deliver(pb::DeliverRequest { message: vec![1, 2, 3], peers: vec![], waited_ms: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(log_entries(&d, 0).await.len(), before);
}

/// A relay that serves its own epoch key with whatever announcement it likes, and
/// forwards everything else to the honest relay.
struct SubstitutingRelay {
    honest: pb::relay_client::RelayClient<tonic::transport::Channel>,
    key: Vec<u8>,
    announcement: Vec<u8>,
}

#[tonic::async_trait]
impl pb::relay_server::Relay for SubstitutingRelay {
    async fn register_user(
        &self,
        r: tonic::Request<pb::RegisterUserRequest>,
    ) -> Result<tonic::Response<pb::RegisterUserResponse>, tonic::Status> {
        self.honest.clone().register_user(r.into_inner()).await
    }
    async fn get_user(
        &self,
        r: tonic::Request<pb::GetUserRequest>,
    ) -> Result<tonic::Response<pb::GetUserResponse>, tonic::Status> {
        self.honest.clone().get_user(r.into_inner()).await
    }
    async fn get_epoch_key(
        &self,
        _: tonic::Request<pb::GetEpochKeyRequest>,
    ) -> Result<tonic::Response<pb::GetEpochKeyResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::GetEpochKeyResponse {
            epoch_public_key: self.key.clone(),
            announcement: self.announcement.clone(),
        }))
    }
    async fn send(
        &self,
        r: tonic::Request<pb::SendRequest>,
    ) -> Result<tonic::Response<pb::SendResponse>, tonic::Status> {
        self.honest.clone().send(r.into_inner()).await
    }
    async fn fetch_inbox(
        &self,
        r: tonic::Request<pb::FetchInboxRequest>,
    ) -> Result<tonic::Response<pb::FetchInboxResponse>, tonic::Status> {
        self.honest.clone().fetch_inbox(r.into_inner()).await
    }
    async fn export(
        &self,
        r: tonic::Request<pb::ExportRequest>,
    ) -> Result<tonic::Response<pb::ExportResponse>, tonic::Status> {
        self.honest.clone().export(r.into_inner()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_substitutes_its_own_key_is_caught_by_every_client_that_trusts_the_trustees() {
    let d = Deployment::start(options(126, 5, 2, KeyGen::Ceremony)).await.unwrap();
    let real = d.announcement.clone().unwrap();
    // The honest relay serves the announced key with its announcement.
    let mut honest_user =
        escrow_user::UserClient::connect(&d.relay.addr.to_string(), &creds(escrow_pki::Role::User, "alice")).unwrap();
    honest_user.trust_trustees(d.pins.clone());
    assert_eq!(honest_user.epoch_key().await.unwrap(), d.keys.public);

    // The relay's own key set for the same epoch, and an announcement of it signed by
    // keys it made up under the trustees' names.
    let own = dealer_keygen(EpochId(1), 2, 5, &mut rng(9)).unwrap().public;
    let fakes: Vec<TrusteeSigningKey> =
        (0..5).map(|i| TrusteeSigningKey::generate(id(&format!("trustee-{i}")), &mut rng(100 + i))).collect();
    let body = Announcement {
        key_set: own.clone(),
        generation: 0,
        holders: fakes.iter().map(|k| k.trustee().clone()).collect(),
        valid_from: START,
        destroy_at: START + DAY,
        transcript: [0; 32],
        modes: escrow_crypto::Modes::PER_MESSAGE,
    }
    .to_bytes()
    .unwrap();
    let forged = SignedAnnouncement::new(
        body.clone(),
        fakes
            .iter()
            .map(|k| (k.trustee().clone(), k.sign(escrow_crypto::announce::ANNOUNCEMENT_SIG_DST, &body)))
            .collect(),
    );
    // Its own announcement signed by the real trustee keys, but one short (trustee-4
    // did not sign), or with trustee-4's signature made by a key it made up.
    let sign = |keys: &[&TrusteeSigningKey]| {
        let signatures = keys
            .iter()
            .map(|k| (k.trustee().clone(), k.sign(escrow_crypto::announce::ANNOUNCEMENT_SIG_DST, &body)))
            .collect();
        SignedAnnouncement::new(body.clone(), signatures).to_bytes()
    };
    let real_keys: Vec<&TrusteeSigningKey> = d.world.trustee_keys.iter().collect();
    let under_signed = sign(real_keys.get(..4).unwrap());
    let mut wrong = real_keys.get(..4).unwrap().to_vec();
    wrong.push(fakes.get(4).unwrap());
    let wrongly_signed = sign(&wrong);
    // Control: all five real signatures would pass, so the two cases above fail for the
    // reason they name.
    assert!(SignedAnnouncement::from_bytes(&sign(&real_keys)).unwrap().verify(&d.pins).is_ok());
    let honest = relay_client_at(&d.relay.addr.to_string(), &creds(escrow_pki::Role::User, "alice"));
    for (case, announcement) in [
        ("no announcement", Vec::new()),
        ("the real announcement, of another key", real.signed().to_bytes()),
        ("its own announcement, signed by keys it made up", forged.to_bytes()),
        ("its own announcement, under-signed by the trustees", under_signed),
        ("its own announcement, one signature made up", wrongly_signed),
        ("garbage", vec![1, 2, 3]),
    ] {
        let liar = SubstitutingRelay { honest: honest.clone(), key: own.to_bytes(), announcement };
        let me = creds(escrow_pki::Role::Relay, "relay");
        let mut node = Node::serve("substituting relay", |l, s| async move {
            let routes = tonic::service::Routes::new(pb::relay_server::RelayServer::new(liar));
            escrow_service::transport::serve(
                l,
                routes,
                &[],
                &me,
                None,
                escrow_pki::access::Server::default(),
                &escrow_service::metrics::Metrics::new(|_| {}),
                s,
            )
            .await
        })
        .await
        .unwrap();
        let mut user =
            escrow_user::UserClient::connect(&node.addr.to_string(), &creds(escrow_pki::Role::User, "alice")).unwrap();
        user.trust_trustees(d.pins.clone());
        let e = user.epoch_key().await.unwrap_err();
        assert!(matches!(e, escrow_user::UserError::Unannounced { .. }), "{case}: {e}");
        let e = user.send(d.user("alice").unwrap(), &[id("bob")], b"x", START, &mut rng(1)).await.unwrap_err();
        assert!(matches!(e, escrow_user::UserError::Unannounced { .. }), "{case}: {e}");
        node.stop().await;
    }
    // A relay started with an announcement of another key set refuses to start.
    let wrong = escrow_relay::RelayConfig {
        epoch_key: own,
        ..escrow_relay::RelayConfig::announced(d.relay_dir.join("x"), real, vec![], d.clock.shared())
    };
    assert!(escrow_relay::RelayService::open(wrong).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_that_trusts_the_trustees_refuses_an_unannounced_key() {
    // A dealt key (weak mode) comes with no announcement: an agency with pinned trustee
    // keys refuses its epoch and opens nothing of it.
    let d = deploy_plain(127).await;
    d.send("alice", &["bob"], START + DAY, "dealt").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2], 1).await.unwrap();
    let agency = escrow_agency::Agency::connect_with(
        &d.relay.addr.to_string(),
        &d.trustee_addrs(),
        &agency_creds(),
        Some(&d.pins),
    )
    .await
    .unwrap();
    assert_eq!(agency.unannounced.len(), 1, "{:?}", agency.unannounced);
    assert_eq!(agency.unannounced[0].0, EpochId(1));
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert!(report.opened.is_empty());
    assert!(matches!(report.failed[0].1, escrow_agency::NotOpened::NoEpochKey(EpochId(1))));
    // With a ceremony's key set it opens.
    let d = Deployment::start(options(128, 5, 2, KeyGen::Ceremony)).await.unwrap();
    d.send("alice", &["bob"], START + DAY, "announced").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2], 1).await.unwrap();
    let report = d.agency().await.unwrap().open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 1, "{:?}", report.failed);
}

/// A trustee front that answers GetInfo with the honest trustee's info but its own
/// announcements, and forwards everything else.
struct SubstitutingTrustee {
    honest: pb::trustee_client::TrusteeClient<tonic::transport::Channel>,
    announcements: Vec<Vec<u8>>,
}

#[tonic::async_trait]
impl pb::trustee_server::Trustee for SubstitutingTrustee {
    async fn get_info(
        &self,
        r: tonic::Request<pb::GetInfoRequest>,
    ) -> Result<tonic::Response<pb::TrusteeInfo>, tonic::Status> {
        let mut info = self.honest.clone().get_info(r.into_inner()).await?.into_inner();
        info.announcements = self.announcements.clone();
        Ok(tonic::Response::new(info))
    }
    async fn submit_warrant(
        &self,
        r: tonic::Request<pb::SubmitWarrantRequest>,
    ) -> Result<tonic::Response<pb::WarrantStatus>, tonic::Status> {
        self.honest.clone().submit_warrant(r.into_inner()).await
    }
    async fn get_warrant(
        &self,
        r: tonic::Request<pb::GetWarrantRequest>,
    ) -> Result<tonic::Response<pb::WarrantStatus>, tonic::Status> {
        self.honest.clone().get_warrant(r.into_inner()).await
    }
    async fn list_warrants(
        &self,
        r: tonic::Request<pb::ListWarrantsRequest>,
    ) -> Result<tonic::Response<pb::ListWarrantsResponse>, tonic::Status> {
        self.honest.clone().list_warrants(r.into_inner()).await
    }
    async fn approve_warrant(
        &self,
        r: tonic::Request<pb::DecideWarrantRequest>,
    ) -> Result<tonic::Response<pb::WarrantStatus>, tonic::Status> {
        self.honest.clone().approve_warrant(r.into_inner()).await
    }
    async fn deny_warrant(
        &self,
        r: tonic::Request<pb::DecideWarrantRequest>,
    ) -> Result<tonic::Response<pb::WarrantStatus>, tonic::Status> {
        self.honest.clone().deny_warrant(r.into_inner()).await
    }
    async fn revoke_warrant(
        &self,
        r: tonic::Request<pb::DecideWarrantRequest>,
    ) -> Result<tonic::Response<pb::WarrantStatus>, tonic::Status> {
        self.honest.clone().revoke_warrant(r.into_inner()).await
    }
    async fn request_shares(
        &self,
        r: tonic::Request<pb::RequestSharesRequest>,
    ) -> Result<tonic::Response<pb::RequestSharesResponse>, tonic::Status> {
        self.honest.clone().request_shares(r.into_inner()).await
    }
    async fn extract_day_keys(
        &self,
        r: tonic::Request<pb::ExtractDayKeysRequest>,
    ) -> Result<tonic::Response<pb::ExtractDayKeysResponse>, tonic::Status> {
        self.honest.clone().extract_day_keys(r.into_inner()).await
    }
}

/// The agency believes a trustee-served epoch key only under an announcement every
/// holder signed: every trustee serving an under-signed, wrongly signed or mismatched
/// announcement leaves the epoch unannounced; the real one (control) does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_refuses_an_epoch_key_whose_announcements_are_under_or_wrongly_signed() {
    let d = Deployment::start(options(130, 5, 2, KeyGen::Ceremony)).await.unwrap();
    let real = d.announcement.clone().unwrap();
    let body = real.signed().body().to_vec();
    let sign = |body: &[u8], keys: &[&TrusteeSigningKey]| {
        let signatures = keys
            .iter()
            .map(|k| (k.trustee().clone(), k.sign(escrow_crypto::announce::ANNOUNCEMENT_SIG_DST, body)))
            .collect();
        SignedAnnouncement::new(body.to_vec(), signatures).to_bytes()
    };
    let keys: Vec<&TrusteeSigningKey> = d.world.trustee_keys.iter().collect();
    let made_up = TrusteeSigningKey::generate(id("trustee-4"), &mut rng(7));
    let mut one_made_up = keys.get(..4).unwrap().to_vec();
    one_made_up.push(&made_up);
    // Another key set for the same epoch, announced and signed by all five real keys:
    // valid, but not the key the trustees serve.
    let other = Announcement {
        key_set: dealer_keygen(EpochId(1), 2, 5, &mut rng(8)).unwrap().public,
        ..real.announcement().clone()
    }
    .to_bytes()
    .unwrap();
    for (case, announcement, announced) in [
        ("the real announcement", real.signed().to_bytes(), true),
        ("none", Vec::new(), false),
        ("under-signed: trustee-4 did not sign", sign(&body, keys.get(..4).unwrap()), false),
        ("trustee-4's signature made up", sign(&body, &one_made_up), false),
        ("another key set's announcement", sign(&other, &keys), false),
    ] {
        let mut fronts = Vec::new();
        for (i, addr) in d.trustee_addrs().iter().enumerate() {
            let front = SubstitutingTrustee {
                honest: trustee_client_at(addr, &agency_creds()),
                announcements: if announcement.is_empty() { vec![] } else { vec![announcement.clone()] },
            };
            let me = creds(escrow_pki::Role::Trustee, &format!("trustee-{i}"));
            fronts.push(
                Node::serve("substituting trustee", |l, s| async move {
                    let routes = tonic::service::Routes::new(pb::trustee_server::TrusteeServer::new(front));
                    escrow_service::transport::serve(
                        l,
                        routes,
                        &[],
                        &me,
                        None,
                        escrow_pki::access::Server {
                            trustee: Some(escrow_crypto::PartyId::new(format!("trustee-{i}")).unwrap()),
                            agency_organisations: Vec::new(),
                        },
                        &escrow_service::metrics::Metrics::new(|_| {}),
                        s,
                    )
                    .await
                })
                .await
                .unwrap(),
            );
        }
        let addrs: Vec<String> = fronts.iter().map(|n| n.addr.to_string()).collect();
        let agency =
            escrow_agency::Agency::connect_with(&d.relay.addr.to_string(), &addrs, &agency_creds(), Some(&d.pins))
                .await
                .unwrap();
        assert!(agency.unreachable.is_empty(), "{case}: {:?}", agency.unreachable);
        if announced {
            assert!(agency.unannounced.is_empty(), "{case}: {:?}", agency.unannounced);
        } else {
            assert_eq!(agency.unannounced.len(), 1, "{case}: {:?}", agency.unannounced);
            assert_eq!(agency.unannounced.first().unwrap().0, EpochId(1), "{case}");
        }
        for mut n in fronts {
            n.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_are_destroyed_on_schedule_and_the_auditor_flags_a_trustee_that_did_not() {
    let mut o = options(129, 5, 2, KeyGen::Ceremony);
    let destroy_at = START + 10 * DAY;
    o.destroy_at = destroy_at;
    let mut d = Deployment::start(o).await.unwrap();
    let env = d.send("alice", &["bob"], START + DAY, "to be destroyed").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(1, &["alice"], START, START + 2 * DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3, 4], 1).await.unwrap();
    // trustee-3 is down when the time comes.
    d.trustees[3].server.stop().await;
    d.clock.set(destroy_at + 1).unwrap();
    // The others destroy on their own, within their check interval, without a request.
    for i in [0, 1, 2, 4] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !escrow_trustee::tamper::ceremony_shares(&d.trustees[i].dir).unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "trustee-{i} kept its share");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let log = log_entries(&d, i).await;
        let destroyed = log.iter().find(|e| e.event == Event::EpochDestroyed { epoch: 1 }).unwrap();
        assert!(destroyed.time >= destroy_at && destroyed.time <= destroy_at + 60, "trustee-{i} at {}", destroyed.time);
        // And it refuses afterwards.
        let item = pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() };
        let e = d
            .agency_client(i)
            .unwrap()
            .request_shares(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item] })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("epoch 1"), "{}", e.message());
    }
    // trustee-3 comes back long after the grace period and destroys late; the auditor
    // names it and only it.
    d.clock.set(destroy_at + escrow_audit::DESTRUCTION_GRACE_SECS + DAY).unwrap();
    d.restart_trustee(3).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !escrow_trustee::tamper::ceremony_shares(&d.trustees[3].dir).unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "trustee-3 kept its share");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let state = tempfile::tempdir().unwrap();
    let now = d.clock.now();
    let audits = escrow_audit::verify(&d.trustee_addrs(), &auditor_creds(), state.path(), now, &[]).await;
    let logs: Vec<_> = audits.into_iter().map(|a| a.result.unwrap()).collect();
    let flags = escrow_audit::destruction_flags(&logs, now);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(matches!(
        &flags[0],
        escrow_audit::Flag::DestructionMissing { trustee, epoch: 1, destroyed: Some(_), .. } if trustee == &origin(3)
    ));
}

/// A trustee started on another trustee's data: trustee-1's `trustee.db` and sealing
/// key copied into a new directory and started as trustee-0 (its policy, signing key
/// and log key, or a fresh log key). The database holds trustee-1's log, so the start
/// is refused, naming both logs. An attacker who also rewrites the recorded log
/// identity meets the holder check: the stored share's index is trustee-1's, not
/// trustee-0's position among the signed announcement's holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trustee_started_on_another_trustee_s_ceremony_share_is_refused() {
    use escrow_trustee::ceremony::CeremonyKeys;
    use escrow_trustee::store::{Store, StoreError};
    use escrow_trustee::{StartError, Trustee};
    let mut d = Deployment::start(options(126, 5, 2, KeyGen::Ceremony)).await.unwrap();
    d.trustee_mut(1).unwrap().server.stop().await;
    let copy = tempfile::tempdir().unwrap();
    let src = d.trustee(1).unwrap().dir.clone();
    for f in ["trustee.db", "trustee.db-wal", "trustee.db-shm"] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), copy.path().join(f)).unwrap();
        }
    }
    let keys = |signer: usize, seal: usize| CeremonyKeys {
        signing: d.trustee_keys[signer].clone(),
        pins: d.pins.clone(),
        seal: d.seal_keys[seal].clone(),
        auto_accept: false,
        misbehave: Default::default(),
    };
    let policy = |i: usize| d.trustee(i).unwrap().policy.clone();

    // Control: the copy starts as trustee-1, with trustee-1's keys.
    let store = Store::open(copy.path(), &origin(1), log_signer(1)).unwrap();
    Trustee::start(policy(1), vec![], store, d.clock.shared(), Some(keys(1, 1))).unwrap();

    // As trustee-0, with trustee-0's log key or a fresh one: another log.
    let fresh = escrow_log::CheckpointSigner::generate(&origin(0), &mut rng(7)).unwrap();
    for signer in [log_signer(0), fresh] {
        let err = Store::open(copy.path(), &origin(0), signer).unwrap_err();
        assert!(matches!(err, StoreError::NotThisLog { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("trustee.db: this database holds the log escrow-trustee/trustee-1 signed by"), "{text}");
        assert!(text.contains("but the trustee was started as escrow-trustee/trustee-0 with the log key"), "{text}");
    }

    // The identity rewritten to trustee-0's: the log opens, the share does not serve.
    let key0 = log_signer(0).verifier().to_string();
    escrow_trustee::tamper::set_log_identity(copy.path(), &origin(0), &key0).unwrap();
    let store = Store::open(copy.path(), &origin(0), log_signer(0)).unwrap();
    let err = Trustee::start(policy(0), vec![], store, d.clock.shared(), Some(keys(0, 1))).unwrap_err();
    assert!(
        matches!(&err, StartError::NotTheHolder { epoch: 1, share: 1, position: Some(0), trustee } if trustee == "trustee-0"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "ceremony epoch 1: the stored share has index 1, but trustee-0 is holder 0 of the signed announcement \
         (another trustee's trustee.db and seal.key?)"
    );
}

/// An operator's abort reason with terminal escapes, a newline and 5,000 bytes is
/// logged all the same, at the trustee that aborted and at the peers it told: cleaned
/// of control characters and cut (escrow_log::Text). Before, such a reason made the
/// Aborted step unloggable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_abort_reason_is_logged_cleaned_and_cut() {
    let d = deploy_plain(127).await;
    let id = propose_epoch_2(&d).await;
    let status = |i: usize| {
        let id = id.clone();
        let d = &d;
        async move {
            d.ceremony_client(i)
                .unwrap()
                .status(pb::CeremonyRef { ceremony_id: id, reason: String::new() })
                .await
                .map(|s| s.into_inner().phase)
        }
    };
    while status(1).await.ok().as_deref() != Some("proposed") {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let hostile = format!("\u{1b}[2J\u{1b}[31m FAKE\nline two\t{}", "x".repeat(5_000));
    assert!(hostile.len() > 5_000);
    d.ceremony_client(0).unwrap().abort(pb::CeremonyRef { ceremony_id: id.clone(), reason: hostile }).await.unwrap();
    for i in [0, 1] {
        let reason = loop {
            let last = ceremony_steps(&log_entries(&d, i).await).pop();
            if let Some(CeremonyStep::Aborted { reason }) = last {
                break reason;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(!reason.chars().any(char::is_control), "trustee-{i}: {reason:?}");
        assert!(reason.len() <= escrow_log::event::MAX_TEXT, "trustee-{i}: {}", reason.len());
        assert!(reason.contains("[2J [31m FAKE line two x"), "trustee-{i}: {reason:?}");
    }
}

/// An installed epoch is never replaced by a fresh ceremony. Proposed by a trustee
/// that holds the epoch, the proposal is refused; proposed by one that does not, every
/// holder rejects it at once and it aborts everywhere, with nothing installed. The
/// epoch's announcement and key stay as they were, and so does a dealt epoch's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_ceremony_never_replaces_an_installed_epoch() {
    let d = deploy_plain(128).await;
    let first = d.ceremony(&spec(2, 1, 0..4)).await.unwrap();
    let key = first.announcement.expect("epoch 2 installed at trustees 0-3").key_set().clone();
    let served = |i: usize| {
        let d = &d;
        async move {
            let mut c = escrow_service::transport::ceremony_client(&d.trustee_addrs()[i], &auditor_creds()).unwrap();
            c.get_announcement(pb::GetAnnouncementRequest { epoch: 2 }).await.map(|r| r.into_inner().announcement)
        }
    };
    let before = served(0).await.unwrap();

    // At a holder: refused at the proposal.
    let err = d.ceremony(&spec(2, 1, 0..4)).await.unwrap_err().to_string();
    assert!(
        err.contains(
            "epoch 2 is installed at trustee-0 (generation 0); a fresh key would replace it: only a reshare may follow"
        ),
        "{err}"
    );
    // The dealt epoch 1 too.
    let err = d.ceremony(&spec(1, 1, 0..4)).await.unwrap_err().to_string();
    assert!(err.contains("epoch 1 is installed at trustee-0"), "{err}");

    // By trustee-4, which does not hold epoch 2: trustees 1-3 reject it, it aborts.
    let mut other = spec(2, 1, 1..5);
    other.proposer = 4;
    let out = d.ceremony(&other).await.unwrap();
    assert!(out.announcement.is_none());
    for s in &out.statuses {
        assert_eq!(s.phase, "aborted", "{s:?}");
    }
    assert!(
        out.statuses.iter().any(|s| s.abort_reason.contains("epoch 2 is installed at trustee-")),
        "{:?}",
        out.statuses
    );
    for i in 0..4 {
        assert_eq!(served(i).await.unwrap(), before, "trustee-{i}'s announcement for epoch 2 changed");
    }
    assert!(served(4).await.is_err(), "trustee-4 installed something for epoch 2");
    let v = SignedAnnouncement::from_bytes(&before).unwrap().verify(&d.pins).unwrap();
    assert_eq!(v.key_set(), &key);
}

/// A trustee restarted while a ceremony waits for acceptances knows the ceremony it was
/// in (its database records it): it logs the abort and tells every participant, who end
/// it at once instead of waiting out the 30 s accept window and refusing new proposals.
/// A new ceremony then succeeds, and nothing of the first is left recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trustee_restarted_during_a_ceremony_ends_it_everywhere_at_once() {
    let mut d = deploy_plain(129).await;
    let id = propose_epoch_2(&d).await;
    let r = || pb::CeremonyRef { ceremony_id: id.clone(), reason: String::new() };
    loop {
        let s = d.ceremony_client(1).unwrap().status(r()).await;
        if s.is_ok_and(|s| s.into_inner().phase == "proposed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    d.ceremony_client(2).unwrap().accept(r()).await.unwrap();
    let restarted = std::time::Instant::now();
    d.restart_trustee(1).await.unwrap();

    let want = "trustee-1 restarted during the ceremony and lost its state";
    for i in 0..5 {
        let end = loop {
            let s = d.ceremony_client(i).unwrap().status(r()).await.unwrap().into_inner();
            if s.phase == "aborted" || s.phase == "installed" {
                break s;
            }
            assert!(restarted.elapsed() < std::time::Duration::from_secs(20), "trustee-{i} still {}", s.phase);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(end.phase, "aborted", "trustee-{i}");
        assert!(end.abort_reason.contains(want), "trustee-{i}: {}", end.abort_reason);
    }
    let ended = restarted.elapsed();
    assert!(ended < std::time::Duration::from_secs(20), "{ended:?}: the participants waited out the window");
    // The restarted trustee's log says so, after the Proposed step it logged before.
    let steps = ceremony_steps(&log_entries(&d, 1).await);
    assert!(matches!(steps.first(), Some(CeremonyStep::Proposed { epoch: 2, .. })), "{steps:?}");
    assert!(matches!(steps.last(), Some(CeremonyStep::Aborted { reason }) if reason.contains(want)), "{steps:?}");
    // Restarted again: nothing is left to end (no second Aborted step).
    d.restart_trustee(1).await.unwrap();
    let out = d.ceremony(&spec(2, 2, 0..5)).await.unwrap();
    assert!(out.announcement.is_some(), "{:#?}", out.statuses);
    let aborts =
        ceremony_steps(&log_entries(&d, 1).await).iter().filter(|s| matches!(s, CeremonyStep::Aborted { .. })).count();
    assert_eq!(aborts, 1);
    eprintln!("every participant ended the ceremony {ended:?} after trustee-1's restart");
}

/// Every start-up check that needs no database is `TrusteeConfig::check`'s, which
/// `escrow trustee serve` and the in-process kit both call before anything is written:
/// each mismatch is refused with its own error, and the trustee's own parts pass
/// (with a log key named the old way, by the trustee id, too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trustee_config_check_refuses_each_mismatched_part() {
    use escrow_log::CheckpointSigner;
    use escrow_trustee::ceremony::CeremonyKeys;
    use escrow_trustee::{EpochKeys, StartError, TrusteeConfig};
    let d = Deployment::start(options(128, 3, 1, KeyGen::Ceremony)).await.unwrap();
    let me = d.pki.party(escrow_pki::Role::Trustee, "trustee-1").unwrap();
    let someone_else = d.pki.party(escrow_pki::Role::Trustee, "trustee-2").unwrap();
    let keys = |signing: TrusteeSigningKey| CeremonyKeys {
        signing,
        pins: d.pins.clone(),
        seal: d.seal_keys[1].clone(),
        auto_accept: false,
        misbehave: Default::default(),
    };
    let dealt = dealer_keygen(EpochId(9), 1, 3, &mut rng(5)).unwrap();
    let other_epoch = dealer_keygen(EpochId(9), 1, 3, &mut rng(6)).unwrap();
    let mut policy = d.trustee(1).unwrap().policy.clone();
    policy.key_index = Some(dealt.shares[1].index().0);
    let share = |i: usize, public: &EpochPublicKey| EpochKeys {
        public: public.clone(),
        share: TrusteeKeyShare::from_bytes(&dealt.shares[i].to_bytes()).unwrap(),
    };
    let config = |epochs: Vec<EpochKeys>, signing: TrusteeSigningKey| TrusteeConfig {
        policy: policy.clone(),
        epochs,
        ceremony: Some(keys(signing)),
        witnesses: None,
    };
    let own = || config(vec![share(1, &dealt.public)], d.trustee_keys[1].clone());
    let check = |c: TrusteeConfig, creds: &escrow_service::transport::Credentials, log: CheckpointSigner| {
        c.check(creds, &log).map(|checked| checked.policy().trustee_id.to_string())
    };

    assert_eq!(check(own(), &me, log_signer(1)).unwrap(), "trustee-1");
    let legacy = CheckpointSigner::generate("trustee-1", &mut rng(7)).unwrap();
    assert_eq!(check(own(), &me, legacy).unwrap(), "trustee-1", "a log key named by the trustee id still signs");

    let own_share = || vec![share(1, &dealt.public)];
    type Case = (&'static str, StartError, fn(&StartError) -> bool);
    let cases: Vec<Case> = vec![
        ("another trustee's certificate", check(own(), &someone_else, log_signer(1)).unwrap_err(), |e| {
            matches!(e, StartError::WrongCertificate { .. })
        }),
        (
            "a share of another index",
            check(config(vec![share(2, &dealt.public)], d.trustee_keys[1].clone()), &me, log_signer(1)).unwrap_err(),
            |e| matches!(e, StartError::WrongKeyIndex { epoch: 9, .. }),
        ),
        (
            "a share of another key set",
            check(config(vec![share(1, &other_epoch.public)], d.trustee_keys[1].clone()), &me, log_signer(1))
                .unwrap_err(),
            |e| matches!(e, StartError::Key(_)),
        ),
        ("another trustee's log key", check(own(), &me, log_signer(2)).unwrap_err(), |e| {
            matches!(e, StartError::WrongLogKey { .. })
        }),
        (
            "another trustee's signing key",
            check(config(own_share(), d.trustee_keys[0].clone()), &me, log_signer(1)).unwrap_err(),
            |e| matches!(e, StartError::WrongSigningKey { .. }),
        ),
        (
            "a signing key for this trustee that the federation does not pin",
            check(config(own_share(), TrusteeSigningKey::generate(id("trustee-1"), &mut rng(8))), &me, log_signer(1))
                .unwrap_err(),
            |e| matches!(e, StartError::SigningKeyNotPinned { .. }),
        ),
    ];
    for (what, e, expected) in &cases {
        assert!(expected(e), "{what}: {e:?}");
    }
    let texts: Vec<String> = cases.iter().map(|(_, e, _)| e.to_string()).collect();
    assert_eq!(texts[0], "the certificate names trustee trustee-2, but the policy says this is trustee trustee-1");
    assert_eq!(
        texts[3],
        "this log key signs as \"escrow-trustee/trustee-2\", but the policy says this is trustee trustee-1"
    );
    assert_eq!(texts[4], "this signing key signs for trustee-0, but the policy says this is trustee trustee-1");
    assert_eq!(texts[5], "this signing key is not the one pinned for trustee-1");
}
