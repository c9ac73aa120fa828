//! One receiver's lane: its bounded outbox and the task that delivers it, retrying retryable
//! failures with exponential backoff. The state task pushes and never waits; only this task
//! waits on the network.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::outbox::Outbox;
use super::{AlertPost, AlertSink, DeliveryError};
use crate::telemetry::events as ev;
use crate::telemetry::metrics::DeliveryOutcome;

/// Attempts per batch before it is given up (about 16 s of backoff in all); the alerts are
/// posted again at the next re-post anyway.
pub const MAX_ATTEMPTS: u32 = 6;

/// Longest a single delivery attempt may take before it counts as a retryable failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Wait before attempt `attempt + 1` after `attempt` failures: 250 ms doubling, at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(30_000))
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
    receiver: &'static str,
    shared: Arc<Shared>,
    wants: Box<dyn Fn(&AlertPost) -> bool + Send + Sync>,
    batch_max: usize,
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
            receiver: sink.receiver(),
            shared: Arc::new(Shared {
                outbox: Mutex::new(Outbox::new(capacity)),
                wake: Notify::new(),
                closed: Default::default(),
            }),
            wants: Box::new(move |p| w.wants(p)),
            batch_max: sink.batch_max().max(1),
            deliver: Arc::new(deliver),
        }
    }

    /// The receiver's name (the `receiver` metric label).
    pub fn receiver(&self) -> &'static str {
        self.receiver
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        lock(&self.shared)
    }

    /// Queues a post for this receiver if it wants it. Never waits.
    pub fn push(&self, post: &AlertPost) {
        if !(self.wants)(post) {
            return;
        }
        let dropped = self.outbox().push(post.clone());
        for _ in 0..dropped {
            ev::AlertDropped {
                receiver: self.receiver,
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
        let (shared, deliver) = (self.shared.clone(), self.deliver.clone());
        let (receiver, batch_max) = (self.receiver, self.batch_max);
        tokio::spawn(async move {
            loop {
                let batch = lock(&shared).take(batch_max);
                if batch.is_empty() {
                    if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
                        return;
                    }
                    shared.wake.notified().await;
                    continue;
                }
                deliver_with_retries(receiver, &shared, &deliver, batch, batch_max).await;
            }
        })
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Outbox> {
    match shared.outbox.lock() {
        Ok(g) => g,
        // The queue holds plain data; a panic elsewhere cannot leave it half-updated.
        Err(poisoned) => poisoned.into_inner(),
    }
}

async fn deliver_with_retries(
    receiver: &'static str,
    shared: &Shared,
    deliver: &Deliver,
    mut batch: Vec<AlertPost>,
    batch_max: usize,
) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let n = batch.len();
        let result = match tokio::time::timeout(ATTEMPT_TIMEOUT, deliver(batch.clone())).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Retryable("timed out".into())),
        };
        let (outcome, error) = match &result {
            Ok(()) => (DeliveryOutcome::Delivered, None),
            Err(DeliveryError::Retryable(e)) if attempt < MAX_ATTEMPTS => {
                (DeliveryOutcome::Retried, Some(e.as_str()))
            }
            Err(DeliveryError::Retryable(e) | DeliveryError::Permanent(e)) => {
                (DeliveryOutcome::Failed, Some(e.as_str()))
            }
        };
        ev::AlertDelivery {
            receiver,
            outcome,
            alerts: n,
            error,
        }
        .emit();
        if outcome != DeliveryOutcome::Retried {
            return;
        }
        tokio::time::sleep(backoff(attempt)).await;
        // Posts that arrived meanwhile supersede the failed ones of the same alert.
        let mut o = lock(shared);
        for _ in 0..o.requeue(batch) {
            ev::AlertDropped { receiver }.emit();
        }
        batch = o.take(batch_max);
        if batch.is_empty() {
            return;
        }
    }
}
