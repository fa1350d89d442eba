//! The parties of a deployment, before any server runs: the CA and credentials, the
//! epoch key set, the court, the users, the clock and the directory everything lives in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use escrow_crypto::{
    dealer_keygen, CourtPublicKey, CourtSecretKey, DealerOutput, EpochId, PartyId, TimeWindow, TrusteePins,
    TrusteeSigningKey, UserSecretKey, WarrantBody, WarrantId,
};
use escrow_service::clock::ManualClock;
use escrow_trustee::policy::Policy;
use rand::rngs::OsRng;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::{KitClock, KitError, Pki};

/// One day, seconds.
pub const DAY: u64 = 86_400;

/// How epoch 1's key set is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyGen {
    /// A dealer in this process (weak mode: it sees the master secret); trustees start
    /// holding their shares.
    Dealer,
    /// A key ceremony among the trustees, over their Ceremony services, once they run;
    /// no process sees the master secret (`keys.shares` stays empty).
    Ceremony,
}

/// How the servers run.
#[derive(Debug, Clone)]
pub enum Launch {
    /// As tasks of this process, sharing a manual clock.
    InProcess,
    /// As child processes of the `escrow` binary at `exe`, with key files sealed
    /// under `passphrase` and a clock file.
    Processes {
        /// The `escrow` binary.
        exe: PathBuf,
        /// Unseals every key file of the deployment (given to children in the
        /// environment).
        passphrase: String,
    },
}

/// The policy of trustee `i`, given the court's key.
pub type PolicyFn = Arc<dyn Fn(u16, &CourtPublicKey) -> Policy + Send + Sync>;

/// What to stand up.
#[derive(Clone)]
pub struct Options {
    /// Names the CA and the temporary directory.
    pub name: String,
    /// Trustees.
    pub n: u16,
    /// Threshold: t+1 shares open a field.
    pub t: u16,
    /// Seeds every key (deterministic tests); `None` draws from the OS.
    pub seed: Option<u64>,
    /// The clock's start, unix seconds.
    pub start: u64,
    /// User ids; each gets a key and is registered at the relay.
    pub users: Vec<String>,
    /// The court's id.
    pub court: String,
    /// How the servers run.
    pub launch: Launch,
    /// Keep the directory after the deployment is dropped (`escrow demo --keep`).
    pub keep_dir: bool,
    /// Each trustee's policy.
    pub policy: PolicyFn,
    /// The organisations' CAs to use; if `None`, a fresh CA for every organisation
    /// ([`Pki::federated`]).
    pub pki: Option<Arc<Pki>>,
    /// How epoch 1's key set is made.
    pub keygen: KeyGen,
    /// Each phase's timeout in a key ceremony, milliseconds.
    pub ceremony_phase_ms: u32,
    /// When epoch 1's shares are destroyed (unix seconds; ceremony key sets only).
    pub destroy_at: u64,
    /// Witnesses of the trustees' logs; with them, releases need witnessed approvals.
    pub witnesses: Option<crate::witnesses::WitnessOptions>,
    /// How the relay commits accepted envelopes (`relay serve --max-batch`).
    pub relay_commit: escrow_relay::Commit,
    /// The escrow modes of the first epoch's key ceremony (`KeyGen::Ceremony` only; a
    /// dealt epoch has no announcement to state them).
    pub modes: escrow_crypto::Modes,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("name", &self.name)
            .field("n", &self.n)
            .field("t", &self.t)
            .field("seed", &self.seed)
            .field("start", &self.start)
            .field("users", &self.users)
            .field("launch", &self.launch)
            .finish_non_exhaustive()
    }
}

/// 2026-01-01T00:00:00Z.
pub const START: u64 = 1_767_225_600;

