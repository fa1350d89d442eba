//! `--keep`: what is left running, and commands that work against it.

use super::*;

/// `s` as one shell word: as is when it needs no quoting, else in single quotes.
pub(super) fn sh(s: impl std::fmt::Display) -> String {
    let s = s.to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-:=,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Leaves the deployment running and prints, from its state now (after every restart
/// the scenarios made), where each process is and commands that work against it.
/// `skipped`: the scenarios left out because of --keep, and why.
pub(super) async fn keep(d: &mut Deployment, skipped: &[(&str, &str)]) -> Result<(), CliError> {
    let dir = d.dir.clone();
    let p = |rel: &str| sh(dir.join(rel).display());
    println!("\n== Kept running ================================================================");
    println!("The deployment keeps running in {}. Where each process is now (each writes its", dir.display());
    println!("address to its address file whenever it starts, so the files stay current after restarts):");
    let mut t = wide_table(&["process", "pid", "address", "address file"]);
    let mut pids = Vec::new();
    let nodes: Vec<&escrow_kit::Node> = d.trustees.iter().map(|t| &t.server).chain(std::iter::once(&d.relay)).collect();
    for (i, proc_) in nodes.into_iter().enumerate() {
        let file = escrow_kit::node::addr_file(&dir, &proc_.name);
        let addr = proc_.addr.to_string();
        let Some(pid) = proc_.pid() else {
            t.add_row(vec![proc_.name.clone(), "-".into(), "down".into(), file.display().to_string()]);
            continue;
        };
        // Check that the process answers at the address its file names.
        let written = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
        if written.trim() != addr {
            return Err(err(format!("{} says {}, {} listens on {}", file.display(), written.trim(), proc_.name, addr)));
        }
        if i < d.trustees.len() {
            d.trustee_client_as(i, &d.auditor_creds()?)?
                .get_info(pb::GetInfoRequest {})
                .await
                .map_err(CliError::Rpc)?;
        } else {
            d.relay_client_as(&d.auditor_creds()?)?
                .get_epoch_key(pb::GetEpochKeyRequest {})
                .await
                .map_err(CliError::Rpc)?;
        }
        pids.push(pid.to_string());
        t.add_row(vec![proc_.name.clone(), pid.to_string(), addr, file.display().to_string()]);
    }
    for w in &d.witnesses {
        let file = escrow_kit::node::addr_file(&dir, &w.server.name);
        let Some(pid) = w.server.pid() else {
            t.add_row(vec![w.name.clone(), "-".into(), "down".into(), file.display().to_string()]);
            continue;
        };
        let addr = w.server.addr.to_string();
        let written = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
        if written.trim() != addr {
            return Err(err(format!("{} says {}, {} listens on {}", file.display(), written.trim(), w.name, addr)));
        }
        pids.push(pid.to_string());
        t.add_row(vec![w.name.clone(), pid.to_string(), addr, file.display().to_string()]);
    }
    println!("{t}");
    let epoch = d.keys.public.epoch().0;
    let now = d.clock.now();
    println!(
        "Epoch {epoch} is current: its public key is {}. The simulated clock ({}) is at day {}, {:02}:00.",
        dir.join(format!("epoch-{epoch}.pub")).display(),
        dir.join("clock").display(),
        now.saturating_sub(DAY0) / DAY,
        now.saturating_sub(DAY0) % DAY / HOUR
    );
    for (scenario, why) in skipped {
        println!("Not run because of --keep: {scenario}: {why}.");
    }

    // A warrant to show the status of: the first one trustee-0 received, if any.
    let warrants = d
        .operator_client(0)?
        .list_warrants(pb::ListWarrantsRequest { state: 0 })
        .await
        .map_err(CliError::Rpc)?
        .into_inner()
        .warrants;
    let t0 = sh(d.trustee(0)?.server.addr);
    let relay = sh(d.relay.addr);
    let all: Vec<String> = d.trustees.iter().map(|t| format!("--trustee {}", sh(t.server.addr))).collect();
    let all = all.join(" ");
    let epoch_key = p(&format!("epoch-{epoch}.pub"));
    // The inbox holds messages of every epoch so far: pin each key, so that none is
    // taken on the relay's word and none is refused for want of its key.
    let inbox_keys: Vec<String> = (1..=epoch)
        .map(|e| format!("epoch-{e}.pub"))
        .filter(|f| dir.join(f).exists())
        .map(|f| format!("--epoch-key {}", p(&f)))
        .collect();
    let inbox_keys = inbox_keys.join(" ");
    println!("\nCommands (each works as printed, grpcurl if installed; the passphrase unseals every key here):");
    println!("  export ESCROW_PASSPHRASE={}", d.passphrase);
    println!("  escrow --profile {} warrant list --trustee {t0}", p("pki/trustee-0.op-0.profile.toml"));
    if let Some(w) = warrants.first() {
        println!(
            "  escrow --profile {} warrant status {all} --id {}",
            p("pki/agency-1.profile.toml"),
            hex::encode(&w.warrant_id)
        );
    }
    println!(
        "  escrow --profile {} user send --relay {relay} --key {} --epoch-key {epoch_key} --to bob --message hi --clock-file {}",
        p("pki/user-alice.profile.toml"),
        p("users/alice.key"),
        p("clock")
    );
    println!(
        "  escrow --profile {} user inbox --relay {relay} --key {} {inbox_keys}",
        p("pki/user-bob.profile.toml"),
        p("users/bob.key")
    );
    println!(
        "  escrow --profile {} audit verify {all} --witness-policy {} --state-dir {} --clock-file {}",
        p("pki/auditor-1.profile.toml"),
        p("witness.policy"),
        p("auditor-kept"),
        p("clock")
    );
    println!("  escrow pki export-key {} --out {}", p("pki/auditor-1.key"), p("auditor-1.key.pem"));
    println!("  escrow --profile {} dkg status --trustee {t0}", p("pki/trustee-0.op-0.profile.toml"));
    println!(
        "  escrow --profile {} epoch fetch --trustee {t0} --epoch {epoch} --out {}",
        p("pki/auditor-1.profile.toml"),
        p("announcement.hex")
    );
    println!("  escrow --profile {} epoch verify {}", p("pki/auditor-1.profile.toml"), p("announcement.hex"));
    println!(
        "  grpcurl -cacert {} -cert {} -key {} -servername trustee.escrow.internal {t0} list",
        p("pki/org-trustee-0.ca.pem"),
        p("pki/auditor-1.pem"),
        p("auditor-1.key.pem")
    );
    println!("Logs: {}/logs/. To stop every process of the deployment:", dir.display());
    println!("  kill {}", pids.join(" "));
    for t in d.trustees.iter_mut() {
        t.server.detach();
    }
    {
        d.relay.detach();
    }
    for w in d.witnesses.iter_mut() {
        w.server.detach();
    }
    Ok(())
}
