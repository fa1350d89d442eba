//! `escrow`: one binary with a subcommand per role, the way `vault` and `drand` work.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod audit_serve;
mod bench;
mod ceremony;
#[cfg(feature = "demo")]
mod demo;
mod display;
mod domains;
mod federation;
mod files;
mod health;
mod keys;
mod open;
mod pki;
mod policy;
mod relay_bench;
mod scrape;
mod serve;
mod status;
mod survey;
mod tls;
mod tradeoffs;
mod user;
mod warrant;
mod witness;
mod witness_bench;

#[derive(Parser, Debug)]
#[command(name = "escrow", version, about = "Lawful-access key escrow: trustees, relay, warrants, agencies")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    ctx: Ctx,
}

/// Flags every subcommand takes: how secret files are unsealed and which certificate
/// to present.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Ctx {
    /// How sealed files are opened (passphrase, passphrase file, KDF cost).
    #[command(flatten)]
    pub secret: files::SecretArgs,
    /// Which certificate this party presents.
    #[command(flatten)]
    pub tls: tls::TlsArgs,
    /// Print the result as JSON on stdout instead of text: one JSON object; commands
    /// that report as they go (user send) print one object per line. Text from other
    /// parties is escaped by JSON. Only status, audit verify, audit report, court sign,
    /// open, user send, user inbox, dkg status, dkg execute, epoch verify and federation
    /// show print JSON; every other command refuses the flag.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Ctx {
    /// This party's TLS credentials.
    pub fn credentials(&self) -> Result<escrow_service::transport::Credentials, CliError> {
        self.tls.credentials(&self.secret)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a whole local deployment (5 trustee processes, a relay) through the scenarios.
    /// Only in demo builds (the default feature `demo`; the shipped binary has none).
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Dealer key generation for one epoch (WEAK MODE: the dealer sees the master secret;
    /// `escrow dkg` has the trustees make their own key instead).
    Keygen(keys::KeygenArgs),
    /// Key ceremony (a trustee's operator): the trustees make an epoch key together.
    #[command(subcommand)]
    Dkg(ceremony::DkgCmd),
    /// Key ceremony (a trustee's operator): move an epoch's key to new holders or a new
    /// threshold, or refresh every share, keeping the public key.
    Reshare(ceremony::ReshareArgs),
    /// Epoch announcements: fetch, show, verify under the pinned trustee keys.
    #[command(subcommand)]
    Epoch(ceremony::EpochCmd),
    /// Trustee operator commands.
    #[command(subcommand)]
    Trustee(TrusteeCmd),
    /// Relay (provider) commands.
    #[command(subcommand)]
    Relay(RelayCmd),
    /// Operators at a glance: each trustee's health, epochs, log size and witnessed
    /// checkpoint, and (with --witness-policy) each witness's view and its lag.
    Status(status::StatusArgs),
    /// Probe a server's health (gRPC health, or a witness's GET /): exit 0 only if it
    /// is serving. Needs only the federation file, never a certificate or passphrase.
    Health(health::HealthArgs),
    /// Print a server's Prometheus metrics (GET /metrics on its --metrics-listen port,
    /// plain HTTP), optionally only the families with a name prefix. Needs no
    /// certificate or passphrase: for scripts and images without an HTTP client.
    Metrics(scrape::MetricsArgs),
    /// Witness commands: a C2SP tlog-witness that cosigns trustees' checkpoints.
    #[command(subcommand)]
    Witness(witness::WitnessCmd),
    /// Court commands: keys and warrant signing.
    #[command(subcommand)]
    Court(keys::CourtCmd),
    /// Warrant commands: submit (agency), approve/deny/revoke (operator), status.
    #[command(subcommand)]
    Warrant(warrant::WarrantCmd),
    /// User commands: keys, register, send, inbox.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Agency: open every message a warrant covers.
    Open(open::OpenArgs),
    /// Auditor: verify trustees' logs, reconcile them, publish statistics.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// One CA for a whole one-machine deployment (one root): certificates for every
    /// party.
    #[command(subcommand)]
    Pki(pki::PkiCmd),
    /// One organisation's own CA, entry and certificates, made on its own machine.
    #[command(subcommand)]
    Org(federation::OrgCmd),
    /// The federation file: combine organisations' entries, check it, show it.
    #[command(subcommand)]
    Federation(federation::FederationCmd),
    /// Risk calculator: unauthorized access vs failed lawful access over t, with plots.
    Tradeoffs(tradeoffs::TradeoffsArgs),
    /// Re-seal secret files under a new passphrase (old one as usual: ESCROW_PASSPHRASE,
    /// --passphrase or --passphrase-file): the files named, the profile's TLS and
    /// signing keys (with --profile or ESCROW_PROFILE), and a data directory's log.key
    /// and seal.key (--data-dir). Every file is opened first; none is changed unless
    /// all open and all new files are written.
    Reseal(ResealArgs),
}

#[derive(clap::Args, Debug)]
struct ResealArgs {
    /// Sealed files: key shares, TLS keys, log keys, signing keys, court and user keys.
    files: Vec<PathBuf>,
    /// A trustee's data directory: also reseal its `log.key` and `seal.key` (those
    /// that exist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Read the new passphrase from this file (first line) instead of
    /// ESCROW_NEW_PASSPHRASE.
    #[arg(long)]
    new_passphrase_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum TrusteeCmd {
    /// Run a trustee service.
    Serve(Box<serve::TrusteeServeArgs>),
    /// Print this trustee's log verifier key (its `log` line of a witness policy, its
    /// `[[log]]` entry of a witness's config), making the sealed log key first if the
    /// data directory has none yet: so the key can be published before the first start.
    LogKey(serve::LogKeyArgs),
    /// Write a trustee's policy file from flags (the file `trustee serve --policy`
    /// reads), checked by the same rules; an existing file is refused.
    Policy(Box<policy::PolicyArgs>),
}

#[derive(Subcommand, Debug)]
enum RelayCmd {
    /// Run the relay service.
    Serve(Box<serve::RelayServeArgs>),
    /// Time envelope ingest at a local relay: 1, 10 and 50 concurrent senders, group
    /// commit beside each message committed alone, the relay's CPU per message.
    Bench(relay_bench::BenchArgs),
}

/// A command failed; the message says why.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wrong flags or arguments: the command was not run (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// A server did not start: a precondition failed before anything was written
    /// (policy, certificate, key share, log key, port, data directory).
    #[error("{what} did not start: {reason}")]
    Start {
        /// `trustee` or `relay`.
        what: &'static str,
        /// The failed precondition.
        reason: String,
    },
    /// A client could not be set up (an address or certificate the transport refused).
    #[error(transparent)]
    Transport(#[from] escrow_service::transport::TransportError),
    /// The command ran, and what it found is a failure: messages refused or not
    /// opened, logs that did not verify, flags raised, a scenario that did not match.
    #[error("{0}")]
    Findings(String),
    /// A file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        err: std::io::Error,
    },
    /// A file's contents were refused: not hex, not a sealed file, not the key or blob
    /// it should hold.
    #[error("{}: {reason}", .path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A blob or key was refused.
    #[error(transparent)]
    Crypto(#[from] escrow_crypto::Error),
    /// A server refused or failed.
    #[error("{}: {}", .0.code(), .0.message())]
    Rpc(tonic::Status),
    /// A certificate could not be made or read.
    #[error("certificates: {0}")]
    Pki(#[from] escrow_pki::PkiError),
    /// The agency's client refused or could not open a warrant as a whole.
    #[error(transparent)]
    Agency(#[from] escrow_agency::AgencyError),
    /// The user's client refused what the relay served (a key, a page).
    #[error(transparent)]
    User(escrow_user::UserError),
    /// The risk calculator refused its parameters or could not write its report.
    #[error(transparent)]
    Tradeoffs(#[from] escrow_tradeoffs::TradeoffError),
    /// The demo's deployment could not be started or driven.
    #[error(transparent)]
    Deployment(#[from] escrow_kit::KitError),
}

impl CliError {
    /// 2 for a usage error (nothing was run), 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// A trustee that did not start, and why.
    pub fn trustee_start(reason: impl std::fmt::Display) -> Self {
        CliError::Start { what: "trustee", reason: reason.to_string() }
    }

    /// The relay did not start, and why.
    pub fn relay_start(reason: impl std::fmt::Display) -> Self {
        CliError::Start { what: "relay", reason: reason.to_string() }
    }

    /// An IO error on `path`.
    pub fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        CliError::Io { path: path.to_path_buf(), err }
    }

    /// `path` holds something other than what it should.
    pub fn bad_file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        CliError::BadFile { path: path.to_path_buf(), reason: reason.to_string() }
    }
}

/// The commands `--json` is for, as the refusal lists them.
const JSON_COMMANDS: &str =
    "status, audit verify, audit report, court sign, open, user send, user inbox, dkg status, dkg execute, epoch \
     verify and federation show";

/// Whether `command` prints its result as JSON under `--json`.
fn prints_json(command: &Command) -> bool {
    matches!(
        command,
        Command::Status(_)
            | Command::Open(_)
            | Command::Audit(audit::AuditCmd::Verify { .. } | audit::AuditCmd::Report { .. })
            | Command::Court(keys::CourtCmd::Sign(_))
            | Command::User(user::UserCmd::Send { .. } | user::UserCmd::Inbox { .. })
            | Command::Dkg(ceremony::DkgCmd::Status { .. } | ceremony::DkgCmd::Execute { .. })
            | Command::Epoch(ceremony::EpochCmd::Verify { .. })
            | Command::Federation(federation::FederationCmd::Show { .. })
    )
}

/// `--json` given to a command that would print text anyway: refused, naming the
/// command (`name`, e.g. "pki init"), before anything runs.
fn refuse_json(cli: &Cli, name: &str) -> Result<(), CliError> {
    if !cli.ctx.json || prints_json(&cli.command) {
        return Ok(());
    }
    #[cfg(feature = "demo")]
    if let Command::Demo(_) = cli.command {
        return Err(CliError::Usage(format!(
            "escrow demo does not print JSON on stdout (--json is for {JSON_COMMANDS}); `escrow demo --summary-json \
             FILE` writes its summary as JSON"
        )));
    }
    Err(CliError::Usage(format!("escrow {name} does not print JSON: --json is for {JSON_COMMANDS}")))
}

/// The subcommand names of a parsed command line, space-separated ("dkg status").
fn command_name(matches: &clap::ArgMatches) -> String {
    let mut names = Vec::new();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        names.push(name);
        m = sub;
    }
    names.join(" ")
}

/// Unix seconds from the system clock.
pub fn now() -> u64 {
    use escrow_service::clock::Clock;
    escrow_service::clock::SystemClock.now()
}

/// Colour only for a person at a terminal: never in a file or a pipe, never when
/// `NO_COLOR` is set (<https://no-color.org>).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

pub(crate) fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // ESCROW_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if json_logs(std::env::var_os("ESCROW_LOG_FORMAT")) {
        let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
        return;
    }
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Whether `ESCROW_LOG_FORMAT` asks for JSON lines.
fn json_logs(format: Option<std::ffi::OsString>) -> bool {
    format.is_some_and(|f| f.eq_ignore_ascii_case("json"))
}

/// Every file `escrow reseal` covers: those named, the profile's TLS and signing keys,
/// the data directory's log and sealing keys; each once.
fn reseal_files(a: &ResealArgs, ctx: &Ctx) -> Result<Vec<PathBuf>, CliError> {
    let mut files = a.files.clone();
    if let Some(path) = &ctx.tls.profile {
        let profile = tls::Profile::load(path)?;
        files.push(profile.key);
        files.extend(profile.signing_key);
    }
    if let Some(dir) = &a.data_dir {
        if !dir.is_dir() {
            return Err(CliError::bad_file(dir, "not a directory"));
        }
        for name in ["log.key", serve::SEAL_KEY_FILE] {
            let f = dir.join(name);
            if f.exists() {
                files.push(f);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    if files.is_empty() {
        return Err(CliError::Usage("nothing to reseal: name the files, or give --profile or --data-dir".into()));
    }
    Ok(files)
}

fn reseal(a: &ResealArgs, ctx: &Ctx) -> Result<(), CliError> {
    let files = reseal_files(a, ctx)?;
    ctx.secret.reseal(&files, a.new_passphrase_file.as_deref())?;
    for f in &files {
        println!("resealed {}", f.display());
    }
    println!("{} files under the new passphrase", files.len());
    Ok(())
}

/// The exit status when the reader of our output went away (`escrow ... | head -1`):
/// 128 + SIGPIPE, what a shell reports for a process SIGPIPE killed.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Whether a panic message is std's for a print into a closed pipe.
fn is_broken_pipe(message: &str) -> bool {
    (message.starts_with("failed printing to stdout") || message.starts_with("failed printing to stderr"))
        && message.contains("Broken pipe")
}

/// Rust ignores SIGPIPE, so `println!` into a pipe whose reader closed panics with a
/// backtrace. Forbidding unsafe code rules out restoring the signal; instead such a
/// panic ends the process at once, quietly, with [`BROKEN_PIPE_EXIT`]. Every other
/// panic goes to the default hook as before.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        if message.is_some_and(is_broken_pipe) {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default(info);
    }));
}

/// The command line. `escrow tradeoffs` (a calculator) and `escrow metrics` (plain
/// HTTP) never open a secret file or a TLS connection, so their help hides the global
/// passphrase and TLS flags (they are still accepted, and ignored, as everywhere else).
fn cli_command() -> clap::Command {
    use clap::CommandFactory;
    let cmd = Cli::command();
    // A subcommand that already has an argument keeps it: clap propagates a global flag
    // only where its id is missing. So tradeoffs gets the same flags, hidden.
    let globals: Vec<clap::Arg> = cmd.get_arguments().filter(|a| a.is_global_set()).cloned().collect();
    let hide = |sub: clap::Command| globals.iter().cloned().fold(sub, |sub, a| sub.arg(a.hide(true)));
    ["tradeoffs", "metrics"]
        .into_iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, hide))
        .mut_subcommand("tradeoffs", |sub| sub.mut_subcommand("jurisdictions", hide))
}

