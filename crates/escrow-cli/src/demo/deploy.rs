//! The demo's deployment: trustee and relay processes on loopback, the parties' TLS
//! credentials, and the calls the scenarios make as users, operators and the agency.

use super::*;

impl Deployment {
    pub(super) async fn start(keep: bool) -> Result<Self, CliError> {
        let tmp = tempfile::Builder::new().prefix("escrow-demo-").tempdir().map_err(err)?;
        let dir = tmp.path().to_path_buf();
        let tmp = if keep {
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        let mut pass = [0u8; 16];
        OsRng.fill_bytes(&mut pass);
        let passphrase = hex::encode(pass);
        let secret =
            SecretArgs { passphrase: Some(passphrase.clone()), passphrase_file: None, insecure_fast_kdf: false };
        let clock = FileClock::new(dir.join("clock"));
        clock.set(day_time(0, 0)).map_err(err)?;

        // A CA and a certificate for every party; all traffic below is mutual TLS.
        // These TLS keys are throwaway (a temp dir, a random passphrase): sealed with
        // the fast KDF so start-up stays quick; the key shares keep the full cost.
        let pki = dir.join("pki");
        let users: Vec<String> = USERS.iter().map(|u| u.to_string()).collect();
        let ids = crate::pki::deployment_identities(5, &[AGENCY.into()], &[AUDITOR.into()], &users)?;
        let fast = SecretArgs { insecure_fast_kdf: true, ..secret.clone() };
        crate::pki::init(&pki, "demo", &ids, 30, &fast)?;
        let mut creds = BTreeMap::new();
        for id in &ids {
            let stem = id.file_stem();
            let tls = TlsArgs { profile: Some(pki.join(format!("{stem}.profile.toml"))), ..TlsArgs::default() };
            creds.insert(stem, tls.credentials(&fast)?);
        }

        println!("Deployment in {}", dir.display());
        println!(
            "  WARNING: dealer key generation (weak mode): this demo process saw the master secret of\n  \
             epoch 1. A real deployment runs distributed key generation among the trustees."
        );
        let keys = dealer_keygen(EpochId(1), 2, 5, &mut OsRng)?;
        write_hex(&dir.join("epoch-1.pub"), &keys.public.to_bytes())?;
        let court = CourtSecretKey::generate(PartyId::new("high-court")?, &mut OsRng);
        write_hex(&dir.join("high-court.pub"), &court.public().to_bytes())?;
        let court_hex = hex::encode(court.public().to_bytes());
        let exe = std::env::current_exe().map_err(err)?;
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| CliError::io(&dir, e))?;

        let mut trustees = Vec::new();
        for (i, plan) in TRUSTEES.iter().enumerate() {
            let tdir = dir.join(plan.name);
            std::fs::create_dir_all(&tdir).map_err(|e| CliError::io(&tdir, e))?;
            let share = tdir.join("key-1.share");
            secret.write_sealed(&share, &keys.shares[i].to_bytes())?;
            let policy = format!(
                "# {role}\ntrustee_id = \"{name}\"\napproval = \"{approval}\"\ntrusted_courts = [\"{court_hex}\"]\n\
                 max_window_secs = {win}\nmax_fields_per_warrant = 100000\nmax_items_per_request = 500\n\
                 default_agency_quota = 0\n\n[agency_quota]\nagency-1 = {quota}\n",
                role = plan.role,
                name = plan.name,
                approval = plan.approval,
                win = plan.max_window_days * DAY,
                quota = plan.quota,
            );
            std::fs::write(tdir.join("policy.toml"), policy).map_err(|e| CliError::io(&tdir, e))?;
            trustees.push(spawn_trustee(&exe, &dir, plan.name, &passphrase, &[1])?);
        }
        let relay = spawn_relay(&exe, &dir, 1, &passphrase)?;
        let mut d = Deployment {
            dir,
            _tmp: tmp,
            clock,
            passphrase,
            keys,
            court,
            trustees,
            relay,
            epochs: vec![1],
            sabotage: None,
            creds,
            relay_clients: BTreeMap::new(),
            users: Vec::new(),
        };
        d.wait_ready().await?;
        for name in USERS {
            let u = UserSecretKey::generate(PartyId::new(name)?, &mut OsRng);
            let client = d.user_client(name)?;
            d.relay_clients.insert(name.to_string(), client.clone());
            client.register(&u).await.map_err(err)?;
            std::fs::create_dir_all(d.dir.join("users")).map_err(|e| CliError::io(&d.dir, e))?;
            secret.write_sealed(&d.dir.join("users").join(format!("{name}.key")), &u.to_bytes())?;
            d.users.push(u);
        }
        Ok(d)
    }

