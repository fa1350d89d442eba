//! Whether the relay accepts an envelope: a pure rule, no IO. The service reads the
//! registered keys through the `lookup` it passes, calls [`accept`], and maps a
//! [`Refusal`] to a gRPC status in one place (`service::status`). The pairing check
//! of the escrow field is left pending ([`FieldCheck`]): the committer runs it for a
//! whole batch at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use escrow_crypto::envelope::MAX_ENVELOPE_WITH_DAYS_LEN;
use escrow_crypto::wire::{names, Alg};
use escrow_crypto::{
    Domain, DomainEnvelope, Envelope, EpochId, EpochPublicKey, Error, FieldCheck, Jurisdictions, PartyId, UserPublicKey,
};

/// Why the relay refuses an envelope, naming the culprit.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Larger than any envelope may be.
    #[error("envelope is {len} bytes, at most {MAX_ENVELOPE_WITH_DAYS_LEN} allowed")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// It does not decode, or its field is not of the relay's epoch key.
    #[error("envelope: {0}")]
    Malformed(Error),
    /// It is from someone else than the caller.
    #[error("the envelope is from {sender}, not the caller")]
    NotTheSender {
        /// The sender its label names.
        sender: PartyId,
    },
    /// Its sender or a recipient has no registered key.
    #[error("{role} {party} is not registered")]
    Unregistered {
        /// "sender" or "recipient".
        role: &'static str,
        /// Who.
        party: PartyId,
    },
    /// Its signature does not verify under the sender's registered key.
    #[error("envelope from {sender}: {error}")]
    Signature {
        /// The sender.
        sender: PartyId,
        /// The check that failed.
        error: Error,
    },
    /// Sealed under another epoch than the one the relay accepts.
    #[error("envelope is sealed under epoch {got}, but the relay accepts only epoch {accepts}")]
    WrongEpoch {
        /// The label's epoch.
        got: EpochId,
        /// The relay's.
        accepts: EpochId,
    },
    /// A single-domain envelope at a relay of several escrow domains: it would escrow
    /// under one key whatever the parties' homes, around the deployment's rule.
    #[error("this relay serves escrow domains ({domains}): an envelope must carry domain fields")]
    NeedsDomainFields {
        /// The deployment's domains, comma-separated.
        domains: String,
    },
    /// An envelope with domain fields at a relay of one domain.
    #[error("this relay serves a single escrow domain: an envelope with domain fields has no key here")]
    NoDomains,
    /// Its fields do not fit the deployment's rule and the parties' certified homes
    /// (rule, home, missing, extra or unknown domain).
    #[error("envelope fields: {0}")]
    Composition(Error),
    /// Its timestamp is too far from the relay's clock.
    #[error("envelope timestamp {timestamp} is {} s from the relay's clock {now}; at most {max} s allowed", timestamp.abs_diff(*now))]
    ClockSkew {
        /// The label's timestamp.
        timestamp: u64,
        /// The relay's clock.
        now: u64,
        /// The allowed skew.
        max: u64,
    },
}

impl Refusal {
    /// The refusal's stable name: the `escrow-rule` it carries, and what metrics count.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too-large",
            Refusal::Malformed(e) | Refusal::Signature { error: e, .. } => escrow_service::status::crypto_rule(e),
            Refusal::NotTheSender { .. } => "permission",
            Refusal::Unregistered { .. } => "unregistered",
            Refusal::WrongEpoch { .. } => "wrong-epoch",
            Refusal::ClockSkew { .. } => "clock-skew",
            Refusal::NeedsDomainFields { .. } | Refusal::NoDomains => "domains",
            Refusal::Composition(e) => escrow_service::status::crypto_rule(e),
        }
    }
}

/// Why [`accept`] did not accept: a refusal, or the lookup failed (an IO error of the
/// caller's, passed through).
#[derive(Debug)]
pub enum Rejection<E> {
    /// The envelope is refused.
    Refused(Refusal),
    /// Looking up a registered key failed.
    Lookup(E),
}

