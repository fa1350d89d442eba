//! The witness scenarios: releases through a witness outage, and a trustee that forks
//! its log (scenario C: the witnesses refuse the fork, the agency gets nothing from
//! it, the auditor names the split view).

use std::sync::Arc;

use escrow_log::event::{Decision, Entry, Event};
use escrow_trustee::tamper;

use super::scenarios::involves;
use super::*;

/// The auditor's trust: every log key pinned by the deployment's witness policy, and
/// each trustee compared with the witnesses' views.
pub(super) fn policy_trust(d: &Deployment) -> Result<escrow_audit::Trust, CliError> {
    let policy = d.witness_policy()?.ok_or_else(|| err("the demo deployment has no witnesses"))?;
    let trust = escrow_audit::PolicyTrust::new(policy, Some(d.world.pki.trust())).map_err(err)?;
    Ok(escrow_audit::Trust::Policy(Arc::new(trust)))
}

/// Why the agency got nothing from a trustee, in one line: as the trustee said it
/// with `--verbose`, else in words.
fn first_error(report: &escrow_agency::OpenReport) -> String {
    let first = report.trustee_errors.iter().next().and_then(|(t, es)| Some((t, es.first()?)));
    match first {
        Some((t, e)) if narrate::verbose() => format!("{t}: {}", e.message),
        Some((_, e)) if e.message.contains("not yet in a witnessed checkpoint") => {
            "no trustee releases: the approvals are not in a log 2 witnesses countersigned".to_owned()
        }
        Some((t, e)) => format!("{}: {}", role(t), narrate::plain_times(&e.message)),
        None => String::new(),
    }
}

/// A new warrant for dave over days 1-2, approved by every operator (trustee-2 approves
/// by policy), and what opening it gives now.
async fn fresh_open(d: &Deployment, case: &str) -> Result<escrow_agency::OpenReport, CliError> {
    let (w, id) = d.sign_warrant(&["dave"], day_time(1, 0), day_time(3, 0), case)?;
    d.submit_table(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide_as(i, id, true, "approved").await?;
    }
    d.open(&w).await
}

pub(super) async fn witness_outage(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 9: witnesses ====================================================");
    d.restart_down().await?;
    d.clock.set(day_time(4, 12)).map_err(err)?;
    let expected = TRAFFIC.iter().filter(|m| involves(m, "dave") && (1..3).contains(&m.day)).count();
    say!(
        "Three independent witnesses keep a copy of each trustee's log fingerprint and countersign \
         it, so a trustee cannot show different histories to different people. A trustee releases a \
         share only once 2 of the 3 have countersigned the approval. Each row: a new warrant for \
         dave's messages of {}, approved by every trustee.",
        narrate::days(day_time(1, 0), day_time(3, 0))
    );
    let mut t = table(&["witnesses up", "opened", "not opened", "why not"]);
    let mut ok = true;
    let steps: [(&[usize], &[usize], bool); 4] =
        [(&[], &[], true), (&[0], &[], true), (&[1], &[], false), (&[], &[0, 1], true)];
    for (k, (stop, start, want_open)) in steps.iter().enumerate() {
        for j in *stop {
            d.stop_witness(*j).await?;
        }
        for j in *start {
            d.restart_witness(*j).await?;
        }
        let up: Vec<String> = d.witnesses.iter().filter(|w| w.server.is_up()).map(|w| w.name.clone()).collect();
        let report = fresh_open(d, &format!("R v. D, 2026/2{k:02}")).await?;
        let why = if report.opened.len() == expected { String::new() } else { first_error(&report) };
        t.add_row(vec![
            format!("{} ({})", up.len(), up.join(", ")),
            report.opened.len().to_string(),
            (expected - report.opened.len().min(expected)).to_string(),
            why,
        ]);
        ok &= if *want_open { report.opened.len() == expected } else { report.opened.is_empty() };
    }
    say!("{t}");
    detail!(
        "Like a trustee outage: with a quorum of 2 of 3, one witness may be down; one more and releases\n\
         stop (each trustee refuses UNAVAILABLE and releases nothing) until a witness is back."
    );
    say!(
        "Why it matters: witnesses make each trustee's log the same for everyone who checks it, at \
         a price: one more thing that can be down. With 2 of 3 needed, one may fail; two stop every \
         release until one is back."
    );
    Ok(Outcome {
        scenario: "9 witness outage",
        expected: "opens with 3 or 2 witnesses up, stops with 1".into(),
        observed: if ok { "as expected".into() } else { "differs".into() },
        ok,
    })
}

