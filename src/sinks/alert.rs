//! Near-real-time alerts: a new P0/P1 cluster or an escalation reaches the on-call engineer's
//! Alertmanager (API v2, every URL of an HA set) and optionally a Slack-compatible webhook
//! within a second.
//!
//! The shell around the pure [`AlertState`]: one task owns the state and ticks it, one
//! delivery task per receiver drains that receiver's bounded [`outbox::Outbox`], retrying with
//! backoff for up to resolve_timeout (the latest state of an alert wins; a fire and its
//! resolution are both delivered). The pipeline side only ever calls [`AlertHandle::notify`]
//! (a `try_send`) and [`AlertHandle::observe`] (a map update), so a slow or dead receiver
//! never blocks it. The state's snapshot goes into the driver's checkpoint.

mod deliver;
mod outbox;
pub mod payload;
pub mod receivers;
#[cfg(any(test, feature = "test-util"))]
mod recording;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use dashmap::DashMap;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

pub use crate::alerting::{
    Admission, AlertEvent, AlertKind, AlertPost, AlertSnapshot, AlertState, Annotation, Change,
    Policy,
};
pub use deliver::{backoff, Lane};
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
    /// Connection refused, timeout, 5xx, 429: retried with backoff for up to the alert's
    /// resolve_timeout; a newer state of the alert replaces the one being retried.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Any other 4xx (a malformed post, a wrong URL): dropped at once and counted as failed.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A receiver of alert posts: Alertmanager, a webhook, or a recording fake in tests.
pub trait AlertSink: Send + Sync + 'static {
    /// The `receiver` label of the delivery metrics: the kind and the URL's host, e.g.
    /// `alertmanager@am-0:9093`.
    fn receiver(&self) -> String;

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

/// How the alert stage learns a cluster's issue URL (the GitHub stage's index).
pub type IssueLookup = Arc<dyn Fn(ClusterId) -> Option<String> + Send + Sync>;

/// What the pipeline side tells the state task.
enum Msg {
    Event(AlertEvent),
    Annotate(Annotation),
    Restore(AlertSnapshot),
    /// A checkpoint holding the state up to this `seq` is durable.
    Committed(u64),
    /// From now on, fires wait for the checkpoint that holds them.
    Gate,
    Lookup(IssueLookup),
    /// Every entry of the cluster was a traceback's part: resolve its alert now.
    Retracted(ClusterId),
}

/// The pipeline's side of the alert stage. Cloning is cheap; the stage ends (after delivering
/// what is queued) when every handle is dropped.
#[derive(Clone)]
pub struct AlertHandle {
    /// Held by the run wiring; the state task holds the receiver.
    events: mpsc::Sender<Msg>,
    /// Per watched id (a tracked cluster or one of its aliases): the cluster and the latest
    /// event time (ms) seen. The state task adds and removes keys; `observe` only updates.
    activity: Arc<Activity>,
    /// The state as of the state task's last change.
    snapshot: Arc<Mutex<AlertSnapshot>>,
    /// Whether an issue lookup was handed over already.
    linked: Arc<std::sync::atomic::AtomicBool>,
    /// Notified when a fire waits for a checkpoint.
    held: Arc<Notify>,
}

impl AlertHandle {
    fn send(&self, m: Msg) -> bool {
        match self.events.try_send(m) {
            Ok(()) => true,
            Err(_) => {
                ev::AlertDropped { receiver: "events" }.emit();
                false
            }
        }
    }

    /// Hands an event to the alert stage without waiting. Returns false if the queue was full
    /// (the event is dropped and counted; the next window's escalations still reach it).
    pub fn notify(&self, event: AlertEvent) -> bool {
        self.send(Msg::Event(event))
    }

    /// Later facts about a cluster's alert (a closed window's count and sample); ignored for
    /// clusters without a live alert.
    pub fn annotate(&self, note: Annotation) -> bool {
        self.send(Msg::Annotate(note))
    }

    /// Every entry of cluster `id` was a traceback's part, counted whole elsewhere (a
    /// revision says so): its alert, if any, is resolved at once.
    pub fn retracted(&self, id: ClusterId) -> bool {
        self.send(Msg::Retracted(id))
    }

