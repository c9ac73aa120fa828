//! The label sets of the metrics (all bounded) and the outcome enums callers pass in; and the
//! zero series every bounded family starts with.

use prometheus_client::encoding::EncodeLabelSet;

use super::Metrics;
use crate::entry::Severity;
use crate::escalate::Priority;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SeverityLabel {
    pub(super) severity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub(super) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PriorityLabel {
    pub(super) priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EventLabels {
    pub(super) kind: &'static str,
    pub(super) priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ClusterLabels {
    pub(super) cluster: String,
    pub(super) priority: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabel {
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct DeliveryLabels {
    pub(super) receiver: &'static str,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReceiverLabel {
    pub(super) receiver: &'static str,
}

/// How a GitHub API request ended (label `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GithubOutcome {
    Ok,
    RateLimited,
    Retryable,
    Permanent,
}

impl GithubOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            GithubOutcome::Ok => "ok",
            GithubOutcome::RateLimited => "rate_limited",
            GithubOutcome::Retryable => "retryable",
            GithubOutcome::Permanent => "permanent",
        }
    }
}

/// How one alert delivery attempt ended (label `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver accepted the post.
    Delivered,
    /// A retryable failure; the post is tried again after a backoff.
    Retried,
    /// Given up: a permanent error or too many attempts.
    Failed,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

impl Metrics {
    /// Creates every series of the bounded families at zero, so `rate()` and `increase()`
    /// see the first event and dashboards show zeros instead of "no data".
    pub(super) fn zero_bounded_series(&self) {
        for kind in ["new_cluster", "escalation"] {
            for p in Priority::ALL {
                let priority = p.as_str();
                let _ = self.events.get_or_create(&EventLabels { kind, priority });
            }
        }
        for p in Priority::ALL {
            let priority = p.as_str();
            let _ = self
                .alerts_active
                .get_or_create(&PriorityLabel { priority });
            let _ = self
                .window
                .by_priority
                .get_or_create(&PriorityLabel { priority });
        }
        for s in Severity::ALL {
            let severity = s.as_str();
            let _ = self
                .window
                .by_severity
                .get_or_create(&SeverityLabel { severity });
        }
        for o in [
            GithubOutcome::Ok,
            GithubOutcome::RateLimited,
            GithubOutcome::Retryable,
            GithubOutcome::Permanent,
        ] {
            let _ = self.github_requests.get_or_create(&OutcomeLabel {
                outcome: o.as_str(),
            });
        }
        for receiver in ["alertmanager", "webhook"] {
            for o in [
                DeliveryOutcome::Delivered,
                DeliveryOutcome::Retried,
                DeliveryOutcome::Failed,
            ] {
                let outcome = o.as_str();
                let _ = self
                    .alert_deliveries
                    .get_or_create(&DeliveryLabels { receiver, outcome });
            }
            let _ = self
                .alert_dropped
                .get_or_create(&ReceiverLabel { receiver });
        }
        let _ = self
            .alert_dropped
            .get_or_create(&ReceiverLabel { receiver: "events" });
    }
}
