//! The synchronous core every source shares: raw entry → parse → stitch → fingerprint → count,
//! and closing windows into reports. No I/O and no clock: the caller passes time in, so a
//! replay, a live run and a test drive exactly the same code.

mod bounds;
#[cfg(test)]
mod restitch_tests;
mod retractions;
mod snapshot;
mod unique;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{EventTimes, Settings};
use crate::entry::{
    parse_entry_max, CodeLocation, FieldWarnings, MessageKind, Record, Severity, SeverityClass,
};
use crate::escalate::Evidence;
use crate::fingerprint::mask::Numbers;
use crate::fingerprint::{ClusterId, Fingerprinter, KeyParts};
use crate::incident::{GroupConfig, LinkConfig, Tracker};
use crate::report::{build_report, plan, trends, Malformed, ReportPolicy, Silence, WindowReport};
use crate::source::{Boundedness, Origin, RawEntry};
use crate::stitch::{StitchConfig, Stitcher};
use crate::telemetry::events as ev;
use crate::window::{Observation, Recorded, Schedule, WindowSpan, WindowStore};

pub use retractions::{Retractions, Revising};
pub use snapshot::PipelineSnapshot;
pub use unique::{KeyList, TakenMinute};

/// What became of a record that reached the window store, or of a raw entry that did not.
/// `Pipeline::ingest` and the window closes report through this one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Counted(Counted),
    /// Not a LogEntry (or unreadable input): counted by reason and reported in the next worklog.
    Malformed {
        reason: &'static str,
    },
}

/// One record counted in its window (a stitched traceback counts once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted {
    /// The fine id: a pure function of the message (what the window store counts by).
    pub fine: ClusterId,
    /// The cluster the fine id belongs to now (what reports, issues and alerts are about).
    pub cluster: ClusterId,
    /// Event time.
    pub at: DateTime<Utc>,
    pub severity: Severity,
    /// A window of its time had already closed: counted in a revision of it, or as late.
    pub late: bool,
    /// The first entry of a cluster this state has never seen (no member of it seen before).
    pub new_cluster: bool,
}

/// Running totals of one pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub received: u64,
    pub counted: u64,
    pub malformed: u64,
    /// Entries whose windows had closed too long ago to be revised (counted in open ones).
    pub late: u64,
    /// Entries that came after their window closed and were counted in a revision of it.
    #[serde(default)]
    pub revising: u64,
    /// Entries counted with an optional field read leniently (see `FieldWarnings`).
    #[serde(default)]
    pub field_warnings: u64,
    /// Entries not counted: one alike in log, event time and insertId was (see [`unique`]).
    #[serde(default)]
    pub duplicates: u64,
    /// Records uncounted because a line of their traceback came after they were counted:
    /// the traceback is counted again, whole (`counted` is net of these).
    #[serde(default)]
    pub restitched: u64,
}

pub struct Pipeline {
    settings: Arc<Settings>,
    schedule: Schedule,
    fingerprinter: Arc<Fingerprinter>,
    store: Arc<dyn WindowStore>,
    stitcher: Stitcher,
    ready: Vec<Record>,
    /// Fine ids seen: a fine id seen once is never the start of a new cluster again.
    seen: HashSet<ClusterId>,
    malformed: Malformed,
    /// Field warnings by reason since the last report.
    field_warnings: BTreeMap<&'static str, u64>,
    /// Earliest and latest event time counted.
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next window to close; set by the first close.
    next: Option<WindowSpan>,
    counts: Counts,
    /// Co-occurrences of problem clusters, grouped into incidents at each close.
    incidents: Tracker,
    /// Silent windows jumped over, not yet told in a report.
    pending_silence: Option<Silence>,
    /// Bounded input: windows ending by then are due, for [`Pipeline::next_closed`].
    close_until: Option<DateTime<Utc>>,
    /// Keys and clusters held, bounded.
    bounds: bounds::Bounds,
    /// How long after its close a window may be revised (see [`revision_horizon`]).
    revise_within: TimeDelta,
    unique: unique::Unique,
    /// Traceback parts uncounted from closed windows, told in those windows' revisions.
    retractions: retractions::Retractions,
    /// Entries counted in `counts.revising`, so a retracted one is taken back.
    revising: retractions::Revising,
}

/// How long after its close a window of `input` may still be revised: a stream's late entries
/// revise it for `window.revise_within`; a file closes every window at its end, after the
/// last entry, so nothing is ever late and nothing is kept for it.
pub fn revision_horizon(settings: &Settings, input: Boundedness) -> TimeDelta {
    match input {
        Boundedness::Bounded => TimeDelta::zero(),
        Boundedness::Unbounded => settings.window.revise_within,
    }
}

fn report_policy(s: &Settings) -> ReportPolicy<'_> {
    ReportPolicy {
        escalation: &s.escalation,
        issue_min_priority: s.issue_min_priority,
    }
}

/// Two silent stretches back to back, as one.
fn merge_silence(a: Option<Silence>, b: Option<Silence>) -> Option<Silence> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Silence {
            from: a.from.min(b.from),
            to: a.to.max(b.to),
            windows: a.windows + b.windows,
        }),
        (a, b) => a.or(b),
    }
}

