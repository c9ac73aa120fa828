//! The severity an entry states besides its `severity` field, for entries whose `severity` is
//! DEFAULT: in a `jsonPayload` level field ([`from_field`]) or in its own text ([`from_text`]).
//!
//! Cloud Run and GKE give everything a process writes to stdout/stderr without structured
//! logging the severity DEFAULT, so gunicorn's `[ERROR] Worker failed to boot.`, uvicorn's
//! `ERROR:    Application startup failed.` and Python logging's `… - ERROR - …` would rank
//! with debug noise. An on-call engineer reads the level in the text; so does this, but only
//! near the start of the message (a level word deep inside a sentence is content, not a
//! level) and only in the shapes logging libraries write: bracketed, followed by a colon or a
//! dash, `level=`, after a leading timestamp (Spring Boot, Python logging's default format),
//! klog's `E0310 14:05:01.123456` prefix, winston's `error: ` at the very start, or a Python
//! traceback / exception line.

use super::Severity;

/// How far into the message a level marker is looked for: past a timestamp, a pid and a
/// logger name, not into the message itself.
const HEAD: usize = 96;

/// The severity `text` states, if it states one in a shape a logging library writes.
pub fn from_text(text: &str) -> Option<Severity> {
    let head = head(text.trim_start());
    if let Some(level) = klog(head.as_bytes()) {
        return Some(level);
    }
    if head.starts_with("Traceback (most recent call last)")
        || head.starts_with("+ Exception Group Traceback (most recent call last)")
        || exception_line(head)
        || head.strip_prefix('[').is_some_and(exception_line)
    {
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

/// The severity a `jsonPayload` level field holds (`severity`, `level`, `levelname`,
/// `log.level`), given as its JSON text: a level name in any case (`"error"`, `"WARN"`, zap's
/// `"dpanic"`), Cloud Logging's numbers (100 … 800), or — when `pino` says the payload is
/// pino's or bunyan's (their `msg` with `pid` or `hostname`) — their numbers 10 (trace) … 60
/// (fatal). A bare
/// number elsewhere (a game's level, a nesting depth, Python's 40 for ERROR) says nothing, nor
/// do `"DEFAULT"`, 0 and anything else.
pub fn from_field(json: &str, pino: bool) -> Option<Severity> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let number = |n: u64| numbered(n).filter(|_| pino || n >= 100);
    match value {
        serde_json::Value::String(s) => {
            let s = s.trim();
            named(s).or_else(|| s.parse().ok().and_then(number))
        }
        serde_json::Value::Number(n) => n.as_u64().and_then(number),
        _ => None,
    }
}

/// A numeric level: pino and bunyan write 10 (trace) to 60 (fatal), Cloud Logging 100 to 800.
fn numbered(n: u64) -> Option<Severity> {
    match n {
        10 | 20 => Some(Severity::Debug),
        30 => Some(Severity::Info),
        40 => Some(Severity::Warning),
        50 => Some(Severity::Error),
        60 => Some(Severity::Critical),
        100..=800 if n.is_multiple_of(100) => Some(Severity::from_number(n)),
        _ => None,
    }
}

/// A level name in any case, as logging libraries and syslog spell them.
fn named(w: &str) -> Option<Severity> {
    Some(match w.to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => Severity::Debug,
        "INFO" => Severity::Info,
        "NOTICE" => Severity::Notice,
        "WARN" | "WARNING" => Severity::Warning,
        "ERROR" | "ERR" => Severity::Error,
        "CRITICAL" | "FATAL" | "CRIT" | "DPANIC" => Severity::Critical,
        "ALERT" => Severity::Alert,
        "EMERGENCY" | "EMERG" | "PANIC" => Severity::Emergency,
        _ => return None,
    })
}

/// klog's (and glog's) prefix `E0310 14:05:01.123456`: the level letter, then month and day.
fn klog(b: &[u8]) -> Option<Severity> {
    let shape = b.len() >= 14
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' '
        && b[6..8].iter().all(u8::is_ascii_digit)
        && b[8] == b':'
        && b[9..11].iter().all(u8::is_ascii_digit)
        && b[11] == b':';
    if !shape {
        return None;
    }
    match b[0] {
        b'I' => Some(Severity::Info),
        b'W' => Some(Severity::Warning),
        b'E' => Some(Severity::Error),
        b'F' => Some(Severity::Critical),
        _ => None,
    }
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
    named(w)
}

/// Whether the word at `start..end` is written as a level: `[ERROR]`, `<ERROR>`, `ERROR:`,
/// `ERROR -`, ` | ERROR |`, `level=error`, `"level":"error"`, or an upper-case word alone at
/// the start of the message or right after a leading timestamp. A lower-case word counts only
/// after `level=`/`"level":`, or as winston's `error: ` opening the message.
fn marked(b: &[u8], start: usize, end: usize) -> bool {
    let before = &b[..start];
    let after = &b[end..];
    let lower = b[start].is_ascii_lowercase();
    let keyed = before.ends_with(b"level=")
        || before.ends_with(b"level\":\"")
        || before.ends_with(b"level\": \"")
        || before.ends_with(b"levelname=");
    if lower {
        return keyed || (start == 0 && after.starts_with(b": ") && winston(&b[..end]));
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
            || before.ends_with(b"] ")
            || timestamp(before));
    bracketed || colon || dashed || spaced
}

/// winston's default levels that may open a message as `error: …`. Syslog's `alert:` or
/// `notice:` at the start of a sentence is more often content than a level.
fn winston(word: &[u8]) -> bool {
    matches!(word, b"error" | b"warn" | b"info" | b"debug")
}

