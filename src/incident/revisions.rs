//! Requests that never reached an instance. Cloud Run writes a request it could not hand to a
//! container (`The request failed because either the HTTP response was malformed or connection
//! to the instance had an error.`, a 503) without `labels.instanceId` when no instance took it,
//! so co-occurrence on an instance (`links.rs`) cannot tie it to anything. When the same
//! service's same revision (`resource.labels.revision_name`) crash-loops in the same window,
//! that crash loop is why: the request failure joins the crash loop's incident as a
//! consequence, after the crash's root cause. Without a crash loop of that revision nothing ties
//! it, and it is filed on its own.
//!
//! Counted as sets per (time slot, service and revision), like the links, so the result depends
//! only on which entries there were, and memory is bounded the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::{Grouped, LinkConfig};
use crate::fingerprint::ClusterId;
use crate::report::ClusterReport;
use crate::window::WindowSpan;

/// The clusters one revision wrote in one slot: on an instance, and on none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub placed: BTreeSet<ClusterId>,
    pub unplaced: BTreeSet<ClusterId>,
}

/// What each revision wrote in the open windows.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    config: LinkConfig,
    /// (slot, hash of service and revision) → what it wrote, oldest slot first.
    seen: BTreeMap<(i64, u64), Seen>,
}

/// [`Revisions`] as plain data, for a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionsSnapshot {
    seen: Vec<(i64, u64, Seen)>,
}

/// A platform's account of a request it could not complete (the same wording the incident
/// grouping reads as a consequence), or a request line answered with a 5xx.
static REQUEST_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(request failed because|response was malformed",
        r"|connection to the instance had an error|→ 5\d\d( \([a-z0-9_]+\))?$)"
    ))
    .expect("a constant pattern")
});

impl Revisions {
    pub fn new(config: LinkConfig) -> Revisions {
        Revisions {
            config,
            seen: BTreeMap::new(),
        }
    }

    fn slot_of(&self, at: DateTime<Utc>) -> i64 {
        let gap = self.config.gap.num_milliseconds().max(1);
        at.timestamp_millis().div_euclid(gap)
    }

    /// Notes one entry of `service`'s `revision`, written on an instance (`placed`) or not.
    pub fn observe(
        &mut self,
        cluster: ClusterId,
        at: DateTime<Utc>,
        (service, revision): (&str, &str),
        placed: bool,
    ) {
        let mut h = Xxh3::new();
        h.update(service.as_bytes());
        h.update(&[0x1f]);
        h.update(revision.as_bytes());
        let slot = self.slot_of(at);
        let seen = self.seen.entry((slot, h.digest())).or_default();
        let set = if placed {
            &mut seen.placed
        } else {
            &mut seen.unplaced
        };
        if set.len() < self.config.max_clusters_per_slot {
            set.insert(cluster);
        }
        while self.seen.len() > self.config.max_slots {
            self.seen.pop_first();
        }
    }

    /// What each revision wrote inside `span`, by cluster now (`resolve`).
    pub fn in_span(
        &self,
        span: WindowSpan,
        resolve: impl Fn(ClusterId) -> ClusterId,
    ) -> BTreeMap<u64, Seen> {
        let (lo, hi) = (self.slot_of(span.start), self.slot_of(span.end));
        let mut out: BTreeMap<u64, Seen> = BTreeMap::new();
        for ((_, rev), seen) in self.seen.range((lo, 0)..(hi, 0)) {
            let into = out.entry(*rev).or_default();
            into.placed.extend(seen.placed.iter().map(|c| resolve(*c)));
            into.unplaced
                .extend(seen.unplaced.iter().map(|c| resolve(*c)));
        }
        out
    }

    /// Forgets slots before `t` (no open window reaches back there).
    pub fn forget_before(&mut self, t: DateTime<Utc>) {
        let lo = self.slot_of(t);
        self.seen = self.seen.split_off(&(lo, 0));
    }

    pub fn snapshot(&self) -> RevisionsSnapshot {
        RevisionsSnapshot {
            seen: self
                .seen
                .iter()
                .map(|((s, r), seen)| (*s, *r, seen.clone()))
                .collect(),
        }
    }

    pub fn restore(config: LinkConfig, snap: RevisionsSnapshot) -> Revisions {
        Revisions {
            config,
            seen: snap.seen.into_iter().map(|(s, r, v)| ((s, r), v)).collect(),
        }
    }
}