impl Default for Options {
    /// Five trustees with t = 2, in this process, seeded, users alice, bob, carol, dave
    /// and mallory, the court `high-court`, [`default_policy`].
    fn default() -> Self {
        Options {
            name: "kit".into(),
            n: 5,
            t: 2,
            seed: Some(0),
            start: START,
            users: ["alice", "bob", "carol", "dave", "mallory"].iter().map(|u| u.to_string()).collect(),
            court: "high-court".into(),
            launch: Launch::InProcess,
            keep_dir: false,
            policy: Arc::new(default_policy),
            pki: None,
            keygen: KeyGen::Dealer,
            ceremony_phase_ms: 2_000,
            destroy_at: START + 365 * DAY,
            witnesses: None,
            relay_commit: escrow_relay::DEFAULT_COMMIT,
            modes: escrow_crypto::Modes::PER_MESSAGE,
        }
    }
}

/// Trustee `i` trusting `court`: operator approval, 7-day windows, 1,000 fields per
/// warrant, 500 items per request, `agency-1` may open 100,000 fields per 30 days.
pub fn default_policy(i: u16, court: &CourtPublicKey) -> Policy {
    let mut p = Policy::new(trustee_id(i), vec![court.clone()]);
    p.max_window_secs = 7 * DAY;
    p.max_fields_per_warrant = 1000;
    p.max_items_per_request = 500;
    p.agency_quota.insert(PartyId::new("agency-1").expect("a valid id"), 100_000);
    p
}

/// The id of trustee `i`.
pub fn trustee_id(i: u16) -> PartyId {
    PartyId::new(format!("trustee-{i}")).expect("trustee-<n> is a valid id")
}

/// The deployment's parties and where they keep their files.
pub struct World {
    /// The directory holding every node's data directory, keys and logs.
    pub dir: PathBuf,
    tmp: Option<tempfile::TempDir>,
    /// The CA and every party's credentials.
    pub pki: Arc<Pki>,
    /// Everyone's clock.
    pub clock: KitClock,
    /// The current epoch's key set. With a dealer, every share too (see the crate
    /// docs); after a key ceremony, `shares` is empty: no process of the kit has them.
    pub keys: DealerOutput,
    /// Each trustee's signing key (announcements, ceremony messages), by index.
    pub trustee_keys: Vec<TrusteeSigningKey>,
    /// The pins of every trustee's public key: what every party believes.
    pub pins: TrusteePins,
    /// Each trustee's data-directory sealing key, by index.
    pub seal_keys: Vec<escrow_trustee::ceremony::SealKey>,
    /// The court that signs warrants.
    pub court: CourtSecretKey,
    /// Every user's key.
    pub users: Vec<UserSecretKey>,
    /// What was asked for.
    pub options: Options,
    rng: Mutex<ChaCha20Rng>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World").field("dir", &self.dir).field("options", &self.options).finish_non_exhaustive()
    }
}