pub(super) async fn split_view(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario C: a trustee that rewrites its log ==============================");
    d.restart_down().await?;
    for j in 0..d.witnesses.len() {
        if !d.witness(j)?.server.is_up() {
            d.restart_witness(j).await?;
        }
    }
    // A lawful release at every trustee, witnessed as usual.
    d.send("dave", &["bob"], day_time(4, 12), "the keys are under the mat").await?;
    d.clock.set(day_time(4, 13)).map_err(err)?;
    let (w0, id0) = d.sign_warrant(&["dave"], day_time(4, 0), day_time(4, 13), "R v. D, 2026/299")?;
    d.submit_table(&w0).await?;
    for i in [0, 1, 3, 4] {
        d.decide_as(i, id0, true, "approved").await?;
    }
    let first = d.open(&w0).await?;
    detail!(
        "A warrant for dave's message of day 4 is approved everywhere; the agency opens {} message(s).",
        first.opened.len()
    );
    // The release itself is witnessed with the next publication.
    d.wait_witnessed(1, std::time::Duration::from_secs(10)).await?;
    // trustee-1 hides that release: its log entry becomes a denial, rehashed so that its
    // own tree and its new checkpoints (signed by its real key) are consistent.
    let dir = d.trustee(1)?.dir.clone();
    d.trustee_mut(1)?.server.stop().await;
    let entries = tamper::log_entries(&dir).map_err(err)?;
    let (index, hidden) = entries
        .iter()
        .find_map(|(i, e)| match Entry::from_bytes(e) {
            Ok(Entry { time, event: Event::SharesReleased { warrant_id, .. } }) if warrant_id == id0.0 => {
                Some((*i, (time, warrant_id)))
            }
            _ => None,
        })
        .ok_or_else(|| err("trustee-1 logged no release"))?;
    let lie = Entry {
        time: hidden.0,
        event: Event::WarrantDecided {
            warrant_id: hidden.1,
            decision: Decision::Deny,
            operator: "op-1".into(),
            reason: "not proportionate".into(),
        },
    };
    tamper::rewrite_log_entry_rehashed(&dir, index, &lie.to_bytes().map_err(err)?).map_err(err)?;
    d.restart_trustee(1).await?;
    detail!(
        "trustee-1 (or whoever holds its database and log key) rewrites its release under warrant {}\n\
         into a denial and keeps serving the forked log, signed with its real key.",
        WarrantId(hidden.1)
    );

    // The fork can never be witnessed: trustee-1's next approval gets no witnessed proof.
    d.send("dave", &["alice"], day_time(4, 14), "meet at six").await?;
    d.clock.set(day_time(4, 15)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["dave"], day_time(4, 14), day_time(4, 15), "R v. D, 2026/300")?;
    d.submit_table(&w).await?;
    for i in [1, 4] {
        d.decide_as(i, id, true, "approved").await?;
    }
    let report = d.open(&w).await?;
    let refused = report
        .trustee_errors
        .iter()
        .find(|(t, _)| *t == "trustee-1")
        .and_then(|(_, es)| es.first().map(|e| e.message.clone()))
        .unwrap_or_default();
    detail!(
        "dave sends another message; a warrant for it is approved by trustee-1 and trustee-4 (and trustee-2 by\n\
         policy): trustee-1 is needed for t + 1 = 3 shares. The witnesses refuse every checkpoint of the fork (422: no consistency\n\
         proof from what they cosigned), so trustee-1 never gets its approval witnessed and releases nothing:\n  {}\n\
         opened: {} message(s). A trustee modified to release anyway would send shares without a witnessed\n\
         approval, which the agency refuses (tests/witness.rs).",
        refused.chars().take(240).collect::<String>(),
        report.opened.len()
    );
    say!(
        "Day 4. A warrant for one of dave's messages is approved everywhere and the agency opens \
         {} message. Then the civil-liberties body's trustee (trustee-1), or whoever holds its \
         database and signing key, rewrites that release in its log into a denial, and keeps \
         serving the rewritten log, signed with its real key.",
        first.opened.len()
    );
    say!(
        "A second warrant for dave needs trustee-1's share. The witnesses refuse to countersign the \
         rewritten log, which does not extend what they saw, so trustee-1's approval is never \
         witnessed and it releases nothing: {} messages open.",
        report.opened.len()
    );

    // A first-time auditor with the deployment's policy: the witnesses' views name it.
    let fresh = d.dir.join("auditor-split-view");
    let audits = escrow_audit::verify_with(
        &d.trustee_addrs(),
        &d.auditor_creds()?,
        &fresh,
        d.clock.now(),
        &[d.court.public()],
        &policy_trust(d)?,
    )
    .await;
    let mut t = table(&["trustee log", "result"]);
    let mut named = false;
    let mut verdict = String::new();
    for a in &audits {
        let name = a.origin.clone().unwrap_or_else(|| a.addr.clone());
        let result = match &a.result {
            Ok(_) => "verified".to_string(),
            Err(e) => {
                if matches!(e, escrow_audit::AuditFailure::SplitView { trustee, .. } if trustee == "escrow-trustee/trustee-1")
                {
                    named = true;
                    verdict = e.to_string();
                }
                e.to_string()
            }
        };
        t.add_row(vec![name, result]);
    }
    detail!("An auditor that never saw these logs before, with the deployment's witness policy:\n{t}");
    say!(
        "An auditor who never saw these logs before compares each with what the witnesses \
         countersigned, and names trustee-1: {}",
        if named { "a split view (its log contradicts what the witnesses saw)." } else { "it does NOT." }
    );
    detail!("{verdict}");
    say!(
        "Why it matters: a trustee cannot act on one history and show auditors another; unless \
         it also corrupts 2 of the 3 witnesses."
    );
    let ok = first.opened.len() == 1
        && report.opened.is_empty()
        && refused.contains("not yet in a witnessed checkpoint")
        && named;
    Ok(Outcome {
        scenario: "C split view",
        expected: "fork gets no witnessed release; auditor names trustee-1".into(),
        observed: format!(
            "{} opened; trustee-1 {}; auditor {}",
            report.opened.len(),
            if refused.is_empty() { "released" } else { "refused" },
            if named { "named it (split view)" } else { "did not name it" }
        ),
        ok,
    })
}
