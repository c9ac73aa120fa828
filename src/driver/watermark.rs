//! The event-time watermark of a stream, held back by clock time.
//!
//! Pub/Sub gives no order. After a crash, the next process is handed newer messages first
//! while the dead one's leased messages come back only once their lease runs out (the
//! client's lease extension, 60 s by default); a backfill publishes an hour of event time in
//! seconds. A watermark at the latest event time seen would close the windows of those
//! redelivered messages before they arrive. So the watermark is the latest event time seen
//! as it was `hold` of clock time ago: whatever is redelivered within `hold` finds its window
//! open. After a restart the watermark stays at the checkpoint's for `hold`.
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
    /// The latest event time seen (what the checkpoint keeps).
    latest: Option<DateTime<Utc>>,
    /// The latest event time seen as of `hold` ago: the watermark.
    held: Option<DateTime<Utc>>,
    /// (end of the clock slot it was seen in, latest event time then), oldest first, all
    /// newer than `hold` ago.
    recent: VecDeque<(DateTime<Utc>, DateTime<Utc>)>,
}

impl HeldWatermark {
    /// Continuing from `restored`, the latest event time of a checkpoint (or none).
    pub fn new(hold: TimeDelta, restored: Option<DateTime<Utc>>) -> HeldWatermark {
        HeldWatermark {
            hold,
            latest: restored,
            held: restored,
            recent: VecDeque::new(),
        }
    }

    /// An entry of event time `at` was counted at clock time `now`.
    pub fn observe(&mut self, at: DateTime<Utc>, now: DateTime<Utc>) {
        if self.latest.is_some_and(|l| l >= at) {
            return;
        }
        self.latest = Some(at);
        if self.hold <= TimeDelta::zero() {
            self.held = self.latest;
            return;
        }
        let slot = self.slot_end(now);
        match self.recent.back_mut() {
            Some((end, frontier)) if *end >= slot => *frontier = at,
            _ => self.recent.push_back((slot, at)),
        }
    }

    /// The watermark at clock time `now`: the latest event time seen `hold` ago.
    pub fn at(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        while let Some(&(end, frontier)) = self.recent.front() {
            if end + self.hold > now {
                break;
            }
            self.held = Some(frontier);
            self.recent.pop_front();
        }
        self.held
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
        let mut w = HeldWatermark::new(secs(90), None);
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
        let mut w = HeldWatermark::new(secs(90), Some(t("2025-09-15T19:05:00Z")));
        w.observe(t("2025-09-15T21:00:00Z"), restart);
        assert_eq!(w.at(restart + secs(60)), Some(t("2025-09-15T19:05:00Z")));
        w.observe(t("2025-09-15T19:10:00Z"), restart + secs(60));
        assert_eq!(w.at(restart + secs(89)), Some(t("2025-09-15T19:05:00Z")));
    }

    #[test]
    fn memory_is_bounded_by_the_slots_of_hold() {
        let start = t("2026-12-02T10:00:00Z");
        let mut w = HeldWatermark::new(secs(64), None);
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
        let mut w = HeldWatermark::new(TimeDelta::zero(), None);
        w.observe(t("2025-09-15T19:00:00Z"), t("2026-12-02T10:00:00Z"));
        assert_eq!(
            w.at(t("2026-12-02T10:00:00Z")),
            Some(t("2025-09-15T19:00:00Z"))
        );
    }
}
