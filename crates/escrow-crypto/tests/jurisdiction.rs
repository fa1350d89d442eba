//! Escrow domains end to end in the crypto core: for every rule and every combination
//! of party homes, which domain's quorum opens what; all-of needing every quorum;
//! fields stripped, added, moved or forged, and homes or rules lied about, refused by
//! the recipient; one domain's trustees opening nothing through another's fields.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use escrow_crypto::*;

fn dom(s: &str) -> Domain {
    Domain::new(s).unwrap()
}

/// "uk" and "us" escrow (both at epoch 7, so only the keys tell them apart; t = 1 of
/// 3 each), "free" does not. Users: ann (uk), ben (uk), sam (us), tom (us), fay (free).
struct Deployment {
    uk: DealerOutput,
    us: DealerOutput,
    users: Vec<(UserSecretKey, Domain)>,
}

const PLAINTEXT: &[u8] = b"meet at the usual place";

impl Deployment {
    fn new() -> Self {
        let mut r = rng(33);
        let uk = dealer_keygen(EpochId(7), 1, 3, &mut r).unwrap();
        let us = dealer_keygen(EpochId(7), 1, 3, &mut r).unwrap();
        let users = [("ann", "uk"), ("ben", "uk"), ("sam", "us"), ("tom", "us"), ("fay", "free"), ("fox", "free")]
            .iter()
            .map(|(u, h)| (UserSecretKey::generate(id(u), &mut r), dom(h)))
            .collect();
        Deployment { uk, us, users }
    }

    fn jurisdictions(&self, rule: Rule) -> Jurisdictions {
        Jurisdictions::new(
            rule,
            [(dom("uk"), Some(self.uk.public.clone())), (dom("us"), Some(self.us.public.clone())), (dom("free"), None)],
        )
        .unwrap()
    }

    fn keys(&self, d: &Domain) -> Option<&DealerOutput> {
        match d.as_str() {
            "uk" => Some(&self.uk),
            "us" => Some(&self.us),
            _ => None,
        }
    }

    fn user(&self, name: &str) -> &(UserSecretKey, Domain) {
        self.users.iter().find(|(u, _)| u.id().as_str() == name).unwrap()
    }

    /// What every client verified: each user's certified home.
    fn homes(&self) -> BTreeMap<PartyId, Domain> {
        self.users.iter().map(|(u, h)| (u.id().clone(), h.clone())).collect()
    }

    fn request<'a>(&'a self, j: &'a Jurisdictions, from: &str, recipients: &'a [Resident]) -> DomainSealRequest<'a> {
        let (sender, home) = self.user(from);
        DomainSealRequest {
            sender,
            sender_home: home,
            recipients,
            jurisdictions: j,
            message_id: [9; 16],
            timestamp: 1_764_115_200,
            plaintext: PLAINTEXT,
        }
    }

    fn residents(&self, names: &[&str]) -> Vec<Resident> {
        names
            .iter()
            .map(|n| {
                let (u, h) = self.user(n);
                Resident { key: u.public(), home: h.clone() }
            })
            .collect()
    }

    fn send(&self, rule: Rule, from: &str, to: &[&str]) -> DomainEnvelope {
        let j = self.jurisdictions(rule);
        let rs = self.residents(to);
        DomainEnvelope::seal(&self.request(&j, from, &rs), &mut rng(5)).unwrap()
    }

    /// Domain `d`'s quorum (trustees 0 and 1) recovers the key its field carries.
    fn recover(&self, env: &DomainEnvelope, d: &Domain) -> Option<DataKey> {
        let keys = self.keys(d)?;
        let (label, field) = env.field_for(d)?;
        let shares: Vec<DecryptionShare> =
            keys.shares[..2].iter().map(|s| s.decrypt_share(&keys.public, field, label).unwrap()).collect();
        Some(keys.public.combine(field, label, &shares).unwrap().data_key)
    }

    /// Whether `d`'s quorum, with no other domain's help, reads the message.
    fn opens_alone(&self, env: &DomainEnvelope, d: &Domain, sender: &UserPublicKey) -> bool {
        let Some(key) = self.recover(env, d) else { return false };
        let epk = &self.keys(d).unwrap().public;
        match env.open_with_field_keys(&[(d, epk, &key)], sender) {
            Ok(body) => {
                assert_eq!(body, PLAINTEXT);
                true
            }
            Err(Error::MissingField(_)) => false,
            Err(e) => panic!("{d} opening alone: unexpected {e}"),
        }
    }
}

