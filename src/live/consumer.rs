//! The live consumer's synchronous core: deliveries in, window reports and events out, and
//! the bookkeeping that decides when a message may be acked. No I/O, no clock: `app::live`
//! calls it from its `select!` loop, passing the time in, and writes the checkpoint it makes.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::checkpoint::{Checkpoint, SCHEMA};
use super::dedupe::RecentIds;
use super::escalation::EscalationTracker;
use crate::config::{OnMalformed, Settings, Watermark};
use crate::fingerprint::{ClusterId, Fingerprinter};
use crate::internal_events as ev;
use crate::pipeline::{Event, Pipeline};
use crate::report::WindowReport;
use crate::source::delivery::{Acker, Delivery};
use crate::source::Boundedness;
use crate::window::{MemoryStore, Schedule};

/// What the consumer did, for the summary and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub delivered: u64,
    /// Redeliveries of messages already taken: not counted again.
    pub duplicates: u64,
    /// Malformed messages nacked for the dead-letter policy.
    pub nacked: u64,
    pub acked: u64,
    pub checkpoints: u64,
}

/// The ackers of the messages a checkpoint holds: settle them once it is durable.
#[must_use = "ack once the checkpoint is written, or give back with `Consumer::retry`"]
pub struct Settlement(Vec<Box<dyn Acker>>);

impl Settlement {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub struct Consumer {
    settings: Arc<Settings>,
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    recent: RecentIds,
    escalation: EscalationTracker,
    /// Ackers of messages whose entries are in the state but not yet in a durable checkpoint.
    /// Bounded by Pub/Sub's flow control (`max_outstanding_*` per stream), and `app::live`
    /// checkpoints early when half of that allowance is waiting here.
    unsettled: Vec<Box<dyn Acker>>,
    counted: Vec<(ClusterId, DateTime<Utc>)>,
    max_event_time: Option<DateTime<Utc>>,
    /// The state changed since the last checkpoint.
    dirty: bool,
    stats: LiveStats,
}

impl Consumer {
    /// A consumer continuing from `checkpoint`, or starting afresh.
    pub fn new(settings: Arc<Settings>, checkpoint: Option<Checkpoint>) -> Consumer {
        let schedule = Schedule::new(&settings.window);
        let history = settings.window.history;
        let (store, mut pipeline, recent, max_event_time) = match checkpoint {
            None => {
                let store = Arc::new(MemoryStore::new(schedule, history));
                let p = Pipeline::new(
                    settings.clone(),
                    Arc::new(Fingerprinter::new()),
                    store.clone(),
                    Boundedness::Unbounded,
                );
                (store, p, RecentIds::new(settings.live.dedupe_ids), None)
            }
            Some(c) => {
                let fingerprinter = Arc::new(Fingerprinter::from_state(c.clusters));
                let store = Arc::new(MemoryStore::restore(schedule, history, c.store));
                let p =
                    Pipeline::restore(settings.clone(), fingerprinter, store.clone(), c.pipeline);
                let recent = RecentIds::from_vec(settings.live.dedupe_ids, c.recent_ids);
                (store, p, recent, c.max_event_time)
            }
        };
        pipeline.track_counted();
        Consumer {
            escalation: EscalationTracker::new(settings.escalation.count_tiers.clone()),
            settings,
            pipeline,
            store,
            recent,
            unsettled: Vec::new(),
            counted: Vec::new(),
            max_event_time,
            dirty: false,
            stats: LiveStats::default(),
        }
    }

    /// Takes one message. Its entry is counted (once: a redelivery of a message already
    /// taken is not), and its acker waits in `unsettled` for the next durable checkpoint.
    pub fn accept(&mut self, d: Delivery, events: &mut Vec<Event>) {
        self.stats.delivered += 1;
        self.dirty = true;
        if self.recent.contains(&d.id) {
            // Already counted, maybe not yet durably: ack it with the next checkpoint, which
            // holds the first delivery's count either way.
            self.stats.duplicates += 1;
            ev::DuplicateMessage { id: &d.id }.emit();
            self.unsettled.push(d.acker);
            return;
        }
        let malformed_before = self.pipeline.counts().malformed;
        self.pipeline.ingest(&d.entry, events);
        let malformed = self.pipeline.counts().malformed > malformed_before;
        if malformed && self.settings.pubsub.on_malformed == OnMalformed::Nack {
            // Counted and reported, then handed back for the subscription's dead-letter
            // policy; not remembered, so each delivery is counted (and reported) again.
            self.stats.nacked += 1;
            d.acker.nack();
            return;
        }
        self.recent.insert(&d.id);
        self.unsettled.push(d.acker);
        self.after_ingest(events);
    }

