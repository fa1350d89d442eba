//! `escrow user ...` against a real relay process with a dealt (weak mode) epoch key:
//! what the reader's terminal is shown when a sender is hostile, the inbox's flags,
//! sending under a key pinned with `--epoch-key`, and output into a closed pipe.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const PASS: &str = "user test passphrase";

mod common;
use common::{p, serving, text, Killed};

fn escrow() -> Command {
    common::escrow_as(PASS)
}

fn run(args: &[&str]) -> String {
    common::run_as(PASS, args)
}

/// Certificates (whose user profiles pin the trustees' keys), a dealt epoch 1, a relay
/// serving its bare key, and alice and bob registered.
struct Deployment {
    dir: tempfile::TempDir,
    relay: String,
    _process: Killed,
}

impl Deployment {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        run(&["pki", "init", p(&d.join("pki")), "--trustees", "5", "--insecure-fast-kdf"]);
        run(&["keygen", "--out", p(&d.join("keys")), "--insecure-fast-kdf"]);
        let addr_file = d.join("relay.addr");
        let mut relay = escrow();
        relay.args(["--profile", p(&d.join("pki/relay.profile.toml")), "relay", "serve"]).args([
            "--data-dir",
            p(&d.join("relay")),
            "--epoch-key",
            p(&d.join("keys/epoch-1.pub")),
        ]);
        let (process, relay) = serving(relay, &addr_file, "the relay");
        let dep = Deployment { dir, relay, _process: process };
        for who in ["alice", "bob"] {
            run(&["user", "keygen", "--id", who, "--out", p(&dep.path(&format!("{who}.key"))), "--insecure-fast-kdf"]);
            let out = dep.user(who, &["register"], &[]);
            assert!(out.status.success(), "{}", text(&out));
        }
        dep
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `escrow user <cmd> --relay R --key <who>.key <args>` as `who`, with its profile.
    fn user(&self, who: &str, cmd: &[&str], args: &[&str]) -> Output {
        self.user_command(who, cmd, args).output().unwrap()
    }

    fn user_command(&self, who: &str, cmd: &[&str], args: &[&str]) -> Command {
        let mut c = escrow();
        c.args(["--profile", p(&self.path(&format!("pki/user-{who}.profile.toml"))), "user"])
            .args(cmd)
            .args(["--relay", &self.relay, "--key", p(&self.path(&format!("{who}.key")))])
            .args(args);
        c
    }

