//! Wiring: source → pipeline → worklog, joined by bounded channels. Only the source watches
//! shutdown; the pipeline ends when the source's channel closes, the worklog writer when the
//! pipeline's does. That drain order is written once, here (for `run`: in `live`).

pub mod live;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::fingerprint::Fingerprinter;
use crate::pipeline::{Counts, Pipeline};
use crate::report::WindowReport;
use crate::sinks::worklog::{DirWorklog, WorklogError, WorklogSink};
use crate::source::file::{FileError, FileSource, FileStats};
use crate::source::{Batch, Boundedness};
use crate::window::{MemoryStore, Schedule};

/// Batches in flight between source and pipeline: 16 × 512 entries keeps the reader a few
/// milliseconds ahead without letting it run away from a slow pipeline.
const ENTRY_QUEUE: usize = 16;
/// Window reports in flight to the writer: reports are rare; 8 lets a replay close a backlog
/// of windows while the disk catches up.
const REPORT_QUEUE: usize = 8;

/// What `replay` does.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub file: FileStats,
    pub counts: Counts,
    pub written: Vec<PathBuf>,
    pub reports: Vec<WindowReport>,
}

/// Why a run stopped. Each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input could not be read: exit code 3, nothing was written.
    #[error(transparent)]
    Input(#[from] FileError),
    /// A worklog could not be written: exit code 4; worklogs already written stay.
    #[error(transparent)]
    Worklog(#[from] WorklogError),
    /// A stage panicked: exit code 1 (a bug; please report it).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Replays a `gcloud logging read` export through the whole pipeline and writes a worklog per
/// window. `shutdown` stops reading early (Ctrl-C); what was read is still reported.
pub async fn replay(
    settings: Arc<Settings>,
    opts: ReplayOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<ReplaySummary, AppError> {
    let source = FileSource::new(&opts.input);
    let data = source.read().await?;
    let bar = progress_bar(opts.progress, data.len() as u64);

    let (entry_tx, entry_rx) = mpsc::channel::<Batch>(ENTRY_QUEUE);
    let (report_tx, report_rx) = mpsc::channel::<WindowReport>(REPORT_QUEUE);
    let pipeline = spawn_pipeline(settings, entry_rx, report_tx);
    let writer = spawn_writer(DirWorklog::new(&opts.out), report_rx);

    let file = source
        .run(data, entry_tx, shutdown, |done| bar.set_position(done))
        .await;
    bar.finish_and_clear();
    let counts = pipeline
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let (written, reports) = writer
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(ReplaySummary {
        file,
        counts,
        written,
        reports,
    })
}

/// The pipeline runs on a blocking thread: it is CPU-bound and never awaits.
fn spawn_pipeline(
    settings: Arc<Settings>,
    mut input: mpsc::Receiver<Batch>,
    reports: mpsc::Sender<WindowReport>,
) -> tokio::task::JoinHandle<Counts> {
    tokio::task::spawn_blocking(move || {
        let store = Arc::new(MemoryStore::new(
            Schedule::new(&settings.window),
            settings.window.history,
        ));
        let mut p = Pipeline::new(
            settings,
            Arc::new(Fingerprinter::new()),
            store,
            Boundedness::Bounded,
        );
        let mut events = Vec::new();
        while let Some(batch) = input.blocking_recv() {
            for raw in &batch {
                p.ingest(raw, &mut events);
            }
            events.clear();
        }
        for r in p.finish(&mut events) {
            if reports.blocking_send(r).is_err() {
                break;
            }
        }
        p.counts()
    })
}

type Written = (Vec<PathBuf>, Vec<WindowReport>);

fn spawn_writer(
    mut sink: impl WorklogSink + 'static,
    mut reports: mpsc::Receiver<WindowReport>,
) -> tokio::task::JoinHandle<Result<Written, WorklogError>> {
    tokio::task::spawn_blocking(move || {
        let (mut written, mut all) = (Vec::new(), Vec::new());
        while let Some(r) = reports.blocking_recv() {
            written.extend(sink.write(&r)?);
            all.push(r);
        }
        Ok((written, all))
    })
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} replaying [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
