//! The open pipeline (`open.rs`) over envelopes with domain fields, on real gRPC: a
//! "uk" agency whose three trustees (t = 1 of 3) compute real shares with their key
//! shares of the uk epoch key, and refuse, as real trustees do
//! (`escrow_trustee::rules::check_domain`), any label that is not a label v2 of their
//! domain. "us" escrows under its own key at the same epoch number, "none" does not
//! escrow. Users: ann and ben (uk), sam and tom (us).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use escrow_crypto::{
    dealer_keygen, DealerOutput, Domain, DomainEnvelope, DomainSealRequest, Envelope, EpochId, Jurisdictions, PartyId,
    Resident, Rule, SealRequest, TrusteeKeyShare, UserPublicKey, UserSecretKey,
};
use rand::SeedableRng;

use super::open::Exported;
use super::stragglers::{open_exported, Behaviour, Server};
use super::*;

fn dom(s: &str) -> Domain {
    Domain::new(s).unwrap()
}

/// Two escrowing domains, four users, and what their trustees were asked.
struct World {
    uk: DealerOutput,
    us: DealerOutput,
    users: Vec<(UserSecretKey, Domain)>,
    rng: rand_chacha::ChaCha20Rng,
}

/// Requests and items one domain's trustees received, summed over them.
struct Asked {
    requests: Vec<Arc<AtomicUsize>>,
    items: Vec<Arc<AtomicUsize>>,
}

impl Asked {
    fn requests(&self) -> Vec<usize> {
        self.requests.iter().map(|a| a.load(Ordering::SeqCst)).collect()
    }
    fn items(&self) -> Vec<usize> {
        self.items.iter().map(|a| a.load(Ordering::SeqCst)).collect()
    }
}

impl World {
    fn new() -> Self {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        // The same epoch number in both domains: only the keys tell them apart.
        let uk = dealer_keygen(EpochId(7), 1, 3, &mut rng).unwrap();
        let us = dealer_keygen(EpochId(7), 1, 3, &mut rng).unwrap();
        let users = [("ann", "uk"), ("ben", "uk"), ("sam", "us"), ("tom", "us")]
            .iter()
            .map(|(u, h)| (UserSecretKey::generate(PartyId::new(*u).unwrap(), &mut rng), dom(h)))
            .collect();
        World { uk, us, users, rng }
    }

    fn keys(&self, d: &str) -> &DealerOutput {
        match d {
            "uk" => &self.uk,
            "us" => &self.us,
            _ => panic!("{d} does not escrow"),
        }
    }

    fn user(&self, name: &str) -> &(UserSecretKey, Domain) {
        self.users.iter().find(|(u, _)| u.id().as_str() == name).unwrap()
    }

    fn senders(&self) -> HashMap<String, UserPublicKey> {
        self.users.iter().map(|(u, _)| (u.id().to_string(), u.public())).collect()
    }

    /// `from` to `to` under `rule`, with message id `id` and text "`from`->`to`".
    fn send(&mut self, rule: Rule, from: &str, to: &str, id: u8) -> Exported {
        let j = Jurisdictions::new(
            rule,
            [(dom("uk"), Some(self.uk.public.clone())), (dom("us"), Some(self.us.public.clone())), (dom("none"), None)],
        )
        .unwrap();
        let (sender, home) = self.user(from).clone();
        let (r, rhome) = self.user(to).clone();
        let recipients = [Resident { key: r.public(), home: rhome }];
        let text = format!("{from}->{to}");
        let req = DomainSealRequest {
            sender: &sender,
            sender_home: &home,
            recipients: &recipients,
            jurisdictions: &j,
            message_id: [id; 16],
            timestamp: 1_764_115_200,
            plaintext: text.as_bytes(),
        };
        Exported::Domain(DomainEnvelope::seal(&req, &mut self.rng).unwrap())
    }

    /// A single-domain envelope under the uk key, as a one-domain deployment seals it.
    fn send_single(&mut self, from: &str, to: &str) -> Exported {
        let (sender, _) = self.user(from).clone();
        let (r, _) = self.user(to).clone();
        let req = SealRequest {
            sender: &sender,
            recipients: &[r.public()],
            epoch_key: &self.uk.public,
            message_id: [99; 16],
            timestamp: 1_764_115_200,
            plaintext: b"single",
        };
        Exported::Single(Envelope::seal(&req, &mut self.rng).unwrap())
    }

