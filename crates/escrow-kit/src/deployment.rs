//! A running deployment: the [`World`] plus a [`Node`] per trustee and the relay, the
//! lifecycle of each, and every party's calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use escrow_crypto::sealed::KdfParams;
use escrow_crypto::{DealerOutput, Envelope, EpochId, PartyId, TrusteeKeyShare};
use escrow_log::CheckpointSigner;
use escrow_pki::{Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use escrow_trustee::ceremony::CeremonyKeys;
use escrow_trustee::policy::Policy;
use escrow_trustee::state::Action;
use escrow_trustee::store::Store;
use escrow_trustee::{EpochKeys, Trustee, TrusteeConfig};
use escrow_user::UserClient;
use pb::audit_client::AuditClient;
use pb::ceremony_client::CeremonyClient;
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use rand::SeedableRng;
use tonic::transport::Channel;

use crate::ceremony::{CeremonyOutcome, CeremonySpec};
use crate::node::Node;
use crate::pki::{write_file, write_sealed};
use crate::world::{trustee_id, KeyGen, Launch, Options, World};
use crate::KitError;

/// The agency every warrant of the kit names.
pub const AGENCY: &str = "agency-1";
/// Every agency of a kit deployment, each its own organisation: the one the warrants
/// name, and a second one (scenarios where another agency asks).
pub const AGENCIES: [&str; 2] = [AGENCY, "agency-2"];
/// The auditor.
pub const AUDITOR: &str = "auditor-1";

/// One trustee: where its files are, its policy, the epochs it holds, its server.
#[derive(Debug)]
pub struct TrusteeNode {
    /// Its index i (`trustee-<i>`, share at x = i+1).
    pub index: u16,
    /// `trustee-<i>`.
    pub name: String,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its policy.
    pub policy: Policy,
    /// The epochs whose shares it is started with from key-share files (dealt), oldest
    /// first. Key sets made by ceremonies are in its database instead.
    pub epochs: Vec<EpochId>,
    /// Its server.
    pub server: Node,
    /// Test and demo only (feature `tamper`): how it cheats in key ceremonies.
    #[cfg(feature = "tamper")]
    pub misbehave: escrow_trustee::ceremony::Misbehaviour,
}

/// A whole deployment, up. Dereferences to its [`World`].
pub struct Deployment {
    /// The parties.
    pub world: World,
    /// Every trustee, by index.
    pub trustees: Vec<TrusteeNode>,
    /// The relay.
    pub relay: Node,
    /// The relay's data directory.
    pub relay_dir: PathBuf,
    /// Earlier epochs' key sets that some trustee may still hold (this process plays
    /// the dealer; see the crate docs).
    past: Vec<DealerOutput>,
    /// One relay connection per user, with the current epoch key pinned.
    user_clients: Mutex<BTreeMap<String, Arc<UserClient>>>,
    /// The current epoch's announcement, when a key ceremony made it: the relay serves
    /// it, users and the agency believe the key only with it.
    pub announcement: Option<escrow_crypto::VerifiedAnnouncement>,
    /// The witnesses, if [`crate::Options::witnesses`] asks for them.
    pub witnesses: Vec<crate::witnesses::WitnessNode>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("world", &self.world)
            .field("trustees", &self.trustees)
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Deployment {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

/// The checkpoint key of trustee `i`, named by its log's origin: deterministic, so
/// that a restarted trustee keeps its key. (Child processes are given it sealed when
/// witnesses need it known up front, and otherwise make their own.)
pub fn log_signer(i: u16) -> CheckpointSigner {
    CheckpointSigner::generate(&origin(i), &mut rand_chacha::ChaCha20Rng::seed_from_u64(1000 + u64::from(i)))
        .expect("a valid trustee name")
}

/// The log origin of trustee `i`.
pub fn origin(i: u16) -> String {
    escrow_trustee::log_origin(&trustee_id(i))
}

fn start_error(name: &str) -> impl Fn(String) -> KitError + '_ {
    move |why| KitError::Start { name: name.into(), why }
}

fn rpc(what: impl Into<String>) -> impl FnOnce(tonic::Status) -> KitError {
    let what = what.into();
    move |status| KitError::Rpc { what, status }
}

fn write_hex(path: &Path, bytes: &[u8]) -> Result<(), KitError> {
    std::fs::write(path, format!("{}\n", hex::encode(bytes))).map_err(|e| KitError::io(path, e))
}

impl Deployment {
    /// Stands up `options`: every trustee holding epoch 1, the relay, every user
    /// registered. With [`Launch::Processes`] it first writes what the processes read:
    /// the PKI (`pki/`), `epoch-1.pub`, `<court>.pub`, and per trustee `policy.toml`
    /// and `key-1.share` (sealed).
    pub async fn start(options: Options) -> Result<Deployment, KitError> {
        let world = World::new(options)?;
        let relay_dir = world.node_dir("relay");
        let mut trustees = Vec::new();
        for i in 0..world.options.n {
            let name = trustee_id(i).to_string();
            let dir = world.node_dir(&name);
            std::fs::create_dir_all(&dir).map_err(|e| KitError::io(&dir, e))?;
            let policy = (world.options.policy)(i, &world.court.public());
            trustees.push((i, name, dir, policy));
        }
        if let Launch::Processes { passphrase, .. } = &world.options.launch {
            let users: Vec<&str> = world.options.users.iter().map(String::as_str).collect();
            let mut ids = escrow_pki::layout::deployment_identities(world.options.n, &AGENCIES, &[AUDITOR], &users)?;
            for j in 1..=world.options.witnesses.map_or(0, |w| w.count) {
                ids.push(Identity::new(Role::Witness, PartyId::new(format!("w{j}"))?)?);
            }
            // Throwaway TLS keys (a temporary directory, a random passphrase): the fast
            // KDF keeps start-up quick; key shares keep the full cost.
            world.pki.write(
                &world.path("pki"),
                &ids,
                passphrase,
                KdfParams::insecure_fast(),
                &world.trustee_keys,
                &world.pins,
            )?;
            write_hex(&world.path("epoch-1.pub"), &world.keys.public.to_bytes())?;
            write_hex(&world.path(format!("{}.pub", world.options.court)), &world.court.public().to_bytes())?;
        }
        let mut d = Deployment {
            relay: Node::placeholder("relay"),
            relay_dir,
            trustees: Vec::new(),
            past: Vec::new(),
            user_clients: Mutex::new(BTreeMap::new()),
            announcement: None,
            witnesses: Vec::new(),
            world,
        };
        d.start_witnesses().await?;
        let dealt = d.world.options.keygen == KeyGen::Dealer;
        for (index, name, dir, policy) in trustees {
            let epochs = if dealt { vec![EpochId(1)] } else { Vec::new() };
            if dealt {
                d.write_share(index, EpochId(1))?;
            }
            let server = Node::placeholder(&name);
            d.trustees.push(TrusteeNode {
                index,
                name,
                dir,
                policy,
                epochs,
                server,
                #[cfg(feature = "tamper")]
                misbehave: Default::default(),
            });
        }
        d.restart_down().await?;
        if !dealt {
            let n = d.trustees.len();
            let spec = CeremonySpec {
                epoch: EpochId(1),
                threshold: d.world.options.t,
                players: (0..n).collect(),
                dealers: Vec::new(),
                reshare: false,
                proposer: 0,
                valid_from: d.world.options.start,
                destroy_at: d.world.options.destroy_at,
                phase_ms: d.world.options.ceremony_phase_ms,
                modes: d.world.options.modes,
            };
            let outcome = d.ceremony(&spec).await?;
            let Some(announcement) = outcome.announcement else {
                return Err(KitError::Start {
                    name: "key ceremony".into(),
                    why: outcome
                        .statuses
                        .iter()
                        .map(|s| format!("{}: {}", s.phase, s.abort_reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            };
            if let Launch::Processes { .. } = &d.world.options.launch {
                write_hex(&d.world.path("epoch-1.pub"), &announcement.key_set().to_bytes())?;
            }
            d.world.keys = DealerOutput { public: announcement.key_set().clone(), shares: Vec::new() };
            d.announcement = Some(announcement);
        }
        d.relay = d.start_relay().await?;
        for u in &d.world.users {
            d.user_client(u.id().as_str())?.register(u).await?;
        }
        Ok(d)
    }

    // ---- lifecycle ------------------------------------------------------------------

    /// The trustee at index `i`.
    pub fn trustee(&self, i: usize) -> Result<&TrusteeNode, KitError> {
        self.trustees.get(i).ok_or_else(|| KitError::Unknown { what: "trustee", name: i.to_string() })
    }

    /// The trustee at index `i`, to change (its policy, its server).
    pub fn trustee_mut(&mut self, i: usize) -> Result<&mut TrusteeNode, KitError> {
        self.trustees.get_mut(i).ok_or_else(|| KitError::Unknown { what: "trustee", name: i.to_string() })
    }

    /// Where trustee `i`'s sealed share of `epoch` is kept (child processes only).
    pub fn share_path(&self, i: usize, epoch: EpochId) -> Result<PathBuf, KitError> {
        Ok(self.trustee(i)?.dir.join(format!("key-{}.share", epoch.0)))
    }

    fn keys_of(&self, epoch: EpochId) -> Result<&DealerOutput, KitError> {
        std::iter::once(&self.world.keys)
            .chain(&self.past)
            .find(|k| k.public.epoch() == epoch)
            .ok_or_else(|| KitError::Unknown { what: "epoch", name: epoch.to_string() })
    }

    /// Writes trustee `i`'s share of `epoch`, sealed, for a child process to read.
    fn write_share(&self, i: u16, epoch: EpochId) -> Result<(), KitError> {
        let Launch::Processes { passphrase, .. } = &self.world.options.launch else { return Ok(()) };
        let share = self
            .keys_of(epoch)?
            .shares
            .get(usize::from(i))
            .ok_or_else(|| KitError::Unknown { what: "share index", name: i.to_string() })?;
        let path = self.world.node_dir(trustee_id(i).as_str()).join(format!("key-{}.share", epoch.0));
        write_sealed(&path, &share.to_bytes(), passphrase, KdfParams::default())
    }

    /// Starts trustee `i` on its data directory with its current policy and epochs
    /// (whatever ran there before is stopped first).
    pub async fn restart_trustee(&mut self, i: usize) -> Result<(), KitError> {
        self.trustee_mut(i)?.server.stop().await;
        let node = self.launch_trustee(i).await?;
        self.trustee_mut(i)?.server = node;
        Ok(())
    }

    /// Restarts trustee `i` under `policy` (kept for later restarts).
    pub async fn restart_trustee_with(&mut self, i: usize, policy: Policy) -> Result<(), KitError> {
        self.trustee_mut(i)?.policy = policy;
        self.restart_trustee(i).await
    }

    /// Starts every trustee that is down.
    pub async fn restart_down(&mut self) -> Result<(), KitError> {
        let down: Vec<usize> = (0..).zip(&self.trustees).filter(|(_, t)| !t.server.is_up()).map(|(i, _)| i).collect();
        for i in down {
            self.restart_trustee(i).await?;
        }
        Ok(())
    }

    async fn launch_trustee(&self, i: usize) -> Result<Node, KitError> {
        let t = self.trustee(i)?;
        match &self.world.options.launch {
            Launch::InProcess => {
                let err = start_error(&t.name);
                let epochs = t
                    .epochs
                    .iter()
                    .map(|e| {
                        let keys = self.keys_of(*e)?;
                        let share = keys.shares.get(i).ok_or_else(|| err(format!("no share {i} of epoch {e}")))?;
                        Ok(EpochKeys {
                            public: keys.public.clone(),
                            share: TrusteeKeyShare::from_bytes(&share.to_bytes())?,
                        })
                    })
                    .collect::<Result<Vec<_>, KitError>>()?;
                let keys = CeremonyKeys {
                    signing: self.world.trustee_keys.get(i).cloned().ok_or_else(|| err("no signing key".into()))?,
                    pins: self.world.pins.clone(),
                    seal: self.world.seal_keys.get(i).cloned().ok_or_else(|| err("no sealing key".into()))?,
                    auto_accept: t.policy.auto_accept_ceremonies,
                    #[cfg(feature = "tamper")]
                    misbehave: t.misbehave.clone(),
                };
                let witnesses = self.trustee_witness_config(t.index)?;
                let me = self.world.pki.party(Role::Trustee, &t.name)?;
                // The checks `escrow trustee serve` makes, in the same place.
                let log_key = log_signer(t.index);
                let config = TrusteeConfig { policy: t.policy.clone(), epochs, ceremony: Some(keys), witnesses };
                let config = config.check(&me, &log_key).map_err(|e| err(e.to_string()))?;
                let store = Store::open(&t.dir, &origin(t.index), log_key).map_err(|e| err(e.to_string()))?;
                let svc =
                    Trustee::start_checked(config, store, self.world.clock.shared()).map_err(|e| err(e.to_string()))?;
                let name = t.name.clone();
                Node::serve(&name, move |l, s| async move { escrow_trustee::serve(l, svc, &me, s).await }).await
            }
            Launch::Processes { exe, passphrase } => {
                let policy_file = t.dir.join("policy.toml");
                write_file(&policy_file, t.policy.to_toml().as_bytes())?;
                let mut args: Vec<String> = vec![
                    "trustee".into(),
                    "serve".into(),
                    "--data-dir".into(),
                    t.dir.display().to_string(),
                    "--policy".into(),
                    policy_file.display().to_string(),
                ];
                for e in &t.epochs {
                    args.push("--epoch-key".into());
                    args.push(self.world.path(format!("epoch-{}.pub", e.0)).display().to_string());
                    args.push("--key-share".into());
                    args.push(t.dir.join(format!("key-{}.share", e.0)).display().to_string());
                }
                args.extend(self.process_flags(&Identity::new(Role::Trustee, trustee_id(t.index))?));
                #[cfg(feature = "tamper")]
                if let Some(victim) = &t.misbehave.cheat_on {
                    args.extend(["--dangerous-cheat-dealing-to".to_string(), victim.to_string()]);
                }
                #[cfg(feature = "tamper")]
                if t.misbehave.withhold_agreement {
                    args.push("--dangerous-withhold-agreement".into());
                }
                args.extend(self.trustee_witness_flags());
                Node::spawn(&t.name, exe, &args, &self.world.dir, &self.world.path("logs"), Some(passphrase)).await
            }
        }
    }

    /// `--profile` and `--clock-file` for a child process playing `identity`.
    pub(crate) fn process_flags(&self, identity: &Identity) -> Vec<String> {
        let files = escrow_pki::layout::PartyFiles::of(identity);
        let mut flags = vec!["--profile".into(), self.world.path("pki").join(files.profile).display().to_string()];
        if let Some(clock) = self.world.clock.path() {
            flags.extend(["--clock-file".into(), clock.display().to_string()]);
        }
        flags
    }

    async fn start_relay(&self) -> Result<Node, KitError> {
        match &self.world.options.launch {
            Launch::InProcess => {
                let (courts, clock) = (vec![self.world.court.public()], self.world.clock.shared());
                let mut cfg = match &self.announcement {
                    Some(a) => escrow_relay::RelayConfig::announced(&self.relay_dir, a.clone(), courts, clock),
                    None => {
                        escrow_relay::RelayConfig::new(&self.relay_dir, self.world.keys.public.clone(), courts, clock)
                    }
                };
                cfg.commit = self.world.options.relay_commit;
                self.start_relay_with(cfg).await
            }
            Launch::Processes { exe, passphrase } => {
                let epoch = self.world.keys.public.epoch().0;
                let key = match &self.announcement {
                    Some(a) => {
                        let file = self.world.path(format!("epoch-{epoch}.announcement"));
                        write_hex(&file, &a.signed().to_bytes())?;
                        vec!["--announcement".to_string(), file.display().to_string()]
                    }
                    None => vec![
                        "--epoch-key".to_string(),
                        self.world.path(format!("epoch-{epoch}.pub")).display().to_string(),
                    ],
                };
                let mut args: Vec<String> =
                    vec!["relay".into(), "serve".into(), "--data-dir".into(), self.relay_dir.display().to_string()];
                args.extend(key);
                args.extend([
                    "--court-key".to_string(),
                    self.world.path(format!("{}.pub", self.world.options.court)).display().to_string(),
                ]);
                args.extend(match self.world.options.relay_commit {
                    escrow_relay::Commit::EachAlone => vec!["--max-batch".to_string(), "1".into()],
                    escrow_relay::Commit::Grouped { max_batch, queue } => vec![
                        "--max-batch".to_string(),
                        max_batch.to_string(),
                        "--ingest-queue".into(),
                        queue.to_string(),
                    ],
                });
                args.extend(self.process_flags(&Identity::new(Role::Relay, PartyId::new("relay")?)?));
                Node::spawn("relay", exe, &args, &self.world.dir, &self.world.path("logs"), Some(passphrase)).await
            }
        }
    }

    /// Serves a relay with `config` in this process, presenting the relay's certificate.
    pub async fn start_relay_with(&self, config: escrow_relay::RelayConfig) -> Result<Node, KitError> {
        crate::node::serve_relay(config, &self.world.pki.party(Role::Relay, "relay")?).await
    }

    /// Stops the relay and starts it again on the same data directory, under the
    /// current epoch key.
    pub async fn restart_relay(&mut self) -> Result<(), KitError> {
        self.relay.stop().await;
        self.relay = self.start_relay().await?;
        self.user_clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        Ok(())
    }

    /// Makes the key set a ceremony announced the current one: the relay restarts
    /// serving it with its announcement, and users and the agency believe it only with
    /// that announcement from now on.
    pub async fn adopt(&mut self, announcement: escrow_crypto::VerifiedAnnouncement) -> Result<(), KitError> {
        let old = std::mem::replace(
            &mut self.world.keys,
            DealerOutput { public: announcement.key_set().clone(), shares: Vec::new() },
        );
        if !old.shares.is_empty() {
            self.past.push(old);
        }
        if let Launch::Processes { .. } = &self.world.options.launch {
            let e = announcement.key_set().epoch().0;
            write_hex(&self.world.path(format!("epoch-{e}.pub")), &announcement.key_set().to_bytes())?;
        }
        self.announcement = Some(announcement);
        self.restart_relay().await
    }

    /// Moves the deployment to the epoch of `keys`: every trustee gets its share of it
    /// and, with `destroy_old`, loses every older share (its share files deleted too;
    /// each trustee logs the destruction when it starts without them); every trustee
    /// and the relay restart, and users pin the new key.
    pub async fn rotate(&mut self, keys: DealerOutput, destroy_old: bool) -> Result<(), KitError> {
        let new = keys.public.epoch();
        let old = std::mem::replace(&mut self.world.keys, keys);
        self.past.push(old);
        if let Launch::Processes { .. } = &self.world.options.launch {
            write_hex(&self.world.path(format!("epoch-{}.pub", new.0)), &self.world.keys.public.to_bytes())?;
        }
        for i in 0..self.trustees.len() {
            let t = self.trustee_mut(i)?;
            t.server.kill();
            let (index, old) = (t.index, if destroy_old { std::mem::take(&mut t.epochs) } else { Vec::new() });
            self.write_share(index, new)?;
            for e in old {
                let path = self.share_path(i, e)?;
                match std::fs::remove_file(&path) {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(KitError::io(&path, err)),
                    _ => {}
                }
            }
            self.trustee_mut(i)?.epochs.push(new);
        }
        if destroy_old {
            self.past.clear();
        }
        self.restart_relay().await?;
        self.restart_down().await
    }

    // ---- the parties' clients ------------------------------------------------------

    /// Every trustee's address, by index.
    pub fn trustee_addrs(&self) -> Vec<String> {
        self.trustees.iter().map(|t| t.server.addr.to_string()).collect()
    }

    /// Trustee `i` as the holder of `creds`.
    pub fn trustee_client_as(&self, i: usize, creds: &Credentials) -> Result<TrusteeClient<Channel>, KitError> {
        Ok(escrow_service::transport::trustee_client(&self.trustee(i)?.server.addr.to_string(), creds)?)
    }

    /// Trustee `i` as the agency (`agency-1`), which the kit's warrants name.
    pub fn agency_client(&self, i: usize) -> Result<TrusteeClient<Channel>, KitError> {
        self.trustee_client_as(i, &self.agency_creds()?)
    }

    /// Trustee `i` as its own operator `op-<i>`.
    pub fn operator_client(&self, i: usize) -> Result<TrusteeClient<Channel>, KitError> {
        let t = self.trustee(i)?;
        let creds = self.world.pki.operator(&t.name, &format!("op-{}", t.index))?;
        self.trustee_client_as(i, &creds)
    }

    /// Trustee `i`'s audit service as the auditor.
    pub fn audit_client(&self, i: usize) -> Result<AuditClient<Channel>, KitError> {
        Ok(escrow_service::transport::audit_client(&self.trustee(i)?.server.addr.to_string(), &self.auditor_creds()?)?)
    }

    /// The relay as the holder of `creds`.
    pub fn relay_client_as(&self, creds: &Credentials) -> Result<RelayClient<Channel>, KitError> {
        Ok(escrow_service::transport::relay_client(&self.relay.addr.to_string(), creds)?)
    }

    /// The agency's credentials.
    pub fn agency_creds(&self) -> Result<Credentials, KitError> {
        self.world.pki.party(Role::Agency, AGENCY)
    }

    /// The auditor's credentials.
    pub fn auditor_creds(&self) -> Result<Credentials, KitError> {
        self.world.pki.party(Role::Auditor, AUDITOR)
    }

    /// User `name`'s credentials.
    pub fn user_creds(&self, name: &str) -> Result<Credentials, KitError> {
        self.world.pki.party(Role::User, name)
    }

    /// User `name`'s client library, connected to the relay with the current epoch
    /// key pinned (one per user, kept until the relay restarts).
    pub fn user_client(&self, name: &str) -> Result<Arc<UserClient>, KitError> {
        let mut map = self.user_clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = map.get(name) {
            return Ok(c.clone());
        }
        let mut c = UserClient::connect(&self.relay.addr.to_string(), &self.user_creds(name)?)?;
        c.pin(self.world.keys.public.clone());
        if self.announcement.is_some() {
            c.trust_trustees(self.world.pins.clone());
        }
        let c = Arc::new(c);
        map.insert(name.into(), c.clone());
        Ok(c)
    }

    /// The agency's client library, connected to the relay and every trustee (those
    /// down show up as unreachable).
    pub async fn agency(&self) -> Result<escrow_agency::Agency, KitError> {
        let creds = self.agency_creds()?;
        let pins = self.announcement.as_ref().map(|_| &self.world.pins);
        let agency =
            escrow_agency::Agency::connect_with(&self.relay.addr.to_string(), &self.trustee_addrs(), &creds, pins)
                .await?;
        Ok(match self.witness_policy()? {
            Some(policy) => agency.require_witnessed(policy),
            None => agency,
        })
    }

    // ---- the parties' calls ----------------------------------------------------------

    /// Seals and sends a message from `from` to `to` at simulated time `ts` (the clock
    /// moves there), as a user's client does.
    pub async fn send(&self, from: &str, to: &[&str], ts: u64, text: &str) -> Result<Envelope, KitError> {
        self.send_bytes(from, to, ts, text.as_bytes()).await
    }

    /// [`Deployment::send`] with any plaintext bytes.
    pub async fn send_bytes(&self, from: &str, to: &[&str], ts: u64, plaintext: &[u8]) -> Result<Envelope, KitError> {
        self.world.clock.set(ts)?;
        let to = to.iter().map(|r| PartyId::new(*r)).collect::<Result<Vec<_>, _>>()?;
        let mut rng = self.world.rng();
        let sent = self.user_client(from)?.send(self.world.user(from)?, &to, plaintext, ts, &mut rng).await?;
        Ok(sent.envelope)
    }

    /// Warrant `[wid; 16]` of the court for `targets` over `[from, to)`, issued now.
    pub fn warrant(&self, wid: u8, targets: &[&str], from: u64, to: u64) -> Result<Vec<u8>, KitError> {
        self.world.sign(&self.world.warrant_body([wid; 16], &format!("TEST/{wid}"), targets, (from, to))?)
    }

    /// Submits `warrant` to every trustee as the agency: each trustee's answer.
    pub async fn submit(
        &self,
        warrant: &[u8],
    ) -> Result<Vec<(String, Result<pb::WarrantStatus, tonic::Status>)>, KitError> {
        let clients = (self.trustees.iter().enumerate())
            .map(|(i, t)| Ok((t.name.clone(), self.agency_client(i)?)))
            .collect::<Result<Vec<_>, KitError>>()?;
        Ok(escrow_agency::submit_to_every_trustee(clients, warrant).await)
    }

    /// Submits `warrant` to every trustee; the first refusal is an error.
    pub async fn submit_everywhere(&self, warrant: &[u8]) -> Result<(), KitError> {
        for (who, r) in self.submit(warrant).await? {
            r.map_err(rpc(format!("{who}: SubmitWarrant")))?;
        }
        Ok(())
    }

    /// Operator `op-<i>` of trustee `i` applies `action` to warrant `id`.
    pub async fn decide(
        &self,
        i: usize,
        id: [u8; 16],
        action: Action,
        reason: &str,
    ) -> Result<pb::WarrantStatus, KitError> {
        let req = pb::DecideWarrantRequest { warrant_id: id.to_vec(), reason: reason.into() };
        let mut c = self.operator_client(i)?;
        let what = format!("{}: {action:?}", self.trustee(i)?.name);
        let r = match action {
            Action::Approve => c.approve_warrant(req).await,
            Action::Deny => c.deny_warrant(req).await,
            Action::Revoke => c.revoke_warrant(req).await,
        };
        Ok(r.map_err(rpc(what))?.into_inner())
    }

    /// The operators of trustees `which` approve warrant `[wid; 16]`.
    pub async fn approve(&self, which: &[usize], wid: u8) -> Result<(), KitError> {
        for &i in which {
            self.decide(i, [wid; 16], Action::Approve, "lawful and proportionate").await?;
        }
        Ok(())
    }

    /// Warrant `[wid; 16]` as trustee `i` shows it to the agency.
    pub async fn status(&self, i: usize, wid: u8) -> Result<pb::WarrantStatus, KitError> {
        let req = pb::GetWarrantRequest { warrant_id: vec![wid; 16] };
        Ok(self.agency_client(i)?.get_warrant(req).await.map_err(rpc(format!("trustee-{i}: GetWarrant")))?.into_inner())
    }
}

impl Deployment {
    /// Trustee `i`'s Ceremony service as its own operator.
    pub fn ceremony_client(&self, i: usize) -> Result<CeremonyClient<Channel>, KitError> {
        let t = self.trustee(i)?;
        let creds = self.world.pki.operator(&t.name, &format!("op-{}", t.index))?;
        Ok(escrow_service::transport::ceremony_client(&t.server.addr.to_string(), &creds)?)
    }

    fn participant(&self, i: usize) -> Result<pb::Participant, KitError> {
        let t = self.trustee(i)?;
        Ok(pb::Participant { trustee_id: t.name.clone(), addr: t.server.addr.to_string() })
    }

    /// Runs a key ceremony as the operators would: the proposer's operator proposes,
    /// every other participant's operator accepts once the proposal reached it, the
    /// proposer executes once everyone accepted, then every participant is watched
    /// until it installed or aborted. Trustees that are down are left out of the
    /// watching (their absence shows in the others' statuses).
    pub async fn ceremony(&self, spec: &CeremonySpec) -> Result<CeremonyOutcome, KitError> {
        let req = spec.request(|i| self.participant(i))?;
        let proposed = self
            .ceremony_client(spec.proposer)?
            .propose(req)
            .await
            .map_err(rpc(format!("trustee-{}: Propose", spec.proposer)))?
            .into_inner();
        let id = proposed.ceremony_id.clone();
        // Players and dealers, as the proposer's trustee lists them.
        let everyone: Vec<usize> =
            proposed.participants.iter().filter_map(|p| self.trustees.iter().position(|t| &t.name == p)).collect();
        let up: Vec<usize> =
            everyone.iter().copied().filter(|&i| self.trustees.get(i).is_some_and(|t| t.server.is_up())).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = |i: usize| {
            let id = id.clone();
            async move {
                self.ceremony_client(i)?
                    .status(pb::CeremonyRef { ceremony_id: id, reason: String::new() })
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(rpc(format!("trustee-{i}: Status")))
            }
        };
        // Accept at every other participant once the proposal is there.
        for &i in up.iter().filter(|&&i| i != spec.proposer) {
            loop {
                match status(i).await {
                    Ok(s) if s.phase == "proposed" => {
                        self.ceremony_client(i)?
                            .accept(pb::CeremonyRef { ceremony_id: id.clone(), reason: String::new() })
                            .await
                            .map_err(rpc(format!("trustee-{i}: Accept")))?;
                        break;
                    }
                    Ok(s) if s.phase != "proposed" => break,
                    _ if std::time::Instant::now() > deadline => break,
                    _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
            }
        }
        // Execute once everyone accepted.
        loop {
            let s = status(spec.proposer).await?;
            if s.phase == "ready" {
                self.ceremony_client(spec.proposer)?
                    .execute(pb::CeremonyRef { ceremony_id: id.clone(), reason: String::new() })
                    .await
                    .map_err(rpc(format!("trustee-{}: Execute", spec.proposer)))?;
                break;
            }
            if s.phase == "aborted" || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Wait for every participant that is up to finish.
        let mut statuses = Vec::new();
        for &i in &up {
            loop {
                let s = status(i).await?;
                if s.phase == "installed" || s.phase == "aborted" || std::time::Instant::now() > deadline {
                    statuses.push(s);
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        let first = statuses.first().map(|s| s.announcement.clone()).unwrap_or_default();
        let all_same = !first.is_empty() && statuses.iter().all(|s| s.phase == "installed" && s.announcement == first);
        let announcement = if all_same {
            let signed = escrow_crypto::SignedAnnouncement::from_bytes(&first)?;
            Some(signed.verify(&self.world.pins)?)
        } else {
            None
        };
        Ok(CeremonyOutcome { statuses, announcement })
    }
}
