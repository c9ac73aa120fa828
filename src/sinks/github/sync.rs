//! The executor: lists our issues, plans each waiting cluster against that listing and sends
//! the actions serially, spaced, within the window's write budget, waiting out rate limits it
//! is asked to. What does not get sent stays in the outbox (a JSON file, written atomically)
//! and is planned again, against a fresh listing, at the next window or start: so an update is
//! never lost and a replayed outbox never opens a second issue.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::body::key_phrase;
use super::model::RemoteIssue;
use super::plan::{needs_new_issue, plan, Action, Index};
use super::tracker::{IssueTracker, TrackerError};
use crate::atomic_file::write as write_atomic;
use crate::config::GithubSettings;
use crate::report::ClusterReport;

/// Rate-limit answers waited out for one request before the rest is deferred.
const MAX_ATTEMPTS: u32 = 3;
/// Related issues listed per new issue.
const RELATED_PER_ISSUE: usize = 5;
/// Clusters the outbox keeps at most: a day of a busy service with GitHub down. Past that the
/// oldest are dropped (and said so): their counts were in the worklogs anyway.
pub const MAX_OUTBOX: usize = 10_000;

/// One cluster of one window still to be brought onto GitHub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub window_end: DateTime<Utc>,
    pub cluster: ClusterReport,
}

/// What was sent (or, in a dry run, would have been) and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub kind: String,
    pub action: Action,
    /// The issue it created or changed.
    pub issue: Option<u64>,
    /// Why GitHub refused it; the action is dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one sync did: the "GitHub" section of the worklog and `<window-end>.github.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Nothing left the machine: no token.
    pub dry_run: bool,
    pub repo: String,
    /// Our issues found by listing the label.
    pub issues_known: usize,
    pub sent: Vec<Sent>,
    /// Clusters left in the outbox for the next window.
    pub deferred: usize,
    /// Why the sync stopped early (rate limit, GitHub unavailable), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The durable queue of clusters not yet brought onto GitHub, shared by the window-close
/// side (which [`Outbox::push`]es a window's clusters, persisted at once, before any write is
/// attempted) and the sync (which reads it and removes what it finished). So a kill, a crash
/// or a shutdown timeout at any moment loses nothing: the next start syncs what is left, and
/// the planner makes a replayed action harmless.
#[derive(Debug, Clone)]
pub struct Outbox(Arc<Mutex<Queue>>);

#[derive(Debug)]
struct Queue {
    path: Option<PathBuf>,
    items: Vec<Pending>,
}

