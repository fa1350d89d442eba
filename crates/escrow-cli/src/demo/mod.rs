//! `escrow demo`: a real local deployment — five trustee processes with different
//! policies, a relay and three witnesses, on loopback ports, sharing a simulated
//! calendar — walked through the scenarios of docs/design.md, "Demos" (the adversaries
//! in `adversaries`). Users, operators and the agency are played by this process over
//! gRPC. Exits non-zero if any outcome differs from what the design promises.
//!
//! What it prints is written for a reader who follows the debate rather than the code
//! (`narrate`); `--verbose` adds the engineer's detail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use comfy_table::Table;
use escrow_crypto::*;
use escrow_proto::v1 as pb;
use escrow_trustee::state::Action;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::files::SecretArgs;
use crate::CliError;

/// Appends a formatted line to the running scenario's text (see `narrate`).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::demo::narrate::push(&format!($($arg)*))
    };
}

/// [`say!`], only with `--verbose`: detail for engineers.
macro_rules! detail {
    ($($arg:tt)*) => {
        if $crate::demo::narrate::verbose() {
            say!($($arg)*);
        }
    };
}

mod adversaries;
mod bench;
mod days;
mod deploy;
mod domains;
mod exposure;
mod jurisdiction;
mod keep;
mod late;
pub(crate) mod narrate;
mod scenarios;
mod stolen_ca;
mod witnessing;

use narrate::Story;

use bench::bench;
use keep::keep;
use scenarios::{audit, denied, lawful_access, outage, over_reach, traffic};

const DAY: u64 = 86_400;

/// Every scenario `escrow demo <scenario>` runs alone, in the order a reader is told
/// them: what lawful access does, what stops it, what breaks it (the critics' case: key
/// theft, circumvention, forged fields, outages, ...), then the machinery that makes the
/// rest checkable.
const TOLD: [&str; 18] = [
    "lawful-access",
    "denied",
    "over-reach",
    "key-theft",
    "secret-order",
    "own-users",
    "circumvention",
    "forged-field",
    "outage",
    "after-the-fact",
    "day-keys",
    "metadata-only",
    "surveillance-target",
    "cheating-dealer",
    "stolen-ca",
    "witness-outage",
    "split-view",
    "audit",
];

/// Which scenario each summary row (by its first character) belongs to.
const ROW_OF: [(char, &str); 19] = [
    ('1', "lawful-access"),
    ('2', "denied"),
    ('3', "over-reach"),
    ('4', "forged-field"),
    ('5', "circumvention"),
    ('6', "key-theft"),
    ('7', "outage"),
    ('8', "cheating-dealer"),
    ('9', "witness-outage"),
    ('A', "audit"),
    ('B', "audit"),
    ('C', "split-view"),
    ('D', "stolen-ca"),
    ('E', "secret-order"),
    ('F', "after-the-fact"),
    ('G', "metadata-only"),
    ('H', "surveillance-target"),
    ('I', "day-keys"),
    ('J', "own-users"),
];

/// A summary row's place in the told order.
fn told_position(row: &str) -> usize {
    let scenario = row.chars().next().and_then(|c| ROW_OF.iter().find(|(k, _)| *k == c)).map(|(_, s)| *s);
    scenario.and_then(|s| TOLD.iter().position(|t| *t == s)).unwrap_or(TOLD.len())
}

const HOUR: u64 = 3_600;

/// Monday 2026-03-02 00:00 UTC: day 0 of the simulated calendar.
const DAY0: u64 = 1_772_409_600;

