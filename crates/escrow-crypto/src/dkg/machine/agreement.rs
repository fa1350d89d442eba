//! The agreement round: each participant signs the announcement it computed (the
//! qualified dealers, the combined key set, and a transcript hash over everything it
//! decided on), counts the others' signatures, and installs only when every
//! participant signed the same bytes.

use sha2::{Digest, Sha256};

use super::{Ceremony, TRANSCRIPT_DST};
use crate::announce::{Announcement, SignedAnnouncement, ANNOUNCEMENT_SIG_DST};
use crate::dkg::math::{combine, DealingCommitment};
use crate::dkg::messages::{Body, Plan, SignedMessage};
use crate::dkg::outcome::{AbortReason, Disqualification, Installation, Output, Step};
use crate::dkg::qualify::qualify;
use crate::id::PartyId;
use crate::keys::{EpochPublicKey, TrusteeIndex};
use crate::trustee_key::SIGNATURE_LEN;

impl Ceremony {
    /// A participant's agreement: counted if it signs the announcement this trustee
    /// computed, the end of the ceremony if it signs another. Before this trustee has
    /// its own, the first from each sender is kept and taken then.
    pub(super) fn take_agreement(
        &mut self,
        sender: PartyId,
        announcement: [u8; 32],
        signature: [u8; SIGNATURE_LEN],
        now_ms: u64,
    ) -> Vec<Output> {
        if self.is_final() || self.agreements.contains_key(&sender) {
            return Vec::new();
        }
        let Some((body, hash)) = &self.announcement else {
            self.early_agreements.entry(sender).or_insert((announcement, signature));
            return Vec::new();
        };
        let agrees = &announcement == hash
            && self.setup.pins.get(&sender).is_some_and(|k| k.verify(ANNOUNCEMENT_SIG_DST, body, &signature).is_ok());
        let mut out = vec![Output::Log(Step::Agreed { by: sender.clone(), announcement })];
        if agrees {
            self.agreements.insert(sender, signature);
        } else {
            out.extend(self.abort_with(AbortReason::Disagreement { by: sender }, true, now_ms));
        }
        out
    }

