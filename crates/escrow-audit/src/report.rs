//! `report`: the public statistics, per warrant, agency, court, trustee and month.
//!
//! Only what the logs publish goes in: ids, courts, agencies, counts. Targets and case
//! references exist only in sealed-details openings and never appear here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use escrow_log::event::{Arrival, DayRelease, Decision, Event};
use escrow_log::Hash;
use serde::Serialize;

use crate::check::{Openings, VerifiedLog};
use crate::reconcile::{Reconciliation, WarrantKey};

/// Counts for one warrant, agency, court, trustee or month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The warrant id (hex), agency, court, trustee origin or month (`YYYY-MM`, UTC).
    pub key: String,
    /// Distinct warrants received (per trustee: in its log; per month: received then).
    pub warrants_received: u64,
    /// Approvals, one per trustee decision (operator or policy).
    pub approvals: u64,
    /// Denials (operator or policy).
    pub denials: u64,
    /// Revocations.
    pub revocations: u64,
    /// Refused share requests.
    pub refusals: u64,
    /// Distinct escrow fields for which any share was released.
    pub fields_released: u64,
    /// Shares released (one per trustee and field).
    pub shares_released: u64,
    /// Fields released by at least t+1 trustees: messages the agency could open
    /// (per trustee: those it contributed a share to; per month: when the t+1-th share
    /// was released).
    pub messages_opened: u64,
    /// Distinct day keys (epoch, UTC day, party tag) for which any extraction share was
    /// released. A party tag is bound to its warrant, so one party's day under two
    /// warrants counts twice: the log does not say they are the same party.
    pub day_keys_released: u64,
    /// Extraction shares of day keys released: the day keys of every release entry,
    /// summed (a trustee that releases a day key again counts again).
    pub day_key_shares_released: u64,
    /// Day keys released by at least t+1 trustees: (party, day)s the agency could open
    /// everything of (per trustee: those it contributed a share to; per month: when
    /// the t+1-th share was released).
    pub day_keys_opened: u64,
}

/// Per-warrant row: the counts plus the warrant's public terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarrantRow {
    /// Issuing court.
    pub court: String,
    /// Agency named.
    pub agency: String,
    /// Trustees whose log records it.
    pub trustees: u64,
    /// Whether t+1 trustees approved it.
    pub reached_quorum: bool,
    /// The counts.
    #[serde(flatten)]
    pub counts: Row,
}

/// The signed head of one verified log the report rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogHead {
    /// Origin.
    pub origin: String,
    /// Checkpoint size.
    pub size: u64,
    /// Checkpoint root, hex.
    pub root: String,
    /// Sealed-details openings checked / still sealed.
    pub openings: Openings,
}

impl LogHead {
    /// The head of a verified log.
    pub fn of(l: &VerifiedLog) -> Self {
        LogHead {
            origin: l.origin().to_string(),
            size: l.checkpoint().size(),
            root: hex::encode(l.checkpoint().root()),
            openings: l.openings(),
        }
    }
}

/// The public statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// t: t+1 shares open a field.
    pub threshold: usize,
    /// The verified logs.
    pub logs: Vec<LogHead>,
    /// Per warrant.
    pub per_warrant: Vec<WarrantRow>,
    /// Per agency.
    pub per_agency: Vec<Row>,
    /// Per court.
    pub per_court: Vec<Row>,
    /// Per trustee.
    pub per_trustee: Vec<Row>,
    /// Per month (UTC).
    pub per_month: Vec<Row>,
    /// The reconciliation flags, as text.
    pub flags: Vec<String>,
}

#[derive(Default)]
struct Acc {
    warrants: BTreeSet<WarrantKey>,
    approvals: u64,
    denials: u64,
    revocations: u64,
    refusals: u64,
    shares: u64,
    fields: BTreeSet<Hash>,
    opened: BTreeSet<Hash>,
    day_shares: u64,
    days: BTreeSet<(WarrantKey, DayRelease)>,
    days_opened: BTreeSet<(WarrantKey, DayRelease)>,
}

