//! GitHub's documented secondary rate limits, kept before GitHub has to enforce them: at most
//! `per_minute` content-creating requests (creates, updates, comments) in any minute and
//! `per_hour` in any hour, each at least `spacing` after the previous. Pure: the writes made so
//! far and `now` go in, the earliest time the next write may go comes out.

use chrono::{DateTime, TimeDelta, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBudget {
    pub per_minute: usize,
    pub per_hour: usize,
    pub spacing: TimeDelta,
}

impl WriteBudget {
    /// The earliest time at or after `now` a write may go, given `writes` (ascending).
    pub fn next_at(&self, writes: &[DateTime<Utc>], now: DateTime<Utc>) -> DateTime<Utc> {
        let mut at = now;
        if let Some(last) = writes.last() {
            at = at.max(*last + self.spacing);
        }
        for (limit, span) in [
            (self.per_minute, TimeDelta::minutes(1)),
            (self.per_hour, TimeDelta::hours(1)),
        ] {
            let recent: Vec<&DateTime<Utc>> = writes.iter().filter(|w| **w > now - span).collect();
            if limit > 0 && recent.len() >= limit {
                // The write that has to leave the span before another may enter it.
                at = at.max(*recent[recent.len() - limit] + span);
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2025-09-15T{s}Z").parse().unwrap()
    }

    #[test]
    fn minute_and_hour_limits_hold_before_github_says_so() {
        let b = WriteBudget {
            per_minute: 3,
            per_hour: 5,
            spacing: TimeDelta::seconds(1),
        };
        let mut writes = Vec::new();
        let mut now = t("10:00:00");
        let mut sent = Vec::new();
        while now < t("11:30:00") {
            let at = b.next_at(&writes, now);
            writes.push(at);
            sent.push(at);
            now = at;
        }
        for w in &sent {
            let in_minute = sent
                .iter()
                .filter(|x| **x <= *w && **x > *w - TimeDelta::minutes(1));
            let in_hour = sent
                .iter()
                .filter(|x| **x <= *w && **x > *w - TimeDelta::hours(1));
            assert!(in_minute.count() <= 3 && in_hour.count() <= 5, "{w}");
        }
        assert_eq!(
            &sent[..4],
            [t("10:00:00"), t("10:00:01"), t("10:00:02"), t("10:01:00")]
        );
        assert_eq!(
            sent[5],
            t("11:00:00"),
            "the sixth waits for the first to leave the hour"
        );
    }
}
