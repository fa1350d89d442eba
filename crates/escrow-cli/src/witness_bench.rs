//! `escrow witness bench`: cosignatures per second at one witness, and the latency
//! witnessing adds to a warrant's first release (5 trustees, 3 witnesses), each beside
//! its baseline in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::Table;
use escrow_log::witness::{AddCheckpoint, LogKeys};
use escrow_log::{leaf_hash, Checkpoint, CheckpointSigner, MerkleTree, WitnessSigner};
use escrow_witness::client::{AddOutcome, WitnessClient};

use crate::bench::{fail, percentile};
use crate::CliError;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Cosignatures per throughput row.
    #[arg(long, default_value_t = 1000)]
    pub cosignatures: usize,
    /// Logs submitting at once in the concurrent row.
    #[arg(long, default_value_t = 8)]
    pub logs: usize,
    /// Warrants whose first release is timed per configuration.
    #[arg(long, default_value_t = 10)]
    pub releases: usize,
}

/// `n` add-checkpoint bodies of one log, each extending the previous by one entry.
fn requests(origin: &str, n: usize) -> Result<(CheckpointSigner, Vec<String>), CliError> {
    let signer = CheckpointSigner::generate(origin, &mut rand::rngs::OsRng).map_err(fail)?;
    let mut tree = MerkleTree::new();
    let mut out = Vec::with_capacity(n);
    for k in 0..n as u64 {
        tree.append(leaf_hash(format!("{origin} {k}").as_bytes()));
        let size = k + 1;
        let proof = if k == 0 { Vec::new() } else { tree.consistency_proof(k, size).map_err(fail)? };
        let checkpoint = signer.sign(&Checkpoint::new(origin, size, tree.root(size).map_err(fail)?).map_err(fail)?);
        out.push(AddCheckpoint { old_size: k, proof, checkpoint }.to_body());
    }
    Ok((signer, out))
}

