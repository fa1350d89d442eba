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
            return first_line(p);
        }
        match &self.passphrase {
            Some(p) if !p.is_empty() => Ok(Zeroizing::new(p.as_bytes().to_vec())),
            _ => Err(CliError::Usage("a passphrase is needed: set ESCROW_PASSPHRASE or pass --passphrase-file".into())),
        }
    }

    /// The KDF costs new sealed files get.
    fn kdf_params(&self) -> KdfParams {
        if self.insecure_fast_kdf {
            KdfParams::insecure_fast()
        } else {
            KdfParams::default()
        }
    }

    /// Seals `secret` and writes it to `path` (mode 0600).
    pub fn write_sealed(&self, path: &Path, secret: &[u8]) -> Result<(), CliError> {
        let pass = self.passphrase()?;
        let blob = sealed::seal(secret, &Unlock::Passphrase(&pass), self.kdf_params(), &mut OsRng)?;
        write_private(path, &blob)
    }

    /// Reads and unseals the secret file at `path`.
    pub fn read_sealed(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
        let blob = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
        let pass = self.passphrase()?;
        open_sealed(path, &blob, &pass)
    }

    /// Reads the secret file at `path` and decodes what it holds, naming the file if
    /// either step fails.
    pub fn read_sealed_as<T, E: std::fmt::Display>(
        &self,
        path: &Path,
        decode: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<T, CliError> {
        let bytes = self.read_sealed(path)?;
        decode(&bytes).map_err(|e| CliError::bad_file(path, e))
    }

    /// The new passphrase for `escrow reseal`: from `new_file` (first line) or
    /// `ESCROW_NEW_PASSPHRASE`.
    fn new_passphrase(new_file: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, CliError> {
        if let Some(p) = new_file {
            let line = first_line(p)?;
            if line.is_empty() {
                return Err(CliError::bad_file(p, "the new passphrase is empty"));
            }
            return Ok(line);
        }
        match std::env::var("ESCROW_NEW_PASSPHRASE") {
            Ok(p) if !p.is_empty() => Ok(Zeroizing::new(p.into_bytes())),
            _ => Err(CliError::Usage(
                "a new passphrase is needed: set ESCROW_NEW_PASSPHRASE or pass --new-passphrase-file".into(),
            )),
        }
    }

    /// Re-seals every file in `paths` under a new passphrase. Every file is opened
    /// with the old passphrase before any is rewritten, so a wrong passphrase or a
    /// damaged file changes nothing; each file is then replaced atomically.
    pub fn reseal(&self, paths: &[PathBuf], new_file: Option<&Path>) -> Result<(), CliError> {
        let new = Self::new_passphrase(new_file)?;
        let params = self.kdf_params();
        let mut opened = Vec::with_capacity(paths.len());
        for p in paths {
            opened.push((p, self.read_sealed(p)?));
        }
        let mut sealed_all = Vec::with_capacity(opened.len());
        for (p, secret) in &opened {
            sealed_all.push((*p, sealed::seal(secret, &Unlock::Passphrase(&new), params, &mut OsRng)?));
        }
        // All or nothing: every new file is written and synced beside its original
        // first; only then are they renamed into place.
        let mut staged = Vec::with_capacity(sealed_all.len());
        for (p, blob) in &sealed_all {
            match stage_private(p, blob) {
                Ok(tmp) => staged.push((tmp, *p)),
                Err(e) => {
                    for (tmp, _) in &staged {
                        let _ = std::fs::remove_file(tmp);
                    }
                    return Err(e);
                }
            }
        }
        for (i, (tmp, p)) in staged.iter().enumerate() {
            if let Err(e) = std::fs::rename(tmp, p) {
                for (t, _) in staged.iter().skip(i) {
                    let _ = std::fs::remove_file(t);
                }
                return Err(CliError::io(p, e));
            }
        }
        Ok(())
    }
}

/// The first line of a passphrase file (the rest of the file is ignored).
fn first_line(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?);
    Ok(Zeroizing::new(text.lines().next().unwrap_or("").as_bytes().to_vec()))
}

/// Opens a sealed blob read from `path`; every failure names the file.
fn open_sealed(path: &Path, blob: &[u8], pass: &[u8]) -> Result<Zeroizing<Vec<u8>>, CliError> {
    sealed::open(blob, &Unlock::Passphrase(pass)).map_err(|e| match e {
        escrow_crypto::Error::DecryptionFailed => CliError::bad_file(path, "wrong passphrase or damaged file"),
        other => CliError::bad_file(path, format!("not a sealed secret file: {other}")),
    })
}

/// Writes `bytes` (mode 0600) to a temporary file beside `path` and syncs it; the
/// caller renames it over `path`, so a crash leaves either the old file or the new one.
fn stage_private(path: &Path, bytes: &[u8]) -> Result<PathBuf, CliError> {
    let name = path.file_name().ok_or_else(|| CliError::bad_file(path, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".reseal.tmp");
    let tmp = path.with_file_name(tmp_name);
    write_private(&tmp, bytes)?;
    if let Err(e) = std::fs::File::open(&tmp).and_then(|f| f.sync_all()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io(path, e));
    }
    Ok(tmp)
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, renamed
/// over it, so that a reader (a supervisor waiting for an address file, a party
/// reading the federation) never sees half a file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).map_err(|e| CliError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::io(path, e))
}

/// Writes `bytes` readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    escrow_service::files::write_private(path, bytes).map_err(|e| CliError::io(path, e))
}

/// Writes a public blob as one line of hex.
pub fn write_hex(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, format!("{}\n", hex::encode(bytes))).map_err(|e| CliError::io(path, e))
}

/// Reads a public blob written by [`write_hex`].
pub fn read_hex(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    hex::decode(text.trim()).map_err(|e| CliError::bad_file(path, format!("not hex: {e}")))
}

/// Reads a C2SP witness policy file as bytes, so that a comment in another encoding
/// than UTF-8 (opaque to the spec) does not refuse the file; names the file if it
/// cannot be read or parsed.
pub fn read_witness_policy(path: &Path) -> Result<escrow_log::Policy, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    escrow_log::Policy::from_bytes(&bytes).map_err(|e| CliError::bad_file(path, e))
}

/// Reads a public blob and decodes what it holds, naming the file if either fails.
pub fn read_hex_as<T, E: std::fmt::Display>(
    path: &Path,
    decode: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, CliError> {
    decode(&read_hex(path)?).map_err(|e| CliError::bad_file(path, e))
}
