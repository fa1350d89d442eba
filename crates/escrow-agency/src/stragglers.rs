//! [`Agency::open`]'s share gathering against trustees that are slow or lie, on real
//! gRPC: five Trustee servers on 127.0.0.1:0, each computing its shares with its own
//! key share of a dealt key set. Plain HTTP/2 (mutual TLS is the transport's, tested
//! with it); a slow trustee sleeps before answering, a lying one answers each item
//! with the share of another item: well-formed, its own index, and invalid.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use escrow_crypto::{dealer_keygen, EpochId, EscrowField, Label, PartyId, SealRequest, TrusteeKeyShare, UserSecretKey};
use pb::trustee_server::{Trustee, TrusteeServer};
use rand::SeedableRng;
use tonic::{Request, Response, Status};

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Answers honestly after this long.
    Slow(Duration),
    /// Answers item j with its share for item j + 1.
    Lying,
    /// Refuses every request.
    Refusing,
}

struct Server {
    share: TrusteeKeyShare,
    public: EpochPublicKey,
    behaviour: Behaviour,
    /// RequestShares calls received, answered or not.
    asked: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Trustee for Server {
    async fn get_info(&self, _: Request<pb::GetInfoRequest>) -> Result<Response<pb::TrusteeInfo>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn submit_warrant(
        &self,
        _: Request<pb::SubmitWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn get_warrant(&self, _: Request<pb::GetWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn list_warrants(
        &self,
        _: Request<pb::ListWarrantsRequest>,
    ) -> Result<Response<pb::ListWarrantsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn approve_warrant(
        &self,
        _: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn deny_warrant(&self, _: Request<pb::DecideWarrantRequest>) -> Result<Response<pb::WarrantStatus>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn revoke_warrant(
        &self,
        _: Request<pb::DecideWarrantRequest>,
    ) -> Result<Response<pb::WarrantStatus>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
    async fn request_shares(
        &self,
        request: Request<pb::RequestSharesRequest>,
    ) -> Result<Response<pb::RequestSharesResponse>, Status> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::Refusing => return Err(Status::permission_denied("not approved here")),
            Behaviour::Slow(d) => tokio::time::sleep(d).await,
            Behaviour::Honest | Behaviour::Lying => {}
        }
        let items = request.into_inner().items;
        let mut shares = Vec::new();
        for item in &items {
            let label = Label::from_bytes(&item.label).map_err(|e| Status::invalid_argument(e.to_string()))?;
            let field = EscrowField::from_bytes(&item.field).map_err(|e| Status::invalid_argument(e.to_string()))?;
            let share = self
                .share
                .decrypt_share(&self.public, &field, &label)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            shares.push(share.to_bytes().to_vec());
        }
        if self.behaviour == Behaviour::Lying {
            shares.rotate_left(1);
        }
        Ok(Response::new(pb::RequestSharesResponse { shares, ..Default::default() }))
    }
}

/// A dealt epoch (t = 2 of 5), alice's `messages` sealed to bob, and an agency whose
/// trustee i behaves as `behaviours[i]`; with how often each was asked.
async fn world(
    behaviours: [Behaviour; 5],
    messages: usize,
) -> (Agency, Vec<(u64, Envelope)>, HashMap<String, UserPublicKey>, Vec<Arc<AtomicUsize>>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let mut keys = dealer_keygen(EpochId(1), 2, 5, &mut rng).unwrap();
    let alice = UserSecretKey::generate(PartyId::new("alice").unwrap(), &mut rng);
    let bob = UserSecretKey::generate(PartyId::new("bob").unwrap(), &mut rng);
    let envelopes: Vec<(u64, Envelope)> = (0..messages)
        .map(|k| {
            let text = format!("message {k}");
            let req = SealRequest {
                sender: &alice,
                recipients: &[bob.public()],
                epoch_key: &keys.public,
                message_id: [u8::try_from(k).unwrap(); 16],
                timestamp: 1_700_000_000,
                plaintext: text.as_bytes(),
            };
            (k as u64 + 1, Envelope::seal(&req, &mut rng).unwrap())
        })
        .collect();
    let mut trustees = Vec::new();
    let mut asked = Vec::new();
    let public = keys.public.clone();
    for (i, (share, behaviour)) in std::mem::take(&mut keys.shares).into_iter().zip(behaviours).enumerate() {
        let count = Arc::new(AtomicUsize::new(0));
        let server = Server { share, public: public.clone(), behaviour, asked: count.clone() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TrusteeServer::new(server))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
        trustees.push(TrusteeHandle {
            addr,
            id: format!("trustee-{i}"),
            index: TrusteeIndex(u16::try_from(i).unwrap()),
            max_items: 500,
            client: TrusteeClient::new(channel),
        });
        asked.push(count);
    }
    // Never called: open_exported starts after the export.
    let relay = RelayClient::new(tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy());
    let agency = Agency {
        relay,
        trustees,
        unreachable: Vec::new(),
        unannounced: Vec::new(),
        epochs: BTreeMap::from([(EpochId(1), public)]),
        unannounced_keys: BTreeMap::new(),
        witness_policy: None,
        batch_size: None,
        straggler_grace: STRAGGLER_GRACE,
    };
    let senders = HashMap::from([("alice".to_string(), alice.public())]);
    (agency, envelopes, senders, asked)
}

async fn open(agency: &Agency, envelopes: &[(u64, Envelope)], senders: HashMap<String, UserPublicKey>) -> OpenReport {
    let mut report = OpenReport::default();
    agency.open_exported(&mut report, &[9; 16], envelopes, senders, |_, _| {}).await.unwrap();
    report
}

/// Trustee-3 takes a minute to answer; the three that answered at once suffice, so
/// each request waits for it only the grace, and the next ones not at all.
#[tokio::test]
async fn a_slow_trustee_is_not_waited_for_once_the_others_suffice() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) =
        world([Honest, Honest, Honest, Slow(Duration::from_secs(60)), Refusing], 4).await;
    let agency = agency.with_batch_size(1).with_straggler_grace(Duration::from_millis(100));
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened.len(), 4, "{:?}", report.failed);
    let texts: Vec<_> = report.opened.iter().map(|m| String::from_utf8_lossy(&m.plaintext).into_owned()).collect();
    assert_eq!(texts, ["message 0", "message 1", "message 2", "message 3"]);
    assert_eq!(report.share_requests, 4);
    assert_eq!(report.not_waited_for, BTreeMap::from([("trustee-3".to_string(), 4)]));
    assert_eq!(report.trustee_errors.refusing(), ["trustee-4"]);
    assert!(report.culprits.is_empty());
    // Asked every time all the same: it may come back.
    assert_eq!(asked[3].load(Ordering::SeqCst), 4);
}

