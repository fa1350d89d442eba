//! `escrow open` against real trustee and relay processes (dealt keys, weak mode): what
//! its summary and its stderr say about trustees and epochs.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

const PASS: &str = "open test passphrase";
/// Where nothing listens: a trustee that is down.
const DOWN: &str = "127.0.0.1:1";

mod common;
use common::{p, serving, text, Killed};

fn escrow() -> Command {
    common::escrow_as(PASS)
}

fn run(args: &[&str]) -> String {
    common::run_as(PASS, args)
}

/// Five trustees on a dealt epoch 1 (t = 2), a relay, alice's message to bob, and the
/// agency's warrants over alice and over carol (who sent nothing), approved by
/// trustee-0, -1 and -2 and only received by trustee-3 and -4.
struct Deployment {
    dir: tempfile::TempDir,
    trustees: Vec<String>,
    relay: String,
    processes: Vec<Killed>,
}

impl Deployment {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        let path = |rel: &str| d.join(rel);
        let ps = |rel: &str| p(&path(rel)).to_string();
        run(&["pki", "init", p(&path("pki")), "--trustees", "5", "--insecure-fast-kdf"]);
        run(&["keygen", "--out", p(&path("keys")), "--insecure-fast-kdf"]);
        run(&["court", "keygen", "--court", "high-court", "--out", p(&path("courts")), "--insecure-fast-kdf"]);
        let mut processes = Vec::new();
        let mut spawn = |name: &str, args: Vec<String>| -> String {
            let mut cmd = escrow();
            cmd.args(&args);
            let (process, addr) = serving(cmd, &path(&format!("{name}.addr")), name);
            processes.push(process);
            addr
        };
        let mut trustees = Vec::new();
        for i in 0..5 {
            let policy = path(&format!("policy-{i}.toml"));
            let id = format!("trustee-{i}");
            run(&["trustee", "policy", "--id", &id, "--court", &ps("courts/high-court.pub")]
                .into_iter()
                .chain(["--max-window-secs", "604800", "--max-fields-per-warrant", "1000"])
                .chain(["--agency-quota", "agency-1=1000", "--out", p(&policy)])
                .collect::<Vec<_>>());
            let args = [
                "--profile".to_string(),
                ps(&format!("pki/trustee-{i}.profile.toml")),
                "trustee".into(),
                "serve".into(),
                "--data-dir".into(),
                ps(&format!("t{i}")),
                "--policy".into(),
                ps(&format!("policy-{i}.toml")),
                "--epoch-key".into(),
                ps("keys/epoch-1.pub"),
                "--key-share".into(),
                ps(&format!("keys/trustee-{i}.share")),
            ];
            trustees.push(spawn(&format!("t{i}"), args.to_vec()));
        }
        let relay_args = [
            "--profile".to_string(),
            ps("pki/relay.profile.toml"),
            "relay".into(),
            "serve".into(),
            "--data-dir".into(),
            ps("relay"),
            "--epoch-key".into(),
            ps("keys/epoch-1.pub"),
            "--court-key".into(),
            ps("courts/high-court.pub"),
        ];
        let relay = spawn("relay", relay_args.to_vec());
        let dep = Deployment { dir, trustees, relay, processes };

