//! Near-real-time alerts: a new P0/P1 cluster or an escalation reaches the on-call engineer's
//! Alertmanager (API v2, every URL of an HA set) and optionally a Slack-compatible webhook
//! within a second.
//!
//! The shell around the pure [`AlertState`]: one task owns the state and ticks it, one
//! delivery task per receiver drains that receiver's bounded [`outbox::Outbox`] with retries
//! and backoff. The pipeline side only ever calls [`AlertHandle::notify`] (a `try_send`) and
//! [`AlertHandle::observe`] (a map update), so a slow or dead receiver never blocks it.

mod deliver;
mod outbox;
pub mod payload;
pub mod receivers;
#[cfg(any(test, feature = "test-util"))]
mod recording;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use dashmap::DashMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use crate::alerting::{
    Admission, AlertEvent, AlertKind, AlertPost, AlertState, Change, Policy,
};
pub use deliver::{backoff, Lane, MAX_ATTEMPTS};
pub use receivers::{Alertmanager, Webhook};
#[cfg(any(test, feature = "test-util"))]
pub use recording::RecordingSink;

use crate::config::AlertSettings;
use crate::fingerprint::ClusterId;
use crate::telemetry::events as ev;

/// How often the state task looks for due re-posts and quiet clusters. Events do not wait
/// for it: each one is handled, and its alert queued for delivery, as it arrives.
pub const TICK: Duration = Duration::from_secs(1);

/// Events waiting for the state task: new clusters and escalations are rare (a handful an
/// hour); 1024 absorbs a burst at startup without ever making the pipeline wait.
pub const EVENT_QUEUE: usize = 1024;

/// Why a delivery attempt failed; each variant says what happens next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Connection refused, timeout, 5xx, 429: retried with backoff, up to [`MAX_ATTEMPTS`].
    #[error("retryable: {0}")]
    Retryable(String),
    /// Any other 4xx (a malformed post, a wrong URL): dropped at once and counted as failed.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A receiver of alert posts: Alertmanager, a webhook, or a recording fake in tests.
pub trait AlertSink: Send + Sync + 'static {
    /// The `receiver` label of the delivery metrics.
    fn receiver(&self) -> &'static str;

    /// Whether this receiver needs `post` at all (a chat needs no re-posts).
    fn wants(&self, _post: &AlertPost) -> bool {
        true
    }

    /// Most posts per delivery attempt (Alertmanager takes a list; a chat one message each).
    fn batch_max(&self) -> usize {
        usize::MAX
    }

    fn deliver(
        &self,
        posts: &[AlertPost],
    ) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send;
}

pub use crate::clock::Clock;

type Activity = DashMap<ClusterId, (ClusterId, i64)>;

/// The pipeline's side of the alert stage. Cloning is cheap; the stage ends (after delivering
/// what is queued) when every handle is dropped.
#[derive(Clone)]
pub struct AlertHandle {
    /// Held by the run wiring; the state task holds the receiver.
    events: mpsc::Sender<AlertEvent>,
    /// Per watched id (a tracked cluster or one of its aliases): the cluster and the latest
    /// event time (ms) seen. The state task adds and removes keys; `observe` only updates.
    activity: Arc<Activity>,
}

impl AlertHandle {
    /// Hands an event to the alert stage without waiting. Returns false if the queue was full
    /// (the event is dropped and counted; the next window's escalations still reach it).
    pub fn notify(&self, event: AlertEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                ev::AlertDropped { receiver: "events" }.emit();
                false
            }
        }
    }

    /// An entry of cluster `id` (canonical or fine: an event's `cluster` or `aliases`) with
    /// event time `at`. Only clusters with a live or recently resolved alert are watched; for
    /// others this is one map look-up. Fits `Pipeline::on_activity`.
    #[inline]
    pub fn observe(&self, id: ClusterId, at: DateTime<Utc>) {
        if let Some(mut entry) = self.activity.get_mut(&id) {
            let ms = at.timestamp_millis();
            if ms > entry.1 {
                entry.1 = ms;
            }
        }
    }
}

/// The lanes `[alerts]` configures: one per Alertmanager URL, and the webhook if any.
pub fn lanes(settings: &AlertSettings) -> Result<Vec<Lane>, reqwest::Error> {
    let links = payload::Links {
        logging_project: settings.logging_project.clone(),
    };
    let mut lanes = Vec::new();
    for url in &settings.alertmanager_urls {
        lanes.push(Lane::new(
            Alertmanager::new(url, links.clone())?,
            settings.queue,
        ));
    }
    if let Some(url) = &settings.webhook_url {
        lanes.push(Lane::new(Webhook::new(url, links)?, settings.queue));
    }
    Ok(lanes)
}

/// Starts the alert stage: the state task and one delivery task per lane. Returns the handle
/// the pipeline uses and the task to join at shutdown (it ends once every handle is dropped
/// and the queues are drained or given up).
pub fn spawn(
    policy: Policy,
    lanes: Vec<Lane>,
    clock: Clock,
    tick_every: Duration,
) -> (AlertHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    let activity = Arc::new(DashMap::new());
    let handle = AlertHandle {
        events: tx,
        activity: activity.clone(),
    };
    let task = tokio::spawn(run(
        AlertState::new(policy),
        rx,
        activity,
        lanes,
        clock,
        tick_every,
    ));
    (handle, task)
}

async fn run(
    mut state: AlertState,
    mut rx: mpsc::Receiver<AlertEvent>,
    activity: Arc<Activity>,
    lanes: Vec<Lane>,
    clock: Clock,
    tick_every: Duration,
) {
    let workers: Vec<JoinHandle<()>> = lanes.iter().map(Lane::start).collect();
    let mut ticker = tokio::time::interval(tick_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => admit(&mut state, event, clock()),
                None => break,
            },
            _ = ticker.tick() => {}
        }
        for entry in activity.iter() {
            let (cluster, ms) = *entry.value();
            if let Some(at) = Utc.timestamp_millis_opt(ms).single() {
                state.observe(cluster, at);
            }
        }
        let posts = state.tick(clock());
        for post in posts {
            for lane in &lanes {
                lane.push(&post);
            }
        }
        activity.retain(|_, (cluster, _)| state.is_tracked(*cluster));
        for (id, cluster) in state.watched() {
            activity.entry(id).or_insert((cluster, i64::MIN));
        }
        if let Some(m) = crate::telemetry::metrics::installed() {
            m.set_alerts_active(&state.active_by_priority());
        }
    }
    for lane in &lanes {
        lane.close();
    }
    for w in workers {
        if let Err(e) = w.await {
            tracing::error!(error = %e, "alert delivery task failed");
        }
    }
}

fn admit(state: &mut AlertState, event: AlertEvent, now: DateTime<Utc>) {
    let (kind, cluster, priority) = (event.kind, event.cluster, event.priority);
    let admission = state.event(event, now);
    ev::AlertableEvent {
        kind: kind.as_str(),
        cluster,
        priority,
        fires: admission.fires(),
    }
    .emit();
}

#[cfg(test)]
mod tests;
