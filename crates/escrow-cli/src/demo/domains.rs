//! Scenario J: only our own users. Two escrow domains, "uk" and "us", each with its own
//! three trustees, court and agency, and a third, "free", with no escrow at all; users
//! certified in their home domain by that domain's identity provider. The same
//! conversations of bob, a US user, go through a real relay under two composition
//! rules, and a UK warrant on bob is opened by the UK agency alone: under any-of it
//! opens exactly his messages with UK users; under all-of none, until the US quorum
//! hands over its parts (cross-border cooperation).

use std::sync::Arc;

use escrow_agency::{Agency, ForeignFieldKeys, NotOpened};
use escrow_crypto::{Domain, Jurisdictions, PartyId, Rule, UserSecretKey};
use escrow_kit::{Deployment as Kit, KeyGen, Launch, Options, Pki};
use escrow_pki::federation::Pattern;
use escrow_pki::Identity;
use escrow_trustee::policy::{DomainRule, ForeignTargets};
use escrow_user::UserClient;
use rand::rngs::OsRng;

use super::{err, table, Deployment, Outcome};
use crate::CliError;

/// The demo's conversations across the three domains: (from, to, text).
const TALK: [(&str, &str, &str); 10] = [
    ("bob", "alice", "are you coming to the conference in London?"),
    ("alice", "bob", "yes, landing Tuesday"),
    ("bob", "alice", "send me the draft before then"),
    ("bob", "dave", "lunch on Friday?"),
    ("dave", "bob", "sure, the usual place"),
    ("bob", "dave", "the board meets Monday"),
    ("dave", "bob", "I'll bring the numbers"),
    ("bob", "carol", "thanks for the introduction"),
    ("carol", "bob", "any time"),
    ("alice", "carol", "see you in Lisbon"),
];

/// Each user and the domain that certifies them.
const HOMES: [(&str, &str); 4] = [("alice", "uk"), ("bob", "us"), ("dave", "us"), ("carol", "free")];

/// The warrant's target: a US user.
const TARGET: &str = "bob";

fn dom(s: &str) -> Result<Domain, CliError> {
    Ok(Domain::new(s)?)
}

fn home_of(user: &str) -> &'static str {
    HOMES.iter().find(|(u, _)| *u == user).map_or("none", |(_, h)| h)
}

/// One domain: three trustees of their own (any two open) that make the domain's key
/// in a key ceremony of their own, their court and agency, in this process; the
/// trustees answer for their own domain's fields only, and for
/// warrants on users of other domains too (`foreign_targets = "allow"`: the question).
async fn domain(pki: &Arc<Pki>, name: &str, seed: u64) -> Result<Kit, CliError> {
    let home = dom(name)?;
    let options = Options {
        name: format!("demo-{name}"),
        n: 3,
        t: 1,
        seed: Some(seed),
        users: Vec::new(),
        court: format!("{name}-court"),
        launch: Launch::InProcess,
        keygen: KeyGen::Ceremony,
        pki: Some(pki.clone()),
        policy: Arc::new(move |i, court| {
            let mut p = escrow_kit::default_policy(i, court);
            p.jurisdiction = DomainRule { domain: Some(home.clone()), foreign_targets: ForeignTargets::Allow };
            p
        }),
        ..Options::default()
    };
    Ok(Kit::start(options).await?)
}

/// Domain `name`'s agency, at the relay `relay`, with `k`'s trustees: it believes their
/// epoch key only as they announced it, under their pinned signing keys.
async fn agency_of(k: &Kit, relay: &str, name: &str) -> Result<Agency, CliError> {
    let a = Agency::connect_with(relay, &k.trustee_addrs(), &k.agency_creds()?, Some(&k.world.pins)).await?;
    Ok(a.for_domain(dom(name)?))
}

/// What one rule came to.
struct Run {
    rule: Rule,
    /// Bob's messages the relay holds.
    target_messages: usize,
    /// Of them, those with a UK user.
    with_uk: usize,
    /// Opened by the UK agency alone.
    uk_alone: usize,
    /// Of those, any without a UK party (must be none).
    uk_alone_beyond: usize,
    /// Failed at the UK agency because the US part is needed too.
    need_us: usize,
    /// Opened by the UK agency given the US agency's parts.
    with_us_quorum: usize,
}

