//! What the CLI tests that start real servers share: the `escrow` binary under a
//! test's passphrase, its output as text, and a child process killed on drop.
// Each test binary includes this module and uses what it needs of it.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Output};

/// The `escrow` binary with `pass` as its passphrase, no profile from the environment
/// and no colour.
pub fn escrow_as(pass: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_escrow"));
    c.env("ESCROW_PASSPHRASE", pass).env_remove("ESCROW_PROFILE").env("NO_COLOR", "1");
    c
}

/// Standard output then standard error, as text.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `escrow args` with `pass`, which must succeed; its output.
pub fn run_as(pass: &str, args: &[&str]) -> String {
    let out = escrow_as(pass).args(args).output().expect("escrow runs");
    assert!(out.status.success(), "escrow {args:?}: {}", text(&out));
    text(&out)
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A server process, killed and reaped when the test lets go of it.
pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
