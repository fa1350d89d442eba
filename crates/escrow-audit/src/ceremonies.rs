//! What the logs show about epoch keys and key ceremonies, compared across trustees:
//!
//! - **Equivocation**: two trustees' logs install different key sets as one epoch and
//!   generation. Every holder signs the one announcement a ceremony makes, so two
//!   differing ones for the same (epoch, generation) mean the holders were split, or
//!   one announcement was made behind the others' backs.
//! - **A replaced key**: a log that installs an epoch it already installed, at the same
//!   or an earlier generation. Only a reshare (a higher generation, same public key)
//!   may follow an installed epoch; anything else replaces its key and strands every
//!   message sealed under it.
//! - **A split install**: one ceremony installed at some of its participants and
//!   aborted at others. The agreement round cannot make this impossible (a participant
//!   that misses the last signature aborts at the deadline while the others install),
//!   so it must be impossible to miss: `docs/protocol.md`, "Split installs".
//!
//! Pure: the entries in, the flags out.

use std::collections::BTreeMap;

use escrow_log::event::{CeremonyStep, Entry, Event};

use crate::reconcile::Flag;

/// Which install of an epoch: a dealt key (its key set hash) or a ceremony's
/// generation (its announcement hash). The two hash different blobs and are never
/// compared with each other.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Made {
    Dealt,
    Ceremony(u32),
}

impl Made {
    fn generation(self) -> u32 {
        match self {
            Made::Dealt => 0,
            Made::Ceremony(g) => g,
        }
    }
}

/// The first log seen installing something, for the flag's text.
struct Seen {
    origin: String,
    index: u64,
    hash: [u8; 32],
}

/// How one ceremony ended in one log.
#[derive(Default)]
struct Outcomes {
    epoch: u64,
    installed: Vec<String>,
    aborted: Vec<(String, String)>,
}

