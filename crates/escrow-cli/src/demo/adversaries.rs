//! Scenarios 4-6 and 8: what escrow does against people who do not play along — a
//! rogue client forging escrow fields, two colluding users superencrypting, a thief
//! holding t+1 key shares, and a trustee cheating in a key ceremony.

use std::time::{Duration, Instant};

use escrow_crypto::sealed::{self, KdfParams, Unlock};
use escrow_crypto::*;
use escrow_proto::v1 as pb;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::{day_time, err, narrate, table, Deployment, Outcome, DAY, EPOCH1_DESTROY_AT};
use crate::files::SecretArgs;
use crate::CliError;

impl Deployment {
    pub(super) fn sabotaged(&self, scenario: &str) -> bool {
        self.sabotage.as_deref() == Some(scenario)
    }

    /// Submits `w` and approves it at trustee-0 and trustee-3 (trustee-2 approves by
    /// policy): a quorum of three.
    pub(super) async fn quorum(&self, w: &[u8], id: WarrantId) -> Result<(), CliError> {
        self.submit_table(w).await?;
        self.decide_as(0, id, true, "approved").await?;
        self.decide_as(3, id, true, "approved").await
    }

    /// `user`'s inbox (sequence number, envelope), as the user fetches it.
    async fn inbox(&self, user: &str) -> Result<Vec<(u64, Envelope)>, CliError> {
        let page = self.user_client(user)?.fetch_page(&PartyId::new(user)?, 0, 0).await.map_err(err)?;
        page.envelopes.iter().map(|s| Ok((s.seq, Envelope::from_bytes(&s.envelope)?))).collect()
    }

    /// The sum of every trustee's log size, read as the auditor.
    pub(super) async fn total_log_entries(&self) -> Result<u64, CliError> {
        let mut total = 0;
        for t in &self.trustees {
            let cp = escrow_service::transport::audit_client(&t.server.addr.to_string(), &self.auditor_creds()?)
                .map_err(err)?
                .get_checkpoint(pb::GetCheckpointRequest {})
                .await
                .map_err(CliError::Rpc)?
                .into_inner();
            total += cp.checkpoint.lines().nth(1).and_then(|l| l.parse::<u64>().ok()).unwrap_or(0);
        }
        Ok(total)
    }
}

