//! One receiver's queue of posts waiting for delivery, pure and bounded: a newer post of the
//! same alert replaces an older one still waiting (it says everything the older one did, with
//! a later `endsAt`), and when the queue is full the oldest post is dropped and counted.

use std::collections::VecDeque;

use crate::alerting::AlertPost;

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    queue: VecDeque<AlertPost>,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
        }
    }

    /// Queues `post`; returns how many posts were dropped to make room (0 or 1).
    pub fn push(&mut self, post: AlertPost) -> usize {
        self.queue.retain(|q| q.key() != post.key());
        let mut dropped = 0;
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            dropped = 1;
        }
        self.queue.push_back(post);
        dropped
    }

    /// The `n` oldest posts.
    pub fn take(&mut self, n: usize) -> Vec<AlertPost> {
        let n = n.min(self.queue.len());
        self.queue.drain(..n).collect()
    }

    /// Puts a batch that failed back in front, except posts superseded meanwhile; returns how
    /// many were dropped for room.
    pub fn requeue(&mut self, batch: Vec<AlertPost>) -> usize {
        let mut dropped = 0;
        for post in batch.into_iter().rev() {
            if self.queue.iter().any(|q| q.key() == post.key()) {
                continue;
            }
            if self.queue.len() >= self.capacity {
                dropped += 1;
                continue;
            }
            self.queue.push_front(post);
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalate::Priority;
    use crate::fingerprint::ClusterId;
    use crate::sinks::alert::{AlertKind, Change};

    fn post(cluster: u64, ends: &str) -> AlertPost {
        AlertPost {
            change: Change::Reposted,
            kind: AlertKind::NewCluster,
            cluster: ClusterId(cluster),
            service: "api".into(),
            priority: Priority::P1,
            template: "t".into(),
            sample: None,
            issue_url: None,
            starts_at: "2026-01-01T10:00:00Z".parse().unwrap(),
            ends_at: format!("2026-01-01T{ends}Z").parse().unwrap(),
        }
    }

    #[test]
    fn newer_post_of_the_same_alert_replaces_the_waiting_one() {
        let mut o = Outbox::new(8);
        o.push(post(1, "10:05:00"));
        o.push(post(2, "10:05:00"));
        o.push(post(1, "10:07:00"));
        let all = o.take(usize::MAX);
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[1].cluster.0, all[1].ends_at.to_rfc3339()),
            (1, "2026-01-01T10:07:00+00:00".into())
        );
    }

    #[test]
    fn full_queue_drops_the_oldest() {
        let mut o = Outbox::new(2);
        assert_eq!(o.push(post(1, "10:05:00")), 0);
        assert_eq!(o.push(post(2, "10:05:00")), 0);
        assert_eq!(o.push(post(3, "10:05:00")), 1);
        let ids: Vec<u64> = o.take(usize::MAX).iter().map(|p| p.cluster.0).collect();
        assert_eq!(ids, [2, 3]);
    }

    #[test]
    fn requeue_keeps_order_and_skips_superseded_posts() {
        let mut o = Outbox::new(8);
        let failed = vec![post(1, "10:05:00"), post(2, "10:05:00")];
        o.push(post(2, "10:07:00"));
        assert_eq!(o.requeue(failed), 0);
        let all = o.take(usize::MAX);
        let got: Vec<(u64, String)> = all
            .iter()
            .map(|p| (p.cluster.0, p.ends_at.format("%H:%M").to_string()))
            .collect();
        assert_eq!(got, [(1, "10:05".into()), (2, "10:07".into())]);
    }
}
