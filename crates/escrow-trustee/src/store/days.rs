//! The day mode's releases: one row per (warrant, epoch, party, day) whose extraction
//! share left this trustee, written with its log entry in one transaction, the
//! decision taken inside it on fresh state, as `warrants.rs` does for fields.

use escrow_crypto::{DayId, VerifiedWarrant};
use escrow_log::event::{party_tag, DayRelease, Entry, Event};
use rusqlite::params;

use super::warrants::{may_commit, used, ReleaseTable};
use super::{to_i64, Store, StoreError};
use crate::rules::ReleaseLimits;

impl Store {
    /// Atomically decides and records the release of the day keys `days` under
    /// `warrant` at `now`: the warrant's stored state and validity at `now`
    /// ([`rules::may_commit_release`]) and the day-key quotas ([`rules::check_quota`]
    /// with `limits`). On a refusal nothing is recorded.
    ///
    /// Idempotent, as field releases are: a day key this warrant already released is
    /// not counted again and gets no new log entry. The entry names each new day key's
    /// party by [`party_tag`] only. Returns the number of new day keys.
    ///
    /// [`rules::may_commit_release`]: crate::rules::may_commit_release
    /// [`rules::check_quota`]: crate::rules::check_quota
    pub fn record_day_releases(
        &mut self,
        warrant: &VerifiedWarrant,
        days: &[DayId],
        now: u64,
        limits: ReleaseLimits,
    ) -> Result<Result<u64, crate::rules::Refusal>, StoreError> {
        let id = warrant.id();
        let agency = &warrant.body().agency;
        let tx = self.begin()?;
        if let Err(refusal) = may_commit(&tx, warrant, now)? {
            return Ok(Err(refusal));
        }
        let mut distinct: Vec<&DayId> = days.iter().collect();
        distinct.sort();
        distinct.dedup();
        let fresh: Vec<&DayId> = {
            let mut stmt = tx.prepare_cached(
                "SELECT 1 FROM day_releases WHERE warrant_id = ?1 AND epoch = ?2 AND party = ?3 AND day = ?4",
            )?;
            let mut fresh = Vec::with_capacity(distinct.len());
            for d in distinct {
                if !stmt.exists(params![&id.0[..], to_i64(d.epoch().0)?, d.party().as_str(), d.day()])? {
                    fresh.push(d);
                }
            }
            fresh
        };
        if fresh.is_empty() {
            return Ok(Ok(0));
        }
        let new = fresh.len() as u64;
        let used = used(&tx, ReleaseTable::Days, &id, agency.as_str(), now)?;
        if let Err(q) = crate::rules::check_quota(used, new, limits) {
            return Ok(Err(q.into()));
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO day_releases (warrant_id, epoch, party, day, agency, released_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for d in &fresh {
                ins.execute(params![
                    &id.0[..],
                    to_i64(d.epoch().0)?,
                    d.party().as_str(),
                    d.day(),
                    agency.as_str(),
                    to_i64(now)?
                ])?;
            }
        }
        let entry = Entry {
            time: now,
            event: Event::DayKeysReleased {
                warrant_id: id.0,
                agency: agency.to_string().into(),
                days: fresh
                    .iter()
                    .map(|d| DayRelease {
                        epoch: d.epoch().0,
                        day: d.day(),
                        party: party_tag(warrant.as_bytes(), d.party().as_str()),
                    })
                    .collect(),
            },
        };
        let appended = tx.commit(&[entry])?;
        self.committed(appended)?;
        Ok(Ok(new))
    }
}
