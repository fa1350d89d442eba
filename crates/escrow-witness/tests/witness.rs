//! The witness as a log and an HTTP client meet it: a real server on loopback (plain
//! and TLS with the deployment CA), every status of `add-checkpoint`, state kept
//! across a restart and untouched by every refusal, racing submissions, and a
//! property test over random forks.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use escrow_log::cosignature::{attach_cosignatures, verify_cosignatures};
use escrow_log::witness::{AddCheckpoint, LogKeys};
use escrow_log::*;
use escrow_service::clock::{Clock, SystemClock};
use escrow_witness::client::{AddOutcome, ClientError, WitnessClient};
use escrow_witness::{server, Witness};
use proptest::prelude::*;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ORIGIN: &str = "escrow-trustee/trustee-0";

struct Log {
    signer: CheckpointSigner,
    tree: MerkleTree,
}

impl Log {
    fn new(seed: u64) -> Self {
        let signer = CheckpointSigner::generate(ORIGIN, &mut rand_chacha::ChaCha20Rng::seed_from_u64(seed)).unwrap();
        Log { signer, tree: MerkleTree::new() }
    }
    /// The same key and a copy of the tree, assuming it was grown with tag "entry ".
    fn fork(&self) -> Self {
        let mut tree = MerkleTree::new();
        for i in 0..self.tree.size() {
            tree.append(leaf_hash(format!("entry {i}").as_bytes()));
        }
        assert_eq!(tree.root(tree.size()).unwrap(), self.tree.root(self.tree.size()).unwrap());
        Log { signer: CheckpointSigner::from_bytes(&self.signer.to_bytes()).unwrap(), tree }
    }
    fn grow(&mut self, n: u64, tag: &str) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.append(leaf_hash(format!("{tag}{i}").as_bytes()));
        }
    }
    fn note_at(&self, size: u64) -> String {
        self.signer.sign(&Checkpoint::new(ORIGIN, size, self.tree.root(size).unwrap()).unwrap())
    }
    fn request(&self, old: u64) -> AddCheckpoint {
        self.request_at(old, self.tree.size())
    }
    fn request_at(&self, old: u64, size: u64) -> AddCheckpoint {
        let proof = if old == 0 { vec![] } else { self.tree.consistency_proof(old, size).unwrap() };
        AddCheckpoint { old_size: old, proof, checkpoint: self.note_at(size) }
    }
}

fn logs_for(log: &Log) -> LogKeys {
    let mut keys = LogKeys::new();
    keys.add(ORIGIN, log.signer.verifier());
    keys
}

fn witness_signer() -> WitnessSigner {
    WitnessSigner::generate("witness.example/w1", &mut rand_chacha::ChaCha20Rng::seed_from_u64(7)).unwrap()
}

fn open(dir: &Path, log: &Log) -> Arc<Witness> {
    let signer = WitnessSigner::from_bytes(&witness_signer().to_bytes()).unwrap();
    Arc::new(Witness::open(dir, signer, logs_for(log), Arc::new(SystemClock)).unwrap())
}

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(witness: Arc<Witness>, tls: Option<Arc<rustls::ServerConfig>>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(server::serve(listener, witness, tls, async move {
        let _ = rx.await;
    }));
    Running { addr, stop: Some(tx), task }
}

fn client(addr: std::net::SocketAddr) -> WitnessClient {
    WitnessClient::new(&format!("http://{addr}"), None, Duration::from_secs(10)).unwrap()
}

/// One raw HTTP/1.1 exchange, to see statuses and headers exactly as sent.
async fn raw(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .unwrap_or_default();
    (status, content_type, out[split + 4..].to_vec())
}

async fn latest_size(witness: &Arc<Witness>) -> Option<u64> {
    let w = witness.clone();
    tokio::task::spawn_blocking(move || w.latest(ORIGIN).unwrap())
        .await
        .unwrap()
        .map(|note| note.split('\n').nth(1).unwrap().parse().unwrap())
}

