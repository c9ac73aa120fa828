//! The driver's synchronous core: deliveries in; window reports, outcomes and events out; and
//! the bookkeeping that decides when a message may be acked. No I/O, no clock: the shell
//! (`driver::run`) calls it from its `select!` loop, passing the time in, and writes the
//! checkpoint it makes. A bounded input (a file) and a stream (Pub/Sub) go through the same
//! core; only a durable input (one with a checkpoint store) holds its ackers and remembers
//! message ids.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::checkpoint::{Checkpoint, SCHEMA};
use super::dedupe::RecentIds;
use super::escalation::EscalationTracker;
use super::watermark::HeldWatermark;
use crate::config::{OnMalformed, Settings, Watermark};
use crate::entry::Severity;
use crate::fingerprint::{ClusterId, Fingerprinter};
use crate::pipeline::{revision_horizon, Counted, KeyList, Outcome, Pipeline};
use crate::report::WindowReport;
use crate::source::{Acker, Boundedness, Delivery, Input};
use crate::telemetry::events as ev;
use crate::window::{MemoryStore, Schedule};

/// Something worth telling as soon as it happens, always about the canonical cluster (the
/// fine id that triggered it comes along: it names the cluster's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The first entry of a cluster never seen before.
    NewCluster {
        cluster: ClusterId,
        fine: ClusterId,
        severity: Severity,
        at: DateTime<Utc>,
    },
    /// A cluster's entries in the trailing hour reached a count tier.
    Escalation {
        cluster: ClusterId,
        fine: ClusterId,
        count: u64,
        at_least: u64,
        raise: i32,
        at: DateTime<Utc>,
    },
}

/// What the consumer did, for the summary and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub delivered: u64,
    /// Redeliveries of messages already taken: not counted again.
    pub redeliveries: u64,
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
    input: Boundedness,
    pipeline: Pipeline,
    store: Arc<MemoryStore>,
    /// Message ids of recent deliveries (durable inputs only: a file is never redelivered).
    recent: Option<RecentIds>,
    escalation: EscalationTracker,
    /// Ackers of messages whose entries are in the state but not yet in a durable checkpoint.
    /// Bounded by Pub/Sub's flow control (`max_outstanding_*` per stream), and the shell
    /// checkpoints early when half of that allowance is waiting here.
    unsettled: Vec<Box<dyn Acker>>,
    /// The event-time watermark, held back by `live.hold_back` of clock time.
    watermark: HeldWatermark,
    /// After a restart, tracebacks are not released as idle before this clock time.
    stitch_hold: StitchHold,
    /// The clock as last passed in.
    now: DateTime<Utc>,
    /// The state changed since the last checkpoint.
    dirty: bool,
    stats: LiveStats,
}

impl Consumer {
    /// A consumer of `input`, continuing from `checkpoint` (or afresh). `durable`: a checkpoint
    /// store will hold the state, so ackers wait for it and redeliveries are recognised.
    pub fn new(
        settings: Arc<Settings>,
        input: Boundedness,
        checkpoint: Option<Checkpoint>,
        durable: bool,
    ) -> Consumer {
        let schedule = Schedule::new(&settings.window);
        let history = settings.window.history;
        let max_clusters = settings.fingerprint.max_clusters;
        let revise_within = revision_horizon(&settings, input);
        let dedupe = settings.live.dedupe_ids;
        let stitch_hold = match &checkpoint {
            Some(c) if !c.clean_stop => StitchHold::FromFirstDelivery(settings.live.hold_back),
            _ => StitchHold::Until(DateTime::<Utc>::MIN_UTC),
        };
        let (store, pipeline, recent, max_event_time, escalation) = match checkpoint {
            None => {
                let store = Arc::new(
                    MemoryStore::new(schedule, history)
                        .revising(revise_within)
                        .keeping_history_of(max_clusters),
                );
                let fp = Arc::new(Fingerprinter::with_config(settings.fingerprint.config));
                let p = Pipeline::new(settings.clone(), fp, store.clone(), input);
                let recent = durable.then(|| RecentIds::new(dedupe));
                (store, p, recent, None, None)
            }
            Some(c) => {
                let fp = Arc::new(Fingerprinter::from_state_with_config(
                    c.clusters,
                    settings.fingerprint.config,
                ));
                let store = Arc::new(
                    MemoryStore::restore(schedule, history, c.store)
                        .revising(revise_within)
                        .keeping_history_of(max_clusters),
                );
                let p = Pipeline::restore(settings.clone(), fp, store.clone(), c.pipeline);
                let recent = durable.then(|| RecentIds::from_vec(dedupe, c.recent_ids.0));
                (store, p, recent, c.max_event_time, c.escalation)
            }
        };
        let (tiers, span) = (
            settings.escalation.count_tiers.clone(),
            settings.window.length,
        );
        Consumer {
            escalation: match escalation {
                Some(snap) => EscalationTracker::restore(tiers, span, snap),
                None => EscalationTracker::new(tiers, span),
            },
            watermark: HeldWatermark::new(
                settings.live.hold_back,
                settings.window.length,
                max_event_time,
            ),
            stitch_hold,
            settings,
            input,
            pipeline,
            store,
            recent,
            unsettled: Vec::new(),
            now: DateTime::<Utc>::MIN_UTC,
            dirty: false,
            stats: LiveStats::default(),
        }
    }

