//! `--bench N[,N...]`: what opening N in-scope messages costs as N grows, with the
//! relay holding `--bench-total` messages in all.
//!
//! The benchmark's epoch is announced with both escrow modes. For each N, alice's N
//! messages to bob, spread evenly over [`WINDOW_DAYS`] simulated days of their own,
//! are sealed here with alice's key and with day fields, as her client would, and
//! written into the relay's store with the filler (`escrow_relay::tamper::fill`:
//! relay ingest is `escrow relay bench`'s business, and a million sends would take
//! this machine most of an hour). The court's warrant over those days is approved by
//! four trustees (the fifth approves on its own), and `escrow open` runs as its own
//! process, as an agency would run it: once per message (a decryption share of every
//! message from t + 1 trustees), then with `--day-mode` (one day key per day with
//! traffic) on the same messages. Measured per N and mode, all in one run:
//! - the open's wall time, and time per message;
//! - the CPU time and the peak resident memory (`VmHWM` in `/proc/<pid>/status`,
//!   reset before each N through `/proc/<pid>/clear_refs`) of every process: the
//!   agency's `escrow open`, the relay, each trustee, each witness;
//! - the crypto floor: the same cryptography in this process with no network and no
//!   database, on a sample of up to [`FLOOR_SAMPLE`] of the messages, scaled to N, over
//!   this machine's cores. Per message: each trustee's batched field check and share,
//!   the agency's combine of t + 1 shares and decryption. Day mode: every trustee's
//!   extraction share of each day key, the agency's combine of t + 1 of them, and
//!   each message's opening with its day key.
//!
//! With `--bench-out DIR` the rows also go to `DIR/bench.json`, and time and peak
//! memory against N to `DIR/bench.svg`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::*;

/// Most messages the crypto floor is measured on (then scaled to N).
pub(super) const FLOOR_SAMPLE: usize = 2_000;

/// Most message counts: each N has its own [`WINDOW_DAYS`] simulated days, inside the
/// benchmark epoch's [`super::deploy::BENCH_EPOCH_DAYS`].
const MAX_SIZES: usize = 6;

/// Days each N's messages are spread over, and its warrant covers.
pub(super) const WINDOW_DAYS: u64 = 30;

/// The first simulated day of the `k`-th message count's window.
fn first_day(k: usize) -> u64 {
    1 + WINDOW_DAYS * k as u64
}

/// How the agency opens: per message, or with day keys (`escrow open --day-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    PerMessage,
    Day,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PerMessage => "per message",
            Mode::Day => "day keys",
        }
    }
}

/// How often each process's CPU time and peak memory are read during an open.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What `--bench` asks for.
pub(super) struct Plan {
    /// The numbers of in-scope messages to open, one row each.
    pub(super) sizes: Vec<usize>,
    /// Messages the relay holds in all once the in-scope ones are in (the rest are
    /// filler: copies of one of carol's envelopes to dave, never in scope).
    pub(super) total: usize,
    /// Where bench.json and bench.svg go.
    pub(super) out: Option<PathBuf>,
}

/// One process's share of one open.
#[derive(Debug, Clone, Serialize)]
struct ProcessCost {
    process: String,
    cpu_s: f64,
    /// Peak resident memory during the open, MiB.
    peak_rss_mib: f64,
}

/// One row: opening N messages in one mode.
#[derive(Debug, Clone, Serialize)]
struct Row {
    mode: Mode,
    n: usize,
    /// What each trustee computed: a decryption share per message, or an extraction
    /// share per day key (one per day with traffic).
    shares_per_trustee: usize,
    relay_total: u64,
    opened: usize,
    wall_s: f64,
    ms_per_message: f64,
    floor_s: f64,
    over_floor_pct: f64,
    processes: Vec<ProcessCost>,
}

