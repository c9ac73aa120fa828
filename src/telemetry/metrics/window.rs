//! The last closed window as gauges: per-priority and per-severity counts, totals, and the
//! top-K clusters — ranked by priority, then count — with `cluster` and `priority` labels, plus
//! every P0/P1 cluster however many (the rest summed as `cluster="other"`), so a dashboard
//! shows the window report, no urgent cluster hides in `other`, and cardinality stays bounded.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::labels::{ClusterLabels, PriorityLabel, SeverityLabel};
use super::{Metrics, WindowGauges};
use crate::entry::Severity;
use crate::escalate::Priority;
use crate::report::WindowReport;

/// The label value of the bucket holding every cluster outside the top K.
pub const OTHER: &str = "other";

impl WindowGauges {
    pub(super) fn register(r: &mut Registry) -> WindowGauges {
        let g = WindowGauges {
            entries: Gauge::default(),
            by_priority: Family::default(),
            by_severity: Family::default(),
            clusters: Family::default(),
            new_clusters: Gauge::default(),
            malformed: Gauge::default(),
            late: Gauge::default(),
            end: Gauge::default(),
            exported: Default::default(),
        };
        r.register(
            "log_gardener_window_entries",
            "Entries counted in the last closed window",
            g.entries.clone(),
        );
        r.register(
            "log_gardener_window_priority_entries",
            "Entries in the last closed window by the priority of their cluster",
            Family::clone(&g.by_priority),
        );
        r.register(
            "log_gardener_window_severity_entries",
            "Entries in the last closed window by severity",
            Family::clone(&g.by_severity),
        );
        r.register(
            "log_gardener_window_cluster_entries",
            "Entries in the last closed window of its top-K clusters by priority then count, and of every P0/P1 cluster; the rest as cluster=\"other\"",
            Family::clone(&g.clusters),
        );
        r.register(
            "log_gardener_window_new_clusters",
            "Clusters first seen in the last closed window",
            g.new_clusters.clone(),
        );
        r.register(
            "log_gardener_window_malformed_entries",
            "Malformed input reported with the last closed window",
            g.malformed.clone(),
        );
        r.register(
            "log_gardener_window_late_entries",
            "Late entries reported with the last closed window",
            g.late.clone(),
        );
        r.register(
            "log_gardener_window_end_timestamp_seconds",
            "End of the last closed window, Unix seconds",
            g.end.clone(),
        );
        g
    }
}

