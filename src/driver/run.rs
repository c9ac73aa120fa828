//! The driver's async shell: the one loop `replay` and `run` share. It takes batches from the
//! source, hands each delivery to the [`Consumer`], closes due windows on a timer (streams
//! only), writes checkpoints (when there is a store) and acks what they hold, and hands closed
//! windows and events to the [`Outputs`]. Each `select!` arm makes one call into the core or
//! one effect.
//!
//! Drain order: the source is the only stage that watches shutdown. When its channel closes,
//! the driver closes windows (all of them for a bounded input or with
//! `live.flush_on_shutdown`), hands them to the outputs, writes the last checkpoint and acks.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Notify};

use super::checkpoint::{CheckpointError, CheckpointStore};
use super::consumer::{Consumer, Event, LiveStats};
use crate::alerting::AlertSnapshot;
use crate::clock::Clock;
use crate::config::Settings;
use crate::pipeline::{Counts, Outcome, Pipeline};
use crate::report::{MalformedSummary, WindowReport};
use crate::source::{Batch, Boundedness};
use crate::telemetry::events as ev;
use crate::telemetry::Readiness;

/// Where the driver's results go; the app wiring implements it with the sinks (worklog,
/// GitHub issues, alerts, metrics), tests with recorders.
pub trait Outputs: Send {
    /// Why an output failed; the run stops (the app maps it to an exit code).
    type Error: std::error::Error + Send + Sync + 'static;

    /// After each batch: what was counted (alert activity, lag) and what is worth telling.
    /// Must not block: it runs between batches.
    fn observed(
        &mut self,
        outcomes: &[Outcome],
        events: &[Event],
        pipeline: &Pipeline,
        now: DateTime<Utc>,
    );

    /// The alert stage's state to keep with the next checkpoint, if there is an alert stage.
    fn alert_state(&self) -> Option<AlertSnapshot> {
        None
    }

    /// The checkpoint holding the alert state of this `seq` is durable.
    fn alert_state_durable(&mut self, _seq: u64) {}

    /// Notified when an alert's fire waits for the checkpoint holding it: the driver writes
    /// one at once.
    fn fire_held(&self) -> Option<Arc<Notify>> {
        None
    }

    /// Windows just closed, oldest first. Called before the checkpoint that records them as
    /// closed, so a crash in between writes them again rather than never.
    fn closed(
        &mut self,
        reports: Vec<WindowReport>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Why the driver stopped early. Each maps to an exit code in the app.
#[derive(Debug, thiserror::Error)]
pub enum DriveError<E: std::error::Error + 'static> {
    /// The last checkpoint could not be written: its messages stay unacked and are
    /// redelivered on the next start (exit code 5).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// An output failed (a worklog could not be written: exit code 4); nothing after it was
    /// acked.
    #[error(transparent)]
    Output(E),
}

/// What the driver did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveSummary {
    pub stats: LiveStats,
    pub counts: Counts,
    /// Windows closed.
    pub windows: u64,
    /// Refused input no worklog told (no window closed after it).
    pub unreported: MalformedSummary,
}

/// Batches the driver takes per wake-up before it looks at its timers again.
const BATCHES_PER_TURN: usize = 16;

/// The loop and what it drives.
pub struct Driver<O> {
    pub settings: Arc<Settings>,
    pub consumer: Consumer,
    /// `None` for a bounded input: nothing to make durable, so deliveries settle at once.
    pub checkpoints: Option<Arc<dyn CheckpointStore>>,
    pub outputs: O,
    pub clock: Clock,
    pub readiness: Readiness,
    /// The alert state's `seq` in the last durable checkpoint.
    pub alerts_committed: u64,
}

