//! The scenarios played by honest parties: traffic, lawful access, a denied warrant,
//! over-reach, an outage, and the auditor (with tampered logs).

use super::*;

pub(super) fn involves(m: &Msg, user: &str) -> bool {
    m.from == user || m.to.contains(&user)
}

pub(super) async fn traffic(d: &Deployment) -> Result<Vec<Envelope>, CliError> {
    let mut out = Vec::new();
    for m in TRAFFIC {
        out.push(d.send(m.from, m.to, day_time(m.day, m.hour), m.text).await?);
    }
    // Every recipient reads its messages (and checks each escrow field).
    for (m, env) in TRAFFIC.iter().zip(&out) {
        for r in m.to {
            let pt = env.open(d.user(r)?, &d.user(m.from)?.public(), &d.keys.public)?;
            if pt != m.text.as_bytes() {
                return Err(err("a recipient read something else than was sent"));
            }
        }
    }
    say!(
        "\nDays 0 to 3: {} messages between alice, bob, carol and dave. Each recipient opens its \
         messages, and its app checks that each escrow field really holds that message's key.",
        TRAFFIC.len()
    );
    Ok(out)
}

pub(super) fn opened_table(report: &escrow_agency::OpenReport, in_scope: &dyn Fn(&Msg) -> bool) -> (Table, bool) {
    let mut t = table(&["sent", "from", "to", "warrant covers it", "opened", "what the agency read"]);
    let opened: BTreeSet<(String, u64)> =
        report.opened.iter().map(|o| (o.label.sender().to_string(), o.label.timestamp())).collect();
    let mut ok = true;
    for m in TRAFFIC {
        let ts = day_time(m.day, m.hour);
        let was_opened = opened.contains(&(m.from.to_string(), ts));
        let text = report
            .opened
            .iter()
            .find(|o| o.label.timestamp() == ts && o.label.sender().as_str() == m.from)
            .map(|o| String::from_utf8_lossy(&o.plaintext).to_string())
            .unwrap_or_else(|| "(sealed)".into());
        let scope = in_scope(m);
        if scope != was_opened || (was_opened && text != m.text) {
            ok = false;
        }
        t.add_row(vec![
            narrate::when(ts),
            m.from.into(),
            m.to.join(", "),
            if scope { "yes" } else { "no" }.into(),
            if was_opened { "yes" } else { "no" }.into(),
            text,
        ]);
    }
    (t, ok)
}

pub(super) async fn lawful_access(d: &Deployment) -> Result<(Outcome, Vec<u8>), CliError> {
    say!("\n== Scenario 1: lawful access ================================================");
    d.clock.set(day_time(4, 9)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["alice"], day_time(1, 0), day_time(3, 0), "R v. A, 2026/117")?;
    detail!("Day 4, 09:00. high-court signs warrant {id}: target alice, window days 1-2 (2 days).");
    let submitted = Instant::now();
    let submissions = d.submit_table(&w).await?;
    detail!("{submissions}");
    d.decide_as(0, id, true, "lawful, necessary and proportionate").await?;
    d.decide_as(3, id, true, "approved by committee vote").await?;
    detail!("Operators of trustee-0 and trustee-3 approve; trustee-2 approved on receipt by policy: 3 of 5.");
    let report = d.open(&w).await?;
    let latency = submitted.elapsed();
    let in_scope = TRAFFIC.iter().filter(|m| involves(m, "alice") && (1..3).contains(&m.day)).count();
    let refusing: Vec<String> = report.trustee_errors.refusing().iter().map(|t| role(t)).collect();
    say!(
        "Day 4, 09:00. A court signs a warrant for alice's messages of {}, and the police agency \
         sends it to all five trustees. The court liaison office and the parliamentary committee \
         approve; the provider's policy approves on receipt: 3 of 5. The other {} ({}) do not \
         approve, and release nothing.",
        narrate::days(day_time(1, 0), day_time(3, 0)),
        refusing.len(),
        join_words(&refusing)
    );
    let (t, ok) = opened_table(&report, &|m| involves(m, "alice") && (1..3).contains(&m.day));
    say!("{t}");
    say!(
        "Exactly the {} messages the warrant covers opened; the {} others stayed sealed. From \
         submission to plaintext took {:.0} ms of computing, with the trustees deciding at once; in \
         real life the people who decide set the pace.",
        report.opened.len(),
        TRAFFIC.len() - report.opened.len(),
        latency.as_secs_f64() * 1000.0
    );
    detail!(
        "The relay exported {} envelopes; the agency opened {}; trustees not approving refused: {}.",
        report.exported,
        report.opened.len(),
        report.trustee_errors.refusing().join(", ")
    );
    say!(
        "Why it matters: a warrant opens what it names, message by message, and nothing else; \
         the cryptography enforces that, not the agency's restraint."
    );
    Ok((
        Outcome {
            scenario: "1 lawful access",
            expected: format!("exactly the {in_scope} in-scope messages open"),
            observed: format!(
                "{} opened, {} out-of-scope stayed sealed",
                report.opened.len(),
                TRAFFIC.len() - report.opened.len()
            ),
            ok: ok && report.opened.len() == in_scope,
        },
        w,
    ))
}

