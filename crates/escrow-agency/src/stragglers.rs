//! The open pipeline's share gathering (`open.rs`) against trustees that are slow or lie, on real
//! gRPC: five Trustee servers on 127.0.0.1:0, each computing its shares with its own
//! key share of a dealt key set. Plain HTTP/2 (mutual TLS is the transport's, tested
//! with it); a slow trustee sleeps before answering, a lying one answers each item
//! with the share of another item: well-formed, its own index, and invalid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use escrow_crypto::{
    dealer_keygen, Envelope, EpochId, EscrowField, Label, PartyId, SealRequest, TrusteeKeyShare, UserPublicKey,
    UserSecretKey,
};
use pb::trustee_server::{Trustee, TrusteeServer};
use rand::SeedableRng;
use tonic::{Request, Response, Status};

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Honest,
    /// Answers honestly after this long.
    Slow(Duration),
    /// Answers item j with its share for item j + 1.
    Lying,
    /// Refuses every request.
    Refusing,
}

/// A trustee answering RequestShares only, with real shares of its key share, as
/// `behaviour` says; this module's tests and `domains.rs` share it. With a `domain`, a
/// trustee of that escrow domain: it refuses any label that is not a label v2 of its
/// domain (as `escrow_trustee::rules::check_domain` does); without, one of a one-domain
/// deployment, which answers for labels v1 only. Counts requests and items.
pub(crate) struct Server {
    pub(crate) share: TrusteeKeyShare,
    pub(crate) public: EpochPublicKey,
    pub(crate) behaviour: Behaviour,
    pub(crate) domain: Option<escrow_crypto::Domain>,
    /// RequestShares calls received, answered or not.
    pub(crate) asked: Arc<AtomicUsize>,
    /// Items in the requests it computed shares for.
    pub(crate) items: Arc<AtomicUsize>,
}

impl Server {
    /// Serves this trustee on 127.0.0.1:0 as index `i` named `id`; the agency's handle.
    pub(crate) async fn spawn(self, i: usize, id: String) -> TrusteeHandle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TrusteeServer::new(self))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
        TrusteeHandle {
            addr,
            id,
            index: TrusteeIndex(u16::try_from(i).unwrap()),
            max_items: 500,
            client: TrusteeClient::new(channel),
        }
    }
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
    async fn extract_day_keys(
        &self,
        _: Request<pb::ExtractDayKeysRequest>,
    ) -> Result<Response<pb::ExtractDayKeysResponse>, Status> {
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
        self.items.fetch_add(items.len(), Ordering::SeqCst);
        let mut shares = Vec::new();
        for item in &items {
            let label = Label::from_bytes(&item.label).map_err(|e| Status::invalid_argument(e.to_string()))?;
            if label.domain_tag().map(|t| t.domain()) != self.domain.as_ref() {
                return Err(Status::permission_denied(format!(
                    "not a field of this trustee's domain {:?}",
                    self.domain
                )));
            }
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
        let server = Server {
            share,
            public: public.clone(),
            behaviour,
            domain: None,
            asked: count.clone(),
            items: Arc::default(),
        };
        trustees.push(server.spawn(i, format!("trustee-{i}")).await);
        asked.push(count);
    }
    // Never called: these tests feed the pipeline their own batches.
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
        check_every: None,
        domain: None,
        foreign: Arc::default(),
    };
    let senders = HashMap::from([("alice".to_string(), alice.public())]);
    (agency, envelopes, senders, asked)
}

/// Opens `envelopes` as the pipeline does after the export: in batches of the
/// agency's batch size, fed through a channel as the export task would.
async fn open_all(
    agency: &Agency,
    envelopes: &[(u64, Envelope)],
    senders: &HashMap<String, UserPublicKey>,
    sink: impl FnMut(OpenedMessage) -> std::io::Result<()> + Send,
) -> Result<OpenReport, AgencyError> {
    let exported: Vec<(u64, open::Exported)> =
        envelopes.iter().map(|(seq, e)| (*seq, open::Exported::Single(e.clone()))).collect();
    open_exported(agency, exported, senders, sink).await
}

