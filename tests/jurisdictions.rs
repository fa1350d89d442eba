//! Escrow domains at real trustees: five trustee servers of domain "uk", with real
//! SQLite stores and logs, asked for shares of fields of envelopes with domain fields.
//! A UK warrant on alice opens her messages through UK fields; a US field is refused by
//! name; whether the UK trustees answer for alice when her certified home is the US is
//! their policy switch (`foreign_targets`), shown both ways, and every refusal is in
//! the refusing trustee's log.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::*;
use escrow_log::event::Event;
use escrow_proto::v1 as pb;
use escrow_service::metrics::rule_of;
use escrow_tests::*;
use escrow_trustee::policy::{DomainRule, ForeignTargets, Policy};
use tonic::Code;

fn dom(s: &str) -> Domain {
    Domain::new(s).unwrap()
}

/// Every trustee serves "uk"; trustees 0 to 2 refuse foreign targets, 3 and 4 allow
/// them.
fn uk(i: u16, p: &mut Policy) {
    let foreign_targets = if i < 3 { ForeignTargets::Refuse } else { ForeignTargets::Allow };
    p.jurisdiction = DomainRule { domain: Some(dom("uk")), foreign_targets };
}

const FROM: u64 = START + DAY;
const TO: u64 = FROM + 3600;

fn item(env: &DomainEnvelope, domain: &str) -> pb::EscrowItem {
    let (label, field) = env.field_for(&dom(domain)).unwrap();
    pb::EscrowItem { label: label.to_bytes(), field: field.to_bytes() }
}

async fn ask(d: &Deployment, i: usize, items: Vec<pb::EscrowItem>) -> Result<Vec<DecryptionShare>, tonic::Status> {
    let mut client = d.agency_client(i).unwrap();
    let shares =
        client.request_shares(pb::RequestSharesRequest { warrant_id: vec![1; 16], items }).await?.into_inner().shares;
    Ok(shares.iter().map(|s| DecryptionShare::from_bytes(s).unwrap()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uk_warrant_opens_through_uk_fields_and_foreign_targets_by_policy() {
    let mut d = deploy(233, uk).await;
    let uk_key = d.keys.public.clone();
    let us_key = dealer_keygen(uk_key.epoch(), 2, 5, &mut d.rng()).unwrap().public;
    let j = Jurisdictions::new(Rule::AnyOf, [(dom("uk"), Some(uk_key.clone())), (dom("us"), Some(us_key))]).unwrap();
    // alice writes to bob (certified in "uk") twice: once certified in "us", once in "uk".
    let seal = |alice_home: &str, ts: u64| {
        let bob = [Resident { key: d.user("bob").unwrap().public(), home: dom("uk") }];
        let req = DomainSealRequest {
            sender: d.user("alice").unwrap(),
            sender_home: &dom(alice_home),
            recipients: &bob,
            jurisdictions: &j,
            message_id: [ts as u8; 16],
            timestamp: ts,
            plaintext: alice_home.as_bytes(),
        };
        DomainEnvelope::seal(&req, &mut d.rng()).unwrap()
    };
    let foreign = seal("us", FROM + 60);
    let domestic = seal("uk", FROM + 120);
    assert_eq!(foreign.domains().collect::<Vec<_>>(), [&dom("uk"), &dom("us")]);
    assert_eq!(domestic.domains().collect::<Vec<_>>(), [&dom("uk")]);
    d.clock.set(TO + 60).unwrap();
    let w = d.warrant(1, &["alice"], FROM, TO).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3, 4], 1).await.unwrap();
    let alice = d.user("alice").unwrap().public();

    // Her UK-home message: every trustee answers, and three shares open it.
    let mut shares = Vec::new();
    for i in 0..5 {
        shares.extend(ask(&d, i, vec![item(&domestic, "uk")]).await.unwrap());
    }
    let (label, field) = domestic.field_for(&dom("uk")).unwrap();
    let key = uk_key.combine(field, label, &shares[..3]).unwrap().data_key;
    assert_eq!(domestic.open_with_field_keys(&[(&dom("uk"), &uk_key, &key)], &alice).unwrap(), b"uk");

    // Her US-home message through its UK field: trustees 0 to 2 refuse, 3 and 4
    // answer; two shares are not a quorum.
    for i in 0..3 {
        let s = ask(&d, i, vec![item(&foreign, "uk")]).await.unwrap_err();
        assert_eq!((s.code(), rule_of(&s)), (Code::PermissionDenied, Some("foreign-target")), "trustee-{i}: {s:?}");
        assert!(s.message().contains("alice lives in domain us"), "{}", s.message());
    }
    let mut allowed = Vec::new();
    for i in 3..5 {
        allowed.extend(ask(&d, i, vec![item(&foreign, "uk")]).await.unwrap());
    }
    let (label, field) = foreign.field_for(&dom("uk")).unwrap();
    assert!(matches!(uk_key.combine(field, label, &allowed), Err(Error::NotEnoughShares { valid: 2, needed: 3, .. })));

    // Through its US field, no UK trustee answers, under either setting.
    for i in [0, 4] {
        let s = ask(&d, i, vec![item(&foreign, "us")]).await.unwrap_err();
        assert_eq!((s.code(), rule_of(&s)), (Code::InvalidArgument, Some("other-domain")), "trustee-{i}: {s:?}");
    }

    // Each refusal is in the refusing trustee's log, with its rule.
    for i in [0usize, 4] {
        let want = if i == 0 { "foreign-target" } else { "other-domain" };
        let logged = log_entries(&d, i).await.iter().any(|e| {
            matches!(&e.event, Event::RequestsRefused { warrant_id: Some(w), rule, .. }
                if *w == [1; 16] && rule.as_str().contains(if want == "foreign-target" { "lives in domain us" } else { "is for domain us" }))
        });
        assert!(logged, "trustee-{i} logged its {want} refusal");
    }

    // Trustee 2 switches to `allow` and restarts: now three answer, and the UK opens
    // alice's US-home message alone.
    let mut p = d.trustee(2).unwrap().policy.clone();
    p.jurisdiction.foreign_targets = ForeignTargets::Allow;
    d.restart_trustee_with(2, p).await.unwrap();
    allowed.extend(ask(&d, 2, vec![item(&foreign, "uk")]).await.unwrap());
    let key = uk_key.combine(field, label, &allowed).unwrap().data_key;
    assert_eq!(foreign.open_with_field_keys(&[(&dom("uk"), &uk_key, &key)], &alice).unwrap(), b"us");
}
