//! The trustee's durable state: warrants with their decisions, and every released
//! field. One SQLite file, WAL, `synchronous=FULL`: a release is committed before its
//! share leaves the process (no record, no share).

use std::path::Path;

use escrow_crypto::{PartyId, VerifiedWarrant, WarrantId};
use rusqlite::{params, Connection, OptionalExtension};

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
    reason      TEXT
);
CREATE TABLE IF NOT EXISTS releases (
    warrant_id  BLOB NOT NULL REFERENCES warrants(id),
    field_hash  BLOB NOT NULL,
    agency      TEXT NOT NULL,
    released_at INTEGER NOT NULL,
    PRIMARY KEY (warrant_id, field_hash)
);
CREATE INDEX IF NOT EXISTS releases_by_agency ON releases(agency, released_at);
";

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

/// Storage failures (always reported as INTERNAL, never as a refusal).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored value is not what this code wrote.
    #[error("database holds an invalid {0}")]
    Corrupt(&'static str),
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("time beyond i64"))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative time"))
}

/// The trustee's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens `dir/trustee.db`, creating it if needed.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Ok(Store { conn: escrow_service::db::open(&dir.join("trustee.db"), SCHEMA)? })
    }

    /// Inserts a newly received warrant with its initial state.
    pub fn insert_warrant(
        &mut self,
        w: &VerifiedWarrant,
        state: State,
        now: u64,
        decided_by: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let decided_at = if state == State::Received { None } else { Some(to_i64(now)?) };
        self.conn.execute(
            "INSERT INTO warrants (id, warrant, court, agency, state, received_at, decided_at, decided_by, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &w.id().0[..],
                w.as_bytes(),
                w.body().court.as_str(),
                w.body().agency.as_str(),
                state.as_str(),
                to_i64(now)?,
                decided_at,
                decided_by,
                reason
            ],
        )?;
        Ok(())
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

    /// Records a decision, but only if the warrant is still in `from` (so two
    /// operators racing cannot both move it).
    pub fn decide(
        &mut self,
        id: &WarrantId,
        from: State,
        to: State,
        now: u64,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE warrants SET state = ?1, decided_at = ?2, decided_by = ?3, reason = ?4
             WHERE id = ?5 AND state = ?6",
            params![to.as_str(), to_i64(now)?, by, reason, &id.0[..], from.as_str()],
        )?;
        Ok(n == 1)
    }

    /// Atomically checks the quotas and records the releases of `hashes` under warrant
    /// `id` (already-released hashes are not counted twice). Returns `Err(Quota)` and
    /// records nothing if a quota would be exceeded.
    pub fn record_releases(
        &mut self,
        id: &WarrantId,
        agency: &PartyId,
        hashes: &[[u8; 32]],
        now: u64,
        limits: ReleaseLimits,
    ) -> Result<Result<u64, QuotaExceeded>, StoreError> {
        let tx = self.conn.transaction()?;
        let already: u64 = {
            let mut stmt = tx.prepare_cached("SELECT 1 FROM releases WHERE warrant_id = ?1 AND field_hash = ?2")?;
            let mut n = 0u64;
            for h in hashes {
                if stmt.exists(params![&id.0[..], &h[..]])? {
                    n += 1;
                }
            }
            n
        };
        let mut distinct: Vec<&[u8; 32]> = hashes.iter().collect();
        distinct.sort();
        distinct.dedup();
        let new = (distinct.len() as u64).saturating_sub(already);
        let per_warrant: i64 =
            tx.query_row("SELECT COUNT(*) FROM releases WHERE warrant_id = ?1", params![&id.0[..]], |r| r.get(0))?;
        let since = to_i64(now.saturating_sub(crate::policy::QUOTA_PERIOD_SECS))?;
        let per_agency: i64 = tx.query_row(
            "SELECT COUNT(*) FROM releases WHERE agency = ?1 AND released_at > ?2",
            params![agency.as_str(), since],
            |r| r.get(0),
        )?;
        let per_warrant = to_u64(per_warrant)?;
        let per_agency = to_u64(per_agency)?;
        if per_warrant + new > limits.max_fields_per_warrant {
            return Ok(Err(QuotaExceeded::Warrant {
                used: per_warrant,
                asked: new,
                max: limits.max_fields_per_warrant,
            }));
        }
        if per_agency + new > limits.agency_quota {
            return Ok(Err(QuotaExceeded::Agency { used: per_agency, asked: new, max: limits.agency_quota }));
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO releases (warrant_id, field_hash, agency, released_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for h in distinct {
                ins.execute(params![&id.0[..], &h[..], agency.as_str(), to_i64(now)?])?;
            }
        }
        tx.commit()?;
        Ok(Ok(new))
    }
}

/// The limits a release must stay within.
#[derive(Clone, Copy, Debug)]
pub struct ReleaseLimits {
    /// Most distinct fields per warrant.
    pub max_fields_per_warrant: u64,
    /// Most fields per agency per quota period.
    pub agency_quota: u64,
}

/// Which quota a request would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// The per-warrant maximum.
    #[error("warrant quota: {used} fields released, {asked} more asked, at most {max}")]
    Warrant {
        /// Already released.
        used: u64,
        /// New fields asked for.
        asked: u64,
        /// The maximum.
        max: u64,
    },
    /// The per-agency quota.
    #[error("agency quota: {used} fields released in the last 30 days, {asked} more asked, at most {max}")]
    Agency {
        /// Already released in the period.
        used: u64,
        /// New fields asked for.
        asked: u64,
        /// The quota.
        max: u64,
    },
}

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
