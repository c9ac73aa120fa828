//! The pipeline's own state as plain data, for a live run's checkpoint: which clusters are
//! known, unreported malformed input, the next window to close, totals, and the traceback
//! lines the stitcher still holds (as their raw JSON, re-stitched on restore). Window counts
//! live in the store and are checkpointed with it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::unique::{TakenMinute, Unique};
use super::{Counts, Pipeline};
use crate::config::Settings;
use crate::entry::parse_entry_max;
use crate::fingerprint::{ClusterId, Fingerprinter};
use crate::incident::{GroupConfig, LinkConfig, Tracker, TrackerSnapshot};
use crate::report::{Malformed, MalformedSummary};
use crate::source::Boundedness;
use crate::window::{WindowSpan, WindowStore};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// Fine clusters already announced: they are not "new" again after a restart.
    pub seen: Vec<ClusterId>,
    pub malformed: MalformedSummary,
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub next: Option<WindowSpan>,
    pub counts: Counts,
    /// Raw JSON of the traceback lines held by the stitcher, not yet counted.
    pub held: Vec<String>,
    /// Co-occurrences of the open windows, links of closed ones, incident identities.
    #[serde(default)]
    pub incidents: TrackerSnapshot,
    /// Silent windows jumped over, not yet told in a report.
    #[serde(default)]
    pub pending_silence: Option<crate::report::Silence>,
    /// Hashes of the keys seen (the cardinality bound).
    #[serde(default)]
    pub keys: Vec<u64>,
    /// Entries with a field read leniently, by reason, not yet told in a worklog.
    #[serde(default)]
    pub field_warnings: std::collections::BTreeMap<String, u64>,
    /// Duplicate entries not yet told in a worklog.
    #[serde(default)]
    pub duplicates_unreported: u64,
    /// The entries taken in the newest minutes of event time (at most `live.dedupe_ids`), by
    /// a hash of (log, event time, insertId): one published again as another message after a
    /// restart is still a duplicate. (A checkpoint written before this field: none.)
    #[serde(default)]
    pub taken: Vec<TakenMinute>,
    /// Tracebacks counted recently, each as the raw JSON of its lines (redacted like `held`):
    /// a line of one that comes after a restart still reopens it.
    #[serde(default)]
    pub released: Vec<Vec<String>>,
    /// Traceback parts uncounted from closed windows whose revisions are not built yet.
    #[serde(default)]
    pub retractions: super::retractions::Retractions,
    /// Entries counted as revising that a retraction may take back (see `Revising`).
    #[serde(default)]
    pub revising: super::retractions::Revising,
}

/// A held line as the checkpoint keeps it: its payload redacted (the checkpoint is an output
/// like the worklogs), its identity — time, insert id, resource, labels, trace — as it came, so
/// the restored line sorts, dedupes and stitches as before. The pipeline redacts a message
/// before fingerprinting anyway, so the restored line clusters as the original would.
fn held_redacted(raw: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(raw) else {
        // It parsed when it was held; should it not now, keep nothing of its text.
        return String::new();
    };
    if let Some(map) = v.as_object_mut() {
        for key in ["textPayload", "jsonPayload", "protoPayload"] {
            if let Some(payload) = map.get_mut(key) {
                crate::redact::redact_json(payload);
            }
        }
    }
    v.to_string()
}

impl Pipeline {
    /// The pipeline's state (not the store's).
    pub fn snapshot(&self) -> PipelineSnapshot {
        let mut seen: Vec<ClusterId> = self.seen.iter().copied().collect();
        seen.sort();
        PipelineSnapshot {
            seen,
            malformed: self.malformed.0.clone(),
            range: self.range,
            next: self.next,
            counts: self.counts,
            held: self
                .stitcher
                .held_records()
                .map(|r| held_redacted(&r.raw))
                .collect(),
            incidents: self.incidents.snapshot(),
            pending_silence: self.pending_silence,
            keys: self.bounds.snapshot(),
            field_warnings: self
                .field_warnings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            duplicates_unreported: self.unique.unreported(),
            taken: self.unique.snapshot(self.settings.live.dedupe_ids),
            released: self.stitcher.released_kept(held_redacted),
            retractions: self.retractions.clone(),
            revising: self.revising.clone(),
        }
    }

