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

/// One row [`fill`] writes, as the relay stores a message with one recipient.
#[derive(Debug, Clone, Copy)]
pub struct FillRow<'a> {
    /// The message id (unique; a row whose id is stored already is skipped).
    pub message_id: [u8; 16],
    /// The sender column (the envelope's own sender).
    pub sender: &'a str,
    /// The one recipient.
    pub recipient: &'a str,
    /// The timestamp column (unix seconds), also stored as the arrival time.
    pub timestamp: i64,
    /// The stored envelope.
    pub envelope: &'a [u8],
}

/// Benchmarks only: writes `rows` into the relay's database in `dir` behind the
/// service's back, in one transaction, each as the relay stores a message (its row and
/// its recipient row), so that an export searches tables and indexes as large as a
/// busy relay's without the ingest's checks and rate limits. The relay may be
/// running: SQLite's locking orders this write with its own. Returns the rows written.
pub fn fill<'a>(dir: &Path, rows: impl IntoIterator<Item = FillRow<'a>>) -> Result<u64, TamperError> {
    let path = dir.join(DB_FILE);
    let shown = path.display().to_string();
    let write = || -> rusqlite::Result<u64> {
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut written = 0;
        for r in rows {
            let m = crate::store::NewMessage {
                message_id: &r.message_id,
                sender: r.sender,
                timestamp: r.timestamp,
                recipients: vec![r.recipient],
                envelope: r.envelope,
                received_at: r.timestamp,
            };
            if crate::store::insert_in(&tx, &m)?.is_some() {
                written += 1;
            }
        }
        tx.commit()?;
        Ok(written)
    };
    write().map_err(|source| TamperError { path: shown, source })
}
