//! Which clusters happen together: entries of two clusters on the same instance (else
//! revision or pod) within a short gap, or sharing a trace, are a *co-occurrence*. Counted as
//! sets — clusters seen per (unit, time slot) and per trace — so the result depends only on
//! which entries there were, never on the order they came in, and memory is bounded by the
//! units and slots of the open windows, not by the entries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
        // Chance is reckoned over the part of the window that holds entries at all: the first
        // windows of a stream that began inside them (sliding windows start three quarters
        // empty) would otherwise place its errors four times as sparsely as they came.
        let first = by_unit
            .values()
            .filter_map(|slots| slots.first())
            .map(|(slot, _)| *slot)
            .min()
            .unwrap_or(lo);
        for slots in by_unit.values() {
            add_chance(slots, hi - first, &mut out);
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

/// For the pairs of `out` seen on one unit (its slots of the span, in order, `span_slots`
/// of them): how often the rarer of the two met the other, and how often it would by chance —
/// were its slots put anywhere in the span, independently of the other's. Two errors each
/// written twenty times an hour on a busy instance meet in a few slots by chance; a cause and
/// its consequence meet nearly every time.
fn add_chance(
    slots: &[(i64, &BTreeSet<ClusterId>)],
    span_slots: i64,
    out: &mut BTreeMap<Pair, Strength>,
) {
    let mut occupied: BTreeMap<ClusterId, Vec<i64>> = BTreeMap::new();
    for (slot, set) in slots {
        for c in *set {
            occupied.entry(*c).or_default().push(*slot);
        }
    }
    // The pairs that met (those in `out`) by their first cluster, not every pair of the
    // unit's clusters: a unit with thousands of kinds has millions of pairs, few of them met.
    for (x, a) in &occupied {
        let (lo, hi) = ((*x, ClusterId(u64::MIN)), (*x, ClusterId(u64::MAX)));
        for ((_, y), s) in out.range_mut(lo..=hi) {
            let Some(b) = occupied.get(y).filter(|_| y != x) else {
                continue;
            };
            let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            s.same.add(a, b, 0, span_slots);
            s.close.add(a, b, 1, span_slots);
        }
    }
}

/// How often the rarer of two clusters met the other (within `reach` slots), against chance.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tie {
    /// Slots of the rarer cluster (per unit).
    pub tried: u32,
    /// Of those, the slots with the other within reach.
    pub met: u32,
    /// What `met` would be by chance (the rarer cluster's slots placed independently of the
    /// other's), and its variance.
    pub chance: f64,
    pub spread: f64,
}

/// How unlikely a tie must be by chance to count: one-sided, for a pair alone (its two reaches
/// together), and as the false discovery rate over a window's pairs (see [`judge`]).
const CHANCE: f64 = 0.01;

impl Tie {
    /// Adds one unit: `a`, `b` the slots (sorted) of the rarer and the other cluster there.
    fn add(&mut self, a: &[i64], b: &[i64], reach: i64, span_slots: i64) {
        let met = a
            .iter()
            .filter(|t| (*t - reach..=*t + reach).any(|u| b.binary_search(&u).is_ok()))
            .count();
        // The slots of the span within reach of one of b's.
        let (mut covered, mut upto) = (0i64, i64::MIN);
        for t in b {
            let from = (t - reach).max(upto.saturating_add(1));
            covered += (t + reach - from + 1).max(0);
            upto = t + reach;
        }
        let q = (covered as f64 / span_slots.max(1) as f64).min(1.0);
        let n = a.len() as f64;
        self.tried += a.len() as u32;
        self.met += met as u32;
        self.chance += n * q;
        self.spread += n * q * (1.0 - q);
    }

    fn merge(&mut self, other: &Tie) {
        self.tried += other.tried;
        self.met += other.met;
        self.chance += other.chance;
        self.spread += other.spread;
    }

