//! The window report: what the worklog (markdown and JSON) and later the GitHub issues say
//! about one closed window. Built by a pure function from the store's closed window, the
//! fingerprinter's current clusters and the escalation policy.
//!
//! The JSON form is a stable, documented schema (`log-gardener/window-report/v1`, see
//! README "Worklog JSON schema"); fields are only ever added.

mod build;

pub use build::{build_report, plan, readable, trends, Malformed, ReportPolicy};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Severity;
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::window::WindowSpan;

pub const SCHEMA: &str = "log-gardener/window-report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    pub schema: String,
    pub window: WindowSpan,
    /// First and last entry inside the window: a window only partly covered by the input says so.
    pub coverage: Option<Coverage>,
    pub services: Vec<String>,
    pub totals: Totals,
    /// The clusters of `totals.late`, most entries first: entries that came after every
    /// window of theirs had closed beyond revision. Absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late_clusters: Vec<LateCluster>,
    /// Input that was not a LogEntry, since the previous report.
    pub malformed: MalformedSummary,
    /// Entries counted although an optional field was unusable (read as DEFAULT or as
    /// text), by reason, since the previous report. Absent when there were none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_warnings: BTreeMap<String, u64>,
    /// Problems that are one incident: a root cause and the clusters that come with it, by
    /// priority. Their clusters are in `clusters` too.
    #[serde(default)]
    pub incidents: Vec<IncidentReport>,
    /// By priority (P0 first), then count (largest first), then id.
    pub clusters: Vec<ClusterReport>,
    pub actions: Vec<Action>,
    /// Windows just before this one without a single entry: not written, said here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_before: Option<Silence>,
    /// What the GitHub sink did at this window's close, once it has (`github.repo` set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubSummary>,
    /// Present when this report replaces an earlier one of the same window: entries came
    /// after the window closed (within `window.revise_within`) and are counted in it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<RevisionReport>,
}

/// Which version of a window's report this is, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionReport {
    /// 1 for the first revision (the report written at the close is version 0).
    pub number: u32,
    /// Entries the previous version reported; `totals.entries` is the count now.
    pub entries_before: u64,
    /// Clusters that lost entries since the previous version: a traceback's part, counted as
    /// its own record before the rest of the traceback came, uncounted and counted whole in
    /// its own cluster. Absent when nothing was retracted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retracted: Vec<RetractedCluster>,
}

/// A cluster whose entries in a window were retracted (see [`RevisionReport::retracted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetractedCluster {
    pub cluster: ClusterId,
    /// Its entries in the window now (0 when every one was a part of a longer traceback).
    pub count: u64,
    /// Nothing of it is left in any window held: what was raised for it (an alert) was
    /// raised for nothing.
    #[serde(default)]
    pub gone: bool,
    /// The cluster the whole traceback was counted in, when it was counted by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<ClusterId>,
}

impl WindowReport {
    /// The clusters that belong to an incident (the rest stand alone as problems or noise).
    pub fn in_incidents(&self) -> BTreeSet<ClusterId> {
        self.incidents
            .iter()
            .flat_map(|i| i.members.iter().map(|m| m.cluster))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub first_entry: DateTime<Utc>,
    pub last_entry: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub entries: u64,
    pub clusters: u64,
    pub new_clusters: u64,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_priority: BTreeMap<Priority, u64>,
    /// Entries that arrived after a window of theirs had closed, since the previous report.
    pub late: u64,
    /// Entries not counted since the previous report because one with the same log, event
    /// time and insertId was (Cloud Logging's own rule for duplicates): overlapping exports
    /// read together, an entry published twice.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Late entries of one cluster (see [`WindowReport::late_clusters`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateCluster {
    pub cluster: ClusterId,
    pub template: String,
    pub entries: u64,
    /// The event time of the earliest: the window it belonged to.
    pub earliest: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedSummary {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
    /// The first few, with where they were (`file:line`, message id).
    pub examples: Vec<MalformedExample>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedExample {
    pub location: String,
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    pub id: ClusterId,
    /// Other ids that resolve to this cluster and had entries in the window.
    pub aliases: Vec<ClusterId>,
    pub priority: Priority,
    /// Which rule or threshold gave the priority.
    pub reason: String,
    pub rule: Option<String>,
    pub count: u64,
    /// The most severe entry's severity.
    pub severity: Severity,
    pub by_severity: BTreeMap<Severity, u64>,
    pub service: String,
    /// The message with variables as `<*>`: the issue title.
    pub template: String,
    pub modules: Vec<String>,
    pub functions: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// No earlier window had this cluster.
    pub new: bool,
    /// Mean count over the cluster's previous windows.
    pub baseline: Option<f64>,
    /// A real entry of the cluster (the earliest in the window), redacted.
    pub sample: Option<serde_json::Value>,
}

/// One incident of a window: its root cause heads it, the clusters that came with it are
/// listed under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentReport {
    /// Stable while members join and leave; `aliases` are incidents folded into it.
    pub id: ClusterId,
    pub aliases: Vec<ClusterId>,
    pub priority: Priority,
    /// Why it has its priority.
    pub reason: String,
    /// The process exited again and again after the root cause.
    pub crash_loop: bool,
    /// The root cause's cluster.
    pub root: ClusterId,
    /// The root cause's template, readable: the headline.
    pub title: String,
    /// Entries of all members in the window.
    pub count: u64,
    pub members: Vec<IncidentMember>,
    pub services: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Entries per bucket (minute) of the window, all members together, and as a sparkline.
    pub per_minute: Vec<u64>,
    pub trend: String,
    /// Distinct instances (else revisions or pods) with entries of the incident.
    pub instances: u64,
}

/// A cluster of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMember {
    pub cluster: ClusterId,
    pub priority: Priority,
    pub count: u64,
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub priority: Priority,
    pub cluster: ClusterId,
    pub title: String,
    pub action: String,
}

/// A stretch of windows in which the input had no entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Windows in the stretch.
    pub windows: u64,
}

/// What the GitHub sink did at a window's close (or, in a dry run, would do). The sink returns
/// it and the driver hands it to the worklog, which records it: no sink touches another's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubSummary {
    /// Nothing left the machine: no token.
    pub dry_run: bool,
    /// `owner/name`.
    pub repo: String,
    /// Our issues known to the sink.
    pub issues_known: usize,
    pub actions: Vec<GithubAction>,
    /// Clusters left in the outbox for the next window.
    pub deferred: usize,
    /// Why the sync stopped early, if it did.
    pub stopped: Option<String>,
    /// The file (beside the worklog) holding the full requests, bodies included.
    #[serde(default)]
    pub details: String,
}

/// One action of a [`GithubSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubAction {
    /// `create`, `update`, `comment`, `reopen`…
    pub kind: String,
    pub cluster: ClusterId,
    /// The issue it created or changed (in a dry run: the in-memory repository's number).
    pub issue: Option<u64>,
    /// The issue title it set, if it set one.
    pub title: Option<String>,
    /// A comment's first line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A dry run's planned issue body (shown in the markdown; the full request is in the
    /// details file).
    #[serde(skip)]
    pub body: Option<String>,
    /// Why GitHub refused it.
    pub error: Option<String>,
}
