//! Replay input: a `gcloud logging read --format=json` export (a JSON array, usually pretty
//! printed, newest first), JSON Lines, or `-` for stdin — a bounded [`Source`]. The input is
//! streamed on a blocking thread through [`super::decode`] (BOM, UTF-16) and
//! [`super::export`] (one raw entry per element or line), so memory does not grow with the
//! input; a piece that is not an entry is still passed on, so the pipeline reports it with its
//! line.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::export::{ExportReader, Item, ReadError};
use super::SourceStats;
use super::{Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source, SourceError};
use crate::entry::MAX_ENTRY_BYTES;

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
}

impl FileSource {
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource {
            path: path.into(),
            progress: None,
            max_entry_bytes: MAX_ENTRY_BYTES,
        }
    }

    /// Longer pieces are skipped without being held and reported as `too_large`
    /// (`input.max_entry_bytes`).
    pub fn with_max_entry_bytes(mut self, max: usize) -> FileSource {
        self.max_entry_bytes = max;
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

    fn display(&self) -> Arc<str> {
        if self.is_stdin() {
            "<stdin>".into()
        } else {
            self.path.display().to_string().into()
        }
    }

    /// Streams the input and sends it in batches until the end or until `stop` is set
    /// (checked before every piece, so Ctrl-C stops within one entry's read). Runs on a
    /// blocking thread. Reading stdin, the batch so far is sent before every read that may
    /// block, so what was piped in is counted even while the writer pauses.
    fn read_all(
        &self,
        out: mpsc::Sender<Batch>,
        stop: &AtomicBool,
    ) -> Result<SourceStats, SourceError> {
        let path = self.display();
        let err = |e: std::io::Error| SourceError::Read {
            path: path.to_string(),
            detail: e.to_string(),
        };
        let pending = Rc::new(Pending {
            batch: RefCell::new(Vec::with_capacity(BATCH)),
            batch_bytes: Cell::new(0),
            out,
            delivered: Cell::new(0),
            bytes: Arc::new(AtomicU64::new(0)),
            progress: self.progress.clone(),
        });
        let raw: Box<dyn Read> = if self.is_stdin() {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(&self.path).map_err(err)?)
        };
        let counted = Counted {
            inner: raw,
            pending: pending.clone(),
            flush_first: self.is_stdin(),
        };
        let (_, text) = super::decode::utf8_reader(counted).map_err(err)?;
        let mut reader = ExportReader::new(text, self.max_entry_bytes);
        let mut interrupted = false;
        let result = loop {
            if stop.load(Ordering::Acquire) {
                interrupted = true;
                break Ok(());
            }
            let item = match reader.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let full = {
                let mut batch = pending.batch.borrow_mut();
                let bytes = pending.batch_bytes.get() + item.bytes();
                pending.batch_bytes.set(bytes);
                batch.push(Delivery::unsettled(to_input(item, &path)));
                batch.len() == BATCH || bytes >= BATCH_BYTES
            };
            if full && !pending.flush() {
                break Ok(());
            }
        };
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
            Ok(()) => Ok(stats),
            Err(ReadError::Io(e)) => Err(err(e)),
            Err(e @ ReadError::Unrecognised { .. }) => Err(SourceError::Unrecognised {
                path: path.to_string(),
                hint: format!("nothing readable as Cloud Logging entries: {e}; {EXPORT_HINT}"),
            }),
        }
    }
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
}

impl Pending {
    /// Sends the batch (if not empty); `false` once the receiver has gone.
    fn flush(&self) -> bool {
        let full = std::mem::replace(&mut *self.batch.borrow_mut(), Vec::with_capacity(BATCH));
        self.batch_bytes.set(0);
        if full.is_empty() {
            return true;
        }
        let n = full.len() as u64;
        if self.out.blocking_send(full).is_err() {
            return false;
        }
        self.delivered.set(self.delivered.get() + n);
        if let Some(p) = &self.progress {
            p(self.bytes.load(Ordering::Relaxed));
        }
        true
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
struct Counted<R> {
    inner: R,
    pending: Rc<Pending>,
    flush_first: bool,
}

impl<R: Read> Read for Counted<R> {
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
        let reader = tokio::task::spawn_blocking(move || self.read_all(tx, &reader_stop));
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
            .read_all(tx, &AtomicBool::new(false))
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