impl Acc {
    fn row(&self, key: String) -> Row {
        let n = |s: usize| s as u64;
        Row {
            key,
            warrants_received: n(self.warrants.len()),
            approvals: self.approvals,
            denials: self.denials,
            revocations: self.revocations,
            refusals: self.refusals,
            fields_released: n(self.fields.len()),
            shares_released: self.shares,
            messages_opened: n(self.opened.len()),
            day_keys_released: n(self.days.len()),
            day_key_shares_released: self.day_shares,
            day_keys_opened: n(self.days_opened.len()),
        }
    }
}

#[derive(Default)]
struct Tables {
    warrant: BTreeMap<String, Acc>,
    agency: BTreeMap<String, Acc>,
    court: BTreeMap<String, Acc>,
    trustee: BTreeMap<String, Acc>,
    month: BTreeMap<String, Acc>,
}

impl Tables {
    /// The accumulators an event of `trustee` at `time` about `warrant` counts in.
    fn accs<'a>(
        &'a mut self,
        rec: &Reconciliation,
        warrant: Option<&WarrantKey>,
        trustee: &str,
        time: u64,
    ) -> Vec<&'a mut Acc> {
        let mut out = Vec::with_capacity(5);
        let known = warrant.and_then(|w| rec.warrants.get(w));
        let Tables { warrant: tw, agency: ta, court: tc, trustee: tt, month: tm } = self;
        if let Some(w) = known {
            out.push(tw.entry(hex::encode(w.id)).or_default());
            if !w.agency.is_empty() {
                out.push(ta.entry(w.agency.clone()).or_default());
            }
            if !w.court.is_empty() {
                out.push(tc.entry(w.court.clone()).or_default());
            }
        }
        out.push(tt.entry(trustee.to_string()).or_default());
        out.push(tm.entry(month(time)).or_default());
        out
    }

    /// The accumulators an item of warrant `id` opened at `when` counts in (all but the
    /// per-trustee one, which counts the trustees that contributed a share).
    fn opened_accs<'a>(&'a mut self, id: WarrantKey, agency: &str, court: &str, when: u64) -> Vec<&'a mut Acc> {
        let Tables { warrant, agency: ta, court: tc, month: tm, .. } = self;
        let mut out = vec![warrant.entry(hex::encode(id)).or_default(), tm.entry(month(when)).or_default()];
        if !agency.is_empty() {
            out.push(ta.entry(agency.to_string()).or_default());
        }
        if !court.is_empty() {
            out.push(tc.entry(court.to_string()).or_default());
        }
        out
    }
}

