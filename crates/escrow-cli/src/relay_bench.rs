//! `escrow relay bench`: how fast one relay takes envelopes in, with 1, 10 and 50
//! concurrent senders, under group commit and, in the same run, with each message
//! checked and committed alone (the relay before group commit); the relay's CPU per
//! message beside the cost of the checks themselves on one core.
//!
//! The relay runs as a child process of this binary (mutual TLS on loopback, its own
//! SQLite file with `synchronous=FULL`), started by the deployment kit with three idle
//! trustees and 50 registered users. Envelopes are sealed before the clock starts, so
//! the rows time the relay's ingest, not the senders' sealing; one more row times the
//! user library's whole `send` (sealing included) for one sender. Senders and relay
//! share the machine's cores.

use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::Table;
use escrow_crypto::{verify_fields, Envelope, PartyId, SealRequest, UserPublicKey};
use escrow_proto::v1::relay_client::RelayClient;
use escrow_proto::v1::{GetEpochKeyRequest, SendRequest};
use rand::RngCore;
use tonic::transport::Channel;

use crate::bench::{fail, percentile};
use crate::CliError;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Messages per row.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(50..=200_000))]
    pub messages: u32,
    /// Concurrent senders per row (comma-separated; each its own user, certificate and
    /// connection), at most 50.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub senders: Vec<u16>,
}

const USERS: usize = 50;

fn user(i: usize) -> String {
    format!("s{i:02}")
}

/// User and system CPU time of process `pid` so far (all its threads), from
/// `/proc/<pid>/stat` in clock ticks of 1/100 s (Linux's `USER_HZ` as /proc reports it).
fn cpu_time(pid: u32) -> Result<Duration, CliError> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| fail(format!("{path}: {e}")))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).ok_or_else(|| fail(format!("{path}: no command name")))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, CliError> {
        f.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| fail(format!("{path}: field {} unreadable", i + 3)))
    };
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// The relay process's CPU time from a starting point (`None` for a relay without a
/// process of its own).
struct CpuSince {
    pid: u32,
    start: Duration,
}

impl CpuSince {
    fn now(pid: Option<u32>) -> Result<Option<Self>, CliError> {
        pid.map(|pid| Ok(CpuSince { pid, start: cpu_time(pid)? })).transpose()
    }

    fn spent(&self) -> Result<Duration, CliError> {
        Ok(cpu_time(self.pid)?.saturating_sub(self.start))
    }
}

/// A sealed envelope from user `from` to the next user.
fn seal(d: &escrow_kit::Deployment, from: usize, now: u64) -> Result<Envelope, CliError> {
    let to = (from + 1) % USERS;
    let sender = d.user(&user(from))?;
    let recipient: UserPublicKey = d.user(&user(to))?.public();
    let mut message_id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut message_id);
    let req = SealRequest {
        sender,
        recipients: &[recipient],
        epoch_key: &d.keys.public,
        message_id,
        timestamp: now,
        plaintext: b"an ordinary message of about the length of an ordinary message",
    };
    Envelope::seal(&req, &mut rand::rngs::OsRng).map_err(fail)
}

/// `n` envelopes for `senders` senders, sender k's at positions k, k + senders, ...
/// Sealed on every core.
fn seal_all(d: &escrow_kit::Deployment, n: usize, senders: usize) -> Result<Vec<Envelope>, CliError> {
    let now = d.clock.now();
    let idx: Vec<usize> = (0..n).collect();
    escrow_service::par::par_map(&idx, |_, &k| seal(d, k % senders, now), |_, _| Err(fail("sealing panicked")))
        .into_iter()
        .collect()
}

struct Row {
    commit: &'static str,
    senders: String,
    count: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    relay_cpu: Option<Duration>,
    retried: u64,
}

impl Row {
    fn cells(mut self) -> Vec<String> {
        self.latencies.sort();
        let per_s = self.count as f64 / self.wall.as_secs_f64().max(1e-9);
        vec![
            self.commit.to_string(),
            self.senders,
            self.count.to_string(),
            format!("{per_s:.0}"),
            format!("{:.2}", percentile(&self.latencies, 0.5)),
            format!("{:.2}", percentile(&self.latencies, 0.99)),
            self.relay_cpu.map_or("-".into(), |c| format!("{:.3}", c.as_secs_f64() * 1e3 / self.count.max(1) as f64)),
            self.retried.to_string(),
        ]
    }
}

