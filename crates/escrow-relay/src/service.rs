//! The `Relay` gRPC service: request checks, then the store.
//!
//! Each handler does its work in one `spawn_blocking` closure: decoding and pairing
//! checks cost milliseconds and SQLite blocks, and neither may stall the async
//! workers that carry every other connection. The connection sits in a
//! `std::sync::Mutex` held only around store calls — never across an `.await`, and
//! never around a pairing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use escrow_crypto::domain_envelope::MAX_DOMAIN_ENVELOPE_LEN;
use escrow_crypto::envelope::MAX_ENVELOPE_WITH_DAYS_LEN;
use escrow_crypto::{
    CourtPublicKey, Domain, DomainEnvelope, Envelope, EpochPublicKey, Error, Jurisdictions, PartyId, UserPublicKey,
    VerifiedWarrant,
};
use escrow_pki::Identity;
use escrow_proto::v1::relay_server::Relay;
use escrow_proto::v1::{
    ExportRequest, ExportResponse, FetchInboxRequest, FetchInboxResponse, GetEpochKeyRequest, GetEpochKeyResponse,
    GetUserRequest, GetUserResponse, RegisterUserRequest, RegisterUserResponse, SendRequest, SendResponse,
    StoredEnvelope,
};
use escrow_service::auth;
use escrow_service::clock::Clock;
use escrow_service::metrics::with_rule;
use escrow_service::status::from_crypto;
use escrow_service::transport::MAX_MESSAGE_BYTES;
use rusqlite::Connection;
use tonic::{Request, Response, Status};

use crate::ingest::{Admitted, Committer};
use crate::rules::{self, Rejection};
use crate::store::{self, PageBounds, Registration};
use crate::{Commit, RelayConfig, RelayError, DB_FILE, MAX_PAGE};

/// Envelope bytes in one page. The rest of the gRPC cap covers, per envelope, its
/// protobuf framing (tags, lengths, two varints: under 32 bytes) and one framed sender
/// key (at most 134 + 8 bytes); one envelope always fits, so paging never stalls.
const PAGE_BYTES: usize = MAX_MESSAGE_BYTES - 256 * 1024;
const _: () = assert!(PAGE_BYTES + (MAX_PAGE as usize) * (32 + 134 + 8) < MAX_MESSAGE_BYTES);
const _: () = assert!(MAX_ENVELOPE_WITH_DAYS_LEN < PAGE_BYTES);
const _: () = assert!(MAX_DOMAIN_ENVELOPE_LEN < PAGE_BYTES);

/// The relay's gRPC service. Build it with [`RelayService::open`], run it with
/// [`crate::serve`].
#[derive(Clone, Debug)]
pub struct RelayService {
    inner: Arc<Inner>,
}

/// Most decoded user keys the relay keeps in memory ([`Inner::registered`]).
const KEY_CACHE: usize = 65_536;

#[derive(Debug)]
struct Inner {
    db: Mutex<Connection>,
    /// Decoded keys of registered users and their certified homes, by id. A key never
    /// changes (the first wins, and nothing unregisters), nor does a stored home; a
    /// registration drops the id's entry, for the home a user from before certificates
    /// were kept gets then. At most [`KEY_CACHE`] entries: when full it is emptied, so
    /// memory stays bounded whatever callers do.
    keys: Mutex<HashMap<String, rules::Registered>>,
    epoch_key: EpochPublicKey,
    jurisdictions: Option<Jurisdictions>,
    epoch_key_bytes: Vec<u8>,
    announcement_bytes: Vec<u8>,
    trusted_courts: Vec<CourtPublicKey>,
    max_clock_skew_secs: u64,
    clock: Arc<dyn Clock>,
    rate_limit: escrow_service::ratelimit::RateLimit,
    metrics: crate::metrics::RelayMetrics,
    /// The group committer (`None`: [`crate::Commit::EachAlone`]). Declared before the
    /// lock: dropping it waits for its last batch, then the lock goes.
    committer: Option<Committer>,
    /// Held for the life of the service: one process per data directory.
    _lock: escrow_service::datadir::DataDirLock,
}

