//! The key ceremony's state machine on a simulated network: every trustee a
//! `Ceremony`, messages carried by a queue the tests can drop, delay or tamper with,
//! time moved by hand. What must hold: an honest run installs one key set everywhere
//! that exactly t+1 shares open; a cheating dealer is justified or disqualified the
//! same way at every honest trustee (and one that then signs its own view is caught by
//! the agreement round); a missing agreement or a dead trustee aborts with nothing
//! installed; resharing keeps the public key and retires the old shares.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};

use escrow_crypto::dkg::machine::{
    transition, AbortReason, Ceremony, Disqualification, Event, Installation, Output, PeerOutcome, Phase, Setup, Step,
    TRANSITIONS,
};
use escrow_crypto::dkg::math::{encrypt_share, CeremonyKey, Dealing};
use escrow_crypto::dkg::messages::{Body, Grievance, Plan, Proposal, SignedMessage};
use escrow_crypto::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const TIMEOUT: u32 = 1_000;

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

fn name(i: usize) -> String {
    format!("trustee-{i}")
}

/// What the network does with a message from `from` to `to`: deliver it (maybe
/// changed) or drop it.
type Filter = Box<dyn FnMut(&str, &str, &SignedMessage) -> Option<SignedMessage>>;

#[derive(Default)]
struct Node {
    ceremony: Option<Ceremony>,
    installed: Option<Installation>,
    aborted: Option<AbortReason>,
    log: Vec<Step>,
    /// Not running (killed): receives and sends nothing.
    dead: bool,
}

struct Net {
    keys: BTreeMap<String, TrusteeSigningKey>,
    pins: TrusteePins,
    nodes: BTreeMap<String, Node>,
    old_shares: BTreeMap<String, TrusteeKeyShare>,
    queue: VecDeque<(String, String, SignedMessage)>,
    now: u64,
    rng: ChaCha20Rng,
    filter: Filter,
    /// Trustees whose machine asked its peers (`Output::AskPeers`), to answer.
    asks: Vec<String>,
    /// Whether the peers answer such a question (false: the asker is cut off).
    peers_answer: bool,
    /// Trustees whose store fails as they install: their shell reports it
    /// (`Ceremony::install_failed`) instead of confirming the install.
    fail_install: Vec<String>,
}

impl Net {
    fn new(seed: u64, trustees: usize) -> Net {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let keys: BTreeMap<String, TrusteeSigningKey> =
            (0..trustees).map(|i| (name(i), TrusteeSigningKey::generate(id(&name(i)), &mut rng))).collect();
        let pins = TrusteePins::new(keys.values().map(TrusteeSigningKey::public).collect()).unwrap();
        let nodes = keys.keys().map(|k| (k.clone(), Node::default())).collect();
        Net {
            keys,
            pins,
            nodes,
            old_shares: BTreeMap::new(),
            queue: VecDeque::new(),
            now: 0,
            rng,
            filter: Box::new(|_, _, m| Some(m.clone())),
            asks: Vec::new(),
            peers_answer: true,
            fail_install: Vec::new(),
        }
    }

    fn setup(&self, who: &str) -> Setup {
        let old_share = self.old_shares.get(who).map(|s| TrusteeKeyShare::from_bytes(&s.to_bytes()).unwrap());
        Setup {
            key: self.keys[who].clone(),
            pins: self.pins.clone(),
            old_share,
            #[cfg(feature = "dangerous")]
            withhold_agreement: false,
        }
    }

    fn fresh(&self, n: usize, t: u16) -> Proposal {
        let players: Vec<PartyId> = (0..n).map(|i| id(&name(i))).collect();
        Proposal {
            epoch: EpochId(2),
            threshold: t,
            players: players.clone(),
            dealers: players,
            plan: Plan::Fresh,
            valid_from: 100,
            destroy_at: 1_000_000,
            accept_timeout_ms: TIMEOUT,
            phase_timeout_ms: TIMEOUT,
            modes: Modes::PER_MESSAGE,
        }
    }

    fn apply(&mut self, who: &str, outputs: Vec<Output>) {
        let participants: Vec<String> = self.nodes[who]
            .ceremony
            .as_ref()
            .map(|c| c.participants().iter().map(|p| p.to_string()).collect())
            .unwrap_or_default();
        // What a failed install makes the machine say, carried out after the rest.
        let mut failed = Vec::new();
        for o in outputs {
            let node = self.nodes.get_mut(who).unwrap();
            match o {
                Output::Log(step) => node.log.push(step),
                Output::Broadcast(m) => {
                    if node.dead {
                        continue;
                    }
                    for p in &participants {
                        if p != who {
                            self.queue.push_back((who.to_string(), p.clone(), m.clone()));
                        }
                    }
                }
                Output::Install(i) => {
                    let machine = node.ceremony.as_mut().unwrap();
                    if self.fail_install.iter().any(|f| f == who) {
                        failed.extend(machine.install_failed("disk full", self.now).unwrap());
                    } else {
                        // Stored at once, as the trustee's shell stores it, then confirmed.
                        machine.installed(self.now).unwrap();
                        node.installed = Some(*i);
                    }
                }
                Output::Abort(r) => node.aborted = Some(r),
                Output::AskPeers => self.asks.push(who.to_string()),
            }
        }
        if !failed.is_empty() {
            self.apply(who, failed);
        }
    }

