//! The auditor of escrow: it fetches every trustee's log, proves to itself that each
//! log only ever grew, and publishes what the logs show (design: docs/design.md, "Logs").
//!
//! - [`verify()`]: per trustee, the checkpoint signature under a key pinned on first
//!   use, consistency with the last checkpoint this auditor saw (kept in a state dir),
//!   the root recomputed from every entry, every entry decoded, and the openings of
//!   sealed warrant details whose notification delay has passed.
//! - [`reconcile()`]: across trustees, each warrant's approvals, whether it reached
//!   t+1, which fields each trustee released and which were therefore opened; and
//!   [`Flag`]s for behaviour a consistent log can still show to be wrong.
//! - [`report()`]: the public statistics per warrant, agency, court, trustee and month,
//!   as Markdown and JSON. No targets or case references: those exist only in openings.
//!
//! A log that verifies is one the trustee cannot later deny or rewrite without being
//! caught; whether what it records was lawful is what [`reconcile()`] checks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod reconcile;
pub mod report;
pub mod verify;

pub use reconcile::{reconcile, Flag, Reconciliation, WarrantKey, WarrantSummary};
pub use report::{report, LogHead, Report, Row, WarrantRow};
pub use verify::{verify, AuditFailure, Openings, TrusteeAudit, VerifiedLog};

/// The first `n` hex digits of `bytes`, for messages (`ab12cd34…`).
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    let mut s = hex::encode(bytes.get(..8).unwrap_or(bytes));
    s.push('…');
    s
}
