//! Test and demo only (feature `tamper`): what someone with write access to a
//! trustee's database could do behind the service's back, so that the demo and the
//! tests can show the auditor catching it. The table layout stays this crate's
//! business: nobody else runs SQL against `trustee.db`.
//!
//! These functions open the database directly, without the data-directory lock: they
//! model an attacker, not an operator.

use std::path::Path;

use rusqlite::{params, Connection};

use crate::store::DB_FILE;

/// Why tampering failed.
#[derive(Debug, thiserror::Error)]
#[error("tampering with {path}: {source}")]
pub struct TamperError {
    /// The database file.
    pub path: String,
    /// The SQLite error.
    #[source]
    pub source: rusqlite::Error,
}

fn open(dir: &Path) -> Result<(Connection, String), TamperError> {
    let path = dir.join(DB_FILE);
    let shown = path.display().to_string();
    let conn = Connection::open(&path).map_err(|source| TamperError { path: shown.clone(), source })?;
    Ok((conn, shown))
}

/// Every stored log entry, `(index, encoded entry)`, in order.
pub fn log_entries(dir: &Path) -> Result<Vec<(u64, Vec<u8>)>, TamperError> {
    let (conn, path) = open(dir)?;
    let read = || -> rusqlite::Result<Vec<(u64, Vec<u8>)>> {
        let mut stmt = conn.prepare("SELECT idx, entry FROM log ORDER BY idx")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.map(|r| r.map(|(i, e)| (u64::try_from(i).unwrap_or(0), e))).collect()
    };
    read().map_err(|source| TamperError { path, source })
}

/// Overwrites the stored bytes of entry `index`, leaving its stored leaf hash as it
/// was: a careless edit that the auditor (and this trustee, at its next start) detects.
pub fn rewrite_log_entry(dir: &Path, index: u64, entry: &[u8]) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    let idx = i64::try_from(index).unwrap_or(i64::MAX);
    conn.execute("UPDATE log SET entry = ?1 WHERE idx = ?2", params![entry, idx])
        .map(drop)
        .map_err(|source| TamperError { path, source })
}

/// Deletes the last log entry: a log that shrank.
pub fn delete_last_log_entry(dir: &Path) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute_batch("DELETE FROM log WHERE idx = (SELECT MAX(idx) FROM log);")
        .map_err(|source| TamperError { path, source })
}

/// Overwrites entry `index` and its stored leaf hash: a careful rewrite. The trustee's
/// tree and its next checkpoint are then internally consistent; only an auditor who
/// kept an earlier checkpoint (or a witness) can tell.
pub fn rewrite_log_entry_rehashed(dir: &Path, index: u64, entry: &[u8]) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    let idx = i64::try_from(index).unwrap_or(i64::MAX);
    let leaf = escrow_log::leaf_hash(entry);
    conn.execute("UPDATE log SET entry = ?1, leaf_hash = ?2 WHERE idx = ?3", params![entry, &leaf[..], idx])
        .map(drop)
        .map_err(|source| TamperError { path, source })
}

/// Appends `entry` (with its correct leaf hash) behind the service's back: the log only
/// grows, so it verifies; what the entry claims is for the auditor's reconciliation to
/// judge. Returns its index.
pub fn append_log_entry(dir: &Path, entry: &[u8]) -> Result<u64, TamperError> {
    let (conn, path) = open(dir)?;
    let leaf = escrow_log::leaf_hash(entry);
    let append = || -> rusqlite::Result<i64> {
        let idx: i64 = conn.query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))?;
        conn.execute("INSERT INTO log (idx, entry, leaf_hash) VALUES (?1, ?2, ?3)", params![idx, entry, &leaf[..]])?;
        Ok(idx)
    };
    append().map(|i| u64::try_from(i).unwrap_or(0)).map_err(|source| TamperError { path, source })
}

/// Records a release of `(label, field)` (fingerprint `field_hash`) under warrant
/// `warrant_id` to `agency` in the releases table, as a released share would be, but
/// without any of the service's checks and without a log entry.
pub fn insert_release(
    dir: &Path,
    warrant_id: &[u8; 16],
    field_hash: &[u8; 32],
    agency: &str,
    released_at: u64,
    label: &[u8],
    field: &[u8],
) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    let at = i64::try_from(released_at).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO releases (warrant_id, field_hash, agency, released_at, label, field) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![&warrant_id[..], &field_hash[..], agency, at, label, field],
    )
    .map(drop)
    .map_err(|source| TamperError { path, source })
}

/// A digest of everything a request could change: warrants (id, state, decider), the
/// log (size and last leaf hash) and the number of releases. Two equal digests mean a
/// refused request changed none of it.
pub fn state_digest(dir: &Path) -> Result<String, TamperError> {
    let (conn, path) = open(dir)?;
    let q = |sql: &str| -> rusqlite::Result<String> { conn.query_row(sql, [], |row| row.get(0)) };
    let read = || -> rusqlite::Result<String> {
        Ok([
            q("SELECT COUNT(*) || ':' || COALESCE(group_concat(hex(id) || state || COALESCE(decided_by, ''), ','), '') \
               FROM (SELECT * FROM warrants ORDER BY id)")?,
            q("SELECT COUNT(*) || ':' || COALESCE((SELECT hex(leaf_hash) FROM log ORDER BY idx DESC LIMIT 1), '') FROM log")?,
            q("SELECT CAST(COUNT(*) AS TEXT) FROM releases")?,
        ]
        .join(" | "))
    };
    read().map_err(|source| TamperError { path, source })
}

