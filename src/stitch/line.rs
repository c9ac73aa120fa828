//! What one stderr line of a split traceback is, and how a time-ordered run of such lines falls
//! into tracebacks: Python's (chains, multi-line messages and 3.11's exception groups included),
//! Java's, Node's (with the source preamble it prints for an uncaught exception or an unhandled
//! rejection) and Go's panics.

/// The part a single line can play in a traceback. Only lines that can play a part are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Traceback (most recent call last):`
    Header,
    /// `  + Exception Group Traceback (most recent call last):`: Python 3.11's exception group,
    /// printed indented, every line after it framed by `|` and `+-+---- 1 ----` markers (so
    /// all of them read as frames), its own exception and its sub-exceptions' traces included.
    GroupHeader,
    /// Indented: a Python `File …`/source/caret line, a Java/Node `at …`, `... 3 more`, a Go
    /// `\t/src/file.go:12 +0x1d`, an indented line of an exception's message; or a line that
    /// only continues another: Node's caret line, the `throw …` it quotes, sqlalchemy's
    /// `(Background on this error at: …)`.
    Frame,
    /// Between chained exceptions: Python's "During handling…"/"The above exception…", Java's
    /// `Caused by: …`.
    Chain,
    /// `Type: message` or a bare exception name: ends a Python trace, starts a Java/Node one;
    /// also Node's `[UnhandledPromiseRejection: …] {` (an error it prints without a stack).
    Exception,
    /// An empty line: Python prints one before and after a chain phrase, and Cloud Run makes
    /// each its own entry. Part of a trace between its sections, else a line of its own.
    Blank,
    /// Go's `panic: …` or `fatal error: …`: starts a Go trace.
    Panic,
    /// A line only a Go trace prints unindented: `goroutine 7 [running]:`, a function line
    /// `main.(*T).f(0x0, {0x1, 0x2})`, `created by …`, `[signal SIGSEGV: …]`, `runtime stack:`.
    GoLine,
    /// `/app/server.js:42`: where Node says an uncaught exception was thrown, before it quotes
    /// the source line, a caret, and then prints the exception and its frames.
    Location,
    /// What a runtime prints after the trace it died of: `Node.js v20.11.0`, `exit status 2`.
    Trailer,
    /// Anything else: passed through at once.
    Ordinary,
}

const GROUP_HEADER: &str = "+ Exception Group Traceback (most recent call last):";

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

/// The most lines after a Python exception line taken as the rest of its message (psycopg2
/// writes three, `Is the server running…` among them): a stream of indented lines after a
/// trace is not swallowed whole.
const MAX_MESSAGE_LINES: usize = 16;

/// Classifies one single-line message.
pub fn classify(line: &str) -> Kind {
    let text = line.trim_end();
    if text.is_empty() {
        return Kind::Blank;
    }
    // Indented as it is, the group's header would read as a frame.
    if text.trim_start() == GROUP_HEADER {
        return Kind::GroupHeader;
    }
    // Indented, or only closing brackets: the end of an error object Node prints after its
    // frames (`  code: 'ECONNREFUSED',` … `}`).
    if text.starts_with([' ', '\t']) || is_closing(text) || continues_a_trace(text) {
        return Kind::Frame;
    }
    if text == "Traceback (most recent call last):" {
        return Kind::Header;
    }
    if CHAIN_LINES.contains(&text) || text.starts_with("Caused by: ") {
        return Kind::Chain;
    }
    if text.starts_with("panic: ") || text.starts_with("fatal error: ") {
        return Kind::Panic;
    }
    if is_go_line(text) {
        return Kind::GoLine;
    }
    if is_trailer(text) {
        return Kind::Trailer;
    }
    if crate::fingerprint::stack::is_location(text) {
        return Kind::Location;
    }
    // Java's uncaught exception: `Exception in thread "main" java.lang.X: message`.
    if looks_like_exception(text)
        || text.starts_with("Exception in thread \"")
        || crate::fingerprint::stack::inspected_error(text).is_some()
    {
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

/// Unindented lines that only ever follow a line of a trace: Node's caret under the source
/// line it quotes, that line when it is a top-level `throw`, sqlalchemy's pointer to its docs.
fn continues_a_trace(text: &str) -> bool {
    text.bytes().all(|c| matches!(c, b'^' | b'~' | b' '))
        || text.starts_with("throw ")
        || text.starts_with("(Background on this error at: ")
}

/// The unindented lines of a Go trace other than its first.
fn is_go_line(text: &str) -> bool {
    let goroutine = text
        .strip_prefix("goroutine ")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()) && r.ends_with("]:"));
    goroutine
        || text == "runtime stack:"
        || text == "...additional frames elided..."
        || text.starts_with("created by ")
        || (text.starts_with("[signal ") && text.ends_with(']'))
        || is_go_function(text)
}

