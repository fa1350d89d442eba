//! SQLite opened for durability: WAL journal, `synchronous=FULL` (an acknowledged
//! commit survives power loss and SIGKILL), foreign keys on, a busy timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

/// A database that could not be opened, with the file it is about (SQLite's own
/// messages, such as "file is not a database", name none).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", .path.display())]
pub struct DbError {
    /// The database file.
    pub path: PathBuf,
    /// SQLite's error.
    #[source]
    pub source: rusqlite::Error,
}

/// Opens (creating if needed) the database at `path` with the durable settings and
/// applies `schema` (idempotent `CREATE ... IF NOT EXISTS` statements).
pub fn open(path: &Path, schema: &str) -> Result<Connection, DbError> {
    let setup = || -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(schema)?;
        Ok(conn)
    };
    setup().map_err(|source| DbError { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_that_is_not_a_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trustee.db");
        std::fs::write(&path, b"this is a policy file, not a database, and it is long enough").unwrap();
        let err = super::open(&path, "CREATE TABLE IF NOT EXISTS t (x)").unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", path.display())) && err.contains("not a database"), "{err}");
    }
}
