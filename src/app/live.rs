//! `run`: a message source → the live consumer → worklogs → GitHub issues, with checkpoints in
//! between.
//!
//! The source is the only stage that watches shutdown. When it fires the source stops pulling
//! and drops its sender; the consumer takes what is still queued, closes due windows (all of
//! them with `live.flush_on_shutdown`), writes their worklogs, writes a last checkpoint and
//! acks; the source then waits for the client to flush those acks, and `run` returns.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::internal_events as ev;
use crate::live::{CheckpointError, CheckpointStore, Consumer, LiveStats};
use crate::pipeline::{Counts, Event};
use crate::report::WindowReport;
use crate::sinks::alert::AlertHandle;
use crate::sinks::github::{AnyIssueSink, SyncReport};
use crate::sinks::metrics::{installed, Readiness};
use crate::sinks::worklog::{WorklogError, WorklogSink};
use crate::source::delivery::{Delivery, MessageSource, SourceError, SourceStats};

/// Messages in flight from the source to the consumer: a few batches' worth. The real bound
/// on unacked work is Pub/Sub's flow control (`max_outstanding_messages` per stream); this
/// queue only smooths the hand-over between tasks.
const DELIVERY_QUEUE: usize = 1024;
/// Messages the consumer takes per wake-up.
const BATCH: usize = 256;
/// After the consumer is done, how long the source may take to flush acks: `run` must end
/// within 10 s of the signal even if Pub/Sub does not answer.
const SOURCE_DRAIN: Duration = Duration::from_secs(5);

/// Why `run` stopped. Each maps to an exit code (see `main.rs`).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The subscription could not be pulled: exit code 3.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The checkpoint could not be read at start (exit code 3), or the last one could not be
    /// written at the end (exit code 5: the unacked messages will be redelivered).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A worklog could not be written: exit code 4; nothing after it was acked.
    #[error(transparent)]
    Worklog(#[from] WorklogError),
    /// A task panicked: exit code 1 (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a live run did.
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    pub source: SourceStats,
    pub stats: LiveStats,
    pub counts: Counts,
    pub written: Vec<PathBuf>,
    pub reports: Vec<WindowReport>,
    /// One per window when the GitHub sink is on.
    pub github: Vec<SyncReport>,
}

/// What `run` reports while it runs: readiness for `/readyz` and, when alerts are configured,
/// the alert stage's handle (new clusters and escalations go there at once).
#[derive(Default)]
pub struct Observe {
    pub readiness: Readiness,
    pub alerts: Option<AlertHandle>,
}

/// Where closed windows go: the worklog, written inline, then the GitHub stage (its own task:
/// a sync may wait on rate limits, the consumer must not).
struct Outputs<W> {
    worklog: W,
    issues: Option<mpsc::Sender<WindowReport>>,
}

impl<W: WorklogSink> Outputs<W> {
    /// Worklogs are written before the checkpoint that records their window as closed (see the
    /// ack rule in `live::consumer`). They are rare (one per hop), so the write is done inline.
    async fn write(
        &mut self,
        reports: Vec<WindowReport>,
        summary: &mut LiveSummary,
    ) -> Result<(), LiveError> {
        for r in reports {
            summary.written.extend(self.worklog.write(&r)?);
            if let Some(m) = installed() {
                m.record_window(&r);
            }
            if let Some(issues) = &self.issues {
                // Waits only when the GitHub stage is ISSUE_QUEUE windows behind.
                let _ = issues.send(r.clone()).await;
            }
            summary.reports.push(r);
        }
        Ok(())
    }
}

