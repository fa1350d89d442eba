//! The user role as a library: what a messaging client must check before it trusts
//! anything the relay says.
//!
//! The relay is not trusted (docs/threat-model.md): it serves the epoch key, other
//! users' public keys and the envelopes themselves. So a client
//!
//! - compares the served epoch key with the keys it pinned, and refuses a served epoch
//!   it has not pinned once it pinned any;
//! - checks that a looked-up key names the user it asked for, and takes the user's
//!   home escrow domain only from the certificate served with it, checked under the
//!   federation the client already trusts for TLS (`Trust::verify_certificate`), never
//!   from the relay's word;
//! - opens every envelope only after the sender's signature and the escrow field's
//!   re-encryption check hold (`Envelope::open`), under the key of the envelope's own
//!   epoch, so a message sealed under a key no trustee holds is refused, not shown;
//! - reads the inbox page by page until the relay says there is no more.
//!
//! The CLI, the demo and the tests all go through this crate, so these checks have one
//! owner.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use escrow_crypto::{
    Domain, DomainEnvelope, DomainSealRequest, Envelope, EpochId, EpochPublicKey, Jurisdictions, PartyId, Resident,
    SealRequest, UserPublicKey, UserSecretKey,
};
use escrow_pki::trust::Trust;
use escrow_proto::v1 as pb;
use escrow_service::transport::{Credentials, TransportError};
use pb::relay_client::RelayClient;
use rand::{CryptoRng, RngCore};
use tonic::transport::Channel;
use zeroize::Zeroizing;

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The relay's address or credentials are unusable.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The relay refused or failed.
    #[error("relay: {}: {}", .0.code(), .0.message())]
    Relay(tonic::Status),
    /// The relay sent bytes that do not decode.
    #[error("{what} from the relay: {err}")]
    Blob {
        /// Which blob.
        what: String,
        /// The decoding error.
        err: escrow_crypto::Error,
    },
    /// The relay serves an epoch key that differs from the one pinned for its epoch.
    #[error("the relay serves a key for epoch {0} different from the pinned one: refusing")]
    EpochKeyMismatch(EpochId),
    /// Keys are pinned, but none for the epoch the relay serves.
    #[error("the relay serves epoch {0}, whose key is not pinned: refusing (pin it to trust it)")]
    EpochNotPinned(EpochId),
    /// Trustee keys are pinned and the relay's epoch key does not come with an
    /// announcement every holder signed under them (or comes with one for another key).
    #[error("the relay's key for epoch {epoch} is not announced by its trustees: {why}")]
    Unannounced {
        /// The epoch served.
        epoch: EpochId,
        /// What is wrong.
        why: String,
    },
    /// A lookup answered for someone else.
    #[error("the relay answered for {answered} when asked for {asked}")]
    WrongUser {
        /// The id asked for.
        asked: PartyId,
        /// The id the returned key names.
        answered: PartyId,
    },
    /// The certificate served with a user's key does not verify under the federation,
    /// or names someone else.
    #[error("the certificate the relay serves for {user} is refused: {why}")]
    Certificate {
        /// The user asked for.
        user: PartyId,
        /// Why.
        why: String,
    },
    /// Sending across escrow domains needs a party's certified home, and the relay
    /// served no certificate that names one.
    #[error("{0} has no certified home (the relay served no certificate naming one): cannot seal across domains")]
    NoHome(PartyId),
    /// Sending across escrow domains without the deployment's jurisdictions configured
    /// ([`UserClient::use_jurisdictions`]).
    #[error("no jurisdictions configured: this client cannot seal across escrow domains")]
    NoJurisdictions,
    /// Sealing failed (bad recipients, oversize message).
    #[error(transparent)]
    Seal(escrow_crypto::Error),
}

/// A message as received: where it sits in the inbox, who the label says sent it, and
/// either its plaintext or why it was refused.
#[derive(Debug)]
pub struct Received {
    /// Relay sequence number (pass it as `after` to continue from here).
    pub seq: u64,
    /// When the relay stored it (relay clock, unix seconds).
    pub received_at: u64,
    /// The sender the label names (checked against its signature when opened).
    pub sender: PartyId,
    /// The sender's timestamp from the label.
    pub timestamp: u64,
    /// The epoch the message was sealed under (`EpochId(0)` for a message with domain
    /// fields: see `fields`).
    pub epoch: EpochId,
    /// For a message with domain fields: each field's domain and epoch (empty for
    /// other messages, and for one between parties whose domains escrow nothing).
    pub fields: Vec<(Domain, EpochId)>,
    /// The plaintext, or why the message was refused.
    pub outcome: Result<Zeroizing<Vec<u8>>, String>,
}

