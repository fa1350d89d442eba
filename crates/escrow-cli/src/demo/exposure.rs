//! What the system gives away without any key. Scenario G: the relay's labels answer
//! who talked to whom and when, and nothing about what or why. Scenario H: the
//! surveillance system as a target: a copy of one trustee's database lists every
//! target, case and opened message, where its public log shows only commitments.

use std::collections::{BTreeMap, BTreeSet};

use escrow_crypto::*;
use rand::rngs::OsRng;

use super::{day_time, err, join_words, narrate, role, table, Deployment, Outcome, TRAFFIC};
use crate::CliError;

/// The message dave's app leaks in the sabotaged run of scenario G: 16 bytes, the size
/// of a message id.
const LEAKED: &str = "meet at the pier";

/// One message as the relay's store shows it without a key.
struct Seen {
    from: String,
    to: Vec<String>,
    at: u64,
    bytes: usize,
}

pub(super) async fn metadata_only(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario G: metadata only ================================================");
    say!(
        "The provider's relay never holds a key. But every message's label travels in the clear, \
         because the trustees must decide from the label alone whether a warrant covers it: \
         sender, recipients, time, and the envelope's length. This is what the relay's store \
         answers about days 0 to 3, with no key and no warrant:"
    );
    // Ground truth: the traffic, plus the sabotaged run's leaking message.
    let mut truth: Vec<(String, Vec<String>, u64, &str)> = TRAFFIC
        .iter()
        .map(|m| (m.from.to_owned(), m.to.iter().map(|s| s.to_string()).collect(), day_time(m.day, m.hour), m.text))
        .collect();
    if d.sabotaged("metadata-only") {
        say!("(sabotaged run: dave's app puts the first 16 bytes of a message into its message id)");
        // Now: the relay refuses a send time far from its clock.
        let at = d.clock.now();
        let alice = d.user("alice")?.public();
        let message_id: MessageId = LEAKED.as_bytes().try_into().map_err(|_| err("the leak is not 16 bytes"))?;
        let env = Envelope::seal(
            &SealRequest {
                sender: d.user("dave")?,
                recipients: std::slice::from_ref(&alice),
                epoch_key: &d.keys.public,
                message_id,
                timestamp: at,
                plaintext: LEAKED.as_bytes(),
            },
            &mut OsRng,
        )?;
        d.post("dave", &env).await.map_err(CliError::Rpc)?;
        truth.push(("dave".into(), vec!["alice".into()], at, LEAKED));
    }
    let blobs = escrow_relay::tamper::stored_envelopes(&d.relay_dir).map_err(err)?;
    let mut seen = Vec::new();
    // Before any later scenario sends: the store holds exactly the truth's messages.
    for blob in &blobs {
        let env = Envelope::from_bytes(blob)?;
        let l = env.label();
        seen.push(Seen {
            from: l.sender().to_string(),
            to: l.recipients().iter().map(ToString::to_string).collect(),
            at: l.timestamp(),
            bytes: blob.len(),
        });
    }
    // The contact graph with times, as the labels give it and as it was.
    let graph = |rows: &mut dyn Iterator<Item = (String, Vec<String>, u64)>| {
        let mut g: BTreeSet<(String, String, u64)> = BTreeSet::new();
        for (from, to, at) in rows {
            for r in to {
                g.insert((from.clone(), r, at));
            }
        }
        g
    };
    let recovered = graph(&mut seen.iter().map(|s| (s.from.clone(), s.to.clone(), s.at)));
    let actual = graph(&mut truth.iter().map(|(f, t, at, _)| (f.clone(), t.clone(), *at)));
    // What they said: any message's text anywhere in the stored bytes.
    let found = truth
        .iter()
        .filter(|(_, _, _, text)| blobs.iter().any(|b| b.windows(text.len()).any(|w| w == text.as_bytes())))
        .count();

    let mut contacts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to, _) in &recovered {
        contacts.entry(from).or_default().insert(to);
        contacts.entry(to).or_default().insert(from);
    }
    let alice: Vec<String> =
        contacts.get("alice").map(|c| c.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    let last_ab = recovered
        .iter()
        .filter(|(f, t, _)| (f == "alice" && t == "bob") || (f == "bob" && t == "alice"))
        .map(|(_, _, at)| *at)
        .max();
    let most = contacts.values().map(BTreeSet::len).max().unwrap_or(0);
    let busiest: Vec<String> =
        contacts.iter().filter(|(_, c)| c.len() == most).map(|(who, _)| who.to_string()).collect();
    let busiest =
        format!("{}, with {most} people{}", join_words(&busiest), if busiest.len() > 1 { " each" } else { "" });
    let (small, large) = (seen.iter().map(|s| s.bytes).min(), seen.iter().map(|s| s.bytes).max());
    let mut t = table(&["question", "the relay's answer, with no key"]);
    t.add_row(vec!["Who did alice talk to?".into(), join_words(&alice)]);
    t.add_row(vec![
        "When did alice and bob last talk?".into(),
        last_ab.map(narrate::when).unwrap_or_else(|| "never".into()),
    ]);
    t.add_row(vec!["Who talks to the most people?".into(), busiest]);
    t.add_row(vec![
        "How long was each message?".into(),
        format!("exactly, to the byte: {} to {} bytes", small.unwrap_or(0), large.unwrap_or(0)),
    ]);
    t.add_row(vec![
        "What did they say, and why?".into(),
        format!("{found} of {} texts are anywhere in the store", truth.len()),
    ]);
    say!("{t}");
    say!(
        "The labels give the whole contact graph: {} of {} (sender, recipient, time) links, exact.",
        recovered.intersection(&actual).count(),
        actual.len()
    );
    say!(
        "Why it matters: the relay, whoever breaks into it, or an order served on the provider \
         gets who talked to whom and when, for every user, with no warrant and no trustee. For \
         many investigations that is the most useful part, and escrow cannot protect it: a label \
         must be readable for a warrant's scope to be checked."
    );
    let ok = recovered == actual && found == 0;
    Ok(Outcome {
        scenario: "G metadata only",
        expected: "labels give every link with its time; no text is in the store".into(),
        observed: format!(
            "{} of {} links recovered{}; {found} of {} texts found",
            recovered.intersection(&actual).count(),
            actual.len(),
            if recovered == actual { "" } else { " (differs)" },
            truth.len()
        ),
        ok,
    })
}