/// Scenario 4: a rogue client (dave's) sends escrow fields that do not carry the
/// message key — Blaze's 1994 attack on the Clipper LEAF. Two kinds: a well-formed
/// field for another random key (passes every public check: only someone holding the
/// key can tell), and a field copied from another message (fails the public check).
pub(super) async fn forged_field(d: &Deployment, sent: &[Envelope]) -> Result<Outcome, CliError> {
    say!("\n== Scenario 4: forged escrow field (Blaze, 1994) =============================");
    say!(
        "In 1994 Matt Blaze showed that the US Clipper chip's escrow field could be forged, so a \
         modified phone could skip escrow. Here dave's app is modified the same way: it never \
         escrows the real message key. On day 5 it sends carol five messages: three carry a \
         well-formed field for some other random key, two a field copied from an earlier message."
    );
    let honest = d.sabotaged("forged-field");
    if honest {
        say!("(sabotaged run: dave's client escrows honestly after all)");
    }
    let carol = d.user("carol")?.public();
    let copied: Vec<EscrowField> = sent.iter().take(2).map(|e| *e.field()).collect();
    // (time, kind, what the relay said, seq if accepted)
    let mut rows: Vec<(String, &str, String, Option<u64>)> = Vec::new();
    let (mut tried, mut refused_by_relay) = (0, 0);
    for k in 0..5u64 {
        let ts = day_time(5, 9 + k);
        d.clock.set(ts).map_err(err)?;
        let text = format!("forged-field message {k}");
        let mut message_id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut OsRng, &mut message_id);
        let req = SealRequest {
            sender: d.user("dave")?,
            recipients: std::slice::from_ref(&carol),
            epoch_key: &d.keys.public,
            message_id,
            timestamp: ts,
            plaintext: text.as_bytes(),
        };
        let kind = if k < 3 { "field for another key" } else { "field copied from another message" };
        let env = Envelope::seal_dangerous_with_field(&req, &mut OsRng, |epk, label, dk| {
            if honest {
                EscrowField::seal(epk, label, dk)
            } else if k < 3 {
                EscrowField::seal(epk, label, &DataKey::generate(&mut OsRng))
            } else {
                copied.get((k as usize - 3) % copied.len().max(1)).cloned().ok_or(Error::FieldMismatch)
            }
        })?;
        tried += 1;
        let (said, seq) = match d.post("dave", &env).await {
            Ok(r) if narrate::verbose() => (format!("accepted as #{}", r.seq), Some(r.seq)),
            Ok(r) => ("accepted".to_owned(), Some(r.seq)),
            Err(s) => {
                refused_by_relay += 1;
                (narrate::refusal(&s), None)
            }
        };
        rows.push((narrate::when(ts), kind, said, seq));
    }
    // carol's (honest) client reads her inbox: every field is re-derived from the key
    // she unwraps and compared.
    let dave = d.user("dave")?.public();
    let (mut read, mut refused_by_carol) = (0, 0);
    let mut verdicts = std::collections::BTreeMap::new();
    for (seq, env) in d.inbox("carol").await? {
        if env.label().sender().as_str() != "dave" || env.label().timestamp() < day_time(5, 0) {
            continue;
        }
        let verdict = match env.open(d.user("carol")?, &dave, &d.keys.public) {
            Ok(_) => {
                read += 1;
                "read it".to_string()
            }
            Err(Error::FieldMismatch) if !narrate::verbose() => {
                refused_by_carol += 1;
                "refused: the field does not hold this message's key".to_string()
            }
            Err(e) => {
                refused_by_carol += 1;
                format!("refused: {e}")
            }
        };
        verdicts.insert(seq, verdict);
    }
    let mut t = table(&["sent", "forgery", "the provider's relay", "carol's app"]);
    for (when, kind, said, seq) in rows {
        let carol_says = seq.and_then(|s| verdicts.get(&s).cloned()).unwrap_or_else(|| "-".into());
        t.add_row(vec![when, kind.to_string(), said, carol_says]);
    }
    say!("{t}");

    // What the agency would get from dave's accepted messages under a warrant.
    d.clock.set(day_time(5, 20)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["dave"], day_time(5, 0), day_time(6, 0), "R v. D, 2026/120")?;
    d.quorum(&w, id).await?;
    let report = d.open(&w).await?;
    detail!("Warrant {id} for dave (day 5), approved by trustee-0 and trustee-3, and trustee-2 by policy.");
    say!(
        "Under a warrant for dave's messages of day 5, the agency fetches the {} that the relay \
         accepted and opens {}: {}.",
        report.exported,
        report.opened.len(),
        report.failed.first().map(|(_, why)| why.to_string()).unwrap_or_else(|| "nothing failed".into())
    );
    say!(
        "Why it matters: the relay's public check catches copied fields, and only the recipient, who \
         holds the key, can catch the rest. One rogue app gains nothing, because honest recipients \
         refuse what it sends; escrow fails only when both ends are rogue (scenario 5)."
    );
    let ok = read == 0 && refused_by_relay + refused_by_carol == tried;
    Ok(Outcome {
        scenario: "4 forged field",
        expected: format!("all {tried} forgeries refused, none read"),
        observed: format!(
            "{tried} tried: {refused_by_relay} refused by the relay, {refused_by_carol} by carol, {read} read"
        ),
        ok,
    })
}

