//! Which clusters happen together: entries of two clusters on the same instance (else
//! revision or pod) within a short gap, or sharing a trace, are a *co-occurrence*. Counted as
//! sets — clusters seen per (unit, time slot) and per trace — so the result depends only on
//! which entries there were, never on the order they came in, and memory is bounded by the
//! units and slots of the open windows, not by the entries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use xxhash_rust::xxh3::xxh3_64;

use crate::fingerprint::ClusterId;
use crate::window::WindowSpan;

/// Limits of co-occurrence tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Entries this close on one unit happen together (a slot of this length, and its
    /// neighbour, are one moment).
    pub gap: TimeDelta,
    /// Distinct clusters remembered per (unit, slot) or trace; more are ignored (a flood of
    /// many clusters at once says little about which causes which).
    pub max_clusters_per_slot: usize,
    /// Slots and traces remembered at most; past it the oldest are forgotten first.
    pub max_slots: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            gap: TimeDelta::seconds(10),
            max_clusters_per_slot: 32,
            max_slots: 200_000,
        }
    }
}

/// One counted entry, as co-occurrence sees it.
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    pub cluster: ClusterId,
    pub at: DateTime<Utc>,
    /// The instance (else revision or pod) that wrote it.
    pub unit: Option<&'a str>,
    /// The request trace it belongs to.
    pub trace: Option<&'a str>,
}

/// An unordered pair of clusters, smaller id first.
pub type Pair = (ClusterId, ClusterId);

fn pair(a: ClusterId, b: ClusterId) -> Pair {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Co-occurrence sets of the open windows.
#[derive(Debug, Clone, Default)]
pub struct Linker {
    config: LinkConfig,
    /// (slot, unit hash) → clusters seen on that unit in that slot. Ordered by slot, so the
    /// oldest go first and a window's slots are one range.
    slots: BTreeMap<(i64, u64), BTreeSet<ClusterId>>,
    /// trace hash → (latest slot, clusters sharing the trace).
    traces: HashMap<u64, (i64, BTreeSet<ClusterId>)>,
    /// Slots and traces the bound made it forget while their windows were open.
    forgotten: u64,
}

impl Linker {
    pub fn new(config: LinkConfig) -> Linker {
        Linker {
            config,
            ..Linker::default()
        }
    }

    fn slot_of(&self, at: DateTime<Utc>) -> i64 {
        let gap = self.config.gap.num_milliseconds().max(1);
        at.timestamp_millis().div_euclid(gap)
    }

    /// Notes one entry.
    pub fn observe(&mut self, s: &Sighting<'_>) {
        let slot = self.slot_of(s.at);
        let cap = self.config.max_clusters_per_slot;
        if let Some(unit) = s.unit {
            let set = self
                .slots
                .entry((slot, xxh3_64(unit.as_bytes())))
                .or_default();
            if set.len() < cap {
                set.insert(s.cluster);
            }
        }
        if let Some(trace) = s.trace.filter(|t| !t.is_empty()) {
            let (last, set) = self.traces.entry(xxh3_64(trace.as_bytes())).or_default();
            *last = (*last).max(slot);
            if set.len() < cap {
                set.insert(s.cluster);
            }
        }
        self.enforce_bound();
    }

    fn enforce_bound(&mut self) {
        let before = self.slots.len() + self.traces.len();
        while self.slots.len() > self.config.max_slots {
            self.slots.pop_first();
        }
        if self.traces.len() > self.config.max_slots {
            let mut by_age: Vec<(i64, u64)> = self.traces.iter().map(|(k, v)| (v.0, *k)).collect();
            by_age.sort_unstable();
            let excess = self.traces.len() - self.config.max_slots;
            for (_, k) in by_age.into_iter().take(excess) {
                self.traces.remove(&k);
            }
        }
        let dropped = (before - self.slots.len() - self.traces.len()) as u64;
        if dropped > 0 {
            crate::telemetry::events::IncidentLinksForgotten {
                limit: self.config.max_slots,
                slots: dropped,
                first: self.forgotten == 0,
            }
            .emit();
            self.forgotten += dropped;
        }
    }

    /// Slots and traces forgotten to stay within `max_slots` (the incidents of the windows
    /// they belonged to may be missing links).
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// For every pair of clusters that co-occurred inside `span`: how many distinct moments
    /// (unit and slot, a slot's neighbour included) they shared, and whether they shared a
    /// trace.
    pub fn links_in(&self, span: WindowSpan) -> BTreeMap<Pair, Strength> {
        let (lo, hi) = (self.slot_of(span.start), self.slot_of(span.end));
        let mut out: BTreeMap<Pair, Strength> = BTreeMap::new();
        let mut by_unit: BTreeMap<u64, Vec<(i64, &BTreeSet<ClusterId>)>> = BTreeMap::new();
        for ((slot, unit), set) in self.slots.range((lo, 0)..(hi, 0)) {
            by_unit.entry(*unit).or_default().push((*slot, set));
        }
        for slots in by_unit.values() {
            for (i, (slot, set)) in slots.iter().enumerate() {
                let mut together: BTreeSet<ClusterId> = (*set).clone();
                if let Some((next, more)) = slots.get(i + 1) {
                    if *next == slot + 1 {
                        together.extend(more.iter().copied());
                    }
                }
                let ids: Vec<ClusterId> = together.into_iter().collect();
                for (a, x) in ids.iter().enumerate() {
                    for y in &ids[a + 1..] {
                        out.entry(pair(*x, *y)).or_default().moments += 1;
                    }
                }
            }
        }
        for (last, set) in self.traces.values() {
            if *last < lo || *last >= hi {
                continue;
            }
            let ids: Vec<ClusterId> = set.iter().copied().collect();
            for (a, x) in ids.iter().enumerate() {
                for y in &ids[a + 1..] {
                    out.entry(pair(*x, *y)).or_default().traces += 1;
                }
            }
        }
        out
    }

    /// The units (hashed) each cluster was seen on inside `span`.
    pub fn units_in(&self, span: WindowSpan) -> BTreeMap<ClusterId, BTreeSet<u64>> {
        let (lo, hi) = (self.slot_of(span.start), self.slot_of(span.end));
        let mut out: BTreeMap<ClusterId, BTreeSet<u64>> = BTreeMap::new();
        for ((_, unit), set) in self.slots.range((lo, 0)..(hi, 0)) {
            for c in set {
                out.entry(*c).or_default().insert(*unit);
            }
        }
        out
    }

    /// Forgets slots and traces before `t` (no open window reaches back there).
    pub fn forget_before(&mut self, t: DateTime<Utc>) {
        let lo = self.slot_of(t);
        self.slots = self.slots.split_off(&(lo, 0));
        self.traces.retain(|_, (last, _)| *last >= lo);
    }

    /// The state as plain data, for a checkpoint.
    pub fn snapshot(&self) -> LinkerSnapshot {
        LinkerSnapshot {
            slots: self
                .slots
                .iter()
                .map(|((s, u), set)| (*s, *u, set.iter().copied().collect()))
                .collect(),
            traces: self
                .traces
                .iter()
                .map(|(k, (s, set))| (*k, *s, set.iter().copied().collect()))
                .collect(),
        }
    }

    pub fn restore(config: LinkConfig, snap: LinkerSnapshot) -> Linker {
        Linker {
            config,
            slots: snap
                .slots
                .into_iter()
                .map(|(s, u, ids)| ((s, u), ids.into_iter().collect()))
                .collect(),
            traces: snap
                .traces
                .into_iter()
                .map(|(k, s, ids)| (k, (s, ids.into_iter().collect())))
                .collect(),
            forgotten: 0,
        }
    }
}

/// How strongly two clusters are tied in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Strength {
    /// Distinct (unit, moment) co-occurrences.
    pub moments: u32,
    /// Traces shared.
    pub traces: u32,
}