/// When every trustee destroys its share of epoch 1: day 8, after the traffic.
const EPOCH1_DESTROY_AT: u64 = DAY0 + 8 * DAY;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Leave the deployment running afterwards (also after --bench) and print where each
    /// process is and commands that work against it. The audit then skips its log tampering.
    #[arg(long)]
    pub keep: bool,
    /// Instead of the scenarios: measure opening N in-scope messages of one target over
    /// 30 days (n = 5, t = 2), per message and with day keys, two rows per N
    /// (comma-separated, e.g. 1000,10000,100000): wall time, the crypto floor, and each
    /// process's CPU time and peak memory.
    #[arg(long, value_name = "N,...", value_delimiter = ',')]
    pub bench: Option<Vec<usize>>,
    /// With --bench: the messages the relay holds in all (the rest are filler that is
    /// never in scope) [default: just the in-scope ones].
    #[arg(long, value_name = "M", requires = "bench")]
    pub bench_total: Option<usize>,
    /// With --bench: also write the rows as bench.json and the plot as bench.svg here.
    #[arg(long, value_name = "DIR", requires = "bench")]
    pub bench_out: Option<PathBuf>,
    /// Run one scenario only: lawful-access, denied, over-reach, secret-order,
    /// forged-field, circumvention, key-theft, outage, after-the-fact, day-keys,
    /// metadata-only, surveillance-target, witness-outage, stolen-ca, cheating-dealer,
    /// audit, split-view.
    pub scenario: Option<String>,
    /// Also write the summary as JSON to this file: {"scenarios": [{"scenario",
    /// "expected", "observed", "result"}], "failed": N}. `result` is ok, FAILED or skipped.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Print every table, warrant id and server message as sent (gRPC codes, Unix
    /// times): the detail an engineer wants. By default the text is for a reader.
    #[arg(long)]
    pub verbose: bool,
    /// Where the auditor's full report goes (Markdown) [default: escrow-demo-audit.md
    /// in the system's temporary directory].
    #[arg(long, value_name = "FILE")]
    pub audit_report: Option<PathBuf>,
    /// Test only: break the safeguard of one scenario (denied, forged-field,
    /// circumvention, key-theft, stolen-ca, secret-order, after-the-fact,
    /// metadata-only, surveillance-target) to check that the demo then reports it
    /// FAILED.
    #[arg(long, hide = true, value_name = "SCENARIO")]
    pub sabotage: Option<String>,
}

struct TrusteePlan {
    name: &'static str,
    role: &'static str,
    approval: &'static str,
    max_window_days: u64,
    quota: u64,
}

const TRUSTEES: [TrusteePlan; 5] = [
    TrusteePlan {
        name: "trustee-0",
        role: "court liaison office",
        approval: "operator",
        max_window_days: 14,
        quota: 100_000,
    },
    TrusteePlan {
        name: "trustee-1",
        role: "civil-liberties body",
        approval: "operator",
        max_window_days: 7,
        quota: 5_000,
    },
    TrusteePlan { name: "trustee-2", role: "the provider", approval: "auto", max_window_days: 14, quota: 100_000 },
    TrusteePlan {
        name: "trustee-3",
        role: "parliamentary committee",
        approval: "operator",
        max_window_days: 7,
        quota: 10_000,
    },
    TrusteePlan {
        name: "trustee-4",
        role: "foreign jurisdiction",
        approval: "operator",
        max_window_days: 3,
        quota: 2_000,
    },
];

/// One message of the simulated traffic.
struct Msg {
    day: u64,
    hour: u64,
    from: &'static str,
    to: &'static [&'static str],
    text: &'static str,
}

const TRAFFIC: &[Msg] = &[
    Msg { day: 0, hour: 9, from: "alice", to: &["bob"], text: "lunch on monday?" },
    Msg { day: 0, hour: 18, from: "bob", to: &["carol"], text: "the invoice is attached" },
    Msg { day: 1, hour: 8, from: "bob", to: &["alice"], text: "sure, noon at the usual place" },
    Msg { day: 1, hour: 12, from: "carol", to: &["dave"], text: "the report is late again" },
    Msg { day: 1, hour: 20, from: "alice", to: &["carol", "dave"], text: "did you both see the news?" },
    Msg { day: 2, hour: 10, from: "dave", to: &["bob"], text: "football tonight?" },
    Msg { day: 2, hour: 15, from: "alice", to: &["bob"], text: "bring the documents tomorrow" },
    Msg { day: 2, hour: 23, from: "carol", to: &["alice"], text: "call me when you land" },
    Msg { day: 3, hour: 7, from: "alice", to: &["bob"], text: "running late" },
    Msg { day: 3, hour: 11, from: "bob", to: &["dave"], text: "score was 2-1" },
];

