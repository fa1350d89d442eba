//! Group commit: concurrent sends gathered into one batch, their escrow fields checked
//! together, stored in one transaction and one fsync, each acknowledged only after it.
//!
//! `Send` handlers make every check but the pairing on their own threads (decoding,
//! the sender's signature, registered parties, epoch, clock skew, hashing the field
//! to G2), then queue the message here and wait. One committer thread takes whatever
//! has queued — at most [`Commit::Grouped`]'s `max_batch` messages and
//! [`MAX_BATCH_BYTES`] — while the previous batch was being written, so one sender
//! alone waits for one fsync, and under load the fsync is shared:
//!
//! 1. the batch's fields are checked by [`escrow_crypto::verify_fields`] (one
//!    multi-pairing with random weights, whose Miller loop blst spreads over the
//!    cores; if it fails, each field is checked alone, so each bad field is named and
//!    refused alone);
//! 2. every message that passed is inserted in one `IMMEDIATE` transaction; a message
//!    id already stored, or repeated inside the batch, is refused as a duplicate;
//! 3. the transaction commits (WAL, `synchronous=FULL`: the fsync), and only then does
//!    any sender hear "accepted". If the commit fails, every message of the batch is
//!    refused and none is stored.
//!
//! The queue is bounded in messages and bytes. A full queue refuses at once with
//! `RESOURCE_EXHAUSTED` and a `retry-after-ms` estimated from the committer's recent
//! speed: back-pressure instead of unbounded memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use escrow_crypto::{verify_fields, FieldCheck};
use escrow_service::metrics::with_rule;
use escrow_service::status::from_crypto;
use prometheus_client::metrics::histogram::Histogram;
use rusqlite::Connection;
use tokio::sync::oneshot;
use tonic::Status;

use crate::store::{self, NewMessage};

/// How the relay stores accepted envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Each message checked on its own handler thread (two pairings) and committed in
    /// its own transaction, with its own fsync: the relay before group commit, kept as
    /// the ingest benchmark's baseline.
    EachAlone,
    /// Concurrent messages checked together and committed together (this module).
    Grouped {
        /// Most messages in one batch.
        max_batch: usize,
        /// Most messages waiting for the committer; more are refused with
        /// `RESOURCE_EXHAUSTED`.
        queue: usize,
    },
}

/// Most messages in one batch by default.
pub const DEFAULT_MAX_BATCH: usize = 256;
/// Most messages waiting for the committer by default.
pub const DEFAULT_QUEUE: usize = 4096;
/// The default: grouped, [`DEFAULT_MAX_BATCH`] and [`DEFAULT_QUEUE`].
pub const DEFAULT_COMMIT: Commit = Commit::Grouped { max_batch: DEFAULT_MAX_BATCH, queue: DEFAULT_QUEUE };

/// Most envelope bytes in one batch (its transaction), whatever the message count.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
/// Most envelope bytes waiting for the committer.
pub const MAX_QUEUED_BYTES: usize = 256 * 1024 * 1024;

/// A message that passed every check but its field's pairing, owning its values.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) message_id: Vec<u8>,
    pub(crate) sender: String,
    pub(crate) timestamp: i64,
    pub(crate) recipients: Vec<String>,
    pub(crate) envelope: Vec<u8>,
    pub(crate) received_at: i64,
    /// Its fields' pending pairing checks: one for an envelope, one per field for an
    /// envelope with domain fields (none if its parties' domains escrow nothing).
    pub(crate) checks: Vec<FieldCheck>,
}

/// What the answer to a stored message needs, once the message itself has gone to
/// the committer.
#[derive(Debug)]
pub(crate) struct Receipt {
    pub(crate) message_id: Vec<u8>,
    pub(crate) received_at: i64,
    pub(crate) recipients: usize,
    pub(crate) bytes: usize,
}

impl Admitted {
    pub(crate) fn receipt(&self) -> Receipt {
        Receipt {
            message_id: self.message_id.clone(),
            received_at: self.received_at,
            recipients: self.recipients.len(),
            bytes: self.envelope.len(),
        }
    }

    pub(crate) fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            message_id: &self.message_id,
            sender: &self.sender,
            timestamp: self.timestamp,
            recipients: self.recipients.iter().map(String::as_str).collect(),
            envelope: &self.envelope,
            received_at: self.received_at,
        }
    }
}

/// The refusal of a field that failed its pairing check.
pub(crate) fn invalid_field(e: &escrow_crypto::Error) -> Status {
    from_crypto("envelope", e)
}

