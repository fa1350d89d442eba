//! `escrow demo`: a real local deployment — five trustee processes with different
//! policies and a relay, on loopback ports, sharing a simulated calendar — walked
//! through the seven scenarios of docs/design.md, "Demos" (4-6, the adversaries, in `adversaries`). Users, operators and the
//! agency are played by this process over gRPC. Exits non-zero if any outcome differs
//! from what the design promises.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::Table;
use escrow_crypto::*;
use escrow_proto::v1 as pb;
use escrow_service::clock::FileClock;
use escrow_service::transport::Credentials;
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use rand::rngs::OsRng;
use rand::RngCore;
use tonic::transport::Channel;

use crate::files::{write_hex, SecretArgs};
use crate::tls::TlsArgs;
use crate::CliError;

mod adversaries;

const DAY: u64 = 86_400;
/// The scenarios `escrow demo <scenario>` runs alone.
const SCENARIOS: [&str; 8] =
    ["lawful-access", "denied", "over-reach", "forged-field", "circumvention", "key-theft", "outage", "audit"];
const HOUR: u64 = 3_600;
/// Monday 2026-03-02 00:00 UTC: day 0 of the simulated calendar.
const DAY0: u64 = 1_772_409_600;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Leave the deployment running afterwards (also after --bench) and print where each
    /// process is and commands that work against it. The audit then skips its log tampering.
    #[arg(long)]
    pub keep: bool,
    /// Instead of the scenarios: time opening N in-scope messages (n = 5, t = 2).
    #[arg(long, value_name = "N")]
    pub bench: Option<usize>,
    /// Run one scenario only: lawful-access, denied, over-reach, forged-field,
    /// circumvention, key-theft, outage, audit.
    pub scenario: Option<String>,
    /// Test only: break the safeguard of one scenario (denied, forged-field,
    /// circumvention, key-theft) to check that the demo then reports it FAILED.
    #[arg(long, hide = true, value_name = "SCENARIO")]
    pub sabotage: Option<String>,
}

/// A child process killed (and reaped) on drop, unless detached.
struct Proc {
    name: String,
    child: Option<Child>,
    addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Proc {
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn detach(&mut self) -> Option<u32> {
        self.child.take().map(|c| c.id())
    }
}

struct TrusteePlan {
    name: &'static str,
    role: &'static str,
    approval: &'static str,
    max_window_days: u64,
    quota: u64,
}

const TRUSTEES: [TrusteePlan; 5] = [
    TrusteePlan {
        name: "trustee-0",
        role: "court liaison office",
        approval: "operator",
        max_window_days: 14,
        quota: 100_000,
    },
    TrusteePlan {
        name: "trustee-1",
        role: "civil-liberties body",
        approval: "operator",
        max_window_days: 7,
        quota: 5_000,
    },
    TrusteePlan { name: "trustee-2", role: "the provider", approval: "auto", max_window_days: 14, quota: 100_000 },
    TrusteePlan {
        name: "trustee-3",
        role: "parliamentary committee",
        approval: "operator",
        max_window_days: 7,
        quota: 10_000,
    },
    TrusteePlan {
        name: "trustee-4",
        role: "foreign jurisdiction",
        approval: "operator",
        max_window_days: 3,
        quota: 2_000,
    },
];

/// One message of the simulated traffic.
struct Msg {
    day: u64,
    hour: u64,
    from: &'static str,
    to: &'static [&'static str],
    text: &'static str,
}

const TRAFFIC: &[Msg] = &[
    Msg { day: 0, hour: 9, from: "alice", to: &["bob"], text: "lunch on monday?" },
    Msg { day: 0, hour: 18, from: "bob", to: &["carol"], text: "the invoice is attached" },
    Msg { day: 1, hour: 8, from: "bob", to: &["alice"], text: "sure, noon at the usual place" },
    Msg { day: 1, hour: 12, from: "carol", to: &["dave"], text: "the report is late again" },
    Msg { day: 1, hour: 20, from: "alice", to: &["carol", "dave"], text: "did you both see the news?" },
    Msg { day: 2, hour: 10, from: "dave", to: &["bob"], text: "football tonight?" },
    Msg { day: 2, hour: 15, from: "alice", to: &["bob"], text: "bring the documents tomorrow" },
    Msg { day: 2, hour: 23, from: "carol", to: &["alice"], text: "call me when you land" },
    Msg { day: 3, hour: 7, from: "alice", to: &["bob"], text: "running late" },
    Msg { day: 3, hour: 11, from: "bob", to: &["dave"], text: "score was 2-1" },
];

