//! Tracebacks: a Python/Java/Node stack trace or a Go panic is grouped by exception type,
//! message and top frames, not by its whole text, so one bug is one cluster even when the outer
//! frames differ by caller.
//!
//! The signature is one readable line, innermost frame first, without line numbers (they move
//! with every deploy) and without install prefixes (`/app/`, `site-packages/`):
//! `ZeroDivisionError: division by zero (at compute_total in backend/pricing.py ← create_order in
//! backend/api/orders.py)`. Masking variable values is left to the caller.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Frames kept from the innermost end of a trace.
const TOP_FRAMES: usize = 3;

const PY_HEADER: &str = "Traceback (most recent call last):";
const PY_GROUP_HEADER: &str = "Exception Group Traceback (most recent call last):";

/// The text to fingerprint for `message`: for a traceback, its exception type, message and top
/// frames on one line (after the first line of any preamble); any other text unchanged and
/// unallocated.
pub fn signature(message: &str) -> Cow<'_, str> {
    // Every traceback spans lines; most messages do not, and this test is a memchr.
    if memchr::memchr(b'\n', message.as_bytes()).is_none() {
        return Cow::Borrowed(message);
    }
    let trace = if let Some(at) = message.find(PY_HEADER) {
        // A group's header ends in the plain one; a plain trace before it heads a chain.
        if message[..at].ends_with("Exception Group ") {
            python_group(message)
        } else {
            python(message)
        }
    } else if message.contains("\tat ") || message.contains("    at ") {
        java_or_node(message)
    } else if message.contains("goroutine ") {
        go(message)
    } else {
        node_inspected(message)
    };
    match trace {
        Some(t) => Cow::Owned(t.render()),
        None => Cow::Borrowed(message),
    }
}

/// One stack frame, both parts borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame<'a> {
    function: &'a str,
    file: &'a str,
    /// Third-party or runtime code: where a trace passes through, rarely where the bug is.
    library: bool,
}

impl<'a> Frame<'a> {
    fn new(function: &'a str, path: &'a str) -> Self {
        let library = LIBRARY_PATHS.iter().any(|m| path.contains(m))
            || LIBRARY_PATH_STARTS.iter().any(|m| path.starts_with(m))
            || LIBRARY_FUNCTIONS.iter().any(|m| function.starts_with(m));
        Frame {
            function,
            file: short_path(path),
            library,
        }
    }
}

/// A parsed trace; `frames` innermost first.
#[derive(Debug)]
struct Trace<'a> {
    preamble: Option<&'a str>,
    /// The root cause: the first exception of a Python chain, the last `Caused by:` in Java,
    /// the first sub-exception of a Python exception group.
    exception: Cow<'a, str>,
    frames: Vec<Frame<'a>>,
    /// The type of the exception the chain ended in, when that is not the root cause.
    then: Option<&'a str>,
}

impl Trace<'_> {
    fn render(&self) -> String {
        let mut out = String::with_capacity(160);
        if let Some(pre) = self.preamble.filter(|p| *p != self.exception) {
            out.push_str(pre);
            out.push_str(" — ");
        }
        out.push_str(&self.exception);
        let top = &self.frames[..self.frames.len().min(TOP_FRAMES)];
        if top.is_empty() {
            self.push_then(&mut out);
            return out;
        }
        out.push_str(" (at ");
        for (i, f) in top.iter().enumerate() {
            if i > 0 {
                out.push_str(" ← ");
            }
            let _ = write!(out, "{} in {}", f.function, f.file);
        }
        // Library-only top frames say where it broke, not which call of ours broke it.
        let ours = self.frames.iter().find(|f| !f.library);
        if let Some(f) = ours.filter(|_| top.iter().all(|t| t.library)) {
            let _ = write!(out, " … {} in {}", f.function, f.file);
        }
        out.push(')');
        self.push_then(&mut out);
        out
    }

    fn push_then(&self, out: &mut String) {
        if let Some(then) = self.then {
            out.push_str(" → ");
            out.push_str(then);
        }
    }
}

/// The first line of what precedes a trace, if anything does.
fn preamble<'a>(mut before: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    before.find_map(|l| Some(l.trim()).filter(|l| !l.is_empty()))
}

