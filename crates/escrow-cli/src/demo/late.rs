//! Scenario F: after the fact. A warrant for the day of an attack arrives after that
//! week's key was destroyed: the relay still has the messages and nobody can open them.
//! Then the sweep behind it: longer epochs and longer retention answer more late
//! warrants, and let one theft of an epoch's shares read more.

use super::adversaries::next_week;
use super::{day_time, narrate, table, Deployment, Outcome};
use crate::CliError;

/// Days between an epoch's end and the destruction of its key, as in this demo (epoch
/// 1 ends on day 7, its shares are destroyed on day 8).
const GRACE_DAYS: f64 = 1.0;

/// (epoch length, relay retention), in days, for the sweep.
const SWEEP: [(f64, f64); 5] = [(1.0, 30.0), (7.0, 30.0), (30.0, 30.0), (30.0, 365.0), (365.0, 365.0)];

/// Warrant delays, in days, for the sweep.
const DELAYS: [(f64, &str); 3] = [(1.0, "a day late"), (7.0, "a week late"), (30.0, "a month late")];

pub(super) async fn after_the_fact(d: &mut Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario F: after the fact ===============================================");
    say!(
        "Something happens on day 2, and only later do investigators learn whom to look at. Their \
         warrant for alice's messages of {} arrives on day 8, after this week's key was destroyed \
         on schedule.",
        narrate::days(day_time(1, 0), day_time(3, 0))
    );
    let destroy = !d.sabotaged("after-the-fact");
    if !destroy {
        say!("(sabotaged run: the clock stops before epoch 1's destruction time)");
    }
    next_week(d, destroy).await?;
    let (w, id) = d.sign_warrant(&["alice"], day_time(1, 0), day_time(3, 0), "R v. A, 2026/150")?;
    d.quorum(&w, id).await?;
    detail!("Warrant {id} for alice, days 1-2, approved by trustee-0 and trustee-3, and trustee-2 by policy.");
    let report = d.open(&w).await?;
    say!(
        "The court signs it and three trustees approve. The relay still keeps the {} messages it \
         covers; the agency opens {}{}.",
        report.exported,
        report.opened.len(),
        report.failed.first().map(|(_, why)| format!(": {why}")).unwrap_or_default()
    );
    let scale = escrow_tradeoffs::Scale::DEFAULT;
    say!(
        "The same choice in general: the share of late warrants that can still be answered, against \
         what one theft of an epoch's shares reads ({} users sending {} messages a day; keys \
         destroyed a day after their epoch ends):",
        escrow_tradeoffs::amount(scale.users),
        scale.messages_per_user_day
    );
    let mut header = vec!["epoch", "relay keeps"];
    header.extend(DELAYS.iter().map(|(_, h)| *h));
    header.push("one stolen epoch opens");
    let mut t = table(&header);
    for (epoch, retention) in SWEEP {
        let mut row = vec![days_word(epoch), days_word(retention)];
        for (delay, _) in DELAYS {
            let share = escrow_tradeoffs::answerable(epoch, GRACE_DAYS, retention, delay)?;
            row.push(format!("{:.0}%", share * 100.0));
        }
        let exposed = scale.users * scale.messages_per_user_day * epoch;
        row.push(format!("{} messages", escrow_tradeoffs::amount(exposed)));
        t.add_row(row);
    }
    say!("{t}");
    say!(
        "Why it matters: destroying keys is what limits a theft to one epoch, and it is also what \
         makes evidence disappear. Investigators want long epochs and long retention; security \
         wants short ones. Any choice is a trade, in these numbers."
    );
    let ok = report.exported > 0 && report.opened.is_empty();
    Ok(Outcome {
        scenario: "F after the fact",
        expected: "after the key's destruction, a warrant for its days opens nothing".into(),
        observed: format!("{} exported, {} opened", report.exported, report.opened.len()),
        ok,
    })
}

/// "1 day", "7 days", "1 year".
fn days_word(days: f64) -> String {
    if days == 365.0 {
        "1 year".to_owned()
    } else if days == 1.0 {
        "1 day".to_owned()
    } else {
        format!("{days:.0} days")
    }
}
