//! The event-time watermark of a stream, held back by clock time.
//!
//! Pub/Sub gives no order. After a crash, the next process is handed newer messages first
//! while the dead one's leased messages come back only once their lease runs out (the
//! client's lease extension, 60 s by default); a backfill publishes an hour of event time in
//! seconds. A watermark at the latest event time seen would close the windows of those
//! redelivered messages before they arrive. So the watermark is the latest event time seen
//! as it was `hold` of clock time ago: whatever is redelivered within `hold` finds its window
//! open. After a restart the watermark stays at the checkpoint's for `hold`. A backlog that
//! takes longer than `hold` to drain holds it too: while entries older than the held frontier
//! are still being counted, the watermark waits at the earliest of them (at most a window
//! behind), as a low watermark does.
//!
//! Pure: the clock time comes in as an argument.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

/// Steps of clock time the frontier is remembered at: memory is bounded by this, and the
/// watermark is never more than `hold / SLOTS` later than exact.
const SLOTS: i64 = 64;

#[derive(Debug, Clone)]
pub struct HeldWatermark {
    hold: TimeDelta,
    /// How far behind the held frontier a backlog may hold the watermark.
    backlog_span: TimeDelta,
    /// The latest event time seen (what the checkpoint keeps).
    latest: Option<DateTime<Utc>>,
    /// The latest event time seen as of `hold` ago.
    held: Option<DateTime<Utc>>,
    /// The watermark last given: it never goes back.
    given: Option<DateTime<Utc>>,
    /// The clock slots of the last `hold`, oldest first.
    recent: VecDeque<Slot>,
}

/// What was counted in one step of clock time.
#[derive(Debug, Clone)]
struct Slot {
    /// The end of the step.
    end: DateTime<Utc>,
    /// The latest event time seen by then, when it moved in this step.
    frontier: Option<DateTime<Utc>>,
    /// The earliest event time counted in this step.
    low: DateTime<Utc>,
}

impl HeldWatermark {
    /// Continuing from `restored`, the latest event time of a checkpoint (or none). A backlog
    /// being delivered holds the watermark at most `backlog_span` behind the held frontier.
    pub fn new(
        hold: TimeDelta,
        backlog_span: TimeDelta,
        restored: Option<DateTime<Utc>>,
    ) -> HeldWatermark {
        HeldWatermark {
            hold,
            backlog_span,
            latest: restored,
            held: restored,
            given: restored,
            recent: VecDeque::new(),
        }
    }

    /// An entry of event time `at` was counted at clock time `now`.
    pub fn observe(&mut self, at: DateTime<Utc>, now: DateTime<Utc>) {
        let frontier = self.latest.is_none_or(|l| at > l);
        if frontier {
            self.latest = Some(at);
        }
        if self.hold <= TimeDelta::zero() {
            self.held = self.latest;
            return;
        }
        let slot = self.slot_end(now);
        match self.recent.back_mut() {
            Some(s) if s.end >= slot => {
                if frontier {
                    s.frontier = Some(at);
                }
                s.low = s.low.min(at);
            }
            _ => self.recent.push_back(Slot {
                end: slot,
                frontier: frontier.then_some(at),
                low: at,
            }),
        }
    }

    /// The watermark at clock time `now`: the latest event time seen `hold` ago, or, while
    /// entries older than that are still being counted (a backlog redelivered after a crash,
    /// drained over more than `hold`), the earliest of them within `backlog_span` of it. It
    /// never goes back.
    pub fn at(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        while let Some(s) = self.recent.front() {
            if s.end + self.hold > now {
                break;
            }
            if let Some(f) = s.frontier {
                self.held = Some(f);
            }
            self.recent.pop_front();
        }
        let held = self.held?;
        let low = self.recent.iter().map(|s| s.low).min();
        let candidate = low.map_or(held, |l| held.min(l.max(held - self.backlog_span)));
        self.given = Some(self.given.map_or(candidate, |g| g.max(candidate)));
        self.given
    }

    /// The latest event time seen, held back or not.
    pub fn latest(&self) -> Option<DateTime<Utc>> {
        self.latest
    }