/// Sends `envs` one after another on `client`, waiting out `RESOURCE_EXHAUSTED` as
/// its `retry-after-ms` says; the latency of each is from first try to acknowledgement.
async fn drive(mut client: RelayClient<Channel>, envs: Vec<Vec<u8>>) -> Result<(Vec<Duration>, u64), CliError> {
    let mut lat = Vec::with_capacity(envs.len());
    let mut retried = 0u64;
    for envelope in envs {
        let t = Instant::now();
        loop {
            match client.send(SendRequest { envelope: envelope.clone() }).await {
                Ok(_) => break,
                Err(s) if s.code() == tonic::Code::ResourceExhausted && retried < 100_000 => {
                    retried += 1;
                    let ms = s
                        .metadata()
                        .get(escrow_service::auth::RETRY_AFTER_MS)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(10u64);
                    tokio::time::sleep(Duration::from_millis(ms.min(1_000))).await;
                }
                Err(s) => return Err(fail(format!("send refused: {:?} {}", s.code(), s.message()))),
            }
        }
        lat.push(t.elapsed());
    }
    Ok((lat, retried))
}

/// One row: `senders` senders at once, `n` messages in all.
async fn ingest(d: &escrow_kit::Deployment, commit: &'static str, senders: usize, n: usize) -> Result<Row, CliError> {
    let envs = seal_all(d, n, senders)?;
    let mut per_sender: Vec<Vec<Vec<u8>>> = vec![Vec::new(); senders];
    for (k, e) in envs.iter().enumerate() {
        if let Some(v) = per_sender.get_mut(k % senders) {
            v.push(e.as_bytes().to_vec());
        }
    }
    // Connections are made and warmed up (TLS, HTTP/2) before the clock starts.
    let mut clients = Vec::with_capacity(senders);
    for k in 0..senders {
        let mut c = d.relay_client_as(&d.user_creds(&user(k))?)?;
        c.get_epoch_key(GetEpochKeyRequest {}).await.map_err(fail)?;
        clients.push(c);
    }
    let cpu = CpuSince::now(d.relay.pid())?;
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (c, envs) in clients.into_iter().zip(per_sender) {
        set.spawn(drive(c, envs));
    }
    let (mut latencies, mut retried) = (Vec::with_capacity(n), 0);
    while let Some(r) = set.join_next().await {
        let (l, r) = r.map_err(fail)??;
        latencies.extend(l);
        retried += r;
    }
    let wall = t0.elapsed();
    let relay_cpu = cpu.map(|c| c.spent()).transpose()?;
    Ok(Row { commit, senders: senders.to_string(), count: n, wall, latencies, relay_cpu, retried })
}

/// One sender through the user library: sealing (one escrow field, one signature, one
/// recipient key) and sending, one message at a time.
async fn through_the_library(d: &escrow_kit::Deployment, n: usize) -> Result<Row, CliError> {
    let (me, to) = (user(0), PartyId::new(user(1)).map_err(fail)?);
    let client = d.user_client(&me)?;
    let key = d.user(&me)?;
    let now = d.clock.now();
    client.send(key, std::slice::from_ref(&to), b"warm-up", now, &mut rand::rngs::OsRng).await.map_err(fail)?;
    let cpu = CpuSince::now(d.relay.pid())?;
    let t0 = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        client
            .send(key, std::slice::from_ref(&to), b"an ordinary message", now, &mut rand::rngs::OsRng)
            .await
            .map_err(fail)?;
        latencies.push(t.elapsed());
    }
    let wall = t0.elapsed();
    let relay_cpu = cpu.map(|c| c.spent()).transpose()?;
    Ok(Row {
        commit: "group commit",
        senders: "1, UserClient::send (seals each)".into(),
        count: n,
        wall,
        latencies,
        relay_cpu,
        retried: 0,
    })
}

/// What the relay's checks cost on one core of this process, stage by stage.
struct Floor {
    decode: Duration,
    signature: Duration,
    hash: Duration,
    pairing_alone: Duration,
    pairing_batched: Duration,
}