/// `pkg/path.(*Type).Method(0xc000010000, {0x8b0f20?, 0x0}, ...)`, `main.main()`,
/// `panic({0x6c3e40?, 0x9a8b30?})`: a name with no spaces, then arguments Go prints as hex
/// words only.
fn is_go_function(text: &str) -> bool {
    let Some(inner) = text.strip_suffix(')') else {
        return false;
    };
    let Some(open) = inner.rfind('(') else {
        return false;
    };
    let (name, args) = (&inner[..open], &inner[open + 1..]);
    let args_ok = args.bytes().all(|c| {
        c.is_ascii_hexdigit() || matches!(c, b'x' | b'?' | b'.' | b',' | b' ' | b'{' | b'}')
    });
    let name_ok = !name.is_empty()
        && !name.contains(char::is_whitespace)
        && (name.contains('.') || name == "panic");
    args_ok && name_ok
}

/// `Node.js v20.11.0` (Node after an uncaught exception), `exit status 2` (`go run`).
fn is_trailer(text: &str) -> bool {
    let version = text
        .strip_prefix("Node.js v")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit() || c == b'.'));
    let status = text
        .strip_prefix("exit status ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    version || status
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
        // Node's `Error [ERR_MODULE_NOT_FOUND]: …` names a code between the two.
        _ => {
            let rest = rest
                .strip_prefix(" [")
                .and_then(|r| r.split_once(']'))
                .filter(|(code, _)| is_error_code(code))
                .map_or(rest, |(_, after)| after);
            rest.starts_with(": ") && name.chars().any(char::is_uppercase) && !is_shouting(name)
        }
    }
}

/// `ERR_MODULE_NOT_FOUND`.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
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
        let trace_end = match kinds[i] {
            Kind::Header | Kind::GroupHeader => Some(python_end(kinds, i)),
            Kind::Exception if kinds.get(i + 1) == Some(&Kind::Frame) => Some(java_end(kinds, i)),
            Kind::Panic => Some(go_end(kinds, i)),
            Kind::Location => node_end(kinds, i),
            _ => None,
        };
        let end = trace_end.map_or(i + 1, |end| with_trailer(kinds, end));
        groups.push((i, end));
        i = end;
    }
    groups
}

/// A Python trace: header, frames, the exception line and the rest of its message; a chain
/// phrase after it (blank lines around it included) continues the trace with the next header.
/// An exception group's section is its header and the framed lines after it.
fn python_end(kinds: &[Kind], start: usize) -> usize {
    let (mut header, mut j) = (start, start + 1);
    loop {
        let end = match kinds.get(j) {
            Some(Kind::Frame) => {
                j += 1;
                continue;
            }
            _ if kinds[header] == Kind::GroupHeader => j,
            Some(Kind::Exception) => past_message(kinds, j + 1),
            _ => return j,
        };
        let chain = past_blanks(kinds, end);
        if kinds.get(chain) != Some(&Kind::Chain) {
            return end;
        }
        let next = past_blanks(kinds, chain + 1);
        if !matches!(kinds.get(next), Some(Kind::Header | Kind::GroupHeader)) {
            return chain + 1;
        }
        (header, j) = (next, next + 1);
    }
}

