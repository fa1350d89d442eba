//! `page`: the public transparency page, one HTML document rendered from what the
//! auditor found: the flags first, in red and in words, then each log's head and its
//! witnesses, the statistics with a chart and a table each, and the deployment's risk
//! figures. Pure: the caller verifies, reconciles and reports, and serves or writes the
//! result (`escrow audit serve`, `escrow audit report --html`).
//!
//! - Every string from a trustee or a log (origins, courts, agencies, flag texts) is
//!   escaped by the template (`maud`): a hostile origin cannot inject markup.
//! - Readable without colour: a flag says FLAG in words, a failed log says FAILED; the
//!   charts are bars labelled with their numbers, each beside a table of the same
//!   numbers. No script, no external resource: the page is one file.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use std::collections::BTreeMap;

use escrow_log::event::{Arrival, Decision};

use crate::history::{Details, EpochShare, ShareState, Step, Timeline};
use crate::report::{LogHead, Report, Row};

/// One trustee's log as this audit found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStatus {
    /// The address the auditor asked.
    pub address: String,
    /// Its log origin, once known.
    pub origin: Option<String>,
    /// The verified head, if the log verified.
    pub head: Option<LogHead>,
    /// Each witness whose cosigned view the log was found consistent with, and the
    /// size it cosigned.
    pub witnessed: Vec<(String, u64)>,
    /// What broke, if the log did not verify.
    pub failure: Option<String>,
}

impl LogStatus {
    /// How the page names the trustee: its origin, else the address asked.
    pub fn name(&self) -> &str {
        self.origin.as_deref().unwrap_or(&self.address)
    }
}

/// The risk calculator's figures for the deployment's own n and t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskFigures {
    /// Trustees.
    pub n: u16,
    /// Threshold: t + 1 open.
    pub t: u16,
    /// Chance per epoch that a trustee is compromised.
    pub p: f64,
    /// Chance that a trustee is unavailable.
    pub q: f64,
    /// P(at least t + 1 compromised in one epoch).
    pub unauthorized: f64,
    /// P(fewer than t + 1 available for a warrant).
    pub fails: f64,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// When the logs were fetched and verified (Unix seconds).
    pub checked_at: u64,
    /// Every trustee asked, verified or not.
    pub logs: &'a [LogStatus],
    /// The statistics over the verified logs.
    pub report: &'a Report,
    /// Each warrant's history (`history::timelines`).
    pub timelines: &'a [Timeline],
    /// Each epoch's shares (`history::epochs`).
    pub epochs: &'a BTreeMap<u64, Vec<EpochShare>>,
    /// The deployment's risk figures, if known.
    pub risk: Option<RiskFigures>,
}

/// A statistic: its heading, and how to read it from a row.
type Metric = (&'static str, fn(&Row) -> u64);

/// The statistics every table and chart shows, in order.
const METRICS: [Metric; 7] = [
    ("warrants received", |r| r.warrants_received),
    ("approvals", |r| r.approvals),
    ("denials", |r| r.denials),
    ("fields released", |r| r.fields_released),
    ("messages opened", |r| r.messages_opened),
    ("day keys released", |r| r.day_keys_released),
    ("day keys opened", |r| r.day_keys_opened),
];

/// The charts of each section: the five the public asks about first.
const CHARTED: [usize; 5] = [0, 1, 2, 3, 4];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:auto;padding:1rem;\
line-height:1.4;color:#111}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #999;\
padding:.2rem .5rem;text-align:right}th:first-child,td:first-child{text-align:left}\
.flags{border:3px solid #b00000;background:#fff0f0;padding:.5rem 1rem}.flags li{color:#b00000;\
font-weight:bold}.ok{border:2px solid #1a6b1a;padding:.5rem 1rem}.charts{display:flex;flex-wrap:wrap;\
gap:1rem}figure{margin:0}code{font-size:.9em}";

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let r = page.report;
    let failed: Vec<&LogStatus> = page.logs.iter().filter(|l| l.failure.is_some()).collect();
    let flag_count = failed.len() + r.flags.len();
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "escrow transparency report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "escrow transparency report" }
                    p {
                        "Every trustee's log, fetched and verified at "
                        time datetime=(iso(page.checked_at)) { (when(page.checked_at)) }
                        ": " (page.logs.len() - failed.len()) " of " (page.logs.len()) " logs verified, t = "
                        (r.threshold) " (" (r.threshold + 1) " trustees open a message), "
                        (flag_count) " flag" (if flag_count == 1 { "" } else { "s" }) "."
                    }
                }
                main {
                    (flags(&failed, &r.flags))
                    (logs(page.logs))
                    section aria-labelledby="stats" {
                        h2 id="stats" { "Statistics" }
                        p { "Counted from the logs alone: no target or case reference is in them." }
                        (stats("month", "Per month (UTC)", &r.per_month))
                        (stats("agency", "Per agency", &r.per_agency))
                        (stats("court", "Per court", &r.per_court))
                        (stats("trustee", "Per trustee", &r.per_trustee))
                    }
                    (warrants(page.timelines))
                    (epochs(page.epochs))
                    @if let Some(risk) = page.risk { (risk_section(&risk)) }
                }
            }
        }
    };
    doc.into_string()
}

