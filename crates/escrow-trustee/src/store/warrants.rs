//! Warrants in the trustee's database: receipt, decisions and releases, each written
//! with the log entry that records it in one transaction ([`Store::begin`]); the
//! release decision is taken inside that transaction, on fresh state.

use escrow_crypto::{VerifiedWarrant, WarrantId};
use escrow_log::event::{Entry, Event};
use rusqlite::{params, OptionalExtension};

use super::{to_i64, to_u64, Store, StoreError};
use crate::rules::ReleaseLimits;
use crate::state::State;

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
    /// Distinct day keys (the day mode) released under it.
    pub day_keys_released: u64,
}

/// The opening of a warrant's sealed-details commitment.
#[derive(Clone, Debug)]
pub struct DetailsOpening {
    /// The commitment nonce.
    pub nonce: [u8; 32],
    /// The signed warrant blob.
    pub warrant: Vec<u8>,
    /// When it may be revealed.
    pub reveal_at: u64,
    /// Every (label, field) released under the warrant.
    pub released: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One released item: the field's fingerprint and the exact label and field bytes.
#[derive(Clone, Debug)]
pub struct Released {
    /// SHA-256 of the field blob.
    pub hash: [u8; 32],
    /// Label blob.
    pub label: Vec<u8>,
    /// Field blob.
    pub field: Vec<u8>,
}

impl Store {
    /// The sealed-details opening of a warrant, if stored.
    pub fn details_opening(&self, id: &WarrantId) -> Result<Option<DetailsOpening>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT details_nonce, warrant, reveal_at FROM warrants WHERE id = ?1",
                params![&id.0[..]],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()?;
        let Some((nonce, warrant, reveal_at)) = row else { return Ok(None) };
        let mut stmt = self.conn.prepare_cached(
            "SELECT label, field FROM releases WHERE warrant_id = ?1 ORDER BY released_at, field_hash",
        )?;
        let released = stmt
            .query_map(params![&id.0[..]], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(DetailsOpening {
            nonce: nonce.try_into().map_err(|_| StoreError::Corrupt("details nonce"))?,
            warrant,
            reveal_at: to_u64(reveal_at)?,
            released,
        }))
    }

    /// Inserts a newly received warrant with its initial state, and logs its receipt
    /// (with only a commitment to its sealed details) in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_warrant(
        &mut self,
        w: &VerifiedWarrant,
        state: State,
        now: u64,
        decided_by: Option<&str>,
        reason: Option<&str>,
        details_nonce: [u8; 32],
        entry: Entry,
    ) -> Result<(), StoreError> {
        let decided_at = if state == State::Received { None } else { Some(to_i64(now)?) };
        let reveal_at = w.body().reveal_at();
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO warrants (id, warrant, court, agency, state, received_at, decided_at, decided_by, reason,
                                   details_nonce, reveal_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                &w.id().0[..],
                w.as_bytes(),
                w.body().court.as_str(),
                w.body().agency.as_str(),
                state.as_str(),
                to_i64(now)?,
                decided_at,
                decided_by,
                reason,
                &details_nonce[..],
                to_i64(reveal_at.min(i64::MAX as u64))?
            ],
        )?;
        let appended = tx.commit(&[entry])?;
        self.committed(appended)
    }

    /// One warrant, if known.
    pub fn warrant(&self, id: &WarrantId) -> Result<Option<WarrantRow>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT w.id, w.warrant, w.court, w.agency, w.state, w.received_at, w.decided_at, w.decided_by,
                        w.reason, (SELECT COUNT(*) FROM releases r WHERE r.warrant_id = w.id),
                        (SELECT COUNT(*) FROM day_releases d WHERE d.warrant_id = w.id)
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
                    w.reason, (SELECT COUNT(*) FROM releases r WHERE r.warrant_id = w.id),
                        (SELECT COUNT(*) FROM day_releases d WHERE d.warrant_id = w.id)
             FROM warrants w ORDER BY w.received_at, w.id",
        )?;
        let rows = stmt.query_map([], raw_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(finish_row).collect()
    }

    /// How many warrants of `agency` arrived at or after `since` (whatever became of
    /// them), for the per-agency warrant quota; `since` is
    /// [`crate::policy::quota_window_start`].
    pub fn warrants_received_since(&self, agency: &str, since: u64) -> Result<u64, StoreError> {
        let since = to_i64(since)?;
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM warrants WHERE agency = ?1 AND received_at >= ?2",
            rusqlite::params![agency, since],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Records a decision and logs it in the same transaction, but only if the
    /// warrant is still in `from` (so two operators racing cannot both move it).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        id: &WarrantId,
        from: State,
        to: State,
        now: u64,
        by: &str,
        reason: &str,
        entry: Entry,
    ) -> Result<bool, StoreError> {
        let tx = self.begin()?;
        let n = tx.execute(
            "UPDATE warrants SET state = ?1, decided_at = ?2, decided_by = ?3, reason = ?4
             WHERE id = ?5 AND state = ?6",
            params![to.as_str(), to_i64(now)?, by, reason, &id.0[..], from.as_str()],
        )?;
        if n != 1 {
            return Ok(false);
        }
        let appended = tx.commit(&[entry])?;
        self.committed(appended)?;
        Ok(true)
    }

    /// Atomically decides and records the releases of `items` under `warrant`, at
    /// `now`. The decision is taken here, inside the transaction, on fresh state:
    /// the warrant's stored state and validity at `now` ([`rules::may_commit_release`])
    /// and the quotas ([`rules::check_quota`]). On a refusal nothing is recorded.
    ///
    /// A release is idempotent: fields this warrant already released are not counted
    /// again and get no new log entry (their shares are the same shares, so asking
    /// again reveals nothing new). Returns the number of newly released fields.
    ///
    /// [`rules::may_commit_release`]: crate::rules::may_commit_release
    /// [`rules::check_quota`]: crate::rules::check_quota
    pub fn record_releases(
        &mut self,
        warrant: &VerifiedWarrant,
        items: &[Released],
        now: u64,
        limits: ReleaseLimits,
    ) -> Result<Result<u64, crate::rules::Refusal>, StoreError> {
        let id = warrant.id();
        let agency = &warrant.body().agency;
        let tx = self.begin()?;
        if let Err(refusal) = may_commit(&tx, warrant, now)? {
            return Ok(Err(refusal));
        }
        let mut by_hash: Vec<&Released> = items.iter().collect();
        by_hash.sort_by_key(|r| r.hash);
        by_hash.dedup_by_key(|r| r.hash);
        let fresh: Vec<&Released> = {
            let mut stmt = tx.prepare_cached("SELECT 1 FROM releases WHERE warrant_id = ?1 AND field_hash = ?2")?;
            let mut fresh = Vec::with_capacity(by_hash.len());
            for r in by_hash {
                if !stmt.exists(params![&id.0[..], &r.hash[..]])? {
                    fresh.push(r);
                }
            }
            fresh
        };
        if fresh.is_empty() {
            return Ok(Ok(0));
        }
        let new = fresh.len() as u64;
        let used = used(&tx, ReleaseTable::Fields, &id, agency.as_str(), now)?;
        if let Err(q) = crate::rules::check_quota(used, new, limits) {
            return Ok(Err(q.into()));
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO releases (warrant_id, field_hash, agency, released_at, label, field)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in &fresh {
                ins.execute(params![&id.0[..], &r.hash[..], agency.as_str(), to_i64(now)?, r.label, r.field])?;
            }
        }
        // The log entry names every field this request released for the first time.
        let entry = Entry {
            time: now,
            event: Event::SharesReleased {
                warrant_id: id.0,
                agency: agency.to_string().into(),
                fields: fresh.iter().map(|r| r.hash).collect(),
            },
        };
        let appended = tx.commit(&[entry])?;
        self.committed(appended)?;
        Ok(Ok(new))
    }
}