    /// An agency of domain `d` whose trustees are `d`'s, with what they are asked;
    /// `None`: an agency and trustees of a one-domain deployment, under uk's key.
    async fn agency(&self, d: Option<&str>) -> (Agency, Asked) {
        let keys = self.keys(d.unwrap_or("uk"));
        let mut trustees = Vec::new();
        let mut asked = Asked { requests: Vec::new(), items: Vec::new() };
        for (i, share) in keys.shares.iter().enumerate() {
            let (requests, items) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let server = Server {
                share: TrusteeKeyShare::from_bytes(&share.to_bytes()).unwrap(),
                public: keys.public.clone(),
                behaviour: Behaviour::Honest,
                domain: d.map(dom),
                asked: requests.clone(),
                items: items.clone(),
            };
            trustees.push(server.spawn(i, format!("{}-trustee-{i}", d.unwrap_or("uk"))).await);
            asked.requests.push(requests);
            asked.items.push(items);
        }
        // Never called: these tests feed the pipeline their own batches.
        let relay = RelayClient::new(tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy());
        let agency = Agency {
            relay,
            trustees,
            unreachable: Vec::new(),
            unannounced: Vec::new(),
            epochs: BTreeMap::from([(EpochId(7), keys.public.clone())]),
            unannounced_keys: BTreeMap::new(),
            witness_policy: None,
            batch_size: None,
            check_every: None,
            domain: None,
            foreign: Arc::default(),
        };
        let agency = match d {
            Some(d) => agency.for_domain(dom(d)),
            None => agency,
        };
        (agency, asked)
    }
}

/// Opens `envelopes` (relay sequence numbers 1, 2, ...) as the pipeline does after the
/// export, in batches of the agency's batch size; keeps the plaintexts.
async fn open(agency: &Agency, envelopes: &[Exported], senders: &HashMap<String, UserPublicKey>) -> OpenReport {
    let numbered: Vec<(u64, Exported)> = envelopes.iter().cloned().zip(1..).map(|(e, seq)| (seq, e)).collect();
    let mut opened = Vec::new();
    let mut report = open_exported(agency, numbered, senders, |m| {
        opened.push(m);
        Ok(())
    })
    .await
    .unwrap();
    report.opened = opened;
    report
}

/// Each message's fate, in relay order: its text, or why not.
fn fates(report: &OpenReport, n: u64) -> Vec<Result<String, NotOpened>> {
    (1..=n)
        .map(|seq| {
            if let Some(m) = report.opened.iter().find(|m| m.seq == seq) {
                assert!(report.failed.iter().all(|(s, _)| *s != seq), "message {seq} both opened and failed");
                return Ok(String::from_utf8(m.plaintext.clone()).unwrap());
            }
            let (_, why) = report.failed.iter().find(|(s, _)| *s == seq).unwrap();
            Err(why.clone())
        })
        .collect()
}

fn text(s: &str) -> Result<String, NotOpened> {
    Ok(s.to_owned())
}

fn no_uk_field() -> Result<String, NotOpened> {
    Err(NotOpened::NoFieldForDomain("uk".into()))
}

fn needs_us() -> Result<String, NotOpened> {
    Err(NotOpened::NeedsOtherDomains(vec!["us".into()]))
}

/// The four messages of every rule's test: uk to us, us to uk, uk to uk, us to us.
fn traffic(w: &mut World, rule: Rule) -> Vec<Exported> {
    vec![
        w.send(rule, "ann", "sam", 1),
        w.send(rule, "sam", "ann", 2),
        w.send(rule, "ann", "ben", 3),
        w.send(rule, "sam", "tom", 4),
    ]
}

/// Runs the uk agency over `rule`'s traffic, one message per batch; checks the fates,
/// that the trustees were asked about exactly the messages with a uk field (one
/// request each), and returns the report.
async fn uk_over(rule: Rule, expected: [Result<String, NotOpened>; 4]) -> OpenReport {
    let mut w = World::new();
    let envelopes = traffic(&mut w, rule);
    let (agency, asked) = w.agency(Some("uk")).await;
    let report = open(&agency.with_batch_size(1), &envelopes, &w.senders()).await;
    assert_eq!(fates(&report, 4), expected, "{rule}");
    assert_eq!(report.exported, 4);
    let with_uk_field =
        envelopes.iter().filter(|e| matches!(e, Exported::Domain(d) if d.field_for(&dom("uk")).is_some())).count();
    assert_eq!(report.share_requests, with_uk_field, "{rule}: one request per batch with a uk field");
    // Every trustee was asked (none needed examining, so `not_needed` may name some),
    // never about a message without a uk field.
    assert_eq!(asked.requests(), vec![with_uk_field; 3], "{rule}");
    assert_eq!(asked.items(), vec![with_uk_field; 3], "{rule}");
    assert!(report.trustee_errors.iter().next().is_none(), "{rule}: no trustee refused");
    report
}

