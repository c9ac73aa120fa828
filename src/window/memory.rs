//! The in-process window store: a `DashMap` from fine cluster id to its cell, sharded so that
//! workers recording different clusters do not wait on each other.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::cell::{Cell, Sample};
use super::schedule::{ms_to_time, Schedule, WindowSpan};
use super::{ClosedWindow, Observation, Recorded, WindowStore};
use crate::fingerprint::ClusterId;
use chrono::{DateTime, Utc};

pub struct MemoryStore {
    schedule: Schedule,
    history: usize,
    cells: DashMap<ClusterId, Cell>,
    /// End of the last closed window (ms); entries before it are late.
    closed_until_ms: AtomicI64,
    /// Late entries since the last close.
    late: AtomicU64,
}

impl MemoryStore {
    pub fn new(schedule: Schedule, history: usize) -> MemoryStore {
        MemoryStore {
            schedule,
            history,
            cells: DashMap::new(),
            closed_until_ms: AtomicI64::new(i64::MIN),
            late: AtomicU64::new(0),
        }
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
        let mut cells: Vec<(ClusterId, Cell)> = self
            .cells
            .iter()
            .map(|c| (*c.key(), c.value().clone()))
            .collect();
        cells.sort_by_key(|(id, _)| *id);
        StoreSnapshot {
            cells,
            closed_until_ms: self.closed_until_ms.load(Ordering::Acquire),
            late: self.late.load(Ordering::Acquire),
        }
    }

    /// A store holding exactly what `snapshot` copied.
    pub fn restore(schedule: Schedule, history: usize, snap: StoreSnapshot) -> MemoryStore {
        MemoryStore {
            schedule,
            history,
            cells: snap.cells.into_iter().collect(),
            closed_until_ms: AtomicI64::new(snap.closed_until_ms),
            late: AtomicU64::new(snap.late),
        }
    }
}

/// The state of a [`MemoryStore`] as plain data (serde), for checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreSnapshot {
    cells: Vec<(ClusterId, Cell)>,
    closed_until_ms: i64,
    late: u64,
}

impl StoreSnapshot {
    /// The sample entries held (raw JSON, redacted when kept).
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.cells.iter().flat_map(|(_, c)| c.samples())
    }
}

impl WindowStore for MemoryStore {
    fn record(&self, obs: &Observation<'_>) -> Recorded {
        self.cells
            .entry(obs.id)
            .or_insert_with(|| Cell::new(obs))
            .record(&self.schedule, obs);
        if obs.at.timestamp_millis() < self.closed_until_ms.load(Ordering::Acquire) {
            self.late.fetch_add(1, Ordering::Relaxed);
            Recorded::Late
        } else {
            Recorded::OnTime
        }
    }

    fn holds(&self, id: ClusterId) -> bool {
        self.cells.contains_key(&id)
    }

    fn clusters(&self) -> usize {
        self.cells.len()
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
        let mut clusters = Vec::new();
        for mut cell in self.cells.iter_mut() {
            let id = *cell.key();
            if let Some(w) = cell.close(id, &self.schedule, span, keep) {
                clusters.push(w);
            }
        }
        self.cells.retain(|_, c| !c.is_idle());
        clusters.sort_by_key(|c| c.id);
        ClosedWindow {
            span,
            clusters,
            late: self.late.swap(0, Ordering::AcqRel),
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
        assert!(!sample.raw.contains("Hunter2Secret9"), "{}", sample.raw);
        assert!(sample.raw.contains("password=[REDACTED:password]"));
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
        let w = s.close(span("2026-11-23T07:00:00Z"));
        assert_eq!(w.late, 1);
        assert_eq!(w.clusters[0].stats.count(), 1);
        assert_eq!(s.close(span("2026-11-23T08:00:00Z")).late, 0);
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
