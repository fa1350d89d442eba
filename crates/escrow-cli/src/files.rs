//! Key and blob files. Public blobs are one line of hex (easy to paste into a policy
//! file); secret blobs are sealed (argon2id + AES-256-GCM) and written mode 0600.

use std::path::{Path, PathBuf};

use clap::Args;
use escrow_crypto::sealed::{self, KdfParams, Unlock};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::CliError;

/// How secret files are unlocked.
#[derive(Args, Debug, Clone, Default)]
pub struct SecretArgs {
    /// Passphrase that seals/unseals secret files.
    #[arg(long, env = "ESCROW_PASSPHRASE", hide_env_values = true, global = true)]
    pub passphrase: Option<String>,
    /// Read the passphrase from this file instead (first line).
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,
    /// Seal with minimal argon2id costs (64 KiB, 1 pass). INSECURE: throwaway demos only.
    #[arg(long, global = true)]
    pub insecure_fast_kdf: bool,
}

impl SecretArgs {
    fn passphrase(&self) -> Result<Zeroizing<Vec<u8>>, CliError> {
        if let Some(p) = &self.passphrase_file {
            let text = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| CliError::io(p, e))?);
            return Ok(Zeroizing::new(text.lines().next().unwrap_or("").as_bytes().to_vec()));
        }
        match &self.passphrase {
            Some(p) if !p.is_empty() => Ok(Zeroizing::new(p.as_bytes().to_vec())),
            _ => Err(CliError::Usage("a passphrase is needed: set ESCROW_PASSPHRASE or pass --passphrase-file".into())),
        }
    }

    /// Seals `secret` and writes it to `path` (mode 0600).
    pub fn write_sealed(&self, path: &Path, secret: &[u8]) -> Result<(), CliError> {
        let pass = self.passphrase()?;
        let params = if self.insecure_fast_kdf { KdfParams::insecure_fast() } else { KdfParams::default() };
        let blob = sealed::seal(secret, &Unlock::Passphrase(&pass), params, &mut OsRng)?;
        write_private(path, &blob)
    }

    /// Reads and unseals the secret file at `path`.
    pub fn read_sealed(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
        let blob = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
        let pass = self.passphrase()?;
        sealed::open(&blob, &Unlock::Passphrase(&pass)).map_err(|e| match e {
            escrow_crypto::Error::DecryptionFailed => {
                CliError::Usage(format!("{}: wrong passphrase or damaged file", path.display()))
            }
            other => other.into(),
        })
    }
}

/// Writes `bytes` readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(|e| CliError::io(path, e))?;
    f.write_all(bytes).map_err(|e| CliError::io(path, e))
}

/// Writes a public blob as one line of hex.
pub fn write_hex(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, format!("{}\n", hex::encode(bytes))).map_err(|e| CliError::io(path, e))
}

/// Reads a public blob written by [`write_hex`].
pub fn read_hex(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    hex::decode(text.trim()).map_err(|e| CliError::Usage(format!("{}: not hex: {e}", path.display())))
}
