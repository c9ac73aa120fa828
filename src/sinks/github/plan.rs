//! What to do on GitHub for one tracked problem: a pure function of the issue we already have
//! for it (its stored state: the hidden lines of its body) and the problem's sightings in one
//! or more closed windows. Planning a window already merged into the stored state gives no
//! action at all, so replaying old windows, a replayed outbox or a restart never flips a title
//! or repeats a comment, and never opens a second issue.
//!
//! Per problem at most two requests: an optional comment first (it carries a hidden key, and
//! the executor posts it only if the issue has no comment with that key yet), then one create
//! or one update that also writes the new state. Issues closed as `duplicate` or `not_planned`
//! are left alone (except one we closed ourselves because every entry of it was retracted).
//!
//! A revision of a window replaces the window's row when it is a newer version, whatever its
//! count: a traceback's part counted as its own problem before the rest came is uncounted, and
//! the issue opened for the part is corrected — closed as not planned, pointing to the whole
//! traceback's issue, once nothing of it is left.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body;
use super::model::{IssueState, RelatedIssue, RemoteIssue, TrackedState};
use super::problem::{Problem, ProblemId};
use crate::config::GithubSettings;
use crate::escalate::Priority;
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
    /// With `state` closed: "completed" or "not_planned" (GitHub's `state_reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// One request to GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create {
        problem: ProblemId,
        issue: NewIssue,
    },
    /// Posted only if the issue has no comment carrying `key` yet (a timeout after GitHub
    /// took it, or a crash before the update, must not repeat it).
    Comment {
        problem: ProblemId,
        number: u64,
        key: String,
        body: String,
    },
    Update {
        problem: ProblemId,
        number: u64,
        patch: IssuePatch,
    },
}

impl Action {
    /// "create", "comment", "update", "reopen" or "close", for people.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Comment { .. } => "comment",
            Action::Update { patch, .. } if patch.state == Some(IssueState::Open) => "reopen",
            Action::Update { patch, .. } if patch.state == Some(IssueState::Closed) => "close",
            Action::Update { .. } => "update",
        }
    }

    pub fn problem(&self) -> &ProblemId {
        match self {
            Action::Create { problem, .. }
            | Action::Comment { problem, .. }
            | Action::Update { problem, .. } => problem,
        }
    }
}

/// What becomes of a problem whose issue is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recurrence {
    /// Open, or closed and the entries are not newer than the close: count.
    No,
    /// Closed as not planned or as a duplicate: a person decided; leave it alone.
    LeftAlone,
    Reopen,
    /// Closed as completed too long ago: a new issue links the old one.
    TooLate,
}

fn recurrence(
    i: &RemoteIssue,
    seen: &[Problem],
    latest: &Problem,
    g: &GithubSettings,
) -> Recurrence {
    if i.state == IssueState::Open {
        return Recurrence::No;
    }
    if matches!(i.state_reason.as_deref(), Some("not_planned" | "duplicate")) {
        // Closed by us because every entry was a traceback's part: entries of its own that
        // come later are a problem again; a stale version of a window merged is nothing new.
        match i.tracked().filter(TrackedState::all_retracted) {
            None => return Recurrence::LeftAlone,
            Some(s) if merged(s.clone(), seen) == s => return Recurrence::No,
            Some(_) => {}
        }
    }
    // Event time decides: entries from before the close (a replay of old logs) are no regression.
    match i.closed_at {
        Some(closed) if latest.last_seen > closed => {
            if latest.last_seen - closed <= g.reopen_within {
                Recurrence::Reopen
            } else {
                Recurrence::TooLate
            }
        }
        _ => Recurrence::No,
    }
}

/// Whether planning would open a new issue (the executor then looks for related ones).
pub fn needs_new_issue(
    existing: Option<&RemoteIssue>,
    seen: &[Problem],
    g: &GithubSettings,
) -> bool {
    let Some(latest) = latest_report(seen) else {
        // Only counts to correct: never a new issue.
        return false;
    };
    match existing {
        None => true,
        Some(i) => recurrence(i, seen, latest, g) == Recurrence::TooLate,
    }
}

/// The newest sighting that is a report of its own (not a bare count correction): newest
/// window, then newest revision of it.
fn latest_report(seen: &[Problem]) -> Option<&Problem> {
    seen.iter()
        .filter(|p| !p.is_bare())
        .max_by_key(|p| (p.window_end, p.revision))
}

