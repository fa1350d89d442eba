//! Refused share requests in the trustee's database: counted per (caller, warrant,
//! rule) window and logged as they come due ([`crate::refusals`] decides when), in one
//! transaction with the count ([`Store::begin`]).

use escrow_log::event::Entry;
use rusqlite::{params, OptionalExtension, Transaction};

use super::{to_i64, to_u64, Store, StoreError};
use crate::refusals::{self, Key, Pending, Refusal};

impl Store {
    /// Counts a refused share request and appends whatever entries
    /// [`refusals::on_refusal`] says are due, with the windows that have closed, in one
    /// transaction.
    pub fn record_refusal(&mut self, r: Refusal) -> Result<(), StoreError> {
        let now = r.time;
        let tx = self.begin()?;
        let mut entries = flush_due_in(&tx, now)?;
        let open = {
            let mut stmt = tx.prepare_cached(
                "SELECT window_start, count, rule, first_at, last_at FROM refusals
                 WHERE caller = ?1 AND warrant_id = ?2 AND code = ?3",
            )?;
            stmt.query_row(params![r.key.caller, key_blob(&r.key), r.key.code], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?, row.get(3)?, row.get(4)?))
            })
            .optional()?
            .map(|(start, count, rule, first, last): (i64, i64, String, i64, i64)| {
                Ok::<_, StoreError>(Pending {
                    key: r.key.clone(),
                    window_start: to_u64(start)?,
                    count: u32::try_from(count).map_err(|_| StoreError::Corrupt("refusal count"))?,
                    rule: rule.into(),
                    first: to_u64(first)?,
                    last: to_u64(last)?,
                })
            })
            .transpose()?
        };
        let (now_entries, keep) = refusals::on_refusal(open, r);
        entries.extend(now_entries);
        tx.execute(
            "INSERT OR REPLACE INTO refusals (caller, warrant_id, code, window_start, count, rule, first_at, last_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                keep.key.caller,
                key_blob(&keep.key),
                keep.key.code,
                to_i64(keep.window_start)?,
                i64::from(keep.count),
                keep.rule.as_str(),
                to_i64(keep.first)?,
                to_i64(keep.last)?
            ],
        )?;
        let appended = tx.commit(&entries)?;
        self.committed(appended)
    }

    /// Logs the refusals counted in every window that has closed at `now`; returns how
    /// many entries that appended.
    pub fn flush_refusals(&mut self, now: u64) -> Result<usize, StoreError> {
        let tx = self.begin()?;
        let entries = flush_due_in(&tx, now)?;
        if entries.is_empty() {
            return Ok(0);
        }
        let appended = tx.commit(&entries)?;
        self.committed(appended)?;
        Ok(entries.len())
    }
}

fn key_blob(k: &Key) -> Vec<u8> {
    k.warrant_id.map(|w| w.to_vec()).unwrap_or_default()
}

/// Deletes every counting window closed at `now` and returns the summaries to log.
fn flush_due_in(tx: &Transaction<'_>, now: u64) -> Result<Vec<Entry>, StoreError> {
    let closed_before = to_i64(refusals::last_closed_start(now))?;
    let due: Vec<Pending> = {
        let mut stmt = tx.prepare_cached(
            "SELECT caller, warrant_id, code, window_start, count, rule, first_at, last_at FROM refusals
             WHERE window_start <= ?1 ORDER BY window_start, caller, warrant_id, code",
        )?;
        let rows = stmt.query_map(params![closed_before], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
            ))
        })?;
        let mut due = Vec::new();
        for row in rows {
            let (caller, warrant, code, start, count, rule, first, last) = row?;
            let warrant_id = match warrant.len() {
                0 => None,
                _ => Some(<[u8; 16]>::try_from(warrant).map_err(|_| StoreError::Corrupt("refusal warrant id"))?),
            };
            due.push(Pending {
                key: Key { caller, warrant_id, code },
                window_start: to_u64(start)?,
                count: u32::try_from(count).map_err(|_| StoreError::Corrupt("refusal count"))?,
                rule: rule.into(),
                first: to_u64(first)?,
                last: to_u64(last)?,
            });
        }
        due
    };
    tx.execute("DELETE FROM refusals WHERE window_start <= ?1", params![closed_before])?;
    Ok(due.iter().filter_map(|p| p.summary(now)).collect())
}