fn is_indented(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

/// Python: the root cause is the first `Traceback` block of a chain (`During handling of the
/// above exception…`, `The above exception was the direct cause…`): its frames, then the first
/// unindented line after them as `Type: message`. The exception the chain ended in is named
/// after it by type.
fn python(message: &str) -> Option<Trace<'_>> {
    let first = message.find(PY_HEADER)?;
    let last = message.rfind(PY_HEADER)?;
    let (frames, exception) = python_block(&message[first + PY_HEADER.len()..]);
    let then = (last != first)
        .then(|| python_block(&message[last + PY_HEADER.len()..]).1)
        .flatten()
        .map(exception_type)
        .filter(|t| Some(*t) != exception.map(exception_type));
    Some(Trace {
        preamble: preamble(message[..first].lines()),
        exception: exception.unwrap_or("Traceback (incomplete)").into(),
        frames,
        then,
    })
}

/// Python 3.11's exception group (an `asyncio.TaskGroup` whose tasks failed): the group's own
/// exception (`ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)`) says only
/// that something inside failed; the root cause is its first sub-exception, with its own
/// frames. Every line after the header is framed by `|` (one per level of nesting) and the
/// sub-exceptions are parted by `+-+---- 1 ----` lines.
fn python_group(message: &str) -> Option<Trace<'_>> {
    let lines: Vec<&str> = message.lines().collect();
    let head = lines.iter().position(|l| l.contains(PY_GROUP_HEADER))?;
    let inner: Vec<Option<&str>> = lines[head + 1..].iter().copied().map(unframe).collect();
    let own_end = inner
        .iter()
        .position(Option::is_none)
        .unwrap_or(inner.len());
    let (own_frames, own) = python_lines(inner[..own_end].iter().flatten().copied());
    let sub: Vec<&str> = inner[own_end..].iter().flatten().copied().collect();
    let (frames, exception) = match sub.iter().position(|l| l.trim() == PY_HEADER) {
        Some(i) => python_lines(sub[i + 1..].iter().copied()),
        // A sub-exception raised nowhere (built and grouped) prints no trace of its own.
        None => (
            Vec::new(),
            sub.iter()
                .find(|l| !is_indented(l) && !l.trim().is_empty())
                .map(|l| l.trim()),
        ),
    };
    let (exception, frames, then) = match exception {
        Some(e) => {
            let frames = if frames.is_empty() {
                own_frames
            } else {
                frames
            };
            (e, frames, own.map(exception_type))
        }
        None => (own?, own_frames, None),
    };
    Some(Trace {
        preamble: preamble(lines[..head].iter().copied()),
        exception: exception.into(),
        frames,
        then,
    })
}

/// A line inside an exception group without its `|` frame (`  |   File …` → `  File …`), or
/// `None` for a separator or a nested group's header (`+-+---- 1 ----`, `| + Exception …`).
fn unframe(line: &str) -> Option<&str> {
    let mut text = line;
    loop {
        let t = text.trim_start();
        if t.starts_with('+') {
            return None;
        }
        match t.strip_prefix('|') {
            Some(rest) => text = rest.strip_prefix(' ').unwrap_or(rest),
            None => return Some(text),
        }
    }
}

/// The frames (innermost first) and the exception line of one `Traceback` block.
fn python_block(block: &str) -> (Vec<Frame<'_>>, Option<&str>) {
    python_lines(block.lines())
}

/// [`python_block`] of the block's lines.
fn python_lines<'a>(lines: impl Iterator<Item = &'a str>) -> (Vec<Frame<'a>>, Option<&'a str>) {
    let mut frames = Vec::new();
    let mut exception = None;
    for line in lines {
        if let Some(frame) = line.trim_start().strip_prefix("File \"") {
            if let Some(f) = python_frame(frame) {
                frames.push(f);
            }
        } else if !is_indented(line) && !line.trim().is_empty() {
            exception = Some(line.trim());
            break;
        }
    }
    frames.reverse();
    (frames, exception)
}

/// `ValueError` of `ValueError: bad`; the whole line when it names no type.
fn exception_type(line: &str) -> &str {
    line.split_once(": ").map_or(line, |(t, _)| t).trim()
}

/// `path", line 12, in function` (the text after `File "`).
fn python_frame(rest: &str) -> Option<Frame<'_>> {
    let (path, rest) = rest.split_once('"')?;
    let function = rest
        .rsplit_once(", in ")
        .map_or("<unknown>", |(_, f)| f.trim());
    Some(Frame::new(function, path))
}