    /// A replay's consumer: a bounded input, no checkpoint.
    pub fn for_replay(settings: Arc<Settings>) -> Consumer {
        Consumer::new(settings, Boundedness::Bounded, None, false)
    }

    pub fn boundedness(&self) -> Boundedness {
        self.input
    }

    /// Takes one delivery, pulled at clock time `now`. Its entry is counted (once: a
    /// redelivery of a message already taken is not; from a stream, only if its event time is
    /// within `live.max_age`/`max_ahead` of `now`); what became of it goes to `out`, events to
    /// `events`; its acker waits in
    /// `unsettled` for the next durable checkpoint.
    pub fn accept(
        &mut self,
        d: Delivery,
        now: DateTime<Utc>,
        out: &mut Vec<Outcome>,
        events: &mut Vec<Event>,
    ) {
        if let Input::Complete { before } = d.input {
            let from = out.len();
            self.pipeline.close_before(before, out);
            self.after_close(from, out, &[], events);
            return;
        }
        self.stats.delivered += 1;
        self.dirty = true;
        self.now = self.now.max(now);
        self.stitch_hold.start(now);
        let id = d.message_id().map(str::to_owned);
        if let (Some(recent), Some(id)) = (&mut self.recent, &id) {
            if recent.contains(id, now) {
                // Already counted, maybe not yet durably: ack it with the next checkpoint,
                // which holds the first delivery's count either way.
                self.stats.redeliveries += 1;
                ev::DuplicateMessage { id }.emit();
                self.unsettled.push(d.acker);
                return;
            }
        }
        let from = out.len();
        match &d.input {
            Input::Entry(raw) => {
                let bound = (self.input == Boundedness::Unbounded)
                    .then_some((self.settings.live.accepts, now));
                self.pipeline.ingest_within(raw, bound, out)
            }
            Input::Unreadable {
                origin,
                reason,
                detail,
            } => self.pipeline.reject(origin, reason, detail.clone(), out),
            Input::Complete { .. } => {} // handled above
        }
        let malformed = matches!(out.get(from), Some(Outcome::Malformed { .. }));
        if malformed && self.settings.pubsub.on_malformed == OnMalformed::Nack && id.is_some() {
            // Counted and reported, then handed back for the subscription's dead-letter
            // policy; not remembered, so each delivery is counted (and reported) again.
            self.stats.nacked += 1;
            d.acker.nack();
            return;
        }
        if let (Some(recent), Some(id)) = (&mut self.recent, &id) {
            recent.insert(id);
        }
        self.unsettled.push(d.acker);
        self.after_counted(&out[from..], events);
    }

    /// Events for what was just counted: new clusters, and count tiers crossed in the
    /// trailing hour (checked rarely: see `escalation`).
    fn after_counted(&mut self, outcomes: &[Outcome], events: &mut Vec<Event>) {
        for o in outcomes {
            let Outcome::Counted(c) = o else { continue };
            self.watermark.observe(c.at, self.now);
            if c.new_cluster {
                events.push(Event::NewCluster {
                    cluster: c.cluster,
                    fine: c.fine,
                    severity: c.severity,
                    at: c.at,
                });
            }
            self.escalate(c, events);
        }
    }

    fn escalate(&mut self, c: &Counted, events: &mut Vec<Event>) {
        let pipeline = &self.pipeline;
        let Some(crossing) = self
            .escalation
            .observe(c.cluster, c.at, |end| pipeline.count_last_of(c.fine, end))
        else {
            return;
        };
        ev::Escalation {
            id: c.cluster,
            count: crossing.count,
            at_least: crossing.tier.at_least,
            raise: crossing.tier.raise,
        }
        .emit();
        events.push(Event::Escalation {
            cluster: c.cluster,
            fine: c.fine,
            count: crossing.count,
            at_least: crossing.tier.at_least,
            raise: crossing.tier.raise,
            at: c.at,
        });
    }

