//! Which certificate a command presents and which federation it believes: a profile
//! file from `escrow pki init` or `escrow org init`, or the federation, certificate
//! and sealed key given one by one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use escrow_pki::trust::Trust;
use escrow_pki::Federation;
use escrow_service::transport::Credentials;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::files::SecretArgs;
use crate::CliError;

/// TLS flags every networked command takes (global: before or after the subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Profile file naming the federation, certificate and sealed key (`escrow pki
    /// init` writes one per party); paths in it are relative to the file.
    #[arg(long, env = "ESCROW_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// The federation file (every organisation's CA, what it may certify, the pinned
    /// keys); overrides the profile's.
    #[arg(long, global = true)]
    pub federation: Option<PathBuf>,
    /// This party's certificate (PEM); overrides the profile's.
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// This party's sealed private key; overrides the profile's.
    #[arg(long, global = true)]
    pub tls_key: Option<PathBuf>,
    /// The federation once read, checked and made into verifiers: every use in one
    /// command (pins, credentials, anonymous probes) shares it.
    #[arg(skip)]
    trust: std::sync::OnceLock<Arc<Trust>>,
}

/// A profile file: `federation`, `cert`, `key` paths, and for a trustee
/// `signing_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The federation file.
    pub federation: PathBuf,
    /// Party certificate.
    pub cert: PathBuf,
    /// Sealed party key.
    pub key: PathBuf,
    /// A trustee's sealed signing key.
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
}

impl Profile {
    /// The profile at `path`, with its paths made relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        let p: Profile = toml::from_str(&text).map_err(|e| CliError::bad_file(path, format!("not a profile: {e}")))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Ok(Profile {
            federation: base.join(p.federation),
            cert: base.join(p.cert),
            key: base.join(p.key),
            signing_key: p.signing_key.map(|f| base.join(f)),
        })
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))
}

/// Reads and checks a federation file; the error names the file and the
/// organisation at fault.
pub fn load_federation(path: &Path) -> Result<Federation, CliError> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.len() > escrow_pki::federation::MAX_FILE_BYTES as u64 {
        return Err(CliError::bad_file(path, "longer than a federation file may be"));
    }
    Federation::parse(&read(path)?).map_err(|e| CliError::bad_file(path, e))
}

impl TlsArgs {
    fn profile(&self) -> Result<Option<Profile>, CliError> {
        self.profile.as_deref().map(Profile::load).transpose()
    }

    /// The federation file's path: `--federation`, else the profile's.
    fn federation_path(&self) -> Result<Option<PathBuf>, CliError> {
        Ok(self.federation.clone().or(self.profile()?.map(|p| p.federation)))
    }

    /// The pinned trustee keys, from the federation; `None` if no federation is
    /// given or it pins no trustee key.
    pub fn pins(&self) -> Result<Option<escrow_crypto::TrusteePins>, CliError> {
        let Some(path) = self.federation_path()? else { return Ok(None) };
        let pins = self.trust()?.federation().trustee_pins().map_err(|e| CliError::bad_file(&path, e))?;
        Ok((!pins.is_empty()).then_some(pins))
    }

    /// The profile's trustee signing key file, if it names one.
    pub fn signing_key(&self) -> Result<Option<PathBuf>, CliError> {
        Ok(self.profile()?.and_then(|p| p.signing_key))
    }

    /// The federation's verifiers, for clients that present no certificate (health
    /// probes) and for witnesses' HTTPS.
    /// Read and checked once per command.
    pub fn trust(&self) -> Result<Arc<Trust>, CliError> {
        if let Some(t) = self.trust.get() {
            return Ok(t.clone());
        }
        let path = self.federation_path()?.ok_or_else(|| {
            CliError::Usage("no federation: pass --federation or --profile (or set ESCROW_PROFILE)".into())
        })?;
        let trust = Trust::new(load_federation(&path)?).map_err(|e| CliError::bad_file(&path, e))?;
        Ok(self.trust.get_or_init(|| trust).clone())
    }

    /// Loads the credentials, unsealing the key with `secret`, and checks that the
    /// federation believes the certificate (so that a peer's refusal is explained
    /// here, naming the file).
    pub fn credentials(&self, secret: &SecretArgs) -> Result<Credentials, CliError> {
        let profile = self.profile()?;
        let pick = |flag: &Option<PathBuf>, from: Option<&PathBuf>, what: &str| -> Result<PathBuf, CliError> {
            flag.clone().or_else(|| from.cloned()).ok_or_else(|| {
                CliError::Usage(format!(
                    "no {what}: pass --profile (or set ESCROW_PROFILE), or --federation, --cert and --tls-key \
                     (`escrow pki init` makes them)"
                ))
            })
        };
        let cert = pick(&self.cert, profile.as_ref().map(|p| &p.cert), "certificate")?;
        let key = pick(&self.tls_key, profile.as_ref().map(|p| &p.key), "TLS key")?;
        let trust = self.trust()?;
        let key_pem = secret.read_sealed(&key)?;
        let key_pem = Zeroizing::new(
            String::from_utf8(key_pem.to_vec()).map_err(|_| CliError::bad_file(&key, "not a sealed PEM key"))?,
        );
        let creds = Credentials::new(trust, read(&cert)?, key_pem).map_err(|e| CliError::bad_file(&cert, e))?;
        creds.check_believed().map_err(|e| CliError::bad_file(&cert, e))?;
        Ok(creds)
    }
}
