//! Where "now" comes from. Services never call `SystemTime::now()` themselves, so the
//! demo can run a whole deployment on one simulated calendar and tests can move time.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of unix time in seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Current unix time, seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// A clock read from a file holding a decimal unix time: **demo and test use only**.
/// `escrow demo` writes the file to move every process of a deployment through
/// simulated days at once. If the file cannot be read the clock reports 0, which
/// every time check treats as "before everything" — failing closed.
#[derive(Debug, Clone)]
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    /// A clock backed by `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileClock { path: path.into() }
    }

    /// Sets the time (used by the demo driver).
    pub fn set(&self, unix: u64) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, unix.to_string())?;
        std::fs::rename(tmp, &self.path)
    }
}

impl Clock for FileClock {
    fn now(&self) -> u64 {
        std::fs::read_to_string(&self.path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }
}

/// A clock tests set by hand.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at `unix`.
    pub fn at(unix: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(unix)))
    }
    /// Moves the clock to `unix`.
    pub fn set(&self, unix: u64) {
        self.0.store(unix, Ordering::SeqCst);
    }
    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The clock a service runs on: the system clock, or a demo clock file.
pub fn from_option(clock_file: Option<PathBuf>) -> Arc<dyn Clock> {
    match clock_file {
        Some(p) => Arc::new(FileClock::new(p)),
        None => Arc::new(SystemClock),
    }
}