    /// alice sends `message` to bob under the pinned dealt key.
    fn send(&self, message: &str) {
        let epoch_key = self.path("keys/epoch-1.pub");
        let out = self.user("alice", &["send"], &["--to", "bob", "--message", message, "--epoch-key", p(&epoch_key)]);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// bob reads his inbox with the dealt key pinned.
    fn inbox(&self, args: &[&str]) -> Output {
        let epoch_key = self.path("keys/epoch-1.pub");
        self.user("bob", &["inbox"], &[&["--epoch-key", p(&epoch_key)], args].concat())
    }
}

/// The README's weak mode: `--epoch-key` pins a dealt key, which carries no
/// announcement, and a profile that pins the trustees' keys does not undo that. The
/// command says it is trusting the file.
#[test]
fn send_under_a_pinned_dealt_key_works_with_a_warning() {
    let d = Deployment::new();
    let epoch_key = d.path("keys/epoch-1.pub");
    let out = d.user("alice", &["send"], &["--to", "bob", "--message", "hi", "--epoch-key", p(&epoch_key)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent as #1"), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: weak mode: trusting the epoch key in {} as is, without an announcement signed by its trustees",
            p(&epoch_key)
        )),
        "{err}"
    );
    // Without the pin, the profile's trustee keys still refuse the bare key.
    let out = d.user("alice", &["send"], &["--to", "bob", "--message", "hi"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not announced by its trustees: the relay sent no announcement"), "{}", text(&out));
    let read = d.inbox(&[]);
    assert!(read.status.success() && text(&read).contains("from alice at") && text(&read).contains(": hi\n"));
}

/// A sender's escape sequences, carriage returns and newlines reach bob's terminal
/// written out, never live: no screen clear, no colour, no forged line.
#[test]
fn a_hostile_message_cannot_drive_the_readers_terminal() {
    let d = Deployment::new();
    d.send("\x1b[2J\x1b[31m FAKE\r\n#99 from carol at 1: forged\u{202e}");
    d.send("plain");
    let out = d.inbox(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    assert!(!stdout.contains('\x1b') && !stdout.contains('\r') && !stdout.contains('\u{202e}'), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line per message: {stdout:?}");
    assert!(lines[0].starts_with("#1 from alice at "), "{stdout:?}");
    assert!(
        lines[0].ends_with(": \\u{1b}[2J\\u{1b}[31m FAKE\\u{d}\\u{a}#99 from carol at 1: forged\\u{202e}"),
        "{stdout:?}"
    );
    assert!(lines[1].starts_with("#2 from alice at ") && lines[1].ends_with(": plain"), "{stdout:?}");
}

/// `--limit 0` is a usage error naming the flag, not an empty success; `--limit 1`
/// shows one message and how to go on.
#[test]
fn inbox_limit_zero_is_a_usage_error() {
    let d = Deployment::new();
    d.send("one");
    d.send("two");
    let out = d.inbox(&["--limit", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value '0' for '--limit <N>': at least 1 (leave --limit out to read every message)"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let out = d.inbox(&["--limit", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(": one\n") && !text(&out).contains(": two"), "{}", text(&out));
    assert!(text(&out).contains("1 messages shown; more follow: continue with --after 1"), "{}", text(&out));
}

/// `--repeat N` sends N numbered messages, each acknowledged on its own line; 0 is a
/// usage error that sends nothing; a run the relay cuts short says how many were
/// acknowledged before it stopped.
#[test]
fn send_repeat_sends_numbered_messages_and_refuses_zero() {
    let d = Deployment::new();
    let epoch_key = d.path("keys/epoch-1.pub");
    let pin = ["--epoch-key", p(&epoch_key)];
    let out = d.user("alice", &["send"], &[&["--to", "bob", "--message", "load", "--repeat", "3"], &pin[..]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let acks: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(acks, ["sent as #1", "sent as #2", "sent as #3"], "{}", text(&out));
    let read = text(&d.inbox(&[]));
    for k in 1..=3 {
        assert!(read.contains(&format!(": load ({k}/3)\n")), "{read}");
    }
    let zero = d.user("alice", &["send"], &[&["--to", "bob", "--message", "x", "--repeat", "0"], &pin[..]].concat());
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--repeat"), "{}", text(&zero));
    // Nothing more reached bob.
    assert!(!text(&d.inbox(&[])).contains("#4 "), "{}", text(&d.inbox(&[])));
    // To a recipient the relay does not know: refused at the first, 0 acknowledged.
    let refused =
        d.user("alice", &["send"], &[&["--to", "nobody", "--message", "x", "--repeat", "2"], &pin[..]].concat());
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("message 1 of 2 not sent (0 acknowledged before it)"), "{}", text(&refused));
}

/// `user send --json` prints a JSON line per acknowledged message; `user inbox --json`
/// one object with every message as sent (a hostile one too: the JSON escapes it, and
/// the line holds no live control) and where to continue.
#[test]
fn send_and_inbox_print_json() {
    let d = Deployment::new();
    let epoch_key = d.path("keys/epoch-1.pub");
    let pin = ["--epoch-key", p(&epoch_key)];
    let send = |message: &str, extra: &[&str]| {
        let args = [&["--to", "bob", "--message", message, "--json"], &pin[..], extra].concat();
        let out = d.user("alice", &["send"], &args);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let lines: Vec<serde_json::Value> =
        send("load", &["--repeat", "2"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, [serde_json::json!({ "sent": 1 }), serde_json::json!({ "sent": 2 })]);
    let hostile = "\x1b[2J\x1b[31m FAKE\r\n\"}{\"sent\": 99}\u{202e}\u{9b}";
    assert_eq!(send(hostile, &[]), "{\"sent\":3}\n");

    let out = d.inbox(&["--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(!stdout.trim_end().chars().any(|c| c.is_control() || c == '\u{202e}'), "{stdout:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["more"], false, "{v}");
    assert_eq!(v["next_after"], 3, "{v}");
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{v}");
    assert_eq!(messages[0]["seq"], 1, "{v}");
    assert_eq!(messages[0]["sender"], "alice", "{v}");
    assert_eq!(messages[0]["text"], "load (1/2)", "{v}");
    assert!(messages[0]["timestamp"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(messages[2]["text"], hostile, "{v}");
    assert!(messages.iter().all(|m| m.get("refused").is_none()), "{v}");

    // One at a time: where to continue is in the object, not on stderr.
    let out = d.inbox(&["--json", "--limit", "1", "--after", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["more"], true, "{v}");
    assert_eq!(v["next_after"], 2, "{v}");
    assert_eq!(v["messages"][0]["text"], "load (2/2)", "{v}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("more follow"), "{}", text(&out));
}

/// Output into a pipe whose reader is gone (`escrow ... | head -1`): the command stops
/// quietly with status 141, as a process killed by SIGPIPE would, and no panic.
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let d = Deployment::new();
    for i in 0..3 {
        d.send(&format!("message {i}"));
    }
    let epoch_key = d.path("keys/epoch-1.pub");
    let commands = [d.user_command("bob", &["inbox"], &["--epoch-key", p(&epoch_key)]), {
        let mut c = escrow();
        c.args(["tradeoffs", "-n", "5", "--trials", "0", "--out", p(&d.path("tradeoffs"))]);
        c
    }];
    for mut c in commands {
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader closes its end before the command prints anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{c:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{c:?}: {err}");
    }
}

/// Across escrow domains from the command line: the UK's and the US's identity
/// providers certify alice (uk) and bob (us) with their homes, a relay of both domains
/// (`relay serve --rule --domain`) and `user send` / `user inbox` with the same flags.
/// The message carries a field per domain and opens; without the flags the relay
/// refuses the send and the reader refuses the message, each saying why.
#[test]
fn users_of_two_escrow_domains_send_and_read_across_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |s: &str| tmp.path().join(s);
    let org = |name: &str, certifies: &[&str]| {
        let dir = d(name);
        let mut args = vec!["org", "init", p(&dir), "--name", name, "--deployment", "domains", "--insecure-fast-kdf"];
        for c in certifies {
            args.extend(["--certifies", c]);
        }
        run(&args);
    };
    org("ops", &["trustee/*", "operator/*/*", "relay/*", "agency/*", "auditor/*"]);
    org("uk-ids", &["user/uk/*"]);
    org("us-ids", &["user/us/*"]);
    let fed = d("federation.toml");
    run(&[
        "federation",
        "add",
        p(&fed),
        p(&d("ops/entry.toml")),
        p(&d("uk-ids/entry.toml")),
        p(&d("us-ids/entry.toml")),
    ]);
    for o in ["ops", "uk-ids", "us-ids"] {
        std::fs::copy(&fed, d(o).join("federation.toml")).unwrap();
    }
    run(&["org", "issue", p(&d("ops")), "--role", "relay", "--id", "relay", "--insecure-fast-kdf"]);
    for (o, who, home) in [("uk-ids", "alice", "uk"), ("us-ids", "bob", "us")] {
        run(&["org", "issue", p(&d(o)), "--role", "user", "--id", who, "--home", home, "--insecure-fast-kdf"]);
        run(&["user", "keygen", "--id", who, "--out", p(&d(&format!("{who}.key"))), "--insecure-fast-kdf"]);
    }
    run(&["keygen", "--out", p(&d("uk-keys")), "--insecure-fast-kdf"]);
    run(&["keygen", "--out", p(&d("us-keys")), "--insecure-fast-kdf"]);
    let (uk, us) = (format!("uk={}", p(&d("uk-keys/epoch-1.pub"))), format!("us={}", p(&d("us-keys/epoch-1.pub"))));
    let domains = ["--rule", "any-of", "--domain", &uk, "--domain", &us];
    let mut relay = escrow();
    relay
        .args(["--profile", p(&d("ops/relay.profile.toml")), "relay", "serve"])
        .args(["--data-dir", p(&d("relay")), "--epoch-key", p(&d("uk-keys/epoch-1.pub"))])
        .args(domains);
    let (_process, addr) = serving(relay, &d("relay.addr"), "the relay");
    let user = |org: &str, who: &str, cmd: &str, args: &[&str]| {
        escrow()
            .args(["--profile", p(&d(&format!("{org}/user-{who}.profile.toml"))), "user", cmd])
            .args(["--relay", &addr, "--key", p(&d(&format!("{who}.key")))])
            .args(args)
            .output()
            .unwrap()
    };
    for (org, who) in [("uk-ids", "alice"), ("us-ids", "bob")] {
        let out = user(org, who, "register", &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut send = vec!["--to", "bob", "--message", "across the Atlantic"];
    send.extend(domains);
    let out = user("uk-ids", "alice", "send", &send);
    assert!(out.status.success(), "{}", text(&out));
    let out = user("uk-ids", "alice", "send", &["--to", "bob", "--message", "one key only"]);
    assert!(!out.status.success() && text(&out).contains("must carry domain fields"), "{}", text(&out));

    let out = user("us-ids", "bob", "inbox", &domains);
    assert!(out.status.success() && text(&out).contains("across the Atlantic"), "{}", text(&out));
    let out = user("us-ids", "bob", "inbox", &[]);
    assert!(text(&out).contains("no jurisdictions are configured"), "{}", text(&out));
    assert!(!text(&out).contains("across the Atlantic"), "{}", text(&out));
}
