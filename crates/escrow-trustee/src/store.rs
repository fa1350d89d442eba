//! The trustee's durable state: warrants with their decisions, every released field,
//! and the append-only log of everything that happened. One SQLite file, WAL,
//! `synchronous=FULL`.
//!
//! Every state change appends its log entry **in the same transaction**: the entry is
//! durable no later than the effect, and if the append fails the action fails (fail
//! closed: no log, no share). The in-memory Merkle tree and the signed checkpoint are
//! updated after the commit and rebuilt from the `log` table on start.

pub use crate::rules::{QuotaExceeded, ReleaseLimits};
use std::path::Path;

use escrow_crypto::{VerifiedWarrant, WarrantId};
use escrow_log::event::{Entry, Event};
use escrow_log::{leaf_hash, Checkpoint, CheckpointSigner, Hash, MerkleTree};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::refusals::{self, Key, Pending, Refusal};
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
mod witnessed;
pub use ceremony::{CeremonyKeyRow, NewCeremonyKey, OpenCeremony};
pub use witnessed::{Inclusion, WarrantMarks, WitnessedApproval};

/// A stored warrant row.
#[derive(Clone, Debug)]
pub struct WarrantRow {
    /// Warrant id.
    pub id: WarrantId,
    /// Exact signed bytes, as received.
    pub warrant: Vec<u8>,
    /// Issuing court.
    pub court: String,
    /// Agency named in the warrant.
    pub agency: String,
    /// Stored state.
    pub state: State,
    /// Receipt time.
    pub received_at: u64,
    /// Decision time, if decided.
    pub decided_at: Option<u64>,
    /// Operator id, or "policy".
    pub decided_by: Option<String>,
    /// Recorded reason.
    pub reason: Option<String>,
    /// Distinct fields released under it.
    pub fields_released: u64,
}

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

/// The opening of a warrant's sealed-details commitment.
#[derive(Clone, Debug)]
pub struct DetailsOpening {
    /// The commitment nonce.
    pub nonce: [u8; 32],
    /// The signed warrant blob.
    pub warrant: Vec<u8>,
    /// When it may be revealed.
    pub reveal_at: u64,
    /// Every (label, field) released under the warrant.
    pub released: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One released item: the field's fingerprint and the exact label and field bytes.
#[derive(Clone, Debug)]
pub struct Released {
    /// SHA-256 of the field blob.
    pub hash: [u8; 32],
    /// Label blob.
    pub label: Vec<u8>,
    /// Field blob.
    pub field: Vec<u8>,
}

/// Entries written in a transaction, for the in-memory tree once it commits.
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

impl Store {
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
    fn committed(&mut self, appended: Appended) -> Result<(), StoreError> {
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
        let first = self.tree.size();
        let tx = self.conn.transaction()?;
        let leaves = append_in(&tx, first, entries)?;
        tx.commit()?;
        self.committed(leaves)?;
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
        let first = self.tree.size();
        let tx = self.conn.transaction()?;
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
        let leaves = append_in(&tx, first, &list)?;
        tx.commit()?;
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

    /// The sealed-details opening of a warrant, if stored.
    pub fn details_opening(&self, id: &WarrantId) -> Result<Option<DetailsOpening>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT details_nonce, warrant, reveal_at FROM warrants WHERE id = ?1",
                params![&id.0[..]],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()?;
        let Some((nonce, warrant, reveal_at)) = row else { return Ok(None) };
        let mut stmt = self.conn.prepare_cached(
            "SELECT label, field FROM releases WHERE warrant_id = ?1 ORDER BY released_at, field_hash",
        )?;
        let released = stmt
            .query_map(params![&id.0[..]], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(DetailsOpening {
            nonce: nonce.try_into().map_err(|_| StoreError::Corrupt("details nonce"))?,
            warrant,
            reveal_at: to_u64(reveal_at)?,
            released,
        }))
    }

