//! `escrow witness`: make a witness key, print it, run a C2SP tlog-witness.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use escrow_log::WitnessSigner;

use crate::serve::ListenArgs;
use crate::CliError;

/// The sealed witness key's file name inside the data directory.
pub const KEY_FILE: &str = "witness.key";

#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Make this witness's cosigning key (sealed, in the data directory) and print its
    /// verifier key for logs' and auditors' policies.
    Init(InitArgs),
    /// Print the verifier key (vkey) of the witness in a data directory.
    Vkey(DirArgs),
    /// Run the witness: POST /add-checkpoint (c2sp.org/tlog-witness) and
    /// GET /checkpoint/<origin>.
    Serve(ServeArgs),
    /// Benchmark: cosignatures per second at one witness (in process, HTTP, HTTPS,
    /// several logs at once) and the latency witnessing adds to a warrant's first
    /// release with 5 trustees and 3 witnesses, beside the unwitnessed baseline.
    Bench(crate::witness_bench::BenchArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory for the key and witness.db (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The witness's key name: a schema-less URL naming it, e.g. witness.example/w1.
    #[arg(long)]
    pub name: String,
    /// If a key is already there, print its vkey and succeed (an init container that
    /// runs on every start) instead of refusing.
    #[arg(long)]
    pub if_missing: bool,
}

#[derive(Args, Debug)]
pub struct DirArgs {
    /// The witness's data directory.
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The witness's data directory (from `escrow witness init`).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The logs to witness (TOML: [[log]] origin, vkey; see docs/operators.md).
    #[arg(long)]
    pub config: PathBuf,
    /// Serve plain HTTP (for a public witness behind a TLS-terminating proxy) instead
    /// of TLS with the profile's witness certificate.
    #[arg(long)]
    pub plain: bool,
    #[command(flatten)]
    pub listen: ListenArgs,
}

fn start(reason: impl std::fmt::Display) -> CliError {
    CliError::Start { what: "witness", reason: reason.to_string() }
}

fn load_key(dir: &Path, ctx: &crate::Ctx) -> Result<WitnessSigner, CliError> {
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        return Err(start(format!("{}: no witness key; run `escrow witness init` first", path.display())));
    }
    ctx.secret.read_sealed_as(&path, WitnessSigner::from_bytes)
}

pub async fn run(cmd: WitnessCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    match cmd {
        WitnessCmd::Init(a) => {
            let path = a.data_dir.join(KEY_FILE);
            if path.exists() {
                if a.if_missing {
                    let signer = load_key(&a.data_dir, ctx)?;
                    if signer.name() != a.name {
                        return Err(CliError::bad_file(
                            &path,
                            format!("the witness key here is named {:?}, not {:?}", signer.name(), a.name),
                        ));
                    }
                    println!("{}", signer.verifier());
                    return Ok(());
                }
                return Err(CliError::bad_file(&path, "a witness key is already here; refusing to replace it"));
            }
            let signer = WitnessSigner::generate(&a.name, &mut rand::rngs::OsRng)
                .map_err(|e| CliError::Usage(format!("--name: {e}")))?;
            std::fs::create_dir_all(&a.data_dir).map_err(|e| CliError::io(&a.data_dir, e))?;
            ctx.secret.write_sealed(&path, &signer.to_bytes())?;
            println!("{}", signer.verifier());
            Ok(())
        }
        WitnessCmd::Vkey(a) => {
            println!("{}", load_key(&a.data_dir, ctx)?.verifier());
            Ok(())
        }
        WitnessCmd::Serve(a) => {
            crate::init_logging();
            serve(a, ctx).await
        }
        WitnessCmd::Bench(a) => crate::witness_bench::run(a).await,
    }
}

/// Every precondition — config, key, certificate, port, data directory lock — is
/// checked before the witness answers anything.
async fn serve(a: ServeArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&a.config).map_err(|e| CliError::io(&a.config, e))?;
    let logs = escrow_witness::config::parse(&text).map_err(|e| CliError::bad_file(&a.config, e))?;
    let signer = load_key(&a.data_dir, ctx)?;
    let tls = if a.plain {
        None
    } else {
        let credentials = ctx.credentials()?;
        let identity = credentials.identity().map(|i| i.role());
        if identity != Some(escrow_pki::Role::Witness) {
            return Err(start("the profile's certificate is not a witness's (or give --plain for HTTP)"));
        }
        let (cert, key) =
            credentials.cert_and_key_pem().ok_or_else(|| start("the profile has no certificate and key"))?;
        Some(escrow_witness::server::tls_config(cert, key).map_err(start)?)
    };
    let listeners = crate::serve::bind_all(&a.listen).await?;
    let clock = escrow_service::clock::from_option(a.listen.clock_file.clone());
    let vkey = signer.verifier();
    let witness = escrow_witness::Witness::open(&a.data_dir, signer, logs, clock).map_err(start)?;
    listeners.announce(&a.listen)?;
    tracing::info!(
        addr = %listeners.main.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        %vkey,
        logs = witness.logs().len(),
        tls = !a.plain,
        "witness serving"
    );
    let witness = Arc::new(witness);
    let for_metrics = witness.clone();
    listeners
        .run(
            |l| escrow_witness::metrics::serve_metrics(l, for_metrics, std::future::pending()),
            |l| escrow_witness::server::serve(l, witness, tls, crate::serve::shutdown_signal()),
        )
        .await
        .map_err(|e| start(format!("server: {e}")))
}
