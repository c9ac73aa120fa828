//! Things worth telling, one struct each. `emit` logs the event with its fields and counts it,
//! so logs and counters never drift apart. (The counters become Prometheus metrics later.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::entry::Severity;
use crate::fingerprint::ClusterId;
use crate::source::Origin;
use crate::window::WindowSpan;

/// Process-wide counters of the events below.
#[derive(Debug, Default)]
pub struct Counters {
    pub malformed: AtomicU64,
    pub late: AtomicU64,
    pub new_clusters: AtomicU64,
    pub windows_closed: AtomicU64,
    /// GitHub requests sent (or planned, dry) that succeeded / that GitHub refused.
    pub github_actions: AtomicU64,
    pub github_refused: AtomicU64,
    pub duplicates: AtomicU64,
    pub escalations: AtomicU64,
    pub checkpoints: AtomicU64,
    pub checkpoint_failures: AtomicU64,
}

pub static COUNTERS: Counters = Counters {
    malformed: AtomicU64::new(0),
    late: AtomicU64::new(0),
    new_clusters: AtomicU64::new(0),
    windows_closed: AtomicU64::new(0),
    github_actions: AtomicU64::new(0),
    github_refused: AtomicU64::new(0),
    duplicates: AtomicU64::new(0),
    escalations: AtomicU64::new(0),
    checkpoints: AtomicU64::new(0),
    checkpoint_failures: AtomicU64::new(0),
};

/// A piece of input that is not a LogEntry: counted, reported in the next worklog, skipped.
pub struct MalformedEntry<'a> {
    pub origin: &'a Origin,
    pub reason: &'static str,
    pub detail: &'a str,
}

impl MalformedEntry<'_> {
    pub fn emit(self) {
        COUNTERS.malformed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(origin = %self.origin, reason = self.reason, detail = self.detail, "skipping input that is not a LogEntry");
    }
}

/// An entry for a window that had already closed.
pub struct LateEntry {
    pub at: DateTime<Utc>,
}

impl LateEntry {
    pub fn emit(self) {
        COUNTERS.late.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(event_time = %self.at, "late entry counted outside its closed window");
    }
}

/// A fine cluster seen for the first time by this process.
pub struct NewCluster<'a> {
    pub id: ClusterId,
    pub service: &'a str,
    pub severity: Severity,
}

impl NewCluster<'_> {
    pub fn emit(self) {
        COUNTERS.new_clusters.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(cluster = %self.id, service = self.service, severity = %self.severity, "new cluster");
    }
}

/// A window closed and its report was built.
pub struct WindowClosed {
    pub span: WindowSpan,
    pub clusters: usize,
    pub entries: u64,
    pub took: Duration,
}

impl WindowClosed {
    pub fn emit(self) {
        COUNTERS.windows_closed.fetch_add(1, Ordering::Relaxed);
        tracing::info!(start = %self.span.start, end = %self.span.end, clusters = self.clusters, entries = self.entries, took_ms = self.took.as_millis() as u64, "window closed");
    }
}

/// The GitHub sink brought a window's clusters onto GitHub (or planned to, in a dry run).
pub struct GithubSynced<'a> {
    pub window_end: Option<DateTime<Utc>>,
    pub dry_run: bool,
    pub done: u64,
    pub refused: u64,
    pub deferred: usize,
    pub stopped: Option<&'a str>,
}

impl GithubSynced<'_> {
    pub fn emit(self) {
        COUNTERS
            .github_actions
            .fetch_add(self.done, Ordering::Relaxed);
        COUNTERS
            .github_refused
            .fetch_add(self.refused, Ordering::Relaxed);
        let end = self.window_end.map(|t| t.to_rfc3339()).unwrap_or_default();
        let stopped = self.stopped.unwrap_or("");
        if self.refused > 0 || !stopped.is_empty() {
            tracing::warn!(window_end = %end, dry_run = self.dry_run, done = self.done, refused = self.refused, deferred = self.deferred, stopped, "GitHub sync incomplete");
        } else {
            tracing::info!(window_end = %end, dry_run = self.dry_run, done = self.done, deferred = self.deferred, "GitHub issues synced");
        }
    }
}

/// A Pub/Sub redelivery of a message already counted: acked with the next checkpoint, not
/// counted again.
pub struct DuplicateMessage<'a> {
    pub id: &'a str,
}

impl DuplicateMessage<'_> {
    pub fn emit(self) {
        COUNTERS.duplicates.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(message_id = self.id, "redelivered message already counted");
    }
}

/// A cluster's entries in the trailing hour reached a count tier (live mode).
pub struct Escalation {
    pub id: ClusterId,
    pub count: u64,
    pub at_least: u64,
    pub raise: i32,
}

impl Escalation {
    pub fn emit(self) {
        COUNTERS.escalations.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(cluster = %self.id, count = self.count, at_least = self.at_least, raise = self.raise, "escalation: cluster count crossed a tier in the last hour");
    }
}

/// A checkpoint is durable; its messages were acked.
pub struct CheckpointWritten {
    pub acked: usize,
    pub took: Duration,
}

impl CheckpointWritten {
    pub fn emit(self) {
        COUNTERS.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            acked = self.acked,
            took_ms = self.took.as_millis() as u64,
            "checkpoint written"
        );
    }
}

/// A checkpoint could not be written; its messages stay unacked until the next one.
pub struct CheckpointFailed<'a> {
    pub error: &'a dyn std::fmt::Display,
    pub waiting: usize,
}

impl CheckpointFailed<'_> {
    pub fn emit(self) {
        COUNTERS.checkpoint_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %self.error, unacked = self.waiting, "checkpoint failed; messages stay unacked until the next one");
    }
}