/// Past the lines that continue an exception's message from `i` (psycopg2's `\tIs the server
/// running…`): indented lines only, at most [`MAX_MESSAGE_LINES`] of them. An unindented line
/// after the exception is the program's next line (a Go-looking `config.Reload()`, a log
/// line), not the message.
fn past_message(kinds: &[Kind], i: usize) -> usize {
    let more = kinds[i.min(kinds.len())..]
        .iter()
        .take(MAX_MESSAGE_LINES)
        .take_while(|k| **k == Kind::Frame)
        .count();
    i + more
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

/// Node's uncaught exception: the location, the source line and caret it quotes, a blank line,
/// then the exception and its frames as [`java_end`] reads them. `None` when what follows the
/// location is not that.
fn node_end(kinds: &[Kind], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while kinds.get(j) == Some(&Kind::Frame) && j <= start + 3 {
        j += 1;
    }
    let exception = past_blanks(kinds, j);
    let traced = kinds.get(exception) == Some(&Kind::Exception)
        && kinds.get(exception + 1) == Some(&Kind::Frame);
    traced.then(|| java_end(kinds, exception))
}

/// A Go panic: `panic: …`, then its indented and Go lines; blank lines between goroutines (or
/// after `[signal …]`) are part of it when a Go line follows.
fn go_end(kinds: &[Kind], start: usize) -> usize {
    let mut j = start + 1;
    loop {
        match kinds.get(j) {
            Some(Kind::Frame | Kind::GoLine) => j += 1,
            Some(Kind::Blank) if kinds.get(past_blanks(kinds, j)) == Some(&Kind::GoLine) => {
                j = past_blanks(kinds, j);
            }
            _ => return j,
        }
    }
}

/// `end` moved past a runtime's trailer after a trace (`Node.js v20.11.0` after a blank line).
fn with_trailer(kinds: &[Kind], end: usize) -> usize {
    let trailer = past_blanks(kinds, end);
    if kinds.get(trailer) == Some(&Kind::Trailer) {
        trailer + 1
    } else {
        end
    }
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
            Exception, Header, Frame, Frame, Exception, Exception, Frame, Frame, Ordinary,
        ];
        assert_eq!(segment(&kinds), vec![(0, 1), (1, 5), (5, 8), (8, 9)]);
    }

    #[test]
    fn classifies_go_and_node_lines() {
        let cases = [
            (
                "panic: runtime error: index out of range [3] with length 3",
                Panic,
            ),
            ("fatal error: concurrent map writes", Panic),
            ("goroutine 1 [running]:", GoLine),
            ("goroutine 18 [chan receive, 5 minutes]:", GoLine),
            ("main.(*Server).handle(0x0, {0x1, 0x2})", GoLine),
            ("main.(*T).f(...)", GoLine),
            ("main.main()", GoLine),
            ("panic({0x6c3e40?, 0x9a8b30?})", GoLine),
            (
                "net/http.HandlerFunc.ServeHTTP(0xc0000a4120?, {0x8b0f20?}, 0x4d6c0e?)",
                GoLine,
            ),
            ("created by net/http.(*Server).Serve in goroutine 1", GoLine),
            (
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f2b1d]",
                GoLine,
            ),
            ("\t/src/internal/rates/client.go:57 +0x1d", Frame),
            ("exit status 2", Trailer),
            ("Node.js v20.11.0", Trailer),
            ("/app/src/routes/checkout.js:42", Location),
            ("node:internal/process/promises:288", Location),
            ("                            ^", Frame),
            ("^", Frame),
            ("throw new Error('DATABASE_URL is not set');", Frame),
            (
                "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'",
                Exception,
            ),
            (
                "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
                Frame,
            ),
        ];
        for (line, kind) in cases {
            assert_eq!(classify(line), kind, "{line}");
        }
        for line in [
            "Calling main.run(0x1)",
            "handler.go:42 took 3ms",
            "exit status unknown",
            "goroutines: 12",
            "f(a, b)",
            "/healthz 200",
            "Error [not a code]: x",
        ] {
            assert_ne!(classify(line), GoLine, "{line}");
            assert_ne!(classify(line), Location, "{line}");
            assert_ne!(classify(line), Exception, "{line}");
        }
    }

    /// psycopg2's `OperationalError` message runs on over indented lines; the chain phrase
    /// after them continues the trace. Bounded: a long indented stream after it is not taken.
    #[test]
    fn an_exception_message_over_several_lines_is_part_of_its_trace() {
        let kinds = [
            Header, Frame, Exception, Frame, Frame, Blank, Chain, Blank, Header, Frame, Exception,
            Frame,
        ];
        assert_eq!(segment(&kinds), vec![(0, 12)]);
        let kinds = [Header, Frame, Exception, Frame, Frame, Blank, Ordinary];
        assert_eq!(segment(&kinds), vec![(0, 5), (5, 6), (6, 7)]);
        let mut kinds = vec![Header, Exception];
        kinds.extend([Frame; MAX_MESSAGE_LINES + 2]);
        assert_eq!(segment(&kinds)[0], (0, 2 + MAX_MESSAGE_LINES));
    }

    #[test]
    fn segments_go_panics() {
        // panic, [signal], blank, goroutine, function, file, created by, file, exit status.
        let kinds = [
            Panic, GoLine, Blank, GoLine, GoLine, Frame, GoLine, Frame, Trailer, Blank,
        ];
        assert_eq!(segment(&kinds), vec![(0, 9), (9, 10)]);
        // Every goroutine's stack, blank lines between; a panic with nothing after is alone.
        let kinds = [
            Panic, Blank, GoLine, GoLine, Frame, Blank, GoLine, GoLine, Frame, Blank, Panic,
        ];
        assert_eq!(segment(&kinds), vec![(0, 9), (9, 10), (10, 11)]);
    }

    #[test]
    fn segments_node_uncaught_exceptions_with_their_preamble() {
        // location, source line, caret, blank, exception, frames, blank, version.
        let kinds = [
            Location, Frame, Frame, Blank, Exception, Frame, Frame, Blank, Trailer,
        ];
        assert_eq!(segment(&kinds), vec![(0, 9)]);
        // A location with no exception after it is a line of its own, as is a lone version.
        let kinds = [Location, Frame, Blank, Ordinary, Trailer];
        assert_eq!(
            segment(&kinds),
            vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
        );
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
    fn exception_groups_and_inspected_node_errors_are_read() {
        let cases = [
            (
                "  + Exception Group Traceback (most recent call last):",
                GroupHeader,
            ),
            ("  |   File \"/app/main.py\", line 9, in main", Frame),
            ("  +-+---------------- 1 ----------------", Frame),
            ("    | ConnectionError: db down", Frame),
            (
                "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block. The promise rejected with the reason \"x\".] {",
                Exception,
            ),
            ("[TypeError: fetch failed]", Exception),
            ("[INFO] started", Ordinary),
            ("[ERROR: x]", Ordinary),
        ];
        for (line, kind) in cases {
            assert_eq!(classify(line), kind, "{line}");
        }
        // A group is its header and frames; a chain phrase after it continues the trace, and
        // one before it leads into it.
        let kinds = [GroupHeader, Frame, Frame, Frame, Ordinary];
        assert_eq!(segment(&kinds), vec![(0, 4), (4, 5)]);
        let kinds = [
            GroupHeader,
            Frame,
            Blank,
            Chain,
            Blank,
            Header,
            Frame,
            Exception,
            Blank,
        ];
        assert_eq!(segment(&kinds), vec![(0, 8), (8, 9)]);
        let kinds = [
            Header,
            Frame,
            Exception,
            Blank,
            Chain,
            Blank,
            GroupHeader,
            Frame,
        ];
        assert_eq!(segment(&kinds), vec![(0, 8)]);
        let kinds = [GroupHeader, Frame, Blank, Chain, Ordinary];
        assert_eq!(segment(&kinds), vec![(0, 4), (4, 5)]);
    }

    #[test]
    fn chained_python_traces_stay_one_group() {
        let kinds = [
            Header, Frame, Exception, Chain, Header, Frame, Exception, Header,
        ];
        assert_eq!(segment(&kinds), vec![(0, 7), (7, 8)]);
    }
}