/// [`Linker`] as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkerSnapshot {
    slots: Vec<(i64, u64, Vec<ClusterId>)>,
    traces: Vec<(u64, i64, Vec<ClusterId>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2025-09-15T{s}Z").parse().unwrap()
    }

    fn hour() -> WindowSpan {
        WindowSpan {
            start: t("19:00:00"),
            end: t("20:00:00"),
        }
    }

    fn see(l: &mut Linker, c: u64, at: &str, unit: &str) {
        l.observe(&Sighting {
            cluster: ClusterId(c),
            at: t(at),
            unit: Some(unit),
            trace: None,
        });
    }

    #[test]
    fn entries_close_on_one_unit_link_and_far_or_elsewhere_do_not() {
        let mut l = Linker::new(LinkConfig::default());
        see(&mut l, 1, "19:00:01", "a");
        see(&mut l, 2, "19:00:03", "a");
        see(&mut l, 3, "19:00:03", "b");
        see(&mut l, 4, "19:30:00", "a");
        let links = l.links_in(hour());
        assert_eq!(links.len(), 1, "{links:?}");
        assert_eq!(links[&(ClusterId(1), ClusterId(2))].moments, 1);
    }

    #[test]
    fn neighbouring_slots_are_one_moment_and_the_order_never_matters() {
        let events = [
            (1, "19:10:09.900", "a"),
            (2, "19:10:10.100", "a"),
            (1, "19:20:00", "a"),
            (2, "19:20:01", "a"),
            (2, "19:20:02", "b"),
            (3, "19:20:02", "b"),
        ];
        let mut forward = Linker::new(LinkConfig::default());
        for (c, at, u) in events {
            see(&mut forward, c, at, u);
        }
        let mut backward = Linker::new(LinkConfig::default());
        for (c, at, u) in events.iter().rev() {
            see(&mut backward, *c, at, u);
        }
        let links = forward.links_in(hour());
        assert_eq!(links, backward.links_in(hour()));
        assert_eq!(links[&(ClusterId(1), ClusterId(2))].moments, 2);
        assert_eq!(links[&(ClusterId(2), ClusterId(3))].moments, 1);
    }

    #[test]
    fn a_shared_trace_links_across_units_and_time() {
        let mut l = Linker::new(LinkConfig::default());
        for (c, at, unit) in [(1, "19:01:00", "a"), (2, "19:05:00", "b")] {
            l.observe(&Sighting {
                cluster: ClusterId(c),
                at: t(at),
                unit: Some(unit),
                trace: Some("projects/p/traces/abc"),
            });
        }
        let links = l.links_in(hour());
        assert_eq!(links[&(ClusterId(1), ClusterId(2))].traces, 1);
    }

    #[test]
    fn memory_is_bounded_and_old_slots_are_forgotten() {
        let config = LinkConfig {
            max_slots: 10,
            ..LinkConfig::default()
        };
        let mut l = Linker::new(config);
        for i in 0..100 {
            see(&mut l, i, "19:00:00", &format!("unit{i}"));
        }
        assert!(l.slots.len() <= 10);
        assert_eq!(l.forgotten(), 90, "forgetting is counted (and said, once)");
        l.forget_before(t("20:00:00"));
        assert!(l.slots.is_empty());
        let snap = l.snapshot();
        assert_eq!(Linker::restore(config, snap.clone()).snapshot(), snap);
    }
}
