//! How loudly to log an event that may come by the thousand (a refused entry, an escalation):
//! the first few of a kind in an hour one by one, then one line at each power of ten with the
//! count so far. The counts start again every hour, so a new flood in a long run is seen. The
//! events' metrics count every one; only the log lines are spared.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Events of one kind logged one by one in a period.
pub(super) const LOGGED_EACH: u64 = 10;
/// How long the counts run before they start again.
pub(super) const PERIOD: Duration = Duration::from_secs(3600);

/// How loudly to log one event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Loudness {
    /// One of the first [`LOGGED_EACH`] of its kind in the period.
    Each,
    /// The last logged one by one: the line says what happens to the rest.
    Last,
    /// The n-th of its kind, a power of ten.
    Tally(u64),
    Quiet,
}

/// Events counted per kind since the period began: the pure core, `now` given.
#[derive(Default)]
pub(super) struct Tally {
    since: Option<Instant>,
    counts: BTreeMap<&'static str, u64>,
}

impl Tally {
    pub(super) const fn new() -> Tally {
        Tally {
            since: None,
            counts: BTreeMap::new(),
        }
    }

    pub(super) fn note(&mut self, kind: &'static str, now: Instant) -> Loudness {
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= PERIOD {
            self.since = Some(now);
            self.counts.clear();
        }
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        match *n {
            n if n < LOGGED_EACH => Loudness::Each,
            LOGGED_EACH => Loudness::Last,
            n if power_of_ten(n) => Loudness::Tally(n),
            _ => Loudness::Quiet,
        }
    }
}

/// [`Tally::note`] on a process-wide tally, at the clock's now.
pub(super) fn note(tally: &Mutex<Tally>, kind: &'static str) -> Loudness {
    tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .note(kind, Instant::now())
}

fn power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Loudness, Tally, LOGGED_EACH, PERIOD};

    #[test]
    fn events_are_logged_one_by_one_then_at_powers_of_ten_per_kind_and_hour() {
        let t0 = Instant::now();
        let mut r = Tally::default();
        let heard: Vec<Loudness> = (0..1000).map(|_| r.note("not_json", t0)).collect();
        let each = heard.iter().filter(|l| **l == Loudness::Each).count() as u64;
        assert_eq!(each, LOGGED_EACH - 1);
        assert_eq!(heard[LOGGED_EACH as usize - 1], Loudness::Last);
        let tallies: Vec<&Loudness> = heard
            .iter()
            .filter(|l| matches!(l, Loudness::Tally(_)))
            .collect();
        assert_eq!(tallies, [&Loudness::Tally(100), &Loudness::Tally(1000)]);
        // Another kind has its own count.
        assert_eq!(r.note("bad_timestamp", t0), Loudness::Each);
        // Within the hour the count goes on; after it, it starts again.
        let later = t0 + PERIOD - Duration::from_secs(1);
        assert_eq!(r.note("not_json", later), Loudness::Quiet);
        assert_eq!(r.note("not_json", t0 + PERIOD), Loudness::Each);
    }

    /// 3,000 clusters crossing a tier in one hour (a replay of a flood) are twelve lines, not
    /// 3,000; the next hour's first escalation is told again.
    #[test]
    fn a_flood_of_escalations_is_a_dozen_lines_an_hour() {
        let t0 = Instant::now();
        let mut r = Tally::new();
        let at = |i: u64| t0 + Duration::from_millis(i);
        let loud = (0..3000)
            .map(|i| r.note("escalation", at(i)))
            .filter(|l| *l != Loudness::Quiet)
            .count();
        assert_eq!(
            loud,
            LOGGED_EACH as usize + 2,
            "10 one by one, then 100, 1000"
        );
        assert_eq!(r.note("escalation", t0 + PERIOD), Loudness::Each);
    }
}
