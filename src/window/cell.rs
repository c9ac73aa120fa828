//! The state of one fine cluster: bucketed counts, one sample per hop, and the counts of the
//! windows that closed. Plain data with plain methods; the store puts cells in a map.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schedule::{ms_to_time, Schedule, WindowSpan};
use super::{FineWindow, Observation};
use crate::entry::{CodeLocation, Severity};
use crate::fingerprint::ClusterId;
use crate::redact::KeptEntry;

/// Counts of one bucket, or of a whole window when buckets are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketStats {
    /// Entries per severity, indexed like [`Severity::ALL`].
    pub by_severity: [u64; 9],
    pub first_ms: i64,
    pub last_ms: i64,
    /// How long after `first_ms` the second-earliest entry is, at least (0 when not known:
    /// fewer than two entries, a sum of buckets, a retraction since, an older checkpoint), so
    /// retracting the earliest entry leaves the exact first time (see [`BucketStats::remove`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    first_gap: u32,
    /// The same before `last_ms`, for the second-latest entry.
    #[serde(default, skip_serializing_if = "is_zero")]
    last_gap: u32,
}

fn is_zero(gap: &u32) -> bool {
    *gap == 0
}

/// The time between `a` and `b`, cut to `u32::MAX` (still a lower bound).
fn gap(a: i64, b: i64) -> u32 {
    u32::try_from(a.abs_diff(b)).unwrap_or(u32::MAX)
}

impl Default for BucketStats {
    fn default() -> Self {
        BucketStats {
            by_severity: [0; 9],
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            first_gap: 0,
            last_gap: 0,
        }
    }
}

impl BucketStats {
    pub fn count(&self) -> u64 {
        self.by_severity.iter().sum()
    }

    pub fn add(&mut self, severity: Severity, at_ms: i64) {
        let (first, last) = (self.first_ms, self.last_ms);
        match self.count() {
            0 => {}
            1 => (self.first_gap, self.last_gap) = (gap(first, at_ms), gap(last, at_ms)),
            _ => {
                if at_ms < first {
                    self.first_gap = gap(at_ms, first);
                } else if at_ms < first + i64::from(self.first_gap) {
                    self.first_gap = gap(first, at_ms);
                }
                if at_ms > last {
                    self.last_gap = gap(last, at_ms);
                } else if at_ms > last - i64::from(self.last_gap) {
                    self.last_gap = gap(at_ms, last);
                }
            }
        }
        self.by_severity[severity as usize] += 1;
        self.first_ms = first.min(at_ms);
        self.last_ms = last.max(at_ms);
    }

    /// Uncounts an entry [`BucketStats::add`] counted. The first and last times stay exact
    /// when it was the earliest or the latest, once per side: the next earliest (latest) is
    /// then not known until an entry comes before (after) it, and retracting it too leaves
    /// its time as the bound, wider than the entries left, never narrower.
    pub fn remove(&mut self, severity: Severity, at_ms: i64) {
        let n = &mut self.by_severity[severity as usize];
        *n = n.saturating_sub(1);
        if at_ms == self.first_ms {
            self.first_ms = at_ms + i64::from(self.first_gap);
            self.first_gap = 0;
        }
        if at_ms == self.last_ms {
            self.last_ms = at_ms - i64::from(self.last_gap);
            self.last_gap = 0;
        }
        if self.count() < 2 {
            // One entry left: no second one, as a bucket that only ever held it.
            (self.first_gap, self.last_gap) = (0, 0);
        }
    }

    pub fn merge(&mut self, other: &BucketStats) {
        for (a, b) in self.by_severity.iter_mut().zip(other.by_severity) {
            *a += b;
        }
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        (self.first_gap, self.last_gap) = (0, 0);
    }

    /// The most severe severity with a count, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .rev()
            .find(|s| self.by_severity[*s as usize] > 0)
    }

    pub fn first_seen(&self) -> Option<DateTime<Utc>> {
        (self.count() > 0).then(|| ms_to_time(self.first_ms))
    }

    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        (self.count() > 0).then(|| ms_to_time(self.last_ms))
    }
}

/// A real entry quoted as the cluster's example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub at_ms: i64,
    /// The insertId's [`order_key`]: samples of one millisecond are chosen by it, whatever the
    /// order they arrived in, without the id itself being kept (cells are checkpointed).
    pub insert_id: String,
    /// The entry, read only redacted.
    raw: KeptEntry,
}