struct Deployment {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    clock: FileClock,
    passphrase: String,
    keys: DealerOutput,
    court: CourtSecretKey,
    trustees: Vec<Proc>,
    relay: Proc,
    /// Epochs whose shares the trustees hold (key-<E>.share in each trustee's dir).
    epochs: Vec<u64>,
    /// Test only: the scenario whose safeguard is sabotaged (see `DemoArgs::sabotage`).
    sabotage: Option<String>,
    /// Every party's TLS credentials, by file stem (`agency-1`, `trustee-0.op-0`, ...).
    creds: BTreeMap<String, Credentials>,
    /// One relay connection per user, each with that user's certificate and the
    /// current epoch key pinned.
    relay_clients: BTreeMap<String, std::sync::Arc<escrow_user::UserClient>>,
    users: Vec<UserSecretKey>,
}

/// The outcome of one scenario for the final table.
struct Outcome {
    scenario: &'static str,
    expected: String,
    observed: String,
    ok: bool,
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(header.to_vec());
    t
}

fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn day_time(day: u64, hour: u64) -> u64 {
    DAY0 + day * DAY + hour * HOUR
}

fn trustee_client(addr: &str, creds: &Credentials) -> Result<TrusteeClient<Channel>, CliError> {
    escrow_service::transport::trustee_client(addr, creds).map_err(err)
}

fn relay_client(addr: &str, creds: &Credentials) -> Result<RelayClient<Channel>, CliError> {
    escrow_service::transport::relay_client(addr, creds).map_err(err)
}

/// The users of the simulated traffic.
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// The in-process agency and auditor.
const AGENCY: &str = "agency-1";
const AUDITOR: &str = "auditor-1";

