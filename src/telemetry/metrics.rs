//! Prometheus metrics: one registry (`prometheus-client`) holding every metric the gardener
//! exports, the hooks `telemetry::events` and the sinks call, and `record_window`, which turns the
//! last closed window into gauges. `server` serves it on `/metrics` with `/healthz` and `/readyz`.
//!
//! Names follow `log_gardener_<noun>_<unit|total>` (counters get their `_total` from the client
//! library). Labels are bounded: severity, priority, reason, outcome, receiver; the only
//! cluster-valued label is the top-K set of the last window with an `other` bucket.
//!
//! The process-wide instance is installed once by the run wiring ([`install`]); until then the
//! hooks only log, so a replay or a test without metrics pays one atomic load per event.

mod labels;
pub mod server;
mod window;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::entry::Severity;
use crate::escalate::Priority;

use labels::{
    ClusterLabels, DeliveryLabels, EventLabels, OutcomeLabel, PriorityLabel, ReasonLabel,
    ReceiverLabel, SeverityLabel,
};
pub use labels::{DeliveryOutcome, GithubOutcome};
pub use server::{serve, Readiness, ServeError};

/// Top-K clusters exported per window when the configuration does not say.
pub const DEFAULT_TOP_K: usize = 20;

/// Window gauges: the last closed window, replaced as a whole by each `record_window`.
struct WindowGauges {
    entries: Gauge,
    by_priority: Family<PriorityLabel, Gauge>,
    by_severity: Family<SeverityLabel, Gauge>,
    clusters: Family<ClusterLabels, Gauge>,
    new_clusters: Gauge,
    malformed: Gauge,
    late: Gauge,
    end: Gauge,
    /// The top-K label sets exported now, so the next window can remove the stale ones.
    exported: Mutex<Vec<ClusterLabels>>,
}

/// Every metric of the process. Cheap to share (`Arc`); all hooks take `&self`.
pub struct Metrics {
    registry: Registry,
    top_k: usize,
    received: Counter,
    /// Indexed by `Severity as usize`: resolved once so the hot path never hashes a label.
    parsed: [Counter; 9],
    malformed: Family<ReasonLabel, Counter>,
    field_warnings: Family<ReasonLabel, Counter>,
    late: Counter,
    duplicates: Counter,
    incident_links_forgotten: Counter,
    new_clusters: Counter,
    clusters_active: Gauge,
    windows_closed: Counter,
    windows_revised: Counter,
    events: Family<EventLabels, Counter>,
    window: WindowGauges,
    window_close: Histogram,
    event_lag: Histogram,
    ack_latency: Histogram,
    delivery_age: Histogram,
    github_requests: Family<OutcomeLabel, Counter>,
    redeliveries: Counter,
    relayed: Family<OutcomeLabel, Counter>,
    relay_backlog: Gauge,
    escalations: Counter,
    checkpoints: Family<OutcomeLabel, Counter>,
    alert_deliveries: Family<DeliveryLabels, Counter>,
    alert_dropped: Family<ReceiverLabel, Counter>,
    alerts_active: Family<PriorityLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("top_k", &self.top_k)
            .finish()
    }
}

fn seconds_histogram(start: f64, len: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, 2.0, len))
}