/// Replaces the stored commitment nonce of warrant `warrant_id`: its sealed-details
/// opening then no longer matches the commitment the log holds.
pub fn set_details_nonce(dir: &Path, warrant_id: &[u8; 16], nonce: &[u8; 32]) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute("UPDATE warrants SET details_nonce = ?1 WHERE id = ?2", params![&nonce[..], &warrant_id[..]])
        .map(drop)
        .map_err(|source| TamperError { path, source })
}

/// Replaces the stored warrant blob of warrant `warrant_id` with `blob`: the opening
/// then discloses another warrant than the one committed to.
pub fn set_warrant_blob(dir: &Path, warrant_id: &[u8; 16], blob: &[u8]) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute("UPDATE warrants SET warrant = ?1 WHERE id = ?2", params![blob, &warrant_id[..]])
        .map(drop)
        .map_err(|source| TamperError { path, source })
}

/// Makes every later append to the log fail (a trigger that aborts inserts), as a full
/// or failing disk would: the trustee must then fail closed and release nothing.
pub fn break_log_writes(dir: &Path) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute_batch("CREATE TRIGGER no_log BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'log unavailable'); END;")
        .map_err(|source| TamperError { path, source })
}

/// Undoes [`break_log_writes`]: the disk is repaired.
pub fn repair_log_writes(dir: &Path) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute_batch("DROP TRIGGER IF EXISTS no_log;").map_err(|source| TamperError { path, source })
}

/// Every ceremony key set's sealed share as stored, `(epoch, generation, sealed share)`:
/// what a thief copying the database gets (it still needs the data directory's key).
pub fn ceremony_shares(dir: &Path) -> Result<Vec<(u64, u32, Vec<u8>)>, TamperError> {
    let (conn, path) = open(dir)?;
    let read = || -> rusqlite::Result<Vec<(u64, u32, Vec<u8>)>> {
        let mut stmt = conn.prepare("SELECT epoch, generation, share FROM ceremony_keys WHERE share IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
        rows.map(|r| r.map(|(e, g, s)| (u64::try_from(e).unwrap_or(0), u32::try_from(g).unwrap_or(0), s))).collect()
    };
    read().map_err(|source| TamperError { path, source })
}

/// Rewrites whose log the database says it holds (origin and verifier key): an
/// attacker who copied another trustee's database and edited it to pass the start's
/// log check.
pub fn set_log_identity(dir: &Path, origin: &str, verifier_key: &str) -> Result<(), TamperError> {
    let (conn, path) = open(dir)?;
    conn.execute("UPDATE log_identity SET origin = ?1, verifier_key = ?2 WHERE id = 1", params![origin, verifier_key])
        .map(drop)
        .map_err(|source| TamperError { path, source })
}

/// One warrant as a trustee stores it: what a copy of its database gives a thief.
#[derive(Debug, Clone)]
pub struct StoredWarrant {
    /// The court-signed warrant, whole: targets and case reference in the clear.
    pub warrant: Vec<u8>,
    /// `received`, `approved`, `denied` or `revoked`.
    pub state: String,
    /// When the trustee received it, Unix seconds.
    pub received_at: u64,
    /// The operator (or `policy`) that decided, if any.
    pub decided_by: Option<String>,
    /// The decision's recorded reason, if any.
    pub reason: Option<String>,
}

/// Every warrant in the trustee database in `dir`, in the order received.
pub fn stored_warrants(dir: &Path) -> Result<Vec<StoredWarrant>, TamperError> {
    let (conn, path) = open(dir)?;
    let read = || -> rusqlite::Result<Vec<StoredWarrant>> {
        let mut stmt = conn
            .prepare("SELECT warrant, state, received_at, decided_by, reason FROM warrants ORDER BY received_at, id")?;
        let rows = stmt.query_map([], |r| {
            let received_at: i64 = r.get(2)?;
            Ok(StoredWarrant {
                warrant: r.get(0)?,
                state: r.get(1)?,
                received_at: u64::try_from(received_at).unwrap_or(0),
                decided_by: r.get(3)?,
                reason: r.get(4)?,
            })
        })?;
        rows.collect()
    };
    read().map_err(|source| TamperError { path, source })
}

/// A warrant id and the encoded label of a message released under it.
pub type Released = ([u8; 16], Vec<u8>);

/// The label of every message whose shares the trustee in `dir` released, with the
/// warrant it was released under: who wrote to whom, and when.
pub fn released_labels(dir: &Path) -> Result<Vec<Released>, TamperError> {
    let (conn, path) = open(dir)?;
    let read = || -> rusqlite::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut stmt = conn.prepare("SELECT warrant_id, label FROM releases ORDER BY released_at")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    let rows = read().map_err(|source| TamperError { path, source })?;
    // The table's ids are 16 bytes by its own insert; anything else is skipped.
    Ok(rows.into_iter().filter_map(|(id, label)| Some((<[u8; 16]>::try_from(id.as_slice()).ok()?, label))).collect())
}
