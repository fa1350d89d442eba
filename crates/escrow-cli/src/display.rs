//! Text another party chose, made safe to print. A message body, a trustee's id or
//! error message, a warrant's reason or court: any of them may hold escape sequences
//! that clear the reader's screen, recolour or rewrite what is shown, or a newline that
//! fakes a line of our own output. Everything such a party sent goes through [`text`]
//! (or [`bytes`]) before it reaches a terminal, a pipe or a table.

use std::borrow::Cow;

/// `s` with every control character (C0 including newline and tab, DEL, C1) and every
/// bidirectional formatting character (which reorders what a terminal shows) written
/// as a Rust escape, `\u{1b}` for ESC; everything else as is. Borrows when there is
/// nothing to escape. A backslash is left as is, so `\u{1b}` in the output is either
/// an escaped ESC or those six characters as sent: never a live escape.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A body that should be text: [`text`] if it is UTF-8, else `(N bytes, not UTF-8)`
/// (a superencrypted or binary body; its bytes are never written to a terminal).
pub fn bytes(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => text(s),
        Err(_) => Cow::Owned(format!("({} bytes, not UTF-8)", b.len())),
    }
}

/// `value` as one line of JSON: serde_json's escapes (quote, backslash, C0 controls)
/// and, besides them, every other character [`text`] escapes (DEL, C1 controls,
/// bidirectional formatting) as `\uXXXX`. A JSON reader gets every string exactly as
/// the other party sent it; a terminal that shows the line gets no live control.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, crate::CliError> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping);
    value.serialize(&mut ser).map_err(|e| crate::CliError::Findings(format!("JSON output: {e}")))?;
    String::from_utf8(out).map_err(|e| crate::CliError::Findings(format!("JSON output: {e}")))
}

/// Prints `value` as one line of JSON ([`json`]) on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), crate::CliError> {
    println!("{}", json(value)?);
    Ok(())
}

/// Compact JSON whose strings escape what [`needs_escape`] names (all of it in the
/// Basic Multilingual Plane, so one `\uXXXX` each).
struct Escaping;

impl serde_json::ser::Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + std::io::Write>(&mut self, w: &mut W, fragment: &str) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest.char_indices().find(|(_, c)| needs_escape(*c)) {
            let (run, after) = rest.split_at(i);
            w.write_all(run.as_bytes())?;
            write!(w, "\\u{:04x}", u32::from(c))?;
            rest = after.get(c.len_utf8()..).unwrap_or_default();
        }
        w.write_all(rest.as_bytes())
    }
}

/// Control characters, and the bidirectional embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069) and marks (U+200E, U+200F, U+061C).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

#[cfg(test)]
mod tests {
    use super::{bytes, text};
    use std::borrow::Cow;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "hi", "lunch on monday?", "R v. A (2026) — ünïcödé", "C:\\path", "tab-free"] {
            assert!(matches!(text(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn escape_sequences_and_newlines_are_written_out() {
        assert_eq!(text("\x1b[2J\x1b[31m FAKE"), "\\u{1b}[2J\\u{1b}[31m FAKE");
        assert_eq!(text("a\nb\r\tc\0"), "a\\u{a}b\\u{d}\\u{9}c\\u{0}");
        // DEL and C1 controls (CSI as one character), bidi overrides and isolates.
        assert_eq!(text("\x7f\u{9b}2J"), "\\u{7f}\\u{9b}2J");
        assert_eq!(text("abc\u{202e}fed\u{2066}x\u{200f}"), "abc\\u{202e}fed\\u{2066}x\\u{200f}");
        // Nothing escaped survives as a control character.
        let hostile: String = (0u32..0x300).filter_map(char::from_u32).collect();
        assert!(!text(&hostile).chars().any(|c| c.is_control()));
    }

    /// JSON output carries every string as sent, yet shows no live control: each
    /// character [`text`] escapes is a `\u` escape in the line.
    #[test]
    fn json_escapes_what_text_escapes_and_reads_back_as_sent() {
        let hostile = "hi \x1b[2J\n\x7f\u{9b}2J abc\u{202e}fed \u{2066}x\u{200f} ünï \\u{1b} \"q\"";
        let mut value = serde_json::Map::new();
        value.insert("text".into(), hostile.into());
        value.insert(hostile.into(), 1.into());
        let line = super::json(&value).unwrap_or_default();
        assert!(!line.chars().any(|c| c.is_control() || super::needs_escape(c)), "{line}");
        assert!(line.contains("\\u001b[2J\\n\\u007f\\u009b2J abc\\u202efed \\u2066x\\u200f ünï"), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(back["text"], hostile);
        assert_eq!(back[hostile], 1);
    }

    #[test]
    fn bodies_that_are_not_utf8_are_never_printed_as_bytes() {
        assert_eq!(bytes(b"hi \x1b[2J"), "hi \\u{1b}[2J");
        assert_eq!(bytes(&[0xff, 0x1b, b'[', b'2', b'J']), "(5 bytes, not UTF-8)");
        assert_eq!(bytes(b""), "");
    }
}
