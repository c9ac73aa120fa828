//! Incidents as the worklog, the issues and the alerts show them: headline, counts, trend,
//! members, instances affected.

use std::collections::{BTreeMap, BTreeSet};

use super::Grouped;
use crate::fingerprint::ClusterId;
use crate::report::{readable, ClusterReport, IncidentMember, IncidentReport};

/// Unicode block characters: render in GitHub markdown and terminals alike.
const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `counts`, scaled to the largest; an empty bucket is a space.
pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|&c| match c {
            0 => BARS[0],
            c => BARS[((c * 8).div_ceil(max)).clamp(1, 8) as usize],
        })
        .collect()
}

/// The reports of `groups`, given the window's clusters, each cluster's entries per bucket
/// and the units (hashed) each cluster was seen on.
pub fn summarize(
    groups: &[Grouped],
    clusters: &[ClusterReport],
    trends: &BTreeMap<ClusterId, Vec<u64>>,
    units: &BTreeMap<ClusterId, BTreeSet<u64>>,
) -> Vec<IncidentReport> {
    let by_id: BTreeMap<ClusterId, &ClusterReport> = clusters.iter().map(|c| (c.id, c)).collect();
    groups
        .iter()
        .filter_map(|g| {
            let members: Vec<&ClusterReport> = g
                .members
                .iter()
                .filter_map(|m| by_id.get(m).copied())
                .collect();
            let root = *members.first()?;
            let mut per_minute: Vec<u64> = Vec::new();
            let mut seen_on: BTreeSet<u64> = BTreeSet::new();
            for m in &members {
                if let Some(t) = trends.get(&m.id) {
                    per_minute.resize(per_minute.len().max(t.len()), 0);
                    for (acc, c) in per_minute.iter_mut().zip(t) {
                        *acc += c;
                    }
                }
                seen_on.extend(units.get(&m.id).into_iter().flatten());
            }
            let services: BTreeSet<String> = members.iter().map(|m| m.service.clone()).collect();
            Some(IncidentReport {
                id: g.id,
                aliases: g.aliases.clone(),
                priority: g.priority,
                reason: g.reason.clone(),
                crash_loop: g.crash_loop,
                root: root.id,
                title: readable(&root.template),
                count: members.iter().map(|m| m.count).sum(),
                members: members
                    .iter()
                    .map(|m| IncidentMember {
                        cluster: m.id,
                        priority: m.priority,
                        count: m.count,
                        template: m.template.clone(),
                    })
                    .collect(),
                services: services.into_iter().collect(),
                first_seen: members.iter().map(|m| m.first_seen).min()?,
                last_seen: members.iter().map(|m| m.last_seen).max()?,
                trend: sparkline(&per_minute),
                per_minute,
                instances: seen_on.len() as u64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_its_peak_and_shows_silence_as_blank() {
        assert_eq!(sparkline(&[0, 1, 4, 8, 0]), " ▁▄█ ");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(sparkline(&[1000, 1]), "█▁", "a single entry still shows");
    }
}