impl Pipeline {
    /// A pipeline for a `bounded` input (a file: windows close at its end, and nothing depends
    /// on its order) or an unbounded stream (windows close by watermark).
    pub fn new(
        settings: Arc<Settings>,
        fingerprinter: Arc<Fingerprinter>,
        store: Arc<dyn WindowStore>,
        input: Boundedness,
    ) -> Pipeline {
        let stitch = StitchConfig {
            max_gap: settings.stitch.max_gap,
            max_lines: settings.stitch.max_lines,
            horizon: settings.stitch.horizon,
            remember_lines: settings.stitch.remember_lines,
            ..StitchConfig::default()
        };
        let bounds = bounds::Bounds::new(
            settings.fingerprint.max_keys,
            settings.fingerprint.max_clusters,
        );
        Pipeline {
            schedule: Schedule::new(&settings.window),
            revise_within: revision_horizon(&settings, input),
            stitcher: match input {
                Boundedness::Bounded => Stitcher::bounded(stitch),
                Boundedness::Unbounded => Stitcher::with_config(stitch),
            },
            settings,
            fingerprinter,
            store,
            ready: Vec::new(),
            seen: HashSet::new(),
            malformed: Malformed::default(),
            field_warnings: BTreeMap::new(),
            range: None,
            next: None,
            counts: Counts::default(),
            incidents: Tracker::new(LinkConfig::default(), GroupConfig::default()),
            pending_silence: None,
            close_until: None,
            bounds,
            unique: unique::Unique::default(),
            retractions: retractions::Retractions::default(),
            revising: retractions::Revising::default(),
        }
    }

    /// A replay's pipeline: a bounded input, its own in-memory window store and fingerprinter.
    pub fn for_replay(settings: Arc<Settings>) -> Pipeline {
        let store = Arc::new(
            crate::window::MemoryStore::new(
                Schedule::new(&settings.window),
                settings.window.history,
            )
            .keeping_history_of(settings.fingerprint.max_clusters),
        );
        let fingerprinter = Arc::new(Fingerprinter::with_config(settings.fingerprint.config));
        Pipeline::new(settings, fingerprinter, store, Boundedness::Bounded)
    }

    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The fingerprinter (to resolve a fine id to its cluster).
    pub fn fingerprinter(&self) -> &Arc<Fingerprinter> {
        &self.fingerprinter
    }

