//! Checking a trustee's witnessed approval before using its shares.
//!
//! With a witness policy, a trustee's shares count only if its answer proves that the
//! warrant's receipt and approval are in its log, in a checkpoint its witnesses
//! cosigned to the policy. A trustee that released in secret — off its public log, or
//! on a fork the witnesses refused — cannot produce that proof.

use escrow_log::event::{Arrival, Decision, Entry, Event};
use escrow_log::{hash_from_slice, leaf_hash, verify_inclusion, LogError, Policy, WitnessedCheckpoint};
use escrow_proto::v1 as pb;

/// Why a trustee's answer does not prove a witnessed approval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unwitnessed {
    /// The answer carries no witnessed approval.
    #[error("no witnessed approval came with the shares")]
    Missing,
    /// The checkpoint is not signed by this trustee's log or not cosigned to the
    /// policy's quorum.
    #[error("witnessed checkpoint: {0}")]
    Checkpoint(LogError),
    /// The checkpoint is another log's.
    #[error("the checkpoint is for origin {got:?}, not this trustee's {expected:?}")]
    WrongOrigin {
        /// This trustee's origin.
        expected: String,
        /// The checkpoint's.
        got: String,
    },
    /// An entry is not in the checkpoint.
    #[error("{which} entry: {err}")]
    Inclusion {
        /// "receipt" or "approval".
        which: &'static str,
        /// What failed.
        err: LogError,
    },
    /// An entry is in the log but does not say what it must.
    #[error("{which} entry: {reason}")]
    Entry {
        /// "receipt" or "approval".
        which: &'static str,
        /// What it says instead.
        reason: String,
    },
}

fn included(
    which: &'static str,
    inc: Option<&pb::LogInclusion>,
    witnessed: &WitnessedCheckpoint,
) -> Result<Entry, Unwitnessed> {
    let inc = inc.ok_or(Unwitnessed::Entry { which, reason: "missing".into() })?;
    let proof = inc
        .proof
        .iter()
        .map(|h| hash_from_slice("inclusion proof hash", h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Unwitnessed::Inclusion { which, err })?;
    let cp = &witnessed.checkpoint;
    verify_inclusion(&leaf_hash(&inc.entry), inc.index, cp.size(), &proof, cp.root())
        .map_err(|err| Unwitnessed::Inclusion { which, err })?;
    Entry::from_bytes(&inc.entry).map_err(|e| Unwitnessed::Entry { which, reason: e.to_string() })
}

/// Checks `answer` from trustee `trustee_id` for warrant `warrant_id` under `policy`:
/// the cosigned checkpoint of the trustee's own log, the receipt and the approval in
/// it, each saying what it must. Returns the witnessed checkpoint.
pub fn verify(
    policy: &Policy,
    trustee_id: &str,
    warrant_id: &[u8; 16],
    answer: Option<&pb::WitnessedApproval>,
) -> Result<WitnessedCheckpoint, Unwitnessed> {
    let answer = answer.ok_or(Unwitnessed::Missing)?;
    let witnessed = policy.verify(answer.checkpoint.as_bytes()).map_err(Unwitnessed::Checkpoint)?;
    let expected = escrow_log::trustee_origin(trustee_id);
    if witnessed.checkpoint.origin() != expected {
        return Err(Unwitnessed::WrongOrigin { expected, got: witnessed.checkpoint.origin().to_owned() });
    }
    let receipt = included("receipt", answer.receipt.as_ref(), &witnessed)?;
    let approval = included("approval", answer.approval.as_ref(), &witnessed)?;
    let by_policy = match receipt.event {
        Event::WarrantReceived { warrant_id: w, arrival, .. } if &w == warrant_id => {
            arrival == Arrival::ApprovedByPolicy
        }
        Event::WarrantReceived { .. } => {
            return Err(Unwitnessed::Entry { which: "receipt", reason: "it is another warrant's".into() })
        }
        _ => return Err(Unwitnessed::Entry { which: "receipt", reason: "not a warrant-received entry".into() }),
    };
    let (r, a) = (answer.receipt.as_ref().map(|i| i.index), answer.approval.as_ref().map(|i| i.index));
    match approval.event {
        Event::WarrantDecided { warrant_id: w, decision: Decision::Approve, .. } if &w == warrant_id && a > r => {}
        Event::WarrantReceived { .. } if by_policy && a == r => {}
        _ => {
            return Err(Unwitnessed::Entry {
                which: "approval",
                reason: "not an approval of this warrant logged after its receipt".into(),
            })
        }
    }
    Ok(witnessed)
}