    /// Decides the qualified dealers, combines, and signs the announcement.
    pub(super) fn agree(&mut self, now_ms: u64) -> Vec<Output> {
        let mut out = Vec::new();
        let (qualified, disqualified) =
            qualify(self.proposal.dealers.len(), &self.deals, &self.complaints, &self.justifications);
        for (d, why) in &disqualified {
            out.push(Output::Log(Step::Disqualified { dealer: self.dealer_id(*d), why: *why }));
        }
        let previous = match &self.proposal.plan {
            Plan::Fresh => None,
            Plan::Reshare { previous, .. } => Some(previous.clone()),
        };
        let needed = previous.as_ref().map_or(usize::from(self.proposal.threshold) + 1, EpochPublicKey::quorum);
        if qualified.len() < needed {
            out.extend(self.abort_with(
                AbortReason::TooFewQualified { qualified: qualified.len(), needed },
                true,
                now_ms,
            ));
            return out;
        }
        let dealers: Vec<(TrusteeIndex, &DealingCommitment)> = qualified
            .iter()
            .filter_map(|d| self.deals.get(d).map(|x| (self.dealer_weight_index(*d), &x.commitment)))
            .collect();
        let me = self.player_index(self.me());
        let mut mine = Vec::new();
        if let Some(j) = me {
            for d in &qualified {
                let s = self.justifications.get(&(*d, j)).or_else(|| self.my_shares.get(d));
                if let Some(s) = s {
                    mine.push(s.clone());
                }
            }
        }
        let n = u16::try_from(self.proposal.players.len()).expect("at most 64 players");
        let combined = combine(
            self.proposal.epoch,
            n,
            self.proposal.threshold,
            previous.as_ref(),
            &dealers,
            me.map(|j| (TrusteeIndex(j), mine.as_slice())),
        );
        let combined = match combined {
            Ok(c) => c,
            Err(e) => {
                out.extend(self.abort_with(AbortReason::Combine(e), true, now_ms));
                return out;
            }
        };
        let transcript = self.transcript(&qualified, &disqualified, &combined.public);
        let announcement = Announcement {
            key_set: combined.public,
            generation: self.proposal.plan.next_generation(),
            holders: self.proposal.players.clone(),
            valid_from: self.proposal.valid_from,
            destroy_at: self.proposal.destroy_at,
            transcript,
            modes: self.proposal.modes,
        };
        let body = match announcement.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                out.extend(self.abort_with(AbortReason::Combine(e), true, now_ms));
                return out;
            }
        };
        let hash: [u8; 32] = Sha256::digest(&body).into();
        let signature = self.setup.key.sign(ANNOUNCEMENT_SIG_DST, &body);
        self.announcement = Some((body, hash));
        self.new_share = combined.share;
        self.dealing = None;
        self.my_shares.clear();
        #[cfg(feature = "dangerous")]
        if self.setup.withhold_agreement {
            return out;
        }
        self.agreements.insert(self.me().clone(), signature);
        out.push(Output::Log(Step::Agreed { by: self.me().clone(), announcement: hash }));
        out.push(Output::Broadcast(self.sign(&Body::Agreement {
            proposal: self.proposal_hash,
            announcement: hash,
            signature,
        })));
        out
    }

    fn transcript(
        &self,
        qualified: &[u16],
        disqualified: &[(u16, Disqualification)],
        key_set: &EpochPublicKey,
    ) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(TRANSCRIPT_DST);
        h.update(self.id);
        h.update(self.proposal_hash);
        for p in &self.participants {
            h.update(self.accepts.get(p).map(|(m, _)| m.hash()).unwrap_or([0; 32]));
        }
        h.update(self.execute.as_ref().map(SignedMessage::hash).unwrap_or([0; 32]));
        h.update((qualified.len() as u32).to_be_bytes());
        // The commitments, not the dealing messages: each player's ciphertext is its own
        // business (a bad one is settled by complaint), but a dealer that showed two
        // commitments is caught here.
        for d in qualified {
            h.update(d.to_be_bytes());
            h.update(self.deals.get(d).map(|x| x.commitment.hash()).unwrap_or([0; 32]));
        }
        h.update((disqualified.len() as u32).to_be_bytes());
        for (d, why) in disqualified {
            h.update(d.to_be_bytes());
            h.update([why.code()]);
        }
        let complaints: usize = self.complaints.values().map(Vec::len).sum();
        h.update((complaints as u32).to_be_bytes());
        for (j, against) in &self.complaints {
            for (d, g) in against {
                h.update(j.to_be_bytes());
                h.update(d.to_be_bytes());
                h.update([g.code()]);
            }
        }
        let answered = self.justifications.keys().filter(|(d, _)| qualified.contains(d)).count();
        h.update((answered as u32).to_be_bytes());
        for ((d, j), s) in &self.justifications {
            if qualified.contains(d) {
                h.update(d.to_be_bytes());
                h.update(j.to_be_bytes());
                h.update(Sha256::digest(*s.to_bytes()));
            }
        }
        h.update(key_set.to_bytes());
        h.finalize().into()
    }

    pub(super) fn install(&mut self, now_ms: u64) -> Vec<Output> {
        // Once handed to the shell, the installation is not made again.
        if self.installing {
            return Vec::new();
        }
        let Some((body, hash)) = self.announcement.clone() else { return Vec::new() };
        let signatures =
            self.participants.iter().filter_map(|p| self.agreements.get(p).map(|s| (p.clone(), *s))).collect();
        // Every signature was checked as it arrived; this makes the verified type (and
        // checks that the holders are exactly the signers this trustee counted).
        let announcement = match SignedAnnouncement::new(body, signatures).verify(&self.setup.pins) {
            Ok(a) => a,
            Err(e) => return self.abort_with(AbortReason::Combine(e), true, now_ms),
        };
        let share = self.new_share.take();
        // Installed once the shell says the key set is stored (`installed`).
        self.installing = true;
        self.ceremony_key = None;
        vec![
            Output::Log(Step::Installed { announcement: hash }),
            Output::Install(Box::new(Installation { announcement, share })),
        ]
    }
}
