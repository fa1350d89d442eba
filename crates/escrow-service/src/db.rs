//! SQLite opened for durability: WAL journal, `synchronous=FULL` (an acknowledged
//! commit survives power loss and SIGKILL), foreign keys on, a busy timeout.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Opens (creating if needed) the database at `path` with the durable settings and
/// applies `schema` (idempotent `CREATE ... IF NOT EXISTS` statements).
pub fn open(path: &Path, schema: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}
