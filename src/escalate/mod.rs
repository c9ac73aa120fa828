//! Priorities P0..P5 for clusters: rules from the config file, then thresholds on the count in
//! the window and on spikes against the cluster's previous windows. Pure policy: the same
//! evidence gives the same priority, and the reason says which rule or threshold decided.

pub(crate) mod matching;
mod priority;
mod rules;

pub use priority::Priority;
pub use rules::{
    logger_of, CountTier, Escalation, Evidence, Rule, RuleAction, RuleMatch, Spike,
    UNSTATED_CEILING,
};

/// A priority and why it was given, as the worklog and the issues show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    pub priority: Priority,
    /// e.g. "rule `cloud-sql-timeout`" or "severity ERROR" then "; raised by …".
    pub reason: String,
    /// Name of the rule that matched, if any.
    pub rule: Option<String>,
}