pub(super) async fn denied(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 2: denied ========================================================");
    d.clock.set(day_time(4, 10)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["bob"], day_time(0, 0), day_time(2, 0), "R v. B, 2026/118")?;
    detail!("high-court signs warrant {id}: target bob, window days 0-1.");
    let submissions = d.submit_table(&w).await?;
    detail!("{submissions}");
    d.decide_as(0, id, true, "lawful").await?;
    d.decide_as(1, id, false, "not proportionate: bob is a witness, not a suspect").await?;
    if d.sabotage.as_deref() == Some("denied") {
        say!("(sabotaged run: trustee-3's operator approves after all)");
        d.decide_as(3, id, true, "approved").await?;
    } else {
        d.decide_as(3, id, false, "insufficient grounds").await?;
    }
    detail!("trustee-0 approves, trustee-2 approved by policy; trustee-1 and trustee-3 deny: 2 of 5.");
    say!(
        "Day 4, 10:00. A court signs a warrant for bob's messages of {}. The court liaison office \
         approves and the provider's policy approves on receipt, but the civil-liberties body \
         denies it (\"not proportionate: bob is a witness, not a suspect\") and so does the \
         parliamentary committee: 2 of 5.",
        narrate::days(day_time(0, 0), day_time(2, 0))
    );
    let report = d.open(&w).await?;
    let (t, _) = opened_table(&report, &|m| involves(m, "bob") && m.day < 2);
    detail!("{t}");
    say!(
        "The agency fetches the {} messages the warrant covers and opens {}: {}.",
        report.exported,
        report.opened.len(),
        report.failed.first().map(|(_, why)| why.to_string()).unwrap_or_else(|| "nothing failed".into())
    );
    say!(
        "Why it matters: no single body, not the court, the police or the provider, can open a \
         message; it takes three of five organisations that answer to different people."
    );
    Ok(Outcome {
        scenario: "2 denied",
        expected: "nothing opens with 2 approvals".into(),
        observed: format!("{} exported, {} opened", report.exported, report.opened.len()),
        ok: report.opened.is_empty() && report.exported > 0,
    })
}