/// A relay of the three domains under `rule`, the users registered with certificates
/// naming their homes, the conversations sent, and the UK warrant (and the US one)
/// opened.
async fn run(
    uk: &Kit,
    us: &Kit,
    pki: &Arc<Pki>,
    (name, rule): (&str, Rule),
    warrants: (&[u8], &[u8]),
) -> Result<Run, CliError> {
    let jurisdictions = Jurisdictions::new(
        rule,
        [(dom("uk")?, Some(uk.keys.public.clone())), (dom("us")?, Some(us.keys.public.clone())), (dom("free")?, None)],
    )?;
    let dir = uk.world.path(format!("relay-{name}"));
    let mut config = escrow_relay::RelayConfig::new(
        &dir,
        uk.keys.public.clone(),
        vec![uk.court.public(), us.court.public()],
        uk.clock.shared(),
    );
    config.jurisdictions = Some(jurisdictions.clone());
    let relay = uk.start_relay_with(config).await?;
    let addr = relay.addr.to_string();
    let mut users = Vec::new();
    for (name, home) in HOMES {
        let key = UserSecretKey::generate(PartyId::new(name)?, &mut OsRng);
        let creds = pki.creds(&Identity::user_of(dom(home)?, PartyId::new(name)?))?;
        let mut client = UserClient::connect(&addr, &creds).map_err(CliError::User)?;
        client.use_jurisdictions(jurisdictions.clone());
        client.register(&key).await.map_err(CliError::User)?;
        users.push((name, key, client));
    }
    let now = uk.clock.now();
    for (k, (from, to, text)) in TALK.iter().enumerate() {
        let (_, key, client) = users.iter().find(|(n, _, _)| n == from).ok_or_else(|| err(format!("no {from}")))?;
        let sent = client
            .send_across(key, &[PartyId::new(*to)?], text.as_bytes(), now + k as u64, &mut OsRng)
            .await
            .map_err(CliError::User)?;
        let fields: Vec<String> = sent.envelope.domains().map(ToString::to_string).collect();
        detail!(
            "{rule}: {from} ({}) -> {to} ({}): fields {:?}",
            home_of(from),
            home_of(to),
            fields,
            rule = rule.name()
        );
    }
    // Every recipient reads its inbox: every message opens under the same rule.
    for (name, key, client) in &users {
        let inbox = client.inbox(key, 0, None).await.map_err(CliError::User)?;
        if inbox.refused() > 0 {
            return Err(err(format!("{name} refused {} of their messages under {}", inbox.refused(), rule.name())));
        }
    }
    let target_messages = TALK.iter().filter(|(f, t, _)| *f == TARGET || *t == TARGET).count();
    let with_uk = TALK
        .iter()
        .filter(|(f, t, _)| (*f == TARGET || *t == TARGET) && (home_of(f) == "uk" || home_of(t) == "uk"))
        .count();

    let alone = agency_of(uk, &addr, "uk").await?.open(warrants.0, |_| {}).await?;
    let uk_alone = alone.opened_count;
    let uk_alone_beyond =
        alone.opened.iter().filter(|m| m.label.parties().all(|p| home_of(p.as_str()) != "uk")).count();
    let need_us =
        alone.failed.iter().filter(|(_, e)| matches!(e, NotOpened::NeedsOtherDomains(d) if d == &["us"])).count();
    // Cross-border cooperation: a US court's warrant on bob, the US quorum's parts.
    let us_report = agency_of(us, &addr, "us").await?.open(warrants.1, |_| {}).await?;
    let parts: ForeignFieldKeys = us_report.field_keys.iter().map(|(_, k)| k.clone()).collect();
    let with_us_quorum = if parts.is_empty() {
        uk_alone
    } else {
        agency_of(uk, &addr, "uk").await?.with_foreign_field_keys(parts).open(warrants.0, |_| {}).await?.opened_count
    };
    relay.shut_down().await?;
    Ok(Run { rule, target_messages, with_uk, uk_alone, uk_alone_beyond, need_us, with_us_quorum })
}

