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
}

pub static COUNTERS: Counters = Counters {
    malformed: AtomicU64::new(0),
    late: AtomicU64::new(0),
    new_clusters: AtomicU64::new(0),
    windows_closed: AtomicU64::new(0),
    github_actions: AtomicU64::new(0),
    github_refused: AtomicU64::new(0),
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