/// Scenario 5: alice and bob superencrypt with a key they agreed elsewhere, inside
/// perfectly valid envelopes. A lawful warrant opens the envelopes and finds only the
/// inner ciphertext.
pub(super) async fn circumvention(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 5: circumvention ================================================");
    say!(
        "alice and bob agreed a passphrase in person. On day 6 they encrypt every message with it \
         before the escrow app sees it (here with argon2id and AES-256-GCM; any tool will do), and \
         send it as usual."
    );
    let plain = d.sabotaged("circumvention");
    if plain {
        say!("(sabotaged run: they forget to superencrypt)");
    }
    let shared = b"met at the bridge, 2026-02-14";
    let texts = ["the shipment is on friday", "use the north gate", "burn this after reading"];
    let mut sent = Vec::new();
    for (k, text) in texts.iter().enumerate() {
        let inner = if plain {
            text.as_bytes().to_vec()
        } else {
            sealed::seal(text.as_bytes(), &Unlock::Passphrase(shared), KdfParams::insecure_fast(), &mut OsRng)?
        };
        let (from, to) = if k % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
        sent.push(d.send_bytes(from, &[to], day_time(6, 9 + k as u64), &inner).await?);
    }
    // The colluders read each other fine.
    let mut they_read = 0;
    for (k, (env, text)) in sent.iter().zip(texts).enumerate() {
        let (from, to) = if k % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
        let outer = env.open(d.user(to)?, &d.user(from)?.public(), &d.keys.public)?;
        let inner = if plain { outer } else { sealed::open(&outer, &Unlock::Passphrase(shared))?.to_vec() };
        they_read += usize::from(inner == text.as_bytes());
    }
    d.clock.set(day_time(6, 20)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["alice"], day_time(6, 0), day_time(7, 0), "R v. A and B, 2026/121")?;
    d.quorum(&w, id).await?;
    let report = d.open(&w).await?;
    let mut t = table(&["message", "the agency opened the envelope", "what the agency reads"]);
    let mut readable = 0;
    for o in &report.opened {
        let is_text = texts.iter().any(|x| o.plaintext == x.as_bytes());
        readable += usize::from(is_text);
        let shown = if is_text {
            String::from_utf8_lossy(&o.plaintext).to_string()
        } else {
            format!("{} bytes of ciphertext: {}…", o.plaintext.len(), hex::encode(o.plaintext.get(..12).unwrap_or(&[])))
        };
        let to: Vec<String> = o.label.recipients().iter().map(ToString::to_string).collect();
        t.add_row(vec![format!("{} -> {}", o.label.sender(), to.join(",")), "yes".into(), shown]);
    }
    detail!("Warrant {id} for alice (day 6), approved by trustee-0 and trustee-3, and trustee-2 by policy.");
    say!("A warrant for alice's messages of day 6 is approved by three trustees:");
    say!("{t}");
    say!(
        "The warrant worked exactly as designed: {} of {} envelopes opened, {} readable. alice \
         and bob read all {they_read}.",
        report.opened.len(),
        sent.len(),
        readable
    );
    say!(
        "Why it matters: escrow only ever reads people who do not try to hide. Anyone who adds a \
         second layer, or uses an app without escrow, is untouched, while everyone else's \
         messages carry the risk of scenario 6."
    );
    let ok = they_read == texts.len() && report.opened.len() == texts.len() && readable == 0;
    Ok(Outcome {
        scenario: "5 circumvention",
        expected: format!("{} envelopes open, 0 readable; the pair reads all", texts.len()),
        observed: format!("{} opened, {readable} readable; the pair read {they_read}", report.opened.len()),
        ok,
    })
}

/// Decrypts every epoch-1 envelope in the relay's database with `shares` (at least t+1
/// of one key set): what a thief holding the shares and a copy of the traffic can read.
pub(super) fn thief_reads(
    d: &Deployment,
    shares: &[TrusteeKeyShare],
    epk: &EpochPublicKey,
) -> Result<(usize, usize), CliError> {
    let blobs = escrow_relay::tamper::stored_envelopes(&d.relay_dir).map_err(err)?;
    let (mut total, mut opened) = (0, 0);
    for blob in blobs {
        let env = Envelope::from_bytes(&blob)?;
        if env.label().epoch() != EpochId(1) {
            continue;
        }
        total += 1;
        let ds: Vec<DecryptionShare> = shares.iter().map(|s| s.decrypt_share_unchecked(env.field())).collect();
        let Ok(key) = epk.combine(env.field(), env.label(), &ds) else { continue };
        let sender = d.user(env.label().sender().as_str())?.public();
        opened += usize::from(env.open_with_data_key(&key.data_key, &sender, epk).is_ok());
    }
    Ok((total, opened))
}

