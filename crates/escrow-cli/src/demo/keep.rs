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
    let (page_pid, page_addr) = start_page(d, &dir).await?;
    pids.push(page_pid.to_string());
    t.add_row(vec![
        "audit-page".into(),
        page_pid.to_string(),
        page_addr.clone(),
        dir.join(PAGE_ADDR_FILE).display().to_string(),
    ]);
    println!("{t}");
    println!(
        "The public transparency page (escrow audit serve, auditing every log every {PAGE_EVERY} s): http://{page_addr}/"
    );
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
    println!(
        "  escrow --profile {} audit report {all} --witness-policy {} --state-dir {} --clock-file {} --out {} --html {}",
        p("pki/auditor-1.profile.toml"),
        p("witness.policy"),
        p("auditor-kept"),
        p("clock"),
        p("audit-report"),
        p("audit-page")
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

/// Where the kept audit page writes its address.
const PAGE_ADDR_FILE: &str = "audit-page.addr";

/// Seconds between the kept audit page's audits.
const PAGE_EVERY: u64 = 10;

/// Starts `escrow audit serve` over the kept deployment, as its own process, as an
/// auditor runs it (the auditor's profile, the deployment's witness policy, the
/// simulated clock), and waits until it serves its first audit. Returns its pid and
/// address; its log is `logs/audit-page.log`.
async fn start_page(d: &Deployment, dir: &Path) -> Result<(u32, String), CliError> {
    let addr_file = dir.join(PAGE_ADDR_FILE);
    match std::fs::remove_file(&addr_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(CliError::io(&addr_file, e)),
        _ => {}
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| CliError::io(&logs, e))?;
    let log_path = logs.join("audit-page.log");
    let log = std::fs::File::create(&log_path).map_err(|e| CliError::io(&log_path, e))?;
    let log2 = log.try_clone().map_err(|e| CliError::io(&log_path, e))?;
    let mut cmd = std::process::Command::new(std::env::current_exe().map_err(err)?);
    cmd.env("ESCROW_PASSPHRASE", &d.passphrase)
        .env("RUST_LOG", "info")
        .arg("--profile")
        .arg(dir.join("pki/auditor-1.profile.toml"))
        .args(["audit", "serve"]);
    for t in &d.trustees {
        cmd.args(["--trustee", &t.server.addr.to_string()]);
    }
    cmd.arg("--witness-policy")
        .arg(dir.join("witness.policy"))
        .arg("--state-dir")
        .arg(dir.join("audit-page-state"))
        .arg("--clock-file")
        .arg(dir.join("clock"))
        .args(["--listen", "127.0.0.1:0", "--every", &PAGE_EVERY.to_string(), "--addr-file"])
        .arg(&addr_file)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2);
    let mut child = cmd.spawn().map_err(err)?;
    let failed = |why: String| err(format!("the audit page did not start: {why} (see {})", log_path.display()));
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            if text.trim().parse::<std::net::SocketAddr>().is_ok() {
                break text.trim().to_string();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!("it exited ({status})")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(failed("no address after 60 s".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Until its first audit is done it answers 503.
    loop {
        if let Ok(Ok(200)) = tokio::time::timeout(std::time::Duration::from_secs(5), http_status(&addr)).await {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(format!("it exited ({status})")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(failed("no audit served after 60 s".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok((child.id(), addr))
}

/// The status code of `GET /` at `addr` (HTTP/1.1, one request).
async fn http_status(addr: &str) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await?;
    // "HTTP/1.1 200"
    std::str::from_utf8(head.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP status line"))
}
