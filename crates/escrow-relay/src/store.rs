//! The relay's SQLite tables and every statement run on them.
//!
//! Unsigned protocol values are stored as SQLite's signed 64-bit integers; callers
//! convert with checks before they get here, so nothing wraps. Functions take a
//! `&Connection` or `&mut Connection` and never block on anything but SQLite: the
//! service calls them from blocking threads with its mutex held.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};

/// Applied on every open by `escrow_service::db::open`; idempotent.
///
/// `recipients` is keyed `(user_id, seq)` so an inbox page is one index range scan;
/// `messages(sender, timestamp)` does the same for the sender half of an export.
/// `user_certificates` keeps the certificate each user last registered with and the
/// home it names (its own table, so that a database from before it needs no
/// migration). `epochs` pins the key and announcement served for each epoch (`crate::pin`); its
/// triggers make the rule a constraint too: the key never changes, and the
/// generation only grows.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    public_key    BLOB NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_certificates (
    id          TEXT PRIMARY KEY REFERENCES users(id),
    certificate BLOB NOT NULL,
    home        TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  BLOB NOT NULL UNIQUE,
    sender      TEXT NOT NULL,
    timestamp   INTEGER NOT NULL,
    envelope    BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    seq     INTEGER NOT NULL REFERENCES messages(seq),
    user_id TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_sender_timestamp ON messages(sender, timestamp);
CREATE INDEX IF NOT EXISTS messages_timestamp ON messages(timestamp);
CREATE TABLE IF NOT EXISTS epochs (
    epoch        INTEGER PRIMARY KEY,
    public_key   BLOB NOT NULL,
    generation   INTEGER,
    announcement BLOB,
    pinned_at    INTEGER NOT NULL,
    CHECK ((generation IS NULL) = (announcement IS NULL))
);
CREATE TRIGGER IF NOT EXISTS epochs_key_never_changes
BEFORE UPDATE OF public_key ON epochs WHEN NEW.public_key IS NOT OLD.public_key
BEGIN SELECT RAISE(ABORT, 'an epoch''s public key never changes'); END;
CREATE TRIGGER IF NOT EXISTS epochs_generation_grows
BEFORE UPDATE OF generation ON epochs
WHEN OLD.generation IS NOT NULL AND (NEW.generation IS NULL OR NEW.generation <= OLD.generation)
BEGIN SELECT RAISE(ABORT, 'an epoch''s announcement only moves to a higher generation'); END;
";

/// What a registration did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Registration {
    /// The id was new and is now bound to the key.
    Inserted,
    /// The id was already bound to exactly this key (its certificate is now the one
    /// presented).
    Unchanged,
    /// The id is bound to another key, which stays.
    Conflict,
    /// The id's stored certificate names another home, which stays.
    HomeConflict {
        /// The stored home (`None`: a user without one).
        stored: Option<String>,
    },
}

/// A registration: the id, its key, and the certificate it came with.
#[derive(Debug)]
pub(crate) struct NewUser<'a> {
    pub(crate) id: &'a str,
    pub(crate) key: &'a [u8],
    /// DER of the caller's verified client certificate.
    pub(crate) certificate: &'a [u8],
    /// The home that certificate names.
    pub(crate) home: Option<&'a str>,
    pub(crate) at: i64,
}

/// Binds `id` to `key` unless the id is taken, and keeps the certificate it came with
/// unless it names another home than the stored one. One immediate transaction, so
/// two racing registrations of one id cannot both win, and every check is made
/// before anything is written.
pub(crate) fn register(conn: &mut Connection, u: &NewUser<'_>) -> rusqlite::Result<Registration> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<Vec<u8>> =
        tx.query_row("SELECT public_key FROM users WHERE id = ?1", params![u.id], |row| row.get(0)).optional()?;
    let stored_home: Option<Option<String>> =
        tx.query_row("SELECT home FROM user_certificates WHERE id = ?1", params![u.id], |row| row.get(0)).optional()?;
    let outcome = match (existing, stored_home) {
        (Some(k), _) if k != u.key => Registration::Conflict,
        (Some(_), Some(stored)) if stored.as_deref() != u.home => Registration::HomeConflict { stored },
        (Some(_), _) => Registration::Unchanged,
        (None, _) => {
            tx.execute(
                "INSERT INTO users (id, public_key, registered_at) VALUES (?1, ?2, ?3)",
                params![u.id, u.key, u.at],
            )?;
            Registration::Inserted
        }
    };
    if matches!(outcome, Registration::Inserted | Registration::Unchanged) {
        tx.execute(
            "INSERT INTO user_certificates (id, certificate, home, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET certificate = excluded.certificate, updated_at = excluded.updated_at",
            params![u.id, u.certificate, u.home, u.at],
        )?;
    }
    tx.commit()?;
    Ok(outcome)
}

