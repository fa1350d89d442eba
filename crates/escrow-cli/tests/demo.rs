//! The demo's verdicts can fail: each adversary scenario passes as shipped, and with
//! its safeguard sabotaged (`--sabotage`, hidden) the demo reports it FAILED and exits
//! non-zero. Real processes: the `escrow` binary, its trustee and relay children.

use std::process::Command;

fn demo(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_escrow"))
        .arg("demo")
        .args(args)
        .env_remove("ESCROW_PASSPHRASE")
        .env_remove("ESCROW_PROFILE")
        .output()
        .expect("the escrow binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The summary row of `scenario`, e.g. "4 forged field".
fn row<'a>(text: &'a str, scenario: &str) -> &'a str {
    let summary = text.split("== Summary").nth(1).unwrap_or_else(|| panic!("no summary in:\n{text}"));
    summary.lines().find(|l| l.contains(scenario)).unwrap_or_else(|| panic!("no row {scenario} in:\n{summary}"))
}

fn passes_and_fails_when_sabotaged(name: &str, scenario: &str) {
    let (ok, text) = demo(&[name]);
    assert!(ok, "escrow demo {name} failed:\n{text}");
    assert!(row(&text, scenario).trim_end_matches('│').trim_end().ends_with("ok"), "{}", row(&text, scenario));
    let (ok, text) = demo(&[name, "--sabotage", name]);
    assert!(!ok, "a sabotaged {name} must make the demo exit non-zero:\n{text}");
    assert!(row(&text, scenario).contains("FAILED"), "{}", row(&text, scenario));
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
fn an_unknown_scenario_is_refused_with_the_list() {
    let (ok, text) = demo(&["no-such-scenario"]);
    assert!(!ok);
    assert!(text.contains("forged-field") && text.contains("key-theft"), "{text}");
}
