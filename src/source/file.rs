//! Replay input: a `gcloud logging read --format=json` export (a JSON array, usually pretty
//! printed, newest first), JSON Lines, or `-` for stdin — a bounded [`Source`]. The input is
//! read on a blocking thread and split into one raw entry per element or line without parsing
//! the entries themselves; a piece that is not an entry is still passed on, so the pipeline
//! reports it with its line.

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::SourceStats;
use super::{Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source, SourceError};

/// Entries per batch: large enough that channel overhead is noise, small enough that the
/// progress bar moves.
const BATCH: usize = 512;

/// Told how many bytes of the input are done (a progress bar); `None` total for stdin.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// A file or stdin (`-`).
pub struct FileSource {
    path: PathBuf,
    progress: Option<Progress>,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource {
            path: path.into(),
            progress: None,
        }
    }

    /// Reports the bytes read so far after each batch.
    pub fn with_progress(mut self, progress: Progress) -> FileSource {
        self.progress = Some(progress);
        self
    }

    /// The input's size, when it is a file (for a progress bar).
    pub fn size(&self) -> Option<u64> {
        (!self.is_stdin())
            .then(|| std::fs::metadata(&self.path).ok().map(|m| m.len()))
            .flatten()
    }

    fn is_stdin(&self) -> bool {
        self.path == Path::new("-")
    }

    fn display(&self) -> Arc<str> {
        if self.is_stdin() {
            "<stdin>".into()
        } else {
            self.path.display().to_string().into()
        }
    }

    /// Reads the input and sends it in batches until the end or until `stop` is set. Runs on a
    /// blocking thread.
    fn read_all(
        &self,
        out: &mpsc::Sender<Batch>,
        stop: &AtomicBool,
    ) -> Result<SourceStats, SourceError> {
        let path = self.display();
        let err = |e: std::io::Error| SourceError::Read {
            path: path.to_string(),
            detail: e.to_string(),
        };
        let mut data = Vec::new();
        if self.is_stdin() {
            std::io::stdin()
                .lock()
                .read_to_end(&mut data)
                .map_err(err)?;
        } else {
            std::fs::File::open(&self.path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(err)?;
        }
        let data = Bytes::from(data);
        let mut stats = SourceStats {
            bytes: data.len() as u64,
            ..SourceStats::default()
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut pieces = split(&data).peekable();
        while let Some(piece) = pieces.next() {
            batch.push(Delivery::unsettled(Input::Entry(RawEntry {
                data: data.slice(piece.start..piece.end),
                origin: Origin::File {
                    path: path.clone(),
                    line: piece.line,
                },
            })));
            if batch.len() == BATCH || pieces.peek().is_none() {
                if stop.load(Ordering::Acquire) {
                    stats.interrupted = true;
                    return Ok(stats);
                }
                stats.delivered += batch.len() as u64;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if out.blocking_send(full).is_err() {
                    return Ok(stats);
                }
                if let Some(p) = &self.progress {
                    p(piece.end as u64);
                }
            }
        }
        Ok(stats)
    }
}

impl Source for FileSource {
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    /// Only this stage watches `shutdown`: it stops the reader, which drops the sender, so the
    /// driver reports what was read.
    async fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<SourceStats, SourceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let reader_stop = stop.clone();
        let reader = tokio::task::spawn_blocking(move || self.read_all(&out, &reader_stop));
        tokio::pin!(shutdown);
        tokio::pin!(reader);
        let joined = tokio::select! {
            joined = &mut reader => joined,
            () = &mut shutdown => {
                stop.store(true, Ordering::Release);
                // A blocked read of stdin never returns by itself: do not wait for it.
                let mut stats = SourceStats { interrupted: true, ..SourceStats::default() };
                if let Ok(Ok(Ok(s))) = tokio::time::timeout(std::time::Duration::from_millis(200), reader).await {
                    stats = SourceStats { interrupted: true, ..s };
                }
                return Ok(stats);
            }
        };
        joined.map_err(|e| SourceError::Read {
            path: "input".into(),
            detail: format!("reader failed: {e}"),
        })?
    }
}

/// One element or line of the input: bytes `start..end`, starting on 1-based `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub end: usize,
    pub line: u64,
}

