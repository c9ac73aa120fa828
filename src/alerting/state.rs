//! The alert state machine, pure: events and activity go in with the time they are handled at
//! (`now`), `tick(now)` says what to post. No clock, no I/O, so rate limiting, flap damping,
//! re-posting and resolution are tested with plain times.
//!
//! One cluster has at most one live alert. Its life:
//!
//! ```text
//!  event ≥ min_priority ──► Firing ──(re-post every repost_every, endsAt = now + hold_for)
//!                              │ no entries for quiet_after: quiet, still firing for people
//!                              │ entries again within flap_window: nothing is said at all
//!                              ▼ no entries for quiet_after + flap_window
//!                          Resolved (posted once, endsAt = when it went quiet), forgotten
//! ```
//!
//! So a flapping cluster gives one fire and, once it really stopped, one resolution — never
//! fire/resolve/fire. A more urgent event while firing replaces the alert (the old one is
//! resolved, the new priority fires at once). A cluster fires a new alert at most once per
//! `rate_limit` unless the new priority is more urgent than the last one it fired with.
//!
//! The state is plain data ([`AlertSnapshot`]) so it can be kept with the driver's checkpoint
//! and restored: a restart does not announce again what was announced.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::escalate::Priority;
use crate::fingerprint::ClusterId;

/// Why an alert exists (the `alertname` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A cluster never seen before.
    NewCluster,
    /// A known cluster whose priority rose.
    Escalation,
}

impl AlertKind {
    pub fn alertname(self) -> &'static str {
        match self {
            AlertKind::NewCluster => "LogGardenerNewCluster",
            AlertKind::Escalation => "LogGardenerEscalation",
        }
    }

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NewCluster => "new_cluster",
            AlertKind::Escalation => "escalation",
        }
    }
}

/// What the run wiring hands the alert stage when a new cluster appears or one escalates.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub kind: AlertKind,
    /// The canonical cluster id (the `cluster` label).
    pub cluster: ClusterId,
    /// Other ids whose entries count as the cluster's activity: its fine ids (the one in
    /// `pipeline::Event::NewCluster`, the report's `aliases`).
    pub aliases: Vec<ClusterId>,
    pub service: String,
    pub priority: Priority,
    /// The cluster template (variables as `<*>`).
    pub template: String,
    /// A sample message; redacted before it leaves the process.
    pub sample: Option<String>,
    /// Entries of the cluster in the trailing hour when the event happened.
    pub count: Option<u64>,
    /// The GitHub issue of the cluster, when the issue sink knows it.
    pub issue_url: Option<String>,
    /// Event time of the entry that triggered it.
    pub at: DateTime<Utc>,
}

/// Later facts about a cluster's alert (a closed window's count and sample, its issue): shown
/// with the next post, which goes out at once when they changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub cluster: ClusterId,
    /// Entries in the window that just closed.
    pub count: Option<u64>,
    pub sample: Option<String>,
    pub issue_url: Option<String>,
}

/// The policy, validated from `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Events less urgent than this are not alerted.
    pub min_priority: Priority,
    /// A firing alert is posted again this often (Alertmanager resolve_timeout / 2).
    pub repost_every: TimeDelta,
    /// A firing alert's `endsAt` is this far after the post (Alertmanager's resolve_timeout):
    /// if the gardener dies, Alertmanager resolves the alert by itself.
    pub hold_for: TimeDelta,
    /// No entries for this long resolves the alert.
    pub quiet_after: TimeDelta,
    /// Entries returning within this time after the cluster went quiet keep the alert
    /// firing without a word; the resolution is posted only after it.
    pub flap_window: TimeDelta,
    /// A cluster fires a new alert at most once per this (unless more urgent than before).
    pub rate_limit: TimeDelta,
}

/// What a post tells the receiver about one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new alert: page.
    Fired,
    /// Still firing (or its annotations changed): keeps Alertmanager from resolving it.
    Reposted,
    /// Quiet for good, or replaced: `endsAt` is in the past. Posted once.
    Resolved,
}

/// One alert as posted: identity (labels) plus what the receiver shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPost {
    pub change: Change,
    pub kind: AlertKind,
    pub cluster: ClusterId,
    pub service: String,
    pub priority: Priority,
    pub template: String,
    pub sample: Option<String>,
    /// Entries of the cluster: in the trailing hour at the event, then in each closed window.
    #[serde(default)]
    pub count: Option<u64>,
    pub issue_url: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl AlertPost {
    /// Alertmanager's identity of the alert: posts with the same key are the same alert, so a
    /// newer one supersedes an older one still waiting to be delivered.
    pub fn key(&self) -> (ClusterId, AlertKind, Priority) {
        (self.cluster, self.kind, self.priority)
    }
}