pub(super) async fn own_users(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario J: only our own users ===========================================");
    say!(
        "In 2025 the UK's notice to Apple first reached users worldwide; after objections from \
         other governments, a later one reached British users only. \"Only our own users\" is the \
         usual shape of the demand now. Here there are three escrow domains: \"uk\" and \"us\", \
         each with three trustees of its own (who made that domain's key in a ceremony of their \
         own), a court and an agency, and \"free\", with no escrow at all. Alice lives in the UK, bob and dave in the US, carol in the free domain; each \
         one's home is in the certificate their own country's identity provider issued, and every \
         app reads it from there, not from the provider's directory."
    );
    let patterns = |ps: &[&str]| ps.iter().map(|p| Pattern::parse(p).map_err(err)).collect::<Result<Vec<_>, _>>();
    let orgs = vec![
        ("operators".to_string(), patterns(&["trustee/*", "operator/*/*", "relay/*", "agency/*", "auditor/*"])?),
        ("uk-ids".to_string(), patterns(&["user/uk/*"])?),
        ("us-ids".to_string(), patterns(&["user/us/*"])?),
        ("free-ids".to_string(), patterns(&["user/free/*"])?),
    ];
    let pki = Arc::new(Pki::with_organisations("demo-domains", 30, orgs)?);
    let uk = domain(&pki, "uk", 41).await?;
    let us = domain(&pki, "us", 42).await?;
    let now = uk.clock.now() + 7_200;
    uk.clock.set(now)?;
    us.clock.set(now)?;
    // A UK court's warrant on bob, a US user, for today; and a US court's on him.
    let window = (now - 3_600, now + 3_600);
    let uk_warrant = uk.warrant(1, &[TARGET], window.0, window.1)?;
    let us_warrant = us.warrant(1, &[TARGET], window.0, window.1)?;
    for (k, w) in [(&uk, &uk_warrant), (&us, &us_warrant)] {
        k.submit_everywhere(w).await?;
        k.approve(&[0, 1, 2], 1).await?;
    }
    // Sabotaged (test only): the "all-of" relay and apps run any-of after all.
    let strict = if d.sabotaged("own-users") { Rule::AnyOf } else { Rule::AllOf };
    let any = run(&uk, &us, &pki, ("any-of", Rule::AnyOf), (&uk_warrant, &us_warrant)).await?;
    let all = run(&uk, &us, &pki, ("all-of", strict), (&uk_warrant, &us_warrant)).await?;
    let share =
        |n: usize| format!("{n} of {} ({:.0}%)", any.target_messages, 100.0 * n as f64 / any.target_messages as f64);
    say!(
        "Bob wrote or received {} of the {} messages: {} with alice in the UK, the rest with dave \
         in the US and carol. The same conversations ran twice through a real relay, which checked \
         every message's escrow fields against the homes in the certificates. Then a UK court's \
         warrant on bob, a US user, went to the UK's trustees, who by policy answer warrants on \
         users of other countries too (that is the question; their other setting refuses them).",
        any.target_messages,
        TALK.len(),
        any.with_uk
    );
    let mut t = table(&["rule", "the UK agency alone", "with the US quorum's parts"]);
    for r in [&any, &all] {
        t.add_row(vec![
            format!(
                "{} ({})",
                r.rule.name(),
                if r.rule == Rule::AnyOf { "each country opens alone" } else { "both countries must agree" }
            ),
            share(r.uk_alone),
            share(r.with_us_quorum),
        ]);
    }
    say!("{t}");
    // The same rule over a whole population: the calculator's default model.
    let model = escrow_tradeoffs::Scenario::default();
    let flows = model.flows().map_err(escrow_tradeoffs::TradeoffError::from)?;
    let reach = |opener, victim| {
        100.0
            * escrow_tradeoffs::reach_share(escrow_tradeoffs::Rule::AnyOf, opener, victim, &flows, &model.jurisdictions)
    };
    say!(
        "Under any-of the UK opens exactly bob's messages with a UK user, and nothing between \
         Americans: \"only our own users\" still reaches every foreigner who talks to one. Under \
         all-of each UK-US message needs both countries' trustees, as mutual legal assistance does \
         today: the UK alone opens none of them, and {} once the US quorum agrees. Across a whole \
         population (`escrow tradeoffs jurisdictions`: the UK {:.0}% of users, the US {:.0}%, and an \
         assumed {:.0}% of contacts across borders), any-of lets the UK alone read {:.2}% of US \
         users' messages, and the US alone {:.2}% of UK users' messages (docs/tradeoffs.md, \
         \"Only our own users\").",
        all.with_us_quorum,
        100.0 * model.jurisdictions.first().map_or(0.0, |j| j.share),
        100.0 * model.jurisdictions.get(1).map_or(0.0, |j| j.share),
        100.0 * model.cross_border,
        reach(0, 1),
        reach(1, 0)
    );
    say!(
        "Why it matters: a capability \"for our own users\" is a capability for every conversation \
         they are part of. Whether it reaches foreigners is a choice of rule, not of intent: any-of \
         gives each government the other's citizens' cross-border messages, all-of gives neither \
         anything without the other, at the price of needing both for every such case."
    );
    let ok = any.uk_alone == any.with_uk
        && any.uk_alone_beyond == 0
        && all.uk_alone == 0
        && all.need_us == any.with_uk
        && all.with_us_quorum == any.with_uk;
    Ok(Outcome {
        scenario: "J only our own users",
        expected: "a UK warrant on a US user: any-of opens his messages with UK users only; all-of none without the \
                   US quorum"
            .into(),
        observed: format!(
            "any-of: UK alone {}, {} beyond UK users; all-of: UK alone {}, with the US quorum {}",
            share(any.uk_alone),
            any.uk_alone_beyond,
            share(all.uk_alone),
            share(all.with_us_quorum)
        ),
        ok,
    })
}