/// Adds to each crash loop of `groups` the request failures its revision wrote on no instance
/// in the window (`seen`, from [`Revisions::in_span`]) that are problems (`problem`) in no
/// incident yet. A revision with two crash loops gives them to the first (most urgent, then
/// id): a request failure is one consequence, never a tie between two problems.
pub fn join_crash_loops(
    groups: &mut [Grouped],
    clusters: &[ClusterReport],
    seen: &BTreeMap<u64, Seen>,
    problem: impl Fn(&ClusterReport) -> bool,
) {
    let by_id: BTreeMap<ClusterId, &ClusterReport> = clusters.iter().map(|c| (c.id, c)).collect();
    let mut grouped: BTreeSet<ClusterId> = groups.iter().flat_map(|g| g.members.clone()).collect();
    for g in groups.iter_mut().filter(|g| g.crash_loop) {
        let mut joined = Vec::new();
        for revision in seen.values() {
            if !g.members.iter().any(|m| revision.placed.contains(m)) {
                continue;
            }
            for c in &revision.unplaced {
                let Some(report) = by_id.get(c) else { continue };
                let fits = problem(report) && REQUEST_FAILED.is_match(report.template.trim());
                if fits && grouped.insert(*c) {
                    joined.push(*c);
                }
            }
        }
        if joined.is_empty() {
            continue;
        }
        g.members.extend(joined);
        // Root first, then by priority, time, id, as `group` orders them.
        let key = |id: &ClusterId| by_id.get(id).map(|c| (c.priority, c.first_seen, c.id));
        g.members[1..].sort_by_key(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Severity;
    use crate::escalate::Priority;
    use crate::incident::{group, GroupConfig, Pair, Registry, Strength, Tie};

    fn cluster(id: u64, service: &str, template: &str, priority: Priority) -> ClusterReport {
        let at = "2025-09-15T19:00:00Z".parse().unwrap();
        ClusterReport {
            id: ClusterId(id),
            aliases: Vec::new(),
            priority,
            reason: format!("reason of {id}"),
            rule: None,
            count: 10,
            severity: Severity::Error,
            by_severity: Default::default(),
            service: service.into(),
            template: template.into(),
            modules: Vec::new(),
            functions: Vec::new(),
            first_seen: at,
            last_seen: at,
            new: true,
            baseline: None,
            sample: None,
        }
    }

    const FAILED: &str = "The request failed because either the HTTP response was malformed or \
        connection to the instance had an error.";

    /// A crash (1) and its exits (2) tied on instances of `orders-api` rev 7; 503s that reached
    /// no instance of rev 7 (3), of rev 6 (4, nothing crashes there), and of `search-api`,
    /// whose only problem is a slow warning tied to nothing (5, 6).
    #[test]
    fn a_request_that_reached_no_instance_joins_its_revisions_crash_loop_only() {
        let clusters = [
            cluster(1, "orders-api", "RuntimeError: key not set", Priority::P2),
            cluster(2, "orders-api", "Container called exit(<*>).", Priority::P2),
            cluster(3, "orders-api", FAILED, Priority::P2),
            cluster(4, "orders-api", FAILED, Priority::P2),
            cluster(5, "search-api", FAILED, Priority::P2),
            cluster(
                6,
                "search-api",
                "index shard <*> answered slowly",
                Priority::P3,
            ),
        ];
        let tie = Strength {
            moments: 6,
            same: Tie {
                met: 6,
                ..Tie::default()
            },
            tied: true,
            ..Strength::default()
        };
        let links: BTreeMap<Pair, Strength> = [((ClusterId(1), ClusterId(2)), tie)].into();
        let config = GroupConfig::default();
        let mut groups = group(
            &clusters,
            &links,
            &BTreeMap::new(),
            &config,
            &mut Registry::default(),
        );
        assert_eq!(groups.len(), 1);
        assert!(groups[0].crash_loop);

        let mut revisions = Revisions::new(LinkConfig::default());
        let t0: DateTime<Utc> = "2025-09-15T19:00:00Z".parse().unwrap();
        let at = |s: i64| t0 + chrono::TimeDelta::seconds(s);
        for s in [0, 120, 240] {
            revisions.observe(ClusterId(1), at(s), ("orders-api", "orders-api-7"), true);
            revisions.observe(ClusterId(2), at(s), ("orders-api", "orders-api-7"), true);
        }
        revisions.observe(ClusterId(3), at(60), ("orders-api", "orders-api-7"), false);
        revisions.observe(ClusterId(4), at(60), ("orders-api", "orders-api-6"), false);
        revisions.observe(ClusterId(5), at(60), ("search-api", "search-api-2"), false);
        revisions.observe(ClusterId(6), at(90), ("search-api", "search-api-2"), true);
        let span = WindowSpan {
            start: t0,
            end: t0 + chrono::TimeDelta::hours(1),
        };
        let seen = revisions.in_span(span, |c| c);
        let min = config.min_priority;
        join_crash_loops(&mut groups, &clusters, &seen, |c| c.priority <= min);
        assert_eq!(
            groups[0].members,
            [ClusterId(1), ClusterId(2), ClusterId(3)],
            "the crash first, its 503s as a consequence; rev 6's and search-api's stay out"
        );

        // A snapshot restores what was seen; a window after the forgotten slots sees nothing.
        let restored = Revisions::restore(LinkConfig::default(), revisions.snapshot());
        assert_eq!(restored.in_span(span, |c| c), seen);
        revisions.forget_before(span.end);
        assert!(revisions.in_span(span, |c| c).is_empty());
    }
}
