//! The export reader: UTF-8 text of a replay input → one raw entry per element or line, with
//! the line it starts on, read incrementally so memory stays bounded by one entry
//! (`input.max_entry_bytes`), never by the input.
//!
//! It reads what people actually feed it: `gcloud logging read --format=json` (a JSON array,
//! pretty or compact), JSON Lines, several arrays back to back (`cat a.json b.json`), an array
//! followed by JSON Lines, stray `]` and `,` between them, a BOM in the middle (concatenated
//! files), wrappers whose `entries` key holds the array (`{"entries": [...]}`, Cloud Logging
//! `entries.list` pages with `nextPageToken`, several pages back to back). Elements are found
//! by tracking strings and nesting only; entries are parsed later, by the pipeline.
//!
//! Nothing is dropped silently: a piece is an [`Item::Entry`] or an [`Item::Unreadable`] with
//! its line. Two repairs keep one damaged entry from swallowing the rest: a raw newline inside
//! a string ends the piece (JSON strings cannot hold one: the line was torn), and so does a
//! line starting with `{` where an object expects a key, or with no indentation anywhere
//! inside a piece (a new JSON line, not a continuation: no pretty printer writes one there).
//! An input with no JSON object among its first pieces is not an export at all (gcloud's
//! default YAML, a text log): that is [`ReadError::Unrecognised`], one error instead of one
//! warning per line.

use std::collections::VecDeque;
use std::io::{self, BufRead};

use super::scan::{Scan, Scanned, Step};
use crate::entry::{parse_entry_max, EntryError};

/// Pieces held back while no JSON object has been seen: past this many, the input is not an
/// export. Each is held as a short error, not its bytes.
const SNIFF_PIECES: usize = 10_000;

/// Arrays open at once (nested arrays and `entries` wrappers); deeper ones are read as one
/// element each, so hostile nesting costs no memory.
const MAX_OPEN: usize = 8;

/// One piece of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An element or line to parse as a LogEntry, starting on 1-based `line`.
    Entry { data: Vec<u8>, line: u64 },
    /// A piece that cannot be an entry (too large, or not JSON before any entry was seen):
    /// `reason` and `detail` are what the pipeline would have said.
    Unreadable {
        line: u64,
        reason: &'static str,
        detail: String,
    },
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input could not be read: the caller reports it (exit code 3).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The input is compressed (its first bytes are gzip's, zstd's, bzip2's, xz's or zip's
    /// magic): nothing is read; the caller says to decompress it first with `command`
    /// (exit code 3). `at`: the compressed data starts later, where a piece would (a `.gz`
    /// appended to an export): what came before was read, nothing after it is.
    #[error("it is {format}-compressed")]
    Compressed {
        format: &'static str,
        command: &'static str,
        at: Option<At>,
    },
    /// The input is UTF-32 (its BOM, or NULs beside an opening `[`/`{`): nothing is read; the
    /// caller says to convert it first with `command` (exit code 3).
    #[error("it is UTF-32")]
    Utf32 { command: &'static str },
    /// Every byte of the input was a separator, and not all of them whitespace: NUL bytes (a
    /// preallocated or crashed file), stray `,` or `]`. Nothing readable, like
    /// [`ReadError::Unrecognised`]; the caller says so (exit code 3), with the count.
    #[error("all {bytes} bytes of the input were skipped (NUL bytes, stray `,` or `]`, whitespace): no JSON at all")]
    Skipped { bytes: u64 },
    /// The input ends at `line` inside a JSON array (or `entries` wrapper) that was never
    /// closed and holds nothing: an export cut short before its first entry (`gcloud` stopped,
    /// a copy interrupted). Unlike `[]`, not an export that matched nothing; the caller says so
    /// (exit code 3).
    #[error("the input ends on line {line} inside a JSON array opened but never closed, before any entry: an export cut short")]
    Unclosed { line: u64 },
    /// Nothing among the first pieces is a JSON object: not an export. `first` is the first
    /// piece's error, to show what was found.
    #[error("no JSON object in the first {pieces} pieces of the input (line {line}: {first})")]
    Unrecognised {
        pieces: usize,
        line: u64,
        first: String,
    },
}

/// Where in the text something starts: its 1-based line and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub line: u64,
    pub byte: u64,
}