/// The cluster series of one window: the `k` most urgent clusters (priority, then count; the
/// report's order breaks ties: id) and every P0/P1 cluster beyond them, and, when any are
/// left, their sum as `other`.
fn top_k(report: &WindowReport, k: usize) -> Vec<(ClusterLabels, i64)> {
    let mut ranked: Vec<_> = report.clusters.iter().collect();
    // Stable sort keeps the report's order among equals: deterministic series.
    ranked.sort_by_key(|c| (c.priority, std::cmp::Reverse(c.count)));
    let (shown, rest): (Vec<_>, Vec<_>) = ranked
        .iter()
        .enumerate()
        .partition(|(i, c)| *i < k || c.priority <= Priority::P1);
    let mut out: Vec<(ClusterLabels, i64)> = shown
        .iter()
        .map(|(_, c)| {
            let labels = ClusterLabels {
                cluster: c.id.to_string(),
                priority: c.priority.as_str(),
            };
            (labels, gauge_value(c.count))
        })
        .collect();
    if !rest.is_empty() {
        let labels = ClusterLabels {
            cluster: OTHER.to_owned(),
            priority: OTHER,
        };
        out.push((labels, gauge_value(rest.iter().map(|(_, c)| c.count).sum())));
    }
    out
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Replaces the window gauges with `report`'s numbers. Series of clusters that left the
    /// top K are removed; the others are overwritten in place, so a scrape never sees an
    /// empty window in between.
    /// A revision (late entries) replaces them only if it is of the window they show, and
    /// keeps that window's malformed and late counts (a revision reports none of its own).
    pub fn record_window(&self, report: &WindowReport) {
        let w = &self.window;
        let t = &report.totals;
        let end = report.window.end.timestamp();
        if report.revision.is_some() && end != w.end.get() {
            return;
        }
        w.entries.set(gauge_value(t.entries));
        w.new_clusters.set(gauge_value(t.new_clusters));
        if report.revision.is_none() {
            w.malformed.set(gauge_value(report.malformed.total));
            w.late.set(gauge_value(t.late));
        }
        w.end.set(end);
        self.clusters_active.set(gauge_value(t.clusters));
        for p in Priority::ALL {
            let n = t.by_priority.get(&p).copied().unwrap_or(0);
            w.by_priority
                .get_or_create(&PriorityLabel {
                    priority: p.as_str(),
                })
                .set(gauge_value(n));
        }
        for s in Severity::ALL {
            let n = t.by_severity.get(&s).copied().unwrap_or(0);
            w.by_severity
                .get_or_create(&SeverityLabel {
                    severity: s.as_str(),
                })
                .set(gauge_value(n));
        }
        let series = top_k(report, self.top_k);
        let mut exported = match w.exported.lock() {
            Ok(g) => g,
            // A panic elsewhere while holding the lock leaves only a stale list behind.
            Err(poisoned) => poisoned.into_inner(),
        };
        for old in exported.iter() {
            if !series.iter().any(|(l, _)| l == old) {
                w.clusters.remove(old);
            }
        }
        for (labels, n) in &series {
            w.clusters.get_or_create(labels).set(*n);
        }
        *exported = series.into_iter().map(|(l, _)| l).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ClusterReport;

    fn report_with(counts: &[(u64, Priority, u64)]) -> WindowReport {
        let base: WindowReport = serde_json::from_value(serde_json::json!({
            "schema": crate::report::SCHEMA,
            "window": {"start": "2025-09-15T19:00:00Z", "end": "2025-09-15T20:00:00Z"},
            "coverage": null, "services": [], "clusters": [], "actions": [],
            "totals": {"entries": 0, "clusters": 0, "new_clusters": 0, "by_severity": {},
                       "by_priority": {}, "late": 0},
            "malformed": {"total": 0, "by_reason": {}, "examples": []}
        }))
        .expect("a valid empty report");
        let clusters = counts
            .iter()
            .map(|&(id, priority, count)| {
                serde_json::from_value::<ClusterReport>(serde_json::json!({
                    "id": format!("{id:016x}"), "aliases": [], "priority": priority,
                    "reason": "r", "rule": null, "count": count, "severity": "ERROR",
                    "by_severity": {}, "service": "api", "template": "t", "modules": [],
                    "functions": [], "first_seen": "2025-09-15T19:00:00Z",
                    "last_seen": "2025-09-15T19:00:00Z", "new": false, "baseline": null,
                    "sample": null
                }))
                .expect("a valid cluster")
            })
            .collect();
        WindowReport { clusters, ..base }
    }

    #[test]
    fn top_k_ranks_by_priority_then_count_and_sums_the_rest_as_other() {
        let r = report_with(&[
            (1, Priority::P0, 5),
            (2, Priority::P2, 50),
            (3, Priority::P3, 7),
            (4, Priority::P2, 60),
        ]);
        let s = top_k(&r, 2);
        let got: Vec<(&str, &str, i64)> = s
            .iter()
            .map(|(l, n)| (l.cluster.as_str(), l.priority, *n))
            .collect();
        assert_eq!(
            got,
            [
                ("0000000000000001", "P0", 5),
                ("0000000000000004", "P2", 60),
                ("other", "other", 57)
            ]
        );
        assert_eq!(top_k(&r, 4).len(), 4, "no `other` when everything fits");
    }

    #[test]
    fn a_small_p0_among_many_p2_has_its_series_and_so_does_every_p1() {
        let mut counts: Vec<(u64, Priority, u64)> =
            (10..35).map(|id| (id, Priority::P2, 2)).collect();
        counts.push((1, Priority::P0, 1));
        counts.extend((40..45).map(|id| (id, Priority::P1, 1)));
        let s = top_k(&report_with(&counts), 3);
        let urgent = s
            .iter()
            .filter(|(l, _)| l.priority == "P0" || l.priority == "P1")
            .count();
        assert_eq!(urgent, 6, "every P0/P1 cluster, beyond top_k");
        assert_eq!(s[0].0.cluster, "0000000000000001");
        assert_eq!(
            s.last().map(|(l, n)| (l.cluster.as_str(), *n)),
            Some(("other", 50))
        );
    }

    #[test]
    fn a_new_window_removes_clusters_that_left_the_top_k() {
        let m = Metrics::new(1);
        m.record_window(&report_with(&[(1, Priority::P1, 9), (2, Priority::P2, 3)]));
        let text = m.encode();
        assert!(text.contains(
            r#"log_gardener_window_cluster_entries{cluster="0000000000000001",priority="P1"} 9"#
        ));
        assert!(text.contains(r#"cluster="other",priority="other"} 3"#));
        m.record_window(&report_with(&[(7, Priority::P0, 4)]));
        let text = m.encode();
        assert!(!text.contains("0000000000000001"), "stale series cleared");
        assert!(
            !text.contains(r#"log_gardener_window_cluster_entries{cluster="other""#),
            "no rest this time: {text}"
        );
        assert!(text.contains(r#"cluster="0000000000000007",priority="P0"} 4"#));
    }
}
