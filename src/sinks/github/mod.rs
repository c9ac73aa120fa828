//! GitHub issues: every cluster at or above `report.issue_min_priority` has exactly one issue
//! in the configured repository, kept current at each window close.
//!
//! ```text
//!  WindowReport ──► IssueSink::on_window
//!                     │ clusters at/above the priority, after the outbox's
//!                     ▼
//!                   Syncer::sync ── list issues by label (state=all, all pages) ──► Index
//!                     │ per cluster: plan(index, cluster) → actions          plan.rs (pure)
//!                     ▼
//!                   IssueTracker (OctoTracker on GitHub | MemoryTracker: dry run, tests)
//!                     │ serial, spaced, rate limits waited out, capped per window
//!                     ▼
//!                   what did not fit → outbox file; what was done → worklog "GitHub" section
//! ```
//!
//! Our issues are found by label and a hidden marker, never by search (its index lags).

pub mod body;
pub mod memory;
pub mod model;
pub mod plan;
pub mod safe;
pub mod sync;
pub mod tracker;
mod worklog;

use std::path::{Path, PathBuf};

use crate::config::GithubSettings;
use crate::escalate::Priority;
use crate::report::WindowReport;
use crate::sinks::worklog::WorklogError;

pub use memory::MemoryTracker;
pub use sync::{Outbox, Pending, SyncReport, Syncer};
pub use tracker::{IssueTracker, OctoTracker, Token, TrackerError};

/// The outbox's file name in the state (or worklog) directory.
pub const OUTBOX_FILE: &str = "github-outbox.json";

/// The window-close stage: syncs each report's clusters and notes what it did in the worklog.
pub struct IssueSink<T> {
    syncer: Syncer<T>,
    min_priority: Priority,
    worklog_dir: PathBuf,
}

impl<T: IssueTracker> IssueSink<T> {
    pub fn new(syncer: Syncer<T>, min_priority: Priority, worklog_dir: impl Into<PathBuf>) -> Self {
        IssueSink {
            syncer,
            min_priority,
            worklog_dir: worklog_dir.into(),
        }
    }

    pub fn tracker(&self) -> &T {
        self.syncer.tracker()
    }

    /// At start: lists our issues and sends what the outbox kept from the last run.
    pub async fn start(&mut self) -> SyncReport {
        let rep = self.syncer.sync(Vec::new()).await;
        tracing::info!(
            repo = %rep.repo,
            dry_run = rep.dry_run,
            issues = rep.issues_known,
            "GitHub issues sink started"
        );
        emit(None, &rep);
        rep
    }

    /// Syncs the window's clusters; writes `<window-end>.github.json` and adds a "GitHub"
    /// section to the worklog written for the window.
    pub async fn on_window(&mut self, r: &WindowReport) -> Result<SyncReport, WorklogError> {
        let pending: Vec<Pending> = r
            .clusters
            .iter()
            .filter(|c| plan::wanted(c, self.min_priority))
            .map(|c| Pending {
                window_end: r.window.end,
                cluster: c.clone(),
            })
            .collect();
        let rep = self.syncer.sync(pending).await;
        emit(Some(r.window.end), &rep);
        worklog::annotate(&self.worklog_dir, r, &rep)?;
        Ok(rep)
    }
}

fn emit(window_end: Option<chrono::DateTime<chrono::Utc>>, rep: &SyncReport) {
    let refused = rep.sent.iter().filter(|s| s.error.is_some()).count() as u64;
    crate::internal_events::GithubSynced {
        window_end,
        dry_run: rep.dry_run,
        done: rep.sent.len() as u64 - refused,
        refused,
        deferred: rep.deferred,
        stopped: rep.stopped.as_deref(),
    }
    .emit();
}

/// The sink as configured: on GitHub with a token, else a dry run against memory.
pub enum AnyIssueSink {
    Live(IssueSink<OctoTracker>),
    DryRun(IssueSink<MemoryTracker>),
}

impl AnyIssueSink {
    /// `state_dir` falls back to `worklog_dir`; the dry run keeps no outbox.
    pub fn new(
        g: &GithubSettings,
        token: Option<Token>,
        min_priority: Priority,
        worklog_dir: &Path,
    ) -> Result<AnyIssueSink, TrackerError> {
        Ok(match token {
            Some(token) => {
                let dir = g
                    .state_dir
                    .clone()
                    .unwrap_or_else(|| worklog_dir.to_owned());
                let outbox = Outbox::new(Some(dir.join(OUTBOX_FILE)));
                let tracker = OctoTracker::new(g, token)?;
                let syncer = Syncer::new(tracker, g.clone(), outbox, false);
                AnyIssueSink::Live(IssueSink::new(syncer, min_priority, worklog_dir))
            }
            None => {
                // Nothing is sent, so nothing needs spacing.
                let mut g = g.clone();
                g.write_spacing = std::time::Duration::ZERO;
                let syncer = Syncer::new(MemoryTracker::new(), g, Outbox::new(None), true);
                AnyIssueSink::DryRun(IssueSink::new(syncer, min_priority, worklog_dir))
            }
        })
    }

    pub async fn start(&mut self) -> SyncReport {
        match self {
            AnyIssueSink::Live(s) => s.start().await,
            AnyIssueSink::DryRun(s) => s.start().await,
        }
    }

    pub async fn on_window(&mut self, r: &WindowReport) -> Result<SyncReport, WorklogError> {
        match self {
            AnyIssueSink::Live(s) => s.on_window(r).await,
            AnyIssueSink::DryRun(s) => s.on_window(r).await,
        }
    }
}
