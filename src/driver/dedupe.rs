//! The ids of recently taken messages, so a Pub/Sub redelivery (at-least-once) is not counted
//! twice. Bounded: the oldest ids are forgotten first. Ids are kept as 64-bit hashes (xxh3),
//! which keeps the checkpoint small; two ids sharing a hash among 10⁵ is a 1-in-10⁹ event.

use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<u64>,
    set: HashSet<u64>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// Restores from [`RecentIds::to_vec`] (oldest first), keeping at most `capacity`.
    pub fn from_vec(capacity: usize, ids: Vec<u64>) -> RecentIds {
        let mut r = RecentIds::new(capacity);
        for h in ids {
            r.insert_hash(h);
        }
        r
    }

    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(&hash(id))
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

    /// Oldest first, for a checkpoint.
    pub fn to_vec(&self) -> Vec<u64> {
        self.order.iter().copied().collect()
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
        assert!(!r.contains("a") && r.contains("b") && r.contains("c"));
        let back = RecentIds::from_vec(2, r.to_vec());
        assert!(back.contains("b") && back.contains("c") && back.len() == 2);
    }
}
