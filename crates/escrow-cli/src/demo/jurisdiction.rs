//! Scenario E: one secret order. Four of the demo's five trustees are in one country,
//! so one order served there reaches a quorum: its holder opens the epoch offline and no
//! log shows it. The same order against a compartmented key (3 of the 4 domestic
//! trustees *and* the foreign one) opens nothing, at a measured price in availability.

use escrow_crypto::compartment::{compartmented_dealer_keygen, Compartment, GroupSpec};
use escrow_crypto::*;
use rand::rngs::OsRng;
use rand::RngCore;

use super::adversaries::{steal_epoch1, thief_reads};
use super::{err, table, Deployment, Outcome, TRAFFIC};
use crate::CliError;

/// The domestic trustees: every one but the foreign jurisdiction (trustee-4).
const DOMESTIC: [usize; 4] = [0, 1, 2, 3];

/// Per-trustee outage probability for the availability comparison.
const Q: f64 = 0.05;

/// What the same order, the lawful route and an outage open under a compartmented key.
struct Compartmented {
    /// Messages re-sealed under the compartmented key.
    total: usize,
    /// Opened with the shares the order reaches.
    under_order: usize,
    /// The group `combine` named as short of its quorum under the order.
    short: Option<String>,
    /// Opened with 3 domestic shares and the foreign one (a lawful warrant).
    lawful: usize,
    /// Opened with every domestic share and the foreign trustee down.
    foreign_down: usize,
}

pub(super) async fn secret_order(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario E: one secret order =============================================");
    say!(
        "Four of the five trustees are in one country: the court liaison office, the \
         civil-liberties body, the provider and the parliamentary committee. Only the fifth is \
         abroad. A secret order in that country, like the technical capability notices the UK \
         served on Apple in 2025, compels the four to hand over their shares of this week's key \
         and to say nothing."
    );
    // The order: the four domestic trustees' shares, taken from their disks as they
    // would hand them over.
    let epoch1 = d.keys.public.clone();
    let mut shares = Vec::new();
    for i in DOMESTIC {
        let (_, share) = steal_epoch1(d, i)?.ok_or_else(|| err(format!("trustee-{i} holds no epoch-1 share")))?;
        shares.push(share);
    }
    let logs_before = d.total_log_entries().await?;
    let (total, opened) = thief_reads(d, &shares, &epoch1)?;
    let logs_after = d.total_log_entries().await?;
    say!(
        "With 4 shares, one more than a quorum, the order's holder opens {opened} of the {total} \
         messages of this week offline. The trustee logs hold {logs_before} entries before and \
         {logs_after} after: the order leaves no trace, and no auditor can see it."
    );

    let reaches_abroad = d.sabotaged("secret-order");
    if reaches_abroad {
        say!("(sabotaged run: the foreign trustee is in the same country, and the order reaches it too)");
    }
    let c = compartmented(d, reaches_abroad)?;
    let compartmented_fails = escrow_tradeoffs::exact_compartmented((4, 2), (1, 0), 0.01, Q)?.fails;
    let plain_fails = escrow_tradeoffs::exact(5, 2, 0.01, Q)?.fails;
    say!(
        "Now the same {} messages sealed under a key with a different shape: it opens only with \
         3 of the 4 domestic trustees *and* the foreign one (two keys' worth of shares, added \
         together; each share checked against its own group):",
        c.total
    );
    let mut t = table(&["who acts", "3 of any 5 (today)", "3 of 4 domestic and the foreign one"]);
    t.add_row(vec![
        "the secret order (4 domestic trustees)".into(),
        format!("{opened} of {total} open"),
        format!(
            "{} of {} open{}",
            c.under_order,
            c.total,
            c.short.as_deref().map(|g| format!(": the {g} group is short")).unwrap_or_default()
        ),
    ]);
    t.add_row(vec![
        "a lawful warrant (3 domestic and the foreign one)".into(),
        "opens (scenario 1)".into(),
        format!("{} of {} open", c.lawful, c.total),
    ]);
    // Under 3 of 5, the foreign trustee down and the four others willing is the order's
    // case: the same four shares.
    t.add_row(vec![
        "the foreign trustee down, the 4 others willing".into(),
        format!("{opened} of {total} open"),
        format!("{} of {} open", c.foreign_down, c.total),
    ]);
    t.add_row(vec![
        format!("P(lawful access fails), each trustee down {:.0}% of the time", Q * 100.0),
        escrow_tradeoffs::amount(plain_fails),
        escrow_tradeoffs::amount(compartmented_fails),
    ]);
    say!("{t}");
    say!(
        "Why it matters: spreading trustees over countries protects nothing if any 3 of 5 will \
         do, because one country's order can reach 3. An access structure that needs both groups \
         closes that door, and pays for it: the one foreign trustee becomes a veto and a single \
         point of failure, and lawful access fails {} times as often.",
        escrow_tradeoffs::amount(compartmented_fails / plain_fails)
    );
    let ok = opened > 0
        && logs_after == logs_before
        && c.under_order == 0
        && c.short.as_deref() == Some("foreign")
        && c.lawful == c.total
        && c.foreign_down == 0;
    Ok(Outcome {
        scenario: "E secret order",
        expected: "the order opens the week under 3 of 5; under 3 of 4 domestic and 1 foreign it opens none".into(),
        observed: format!(
            "3 of 5: {opened}/{total}, {} log entries; compartmented: order {}/{}, lawful {}/{}, foreign down {}/{}",
            logs_after - logs_before,
            c.under_order,
            c.total,
            c.lawful,
            c.total,
            c.foreign_down,
            c.total
        ),
        ok,
    })
}

