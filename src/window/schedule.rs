//! Window arithmetic: which bucket an instant falls in, when windows end. Windows end at
//! multiples of the hop since midnight UTC (the hop divides a day), so a one-hour hop closes on
//! the hour.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::WindowSettings;

/// A half-open interval `[start, end)` of event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WindowSpan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl WindowSpan {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// Window geometry in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub length_ms: i64,
    pub hop_ms: i64,
    pub bucket_ms: i64,
}

impl Schedule {
    pub fn new(w: &WindowSettings) -> Schedule {
        Schedule {
            length_ms: w.length.num_milliseconds(),
            hop_ms: w.hop.num_milliseconds(),
            bucket_ms: w.bucket.num_milliseconds(),
        }
    }

    /// The bucket index of instant `t`.
    pub fn bucket_of(&self, t: DateTime<Utc>) -> i64 {
        t.timestamp_millis().div_euclid(self.bucket_ms)
    }

    /// Start of bucket `b` in ms since the epoch.
    pub fn bucket_start_ms(&self, b: i64) -> i64 {
        b * self.bucket_ms
    }

    /// The end of the first window that ends strictly after `t`: the earliest window that
    /// contains `t`.
    pub fn first_end_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let ms = t.timestamp_millis();
        ms_to_time((ms.div_euclid(self.hop_ms) + 1) * self.hop_ms)
    }

    /// The window that ends at `end`.
    pub fn span_ending(&self, end: DateTime<Utc>) -> WindowSpan {
        WindowSpan {
            start: end - TimeDelta::milliseconds(self.length_ms),
            end,
        }
    }

    /// The window after `span`.
    pub fn next(&self, span: WindowSpan) -> WindowSpan {
        self.span_ending(span.end + TimeDelta::milliseconds(self.hop_ms))
    }

    /// The window of length `length` that ends at `now` (for "count in the last hour").
    pub fn trailing(&self, now: DateTime<Utc>) -> WindowSpan {
        self.span_ending(now)
    }
}

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn hourly() -> Schedule {
        Schedule {
            length_ms: 3_600_000,
            hop_ms: 3_600_000,
            bucket_ms: 60_000,
        }
    }

    #[test]
    fn hourly_windows_close_on_the_hour() {
        let s = hourly();
        assert_eq!(
            s.first_end_after(t("2025-09-15T19:02:00Z")),
            t("2025-09-15T20:00:00Z")
        );
        assert_eq!(
            s.first_end_after(t("2025-09-15T20:00:00Z")),
            t("2025-09-15T21:00:00Z")
        );
        let w = s.span_ending(t("2025-09-15T20:00:00Z"));
        assert_eq!(w.start, t("2025-09-15T19:00:00Z"));
        assert!(w.contains(t("2025-09-15T19:59:59.999Z")) && !w.contains(w.end));
        assert_eq!(s.next(w).end, t("2025-09-15T21:00:00Z"));
    }

    #[test]
    fn sliding_windows_overlap_by_length_minus_hop() {
        let s = Schedule {
            hop_ms: 900_000,
            ..hourly()
        };
        let first = s.span_ending(s.first_end_after(t("2025-09-15T19:02:00Z")));
        assert_eq!(
            (first.start, first.end),
            (t("2025-09-15T18:15:00Z"), t("2025-09-15T19:15:00Z"))
        );
        assert_eq!(s.next(first).start, t("2025-09-15T18:30:00Z"));
    }

    #[test]
    fn buckets_floor_including_before_the_epoch() {
        let s = hourly();
        assert_eq!(s.bucket_of(t("1970-01-01T00:00:59Z")), 0);
        assert_eq!(s.bucket_of(t("1969-12-31T23:59:59Z")), -1);
    }
}
