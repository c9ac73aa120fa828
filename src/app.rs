//! Wiring: source → pipeline → worklog → GitHub issues, joined by bounded channels. Only the
//! source watches shutdown; the pipeline ends when the source's channel closes, the worklog
//! writer when the pipeline's does, the issue sink when the writer's does. That drain order is
//! written once, here (for `run`: in `live`).

pub mod live;
pub mod observe;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::pipeline::{Counts, Pipeline};
use crate::report::WindowReport;
use crate::sinks::github::{AnyIssueSink, SyncReport, Token};
use crate::sinks::worklog::{DirWorklog, WorklogError, WorklogSink};
use crate::source::file::{FileError, FileSource, FileStats};
use crate::source::Batch;

/// Batches in flight between source and pipeline: 16 × 512 entries keeps the reader a few
/// milliseconds ahead without letting it run away from a slow pipeline.
const ENTRY_QUEUE: usize = 16;
/// Window reports in flight to the writer: reports are rare; 8 lets a replay close a backlog
/// of windows while the disk catches up.
const REPORT_QUEUE: usize = 8;
/// Written windows in flight to the GitHub sink: a sync may wait minutes on rate limits; 8
/// windows of slack let a replay finish writing worklogs meanwhile.
pub(crate) const ISSUE_QUEUE: usize = 8;

/// What `replay` does.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// With `[github] repo` set: issues are kept on GitHub; without a token, a dry run.
    pub github_token: Option<Token>,
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub file: FileStats,
    pub counts: Counts,
    pub written: Vec<PathBuf>,
    pub reports: Vec<WindowReport>,
    /// One per window when the GitHub sink is on.
    pub github: Vec<SyncReport>,
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
    /// The GitHub client could not be set up (e.g. `github.api_url`): exit code 2.
    #[error("github: {0}")]
    Github(String),
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
    let issues = match &settings.github {
        Some(g) => Some(
            AnyIssueSink::new(
                g,
                opts.github_token.clone(),
                settings.issue_min_priority,
                &opts.out,
            )
            .map_err(|e| AppError::Github(e.to_string()))?,
        ),
        None => None,
    };
    let (issue_tx, issue_rx) = mpsc::channel::<WindowReport>(ISSUE_QUEUE);
    let issues = issues.map(|sink| tokio::spawn(run_issues(sink, issue_rx)));
    let forward = issues.is_some().then_some(issue_tx);
    let pipeline = spawn_pipeline(settings, entry_rx, report_tx);
    let writer = spawn_writer(DirWorklog::new(&opts.out), report_rx, forward);

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
    let github = match issues {
        Some(task) => task
            .await
            .map_err(|e| AppError::Internal(e.to_string()))??,
        None => Vec::new(),
    };
    Ok(ReplaySummary {
        file,
        counts,
        written,
        reports,
        github,
    })
}

/// The GitHub stage: ends when the writer closes its channel. A failed sync never stops the
/// run (what was not sent waits in the outbox); only a worklog that cannot be annotated does.
pub(crate) async fn run_issues(
    mut sink: AnyIssueSink,
    mut written: mpsc::Receiver<WindowReport>,
) -> Result<Vec<SyncReport>, WorklogError> {
    sink.start().await;
    let mut out = Vec::new();
    while let Some(r) = written.recv().await {
        out.push(sink.on_window(&r).await?);
    }
    Ok(out)
}

/// The pipeline runs on a blocking thread: it is CPU-bound and never awaits.
fn spawn_pipeline(
    settings: Arc<Settings>,
    mut input: mpsc::Receiver<Batch>,
    reports: mpsc::Sender<WindowReport>,
) -> tokio::task::JoinHandle<Counts> {
    tokio::task::spawn_blocking(move || {
        let mut p = Pipeline::for_replay(settings);
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

/// Writes each worklog, then hands the report on to the GitHub stage (if any).
fn spawn_writer(
    mut sink: impl WorklogSink + 'static,
    mut reports: mpsc::Receiver<WindowReport>,
    forward: Option<mpsc::Sender<WindowReport>>,
) -> tokio::task::JoinHandle<Result<Written, WorklogError>> {
    tokio::task::spawn_blocking(move || {
        let (mut written, mut all) = (Vec::new(), Vec::new());
        while let Some(r) = reports.blocking_recv() {
            written.extend(sink.write(&r)?);
            if let Some(f) = &forward {
                // A closed receiver means the GitHub stage failed; its error is reported there.
                let _ = f.blocking_send(r.clone());
            }
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
