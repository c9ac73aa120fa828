//! The byte scanner of the export reader: where one piece (an element, a line, the rest of
//! a wrapper) ends, tracking only strings and nesting, plus the tears it repairs (a raw
//! newline in a string; a line opening with `{` where an object had no value due, or with no
//! indentation anywhere inside a piece) and the `"entries": [` of a wrapper.

use super::export::Piece;

/// Container kinds remembered for the torn-line check; deeper nesting is still counted.
const MAX_KINDS: usize = 256;

pub(super) enum Scanned {
    Piece(Piece),
    /// `{"entries": [` was read: the array's elements are the entries.
    Wrapper,
}

/// What one byte does to the piece being scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    More,
    /// The piece ends with this byte.
    Include,
    /// The piece ended before this byte (it belongs to what follows).
    Exclude,
    /// The byte opens a wrapper's `entries` array.
    Wrapper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An object or array: ends with its closing bracket.
    Container,
    /// An array element that is no container: ends before `,`, `]` or a newline.
    Scalar,
    /// A top-level line that is not JSON-shaped: ends before the newline.
    Line,
    /// The rest of a wrapper object after its `entries`: ends with its `}`.
    Rest,
}

/// The scanner's state: strings and nesting, plus the key just read at depth 1 (to spot
/// `"entries": [`).
#[derive(Clone)]
pub(super) struct Scan {
    mode: Mode,
    depth: usize,
    in_str: bool,
    escaped: bool,
    /// Innermost containers, `true` for an object (at most [`MAX_KINDS`]).
    kinds: Kinds,
    line_start: bool,
    /// The byte before this one was a newline (no indentation).
    col0: bool,
    /// Newlines inside the piece so far (up to 2).
    newlines: u8,
    /// The last significant byte was `:` (a value is due, perhaps on the next line).
    after_colon: bool,
    expect_key: bool,
    /// Reading a key of the outermost object.
    in_key: bool,
    /// The key being read, its first [`KEY_BYTES`] bytes; `key_len` is `u8::MAX` once it is
    /// longer or escaped (no key looked for is).
    key: [u8; KEY_BYTES],
    key_len: u8,
    key_is_entries: bool,
    /// A key of the outermost object was one only a LogEntry has (its time or a payload).
    entry_key: bool,
    wrappers: bool,
    pub(super) last: Step,
}

/// A stack of up to [`MAX_KINDS`] container kinds as bits: a scan starts for every piece,
/// and this keeps that start free of an allocation.
#[derive(Clone, Copy, Default)]
struct Kinds {
    bits: [u64; MAX_KINDS / 64],
    len: usize,
}

impl Kinds {
    /// Pushes `object`, unless [`MAX_KINDS`] are held (deeper nesting is only counted).
    fn push(&mut self, object: bool) {
        if self.len < MAX_KINDS {
            let (word, bit) = (self.len / 64, self.len % 64);
            self.bits[word] = (self.bits[word] & !(1 << bit)) | (u64::from(object) << bit);
            self.len += 1;
        }
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    fn len(&self) -> usize {
        self.len
    }

    fn last(&self) -> Option<bool> {
        let at = self.len.checked_sub(1)?;
        Some((self.bits[at / 64] >> (at % 64)) & 1 == 1)
    }
}

const ENTRIES: &[u8] = b"entries";

/// Keys only a LogEntry has, in both spellings: a wrapper holding one is an entry as well.
const ENTRY_KEYS: &[&[u8]] = &[
    b"timestamp",
    b"textPayload",
    b"text_payload",
    b"jsonPayload",
    b"json_payload",
    b"protoPayload",
    b"proto_payload",
];

/// The longest key looked for.
const KEY_BYTES: usize = 13;

impl Scan {
    fn new(mode: Mode, wrappers: bool) -> Scan {
        Scan {
            mode,
            depth: 0,
            in_str: false,
            escaped: false,
            kinds: Kinds::default(),
            line_start: false,
            col0: false,
            newlines: 0,
            after_colon: false,
            expect_key: false,
            in_key: false,
            key: [0; KEY_BYTES],
            key_len: 0,
            key_is_entries: false,
            entry_key: false,
            wrappers,
            last: Step::More,
        }
    }

    pub(super) fn container(wrappers: bool) -> Scan {
        Scan::new(Mode::Container, wrappers)
    }

    pub(super) fn scalar() -> Scan {
        Scan::new(Mode::Scalar, false)
    }

    pub(super) fn line() -> Scan {
        Scan::new(Mode::Line, false)
    }

    /// The rest of a wrapper object: a second `"entries": [` in it (a duplicate key) is a
    /// wrapper's array too, not skipped.
    pub(super) fn rest() -> Scan {
        let mut s = Scan::new(Mode::Rest, true);
        s.depth = 1;
        s.kinds.push(true);
        s
    }

