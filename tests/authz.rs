//! Every RPC called by every role, driven by the table in docs/security.md: a ✓ call
//! succeeds, every other is refused with the code the table names and changes nothing.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use escrow_crypto::*;
use escrow_pki::{Ca, Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use escrow_tests::*;
use tonic::Code;

/// What the table says a call must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    /// Past authorization; the answer depends on the ceremony's state.
    Passes,
    Denied,
    NotFound,
    Unauthenticated,
    Handshake,
}

/// The RPC × caller table of docs/security.md.
fn table() -> (Vec<String>, Vec<(String, Vec<Expect>)>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md")).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>()
    };
    let header = text.lines().find(|l| l.starts_with("| RPC |")).expect("docs/security.md has the RPC table");
    let callers: Vec<String> = cells(header).into_iter().skip(1).collect();
    let mut rows = Vec::new();
    for line in
        text.lines().filter(|l| ["| Trustee.", "| Audit.", "| Relay.", "| Ceremony."].iter().any(|p| l.starts_with(p)))
    {
        let c = cells(line);
        let expects = c[1..]
            .iter()
            .map(|cell| match cell.as_str() {
                "✓" => Expect::Allowed,
                "passes" => Expect::Passes,
                "denied" => Expect::Denied,
                "not found" => Expect::NotFound,
                "unauthenticated" => Expect::Unauthenticated,
                "handshake" => Expect::Handshake,
                other => panic!("unknown cell {other:?} in {line}"),
            })
            .collect::<Vec<_>>();
        assert_eq!(expects.len(), callers.len(), "{line}");
        rows.push((c[0].clone(), expects));
    }
    (callers, rows)
}

/// A certificate for agency-1 issued by a CA the deployment does not trust.
fn foreign_ca_creds() -> Credentials {
    let foreign = Ca::generate("foreign", validity()).unwrap();
    let issued = foreign.issue(&Identity::new(Role::Agency, id("agency-1")).unwrap(), validity()).unwrap();
    // It trusts the real CA (so it would accept the real server); the server must not
    // accept it.
    Credentials::new(pki().trust().clone(), issued.cert_pem, issued.key_pem).unwrap()
}

fn caller(name: &str) -> Credentials {
    match name {
        "alice" | "bob" => creds(Role::User, name),
        "agency-1" | "agency-2" | "agency-3" => creds(Role::Agency, name),
        // Operator op-0 of trustee-0, certified by trustee-1's organisation.
        "op-0 forged" => pki().creds_from("org-trustee-1", &Identity::operator(id("trustee-0"), id("op-0"))).unwrap(),
        // An agency no organisation of the federation certifies.
        "agency-9" => pki().creds_from("org-agency-1", &Identity::new(Role::Agency, id("agency-9")).unwrap()).unwrap(),
        "op-0" => operator_creds(0),
        "op-1" => operator_creds(1),
        "auditor-1" => creds(Role::Auditor, name),
        "trustee-1" => creds(Role::Trustee, name),
        "relay" => creds(Role::Relay, name),
        // A witness's certificate is a server's for its HTTPS; it has no escrow RPC.
        "w1" => creds(Role::Witness, name),
        "no certificate" => Credentials::anonymous(pki().trust().clone()),
        "foreign CA" => foreign_ca_creds(),
        other => panic!("unknown caller {other:?} in docs/security.md"),
    }
}

/// Everything a refused call could have changed: trustee-0's warrants, decisions,
/// releases and log; the relay's users and messages.
fn snapshot(d: &Deployment) -> String {
    let trustee = escrow_trustee::tamper::state_digest(&d.trustees[0].dir).unwrap();
    let (users, messages) = escrow_relay::tamper::counts(&d.relay_dir).unwrap();
    format!("{trustee} | {users} | {messages}")
}

struct World {
    d: Deployment,
    /// The warrant the table's requests name, approved at trustee-0.
    w: Vec<u8>,
    /// An expired warrant whose details are open.
    old: u8,
    /// An in-scope escrow item of alice's.
    item: pb::EscrowItem,
    next_wid: u8,
}

