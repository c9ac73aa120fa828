//! Replay input: a `gcloud logging read --format=json` export (a JSON array, usually pretty
//! printed, newest first), JSON Lines, or `-` for stdin — a bounded [`Source`]. The input is
//! streamed on a blocking thread through [`super::decode`] (BOM, UTF-16) and
//! [`super::export`] (one raw entry per element or line), so memory does not grow with the
//! input; a piece that is not an entry is still passed on, so the pipeline reports it with its
//! line. A file larger than `input.slice_bytes` is surveyed first and then read a slice of
//! event time at a time ([`super::slice`]), so the windows can close as it goes; so is a pipe
//! past its first `input.slice_bytes`, kept in a temporary file as it is read.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::BufRead;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::export::{At, ExportReader, Item, ReadError};
use super::slice::{Need, Survey};
use super::SourceStats;
use super::{Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source, SourceError};
use crate::entry::{event_time, MAX_ENTRY_BYTES};

/// What to export instead, said once when an input holds nothing readable.
pub const EXPORT_HINT: &str = "export entries as JSON with `gcloud logging read --format=json` (or JSON Lines: one LogEntry object per line)";

/// Entries per batch: large enough that channel overhead is noise, small enough that the
/// progress bar moves.
const BATCH: usize = 512;
/// A batch is sent once it holds this many bytes of entries, however few: what the reader may
/// hold ahead of the pipeline (a few batches, `app::BATCH_QUEUE` of them queued) is bounded in
/// bytes, not only in entries — 512 entries of `input.max_entry_bytes` would be 128 MB a batch.
const BATCH_BYTES: usize = 1 << 20;