/// The certificate `id` last registered with, and the home it names; `None` if the id
/// has none stored (not registered, or registered before the relay kept them).
pub(crate) fn user_certificate(conn: &Connection, id: &str) -> rusqlite::Result<Option<(Vec<u8>, Option<String>)>> {
    conn.prepare_cached("SELECT certificate, home FROM user_certificates WHERE id = ?1")?
        .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

/// The registered key blob of `id`.
pub(crate) fn user_key(conn: &Connection, id: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT public_key FROM users WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()
}

/// A message to store, with every value already converted for SQLite.
#[derive(Debug)]
pub(crate) struct NewMessage<'a> {
    pub(crate) message_id: &'a [u8],
    pub(crate) sender: &'a str,
    pub(crate) timestamp: i64,
    pub(crate) recipients: Vec<&'a str>,
    pub(crate) envelope: &'a [u8],
    pub(crate) received_at: i64,
}

/// Stores a message and its recipient rows in one transaction of its own. `None` if
/// the message id is already stored (nothing is written then).
pub(crate) fn insert_message(conn: &mut Connection, m: &NewMessage<'_>) -> rusqlite::Result<Option<i64>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seq = insert_in(&tx, m)?;
    tx.commit()?;
    Ok(seq)
}

/// Stores a message and its recipient rows inside the caller's transaction (a group
/// commit's). `None` if the message id is already stored, by an earlier transaction
/// or earlier in this one; nothing is written then.
pub(crate) fn insert_in(tx: &rusqlite::Transaction<'_>, m: &NewMessage<'_>) -> rusqlite::Result<Option<i64>> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM messages WHERE message_id = ?1")?
        .query_row(params![m.message_id], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        return Ok(None);
    }
    tx.prepare_cached(
        "INSERT INTO messages (message_id, sender, timestamp, envelope, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![m.message_id, m.sender, m.timestamp, m.envelope, m.received_at])?;
    let seq = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached("INSERT INTO recipients (seq, user_id) VALUES (?1, ?2)")?;
    for r in &m.recipients {
        stmt.execute(params![seq, r])?;
    }
    Ok(Some(seq))
}

/// One stored envelope as read back.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) seq: i64,
    pub(crate) sender: String,
    pub(crate) envelope: Vec<u8>,
    pub(crate) received_at: i64,
}

/// A page of rows, and whether the query had more.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) rows: Vec<Row>,
    pub(crate) more: bool,
}

/// Bounds on a page: at most `limit` rows and, after the first, at most `max_bytes`
/// of envelope bytes, so that a page of large envelopes still fits in one gRPC
/// message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageBounds {
    pub(crate) after_seq: i64,
    pub(crate) limit: usize,
    pub(crate) max_bytes: usize,
}

/// Reads rows in order until the page is full; one row beyond tells whether more exist.
fn read_page(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    b: PageBounds,
) -> rusqlite::Result<Page> {
    let mut rows = stmt.query(params)?;
    let mut page = Page::default();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let envelope: Vec<u8> = row.get(2)?;
        if page.rows.len() >= b.limit || (!page.rows.is_empty() && bytes.saturating_add(envelope.len()) > b.max_bytes) {
            page.more = true;
            break;
        }
        bytes = bytes.saturating_add(envelope.len());
        page.rows.push(Row { seq: row.get(0)?, sender: row.get(1)?, envelope, received_at: row.get(3)? });
    }
    Ok(page)
}

/// Envelopes addressed to `user` with `seq > after_seq`, ascending.
pub(crate) fn inbox(conn: &Connection, user: &str, b: PageBounds) -> rusqlite::Result<Page> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.sender, m.envelope, m.received_at
         FROM recipients r JOIN messages m ON m.seq = r.seq
         WHERE r.user_id = ?1 AND r.seq > ?2
         ORDER BY r.seq
         LIMIT ?3",
    )?;
    let fetch = i64::try_from(b.limit.saturating_add(1)).unwrap_or(i64::MAX);
    read_page(&mut stmt, params![user, b.after_seq, fetch], b)
}

