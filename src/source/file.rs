//! Replay input: a `gcloud logging read --format=json` export (a JSON array, usually pretty
//! printed, newest first), JSON Lines, or `-` for stdin — a bounded [`Source`]. The input is
//! streamed on a blocking thread through [`super::decode`] (BOM, UTF-16) and
//! [`super::export`] (one raw entry per element or line), so memory does not grow with the
//! input; a piece that is not an entry is still passed on, so the pipeline reports it with its
//! line.

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
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
        let bytes = Arc::new(AtomicU64::new(0));
        let raw: Box<dyn Read> = if self.is_stdin() {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(&self.path).map_err(err)?)
        };
        let counted = Counted {
            inner: raw,
            bytes: bytes.clone(),
        };
        let (_, text) = super::decode::utf8_reader(counted).map_err(err)?;
        let mut reader = ExportReader::new(text, self.max_entry_bytes);
        let mut stats = SourceStats::default();
        let mut batch = Vec::with_capacity(BATCH);
        let result = loop {
            if stop.load(Ordering::Acquire) {
                stats.interrupted = true;
                break Ok(());
            }
            let item = match reader.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            batch.push(Delivery::unsettled(to_input(item, &path)));
            if batch.len() == BATCH && !self.send(out, &mut batch, &mut stats, &bytes) {
                return Ok(stats);
            }
        };
        stats.bytes = bytes.load(Ordering::Relaxed);
        match result {
            Ok(()) if stats.interrupted => Ok(stats),
            Ok(()) => {
                self.send(out, &mut batch, &mut stats, &bytes);
                Ok(stats)
            }
            Err(ReadError::Io(e)) => {
                // What was read before the failure is still reported.
                self.send(out, &mut batch, &mut stats, &bytes);
                Err(err(e))
            }
            Err(e @ ReadError::Unrecognised { .. }) => Err(SourceError::Unrecognised {
                path: path.to_string(),
                hint: format!("nothing readable as Cloud Logging entries: {e}; {EXPORT_HINT}"),
            }),
        }
    }

    /// Sends `batch` (if not empty); `false` once the driver has gone.
    fn send(
        &self,
        out: &mpsc::Sender<Batch>,
        batch: &mut Batch,
        stats: &mut SourceStats,
        bytes: &AtomicU64,
    ) -> bool {
        if batch.is_empty() {
            return true;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
        let n = full.len() as u64;
        if out.blocking_send(full).is_err() {
            return false;
        }
        stats.delivered += n;
        if let Some(p) = &self.progress {
            p(bytes.load(Ordering::Relaxed));
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

/// Counts the bytes read from the input (the progress bar, the summary).
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
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
