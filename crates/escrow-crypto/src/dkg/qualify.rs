//! The rules that decide, from the broadcast record every honest participant holds
//! alike, what a player complains about, which complaints still wait for an answer,
//! and which dealers qualify. Pure functions over that record: the machine
//! ([`super::machine`]) calls them on what it received, the tests below on tables.
//!
//! Every honest participant that saw the same broadcast messages reaches the same
//! answer here; the agreement round then checks that they did (the transcript hash
//! covers each input of [`qualify`]).

use std::collections::BTreeMap;

use crate::dkg::math::{DealingCommitment, DealtShare};
use crate::dkg::messages::Grievance;
use crate::dkg::outcome::Disqualification;
use crate::keys::TrusteeIndex;

/// A dealing as received: its public commitment, and whether it is publicly wrong.
pub(crate) struct Deal {
    pub(crate) commitment: DealingCommitment,
    /// Publicly wrong (every participant with it sees the same).
    pub(crate) invalid: bool,
}

/// Each player's complaints (by player index): against which dealer, and why.
pub(crate) type Complaints = BTreeMap<u16, Vec<(u16, Grievance)>>;

/// The shares dealers revealed to answer bad-share complaints, by (dealer, player).
pub(crate) type Justifications = BTreeMap<(u16, u16), DealtShare>;

/// What a player complains about when dealing closes, dealer by dealer: a dealing
/// that did not arrive is missing; one that is not publicly wrong but gave this player
/// no share that verifies (`has_share` is false) is a bad share. A publicly wrong
/// dealing needs no complaint: every participant disqualifies it.
pub(crate) fn complaints_for(
    dealers: usize,
    deals: &BTreeMap<u16, Deal>,
    has_share: impl Fn(u16) -> bool,
) -> Vec<(u16, Grievance)> {
    let mut against = Vec::new();
    for d in (0..dealers).filter_map(|d| u16::try_from(d).ok()) {
        match deals.get(&d) {
            None => against.push((d, Grievance::Missing)),
            Some(deal) if !deal.invalid && !has_share(d) => against.push((d, Grievance::BadShare)),
            Some(_) => {}
        }
    }
    against
}

/// The bad-share complaints still waiting for their dealer's revealed share, as
/// (dealer, player). A complaint that nothing can answer is not waited for: the same
/// player also said the dealing was missing, or the dealing is absent or publicly
/// wrong here (the dealer is disqualified whatever it reveals).
pub(crate) fn pending_justifications(
    complaints: &Complaints,
    deals: &BTreeMap<u16, Deal>,
    justifications: &Justifications,
) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for (j, against) in complaints {
        for (d, g) in against {
            let hopeless = against.iter().any(|(d2, g2)| d2 == d && *g2 == Grievance::Missing)
                || deals.get(d).is_none_or(|x| x.invalid);
            if *g == Grievance::BadShare && !hopeless && !justifications.contains_key(&(*d, *j)) {
                out.push((*d, *j));
            }
        }
    }
    out
}

/// Which of `dealers` dealers qualify, in order, and why each other one does not:
/// its dealing is missing here or any player said so ([`Disqualification::Missing`]),
/// it is publicly wrong ([`Disqualification::InvalidDealing`]), or a bad-share
/// complaint against it has no revealed share that verifies against its commitment
/// ([`Disqualification::Unanswered`]).
pub(crate) fn qualify(
    dealers: usize,
    deals: &BTreeMap<u16, Deal>,
    complaints: &Complaints,
    justifications: &Justifications,
) -> (Vec<u16>, Vec<(u16, Disqualification)>) {
    let mut qualified = Vec::new();
    let mut disqualified = Vec::new();
    for d in (0..dealers).filter_map(|d| u16::try_from(d).ok()) {
        let why = match deals.get(&d) {
            None => Some(Disqualification::Missing),
            Some(deal) if deal.invalid => Some(Disqualification::InvalidDealing),
            Some(deal) => {
                let missing = complaints.values().any(|a| a.contains(&(d, Grievance::Missing)));
                let unanswered = complaints.iter().any(|(j, a)| {
                    a.contains(&(d, Grievance::BadShare))
                        && justifications.get(&(d, *j)).is_none_or(|s| !deal.commitment.verify(TrusteeIndex(*j), s))
                });
                if missing {
                    Some(Disqualification::Missing)
                } else if unanswered {
                    Some(Disqualification::Unanswered)
                } else {
                    None
                }
            }
        };
        match why {
            None => qualified.push(d),
            Some(why) => disqualified.push((d, why)),
        }
    }
    (qualified, disqualified)
}

#[cfg(test)]
mod tests {
    // Test code may unwrap and index: the lint wall is for library code.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::dkg::math::Dealing;
    use crate::dkg::messages::Grievance::{BadShare, Missing};
    use crate::dkg::outcome::Disqualification::{InvalidDealing, Unanswered};

