//! `escrow org` and `escrow federation`: organisations made in their own
//! directories, combined into one federation file, and a forged or altered file
//! refused by every command that reads it, naming the file.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::Path;

use common::{escrow_as, p, text};

const PASS: &str = "federation test passphrase";

fn escrow(args: &[&str]) -> (bool, String) {
    let out = escrow_as(PASS).args(args).output().unwrap();
    (out.status.success(), text(&out))
}

fn ok(args: &[&str]) -> String {
    let (ok, out) = escrow(args);
    assert!(ok, "escrow {args:?}: {out}");
    out
}

fn org(dir: &Path, name: &str, certifies: &[&str]) -> String {
    let mut args = vec!["org", "init", p(dir), "--name", name, "--deployment", "fedtest", "--insecure-fast-kdf"];
    for c in certifies {
        args.extend(["--certifies", c]);
    }
    ok(&args)
}

#[test]
fn organisations_join_a_federation_each_with_its_own_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |s: &str| tmp.path().join(s);
    let out = org(&d("t0"), "org-t0", &["trustee/trustee-0", "operator/trustee-0/*"]);
    assert!(out.contains("CA SHA256:"), "{out}");
    org(&d("t1"), "org-t1", &["trustee/trustee-1", "operator/trustee-1/*"]);
    org(&d("police"), "police", &["agency/agency-1"]);
    // Each organisation issues its own parties; a trustee's key joins its entry.
    let out = ok(&["org", "issue", p(&d("t0")), "--role", "trustee", "--id", "trustee-0", "--insecure-fast-kdf"]);
    assert!(out.contains("pins trustee trustee-0's signing key"), "{out}");
    ok(&["org", "issue", p(&d("t0")), "--role", "operator", "--id", "alice", "--trustee", "trustee-0", "--days", "1"]);
    // An organisation cannot issue what its entry does not certify.
    let (okay, out) =
        escrow(&["org", "issue", p(&d("t0")), "--role", "operator", "--id", "mallory", "--trustee", "trustee-1"]);
    assert!(!okay && out.contains("does not certify operator mallory of trustee-1"), "{out}");
    let (okay, out) = escrow(&["org", "issue", p(&d("police")), "--role", "agency", "--id", "agency-2"]);
    assert!(!okay && out.contains("does not certify"), "{out}");
    // A second CA over the first is refused.
    let (okay, out) = escrow(&["org", "init", p(&d("t0")), "--name", "x", "--deployment", "fedtest"]);
    assert!(!okay && out.contains("already holds an organisation"), "{out}");

    let fed = d("federation.toml");
    let entries = [d("t0/entry.toml"), d("t1/entry.toml"), d("police/entry.toml")];
    let out = ok(&["federation", "add", p(&fed), p(&entries[0]), p(&entries[1]), p(&entries[2])]);
    assert_eq!(out.matches("joined: ").count(), 3, "{out}");
    let out = ok(&["federation", "verify", p(&fed)]);
    assert!(out.contains("3 organisations, every entry signed by its own CA"), "{out}");
    let out = ok(&["federation", "show", p(&fed)]);
    assert!(out.contains("1 of 2 trustees"), "{out}");
    assert!(out.contains("No organisation's CA certifies the operators of more than one trustee"), "{out}");
    // Adding the same entry again is not a replacement.
    let (okay, out) = escrow(&["federation", "add", p(&fed), p(&entries[2])]);
    assert!(!okay && out.contains("generation 1 does not supersede generation 1"), "{out}");
    // An organisation that claims another's identities does not join.
    org(&d("rogue"), "rogue", &["trustee/trustee-1", "operator/trustee-1/*"]);
    let (okay, out) = escrow(&["federation", "add", p(&fed), p(&d("rogue/entry.toml"))]);
    assert!(!okay && out.contains("rogue/entry.toml") && out.contains("org-t1"), "{out}");
    assert_eq!(ok(&["federation", "verify", p(&fed)]).matches("3 organisations").count(), 1, "unchanged");

    // A rotation: the new entry names a new CA and keeps the old one for an hour.
    let out = ok(&["org", "rotate", p(&d("police")), "--overlap-hours", "1", "--insecure-fast-kdf"]);
    assert!(out.contains("new CA SHA256:"), "{out}");
    let out = ok(&["federation", "add", p(&fed), p(&entries[2])]);
    assert!(out.contains("replaced: police generation 1 -> 2, NEW CA"), "{out}");
    assert!(ok(&["federation", "show", p(&fed)]).contains("(+1 retired)"));
    assert!(d("police/ca.1.pem").exists() && d("police/ca.1.key").exists());

    // The one-root layout of `escrow pki init` says what it is.
    ok(&["pki", "init", p(&d("one")), "--trustees", "3", "--insecure-fast-kdf"]);
    let out = ok(&["federation", "show", p(&d("one/federation.toml"))]);
    assert!(out.contains("3 of 3 trustees") && out.contains("ONE ROOT"), "{out}");
}

