//! The clock every node of a deployment reads: a shared counter for nodes in this
//! process, a file for child processes (`--clock-file`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use escrow_service::clock::{Clock, FileClock, ManualClock};

use crate::KitError;

/// The deployment's simulated time, moved by whoever plays the parties.
#[derive(Debug, Clone)]
pub enum KitClock {
    /// In memory: only nodes in this process can read it.
    Manual(ManualClock),
    /// A file every process reads on each `now()`.
    File(FileClock, PathBuf),
}

impl KitClock {
    /// A file clock at `path`, set to `at`.
    pub fn file(path: &Path, at: u64) -> Result<Self, KitError> {
        let c = FileClock::new(path);
        c.set(at).map_err(|e| KitError::io(path, e))?;
        Ok(KitClock::File(c, path.to_path_buf()))
    }

    /// Moves the time to `unix` seconds.
    pub fn set(&self, unix: u64) -> Result<(), KitError> {
        match self {
            KitClock::Manual(c) => {
                c.set(unix);
                Ok(())
            }
            KitClock::File(c, path) => c.set(unix).map_err(|e| KitError::io(path, e)),
        }
    }

    /// The time now, unix seconds.
    pub fn now(&self) -> u64 {
        match self {
            KitClock::Manual(c) => c.now(),
            KitClock::File(c, _) => c.now(),
        }
    }

    /// The clock as services take it.
    pub fn shared(&self) -> Arc<dyn Clock> {
        match self {
            KitClock::Manual(c) => Arc::new(c.clone()),
            KitClock::File(c, _) => Arc::new(c.clone()),
        }
    }

    /// The clock file child processes are given, if this is a file clock.
    pub fn path(&self) -> Option<&Path> {
        match self {
            KitClock::Manual(_) => None,
            KitClock::File(_, p) => Some(p),
        }
    }
}
