//! The alert state machine, pure: events and activity go in with the time they are handled at
//! (`now`), `tick(now)` says what to post. No clock, no I/O, so rate limiting, flap damping,
//! re-posting and resolution are tested with plain times.
//!
//! One cluster has at most one live alert. Its life:
//!
//! ```text
//!  event ≥ min_priority ──► Firing ──(re-post every repost_every, endsAt = now + hold_for)
//!                              │ no entries for quiet_after
//!                              ▼
//!                          Resolved (posted once, endsAt = now) ──► forgotten after flap_window
//!                              │ entries or an event again within flap_window
//!                              ▼
//!                          Firing again, same alert (same startsAt): a flap, not a new alert
//! ```
//!
//! A more urgent event while firing replaces the alert (the old one is resolved, the new
//! priority fires at once). A cluster fires a new alert at most once per `rate_limit` unless
//! the new priority is more urgent than the last one it fired with.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

use crate::escalate::Priority;
use crate::fingerprint::ClusterId;

/// Why an alert exists (the `alertname` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The GitHub issue of the cluster, when the issue sink knows it.
    pub issue_url: Option<String>,
    /// Event time of the entry that triggered it.
    pub at: DateTime<Utc>,
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
    /// A resolved cluster that returns within this time resumes its alert.
    pub flap_window: TimeDelta,
    /// A cluster fires a new alert at most once per this (unless more urgent than before).
    pub rate_limit: TimeDelta,
}

/// What a post tells the receiver about one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new alert: page.
    Fired,
    /// The same alert again after a flap (same `startsAt`).
    Resumed,
    /// Still firing: keeps Alertmanager from resolving it.
    Reposted,
    /// Quiet or replaced: `endsAt` is now. Posted once.
    Resolved,
}

/// One alert as posted: identity (labels) plus what the receiver shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPost {
    pub change: Change,
    pub kind: AlertKind,
    pub cluster: ClusterId,
    pub service: String,
    pub priority: Priority,
    pub template: String,
    pub sample: Option<String>,
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
    /// The cluster's resolved alert resumes (flap damping).
    Resumes,
    /// The cluster already has an alert at this priority or more urgent.
    AlreadyFiring,
    BelowMinPriority,
    RateLimited,
}

