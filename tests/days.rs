//! The day mode at the trustees: `ExtractDayKeys` under a warrant, over real servers
//! and real SQLite files. A day key made from t + 1 trustees' extraction shares opens a
//! target's day field, also for a message outside the warrant's hours but inside its
//! day, which the per-message mode refuses; every request outside the warrant, the
//! policy or the quotas is refused with its rule and changes nothing.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::*;
use escrow_kit::{KeyGen, Options};
use escrow_log::event::{party_tag, DayRelease, Entry, Event};
use escrow_pki::Role;
use escrow_proto::v1 as pb;
use escrow_tests::*;
use escrow_trustee::policy::Policy;
use std::sync::Arc;
use tonic::Code;

/// The day mode on at every trustee: 3 day keys per warrant, 5 per agency.
fn day_mode(_: u16, p: &mut Policy) {
    p.max_day_keys_per_warrant = 3;
    p.day_key_agency_quota = 5;
}

/// The warrant's window: one hour of the second day.
const FROM: u64 = START + DAY + 9 * 3600;
const TO: u64 = FROM + 3600;

fn day_item(epoch: EpochId, party: &str, day: u32) -> pb::DayKeyItem {
    pb::DayKeyItem { epoch: epoch.0, party: party.into(), day }
}

fn ask(wid: u8, days: Vec<pb::DayKeyItem>) -> pb::ExtractDayKeysRequest {
    pb::ExtractDayKeysRequest { warrant_id: vec![wid; 16], days }
}

/// Warrant `wid` of agency-1 on alice for [FROM, TO), at every trustee, approved at
/// `approved`.
async fn warrant(d: &Deployment, wid: u8, approved: &[usize]) -> Vec<u8> {
    let w = d.warrant(wid, &["alice"], FROM, TO).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(approved, wid).await.unwrap();
    w
}