/// Trustee-0 answers at once with invalid shares, so the three fast answers that
/// "suffice" do not open anything; trustee-3, not waited for, is asked again for those
/// messages and waited for, and everything opens, trustee-0 named.
#[tokio::test]
async fn when_the_fast_shares_fail_the_trustee_not_waited_for_is_asked_again() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) =
        world([Lying, Honest, Honest, Slow(Duration::from_millis(300)), Refusing], 3).await;
    let agency = agency.with_straggler_grace(Duration::from_millis(20));
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened.len(), 3, "{:?}", report.failed);
    assert_eq!(report.share_requests, 1);
    assert_eq!(report.not_waited_for, BTreeMap::from([("trustee-3".to_string(), 1)]));
    assert_eq!(report.culprits, BTreeMap::from([("trustee-0".to_string(), 3)]));
    // Once in the request, once again for the three messages that did not open.
    assert_eq!(asked[3].load(Ordering::SeqCst), 2);
    assert_eq!(asked[1].load(Ordering::SeqCst), 1);
}

/// With every trustee honest and fast, nobody is left out and nobody asked twice.
#[tokio::test]
async fn with_every_trustee_up_every_answer_is_taken() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) = world([Honest; 5], 3).await;
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened.len(), 3);
    assert!(report.not_waited_for.is_empty());
    assert!(asked.iter().all(|a| a.load(Ordering::SeqCst) == 1));
}
