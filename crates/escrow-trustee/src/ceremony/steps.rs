//! A ceremony step as this trustee says it: in its log (`log_step`, the one mapping of
//! the machine's steps to log entries), in its status (`describe`), and a phase's
//! name (`phase_name`).

use escrow_crypto::dkg::machine::{Phase, Step};
use escrow_crypto::dkg::messages::{Plan, Proposal};
use escrow_log::event::CeremonyStep;

pub(super) fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Proposed => "proposed",
        Phase::Accepting => "accepting",
        Phase::Ready => "ready",
        Phase::Dealing => "dealing",
        Phase::Complaining => "complaining",
        Phase::Justifying => "justifying",
        Phase::Agreeing => "agreeing",
        Phase::Installed => "installed",
        Phase::Aborted => "aborted",
    }
}

/// The log entry for a machine step (the one mapping of ceremony steps to the log).
pub(super) fn log_step(proposal: &Proposal, step: &Step) -> CeremonyStep {
    match step {
        Step::Proposed { proposal: hash, proposer } => CeremonyStep::Proposed {
            proposal: *hash,
            proposer: proposer.to_string().into(),
            epoch: proposal.epoch.0,
            plan: match proposal.plan {
                Plan::Fresh => 0,
                Plan::Reshare { .. } => 1,
            },
            threshold: proposal.threshold,
            players: u16::try_from(proposal.players.len()).unwrap_or(u16::MAX),
        },
        Step::Accepted { by } => CeremonyStep::Accepted { by: by.to_string().into() },
        Step::Executed => CeremonyStep::Executed,
        Step::Dealt { dealer, commitment } => {
            CeremonyStep::Dealt { dealer: dealer.to_string().into(), commitment: *commitment }
        }
        Step::Complained { by, against, grievance } => CeremonyStep::Complained {
            by: by.to_string().into(),
            against: against.to_string().into(),
            grievance: grievance.code(),
        },
        Step::Justified { dealer, player } => {
            CeremonyStep::Justified { dealer: dealer.to_string().into(), player: player.to_string().into() }
        }
        Step::Disqualified { dealer, why } => {
            CeremonyStep::Disqualified { dealer: dealer.to_string().into(), why: why.code() }
        }
        Step::Agreed { by, announcement } => {
            CeremonyStep::Agreed { by: by.to_string().into(), announcement: *announcement }
        }
        Step::Installed { announcement } => CeremonyStep::Installed {
            announcement: *announcement,
            epoch: proposal.epoch.0,
            generation: proposal.plan.next_generation(),
            destroy_at: proposal.destroy_at,
        },
        Step::Aborted { reason } => CeremonyStep::Aborted { reason: escrow_log::Text::lossy(&reason.to_string()) },
    }
}

pub(super) fn describe(step: &Step) -> String {
    match step {
        Step::Proposed { proposer, .. } => format!("proposed by {proposer}"),
        Step::Accepted { by } => format!("accepted by {by}"),
        Step::Executed => "executed".into(),
        Step::Dealt { dealer, .. } => format!("dealing from {dealer}"),
        Step::Complained { by, against, grievance } => format!("{by} complained about {against}: {grievance:?}"),
        Step::Justified { dealer, player } => format!("{dealer} revealed {player}'s share"),
        Step::Disqualified { dealer, why } => format!("{dealer} disqualified: {why}"),
        Step::Agreed { by, announcement } => format!("{by} signed announcement {}", hex::encode(&announcement[..8])),
        Step::Installed { announcement } => format!("installed announcement {}", hex::encode(&announcement[..8])),
        Step::Aborted { reason } => format!("aborted: {reason}"),
    }
}
