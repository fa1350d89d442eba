//! Escrow domains: one trustee set, epoch key, courts and policy per jurisdiction, and
//! the rule that composes them for a message whose parties live in several.
//!
//! A deployment holds several [`Domain`]s; each either escrows (it has an epoch key)
//! or does not. Every user has a home domain, certified where the user's identity is
//! certified. For a message, let `E` be the escrowing domains among its parties'
//! homes. The deployment's [`Rule`] says which fields the message carries and who can
//! open it:
//!
//! | rule | fields | a domain's quorum opens the message alone when |
//! |---|---|---|
//! | [`Rule::AnyOf`] | one per domain in `E`, each carrying the data key | it is in `E` |
//! | [`Rule::AllOf`] | one per domain in `E`, each carrying a part of the key | `E` is that domain alone |
//! | [`Rule::HomeOfSender`] | the sender's home, if it escrows | it is the sender's home |
//!
//! The rule, the field's domain and every party's home are bound into each field's
//! label ([`DomainTag`]), so a field moved to another domain fails that domain's
//! pairing check and yields nothing. [`required_domains`] is the one place the table
//! above is decided; the sealer, the recipient's check and the spillover calculator
//! all call it.
//!
//! # All-of
//!
//! The sender wraps a fresh 32-byte message key `MK` for the recipients. With fields
//! for the domains `d_1 < ... < d_m` (`m >= 1`), part `k_i = HKDF-Expand(MK,
//! ALL_OF_DST ‖ len(d_i) ‖ d_i, 32)` goes into `d_i`'s field and the body key is
//! `DK = k_1 ⊕ ... ⊕ k_m`. HKDF-Expand keyed by the uniform `MK` is a PRF, so the parts
//! are independent-looking: one domain's quorum, holding `k_i`, learns nothing about
//! `DK` while `m >= 2`. Recipients derive every part from `MK` and check each field
//! carries its own, as they check a single field. With `m = 0` (no party's home
//! escrows) `DK = MK`; under the other rules every field carries `DK = MK`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::{DecodeError, Error};
use crate::field::{xor32, DataKey};
use crate::keys::EpochPublicKey;
use crate::wire::Reader;

/// Longest domain name, in bytes.
pub const MAX_DOMAIN_LEN: usize = 16;
/// Most domains one deployment holds (and so most fields one message carries).
pub const MAX_DOMAINS: usize = 16;

/// Domain separation of the all-of parts.
const ALL_OF_DST: &[u8] = b"escrow/v2/all-of-part";

/// A jurisdiction's name: 1 to 16 bytes of `[a-z0-9-]`, not starting with `-`
/// (printable, so it can reach logs and terminals unescaped).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain(String);

impl Domain {
    /// Validates `s` as a domain name.
    pub fn new(s: impl Into<String>) -> Result<Self, Error> {
        let s = s.into();
        match check(&s) {
            Ok(()) => Ok(Domain(s)),
            Err(reason) => Err(Error::InvalidInput { what: "domain", reason }),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule for domain names, shared by the constructor and decoders.
pub(crate) fn check(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty");
    }
    if s.len() > MAX_DOMAIN_LEN {
        return Err("longer than 16 bytes");
    }
    if s.starts_with('-') {
        return Err("starts with '-'");
    }
    if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err("only a-z 0-9 - are allowed");
    }
    Ok(())
}

impl Reader<'_> {
    /// A domain name (str8), checked as [`Domain::new`] checks it.
    pub(crate) fn domain(&mut self, field: &'static str) -> Result<Domain, Error> {
        let s = self.str8(field)?;
        check(s).map_err(|reason| self.err(DecodeError::InvalidValue { field, reason }))?;
        Ok(Domain(s.to_owned()))
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a deployment composes its domains for a message whose parties span several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A field per escrowing domain among the parties; each opens the message alone.
    AnyOf,
    /// A field per escrowing domain among the parties, each carrying a part of the
    /// key; opening needs every one of those domains' quorums (cross-border
    /// cooperation, as mutual legal assistance works today).
    AllOf,
    /// Only the sender's home domain escrows.
    HomeOfSender,
}

impl Rule {
    /// Every rule, in wire order.
    pub const ALL: [Rule; 3] = [Rule::AnyOf, Rule::AllOf, Rule::HomeOfSender];

    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Rule::AnyOf => 1,
            Rule::AllOf => 2,
            Rule::HomeOfSender => 3,
        }
    }

    /// The rule for a wire code.
    pub fn from_code(code: u8) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The rule's name, as the CLI and documents spell it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::AnyOf => "any-of",
            Rule::AllOf => "all-of",
            Rule::HomeOfSender => "home-of-sender",
        }
    }

    /// The rule named `s` ([`name`](Self::name)).
    pub fn from_name(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == s)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The domains that must carry a field, ascending, for a message whose parties' homes
