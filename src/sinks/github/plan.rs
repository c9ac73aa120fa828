//! What to do on GitHub for one cluster of a closed window: a pure function of the issues we
//! already have (found by label and marker), the cluster's report and the settings. The
//! executor sends the actions; planning again after a restart against a fresh listing gives
//! the same or fewer actions, never a second issue.
//!
//! Per cluster at most two requests: an optional comment first, then one create or one update
//! that also writes the new state. A lost update is planned again; a comment may at worst be
//! repeated, never lost.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body;
use super::model::{IssueState, RelatedIssue, RemoteIssue, TrackedState};
use crate::config::GithubSettings;
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::report::ClusterReport;

/// The label that stops comments on an issue.
pub const QUIET: &str = "log-gardener:quiet";
/// Added when a closed issue is reopened because its cluster came back.
pub const REGRESSION: &str = "regression";

/// A new issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

/// Changes to an issue; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuePatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<IssueState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// One request to GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create {
        cluster: ClusterId,
        issue: NewIssue,
    },
    Comment {
        cluster: ClusterId,
        number: u64,
        body: String,
    },
    Update {
        cluster: ClusterId,
        number: u64,
        patch: IssuePatch,
    },
}

impl Action {
    /// "create", "comment", "update" or "reopen", for people.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Comment { .. } => "comment",
            Action::Update { patch, .. } if patch.state == Some(IssueState::Open) => "reopen",
            Action::Update { .. } => "update",
        }
    }

    pub fn cluster(&self) -> ClusterId {
        match self {
            Action::Create { cluster, .. }
            | Action::Comment { cluster, .. }
            | Action::Update { cluster, .. } => *cluster,
        }
    }
}

/// Our issues by cluster id (and every merged alias), the newest issue winning.
#[derive(Debug, Clone, Default)]
pub struct Index {
    by_id: BTreeMap<ClusterId, RemoteIssue>,
}

impl Index {
    /// From a listing by our label; issues without our marker and pull requests are ignored.
    pub fn new(issues: impl IntoIterator<Item = RemoteIssue>) -> Index {
        let mut index = Index::default();
        for issue in issues {
            index.insert(issue);
        }
        index
    }

    /// Records what GitHub returned for a create or update.
    pub fn insert(&mut self, issue: RemoteIssue) {
        let Some(state) = issue.tracked() else { return };
        if issue.pull_request.is_some() {
            return;
        }
        for id in state.ids {
            match self.by_id.get(&id) {
                Some(old) if old.number > issue.number => {}
                _ => {
                    self.by_id.insert(id, issue.clone());
                }
            }
        }
    }

    /// The issue of `c`: by its id, else by any of its aliases.
    pub fn find(&self, c: &ClusterReport) -> Option<&RemoteIssue> {
        std::iter::once(&c.id)
            .chain(&c.aliases)
            .find_map(|id| self.by_id.get(id))
    }