impl<O: Outputs> Driver<O> {
    /// Runs until the source closes its channel, then drains as described above.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Batch>,
    ) -> (O, Result<DriveSummary, DriveError<O::Error>>) {
        let mut summary = DriveSummary::default();
        let result = match self.consume(&mut rx, &mut summary).await {
            Ok(()) => {
                drop(rx);
                self.finish(&mut summary).await
            }
            Err(e) => Err(e),
        };
        summary.stats = self.consumer.stats();
        summary.counts = self.consumer.pipeline().counts();
        summary.unreported = self.consumer.pipeline().unreported_malformed().clone();
        (self.outputs, result.map(|()| summary))
    }

    async fn consume(
        &mut self,
        rx: &mut mpsc::Receiver<Batch>,
        summary: &mut DriveSummary,
    ) -> Result<(), DriveError<O::Error>> {
        let live = &self.settings.live;
        let streaming = self.consumer.boundedness() == Boundedness::Unbounded;
        let mut tick = interval(live.tick);
        let mut every = interval(live.checkpoint_every);
        let early = early_checkpoint_at(&self.settings);
        let fire_held = self.outputs.fire_held();
        let (mut batches, mut outcomes, mut events) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            tokio::select! {
                n = rx.recv_many(&mut batches, BATCHES_PER_TURN) => {
                    if n == 0 {
                        return Ok(());
                    }
                    let now = (self.clock)();
                    for d in batches.drain(..).flatten() {
                        self.consumer.accept(d, now, &mut outcomes, &mut events);
                        // A slice boundary of a large file closes windows: each is written
                        // before the next is made, all before the next entry.
                        self.close_pending(summary).await?;
                    }
                    if self.checkpoints.is_none() {
                        let settled = self.consumer.take_settlement();
                        self.consumer.settle(settled);
                    } else if self.consumer.unsettled() >= early {
                        // Unacked messages hold Pub/Sub's flow control back: do not wait for
                        // the timer when half the allowance is waiting for a checkpoint.
                        self.checkpoint().await;
                    }
                }
                _ = tick.tick(), if streaming => {
                    let now = (self.clock)();
                    let reports = self.consumer.close_due(now, &mut outcomes, &mut events);
                    self.close(reports, summary).await?;
                }
                _ = every.tick(), if self.checkpoints.is_some() => {
                    self.checkpoint().await;
                }
                // A page waits for the checkpoint holding it (so a crash never pages twice):
                // not for the timer too.
                _ = notified(&fire_held), if self.checkpoints.is_some() => {
                    self.checkpoint().await;
                }
            }
            self.tell(&mut outcomes, &mut events);
        }
    }

    /// Hands what was counted and the events to the outputs.
    fn tell(&mut self, outcomes: &mut Vec<Outcome>, events: &mut Vec<Event>) {
        if !outcomes.is_empty() || !events.is_empty() {
            let now = (self.clock)();
            let pipeline = self.consumer.pipeline();
            self.outputs.observed(outcomes, events, pipeline, now);
        }
        outcomes.clear();
        events.clear();
    }

    async fn close(
        &mut self,
        reports: Vec<WindowReport>,
        summary: &mut DriveSummary,
    ) -> Result<(), DriveError<O::Error>> {
        if reports.is_empty() {
            return Ok(());
        }
        summary.windows += reports.len() as u64;
        self.outputs
            .closed(reports)
            .await
            .map_err(DriveError::Output)
    }

    /// Writes the windows the consumer has closed and not yet handed over, one at a time.
    async fn close_pending(
        &mut self,
        summary: &mut DriveSummary,
    ) -> Result<(), DriveError<O::Error>> {
        while let Some(report) = self.consumer.next_closed() {
            self.close(vec![report], summary).await?;
        }
        Ok(())
    }

    /// The input is closed: close windows, hand them on, then the last checkpoint (which acks
    /// everything taken).
    async fn finish(&mut self, summary: &mut DriveSummary) -> Result<(), DriveError<O::Error>> {
        let (mut outcomes, mut events) = (Vec::new(), Vec::new());
        let flush = self.consumer.boundedness() == Boundedness::Bounded
            || self.settings.live.flush_on_shutdown;
        let reports = if flush {
            self.consumer.begin_flush(&mut outcomes, &mut events)
        } else {
            let now = (self.clock)();
            self.consumer.close_due(now, &mut outcomes, &mut events)
        };
        self.tell(&mut outcomes, &mut events);
        self.close(reports, summary).await?;
        self.close_pending(summary).await?;
        if self.checkpoints.is_none() {
            let settled = self.consumer.take_settlement();
            self.consumer.settle(settled);
            return Ok(());
        }
        match self.checkpoint_as(Stop::Clean).await {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Writes a checkpoint if anything changed and, once it is durable, acks what it holds.
    /// A failure is logged and shown in `/readyz`; its messages wait for the next checkpoint.
    /// Returns the failure.
    async fn checkpoint(&mut self) -> Option<CheckpointError> {
        self.checkpoint_as(Stop::Running).await
    }

    /// [`Driver::checkpoint`]; the last one of a clean stop is written even when nothing
    /// changed, to say so.
    async fn checkpoint_as(&mut self, stop: Stop) -> Option<CheckpointError> {
        let store = self.checkpoints.clone()?;
        let alerts = self.outputs.alert_state();
        let seq = alerts.as_ref().map_or(0, |a| a.seq);
        let clean_stop = stop == Stop::Clean;
        if !clean_stop && !self.consumer.needs_checkpoint() && seq <= self.alerts_committed {
            return None;
        }
        let started = std::time::Instant::now();
        let (mut snapshot, settlement) = self.consumer.checkpoint((self.clock)());
        snapshot.alerts = alerts;
        snapshot.clean_stop = clean_stop;
        let saved = tokio::task::spawn_blocking(move || store.save(&snapshot))
            .await
            .unwrap_or_else(|e| {
                Err(CheckpointError::Write {
                    path: std::path::PathBuf::new(),
                    detail: e.to_string(),
                })
            });
        match saved {
            Ok(()) => {
                let acked = settlement.len();
                self.consumer.settle(settlement);
                if seq > self.alerts_committed {
                    self.alerts_committed = seq;
                    self.outputs.alert_state_durable(seq);
                }
                self.readiness.checkpoint_written(Ok(()));
                ev::CheckpointWritten {
                    acked,
                    took: started.elapsed(),
                }
                .emit();
                None
            }
            Err(e) => {
                let waiting = settlement.len();
                self.consumer.retry(settlement);
                self.readiness.checkpoint_written(Err(e.to_string()));
                ev::CheckpointFailed { error: &e, waiting }.emit();
                Some(e)
            }
        }
    }
}

/// Whether a checkpoint is the last one of a clean stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Running,
    Clean,
}

fn interval(every: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(every);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// Half of what the service lets all streams hold unacked.
fn early_checkpoint_at(s: &Settings) -> usize {
    let allowance = s.pubsub.allowance().0;
    (allowance / 2).max(1)
}

/// Resolves when `n` is notified; never without one.
async fn notified(n: &Option<Arc<Notify>>) {
    match n {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}