/// A compartmented key (a dealer in this process, as for any trial key), this week's
/// traffic sealed under it as the users would, and what each set of trustees opens.
/// With `reaches_abroad` the order also takes the foreign trustee's share.
fn compartmented(d: &Deployment, reaches_abroad: bool) -> Result<Compartmented, CliError> {
    let groups =
        [GroupSpec { name: "domestic", threshold: 2, n: 4 }, GroupSpec { name: "foreign", threshold: 0, n: 1 }];
    let key = compartmented_dealer_keygen(EpochId(90), groups, &mut OsRng)?;
    let epk = key.public.epoch_public_key();
    let mut c = Compartmented { total: 0, under_order: 0, short: None, lawful: 0, foreign_down: 0 };
    for m in TRAFFIC {
        let recipients: Vec<UserPublicKey> =
            m.to.iter().map(|r| d.user(r).map(UserSecretKey::public)).collect::<Result<_, _>>()?;
        let mut message_id = [0u8; 16];
        OsRng.fill_bytes(&mut message_id);
        let env = Envelope::seal(
            &SealRequest {
                sender: d.user(m.from)?,
                recipients: &recipients,
                epoch_key: epk,
                message_id,
                timestamp: super::day_time(m.day, m.hour),
                plaintext: m.text.as_bytes(),
            },
            &mut OsRng,
        )?;
        c.total += 1;
        let share = |s: &TrusteeKeyShare| s.decrypt_share(epk, env.field(), env.label());
        let domestic: Vec<DecryptionShare> = key.shares(Compartment::A).iter().map(share).collect::<Result<_, _>>()?;
        let foreign: Vec<DecryptionShare> = key.shares(Compartment::B).iter().map(share).collect::<Result<_, _>>()?;
        let opens = |a: &[DecryptionShare], b: &[DecryptionShare]| {
            key.public.combine(env.field(), env.label(), a, b).map(|o| o.data_key)
        };
        // The order: every domestic share, and the foreign one only if it reaches abroad.
        let ordered: &[DecryptionShare] = if reaches_abroad { &foreign } else { &[] };
        match opens(&domestic, ordered) {
            Ok(_) => c.under_order += 1,
            Err(Error::GroupNotEnoughShares { group, .. }) => c.short = Some(group),
            Err(e) => return Err(e.into()),
        }
        // A lawful warrant: 3 domestic trustees approve, and the foreign one.
        let three = domestic.get(..3).unwrap_or(&domestic);
        if let Ok(k) = opens(three, &foreign) {
            let sender = d.user(m.from)?.public();
            c.lawful += usize::from(env.open_with_data_key(&k, &sender, epk).is_ok());
        }
        // An outage abroad: every domestic trustee willing, the foreign one down.
        c.foreign_down += usize::from(opens(&domestic, &[]).is_ok());
    }
    detail!(
        "Compartmented key: epoch 90, groups domestic (3 of 4) and foreign (1 of 1); {} messages \
         re-sealed under it with their original labels.",
        c.total
    );
    Ok(c)
}
