//! The output boundary: [`Inert`] is text that may leave the process, [`InertJson`] a JSON
//! document every string (and key) of which is. Only this module makes them, by neutralising
//! (controls, bidi and zero-width characters, ANSI/OSC escapes out) and then redacting; a sink
//! whose write function takes them cannot be handed a raw log string.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Redacted, neutralised text. The field is private: [`Inert::new`] (or `From`) is the only way
/// in, so every value went through the redactor.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Inert(String);

impl Inert {
    /// `text` redacted, neutralised, and redacted again if neutralising changed it: a
    /// zero-width character inside a key word must not hide the secret after it, and an escape
    /// sequence must not take a vendor prefix with it.
    pub fn new(text: &str) -> Inert {
        Inert(both(text, false))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// On one line (whitespace runs as one space), at most `max` characters with `…` when cut.
    pub fn line(&self, max: usize) -> Inert {
        let one: String = self.0.split_whitespace().collect::<Vec<_>>().join(" ");
        Inert(cut(&one, max))
    }

    /// At most `max` characters, with `…` when cut; a cut never splits a placeholder's secret
    /// open because the secret is gone already.
    pub fn cut(&self, max: usize) -> Inert {
        Inert(cut(&self.0, max))
    }

    /// For markdown outside code, on one line: mentions, issue references and autolinks
    /// broken by a zero-width joiner, markdown and HTML syntax backslash-escaped or as
    /// entities, so it renders as typed and pings, links and formats nothing.
    pub fn markdown(&self) -> String {
        escape(&self.0, true)
    }

    /// For a GitHub issue title: references and mentions broken, the rest as typed (titles
    /// render no other markdown, a backslash would show).
    pub fn title_text(&self) -> String {
        escape(&self.0, false)
    }

    /// An inline code span `text` cannot close, on one line.
    pub fn code_span(&self) -> String {
        code_span(&self.0)
    }

    /// A fenced block the text cannot close: the fence is longer than its longest backtick run.
    pub fn fence(&self, lang: &str) -> String {
        fence(&self.0, lang)
    }
}

impl Inert {
    /// A document rendered from inert parts (a markdown worklog or issue body) as it leaves:
    /// neutralised and redacted once more, keeping the zero-width joiners the markdown
    /// rendering put after `@` and `#` to break mentions and references.
    pub fn rendered(text: &str) -> Inert {
        Inert(both(text, true))
    }
}

fn both(text: &str, joiners: bool) -> String {
    let once = super::redact(text);
    match neutralise_keeping(&once, joiners) {
        Cow::Borrowed(_) => once.into_owned(),
        Cow::Owned(clean) => super::redact(&clean).into_owned(),
    }
}

/// A JSON document that may leave the process: every string and key neutralised and
/// redacted, the values of keys naming a secret dropped ([`super::redact_json`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct InertJson(serde_json::Value);

impl InertJson {
    /// `value` serialised with every string made inert on the way ([`super::serialize`]).
    /// Rendered markdown inside (an issue body) keeps its zero-width joiners, as with
    /// [`Inert::rendered`].
    pub fn new(value: &impl Serialize) -> InertJson {
        let v = super::serialize::inert(value, serde_json::value::Serializer);
        InertJson(v.unwrap_or(serde_json::Value::Null))
    }

    /// `value` as the pretty-printed text of [`InertJson::new`] (fields in the order they are
    /// declared rather than sorted), written straight from `value`: a large document is never
    /// held twice.
    pub fn pretty(value: &impl Serialize) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::pretty(&mut out);
        if super::serialize::inert(value, &mut ser).is_err() {
            return "null".to_owned();
        }
        // serde_json writes only UTF-8 (strings from `&str`, escapes in ASCII).
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }
}

impl fmt::Display for Inert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Inert {
    fn from(text: &str) -> Inert {
        Inert::new(text)
    }
}

impl From<&String> for Inert {
    fn from(text: &String) -> Inert {
        Inert::new(text)
    }
}

impl<'de> Deserialize<'de> for Inert {
    /// Read back (an older worklog, an outbox file): through the redactor again.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <Cow<'de, str>>::deserialize(d)?;
        Ok(Inert::new(&s))
    }
}

