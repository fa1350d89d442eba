//! Key ceremonies as the kit describes them: a [`CeremonySpec`] (by trustee index),
//! the request it becomes, and how it ended. `Deployment::ceremony` runs one.

use escrow_crypto::{EpochId, Modes};
use escrow_proto::v1 as pb;

use crate::KitError;

/// A key ceremony the kit runs through the trustees' Ceremony services.
#[derive(Debug, Clone)]
pub struct CeremonySpec {
    /// The epoch.
    pub epoch: EpochId,
    /// The new threshold.
    pub threshold: u16,
    /// The new holders, by trustee index.
    pub players: Vec<usize>,
    /// For a reshare: the old holders who deal (empty: all of them).
    pub dealers: Vec<usize>,
    /// Reshare the epoch's key set instead of making a fresh one.
    pub reshare: bool,
    /// Which trustee's operator proposes and executes.
    pub proposer: usize,
    /// From when the key may be used.
    pub valid_from: u64,
    /// When every share is destroyed.
    pub destroy_at: u64,
    /// Each automatic phase's timeout, milliseconds.
    pub phase_ms: u32,
    /// The escrow modes the key set supports.
    pub modes: Modes,
}

/// How long the kit's proposals wait for the operators to accept, milliseconds.
pub const ACCEPT_TIMEOUT_MS: u32 = 60_000;

impl CeremonySpec {
    /// The `Propose` request for this ceremony, with `participant(i)` naming trustee
    /// `i` and its address: the one mapping of a spec to a request (the trustee maps
    /// the request to its proposal, `escrow_trustee::ceremony::proposal_of`).
    pub fn request(
        &self,
        participant: impl Fn(usize) -> Result<pb::Participant, KitError>,
    ) -> Result<pb::ProposeRequest, KitError> {
        Ok(pb::ProposeRequest {
            epoch: self.epoch.0,
            threshold: u32::from(self.threshold),
            players: self.players.iter().map(|&i| participant(i)).collect::<Result<_, _>>()?,
            dealers: self.dealers.iter().map(|&i| participant(i)).collect::<Result<_, _>>()?,
            reshare: self.reshare,
            valid_from: self.valid_from,
            destroy_at: self.destroy_at,
            accept_timeout_ms: ACCEPT_TIMEOUT_MS,
            phase_timeout_ms: self.phase_ms,
            day_mode: self.modes.day,
        })
    }
}

/// How a ceremony ended, as every participant reports it.
#[derive(Debug)]
pub struct CeremonyOutcome {
    /// Each participant's status, in participant order.
    pub statuses: Vec<pb::CeremonyStatus>,
    /// The announcement, verified under the pins, if every participant installed the
    /// same one.
    pub announcement: Option<escrow_crypto::VerifiedAnnouncement>,
}

#[cfg(test)]
mod tests {
    // Test code may unwrap and index: the lint wall is for library code.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use escrow_crypto::dkg::messages::{Plan, Proposal};
    use escrow_crypto::{dealer_keygen, Announcement, PartyId};
    use escrow_trustee::ceremony::{proposal_of, DEFAULT_ACCEPT_TIMEOUT_MS};

    use super::*;

    fn name(i: usize) -> String {
        format!("trustee-{i}")
    }

    fn participant(i: usize) -> Result<pb::Participant, KitError> {
        Ok(pb::Participant { trustee_id: name(i), addr: format!("127.0.0.1:{}", 7000 + i) })
    }

    fn ids(list: &[usize]) -> Vec<PartyId> {
        list.iter().map(|&i| PartyId::new(name(i)).unwrap()).collect()
    }