/// Java and Node: the exception is the line before the first `at` frame; frames follow it,
/// innermost first. In a Java chain the root cause is the last `Caused by:`, with its own
/// frames when it prints any besides `... N more`; the outer exception is named after it.
fn java_or_node(message: &str) -> Option<Trace<'_>> {
    let lines: Vec<&str> = message.lines().collect();
    let first_at = lines.iter().position(|l| is_at_frame(l))?;
    let exc_idx = lines[..first_at]
        .iter()
        .rposition(|l| !l.trim().is_empty())?;
    let outer = lines[exc_idx].trim();
    let outer = outer
        .strip_prefix("Exception in thread \"")
        .and_then(|r| r.split_once("\" "))
        .map_or(outer, |(_, e)| e.trim());
    let frames_at = |from: usize| -> Vec<Frame<'_>> {
        lines[from..]
            .iter()
            .take_while(|l| is_at_frame(l))
            .filter_map(|l| at_frame(l.trim_start().get(3..)?))
            .collect()
    };
    let outer_frames = frames_at(first_at);
    let cause = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Caused by: "))
        .filter(|&i| i > first_at);
    let (exception, frames, then) = match cause {
        Some(i) => {
            let own = frames_at(i + 1);
            let root = lines[i].trim_start()["Caused by: ".len()..].trim();
            let frames = if own.is_empty() { outer_frames } else { own };
            (root, frames, Some(exception_type(outer)))
        }
        None => (outer, outer_frames, None),
    };
    // Node's `/app/server.js:42` before an uncaught exception says where it was thrown, as
    // the frames do; it heads no title.
    let preamble = preamble(lines[..exc_idx].iter().copied()).filter(|p| !is_location(p));
    Some(Trace {
        preamble,
        exception: exception.into(),
        frames,
        then,
    })
}

/// Node's account of an error it prints without a stack, after the location preamble of an
/// uncaught one: `[UnhandledPromiseRejection: …] {` (a promise rejected with a value that is
/// not an Error), `[Error: ENOENT: …]`. The rejection's fixed explanation is dropped: its
/// reason is what differs, and would not fit a title behind it.
fn node_inspected(message: &str) -> Option<Trace<'_>> {
    let lines: Vec<&str> = message.lines().collect();
    let at = lines.iter().position(|l| inspected_error(l).is_some())?;
    let inner = inspected_error(lines[at])?;
    let exception = match (inner.split_once(": "), inner.find(REJECTED_WITH)) {
        (Some((name, _)), Some(reason)) => Cow::Owned(format!("{name}: {}", &inner[reason..])),
        _ => Cow::Borrowed(inner),
    };
    Some(Trace {
        preamble: preamble(lines[..at].iter().copied()).filter(|p| !is_location(p)),
        exception,
        frames: Vec::new(),
        then: None,
    })
}

/// Where the reason starts in Node's unhandled-rejection explanation.
const REJECTED_WITH: &str = "The promise rejected with the reason ";

/// `Name: message` of `[Name: message]` or `[Name: message] {`, unindented, when the name
/// reads as an error's (`Error`, `TypeError`, `UnhandledPromiseRejection`): how Node's
/// inspector prints an error (the stitcher holds such a line too).
pub(crate) fn inspected_error(line: &str) -> Option<&str> {
    let text = line.trim_end();
    let text = text.strip_suffix(" {").unwrap_or(text);
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let (name, _) = inner.split_once(": ")?;
    let named = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && ["Error", "Exception", "Rejection"]
            .iter()
            .any(|end| name.ends_with(end));
    named.then_some(inner)
}

