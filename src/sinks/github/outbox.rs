//! The durable queue between the window close and the GitHub stage: the clusters of closed
//! windows not yet brought onto GitHub (`github-outbox.json`, written atomically), and the
//! issue links the last sync knew (for the alerts' `issue` annotation).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::problem::{Problem, ProblemId};
use crate::atomic_file::{Blob, FileBlob};
use crate::report::ClusterReport;

/// Clusters the outbox keeps at most: a day of a busy service with GitHub down. Past that the
/// oldest are dropped (and said so): their counts were in the worklogs anyway.
pub const MAX_OUTBOX: usize = 10_000;

/// One problem (an incident, or a cluster in none) of one window still to be brought onto
/// GitHub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PendingWire")]
pub struct Pending {
    pub problem: Problem,
}

impl Pending {
    /// Cluster `c` of the window ending at `window_end`.
    pub fn of_cluster(c: &ClusterReport, window_end: DateTime<Utc>) -> Pending {
        Pending {
            problem: Problem::from_cluster(c, window_end),
        }
    }
}

/// What an outbox file holds: problems, or (written by an older version) clusters.
#[derive(Deserialize)]
#[serde(untagged)]
enum PendingWire {
    Problem {
        problem: Problem,
    },
    Cluster {
        window_end: DateTime<Utc>,
        cluster: ClusterReport,
    },
}

impl From<PendingWire> for Pending {
    fn from(w: PendingWire) -> Pending {
        match w {
            PendingWire::Problem { problem } => Pending { problem },
            PendingWire::Cluster {
                window_end,
                cluster,
            } => Pending::of_cluster(&cluster, window_end),
        }
    }
}

/// The durable queue of clusters not yet brought onto GitHub, shared by the window-close
/// side (which [`Outbox::push`]es a window's clusters, persisted at once, before any write is
/// attempted) and the sync (which reads it and removes what it finished). So a kill, a crash
/// or a shutdown timeout at any moment loses nothing: the next start syncs what is left, and
/// the planner makes a replayed action harmless.
#[derive(Debug, Clone)]
pub struct Outbox(Arc<Mutex<Queue>>);

#[derive(Debug)]
struct Queue {
    place: Option<Arc<dyn Blob>>,
    items: Vec<Pending>,
    /// Problem id → its issue's URL, as of the last sync (for the alerts' `issue` link).
    links: BTreeMap<ProblemId, String>,
}

impl Outbox {
    /// The outbox in the file at `path`, or kept in memory only with `None` (a dry run).
    pub fn new(path: Option<PathBuf>) -> Outbox {
        Outbox::at(path.map(|p| Arc::new(FileBlob(p)) as Arc<dyn Blob>))
    }

    /// The outbox in `place` (read now; an unreadable one is logged and starts empty).
    pub fn at(place: Option<Arc<dyn Blob>>) -> Outbox {
        let items = place.as_deref().map(read_outbox).unwrap_or_default();
        Outbox(Arc::new(Mutex::new(Queue {
            place,
            items,
            links: BTreeMap::new(),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `items` and persists the queue before returning. Past [`MAX_OUTBOX`] the oldest
    /// are dropped (and said so).
    pub fn push(&self, items: Vec<Pending>) -> std::io::Result<()> {
        let mut q = self.lock();
        q.items.extend(items);
        if q.items.len() > MAX_OUTBOX {
            let dropped = q.items.len() - MAX_OUTBOX;
            tracing::warn!(dropped, "GitHub outbox full: dropping the oldest clusters");
            q.items.drain(..dropped);
        }
        q.save()
    }

    /// What is waiting, oldest first.
    pub fn pending(&self) -> Vec<Pending> {
        self.lock().items.clone()
    }

    /// The items at `done` (positions in what [`Outbox::pending`] returned; later pushes
    /// only append) are done: removes and persists.
    pub fn done(&self, done: &BTreeSet<usize>) -> std::io::Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let mut q = self.lock();
        let mut at = 0;
        q.items.retain(|_| {
            at += 1;
            !done.contains(&(at - 1))
        });
        q.save()
    }

    /// The issue URL of the problem with id `id` (a cluster id today), if it has one.
    pub fn issue_url(&self, id: &ProblemId) -> Option<String> {
        self.lock().links.get(id).cloned()
    }

    pub(super) fn set_links(&self, links: BTreeMap<ProblemId, String>) {
        self.lock().links = links;
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Queue {
    fn save(&self) -> std::io::Result<()> {
        let Some(place) = &self.place else {
            return Ok(());
        };
        if self.items.is_empty() {
            return place.write(None);
        }
        let json = serde_json::to_vec_pretty(&self.items).unwrap_or_default();
        place.write(Some(&json))
    }
}

fn read_outbox(place: &dyn Blob) -> Vec<Pending> {
    let parsed = place.read().and_then(|bytes| match bytes {
        Some(b) => serde_json::from_slice(&b).map_err(std::io::Error::other),
        None => Ok(Vec::new()),
    });
    parsed.unwrap_or_else(|e| {
        tracing::error!(place = %place.name(), error = %e, "GitHub outbox unreadable; starting empty");
        Vec::new()
    })
}
