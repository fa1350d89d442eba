//! `escrow trustee serve` and `escrow relay serve` as an operator starts them: every
//! start-up precondition is checked before anything is created or written, and one
//! data directory serves one process. Then the commands run against a served trustee
//! (their exit status), a key ceremony driven by `escrow dkg` and `escrow epoch`,
//! `escrow reseal`, and what the service writes to its log file.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASS: &str = "serve test passphrase";

fn escrow() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_escrow"));
    c.env("ESCROW_PASSPHRASE", PASS).env_remove("ESCROW_PROFILE").env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> String {
    let out = escrow().args(args).output().expect("escrow runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "escrow {args:?}: {text}");
    text
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A deployment's files: certificates, a dealt epoch, a court, a policy per trustee.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        run(&["pki", "init", p(&d.join("pki")), "--trustees", "5", "--insecure-fast-kdf"]);
        run(&["keygen", "--out", p(&d.join("keys")), "--insecure-fast-kdf"]);
        run(&["court", "keygen", "--court", "high-court", "--out", p(&d.join("courts")), "--insecure-fast-kdf"]);
        for i in 0..5 {
            let (id, out) = (format!("trustee-{i}"), d.join(format!("policy-{i}.toml")));
            run(&["trustee", "policy", "--id", &id, "--court", p(&d.join("courts/high-court.pub"))]
                .into_iter()
                .chain(["--max-window-secs", "604800", "--max-fields-per-warrant", "1000"])
                .chain(["--agency-quota", "agency-1=1000", "--out", p(&out)])
                .collect::<Vec<_>>());
        }
        Files { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `escrow trustee serve` with trustee `policy`'s policy, `cert`'s certificate and
    /// `share`'s key share, on `data` (relative to the deployment).
    fn trustee(&self, policy: u16, cert: u16, share: u16, data: &str) -> Child {
        self.trustee_with(policy, cert, share, data, &[])
    }

    /// [`Files::trustee`] with `extra` flags for `trustee serve`.
    fn trustee_with(&self, policy: u16, cert: u16, share: u16, data: &str, extra: &[&str]) -> Child {
        let addr = self.path(&format!("{data}.addr"));
        let _ = std::fs::remove_file(&addr);
        escrow()
            .args(["--profile", p(&self.path(&format!("pki/trustee-{cert}.profile.toml")))])
            .args(["trustee", "serve", "--data-dir", p(&self.path(data))])
            .args(["--policy", p(&self.path(&format!("policy-{policy}.toml")))])
            .args(["--epoch-key", p(&self.path("keys/epoch-1.pub"))])
            .args(["--key-share", p(&self.path(&format!("keys/trustee-{share}.share")))])
            .args(["--addr-file", p(&addr)])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("escrow trustee serve starts")
    }

    /// Waits until `data`'s address file appears (the service is up).
    fn wait_up(&self, data: &str, child: &mut Child) {
        common::wait_listening(child, &self.path(&format!("{data}.addr")), "the trustee");
    }
}

/// The exit of a start that must be refused, within a bound, with its stderr.
fn refused(child: Child) -> String {
    let mut child = child;
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out: Output = child.wait_with_output().expect("output");
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(!status.success(), "the start was not refused: {err}");
            return err;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the start was neither refused nor ready after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many entries the trustee database under `db`'s directory holds.
fn log_rows(db: &Path) -> usize {
    escrow_trustee::tamper::log_entries(db.parent().expect("data dir")).expect("log").len()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_process_on_one_data_directory_is_refused_naming_the_first() {
    let f = Files::new();
    let mut first = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut first);
    let first = Killed(first);
    let err = refused(f.trustee(0, 0, 0, "t0"));
    let want = format!("data directory {} is in use by another process (pid {})", p(&f.path("t0")), first.0.id());
    assert!(err.contains(&want), "{err}");
    // SIGKILL frees the lock with the process: a restart serves.
    drop(first);
    let mut again = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut again);
    drop(Killed(again));
}

#[test]
fn a_refused_start_creates_and_writes_nothing() {
    let f = Files::new();
    // trustee-4's policy with trustee-3's certificate: nothing is created.
    let err = refused(f.trustee(4, 3, 4, "t4"));
    assert!(
        err.contains("the certificate names trustee trustee-3, but the policy says this is trustee trustee-4"),
        "{err}"
    );
    assert!(!f.path("t4").exists(), "the refused start created its data directory");
    assert!(!f.path("t4.addr").exists());

    // A policy that does not parse is named.
    std::fs::write(f.path("policy-bad.toml"), "trustee_id = \"trustee-4\"\napproval = \"sometimes\"\n").unwrap();
    let out = escrow()
        .args(["--profile", p(&f.path("pki/trustee-4.profile.toml")), "trustee", "serve"])
        .args(["--data-dir", p(&f.path("t4")), "--policy", p(&f.path("policy-bad.toml"))])
        .args(["--epoch-key", p(&f.path("keys/epoch-1.pub")), "--key-share", p(&f.path("keys/trustee-4.share"))])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains(&format!("error: trustee did not start: {}: policy file:", p(&f.path("policy-bad.toml")))),
        "{err}"
    );
    assert!(!f.path("t4").exists());

    // trustee-4 installs its own share, then is started with trustee-3's file.
    let mut t4 = f.trustee(4, 4, 4, "t4");
    f.wait_up("t4", &mut t4);
    drop(Killed(t4));
    let db = f.path("t4/trustee.db");
    let rows = log_rows(&db);
    let key = std::fs::read(f.path("t4/log.key")).unwrap();
    let err = refused(f.trustee(4, 4, 3, "t4"));
    assert!(err.contains("epoch 1: this trustee installed key share index 4, but was started with index 3"), "{err}");
    assert_eq!(log_rows(&db), rows, "the refused start wrote to the log");
    assert_eq!(std::fs::read(f.path("t4/log.key")).unwrap(), key);
    // The lock file the served start left stays; one the refused start made itself (a
    // directory restored without it) goes with the refusal, no stale pid left in it.
    assert!(f.path("t4/LOCK").exists());
    std::fs::remove_file(f.path("t4/LOCK")).unwrap();
    let err = refused(f.trustee(4, 4, 3, "t4"));
    assert!(err.contains("but was started with index 3"), "{err}");
    assert!(!f.path("t4/LOCK").exists(), "the refused start left its lock file behind");
    assert_eq!(log_rows(&db), rows);

    // Another trustee's log key in this data directory is refused too.
    let mut t3 = f.trustee(3, 3, 3, "t3");
    f.wait_up("t3", &mut t3);
    drop(Killed(t3));
    std::fs::copy(f.path("t3/log.key"), f.path("t4/log.key")).unwrap();
    let err = refused(f.trustee(4, 4, 4, "t4"));
    assert!(
        err.contains(
            "this log key signs as \"escrow-trustee/trustee-3\", but the policy says this is trustee trustee-4"
        ),
        "{err}"
    );
    assert_eq!(log_rows(&db), rows);
}

#[test]
fn a_busy_metrics_port_is_refused_before_anything_is_created() {
    let f = Files::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = busy.local_addr().unwrap().to_string();
    let metrics_file = f.path("t0.metrics.addr");
    let extra = ["--metrics-listen", taken.as_str(), "--metrics-addr-file", p(&metrics_file)];
    let err = refused(f.trustee_with(0, 0, 0, "t0", &extra));
    assert!(err.contains(&format!("error: metrics did not start: cannot listen on {taken}:")), "{err}");
    assert!(!f.path("t0").exists(), "the refused start created its data directory");
    assert!(!f.path("t0.addr").exists() && !metrics_file.exists());

    // A metrics address file without an endpoint to write is a usage error.
    let out = escrow()
        .args(["--profile", p(&f.path("pki/trustee-0.profile.toml")), "trustee", "serve"])
        .args(["--data-dir", p(&f.path("t0")), "--policy", p(&f.path("policy-0.toml"))])
        .args(["--epoch-key", p(&f.path("keys/epoch-1.pub")), "--key-share", p(&f.path("keys/trustee-0.share"))])
        .args(["--metrics-addr-file", p(&metrics_file)])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--metrics-listen"), "{err}");
    assert!(!f.path("t0").exists());

    // With a free port, the endpoint's address is written and it serves.
    let extra = ["--metrics-listen", "127.0.0.1:0", "--metrics-addr-file", p(&metrics_file)];
    let mut t0 = f.trustee_with(0, 0, 0, "t0", &extra);
    f.wait_up("t0", &mut t0);
    let t0 = Killed(t0);
    let addr = std::fs::read_to_string(&metrics_file).unwrap();
    assert_ne!(addr.trim(), taken);
    let mut s = std::net::TcpStream::connect(addr.trim()).unwrap();
    std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("escrow_epochs_held 1"), "{text}");
    drop(t0);
    drop(busy);
}

