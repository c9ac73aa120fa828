//! The executor: brings the local index up to date (an incremental, conditional listing),
//! plans each waiting problem against it — all its waiting windows at once — and sends the
//! actions serially, within GitHub's secondary limits (`budget.rs`) and the window's write
//! budget, waiting out short rate limits. What does not get sent stays in the outbox (a JSON
//! file, written atomically) and is planned again at the next window or start: so an update is
//! never lost, a replayed outbox never opens a second issue, and a comment is never repeated
//! (it carries a key the executor looks for before posting).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::body::key_phrase;
use super::budget::WriteBudget;
use super::index::Index;
use super::model::{RelatedIssue, RemoteIssue};
pub use super::outbox::{Outbox, Pending, MAX_OUTBOX};
use super::plan::{comment_marker, needs_new_issue, plan, Action};
use super::problem::{Problem, ProblemId};
use super::tracker::{IssueTracker, Listing, TrackerError};
use crate::clock::Clock;
use crate::config::GithubSettings;

/// Rate-limit answers waited out for one request before the rest is deferred.
const MAX_ATTEMPTS: u32 = 3;
/// Related issues listed per new issue.
const RELATED_PER_ISSUE: usize = 5;
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

/// Pages of a listing read per sync at most (10,000 issues); the rest comes with the next
/// sync, from where this one stopped. Until a listing is complete no issue is created (one
/// might exist on a page not read yet); updates of issues already known go on.
pub const MAX_PAGES: usize = 100;

/// Sends planned actions through an [`IssueTracker`].
pub struct Syncer<T> {
    tracker: T,
    g: GithubSettings,
    outbox: Outbox,
    index: Index,
    budget: WriteBudget,
    clock: Clock,
    dry_run: bool,
    /// Set when continuing would do harm (labels dropped: we could not find our issues again).
    halted: Option<String>,
}

enum Flow {
    Next,
    /// The issue is gone (deleted, moved): forget it and plan the problem again.
    Gone(u64),
    Defer(String),
}

/// What became of one problem.
enum Done {
    Yes,
    /// Left in the outbox; the others go on.
    Skipped,
    /// Left in the outbox with everything after it.
    Stop(String),
}

impl<T: IssueTracker> Syncer<T> {
    /// A syncer with an in-memory index and the system clock.
    pub fn new(tracker: T, g: GithubSettings, outbox: Outbox, dry_run: bool) -> Syncer<T> {
        let budget = WriteBudget {
            per_minute: g.writes_per_minute,
            per_hour: g.writes_per_hour,
            spacing: TimeDelta::from_std(g.write_spacing).unwrap_or(TimeDelta::zero()),
        };
        let index = Index::load(None, &format!("{}/{}", g.owner, g.repo));
        Syncer {
            tracker,
            g,
            outbox,
            index,
            budget,
            clock: crate::clock::system(),
            dry_run,
            halted: None,
        }
    }

    /// Uses `index` (loaded from the state directory) instead of an empty one.
    pub fn with_index(mut self, index: Index) -> Syncer<T> {
        self.index = index;
        self
    }

    /// Takes "now" for the write budget from `clock` (tests: tokio's paused time).
    pub fn with_clock(mut self, clock: Clock) -> Syncer<T> {
        self.clock = clock;
        self
    }

