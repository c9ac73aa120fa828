//! Things worth telling, one struct each. `emit` logs the event with its fields and counts it in
//! the Prometheus registry (`telemetry::metrics`, once the run wiring installed it), so logs and
//! metrics never drift apart. The two per-entry events log at `trace` only: they are the hot path.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::entry::Severity;
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::telemetry::loudness::{self, Loudness, Tally};
use crate::telemetry::metrics::{installed, DeliveryOutcome, GithubOutcome};
use crate::window::WindowSpan;

/// A raw entry taken from the source (before parsing).
pub struct EntryReceived;

impl EntryReceived {
    #[inline]
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.entry_received();
        }
    }
}

/// An entry parsed and counted in its window.
pub struct EntryCounted {
    pub severity: Severity,
}

impl EntryCounted {
    #[inline]
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.entry_parsed(self.severity);
        }
        tracing::trace!(severity = %self.severity, "entry counted");
    }
}

/// A piece of input that is not a LogEntry: counted, reported in the next worklog, skipped.
pub struct MalformedEntry<'a> {
    /// Where it was (`file:line`, `pubsub:<message id>`).
    pub origin: &'a dyn std::fmt::Display,
    pub reason: &'static str,
    pub detail: &'a str,
}

/// An entry alike in log, event time and insertId to one already counted: not counted again.
pub struct DuplicateEntry<'a> {
    pub origin: &'a dyn std::fmt::Display,
}

impl DuplicateEntry<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.entry_duplicate();
        }
        tracing::debug!(origin = %self.origin, "not counting a duplicate entry (same log, timestamp and insertId as one counted)");
    }
}

/// A line came for a traceback already counted: the records counted for it are uncounted
/// (`revised`: in a closed window, re-emitted) and the traceback is counted again, whole.
pub struct TracebackReopened {
    pub at: DateTime<Utc>,
    pub revised: bool,
}

impl TracebackReopened {
    pub fn emit(self) {
        tracing::debug!(at = %self.at, revised = self.revised, "a line came for a traceback already counted: uncounting what was counted for it, to count it whole");
    }
}

/// More entries than the duplicate check remembers are in open windows: the oldest minutes are
/// forgotten early (said once a run).
pub struct DuplicatesForgottenEarly {
    pub max: usize,
}

impl DuplicatesForgottenEarly {
    pub fn emit(self) {
        tracing::warn!(max = self.max, "more entries in open windows than the duplicate check remembers: the oldest minutes are forgotten early, and an entry published twice that far apart counts twice");
    }
}

impl MalformedEntry<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.entry_malformed(self.reason);
        }
        // Per reason: a file of another log format would otherwise print a line per entry.
        static SEEN: Mutex<Tally> = Mutex::new(Tally::new());
        let loudness = loudness::note(&SEEN, self.reason);
        let detail = crate::redact::Inert::new(self.detail).cut(500);
        match loudness {
            Loudness::Each => {
                tracing::warn!(origin = %self.origin, reason = self.reason, %detail, "skipping input that is not a LogEntry");
            }
            Loudness::Last => {
                tracing::warn!(origin = %self.origin, reason = self.reason, %detail, "skipping input that is not a LogEntry; more refused for this reason are counted (worklog `malformed`, metric log_gardener_entries_malformed_total) and logged only at every power of ten within the hour");
            }
            Loudness::Tally(seen) => {
                tracing::warn!(origin = %self.origin, reason = self.reason, refused = seen, %detail, "skipping input that is not a LogEntry ({seen} refused for this reason so far)");
            }
            Loudness::Quiet => {}
        }
    }
}

/// A large replayed file was surveyed and is read a slice of event time at a time.
pub struct ReadingInSlices<'a> {
    pub path: &'a str,
    pub slices: usize,
    /// Bytes the slices read in all (the file's entries once if it is sorted by time).
    pub bytes: u64,
}

impl ReadingInSlices<'_> {
    pub fn emit(self) {
        tracing::info!(
            path = self.path,
            slices = self.slices,
            bytes = self.bytes,
            "reading the file a slice of event time at a time"
        );
    }
}

/// `replay -` could not make the temporary file a long pipe is kept in to be read in slices:
/// the pipe is read whole, holding every window open until it ends.
pub struct PipeReadWhole<'a> {
    pub why: &'a str,
}

