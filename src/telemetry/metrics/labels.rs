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
    pub(super) receiver: String,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReceiverLabel {
    pub(super) receiver: String,
}

/// Every `reason` an input can be counted as malformed under (`EntryError::reason`), so the
/// malformed counter exists at zero from the start; a test keeps it complete.
pub const MALFORMED_REASONS: [&str; 6] = [
    "not_json",
    "not_log_entry",
    "no_time",
    "no_payload",
    "bad_timestamp",
    "too_large",
];

const DELIVERY_OUTCOMES: [DeliveryOutcome; 3] = [
    DeliveryOutcome::Delivered,
    DeliveryOutcome::Retried,
    DeliveryOutcome::Failed,
];

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
        for reason in MALFORMED_REASONS {
            let _ = self.malformed.get_or_create(&ReasonLabel { reason });
        }
        for (_, reason) in crate::entry::FieldWarnings::ALL {
            let _ = self.field_warnings.get_or_create(&ReasonLabel { reason });
        }
        self.zero_receivers(&[]);
    }

    /// Creates the delivery series of each configured receiver at zero (and of the `events`
    /// queue), so a receiver that never answers shows `0 delivered` from the first scrape.
    pub fn zero_receivers(&self, receivers: &[String]) {
        for receiver in receivers {
            for o in DELIVERY_OUTCOMES {
                let _ = self.alert_deliveries.get_or_create(&DeliveryLabels {
                    receiver: receiver.clone(),
                    outcome: o.as_str(),
                });
            }
            let _ = self.alert_dropped.get_or_create(&ReceiverLabel {
                receiver: receiver.clone(),
            });
        }
        let _ = self.alert_dropped.get_or_create(&ReceiverLabel {
            receiver: "events".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::MALFORMED_REASONS;
    use crate::entry::EntryError;

    #[test]
    fn every_malformed_reason_is_initialised() {
        let all = [
            EntryError::NotJson {
                detail: String::new(),
            },
            EntryError::NotLogEntry {
                detail: String::new(),
            },
            EntryError::NoTime,
            EntryError::NoPayload,
            EntryError::BadTimestamp {
                value: String::new(),
            },
            EntryError::TooLarge { len: 0, max: 0 },
        ];
        for e in all {
            assert!(MALFORMED_REASONS.contains(&e.reason()), "{}", e.reason());
        }
    }
}