    /// Where the stage looks up a live alert's issue URL (until it has one).
    pub fn set_issue_lookup(&self, lookup: IssueLookup) {
        self.linked
            .store(true, std::sync::atomic::Ordering::Release);
        self.send(Msg::Lookup(lookup));
    }

    /// [`Self::set_issue_lookup`] unless one was set already (the first wins).
    pub fn set_issue_lookup_once(&self, lookup: IssueLookup) {
        if !self.linked.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.send(Msg::Lookup(lookup));
        }
    }

    /// Whether `id` (a cluster or one of its aliases) has a live alert.
    pub fn watches(&self, id: ClusterId) -> bool {
        self.activity.contains_key(&id)
    }

    /// The state as plain data, for the checkpoint: its `seq` goes to [`Self::committed`]
    /// once the checkpoint is durable.
    pub fn snapshot(&self) -> AlertSnapshot {
        self.snapshot
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Takes back the state a checkpoint held (call before the first event).
    pub fn restore(&self, snapshot: AlertSnapshot) {
        self.send(Msg::Restore(snapshot));
    }

    /// With a durable checkpoint: a fire goes out only once a checkpoint holding it is
    /// written ([`Self::committed`]), so a crash in between never pages twice after restart.
    pub fn hold_fires_until_committed(&self) {
        self.send(Msg::Gate);
    }

    /// Notified (once for any number of fires since) when a fire waits for a checkpoint:
    /// the driver writes one then rather than at its next timer, so the page goes out within
    /// seconds, not `live.checkpoint_every`.
    pub fn fire_held(&self) -> Arc<Notify> {
        self.held.clone()
    }

    /// A checkpoint holding the snapshot with this `seq` is durable.
    pub fn committed(&self, seq: u64) {
        self.send(Msg::Committed(seq));
    }

    /// An entry of cluster `id` (canonical or fine: an event's `cluster` or `aliases`) with
    /// event time `at`. Only clusters with a live alert are watched; for others this is one
    /// map look-up. Fits `Pipeline::on_activity`.
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

/// The lanes `[alerts]` configures: one per Alertmanager URL, and the webhook if any. Each
/// lane's `receiver` metric label names its URL's host (never a webhook's secret path).
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
    if let Some(m) = crate::telemetry::metrics::installed() {
        let names: Vec<String> = lanes.iter().map(|l| l.receiver().to_owned()).collect();
        m.zero_receivers(&names);
    }
    Ok(lanes)
}

/// Starts the alert stage: the state task and one delivery task per lane (each retrying a
/// post for up to `policy.hold_for`, Alertmanager's resolve_timeout). Returns the handle the
/// pipeline uses and the task to join at shutdown (it ends once every handle is dropped and
/// the queues are drained or given up).
pub fn spawn(
    policy: Policy,
    mut lanes: Vec<Lane>,
    clock: Clock,
    tick_every: Duration,
) -> (AlertHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(EVENT_QUEUE);
    let activity = Arc::new(DashMap::new());
    let snapshot = Arc::new(Mutex::new(AlertSnapshot::default()));
    let held = Arc::new(Notify::new());
    let handle = AlertHandle {
        events: tx,
        activity: activity.clone(),
        snapshot: snapshot.clone(),
        linked: Default::default(),
        held: held.clone(),
    };
    let patience = policy.hold_for.to_std().unwrap_or(Duration::from_secs(300));
    for lane in &mut lanes {
        lane.set_patience(patience);
    }
    let task = tokio::spawn(
        Stage {
            state: AlertState::new(policy),
            activity,
            snapshot,
            lanes,
            clock,
            gate: None,
            held,
            lookup: None,
        }
        .run(rx, tick_every),
    );
    (handle, task)
}