impl Sample {
    /// Samples are ordered by (timestamp, insertId key) so the choice does not depend on
    /// arrival; the key is worked out only when the timestamps tie.
    fn precedes(&self, at_ms: i64, insert_id: &str) -> bool {
        self.at_ms < at_ms
            || (self.at_ms == at_ms && self.insert_id.as_str() <= order_key(insert_id).as_str())
    }

    /// The entry's raw JSON, redacted and cut to about [`crate::redact::SAMPLE_BYTES`].
    pub fn raw(&self) -> &str {
        self.raw.text()
    }

    /// The entry as kept: read only redacted.
    pub fn entry(&self) -> &KeptEntry {
        &self.raw
    }
}

/// What stands for an insertId in kept state: a hash, so distinct ids stay distinct (a
/// redacted id would not: every random-looking one is the same placeholder) and none is
/// written to the checkpoint.
pub fn order_key(insert_id: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(insert_id.as_bytes()))
}

/// Serializable so a live run can checkpoint it (`MemoryStore::snapshot`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Cell {
    service: String,
    location: CodeLocation,
    first_seen_ms: i64,
    buckets: BTreeMap<i64, BucketStats>,
    /// Earliest entry per hop slot (slot = window end index), so a window's sample is the
    /// earliest of its slots and at most one raw entry is held per cluster per hop.
    samples: BTreeMap<i64, Sample>,
    /// Counts of closed windows this cluster appeared in or after, newest last.
    history: VecDeque<u64>,
    /// The end (ms) of each window in `history`, so a revision corrects its own count and
    /// takes the history before it. Empty in checkpoints older than revisions.
    #[serde(default)]
    history_ends: VecDeque<i64>,
    windows_known: usize,
}

impl Cell {
    pub(super) fn new(obs: &Observation<'_>) -> Cell {
        Cell {
            service: obs.service.to_owned(),
            location: obs.location.clone(),
            first_seen_ms: obs.at.timestamp_millis(),
            buckets: BTreeMap::new(),
            samples: BTreeMap::new(),
            history: VecDeque::new(),
            history_ends: VecDeque::new(),
            windows_known: 0,
        }
    }

    /// Counts `obs`; true when it is the cell's first entry in its hop of time.
    pub(super) fn record(&mut self, s: &Schedule, obs: &Observation<'_>) -> bool {
        let at_ms = obs.at.timestamp_millis();
        self.first_seen_ms = self.first_seen_ms.min(at_ms);
        self.buckets
            .entry(s.bucket_of(obs.at))
            .or_default()
            .add(obs.severity, at_ms);
        let slot = at_ms.div_euclid(s.hop_ms);
        match self.samples.get_mut(&slot) {
            Some(cur) if cur.precedes(at_ms, obs.insert_id) => false,
            // Redacted before it is read or checkpointed (`KeptEntry`), once, whatever the
            // order entries come in.
            Some(cur) => {
                cur.at_ms = at_ms;
                cur.insert_id = order_key(obs.insert_id);
                cur.raw.replace(obs.raw);
                false
            }
            None => {
                let sample = Sample {
                    at_ms,
                    insert_id: order_key(obs.insert_id),
                    raw: KeptEntry::new(obs.raw),
                };
                self.samples.insert(slot, sample);
                true
            }
        }
    }

    /// Uncounts `obs` (counted by [`Cell::record`]); true when that leaves the cell no entry
    /// in its hop of time (its sample there goes too).
    pub(super) fn retract(&mut self, s: &Schedule, obs: &Observation<'_>) -> bool {
        let at_ms = obs.at.timestamp_millis();
        let bucket = s.bucket_of(obs.at);
        let Some(stats) = self.buckets.get_mut(&bucket) else {
            return false; // forgotten already: no window reads it
        };
        stats.remove(obs.severity, at_ms);
        if stats.count() == 0 {
            self.buckets.remove(&bucket);
        }
        let slot = at_ms.div_euclid(s.hop_ms);
        let (lo, hi) = (slot * s.hop_ms, (slot + 1) * s.hop_ms);
        let left = self
            .buckets
            .range(lo.div_euclid(s.bucket_ms)..(hi + s.bucket_ms - 1).div_euclid(s.bucket_ms))
            .next()
            .is_some();
        if left {
            return false;
        }
        self.samples.remove(&slot).is_some()
    }