/// Users split by home between two identity providers: the UK's organisation issues
/// alice with `--home uk`, her certificate names it, and it cannot issue a US home or
/// a user without one; `--home` is for users only, and a bad home is refused, with
/// nothing written.
#[test]
fn an_identity_provider_certifies_its_own_homes_users() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |s: &str| tmp.path().join(s);
    let uk = d("uk");
    org(&uk, "uk-id", &["user/uk/*"]);
    let out = ok(&["org", "issue", p(&uk), "--role", "user", "--id", "alice", "--home", "uk", "--insecure-fast-kdf"]);
    assert!(out.contains("alice"), "{out}");
    let out = ok(&["pki", "show", p(&d("uk/user-alice.pem"))]);
    assert!(out.contains("user alice (home uk) (escrow:role/user/uk/alice)"), "{out}");
    for (args, want) in [
        (vec!["--role", "user", "--id", "bob", "--home", "us"], "does not certify user bob (home us)"),
        (vec!["--role", "user", "--id", "bob"], "does not certify user bob"),
        (vec!["--role", "agency", "--id", "agency-1", "--home", "uk"], "--home is only for users"),
        (vec!["--role", "user", "--id", "bob", "--home", "UK"], "--home \"UK\""),
    ] {
        let mut all = vec!["org", "issue", p(&uk)];
        all.extend(args);
        let (okay, out) = escrow(&all);
        assert!(!okay && out.contains(want), "{want}: {out}");
    }
    assert!(!d("uk/user-bob.pem").exists() && !d("uk/agency-1.pem").exists(), "nothing written");
}

/// `federation show --json`: every organisation with its CA, what it certifies and
/// pins, and at how many of the trustees one stolen key of its CA approves; the
/// one-root verdict as a field.
#[test]
fn federation_show_prints_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |s: &str| tmp.path().join(s);
    let out = org(&d("t0"), "org-t0", &["trustee/trustee-0", "operator/trustee-0/*"]);
    let fingerprint = out.split("CA ").nth(1).unwrap().lines().next().unwrap().to_string();
    org(&d("t1"), "org-t1", &["trustee/trustee-1", "operator/trustee-1/*"]);
    org(&d("police"), "police", &["agency/agency-1"]);
    ok(&["org", "issue", p(&d("t0")), "--role", "trustee", "--id", "trustee-0", "--insecure-fast-kdf"]);
    ok(&["org", "issue", p(&d("t1")), "--role", "trustee", "--id", "trustee-1", "--insecure-fast-kdf"]);
    let fed = d("federation.toml");
    let entries = [d("t0/entry.toml"), d("t1/entry.toml"), d("police/entry.toml")];
    ok(&["federation", "add", p(&fed), p(&entries[0]), p(&entries[1]), p(&entries[2])]);
    let shown = |fed: &Path| -> serde_json::Value {
        let out = ok(&["federation", "show", p(fed), "--json"]);
        assert_eq!(out.lines().count(), 1, "one line of JSON: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let v = shown(&fed);
    assert_eq!(v["deployment"], "fedtest", "{v}");
    assert!(v["digest"].as_str().unwrap().starts_with("SHA256:"), "{v}");
    assert_eq!(v["trustees"], 2, "{v}");
    assert_eq!(v["one_root"], false, "{v}");
    assert_eq!(v["widest_reach"], 1, "{v}");
    let orgs = v["organisations"].as_array().unwrap();
    let names: Vec<&str> = orgs.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["org-t0", "org-t1", "police"], "{v}");
    assert_eq!(orgs[0]["ca_fingerprint"], fingerprint.as_str(), "{v}");
    assert_eq!(orgs[0]["generation"], 2, "{v}");
    assert_eq!(orgs[0]["certifies"], serde_json::json!(["trustee/trustee-0", "operator/trustee-0/*"]), "{v}");
    assert_eq!(orgs[0]["pins"], serde_json::json!([{ "kind": "trustee", "name": "trustee-0" }]), "{v}");
    assert_eq!(orgs[0]["approves_at"], serde_json::json!({ "trustees": 1, "of": 2 }), "{v}");
    assert_eq!(orgs[2]["approves_at"], serde_json::json!({ "trustees": 0, "of": 2 }), "{v}");
    assert_eq!(orgs[2]["retired_cas"], 0, "{v}");

    ok(&["pki", "init", p(&d("one")), "--trustees", "3", "--insecure-fast-kdf"]);
    let v = shown(&d("one/federation.toml"));
    assert_eq!(v["one_root"], true, "{v}");
    assert_eq!(v["widest_reach"], 3, "{v}");
    assert_eq!(v["organisations"][0]["approves_at"], serde_json::json!({ "trustees": 3, "of": 3 }), "{v}");
}