    /// Closes the windows that are due at wall-clock time `now` (or by the latest event time
    /// held back by `live.hold_back`, with `live.watermark = "event-time"`), after counting
    /// the tracebacks no line joined for `stitch.horizon` of clock time (after a restart, not
    /// before `live.hold_back` has passed since its first delivery: see [`StitchHold`]). A
    /// bounded input closes nothing before its end.
    pub fn close_due(
        &mut self,
        now: DateTime<Utc>,
        out: &mut Vec<Outcome>,
        events: &mut Vec<Event>,
    ) -> Vec<WindowReport> {
        if self.input == Boundedness::Bounded {
            return Vec::new();
        }
        self.now = self.now.max(now);
        let from = out.len();
        if self.stitch_hold.over(now) {
            self.pipeline.release_idle(now, out);
        } else {
            // Held for the dead process's redeliveries, but a page waits for none of them.
            self.pipeline.release_idle_paging(now, out);
        }
        let watermark = match self.settings.live.watermark {
            Watermark::WallClock => Some(now),
            Watermark::EventTime => self.watermark.at(now),
        };
        let reports = match watermark {
            Some(w) => self.pipeline.close_due(w, out),
            None => Vec::new(),
        };
        self.after_close(from, out, &reports, events);
        reports
    }

    /// The next window a slice boundary of a bounded input (see [`Input::Complete`]) or
    /// [`Consumer::begin_flush`] closed, oldest first, one at a time: the driver writes each
    /// before the next is made, and takes them all before the next delivery.
    pub fn next_closed(&mut self) -> Option<WindowReport> {
        let report = self.pipeline.next_closed()?;
        self.escalation.reset();
        self.dirty = true;
        Some(report)
    }

    /// Closes every window holding entries: the end of a bounded input, or a stream's
    /// shutdown with `live.flush_on_shutdown`.
    pub fn flush(&mut self, out: &mut Vec<Outcome>, events: &mut Vec<Event>) -> Vec<WindowReport> {
        let mut reports = self.begin_flush(out, events);
        reports.extend(std::iter::from_fn(|| self.next_closed()));
        reports
    }

    /// [`Consumer::flush`] one window at a time: the revisions due now, the rest from
    /// [`Consumer::next_closed`].
    pub fn begin_flush(
        &mut self,
        out: &mut Vec<Outcome>,
        events: &mut Vec<Event>,
    ) -> Vec<WindowReport> {
        let from = out.len();
        let reports = self.pipeline.begin_finish(out);
        self.after_close(from, out, &reports, events);
        reports
    }

    fn after_close(
        &mut self,
        from: usize,
        out: &[Outcome],
        reports: &[WindowReport],
        events: &mut Vec<Event>,
    ) {
        // Held tracebacks released by the close were counted; see whether they escalate.
        self.after_counted(&out[from..], events);
        if !reports.is_empty() {
            self.escalation.reset();
        }
        self.dirty |= out.len() > from || !reports.is_empty();
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
            recent_ids: self
                .recent
                .as_ref()
                .map(|r| KeyList(r.to_vec()))
                .unwrap_or_default(),
            max_event_time: self.watermark.latest(),
            alerts: None,
            escalation: Some(self.escalation.snapshot()),
            clean_stop: false,
        };
        self.dirty = false;
        (c, self.take_settlement())
    }

    /// Without a checkpoint store (a bounded input): what was taken is settled at once.
    pub fn take_settlement(&mut self) -> Settlement {
        Settlement(std::mem::take(&mut self.unsettled))
    }

    /// The checkpoint that went with `s` is durable (or there is none to wait for): ack its
    /// messages. This is the only place a taken message is acked (see the ack rule on
    /// [`Consumer::checkpoint`]).
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
}

/// When a restarted process may release tracebacks as idle. The dead process's leased
/// messages come back only once their lease runs out (60 s with the client's default), and
/// the next process is handed newer ones first: the last lines of a traceback the crash cut
/// arrive before its first ones. Released after `stitch.horizon` of idle clock time, its two
/// halves would be counted as two fragments; held for `live.hold_back` from the first delivery
/// (what the watermark holds back for the same redeliveries), the halves meet and it counts
/// once, whole, as `replay` counts it. A fresh start (no checkpoint) and a start after a clean
/// stop (its last checkpoint holds every message it was handed) hold nothing: no earlier
/// process's leased messages come back. A traceback that would page as it stands is not held
/// (`Pipeline::release_idle_paging`): the page goes out within seconds, and if the rest comes,
/// the part is retracted, its alert resolved, and the whole counted.
#[derive(Debug, Clone, Copy)]
enum StitchHold {
    /// Restored from a checkpoint, nothing delivered yet: the hold starts at the first delivery.
    FromFirstDelivery(chrono::TimeDelta),
    Until(DateTime<Utc>),
}

impl StitchHold {
    fn start(&mut self, now: DateTime<Utc>) {
        if let StitchHold::FromFirstDelivery(hold) = *self {
            *self = StitchHold::Until(now + hold);
        }
    }

    fn over(&self, now: DateTime<Utc>) -> bool {
        matches!(*self, StitchHold::Until(until) if now >= until)
    }
}

#[cfg(test)]
mod tests;
