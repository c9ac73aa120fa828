//! Count-tier crossings in near real time: when a cluster's entries in the trailing hour
//! reach a tier of `escalation.count` (≥100, ≥1000 by default), say so at once instead of at
//! the window's close. Pure state; the count comes from the caller (`Pipeline::count_last`).
//!
//! Checking the count on every entry would cost a bucket scan each; instead each cluster
//! carries a countdown: if the count was `c` and the next tier is `t`, at least `t - c` more
//! entries of it must arrive before it can cross (counts in a trailing hour only grow by new
//! entries), so the count is only looked at again then. Each tier is announced once per
//! cluster until the next window closes.

use std::collections::HashMap;

use crate::escalate::CountTier;
use crate::fingerprint::ClusterId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Track {
    /// `at_least` of the highest tier announced (0: none).
    announced: u64,
    /// Entries to come before the count is worth looking at again.
    countdown: u64,
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
}

impl EscalationTracker {
    pub fn new(mut tiers: Vec<CountTier>) -> EscalationTracker {
        tiers.sort_by_key(|t| t.at_least);
        EscalationTracker {
            tiers,
            clusters: HashMap::new(),
        }
    }

    /// One more entry of `id`; `count` gives its entries in the trailing hour (called only
    /// when a crossing is possible).
    pub fn observe(&mut self, id: ClusterId, count: impl FnOnce() -> u64) -> Option<Crossing> {
        if self.tiers.is_empty() {
            return None;
        }
        let track = self.clusters.entry(id).or_insert(Track {
            announced: 0,
            countdown: 1,
        });
        if track.countdown > 1 {
            track.countdown -= 1;
            return None;
        }
        let n = count();
        let reached = self.tiers.iter().rev().find(|t| t.at_least <= n).copied();
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

    /// A window closed: tiers may be announced again, counts are looked at afresh.
    pub fn reset(&mut self) {
        self.clusters.clear();
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

    #[test]
    fn each_tier_is_announced_once_and_the_count_is_read_rarely() {
        let mut t = EscalationTracker::new(tiers());
        let (mut n, mut reads, mut crossings) = (0u64, 0, Vec::new());
        for _ in 0..1500 {
            n += 1;
            if let Some(c) = t.observe(ClusterId(1), || {
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
        let again = t.observe(ClusterId(1), || n).map(|c| c.tier.at_least);
        assert_eq!(
            again,
            Some(1000),
            "after a window close the tier is announced again"
        );
    }

    #[test]
    fn a_count_fed_by_other_sources_is_caught_at_the_next_check() {
        let mut t = EscalationTracker::new(tiers());
        assert_eq!(t.observe(ClusterId(2), || 50), None);
        for _ in 0..49 {
            assert_eq!(t.observe(ClusterId(2), || unreachable!()), None);
        }
        let c = t.observe(ClusterId(2), || 120);
        assert_eq!(c.map(|c| (c.count, c.tier.at_least)), Some((120, 100)));
    }
}
