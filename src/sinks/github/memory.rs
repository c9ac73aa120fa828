//! An [`IssueTracker`] kept in memory that records every call: the dry run (no token: what
//! would be sent is planned against it and reported, nothing leaves the machine) and the
//! recording fake for tests.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::model::{IssueState, Label, RelatedIssue, RemoteIssue};
use super::plan::{IssuePatch, NewIssue};
use super::tracker::{IssueTracker, Listing, TrackerError};

/// One call, as the tracker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A listing; `true` when answered 304.
    List(bool),
    Comments(u64),
    Create(NewIssue),
    Update(u64, IssuePatch),
    Comment(u64, String),
    Search(String),
}

#[derive(Debug, Default)]
struct Inner {
    issues: Vec<RemoteIssue>,
    comments: Vec<(u64, String)>,
    calls: Vec<Call>,
    /// Errors to answer the next calls with, in order (tests).
    failures: Vec<TrackerError>,
    /// Errors to answer the next writes (create, update, comment) with.
    write_failures: Vec<TrackerError>,
    /// Create issues without their labels, as GitHub does for a token that may not set them.
    drop_labels: bool,
    /// Changes so far: each sets the changed issue's `updated_at` (seconds after 2000).
    changes: i64,
    /// For the next writes: `Some(e)` applies the write, then answers `e` (a timeout after
    /// GitHub took it); `None` answers normally.
    lost_answers: std::collections::VecDeque<Option<TrackerError>>,
}

/// This tracker's clock: change `n` happens `n` seconds after 2000-01-01T00:00:00Z, so later
/// changes sort after earlier ones.
const CLOCK_START: i64 = 946_684_800;

fn clock(changes: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(CLOCK_START + changes, 0)
}