    /// A spec becomes a request (here) and the request a proposal (at the trustee):
    /// every field of the spec arrives where it should. Both structs are taken apart
    /// exhaustively, so a field added to either breaks this test until it is mapped.
    fn round_trip(spec: &CeremonySpec, announced: Option<&Announcement>) -> Proposal {
        let request = spec.request(participant).unwrap();
        let (proposal, peers) = proposal_of(&request, announced).unwrap();
        let CeremonySpec {
            epoch,
            threshold,
            players,
            dealers,
            reshare,
            proposer: _,
            valid_from,
            destroy_at,
            phase_ms,
            modes,
        } = spec;
        let Proposal {
            epoch: p_epoch,
            threshold: p_threshold,
            players: p_players,
            dealers: p_dealers,
            plan,
            valid_from: p_valid_from,
            destroy_at: p_destroy_at,
            accept_timeout_ms,
            phase_timeout_ms,
            modes: p_modes,
        } = &proposal;
        assert_eq!(p_epoch, epoch);
        assert_eq!(p_threshold, threshold);
        assert_eq!(p_players, &ids(players));
        assert_eq!(matches!(plan, Plan::Reshare { .. }), *reshare);
        if !dealers.is_empty() {
            assert_eq!(p_dealers, &ids(dealers));
        }
        assert_eq!(p_valid_from, valid_from);
        assert_eq!(p_destroy_at, destroy_at);
        assert_eq!(*accept_timeout_ms, ACCEPT_TIMEOUT_MS);
        assert_ne!(*accept_timeout_ms, DEFAULT_ACCEPT_TIMEOUT_MS, "the kit's own wait, not the trustee's default");
        assert_eq!(phase_timeout_ms, phase_ms);
        assert_eq!(p_modes, modes);
        // Every participant's address came with the request.
        for p in proposal.participants() {
            let i: usize = p.as_str().trim_start_matches("trustee-").parse().unwrap();
            assert_eq!(peers.get(&p), Some(&format!("127.0.0.1:{}", 7000 + i)));
        }
        proposal
    }

    fn spec(reshare: bool, players: Vec<usize>, dealers: Vec<usize>, threshold: u16) -> CeremonySpec {
        CeremonySpec {
            epoch: EpochId(7),
            threshold,
            players,
            dealers,
            reshare,
            proposer: 0,
            valid_from: 1_000,
            destroy_at: 90_000,
            phase_ms: 2_500,
            modes: if reshare { Modes::PER_MESSAGE } else { Modes::BOTH },
        }
    }

    #[test]
    fn a_fresh_ceremony_spec_reaches_the_proposal_field_by_field() {
        let p = round_trip(&spec(false, vec![0, 1, 2, 3, 4], vec![], 2), None);
        assert_eq!(p.plan, Plan::Fresh);
        assert_eq!(p.dealers, p.players, "every player deals a fresh key");
    }

    #[test]
    fn a_reshare_spec_reaches_the_proposal_with_the_announced_key_set() {
        let dealt = dealer_keygen(EpochId(7), 2, 5, &mut rand::rngs::OsRng).unwrap();
        let announced = Announcement {
            key_set: dealt.public.clone(),
            generation: 3,
            holders: ids(&[0, 1, 2, 3, 4]),
            valid_from: 1_000,
            destroy_at: 90_000,
            transcript: [9; 32],
            modes: Modes::PER_MESSAGE,
        };
        // Named dealers deal; without names, every holder does (and every holder must
        // then be among the players, whose addresses the request carries).
        let named = round_trip(&spec(true, vec![0, 1, 2], vec![1, 2, 3], 1), Some(&announced));
        assert_eq!(
            named.plan,
            Plan::Reshare { previous: dealt.public.clone(), generation: 3, holders: ids(&[0, 1, 2, 3, 4]) }
        );
        let all = round_trip(&spec(true, vec![0, 1, 2, 3, 4], vec![], 3), Some(&announced));
        assert_eq!(all.dealers, ids(&[0, 1, 2, 3, 4]));
        let request = spec(true, vec![0, 1, 2], vec![], 1).request(participant).unwrap();
        let refused = proposal_of(&request, Some(&announced)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("no address for participant trustee-3"), "{refused:?}");
        // A reshare of an epoch the trustee holds no key set for is refused.
        let request = spec(true, vec![0, 1, 2], vec![], 1).request(participant).unwrap();
        let refused = proposal_of(&request, None).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    }
}
