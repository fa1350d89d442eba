//! Which certificate a command presents: a profile file from `escrow pki init`, or
//! the CA, certificate and sealed key given one by one.

use std::path::{Path, PathBuf};

use clap::Args;
use escrow_service::transport::Credentials;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::files::SecretArgs;
use crate::CliError;

/// TLS flags every networked command takes (global: before or after the subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Profile file naming the CA, certificate and sealed key (`escrow pki init`
    /// writes one per party); paths in it are relative to the file.
    #[arg(long, env = "ESCROW_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// The deployment's CA certificate (PEM); overrides the profile's.
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// This party's certificate (PEM); overrides the profile's.
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// This party's sealed private key; overrides the profile's.
    #[arg(long, global = true)]
    pub tls_key: Option<PathBuf>,
    /// The pinned trustee keys (one hex key per line); overrides the profile's. An
    /// epoch key is believed only when every trustee holding it signed its
    /// announcement under these keys.
    #[arg(long, global = true)]
    pub pins: Option<PathBuf>,
}

/// A profile file: `ca`, `cert`, `key` paths, and optionally `pins` (the trustees'
/// pinned keys) and, for a trustee, `signing_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// CA certificate.
    pub ca: PathBuf,
    /// Party certificate.
    pub cert: PathBuf,
    /// Sealed party key.
    pub key: PathBuf,
    /// The trustees' pinned keys.
    #[serde(default)]
    pub pins: Option<PathBuf>,
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
            ca: base.join(p.ca),
            cert: base.join(p.cert),
            key: base.join(p.key),
            pins: p.pins.map(|f| base.join(f)),
            signing_key: p.signing_key.map(|f| base.join(f)),
        })
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))
}

impl TlsArgs {
    /// The pinned trustee keys: `--pins`, else the profile's; `None` if neither names
    /// a file.
    pub fn pins(&self) -> Result<Option<escrow_crypto::TrusteePins>, CliError> {
        let profile = self.profile.as_deref().map(Profile::load).transpose()?;
        let Some(path) = self.pins.clone().or_else(|| profile.and_then(|p| p.pins)) else { return Ok(None) };
        let text = read(&path)?;
        escrow_crypto::TrusteePins::from_text(&text).map(Some).map_err(|e| CliError::bad_file(&path, e))
    }

    /// The profile's trustee signing key file, if it names one.
    pub fn signing_key(&self) -> Result<Option<PathBuf>, CliError> {
        Ok(self.profile.as_deref().map(Profile::load).transpose()?.and_then(|p| p.signing_key))
    }

    /// Only the CA certificate (`--ca` or the profile's), for clients that present no
    /// certificate (health probes).
    pub fn ca_pem(&self) -> Result<String, CliError> {
        let profile = self.profile.as_deref().map(Profile::load).transpose()?;
        let ca = self.ca.clone().or_else(|| profile.map(|p| p.ca)).ok_or_else(|| {
            CliError::Usage("no CA certificate: pass --ca or --profile (or set ESCROW_PROFILE)".into())
        })?;
        read(&ca)
    }

    /// Loads the credentials, unsealing the key with `secret`.
    pub fn credentials(&self, secret: &SecretArgs) -> Result<Credentials, CliError> {
        let profile = self.profile.as_deref().map(Profile::load).transpose()?;
        let pick = |flag: &Option<PathBuf>, from: Option<&PathBuf>, what: &str| -> Result<PathBuf, CliError> {
            flag.clone().or_else(|| from.cloned()).ok_or_else(|| {
                CliError::Usage(format!(
                    "no {what}: pass --profile (or set ESCROW_PROFILE), or --ca, --cert and --tls-key \
                     (`escrow pki init` makes them)"
                ))
            })
        };
        let ca = pick(&self.ca, profile.as_ref().map(|p| &p.ca), "CA certificate")?;
        let cert = pick(&self.cert, profile.as_ref().map(|p| &p.cert), "certificate")?;
        let key = pick(&self.tls_key, profile.as_ref().map(|p| &p.key), "TLS key")?;
        let key_pem = secret.read_sealed(&key)?;
        let key_pem = Zeroizing::new(
            String::from_utf8(key_pem.to_vec()).map_err(|_| CliError::bad_file(&key, "not a sealed PEM key"))?,
        );
        Credentials::new(read(&ca)?, read(&cert)?, key_pem).map_err(|e| CliError::bad_file(&cert, e))
    }
}