/// Builds the public statistics from verified logs and their reconciliation.
pub fn report(logs: &[VerifiedLog], rec: &Reconciliation) -> Report {
    let mut t = Tables::default();
    for log in logs {
        t.trustee.entry(log.origin().to_string()).or_default();
        for e in log.entries() {
            match &e.event {
                Event::WarrantReceived { warrant_id, arrival, .. } => {
                    for a in t.accs(rec, Some(warrant_id), log.origin(), e.time) {
                        a.warrants.insert(*warrant_id);
                        match arrival {
                            Arrival::ApprovedByPolicy => a.approvals += 1,
                            Arrival::DeniedByPolicy => a.denials += 1,
                            Arrival::Received => {}
                        }
                    }
                }
                Event::WarrantDecided { warrant_id, decision, .. } => {
                    for a in t.accs(rec, Some(warrant_id), log.origin(), e.time) {
                        match decision {
                            Decision::Approve => a.approvals += 1,
                            Decision::Deny => a.denials += 1,
                            Decision::Revoke => a.revocations += 1,
                        }
                    }
                }
                Event::SharesReleased { warrant_id, fields, .. } => {
                    for a in t.accs(rec, Some(warrant_id), log.origin(), e.time) {
                        a.shares += fields.len() as u64;
                        a.fields.extend(fields.iter().copied());
                    }
                }
                Event::DayKeysReleased { warrant_id, days, .. } => {
                    for a in t.accs(rec, Some(warrant_id), log.origin(), e.time) {
                        a.day_shares += days.len() as u64;
                        a.days.extend(days.iter().map(|d| (*warrant_id, *d)));
                    }
                }
                Event::RequestRefused { warrant_id, .. } => {
                    for a in t.accs(rec, Some(warrant_id), log.origin(), e.time) {
                        a.refusals += 1;
                    }
                }
                Event::RequestsRefused { caller, warrant_id, count, .. } => {
                    let count = u64::from(*count);
                    for a in t.accs(rec, warrant_id.as_ref(), log.origin(), e.time) {
                        a.refusals += count;
                    }
                    // Refusals under warrants the caller does not hold belong to no
                    // warrant, but still to the agency whose certificate asked.
                    if warrant_id.is_none() {
                        if let Ok(who) = escrow_pki::Identity::from_uri(caller) {
                            if who.role() == escrow_pki::Role::Agency {
                                t.agency.entry(who.id().to_string()).or_default().refusals += count;
                            }
                        }
                    }
                }
                Event::EpochInstalled { .. } | Event::EpochDestroyed { .. } | Event::Ceremony { .. } => {}
            }
        }
    }
    for w in rec.warrants.values() {
        for (field, when) in &w.opened {
            // Per trustee: the trustees that contributed a share to this field.
            for (origin, released) in &w.released {
                if released.contains(field) {
                    t.trustee.entry(origin.clone()).or_default().opened.insert(*field);
                }
            }
            for a in t.opened_accs(w.id, &w.agency, &w.court, *when) {
                a.opened.insert(*field);
            }
        }
        for (day, when) in &w.days_opened {
            for (origin, released) in &w.days_released {
                if released.contains(day) {
                    t.trustee.entry(origin.clone()).or_default().days_opened.insert((w.id, *day));
                }
            }
            for a in t.opened_accs(w.id, &w.agency, &w.court, *when) {
                a.days_opened.insert((w.id, *day));
            }
        }
    }
    let rows = |m: BTreeMap<String, Acc>| m.into_iter().map(|(k, a)| a.row(k)).collect::<Vec<_>>();
    let per_warrant = t
        .warrant
        .iter()
        .map(|(k, a)| {
            let w = hex::decode(k)
                .ok()
                .and_then(|b| <WarrantKey>::try_from(b.as_slice()).ok())
                .and_then(|id| rec.warrants.get(&id));
            WarrantRow {
                court: w.map(|w| w.court.clone()).unwrap_or_default(),
                agency: w.map(|w| w.agency.clone()).unwrap_or_default(),
                trustees: w.map_or(0, |w| w.received_by.len() as u64),
                reached_quorum: w.is_some_and(|w| w.reached_quorum),
                counts: a.row(k.clone()),
            }
        })
        .collect();
    Report {
        threshold: rec.threshold,
        logs: logs.iter().map(LogHead::of).collect(),
        per_warrant,
        per_agency: rows(t.agency),
        per_court: rows(t.court),
        per_trustee: rows(t.trustee),
        per_month: rows(t.month),
        flags: rec.flags.iter().map(ToString::to_string).collect(),
    }
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# escrow audit report\n");
        let _ = writeln!(
            s,
            "Threshold t = {}: a field (a day key) opens once {} trustees release a share of it. \
             A day key opens everything one party sent or received one UTC day; parties are \
             counted per warrant.\n",
            self.threshold,
            self.threshold.saturating_add(1)
        );
        let _ = writeln!(s, "## Verified logs\n\n| trustee | size | root | openings checked | still sealed |");
        let _ = writeln!(s, "| --- | ---: | --- | ---: | ---: |");
        for l in &self.logs {
            let _ = writeln!(
                s,
                "| {} | {} | `{}` | {} | {} |",
                l.origin, l.size, l.root, l.openings.checked, l.openings.sealed
            );
        }
        let _ = writeln!(s, "\n## Per warrant\n");
        let _ = writeln!(
            s,
            "| warrant | court | agency | trustees | quorum | approvals | denials | revocations | refusals | fields released | shares released | messages opened | day keys released | day-key shares released | day keys opened |"
        );
        let _ = writeln!(
            s,
            "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for w in &self.per_warrant {
            let c = &w.counts;
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.key,
                w.court,
                w.agency,
                w.trustees,
                if w.reached_quorum { "yes" } else { "no" },
                c.approvals,
                c.denials,
                c.revocations,
                c.refusals,
                c.fields_released,
                c.shares_released,
                c.messages_opened,
                c.day_keys_released,
                c.day_key_shares_released,
                c.day_keys_opened
            );
        }
        for (title, rows) in [
            ("Per agency", &self.per_agency),
            ("Per court", &self.per_court),
            ("Per trustee", &self.per_trustee),
            ("Per month (UTC)", &self.per_month),
        ] {
            table(&mut s, title, rows);
        }
        let _ = writeln!(s, "\n## Flags\n");
        if self.flags.is_empty() {
            let _ = writeln!(s, "None.");
        }
        for f in &self.flags {
            let _ = writeln!(s, "- {f}");
        }
        s
    }
}