    fn after_ingest(&mut self, events: &mut Vec<Event>) {
        self.pipeline.take_counted(&mut self.counted);
        let metrics = crate::sinks::metrics::installed();
        let now = metrics.map(|_| Utc::now());
        for (id, at) in self.counted.drain(..) {
            if let (Some(m), Some(now)) = (metrics, now) {
                m.observe_event_lag(at, now);
            }
            self.max_event_time = Some(self.max_event_time.map_or(at, |m| m.max(at)));
            let (pipeline, tracker) = (&self.pipeline, &mut self.escalation);
            let mut canonical = id;
            let crossing = tracker.observe(id, || {
                canonical = pipeline.fingerprinter().resolve(id).map_or(id, |r| r.id);
                pipeline.count_last(canonical, at)
            });
            if let Some(c) = crossing {
                ev::Escalation {
                    id: canonical,
                    count: c.count,
                    at_least: c.tier.at_least,
                    raise: c.tier.raise,
                }
                .emit();
                events.push(Event::Escalation {
                    id: canonical,
                    count: c.count,
                    at_least: c.tier.at_least,
                    raise: c.tier.raise,
                    at,
                });
            }
        }
    }

    /// Closes the windows that are due at wall-clock time `now` (or by the latest event time,
    /// with `live.watermark = "event-time"`).
    pub fn close_due(&mut self, now: DateTime<Utc>, events: &mut Vec<Event>) -> Vec<WindowReport> {
        let watermark = match self.settings.live.watermark {
            Watermark::WallClock => Some(now),
            Watermark::EventTime => self.max_event_time,
        };
        let Some(w) = watermark else {
            return Vec::new();
        };
        let reports = self.pipeline.close_due(w, events);
        self.after_close(&reports, events);
        reports
    }

    /// Closes every window holding entries (`live.flush_on_shutdown`).
    pub fn flush(&mut self, events: &mut Vec<Event>) -> Vec<WindowReport> {
        let reports = self.pipeline.finish(events);
        self.after_close(&reports, events);
        reports
    }

    fn after_close(&mut self, reports: &[WindowReport], events: &mut Vec<Event>) {
        // Held tracebacks released by the close were counted; see whether they escalate.
        let released = self.pipeline.take_counted_len() > 0;
        self.after_ingest(events);
        if !reports.is_empty() {
            self.escalation.reset();
        }
        self.dirty |= released || !reports.is_empty();
    }

    /// Whether a checkpoint now would hold anything the last one did not.
    pub fn needs_checkpoint(&self) -> bool {
        self.dirty || !self.unsettled.is_empty()
    }

    /// The state to write now, and the ackers of every message it holds.
    ///
    /// THE ACK RULE: a message is acked only after a checkpoint that holds its entry (or,
    /// for a redelivery, the first delivery's entry) is durable. The caller writes the
    /// returned checkpoint and then calls [`Consumer::settle`]; if the write fails it calls
    /// [`Consumer::retry`] and the messages wait for the next checkpoint. A crash before the
    /// ack loses nothing (Pub/Sub redelivers; the checkpoint's message ids recognise what it
    /// already holds) and a crash before the write counts nothing twice (the state is lost
    /// with the acks). Window reports are written before the checkpoint that marks their
    /// window closed, so a crash in between rewrites the same report, never skips it.
    pub fn checkpoint(&mut self, now: DateTime<Utc>) -> (Checkpoint, Settlement) {
        let c = Checkpoint {
            schema: SCHEMA.to_owned(),
            written_at: now,
            pipeline: self.pipeline.snapshot(),
            store: self.store.snapshot(),
            clusters: self.pipeline.fingerprinter().export(),
            recent_ids: self.recent.to_vec(),
            max_event_time: self.max_event_time,
        };
        self.dirty = false;
        (c, Settlement(std::mem::take(&mut self.unsettled)))
    }

    /// The checkpoint that went with `s` is durable: ack its messages. This is the only place
    /// a taken message is acked (see the ack rule on [`Consumer::checkpoint`]).
    pub fn settle(&mut self, s: Settlement) {
        self.stats.checkpoints += 1;
        self.stats.acked += s.0.len() as u64;
        for a in s.0 {
            a.ack();
        }
    }

    /// The checkpoint that went with `s` was not written: its messages wait for the next.
    pub fn retry(&mut self, mut s: Settlement) {
        self.dirty = true;
        s.0.append(&mut self.unsettled);
        self.unsettled = s.0;
    }

    /// Messages taken but not yet in a durable checkpoint.
    pub fn unsettled(&self) -> usize {
        self.unsettled.len()
    }

    pub fn stats(&self) -> LiveStats {
        self.stats
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Tells `hook` of every entry counted from now on (the alert stage's activity feed).
    pub fn on_activity(&mut self, hook: crate::pipeline::ActivityHook) {
        self.pipeline.on_activity(hook);
    }
}

#[cfg(test)]
mod tests;