/// An `entries.list` page that holds no entries: the API leaves an empty `entries` out, so a
/// page of a scan that found nothing yet is `{"nextPageToken": "…"}` (or has `"entries": null`).
/// Nothing in it is an entry, so it is skipped like `[]`, not reported as one without a time.
fn empty_page(data: &[u8]) -> bool {
    // Asked of every object read, so an entry must cost next to nothing: such a page is short
    // and has no key but these two, so its first key is one of them; only then is it parsed
    // (an entry is parsed once, later).
    let first_key = data
        .trim_ascii_start()
        .strip_prefix(b"{")
        .map(<[u8]>::trim_ascii_start)
        .unwrap_or_default();
    if data.len() > 4096
        || !(first_key.starts_with(b"\"nextPageToken\"") || first_key.starts_with(b"\"entries\""))
    {
        return false;
    }
    let Ok(serde_json::Value::Object(page)) = serde_json::from_slice(data) else {
        return false;
    };
    !page.is_empty()
        && page.iter().all(|(k, v)| match k.as_str() {
            "nextPageToken" => v.is_string(),
            "entries" => v.is_null(),
            _ => false,
        })
}

/// Reads [`Item`]s from UTF-8 text (see [`super::decode`] for other encodings).
pub struct ExportReader<R> {
    input: R,
    max: usize,
    /// The line of the next byte.
    line: u64,
    /// Arrays open, innermost last: an `entries` wrapper's has its object (whose other keys
    /// are skipped when it closes).
    open: Vec<Option<Wrapper>>,
    seen_object: bool,
    /// Any piece was classified (an entry, an empty page, anything else).
    seen_piece: bool,
    /// Pieces before the first JSON object, held as errors until the input proves to be JSON.
    held: VecDeque<Item>,
    ready: VecDeque<Item>,
    done: bool,
    /// Bytes of a BOM matched at the end of the last buffer (a BOM split across reads).
    bom: usize,
    /// Bytes of the input consumed so far.
    pos: u64,
    /// Bytes skipped as separators that are not whitespace or a BOM (NUL, `,`, a stray `]`).
    junk: u64,
    /// Arrays entered or left and wrappers met so far.
    structure: u64,
    /// Where the last piece classified lies.
    last: Span,
}

/// An object whose `entries` array is open.
#[derive(Debug, Clone, Copy)]
struct Wrapper {
    /// Where it starts.
    line: u64,
    /// It has keys only a LogEntry has (a time, a payload): reported when it closes, since
    /// its own fields are not read as an entry.
    entry_keys: bool,
}

/// Where a piece lies in the text, for a reader that will read it again on its own: its
/// bytes `start..end`, how many arrays were entered or left (and wrappers met) before it,
/// and whether it was nested deeper than a reader starting on it would read it. Two entries
/// with the same `structure` have only separators between them, so a new reader over the
/// text from the first to the second reads both alike (unless `deep`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
    pub structure: u64,
    pub deep: bool,
}

/// A piece as scanned: its bytes (empty once it grew past the limit), its full length, the
/// line it starts on, its first byte.
pub(super) struct Piece {
    pub(super) data: Vec<u8>,
    pub(super) start: u64,
    pub(super) len: u64,
    pub(super) line: u64,
    pub(super) first: u8,
}

impl<R: BufRead> ExportReader<R> {
    /// `max` is `input.max_entry_bytes`: longer pieces are skipped unbuffered and reported.
    pub fn new(input: R, max: usize) -> ExportReader<R> {
        ExportReader {
            input,
            max,
            line: 1,
            open: Vec::new(),
            seen_object: false,
            seen_piece: false,
            held: VecDeque::new(),
            ready: VecDeque::new(),
            done: false,
            bom: 0,
            pos: 0,
            junk: 0,
            structure: 0,
            last: Span::default(),
        }
    }

    /// Where the piece of the last [`Item::Entry`] returned lies: an entry is always the
    /// last piece classified when it is returned (only pieces that are not entries are held
    /// back).
    pub fn last_span(&self) -> Span {
        self.last
    }

