//! Key sets made by a key ceremony, kept in the trustee's database beside the log
//! entries that record them: installing one writes the ceremony's `Installed` step,
//! the `EpochInstalled` (or, for a dealer leaving in a reshare, `EpochDestroyed`)
//! entry, the epoch row and the sealed share in one transaction; destroying one clears
//! the share and logs the destruction in one transaction.

use escrow_log::event::{Entry, Event};
use rusqlite::{params, OptionalExtension};

use super::{to_i64, to_u64, Store, StoreError};

/// A ceremony key set as stored.
#[derive(Clone)]
pub struct CeremonyKeyRow {
    /// The epoch.
    pub epoch: u64,
    /// Its generation (0 fresh, +1 per reshare).
    pub generation: u32,
    /// The EpochPublicKey blob.
    pub key_set: Vec<u8>,
    /// The SignedAnnouncement blob.
    pub announcement: Vec<u8>,
    /// This trustee's share, sealed under the data directory's key; `None` once
    /// destroyed (or for a dealer that left).
    pub share: Option<Vec<u8>>,
    /// When it must be destroyed.
    pub destroy_at: u64,
    /// When it was destroyed here, if it was.
    pub destroyed_at: Option<u64>,
}

impl std::fmt::Debug for CeremonyKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeremonyKeyRow")
            .field("epoch", &self.epoch)
            .field("generation", &self.generation)
            .field("share", &self.share.as_ref().map(|_| "<sealed>"))
            .field("destroy_at", &self.destroy_at)
            .field("destroyed_at", &self.destroyed_at)
            .finish()
    }
}

/// What a finished ceremony hands the store.
#[derive(Debug)]
pub struct NewCeremonyKey {
    /// The row to write (its `destroyed_at` is ignored).
    pub row: CeremonyKeyRow,
    /// SHA-256 of the key set blob.
    pub key_set_hash: [u8; 32],
    /// This trustee's index in the new key set, if it holds a share.
    pub index: Option<u16>,
    /// The ceremony's `Installed` step entry, logged first.
    pub installed: Entry,
}

/// The ceremony a trustee is taking part in, kept until it ends so that a restart can
/// end it cleanly (the machine's state itself is in memory only: its secrets, the
/// ceremony key and the dealing, must not outlive the process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCeremony {
    /// Its id.
    pub ceremony: [u8; 16],
    /// The signed proposal message.
    pub proposal: Vec<u8>,
    /// (trustee id, address) of every participant.
    pub peers: Vec<(String, String)>,
}