/// CPU time (user + system) and peak resident memory of process `pid`, from
/// `/proc/<pid>/stat` (clock ticks of 1/100 s) and `/proc/<pid>/status` (`VmHWM`, KiB).
fn read_proc(pid: u32) -> Option<(Duration, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let cpu = Duration::from_millis((ticks(11)? + ticks(12)?) * 10);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some((cpu, hwm))
}

/// Starts each process's peak-memory count afresh (`5` to `/proc/<pid>/clear_refs`).
fn reset_peak(pid: u32) -> Result<(), CliError> {
    let path = PathBuf::from(format!("/proc/{pid}/clear_refs"));
    std::fs::write(&path, "5").map_err(|e| CliError::io(&path, e))
}

/// The deployment's long-lived processes, by name.
fn processes(d: &Deployment) -> Vec<(String, u32)> {
    let mut all: Vec<(String, u32)> = Vec::new();
    all.extend(d.relay.pid().map(|p| ("relay".to_string(), p)));
    for t in &d.trustees {
        all.extend(t.server.pid().map(|p| (t.name.clone(), p)));
    }
    for w in &d.witnesses {
        all.extend(w.server.pid().map(|p| (format!("witness {}", w.name), p)));
    }
    all
}

pub(super) async fn bench(d: &Deployment, plan: &Plan) -> Result<(), CliError> {
    let sizes = &plan.sizes;
    if sizes.is_empty() || sizes.contains(&0) || sizes.len() > MAX_SIZES {
        return Err(err(format!("--bench: give 1 to {MAX_SIZES} message counts, each at least 1")));
    }
    println!(
        "\nBenchmark: opening N in-scope messages of one target over {WINDOW_DAYS} days (N = {}), per message \
         and with day keys, n = 5, t = 2, every process on this machine ({} cores); the relay holds {} \
         messages in all.",
        sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        escrow_service::par::cores(),
        plan.total.max(sizes.iter().sum())
    );
    let work = tempfile::Builder::new().prefix("escrow-bench-").tempdir().map_err(err)?;
    let policy_file = work.path().join("witness.policy");
    if let Some(text) = d.witness_policy_text() {
        std::fs::write(&policy_file, text).map_err(|e| CliError::io(&policy_file, e))?;
    }
    seed_filler(d, plan.total.saturating_sub(sizes.iter().sum()))?;
    // The trustees' shares, for the crypto floor (read as the key-theft scenario's
    // thief reads them).
    let epoch = d.keys.public.epoch().0;
    let mut held = Vec::new();
    for i in 0..d.trustees.len() {
        if let Some((_, _, s)) = super::adversaries::steal(d, i)?.into_iter().find(|(e, _, _)| *e == epoch) {
            held.push(s);
        }
    }
    // Everything is in the relay before the first open: each open searches the same
    // tables.
    let mut seeded = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        seeded.push(seed_window(d, first_day(k), n)?);
    }
    let relay_total = escrow_relay::tamper::counts(&d.relay_dir).map_err(err)?.1;
    d.clock.set(day_time(first_day(sizes.len()), 1).max(d.clock.now())).map_err(err)?;
    let mut rows = Vec::new();
    for ((k, &n), (sample, days)) in sizes.iter().enumerate().zip(&seeded) {
        let from = day_time(first_day(k), 0);
        let (w, id) = d.sign_warrant(&["alice"], from, from + WINDOW_DAYS * DAY, "bench")?;
        let warrant_file = work.path().join(format!("warrant-{n}.hex"));
        std::fs::write(&warrant_file, hex::encode(&w)).map_err(|e| CliError::io(&warrant_file, e))?;
        d.submit_table(&w).await?;
        for i in [0, 1, 3, 4] {
            d.decide_as(i, id, true, "bench").await?;
        }
        for mode in [Mode::PerMessage, Mode::Day] {
            let (wall, opened, processes) = open_measured(d, &warrant_file, &policy_file, work.path(), n, mode).await?;
            if opened != n {
                return Err(err(format!("{}: opened {opened} of {n}", mode.name())));
            }
            let (floor, shares_per_trustee) = match mode {
                Mode::PerMessage => (crypto_floor(d, &held, sample)? * n as f64, n),
                Mode::Day => (day_floor(d, &held, sample, days)?.total(n), days.len()),
            };
            rows.push(Row {
                mode,
                n,
                shares_per_trustee,
                relay_total,
                opened,
                wall_s: wall,
                ms_per_message: wall * 1e3 / n as f64,
                floor_s: floor,
                over_floor_pct: (wall / floor - 1.0) * 100.0,
                processes,
            });
            print_rows(&rows);
        }
    }
    if let Some(out) = &plan.out {
        std::fs::create_dir_all(out).map_err(|e| CliError::io(out, e))?;
        let json = out.join("bench.json");
        let text = serde_json::to_string_pretty(&rows).map_err(err)?;
        std::fs::write(&json, text).map_err(|e| CliError::io(&json, e))?;
        let svg = out.join("bench.svg");
        std::fs::write(&svg, plot(&rows)).map_err(|e| CliError::io(&svg, e))?;
        println!("wrote {} and {}", json.display(), svg.display());
    }
    Ok(())
}