/// Envelopes sent or received by any of `targets` with `from <= timestamp <= to_incl`
/// and `seq > after_seq`, ascending.
///
/// Each half of the union runs on its own index (sender and time; recipient and seq),
/// so a page costs the targets' traffic, not a scan of the whole relay.
pub(crate) fn export(
    conn: &Connection,
    targets: &[&str],
    from: i64,
    to_incl: i64,
    b: PageBounds,
) -> rusqlite::Result<Page> {
    // ?1 after_seq, ?2 from, ?3 to (inclusive), ?4 page + 1, ?5.. targets.
    let list = (0..targets.len()).map(|i| format!("?{}", i + 5)).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT m.seq, m.sender, m.envelope, m.received_at FROM messages m
         WHERE m.seq IN (
             SELECT seq FROM messages
             WHERE sender IN ({list}) AND timestamp BETWEEN ?2 AND ?3 AND seq > ?1
             UNION
             SELECT r.seq FROM recipients r JOIN messages x ON x.seq = r.seq
             WHERE r.user_id IN ({list}) AND r.seq > ?1 AND x.timestamp BETWEEN ?2 AND ?3
         )
         ORDER BY m.seq
         LIMIT ?4"
    );
    let fetch = i64::try_from(b.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut values =
        vec![Value::Integer(b.after_seq), Value::Integer(from), Value::Integer(to_incl), Value::Integer(fetch)];
    values.extend(targets.iter().map(|t| Value::Text((*t).to_owned())));
    let mut stmt = conn.prepare_cached(&sql)?;
    read_page(&mut stmt, params_from_iter(values), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: PageBounds = PageBounds { after_seq: 0, limit: 500, max_bytes: usize::MAX };

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn
    }

    fn put(conn: &mut Connection, id: u8, sender: &str, timestamp: i64, recipients: &[&str], size: usize) -> i64 {
        let envelope = vec![id; size];
        let m = NewMessage {
            message_id: &[id; 16],
            sender,
            timestamp,
            recipients: recipients.to_vec(),
            envelope: &envelope,
            received_at: timestamp,
        };
        insert_message(conn, &m).unwrap().unwrap()
    }

    fn seqs(page: &Page) -> Vec<i64> {
        page.rows.iter().map(|r| r.seq).collect()
    }

    /// The SQL alone must select the scope exactly: the service's re-check is a
    /// safety net that logs an error, not the thing that makes exports right.
    #[test]
    fn export_selects_targets_and_the_half_open_window() {
        let mut c = db();
        let a = put(&mut c, 1, "bob", 100, &["alice"], 10); // target sends, at `from`
        let b = put(&mut c, 2, "alice", 150, &["bob", "carol"], 10); // target receives
        let z = put(&mut c, 3, "alice", 199, &["bob"], 10); // last second in the window
        put(&mut c, 4, "alice", 99, &["bob"], 10); // before
        put(&mut c, 5, "alice", 200, &["bob"], 10); // at `to`: excluded
        let e = put(&mut c, 6, "alice", 150, &["carol"], 10); // not bob's
        let d = put(&mut c, 7, "bob", 150, &["bob"], 10); // to self: once, not twice
        assert_eq!(seqs(&export(&c, &["bob"], 100, 199, ALL).unwrap()), vec![a, b, z, d]);
        assert_eq!(seqs(&export(&c, &["carol", "dave"], 100, 199, ALL).unwrap()), vec![b, e]);
        assert_eq!(seqs(&export(&c, &["dave"], 100, 199, ALL).unwrap()), Vec::<i64>::new());
        assert_eq!(seqs(&export(&c, &["bob"], 0, i64::MAX, ALL).unwrap()).len(), 6);
    }

    #[test]
    fn pages_stop_at_the_limit_or_the_byte_bound_and_say_so() {
        let mut c = db();
        let s: Vec<i64> = (1..=5).map(|i| put(&mut c, i, "alice", 100, &["bob"], 100)).collect();
        let b = |after_seq, limit, max_bytes| PageBounds { after_seq, limit, max_bytes };
        for (bounds, want, more) in [
            (b(0, 2, usize::MAX), vec![s[0], s[1]], true),
            (b(s[1], 2, usize::MAX), vec![s[2], s[3]], true),
            (b(s[3], 2, usize::MAX), vec![s[4]], false),
            (b(s[4], 2, usize::MAX), vec![], false),
            (b(0, 5, usize::MAX), s.clone(), false),
            (b(0, 5, 250), vec![s[0], s[1]], true),
            // One envelope always goes out, even above the byte bound.
            (b(0, 5, 50), vec![s[0]], true),
        ] {
            let inbox_page = inbox(&c, "bob", bounds).unwrap();
            assert_eq!((seqs(&inbox_page), inbox_page.more), (want.clone(), more), "inbox {bounds:?}");
            let export_page = export(&c, &["bob"], 0, 1000, bounds).unwrap();
            assert_eq!((seqs(&export_page), export_page.more), (want, more), "export {bounds:?}");
        }
        assert!(inbox(&c, "alice", ALL).unwrap().rows.is_empty());
    }

    #[test]
    fn a_reused_message_id_writes_nothing() {
        let mut c = db();
        put(&mut c, 1, "alice", 100, &["bob"], 10);
        let again = NewMessage {
            message_id: &[1; 16],
            sender: "carol",
            timestamp: 5,
            recipients: vec!["dave"],
            envelope: b"x",
            received_at: 5,
        };
        assert_eq!(insert_message(&mut c, &again).unwrap(), None);
        let count = |t: &str| c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!((count("messages"), count("recipients")), (1, 1));
    }

    /// A group commit's transaction: a message id repeated inside it is stored once,
    /// and a transaction that does not commit leaves nothing.
    #[test]
    fn a_batch_stores_a_repeated_id_once_and_nothing_unless_committed() {
        let mut c = db();
        let m = |message_id: &'static [u8; 16], sender| NewMessage {
            message_id,
            sender,
            timestamp: 1,
            recipients: vec!["bob", "carol"],
            envelope: b"e",
            received_at: 1,
        };
        let count = |c: &Connection, t: &str| {
            c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get::<_, i64>(0)).unwrap()
        };
        {
            let tx = c.transaction().unwrap();
            assert!(insert_in(&tx, &m(&[1; 16], "alice")).unwrap().is_some());
            assert!(insert_in(&tx, &m(&[2; 16], "alice")).unwrap().is_some());
            // Dropped without commit: rolled back.
        }
        assert_eq!((count(&c, "messages"), count(&c, "recipients")), (0, 0));
        let tx = c.transaction().unwrap();
        let first = insert_in(&tx, &m(&[1; 16], "alice")).unwrap();
        assert_eq!(insert_in(&tx, &m(&[1; 16], "mallory")).unwrap(), None);
        let second = insert_in(&tx, &m(&[2; 16], "alice")).unwrap();
        tx.commit().unwrap();
        assert!(first.is_some() && second > first);
        assert_eq!((count(&c, "messages"), count(&c, "recipients")), (2, 4));
        assert_eq!(insert_message(&mut c, &m(&[2; 16], "alice")).unwrap(), None);
    }

    fn user<'a>(key: &'a [u8], certificate: &'a [u8], home: Option<&'a str>, at: i64) -> NewUser<'a> {
        NewUser { id: "alice", key, certificate, home, at }
    }

    #[test]
    fn first_registration_wins() {
        let mut c = db();
        assert_eq!(register(&mut c, &user(b"k1", b"c1", None, 1)).unwrap(), Registration::Inserted);
        assert_eq!(register(&mut c, &user(b"k1", b"c1", None, 2)).unwrap(), Registration::Unchanged);
        assert_eq!(register(&mut c, &user(b"k2", b"c2", None, 3)).unwrap(), Registration::Conflict);
        assert_eq!(user_key(&c, "alice").unwrap(), Some(b"k1".to_vec()));
        assert_eq!(user_key(&c, "bob").unwrap(), None);
        // The refused registration left the certificate alone.
        assert_eq!(user_certificate(&c, "alice").unwrap(), Some((b"c1".to_vec(), None)));
    }

    /// The latest certificate of the same key and home replaces the stored one; one
    /// naming another home is refused and changes nothing; a user from before the
    /// certificates table gets one on its next registration.
    #[test]
    fn a_registration_keeps_the_latest_certificate_of_the_same_home() {
        let mut c = db();
        assert_eq!(register(&mut c, &user(b"k1", b"c1", Some("uk"), 1)).unwrap(), Registration::Inserted);
        assert_eq!(register(&mut c, &user(b"k1", b"c2", Some("uk"), 2)).unwrap(), Registration::Unchanged);
        assert_eq!(user_certificate(&c, "alice").unwrap(), Some((b"c2".to_vec(), Some("uk".into()))));
        assert_eq!(
            register(&mut c, &user(b"k1", b"c3", Some("us"), 3)).unwrap(),
            Registration::HomeConflict { stored: Some("uk".into()) }
        );
        assert_eq!(
            register(&mut c, &user(b"k1", b"c4", None, 4)).unwrap(),
            Registration::HomeConflict { stored: Some("uk".into()) }
        );
        assert_eq!(user_certificate(&c, "alice").unwrap(), Some((b"c2".to_vec(), Some("uk".into()))));
        c.execute("INSERT INTO users (id, public_key, registered_at) VALUES ('bob', x'01', 0)", []).unwrap();
        assert_eq!(user_certificate(&c, "bob").unwrap(), None);
        let bob = NewUser { id: "bob", key: &[1], certificate: b"cb", home: Some("us"), at: 5 };
        assert_eq!(register(&mut c, &bob).unwrap(), Registration::Unchanged);
        assert_eq!(user_certificate(&c, "bob").unwrap(), Some((b"cb".to_vec(), Some("us".into()))));
    }
}
