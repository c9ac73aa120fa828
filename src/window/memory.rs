//! The in-process window store: a `DashMap` from fine cluster id to its cell, sharded so that
//! workers recording different clusters do not wait on each other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::cell::{Cell, Sample};
use super::late::Late;
use super::schedule::{ms_to_time, Schedule, WindowSpan};
use super::{ClosedWindow, Observation, Recorded, Revision, WindowStore};
use crate::entry::CodeLocation;
use crate::fingerprint::ClusterId;
use chrono::{DateTime, Utc};

pub struct MemoryStore {
    schedule: Schedule,
    history: usize,
    cells: DashMap<ClusterId, Cell>,
    /// Per hop of time (`at / hop`) not yet closed: the cells with entries in it, what the
    /// cardinality guard bounds ([`WindowStore::clusters_at`]).
    hops: Mutex<BTreeMap<i64, usize>>,
    /// Cells that hold only history (no bucket left) kept at most: beyond it a close forgets
    /// those with the fewest entries in their history.
    history_only_cap: usize,
    /// End of the last closed window (ms); entries before it are late.
    closed_until_ms: AtomicI64,
    /// Late entries since the last close that no revision holds (their windows closed
    /// longer than `revise_ms` ago), by cluster. Rare, so one lock.
    late: Mutex<Late>,
    /// How long after its close a window is still revised for late entries (ms; 0: never).
    revise_ms: i64,
    revisions: Mutex<Revisions>,
}

/// Closed windows that late entries changed, and how often each was re-emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Revisions {
    /// Ends (ms) of closed windows with late entries not yet re-emitted.
    due: BTreeSet<i64>,
    /// Per window end (ms): the last revision emitted and the entries it reported.
    issued: BTreeMap<i64, (u32, u64)>,
}

impl MemoryStore {
    pub fn new(schedule: Schedule, history: usize) -> MemoryStore {
        MemoryStore {
            schedule,
            history,
            cells: DashMap::new(),
            hops: Mutex::default(),
            history_only_cap: usize::MAX,
            closed_until_ms: AtomicI64::new(i64::MIN),
            late: Mutex::default(),
            revise_ms: 0,
            revisions: Mutex::default(),
        }
    }

    /// Keeps the counts of closed windows for `within` after their close, and re-emits a
    /// closed window that late entries changed (see [`WindowStore::take_revisions`]).
    pub fn revising(mut self, within: chrono::TimeDelta) -> MemoryStore {
        self.revise_ms = within.num_milliseconds().max(0);
        self
    }

    /// Keeps at most `cap` clusters that hold only history: a flood of message kinds an hour
    /// long then leaves the store once its windows closed, instead of keeping every later
    /// kind `<unclustered>` (`fingerprint.max_clusters` bounds the kinds in the open windows;
    /// this bounds the rest).
    pub fn keeping_history_of(mut self, cap: usize) -> MemoryStore {
        self.history_only_cap = cap;
        self
    }

    /// Forgets the cells beyond the cap that hold only history (no bucket left: none an open
    /// window, a revision or a trailing count still reads), the fewest entries first.
    fn forget_history_beyond_cap(&self) {
        let mut history_only: Vec<(u64, ClusterId)> = self
            .cells
            .iter()
            .filter(|c| !c.has_buckets())
            .map(|c| (c.history_total(), *c.key()))
            .collect();
        if history_only.len() > self.history_only_cap {
            history_only.sort_unstable();
            let excess = history_only.len() - self.history_only_cap;
            for (_, id) in &history_only[..excess] {
                self.cells.remove(id);
            }
        }
    }