impl Admission {
    /// Whether something will be posted because of the event.
    pub fn fires(self) -> bool {
        matches!(
            self,
            Admission::Fires | Admission::Escalates | Admission::Resumes
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `next` is what the next post says; `last_post` None means due now.
    Firing {
        next: Change,
        last_post: Option<DateTime<Utc>>,
    },
    Resolved {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
struct Tracked {
    post: AlertPost,
    aliases: Vec<ClusterId>,
    last_seen: DateTime<Utc>,
    phase: Phase,
}

/// All clusters with a live or recently resolved alert.
#[derive(Debug)]
pub struct AlertState {
    policy: Policy,
    /// Ordered, so posts come out in a deterministic order.
    tracked: BTreeMap<ClusterId, Tracked>,
    /// When and at which priority each cluster last fired a new alert (kept `rate_limit`).
    last_fired: HashMap<ClusterId, (DateTime<Utc>, Priority)>,
    /// Posts decided outside a tick (the resolution of a replaced alert).
    pending: Vec<AlertPost>,
}

impl AlertState {
    pub fn new(policy: Policy) -> AlertState {
        AlertState {
            policy,
            tracked: BTreeMap::new(),
            last_fired: HashMap::new(),
            pending: Vec::new(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `cluster` has a live or recently resolved alert (so its activity matters).
    pub fn is_tracked(&self, cluster: ClusterId) -> bool {
        self.tracked.contains_key(&cluster)
    }

    /// Every id whose activity matters, with the tracked cluster it belongs to.
    pub fn watched(&self) -> impl Iterator<Item = (ClusterId, ClusterId)> + '_ {
        self.tracked.iter().flat_map(|(c, t)| {
            std::iter::once((*c, *c)).chain(t.aliases.iter().map(move |a| (*a, *c)))
        })
    }

    /// Takes in a new-cluster or escalation event handled at `now`.
    pub fn event(&mut self, ev: AlertEvent, now: DateTime<Utc>) -> Admission {
        if ev.priority > self.policy.min_priority {
            return Admission::BelowMinPriority;
        }
        let cluster = ev.cluster;
        if let Some(t) = self.tracked.get_mut(&cluster) {
            let more_urgent = ev.priority < t.post.priority;
            match t.phase {
                Phase::Firing { .. } if !more_urgent => {
                    t.last_seen = t.last_seen.max(now);
                    for a in &ev.aliases {
                        if !t.aliases.contains(a) {
                            t.aliases.push(*a);
                        }
                    }
                    if ev.issue_url.is_some() && ev.issue_url != t.post.issue_url {
                        // The issue link became known: show it with the next post, now.
                        t.post.issue_url = ev.issue_url;
                        t.phase = Phase::Firing {
                            next: Change::Reposted,
                            last_post: None,
                        };
                    }
                    return Admission::AlreadyFiring;
                }
                Phase::Resolved { at } if !more_urgent && now - at <= self.policy.flap_window => {
                    t.last_seen = now;
                    t.phase = Phase::Firing {
                        next: Change::Resumed,
                        last_post: None,
                    };
                    return Admission::Resumes;
                }
                Phase::Firing { .. } => {
                    let mut old = t.post.clone();
                    old.change = Change::Resolved;
                    old.ends_at = now;
                    self.pending.push(old);
                    self.fire(ev, now);
                    return Admission::Escalates;
                }
                Phase::Resolved { .. } => {}
            }
        }
        if let Some(&(at, prio)) = self.last_fired.get(&cluster) {
            if now - at < self.policy.rate_limit && ev.priority >= prio {
                return Admission::RateLimited;
            }
        }
        self.fire(ev, now);
        Admission::Fires
    }

    fn fire(&mut self, ev: AlertEvent, now: DateTime<Utc>) {
        self.last_fired.insert(ev.cluster, (now, ev.priority));
        let aliases = ev.aliases;
        let post = AlertPost {
            change: Change::Fired,
            kind: ev.kind,
            cluster: ev.cluster,
            service: ev.service,
            priority: ev.priority,
            template: ev.template,
            sample: ev.sample,
            issue_url: ev.issue_url,
            starts_at: ev.at.min(now),
            ends_at: now,
        };
        // A newly fired alert lives at least `quiet_after`, whatever the event time said:
        // a backlog of old entries must not fire and resolve in one breath.
        let tracked = Tracked {
            post,
            aliases,
            last_seen: now,
            phase: Phase::Firing {
                next: Change::Fired,
                last_post: None,
            },
        };
        self.tracked.insert(ev.cluster, tracked);
    }

    /// An entry of `cluster` with event time `at`. A resolved cluster that returns within the
    /// flap window resumes its alert.
    pub fn observe(&mut self, cluster: ClusterId, at: DateTime<Utc>) {
        let Some(t) = self.tracked.get_mut(&cluster) else {
            return;
        };
        if at <= t.last_seen {
            return;
        }
        t.last_seen = at;
        if let Phase::Resolved { at: resolved } = t.phase {
            if at - resolved <= self.policy.flap_window {
                t.phase = Phase::Firing {
                    next: Change::Resumed,
                    last_post: None,
                };
            }
        }
    }

    /// What to post at `now`: due fires, re-posts and resolutions, in cluster order.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<AlertPost> {
        let mut out = std::mem::take(&mut self.pending);
        let p = &self.policy;
        self.tracked.retain(|_, t| match t.phase {
            Phase::Firing { .. } if now - t.last_seen >= p.quiet_after => {
                t.phase = Phase::Resolved { at: now };
                let mut post = t.post.clone();
                post.change = Change::Resolved;
                post.ends_at = now;
                out.push(post);
                true
            }
            Phase::Firing { next, last_post } => {
                if last_post.is_none_or(|l| now - l >= p.repost_every) {
                    let mut post = t.post.clone();
                    post.change = next;
                    post.ends_at = now + p.hold_for;
                    out.push(post);
                    t.phase = Phase::Firing {
                        next: Change::Reposted,
                        last_post: Some(now),
                    };
                }
                true
            }
            Phase::Resolved { at } => now - at <= p.flap_window,
        });
        let limit = p.rate_limit;
        self.last_fired.retain(|_, (at, _)| now - *at < limit);
        out
    }

    /// Firing alerts per priority (for `log_gardener_alerts_active`).
    pub fn active_by_priority(&self) -> Vec<(Priority, i64)> {
        let mut m: BTreeMap<Priority, i64> = BTreeMap::new();
        for t in self.tracked.values() {
            if matches!(t.phase, Phase::Firing { .. }) {
                *m.entry(t.post.priority).or_default() += 1;
            }
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
            .map(|t| match t.phase {
                Phase::Firing {
                    last_post: None, ..
                } => DateTime::<Utc>::MIN_UTC,
                Phase::Firing {
                    last_post: Some(l), ..
                } => (l + p.repost_every).min(t.last_seen + p.quiet_after),
                Phase::Resolved { at } => at + p.flap_window,
            })
            .min()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