pub(super) async fn over_reach(d: &Deployment, w: &[u8], sent: &[Envelope]) -> Result<Outcome, CliError> {
    say!("\n== Scenario 3: over-reach ===================================================");
    let vw = VerifiedWarrant::verify(w, &d.court.public())?;
    let id = vw.id();
    let find = |from: &str, day: u64| {
        TRAFFIC.iter().zip(sent).find(|(m, _)| m.from == from && m.day == day).map(|(_, e)| e.clone())
    };
    let (Some(carol_dave), Some(alice_day3), Some(alice_day2)) = (find("carol", 1), find("alice", 3), find("alice", 2))
    else {
        return Err(err("demo traffic changed"));
    };
    let item = |label: &Envelope, field: &Envelope| pb::EscrowItem {
        label: label.label().to_bytes(),
        field: field.field().to_bytes(),
    };
    let attempts = [
        (
            format!("carol -> dave, {} (alice is not in it)", narrate::when(carol_dave.label().timestamp())),
            item(&carol_dave, &carol_dave),
            tonic::Code::PermissionDenied,
        ),
        (
            format!(
                "alice -> bob, {} (the window is {})",
                narrate::when(alice_day3.label().timestamp()),
                narrate::days(day_time(1, 0), day_time(3, 0))
            ),
            item(&alice_day3, &alice_day3),
            tonic::Code::PermissionDenied,
        ),
        (
            "carol's escrow field under the label of alice's day-2 message (relabeled)".to_owned(),
            item(&alice_day2, &carol_dave),
            tonic::Code::InvalidArgument,
        ),
    ];
    detail!("The agency holds warrant {id} (approved by 3 trustees) and asks trustee-0 directly:");
    say!(
        "With alice's warrant, approved by three trustees, the agency asks the court liaison office \
         directly for three messages the warrant does not cover:"
    );
    let mut t = table(&["request", "the court liaison office answers"]);
    let mut ok = true;
    let mut c = d.agency_client(0)?;
    let before =
        c.get_warrant(pb::GetWarrantRequest { warrant_id: id.0.to_vec() }).await.map_err(CliError::Rpc)?.into_inner();
    for (what, it, code) in attempts {
        let r = c.request_shares(pb::RequestSharesRequest { warrant_id: id.0.to_vec(), items: vec![it] }).await;
        match r {
            Ok(_) => {
                ok = false;
                t.add_row(vec![what, "RELEASED A SHARE".into()]);
            }
            Err(s) => {
                ok &= s.code() == code;
                t.add_row(vec![what, narrate::refusal(&s)]);
            }
        }
    }
    let after =
        c.get_warrant(pb::GetWarrantRequest { warrant_id: id.0.to_vec() }).await.map_err(CliError::Rpc)?.into_inner();
    say!("{t}");
    say!(
        "Fields released under this warrant by the court liaison office: {} before, {} after. The \
         refusals changed nothing.",
        before.fields_released,
        after.fields_released
    );
    say!(
        "Why it matters: the agency cannot stretch a warrant, and each refusal names the rule it \
         broke: every message is checked against the warrant, not taken on trust."
    );
    ok &= before.fields_released == after.fields_released;
    Ok(Outcome {
        scenario: "3 over-reach",
        expected: "out-of-scope and relabeled fields refused, rule named".into(),
        observed: format!("3 refused; released {} -> {}", before.fields_released, after.fields_released),
        ok,
    })
}

