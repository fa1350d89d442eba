//! The logs a witness witnesses, as a TOML file:
//!
//! ```toml
//! [[log]]
//! origin = "escrow-trustee/trustee-0"
//! vkey = "escrow-trustee/trustee-0+1a2b3c4d+AQ..."
//! ```
//!
//! An origin may be listed more than once with different keys (while a log rotates
//! its key). The origin need not equal the key name (Go's checksum database signs
//! `go.sum database tree` as `sum.golang.org`), but escrow's trustees use one string
//! for both.

use escrow_log::witness::LogKeys;
use escrow_log::CheckpointVerifier;
use serde::Deserialize;

/// At most this many log entries in a config.
pub const MAX_LOGS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    log: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    origin: String,
    vkey: String,
}

/// A config that does not parse, naming the entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML of this shape.
    #[error("not a witness config: {0}")]
    Toml(String),
    /// Too many entries.
    #[error("{0} logs; at most {MAX_LOGS} are accepted")]
    TooMany(usize),
    /// An entry's key or origin is unusable.
    #[error("log {index} ({origin:?}): {reason}")]
    Entry {
        /// 1-based position in the file.
        index: usize,
        /// Its origin as written.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses a config's text.
pub fn parse(text: &str) -> Result<LogKeys, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| ConfigError::Toml(e.message().to_owned()))?;
    if file.log.len() > MAX_LOGS {
        return Err(ConfigError::TooMany(file.log.len()));
    }
    let mut keys = LogKeys::new();
    for (i, entry) in file.log.into_iter().enumerate() {
        let bad = |reason: String| ConfigError::Entry { index: i + 1, origin: entry.origin.clone(), reason };
        escrow_log::Checkpoint::new(entry.origin.as_str(), 0, [0; 32]).map_err(|e| bad(e.to_string()))?;
        let key: CheckpointVerifier = entry.vkey.parse().map_err(|e: escrow_log::LogError| bad(e.to_string()))?;
        keys.add(&entry.origin, key);
    }
    Ok(keys)
}

/// The config text for `logs` (origin and key of each), as `escrow witness` and the
/// deployment kit write it.
pub fn render(logs: &[(String, CheckpointVerifier)]) -> String {
    let mut out = String::from("# Logs this witness cosigns (see docs/operators.md, \"Running a witness\").\n");
    for (origin, key) in logs {
        let origin = toml::Value::String(origin.clone());
        let vkey = toml::Value::String(key.to_string());
        out.push_str(&format!("\n[[log]]\norigin = {origin}\nvkey = {vkey}\n"));
    }
    out
}