/// Whether `before` (what precedes a level word) is a timestamp alone: Spring Boot's
/// `2024-03-10T14:05:01.123Z `, Python logging's `2024-03-10 14:05:01,123 `, Go's
/// `2024/03/10 14:05:01 `. At least a date's worth of digits, so `12 ERROR` stays content.
fn timestamp(before: &[u8]) -> bool {
    let stamp = before.trim_ascii_end();
    stamp.first().is_some_and(u8::is_ascii_digit)
        && stamp.len() < before.len()
        && stamp.iter().filter(|c| c.is_ascii_digit()).count() >= 8
        && stamp
            .iter()
            .all(|c| c.is_ascii_digit() || b"-:.,TZ+/ ".contains(c))
}

/// `ValueError: …`, `psycopg2.OperationalError: …`, `java.lang.IllegalStateException: …`: a
/// line that starts with a dotted name ending in `Error` or `Exception` and a colon (also
/// Node's `UnhandledPromiseRejection`, which it prints bracketed, as `[TypeError: …]`).
fn exception_line(head: &str) -> bool {
    let Some((name, _)) = head.split_once(':') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().all(|b| is_word(b) || b == b'.')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && (name.ends_with("Error")
            || name.ends_with("Exception")
            || name == "UnhandledPromiseRejection")
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
                "  + Exception Group Traceback (most recent call last):",
                Severity::Error,
            ),
            (
                "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block] {",
                Severity::Error,
            ),
            ("[TypeError: fetch failed]", Severity::Error),
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
    fn klog_a_leading_timestamp_and_winston_state_a_level() {
        let cases = [
            (
                "E0310 14:05:01.123456       1 reconciler.go:214] failed to sync quota",
                Severity::Error,
            ),
            ("W0310 14:05:01.123456 1 leaderelection.go:3] slow", Severity::Warning),
            ("I0310 14:05:01.123456 1 main.go:12] serving", Severity::Info),
            ("F0310 14:05:01.123456 1 main.go:12] cannot bind", Severity::Critical),
            (
                "2024-03-10T14:05:01.123Z ERROR 1 --- [nio-8080-exec-1] c.a.b.InvoiceController : failed",
                Severity::Error,
            ),
            (
                "2024-03-10T14:05:01.123+00:00  WARN 1 --- [main] o.s.b.StartupInfoLogger : slow",
                Severity::Warning,
            ),
            (
                "2024-03-10 14:05:01,123 ERROR Report generation failed",
                Severity::Error,
            ),
            ("2024/03/10 14:05:01 INFO listening on :8080", Severity::Info),
            ("error: Failed to render PDF for invoice 1", Severity::Error),
            ("warn: cache miss ratio high", Severity::Warning),
            ("info: listening on 3000", Severity::Info),
        ];
        for (text, want) in cases {
            assert_eq!(from_text(text), Some(want), "{text}");
        }
    }

    #[test]
    fn what_only_looks_like_those_shapes_stays_content() {
        for text in [
            "E1234 is the code the vendor returned",
            "E0310 was the batch name",
            "12 ERROR rows skipped",
            "2024-03-10 14:05:01 Error handling middleware initialized",
            "2024-03-10 14:05:01 job ERROR count 0",
            "alert: disk usage at 80%",
            "notice: maintenance at noon",
            "error handling middleware initialized",
            "errors: 0, warnings: 2",
        ] {
            assert_eq!(from_text(text), None, "{text}");
        }
    }

    #[test]
    fn payload_level_fields_in_their_spellings_and_numbers() {
        let cases = [
            (r#""error""#, Some(Severity::Error)),
            (r#""ERR""#, Some(Severity::Error)),
            (r#""Warning""#, Some(Severity::Warning)),
            (r#""warn""#, Some(Severity::Warning)),
            (r#""fatal""#, Some(Severity::Critical)),
            (r#""critical""#, Some(Severity::Critical)),
            (r#""dpanic""#, Some(Severity::Critical)),
            (r#""panic""#, Some(Severity::Emergency)),
            (r#""emerg""#, Some(Severity::Emergency)),
            (r#""alert""#, Some(Severity::Alert)),
            (r#""notice""#, Some(Severity::Notice)),
            (r#""info""#, Some(Severity::Info)),
            (r#""debug""#, Some(Severity::Debug)),
            (r#""trace""#, Some(Severity::Debug)),
            ("10", Some(Severity::Debug)),
            ("20", Some(Severity::Debug)),
            ("30", Some(Severity::Info)),
            ("40", Some(Severity::Warning)),
            ("50", Some(Severity::Error)),
            ("60", Some(Severity::Critical)),
            (r#""50""#, Some(Severity::Error)),
            ("500", Some(Severity::Error)),
            (r#""DEFAULT""#, None),
            ("0", None),
            ("7", None),
            ("450", None),
            ("-1", None),
            ("true", None),
            (r#"{"name":"error"}"#, None),
            (r#""verbose""#, None),
        ];
        for (json, want) in cases {
            assert_eq!(from_field(json, true), want, "{json}");
        }
        // Without pino's `msg` beside it, a small number is no level; between its steps never.
        for json in ["60", "50", r#""40""#, "55"] {
            assert_eq!(from_field(json, false), None, "{json}");
        }
        assert_eq!(from_field("55", true), None);
        assert_eq!(from_field("500", false), Some(Severity::Error));
    }

    #[test]
    fn only_the_head_is_read_and_multibyte_text_is_cut_safely() {
        let long = format!("{} [ERROR] late", "é".repeat(60));
        assert_eq!(from_text(&long), None);
    }
}