/// Told how many bytes of the input are done (a progress bar); `None` total for stdin.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// A file or stdin (`-`).
pub struct FileSource {
    path: PathBuf,
    progress: Option<Progress>,
    max_entry_bytes: usize,
    slicing: Option<Slicing>,
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource {
            path: path.into(),
            progress: None,
            max_entry_bytes: MAX_ENTRY_BYTES,
            slicing: None,
        }
    }

    /// Longer pieces are skipped without being held and reported as `too_large`
    /// (`input.max_entry_bytes`).
    pub fn with_max_entry_bytes(mut self, max: usize) -> FileSource {
        self.max_entry_bytes = max;
        self
    }

    /// A file larger than `slicing.bytes` is read a slice of event time at a time.
    pub fn with_slicing(mut self, slicing: Slicing) -> FileSource {
        self.slicing = Some(slicing);
        self
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

    /// An input to be made UTF-8 text first (`what`: "gzip-compressed; decompress"), and the
    /// command line that does it.
    fn convert_first(&self, path: &str, what: &str, command: &str) -> SourceError {
        let file = if self.is_stdin() { "FILE" } else { path };
        SourceError::Unrecognised {
            hint: format!("{what} it first: `{command} {file} | log-gardener replay -`"),
            path: path.to_string(),
        }
    }

    /// Compressed data after text (a `.gz` appended to an export): what came before was read
    /// and counted; the command reads the rest, from the byte it starts at.
    fn compressed_within(&self, path: &str, format: &str, command: &str, at: At) -> SourceError {
        // `unzip` reads no pipe; `funzip` (shipped with it) reads a zip's first member from one.
        let command = if format == "zip" { "funzip" } else { command };
        let file = if self.is_stdin() { "FILE" } else { path };
        SourceError::Unrecognised {
            hint: format!(
                "{format}-compressed data from line {} (byte {}) on, read no further; \
                 decompress it first: `tail -c +{} {file} | {command} | log-gardener replay -`",
                at.line,
                at.byte,
                at.byte + 1
            ),
            path: path.to_string(),
        }
    }

    /// The input as messages name it (`<stdin>` for `-`).
    pub fn display(&self) -> Arc<str> {
        if self.is_stdin() {
            "<stdin>".into()
        } else {
            self.path.display().to_string().into()
        }
    }

    /// Streams the input and sends it in batches until the end or until `stop` is set
    /// (checked before every piece, so Ctrl-C stops within one entry's read). Runs on a
    /// blocking thread. Reading stdin, the batch so far is sent before every read that may
    /// block, so what was piped in is counted even while the writer pauses. A file larger
    /// than `input.slice_bytes` is read a slice of event time at a time (see
    /// [`super::slice`]).
    fn read_all(
        &self,
        stdin: impl std::io::Read,
        out: mpsc::Sender<Batch>,
        stop: &AtomicBool,
    ) -> Result<SourceStats, SourceError> {
        let path = self.display();
        let pending = Pending {
            batch: RefCell::new(Vec::with_capacity(BATCH)),
            batch_bytes: Cell::new(0),
            out,
            delivered: Cell::new(0),
            bytes: Arc::new(AtomicU64::new(0)),
            progress: self.progress.clone(),
            sliced: Cell::new(None),
            path: path.clone(),
        };
        let result = match (self.slicing, self.size()) {
            (Some(slicing), Some(size)) if size > slicing.bytes => {
                self.read_file_sliced(slicing, size, &pending, stop)
            }
            (Some(slicing), None) if self.is_stdin() => {
                self.read_pipe(stdin, slicing, &pending, stop)
            }
            _ => self.read_whole(stdin, &pending, stop),
        };
        let interrupted = matches!(result, Ok(Read::Interrupted));
        if !interrupted {
            // What was read before a failure is still reported.
            pending.flush();
        }
        let stats = SourceStats {
            delivered: pending.delivered.get(),
            bytes: pending.bytes.load(Ordering::Relaxed),
            interrupted,
        };
        match result {
            Ok(_) => Ok(stats),
            Err(ReadError::Io(e)) => Err(SourceError::Read {
                path: path.to_string(),
                detail: e.to_string(),
            }),
            Err(ReadError::Compressed {
                format,
                command,
                at: None,
            }) => {
                Err(self.convert_first(&path, &format!("{format}-compressed; decompress"), command))
            }
            Err(ReadError::Compressed {
                format,
                command,
                at: Some(at),
            }) => Err(self.compressed_within(&path, format, command, at)),
            Err(ReadError::Utf32 { command }) => {
                Err(self.convert_first(&path, "UTF-32 text; convert", command))
            }
            Err(
                e @ (ReadError::Unrecognised { .. }
                | ReadError::Skipped { .. }
                | ReadError::Unclosed { .. }),
            ) => Err(SourceError::Unrecognised {
                path: path.to_string(),
                hint: format!("nothing readable as Cloud Logging entries: {e}; {EXPORT_HINT}"),
            }),
        }
    }

    /// The input in one pass, every piece handed over as it is read.
    fn read_whole(
        &self,
        stdin: impl std::io::Read,
        pending: &Pending,
        stop: &AtomicBool,
    ) -> Result<Read, ReadError> {
        let each = |item, _: &ExportReader<_>| pending.push(to_input(item, &pending.path));
        if self.is_stdin() {
            Self::pass(stdin, true, self.max_entry_bytes, pending, stop, each)
        } else {
            let file = std::fs::File::open(&self.path)?;
            Self::pass(file, false, self.max_entry_bytes, pending, stop, each)
        }
    }

    /// One pass over `raw`: each piece goes to `each` with the reader (where it lies), which
    /// says whether to go on (`false`: the receiver has gone, or the caller has read enough).
    /// A pipe's batch so far is sent before each read, which may block.
    fn pass<'r>(
        raw: impl std::io::Read + 'r,
        pipe: bool,
        max_entry_bytes: usize,
        pending: &'r Pending,
        stop: &AtomicBool,
        mut each: impl FnMut(Item, &ExportReader<Box<dyn BufRead + 'r>>) -> bool,
    ) -> Result<Read, ReadError> {
        let counted = Counted {
            inner: raw,
            pending,
            flush_first: pipe,
        };
        let (encoding, bom, text) = super::decode::utf8_reader(counted)?;
        let mut reader = ExportReader::new(text, max_entry_bytes);
        loop {
            if stop.load(Ordering::Acquire) {
                return Ok(Read::Interrupted);
            }
            let item = reader.next_item().map_err(|e| match e {
                // Told as a byte of the input, which the text's offsets start after its BOM.
                ReadError::Compressed {
                    format,
                    command,
                    at: Some(at),
                } => ReadError::Compressed {
                    format,
                    command,
                    at: Some(At {
                        byte: at.byte + bom,
                        ..at
                    }),
                },
                e => e,
            });
            match item? {
                Some(item) => {
                    if !each(item, &reader) {
                        return Ok(Read::Abandoned);
                    }
                }
                None => return Ok(Read::Done(encoding)),
            }
        }
    }

    /// A large file: surveyed (event times only, and what is not an entry reported), then read
    /// one slice of event time at a time, each slice followed by [`Input::Complete`].
    fn read_file_sliced(
        &self,
        slicing: Slicing,
        size: u64,
        pending: &Pending,
        stop: &AtomicBool,
    ) -> Result<Read, ReadError> {
        let before = Unchanged::of(&self.path)?;
        let file = std::fs::File::open(&self.path)?;
        pending.sliced.set(Some(SlicedProgress {
            size,
            done: 0,
            total: 0,
        }));
        let mut survey = Survey::new(slicing.hop_ms);
        let each = |item, reader: &ExportReader<_>| survey_item(&mut survey, pending, item, reader);
        let (read, cut) = until_compressed(Self::pass(
            &file,
            false,
            self.max_entry_bytes,
            pending,
            stop,
            each,
        ))?;
        let encoding = match read {
            Read::Done(encoding) => encoding,
            other => return Ok(other),
        };
        let surveyed = Surveyed {
            survey,
            encoding,
            from: 0,
        };
        let read = self.read_slices(&file, surveyed, slicing, pending, stop)?;
        before.check(&self.path)?;
        cut.map_or(Ok(read), Err)
    }

    /// A pipe (`replay -`): its first `input.slice_bytes` are handed over as they are read, as
    /// a small file's would be; a longer one is kept in a temporary file as it is read, what
    /// follows is surveyed, and then read a slice of event time at a time like a large file,
    /// so its windows close as it goes. Where no temporary file can be made, it is read whole.
    fn read_pipe(
        &self,
        pipe: impl std::io::Read,
        slicing: Slicing,
        pending: &Pending,
        stop: &AtomicBool,
    ) -> Result<Read, ReadError> {
        let spool = match tempfile::tempfile() {
            Ok(f) => f,
            Err(e) => {
                crate::telemetry::events::PipeReadWhole {
                    why: &e.to_string(),
                }
                .emit();
                return self.read_whole(pipe, pending, stop);
            }
        };
        let tee = Tee {
            inner: pipe,
            spool: &spool,
        };
        let mut survey = Survey::new(slicing.hop_ms);
        // Where the survey starts: what lies before it was handed over as read.
        let mut from = None;
        let each = |item: Item, reader: &ExportReader<_>| {
            if from.is_some() {
                return survey_item(&mut survey, pending, item, reader);
            }
            let entry = matches!(item, Item::Entry { .. });
            if !pending.push(to_input(item, &pending.path)) {
                return false;
            }
            if entry && pending.bytes.load(Ordering::Relaxed) > slicing.bytes {
                from = Some(reader.last_span().end);
            }
            true
        };
        let (read, cut) = until_compressed(Self::pass(
            tee,
            true,
            self.max_entry_bytes,
            pending,
            stop,
            each,
        ))?;
        let encoding = match read {
            Read::Done(encoding) => encoding,
            other => return Ok(other),
        };
        let read = match from {
            Some(from) => {
                let surveyed = Surveyed {
                    survey,
                    encoding,
                    from,
                };
                self.read_slices(&spool, surveyed, slicing, pending, stop)?
            }
            None => Read::Done(encoding),
        };
        cut.map_or(Ok(read), Err)
    }

    /// Reads the surveyed entries of `file` one slice of event time at a time, each slice
    /// followed by [`Input::Complete`]. A file the blocks cannot be read again from (UTF-16,
    /// entries nested very deep) is read again in one pass instead.
    fn read_slices(
        &self,
        mut file: &std::fs::File,
        surveyed: Surveyed,
        slicing: Slicing,
        pending: &Pending,
        stop: &AtomicBool,
    ) -> Result<Read, ReadError> {
        let Surveyed {
            survey,
            encoding,
            from,
        } = surveyed;
        if encoding != super::decode::Encoding::Utf8 || !survey.sliceable() {
            // What is not an entry was reported by the survey.
            std::io::Seek::rewind(&mut file)?;
            let each = |item, reader: &ExportReader<_>| match item {
                Item::Entry { ref data, .. }
                    if is_object(data) && reader.last_span().start >= from =>
                {
                    pending.push(to_input(item, &pending.path))
                }
                _ => true,
            };
            return Self::pass(file, false, self.max_entry_bytes, pending, stop, each);
        }
        let plan = survey.plan(slicing.bytes);
        let bom = bom_len(file)?;
        let total = plan.bytes_to_read().max(1);
        crate::telemetry::events::ReadingInSlices {
            path: &pending.path,
            slices: plan.slices(),
            bytes: total,
        }
        .emit();
        let mut done = 0;
        let mut buf = Vec::new();
        for k in 0..plan.slices() {
            for block in &plan.blocks {
                if stop.load(Ordering::Acquire) {
                    return Ok(Read::Interrupted);
                }
                let need = plan.need(k, block);
                if need == Need::Nothing {
                    continue;
                }
                let len =
                    usize::try_from(block.end - block.start).map_err(std::io::Error::other)?;
                buf.resize(len, 0);
                file.read_exact_at(&mut buf, block.start + bom)?;
                let mut entries = 0;
                for item in super::export::items(&buf, self.max_entry_bytes) {
                    let Item::Entry { data, line } = item else {
                        continue;
                    };
                    entries += 1;
                    if need == Need::Some && plan.slice_of(event_time(&data)) != k {
                        continue;
                    }
                    let line = block.line + line - 1;
                    if !pending.push(to_input(Item::Entry { data, line }, &pending.path)) {
                        return Ok(Read::Abandoned);
                    }
                }
                if entries != block.entries {
                    return Err(changed(&self.path).into());
                }
                done += block.end - block.start;
                if let Some(p) = pending.sliced.get() {
                    pending
                        .sliced
                        .set(Some(SlicedProgress { done, total, ..p }));
                }
            }
            if let Some(before) = plan.end_of(k) {
                if !pending.push(Input::Complete { before }) || !pending.flush() {
                    return Ok(Read::Abandoned);
                }
            }
        }
        Ok(Read::Done(encoding))
    }
}

