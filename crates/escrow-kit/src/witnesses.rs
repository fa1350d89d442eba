//! Witnesses in a deployment: `w1`..`wN`, each a C2SP tlog-witness of every trustee's
//! log (in this process or as `escrow witness serve` children, HTTPS with the
//! deployment CA), and the tlog-policy the trustees, the agency and the auditor use.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use escrow_crypto::sealed::KdfParams;
use escrow_log::{Policy, WitnessSigner};
use escrow_pki::{Identity, Role};
use rand::SeedableRng;

use crate::deployment::{log_signer, origin, Deployment};
use crate::node::Node;
use crate::pki::{write_file, write_sealed};
use crate::world::Launch;
use crate::KitError;

/// How many witnesses, and the policy the trustees publish to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessOptions {
    /// Witnesses `w1`..`w<count>`.
    pub count: u16,
    /// Cosignatures the quorum needs (`group witnesses <quorum> w1 .. wN`).
    pub quorum: u16,
    /// The trustees' publication interval, milliseconds.
    pub interval_ms: u64,
    /// How long a share request waits for a witnessed approval, milliseconds.
    pub release_wait_ms: u64,
}

impl Default for WitnessOptions {
    /// Three witnesses, two of which must cosign; publication every 100 ms; a release
    /// waits up to 3 s.
    fn default() -> Self {
        WitnessOptions { count: 3, quorum: 2, interval_ms: 100, release_wait_ms: 3_000 }
    }
}

/// One witness of the deployment.
#[derive(Debug)]
pub struct WitnessNode {
    /// `w1`, `w2`, ...
    pub name: String,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its server; its address stays the same across restarts (the policy names it).
    pub server: Node,
}

/// The cosigning key of witness `name`: deterministic, so a restart keeps it.
pub fn witness_signer(j: u16) -> WitnessSigner {
    WitnessSigner::generate(
        &format!("witness.escrow.example/w{j}"),
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(2000 + u64::from(j)),
    )
    .expect("a valid witness name")
}

impl Deployment {
    /// The witness options, if this deployment has witnesses.
    pub fn witness_options(&self) -> Option<WitnessOptions> {
        self.world.options.witnesses
    }

    /// The tlog-policy text: every trustee's log key, each witness with its URL, and
    /// `quorum` of them.
    pub fn witness_policy_text(&self) -> Option<String> {
        let o = self.witness_options()?;
        let mut text = String::from("# escrow deployment witness policy (C2SP tlog-policy)\n");
        for i in 0..self.world.options.n {
            text.push_str(&format!("log {}\n", log_signer(i).verifier()));
        }
        let mut names = Vec::new();
        for (j, w) in (1..).zip(&self.witnesses) {
            text.push_str(&format!("witness {} {} https://{}\n", w.name, witness_signer(j).verifier(), w.server.addr));
            names.push(w.name.clone());
        }
        text.push_str(&format!("group witnesses {} {}\nquorum witnesses\n", o.quorum, names.join(" ")));
        Some(text)
    }

    /// The parsed witness policy.
    pub fn witness_policy(&self) -> Result<Option<Policy>, KitError> {
        self.witness_policy_text()
            .map(|t| {
                t.parse().map_err(|e: escrow_log::LogError| KitError::Start {
                    name: "witness policy".into(),
                    why: e.to_string(),
                })
            })
            .transpose()
    }

    /// The witness config: every trustee's origin and log key.
    fn witness_config_text(&self) -> String {
        let logs: Vec<_> = (0..self.world.options.n).map(|i| (origin(i), log_signer(i).verifier())).collect();
        escrow_witness::config::render(&logs)
    }

    /// Starts every witness (before the trustees, which need their addresses).
    pub(crate) async fn start_witnesses(&mut self) -> Result<(), KitError> {
        let Some(o) = self.witness_options() else { return Ok(()) };
        for j in 1..=o.count {
            let name = format!("w{j}");
            let dir = self.world.node_dir(&format!("witness-{name}"));
            std::fs::create_dir_all(&dir).map_err(|e| KitError::io(&dir, e))?;
            self.witnesses.push(WitnessNode { name, dir, server: Node::placeholder("witness") });
            let node = self.launch_witness(usize::from(j - 1), None).await?;
            if let Some(w) = self.witnesses.last_mut() {
                w.server = node;
            }
        }
        if let Launch::Processes { passphrase, .. } = &self.world.options.launch {
            // Child trustees read their log keys from their data directories, so the
            // witnesses' config (written above) names the keys they will sign with.
            for i in 0..self.world.options.n {
                let path = self.world.node_dir(crate::world::trustee_id(i).as_str()).join("log.key");
                if !path.exists() {
                    write_sealed(&path, &log_signer(i).to_bytes(), passphrase, KdfParams::insecure_fast())?;
                }
            }
            let policy = self.witness_policy_text().unwrap_or_default();
            write_file(&self.world.path("witness.policy"), policy.as_bytes())?;
        }
        Ok(())
    }

    /// Witness `j` (0-based), up or down.
    pub fn witness(&self, j: usize) -> Result<&WitnessNode, KitError> {
        self.witnesses.get(j).ok_or_else(|| KitError::Unknown { what: "witness", name: j.to_string() })
    }

