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

    #[test]
    fn bodies_that_are_not_utf8_are_never_printed_as_bytes() {
        assert_eq!(bytes(b"hi \x1b[2J"), "hi \\u{1b}[2J");
        assert_eq!(bytes(&[0xff, 0x1b, b'[', b'2', b'J']), "(5 bytes, not UTF-8)");
        assert_eq!(bytes(b""), "");
    }
}