impl World {
    /// Makes the directory, the CA, epoch 1's keys, the court, the users and the clock.
    pub fn new(options: Options) -> Result<Self, KitError> {
        let mut rng = match options.seed {
            Some(s) => ChaCha20Rng::seed_from_u64(s),
            None => {
                ChaCha20Rng::from_rng(OsRng).map_err(|e| KitError::Start { name: "rng".into(), why: e.to_string() })?
            }
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!("escrow-{}-", options.name))
            .tempdir()
            .map_err(|e| KitError::io(std::env::temp_dir(), e))?;
        let dir = tmp.path().to_path_buf();
        let tmp = if options.keep_dir {
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        let pki = match (&options.pki, &options.launch) {
            (Some(p), _) => p.clone(),
            (None, launch) => {
                let witnesses: Vec<String> =
                    (1..=options.witnesses.map_or(0, |w| w.count)).map(|j| format!("w{j}")).collect();
                let witnesses: Vec<&str> = witnesses.iter().map(String::as_str).collect();
                let orgs = escrow_pki::layout::organisations(options.n, &crate::deployment::AGENCIES, &witnesses)?;
                Arc::new(match launch {
                    // Child processes: each organisation makes its own CA, in its own
                    // process, as it would on its own machine.
                    Launch::Processes { exe, passphrase } => {
                        Pki::made_by_organisations(exe, &dir.join("orgs"), &options.name, 30, orgs, passphrase)?
                    }
                    Launch::InProcess => Pki::with_organisations(&options.name, 30, orgs)?,
                })
            }
        };
        let mut keys = dealer_keygen(EpochId(1), options.t, options.n, &mut rng)?;
        if options.keygen == KeyGen::Ceremony {
            keys.shares.clear();
        }
        let trustee_keys: Vec<TrusteeSigningKey> =
            (0..options.n).map(|i| TrusteeSigningKey::generate(trustee_id(i), &mut rng)).collect();
        let pins = TrusteePins::new(trustee_keys.iter().map(TrusteeSigningKey::public).collect())?;
        let seal_keys = (0..options.n)
            .map(|_| {
                let mut b = [0u8; 32];
                rng.fill_bytes(&mut b);
                escrow_trustee::ceremony::SealKey::from_bytes(&b)
            })
            .collect();
        let court = CourtSecretKey::generate(PartyId::new(&options.court)?, &mut rng);
        let users = options
            .users
            .iter()
            .map(|u| Ok(UserSecretKey::generate(PartyId::new(u)?, &mut rng)))
            .collect::<Result<Vec<_>, KitError>>()?;
        let clock = match options.launch {
            Launch::InProcess => KitClock::Manual(ManualClock::at(options.start)),
            Launch::Processes { .. } => KitClock::file(&dir.join("clock"), options.start)?,
        };
        Ok(World {
            dir,
            tmp,
            pki,
            clock,
            keys,
            trustee_keys,
            pins,
            seal_keys,
            court,
            users,
            options,
            rng: Mutex::new(rng),
        })
    }

    /// Whether the directory is removed when the world is dropped.
    pub fn is_temporary(&self) -> bool {
        self.tmp.is_some()
    }

    /// The directory of node `name`.
    pub fn node_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// User `name`'s key.
    pub fn user(&self, name: &str) -> Result<&UserSecretKey, KitError> {
        self.users
            .iter()
            .find(|u| u.id().as_str() == name)
            .ok_or_else(|| KitError::Unknown { what: "user", name: name.into() })
    }

    /// Fills `buf` from the world's generator (seeded when the options are).
    pub fn fill_random(&self, buf: &mut [u8]) {
        self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner).fill_bytes(buf);
    }

    /// A fresh generator derived from the world's (deterministic when seeded).
    pub fn rng(&self) -> ChaCha20Rng {
        let mut seed = [0u8; 32];
        self.fill_random(&mut seed);
        ChaCha20Rng::from_seed(seed)
    }

    /// A warrant body of the court for `agency-1` naming `targets` over `window`,
    /// issued now, valid 30 days, details sealed for 90 days after that.
    pub fn warrant_body(
        &self,
        id: [u8; 16],
        case: &str,
        targets: &[&str],
        window: (u64, u64),
    ) -> Result<WarrantBody, KitError> {
        let now = self.clock.now();
        Ok(WarrantBody {
            id: WarrantId(id),
            case_reference: case.into(),
            court: self.court.public().court().clone(),
            agency: PartyId::new("agency-1")?,
            targets: targets.iter().map(|t| PartyId::new(*t)).collect::<Result<_, _>>()?,
            window: TimeWindow::new(window.0, window.1)?,
            issued_at: now,
            valid_until: now + 30 * DAY,
            legal_basis: "test".into(),
            notification_delay_secs: 90 * DAY,
        })
    }

    /// The court's signature over `body`: the warrant blob.
    pub fn sign(&self, body: &WarrantBody) -> Result<Vec<u8>, KitError> {
        Ok(self.court.sign(body)?)
    }

    /// The path of `name` inside the deployment's directory.
    pub fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }
}
