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
        Self::build(false)
    }

    /// With `domains`: the five trustees are escrow domain "uk"'s (refusing foreign
    /// targets), the relay serves "uk" and "us" under any-of, and ann (certified in
    /// "uk") sends to sam ("us") instead of alice to bob; the warrants are on ann and
    /// on sam.
    fn build(domains: bool) -> Self {
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
                .chain(if domains { vec!["--domain", "uk", "--foreign-targets", "refuse"] } else { vec![] })
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
        run(&["keygen", "--out", p(&path("us-keys")), "--insecure-fast-kdf"]);
        let (uk, us) = (format!("uk={}", ps("keys/epoch-1.pub")), format!("us={}", ps("us-keys/epoch-1.pub")));
        let rule = ["--rule", "any-of", "--domain", &uk, "--domain", &us].map(String::from);
        let relay_args = [&relay_args[..], if domains { &rule[..] } else { &[] }].concat();
        let relay = spawn("relay", relay_args);
        let dep = Deployment { dir, trustees, relay, processes };

        let users = if domains { [("ann", Some("uk")), ("sam", Some("us"))] } else { [("alice", None), ("bob", None)] };
        for (who, home) in users {
            if let Some(home) = home {
                let pki = dep.path("pki");
                run(&["pki", "issue", p(&pki), "--role", "user", "--id", who, "--home", home, "--insecure-fast-kdf"]);
            }
            let key = dep.path(&format!("{who}.key"));
            run(&["user", "keygen", "--id", who, "--out", p(&key), "--insecure-fast-kdf"]);
            dep.as_profile(&format!("user-{who}"), &["user", "register", "--relay", &dep.relay, "--key", p(&key)]);
        }
        let [(sender, _), (recipient, _)] = users;
        let (key, epoch) = (dep.path(&format!("{sender}.key")), dep.path("keys/epoch-1.pub"));
        let relay = dep.relay.clone();
        let send = ["user", "send", "--relay", &relay, "--key", p(&key), "--to", recipient, "--message", "hi"];
        let flags: Vec<&str> =
            if domains { rule.iter().map(String::as_str).collect() } else { vec!["--epoch-key", p(&epoch)] };
        dep.as_profile(&format!("user-{sender}"), &[&send[..], &flags[..]].concat());

        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (from, to) = ((now - 86_400).to_string(), (now + 3_600).to_string());
        let targets = if domains { [sender, recipient] } else { ["alice", "carol"] };
        for target in targets {
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
    // exported, opened, not opened, refusing, unreachable, not yet witnessed, (not
    // needed: whether a refusal came before the three approving trustees' shares is
    // timing), culprits, unwitnessed
    assert_eq!(cells[..6], ["1", "1", "0", "2", "1", "0"], "{stdout}");
    assert_eq!(cells[7..], ["0", "0"], "{stdout}");
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
/// trustees that approved answer: each share request is opened with the others'
/// shares without waiting for it, every message opens, and the summary says which
/// trustee was not needed and in how many requests. Resumed, it answers again.
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
        .args(["--out", p(&d.path("opened-paused")), "--batch-size", "1"]);
    for t in &d.trustees {
        c.args(["--trustee", t]);
    }
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let paused = d.processes[0].0.id().to_string();
    let signal = |sig: &str| assert!(Command::new("kill").args([sig, &paused]).status().unwrap().success());
    // Once the first request is answered, trustee-0 stops.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("opened or tried 1/") {
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
    let summary = std::fs::read_to_string(d.path("opened-paused/summary.txt")).unwrap();
    assert_eq!(summary.matches("opened #").count(), 30, "{summary}");
    assert!(stdout.contains("30 opened: plaintexts and summary.txt in "), "{stdout}");
    let named = format!("trustee trustee-0 ({}) not needed in ", d.trustees[0]);
    let line = stdout.lines().find(|l| l.starts_with(&named)).unwrap_or_else(|| panic!("{named:?} not in {stdout}"));
    let n: usize = line[named.len()..].split(' ').next().unwrap().parse().unwrap();
    // Most of requests 2 to 30 met a stopped trustee-0: the requests in flight when
    // the signal landed (up to two batches of the pipeline, and a few more while it
    // was being sent) may have been answered; the first may have been opened before
    // trustee-0 answered it.
    assert!((20..=30).contains(&n), "{line}");
    assert!(line.contains(" of 30 share requests: the others' shares opened them first"), "{line}");
    let row = stdout.lines().find(|l| l.trim_start_matches('│').trim_start().starts_with("30")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
    // trustee-4 never approved: it refuses. Besides trustee-0, any other trustee may be
    // not needed in a request or two: before the pause landed, trustee-0's shares could
    // open a request before another's answer came (or trustee-4's refusal could be
    // cancelled), and a late answer is not examined.
    assert_eq!(cells[..6], ["30", "30", "0", "1", "0", "0"], "{stdout}");
    assert!(["1", "2", "3", "4"].contains(&cells[6]), "{stdout}");
    assert_eq!(cells[7..], ["0", "0"], "{stdout}");

    // Resumed, trustee-0 answers again, and everything opens.
    let again = d.open_weak("agency-1", "alice");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success() && stdout.contains("30 opened: "), "{}", text(&again));

    // Checking every trustee: every answer is examined, so nobody is "not needed".
    let epoch = ["--epoch-key", p(&epoch)];
    let every = d.open_with("agency-1", "alice", &[&epoch[..], &["--check-every-trustee", "30"]].concat());
    let stdout = String::from_utf8_lossy(&every.stdout);
    assert!(every.status.success() && stdout.contains("30 opened: "), "{}", text(&every));
    assert!(!stdout.contains("not needed in"), "{stdout}");
    // A limit of 0 s is refused before anything runs.
    let zero = d.open_with("agency-1", "alice", &[&epoch[..], &["--check-every-trustee", "0"]].concat());
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--check-every-trustee"), "{}", text(&zero));
}

/// One line of JSON on stdout: the object.
fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {}", text(out));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// `court sign --json`: the warrant's id (the one the signed file carries), its terms
/// and where it was written, as one JSON object.
#[test]
fn court_sign_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(&["court", "keygen", "--court", "high-court", "--out", p(&d.join("courts")), "--insecure-fast-kdf"]);
    let w = d.join("w.hex");
    let out = escrow()
        .args(["court", "sign", "--key", p(&d.join("courts/high-court.key")), "--agency", "agency-1"])
        .args(["--target", "alice", "--target", "bob", "--from", "100", "--to", "200", "--issued-at", "150"])
        .args(["--valid-days", "2", "--case", "R v. A", "--basis", "s. 1", "--out", p(&w), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let v = json(&out);
    let id = std::fs::read_to_string(&w).unwrap().trim().get(6..38).unwrap().to_string();
    assert_eq!(v["warrant_id"], id.as_str(), "{v}");
    assert_eq!(v["court"], "high-court", "{v}");
    assert_eq!(v["agency"], "agency-1", "{v}");
    assert_eq!(v["targets"], serde_json::json!(["alice", "bob"]), "{v}");
    assert_eq!((v["from"].as_u64(), v["to"].as_u64()), (Some(100), Some(200)), "{v}");
    assert_eq!((v["issued_at"].as_u64(), v["valid_until"].as_u64()), (Some(150), Some(150 + 2 * 86_400)), "{v}");
    assert_eq!(v["case"], "R v. A", "{v}");
    assert_eq!(v["out"], p(&w), "{v}");
}

/// `open --json`: the report as one JSON object (what was opened, by whom it was
/// refused or not reached, each trustee by id and address), and on stderr a JSON line
/// per share request answered.
#[test]
fn open_prints_json() {
    let d = Deployment::new();
    let out = d.open_with("agency-1", "alice", &["--epoch-key", p(&d.path("keys/epoch-1.pub")), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["in_scope"], 1, "{v}");
    assert_eq!(v["opened"]["count"], 1, "{v}");
    let m = &v["opened"]["messages"][0];
    assert_eq!(m["sender"], "alice", "{v}");
    assert_eq!(m["recipients"], serde_json::json!(["bob"]), "{v}");
    assert!(m["seq"].as_u64().unwrap() >= 1 && m["timestamp"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["not_opened"], serde_json::json!([]), "{v}");
    assert_eq!(v["share_requests"], 1, "{v}");
    let named =
        |t: &serde_json::Value| (t["trustee"].as_str().map(str::to_owned), t["addr"].as_str().unwrap().to_owned());
    let refusing: Vec<_> = v["refusing"].as_array().unwrap().iter().map(named).collect();
    let want: Vec<_> = [3, 4].iter().map(|&i| (Some(format!("trustee-{i}")), d.trustees[i].clone())).collect();
    assert_eq!(refusing, want, "{v}");
    let unreachable: Vec<_> = v["unreachable"].as_array().unwrap().iter().map(named).collect();
    assert_eq!(unreachable, [(None, DOWN.to_string())], "{v}");
    let errors = v["trustee_errors"].as_array().unwrap();
    let down = errors.iter().find(|e| e["addr"] == DOWN).unwrap();
    assert_eq!((down["failure"].as_str(), down["code"].as_str()), (Some("unreachable"), Some("Unavailable")), "{v}");
    assert!(down["trustee"].is_null() && down["requests"] == 1, "{v}");
    assert!(down["message"].as_str().unwrap().contains("nothing listens at that address"), "{v}");
    assert!(errors.iter().filter(|e| e["failure"] == "refused").count() >= 2, "{v}");
    assert!(v["culprits"] == serde_json::json!([]) && v["unwitnessed"] == serde_json::json!([]), "{v}");
    assert_eq!(v["out"], p(&d.path("opened-agency-1-alice")), "{v}");
    // The plaintext and summary are written as without --json.
    assert_eq!(
        std::fs::read_to_string(d.path(&format!("opened-agency-1-alice/{:08}.txt", m["seq"].as_u64().unwrap())))
            .unwrap(),
        "hi"
    );
    // Progress: JSON lines on stderr, the last with every message done.
    let err = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = &progress.last().unwrap_or_else(|| panic!("no progress line: {err}"))["progress"];
    assert_eq!((last["done"].as_u64(), last["exported"].as_u64()), (Some(1), Some(1)), "{err}");
    assert!(!err.contains("opened or tried"), "{err}");
}

/// `open --day-mode` on an epoch without the day mode (a dealt key, so alice's client
/// added no day fields): the message is named as sealed for that reason, no trustee is
/// asked for a day key, and the exit says a message was not opened. The day mode
/// takes its request sizes from the trustees, so `--batch-size` with it is refused
/// before anything runs.
#[test]
fn the_day_mode_names_messages_without_day_fields_and_asks_no_trustee() {
    let d = Deployment::new();
    let key = d.path("keys/epoch-1.pub");
    let epoch = ["--epoch-key", p(&key)];
    let out = d.open_with("agency-1", "alice", &[&epoch[..], &["--day-mode", "--json"]].concat());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 in-scope messages could not be opened"), "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["mode"], "day", "{v}");
    assert_eq!((v["in_scope"].as_u64(), v["opened"]["count"].as_u64()), (Some(1), Some(0)), "{v}");
    assert_eq!(v["share_requests"], 0, "{v}");
    assert_eq!(v["day_keys"], serde_json::json!({"combined": 0, "key_requests": 0, "failed": []}), "{v}");
    let seq = v["not_opened"][0]["seq"].as_u64().unwrap();
    assert_eq!(v["not_opened"], serde_json::json!([{"seq": seq, "why": "the envelope carries no day fields"}]), "{v}");
    // No trustee was asked: none refused; only the one that is down is named.
    assert_eq!(v["refusing"], serde_json::json!([]), "{v}");
    assert_eq!(v["unreachable"].as_array().unwrap().len(), 1, "{v}");
    let summary = std::fs::read_to_string(d.path("opened-agency-1-alice/summary.txt")).unwrap();
    assert!(summary.contains(&format!("sealed #{seq}: the envelope carries no day fields")), "{summary}");
    // The last progress line: the export is complete, its one message tried.
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().rfind(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no progress line: {err}"));
    let last: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(last["progress"], serde_json::json!({"done": 1, "exported": 1, "export_complete": true}), "{err}");

    let both = d.open_with("agency-1", "alice", &[&epoch[..], &["--day-mode", "--batch-size", "5"]].concat());
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    assert!(String::from_utf8_lossy(&both.stderr).contains("--batch-size"), "{}", text(&both));
}

/// `escrow open --domain uk` in a deployment of escrow domains: the UK's trustees open
/// ann's message to sam (a US user) through its UK field; without `--domain` the
/// agency cannot tell its field and says so; a warrant on sam is refused by the UK's
/// trustees, whose policy refuses foreign targets; a bad domain is a usage error.
#[test]
fn an_agency_opens_through_its_own_domain_s_field() {
    let d = Deployment::build(true);
    let key = d.path("keys/epoch-1.pub");
    let weak = ["--epoch-key", p(&key)];
    let out = d.open_with("agency-1", "ann", &[&weak[..], &["--domain", "uk"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let opened = std::fs::read_dir(d.path("opened-agency-1-ann")).unwrap().count();
    assert_eq!(opened, 2, "one message and summary.txt: {}", text(&out));
    let out = d.open_with("agency-1", "ann", &weak);
    assert!(!out.status.success() && text(&out).contains("set to no domain"), "{}", text(&out));
    let out = d.open_with("agency-1", "sam", &[&weak[..], &["--domain", "uk"]].concat());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("target sam lives in domain us"), "{}", text(&out));
    let out = d.open_with("agency-1", "ann", &[&weak[..], &["--domain", "U K"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--domain \"U K\""), "{}", text(&out));
}
