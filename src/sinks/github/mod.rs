//! GitHub issues: every tracked problem (a cluster at or above `report.issue_min_priority`
//! today, an incident tomorrow) has exactly one issue in the configured repository, kept
//! current at each window close.
//!
//! ```text
//!  window closes ──► Outbox::push (the window's clusters, persisted before any write)
//!                     │
//!  IssueSink::sync ── list issues updated since the cursor (If-None-Match) ──► Index
//!                     │ (github-index.json: our issues by marker, the cursor, recent writes)
//!                     │ per problem, all its windows: plan(issue, sightings) → actions (pure)
//!                     ▼
//!                   IssueTracker (OctoTracker on GitHub | MemoryTracker: dry run, tests)
//!                     │ serial, within 80/min and 500/h (budget.rs), capped per window
//!                     ▼
//!                   what is done leaves the outbox; `<window-end>.github.json` and a
//!                   GithubSummary, which the driver hands to the worklog to record
//! ```
//!
//! Our issues are found by the hidden marker in their body, never by search (its index lags)
//! nor by label alone (a person may remove it).

pub mod body;
pub mod budget;
pub mod details;
pub mod index;
pub mod memory;
pub mod model;
pub mod outbox;
pub mod plan;
pub mod problem;
pub mod safe;
pub mod sync;
pub mod tracker;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::GithubSettings;
use crate::escalate::Priority;
use crate::report::{GithubSummary, WindowReport};

pub use index::{Index, INDEX_FILE};
pub use memory::MemoryTracker;
pub use problem::{Problem, ProblemId};
pub use sync::{Outbox, Pending, SyncReport, Syncer};
pub use tracker::{IssueTracker, Listing, OctoTracker, Token, TrackerError};

/// The outbox's file name in the state (or worklog) directory.
pub const OUTBOX_FILE: &str = "github-outbox.json";

/// The clusters of `r` that should have an issue, as outbox items.
/// One per incident, and one per cluster in no incident, at or above `min_priority`.
pub fn pending(r: &WindowReport, min_priority: Priority) -> Vec<Pending> {
    let in_incident = r.in_incidents();
    let incidents = r
        .incidents
        .iter()
        .filter(|i| i.priority <= min_priority)
        .map(|i| Pending {
            problem: Problem::from_incident(i, r),
        });
    let clusters = r
        .clusters
        .iter()
        .filter(|c| plan::wanted(c, min_priority) && !in_incident.contains(&c.id))
        .map(|c| Pending::of_cluster(c, r.window.end));
    incidents.chain(clusters).collect()
}

/// The GitHub stage: syncs what waits in the outbox and says what it did.
pub struct IssueSink<T> {
    syncer: Syncer<T>,
    /// Where `<window-end>.github.json` goes (beside the worklogs).
    details_dir: PathBuf,
}

impl<T: IssueTracker> IssueSink<T> {
    pub fn new(syncer: Syncer<T>, details_dir: impl Into<PathBuf>) -> Self {
        IssueSink {
            syncer,
            details_dir: details_dir.into(),
        }
    }

    pub fn tracker(&self) -> &T {
        self.syncer.tracker()
    }

    /// The durable queue the window-close side pushes into.
    pub fn outbox(&self) -> Outbox {
        self.syncer.outbox().clone()
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

    /// Syncs the outbox after the window ending at `end` closed; writes
    /// `<window-end>.github.json` and returns the summary for the worklog.
    pub async fn sync_window(&mut self, end: DateTime<Utc>) -> (SyncReport, GithubSummary) {
        let rep = self.syncer.sync(Vec::new()).await;
        emit(Some(end), &rep);
        let name = details::file_name(end);
        if let Err(e) = details::write(&self.details_dir, end, &rep) {
            tracing::error!(error = %e, file = %name, "cannot write the GitHub details file");
        }
        let summary = details::summary(&rep, &name);
        (rep, summary)
    }
}

fn emit(window_end: Option<chrono::DateTime<chrono::Utc>>, rep: &SyncReport) {
    let refused = rep.sent.iter().filter(|s| s.error.is_some()).count() as u64;
    crate::telemetry::events::GithubSynced {
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
    /// `state_dir` (for the outbox) falls back to `worklog_dir`; the dry run keeps no outbox.
    /// Must be called inside the async runtime (the HTTP client needs its reactor).
    pub fn new(
        g: &GithubSettings,
        token: Option<Token>,
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
                let repo = format!("{}/{}", g.owner, g.repo);
                let index = Index::load(Some(dir.join(INDEX_FILE)), &repo);
                let syncer = Syncer::new(tracker, g.clone(), outbox, false).with_index(index);
                AnyIssueSink::Live(IssueSink::new(syncer, worklog_dir))
            }
            None => {
                // Nothing is sent, so nothing needs spacing or a budget.
                let mut g = g.clone();
                g.write_spacing = std::time::Duration::ZERO;
                g.writes_per_minute = usize::MAX;
                g.writes_per_hour = usize::MAX;
                let syncer = Syncer::new(MemoryTracker::new(), g, Outbox::new(None), true);
                AnyIssueSink::DryRun(IssueSink::new(syncer, worklog_dir))
            }
        })
    }

    pub fn outbox(&self) -> Outbox {
        match self {
            AnyIssueSink::Live(s) => s.outbox(),
            AnyIssueSink::DryRun(s) => s.outbox(),
        }
    }

    pub async fn start(&mut self) -> SyncReport {
        match self {
            AnyIssueSink::Live(s) => s.start().await,
            AnyIssueSink::DryRun(s) => s.start().await,
        }
    }

    pub async fn sync_window(&mut self, end: DateTime<Utc>) -> (SyncReport, GithubSummary) {
        match self {
            AnyIssueSink::Live(s) => s.sync_window(end).await,
            AnyIssueSink::DryRun(s) => s.sync_window(end).await,
        }
    }
}
