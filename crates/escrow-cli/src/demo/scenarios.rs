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
    println!(
        "\nFour days of traffic: {} messages between alice, bob, carol and dave, each with an escrow\n\
         field; every recipient opened its messages and checked their escrow fields.",
        TRAFFIC.len()
    );
    Ok(out)
}

pub(super) fn opened_table(report: &escrow_agency::OpenReport, in_scope: &dyn Fn(&Msg) -> bool) -> (Table, bool) {
    let mut t = table(&["day", "from", "to", "in scope", "opened", "plaintext seen by the agency"]);
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
            format!("{} {:02}:00", m.day, m.hour),
            m.from.into(),
            m.to.join(","),
            if scope { "yes" } else { "no" }.into(),
            if was_opened { "yes" } else { "no" }.into(),
            text,
        ]);
    }
    (t, ok)
}

pub(super) async fn lawful_access(d: &Deployment) -> Result<(Outcome, Vec<u8>), CliError> {
    println!("\n== Scenario 1: lawful access ==================================================");
    d.clock.set(day_time(4, 9)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["alice"], day_time(1, 0), day_time(3, 0), "R v. A, 2026/117")?;
    println!("Day 4, 09:00. high-court signs warrant {id}: target alice, window days 1-2 (2 days).");
    let submitted = Instant::now();
    println!("{}", d.submit_table(&w).await?);
    d.decide_as(0, id, true, "lawful, necessary and proportionate").await?;
    d.decide_as(3, id, true, "approved by committee vote").await?;
    println!("Operators of trustee-0 and trustee-3 approve; trustee-2 approved on receipt by policy: 3 of 5.");
    let report = d.open(&w).await?;
    let latency = submitted.elapsed();
    let (t, ok) = opened_table(&report, &|m| involves(m, "alice") && (1..3).contains(&m.day));
    println!("{t}");
    println!(
        "From submission to plaintext: {:.0} ms of machine time (submit to 5 trustees, 2 approvals, export,\n\
         shares from 5 trustees, combine, decrypt), with the operators deciding instantly. In practice\n\
         their deliberation, not the cryptography, sets the latency.",
        latency.as_secs_f64() * 1000.0
    );
    let in_scope = TRAFFIC.iter().filter(|m| involves(m, "alice") && (1..3).contains(&m.day)).count();
    println!(
        "The relay exported {} envelopes; the agency opened {}; trustees not approving refused: {}.",
        report.exported,
        report.opened.len(),
        report.trustee_errors.refusing().join(", ")
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
    println!("\n== Scenario 2: denied ==========================================================");
    d.clock.set(day_time(4, 10)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["bob"], day_time(0, 0), day_time(2, 0), "R v. B, 2026/118")?;
    println!("high-court signs warrant {id}: target bob, window days 0-1.");
    println!("{}", d.submit_table(&w).await?);
    d.decide_as(0, id, true, "lawful").await?;
    d.decide_as(1, id, false, "not proportionate: bob is a witness, not a suspect").await?;
    if d.sabotage.as_deref() == Some("denied") {
        println!("(sabotaged run: trustee-3's operator approves after all)");
        d.decide_as(3, id, true, "approved").await?;
    } else {
        d.decide_as(3, id, false, "insufficient grounds").await?;
    }
    println!("trustee-0 approves, trustee-2 approved by policy; trustee-1 and trustee-3 deny: 2 of 5.");
    let report = d.open(&w).await?;
    let (t, _) = opened_table(&report, &|m| involves(m, "bob") && m.day < 2);
    println!("{t}");
    if let Some((_, why)) = report.failed.first() {
        println!("Each in-scope message stays sealed: {why}.");
    }
    Ok(Outcome {
        scenario: "2 denied",
        expected: "nothing opens with 2 approvals".into(),
        observed: format!("{} exported, {} opened", report.exported, report.opened.len()),
        ok: report.opened.is_empty() && report.exported > 0,
    })
}

pub(super) async fn over_reach(d: &Deployment, w: &[u8], sent: &[Envelope]) -> Result<Outcome, CliError> {
    println!("\n== Scenario 3: over-reach ======================================================");
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
        ("carol -> dave, day 1 (not a target)", item(&carol_dave, &carol_dave), tonic::Code::PermissionDenied),
        ("alice -> bob, day 3 (after the window)", item(&alice_day3, &alice_day3), tonic::Code::PermissionDenied),
        (
            "carol's field under alice's day-2 label (relabeled)",
            item(&alice_day2, &carol_dave),
            tonic::Code::InvalidArgument,
        ),
    ];
    println!("The agency holds warrant {id} (approved by 3 trustees) and asks trustee-0 directly:");
    let mut t = table(&["request", "trustee-0 answers"]);
    let mut ok = true;
    let mut c = d.agency_client(0)?;
    let before =
        c.get_warrant(pb::GetWarrantRequest { warrant_id: id.0.to_vec() }).await.map_err(CliError::Rpc)?.into_inner();
    for (what, it, code) in attempts {
        let r = c.request_shares(pb::RequestSharesRequest { warrant_id: id.0.to_vec(), items: vec![it] }).await;
        match r {
            Ok(_) => {
                ok = false;
                t.add_row(vec![what.to_string(), "RELEASED A SHARE".into()]);
            }
            Err(s) => {
                ok &= s.code() == code;
                t.add_row(vec![what.to_string(), format!("{:?}: {}", s.code(), s.message())]);
            }
        }
    }
    let after =
        c.get_warrant(pb::GetWarrantRequest { warrant_id: id.0.to_vec() }).await.map_err(CliError::Rpc)?.into_inner();
    println!("{t}");
    println!(
        "Fields released under this warrant at trustee-0: {} before, {} after. The refusals changed nothing.",
        before.fields_released, after.fields_released
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
    println!("\n== Scenario 7: trustee outage ==================================================");
    d.clock.set(day_time(4, 11)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["carol"], day_time(1, 0), day_time(3, 0), "R v. C, 2026/119")?;
    println!("high-court signs warrant {id}: target carol, window days 1-2. Every operator approves.");
    d.submit_table(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide_as(i, id, true, "approved").await?;
    }
    let expected = TRAFFIC.iter().filter(|m| involves(m, "carol") && (1..3).contains(&m.day)).count();
    let mut t = table(&["trustees up", "opened", "not opened", "why"]);
    let mut down: Vec<String> = Vec::new();
    let mut ok = true;
    for (kill, want_open) in [(vec![], true), (vec![4, 1], true), (vec![3], false)] {
        for i in kill {
            let t = d.trustee_mut(i)?;
            t.server.kill();
            down.push(t.name.clone());
        }
        let up = d.trustees.iter().filter(|t| t.server.is_up()).count();
        let report = d.open(&w).await?;
        let mut why = report.failed.first().map(|(_, w)| w.to_string()).unwrap_or_default();
        if !down.is_empty() {
            why = format!("{} unreachable. {why}", down.join(", "));
        }
        t.add_row(vec![up.to_string(), report.opened.len().to_string(), report.failed.len().to_string(), why]);
        ok &= if want_open { report.opened.len() == expected } else { report.opened.is_empty() };
    }
    println!("{t}");
    println!("With n = 5 and t = 2, up to n - t - 1 = 2 trustees may be down; one more and access stops.");
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
/// Without `tamper` (`--keep`: the deployment is kept) only the first part runs.
pub(super) async fn audit(d: &mut Deployment, tamper: bool) -> Result<Vec<Outcome>, CliError> {
    println!("\n== The auditor =================================================================");
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
    println!("{t}");
    let rec = escrow_audit::reconcile_at(&logs, 2, d.clock.now());
    let report = escrow_audit::report(&logs, &rec);
    std::fs::write(d.dir.join("report.md"), report.to_markdown()).map_err(|e| CliError::io(&d.dir, e))?;
    std::fs::write(d.dir.join("report.json"), report.to_json().map_err(err)?).map_err(|e| CliError::io(&d.dir, e))?;
    println!("{}", report.to_markdown());
    for f in &rec.flags {
        println!("FLAG: {f}");
    }
    let mut outcomes = vec![Outcome {
        scenario: "A audit",
        expected: "every log verifies, reconcile finds nothing".into(),
        observed: format!("{} logs verified, {} flags", logs.len(), rec.flags.len()),
        ok: all_ok && logs.len() == d.trustees.len() && rec.flags.is_empty(),
    }];
    if !tamper {
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
    println!("Someone with access to their databases rewrites an approval in trustee-3's log and deletes");
    println!("the last entry of trustee-0's log. The auditor runs again:");
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
    println!("{t}");
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