/// What a thief who copies trustee `i`'s data directory and learns its passphrase takes:
/// its share of every epoch it still holds, as `(epoch, generation, share)`.
pub(super) fn steal(d: &Deployment, i: usize) -> Result<Vec<(u64, u32, TrusteeKeyShare)>, CliError> {
    let dir = &d.trustee(i)?.dir;
    let secret = SecretArgs { passphrase: Some(d.passphrase.clone()), passphrase_file: None, insecure_fast_kdf: false };
    let seal_file = dir.join(crate::serve::SEAL_KEY_FILE);
    let seal = secret.read_sealed(&seal_file)?;
    let seal: [u8; 32] = seal.as_slice().try_into().map_err(|_| CliError::bad_file(&seal_file, "not a sealing key"))?;
    let rows = escrow_trustee::tamper::ceremony_shares(dir).map_err(err)?;
    rows.into_iter()
        .map(|(epoch, generation, blob)| {
            let bytes = sealed::open(&blob, &Unlock::KeyFile(&seal))?;
            Ok((epoch, generation, TrusteeKeyShare::from_bytes(&bytes)?))
        })
        .collect()
}

/// The epoch-1 share trustee `i` holds now, if any.
pub(super) fn steal_epoch1(d: &Deployment, i: usize) -> Result<Option<(u32, TrusteeKeyShare)>, CliError> {
    Ok(steal(d, i)?.into_iter().find(|(e, _, _)| *e == 1).map(|(_, g, s)| (g, s)))
}

/// A ceremony among all five trustees, proposed by trustee-0, for the per-message mode
/// alone or with `modes`.
fn ceremony_spec(
    epoch: u64,
    reshare: bool,
    valid_from: u64,
    destroy_at: u64,
    modes: escrow_crypto::Modes,
) -> escrow_kit::CeremonySpec {
    escrow_kit::CeremonySpec {
        epoch: EpochId(epoch),
        threshold: 2,
        players: (0..5).collect(),
        dealers: Vec::new(),
        reshare,
        proposer: 0,
        valid_from,
        destroy_at,
        phase_ms: 3_000,
        modes,
    }
}

/// Scenario 8: in a key ceremony, trustee-1 sends trustee-3 a share that does not
/// decrypt, and honest ones to everyone else. trustee-3 complains; trustee-1 must
/// reveal the share (or be disqualified); every trustee ends in the same state.
pub(super) async fn cheating_dealer(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 8: a cheating trustee in the key ceremony =======================");
    d.restart_down().await?;
    d.trustee_mut(1)?.misbehave.cheat_on = Some(PartyId::new("trustee-3")?);
    d.restart_trustee(1).await?;
    say!(
        "The five trustees make a trial key in a ceremony (epoch 9, not used for messages). The \
         civil-liberties body's program (trustee-1) is modified to cheat: it deals the \
         parliamentary committee (trustee-3) a share that does not work, and honest shares to the \
         others, all under one public commitment."
    );
    let now = d.clock.now();
    let outcome = d.ceremony(&ceremony_spec(9, false, now, now + 30 * DAY, Modes::PER_MESSAGE)).await?;
    d.trustee_mut(1)?.misbehave.cheat_on = None;
    d.restart_trustee(1).await?;
    let mut t = table(&["trustee", "saw trustee-3's complaint", "saw the revealed share", "disqualified", "ended"]);
    let first = outcome.statuses.first().map(|s| s.announcement.clone()).unwrap_or_default();
    let mut ok = outcome.announcement.is_some() && outcome.statuses.len() == 5;
    for (i, s) in outcome.statuses.iter().enumerate() {
        let has = |needle: &str| s.steps.iter().any(|x| x.contains(needle));
        let complained = has("trustee-3 complained about trustee-1");
        let revealed = has("trustee-1 revealed trustee-3's share");
        let disqualified = s.steps.iter().filter(|x| x.contains("disqualified")).cloned().collect::<Vec<_>>();
        ok &= complained && revealed && disqualified.is_empty() && s.announcement == first;
        let ended = if s.phase == "installed" {
            format!("installed {}…", hex::encode(Sha256::digest(&s.announcement).get(..6).unwrap_or_default()))
        } else {
            format!("{}: {}", s.phase, s.abort_reason)
        };
        t.add_row(vec![
            format!("trustee-{i}"),
            if complained { "yes" } else { "NO" }.into(),
            if revealed { "yes" } else { "NO" }.into(),
            if disqualified.is_empty() { "nobody".into() } else { disqualified.join("; ") },
            ended,
        ]);
    }
    detail!("{t}");
    let installed = outcome.statuses.iter().filter(|s| s.phase == "installed").count();
    say!(
        "trustee-3 complains; trustee-1 must reveal the share in the open, and everyone checks it \
         against trustee-1's commitment. {installed} of 5 trustees installed the same key, under one \
         announcement all five signed. Had trustee-1 stayed silent, every honest trustee would have \
         disqualified it."
    );
    say!(
        "Why it matters: nobody has to trust whoever makes the key. Cheating in the ceremony is \
         caught in public, and no one ever holds the whole key."
    );
    Ok(Outcome {
        scenario: "8 cheating dealer",
        expected: "complaint answered, every trustee installs the same key".into(),
        observed: format!(
            "{} of 5 installed, {} announcement(s)",
            outcome.statuses.iter().filter(|s| s.phase == "installed").count(),
            outcome.statuses.iter().map(|s| &s.announcement).collect::<std::collections::BTreeSet<_>>().len()
        ),
        ok,
    })
}