fn table(s: &mut String, title: &str, rows: &[Row]) {
    let _ = writeln!(s, "\n## {title}\n");
    let _ = writeln!(
        s,
        "| | warrants received | approvals | denials | revocations | refusals | fields released | shares released | messages opened | day keys released | day-key shares released | day keys opened |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.key,
            r.warrants_received,
            r.approvals,
            r.denials,
            r.revocations,
            r.refusals,
            r.fields_released,
            r.shares_released,
            r.messages_opened,
            r.day_keys_released,
            r.day_key_shares_released,
            r.day_keys_opened
        );
    }
}

/// `YYYY-MM` (UTC) of a unix time.
pub fn month(unix_secs: u64) -> String {
    let (y, m, _) = civil_from_days(unix_secs / 86_400);
    format!("{y:04}-{m:02}")
}

/// (year, month, day) of a day count since 1970-01-01, proleptic Gregorian
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testlog::HandLog;

    const JAN: u64 = 1_767_225_600; // 2026-01-01
    const FEB: u64 = JAN + 31 * 86_400;

    fn received() -> Event {
        Event::WarrantReceived {
            warrant_id: [1; 16],
            court: "court".into(),
            agency: "agency".into(),
            window_from: JAN,
            window_to: FEB + 86_400,
            valid_until: FEB + 86_400,
            reveal_at: FEB + 2 * 86_400,
            details_commitment: [0; 32],
            arrival: Arrival::ApprovedByPolicy,
            reason: Default::default(),
        }
    }

    fn days(keys: &[u8]) -> Event {
        Event::DayKeysReleased {
            warrant_id: [1; 16],
            agency: "agency".into(),
            days: keys.iter().map(|k| DayRelease { epoch: 1, day: 20_454, party: [*k; 32] }).collect(),
        }
    }

    /// (day keys released, day-key shares released, day keys opened).
    fn day_counts(r: &Row) -> (u64, u64, u64) {
        (r.day_keys_released, r.day_key_shares_released, r.day_keys_opened)
    }

    /// t = 1. Key 1 is released by a (January) and b (February, twice): opened in
    /// February. Key 2 by a only and key 3 by c only: t trustees, not opened.
    #[test]
    fn day_keys_are_counted_released_and_opened_per_warrant_agency_trustee_and_month() {
        let logs: Vec<_> = [
            ("a", vec![(JAN, received()), (JAN + 1, days(&[1, 2]))]),
            ("b", vec![(JAN, received()), (FEB, days(&[1])), (FEB + 1, days(&[1]))]),
            (
                "c",
                vec![
                    (JAN, received()),
                    (FEB, days(&[3])),
                    (
                        FEB,
                        Event::SharesReleased { warrant_id: [1; 16], agency: "agency".into(), fields: vec![[7; 32]] },
                    ),
                ],
            ),
        ]
        .into_iter()
        .map(|(o, events)| HandLog::with(o, events).verified())
        .collect();
        let rec = crate::reconcile(&logs, 1);
        assert!(rec.flags.is_empty(), "{:?}", rec.flags);
        let r = report(&logs, &rec);
        let w = &r.per_warrant[0].counts;
        assert_eq!(day_counts(w), (3, 5, 1));
        // The field columns count fields only.
        assert_eq!((w.fields_released, w.shares_released, w.messages_opened), (1, 1, 0));
        assert_eq!(
            r.per_agency.iter().map(|r| (r.key.as_str(), day_counts(r))).collect::<Vec<_>>(),
            [("agency", (3, 5, 1))]
        );
        assert_eq!(
            r.per_court.iter().map(|r| (r.key.as_str(), day_counts(r))).collect::<Vec<_>>(),
            [("court", (3, 5, 1))]
        );
        // Per trustee, opened counts the opened keys it contributed a share to.
        assert_eq!(
            r.per_trustee.iter().map(|r| (r.key.as_str(), day_counts(r))).collect::<Vec<_>>(),
            [("a", (2, 2, 1)), ("b", (1, 2, 1)), ("c", (1, 1, 0))]
        );
        // Per month: released when released, opened when the (t+1)-th share was.
        assert_eq!(
            r.per_month.iter().map(|r| (r.key.as_str(), day_counts(r))).collect::<Vec<_>>(),
            [("2026-01", (2, 2, 0)), ("2026-02", (2, 3, 1))]
        );
        // Both outputs carry them.
        let md = r.to_markdown();
        assert!(
            md.contains(&format!(
                "| `{}` | court | agency | 3 | yes | 3 | 0 | 0 | 0 | 1 | 1 | 0 | 3 | 5 | 1 |",
                hex::encode([1u8; 16])
            )),
            "{md}"
        );
        assert!(md.contains("| b | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 2 | 1 |"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        let row = &json["per_warrant"][0];
        assert_eq!(
            (&row["day_keys_released"], &row["day_key_shares_released"], &row["day_keys_opened"]),
            (&serde_json::json!(3), &serde_json::json!(5), &serde_json::json!(1))
        );
        assert_eq!(json["per_month"][1]["day_keys_opened"], serde_json::json!(1));
        // With t = 2 no key has three trustees' shares: none opened anywhere.
        let r = report(&logs, &crate::reconcile(&logs, 2));
        assert!(r
            .per_warrant
            .iter()
            .map(|w| &w.counts)
            .chain(&r.per_trustee)
            .chain(&r.per_month)
            .all(|r| r.day_keys_opened == 0));
        assert_eq!(day_counts(&r.per_warrant[0].counts), (3, 5, 0));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(10_957), (2000, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(month(1_767_225_600), "2026-01");
        assert_eq!(month(1_767_225_599), "2025-12");
        // Every day follows the previous one.
        let mut prev = civil_from_days(0);
        for d in 1..200_000 {
            let next = civil_from_days(d);
            let ok = (next.0 == prev.0 && next.1 == prev.1 && next.2 == prev.2 + 1)
                || (next.0 == prev.0 && next.1 == prev.1 + 1 && next.2 == 1)
                || (next.0 == prev.0 + 1 && next.1 == 1 && next.2 == 1 && prev.1 == 12);
            assert!(ok, "{prev:?} -> {next:?}");
            prev = next;
        }
    }
}