/// A survey of the entries of a file or spooled pipe from byte `from` on (of its UTF-8 text).
struct Surveyed {
    survey: Survey,
    encoding: super::decode::Encoding,
    from: u64,
}

/// Notes where an entry lies and its event time; what is not an object is not an entry,
/// whatever its time, and is reported at once. `false` once the receiver has gone.
fn survey_item<R: BufRead>(
    survey: &mut Survey,
    pending: &Pending,
    item: Item,
    reader: &ExportReader<R>,
) -> bool {
    match item {
        Item::Entry { data, line } if is_object(&data) => {
            survey.entry(reader.last_span(), line, event_time(&data));
            true
        }
        other => {
            survey.interruption();
            pending.push(to_input(other, &pending.path))
        }
    }
}

/// A pipe, every byte read from it also written to `spool` (a temporary file, unlinked), so
/// what follows its first slice can be read again a block at a time.
struct Tee<'a, R> {
    inner: R,
    spool: &'a std::fs::File,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        std::io::Write::write_all(&mut self.spool, &buf[..n]).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot keep the piped input in a temporary file in {}: {e}; set TMPDIR to a directory with room, or replay a file",
                    std::env::temp_dir().display()
                ),
            )
        })?;
        Ok(n)
    }
}

/// How a pass over the input ended (short of an error).
enum Read {
    /// At the end of the input, in this encoding.
    Done(super::decode::Encoding),
    /// `stop` was set.
    Interrupted,
    /// The receiver has gone: nothing more is wanted.
    Abandoned,
}