    /// An unbounded pipeline that continues from `snap`; `store` must hold the window state
    /// taken with it.
    pub fn restore(
        settings: Arc<Settings>,
        fingerprinter: Arc<Fingerprinter>,
        store: Arc<dyn WindowStore>,
        snap: PipelineSnapshot,
    ) -> Pipeline {
        let mut p = Pipeline::new(settings, fingerprinter, store, Boundedness::Unbounded);
        p.seen = snap.seen.into_iter().collect();
        p.malformed = Malformed(snap.malformed);
        p.range = snap.range;
        p.next = snap.next;
        p.counts = snap.counts;
        p.pending_silence = snap.pending_silence;
        p.retractions = snap.retractions;
        p.revising = snap.revising;
        p.unique = Unique::restored(snap.duplicates_unreported, snap.taken);
        p.bounds.restore(snap.keys);
        // Reasons are the fixed names of `FieldWarnings::ALL`; an unknown one (a checkpoint of
        // another version) is not counted again.
        for (_, reason) in crate::entry::FieldWarnings::ALL {
            if let Some(n) = snap.field_warnings.get(reason) {
                p.field_warnings.insert(reason, *n);
            }
        }
        p.incidents = Tracker::restore(
            LinkConfig::default(),
            GroupConfig::default(),
            snap.incidents,
        );
        // Held lines were parsed once already, so they parse again; re-holding them rebuilds
        // the runs. Anything released meanwhile is counted now, as it would have been.
        let mut events = Vec::new();
        for raw in &snap.held {
            if let Ok(record) = parse_entry_max(raw.as_bytes(), usize::MAX) {
                p.stitcher.push(record, &mut p.ready);
            }
        }
        p.drain_ready(&mut events);
        for run in snap.released {
            let records = run
                .iter()
                .filter_map(|raw| parse_entry_max(raw.as_bytes(), usize::MAX).ok())
                .collect();
            p.stitcher.restore_released(run, records);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Origin, RawEntry};
    use crate::window::{MemoryStore, Schedule, StoreSnapshot};

    fn raw(v: &serde_json::Value, i: usize) -> RawEntry {
        RawEntry {
            data: v.to_string().into(),
            origin: Origin::File {
                path: "t".into(),
                line: i as u64,
            },
        }
    }

    #[test]
    fn a_pipeline_restored_from_json_snapshots_ends_like_one_never_stopped() {
        let s = Arc::new(Settings::load(None).unwrap());
        let schedule = Schedule::new(&s.window);
        let entries = crate::synth::generate("2025-09-15T19:00:00Z".parse().unwrap(), 2, 13);
        let fresh = |s: &Arc<Settings>| {
            let store = Arc::new(MemoryStore::new(schedule, s.window.history));
            let p = Pipeline::new(
                s.clone(),
                Arc::new(Fingerprinter::new()),
                store.clone(),
                Boundedness::Unbounded,
            );
            (p, store)
        };
        let mut events = Vec::new();
        let (mut whole, _) = fresh(&s);
        for (i, (_, e)) in entries.iter().enumerate() {
            whole.ingest(&raw(e, i), &mut events);
        }
        let expected = whole.finish(&mut events);

        // Cut inside a traceback, so the stitcher holds lines at the snapshot.
        let cut = entries
            .iter()
            .position(|(_, e)| {
                e["textPayload"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Traceback"))
            })
            .unwrap()
            + 1;
        let (mut first, store) = fresh(&s);
        for (i, (_, e)) in entries[..cut].iter().enumerate() {
            first.ingest(&raw(e, i), &mut events);
        }
        let snap = first.snapshot();
        let first_fp = first.fingerprinter().clone();
        assert!(!snap.held.is_empty(), "the traceback's first line is held");
        let p_json = serde_json::to_string(&snap).unwrap();
        let s_json = serde_json::to_string(&store.snapshot()).unwrap();
        drop(first);
        let store_snap: StoreSnapshot = serde_json::from_str(&s_json).unwrap();
        let fp_json = serde_json::to_string(&first_fp.export()).unwrap();
        let fp = Arc::new(Fingerprinter::from_state(
            serde_json::from_str(&fp_json).unwrap(),
        ));
        let store = Arc::new(MemoryStore::restore(schedule, s.window.history, store_snap));
        let mut second =
            Pipeline::restore(s.clone(), fp, store, serde_json::from_str(&p_json).unwrap());
        for (i, (_, e)) in entries.iter().enumerate().skip(cut) {
            second.ingest(&raw(e, i), &mut events);
        }
        assert_eq!(second.finish(&mut events), expected);
        assert_eq!(second.counts(), whole.counts());
    }

    /// A pipeline that ingested `entries`, its snapshot read back from JSON, and a pipeline
    /// restored from it on the same window store (a restart).
    fn restarted_after(entries: &[&serde_json::Value]) -> (PipelineSnapshot, Pipeline) {
        let s = Arc::new(Settings::load(None).unwrap());
        let store = Arc::new(MemoryStore::new(Schedule::new(&s.window), s.window.history));
        let fp = Arc::new(Fingerprinter::new());
        let mut first = Pipeline::new(s.clone(), fp.clone(), store.clone(), Boundedness::Unbounded);
        for (i, e) in entries.iter().enumerate() {
            first.ingest(&raw(e, i + 1), &mut Vec::new());
        }
        let snap: PipelineSnapshot =
            serde_json::from_str(&serde_json::to_string(&first.snapshot()).unwrap()).unwrap();
        let second = Pipeline::restore(s, fp, store, snap.clone());
        (snap, second)
    }

    #[test]
    fn field_warnings_not_yet_told_survive_a_restart() {
        let odd = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "severity": 1.5,
            "textPayload": "boom", "resource": {"type": "cloud_run_revision"}});
        let (snap, mut second) = restarted_after(&[&odd]);
        assert_eq!(snap.field_warnings["unknown_severity"], 1);
        let reports = second.finish(&mut Vec::new());
        assert_eq!(reports[0].field_warnings["unknown_severity"], 1);
    }