/// The refusal of a message id that is already stored.
pub(crate) fn duplicate(message_id: &[u8]) -> Status {
    with_rule(Status::already_exists(format!("message id {} was already sent", hex::encode(message_id))), "duplicate")
}

fn db_failed(e: &rusqlite::Error) -> Status {
    tracing::error!(error = %e, "database error while storing a batch of envelopes; none of it was stored");
    Status::internal("relay database error while storing an envelope")
}

struct Waiting {
    message: Admitted,
    reply: oneshot::Sender<Result<i64, Status>>,
}

#[derive(Default)]
struct State {
    items: VecDeque<Waiting>,
    bytes: usize,
    closed: bool,
}

struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    /// Recent committer time per message, nanoseconds (a moving average).
    per_message_ns: AtomicU64,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The committer never panics holding the lock (no user code runs under it);
        // should it, the queue's contents are still whole.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Up to `max` messages and [`MAX_BATCH_BYTES`] (always at least one), waiting
    /// for the first; `None` once closed and empty.
    fn take(&self, max: usize) -> Option<Vec<Waiting>> {
        let mut s = self.lock();
        while s.items.is_empty() {
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while let Some(next) = s.items.front() {
            let len = next.message.envelope.len();
            if batch.len() >= max || (!batch.is_empty() && bytes.saturating_add(len) > MAX_BATCH_BYTES) {
                break;
            }
            bytes = bytes.saturating_add(len);
            if let Some(w) = s.items.pop_front() {
                batch.push(w);
            }
        }
        s.bytes = s.bytes.saturating_sub(bytes);
        Some(batch)
    }
}

/// The committer: a queue and the thread that empties it. Dropping it closes the
/// queue, lets the thread finish what was queued, and waits for it, so the database
/// is quiet before the data directory's lock is released.
pub(crate) struct Committer {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").field("capacity", &self.queue.capacity).finish_non_exhaustive()
    }
}

/// What the committer counts.
#[derive(Clone, Debug)]
pub(crate) struct CommitMetrics {
    pub(crate) batch_messages: Histogram,
}

impl Committer {
    /// Starts the committer thread on its own connection `conn`.
    pub(crate) fn start(
        conn: Connection,
        max_batch: usize,
        capacity: usize,
        metrics: CommitMetrics,
    ) -> std::io::Result<Committer> {
        let queue = Arc::new(Queue {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            per_message_ns: AtomicU64::new(1_000_000),
        });
        let q = Arc::clone(&queue);
        let max_batch = max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("relay-commit".into())
            .spawn(move || run(&q, conn, max_batch, &metrics))?;
        Ok(Committer { queue, thread: Some(thread) })
    }

    /// Queues `message` and waits for its batch's commit: its seq, or why it was refused.
    pub(crate) async fn submit(&self, message: Admitted) -> Result<i64, Status> {
        let (reply, answer) = oneshot::channel();
        {
            let mut s = self.queue.lock();
            let len = message.envelope.len();
            if s.closed {
                return Err(Status::unavailable("the relay is shutting down"));
            }
            if s.items.len() >= self.queue.capacity || s.bytes.saturating_add(len) > MAX_QUEUED_BYTES {
                return Err(self.full(s.items.len()));
            }
            s.bytes = s.bytes.saturating_add(len);
            s.items.push_back(Waiting { message, reply });
        }
        self.queue.ready.notify_one();
        answer.await.unwrap_or_else(|_| {
            tracing::error!("the relay's committer dropped a queued message");
            Err(Status::internal("relay committer stopped"))
        })
    }

    fn full(&self, queued: usize) -> Status {
        let per = self.queue.per_message_ns.load(Ordering::Relaxed);
        let ms = (u64::try_from(queued).unwrap_or(u64::MAX).saturating_mul(per) / 1_000_000).clamp(5, 5_000);
        let mut status = with_rule(
            Status::resource_exhausted(format!(
                "the relay's ingest queue is full ({queued} messages waiting); retry in {ms} ms"
            )),
            "busy",
        );
        if let Ok(v) = ms.to_string().parse() {
            status.metadata_mut().insert(escrow_service::auth::RETRY_AFTER_MS, v);
        }
        status
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the relay's committer thread panicked");
            }
        }
    }
}