    /// The end of the slot `now` falls in: remembering a frontier at its slot's end holds it
    /// a little longer, never shorter.
    fn slot_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let step = (self.hold.num_milliseconds() / SLOTS).max(1);
        let ms = now.timestamp_millis();
        let end = (ms.div_euclid(step) + 1) * step;
        DateTime::from_timestamp_millis(end).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    #[test]
    fn the_watermark_is_the_frontier_as_it_was_hold_ago() {
        let clock = t("2026-12-02T10:00:00Z");
        let mut w = HeldWatermark::new(secs(90), TimeDelta::hours(1), None);
        assert_eq!(w.at(clock), None, "nothing seen: nothing closes");
        w.observe(t("2025-09-15T19:00:00Z"), clock);
        w.observe(t("2025-09-15T18:00:00Z"), clock + secs(1));
        assert_eq!(w.latest(), Some(t("2025-09-15T19:00:00Z")));
        assert_eq!(w.at(clock + secs(60)), None, "not yet held for 90 s");
        w.observe(t("2025-09-15T21:00:00Z"), clock + secs(60));
        let held = w.at(clock + secs(92)).unwrap();
        assert_eq!(
            held,
            t("2025-09-15T19:00:00Z"),
            "the later frontier is not 90 s old"
        );
        assert_eq!(w.at(clock + secs(152)), Some(t("2025-09-15T21:00:00Z")));
    }

    #[test]
    fn after_a_restart_the_checkpoints_watermark_holds_while_leases_run_out() {
        // The dead process's messages (19:10) come back 60 s after the restart, behind
        // newer ones handed out first (21:00).
        let restart = t("2026-12-02T10:00:00Z");
        let mut w = HeldWatermark::new(
            secs(90),
            TimeDelta::hours(1),
            Some(t("2025-09-15T19:05:00Z")),
        );
        w.observe(t("2025-09-15T21:00:00Z"), restart);
        assert_eq!(w.at(restart + secs(60)), Some(t("2025-09-15T19:05:00Z")));
        w.observe(t("2025-09-15T19:10:00Z"), restart + secs(60));
        assert_eq!(w.at(restart + secs(89)), Some(t("2025-09-15T19:05:00Z")));
    }

    #[test]
    fn a_backlog_drained_for_longer_than_hold_holds_the_watermark_until_it_is_done() {
        // After a crash: newer entries first, then the dead process's 19:00–19:10 come back
        // one a second for five minutes, far longer than the 90 s hold.
        let restart = t("2026-12-02T10:00:00Z");
        let mut w = HeldWatermark::new(secs(90), TimeDelta::hours(1), None);
        w.observe(t("2025-09-15T19:50:00Z"), restart);
        for i in 0..300 {
            let now = restart + secs(10 + i);
            w.observe(t("2025-09-15T19:00:00Z") + secs(2 * i), now);
            let mark = w.at(now);
            assert!(
                mark.is_none_or(|m| m <= t("2025-09-15T19:00:00Z") + secs(2 * i)),
                "{mark:?} passed the backlog at {i}"
            );
        }
        // Drained: 90 s later the watermark is the frontier again.
        assert_eq!(
            w.at(restart + secs(310 + 91)),
            Some(t("2025-09-15T19:50:00Z"))
        );
        // A stray entry days old holds it at most a window behind, and it never goes back.
        let now = restart + secs(500);
        w.observe(t("2025-09-12T00:00:00Z"), now);
        assert_eq!(w.at(now), Some(t("2025-09-15T19:50:00Z")));
        w.observe(t("2025-09-15T23:00:00Z"), now);
        w.observe(t("2025-09-15T19:00:00Z"), now + secs(100));
        assert_eq!(w.at(now + secs(100)), Some(t("2025-09-15T22:00:00Z")));
    }

    #[test]
    fn memory_is_bounded_by_the_slots_of_hold() {
        let start = t("2026-12-02T10:00:00Z");
        let mut w = HeldWatermark::new(secs(64), TimeDelta::hours(1), None);
        for i in 0..100_000 {
            let now = start + TimeDelta::milliseconds(i);
            w.observe(t("2025-01-01T00:00:00Z") + secs(i), now);
            w.at(now);
        }
        assert!(w.recent.len() <= SLOTS as usize + 1, "{}", w.recent.len());
        let end = start + TimeDelta::milliseconds(99_999);
        let held = w.at(end).unwrap();
        assert!(held <= t("2025-01-01T00:00:00Z") + secs(99_999 - 64_000));
        assert!(held >= t("2025-01-01T00:00:00Z") + secs(99_999 - 66_000));
    }

    #[test]
    fn no_hold_is_the_latest_event_time() {
        let mut w = HeldWatermark::new(TimeDelta::zero(), TimeDelta::hours(1), None);
        w.observe(t("2025-09-15T19:00:00Z"), t("2026-12-02T10:00:00Z"));
        assert_eq!(
            w.at(t("2026-12-02T10:00:00Z")),
            Some(t("2025-09-15T19:00:00Z"))
        );
    }
}