/// Writes `count` filler rows: copies of one real envelope from carol to dave, spread
/// over the simulated week, under fresh message ids.
fn seed_filler(d: &Deployment, count: usize) -> Result<(), CliError> {
    if count == 0 {
        return Ok(());
    }
    let carol = d.user("carol")?;
    let dave = d.user("dave")?.public();
    let env = Envelope::seal(
        &SealRequest {
            sender: carol,
            recipients: &[dave],
            epoch_key: &d.keys.public,
            message_id: [0xf1; 16],
            timestamp: day_time(0, 1),
            plaintext: b"filler",
        },
        &mut OsRng,
    )?;
    let bytes = env.as_bytes().to_vec();
    let t = Instant::now();
    let mut salt = [0u8; 8];
    OsRng.fill_bytes(&mut salt);
    const CHUNK: usize = 100_000;
    let mut written = 0;
    while written < count {
        let now = (count - written).min(CHUNK);
        let rows = (written..written + now).map(|k| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&salt);
            id[8..].copy_from_slice(&(k as u64).to_be_bytes());
            escrow_relay::tamper::FillRow {
                message_id: id,
                sender: "carol",
                recipient: "dave",
                timestamp: i64::try_from(day_time(0, 0) + (k as u64 * 7) % (7 * DAY)).unwrap_or(i64::MAX),
                envelope: &bytes,
            }
        });
        escrow_relay::tamper::fill(&d.relay_dir, rows).map_err(err)?;
        written += now;
    }
    println!(
        "filler: {count} messages from carol to dave written into the relay in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Seals alice's `n` messages to bob with day fields, spread evenly over the
/// [`WINDOW_DAYS`] simulated days from `first` (on every core), and writes them into
/// the relay. Returns up to [`FLOOR_SAMPLE`] of them for the crypto floors, and alice's
/// day keys the messages need.
fn seed_window(d: &Deployment, first: u64, n: usize) -> Result<(Vec<Envelope>, BTreeSet<DayId>), CliError> {
    let from = day_time(first, 0);
    let span = WINDOW_DAYS * DAY;
    let at = |i: usize| from + (i as u64 * span) / n as u64;
    let alice_id = PartyId::new("alice")?;
    let days: BTreeSet<DayId> =
        (0..n).map(|i| DayId::new(d.keys.public.epoch(), alice_id.clone(), day_of(at(i)))).collect();
    let alice = d.user("alice")?;
    let bob = d.user("bob")?.public();
    let t = Instant::now();
    let mut sample = Vec::new();
    const CHUNK: usize = 10_000;
    let mut done = 0;
    while done < n {
        let now = (n - done).min(CHUNK);
        let idx: Vec<usize> = (done..done + now).collect();
        let sealed = escrow_service::par::par_map(
            &idx,
            |_, &i| {
                let mut id = [0u8; 16];
                OsRng.fill_bytes(&mut id);
                let text = format!("message {i} of days {first} to {}", first + WINDOW_DAYS - 1);
                Envelope::seal_with_days(
                    &SealRequest {
                        sender: alice,
                        recipients: std::slice::from_ref(&bob),
                        epoch_key: &d.keys.public,
                        message_id: id,
                        timestamp: at(i),
                        plaintext: text.as_bytes(),
                    },
                    &mut OsRng,
                )
            },
            |_, _| Err(escrow_crypto::Error::InvalidInput { what: "sealing", reason: "a worker panicked" }),
        )
        .into_iter()
        .collect::<Result<Vec<Envelope>, _>>()?;
        let bytes: Vec<(Envelope, Vec<u8>)> = sealed
            .into_iter()
            .map(|e| {
                let b = e.as_bytes().to_vec();
                (e, b)
            })
            .collect();
        let rows = bytes.iter().map(|(e, b)| escrow_relay::tamper::FillRow {
            message_id: *e.label().message_id(),
            sender: "alice",
            recipient: "bob",
            timestamp: i64::try_from(e.label().timestamp()).unwrap_or(i64::MAX),
            envelope: b,
        });
        escrow_relay::tamper::fill(&d.relay_dir, rows).map_err(err)?;
        sample.extend(bytes.into_iter().map(|(e, _)| e).take(FLOOR_SAMPLE.saturating_sub(sample.len())));
        done += now;
    }
    println!(
        "days {first} to {}: {n} messages from alice to bob sealed with day fields and written into the relay in \
         {:.1} s",
        first + WINDOW_DAYS - 1,
        t.elapsed().as_secs_f64()
    );
    Ok((sample, days))
}

/// Runs `escrow open` on `warrant` as its own process, reading every process's CPU
/// time and peak memory while it runs; returns the wall time, the messages opened and
/// each process's cost.
async fn open_measured(
    d: &Deployment,
    warrant_file: &Path,
    policy_file: &Path,
    work: &Path,
    n: usize,
    mode: Mode,
) -> Result<(f64, usize, Vec<ProcessCost>), CliError> {
    let procs = processes(d);
    let mut before = BTreeMap::new();
    for (name, pid) in &procs {
        reset_peak(*pid)?;
        before.insert(name.clone(), read_proc(*pid).map(|(c, _)| c).unwrap_or_default());
    }
    let out = work.join(format!("opened-{n}-{mode:?}"));
    let exe = std::env::current_exe().map_err(err)?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.env("ESCROW_PASSPHRASE", &d.passphrase)
        .arg("--profile")
        .arg(d.dir.join("pki/agency-1.profile.toml"))
        .args(["open", "--relay", &d.relay.addr.to_string(), "--warrant"])
        .arg(warrant_file)
        .arg("--out")
        .arg(&out);
    if mode == Mode::Day {
        cmd.arg("--day-mode");
    }
    if policy_file.exists() {
        cmd.arg("--witness-policy").arg(policy_file);
    }
    for t in &d.trustees {
        cmd.args(["--trustee", &t.server.addr.to_string()]);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(err)?;
    let agency_pid = child.id().ok_or_else(|| err("escrow open exited before it could be measured"))?;
    let mut peak: BTreeMap<String, (Duration, u64)> = BTreeMap::new();
    let mut all = procs.clone();
    all.push(("agency (escrow open)".into(), agency_pid));
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let drain = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut o = Vec::new();
        let mut e = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut o).await;
        }
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut e).await;
        }
        (o, e)
    });
    let status = loop {
        for (name, pid) in &all {
            if let Some(v) = read_proc(*pid) {
                peak.insert(name.clone(), v);
            }
        }
        tokio::select! {
            s = child.wait() => break s.map_err(err)?,
            () = tokio::time::sleep(SAMPLE_EVERY) => {}
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    for (name, pid) in &procs {
        if let Some(v) = read_proc(*pid) {
            peak.insert(name.clone(), v);
        }
    }
    let (o, e) = drain.await.map_err(err)?;
    if !status.success() {
        return Err(err(format!(
            "escrow open failed ({status}): {}{}",
            String::from_utf8_lossy(&o),
            String::from_utf8_lossy(&e)
        )));
    }
    let summary = out.join("summary.txt");
    let opened = std::fs::read_to_string(&summary).map_err(|e| CliError::io(&summary, e))?.matches("opened #").count();
    std::fs::remove_dir_all(&out).map_err(|e| CliError::io(&out, e))?;
    let costs = all
        .iter()
        .map(|(name, _)| {
            let (cpu, hwm) = peak.get(name).copied().unwrap_or_default();
            let base = before.get(name).copied().unwrap_or_default();
            ProcessCost {
                process: name.clone(),
                cpu_s: cpu.saturating_sub(base).as_secs_f64(),
                peak_rss_mib: hwm as f64 / 1024.0,
            }
        })
        .collect();
    Ok((wall, opened, costs))
}

/// Seconds per message of the cryptography alone, over this machine's cores: each
/// trustee's batched field check and share (all five are asked), and the agency's
/// batched recovery from t + 1 shares and decryption, on `sample`, in this process.
fn crypto_floor(d: &Deployment, held: &[TrusteeKeyShare], sample: &[Envelope]) -> Result<f64, CliError> {
    if sample.is_empty() {
        return Err(err("no messages to measure the crypto floor on"));
    }
    let alice = d.user("alice")?.public();
    let epk = &d.keys.public;
    let quorum = epk.quorum();
    let t = Instant::now();
    let bytes: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> =
        sample.iter().map(|e| (e.label().to_bytes(), e.field().to_bytes(), e.as_bytes().to_vec())).collect();
    let results = escrow_service::par::par_chunks(
        &bytes,
        |_, part| {
            let run = || -> Result<(), escrow_crypto::Error> {
                let labels = part.iter().map(|(l, _, _)| Label::from_bytes(l)).collect::<Result<Vec<_>, _>>()?;
                let fields = part.iter().map(|(_, f, _)| EscrowField::from_bytes(f)).collect::<Result<Vec<_>, _>>()?;
                let items: Vec<(&EscrowField, &Label)> = fields.iter().zip(&labels).collect();
                let mut shares: Vec<Vec<DecryptionShare>> = vec![Vec::new(); part.len()];
                for s in held {
                    for (slot, share) in shares.iter_mut().zip(s.decrypt_shares(epk, &items, &mut OsRng)) {
                        slot.push(DecryptionShare::from_bytes(&share?.to_bytes())?);
                    }
                }
                let envs = part.iter().map(|(_, _, e)| Envelope::from_bytes(e)).collect::<Result<Vec<_>, _>>()?;
                for s in &mut shares {
                    s.truncate(quorum);
                }
                let items: Vec<RecoverItem<'_>> =
                    envs.iter().zip(&shares).map(|(e, s)| (e.field(), e.label(), s.as_slice())).collect();
                for (env, key) in envs.iter().zip(epk.recover_many(&items, &mut OsRng)) {
                    env.open_recovered(&key?, &alice)?;
                }
                Ok(())
            };
            // One result per item, as par_chunks wants: the run's error on its first.
            match run() {
                Ok(()) => part.iter().map(|_| Ok(())).collect(),
                Err(e) => std::iter::once(Err(e)).chain(part.iter().skip(1).map(|_| Ok(()))).collect(),
            }
        },
        |_, _| Err(escrow_crypto::Error::InvalidInput { what: "floor", reason: "a worker panicked" }),
    );
    for r in results {
        r?;
    }
    Ok(t.elapsed().as_secs_f64() / sample.len() as f64)
}

/// The day mode's cryptography alone, over this machine's cores: making every day key
/// (each trustee's extraction share, the agency's check and combine of t + 1), and
/// opening a message with its day key.
struct DayFloor {
    /// Seconds for all the day keys.
    keys_s: f64,
    /// Seconds per message opened with its day key.
    per_message_s: f64,
}

impl DayFloor {
    /// Seconds for `n` messages and the keys.
    fn total(&self, n: usize) -> f64 {
        self.keys_s + self.per_message_s * n as f64
    }
}

/// Measures [`DayFloor`] on `days` (the keys the messages need) and `sample`, in this
/// process.
fn day_floor(
    d: &Deployment,
    held: &[TrusteeKeyShare],
    sample: &[Envelope],
    days: &BTreeSet<DayId>,
) -> Result<DayFloor, CliError> {
    if sample.is_empty() {
        return Err(err("no messages to measure the crypto floor on"));
    }
    let alice = d.user("alice")?.public();
    let epk = &d.keys.public;
    let quorum = epk.quorum();
    let ids: Vec<DayId> = days.iter().cloned().collect();
    let t = Instant::now();
    let keys = escrow_service::par::par_map(
        &ids,
        |_, id| {
            let shares = held.iter().map(|s| s.extract_share(id)).collect::<Result<Vec<ExtractionShare>, _>>()?;
            let (key, _) = epk.combine_day_key(id, shares.get(..quorum).unwrap_or(&shares))?;
            Ok((id.clone(), key))
        },
        |_, _| Err(escrow_crypto::Error::InvalidInput { what: "day floor", reason: "a worker panicked" }),
    )
    .into_iter()
    .collect::<Result<BTreeMap<DayId, DayKey>, escrow_crypto::Error>>()?;
    let keys_s = t.elapsed().as_secs_f64();
    let party = PartyId::new("alice")?;
    let t = Instant::now();
    let opened = escrow_service::par::par_map(
        sample,
        |_, env| {
            let id = DayId::of(env.label(), &party)?;
            let key = keys.get(&id).ok_or(escrow_crypto::Error::InvalidInput {
                what: "day floor",
                reason: "a message outside the seeded days",
            })?;
            env.open_with_day_key(key, &party, &alice).map(|_| ())
        },
        |_, _| Err(escrow_crypto::Error::InvalidInput { what: "day floor", reason: "a worker panicked" }),
    );
    for r in opened {
        r?;
    }
    Ok(DayFloor { keys_s, per_message_s: t.elapsed().as_secs_f64() / sample.len() as f64 })
}

fn print_rows(rows: &[Row]) {
    let mut t = wide_table(&[
        "N",
        "mode",
        "shares per trustee",
        "relay holds",
        "open, wall s",
        "ms / message",
        "crypto floor s",
        "over floor",
        "agency peak MiB",
        "relay peak MiB",
        "trustee peak MiB (max)",
        "agency CPU s",
        "trustees CPU s (sum)",
    ]);
    for r in rows {
        let of = |name: &str| r.processes.iter().find(|p| p.process == name);
        let trustees: Vec<&ProcessCost> = r.processes.iter().filter(|p| p.process.starts_with("trustee-")).collect();
        t.add_row(vec![
            r.n.to_string(),
            r.mode.name().to_string(),
            r.shares_per_trustee.to_string(),
            r.relay_total.to_string(),
            format!("{:.2}", r.wall_s),
            format!("{:.2}", r.ms_per_message),
            format!("{:.2}", r.floor_s),
            format!("{:.0}%", r.over_floor_pct),
            of("agency (escrow open)").map_or("-".into(), |p| format!("{:.0}", p.peak_rss_mib)),
            of("relay").map_or("-".into(), |p| format!("{:.0}", p.peak_rss_mib)),
            format!("{:.0}", trustees.iter().map(|p| p.peak_rss_mib).fold(0.0, f64::max)),
            of("agency (escrow open)").map_or("-".into(), |p| format!("{:.1}", p.cpu_s)),
            format!("{:.1}", trustees.iter().map(|p| p.cpu_s).sum::<f64>()),
        ]);
    }
    println!("{t}");
}

/// Time per message and peak memory against N, in both modes, on a logarithmic N axis:
/// two panels.
fn plot(all: &[Row]) -> String {
    let rows: Vec<&Row> = all.iter().filter(|r| r.mode == Mode::PerMessage).collect();
    let day: Vec<&Row> = all.iter().filter(|r| r.mode == Mode::Day).collect();
    const W: f64 = 720.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 70.0;
    const TOP: f64 = 40.0;
    const PW: f64 = 600.0;
    const PH: f64 = 200.0;
    let ns: Vec<f64> = rows.iter().map(|r| (r.n as f64).log10()).collect();
    let (nmin, nmax) = ns.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (nmax - nmin).max(1.0);
    let x = |n: f64| LEFT + (n - nmin) / span * PW;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        2.0 * H
    );
    let mut panel = |top: f64, title: &str, series: Vec<(&str, &str, Vec<f64>)>| {
        let ymax = series.iter().flat_map(|(_, _, v)| v.iter().copied()).fold(0.0f64, f64::max).max(1e-9) * 1.15;
        let y = |v: f64| top + TOP + PH - v / ymax * PH;
        svg.push_str(&format!("<text x=\"{LEFT}\" y=\"{}\" font-size=\"14\">{title}</text>\n", top + 20.0));
        svg.push_str(&format!(
            "<rect x=\"{LEFT}\" y=\"{}\" width=\"{PW}\" height=\"{PH}\" fill=\"none\" stroke=\"#888\"/>\n",
            top + TOP
        ));
        for i in 0..=4 {
            let v = ymax * f64::from(i) / 4.0;
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.2}</text>\n",
                LEFT - 6.0,
                y(v) + 4.0
            ));
        }
        for (r, &n) in rows.iter().zip(&ns) {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">N = {}</text>\n",
                x(n),
                top + TOP + PH + 16.0,
                r.n
            ));
        }
        for (k, (name, colour, values)) in series.iter().enumerate() {
            let points: Vec<String> =
                ns.iter().zip(values).map(|(&n, &v)| format!("{:.1},{:.1}", x(n), y(v))).collect();
            svg.push_str(&format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
                points.join(" ")
            ));
            for p in &points {
                let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                svg.push_str(&format!("<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{colour}\"/>\n"));
            }
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>\n",
                LEFT + PW - 200.0,
                top + TOP + 16.0 + 16.0 * k as f64
            ));
        }
    };
    panel(
        0.0,
        "Time per message (ms) against N",
        vec![
            ("per message: open, wall time", "#c0392b", rows.iter().map(|r| r.ms_per_message).collect()),
            ("per message: crypto floor", "#2c3e50", rows.iter().map(|r| r.floor_s * 1e3 / r.n as f64).collect()),
            ("day keys: open, wall time", "#d35400", day.iter().map(|r| r.ms_per_message).collect()),
            ("day keys: crypto floor", "#7f8c8d", day.iter().map(|r| r.floor_s * 1e3 / r.n as f64).collect()),
        ],
    );
    let peak = |rows: &[&Row], pred: &dyn Fn(&str) -> bool| -> Vec<f64> {
        rows.iter()
            .map(|r| r.processes.iter().filter(|p| pred(&p.process)).map(|p| p.peak_rss_mib).fold(0.0, f64::max))
            .collect()
    };
    panel(
        H,
        "Peak resident memory (MiB) against N",
        vec![
            ("agency, per message", "#c0392b", peak(&rows, &|p| p.starts_with("agency"))),
            ("agency, day keys", "#d35400", peak(&day, &|p| p.starts_with("agency"))),
            ("relay", "#27ae60", peak(&rows, &|p| p == "relay")),
            ("trustee (largest)", "#2c3e50", peak(&rows, &|p| p.starts_with("trustee-"))),
        ],
    );
    svg.push_str("</svg>\n");
    svg
}
