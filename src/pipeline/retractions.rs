//! Parts of tracebacks uncounted from closed windows, remembered until those windows'
//! revisions are built, so each revision says which clusters lost entries and where the whole
//! traceback went (`RevisionReport::retracted`): the GitHub stage corrects (or closes) the
//! issue it opened for the part and points to the whole's, the alert stage resolves the
//! part's alert.
//!
//! No log text is kept (a checkpoint holds this): a part is known by its stream and the hash of
//! its first line, which the whole traceback, counted later, also holds.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Record;
use crate::fingerprint::ClusterId;
use crate::report::{RetractedCluster, WindowReport};
use crate::window::{WindowSpan, WindowStore};

/// Parts remembered at most between two revisions: re-stitches are rare (a traceback split
/// across a restart); past this the oldest go, and their revision says less.
const MAX_KEPT: usize = 10_000;

/// Revising entries noted at most: a part retracted after more came stays in
/// `Counts::revising`.
const REVISING_KEPT: usize = 16_384;

/// The parts retracted since the last revisions were built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Retractions(Vec<Retraction>);

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Retraction {
    /// The part's event time: which closed windows it was counted in.
    at: DateTime<Utc>,
    /// The cluster it was counted in, and its fine id (what the store counts by).
    cluster: ClusterId,
    fine: ClusterId,
    /// Its stream (log, instance, service) and its first line, hashed.
    stream: u64,
    line: u64,
    /// The cluster the whole traceback was counted in, once it was.
    into: Option<ClusterId>,
}

fn hash(parts: &[&str]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    h.digest()
}

/// Entries counted as revising a closed window (`Counts::revising`), newest last, each by a
/// hash of its log, event time and insertId: a retracted one is taken back from the count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revising(VecDeque<u64>);

fn entry_key(r: &Record) -> u64 {
    let at = r.timestamp.timestamp_micros().to_string();
    hash(&[&r.log_name, &at, &r.insert_id])
}

impl Revising {
    pub fn note(&mut self, r: &Record) {
        self.0.push_back(entry_key(r));
        if self.0.len() > REVISING_KEPT {
            self.0.pop_front();
        }
    }

    /// Takes back the note of `r`; false if it was not noted.
    pub fn take(&mut self, r: &Record) -> bool {
        let key = entry_key(r);
        let Some(i) = self.0.iter().rposition(|k| *k == key) else {
            return false;
        };
        self.0.remove(i);
        true
    }
}

fn stream(r: &Record) -> u64 {
    hash(&[&r.log_name, r.instance.as_deref().unwrap_or(""), &r.service])
}

fn line(text: &str) -> u64 {
    hash(&[text.trim()])
}

impl Retractions {
    /// `part`, counted in `cluster`, was uncounted from a closed window.
    pub fn note(&mut self, part: &Record, cluster: ClusterId, fine: ClusterId) {
        let first = part.message.lines().find(|l| !l.trim().is_empty());
        self.0.push(Retraction {
            at: part.timestamp,
            cluster,
            fine,
            stream: stream(part),
            line: line(first.unwrap_or("")),
            into: None,
        });
        if self.0.len() > MAX_KEPT {
            self.0.remove(0);
        }
    }

    /// `r` was counted in `cluster`: if it is the whole traceback of a part (its stream, not
    /// later than the part, holding the part's first line), the part went into `cluster`.
    pub fn counted(&mut self, r: &Record, cluster: ClusterId) {
        if self.0.iter().all(|p| p.into.is_some()) {
            return;
        }
        let s = stream(r);
        let mut lines: Option<Vec<u64>> = None;
        for p in self.0.iter_mut() {
            if p.into.is_some() || p.stream != s || r.timestamp > p.at {
                continue;
            }
            let lines = lines.get_or_insert_with(|| r.message.lines().map(line).collect());
            if lines.contains(&p.line) {
                p.into = Some(cluster);
            }
        }
    }

    /// The clusters that lost entries in `span`, with their count in `report` (that window
    /// again), whether the store holds nothing more of them in any window, and where the
    /// whole went; one per cluster.
    pub fn told(
        &self,
        span: WindowSpan,
        report: &WindowReport,
        store: &dyn WindowStore,
    ) -> Vec<RetractedCluster> {
        let ever = WindowSpan {
            start: DateTime::<Utc>::MIN_UTC,
            end: DateTime::<Utc>::MAX_UTC,
        };
        let mut told: Vec<RetractedCluster> = Vec::new();
        for p in self
            .0
            .iter()
            .filter(|p| span.start <= p.at && p.at < span.end)
        {
            let held = store.count_in(p.fine, ever) > 0;
            if let Some(t) = told.iter_mut().find(|t| t.cluster == p.cluster) {
                t.into = t.into.or(p.into);
                t.gone &= !held;
                continue;
            }
            let count = report
                .clusters
                .iter()
                .find(|c| c.id == p.cluster || c.aliases.contains(&p.cluster))
                .map_or(0, |c| c.count);
            told.push(RetractedCluster {
                cluster: p.cluster,
                count,
                gone: count == 0 && !held,
                into: p.into.filter(|c| *c != p.cluster),
            });
        }
        told
    }

    /// The revisions of every window a part was in have been built.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