    /// Whether they met more often than chance explains, for this tie alone.
    pub fn beyond_chance(&self) -> bool {
        self.p_value() <= CHANCE
    }

    /// How likely meeting at least this often is by chance: a Poisson tail for few expected
    /// meetings (heavier than the binomial's, so it errs towards no tie), a normal one (with
    /// continuity correction) past that. 1 when they met no more often than chance.
    pub fn p_value(&self) -> f64 {
        let (k, lambda) = (f64::from(self.met), self.chance);
        if self.met == 0 || k <= lambda {
            return 1.0;
        }
        if lambda < 30.0 {
            // Far out in the tail the sum below cancels to nothing; so is the chance.
            if k > lambda + 8.0 * lambda.sqrt() + 10.0 {
                return 0.0;
            }
            let (mut pmf, mut below) = ((-lambda).exp(), 0.0);
            for i in 0..self.met {
                below += pmf;
                pmf *= lambda / f64::from(i + 1);
            }
            (1.0 - below).max(0.0)
        } else if self.spread > 0.0 {
            upper_normal_tail((k - 0.5 - lambda) / self.spread.sqrt())
        } else {
            1.0
        }
    }
}

/// P(Z ≥ z) for a standard normal Z, from the complementary error function (Numerical
/// Recipes' `erfcc`: relative error under 1.2e-7 everywhere, so small tails stay comparable).
fn upper_normal_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| c + t * acc);
    let erfc = t * (-a * a + poly).exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

/// Pairs [`tested_pairs`] tells apart one by one at most; past it, a pair on several units
/// counts once per unit. Thousands of message kinds on one instance (a flood of distinct
/// errors) are millions of pairs: a set of them took a gigabyte at a window's close.
const DISTINCT_PAIRS_COUNTED: usize = 1 << 20;

/// Every pair of clusters seen on one unit in the window (given each cluster's units): the
/// pairs whose tie was tested, whether they met or not. Exact up to
/// [`DISTINCT_PAIRS_COUNTED`] pairs per unit summed; beyond, that sum: an upper bound, so the
/// correction errs towards no tie.
pub fn tested_pairs(units: &BTreeMap<ClusterId, BTreeSet<u64>>) -> usize {
    let mut by_unit: BTreeMap<u64, Vec<ClusterId>> = BTreeMap::new();
    for (c, set) in units {
        for u in set {
            by_unit.entry(*u).or_default().push(*c);
        }
    }
    let per_unit: usize = by_unit
        .values()
        .map(|ids| ids.len() * ids.len().saturating_sub(1) / 2)
        .fold(0, usize::saturating_add);
    if per_unit > DISTINCT_PAIRS_COUNTED || by_unit.len() == 1 {
        return per_unit;
    }
    let mut pairs: HashSet<Pair> = HashSet::with_capacity(per_unit);
    for ids in by_unit.values() {
        for (i, x) in ids.iter().enumerate() {
            for y in &ids[i + 1..] {
                pairs.insert(pair(*x, *y));
            }
        }
    }
    pairs.len()
}

/// Decides which of a window's pairs are tied beyond chance ([`Strength::tied`]), correcting
/// for how many were tested: with thirty unrelated errors on one instance, 435 pairs are
/// tested an hour, and at 1 % each a few would tie by chance alone. Benjamini–Hochberg keeps
/// the expected share of chance ties among the ties at [`CHANCE`]: a pair must be as unlikely
/// as 1 % divided by the tests, unless other pairs are real too (an outage ties many), which
/// keeps a real cause and consequence tied on a busy instance. `tested` counts every pair
/// tested (see [`tested_pairs`]), at least those in `links`.
pub fn judge(links: &mut BTreeMap<Pair, Strength>, tested: usize) {
    let mut p: Vec<f64> = links
        .values()
        .filter(|s| s.same.tried > 0)
        .map(Strength::p_value)
        .collect();
    p.sort_by(f64::total_cmp);
    let m = tested.max(p.len()) as f64;
    // The largest p-value at or under its rank's share of CHANCE; every smaller one passes.
    let cutoff = p
        .iter()
        .enumerate()
        .rev()
        .find(|(i, p)| **p <= CHANCE * (*i + 1) as f64 / m)
        .map(|(_, p)| *p);
    for s in links.values_mut() {
        s.tied = s.same.tried > 0 && cutoff.is_some_and(|c| s.p_value() <= c);
    }
}

