//! The synchronous core every source shares: raw entry → parse → stitch → fingerprint → count,
//! and closing windows into reports. No I/O and no clock: the caller passes time in, so a
//! replay, a live run and a test drive exactly the same code.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::Settings;
use crate::entry::{parse_entry, CodeLocation, Record, Severity};
use crate::fingerprint::{ClusterId, Fingerprinter, KeyParts};
use crate::internal_events as ev;
use crate::report::{build_report, Malformed, WindowReport};
use crate::source::RawEntry;
use crate::stitch::Stitcher;
use crate::window::{Observation, Recorded, Schedule, WindowSpan, WindowStore};

/// Something worth telling as soon as it happens (alerts build on these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A fine cluster never seen before by this process.
    NewCluster {
        id: ClusterId,
        service: String,
        severity: Severity,
        at: DateTime<Utc>,
    },
}

/// Running totals of one pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: u64,
    pub counted: u64,
    pub malformed: u64,
    pub late: u64,
}

pub struct Pipeline {
    settings: Arc<Settings>,
    schedule: Schedule,
    fingerprinter: Arc<Fingerprinter>,
    store: Arc<dyn WindowStore>,
    stitcher: Stitcher,
    ready: Vec<Record>,
    seen: HashSet<ClusterId>,
    malformed: Malformed,
    /// Earliest and latest event time counted.
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next window to close; set by the first close.
    next: Option<WindowSpan>,
    counts: Counts,
}

impl Pipeline {
    pub fn new(
        settings: Arc<Settings>,
        fingerprinter: Arc<Fingerprinter>,
        store: Arc<dyn WindowStore>,
    ) -> Pipeline {
        Pipeline {
            schedule: Schedule::new(&settings.window),
            stitcher: Stitcher::new(),
            settings,
            fingerprinter,
            store,
            ready: Vec::new(),
            seen: HashSet::new(),
            malformed: Malformed::default(),
            range: None,
            next: None,
            counts: Counts::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Takes one raw entry through parse, stitch, fingerprint and count.
    pub fn ingest(&mut self, raw: &RawEntry, events: &mut Vec<Event>) {
        self.counts.received += 1;
        if raw.data.len() > self.settings.max_entry_bytes {
            let detail = format!(
                "{} bytes, limit {}",
                raw.data.len(),
                self.settings.max_entry_bytes
            );
            return self.reject(raw, "too_large", detail);
        }
        match parse_entry(&raw.data) {
            Ok(record) => {
                self.stitcher.push(record, &mut self.ready);
                self.drain_ready(events);
            }
            Err(e) => self.reject(raw, e.reason(), e.to_string()),
        }
    }

    fn reject(&mut self, raw: &RawEntry, reason: &'static str, detail: String) {
        self.counts.malformed += 1;
        ev::MalformedEntry {
            origin: &raw.origin,
            reason,
            detail: &detail,
        }
        .emit();
        self.malformed.note(raw.origin.to_string(), reason, detail);
    }

    fn drain_ready(&mut self, events: &mut Vec<Event>) {
        let mut ready = std::mem::take(&mut self.ready);
        for r in ready.drain(..) {
            self.observe(&r, events);
        }
        self.ready = ready;
    }

    fn observe(&mut self, r: &Record, events: &mut Vec<Event>) {
        let location = location_key(&r.location);
        let key = KeyParts {
            service: &r.service,
            class: r.severity.class(),
            location: &location,
        };
        let id = self.fingerprinter.fingerprint(&key, &r.message);
        let obs = Observation {
            id,
            at: r.timestamp,
            severity: r.severity,
            service: &r.service,
            location: &r.location,
            insert_id: &r.insert_id,
            raw: &r.raw,
        };
        if self.store.record(&obs) == Recorded::Late {
            self.counts.late += 1;
            ev::LateEntry { at: r.timestamp }.emit();
        }
        self.counts.counted += 1;
        self.range = Some(match self.range {
            None => (r.timestamp, r.timestamp),
            Some((lo, hi)) => (lo.min(r.timestamp), hi.max(r.timestamp)),
        });
        if self.seen.insert(id) {
            ev::NewCluster {
                id,
                service: &r.service,
                severity: r.severity,
            }
            .emit();
            events.push(Event::NewCluster {
                id,
                service: r.service.clone(),
                severity: r.severity,
                at: r.timestamp,
            });
        }
    }

    /// Live mode: closes every window whose end plus the allowed lateness is at or before
    /// `watermark` (event time).
    pub fn close_due(&mut self, watermark: DateTime<Utc>) -> Vec<WindowReport> {
        let horizon = watermark - self.settings.window.allowed_lateness;
        self.close_through(horizon)
    }

    /// Bounded input: releases held tracebacks and closes every window up to the one holding
    /// the latest entry. The result does not depend on the order the entries came in.
    pub fn finish(&mut self, events: &mut Vec<Event>) -> Vec<WindowReport> {
        self.stitcher.flush(&mut self.ready);
        self.drain_ready(events);
        match self.range {
            Some((_, hi)) => self.close_through(self.schedule.first_end_after(hi)),
            None => Vec::new(),
        }
    }

    fn close_through(&mut self, until: DateTime<Utc>) -> Vec<WindowReport> {
        let Some((lo, _)) = self.range else {
            return Vec::new();
        };
        let mut next = self
            .next
            .unwrap_or_else(|| self.schedule.span_ending(self.schedule.first_end_after(lo)));
        let mut reports = Vec::new();
        while next.end <= until {
            let started = std::time::Instant::now();
            let closed = self.store.close(next);
            let report = build_report(
                &closed,
                &self.fingerprinter,
                &self.settings,
                self.malformed.take(),
            );
            ev::WindowClosed {
                span: next,
                clusters: report.clusters.len(),
                entries: report.totals.entries,
                took: started.elapsed(),
            }
            .emit();
            reports.push(report);
            next = self.schedule.next(next);
        }
        self.next = Some(next);
        reports
    }

    /// Entries of canonical cluster `id` (all its aliases) in the hour before `now`.
    pub fn count_last(&self, id: ClusterId, now: DateTime<Utc>) -> u64 {
        let span = WindowSpan {
            start: now - TimeDelta::milliseconds(self.schedule.length_ms),
            end: now,
        };
        self.fingerprinter
            .aliases(id)
            .into_iter()
            .map(|a| self.store.count_in(a, span))
            .sum()
    }
}

/// The location part of a cluster key: logger and function, never the line (it moves with
/// every deploy).
fn location_key(loc: &CodeLocation) -> String {
    let parts = [
        loc.logger.as_deref(),
        loc.function.as_deref().or(loc.file.as_deref()),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(":")
}