    fn propose(&mut self, who: &str, ceremony: [u8; 16], proposal: Proposal) {
        let (c, out) = Ceremony::propose(self.setup(who), ceremony, proposal, self.now, &mut self.rng).unwrap();
        let participants: Vec<String> = c.participants().iter().map(|p| p.to_string()).collect();
        let node = self.nodes.get_mut(who).unwrap();
        node.ceremony = Some(c);
        self.apply(who, out);
        // Anyone who takes part but is not a node of this net is a config error.
        assert!(participants.iter().all(|p| self.nodes.contains_key(p)));
    }

    /// Delivers everything queued (and what that causes) until the queue is empty.
    fn deliver(&mut self) {
        let mut guard = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            guard += 1;
            assert!(guard < 100_000, "message storm");
            let Some(msg) = (self.filter)(&from, &to, &msg) else { continue };
            if self.nodes[&to].dead {
                continue;
            }
            let out = match self.nodes.get_mut(&to).unwrap().ceremony.as_mut() {
                Some(c) => match c.receive(&msg, self.now, &mut self.rng) {
                    Ok(out) => out,
                    Err(e) => panic!("{to} refused a message from {from}: {e}"),
                },
                None => {
                    let setup = self.setup(&to);
                    match Ceremony::join(setup, &msg, true, self.now, &mut self.rng) {
                        Ok((c, out)) => {
                            self.nodes.get_mut(&to).unwrap().ceremony = Some(c);
                            out
                        }
                        // A message for a ceremony this node never saw proposed (it was
                        // dead then): dropped, as a service would.
                        Err(_) => continue,
                    }
                }
            };
            self.apply(&to, out);
        }
    }

    fn execute(&mut self, who: &str) {
        let c = self.nodes.get_mut(who).unwrap().ceremony.as_mut().unwrap();
        let out = c.execute(self.now, &mut self.rng).unwrap();
        self.apply(who, out);
    }

    /// Answers every question a machine asked its peers: a peer that installed (with
    /// its announcement), else one that aborted, else nobody has ended it.
    fn answer_asks(&mut self) {
        for who in std::mem::take(&mut self.asks) {
            let mut outcome = None;
            if self.peers_answer {
                for (name, node) in self.nodes.iter().filter(|(n, node)| *n != &who && !node.dead) {
                    if let Some(i) = &node.installed {
                        outcome = Some((name.clone(), PeerOutcome::Installed(i.announcement.signed().clone())));
                        break;
                    }
                    if let (None, Some(r)) = (&outcome, &node.aborted) {
                        outcome = Some((name.clone(), PeerOutcome::Aborted { reason: r.to_string() }));
                    }
                }
            }
            let now = self.now;
            let Some(c) = self.nodes.get_mut(&who).unwrap().ceremony.as_mut() else { continue };
            let out = match outcome {
                Some((from, o)) => c.learn(&id(&from), &o, now).unwrap(),
                None => c.peers_undecided(now, &mut self.rng),
            };
            self.apply(&who, out);
        }
    }

    /// Runs to the end: deliver, and when nothing moves, let a phase's time run out.
    fn run(&mut self) {
        for _ in 0..30 {
            self.deliver();
            while !self.asks.is_empty() {
                self.answer_asks();
                self.deliver();
            }
            if self.nodes.values().all(|n| n.dead || n.ceremony.as_ref().is_none_or(Ceremony::is_final)) {
                return;
            }
            self.now += u64::from(TIMEOUT) + 1;
            let names: Vec<String> = self.nodes.keys().cloned().collect();
            for who in names {
                if self.nodes[&who].dead {
                    continue;
                }
                let Some(c) = self.nodes.get_mut(&who).unwrap().ceremony.as_mut() else { continue };
                let out = c.tick(self.now, &mut self.rng);
                self.apply(&who, out);
            }
        }
        panic!("the ceremony did not end");
    }

    fn installed(&self, who: &str) -> &Installation {
        self.nodes[who]
            .installed
            .as_ref()
            .unwrap_or_else(|| panic!("{who} installed nothing: {:?}", self.nodes[who].aborted))
    }

    /// After a ceremony among trustees `0..n`: each one's new share becomes its old
    /// share (for a reshare it deals in, or for a thief), and every node starts afresh.
    fn retire(&mut self, n: usize) {
        for i in 0..n {
            let s = self.nodes.get_mut(&name(i)).unwrap().installed.take().unwrap().share.unwrap();
            self.old_shares.insert(name(i), s);
        }
        for node in self.nodes.values_mut() {
            *node = Node::default();
        }
    }

    /// A full honest fresh ceremony among trustees `0..n` proposed by trustee-0.
    fn fresh_run(&mut self, n: usize, t: u16, ceremony: u8) {
        let p = self.fresh(n, t);
        self.propose(&name(0), [ceremony; 16], p);
        self.deliver();
        self.execute(&name(0));
        self.run();
    }
}