/// What `event` did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A new alert; posted at the next tick.
    Fires,
    /// A more urgent priority replaced the cluster's alert.
    Escalates,
    /// The cluster already has an alert at this priority or more urgent.
    AlreadyFiring,
    BelowMinPriority,
    RateLimited,
}

impl Admission {
    /// Whether something will be posted because of the event.
    pub fn fires(self) -> bool {
        matches!(self, Admission::Fires | Admission::Escalates)
    }
}

/// One live alert, as kept (and snapshotted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveAlert {
    /// What the alert says now; `change` is unused here (see `next`).
    pub post: AlertPost,
    pub aliases: Vec<ClusterId>,
    /// The latest entry seen (or the fire, whichever is later).
    pub last_seen: DateTime<Utc>,
    /// When it was last posted; `None`: due now.
    pub last_post: Option<DateTime<Utc>>,
    /// What the next post says: `Fired` until the fire went out, then `Reposted`.
    pub next: Change,
}

/// The alert state as plain data: what the checkpoint keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    /// Counts the state's changes: a snapshot with this `seq` holds every alert fired up to it.
    pub seq: u64,
    pub alerts: Vec<LiveAlert>,
    /// When and at which priority each cluster last fired (the rate limit).
    pub last_fired: Vec<(ClusterId, DateTime<Utc>, Priority)>,
}

/// All clusters with a live alert.
#[derive(Debug)]
pub struct AlertState {
    policy: Policy,
    /// Ordered, so posts come out in a deterministic order.
    tracked: BTreeMap<ClusterId, LiveAlert>,
    /// When and at which priority each cluster last fired a new alert (kept `rate_limit`).
    last_fired: HashMap<ClusterId, (DateTime<Utc>, Priority)>,
    /// Posts decided outside a tick (the resolution of a replaced alert).
    pending: Vec<AlertPost>,
    seq: u64,
}

impl AlertState {
    pub fn new(policy: Policy) -> AlertState {
        AlertState {
            policy,
            tracked: BTreeMap::new(),
            last_fired: HashMap::new(),
            pending: Vec::new(),
            seq: 0,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The number of changes so far (see [`AlertSnapshot::seq`]).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether `cluster` has a live alert (so its activity matters).
    pub fn is_tracked(&self, cluster: ClusterId) -> bool {
        self.tracked.contains_key(&cluster)
    }

    /// Every id whose activity matters, with the tracked cluster it belongs to.
    pub fn watched(&self) -> impl Iterator<Item = (ClusterId, ClusterId)> + '_ {
        self.tracked.iter().flat_map(|(c, t)| {
            std::iter::once((*c, *c)).chain(t.aliases.iter().map(move |a| (*a, *c)))
        })
    }

    /// Live alerts whose issue is not known yet.
    pub fn without_issue(&self) -> impl Iterator<Item = ClusterId> + '_ {
        self.tracked
            .iter()
            .filter(|(_, t)| t.post.issue_url.is_none())
            .map(|(c, _)| *c)
    }

    /// Takes in a new-cluster or escalation event handled at `now`.
    pub fn event(&mut self, ev: AlertEvent, now: DateTime<Utc>) -> Admission {
        if ev.priority > self.policy.min_priority {
            return Admission::BelowMinPriority;
        }
        if let Some(t) = self.tracked.get_mut(&ev.cluster) {
            if ev.priority >= t.post.priority {
                t.last_seen = t.last_seen.max(now);
                for a in &ev.aliases {
                    if !t.aliases.contains(a) {
                        t.aliases.push(*a);
                    }
                }
                let note = Annotation {
                    cluster: ev.cluster,
                    count: ev.count,
                    sample: None,
                    issue_url: ev.issue_url,
                };
                self.annotate(note);
                return Admission::AlreadyFiring;
            }
            let mut old = t.post.clone();
            old.change = Change::Resolved;
            old.ends_at = now.max(old.starts_at);
            self.pending.push(old);
            self.fire(ev, now);
            return Admission::Escalates;
        }
        if let Some(&(at, prio)) = self.last_fired.get(&ev.cluster) {
            if now - at < self.policy.rate_limit && ev.priority >= prio {
                return Admission::RateLimited;
            }
        }
        self.fire(ev, now);
        Admission::Fires
    }

    fn fire(&mut self, ev: AlertEvent, now: DateTime<Utc>) {
        self.seq += 1;
        self.last_fired.insert(ev.cluster, (now, ev.priority));
        let post = AlertPost {
            change: Change::Fired,
            kind: ev.kind,
            cluster: ev.cluster,
            service: ev.service,
            priority: ev.priority,
            template: ev.template,
            sample: ev.sample,
            count: ev.count,
            issue_url: ev.issue_url,
            starts_at: ev.at.min(now),
            ends_at: now,
        };
        // A newly fired alert lives at least `quiet_after`, whatever the event time said:
        // a backlog of old entries must not fire and resolve in one breath.
        let live = LiveAlert {
            post,
            aliases: ev.aliases,
            last_seen: now,
            last_post: None,
            next: Change::Fired,
        };
        self.tracked.insert(ev.cluster, live);
    }