fn run(queue: &Queue, mut conn: Connection, max_batch: usize, metrics: &CommitMetrics) {
    while let Some(batch) = queue.take(max_batch) {
        let started = Instant::now();
        let n = batch.len();
        // A panic in the checks or the store must not end the thread: the queue would
        // then wait forever. The batch's transaction was rolled back when it unwound.
        let outcomes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(&mut conn, &batch)))
            .unwrap_or_else(|_| {
                tracing::error!(messages = n, "committing a batch panicked; its messages are refused");
                vec![Err(Status::internal("the relay could not store this envelope")); n]
            });
        metrics.batch_messages.observe(n as f64);
        let per = started.elapsed().as_nanos() / n.max(1) as u128;
        let old = queue.per_message_ns.load(Ordering::Relaxed);
        let new = (old.saturating_mul(7).saturating_add(u64::try_from(per).unwrap_or(u64::MAX))) / 8;
        queue.per_message_ns.store(new, Ordering::Relaxed);
        tracing::debug!(messages = n, elapsed_us = started.elapsed().as_micros() as u64, "batch committed");
        for (w, outcome) in batch.into_iter().zip(outcomes) {
            // The sender may have gone (its request cancelled): the outcome stands.
            let _ = w.reply.send(outcome);
        }
    }
}

/// Checks and stores one batch; one outcome per message, in order.
fn commit(conn: &mut Connection, batch: &[Waiting]) -> Vec<Result<i64, Status>> {
    let checks: Vec<FieldCheck> = batch.iter().flat_map(|w| w.message.checks.iter().copied()).collect();
    let mut field_verdicts = check_fields(&checks).into_iter();
    // Each message's verdict is its first failing field's, or Ok; all of its fields'
    // verdicts are taken, so the next message starts at its own.
    let verdicts: Vec<Result<(), Status>> = batch
        .iter()
        .map(|w| {
            let mine: Vec<_> = field_verdicts.by_ref().take(w.message.checks.len()).collect();
            mine.into_iter().find(Result::is_err).unwrap_or(Ok(()))
        })
        .collect();
    let stored = (|| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut seqs = Vec::with_capacity(batch.len());
        for (w, verdict) in batch.iter().zip(&verdicts) {
            seqs.push(match verdict {
                Ok(()) => store::insert_in(&tx, &w.message.as_new())?,
                Err(_) => None,
            });
        }
        tx.commit()?;
        Ok::<_, rusqlite::Error>(seqs)
    })();
    match stored {
        Ok(seqs) => batch
            .iter()
            .zip(verdicts)
            .zip(seqs)
            .map(|((w, verdict), seq)| {
                verdict?;
                seq.ok_or_else(|| duplicate(&w.message.message_id))
            })
            .collect(),
        Err(e) => {
            let status = db_failed(&e);
            batch.iter().map(|_| Err(status.clone())).collect()
        }
    }
}

