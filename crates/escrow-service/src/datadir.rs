//! One process per data directory: an exclusive lock on `<dir>/LOCK`, held for the
//! life of the service. A second process started on the same directory would serve
//! reads and a stale checkpoint while its writes failed on SQLite's busy lock; it is
//! refused at start instead, with the holder's pid in the message.
//!
//! The lock is the operating system's advisory file lock (`flock` on Unix), released
//! by the kernel when the holder exits for any reason, SIGKILL included, so a crash
//! never leaves a directory locked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Why a data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("data directory {} is in use by another process (pid {}); stop it first", .dir.display(), .pid.as_deref().unwrap_or("unknown"))]
    Held {
        /// The directory.
        dir: PathBuf,
        /// The holder's pid as it wrote it, if readable.
        pid: Option<String>,
    },
    /// The lock file could not be opened or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the exclusive lock of `dir` (which must exist) without waiting, and writes
/// this process's pid into the lock file for whoever is refused next.
pub fn lock(dir: &Path) -> Result<DataDirLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io { path: path.clone(), source };
    // Not truncated on open: until we hold the lock, the pid inside is the holder's.
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let pid = file.read_to_string(&mut pid).ok().map(|_| pid.trim().to_string()).filter(|p| !p.is_empty());
            return Err(LockError::Held { dir: dir.to_path_buf(), pid });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(DataDirLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        assert_eq!(held.path(), dir.path().join(LOCK_FILE));
        let err = lock(dir.path()).unwrap_err();
        match &err {
            LockError::Held { pid, .. } => assert_eq!(pid.as_deref(), Some(std::process::id().to_string().as_str())),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        lock(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = lock(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope/LOCK"), "{err}");
    }
}