    fn hops(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, usize>> {
        self.hops.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn late(&self) -> std::sync::MutexGuard<'_, Late> {
        self.late.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn revisions(&self) -> std::sync::MutexGuard<'_, Revisions> {
        self.revisions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a change at `at_ms` falls in an open window, revises closed ones (marked for
    /// revision), or is late for good.
    fn timeliness(&self, at_ms: i64) -> Recorded {
        let closed_until = self.closed_until_ms.load(Ordering::Acquire);
        if at_ms >= closed_until {
            Recorded::OnTime
        } else if self.mark_revised(at_ms, closed_until) {
            Recorded::Revises
        } else {
            Recorded::Late
        }
    }

    /// Marks the closed windows an entry at `at_ms` belongs to for revision; false if all of
    /// them closed longer than `revise_ms` ago (the entry is late for good).
    fn mark_revised(&self, at_ms: i64, closed_until: i64) -> bool {
        let s = &self.schedule;
        let oldest = closed_until.saturating_sub(self.revise_ms);
        let first = (at_ms.div_euclid(s.hop_ms) + 1) * s.hop_ms;
        let last = at_ms.saturating_add(s.length_ms).min(closed_until);
        let mut revisions = self.revisions();
        let mut any = false;
        let mut end = first.max(oldest.div_euclid(s.hop_ms) * s.hop_ms);
        while end <= last {
            if end > oldest {
                revisions.due.insert(end);
                any = true;
            }
            end += s.hop_ms;
        }
        any
    }

    /// Number of fine clusters held.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// A copy of the whole state, for a checkpoint. Callers make sure nothing records or
    /// closes meanwhile (the live consumer is the only writer and takes it between messages).
    pub fn snapshot(&self) -> StoreSnapshot {
        for mut cell in self.cells.iter_mut() {
            cell.settle_samples();
        }
        let mut cells: Vec<(ClusterId, Cell)> = self
            .cells
            .iter()
            .map(|c| (*c.key(), c.value().clone()))
            .collect();
        cells.sort_by_key(|(id, _)| *id);
        let late = self.late().clone();
        StoreSnapshot {
            cells,
            closed_until_ms: self.closed_until_ms.load(Ordering::Acquire),
            late: late.total,
            late_clusters: late.by_cluster,
            late_noted: late.noted,
            late_noted_at: late.noted_at,
            revisions: self.revisions().clone(),
        }
    }

    /// A store holding exactly what `snapshot` copied.
    pub fn restore(schedule: Schedule, history: usize, snap: StoreSnapshot) -> MemoryStore {
        // The hops of open windows, as the closes before the snapshot left them.
        let open_from = snap
            .closed_until_ms
            .saturating_sub(schedule.length_ms)
            .saturating_add(schedule.hop_ms)
            .div_euclid(schedule.hop_ms);
        let open_hops = snap
            .cells
            .iter()
            .flat_map(|(_, c)| c.hops())
            .filter(|h| *h >= open_from);
        MemoryStore {
            schedule,
            history,
            hops: Mutex::new(open_hops.fold(BTreeMap::new(), |mut hops, h| {
                *hops.entry(h).or_default() += 1;
                hops
            })),
            history_only_cap: usize::MAX,
            cells: snap.cells.into_iter().collect(),
            closed_until_ms: AtomicI64::new(snap.closed_until_ms),
            late: Mutex::new(Late {
                total: snap.late,
                by_cluster: snap.late_clusters,
                noted: snap.late_noted,
                noted_at: snap.late_noted_at,
            }),
            revise_ms: 0,
            revisions: Mutex::new(snap.revisions),
        }
    }
}

/// The state of a [`MemoryStore`] as plain data (serde), for checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreSnapshot {
    cells: Vec<(ClusterId, Cell)>,
    closed_until_ms: i64,
    late: u64,
    /// Per fine cluster of `late`: entries and the earliest event time (ms).
    #[serde(default)]
    late_clusters: BTreeMap<ClusterId, (u64, i64)>,
    /// Which of `late` a retraction may un-note (see `Late::noted`).
    #[serde(default)]
    late_noted: BTreeMap<u64, u32>,
    /// Their event times per cluster (see `Late::noted_at`).
    #[serde(default)]
    late_noted_at: BTreeMap<ClusterId, BTreeMap<i64, u32>>,
    #[serde(default)]
    revisions: Revisions,
}

impl StoreSnapshot {
    /// The sample entries held (raw JSON, redacted when kept).
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.cells.iter().flat_map(|(_, c)| c.samples())
    }
}

impl WindowStore for MemoryStore {
    fn record(&self, obs: &Observation<'_>) -> Recorded {
        let first_in_hop = self
            .cells
            .entry(obs.id)
            .or_insert_with(|| Cell::new(obs))
            .record(&self.schedule, obs);
        if first_in_hop {
            let hop = obs.at.timestamp_millis().div_euclid(self.schedule.hop_ms);
            *self.hops().entry(hop).or_default() += 1;
        }
        let at_ms = obs.at.timestamp_millis();
        let when = self.timeliness(at_ms);
        if when == Recorded::Late {
            self.late().note(obs);
        }
        when
    }

