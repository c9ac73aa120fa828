//! One receiver's lane: its bounded outbox and the task that delivers it, retrying retryable
//! failures with exponential backoff for as long as the alert's state is worth delivering
//! (`patience`: Alertmanager's resolve_timeout). A post being retried is replaced by a newer
//! state of its alert that arrived meanwhile. The state task pushes and never waits; only this
//! task waits on the network.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::outbox::{Outbox, Queued};
use super::{AlertPost, AlertSink, DeliveryError};
use crate::telemetry::events as ev;
use crate::telemetry::metrics::DeliveryOutcome;

/// Longest a single delivery attempt may take before it counts as a retryable failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest wait between two attempts: a receiver back from an outage gets the queue within
/// this.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// How long a post is retried when nobody said (Alertmanager's default resolve_timeout).
const DEFAULT_PATIENCE: Duration = Duration::from_secs(300);

/// Wait before attempt `attempt + 1` after `attempt` failures: 250 ms doubling, at most 15 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

struct Shared {
    outbox: Mutex<Outbox>,
    wake: Notify,
    closed: std::sync::atomic::AtomicBool,
}

type Deliver = Box<
    dyn Fn(
            Vec<AlertPost>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DeliveryError>> + Send>>
        + Send
        + Sync,
>;

/// A receiver with its queue. Build one per Alertmanager URL and one for the webhook.
pub struct Lane {
    receiver: Arc<str>,
    shared: Arc<Shared>,
    wants: Box<dyn Fn(&AlertPost) -> bool + Send + Sync>,
    batch_max: usize,
    patience: Duration,
    deliver: Arc<Deliver>,
}

impl Lane {
    /// `capacity` posts may wait; beyond that the oldest is dropped and counted.
    pub fn new<S: AlertSink>(sink: S, capacity: usize) -> Lane {
        let sink = Arc::new(sink);
        let (w, d) = (sink.clone(), sink.clone());
        let deliver: Deliver = Box::new(move |batch| {
            let d = d.clone();
            Box::pin(async move { d.deliver(&batch).await })
        });
        Lane {
            receiver: sink.receiver().into(),
            shared: Arc::new(Shared {
                outbox: Mutex::new(Outbox::new(capacity)),
                wake: Notify::new(),
                closed: Default::default(),
            }),
            wants: Box::new(move |p| w.wants(p)),
            batch_max: sink.batch_max().max(1),
            patience: DEFAULT_PATIENCE,
            deliver: Arc::new(deliver),
        }
    }

    /// How long a post is retried before it is given up (the alert stage sets its policy's
    /// `hold_for`, i.e. resolve_timeout).
    pub fn set_patience(&mut self, patience: Duration) {
        self.patience = patience;
    }

    /// The receiver's name (the `receiver` metric label).
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// Queues a post for this receiver if it wants it. Never waits.
    pub fn push(&self, post: &AlertPost) {
        if !(self.wants)(post) {
            return;
        }
        let q = Queued {
            post: post.clone(),
            since: Instant::now(),
        };
        let dropped = lock(&self.shared).push(q);
        for _ in 0..dropped {
            ev::AlertDropped {
                receiver: &self.receiver,
            }
            .emit();
        }
        self.shared.wake.notify_one();
    }

    /// No more posts will come: the task delivers what is queued and ends.
    pub fn close(&self) {
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.wake.notify_one();
    }

    /// Spawns the delivery task.
    pub fn start(&self) -> JoinHandle<()> {
        let lane = Worker {
            receiver: self.receiver.clone(),
            shared: self.shared.clone(),
            deliver: self.deliver.clone(),
            batch_max: self.batch_max,
            patience: self.patience,
        };
        tokio::spawn(lane.run())
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Outbox> {
    match shared.outbox.lock() {
        Ok(g) => g,
        // The queue holds plain data; a panic elsewhere cannot leave it half-updated.
        Err(poisoned) => poisoned.into_inner(),
    }
}

struct Worker {
    receiver: Arc<str>,
    shared: Arc<Shared>,
    deliver: Arc<Deliver>,
    batch_max: usize,
    patience: Duration,
}

impl Worker {
    async fn run(self) {
        loop {
            let batch = lock(&self.shared).take(self.batch_max);
            if batch.is_empty() {
                if self
                    .shared
                    .closed
                    .load(std::sync::atomic::Ordering::Acquire)
                {
                    return;
                }
                self.shared.wake.notified().await;
                continue;
            }
            self.deliver_with_retries(batch).await;
        }
    }

    async fn deliver_with_retries(&self, mut batch: Vec<Queued>) {
        let receiver = &*self.receiver;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let posts: Vec<AlertPost> = batch.iter().map(|q| q.post.clone()).collect();
            let n = posts.len();
            let result = match tokio::time::timeout(ATTEMPT_TIMEOUT, (self.deliver)(posts)).await {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::Retryable("timed out".into())),
            };
            let error = match result {
                Ok(()) => {
                    ev::AlertDelivery {
                        receiver,
                        outcome: DeliveryOutcome::Delivered,
                        alerts: n,
                        error: None,
                    }
                    .emit();
                    return;
                }
                Err(DeliveryError::Permanent(e)) => {
                    ev::AlertDelivery {
                        receiver,
                        outcome: DeliveryOutcome::Failed,
                        alerts: n,
                        error: Some(&e),
                    }
                    .emit();
                    return;
                }
                Err(DeliveryError::Retryable(e)) => e,
            };
            // Give up on states older than the receiver would keep anyway.
            let now = Instant::now();
            let (keep, expired): (Vec<Queued>, Vec<Queued>) = batch
                .into_iter()
                .partition(|q| now.duration_since(q.since) + backoff(attempt) < self.patience);
            if !expired.is_empty() {
                ev::AlertDelivery {
                    receiver,
                    outcome: DeliveryOutcome::Failed,
                    alerts: expired.len(),
                    error: Some(&error),
                }
                .emit();
            }
            if !keep.is_empty() {
                ev::AlertDelivery {
                    receiver,
                    outcome: DeliveryOutcome::Retried,
                    alerts: keep.len(),
                    error: Some(&error),
                }
                .emit();
            }
            tokio::time::sleep(backoff(attempt)).await;
            // Posts that arrived meanwhile supersede the failed ones of the same alert.
            let mut o = lock(&self.shared);
            for _ in 0..o.requeue(keep) {
                ev::AlertDropped { receiver }.emit();
            }
            batch = o.take(self.batch_max);
            if batch.is_empty() {
                return;
            }
        }
    }
}
