//! The severity a message states in its own text, for entries whose `severity` is DEFAULT.
//!
//! Cloud Run and GKE give everything a process writes to stdout/stderr without structured
//! logging the severity DEFAULT, so gunicorn's `[ERROR] Worker failed to boot.`, uvicorn's
//! `ERROR:    Application startup failed.` and Python logging's `… - ERROR - …` would rank
//! with debug noise. An on-call engineer reads the level in the text; so does this, but only
//! near the start of the message (a level word deep inside a sentence is content, not a
//! level) and only in the shapes logging libraries write: bracketed, followed by a colon or a
//! dash, `level=`, or a Python traceback / exception line.

use super::Severity;

/// How far into the message a level marker is looked for: past a timestamp, a pid and a
/// logger name, not into the message itself.
const HEAD: usize = 96;

/// The severity `text` states, if it states one in a shape a logging library writes.
pub fn from_text(text: &str) -> Option<Severity> {
    let head = head(text.trim_start());
    if head.starts_with("Traceback (most recent call last)") || exception_line(head) {
        return Some(Severity::Error);
    }
    if head.starts_with("panic: ") || head.starts_with("fatal error: ") {
        return Some(Severity::Critical);
    }
    let bytes = head.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() && (i == 0 || !is_word(bytes[i - 1])) {
            let end = i + bytes[i..].iter().take_while(|b| is_word(**b)).count();
            if let Some(level) = level_word(&head[i..end]) {
                if marked(bytes, i, end) {
                    return Some(level);
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

/// At most [`HEAD`] bytes of `text`, cut on a character boundary.
fn head(text: &str) -> &str {
    let mut end = text.len().min(HEAD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A level name as logging libraries print it: upper case, or lower case inside `level=`.
fn level_word(w: &str) -> Option<Severity> {
    let upper = w.bytes().all(|b| !b.is_ascii_lowercase());
    let lower = w.bytes().all(|b| !b.is_ascii_uppercase());
    if !upper && !lower {
        return None;
    }
    Some(match w.to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => Severity::Debug,
        "INFO" => Severity::Info,
        "NOTICE" => Severity::Notice,
        "WARN" | "WARNING" => Severity::Warning,
        "ERROR" | "ERR" => Severity::Error,
        "CRITICAL" | "FATAL" | "CRIT" => Severity::Critical,
        "ALERT" => Severity::Alert,
        "EMERGENCY" | "EMERG" | "PANIC" => Severity::Emergency,
        _ => return None,
    })
}

/// Whether the word at `start..end` is written as a level: `[ERROR]`, `<ERROR>`, `ERROR:`,
/// `ERROR -`, ` | ERROR |`, `level=error`, `"level":"error"`, or an upper-case word alone at
/// the start of the message. A lower-case word counts only after `level=`/`"level":`.
fn marked(b: &[u8], start: usize, end: usize) -> bool {
    let before = &b[..start];
    let after = &b[end..];
    let lower = b[start].is_ascii_lowercase();
    let keyed = before.ends_with(b"level=")
        || before.ends_with(b"level\":\"")
        || before.ends_with(b"level\": \"")
        || before.ends_with(b"levelname=");
    if lower {
        return keyed;
    }
    if keyed {
        return true;
    }
    let open = before.last().copied();
    let close = after.first().copied();
    let bracketed = matches!(
        (open, close),
        (Some(b'['), Some(b']')) | (Some(b'<'), Some(b'>'))
    );
    let colon = close == Some(b':')
        && after
            .get(1)
            .is_none_or(|c| *c == b' ' || c.is_ascii_alphabetic());
    let dashed = after.starts_with(b" - ") || after.starts_with(b" | ");
    let spaced = after.first().is_none_or(|c| *c == b' ')
        && (start == 0
            || before.ends_with(b" - ")
            || before.ends_with(b" | ")
            || before.ends_with(b"] "));
    bracketed || colon || dashed || spaced
}

/// `ValueError: …`, `psycopg2.OperationalError: …`, `java.lang.IllegalStateException: …`: a
/// line that starts with a dotted name ending in `Error` or `Exception` and a colon.
fn exception_line(head: &str) -> bool {
    let Some((name, _)) = head.split_once(':') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().all(|b| is_word(b) || b == b'.')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && (name.ends_with("Error") || name.ends_with("Exception"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shapes_logging_libraries_write() {
        let cases = [
            (
                "[2025-09-15 19:00:01 +0000] [7] [ERROR] Worker failed to boot.",
                Severity::Error,
            ),
            (
                "[2025-09-15 19:00:01 +0000] [1] [INFO] Shutting down: Master",
                Severity::Info,
            ),
            (
                "ERROR:    Application startup failed. Exiting.",
                Severity::Error,
            ),
            ("ERROR:root:Failed to run migrations", Severity::Error),
            ("WARNING:netra.config:missing key", Severity::Warning),
            (
                "2025-09-15 19:00:01,123 - app.db - CRITICAL - Database initialization timeout",
                Severity::Critical,
            ),
            (
                "2025-09-15T19:00:01Z | WARNING | slow query",
                Severity::Warning,
            ),
            (
                "time=2025-09-15T19:00:01Z level=error msg=\"dial tcp: timeout\"",
                Severity::Error,
            ),
            (
                "{\"level\":\"warn\",\"msg\":\"retrying\"}",
                Severity::Warning,
            ),
            ("E0915 19:00:01.000 <ERROR> upstream gone", Severity::Error),
            ("Traceback (most recent call last):", Severity::Error),
            (
                "ModuleNotFoundError: No module named 'app.monitoring'",
                Severity::Error,
            ),
            (
                "psycopg2.OperationalError: connection refused",
                Severity::Error,
            ),
            (
                "panic: runtime error: index out of range",
                Severity::Critical,
            ),
            ("FATAL: password authentication failed", Severity::Critical),
        ];
        for (text, want) in cases {
            assert_eq!(from_text(text), Some(want), "{text}");
        }
    }

    #[test]
    fn a_level_word_in_the_sentence_is_content() {
        for text in [
            "Container called exit(1).",
            "Retrying after error in upstream",
            "User error rate is fine",
            "Error handling middleware initialized",
            "The request failed because of an ERROR in the proxy that lasted a while and more text here ERROR: x",
            "errors: 0, warnings: 2",
            "Shutting down: Master",
            "INFORMATION schema loaded",
            "",
        ] {
            assert_eq!(from_text(text), None, "{text}");
        }
    }

    #[test]
    fn only_the_head_is_read_and_multibyte_text_is_cut_safely() {
        let long = format!("{} [ERROR] late", "é".repeat(60));
        assert_eq!(from_text(&long), None);
    }
}
