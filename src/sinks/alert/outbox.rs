//! One receiver's queue of posts waiting for delivery, pure and bounded. The latest state of
//! an alert wins: a newer firing post of an alert replaces the one still waiting (keeping it a
//! `Fired` if the waiting one was: the page must still go out), and a resolution replaces a
//! waiting re-post — but never a waiting fire, so after an outage people get both the fire and
//! the resolution, once each. When the queue is full the oldest post is dropped and counted.

use std::collections::VecDeque;

use tokio::time::Instant;

use crate::alerting::{AlertPost, Change};

/// A post and when its state was decided (the lane gives up on it `patience` later).
#[derive(Debug, Clone)]
pub struct Queued {
    pub post: AlertPost,
    pub since: Instant,
}

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    queue: VecDeque<Queued>,
}

fn resolved(p: &AlertPost) -> bool {
    p.change == Change::Resolved
}

/// `newer` takes the place of `older` (same alert, both firing): its content, and `Fired` if
/// either was.
fn absorb(older: &mut Queued, newer: Queued) {
    let fired = older.post.change == Change::Fired || newer.post.change == Change::Fired;
    *older = newer;
    if fired {
        older.post.change = Change::Fired;
    }
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
        }
    }

    /// Queues `q`; returns how many posts were dropped to make room (0 or 1).
    pub fn push(&mut self, q: Queued) -> usize {
        let key = q.post.key();
        if resolved(&q.post) {
            // A waiting re-post says less than the resolution; a waiting fire still pages.
            self.queue
                .retain(|w| w.post.key() != key || w.post.change == Change::Fired);
        } else if let Some(w) = self
            .queue
            .iter_mut()
            .find(|w| w.post.key() == key && !resolved(&w.post))
        {
            absorb(w, q);
            return 0;
        }
        let mut dropped = 0;
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            dropped = 1;
        }
        self.queue.push_back(q);
        dropped
    }

    /// The `n` oldest posts, stopping before a second post of an alert already taken (a fire
    /// and its resolution go in separate requests, so the receiver sees both).
    pub fn take(&mut self, n: usize) -> Vec<Queued> {
        let mut out: Vec<Queued> = Vec::new();
        while out.len() < n {
            let Some(next) = self.queue.front() else {
                break;
            };
            if out.iter().any(|q| q.post.key() == next.post.key()) {
                break;
            }
            out.extend(self.queue.pop_front());
        }
        out
    }

    /// Puts a batch that failed back in front; a post whose alert has a newer state waiting
    /// merges into it (the newer content, `Fired` kept). Returns how many were dropped for room.
    pub fn requeue(&mut self, batch: Vec<Queued>) -> usize {
        let mut dropped = 0;
        for q in batch.into_iter().rev() {
            let key = q.post.key();
            let newer = self
                .queue
                .iter_mut()
                .find(|w| w.post.key() == key && resolved(&w.post) == resolved(&q.post));
            if let Some(w) = newer {
                if q.post.change == Change::Fired && !resolved(&w.post) {
                    w.post.change = Change::Fired;
                }
                continue;
            }
            if self.queue.len() >= self.capacity {
                dropped += 1;
                continue;
            }
            self.queue.push_front(q);
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalate::Priority;
    use crate::fingerprint::ClusterId;
    use crate::sinks::alert::AlertKind;

    fn post(cluster: u64, change: Change, ends: &str) -> Queued {
        Queued {
            post: AlertPost {
                change,
                kind: AlertKind::NewCluster,
                cluster: ClusterId(cluster),
                service: "api".into(),
                priority: Priority::P1,
                template: "t".into(),
                sample: None,
                count: None,
                issue_url: None,
                starts_at: "2026-01-01T10:00:00Z".parse().unwrap(),
                ends_at: format!("2026-01-01T{ends}Z").parse().unwrap(),
            },
            since: Instant::now(),
        }
    }

    fn got(o: &mut Outbox) -> Vec<(u64, Change, String)> {
        o.take(usize::MAX)
            .iter()
            .map(|q| {
                (
                    q.post.cluster.0,
                    q.post.change,
                    q.post.ends_at.format("%H:%M").to_string(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn the_latest_state_wins_but_a_fire_still_pages() {
        let mut o = Outbox::new(8);
        o.push(post(1, Change::Fired, "10:05:00"));
        o.push(post(2, Change::Reposted, "10:05:00"));
        o.push(post(1, Change::Reposted, "10:07:00"));
        o.push(post(2, Change::Resolved, "10:08:00"));
        assert_eq!(
            got(&mut o),
            [
                (1, Change::Fired, "10:07".into()),
                (2, Change::Resolved, "10:08".into())
            ]
        );
        o.push(post(3, Change::Fired, "10:05:00"));
        o.push(post(3, Change::Resolved, "10:06:00"));
        assert_eq!(
            got(&mut o),
            [(3, Change::Fired, "10:05".into())],
            "one request"
        );
        assert_eq!(
            got(&mut o),
            [(3, Change::Resolved, "10:06".into())],
            "after an outage people get the fire and the resolution"
        );
    }

    #[tokio::test]
    async fn full_queue_drops_the_oldest() {
        let mut o = Outbox::new(2);
        assert_eq!(o.push(post(1, Change::Fired, "10:05:00")), 0);
        assert_eq!(o.push(post(2, Change::Fired, "10:05:00")), 0);
        assert_eq!(o.push(post(3, Change::Fired, "10:05:00")), 1);
        let ids: Vec<u64> = got(&mut o).iter().map(|p| p.0).collect();
        assert_eq!(ids, [2, 3]);
    }

    #[tokio::test]
    async fn a_failed_fire_merges_into_its_newer_state() {
        let mut o = Outbox::new(8);
        let failed = vec![
            post(1, Change::Fired, "10:05:00"),
            post(2, Change::Fired, "10:05:00"),
        ];
        o.push(post(2, Change::Reposted, "10:07:00"));
        assert_eq!(o.requeue(failed), 0);
        assert_eq!(
            got(&mut o),
            [
                (1, Change::Fired, "10:05".into()),
                (2, Change::Fired, "10:07".into())
            ]
        );
    }
}
