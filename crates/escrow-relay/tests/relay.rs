//! The relay over real gRPC on 127.0.0.1:0 with a real SQLite file in a temp dir.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use escrow_crypto::envelope::MAX_ENVELOPE_WITH_DAYS_LEN;
use escrow_crypto::{
    dealer_keygen, CourtSecretKey, DecryptionShare, Envelope, EpochId, EpochPublicKey, EscrowField, Label, PartyId,
    SealRequest, TimeWindow, UserPublicKey, UserSecretKey, WarrantBody, WarrantId,
};
use escrow_kit::{Node, Pki};
use escrow_pki::Role;
use escrow_proto::v1::relay_client::RelayClient;
use escrow_proto::v1::{
    ExportRequest, ExportResponse, FetchInboxRequest, GetEpochKeyRequest, GetUserRequest, RegisterUserRequest,
    SendRequest, SendResponse,
};
use escrow_relay::{Commit, EpochConflict, RelayConfig, RelayError, RelayService, DEFAULT_MAX_CLOCK_SKEW_SECS};
use escrow_service::transport::{channel, Credentials};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tonic::transport::Channel;
use tonic::Code;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;

fn pid(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// The deployment kit's parties (keys, the court `court-1`, five users, a manual clock,
/// a CA, a directory) and this test's own generator; one per test.
struct World {
    kit: escrow_kit::World,
    rng: ChaCha20Rng,
}

impl std::ops::Deref for World {
    type Target = escrow_kit::World;
    fn deref(&self) -> &escrow_kit::World {
        &self.kit
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let options = escrow_kit::Options {
            name: "relay-test".into(),
            seed: Some(seed),
            court: "court-1".into(),
            ..Default::default()
        };
        let kit = escrow_kit::World::new(options).unwrap();
        assert_eq!(kit.clock.now(), T0);
        World { kit, rng: ChaCha20Rng::seed_from_u64(seed.wrapping_add(1 << 32)) }
    }

    fn user(&self, name: &str) -> &UserSecretKey {
        self.kit.user(name).unwrap()
    }

    fn config(&self) -> RelayConfig {
        RelayConfig::new(&self.kit.dir, self.keys.public.clone(), vec![self.court.public()], self.clock.shared())
    }

    async fn start(&self) -> Relay {
        Relay::start(self.config(), self.pki.clone()).await
    }

    /// Seals an honest envelope from `from` to `to`, sent at `ts`.
    fn seal(&mut self, from: &str, to: &[&str], ts: u64, msg: &[u8]) -> Envelope {
        let mut id = [0u8; 16];
        self.rng.fill_bytes(&mut id);
        self.seal_with(from, to, ts, msg, id, None)
    }

    fn seal_with(
        &mut self,
        from: &str,
        to: &[&str],
        ts: u64,
        msg: &[u8],
        message_id: [u8; 16],
        epoch_key: Option<&EpochPublicKey>,
    ) -> Envelope {
        let sender = self.user(from).clone();
        let recipients: Vec<UserPublicKey> = to.iter().map(|u| self.user(u).public()).collect();
        let epoch_key = epoch_key.unwrap_or(&self.keys.public).clone();
        Envelope::seal(
            &SealRequest {
                sender: &sender,
                recipients: &recipients,
                epoch_key: &epoch_key,
                message_id,
                timestamp: ts,
                plaintext: msg,
            },
            &mut self.rng,
        )
        .unwrap()
    }

    fn warrant(&self, targets: &[&str], from: u64, to: u64) -> Vec<u8> {
        self.court.sign(&self.warrant_body(targets, from, to)).unwrap()
    }

    fn warrant_body(&self, targets: &[&str], from: u64, to: u64) -> WarrantBody {
        WarrantBody {
            id: WarrantId([7; 16]),
            case_reference: "2026-CR-0001".into(),
            court: self.court.public().court().clone(),
            agency: pid("agency-1"),
            targets: targets.iter().map(|t| pid(t)).collect(),
            window: TimeWindow::new(from, to).unwrap(),
            issued_at: T0,
            valid_until: T0 + 30 * DAY,
            legal_basis: "test statute s.1".into(),
            notification_delay_secs: 90 * DAY,
        }
    }
}

/// A relay served on a loopback port, with a client for alice (a user) and a way to
/// call as anyone else.
struct Relay {
    addr: SocketAddr,
    pki: Arc<Pki>,
    client: RelayClient<Channel>,
    node: Node,
}

impl Relay {
    async fn start(config: RelayConfig, pki: Arc<Pki>) -> Relay {
        let node = escrow_kit::node::serve_relay(config, &pki.party(Role::Relay, "relay").unwrap()).await.unwrap();
        let addr = node.addr;
        let client = client(addr, &pki, Role::User, "alice");
        Relay { addr, pki, client, node }
    }

    /// A client presenting a certificate of `role` and `id`.
    fn client_as(&self, role: Role, id: &str) -> RelayClient<Channel> {
        client(self.addr, &self.pki, role, id)
    }

    /// Stops the relay and checks that it ended cleanly.
    async fn shutdown(self) {
        drop(self.client);
        self.node.shut_down().await.unwrap();
    }

    async fn register(&mut self, user: &UserSecretKey) {
        self.client_as(Role::User, user.id().as_str())
            .register_user(RegisterUserRequest { user_public_key: user.public().to_bytes() })
            .await
            .unwrap();
    }

    async fn send(&mut self, env: &Envelope) -> Result<SendResponse, tonic::Status> {
        let sender = env.label().sender().to_string();
        self.client_as(Role::User, &sender)
            .send(SendRequest { envelope: env.as_bytes().to_vec() })
            .await
            .map(|r| r.into_inner())
    }

    async fn send_raw(&mut self, bytes: Vec<u8>) -> tonic::Status {
        // Sent as the sender it claims, so that the relay's own checks are what refuse it.
        let sender = Envelope::from_bytes(&bytes).map(|e| e.label().sender().to_string()).unwrap_or("alice".into());
        self.client_as(Role::User, &sender).send(SendRequest { envelope: bytes }).await.unwrap_err()
    }

    /// Seqs of `user`'s whole inbox.
    async fn inbox(&mut self, user: &str) -> Vec<u64> {
        let req = FetchInboxRequest { user_id: user.into(), after_seq: 0, limit: 0 };
        self.client_as(Role::User, user)
            .fetch_inbox(req)
            .await
            .unwrap()
            .into_inner()
            .envelopes
            .iter()
            .map(|e| e.seq)
            .collect()
    }

    async fn export(&mut self, warrant: &[u8], after_seq: u64, limit: u32) -> Result<ExportResponse, tonic::Status> {
        let req = ExportRequest { warrant: warrant.to_vec(), after_seq, limit };
        self.client_as(Role::Agency, "agency-1").export(req).await.map(|r| r.into_inner())
    }
}

fn client(addr: SocketAddr, pki: &Pki, role: Role, id: &str) -> RelayClient<Channel> {
    escrow_service::transport::relay_client(&addr.to_string(), &pki.party(role, id).unwrap()).unwrap()
}

/// Row counts straight from the database file, beside the relay's own connection.
fn db_counts(dir: &Path) -> (i64, i64, i64) {
    let conn = rusqlite::Connection::open(dir.join(escrow_relay::DB_FILE)).unwrap();
    let count = |table: &str| conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap();
    (count("users"), count("messages"), count("recipients"))
}

fn assert_status(result: tonic::Status, code: Code, needles: &[&str]) {
    assert_eq!(result.code(), code, "unexpected code, message: {}", result.message());
    for n in needles {
        assert!(result.message().contains(n), "{:?} does not mention {n:?}", result.message());
    }
}

fn seqs(resp: &ExportResponse) -> Vec<u64> {
    resp.envelopes.iter().map(|e| e.seq).collect()
}

fn sender_ids(resp: &ExportResponse) -> Vec<String> {
    let mut ids: Vec<String> =
        resp.sender_keys.iter().map(|k| UserPublicKey::from_bytes(k).unwrap().id().to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn register_send_fetch_and_open() {
    let mut w = World::new(1);
    let mut relay = w.start().await;
    for u in ["alice", "bob", "carol"] {
        relay.register(w.user(u)).await;
    }

    let epk = relay.client.get_epoch_key(GetEpochKeyRequest {}).await.unwrap().into_inner().epoch_public_key;
    assert_eq!(EpochPublicKey::from_bytes(&epk).unwrap(), w.keys.public);
    let alice_blob = relay.client.get_user(GetUserRequest { user_id: "alice".into() }).await.unwrap().into_inner();
    assert_eq!(alice_blob.user_public_key, w.user("alice").public().to_bytes());

    let e1 = w.seal("alice", &["bob"], T0, b"hello bob");
    let e2 = w.seal("alice", &["bob", "carol"], T0 + 1, b"hello both");
    w.clock.set(T0 + 5).unwrap();
    let r1 = relay.send(&e1).await.unwrap();
    let r2 = relay.send(&e2).await.unwrap();
    assert!(r1.seq < r2.seq);
    assert_eq!(r1.received_at, T0 + 5);

    let bob_inbox = relay
        .client_as(Role::User, "bob")
        .fetch_inbox(FetchInboxRequest { user_id: "bob".into(), after_seq: 0, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .envelopes;
    assert_eq!(bob_inbox.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![r1.seq, r2.seq]);
    let alice_pk = UserPublicKey::from_bytes(&alice_blob.user_public_key).unwrap();
    let epk = EpochPublicKey::from_bytes(&epk).unwrap();
    let plaintexts: Vec<Vec<u8>> = bob_inbox
        .iter()
        .map(|s| Envelope::from_bytes(&s.envelope).unwrap().open(w.user("bob"), &alice_pk, &epk).unwrap())
        .collect();
    assert_eq!(plaintexts, vec![b"hello bob".to_vec(), b"hello both".to_vec()]);
    assert_eq!(bob_inbox.first().unwrap().envelope, e1.as_bytes());
    assert_eq!(bob_inbox.first().unwrap().received_at, T0 + 5);

    // Paging: after_seq and limit.
    let page = relay
        .client_as(Role::User, "bob")
        .fetch_inbox(FetchInboxRequest { user_id: "bob".into(), after_seq: 0, limit: 1 })
        .await
        .unwrap()
        .into_inner()
        .envelopes;
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![r1.seq]);
    let page = relay
        .client_as(Role::User, "bob")
        .fetch_inbox(FetchInboxRequest { user_id: "bob".into(), after_seq: r1.seq, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .envelopes;
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![r2.seq]);

    // Inboxes hold only what is addressed to their owner.
    assert_eq!(relay.inbox("carol").await, vec![r2.seq]);
    assert_eq!(relay.inbox("alice").await, Vec::<u64>::new());
    relay.shutdown().await;
}

/// An envelope of both escrow modes (a day field per party) goes through the relay
/// unchanged: accepted, delivered, exported under a warrant, and opened by its
/// recipient, who checks every day field.
#[tokio::test]
async fn an_envelope_with_day_fields_is_relayed_and_exported_unchanged() {
    let mut w = World::new(11);
    let mut relay = w.start().await;
    for u in ["alice", "bob"] {
        relay.register(w.user(u)).await;
    }
    let sender = w.user("alice").clone();
    let recipients = [w.user("bob").public()];
    let epoch_key = w.keys.public.clone();
    let req = SealRequest {
        sender: &sender,
        recipients: &recipients,
        epoch_key: &epoch_key,
        message_id: [5; 16],
        timestamp: T0,
        plaintext: b"both modes",
    };
    let env = Envelope::seal_with_days(&req, &mut w.rng).unwrap();
    assert!(env.has_day_fields());
    w.clock.set(T0 + 5).unwrap();
    let sent = relay.send(&env).await.unwrap();
    let inbox = relay
        .client_as(Role::User, "bob")
        .fetch_inbox(FetchInboxRequest { user_id: "bob".into(), after_seq: 0, limit: 0 })
        .await
        .unwrap()
        .into_inner()
        .envelopes;
    assert_eq!(
        inbox.iter().map(|e| (e.seq, e.envelope.clone())).collect::<Vec<_>>(),
        vec![(sent.seq, env.as_bytes().to_vec())]
    );
    let got = Envelope::from_bytes(&inbox[0].envelope).unwrap();
    assert_eq!(got.open(w.user("bob"), &sender.public(), &w.keys.public).unwrap(), b"both modes");
    let warrant = w.warrant(&["alice"], T0 - DAY, T0 + DAY);
    let exported = relay.export(&warrant, 0, 0).await.unwrap().envelopes;
    assert_eq!(exported.iter().map(|e| e.envelope.clone()).collect::<Vec<_>>(), vec![env.as_bytes().to_vec()]);
    relay.shutdown().await;
}

#[tokio::test]
async fn registration_first_key_wins() {
    let mut w = World::new(2);
    let mut relay = w.start().await;
    relay.register(w.user("alice")).await;
    // Same key again: idempotent.
    relay.register(w.user("alice")).await;
    let impostor = UserSecretKey::generate(pid("alice"), &mut w.rng);
    let err = relay
        .client
        .register_user(RegisterUserRequest { user_public_key: impostor.public().to_bytes() })
        .await
        .unwrap_err();
    assert_status(err, Code::AlreadyExists, &["alice"]);
    let stored = relay.client.get_user(GetUserRequest { user_id: "alice".into() }).await.unwrap().into_inner();
    assert_eq!(stored.user_public_key, w.user("alice").public().to_bytes());

    let mut bad = w.user("bob").public().to_bytes();
    bad.push(0);
    let err = relay.client.register_user(RegisterUserRequest { user_public_key: bad }).await.unwrap_err();
    assert_status(err, Code::InvalidArgument, &["user public key"]);
    assert_eq!(db_counts(w.dir.as_path()).0, 1);
    relay.shutdown().await;
}

#[tokio::test]
async fn lookups_name_the_culprit() {
    let w = World::new(3);
    let mut relay = w.start().await;
    relay.register(w.user("alice")).await;

    let err = relay.client.get_user(GetUserRequest { user_id: "bob".into() }).await.unwrap_err();
    assert_status(err, Code::NotFound, &["bob"]);
    let err = relay.client.get_user(GetUserRequest { user_id: "not an id".into() }).await.unwrap_err();
    assert_status(err, Code::InvalidArgument, &["not an id"]);

    let fetch = |user: &str, after_seq| FetchInboxRequest { user_id: user.into(), after_seq, limit: 0 };
    let err = relay.client_as(Role::User, "bob").fetch_inbox(fetch("bob", 0)).await.unwrap_err();
    assert_status(err, Code::NotFound, &["bob"]);
    let err = relay.client.fetch_inbox(fetch("-bob", 0)).await.unwrap_err();
    assert_status(err, Code::InvalidArgument, &["-bob"]);
    let err = relay.client.fetch_inbox(fetch("alice", u64::MAX)).await.unwrap_err();
    assert_status(err, Code::InvalidArgument, &["after_seq"]);
    relay.shutdown().await;
}

/// Everything a refused `Send` could have touched.
async fn snapshot(relay: &mut Relay, w: &World) -> ((i64, i64, i64), Vec<Vec<u64>>, Vec<u64>) {
    let mut inboxes = Vec::new();
    for u in ["alice", "bob", "carol"] {
        inboxes.push(relay.inbox(u).await);
    }
    let all = w.warrant(&["alice", "bob", "carol", "dave", "mallory"], 0, u64::MAX);
    let export = seqs(&relay.export(&all, 0, 0).await.unwrap());
    (db_counts(w.dir.as_path()), inboxes, export)
}

/// Every refusal, under group commit (the default) and with each message committed
/// alone (the benchmark's baseline): the same code, the same words, no state change.
#[tokio::test]
async fn refused_sends_name_the_culprit_and_change_nothing() {
    for commit in [escrow_relay::DEFAULT_COMMIT, Commit::EachAlone] {
        refused_sends_under(commit).await;
    }
}

async fn refused_sends_under(commit: Commit) {
    let mut w = World::new(4);
    let mut relay = Relay::start(RelayConfig { commit, ..w.config() }, w.pki.clone()).await;
    for u in ["alice", "bob", "carol"] {
        relay.register(w.user(u)).await;
    }
    let accepted = w.seal("alice", &["bob"], T0, b"first");
    relay.send(&accepted).await.unwrap();
    let before = snapshot(&mut relay, &w).await;
    assert_eq!(before.0, (3, 1, 1));
    assert_eq!(before.2.len(), 1);

    let mut cases: Vec<(&str, Vec<u8>, Code, Vec<String>)> = Vec::new();
    cases.push(("garbage", b"not an envelope".to_vec(), Code::InvalidArgument, vec!["envelope".into()]));
    cases.push((
        "oversized",
        vec![1; MAX_ENVELOPE_WITH_DAYS_LEN + 1],
        Code::InvalidArgument,
        vec![format!("at most {MAX_ENVELOPE_WITH_DAYS_LEN}")],
    ));

    let from_stranger = w.seal("mallory", &["bob"], T0, b"hi");
    cases.push((
        "unregistered sender",
        from_stranger.as_bytes().to_vec(),
        Code::FailedPrecondition,
        vec!["sender mallory is not registered".into()],
    ));

    let impostor = UserSecretKey::generate(pid("alice"), &mut w.rng);
    let forged_sender = Envelope::seal(
        &SealRequest {
            sender: &impostor,
            recipients: &[w.user("bob").public()],
            epoch_key: &w.kit.keys.public,
            message_id: [9; 16],
            timestamp: T0,
            plaintext: b"it's me, alice",
        },
        &mut w.rng,
    )
    .unwrap();
    cases.push((
        "signature by another key",
        forged_sender.as_bytes().to_vec(),
        Code::PermissionDenied,
        vec!["alice".into(), "signature".into()],
    ));

    let mut tampered = w.seal("alice", &["bob"], T0, b"pay 10").as_bytes().to_vec();
    let body_byte = tampered.len() - 65;
    tampered[body_byte] ^= 1;
    cases.push(("tampered body", tampered, Code::PermissionDenied, vec!["signature".into()]));

    let to_stranger = w.seal("alice", &["bob", "dave"], T0, b"hi");
    cases.push((
        "unregistered recipient",
        to_stranger.as_bytes().to_vec(),
        Code::FailedPrecondition,
        vec!["recipient dave is not registered".into()],
    ));

    let epoch2 = dealer_keygen(EpochId(2), 2, 5, &mut w.rng).unwrap();
    let old_epoch = w.seal_with("alice", &["bob"], T0, b"hi", [3; 16], Some(&epoch2.public));
    cases.push((
        "wrong epoch",
        old_epoch.as_bytes().to_vec(),
        Code::FailedPrecondition,
        vec!["epoch 2".into(), "epoch 1".into()],
    ));

    // A field sealed for another label (here: an earlier send time, which a warrant
    // window might not cover) is refused: the label is bound into the field.
    let (alice, bob) = (w.user("alice").clone(), w.user("bob").public());
    let relabelled = Envelope::seal_dangerous_with_field(
        &SealRequest {
            sender: &alice,
            recipients: &[bob],
            epoch_key: &w.kit.keys.public,
            message_id: [4; 16],
            timestamp: T0,
            plaintext: b"hi",
        },
        &mut w.rng,
        |epk, label, dk| {
            let other = Label::new(
                label.epoch(),
                *label.message_id(),
                label.sender().clone(),
                label.recipients().to_vec(),
                T0 - 10 * DAY,
            )?;
            EscrowField::seal(epk, &other, dk)
        },
    )
    .unwrap();
    cases.push((
        "field for another label",
        relabelled.as_bytes().to_vec(),
        Code::InvalidArgument,
        vec!["escrow field is invalid for this label".into()],
    ));

    let skew = DEFAULT_MAX_CLOCK_SKEW_SECS;
    for ts in [T0 + skew + 1, T0 - skew - 1] {
        let env = w.seal("alice", &["bob"], ts, b"hi");
        cases.push((
            "timestamp outside skew",
            env.as_bytes().to_vec(),
            Code::FailedPrecondition,
            vec![ts.to_string(), T0.to_string(), format!("{skew} s allowed")],
        ));
    }

    let message_id = *accepted.label().message_id();
    let hex_id: String = message_id.iter().map(|b| format!("{b:02x}")).collect();
    cases.push(("replay", accepted.as_bytes().to_vec(), Code::AlreadyExists, vec![hex_id.clone()]));
    let same_id = w.seal_with("alice", &["carol"], T0, b"other content", message_id, None);
    cases.push(("reused message id", same_id.as_bytes().to_vec(), Code::AlreadyExists, vec![hex_id]));

    for (name, bytes, code, needles) in cases {
        let err = relay.send_raw(bytes).await;
        assert_eq!(err.code(), code, "{name} ({commit:?}): {}", err.message());
        for n in &needles {
            assert!(err.message().contains(n.as_str()), "{name}: {:?} does not mention {n:?}", err.message());
        }
        assert_eq!(snapshot(&mut relay, &w).await, before, "{name} changed the relay's state");
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn clock_skew_bound_is_inclusive() {
    let mut w = World::new(5);
    let mut relay = w.start().await;
    relay.register(w.user("alice")).await;
    relay.register(w.user("bob")).await;
    let skew = DEFAULT_MAX_CLOCK_SKEW_SECS;
    let ahead = w.seal("alice", &["bob"], T0 + skew, b"ahead");
    let behind = w.seal("alice", &["bob"], T0 - skew, b"behind");
    relay.send(&ahead).await.unwrap();
    relay.send(&behind).await.unwrap();
    assert_eq!(relay.inbox("bob").await.len(), 2);
    relay.shutdown().await;
}

#[tokio::test]
async fn export_returns_exactly_the_warrant_scope() {
    let mut w = World::new(6);
    let mut relay = w.start().await;
    for u in ["alice", "bob", "carol", "dave"] {
        relay.register(w.user(u)).await;
    }
    let (from, to) = (T0 + DAY, T0 + 2 * DAY);
    // (sender, recipients, send time, in scope of a warrant on bob for [from, to))
    let traffic: [(&str, &[&str], u64, bool); 8] = [
        ("bob", &["alice"], from, true),                // target sends; window start is inclusive
        ("alice", &["bob"], from + 3600, true),         // target receives
        ("alice", &["bob", "carol"], to - 1, true),     // target among several recipients
        ("alice", &["bob"], from - 1, false),           // before the window
        ("alice", &["bob"], to, false),                 // window end is exclusive
        ("alice", &["carol"], from + 7200, false),      // no target involved
        ("carol", &["dave"], from + 60, false),         // no target involved
        ("carol", &["alice", "bob"], from + 120, true), // target among recipients, third sender
    ];
    let mut expected = Vec::new();
    let mut all = Vec::new();
    for (i, (sender, to_list, ts, in_scope)) in traffic.iter().enumerate() {
        w.clock.set(*ts).unwrap();
        let env = w.seal(sender, to_list, *ts, format!("message {i}").as_bytes());
        let seq = relay.send(&env).await.unwrap().seq;
        all.push(seq);
        if *in_scope {
            expected.push(seq);
        }
    }
    w.clock.set(T0 + 3 * DAY).unwrap();
    let warrant = w.warrant(&["bob"], from, to);

    let full = relay.export(&warrant, 0, 0).await.unwrap();
    assert_eq!(seqs(&full), expected);
    assert!(!full.more);
    assert_eq!(sender_ids(&full), vec!["alice", "bob", "carol"]);

    // The agency can check every exported envelope against the returned sender keys,
    // and open it with a quorum of trustee shares.
    let keys: Vec<UserPublicKey> = full.sender_keys.iter().map(|k| UserPublicKey::from_bytes(k).unwrap()).collect();
    for stored in &full.envelopes {
        let env = Envelope::from_bytes(&stored.envelope).unwrap();
        let sender = keys.iter().find(|k| k.id() == env.label().sender()).unwrap();
        env.verify_sender(sender).unwrap();
    }
    let first = Envelope::from_bytes(&full.envelopes[0].envelope).unwrap();
    let shares: Vec<DecryptionShare> = [0usize, 2, 4]
        .iter()
        .map(|&i| w.keys.shares[i].decrypt_share(&w.keys.public, first.field(), first.label()).unwrap())
        .collect();
    let opened = w.keys.public.combine(first.field(), first.label(), &shares).unwrap();
    let bob = w.user("bob").public();
    assert_eq!(first.open_with_data_key(&opened.data_key, &bob, &w.keys.public).unwrap(), b"message 0");

    // Pages of one: each says whether more follow, and carries only its own sender.
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let page = relay.export(&warrant, after, 1).await.unwrap();
        assert!(page.envelopes.len() <= 1);
        let Some(last) = page.envelopes.last() else {
            assert!(!page.more);
            break;
        };
        let sender = Envelope::from_bytes(&last.envelope).unwrap().label().sender().to_string();
        assert_eq!(sender_ids(&page), vec![sender]);
        got.push(last.seq);
        after = last.seq;
        assert_eq!(page.more, got.len() < expected.len(), "more flag after {got:?}");
    }
    assert_eq!(got, expected);

    let page = relay.export(&warrant, 0, 2).await.unwrap();
    assert_eq!(seqs(&page), expected[..2]);
    assert!(page.more);
    assert_eq!(sender_ids(&page), vec!["alice", "bob"]);
    let page = relay.export(&warrant, expected[1], 0).await.unwrap();
    assert_eq!(seqs(&page), expected[2..]);
    assert!(!page.more);

    // Two targets: the union of their traffic in the window.
    let both = w.warrant(&["carol", "dave"], from, to);
    let page = relay.export(&both, 0, 0).await.unwrap();
    assert_eq!(seqs(&page), vec![all[2], all[5], all[6], all[7]]);

    let err = relay.export(&warrant, u64::MAX, 0).await.unwrap_err();
    assert_status(err, Code::InvalidArgument, &["after_seq"]);

    // Defence in depth: rows whose stored columns were altered so that the SQL selects
    // them are still judged by their signed label, and not exported.
    let db = rusqlite::Connection::open(w.dir.as_path().join(escrow_relay::DB_FILE)).unwrap();
    let moved_into_window = i64::try_from(all[3]).unwrap();
    db.execute("UPDATE messages SET timestamp = ?1 WHERE seq = ?2", rusqlite::params![from as i64, moved_into_window])
        .unwrap();
    let bob_added = i64::try_from(all[6]).unwrap();
    db.execute("INSERT INTO recipients (seq, user_id) VALUES (?1, 'bob')", [bob_added]).unwrap();
    drop(db);
    let rechecked = relay.export(&warrant, 0, 0).await.unwrap();
    assert_eq!(seqs(&rechecked), expected);
    assert_eq!(sender_ids(&rechecked), vec!["alice", "bob", "carol"]);
    relay.shutdown().await;
}

#[tokio::test]
async fn export_refuses_bad_warrants() {
    let mut w = World::new(7);
    let mut relay = w.start().await;
    relay.register(w.user("alice")).await;
    relay.register(w.user("bob")).await;
    let env = w.seal("alice", &["bob"], T0, b"hi");
    relay.send(&env).await.unwrap();
    let good = w.warrant(&["bob"], T0 - DAY, T0 + DAY);
    assert_eq!(relay.export(&good, 0, 0).await.unwrap().envelopes.len(), 1);

    // Altered after signing (here: the warrant id).
    let mut forged = good.clone();
    forged[5] ^= 1;
    assert_status(relay.export(&forged, 0, 0).await.unwrap_err(), Code::PermissionDenied, &["signature"]);

    // Signed by a court the relay does not trust.
    let rogue = CourtSecretKey::generate(pid("court-2"), &mut w.rng);
    let mut body = w.warrant_body(&["bob"], T0 - DAY, T0 + DAY);
    body.court = pid("court-2");
    let untrusted = rogue.sign(&body).unwrap();
    assert_status(relay.export(&untrusted, 0, 0).await.unwrap_err(), Code::PermissionDenied, &["court"]);

    // A key claiming to be the trusted court's.
    let pretender = CourtSecretKey::generate(pid("court-1"), &mut w.rng);
    let pretend = pretender.sign(&w.warrant_body(&["bob"], T0 - DAY, T0 + DAY)).unwrap();
    assert_status(relay.export(&pretend, 0, 0).await.unwrap_err(), Code::PermissionDenied, &["court"]);

    assert_status(relay.export(b"not a warrant", 0, 0).await.unwrap_err(), Code::InvalidArgument, &["warrant"]);

    w.clock.set(T0 + 30 * DAY).unwrap();
    assert_status(relay.export(&good, 0, 0).await.unwrap_err(), Code::FailedPrecondition, &["expired"]);
    w.clock.set(T0 - 1).unwrap();
    assert_status(relay.export(&good, 0, 0).await.unwrap_err(), Code::FailedPrecondition, &["not valid before"]);
    relay.shutdown().await;
}

#[tokio::test]
async fn export_without_trusted_courts_refuses_everything() {
    let mut w = World::new(8);
    let mut config = w.config();
    config.trusted_courts.clear();
    let mut relay = Relay::start(config, w.pki.clone()).await;
    relay.register(w.user("alice")).await;
    relay.register(w.user("bob")).await;
    let env = w.seal("alice", &["bob"], T0, b"hi");
    relay.send(&env).await.unwrap();
    let warrant = w.warrant(&["bob"], T0 - DAY, T0 + DAY);
    assert_status(relay.export(&warrant, 0, 0).await.unwrap_err(), Code::PermissionDenied, &["court"]);
    relay.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_users_and_messages() {
    let mut w = World::new(9);
    let mut relay = w.start().await;
    relay.register(w.user("alice")).await;
    relay.register(w.user("bob")).await;
    let first = w.seal("alice", &["bob"], T0, b"before restart");
    let seq1 = relay.send(&first).await.unwrap().seq;
    relay.shutdown().await;

    let mut relay = w.start().await;
    let alice = relay.client.get_user(GetUserRequest { user_id: "alice".into() }).await.unwrap().into_inner();
    assert_eq!(alice.user_public_key, w.user("alice").public().to_bytes());
    assert_eq!(relay.inbox("bob").await, vec![seq1]);
    // First registration still wins, and a replay is still a replay.
    let impostor = UserSecretKey::generate(pid("alice"), &mut w.rng);
    let err = relay
        .client
        .register_user(RegisterUserRequest { user_public_key: impostor.public().to_bytes() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(relay.send(&first).await.unwrap_err().code(), Code::AlreadyExists);

    let second = w.seal("bob", &["alice"], T0 + 1, b"after restart");
    let seq2 = relay.send(&second).await.unwrap().seq;
    assert!(seq2 > seq1);
    let warrant = w.warrant(&["alice"], T0, T0 + DAY);
    assert_eq!(seqs(&relay.export(&warrant, 0, 0).await.unwrap()), vec![seq1, seq2]);
    relay.shutdown().await;
}

#[tokio::test]
async fn health_reports_the_relay_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let w = World::new(10);
    let relay = w.start().await;
    // Health answers without a client certificate (probes), over TLS all the same.
    let anonymous = Credentials::anonymous(w.pki.trust().clone());
    let mut health = HealthClient::new(channel(&relay.addr.to_string(), &anonymous, Role::Relay).unwrap());
    let status =
        health.check(HealthCheckRequest { service: "escrow.v1.Relay".into() }).await.unwrap().into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);
    drop(health);
    relay.shutdown().await;
}

/// An epoch's key never changes at the relay: restarted with another key for the same
/// epoch (a second fresh ceremony, a swapped file), it refuses to start, names both
/// keys' prefixes, and still serves the first key after a normal restart.
#[tokio::test]
async fn a_restart_with_another_key_for_a_served_epoch_is_refused() {
    let mut w = World::new(11);
    let relay = w.start().await;
    relay.shutdown().await;

    let epoch = w.keys.public.epoch();
    let other = dealer_keygen(epoch, 2, 5, &mut w.rng).unwrap();
    let mut config = w.config();
    config.epoch_key = other.public.clone();
    let err = RelayService::open(config).unwrap_err();
    assert!(matches!(&err, RelayError::EpochConflict(EpochConflict::AnotherKey { .. })), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "refusing to serve epoch {}: epoch {} was served with public key ",
            epoch.0, epoch.0
        )) && text.contains(&hex::encode(&other.public.public_key_bytes()[..8]))
            && text.contains("an epoch's key never changes"),
        "{text}"
    );

    // The refusal wrote nothing: the first key is still the one served.
    let mut relay = w.start().await;
    let served = relay.client.get_epoch_key(GetEpochKeyRequest {}).await.unwrap().into_inner();
    assert_eq!(served.epoch_public_key, w.keys.public.to_bytes());
    relay.shutdown().await;
}

/// How many GetEpochKey requests the relay answered OK, from its own metrics.
fn epoch_key_requests(metrics: &escrow_service::metrics::Metrics) -> u64 {
    let text = metrics.encode();
    let line = text.lines().find(|l| {
        l.starts_with("escrow_rpc_duration_seconds_count{")
            && l.contains("method=\"/escrow.v1.Relay/GetEpochKey\"")
            && l.contains("code=\"OK\"")
    });
    line.and_then(|l| l.rsplit(' ').next()).map_or(0, |n| n.parse().unwrap())
}

/// A relay of `config` whose metrics the test keeps, at `addr` if given.
async fn start_measured(
    w: &World,
    config: RelayConfig,
    addr: Option<&str>,
) -> (Node, escrow_service::metrics::Metrics) {
    let svc = RelayService::open(config).unwrap();
    let metrics = svc.metrics().clone();
    let creds = w.pki.party(Role::Relay, "relay").unwrap();
    let serve = move |l, s| async move { escrow_relay::serve(l, svc, &creds, s).await };
    let node = match addr {
        Some(a) => Node::serve_at("relay", a, serve).await.unwrap(),
        None => Node::serve("relay", serve).await.unwrap(),
    };
    (node, metrics)
}

/// The user client fetches and checks the epoch key once per epoch, not once per
/// message; when the relay moves to another epoch, the send it refuses for its epoch
/// is sealed again under the new key and sent once more.
#[tokio::test]
async fn the_user_client_checks_the_epoch_key_once_per_epoch() {
    let mut w = World::new(12);
    let epoch2 = dealer_keygen(EpochId(2), 2, 5, &mut w.rng).unwrap();
    let (node, metrics) = start_measured(&w, w.config(), None).await;
    let addr = node.addr.to_string();
    let alice = w.user("alice").clone();
    let bob = w.user("bob").clone();
    let user = |me: &UserSecretKey| {
        let creds = w.pki.party(Role::User, me.id().as_str()).unwrap();
        let mut c = escrow_user::UserClient::connect(&addr, &creds).unwrap();
        c.pin(w.keys.public.clone());
        c.pin(epoch2.public.clone());
        c
    };
    user(&bob).register(&bob).await.unwrap();
    let client = user(&alice);
    client.register(&alice).await.unwrap();
    for k in 0..5u64 {
        let sent = client.send(&alice, &[pid("bob")], b"hello", T0 + k, &mut w.rng).await.unwrap();
        assert_eq!(sent.envelope.label().epoch(), EpochId(1));
    }
    assert_eq!(epoch_key_requests(&metrics), 1, "five sends, one epoch-key check:\n{}", metrics.encode());
    node.shut_down().await.unwrap();

    // The relay moves to epoch 2 at the same address; the client still caches epoch 1.
    let mut config = w.config();
    config.epoch_key = epoch2.public.clone();
    let (node, metrics) = start_measured(&w, config, Some(&addr)).await;
    let sent = client.send(&alice, &[pid("bob")], b"after the rotation", T0 + 10, &mut w.rng).await.unwrap();
    assert_eq!(sent.envelope.label().epoch(), EpochId(2), "refused under epoch 1, sent again under epoch 2");
    let again = client.send(&alice, &[pid("bob")], b"and once more", T0 + 11, &mut w.rng).await.unwrap();
    assert_eq!(again.envelope.label().epoch(), EpochId(2));
    assert_eq!(epoch_key_requests(&metrics), 1, "one check for the new epoch");
    assert!(metrics.encode().contains("rule=\"wrong-epoch\""), "the first attempt was refused for its epoch");
    node.shut_down().await.unwrap();
}

/// The value of the metric line starting with `prefix`, if any.
fn metric(metrics: &escrow_service::metrics::Metrics, prefix: &str) -> Option<f64> {
    let text = metrics.encode();
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// A burst of concurrent sends under group commit: every good message is stored once
/// and acknowledged with its own seq, each bad field is refused alone, and every
/// message that reached the committer is counted in a batch. How many share a batch
/// depends on timing, so it is not asserted here: `ingest`'s unit tests commit a
/// batch of 40 directly, and `escrow relay bench` shows the effect.
#[tokio::test]
async fn a_burst_of_concurrent_sends_is_committed_in_batches() {
    let mut w = World::new(13);
    let (node, metrics) = start_measured(&w, w.config(), None).await;
    let mut relay =
        Relay { addr: node.addr, pki: w.pki.clone(), client: client(node.addr, &w.pki, Role::User, "alice"), node };
    for u in ["alice", "bob", "carol"] {
        relay.register(w.user(u)).await;
    }
    let senders = ["alice", "bob", "carol"];
    let mut envelopes: Vec<Envelope> = (0..60u64)
        .map(|k| {
            let from = senders[k as usize % 3];
            w.seal(from, &["alice", "bob", "carol"], T0 + k % 7, b"burst")
        })
        .collect();
    // Two fields checked under another message's label: each message sealed again
    // around the field of the message before it.
    for bad in [17usize, 44] {
        let (prev, this) = (envelopes[bad - 1].clone(), envelopes[bad].clone());
        let sender = w.user(this.label().sender().as_str()).clone();
        let recipients: Vec<UserPublicKey> =
            this.label().recipients().iter().map(|r| w.user(r.as_str()).public()).collect();
        envelopes[bad] = Envelope::seal_dangerous_with_field(
            &SealRequest {
                sender: &sender,
                recipients: &recipients,
                epoch_key: &w.kit.keys.public,
                message_id: *this.label().message_id(),
                timestamp: this.label().timestamp(),
                plaintext: b"burst",
            },
            &mut w.rng,
            |_, _, _| Ok(*prev.field()),
        )
        .unwrap();
    }
    let clients: Vec<RelayClient<Channel>> = senders.iter().map(|s| relay.client_as(Role::User, s)).collect();
    let mut sends = tokio::task::JoinSet::new();
    for (k, env) in envelopes.iter().enumerate() {
        let i = senders.iter().position(|s| *s == env.label().sender().as_str()).unwrap();
        let mut c = clients[i].clone();
        let bytes = env.as_bytes().to_vec();
        sends.spawn(async move { (k, c.send(SendRequest { envelope: bytes }).await.map(|r| r.into_inner().seq)) });
    }
    let mut results: Vec<(usize, Result<u64, tonic::Status>)> = sends.join_all().await;
    results.sort_by_key(|(k, _)| *k);
    let results: Vec<Result<u64, tonic::Status>> = results.into_iter().map(|(_, r)| r).collect();
    let mut seqs = Vec::new();
    for (k, r) in results.iter().enumerate() {
        if k == 17 || k == 44 {
            let e = r.as_ref().unwrap_err();
            assert_status(e.clone(), Code::InvalidArgument, &["escrow field is invalid"]);
        } else {
            seqs.push(*r.as_ref().unwrap_or_else(|e| panic!("message {k}: {e:?}")));
        }
    }
    let mut unique = seqs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 58, "one seq per acknowledged message");
    assert_eq!(db_counts(w.dir.as_path()), (3, 58, 58 * 3));
    let mut inbox = relay.inbox("carol").await;
    inbox.sort();
    assert_eq!(inbox, unique, "every acknowledged message reached every recipient's inbox");
    assert_eq!(
        metric(&metrics, "escrow_relay_commit_batch_messages_sum"),
        Some(60.0),
        "every message that reached the committer is in a batch:\n{}",
        metrics.encode()
    );
    relay.shutdown().await;
}

/// The committer's queue is bounded: while the database is held by another writer,
/// the queue fills, and the next send is refused at once with RESOURCE_EXHAUSTED and
/// a retry-after; it stores nothing. The queued messages are stored and acknowledged
/// once the database is free.
#[tokio::test]
async fn a_full_ingest_queue_refuses_with_a_retry_after() {
    let mut w = World::new(14);
    let config = RelayConfig { commit: Commit::Grouped { max_batch: 1, queue: 2 }, ..w.config() };
    let mut relay = Relay::start(config, w.pki.clone()).await;
    relay.register(w.user("alice")).await;
    relay.register(w.user("bob")).await;
    let envs: Vec<Envelope> = (0..4).map(|k| w.seal("alice", &["bob"], T0 + k, b"queued")).collect();

    // Another writer holds the database (under the committer's 5 s busy timeout).
    let blocker = rusqlite::Connection::open(w.dir.join(escrow_relay::DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut waiting = Vec::new();
    for env in &envs[..3] {
        // The first is taken by the committer (and waits on the database), the next
        // two fill the queue.
        let mut c = relay.client_as(Role::User, "alice");
        let bytes = env.as_bytes().to_vec();
        waiting.push(tokio::spawn(async move { c.send(SendRequest { envelope: bytes }).await }));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let refused = relay.send(&envs[3]).await.unwrap_err();
    assert_status(refused.clone(), Code::ResourceExhausted, &["ingest queue is full", "retry in"]);
    let retry: u64 = refused
        .metadata()
        .get(escrow_service::auth::RETRY_AFTER_MS)
        .expect("a retry-after-ms header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=5_000).contains(&retry), "{retry}");

    blocker.execute_batch("COMMIT").unwrap();
    for (k, h) in waiting.into_iter().enumerate() {
        h.await.unwrap().unwrap_or_else(|e| panic!("queued message {k}: {e:?}"));
    }
    assert_eq!(db_counts(w.dir.as_path()), (2, 3, 3), "the refused message was not stored");
    // Sent again once the queue has room, it is accepted.
    relay.send(&envs[3]).await.unwrap();
    relay.shutdown().await;
}

/// Users split by home between two identity providers. The relay keeps the
/// certificate each user registered with and serves it with the key; the user
/// library reads the home from that certificate, checked under the federation, and a
/// relay whose store serves a forged certificate (one the UK's identity provider
/// minted with a US home, or another user's) has every lookup of that user refused.
#[tokio::test]
async fn a_users_home_is_read_from_its_certificate_never_from_the_relay() {
    use escrow_crypto::Domain;
    use escrow_pki::federation::Pattern;
    use escrow_pki::Identity;
    use escrow_user::{UserClient, UserError};
    let w = World::new(41);
    let patterns = |ps: &[&str]| ps.iter().map(|p| Pattern::parse(p).unwrap()).collect::<Vec<_>>();
    let orgs = vec![
        ("root".into(), patterns(&["trustee/*", "operator/*/*", "relay/*", "agency/*", "auditor/*", "witness/*"])),
        ("uk-ids".into(), patterns(&["user/uk/*"])),
        ("us-ids".into(), patterns(&["user/us/*"])),
    ];
    let pki = Arc::new(Pki::with_organisations("relay-test", 30, orgs).unwrap());
    let home = |h: &str| Domain::new(h).unwrap();
    let uk_alice = Identity::user_of(home("uk"), pid("alice"));
    let us_bob = Identity::user_of(home("us"), pid("bob"));
    // Started as a node, not as `Relay`: this federation certifies no homeless user.
    let serve = || async {
        escrow_kit::node::serve_relay(w.config(), &pki.party(Role::Relay, "relay").unwrap()).await.unwrap()
    };
    let relay = serve().await;
    let addr = relay.addr.to_string();
    let client_of = |who: &Identity| UserClient::connect(&addr, &pki.creds(who).unwrap()).unwrap();
    client_of(&uk_alice).register(w.user("alice")).await.unwrap();
    client_of(&us_bob).register(w.user("bob")).await.unwrap();

    let bob = client_of(&uk_alice).contact(&pid("bob")).await.unwrap();
    assert_eq!((bob.key, bob.home), (w.user("bob").public(), Some(home("us"))));
    let served = client(relay.addr, &pki, Role::Agency, "agency-1")
        .get_user(GetUserRequest { user_id: "bob".into() })
        .await
        .unwrap()
        .into_inner()
        .certificate;
    assert_eq!(Identity::from_cert_der(&served).unwrap(), us_bob);

    // Bob again, now under a UK certificate: refused by name, and the US one stays.
    let moved = client_of(&Identity::user_of(home("uk"), pid("bob")));
    match moved.register(w.user("bob")).await.unwrap_err() {
        UserError::Relay(s) => assert_status(s, Code::AlreadyExists, &["bob", "home us", "names uk"]),
        e => panic!("{e}"),
    }
    assert_eq!(client_of(&uk_alice).contact(&pid("bob")).await.unwrap().home, Some(home("us")));
    // A client that checks no certificates believes no home.
    let unchecked = UserClient::new(client(relay.addr, &pki, Role::Agency, "agency-1"));
    assert_eq!(unchecked.contact(&pid("bob")).await.unwrap().home, None);
    // The UK's identity provider minting a US home is refused at the handshake.
    let forged = pki.creds_from("uk-ids", &us_bob).unwrap();
    let e = UserClient::connect(&addr, &forged).unwrap().register(w.user("bob")).await.unwrap_err();
    assert!(matches!(e, UserError::Relay(_)), "{e}");
    relay.shut_down().await.unwrap();

    // The relay's own store is not trusted: swap bob's certificate for the forged one,
    // then for alice's, and restart.
    let (forged_pem, _) = forged.cert_and_key_pem().unwrap();
    let body: String = forged_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let forged_der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
    let alice_der = {
        let conn = rusqlite::Connection::open(w.kit.dir.join(escrow_relay::DB_FILE)).unwrap();
        conn.query_row("SELECT certificate FROM user_certificates WHERE id = 'alice'", [], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
    };
    for (der, needle) in [(forged_der, "us-ids"), (alice_der, "names user alice")] {
        let conn = rusqlite::Connection::open(w.kit.dir.join(escrow_relay::DB_FILE)).unwrap();
        conn.execute("UPDATE user_certificates SET certificate = ?1 WHERE id = 'bob'", [&der]).unwrap();
        drop(conn);
        let relay = serve().await;
        let reader = UserClient::connect(&relay.addr.to_string(), &pki.creds(&uk_alice).unwrap()).unwrap();
        match reader.contact(&pid("bob")).await.unwrap_err() {
            UserError::Certificate { user, why } => {
                assert_eq!(user.as_str(), "bob");
                assert!(why.contains(needle), "{why}");
            }
            e => panic!("{e}"),
        }
        // A lookup of the key alone goes through the same check.
        assert!(matches!(reader.lookup(&pid("bob")).await, Err(UserError::Certificate { .. })));
        relay.shut_down().await.unwrap();
    }
}

/// A relay of three escrow domains (uk and us escrow, "free" does not) under any-of,
/// with users certified by each domain's identity provider. Messages go through the
/// user library: the relay checks each against the homes in the registered
/// certificates, stores it, serves it to the recipient (who opens it under the same
/// rule) and exports it under a warrant. A single-domain envelope is refused, and
/// nothing refused is stored.
#[tokio::test]
async fn messages_across_escrow_domains_are_checked_relayed_opened_and_exported() {
    use escrow_crypto::{Domain, DomainEnvelope, Jurisdictions, Rule};
    use escrow_pki::federation::Pattern;
    use escrow_pki::Identity;
    use escrow_user::UserClient;
    let mut w = World::new(42);
    let patterns = |ps: &[&str]| ps.iter().map(|p| Pattern::parse(p).unwrap()).collect::<Vec<_>>();
    let orgs = vec![
        ("root".into(), patterns(&["trustee/*", "operator/*/*", "relay/*", "agency/*", "auditor/*", "witness/*"])),
        ("uk-ids".into(), patterns(&["user/uk/*"])),
        ("us-ids".into(), patterns(&["user/us/*"])),
        ("free-ids".into(), patterns(&["user/free/*"])),
    ];
    let pki = Arc::new(Pki::with_organisations("relay-test", 30, orgs).unwrap());
    let dom = |h: &str| Domain::new(h).unwrap();
    let us_key = dealer_keygen(EpochId(2), 2, 5, &mut w.rng).unwrap().public;
    let jurisdictions = Jurisdictions::new(
        Rule::AnyOf,
        [(dom("uk"), Some(w.keys.public.clone())), (dom("us"), Some(us_key.clone())), (dom("free"), None)],
    )
    .unwrap();
    let mut config = w.config();
    config.jurisdictions = Some(jurisdictions.clone());
    let relay = escrow_kit::node::serve_relay(config, &pki.party(Role::Relay, "relay").unwrap()).await.unwrap();
    let addr = relay.addr.to_string();
    let people = [("alice", "uk"), ("bob", "us"), ("carol", "free")];
    let mut clients = std::collections::HashMap::new();
    for (name, home) in people {
        let mut c = UserClient::connect(&addr, &pki.creds(&Identity::user_of(dom(home), pid(name))).unwrap()).unwrap();
        c.use_jurisdictions(jurisdictions.clone());
        c.register(w.user(name)).await.unwrap();
        clients.insert(name, c);
    }

    let mut r = ChaCha20Rng::seed_from_u64(43);
    let to_bob = clients["alice"].send_across(w.user("alice"), &[pid("bob")], b"to bob", T0, &mut r).await.unwrap();
    let fields = |e: &DomainEnvelope| e.domains().map(Domain::to_string).collect::<Vec<_>>();
    assert_eq!(fields(&to_bob.envelope), ["uk", "us"]);
    let to_carol =
        clients["alice"].send_across(w.user("alice"), &[pid("carol")], b"to carol", T0, &mut r).await.unwrap();
    assert_eq!(fields(&to_carol.envelope), ["uk"]);
    let free = clients["carol"].send_across(w.user("carol"), &[pid("carol")], b"note", T0, &mut r).await.unwrap();
    assert!(fields(&free.envelope).is_empty(), "no escrowing domain among the parties: no field");

    let inbox = clients["bob"].inbox(w.user("bob"), 0, None).await.unwrap();
    assert_eq!(inbox.messages.len(), 1);
    let m = &inbox.messages[0];
    assert_eq!(m.outcome.as_deref().map(Vec::as_slice), Ok(&b"to bob"[..]));
    assert_eq!(m.fields, [(dom("uk"), EpochId(1)), (dom("us"), EpochId(2))]);
    let inbox = clients["carol"].inbox(w.user("carol"), 0, None).await.unwrap();
    let texts: Vec<_> = inbox.messages.iter().map(|m| m.outcome.as_deref().map(Vec::as_slice)).collect();
    assert_eq!(texts, [Ok(&b"to carol"[..]), Ok(&b"note"[..])]);
    // A client not configured with the jurisdictions refuses, saying why.
    let plain = UserClient::connect(&addr, &pki.creds(&Identity::user_of(dom("us"), pid("bob"))).unwrap()).unwrap();
    let inbox = plain.inbox(w.user("bob"), 0, None).await.unwrap();
    assert!(inbox.messages[0].outcome.as_ref().unwrap_err().contains("no jurisdictions"));

    // A single-domain envelope escrows under one key whatever the homes: refused.
    let before = db_counts(&w.kit.dir);
    let v1 = w.seal("alice", &["bob"], T0, b"around the rule");
    let e = clients["alice"].post(&v1).await.unwrap_err();
    assert_status(e, Code::FailedPrecondition, &["must carry domain fields", "uk"]);
    assert_eq!(escrow_service::metrics::rule_of(&clients["alice"].post(&v1).await.unwrap_err()), Some("domains"));
    assert_eq!(db_counts(&w.kit.dir), before);

    // The warrant on bob exports the message with his fields, and only it.
    let warrant = w.warrant(&["bob"], T0 - 60, T0 + 60);
    let exported = client(relay.addr, &pki, Role::Agency, "agency-1")
        .export(ExportRequest { warrant, after_seq: 0, limit: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exported.envelopes.iter().map(|e| e.envelope.clone()).collect::<Vec<_>>(), [to_bob.envelope.as_bytes()]);
    assert_eq!(sender_ids(&exported), ["alice"]);
    relay.shut_down().await.unwrap();
}
