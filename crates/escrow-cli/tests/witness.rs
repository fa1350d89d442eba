//! `escrow witness` as an operator runs it: init, vkey, serve with the deployment
//! CA's witness certificate and with --plain; a restart keeps its state; every
//! refused start names its cause and writes nothing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use escrow_log::witness::AddCheckpoint;
use escrow_log::{leaf_hash, Checkpoint, CheckpointSigner, MerkleTree, Policy};
use escrow_witness::client::{AddOutcome, WitnessClient};

const PASS: &str = "witness test passphrase";
const ORIGIN: &str = "escrow-trustee/trustee-0";

fn escrow() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_escrow"));
    c.env("ESCROW_PASSPHRASE", PASS).env_remove("ESCROW_PROFILE").env("NO_COLOR", "1");
    c
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(args: &[&str]) -> String {
    let out = escrow().args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "escrow {args:?}: {text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = escrow().args(args).output().unwrap();
    assert!(!out.status.success(), "escrow {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, profile: Option<&Path>, plain: bool) -> Served {
    let addr_file = dir.join("w.addr");
    let _ = std::fs::remove_file(&addr_file);
    let mut cmd = escrow();
    if let Some(profile) = profile {
        cmd.args(["--profile", p(profile)]);
    }
    cmd.args(["witness", "serve", "--data-dir", p(&dir.join("w")), "--config", p(&dir.join("logs.toml"))])
        .args(["--addr-file", p(&addr_file)]);
    if plain {
        cmd.arg("--plain");
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            return Served { child, addr };
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("witness exited: {status}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "witness did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_key() -> CheckpointSigner {
    CheckpointSigner::generate(ORIGIN, &mut rand::rngs::OsRng).unwrap()
}

fn request(key: &CheckpointSigner, old: u64, size: u64) -> AddCheckpoint {
    let mut tree = MerkleTree::new();
    for i in 0..size {
        tree.append(leaf_hash(format!("entry {i}").as_bytes()));
    }
    let proof = if old == 0 { vec![] } else { tree.consistency_proof(old, size).unwrap() };
    let note = key.sign(&Checkpoint::new(ORIGIN, size, tree.root(size).unwrap()).unwrap());
    AddCheckpoint { old_size: old, proof, checkpoint: note }
}

#[tokio::test(flavor = "multi_thread")]
async fn init_serve_with_tls_and_plain_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    run(&["pki", "init", p(&d.join("pki")), "--trustees", "1", "--witness", "w1", "--insecure-fast-kdf"]);
    let vkey =
        run(&["witness", "init", "--data-dir", p(&d.join("w")), "--name", "witness.example/w1", "--insecure-fast-kdf"]);
    let vkey = vkey.trim().to_owned();
    assert_eq!(run(&["witness", "vkey", "--data-dir", p(&d.join("w"))]).trim(), vkey);
    assert!(fails(&["witness", "init", "--data-dir", p(&d.join("w")), "--name", "x"]).contains("witness.key"));
    // An init container's --if-missing: the same key again, or a refusal if it is another name's.
    let again =
        run(&["witness", "init", "--data-dir", p(&d.join("w")), "--name", "witness.example/w1", "--if-missing"]);
    assert_eq!(again.trim(), vkey);
    assert!(
        fails(&["witness", "init", "--data-dir", p(&d.join("w")), "--name", "other", "--if-missing"]).contains("named")
    );

    let key = log_key();
    std::fs::write(d.join("logs.toml"), escrow_witness::config::render(&[(ORIGIN.to_owned(), key.verifier())]))
        .unwrap();
    let fed = escrow_pki::Federation::parse(&std::fs::read_to_string(d.join("pki/federation.toml")).unwrap()).unwrap();
    let ca = escrow_pki::trust::Trust::new(fed).unwrap();
    let profile = d.join("pki/witness-w1.profile.toml");
    {
        let served = serve(d, Some(&profile), false);
        let c = WitnessClient::new(&format!("https://{}", served.addr), Some(&ca), Duration::from_secs(10)).unwrap();
        let AddOutcome::Cosigned(_) = c.add_checkpoint(&request(&key, 0, 4)).await.unwrap() else { panic!() };
        let note = c.latest(ORIGIN).await.unwrap().unwrap();
        let policy: Policy = format!("log {}\nwitness w1 {vkey}\nquorum w1\n", key.verifier()).parse().unwrap();
        assert_eq!(policy.verify(note.as_bytes()).unwrap().checkpoint.size(), 4);
    }
    // Restarted with plain HTTP on the same directory: the state survived.
    let served = serve(d, None, true);
    let c = WitnessClient::new(&format!("http://{}", served.addr), None, Duration::from_secs(10)).unwrap();
    assert_eq!(c.add_checkpoint(&request(&key, 0, 2)).await.unwrap(), AddOutcome::Conflict(4));
    assert!(matches!(c.add_checkpoint(&request(&key, 4, 7)).await.unwrap(), AddOutcome::Cosigned(_)));

    // A second process on the same directory is refused, naming the holder.
    let err =
        fails(&["witness", "serve", "--data-dir", p(&d.join("w")), "--config", p(&d.join("logs.toml")), "--plain"]);
    assert!(err.contains("LOCK") || err.contains("held") || err.contains("another"), "{err}");
}

#[test]
fn refused_starts_name_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    run(&["pki", "init", p(&d.join("pki")), "--trustees", "1", "--witness", "w1", "--insecure-fast-kdf"]);
    let w = d.join("w");
    let cfg = d.join("logs.toml");
    std::fs::write(&cfg, escrow_witness::config::render(&[(ORIGIN.to_owned(), log_key().verifier())])).unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["witness", "serve", "--data-dir", p(&w), "--config", p(&cfg)];
        args.extend_from_slice(extra);
        fails(&args)
    };
    // No key yet.
    std::fs::create_dir_all(&w).unwrap();
    assert!(serve(&["--plain"]).contains("escrow witness init"));
    run(&["witness", "init", "--data-dir", p(&w), "--name", "witness.example/w1", "--insecure-fast-kdf"]);
    // A bad name.
    assert!(fails(&["witness", "init", "--data-dir", p(&d.join("w2")), "--name", "has space"]).contains("--name"));
    // A config that is not one, named.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[[log]]\norigin = \"x\"\nvkey = \"nope\"\n").unwrap();
    let err = fails(&["witness", "serve", "--data-dir", p(&w), "--config", p(&bad), "--plain"]);
    assert!(err.contains("bad.toml") && err.contains("log 1"), "{err}");
    // TLS needs a witness's certificate: a trustee's is refused.
    let trustee = d.join("pki/trustee-0.profile.toml");
    let err = fails(&["--profile", p(&trustee), "witness", "serve", "--data-dir", p(&w), "--config", p(&cfg)]);
    assert!(err.contains("not a witness"), "{err}");
    // A wrong passphrase names the key file.
    let err =
        escrow().env("ESCROW_PASSPHRASE", "wrong").args(["witness", "vkey", "--data-dir", p(&w)]).output().unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("witness.key"));
    // None of these made a database.
    assert!(!w.join("witness.db").exists());
}
