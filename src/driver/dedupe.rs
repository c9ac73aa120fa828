//! The ids of recently taken messages, so a Pub/Sub redelivery (at-least-once) is not counted
//! twice. Bounded: the oldest ids are forgotten first. Ids are kept as 64-bit hashes (xxh3),
//! which keeps the checkpoint small; two ids sharing a hash among 10⁵ is a 1-in-10⁹ event.
//!
//! After a restart, the ids of the checkpoint are also kept apart for [`REDELIVERY_GRACE`] of
//! clock time, whatever comes after them: the dead process's messages (in its checkpoint, their
//! acks maybe lost with it) come back only once their lease runs out, and a backfill hands out
//! more than `live.dedupe_ids` newer messages before that.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};

/// How long a restart keeps recognising its checkpoint's messages: Pub/Sub's longest ack
/// deadline (600 s), past the client's 60 s lease extension.
pub const REDELIVERY_GRACE: TimeDelta = TimeDelta::minutes(10);

#[derive(Debug, Clone)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<u64>,
    set: HashSet<u64>,
    /// The checkpoint's ids after a restart, until the grace after the first delivery.
    restored: HashSet<u64>,
    restored_until: Option<DateTime<Utc>>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            set: HashSet::new(),
            restored: HashSet::new(),
            restored_until: None,
        }
    }

    /// Restores from [`RecentIds::to_vec`] (oldest first), keeping at most `capacity`, and
    /// every one of them apart for the redelivery grace.
    pub fn from_vec(capacity: usize, ids: Vec<u64>) -> RecentIds {
        let mut r = RecentIds::new(capacity);
        r.restored = ids.iter().copied().collect();
        for h in ids {
            r.insert_hash(h);
        }
        r
    }

    /// Whether `id` was taken, as seen at clock time `now` (which starts and ends the grace
    /// of a restart's ids).
    pub fn contains(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let h = hash(id);
        if self.set.contains(&h) {
            return true;
        }
        if self.restored.is_empty() {
            return false;
        }
        let until = *self.restored_until.get_or_insert(now + REDELIVERY_GRACE);
        if now >= until {
            self.restored = HashSet::new();
            return false;
        }
        self.restored.contains(&h)
    }

    /// Remembers `id`; false if it was already known.
    pub fn insert(&mut self, id: &str) -> bool {
        self.insert_hash(hash(id))
    }

    fn insert_hash(&mut self, h: u64) -> bool {
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Oldest first, for a checkpoint: a restart's ids still in their grace first, so a
    /// second crash within it keeps them too.
    pub fn to_vec(&self) -> Vec<u64> {
        let mut kept: Vec<u64> = self
            .restored
            .iter()
            .copied()
            .filter(|h| !self.set.contains(h))
            .collect();
        kept.sort_unstable();
        kept.extend(self.order.iter().copied());
        kept
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

fn hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_refused_until_it_is_forgotten() {
        let mut r = RecentIds::new(2);
        assert!(r.insert("a") && r.insert("b"));
        assert!(!r.insert("a"), "a redelivery");
        assert!(r.insert("c"), "pushes out a");
        let now: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
        assert!(!r.contains("a", now) && r.contains("b", now) && r.contains("c", now));
        let mut back = RecentIds::from_vec(2, r.to_vec());
        assert!(back.contains("b", now) && back.contains("c", now) && back.len() == 2);
    }

    #[test]
    fn a_restarts_ids_are_recognised_for_the_grace_however_many_come_after() {
        let mut first = RecentIds::new(3);
        for id in ["a", "b", "c"] {
            first.insert(id);
        }
        let mut r = RecentIds::from_vec(3, first.to_vec());
        let now: DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
        for i in 0..10 {
            assert!(!r.contains(&format!("new{i}"), now));
            r.insert(&format!("new{i}"));
        }
        let later = now + TimeDelta::minutes(9);
        assert!(
            r.contains("a", later),
            "pushed out of the recent ids, still in its grace"
        );
        let mut again = RecentIds::from_vec(3, r.to_vec());
        assert!(
            again.contains("a", later),
            "a second crash in the grace keeps them"
        );
        assert!(
            !r.contains("a", now + REDELIVERY_GRACE),
            "forgotten after the grace"
        );
        assert_eq!(r.to_vec().len(), 3);
    }
}
