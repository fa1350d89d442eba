//! The key ceremony's state machine under arbitrary schedules: messages dropped or
//! delayed up to past the deadlines, one trustee paused (its messages wait, its clock
//! does not tick) for a while at any moment, one trustee cut off (its clock ticks, but
//! what it sends and what is sent to it waits in the senders' retries until it is back),
//! every trustee ticking on its own. A trustee's question to its peers
//! (`Output::AskPeers`: after the pause, on a message that waited, and at the agreement
//! deadline) is answered 50 ms later with how the reachable others stand then.
//!
//! What must hold whatever the schedule (the install is "all or nothing, or visibly
//! not"; `docs/protocol.md`, "Split installs"):
//!
//! - no two trustees install different announcements;
//! - every trustee that took part ends: installed or aborted, never stranded;
//! - its log's last ceremony step says which (`Installed` or `Aborted`), so when some
//!   installed and others aborted the auditor's `SplitInstall` flag, which compares
//!   exactly these steps across logs, is raised.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use escrow_crypto::dkg::machine::{Ceremony, Output, PeerOutcome, Phase, Setup, Step};
use escrow_crypto::dkg::messages::{Plan, Proposal, SignedMessage};
use escrow_crypto::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const TIMEOUT: u32 = 1_000;
const TICK_MS: u64 = 50;
const TRUSTEES: usize = 4;
/// How long a sender retries a message (the trustee service's 30 s against its phase
/// timeouts of 1.5 s to 10 s: between 3 and 20 phases).
const RETRY_MS: u64 = 20 * TIMEOUT as u64;
/// A message that waited longer than this at its sender marks the receiver stalled
/// (the service's `STALL_MS`).
const WAITED_MS: u64 = 1_000;

fn name(i: usize) -> String {
    format!("trustee-{i}")
}

/// How the network and one trustee's process misbehave in one run.
#[derive(Clone, Debug)]
struct Schedule {
    seed: u64,
    /// Per mille of messages lost (after any retries).
    drop_per_mille: u32,
    /// Longest delay of a delivered message, ms.
    max_delay_ms: u64,
    /// One trustee paused from `start` for `len` ms (like `docker pause`: what is sent
    /// to it waits, and it neither ticks nor sends).
    pause: Option<(usize, u64, u64)>,
    /// One trustee cut off from `start` for `len` ms (like `docker network
    /// disconnect`): it ticks, but nothing reaches it or leaves it; what was sent to or
    /// by it meanwhile is retried and arrives when it is back, marked as having waited.
    cut: Option<(usize, u64, u64)>,
    /// Whether a message that waited marks its receiver stalled (`set_stalled`), as
    /// the service does; off, to show the split that marking prevents.
    mark_waited: bool,
    /// When the proposer's operator executes (at the earliest: once everyone accepted).
    execute_at: u64,
    /// The proposal's accept timeout (which also bounds the wait for the execute).
    accept_timeout_ms: u32,
}

fn schedules() -> impl Strategy<Value = Schedule> {
    let t = u64::from(TIMEOUT);
    (
        any::<u64>(),
        prop_oneof![Just(0u32), Just(10), Just(50), Just(200)],
        prop_oneof![Just(0u64), 0..t / 2, 0..2 * t],
        proptest::option::of((0..TRUSTEES, 0..6 * t, 0..3 * t)),
        proptest::option::of((0..TRUSTEES, 0..6 * t, 0..RETRY_MS)),
    )
        .prop_map(|(seed, drop_per_mille, max_delay_ms, pause, cut)| Schedule {
            seed,
            drop_per_mille,
            max_delay_ms,
            pause,
            cut,
            mark_waited: true,
            execute_at: 0,
            accept_timeout_ms: TIMEOUT,
        })
}

#[derive(Default)]
struct Node {
    ceremony: Option<Ceremony>,
    installed: Option<[u8; 32]>,
    /// What it installed, to answer a peer's question.
    signed: Option<SignedAnnouncement>,
    aborted: bool,
    log: Vec<Step>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Deliver {
        to: usize,
        msg: Vec<u8>,
        /// It waited at its sender longer than [`WAITED_MS`] (the receiver was cut off).
        waited: bool,
    },
    Tick {
        node: usize,
    },
    /// The answer to `node`'s `AskPeers`: how the others stand at that moment.
    Answer {
        node: usize,
    },
}

struct Sim {
    keys: Vec<TrusteeSigningKey>,
    pins: TrusteePins,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    rng: ChaCha20Rng,
    schedule: Schedule,
    executed: bool,
    /// The paused trustee has run again since its pause.
    woke: bool,
}