    /// Stops witness `j` (0-based): the witness outage.
    pub async fn stop_witness(&mut self, j: usize) -> Result<(), KitError> {
        let w = self.witnesses.get_mut(j).ok_or_else(|| KitError::Unknown { what: "witness", name: j.to_string() })?;
        w.server.stop().await;
        Ok(())
    }

    /// Starts witness `j` again at its address, on its data directory.
    pub async fn restart_witness(&mut self, j: usize) -> Result<(), KitError> {
        let addr = self.witness(j)?.server.addr;
        self.stop_witness(j).await?;
        let node = self.launch_witness(j, Some(addr)).await?;
        if let Some(w) = self.witnesses.get_mut(j) {
            w.server = node;
        }
        Ok(())
    }

    async fn launch_witness(&self, j: usize, at: Option<std::net::SocketAddr>) -> Result<Node, KitError> {
        let w = self.witness(j)?;
        let index = u16::try_from(j + 1).map_err(|_| KitError::Unknown { what: "witness", name: j.to_string() })?;
        let config = w.dir.join("logs.toml");
        write_file(&config, self.witness_config_text().as_bytes())?;
        let listen = at.map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string());
        match &self.world.options.launch {
            Launch::InProcess => {
                let err = |why: String| KitError::Start { name: w.name.clone(), why };
                let creds = self.world.pki.party(Role::Witness, &w.name)?;
                let (cert, key) = creds.cert_and_key_pem().ok_or_else(|| err("no witness certificate".into()))?;
                let tls = escrow_witness::server::tls_config(cert, key).map_err(err)?;
                let logs =
                    escrow_witness::config::parse(&self.witness_config_text()).map_err(|e| err(e.to_string()))?;
                let witness =
                    escrow_witness::Witness::open(&w.dir, witness_signer(index), logs, self.world.clock.shared())
                        .map_err(|e| err(e.to_string()))?;
                let witness = Arc::new(witness);
                Node::serve_at(&w.name, &listen, move |l, s| escrow_witness::server::serve(l, witness, Some(tls), s))
                    .await
            }
            Launch::Processes { exe, passphrase } => {
                let key = w.dir.join("witness.key");
                if !key.exists() {
                    write_sealed(&key, &witness_signer(index).to_bytes(), passphrase, KdfParams::insecure_fast())?;
                }
                let mut args: Vec<String> = vec![
                    "witness".into(),
                    "serve".into(),
                    "--data-dir".into(),
                    w.dir.display().to_string(),
                    "--config".into(),
                    config.display().to_string(),
                ];
                args.extend(self.process_flags(&Identity::new(Role::Witness, escrow_crypto::PartyId::new(&w.name)?)?));
                Node::spawn_at(
                    &w.name,
                    exe,
                    &args,
                    &self.world.dir,
                    &self.world.path("logs"),
                    Some(passphrase),
                    &listen,
                )
                .await
            }
        }
    }

    /// Waits (up to `timeout`) until trustee `i`'s witnessed checkpoint covers its whole
    /// log, as its Audit service reports them; returns the witnessed size.
    pub async fn wait_witnessed(&self, i: usize, timeout: Duration) -> Result<u64, KitError> {
        let policy =
            self.witness_policy()?.ok_or_else(|| KitError::Unknown { what: "witness policy", name: "none".into() })?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let cp = self
                .audit_client(i)?
                .get_checkpoint(escrow_proto::v1::GetCheckpointRequest {})
                .await
                .map_err(|status| KitError::Rpc { what: format!("trustee-{i}: GetCheckpoint"), status })?
                .into_inner();
            let size = cp.checkpoint.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
            if let (Ok(w), Some(size)) = (policy.verify(cp.witnessed_checkpoint.as_bytes()), size) {
                if w.checkpoint.size() == size {
                    return Ok(size);
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(KitError::Start {
                    name: format!("trustee-{i}"),
                    why: format!("its log was not fully witnessed within {} ms", timeout.as_millis()),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The trustee-side witness configuration for trustee `i` in this process.
    pub(crate) fn trustee_witness_config(
        &self,
        i: u16,
    ) -> Result<Option<escrow_trustee::witnessing::WitnessConfig>, KitError> {
        let (Some(o), Some(policy)) = (self.witness_options(), self.witness_policy()?) else { return Ok(None) };
        let config = escrow_trustee::witnessing::WitnessConfig::new(
            policy,
            &origin(i),
            &log_signer(i).verifier().to_string(),
            Some(self.world.pki.trust()),
            Duration::from_millis(o.interval_ms),
            Duration::from_millis(o.release_wait_ms),
        )
        .map_err(|e| KitError::Start { name: format!("trustee-{i}"), why: e.to_string() })?;
        Ok(Some(config))
    }

    /// The flags a child trustee needs for its witnesses.
    pub(crate) fn trustee_witness_flags(&self) -> Vec<String> {
        let Some(o) = self.witness_options() else { return Vec::new() };
        vec![
            "--witness-policy".into(),
            self.world.path("witness.policy").display().to_string(),
            "--witness-interval-ms".into(),
            o.interval_ms.to_string(),
            "--release-wait-ms".into(),
            o.release_wait_ms.to_string(),
        ]
    }
}
