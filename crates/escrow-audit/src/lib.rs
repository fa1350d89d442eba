//! The auditor of escrow: it fetches every trustee's log, proves to itself that each
//! log only ever grew, and publishes what the logs show (design: docs/design.md, "Logs").
//!
//! - [`check`]: the pure checks, over material already fetched: per trustee, the
//!   checkpoint signature under a key pinned on first use, consistency with the last
//!   checkpoint this auditor saw, the root recomputed from every entry, every entry
//!   decoded, and the openings of sealed warrant details whose notification delay has
//!   passed. Their result, a [`VerifiedLog`], has no other constructor.
//! - [`verify()`]: the thin fetcher around them: asks each trustee over gRPC for what
//!   each step of `check` names, and keeps the pinned state in a directory.
//! - [`reconcile()`]: across trustees, each warrant's approvals, whether it reached
//!   t+1, which fields and day keys each trustee released and which were therefore
//!   opened; and [`Flag`]s for behaviour a consistent log can still show to be wrong.
//! - [`report()`]: the public statistics per warrant, agency, court, trustee and month,
//!   as Markdown and JSON. No targets or case references: those exist only in openings.
//! - [`page`]: the same, with each log's head and witnesses and the flags first, as
//!   one HTML page with charts.
//!
//! A log that verifies is one the trustee cannot later deny or rewrite without being
//! caught; whether what it records was lawful is what [`reconcile()`] checks.

pub mod ceremonies;
pub mod check;
pub mod failure;
pub mod history;
pub mod page;
pub mod reconcile;
pub mod report;
pub mod verify;
pub mod witnessed;

#[cfg(test)]
mod testlog;

pub use check::{Openings, PinnedLog, VerifiedLog, REVEAL_GRACE_SECS};
pub use failure::{AuditFailure, OpeningProblem, ReleaseFinding, SplitViews};
pub use reconcile::{
    destruction_flags, reconcile, reconcile_at, Flag, Reconciliation, ShareKind, WarrantKey, WarrantSummary,
    DESTRUCTION_GRACE_SECS,
};
pub use report::{report, LogHead, Report, Row, WarrantRow};
pub use verify::{verify, verify_with, PolicyTrust, Trust, TrusteeAudit};

/// The first `n` hex digits of `bytes`, for messages (`ab12cd34…`).
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    let mut s = hex::encode(bytes.get(..8).unwrap_or(bytes));
    s.push('…');
    s
}

/// A UTC day number (days since 1970-01-01, as day keys number them) as
/// `YYYY-MM-DD`, for messages (the auditor's and `escrow open`'s).
pub fn utc_date(day: &u32) -> String {
    let (y, m, d) = report::civil_from_days(u64::from(*day));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_days_are_calendar_dates() {
        let utc_date = |d: u32| super::utc_date(&d);
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(59), "1970-03-01");
        // 2000 is a leap year (divisible by 400); 2100 is not.
        assert_eq!(utc_date(11_016), "2000-02-29");
        assert_eq!(utc_date(11_017), "2000-03-01");
        assert_eq!(utc_date(47_540), "2100-02-28");
        assert_eq!(utc_date(47_541), "2100-03-01");
        // The demo's day 0: Monday 2026-03-02 (1,772,409,600 s).
        assert_eq!(utc_date(1_772_409_600 / 86_400), "2026-03-02");
        // The last day a day key can name: about 11.76 million years on, no overflow.
        assert!(utc_date(u32::MAX).starts_with("117611"), "{}", utc_date(u32::MAX));
    }
}