/// The flags, first and in red; "FLAG" in words for readers without colour.
fn flags(failed: &[&LogStatus], flags: &[String]) -> Markup {
    html! {
        @if failed.is_empty() && flags.is_empty() {
            section class="ok" aria-labelledby="flags" {
                h2 id="flags" { "No flags" }
                p { "Every log verified, and reconciling them raised no flag." }
            }
        } @else {
            section class="flags" aria-labelledby="flags" role="alert" {
                h2 id="flags" { "Flags (" (failed.len() + flags.len()) ")" }
                ul {
                    @for l in failed {
                        li {
                            "FLAG: trustee " (l.name()) "'s log did not verify: "
                            (l.failure.as_deref().unwrap_or_default())
                        }
                    }
                    @for f in flags { li { "FLAG: " (f) } }
                }
            }
        }
    }
}

/// Each log's head, and the witnesses that cosigned it.
fn logs(logs: &[LogStatus]) -> Markup {
    html! {
        section aria-labelledby="logs" {
            h2 id="logs" { "Logs" }
            table {
                caption { "Each trustee's log as verified" }
                thead { tr {
                    th scope="col" { "trustee" } th scope="col" { "address" } th scope="col" { "verified" }
                    th scope="col" { "size" } th scope="col" { "root" } th scope="col" { "openings checked" }
                    th scope="col" { "still sealed" } th scope="col" { "witness cosignatures" }
                } }
                tbody {
                    @for l in logs {
                        tr {
                            th scope="row" { (l.name()) }
                            td { code { (l.address) } }
                            @match (&l.head, &l.failure) {
                                (Some(h), None) => {
                                    td { "yes" }
                                    td { (h.size) }
                                    td { code { (h.root.get(..16).unwrap_or(&h.root)) "…" } }
                                    td { (h.openings.checked) }
                                    td { (h.openings.sealed) }
                                }
                                (_, failure) => {
                                    td colspan="5" { strong { "FAILED: " } (failure.as_deref().unwrap_or("not verified")) }
                                }
                            }
                            td {
                                @if l.witnessed.is_empty() { "none" }
                                @for (i, (w, size)) in l.witnessed.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (w) " at size " (size)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One section of statistics: a chart per charted metric, and the table of them all.
fn stats(id: &str, heading: &str, rows: &[Row]) -> Markup {
    html! {
        section aria-labelledby=(id) {
            h3 id=(id) { (heading) }
            @if rows.is_empty() {
                p { "Nothing yet." }
            } @else {
                div class="charts" {
                    @for m in CHARTED {
                        @if let Some((name, value)) = METRICS.get(m) {
                            (bar_chart(&format!("{id}-{m}"), &format!("{name}, {}", lower_first(heading)), rows, *value))
                        }
                    }
                }
                table {
                    caption { (heading) ": the numbers of the charts, and day keys" }
                    thead { tr {
                        th scope="col" { (id) }
                        @for (name, _) in METRICS { th scope="col" { (name) } }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                th scope="row" { (row.key) }
                                @for (_, value) in METRICS { td { (value(row)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Horizontal bars, one per row, each labelled with its key and number.
fn bar_chart(id: &str, title: &str, rows: &[Row], value: fn(&Row) -> u64) -> Markup {
    const LABEL: u32 = 110;
    const BAR: u32 = 180;
    const STEP: u32 = 22;
    let max = rows.iter().map(value).max().unwrap_or(0).max(1);
    let height = STEP * u32::try_from(rows.len()).unwrap_or(u32::MAX / STEP).min(200) + 30;
    let width = LABEL + BAR + 50;
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) role="img"
                aria-labelledby=(format!("{id}-title")) {
                title id=(format!("{id}-title")) { (title) }
                text x="0" y="14" font-size="13" font-weight="bold" { (title) }
                @for (i, row) in rows.iter().take(200).enumerate() {
                    @let y = 24 + STEP * u32::try_from(i).unwrap_or(0);
                    @let v = value(row);
                    @let w = u32::try_from(u64::from(BAR) * v / max).unwrap_or(BAR);
                    text x=(LABEL - 6) y=(y + 14) font-size="12" text-anchor="end" { (short(&row.key)) }
                    rect x=(LABEL) y=(y) width=(w.max(1)) height=(STEP - 6) fill="#34495e" {}
                    text x=(LABEL + w + 4) y=(y + 14) font-size="12" { (v) }
                }
            }
        }
    }
}

/// "Per month (UTC)" as "per month (UTC)".
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// A chart's row label: at most 14 characters.
fn short(key: &str) -> String {
    if key.chars().count() <= 14 {
        key.to_string()
    } else {
        let mut s: String = key.chars().take(13).collect();
        s.push('…');
        s
    }
}

/// Each warrant's timeline, folded: a summary line, then every step.
fn warrants(all: &[Timeline]) -> Markup {
    html! {
        section aria-labelledby="warrants" {
            h2 id="warrants" { "Warrants" }
            p {
                "Each warrant's history as the trustees' logs record it (times UTC). Who it names and the \
                 case are in its sealed details, which the trustees open only after the notification delay."
            }
            @if all.is_empty() { p { "No warrant yet." } }
            @for t in all {
                details {
                    summary {
                        "Warrant " code { (t.id.get(..16).unwrap_or(&t.id)) "…" } " of " (t.court) " for " (t.agency)
                        ", window " (when(t.window.0)) " to " (when(t.window.1)) ": "
                        (count(t, |s| matches!(s, Step::Received(_)))) " received, "
                        (count(t, |s| matches!(s, Step::Received(Arrival::ApprovedByPolicy) | Step::Decided(Decision::Approve, ..)))) " approved, "
                        (count(t, |s| matches!(s, Step::Received(Arrival::DeniedByPolicy) | Step::Decided(Decision::Deny, ..)))) " denied; details "
                        @match t.details {
                            Details::Sealed { until } => { "sealed until " (when(until)) }
                            Details::Opened { at } => { "opened at " (when(at)) }
                        }
                    }
                    ol {
                        @for e in &t.events {
                            li { time datetime=(iso(e.time)) { (when(e.time)) } " " (e.trustee) ": " (step(&e.step)) }
                        }
                        li {
                            @match t.details {
                                Details::Sealed { until } => { "Details sealed until " time datetime=(iso(until)) { (when(until)) } "." }
                                Details::Opened { at } => {
                                    time datetime=(iso(at)) { (when(at)) }
                                    " details due, and opened: every log that verified since matched them to its commitment."
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn count(t: &Timeline, pick: impl Fn(&Step) -> bool) -> usize {
    t.events.iter().filter(|e| pick(&e.step)).count()
}

/// A step in words.
fn step(s: &Step) -> String {
    match s {
        Step::Received(Arrival::Received) => "received, waiting for its operator".into(),
        Step::Received(Arrival::ApprovedByPolicy) => "received and approved by policy".into(),
        Step::Received(Arrival::DeniedByPolicy) => "received and denied by policy".into(),
        Step::Decided(d, operator, reason) => {
            let what = match d {
                Decision::Approve => "approved",
                Decision::Deny => "denied",
                Decision::Revoke => "revoked",
            };
            if reason.is_empty() {
                format!("{what} by {operator}")
            } else {
                format!("{what} by {operator}: \"{reason}\"")
            }
        }
        Step::Fields(n) => format!("released shares of {n} message field(s)"),
        Step::DayKeys(n) => format!("released shares of {n} day key(s)"),
        Step::Refused(n, rule) => format!("refused {n} share request(s): {rule}"),
    }
}

/// Each epoch's shares: installed, due for destruction, destroyed on schedule or not.
fn epochs(all: &BTreeMap<u64, Vec<EpochShare>>) -> Markup {
    html! {
        section aria-labelledby="epochs" {
            h2 id="epochs" { "Epochs" }
            p { "Each trustee's share of each epoch's key, from its own log: a share held past its destruction time is marked OVERDUE." }
            @if all.is_empty() { p { "No epoch installed yet." } }
            @else {
                table {
                    caption { "Epoch keys: installed, and destroyed on schedule or not" }
                    thead { tr {
                        th scope="col" { "epoch" } th scope="col" { "trustee" } th scope="col" { "installed" }
                        th scope="col" { "to be destroyed by" } th scope="col" { "now" }
                    } }
                    tbody {
                        @for (epoch, shares) in all {
                            @for s in shares {
                                tr {
                                    th scope="row" { (epoch) }
                                    td { (s.trustee) }
                                    td { (when(s.installed)) }
                                    td { (s.destroy_at.map_or("not stated (a dealt key)".to_string(), when)) }
                                    td { (share_state(s.state)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn share_state(s: ShareState) -> Markup {
    html! {
        @match s {
            ShareState::Active | ShareState::Held => { "active" }
            ShareState::DestroyedOnSchedule { at } => { "destroyed on schedule, " (when(at)) }
            ShareState::DestroyedLate { at } => { strong { "DESTROYED LATE" } ", " (when(at)) }
            ShareState::Overdue => { strong { "OVERDUE" } ": still held after its destruction time" }
            ShareState::Destroyed { at } => { "destroyed, " (when(at)) }
        }
    }
}

fn risk_section(r: &RiskFigures) -> Markup {
    html! {
        section aria-labelledby="risk" {
            h2 id="risk" { "Risk, for this deployment's n and t" }
            p {
                "If each of the " (r.n) " trustees were compromised (its share stolen, or colluding) with a \
                 chance of " (pct(r.p)) " an epoch and unavailable " (pct(r.q)) " of the time, independently:"
            }
            table {
                caption { "The risk calculator's figures (escrow tradeoffs)" }
                thead { tr { th scope="col" { "n" } th scope="col" { "t" } th scope="col" { "opened without a warrant, per epoch" }
                    th scope="col" { "a warrant fails, per warrant" } } }
                tbody { tr {
                    th scope="row" { (r.n) } td { (r.t) }
                    td { (format!("{:.3e}", r.unauthorized)) " (about 1 epoch in " (one_in(r.unauthorized)) ")" }
                    td { (format!("{:.3e}", r.fails)) " (about 1 warrant in " (one_in(r.fails)) ")" }
                } }
            }
            p { "One order or one flaw that reaches t + 1 trustees at once sets the first figure instead." }
        }
    }
}

fn pct(x: f64) -> String {
    format!("{}%", x * 100.0)
}

/// "1 in N" for a probability, N rounded to a whole number.
fn one_in(p: f64) -> String {
    if p <= 0.0 {
        "never".into()
    } else {
        format!("{:.0}", 1.0 / p)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn iso(unix: u64) -> String {
    let (y, m, d) = crate::report::civil_from_days(unix / 86_400);
    let s = unix % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, (s % 3600) / 60, s % 60)
}

/// `YYYY-MM-DD HH:MM UTC`.
fn when(unix: u64) -> String {
    let (y, m, d) = crate::report::civil_from_days(unix / 86_400);
    let s = unix % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", s / 3600, (s % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Openings;

    fn row(key: &str, warrants: u64, opened: u64) -> Row {
        Row { key: key.into(), warrants_received: warrants, messages_opened: opened, ..Row::default() }
    }

    fn report(flags: Vec<String>) -> Report {
        Report {
            threshold: 2,
            logs: Vec::new(),
            per_warrant: Vec::new(),
            per_agency: vec![row("agency-1", 3, 7)],
            per_court: vec![row("high-court", 3, 7)],
            per_trustee: vec![row("trustee-0", 3, 7), row("<script>alert(1)</script>", 1, 0)],
            per_month: vec![row("2026-03", 3, 7)],
            flags,
        }
    }

    fn verified(origin: &str) -> LogStatus {
        LogStatus {
            address: "127.0.0.1:7000".into(),
            origin: Some(origin.into()),
            head: Some(LogHead {
                origin: origin.into(),
                size: 42,
                root: "ab".repeat(32),
                openings: Openings { checked: 1, sealed: 2 },
            }),
            witnessed: vec![("w1".into(), 42), ("w2".into(), 40)],
            failure: None,
        }
    }

    #[test]
    fn flags_come_first_in_words_and_name_the_trustee() {
        let mut broken = verified("trustee-3");
        broken.head = None;
        broken.failure = Some("root mismatch at size 42".into());
        let logs = vec![verified("trustee-0"), broken];
        let report = report(vec!["trustee-1 released a share of warrant ab12… without approval".into()]);
        let html = render(&Page {
            checked_at: 1_772_409_600,
            logs: &logs,
            report: &report,
            risk: None,
            timelines: &[],
            epochs: &BTreeMap::new(),
        });
        let flags = html.find("<h2 id=\"flags\">Flags (2)</h2>").expect("the flags heading");
        assert!(flags < html.find("<h2 id=\"logs\">").expect("the logs heading"), "flags first");
        assert!(html.contains("FLAG: trustee trustee-3's log did not verify: root mismatch at size 42"), "{html}");
        assert!(html.contains("FLAG: trustee-1 released a share of warrant ab12… without approval"), "{html}");
        assert!(html.contains("<strong>FAILED: </strong>root mismatch"), "{html}");
        assert!(html.contains("2026-03-02 00:00 UTC") && html.contains("1 of 2 logs verified"), "{html}");
    }

    #[test]
    fn a_clean_audit_says_so_and_shows_heads_witnesses_and_numbers() {
        let logs = vec![verified("trustee-0")];
        let report = report(Vec::new());
        let risk = RiskFigures { n: 5, t: 2, p: 0.01, q: 0.05, unauthorized: 9.851e-6, fails: 1.158e-3 };
        let html = render(&Page {
            checked_at: 0,
            logs: &logs,
            report: &report,
            risk: Some(risk),
            timelines: &[],
            epochs: &BTreeMap::new(),
        });
        assert!(html.contains("<h2 id=\"flags\">No flags</h2>"), "{html}");
        assert!(html.contains("w1 at size 42, w2 at size 40"), "{html}");
        assert!(html.contains(&format!("<code>{}…</code>", "ab".repeat(8))), "{html}");
        // Every charted metric has a chart per section, and the table beside it.
        assert_eq!(html.matches("<svg").count(), 4 * CHARTED.len(), "{html}");
        assert_eq!(html.matches("<table>").count(), 1 + 4 + 1, "{html}");
        assert!(html.contains("<th scope=\"row\">agency-1</th><td>3</td>"), "{html}");
        assert!(html.contains("9.851e-6 (about 1 epoch in 101513)"), "{html}");
        assert!(!html.contains("<script"), "no script, and nothing injected: {html}");
    }

    #[test]
    fn a_warrants_timeline_and_the_epochs_are_shown_in_words() {
        use crate::history::Moment;
        let logs = vec![verified("trustee-0")];
        let report = report(Vec::new());
        let moment = |time, step| Moment { time, trustee: "escrow-trustee/trustee-0".into(), step };
        let timelines = vec![Timeline {
            id: "ab".repeat(16),
            court: "high-court".into(),
            agency: "agency-1".into(),
            window: (1_772_409_600, 1_772_416_800),
            details: Details::Sealed { until: 1_780_000_000 },
            events: vec![
                moment(1_772_500_000, Step::Received(Arrival::Received)),
                moment(1_772_500_060, Step::Decided(Decision::Approve, "op-0".into(), "<i>ok</i>".into())),
                moment(1_772_500_120, Step::Fields(4)),
            ],
        }];
        let share = |state| EpochShare {
            trustee: "escrow-trustee/trustee-0".into(),
            installed: 1_772_409_600,
            destroy_at: Some(1_773_100_800),
            state,
        };
        let epochs = BTreeMap::from([
            (1, vec![share(ShareState::DestroyedOnSchedule { at: 1_773_100_800 })]),
            (2, vec![share(ShareState::Overdue)]),
        ]);
        let page =
            Page { checked_at: 0, logs: &logs, report: &report, risk: None, timelines: &timelines, epochs: &epochs };
        let html = render(&page);
        assert!(
            html.contains(&format!("Warrant <code>{}…</code> of high-court for agency-1", "ab".repeat(8))),
            "{html}"
        );
        assert!(
            html.contains("window 2026-03-02 00:00 UTC to 2026-03-02 02:00 UTC: 1 received, 1 approved, 0 denied"),
            "{html}"
        );
        assert!(
            html.contains("escrow-trustee/trustee-0: approved by op-0: &quot;&lt;i&gt;ok&lt;/i&gt;&quot;"),
            "{html}"
        );
        assert!(html.contains("released shares of 4 message field(s)"), "{html}");
        assert!(html.contains("Details sealed until <time datetime=\"2026-05-28T20:26:40Z\">"), "{html}");
        assert!(html.contains("destroyed on schedule, 2026-03-10 00:00 UTC"), "{html}");
        assert!(html.contains("<strong>OVERDUE</strong>: still held after its destruction time"), "{html}");
    }

    #[test]
    fn text_from_a_log_is_escaped() {
        let mut hostile = verified("<img src=x onerror=alert(1)>");
        hostile.witnessed = vec![("<b>w</b>".into(), 1)];
        let logs = vec![hostile];
        let report = report(vec!["<a href=\"javascript:x\">flag</a>".into()]);
        let html = render(&Page {
            checked_at: 0,
            logs: &logs,
            report: &report,
            risk: None,
            timelines: &[],
            epochs: &BTreeMap::new(),
        });
        assert!(!html.contains("<img") && !html.contains("<b>w") && !html.contains("<a href"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    }
}
