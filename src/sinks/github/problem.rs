//! The planner's unit: a *tracked problem* as one window saw it. Today a problem is a cluster
//! of the window report ([`Problem::from_cluster`]); tomorrow an incident (a root-cause cluster
//! and the clusters that co-occur with it) maps to the same struct, and nothing downstream
//! changes: the planner, the issue body and the hidden marker only know problems.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Severity;
use crate::escalate::Priority;
use crate::report::ClusterReport;

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
        }
    }

    /// The id and every alias.
    pub fn ids(&self) -> impl Iterator<Item = &ProblemId> {
        std::iter::once(&self.id).chain(&self.aliases)
    }
}