fn day_releases(log: &[Entry]) -> Vec<(u64, Vec<DayRelease>)> {
    log.iter()
        .filter_map(|e| match &e.event {
            Event::DayKeysReleased { days, .. } => Some((e.time, days.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_key_from_t_plus_one_trustees_opens_the_whole_day_and_no_more() {
    let d = deploy(201, day_mode).await;
    let epk = d.keys.public.clone();
    // Alice's messages: one in the warrant's hour, one the same day six hours later,
    // one the next day.
    let inside = d.send("alice", &["bob"], FROM + 60, "in the hour").await.unwrap();
    let same_day = d.send("alice", &["bob"], FROM + 6 * 3600, "same day").await.unwrap();
    let next_day = d.send("alice", &["bob"], FROM + DAY, "next day").await.unwrap();
    d.clock.set(TO + 60).unwrap();
    let w = warrant(&d, 1, &[0, 1, 2]).await;
    let day = day_of(FROM);
    assert_eq!(day, day_of(FROM + 6 * 3600));
    assert_ne!(day, day_of(FROM + DAY));

    // t + 1 = 3 trustees each answer one extraction share.
    let mut shares = Vec::new();
    for i in 0..3 {
        let r = d.agency_client(i).unwrap().extract_day_keys(ask(1, vec![day_item(epk.epoch(), "alice", day)])).await;
        let r = r.unwrap().into_inner();
        assert_eq!(r.shares.len(), 1);
        shares.push(ExtractionShare::from_bytes(&r.shares[0]).unwrap());
    }
    let alice = id("alice");
    let day_id = DayId::new(epk.epoch(), alice.clone(), day);
    for s in &shares {
        epk.verify_extraction_share(&day_id, s).unwrap();
    }
    assert!(matches!(
        epk.combine_day_key(&day_id, &shares[..2]),
        Err(Error::NotEnoughExtractionShares { valid: 2, needed: 3, .. })
    ));
    let (key, culprits) = epk.combine_day_key(&day_id, &shares).unwrap();
    assert!(culprits.is_empty());

    // Day fields for alice, sealed as a sender would: the day key opens the one in the
    // warrant's hour and the one six hours later, and not the next day's.
    let seal = |env: &Envelope, dk: [u8; 32]| DayField::seal(&epk, env.label(), &alice, &DataKey::from_bytes(dk));
    for (env, dk) in [(&inside, [1u8; 32]), (&same_day, [2; 32])] {
        let f = seal(env, dk).unwrap();
        assert_eq!(f.open(&key, env.label(), &alice).unwrap().expose_secret(), &dk);
    }
    assert!(seal(&next_day, [3; 32]).unwrap().open(&key, next_day.label(), &alice).is_err());
    // The per-message mode releases nothing for the message outside the hour.
    let item = pb::EscrowItem { label: same_day.label().to_bytes(), field: same_day.field().to_bytes() };
    let s = d
        .agency_client(0)
        .unwrap()
        .request_shares(pb::RequestSharesRequest { warrant_id: vec![1; 16], items: vec![item] })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");

    // Each releasing trustee logged the day key once, its party sealed by the warrant.
    let want = DayRelease { epoch: epk.epoch().0, day, party: party_tag(&w, "alice") };
    for i in 0..3 {
        assert_eq!(day_releases(&log_entries(&d, i).await), vec![(TO + 60, vec![want])], "trustee-{i}");
        assert_eq!(d.status(i, 1).await.unwrap().day_keys_released, 1);
    }
    assert!(day_releases(&log_entries(&d, 3).await).is_empty());
    // Asking again returns the same share and writes nothing.
    let before = log_entries(&d, 0).await.len();
    let again = d.agency_client(0).unwrap().extract_day_keys(ask(1, vec![day_item(epk.epoch(), "alice", day)])).await;
    assert_eq!(again.unwrap().into_inner().shares[0], shares[0].to_bytes());
    assert_eq!(log_entries(&d, 0).await.len(), before);
    assert_eq!(d.status(0, 1).await.unwrap().day_keys_released, 1);
}

/// Every way a day-key request can be wrong: its gRPC code and rule, and nothing
/// released, counted or logged as released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_key_requests_outside_the_warrant_policy_or_quotas_are_refused_and_change_nothing() {
    let d = deploy(202, |i, p| {
        day_mode(i, p);
        p.max_items_per_request = 4;
    })
    .await;
    let e = d.keys.public.epoch();
    d.clock.set(TO + 60).unwrap();
    warrant(&d, 1, &[0]).await;
    // Warrant 2 is approved nowhere; warrant 3 is revoked at trustee-0.
    warrant(&d, 2, &[]).await;
    warrant(&d, 3, &[0]).await;
    d.decide(0, [3; 16], escrow_trustee::state::Action::Revoke, "revoked for the test").await.unwrap();
    let day = day_of(FROM);
    let agency2 = trustee_client_at(&d.trustees[0].server.addr.to_string(), &creds(Role::Agency, "agency-2"));

    let cases: Vec<(&str, pb::ExtractDayKeysRequest, Code, &str)> = vec![
        (
            "a party the warrant does not name",
            ask(1, vec![day_item(e, "bob", day)]),
            Code::PermissionDenied,
            "out-of-scope",
        ),
        (
            "the day before the window",
            ask(1, vec![day_item(e, "alice", day - 1)]),
            Code::PermissionDenied,
            "out-of-scope",
        ),
        (
            "the day after the window",
            ask(1, vec![day_item(e, "alice", day + 1)]),
            Code::PermissionDenied,
            "out-of-scope",
        ),
        (
            "a good day, then a bad one",
            ask(1, vec![day_item(e, "alice", day), day_item(e, "alice", day + 1)]),
            Code::PermissionDenied,
            "out-of-scope",
        ),
        ("a malformed party id", ask(1, vec![day_item(e, "", day)]), Code::InvalidArgument, "malformed"),
        (
            "an epoch this trustee holds no share of",
            ask(1, vec![day_item(EpochId(e.0 + 7), "alice", day)]),
            Code::FailedPrecondition,
            "no-share-for-epoch",
        ),
        ("no days", ask(1, vec![]), Code::InvalidArgument, "malformed"),
        (
            "more days than a request may hold",
            ask(1, vec![day_item(e, "alice", day); 5]),
            Code::InvalidArgument,
            "too-many-items",
        ),
        (
            "a warrant not approved here",
            ask(2, vec![day_item(e, "alice", day)]),
            Code::FailedPrecondition,
            "not-approved",
        ),
        ("a revoked warrant", ask(3, vec![day_item(e, "alice", day)]), Code::FailedPrecondition, "revoked"),
        ("an unknown warrant", ask(9, vec![day_item(e, "alice", day)]), Code::NotFound, "unknown-warrant"),
    ];
    for (what, req, code, rule) in cases {
        let s = d.agency_client(0).unwrap().extract_day_keys(req).await.unwrap_err();
        assert_eq!((s.code(), escrow_service::metrics::rule_of(&s)), (code, Some(rule)), "{what}: {s:?}");
    }
    // Another agency's warrant is answered exactly as an unknown one.
    let other = agency2.clone().extract_day_keys(ask(1, vec![day_item(e, "alice", day)])).await.unwrap_err();
    let unknown = agency2.clone().extract_day_keys(ask(9, vec![day_item(e, "alice", day)])).await.unwrap_err();
    assert_eq!((other.code(), other.message()), (Code::NotFound, "unknown warrant 01010101010101010101010101010101"));
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(day_releases(&log_entries(&d, 0).await).is_empty());
    assert_eq!(d.status(0, 1).await.unwrap().day_keys_released, 0);

    // The per-warrant limit (3) counts distinct day keys: a request of 4 new ones is
    // refused whole; 3 are released; one more is refused, one already released is not.
    let window = |from: u64, to: u64, wid: u8| d.warrant(wid, &["alice", "carol"], from, to).unwrap();
    let w4 = window(START, START + 3 * DAY, 4);
    d.submit_everywhere(&w4).await.unwrap();
    d.approve(&[0], 4).await.unwrap();
    let s0 = day_of(START);
    let four = vec![
        day_item(e, "alice", s0),
        day_item(e, "alice", s0 + 1),
        day_item(e, "carol", s0),
        day_item(e, "carol", s0 + 1),
    ];
    let s = d.agency_client(0).unwrap().extract_day_keys(ask(4, four.clone())).await.unwrap_err();
    assert_eq!((s.code(), escrow_service::metrics::rule_of(&s)), (Code::ResourceExhausted, Some("day-key-quota")));
    assert!(s.message().contains("warrant quota: 0 day keys released, 4 more asked, at most 3"), "{s:?}");
    assert_eq!(d.status(0, 4).await.unwrap().day_keys_released, 0);
    d.agency_client(0).unwrap().extract_day_keys(ask(4, four[..3].to_vec())).await.unwrap();
    assert_eq!(d.status(0, 4).await.unwrap().day_keys_released, 3);
    d.agency_client(0).unwrap().extract_day_keys(ask(4, four[..1].to_vec())).await.unwrap();
    let s = d.agency_client(0).unwrap().extract_day_keys(ask(4, four[3..].to_vec())).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted);
    // The agency's quota (5 per 30 days) spans warrants: 3 used, so 3 more are refused.
    let w5 = window(START, START + 3 * DAY, 5);
    d.submit_everywhere(&w5).await.unwrap();
    d.approve(&[0], 5).await.unwrap();
    let s = d.agency_client(0).unwrap().extract_day_keys(ask(5, four[..3].to_vec())).await.unwrap_err();
    assert!(
        s.message().contains("agency quota: 3 day keys released in the last 30 days, 3 more asked, at most 5"),
        "{s:?}"
    );
    d.agency_client(0).unwrap().extract_day_keys(ask(5, four[..2].to_vec())).await.unwrap();
    let logged: usize = day_releases(&log_entries(&d, 0).await).iter().map(|(_, days)| days.len()).sum();
    assert_eq!(logged, 5, "every day key released is logged once, and nothing refused is");

    // A trustee whose policy leaves the day mode off refuses before anything else.
    let plain = deploy_plain(203).await;
    plain.clock.set(TO + 60).unwrap();
    warrant(&plain, 1, &[0]).await;
    let s =
        plain.agency_client(0).unwrap().extract_day_keys(ask(1, vec![day_item(e, "alice", day)])).await.unwrap_err();
    assert_eq!((s.code(), escrow_service::metrics::rule_of(&s)), (Code::FailedPrecondition, Some("day-keys-off")));
    assert!(day_releases(&log_entries(&plain, 0).await).is_empty());
}

/// A deployment whose first epoch comes from a key ceremony announcing `modes`, with
/// the day mode on in every trustee's policy.
async fn announced(seed: u64, modes: Modes) -> Deployment {
    let options = Options {
        name: "days".into(),
        seed: Some(seed),
        pki: Some(pki()),
        keygen: KeyGen::Ceremony,
        modes,
        policy: Arc::new(|i, court| policy(i, court, day_mode)),
        ..Options::default()
    };
    Deployment::start(options).await.unwrap()
}

/// The announcement decides: an epoch announced with both modes has its users seal a
/// day field per party and its trustees extract day keys; an epoch announced with the
/// per-message mode only gets envelopes without day fields, and its trustees refuse day
/// keys even where the policy allows them. A recipient in a day-mode epoch refuses an
/// envelope whose sender left the day fields out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epochs_announcement_decides_whether_day_fields_are_sealed_and_day_keys_extracted() {
    let both = announced(204, Modes::BOTH).await;
    assert_eq!(both.announcement.as_ref().unwrap().announcement().modes, Modes::BOTH);
    let env = both.send("alice", &["bob"], FROM + 60, "both modes").await.unwrap();
    assert!(env.has_day_fields());
    both.clock.set(TO + 60).unwrap();
    let inbox = both.user_client("bob").unwrap().inbox(both.user("bob").unwrap(), 0, None).await.unwrap();
    assert_eq!(inbox.messages.len(), 1);
    assert_eq!(inbox.messages[0].outcome.as_deref().map(|p| p.as_slice()), Ok(&b"both modes"[..]));
    warrant(&both, 1, &[0]).await;
    let e = both.keys.public.epoch();
    let r = both.agency_client(0).unwrap().extract_day_keys(ask(1, vec![day_item(e, "alice", day_of(FROM))])).await;
    assert_eq!(r.unwrap().into_inner().shares.len(), 1);

    // A sender who leaves the day fields out: the relay takes it, bob refuses it.
    let plain = Envelope::seal(
        &SealRequest {
            sender: both.user("alice").unwrap(),
            recipients: &[both.user("bob").unwrap().public()],
            epoch_key: &both.keys.public,
            message_id: [9; 16],
            timestamp: TO + 30,
            plaintext: b"no day fields",
        },
        &mut rng(9),
    )
    .unwrap();
    let relay = relay_client_at(&both.relay.addr.to_string(), &creds(Role::User, "alice"));
    relay.clone().send(pb::SendRequest { envelope: plain.as_bytes().to_vec() }).await.unwrap();
    let inbox = both.user_client("bob").unwrap().inbox(both.user("bob").unwrap(), 0, None).await.unwrap();
    let refused = inbox.messages.last().unwrap().outcome.as_ref().unwrap_err();
    assert!(refused.contains("announced with the day mode, but the envelope has no day fields"), "{refused}");

    let one = announced(205, Modes::PER_MESSAGE).await;
    assert_eq!(one.announcement.as_ref().unwrap().announcement().modes, Modes::PER_MESSAGE);
    let env = one.send("alice", &["bob"], FROM + 60, "per message").await.unwrap();
    assert!(!env.has_day_fields());
    one.clock.set(TO + 60).unwrap();
    warrant(&one, 1, &[0]).await;
    let s = one
        .agency_client(0)
        .unwrap()
        .extract_day_keys(ask(1, vec![day_item(e, "alice", day_of(FROM))]))
        .await
        .unwrap_err();
    assert_eq!(
        (s.code(), escrow_service::metrics::rule_of(&s)),
        (Code::FailedPrecondition, Some("day-mode-not-announced"))
    );
    assert!(day_releases(&log_entries(&one, 0).await).is_empty());
}

/// The agency opens a warrant's messages day by day: one day key per target and day
/// with traffic, asked of the trustees once, opens every message of that day; the
/// plaintexts are those the per-message mode opens, and the trustees logged one day
/// key per day instead of one field per message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agency_opens_a_warrant_day_by_day_with_one_key_per_target_and_day() {
    let d = announced(206, Modes::BOTH).await;
    // Alice's traffic over two days of a two-day window, and bob's with carol (no
    // target: not exported).
    let (from, to) = (START + DAY, START + 3 * DAY);
    let mut sent = Vec::new();
    for (k, ts) in [from + 60, from + 3_600, from + DAY - 1, from + DAY, from + DAY + 7_200].into_iter().enumerate() {
        let text = format!("alice {k}");
        let (a, b) = if k % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
        d.send(a, &[b], ts, &text).await.unwrap();
        sent.push(text);
    }
    d.send("bob", &["carol"], from + 120, "not a target's").await.unwrap();
    d.clock.set(to + 60).unwrap();
    let w = d.warrant(1, &["alice"], from, to).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3, 4], 1).await.unwrap();

    let agency = d.agency().await.unwrap();
    let mut opened = Vec::new();
    let report = agency
        .open_days_into(
            &w,
            |m| {
                opened.push(String::from_utf8(m.plaintext).unwrap());
                Ok(())
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(opened, sent);
    assert_eq!((report.exported, report.opened_count, report.day_keys), (5, 5, 2));
    assert!(report.failed.is_empty() && report.day_keys_failed.is_empty(), "{report:?}");
    assert_eq!(report.key_requests, 1);
    assert!(report.culprits.is_empty());
    // The per-message mode opens the same messages, asking for five fields.
    let per_message = agency.open(&w, |_| {}).await.unwrap();
    let plain: Vec<String> =
        per_message.opened.iter().map(|m| String::from_utf8(m.plaintext.clone()).unwrap()).collect();
    assert_eq!(plain, sent);
    // Each trustee that answered logged the two day keys once; asking again adds none.
    let mut with_days = 0;
    for i in 0..d.trustees.len() {
        let days: Vec<DayRelease> = day_releases(&log_entries(&d, i).await).into_iter().flat_map(|(_, d)| d).collect();
        if !days.is_empty() {
            with_days += 1;
            let mut got: Vec<u32> = days.iter().map(|r| r.day).collect();
            got.sort();
            assert_eq!(got, vec![day_of(from), day_of(from) + 1], "trustee-{i}");
            assert!(days.iter().all(|r| r.party == party_tag(&w, "alice")));
        }
    }
    assert!(with_days >= 3, "t + 1 trustees at least released the keys");
}

/// A trustee whose extraction shares are wrong (2·d_i, valid points) is named, and the
/// honest ones still make every day key; a message whose sender left the day fields
/// out is reported, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_trustees_extraction_shares_are_named_and_the_rest_open_the_days() {
    let d = announced(207, Modes::BOTH).await;
    let (from, to) = (START + DAY, START + 2 * DAY);
    d.send("alice", &["bob"], from + 60, "one").await.unwrap();
    d.send("bob", &["alice"], from + 120, "two").await.unwrap();
    let plain = Envelope::seal(
        &SealRequest {
            sender: d.user("alice").unwrap(),
            recipients: &[d.user("bob").unwrap().public()],
            epoch_key: &d.keys.public,
            message_id: [7; 16],
            timestamp: from + 180,
            plaintext: b"no day fields",
        },
        &mut rng(7),
    )
    .unwrap();
    let relay = relay_client_at(&d.relay.addr.to_string(), &creds(Role::User, "alice"));
    d.clock.set(from + 200).unwrap();
    let seq =
        relay.clone().send(pb::SendRequest { envelope: plain.as_bytes().to_vec() }).await.unwrap().into_inner().seq;
    d.clock.set(to + 60).unwrap();
    let w = d.warrant(1, &["alice"], from, to).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    d.approve(&[0, 1, 2, 3, 4], 1).await.unwrap();
    let liar = escrow_tests::byzantine::start(d.trustees[0].server.addr.to_string(), 0).await;
    let mut addrs = d.trustee_addrs();
    addrs[0] = liar.addr.to_string();
    let agency = escrow_agency::Agency::connect(&d.relay.addr.to_string(), &addrs, &agency_creds())
        .await
        .unwrap()
        .check_every_trustee(std::time::Duration::from_secs(30));
    let mut opened = Vec::new();
    let report = agency
        .open_days_into(
            &w,
            |m| {
                opened.push(m.plaintext);
                Ok(())
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(opened, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(report.day_keys, 1);
    assert_eq!(report.culprits.get("trustee-0"), Some(&1), "{:?}", report.culprits);
    assert_eq!(report.culprits.len(), 1);
    assert_eq!(report.failed, vec![(seq, escrow_agency::NotOpened::NoDayFields)]);
}
