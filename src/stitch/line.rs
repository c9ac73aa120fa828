//! What one stderr line of a split traceback is, and how a time-ordered run of such lines falls
//! into tracebacks.

/// The part a single line can play in a traceback. Only lines that can play a part are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Traceback (most recent call last):`
    Header,
    /// Indented: a Python `File …`/source/caret line, a Java/Node `at …`, `... 3 more`.
    Frame,
    /// Between chained exceptions: Python's "During handling…"/"The above exception…", Java's
    /// `Caused by: …`.
    Chain,
    /// `Type: message` or a bare exception name: ends a Python trace, starts a Java/Node one.
    Exception,
    /// An empty line: Python prints one before and after a chain phrase, and Cloud Run makes
    /// each its own entry. Part of a trace between its sections, else a line of its own.
    Blank,
    /// Anything else: passed through at once.
    Ordinary,
}

const CHAIN_LINES: [&str; 2] = [
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
];

/// Endings of exception class names that may stand alone on a line (`KeyboardInterrupt`).
const BARE_EXCEPTION_SUFFIXES: [&str; 6] = [
    "Error",
    "Exception",
    "Interrupt",
    "Exit",
    "Iteration",
    "Warning",
];

/// Classifies one single-line message.
pub fn classify(line: &str) -> Kind {
    let text = line.trim_end();
    if text.is_empty() {
        return Kind::Blank;
    }
    // Indented, or only closing brackets: the end of an error object Node prints after its
    // frames (`  code: 'ECONNREFUSED',` … `}`).
    if text.starts_with([' ', '\t']) || is_closing(text) {
        return Kind::Frame;
    }
    if text == "Traceback (most recent call last):" {
        return Kind::Header;
    }
    if CHAIN_LINES.contains(&text) || text.starts_with("Caused by: ") {
        return Kind::Chain;
    }
    // Java's uncaught exception: `Exception in thread "main" java.lang.X: message`.
    if looks_like_exception(text) || text.starts_with("Exception in thread \"") {
        return Kind::Exception;
    }
    Kind::Ordinary
}

/// `}`, `]`, `})`, `};` and the like: a line that only closes what earlier lines opened.
fn is_closing(text: &str) -> bool {
    text.starts_with(['}', ']', ')'])
        && text
            .bytes()
            .all(|c| matches!(c, b'}' | b']' | b')' | b';' | b','))
}

/// `pkg.mod.SomeError: message` (a dotted identifier, then `: ` or the end of the line), or a
/// bare name ending like an exception class.
fn looks_like_exception(text: &str) -> bool {
    let name_len = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_len);
    let starts_ok = name.starts_with(|c: char| c.is_alphabetic() || c == '_');
    if !starts_ok || name.ends_with('.') {
        return false;
    }
    match rest {
        "" | ":" => BARE_EXCEPTION_SUFFIXES.iter().any(|s| name.ends_with(s)),
        _ => rest.starts_with(": ") && name.chars().any(char::is_uppercase) && !is_shouting(name),
    }
}

/// `WARNING: …`, `NOTE: …`: log prefixes, not exception classes.
fn is_shouting(name: &str) -> bool {
    name.chars().all(|c| !c.is_lowercase())
}

/// Splits the kinds of a time-ordered run into groups: `(start, end)` ranges, each either one
/// traceback or one line that stays alone.
pub fn segment(kinds: &[Kind]) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < kinds.len() {
        let end = match kinds[i] {
            Kind::Header => python_end(kinds, i),
            Kind::Exception if kinds.get(i + 1) == Some(&Kind::Frame) => java_end(kinds, i),
            _ => i + 1,
        };
        groups.push((i, end));
        i = end;
    }
    groups
}

