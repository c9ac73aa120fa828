//! Entries counted, by a hash of (log, event time, insertId), while a window of theirs is open:
//! Cloud Logging takes entries alike in all three for one, so overlapping exports read
//! together, or an entry a sink published twice, count once. Kept in one set per minute of
//! event time, so an entry is looked up in its own minute's set and whole minutes are forgotten
//! at once as their windows close (a replay's slice; live, once no window holding the entry may
//! be revised any more). A live run's checkpoint keeps the newest minutes' keys (at most
//! `live.dedupe_ids` of them, see [`TakenMinute`]), so an entry published again as another
//! message after a restart (a sink's publish retry) still counts once; redelivered messages are
//! recognised by their message id besides.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

    /// The keys of the newest minutes of event time, at most `max` of them, oldest minute
    /// first, for a checkpoint. The oldest minute kept may be cut (which of its keys stay is
    /// arbitrary): a fast stream's last minute alone may hold more than `max`.
    pub(super) fn snapshot(&self, max: usize) -> Vec<TakenMinute> {
        let mut left = max;
        let mut kept: Vec<TakenMinute> = Vec::new();
        for (&minute, keys) in self.minutes.iter().rev() {
            if left == 0 {
                break;
            }
            let taken: Vec<u64> = keys.iter().copied().take(left).collect();
            left -= taken.len();
            kept.push(TakenMinute {
                minute,
                keys: KeyList(taken),
            });
        }
        kept.reverse();
        kept
    }

    /// A check that continues from a checkpoint: `n` duplicates not yet told, and the entries
    /// of [`Unique::snapshot`] remembered again (forgotten with their minutes, as before).
    pub(super) fn restored(n: u64, taken: Vec<TakenMinute>) -> Unique {
        let mut u = Unique {
            unreported: n,
            ..Unique::default()
        };
        for TakenMinute { minute, keys } in taken {
            let set = u.minutes.entry(minute).or_default();
            let before = set.len();
            set.extend(keys.0);
            u.len += set.len() - before;
        }
        while u.len > u.max {
            u.forget_oldest_minute();
        }
        u
    }

    /// Entries remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

/// One minute of event time (minutes since the epoch) and the keys of the entries taken in it,
/// as a checkpoint keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakenMinute {
    pub minute: i64,
    pub keys: KeyList,
}

/// Key hashes written as one base64 string of their little-endian bytes: 10.7 bytes of JSON a
/// key, where a JSON number takes up to 21 (100,000 keys: 1.07 MB instead of 2 MB, written
/// every `live.checkpoint_every`). A string that is not such a list makes the checkpoint
/// unreadable, so the start falls back to the previous one (as for any damage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyList(pub Vec<u64>);

impl Serialize for KeyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.0.iter().flat_map(|k| k.to_le_bytes()).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for KeyList {
    /// The base64 string [`KeyList`] writes, or a JSON array of numbers (how checkpoints
    /// before it kept `recent_ids`, so they still load).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyList, D::Error> {
        d.deserialize_any(KeyListVisitor)
    }
}

struct KeyListVisitor;