/// Reading a large file in slices of event time (see [`super::slice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slicing {
    /// Milliseconds per hop of the windows: slices are cut on hop boundaries.
    pub hop_ms: i64,
    /// `input.slice_bytes`: files larger than this are read in slices of about this many
    /// bytes of entries.
    pub bytes: u64,
}

/// A piece that starts like a JSON object: only those can be entries, and a reader started
/// on one reads what follows alike.
fn is_object(data: &[u8]) -> bool {
    data.first() == Some(&b'{')
}

/// A surveying pass that met compressed data after text ([`ReadError::Compressed`] with `at`)
/// ends there as if the input did: the entries surveyed before it are read in slices, and the
/// error told after them, as a pass reading whole tells it after what it handed over.
fn until_compressed(pass: Result<Read, ReadError>) -> Result<(Read, Option<ReadError>), ReadError> {
    match pass {
        Err(e @ ReadError::Compressed { at: Some(_), .. }) => {
            Ok((Read::Done(super::decode::Encoding::Utf8), Some(e)))
        }
        other => other.map(|read| (read, None)),
    }
}

/// The length of a UTF-8 BOM at the start of `file` (the reader's offsets start after it).
fn bom_len(file: &std::fs::File) -> std::io::Result<u64> {
    let mut head = [0u8; 3];
    let n = file.read_at(&mut head, 0)?;
    Ok(if head[..n] == *b"\xEF\xBB\xBF" { 3 } else { 0 })
}

