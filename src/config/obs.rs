//! The `[metrics]` and `[alerts]` sections, validated: the metrics endpoint's address and
//! top-K, and the alert policy with its receivers.

use std::net::SocketAddr;

use chrono::TimeDelta;

use super::raw::{RawAlerts, RawMetrics};
use super::{at_most, dur_in, echoed, in_range, invalid, priority, ConfigError};
use crate::alerting::Policy;

/// Alertmanager receivers at most: each has its own task and queue, and every alert is
/// posted to each (an HA set is three or so).
pub const MAX_ALERTMANAGERS: usize = 16;

/// The Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub listen: SocketAddr,
    /// Clusters of the last window exported with their own `cluster` label.
    pub top_k: usize,
}

/// Alerting, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    pub policy: Policy,
    /// Alertmanager base URLs; every one gets every post (an HA set deduplicates).
    pub alertmanager_urls: Vec<String>,
    /// A Slack-compatible webhook, if any.
    pub webhook_url: Option<String>,
    /// Google Cloud project for the Cloud Logging link in alerts.
    pub logging_project: Option<String>,
    /// Posts waiting per receiver before the oldest is dropped.
    pub queue: usize,
}

impl AlertSettings {
    /// Whether any receiver is configured (otherwise the run wiring starts no alert stage).
    pub fn enabled(&self) -> bool {
        !self.alertmanager_urls.is_empty() || self.webhook_url.is_some()
    }
}

pub(super) fn metrics_settings(m: &RawMetrics) -> Result<MetricsSettings, ConfigError> {
    let listen = m.listen.parse().map_err(|_| {
        invalid(
            "metrics.listen",
            format!(
                "{:?} is not an address like 127.0.0.1:9464",
                echoed(&m.listen)
            ),
        )
    })?;
    Ok(MetricsSettings {
        listen,
        // Each exported cluster is a label value: keep the series count bounded.
        top_k: in_range("metrics.top_k", m.top_k, 1, 1000)?,
    })
}

/// An http(s) URL with a host. The value is not quoted back: a webhook URL is a secret, and
/// an Alertmanager URL may carry credentials.
pub(super) fn url(key: &str, u: &str) -> Result<String, ConfigError> {
    let ok = reqwest::Url::parse(u)
        .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
    if !ok || u.contains(char::is_whitespace) {
        let what = if u.is_empty() {
            "empty"
        } else {
            "not an http(s) URL with a host"
        };
        return Err(invalid(key, format!("{what} (the value is not shown)")));
    }
    Ok(u.to_owned())
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

pub(super) fn alert_settings(a: &RawAlerts) -> Result<AlertSettings, ConfigError> {
    let week = TimeDelta::days(7);
    let resolve_timeout = dur_in(
        "alerts.resolve_timeout",
        &a.resolve_timeout,
        TimeDelta::seconds(2),
        TimeDelta::days(1),
    )?;
    let policy = Policy {
        min_priority: priority("alerts.min_priority", &a.min_priority)?,
        repost_every: resolve_timeout / 2,
        hold_for: resolve_timeout,
        quiet_after: dur_in(
            "alerts.quiet_after",
            &a.quiet_after,
            TimeDelta::seconds(1),
            week,
        )?,
        flap_window: dur_in(
            "alerts.flap_window",
            &a.flap_window,
            TimeDelta::zero(),
            week,
        )?,
        rate_limit: dur_in("alerts.rate_limit", &a.rate_limit, TimeDelta::zero(), week)?,
    };
    at_most(
        "alerts.alertmanager_urls",
        a.alertmanager_urls.len(),
        MAX_ALERTMANAGERS,
        "URLs",
    )?;
    let alertmanager_urls = a
        .alertmanager_urls
        .iter()
        .enumerate()
        .map(|(i, u)| url(&format!("alerts.alertmanager_urls[{i}]"), u))
        .collect::<Result<_, _>>()?;
    Ok(AlertSettings {
        policy,
        alertmanager_urls,
        webhook_url: non_empty(&a.webhook_url)
            .map(|u| url("alerts.webhook_url", u))
            .transpose()?,
        logging_project: non_empty(&a.logging_project).map(str::to_owned),
        queue: in_range("alerts.queue", a.queue, 1, 100_000)?,
    })
}