impl<'de> serde::de::Visitor<'de> for KeyListVisitor {
    type Value = KeyList;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("entry keys: base64 of 8-byte little-endian keys, or an array of numbers")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<KeyList, E> {
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(|e| E::custom(format!("entry keys: {e}")))?;
        if bytes.len() % 8 != 0 {
            return Err(E::custom(format!(
                "entry keys: {} bytes, not a whole number of 8-byte keys",
                bytes.len()
            )));
        }
        Ok(KeyList(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        ))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyList, A::Error> {
        let mut keys = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(k) = seq.next_element::<u64>()? {
            keys.push(k);
        }
        Ok(KeyList(keys))
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

    fn at(minute: &str, id: &str) -> Record {
        record(&format!("2025-09-15T{minute}:00Z"), id)
    }

    /// The snapshot as a checkpoint holds it: through its JSON.
    fn through_json(taken: Vec<TakenMinute>) -> Vec<TakenMinute> {
        serde_json::from_str(&serde_json::to_string(&taken).unwrap()).unwrap()
    }

    #[test]
    fn a_restored_check_knows_the_newest_entries_up_to_the_bound() {
        let mut u = Unique::default();
        for (m, id) in [
            ("19:00", "a"),
            ("19:01", "b"),
            ("19:02", "c"),
            ("19:02", "d"),
        ] {
            assert!(!u.is_duplicate(&at(m, id)));
        }
        assert!(u.is_duplicate(&at("19:02", "c")));
        let taken = through_json(u.snapshot(3));
        let minutes: Vec<usize> = taken.iter().map(|t| t.keys.0.len()).collect();
        assert_eq!(minutes, [1, 2], "19:01 and 19:02; 19:00 is past the bound");
        let mut back = Unique::restored(u.unreported(), taken);
        assert_eq!(back.len(), 3);
        for (m, id) in [("19:01", "b"), ("19:02", "c"), ("19:02", "d")] {
            assert!(back.is_duplicate(&at(m, id)), "{m} {id}");
        }
        assert!(!back.is_duplicate(&at("19:00", "a")), "not kept");
        assert!(!back.is_duplicate(&at("19:02", "e")));
        assert_eq!(back.take_unreported(), 1 + 3);
        back.forget_before("2025-09-15T19:02:00Z".parse().unwrap());
        assert!(
            !back.is_duplicate(&at("19:01", "b")),
            "forgotten with its minute"
        );
    }

    #[test]
    fn the_newest_minute_alone_past_the_bound_is_cut_to_it() {
        let mut u = Unique::default();
        for id in ["a", "b", "c"] {
            u.is_duplicate(&at("19:00", id));
        }
        let taken = u.snapshot(2);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].keys.0.len(), 2);
        assert_eq!(Unique::restored(0, taken).len(), 2);
        assert!(Unique::default().snapshot(2).is_empty());
    }

    #[test]
    fn keys_that_are_neither_whole_base64_words_nor_numbers_make_the_checkpoint_unreadable() {
        for bad in [
            r#""not base64!""#,
            r#""AAAA""#,
            r#"["a"]"#,
            "[-1]",
            "{}",
            "7",
        ] {
            assert!(serde_json::from_str::<KeyList>(bad).is_err(), "{bad}");
        }
        // The form checkpoints kept `recent_ids` in before: still read.
        let old: KeyList = serde_json::from_str("[1, 2, 18446744073709551615]").unwrap();
        assert_eq!(old, KeyList(vec![1, 2, u64::MAX]));
        let keys = KeyList(vec![0, 1, u64::MAX]);
        let json = serde_json::to_string(&keys).unwrap();
        assert_eq!(serde_json::from_str::<KeyList>(&json).unwrap(), keys);
    }

    /// What the default bound (`live.dedupe_ids`, 100,000) costs in every checkpoint: 100,000
    /// entries over an hour of minutes.
    #[test]
    fn a_hundred_thousand_entries_take_about_a_megabyte_of_checkpoint() {
        let mut u = Unique::default();
        let mut n = 0u64;
        for minute in 0..60 {
            for i in 0..1_667 {
                let t = format!("2025-09-15T19:{minute:02}:00Z");
                if n < 100_000 {
                    u.is_duplicate(&record(&t, &i.to_string()));
                    n += 1;
                }
            }
        }
        let taken = u.snapshot(100_000);
        let bytes = serde_json::to_vec(&taken).unwrap().len();
        let as_numbers = serde_json::to_vec(
            &taken
                .iter()
                .flat_map(|t| t.keys.0.clone())
                .collect::<Vec<u64>>(),
        )
        .unwrap()
        .len();
        eprintln!(
            "100,000 entry keys: {bytes} bytes of checkpoint JSON ({as_numbers} as JSON numbers)"
        );
        assert!(bytes < 1_080_000, "{bytes} bytes");
        assert_eq!(
            through_json(taken)
                .iter()
                .map(|t| t.keys.0.len())
                .sum::<usize>(),
            100_000
        );
    }
}
