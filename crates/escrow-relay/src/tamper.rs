//! Test and demo only (feature `tamper`): what someone holding a copy of the relay's
//! database could read from it, so that the demo can show what a thief with key shares
//! and the traffic opens. The table layout stays this crate's business.

use std::path::Path;

use rusqlite::Connection;

use crate::DB_FILE;

/// Why reading the copy failed.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {source}")]
pub struct TamperError {
    /// The database file.
    pub path: String,
    /// The SQLite error.
    #[source]
    pub source: rusqlite::Error,
}

/// Every stored envelope, in relay order, read straight from the database file in
/// `dir` (not through the service: no warrant, no scope).
pub fn stored_envelopes(dir: &Path) -> Result<Vec<Vec<u8>>, TamperError> {
    let path = dir.join(DB_FILE);
    let shown = path.display().to_string();
    let read = || -> rusqlite::Result<Vec<Vec<u8>>> {
        let conn = Connection::open(&path)?;
        let mut stmt = conn.prepare("SELECT envelope FROM messages ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    };
    read().map_err(|source| TamperError { path: shown, source })
}

/// How many users and messages the relay's database in `dir` holds, read behind the
/// service's back: tests compare it before and after a refused call.
pub fn counts(dir: &Path) -> Result<(u64, u64), TamperError> {
    let path = dir.join(DB_FILE);
    let shown = path.display().to_string();
    let read = || -> rusqlite::Result<(i64, i64)> {
        let conn = Connection::open(&path)?;
        let users = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        let messages = conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
        Ok((users, messages))
    };
    read()
        .map(|(u, m)| (u64::try_from(u).unwrap_or(0), u64::try_from(m).unwrap_or(0)))
        .map_err(|source| TamperError { path: shown, source })
}