/// Any-of: the uk quorum opens every message with a uk party, alone; the us-us
/// message has no uk field and is never asked about.
#[tokio::test]
async fn any_of_opens_every_message_with_a_uk_party() {
    let report = uk_over(Rule::AnyOf, [text("ann->sam"), text("sam->ann"), text("ann->ben"), no_uk_field()]).await;
    assert!(report.field_keys.is_empty());
    // Reported with the uk field's label v2: parties, time and the uk domain.
    let m = report.opened.iter().find(|m| m.seq == 1).unwrap();
    assert_eq!(m.label.sender().as_str(), "ann");
    assert_eq!(m.label.domain_tag().map(|t| t.domain().as_str()), Some("uk"));
    assert_eq!(m.label.epoch(), EpochId(7));
}

/// All-of: only the uk-uk message (whose one field is uk's) opens; uk-us messages need
/// the us quorum too, and the report keeps the uk part recovered for each.
#[tokio::test]
async fn all_of_opens_only_uk_uk_and_names_the_other_domain() {
    let report = uk_over(Rule::AllOf, [needs_us(), needs_us(), text("ann->ben"), no_uk_field()]).await;
    let parts: Vec<(u64, &str, u8)> =
        report.field_keys.iter().map(|(seq, k)| (*seq, k.domain.as_str(), k.message[0])).collect();
    assert_eq!(parts, [(1, "uk", 1), (2, "uk", 2)]);
}

/// Home-of-sender: only messages a uk user sent carry a uk field.
#[tokio::test]
async fn home_of_sender_opens_only_what_uk_users_sent() {
    let report = uk_over(Rule::HomeOfSender, [text("ann->sam"), no_uk_field(), text("ann->ben"), no_uk_field()]).await;
    assert!(report.field_keys.is_empty());
}

/// A batch of nothing but us-us messages makes no share request at all.
#[tokio::test]
async fn trustees_are_never_asked_about_a_batch_without_a_uk_field() {
    let mut w = World::new();
    let envelopes = vec![w.send(Rule::AnyOf, "sam", "tom", 1), w.send(Rule::AllOf, "tom", "sam", 2)];
    let (agency, asked) = w.agency(Some("uk")).await;
    let report = open(&agency, &envelopes, &w.senders()).await;
    assert_eq!(fates(&report, 2), [no_uk_field(), no_uk_field()]);
    assert_eq!(report.share_requests, 0);
    assert_eq!(asked.requests(), [0, 0, 0]);
    assert!(report.not_needed.is_empty(), "{:?}", report.not_needed);
}