struct Row {
    mode: String,
    count: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Row {
    fn cells(mut self) -> Vec<String> {
        self.latencies.sort();
        vec![
            self.mode,
            self.count.to_string(),
            format!("{:.2}", self.wall.as_secs_f64()),
            format!("{:.0}", self.count as f64 / self.wall.as_secs_f64().max(1e-9)),
            format!("{:.2}", percentile(&self.latencies, 0.5)),
            format!("{:.2}", percentile(&self.latencies, 0.99)),
        ]
    }
}

fn witness(dir: &std::path::Path, logs: &[&CheckpointSigner]) -> Result<Arc<escrow_witness::Witness>, CliError> {
    let mut keys = LogKeys::new();
    for l in logs {
        keys.add(l.name(), l.verifier());
    }
    let signer = WitnessSigner::generate("bench.witness/w1", &mut rand::rngs::OsRng).map_err(fail)?;
    let w =
        escrow_witness::Witness::open(dir, signer, keys, Arc::new(escrow_service::clock::SystemClock)).map_err(fail)?;
    Ok(Arc::new(w))
}

/// Serves `w` on loopback (TLS when `tls`), returns the URL and the stop handle.
async fn serve(
    w: Arc<escrow_witness::Witness>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<(String, tokio::sync::oneshot::Sender<()>), CliError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(fail)?;
    let addr = listener.local_addr().map_err(fail)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(escrow_witness::server::serve(listener, w, tls, async move {
        let _ = rx.await;
    }));
    Ok((format!("{scheme}://{addr}"), tx))
}

async fn drive(client: &WitnessClient, bodies: &[String]) -> Result<Vec<Duration>, CliError> {
    let mut lat = Vec::with_capacity(bodies.len());
    for body in bodies {
        let req = AddCheckpoint::parse(body.as_bytes()).map_err(fail)?;
        let t = Instant::now();
        match client.add_checkpoint(&req).await.map_err(fail)? {
            AddOutcome::Cosigned(_) => lat.push(t.elapsed()),
            other => return Err(fail(format!("not cosigned: {other:?}"))),
        }
    }
    Ok(lat)
}

async fn throughput(a: &BenchArgs) -> Result<Vec<Row>, CliError> {
    let n = a.cosignatures.max(1);
    let mut rows = Vec::new();
    // 1. The witness's own work, no HTTP: parse, verify the log signature, check the
    // proof, cosign, commit to SQLite (synchronous=FULL).
    {
        let dir = tempfile::tempdir().map_err(fail)?;
        let (log, bodies) = requests("bench/core", n)?;
        let w = witness(dir.path(), &[&log])?;
        let t0 = Instant::now();
        let latencies = tokio::task::spawn_blocking(move || {
            let mut lat = Vec::with_capacity(bodies.len());
            for b in &bodies {
                let t = Instant::now();
                w.add_checkpoint(b.as_bytes()).map_err(fail)?;
                lat.push(t.elapsed());
            }
            Ok::<_, CliError>(lat)
        })
        .await
        .map_err(fail)??;
        rows.push(Row { mode: "in process, no HTTP (1 log)".into(), count: n, wall: t0.elapsed(), latencies });
    }
    // 2-3. Over loopback HTTP and HTTPS, one log, one kept-alive connection.
    let ca = escrow_pki::Ca::generate("bench", escrow_pki::Validity::days_from(std::time::SystemTime::now(), 1))
        .map_err(fail)?;
    let id = escrow_pki::Identity::new(escrow_pki::Role::Witness, escrow_crypto::PartyId::new("w1").map_err(fail)?)
        .map_err(fail)?;
    let issued = ca.issue(&id, escrow_pki::Validity::days_from(std::time::SystemTime::now(), 1)).map_err(fail)?;
    let tls = escrow_witness::server::tls_config(&issued.cert_pem, &issued.key_pem).map_err(fail)?;
    let pattern = escrow_pki::federation::Pattern::parse("witness/*").map_err(fail)?;
    let draft = escrow_pki::federation::Draft {
        deployment: "bench".into(),
        name: "bench".into(),
        generation: 1,
        certifies: vec![pattern],
        pins: vec![],
        previous: vec![],
    };
    let entry = escrow_pki::Organisation::sign(draft, &ca).map_err(fail)?;
    let trust = escrow_pki::trust::Trust::new(escrow_pki::Federation::new("bench", vec![entry]).map_err(fail)?)
        .map_err(fail)?;
    for (mode, tls) in [("HTTP, 1 log", None), ("HTTPS, 1 log", Some(tls.clone()))] {
        let dir = tempfile::tempdir().map_err(fail)?;
        let (log, bodies) = requests("bench/http", n)?;
        let (url, stop) = serve(witness(dir.path(), &[&log])?, tls).await?;
        let client = WitnessClient::new(&url, Some(&trust), Duration::from_secs(30)).map_err(fail)?;
        let t0 = Instant::now();
        let latencies = drive(&client, &bodies).await?;
        rows.push(Row { mode: mode.into(), count: n, wall: t0.elapsed(), latencies });
        let _ = stop.send(());
    }
    // 4. HTTPS, several logs at once, one connection each.
    {
        let k = a.logs.max(1);
        let per = n.div_ceil(k);
        let dir = tempfile::tempdir().map_err(fail)?;
        let mut logs = Vec::new();
        for i in 0..k {
            logs.push(requests(&format!("bench/log-{i}"), per)?);
        }
        let w = witness(dir.path(), &logs.iter().map(|(s, _)| s).collect::<Vec<_>>())?;
        let (url, stop) = serve(w, Some(tls)).await?;
        let mut set = tokio::task::JoinSet::new();
        let t0 = Instant::now();
        for (_, bodies) in logs {
            let client = WitnessClient::new(&url, Some(&trust), Duration::from_secs(30)).map_err(fail)?;
            set.spawn(async move { drive(&client, &bodies).await });
        }
        let mut latencies = Vec::new();
        while let Some(r) = set.join_next().await {
            latencies.extend(r.map_err(fail)??);
        }
        rows.push(Row { mode: format!("HTTPS, {k} logs at once"), count: per * k, wall: t0.elapsed(), latencies });
        let _ = stop.send(());
    }
    Ok(rows)
}

/// First-release latency: per warrant, submit, approve at three trustees, then time
/// the agency's whole open (export, five share requests, combine).
async fn first_release(
    witnesses: Option<escrow_kit::WitnessOptions>,
    releases: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), CliError> {
    let options = escrow_kit::Options {
        name: "witness-bench".into(),
        seed: None,
        users: vec!["alice".into(), "bob".into()],
        witnesses,
        ..escrow_kit::Options::default()
    };
    let d = escrow_kit::Deployment::start(options).await?;
    let start = escrow_kit::world::START;
    d.send("alice", &["bob"], start + escrow_kit::DAY + 3_600, "timed").await?;
    d.clock.set(start + 2 * escrow_kit::DAY).map_err(fail)?;
    let agency = d.agency().await?;
    let (mut first, mut again) = (Vec::new(), Vec::new());
    for k in 0..releases {
        let wid = u8::try_from(k % 250 + 1).map_err(fail)?;
        let w = d.warrant(wid, &["alice"], start + escrow_kit::DAY, start + 2 * escrow_kit::DAY)?;
        d.submit_everywhere(&w).await?;
        d.approve(&[0, 1, 2], wid).await?;
        let t = Instant::now();
        let report = agency.open(&w, |_| {}).await.map_err(fail)?;
        first.push(t.elapsed());
        if report.opened.len() != 1 {
            return Err(fail(format!("opened {} of 1: {:?}", report.opened.len(), report.trustee_errors)));
        }
        let t = Instant::now();
        agency.open(&w, |_| {}).await.map_err(fail)?;
        again.push(t.elapsed());
    }
    Ok((first, again))
}

pub async fn run(a: BenchArgs) -> Result<(), CliError> {
    println!("Witness benchmark on this machine ({} cosignatures per row).", a.cosignatures);
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec!["one witness", "cosignatures", "wall (s)", "per second", "p50 (ms)", "p99 (ms)"]);
    for row in throughput(&a).await? {
        t.add_row(row.cells());
    }
    println!("{t}");