impl Sim {
    fn new(schedule: Schedule) -> Sim {
        let mut rng = ChaCha20Rng::seed_from_u64(schedule.seed);
        let keys: Vec<TrusteeSigningKey> =
            (0..TRUSTEES).map(|i| TrusteeSigningKey::generate(PartyId::new(name(i)).unwrap(), &mut rng)).collect();
        let pins = TrusteePins::new(keys.iter().map(TrusteeSigningKey::public).collect()).unwrap();
        Sim {
            keys,
            pins,
            nodes: (0..TRUSTEES).map(|_| Node::default()).collect(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            schedule,
            executed: false,
            woke: false,
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, ev)));
    }

    /// When `node` is cut off at `now`, when it is back.
    fn cut_until(&self, node: usize, now: u64) -> Option<u64> {
        let (who, start, len) = self.schedule.cut?;
        (who == node && now >= start && now < start + len).then_some(start + len)
    }

    /// When `node` is paused at `now`, when it resumes.
    fn paused_until(&self, node: usize, now: u64) -> Option<u64> {
        let (who, start, len) = self.schedule.pause?;
        (who == node && now >= start && now < start + len).then_some(start + len)
    }

    fn setup(&self, i: usize) -> Setup {
        Setup::new(self.keys[i].clone(), self.pins.clone(), None)
    }

    fn apply(&mut self, i: usize, now: u64, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Log(step) => self.nodes[i].log.push(step),
                Output::Broadcast(m) => {
                    for to in (0..TRUSTEES).filter(|to| *to != i) {
                        if self.rng.gen_range(0..1000) < self.schedule.drop_per_mille {
                            continue;
                        }
                        let delay = self.rng.gen_range(0..=self.schedule.max_delay_ms);
                        let mut at = now + delay;
                        // Sent while either end is cut off, or arriving then: retried,
                        // it arrives once the cut ends, if the retries last that long, in
                        // the order it was sent (the service retries each message on its
                        // own, so any order can happen; this one brings the others'
                        // aborts last).
                        let back = [i, to].iter().find_map(|n| self.cut_until(*n, now).or(self.cut_until(*n, at)));
                        if let Some(back) = back {
                            if back > now + RETRY_MS {
                                continue;
                            }
                            let start = self.schedule.cut.map_or(0, |(_, s, _)| s);
                            at = back + now.saturating_sub(start) / 100;
                        }
                        let waited = at.saturating_sub(now + delay) > WAITED_MS;
                        self.push(at, Ev::Deliver { to, msg: m.as_bytes().to_vec(), waited });
                    }
                }
                Output::Install(inst) => {
                    // Stored at once, as the trustee's shell stores it, then confirmed.
                    if let Some(c) = self.nodes[i].ceremony.as_mut() {
                        c.installed(now).unwrap();
                    }
                    self.nodes[i].installed = Some(inst.announcement.signed().hash());
                    self.nodes[i].signed = Some(inst.announcement.signed().clone());
                }
                Output::Abort(_) => self.nodes[i].aborted = true,
                Output::AskPeers => self.push(now + TICK_MS, Ev::Answer { node: i }),
            }
        }
        // The proposer's operator runs `execute` once everyone accepted.
        if i == 0 && !self.executed && now >= self.schedule.execute_at {
            if let Some(c) = self.nodes[0].ceremony.as_mut() {
                if c.phase() == Phase::Ready {
                    self.executed = true;
                    let out = c.execute(now, &mut self.rng).unwrap();
                    self.apply(0, now, out);
                }
            }
        }
    }

    fn run(mut self) -> Vec<Node> {
        let t = u64::from(TIMEOUT);
        let players: Vec<PartyId> = self.keys.iter().map(|k| k.trustee().clone()).collect();
        let proposal = Proposal {
            epoch: EpochId(3),
            threshold: 1,
            players: players.clone(),
            dealers: players,
            plan: Plan::Fresh,
            valid_from: 100,
            destroy_at: 1_000_000,
            accept_timeout_ms: self.schedule.accept_timeout_ms,
            phase_timeout_ms: TIMEOUT,
            modes: Modes::PER_MESSAGE,
        };
        let (c, out) = Ceremony::propose(self.setup(0), [3; 16], proposal, 0, &mut self.rng).unwrap();
        self.nodes[0].ceremony = Some(c);
        self.apply(0, 0, out);
        for i in 0..TRUSTEES {
            let first = self.rng.gen_range(0..TICK_MS);
            self.push(first, Ev::Tick { node: i });
        }
        // Past every deadline (accept, then four phases after the execute), every
        // delay and the pause.
        let pause = self.schedule.pause.map_or(0, |(_, s, l)| s + l);
        let cut = self.schedule.cut.map_or(0, |(_, s, l)| s + l);
        let horizon = pause.max(cut).max(self.schedule.execute_at) + 2 * self.schedule.max_delay_ms + 8 * t;
        while let Some(Reverse((now, _, ev))) = self.queue.pop() {
            if now > horizon {
                break;
            }
            let node = match &ev {
                Ev::Deliver { to, .. } => *to,
                Ev::Tick { node } | Ev::Answer { node } => *node,
            };
            if let Some(resume) = self.paused_until(node, now) {
                self.push(resume, ev);
                continue;
            }
            // The first thing the paused trustee does when it runs again: its shell sees
            // that its ticks stopped, and tells the machine.
            if let Some((who, start, len)) = self.schedule.pause {
                if who == node && now >= start + len && !self.woke {
                    self.woke = true;
                    if let Some(c) = self.nodes[node].ceremony.as_mut() {
                        c.set_stalled();
                    }
                }
            }
            match ev {
                Ev::Answer { node } => {
                    // Any reachable peer that installed answers with its announcement;
                    // else any that aborted; else nobody has ended (a cut-off asker hears
                    // from nobody).
                    let reachable: Vec<usize> = (0..TRUSTEES)
                        .filter(|p| {
                            *p != node && self.cut_until(*p, now).is_none() && self.cut_until(node, now).is_none()
                        })
                        .collect();
                    let installed = reachable
                        .iter()
                        .find_map(|p| self.nodes[*p].signed.clone().map(|s| (*p, PeerOutcome::Installed(s))));
                    let aborted = reachable
                        .iter()
                        .copied()
                        .filter(|p| self.nodes[*p].aborted)
                        .map(|p| (p, PeerOutcome::Aborted { reason: "aborted".into() }))
                        .next();
                    let Some(c) = self.nodes[node].ceremony.as_mut() else { continue };
                    let out = match installed.or(aborted) {
                        Some((p, o)) => c.learn(&PartyId::new(name(p)).unwrap(), &o, now).unwrap(),
                        None => c.peers_undecided(now, &mut self.rng),
                    };
                    self.apply(node, now, out);
                }
                Ev::Tick { node } => {
                    self.push(now + TICK_MS, Ev::Tick { node });
                    let Some(c) = self.nodes[node].ceremony.as_mut() else { continue };
                    let out = c.tick(now, &mut self.rng);
                    self.apply(node, now, out);
                }
                Ev::Deliver { to, msg, waited } => {
                    let msg = SignedMessage::from_bytes(&msg).unwrap();
                    let mark = waited && self.schedule.mark_waited;
                    let out = match self.nodes[to].ceremony.as_mut() {
                        Some(c) => {
                            if mark {
                                c.set_stalled();
                            }
                            c.receive(&msg, now, &mut self.rng).unwrap()
                        }
                        None => match Ceremony::join(self.setup(to), &msg, true, now, &mut self.rng) {
                            Ok((mut c, out)) => {
                                if mark {
                                    c.set_stalled();
                                }
                                self.nodes[to].ceremony = Some(c);
                                out
                            }
                            // Not the proposal, which has not arrived (or was lost): the
                            // service answers NOT_FOUND, and the sender tries again.
                            Err(_) => {
                                self.push(now + TICK_MS, Ev::Deliver { to, msg: msg.as_bytes().to_vec(), waited });
                                continue;
                            }
                        },
                    };
                    self.apply(to, now, out);
                }
            }
        }
        self.nodes
    }
}