impl Metrics {
    /// A registry with every metric registered; `top_k` clusters of each window get their own
    /// series, the rest are summed as `cluster="other"`.
    pub fn new(top_k: usize) -> Metrics {
        let mut r = Registry::default();
        let received = Counter::default();
        r.register(
            "log_gardener_entries_received",
            "Raw entries taken from the source, before parsing",
            received.clone(),
        );
        let parsed_family = Family::<SeverityLabel, Counter>::default();
        r.register(
            "log_gardener_entries_parsed",
            "Entries parsed and counted in a window, by severity (a stitched traceback counts once)",
            parsed_family.clone(),
        );
        let parsed = Severity::ALL.map(|s| {
            parsed_family
                .get_or_create(&SeverityLabel {
                    severity: s.as_str(),
                })
                .clone()
        });
        let malformed = Family::default();
        r.register(
            "log_gardener_entries_malformed",
            "Input that is not a LogEntry, by reason; reported in the next worklog and skipped",
            Family::clone(&malformed),
        );
        let field_warnings = Family::default();
        r.register(
            "log_gardener_entries_field_warnings",
            "Entries counted with an optional field read leniently (unknown severity as DEFAULT, a mistyped textPayload as text), by reason",
            Family::clone(&field_warnings),
        );
        let late = Counter::default();
        r.register(
            "log_gardener_entries_late",
            "Entries that arrived after their window had closed (counted in a revision of it while it is within window.revise_within)",
            late.clone(),
        );
        let duplicates = Counter::default();
        r.register(
            "log_gardener_entries_duplicate",
            "Entries not counted because one alike in logName, timestamp and insertId was (Cloud Logging's rule for duplicates)",
            duplicates.clone(),
        );
        let incident_links_forgotten = Counter::default();
        r.register(
            "log_gardener_incident_links_forgotten",
            "Co-occurrence slots the incident tracker forgot while their windows were open (its memory bound): those windows' incidents may miss links",
            incident_links_forgotten.clone(),
        );
        let new_clusters = Counter::default();
        r.register(
            "log_gardener_clusters_new",
            "Clusters seen for the first time by this process",
            new_clusters.clone(),
        );
        let clusters_active = Gauge::default();
        r.register(
            "log_gardener_clusters_active",
            "Clusters with entries in the last closed window",
            clusters_active.clone(),
        );
        let windows_closed = Counter::default();
        r.register(
            "log_gardener_windows_closed",
            "Windows closed and reported",
            windows_closed.clone(),
        );
        let windows_revised = Counter::default();
        r.register(
            "log_gardener_windows_revised",
            "Closed windows re-emitted because late entries changed their counts",
            windows_revised.clone(),
        );
        let events = Family::default();
        r.register(
            "log_gardener_events",
            "Alertable events (new cluster, escalation) by kind and priority, before alert filtering",
            Family::clone(&events),
        );
        let window = WindowGauges::register(&mut r);
        let window_close = seconds_histogram(0.001, 14);
        r.register(
            "log_gardener_window_close_duration_seconds",
            "Time to close a window and build its report",
            window_close.clone(),
        );
        let event_lag = seconds_histogram(0.25, 14);
        r.register(
            "log_gardener_event_lag_seconds",
            "Arrival time minus event time of entries read live",
            event_lag.clone(),
        );
        let ack_latency = seconds_histogram(0.005, 14);
        r.register(
            "log_gardener_pubsub_ack_latency_seconds",
            "Time from receiving a Pub/Sub message to acknowledging it",
            ack_latency.clone(),
        );
        let delivery_age = seconds_histogram(0.25, 14);
        r.register(
            "log_gardener_pubsub_delivery_age_seconds",
            "Time from a Pub/Sub message's publication to its delivery here (backlog age)",
            delivery_age.clone(),
        );
        let github_requests = Family::default();
        r.register(
            "log_gardener_github_requests",
            "GitHub API requests by outcome",
            Family::clone(&github_requests),
        );
        let redeliveries = Counter::default();
        r.register(
            "log_gardener_pubsub_redeliveries",
            "Pub/Sub redeliveries of messages already counted (acked, not counted again)",
            redeliveries.clone(),
        );
        let relayed = Family::default();
        r.register(
            "log_gardener_relayed",
            "Pub/Sub messages this replica relayed into Redis (state.redis_url), by outcome: added, or duplicate (relayed before, by any replica)",
            Family::clone(&relayed),
        );
        let relay_backlog = Gauge::default();
        r.register(
            "log_gardener_relay_backlog",
            "Entries in the Redis relay stream (relayed, not yet in a durable checkpoint), as this replica last relayed",
            relay_backlog.clone(),
        );
        let escalations = Counter::default();
        r.register(
            "log_gardener_escalations",
            "Count-tier crossings of a cluster's entries in the trailing hour (live mode)",
            escalations.clone(),
        );
        let checkpoints = Family::default();
        r.register(
            "log_gardener_checkpoints",
            "Checkpoints of the live state by outcome (written: its messages were acked)",
            Family::clone(&checkpoints),
        );
        let alert_deliveries = Family::default();
        r.register(
            "log_gardener_alert_deliveries",
            "Alert delivery attempts by receiver (alertmanager, webhook) and outcome",
            Family::clone(&alert_deliveries),
        );
        let alert_dropped = Family::default();
        r.register(
            "log_gardener_alert_queue_dropped",
            "Alert posts dropped because a receiver's queue was full (the oldest goes)",
            Family::clone(&alert_dropped),
        );
        let alerts_active = Family::default();
        r.register(
            "log_gardener_alerts_active",
            "Alerts currently firing, by priority",
            Family::clone(&alerts_active),
        );
        let m = Metrics {
            registry: r,
            top_k,
            received,
            parsed,
            malformed,
            field_warnings,
            late,
            duplicates,
            incident_links_forgotten,
            new_clusters,
            clusters_active,
            windows_closed,
            windows_revised,
            events,
            window,
            window_close,
            event_lag,
            ack_latency,
            delivery_age,
            github_requests,
            redeliveries,
            relayed,
            relay_backlog,
            escalations,
            checkpoints,
            alert_deliveries,
            alert_dropped,
            alerts_active,
        };
        m.zero_bounded_series();
        m
    }