/// The kit's deployment (trustee and relay processes of this binary), and what the
/// demo adds: the passphrase of its key files and the sabotaged scenario, if any.
struct Deployment {
    kit: escrow_kit::Deployment,
    passphrase: String,
    /// Test only: the scenario whose safeguard is sabotaged (see `DemoArgs::sabotage`).
    sabotage: Option<String>,
    /// Whether epoch 2 has been made and adopted (`adversaries::next_week`).
    next_week: bool,
}

impl std::ops::Deref for Deployment {
    type Target = escrow_kit::Deployment;
    fn deref(&self) -> &escrow_kit::Deployment {
        &self.kit
    }
}

impl std::ops::DerefMut for Deployment {
    fn deref_mut(&mut self) -> &mut escrow_kit::Deployment {
        &mut self.kit
    }
}

/// The outcome of one scenario for the final table.
struct Outcome {
    scenario: &'static str,
    expected: String,
    observed: String,
    ok: bool,
}

/// A table for the story: at most [`narrate::WIDTH`] columns, cells wrapped to fit.
fn table(header: &[&str]) -> Table {
    let mut t = wide_table(header);
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_width(narrate::WIDTH as u16);
    t
}

/// A table whose rows stay on one line however wide, for output that scripts parse
/// (`--keep`'s process list).
fn wide_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(header.to_vec());
    t
}

/// Something in the demo did not go as its scenarios require.
fn err(e: impl std::fmt::Display) -> CliError {
    CliError::Findings(e.to_string())
}

/// What trustee `name` is, for a reader: "the court liaison office"; `name` itself if
/// it is not one of the demo's trustees.
fn role(name: &str) -> String {
    match TRUSTEES.iter().find(|t| t.name == name).map(|t| t.role) {
        Some("the provider") => "the provider".to_owned(),
        Some("foreign jurisdiction") => "the foreign trustee".to_owned(),
        Some(role) => format!("the {role}"),
        None => name.to_owned(),
    }
}

/// "a", "a and b", "a, b and c".
fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn day_time(day: u64, hour: u64) -> u64 {
    DAY0 + day * DAY + hour * HOUR
}

/// The users of the simulated traffic.
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// The in-process agency.
const AGENCY: &str = escrow_kit::deployment::AGENCY;

