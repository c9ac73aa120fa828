//! The incident stage of the pipeline: notes every counted problem entry, and at each window
//! close groups that window's clusters into incidents, remembering how often each pair was
//! tied, so repetition over windows strengthens a link.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::revisions::{join_crash_loops, Revisions, RevisionsSnapshot};
use super::{group, summarize, GroupConfig, LinkConfig, Linker, LinkerSnapshot, Pair, Registry};
use super::{Sighting, Strength};
use crate::entry::Severity;
use crate::fingerprint::ClusterId;
use crate::report::{ClusterReport, IncidentReport};
use crate::window::WindowSpan;

/// Pairs whose history is remembered at most; past it the weakest are forgotten.
const MAX_HISTORY: usize = 50_000;

pub struct Tracker {
    linker: Linker,
    config: GroupConfig,
    /// Moments each pair shared in closed windows.
    history: BTreeMap<Pair, u32>,
    registry: Registry,
    /// What each revision wrote on an instance and on none: ties a request that reached no
    /// instance to its revision's crash loop.
    revisions: Revisions,
}

/// [`Tracker`] as plain data, for a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerSnapshot {
    linker: LinkerSnapshot,
    history: Vec<(Pair, u32)>,
    registry: Registry,
    /// Absent from checkpoints written before it: empty.
    #[serde(default)]
    revisions: RevisionsSnapshot,
}

impl Tracker {
    pub fn new(links: LinkConfig, config: GroupConfig) -> Tracker {
        Tracker {
            linker: Linker::new(links),
            config,
            history: BTreeMap::new(),
            registry: Registry::default(),
            revisions: Revisions::new(links),
        }
    }

    /// Notes a counted entry. Only warnings and worse take part: chatter co-occurs with
    /// everything and says nothing about causes. `revision` is the service and revision that
    /// wrote it, when the entry names one.
    pub fn observe(
        &mut self,
        cluster: ClusterId,
        at: DateTime<Utc>,
        severity: Severity,
        unit: Option<&str>,
        trace: Option<&str>,
        revision: Option<(&str, &str)>,
    ) {
        if severity < Severity::Warning {
            return;
        }
        if let Some(revision) = revision {
            self.revisions
                .observe(cluster, at, revision, unit.is_some());
        }
        self.linker.observe(&Sighting {
            cluster,
            at,
            unit,
            trace,
        });
    }

    /// The incidents of the window `span`, whose clusters are `clusters` with their entries
    /// per bucket in `trends`. `resolve` maps an id noted earlier to its cluster now (clusters
    /// generalize). `keep_from`: the earliest time a window still open or still revisable
    /// starts.
    pub fn close(
        &mut self,
        span: WindowSpan,
        clusters: &[ClusterReport],
        trends: &BTreeMap<ClusterId, Vec<u64>>,
        resolve: impl Fn(ClusterId) -> ClusterId,
        keep_from: DateTime<Utc>,
    ) -> Vec<IncidentReport> {
        let (links, units) = self.links_in(span, &resolve);
        let mut groups = group(
            clusters,
            &links,
            &self.history,
            &self.config,
            &mut self.registry,
        );
        self.join_unplaced(&mut groups, span, clusters, &resolve);
        // Only ties beyond chance build up: coincidences on a busy instance, window after
        // window, are still coincidences.
        for (p, s) in links
            .iter()
            .filter(|(_, s)| s.traces > 0 || s.tied || s.undecidable())
        {
            *self.history.entry(*p).or_default() += s.moments + s.traces;
        }
        self.bound_history();
        self.linker.forget_before(keep_from);
        self.revisions.forget_before(keep_from);
        summarize(&groups, clusters, trends, &units)
    }

    /// The incidents of `span`, closed before, grouped again with what it holds now (a
    /// revision): incident identities are looked up, links are not strengthened again.
    pub fn regroup(
        &self,
        span: WindowSpan,
        clusters: &[ClusterReport],
        trends: &BTreeMap<ClusterId, Vec<u64>>,
        resolve: impl Fn(ClusterId) -> ClusterId,
    ) -> Vec<IncidentReport> {
        let (links, units) = self.links_in(span, &resolve);
        let mut registry = self.registry.clone();
        let mut groups = group(clusters, &links, &self.history, &self.config, &mut registry);
        self.join_unplaced(&mut groups, span, clusters, &resolve);
        summarize(&groups, clusters, trends, &units)
    }

    /// The links of `span` and the units each cluster was seen on, by cluster now.
    #[allow(clippy::type_complexity)]
    fn links_in(
        &self,
        span: WindowSpan,
        resolve: impl Fn(ClusterId) -> ClusterId,
    ) -> (
        BTreeMap<Pair, Strength>,
        BTreeMap<ClusterId, std::collections::BTreeSet<u64>>,
    ) {
        let mut links: BTreeMap<Pair, Strength> = BTreeMap::new();
        for ((a, b), s) in self.linker.links_in(span) {
            let (a, b) = (resolve(a), resolve(b));
            if a == b {
                continue;
            }
            links.entry((a.min(b), a.max(b))).or_default().merge(&s);
        }
        let mut units: BTreeMap<ClusterId, std::collections::BTreeSet<u64>> = BTreeMap::new();
        for (c, set) in self.linker.units_in(span) {
            units.entry(resolve(c)).or_default().extend(set);
        }
        super::links::judge(&mut links, super::links::tested_pairs(&units));
        (links, units)
    }

    /// Request failures that reached no instance join their revision's crash loop (see
    /// `revisions.rs`).
    fn join_unplaced(
        &self,
        groups: &mut [super::Grouped],
        span: WindowSpan,
        clusters: &[ClusterReport],
        resolve: impl Fn(ClusterId) -> ClusterId,
    ) {
        let seen = self.revisions.in_span(span, resolve);
        let min = self.config.min_priority;
        join_crash_loops(groups, clusters, &seen, |c| c.priority <= min);
    }

    fn bound_history(&mut self) {
        if self.history.len() <= MAX_HISTORY {
            return;
        }
        let mut weakest: Vec<(u32, Pair)> = self.history.iter().map(|(p, n)| (*n, *p)).collect();
        weakest.sort_unstable();
        for (_, p) in weakest.into_iter().take(self.history.len() - MAX_HISTORY) {
            self.history.remove(&p);
        }
    }

    pub fn snapshot(&self) -> TrackerSnapshot {
        TrackerSnapshot {
            linker: self.linker.snapshot(),
            history: self.history.iter().map(|(p, n)| (*p, *n)).collect(),
            registry: self.registry.clone(),
            revisions: self.revisions.snapshot(),
        }
    }

    pub fn restore(links: LinkConfig, config: GroupConfig, snap: TrackerSnapshot) -> Tracker {
        Tracker {
            linker: Linker::restore(links, snap.linker),
            config,
            history: snap.history.into_iter().collect(),
            registry: snap.registry,
            revisions: Revisions::restore(links, snap.revisions),
        }
    }
}