impl Deployment {
    async fn start(keep: bool) -> Result<Self, CliError> {
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

    async fn wait_ready(&mut self) -> Result<(), CliError> {
        self.wait_until_listening().await?;
        self.print_processes().await
    }

    async fn wait_until_listening(&mut self) -> Result<(), CliError> {
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

    async fn print_processes(&self) -> Result<(), CliError> {
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
    fn creds(&self, stem: &str) -> Result<&Credentials, CliError> {
        self.creds.get(stem).ok_or_else(|| err(format!("no certificate for {stem}")))
    }

    /// The agency's trustee client.
    fn agency_client(&self, i: usize) -> Result<TrusteeClient<Channel>, CliError> {
        trustee_client(&self.trustees[i].addr, self.creds(AGENCY)?)
    }

    /// Trustee `i`'s operator's client.
    fn operator_client(&self, i: usize) -> Result<TrusteeClient<Channel>, CliError> {
        trustee_client(&self.trustees[i].addr, self.creds(&format!("trustee-{i}.op-{i}"))?)
    }

    fn user(&self, name: &str) -> Result<&UserSecretKey, CliError> {
        self.users.iter().find(|u| u.id().as_str() == name).ok_or_else(|| err(format!("no user {name}")))
    }

    async fn send(&self, from: &str, to: &[&str], ts: u64, text: &str) -> Result<Envelope, CliError> {
        self.send_bytes(from, to, ts, text.as_bytes()).await
    }

    /// User `name`'s relay client: the kept one, or a new one after a restart moved
    /// the relay. It pins the demo's current epoch key, so the relay's word is checked.
    fn user_client(&self, name: &str) -> Result<std::sync::Arc<escrow_user::UserClient>, CliError> {
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
    async fn send_bytes(&self, from: &str, to: &[&str], ts: u64, plaintext: &[u8]) -> Result<Envelope, CliError> {
        self.clock.set(ts).map_err(err)?;
        let to = to.iter().map(|r| PartyId::new(*r)).collect::<Result<Vec<_>, _>>()?;
        let sent = self.user_client(from)?.send(self.user(from)?, &to, plaintext, ts, &mut OsRng).await.map_err(err)?;
        Ok(sent.envelope)
    }

    /// Sends an already sealed envelope as user `from`; the relay's answer as is.
    async fn post(&self, from: &str, env: &Envelope) -> Result<pb::SendResponse, tonic::Status> {
        self.user_client(from).map_err(|e| tonic::Status::internal(e.to_string()))?.post(env).await
    }

    fn warrant(&self, targets: &[&str], from: u64, to: u64, case: &str) -> Result<(Vec<u8>, WarrantId), CliError> {
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

    fn trustee_addrs(&self) -> Vec<String> {
        self.trustees.iter().map(|t| t.addr.clone()).collect()
    }

    async fn submit(&self, warrant: &[u8]) -> Result<Table, CliError> {
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

    async fn decide(&self, i: usize, id: WarrantId, approve: bool, reason: &str) -> Result<(), CliError> {
        let req = pb::DecideWarrantRequest { warrant_id: id.0.to_vec(), reason: reason.into() };
        let mut c = self.operator_client(i)?;
        if approve {
            c.approve_warrant(req).await.map_err(CliError::Rpc)?;
        } else {
            c.deny_warrant(req).await.map_err(CliError::Rpc)?;
        }
        Ok(())
    }

    async fn open(&self, warrant: &[u8]) -> Result<escrow_agency::OpenReport, CliError> {
        // The agency tries every trustee; the ones that are down show up as unreachable.
        let agency = escrow_agency::Agency::connect(&self.relay.addr, &self.trustee_addrs(), self.creds(AGENCY)?)
            .await
            .map_err(err)?;
        agency.open(warrant, |_, _| {}).await.map_err(err)
    }
}

/// Starts trustee `name` holding the shares of `epochs` (`key-<E>.share` in its dir).
fn spawn_trustee(exe: &Path, dir: &Path, name: &str, passphrase: &str, epochs: &[u64]) -> Result<Proc, CliError> {
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
fn spawn_relay(exe: &Path, dir: &Path, epoch: u64, passphrase: &str) -> Result<Proc, CliError> {
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

fn spawn(exe: &Path, dir: &Path, name: &str, args: &[String], passphrase: Option<&str>) -> Result<Proc, CliError> {
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

fn involves(m: &Msg, user: &str) -> bool {
    m.from == user || m.to.contains(&user)
}

async fn traffic(d: &Deployment) -> Result<Vec<Envelope>, CliError> {
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

fn opened_table(report: &escrow_agency::OpenReport, in_scope: &dyn Fn(&Msg) -> bool) -> (Table, bool) {
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

async fn lawful_access(d: &Deployment) -> Result<(Outcome, Vec<u8>), CliError> {
    println!("\n== Scenario 1: lawful access ==================================================");
    d.clock.set(day_time(4, 9)).map_err(err)?;
    let (w, id) = d.warrant(&["alice"], day_time(1, 0), day_time(3, 0), "R v. A, 2026/117")?;
    println!("Day 4, 09:00. high-court signs warrant {id}: target alice, window days 1-2 (2 days).");
    let submitted = Instant::now();
    println!("{}", d.submit(&w).await?);
    d.decide(0, id, true, "lawful, necessary and proportionate").await?;
    d.decide(3, id, true, "approved by committee vote").await?;
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

async fn denied(d: &Deployment) -> Result<Outcome, CliError> {
    println!("\n== Scenario 2: denied ==========================================================");
    d.clock.set(day_time(4, 10)).map_err(err)?;
    let (w, id) = d.warrant(&["bob"], day_time(0, 0), day_time(2, 0), "R v. B, 2026/118")?;
    println!("high-court signs warrant {id}: target bob, window days 0-1.");
    println!("{}", d.submit(&w).await?);
    d.decide(0, id, true, "lawful").await?;
    d.decide(1, id, false, "not proportionate: bob is a witness, not a suspect").await?;
    if d.sabotage.as_deref() == Some("denied") {
        println!("(sabotaged run: trustee-3's operator approves after all)");
        d.decide(3, id, true, "approved").await?;
    } else {
        d.decide(3, id, false, "insufficient grounds").await?;
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

async fn over_reach(d: &Deployment, w: &[u8], sent: &[Envelope]) -> Result<Outcome, CliError> {
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

async fn outage(d: &mut Deployment) -> Result<Outcome, CliError> {
    println!("\n== Scenario 7: trustee outage ==================================================");
    d.clock.set(day_time(4, 11)).map_err(err)?;
    let (w, id) = d.warrant(&["carol"], day_time(1, 0), day_time(3, 0), "R v. C, 2026/119")?;
    println!("high-court signs warrant {id}: target carol, window days 1-2. Every operator approves.");
    d.submit(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide(i, id, true, "approved").await?;
    }
    let expected = TRAFFIC.iter().filter(|m| involves(m, "carol") && (1..3).contains(&m.day)).count();
    let mut t = table(&["trustees up", "opened", "not opened", "why"]);
    let mut down: Vec<String> = Vec::new();
    let mut ok = true;
    for (kill, want_open) in [(vec![], true), (vec![4, 1], true), (vec![3], false)] {
        for i in kill {
            d.trustees[i].kill();
            down.push(d.trustees[i].name.clone());
        }
        let up = d.trustees.iter().filter(|t| t.child.is_some()).count();
        let report = d.open(&w).await?;
        let mut why = report.failed.first().map(|(_, w)| w.clone()).unwrap_or_default();
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

pub async fn run(a: DemoArgs) -> Result<(), CliError> {
    let only = a.scenario.as_deref();
    if let Some(s) = only {
        if !SCENARIOS.contains(&s) {
            return Err(err(format!("unknown scenario {s:?}: {}", SCENARIOS.join(", "))));
        }
    }
    let started = Instant::now();
    let mut d = Deployment::start(a.keep).await?;
    d.sabotage = a.sabotage.clone();
    if let Some(n) = a.bench {
        bench(&d, n).await?;
        if a.keep {
            keep(&mut d, &[]).await?;
        }
        return Ok(());
    }
    let sent = traffic(&d).await?;
    let wants = |s: &str| only.is_none_or(|o| o == s);
    let mut outcomes = Vec::new();
    let mut w1 = None;
    if wants("lawful-access") || wants("over-reach") {
        let (o, w) = lawful_access(&d).await?;
        if wants("lawful-access") {
            outcomes.push(o);
        }
        w1 = Some(w);
    }
    if wants("denied") {
        outcomes.push(denied(&d).await?);
    }
    if let (true, Some(w)) = (wants("over-reach"), &w1) {
        outcomes.push(over_reach(&d, w, &sent).await?);
    }
    if wants("forged-field") {
        outcomes.push(adversaries::forged_field(&d, &sent).await?);
    }
    if wants("circumvention") {
        outcomes.push(adversaries::circumvention(&d).await?);
    }
    if wants("outage") {
        outcomes.push(outage(&mut d).await?);
        if a.keep {
            // Leave nothing down in the deployment that is kept.
            d.restart_down().await?;
            println!("(--keep: the three trustees that were stopped are started again.)");
        }
    }
    // Last before the audit: it rotates the deployment to epoch 2.
    if wants("key-theft") {
        outcomes.push(adversaries::key_theft(&mut d).await?);
    }
    // Scenarios left out because of --keep: (summary row, why).
    let mut skipped: Vec<(&str, &str)> = Vec::new();
    if wants("audit") {
        // With --keep the auditor verifies and reconciles, but does not tamper: the kept
        // deployment's logs would fail every later audit.
        outcomes.extend(audit(&mut d, !a.keep).await?);
        if a.keep {
            skipped.push((
                "B tampered logs",
                "it rewrites trustee-0's and trustee-3's logs, which would fail every later audit",
            ));
        }
    }

    // Scenario order, whatever order they ran in (key theft runs last: it rotates epochs).
    let mut rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            let result = if o.ok { "ok" } else { "FAILED" };
            [o.scenario.into(), o.expected.clone(), o.observed.clone(), result.into()]
        })
        .collect();
    for (scenario, why) in &skipped {
        rows.push([scenario.to_string(), "not run with --keep".into(), format!("skipped: {why}"), "skipped".into()]);
    }
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    println!("\n== Summary =====================================================================");
    let mut t = table(&["scenario", "expected", "observed", "result"]);
    for r in rows {
        t.add_row(r.to_vec());
    }
    println!("{t}");
    for (scenario, why) in &skipped {
        println!("Skipped because of --keep: {scenario} ({why}). `escrow demo audit` without --keep runs it.");
    }
    if only.is_none() && a.bench.is_none() {
        // The odds behind scenarios 6 and 7, for this deployment's n and t.
        if let Ok(r) = escrow_tradeoffs::exact(5, 2, 0.01, 0.05) {
            println!(
                "If each trustee is compromised with p = 1% and unavailable with q = 5%, independently, this\n\
                 deployment (n = 5, t = 2) is opened without a warrant with probability {:.1e} and fails a\n\
                 lawful warrant with probability {:.1e}. `escrow tradeoffs` shows every t, with plots.",
                r.unauthorized, r.fails
            );
        }
    }
    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if a.keep {
        keep(&mut d, &skipped).await?;
    }
    if failed > 0 {
        return Err(err(format!("{failed} scenario(s) did not match the expected outcome")));
    }
    Ok(())
}

impl Deployment {
    /// Restarts every trustee process that is down, on the same data directories.
    async fn restart_down(&mut self) -> Result<(), CliError> {
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

/// The auditor verifies every trustee's log, reconciles them and prints the public
/// report; then two trustees' stored logs are tampered with and the auditor must
/// name each trustee and what broke.
///
/// Without `tamper` (`--keep`: the deployment is kept) only the first part runs.
async fn audit(d: &mut Deployment, tamper: bool) -> Result<Vec<Outcome>, CliError> {
    println!("\n== The auditor =================================================================");
    d.restart_down().await?;
    let state = d.dir.join("auditor");
    let now = escrow_service::clock::Clock::now(&d.clock);
    let courts = vec![d.court.public()];
    let audits = escrow_audit::verify(&d.trustee_addrs(), d.creds(AUDITOR)?, &state, now, &courts).await;
    let mut t = table(&["trustee log", "entries", "verified"]);
    let mut all_ok = true;
    let mut logs = Vec::new();
    for a in audits {
        let name = a.origin.clone().unwrap_or_else(|| a.addr.clone());
        match a.result {
            Ok(log) => {
                t.add_row(vec![
                    name,
                    log.checkpoint.size().to_string(),
                    "signature, consistency, root, every entry".into(),
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
    let rec = escrow_audit::reconcile(&logs, 2);
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
    let db = |name: &str| rusqlite::Connection::open(d.dir.join(name).join("trustee.db")).map_err(err);
    {
        let db3 = db("trustee-3")?;
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut stmt = db3.prepare("SELECT idx, entry FROM log ORDER BY idx").map_err(err)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(err)?;
            rows.collect::<Result<_, _>>().map_err(err)?
        };
        let needle = b"op-3";
        let (idx, mut entry) = rows
            .into_iter()
            .find(|(_, e)| e.windows(needle.len()).any(|w| w == needle))
            .ok_or_else(|| err("trustee-3 logged no approval"))?;
        if let Some(pos) = entry.windows(needle.len()).position(|w| w == needle) {
            entry[pos + needle.len() - 1] = b'X';
        }
        db3.execute("UPDATE log SET entry = ?1 WHERE idx = ?2", rusqlite::params![entry, idx]).map_err(err)?;
    }
    db("trustee-0")?.execute_batch("DELETE FROM log WHERE idx = (SELECT MAX(idx) FROM log);").map_err(err)?;
    println!("Someone with access to their databases rewrites an approval in trustee-3's log and deletes");
    println!("the last entry of trustee-0's log. The auditor runs again:");
    let audits = escrow_audit::verify(&d.trustee_addrs(), d.creds(AUDITOR)?, &state, now, &courts).await;
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

/// `s` as one shell word: as is when it needs no quoting, else in single quotes.
fn sh(s: impl std::fmt::Display) -> String {
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
async fn keep(d: &mut Deployment, skipped: &[(&str, &str)]) -> Result<(), CliError> {
    let dir = d.dir.clone();
    let p = |rel: &str| sh(dir.join(rel).display());
    println!("\n== Kept running ================================================================");
    println!("The deployment keeps running in {}. Where each process is now (each writes its", dir.display());
    println!("address to its address file whenever it starts, so the files stay current after restarts):");
    let mut t = table(&["process", "pid", "address", "address file"]);
    let mut pids = Vec::new();
    for (i, proc_) in d.trustees.iter().chain(std::iter::once(&d.relay)).enumerate() {
        let file = dir.join(format!("{}.addr", proc_.name));
        let Some(pid) = proc_.child.as_ref().map(Child::id) else {
            t.add_row(vec![proc_.name.clone(), "-".into(), "down".into(), file.display().to_string()]);
            continue;
        };
        // Check that the process answers at the address its file names.
        let written = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
        if written.trim() != proc_.addr {
            return Err(err(format!(
                "{} says {}, {} listens on {}",
                file.display(),
                written.trim(),
                proc_.name,
                proc_.addr
            )));
        }
        if i < d.trustees.len() {
            trustee_client(&proc_.addr, d.creds(AUDITOR)?)?
                .get_info(pb::GetInfoRequest {})
                .await
                .map_err(CliError::Rpc)?;
        } else {
            relay_client(&proc_.addr, d.creds(AUDITOR)?)?
                .get_epoch_key(pb::GetEpochKeyRequest {})
                .await
                .map_err(CliError::Rpc)?;
        }
        pids.push(pid.to_string());
        t.add_row(vec![proc_.name.clone(), pid.to_string(), proc_.addr.clone(), file.display().to_string()]);
    }
    println!("{t}");
    let epoch = d.keys.public.epoch().0;
    let now = escrow_service::clock::Clock::now(&d.clock);
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
    let t0 = sh(&d.trustees[0].addr);
    let relay = sh(&d.relay.addr);
    let all: Vec<String> = d.trustees.iter().map(|t| format!("--trustee {}", sh(&t.addr))).collect();
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
    println!("  escrow pki export-key {} --out {}", p("pki/auditor-1.key"), p("auditor-1.key.pem"));
    println!(
        "  grpcurl -cacert {} -cert {} -key {} -servername trustee.escrow.internal {t0} list",
        p("pki/ca.pem"),
        p("pki/auditor-1.pem"),
        p("auditor-1.key.pem")
    );
    println!("Logs: {}/logs/. To stop every process of the deployment:", dir.display());
    println!("  kill {}", pids.join(" "));
    for proc_ in d.trustees.iter_mut().chain(std::iter::once(&mut d.relay)) {
        proc_.detach();
    }
    Ok(())
}

async fn bench(d: &Deployment, n: usize) -> Result<(), CliError> {
    println!("\nBenchmark: opening {n} in-scope messages, n = 5, t = 2, all on this machine.");
    let t0 = Instant::now();
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let ts = day_time(1, 0) + (i as u64 * 60) % DAY;
        sent.push(d.send("alice", &["bob"], ts, &format!("message {i}")).await?);
    }
    let send_time = t0.elapsed();
    d.clock.set(day_time(4, 9)).map_err(err)?;
    let (w, id) = d.warrant(&["alice"], day_time(1, 0), day_time(2, 0), "bench")?;
    d.submit(&w).await?;
    for i in [0, 1, 3, 4] {
        d.decide(i, id, true, "bench").await?;
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
    // and combines them, checks the field carries the key, and decrypts.
    let c0 = Instant::now();
    let alice = d.user("alice")?.public();
    for e in &sent {
        let (label_bytes, field_bytes) = (e.label().to_bytes(), e.field().to_bytes());
        let mut share_bytes = Vec::with_capacity(5);
        for s in &d.keys.shares {
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
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1) as f64;
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
