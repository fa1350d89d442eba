//! The mapping of the machine's steps to the log.

// Test code may unwrap and index: the lint wall is for library code.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use escrow_crypto::dkg::machine::{AbortReason, Disqualification, Step};
use escrow_crypto::dkg::messages::{Grievance, Plan, Proposal};
use escrow_crypto::{EpochId, PartyId};
use escrow_log::event::{CeremonyStep, Entry, Event};

use super::steps::log_step;

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// The machine's steps and the log's ceremony steps are two types (the log crate
/// knows nothing of the machine's); `log_step` is the one mapping. One case per
/// machine step: it is logged with every field the auditor reads, and survives the
/// log's encoding. The `match` on the machine's step has no wildcard, so a new step
/// does not compile here until it is mapped and checked.
#[test]
fn every_machine_step_is_logged_with_its_fields() {
    let players = vec![id("trustee-0"), id("trustee-1"), id("trustee-2")];
    let proposal = Proposal {
        epoch: EpochId(7),
        threshold: 1,
        players: players.clone(),
        dealers: players,
        plan: Plan::Fresh,
        valid_from: 100,
        destroy_at: 9_000,
        accept_timeout_ms: 1_000,
        phase_timeout_ms: 1_000,
        modes: escrow_crypto::Modes::PER_MESSAGE,
    };
    let steps = vec![
        Step::Proposed { proposal: [1; 32], proposer: id("trustee-0") },
        Step::Accepted { by: id("trustee-1") },
        Step::Executed,
        Step::Dealt { dealer: id("trustee-2"), commitment: [2; 32] },
        Step::Complained { by: id("trustee-1"), against: id("trustee-2"), grievance: Grievance::Missing },
        Step::Complained { by: id("trustee-0"), against: id("trustee-2"), grievance: Grievance::BadShare },
        Step::Justified { dealer: id("trustee-2"), player: id("trustee-0") },
        Step::Disqualified { dealer: id("trustee-2"), why: Disqualification::Missing },
        Step::Disqualified { dealer: id("trustee-2"), why: Disqualification::InvalidDealing },
        Step::Disqualified { dealer: id("trustee-2"), why: Disqualification::Unanswered },
        Step::Agreed { by: id("trustee-1"), announcement: [3; 32] },
        Step::Installed { announcement: [4; 32] },
        Step::Aborted { reason: AbortReason::Disagreement { by: id("trustee-1") } },
    ];
    for step in &steps {
        let logged = log_step(&proposal, step);
        let entry = Entry { time: 5, event: Event::Ceremony { ceremony: [9; 16], step: logged.clone() } };
        assert_eq!(Entry::from_bytes(&entry.to_bytes().unwrap()).unwrap(), entry, "{step:?}");
        let kept = match step {
            Step::Proposed { proposal: hash, proposer } => {
                logged
                    == CeremonyStep::Proposed {
                        proposal: *hash,
                        proposer: proposer.as_str().into(),
                        epoch: 7,
                        plan: 0,
                        threshold: 1,
                        players: 3,
                    }
            }
            Step::Accepted { by } => logged == CeremonyStep::Accepted { by: by.as_str().into() },
            Step::Executed => logged == CeremonyStep::Executed,
            Step::Dealt { dealer, commitment } => {
                logged == CeremonyStep::Dealt { dealer: dealer.as_str().into(), commitment: *commitment }
            }
            Step::Complained { by, against, grievance } => {
                logged
                    == CeremonyStep::Complained {
                        by: by.as_str().into(),
                        against: against.as_str().into(),
                        grievance: match grievance {
                            Grievance::Missing => 1,
                            Grievance::BadShare => 2,
                        },
                    }
            }
            Step::Justified { dealer, player } => {
                logged == CeremonyStep::Justified { dealer: dealer.as_str().into(), player: player.as_str().into() }
            }
            Step::Disqualified { dealer, why } => {
                logged
                    == CeremonyStep::Disqualified {
                        dealer: dealer.as_str().into(),
                        why: match why {
                            Disqualification::Missing => 1,
                            Disqualification::InvalidDealing => 2,
                            Disqualification::Unanswered => 3,
                        },
                    }
            }
            Step::Agreed { by, announcement } => {
                logged == CeremonyStep::Agreed { by: by.as_str().into(), announcement: *announcement }
            }
            Step::Installed { announcement } => {
                logged
                    == CeremonyStep::Installed {
                        announcement: *announcement,
                        epoch: 7,
                        generation: 0,
                        destroy_at: 9_000,
                    }
            }
            Step::Aborted { reason } => {
                logged == CeremonyStep::Aborted { reason: "trustee-1 signed a different announcement".into() }
                    && reason.to_string() == "trustee-1 signed a different announcement"
            }
        };
        assert!(kept, "{step:?} was logged as {logged:?}");
    }
    // No two machine steps share a log step.
    let logged: Vec<CeremonyStep> = steps.iter().map(|s| log_step(&proposal, s)).collect();
    for (i, a) in logged.iter().enumerate() {
        assert!(logged.iter().skip(i + 1).all(|b| b != a), "{a:?} twice");
    }
}

/// Every field of `CeremonyKeys` either reaches the machine's `Setup` or stays with the
/// shell, by name: a field added to either side breaks this test until it is mapped.
#[test]
fn ceremony_keys_reach_the_machine_setup_field_by_field() {
    use escrow_crypto::{dealer_keygen, TrusteePins, TrusteeSigningKey};
    use rand::rngs::OsRng;

    use super::{CeremonyKeys, SealKey};

    let signing = TrusteeSigningKey::generate(PartyId::new("trustee-0").unwrap(), &mut OsRng);
    let other = TrusteeSigningKey::generate(PartyId::new("trustee-1").unwrap(), &mut OsRng);
    let pins = TrusteePins::new(vec![signing.public(), other.public()]).unwrap();
    #[cfg_attr(not(feature = "tamper"), allow(unused_mut))]
    let mut keys = CeremonyKeys {
        signing: signing.clone(),
        pins: pins.clone(),
        seal: SealKey::generate(),
        auto_accept: true,
        #[cfg(feature = "tamper")]
        misbehave: Default::default(),
    };
    #[cfg(feature = "tamper")]
    {
        keys.misbehave.withhold_agreement = true;
    }
    let dealt = dealer_keygen(EpochId(3), 1, 3, &mut OsRng).unwrap();
    let old = escrow_crypto::TrusteeKeyShare::from_bytes(&dealt.shares[1].to_bytes()).unwrap();

    for old_share in [None, Some(old)] {
        let want_old = old_share.as_ref().map(|s| s.to_bytes().to_vec());
        let setup = keys.setup(old_share);
        // Exhaustive on the keys: each field is mapped below or named as the shell's.
        let CeremonyKeys {
            signing: key,
            pins: pinned,
            seal: _,        // the shell seals installed shares with it
            auto_accept: _, // the shell accepts proposals with it
            #[cfg(feature = "tamper")]
            misbehave,
        } = &keys;
        assert_eq!(setup.key.public(), key.public());
        assert_eq!(setup.key.trustee(), key.trustee());
        assert_eq!(&setup.pins, pinned);
        assert_eq!(setup.old_share.as_ref().map(|s| s.to_bytes().to_vec()), want_old);
        #[cfg(feature = "tamper")]
        assert_eq!(setup.withhold_agreement, misbehave.withhold_agreement);
    }
}
