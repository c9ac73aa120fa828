//! Count-tier crossings in near real time: when a cluster's entries in the trailing hour
//! reach a tier of `escalation.count` (≥100, ≥1000 by default), say so at once instead of at
//! the window's close. Pure state; the count comes from the caller (`Pipeline::count_last`).
//!
//! Checking the count on every entry would cost a bucket scan each; instead each cluster
//! carries a countdown: if the count was `c` and the next tier is `t`, at least `t - c` more
//! entries of it must arrive before it can cross (counts in a trailing hour only grow by new
//! entries), so the count is only looked at again then. A tier is announced when the count
//! crosses it, and again only after the count was seen below it (its hour moved on): a cluster
//! that stays above a tier is not announced again at each window's close.
//!
//! The trailing hour ends at the cluster's newest entry so far, not at the entry just taken:
//! entries come out of event-time order (a backlog is handed out in any order, an instance's
//! export is late), and an hour ending at a late entry leaves out the newer ones already
//! counted. Counted so, the count grows by at most one an entry, which the countdown needs: a
//! count read low at a late entry would wait for entries that may never come (no live page,
//! only the worklog at the window's close).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use serde::{Deserialize, Serialize};

use crate::escalate::CountTier;
use crate::fingerprint::ClusterId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Track {
    /// `at_least` of the highest tier announced (0: none).
    announced: u64,
    /// Entries to come before the count is worth looking at again.
    countdown: u64,
    /// Event time of the cluster's newest entry: where its trailing hour ends.
    latest: DateTime<Utc>,
}

/// The tracker as a checkpoint holds it, so that a restart neither announces a tier again
/// nor ends a cluster's hour at its first entry after the restart (often a redelivered, older
/// one: the count would read low and the countdown wait for entries that may never come).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationSnapshot {
    newest: Option<DateTime<Utc>>,
    /// Per cluster: its id, the highest tier announced, its newest entry; by id.
    clusters: Vec<(u64, u64, DateTime<Utc>)>,
}

/// A tier just reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    pub count: u64,
    pub tier: CountTier,
}

#[derive(Debug, Clone, Default)]
pub struct EscalationTracker {
    /// Sorted by `at_least`.
    tiers: Vec<CountTier>,
    clusters: HashMap<ClusterId, Track>,
    /// The trailing span counted (`window.length`): a cluster whose newest entry is further
    /// than this behind the newest of all is forgotten at a window's close.
    span: TimeDelta,
    /// The newest entry's event time of all clusters.
    newest: DateTime<Utc>,
}