fn check(schedule: Schedule) -> Result<(), TestCaseError> {
    let nodes = Sim::new(schedule).run();
    let installed: Vec<[u8; 32]> = nodes.iter().filter_map(|n| n.installed).collect();
    prop_assert!(installed.windows(2).all(|w| w[0] == w[1]), "two announcements installed: {installed:?}");
    for (i, n) in nodes.iter().enumerate() {
        let Some(c) = &n.ceremony else { continue };
        prop_assert!(c.is_final(), "{} stranded in {:?}", name(i), c.phase());
        prop_assert!(n.installed.is_some() != n.aborted, "{} both or neither", name(i));
        let last = n.log.iter().rev().find(|s| matches!(s, Step::Installed { .. } | Step::Aborted { .. }));
        match (n.installed, last) {
            (Some(a), Some(Step::Installed { announcement })) => prop_assert_eq!(&a, announcement),
            (None, Some(Step::Aborted { .. })) => {}
            other => prop_assert!(false, "{}'s log does not say how it ended: {:?}", name(i), other.1),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn under_any_schedule_nobody_installs_another_key_and_every_participant_ends_and_logs_how(s in schedules()) {
        check(s)?;
    }
}

/// Such schedules reach both outcomes (so the property is not met by aborting
/// everything), and with the asking none of them splits: counted over fixed seeds.
#[test]
fn paused_trustees_reach_installs_and_aborts_and_never_a_split() {
    let t = u64::from(TIMEOUT);
    let (mut all, mut none, mut split) = (0, 0, 0);
    for seed in 0..40u64 {
        // trustee-3 paused past every deadline, from a moment swept across the run:
        // before it signs (nobody installs), between its signature going out and the
        // others' coming in (the others install, it aborts on waking: a split), after.
        let s = Schedule {
            seed,
            drop_per_mille: 0,
            max_delay_ms: t / 4,
            pause: Some((3, seed * 50, 6 * t)),
            cut: None,
            mark_waited: true,
            execute_at: 0,
            accept_timeout_ms: TIMEOUT,
        };
        check(s.clone()).unwrap();
        let nodes = Sim::new(s).run();
        match nodes.iter().filter(|n| n.installed.is_some()).count() {
            0 => none += 1,
            n if n == TRUSTEES => all += 1,
            _ => {
                split += 1;
                let who: Vec<String> = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        format!("{}:{}", name(i), if n.installed.is_some() { "installed" } else { "aborted" })
                    })
                    .collect();
                eprintln!("split at seed {seed}: {}", who.join(" "));
            }
        }
    }
    // Both outcomes are reached, and no split: the paused trustee asks its peers
    // before it installs on what waited for it, and everyone asks at the agreement
    // deadline before aborting. (Without the asking, some split: trustee-3, paused after
    // it signed, woke past its deadline and aborted while the others installed.
    // A split whose asker is cut off from the answers stays possible:
    // `an_agreement_sent_to_only_some_trustees_splits_them...` in dkg.rs.)
    assert!(all > 0 && none > 0 && split == 0, "all {all}, none {none}, split {split}");
    eprintln!("40 paused runs: all installed {all}, none {none}, split {split}");
}

