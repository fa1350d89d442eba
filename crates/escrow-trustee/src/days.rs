//! The day mode's `ExtractDayKeys`: one extraction share per (epoch, target, UTC day)
//! of an approved warrant, under the rules `RequestShares` follows (policy, scope,
//! quota, log, witnesses), with the day-key limits of the policy. The rules are
//! [`rules::may_release_days`], [`rules::check_days`] and, inside the one writing
//! transaction, [`rules::may_commit_release`] and [`rules::check_quota`].
//!
//! [`rules::may_commit_release`]: crate::rules::may_commit_release
//! [`rules::check_quota`]: crate::rules::check_quota

use std::collections::BTreeMap;

use escrow_crypto::{EpochId, Modes};
use escrow_proto::v1 as pb;
use tonic::{Response, Status};

use crate::answer::{internal, status, warrant_id};
use crate::rules::{self, DayAsked, Unit};
use crate::service::TrusteeService;
use crate::store::{ReleaseLimits, WarrantRow};

impl TrusteeService {
    /// `row` is the stored warrant `req` names, if the caller holds it.
    pub(crate) async fn extract_day_keys_checked(
        &self,
        req: pb::ExtractDayKeysRequest,
        row: Option<WarrantRow>,
    ) -> Result<Response<pb::ExtractDayKeysResponse>, Status> {
        let id = warrant_id(&req.warrant_id)?;
        let policy = &self.core.policy;
        let may = rules::may_release_days(policy, id, row.as_ref().map(|r| r.state), req.days.len());
        let warrant = self.releasable(id, row, may).await?;
        let epochs = self.core.epochs();
        let announced: BTreeMap<EpochId, Modes> =
            self.core.with_announcements(|all| all.iter().map(|(e, a)| (*e, a.body.modes)).collect());
        let w2 = warrant.clone();
        // One hash to G2 and one multiplication per day: run off the async threads,
        // one run of days per core.
        let checked = tokio::task::spawn_blocking(move || {
            let runs = escrow_service::par::par_chunks(
                &req.days,
                |first, run| {
                    let asked: Vec<DayAsked<'_>> =
                        run.iter().map(|d| DayAsked { epoch: d.epoch, party: &d.party, day: d.day }).collect();
                    match rules::check_days(&epochs, &announced, &w2, first, &asked) {
                        Ok(v) => v.into_iter().map(Ok).collect(),
                        Err(r) => {
                            let refused = status(&r);
                            run.iter().map(|_| Err(refused.clone())).collect()
                        }
                    }
                },
                |_, _| Err(internal("extraction thread panicked")),
            );
            runs.into_iter().collect::<Result<Vec<_>, Status>>()
        })
        .await
        .map_err(internal)??;

        // Witnessed release, then write-before-release: the day keys are committed
        // (quota checked in the same transaction, on fresh state) before any share
        // leaves this process.
        let witnessed = self.witnessed_approval(id).await?;
        let limits = ReleaseLimits {
            max_fields_per_warrant: policy.max_day_keys_per_warrant,
            agency_quota: policy.day_key_agency_quota,
            unit: Unit::DayKeys,
        };
        let days: Vec<_> = checked.iter().map(|(d, _)| d.clone()).collect();
        let clock = self.core.clock.clone();
        let recorded = self
            .core
            .with_store(move |s| {
                let now = clock.now();
                s.record_day_releases(&warrant, &days, now, limits)
            })
            .await?;
        let new = recorded.map_err(|r| status(&r))?;
        tracing::info!(warrant = %id, days = checked.len(), new_day_keys = new, "day keys released");
        self.core.metrics.day_keys_released.inc_by(checked.len() as u64);
        Ok(Response::new(pb::ExtractDayKeysResponse {
            shares: checked.iter().map(|(_, s)| s.to_bytes()).collect(),
            witnessed,
        }))
    }
}