impl EscalationTracker {
    pub fn new(mut tiers: Vec<CountTier>, span: TimeDelta) -> EscalationTracker {
        tiers.sort_by_key(|t| t.at_least);
        EscalationTracker {
            tiers,
            clusters: HashMap::new(),
            span,
            newest: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// A tracker continuing from `snap`. Each cluster's count is read again at its next
    /// entry (the tiers may have changed with the restart).
    pub fn restore(tiers: Vec<CountTier>, span: TimeDelta, snap: EscalationSnapshot) -> Self {
        let mut t = EscalationTracker::new(tiers, span);
        t.newest = snap.newest.unwrap_or(t.newest);
        t.clusters = (snap.clusters.into_iter())
            .map(|(id, announced, latest)| {
                let track = Track {
                    announced,
                    countdown: 1,
                    latest,
                };
                (ClusterId(id), track)
            })
            .collect();
        t
    }

    pub fn snapshot(&self) -> EscalationSnapshot {
        let mut clusters: Vec<_> = (self.clusters.iter())
            .map(|(id, t)| (id.0, t.announced, t.latest))
            .collect();
        clusters.sort_unstable_by_key(|c| c.0);
        EscalationSnapshot {
            newest: (self.newest != DateTime::<Utc>::MIN_UTC).then_some(self.newest),
            clusters,
        }
    }

    /// One more entry of `id`, of event time `at`; `count(end)` gives its entries in the
    /// trailing hour ending at `end` (called only when a crossing is possible).
    pub fn observe(
        &mut self,
        id: ClusterId,
        at: DateTime<Utc>,
        count: impl FnOnce(DateTime<Utc>) -> u64,
    ) -> Option<Crossing> {
        if self.tiers.is_empty() {
            return None;
        }
        self.newest = self.newest.max(at);
        let track = self.clusters.entry(id).or_insert(Track {
            announced: 0,
            countdown: 1,
            latest: at,
        });
        track.latest = track.latest.max(at);
        if track.countdown > 1 {
            track.countdown -= 1;
            return None;
        }
        let n = count(track.latest);
        let reached = self.tiers.iter().rev().find(|t| t.at_least <= n).copied();
        track.announced = track.announced.min(reached.map_or(0, |t| t.at_least));
        let crossing = reached
            .filter(|t| t.at_least > track.announced)
            .map(|tier| {
                track.announced = tier.at_least;
                Crossing { count: n, tier }
            });
        track.countdown = self
            .tiers
            .iter()
            .find(|t| t.at_least > track.announced.max(n))
            .map_or(u64::MAX, |t| t.at_least - n);
        crossing
    }

    /// A window closed: counts are looked at afresh at each cluster's next entry (a count
    /// found below a tier announced lets it be announced again). A cluster is kept (where its
    /// hour ends, the tier announced: the next entry may be a late one) while its newest entry
    /// is within the trailing span of the newest of all.
    pub fn reset(&mut self) {
        if let Some(keep_from) = self.newest.checked_sub_signed(self.span) {
            self.clusters.retain(|_, t| t.latest >= keep_from);
        }
        for t in self.clusters.values_mut() {
            t.countdown = 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<CountTier> {
        vec![
            CountTier {
                at_least: 1000,
                raise: 2,
            },
            CountTier {
                at_least: 100,
                raise: 1,
            },
        ]
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn tracker() -> EscalationTracker {
        EscalationTracker::new(tiers(), TimeDelta::hours(1))
    }

    #[test]
    fn each_tier_is_announced_once_and_the_count_is_read_rarely() {
        let mut t = tracker();
        let (mut n, mut reads, mut crossings) = (0u64, 0, Vec::new());
        for _ in 0..1500 {
            n += 1;
            if let Some(c) = t.observe(ClusterId(1), at(0), |_| {
                reads += 1;
                n
            }) {
                crossings.push((c.count, c.tier.at_least));
            }
        }
        assert_eq!(crossings, [(100, 100), (1000, 1000)]);
        assert!(reads <= 4, "count read {reads} times");
        t.reset();
        n += 1;
        let again = t.observe(ClusterId(1), at(0), |_| n);
        assert_eq!(again, None, "still above: a window close announces nothing");
        // The hour moved on: the count is seen below the tiers, then crosses again.
        t.reset();
        assert_eq!(t.observe(ClusterId(1), at(7200), |_| 1), None);
        let crossings: Vec<_> = (2..=100)
            .filter_map(|n| t.observe(ClusterId(1), at(7200), |_| n))
            .map(|c| c.tier.at_least)
            .collect();
        assert_eq!(crossings, [100], "crossed again after falling below");
    }

    #[test]
    fn a_count_fed_by_other_sources_is_caught_at_the_next_check() {
        let mut t = tracker();
        assert_eq!(t.observe(ClusterId(2), at(0), |_| 50), None);
        for _ in 0..49 {
            assert_eq!(t.observe(ClusterId(2), at(0), |_| unreachable!()), None);
        }
        let c = t.observe(ClusterId(2), at(0), |_| 120);
        assert_eq!(c.map(|c| (c.count, c.tier.at_least)), Some((120, 100)));
    }

    /// The hour is counted up to the cluster's newest entry, also when the entry that makes
    /// the hundredth is older (late): before, the count ended at the late entry, left out the
    /// newer ones, and the countdown then waited for entries that never came.
    #[test]
    fn a_late_entry_that_makes_the_tier_crosses_it() {
        // Entries one every 3 s; the count of those up to `end` (the late one included).
        let mut stamps: Vec<i64> = Vec::new();
        let count = |stamps: &[i64], end: DateTime<Utc>| {
            stamps.iter().filter(|s| at(**s) <= end).count() as u64
        };
        let mut t = tracker();
        for i in 0..99 {
            stamps.push(i * 3);
            let c = t.observe(ClusterId(3), at(i * 3), |end| count(&stamps, end));
            assert_eq!(c, None);
        }
        stamps.push(30);
        let c = t.observe(ClusterId(3), at(30), |end| count(&stamps, end));
        assert_eq!(c.map(|c| (c.count, c.tier.at_least)), Some((100, 100)));

        // And after a window's close, when the first entry is a late one.
        let mut t = tracker();
        stamps.truncate(95);
        for s in &stamps {
            t.observe(ClusterId(4), at(*s), |end| count(&stamps, end));
        }
        t.reset();
        stamps.push(30);
        assert_eq!(
            t.observe(ClusterId(4), at(30), |end| count(&stamps, end)),
            None
        );
        for i in 0..4 {
            stamps.push(400 + i);
            let c = t.observe(ClusterId(4), at(400 + i), |end| count(&stamps, end));
            assert_eq!(c.map(|c| c.count), (i == 3).then_some(100), "entry {i}");
        }
    }
}