/// [`open_all`] for envelopes of either kind, under the agency's own settings (its
/// domain and the other domains' parts it holds); `domains.rs` opens through it too.
pub(crate) async fn open_exported(
    agency: &Agency,
    envelopes: Vec<(u64, open::Exported)>,
    senders: &HashMap<String, UserPublicKey>,
    mut sink: impl FnMut(OpenedMessage) -> std::io::Result<()> + Send,
) -> Result<OpenReport, AgencyError> {
    let batch = agency.batch_size.unwrap_or(500);
    let shared = Arc::new(open::Shared {
        trustees: agency.trustees.clone(),
        epochs: agency.epochs.clone(),
        witness_policy: None,
        warrant_id: vec![9; 16],
        every: agency.check_every,
        domain: agency.domain.clone(),
        foreign: agency.foreign.clone(),
    });
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let chunks: Vec<Vec<(u64, open::Exported)>> = envelopes.chunks(batch).map(<[_]>::to_vec).collect();
    let senders = senders.clone();
    tokio::spawn(async move {
        for envelopes in chunks {
            let _ = tx.send(Ok(open::Batch { envelopes, senders: senders.clone() })).await;
        }
    });
    let mut report = OpenReport::default();
    open::run(shared, rx, &mut report, &mut sink, &|_| {}).await?;
    Ok(report)
}

async fn open(agency: &Agency, envelopes: &[(u64, Envelope)], senders: HashMap<String, UserPublicKey>) -> OpenReport {
    let mut opened = Vec::new();
    let mut report = open_all(agency, envelopes, &senders, |m| {
        opened.push(m);
        Ok(())
    })
    .await
    .unwrap();
    report.opened = opened;
    report
}

fn texts(report: &OpenReport) -> Vec<String> {
    report.opened.iter().map(|m| String::from_utf8_lossy(&m.plaintext).into_owned()).collect()
}

/// Trustee-3 takes a minute to answer; the three that answered at once suffice, so no
/// request waits for it at all (this test would take four minutes otherwise).
#[tokio::test]
async fn a_slow_trustee_is_not_waited_for_once_the_others_suffice() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) =
        world([Honest, Honest, Honest, Slow(Duration::from_secs(60)), Refusing], 4).await;
    let agency = agency.with_batch_size(1);
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened.len(), 4, "{:?}", report.failed);
    assert_eq!(report.opened_count, 4);
    assert_eq!(texts(&report), ["message 0", "message 1", "message 2", "message 3"]);
    assert_eq!(report.share_requests, 4);
    assert_eq!(report.not_needed.get("trustee-3"), Some(&4));
    assert_eq!(report.trustee_errors.refusing(), ["trustee-4"]);
    assert!(report.culprits.is_empty());
    // Asked every time all the same: it may come back.
    assert_eq!(asked[3].load(Ordering::SeqCst), 4);
}

/// Two of five trustees stand still (as under `docker pause`): the other three's
/// shares open everything, and neither of the two is waited for.
#[tokio::test]
async fn two_paused_trustees_hold_nothing_up() {
    use Behaviour::*;
    let paused = Slow(Duration::from_secs(600));
    let (agency, envelopes, senders, _) = world([paused, Honest, Honest, Honest, paused], 6).await;
    let report = open(&agency.with_batch_size(2), &envelopes, senders).await;
    assert_eq!(report.opened_count, 6, "{:?}", report.failed);
    assert_eq!(report.share_requests, 3);
    assert_eq!(report.not_needed, BTreeMap::from([("trustee-0".to_string(), 3), ("trustee-4".to_string(), 3)]));
}

/// Trustee-0 answers at once with invalid shares, so the first three answers do not
/// open anything; the request to trustee-3, still in flight, is waited for, and
/// everything opens with its shares, trustee-0 named. Nobody is asked twice.
#[tokio::test]
async fn when_the_first_shares_fail_the_answers_in_flight_are_waited_for() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) =
        world([Lying, Honest, Honest, Slow(Duration::from_millis(300)), Refusing], 3).await;
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened.len(), 3, "{:?}", report.failed);
    assert_eq!(report.share_requests, 1);
    assert!(report.not_needed.is_empty(), "{:?}", report.not_needed);
    assert_eq!(report.culprits, BTreeMap::from([("trustee-0".to_string(), 3)]));
    assert!(asked.iter().all(|a| a.load(Ordering::SeqCst) == 1));
}