impl World {
    async fn new() -> Self {
        // The table makes about a thousand calls as fast as the servers answer; the
        // per-caller rate limit (tests/limits.rs) is not what it checks.
        // The day mode is on, so that ExtractDayKeys reaches its rules.
        let d = deploy(70, |_, p| {
            p.rate_limit = escrow_service::ratelimit::RateLimit::new(1e6, 1_000_000).unwrap();
            p.max_day_keys_per_warrant = 100;
            p.day_key_agency_quota = 1_000;
        })
        .await;
        // An old warrant, valid one day with no notification delay: its details open
        // once it expires.
        let old = 9u8;
        let body = WarrantBody {
            id: WarrantId([old; 16]),
            case_reference: "OLD/1".into(),
            court: id("high-court"),
            agency: id("agency-1"),
            targets: vec![id("alice")],
            window: TimeWindow::new(START, START + DAY).unwrap(),
            issued_at: START,
            valid_until: START + DAY,
            legal_basis: "test".into(),
            notification_delay_secs: 0,
        };
        let blob = d.court.sign(&body).unwrap();
        d.submit_everywhere(&blob).await.unwrap();
        let env = d.send("alice", &["bob"], START + 2 * DAY, "hello").await.unwrap();
        let w = d.warrant(1, &["alice"], START + DAY, START + 4 * DAY).unwrap();
        d.submit_everywhere(&w).await.unwrap();
        d.approve(&[0], 1).await.unwrap();
        let item = pb::EscrowItem { label: env.label().to_bytes(), field: env.field().to_bytes() };
        World { d, w, old, item, next_wid: 100 }
    }

    /// A fresh warrant for agency-1, submitted to trustee-0 and, if asked, approved.
    async fn fresh(&mut self, approve: bool) -> Vec<u8> {
        self.next_wid += 1;
        let wid = self.next_wid;
        let now = self.d.clock.now();
        let w = self.d.warrant(wid, &["alice"], now - DAY, now).unwrap();
        self.d.agency_client(0).unwrap().submit_warrant(pb::SubmitWarrantRequest { warrant: w }).await.unwrap();
        if approve {
            self.d.approve(&[0], wid).await.unwrap();
        }
        vec![wid; 16]
    }

    fn fresh_envelope(&mut self) -> Vec<u8> {
        self.next_wid += 1;
        let now = self.d.clock.now();
        let mut message_id = [0u8; 16];
        message_id[0] = 0xee;
        message_id[1] = self.next_wid;
        Envelope::seal(
            &SealRequest {
                sender: self.d.user("alice").unwrap(),
                recipients: &[self.d.user("bob").unwrap().public()],
                epoch_key: &self.d.keys.public,
                message_id,
                timestamp: now,
                plaintext: b"authz",
            },
            &mut rng(u64::from(self.next_wid)),
        )
        .unwrap()
        .as_bytes()
        .to_vec()
    }

