//! `--bench N`: time opening N in-scope messages, stage by stage.

use super::*;

pub(super) async fn bench(d: &Deployment, n: usize) -> Result<(), CliError> {
    println!("\nBenchmark: opening {n} in-scope messages, n = 5, t = 2, all on this machine.");
    let t0 = Instant::now();
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let ts = day_time(1, 0) + (i as u64 * 60) % DAY;
        sent.push(d.send("alice", &["bob"], ts, &format!("message {i}")).await?);
    }
    let send_time = t0.elapsed();
    d.clock.set(day_time(4, 9)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["alice"], day_time(1, 0), day_time(2, 0), "bench")?;
    d.submit_table(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide_as(i, id, true, "bench").await?;
    }
    let t1 = Instant::now();
    let report = d.open(&w).await?;
    let wall = t1.elapsed();
    if report.opened.len() != n {
        return Err(err(format!("opened {} of {n}: {:?}", report.opened.len(), report.failed.first())));
    }
    // The same cryptography in-process, no network, no database, one thread: each of the
    // 5 trustees decodes the label and field (subgroup checks), checks the field and
    // computes its share; the agency decodes the envelope and the 5 shares, verifies
    // and combines them, checks the field carries the key, and decrypts. The trustees
    // made the key in a ceremony, so the shares are read from their data directories
    // (as the key-theft scenario's thief does).
    let mut held = Vec::new();
    for i in 0..d.trustees.len() {
        let epoch = d.keys.public.epoch().0;
        if let Some((_, _, s)) = super::adversaries::steal(d, i)?.into_iter().find(|(e, _, _)| *e == epoch) {
            held.push(s);
        }
    }
    let c0 = Instant::now();
    let alice = d.user("alice")?.public();
    for e in &sent {
        let (label_bytes, field_bytes) = (e.label().to_bytes(), e.field().to_bytes());
        let mut share_bytes = Vec::with_capacity(5);
        for s in &held {
            let label = Label::from_bytes(&label_bytes)?;
            let field = EscrowField::from_bytes(&field_bytes)?;
            share_bytes.push(s.decrypt_share(&d.keys.public, &field, &label)?.to_bytes());
        }
        let env = Envelope::from_bytes(e.as_bytes())?;
        let shares = share_bytes.iter().map(|b| DecryptionShare::from_bytes(b)).collect::<Result<Vec<_>, _>>()?;
        let opened = d.keys.public.combine(env.field(), env.label(), &shares)?;
        let _ = env.open_with_data_key(&opened.data_key, &alice, &d.keys.public)?;
    }
    let crypto_cpu = c0.elapsed();
    let cores = escrow_service::par::cores() as f64;
    let crypto_floor = crypto_cpu.as_secs_f64() / cores;
    let mut t = table(&["measure", "seconds", "note"]);
    t.add_row(vec![
        "send (seal + relay checks + store)".into(),
        format!("{:.2}", send_time.as_secs_f64()),
        format!("{n} messages, one at a time"),
    ]);
    t.add_row(vec![
        "open: wall time".into(),
        format!("{:.2}", wall.as_secs_f64()),
        "export + 5 trustees + combine + decrypt".into(),
    ]);
    t.add_row(vec!["  relay export".into(), format!("{:.2}", report.export_time.as_secs_f64()), String::new()]);
    t.add_row(vec![
        "  waiting for trustees".into(),
        format!("{:.2}", report.trustee_time.as_secs_f64()),
        "all 5 in parallel, per batch".into(),
    ]);
    t.add_row(vec![
        "  agency combine + decrypt".into(),
        format!("{:.2}", report.combine_time.as_secs_f64()),
        String::new(),
    ]);
    t.add_row(vec![
        "crypto alone, CPU".into(),
        format!("{:.2}", crypto_cpu.as_secs_f64()),
        "same work in-process, one thread".into(),
    ]);
    t.add_row(vec![
        format!("crypto alone / {cores} cores"),
        format!("{crypto_floor:.2}"),
        "lower bound for the wall time".into(),
    ]);
    t.add_row(vec![
        "overhead (gRPC, SQLite, scheduling)".into(),
        format!("{:.0}%", (wall.as_secs_f64() / crypto_floor - 1.0) * 100.0),
        "wall time over the crypto lower bound".into(),
    ]);
    println!("{t}");
    Ok(())
}
