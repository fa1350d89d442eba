//! Scenario I: day keys. The same warrant opened in both escrow modes of epoch 2: per
//! message (a decryption share of each message from t + 1 trustees) and with one day
//! key for the target's day (an extraction share from t + 1 trustees, once). Both open
//! exactly the messages in the warrant's hours. Then the day key leaks: it opens the
//! target's messages of that day outside the warrant's hours too, with no trustee
//! asked, while the per-message mode's trustees refuse each such message.

use escrow_agency::OpenedMessage;

use std::time::Duration;

use super::adversaries::next_week;
use super::*;

/// The scenario's day: in epoch 2 (days 7 to 29), after every earlier scenario's.
const ON: u64 = 9;

/// The scenario's messages: (from, to, day, hour, minute, text).
const MESSAGES: [(&str, &str, u64, u64, u64, &str); 6] = [
    ("alice", "bob", ON, 10, 15, "the delivery comes at eleven"),
    ("bob", "alice", ON, 11, 5, "ok, I will wait at the gate"),
    ("alice", "bob", ON, 11, 40, "running ten minutes late"),
    ("alice", "bob", ON, 19, 30, "dinner at mum's tonight?"),
    ("bob", "alice", ON, 19, 45, "yes, I will bring the wine"),
    ("alice", "bob", ON + 1, 9, 0, "thanks for last night"),
];

/// The warrant's hours on [`ON`]: 10:00 to 12:00.
const HOURS: (u64, u64) = (10, 12);

fn at(day: u64, hour: u64, minute: u64) -> u64 {
    day_time(day, hour) + minute * 60
}

/// One open's figures for the table. (No wall times: at three messages they measure
/// the wait for the approval to be witnessed, not the mode; `--bench` measures both.)
struct Run {
    opened: Vec<(u64, Vec<u8>)>,
    /// Shares each trustee that released computed.
    shares_each: usize,
    what: &'static str,
    trustee_requests: usize,
}