#[test]
fn a_forged_or_altered_federation_is_refused_by_every_command_that_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    ok(&["pki", "init", p(&pki), "--trustees", "2", "--insecure-fast-kdf"]);
    let fed = pki.join("federation.toml");
    let good = std::fs::read_to_string(&fed).unwrap();
    // The one-root entry widened by hand to a new agency pattern: the signature no
    // longer covers it. Then a signature byte flipped.
    let widened = good.replacen("\"agency/*\",", "\"agency/*\",\n  \"witness/w9\",", 1);
    assert_ne!(widened, good);
    let sig_line = good.lines().find(|l| l.starts_with("signature = ")).unwrap();
    let flipped_sig = {
        let b64 = sig_line.trim_start_matches("signature = \"").trim_end_matches('"');
        let mut chars: Vec<char> = b64.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        format!("signature = \"{}\"", chars.into_iter().collect::<String>())
    };
    let flipped = good.replacen(sig_line, &flipped_sig, 1);
    for (what, bad) in [("altered entry", widened), ("forged signature", flipped)] {
        std::fs::write(&fed, &bad).unwrap();
        let profile = pki.join("trustee-0.profile.toml");
        let agency = pki.join("agency-1.profile.toml");
        let data = tmp.path().join("data");
        let policy = tmp.path().join("policy.toml");
        if !policy.exists() {
            let (okay, out) = escrow(&["trustee", "policy", "--id", "trustee-0", "--out", p(&policy)]);
            assert!(okay, "{out}");
        }
        let runs: [Vec<&str>; 6] = [
            vec!["federation", "verify", p(&fed)],
            vec!["federation", "show", p(&fed)],
            vec!["federation", "add", p(&fed), p(&fed)],
            vec!["--federation", p(&fed), "health", "--addr", "127.0.0.1:1", "--role", "trustee"],
            vec!["--profile", p(&agency), "warrant", "list", "--trustee", "127.0.0.1:1"],
            vec!["--profile", p(&profile), "trustee", "serve", "--data-dir", p(&data)]
                .into_iter()
                .chain(["--policy", p(&policy), "--listen", "127.0.0.1:0"])
                .collect(),
        ];
        for args in runs {
            let (okay, out) = escrow(&args);
            assert!(!okay, "{what}: escrow {args:?} accepted it: {out}");
            assert!(
                out.contains("federation.toml") && out.contains("organisation \"root\""),
                "{what}: {args:?}: {out}"
            );
        }
        assert!(!data.exists(), "{what}: a refused start wrote nothing");
    }
    std::fs::write(&fed, &good).unwrap();
    assert!(ok(&["federation", "verify", p(&fed)]).contains("1 organisations"));
}