/// Messages read from an inbox, and where to continue.
#[derive(Debug, Default)]
pub struct Inbox {
    /// In relay order.
    pub messages: Vec<Received>,
    /// The last sequence number read (the `after` to continue from); the `after`
    /// asked for if nothing was read.
    pub next_after: u64,
    /// True if the relay holds more messages after `next_after`.
    pub more: bool,
}

impl Inbox {
    /// How many messages were refused.
    pub fn refused(&self) -> usize {
        self.messages.iter().filter(|m| m.outcome.is_err()).count()
    }
}

/// What the relay said when it accepted a message, and the message as sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Relay sequence number.
    pub seq: u64,
    /// The message id the client chose.
    pub message_id: [u8; 16],
    /// When the relay stored it (relay clock, unix seconds).
    pub received_at: u64,
    /// The envelope as sent.
    pub envelope: Envelope,
}

/// A user as looked up and checked: its key, and its home domain if a certificate the
/// federation believes names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The key the relay binds to the id (checked to name it).
    pub key: UserPublicKey,
    /// The home its certificate names: `None` if the relay served no certificate,
    /// the certificate names no home, or this client checks none
    /// ([`UserClient::new`] without [`UserClient::verify_certificates`]).
    pub home: Option<Domain>,
}

/// What the relay said when it accepted a message with domain fields, and the message.
#[derive(Debug, Clone)]
pub struct SentAcross {
    /// Relay sequence number.
    pub seq: u64,
    /// When the relay stored it (relay clock, unix seconds).
    pub received_at: u64,
    /// The envelope as sent.
    pub envelope: DomainEnvelope,
}

/// A user's connection to the relay. Cheap to share: calls take `&self`.
#[derive(Debug)]
pub struct UserClient {
    relay: RelayClient<Channel>,
    pinned: BTreeMap<EpochId, EpochPublicKey>,
    trustees: Option<escrow_crypto::TrusteePins>,
    /// The federation served certificates are checked under (the one this client's
    /// TLS trusts); `None`: homes are not read.
    trust: Option<Arc<Trust>>,
    /// The deployment's rule and each domain's epoch key, as configured (never taken
    /// from the relay): needed to seal and open messages with domain fields.
    jurisdictions: Option<Jurisdictions>,
    /// Users already looked up and checked, by id. The relay cannot change a
    /// registered key or home, so a checked contact stays good for the session.
    keys: Mutex<HashMap<PartyId, Contact>>,
    /// The epoch key last fetched and checked, reused by every send until the relay
    /// says another epoch is current, a send is refused for its epoch, or the
    /// announced key's shares are destroyed: one check per epoch, not per message.
    current: Mutex<Option<CurrentEpoch>>,
}

/// A checked epoch key and until when it may seal (the announcement's `destroy_at`;
/// `None` for a pinned key without one).
#[derive(Debug, Clone)]
struct CurrentEpoch {
    key: EpochPublicKey,
    until: Option<u64>,
    /// The modes its announcement states (the per-message mode only for a pinned key,
    /// which has none): with the day mode, sends carry a day field per party and
    /// received envelopes must.
    modes: escrow_crypto::Modes,
}

impl UserClient {
    /// A client over an existing relay channel.
    pub fn new(relay: RelayClient<Channel>) -> Self {
        UserClient {
            relay,
            pinned: BTreeMap::new(),
            trustees: None,
            trust: None,
            jurisdictions: None,
            keys: Mutex::new(HashMap::new()),
            current: Mutex::new(None),
        }
    }

    /// Connects to the relay at `addr` with this user's certificate; served users'
    /// certificates are checked under the same federation.
    pub fn connect(addr: &str, credentials: &Credentials) -> Result<Self, UserError> {
        let mut c = Self::new(escrow_service::transport::relay_client(addr, credentials)?);
        c.verify_certificates(credentials.trust().clone());
        Ok(c)
    }