/// A Python trace: header, frames, the exception line; a chain phrase after it (blank lines
/// around it included) continues the trace with the next header.
fn python_end(kinds: &[Kind], start: usize) -> usize {
    let mut j = start + 1;
    while j < kinds.len() {
        match kinds[j] {
            Kind::Frame => j += 1,
            Kind::Exception => {
                let chain = past_blanks(kinds, j + 1);
                if kinds.get(chain) != Some(&Kind::Chain) {
                    return j + 1;
                }
                let header = past_blanks(kinds, chain + 1);
                if kinds.get(header) != Some(&Kind::Header) {
                    return chain + 1;
                }
                j = header + 1;
            }
            _ => return j,
        }
    }
    j
}

/// The first index from `i` that is not a blank line.
fn past_blanks(kinds: &[Kind], mut i: usize) -> usize {
    while kinds.get(i) == Some(&Kind::Blank) {
        i += 1;
    }
    i
}

/// A Java/Node trace: the exception line, then frames and `Caused by:` sections.
fn java_end(kinds: &[Kind], start: usize) -> usize {
    let mut j = start + 1;
    while j < kinds.len() && matches!(kinds[j], Kind::Frame | Kind::Chain) {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::Kind::*;
    use super::*;

    #[test]
    fn classifies_the_lines_of_split_traces() {
        let cases = [
            ("Traceback (most recent call last):", Header),
            (
                "  File \"/app/backend/db.py\", line 88, in get_session",
                Frame,
            ),
            ("    ^^^^^^^^", Frame),
            ("\tat com.acme.Pool.get(Pool.java:12)", Frame),
            (
                "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5",
                Exception,
            ),
            ("KeyboardInterrupt", Exception),
            ("Error: 5 NOT_FOUND: Queue does not exist.", Exception),
            ("Caused by: java.io.IOException: reset", Chain),
            (
                "Exception in thread \"main\" java.lang.IllegalStateException: Failed",
                Exception,
            ),
            ("}", Frame),
            ("});", Frame),
            ("  errno: -111,", Frame),
            (CHAIN_LINES[0], Chain),
        ];
        for (line, kind) in cases {
            assert_eq!(classify(line), kind, "{line}");
        }
    }

    #[test]
    fn ordinary_lines_are_not_held() {
        for line in [
            "[2026-11-23 05:00:02 +0000] [12] [INFO] Booting worker with pid: 12",
            "WARNING: something odd",
            "INFO:root:started",
            "Done",
            "Listening on port 8080",
            "user.name: Alice",
        ] {
            assert_eq!(classify(line), Ordinary, "{line}");
        }
    }

    #[test]
    fn segments_python_java_and_strays() {
        let kinds = [
            Exception, Header, Frame, Frame, Exception, Frame, Exception, Frame, Frame,
        ];
        assert_eq!(segment(&kinds), vec![(0, 1), (1, 5), (5, 6), (6, 9)]);
    }

    #[test]
    fn blank_lines_between_the_sections_of_a_chain_are_part_of_it() {
        assert_eq!(classify(""), Blank);
        assert_eq!(classify("   "), Blank);
        let kinds = [
            Blank, Header, Frame, Exception, Blank, Chain, Blank, Header, Frame, Exception, Blank,
        ];
        assert_eq!(
            segment(&kinds),
            vec![(0, 1), (1, 10), (10, 11)],
            "a blank before or after a trace stays a line of its own"
        );
        // A chain phrase with no trace after it ends the trace; an exception followed by
        // blanks and no chain phrase ends it before the blanks.
        let kinds = [Header, Exception, Blank, Chain, Blank, Blank];
        assert_eq!(segment(&kinds), vec![(0, 4), (4, 5), (5, 6)]);
        let kinds = [Header, Exception, Blank, Header, Exception];
        assert_eq!(segment(&kinds), vec![(0, 2), (2, 3), (3, 5)]);
    }

    #[test]
    fn chained_python_traces_stay_one_group() {
        let kinds = [
            Header, Frame, Exception, Chain, Header, Frame, Exception, Header,
        ];
        assert_eq!(segment(&kinds), vec![(0, 7), (7, 8)]);
    }
}