#[test]
fn a_relay_with_another_role_s_certificate_creates_nothing() {
    let f = Files::new();
    let out = escrow()
        .args(["--profile", p(&f.path("pki/trustee-0.profile.toml")), "relay", "serve"])
        .args(["--data-dir", p(&f.path("relay")), "--epoch-key", p(&f.path("keys/epoch-1.pub"))])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the relay needs a relay certificate"), "{err}");
    assert!(!f.path("relay").exists());
    let out = escrow()
        .args(["--profile", p(&f.path("pki/relay.profile.toml")), "relay", "serve"])
        .args(["--data-dir", p(&f.path("relay")), "--epoch-key", p(&f.path("keys/epoch-1.pub"))])
        .args(["--rate-limit-per-second", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("requests per second must be positive"), "{err}");
    assert!(!f.path("relay").exists());
}

#[test]
fn a_relay_refuses_an_announcement_its_trustees_did_not_all_sign() {
    use escrow_crypto::announce::ANNOUNCEMENT_SIG_DST;
    use escrow_crypto::{Announcement, EpochPublicKey, PartyId, SignedAnnouncement, TrusteeSigningKey};
    let f = Files::new();
    let key_hex = std::fs::read_to_string(f.path("keys/epoch-1.pub")).unwrap();
    let key_set = EpochPublicKey::from_bytes(&hex::decode(key_hex.trim()).unwrap()).unwrap();
    let body = Announcement {
        key_set,
        generation: 0,
        holders: (0..5).map(|i| PartyId::new(format!("trustee-{i}")).unwrap()).collect(),
        valid_from: 1,
        destroy_at: 2,
        transcript: [0; 32],
        modes: escrow_crypto::Modes::PER_MESSAGE,
    }
    .to_bytes()
    .unwrap();
    // Signed with the trustees' own keys (exported from the sealed files `pki init`
    // wrote), or by nobody, or with trustee-4's signature missing or made by another key.
    let keys: Vec<TrusteeSigningKey> = (0..5)
        .map(|i| {
            let plain = f.path(&format!("signing-{i}.plain"));
            run(&["pki", "export-key", p(&f.path(&format!("pki/trustee-{i}.signing.key"))), "--out", p(&plain)]);
            TrusteeSigningKey::from_bytes(&std::fs::read(&plain).unwrap()).unwrap()
        })
        .collect();
    let made_up = TrusteeSigningKey::generate(PartyId::new("trustee-4").unwrap(), &mut rand::rngs::OsRng);
    let sign = |keys: &[&TrusteeSigningKey]| {
        let sigs = keys.iter().map(|k| (k.trustee().clone(), k.sign(ANNOUNCEMENT_SIG_DST, &body))).collect();
        hex::encode(SignedAnnouncement::new(body.clone(), sigs).to_bytes())
    };
    let real: Vec<&TrusteeSigningKey> = keys.iter().collect();
    let mut one_made_up = real[..4].to_vec();
    one_made_up.push(&made_up);
    let file = f.path("unsigned.announcement");
    let relay_serve = || {
        let mut c = escrow();
        c.args(["--profile", p(&f.path("pki/relay.profile.toml")), "relay", "serve"])
            .args(["--data-dir", p(&f.path("relay")), "--announcement", p(&file)])
            .args(["--addr-file", p(&f.path("relay.addr"))]);
        c
    };
    for (case, text, want) in [
        ("nobody signed", sign(&[]), "trustee trustee-0 did not sign"),
        ("not an announcement", "00ff".to_string(), ""),
        ("under-signed", sign(&real[..4]), "trustee trustee-4 did not sign"),
        ("one signature made up", sign(&one_made_up), "trustee trustee-4 does not verify"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = relay_serve().output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{case}: {err}");
        assert!(err.contains("unsigned.announcement") && err.contains(want), "{case}: {err}");
        assert!(!f.path("relay").exists(), "{case}");
    }
    // Control: with all five real signatures the same relay starts.
    std::fs::write(&file, sign(&real)).unwrap();
    let mut relay = relay_serve().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    f.wait_up("relay", &mut relay);
    drop(Killed(relay));
}

/// The operators' guide's ceremony, command by command: three trustee processes with
/// no epoch key, `dkg propose`, `dkg accept` by the other operators, `dkg execute
/// --wait`, then `epoch fetch`/`epoch verify` and a relay started on the announcement.
/// Only operators drive it: an auditor's `dkg accept` is refused and changes nothing.
#[test]
fn a_key_ceremony_run_from_the_command_line_installs_an_epoch_a_relay_then_serves() {
    let f = Files::new();
    let mut children = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..3 {
        let data = format!("c{i}");
        let addr_file = f.path(&format!("{data}.addr"));
        let mut child = escrow()
            .args(["--profile", p(&f.path(&format!("pki/trustee-{i}.profile.toml")))])
            .args(["trustee", "serve", "--data-dir", p(&f.path(&data))])
            .args(["--policy", p(&f.path(&format!("policy-{i}.toml")))])
            .args(["--addr-file", p(&addr_file)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        f.wait_up(&data, &mut child);
        children.push(Killed(child));
        addrs.push(std::fs::read_to_string(&addr_file).unwrap().trim().to_string());
    }
    let op = |i: usize, args: &[&str]| -> Output {
        escrow()
            .args(["--profile", p(&f.path(&format!("pki/trustee-{i}.op-{i}.profile.toml")))])
            .args(args)
            .output()
            .unwrap()
    };
    let text = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let destroy = (now + 86_400).to_string();
    let players: Vec<String> = addrs.iter().enumerate().map(|(i, a)| format!("trustee-{i}={a}")).collect();
    let mut propose = vec!["dkg", "propose", "--trustee", &addrs[0], "--epoch", "2", "--threshold", "1"];
    propose.extend(["--destroy-at", &destroy, "--phase-timeout-ms", "2000"]);
    for pl in &players {
        propose.extend(["--player", pl.as_str()]);
    }
    let out = op(0, &propose);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("proposed"), "{}", text(&out));

    // The proposal reaches the others over the Ceremony service; each operator reads it.
    for (i, addr) in addrs.iter().enumerate().skip(1) {
        let t0 = Instant::now();
        loop {
            let s = op(i, &["dkg", "status", "--trustee", addr]);
            if s.status.success() && text(&s).contains("proposed by trustee-0") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "trustee-{i} never saw the proposal: {}", text(&s));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Not an operator: refused, and trustee-1 still waits for its operator.
    let auditor = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml"))])
        .args(["dkg", "accept", "--trustee", &addrs[1]])
        .output()
        .unwrap();
    assert!(!auditor.status.success(), "{}", text(&auditor));
    assert!(text(&auditor).contains("PermissionDenied") || text(&auditor).contains("permission"), "{}", text(&auditor));
    let early = op(0, &["dkg", "execute", "--trustee", &addrs[0]]);
    assert!(!early.status.success(), "executed before everyone accepted: {}", text(&early));

    for (i, addr) in addrs.iter().enumerate().skip(1) {
        let out = op(i, &["dkg", "accept", "--trustee", addr]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = op(0, &["dkg", "execute", "--trustee", &addrs[0], "--wait"]);
    assert!(out.status.success(), "{}", text(&out));
    // --wait asked every participant, not only the proposer's trustee.
    assert!(text(&out).contains("every participant installed announcement"), "{}", text(&out));
    for (i, addr) in addrs.iter().enumerate() {
        assert!(text(&out).contains(&format!("trustee-{i} ({addr}): installed announcement")), "{}", text(&out));
    }
    // Another trustee's operator sees the same from its own trustee.
    let all = op(1, &["dkg", "status", "--trustee", &addrs[1], "--all"]);
    assert!(all.status.success(), "{}", text(&all));
    assert!(text(&all).contains("every participant installed announcement"), "{}", text(&all));
    for (i, addr) in addrs.iter().enumerate() {
        let t0 = Instant::now();
        while !text(&op(i, &["dkg", "status", "--trustee", addr])).contains(": installed") {
            assert!(t0.elapsed() < Duration::from_secs(30), "trustee-{i} did not install");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let announcement = f.path("epoch-2.announcement");
    let auditor = |args: &[&str]| run(&[&["--profile", p(&f.path("pki/auditor-1.profile.toml"))], args].concat());
    auditor(&["epoch", "fetch", "--trustee", &addrs[2], "--epoch", "2", "--out", p(&announcement)]);
    let verified = auditor(&["epoch", "verify", p(&announcement)]);
    assert!(verified.contains("OK: epoch 2") && verified.contains("(trustee-0, trustee-1, trustee-2)"), "{verified}");
    assert!(verified.contains("not checked: whether every holder installed it"), "{verified}");
    let holders: Vec<&str> = players.iter().flat_map(|pl| ["--holder", pl.as_str()]).collect();
    let verified = auditor(&[&["epoch", "verify", p(&announcement)], holders.as_slice()].concat());
    assert!(verified.contains("every holder installed it"), "{verified}");
    // Naming only some holders is a usage error, before anything is asked.
    let partial = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml"))])
        .args(["epoch", "verify", p(&announcement), "--holder", &players[0]])
        .output()
        .unwrap();
    assert_eq!(partial.status.code(), Some(2), "{}", text(&partial));
    assert!(text(&partial).contains("missing: trustee-1, trustee-2"), "{}", text(&partial));
    let shown = auditor(&["epoch", "show", p(&announcement)]);
    assert!(shown.contains("n = 3, t = 1"), "{shown}");

    let relay_addr = f.path("relay.addr");
    let mut relay = escrow()
        .args(["--profile", p(&f.path("pki/relay.profile.toml")), "relay", "serve"])
        .args(["--data-dir", p(&f.path("relay")), "--announcement", p(&announcement)])
        .args(["--addr-file", p(&relay_addr)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    f.wait_up("relay", &mut relay);
    drop(Killed(relay));

    // trustee-1's database with trustee-0's sealing key (both sealed under the same
    // passphrase, so the key file itself opens): the start names both files.
    drop(children.remove(1));
    let serve_c1 = || {
        escrow()
            .args(["--profile", p(&f.path("pki/trustee-1.profile.toml"))])
            .args(["trustee", "serve", "--data-dir", p(&f.path("c1"))])
            .args(["--policy", p(&f.path("policy-1.toml"))])
            .args(["--addr-file", p(&f.path("c1.addr"))])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (db, seal) = (f.path("c1/trustee.db"), f.path("c1/seal.key"));
    let own_seal = std::fs::read(&seal).unwrap();
    std::fs::copy(f.path("c0/seal.key"), &seal).unwrap();
    let err = refused(serve_c1());
    let want = format!(
        "ceremony epoch 2: the share stored in {} does not open with the sealing key {} (decryption failed): the \
         two files do not belong together",
        p(&db),
        p(&seal)
    );
    assert!(err.contains(&want), "{err}");
    // Without its sealing key: named as missing, and no new key is left behind.
    std::fs::remove_file(&seal).unwrap();
    let err = refused(serve_c1());
    assert!(err.contains(&format!("{} (decryption failed): the sealing key file is missing", p(&seal))), "{err}");
    assert!(!seal.exists(), "the refused start wrote a sealing key that seals nothing");
    // Its own key back: it serves.
    std::fs::write(&seal, own_seal).unwrap();
    let _ = std::fs::remove_file(f.path("c1.addr"));
    let mut c1 = serve_c1();
    f.wait_up("c1", &mut c1);
    drop(Killed(c1));
}

/// `escrow warrant submit` and `warrant status` print every trustee's answer, and exit
/// non-zero when any trustee refused or could not be reached.
#[test]
fn warrant_commands_exit_non_zero_on_a_refusal() {
    let f = Files::new();
    let mut t0 = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut t0);
    let t0 = Killed(t0);
    let addr = std::fs::read_to_string(f.path("t0.addr")).unwrap().trim().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (from, to) = ((now - 86_400).to_string(), now.to_string());
    let w = f.path("w.hex");
    // A warrant of the test court for `agency`, over alice's last day, written to `out`.
    let sign = |agency: &str, out: &Path| {
        let key = f.path("courts/high-court.key");
        run(&["court", "sign", "--key", p(&key), "--agency", agency, "--target", "alice"]
            .into_iter()
            .chain(["--from", from.as_str(), "--to", to.as_str(), "--out", p(out)])
            .collect::<Vec<_>>());
    };
    let agency = |args: &[&str]| -> Output {
        escrow().args(["--profile", p(&f.path("pki/agency-1.profile.toml"))]).args(args).output().unwrap()
    };
    let text = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    sign("agency-1", &w);

    // agency-2 has no quota: the policy denies its warrant, and the exit says so.
    let w2 = f.path("w2.hex");
    sign("agency-2", &w2);
    run(&["pki", "issue", p(&f.path("pki")), "--role", "agency", "--id", "agency-2"]);
    let denied = escrow()
        .args(["--profile", p(&f.path("pki/agency-2.profile.toml"))])
        .args(["warrant", "submit", "--trustee", &addr, "--warrant", p(&w2)])
        .output()
        .unwrap();
    assert!(!denied.status.success(), "{}", text(&denied));
    assert!(text(&denied).contains("has no quota") && text(&denied).contains(": denied)"), "{}", text(&denied));

    let ok = agency(&["warrant", "submit", "--trustee", &addr, "--warrant", p(&w)]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("received"), "{}", text(&ok));

    // A truncated warrant is malformed input: INVALID_ARGUMENT, and a failed exit.
    let hex = std::fs::read_to_string(&w).unwrap();
    let short = f.path("short.hex");
    std::fs::write(&short, &hex.trim()[..hex.trim().len() / 2]).unwrap();
    let bad = agency(&["warrant", "submit", "--trustee", &addr, "--warrant", p(&short)]);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(text(&bad).contains("InvalidArgument") && text(&bad).contains("1 of 1 trustees refused"), "{}", text(&bad));

    // One trustee answers, one is down: the table shows both, the exit fails.
    let down = "127.0.0.1:1";
    let half = agency(&["warrant", "submit", "--trustee", &addr, "--trustee", down, "--warrant", p(&w)]);
    assert!(!half.status.success(), "{}", text(&half));
    assert!(text(&half).contains("received") && text(&half).contains(down), "{}", text(&half));
    assert!(text(&half).contains("1 of 2 trustees refused or failed"), "{}", text(&half));

    // Status of the submitted warrant succeeds; of an unknown one fails with NotFound.
    let id = hex.trim().get(6..38).unwrap().to_string();
    let st = agency(&["warrant", "status", "--trustee", &addr, "--id", &id]);
    assert!(st.status.success(), "{}", text(&st));
    let unknown = agency(&["warrant", "status", "--trustee", &addr, "--id", &"ab".repeat(16)]);
    assert!(!unknown.status.success() && text(&unknown).contains("NotFound"), "{}", text(&unknown));

    // The operator decides: each subcommand reaches its own RPC. A denied warrant's
    // status is a refusal; revoking a denied one is refused by the state machine.
    let operator = |args: &[&str]| -> Output {
        escrow().args(["--profile", p(&f.path("pki/trustee-0.op-0.profile.toml"))]).args(args).output().unwrap()
    };
    let deny = operator(&["warrant", "deny", "--trustee", &addr, "--id", &id, "--reason", "overbroad"]);
    assert!(deny.status.success() && text(&deny).contains(": denied"), "{}", text(&deny));
    let st = agency(&["warrant", "status", "--trustee", &addr, "--id", &id]);
    assert!(!st.status.success() && text(&st).contains("overbroad"), "{}", text(&st));
    let revoke = operator(&["warrant", "revoke", "--trustee", &addr, "--id", &id]);
    assert!(
        !revoke.status.success() && text(&revoke).contains("cannot revoke a warrant that is denied"),
        "{}",
        text(&revoke)
    );
    drop(t0);
}

/// `escrow reseal --profile P --data-dir D` covers every sealed file a trustee reads —
/// the TLS key and signing key of its profile, its data directory's log and sealing
/// keys, and the share named — all or nothing; the trustee then starts under the new
/// passphrase alone.
#[test]
fn reseal_of_a_whole_party_covers_every_file_it_reads_or_none() {
    let f = Files::new();
    let mut t0 = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut t0);
    drop(Killed(t0));
    let party = [
        f.path("pki/trustee-0.key"),
        f.path("pki/trustee-0.signing.key"),
        f.path("t0/log.key"),
        f.path("t0/seal.key"),
        f.path("keys/trustee-0.share"),
    ];
    let snapshot = || party.iter().map(|f| std::fs::read(f).unwrap()).collect::<Vec<_>>();
    let before = snapshot();
    let new = f.path("new-pass");
    std::fs::write(&new, "the whole party's new passphrase\n").unwrap();
    let reseal = |extra: &[&str]| -> Output {
        escrow()
            .args(["--profile", p(&f.path("pki/trustee-0.profile.toml"))])
            .args(["reseal", "--data-dir", p(&f.path("t0")), p(&f.path("keys/trustee-0.share"))])
            .args(extra)
            .args(["--new-passphrase-file", p(&new), "--insecure-fast-kdf"])
            .output()
            .unwrap()
    };
    // One more file, sealed under another passphrase: refused, naming it; nothing changes.
    escrow()
        .env("ESCROW_PASSPHRASE", "another passphrase")
        .args(["user", "keygen", "--id", "mallory", "--out", p(&f.path("mallory.key")), "--insecure-fast-kdf"])
        .output()
        .unwrap();
    let out = reseal(&[p(&f.path("mallory.key"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("{}: wrong passphrase", p(&f.path("mallory.key")))),
        "{err}"
    );
    assert_eq!(snapshot(), before, "a refused reseal changed a file");

    let out = reseal(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in &party {
        assert!(text.contains(&format!("resealed {}", p(file))), "{} not resealed:\n{text}", p(file));
    }
    assert!(text.contains("5 files under the new passphrase"), "{text}");
    assert!(snapshot().iter().zip(&before).all(|(a, b)| a != b), "every file is rewritten");
    // The trustee starts with the new passphrase alone, and not with the old one.
    let mut t0 = f.trustee_with(0, 0, 0, "t0", &["--passphrase-file", p(&new)]);
    f.wait_up("t0", &mut t0);
    drop(Killed(t0));
    let err = refused(f.trustee(0, 0, 0, "t0"));
    assert!(err.contains("wrong passphrase"), "{err}");
    // Nothing to reseal is a usage error.
    let out = escrow().arg("reseal").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to reseal"));
}

/// `escrow reseal` changes the passphrase of every file named, or of none.
#[test]
fn reseal_changes_every_file_or_none() {
    let f = Files::new();
    run(&["user", "keygen", "--id", "alice", "--out", p(&f.path("alice.key")), "--insecure-fast-kdf"]);
    let share = f.path("keys/trustee-0.share");
    let (alice, alice_pub) = (f.path("alice.key"), f.path("alice.pub"));
    let before = (std::fs::read(&share).unwrap(), std::fs::read(&alice).unwrap());
    let new = f.path("new-pass");
    std::fs::write(&new, "a new passphrase\n").unwrap();
    let reseal = |files: &[&Path], old: &str| -> Output {
        escrow()
            .env("ESCROW_PASSPHRASE", old)
            .arg("reseal")
            .args(files.iter().map(|f| p(f)))
            .args(["--new-passphrase-file", p(&new), "--insecure-fast-kdf"])
            .output()
            .unwrap()
    };
    let unchanged = || {
        assert_eq!(std::fs::read(&share).unwrap(), before.0);
        assert_eq!(std::fs::read(&alice).unwrap(), before.1);
    };

    // A public (hex) file among them: refused, naming it, and nothing changes.
    let out = reseal(&[&share, &alice_pub, &alice], PASS);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&format!("{}: not a sealed secret file", p(&alice_pub))), "{err}");
    unchanged();
    // The wrong old passphrase: refused, naming the first file, nothing changes.
    let out = reseal(&[&share, &alice], "wrong");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&format!("{}: wrong passphrase", p(&share))), "{err}");
    unchanged();

    let out = reseal(&[&share, &alice], PASS);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let export = |file: &Path, pass: &str| {
        escrow()
            .env("ESCROW_PASSPHRASE", pass)
            .args(["pki", "export-key", p(file), "--out", p(&f.path("plain"))])
            .output()
            .unwrap()
            .status
            .success()
    };
    for file in [&share, &alice] {
        assert!(export(file, "a new passphrase"), "{} does not open with the new passphrase", p(file));
        assert!(!export(file, PASS), "{} still opens with the old passphrase", p(file));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(f.path("keys"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("reseal"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A file that is not sealed, given where a sealed key is read, is named.
    let out = escrow()
        .args(["court", "sign", "--key", p(&f.path("courts/high-court.pub")), "--agency", "a", "--target", "b"])
        .args(["--from", "0", "--to", "1", "--out", p(&f.path("w"))])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}: not a sealed secret file", p(&f.path("courts/high-court.pub")));
    assert!(!out.status.success() && err.contains(&want), "{err}");
}

/// Service logs written to a file carry no colour codes, even without NO_COLOR.
#[test]
fn service_logs_in_a_file_carry_no_colour() {
    let f = Files::new();
    let log = f.path("t0.log");
    let child = escrow()
        .env_remove("NO_COLOR")
        .args(["--profile", p(&f.path("pki/trustee-0.profile.toml"))])
        .args(["trustee", "serve", "--data-dir", p(&f.path("t0"))])
        .args(["--policy", p(&f.path("policy-0.toml"))])
        .args(["--epoch-key", p(&f.path("keys/epoch-1.pub"))])
        .args(["--key-share", p(&f.path("keys/trustee-0.share"))])
        .args(["--addr-file", p(&f.path("t0.addr"))])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = child;
    f.wait_up("t0", &mut child);
    drop(Killed(child));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO"), "no log lines: {text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a log file: {text:?}");
}

#[test]
fn health_probes_need_only_the_ca_and_fail_closed() {
    let f = Files::new();
    let mut t0 = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut t0);
    let t0 = Killed(t0);
    let addr = std::fs::read_to_string(f.path("t0.addr")).unwrap().trim().to_string();
    // No passphrase, no certificate: the federation alone.
    let probe = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_escrow"))
            .env_remove("ESCROW_PASSPHRASE")
            .env_remove("ESCROW_PROFILE")
            .args(["--federation", p(&f.path("pki/federation.toml")), "health"])
            .args(args)
            .output()
            .unwrap()
    };
    let ok = probe(&["--addr", &addr, "--role", "trustee"]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("SERVING (escrow.v1.Trustee"), "{ok:?}");
    // A service this server does not run, the wrong role's server name, nobody there.
    let unknown = probe(&["--addr", &addr, "--role", "trustee", "--service", "escrow.v1.Relay"]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    let as_relay = probe(&["--addr", &addr, "--role", "relay"]);
    assert_eq!(as_relay.status.code(), Some(1), "a trustee's certificate is not a relay's: {as_relay:?}");
    drop(t0);
    let gone = probe(&["--addr", &addr, "--role", "trustee"]);
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not healthy"), "{gone:?}");
    // Usage errors exit 2.
    assert_eq!(probe(&["--addr", &addr, "--role", "agency"]).status.code(), Some(2));
}

#[test]
fn the_log_key_can_be_published_before_the_first_start_and_is_the_one_served() {
    let f = Files::new();
    let line = run(&["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-0"]);
    let vkey = line.trim().strip_prefix("log ").expect("a policy log line").to_string();
    assert!(vkey.starts_with("escrow-trustee/trustee-0+"), "{vkey}");
    // Asked again: the same key, not a new one; and as a witness-config entry.
    let again = run(&["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-0"]);
    assert_eq!(again, line);
    let entry = run(&["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-0", "--witness-config"]);
    assert!(entry.contains("origin = \"escrow-trustee/trustee-0\"") && entry.contains(&vkey), "{entry}");
    // Another trustee's id on this key is refused, naming the file.
    let out =
        escrow().args(["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("log.key"), "{out:?}");
    // The trustee then serves exactly that key.
    let mut t0 = f.trustee(0, 0, 0, "t0");
    f.wait_up("t0", &mut t0);
    let _t0 = Killed(t0);
    let addr = std::fs::read_to_string(f.path("t0.addr")).unwrap().trim().to_string();
    let served = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml")), "audit", "verify", "--trustee", &addr])
        .args(["--trust-on-first-use", "--state-dir", p(&f.path("audit"))])
        .output()
        .unwrap();
    assert!(served.status.success(), "{served:?}");
    let policy = f.path("witness.policy");
    std::fs::write(&policy, format!("{line}quorum none\n")).unwrap();
    let pinned = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml")), "audit", "verify", "--trustee", &addr])
        .args(["--witness-policy", p(&policy), "--state-dir", p(&f.path("audit2"))])
        .output()
        .unwrap();
    assert!(pinned.status.success(), "the served key is the published one: {pinned:?}");
}

/// A witness process (w1) and trustee-0's process publishing to it every 100 ms, the
/// witness policy naming both: killed when dropped.
struct Witnessed {
    _witness: Killed,
    _trustee: Killed,
    /// trustee-0's address.
    addr: String,
    /// The witness policy.
    policy: PathBuf,
}

impl Files {
    fn witnessed_trustee(&self) -> Witnessed {
        let f = self;
        run(&["pki", "issue", p(&f.path("pki")), "--role", "witness", "--id", "w1", "--insecure-fast-kdf"]);
        let line = run(&["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-0"]);
        let config =
            run(&["trustee", "log-key", "--data-dir", p(&f.path("t0")), "--id", "trustee-0", "--witness-config"]);
        std::fs::write(f.path("logs.toml"), config).unwrap();
        let vkey = run(&[
            "witness",
            "init",
            "--data-dir",
            p(&f.path("w1")),
            "--name",
            "witness.example/w1",
            "--insecure-fast-kdf",
        ]);
        let waddr_file = f.path("w1.addr");
        let witness = escrow()
            .args(["--profile", p(&f.path("pki/witness-w1.profile.toml"))])
            .args(["witness", "serve", "--data-dir", p(&f.path("w1")), "--config", p(&f.path("logs.toml"))])
            .args(["--addr-file", p(&waddr_file)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let witness = Killed(witness);
        let t0 = Instant::now();
        while !waddr_file.exists() {
            assert!(t0.elapsed() < Duration::from_secs(30), "the witness did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let waddr = std::fs::read_to_string(&waddr_file).unwrap();
        let policy = f.path("witness.policy");
        // A comment in Latin-1 ("café", 0xE9 not UTF-8) is opaque to the spec and to
        // every command that reads the policy.
        let text = format!("{line}witness w1 {} https://{}\nquorum w1\n", vkey.trim(), waddr.trim());
        std::fs::write(&policy, [&b"# caf\xe9 witness\n"[..], text.as_bytes()].concat()).unwrap();
        let mut trustee =
            f.trustee_with(0, 0, 0, "t0", &["--witness-policy", p(&policy), "--witness-interval-ms", "100"]);
        f.wait_up("t0", &mut trustee);
        let addr = std::fs::read_to_string(f.path("t0.addr")).unwrap().trim().to_string();
        Witnessed { _witness: witness, _trustee: Killed(trustee), addr, policy }
    }

    /// `escrow status` as auditor-1 with the witness policy `policy`, asking `addrs`.
    fn status(&self, policy: &Path, addrs: &[&str], extra: &[&str]) -> Output {
        let mut c = escrow();
        c.args(["--profile", p(&self.path("pki/auditor-1.profile.toml")), "status", "--witness-policy", p(policy)]);
        for a in addrs {
            c.args(["--trustee", a]);
        }
        c.args(extra).output().unwrap()
    }
}

#[test]
fn a_trustee_process_publishes_to_a_witness_process_and_status_shows_both() {
    let f = Files::new();
    let w = f.witnessed_trustee();
    let (addr, policy) = (&w.addr, &w.policy);
    let status = |addrs: &[&str]| f.status(policy, addrs, &[]);
    // The trustee's first checkpoint reaches the witness: witnessed size = log size, lag 0.
    let t0 = Instant::now();
    let shown = loop {
        let out = status(&[addr]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let row = text.lines().find(|l| l.contains("trustee-0")).unwrap_or_default().to_string();
        let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "│").collect();
        if out.status.success() && cells.len() >= 8 && cells[4] == cells[5] && cells[7] == "(0)" {
            break text;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "never witnessed: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(shown.contains("SERVING") && shown.contains("w1 (lag)"), "{shown}");
    // A trustee that is down is shown DOWN and fails the command.
    let out = status(&[addr, "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("DOWN"), "{out:?}");
}

/// `status --json` and `audit verify --json`: one JSON object on stdout each, with the
/// values the text shows; a trustee that is down is in the object, and still fails
/// the command.
#[test]
fn status_and_audit_verify_print_json() {
    let f = Files::new();
    let w = f.witnessed_trustee();
    let json = |out: &Output| -> serde_json::Value {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let t0 = Instant::now();
    let status = loop {
        let out = f.status(&w.policy, &[&w.addr], &["--json"]);
        assert!(out.status.success(), "{}", common::text(&out));
        let v = json(&out);
        let t = &v["trustees"][0];
        if t["log_size"].as_u64().is_some() && t["witnesses"][0]["lag"] == 0 {
            break v;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "never witnessed: {v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let t = &status["trustees"][0];
    assert_eq!(t["trustee"], "trustee-0", "{status}");
    assert_eq!(t["address"], w.addr.as_str(), "{status}");
    assert_eq!(t["health"], "SERVING", "{status}");
    assert_eq!(t["epochs"], serde_json::json!([1]), "{status}");
    assert_eq!(t["witnessed_size"], t["log_size"], "{status}");
    let size = t["log_size"].as_u64().unwrap();
    assert!(size >= 1, "{status}");
    assert_eq!(t["witnesses"], serde_json::json!([{ "name": "w1", "size": size, "lag": 0, "state": "cosigned" }]));

    // Down: in the object, and exit 1.
    let out = f.status(&w.policy, &[&w.addr, "127.0.0.1:1"], &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let v = json(&out);
    assert_eq!(v["trustees"][0]["health"], "SERVING", "{v}");
    let down = &v["trustees"][1];
    assert_eq!(down["health"], "DOWN", "{v}");
    assert_eq!(down["address"], "127.0.0.1:1", "{v}");
    assert!(down["trustee"].is_null() && down["log_size"].is_null() && down["epochs"] == serde_json::json!([]), "{v}");

    let out = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml")), "audit", "verify", "--json"])
        .args(["--trustee", &w.addr, "--witness-policy", p(&w.policy), "--state-dir", p(&f.path("audit"))])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let v = json(&out);
    let log = &v["trustees"][0];
    assert_eq!(log["ok"], true, "{v}");
    assert_eq!(log["address"], w.addr.as_str(), "{v}");
    assert_eq!(log["origin"], escrow_log::trustee_origin("trustee-0").as_str(), "{v}");
    assert!(log["size"].as_u64().unwrap() >= size, "{v}");
    let root = log["root"].as_str().unwrap();
    assert!(root.len() == 64 && root.chars().all(|c| c.is_ascii_hexdigit()), "{v}");
    assert_eq!(log["witnessed"][0]["witness"], "w1", "{v}");
    assert!(log["witnessed"][0]["size"].as_u64().unwrap() >= 1, "{v}");
    assert!(log["failure"].is_null() && log["notes"] == serde_json::json!([]), "{v}");
    // A trustee that cannot be reached: not ok, with why, and exit 1 after the JSON.
    let out = escrow()
        .args(["--profile", p(&f.path("pki/auditor-1.profile.toml")), "audit", "verify", "--json"])
        .args(["--trustee", "127.0.0.1:1", "--witness-policy", p(&w.policy), "--state-dir", p(&f.path("audit"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let v = json(&out);
    assert_eq!(v["trustees"][0]["ok"], false, "{v}");
    assert!(!v["trustees"][0]["failure"].as_str().unwrap().is_empty(), "{v}");
}

/// `escrow trustee policy` writes the file `trustee serve --policy` reads (the
/// fixtures above serve on files it wrote): every flag lands in it and it parses back
/// as that policy. Each bad flag is refused, naming what is wrong, and writes nothing;
/// an existing file is not overwritten.
#[test]
fn trustee_policy_writes_what_serve_reads_and_refuses_bad_flags() {
    use escrow_trustee::policy::{Approval, ForeignTargets, Policy};
    let f = Files::new();
    let court = f.path("courts/high-court.pub");
    let out = f.path("p.toml");
    let said = run(&[
        "trustee",
        "policy",
        "--id",
        "trustee-2",
        "--court",
        p(&court),
        "--approval",
        "auto",
        "--max-window-secs",
        "3600",
        "--max-fields-per-warrant",
        "7",
        "--max-items-per-request",
        "9",
        "--default-agency-quota",
        "5",
        "--agency-quota",
        "agency-1=11",
        "--agency-quota",
        "agency-2=12",
        "--max-warrants-per-agency",
        "3",
        "--max-day-keys-per-warrant",
        "30",
        "--day-key-agency-quota",
        "90",
        "--key-index",
        "2",
        "--auto-accept-ceremonies",
        "--agency-organisation",
        "org-agency-1",
        "--out",
        p(&out),
    ]);
    assert!(said.contains("wrote the policy of trustee-2 to") && said.contains("automatic approval, 1 trusted court"));
    let written = std::fs::read_to_string(&out).unwrap();
    let policy = Policy::from_toml(&written).unwrap();
    let court_key = escrow_crypto::CourtPublicKey::from_bytes(
        &hex::decode(std::fs::read_to_string(&court).unwrap().trim()).unwrap(),
    )
    .unwrap();
    assert_eq!(policy.trustee_id.as_str(), "trustee-2");
    assert_eq!(policy.approval, Approval::Auto);
    assert_eq!(policy.trusted_courts, vec![court_key]);
    assert_eq!((policy.max_window_secs, policy.max_fields_per_warrant, policy.max_items_per_request), (3600, 7, 9));
    assert_eq!((policy.default_agency_quota, policy.max_warrants_per_agency, policy.key_index), (5, 3, Some(2)));
    let quotas: Vec<(String, u64)> = policy.agency_quota.iter().map(|(a, n)| (a.to_string(), *n)).collect();
    assert_eq!(quotas, vec![("agency-1".to_string(), 11), ("agency-2".to_string(), 12)]);
    assert!(policy.auto_accept_ceremonies);
    assert_eq!(policy.agency_organisations, vec!["org-agency-1".to_string()]);
    assert_eq!((policy.max_day_keys_per_warrant, policy.day_key_agency_quota), (30, 90));
    assert_eq!(policy.jurisdiction, escrow_trustee::policy::DomainRule::default(), "one domain unless --domain");
    // A trustee of escrow domain "uk": refusing foreign targets unless told to allow them.
    for (extra, foreign) in
        [(&[][..], ForeignTargets::Refuse), (&["--foreign-targets", "allow"][..], ForeignTargets::Allow)]
    {
        let file = f.path(&format!("uk-{}.toml", extra.len()));
        run(&[&["trustee", "policy", "--id", "trustee-2", "--domain", "uk", "--out", p(&file)][..], extra].concat());
        let got = Policy::from_toml(&std::fs::read_to_string(&file).unwrap()).unwrap().jurisdiction;
        assert_eq!((got.domain.map(|d| d.to_string()), got.foreign_targets), (Some("uk".into()), foreign));
    }

    // An existing file stays as it was.
    let again = escrow().args(["trustee", "policy", "--id", "trustee-3", "--out", p(&out)]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains(p(&out)), "{again:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);

    let not_a_key = f.path("policy-0.toml");
    let missing = f.path("no-such-court.pub");
    let bad = f.path("bad.toml");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--id", "Not An Id"], "--id".into()),
        (vec!["--id", "trustee-2", "--court", p(&missing)], p(&missing).into()),
        (vec!["--id", "trustee-2", "--court", p(&not_a_key)], p(&not_a_key).into()),
        (vec!["--id", "trustee-2", "--agency-quota", "agency-1"], "expected AGENCY=FIELDS".into()),
        (vec!["--id", "trustee-2", "--agency-quota", "agency-1=many"], "not a whole number".into()),
        (
            vec!["--id", "trustee-2", "--agency-quota", "agency-1=1", "--agency-quota", "agency-1=2"],
            "given twice".into(),
        ),
        (vec!["--id", "trustee-2", "--max-items-per-request", "20000"], "max_items_per_request".into()),
        (vec!["--id", "trustee-2", "--approval", "sometimes"], "sometimes".into()),
        (vec!["--id", "trustee-2", "--domain", "U K"], "--domain \"U K\"".into()),
        (vec!["--id", "trustee-2", "--foreign-targets", "allow"], "--domain".into()),
        (vec!["--id", "trustee-2", "--domain", "uk", "--foreign-targets", "some"], "some".into()),
    ];
    for (flags, names) in cases {
        let o = escrow().args(["trustee", "policy"]).args(&flags).args(["--out", p(&bad)]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?} was accepted");
        assert!(err.contains(&names), "{flags:?}: {err}");
        assert!(!bad.exists(), "{flags:?} wrote the file");
    }
}

/// `relay serve --rule --domain`: a relay of several escrow domains. Each bad flag is
/// refused by name (a missing key file by its path) before the data directory exists;
/// good ones start it.
#[test]
fn a_relay_of_escrow_domains_refuses_bad_domain_flags_and_creates_nothing() {
    let f = Files::new();
    let key = format!("uk={}", p(&f.path("keys/epoch-1.pub")));
    let missing = f.path("keys/us-epoch-1.pub");
    let relay = |extra: &[&str]| {
        let mut c = escrow();
        c.args(["--profile", p(&f.path("pki/relay.profile.toml")), "relay", "serve"])
            .args(["--data-dir", p(&f.path("relay")), "--epoch-key", p(&f.path("keys/epoch-1.pub"))])
            .args(["--addr-file", p(&f.path("relay.addr"))])
            .args(extra);
        c
    };
    let missing_domain = format!("us={}", p(&missing));
    let cases: [(&[&str], &str); 7] = [
        (&["--rule", "any-of"], "--domain"),
        (&["--domain", &key], "--rule"),
        (&["--rule", "most-of", "--domain", &key], "one of any-of, all-of, home-of-sender"),
        (&["--rule", "any-of", "--domain", "uk"], "NAME=KEY-FILE"),
        (&["--rule", "any-of", "--domain", &key, "--domain", "U K=none"], "\"U K=none\""),
        (&["--rule", "any-of", "--domain", &key, "--domain", &missing_domain], p(&missing)),
        (&["--rule", "any-of", "--domain", &key, "--domain", "uk=none"], "a domain is named twice"),
    ];
    for (flags, needle) in cases {
        let out = relay(flags).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{flags:?}: {err}");
        assert!(!f.path("relay").exists(), "{flags:?} created the data directory");
    }
    let mut ok = relay(&["--rule", "all-of", "--domain", &key, "--domain", "free=none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    f.wait_up("relay", &mut ok);
    drop(Killed(ok));
}