pub async fn run(a: DemoArgs) -> Result<(), CliError> {
    let only = a.scenario.as_deref();
    if let Some(s) = only {
        if !TOLD.contains(&s) {
            return Err(err(format!("unknown scenario {s:?}: {}", TOLD.join(", "))));
        }
    }
    narrate::set_verbose(a.verbose);
    let started = Instant::now();
    let mut d = Deployment::start(a.keep, a.bench.is_some()).await?;
    narrate::print_text(&narrate::take());
    d.sabotage = a.sabotage.clone();
    if let Some(sizes) = a.bench {
        let plan = bench::Plan { sizes, total: a.bench_total.unwrap_or(0), out: a.bench_out };
        bench(&d, &plan).await?;
        if a.keep {
            keep(&mut d, &[]).await?;
        }
        return Ok(());
    }
    let wants = |s: &str| only.is_none_or(|o| o == s);
    // Exactly the scenarios that will run, in the told order (lawful access also runs
    // for over-reach, which uses its warrant; split view never runs with --keep).
    let order: Vec<&'static str> = TOLD
        .into_iter()
        .filter(|s| match *s {
            "lawful-access" => wants(s) || wants("over-reach"),
            "split-view" => wants(s) && !a.keep,
            _ => wants(s),
        })
        .collect();
    let mut story = Story::new(order);
    let played = play(&mut d, &a, &mut story).await;
    // On a failure too: everything told so far, then what the failing scenario said.
    story.flush();
    narrate::print_text(&narrate::take());
    let (outcomes, skipped) = played?;

    let mut rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            let result = if o.ok { "ok" } else { "FAILED" };
            [o.scenario.into(), o.expected.clone(), o.observed.clone(), result.into()]
        })
        .collect();
    for (scenario, why) in &skipped {
        rows.push([scenario.to_string(), "not run with --keep".into(), format!("skipped: {why}"), "skipped".into()]);
    }
    // The JSON keeps its order (by scenario id); the table follows the story.
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if let Some(path) = &a.summary_json {
        write_summary_json(path, &rows, failed)?;
    }
    rows.sort_by_key(|r| (told_position(&r[0]), r[0].clone()));
    say!("\n== Summary ===================================================================");
    let mut t = table(&["scenario", "expected", "observed", "result"]);
    for r in rows {
        t.add_row(r.to_vec());
    }
    say!("{t}");
    for (scenario, why) in &skipped {
        say!("Skipped because of --keep: {scenario} ({why}). `escrow demo audit` without --keep runs it.");
    }
    if only.is_none() {
        closing();
    }
    say!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    narrate::print_text(&narrate::take());
    if a.keep {
        keep(&mut d, &skipped).await?;
    }
    if failed > 0 {
        return Err(err(format!("{failed} scenario(s) did not match the expected outcome")));
    }
    Ok(())
}

/// The scenarios `a` asks for, in the order the calendar and the epochs allow, each
/// told to `story` when done. Returns the outcomes and the scenarios `--keep` skipped.
async fn play(
    d: &mut Deployment,
    a: &DemoArgs,
    story: &mut Story,
) -> Result<(Vec<Outcome>, Vec<(&'static str, &'static str)>), CliError> {
    let only = a.scenario.as_deref();
    let wants = |s: &str| only.is_none_or(|o| o == s);
    let sent = traffic(d).await?;
    narrate::print_text(&narrate::take());
    let mut outcomes = Vec::new();
    // Runs a scenario if asked for, and tells its text under the same name.
    macro_rules! scene {
        ($name:literal, $run:expr) => {
            if wants($name) {
                outcomes.push($run.await?);
                story.done($name, narrate::take());
            }
        };
    }
    let mut w1 = None;
    if wants("lawful-access") || wants("over-reach") {
        let (o, w) = lawful_access(d).await?;
        if wants("lawful-access") {
            outcomes.push(o);
        }
        w1 = Some(w);
        story.done("lawful-access", narrate::take());
    }
    scene!("denied", denied(d));
    if let (true, Some(w)) = (wants("over-reach"), &w1) {
        outcomes.push(over_reach(d, w, &sent).await?);
        story.done("over-reach", narrate::take());
    }
    // While the relay holds only the traffic of days 0 to 3.
    scene!("metadata-only", exposure::metadata_only(d));
    if wants("outage") {
        outcomes.push(outage(d).await?);
        if a.keep {
            // Leave nothing down in the deployment that is kept.
            d.restart_down().await?;
            say!("(--keep: the three trustees that were stopped are started again.)");
        }
        story.done("outage", narrate::take());
    }
    scene!("witness-outage", witnessing::witness_outage(d));
    scene!("stolen-ca", stolen_ca::stolen_ca(d));
    // Days 5 and 6: after the day-4 scenarios above, so that the demo clock, and with
    // it every log's entry times, only moves forward (the auditor flags a step back).
    scene!("forged-field", adversaries::forged_field(d, &sent));
    scene!("circumvention", adversaries::circumvention(d));
    scene!("cheating-dealer", adversaries::cheating_dealer(d));
    // Before key theft, which destroys the epoch-1 shares the order takes.
    scene!("secret-order", jurisdiction::secret_order(d));
    // Its own two escrow domains, in this process: it needs nothing of the rest.
    scene!("own-users", domains::own_users(d));
    // It rotates the deployment to epoch 2 and destroys epoch 1: only what needs epoch 1
    // gone, or does not care, comes after.
    scene!("key-theft", adversaries::key_theft(d));
    // After key theft, which destroys epoch 1 (or alone, itself).
    scene!("after-the-fact", late::after_the_fact(d));
    // When the trustees hold most of the run's warrants.
    scene!("surveillance-target", exposure::surveillance_target(d));
    // In epoch 2, which key theft made with the day mode (or alone, itself); after the
    // surveillance target, whose counts are of the week's warrants.
    scene!("day-keys", days::day_keys(d));
    // Scenarios left out because of --keep: (summary row, why).
    let mut skipped: Vec<(&str, &str)> = Vec::new();
    if wants("audit") {
        // With --keep the auditor verifies and reconciles, but does not tamper: the kept
        // deployment's logs would fail every later audit.
        let report = a.audit_report.clone().unwrap_or_else(|| std::env::temp_dir().join("escrow-demo-audit.md"));
        outcomes.extend(audit(d, !a.keep, &report).await?);
        if a.keep {
            skipped.push((
                "B tampered logs",
                "it rewrites trustee-0's and trustee-3's logs, which would fail every later audit",
            ));
        }
        story.done("audit", narrate::take());
    }
    // Last of all: it forks trustee-1's log for good.
    if wants("split-view") {
        if a.keep {
            skipped.push(("C split view", "it forks trustee-1's log, which the witnesses then refuse for good"));
        } else {
            outcomes.push(witnessing::split_view(d).await?);
            story.done("split-view", narrate::take());
        }
    }
    Ok((outcomes, skipped))
}