    /// Event-time range of what was counted, if anything.
    pub fn range(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.range
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Refused input not yet told in a window report.
    pub fn unreported_malformed(&self) -> &crate::report::MalformedSummary {
        &self.malformed.0
    }

    /// Takes one raw entry through parse, stitch, fingerprint and count. What became of it
    /// (and of held traceback lines it released) goes to `out`; a traceback line held for
    /// stitching adds nothing yet.
    pub fn ingest(&mut self, raw: &RawEntry, out: &mut Vec<Outcome>) {
        self.ingest_within(raw, None, out);
    }

    /// [`Pipeline::ingest`], refusing as `bad_timestamp` an entry whose event time `bound`
    /// (what a live run accepts, and the clock when it was pulled) does not accept.
    pub fn ingest_within(
        &mut self,
        raw: &RawEntry,
        bound: Option<(EventTimes, DateTime<Utc>)>,
        out: &mut Vec<Outcome>,
    ) {
        self.counts.received += 1;
        ev::EntryReceived.emit();
        let record = match parse_entry_max(&raw.data, self.settings.max_entry_bytes) {
            Ok(record) => record,
            Err(e) => return self.refuse(&raw.origin, e.reason(), e.to_string(), out),
        };
        if let Some(why) = bound.and_then(|(times, now)| times.refuses(record.timestamp, now)) {
            return self.refuse(&raw.origin, "bad_timestamp", why, out);
        }
        if self.unique.is_duplicate(&record) {
            self.counts.duplicates += 1;
            ev::DuplicateEntry {
                origin: &raw.origin,
            }
            .emit();
            return;
        }
        self.note_warnings(&raw.origin, record.warnings);
        let pulled = bound.map(|(_, now)| now);
        self.stitcher.push_at(record, pulled, &mut self.ready);
        if self.stitcher.has_retracted() {
            self.retract_reopened();
        }
        self.drain_ready(out);
    }

    /// A line came for a traceback already counted: what was counted for it is uncounted (a
    /// closed window is revised), and the traceback, held again, is counted whole when it is
    /// released, as a replay counts it. A closed window's revision tells which clusters lost
    /// entries (and where the whole went), so the issue or alert raised for the part follows.
    fn retract_reopened(&mut self) {
        for r in self.stitcher.take_retracted() {
            let fine = self.counted_as(&r);
            let cluster = self.fingerprinter.cluster_of(fine);
            let recorded = self.store.retract(&observation(fine, &r));
            match recorded {
                Recorded::Revises => self.retractions.note(&r, cluster, fine),
                // It was counted late (and is still noted so): the whole counts late instead.
                Recorded::Late => self.counts.late = self.counts.late.saturating_sub(1),
                Recorded::OnTime => {}
            }
            if self.revising.take(&r) {
                self.counts.revising = self.counts.revising.saturating_sub(1);
            }
            self.counts.counted = self.counts.counted.saturating_sub(1);
            self.counts.restitched += 1;
            ev::TracebackReopened {
                at: r.timestamp,
                revised: recorded == Recorded::Revises,
            }
            .emit();
        }
    }

    /// Live mode: tracebacks no line joined for `stitch.horizon` of clock time are complete
    /// (a runtime writes a traceback's lines at once): counted now, not when the watermark
    /// passes, so a dying instance's last traceback alerts within seconds.
    pub fn release_idle(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
        self.stitcher.release_idle(now, &mut self.ready);
        self.drain_ready(out);
    }

    /// [`Pipeline::release_idle`] of only the tracebacks that would page as they stand: what
    /// `alerts.min_priority` admits, judged by the rules on their own text as a window's
    /// report judges a cluster (its location as the report's `logger_of` gives it). A restarted run
    /// holds the others for the dead process's redeliveries (see the consumer's stitch hold);
    /// a page does not wait for them. If the rest of one comes, it reopens it and the whole is
    /// counted instead, as for any line arriving after its traceback was counted.
    pub fn release_idle_paging(&mut self, now: DateTime<Utc>, out: &mut Vec<Outcome>) {
        let settings = &self.settings;
        let config = self.fingerprinter.config();
        let mut template = String::new();
        let mut pages = |r: &Record| {
            crate::fingerprint::masked_into(&r.message, Numbers::KeepStatus, config, &mut template);
            let decision = settings.escalation.decide(&Evidence {
                template: &template,
                logger: &crate::escalate::logger_of(&r.location),
                service: &r.service,
                severity: r.severity,
                count: 1,
                baseline: None,
            });
            decision.priority <= settings.alerts.policy.min_priority
        };
        self.stitcher
            .release_idle_if(now, &mut self.ready, |records| {
                records.iter().any(&mut pages)
            });
        self.drain_ready(out);
    }

    /// Input a source could not read at all (not even as a raw entry): received, so that
    /// `received` = counted + malformed + duplicates + what is held for stitching, and reported
    /// like a malformed entry.
    pub fn reject(
        &mut self,
        origin: &Origin,
        reason: &'static str,
        detail: String,
        out: &mut Vec<Outcome>,
    ) {
        self.counts.received += 1;
        ev::EntryReceived.emit();
        self.refuse(origin, reason, detail, out);
    }

    /// An entry received and refused: counted as malformed by `reason` and reported.
    fn refuse(
        &mut self,
        origin: &Origin,
        reason: &'static str,
        detail: String,
        out: &mut Vec<Outcome>,
    ) {
        self.counts.malformed += 1;
        ev::MalformedEntry {
            origin,
            reason,
            detail: &detail,
        }
        .emit();
        self.malformed.note(origin.to_string(), reason, detail);
        out.push(Outcome::Malformed { reason });
    }

    /// Counts an entry's lenient fields; the entry itself goes on.
    fn note_warnings(&mut self, origin: &Origin, warnings: FieldWarnings) {
        if warnings.is_empty() {
            return;
        }
        self.counts.field_warnings += 1;
        for reason in warnings.reasons() {
            *self.field_warnings.entry(reason).or_default() += 1;
            ev::FieldReadLeniently { origin, reason }.emit();
        }
    }

    fn drain_ready(&mut self, out: &mut Vec<Outcome>) {
        if self.ready.is_empty() {
            return;
        }
        self.forget_transient();
        let mut ready = std::mem::take(&mut self.ready);
        for r in ready.drain(..) {
            let counted = self.observe(&r);
            out.push(Outcome::Counted(counted));
        }
        self.ready = ready;
    }

    /// Past the fingerprinting bounds (`fingerprint.max_template_tokens` and the others) every
    /// distinct message registers a fine id of its own: once there are more than twice the
    /// clusters the windows may hold, those no window holds are forgotten (a message coming
    /// back registers again, with the same ids), so memory is bounded by the windows, not by
    /// the distinct messages seen. Runs before a batch is counted: what the last batch's
    /// outcomes name has been used by then.
    fn forget_transient(&mut self) {
        let bound = 2 * self.settings.fingerprint.max_clusters;
        if self.fingerprinter.transient_len() <= bound {
            return;
        }
        let store = &self.store;
        for id in self.fingerprinter.forget_transient(|id| store.holds(id)) {
            self.seen.remove(&id);
        }
    }

    fn observe(&mut self, r: &Record) -> Counted {
        let fine = self.fingerprint_of(r);
        let recorded = self.store.record(&observation(fine, r));
        let late = recorded != Recorded::OnTime;
        if late {
            let revised = recorded == Recorded::Revises;
            if revised {
                self.counts.revising += 1;
                self.revising.note(r);
            } else {
                self.counts.late += 1;
            }
            ev::LateEntry {
                at: r.timestamp,
                revised,
            }
            .emit();
        }
        self.counts.counted += 1;
        ev::EntryCounted {
            severity: r.severity,
        }
        .emit();
        self.range = Some(match self.range {
            None => (r.timestamp, r.timestamp),
            Some((lo, hi)) => (lo.min(r.timestamp), hi.max(r.timestamp)),
        });
        let cluster = self.fingerprinter.cluster_of(fine);
        if !self.retractions.is_empty() {
            self.retractions.counted(r, cluster);
        }
        let unit = r.instance.as_deref();
        let revision = r.revision.as_deref().map(|rev| (r.service.as_str(), rev));
        self.incidents.observe(
            cluster,
            r.timestamp,
            r.severity,
            unit,
            r.trace.as_deref(),
            revision,
        );
        // A fine id seen for the first time starts a new cluster only if no other member of
        // its cluster was ever registered (a new variant of a known cluster is not new).
        let new_cluster = self.seen.insert(fine) && self.fingerprinter.members_with(fine) <= 1;
        if new_cluster {
            ev::NewCluster {
                id: cluster,
                service: &r.service,
                severity: r.severity,
            }
            .emit();
        }
        Counted {
            fine,
            cluster,
            at: r.timestamp,
            severity: r.severity,
            late,
            new_cluster,
        }
    }

    /// Live mode: closes every window whose end plus the allowed lateness is at or before
    /// `watermark` (event time).
    /// Tracebacks whose lines have stopped coming are released first, so they count in time.
    pub fn close_due(
        &mut self,
        watermark: DateTime<Utc>,
        out: &mut Vec<Outcome>,
    ) -> Vec<WindowReport> {
        let horizon = watermark - self.settings.window.allowed_lateness;
        // A traceback is released when the first window it counts in closes, not before:
        // until then a line of it delivered late (a backlog in random order, a redelivery
        // after a crash) still joins it. A live stream's finished traceback goes sooner, by
        // `release_idle`.
        let closing =
            self.schedule.first_end_after(horizon) - TimeDelta::milliseconds(self.schedule.hop_ms);
        self.stitcher.release_before(closing, &mut self.ready);
        self.drain_ready(out);
        // A duplicate is known for as long as a window of the entry is open or may still be
        // revised.
        let length = TimeDelta::milliseconds(self.schedule.length_ms);
        self.unique
            .forget_before(closing - length - self.revise_within);
        // So is a released traceback: a line of it reopens it while its windows may be revised.
        self.stitcher
            .forget_released_before(closing - length - self.revise_within);
        let mut reports = self.revisions();
        reports.extend(self.close_through(horizon));
        reports
    }

    /// Closed windows that late entries changed, re-emitted with what they hold now.
    fn revisions(&mut self) -> Vec<WindowReport> {
        let spans = self.store.take_revisions();
        let reports = spans
            .into_iter()
            .map(|span| self.revise_one(span))
            .collect();
        // Every closed window a part was uncounted from was due, so revised just now.
        self.retractions.clear();
        reports
    }

    /// Bounded input: releases held tracebacks and closes every window up to the one holding
    /// the latest entry. The result does not depend on the order the entries came in.
    pub fn finish(&mut self, out: &mut Vec<Outcome>) -> Vec<WindowReport> {
        let mut reports = self.begin_finish(out);
        reports.extend(std::iter::from_fn(|| self.next_closed()));
        reports
    }

    /// [`Pipeline::finish`] one window at a time: releases held tracebacks, returns the
    /// revisions due, and leaves every window up to the one holding the latest entry to
    /// [`Pipeline::next_closed`].
    pub fn begin_finish(&mut self, out: &mut Vec<Outcome>) -> Vec<WindowReport> {
        // A run at a time: a long file's traceback lines are never all records at once.
        let mut stitcher = std::mem::take(&mut self.stitcher);
        stitcher.flush_with(|records| {
            self.ready.append(records);
            self.drain_ready(out);
        });
        self.stitcher = stitcher;
        if let Some((_, hi)) = self.range {
            self.close_later(self.schedule.first_end_after(hi));
        }
        self.revisions()
    }

    /// The next window due to close by [`Pipeline::begin_finish`] or
    /// [`Pipeline::close_before`], oldest first; `None` when none is left. Closed one at a
    /// time, so a caller writes each before the next is made: however many windows a file
    /// spans (a one-second hop over a day is 86,400), memory holds one report, not all.
    pub fn next_closed(&mut self) -> Option<WindowReport> {
        let until = self.close_until?;
        let report = self.close_step(until);
        if report.is_none() {
            self.close_until = None;
        }
        report
    }

    fn close_later(&mut self, until: DateTime<Utc>) {
        self.close_until = Some(self.close_until.map_or(until, |u| u.max(until)));
    }

    /// Bounded input read a slice of event time at a time (a large file, see
    /// [`crate::source::file`]): every entry before `before` has been ingested. Stitches the
    /// tracebacks no later line can join and closes every window ending by `before` — or by
    /// the first traceback line still held, whose traceback may count in it — except the one
    /// holding the latest entry so far. What stays open closes later exactly as it would have
    /// if the whole file had been read first. The windows are handed out by
    /// [`Pipeline::next_closed`], which must be drained before the next entry is ingested.
    pub fn close_before(&mut self, before: DateTime<Utc>, out: &mut Vec<Outcome>) {
        let mut stitcher = std::mem::take(&mut self.stitcher);
        stitcher.release_settled(before, |records| {
            self.ready.append(records);
            self.drain_ready(out);
        });
        self.stitcher = stitcher;
        self.unique.forget_before(before);
        let mut until = self
            .stitcher
            .earliest_held()
            .map_or(before, |t| t.min(before));
        // The window of the latest entry stays open until the input ends: what the rest of
        // the input holds that is not an entry is reported in a worklog still to be written.
        if let Some((_, hi)) = self.range {
            let last =
                self.schedule.first_end_after(hi) - TimeDelta::milliseconds(self.schedule.hop_ms);
            until = until.min(last);
        }
        self.close_later(until);
    }

    /// Closes every window that ends at or before `until`, in order. Windows without a
    /// single entry are skipped (one jump, however long the gap: a file with an entry from
    /// 1970 beside today's is two windows, not half a million) and said in the next report.
    fn close_through(&mut self, until: DateTime<Utc>) -> Vec<WindowReport> {
        std::iter::from_fn(|| self.close_step(until)).collect()
    }

    /// Closes the next window if it ends at or before `until` (see
    /// [`Pipeline::close_through`]).
    fn close_step(&mut self, until: DateTime<Utc>) -> Option<WindowReport> {
        let (lo, _) = self.range?;
        let next = self
            .next
            .unwrap_or_else(|| self.schedule.span_ending(self.schedule.first_end_after(lo)));
        if next.end > until {
            self.next = Some(next);
            return None;
        }
        let (span, silence) = self.skip_silent(next, until);
        if span.end > until {
            self.pending_silence = merge_silence(self.pending_silence, silence);
            self.next = Some(span);
            return None;
        }
        let silence = merge_silence(self.pending_silence.take(), silence);
        let report = self.close_one(span, silence);
        self.next = Some(self.schedule.next(span));
        Some(report)
    }

    /// From `next`, the first window that holds entries (or lies beyond `until`), and the
    /// silent stretch jumped over.
    fn skip_silent(&self, next: WindowSpan, until: DateTime<Utc>) -> (WindowSpan, Option<Silence>) {
        let target = match self.store.next_entries_at_or_after(next.start) {
            Some(t) => self.schedule.first_end_after(t),
            None => self.schedule.first_end_after(until),
        };
        if target <= next.end {
            return (next, None);
        }
        let span = self.schedule.span_ending(target);
        let hop = self.schedule.hop_ms.max(1);
        let windows = ((target - next.end).num_milliseconds() / hop) as u64;
        let silence = Silence {
            from: next.start,
            to: span.start.max(next.start),
            windows,
        };
        (span, Some(silence))
    }

    /// Sightings of incidents are kept as long as a window may still be revised.
    fn incidents_kept_from(&self, span: WindowSpan) -> DateTime<Utc> {
        self.schedule.next(span).start - self.revise_within
    }

    /// A closed window again, with the late entries counted since; its incidents are
    /// grouped as at its close without strengthening any link a second time.
    fn revise_one(&mut self, span: WindowSpan) -> WindowReport {
        let closed = self.store.revise(span);
        let settings = self.settings.clone();
        let policy = report_policy(&settings);
        let mut report = build_report(
            &closed,
            &self.fingerprinter,
            policy,
            crate::report::MalformedSummary::default(),
        );
        let fp = &self.fingerprinter;
        report.incidents =
            self.incidents
                .regroup(span, &report.clusters, &trends(&closed, fp), |id| {
                    fp.cluster_of(id)
                });
        report.actions = plan(&report, policy);
        let retracted = self.retractions.told(span, &report, self.store.as_ref());
        if let Some(rev) = report.revision.as_mut() {
            rev.retracted = retracted;
        }
        ev::WindowRevised {
            span,
            revision: report.revision.as_ref().map_or(0, |r| r.number),
            entries: report.totals.entries,
        }
        .emit();
        report
    }

    fn close_one(&mut self, span: WindowSpan, silence: Option<Silence>) -> WindowReport {
        let started = std::time::Instant::now();
        let closed = self.store.close(span);
        let settings = self.settings.clone();
        let policy = report_policy(&settings);
        let mut report = build_report(&closed, &self.fingerprinter, policy, self.malformed.take());
        report.totals.duplicates = self.unique.take_unreported();
        let fp = &self.fingerprinter;
        let keep_from = self.incidents_kept_from(span);
        report.incidents = self.incidents.close(
            span,
            &report.clusters,
            &trends(&closed, fp),
            |id| fp.cluster_of(id),
            keep_from,
        );
        report.actions = plan(&report, policy);
        report.silent_before = silence;
        report.field_warnings = std::mem::take(&mut self.field_warnings)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        ev::WindowClosed {
            span,
            clusters: report.clusters.len(),
            entries: report.totals.entries,
            took: started.elapsed(),
        }
        .emit();
        report
    }

    /// The fine cluster id record `r` was counted under by [`Pipeline::fingerprint_of`]: its
    /// own while the store holds it (counting it made it so), else its service's
    /// `<unclustered>` (it came past `fingerprint.max_clusters`).
    fn counted_as(&mut self, r: &Record) -> ClusterId {
        let location = location_key(&r.location);
        let (fine, service, class) = self.fine_of(r, &location);
        if self.store.holds(fine) {
            return fine;
        }
        bounds::unclustered(&self.fingerprinter, service, class)
    }

    /// The fine cluster id of a record, within the cardinality bounds.
    fn fingerprint_of(&mut self, r: &Record) -> ClusterId {
        let location = location_key(&r.location);
        let (fine, service, class) = self.fine_of(r, &location);
        let fp = &self.fingerprinter;
        self.bounds
            .cluster(fine, r.timestamp, self.store.as_ref(), fp, service, class)
    }

    /// A record's fine cluster id under its key (service and logger within the bounds), with
    /// the service and class of that key.
    fn fine_of<'a>(
        &mut self,
        r: &'a Record,
        location: &'a str,
    ) -> (ClusterId, &'a str, SeverityClass) {
        let class = r.severity.class();
        let (service, location) = self.bounds.key(&r.service, class, location);
        let key = KeyParts {
            service,
            class,
            location,
        };
        let fp = &self.fingerprinter;
        let fine = match r.kind {
            MessageKind::Text => fp.fingerprint(&key, &r.message),
            MessageKind::Request => fp.fingerprint_exact(&key, &r.message),
        };
        (fine, service, class)
    }