/// The actions for a problem seen in `seen` (its sightings, oldest window first; at least
/// one), given the issue it already has, if any.
pub fn plan(
    existing: Option<&RemoteIssue>,
    seen: &[Problem],
    related: &[RelatedIssue],
    g: &GithubSettings,
) -> Vec<Action> {
    let Some(latest) = latest_report(seen) else {
        return correct(existing, seen, g);
    };
    // A window's first version and the revision that retracted all of it, planned together
    // (GitHub was away between them): nothing to file, or an issue to close.
    let known = existing.and_then(RemoteIssue::tracked);
    let start = known.unwrap_or_else(|| TrackedState::empty(latest.id.clone(), latest.priority));
    if merged(start, seen).all_retracted() {
        return correct(existing, seen, g);
    }
    let issue = match existing.map(|i| (i, recurrence(i, seen, latest, g))) {
        Some((_, Recurrence::LeftAlone)) => return Vec::new(),
        Some((i, Recurrence::No | Recurrence::Reopen)) => i,
        old => {
            let mut state = merged(
                TrackedState::empty(latest.id.clone(), latest.priority),
                seen,
            );
            state.previous = old.map(|(i, _)| i.number);
            state.related = related.to_vec();
            let issue = NewIssue {
                title: body::title(latest, state.priority),
                body: body::render(latest, &state, g),
                labels: body::labels(latest, state.priority, &g.label),
            };
            return vec![Action::Create {
                problem: latest.id.clone(),
                issue,
            }];
        }
    };
    update(issue, latest, seen, recurrence(issue, seen, latest, g), g)
}

/// `old` with every sighting merged (ids, windows, first and last seen).
fn merged(old: TrackedState, seen: &[Problem]) -> TrackedState {
    let mut state = old;
    for p in seen {
        if p.is_bare() {
            // Only the count is known: the row keeps its priority, the issue its times.
            state.correct_window(p.window_end, p.count, p.revision);
            continue;
        }
        state.ids.extend(p.ids().cloned());
        if state.merge_window(p.window_end, p.count, p.priority, p.revision) {
            if state.first_seen == DateTime::<Utc>::MIN_UTC || p.first_seen < state.first_seen {
                state.first_seen = p.first_seen;
            }
            state.last_seen = state.last_seen.max(p.last_seen);
        }
    }
    state
}

