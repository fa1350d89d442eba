//! The trustee's durable state: warrants with their decisions, every released field,
//! and the append-only log of everything that happened. One SQLite file, WAL,
//! `synchronous=FULL`.
//!
//! Every state change appends its log entry **in the same transaction**: the entry is
//! durable no later than the effect, and if the append fails the action fails (fail
//! closed: no log, no share). Every such transaction opens with [`Store::begin`] and
//! ends with [`Logging::commit`], the one place that appends and commits. The
//! in-memory Merkle tree and the signed checkpoint are updated after the commit
//! ([`Store::committed`]) and rebuilt from the `log` table on start.
//!
//! Submodules hold the tables of one concern each: `warrants` (receipt, decisions,
//! releases), `days` (the day mode's released day keys), `refused` (counted refusals), `ceremony` (key sets made by ceremonies),
//! `witnessed` (where each warrant's entries sit, for witnessed approvals).

pub use crate::rules::{QuotaExceeded, ReleaseLimits};
use std::path::Path;

use escrow_log::event::{Entry, Event};
use escrow_log::{leaf_hash, Checkpoint, CheckpointSigner, Hash, MerkleTree};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::state::State;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS warrants (
    id          BLOB PRIMARY KEY,
    warrant     BLOB NOT NULL,
    court       TEXT NOT NULL,
    agency      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('received', 'approved', 'denied', 'revoked')),
    received_at INTEGER NOT NULL,
    decided_at  INTEGER,
    decided_by  TEXT,
    reason      TEXT,
    details_nonce BLOB NOT NULL,
    reveal_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS warrants_by_agency ON warrants (agency, received_at);