    /// Later facts about a live alert; returns whether anything changed (then it is posted
    /// again at the next tick, so Alertmanager shows them).
    pub fn annotate(&mut self, a: Annotation) -> bool {
        let Some(t) = self.tracked.get_mut(&a.cluster) else {
            return false;
        };
        let p = &mut t.post;
        let mut changed = false;
        for (field, new) in [(&mut p.sample, a.sample), (&mut p.issue_url, a.issue_url)] {
            if new.is_some() && *field != new {
                *field = new;
                changed = true;
            }
        }
        if a.count.is_some() && p.count != a.count {
            p.count = a.count;
            changed = true;
        }
        if changed {
            t.last_post = None;
            self.seq += 1;
        }
        changed
    }

    /// Every entry `cluster` had was a traceback's part, counted whole in another cluster once
    /// the rest came: its alert was raised for nothing and is resolved now, not once it went
    /// quiet. An alert whose fire never went out is dropped without a word. Returns whether
    /// the cluster had an alert.
    pub fn retracted(&mut self, cluster: ClusterId, now: DateTime<Utc>) -> bool {
        let Some(t) = self.tracked.remove(&cluster) else {
            return false;
        };
        self.seq += 1;
        if t.next != Change::Fired {
            let mut post = t.post;
            post.change = Change::Resolved;
            post.ends_at = now.max(post.starts_at);
            self.pending.push(post);
        }
        true
    }

    /// An entry of `cluster` with event time `at`: keeps its alert firing.
    pub fn observe(&mut self, cluster: ClusterId, at: DateTime<Utc>) {
        if let Some(t) = self.tracked.get_mut(&cluster) {
            t.last_seen = t.last_seen.max(at);
        }
    }

    /// What to post at `now`: due fires, re-posts and resolutions, in cluster order.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<AlertPost> {
        let mut out = std::mem::take(&mut self.pending);
        let p = &self.policy;
        self.tracked.retain(|_, t| {
            if now - t.last_seen >= p.quiet_after + p.flap_window {
                let mut post = t.post.clone();
                post.change = Change::Resolved;
                // When it went quiet: Alertmanager's history shows the truth.
                post.ends_at = (t.last_seen + p.quiet_after).clamp(post.starts_at, now);
                out.push(post);
                return false;
            }
            if t.last_post.is_none_or(|l| now - l >= p.repost_every) {
                let mut post = t.post.clone();
                post.change = t.next;
                post.ends_at = now + p.hold_for;
                out.push(post);
                t.last_post = Some(now);
                t.next = Change::Reposted;
            }
            true
        });
        let limit = p.rate_limit;
        self.last_fired.retain(|_, (at, _)| now - *at < limit);
        if out.iter().any(|p| p.change != Change::Reposted) {
            self.seq += 1;
        }
        out
    }

    /// Firing alerts per priority (for `log_gardener_alerts_active`).
    pub fn active_by_priority(&self) -> Vec<(Priority, i64)> {
        let mut m: BTreeMap<Priority, i64> = BTreeMap::new();
        for t in self.tracked.values() {
            *m.entry(t.post.priority).or_default() += 1;
        }
        m.into_iter().collect()
    }

    /// The earliest time `tick` has something to do, so a shell can sleep until then.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let p = &self.policy;
        if !self.pending.is_empty() {
            return Some(DateTime::<Utc>::MIN_UTC);
        }
        self.tracked
            .values()
            .map(|t| match t.last_post {
                None => DateTime::<Utc>::MIN_UTC,
                Some(l) => (l + p.repost_every).min(t.last_seen + p.quiet_after + p.flap_window),
            })
            .min()
    }

    /// The state as plain data.
    pub fn snapshot(&self) -> AlertSnapshot {
        AlertSnapshot {
            seq: self.seq,
            alerts: self.tracked.values().cloned().collect(),
            last_fired: self
                .last_fired
                .iter()
                .map(|(c, (at, p))| (*c, *at, *p))
                .collect(),
        }
    }

    /// Takes the state back after a restart: live alerts are posted again at the next tick
    /// (as re-posts, so nobody is paged twice; a fire that never went out goes out now).
    pub fn restore(&mut self, s: AlertSnapshot) {
        self.seq = self.seq.max(s.seq);
        for mut a in s.alerts {
            a.last_post = None;
            self.tracked.insert(a.post.cluster, a);
        }
        for (c, at, p) in s.last_fired {
            self.last_fired.insert(c, (at, p));
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
