//! An [`IssueTracker`] kept in memory that records every call: the dry run (no token: what
//! would be sent is planned against it and reported, nothing leaves the machine) and the
//! recording fake for tests.

use std::sync::Mutex;

use super::model::{IssueState, Label, RelatedIssue, RemoteIssue};
use super::plan::{IssuePatch, NewIssue};
use super::tracker::{IssueTracker, TrackerError};

/// One call, as the tracker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    List,
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
        t.lock().issues = issues;
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
        if let Some(i) = self.lock().issues.iter_mut().find(|i| i.number == number) {
            f(i);
        }
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
    TrackerError::Permanent {
        status: 404,
        message: format!("no issue #{number}"),
    }
}

impl IssueTracker for MemoryTracker {
    async fn list_labelled(&self, label: &str) -> Result<Vec<RemoteIssue>, TrackerError> {
        self.record(Call::List)?;
        Ok(self
            .lock()
            .issues
            .iter()
            .filter(|i| i.has_label(label))
            .cloned()
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
        inner.issues.push(created.clone());
        Ok(created)
    }

    async fn update(&self, number: u64, patch: &IssuePatch) -> Result<RemoteIssue, TrackerError> {
        self.record(Call::Update(number, patch.clone()))?;
        let mut inner = self.lock();
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
            }
        }
        if let Some(l) = &patch.labels {
            issue.labels = l.iter().map(|name| Label { name: name.clone() }).collect();
        }
        Ok(issue.clone())
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), TrackerError> {
        self.record(Call::Comment(number, body.to_owned()))?;
        let mut inner = self.lock();
        if !inner.issues.iter().any(|i| i.number == number) {
            return Err(not_found(number));
        }
        inner.comments.push((number, body.to_owned()));
        Ok(())
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