impl<E> From<Refusal> for Rejection<E> {
    fn from(r: Refusal) -> Self {
        Rejection::Refused(r)
    }
}

/// An accepted envelope, its field's pairing check still to run.
#[derive(Debug)]
pub struct Accepted {
    /// The decoded envelope.
    pub envelope: Envelope,
    /// The field's pending pairing check.
    pub check: FieldCheck,
}

/// An accepted envelope with domain fields, its fields' pairing checks still to run
/// (none for a message whose parties all live in domains without escrow).
#[derive(Debug)]
pub struct AcceptedDomain {
    /// The decoded envelope.
    pub envelope: DomainEnvelope,
    /// One pending check per field, in field order.
    pub checks: Vec<FieldCheck>,
}

/// A registered party as the relay knows it: its key, and the home its registered
/// certificate names (`None`: no certified home).
pub type Registered = (Arc<UserPublicKey>, Option<Domain>);

/// The checks of an envelope with domain fields, as [`accept`]'s but under the
/// deployment's `jurisdictions`: size and decoding, the sender is the caller, every
/// party registered, the sender's signature, the clock skew, then the composition
/// (the rule is the deployment's, each party's home is the one its registered
/// certificate names, the fields are for exactly the domains the rule requires), each
/// field's epoch is its domain's current one, and last each field's hash to G2.
pub fn accept_domain<E>(
    bytes: &[u8],
    caller: &PartyId,
    jurisdictions: &Jurisdictions,
    now: u64,
    max_skew: u64,
    mut lookup: impl FnMut(&PartyId) -> Result<Option<Registered>, E>,
) -> Result<AcceptedDomain, Rejection<E>> {
    let envelope = DomainEnvelope::from_bytes(bytes).map_err(Refusal::Malformed)?;
    let message = envelope.message();
    let sender = message.sender();
    if sender != caller {
        return Err(Refusal::NotTheSender { sender: sender.clone() }.into());
    }
    let mut homes = BTreeMap::new();
    for (i, party) in message.parties().enumerate() {
        let role = if i == 0 { "sender" } else { "recipient" };
        let (key, home) = lookup(party)
            .map_err(Rejection::Lookup)?
            .ok_or_else(|| Refusal::Unregistered { role, party: party.clone() })?;
        if i == 0 {
            envelope.verify_sender(&key).map_err(|error| Refusal::Signature { sender: sender.clone(), error })?;
        }
        if let Some(home) = home {
            homes.insert(party.clone(), home);
        }
    }
    let timestamp = message.timestamp();
    if timestamp.abs_diff(now) > max_skew {
        return Err(Refusal::ClockSkew { timestamp, now, max: max_skew }.into());
    }
    let required = envelope.check_composition(&homes, jurisdictions).map_err(Refusal::Composition)?;
    let mut checks = Vec::with_capacity(required.len());
    // `check_composition` found the fields for exactly these domains, both ascending.
    for ((label, field), (_, epk)) in envelope.fields().iter().zip(&required) {
        if label.epoch() != epk.epoch() {
            return Err(Refusal::WrongEpoch { got: label.epoch(), accepts: epk.epoch() }.into());
        }
        checks.push(field.pending_check(epk, label).map_err(Refusal::Malformed)?);
    }
    Ok(AcceptedDomain { envelope, checks })
}

/// Which decoder `bytes` is for: an envelope with domain fields, by its algorithm id.
pub fn has_domain_fields(bytes: &[u8]) -> bool {
    names(bytes, Alg::DomainEnvelope)
}