/// Splits an export into pieces: the elements of a top-level JSON array, else the non-blank
/// lines (JSON Lines).
pub fn split(data: &[u8]) -> Box<dyn Iterator<Item = Piece> + '_> {
    let first = data.iter().position(|b| !b.is_ascii_whitespace());
    match first {
        Some(i) if data[i] == b'[' => Box::new(ArrayPieces {
            data,
            pos: i + 1,
            line: 1,
            counted: 0,
        }),
        _ => Box::new(lines(data)),
    }
}

fn lines(data: &[u8]) -> impl Iterator<Item = Piece> + '_ {
    let mut start = 0;
    let mut line = 0u64;
    std::iter::from_fn(move || loop {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |n| start + n);
        let (s, e) = (start, end);
        start = end + 1;
        line += 1;
        let text = data[s..e].trim_ascii();
        if !text.is_empty() {
            let lead = data[s..e].len() - data[s..e].trim_ascii_start().len();
            return Some(Piece {
                start: s + lead,
                end: s + lead + text.len(),
                line,
            });
        }
    })
}

/// Elements of a JSON array, found by tracking nesting and strings only.
struct ArrayPieces<'a> {
    data: &'a [u8],
    pos: usize,
    /// Line number at byte `counted`.
    line: u64,
    counted: usize,
}

impl ArrayPieces<'_> {
    fn line_at(&mut self, pos: usize) -> u64 {
        self.line += memchr::memchr_iter(b'\n', &self.data[self.counted..pos]).count() as u64;
        self.counted = pos;
        self.line
    }

    /// End of the value starting at `start`: after its closing bracket, or at the next
    /// top-level `,` / `]` for a scalar (or a truncated value at the end of the input).
    fn value_end(&self, start: usize) -> usize {
        let d = self.data;
        let mut depth = 0usize;
        let mut i = start;
        while i < d.len() {
            match d[i] {
                b'"' => i = string_end(d, i + 1),
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 1 => depth -= 1,
                b'}' | b']' if depth == 1 => return i + 1,
                b',' | b']' if depth == 0 => return i,
                _ => {}
            }
            i += 1;
        }
        d.len()
    }
}

/// Index of the closing quote of a string whose body starts at `i` (or the end).
fn string_end(d: &[u8], mut i: usize) -> usize {
    while let Some(n) = memchr::memchr2(b'"', b'\\', &d[i..]) {
        if d[i + n] == b'"' {
            return i + n;
        }
        i += n + 2;
        if i >= d.len() {
            break;
        }
    }
    d.len()
}

impl Iterator for ArrayPieces<'_> {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        let d = self.data;
        while self.pos < d.len() && (d[self.pos].is_ascii_whitespace() || d[self.pos] == b',') {
            self.pos += 1;
        }
        if self.pos >= d.len() || d[self.pos] == b']' {
            return None;
        }
        let start = self.pos;
        let end = self.value_end(start);
        self.pos = end;
        let line = self.line_at(start);
        Some(Piece {
            start,
            end: end.max(start + 1).min(d.len()),
            line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(data: &str) -> Vec<(u64, &str)> {
        split(data.as_bytes())
            .map(|p| (p.line, &data[p.start..p.end]))
            .collect()
    }

    #[test]
    fn pretty_printed_array_elements_with_their_lines() {
        let data = "[\n  {\n    \"a\": \"x}],{\\\"\",\n    \"b\": [1, {\"c\": 2}]\n  },\n  {\"d\": 1}\n]\n";
        let got = texts(data);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 2);
        assert!(got[0].1.starts_with('{') && got[0].1.ends_with('}'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(got[0].1).unwrap()["a"],
            "x}],{\""
        );
        assert_eq!(got[1], (6, "{\"d\": 1}"));
    }

    #[test]
    fn json_lines_skip_blank_lines_and_keep_numbers() {
        let got = texts("{\"a\":1}\n\n  {\"b\":2}  \r\nnot json\n");
        assert_eq!(
            got,
            vec![(1, "{\"a\":1}"), (3, "{\"b\":2}"), (4, "not json")]
        );
    }

    #[test]
    fn odd_array_content_is_passed_on_not_dropped() {
        assert_eq!(
            texts("[1, \"x\", {\"a\":1}]"),
            vec![(1, "1"), (1, "\"x\""), (1, "{\"a\":1}")]
        );
        assert_eq!(texts("[]"), vec![]);
        let truncated = texts("[{\"a\": \"unterminated");
        assert_eq!(
            truncated.len(),
            1,
            "a truncated export still yields its piece"
        );
    }
}