    pub fn len(&self) -> usize {
        let mut numbers: Vec<u64> = self.by_id.values().map(|i| i.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Whether planning `c` would open a new issue (the executor then looks for related ones).
pub fn needs_new_issue(index: &Index, c: &ClusterReport, settings: &GithubSettings) -> bool {
    match index.find(c) {
        None => true,
        Some(i) => matches!(recurrence(i, c, settings), Recurrence::TooLate),
    }
}

enum Recurrence {
    /// Open, or closed and the entries are not newer than the close.
    No,
    /// Closed as not planned: count, never reopen.
    NotPlanned,
    Reopen,
    /// Closed as completed too long ago: a new issue links the old one.
    TooLate,
}

fn recurrence(i: &RemoteIssue, c: &ClusterReport, g: &GithubSettings) -> Recurrence {
    if i.state == IssueState::Open {
        return Recurrence::No;
    }
    if i.state_reason.as_deref() == Some("not_planned") {
        return Recurrence::NotPlanned;
    }
    // Event time decides: entries from before the close (a replay of old logs) are no regression.
    match i.closed_at {
        Some(closed) if c.last_seen > closed => {
            if c.last_seen - closed <= g.reopen_within {
                Recurrence::Reopen
            } else {
                Recurrence::TooLate
            }
        }
        _ => Recurrence::No,
    }
}

/// The actions for cluster `c` of the window ending at `window_end`.
pub fn plan(
    index: &Index,
    window_end: DateTime<Utc>,
    c: &ClusterReport,
    related: &[RelatedIssue],
    g: &GithubSettings,
) -> Vec<Action> {
    let existing = index.find(c);
    let rec = existing.map(|i| recurrence(i, c, g));
    let issue = match (existing, &rec) {
        (Some(i), Some(r)) if !matches!(r, Recurrence::TooLate) => i,
        (old, _) => {
            let mut state = fresh_state(c, window_end);
            state.previous = old.map(|i| i.number);
            state.related = related.to_vec();
            let issue = NewIssue {
                title: body::title(c),
                body: body::render(c, &state, g),
                labels: body::labels(c, &g.label),
            };
            return vec![Action::Create {
                cluster: c.id,
                issue,
            }];
        }
    };
    let old = issue
        .tracked()
        .unwrap_or_else(|| fresh_state(c, window_end));
    let mut state = old.clone();
    state.ids.insert(c.id);
    state.ids.extend(c.aliases.iter().copied());
    state.first_seen = state.first_seen.min(c.first_seen);
    if state.first_seen == DateTime::<Utc>::MIN_UTC {
        state.first_seen = c.first_seen;
    }
    state.last_seen = state.last_seen.max(c.last_seen);
    state.merge_window(window_end, c.count);
    state.priority = c.priority;

    let quiet = issue.has_label(QUIET);
    let mut actions = Vec::new();
    let mut patch = IssuePatch::default();
    let mut labels = issue.label_names();
    match rec {
        Some(Recurrence::Reopen) => {
            if !quiet {
                actions.push(comment(
                    c,
                    issue.number,
                    format!(
                        "This came back after the issue was closed: {} entries in the window ending {}. Reopened and labelled `{REGRESSION}`.",
                        c.count,
                        window_end.format("%Y-%m-%d %H:%M UTC")
                    ),
                ));
            }
            patch.state = Some(IssueState::Open);
            labels.push(REGRESSION.to_owned());
        }
        Some(Recurrence::No)
            if !quiet && issue.state == IssueState::Open && c.priority < old.priority =>
        {
            actions.push(comment(
                c,
                issue.number,
                format!(
                    "Priority escalated from {} to **{}**: {}",
                    old.priority,
                    c.priority,
                    super::safe::inert(&c.reason)
                ),
            ));
        }
        _ => {}
    }
    let not_planned = matches!(rec, Some(Recurrence::NotPlanned));
    if !not_planned {
        // The priority label follows the cluster; a human's other labels stay.
        labels.retain(|l| !l.starts_with("priority:"));
        labels.push(format!("priority:{}", c.priority));
        let mut seen = std::collections::BTreeSet::new();
        labels.retain(|l| seen.insert(l.to_lowercase()));
        if sorted(&labels) != sorted(&issue.label_names()) {
            patch.labels = Some(labels);
        }
        let title = body::title(c);
        if title != issue.title && c.priority != old.priority {
            patch.title = Some(title);
        }
    }
    let new_body = body::render(c, &state, g);
    if issue.body.as_deref() != Some(new_body.as_str()) && state != old {
        patch.body = Some(new_body);
    }
    if patch != IssuePatch::default() {
        actions.push(Action::Update {
            cluster: c.id,
            number: issue.number,
            patch,
        });
    }
    actions
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn comment(c: &ClusterReport, number: u64, body: String) -> Action {
    Action::Comment {
        cluster: c.id,
        number,
        body,
    }
}

fn fresh_state(c: &ClusterReport, window_end: DateTime<Utc>) -> TrackedState {
    let mut state = TrackedState {
        cluster: Some(c.id),
        ids: std::iter::once(c.id)
            .chain(c.aliases.iter().copied())
            .collect(),
        priority: c.priority,
        first_seen: c.first_seen,
        last_seen: c.last_seen,
        total: 0,
        windows: BTreeMap::new(),
        previous: None,
        related: Vec::new(),
    };
    state.merge_window(window_end, c.count);
    state
}

/// Whether a cluster gets an issue at all.
pub fn wanted(c: &ClusterReport, min: Priority) -> bool {
    c.priority <= min
}

#[cfg(test)]
pub(crate) mod tests;
