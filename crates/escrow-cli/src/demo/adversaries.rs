//! Scenarios 4-6: what escrow does against people who do not play along — a rogue
//! client forging escrow fields, two colluding users superencrypting, and a thief
//! holding t+1 key shares.

use escrow_crypto::sealed::{self, KdfParams, Unlock};
use escrow_crypto::*;
use escrow_proto::v1 as pb;
use rand::rngs::OsRng;

use super::{day_time, err, table, Deployment, Outcome};
use crate::files::SecretArgs;
use crate::CliError;

impl Deployment {
    fn sabotaged(&self, scenario: &str) -> bool {
        self.sabotage.as_deref() == Some(scenario)
    }

    /// Submits `w` and approves it at trustee-0 and trustee-3 (trustee-2 approves by
    /// policy): a quorum of three.
    async fn quorum(&self, w: &[u8], id: WarrantId) -> Result<(), CliError> {
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
    async fn total_log_entries(&self) -> Result<u64, CliError> {
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
    println!("\n== Scenario 4: forged escrow field (Blaze, 1994) ================================");
    println!("dave runs a modified client that never escrows the real message key. On day 5 it sends");
    println!("carol five messages: three with a valid-looking field for a random other key, two with");
    println!("a field copied from an earlier message.");
    let honest = d.sabotaged("forged-field");
    if honest {
        println!("(sabotaged run: dave's client escrows honestly after all)");
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
            Ok(r) => (format!("accepted as #{}", r.seq), Some(r.seq)),
            Err(s) => {
                refused_by_relay += 1;
                (format!("{:?}: {}", s.code(), s.message()), None)
            }
        };
        rows.push((format!("day 5 {:02}:00", 9 + k), kind, said, seq));
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
            Err(e) => {
                refused_by_carol += 1;
                format!("refused: {e}")
            }
        };
        verdicts.insert(seq, verdict);
    }
    let mut t = table(&["message", "forgery", "relay", "carol's client"]);
    for (when, kind, said, seq) in rows {
        let carol_says = seq.and_then(|s| verdicts.get(&s).cloned()).unwrap_or_else(|| "-".into());
        t.add_row(vec![when, kind.to_string(), said, carol_says]);
    }
    println!("{t}");