pub(super) async fn day_keys(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario I: day keys, a cheaper way in ===================================");
    // Epoch 2 is announced with both modes; this is a no-op after key theft made it.
    next_week(d, false).await?;
    let epoch = d.keys.public.epoch();
    say!(
        "So far every message has carried one escrow field, and a warrant costs each trustee one \
         check and one share per message. Next week's key (epoch 2) also supports a second way: \
         each message carries a field per person in it, locked to that person and that day, and \
         a warrant costs each trustee one share per person and day, however many messages there \
         were. On day {ON}, alice and bob write to each other; the next morning alice writes once more."
    );
    let mut sent = Vec::new();
    for (from, to, day, hour, minute, text) in MESSAGES {
        let ts = at(day, hour, minute);
        let env = d.send(from, &[to], ts, text).await?;
        sent.push((env, text));
    }
    let from = day_time(ON, HOURS.0);
    let to = day_time(ON, HOURS.1);
    let in_hours = |env: &Envelope| (from..to).contains(&env.label().timestamp());
    d.clock.set(at(ON + 1, 12, 0)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["alice"], from, to, "R v. A (day keys)")?;
    d.quorum(&w, id).await?;
    say!(
        "A court's warrant names alice, {} to {}, and three trustees approve it. The agency opens it \
         both ways.",
        narrate::when(from),
        narrate::when(to)
    );
    detail!("Warrant {id} for alice, approved by trustee-0 and trustee-3, and trustee-2 by policy.");

    // Per message, every trustee's answer checked (as every scenario opens).
    let report = d.open(&w).await?;
    let per_message = Run {
        opened: report.opened.iter().map(|m| (m.seq, m.plaintext.clone())).collect(),
        shares_each: report.exported,
        what: "a decryption share per message",
        trustee_requests: report.share_requests,
    };
    // With day keys, every trustee's answer checked too.
    let agency = d.agency().await?.check_every_trustee(Duration::from_secs(60));
    let mut opened = Vec::new();
    let days = agency
        .open_days_into(
            &w,
            |m: OpenedMessage| {
                opened.push((m.seq, m.plaintext));
                Ok(())
            },
            |_| {},
        )
        .await
        .map_err(err)?;
    let day_run = Run {
        opened,
        shares_each: days.day_keys,
        what: "an extraction share per person and day",
        trustee_requests: days.key_requests,
    };

    // The day key, as anyone who copies it from the agency holds it: the trustees
    // release the same key again (nothing new is released or logged).
    let alice = PartyId::new("alice")?;
    let day_id = DayId::new(epoch, alice.clone(), day_of(from));
    let mut shares = Vec::new();
    for i in [0, 2, 3] {
        let r = d
            .agency_client(i)?
            .extract_day_keys(pb::ExtractDayKeysRequest {
                warrant_id: id.0.to_vec(),
                days: vec![pb::DayKeyItem { epoch: epoch.0, party: alice.to_string(), day: day_id.day() }],
            })
            .await
            .map_err(CliError::Rpc)?
            .into_inner();
        for s in &r.shares {
            shares.push(ExtractionShare::from_bytes(s)?);
        }
    }
    let (key, _) = d.keys.public.combine_day_key(&day_id, &shares)?;
    // What it opens of the provider's store, with no trustee asked.
    let mut leaked: Vec<(Envelope, bool)> = Vec::new();
    let mut other_days = 0;
    for blob in escrow_relay::tamper::stored_envelopes(&d.relay_dir).map_err(err)? {
        let env = Envelope::from_bytes(&blob)?;
        if env.label().epoch() != epoch || !env.label().parties().any(|p| *p == alice) {
            continue;
        }
        let sender = d.user(env.label().sender().as_str())?.public();
        match env.open_with_day_key(&key, &alice, &sender) {
            Ok(_) => {
                let inside = in_hours(&env);
                leaked.push((env, inside));
            }
            Err(_) => other_days += 1,
        }
    }
    let outside: Vec<&Envelope> = leaked.iter().filter(|(_, inside)| !inside).map(|(e, _)| e).collect();

    // The per-message mode, asked for one of those messages under the same warrant.
    let Some((evening, _)) = sent.iter().find(|(e, _)| !in_hours(e) && e.label().timestamp() < day_time(ON + 1, 0))
    else {
        return Err(err("the scenario's traffic has no message outside the warrant's hours"));
    };
    let mut refused = Vec::new();
    for i in [0, 2, 3] {
        let item = pb::EscrowItem { label: evening.label().to_bytes(), field: evening.field().to_bytes() };
        let r = d
            .agency_client(i)?
            .request_shares(pb::RequestSharesRequest { warrant_id: id.0.to_vec(), items: vec![item] })
            .await;
        refused.push(r.err());
    }

    let mut t = table(&["", "per message", "day keys"]);
    t.add_row(vec!["what each trustee computes".to_string(), per_message.what.into(), day_run.what.into()]);
    t.add_row(vec![
        "shares each approving trustee computed".into(),
        per_message.shares_each.to_string(),
        day_run.shares_each.to_string(),
    ]);
    t.add_row(vec![
        "requests to each trustee".into(),
        per_message.trustee_requests.to_string(),
        day_run.trustee_requests.to_string(),
    ]);
    t.add_row(vec![
        "messages opened under the warrant".into(),
        per_message.opened.len().to_string(),
        day_run.opened.len().to_string(),
    ]);
    t.add_row(vec![
        "a copy of what the agency got also opens".into(),
        "nothing else: each share fits one message".into(),
        format!("{} more of alice's messages of day {ON}, outside the warrant's hours", outside.len()),
    ]);
    say!("{t}");
    let same = {
        let mut a = per_message.opened.clone();
        let mut b = day_run.opened.clone();
        a.sort();
        b.sort();
        a == b
    };
    say!(
        "Both ways open the same {} messages, the ones in the warrant's hours{}. With day keys each \
         trustee computed {} share instead of {}: at 100,000 messages over a month that is 30 shares \
         instead of 100,000 (`escrow demo --bench` measures it).",
        day_run.opened.len(),
        if same { "" } else { " (BUT NOT THE SAME ONES)" },
        day_run.shares_each,
        per_message.shares_each,
    );
    let mut lines = String::new();
    for e in &outside {
        let text = sent.iter().find(|(s, _)| s.label() == e.label()).map_or("?", |(_, t)| *t);
        lines.push_str(&format!(
            "\n  {} {} -> {}: \"{text}\"",
            narrate::when(e.label().timestamp()),
            e.label().sender(),
            e.label().recipients().iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    say!(
        "Now the day key leaks: from the agency's computers, or passed to a partner agency. With a \
         copy of the provider's store it opens everything alice sent or received on day {ON}, \
         with no trustee asked and nothing logged, including what the warrant left out:{lines}"
    );
    say!(
        "It opens none of her {other_days} other message(s) of epoch 2: other days have other keys. \
         In the per-message mode, the same agency asking for the {} message under the same \
         warrant is refused by every trustee that approved:",
        narrate::when(evening.label().timestamp())
    );
    let mut r = table(&["trustee", "answer"]);
    for (i, s) in [0, 2, 3].iter().zip(&refused) {
        r.add_row(vec![format!("trustee-{i}"), s.as_ref().map_or("RELEASED A SHARE".to_string(), narrate::refusal)]);
    }
    say!("{r}");
    say!(
        "Why it matters: day keys make each warrant far cheaper for the trustees, and they are \
         coarser. The warrant's hours are enforced only where the relay exports; the key itself \
         opens the person's whole day, for whoever holds it. Which to run is a choice between \
         trustee work and the damage of one leaked key (docs/tradeoffs.md §1.4)."
    );
    let expected_outside = MESSAGES.iter().filter(|m| m.2 == ON && !(HOURS.0..HOURS.1).contains(&m.3)).count();
    let expected_inside = MESSAGES.iter().filter(|m| m.2 == ON && (HOURS.0..HOURS.1).contains(&m.3)).count();
    let ok = same
        && per_message.opened.len() == expected_inside
        && day_run.shares_each == 1
        && day_run.trustee_requests == 1
        && outside.len() == expected_outside
        && leaked.len() == expected_inside + expected_outside
        && refused.iter().all(|s| s.as_ref().is_some_and(|s| s.code() == tonic::Code::PermissionDenied));
    Ok(Outcome {
        scenario: "I day keys",
        expected: "both modes open the warrant's messages; a leaked day key opens the rest of the day".into(),
        observed: format!(
            "{} and {} opened; the day key opens {} outside the hours; {} of 3 trustees refuse it per message",
            per_message.opened.len(),
            day_run.opened.len(),
            outside.len(),
            refused.iter().filter(|s| s.is_some()).count()
        ),
        ok,
    })
}