/// [`cli_command`], parsed, and the subcommand's name; exits with clap's message and
/// status on a usage error.
fn parse_cli() -> (Cli, String) {
    use clap::FromArgMatches;
    let matches = cli_command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, command_name(&matches))
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let (cli, name) = parse_cli();
    if let Err(e) = refuse_json(&cli, &name) {
        eprintln!("error: {e}");
        return e.exit_code();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = cli.ctx;
    let result = rt.block_on(async move {
        match cli.command {
            #[cfg(feature = "demo")]
            Command::Demo(a) => demo::run(a).await,
            Command::Keygen(a) => keys::keygen(&a, &ctx.secret),
            Command::Trustee(TrusteeCmd::LogKey(a)) => serve::log_key(&a, &ctx.secret),
            Command::Trustee(TrusteeCmd::Policy(a)) => policy::run(&a),
            Command::Trustee(TrusteeCmd::Serve(a)) => {
                init_logging();
                serve::trustee(*a, &ctx).await
            }
            Command::Relay(RelayCmd::Serve(a)) => {
                init_logging();
                serve::relay(*a, &ctx).await
            }
            Command::Relay(RelayCmd::Bench(a)) => relay_bench::run(a).await,
            Command::Witness(c) => witness::run(c, &ctx).await,
            Command::Health(a) => health::run(a, &ctx).await,
            Command::Metrics(a) => scrape::run(a).await,
            Command::Status(a) => status::run(a, &ctx).await,
            Command::Court(c) => keys::court(&c, &ctx),
            Command::Dkg(c) => ceremony::dkg(c, &ctx).await,
            Command::Reshare(a) => ceremony::reshare(a, &ctx).await,
            Command::Epoch(c) => ceremony::epoch(c, &ctx).await,
            Command::Warrant(c) => warrant::run(c, &ctx).await,
            Command::User(c) => user::run(c, &ctx).await,
            Command::Open(a) => open::run(a, &ctx).await,
            Command::Audit(c) => audit::run(c, &ctx).await,
            Command::Pki(c) => pki::run(c, &ctx.secret),
            Command::Org(c) => federation::run_org(c, &ctx.secret),
            Command::Federation(c) => federation::run_federation(c, ctx.json),
            Command::Tradeoffs(a) => tradeoffs::run(&a),
            Command::Reseal(a) => reseal(&a, &ctx),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors carry servers' messages, ids and reasons: escaped, like all they send.
            eprintln!("error: {}", display::text(&e.to_string()));
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{colour, is_broken_pipe, json_logs};

    /// The `escrow` argument vector of a unit's ExecStart, with systemd's specifiers
    /// (%d credentials, %S state root, %i instance) filled in.
    fn exec_start(unit: &str, instance: &str) -> Vec<String> {
        let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
        line.replace("%d", "/run/credentials/unit")
            .replace("%S", "/var/lib")
            .replace("%i", instance)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// The JSON array of a Dockerfile instruction (`HEALTHCHECK ... CMD [...]`).
    fn json_command(dockerfile: &str, instruction: &str) -> Vec<String> {
        let joined = dockerfile.replace("\\\n", " ");
        let line = joined.lines().find(|l| l.starts_with(instruction)).expect("the instruction");
        let array = &line[line.find('[').expect("a JSON array")..];
        serde_json::from_str(array).expect("a JSON array of strings")
    }

    /// `escrow tradeoffs --help` lists the calculator's flags and none of the secret or
    /// TLS ones, which other commands still show; passing one to tradeoffs still parses
    /// (and reaches the shared context), as on every command.
    #[test]
    fn tradeoffs_help_has_no_tls_or_passphrase_flags() {
        use clap::FromArgMatches;
        let mut cmd = super::cli_command();
        // Propagates the global flags, as parsing does.
        cmd.build();
        let help = |cmd: &mut clap::Command, sub: &str| {
            cmd.find_subcommand_mut(sub).map(|s| s.render_long_help().to_string()).unwrap_or_default()
        };
        let tradeoffs = help(&mut cmd, "tradeoffs");
        assert!(tradeoffs.contains("--common-compromise") && tradeoffs.contains("--epochs"), "{tradeoffs}");
        for flag in [
            "--passphrase",
            "--passphrase-file",
            "--insecure-fast-kdf",
            "--profile",
            "--federation",
            "--cert",
            "--tls-key",
        ] {
            assert!(!tradeoffs.contains(flag), "{flag} in\n{tradeoffs}");
        }
        let juris = cmd
            .find_subcommand_mut("tradeoffs")
            .and_then(|t| t.find_subcommand_mut("jurisdictions"))
            .map(|s| s.render_long_help().to_string())
            .unwrap_or_default();
        assert!(juris.contains("--cross-border") && juris.contains("--jurisdiction"), "{juris}");
        assert!(!juris.contains("--passphrase") && !juris.contains("--tls-key"), "{juris}");
        let metrics = help(&mut cmd, "metrics");
        assert!(metrics.contains("--prefix") && !metrics.contains("--tls-key"), "{metrics}");
        assert!(help(&mut cmd, "health").contains("--federation"));
        assert!(help(&mut cmd, "keygen").contains("--passphrase"));
        let matches = super::cli_command()
            .try_get_matches_from(["escrow", "tradeoffs", "--passphrase-file", "/x", "-n", "3"])
            .unwrap_or_else(|e| panic!("{e}"));
        let cli = super::Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(cli.command, super::Command::Tradeoffs(ref a) if a.trustees == 3 && a.command.is_none()));
        // The subcommand takes none of the calculator's flags, and the calculator's
        // flags still parse without it.
        let parse = |args: &[&str]| super::cli_command().try_get_matches_from(args);
        assert!(parse(&["escrow", "tradeoffs", "-n", "3", "jurisdictions"]).is_err());
        assert!(parse(&["escrow", "tradeoffs", "jurisdictions", "-n", "3"]).is_err());
        let matches = parse(&["escrow", "tradeoffs", "jurisdictions", "--users", "50", "--passphrase-file", "/x"])
            .unwrap_or_else(|e| panic!("{e}"));
        let cli = super::Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            cli.command,
            super::Command::Tradeoffs(super::tradeoffs::TradeoffsArgs {
                command: Some(super::tradeoffs::TradeoffsCmd::Jurisdictions(ref j)),
                ..
            }) if j.users == 50
        ));
        assert_eq!(super::command_name(&matches), "tradeoffs jurisdictions");
        assert_eq!(cli.ctx.secret.passphrase_file.as_deref(), Some(std::path::Path::new("/x")));
    }

    #[test]
    fn every_command_line_in_deploy_parses() {
        use clap::Parser;
        let units = [
            (include_str!("../../../deploy/systemd/escrow-trustee@.service"), "trustee-0", "trustee"),
            (include_str!("../../../deploy/systemd/escrow-relay.service"), "relay", "relay"),
            (include_str!("../../../deploy/systemd/escrow-witness@.service"), "w1", "witness"),
        ];
        for (unit, instance, sub) in units {
            let args = exec_start(unit, instance);
            assert_eq!(args.first().map(String::as_str), Some("/usr/local/bin/escrow"));
            let cli = super::Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let (ok, metrics) = match (&cli.command, sub) {
                (super::Command::Trustee(super::TrusteeCmd::Serve(a)), "trustee") => {
                    (a.witness_policy.is_some() && a.signing_key.is_some(), &a.listen.metrics_listen)
                }
                (super::Command::Relay(super::RelayCmd::Serve(a)), "relay") => {
                    (a.announcement.is_some(), &a.listen.metrics_listen)
                }
                (super::Command::Witness(crate::witness::WitnessCmd::Serve(a)), "witness") => {
                    (!a.plain, &a.listen.metrics_listen)
                }
                _ => (false, &None),
            };
            assert!(ok, "{instance}: not the expected serve command: {args:?}");
            // Metrics on loopback only (docs/deploy.md, systemd): no TLS, no authentication.
            assert!(metrics.as_deref().is_some_and(|m| m.starts_with("127.0.0.1:")), "{instance}: {metrics:?}");
            // Secrets come as credentials, never in the environment or a plain path.
            assert!(cli.ctx.secret.passphrase_file.is_some_and(|p| p.starts_with("/run/credentials")), "{args:?}");
            assert!(!unit.contains("ESCROW_PASSPHRASE"), "{instance}: passphrase in the environment");
        }
        let dockerfile = include_str!("../../../deploy/image/Dockerfile");
        let mut health = json_command(dockerfile, "HEALTHCHECK");
        assert_eq!(health.first().map(String::as_str), Some("/usr/local/bin/escrow"));
        health[0] = "escrow".into();
        let cli = super::Cli::try_parse_from(&health).unwrap_or_else(|e| panic!("{health:?}: {e}"));
        assert!(matches!(cli.command, super::Command::Health(_)), "{health:?}");
        let entry = json_command(dockerfile, "ENTRYPOINT");
        assert_eq!(entry, ["/usr/local/bin/escrow"]);

        // Every container's args (after the image's ENTRYPOINT) and every probe command
        // in the Kubernetes manifests.
        let manifests = [
            include_str!("../../../deploy/k8s/trustee-0.yaml"),
            include_str!("../../../deploy/k8s/trustee-1.yaml"),
            include_str!("../../../deploy/k8s/trustee-2.yaml"),
            include_str!("../../../deploy/k8s/trustee-3.yaml"),
            include_str!("../../../deploy/k8s/trustee-4.yaml"),
            include_str!("../../../deploy/k8s/relay.yaml"),
            include_str!("../../../deploy/k8s/witness-w1.yaml"),
            include_str!("../../../deploy/k8s/witness-w2.yaml"),
            include_str!("../../../deploy/k8s/witness-w3.yaml"),
            include_str!("../../../deploy/k8s/ceremony-job.yaml"),
        ];
        let mut parsed = 0;
        for m in manifests {
            for line in m.lines().map(str::trim) {
                let (argv, array) = if let Some(a) = line.strip_prefix("args: ") {
                    (vec!["escrow".to_owned()], a)
                } else if let Some(c) = line.strip_prefix("command: ") {
                    (Vec::new(), c)
                } else {
                    continue;
                };
                let mut argv = argv;
                argv.extend(serde_json::from_str::<Vec<String>>(array).expect("a JSON array"));
                if argv.first().map(String::as_str) == Some("/usr/local/bin/escrow") {
                    argv[0] = "escrow".into();
                }
                super::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
                assert!(!argv.iter().any(|a| a == "--passphrase"), "a passphrase on a command line: {argv:?}");
                parsed += 1;
            }
        }
        assert_eq!(parsed, 28, "container args and probe commands in deploy/k8s");
    }

    /// `--json` is taken by exactly the commands that print JSON, before or after the
    /// subcommand, and refused by every other one, naming it.
    #[test]
    fn json_is_for_exactly_the_commands_that_print_it() {
        use clap::FromArgMatches;
        let check = |args: &[&str]| {
            let matches = super::cli_command().try_get_matches_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let cli = super::Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(cli.ctx.json, "{args:?}");
            super::refuse_json(&cli, &super::command_name(&matches)).map_err(|e| e.to_string())
        };
        let t = ["--trustee", "t:1"];
        let printing: [&[&str]; 11] = [
            &["escrow", "--json", "status", t[0], t[1]],
            &["escrow", "status", t[0], t[1], "--json"],
            &["escrow", "audit", "verify", t[0], t[1], "--json"],
            &["escrow", "court", "sign", "--key", "k", "--agency", "a", "--target", "u", "--from", "1", "--to", "2"],
            &["escrow", "open", "--relay", "r:1", t[0], t[1], "--warrant", "w", "--out", "o", "--json"],
            &["escrow", "user", "send", "--relay", "r:1", "--key", "k", "--to", "b", "--message", "m", "--json"],
            &["escrow", "user", "inbox", "--relay", "r:1", "--key", "k", "--json"],
            &["escrow", "dkg", "status", t[0], t[1], "--all", "--json"],
            &["escrow", "dkg", "execute", t[0], t[1], "--wait", "--json"],
            &["escrow", "epoch", "verify", "f", "--json"],
            &["escrow", "federation", "show", "f", "--json"],
        ];
        for args in printing {
            let args: Vec<&str> =
                if args[1] == "court" { [args, &["--out", "o", "--json"]].concat() } else { args.to_vec() };
            assert_eq!(check(&args), Ok(()), "{args:?}");
        }
        for (args, name) in [
            (&["escrow", "--json", "warrant", "list", t[0], t[1]][..], "warrant list"),
            (&["escrow", "audit", "reconcile", t[0], t[1], "--json"], "audit reconcile"),
            (&["escrow", "dkg", "propose", t[0], t[1], "--epoch", "2", "--threshold", "1"], "dkg propose"),
            (&["escrow", "epoch", "show", "f", "--json"], "epoch show"),
            (&["escrow", "federation", "verify", "f", "--json"], "federation verify"),
            (&["escrow", "tradeoffs", "--json"], "tradeoffs"),
            (&["escrow", "metrics", "--addr", "a:1", "--json"], "metrics"),
        ] {
            let args: Vec<&str> = if name == "dkg propose" {
                [args, &["--player", "trustee-0=a:1", "--destroy-at", "9", "--json"]].concat()
            } else {
                args.to_vec()
            };
            let err = check(&args).expect_err(name);
            assert!(err.starts_with(&format!("escrow {name} does not print JSON: --json is for status,")), "{err}");
        }
        // The demo writes its JSON summary to a file of its own.
        #[cfg(feature = "demo")]
        {
            let err = check(&["escrow", "demo", "--json"]).expect_err("demo");
            assert!(err.starts_with("escrow demo does not print JSON on stdout") && err.contains("--summary-json"));
        }
    }

    #[test]
    fn only_a_print_into_a_closed_pipe_is_a_broken_pipe() {
        assert!(is_broken_pipe("failed printing to stdout: Broken pipe (os error 32)"));
        assert!(is_broken_pipe("failed printing to stderr: Broken pipe (os error 32)"));
        assert!(!is_broken_pipe("failed printing to stdout: No space left on device (os error 28)"));
        assert!(!is_broken_pipe("index out of bounds: Broken pipe"));
    }

    #[test]
    fn json_logs_only_when_asked() {
        assert!(json_logs(Some("json".into())));
        assert!(json_logs(Some("JSON".into())));
        assert!(!json_logs(Some("text".into())));
        assert!(!json_logs(None));
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
        assert!(!colour(false, Some("1".into())));
    }
}