pub(super) async fn outage(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 7: trustee outage ===============================================");
    d.clock.set(day_time(4, 11)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["carol"], day_time(1, 0), day_time(3, 0), "R v. C, 2026/119")?;
    detail!("high-court signs warrant {id}: target carol, window days 1-2. Every operator approves.");
    say!(
        "Day 4, 11:00. A warrant for carol's messages of {}, approved by all five trustees. Then \
         trustees go down, one after another:",
        narrate::days(day_time(1, 0), day_time(3, 0))
    );
    d.submit_table(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide_as(i, id, true, "approved").await?;
    }
    let expected = TRAFFIC.iter().filter(|m| involves(m, "carol") && (1..3).contains(&m.day)).count();
    let mut t = table(&["trustees up", "opened", "not opened", "why not"]);
    let mut down: Vec<String> = Vec::new();
    let mut ok = true;
    for (kill, want_open) in [(vec![], true), (vec![4, 1], true), (vec![3], false)] {
        for i in kill {
            let t = d.trustee_mut(i)?;
            t.server.kill();
            down.push(if narrate::verbose() { t.name.clone() } else { role(&t.name) });
        }
        let up = d.trustees.iter().filter(|t| t.server.is_up()).count();
        let report = d.open(&w).await?;
        let mut why = report.failed.first().map(|(_, w)| w.to_string()).unwrap_or_default();
        if !down.is_empty() {
            let verb = if down.len() == 1 { "is" } else { "are" };
            why = format!("{} {verb} down. {why}", join_words(&down));
        }
        t.add_row(vec![up.to_string(), report.opened.len().to_string(), report.failed.len().to_string(), why]);
        ok &= if want_open { report.opened.len() == expected } else { report.opened.is_empty() };
    }
    say!("{t}");
    detail!("With n = 5 and t = 2, up to n - t - 1 = 2 trustees may be down; one more and access stops.");
    say!(
        "Why it matters: the threshold that keeps a thief out (3 of 5) also stops lawful access \
         once 3 trustees are down, refuse, or are cut off. Safety and availability pull against \
         each other, and no threshold gives both."
    );
    Ok(Outcome {
        scenario: "7 outage",
        expected: "opens with 3 up, stops with 2 up".into(),
        observed: if ok { "as expected".into() } else { "differs".into() },
        ok,
    })
}