    /// Inserts a newly received warrant with its initial state, and logs its receipt
    /// (with only a commitment to its sealed details) in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_warrant(
        &mut self,
        w: &VerifiedWarrant,
        state: State,
        now: u64,
        decided_by: Option<&str>,
        reason: Option<&str>,
        details_nonce: [u8; 32],
        entry: Entry,
    ) -> Result<(), StoreError> {
        let decided_at = if state == State::Received { None } else { Some(to_i64(now)?) };
        let reveal_at = w.body().reveal_at();
        let first = self.tree.size();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO warrants (id, warrant, court, agency, state, received_at, decided_at, decided_by, reason,
                                   details_nonce, reveal_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                &w.id().0[..],
                w.as_bytes(),
                w.body().court.as_str(),
                w.body().agency.as_str(),
                state.as_str(),
                to_i64(now)?,
                decided_at,
                decided_by,
                reason,
                &details_nonce[..],
                to_i64(reveal_at.min(i64::MAX as u64))?
            ],
        )?;
        let leaves = append_in(&tx, first, &[entry])?;
        tx.commit()?;
        self.committed(leaves)
    }

    /// One warrant, if known.
    pub fn warrant(&self, id: &WarrantId) -> Result<Option<WarrantRow>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT w.id, w.warrant, w.court, w.agency, w.state, w.received_at, w.decided_at, w.decided_by,
                        w.reason, (SELECT COUNT(*) FROM releases r WHERE r.warrant_id = w.id)
                 FROM warrants w WHERE w.id = ?1",
                params![&id.0[..]],
                raw_row,
            )
            .optional()?;
        row.map(finish_row).transpose()
    }

    /// Every warrant, oldest first.
    pub fn warrants(&self) -> Result<Vec<WarrantRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT w.id, w.warrant, w.court, w.agency, w.state, w.received_at, w.decided_at, w.decided_by,
                    w.reason, (SELECT COUNT(*) FROM releases r WHERE r.warrant_id = w.id)
             FROM warrants w ORDER BY w.received_at, w.id",
        )?;
        let rows = stmt.query_map([], raw_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(finish_row).collect()
    }

    /// How many warrants of `agency` arrived at or after `since` (whatever became of
    /// them), for the per-agency warrant quota; `since` is
    /// [`crate::policy::quota_window_start`].
    pub fn warrants_received_since(&self, agency: &str, since: u64) -> Result<u64, StoreError> {
        let since = to_i64(since)?;
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM warrants WHERE agency = ?1 AND received_at >= ?2",
            rusqlite::params![agency, since],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Records a decision and logs it in the same transaction, but only if the
    /// warrant is still in `from` (so two operators racing cannot both move it).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        id: &WarrantId,
        from: State,
        to: State,
        now: u64,
        by: &str,
        reason: &str,
        entry: Entry,
    ) -> Result<bool, StoreError> {
        let first = self.tree.size();
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE warrants SET state = ?1, decided_at = ?2, decided_by = ?3, reason = ?4
             WHERE id = ?5 AND state = ?6",
            params![to.as_str(), to_i64(now)?, by, reason, &id.0[..], from.as_str()],
        )?;
        if n != 1 {
            return Ok(false);
        }
        let leaves = append_in(&tx, first, &[entry])?;
        tx.commit()?;
        self.committed(leaves)?;
        Ok(true)
    }

    /// Atomically decides and records the releases of `items` under `warrant`, at
    /// `now`. The decision is taken here, inside the transaction, on fresh state:
    /// the warrant's stored state and validity at `now` ([`rules::may_commit_release`])
    /// and the quotas ([`rules::check_quota`]). On a refusal nothing is recorded.
    ///
    /// A release is idempotent: fields this warrant already released are not counted
    /// again and get no new log entry (their shares are the same shares, so asking
    /// again reveals nothing new). Returns the number of newly released fields.
    ///
    /// [`rules::may_commit_release`]: crate::rules::may_commit_release
    /// [`rules::check_quota`]: crate::rules::check_quota
    pub fn record_releases(
        &mut self,
        warrant: &VerifiedWarrant,
        items: &[Released],
        now: u64,
        limits: ReleaseLimits,
    ) -> Result<Result<u64, crate::rules::Refusal>, StoreError> {
        let id = warrant.id();
        let agency = &warrant.body().agency;
        let tx = self.conn.transaction()?;
        let state: Option<String> =
            tx.query_row("SELECT state FROM warrants WHERE id = ?1", params![&id.0[..]], |r| r.get(0)).optional()?;
        let state = state.map(|s| State::parse(&s).ok_or(StoreError::Corrupt("warrant state"))).transpose()?;
        if let Err(refusal) = crate::rules::may_commit_release(warrant, state, now) {
            return Ok(Err(refusal));
        }
        let mut by_hash: Vec<&Released> = items.iter().collect();
        by_hash.sort_by_key(|r| r.hash);
        by_hash.dedup_by_key(|r| r.hash);
        let fresh: Vec<&Released> = {
            let mut stmt = tx.prepare_cached("SELECT 1 FROM releases WHERE warrant_id = ?1 AND field_hash = ?2")?;
            let mut fresh = Vec::with_capacity(by_hash.len());
            for r in by_hash {
                if !stmt.exists(params![&id.0[..], &r.hash[..]])? {
                    fresh.push(r);
                }
            }
            fresh
        };
        if fresh.is_empty() {
            return Ok(Ok(0));
        }
        let new = fresh.len() as u64;
        let per_warrant: i64 =
            tx.query_row("SELECT COUNT(*) FROM releases WHERE warrant_id = ?1", params![&id.0[..]], |r| r.get(0))?;
        let since = to_i64(crate::policy::quota_window_start(now))?;
        let per_agency: i64 = tx.query_row(
            "SELECT COUNT(*) FROM releases WHERE agency = ?1 AND released_at >= ?2",
            params![agency.as_str(), since],
            |r| r.get(0),
        )?;
        let used = crate::rules::Used { per_warrant: to_u64(per_warrant)?, per_agency: to_u64(per_agency)? };
        if let Err(q) = crate::rules::check_quota(used, new, limits) {
            return Ok(Err(q.into()));
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO releases (warrant_id, field_hash, agency, released_at, label, field)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in &fresh {
                ins.execute(params![&id.0[..], &r.hash[..], agency.as_str(), to_i64(now)?, r.label, r.field])?;
            }
        }
        // The log entry names every field this request released for the first time.
        let entry = Entry {
            time: now,
            event: Event::SharesReleased {
                warrant_id: id.0,
                agency: agency.to_string().into(),
                fields: fresh.iter().map(|r| r.hash).collect(),
            },
        };
        let first = self.tree.size();
        let leaves = append_in(&tx, first, &[entry])?;
        tx.commit()?;
        self.committed(leaves)?;
        Ok(Ok(new))
    }
}