/// What the whole run showed, and what no design can fix.
fn closing() {
    say!(
        "\nWhat this showed. Built as carefully as we know how, lawful access can be narrowed to \
         exactly what a warrant names (scenarios 1 and 3), refused by any three of five independent \
         bodies (2), and made visible to outside auditors, witnesses and courts (A, B, C). It cannot \
         stop three trustees, or whoever breaks into them, from silently reading a whole week of \
         everyone's messages (6), and one country's secret order reaches such a quorum unless the \
         access structure needs trustees from two countries (E). It does not touch anyone who \
         encrypts a second time (5). The threshold that keeps thieves out also stops lawful access \
         when enough trustees are down or refuse (7), and the key destruction that limits a theft \
         also destroys evidence (F). Without any key, the labels tell who talks to whom and when \
         (G), and every trustee's database is a list of targets worth stealing (H). No design fixes \
         these: they come with the key existing at all."
    );
    // The odds behind scenarios 6 and 7, for this deployment's n and t.
    if let Ok(r) = escrow_tradeoffs::exact(5, 2, 0.01, 0.05) {
        say!(
            "If each trustee were broken into with a chance of 1% a week and unavailable 5% of the \
             time, independently, this deployment would be opened without a warrant in about 1 week \
             in {}, and fail about 1 warrant in {}. If one order or one flaw can reach 4 of the 5 at \
             once, the first number is set by that event instead. `escrow tradeoffs` and \
             docs/tradeoffs.md put numbers on both sides.",
            escrow_tradeoffs::amount(1.0 / r.unauthorized),
            escrow_tradeoffs::amount(1.0 / r.fails)
        );
    }
}

/// The summary for scripts and tests: the same rows as the table, without borders.
fn write_summary_json(path: &Path, rows: &[[String; 4]], failed: usize) -> Result<(), CliError> {
    let scenarios: Vec<serde_json::Value> = rows
        .iter()
        .map(|[scenario, expected, observed, result]| {
            serde_json::json!({ "scenario": scenario, "expected": expected, "observed": observed, "result": result })
        })
        .collect();
    let text =
        serde_json::to_string_pretty(&serde_json::json!({ "scenarios": scenarios, "failed": failed })).map_err(err)?;
    std::fs::write(path, text + "\n").map_err(|e| CliError::io(path, e))
}