        for who in ["alice", "bob"] {
            let key = dep.path(&format!("{who}.key"));
            run(&["user", "keygen", "--id", who, "--out", p(&key), "--insecure-fast-kdf"]);
            dep.as_profile(&format!("user-{who}"), &["user", "register", "--relay", &dep.relay, "--key", p(&key)]);
        }
        let (key, epoch) = (dep.path("alice.key"), dep.path("keys/epoch-1.pub"));
        let relay = dep.relay.clone();
        let send = ["user", "send", "--relay", &relay, "--key", p(&key), "--to", "bob", "--message", "hi"];
        dep.as_profile("user-alice", &[&send[..], &["--epoch-key", p(&epoch)]].concat());

        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (from, to) = ((now - 86_400).to_string(), (now + 3_600).to_string());
        for target in ["alice", "carol"] {
            let w = dep.path(&format!("{target}.warrant"));
            let court_key = dep.path("courts/high-court.key");
            run(&["court", "sign", "--key", p(&court_key), "--agency", "agency-1", "--target", target]
                .into_iter()
                .chain(["--from", &from, "--to", &to, "--out", p(&w)])
                .collect::<Vec<_>>());
            let mut submit = vec!["warrant", "submit", "--warrant", p(&w)];
            for t in &dep.trustees {
                submit.extend(["--trustee", t.as_str()]);
            }
            dep.as_profile("agency-1", &submit);
            let id = std::fs::read_to_string(&w).unwrap().trim().get(6..38).unwrap().to_string();
            for (i, addr) in dep.trustees.iter().enumerate().take(3) {
                let approve = ["warrant", "approve", "--trustee", addr, "--id", &id, "--reason", "ok"];
                dep.as_profile(&format!("trustee-{i}.op-{i}"), &approve);
            }
        }
        dep
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `escrow` with `pki/<profile>.profile.toml`; it must succeed.
    fn as_profile(&self, profile: &str, args: &[&str]) -> String {
        let profile = self.path(&format!("pki/{profile}.profile.toml"));
        run(&[&["--profile", p(&profile)], args].concat())
    }

    /// `escrow open` of `<target>.warrant` as `profile`, asking every trustee and one
    /// that is down.
    fn open(&self, profile: &str, target: &str) -> Output {
        self.open_with(profile, target, &[])
    }

    /// [`Deployment::open`] in weak mode: believing the dealt epoch key's file, which
    /// the federation's trustee pins alone would refuse (no announcement).
    fn open_weak(&self, profile: &str, target: &str) -> Output {
        self.open_with(profile, target, &["--epoch-key", p(&self.path("keys/epoch-1.pub"))])
    }

    fn open_with(&self, profile: &str, target: &str, extra: &[&str]) -> Output {
        let mut c = escrow();
        c.args(["--profile", p(&self.path(&format!("pki/{profile}.profile.toml"))), "open"])
            .args(extra)
            .args(["--relay", &self.relay, "--warrant", p(&self.path(&format!("{target}.warrant")))])
            .args(["--out", p(&self.path(&format!("opened-{profile}-{target}")))]);
        for t in self.trustees.iter().map(String::as_str).chain([DOWN]) {
            c.args(["--trustee", t]);
        }
        c.output().unwrap()
    }
}

/// A dealt key refused under the agency's pins is named once, with what it costs, and
/// only for a warrant with messages of that epoch in scope.
#[test]
fn a_refused_epoch_is_named_once_and_only_when_it_matters() {
    let d = Deployment::new();
    let out = d.open("agency-1", "alice");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    let refusing: Vec<&str> = err.lines().filter(|l| l.contains("refusing epoch")).collect();
    assert_eq!(
        refusing,
        ["refusing epoch 1: no announcement signed by all its holders states this key set (1 in-scope messages of it not opened)"],
        "{err}"
    );
    // Nothing of epoch 1 in scope: nothing to say about it.
    let out = d.open("agency-1", "carol");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("refusing epoch"), "{}", text(&out));
}

/// The summary names each trustee by id and address where it knows both, the one that
/// never answered by its address with why in plain words, and counts each outcome
/// (refused, unreachable, not yet witnessed) in its own column.
#[test]
fn the_summary_names_each_trustee_and_each_outcome() {
    let d = Deployment::new();
    let out = d.open_weak("agency-1", "alice");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.contains("trustees refusing   trustees unreachable   trustees not yet witnessed"), "{stdout}");
    let row = stdout.lines().find(|l| l.trim_start_matches('│').trim_start().starts_with('1')).unwrap();
    let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
    // exported, opened, not opened, refusing, unreachable, not yet witnessed, not waited
    // for, culprits, unwitnessed
    assert_eq!(cells, ["1", "1", "0", "2", "1", "0", "0", "0", "0"], "{stdout}");
    for i in [3, 4] {
        let named = format!("trustee trustee-{i} ({}) refused: ", d.trustees[i]);
        assert!(stdout.contains(&named), "{named:?} not in {stdout}");
    }
    let down = format!(
        "trustee at {DOWN} (never answered, so its id is unknown) unreachable: Unavailable: tcp connect error: \
         connection refused: nothing listens at that address (server down, or wrong port)"
    );
    assert!(stdout.contains(&down), "{down:?} not in {stdout}");
}