    let releases = a.releases.clamp(1, 250);
    println!(
        "\nFirst release of a warrant: 5 trustees (t = 2) in this process, the agency opening one message;\n\
         {releases} warrants per configuration, each approved at 3 trustees just before the agency asks."
    );
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "configuration",
        "first open p50 (ms)",
        "p90 (ms)",
        "max (ms)",
        "again p50 (ms)",
        "added p50 (ms)",
    ]);
    let configs: [(&str, Option<escrow_kit::WitnessOptions>); 3] = [
        ("no witnesses (baseline)", None),
        (
            "3 witnesses, quorum 2, interval 100 ms",
            Some(escrow_kit::WitnessOptions { count: 3, quorum: 2, interval_ms: 100, release_wait_ms: 10_000 }),
        ),
        (
            "3 witnesses, quorum 2, interval 1000 ms",
            Some(escrow_kit::WitnessOptions { count: 3, quorum: 2, interval_ms: 1000, release_wait_ms: 10_000 }),
        ),
    ];
    let mut baseline = None;
    for (name, w) in configs {
        let (mut first, mut again) = first_release(w, releases).await?;
        first.sort();
        again.sort();
        let p50 = percentile(&first, 0.5);
        let base = *baseline.get_or_insert(p50);
        t.add_row(vec![
            name.to_string(),
            format!("{p50:.1}"),
            format!("{:.1}", percentile(&first, 0.9)),
            format!("{:.1}", percentile(&first, 1.0)),
            format!("{:.1}", percentile(&again, 0.5)),
            format!("{:+.1}", p50 - base),
        ]);
    }
    println!("{t}");
    println!(
        "\"again\" opens the same warrant a second time: its approval is already witnessed, so no wait.\n\
         The added latency is at most one publication interval plus one round to the witnesses."
    );
    Ok(())
}