impl RelayService {
    /// Opens (creating if needed) the relay's database in `config.data_dir`.
    pub fn open(config: RelayConfig) -> Result<Self, RelayError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| RelayError::DataDir { path: config.data_dir.clone(), source })?;
        let mut lock = escrow_service::datadir::lock(&config.data_dir)?;
        let path = config.data_dir.join(DB_FILE);
        let mut conn = escrow_service::db::open(&path, store::SCHEMA)?;
        tracing::info!(
            db = %path.display(),
            epoch = config.epoch_key.epoch().0,
            trusted_courts = config.trusted_courts.len(),
            max_clock_skew_secs = config.max_clock_skew_secs,
            "relay opened"
        );
        if let Some(a) = &config.announcement {
            if a.key_set() != &config.epoch_key {
                return Err(RelayError::Announcement("the announcement states another key set than the epoch key"));
            }
        } else {
            tracing::warn!(
                "no epoch announcement: serving a bare (dealt) key; clients with pinned trustee keys refuse it"
            );
        }
        let served = crate::pin::Served::new(&config.epoch_key, config.announcement.as_ref());
        let now = i64::try_from(config.clock.now()).unwrap_or(i64::MAX);
        crate::pin::pin(&mut conn, &served, now).map_err(|e| match e {
            crate::pin::PinError::Conflict(c) => RelayError::EpochConflict(c),
            crate::pin::PinError::Db(source) => {
                RelayError::Database(escrow_service::db::DbError { path: path.clone(), source })
            }
            crate::pin::PinError::Corrupt(epoch) => RelayError::CorruptPin { path: path.clone(), epoch },
        })?;
        let metrics = crate::metrics::RelayMetrics::new();
        let committer = match config.commit {
            Commit::EachAlone => None,
            Commit::Grouped { max_batch, queue } => {
                let conn = escrow_service::db::open(&path, store::SCHEMA)?;
                Some(Committer::start(conn, max_batch, queue, metrics.commit.clone()).map_err(RelayError::Thread)?)
            }
        };
        // Every refusal is behind us: the lock file stays from here on.
        lock.keep();
        Ok(RelayService {
            inner: Arc::new(Inner {
                db: Mutex::new(conn),
                keys: Mutex::new(HashMap::new()),
                announcement_bytes: config.announcement.as_ref().map(|a| a.signed().to_bytes()).unwrap_or_default(),
                epoch_key_bytes: config.epoch_key.to_bytes(),
                epoch_key: config.epoch_key,
                jurisdictions: config.jurisdictions,
                trusted_courts: config.trusted_courts,
                max_clock_skew_secs: config.max_clock_skew_secs,
                clock: config.clock,
                rate_limit: config.rate_limit,
                metrics,
                committer,
                _lock: lock,
            }),
        })
    }

    /// The per-caller request rate this relay enforces.
    pub fn rate_limit(&self) -> escrow_service::ratelimit::RateLimit {
        self.inner.rate_limit
    }

    /// The relay's metrics registry (RPC metrics included).
    pub fn metrics(&self) -> &escrow_service::metrics::Metrics {
        &self.inner.metrics.registry
    }

    /// Sets the gauges read from the database; blocks (call it off the async workers).
    pub fn refresh_metrics(&self) {
        let Ok(conn) = self.inner.db() else { return };
        let count = |table: &str| {
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                .map_err(|e| tracing::error!(error = %e, table, "could not count rows for metrics"))
        };
        if let Ok(n) = count("users") {
            self.inner.metrics.users.set(n);
        }
        if let Ok(n) = count("messages") {
            self.inner.metrics.messages.set(n);
        }
    }

    /// Runs `f` on a blocking thread.
    async fn blocking<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, Status> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await.map_err(|e| {
            tracing::error!(error = %e, "relay worker task failed");
            Status::internal("relay worker task failed")
        })?
    }
}