/// A message sealed to `key` (alice to bob), its field and label for the trustees.
fn sealed(key: &EpochPublicKey, seed: u64) -> Envelope {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    let alice = UserSecretKey::generate(id("alice"), &mut r);
    let bob = UserSecretKey::generate(id("bob"), &mut r);
    Envelope::seal(
        &SealRequest {
            sender: &alice,
            recipients: &[bob.public()],
            epoch_key: key,
            message_id: [seed as u8; 16],
            timestamp: 1_767_225_600,
            plaintext: b"sealed to the ceremony's key",
        },
        &mut r,
    )
    .unwrap()
}

fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..(1 << n))
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

fn opens(key: &EpochPublicKey, shares: &[&TrusteeKeyShare], env: &Envelope) -> bool {
    let ds: Vec<DecryptionShare> =
        shares.iter().map(|s| s.decrypt_share(key, env.field(), env.label()).unwrap()).collect();
    key.combine(env.field(), env.label(), &ds).is_ok()
}

#[test]
fn every_move_of_the_phase_table_and_no_other() {
    use Event as E;
    use Phase as P;
    let phases = [
        P::Proposed,
        P::Accepting,
        P::Ready,
        P::Dealing,
        P::Complaining,
        P::Justifying,
        P::Agreeing,
        P::Installed,
        P::Aborted,
    ];
    let events = [
        E::Accept,
        E::AllAccepted,
        E::Execute,
        E::DealsClosed,
        E::NothingToJustify,
        E::ComplaintsClosed,
        E::JustificationsClosed,
        E::AllAgreed,
        E::Abort,
    ];
    let allowed = [
        (P::Proposed, E::Accept, P::Accepting),
        (P::Accepting, E::AllAccepted, P::Ready),
        (P::Ready, E::Execute, P::Dealing),
        (P::Dealing, E::DealsClosed, P::Complaining),
        (P::Complaining, E::NothingToJustify, P::Agreeing),
        (P::Complaining, E::ComplaintsClosed, P::Justifying),
        (P::Justifying, E::JustificationsClosed, P::Agreeing),
        (P::Agreeing, E::AllAgreed, P::Installed),
    ];
    for p in phases {
        for e in events {
            let want = allowed
                .iter()
                .find(|(a, b, _)| *a == p && *b == e)
                .map(|(_, _, c)| *c)
                .or_else(|| (e == E::Abort && !matches!(p, P::Installed | P::Aborted)).then_some(P::Aborted));
            assert_eq!(transition(p, e), want, "{p:?} --{e:?}-->");
        }
    }
    assert_eq!(TRANSITIONS.len(), allowed.len() + 7);
}

#[test]
fn an_honest_ceremony_installs_one_key_that_exactly_t_plus_one_shares_open() {
    let mut net = Net::new(1, 5);
    net.fresh_run(5, 2, 1);
    let first = net.installed(&name(0));
    let key = first.key_set().clone();
    assert_eq!((key.epoch(), key.n(), key.threshold()), (EpochId(2), 5, 2));
    let shares: Vec<&TrusteeKeyShare> = (0..5)
        .map(|i| {
            let inst = net.installed(&name(i));
            assert_eq!(inst.key_set(), &key, "{} holds another key set", name(i));
            assert_eq!(inst.announcement, first.announcement, "{} holds another announcement", name(i));
            let s = inst.share.as_ref().unwrap();
            assert_eq!(s.index(), TrusteeIndex(i as u16));
            s
        })
        .collect();
    // The announcement is believed under the pins, and names every holder.
    let v = SignedAnnouncement::from_bytes(&first.announcement.signed().to_bytes()).unwrap().verify(&net.pins).unwrap();
    assert_eq!(v.key_set(), &key);
    assert_eq!(v.announcement().holders.len(), 5);
    let env = sealed(&key, 7);
    for s in subsets(5, 3) {
        assert!(opens(&key, &s.iter().map(|&i| shares[i]).collect::<Vec<_>>(), &env), "{s:?}");
    }
    for s in subsets(5, 2) {
        assert!(!opens(&key, &s.iter().map(|&i| shares[i]).collect::<Vec<_>>(), &env), "{s:?} opened");
    }
    // Every step was logged, in order, ending with the installation.
    let log = &net.nodes[&name(3)].log;
    assert!(matches!(log.first(), Some(Step::Proposed { .. })));
    assert_eq!(log.iter().filter(|s| matches!(s, Step::Dealt { .. })).count(), 5);
    assert_eq!(log.iter().filter(|s| matches!(s, Step::Agreed { .. })).count(), 5);
    assert!(matches!(log.last(), Some(Step::Installed { .. })));
    assert!(!log.iter().any(|s| matches!(s, Step::Disqualified { .. } | Step::Complained { .. })));
}