    /// Entries of canonical cluster `id` (all its aliases) in the hour before `now`.
    pub fn count_last(&self, id: ClusterId, now: DateTime<Utc>) -> u64 {
        self.count_ids(id, self.fingerprinter.aliases(id), now)
    }

    /// The code location the window report judges fine cluster `fine` by, while the window
    /// store holds it: what an alert's rules must see to page at the report's priority.
    pub fn location_of(&self, fine: ClusterId) -> Option<CodeLocation> {
        self.store.location_of(fine)
    }

    /// [`count_last`](Self::count_last) of the cluster fine id `fine` belongs to now; for a
    /// cluster's only member (every new cluster) without a scan of the cluster registry.
    pub fn count_last_of(&self, fine: ClusterId, now: DateTime<Utc>) -> u64 {
        let (id, aliases) = self.fingerprinter.with_aliases(fine);
        self.count_ids(id, aliases, now)
    }

    fn count_ids(&self, id: ClusterId, mut ids: Vec<ClusterId>, now: DateTime<Utc>) -> u64 {
        let span = WindowSpan {
            start: now - TimeDelta::milliseconds(self.schedule.length_ms),
            end: now,
        };
        ids.push(id);
        ids.into_iter().map(|a| self.store.count_in(a, span)).sum()
    }
}