#[tokio::test]
async fn every_status_of_add_checkpoint_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(5, "entry ");
    let witness = open(dir.path(), &log);
    let running = start(witness.clone(), None).await;
    let c = client(running.addr);

    // 200 from nothing, then 200 on a consistent extension; each cosignature verifies
    // under the witness's vkey over exactly the checkpoint sent.
    let vkey = witness.verifier();
    for old in [0, 5] {
        if old == 5 {
            log.grow(4, "entry ");
        }
        let req = log.request(old);
        let AddOutcome::Cosigned(lines) = c.add_checkpoint(&req).await.unwrap() else { panic!("not cosigned") };
        let cosigned = attach_cosignatures(&req.checkpoint, &lines).unwrap();
        assert_eq!(verify_cosignatures(cosigned.as_bytes(), std::slice::from_ref(&vkey)).unwrap().len(), 1);
    }
    assert_eq!(latest_size(&witness).await, Some(9));

    // 409 with the latest size, in the spec's content type.
    let stale = log.request_at(5, 9).to_body();
    let (status, ctype, body) = raw(running.addr, "POST", "/add-checkpoint", stale.as_bytes()).await;
    assert_eq!((status, ctype.as_str(), body.as_slice()), (409, "text/x.tlog.size", &b"9\n"[..]));
    assert_eq!(c.add_checkpoint(&log.request_at(0, 9)).await.unwrap(), AddOutcome::Conflict(9));
    // 409: the same size with another root (a fork of equal length).
    let mut fork = log.fork();
    fork.tree = MerkleTree::new();
    fork.grow(9, "forked ");
    let same = AddCheckpoint { old_size: 9, proof: vec![], checkpoint: fork.note_at(9) };
    assert_eq!(c.add_checkpoint(&same).await.unwrap(), AddOutcome::Conflict(9));
    // 422: a fork that grew past the cosigned size cannot prove consistency.
    fork.grow(3, "forked ");
    let (status, _, _) = raw(running.addr, "POST", "/add-checkpoint", fork.request(9).to_body().as_bytes()).await;
    assert_eq!(status, 422);
    // 403: the right origin signed by a key the witness does not trust.
    let mut impostor = Log::new(99);
    impostor.grow(12, "entry ");
    assert!(matches!(c.add_checkpoint(&impostor.request(0)).await.unwrap(), AddOutcome::Refused { status: 403, .. }));
    // 404: an origin it does not witness.
    let other = CheckpointSigner::generate("escrow-trustee/unknown", &mut rand::rngs::OsRng).unwrap();
    let foreign = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: other.sign(&Checkpoint::new("escrow-trustee/unknown", 0, EMPTY_ROOT).unwrap()),
    };
    assert!(matches!(c.add_checkpoint(&foreign).await.unwrap(), AddOutcome::Refused { status: 404, .. }));
    // 400: old size above the checkpoint's; garbage.
    let above = AddCheckpoint { old_size: 10, ..log.request(0) };
    assert!(matches!(c.add_checkpoint(&above).await.unwrap(), AddOutcome::Refused { status: 400, .. }));
    let (status, _, body) = raw(running.addr, "POST", "/add-checkpoint", b"old x\n\n").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // 413: a body over the spec's bound is cut off before parsing.
    let huge = vec![b'a'; escrow_log::witness::MAX_REQUEST_LEN + 1];
    assert_eq!(raw(running.addr, "POST", "/add-checkpoint", &huge).await.0, 413);
    // 405: add-checkpoint is a POST.
    assert_eq!(raw(running.addr, "GET", "/add-checkpoint", b"").await.0, 405);

    // None of the refusals moved the witness.
    assert_eq!(latest_size(&witness).await, Some(9));
    // The latest cosigned checkpoint is served to auditors, verifiable under a
    // policy naming the log and this witness.
    let served = c.latest(ORIGIN).await.unwrap().unwrap();
    let policy: Policy = format!("log {}\nwitness w1 {}\nquorum w1\n", log.signer.verifier(), vkey).parse().unwrap();
    assert_eq!(policy.verify(served.as_bytes()).unwrap().checkpoint.size(), 9);
    assert_eq!(c.latest("escrow-trustee/unknown").await.unwrap(), None);
    let (status, _, info) = raw(running.addr, "GET", "/", b"").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(info).unwrap().contains(&vkey.to_string()));
    running.stop().await;
}