    /// Checks every certificate the relay serves with a user's key under `trust`, and
    /// takes the user's home from it.
    pub fn verify_certificates(&mut self, trust: Arc<Trust>) {
        self.trust = Some(trust);
    }

    /// Trusts `key` for its epoch instead of the relay's word. Once any key is pinned,
    /// a served epoch without a pin is refused. A served key equal to its pin is
    /// believed even under [`UserClient::trust_trustees`] without an announcement: the
    /// user chose to trust that key (a dealt key, weak mode, has no announcement).
    pub fn pin(&mut self, key: EpochPublicKey) {
        self.pinned.insert(key.epoch(), key);
    }

    /// Believes an epoch key only when it comes with an announcement signed by every
    /// trustee that holds it, under these pinned trustee keys (the relay's word is not
    /// enough).
    pub fn trust_trustees(&mut self, pins: escrow_crypto::TrusteePins) {
        self.trustees = Some(pins);
    }

    /// Seals and opens messages across escrow domains under `jurisdictions`: the
    /// deployment's composition rule and each domain's current epoch key, which this
    /// client is configured with, as it may pin an epoch key.
    pub fn use_jurisdictions(&mut self, jurisdictions: Jurisdictions) {
        self.jurisdictions = Some(jurisdictions);
    }

    fn relay(&self) -> RelayClient<Channel> {
        self.relay.clone()
    }

    /// The epoch key to seal under now: the relay's, checked against the pins (always
    /// fetched; [`UserClient::send`] reuses the last one instead).
    pub async fn epoch_key(&self) -> Result<EpochPublicKey, UserError> {
        Ok(self.fetch_epoch_key().await?.key)
    }

    async fn fetch_epoch_key(&self) -> Result<CurrentEpoch, UserError> {
        let served =
            self.relay().get_epoch_key(pb::GetEpochKeyRequest {}).await.map_err(UserError::Relay)?.into_inner();
        let key = EpochPublicKey::from_bytes(&served.epoch_public_key)
            .map_err(|err| UserError::Blob { what: "epoch key".into(), err })?;
        let (until, modes) = check_key(&self.pinned, self.trustees.as_ref(), &key, &served.announcement)?;
        Ok(CurrentEpoch { key, until, modes })
    }