/// A database failure: logged in full here, reported to the caller by operation only.
fn db_error(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> Status {
    move |e| {
        tracing::error!(error = %e, "database error while {doing}");
        Status::internal(format!("relay database error while {doing}"))
    }
}

/// `v` as SQLite's i64, refusing (not wrapping) values above `i64::MAX`.
fn to_i64(v: u64, what: &str) -> Result<i64, Status> {
    i64::try_from(v)
        .map_err(|_| Status::invalid_argument(format!("{what} {v} is above the largest storable {}", i64::MAX)))
}

/// A stored i64 back to u64; negative values mean a corrupted database.
fn from_i64(v: i64, what: &str) -> Result<u64, Status> {
    u64::try_from(v).map_err(|_| {
        tracing::error!(value = v, "negative {what} in the relay database");
        Status::internal(format!("relay database holds a negative {what}"))
    })
}

/// The page size for a requested `limit` (0 means the maximum).
fn page_limit(limit: u32) -> usize {
    let n = if limit == 0 { MAX_PAGE } else { limit.min(MAX_PAGE) };
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn parse_user_id(s: &str) -> Result<PartyId, Status> {
    PartyId::new(s).map_err(|e| from_crypto(&format!("user id {s:?}"), &e))
}

/// The first bytes of a message id in hex: enough to find it in logs.
fn id_prefix(id: &[u8]) -> String {
    id.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl Inner {
    fn db(&self) -> Result<MutexGuard<'_, Connection>, Status> {
        // A panic mid-call leaves the connection in an unknown state: fail closed.
        self.db.lock().map_err(|_| {
            tracing::error!("relay database lock poisoned");
            Status::internal("relay database unavailable")
        })
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// A key this relay stored itself; failing to decode it means a corrupted database.
    fn stored_user_key(id: &str, blob: &[u8]) -> Result<UserPublicKey, Status> {
        UserPublicKey::from_bytes(blob).map_err(|e| {
            tracing::error!(user = id, error = %e, "stored user key does not decode");
            Status::internal(format!("stored key of user {id} is corrupted"))
        })
    }

    /// The key `id` registered and its certified home, from memory or else from the
    /// database; `None` if `id` is not registered.
    fn registered(&self, id: &PartyId) -> Result<Option<rules::Registered>, Status> {
        let cache = || self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = cache().get(id.as_str()) {
            return Ok(Some(k.clone()));
        }
        let (blob, home) = {
            let conn = self.db()?;
            let Some(blob) = store::user_key(&conn, id.as_str()).map_err(db_error("looking up a user"))? else {
                return Ok(None);
            };
            let home = store::user_certificate(&conn, id.as_str())
                .map_err(db_error("looking up a user's certificate"))?
                .and_then(|(_, home)| home);
            (blob, home)
        };
        let key = Arc::new(Self::stored_user_key(id.as_str(), &blob)?);
        let home = home
            .map(|h| {
                Domain::new(h).map_err(|e| {
                    tracing::error!(user = id.as_str(), error = %e, "stored home does not parse");
                    Status::internal(format!("stored home of user {id} is corrupted"))
                })
            })
            .transpose()?;
        let mut keys = cache();
        if keys.len() >= KEY_CACHE {
            keys.clear();
        }
        keys.insert(id.as_str().to_owned(), (Arc::clone(&key), home.clone()));
        Ok(Some((key, home)))
    }

    /// Forgets what [`Inner::registered`] cached for `id`.
    fn forget_registered(&self, id: &str) {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    /// Binds the caller's id to its key (first registration wins) and keeps the
    /// certificate the call came with, `certificate`, which the handshake verified and
    /// `who` was read from: what `GetUser` serves, so that clients read the user's
    /// home from its organisation's certificate rather than from the relay.
    fn register_user(&self, who: &Identity, certificate: &[u8], blob: &[u8]) -> Result<(), Status> {
        let key = UserPublicKey::from_bytes(blob).map_err(|e| from_crypto("user public key", &e))?;
        if key.id() != who.id() {
            return Err(auth::denied(
                who,
                "RegisterUser",
                &format!("the key is for user {}, not the caller", key.id()),
            ));
        }
        let id = key.id().as_str();
        let now = to_i64(self.now(), "relay clock")?;
        let home = who.home().map(escrow_crypto::Domain::as_str);
        let new = store::NewUser { id, key: &key.to_bytes(), certificate, home, at: now };
        let outcome = store::register(&mut *self.db()?, &new).map_err(db_error("registering a user"))?;
        self.forget_registered(id);
        match outcome {
            Registration::Inserted => {
                tracing::info!(user = id, home, "user registered");
                Ok(())
            }
            Registration::Unchanged => Ok(()),
            Registration::Conflict => Err(with_rule(
                Status::already_exists(format!("user {id} is already registered with another key")),
                "duplicate",
            )),
            Registration::HomeConflict { stored } => Err(with_rule(
                Status::already_exists(format!(
                    "user {id} is registered with home {}; this certificate names {}",
                    stored.as_deref().unwrap_or("none"),
                    home.unwrap_or("none")
                )),
                "home-changed",
            )),
        }
    }

    /// The user's key and the certificate it last registered with (empty if none).
    fn get_user(&self, user_id: &str) -> Result<GetUserResponse, Status> {
        let id = parse_user_id(user_id)?;
        let conn = self.db()?;
        let user_public_key = store::user_key(&conn, id.as_str())
            .map_err(db_error("looking up a user"))?
            .ok_or_else(|| Status::not_found(format!("user {id} is not registered")))?;
        let certificate = store::user_certificate(&conn, id.as_str())
            .map_err(db_error("looking up a user's certificate"))?
            .map(|(der, _)| der)
            .unwrap_or_default();
        Ok(GetUserResponse { user_public_key, certificate })
    }

    /// The checks of `Send`, cheapest first once the sender is authenticated, up to
    /// the escrow field's pairing: what is left is [`Admitted::check`], made by the
    /// committer for a batch at once, or by [`Inner::commit_alone`]. Nothing is
    /// written here.
    fn admit(&self, who: &Identity, bytes: Vec<u8>) -> Result<Admitted, Status> {
        let now = self.now();
        let refusal = |r| match r {
            Rejection::Refused(r) => refused(who, &r),
            Rejection::Lookup(status) => status,
        };
        let domain_fields = rules::has_domain_fields(&bytes);
        let (message_id, sender, timestamp, recipients, checks) = match (&self.jurisdictions, domain_fields) {
            (Some(j), true) => {
                let a =
                    rules::accept_domain(&bytes, who.id(), j, now, self.max_clock_skew_secs, |id| self.registered(id))
                        .map_err(refusal)?;
                let m = a.envelope.message();
                (m.message_id().to_vec(), m.sender().clone(), m.timestamp(), m.recipients().to_vec(), a.checks)
            }
            (Some(j), false) => {
                let domains = j.domains().map(Domain::as_str).collect::<Vec<_>>().join(", ");
                return Err(refused(who, &rules::Refusal::NeedsDomainFields { domains }));
            }
            (None, true) => return Err(refused(who, &rules::Refusal::NoDomains)),
            (None, false) => {
                let a = rules::accept(&bytes, who.id(), &self.epoch_key, now, self.max_clock_skew_secs, |id| {
                    self.registered(id).map(|r| r.map(|(key, _)| key))
                })
                .map_err(refusal)?;
                let l = a.envelope.label();
                (l.message_id().to_vec(), l.sender().clone(), l.timestamp(), l.recipients().to_vec(), vec![a.check])
            }
        };
        Ok(Admitted {
            message_id,
            sender: sender.as_str().to_owned(),
            timestamp: to_i64(timestamp, "envelope timestamp")?,
            recipients: recipients.iter().map(|r| r.as_str().to_owned()).collect(),
            received_at: to_i64(now, "relay clock")?,
            envelope: bytes,
            checks,
        })
    }

    /// [`Commit::EachAlone`]: the pairing on this thread, then a transaction (and an
    /// fsync) of the message's own.
    fn commit_alone(&self, a: &Admitted) -> Result<i64, Status> {
        for check in &a.checks {
            check.verify().map_err(|e| crate::ingest::invalid_field(&e))?;
        }
        store::insert_message(&mut *self.db()?, &a.as_new())
            .map_err(db_error("storing an envelope"))?
            .ok_or_else(|| crate::ingest::duplicate(&a.message_id))
    }

    fn fetch_inbox(&self, who: &Identity, req: &FetchInboxRequest) -> Result<FetchInboxResponse, Status> {
        let id = parse_user_id(&req.user_id)?;
        if &id != who.id() {
            return Err(auth::denied(who, "FetchInbox", &format!("only {id} may read its inbox")));
        }
        let bounds = PageBounds {
            after_seq: to_i64(req.after_seq, "after_seq")?,
            limit: page_limit(req.limit),
            max_bytes: PAGE_BYTES,
        };
        let page = {
            let conn = self.db()?;
            if store::user_key(&conn, id.as_str()).map_err(db_error("looking up a user"))?.is_none() {
                return Err(Status::not_found(format!("user {id} is not registered")));
            }
            store::inbox(&conn, id.as_str(), bounds).map_err(db_error("reading an inbox"))?
        };
        let more = page.more;
        let envelopes = page
            .rows
            .into_iter()
            .map(|r| {
                Ok(StoredEnvelope {
                    seq: from_i64(r.seq, "seq")?,
                    envelope: r.envelope,
                    received_at: from_i64(r.received_at, "received_at")?,
                })
            })
            .collect::<Result<_, Status>>()?;
        Ok(FetchInboxResponse { envelopes, more })
    }

    /// Warrant first (signature by a trusted court, then validity period), then the
    /// in-scope rows by SQL, then every row again by [`VerifiedWarrant::check_scope`]:
    /// the SQL is an optimisation, the Rust check is the rule.
    fn export(&self, who: &Identity, req: &ExportRequest) -> Result<ExportResponse, Status> {
        let warrant =
            VerifiedWarrant::verify_any(&req.warrant, &self.trusted_courts).map_err(|e| from_crypto("warrant", &e))?;
        let id = warrant.id();
        if &warrant.body().agency != who.id() {
            return Err(auth::denied(
                who,
                "Export",
                &format!("warrant {id} was issued to agency {}", warrant.body().agency),
            ));
        }
        warrant.check_time(self.now()).map_err(|e| match e {
            Error::WarrantTime(t) => Status::failed_precondition(format!("warrant {id} {t}")),
            other => from_crypto(&format!("warrant {id}"), &other),
        })?;
        let bounds = PageBounds {
            after_seq: to_i64(req.after_seq, "after_seq")?,
            limit: page_limit(req.limit),
            max_bytes: PAGE_BYTES,
        };
        let window = warrant.scope().window();
        // [from, to) as an inclusive SQL range. Every stored timestamp fits in i64, so
        // clamping the bounds there selects exactly the same rows.
        let Ok(from) = i64::try_from(window.from()) else {
            return Ok(ExportResponse::default());
        };
        let to_incl = i64::try_from(window.to().saturating_sub(1)).unwrap_or(i64::MAX);
        let targets: Vec<&str> = warrant.scope().targets().iter().map(PartyId::as_str).collect();

        let (page, mut keys) = {
            let conn = self.db()?;
            let page =
                store::export(&conn, &targets, from, to_incl, bounds).map_err(db_error("selecting an export"))?;
            let mut keys = BTreeMap::new();
            for sender in page.rows.iter().map(|r| r.sender.as_str()).collect::<BTreeSet<_>>() {
                let blob =
                    store::user_key(&conn, sender).map_err(db_error("looking up a sender"))?.ok_or_else(|| {
                        tracing::error!(user = sender, "stored envelope's sender is not registered");
                        Status::internal(format!("sender {sender} of a stored envelope is not registered"))
                    })?;
                keys.insert(sender.to_owned(), blob);
            }
            (page, keys)
        };

        let mut envelopes = Vec::with_capacity(page.rows.len());
        let mut senders = BTreeSet::new();
        for row in page.rows {
            let seq = from_i64(row.seq, "seq")?;
            let decoded = if rules::has_domain_fields(&row.envelope) {
                DomainEnvelope::from_bytes(&row.envelope).map(|env| {
                    let scope = warrant.check_message_scope(env.message());
                    (env.message().sender().as_str() == row.sender, scope)
                })
            } else {
                Envelope::from_bytes(&row.envelope).map(|env| {
                    let scope = warrant.check_scope(env.label());
                    (env.label().sender().as_str() == row.sender, scope)
                })
            };
            let (sender_agrees, scope) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(seq, error = %e, warrant = %id, "stored envelope does not decode; not exported");
                    continue;
                }
            };
            if !sender_agrees {
                tracing::error!(seq, warrant = %id, "stored sender column disagrees with the label; not exported");
                continue;
            }
            if let Err(e) = scope {
                tracing::error!(seq, error = %e, warrant = %id, "export query selected an out-of-scope envelope; not exported");
                continue;
            }
            senders.insert(row.sender);
            envelopes.push(StoredEnvelope {
                seq,
                envelope: row.envelope,
                received_at: from_i64(row.received_at, "received_at")?,
            });
        }
        let sender_keys = senders.iter().filter_map(|s| keys.remove(s)).collect();
        tracing::info!(warrant = %id, envelopes = envelopes.len(), more = page.more, "export served");
        Ok(ExportResponse { envelopes, sender_keys, more: page.more })
    }
}

/// The one place a refused envelope ([`rules::Refusal`]) becomes a gRPC status: the
/// code says what kind of refusal it is, the `escrow-rule` is the refusal's code.
fn refused(who: &Identity, r: &rules::Refusal) -> Status {
    use rules::Refusal;
    match r {
        Refusal::Malformed(e) => from_crypto("envelope", e),
        Refusal::Signature { sender, error } => from_crypto(&format!("envelope from {sender}"), error),
        Refusal::NotTheSender { .. } => auth::denied(who, "Send", &r.to_string()),
        Refusal::TooLarge { .. } => with_rule(Status::invalid_argument(r.to_string()), r.code()),
        Refusal::Unregistered { .. }
        | Refusal::WrongEpoch { .. }
        | Refusal::ClockSkew { .. }
        | Refusal::NeedsDomainFields { .. }
        | Refusal::NoDomains => with_rule(Status::failed_precondition(r.to_string()), r.code()),
        Refusal::Composition(e) => from_crypto("envelope fields", e),
    }
}

/// Who may call each RPC is the access table's (`escrow_pki::access`), decided before
/// any handler runs. The handlers apply its object rules: users register their own
/// key, send as themselves and read their own inbox; an agency exports only under a
/// warrant issued to it.
#[tonic::async_trait]
impl Relay for RelayService {
    async fn register_user(&self, req: Request<RegisterUserRequest>) -> Result<Response<RegisterUserResponse>, Status> {
        let who = auth::caller(&req)?;
        let certificate = auth::caller_certificate(&req)?;
        let blob = req.into_inner().user_public_key;
        self.blocking(move |inner| inner.register_user(&who, &certificate, &blob)).await?;
        Ok(Response::new(RegisterUserResponse {}))
    }

    async fn get_user(&self, req: Request<GetUserRequest>) -> Result<Response<GetUserResponse>, Status> {
        auth::caller(&req)?;
        let user_id = req.into_inner().user_id;
        self.blocking(move |inner| inner.get_user(&user_id)).await.map(Response::new)
    }

    async fn get_epoch_key(&self, req: Request<GetEpochKeyRequest>) -> Result<Response<GetEpochKeyResponse>, Status> {
        auth::caller(&req)?;
        Ok(Response::new(GetEpochKeyResponse {
            epoch_public_key: self.inner.epoch_key_bytes.clone(),
            announcement: self.inner.announcement_bytes.clone(),
        }))
    }

    async fn send(&self, req: Request<SendRequest>) -> Result<Response<SendResponse>, Status> {
        let who = auth::caller(&req)?;
        let envelope = req.into_inner().envelope;
        let (seq, a) = match &self.inner.committer {
            None => {
                self.blocking(move |inner| {
                    let a = inner.admit(&who, envelope)?;
                    Ok((inner.commit_alone(&a)?, a.receipt()))
                })
                .await?
            }
            Some(committer) => {
                let a = self.blocking(move |inner| inner.admit(&who, envelope)).await?;
                let receipt = a.receipt();
                (committer.submit(a).await?, receipt)
            }
        };
        self.inner.metrics.accepted.inc();
        tracing::debug!(seq, message_id = %id_prefix(&a.message_id), recipients = a.recipients, bytes = a.bytes, "envelope accepted");
        Ok(Response::new(SendResponse {
            seq: from_i64(seq, "seq")?,
            received_at: from_i64(a.received_at, "received_at")?,
            current_epoch: self.inner.epoch_key.epoch().0,
        }))
    }

    async fn fetch_inbox(&self, req: Request<FetchInboxRequest>) -> Result<Response<FetchInboxResponse>, Status> {
        let who = auth::caller(&req)?;
        let req = req.into_inner();
        self.blocking(move |inner| inner.fetch_inbox(&who, &req)).await.map(Response::new)
    }

    async fn export(&self, req: Request<ExportRequest>) -> Result<Response<ExportResponse>, Status> {
        let who = auth::caller(&req)?;
        let req = req.into_inner();
        let exported = self.blocking(move |inner| inner.export(&who, &req)).await?;
        self.inner.metrics.exported.inc_by(exported.envelopes.len() as u64);
        Ok(Response::new(exported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limit_caps_and_defaults() {
        assert_eq!(page_limit(0), 500);
        assert_eq!(page_limit(1), 1);
        assert_eq!(page_limit(500), 500);
        assert_eq!(page_limit(501), 500);
        assert_eq!(page_limit(u32::MAX), 500);
    }

    #[test]
    fn i64_conversion_refuses_instead_of_wrapping() {
        assert_eq!(to_i64(0, "x").unwrap(), 0);
        assert_eq!(to_i64(i64::MAX as u64, "x").unwrap(), i64::MAX);
        let err = to_i64(i64::MAX as u64 + 1, "after_seq").unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("after_seq"));
        assert!(from_i64(-1, "seq").is_err());
    }
}