/// A mixed batch: the messages with a uk field are asked about, in one request, and
/// every outcome lands at its own sequence number.
#[tokio::test]
async fn a_mixed_batch_asks_only_about_uk_fields_and_keeps_relay_order() {
    let mut w = World::new();
    let envelopes = vec![
        w.send(Rule::AnyOf, "sam", "tom", 1),
        w.send(Rule::AnyOf, "ann", "sam", 2),
        w.send(Rule::AnyOf, "tom", "sam", 3),
        w.send(Rule::AnyOf, "ben", "ann", 4),
    ];
    let (agency, asked) = w.agency(Some("uk")).await;
    let report = open(&agency, &envelopes, &w.senders()).await;
    assert_eq!(fates(&report, 4), [no_uk_field(), text("ann->sam"), no_uk_field(), text("ben->ann")]);
    assert_eq!(report.opened.iter().map(|m| m.seq).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(report.share_requests, 1);
    assert_eq!(asked.items(), [2, 2, 2]);
}

/// The wrong kind of envelope for how the agency is set fails by name, unasked: a
/// single-domain envelope at a uk agency, a domain envelope at an agency set to no
/// domain. The single-domain one still opens at the agency set to no domain.
#[tokio::test]
async fn the_wrong_kind_of_envelope_fails_by_name_without_asking() {
    let mut w = World::new();
    let envelopes = vec![w.send_single("ann", "ben"), w.send(Rule::AnyOf, "ann", "ben", 2)];
    let (uk, asked) = w.agency(Some("uk")).await;
    let report = open(&uk, &envelopes, &w.senders()).await;
    assert_eq!(fates(&report, 2), [Err(NotOpened::NotADomainEnvelope("uk".into())), text("ann->ben")]);
    assert_eq!(asked.items(), [1, 1, 1]);

    let (plain, asked) = w.agency(None).await;
    assert!(plain.domain().is_none());
    let report = open(&plain, &envelopes, &w.senders()).await;
    assert_eq!(fates(&report, 2), [text("single"), Err(NotOpened::NoAgencyDomain)]);
    assert_eq!(asked.items(), [1, 1, 1]);
}

/// Mutual legal assistance under all-of: the uk and us agencies each recover their
/// part of a uk-us message and neither opens it; given the other's part, each opens
/// it. A part that is not what the field carries (the uk part offered as the us one,
/// or the us part of another message) opens nothing.
#[tokio::test]
async fn all_of_opens_with_the_other_domains_part() {
    let mut w = World::new();
    let envelopes = vec![w.send(Rule::AllOf, "ann", "sam", 1), w.send(Rule::AllOf, "sam", "ann", 2)];
    let senders = w.senders();
    let (uk, _) = w.agency(Some("uk")).await;
    let (us, _) = w.agency(Some("us")).await;
    let uk_report = open(&uk, &envelopes, &senders).await;
    let us_report = open(&us, &envelopes, &senders).await;
    assert_eq!(fates(&uk_report, 2), [needs_us(), needs_us()]);
    let needs_uk = || Err(NotOpened::NeedsOtherDomains(vec!["uk".into()]));
    assert_eq!(fates(&us_report, 2), [needs_uk(), needs_uk()]);
    let uk_parts: Vec<FieldKey> = uk_report.field_keys.iter().map(|(_, k)| k.clone()).collect();
    let us_parts: Vec<FieldKey> = us_report.field_keys.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(us_parts.len(), 2);

    let uk_helped = uk.clone().with_foreign_field_keys(us_parts.iter().cloned().collect());
    let report = open(&uk_helped, &envelopes, &senders).await;
    assert_eq!(fates(&report, 2), [text("ann->sam"), text("sam->ann")]);
    assert!(report.field_keys.is_empty());
    let us_helped = us.clone().with_foreign_field_keys(uk_parts.iter().cloned().collect());
    assert_eq!(fates(&open(&us_helped, &envelopes, &senders).await, 2), [text("ann->sam"), text("sam->ann")]);

    // The uk part passed off as us's, and message 2's us part given as message 1's.
    let forged = [
        FieldKey { domain: dom("us"), epoch_key: w.us.public.clone(), ..uk_parts[0].clone() },
        FieldKey { message: us_parts[0].message, ..us_parts[1].clone() },
    ];
    for (k, f) in forged.into_iter().enumerate() {
        let fooled = uk.clone().with_foreign_field_keys([f].into_iter().collect());
        let report = open(&fooled, &envelopes[..1], &senders).await;
        assert_eq!(fates(&report, 1), [Err(NotOpened::Decrypt(escrow_crypto::Error::FieldMismatch))], "forgery {k}");
    }
}

/// The export decodes each blob by its algorithm id: either kind of envelope, and
/// anything else refused by the single-domain decoder as the wrong algorithm; a
/// damaged domain envelope is the domain decoder's error.
#[test]
fn exported_blobs_are_decoded_by_their_algorithm() {
    let mut w = World::new();
    let (Exported::Domain(d), Exported::Single(s)) =
        (w.send(Rule::AnyOf, "ann", "sam", 1), w.send_single("ann", "sam"))
    else {
        panic!("wrong kinds")
    };
    assert!(matches!(Exported::from_bytes(d.as_bytes()), Ok(Exported::Domain(e)) if e == d));
    assert!(matches!(Exported::from_bytes(s.as_bytes()), Ok(Exported::Single(e)) if e == s));
    let cut = d.as_bytes().get(..40).unwrap();
    assert!(
        matches!(
            Exported::from_bytes(cut),
            Err(escrow_crypto::Error::Decode { kind: escrow_crypto::wire::Alg::DomainEnvelope, .. })
        ),
        "{:?}",
        Exported::from_bytes(cut)
    );
    let label = d.fields()[0].0.to_bytes();
    assert!(
        matches!(
            Exported::from_bytes(&label),
            Err(escrow_crypto::Error::Decode {
                kind: escrow_crypto::wire::Alg::Envelope,
                reason: escrow_crypto::DecodeError::WrongAlgorithm { .. }
            })
        ),
        "{:?}",
        Exported::from_bytes(&label)
    );
}