impl PipeReadWhole<'_> {
    pub fn emit(self) {
        tracing::warn!(
            why = self.why,
            tmpdir = %std::env::temp_dir().display(),
            "cannot make a temporary file for the piped input: it is read whole, every window open until it ends (memory grows with the hours it spans); set TMPDIR to a writable directory, or replay a file"
        );
    }
}

/// An optional field of a counted entry was unusable and read leniently (severity as DEFAULT,
/// a mistyped payload as text): counted by field, told in the worklog's `field_warnings`.
pub struct FieldReadLeniently<'a> {
    pub origin: &'a dyn std::fmt::Display,
    pub reason: &'static str,
}

impl FieldReadLeniently<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.field_warning(self.reason);
        }
        tracing::debug!(origin = %self.origin, reason = self.reason, "field read leniently");
    }
}

/// The source cannot reach its input (Pub/Sub unreachable); it keeps trying, `/readyz` says
/// why, and this warns at the default log level each time a probe fails.
pub struct SourceUnavailable<'a> {
    pub why: &'a str,
}

impl SourceUnavailable<'_> {
    pub fn emit(self) {
        tracing::warn!(why = self.why, "source unavailable; retrying (not ready)");
    }
}

/// A cardinality bound was reached: entries past it are clustered coarser (never dropped).
/// Said once per run.
pub struct CardinalityLimit {
    pub key: &'static str,
    pub limit: usize,
    pub into: &'static str,
}

impl CardinalityLimit {
    pub fn emit(self) {
        tracing::warn!(
            key = self.key,
            limit = self.limit,
            into = self.into,
            "cardinality bound reached; further entries are clustered coarser, none is dropped"
        );
    }
}

/// The incident tracker's co-occurrence memory (`unit × 10 s` slots and traces) is full while
/// the windows they belong to are still open: the oldest are forgotten, so those windows'
/// incidents may miss links. Counted in a metric every time, said once per run.
pub struct IncidentLinksForgotten {
    pub limit: usize,
    /// Slots and traces forgotten this time.
    pub slots: u64,
    /// The first time in this process: the WARN is said once, the metric counts every time.
    pub first: bool,
}

impl IncidentLinksForgotten {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.incident_links_forgotten(self.slots);
        }
        if self.first {
            tracing::warn!(
                limit = self.limit,
                "incident co-occurrence memory full: the oldest slots are forgotten, so incidents of the earliest open windows may be missing; an input read whole (a pipe with no temporary file, a UTF-16 one) holds every window to its end: replay a UTF-8 file, which is read a slice of event time at a time"
            );
        }
    }
}

/// An entry for a window that had already closed.
pub struct LateEntry {
    pub at: DateTime<Utc>,
    /// Its closed window will be re-emitted with it; else it is late for good.
    pub revised: bool,
}

impl LateEntry {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.entry_late();
        }
        if self.revised {
            tracing::debug!(event_time = %self.at, "late entry counted in its closed window, which will be revised");
        } else {
            tracing::debug!(event_time = %self.at, "late entry past window.revise_within: counted only in open windows");
        }
    }
}

/// A closed window was re-emitted with late entries.
pub struct WindowRevised {
    pub span: WindowSpan,
    pub revision: u32,
    pub entries: u64,
}

impl WindowRevised {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.window_revised();
        }
        tracing::info!(start = %self.span.start, end = %self.span.end, revision = self.revision, entries = self.entries, "window revised with late entries");
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
        if let Some(m) = installed() {
            m.cluster_new();
        }
        let service = crate::redact::Inert::new(self.service);
        tracing::debug!(cluster = %self.id, %service, severity = %self.severity, "new cluster");
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
        if let Some(m) = installed() {
            m.window_closed(self.took);
        }
        tracing::info!(start = %self.span.start, end = %self.span.end, clusters = self.clusters, entries = self.entries, took_ms = self.took.as_millis() as u64, "window closed");
    }
}

/// An alertable event (a new cluster, an escalation) reached the alert stage.
pub struct AlertableEvent {
    /// `new_cluster` or `escalation`.
    pub kind: &'static str,
    pub cluster: ClusterId,
    pub priority: Priority,
    /// Whether it passed `alerts.min_priority`, the rate limit and flap damping.
    pub fires: bool,
}

