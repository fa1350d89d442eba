//! Key ceremonies among real trustee processes with one of them paused (SIGSTOP, what
//! `docker pause` does: its sockets stay open, it neither reads nor ticks) at moments
//! swept across the ceremony, for longer than every deadline, then resumed.
//!
//! Whatever the moment, the outcome must not be a split install that nobody sees:
//! either every trustee installed the same announcement, or none did, or `dkg execute
//! --wait` fails and `dkg status --all` says SPLIT INSTALL. And a second fresh
//! ceremony for an installed epoch is refused while the installed key stays.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{escrow_as, p, run_as, serving, text, Killed};

const PASS: &str = "ceremony faults passphrase";
const TRUSTEES: usize = 3;
const PHASE_MS: u64 = 1000;

fn escrow() -> Command {
    escrow_as(PASS)
}

struct Cluster {
    dir: tempfile::TempDir,
    addrs: Vec<String>,
    children: Vec<Killed>,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        run_as(PASS, &["pki", "init", p(&d.join("pki")), "--trustees", "3", "--insecure-fast-kdf"]);
        let mut addrs = Vec::new();
        let mut children = Vec::new();
        for i in 0..TRUSTEES {
            let (id, policy) = (format!("trustee-{i}"), d.join(format!("policy-{i}.toml")));
            run_as(PASS, &["trustee", "policy", "--id", &id, "--auto-accept-ceremonies", "--out", p(&policy)]);
            let mut cmd = escrow();
            cmd.args(["--profile", p(&d.join(format!("pki/trustee-{i}.profile.toml")))])
                .args(["trustee", "serve", "--data-dir", p(&d.join(format!("t{i}")))])
                .args(["--policy", p(&d.join(format!("policy-{i}.toml")))]);
            let (child, addr) = serving(cmd, &d.join(format!("t{i}.addr")), &format!("trustee-{i}"));
            addrs.push(addr);
            children.push(child);
        }
        Cluster { dir, addrs, children }
    }

    fn op(&self, i: usize) -> Command {
        let mut c = escrow();
        c.args(["--profile", p(&self.dir.path().join(format!("pki/trustee-{i}.op-{i}.profile.toml")))]);
        c
    }

    fn run_op(&self, i: usize, args: &[&str]) -> Output {
        self.op(i).args(args).output().unwrap()
    }

    /// Proposes a fresh key for `epoch` among all trustees (every policy auto-accepts)
    /// and waits until the proposer's trustee is ready to execute.
    fn propose_ready(&self, epoch: u64) {
        let destroy = (now() + 86_400).to_string();
        let epoch = epoch.to_string();
        let phase = PHASE_MS.to_string();
        let mut args = vec!["dkg", "propose", "--trustee", &self.addrs[0], "--epoch", &epoch, "--threshold", "1"];
        args.extend(["--destroy-at", &destroy, "--phase-timeout-ms", &phase]);
        let players: Vec<String> = self.addrs.iter().enumerate().map(|(i, a)| format!("trustee-{i}={a}")).collect();
        for pl in &players {
            args.extend(["--player", pl.as_str()]);
        }
        let out = self.run_op(0, &args);
        assert!(out.status.success(), "{}", text(&out));
        let t0 = Instant::now();
        while !text(&self.run_op(0, &["dkg", "status", "--trustee", &self.addrs[0]])).contains(": ready") {
            assert!(t0.elapsed() < Duration::from_secs(30), "never ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where the latest ceremony stands at trustee `i`, as its own operator sees it.
    fn phase(&self, i: usize) -> String {
        let out = text(&self.run_op(i, &["dkg", "status", "--trustee", &self.addrs[i]]));
        let first = out.lines().next().unwrap_or_default().to_string();
        first.rsplit(": ").next().unwrap_or_default().trim().to_string()
    }

    fn signal(&self, i: usize, sig: &str) {
        let pid = self.children[i].0.id().to_string();
        let ok = Command::new("kill").args([sig, &pid]).status().unwrap().success();
        assert!(ok, "kill {sig} {pid}");
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Waits for a child's output for at most `limit`.
fn output_within(mut child: Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("no exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_trustee_paused_at_any_moment_of_a_ceremony_never_leaves_an_unseen_split() {
    let c = Cluster::start();
    let mut outcomes = Vec::new();
    // From the execute: before dealing is done, around complaints, around the
    // agreement, and after the end. The pause outlasts every deadline (4 phases).
    for (k, offset_ms) in [0u64, 120, 300, 2500].into_iter().enumerate() {
        let epoch = 10 + k as u64;
        c.propose_ready(epoch);
        let execute = c
            .op(0)
            .args(["dkg", "execute", "--trustee", &c.addrs[0], "--wait", "--peer-wait-secs", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(offset_ms));
        c.signal(2, "-STOP");
        // Past the others' agreement deadline (4 phases) and the 2.2 s they then spend
        // asking their peers before they abort.
        std::thread::sleep(Duration::from_millis(8 * PHASE_MS));
        c.signal(2, "-CONT");
        let out = output_within(execute, Duration::from_secs(90));
        let said = text(&out);

        // Each trustee's own account, once all have ended.
        let t0 = Instant::now();
        let phases = loop {
            let phases: Vec<String> = (0..TRUSTEES).map(|i| c.phase(i)).collect();
            if phases.iter().all(|p| p == "installed" || p == "aborted") {
                break phases;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "epoch {epoch}: not all ended: {phases:?}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let installed = phases.iter().filter(|p| *p == "installed").count();
        let all = c.run_op(1, &["dkg", "status", "--trustee", &c.addrs[1], "--all"]);
        match installed {
            n if n == TRUSTEES => {
                assert!(out.status.success(), "epoch {epoch}: all installed but --wait failed: {said}");
                assert!(all.status.success() && text(&all).contains("every participant installed"), "{}", text(&all));
            }
            0 => {
                assert!(!out.status.success(), "epoch {epoch}: nothing installed but --wait succeeded: {said}");
                assert!(all.status.success() && text(&all).contains("nothing installed"), "{}", text(&all));
            }
            _ => {
                assert!(!out.status.success(), "epoch {epoch}: split {phases:?} but --wait succeeded: {said}");
                assert!(said.contains("SPLIT INSTALL"), "epoch {epoch}: {said}");
                assert!(!all.status.success() && text(&all).contains("SPLIT INSTALL"), "{}", text(&all));
            }
        }
        outcomes.push((offset_ms, phases));
    }
    eprintln!("pause offsets (ms after execute) and outcomes: {outcomes:?}");
    // The sweep is not vacuous: paused from the start, trustee-2 signs nothing before
    // the others' deadline, so they abort. (Trustee-2 itself may then install on the
    // agreements waiting for it, when it takes them before their aborts: a split, which
    // the checks above require to be flagged.)
    assert_eq!(outcomes[0].1[..2], ["aborted", "aborted"], "{outcomes:?}");
}

/// The first case with real processes: a second fresh ceremony for an epoch
/// the trustees installed is refused, and the installed key set is unchanged.
#[test]
fn a_second_fresh_ceremony_for_an_installed_epoch_is_refused_and_the_key_stays() {
    let c = Cluster::start();
    c.propose_ready(2);
    let out = c.run_op(0, &["dkg", "execute", "--trustee", &c.addrs[0], "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let fetch = |i: usize, name: &str| {
        let file = c.dir.path().join(name);
        let auditor = c.dir.path().join("pki/auditor-1.profile.toml");
        run_as(
            PASS,
            &["--profile", p(&auditor), "epoch", "fetch", "--trustee", &c.addrs[i], "--epoch", "2", "--out", p(&file)],
        );
        std::fs::read_to_string(file).unwrap()
    };
    let before: Vec<String> = (0..TRUSTEES).map(|i| fetch(i, &format!("before-{i}"))).collect();

    let destroy = (now() + 86_400).to_string();
    let players: Vec<String> = c.addrs.iter().enumerate().map(|(i, a)| format!("trustee-{i}={a}")).collect();
    let mut args = vec!["dkg", "propose", "--trustee", &c.addrs[0], "--epoch", "2", "--threshold", "1"];
    args.extend(["--destroy-at", &destroy]);
    for pl in &players {
        args.extend(["--player", pl.as_str()]);
    }
    let again = c.run_op(0, &args);
    assert!(!again.status.success(), "a second fresh ceremony for epoch 2 was proposed: {}", text(&again));
    assert!(text(&again).contains("epoch 2 is installed at trustee-0"), "{}", text(&again));
    let after: Vec<String> = (0..TRUSTEES).map(|i| fetch(i, &format!("after-{i}"))).collect();
    assert_eq!(before, after, "the installed announcement changed");
}

/// The stranded trustee: paused (cut off) while the ceremony waits for the
/// execute, past the 30 s its peers retry their messages for, while the proposer's
/// operator aborts. Back, it does not stay `ready` (refusing every new proposal for
/// the rest of the 10-minute accept window): it asks its peers, learns of the abort
/// and ends the ceremony too.
#[test]
fn a_trustee_cut_off_past_the_retries_learns_the_abort_when_it_is_back() {
    let c = Cluster::start();
    c.propose_ready(3);
    while c.phase(2) != "ready" {
        std::thread::sleep(Duration::from_millis(50));
    }
    c.signal(2, "-STOP");
    let out = c.run_op(0, &["dkg", "abort", "--trustee", &c.addrs[0], "--reason", "not today"]);
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_secs(33));
    c.signal(2, "-CONT");
    let back = Instant::now();
    while c.phase(2) != "aborted" {
        assert!(back.elapsed() < Duration::from_secs(20), "trustee-2 still {}", c.phase(2));
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = text(&c.run_op(2, &["dkg", "status", "--trustee", &c.addrs[2]]));
    assert!(status.contains("aborted: trustee-0 aborted: aborted by the operator: not today"), "{status}");
    eprintln!("trustee-2 learned the abort {:?} after it was resumed", back.elapsed());
    // And takes part in the next ceremony.
    c.propose_ready(3);
    let out = c.run_op(0, &["dkg", "execute", "--trustee", &c.addrs[0], "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// One line of JSON on stdout: the object.
fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {}", text(out));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// `dkg execute --wait`, `dkg status` (with and without `--all`) and `epoch verify`
/// with `--json`: what their text says, as one JSON object each, with every
/// participant's standing and the verdicts as fields; a holder that does not serve the
/// announcement is named in the object, and the command still fails.
#[test]
fn ceremony_commands_print_json() {
    let c = Cluster::start();
    c.propose_ready(2);
    let out = c.run_op(0, &["dkg", "execute", "--trustee", &c.addrs[0], "--wait", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let executed = json(&out);
    // One key per field: the ceremony's participants (ids) and their standings apart.
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches("\"participants\":").count(), 1, "{executed}");
    assert_eq!(executed["phase"], "installed", "{executed}");
    assert_eq!(executed["epoch"], 2, "{executed}");
    assert_eq!(executed["trustee"], "trustee-0", "{executed}");
    assert_eq!(executed["split"], false, "{executed}");
    assert_eq!(executed["verdict"]["outcome"], "installed", "{executed}");
    let hash = executed["verdict"]["announcement_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64, "{executed}");
    assert_eq!(executed["participants"], serde_json::json!(["trustee-0", "trustee-1", "trustee-2"]), "{executed}");
    let standings = executed["standings"].as_array().unwrap();
    assert_eq!(standings.len(), TRUSTEES, "{executed}");
    for (i, s) in standings.iter().enumerate() {
        assert_eq!(s["trustee"], format!("trustee-{i}").as_str(), "{executed}");
        assert_eq!(s["addr"], c.addrs[i].as_str(), "{executed}");
        assert_eq!(s["state"], "installed", "{executed}");
        assert_eq!(s["announcement_sha256"], hash.as_str(), "{executed}");
        assert!(s["behind"].is_null() && s["remedy"].is_null(), "{executed}");
    }

    let out = c.run_op(1, &["dkg", "status", "--trustee", &c.addrs[1], "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let status = json(&out);
    assert_eq!(status["trustee"], "trustee-1", "{status}");
    assert_eq!(status["phase"], "installed", "{status}");
    assert_eq!(status["ceremony_id"], executed["ceremony_id"], "{status}");
    assert_eq!(status["plan"], "fresh", "{status}");
    assert_eq!(status["proposer"], "trustee-0", "{status}");
    assert_eq!(status["participants"], serde_json::json!(["trustee-0", "trustee-1", "trustee-2"]), "{status}");
    assert!(status["abort_reason"].is_null() && status["announcement"].is_string(), "{status}");
    assert!(!status["steps"].as_array().unwrap().is_empty(), "{status}");
    // The text says the same.
    let shown = text(&c.run_op(1, &["dkg", "status", "--trustee", &c.addrs[1]]));
    let first = format!("ceremony {} (fresh, epoch 2): installed", status["ceremony_id"].as_str().unwrap());
    assert!(shown.starts_with(&first), "{shown}");

    let out = c.run_op(2, &["dkg", "status", "--trustee", &c.addrs[2], "--all", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let all = json(&out);
    assert_eq!(all["trustee"], "trustee-2", "{all}");
    assert_eq!(all["split"], false, "{all}");
    assert_eq!(all["verdict"], executed["verdict"], "{all}");
    assert_eq!(all["standings"].as_array().unwrap().len(), TRUSTEES, "{all}");

    let auditor = c.dir.path().join("pki/auditor-1.profile.toml");
    let announcement = c.dir.path().join("epoch-2.announcement");
    run_as(
        PASS,
        &[
            "--profile",
            p(&auditor),
            "epoch",
            "fetch",
            "--trustee",
            &c.addrs[2],
            "--epoch",
            "2",
            "--out",
            p(&announcement),
        ],
    );
    let verify = |holders: &[String]| {
        let mut cmd = escrow();
        cmd.args(["--profile", p(&auditor), "epoch", "verify", p(&announcement), "--json"]);
        for h in holders {
            cmd.args(["--holder", h]);
        }
        cmd.output().unwrap()
    };
    let out = verify(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let unchecked = json(&out);
    assert_eq!(unchecked["epoch"], 2, "{unchecked}");
    assert_eq!(unchecked["generation"], 0, "{unchecked}");
    assert_eq!(unchecked["holders"], serde_json::json!(["trustee-0", "trustee-1", "trustee-2"]), "{unchecked}");
    assert!(unchecked["every_holder_installed"].is_null() && unchecked["holder_checks"].is_null(), "{unchecked}");
    let mut holders: Vec<String> = c.addrs.iter().enumerate().map(|(i, a)| format!("trustee-{i}={a}")).collect();
    let out = verify(&holders);
    assert!(out.status.success(), "{}", text(&out));
    let checked = json(&out);
    assert_eq!(checked["every_holder_installed"], true, "{checked}");
    let checks = checked["holder_checks"].as_array().unwrap();
    assert!(checks.iter().all(|h| h["installed"] == true && h["problem"].is_null()), "{checked}");
    // trustee-2 named where nothing listens: not installed there, said in the object,
    // and the command fails.
    holders[2] = "trustee-2=127.0.0.1:1".into();
    let out = verify(&holders);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let split = json(&out);
    assert_eq!(split["every_holder_installed"], false, "{split}");
    assert_eq!(split["holder_checks"][2]["installed"], false, "{split}");
    assert!(split["holder_checks"][2]["problem"].as_str().unwrap().starts_with("unreachable: "), "{split}");
}
