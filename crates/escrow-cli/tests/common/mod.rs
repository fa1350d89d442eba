//! What the CLI tests that start real servers share: the `escrow` binary under a
//! test's passphrase, its output as text, and a child process killed on drop.
// Each test binary includes this module and uses what it needs of it.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Starts `cmd` (a server, quiet) with `--addr-file addr_file` and waits until the
/// file appears, at most 60 s: the server and the address it listens on.
pub fn serving(mut cmd: Command, addr_file: &Path, name: &str) -> (Killed, String) {
    let _ = std::fs::remove_file(addr_file);
    let mut child =
        cmd.args(["--addr-file", p(addr_file)]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let addr = wait_listening(&mut child, addr_file, name);
    (Killed(child), addr)
}

/// Waits until `child` (a server started with `--addr-file addr_file`) writes the
/// address file, at most 60 s, and returns the address; panics if it exits first.
pub fn wait_listening(child: &mut Child, addr_file: &Path, name: &str) -> String {
    let t0 = Instant::now();
    while !addr_file.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited with {status} before listening");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{name}: no address file after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(addr_file).unwrap().trim().to_string()
}