/// The target and case of scenario H's own warrant: someone the demo's users never
/// wrote to, so that every trace of the name comes from this warrant.
const TARGET: &str = "erin-vance";
const CASE: &str = "R v. E, 2026/140 (organised crime)";

pub(super) async fn surveillance_target(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario H: the surveillance system as a target ==========================");
    let now = d.clock.now();
    let (w, id) = d.sign_warrant(&[TARGET], day_time(0, 0), day_time(4, 0), CASE)?;
    d.submit_table(&w).await?;
    let reason = if d.sabotaged("surveillance-target") {
        say!("(sabotaged run: the operator writes the target's name into the approval's reason)");
        format!("approved: {TARGET} organises the shipments")
    } else {
        "approved: necessary and proportionate".to_owned()
    };
    d.decide_as(0, id, true, &reason).await?;
    detail!("Warrant {id}: target {TARGET}, case {CASE:?}, approved by trustee-0's operator.");
    say!(
        "{}. A court issues one more warrant, for {TARGET}, in case \"{CASE}\", and the court liaison \
         office approves it. Then an intruder copies that trustee's database, the way Salt Typhoon \
         (2024) reached the lawful-intercept systems of US telephone companies.",
        narrate::when(now).replacen("day", "Day", 1)
    );
    let dir = d.trustee(0)?.dir.clone();
    let court = d.court.public();
    let stolen = escrow_trustee::tamper::stored_warrants(&dir).map_err(err)?;
    let mut targets = BTreeSet::new();
    let mut cases = Vec::new();
    let mut agencies = BTreeSet::new();
    for s in &stolen {
        let w = VerifiedWarrant::verify(&s.warrant, &court)?;
        let body = w.body();
        targets.extend(body.targets.iter().map(ToString::to_string));
        cases.push(body.case_reference.clone());
        agencies.insert(body.agency.to_string());
    }
    let released = escrow_trustee::tamper::released_labels(&dir).map_err(err)?;
    let mut read_whom = BTreeSet::new();
    for (_, label) in &released {
        let l = Label::from_bytes(label)?;
        read_whom.insert(l.sender().to_string());
        read_whom.extend(l.recipients().iter().map(ToString::to_string));
    }
    // The public log: what auditors, witnesses and anyone fetching it get.
    let log: Vec<Vec<u8>> =
        escrow_trustee::tamper::log_entries(&dir).map_err(err)?.into_iter().map(|(_, e)| e).collect();
    let in_log = |needle: &str| log.iter().any(|e| e.windows(needle.len()).any(|w| w == needle.as_bytes()));
    let log_targets: Vec<String> = targets.iter().filter(|t| in_log(t)).cloned().collect();
    let log_cases = cases.iter().filter(|c| in_log(c)).count();

    let mut t = table(&["", "a copy of its database", "its public log"]);
    t.add_row(vec![
        "who is targeted".into(),
        format!(
            "{} warrant{}: {}",
            stolen.len(),
            if stolen.len() == 1 { "" } else { "s" },
            join_words(&targets.iter().cloned().collect::<Vec<_>>())
        ),
        if log_targets.is_empty() {
            "no one: a sealed commitment per warrant".into()
        } else {
            format!("{}, written into operators' reasons", join_words(&log_targets))
        },
    ]);
    t.add_row(vec![
        "case references".into(),
        format!("all {}", cases.len()),
        if log_cases == 0 { "none".into() } else { format!("{log_cases}") },
    ]);
    t.add_row(vec![
        "which agencies and courts, when, decided how".into(),
        format!("all ({})", join_words(&agencies.into_iter().collect::<Vec<_>>())),
        "the same".into(),
    ]);
    t.add_row(vec![
        "whose messages were read".into(),
        if released.is_empty() {
            "none yet".to_owned()
        } else {
            format!(
                "{} messages, each with sender, recipients and time: {}",
                released.len(),
                join_words(&read_whom.into_iter().collect::<Vec<_>>())
            )
        },
        "how many, as hashes: not whose".into(),
    ]);
    say!("{t}");
    say!(
        "The sealed details keep targets out of the public log until the notification date; they \
         cannot keep them out of the trustee's own database, which must read them to check scope."
    );
    say!(
        "Why it matters: a lawful-access system is also a list of who is being watched. Every \
         trustee is a place to steal that list from, and five trustees are five places; {}.",
        if log_targets.is_empty() {
            "the public log gives away no target".to_owned()
        } else {
            format!("and free-text reasons put {} into the public log itself", join_words(&log_targets))
        }
    );
    detail!("Stolen from {} ({}).", role("trustee-0"), dir.display());
    let ok = targets.contains(TARGET) && cases.iter().any(|c| c == CASE) && !in_log(TARGET) && !in_log(CASE);
    Ok(Outcome {
        scenario: "H surveillance target",
        expected: format!("the stolen database names {TARGET} and the case; the public log neither"),
        observed: format!(
            "database: warrants {}, targets {}, messages read {}; log: {TARGET} {}, case {}",
            stolen.len(),
            targets.len(),
            released.len(),
            if in_log(TARGET) { "named" } else { "absent" },
            if in_log(CASE) { "named" } else { "absent" }
        ),
        ok,
    })
}