/// `text` without what makes text lie or act in a terminal, a browser or a markdown renderer:
/// ANSI CSI and OSC/DCS escape sequences, C0 and C1 controls (tab and newline stay, `\r` goes),
/// bidi overrides and isolates, zero-width and invisible characters, Unicode tag characters.
/// Borrowed when there is nothing to remove.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    neutralise_keeping(text, false)
}

pub(super) fn neutralise_keeping(text: &str, joiners: bool) -> Cow<'_, str> {
    // Printable ASCII, newlines and tabs need nothing: checked a block at a time without
    // stopping early inside one, so the check is vectorised (it runs on every message).
    let plain = |b: &u8| (0x20..0x7f).contains(b) | (*b == b'\n') | (*b == b'\t');
    if text
        .as_bytes()
        .chunks(32)
        .all(|block| block.iter().fold(true, |all, b| all & plain(b)))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                // A two-character escape (`ESC c`, `ESC 7`): its letter goes too.
                Some(c) if ('\u{40}'..='\u{7e}').contains(c) => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\n' | '\t' => out.push(c),
            '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('\n'),
            ZWJ if joiners => out.push(c),
            c if invisible(c) => {}
            c => out.push(c),
        }
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM/RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
            | '\u{061C}' | '\u{180E}' | '\u{FEFF}' | '\u{034F}' | '\u{00AD}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}') // tag characters
}

/// A CSI sequence's parameters and final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// An OSC/DCS/APC string up to BEL or the string terminator (`ESC \`, U+009C).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let end = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    format!("{}…", &text[..end])
}

/// An inline code span `text` cannot close, on one line (for text that is inert already).
pub(crate) fn code_span(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A fenced block `text` cannot close (for text that is inert already).
pub(crate) fn fence(text: &str, lang: &str) -> String {
    let ticks = "`".repeat(longest_run(text, '`').max(2) + 1);
    format!("{ticks}{lang}\n{text}\n{ticks}\n")
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// U+200D ZERO WIDTH JOINER: keeps `@bob` readable but no longer a mention.
const ZWJ: char = '\u{200D}';

fn escape(text: &str, markdown: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '@' | '#' => {
                if markdown && c == '#' {
                    out.push('\\');
                }
                out.push(c);
                if chars
                    .peek()
                    .is_some_and(|n| n.is_alphanumeric() || *n == '-' || *n == '_')
                {
                    out.push(ZWJ);
                }
            }
            ':' if chars.peek() == Some(&'/') => {
                out.push(c);
                out.push(ZWJ);
            }
            '.' if out.to_ascii_lowercase().ends_with("www") => {
                out.push(ZWJ);
                out.push(c);
            }
            '&' if markdown => out.push_str("&amp;"),
            '<' if markdown => out.push_str("&lt;"),
            '>' if markdown => out.push_str("&gt;"),
            // `[x](y)`, `![x]`, `*`/`_` emphasis, code, tables: shown as typed.
            '[' | ']' | '!' | '*' | '_' | '`' | '\\' | '|' | '~' if markdown => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_zero_width_and_escapes_go() {
        let t = "a\u{202E}b\u{2066}c\u{200B}d\0e\u{1b}[31mred\u{1b}[0m\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}\r\n";
        assert_eq!(neutralise(t), "abcderedlink\n");
        assert!(matches!(neutralise("plain text\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_hidden_by_invisible_characters_are_found() {
        let i = Inert::new("pass\u{200B}word=hunter2 \u{1b}[1mtoken=abc123\u{1b}[0m");
        assert!(
            !i.as_str().contains("hunter2") && !i.as_str().contains("abc123"),
            "{i}"
        );
    }

    #[test]
    fn markdown_renders_nothing() {
        let m = Inert::new("<img src=x> [a](b) @bob #12\n# head `x`").markdown();
        for bad in ["<img", "[a](b)", "@b", "#1", "\n", " `x`"] {
            assert!(!m.contains(bad), "{bad} in {m}");
        }
    }

    #[test]
    fn fences_and_spans_cannot_be_broken_out_of() {
        let f = Inert::new("a ``` b ```` c").fence("text");
        assert!(f.starts_with("`````text\n") && f.ends_with("\n`````\n"));
        assert_eq!(Inert::new("x`y").code_span(), "``x`y``");
    }

    #[test]
    fn lines_are_cut_by_characters() {
        assert_eq!(Inert::new("é é\né").line(3).as_str(), "é …");
        assert_eq!(Inert::new("abc").line(3).as_str(), "abc");
    }
}
