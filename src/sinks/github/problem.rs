//! The planner's unit: a *tracked problem* as one window saw it. Today a problem is a cluster
//! of the window report ([`Problem::from_cluster`]); tomorrow an incident (a root-cause cluster
//! and the clusters that co-occur with it) maps to the same struct, and nothing downstream
//! changes: the planner, the issue body and the hidden marker only know problems.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Severity;
use crate::escalate::Priority;
use crate::incident::{specificity, Specificity};
use crate::report::{ClusterReport, IncidentReport, WindowReport};

/// A problem's identity: a cluster id today (16 hex digits, as in the old markers), an
/// incident id tomorrow. Plain text so either fits; compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProblemId(pub String);

impl std::fmt::Display for ProblemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::fingerprint::ClusterId> for ProblemId {
    fn from(c: crate::fingerprint::ClusterId) -> ProblemId {
        ProblemId(c.to_string())
    }
}

impl ProblemId {
    /// Whether the id can sit in a marker line: no spaces, commas or comment ends.
    pub fn is_markable(&self) -> bool {
        !self.0.is_empty()
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    }
}

/// One problem in one closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub id: ProblemId,
    /// Every other id that names the same problem (merged clusters; for an incident, its
    /// member clusters and former incident ids). Any of them finds the issue.
    pub aliases: BTreeSet<ProblemId>,
    /// The end of the window this sighting is from.
    pub window_end: DateTime<Utc>,
    /// Entries in that window.
    pub count: u64,
    pub priority: Priority,
    /// Which rule or threshold gave the priority.
    pub reason: String,
    pub rule: Option<String>,
    pub severity: Severity,
    pub service: String,
    /// The message with variables as `<*>` (the title comes from it).
    pub template: String,
    pub modules: Vec<String>,
    pub functions: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// A real entry (redacted when the report was built, and again before it is rendered).
    pub sample: Option<serde_json::Value>,
    /// An incident headed by its root cause (a cluster otherwise): its aliases are the
    /// problems it turned out to cause or accompany.
    #[serde(default)]
    pub incident: bool,
    /// The version of the window's report this sighting is from: 0 for the one written at
    /// the window's close, n for its n-th revision. A newer version replaces an older one.
    #[serde(default)]
    pub revision: u32,
    /// Set when entries of this problem in the window were uncounted (see [`Retraction`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retraction: Option<Retraction>,
}

/// Entries of a problem in a window were uncounted: each was a part of a traceback (split one
/// line per entry) counted before the rest of it came, and is now counted whole, in the
/// problem `into`. The window's revision carries the count left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retraction {
    /// The problem the whole traceback was counted in, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<ProblemId>,
    /// The issue of `into`: looked up by the executor just before planning, never stored.
    #[serde(skip)]
    pub into_issue: Option<u64>,
    /// No report of the problem came with it (nothing of it is left in the window, or it is
    /// below the issue threshold now): only the count is known, so the issue's text stays and
    /// only its counts change, and no issue is ever opened for it.
    #[serde(default)]
    pub bare: bool,
}

impl Problem {
    /// The cluster `c` of the window ending at `window_end`.
    pub fn from_cluster(c: &ClusterReport, window_end: DateTime<Utc>) -> Problem {
        Problem {
            id: c.id.into(),
            aliases: c.aliases.iter().map(|a| ProblemId::from(*a)).collect(),
            window_end,
            count: c.count,
            priority: c.priority,
            reason: c.reason.clone(),
            rule: c.rule.clone(),
            severity: c.severity,
            service: c.service.clone(),
            template: c.template.clone(),
            modules: c.modules.clone(),
            functions: c.functions.clone(),
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            sample: c.sample.clone(),
            incident: false,
            revision: 0,
            retraction: None,
        }
    }

    /// Cluster `id` of version `revision` of the window ending at `window_end`, of which only
    /// its count is known: it lost entries to a longer traceback counted in `into`.
    pub fn retracted(
        id: ProblemId,
        window_end: DateTime<Utc>,
        count: u64,
        revision: u32,
        into: Option<ProblemId>,
    ) -> Problem {
        Problem {
            id,
            aliases: BTreeSet::new(),
            window_end,
            count,
            priority: Priority::P5,
            reason: String::new(),
            rule: None,
            severity: Severity::Error,
            service: String::new(),
            template: String::new(),
            modules: Vec::new(),
            functions: Vec::new(),
            first_seen: window_end,
            last_seen: window_end,
            sample: None,
            incident: false,
            revision,
            retraction: Some(Retraction {
                into,
                into_issue: None,
                bare: true,
            }),
        }
    }

    /// A sighting that only corrects a count (see [`Retraction::bare`]).
    pub fn is_bare(&self) -> bool {
        self.retraction.as_ref().is_some_and(|r| r.bare)
    }

    /// Incident `i` of report `r`: headed by its root cause (title, sample, location), with its
    /// priority and count. Its aliases are its former ids and its cause-bearing members (and
    /// their aliases), so the issue a member had before it joined is the incident's issue; a
    /// consequence (a container exit follows many problems) is never an alias.
    pub fn from_incident(i: &IncidentReport, r: &WindowReport) -> Problem {
        let root = r.clusters.iter().find(|c| c.id == i.root);
        let mut aliases: BTreeSet<ProblemId> = i.aliases.iter().map(|a| (*a).into()).collect();
        for m in &i.members {
            if specificity(&m.template) == Specificity::Consequence {
                continue;
            }
            aliases.insert(m.cluster.into());
            let member = r.clusters.iter().find(|c| c.id == m.cluster);
            aliases.extend(
                member
                    .into_iter()
                    .flat_map(|c| c.aliases.iter().map(|a| (*a).into())),
            );
        }
        let severity = i
            .members
            .iter()
            .filter_map(|m| r.clusters.iter().find(|c| c.id == m.cluster))
            .map(|c| c.severity)
            .max()
            .unwrap_or(Severity::Error);
        Problem {
            id: i.id.into(),
            aliases,
            window_end: r.window.end,
            count: i.count,
            priority: i.priority,
            reason: i.reason.clone(),
            rule: root.and_then(|c| c.rule.clone()),
            severity,
            service: i.services.join(", "),
            template: root.map_or_else(|| i.title.clone(), |c| c.template.clone()),
            modules: root.map(|c| c.modules.clone()).unwrap_or_default(),
            functions: root.map(|c| c.functions.clone()).unwrap_or_default(),
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            sample: root.and_then(|c| c.sample.clone()),
            incident: true,
            revision: 0,
            retraction: None,
        }
    }

    /// The id and every alias.
    pub fn ids(&self) -> impl Iterator<Item = &ProblemId> {
        std::iter::once(&self.id).chain(&self.aliases)
    }
}