CREATE TABLE IF NOT EXISTS log (
    idx         INTEGER PRIMARY KEY,
    entry       BLOB NOT NULL,
    leaf_hash   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    epoch           INTEGER PRIMARY KEY,
    public_key_hash BLOB NOT NULL,
    installed_at    INTEGER NOT NULL,
    destroyed_at    INTEGER
);
CREATE TABLE IF NOT EXISTS releases (
    warrant_id  BLOB NOT NULL REFERENCES warrants(id),
    field_hash  BLOB NOT NULL,
    agency      TEXT NOT NULL,
    released_at INTEGER NOT NULL,
    label       BLOB NOT NULL,
    field       BLOB NOT NULL,
    PRIMARY KEY (warrant_id, field_hash)
);
CREATE INDEX IF NOT EXISTS releases_by_agency ON releases(agency, released_at);
-- Day keys (the day mode) whose extraction shares were released (see store/days.rs).
CREATE TABLE IF NOT EXISTS day_releases (
    warrant_id  BLOB NOT NULL REFERENCES warrants(id),
    epoch       INTEGER NOT NULL,
    party       TEXT NOT NULL,
    day         INTEGER NOT NULL,
    agency      TEXT NOT NULL,
    released_at INTEGER NOT NULL,
    PRIMARY KEY (warrant_id, epoch, party, day)
);
CREATE INDEX IF NOT EXISTS day_releases_by_agency ON day_releases(agency, released_at);
-- Refused share requests counted but not yet logged (see crate::refusals); an empty
-- warrant_id stands for a warrant the caller does not hold.
CREATE TABLE IF NOT EXISTS refusals (
    caller       TEXT NOT NULL,
    warrant_id   BLOB NOT NULL,
    code         TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    rule         TEXT NOT NULL,
    first_at     INTEGER NOT NULL,
    last_at      INTEGER NOT NULL,
    PRIMARY KEY (caller, warrant_id, code)
);
-- Key sets made by a key ceremony (see store/ceremony.rs): the announcement every
-- participant signed and this trustee's share, sealed under the data directory's key;
-- the share is cleared (secure_delete overwrites it) when the epoch is destroyed.
CREATE TABLE IF NOT EXISTS ceremony_keys (
    epoch        INTEGER PRIMARY KEY,
    generation   INTEGER NOT NULL,
    key_set      BLOB NOT NULL,
    announcement BLOB NOT NULL,
    share        BLOB,
    destroy_at   INTEGER NOT NULL,
    installed_at INTEGER NOT NULL,
    destroyed_at INTEGER
);
-- The latest checkpoint witnesses cosigned to the witness policy (see
-- store/witnessed.rs): one row, replaced only by a larger one.
CREATE TABLE IF NOT EXISTS witnessed (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    note TEXT NOT NULL
);
-- An installed epoch's key is never replaced (a second fresh ceremony for it would
-- strand every message sealed to it): a fresh key set (generation 0) only for an
-- epoch never installed here, and a key set replaced only by a reshare, at a higher
-- generation (the ceremony checks that a reshare keeps the public key).
CREATE TRIGGER IF NOT EXISTS ceremony_fresh_only_once BEFORE INSERT ON ceremony_keys
WHEN NEW.generation = 0 AND EXISTS (SELECT 1 FROM epochs WHERE epoch = NEW.epoch)
BEGIN SELECT RAISE(ABORT, 'a fresh key set for an epoch already installed'); END;
CREATE TRIGGER IF NOT EXISTS ceremony_generation_grows BEFORE UPDATE OF generation, key_set ON ceremony_keys
WHEN NEW.generation <= OLD.generation
BEGIN SELECT RAISE(ABORT, 'a key set replaced without a higher generation'); END;
-- Whose log this is: the origin and checkpoint verifier key it was first served with
-- (recorded at the first start of this code). One log, one key: a start with another
-- origin or key (a copied trustee.db, a lost or swapped log.key) is refused.
CREATE TABLE IF NOT EXISTS log_identity (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    origin       TEXT NOT NULL,
    verifier_key TEXT NOT NULL
);
-- The ceremony this trustee is taking part in, until it ends (see store/ceremony.rs):
-- its signed proposal and where each participant listens, so that a restarted trustee
-- knows the ceremony it was in and ends it cleanly. At most one at a time.
CREATE TABLE IF NOT EXISTS ceremony_open (
    ceremony BLOB PRIMARY KEY CHECK (length(ceremony) = 16),
    proposal BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ceremony_open_peers (
    ceremony BLOB NOT NULL REFERENCES ceremony_open(ceremony) ON DELETE CASCADE,
    trustee  TEXT NOT NULL,
    addr     TEXT NOT NULL,
    PRIMARY KEY (ceremony, trustee)
);
";

mod ceremony;
mod days;
mod refused;
mod warrants;
mod witnessed;
pub use ceremony::{CeremonyKeyRow, NewCeremonyKey, OpenCeremony};
pub use warrants::{DetailsOpening, Released, WarrantRow};
pub use witnessed::{Inclusion, WarrantMarks, WitnessedApproval};

/// The database file's name inside the trustee's data directory.
pub const DB_FILE: &str = "trustee.db";

/// Storage failures (always reported as INTERNAL, never as a refusal).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened (the message names the file).
    #[error("{0}")]
    Open(#[from] escrow_service::db::DbError),
    /// Another process serves from this data directory.
    #[error(transparent)]
    Locked(#[from] escrow_service::datadir::LockError),
    /// The share given for an epoch is not the one this trustee installed: another
    /// trustee's share file, or a wrong key set.
    #[error("epoch {epoch}: this trustee installed key share index {installed}, but was started with index {given} (another trustee's share file?)")]
    WrongShareIndex {
        /// The epoch.
        epoch: u64,
        /// The index logged when the epoch was installed.
        installed: u16,
        /// The index of the share given now.
        given: u16,
    },
    /// The database holds another log than the one this trustee was started to sign:
    /// first served under another origin, or signed by another log key.
    #[error("{}: this database holds the log {stored_origin} signed by {stored_key}, but the trustee was started as {origin} with the log key {key} (another trustee's trustee.db, or a lost or swapped log.key?)", .db.display())]
    NotThisLog {
        /// The database file.
        db: std::path::PathBuf,
        /// The origin the log was first served under.
        stored_origin: String,
        /// The verifier key it was first signed with.
        stored_key: String,
        /// The origin given now.
        origin: String,
        /// The verifier key of the log key given now.
        key: String,
    },
    /// A key set for an epoch installed here that is not a reshare of it at a higher
    /// generation: an installed epoch's key is never replaced.
    #[error("epoch {epoch} is installed here (generation {installed}); a key set of generation {given} may not replace it: only a reshare, at a higher generation, may follow it")]
    EpochInstalled {
        /// The epoch.
        epoch: u64,
        /// The generation installed (0 for a dealt or fresh key).
        installed: u32,
        /// The generation offered.
        given: u32,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored value is not what this code wrote.
    #[error("database holds an invalid {0}")]
    Corrupt(&'static str),
    /// The trustee was started with the share of an epoch it destroyed before.
    #[error("epoch {0} was destroyed at this trustee; refusing to load its share again")]
    EpochDestroyed(u64),
    /// A log entry could not be encoded, or the log could not be signed.
    #[error("log: {0}")]
    Log(#[from] escrow_log::LogError),
}

pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("time beyond i64"))
}

pub(crate) fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative time"))
}

/// The trustee's database, its Merkle tree and its checkpoint signer.
pub struct Store {
    /// Held for the life of the store: one process per data directory.
    _lock: escrow_service::datadir::DataDirLock,
    conn: Connection,
    tree: MerkleTree,
    signer: CheckpointSigner,
    origin: String,
    checkpoint: String,
    /// Per epoch, the key-share index logged when it was installed here.
    installed_index: std::collections::BTreeMap<u64, u16>,
    /// Per warrant, where its receipt and approval sit in the log.
    marks: std::collections::HashMap<[u8; 16], WarrantMarks>,
    /// The latest witnessed checkpoint: its size and the cosigned note.
    witnessed: Option<(u64, String)>,
    /// When the current checkpoint was signed, and when the witnessed one last moved
    /// (or the store opened), for the metrics' ages.
    signed_at: std::time::Instant,
    witnessed_at: std::time::Instant,
    /// Whether the log's origin and key are recorded (`log_identity`); an empty log's
    /// are recorded with its first entry.
    identity_recorded: bool,
}

/// What the metrics read from the store at each scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreCounts {
    /// Warrants by stored state (received, approved, denied, revoked).
    pub warrants: Vec<(State, u64)>,
    /// Distinct fields ever released, all warrants.
    pub fields_released: u64,
    /// Entries in the log.
    pub log_size: u64,
    /// Entries in the witnessed checkpoint (0 without one).
    pub witnessed_size: u64,
    /// Seconds since the current checkpoint was signed.
    pub checkpoint_age: f64,
    /// Seconds since the witnessed checkpoint last grew (or the store opened).
    pub witnessed_age: f64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("origin", &self.origin).field("log_size", &self.tree.size()).finish()
    }
}