/// The ceremony and epoch-key flags over logs given as (origin, entries).
pub fn ceremony_flags<'a>(logs: impl IntoIterator<Item = (&'a str, &'a [Entry])>) -> Vec<Flag> {
    let mut flags = Vec::new();
    let mut first: BTreeMap<(u64, Made), Seen> = BTreeMap::new();
    let mut ceremonies: BTreeMap<[u8; 16], Outcomes> = BTreeMap::new();
    for (origin, entries) in logs {
        // Per epoch: the generation this log installed last, and where.
        let mut mine: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
        // A ceremony's install writes its `Installed` step and then `EpochInstalled`
        // for the same key set: the second is not a dealt key.
        let mut just_installed: Option<u64> = None;
        for (index, e) in (0u64..).zip(entries) {
            let install = match &e.event {
                Event::Ceremony { ceremony, step: CeremonyStep::Proposed { epoch, .. } } => {
                    ceremonies.entry(*ceremony).or_default().epoch = *epoch;
                    None
                }
                Event::Ceremony { ceremony, step: CeremonyStep::Installed { announcement, epoch, generation, .. } } => {
                    let o = ceremonies.entry(*ceremony).or_default();
                    o.epoch = *epoch;
                    o.installed.push(origin.to_string());
                    Some((*epoch, Made::Ceremony(*generation), *announcement))
                }
                Event::Ceremony { ceremony, step: CeremonyStep::Aborted { reason } } => {
                    let o = ceremonies.entry(*ceremony).or_default();
                    o.aborted.push((origin.to_string(), reason.to_string()));
                    None
                }
                Event::EpochInstalled { epoch, public_key_hash, .. } if just_installed != Some(*epoch) => {
                    Some((*epoch, Made::Dealt, *public_key_hash))
                }
                _ => None,
            };
            just_installed = None;
            let Some((epoch, made, hash)) = install else { continue };
            just_installed = Some(epoch);
            if let Some((before, at)) = mine.get(&epoch) {
                if made.generation() <= *before {
                    flags.push(Flag::KeyReplaced {
                        trustee: origin.to_string(),
                        epoch,
                        index,
                        generation: made.generation(),
                        earlier_index: *at,
                        earlier_generation: *before,
                    });
                }
            }
            mine.insert(epoch, (made.generation(), index));
            match first.get(&(epoch, made)) {
                None => {
                    first.insert((epoch, made), Seen { origin: origin.to_string(), index, hash });
                }
                Some(seen) if seen.hash != hash && seen.origin != origin => flags.push(Flag::Equivocation {
                    trustee: origin.to_string(),
                    index,
                    epoch,
                    generation: made.generation(),
                    what: if made == Made::Dealt { "key set" } else { "announcement" },
                    hash,
                    other: seen.origin.clone(),
                    other_index: seen.index,
                    other_hash: seen.hash,
                }),
                Some(_) => {}
            }
        }
    }
    for (ceremony, o) in ceremonies {
        if !o.installed.is_empty() && !o.aborted.is_empty() {
            flags.push(Flag::SplitInstall {
                ceremony,
                epoch: o.epoch,
                installed_at: o.installed,
                aborted_at: o.aborted,
            });
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::reconcile;
    use crate::testlog::HandLog;

    fn step(ceremony: u8, step: CeremonyStep) -> Event {
        Event::Ceremony { ceremony: [ceremony; 16], step }
    }

    fn proposed(ceremony: u8, epoch: u64, plan: u8) -> Event {
        step(
            ceremony,
            CeremonyStep::Proposed {
                proposal: [ceremony; 32],
                proposer: "trustee-0".into(),
                epoch,
                plan,
                threshold: 1,
                players: 2,
            },
        )
    }

    /// A ceremony's install as the trustee logs it: the step, then the epoch.
    fn installed(ceremony: u8, epoch: u64, generation: u32, announcement: u8) -> Vec<Event> {
        vec![
            step(
                ceremony,
                CeremonyStep::Installed { announcement: [announcement; 32], epoch, generation, destroy_at: 1000 },
            ),
            Event::EpochInstalled { epoch, public_key_hash: [announcement ^ 0xff; 32], trustee_index: 0 },
        ]
    }

    fn aborted(ceremony: u8, reason: &str) -> Event {
        step(ceremony, CeremonyStep::Aborted { reason: reason.into() })
    }

    fn dealt(epoch: u64, key: u8) -> Event {
        Event::EpochInstalled { epoch, public_key_hash: [key; 32], trustee_index: 0 }
    }

    fn log(origin: &str, events: Vec<Event>) -> crate::VerifiedLog {
        HandLog::with(origin, (1u64..).zip(events).collect()).verified()
    }

    fn flags(logs: &[crate::VerifiedLog]) -> Vec<Flag> {
        reconcile(logs, 1).flags
    }

    /// The first case, as the auditor sees it: the same epoch and generation
    /// installed under two announcements, one per trustee, from a hand-built log pair.
    #[test]
    fn two_announcements_for_one_epoch_and_generation_are_flagged() {
        let mut a = vec![proposed(1, 2, 0)];
        a.extend(installed(1, 2, 0, 0xaa));
        let mut b = vec![proposed(1, 2, 0)];
        b.extend(installed(1, 2, 0, 0xbb));
        let logs = [log("a", a), log("b", b)];
        let found = flags(&logs);
        assert_eq!(
            found,
            vec![Flag::Equivocation {
                trustee: "b".into(),
                index: 1,
                epoch: 2,
                generation: 0,
                what: "announcement",
                hash: [0xbb; 32],
                other: "a".into(),
                other_index: 1,
                other_hash: [0xaa; 32],
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "b: entry 1 installs epoch 2 generation 0 as announcement bbbbbbbbbbbbbbbb…, \
             but a's entry 1 installs it as aaaaaaaaaaaaaaaa…: two keys for one epoch"
        );
        // The same announcement everywhere is the normal case.
        let mut c = vec![proposed(1, 2, 0)];
        c.extend(installed(1, 2, 0, 0xaa));
        let mut a = vec![proposed(1, 2, 0)];
        a.extend(installed(1, 2, 0, 0xaa));
        assert!(flags(&[log("a", a), log("c", c)]).is_empty());
    }

    /// Two dealt keys for one epoch are the same equivocation; a dealt key and a
    /// ceremony's announcement hash different blobs and are not compared.
    #[test]
    fn two_dealt_keys_for_one_epoch_are_flagged() {
        let logs = [log("a", vec![dealt(1, 1)]), log("b", vec![dealt(1, 2)]), log("c", vec![dealt(1, 1)])];
        let found = flags(&logs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            matches!(&found[0], Flag::Equivocation { trustee, other, epoch: 1, .. } if trustee == "b" && other == "a")
        );
    }

    /// A second fresh install of an epoch in one log replaces its key; a reshare (a
    /// higher generation) does not.
    #[test]
    fn a_log_that_installs_an_epoch_again_without_a_reshare_is_flagged() {
        let mut events = vec![dealt(2, 7), proposed(1, 2, 0)];
        events.extend(installed(1, 2, 0, 0xaa));
        let found = flags(&[log("a", events)]);
        assert_eq!(
            found,
            vec![Flag::KeyReplaced {
                trustee: "a".into(),
                epoch: 2,
                index: 2,
                generation: 0,
                earlier_index: 0,
                earlier_generation: 0
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "a: entry 2 installs epoch 2 at generation 0 after entry 0 installed it at generation 0: \
             its key was replaced, not reshared"
        );
        // Dealt, then reshared twice: generations grow.
        let mut events = vec![dealt(2, 7), proposed(1, 2, 1)];
        events.extend(installed(1, 2, 1, 0xaa));
        events.push(proposed(2, 2, 1));
        events.extend(installed(2, 2, 2, 0xbb));
        assert!(flags(&[log("a", events)]).is_empty());
        // A reshare that goes back a generation is a replacement too.
        let mut events = vec![proposed(1, 3, 1)];
        events.extend(installed(1, 3, 2, 0xaa));
        events.extend(installed(2, 3, 1, 0xbb));
        assert!(matches!(
            flags(&[log("a", events)]).as_slice(),
            [Flag::KeyReplaced { generation: 1, earlier_generation: 2, .. }]
        ));
    }

    /// The second case: trustees 0, 1 and 3 installed while 2 and 4 aborted.
    #[test]
    fn a_ceremony_installed_at_some_participants_and_aborted_at_others_is_flagged() {
        let done = |o: &str| {
            let mut e = vec![proposed(9, 14, 0)];
            e.extend(installed(9, 14, 0, 0xcc));
            log(o, e)
        };
        let gave_up = |o: &str| log(o, vec![proposed(9, 14, 0), aborted(9, "timed out in Agreeing waiting for t-1")]);
        let logs = [done("t-0"), done("t-1"), gave_up("t-2"), done("t-3"), gave_up("t-4")];
        let found = flags(&logs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].to_string(),
            format!(
                "ceremony {} for epoch 14 was installed at t-0, t-1, t-3 but aborted at t-2 \
                 (timed out in Agreeing waiting for t-1), t-4 (timed out in Agreeing waiting for t-1): \
                 the holders do not share one key",
                hex::encode([9u8; 16])
            )
        );
        // All installed, or all aborted: no flag.
        assert!(flags(&[done("t-0"), done("t-1")]).is_empty());
        assert!(flags(&[gave_up("t-0"), gave_up("t-1")]).is_empty());
        // A ceremony still running at one trustee is not (yet) a split.
        assert!(flags(&[done("t-0"), log("t-1", vec![proposed(9, 14, 0)])]).is_empty());
    }
}
