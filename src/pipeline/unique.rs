//! Entries counted, by a hash of (log, event time, insertId), while a window of theirs is open:
//! Cloud Logging takes entries alike in all three for one, so overlapping exports read
//! together, or an entry a sink published twice, count once. Kept in one set per minute of
//! event time, so an entry is looked up in its own minute's set and whole minutes are forgotten
//! at once as their windows close (a replay's slice; live, once no window holding the entry may
//! be revised any more). A live run starts afresh after a restart (redelivered messages are
//! recognised by their message id instead).

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};

use crate::entry::Record;
use crate::telemetry::events as ev;

/// The most entries remembered (10 to 20 bytes each: a hash set of `u64`s): past it, the oldest minutes are
/// forgotten early, so a fast stream's memory stays bounded; a duplicate of what was forgotten
/// counts again, and a WARN says so once.
const MAX_REMEMBERED: usize = 4_000_000;

const MINUTE_MS: i64 = 60_000;

/// Keys are xxh3 digests already, uniform in every bit: hashing them again would only cost.
#[derive(Default)]
struct Digest(u64);

impl Hasher for Digest {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Keys = HashSet<u64, BuildHasherDefault<Digest>>;

#[derive(Debug)]
pub(super) struct Unique {
    /// Minute of event time → the key hashes of the entries in it.
    minutes: BTreeMap<i64, Keys>,
    len: usize,
    max: usize,
    /// Duplicates since the last report.
    unreported: u64,
    /// Minutes forgotten before their windows closed (over `max`).
    forgot_early: bool,
}

impl Default for Unique {
    fn default() -> Self {
        Unique::with_max(MAX_REMEMBERED)
    }
}

impl Unique {
    fn with_max(max: usize) -> Unique {
        Unique {
            minutes: BTreeMap::new(),
            len: 0,
            max,
            unreported: 0,
            forgot_early: false,
        }
    }

    /// Whether `r` is alike to an entry already taken; remembers it if not. Entries without an
    /// insertId are never alike.
    pub(super) fn is_duplicate(&mut self, r: &Record) -> bool {
        if r.insert_id.is_empty() {
            return false;
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(r.log_name.as_bytes());
        h.update(&[0]);
        h.update(r.insert_id.as_bytes());
        h.update(&[0]);
        h.update(&r.timestamp.timestamp().to_le_bytes());
        h.update(&r.timestamp.timestamp_subsec_nanos().to_le_bytes());
        // The parts of a split entry may share its insertId and time: each is its own.
        h.update(&r.split_index.unwrap_or(-1).to_le_bytes());
        let minute = r.timestamp.timestamp_millis().div_euclid(MINUTE_MS);
        if !self.minutes.entry(minute).or_default().insert(h.digest()) {
            self.unreported += 1;
            return true;
        }
        self.len += 1;
        if self.len > self.max {
            self.forget_oldest_minute();
        }
        false
    }

    /// Forgets the entries of the minutes before `t`'s: none alike to them can come any more
    /// (or only for windows already closed).
    pub(super) fn forget_before(&mut self, t: DateTime<Utc>) {
        let keep = self
            .minutes
            .split_off(&t.timestamp_millis().div_euclid(MINUTE_MS));
        let gone = std::mem::replace(&mut self.minutes, keep);
        self.len -= gone.values().map(Keys::len).sum::<usize>();
    }

    fn forget_oldest_minute(&mut self) {
        if let Some((_, keys)) = self.minutes.pop_first() {
            self.len -= keys.len();
        }
        if !std::mem::replace(&mut self.forgot_early, true) {
            ev::DuplicatesForgottenEarly { max: self.max }.emit();
        }
    }

    /// Duplicates since the last call.
    pub(super) fn take_unreported(&mut self) -> u64 {
        std::mem::take(&mut self.unreported)
    }

    /// Duplicates not yet told in a report (for a checkpoint).
    pub(super) fn unreported(&self) -> u64 {
        self.unreported
    }

    /// A check that starts afresh with `n` duplicates not yet told (from a checkpoint; the
    /// entries themselves are not kept there).
    pub(super) fn restored(n: u64) -> Unique {
        Unique {
            unreported: n,
            ..Unique::default()
        }
    }

    /// Entries remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::parse_entry;

    fn record(at: &str, id: &str) -> Record {
        let json = serde_json::json!({"timestamp": at, "insertId": id, "textPayload": "m"});
        parse_entry(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn minutes_are_forgotten_whole_as_their_windows_close() {
        let mut u = Unique::default();
        for (at, id) in [("19:00:59", "a"), ("19:01:00", "b"), ("19:02:30", "c")] {
            assert!(!u.is_duplicate(&record(&format!("2025-09-15T{at}Z"), id)));
        }
        assert!(u.is_duplicate(&record("2025-09-15T19:01:00Z", "b")));
        u.forget_before("2025-09-15T19:01:30Z".parse().unwrap());
        assert_eq!(
            u.len(),
            2,
            "19:00 forgotten; 19:01 is still the minute of the cut"
        );
        assert!(!u.is_duplicate(&record("2025-09-15T19:00:59Z", "a")));
        assert!(u.is_duplicate(&record("2025-09-15T19:02:30Z", "c")));
        assert_eq!(u.take_unreported(), 2);
        assert_eq!(u.take_unreported(), 0);
    }

    #[test]
    fn the_parts_of_a_split_entry_are_not_alike() {
        let part = |index: u32| {
            let json = serde_json::json!({"timestamp": "2025-09-15T19:00:00Z", "insertId": "a",
                "textPayload": "m", "split": {"uid": "u", "index": index, "totalSplits": 2}});
            parse_entry(json.to_string().as_bytes()).unwrap()
        };
        let mut u = Unique::default();
        assert!(!u.is_duplicate(&part(0)));
        assert!(!u.is_duplicate(&part(1)));
        assert!(u.is_duplicate(&part(1)));
    }

    #[test]
    fn past_the_most_remembered_the_oldest_minutes_go_first() {
        let mut u = Unique::with_max(3);
        for (at, id) in [
            ("19:00", "a"),
            ("19:00", "b"),
            ("19:01", "c"),
            ("19:02", "d"),
        ] {
            assert!(!u.is_duplicate(&record(&format!("2025-09-15T{at}:00Z"), id)));
        }
        assert_eq!(u.len(), 2, "19:00's two went when the fourth came");
        assert!(u.is_duplicate(&record("2025-09-15T19:02:00Z", "d")));
        assert!(!u.is_duplicate(&record("2025-09-15T19:00:00Z", "a")));
    }
}