/// [`verify_fields`] over the batch, each failure as the refusal the sender gets.
fn check_fields(checks: &[FieldCheck]) -> Vec<Result<(), Status>> {
    verify_fields(checks, &mut rand::rngs::OsRng).into_iter().map(|r| r.map_err(|e| invalid_field(&e))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use escrow_crypto::{dealer_keygen, DealerOutput, Envelope, EpochId, PartyId, SealRequest, UserSecretKey};
    use rand::SeedableRng;

    struct Fixture {
        keys: DealerOutput,
        alice: UserSecretKey,
        bob: UserSecretKey,
        rng: rand_chacha::ChaCha20Rng,
    }

    impl Fixture {
        fn new() -> Self {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
            let keys = dealer_keygen(EpochId(1), 1, 3, &mut rng).unwrap();
            let alice = UserSecretKey::generate(PartyId::new("alice").unwrap(), &mut rng);
            let bob = UserSecretKey::generate(PartyId::new("bob").unwrap(), &mut rng);
            Fixture { keys, alice, bob, rng }
        }

        fn seal(&mut self, id: u8, text: &[u8]) -> Envelope {
            let req = SealRequest {
                sender: &self.alice,
                recipients: &[self.bob.public()],
                epoch_key: &self.keys.public,
                message_id: [id; 16],
                timestamp: 1_767_225_600,
                plaintext: text,
            };
            Envelope::seal(&req, &mut self.rng).unwrap()
        }

        /// `env` queued, with its field checked under `checked_under`'s label.
        fn waiting(&self, env: &Envelope, checked_under: &Envelope) -> Waiting {
            let label = env.label();
            let message = Admitted {
                message_id: label.message_id().to_vec(),
                sender: label.sender().to_string(),
                timestamp: 1,
                recipients: label.recipients().iter().map(ToString::to_string).collect(),
                envelope: env.as_bytes().to_vec(),
                received_at: 1,
                checks: vec![env.field().pending_check(&self.keys.public, checked_under.label()).unwrap()],
            };
            Waiting { message, reply: oneshot::channel().0 }
        }
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(store::SCHEMA).unwrap();
        conn
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    /// One batch of 40: the good are stored in
    /// order, a field checked under another message's label is refused alone and
    /// named, and of two messages with one id only the first is stored.
    #[test]
    fn a_batch_stores_the_good_and_refuses_each_bad_message_alone() {
        let mut f = Fixture::new();
        let envs: Vec<Envelope> = (0..40u8).map(|i| f.seal(i, &[i])).collect();
        let mut batch: Vec<Waiting> = envs.iter().map(|e| f.waiting(e, e)).collect();
        batch[5] = f.waiting(&envs[5], &envs[6]);
        batch[31] = f.waiting(&envs[31], &envs[0]);
        let again = f.seal(9, b"another text under message id 9");
        batch[20] = f.waiting(&again, &again);
        let mut conn = db();
        let out = commit(&mut conn, &batch);
        for (i, o) in out.iter().enumerate() {
            match i {
                5 | 31 => {
                    let e = o.as_ref().unwrap_err();
                    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{i}: {e:?}");
                    assert!(e.message().contains("escrow field is invalid"), "{i}: {e:?}");
                }
                20 => {
                    let e = o.as_ref().unwrap_err();
                    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{i}: {e:?}");
                    assert!(e.message().contains(&hex::encode([9u8; 16])), "{e:?}");
                }
                _ => assert!(o.is_ok(), "{i}: {o:?}"),
            }
        }
        let seqs: Vec<i64> = out.iter().filter_map(|o| o.as_ref().ok().copied()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs follow the queue's order: {seqs:?}");
        assert_eq!((count(&conn, "messages"), count(&conn, "recipients")), (37, 37));
        let stored_9: Vec<u8> =
            conn.query_row("SELECT envelope FROM messages WHERE message_id = ?1", [[9u8; 16]], |r| r.get(0)).unwrap();
        assert_eq!(stored_9, envs[9].as_bytes(), "the first of the two messages with id 9 is the one stored");
        // Sent again in a later batch: a duplicate of what is stored.
        let out = commit(&mut conn, &[f.waiting(&envs[0], &envs[0])]);
        assert_eq!(out[0].as_ref().unwrap_err().code(), tonic::Code::AlreadyExists);
    }

    /// A transaction that fails refuses every message of its batch and stores none.
    #[test]
    fn a_failed_commit_refuses_the_whole_batch_and_stores_nothing() {
        let mut f = Fixture::new();
        let envs: Vec<Envelope> = (0..3u8).map(|i| f.seal(i, b"x")).collect();
        let batch: Vec<Waiting> = envs.iter().map(|e| f.waiting(e, e)).collect();
        let mut conn = db();
        // The recipients table goes missing: the first message's messages row is
        // written, then its recipient row fails.
        conn.execute_batch("DROP TABLE recipients").unwrap();
        let out = commit(&mut conn, &batch);
        assert!(out.iter().all(|o| o.as_ref().is_err_and(|e| e.code() == tonic::Code::Internal)), "{out:?}");
        assert_eq!(count(&conn, "messages"), 0);
    }

    #[test]
    fn take_stops_at_the_batch_size_and_keeps_the_order() {
        let mut f = Fixture::new();
        let queue = Queue {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            capacity: 10,
            per_message_ns: AtomicU64::new(0),
        };
        for i in 0..5u8 {
            let e = f.seal(i, b"x");
            let w = f.waiting(&e, &e);
            let mut s = queue.lock();
            s.bytes += w.message.envelope.len();
            s.items.push_back(w);
        }
        let ids = |b: Vec<Waiting>| b.iter().map(|w| w.message.message_id[0]).collect::<Vec<_>>();
        assert_eq!(ids(queue.take(3).unwrap()), vec![0, 1, 2]);
        queue.lock().closed = true;
        // Closed, but what was queued is still taken before the end.
        assert_eq!(ids(queue.take(3).unwrap()), vec![3, 4]);
        assert_eq!(queue.lock().bytes, 0);
        assert!(queue.take(3).is_none());
    }
}