/// What the window store is told of a record counted (or uncounted) as fine cluster `id`.
fn observation(id: ClusterId, r: &Record) -> Observation<'_> {
    Observation {
        id,
        at: r.timestamp,
        severity: r.severity,
        service: &r.service,
        location: &r.location,
        insert_id: &r.insert_id,
        raw: &r.raw,
    }
}

/// The location part of a cluster key: logger and function, never the line (it moves with
/// every deploy).
/// Borrowed unless it names both (every entry is keyed: no allocation for the common case).
fn location_key(loc: &CodeLocation) -> Cow<'_, str> {
    let function = loc.function.as_deref().or(loc.file.as_deref());
    match (loc.logger.as_deref(), function) {
        (Some(logger), Some(function)) => Cow::Owned(format!("{logger}:{function}")),
        (one, other) => Cow::Borrowed(one.or(other).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Origin;
    use crate::synth;
    use crate::window::MemoryStore;

    fn pipeline(hop: TimeDelta, input: Boundedness) -> Pipeline {
        let mut s = Settings::load(None).unwrap();
        s.window.hop = hop;
        let store = Arc::new(MemoryStore::new(Schedule::new(&s.window), s.window.history));
        Pipeline::new(Arc::new(s), Arc::new(Fingerprinter::new()), store, input)
    }

    fn raw(v: &serde_json::Value, line: u64) -> RawEntry {
        RawEntry {
            data: v.to_string().into(),
            origin: Origin::File {
                path: "t".into(),
                line,
            },
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn sliding_windows_close_every_hop_and_count_the_last_hour() {
        let mut p = pipeline(TimeDelta::minutes(15), Boundedness::Bounded);
        let entries = synth::generate(t("2025-09-15T19:00:00Z"), 2, 5);
        let mut events = Vec::new();
        for (i, (_, e)) in entries.iter().enumerate() {
            p.ingest(&raw(e, i as u64), &mut events);
        }
        let reports = p.finish(&mut events);
        let ends: Vec<String> = reports
            .iter()
            .map(|r| r.window.end.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            ends,
            ["19:15", "19:30", "19:45", "20:00", "20:15", "20:30", "20:45", "21:00"]
        );
        let per_hour: u64 = synth::KINDS.iter().map(|k| u64::from(k.per_hour)).sum();
        assert_eq!(
            reports[3].totals.entries, per_hour,
            "the window 19:00–20:00"
        );
        assert_eq!(
            reports[7].totals.entries, per_hour,
            "the window 20:00–21:00"
        );
        assert!(
            reports[0].totals.entries < per_hour / 2,
            "18:15–19:15 holds only 15 minutes of data"
        );
        let counted = events
            .iter()
            .filter(|o| matches!(o, Outcome::Counted(_)))
            .count();
        assert_eq!(
            counted as u64,
            p.counts().counted,
            "one outcome per counted record"
        );
    }

    #[test]
    fn live_windows_wait_for_allowed_lateness_then_count_stragglers_as_late() {
        let mut p = pipeline(TimeDelta::hours(1), Boundedness::Unbounded);
        let e = |at: &str, id: &str| {
            serde_json::json!({"timestamp": at, "severity": "ERROR", "insertId": id, "textPayload": "boom 1",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
        };
        let mut events = Vec::new();
        p.ingest(&raw(&e("2025-09-15T19:10:00Z", "a"), 1), &mut events);
        p.ingest(&raw(&e("2025-09-15T20:02:00Z", "b"), 2), &mut events);
        assert!(
            p.close_due(t("2025-09-15T20:04:59Z"), &mut events)
                .is_empty(),
            "lateness not yet over"
        );
        p.ingest(&raw(&e("2025-09-15T19:58:00Z", "c"), 3), &mut events);
        let closed = p.close_due(t("2025-09-15T20:05:00Z"), &mut events);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            closed[0].totals.entries, 2,
            "19:10 and the 19:58 that came within lateness"
        );
        p.ingest(&raw(&e("2025-09-15T19:59:00Z", "d"), 4), &mut events);
        assert_eq!(p.counts().late, 1);
        let new: Vec<Counted> = events
            .iter()
            .filter_map(|o| match o {
                Outcome::Counted(c) if c.new_cluster => Some(*c),
                _ => None,
            })
            .collect();
        assert_eq!(new.len(), 1, "one cluster, announced once");
        let cluster = new[0].cluster;
        assert_eq!(p.fingerprinter.resolve(new[0].fine).unwrap().id, cluster);
        assert_eq!(
            p.count_last(cluster, t("2025-09-15T20:30:00Z")),
            3,
            "19:58, 19:59 (late) and 20:02"
        );
        let next = p.close_due(t("2025-09-15T21:05:00Z"), &mut events);
        assert_eq!((next[0].totals.late, next[0].totals.entries), (1, 1));
        let late = &next[0].late_clusters;
        assert_eq!(late.len(), 1, "{late:?}");
        assert_eq!(
            (late[0].cluster, late[0].entries, late[0].earliest),
            (cluster, 1, t("2025-09-15T19:59:00Z")),
            "the late entry is told by its cluster and the window it belonged to"
        );
        assert_eq!(late[0].template, "boom <*>");
    }

    #[test]
    fn an_entry_alike_in_log_time_and_insert_id_counts_once_and_is_reported() {
        let e = |at: &str, id: &str, log: &str| {
            serde_json::json!({"timestamp": at, "insertId": id, "logName": log, "textPayload": "boom 1",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
        };
        let (at, later) = ("2025-09-15T19:10:00.123456Z", "2025-09-15T19:10:00.123457Z");
        let entries = [
            e(at, "a", "projects/p/logs/x"),
            e(at, "a", "projects/p/logs/x"), // the duplicate
            e(later, "a", "projects/p/logs/x"),
            e(at, "a", "projects/p/logs/y"),
            e(at, "b", "projects/p/logs/x"),
            e(at, "", "projects/p/logs/x"),
            e(at, "", "projects/p/logs/x"), // no insertId: never alike
        ];
        for input in [Boundedness::Bounded, Boundedness::Unbounded] {
            let mut p = pipeline(TimeDelta::hours(1), input);
            let mut events = Vec::new();
            for (i, v) in entries.iter().enumerate() {
                p.ingest(&raw(v, i as u64), &mut events);
            }
            let c = p.counts();
            assert_eq!(
                (c.received, c.counted, c.duplicates),
                (7, 6, 1),
                "{input:?}"
            );
            let reports = match input {
                Boundedness::Bounded => p.finish(&mut events),
                Boundedness::Unbounded => p.close_due(t("2025-09-15T21:00:00Z"), &mut events),
            };
            assert_eq!(reports[0].totals.entries, 6);
            assert_eq!(reports[0].totals.duplicates, 1, "{input:?}");
            // Forgotten once every window of theirs has closed: memory follows the open windows.
            if input == Boundedness::Unbounded {
                assert_eq!(p.unique.len(), 4, "19:10 may be in a window still open");
                p.close_due(t("2025-09-15T23:00:00Z"), &mut events);
                assert_eq!(p.unique.len(), 0);
            }
        }
    }

    #[test]
    fn a_new_variant_of_a_known_cluster_is_not_a_new_cluster() {
        let mut p = pipeline(TimeDelta::hours(1), Boundedness::Bounded);
        let e = |user: &str, line: u64| {
            let v = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "severity": "ERROR",
                "textPayload": format!("session closed for user {user}"),
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
            raw(&v, line)
        };
        let mut out = Vec::new();
        for (i, user) in ["cyrus", "news", "test", "alice", "bob"].iter().enumerate() {
            p.ingest(&e(user, i as u64), &mut out);
        }
        let counted: Vec<Counted> = out
            .iter()
            .filter_map(|o| match o {
                Outcome::Counted(c) => Some(*c),
                Outcome::Malformed { .. } => None,
            })
            .collect();
        let news: Vec<bool> = counted.iter().map(|c| c.new_cluster).collect();
        // The third user name makes the slot a variable: one cluster, whose members the
        // first two fine ids already were (cyrus and news were each a cluster of their own).
        assert_eq!(news, [true, true, false, false, false], "{counted:?}");
        let last = counted.last().unwrap().cluster;
        assert!(counted[2..].iter().all(|c| c.cluster == last));
    }

    #[test]
    fn silent_stretches_are_skipped_in_one_jump_and_told_in_the_next_report() {
        let mut p = pipeline(TimeDelta::hours(1), Boundedness::Bounded);
        let e = |at: &str, id: &str| {
            serde_json::json!({"timestamp": at, "severity": "ERROR", "insertId": id,
                "textPayload": "boom 1",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
        };
        let mut out = Vec::new();
        p.ingest(&raw(&e("2024-09-15T19:10:00Z", "old"), 1), &mut out);
        p.ingest(&raw(&e("2025-09-15T19:10:00Z", "a"), 2), &mut out);
        p.ingest(&raw(&e("2025-09-15T21:10:00Z", "b"), 3), &mut out);
        // A clock at zero is no event time: counted as a bad timestamp, no window in 1970.
        p.ingest(&raw(&e("1970-01-01T00:00:01Z", "zero"), 4), &mut out);
        let reports = p.finish(&mut out);
        let ends: Vec<String> = reports.iter().map(|r| r.window.end.to_rfc3339()).collect();
        assert_eq!(
            ends,
            [
                "2024-09-15T20:00:00+00:00",
                "2025-09-15T20:00:00+00:00",
                "2025-09-15T22:00:00+00:00"
            ]
        );
        let gap = reports[2]
            .silent_before
            .expect("20:00–21:00 had no entries");
        assert_eq!(
            (gap.windows, gap.from.to_rfc3339()),
            (1, "2025-09-15T20:00:00+00:00".into())
        );
        assert!(reports[1].silent_before.expect("a year of nothing").windows > 8_000);
        // The quiet hour is no window of the cluster: its baseline is its one earlier window.
        assert_eq!(reports[2].clusters[0].baseline, Some(1.0));
        let m = &reports[0].malformed;
        assert_eq!(
            (
                m.by_reason["bad_timestamp"],
                m.examples[0].location.as_str()
            ),
            (1, "t:4")
        );
    }

    #[test]
    fn field_warnings_are_counted_by_reason_and_the_entries_kept() {
        let mut p = pipeline(TimeDelta::hours(1), Boundedness::Bounded);
        let mut out = Vec::new();
        for (i, sev) in [
            serde_json::json!(1.5),
            serde_json::json!("ERROR"),
            serde_json::json!({}),
        ]
        .into_iter()
        .enumerate()
        {
            let v = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "severity": sev,
                "textPayload": "boom", "resource": {"type": "cloud_run_revision"}});
            p.ingest(&raw(&v, i as u64), &mut out);
        }
        let reports = p.finish(&mut out);
        assert_eq!((p.counts().counted, p.counts().field_warnings), (3, 2));
        assert_eq!(reports[0].field_warnings["unknown_severity"], 2);
        assert_eq!(reports[0].malformed.total, 0);
    }

    #[test]
    fn distinct_messages_over_many_loggers_are_remembered_only_while_windows_hold_them() {
        let mut s = Settings::load(None).unwrap();
        s.fingerprint.max_clusters = 16;
        s.fingerprint.config.max_template_tokens = 1_000;
        let s = Arc::new(s);
        let mut p = Pipeline::for_replay(Arc::clone(&s));
        let mut out = Vec::new();
        let mut most = 0;
        for i in 0..3_000u64 {
            let msg = format!("job w{i} stopped");
            let v = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "severity": "ERROR",
                "textPayload": msg, "labels": {"python_logger": format!("app.m{}", i % 40)},
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
            p.ingest(&raw(&v, i), &mut out);
            most = most.max(p.fingerprinter().transient_len());
        }
        let reports = p.finish(&mut out);
        assert_eq!(reports[0].totals.entries, 3_000, "every entry counted");
        assert!(most <= 2 * 16 + 1, "transient ids held at once: {most}");
        let stored: usize = (p.fingerprinter().export().families.iter())
            .map(|f| f.templates.len())
            .sum();
        assert!(stored < 3_000 / 10, "the budget stored few: {stored}");
        assert!(
            p.seen.len() <= stored + 2 * 16 + 1,
            "seen: {}",
            p.seen.len()
        );
    }

    #[test]
    fn past_the_cluster_bound_entries_are_counted_as_unclustered_never_dropped() {
        let mut s = Settings::load(None).unwrap();
        s.fingerprint.max_clusters = 16;
        let store = Arc::new(MemoryStore::new(Schedule::new(&s.window), s.window.history));
        let s = Arc::new(s);
        let mut p = Pipeline::new(
            s,
            Arc::new(Fingerprinter::new()),
            store,
            Boundedness::Bounded,
        );
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let mut out = Vec::new();
        for i in 0..64u64 {
            let msg = format!(
                "{} {} went wrong",
                words[(i % 8) as usize],
                words[(i / 8) as usize]
            );
            let v = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "severity": "ERROR",
                "textPayload": msg, "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}});
            p.ingest(&raw(&v, i), &mut out);
        }
        let reports = p.finish(&mut out);
        let r = &reports[0];
        assert_eq!(r.totals.entries, 64, "every entry counted");
        let over: Vec<_> = r
            .clusters
            .iter()
            .filter(|c| c.template.starts_with("<unclustered"))
            .collect();
        assert_eq!(
            over.len(),
            1,
            "{:#?}",
            r.clusters.iter().map(|c| &c.template).collect::<Vec<_>>()
        );
        assert_eq!(over[0].rule.as_deref(), Some("cardinality-overflow"));
        assert!(r.clusters.len() <= 17);
    }

    #[test]
    fn once_a_flood_of_message_kinds_left_the_open_windows_new_kinds_are_clusters_again() {
        let mut s = Settings::load(None).unwrap();
        s.fingerprint.max_clusters = 16;
        let store = Arc::new(
            MemoryStore::new(Schedule::new(&s.window), s.window.history).keeping_history_of(16),
        );
        let s = Arc::new(s);
        let fp = Arc::new(Fingerprinter::new());
        let mut p = Pipeline::new(s, fp, store.clone(), Boundedness::Bounded);
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let entry = |at: &str, msg: String| {
            serde_json::json!({"timestamp": at, "severity": "ERROR", "textPayload": msg,
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
        };
        let mut out = Vec::new();
        for i in 0..64u64 {
            let (a, b) = (words[(i % 8) as usize], words[(i / 8) as usize]);
            let v = entry("2025-09-15T19:10:00Z", format!("{a} {b} went wrong"));
            p.ingest(&raw(&v, i), &mut out);
        }
        // Hours later, after a gap: kinds never seen, one of them a Cloud SQL timeout.
        for (i, msg) in [
            "Database initialization timeout connecting to Cloud SQL instance prod:db",
            "Out of memory: killed process 17",
            "upstream connect error or disconnect/reset before headers",
        ]
        .into_iter()
        .enumerate()
        {
            let v = entry("2025-09-15T23:10:00Z", msg.to_owned());
            p.ingest(&raw(&v, 100 + i as u64), &mut out);
        }
        let reports = p.finish(&mut out);
        let last = reports.last().unwrap();
        let templates: Vec<&str> = last.clusters.iter().map(|c| c.template.as_str()).collect();
        assert_eq!(templates.len(), 3, "{templates:?}");
        assert!(
            templates.iter().all(|t| !t.starts_with("<unclustered")),
            "{templates:?}"
        );
        // The flood's clusters that hold only history are bounded too.
        assert!(store.len() <= 16 + 3, "{}", store.len());
    }
}