/// With too few honest trustees left, the messages fail once every answer is in, each
/// naming the shortfall and the culprit.
#[tokio::test]
async fn too_few_valid_shares_fail_once_every_answer_is_in() {
    use Behaviour::*;
    let (agency, envelopes, senders, _) = world([Lying, Honest, Honest, Refusing, Refusing], 2).await;
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(report.opened_count, 0);
    assert_eq!(report.failed.len(), 2);
    for (_, why) in &report.failed {
        assert!(
            matches!(why, NotOpened::Combine(CryptoError::NotEnoughShares { valid: 2, needed: 3, culprits }) if culprits == &[TrusteeIndex(0)]),
            "{why:?}"
        );
    }
}

/// With every trustee honest and fast, every message opens and nobody is asked twice.
#[tokio::test]
async fn with_every_trustee_up_every_message_opens_once() {
    use Behaviour::*;
    let (agency, envelopes, senders, asked) = world([Honest; 5], 3).await;
    let report = open(&agency, &envelopes, senders).await;
    assert_eq!(texts(&report), ["message 0", "message 1", "message 2"]);
    assert!(asked.iter().all(|a| a.load(Ordering::SeqCst) == 1));
}

/// Messages reach the sink in relay order, batch after batch, and a sink that fails
/// stops the open with its error: nothing after it is handed on.
#[tokio::test]
async fn the_sink_gets_messages_in_order_and_its_failure_stops_the_open() {
    use Behaviour::*;
    let (agency, envelopes, senders, _) = world([Honest; 5], 7).await;
    let agency = agency.with_batch_size(2);
    let mut seen = Vec::new();
    let report = open_all(&agency, &envelopes, &senders, |m| {
        seen.push(m.seq);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(seen, [1, 2, 3, 4, 5, 6, 7]);
    assert!(report.opened.is_empty(), "the streaming open keeps no plaintext");
    assert_eq!(report.opened_count, 7);
    let mut taken = 0;
    let failed = open_all(&agency, &envelopes, &senders, |_| {
        taken += 1;
        if taken == 3 {
            Err(std::io::Error::other("disk full"))
        } else {
            Ok(())
        }
    })
    .await;
    assert!(matches!(failed, Err(AgencyError::Output(ref e)) if e.to_string() == "disk full"), "{failed:?}");
    assert_eq!(taken, 3);
}

/// By default a lying trustee is named only if its answer came before the three
/// honest ones sufficed, and is counted as not needed otherwise; checking every
/// trustee always waits for it and names it for every share.
#[tokio::test]
async fn checking_every_trustee_names_a_liar_that_answers_last() {
    use Behaviour::*;
    let (agency, envelopes, senders, _) = world([Honest, Honest, Honest, Refusing, Lying], 3).await;
    let report = open(&agency, &envelopes, senders.clone()).await;
    assert_eq!(report.opened_count, 3, "{:?}", report.failed);
    let liar = "trustee-4".to_string();
    // Without the check, whether the liar was examined depends on who answered first.
    assert!(
        report.culprits.get(&liar) == Some(&3) || report.not_needed.get(&liar) == Some(&1),
        "{:?} {:?}",
        report.culprits,
        report.not_needed
    );
    let every = agency.check_every_trustee(Duration::from_secs(30));
    let report = open(&every, &envelopes, senders).await;
    assert_eq!(report.opened_count, 3, "{:?}", report.failed);
    assert_eq!(report.culprits, BTreeMap::from([(liar, 3)]));
    assert!(report.not_needed.is_empty(), "{:?}", report.not_needed);
    assert_eq!(report.trustee_errors.refusing(), ["trustee-3"]);
}

/// Checking every trustee, one that never answers costs the limit and is reported as
/// a deadline error; the others' shares still open everything.
#[tokio::test]
async fn checking_every_trustee_gives_up_on_a_paused_one_at_the_limit() {
    use Behaviour::*;
    let paused = Slow(Duration::from_secs(600));
    let (agency, envelopes, senders, _) = world([Honest, paused, Honest, Honest, Honest], 2).await;
    let every = agency.check_every_trustee(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let report = open(&every, &envelopes, senders).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(report.opened_count, 2, "{:?}", report.failed);
    assert!(report.not_needed.is_empty(), "{:?}", report.not_needed);
    assert_eq!(report.trustee_errors.unreachable(), ["trustee-1"]);
    let (_, errors) = report.trustee_errors.iter().next().unwrap();
    assert_eq!((errors[0].code, errors[0].count), (tonic::Code::DeadlineExceeded, 1), "{errors:?}");
}