impl Store {
    /// Counts a refused share request and appends whatever entries
    /// [`refusals::on_refusal`] says are due, with the windows that have closed, in one
    /// transaction.
    pub fn record_refusal(&mut self, r: Refusal) -> Result<(), StoreError> {
        let now = r.time;
        let tx = self.conn.transaction()?;
        let mut entries = flush_due_in(&tx, now)?;
        let open = {
            let mut stmt = tx.prepare_cached(
                "SELECT window_start, count, rule, first_at, last_at FROM refusals
                 WHERE caller = ?1 AND warrant_id = ?2 AND code = ?3",
            )?;
            stmt.query_row(params![r.key.caller, key_blob(&r.key), r.key.code], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?, row.get(3)?, row.get(4)?))
            })
            .optional()?
            .map(|(start, count, rule, first, last): (i64, i64, String, i64, i64)| {
                Ok::<_, StoreError>(Pending {
                    key: r.key.clone(),
                    window_start: to_u64(start)?,
                    count: u32::try_from(count).map_err(|_| StoreError::Corrupt("refusal count"))?,
                    rule: rule.into(),
                    first: to_u64(first)?,
                    last: to_u64(last)?,
                })
            })
            .transpose()?
        };
        let (now_entries, keep) = refusals::on_refusal(open, r);
        entries.extend(now_entries);
        tx.execute(
            "INSERT OR REPLACE INTO refusals (caller, warrant_id, code, window_start, count, rule, first_at, last_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                keep.key.caller,
                key_blob(&keep.key),
                keep.key.code,
                to_i64(keep.window_start)?,
                i64::from(keep.count),
                keep.rule.as_str(),
                to_i64(keep.first)?,
                to_i64(keep.last)?
            ],
        )?;
        let first = self.tree.size();
        let leaves = append_in(&tx, first, &entries)?;
        tx.commit()?;
        self.committed(leaves)
    }

    /// Logs the refusals counted in every window that has closed at `now`; returns how
    /// many entries that appended.
    pub fn flush_refusals(&mut self, now: u64) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let entries = flush_due_in(&tx, now)?;
        if entries.is_empty() {
            return Ok(0);
        }
        let first = self.tree.size();
        let leaves = append_in(&tx, first, &entries)?;
        tx.commit()?;
        self.committed(leaves)?;
        Ok(entries.len())
    }
}