impl AlertableEvent {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.event(self.kind, self.priority);
        }
        if self.fires {
            tracing::info!(kind = self.kind, cluster = %self.cluster, priority = %self.priority, "alert fires");
        } else {
            tracing::debug!(kind = self.kind, cluster = %self.cluster, priority = %self.priority, "alertable event, no new alert");
        }
    }
}

/// One delivery attempt of alert posts to a receiver.
pub struct AlertDelivery<'a> {
    /// `alertmanager@HOST:PORT` or `webhook@HOST`: one per configured URL.
    pub receiver: &'a str,
    pub outcome: DeliveryOutcome,
    pub alerts: usize,
    pub error: Option<&'a str>,
}

impl AlertDelivery<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.alert_delivery(self.receiver, self.outcome);
        }
        match self.outcome {
            DeliveryOutcome::Delivered => {
                tracing::debug!(
                    receiver = self.receiver,
                    alerts = self.alerts,
                    "alerts delivered"
                )
            }
            DeliveryOutcome::Retried => {
                tracing::warn!(
                    receiver = self.receiver,
                    alerts = self.alerts,
                    error = self.error,
                    "alert delivery failed; will retry"
                )
            }
            DeliveryOutcome::Failed => {
                tracing::error!(
                    receiver = self.receiver,
                    alerts = self.alerts,
                    error = self.error,
                    "alert delivery given up"
                )
            }
        }
    }
}

/// An alert post dropped because the receiver's queue was full (the oldest one goes).
pub struct AlertDropped<'a> {
    pub receiver: &'a str,
}

impl AlertDropped<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.alert_dropped(self.receiver);
        }
        tracing::warn!(
            receiver = self.receiver,
            "alert queue full; dropped the oldest post"
        );
    }
}

/// A GitHub API request ended (for the issue sink).
pub struct GithubRequest<'a> {
    pub outcome: GithubOutcome,
    /// What was asked, e.g. `create_issue` (a fixed name, never the issue text).
    pub operation: &'a str,
}

impl GithubRequest<'_> {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.github_request(self.outcome);
        }
        tracing::debug!(
            operation = self.operation,
            outcome = self.outcome.as_str(),
            "github request"
        );
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
        if let (Some(m), false) = (installed(), self.dry_run) {
            (0..self.done).for_each(|_| m.github_request(GithubOutcome::Ok));
            (0..self.refused).for_each(|_| m.github_request(GithubOutcome::Permanent));
        }
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
        if let Some(m) = installed() {
            m.redelivery();
        }
        tracing::debug!(message_id = self.id, "redelivered message already counted");
    }
}

/// A cluster's entries in the trailing hour reached a count tier. Logged like refused
/// entries (the first ten in an hour, then at each power of ten): a flood of new clusters
/// crosses a tier in thousands at once. The metric and the alert stage get every one.
pub struct Escalation {
    pub id: ClusterId,
    pub count: u64,
    pub at_least: u64,
    pub raise: i32,
}

impl Escalation {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.escalation();
        }
        static SEEN: Mutex<Tally> = Mutex::new(Tally::new());
        match loudness::note(&SEEN, "escalation") {
            Loudness::Each => {
                tracing::warn!(cluster = %self.id, count = self.count, at_least = self.at_least, raise = self.raise, "escalation: cluster count crossed a tier in the last hour");
            }
            Loudness::Last => {
                tracing::warn!(cluster = %self.id, count = self.count, at_least = self.at_least, raise = self.raise, "escalation: cluster count crossed a tier in the last hour; more escalations are counted (metric log_gardener_escalations_total) and logged only at every power of ten within the hour");
            }
            Loudness::Tally(seen) => {
                tracing::warn!(cluster = %self.id, count = self.count, at_least = self.at_least, raise = self.raise, escalations = seen, "escalation: cluster count crossed a tier in the last hour ({seen} escalations so far)");
            }
            Loudness::Quiet => {}
        }
    }
}

/// A checkpoint is durable; its messages were acked.
pub struct CheckpointWritten {
    pub acked: usize,
    pub took: Duration,
}

impl CheckpointWritten {
    pub fn emit(self) {
        if let Some(m) = installed() {
            m.checkpoint(true);
        }
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
        if let Some(m) = installed() {
            m.checkpoint(false);
        }
        tracing::error!(error = %self.error, unacked = self.waiting, "checkpoint failed; messages stay unacked until the next one");
    }
}