/// Inside a release transaction: the warrant's state as stored now, judged with the
/// validity at `now` by [`rules::may_commit_release`], the one decision both kinds of
/// release (fields and day keys) take on fresh state.
///
/// [`rules::may_commit_release`]: crate::rules::may_commit_release
pub(super) fn may_commit(
    tx: &rusqlite::Transaction<'_>,
    warrant: &VerifiedWarrant,
    now: u64,
) -> Result<Result<(), crate::rules::Refusal>, StoreError> {
    let state: Option<String> = tx
        .query_row("SELECT state FROM warrants WHERE id = ?1", params![&warrant.id().0[..]], |r| r.get(0))
        .optional()?;
    let state = state.map(|s| State::parse(&s).ok_or(StoreError::Corrupt("warrant state"))).transpose()?;
    Ok(crate::rules::may_commit_release(warrant, state, now))
}

/// The table a kind of release is recorded in.
#[derive(Clone, Copy)]
pub(super) enum ReleaseTable {
    /// `releases`: one row per escrow field.
    Fields,
    /// `day_releases`: one row per (epoch, party, day).
    Days,
}

/// What `table` already counts against the quotas at `now`: rows under warrant `id`,
/// ever, and rows released to `agency` in the quota window.
pub(super) fn used(
    tx: &rusqlite::Transaction<'_>,
    table: ReleaseTable,
    id: &WarrantId,
    agency: &str,
    now: u64,
) -> Result<crate::rules::Used, StoreError> {
    let (per_warrant, per_agency) = match table {
        ReleaseTable::Fields => (
            "SELECT COUNT(*) FROM releases WHERE warrant_id = ?1",
            "SELECT COUNT(*) FROM releases WHERE agency = ?1 AND released_at >= ?2",
        ),
        ReleaseTable::Days => (
            "SELECT COUNT(*) FROM day_releases WHERE warrant_id = ?1",
            "SELECT COUNT(*) FROM day_releases WHERE agency = ?1 AND released_at >= ?2",
        ),
    };
    let w: i64 = tx.query_row(per_warrant, params![&id.0[..]], |r| r.get(0))?;
    let since = to_i64(crate::policy::quota_window_start(now))?;
    let a: i64 = tx.query_row(per_agency, params![agency, since], |r| r.get(0))?;
    Ok(crate::rules::Used { per_warrant: to_u64(w)?, per_agency: to_u64(a)? })
}

type RawRow = (Vec<u8>, Vec<u8>, String, String, String, i64, Option<i64>, Option<String>, Option<String>, i64, i64);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn finish_row(raw: RawRow) -> Result<WarrantRow, StoreError> {
    let (id, warrant, court, agency, state, received_at, decided_at, decided_by, reason, released, days) = raw;
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
        day_keys_released: to_u64(days)?,
    })
}