    /// Three dealers' real dealings (threshold 1) for players 0..3.
    fn dealings() -> Vec<Dealing> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        (0..3).map(|_| Dealing::fresh(1, &mut rng).unwrap()).collect()
    }

    /// The record of a table row: which dealings arrived (and which are publicly
    /// wrong), who complained of what, and which shares were revealed (`true`: the
    /// right one; `false`: another dealer's, which does not verify).
    struct Row {
        what: &'static str,
        arrived: &'static [(u16, bool)],
        complaints: &'static [(u16, &'static [(u16, Grievance)])],
        revealed: &'static [((u16, u16), bool)],
        qualified: &'static [u16],
        disqualified: &'static [(u16, Disqualification)],
        pending: &'static [(u16, u16)],
    }

    const ROWS: &[Row] = &[
        Row {
            what: "everything arrived, nobody complained",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(0, &[]), (1, &[]), (2, &[])],
            revealed: &[],
            qualified: &[0, 1, 2],
            disqualified: &[],
            pending: &[],
        },
        Row {
            what: "a dealing missing here",
            arrived: &[(0, false), (2, false)],
            complaints: &[(0, &[(1, Missing)])],
            revealed: &[],
            qualified: &[0, 2],
            disqualified: &[(1, Disqualification::Missing)],
            pending: &[],
        },
        Row {
            what: "a dealing here that one player says it never got",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(0, &[]), (1, &[(2, Missing)])],
            revealed: &[],
            qualified: &[0, 1],
            disqualified: &[(2, Disqualification::Missing)],
            pending: &[],
        },
        Row {
            what: "a publicly wrong dealing",
            arrived: &[(0, true), (1, false), (2, false)],
            complaints: &[(1, &[(0, BadShare)])],
            revealed: &[],
            qualified: &[1, 2],
            disqualified: &[(0, InvalidDealing)],
            pending: &[],
        },
        Row {
            what: "a bad-share complaint not answered",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(2, &[(1, BadShare)])],
            revealed: &[],
            qualified: &[0, 2],
            disqualified: &[(1, Unanswered)],
            pending: &[(1, 2)],
        },
        Row {
            what: "a bad-share complaint answered with the right share",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(2, &[(1, BadShare)])],
            revealed: &[((1, 2), true)],
            qualified: &[0, 1, 2],
            disqualified: &[],
            pending: &[],
        },
        Row {
            what: "a bad-share complaint answered with a share that does not verify",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(2, &[(1, BadShare)])],
            revealed: &[((1, 2), false)],
            qualified: &[0, 2],
            disqualified: &[(1, Unanswered)],
            pending: &[],
        },
        Row {
            what: "missing and bad share from the same player: nothing to wait for",
            arrived: &[(0, false), (1, false), (2, false)],
            complaints: &[(0, &[(1, Missing), (1, BadShare)])],
            revealed: &[],
            qualified: &[0, 2],
            disqualified: &[(1, Disqualification::Missing)],
            pending: &[],
        },
        Row {
            what: "a bad-share complaint against a dealing absent here: nothing to wait for",
            arrived: &[(0, false), (2, false)],
            complaints: &[(0, &[(1, BadShare)])],
            revealed: &[],
            qualified: &[0, 2],
            disqualified: &[(1, Disqualification::Missing)],
            pending: &[],
        },
    ];

    #[test]
    fn qualify_and_pending_justifications_over_the_table() {
        let d = dealings();
        for row in ROWS {
            let deals: BTreeMap<u16, Deal> = row
                .arrived
                .iter()
                .map(|(i, invalid)| (*i, Deal { commitment: d[usize::from(*i)].commitment(), invalid: *invalid }))
                .collect();
            let complaints: Complaints = row.complaints.iter().map(|(j, a)| (*j, a.to_vec())).collect();
            let justifications: Justifications = row
                .revealed
                .iter()
                .map(|((dealer, player), right)| {
                    let from = if *right { usize::from(*dealer) } else { (usize::from(*dealer) + 1) % 3 };
                    ((*dealer, *player), d[from].share_for(TrusteeIndex(*player)))
                })
                .collect();
            let (q, dq) = qualify(3, &deals, &complaints, &justifications);
            assert_eq!(q, row.qualified, "{}: qualified", row.what);
            assert_eq!(dq, row.disqualified, "{}: disqualified", row.what);
            let pending = pending_justifications(&complaints, &deals, &justifications);
            assert_eq!(pending, row.pending, "{}: pending", row.what);
        }
    }

    #[test]
    fn complaints_for_over_the_table() {
        let d = dealings();
        let deal = |i: usize, invalid| Deal { commitment: d[i].commitment(), invalid };
        // (what, which arrived and whether publicly wrong, which gave a share that
        // verifies, the complaints)
        type Row = (&'static str, Vec<(u16, bool)>, Vec<u16>, Vec<(u16, Grievance)>);
        let rows: Vec<Row> = vec![
            ("all arrived with good shares", vec![(0, false), (1, false), (2, false)], vec![0, 1, 2], vec![]),
            ("one missing", vec![(0, false), (2, false)], vec![0, 2], vec![(1, Missing)]),
            ("one bad share", vec![(0, false), (1, false), (2, false)], vec![0, 2], vec![(1, BadShare)]),
            ("a publicly wrong one needs no complaint", vec![(0, true), (1, false), (2, false)], vec![1, 2], vec![]),
            ("nothing arrived", vec![], vec![], vec![(0, Missing), (1, Missing), (2, Missing)]),
        ];
        for (what, arrived, shares, expected) in rows {
            let deals: BTreeMap<u16, Deal> =
                arrived.iter().map(|(i, invalid)| (*i, deal(usize::from(*i), *invalid))).collect();
            assert_eq!(complaints_for(3, &deals, |x| shares.contains(&x)), expected, "{what}");
        }
    }
}