/// How strongly two clusters are tied in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Strength {
    /// Distinct (unit, moment) co-occurrences.
    pub moments: u32,
    /// Traces shared.
    pub traces: u32,
    /// Meetings in the same slot: what tells a consequence a few seconds after its cause
    /// from a neighbour written every few seconds anyway.
    pub same: Tie,
    /// Meetings within a slot: a cause and consequence astride a slot's edge.
    pub close: Tie,
    /// Tied beyond chance among the window's pairs, as [`judge`] decided.
    pub tied: bool,
}

impl Strength {
    /// Whether the clusters met more often than chance explains, in the same slot or within
    /// one, for this pair alone (see [`judge`] for a window's pairs).
    pub fn beyond_chance(&self) -> bool {
        self.p_value() <= CHANCE
    }

    /// The chance of meetings this frequent, in the same slot or within one: the smaller of
    /// the two tails, doubled since two were tried (Bonferroni).
    pub fn p_value(&self) -> f64 {
        (2.0 * self.same.p_value().min(self.close.p_value())).min(1.0)
    }

    /// Whether chance cannot be told from a tie: the other cluster is in nearly every slot
    /// (an outage's errors every few seconds, and the failed requests beside them), so
    /// meeting it says nothing either way. Such a pair is judged by its moments alone, as
    /// before there was a test.
    pub fn undecidable(&self) -> bool {
        self.same.tried > 0 && self.same.chance >= 0.8 * f64::from(self.same.tried)
    }

    /// Adds the ties of `other` (the same pair under another id).
    pub fn merge(&mut self, other: &Strength) {
        self.moments += other.moments;
        self.traces += other.traces;
        self.same.merge(&other.same);
        self.close.merge(&other.close);
        // The merged ties are judged anew.
        self.tied = false;
    }
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

    /// Seconds into the hour, as "19:MM:SS".
    fn at(second: u32) -> String {
        format!("19:{:02}:{:02}", second / 60 % 60, second % 60)
    }