/// Weak mode believes the dealt key's file only if the trustees serve exactly that key:
/// another key for the epoch is refused, naming the file, and nothing is opened.
#[test]
fn a_pinned_epoch_key_the_trustees_do_not_serve_is_refused() {
    let d = Deployment::new();
    run(&["keygen", "--out", p(&d.path("other-keys")), "--insecure-fast-kdf"]);
    let other = d.path("other-keys/epoch-1.pub");
    let out = d.open_with("agency-1", "alice", &["--epoch-key", p(&other)]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other-keys/epoch-1.pub") && err.contains("different public key for epoch 1"), "{err}");
    assert!(!d.path("opened-agency-1-alice").exists(), "nothing written");
}

/// A trustee that stops answering in the middle of an open (SIGSTOP: its sockets stay
/// open, the kernel still takes its packets, nothing reads them), while three other
/// trustees that approved answer: each share request goes on without it once the
/// others' shares suffice, every message opens, and the summary says which trustee was
/// not waited for and in how many requests. Resumed, it answers again.
#[test]
fn a_paused_trustee_is_not_waited_for() {
    use std::io::{BufRead, BufReader};
    let d = Deployment::new();
    let (key, epoch) = (d.path("alice.key"), d.path("keys/epoch-1.pub"));
    let send = ["user", "send", "--relay", &d.relay, "--key", p(&key), "--to", "bob", "--message", "more"];
    d.as_profile("user-alice", &[&send[..], &["--repeat", "29", "--epoch-key", p(&epoch)]].concat());
    let w = std::fs::read_to_string(d.path("alice.warrant")).unwrap();
    let id = w.trim().get(6..38).unwrap();
    d.as_profile("trustee-3.op-3", &["warrant", "approve", "--trustee", &d.trustees[3], "--id", id, "--reason", "ok"]);

    let mut c = escrow();
    c.args(["--profile", p(&d.path("pki/agency-1.profile.toml")), "open", "--epoch-key", p(&epoch)])
        .args(["--relay", &d.relay, "--warrant", p(&d.path("alice.warrant"))])
        .args(["--out", p(&d.path("opened-paused")), "--batch-size", "1", "--straggler-grace-ms", "300"]);
    for t in &d.trustees {
        c.args(["--trustee", t]);
    }
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let paused = d.processes[0].0.id().to_string();
    let signal = |sig: &str| assert!(Command::new("kill").args([sig, &paused]).status().unwrap().success());
    // Once the first request is answered, trustee-0 stops.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("opened or tried 1/30") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "open ended before its first request: {seen}");
        seen.push_str(&line);
    }
    signal("-STOP");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    signal("-CONT");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{seen}{rest}");
    assert_eq!(stdout.matches("opened #").count(), 30, "{stdout}");
    let named = format!("trustee trustee-0 ({}) not waited for in ", d.trustees[0]);
    let line = stdout.lines().find(|l| l.starts_with(&named)).unwrap_or_else(|| panic!("{named:?} not in {stdout}"));
    let n: usize = line[named.len()..].split(' ').next().unwrap().parse().unwrap();
    // Requests 2 to 30 met a stopped trustee-0 (one or two may have been answered
    // before the signal landed).
    assert!((27..=29).contains(&n), "{line}");
    assert!(
        line.contains(" of 30 share requests: the others' shares sufficed; it had not answered 300 ms later"),
        "{line}"
    );
    let row = stdout.lines().find(|l| l.trim_start_matches('│').trim_start().starts_with("30")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
    // trustee-4 never approved: it refuses, and is not waited for either.
    assert_eq!(cells, ["30", "30", "0", "1", "0", "0", "1", "0", "0"], "{stdout}");

    // Resumed, trustee-0 answers again: nobody is left out.
    let again = d.open_weak("agency-1", "alice");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success() && !stdout.contains("not waited for in"), "{}", text(&again));
}
