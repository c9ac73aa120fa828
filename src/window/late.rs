//! Late entries since the last close, as a window store notes them for the next worklog's
//! `late` and `late_clusters`, and takes a note back when the entry is retracted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::schedule::ms_to_time;
use super::{LateFine, Observation, LATE_CLUSTERS_KEPT};
use crate::fingerprint::ClusterId;

/// Late entries since the last close: all of them, and per fine cluster (at most
/// [`LATE_CLUSTERS_KEPT`]) how many and the earliest event time (ms).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Late {
    pub(super) total: u64,
    pub(super) by_cluster: BTreeMap<ClusterId, (u64, i64)>,
    /// Which entries were noted, by [`late_key`] (at most [`LATE_NOTED_KEPT`]), so a
    /// retracted one is un-noted only if it was noted. Not derivable from `noted_at`, which
    /// has no insertId: a part counted on time, retracted after the close, would un-note a late
    /// entry of its cluster and millisecond.
    pub(super) noted: BTreeMap<u64, u32>,
    /// The event times (ms) of the noted entries, per cluster: when every late entry of a
    /// cluster is noted, a retraction gives it back the earliest of the others.
    #[serde(default)]
    pub(super) noted_at: BTreeMap<ClusterId, BTreeMap<i64, u32>>,
}

/// Late entries since the last close a retraction can un-note at most (a retracted traceback
/// part beyond them stays in the late report, as it was when it came).
const LATE_NOTED_KEPT: usize = 65_536;

/// What identifies a late entry among those noted: a hash of its fine id, time and insertId.
fn late_key(obs: &Observation<'_>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&obs.id.0.to_le_bytes());
    h.update(&obs.at.timestamp_micros().to_le_bytes());
    h.update(obs.insert_id.as_bytes());
    h.digest()
}

impl Late {
    pub(super) fn note(&mut self, obs: &Observation<'_>) {
        let (id, at_ms) = (obs.id, obs.at.timestamp_millis());
        self.total += 1;
        let kept = self.by_cluster.len();
        let listed = if let Some((n, earliest)) = self.by_cluster.get_mut(&id) {
            *n += 1;
            *earliest = (*earliest).min(at_ms);
            true
        } else if kept < LATE_CLUSTERS_KEPT {
            self.by_cluster.insert(id, (1, at_ms));
            true
        } else {
            false
        };
        if listed && self.noted.len() < LATE_NOTED_KEPT {
            *self.noted.entry(late_key(obs)).or_default() += 1;
            *self
                .noted_at
                .entry(id)
                .or_default()
                .entry(at_ms)
                .or_default() += 1;
        }
    }

    /// Takes back the note of `obs` (retracted), if it was noted since the last close: its
    /// cluster leaves the list with its last entry, and its earliest time is the earliest of
    /// the others when they were all noted (else it stays). False if it was not noted.
    pub(super) fn unnote(&mut self, obs: &Observation<'_>) -> bool {
        if !take_one(&mut self.noted, late_key(obs)) {
            return false;
        }
        self.total = self.total.saturating_sub(1);
        let times = self.noted_at.get_mut(&obs.id);
        if let Some(times) = times {
            take_one(times, obs.at.timestamp_millis());
        }
        let Some((entries, earliest)) = self.by_cluster.get_mut(&obs.id) else {
            return true;
        };
        *entries = entries.saturating_sub(1);
        let times = self.noted_at.get(&obs.id);
        if *entries == 0 {
            self.by_cluster.remove(&obs.id);
            self.noted_at.remove(&obs.id);
        } else if let Some(times) =
            times.filter(|t| t.values().map(|&n| u64::from(n)).sum::<u64>() == *entries)
        {
            if let Some(&first) = times.keys().next() {
                *earliest = first;
            }
        }
        true
    }

    /// The clusters, most entries first (then id).
    pub(super) fn clusters(&self) -> Vec<LateFine> {
        let mut out: Vec<LateFine> = self
            .by_cluster
            .iter()
            .map(|(&id, &(entries, earliest))| LateFine {
                id,
                entries,
                earliest: ms_to_time(earliest),
            })
            .collect();
        out.sort_by(|a, b| (b.entries, a.id).cmp(&(a.entries, b.id)));
        out
    }
}

/// Takes one `key` out of the multiset `map` (a count per key); false if it holds none.
fn take_one<K: Ord>(map: &mut BTreeMap<K, u32>, key: K) -> bool {
    let Some(n) = map.get_mut(&key) else {
        return false;
    };
    *n -= 1;
    if *n == 0 {
        map.remove(&key);
    }
    true
}