fn changed(path: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "{} changed while it was read (it is read more than once: replay a copy that nothing writes to)",
        path.display()
    ))
}

/// A file's length and modification time, to see that it did not change between passes.
struct Unchanged(u64, Option<std::time::SystemTime>);

impl Unchanged {
    fn of(path: &Path) -> std::io::Result<Unchanged> {
        let m = std::fs::metadata(path)?;
        Ok(Unchanged(m.len(), m.modified().ok()))
    }

    fn check(&self, path: &Path) -> std::io::Result<()> {
        let now = Unchanged::of(path)?;
        if now.0 == self.0 && now.1 == self.1 {
            Ok(())
        } else {
            Err(changed(path))
        }
    }
}

/// Where a sliced read is, for the progress bar: the survey is its first half, the slices'
/// reads (`done` of `total` bytes) the second.
#[derive(Debug, Clone, Copy)]
struct SlicedProgress {
    size: u64,
    done: u64,
    total: u64,
}

/// The batch being filled on the reader thread, and where it goes.
struct Pending {
    batch: RefCell<Batch>,
    /// Bytes of the entries in `batch`.
    batch_bytes: Cell<usize>,
    out: mpsc::Sender<Batch>,
    delivered: Cell<u64>,
    bytes: Arc<AtomicU64>,
    progress: Option<Progress>,
    sliced: Cell<Option<SlicedProgress>>,
    path: Arc<str>,
}

impl Pending {
    /// Adds one input to the batch, sending it when full; `false` once the receiver has gone.
    fn push(&self, input: Input) -> bool {
        let full = {
            let mut batch = self.batch.borrow_mut();
            if let Input::Entry(e) = &input {
                self.batch_bytes.set(self.batch_bytes.get() + e.data.len());
            }
            batch.push(Delivery::unsettled(input));
            batch.len() == BATCH || self.batch_bytes.get() >= BATCH_BYTES
        };
        !full || self.flush()
    }

    /// Sends the batch (if not empty); `false` once the receiver has gone.
    fn flush(&self) -> bool {
        let full = std::mem::replace(&mut *self.batch.borrow_mut(), Vec::with_capacity(BATCH));
        self.batch_bytes.set(0);
        if full.is_empty() {
            return true;
        }
        let entries = full
            .iter()
            .filter(|d| !matches!(d.input, Input::Complete { .. }))
            .count() as u64;
        if self.out.blocking_send(full).is_err() {
            return false;
        }
        self.delivered.set(self.delivered.get() + entries);
        if let Some(p) = &self.progress {
            p(self.shown());
        }
        true
    }

    /// What the progress bar shows: bytes read, or where a sliced read is.
    fn shown(&self) -> u64 {
        let bytes = self.bytes.load(Ordering::Relaxed);
        match self.sliced.get() {
            None => bytes,
            Some(SlicedProgress { size, total: 0, .. }) => bytes.min(size) / 2,
            Some(SlicedProgress { size, done, total }) => {
                size / 2 + (u128::from(size / 2) * u128::from(done) / u128::from(total)) as u64
            }
        }
    }
}

fn to_input(item: Item, path: &Arc<str>) -> Input {
    match item {
        Item::Entry { data, line } => Input::Entry(RawEntry {
            data: Bytes::from(data),
            origin: Origin::File {
                path: path.clone(),
                line,
            },
        }),
        Item::Unreadable {
            line,
            reason,
            detail,
        } => Input::Unreadable {
            origin: Origin::File {
                path: path.clone(),
                line,
            },
            reason,
            detail,
        },
    }
}