    fn retract(&self, obs: &Observation<'_>) -> Recorded {
        let at_ms = obs.at.timestamp_millis();
        let (hop_left, idle) = match self.cells.get_mut(&obs.id) {
            Some(mut cell) => {
                let left = cell.retract(&self.schedule, obs);
                (left, cell.is_idle())
            }
            None => (false, false),
        };
        if idle {
            self.cells.remove_if(&obs.id, |_, c| c.is_idle());
        }
        if hop_left {
            let hop = at_ms.div_euclid(self.schedule.hop_ms);
            let mut hops = self.hops();
            if let Some(n) = hops.get_mut(&hop) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    hops.remove(&hop);
                }
            }
        }
        // Noted as late since the last close (whatever the revision horizon is now): not
        // late any more, and its cluster not listed for it.
        let unnoted = self.late().unnote(obs);
        match self.timeliness(at_ms) {
            // Counted on time in windows closed for good since (or noted before the last
            // close, and told then): no late entry to take back.
            Recorded::Late if !unnoted => Recorded::OnTime,
            when => when,
        }
    }

    fn holds(&self, id: ClusterId) -> bool {
        self.cells.contains_key(&id)
    }

    fn clusters_at(&self, t: DateTime<Utc>) -> usize {
        let hop = t.timestamp_millis().div_euclid(self.schedule.hop_ms);
        self.hops().get(&hop).copied().unwrap_or(0)
    }

    fn location_of(&self, id: ClusterId) -> Option<CodeLocation> {
        self.cells.get(&id).map(|c| c.location().clone())
    }

    fn count_in(&self, id: ClusterId, span: WindowSpan) -> u64 {
        self.cells
            .get(&id)
            .map_or(0, |c| c.stats_in(&self.schedule, span).count())
    }

    fn close(&self, span: WindowSpan) -> ClosedWindow {
        self.closed_until_ms
            .fetch_max(span.end.timestamp_millis(), Ordering::AcqRel);
        let silent = !self
            .cells
            .iter()
            .any(|c| c.stats_in(&self.schedule, span).count() > 0);
        let keep = if silent { 0 } else { self.history };
        let forget_before = span.start.timestamp_millis().saturating_sub(self.revise_ms);
        let mut clusters = Vec::new();
        for mut cell in self.cells.iter_mut() {
            let id = *cell.key();
            if let Some(w) = cell.close(id, &self.schedule, span, keep, forget_before) {
                clusters.push(w);
            }
        }
        self.cells.retain(|_, c| !c.is_idle());
        let next_start = span.start + chrono::TimeDelta::milliseconds(self.schedule.hop_ms);
        self.forget_history_beyond_cap();
        let mut hops = self.hops();
        *hops = hops.split_off(
            &next_start
                .timestamp_millis()
                .div_euclid(self.schedule.hop_ms),
        );
        drop(hops);
        clusters.sort_by_key(|c| c.id);
        let entries = clusters.iter().map(|c| c.stats.count()).sum();
        let end_ms = span.end.timestamp_millis();
        let mut revisions = self.revisions();
        revisions.due.remove(&end_ms);
        if self.revise_ms > 0 {
            revisions.issued.insert(end_ms, (0, entries));
        }
        let oldest = end_ms.saturating_sub(self.revise_ms);
        revisions.issued = revisions.issued.split_off(&oldest);
        let late = std::mem::take(&mut *self.late());
        ClosedWindow {
            span,
            clusters,
            late: late.total,
            late_clusters: late.clusters(),
            revision: None,
        }
    }

    fn take_revisions(&self) -> Vec<WindowSpan> {
        let closed_until = self.closed_until_ms.load(Ordering::Acquire);
        let oldest = closed_until.saturating_sub(self.revise_ms);
        let due = std::mem::take(&mut self.revisions().due);
        due.into_iter()
            .filter(|end| *end > oldest && *end <= closed_until)
            .map(|end| self.schedule.span_ending(ms_to_time(end)))
            .collect()
    }

    fn revise(&self, span: WindowSpan) -> ClosedWindow {
        let mut clusters = Vec::new();
        for mut cell in self.cells.iter_mut() {
            let id = *cell.key();
            if let Some(w) = cell.revise(id, &self.schedule, span) {
                clusters.push(w);
            }
        }
        clusters.sort_by_key(|c| c.id);
        let entries = clusters.iter().map(|c| c.stats.count()).sum();
        let end_ms = span.end.timestamp_millis();
        let (number, before) = self
            .revisions()
            .issued
            .get(&end_ms)
            .copied()
            .unwrap_or((0, 0));
        self.revisions()
            .issued
            .insert(end_ms, (number + 1, entries));
        ClosedWindow {
            span,
            clusters,
            late: 0,
            late_clusters: Vec::new(),
            revision: Some(Revision {
                number: number + 1,
                entries_before: before,
            }),
        }
    }

    fn next_entries_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let from = self.schedule.bucket_of(t);
        self.cells
            .iter()
            .filter_map(|c| c.first_bucket_from(from))
            .min()
            .map(|b| ms_to_time(self.schedule.bucket_start_ms(b)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::entry::{CodeLocation, Severity};
    use crate::window::LateFine;

    fn hourly() -> Schedule {
        Schedule {
            length_ms: 3_600_000,
            hop_ms: 3_600_000,
            bucket_ms: 60_000,
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn obs<'a>(id: u64, at: &str, insert_id: &'a str, loc: &'a CodeLocation) -> Observation<'a> {
        Observation {
            id: ClusterId(id),
            at: t(at),
            severity: Severity::Error,
            service: "backend",
            location: loc,
            insert_id,
            raw: insert_id,
        }
    }

    fn span(end: &str) -> WindowSpan {
        hourly().span_ending(t(end))
    }

    #[test]
    fn counts_per_window_and_trailing_hour() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24);
        for (i, at) in ["05:00:00", "05:59:59.999", "06:00:00", "06:30:00"]
            .iter()
            .enumerate()
        {
            let ins = format!("i{i}");
            s.record(&obs(1, &format!("2026-11-23T{at}Z"), &ins, &loc));
        }
        assert_eq!(s.count_in(ClusterId(1), span("2026-11-23T06:00:00Z")), 2);
        let trailing = hourly().trailing(t("2026-11-23T06:30:00.001Z"));
        assert_eq!(
            s.count_in(ClusterId(1), trailing),
            3,
            "06:00, 06:30 and 05:59:59.999 (bucket 05:59)"
        );
        let w = s.close(span("2026-11-23T06:00:00Z"));
        assert_eq!(w.clusters.len(), 1);
        assert_eq!(w.clusters[0].stats.count(), 2);
        assert_eq!(w.clusters[0].history, Vec::<u64>::new());
        let w2 = s.close(span("2026-11-23T07:00:00Z"));
        assert_eq!(
            (w2.clusters[0].stats.count(), w2.clusters[0].history.clone()),
            (2, vec![2])
        );
    }

    #[test]
    fn sample_is_the_earliest_whatever_the_order() {
        let loc = CodeLocation::default();
        let mk = |order: &[usize]| {
            let s = MemoryStore::new(hourly(), 24);
            let ats = [
                "2026-11-23T05:10:00Z",
                "2026-11-23T05:01:00Z",
                "2026-11-23T05:01:00Z",
            ];
            let ids = ["c", "b", "a"];
            for &i in order {
                s.record(&obs(7, ats[i], ids[i], &loc));
            }
            s.close(span("2026-11-23T06:00:00Z")).clusters[0]
                .sample
                .clone()
                .unwrap()
        };
        let a = mk(&[0, 1, 2]);
        // "b" and "a" share the earliest millisecond: their keys decide, never arrival.
        let first = ["b", "a"]
            .into_iter()
            .min_by_key(|id| super::super::cell::order_key(id))
            .unwrap();
        assert_eq!(a.insert_id, super::super::cell::order_key(first));
        assert_eq!(a, mk(&[2, 1, 0]));
        assert_eq!(a, mk(&[1, 0, 2]));
    }

    #[test]
    fn a_kept_sample_is_redacted_as_the_checkpoint_writes_it() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24);
        let raw = r#"{"insertId":"x","textPayload":"login password=Hunter2Secret9"}"#;
        s.record(&Observation {
            raw,
            ..obs(7, "2026-11-23T05:10:00Z", "x", &loc)
        });
        let snapshot = s.snapshot();
        let sample = snapshot.samples().next().cloned().unwrap();
        assert!(!sample.raw().contains("Hunter2Secret9"), "{}", sample.raw());
        assert!(sample.raw().contains("password=[REDACTED:password]"));
    }

    #[test]
    fn entries_for_a_closed_window_are_late_but_counted() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24);
        s.record(&obs(1, "2026-11-23T05:10:00Z", "a", &loc));
        s.close(span("2026-11-23T06:00:00Z"));
        assert_eq!(
            s.record(&obs(1, "2026-11-23T05:50:00Z", "b", &loc)),
            Recorded::Late
        );
        assert_eq!(
            s.record(&obs(1, "2026-11-23T06:01:00Z", "c", &loc)),
            Recorded::OnTime
        );
        s.record(&obs(2, "2026-11-23T05:40:00Z", "d", &loc));
        s.record(&obs(2, "2026-11-23T05:20:00Z", "e", &loc));
        // Through a checkpoint: the late entries of the next close are kept.
        let s = MemoryStore::restore(hourly(), 24, s.snapshot());
        let w = s.close(span("2026-11-23T07:00:00Z"));
        assert_eq!(w.late, 3);
        assert_eq!(
            w.late_clusters,
            vec![
                LateFine {
                    id: ClusterId(2),
                    entries: 2,
                    earliest: t("2026-11-23T05:20:00Z")
                },
                LateFine {
                    id: ClusterId(1),
                    entries: 1,
                    earliest: t("2026-11-23T05:50:00Z")
                },
            ],
            "by cluster, most first, with the earliest event time"
        );
        assert_eq!(w.clusters[0].stats.count(), 1);
        let next = s.close(span("2026-11-23T08:00:00Z"));
        assert_eq!((next.late, next.late_clusters.len()), (0, 0));
    }

    #[test]
    fn a_late_entry_retracted_before_the_next_close_is_not_reported_late() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24);
        s.record(&obs(1, "2026-11-23T05:10:00Z", "a", &loc));
        s.close(span("2026-11-23T06:00:00Z"));
        // A traceback's part (cluster 2) and another late entry of cluster 1, both late.
        let part = obs(2, "2026-11-23T05:50:00Z", "p", &loc);
        assert_eq!(s.record(&part), Recorded::Late);
        assert_eq!(
            s.record(&obs(1, "2026-11-23T05:20:00Z", "b", &loc)),
            Recorded::Late
        );
        // Cluster 1's entry counted on time is retracted: the late one of cluster 1 stays.
        s.record(&obs(1, "2026-11-23T06:10:00Z", "c", &loc));
        s.retract(&obs(1, "2026-11-23T06:10:00Z", "c", &loc));
        // Through a checkpoint, the part is retracted (the rest of its traceback came).
        let s = MemoryStore::restore(hourly(), 24, s.snapshot());
        assert_eq!(s.retract(&part), Recorded::Late);
        // The part's cluster is not listed.
        one_late_of_cluster_1(
            &s.close(span("2026-11-23T07:00:00Z")),
            "2026-11-23T05:20:00Z",
        );
    }

    /// `w` tells one late entry, of cluster 1 at `earliest`, and no other cluster.
    fn one_late_of_cluster_1(w: &ClosedWindow, earliest: &str) {
        assert_eq!(w.late, 1);
        assert_eq!(
            w.late_clusters,
            vec![LateFine {
                id: ClusterId(1),
                entries: 1,
                earliest: t(earliest)
            }]
        );
    }

    #[test]
    fn a_retracted_entry_counted_on_time_leaves_a_late_one_of_its_millisecond_noted() {
        // Why `Late::noted` keys entries by insertId too: the per-cluster times of
        // `noted_at` alone cannot tell this part (on time) from the late entry beside it.
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24);
        let part = obs(1, "2026-11-23T05:50:00Z", "p", &loc);
        assert_eq!(s.record(&part), Recorded::OnTime);
        s.close(span("2026-11-23T06:00:00Z"));
        assert_eq!(
            s.record(&obs(1, "2026-11-23T05:50:00Z", "e", &loc)),
            Recorded::Late
        );
        assert_eq!(
            s.retract(&part),
            Recorded::OnTime,
            "counted on time: no late entry to take back"
        );
        one_late_of_cluster_1(
            &s.close(span("2026-11-23T07:00:00Z")),
            "2026-11-23T05:50:00Z",
        );
    }

    #[test]
    fn only_clusters_without_buckets_are_forgotten_past_the_history_cap() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 24)
            .revising(chrono::TimeDelta::hours(2))
            .keeping_history_of(2);
        for (id, n) in [(1, 5), (2, 5)] {
            for i in 0..n {
                s.record(&obs(id, "2026-11-23T05:10:00Z", &format!("{id}-{i}"), &loc));
            }
        }
        s.record(&obs(3, "2026-11-23T06:10:00Z", "3", &loc));
        s.record(&obs(4, "2026-11-23T06:10:00Z", "4", &loc));
        s.close(span("2026-11-23T06:00:00Z"));
        s.close(span("2026-11-23T07:00:00Z"));
        // Clusters 3 and 4 still have the buckets a revision reads: none is forgotten.
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.record(&obs(4, "2026-11-23T06:20:00Z", "4b", &loc)),
            Recorded::Revises
        );
        let revised = s.revise(span("2026-11-23T07:00:00Z"));
        let counts: Vec<(u64, u64)> = revised
            .clusters
            .iter()
            .map(|c| (c.id.0, c.stats.count()))
            .collect();
        assert_eq!(counts, [(1, 0), (2, 0), (3, 1), (4, 2)]);
        // Hours later every bucket is gone: the two with the fewest entries go.
        s.close(span("2026-11-23T11:00:00Z"));
        let mut left: Vec<u64> = s.cells.iter().map(|c| c.key().0).collect();
        left.sort_unstable();
        assert_eq!(left, [1, 2]);
    }

    #[test]
    fn a_late_entry_revises_every_closed_window_it_belongs_to_within_the_horizon() {
        let loc = CodeLocation::default();
        let quarter = Schedule {
            hop_ms: 900_000,
            ..hourly()
        };
        let s = MemoryStore::new(quarter, 24).revising(chrono::TimeDelta::minutes(30));
        s.record(&obs(1, "2026-11-23T05:50:00Z", "a", &loc));
        let ends = ["06:00", "06:15", "06:30", "06:45"];
        let before: Vec<u64> = ends
            .iter()
            .map(|e| {
                let w = s.close(quarter.span_ending(t(&format!("2026-11-23T{e}:00Z"))));
                w.clusters[0].stats.count()
            })
            .collect();
        assert_eq!(before, [1, 1, 1, 1]);
        // 05:55 is in the windows ending 06:00 … 06:45; the first two closed more than 30
        // minutes before the last close.
        assert_eq!(
            s.record(&obs(1, "2026-11-23T05:55:00Z", "b", &loc)),
            Recorded::Revises
        );
        let due = s.take_revisions();
        let due_ends: Vec<_> = due.iter().map(|w| w.end).collect();
        assert_eq!(
            due_ends,
            [t("2026-11-23T06:30:00Z"), t("2026-11-23T06:45:00Z")]
        );
        assert!(s.take_revisions().is_empty(), "each revision is taken once");
        let r = s.revise(due[1]);
        assert_eq!(r.clusters[0].stats.count(), 2);
        assert_eq!(r.clusters[0].history, [1, 1, 1], "the history before it");
        assert_eq!(
            r.revision,
            Some(Revision {
                number: 1,
                entries_before: 1
            })
        );
        // Its own count is corrected in the history the next close reads.
        let next = s.close(quarter.span_ending(t("2026-11-23T07:00:00Z")));
        assert_eq!(next.clusters[0].history, [1, 1, 1, 2]);
        // Older than every revisable window: late for good.
        assert_eq!(
            s.record(&obs(1, "2026-11-23T05:05:00Z", "c", &loc)),
            Recorded::Late
        );
        assert!(s.take_revisions().is_empty());
    }

    #[test]
    fn clusters_not_yet_born_are_not_in_earlier_windows_and_idle_cells_go() {
        let loc = CodeLocation::default();
        let s = MemoryStore::new(hourly(), 2);
        s.record(&obs(1, "2026-11-23T06:10:00Z", "a", &loc));
        assert!(s.close(span("2026-11-23T06:00:00Z")).clusters.is_empty());
        assert_eq!(s.close(span("2026-11-23T07:00:00Z")).clusters.len(), 1);
        // A window without any entry adds no history (the input has a gap there).
        let silent = s.close(span("2026-11-23T08:00:00Z"));
        assert_eq!(silent.clusters[0].stats.count(), 0);
        assert_eq!(silent.clusters[0].history, vec![1]);
        // Another cluster is busy: cluster 1 is quiet, not absent from the input.
        for at in ["08:10", "09:10", "10:10"] {
            s.record(&obs(2, &format!("2026-11-23T{at}:00Z"), "b", &loc));
        }
        let quiet = s.close(span("2026-11-23T09:00:00Z"));
        assert_eq!(
            quiet.clusters[0].history,
            vec![1],
            "the silent hour is not counted"
        );
        s.close(span("2026-11-23T10:00:00Z"));
        s.close(span("2026-11-23T11:00:00Z"));
        assert_eq!(
            s.len(),
            1,
            "two quiet windows of history → cluster 1's cell is dropped"
        );
    }
}