/// `/app/server.js:42`, `node:internal/process/promises:288`, `file:///app/x.mjs:3`: a path
/// with no spaces and a line number, alone on its line (where Node says an uncaught exception
/// was thrown; the stitcher holds such a line too).
pub(crate) fn is_location(line: &str) -> bool {
    line.rsplit_once(':').is_some_and(|(path, n)| {
        (path.starts_with('/') || path.starts_with("node:") || path.starts_with("file://"))
            && !path.contains(char::is_whitespace)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// An indented `at …` line that ends like a frame: `…)` or `…:12`, so prose such as
/// `    at most 3 times` is not taken for one. Node ends the last frame with ` {` when the
/// error's own properties follow.
fn is_at_frame(line: &str) -> bool {
    let text = without_brace(line.trim());
    is_indented(line)
        && text.starts_with("at ")
        && (text.ends_with(')')
            || text.ends_with(|c: char| c.is_ascii_digit()) && text.contains(':'))
}

/// `pkg.Class.method(File.java:12)`, `fn (/path/file.js:1:2)`, `/path/file.js:1:2`.
fn at_frame(rest: &str) -> Option<Frame<'_>> {
    let rest = without_brace(rest.trim());
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let (function, location) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
        Some((f, loc)) if !f.trim().is_empty() => (f.trim(), loc),
        _ => ("<anonymous>", rest),
    };
    Some(Frame::new(function, strip_line_numbers(location)))
}

fn without_brace(text: &str) -> &str {
    text.strip_suffix(" {").unwrap_or(text)
}

/// `file.js:1:2` → `file.js`, `File.java:12` → `File.java`.
fn strip_line_numbers(mut loc: &str) -> &str {
    for _ in 0..2 {
        match loc.rsplit_once(':') {
            Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => {
                loc = head
            }
            _ => break,
        }
    }
    loc
}

/// Go: `panic: …` (or `fatal error: …`), then the first goroutine's frames as pairs of a
/// function line and a tab-indented `file:line +0x…` line, up to `created by …` (where the
/// goroutine was started, not where it broke). The runtime's own frames on top (`panic(…)`,
/// `runtime.throw`, `runtime.sigpanic`) raised the panic; the first frame below them is where
/// it happened.
fn go(message: &str) -> Option<Trace<'_>> {
    let lines: Vec<&str> = message.lines().collect();
    let exc_idx = lines
        .iter()
        .position(|l| l.starts_with("panic: ") || l.starts_with("fatal error: "))?;
    let g = exc_idx
        + lines[exc_idx..]
            .iter()
            .position(|l| l.starts_with("goroutine "))?;
    let mut frames = Vec::new();
    for pair in lines[g + 1..].windows(2) {
        let (func, file) = (pair[0], pair[1]);
        if func.trim().is_empty() || func.starts_with("created by ") {
            break;
        }
        if is_indented(func) || !file.starts_with('\t') {
            continue;
        }
        let function = func.rsplit_once('(').map_or(func, |(f, _)| f);
        let file = file.trim().split(" +").next().unwrap_or("");
        // Go names a function by its package's import path: `rates.(*Client).Quote in
        // client.go` reads as Go programmers name it, and whatever the module's host or the
        // build's source root, the file is one name.
        let mut frame = Frame::new(function, strip_line_numbers(file));
        frame.function = function.rsplit_once('/').map_or(function, |(_, f)| f);
        frame.file = frame.file.rsplit_once('/').map_or(frame.file, |(_, f)| f);
        frames.push(frame);
    }
    let raised = frames
        .iter()
        .take_while(|f| f.function == "panic" || f.function.starts_with("runtime."))
        .count();
    if raised < frames.len() {
        frames.drain(..raised);
    }
    Some(Trace {
        preamble: preamble(lines[..exc_idx].iter().copied()),
        exception: lines[exc_idx].trim().into(),
        frames,
        then: None,
    })
}

/// Where installed packages and Go's standard library live; a path is named from just past it.
const LIBRARY_PATHS: [&str; 5] = [
    "site-packages/",
    "dist-packages/",
    "node_modules/",
    "/go/src/",
    "/pkg/mod/",
];
/// Runtime-internal and system paths.
const LIBRARY_PATH_STARTS: [&str; 5] = ["node:", "<", "/usr/lib/", "/usr/local/lib/", "internal/"];
/// JVM and Go runtime packages, which name no file of their own in a frame.
const LIBRARY_FUNCTIONS: [&str; 7] = [
    "java.", "javax.", "jdk.", "sun.", "kotlin.", "runtime.", "reflect.",
];

/// Install-specific prefixes are dropped so one file has one name across images.
fn short_path(path: &str) -> &str {
    for pkgs in LIBRARY_PATHS {
        if let Some(i) = path.rfind(pkgs) {
            return &path[i + pkgs.len()..];
        }
    }
    // The standard library: `/usr/local/lib/python3.12/asyncio/x.py` → `asyncio/x.py`.
    if let Some(i) = path.find("/lib/python") {
        let after = &path[i + "/lib/python".len()..];
        if let Some(j) = after.find('/') {
            return &after[j + 1..];
        }
    }
    for root in [
        "/app/",
        "/workspace/",
        "/srv/",
        "/usr/src/app/",
        "/code/",
        "/opt/app/",
    ] {
        if let Some(rest) = path.strip_prefix(root) {
            return rest;
        }
    }
    path
}

#[cfg(test)]
mod tests;