    /// The hops of time (`at / hop`) this cell has entries in.
    pub(super) fn hops(&self) -> impl Iterator<Item = i64> + '_ {
        self.samples.keys().copied()
    }

    pub(super) fn stats_in(&self, s: &Schedule, span: WindowSpan) -> BucketStats {
        // Buckets that overlap the span: exact for windows (they are bucket-aligned); a
        // trailing span counts its partial first and last buckets whole.
        let (lo, hi) = (span.start.timestamp_millis(), span.end.timestamp_millis());
        let hi_bucket = (hi + s.bucket_ms - 1).div_euclid(s.bucket_ms);
        let mut out = BucketStats::default();
        for (_, b) in self.buckets.range(lo.div_euclid(s.bucket_ms)..hi_bucket) {
            out.merge(b);
        }
        out
    }

    /// Entries per bucket of `span` (bucket-aligned), oldest first.
    fn per_bucket(&self, s: &Schedule, span: WindowSpan) -> Vec<u64> {
        let lo = span.start.timestamp_millis().div_euclid(s.bucket_ms);
        let hi = span.end.timestamp_millis().div_euclid(s.bucket_ms);
        let mut out = vec![0; usize::try_from(hi - lo).unwrap_or(0)];
        for (b, stats) in self.buckets.range(lo..hi) {
            if let Some(slot) = usize::try_from(b - lo).ok().and_then(|i| out.get_mut(i)) {
                *slot = stats.count();
            }
        }
        out
    }

    /// The first bucket at or after `from` that holds entries.
    pub(super) fn first_bucket_from(&self, from: i64) -> Option<i64> {
        self.buckets.range(from..).next().map(|(b, _)| *b)
    }

    /// What this cell did in `span`, with `history` before it; `None` if the cluster did
    /// not exist yet.
    fn window(
        &self,
        id: ClusterId,
        s: &Schedule,
        span: WindowSpan,
        history: Vec<u64>,
        windows_known: usize,
    ) -> Option<FineWindow> {
        let end_ms = span.end.timestamp_millis();
        if self.first_seen_ms >= end_ms {
            return None;
        }
        let sample = self.sample_in(s, span);
        Some(FineWindow {
            id,
            service: self.service.clone(),
            location: self.location.clone(),
            stats: self.stats_in(s, span),
            buckets: self.per_bucket(s, span),
            sample,
            history,
            windows_known,
        })
    }

    /// The earliest sample of `span`'s hops: a copy sharing the cell's entry, redacted (for
    /// both) only if the report quotes it.
    fn sample_in(&self, s: &Schedule, span: WindowSpan) -> Option<Sample> {
        let slots = span.start.timestamp_millis().div_euclid(s.hop_ms)
            ..span.end.timestamp_millis().div_euclid(s.hop_ms);
        self.samples
            .range(slots)
            .map(|(_, v)| v)
            .min_by(|a, b| (a.at_ms, &a.insert_id).cmp(&(b.at_ms, &b.insert_id)))
            .cloned()
    }

    /// Redacts every sample still waiting, before the cell is copied for a checkpoint.
    pub(super) fn settle_samples(&mut self) {
        for sample in self.samples.values_mut() {
            sample.raw.settle();
        }
    }

    /// Closes `span` for this cell; `None` if the cluster did not exist yet. `keep` is the
    /// history length; 0 closes without adding to the history (a silent window). Buckets
    /// before `forget_before` (ms) go: no open window and no revision reaches back there.
    pub(super) fn close(
        &mut self,
        id: ClusterId,
        s: &Schedule,
        span: WindowSpan,
        keep: usize,
        forget_before: i64,
    ) -> Option<FineWindow> {
        let history = self.history.iter().copied().collect();
        let out = self.window(id, s, span, history, self.windows_known)?;
        if keep > 0 {
            if self.history_ends.len() != self.history.len() {
                // A checkpoint from before revisions: the ends are not known.
                self.history_ends.clear();
            }
            self.history.push_back(out.stats.count());
            self.history_ends.push_back(span.end.timestamp_millis());
            while self.history.len() > keep {
                self.history.pop_front();
                self.history_ends.pop_front();
            }
            if self.history_ends.len() != self.history.len() {
                self.history_ends.clear();
            }
            self.windows_known = (self.windows_known + 1).min(keep);
        }
        // Keep the closed window's buckets: "count in the last hour" still reaches back there.
        self.forget_before(s, forget_before.min(span.start.timestamp_millis()));
        Some(out)
    }

    /// `span`, closed before, again: its history is what came before it, and its own count
    /// in the history is corrected so later baselines include the late entries.
    pub(super) fn revise(
        &mut self,
        id: ClusterId,
        s: &Schedule,
        span: WindowSpan,
    ) -> Option<FineWindow> {
        let end_ms = span.end.timestamp_millis();
        let known = self.history_ends.len() == self.history.len();
        let before = if known {
            self.history_ends
                .iter()
                .take_while(|e| **e < end_ms)
                .count()
        } else {
            self.history.len()
        };
        let history: Vec<u64> = self.history.iter().take(before).copied().collect();
        let windows_known = if known {
            before.min(self.windows_known)
        } else {
            self.windows_known
        };
        let out = self.window(id, s, span, history, windows_known)?;
        if known && self.history_ends.get(before) == Some(&end_ms) {
            self.history[before] = out.stats.count();
        }
        Some(out)
    }

    /// Drops buckets and samples that start before `ms` (no open window reaches back there).
    fn forget_before(&mut self, s: &Schedule, ms: i64) {
        self.buckets = self.buckets.split_off(&ms.div_euclid(s.bucket_ms));
        self.samples = self.samples.split_off(&ms.div_euclid(s.hop_ms));
    }

    /// True when the cell holds no counts and its history is all zeros: it can be dropped.
    pub(super) fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.values()
    }

    pub(super) fn has_buckets(&self) -> bool {
        !self.buckets.is_empty()
    }

    /// Entries in the windows this cell remembers.
    pub(super) fn history_total(&self) -> u64 {
        self.history.iter().sum()
    }

    pub(super) fn location(&self) -> &CodeLocation {
        &self.location
    }

    pub(super) fn is_idle(&self) -> bool {
        self.buckets.is_empty() && self.history.iter().all(|c| *c == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bounds(times: &[i64]) -> (i64, i64) {
        let (lo, hi) = (times.iter().min(), times.iter().max());
        (*lo.unwrap(), *hi.unwrap())
    }

    proptest! {
        /// Entries of a bucket in any order, one of them retracted: the first and last times
        /// are those of the entries left. More come and a second goes: never narrower.
        #[test]
        fn one_retraction_leaves_the_exact_bounds_and_a_second_no_narrower_ones(
            mut times in prop::collection::vec(0i64..60, 2..10),
            more in prop::collection::vec(0i64..60, 0..4),
            one in any::<prop::sample::Index>(),
            two in any::<prop::sample::Index>(),
        ) {
            let mut b = BucketStats::default();
            times.iter().for_each(|t| b.add(Severity::Error, *t));
            let gone = times.swap_remove(one.index(times.len()));
            b.remove(Severity::Error, gone);
            prop_assert_eq!((b.first_ms, b.last_ms), bounds(&times));
            // What a checkpoint holds is what it restores, gaps included.
            let json = serde_json::to_string(&b).unwrap();
            prop_assert_eq!(serde_json::from_str::<BucketStats>(&json).unwrap(), b);
            more.iter().for_each(|t| b.add(Severity::Error, *t));
            times.extend(&more);
            if times.len() < 2 {
                return Ok(()); // nothing would be left: the bucket goes
            }
            let gone = times.swap_remove(two.index(times.len()));
            b.remove(Severity::Error, gone);
            let (first, last) = bounds(&times);
            prop_assert!(b.first_ms <= first && b.last_ms >= last, "{b:?} {times:?}");
        }
    }

    #[test]
    fn a_bucket_of_an_older_checkpoint_keeps_its_bounds_and_learns_the_gap_of_a_new_entry() {
        let old = r#"{"by_severity":[0,0,0,0,0,3,0,0,0],"first_ms":5,"last_ms":9}"#;
        let mut b: BucketStats = serde_json::from_str(old).unwrap();
        b.remove(Severity::Error, 5);
        assert_eq!(
            (b.count(), b.first_ms),
            (2, 5),
            "the next earliest not known: kept"
        );
        b.add(Severity::Error, 2);
        b.remove(Severity::Error, 2);
        assert_eq!((b.count(), b.first_ms, b.last_ms), (2, 5, 9));
    }
}
