//! Per-cluster counts in event time: fixed buckets (default one minute) per cluster in a
//! concurrent map, so "how many in the last hour" is known at any moment, and windows
//! (default one hour, closing on the hour) that close on a schedule.
//!
//! The entry's own timestamp picks the bucket, never its arrival time, so a replay and a live
//! run of the same entries count the same, in any order.

mod cell;
mod late;
mod memory;
mod schedule;

pub use cell::{BucketStats, Sample};
pub use memory::{MemoryStore, StoreSnapshot};
pub use schedule::{Schedule, WindowSpan};

use chrono::{DateTime, Utc};

use crate::entry::{CodeLocation, Severity};
use crate::fingerprint::ClusterId;

/// One entry as the window store sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The fine cluster id (aliases are resolved when a window closes).
    pub id: ClusterId,
    pub at: DateTime<Utc>,
    pub severity: Severity,
    pub service: &'a str,
    pub location: &'a CodeLocation,
    pub insert_id: &'a str,
    /// The entry's JSON, kept only if it becomes the cluster's sample.
    pub raw: &'a str,
}

/// Whether an entry arrived in time for its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    OnTime,
    /// A window the entry belongs to had closed, recently enough to be revised: it counts
    /// in its windows, and the closed ones are re-emitted (see `take_revisions`).
    Revises,
    /// Every window the entry belongs to closed longer ago than revisions reach: it is
    /// counted as late and reported, and still counts in the windows that are open.
    Late,
}

/// What a fine cluster did in one closed window.
#[derive(Debug, Clone, PartialEq)]
pub struct FineWindow {
    pub id: ClusterId,
    pub service: String,
    pub location: CodeLocation,
    pub stats: BucketStats,
    /// Entries per bucket of the window, oldest first (the window's trend).
    pub buckets: Vec<u64>,
    /// The earliest entry of the window (by timestamp, then insertId): the same whatever the
    /// order entries arrived in.
    pub sample: Option<Sample>,
    /// Counts of this fine cluster in the previous windows, newest last (at most `history`).
    pub history: Vec<u64>,
    /// How many windows closed since the cluster was first seen, before this one (capped at
    /// `history`): the number of windows `history` averages over.
    pub windows_known: usize,
}

/// A window that has closed, as the store reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    pub span: WindowSpan,
    pub clusters: Vec<FineWindow>,
    /// Entries that arrived after a window of theirs had closed for good (too late to be
    /// revised), since the previous close.
    pub late: u64,
    /// The same entries by fine cluster, most first (at most [`LATE_CLUSTERS_KEPT`]
    /// clusters; `late` counts them all).
    pub late_clusters: Vec<LateFine>,
    /// Set when this is a closed window re-emitted because late entries changed it.
    pub revision: Option<Revision>,
}

/// Clusters a window's late entries are told by at most: a flood of late kinds stays a
/// bounded list, and the total still counts every entry.
pub const LATE_CLUSTERS_KEPT: usize = 1_000;

/// Entries of one fine cluster that came too late to be revised into a window of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateFine {
    pub id: ClusterId,
    pub entries: u64,
    /// The event time of the earliest of them.
    pub earliest: DateTime<Utc>,
}

/// A closed window, again: late entries changed its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    /// 1 for the first revision of a window.
    pub number: u32,
    /// Entries the previous version of the window reported.
    pub entries_before: u64,
}

/// Where window state lives. One process uses [`MemoryStore`]; a store shared by several
/// replicas can implement the same trait.
pub trait WindowStore: Send + Sync {
    /// Counts one entry in its bucket.
    fn record(&self, obs: &Observation<'_>) -> Recorded;
    /// Uncounts an entry [`WindowStore::record`] counted (a traceback's part, counted before
    /// the rest of it came): its bucket and, when it leaves none of its cluster's entries in
    /// its hop, its sample and its place in [`WindowStore::clusters_at`] go; a cluster left
    /// with nothing is forgotten. A closed window it was in is revised (`Revises`), as a late
    /// entry revises it. The first and last seen are exact after one retraction per side of
    /// a bucket (see `BucketStats::remove`); a hop that keeps others of the entry's fine
    /// cluster keeps its sample, the retracted entry's redacted text (one is kept per hop).
    /// `Late` only if it was counted late and noted since the last close (the next close's
    /// late entries lose it); an entry counted on time in windows closed for good since is
    /// `OnTime`: nothing late to undo.
    fn retract(&self, obs: &Observation<'_>) -> Recorded;
    /// Whether fine cluster `id` has a cell (entries in an open window, or history).
    fn holds(&self, id: ClusterId) -> bool;
    /// The code location a closed window reports fine cluster `id` by (its cell's first
    /// entry's), while the store holds it.
    fn location_of(&self, id: ClusterId) -> Option<CodeLocation>;
    /// How many fine clusters have entries in the hop of time holding `t` (the window when
    /// windows do not overlap): what `fingerprint.max_clusters` bounds. Clusters of other
    /// hours, and those that hold only history, do not count; the store bounds the latter
    /// itself.
    fn clusters_at(&self, t: DateTime<Utc>) -> usize;
    /// Entries of fine cluster `id` inside `span` (exact to one bucket).
    fn count_in(&self, id: ClusterId, span: WindowSpan) -> u64;
    /// Closes `span`: returns what every cluster did in it, remembers the counts as history
    /// and forgets buckets no later window needs. Windows must be closed in time order. A
    /// window without a single entry adds no history: no cluster could be seen in it (the
    /// input has a gap), so it must not lower any baseline.
    fn close(&self, span: WindowSpan) -> ClosedWindow;
    /// Closed windows that late entries changed since the last call, oldest first (each
    /// once; only those that closed at most the revision horizon ago).
    fn take_revisions(&self) -> Vec<WindowSpan>;
    /// `span` (a closed window) again, with what it holds now; history and baselines stay
    /// as they were at its close, except that its own count in the history is corrected.
    fn revise(&self, span: WindowSpan) -> ClosedWindow;
    /// The start of the earliest bucket at or after `t` that holds entries, if any: where the
    /// next window with something to report begins.
    fn next_entries_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>>;
}
