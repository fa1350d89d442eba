//! The user client library against a real relay: every page of an inbox, and the
//! checks a client makes before it trusts the relay.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::*;
use escrow_proto::v1 as pb;
use escrow_tests::*;
use escrow_user::{UserClient, UserError};
use tonic::{Request, Response, Status};

/// More messages than one relay page holds (500), so reading them all needs paging.
const MESSAGES: usize = 503;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_reads_every_page_and_continues_after_a_limit() {
    let d = deploy_plain(21).await;
    let alice = d.user_client("alice").unwrap();
    let bob = id("bob");
    d.clock.set(START + 3_600).unwrap();
    let mut r = rng(5);
    for i in 0..MESSAGES {
        alice
            .send(
                d.user("alice").unwrap(),
                std::slice::from_ref(&bob),
                format!("m{i}").as_bytes(),
                START + 3_600,
                &mut r,
            )
            .await
            .unwrap();
    }
    let reader = d.user_client("bob").unwrap();

    let all = reader.inbox(d.user("bob").unwrap(), 0, None).await.unwrap();
    assert_eq!(all.messages.len(), MESSAGES);
    assert!(!all.more);
    assert_eq!(all.refused(), 0);
    for (i, m) in all.messages.iter().enumerate() {
        assert_eq!(m.outcome.as_deref().map(Vec::as_slice), Ok(format!("m{i}").as_bytes()));
    }

    // A limit stops early and says where to continue; continuing reads the rest.
    let first = reader.inbox(d.user("bob").unwrap(), 0, Some(10)).await.unwrap();
    assert_eq!(first.messages.len(), 10);
    assert!(first.more);
    assert_eq!(first.next_after, first.messages[9].seq);
    let rest = reader.inbox(d.user("bob").unwrap(), first.next_after, None).await.unwrap();
    assert_eq!(rest.messages.len(), MESSAGES - 10);
    assert!(!rest.more);
    assert_eq!(rest.messages[0].seq, all.messages[10].seq);

    // A limit of exactly what is there: nothing more.
    let exact = reader.inbox(d.user("bob").unwrap(), first.next_after, Some(MESSAGES - 10)).await.unwrap();
    assert_eq!(exact.messages.len(), MESSAGES - 10);
    assert!(!exact.more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_refuses_an_epoch_key_it_did_not_pin() {
    let d = deploy_plain(22).await;
    d.send("alice", &["bob"], START + 60, "hello").await.unwrap();
    let relay = d.relay.addr.to_string();

    // Pinned to another key for the same epoch: the relay's key is refused outright.
    let other = dealer_keygen(d.keys.public.epoch(), 2, 5, &mut rng(99)).unwrap().public;
    let mut wrong = UserClient::connect(&relay, &creds(escrow_pki::Role::User, "alice")).unwrap();
    wrong.pin(other);
    let e = wrong.send(d.user("alice").unwrap(), &[id("bob")], b"x", START + 60, &mut rng(2)).await.unwrap_err();
    assert!(matches!(e, UserError::EpochKeyMismatch(_)), "{e}");

    // Pinned only to another epoch: the served epoch is refused, and bob's message of
    // the served epoch is shown as refused, not as plaintext.
    let later = dealer_keygen(EpochId(d.keys.public.epoch().0 + 1), 2, 5, &mut rng(98)).unwrap().public;
    let mut elsewhere = UserClient::connect(&relay, &creds(escrow_pki::Role::User, "bob")).unwrap();
    elsewhere.pin(later);
    let e = elsewhere.epoch_key().await.unwrap_err();
    assert!(matches!(e, UserError::EpochNotPinned(_)), "{e}");
    let e = elsewhere.inbox(d.user("bob").unwrap(), 0, None).await.unwrap_err();
    assert!(matches!(e, UserError::EpochNotPinned(_)), "{e}");

    // With no pin the relay's word is taken, and the message opens.
    let trusting = UserClient::connect(&relay, &creds(escrow_pki::Role::User, "bob")).unwrap();
    let inbox = trusting.inbox(d.user("bob").unwrap(), 0, None).await.unwrap();
    assert_eq!(inbox.messages.len(), 1);
    assert_eq!(inbox.messages[0].outcome.as_deref().map(Vec::as_slice), Ok(&b"hello"[..]));
}

/// A relay that lies: it forwards to the honest relay (as alice) but answers every
/// lookup with carol's key and serves its own epoch key.
struct LyingRelay {
    honest: pb::relay_client::RelayClient<tonic::transport::Channel>,
    own_key: Vec<u8>,
}

#[tonic::async_trait]
impl pb::relay_server::Relay for LyingRelay {
    async fn register_user(
        &self,
        r: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        self.honest.clone().register_user(r.into_inner()).await
    }
    async fn get_user(&self, _: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        self.honest.clone().get_user(pb::GetUserRequest { user_id: "carol".into() }).await
    }
    async fn get_epoch_key(
        &self,
        _: Request<pb::GetEpochKeyRequest>,
    ) -> Result<Response<pb::GetEpochKeyResponse>, Status> {
        Ok(Response::new(pb::GetEpochKeyResponse { epoch_public_key: self.own_key.clone(), announcement: vec![] }))
    }
    async fn send(&self, r: Request<pb::SendRequest>) -> Result<Response<pb::SendResponse>, Status> {
        self.honest.clone().send(r.into_inner()).await
    }
    async fn fetch_inbox(&self, r: Request<pb::FetchInboxRequest>) -> Result<Response<pb::FetchInboxResponse>, Status> {
        self.honest.clone().fetch_inbox(r.into_inner()).await
    }
    async fn export(&self, r: Request<pb::ExportRequest>) -> Result<Response<pb::ExportResponse>, Status> {
        self.honest.clone().export(r.into_inner()).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_relay_is_caught_by_the_client_checks() {
    let d = deploy_plain(23).await;
    // The relay's own key for the deployment's epoch: with it, the relay could read
    // every escrow field.
    let own = dealer_keygen(d.keys.public.epoch(), 2, 5, &mut rng(97)).unwrap().public;
    let honest = relay_client_at(&d.relay.addr.to_string(), &creds(escrow_pki::Role::User, "alice"));
    let me = creds(escrow_pki::Role::Relay, "relay");
    let own_key = own.to_bytes();
    let mut liar = Node::serve("lying relay", |listener, shutdown| async move {
        let routes = tonic::service::Routes::new(pb::relay_server::RelayServer::new(LyingRelay { honest, own_key }));
        escrow_service::transport::serve(
            listener,
            routes,
            &[],
            &me,
            None,
            escrow_pki::access::Server::default(),
            &escrow_service::metrics::Metrics::new(|_| {}),
            shutdown,
        )
        .await
    })
    .await
    .unwrap();
    let addr = liar.addr.to_string();
    let alice = creds(escrow_pki::Role::User, "alice");

    // Asked for bob, it answers with carol's key: refused, naming both.
    let c = UserClient::connect(&addr, &alice).unwrap();
    let e = c.lookup(&id("bob")).await.unwrap_err();
    assert!(
        matches!(e, UserError::WrongUser { ref asked, ref answered } if asked.as_str() == "bob" && answered.as_str() == "carol"),
        "{e}"
    );

    // Its own epoch key is refused by a client that pinned the real one...
    let mut pinned = UserClient::connect(&addr, &alice).unwrap();
    pinned.pin(d.keys.public.clone());
    let e = pinned.send(d.user("alice").unwrap(), &[id("alice")], b"x", START + 60, &mut rng(3)).await.unwrap_err();
    assert!(matches!(e, UserError::EpochKeyMismatch(_)), "{e}");
    // ...and taken by one that did not: the gap that signed epoch announcements close.
    let trusting = UserClient::connect(&addr, &alice).unwrap();
    assert_eq!(trusting.epoch_key().await.unwrap(), own);
    liar.stop().await;
}
