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
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::atomic_file::{Blob, FileBlob};
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
/// One per incident, and one per cluster in no incident, at or above `min_priority`; and, in a
/// revision, one per cluster that lost entries to a longer traceback and is not among them
/// (its count only: it corrects the issue it has, if any).
pub fn pending(r: &WindowReport, min_priority: Priority) -> Vec<Pending> {
    let mut out = wanted(r, min_priority);
    let Some(rev) = &r.revision else {
        return out;
    };
    for p in &mut out {
        p.problem.revision = rev.number;
    }
    for x in &rev.retracted {
        let id = ProblemId::from(x.cluster);
        let into = x.into.map(ProblemId::from);
        match out.iter_mut().find(|p| p.problem.ids().any(|i| *i == id)) {
            Some(p) if p.problem.id == id => {
                p.problem.retraction = Some(problem::Retraction {
                    into,
                    into_issue: None,
                    bare: false,
                });
            }
            // Part of an incident of this version: the incident's issue follows it.
            Some(_) => {}
            None => out.push(Pending {
                problem: Problem::retracted(id, r.window.end, x.count, rev.number, into),
            }),
        }
    }
    out
}

fn wanted(r: &WindowReport, min_priority: Priority) -> Vec<Pending> {
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

/// Where the GitHub stage keeps its outbox and index: files in `github.state_dir` (else the
/// worklog directory), or beside the checkpoint in Redis (`state.redis_url`), so a replica
/// that takes over finds what its predecessor had not yet brought onto GitHub.
pub struct GithubPlaces {
    pub outbox: Arc<dyn Blob>,
    pub index: Arc<dyn Blob>,
}

impl GithubPlaces {
    pub fn files(g: &GithubSettings, worklog_dir: &Path) -> GithubPlaces {
        let dir = g
            .state_dir
            .clone()
            .unwrap_or_else(|| worklog_dir.to_owned());
        GithubPlaces {
            outbox: Arc::new(FileBlob(dir.join(OUTBOX_FILE))),
            index: Arc::new(FileBlob(dir.join(INDEX_FILE))),
        }
    }
}

impl AnyIssueSink {
    /// With a token, the live sink keeping its state in `places` (else the files of
    /// [`GithubPlaces::files`]); without, a dry run that keeps no state. Must be called inside
    /// the async runtime (the HTTP client needs its reactor).
    pub fn new(
        g: &GithubSettings,
        token: Option<Token>,
        worklog_dir: &Path,
        places: Option<GithubPlaces>,
    ) -> Result<AnyIssueSink, TrackerError> {
        Ok(match token {
            Some(token) => {
                let places = places.unwrap_or_else(|| GithubPlaces::files(g, worklog_dir));
                let outbox = Outbox::at(Some(places.outbox));
                let tracker = OctoTracker::new(g, token)?;
                let repo = format!("{}/{}", g.owner, g.repo);
                let index = Index::load_from(Some(places.index), &repo);
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