/// are `homes` (the sender's first), under `rule`, given which domains escrow.
pub fn required_domains(rule: Rule, homes: &[Domain], escrows: impl Fn(&Domain) -> bool) -> Vec<&Domain> {
    let set: BTreeSet<&Domain> = match rule {
        Rule::AnyOf | Rule::AllOf => homes.iter().filter(|d| escrows(d)).collect(),
        Rule::HomeOfSender => homes.first().filter(|d| escrows(d)).into_iter().collect(),
    };
    set.into_iter().collect()
}

/// Whether `opener`'s quorum alone recovers the body key of a message whose fields are
/// for `fields` (as [`required_domains`] gives them) under `rule`.
pub fn opens_alone(rule: Rule, fields: &[&Domain], opener: &Domain) -> bool {
    match rule {
        Rule::AnyOf | Rule::HomeOfSender => fields.contains(&opener),
        Rule::AllOf => fields == [opener],
    }
}

/// The jurisdiction part of a field's label: the deployment's rule, the domain this
/// field is for, and every party's home (the sender's first, then the recipients' in
/// label order).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DomainTag {
    pub(crate) rule: Rule,
    pub(crate) domain: Domain,
    pub(crate) homes: Vec<Domain>,
}

impl DomainTag {
    /// The composition rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }
    /// The domain whose key this field is sealed under, and whose trustees alone may
    /// answer for it.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
    /// Every party's home, the sender's first.
    pub fn homes(&self) -> &[Domain] {
        &self.homes
    }
}

/// What a client pins about a deployment's jurisdictions: the rule, and each domain's
/// current epoch key (`None` for a domain without escrow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jurisdictions {
    rule: Rule,
    domains: BTreeMap<Domain, Option<EpochPublicKey>>,
}

impl Jurisdictions {
    /// 1 to [`MAX_DOMAINS`] distinct domains under `rule`.
    pub fn new(rule: Rule, domains: impl IntoIterator<Item = (Domain, Option<EpochPublicKey>)>) -> Result<Self, Error> {
        let mut map = BTreeMap::new();
        for (d, key) in domains {
            if map.insert(d, key).is_some() {
                return Err(Error::InvalidInput { what: "jurisdictions", reason: "a domain is named twice" });
            }
        }
        if map.is_empty() || map.len() > MAX_DOMAINS {
            return Err(Error::InvalidInput { what: "jurisdictions", reason: "1 to 16 domains required" });
        }
        Ok(Jurisdictions { rule, domains: map })
    }

    /// The deployment's rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The domains, ascending.
    pub fn domains(&self) -> impl Iterator<Item = &Domain> {
        self.domains.keys()
    }

    /// `domain`'s epoch key: `None` if it does not escrow, an error if the deployment
    /// has no such domain.
    pub fn key(&self, domain: &Domain) -> Result<Option<&EpochPublicKey>, Error> {
        self.domains.get(domain).map(Option::as_ref).ok_or_else(|| Error::UnknownDomain(domain.to_string()))
    }

    /// Checks every home is a domain of the deployment, then returns the domains that
    /// must carry a field, ascending, with their keys.
    pub fn required(&self, homes: &[Domain]) -> Result<Vec<(&Domain, &EpochPublicKey)>, Error> {
        for h in homes {
            self.key(h)?;
        }
        let escrows = |d: &Domain| matches!(self.domains.get(d), Some(Some(_)));
        Ok(required_domains(self.rule, homes, escrows)
            .into_iter()
            .filter_map(|d| match self.domains.get_key_value(d) {
                Some((d, Some(k))) => Some((d, k)),
                _ => None,
            })
            .collect())
    }
}

/// The key each field carries, in the order of `domains`, and the body key (see the
/// module docs). `domains` is ascending and distinct.
pub(crate) fn field_keys(rule: Rule, mk: &DataKey, domains: &[&Domain]) -> (Vec<DataKey>, DataKey) {
    if rule != Rule::AllOf || domains.is_empty() {
        let keys = domains.iter().map(|_| DataKey::from_bytes(*mk.expose_secret())).collect();
        return (keys, DataKey::from_bytes(*mk.expose_secret()));
    }
    let hk = Hkdf::<Sha256>::from_prk(mk.expose_secret()).expect("a 32-byte PRK is SHA-256's length");
    let mut body = [0u8; 32];
    let parts = domains
        .iter()
        .map(|d| {
            let mut k = [0u8; 32];
            let len = [u8::try_from(d.as_str().len()).expect("domains are at most 16 bytes")];
            hk.expand_multi_info(&[ALL_OF_DST, &len, d.as_str().as_bytes()], &mut k)
                .expect("32 bytes is within HKDF-SHA256's limit");
            body = xor32(&body, &k);
            DataKey::from_bytes(k)
        })
        .collect();
    (parts, DataKey::from_bytes(body))
}

