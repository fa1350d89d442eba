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