/// The state task's world.
struct Stage {
    state: AlertState,
    activity: Arc<Activity>,
    snapshot: Arc<Mutex<AlertSnapshot>>,
    lanes: Vec<Lane>,
    clock: Clock,
    /// With checkpoints: the seq committed so far and the fires waiting for it.
    gate: Option<(u64, Vec<(u64, AlertPost)>)>,
    /// Told when a fire joins the held ones (see [`AlertHandle::fire_held`]).
    held: Arc<Notify>,
    lookup: Option<IssueLookup>,
}

impl Stage {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, tick_every: Duration) {
        let workers: Vec<JoinHandle<()>> = self.lanes.iter().map(Lane::start).collect();
        let mut ticker = tokio::time::interval(tick_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => self.handle(m),
                    None => break,
                },
                _ = ticker.tick() => {}
            }
            self.step();
        }
        // Nothing more will be decided: what waits for a checkpoint goes out now.
        if let Some((_, held)) = self.gate.take() {
            held.into_iter().for_each(|(_, p)| self.push(&p));
        }
        for lane in &self.lanes {
            lane.close();
        }
        for w in workers {
            if let Err(e) = w.await {
                tracing::error!(error = %e, "alert delivery task failed");
            }
        }
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Event(e) => {
                let (kind, cluster, priority) = (e.kind, e.cluster, e.priority);
                let admission = self.state.event(e, (self.clock)());
                ev::AlertableEvent {
                    kind: kind.as_str(),
                    cluster,
                    priority,
                    fires: admission.fires(),
                }
                .emit();
            }
            Msg::Annotate(a) => {
                self.state.annotate(a);
            }
            Msg::Restore(s) => self.state.restore(s),
            Msg::Gate => self.gate = Some((self.state.seq(), Vec::new())),
            Msg::Committed(seq) => {
                if let Some((committed, held)) = &mut self.gate {
                    *committed = (*committed).max(seq);
                    let c = *committed;
                    let (go, wait): (Vec<_>, Vec<_>) = held.drain(..).partition(|(s, _)| *s <= c);
                    *held = wait;
                    go.into_iter().for_each(|(_, p)| self.push(&p));
                }
            }
            Msg::Lookup(l) => self.lookup = Some(l),
            Msg::Retracted(c) => {
                self.state.retracted(c, (self.clock)());
            }
        }
    }

    /// After every message and tick: activity in, issue links in, posts out, state out.
    fn step(&mut self) {
        for entry in self.activity.iter() {
            let (cluster, ms) = *entry.value();
            if let Some(at) = Utc.timestamp_millis_opt(ms).single() {
                self.state.observe(cluster, at);
            }
        }
        if let Some(lookup) = &self.lookup {
            let missing: Vec<ClusterId> = self.state.without_issue().collect();
            for cluster in missing {
                if let Some(url) = lookup(cluster) {
                    self.state.annotate(Annotation {
                        cluster,
                        count: None,
                        sample: None,
                        issue_url: Some(url),
                    });
                }
            }
        }
        let posts = self.state.tick((self.clock)());
        let mut held_one = false;
        for post in posts {
            match &mut self.gate {
                Some((committed, held)) if post.change == Change::Fired => {
                    let seq = self.state.seq();
                    if seq <= *committed {
                        self.push(&post);
                    } else {
                        held.push((seq, post));
                        held_one = true;
                    }
                }
                _ => self.push(&post),
            }
        }
        let state = &self.state;
        self.activity
            .retain(|_, (cluster, _)| state.is_tracked(*cluster));
        for (id, cluster) in state.watched() {
            self.activity.entry(id).or_insert((cluster, i64::MIN));
        }
        // A few live alerts: cheap to copy at every step, and the checkpoint then also has the
        // latest activity (when each went quiet).
        let snap = state.snapshot();
        if let Ok(mut s) = self.snapshot.lock() {
            *s = snap;
        }
        if held_one {
            // After the snapshot: the checkpoint this asks for holds the fire.
            self.held.notify_one();
        }
        if let Some(m) = crate::telemetry::metrics::installed() {
            m.set_alerts_active(&state.active_by_priority());
        }
    }

    fn push(&self, post: &AlertPost) {
        for lane in &self.lanes {
            lane.push(post);
        }
    }
}

#[cfg(test)]
mod tests;