    pub fn tracker(&self) -> &T {
        &self.tracker
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn index(&self) -> &Index {
        &self.index
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
        let done = match &self.halted {
            Some(why) => {
                rep.stopped = Some(why.clone());
                BTreeSet::new()
            }
            None => self.run(&queue, &mut rep).await,
        };
        rep.deferred = queue.len() - done.len();
        if let Err(e) = self.outbox.done(&done) {
            tracing::error!(error = %e, "cannot write the GitHub outbox");
            rep.stopped
                .get_or_insert(format!("cannot write the outbox: {e}"));
        }
        if let Err(e) = self.index.save() {
            // The index is a cache of GitHub: losing it costs one full listing, nothing more.
            tracing::warn!(error = %e, "cannot write the GitHub index");
        }
        self.outbox.set_links(self.index.links());
        rep
    }

    fn report(&self) -> SyncReport {
        SyncReport {
            dry_run: self.dry_run,
            repo: format!("{}/{}", self.g.owner, self.g.repo),
            ..SyncReport::default()
        }
    }

    /// Returns the positions of the queue that were done.
    async fn run(&mut self, queue: &[Pending], rep: &mut SyncReport) -> BTreeSet<usize> {
        let mut done = BTreeSet::new();
        let complete = match self.list().await {
            Ok(c) => c,
            Err(e) => {
                rep.stopped = Some(format!("listing our issues failed: {e}"));
                return done;
            }
        };
        rep.issues_known = self.index.len();
        let mut budget = (
            self.g.max_writes_per_window,
            self.g.related_searches_per_window,
        );
        for positions in by_problem(queue) {
            // A backfill's windows of one problem become one update.
            let seen: Vec<Problem> = positions
                .iter()
                .map(|&i| queue[i].problem.clone())
                .collect();
            match self.one(&seen, complete, &mut budget, rep).await {
                Done::Yes => done.extend(positions),
                Done::Skipped => {
                    rep.stopped.get_or_insert_with(|| {
                        "the listing of the repository is not complete yet: new issues wait for the next window".into()
                    });
                }
                Done::Stop(why) => {
                    rep.stopped = Some(why);
                    break;
                }
            }
        }
        done
    }

    /// Lists what changed since the last listing into the index; whether it is complete.
    async fn list(&mut self) -> Result<bool, TrackerError> {
        let (since, etag) = self.index.cursor();
        let etag = etag.map(str::to_owned);
        let listing = self
            .retry(|t| t.list_updated(since, etag.as_deref(), MAX_PAGES))
            .await?;
        Ok(match listing {
            Listing::NotModified => true,
            Listing::Issues {
                issues,
                etag,
                complete,
            } => {
                // An ETag is kept only for a whole listing: a 304 then means "complete".
                self.index.apply(since, issues, etag.filter(|_| complete));
                complete
            }
        })
    }

    async fn one(
        &mut self,
        seen: &[Problem],
        complete: bool,
        (writes_left, searches_left): &mut (usize, usize),
        rep: &mut SyncReport,
    ) -> Done {
        let ids: Vec<ProblemId> = seen.iter().flat_map(|p| p.ids().cloned()).collect();
        // A gone issue is forgotten and the problem planned once more (a new issue).
        for _ in 0..2 {
            let existing = self.index.find(&ids).cloned();
            // An id stays with the one issue that named it first: an incident whose members
            // have issues of their own from other windows does not pull their ids over.
            let mine = existing.as_ref().map(|i| i.number);
            let owned_elsewhere =
                |id: &ProblemId| self.index.owner(id).is_some_and(|n| Some(n) != mine);
            let seen: Vec<Problem> = seen
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    p.aliases.retain(|a| !owned_elsewhere(a));
                    if let Some(r) = &mut p.retraction {
                        // The whole traceback's issue, for the comment that closes the part's.
                        r.into_issue = r.into.as_ref().and_then(|id| self.index.owner(id));
                    }
                    p
                })
                .collect();
            let seen = &seen[..];
            let mut related = Vec::new();
            if needs_new_issue(existing.as_ref(), seen, &self.g) {
                if !complete {
                    return Done::Skipped;
                }
                if *searches_left > 0 {
                    *searches_left -= 1;
                    related = self.related(seen).await;
                }
            }
            let actions = plan(existing.as_ref(), seen, &related, &self.g);
            if actions.len() > *writes_left {
                return Done::Stop(format!(
                    "write budget of {} per window used up",
                    self.g.max_writes_per_window
                ));
            }
            *writes_left -= actions.len();
            let since = seen.iter().map(|p| p.window_end).min().unwrap_or_default();
            match self.send_all(actions, since, rep).await {
                Flow::Next => return Done::Yes,
                Flow::Gone(n) => {
                    tracing::warn!(
                        issue = n,
                        "GitHub issue deleted or moved away; opening a new one"
                    );
                    self.index.forget(n);
                }
                Flow::Defer(why) => return Done::Stop(why),
            }
        }
        Done::Yes
    }

    /// Advisory: a failed search only means no "possibly related" lines.
    async fn related(&self, seen: &[Problem]) -> Vec<RelatedIssue> {
        let Some(p) = seen.last() else {
            return Vec::new();
        };
        let phrase = key_phrase(&p.template);
        self.tracker
            .search(&phrase, &self.g.label, RELATED_PER_ISSUE)
            .await
            .unwrap_or_default()
    }

    async fn send_all(
        &mut self,
        actions: Vec<Action>,
        since: DateTime<Utc>,
        rep: &mut SyncReport,
    ) -> Flow {
        for action in actions {
            let kind = action.kind().to_owned();
            let number = match &action {
                Action::Create { .. } => None,
                Action::Comment { number, .. } | Action::Update { number, .. } => Some(*number),
            };
            if let Action::Comment { number, key, .. } = &action {
                match self.retry(|t| t.comment_bodies(*number, since)).await {
                    Ok(bodies) if bodies.iter().any(|b| b.starts_with(&comment_marker(key))) => {
                        // Posted before (its answer was lost, or the update after it was).
                        continue;
                    }
                    Ok(_) => {}
                    Err(TrackerError::Gone { .. }) => return Flow::Gone(*number),
                    Err(e) => return Flow::Defer(e.to_string()),
                }
            }
            let sent = |error: Option<String>, issue| Sent {
                kind: kind.clone(),
                action: action.clone(),
                issue,
                error,
            };
            match self.send(&action).await {
                Ok(Some(i)) if self.moved(&i) => return Flow::Gone(i.number),
                Ok(issue) => {
                    let issue_no = issue.as_ref().map(|i| i.number).or(number);
                    if let Some(i) = issue {
                        if let Err(why) = self.check_labels(&i) {
                            self.halted = Some(why.clone());
                            rep.sent.push(sent(Some(why.clone()), issue_no));
                            return Flow::Defer(why);
                        }
                        self.index.insert(i);
                    }
                    rep.sent.push(sent(None, issue_no));
                }
                Err(TrackerError::Gone { .. }) if number.is_some() => {
                    return Flow::Gone(number.unwrap_or_default());
                }
                Err(TrackerError::Permanent { status, message }) => {
                    tracing::warn!(status, %message, kind = %kind, "GitHub refused an action; dropped");
                    rep.sent
                        .push(sent(Some(format!("{status}: {message}")), number));
                    // A refused comment (e.g. a locked issue) must not keep the counts from
                    // being written; after a refused create or update the rest makes no sense.
                    if !matches!(action, Action::Comment { .. }) {
                        return Flow::Next;
                    }
                }
                Err(e) => return Flow::Defer(e.to_string()),
            }
        }
        Flow::Next
    }

    /// GitHub answered with an issue of another repository: it was transferred.
    fn moved(&self, issue: &RemoteIssue) -> bool {
        let ours = format!("/repos/{}/{}", self.g.owner, self.g.repo).to_lowercase();
        issue
            .repository_url
            .as_deref()
            .is_some_and(|u| !u.to_lowercase().ends_with(&ours))
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

    /// One write, within the budget (waited for when the wait is short, else deferred), with
    /// GitHub's own rate-limit answers waited out the same way.
    async fn send(&mut self, action: &Action) -> Result<Option<RemoteIssue>, TrackerError> {
        let mut attempts = 0;
        loop {
            let now = (self.clock)();
            let at = self.budget.next_at(self.index.writes(), now);
            if at > now {
                let wait = (at - now).to_std().unwrap_or_default();
                if wait > self.g.max_rate_limit_wait {
                    return Err(TrackerError::RateLimited(wait));
                }
                tokio::time::sleep(wait).await;
            }
            let t = &self.tracker;
            let result = match action {
                Action::Create { issue, .. } => t.create(issue).await.map(Some),
                Action::Update { number, patch, .. } => t.update(*number, patch).await.map(Some),
                Action::Comment { number, body, .. } => {
                    t.comment(*number, body).await.map(|()| None)
                }
            };
            self.index.wrote((self.clock)().max(at));
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

/// The queue's positions grouped by problem id, in order of first appearance.
fn by_problem(queue: &[Pending]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(&ProblemId, Vec<usize>)> = Vec::new();
    for (i, p) in queue.iter().enumerate() {
        match groups.iter_mut().find(|(id, _)| **id == p.problem.id) {
            Some((_, g)) => g.push(i),
            None => groups.push((&p.problem.id, vec![i])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests;