    /// Prepares what the call needs (as the parties entitled to), then returns the
    /// call itself as a future over `creds`.
    async fn call(&mut self, rpc: &str, creds: &Credentials) -> Result<(), tonic::Status> {
        let trustee0 = self.d.trustees[0].server.addr.to_string();
        let relay = self.d.relay.addr.to_string();
        let wid = vec![1u8; 16];
        // Setup first, so the snapshot below sees its effects.
        let fresh = match rpc {
            "Trustee.ApproveWarrant" | "Trustee.DenyWarrant" => Some(self.fresh(false).await),
            "Trustee.RevokeWarrant" => Some(self.fresh(true).await),
            _ => None,
        };
        let submit = if rpc == "Trustee.SubmitWarrant" {
            self.next_wid += 1;
            let now = self.d.clock.now();
            Some(self.d.warrant(self.next_wid, &["alice"], now - DAY, now).unwrap())
        } else {
            None
        };
        let envelope = if rpc == "Relay.Send" { Some(self.fresh_envelope()) } else { None };
        let size =
            self.d.audit_client(0).unwrap().get_checkpoint(pb::GetCheckpointRequest {}).await.unwrap().into_inner();
        let size: u64 = size.checkpoint.lines().nth(1).unwrap().parse().unwrap();

        let before = snapshot(&self.d);
        let mut t = trustee_client_at(&trustee0, creds);
        let mut a = pb::audit_client::AuditClient::new(
            escrow_service::transport::channel(&trustee0, creds, Role::Trustee).unwrap(),
        );
        let mut r = relay_client_at(&relay, creds);
        let mut c = escrow_service::transport::ceremony_client(&trustee0, creds).unwrap();
        let latest = || pb::CeremonyRef { ceremony_id: vec![], reason: "authz".into() };
        let decide = |id: Vec<u8>| pb::DecideWarrantRequest { warrant_id: id, reason: "authz".into() };
        let result = match rpc {
            "Trustee.GetInfo" => t.get_info(pb::GetInfoRequest {}).await.map(drop),
            "Trustee.SubmitWarrant" => {
                t.submit_warrant(pb::SubmitWarrantRequest { warrant: submit.unwrap() }).await.map(drop)
            }
            "Trustee.GetWarrant" => t.get_warrant(pb::GetWarrantRequest { warrant_id: wid }).await.map(drop),
            "Trustee.ListWarrants" => t.list_warrants(pb::ListWarrantsRequest { state: 0 }).await.map(|r| {
                // Every warrant listed belongs to the caller (agency-2 sees none).
                let agencies: Vec<String> = r.into_inner().warrants.into_iter().map(|w| w.agency).collect();
                if creds.identity().unwrap().role() == Role::Agency {
                    let me = creds.identity().unwrap().id().to_string();
                    assert!(agencies.iter().all(|a| *a == me), "{me} listed {agencies:?}");
                }
            }),
            "Trustee.ApproveWarrant" => t.approve_warrant(decide(fresh.unwrap())).await.map(drop),
            "Trustee.DenyWarrant" => t.deny_warrant(decide(fresh.unwrap())).await.map(drop),
            "Trustee.RevokeWarrant" => t.revoke_warrant(decide(fresh.unwrap())).await.map(drop),
            "Trustee.RequestShares" => t
                .request_shares(pb::RequestSharesRequest { warrant_id: wid, items: vec![self.item.clone()] })
                .await
                .map(drop),
            "Trustee.ExtractDayKeys" => t
                .extract_day_keys(pb::ExtractDayKeysRequest {
                    warrant_id: wid,
                    days: vec![pb::DayKeyItem {
                        epoch: self.d.keys.public.epoch().0,
                        party: "alice".into(),
                        day: day_of(START + 2 * DAY),
                    }],
                })
                .await
                .map(drop),
            "Audit.GetCheckpoint" => a.get_checkpoint(pb::GetCheckpointRequest {}).await.map(drop),
            "Audit.GetEntries" => a.get_entries(pb::GetEntriesRequest { start: 0, end: 1 }).await.map(drop),
            "Audit.GetInclusionProof" => {
                a.get_inclusion_proof(pb::GetInclusionProofRequest { index: 0, tree_size: size }).await.map(drop)
            }
            "Audit.GetConsistencyProof" => {
                a.get_consistency_proof(pb::GetConsistencyProofRequest { first: 1, second: size }).await.map(drop)
            }
            "Audit.GetDetailsOpening" => {
                a.get_details_opening(pb::GetDetailsOpeningRequest { warrant_id: vec![self.old; 16] }).await.map(drop)
            }
            "Relay.RegisterUser" => r
                .register_user(pb::RegisterUserRequest {
                    user_public_key: self.d.user("alice").unwrap().public().to_bytes(),
                })
                .await
                .map(drop),
            "Relay.GetUser" => r.get_user(pb::GetUserRequest { user_id: "alice".into() }).await.map(drop),
            "Relay.GetEpochKey" => r.get_epoch_key(pb::GetEpochKeyRequest {}).await.map(drop),
            "Relay.Send" => r.send(pb::SendRequest { envelope: envelope.unwrap() }).await.map(drop),
            "Relay.FetchInbox" => {
                r.fetch_inbox(pb::FetchInboxRequest { user_id: "alice".into(), after_seq: 0, limit: 0 }).await.map(drop)
            }
            "Relay.Export" => {
                r.export(pb::ExportRequest { warrant: self.w.clone(), after_seq: 0, limit: 0 }).await.map(drop)
            }
            // A ceremony of trustee-0 alone (t = 0): proposing makes it ready, executing
            // installs epoch 2 at once.
            "Ceremony.Propose" => c
                .propose(pb::ProposeRequest {
                    epoch: 2,
                    threshold: 0,
                    players: vec![pb::Participant { trustee_id: "trustee-0".into(), addr: trustee0.clone() }],
                    valid_from: START,
                    destroy_at: START + 365 * DAY,
                    ..Default::default()
                })
                .await
                .map(drop),
            "Ceremony.Accept" => c.accept(latest()).await.map(drop),
            "Ceremony.Reject" => c.reject(latest()).await.map(drop),
            "Ceremony.Execute" => c.execute(latest()).await.map(|s| assert_eq!(s.into_inner().phase, "installed")),
            "Ceremony.Abort" => c.abort(latest()).await.map(drop),
            "Ceremony.Status" => c.status(latest()).await.map(drop),
            "Ceremony.Deliver" => {
                let key = &self.d.trustee_keys[1];
                let body = escrow_crypto::dkg::messages::Body::Abort { proposal: [0; 32], reason: "x".into() };
                let msg = escrow_crypto::dkg::messages::SignedMessage::sign(key, &[7; 16], &body).unwrap();
                c.deliver(pb::DeliverRequest { message: msg.as_bytes().to_vec(), peers: vec![], waited_ms: 0 })
                    .await
                    .map(drop)
            }
            "Ceremony.GetAnnouncement" => c.get_announcement(pb::GetAnnouncementRequest { epoch: 2 }).await.map(drop),
            other => panic!("docs/security.md lists {other}, which this test does not know"),
        };
        if result.is_err() {
            assert_eq!(snapshot(&self.d), before, "a refused {rpc} changed state");
        }
        result
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_matches_docs_security_md() {
    let (callers, rows) = table();
    assert_eq!(rows.len(), 28, "the table lists every RPC of the four services");
    let mut world = World::new().await;
    // The old warrant's details are open, W is valid.
    world.d.clock.set(START + 2 * DAY + 60).unwrap();
    let creds: BTreeMap<&str, Credentials> = callers.iter().map(|c| (c.as_str(), caller(c))).collect();
    let mut mismatches = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (rpc, expects) in &rows {
        for (who, expect) in callers.iter().zip(expects) {
            let got = world.call(rpc, &creds[who.as_str()]).await;
            let ok = match (expect, &got) {
                (Expect::Allowed, Ok(())) => true,
                (Expect::Passes, Ok(())) => true,
                (Expect::Passes, Err(s)) => !matches!(
                    s.code(),
                    Code::PermissionDenied | Code::Unauthenticated | Code::Unavailable | Code::Unknown
                ),
                (Expect::Denied, Err(s)) => s.code() == Code::PermissionDenied,
                (Expect::NotFound, Err(s)) => s.code() == Code::NotFound,
                (Expect::Unauthenticated, Err(s)) => s.code() == Code::Unauthenticated,
                // No TLS session: the request never reaches a handler. In TLS 1.3 the
                // client's certificate travels in its last flight, so the client learns
                // of the server's alert as a dead connection, at a moment that varies.
                (Expect::Handshake, Err(s)) => {
                    matches!(s.code(), Code::Unavailable | Code::Unknown | Code::Cancelled)
                        && !s.message().contains("may not call")
                }
                _ => false,
            };
            *counts.entry(if ok { "as documented" } else { "MISMATCH" }).or_default() += 1;
            if !ok {
                mismatches.push(format!(
                    "{rpc} as {who}: expected {expect:?}, got {}",
                    match &got {
                        Ok(()) => "OK".to_string(),
                        Err(s) => format!("{:?}: {}", s.code(), s.message()),
                    }
                ));
            }
        }
    }
    println!("{counts:?}");
    assert!(
        mismatches.is_empty(),
        "{} calls differ from docs/security.md:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(counts["as documented"], 28 * callers.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_certificate_of_another_role_or_ca_is_refused_by_clients() {
    let d = deploy_plain(71).await;
    // A client that means to reach the relay but dials a trustee: the trustee's
    // certificate lacks relay.escrow.internal, so no request is sent.
    let mut wrong = relay_client_at(&d.trustees[0].server.addr.to_string(), &creds(Role::User, "alice"));
    let s = wrong.get_epoch_key(pb::GetEpochKeyRequest {}).await.unwrap_err();
    assert_eq!(s.code(), Code::Unavailable, "{}", s.message());
    // A client of another federation refuses the real trustee.
    let other = Ca::generate("other", validity()).unwrap();
    let issued = other.issue(&Identity::new(Role::Agency, id("agency-1")).unwrap(), validity()).unwrap();
    let theirs = escrow_pki::Federation::one_root("other", "other", &other, vec![]).unwrap();
    let theirs = escrow_pki::trust::Trust::new(theirs).unwrap();
    let stranger = Credentials::new(theirs, issued.cert_pem, issued.key_pem).unwrap();
    let s = trustee_client_at(&d.trustees[0].server.addr.to_string(), &stranger)
        .get_info(pb::GetInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unavailable, "{}", s.message());
    // A trustee will not serve with a certificate that names another trustee.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let policy = d.trustees[0].policy.clone();
    let dir = tempfile::tempdir().unwrap();
    let svc = escrow_trustee::Trustee::new(
        policy,
        vec![escrow_trustee::EpochKeys {
            public: d.keys.public.clone(),
            share: TrusteeKeyShare::from_bytes(&d.keys.shares[0].to_bytes()).unwrap(),
        }],
        escrow_trustee::store::Store::open(dir.path(), &origin(0), log_signer(0)).unwrap(),
        d.clock.shared(),
    )
    .unwrap();
    let err = escrow_trustee::serve(listener, svc, &creds(Role::Trustee, "trustee-3"), async {}).await.unwrap_err();
    assert!(err.to_string().contains("trustee-0"), "{err}");
}