/// A dealer (trustee-1) sends trustee-3 a share that does not decrypt; the others get
/// honest ones under the same commitment.
fn cheat_on_trustee_3(net: &mut Net, drop_justification: bool) {
    let key1 = net.keys[&name(1)].clone();
    let mut r = ChaCha20Rng::seed_from_u64(99);
    net.filter = Box::new(move |from, to, m| {
        let (ceremony, _) = m.peek().unwrap();
        let body = m.verify(&TrusteePins::new(vec![key1.public()]).unwrap()).ok().map(|x| x.body);
        match body {
            Some(Body::Deal { proposal, commitment, mut shares }) if from == "trustee-1" && to == "trustee-3" => {
                let junk = Dealing::fresh(2, &mut r).unwrap().share_for(TrusteeIndex(3));
                shares[3] = encrypt_share(&CeremonyKey::generate(&mut r).public(), b"junk", &junk, &mut r);
                Some(SignedMessage::sign(&key1, &ceremony, &Body::Deal { proposal, commitment, shares }).unwrap())
            }
            Some(Body::Justification { .. }) if drop_justification => None,
            _ => Some(m.clone()),
        }
    });
}

#[test]
fn a_cheating_dealer_that_reveals_the_share_is_kept_everywhere_alike() {
    let mut net = Net::new(2, 5);
    cheat_on_trustee_3(&mut net, false);
    net.fresh_run(5, 2, 2);
    let first = net.installed(&name(0)).announcement.clone();
    for i in 0..5 {
        assert_eq!(net.installed(&name(i)).announcement, first, "{}", name(i));
        let log = &net.nodes[&name(i)].log;
        assert!(
            log.contains(&Step::Complained {
                by: id("trustee-3"),
                against: id("trustee-1"),
                grievance: Grievance::BadShare
            }),
            "{}: {log:?}",
            name(i)
        );
        assert!(log.contains(&Step::Justified { dealer: id("trustee-1"), player: id("trustee-3") }));
        assert!(!log.iter().any(|s| matches!(s, Step::Disqualified { .. })));
    }
    // trustee-3's share, built from the revealed one, works with the others.
    let key = net.installed(&name(0)).key_set().clone();
    let env = sealed(&key, 8);
    let s = |i: usize| net.installed(&name(i)).share.as_ref().unwrap();
    assert!(opens(&key, &[s(3), s(0), s(4)], &env));
}