    /// Steps over `chunk` up to its first byte that is not [`Step::More`], returning where that
    /// is. The inside of a string and a line in line mode hold no structure: they are skipped
    /// to the next byte that could change the state (most of an entry's bytes are strings).
    pub(super) fn end_in(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < chunk.len() {
            let rest = &chunk[i..];
            i += if self.mode == Mode::Line {
                memchr::memchr(b'\n', rest).unwrap_or(rest.len())
            } else if self.in_str && !self.escaped {
                let span = string_span(rest);
                if self.in_key {
                    self.key_bytes(&rest[..span]);
                }
                span
            } else if !self.in_str {
                // A pretty-printed export's indentation: no state changes in it but that
                // what follows is not at the start of its line.
                let blank = rest
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\t' | b'\r'))
                    .unwrap_or(rest.len());
                self.col0 &= blank == 0;
                blank
            } else {
                0
            };
            if i == chunk.len() {
                return None;
            }
            if self.step(chunk[i]) != Step::More {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Ordinary bytes of a key being read (no quote, backslash or newline): kept while the
    /// key fits in [`KEY_BYTES`], as stepping them one by one would.
    fn key_bytes(&mut self, bytes: &[u8]) {
        let at = usize::from(self.key_len);
        if self.key_len == u8::MAX || bytes.is_empty() {
            return;
        }
        match self.key.get_mut(at..at + bytes.len()) {
            Some(key) => {
                key.copy_from_slice(bytes);
                self.key_len += bytes.len() as u8;
            }
            None => self.key_len = u8::MAX,
        }
    }

    /// Whether a key of the outermost object so far is one only a LogEntry has.
    pub(super) fn saw_entry_key(&self) -> bool {
        self.entry_key
    }

    pub(super) fn step(&mut self, b: u8) -> Step {
        self.last = self.next(b);
        self.last
    }

    fn next(&mut self, b: u8) -> Step {
        if self.mode == Mode::Line {
            return if b == b'\n' {
                Step::Exclude
            } else {
                Step::More
            };
        }
        if self.in_str {
            return self.in_string(b);
        }
        let col0 = std::mem::replace(&mut self.col0, b == b'\n');
        if matches!(b, b' ' | b'\t' | b'\r') {
            return Step::More;
        }
        if b == b'\n' {
            self.line_start = true;
            if self.depth > 0 {
                self.newlines = self.newlines.saturating_add(1).min(2);
            }
            return if self.depth == 0 {
                Step::Exclude
            } else {
                Step::More
            };
        }
        let at_line_start = std::mem::take(&mut self.line_start);
        let after_colon = std::mem::replace(&mut self.after_colon, b == b':');
        match b {
            b'"' => {
                self.in_str = true;
                self.in_key = self.expect_key && self.depth == 1;
                self.key_len = 0;
                Step::More
            }
            b'{' | b'[' => {
                let in_object = self.kinds.last() == Some(true);
                if self.depth == 0 && self.mode == Mode::Scalar {
                    return Step::Exclude;
                }
                let torn_line = col0 && self.newlines == 1;
                if b == b'{' && at_line_start && (in_object && !after_colon || torn_line) {
                    // A line opening with `{` inside an object, where no value was due, or
                    // unindented on the piece's second line (a JSON line broke off there; a
                    // pretty export, even one printed without indentation, has had lines of
                    // its own before any nested `{`): a new JSON line, not a continuation.
                    return Step::Exclude;
                }
                if b == b'[' && self.depth == 1 && self.key_is_entries && self.wrappers {
                    return Step::Wrapper;
                }
                self.depth += 1;
                self.kinds.push(b == b'{');
                self.expect_key = b == b'{';
                self.key_is_entries = false;
                Step::More
            }
            b'}' | b']' => {
                if self.depth == 0 {
                    return Step::Exclude;
                }
                self.depth -= 1;
                if self.kinds.len() > self.depth {
                    self.kinds.pop();
                }
                self.expect_key = false;
                if self.depth == 0 {
                    Step::Include
                } else {
                    Step::More
                }
            }
            b',' if self.depth == 0 => Step::Exclude,
            b',' => {
                self.expect_key = self.kinds.last() == Some(true);
                Step::More
            }
            b':' => {
                self.expect_key = false;
                Step::More
            }
            _ => Step::More,
        }
    }

    fn in_string(&mut self, b: u8) -> Step {
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
            self.key_len = u8::MAX;
        } else if b == b'"' {
            self.in_str = false;
            if std::mem::take(&mut self.in_key) {
                // A long or escaped key is none looked for, and ends what the last key said.
                let key = self
                    .key
                    .get(..usize::from(self.key_len))
                    .unwrap_or_default();
                self.key_is_entries = key == ENTRIES;
                self.entry_key |= ENTRY_KEYS.contains(&key);
            }
        } else if b == b'\n' {
            // A raw newline cannot be inside a JSON string: the line was torn here.
            self.in_str = false;
            self.in_key = false;
            return Step::Exclude;
        } else if self.in_key && self.key_len != u8::MAX {
            let at = usize::from(self.key_len);
            if at < KEY_BYTES {
                self.key[at] = b;
                self.key_len += 1;
            } else {
                self.key_len = u8::MAX;
            }
        }
        Step::More
    }
}

/// Bytes of `rest` before its first `"`, `\\` or newline (all of it if none): most strings of
/// an entry are keys and short values, which eight bytes at a time cross faster than a
/// vectorised search is set up; a longer one is left to that search.
fn string_span(rest: &[u8]) -> usize {
    const SHORT: usize = 32;
    let head = &rest[..rest.len().min(SHORT)];
    let mut words = head.chunks_exact(8);
    for (n, word) in words.by_ref().enumerate() {
        let stops = stops_in(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        if stops != 0 {
            return n * 8 + (stops.trailing_zeros() / 8) as usize;
        }
    }
    let tail = words.remainder();
    let done = head.len() - tail.len();
    if let Some(i) = tail.iter().position(|b| matches!(b, b'"' | b'\\' | b'\n')) {
        return done + i;
    }
    head.len()
        + memchr::memchr3(b'"', b'\\', b'\n', &rest[head.len()..])
            .unwrap_or(rest.len() - head.len())
}

/// Eight bytes at once: the high bit of each byte of the result is set where the byte is `"`,
/// `\\` or a newline, or above one that is (only the lowest set bit is exact, which is all
/// [`string_span`] reads).
fn stops_in(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let zero_at = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    zero_at(word ^ (ONES * u64::from(b'"')))
        | zero_at(word ^ (ONES * u64::from(b'\\')))
        | zero_at(word ^ (ONES * u64::from(b'\n')))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Pieces of exports: structure, strings with escapes, keys, newlines inside and outside,
    /// and the indentation a pretty-printed export has (spaces, tabs, CRLF).
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\\\"",
        "\n",
        "\r\n",
        "\t",
        " ",
        "  ",
        "entries",
        "\"entries\"",
        "\"textPayload\": \"boom\"",
        "abc",
        "123",
        "\u{e9}",
    ];

    proptest! {
        #[test]
        fn kinds_stack_like_a_vec_of_at_most_max_kinds(
            // Pushes three times as likely as pops: the stack reaches past MAX_KINDS.
            ops in proptest::collection::vec(
                prop_oneof![3 => any::<bool>().prop_map(Some), 1 => Just(None)],
                0..700,
            ),
        ) {
            let (mut kinds, mut model) = (Kinds::default(), Vec::new());
            for op in ops {
                match op {
                    Some(object) => {
                        kinds.push(object);
                        if model.len() < MAX_KINDS {
                            model.push(object);
                        }
                    }
                    None => {
                        kinds.pop();
                        model.pop();
                    }
                }
                prop_assert_eq!(kinds.len(), model.len());
                prop_assert_eq!(kinds.last(), model.last().copied());
            }
        }

        #[test]
        fn a_string_span_ends_at_the_first_quote_backslash_or_newline(
            text in proptest::collection::vec(
                prop_oneof![8 => any::<u8>(), 1 => proptest::sample::select(&b"\"\\\n"[..])],
                0..80,
            ),
        ) {
            let naive = text.iter().position(|b| matches!(b, b'"' | b'\\' | b'\n'));
            prop_assert_eq!(string_span(&text), naive.unwrap_or(text.len()));
        }

        #[test]
        fn skipping_ends_where_stepping_every_byte_does(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..40),
            mode in 0..5u8,
        ) {
            let text = parts.concat();
            let start = match mode {
                0 => Scan::container(true),
                1 => Scan::container(false),
                2 => Scan::scalar(),
                3 => Scan::line(),
                _ => Scan::rest(),
            };
            let (mut fast, mut slow) = (start.clone(), start);
            let mut at = 0;
            loop {
                let rest = &text.as_bytes()[at..];
                let a = fast.end_in(rest);
                let b = rest.iter().position(|&b| slow.step(b) != Step::More);
                prop_assert_eq!(a, b);
                match a {
                    Some(i) => {
                        prop_assert_eq!(fast.last, slow.last);
                        at += i + 1;
                    }
                    None => break,
                }
            }
        }
    }
}
