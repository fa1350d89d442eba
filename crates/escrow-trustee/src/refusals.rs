//! Which refused share requests reach the log, and how often: a pure rule, no IO.
//!
//! A refusal under a warrant the caller holds is evidence (an agency asked for a field
//! outside its warrant's scope, or after a revocation) and its first occurrence is
//! logged at once. Anything else — an unknown or malformed warrant id, or another
//! agency's warrant — is noise that a caller could otherwise use to fill the
//! append-only log, so it is only counted. Repeats are summed per
//! (caller, warrant, code) over a window of [`WINDOW_SECS`] and written as one
//! attributed entry when the window closes. The code is the refusal's
//! (`crate::rules::Refusal::code`, a fixed set of names). So a caller adds at most one
//! entry per window per code for all its noise (`unknown-warrant` for unknown and
//! others' warrants, `malformed` for malformed requests), and at most two per window
//! per (warrant it holds, code).

use escrow_log::event::{Entry, Event};
use escrow_log::Text;

/// How long repeated refusals are summed before one entry records them.
pub const WINDOW_SECS: u64 = 3_600;

/// The latest window start whose window has closed at `now`: windows that started at
/// or before it are due.
pub fn last_closed_start(now: u64) -> u64 {
    now.saturating_sub(WINDOW_SECS)
}

/// What a refused request is counted under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The caller's certificate identity (URI).
    pub caller: String,
    /// The warrant, only if the caller holds it.
    pub warrant_id: Option<[u8; 16]>,
    /// The refusal's code (`crate::rules::Refusal::code`).
    pub code: String,
}

/// One refused request, as the service saw it.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// Counted under this key.
    pub key: Key,
    /// The rule told to the requester.
    pub rule: Text,
    /// When.
    pub time: u64,
}

/// Refusals counted but not yet logged, for one key and window (a row in the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The key.
    pub key: Key,
    /// When the window opened.
    pub window_start: u64,
    /// How many refusals are counted and not yet logged (0 right after an immediate
    /// entry).
    pub count: u32,
    /// Rule of the first counted refusal.
    pub rule: Text,
    /// Time of the first counted refusal.
    pub first: u64,
    /// Time of the last counted refusal.
    pub last: u64,
}

impl Pending {
    /// Whether this window has closed at `now`.
    pub fn is_due(&self, now: u64) -> bool {
        self.window_start <= last_closed_start(now)
    }

    /// The entry that records the counted refusals, if any were counted.
    pub fn summary(&self, now: u64) -> Option<Entry> {
        (self.count > 0).then(|| Entry {
            time: now,
            event: Event::RequestsRefused {
                caller: self.key.caller.clone().into(),
                warrant_id: self.key.warrant_id,
                code: self.key.code.clone().into(),
                rule: self.rule.clone(),
                count: self.count,
                first: self.first,
                last: self.last,
            },
        })
    }
}

/// What to do with one refusal, given the open window for its key (if any): the
/// entries to append now and the window to keep.
pub fn on_refusal(open: Option<Pending>, r: Refusal) -> (Vec<Entry>, Pending) {
    let mut entries = Vec::new();
    let open = match open {
        Some(p) if p.is_due(r.time) => {
            entries.extend(p.summary(r.time));
            None
        }
        other => other,
    };
    match open {
        Some(mut p) => {
            if p.count == 0 {
                p.rule = r.rule;
                p.first = r.time;
            }
            p.count = p.count.saturating_add(1);
            p.last = r.time;
            (entries, p)
        }
        None if r.key.warrant_id.is_some() => {
            // Evidence: logged at once; repeats in this window are summed.
            entries.push(Entry {
                time: r.time,
                event: Event::RequestsRefused {
                    caller: r.key.caller.clone().into(),
                    warrant_id: r.key.warrant_id,
                    code: r.key.code.clone().into(),
                    rule: r.rule,
                    count: 1,
                    first: r.time,
                    last: r.time,
                },
            });
            let p = Pending { key: r.key, window_start: r.time, count: 0, rule: Text::default(), first: 0, last: 0 };
            (entries, p)
        }
        None => {
            let p = Pending { key: r.key, window_start: r.time, count: 1, rule: r.rule, first: r.time, last: r.time };
            (entries, p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(warrant: Option<[u8; 16]>, time: u64) -> Refusal {
        Refusal {
            key: Key {
                caller: "escrow:role/agency/agency-2".into(),
                warrant_id: warrant,
                code: "unknown-warrant".into(),
            },
            rule: format!("rule at {time}").into(),
            time,
        }
    }

    fn counts(entries: &[Entry]) -> Vec<u32> {
        entries
            .iter()
            .map(|e| match &e.event {
                Event::RequestsRefused { count, .. } => *count,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn noise_is_counted_and_summed_into_one_entry_when_the_window_closes() {
        let (mut entries, mut open) = on_refusal(None, refusal(None, 100));
        for t in 101..300 {
            let (e, p) = on_refusal(Some(open), refusal(None, t));
            entries.extend(e);
            open = p;
        }
        assert!(entries.is_empty(), "noise is not logged one by one");
        assert_eq!((open.count, open.first, open.last), (200, 100, 299));
        assert!(!open.is_due(100 + WINDOW_SECS - 1));
        assert!(open.is_due(100 + WINDOW_SECS));
        let summary = open.summary(100 + WINDOW_SECS).expect("counted refusals are summarized");
        assert!(matches!(
            summary.event,
            Event::RequestsRefused { ref caller, warrant_id: None, count: 200, first: 100, last: 299, ref rule, .. }
                if caller == "escrow:role/agency/agency-2" && rule == "rule at 100"
        ));
    }

    #[test]
    fn evidence_is_logged_at_once_and_repeats_are_summed() {
        let w = Some([7u8; 16]);
        let (e, open) = on_refusal(None, refusal(w, 10));
        assert_eq!(counts(&e), vec![1]);
        assert_eq!(open.count, 0);
        assert_eq!(open.summary(20), None, "nothing more to say until a repeat");
        let (e, open) = on_refusal(Some(open), refusal(w, 11));
        let (e2, open) = on_refusal(Some(open), refusal(w, 12));
        assert!(e.is_empty() && e2.is_empty());
        assert_eq!((open.count, open.first, open.last, open.rule.as_str()), (2, 11, 12, "rule at 11"));
        // The next refusal after the window: the summary of the old window, then the
        // new refusal logged at once again.
        let (e, open) = on_refusal(Some(open), refusal(w, 10 + WINDOW_SECS));
        assert_eq!(counts(&e), vec![2, 1]);
        assert_eq!(open.window_start, 10 + WINDOW_SECS);
    }
}