fn update(
    issue: &RemoteIssue,
    latest: &Problem,
    seen: &[Problem],
    rec: Recurrence,
    g: &GithubSettings,
) -> Vec<Action> {
    let old = issue
        .tracked()
        .unwrap_or_else(|| TrackedState::empty(latest.id.clone(), latest.priority));
    let mut state = merged(old.clone(), seen);
    // An issue opened for a symptom is headed by the root cause once an incident names the
    // issue's problem among its own: its marker, title and body follow the incident from then
    // on. (A member seen alone later changes the priority, not the headline.)
    let reheaded = latest.incident
        && old
            .id
            .as_ref()
            .is_some_and(|id| *id != latest.id && latest.aliases.contains(id));
    if reheaded {
        state.id = Some(latest.id.clone());
    }
    let quiet = issue.has_label(QUIET);
    let mut actions = Vec::new();
    let mut patch = IssuePatch::default();
    let mut labels = issue.label_names();
    if rec == Recurrence::Reopen {
        if !quiet {
            let closed = issue.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            actions.push(comment(
                latest,
                issue.number,
                format!("regression/{closed}"),
                format!(
                    "This came back after the issue was closed: {} entries in the window ending {}. Reopened and labelled `{REGRESSION}`.",
                    latest.count,
                    latest.window_end.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        patch.state = Some(IssueState::Open);
        labels.push(REGRESSION.to_owned());
    } else if reheaded && !quiet && issue.state == IssueState::Open {
        actions.push(comment(
            latest,
            issue.number,
            format!("root/{}", latest.id),
            format!(
                "Root cause found: **{}** ({} entries in the window ending {}). What this issue was opened for is one of its effects; the issue now follows the root cause.",
                body::title(latest, state.priority),
                latest.count,
                latest.window_end.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    } else if !quiet
        && issue.state == IssueState::Open
        && state.newest_window() != old.newest_window()
        && state.priority < old.priority
    {
        // Only a newer window can escalate; the key makes the comment once-only.
        let newest = state
            .newest_window()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        actions.push(comment(
            latest,
            issue.number,
            format!("escalation/{newest}/{}", state.priority),
            format!(
                "Priority escalated from {} to **{}**: {}",
                old.priority,
                state.priority,
                super::safe::inert(&latest.reason)
            ),
        ));
    }
    // Our label (a person may have removed it) and the priority label follow the problem; a
    // person's other labels stay.
    labels.retain(|l| !l.starts_with("priority:"));
    labels.push(format!("priority:{}", state.priority));
    labels.push(g.label.clone());
    let mut seen_labels = std::collections::BTreeSet::new();
    labels.retain(|l| seen_labels.insert(l.to_lowercase()));
    if sorted(&labels) != sorted(&issue.label_names()) {
        patch.labels = Some(labels);
    }
    if state.priority != old.priority || reheaded {
        // The issue stays headed by the problem it is for: a member of an incident seen alone
        // later changes the priority, not the headline.
        let own = state.id.as_ref().is_none_or(|id| *id == latest.id);
        patch.title = Some(match issue.title.split_once("] ") {
            Some((_, headline)) if !own => format!("[{}] {headline}", state.priority),
            _ => body::title(latest, state.priority),
        });
    }
    if state != old {
        let mut text = super::model::preamble(issue.body.as_deref().unwrap_or("")).to_owned();
        text.push_str(&body::render(latest, &state, g));
        patch.body = Some(text);
    }
    if patch != IssuePatch::default() {
        actions.push(Action::Update {
            problem: latest.id.clone(),
            number: issue.number,
            patch,
        });
    }
    actions
}

/// Sightings that only correct counts (see `Retraction::bare`), or that leave nothing counted:
/// the issue's counts follow, the rest of its text stays; an open issue every entry of which
/// was retracted is closed as not planned, with a comment saying where the whole traceback is
/// counted. Never opens an issue.
fn correct(existing: Option<&RemoteIssue>, seen: &[Problem], g: &GithubSettings) -> Vec<Action> {
    let Some((issue, old)) = existing.and_then(|i| Some((i, i.tracked()?))) else {
        return Vec::new();
    };
    let Some(latest) = seen.iter().max_by_key(|p| (p.window_end, p.revision)) else {
        return Vec::new();
    };
    if matches!(
        issue.state_reason.as_deref(),
        Some("not_planned" | "duplicate")
    ) && !old.all_retracted()
    {
        return Vec::new();
    }
    let state = merged(old.clone(), seen);
    if state == old {
        return Vec::new();
    }
    let body = issue.body.as_deref().unwrap_or("");
    let mut patch = IssuePatch {
        body: Some(body::recount(body, &state, g)),
        ..IssuePatch::default()
    };
    let mut actions = Vec::new();
    if state.all_retracted() && issue.state == IssueState::Open {
        if !issue.has_label(QUIET) {
            actions.push(comment(
                latest,
                issue.number,
                format!("retracted/{}", latest.window_end.to_rfc3339()),
                retracted_text(seen, issue.number),
            ));
        }
        patch.state = Some(IssueState::Closed);
        patch.state_reason = Some("not_planned".to_owned());
    }
    actions.push(Action::Update {
        problem: latest.id.clone(),
        number: issue.number,
        patch,
    });
    actions
}

/// Why an issue whose every entry was retracted is closed, and where to look instead.
fn retracted_text(seen: &[Problem], own: u64) -> String {
    let into = seen.iter().rev().filter_map(|p| p.retraction.as_ref());
    let whole = match into
        .clone()
        .find_map(|r| r.into_issue.filter(|n| *n != own))
    {
        Some(n) => format!("in #{n}"),
        None => match into.clone().find_map(|r| r.into.clone()) {
            Some(id) => format!("in the problem `{id}`"),
            None => "as the whole traceback".to_owned(),
        },
    };
    format!(
        "Every entry counted here was part of a longer traceback: its lines came as one log entry each, and the rest of them came later (after a restart, or late), so this part was counted on its own first. It is now counted whole, {whole}. Closed as not planned; its counts here are corrected to 0."
    )
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_lowercase()).collect();
    v.sort();
    v.dedup();
    v
}

fn comment(p: &Problem, number: u64, key: String, text: String) -> Action {
    let body = format!("{}{text}", comment_marker(&key));
    Action::Comment {
        problem: p.id.clone(),
        number,
        key,
        body,
    }
}

/// The hidden first line of a comment: how the executor tells it was posted already.
pub fn comment_marker(key: &str) -> String {
    format!("<!-- log-gardener:comment={key} -->\n")
}

/// Whether a cluster gets an issue at all.
pub fn wanted(c: &ClusterReport, min: Priority) -> bool {
    c.priority <= min
}

#[cfg(test)]
pub(crate) mod tests;
