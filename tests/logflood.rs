//! A caller flooding a server costs its log a few lines, not one per refused request:
//! the rate limiter's refusals are written once in full, then summarised per caller
//! per interval with their count (see `escrow_service::ratelimit`). Its own test binary
//! because it installs the process-wide tracing subscriber it counts the lines of.
//!
//! The measurement of issue 26 (16 tasks calling `GetInfo` for 5 s at one trustee)
//! prints the line count: `cargo nextest run -p escrow-tests --test logflood
//! --no-capture`.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use escrow_proto::v1 as pb;
use escrow_service::ratelimit::REPORT_INTERVAL;
use escrow_tests::*;
use tonic::Code;

/// Every line the subscriber writes, in order.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const TASKS: usize = 16;
const FLOOD: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_calls_is_logged_once_then_summarised_with_its_count() {
    let lines = Lines::default();
    let writer = lines.clone();
    // The filter of `escrow serve`'s default.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let d = deploy_plain(140).await;
    let client = d.agency_client(0).unwrap();
    let logged_before = lines.text().lines().count();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move {
                let (mut ok, mut refused, mut lost) = (0u64, 0u64, 0u64);
                while start.elapsed() < FLOOD {
                    match c.get_info(pb::GetInfoRequest {}).await {
                        Ok(_) => ok += 1,
                        // The rate limiter's refusals say when to retry; HTTP/2's own
                        // ENHANCE_YOUR_CALM (below) also reads as RESOURCE_EXHAUSTED.
                        Err(s)
                            if s.code() == Code::ResourceExhausted && s.metadata().contains_key("retry-after-ms") =>
                        {
                            refused += 1
                        }
                        // The server's HTTP/2 layer closes a connection on which it had to
                        // reset very many streams (each refusal answers before the request
                        // body is read), telling the client ENHANCE_YOUR_CALM: the requests in
                        // flight then are lost to the client, though the server may have
                        // counted them; the channel reconnects.
                        Err(s)
                            if matches!(
                                s.code(),
                                Code::Unknown | Code::Unavailable | Code::Cancelled | Code::ResourceExhausted
                            ) =>
                        {
                            lost += 1
                        }
                        Err(s) => panic!("{s:?}"),
                    }
                }
                (ok, refused, lost)
            })
        })
        .collect();
    let (mut ok, mut refused, mut lost) = (0, 0, 0);
    for t in tasks {
        let (o, r, l) = t.await.unwrap();
        ok += o;
        refused += r;
        lost += l;
    }
    let text = lines.text();
    let during: Vec<&str> = text.lines().skip(logged_before).collect();
    println!(
        "{TASKS} tasks x {FLOOD:?} of GetInfo: {ok} answered, {refused} refused, {lost} lost with a connection, {} log lines",
        during.len()
    );
    assert!(refused > 1000, "the flood must be refused many times to measure anything: {refused}");
    let rate_lines: Vec<&&str> = during.iter().filter(|l| l.contains("rate limited")).collect();
    assert_eq!(rate_lines.len(), 1, "{rate_lines:#?}");
    assert!(rate_lines[0].contains("WARN") && rate_lines[0].contains("agency agency-1"), "{}", rate_lines[0]);
    assert!(during.len() < 10, "{during:#?}");

    // Once the interval is over, the caller's next request writes the summary: one
    // line with every refusal not written. (The interval began at the first refusal,
    // once the burst was spent, well within 2 s of the start.)
    tokio::time::sleep((start + REPORT_INTERVAL + Duration::from_secs(2)).saturating_duration_since(Instant::now()))
        .await;
    client.clone().get_info(pb::GetInfoRequest {}).await.unwrap();
    let text = lines.text();
    let summary: Vec<&str> = text.lines().skip(logged_before).filter(|l| l.contains("rate limited")).skip(1).collect();
    assert_eq!(summary.len(), 1, "{summary:#?}");
    // Every refusal the client saw but the first is in the summary, and at most the
    // requests lost with a closed connection besides.
    let counted: u64 = summary[0]
        .split("rate limited: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {}", summary[0]));
    assert!((refused - 1..=refused - 1 + lost).contains(&counted), "{refused} refused, {lost} lost: {}", summary[0]);
    assert!(
        summary[0].contains("more refusals not logged") && summary[0].contains("agency agency-1"),
        "{}",
        summary[0]
    );
}
