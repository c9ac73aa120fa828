//! What the GitHub sink did, in its own words: `<window-end>.github.json` (every action with
//! its full title and body, beside the worklog) written by this sink, and the short
//! [`GithubSummary`] it returns, which the driver hands to the worklog sink to record. This sink
//! never opens the worklog's files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::plan::Action;
use super::sync::SyncReport;
use crate::report::{GithubAction, GithubSummary};

/// The details file's name for the window ending at `end` (the worklog's stem, see
/// `sinks::worklog::stem`).
pub fn file_name(end: DateTime<Utc>) -> String {
    format!("{}.github.json", crate::sinks::worklog::stem(end))
}

/// Writes `<window-end>.github.json` into `dir`; returns its path.
pub fn write(dir: &Path, end: DateTime<Utc>, rep: &SyncReport) -> std::io::Result<PathBuf> {
    let path = dir.join(file_name(end));
    let mut json = crate::redact::InertJson::pretty(rep);
    json.push('\n');
    crate::atomic_file::write_readable(&path, json.as_bytes(), Default::default())?;
    Ok(path)
}

/// The summary the worklog records.
pub fn summary(rep: &SyncReport, details: &str) -> GithubSummary {
    GithubSummary {
        dry_run: rep.dry_run,
        repo: rep.repo.clone(),
        issues_known: rep.issues_known,
        actions: rep
            .sent
            .iter()
            .map(|s| GithubAction {
                kind: s.kind.clone(),
                cluster: cluster_id(s.action.problem()),
                issue: s.issue,
                title: title(&s.action).map(str::to_owned),
                comment: match &s.action {
                    Action::Comment { body, .. } => Some(first_line(body)),
                    _ => None,
                },
                body: match &s.action {
                    Action::Create { issue, .. } if rep.dry_run => Some(issue.body.clone()),
                    _ => None,
                },
                error: s.error.clone(),
            })
            .collect(),
        deferred: rep.deferred,
        stopped: rep.stopped.clone(),
        details: details.to_owned(),
    }
}

/// The worklog names a cluster id; a problem id that is not one (an incident's) shows as 0.
fn cluster_id(p: &super::problem::ProblemId) -> crate::fingerprint::ClusterId {
    crate::fingerprint::ClusterId(u64::from_str_radix(&p.0, 16).unwrap_or(0))
}

fn title(a: &Action) -> Option<&str> {
    match a {
        Action::Create { issue, .. } => Some(&issue.title),
        Action::Update { patch, .. } => patch.title.as_deref(),
        Action::Comment { .. } => None,
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    super::safe::truncate(line, 140).0
}