#[tokio::test]
async fn a_restart_keeps_the_latest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(2);
    log.grow(6, "entry ");
    let running = start(open(dir.path(), &log), None).await;
    assert!(matches!(client(running.addr).add_checkpoint(&log.request(0)).await.unwrap(), AddOutcome::Cosigned(_)));
    running.stop().await;

    // A new process on the same directory: a log that "forgets" gets 409 with size 6,
    // and a fork of the same size is still refused.
    let witness = open(dir.path(), &log);
    let running = start(witness.clone(), None).await;
    let c = client(running.addr);
    assert_eq!(c.add_checkpoint(&log.request_at(0, 3)).await.unwrap(), AddOutcome::Conflict(6));
    let mut fork = log.fork();
    fork.tree = MerkleTree::new();
    fork.grow(6, "other ");
    let same = AddCheckpoint { old_size: 6, proof: vec![], checkpoint: fork.note_at(6) };
    assert_eq!(c.add_checkpoint(&same).await.unwrap(), AddOutcome::Conflict(6));
    log.grow(2, "entry ");
    assert!(matches!(c.add_checkpoint(&log.request(6)).await.unwrap(), AddOutcome::Cosigned(_)));
    assert_eq!(latest_size(&witness).await, Some(8));
    running.stop().await;
}