    #[test]
    fn meetings_chance_explains_are_no_tie_and_a_cause_with_its_consequence_is() {
        // Two unrelated errors twenty times an hour each, at random, on one busy instance:
        // they meet in a few slots by chance. A third follows the first every time.
        let mut l = Linker::new(LinkConfig::default());
        let mut seed = 7u64;
        let mut random_second = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 3600) as u32
        };
        for _ in 0..20 {
            let first = random_second();
            see(&mut l, 1, &at(first), "a");
            see(&mut l, 2, &at(random_second()), "a");
            see(&mut l, 3, &at((first + 2).min(3599)), "a");
        }
        let links = l.links_in(hour());
        let by_chance = links[&(ClusterId(1), ClusterId(2))];
        assert!(by_chance.moments >= 2, "they did meet: {by_chance:?}");
        assert!(!by_chance.beyond_chance(), "{by_chance:?}");
        assert!(!by_chance.undecidable(), "{by_chance:?}");
        let caused = links[&(ClusterId(1), ClusterId(3))];
        assert!(caused.beyond_chance(), "{caused:?}");
    }

    #[test]
    fn an_outage_that_fills_half_the_hour_ties_and_constant_noise_does_not() {
        let mut l = Linker::new(LinkConfig::default());
        for s in (0..3600).step_by(5) {
            see(&mut l, 1, &at(s), "a");
            see(&mut l, 2, &at(s), "a");
            if s >= 1800 {
                see(&mut l, 3, &at(s), "a");
                see(&mut l, 4, &at(s + 1), "a");
            }
        }
        let links = l.links_in(hour());
        let always = links[&(ClusterId(1), ClusterId(2))];
        assert!(!always.beyond_chance(), "present in every slot: {always:?}");
        assert!(always.undecidable(), "{always:?}");
        let outage = links[&(ClusterId(3), ClusterId(4))];
        assert!(outage.beyond_chance(), "{outage:?}");
    }

    #[test]
    fn two_messages_of_one_restart_cycle_tie_though_one_is_in_every_slot_or_beside_it() {
        // A probe failure, then three seconds later the back-off, every 22 seconds: the probe
        // is within a slot of every slot of the hour, yet they meet in the same slot far more
        // often than chance.
        let mut l = Linker::new(LinkConfig::default());
        for s in (0..3590).step_by(22) {
            see(&mut l, 1, &at(s), "pod");
            see(&mut l, 2, &at(s + 3), "pod");
        }
        let cycle = l.links_in(hour())[&(ClusterId(1), ClusterId(2))];
        assert!(!cycle.close.beyond_chance(), "{cycle:?}");
        assert!(cycle.same.beyond_chance(), "{cycle:?}");
    }

    #[test]
    fn a_rare_pair_meeting_once_or_twice_is_beyond_chance() {
        let tie = |met, chance| Tie {
            tried: 360,
            met,
            chance,
            spread: chance,
        };
        assert!(tie(1, 3.0 / 360.0).beyond_chance(), "once");
        assert!(tie(2, 12.0 / 360.0).beyond_chance(), "twice");
        assert!(!tie(4, 4.2).beyond_chance(), "as often as chance");
        assert!(tie(400, 3.0).beyond_chance());
        assert!(!tie(0, 0.0).beyond_chance());
    }

    /// A seeded generator: uniform in [0, 1).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        /// A Poisson count with mean `mean` (Knuth's product of uniforms).
        fn poisson(&mut self, mean: f64) -> u32 {
            let (limit, mut product, mut n) = ((-mean).exp(), self.next(), 0);
            while product > limit {
                product *= self.next();
                n += 1;
            }
            n
        }
    }

    /// Thirty unrelated errors on one instance, each a Poisson process of its own rate (5 to
    /// 60 an hour), and — when `with_cause` — one more that follows the first every time.
    fn busy_instance(seed: u64, with_cause: bool) -> BTreeMap<Pair, Strength> {
        busy_instance_for(seed, with_cause, 3600)
    }

    /// [`busy_instance`] at the same rates, its entries in the last `seconds` of the hour only
    /// (a stream that began inside the window).
    fn busy_instance_for(seed: u64, with_cause: bool, seconds: u32) -> BTreeMap<Pair, Strength> {
        let share = f64::from(seconds) / 3600.0;
        let mut rng = Lcg(seed);
        let mut l = Linker::new(LinkConfig::default());
        for c in 1..=30u64 {
            // The cause fails a dozen times an hour; the others at 5 to 60.
            let rate = if with_cause && c == 1 {
                12.0
            } else {
                5.0 + 55.0 * rng.next()
            };
            for _ in 0..rng.poisson(rate * share) {
                let s = 3600 - seconds + (rng.next() * f64::from(seconds)) as u32;
                see(&mut l, c, &at(s), "a");
                if with_cause && c == 1 {
                    see(&mut l, 31, &at((s + 2).min(3599)), "a");
                }
            }
        }
        let mut links = l.links_in(hour());
        judge(&mut links, tested_pairs(&l.units_in(hour())));
        links
    }

    #[test]
    fn tested_pairs_counts_a_pair_on_several_units_once_and_a_flood_without_a_set() {
        let units = |sets: &[(u64, &[u64])]| {
            let mut m: BTreeMap<ClusterId, BTreeSet<u64>> = BTreeMap::new();
            for (c, us) in sets {
                m.entry(ClusterId(*c)).or_default().extend(us.iter());
            }
            m
        };
        // 1 and 2 on both units, 3 on the second: (1,2), (1,3), (2,3).
        assert_eq!(
            tested_pairs(&units(&[(1, &[7, 8]), (2, &[7, 8]), (3, &[8])])),
            3
        );
        assert_eq!(tested_pairs(&units(&[(1, &[7]), (2, &[8])])), 0);
        // 20,000 kinds on one instance: 199,990,000 pairs, counted, not collected.
        let flood: BTreeMap<ClusterId, BTreeSet<u64>> = (0..20_000)
            .map(|c| (ClusterId(c), BTreeSet::from([7])))
            .collect();
        assert_eq!(tested_pairs(&flood), 199_990_000);
        // And on two instances, past the bound: one count per unit, an upper bound.
        let flood: BTreeMap<ClusterId, BTreeSet<u64>> = (0..2_000)
            .map(|c| (ClusterId(c), BTreeSet::from([7, 8])))
            .collect();
        assert_eq!(tested_pairs(&flood), 2 * 1_999_000);
    }

    /// The pairs tied in `links`, but `known`.
    fn tied_besides(links: &BTreeMap<Pair, Strength>, known: Option<Pair>) -> Vec<&Pair> {
        links
            .iter()
            .filter(|(p, s)| s.tied && Some(**p) != known)
            .map(|(p, _)| p)
            .collect()
    }

    #[test]
    fn thirty_unrelated_errors_on_one_instance_tie_none_though_some_pass_alone() {
        let mut alone = 0;
        for seed in 1..=8 {
            let links = busy_instance(seed, false);
            assert_eq!(tied_besides(&links, None), [] as [&Pair; 0], "seed {seed}");
            // The test before the correction: either reach at 1 %.
            alone += links
                .values()
                .filter(|s| s.same.beyond_chance() || s.close.beyond_chance())
                .count();
        }
        // Without the correction, chance alone ties some of these pairs.
        assert!(alone >= 4, "{alone} pairs pass the test alone over 8 hours");
    }

    #[test]
    fn a_busy_instance_that_began_late_in_the_window_ties_none() {
        for seed in 1..=8 {
            let links = busy_instance_for(seed, false, 900);
            assert_eq!(tied_besides(&links, None), [] as [&Pair; 0], "seed {seed}");
        }
    }

    #[test]
    fn on_a_busy_instance_a_cause_and_its_consequence_still_tie() {
        for seed in 1..=8 {
            let links = busy_instance(seed, true);
            let caused = links[&(ClusterId(1), ClusterId(31))];
            assert!(caused.tied, "seed {seed}: {caused:?}");
            let cause = (ClusterId(1), ClusterId(31));
            assert_eq!(
                tied_besides(&links, Some(cause)),
                [] as [&Pair; 0],
                "seed {seed}"
            );
        }
    }

    #[test]
    fn tails_are_small_where_the_test_passes_and_one_where_they_met_as_chance_says() {
        let tie = |met, chance: f64| Tie {
            tried: 720,
            met,
            chance,
            spread: chance,
        };
        // The normal tail matches the table: z 2.326 is 1 %, z 4.265 is 1e-5.
        assert!((upper_normal_tail(2.326) - 0.010_009).abs() < 1e-5);
        assert!((upper_normal_tail(4.265) / 1.0e-5 - 1.0).abs() < 0.01);
        assert!((upper_normal_tail(-1.0) - 0.841_345).abs() < 1e-5);
        assert_eq!(tie(3, 4.0).p_value(), 1.0);
        assert_eq!(tie(0, 0.0).p_value(), 1.0);
        assert!(tie(100, 40.0).p_value() < 1e-15);
        // Poisson: two meetings where 0.1 were expected.
        let p = tie(2, 0.1).p_value();
        assert!((p - 0.004_679).abs() < 1e-5, "{p}");
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