    /// The next piece, `None` at the end of the input.
    pub fn next_item(&mut self) -> Result<Option<Item>, ReadError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            if self.done {
                return Ok(None);
            }
            match self.next_piece()? {
                Some(p) => self.classify(p)?,
                None => {
                    self.done = true;
                    if !self.seen_piece && !self.open.is_empty() {
                        return Err(ReadError::Unclosed { line: self.line });
                    }
                    if !self.seen_object {
                        if let Some(first) = self.held.pop_front() {
                            return Err(unrecognised(self.held.len() + 1, first));
                        }
                        // No piece, no array: an empty or blank input is no error, one of
                        // NULs is.
                        if self.structure == 0 && self.junk > 0 {
                            return Err(ReadError::Skipped { bytes: self.pos });
                        }
                    }
                }
            }
        }
    }

    fn classify(&mut self, p: Piece) -> Result<(), ReadError> {
        self.seen_piece = true;
        self.last = Span {
            start: p.start,
            end: p.start + p.len,
            structure: self.structure,
            deep: self.open.len() >= MAX_OPEN,
        };
        if p.first == b'{' && empty_page(&p.data) {
            self.structure += 1;
            self.proven_export();
            return Ok(());
        }
        let item = if p.len > self.max as u64 {
            Item::Unreadable {
                line: p.line,
                reason: "too_large",
                detail: EntryError::TooLarge {
                    len: usize::try_from(p.len).unwrap_or(usize::MAX),
                    max: self.max,
                }
                .to_string(),
            }
        } else {
            Item::Entry {
                data: p.data,
                line: p.line,
            }
        };
        if self.seen_object || p.first == b'{' {
            self.proven_export();
            self.ready.push_back(item);
            return Ok(());
        }
        self.held.push_back(match item {
            Item::Entry { data, line } => match parse_entry_max(&data, self.max) {
                Err(e) => Item::Unreadable {
                    line,
                    reason: e.reason(),
                    detail: e.to_string(),
                },
                Ok(_) => Item::Entry { data, line },
            },
            unreadable => unreadable,
        });
        if self.held.len() > SNIFF_PIECES {
            let first = self.held.pop_front().expect("held is not empty");
            return Err(unrecognised(SNIFF_PIECES, first));
        }
        Ok(())
    }

    /// A JSON object was met (an entry or a wrapper): the input is an export, and the pieces
    /// held back go out as they are.
    fn proven_export(&mut self) {
        self.seen_object = true;
        self.ready.extend(self.held.drain(..));
    }

    /// The next raw piece, skipping separators and entering arrays; a piece that starts as
    /// compressed data does (its bytes kept, so not one past `max`) ends the input
    /// ([`ReadError::Compressed`]): read on as lines, it would be a run of binary pieces that
    /// hides what it holds.
    fn next_piece(&mut self) -> Result<Option<Piece>, ReadError> {
        loop {
            let Some(b) = self.skip_separators()? else {
                return Ok(None);
            };
            let nested = !self.open.is_empty();
            match b {
                b']' => {
                    self.consume(1);
                    self.structure += 1;
                    // The rest of the wrapper object (`nextPageToken`, …) is not entries,
                    // but for a repeated `entries` key: its array's elements are.
                    if let Some(Some(mut w)) = self.open.pop() {
                        let mut rest = Scan::rest();
                        let again = self.scan(&mut rest, false)?;
                        w.entry_keys |= rest.saw_entry_key();
                        if let Scanned::Wrapper = again {
                            self.structure += 1;
                            self.open.push(Some(w));
                        } else if w.entry_keys {
                            self.ready.push_back(Item::Unreadable {
                                line: w.line,
                                reason: "not_log_entry",
                                detail: "an object with `entries` also has a LogEntry's own \
                                         fields (a time or a payload): its entries were read, \
                                         its own fields were not"
                                    .to_owned(),
                            });
                        }
                    }
                }
                b'[' if self.open.len() < MAX_OPEN => {
                    // An array is never an entry: its elements may be.
                    self.consume(1);
                    self.structure += 1;
                    self.open.push(None);
                }
                b'{' | b'[' => {
                    let line = self.line;
                    let mut scan = Scan::container(self.open.len() < MAX_OPEN);
                    match self.scan(&mut scan, true)? {
                        Scanned::Piece(p) => return Ok(Some(p)),
                        Scanned::Wrapper => {
                            self.structure += 1;
                            self.proven_export();
                            let entry_keys = scan.saw_entry_key();
                            self.open.push(Some(Wrapper { line, entry_keys }));
                        }
                    }
                }
                _ => {
                    let mut scan = if nested { Scan::scalar() } else { Scan::line() };
                    if let Scanned::Piece(p) = self.scan(&mut scan, true)? {
                        // Its first bytes as kept: what lies ahead in the buffer may be one byte.
                        if let Some((format, command)) = super::decode::compression_within(&p.data)
                        {
                            let at = Some(At {
                                line: p.line,
                                byte: p.start,
                            });
                            return Err(ReadError::Compressed {
                                format,
                                command,
                                at,
                            });
                        }
                        return Ok(Some(p));
                    }
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.pos += n as u64;
    }

    /// Skips whitespace, NUL bytes, commas, a stray `]` at the top level and BOMs; returns the
    /// next byte without consuming it.
    fn skip_separators(&mut self) -> io::Result<Option<u8>> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        loop {
            let top = self.open.is_empty();
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let mut n = 0;
            let mut lines = 0;
            let mut junk = 0;
            let mut next = None;
            while n < chunk.len() {
                match chunk[n] {
                    b'\n' => lines += 1,
                    b' ' | b'\t' | b'\r' => {}
                    // NUL: what a crashed writer or a preallocated file leaves between lines.
                    b',' | b'\0' => junk += 1,
                    b']' if top => junk += 1,
                    b if b == BOM[self.bom]
                        && (self.bom > 0 || BOM.starts_with(&chunk[n..chunk.len().min(n + 3)])) =>
                    {
                        self.bom = (self.bom + 1) % BOM.len();
                    }
                    b => {
                        self.bom = 0;
                        next = Some(b);
                        break;
                    }
                }
                n += 1;
            }
            self.consume(n);
            self.line += lines;
            self.junk += junk;
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Reads one piece as `scan` delimits it, keeping its bytes (if `keep`) up to the limit.
    fn scan(&mut self, scan: &mut Scan, keep: bool) -> io::Result<Scanned> {
        let (line, start) = (self.line, self.pos);
        let mut data = Vec::new();
        let mut len = 0u64;
        let mut first = None;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let (n, end) = match scan.end_in(chunk) {
                // A piece is never empty: a byte that ends one before it starts is its own.
                Some(0) if len == 0 => (1, Some(Step::Include)),
                Some(i) => match scan.last {
                    s @ (Step::Include | Step::Wrapper) => (i + 1, Some(s)),
                    s => (i, Some(s)),
                },
                None => (chunk.len(), None),
            };
            let part = &chunk[..n];
            first = first.or(part.first().copied());
            if keep && len + n as u64 <= self.max as u64 {
                data.extend_from_slice(part);
            } else if !data.is_empty() {
                data = Vec::new();
            }
            len += n as u64;
            let lines = memchr::memchr_iter(b'\n', part).count() as u64;
            self.consume(n);
            self.line += lines;
            match end {
                Some(Step::Wrapper) => return Ok(Scanned::Wrapper),
                Some(_) => break,
                None => {}
            }
        }
        let trimmed = data.trim_ascii_end().len();
        data.truncate(trimmed);
        Ok(Scanned::Piece(Piece {
            data,
            start,
            len,
            line,
            first: first.unwrap_or(b' '),
        }))
    }
}

/// The items of an input held in memory (benchmarks, tests), until the end or an error.
pub fn items(data: &[u8], max: usize) -> impl Iterator<Item = Item> + '_ {
    let mut reader = ExportReader::new(data, max);
    std::iter::from_fn(move || reader.next_item().ok().flatten())
}

fn unrecognised(pieces: usize, first: Item) -> ReadError {
    let (line, first) = match first {
        Item::Unreadable { line, detail, .. } => (line, detail),
        Item::Entry { line, .. } => (line, "not an entry".to_owned()),
    };
    ReadError::Unrecognised {
        pieces,
        line,
        first: first.chars().take(120).collect(),
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