impl Outbox {
    /// The outbox at `path` (read now; an unreadable file is logged and starts empty), or
    /// kept in memory only with `None` (a dry run).
    pub fn new(path: Option<PathBuf>) -> Outbox {
        let items = path.as_deref().map(read_outbox).unwrap_or_default();
        Outbox(Arc::new(Mutex::new(Queue { path, items })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `items` and persists the queue before returning. Past [`MAX_OUTBOX`] the oldest
    /// are dropped (and said so).
    pub fn push(&self, items: Vec<Pending>) -> std::io::Result<()> {
        let mut q = self.lock();
        q.items.extend(items);
        if q.items.len() > MAX_OUTBOX {
            let dropped = q.items.len() - MAX_OUTBOX;
            tracing::warn!(dropped, "GitHub outbox full: dropping the oldest clusters");
            q.items.drain(..dropped);
        }
        q.save()
    }

    /// What is waiting, oldest first.
    pub fn pending(&self) -> Vec<Pending> {
        self.lock().items.clone()
    }

    /// The first `n` items of what [`Outbox::pending`] returned are done: removes and persists.
    pub fn done(&self, n: usize) -> std::io::Result<()> {
        let mut q = self.lock();
        let n = n.min(q.items.len());
        if n == 0 {
            return Ok(());
        }
        q.items.drain(..n);
        q.save()
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Queue {
    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.items.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&self.items).unwrap_or_default();
        write_atomic(path, &json)
    }
}

fn read_outbox(path: &Path) -> Vec<Pending> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::error!(path = %path.display(), error = %e, "GitHub outbox unreadable; starting empty");
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

/// Sends planned actions through an [`IssueTracker`].
pub struct Syncer<T> {
    tracker: T,
    g: GithubSettings,
    outbox: Outbox,
    dry_run: bool,
    last_write: Option<Instant>,
    /// Set when continuing would do harm (labels dropped: we could not find our issues again).
    halted: Option<String>,
}

enum Flow {
    Next,
    Defer(String),
}

impl<T: IssueTracker> Syncer<T> {
    pub fn new(tracker: T, g: GithubSettings, outbox: Outbox, dry_run: bool) -> Syncer<T> {
        Syncer {
            tracker,
            g,
            outbox,
            dry_run,
            last_write: None,
            halted: None,
        }
    }

    pub fn tracker(&self) -> &T {
        &self.tracker
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Adds `new` to the outbox (persisted first), then syncs what waits there, oldest first;
    /// what was done leaves it, the rest stays.
    pub async fn sync(&mut self, new: Vec<Pending>) -> SyncReport {
        let mut rep = self.report();
        if !new.is_empty() {
            if let Err(e) = self.outbox.push(new) {
                tracing::error!(error = %e, "cannot write the GitHub outbox");
                rep.stopped = Some(format!("cannot write the outbox: {e}"));
            }
        }
        let queue = self.outbox.pending();
        let total = queue.len();
        let deferred = match &self.halted {
            Some(why) => {
                rep.stopped = Some(why.clone());
                queue
            }
            None => self.run(queue, &mut rep).await,
        };
        rep.deferred = deferred.len();
        if let Err(e) = self.outbox.done(total - deferred.len()) {
            tracing::error!(error = %e, "cannot write the GitHub outbox");
            rep.stopped
                .get_or_insert(format!("cannot write the outbox: {e}"));
        }
        rep
    }

    fn report(&self) -> SyncReport {
        SyncReport {
            dry_run: self.dry_run,
            repo: format!("{}/{}", self.g.owner, self.g.repo),
            ..SyncReport::default()
        }
    }

    /// Returns what was not done.
    async fn run(&mut self, queue: Vec<Pending>, rep: &mut SyncReport) -> Vec<Pending> {
        let label = self.g.label.clone();
        let mut index = match self.retry(|t| t.list_labelled(&label)).await {
            Ok(issues) => Index::new(issues),
            Err(e) => {
                rep.stopped = Some(format!("listing our issues failed: {e}"));
                return queue;
            }
        };
        rep.issues_known = index.len();
        let mut writes_left = self.g.max_writes_per_window;
        let mut searches_left = self.g.related_searches_per_window;
        let mut queue = queue.into_iter();
        while let Some(p) = queue.next() {
            let mut related = Vec::new();
            if searches_left > 0 && needs_new_issue(&index, &p.cluster, &self.g) {
                searches_left -= 1;
                let phrase = key_phrase(&p.cluster.template);
                // Advisory: a failed search only means no "possibly related" lines.
                related = self
                    .tracker
                    .search(&phrase, &label, RELATED_PER_ISSUE)
                    .await
                    .unwrap_or_default();
            }
            let actions = plan(&index, p.window_end, &p.cluster, &related, &self.g);
            if actions.len() > writes_left {
                rep.stopped = Some(format!(
                    "write budget of {} per window used up",
                    self.g.max_writes_per_window
                ));
                return std::iter::once(p).chain(queue).collect();
            }
            writes_left -= actions.len();
            if let Flow::Defer(why) = self.send_all(&mut index, actions, rep).await {
                rep.stopped = Some(why);
                return std::iter::once(p).chain(queue).collect();
            }
        }
        Vec::new()
    }

    async fn send_all(
        &mut self,
        index: &mut Index,
        actions: Vec<Action>,
        rep: &mut SyncReport,
    ) -> Flow {
        for action in actions {
            let result = self.send(&action).await;
            let kind = action.kind().to_owned();
            let number = match &action {
                Action::Create { .. } => None,
                Action::Comment { number, .. } | Action::Update { number, .. } => Some(*number),
            };
            match result {
                Ok(issue) => {
                    let issue_no = issue.as_ref().map(|i| i.number).or(number);
                    if let Some(i) = issue {
                        if let Err(why) = self.check_labels(&i) {
                            self.halted = Some(why.clone());
                            rep.sent.push(Sent {
                                kind,
                                action,
                                issue: issue_no,
                                error: Some(why.clone()),
                            });
                            return Flow::Defer(why);
                        }
                        index.insert(i);
                    }
                    rep.sent.push(Sent {
                        kind,
                        action,
                        issue: issue_no,
                        error: None,
                    });
                }
                Err(TrackerError::Permanent { status, message }) => {
                    tracing::warn!(status, %message, kind = %kind, "GitHub refused an action; dropped");
                    rep.sent.push(Sent {
                        kind,
                        action,
                        issue: number,
                        error: Some(format!("{status}: {message}")),
                    });
                    // A refused comment (e.g. a locked issue) must not keep the counts from
                    // being written; after a refused create or update the rest makes no sense.
                    if !matches!(
                        rep.sent.last().map(|s| &s.action),
                        Some(Action::Comment { .. })
                    ) {
                        return Flow::Next;
                    }
                }
                Err(e) => return Flow::Defer(e.to_string()),
            }
        }
        Flow::Next
    }

    /// GitHub silently drops labels a token may not set; then we could never find the issue
    /// again and would open one per window. Stop instead.
    fn check_labels(&self, issue: &RemoteIssue) -> Result<(), String> {
        if issue.has_label(&self.g.label) {
            return Ok(());
        }
        Err(format!(
            "issue #{} came back without the `{}` label: the token cannot set labels; stopped to avoid duplicates",
            issue.number, self.g.label
        ))
    }

    async fn send(&mut self, action: &Action) -> Result<Option<RemoteIssue>, TrackerError> {
        let mut attempts = 0;
        loop {
            if let Some(last) = self.last_write {
                tokio::time::sleep_until(last + self.g.write_spacing).await;
            }
            let t = &self.tracker;
            let result = match action {
                Action::Create { issue, .. } => t.create(issue).await.map(Some),
                Action::Update { number, patch, .. } => t.update(*number, patch).await.map(Some),
                Action::Comment { number, body, .. } => {
                    t.comment(*number, body).await.map(|()| None)
                }
            };
            self.last_write = Some(Instant::now());
            match result {
                Err(TrackerError::RateLimited(wait))
                    if wait <= self.g.max_rate_limit_wait && attempts + 1 < MAX_ATTEMPTS =>
                {
                    attempts += 1;
                    tracing::info!(wait_secs = wait.as_secs(), "GitHub rate limit: waiting");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// A read, retried after the rate-limit waits GitHub asks for.
    async fn retry<'a, F, Fut, R>(&'a self, f: F) -> Result<R, TrackerError>
    where
        F: Fn(&'a T) -> Fut,
        Fut: std::future::Future<Output = Result<R, TrackerError>>,
    {
        let mut attempts = 0;
        loop {
            match f(&self.tracker).await {
                Err(TrackerError::RateLimited(wait))
                    if wait <= self.g.max_rate_limit_wait && attempts + 1 < MAX_ATTEMPTS =>
                {
                    attempts += 1;
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests;