/// The body key from every field's key: the one key under any-of and home-of-sender,
/// the XOR of the parts under all-of.
pub(crate) fn body_key(rule: Rule, keys: &[&DataKey]) -> Option<DataKey> {
    match (rule, keys) {
        (Rule::AllOf, [_, ..]) => {
            Some(DataKey::from_bytes(keys.iter().fold([0u8; 32], |acc, k| xor32(&acc, k.expose_secret()))))
        }
        (_, [k, ..]) => Some(DataKey::from_bytes(*k.expose_secret())),
        (_, []) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Domain {
        Domain::new(s).unwrap()
    }

    #[test]
    fn domain_names_are_checked() {
        for good in ["uk", "us", "none", "eu-1", "a"] {
            assert!(Domain::new(good).is_ok(), "{good}");
        }
        for bad in ["", "UK", "u k", "-uk", "uk/", "abcdefghijklmnopq", "ü"] {
            assert!(Domain::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_round_trip_their_codes_and_names() {
        for r in Rule::ALL {
            assert_eq!(Rule::from_code(r.code()), Some(r));
            assert_eq!(Rule::from_name(r.name()), Some(r));
        }
        assert_eq!(Rule::from_code(0), None);
        assert_eq!(Rule::from_code(4), None);
        assert_eq!(Rule::from_name("any"), None);
    }

    /// The table of the module docs, over every combination of three parties' homes
    /// among an escrowing "uk", an escrowing "us" and a "free" domain without escrow.
    #[test]
    fn required_domains_follow_the_table_for_every_combination_of_homes() {
        let all = [d("free"), d("uk"), d("us")];
        let escrows = |x: &Domain| x.as_str() != "free";
        for a in &all {
            for b in &all {
                for c in &all {
                    let homes = [a.clone(), b.clone(), c.clone()];
                    let mut escrowing: Vec<&Domain> = homes.iter().filter(|x| escrows(x)).collect();
                    escrowing.sort();
                    escrowing.dedup();
                    assert_eq!(required_domains(Rule::AnyOf, &homes, escrows), escrowing);
                    assert_eq!(required_domains(Rule::AllOf, &homes, escrows), escrowing);
                    let sender: Vec<&Domain> = if escrows(a) { vec![a] } else { vec![] };
                    assert_eq!(required_domains(Rule::HomeOfSender, &homes, escrows), sender);
                    for opener in &all {
                        let any = required_domains(Rule::AnyOf, &homes, escrows);
                        assert_eq!(opens_alone(Rule::AnyOf, &any, opener), escrows(opener) && homes.contains(opener));
                        let all_of = required_domains(Rule::AllOf, &homes, escrows);
                        assert_eq!(opens_alone(Rule::AllOf, &all_of, opener), all_of == [opener]);
                        let hos = required_domains(Rule::HomeOfSender, &homes, escrows);
                        assert_eq!(opens_alone(Rule::HomeOfSender, &hos, opener), escrows(opener) && opener == a);
                    }
                }
            }
        }
    }

    #[test]
    fn all_of_parts_xor_to_the_body_key_and_no_part_is_it() {
        let mk = DataKey::from_bytes([7; 32]);
        let (uk, us) = (d("uk"), d("us"));
        let (parts, body) = field_keys(Rule::AllOf, &mk, &[&uk, &us]);
        assert_eq!(parts.len(), 2);
        let refs: Vec<&DataKey> = parts.iter().collect();
        assert_eq!(body_key(Rule::AllOf, &refs).unwrap().expose_secret(), body.expose_secret());
        for p in &parts {
            assert_ne!(p.expose_secret(), body.expose_secret());
            assert_ne!(p.expose_secret(), mk.expose_secret());
        }
        assert_ne!(parts[0].expose_secret(), parts[1].expose_secret());
        // One part alone is not the body key.
        assert_ne!(body_key(Rule::AllOf, &refs[..1]).unwrap().expose_secret(), body.expose_secret());
        // Parts depend on the domain name: the same message key gives a "us" part that
        // differs from the "uk" one, and the same domain always gets the same part.
        let (again, _) = field_keys(Rule::AllOf, &mk, &[&uk]);
        assert_eq!(again[0].expose_secret(), parts[0].expose_secret());
        for rule in [Rule::AnyOf, Rule::HomeOfSender] {
            let (keys, body) = field_keys(rule, &mk, &[&uk, &us]);
            assert!(keys.iter().all(|k| k.expose_secret() == mk.expose_secret()));
            assert_eq!(body.expose_secret(), mk.expose_secret());
        }
        let (none, body) = field_keys(Rule::AllOf, &mk, &[]);
        assert!(none.is_empty());
        assert_eq!(body.expose_secret(), mk.expose_secret());
    }

    #[test]
    fn jurisdictions_refuse_duplicates_and_unknown_homes() {
        assert!(Jurisdictions::new(Rule::AnyOf, [(d("uk"), None), (d("uk"), None)]).is_err());
        assert!(Jurisdictions::new(Rule::AnyOf, []).is_err());
        let j = Jurisdictions::new(Rule::AnyOf, [(d("uk"), None), (d("free"), None)]).unwrap();
        assert_eq!(j.required(&[d("uk"), d("mars")]), Err(Error::UnknownDomain("mars".into())));
        assert!(j.required(&[d("uk"), d("free")]).unwrap().is_empty(), "no domain here escrows");
    }
}