    /// The epoch key to seal a message stamped `timestamp` under: the cached one while
    /// it may seal, else fetched, checked and cached.
    async fn sealing_key(&self, timestamp: u64) -> Result<CurrentEpoch, UserError> {
        let cached = self.current.lock().ok().and_then(|c| c.clone());
        if let Some(c) = cached.filter(|c| c.until.is_none_or(|u| timestamp < u)) {
            return Ok(c);
        }
        let fresh = self.fetch_epoch_key().await?;
        if let Ok(mut c) = self.current.lock() {
            *c = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// Forgets the cached epoch key: the next send fetches it again.
    fn forget_epoch_key(&self) {
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
    }

    /// Registers `me`'s public key at the relay.
    pub async fn register(&self, me: &UserSecretKey) -> Result<(), UserError> {
        self.relay()
            .register_user(pb::RegisterUserRequest { user_public_key: me.public().to_bytes() })
            .await
            .map_err(UserError::Relay)?;
        Ok(())
    }

    /// `id`'s public key, checked to name `id`.
    pub async fn lookup(&self, id: &PartyId) -> Result<UserPublicKey, UserError> {
        Ok(self.contact(id).await?.key)
    }

    /// `id`'s key, checked to name `id`, and its home, read from the certificate the
    /// relay serves with it once that certificate verifies under the federation and
    /// names `id` as a user. A certificate that fails either check refuses the whole
    /// lookup: a relay that serves one is lying about someone.
    pub async fn contact(&self, id: &PartyId) -> Result<Contact, UserError> {
        if let Some(c) = self.cached(id) {
            return Ok(c);
        }
        let r = self
            .relay()
            .get_user(pb::GetUserRequest { user_id: id.to_string() })
            .await
            .map_err(UserError::Relay)?
            .into_inner();
        let key = UserPublicKey::from_bytes(&r.user_public_key)
            .map_err(|err| UserError::Blob { what: format!("public key of {id}"), err })?;
        if key.id() != id {
            return Err(UserError::WrongUser { asked: id.clone(), answered: key.id().clone() });
        }
        let home = match &self.trust {
            Some(trust) if !r.certificate.is_empty() => certified_home(trust, id, &r.certificate, unix_now())?,
            _ => None,
        };
        let contact = Contact { key, home };
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(id.clone(), contact.clone());
        }
        Ok(contact)
    }

    fn cached(&self, id: &PartyId) -> Option<Contact> {
        self.keys.lock().ok().and_then(|k| k.get(id).cloned())
    }

    /// Seals `plaintext` from `me` to `to` under the current (checked) epoch key, stamped
    /// `timestamp`, and sends it.
    pub async fn send<R: RngCore + CryptoRng>(
        &self,
        me: &UserSecretKey,
        to: &[PartyId],
        plaintext: &[u8],
        timestamp: u64,
        rng: &mut R,
    ) -> Result<Sent, UserError> {
        // The epoch key first: a relay serving a key the pins refuse is named before
        // anything else is asked of it.
        let mut epoch_key = self.sealing_key(timestamp).await?;
        let mut recipients = Vec::with_capacity(to.len());
        for id in to {
            recipients.push(self.lookup(id).await?);
        }
        // At most twice: once under the cached key, and once more under a fresh one if
        // the relay refuses the first for its epoch (the epoch changed since).
        let mut refetched = false;
        loop {
            let mut message_id = [0u8; 16];
            rng.fill_bytes(&mut message_id);
            let request = SealRequest {
                sender: me,
                recipients: &recipients,
                epoch_key: &epoch_key.key,
                message_id,
                timestamp,
                plaintext,
            };
            let env = if epoch_key.modes.day {
                Envelope::seal_with_days(&request, rng)
            } else {
                Envelope::seal(&request, rng)
            }
            .map_err(UserError::Seal)?;
            match self.post(&env).await {
                Ok(r) => {
                    if r.current_epoch != 0 && r.current_epoch != epoch_key.key.epoch().0 {
                        self.forget_epoch_key();
                    }
                    return Ok(Sent { seq: r.seq, message_id, received_at: r.received_at, envelope: env });
                }
                Err(s) if !refetched && escrow_service::metrics::rule_of(&s) == Some("wrong-epoch") => {
                    self.forget_epoch_key();
                    epoch_key = self.sealing_key(timestamp).await?;
                    refetched = true;
                }
                Err(s) => return Err(UserError::Relay(s)),
            }
        }
    }

    /// Seals `plaintext` from `me` to `to` with one escrow field per domain the
    /// deployment's rule requires, every party's home read from its verified
    /// certificate ([`UserClient::contact`], `me` included), and sends it.
    pub async fn send_across<R: RngCore + CryptoRng>(
        &self,
        me: &UserSecretKey,
        to: &[PartyId],
        plaintext: &[u8],
        timestamp: u64,
        rng: &mut R,
    ) -> Result<SentAcross, UserError> {
        let jurisdictions = self.jurisdictions.as_ref().ok_or(UserError::NoJurisdictions)?;
        let own = self.contact(me.id()).await?;
        let sender_home = own.home.ok_or_else(|| UserError::NoHome(me.id().clone()))?;
        let mut recipients = Vec::with_capacity(to.len());
        for id in to {
            let c = self.contact(id).await?;
            let home = c.home.ok_or_else(|| UserError::NoHome(id.clone()))?;
            recipients.push(Resident { key: c.key, home });
        }
        let mut message_id = [0u8; 16];
        rng.fill_bytes(&mut message_id);
        let request = DomainSealRequest {
            sender: me,
            sender_home: &sender_home,
            recipients: &recipients,
            jurisdictions,
            message_id,
            timestamp,
            plaintext,
        };
        let envelope = DomainEnvelope::seal(&request, rng).map_err(UserError::Seal)?;
        let r = self
            .relay()
            .send(pb::SendRequest { envelope: envelope.as_bytes().to_vec() })
            .await
            .map_err(UserError::Relay)?
            .into_inner();
        Ok(SentAcross { seq: r.seq, received_at: r.received_at, envelope })
    }

    /// Sends an envelope sealed elsewhere, as is; the relay's answer as is. For callers
    /// that must control the envelope (tests, the demo's adversaries).
    pub async fn post(&self, env: &Envelope) -> Result<pb::SendResponse, tonic::Status> {
        self.relay().send(pb::SendRequest { envelope: env.as_bytes().to_vec() }).await.map(tonic::Response::into_inner)
    }

    /// Raw envelopes of one inbox page after `after` (at most `limit`, 0 for the relay's
    /// maximum), undecoded: for callers that inspect what the relay stored.
    pub async fn fetch_page(&self, me: &PartyId, after: u64, limit: u32) -> Result<pb::FetchInboxResponse, UserError> {
        Ok(self
            .relay()
            .fetch_inbox(pb::FetchInboxRequest { user_id: me.to_string(), after_seq: after, limit })
            .await
            .map_err(UserError::Relay)?
            .into_inner())
    }

    /// Reads `me`'s inbox after sequence number `after`, page by page, opening and
    /// checking each message; stops after `limit` messages if given. A message that
    /// fails a check is returned as refused with the reason, never as plaintext.
    pub async fn inbox(&self, me: &UserSecretKey, after: u64, limit: Option<usize>) -> Result<Inbox, UserError> {
        let mut inbox = Inbox { next_after: after, ..Inbox::default() };
        // Served epoch keys are fetched once, and only if a message needs one.
        let mut served: Option<Option<CurrentEpoch>> = None;
        loop {
            // The relay caps every page at its own maximum, which `0` asks for.
            let want = match limit {
                Some(l) => match l.saturating_sub(inbox.messages.len()) {
                    0 => break,
                    n => u32::try_from(n).unwrap_or(u32::MAX),
                },
                None => 0,
            };
            let page = self.fetch_page(me.id(), inbox.next_after, want).await?;
            inbox.more = page.more;
            if page.envelopes.is_empty() {
                // A relay that says "more" with an empty page would make us spin.
                inbox.more = false;
                break;
            }
            for s in page.envelopes {
                if s.seq <= inbox.next_after {
                    // Out of order or repeated: a misbehaving relay. Stop rather than loop.
                    inbox.more = false;
                    return Ok(inbox);
                }
                inbox.next_after = s.seq;
                let received = self.open_one(me, &s, &mut served).await?;
                inbox.messages.push(received);
            }
            if !inbox.more {
                break;
            }
        }
        Ok(inbox)
    }

    async fn open_one(
        &self,
        me: &UserSecretKey,
        s: &pb::StoredEnvelope,
        served: &mut Option<Option<CurrentEpoch>>,
    ) -> Result<Received, UserError> {
        let malformed = |e: escrow_crypto::Error| Received {
            seq: s.seq,
            received_at: s.received_at,
            sender: me.id().clone(),
            timestamp: 0,
            epoch: EpochId(0),
            fields: Vec::new(),
            outcome: Err(format!("malformed envelope: {e}")),
        };
        if escrow_crypto::wire::names(&s.envelope, escrow_crypto::wire::Alg::DomainEnvelope) {
            return match DomainEnvelope::from_bytes(&s.envelope) {
                Ok(env) => Ok(self.open_across(me, s, &env).await),
                Err(e) => Ok(malformed(e)),
            };
        }
        let env = match Envelope::from_bytes(&s.envelope) {
            Ok(e) => e,
            Err(e) => return Ok(malformed(e)),
        };
        let label = env.label();
        let epoch = label.epoch();
        // The served epoch (checked as for sending) says the modes, also for a pinned
        // key; fetched once per inbox read. A pinned key reads its messages even if
        // the relay's epoch is refused (its modes are then unknown: per-message).
        let pinned = self.pinned.contains_key(&epoch);
        if served.is_none() {
            *served = match self.fetch_epoch_key().await {
                Ok(c) => Some(Some(c)),
                Err(_) if pinned => Some(None),
                Err(e) => return Err(e),
            };
        }
        let current = served.as_ref().and_then(Option::as_ref).filter(|c| c.key.epoch() == epoch);
        let modes = current.map_or(escrow_crypto::Modes::PER_MESSAGE, |c| c.modes);
        let key = match self.pinned.get(&epoch) {
            Some(k) => Some((k.clone(), modes)),
            None => current.map(|c| (c.key.clone(), c.modes)),
        };
        let outcome = match key {
            None => Err(format!("no trusted key for epoch {epoch} (pin its key to read it)")),
            // A sender who leaves the day fields out of a day-mode epoch's message
            // escapes that mode's escrow: refused, as a forged field is.
            Some((_, modes)) if modes.day && !env.has_day_fields() => {
                Err(format!("epoch {epoch} is announced with the day mode, but the envelope has no day fields"))
            }
            Some((epk, _)) => match self.lookup(label.sender()).await {
                Ok(sender) => env.open(me, &sender, &epk).map(Zeroizing::new).map_err(|e| e.to_string()),
                Err(e) => Err(format!("sender {}: {e}", label.sender())),
            },
        };
        Ok(Received {
            seq: s.seq,
            received_at: s.received_at,
            sender: label.sender().clone(),
            timestamp: label.timestamp(),
            epoch,
            fields: Vec::new(),
            outcome,
        })
    }

    /// Opens a message with domain fields: every party's home from its verified
    /// certificate, then every check of [`DomainEnvelope::open`] under the configured
    /// jurisdictions. Any failure refuses the message, with the reason.
    async fn open_across(&self, me: &UserSecretKey, s: &pb::StoredEnvelope, env: &DomainEnvelope) -> Received {
        let message = env.message();
        let outcome = match &self.jurisdictions {
            None => Err("the message carries domain fields, and no jurisdictions are configured".to_owned()),
            Some(j) => self.open_across_under(me, env, j).await,
        };
        Received {
            seq: s.seq,
            received_at: s.received_at,
            sender: message.sender().clone(),
            timestamp: message.timestamp(),
            epoch: EpochId(0),
            fields: env
                .fields()
                .iter()
                .filter_map(|(l, _)| l.domain_tag().map(|t| (t.domain().clone(), l.epoch())))
                .collect(),
            outcome,
        }
    }

    async fn open_across_under(
        &self,
        me: &UserSecretKey,
        env: &DomainEnvelope,
        jurisdictions: &Jurisdictions,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        let mut homes = BTreeMap::new();
        let mut sender = None;
        for party in env.message().parties() {
            let c = self.contact(party).await.map_err(|e| format!("{party}: {e}"))?;
            if let Some(home) = c.home {
                homes.insert(party.clone(), home);
            }
            sender.get_or_insert(c.key);
        }
        let sender = sender.ok_or_else(|| "the message names no sender".to_owned())?;
        env.open(me, &sender, &homes, jurisdictions).map(Zeroizing::new).map_err(|e| e.to_string())
    }
}

/// This machine's clock, unix seconds (certificates are checked at the real time).
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The rule for a certificate served with `id`'s key, alone so that it can be tested
/// without a relay: it verifies under `trust` at `now`, and names `id` as a user; the
/// home is the one it names.
fn certified_home(trust: &Trust, id: &PartyId, der: &[u8], now: u64) -> Result<Option<Domain>, UserError> {
    let refused = |why: String| UserError::Certificate { user: id.clone(), why };
    let identity = trust.verify_certificate(der, now).map_err(|e| refused(e.to_string()))?;
    if identity.role() != escrow_pki::Role::User || identity.id() != id {
        return Err(refused(format!("it names {identity}")));
    }
    Ok(identity.home().cloned())
}

/// The whole rule for a served epoch key, alone so that it can be tested without a
/// relay: a key pinned directly is its own proof; otherwise, under pinned trustee keys,
/// it needs their announcement; then the pin rule ([`check_served`]).
fn check_key(
    pinned: &BTreeMap<EpochId, EpochPublicKey>,
    trustees: Option<&escrow_crypto::TrusteePins>,
    key: &EpochPublicKey,
    announcement: &[u8],
) -> Result<(Option<u64>, escrow_crypto::Modes), UserError> {
    if pinned.get(&key.epoch()) == Some(key) {
        // The pin is the key's proof. Its modes are what a verified announcement says,
        // if the relay served one; without one, the per-message mode only (a relay
        // that withholds it makes senders leave out day fields, which every recipient
        // holding the announcement then refuses).
        let modes = trustees
            .filter(|_| !announcement.is_empty())
            .and_then(|pins| check_announced(pins, key, announcement).ok())
            .map_or(escrow_crypto::Modes::PER_MESSAGE, |(_, modes)| modes);
        return Ok((None, modes));
    }
    let (until, modes) = match trustees {
        Some(pins) => {
            let (until, modes) = check_announced(pins, key, announcement)?;
            (Some(until), modes)
        }
        None => (None, escrow_crypto::Modes::PER_MESSAGE),
    };
    check_served(pinned, key.clone())?;
    Ok((until, modes))
}

/// The rule for an epoch key under pinned trustee keys: it comes with an announcement
/// that every holder signed under the pins, and the announcement states this very key.
/// Returns when its shares are destroyed and the modes it supports.
fn check_announced(
    pins: &escrow_crypto::TrusteePins,
    key: &EpochPublicKey,
    announcement: &[u8],
) -> Result<(u64, escrow_crypto::Modes), UserError> {
    let unannounced = |why: String| UserError::Unannounced { epoch: key.epoch(), why };
    if announcement.is_empty() {
        return Err(unannounced("the relay sent no announcement".into()));
    }
    let signed = escrow_crypto::SignedAnnouncement::from_bytes(announcement).map_err(|e| unannounced(e.to_string()))?;
    let verified = signed.verify(pins).map_err(|e| unannounced(e.to_string()))?;
    if verified.key_set() != key {
        return Err(unannounced("the announcement states another key set".into()));
    }
    Ok((verified.announcement().destroy_at, verified.announcement().modes))
}

/// The pin rule, alone so that it can be tested without a relay.
fn check_served(
    pinned: &BTreeMap<EpochId, EpochPublicKey>,
    served: EpochPublicKey,
) -> Result<EpochPublicKey, UserError> {
    match pinned.get(&served.epoch()) {
        Some(p) if p == &served => Ok(served),
        Some(_) => Err(UserError::EpochKeyMismatch(served.epoch())),
        None if pinned.is_empty() => Ok(served),
        None => Err(UserError::EpochNotPinned(served.epoch())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn key(epoch: u64, seed: u64) -> EpochPublicKey {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        escrow_crypto::dealer_keygen(EpochId(epoch), 1, 3, &mut rng).expect("keygen").public
    }

    #[test]
    fn no_pins_trusts_the_relay() {
        assert!(check_served(&BTreeMap::new(), key(1, 1)).is_ok());
    }

    #[test]
    fn a_pinned_epoch_must_match() {
        let mut pins = BTreeMap::new();
        pins.insert(EpochId(1), key(1, 1));
        assert!(check_served(&pins, key(1, 1)).is_ok());
        assert!(matches!(check_served(&pins, key(1, 2)), Err(UserError::EpochKeyMismatch(EpochId(1)))));
    }

    /// Trustee keys pinned, and a dealt key (no announcement) pinned directly: the pin
    /// is believed; a different key, or no direct pin, still needs the announcement.
    #[test]
    fn a_key_pinned_directly_needs_no_announcement() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let id = PartyId::new("trustee-0").expect("id");
        let trustees =
            escrow_crypto::TrusteePins::new(vec![escrow_crypto::TrusteeSigningKey::generate(id, &mut rng).public()])
                .expect("pins");
        let mut pins = BTreeMap::new();
        pins.insert(EpochId(1), key(1, 1));
        assert!(check_key(&pins, Some(&trustees), &key(1, 1), &[]).is_ok());
        assert!(matches!(
            check_key(&pins, Some(&trustees), &key(1, 2), &[]),
            Err(UserError::Unannounced { epoch: EpochId(1), .. })
        ));
        assert!(matches!(
            check_key(&BTreeMap::new(), Some(&trustees), &key(1, 1), &[]),
            Err(UserError::Unannounced { epoch: EpochId(1), .. })
        ));
        assert!(check_key(&BTreeMap::new(), None, &key(1, 1), &[]).is_ok());
    }

    #[test]
    fn an_unpinned_epoch_is_refused_once_anything_is_pinned() {
        let mut pins = BTreeMap::new();
        pins.insert(EpochId(1), key(1, 1));
        assert!(matches!(check_served(&pins, key(2, 3)), Err(UserError::EpochNotPinned(EpochId(2)))));
    }
}