/// Day 7: epoch 2 is made in a ceremony, with both escrow modes (scenario I opens it
/// with day keys), and new traffic uses it; with `destroy`, day 8:
/// every trustee destroys its epoch-1 share on schedule (waited for). Done once per run:
/// a later call only destroys, if an earlier one did not.
pub(super) async fn next_week(d: &mut Deployment, destroy: bool) -> Result<(), CliError> {
    if !d.next_week {
        d.clock.set(day_time(7, 0)).map_err(err)?;
        let e2 = d.ceremony(&ceremony_spec(2, false, day_time(7, 0), day_time(30, 0), Modes::BOTH)).await?;
        let e2 = e2.announcement.ok_or_else(|| err(format!("the epoch-2 ceremony failed: {:?}", e2.statuses)))?;
        d.adopt(e2).await?;
        d.send("alice", &["bob"], day_time(7, 9), "new epoch, new key").await?;
        d.send("carol", &["dave"], day_time(7, 10), "did you get the tickets?").await?;
        d.next_week = true;
    }
    if destroy && d.clock.now() < EPOCH1_DESTROY_AT {
        d.clock.set(EPOCH1_DESTROY_AT + 60).map_err(err)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        for i in 0..5 {
            while steal_epoch1(d, i)?.is_some() {
                if Instant::now() > deadline {
                    return Err(err(format!("trustee-{i} did not destroy its epoch-1 share on schedule")));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// Scenario 6: t+1 shares of epoch 1 are stolen (or three trustees collude): every
/// message of the epoch opens, and no log records anything. A thief who gathers shares
/// over time is stopped by a refresh (old and new shares do not combine); and once the
/// epoch's shares are destroyed on schedule — each trustee on its own, logged — the
/// same theft afterwards opens nothing of it.
pub(super) async fn key_theft(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario 6: key theft, or keys under doormats ============================");
    d.restart_down().await?;
    let epoch1 = d.keys.public.clone();
    let mut stolen = Vec::new();
    for i in [0usize, 2, 4] {
        stolen.push(steal_epoch1(d, i)?.ok_or_else(|| err(format!("trustee-{i} holds no epoch-1 share")))?);
    }
    let shares: Vec<TrusteeKeyShare> =
        stolen.iter().map(|(_, s)| TrusteeKeyShare::from_bytes(&s.to_bytes())).collect::<Result<_, _>>()?;
    let logs_before = d.total_log_entries().await?;
    let (total, opened_before) = thief_reads(d, &shares, &epoch1)?;
    let logs_after = d.total_log_entries().await?;
    say!(
        "The critics' central warning: a way in for the police is a way in for everyone. A thief, \
         or three trustees acting together, copies the disks of the court liaison office, the \
         provider and the foreign trustee, with their passwords, and the provider's message store. \
         Nobody is asked. Offline, the thief opens {opened_before} of the {total} messages of this week \
         (the other {} carry the forged fields of scenario 4). The five trustee logs hold \
         {logs_before} entries before and {logs_after} after: no warrant, no approval, no trace.",
        total - opened_before
    );

    // A slower thief: trustee-0's and trustee-2's shares now, a third one later. The
    // trustees refresh epoch 1 in between (same holders, same public key, new shares).
    say!(
        "A slower thief takes two shares, not enough. The trustees then refresh the week's key \
         (same key, fresh shares), and the thief takes a third share, a new one."
    );
    let now = d.clock.now();
    let refreshed = d.ceremony(&ceremony_spec(1, true, now, EPOCH1_DESTROY_AT, Modes::PER_MESSAGE)).await?;
    let refreshed =
        refreshed.announcement.ok_or_else(|| err(format!("the refresh failed: {:?}", refreshed.statuses)))?;
    let new_key = refreshed.key_set().clone();
    d.adopt(refreshed).await?;
    let (g4, s4) = steal_epoch1(d, 4)?.ok_or_else(|| err("trustee-4 holds no epoch-1 share"))?;
    // trustee-0's and trustee-2's old shares, and trustee-4's new one.
    let mut mixed =
        shares.iter().take(2).map(|s| TrusteeKeyShare::from_bytes(&s.to_bytes())).collect::<Result<Vec<_>, _>>()?;
    mixed.push(s4);
    let (_, opened_mixed) = thief_reads(d, &mixed, &new_key)?;
    detail!("  generation 0, 0 and {g4}: {opened_mixed} of {total} open (old and new shares do not combine).");

    // Epoch 2 for new traffic; epoch 1's shares are destroyed on schedule.
    let keep_old = d.sabotaged("key-theft");
    if keep_old {
        say!("(sabotaged run: the clock stops before epoch 1's destruction time)");
    } else {
        say!(
            "Day 7: the trustees make next week's key and new messages use it. Day 8: each trustee \
             destroys its share of this week's key on its own, and logs it. The thief breaks in again."
        );
    }
    next_week(d, !keep_old).await?;
    // The thief breaks in again and takes what the trustees hold now.
    let mut now_held = Vec::new();
    for i in [0usize, 2, 4] {
        if let Some((_, s)) = steal_epoch1(d, i)? {
            now_held.push(s);
        }
    }
    let (_, opened_after) = if now_held.len() >= 3 { thief_reads(d, &now_held, &new_key)? } else { (total, 0) };
    let mut t = table(&["theft", "shares taken", "this week's messages opened", "log entries written"]);
    t.add_row(vec![
        "three shares at once".into(),
        "3 of this week's key".into(),
        format!("{opened_before} of {total}"),
        (logs_after - logs_before).to_string(),
    ]);
    t.add_row(vec![
        "two before a refresh, one after".into(),
        "3, two old and one new".into(),
        format!("{opened_mixed} of {total}"),
        "0".into(),
    ]);
    t.add_row(vec![
        "after the scheduled destruction".into(),
        format!("{} of this week's key", now_held.len()),
        format!("{opened_after} of {total}"),
        "0".into(),
    ]);
    say!("{t}");
    say!(
        "Why it matters: splitting the key raises the number of break-ins needed from one to three; \
         it does not make the key go away. Shares stolen during a week open all of that week, \
         silently. Refreshing shares stops a slow thief, and destroying them limits the damage to \
         one week, but the current week is always exposed."
    );
    let ok = opened_before > 0 && logs_after == logs_before && opened_mixed == 0 && opened_after == 0;
    Ok(Outcome {
        scenario: "6 key theft",
        expected: "t+1 shares open the epoch unlogged; mixed or destroyed shares open none".into(),
        observed: format!(
            "at once: {opened_before}/{total}, {} log entries; mixed: {opened_mixed}/{total}; after destruction: {opened_after}/{total}",
            logs_after - logs_before
        ),
        ok,
    })
}