#[tokio::test]
async fn racing_submissions_from_one_old_size_get_one_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(3);
    log.grow(4, "entry ");
    let witness = open(dir.path(), &log);
    let running = start(witness.clone(), None).await;
    assert!(matches!(client(running.addr).add_checkpoint(&log.request(0)).await.unwrap(), AddOutcome::Cosigned(_)));
    // Eight clients each extend from size 4 to a different size.
    log.grow(8, "entry ");
    let mut tasks = Vec::new();
    for size in 5..=12 {
        let req = log.request_at(4, size);
        let c = client(running.addr);
        tasks.push(tokio::spawn(async move { (size, c.add_checkpoint(&req).await.unwrap()) }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let (size, outcome) = t.await.unwrap();
        match outcome {
            AddOutcome::Cosigned(_) => won.push(size),
            AddOutcome::Conflict(latest) => assert_ne!(latest, 4),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one extension from size 4 is cosigned: {won:?}");
    assert_eq!(latest_size(&witness).await, Some(won[0]));
    running.stop().await;
}

#[tokio::test]
async fn tls_from_the_deployment_ca() {
    let validity = escrow_pki::Validity::days_from(std::time::SystemTime::now(), 1);
    let ca = escrow_pki::Ca::generate("test CA", validity).unwrap();
    let id = escrow_pki::Identity::new(escrow_pki::Role::Witness, escrow_crypto_party("w1")).unwrap();
    let issued = ca.issue(&id, validity).unwrap();
    let tls = server::tls_config(&issued.cert_pem, &issued.key_pem).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(4);
    log.grow(3, "entry ");
    let running = start(open(dir.path(), &log), Some(tls)).await;
    let url = format!("https://{}", running.addr);
    let trust = one_root(&ca);
    let c = WitnessClient::new(&url, Some(&trust), Duration::from_secs(10)).unwrap();
    assert!(matches!(c.add_checkpoint(&log.request(0)).await.unwrap(), AddOutcome::Cosigned(_)));
    // Kept alive: a second request on the same client.
    assert!(c.latest(ORIGIN).await.unwrap().is_some());

    // Another federation's client refuses the witness; plain HTTP gets nowhere.
    let other = escrow_pki::Ca::generate("other CA", validity).unwrap();
    let stranger = WitnessClient::new(&url, Some(&one_root(&other)), Duration::from_secs(10)).unwrap();
    assert!(matches!(stranger.latest(ORIGIN).await, Err(ClientError::Transport { .. })));
    let plain = client(running.addr);
    assert!(plain.latest(ORIGIN).await.is_err());
    // A certificate of another role is not a witness's, whatever the address.
    let trustee = escrow_pki::Identity::new(escrow_pki::Role::Trustee, escrow_crypto_party("t")).unwrap();
    let wrong = ca.issue(&trustee, validity).unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let wrong_server =
        start(open(dir2.path(), &log), Some(server::tls_config(&wrong.cert_pem, &wrong.key_pem).unwrap())).await;
    let c2 =
        WitnessClient::new(&format!("https://{}", wrong_server.addr), Some(&trust), Duration::from_secs(10)).unwrap();
    assert!(matches!(c2.latest(ORIGIN).await, Err(ClientError::Transport { .. })));
    // URLs the client refuses up front.
    for bad in ["ftp://x", "https://", "not a url", "http://h/p?q=1"] {
        assert!(
            matches!(WitnessClient::new(bad, Some(&trust), Duration::from_secs(1)), Err(ClientError::Url { .. })),
            "{bad}"
        );
    }
    assert!(WitnessClient::new(&url, None, Duration::from_secs(1)).is_err(), "https needs the federation");
    wrong_server.stop().await;
    running.stop().await;
}

fn escrow_crypto_party(s: &str) -> escrow_crypto::PartyId {
    escrow_crypto::PartyId::new(s).unwrap()
}

#[test]
fn a_config_lists_origins_and_keys() {
    let log = Log::new(5);
    let text = escrow_witness::config::render(&[(ORIGIN.to_owned(), log.signer.verifier())]);
    let keys = escrow_witness::config::parse(&text).unwrap();
    assert_eq!(keys.get(ORIGIN).unwrap(), &[log.signer.verifier()]);
    for bad in [
        "[[log]]\norigin = \"x\"\n".to_owned(),
        "[[log]]\norigin = \"x\"\nvkey = \"garbage\"\n".to_owned(),
        format!("[[log]]\norigin = \"\"\nvkey = \"{}\"\n", log.signer.verifier()),
        format!("[[log]]\norigin = \"x\"\nvkey = \"{}\"\nurl = \"y\"\n", log.signer.verifier()),
        "log = 3".to_owned(),
    ] {
        assert!(escrow_witness::config::parse(&bad).is_err(), "{bad}");
    }
}

// ---- never two inconsistent cosignatures --------------------------------------------

/// One submission of a random run: which tree, which size, and whether the log tells
/// the truth about the old size (else a random one).
#[derive(Debug, Clone)]
struct Step {
    fork: bool,
    size: u64,
    honest_old: bool,
    old: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (any::<bool>(), 0u64..24, prop::bool::weighted(0.7), 0u64..24).prop_map(|(fork, size, honest_old, old)| Step {
        fork,
        size,
        honest_old,
        old,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Two trees share a prefix and then differ; a log submits random checkpoints of
    /// either, with proofs from the size it claims the witness holds. Every pair of
    /// checkpoints the witness cosigned lies on one tree.
    #[test]
    fn a_witness_never_cosigns_two_inconsistent_checkpoints(
        shared in 0u64..12,
        steps in prop::collection::vec(step(), 1..24),
    ) {
        let mut a = Log::new(6);
        a.grow(shared, "entry ");
        let mut b = a.fork();
        a.grow(24 - shared, "a ");
        b.grow(24 - shared, "b ");
        let dir = tempfile::tempdir().unwrap();
        let witness = open(dir.path(), &a);
        let mut cosigned: Vec<(u64, Hash)> = Vec::new();
        let mut held = 0u64;
        for s in steps {
            let tree = if s.fork { &b } else { &a };
            let size = s.size.max(1);
            let old = if s.honest_old { held.min(size) } else { s.old.min(size) };
            let req = tree.request_at(old, size);
            if witness.add_checkpoint(req.to_body().as_bytes()).is_ok() {
                cosigned.push((size, tree.tree.root(size).unwrap()));
                held = size;
            }
        }
        for (i, (s1, r1)) in cosigned.iter().enumerate() {
            for (s2, r2) in cosigned.iter().skip(i + 1) {
                let on = |t: &Log| t.tree.root(*s1).unwrap() == *r1 && t.tree.root(*s2).unwrap() == *r2;
                prop_assert!(on(&a) || on(&b), "cosigned ({s1}, {}) and ({s2}, {}) are on no one tree", hex::encode(r1), hex::encode(r2));
                prop_assert!(s2 >= s1, "a witness never goes back: {s1} then {s2}");
            }
        }
    }
}

#[test]
fn the_clock_stamps_cosignatures() {
    #[derive(Debug)]
    struct At(u64);
    impl Clock for At {
        fn now(&self) -> u64 {
            self.0
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(8);
    log.grow(2, "entry ");
    let w = Witness::open(dir.path(), witness_signer(), logs_for(&log), Arc::new(At(1_800_000_000))).unwrap();
    let req = log.request(0);
    let lines = w.add_checkpoint(req.to_body().as_bytes()).unwrap();
    let cosigned = attach_cosignatures(&req.checkpoint, &lines).unwrap();
    let found = verify_cosignatures(cosigned.as_bytes(), &[w.verifier()]).unwrap();
    assert_eq!(found[0].timestamp, 1_800_000_000);
}

/// A federation of one organisation whose CA `ca` certifies everyone.
fn one_root(ca: &escrow_pki::Ca) -> std::sync::Arc<escrow_pki::trust::Trust> {
    escrow_pki::trust::Trust::new(escrow_pki::Federation::one_root("test", "root", ca, vec![]).unwrap()).unwrap()
}