    // What the agency would get from dave's accepted messages under a warrant.
    d.clock.set(day_time(5, 20)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["dave"], day_time(5, 0), day_time(6, 0), "R v. D, 2026/120")?;
    d.quorum(&w, id).await?;
    let report = d.open(&w).await?;
    println!(
        "Under warrant {id} for dave (day 5) the agency exported {} envelopes and opened {}: {}",
        report.exported,
        report.opened.len(),
        report.failed.first().map(|(_, why)| why.to_string()).unwrap_or_else(|| "-".into())
    );
    println!(
        "A lone rogue sender gains nothing: its honest recipients refuse what it sends. Escrow is\n\
         defeated only when the recipient's client is rogue too — scenario 5."
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
    println!("\n== Scenario 5: circumvention ==================================================");
    println!("alice and bob agreed a passphrase in person and encrypt every message with it before");
    println!("the escrow client sees it (here with argon2id + AES-256-GCM; any tool will do).");
    let plain = d.sabotaged("circumvention");
    if plain {
        println!("(sabotaged run: they forget to superencrypt)");
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
    let mut t = table(&["message", "the agency opened the envelope", "what it reads"]);
    let mut readable = 0;
    for o in &report.opened {
        let is_text = texts.iter().any(|x| o.plaintext == x.as_bytes());
        readable += usize::from(is_text);
        let shown = if is_text {
            String::from_utf8_lossy(&o.plaintext).to_string()
        } else {
            format!("{} bytes of ciphertext: {}…", o.plaintext.len(), hex::encode(o.plaintext.get(..24).unwrap_or(&[])))
        };
        let to: Vec<String> = o.label.recipients().iter().map(ToString::to_string).collect();
        t.add_row(vec![format!("{} -> {}", o.label.sender(), to.join(",")), "yes".into(), shown]);
    }
    println!("{t}");
    println!(
        "Warrant {id} worked exactly as designed: {} of {} envelopes opened, {} readable. The escrow\n\
         system only ever reads people who do not bother to hide; anyone who superencrypts, or uses\n\
         a non-escrowed app, is untouched.",
        report.opened.len(),
        sent.len(),
        readable
    );
    let ok = they_read == texts.len() && report.opened.len() == texts.len() && readable == 0;
    Ok(Outcome {
        scenario: "5 circumvention",
        expected: format!("{} envelopes open, 0 readable; the pair reads all", texts.len()),
        observed: format!("{} opened, {readable} readable; the pair read {they_read}", report.opened.len()),
        ok,
    })
}

/// Decrypts every envelope in the relay's database with `shares` (at least t+1 of one
/// epoch): what a thief holding the shares and a copy of the traffic can read.
fn thief_reads(d: &Deployment, shares: &[TrusteeKeyShare], epk: &EpochPublicKey) -> Result<(usize, usize), CliError> {
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

/// Scenario 6: t+1 shares of epoch 1 are stolen (or three trustees collude). Every
/// message of the epoch opens, and no trustee log records anything. Then epoch 1 is
/// destroyed — the trustees restart with only epoch 2 — and the same theft afterwards
/// opens nothing of epoch 1.
pub(super) async fn key_theft(d: &mut Deployment) -> Result<Outcome, CliError> {
    println!("\n== Scenario 6: key theft / collusion (keys under doormats) =====================");
    d.restart_down().await?;
    let epoch1 = d.keys.public.clone();
    let stolen: Vec<TrusteeKeyShare> = [0usize, 2, 4]
        .iter()
        .filter_map(|&i| d.keys.shares.get(i))
        .map(|s| TrusteeKeyShare::from_bytes(&s.to_bytes()))
        .collect::<Result<_, _>>()?;
    let logs_before = d.total_log_entries().await?;
    let (total, opened_before) = thief_reads(d, &stolen, &epoch1)?;
    let logs_after = d.total_log_entries().await?;
    println!(
        "A thief copies the shares of trustee-0, trustee-2 and trustee-4 (t + 1 = 3) and the provider's\n\
         message store. Offline, it opens {opened_before} of the {total} epoch-1 messages (the rest carry\n\
         forged fields). Trustee log entries, all five logs: {logs_before} before, {logs_after} after:\n\
         no warrant, no approval, no trace."
    );

    // Rotation: epoch 2 is dealt, every trustee restarts holding only epoch 2 (the
    // epoch-1 share files are deleted; each trustee logs the destruction), the relay
    // accepts only epoch 2 from now on.
    println!("Epoch 1 is destroyed: the trustees restart with only epoch 2 and delete their epoch-1 shares.");
    let keep_old = d.sabotaged("key-theft");
    if keep_old {
        println!("(sabotaged run: the trustees keep their epoch-1 share files)");
    }
    let keys2 = dealer_keygen(EpochId(2), 2, 5, &mut OsRng)?;
    d.rotate(keys2, !keep_old).await?;
    let secret = SecretArgs { passphrase: Some(d.passphrase.clone()), passphrase_file: None, insecure_fast_kdf: false };
    d.send("alice", &["bob"], day_time(7, 9), "new epoch, new key").await?;
    d.send("carol", &["dave"], day_time(7, 10), "did you get the tickets?").await?;

    // The same thief breaks in again and copies what the trustees hold now.
    let mut stolen_now = Vec::new();
    for i in [0usize, 2, 4] {
        for e in &d.trustee(i)?.epochs {
            let s = secret.read_sealed_as(&d.share_path(i, *e)?, TrusteeKeyShare::from_bytes)?;
            stolen_now.push(s);
        }
    }
    let epoch1_now: Vec<TrusteeKeyShare> = stolen_now
        .iter()
        .filter(|s| s.epoch() == EpochId(1))
        .map(|s| TrusteeKeyShare::from_bytes(&s.to_bytes()))
        .collect::<Result<_, _>>()?;
    let (_, opened_after) = if epoch1_now.len() > 2 { thief_reads(d, &epoch1_now, &epoch1)? } else { (total, 0) };
    let mut t = table(&["theft", "shares taken", "epoch-1 messages opened", "log entries written"]);
    t.add_row(vec![
        "before destruction".into(),
        "3 of epoch 1".into(),
        format!("{opened_before} of {total}"),
        (logs_after - logs_before).to_string(),
    ]);
    t.add_row(vec![
        "after destruction".into(),
        format!(
            "{} ({})",
            stolen_now.len(),
            d.trustee(0)?.epochs.iter().map(|e| format!("epoch {e}")).collect::<Vec<_>>().join(", ")
        ),
        format!("{opened_after} of {total}"),
        "0".into(),
    ]);
    println!("{t}");
    println!(
        "Destruction bounds the damage in time: shares stolen after it open nothing from before. Shares\n\
         stolen during an epoch open all of it, silently; and the current epoch is always exposed."
    );
    let ok = opened_before > 0 && logs_after == logs_before && opened_after == 0;
    Ok(Outcome {
        scenario: "6 key theft",
        expected: "t+1 shares open the epoch unlogged; none after destruction".into(),
        observed: format!(
            "before: {opened_before}/{total} opened, {} log entries; after: {opened_after}/{total}",
            logs_after - logs_before
        ),
        ok,
    })
}