    #[test]
    fn duplicates_not_yet_told_survive_a_restart() {
        let e = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "insertId": "a",
            "textPayload": "boom", "resource": {"type": "cloud_run_revision"}});
        let (snap, mut second) = restarted_after(&[&e, &e]);
        assert_eq!(snap.duplicates_unreported, 1);
        let reports = second.finish(&mut Vec::new());
        assert_eq!(reports[0].totals.duplicates, 1);
        assert_eq!(second.counts().duplicates, 1);
    }

    /// A sink's publish retry after the restart: the same entry as another message.
    #[test]
    fn an_entry_taken_before_a_restart_is_a_duplicate_after_it() {
        let e = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "insertId": "a",
            "logName": "projects/p/logs/run", "textPayload": "boom",
            "resource": {"type": "cloud_run_revision"}});
        let other = serde_json::json!({"timestamp": "2025-09-15T19:10:00Z", "insertId": "b",
            "logName": "projects/p/logs/run", "textPayload": "boom",
            "resource": {"type": "cloud_run_revision"}});
        let (snap, mut second) = restarted_after(&[&e]);
        assert_eq!(snap.taken.len(), 1);
        second.ingest(&raw(&e, 2), &mut Vec::new());
        second.ingest(&raw(&other, 3), &mut Vec::new());
        let reports = second.finish(&mut Vec::new());
        assert_eq!(
            reports[0].totals.entries, 2,
            "the first and `other`, once each"
        );
        assert_eq!(reports[0].totals.duplicates, 1);
    }

    #[test]
    fn a_checkpoint_written_before_taken_entries_were_kept_still_loads() {
        let mut old = serde_json::to_value(PipelineSnapshot::default()).unwrap();
        old.as_object_mut().unwrap().remove("taken");
        let snap: PipelineSnapshot = serde_json::from_value(old).unwrap();
        assert!(snap.taken.is_empty());
    }
}