/// Times each of the relay's checks over `envs`, per message: decoding (every point
/// subgroup-checked), the sender's ECDSA signature, hashing the field to G2, and the
/// field's pairing check alone and batched by 64 as the committer does.
fn crypto_floor(d: &escrow_kit::Deployment, envs: &[Envelope]) -> Result<Floor, CliError> {
    let keys: Vec<UserPublicKey> =
        (0..USERS).map(|i| d.user(&user(i)).map(|u| u.public())).collect::<Result<_, _>>()?;
    let bytes: Vec<Vec<u8>> = envs.iter().map(|e| e.as_bytes().to_vec()).collect();
    let per = |t: Instant| t.elapsed() / bytes.len().max(1) as u32;

    let t = Instant::now();
    let decoded = bytes.iter().map(|b| Envelope::from_bytes(b)).collect::<Result<Vec<_>, _>>().map_err(fail)?;
    let decode = per(t);
    let t = Instant::now();
    for e in &decoded {
        let key = keys.iter().find(|k| k.id() == e.label().sender()).ok_or_else(|| fail("unknown sender"))?;
        e.verify_sender(key).map_err(fail)?;
    }
    let signature = per(t);
    let t = Instant::now();
    let checks = decoded
        .iter()
        .map(|e| e.field().pending_check(&d.keys.public, e.label()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let hash = per(t);
    let t = Instant::now();
    for c in &checks {
        c.verify().map_err(fail)?;
    }
    let pairing_alone = per(t);
    let t = Instant::now();
    for chunk in checks.chunks(64) {
        if verify_fields(chunk, &mut rand::rngs::OsRng).iter().any(Result::is_err) {
            return Err(fail("a sealed field failed its check"));
        }
    }
    let pairing_batched = per(t);
    Ok(Floor { decode, signature, hash, pairing_alone, pairing_batched })
}

async fn deployment(commit: escrow_relay::Commit, exe: &std::path::Path) -> Result<escrow_kit::Deployment, CliError> {
    let mut pass = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut pass);
    let options = escrow_kit::Options {
        name: "relay-bench".into(),
        n: 3,
        t: 1,
        seed: None,
        users: (0..USERS).map(user).collect(),
        launch: escrow_kit::Launch::Processes { exe: exe.to_path_buf(), passphrase: hex::encode(pass) },
        relay_commit: commit,
        ..escrow_kit::Options::default()
    };
    Ok(escrow_kit::Deployment::start(options).await?)
}

pub async fn run(a: BenchArgs) -> Result<(), CliError> {
    let n = a.messages as usize;
    if a.senders.is_empty() || a.senders.iter().any(|&s| s == 0 || usize::from(s) > USERS) {
        return Err(CliError::Usage(format!("--senders takes counts from 1 to {USERS}")));
    }
    let exe = std::env::current_exe().map_err(fail)?;
    println!(
        "Relay ingest on this machine ({} cores): {n} pre-sealed messages per row, each to one recipient;\n\
         senders and the relay (a child process, mutual TLS on loopback, SQLite synchronous=FULL) share the cores.",
        escrow_service::par::cores()
    );
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "relay commit",
        "senders",
        "messages",
        "messages/s",
        "p50 (ms)",
        "p99 (ms)",
        "relay CPU (ms/msg)",
        "busy retries",
    ]);
    let modes: [(&'static str, escrow_relay::Commit); 2] = [
        ("each alone (--max-batch 1)", escrow_relay::Commit::EachAlone),
        ("group commit (default)", escrow_relay::DEFAULT_COMMIT),
    ];
    let mut floor = None;
    for (name, commit) in modes {
        let d = deployment(commit, &exe).await?;
        for &s in &a.senders {
            t.add_row(ingest(&d, name, usize::from(s), n).await?.cells());
        }
        if commit == escrow_relay::DEFAULT_COMMIT {
            t.add_row(through_the_library(&d, n.min(1000)).await?.cells());
            let sample = seal_all(&d, n.min(1000), USERS)?;
            floor = Some(crypto_floor(&d, &sample)?);
        }
        drop(d);
    }
    println!("{t}");
    if let Some(f) = floor {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let common = f.decode + f.signature + f.hash;
        println!(
            "\nThe relay's checks alone, on one core of this process, per message (ms):\n  \
             decode, every point subgroup-checked   {:.3}\n  \
             sender's ECDSA P-256 signature         {:.3}\n  \
             escrow field hashed to G2 (§5.3 1-3)   {:.3}\n  \
             field pairing, alone (§5.3 4)          {:.3}   all checks: {:.3}\n  \
             field pairing, batched by 64           {:.3}   all checks: {:.3}\n\
             The relay's CPU per message above is these checks plus TLS, HTTP/2, Protobuf and SQLite.",
            ms(f.decode),
            ms(f.signature),
            ms(f.hash),
            ms(f.pairing_alone),
            ms(common + f.pairing_alone),
            ms(f.pairing_batched),
            ms(common + f.pairing_batched),
        );
    }
    Ok(())
}