/// The announcement hash `who` signed itself.
fn own_agreement(net: &Net, who: &str) -> [u8; 32] {
    net.nodes[who]
        .log
        .iter()
        .find_map(|s| match s {
            Step::Agreed { by, announcement } if by.as_str() == who => Some(*announcement),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{who} signed nothing"))
}

#[test]
fn a_cheating_dealer_that_does_not_answer_is_disqualified_everywhere_alike() {
    let mut net = Net::new(3, 5);
    // trustee-1's answer never leaves it: to everyone else it did not answer.
    cheat_on_trustee_3(&mut net, true);
    net.fresh_run(5, 2, 3);
    let honest = [0, 2, 3, 4];
    let view = own_agreement(&net, &name(0));
    for i in honest {
        let log = &net.nodes[&name(i)].log;
        assert!(
            log.contains(&Step::Disqualified { dealer: id("trustee-1"), why: Disqualification::Unanswered }),
            "{}: {log:?}",
            name(i)
        );
        assert_eq!(own_agreement(&net, &name(i)), view, "{} concluded differently", name(i));
    }
    // The cheater counts its own answer, so it signs another announcement; the
    // agreement round catches it, and nobody installs anything.
    assert_ne!(own_agreement(&net, &name(1)), view);
    for i in 0..5 {
        assert!(net.nodes[&name(i)].installed.is_none(), "{} installed", name(i));
        assert!(net.nodes[&name(i)].aborted.is_some(), "{} did not abort", name(i));
    }
    assert!(honest.iter().any(|&i| matches!(
        &net.nodes[&name(i)].aborted,
        Some(AbortReason::Disagreement { by }) if by.as_str() == "trustee-1"
    )));
}

#[test]
fn a_dealer_that_deals_to_nobody_is_disqualified_and_the_rest_install() {
    let mut net = Net::new(30, 5);
    // trustee-2's dealing is lost on the way to everyone; it stays in the ceremony.
    net.filter = Box::new(|from, _, m| (!(from == "trustee-2" && m.as_bytes().get(3) == Some(&5))).then(|| m.clone()));
    net.fresh_run(5, 2, 30);
    // trustee-2 has its own dealing but every player complained that it is missing:
    // every trustee, trustee-2 included, disqualifies it, and all install alike.
    let first = net.installed(&name(0)).announcement.clone();
    for i in 0..5 {
        assert_eq!(net.installed(&name(i)).announcement, first, "{}", name(i));
        assert!(net.nodes[&name(i)]
            .log
            .contains(&Step::Disqualified { dealer: id("trustee-2"), why: Disqualification::Missing }));
    }
}

#[test]
fn a_trustee_whose_agreement_never_arrives_aborts_the_ceremony_with_nothing_installed() {
    let mut net = Net::new(4, 5);
    // trustee-4 is cut off during the agreement round: its signature reaches nobody and
    // nobody's reaches it.
    net.filter = Box::new(|from, to, m| {
        let agreement = m.as_bytes().get(3) == Some(&8);
        (!(agreement && (from == "trustee-4" || to == "trustee-4"))).then(|| m.clone())
    });
    net.fresh_run(5, 2, 4);
    for i in 0..5 {
        let node = &net.nodes[&name(i)];
        assert!(node.installed.is_none(), "{} installed", name(i));
        assert!(node.aborted.is_some(), "{} did not abort", name(i));
        assert!(matches!(node.log.last(), Some(Step::Aborted { .. })));
    }
    match &net.nodes[&name(0)].aborted {
        Some(AbortReason::TimedOut { phase: Phase::Agreeing, missing }) => assert_eq!(missing, &vec![id("trustee-4")]),
        Some(AbortReason::AbortedBy { .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// The limit the threat model states (§3.11): each trustee decides alone, so a
/// participant that sends its agreement to only some trustees splits the honest ones.
/// Nothing prevents it; the logs show it.
#[test]
fn an_agreement_sent_to_only_some_trustees_splits_them_and_each_log_says_which_way() {
    let mut net = Net::new(6, 5);
    // Cut off from their peers' answers too: asking at the deadline learns nothing.
    net.peers_answer = false;
    net.filter = Box::new(|from, to, m| {
        let agreement = m.as_bytes().get(3) == Some(&8);
        (!(agreement && from == "trustee-4" && (to == "trustee-2" || to == "trustee-3"))).then(|| m.clone())
    });
    net.fresh_run(5, 2, 6);
    let key = net.installed("trustee-0").key_set().public_key_bytes();
    for who in ["trustee-0", "trustee-1", "trustee-4"] {
        assert_eq!(net.installed(who).key_set().public_key_bytes(), key);
        assert!(matches!(net.nodes[who].log.last(), Some(Step::Installed { .. })), "{who}");
    }
    for who in ["trustee-2", "trustee-3"] {
        let node = &net.nodes[who];
        assert!(node.installed.is_none(), "{who} installed");
        assert!(
            matches!(&node.aborted, Some(AbortReason::TimedOut { phase: Phase::Agreeing, missing }) if missing == &vec![id("trustee-4")]),
            "{who}: {:?}",
            node.aborted
        );
        assert!(matches!(node.log.last(), Some(Step::Aborted { .. })), "{who}");
    }
}

#[test]
fn a_trustee_killed_mid_ceremony_aborts_it_and_a_rerun_succeeds() {
    let mut net = Net::new(5, 5);
    let p = net.fresh(5, 2);
    net.propose(&name(0), [5; 16], p.clone());
    net.deliver();
    net.execute(&name(0));
    // trustee-2 dies right after executing starts: nothing more goes in or out.
    net.nodes.get_mut(&name(2)).unwrap().dead = true;
    net.run();
    for i in [0, 1, 3, 4] {
        assert!(net.nodes[&name(i)].installed.is_none());
        assert!(net.nodes[&name(i)].aborted.is_some(), "{}", name(i));
    }
    // Restarted (no ceremony state survives a restart), a new ceremony succeeds.
    for n in net.nodes.values_mut() {
        *n = Node::default();
    }
    net.fresh_run(5, 2, 6);
    let a = &net.installed(&name(0)).announcement;
    assert!((1..5).all(|i| &net.installed(&name(i)).announcement == a));
}

/// A trustee whose store fails as it installs ends the ceremony there for its own
/// reason (a local failure, not an operator's abort), tells the others, and never
/// counts as installed: its machine holds the one record of how it ended.
#[test]
fn a_trustee_that_cannot_store_the_key_set_aborts_for_a_local_failure() {
    let mut net = Net::new(11, 5);
    net.fail_install.push(name(2));
    net.fresh_run(5, 2, 7);
    let node = &net.nodes[&name(2)];
    assert!(node.installed.is_none());
    let machine = node.ceremony.as_ref().unwrap();
    assert_eq!(machine.phase(), Phase::Aborted);
    assert!(
        matches!(machine.abort_reason(), Some(AbortReason::LocalFailure(why)) if why == "disk full"),
        "{:?}",
        machine.abort_reason()
    );
    assert!(matches!(node.aborted, Some(AbortReason::LocalFailure(_))), "{:?}", node.aborted);
    assert!(
        matches!(node.log.last(), Some(Step::Aborted { reason: AbortReason::LocalFailure(_) })),
        "{:?}",
        node.log.last()
    );
    // The others had every agreement and stored the key set: the split the logs show.
    for i in [0, 1, 3, 4] {
        net.installed(&name(i));
        assert!(net.nodes[&name(i)].ceremony.as_ref().unwrap().abort_reason().is_none(), "trustee-{i}");
    }
    // Ended: it cannot be told it installed after all.
    let machine = net.nodes.get_mut(&name(2)).unwrap().ceremony.as_mut().unwrap();
    assert!(machine.installed(0).is_err());
    assert!(machine.fail_locally("again", 0).is_err());
}

#[test]
fn a_rejection_or_an_operator_abort_ends_the_ceremony_everywhere() {
    let mut net = Net::new(6, 3);
    let p = net.fresh(3, 1);
    let (c, out) = Ceremony::propose(net.setup(&name(0)), [7; 16], p, 0, &mut net.rng).unwrap();
    net.nodes.get_mut(&name(0)).unwrap().ceremony = Some(c);
    net.apply(&name(0), out);
    // trustee-1 joins without auto-accept, and its operator rejects.
    let (_, _, msg) = net.queue.iter().find(|(_, to, _)| to == "trustee-1").cloned().unwrap();
    net.queue.retain(|(_, to, _)| to != "trustee-1");
    let (mut c1, out) = Ceremony::join(net.setup(&name(1)), &msg, false, 0, &mut net.rng).unwrap();
    assert_eq!(c1.phase(), Phase::Proposed);
    assert!(c1.execute(0, &mut net.rng).is_err(), "only the proposer executes");
    let more = c1.reject("not this quarter", 0).unwrap();
    net.nodes.get_mut(&name(1)).unwrap().ceremony = Some(c1);
    net.apply(&name(1), out);
    net.apply(&name(1), more);
    net.run();
    for i in 0..3 {
        let r = net.nodes[&name(i)].aborted.clone();
        assert!(
            matches!(&r, Some(AbortReason::Rejected { by, reason }) if by.as_str() == "trustee-1" && reason == "not this quarter"),
            "{}: {r:?}",
            name(i)
        );
    }
}

#[test]
fn bad_messages_are_refused_and_change_nothing() {
    let mut net = Net::new(7, 3);
    let p = net.fresh(3, 1);
    net.propose(&name(0), [8; 16], p);
    net.deliver();
    let mut r = ChaCha20Rng::seed_from_u64(1);
    let stranger = TrusteeSigningKey::generate(id("trustee-9"), &mut r);
    let impostor = TrusteeSigningKey::generate(id("trustee-2"), &mut r);
    let trustee2 = net.keys[&name(2)].clone();
    let c = net.nodes.get_mut(&name(1)).unwrap().ceremony.as_mut().unwrap();
    let (phase, proposal, ceremony) = (c.phase(), *c.proposal_hash(), *c.id());
    assert_eq!(phase, Phase::Ready);
    let bad = [
        // Another ceremony's id.
        SignedMessage::sign(&trustee2, &[9; 16], &Body::Abort { proposal, reason: "x".into() }).unwrap(),
        // Another proposal's hash.
        SignedMessage::sign(&trustee2, &ceremony, &Body::Abort { proposal: [1; 32], reason: "x".into() }).unwrap(),
        // A stranger (no pinned key).
        SignedMessage::sign(&stranger, &ceremony, &Body::Abort { proposal, reason: "x".into() }).unwrap(),
        // Another key under trustee-2's name.
        SignedMessage::sign(&impostor, &ceremony, &Body::Abort { proposal, reason: "x".into() }).unwrap(),
        // An execute from a participant who did not propose.
        SignedMessage::sign(&trustee2, &ceremony, &Body::Execute { proposal }).unwrap(),
        // A complaint naming a dealer that does not exist.
        SignedMessage::sign(
            &trustee2,
            &ceremony,
            &Body::Complaints { proposal, against: vec![(7, Grievance::Missing)] },
        )
        .unwrap(),
    ];
    for (k, m) in bad.iter().enumerate() {
        assert!(c.receive(m, 0, &mut r).is_err(), "bad message {k} was taken");
        assert_eq!(c.phase(), phase, "bad message {k} moved the ceremony");
    }
    // Garbage bytes do not verify.
    assert!(SignedMessage::from_bytes(&[1, 0, 0x13, 5]).unwrap().verify(&net.pins).is_err());
    assert!(SignedMessage::from_bytes(&vec![0; 70_000]).is_err(), "oversize");
}

fn reshare_proposal(from: &EpochPublicKey, dealers: &[usize], players: usize, t: u16) -> Proposal {
    Proposal {
        epoch: EpochId(2),
        threshold: t,
        players: (0..players).map(|i| id(&name(i))).collect(),
        dealers: dealers.iter().map(|&i| id(&name(i))).collect(),
        plan: Plan::Reshare {
            previous: from.clone(),
            generation: 0,
            holders: (0..usize::from(from.n())).map(|i| id(&name(i))).collect(),
        },
        valid_from: 100,
        destroy_at: 1_000_000,
        accept_timeout_ms: TIMEOUT,
        phase_timeout_ms: TIMEOUT,
        modes: Modes::PER_MESSAGE,
    }
}

#[test]
fn resharing_five_with_t2_to_seven_with_t3_keeps_the_public_key_and_retires_old_shares() {
    let mut net = Net::new(8, 7);
    // A 5-trustee key first (trustees 0..5).
    let p = net.fresh(5, 2);
    net.propose(&name(0), [10; 16], p);
    net.deliver();
    net.execute(&name(0));
    net.run();
    let old = net.installed(&name(0)).key_set().clone();
    net.retire(5);
    let p = reshare_proposal(&old, &[0, 1, 2, 3, 4], 7, 3);
    net.propose(&name(0), [11; 16], p);
    net.deliver();
    net.execute(&name(0));
    net.run();
    let new = net.installed(&name(6)).key_set().clone();
    assert_eq!((new.n(), new.threshold()), (7, 3));
    assert_eq!(new.public_key_bytes(), old.public_key_bytes(), "the public key is kept");
    assert_eq!(net.installed(&name(0)).announcement.announcement().generation, 1);
    // A field sealed under the old key opens with 4 new shares, not with 3.
    let env = sealed(&old, 11);
    let s = |i: usize| net.installed(&name(i)).share.as_ref().unwrap();
    assert!(opens(&new, &[s(6), s(1), s(5), s(3)], &env));
    assert!(!opens(&new, &[s(6), s(1), s(5)], &env));
    // Old shares do not belong to the new key set, and a stolen old share does not
    // combine with new ones.
    for i in 0..5 {
        assert!(net.old_shares[&name(i)].check_against(&new).is_err(), "old share {i} accepted");
    }
    let old0 = &net.old_shares[&name(0)];
    let mixed: Vec<DecryptionShare> = [
        old0.decrypt_share(&old, env.field(), env.label()).unwrap(),
        s(1).decrypt_share(&new, env.field(), env.label()).unwrap(),
        s(2).decrypt_share(&new, env.field(), env.label()).unwrap(),
        s(3).decrypt_share(&new, env.field(), env.label()).unwrap(),
    ]
    .into();
    assert!(matches!(
        new.combine(env.field(), env.label(), &mixed),
        Err(Error::NotEnoughShares { valid: 3, culprits, .. }) if culprits == vec![TrusteeIndex(0)]
    ));
}

#[test]
fn a_refresh_among_the_same_trustees_makes_old_and_new_shares_incompatible() {
    let mut net = Net::new(9, 5);
    net.fresh_run(5, 2, 12);
    let old = net.installed(&name(0)).key_set().clone();
    net.retire(5);
    // Only three of the old holders deal (t + 1 is enough).
    let p = reshare_proposal(&old, &[0, 2, 4], 5, 2);
    net.propose(&name(0), [13; 16], p);
    net.deliver();
    net.execute(&name(0));
    net.run();
    let new = net.installed(&name(1)).key_set().clone();
    assert_eq!(new.public_key_bytes(), old.public_key_bytes());
    assert_ne!(new, old, "fresh shares, new public key shares");
    let env = sealed(&old, 13);
    let s = |i: usize| net.installed(&name(i)).share.as_ref().unwrap();
    assert!(opens(&new, &[s(0), s(1), s(2)], &env));
    // The thief's old share of trustee-3 plus two new shares: refused, culprit named.
    let ds = vec![
        net.old_shares[&name(3)].decrypt_share(&old, env.field(), env.label()).unwrap(),
        s(1).decrypt_share(&new, env.field(), env.label()).unwrap(),
        s(2).decrypt_share(&new, env.field(), env.label()).unwrap(),
    ];
    assert!(matches!(new.combine(env.field(), env.label(), &ds), Err(Error::NotEnoughShares { .. })));
}

#[test]
fn a_reshare_dealer_without_its_old_share_cannot_join() {
    let mut net = Net::new(10, 5);
    net.fresh_run(5, 2, 14);
    let old = net.installed(&name(0)).key_set().clone();
    let p = reshare_proposal(&old, &[0, 1, 2], 5, 2);
    // No old shares recorded in the net: trustee-0 cannot even propose as a dealer.
    assert!(Ceremony::propose(net.setup(&name(0)), [15; 16], p, 0, &mut net.rng).is_err());
}

/// The split of the test above, resolved by asking: trustee-2 and trustee-3 missed
/// trustee-4's agreement, and before their deadline abort they learn from trustee-0
/// that it installed. They install the same key (logging the agreement they missed).
/// A forged or short outcome is refused and changes nothing.
#[test]
fn a_trustee_that_missed_an_agreement_learns_the_install_from_a_peer_and_joins_it() {
    let mut net = Net::new(6, 5);
    net.filter = Box::new(|from, to, m| {
        let agreement = m.as_bytes().get(3) == Some(&8);
        (!(agreement && from == "trustee-4" && (to == "trustee-2" || to == "trustee-3"))).then(|| m.clone())
    });
    let p = net.fresh(5, 2);
    net.propose(&name(0), [6; 16], p);
    net.deliver();
    net.execute(&name(0));
    net.deliver();
    let signed = net.installed("trustee-0").announcement.signed().clone();
    let now = net.now;
    for who in ["trustee-2", "trustee-3"] {
        let c = net.nodes.get_mut(who).unwrap().ceremony.as_mut().unwrap();
        assert_eq!(c.phase(), Phase::Agreeing, "{who}");
        // The right announcement without the signatures, or from a non-participant:
        // refused, nothing changes.
        let forged = SignedAnnouncement::new(signed.body().to_vec(), vec![]);
        assert!(c.learn(&id("trustee-0"), &PeerOutcome::Installed(forged), now).is_err());
        assert!(c.learn(&id("stranger"), &PeerOutcome::Aborted { reason: "x".into() }, now).is_err());
        assert_eq!(c.phase(), Phase::Agreeing, "{who}");
        let out = c.learn(&id("trustee-0"), &PeerOutcome::Installed(signed.clone()), now).unwrap();
        net.apply(who, out);
        assert_eq!(
            net.installed(who).key_set().public_key_bytes(),
            net.installed("trustee-0").key_set().public_key_bytes()
        );
        let log = &net.nodes[who].log;
        assert!(matches!(log.last(), Some(Step::Installed { .. })), "{who}");
        assert!(
            log.iter().any(|s| matches!(s, Step::Agreed { by, .. } if by.as_str() == "trustee-4")),
            "{who} logged the agreement it learned"
        );
    }
    net.run();
    assert!((0..5).all(|i| net.nodes[&name(i)].installed.is_some()), "every trustee installed");
}

/// A trustee stranded in Ready on a ceremony the others aborted (it missed the abort)
/// ends it when it learns the outcome; one in an earlier phase than Agreeing cannot
/// join an install it never computed, and aborts, telling the others.
#[test]
fn a_stranded_trustee_ends_the_way_its_peers_did() {
    let mut net = Net::new(9, 3);
    let p = net.fresh(3, 1);
    net.propose(&name(0), [9; 16], p.clone());
    net.deliver();
    let c = net.nodes.get_mut("trustee-2").unwrap().ceremony.as_mut().unwrap();
    assert_eq!(c.phase(), Phase::Ready);
    let out = c
        .learn(&id("trustee-0"), &PeerOutcome::Aborted { reason: "aborted by the operator: later".into() }, 5)
        .unwrap();
    assert!(matches!(out.last(), Some(Output::Abort(AbortReason::AbortedBy { by, .. })) if by.as_str() == "trustee-0"));
    assert!(!out.iter().any(|o| matches!(o, Output::Broadcast(_))), "an abort learned is not sent on");

    // A fresh run installs; a node still in Ready learns of the install and aborts.
    let mut net = Net::new(10, 3);
    net.fresh_run(3, 1, 10);
    let signed = net.installed("trustee-0").announcement.signed().clone();
    let mut other = Net::new(10, 3);
    other.propose(&name(0), [10; 16], p);
    other.deliver();
    let c = other.nodes.get_mut("trustee-1").unwrap().ceremony.as_mut().unwrap();
    let out = c.learn(&id("trustee-0"), &PeerOutcome::Installed(signed), 5).unwrap();
    assert!(matches!(out.last(), Some(Output::Abort(AbortReason::Disagreement { .. }))));
    assert!(out.iter().any(|o| matches!(o, Output::Broadcast(_))));
}

/// The proposal carries the modes in its plan byte (bit 7), fresh or reshare, and a
/// ceremony of both modes announces both; a plan byte with another bit set is refused.
#[test]
fn a_proposal_carries_its_modes_to_the_announcement() {
    let net = Net::new(47, 5);
    let from = dealer_keygen(EpochId(2), 1, 5, &mut rand::rngs::OsRng).unwrap().public;
    for base in [net.fresh(5, 2), reshare_proposal(&from, &[0, 1, 2], 5, 2)] {
        for modes in [Modes::PER_MESSAGE, Modes::BOTH] {
            let p = Proposal { modes, ..base.clone() };
            let bytes = SignedMessage::encode_unsigned(&[3; 16], &id("trustee-0"), &Body::Proposal(p.clone())).unwrap();
            let (_, _, back) = SignedMessage::decode_unsigned(&bytes).unwrap();
            assert_eq!(back, Body::Proposal(p.clone()), "{modes}");
            // The plan byte: after version, alg, kind, ceremony, sender, epoch, t and
            // the two id lists.
            let ids = |v: &[PartyId]| 2 + v.iter().map(|p| 1 + p.as_str().len()).sum::<usize>();
            let at = 3 + 1 + 16 + 1 + "trustee-0".len() + 8 + 2 + ids(&p.players) + ids(&p.dealers);
            let plan = u8::from(matches!(p.plan, Plan::Reshare { .. }));
            assert_eq!(bytes[at], plan | if modes.day { 0x80 } else { 0 });
            let mut odd = bytes.clone();
            odd[at] |= 0x40;
            assert!(SignedMessage::decode_unsigned(&odd).is_err());
        }
    }
}