    pub(super) async fn wait_ready(&mut self) -> Result<(), CliError> {
        self.wait_until_listening().await?;
        self.print_processes().await
    }

    pub(super) async fn wait_until_listening(&mut self) -> Result<(), CliError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let all: Vec<&mut Proc> = self.trustees.iter_mut().chain(std::iter::once(&mut self.relay)).collect();
        for p in all {
            let file = self.dir.join(format!("{}.addr", p.name));
            loop {
                if let Ok(a) = std::fs::read_to_string(&file) {
                    p.addr = a.trim().to_string();
                    break;
                }
                if let Some(c) = p.child.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        return Err(CliError::Usage(format!(
                            "{} exited during start-up ({status}); see {}/logs/{}.log",
                            p.name,
                            self.dir.display(),
                            p.name
                        )));
                    }
                }
                if Instant::now() > deadline {
                    return Err(CliError::Usage(format!("{} did not start within 60 s", p.name)));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    pub(super) async fn print_processes(&self) -> Result<(), CliError> {
        let mut t = table(&["process", "role", "approval", "max window", "address"]);
        for (p, plan) in self.trustees.iter().zip(&TRUSTEES) {
            trustee_client(&p.addr, self.creds(AUDITOR)?)?
                .get_info(pb::GetInfoRequest {})
                .await
                .map_err(CliError::Rpc)?;
            t.add_row(vec![
                p.name.clone(),
                plan.role.to_string(),
                plan.approval.to_string(),
                format!("{} days", plan.max_window_days),
                p.addr.clone(),
            ]);
        }
        relay_client(&self.relay.addr, self.creds(AUDITOR)?)?
            .get_epoch_key(pb::GetEpochKeyRequest {})
            .await
            .map_err(CliError::Rpc)?;
        t.add_row(vec!["relay".into(), "messaging provider".into(), "-".into(), "-".into(), self.relay.addr.clone()]);
        println!("{t}");
        Ok(())
    }

    /// The credentials of the party with file stem `stem`.
    pub(super) fn creds(&self, stem: &str) -> Result<&Credentials, CliError> {
        self.creds.get(stem).ok_or_else(|| err(format!("no certificate for {stem}")))
    }

    /// The agency's trustee client.
    pub(super) fn agency_client(&self, i: usize) -> Result<TrusteeClient<Channel>, CliError> {
        trustee_client(&self.trustees[i].addr, self.creds(AGENCY)?)
    }

    /// Trustee `i`'s operator's client.
    pub(super) fn operator_client(&self, i: usize) -> Result<TrusteeClient<Channel>, CliError> {
        trustee_client(&self.trustees[i].addr, self.creds(&format!("trustee-{i}.op-{i}"))?)
    }

    pub(super) fn user(&self, name: &str) -> Result<&UserSecretKey, CliError> {
        self.users.iter().find(|u| u.id().as_str() == name).ok_or_else(|| err(format!("no user {name}")))
    }

    pub(super) async fn send(&self, from: &str, to: &[&str], ts: u64, text: &str) -> Result<Envelope, CliError> {
        self.send_bytes(from, to, ts, text.as_bytes()).await
    }

    /// User `name`'s relay client: the kept one, or a new one after a restart moved
    /// the relay. It pins the demo's current epoch key, so the relay's word is checked.
    pub(super) fn user_client(&self, name: &str) -> Result<std::sync::Arc<escrow_user::UserClient>, CliError> {
        if let Some(c) = self.relay_clients.get(name) {
            return Ok(c.clone());
        }
        let mut c =
            escrow_user::UserClient::connect(&self.relay.addr, self.creds(&format!("user-{name}"))?).map_err(err)?;
        c.pin(self.keys.public.clone());
        Ok(std::sync::Arc::new(c))
    }

    /// Seals `plaintext` from `from` to `to` at simulated time `ts` and sends it, as a
    /// user's client does (epoch key checked against the pin, recipients looked up).
    pub(super) async fn send_bytes(
        &self,
        from: &str,
        to: &[&str],
        ts: u64,
        plaintext: &[u8],
    ) -> Result<Envelope, CliError> {
        self.clock.set(ts).map_err(err)?;
        let to = to.iter().map(|r| PartyId::new(*r)).collect::<Result<Vec<_>, _>>()?;
        let sent = self.user_client(from)?.send(self.user(from)?, &to, plaintext, ts, &mut OsRng).await.map_err(err)?;
        Ok(sent.envelope)
    }

    /// Sends an already sealed envelope as user `from`; the relay's answer as is.
    pub(super) async fn post(&self, from: &str, env: &Envelope) -> Result<pb::SendResponse, tonic::Status> {
        self.user_client(from).map_err(|e| tonic::Status::internal(e.to_string()))?.post(env).await
    }

    pub(super) fn warrant(
        &self,
        targets: &[&str],
        from: u64,
        to: u64,
        case: &str,
    ) -> Result<(Vec<u8>, WarrantId), CliError> {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let now = escrow_service::clock::Clock::now(&self.clock);
        let body = WarrantBody {
            id: WarrantId(id),
            case_reference: case.into(),
            court: PartyId::new("high-court")?,
            agency: PartyId::new("agency-1")?,
            targets: targets.iter().map(|t| PartyId::new(*t)).collect::<Result<_, _>>()?,
            window: TimeWindow::new(from, to)?,
            issued_at: now,
            valid_until: now + 30 * DAY,
            legal_basis: "Investigatory Powers Act 2016, s.19 (demo)".into(),
            notification_delay_secs: 90 * DAY,
        };
        Ok((self.court.sign(&body)?, body.id))
    }

    pub(super) fn trustee_addrs(&self) -> Vec<String> {
        self.trustees.iter().map(|t| t.addr.clone()).collect()
    }

    pub(super) async fn submit(&self, warrant: &[u8]) -> Result<Table, CliError> {
        let mut t = table(&["trustee", "state after submission", "decided by", "reason"]);
        let clients = self
            .trustees
            .iter()
            .enumerate()
            .map(|(i, p)| Ok((p.name.clone(), self.agency_client(i)?)))
            .collect::<Result<Vec<_>, CliError>>()?;
        for (name, r) in escrow_agency::submit_to_every_trustee(clients, warrant).await {
            match r {
                Ok(s) => {
                    t.add_row(vec![name, crate::warrant::state_name(s.state).into(), s.decided_by, s.reason]);
                }
                Err(e) => {
                    t.add_row(vec![name, format!("{:?}", e.code()), String::new(), e.message().into()]);
                }
            }
        }
        Ok(t)
    }

    pub(super) async fn decide(&self, i: usize, id: WarrantId, approve: bool, reason: &str) -> Result<(), CliError> {
        let req = pb::DecideWarrantRequest { warrant_id: id.0.to_vec(), reason: reason.into() };
        let mut c = self.operator_client(i)?;
        if approve {
            c.approve_warrant(req).await.map_err(CliError::Rpc)?;
        } else {
            c.deny_warrant(req).await.map_err(CliError::Rpc)?;
        }
        Ok(())
    }

    pub(super) async fn open(&self, warrant: &[u8]) -> Result<escrow_agency::OpenReport, CliError> {
        // The agency tries every trustee; the ones that are down show up as unreachable.
        let agency = escrow_agency::Agency::connect(&self.relay.addr, &self.trustee_addrs(), self.creds(AGENCY)?)
            .await
            .map_err(err)?;
        agency.open(warrant, |_, _| {}).await.map_err(err)
    }
}

/// Starts trustee `name` holding the shares of `epochs` (`key-<E>.share` in its dir).
pub(super) fn spawn_trustee(
    exe: &Path,
    dir: &Path,
    name: &str,
    passphrase: &str,
    epochs: &[u64],
) -> Result<Proc, CliError> {
    let tdir = dir.join(name);
    let mut keys = Vec::new();
    for e in epochs {
        keys.push("--epoch-key".to_string());
        keys.push(dir.join(format!("epoch-{e}.pub")).display().to_string());
        keys.push("--key-share".to_string());
        keys.push(tdir.join(format!("key-{e}.share")).display().to_string());
    }
    spawn(
        exe,
        dir,
        name,
        &[
            vec![
                "trustee".into(),
                "serve".into(),
                "--data-dir".into(),
                tdir.display().to_string(),
                "--policy".into(),
                tdir.join("policy.toml").display().to_string(),
            ],
            keys,
            vec![
                "--profile".into(),
                dir.join("pki").join(format!("{name}.profile.toml")).display().to_string(),
                "--clock-file".into(),
                dir.join("clock").display().to_string(),
            ],
        ]
        .concat(),
        Some(passphrase),
    )
}

/// Starts the relay accepting envelopes of `epoch`.
pub(super) fn spawn_relay(exe: &Path, dir: &Path, epoch: u64, passphrase: &str) -> Result<Proc, CliError> {
    spawn(
        exe,
        dir,
        "relay",
        &[
            "relay".into(),
            "serve".into(),
            "--data-dir".into(),
            dir.join("relay").display().to_string(),
            "--epoch-key".into(),
            dir.join(format!("epoch-{epoch}.pub")).display().to_string(),
            "--court-key".into(),
            dir.join("high-court.pub").display().to_string(),
            "--profile".into(),
            dir.join("pki").join("relay.profile.toml").display().to_string(),
            "--clock-file".into(),
            dir.join("clock").display().to_string(),
        ],
        Some(passphrase),
    )
}

pub(super) fn spawn(
    exe: &Path,
    dir: &Path,
    name: &str,
    args: &[String],
    passphrase: Option<&str>,
) -> Result<Proc, CliError> {
    let addr_file = dir.join(format!("{name}.addr"));
    let _ = std::fs::remove_file(&addr_file);
    let log = std::fs::File::create(dir.join("logs").join(format!("{name}.log"))).map_err(|e| CliError::io(dir, e))?;
    let log2 = log.try_clone().map_err(|e| CliError::io(dir, e))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .args(["--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr_file)
        .env("RUST_LOG", "info")
        .env_remove("ESCROW_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    if let Some(p) = passphrase {
        // Through the environment, not argv: other users can read argv in `ps`.
        cmd.env("ESCROW_PASSPHRASE", p);
    }
    let child = cmd.spawn().map_err(|e| CliError::Usage(format!("cannot start {name}: {e}")))?;
    Ok(Proc { name: name.into(), child: Some(child), addr: String::new() })
}

impl Deployment {
    /// Restarts every trustee process that is down, on the same data directories.
    pub(super) async fn restart_down(&mut self) -> Result<(), CliError> {
        let exe = std::env::current_exe().map_err(err)?;
        for i in 0..self.trustees.len() {
            if self.trustees[i].child.is_none() {
                let name = self.trustees[i].name.clone();
                self.trustees[i] = spawn_trustee(&exe, &self.dir, &name, &self.passphrase, &self.epochs)?;
            }
        }
        self.wait_until_listening().await
    }
}