fn key_blob(k: &Key) -> Vec<u8> {
    k.warrant_id.map(|w| w.to_vec()).unwrap_or_default()
}

/// Deletes every counting window closed at `now` and returns the summaries to log.
fn flush_due_in(tx: &Transaction<'_>, now: u64) -> Result<Vec<Entry>, StoreError> {
    let closed_before = to_i64(refusals::last_closed_start(now))?;
    let due: Vec<Pending> = {
        let mut stmt = tx.prepare_cached(
            "SELECT caller, warrant_id, code, window_start, count, rule, first_at, last_at FROM refusals
             WHERE window_start <= ?1 ORDER BY window_start, caller, warrant_id, code",
        )?;
        let rows = stmt.query_map(params![closed_before], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
            ))
        })?;
        let mut due = Vec::new();
        for row in rows {
            let (caller, warrant, code, start, count, rule, first, last) = row?;
            let warrant_id = match warrant.len() {
                0 => None,
                _ => Some(<[u8; 16]>::try_from(warrant).map_err(|_| StoreError::Corrupt("refusal warrant id"))?),
            };
            due.push(Pending {
                key: Key { caller, warrant_id, code },
                window_start: to_u64(start)?,
                count: u32::try_from(count).map_err(|_| StoreError::Corrupt("refusal count"))?,
                rule: rule.into(),
                first: to_u64(first)?,
                last: to_u64(last)?,
            });
        }
        due
    };
    tx.execute("DELETE FROM refusals WHERE window_start <= ?1", params![closed_before])?;
    Ok(due.iter().filter_map(|p| p.summary(now)).collect())
}

/// An installed epoch: (epoch, SHA-256 of its public key, when destroyed if it was).
type KnownEpoch = (u64, Vec<u8>, Option<i64>);

type RawRow = (Vec<u8>, Vec<u8>, String, String, String, i64, Option<i64>, Option<String>, Option<String>, i64);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

fn finish_row(raw: RawRow) -> Result<WarrantRow, StoreError> {
    let (id, warrant, court, agency, state, received_at, decided_at, decided_by, reason, released) = raw;
    let id: [u8; 16] = id.try_into().map_err(|_| StoreError::Corrupt("warrant id"))?;
    Ok(WarrantRow {
        id: WarrantId(id),
        warrant,
        court,
        agency,
        state: State::parse(&state).ok_or(StoreError::Corrupt("warrant state"))?,
        received_at: to_u64(received_at)?,
        decided_at: decided_at.map(to_u64).transpose()?,
        decided_by,
        reason,
        fields_released: to_u64(released)?,
    })
}