/// What the relay requires of an envelope `bytes` sent by `caller` at `now`, in order
/// of cost: size, decoding, the sender is the caller, the sender and every recipient
/// registered (`lookup`), the sender's signature, the epoch, the clock skew (at most
/// `max_skew` seconds), and last the field's hash to G2, leaving the pairing pending.
pub fn accept<E>(
    bytes: &[u8],
    caller: &PartyId,
    epoch_key: &EpochPublicKey,
    now: u64,
    max_skew: u64,
    mut lookup: impl FnMut(&PartyId) -> Result<Option<std::sync::Arc<UserPublicKey>>, E>,
) -> Result<Accepted, Rejection<E>> {
    if bytes.len() > MAX_ENVELOPE_WITH_DAYS_LEN {
        return Err(Refusal::TooLarge { len: bytes.len() }.into());
    }
    let envelope = Envelope::from_bytes(bytes).map_err(Refusal::Malformed)?;
    let label = envelope.label();
    let sender = label.sender();
    if sender != caller {
        return Err(Refusal::NotTheSender { sender: sender.clone() }.into());
    }
    let sender_key = lookup(sender)
        .map_err(Rejection::Lookup)?
        .ok_or_else(|| Refusal::Unregistered { role: "sender", party: sender.clone() })?;
    envelope.verify_sender(&sender_key).map_err(|error| Refusal::Signature { sender: sender.clone(), error })?;
    for r in label.recipients() {
        if lookup(r).map_err(Rejection::Lookup)?.is_none() {
            return Err(Refusal::Unregistered { role: "recipient", party: r.clone() }.into());
        }
    }
    if label.epoch() != epoch_key.epoch() {
        return Err(Refusal::WrongEpoch { got: label.epoch(), accepts: epoch_key.epoch() }.into());
    }
    // Before the pairing check, which is the expensive one.
    let timestamp = label.timestamp();
    if timestamp.abs_diff(now) > max_skew {
        return Err(Refusal::ClockSkew { timestamp, now, max: max_skew }.into());
    }
    let check = envelope.field().pending_check(epoch_key, label).map_err(Refusal::Malformed)?;
    Ok(Accepted { envelope, check })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use escrow_crypto::{dealer_keygen, SealRequest, UserSecretKey};
    use rand::SeedableRng;
    use std::collections::HashMap;
    use std::sync::Arc;

    const NOW: u64 = 1_700_000_000;

    struct World {
        epoch: EpochPublicKey,
        alice: UserSecretKey,
        bob: UserSecretKey,
        rng: rand_chacha::ChaCha20Rng,
    }

    fn id(s: &str) -> PartyId {
        PartyId::new(s).unwrap()
    }

    fn world() -> World {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let epoch = dealer_keygen(EpochId(1), 1, 3, &mut rng).unwrap().public;
        let alice = UserSecretKey::generate(id("alice"), &mut rng);
        let bob = UserSecretKey::generate(id("bob"), &mut rng);
        World { epoch, alice, bob, rng }
    }

    impl World {
        fn seal(&mut self, epoch: &EpochPublicKey, at: u64) -> Vec<u8> {
            let req = SealRequest {
                sender: &self.alice,
                recipients: &[self.bob.public()],
                epoch_key: epoch,
                message_id: [3; 16],
                timestamp: at,
                plaintext: b"hi",
            };
            Envelope::seal(&req, &mut self.rng).unwrap().as_bytes().to_vec()
        }
    }

    type Keys = HashMap<PartyId, Arc<UserPublicKey>>;

    fn run(w: &World, bytes: &[u8], caller: &str, keys: &Keys) -> Result<Accepted, Rejection<&'static str>> {
        accept(bytes, &id(caller), &w.epoch, NOW, 300, |p| Ok(keys.get(p).cloned()))
    }

    fn refused(r: Result<Accepted, Rejection<&'static str>>) -> Refusal {
        match r {
            Err(Rejection::Refused(r)) => r,
            Err(Rejection::Lookup(e)) => panic!("lookup failed: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    /// Each requirement refuses on its own, naming the culprit, and a lookup that
    /// fails is passed through, not turned into a refusal.
    #[test]
    fn each_requirement_refuses_by_name() {
        let mut w = world();
        let both: Keys = [(id("alice"), Arc::new(w.alice.public())), (id("bob"), Arc::new(w.bob.public()))].into();
        let ok = w.seal(&w.epoch.clone(), NOW);
        let accepted = run(&w, &ok, "alice", &both).unwrap();
        assert_eq!(accepted.envelope.label().sender(), &id("alice"));
        accepted.check.verify().unwrap();

        let r = refused(run(&w, &vec![0; MAX_ENVELOPE_WITH_DAYS_LEN + 1], "alice", &both));
        assert!(matches!(r, Refusal::TooLarge { .. }) && r.code() == "too-large", "{r}");
        let r = refused(run(&w, b"not an envelope", "alice", &both));
        assert_eq!(r.code(), "malformed", "{r}");
        let r = refused(run(&w, &ok, "bob", &both));
        assert_eq!(r.to_string(), "the envelope is from alice, not the caller");
        let only_alice: Keys = [(id("alice"), Arc::new(w.alice.public()))].into();
        assert_eq!(refused(run(&w, &ok, "alice", &only_alice)).to_string(), "recipient bob is not registered");
        let only_bob: Keys = [(id("bob"), Arc::new(w.bob.public()))].into();
        assert_eq!(refused(run(&w, &ok, "alice", &only_bob)).to_string(), "sender alice is not registered");
        let wrong_key: Keys = [(id("alice"), Arc::new(w.bob.public())), (id("bob"), Arc::new(w.bob.public()))].into();
        let r = refused(run(&w, &ok, "alice", &wrong_key));
        assert!(matches!(r, Refusal::Signature { .. }), "{r}");
        let other = dealer_keygen(EpochId(2), 1, 3, &mut w.rng).unwrap().public;
        let foreign = w.seal(&other, NOW);
        let r = refused(run(&w, &foreign, "alice", &both));
        assert_eq!(r.to_string(), "envelope is sealed under epoch 2, but the relay accepts only epoch 1");
        let (late, edge) = (w.seal(&w.epoch.clone(), NOW + 301), w.seal(&w.epoch.clone(), NOW - 300));
        let r = refused(run(&w, &late, "alice", &both));
        assert_eq!(r.code(), "clock-skew", "{r}");
        assert!(run(&w, &edge, "alice", &both).is_ok(), "300 s is allowed");

        let failing =
            accept(&ok, &id("alice"), &w.epoch, NOW, 300, |_| Err::<Option<Arc<UserPublicKey>>, _>("db down"));
        assert!(matches!(failing, Err(Rejection::Lookup("db down"))));
    }

    /// The domain rule: an honest any-of message between a UK and a US user is
    /// accepted with one pending check per field; each requirement refuses on its own.
    #[test]
    fn a_message_across_domains_is_checked_against_certified_homes() {
        use escrow_crypto::domain_envelope::FieldEntry;
        use escrow_crypto::{DomainSealRequest, Resident, Rule};
        let mut w = world();
        let dom = |s: &str| Domain::new(s).unwrap();
        let us_key = dealer_keygen(EpochId(2), 1, 3, &mut w.rng).unwrap().public;
        let uk_key = w.epoch.clone();
        let under = |rule, us: &EpochPublicKey| {
            Jurisdictions::new(rule, [(dom("uk"), Some(uk_key.clone())), (dom("us"), Some(us.clone()))]).unwrap()
        };
        let any_of = under(Rule::AnyOf, &us_key);
        let seal = |w: &mut World, j: &Jurisdictions, bob_home: &str, edit: &dyn Fn(&mut Vec<FieldEntry>)| {
            let bob = [Resident { key: w.bob.public(), home: dom(bob_home) }];
            let req = DomainSealRequest {
                sender: &w.alice,
                sender_home: &dom("uk"),
                recipients: &bob,
                jurisdictions: j,
                message_id: [4; 16],
                timestamp: NOW,
                plaintext: b"hi",
            };
            DomainEnvelope::seal_dangerous_with_fields(&req, &mut w.rng, |_, f| edit(f)).unwrap().as_bytes().to_vec()
        };
        let reg = |k: &UserSecretKey, home: Option<&str>| (Arc::new(k.public()), home.map(dom));
        let parties: HashMap<PartyId, Registered> =
            [(id("alice"), reg(&w.alice, Some("uk"))), (id("bob"), reg(&w.bob, Some("us")))].into();
        let run = |bytes: &[u8], j: &Jurisdictions, caller: &str, parties: &HashMap<PartyId, Registered>| {
            accept_domain(bytes, &id(caller), j, NOW, 300, |p| Ok::<_, &str>(parties.get(p).cloned()))
        };
        let refused = |r: Result<AcceptedDomain, Rejection<&str>>| match r {
            Err(Rejection::Refused(r)) => r.to_string(),
            Err(Rejection::Lookup(e)) => panic!("lookup failed: {e}"),
            Ok(_) => panic!("accepted"),
        };

        let honest = seal(&mut w, &any_of, "us", &|_| {});
        assert!(has_domain_fields(&honest) && !has_domain_fields(&w.seal(&w.epoch.clone(), NOW)));
        let accepted = run(&honest, &any_of, "alice", &parties).unwrap();
        assert_eq!(accepted.checks.len(), 2);
        assert!(accepted.checks.iter().all(|c| c.verify().is_ok()));

        assert_eq!(refused(run(&honest, &any_of, "bob", &parties)), "the envelope is from alice, not the caller");
        let alone: HashMap<PartyId, Registered> = [(id("alice"), reg(&w.alice, Some("uk")))].into();
        assert_eq!(refused(run(&honest, &any_of, "alice", &alone)), "recipient bob is not registered");
        // Bob registered without a certified home, or with a UK one: the label lies.
        for bob_home in [None, Some("uk")] {
            let lied: HashMap<PartyId, Registered> =
                [(id("alice"), reg(&w.alice, Some("uk"))), (id("bob"), reg(&w.bob, bob_home))].into();
            let r = refused(run(&honest, &any_of, "alice", &lied));
            assert!(r.contains("bob") && r.contains("us"), "{r}");
        }
        let stripped = seal(&mut w, &any_of, "us", &|f| f.retain(|e| e.domain.as_str() != "us"));
        assert!(refused(run(&stripped, &any_of, "alice", &parties)).contains("us"));
        let all_of = under(Rule::AllOf, &us_key);
        let r = refused(run(&honest, &all_of, "alice", &parties));
        assert!(r.contains("any-of") && r.contains("all-of"), "{r}");
        let newer = dealer_keygen(EpochId(3), 1, 3, &mut w.rng).unwrap().public;
        let r = refused(run(&honest, &under(Rule::AnyOf, &newer), "alice", &parties));
        assert_eq!(r, "envelope is sealed under epoch 2, but the relay accepts only epoch 3");
        // The UK field entered as the US one: decoded and composed, refused by its pairing.
        let moved = seal(&mut w, &any_of, "us", &|f| {
            let uk = f.iter().find(|e| e.domain.as_str() == "uk").unwrap().field;
            f.iter_mut().filter(|e| e.domain.as_str() == "us").for_each(|e| e.field = uk);
        });
        let accepted = run(&moved, &any_of, "alice", &parties).unwrap();
        assert!(accepted.checks[0].verify().is_ok() && accepted.checks[1].verify().is_err());
        let mut at = |t| {
            let bob = [Resident { key: w.bob.public(), home: dom("us") }];
            let req = DomainSealRequest {
                sender: &w.alice,
                sender_home: &dom("uk"),
                recipients: &bob,
                jurisdictions: &any_of,
                message_id: [5; 16],
                timestamp: t,
                plaintext: b"hi",
            };
            DomainEnvelope::seal(&req, &mut w.rng).unwrap().as_bytes().to_vec()
        };
        let late = at(NOW + 301);
        let r = refused(run(&late, &any_of, "alice", &parties));
        assert!(r.contains("301 s"), "{r}");
    }
}
