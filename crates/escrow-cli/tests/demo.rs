//! The demo's verdicts can fail: each adversary scenario passes as shipped, and with
//! its safeguard sabotaged (`--sabotage`, hidden) the demo reports it FAILED and exits
//! non-zero. Real processes: the `escrow` binary, its trustee and relay children.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

/// Runs the demo; returns whether it succeeded, its output, and its `--json` summary
/// (null if it wrote none).
fn demo(args: &[&str]) -> (bool, String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_escrow"))
        .arg("demo")
        .args(args)
        .arg("--json")
        .arg(&json)
        .env_remove("ESCROW_PASSPHRASE")
        .env_remove("ESCROW_PROFILE")
        .output()
        .expect("the escrow binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let summary = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).expect("the summary is JSON"))
        .unwrap_or(serde_json::Value::Null);
    (out.status.success(), text, summary)
}

/// The result of `scenario` (e.g. "4 forged field") in the JSON summary.
fn result(summary: &serde_json::Value, scenario: &str) -> String {
    let rows = summary["scenarios"].as_array().unwrap_or_else(|| panic!("no summary: {summary}"));
    let row = rows.iter().find(|r| r["scenario"] == scenario).unwrap_or_else(|| panic!("no row {scenario}: {summary}"));
    row["result"].as_str().expect("result").to_string()
}

fn passes_and_fails_when_sabotaged(name: &str, scenario: &str) {
    let (ok, text, summary) = demo(&[name]);
    assert!(ok, "escrow demo {name} failed:\n{text}");
    assert_eq!(result(&summary, scenario), "ok", "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let (ok, text, summary) = demo(&[name, "--sabotage", name]);
    assert!(!ok, "a sabotaged {name} must make the demo exit non-zero:\n{text}");
    assert_eq!(result(&summary, scenario), "FAILED", "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    assert!(text.contains("scenario(s) did not match the expected outcome"), "{text}");
}

#[test]
fn denied_fails_when_a_third_trustee_approves() {
    passes_and_fails_when_sabotaged("denied", "2 denied");
}

#[test]
fn forged_field_fails_when_the_rogue_client_escrows_honestly() {
    passes_and_fails_when_sabotaged("forged-field", "4 forged field");
}

#[test]
fn circumvention_fails_when_the_pair_does_not_superencrypt() {
    passes_and_fails_when_sabotaged("circumvention", "5 circumvention");
}

#[test]
fn key_theft_fails_when_the_old_shares_are_kept() {
    passes_and_fails_when_sabotaged("key-theft", "6 key theft");
}

#[test]
fn stolen_ca_fails_when_the_thief_holds_a_second_trustee_organisations_key() {
    passes_and_fails_when_sabotaged("stolen-ca", "D stolen CA");
}

#[test]
fn an_unknown_scenario_is_refused_with_the_list() {
    let (ok, text, summary) = demo(&["no-such-scenario"]);
    assert!(!ok);
    assert!(summary.is_null(), "a refused run wrote a summary: {summary}");
    assert!(text.contains("forged-field") && text.contains("key-theft"), "{text}");
}