/// Entries written in a transaction, for the in-memory tree once it commits: pass it
/// to [`Store::committed`].
#[must_use = "committed entries reach the tree and the checkpoint only through Store::committed"]
pub(crate) struct Appended {
    first: u64,
    leaves: Vec<Hash>,
    marks: Vec<(u64, witnessed::Mark)>,
}

/// Appends `entries` to the `log` table inside `tx`, starting at index `first`.
fn append_in(tx: &Transaction<'_>, first: u64, entries: &[Entry]) -> Result<Appended, StoreError> {
    let mut ins = tx.prepare_cached("INSERT INTO log (idx, entry, leaf_hash) VALUES (?1, ?2, ?3)")?;
    let mut leaves = Vec::with_capacity(entries.len());
    let mut marks = Vec::new();
    for (k, e) in entries.iter().enumerate() {
        let bytes = e.to_bytes()?;
        let leaf = leaf_hash(&bytes);
        let idx = first + k as u64;
        ins.execute(params![to_i64(idx)?, bytes, &leaf[..]])?;
        leaves.push(leaf);
        marks.extend(witnessed::Mark::of(&e.event).map(|m| (idx, m)));
    }
    Ok(Appended { first, leaves, marks })
}

/// A transaction that ends by logging, opened by [`Store::begin`]: it writes rows
/// (it derefs to the SQLite transaction), then [`Logging::commit`] appends the entries
/// that record them **in the same transaction** and commits. Dropped without that, it
/// rolls back and nothing is logged. The one way a state change and its log entries
/// are written.
pub(crate) struct Logging<'a> {
    tx: Transaction<'a>,
    /// The log index its first entry gets.
    first: u64,
}

