//! `escrow pki`: a deployment's certificates on disk, read back by `show`, refused
//! where they would overwrite or confuse.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// Runs the binary with the test passphrase and no profile from the environment.
fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_escrow"))
        .args(args)
        .env("ESCROW_PASSPHRASE", "pki test passphrase")
        .env_remove("ESCROW_PROFILE")
        .output()
        .expect("the escrow binary runs")
}

fn escrow(args: &[&str]) -> (bool, String) {
    let out = run(args);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn init_issue_show_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let (ok, out) = escrow(&["pki", "init", p(&dir), "--trustees", "2", "--user", "alice", "--insecure-fast-kdf"]);
    assert!(ok, "{out}");
    for f in [
        "ca.pem",
        "ca.key",
        "federation.toml",
        "trustee-0.pem",
        "trustee-1.op-1.profile.toml",
        "relay.key",
        "agency-1.pem",
        "user-alice.pem",
    ] {
        assert!(dir.join(f).exists(), "{f} missing:\n{out}");
    }
    // It says it is one root, and its federation pins both trustees' signing keys.
    assert!(out.contains("ONE ROOT"), "{out}");
    let fed = || escrow_pki::Federation::parse(&std::fs::read_to_string(dir.join("federation.toml")).unwrap()).unwrap();
    assert_eq!(fed().trustee_pins().unwrap().keys().len(), 2);
    assert_eq!(fed().organisations()[0].operator_reach(&fed().trustees()).len(), 2);
    // Keys are sealed, not PEM.
    let sealed = std::fs::read(dir.join("agency-1.key")).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"));

    let (ok, out) = escrow(&["pki", "show", p(&dir.join("trustee-1.op-1.pem"))]);
    assert!(ok, "{out}");
    assert!(out.contains("operator op-1 of trustee-1 (escrow:role/operator/trustee-1/op-1)"), "{out}");

    let (ok, out) = escrow(&[
        "pki",
        "issue",
        p(&dir),
        "--role",
        "operator",
        "--id",
        "op-9",
        "--trustee",
        "trustee-0",
        "--insecure-fast-kdf",
    ]);
    assert!(ok, "{out}");
    let (_, out) = escrow(&["pki", "show", p(&dir.join("trustee-0.op-9.pem"))]);
    assert!(out.contains("escrow:role/operator/trustee-0/op-9"), "{out}");
    // A third trustee: its key joins the pins, the entry re-signed at generation 2.
    let (ok, out) = escrow(&["pki", "issue", p(&dir), "--role", "trustee", "--id", "trustee-2", "--insecure-fast-kdf"]);
    assert!(ok, "{out}");
    assert_eq!(fed().trustee_pins().unwrap().keys().len(), 3);
    assert_eq!(fed().organisations()[0].generation(), 4);

    // Refusals: a second CA over the first, a duplicate party, an operator without a
    // trustee, an unknown role, the wrong passphrase for the CA key.
    let (ok, out) = escrow(&["pki", "init", p(&dir)]);
    assert!(!ok && out.contains("already holds a CA"), "{out}");
    let (ok, out) = escrow(&["pki", "issue", p(&dir), "--role", "agency", "--id", "agency-1"]);
    assert!(!ok && out.contains("already has a certificate"), "{out}");
    let (ok, out) = escrow(&["pki", "issue", p(&dir), "--role", "operator", "--id", "x"]);
    assert!(!ok && out.contains("needs --trustee"), "{out}");
    let (ok, out) = escrow(&["pki", "issue", p(&dir), "--role", "king", "--id", "x"]);
    assert!(!ok && out.contains("unknown role"), "{out}");
    let (ok, out) = escrow(&["pki", "issue", p(&dir), "--role", "user", "--id", "bob", "--passphrase", "wrong"]);
    assert!(!ok && out.contains("wrong passphrase"), "{out}");

    let pem = tmp.path().join("agency.pem");
    let (ok, out) = escrow(&["pki", "export-key", p(&dir.join("agency-1.key")), "--out", p(&pem)]);
    assert!(ok && out.contains("WARNING"), "{out}");
    assert!(std::fs::read_to_string(&pem).unwrap().contains("BEGIN PRIVATE KEY"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn a_command_without_certificate_says_how_to_get_one() {
    let (ok, out) = escrow(&["warrant", "list", "--trustee", "127.0.0.1:1"]);
    assert!(!ok);
    assert!(out.contains("--profile") && out.contains("escrow pki init"), "{out}");
}

/// Exit status 2 means the command was not run (wrong flags or arguments); 1 means it
/// ran and failed (here: a file that is not what it should be).
#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let (ok, out) = escrow(&["pki", "init", p(&dir), "--trustees", "1", "--insecure-fast-kdf"]);
    assert!(ok, "{out}");
    let status = |args: &[&str]| run(args).status.code();
    assert_eq!(status(&["pki", "issue", p(&dir), "--role", "wizard", "--id", "merlin"]), Some(2), "unknown role");
    assert_eq!(status(&["pki", "issue", p(&dir), "--role", "user", "--id", "bob", "--trustee", "trustee-0"]), Some(2));
    // A profile that is not one: the command ran and names the file.
    let bogus = tmp.path().join("bogus.profile.toml");
    std::fs::write(&bogus, "not = [toml").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_escrow"))
        .args(["--profile", p(&bogus), "audit", "verify", "--trust-on-first-use", "--trustee", "127.0.0.1:1"])
        .env("ESCROW_PASSPHRASE", "pki test passphrase")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus.profile.toml: not a profile"), "{out:?}");
}

/// `--json` on a command that prints no JSON is a usage error naming the command, before
/// anything runs; before or after the subcommand alike.
#[test]
fn json_is_refused_by_a_command_that_prints_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    for (args, name) in [
        (vec!["--json", "pki", "init", p(&dir), "--trustees", "1", "--insecure-fast-kdf"], "pki init"),
        (vec!["pki", "init", p(&dir), "--trustees", "1", "--insecure-fast-kdf", "--json"], "pki init"),
        (vec!["warrant", "list", "--trustee", "127.0.0.1:1", "--json"], "warrant list"),
        (vec!["audit", "reconcile", "--trust-on-first-use", "--trustee", "127.0.0.1:1", "--json"], "audit reconcile"),
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let want = format!(
            "error: escrow {name} does not print JSON: --json is for status, audit verify, audit report, court sign"
        );
        assert!(err.starts_with(&want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    assert!(!dir.exists(), "a refused command wrote nothing");
}