impl Store {
    /// Records `c` as the ceremony in progress here, replacing any other record (one
    /// ceremony runs at a time).
    pub fn remember_ceremony(&mut self, c: &OpenCeremony) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM ceremony_open_peers", [])?;
        tx.execute("DELETE FROM ceremony_open", [])?;
        tx.execute(
            "INSERT INTO ceremony_open (ceremony, proposal) VALUES (?1, ?2)",
            params![&c.ceremony[..], c.proposal],
        )?;
        for (trustee, addr) in &c.peers {
            tx.execute(
                "INSERT INTO ceremony_open_peers (ceremony, trustee, addr) VALUES (?1, ?2, ?3)",
                params![&c.ceremony[..], trustee, addr],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets ceremony `id` once it ended here.
    pub fn forget_ceremony(&mut self, id: &[u8; 16]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM ceremony_open_peers WHERE ceremony = ?1", params![&id[..]])?;
        tx.execute("DELETE FROM ceremony_open WHERE ceremony = ?1", params![&id[..]])?;
        tx.commit()?;
        Ok(())
    }

    /// The ceremonies recorded as in progress (at most one).
    pub fn open_ceremonies(&self) -> Result<Vec<OpenCeremony>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT ceremony, proposal FROM ceremony_open")?;
        let rows: Vec<(Vec<u8>, Vec<u8>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, proposal) in rows {
            let ceremony: [u8; 16] = id.as_slice().try_into().map_err(|_| StoreError::Corrupt("ceremony id"))?;
            let mut stmt = self
                .conn
                .prepare("SELECT trustee, addr FROM ceremony_open_peers WHERE ceremony = ?1 ORDER BY trustee")?;
            let peers =
                stmt.query_map(params![&ceremony[..]], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            out.push(OpenCeremony { ceremony, proposal, peers });
        }
        Ok(out)
    }

    /// Whether this trustee's log records ceremony `id` as ended (installed or aborted).
    pub fn ceremony_ended(&self, id: &[u8; 16]) -> Result<bool, StoreError> {
        use escrow_log::event::CeremonyStep;
        let raw = self.entries(0, self.tree.size())?;
        for bytes in raw.iter().rev() {
            let e = Entry::from_bytes(bytes).map_err(|_| StoreError::Corrupt("log entry"))?;
            if let Event::Ceremony { ceremony, step: CeremonyStep::Installed { .. } | CeremonyStep::Aborted { .. } } =
                e.event
            {
                if &ceremony == id {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Every ceremony key set this trustee has, destroyed ones included.
    pub fn ceremony_keys(&self) -> Result<Vec<CeremonyKeyRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT epoch, generation, key_set, announcement, share, destroy_at, destroyed_at FROM ceremony_keys ORDER BY epoch",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (epoch, generation, key_set, announcement, share, destroy_at, destroyed_at) = row?;
            Ok(CeremonyKeyRow {
                epoch: to_u64(epoch)?,
                generation: u32::try_from(generation).map_err(|_| StoreError::Corrupt("generation"))?,
                key_set,
                announcement,
                share,
                destroy_at: to_u64(destroy_at)?,
                destroyed_at: destroyed_at.map(to_u64).transpose()?,
            })
        })
        .collect()
    }

    /// Installs a ceremony's key set (see the module docs). A reshare replaces the
    /// epoch's key set and share; a trustee that dealt but holds no index of the new
    /// set logs the epoch destroyed here.
    pub fn install_ceremony_key(&mut self, new: NewCeremonyKey, now: u64) -> Result<(), StoreError> {
        let NewCeremonyKey { row, key_set_hash, index, installed } = new;
        let epoch = to_i64(row.epoch)?;
        let mut entries = vec![installed];
        entries.push(Entry {
            time: now,
            event: match index {
                Some(trustee_index) => {
                    Event::EpochInstalled { epoch: row.epoch, public_key_hash: key_set_hash, trustee_index }
                }
                None => Event::EpochDestroyed { epoch: row.epoch },
            },
        });
        if let Some(installed) = self.installed_generation(row.epoch)? {
            if row.generation <= installed {
                return Err(StoreError::EpochInstalled { epoch: row.epoch, installed, given: row.generation });
            }
        }
        let tx = self.begin()?;
        // The key set first: the schema's triggers refuse a fresh key set for an epoch
        // already in `epochs` and a replacement that is not of a higher generation.
        tx.execute(
            "INSERT INTO ceremony_keys \
             (epoch, generation, key_set, announcement, share, destroy_at, installed_at, destroyed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (epoch) DO UPDATE SET generation = excluded.generation, key_set = excluded.key_set, \
             announcement = excluded.announcement, share = excluded.share, destroy_at = excluded.destroy_at, \
             installed_at = excluded.installed_at, destroyed_at = excluded.destroyed_at",
            params![
                epoch,
                i64::from(row.generation),
                row.key_set,
                row.announcement,
                row.share,
                to_i64(row.destroy_at)?,
                to_i64(now)?,
                index.is_none().then_some(to_i64(now)?)
            ],
        )?;
        let exists: Option<i64> =
            tx.query_row("SELECT epoch FROM epochs WHERE epoch = ?1", params![epoch], |r| r.get(0)).optional()?;
        let destroyed = index.is_none().then_some(to_i64(now)?);
        if exists.is_some() {
            tx.execute(
                "UPDATE epochs SET public_key_hash = ?1, installed_at = ?2, destroyed_at = ?3 WHERE epoch = ?4",
                params![&key_set_hash[..], to_i64(now)?, destroyed, epoch],
            )?;
        } else {
            tx.execute(
                "INSERT INTO epochs (epoch, public_key_hash, installed_at, destroyed_at) VALUES (?1, ?2, ?3, ?4)",
                params![epoch, &key_set_hash[..], to_i64(now)?, destroyed],
            )?;
        }
        let leaves = tx.commit(&entries)?;
        if let Some(i) = index {
            self.installed_index.insert(row.epoch, i);
        }
        self.committed(leaves)
    }

    /// Destroys this trustee's share of ceremony epoch `epoch` (it must hold one):
    /// clears it and logs `EpochDestroyed`, in one transaction. Returns whether there
    /// was a share to destroy.
    pub fn destroy_ceremony_key(&mut self, epoch: u64, now: u64) -> Result<bool, StoreError> {
        let e = to_i64(epoch)?;
        let tx = self.begin()?;
        let changed = tx.execute(
            "UPDATE ceremony_keys SET share = NULL, destroyed_at = ?1 WHERE epoch = ?2 AND share IS NOT NULL",
            params![to_i64(now)?, e],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        tx.execute("UPDATE epochs SET destroyed_at = ?1 WHERE epoch = ?2", params![to_i64(now)?, e])?;
        let appended = tx.commit(&[Entry { time: now, event: Event::EpochDestroyed { epoch } }])?;
        self.committed(appended)?;
        Ok(true)
    }
}