/// Counts the bytes read from the input (the progress bar, the summary), and for a pipe
/// hands on the batch so far before each read, which may block.
struct Counted<'a, R> {
    inner: R,
    pending: &'a Pending,
    flush_first: bool,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.flush_first {
            self.pending.flush();
        }
        let n = self.inner.read(buf)?;
        self.pending.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
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
        // The reader thread may sit in a read of stdin that only the writer can end, still
        // holding its sender: batches go through this hand-off, so at shutdown `out` is
        // dropped here whatever the thread does. Two batches keep it just ahead.
        let (tx, mut rx) = mpsc::channel::<Batch>(2);
        let reader = tokio::task::spawn_blocking(move || {
            self.read_all(std::io::stdin().lock(), tx, &reader_stop)
        });
        tokio::pin!(shutdown);
        tokio::pin!(reader);
        loop {
            tokio::select! {
                batch = rx.recv() => match batch {
                    Some(b) => {
                        if out.send(b).await.is_err() {
                            stop.store(true, Ordering::Release);
                        }
                    }
                    None => break,
                },
                () = &mut shutdown => {
                    stop.store(true, Ordering::Release);
                    // What was read before Ctrl-C is still counted.
                    while let Ok(b) = rx.try_recv() {
                        let _ = out.send(b).await;
                    }
                    drop(out);
                    // A blocked read of stdin never returns by itself: do not wait for it.
                    let mut stats = SourceStats { interrupted: true, ..SourceStats::default() };
                    if let Ok(Ok(Ok(s))) = tokio::time::timeout(std::time::Duration::from_millis(200), reader).await {
                        stats = SourceStats { interrupted: true, ..s };
                    }
                    return Ok(stats);
                }
            }
        }
        let joined = reader.await;
        joined.map_err(|e| SourceError::Read {
            path: "input".into(),
            detail: format!("reader failed: {e}"),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde_json::Value;

    /// What a file source hands over, read to the end; `piped` is its stdin.
    fn deliveries(source: &FileSource, piped: &[u8]) -> (SourceStats, Vec<Input>) {
        let (tx, mut rx) = mpsc::channel::<Batch>(100_000);
        let stats = source.read_all(piped, tx, &AtomicBool::new(false)).unwrap();
        let mut all = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            all.extend(batch.into_iter().map(|d| d.input));
        }
        (stats, all)
    }

    fn time_and_id(raw: &RawEntry) -> (DateTime<Utc>, String) {
        let v: Value = serde_json::from_slice(&raw.data).unwrap();
        let at = v["timestamp"].as_str().unwrap().parse().unwrap();
        (at, v["insertId"].as_str().unwrap().to_owned())
    }

    /// A file or a pipe larger than `input.slice_bytes`, in any order: every entry is handed
    /// over once, what is not an entry once with its line, and after each
    /// `Complete { before }` no entry before it comes any more (what lets the windows close).
    /// A pipe's first slice of bytes comes as read, before any cut.
    #[test]
    fn a_large_file_or_pipe_is_read_in_slices_each_entry_once_in_time_order_of_slices() {
        let dir = tempfile::tempdir().unwrap();
        let start = "2025-09-15T19:00:00Z".parse().unwrap();
        let entries = crate::synth::generate(start, 12, 4);
        let mut shuffled = entries.clone();
        let mut rng = crate::synth::Rng::new(8);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let jsonl = crate::synth::json_lines(&shuffled);
        let (head, tail) = jsonl.split_at(jsonl.find('\n').unwrap() + 1);
        let inputs = [
            ("newest.json", crate::synth::gcloud_export(&entries)),
            (
                "shuffled.jsonl",
                format!("\u{feff}{head}not json\n{tail}[1]\n"),
            ),
        ];
        for ((name, text), piped) in inputs.iter().flat_map(|i| [(i, false), (i, true)]) {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let source =
                FileSource::new(if piped { Path::new("-") } else { &path }).with_slicing(Slicing {
                    hop_ms: 3_600_000,
                    bytes: text.len() as u64 / 10,
                });
            let (stats, got) = deliveries(&source, text.as_bytes());
            let name = if piped {
                format!("{name} piped")
            } else {
                name.to_string()
            };
            if piped {
                let first_cut = got
                    .iter()
                    .position(|i| matches!(i, Input::Complete { .. }))
                    .unwrap();
                let bytes: usize = got[..first_cut]
                    .iter()
                    .map(|i| match i {
                        Input::Entry(raw) => raw.data.len(),
                        _ => 0,
                    })
                    .sum();
                // The switch comes at the first entry after the bytes read (the reader's
                // buffer ahead included) pass the slice.
                assert!(
                    bytes + (1 << 17) >= text.len() / 10 && bytes > 0,
                    "{name}: the first slice of bytes is handed over as read ({bytes})"
                );
            }
            let mut ids = std::collections::HashSet::new();
            let (mut cuts, mut unreadable, mut not_entries) = (Vec::new(), 0, 0);
            for input in &got {
                match input {
                    Input::Complete { before } => cuts.push(*before),
                    Input::Entry(raw) => match serde_json::from_slice::<Value>(&raw.data) {
                        Ok(Value::Object(_)) => {
                            let (at, id) = time_and_id(raw);
                            assert!(ids.insert(id), "{name}: an entry came twice");
                            if let Some(last) = cuts.last() {
                                assert!(at >= *last, "{name}: {at} after the cut at {last}");
                            }
                        }
                        _ => not_entries += 1,
                    },
                    Input::Unreadable { .. } => unreadable += 1,
                }
            }
            assert_eq!(ids.len(), entries.len(), "{name}");
            assert!(cuts.len() >= 3, "{name}: {} slices", cuts.len() + 1);
            assert!(cuts.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(stats.delivered, got.len() as u64 - cuts.len() as u64);
            if name.ends_with("jsonl") {
                // `not json` and `1` are handed over to be reported, once each.
                assert_eq!(unreadable + not_entries, 2, "{name}");
            }
        }
    }

    /// What a new reader could not read alike from the middle (UTF-16) is read in one pass
    /// after the survey: no slices, every entry once.
    #[test]
    fn a_large_file_that_cannot_be_sliced_is_read_whole_once() {
        let dir = tempfile::tempdir().unwrap();
        let entries = crate::synth::generate("2025-09-15T19:00:00Z".parse().unwrap(), 3, 4);
        let text = crate::synth::json_lines(&entries);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let path = dir.path().join("utf16.jsonl");
        std::fs::write(&path, &utf16).unwrap();
        let source = FileSource::new(&path).with_slicing(Slicing {
            hop_ms: 3_600_000,
            bytes: 1_000,
        });
        let (_, got) = deliveries(&source, &[]);
        assert!(got.iter().all(|i| matches!(i, Input::Entry(_))));
        assert_eq!(got.len(), entries.len());
        // Piped: the first 1,000 bytes come as read, the rest in the one more pass.
        let piped = FileSource::new("-").with_slicing(Slicing {
            hop_ms: 3_600_000,
            bytes: 1_000,
        });
        let (_, got) = deliveries(&piped, &utf16);
        assert!(got.iter().all(|i| matches!(i, Input::Entry(_))));
        let mut ids: Vec<_> = got
            .iter()
            .map(|i| match i {
                Input::Entry(raw) => time_and_id(raw).1,
                _ => unreachable!(),
            })
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), entries.len(), "every entry once");
    }

    /// What the reader may hold ahead of the pipeline is bounded in bytes: batches of large
    /// entries are sent early, and every entry still comes through, in order.
    #[test]
    fn batches_of_large_entries_are_bounded_in_bytes_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("big.jsonl");
        let blob = "b".repeat(100_000);
        let text: String = (0..300)
            .map(|i| format!("{{\"insertId\":\"{i}\",\"textPayload\":\"{blob}\"}}\n"))
            .collect();
        std::fs::write(&input, text).unwrap();
        let (tx, mut rx) = mpsc::channel::<Batch>(1_000);
        let stats = FileSource::new(&input)
            .read_all(std::io::empty(), tx, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(stats.delivered, 300);
        let mut ids = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            let mut bytes = 0;
            for d in &batch {
                let Input::Entry(raw) = &d.input else {
                    panic!("an entry")
                };
                bytes += raw.data.len();
                let v: serde_json::Value = serde_json::from_slice(&raw.data).unwrap();
                ids.push(v["insertId"].as_str().unwrap().parse::<u32>().unwrap());
            }
            assert!(bytes < BATCH_BYTES + 100_100, "a batch of {bytes} bytes");
            assert!(batch.len() < BATCH, "sent by bytes, not by count");
        }
        assert_eq!(ids, (0..300).collect::<Vec<_>>());
    }
}