/// Runs until `shutdown` (or until the source ends), then drains as described above.
pub async fn run(
    settings: Arc<Settings>,
    source: impl MessageSource,
    checkpoints: Arc<dyn CheckpointStore>,
    worklog: impl WorklogSink + 'static,
    issues: Option<AnyIssueSink>,
    obs: Observe,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<LiveSummary, LiveError> {
    let loader = checkpoints.clone();
    let loaded = tokio::task::spawn_blocking(move || loader.load())
        .await
        .map_err(|e| LiveError::Internal(e.to_string()))??;
    let mut consumer = Consumer::new(settings.clone(), loaded);
    obs.readiness.set_checkpoint_loaded(true);
    if let Some(alerts) = obs.alerts.clone() {
        consumer.on_activity(Box::new(move |id, at| alerts.observe(id, at)));
    }
    let (tx, mut rx) = mpsc::channel::<Delivery>(DELIVERY_QUEUE);
    let source = tokio::spawn(source.run(tx, shutdown));
    let (issue_tx, issue_rx) = mpsc::channel::<WindowReport>(super::ISSUE_QUEUE);
    let issues = issues.map(|sink| tokio::spawn(super::run_issues(sink, issue_rx)));
    let mut out = Outputs {
        worklog,
        issues: issues.is_some().then_some(issue_tx),
    };

    let mut summary = LiveSummary::default();
    let consumed = consume(
        &mut consumer,
        &mut rx,
        &checkpoints,
        &mut out,
        &obs,
        &mut summary,
    )
    .await;
    // Nothing more is taken; a source still sending sees a closed channel and stops.
    drop(rx);
    let finished = match consumed {
        Ok(()) => finish(&mut consumer, &checkpoints, &mut out, &obs, &mut summary).await,
        Err(e) => Err(e),
    };
    summary.stats = consumer.stats();
    summary.counts = consumer.pipeline().counts();
    // Unsettled messages (only if the last checkpoint failed) are nacked here; the activity
    // hook's alert handle goes with the consumer, the last one with `obs` (the alert stage then
    // delivers what is queued and ends).
    drop(consumer);
    obs.readiness.set_source_connected(false);
    drop(obs);
    let source = match tokio::time::timeout(SOURCE_DRAIN, source).await {
        Ok(joined) => joined.map_err(|e| LiveError::Internal(e.to_string()))?,
        Err(_) => {
            tracing::warn!("Pub/Sub did not confirm the last acks in time; they may be redelivered (and recognised)");
            Ok(SourceStats::default())
        }
    };
    // The GitHub stage ends when its channel closes; what it cannot send in time waits in its
    // outbox for the next start.
    drop(out);
    if let Some(task) = issues {
        match tokio::time::timeout(SOURCE_DRAIN, task).await {
            Ok(joined) => {
                summary.github = joined.map_err(|e| LiveError::Internal(e.to_string()))??
            }
            Err(_) => tracing::warn!(
                "GitHub sync still busy at shutdown; the next start resumes from the outbox"
            ),
        }
    }
    finished?;
    summary.source = source?;
    Ok(summary)
}

/// The consumer loop: each arm makes one call into the core or one effect.
async fn consume(
    consumer: &mut Consumer,
    rx: &mut mpsc::Receiver<Delivery>,
    checkpoints: &Arc<dyn CheckpointStore>,
    out: &mut Outputs<impl WorklogSink>,
    obs: &Observe,
    summary: &mut LiveSummary,
) -> Result<(), LiveError> {
    let settings = consumer_settings(consumer);
    let live = &settings.live;
    let mut tick = tokio::time::interval(live.tick);
    let mut every = tokio::time::interval(live.checkpoint_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut batch, mut events) = (Vec::with_capacity(BATCH), Vec::new());
    let early = early_checkpoint_at(&settings);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return Ok(());
                }
                take(consumer, &mut batch, &mut events);
                if consumer.unsettled() >= early {
                    // Unacked messages hold Pub/Sub's flow control back: do not wait for the
                    // timer when half the allowance is waiting for a checkpoint.
                    checkpoint(consumer, checkpoints).await;
                }
            }
            _ = tick.tick() => {
                // The source has been pulling for a tick without failing: ready.
                obs.readiness.set_source_connected(true);
                let reports = consumer.close_due(Utc::now(), &mut events);
                out.write(reports, summary).await?;
            }
            _ = every.tick() => {
                checkpoint(consumer, checkpoints).await;
            }
        }
        handle_events(consumer, obs, &mut events);
    }
}

/// Half of what the service lets all streams hold unacked.
fn early_checkpoint_at(s: &Settings) -> usize {
    let allowance = s.pubsub.max_outstanding_messages.max(1) as usize * s.pubsub.streams;
    (allowance / 2).max(1)
}

fn consumer_settings(c: &Consumer) -> Arc<Settings> {
    c.pipeline().settings().clone()
}

fn take(consumer: &mut Consumer, batch: &mut Vec<Delivery>, events: &mut Vec<Event>) {
    for d in batch.drain(..) {
        consumer.accept(d, events);
    }
}

/// New-cluster and escalation events were logged (and counted) as they happened; GitHub
/// issues and alerts will take them here.
/// New clusters and escalations go to the alert stage at once (it filters by priority, rate
/// limits and damps flapping); without alerts they were logged when they happened.
fn handle_events(consumer: &Consumer, obs: &Observe, events: &mut Vec<Event>) {
    if let Some(alerts) = &obs.alerts {
        let pipeline = consumer.pipeline();
        let policy = &pipeline.settings().escalation;
        for e in events.iter() {
            if let Some(a) = crate::live::alerts::to_alert(e, pipeline.fingerprinter(), policy) {
                alerts.notify(a);
            }
        }
    }
    events.clear();
}

/// The input is closed: close windows, write their worklogs, then the last checkpoint (which
/// acks everything taken).
async fn finish(
    consumer: &mut Consumer,
    checkpoints: &Arc<dyn CheckpointStore>,
    out: &mut Outputs<impl WorklogSink>,
    obs: &Observe,
    summary: &mut LiveSummary,
) -> Result<(), LiveError> {
    let mut events = Vec::new();
    let reports = if consumer_settings(consumer).live.flush_on_shutdown {
        consumer.flush(&mut events)
    } else {
        consumer.close_due(Utc::now(), &mut events)
    };
    handle_events(consumer, obs, &mut events);
    out.write(reports, summary).await?;
    match checkpoint(consumer, checkpoints).await {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Writes a checkpoint if anything changed and, once it is durable, acks what it holds.
/// A failure is logged; its messages wait for the next checkpoint. Returns the failure.
async fn checkpoint(
    consumer: &mut Consumer,
    checkpoints: &Arc<dyn CheckpointStore>,
) -> Option<CheckpointError> {
    if !consumer.needs_checkpoint() {
        return None;
    }
    let started = std::time::Instant::now();
    let (snapshot, settlement) = consumer.checkpoint(Utc::now());
    let store = checkpoints.clone();
    let saved = tokio::task::spawn_blocking(move || store.save(&snapshot))
        .await
        .unwrap_or_else(|e| {
            Err(CheckpointError::Write {
                path: PathBuf::new(),
                detail: e.to_string(),
            })
        });
    match saved {
        Ok(()) => {
            let acked = settlement.len();
            consumer.settle(settlement);
            ev::CheckpointWritten {
                acked,
                took: started.elapsed(),
            }
            .emit();
            None
        }
        Err(e) => {
            let waiting = settlement.len();
            consumer.retry(settlement);
            ev::CheckpointFailed { error: &e, waiting }.emit();
            Some(e)
        }
    }
}

#[cfg(test)]
mod tests;
