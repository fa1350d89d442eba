//! The witness's durable state: one row per origin, the latest checkpoint it
//! cosigned. At most one row per configured log, so no caller can grow it.

use std::path::Path;

use escrow_log::witness::Latest;
use escrow_log::Hash;
use rusqlite::{params, Connection, OptionalExtension};

/// The database file's name inside the witness's data directory.
pub const DB_FILE: &str = "witness.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    origin   TEXT PRIMARY KEY NOT NULL,
    size     INTEGER NOT NULL CHECK (size >= 0),
    root     BLOB NOT NULL CHECK (length(root) = 32),
    cosigned TEXT NOT NULL,
    updated  INTEGER NOT NULL
) STRICT;
";

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] escrow_service::db::DbError),
    /// Another process holds the data directory.
    #[error(transparent)]
    Lock(#[from] escrow_service::datadir::LockError),
    /// A statement failed.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored row is not what this code writes (the file was edited or damaged).
    #[error("corrupt row for origin {origin:?}: {reason}")]
    Corrupt {
        /// The row's origin.
        origin: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A thread panicked while holding the store.
    #[error("the store's lock is poisoned")]
    Poisoned,
}

/// The latest cosigned checkpoint of one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its size and root.
    pub latest: Latest,
    /// The note as submitted with this witness's cosignature line appended.
    pub cosigned: String,
    /// When it was cosigned (the cosignature's timestamp).
    pub updated: u64,
}

/// The open database, and the data directory's lock: one witness process per
/// directory, or two could each cosign a different extension of the same state.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    _lock: escrow_service::datadir::DataDirLock,
}

impl Store {
    /// Locks `dir` and opens (creating if needed) `witness.db` in it: WAL,
    /// `synchronous=FULL`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock = escrow_service::datadir::lock(dir)?;
        let conn = escrow_service::db::open(&dir.join(DB_FILE), SCHEMA)?;
        Ok(Store { conn, _lock: lock })
    }

    /// The latest cosigned checkpoint for `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Stored>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT size, root, cosigned, updated FROM checkpoints WHERE origin = ?1",
                params![origin],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)),
            )
            .optional()?;
        let Some((size, root, cosigned, updated)) = row else {
            return Ok(None);
        };
        let corrupt = |reason| StoreError::Corrupt { origin: origin.to_owned(), reason };
        let size = u64::try_from(size).map_err(|_| corrupt("negative size"))?;
        let root: Hash = root.try_into().map_err(|_| corrupt("root is not 32 bytes"))?;
        let updated = u64::try_from(updated).map_err(|_| corrupt("negative time"))?;
        Ok(Some(Stored { latest: Latest { size, root }, cosigned, updated }))
    }

    /// Records `origin`'s new latest checkpoint, committed before this returns.
    pub fn record(&self, origin: &str, size: i64, root: &Hash, cosigned: &str, now: u64) -> Result<(), StoreError> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.conn.execute(
            "INSERT INTO checkpoints (origin, size, root, cosigned, updated) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root,
                 cosigned = excluded.cosigned, updated = excluded.updated",
            params![origin, size, root.as_slice(), cosigned, now],
        )?;
        Ok(())
    }

    /// Every origin with a recorded checkpoint, and its size.
    pub fn sizes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT origin, size FROM checkpoints ORDER BY origin")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (origin, size) = row?;
            let size = u64::try_from(size)
                .map_err(|_| StoreError::Corrupt { origin: origin.clone(), reason: "negative size" })?;
            out.push((origin, size));
        }
        Ok(out)
    }
}