    /// The text exposition format (OpenMetrics text, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error here would be a bug in the encoder.
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }

    /// Hot path: one raw entry taken from the source.
    #[inline]
    pub fn entry_received(&self) {
        self.received.inc();
    }

    /// Hot path: one entry parsed and counted.
    #[inline]
    pub fn entry_parsed(&self, severity: Severity) {
        self.parsed[severity as usize].inc();
    }

    pub fn entry_malformed(&self, reason: &'static str) {
        self.malformed.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn field_warning(&self, reason: &'static str) {
        self.field_warnings
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn entry_late(&self) {
        self.late.inc();
    }

    pub fn entry_duplicate(&self) {
        self.duplicates.inc();
    }

    pub fn incident_links_forgotten(&self, slots: u64) {
        self.incident_links_forgotten.inc_by(slots);
    }

    pub fn cluster_new(&self) {
        self.new_clusters.inc();
    }

    /// An alertable event, `kind` being `new_cluster` or `escalation`.
    pub fn event(&self, kind: &'static str, priority: Priority) {
        self.events
            .get_or_create(&EventLabels {
                kind,
                priority: priority.as_str(),
            })
            .inc();
    }

    pub fn window_revised(&self) {
        self.windows_revised.inc();
    }

    pub fn window_closed(&self, took: Duration) {
        self.windows_closed.inc();
        self.window_close.observe(took.as_secs_f64());
    }

    /// Live mode: how far behind the entry's own timestamp it arrived (negative lags, from
    /// clock skew, count as zero).
    pub fn observe_event_lag(&self, event_time: DateTime<Utc>, now: DateTime<Utc>) {
        let lag = (now - event_time).num_milliseconds().max(0) as f64 / 1000.0;
        self.event_lag.observe(lag);
    }

    /// Live mode: how long a Pub/Sub message waited between its publication and its delivery
    /// here (the age of the subscription's backlog as it drains; clock skew counts as zero).
    pub fn observe_delivery_age(&self, published: DateTime<Utc>, now: DateTime<Utc>) {
        let age = (now - published).num_milliseconds().max(0) as f64 / 1000.0;
        self.delivery_age.observe(age);
    }

    /// Live mode: one Pub/Sub message's receive-to-ack time.
    pub fn observe_ack_latency(&self, took: Duration) {
        self.ack_latency.observe(took.as_secs_f64());
    }

    pub fn github_request(&self, outcome: GithubOutcome) {
        self.github_requests
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A relay script's result: messages `added` to the relay stream, `duplicate`s not.
    pub fn relayed(&self, added: u64, duplicates: u64) {
        for (outcome, n) in [("added", added), ("duplicate", duplicates)] {
            self.relayed
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(n);
        }
    }

    /// Entries in the relay stream after this replica's last relay script.
    pub fn set_relay_backlog(&self, entries: u64) {
        self.relay_backlog
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    pub fn redelivery(&self) {
        self.redeliveries.inc();
    }

    pub fn escalation(&self) {
        self.escalations.inc();
    }

    /// A live-state checkpoint: `written` or `failed`.
    pub fn checkpoint(&self, written: bool) {
        let outcome = if written { "written" } else { "failed" };
        self.checkpoints
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// `receiver` names one configured URL (`alertmanager@HOST:PORT`, `webhook@HOST`).
    pub fn alert_delivery(&self, receiver: &str, outcome: DeliveryOutcome) {
        self.alert_deliveries
            .get_or_create(&DeliveryLabels {
                receiver: receiver.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn alert_dropped(&self, receiver: &str) {
        self.alert_dropped
            .get_or_create(&ReceiverLabel {
                receiver: receiver.to_owned(),
            })
            .inc();
    }

    /// Firing alerts per priority, as the alert state counts them after each tick.
    pub fn set_alerts_active(&self, by_priority: &[(Priority, i64)]) {
        for p in Priority::ALL {
            let n = by_priority
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, n)| n)
                .sum();
            self.alerts_active
                .get_or_create(&PriorityLabel {
                    priority: p.as_str(),
                })
                .set(n);
        }
    }
}

static INSTALLED: OnceLock<Arc<Metrics>> = OnceLock::new();

/// Makes `metrics` the process-wide instance the hooks count into. The first call wins; later
/// calls return the instance already installed.
pub fn install(metrics: Arc<Metrics>) -> Arc<Metrics> {
    INSTALLED.get_or_init(|| metrics).clone()
}

/// The process-wide instance, if the run wiring installed one.
#[inline]
pub fn installed() -> Option<&'static Metrics> {
    INSTALLED.get().map(|m| m.as_ref())
}

#[cfg(test)]
mod tests;
