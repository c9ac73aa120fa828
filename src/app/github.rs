//! The GitHub stage of `replay` and `run`: its own task, because a sync may wait minutes on
//! GitHub's rate limits. Each closed window's clusters are already in the durable outbox (the
//! window-close side pushed them); the stage syncs the outbox and hands what it did to the
//! worklog sink, which records it in that window's worklog. It ends when the window channel
//! closes; if the run stops before it is done, what is left waits in the outbox for the next
//! start.

use tokio::sync::mpsc;

use crate::report::WindowReport;
use crate::sinks::github::AnyIssueSink;
use crate::sinks::worklog::{WorklogError, WorklogSink};

/// Windows in flight to the GitHub stage: a sync may wait minutes on rate limits; 8 windows
/// of slack let a replay go on writing worklogs meanwhile (their clusters are in the outbox
/// already, so a full queue only delays the worklogs' GitHub sections).
pub const WINDOW_QUEUE: usize = 8;

/// What the GitHub stage did over the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubRun {
    pub repo: String,
    pub dry_run: bool,
    /// Actions sent (or, dry, planned).
    pub actions: usize,
    /// Clusters left in the outbox after the last sync.
    pub deferred: usize,
}

/// Syncs at start (what the outbox kept from the last run), then after every window.
pub async fn run<W: WorklogSink>(
    mut sink: AnyIssueSink,
    mut windows: mpsc::Receiver<WindowReport>,
    mut worklog: W,
) -> Result<GithubRun, WorklogError> {
    let first = sink.start().await;
    let mut done = GithubRun {
        repo: first.repo,
        dry_run: first.dry_run,
        actions: first.sent.len(),
        deferred: first.deferred,
    };
    while let Some(r) = windows.recv().await {
        let (rep, summary) = sink.sync_window(r.window.end).await;
        done.actions += rep.sent.len();
        done.deferred = rep.deferred;
        worklog.amend(&r, summary)?;
    }
    Ok(done)
}
