//! What the demo tells its reader, and in what order.
//!
//! Scenarios run in the order the simulated calendar and the epochs allow (key theft
//! rotates to epoch 2, so it runs late), but a reader follows an argument: lawful
//! access, its limits, the attacks, then the machinery. Each scenario therefore writes
//! into a buffer ([`say!`](super::say) and [`detail!`](super::detail)), and [`Story`]
//! prints each buffer once every scenario before it in the argument's order is done.
//!
//! By default the text is for a reader: times as days of the simulated calendar,
//! refusals in words, lines at most [`WIDTH`] columns. `--verbose` adds the detail an
//! engineer wants (every table, warrant ids, gRPC codes) in the same order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{DAY, DAY0, HOUR};

/// The widest line the demo prints by default.
pub(crate) const WIDTH: usize = 100;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// The text of the scenario running now. Scenarios run one at a time.
static BUFFER: Mutex<String> = Mutex::new(String::new());

pub(crate) fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether `--verbose` was given.
pub(crate) fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Appends `text` and a newline to the running scenario's text.
pub(crate) fn push(text: &str) {
    // A poisoned lock only means a panic elsewhere; the text is still text.
    let mut b = BUFFER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    b.push_str(text);
    b.push('\n');
}

/// The running scenario's text so far, leaving the buffer empty.
pub(crate) fn take() -> String {
    std::mem::take(&mut *BUFFER.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// `unix` as a time of the simulated calendar: "day 3 07:00".
pub(crate) fn when(unix: u64) -> String {
    let since = unix.saturating_sub(DAY0);
    let (day, rest) = (since / DAY, since % DAY);
    format!("day {day} {:02}:{:02}", rest / HOUR, (rest % HOUR) / 60)
}

/// The days `[from, to)` covers, for whole days: "days 1–2", "day 5".
pub(crate) fn days(from: u64, to: u64) -> String {
    let first = from.saturating_sub(DAY0) / DAY;
    let last = to.saturating_sub(DAY0).saturating_sub(1) / DAY;
    if first == last {
        format!("day {first}")
    } else {
        format!("days {first}\u{2013}{last}")
    }
}

/// Every Unix time of the simulated calendar in `text` (ten digits, from 30 days
/// before day 0 to 90 days after) as [`when`]: servers' messages carry raw seconds.
pub(crate) fn plain_times(text: &str) -> String {
    let range = DAY0.saturating_sub(30 * DAY)..DAY0 + 90 * DAY;
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.parse::<u64>() {
            Ok(t) if digits.len() == 10 && range.contains(&t) => out.push_str(&when(t)),
            _ => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// A server's refusal in words: "refused: " and its message, without the gRPC code,
/// the item number or raw times. `--verbose` shows the code and message as sent.
pub(crate) fn refusal(s: &tonic::Status) -> String {
    if verbose() {
        return format!("{:?}: {}", s.code(), s.message());
    }
    let mut m = s.message().trim();
    for prefix in ["envelope: ", "out of scope: "] {
        m = m.strip_prefix(prefix).unwrap_or(m);
    }
    // "item 0: out of scope: ..." from a share request of one item.
    if let Some(rest) = m.strip_prefix("item ").and_then(|r| r.split_once(": ")).map(|(_, r)| r) {
        m = rest.strip_prefix("out of scope: ").unwrap_or(rest);
    }
    format!("refused: {}", plain_times(m))
}

/// Lines longer than [`WIDTH`] broken at spaces, continuations indented by two; table
/// lines (which start with a box-drawing character) are left alone, since the tables
/// wrap their own cells.
pub(crate) fn wrap(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.chars().count() <= WIDTH || line.starts_with(['┌', '│', '╞', '└', '├', '╭', '╰']) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // Continuations keep the line's own indent, plus two.
        let indent = " ".repeat(line.len() - line.trim_start().len() + 2);
        let mut current = String::new();
        for word in line.split(' ') {
            let fits = current.chars().count() + 1 + word.chars().count() <= WIDTH;
            if !current.trim().is_empty() && !fits {
                out.push_str(current.trim_end());
                out.push('\n');
                current = indent.clone();
            }
            if !current.trim().is_empty() && !current.ends_with(' ') {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(current.trim_end());
        out.push('\n');
    }
    out
}

/// Scenario texts in the argument's order, printed as soon as every scenario before
/// each one is done.
pub(crate) struct Story {
    /// The scenarios that will run, in the order they are told: exactly those that
    /// run, so that no gap holds the rest back.
    order: Vec<&'static str>,
    /// Texts done but waiting for an earlier one, by position in `order`.
    waiting: BTreeMap<usize, String>,
    /// The position of the next text to print.
    next: usize,
}

impl Story {
    pub(crate) fn new(order: Vec<&'static str>) -> Self {
        Story { order, waiting: BTreeMap::new(), next: 0 }
    }

    /// Scenario `name` is done and told `text`; prints what can be printed now.
    pub(crate) fn done(&mut self, name: &str, text: String) {
        match self.order.iter().position(|n| *n == name) {
            Some(i) => {
                self.waiting.insert(i, text);
            }
            // Not in the order (cannot happen): told at once rather than lost.
            None => print_text(&text),
        }
        while let Some(text) = self.waiting.remove(&self.next) {
            print_text(&text);
            self.next += 1;
        }
    }

    /// Prints every text still waiting, in order: at the end, or when a scenario failed
    /// and the rest will not run.
    pub(crate) fn flush(&mut self) {
        for (_, text) in std::mem::take(&mut self.waiting) {
            print_text(&text);
        }
        self.next = self.order.len();
    }
}

/// Prints `text` as the reader gets it: wrapped, and without raw times unless verbose.
pub(crate) fn print_text(text: &str) {
    if verbose() {
        print!("{text}");
    } else {
        print!("{}", wrap(&plain_times(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_days() {
        assert_eq!(when(DAY0 + 3 * DAY + 7 * HOUR), "day 3 07:00");
        assert_eq!(when(DAY0 + 90), "day 0 00:01");
        assert_eq!(days(DAY0 + DAY, DAY0 + 3 * DAY), "days 1\u{2013}2");
        assert_eq!(days(DAY0 + 5 * DAY, DAY0 + 6 * DAY), "day 5");
        let raw = format!("sent at {}, at or after the window closes at {}", DAY0 + 3 * DAY + 7 * HOUR, DAY0 + 3 * DAY);
        assert_eq!(plain_times(&raw), "sent at day 3 07:00, at or after the window closes at day 3 00:00");
        // Other numbers stay: sizes, ids, a time far from the calendar.
        assert_eq!(plain_times("333 entries, 1234567890, #11"), "333 entries, 1234567890, #11");
    }

    #[test]
    fn refusals_in_words() {
        let s = tonic::Status::permission_denied(format!(
            "item 0: out of scope: sent at {}, at or after the window closes at {}",
            DAY0 + 3 * DAY + 7 * HOUR,
            DAY0 + 3 * DAY
        ));
        assert_eq!(refusal(&s), "refused: sent at day 3 07:00, at or after the window closes at day 3 00:00");
        let s = tonic::Status::invalid_argument("envelope: escrow field is invalid for this label");
        assert_eq!(refusal(&s), "refused: escrow field is invalid for this label");
    }

    #[test]
    fn long_lines_wrap_and_tables_do_not() {
        let long = "word ".repeat(60);
        let wrapped = wrap(&long);
        assert!(wrapped.lines().count() > 2);
        assert!(wrapped.lines().all(|l| l.chars().count() <= WIDTH), "{wrapped}");
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("  ")));
        let table = format!("│{}│", " ".repeat(150));
        assert_eq!(wrap(&table), format!("{table}\n"));
    }
}
