//! One process per data directory: an exclusive lock on `<dir>/LOCK`, held for the
//! life of the service. A second process started on the same directory would serve
//! reads and a stale checkpoint while its writes failed on SQLite's busy lock; it is
//! refused at start instead, with the holder's pid in the message.
//!
//! The lock is the operating system's advisory file lock (`flock` on Unix), released
//! by the kernel when the holder exits for any reason, SIGKILL included, so a crash
//! never leaves a directory locked.
//!
//! A start that takes the lock and is then refused removes the lock file if it made
//! it, so that a refused start leaves the directory as it found it (a `LOCK` with a
//! dead pid in it would send an operator after a process that never ran). Once the
//! service has started ([`DataDirLock::keep`]) the file stays, as it always has.

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
    /// This process made the lock file (it did not exist).
    created: bool,
    /// The service started: the file stays when the lock is released.
    kept: bool,
}

impl DataDirLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The service has started on this directory: releasing the lock now leaves the
    /// file in place. Until then, a lock file this process made is removed on release.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        if self.created && !self.kept {
            // Removed while still held: whoever opened it meanwhile finds, once it
            // holds the lock, that it locked a file no longer at the path, and retries.
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "could not remove the lock file of a refused start");
            }
        }
    }
}

/// How often [`lock`] retries when the file it locked was removed under it.
const LOCK_ATTEMPTS: usize = 8;

/// Takes the exclusive lock of `dir` (which must exist) without waiting, and writes
/// this process's pid into the lock file for whoever is refused next.
pub fn lock(dir: &Path) -> Result<DataDirLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io { path: path.clone(), source };
    for _ in 0..LOCK_ATTEMPTS {
        // Not truncated on open: until we hold the lock, the pid inside is the holder's.
        let (mut file, created) = match OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match OpenOptions::new().read(true).write(true).open(&path) {
                    Ok(f) => (f, false),
                    // Removed between the two opens by a refused start: try again.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(e)),
                }
            }
            Err(e) => return Err(io(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let pid = file.read_to_string(&mut pid).ok().map(|_| pid.trim().to_string()).filter(|p| !p.is_empty());
                return Err(LockError::Held { dir: dir.to_path_buf(), pid });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        if !still_at_path(&file, &path) {
            continue;
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        return Ok(DataDirLock { _file: file, path, created, kept: false });
    }
    Err(io(std::io::Error::other("the lock file keeps being removed while it is taken")))
}

/// Whether `file` is still the file at `path` (a refused start removes the lock file
/// it made while holding it; a lock on the removed file would lock nothing).
#[cfg(unix)]
fn still_at_path(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_at_path(_: &File, path: &Path) -> bool {
    path.exists()
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
    fn a_lock_file_this_process_made_is_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        // Made here and released before the start went ahead: gone.
        drop(lock(dir.path()).unwrap());
        assert!(!path.exists());
        // Made here and kept: stays, with this process's pid.
        let mut held = lock(dir.path()).unwrap();
        held.keep();
        drop(held);
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), std::process::id().to_string());
        // Found there: a refused start leaves it, whoever made it.
        drop(lock(dir.path()).unwrap());
        assert!(path.exists());
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = lock(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope/LOCK"), "{err}");
    }
}