/// How runs with `cut_off` cut off ended: (all installed, none installed, `cut_off`
/// installed while another aborted, another installed while `cut_off` aborted).
fn outcomes(cut_off: usize, runs: impl Iterator<Item = Schedule>) -> (u32, u32, u32, u32) {
    let (mut all, mut none, mut alone, mut without) = (0, 0, 0, 0);
    for s in runs {
        let nodes = Sim::new(s).run();
        let installed = nodes.iter().filter(|n| n.installed.is_some()).count();
        match (installed, nodes[cut_off].installed.is_some()) {
            (0, _) => none += 1,
            (n, _) if n == TRUSTEES => all += 1,
            (_, true) => alone += 1,
            (_, false) => without += 1,
        }
    }
    (all, none, alone, without)
}

/// A trustee cut off the network (not paused: its clock runs) and back while its peers
/// still retry: what waited for it arrives at once, the execute, every dealing and
/// every agreement, and it could complete the ceremony on its own late schedule after
/// the others gave up, installing where they aborted (the cluster test saw this with
/// `docker network disconnect`). A message that waited at its sender marks the
/// receiver stalled, so it asks before it installs, and learns of the aborts. Swept
/// over the moment of the cut (from before the execute to after the signatures) and
/// its length (back within the retries), with and without the marking.
///
/// The other split stays possible, as `docs/protocol.md` says: cut off after its
/// peers had its signature but before it had theirs, the trustee cannot learn at its
/// deadline that they installed, and aborts (its log says so, and the auditor flags it).
#[test]
fn a_trustee_cut_off_and_back_within_the_retries_never_installs_where_the_others_aborted() {
    let t = u64::from(TIMEOUT);
    let sweep = |mark_waited: bool| {
        (0..60u64).map(move |seed| Schedule {
            seed,
            drop_per_mille: 0,
            max_delay_ms: t / 4,
            pause: None,
            // Everyone accepted well before the execute at 2 s; the cut starts from
            // 0.5 s before it to 2.25 s after (the signatures), and lasts 4.5 to 8.5 s.
            cut: Some((3, 3 * t / 2 + (seed % 12) * t / 4, (4 + seed / 12) * t + t / 2)),
            mark_waited,
            execute_at: 2 * t,
            accept_timeout_ms: 30 * TIMEOUT,
        })
    };
    for s in sweep(true) {
        check(s).unwrap();
    }
    let (all, none, alone, without) = outcomes(3, sweep(true));
    eprintln!(
        "60 cut-off runs: all installed {all}, none {none}, trustee-3 alone {alone}, all but trustee-3 {without}"
    );
    assert!(all > 0 && none > 0 && alone == 0, "all {all}, none {none}, trustee-3 installed alone {alone}");
    // The sweep reaches the window: without the marking, trustee-3 installs where the
    // others aborted in some of the same runs.
    let (_, _, unmarked, _) = outcomes(3, sweep(false));
    eprintln!("the same 60 runs unmarked: trustee-3 installed where the others aborted in {unmarked}");
    assert!(unmarked > 0, "the sweep never reached the window the marking closes");
}