impl Inner {
    /// The answer to a write that was applied.
    fn answer(&mut self) -> Result<(), TrackerError> {
        match self.lost_answers.pop_front() {
            Some(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn touch(&mut self, number: u64) {
        self.changes += 1;
        let at = clock(self.changes);
        if let Some(i) = self.issues.iter_mut().find(|i| i.number == number) {
            i.updated_at = at;
        }
    }
}

/// Issues in memory, numbered from 1.
#[derive(Debug, Default)]
pub struct MemoryTracker {
    inner: Mutex<Inner>,
}

impl MemoryTracker {
    pub fn new() -> MemoryTracker {
        MemoryTracker::default()
    }

    /// Starts with `issues` already there (e.g. closed ones).
    pub fn with_issues(issues: Vec<RemoteIssue>) -> MemoryTracker {
        let t = MemoryTracker::default();
        let mut inner = t.lock();
        // Go on from the latest change, so later changes sort after it.
        inner.changes = issues
            .iter()
            .filter_map(|i| i.updated_at)
            .map(|u| u.timestamp() - CLOCK_START)
            .max()
            .unwrap_or(0);
        inner.issues = issues;
        drop(inner);
        t
    }

    /// The next calls fail with these errors, one per call.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = TrackerError>) {
        self.lock().failures.extend(errors);
    }

    /// The next writes (create, update, comment) fail with these errors, one per write.
    pub fn fail_next_write(&self, errors: impl IntoIterator<Item = TrackerError>) {
        self.lock().write_failures.extend(errors);
    }

    /// The next writes are applied, then answered as given (`Some(e)`: the answer is lost).
    pub fn lose_answers(&self, answers: impl IntoIterator<Item = Option<TrackerError>>) {
        self.lock().lost_answers.extend(answers);
    }

    /// From now on, created issues lose their labels (GitHub's answer to a weak token).
    pub fn drop_labels_on_create(&self) {
        self.lock().drop_labels = true;
    }

    pub fn issues(&self) -> Vec<RemoteIssue> {
        self.lock().issues.clone()
    }

    pub fn comments(&self) -> Vec<(u64, String)> {
        self.lock().comments.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Changes an issue the way a person would (close it, label it).
    pub fn edit(&self, number: u64, f: impl FnOnce(&mut RemoteIssue)) {
        let mut inner = self.lock();
        if let Some(i) = inner.issues.iter_mut().find(|i| i.number == number) {
            f(i);
        }
        inner.touch(number);
    }

    /// Deletes an issue, as an admin would: later requests for it answer 410.
    pub fn delete(&self, number: u64) {
        self.lock().issues.retain(|i| i.number != number);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock leaves usable data behind.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, call: Call) -> Result<(), TrackerError> {
        let mut inner = self.lock();
        let write = matches!(call, Call::Create(_) | Call::Update(..) | Call::Comment(..));
        inner.calls.push(call);
        if !inner.failures.is_empty() {
            return Err(inner.failures.remove(0));
        }
        if write && !inner.write_failures.is_empty() {
            return Err(inner.write_failures.remove(0));
        }
        Ok(())
    }
}

fn not_found(number: u64) -> TrackerError {
    TrackerError::Gone {
        status: 410,
        message: format!("no issue #{number}"),
    }
}

impl IssueTracker for MemoryTracker {
    async fn list_updated(
        &self,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
        _max_pages: usize,
    ) -> Result<Listing, TrackerError> {
        let mut issues: Vec<RemoteIssue> = self
            .lock()
            .issues
            .iter()
            .filter(|i| since.is_none_or(|s| i.updated_at.is_none_or(|u| u >= s)))
            .cloned()
            .collect();
        issues.sort_by_key(|i| (i.updated_at, i.number));
        let tag = format!("\"{:x}\"", fingerprint(&issues));
        let unchanged = etag == Some(tag.as_str());
        self.record(Call::List(unchanged))?;
        if unchanged {
            return Ok(Listing::NotModified);
        }
        Ok(Listing::Issues {
            issues,
            etag: Some(tag),
            complete: true,
        })
    }

    async fn comment_bodies(
        &self,
        number: u64,
        _since: DateTime<Utc>,
    ) -> Result<Vec<String>, TrackerError> {
        self.record(Call::Comments(number))?;
        Ok(self
            .lock()
            .comments
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn create(&self, issue: &NewIssue) -> Result<RemoteIssue, TrackerError> {
        self.record(Call::Create(issue.clone()))?;
        let mut inner = self.lock();
        let number = inner.issues.iter().map(|i| i.number).max().unwrap_or(0) + 1;
        let labels = if inner.drop_labels {
            Vec::new()
        } else {
            issue.labels.clone()
        };
        let created = RemoteIssue {
            number,
            title: issue.title.clone(),
            body: Some(issue.body.clone()),
            state: IssueState::Open,
            labels: labels.into_iter().map(|name| Label { name }).collect(),
            html_url: format!("dry-run://issues/{number}"),
            ..RemoteIssue::default()
        };
        inner.issues.push(created);
        inner.touch(number);
        inner.answer()?;
        Ok(inner.issues.last().cloned().unwrap_or_default())
    }

    async fn update(&self, number: u64, patch: &IssuePatch) -> Result<RemoteIssue, TrackerError> {
        self.record(Call::Update(number, patch.clone()))?;
        let mut inner = self.lock();
        let changes = inner.changes + 1;
        let issue = inner
            .issues
            .iter_mut()
            .find(|i| i.number == number)
            .ok_or_else(|| not_found(number))?;
        if let Some(t) = &patch.title {
            issue.title = t.clone();
        }
        if let Some(b) = &patch.body {
            issue.body = Some(b.clone());
        }
        if let Some(s) = patch.state {
            issue.state = s;
            if s == IssueState::Open {
                issue.state_reason = Some("reopened".into());
                issue.closed_at = None;
            } else {
                issue.state_reason = patch.state_reason.clone().or(Some("completed".into()));
                // The time of this change (`Inner::touch` below counts it).
                issue.closed_at = clock(changes);
            }
        }
        if let Some(l) = &patch.labels {
            issue.labels = l.iter().map(|name| Label { name: name.clone() }).collect();
        }
        inner.touch(number);
        inner.answer()?;
        Ok(inner
            .issues
            .iter()
            .find(|i| i.number == number)
            .cloned()
            .unwrap_or_default())
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), TrackerError> {
        self.record(Call::Comment(number, body.to_owned()))?;
        let mut inner = self.lock();
        if !inner.issues.iter().any(|i| i.number == number) {
            return Err(not_found(number));
        }
        inner.comments.push((number, body.to_owned()));
        inner.touch(number);
        inner.answer()
    }

    async fn search(
        &self,
        phrase: &str,
        exclude_label: &str,
        limit: usize,
    ) -> Result<Vec<RelatedIssue>, TrackerError> {
        self.record(Call::Search(phrase.to_owned()))?;
        let needle = phrase.to_lowercase();
        Ok(self
            .lock()
            .issues
            .iter()
            .filter(|i| !i.has_label(exclude_label))
            .filter(|i| {
                i.title.to_lowercase().contains(&needle)
                    || i.body
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&needle)
            })
            .take(limit)
            .map(|i| RelatedIssue {
                number: i.number,
                title: i.title.clone(),
                state: i.state,
            })
            .collect())
    }
}

/// A stand-in for GitHub's ETag: changes whenever the listing would.
fn fingerprint(issues: &[RemoteIssue]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(issues)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}