/// The auditor verifies every trustee's log, reconciles them and prints the public
/// report; then two trustees' stored logs are tampered with and the auditor must
/// name each trustee and what broke.
///
/// Without `tamper` (`--keep`: the deployment is kept) only the first part runs. The
/// full report goes to `report_path` (and beside the deployment); the reader gets five
/// lines.
pub(super) async fn audit(d: &mut Deployment, tamper: bool, report_path: &Path) -> Result<Vec<Outcome>, CliError> {
    say!("\n== Scenarios A and B: the auditor ===========================================");
    d.restart_down().await?;
    let state = d.dir.join("auditor");
    let now = d.clock.now();
    let courts = vec![d.court.public()];
    // The auditor pins every log key from the deployment's witness policy (no trust on
    // first use) and compares each log with what the witnesses cosigned.
    let trust = super::witnessing::policy_trust(d)?;
    let audits = escrow_audit::verify_with(&d.trustee_addrs(), &d.auditor_creds()?, &state, now, &courts, &trust).await;
    let mut t = table(&["trustee log", "entries", "verified"]);
    let mut all_ok = true;
    let mut logs = Vec::new();
    for a in audits {
        let name = a.origin.clone().unwrap_or_else(|| a.addr.clone());
        match a.result {
            Ok(log) => {
                t.add_row(vec![
                    name,
                    log.checkpoint().size().to_string(),
                    format!(
                        "pinned key, consistency, root, every entry; witnesses {}",
                        a.witnessed.iter().map(|(w, n)| format!("{w}@{n}")).collect::<Vec<_>>().join(" ")
                    ),
                ]);
                logs.push(log);
            }
            Err(e) => {
                all_ok = false;
                t.add_row(vec![name, a.size.map(|s| s.to_string()).unwrap_or_default(), format!("FAILED: {e}")]);
            }
        }
    }
    detail!("{t}");
    let rec = escrow_audit::reconcile_at(&logs, 2, d.clock.now());
    let report = escrow_audit::report(&logs, &rec);
    std::fs::write(d.dir.join("report.md"), report.to_markdown()).map_err(|e| CliError::io(&d.dir, e))?;
    std::fs::write(d.dir.join("report.json"), report.to_json().map_err(err)?).map_err(|e| CliError::io(&d.dir, e))?;
    std::fs::write(report_path, report.to_markdown()).map_err(|e| CliError::io(report_path, e))?;
    detail!("{}", report.to_markdown());
    let entries: u64 = report.logs.iter().map(|l| l.size).sum();
    let opened: u64 = report.per_agency.iter().map(|r| r.messages_opened).sum();
    say!(
        "The auditor fetches all five trustee logs and checks each: {entries} entries, every \
         signature, every link to what it saw before, every witness countersignature. {} of {} \
         logs verify.",
        logs.len(),
        d.trustees.len()
    );
    say!(
        "Reconciling the logs against each other: {} warrants, {opened} messages opened, {} flags \
         (a release without approvals, after a revocation, or to another agency would be one).",
        report.per_warrant.len(),
        rec.flags.len()
    );
    for f in &rec.flags {
        say!("FLAG: {f}");
    }
    say!("The full report, per warrant, agency, court, trustee and month: {}", report_path.display());
    let mut outcomes = vec![Outcome {
        scenario: "A audit",
        expected: "every log verifies, reconcile finds nothing".into(),
        observed: format!("{} logs verified, {} flags", logs.len(), rec.flags.len()),
        ok: all_ok && logs.len() == d.trustees.len() && rec.flags.is_empty(),
    }];
    if !tamper {
        say!("Why it matters: every use of the front door leaves evidence that outsiders can check.");
        return Ok(outcomes);
    }

    // Tampering: an approval rewritten at trustee-3, the last entry deleted at trustee-0.
    {
        use escrow_trustee::tamper;
        let t3 = d.dir.join("trustee-3");
        let needle = b"op-3";
        let (idx, mut entry) = tamper::log_entries(&t3)
            .map_err(err)?
            .into_iter()
            .find(|(_, e)| e.windows(needle.len()).any(|w| w == needle))
            .ok_or_else(|| err("trustee-3 logged no approval"))?;
        let last = entry.windows(needle.len()).position(|w| w == needle).map(|pos| pos + needle.len() - 1);
        if let Some(byte) = last.and_then(|k| entry.get_mut(k)) {
            *byte = b'X';
        }
        tamper::rewrite_log_entry(&t3, idx, &entry).map_err(err)?;
        tamper::delete_last_log_entry(&d.dir.join("trustee-0")).map_err(err)?;
    }
    say!(
        "Then someone with access to the databases rewrites an approval in the parliamentary \
         committee's log (trustee-3) and deletes the last entry of the court liaison office's \
         (trustee-0)."
    );
    let audits = escrow_audit::verify_with(&d.trustee_addrs(), &d.auditor_creds()?, &state, now, &courts, &trust).await;
    let mut t = table(&["trustee log", "result"]);
    let mut caught = BTreeSet::new();
    for a in &audits {
        let name = a.origin.clone().unwrap_or_else(|| a.addr.clone());
        match &a.result {
            Ok(_) => {
                t.add_row(vec![name, "verified".into()]);
            }
            Err(e) => {
                caught.insert(name.clone());
                t.add_row(vec![name, e.to_string()]);
            }
        }
    }
    detail!("{t}");
    let named: Vec<String> =
        caught.iter().map(|origin| origin.rsplit('/').next().unwrap_or(origin).to_owned()).collect();
    say!(
        "The auditor runs again and names {}: each log no longer matches the checkpoint its trustee \
         signed and the witnesses countersigned.",
        if named.is_empty() { "nobody".to_owned() } else { join_words(&named) }
    );
    say!(
        "Why it matters: every use of the front door leaves evidence that outsiders can check, and \
         rewriting it is caught. The back door of scenario 6 leaves none."
    );
    let want: BTreeSet<String> = ["trustee-0", "trustee-3"]
        .iter()
        .map(|t| PartyId::new(*t).map(|t| escrow_trustee::log_origin(&t)))
        .collect::<Result<_, _>>()?;
    outcomes.push(Outcome {
        scenario: "B tampered logs",
        expected: "auditor names trustee-0 and trustee-3".into(),
        observed: format!("named {}", caught.iter().cloned().collect::<Vec<_>>().join(", ")),
        ok: caught == want,
    });
    Ok(outcomes)
}
