//! The demo's verdicts can fail: each adversary scenario passes as shipped, and with
//! its safeguard sabotaged (`--sabotage`, hidden) the demo reports it FAILED and exits
//! non-zero. Real processes: the `escrow` binary, its trustee and relay children.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

/// Runs the demo; returns whether it succeeded, its output, and its `--summary-json` summary
/// (null if it wrote none).
fn demo(args: &[&str]) -> (bool, String, serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_escrow"))
        .arg("demo")
        .args(args)
        .arg("--summary-json")
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
fn secret_order_fails_when_the_order_also_reaches_the_foreign_trustee() {
    passes_and_fails_when_sabotaged("secret-order", "E secret order");
}

/// Scenario J: sabotaged, the "all-of" relay and apps run any-of, and the UK opens
/// its share of a US user's messages alone.
#[test]
fn own_users_fails_when_all_of_is_any_of_after_all() {
    passes_and_fails_when_sabotaged("own-users", "J only our own users");
}

#[test]
fn after_the_fact_fails_when_the_key_is_not_destroyed() {
    passes_and_fails_when_sabotaged("after-the-fact", "F after the fact");
}

#[test]
fn metadata_only_fails_when_an_app_leaks_text_into_a_label() {
    passes_and_fails_when_sabotaged("metadata-only", "G metadata only");
}

#[test]
fn surveillance_target_fails_when_an_operator_names_the_target_in_the_log() {
    passes_and_fails_when_sabotaged("surveillance-target", "H surveillance target");
}

/// Scenario I alone: the same warrant opens the same messages per message and with
/// one day key; the leaked day key opens the two messages of that day outside the
/// warrant's hours and none of the next day; every approving trustee refuses one of
/// those per message.
#[test]
fn day_keys_open_what_the_warrant_covers_and_a_leaked_one_the_whole_day() {
    let (ok, text, summary) = demo(&["day-keys"]);
    assert!(ok, "{text}");
    assert_eq!(result(&summary, "I day keys"), "ok", "{summary}");
    let row = summary["scenarios"].as_array().unwrap().iter().find(|r| r["scenario"] == "I day keys").unwrap();
    assert_eq!(
        row["observed"], "3 and 3 opened; the day key opens 2 outside the hours; 3 of 3 trustees refuse it per message",
        "{summary}"
    );
    for line in ["day 9 19:30 alice -> bob: \"dinner at mum's tonight?\"", "day 9 19:45 bob -> alice:"] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert!(!text.contains("thanks for last night"), "the next day's message opened:\n{text}");
    assert!(text.contains("refused: "), "{text}");
}

#[test]
fn an_unknown_scenario_is_refused_with_the_list() {
    let (ok, text, summary) = demo(&["no-such-scenario"]);
    assert!(!ok);
    assert!(summary.is_null(), "a refused run wrote a summary: {summary}");
    assert!(text.contains("forged-field") && text.contains("key-theft"), "{text}");
}

/// A line's run of exactly ten digits starting with 17: a Unix time of the demo's
/// calendar (2026) printed raw.
fn raw_times(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() == 10 && run.starts_with("17") {
                found.push(run.clone());
            }
            run.clear();
        }
    }
    found
}

/// By default the whole demo is for a reader: every line fits 100 columns, no raw Unix
/// time appears, the scenarios come in the order of the argument (lawful access, its
/// limits, the critics' case, then the machinery), each ends with why it matters, the
/// audit is a short summary with the full report in a file, and a closing paragraph
/// ends it. The JSON summary keeps its rows and order.
#[test]
fn the_default_output_is_for_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("audit.md");
    let (ok, text, summary) = demo(&["--audit-report", report.to_str().unwrap()]);
    assert!(ok, "{text}");
    let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 100).collect();
    assert!(wide.is_empty(), "{} lines wider than 100 columns:\n{}", wide.len(), wide.join("\n"));
    assert_eq!(raw_times(&text), Vec::<String>::new(), "raw Unix times in:\n{text}");
    let told = [
        "== Scenario 1: lawful access",
        "== Scenario 2: denied",
        "== Scenario 3: over-reach",
        "== Scenario 6: key theft",
        "== Scenario E: one secret order",
        "== Scenario J: only our own users",
        "== Scenario 5: circumvention",
        "== Scenario 4: forged escrow field",
        "== Scenario 7: trustee outage",
        "== Scenario F: after the fact",
        "== Scenario I: day keys",
        "== Scenario G: metadata only",
        "== Scenario H: the surveillance system as a target",
        "== Scenario 8: a cheating trustee",
        "== Scenario D: a stolen certificate authority",
        "== Scenario 9: witnesses",
        "== Scenario C: a trustee that rewrites its log",
        "== Scenarios A and B: the auditor",
        "== Summary",
        "What this showed.",
    ];
    let at: Vec<usize> = told.iter().map(|h| text.find(h).unwrap_or_else(|| panic!("no {h:?} in:\n{text}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {told:?} at {at:?}");
    assert_eq!(text.matches("Why it matters:").count(), 18, "{text}");
    // The opening says what the key is, in plain words, before anything else.
    assert!(text.starts_with("escrow demo: the encryption debate"), "{text}");
    assert!(text.contains("Any 3 of the 5 can use it") && text.contains("destroyed on day 8"), "{text}");
    // Refusals in words, not gRPC codes; dates as days.
    for code in ["PermissionDenied", "InvalidArgument", "Unavailable"] {
        assert!(!text.contains(code), "{code} in:\n{text}");
    }
    // (A table cell: the words may wrap onto the next line.)
    assert!(text.contains("refused: sent at day 3 07:00") && text.contains("day 3 00:00"), "{text}");
    // The audit: a summary here, the full report in the file.
    assert!(!text.contains("## Per warrant"), "{text}");
    assert!(text.contains(&format!("per warrant, agency, court, trustee and month: {}", report.display())), "{text}");
    let full = std::fs::read_to_string(&report).unwrap();
    assert!(full.starts_with("# escrow audit report") && full.contains("## Per warrant"), "{full}");
    // The JSON summary: every row, in id order, all ok.
    let ids: Vec<&str> =
        summary["scenarios"].as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    let first: String = ids.iter().map(|id| id.chars().next().unwrap()).collect();
    assert_eq!(first, "123456789ABCDEFGHIJ", "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
}

/// `--verbose` keeps the engineer's detail: warrant ids, submission tables, gRPC codes
/// and times as the servers sent them.
#[test]
fn verbose_keeps_the_detail() {
    let (ok, text, _) = demo(&["over-reach", "--verbose"]);
    assert!(ok, "{text}");
    assert!(text.contains("high-court signs warrant") && text.contains("state after submission"), "{text}");
    assert!(text.contains("PermissionDenied: item 0: out of scope"), "{text}");
    assert!(!raw_times(&text).is_empty(), "{text}");
    let (ok, plain, _) = demo(&["over-reach"]);
    assert!(ok, "{plain}");
    assert!(!plain.contains("PermissionDenied") && !plain.contains("state after submission"), "{plain}");
    assert!(raw_times(&plain).is_empty(), "{plain}");
}