/// Every rule, every sender home and every pair of recipient homes among uk, us and
/// free: the fields are exactly the ones the rule requires, every recipient reads the
/// message, each domain's quorum opens it alone exactly when the rule says, and all
/// involved quorums together always do.
#[test]
fn each_rule_opens_exactly_what_it_should_for_every_combination_of_homes() {
    let d = Deployment::new();
    let homes = d.homes();
    let by_home = |h: &str, k: usize| -> &'static str {
        match (h, k) {
            ("uk", 0) => "ann",
            ("uk", _) => "ben",
            ("us", 0) => "sam",
            ("us", _) => "tom",
            ("free", 0) => "fay",
            _ => "fox",
        }
    };
    let mut checked = 0;
    for rule in Rule::ALL {
        let j = d.jurisdictions(rule);
        for s in ["uk", "us", "free"] {
            for r1 in ["uk", "us", "free"] {
                for r2 in ["uk", "us", "free"] {
                    let from = by_home(s, 0);
                    let to = [by_home(r1, 1), if r1 == r2 { by_home(r2, 0) } else { by_home(r2, 1) }];
                    let to: Vec<&str> = to.into_iter().filter(|u| *u != from).collect();
                    let env = d.send(rule, from, &to);
                    let party_homes: Vec<Domain> = env.message().homes().to_vec();
                    let expected = required_domains(rule, &party_homes, |x| x.as_str() != "free");
                    assert_eq!(env.domains().collect::<Vec<_>>(), expected, "{rule} {s}->{r1},{r2}");
                    for r in &to {
                        let body = env.open(&d.user(r).0, &d.user(from).0.public(), &homes, &j).unwrap();
                        assert_eq!(body, PLAINTEXT);
                    }
                    let sender = d.user(from).0.public();
                    for opener in [dom("uk"), dom("us"), dom("free")] {
                        assert_eq!(
                            d.opens_alone(&env, &opener, &sender),
                            opens_alone(rule, &expected, &opener),
                            "{rule}: {opener} alone, {s} -> {r1},{r2}"
                        );
                    }
                    let all: Vec<(Domain, DataKey)> =
                        expected.iter().map(|x| ((*x).clone(), d.recover(&env, x).unwrap())).collect();
                    let with: Vec<(&Domain, &EpochPublicKey, &DataKey)> =
                        all.iter().map(|(x, k)| (x, &d.keys(x).unwrap().public, k)).collect();
                    if with.is_empty() {
                        assert!(env.fields().is_empty(), "no escrowing home, no field");
                    } else {
                        assert_eq!(env.open_with_field_keys(&with, &sender).unwrap(), PLAINTEXT);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 27);
}

/// All-of between a UK and a US user: the UK quorum's part alone opens nothing, even
/// offered as the US part too; with the US quorum's part it opens.
#[test]
fn all_of_with_one_domains_shares_alone_opens_nothing() {
    let d = Deployment::new();
    let env = d.send(Rule::AllOf, "ann", &["sam"]);
    let (uk, us) = (dom("uk"), dom("us"));
    assert_eq!(env.domains().collect::<Vec<_>>(), [&uk, &us]);
    let sender = d.user("ann").0.public();
    let k_uk = d.recover(&env, &uk).unwrap();
    let k_us = d.recover(&env, &us).unwrap();
    assert_ne!(k_uk.expose_secret(), k_us.expose_secret());
    assert_eq!(env.open_with_field_keys(&[(&uk, &d.uk.public, &k_uk)], &sender), Err(Error::MissingField("us".into())));
    assert_eq!(
        env.open_with_field_keys(&[(&uk, &d.uk.public, &k_uk), (&us, &d.us.public, &k_uk)], &sender),
        Err(Error::FieldMismatch),
        "the UK part is not what the US field carries"
    );
    assert_eq!(
        env.open_with_field_keys(&[(&us, &d.us.public, &k_us), (&uk, &d.uk.public, &k_uk)], &sender).unwrap(),
        PLAINTEXT
    );
    // Under any-of, the same pair's message opens with the UK quorum alone.
    let any = d.send(Rule::AnyOf, "ann", &["sam"]);
    let k = d.recover(&any, &uk).unwrap();
    assert_eq!(any.open_with_field_keys(&[(&uk, &d.uk.public, &k)], &sender).unwrap(), PLAINTEXT);
    // No key at all: refused as such, whatever the rule.
    for e in [&env, &any] {
        assert!(matches!(e.open_with_field_keys(&[], &sender), Err(Error::InvalidInput { what: "field keys", .. })));
    }
}

/// One domain's trustees answer nothing for another's field: the US field fails the
/// pairing check under the UK key (same epoch number, other key), and UK shares of it
/// do not combine.
#[test]
fn one_domains_trustees_open_nothing_through_anothers_field() {
    let d = Deployment::new();
    let env = d.send(Rule::AnyOf, "ann", &["sam"]);
    let (label, field) = env.field_for(&dom("us")).unwrap();
    for share in &d.uk.shares {
        assert_eq!(share.decrypt_share(&d.uk.public, field, label), Err(Error::InvalidField));
    }
    #[cfg(feature = "dangerous")]
    {
        let forced: Vec<DecryptionShare> = d.uk.shares[..2].iter().map(|s| s.decrypt_share_unchecked(field)).collect();
        assert_eq!(d.uk.public.combine(field, label, &forced).unwrap_err(), Error::InvalidField);
    }
    // And the UK field, given to the US trustees under its own (UK) label.
    let (label, field) = env.field_for(&dom("uk")).unwrap();
    assert_eq!(d.us.shares[0].decrypt_share(&d.us.public, field, label), Err(Error::InvalidField));
}

/// A home lied about, a home nobody certified, and a rule other than the
/// deployment's: refused before any key is unwrapped.
#[test]
fn homes_and_rules_are_checked_against_what_the_recipient_verified() {
    let d = Deployment::new();
    let j = d.jurisdictions(Rule::AnyOf);
    // ann says sam lives in "free", so no US field would be needed.
    let mut lie = d.residents(&["sam"]);
    lie[0].home = dom("free");
    let env = DomainEnvelope::seal(&d.request(&j, "ann", &lie), &mut rng(1)).unwrap();
    assert_eq!(env.domains().collect::<Vec<_>>(), [&dom("uk")]);
    let homes = d.homes();
    assert_eq!(
        env.open(&d.user("sam").0, &d.user("ann").0.public(), &homes, &j),
        Err(Error::HomeMismatch { party: "sam".into(), certified: "us".into(), labelled: "free".into() })
    );
    let mut unknown = homes.clone();
    unknown.remove(&id("ann"));
    let honest = d.send(Rule::AnyOf, "ann", &["sam"]);
    assert_eq!(
        honest.open(&d.user("sam").0, &d.user("ann").0.public(), &unknown, &j),
        Err(Error::HomeMismatch { party: "ann".into(), certified: "none known".into(), labelled: "uk".into() })
    );
    let all_of = d.send(Rule::AllOf, "ann", &["sam"]);
    assert_eq!(
        all_of.open(&d.user("sam").0, &d.user("ann").0.public(), &homes, &j),
        Err(Error::RuleMismatch { expected: "any-of", got: "all-of" })
    );
    // A home the deployment does not hold is refused when sealing.
    let mut mars = d.residents(&["sam"]);
    mars[0].home = dom("mars");
    assert_eq!(
        DomainEnvelope::seal(&d.request(&j, "ann", &mars), &mut rng(1)).unwrap_err(),
        Error::UnknownDomain("mars".into())
    );
}

#[test]
fn encodings_round_trip_and_refuse_what_is_not_canonical() {
    let d = Deployment::new();
    let env = d.send(Rule::AllOf, "ann", &["sam", "fay"]);
    assert_eq!(DomainEnvelope::from_bytes(env.as_bytes()).unwrap(), env);
    let m = env.message();
    assert_eq!(MessageLabel::from_bytes(&m.to_bytes()).unwrap(), *m);
    assert_eq!(m.homes(), [dom("uk"), dom("free"), dom("us")], "sender first, recipients sorted by id");
    for (label, field) in env.fields() {
        let bytes = label.to_bytes();
        assert_eq!(u16::from_be_bytes([bytes[1], bytes[2]]), 0x0018);
        assert_eq!(Label::from_bytes(&bytes).unwrap(), *label);
        assert_eq!(label.home_of(&id("sam")), Some(&dom("us")));
        assert_eq!(label.domain_tag().unwrap().rule(), Rule::AllOf);
        field
            .verify(
                if label.domain_tag().unwrap().domain().as_str() == "uk" { &d.uk.public } else { &d.us.public },
                label,
            )
            .unwrap();
    }
    // A field domain that is no party's home, and one other than the sender's under
    // home-of-sender, are not labels.
    assert!(m.field_label(&dom("mars"), EpochId(7)).is_err());
    let hos = d.send(Rule::HomeOfSender, "ann", &["sam"]);
    assert!(hos.message().field_label(&dom("us"), EpochId(7)).is_err());
    // Every truncation is refused.
    for cut in 0..env.as_bytes().len() {
        assert!(DomainEnvelope::from_bytes(&env.as_bytes()[..cut]).is_err(), "cut at {cut}");
    }
    // A label v2 does not fit in a single-domain envelope: a v1 envelope whose label
    // is swapped for a field's label v2 is refused at decoding.
    let (label, _) = &env.fields()[0];
    assert!(matches!(Label::from_bytes(&label.to_bytes()), Ok(l) if l.domain_tag().is_some()));
    let w = World::new(3, 1, 3, &["ann", "sam"]);
    let v1 = w.send(1, "ann", &["sam"], 100, b"hi");
    let v1_label_len = usize::from(u16::from_be_bytes([v1.as_bytes()[3], v1.as_bytes()[4]]));
    let v2 = label.to_bytes();
    let mut swapped = v1.as_bytes()[..3].to_vec();
    swapped.extend_from_slice(&u16::try_from(v2.len()).unwrap().to_be_bytes());
    swapped.extend_from_slice(&v2);
    swapped.extend_from_slice(&v1.as_bytes()[5 + v1_label_len..]);
    let err = Envelope::from_bytes(&swapped).unwrap_err();
    assert!(err.to_string().contains("a domain label (v2)"), "{err}");
}

#[cfg(feature = "dangerous")]
mod rogue {
    use super::*;
    use escrow_crypto::domain_envelope::FieldEntry;

    fn rogue(
        d: &Deployment,
        rule: Rule,
        from: &str,
        to: &[&str],
        edit: impl FnOnce(&MessageLabel, &mut Vec<FieldEntry>),
    ) -> Result<Vec<u8>, Error> {
        let j = d.jurisdictions(rule);
        let rs = d.residents(to);
        let env = DomainEnvelope::seal_dangerous_with_fields(&d.request(&j, from, &rs), &mut rng(8), edit)?;
        env.open(&d.user(to[0]).0, &d.user(from).0.public(), &d.homes(), &j)
    }

    fn entry(d: &Deployment, m: &MessageLabel, domain: &str) -> FieldEntry {
        let domain = dom(domain);
        let keys = d.keys(&domain).unwrap();
        let label = m.field_label(&domain, keys.public.epoch()).unwrap();
        let field = EscrowField::seal(&keys.public, &label, &DataKey::generate(&mut rng(4))).unwrap();
        FieldEntry { domain, epoch: keys.public.epoch(), field }
    }

    #[test]
    fn a_field_stripped_is_refused() {
        let d = Deployment::new();
        for rule in [Rule::AnyOf, Rule::AllOf] {
            let got = rogue(&d, rule, "ann", &["sam"], |_, f| f.retain(|e| e.domain.as_str() != "us"));
            assert_eq!(got, Err(Error::MissingField("us".into())), "{rule}");
            let got = rogue(&d, rule, "ann", &["sam"], |_, f| f.clear());
            assert_eq!(got, Err(Error::MissingField("uk".into())), "{rule}");
        }
        let got = rogue(&d, Rule::HomeOfSender, "sam", &["ann"], |_, f| f.clear());
        assert_eq!(got, Err(Error::MissingField("us".into())));
    }

    #[test]
    fn a_field_added_is_refused() {
        let d = Deployment::new();
        // Any-of: a UK user's message to a user of "free" (no escrow) gains a field
        // for "free", sealed under a key of the sender's choosing.
        let rogue_keys = dealer_keygen(EpochId(7), 0, 1, &mut rng(6)).unwrap();
        let got = rogue(&d, Rule::AnyOf, "ann", &["fay"], |m, f| {
            let label = m.field_label(&dom("free"), EpochId(7)).unwrap();
            let field = EscrowField::seal(&rogue_keys.public, &label, &DataKey::generate(&mut rng(4))).unwrap();
            f.insert(0, FieldEntry { domain: dom("free"), epoch: EpochId(7), field });
        });
        assert_eq!(got, Err(Error::UnexpectedField("free".into())));
        // Home-of-sender: a UK sender adds a field for her US recipient's domain; a
        // field domain other than the sender's home does not even decode.
        let j = d.jurisdictions(Rule::HomeOfSender);
        let rs = d.residents(&["sam"]);
        let env = DomainEnvelope::seal_dangerous_with_fields(&d.request(&j, "ann", &rs), &mut rng(8), |_, f| {
            let mut us = f[0].clone();
            us.domain = dom("us");
            f.push(us);
        });
        assert!(matches!(env, Err(Error::Decode { .. })), "{env:?}");
        // Any-of: a field for a domain no party lives in does not decode either.
        let j = d.jurisdictions(Rule::AnyOf);
        let rs = d.residents(&["ben"]);
        let env = DomainEnvelope::seal_dangerous_with_fields(&d.request(&j, "ann", &rs), &mut rng(8), |_, f| {
            let mut us = f[0].clone();
            us.domain = dom("us");
            f.push(us);
        });
        assert!(matches!(env, Err(Error::Decode { .. })), "{env:?}");
    }

    #[test]
    fn a_field_moved_to_another_domain_is_refused_and_yields_nothing() {
        let d = Deployment::new();
        let j = d.jurisdictions(Rule::AnyOf);
        let rs = d.residents(&["sam"]);
        // The UK field, entered as the US one (the US field dropped).
        let env = DomainEnvelope::seal_dangerous_with_fields(&d.request(&j, "ann", &rs), &mut rng(8), |_, f| {
            let uk = f.iter().find(|e| e.domain.as_str() == "uk").unwrap().field;
            for e in f.iter_mut().filter(|e| e.domain.as_str() == "us") {
                e.field = uk;
            }
        })
        .unwrap();
        assert_eq!(env.open(&d.user("sam").0, &d.user("ann").0.public(), &d.homes(), &j), Err(Error::FieldMismatch));
        let (label, field) = env.field_for(&dom("us")).unwrap();
        for s in d.us.shares.iter().chain(&d.uk.shares) {
            assert_eq!(s.decrypt_share(&d.us.public, field, label), Err(Error::InvalidField));
        }
    }

    #[test]
    fn a_forged_field_is_refused() {
        let d = Deployment::new();
        for rule in Rule::ALL {
            let got = rogue(&d, rule, "ann", &["sam"], |m, f| {
                let forged = entry(&d, m, "uk");
                for e in f.iter_mut().filter(|e| e.domain.as_str() == "uk") {
                    *e = forged.clone();
                }
            });
            assert_eq!(got, Err(Error::FieldMismatch), "{rule}");
        }
    }
}