impl<'a> std::ops::Deref for Logging<'a> {
    type Target = Transaction<'a>;
    fn deref(&self) -> &Transaction<'a> {
        &self.tx
    }
}

impl Logging<'_> {
    /// Appends `entries`, then commits (durable, with `synchronous=FULL`, before it
    /// returns). The caller then passes the result to [`Store::committed`].
    pub(crate) fn commit(self, entries: &[Entry]) -> Result<Appended, StoreError> {
        let appended = append_in(&self.tx, self.first, entries)?;
        self.tx.commit()?;
        Ok(appended)
    }
}

impl Store {
    /// Opens a transaction that ends by logging ([`Logging`]).
    pub(crate) fn begin(&mut self) -> Result<Logging<'_>, StoreError> {
        let first = self.tree.size();
        Ok(Logging { tx: self.conn.transaction()?, first })
    }

    /// The service started on this store: its data directory's lock file stays when
    /// the store is dropped (before that, one this process made is removed, so that a
    /// refused start leaves no `LOCK` behind).
    pub(crate) fn keep_lock(&mut self) {
        self._lock.keep();
    }

    /// Opens `dir/trustee.db`, creating it if needed, rebuilds the Merkle tree from the
    /// stored log, and signs a checkpoint for it as `origin`.
    ///
    /// `dir` must exist; it is locked for the life of the store (a second process on
    /// the same directory is refused, naming the holder's pid).
    pub fn open(dir: &Path, origin: &str, signer: CheckpointSigner) -> Result<Self, StoreError> {
        let lock = escrow_service::datadir::lock(dir)?;
        let conn = escrow_service::db::open(&dir.join(DB_FILE), SCHEMA)?;
        // Deleted rows (a destroyed share) are overwritten, not left in free pages.
        conn.execute_batch("PRAGMA secure_delete = ON;")?;
        let mut leaves = Vec::new();
        let mut installed_index = std::collections::BTreeMap::new();
        let mut marks = std::collections::HashMap::new();
        {
            // Leaf hashes are recomputed from the entries: a database whose entries and
            // stored hashes disagree was edited, and this trustee refuses to sign over it.
            let mut stmt = conn.prepare("SELECT idx, entry, leaf_hash FROM log ORDER BY idx")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
            for (expected, row) in rows.enumerate() {
                let (idx, entry, hash) = row?;
                if usize::try_from(idx).ok() != Some(expected) {
                    return Err(StoreError::Corrupt("log (gap in entry indices)"));
                }
                let leaf = leaf_hash(&entry);
                if hash.as_slice() != leaf.as_slice() {
                    return Err(StoreError::Corrupt("log (an entry does not match its stored leaf hash)"));
                }
                match Entry::from_bytes(&entry) {
                    Ok(Entry { event: Event::EpochInstalled { epoch, trustee_index, .. }, .. }) => {
                        installed_index.insert(epoch, trustee_index);
                    }
                    Ok(Entry { event, .. }) => {
                        if let Some(mark) = witnessed::Mark::of(&event) {
                            witnessed::apply(&mut marks, to_u64(idx)?, mark);
                        }
                    }
                    Err(_) => {}
                }
                leaves.push(leaf);
            }
        }
        let tree = MerkleTree::from_leaf_hashes(leaves);
        let identity_recorded =
            Self::check_identity(&conn, &dir.join(DB_FILE), origin, &signer.verifier().to_string(), tree.size())?;
        let mut store = Store {
            _lock: lock,
            conn,
            tree,
            signer,
            origin: origin.to_string(),
            checkpoint: String::new(),
            installed_index,
            marks,
            witnessed: None,
            signed_at: std::time::Instant::now(),
            witnessed_at: std::time::Instant::now(),
            identity_recorded,
        };
        store.witnessed = store.load_witnessed()?;
        store.resign()?;
        Ok(store)
    }

    /// Refuses a database whose log was first served under another origin or signed
    /// with another key. Returns whether the identity is recorded: a log with entries
    /// from before identities were recorded is adopted now; an empty log gets its
    /// identity with its first entry ([`Self::committed`]), so that a start refused
    /// after this open (a wrong share, say) does not tie the database to a log key
    /// that was never written to disk.
    fn check_identity(conn: &Connection, db: &Path, origin: &str, key: &str, size: u64) -> Result<bool, StoreError> {
        let stored: Option<(String, String)> = conn
            .query_row("SELECT origin, verifier_key FROM log_identity WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match stored {
            Some((o, k)) if o == origin && k == key => Ok(true),
            Some((stored_origin, stored_key)) => Err(StoreError::NotThisLog {
                db: db.to_path_buf(),
                stored_origin,
                stored_key,
                origin: origin.to_string(),
                key: key.to_string(),
            }),
            None if size > 0 => {
                Self::record_identity(conn, origin, key)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn record_identity(conn: &Connection, origin: &str, key: &str) -> Result<(), StoreError> {
        conn.execute("INSERT INTO log_identity (id, origin, verifier_key) VALUES (1, ?1, ?2)", params![origin, key])?;
        Ok(())
    }

    fn resign(&mut self) -> Result<(), StoreError> {
        let size = self.tree.size();
        let cp = Checkpoint::new(self.origin.clone(), size, self.tree.root(size)?)?;
        self.checkpoint = self.signer.sign(&cp);
        self.signed_at = std::time::Instant::now();
        Ok(())
    }

    /// The numbers the metrics endpoint shows, read in one go.
    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT state, COUNT(*) FROM warrants GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut warrants = Vec::new();
        for row in rows {
            let (state, n) = row?;
            let state = State::parse(&state).ok_or(StoreError::Corrupt("warrant state"))?;
            warrants.push((state, to_u64(n)?));
        }
        let fields: i64 = self.conn.query_row("SELECT COUNT(*) FROM releases", [], |r| r.get(0))?;
        Ok(StoreCounts {
            warrants,
            fields_released: to_u64(fields)?,
            log_size: self.tree.size(),
            witnessed_size: self.witnessed.as_ref().map_or(0, |(s, _)| *s),
            checkpoint_age: self.signed_at.elapsed().as_secs_f64(),
            witnessed_age: self.witnessed_at.elapsed().as_secs_f64(),
        })
    }

    /// Adds committed leaves to the tree and signs a new checkpoint.
    pub(crate) fn committed(&mut self, appended: Appended) -> Result<(), StoreError> {
        debug_assert_eq!(appended.first, self.tree.size());
        for l in appended.leaves {
            self.tree.append(l);
        }
        for (idx, mark) in appended.marks {
            witnessed::apply(&mut self.marks, idx, mark);
        }
        if !self.identity_recorded {
            Self::record_identity(&self.conn, &self.origin, &self.signer.verifier().to_string())?;
            self.identity_recorded = true;
        }
        self.resign()
    }

    /// Appends one entry on its own (refusals, epoch events).
    pub fn log(&mut self, entry: Entry) -> Result<u64, StoreError> {
        self.log_batch(std::slice::from_ref(&entry))
    }

    /// Appends entries in one durable transaction and signs one checkpoint for them;
    /// returns the index of the first.
    pub fn log_batch(&mut self, entries: &[Entry]) -> Result<u64, StoreError> {
        let appended = self.begin()?.commit(entries)?;
        let first = appended.first;
        self.committed(appended)?;
        Ok(first)
    }

    /// The generation of epoch `epoch` as installed here: `None` if it never was, 0
    /// for a dealt key or a fresh ceremony's, more for a reshare's.
    pub fn installed_generation(&self, epoch: u64) -> Result<Option<u32>, StoreError> {
        let e = to_i64(epoch)?;
        let known: Option<i64> =
            self.conn.query_row("SELECT epoch FROM epochs WHERE epoch = ?1", params![e], |r| r.get(0)).optional()?;
        if known.is_none() {
            return Ok(None);
        }
        let generation: Option<i64> = self
            .conn
            .query_row("SELECT generation FROM ceremony_keys WHERE epoch = ?1", params![e], |r| r.get(0))
            .optional()?;
        let generation = u32::try_from(generation.unwrap_or(0)).map_err(|_| StoreError::Corrupt("generation"))?;
        Ok(Some(generation))
    }

    fn known_epochs(&self) -> Result<Vec<KnownEpoch>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT epoch, public_key_hash, destroyed_at FROM epochs")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))?;
        rows.map(|r| r.map_err(StoreError::from).and_then(|(e, h, d)| Ok((to_u64(e)?, h, d)))).collect()
    }

    /// Checks, writing nothing, that the epochs (epoch, SHA-256 of the public key,
    /// share index) a trustee is starting with agree with what this store installed:
    /// not destroyed, the same public key, the same share index.
    pub fn check_epochs(&self, loaded: &[(u64, Hash, u16)]) -> Result<(), StoreError> {
        let known = self.known_epochs()?;
        for (epoch, hash, index) in loaded {
            match known.iter().find(|(e, _, _)| e == epoch) {
                Some((_, _, Some(_))) => return Err(StoreError::EpochDestroyed(*epoch)),
                Some((_, stored, None)) if stored.as_slice() != hash.as_slice() => {
                    return Err(StoreError::Corrupt("epoch public key differs from the one installed"))
                }
                _ => {}
            }
            match self.installed_index.get(epoch) {
                Some(installed) if installed != index => {
                    return Err(StoreError::WrongShareIndex { epoch: *epoch, installed: *installed, given: *index })
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Reconciles the epochs this trustee starts with against the ones it had: a new
    /// epoch is logged as installed; an epoch it had but starts without is logged as
    /// destroyed (its share is gone from this process); starting again with a
    /// destroyed epoch is refused, so destruction cannot be quietly undone.
    pub fn sync_epochs(&mut self, loaded: &[(u64, Hash, u16)], now: u64) -> Result<(), StoreError> {
        self.check_epochs(loaded)?;
        let known = self.known_epochs()?;
        let mut entries = Vec::new();
        for (epoch, hash, index) in loaded {
            if !known.iter().any(|(e, _, _)| e == epoch) {
                entries.push((
                    *epoch,
                    Entry {
                        time: now,
                        event: Event::EpochInstalled { epoch: *epoch, public_key_hash: *hash, trustee_index: *index },
                    },
                ));
            }
        }
        for (epoch, _, destroyed) in &known {
            if destroyed.is_none() && !loaded.iter().any(|(e, _, _)| e == epoch) {
                entries.push((*epoch, Entry { time: now, event: Event::EpochDestroyed { epoch: *epoch } }));
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        let tx = self.begin()?;
        for (epoch, e) in &entries {
            match &e.event {
                Event::EpochInstalled { public_key_hash, .. } => {
                    tx.execute(
                        "INSERT INTO epochs (epoch, public_key_hash, installed_at) VALUES (?1, ?2, ?3)",
                        params![to_i64(*epoch)?, &public_key_hash[..], to_i64(now)?],
                    )?;
                }
                _ => {
                    tx.execute(
                        "UPDATE epochs SET destroyed_at = ?1 WHERE epoch = ?2",
                        params![to_i64(now)?, to_i64(*epoch)?],
                    )?;
                }
            }
        }
        let list: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
        let leaves = tx.commit(&list)?;
        for e in &list {
            if let Event::EpochInstalled { epoch, trustee_index, .. } = e.event {
                self.installed_index.insert(epoch, trustee_index);
            }
        }
        self.committed(leaves)
    }

    /// The latest signed checkpoint (signed-note text).
    pub fn checkpoint(&self) -> &str {
        &self.checkpoint
    }

    /// The verifier key text of the checkpoint signer.
    pub fn verifier_key(&self) -> String {
        self.signer.verifier().to_string()
    }

    /// Number of log entries.
    pub fn log_size(&self) -> u64 {
        self.tree.size()
    }

    /// Encoded entries `[start, end)`.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let rows = stmt.query_map(params![to_i64(start)?, to_i64(end)?], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Inclusion proof of entry `index` in the tree of size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, escrow_log::LogError> {
        self.tree.inclusion_proof(index, size)
    }

    /// Consistency proof from size `m` to size `n`.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, escrow_log::LogError> {
        self.tree.consistency_proof(m, n)
    }
}

/// An installed epoch: (epoch, SHA-256 of its public key, when destroyed if it was).
type KnownEpoch = (u64, Vec<u8>, Option<i64>);
