//! Closed window → report: resolve fine ids to clusters, decide priorities, pick samples,
//! write the action plan. Pure; the same inputs give the same report.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::escalate::Evidence;
use crate::escalate::{Escalation, Priority};
use crate::fingerprint::Fingerprinter;
use crate::redact::{Inert, KeptEntry};
use crate::window::{BucketStats, ClosedWindow, FineWindow};

/// Malformed input seen since the previous report.
#[derive(Debug, Clone, Default)]
pub struct Malformed(pub MalformedSummary);

impl Malformed {
    /// Most examples kept per report; the counts are always complete.
    pub const EXAMPLES: usize = 20;

    pub fn note(&mut self, location: String, reason: &str, detail: String) {
        self.0.total += 1;
        *self.0.by_reason.entry(reason.to_owned()).or_default() += 1;
        if self.0.examples.len() < Self::EXAMPLES {
            self.0.examples.push(MalformedExample {
                location: inert(&location),
                reason: inert(reason),
                detail: inert(&detail),
            });
        }
    }

    pub fn take(&mut self) -> MalformedSummary {
        std::mem::take(&mut self.0)
    }
}

/// Log-derived text as the report holds it: neutralised and redacted here, the one point where
/// the report is built, so every sink reads redacted text (and redacts again at its boundary).
fn inert(text: &str) -> String {
    Inert::new(text).into_string()
}

/// Each cluster's entries per bucket of the closed window (its fine ids summed).
pub fn trends(closed: &ClosedWindow, fp: &Fingerprinter) -> BTreeMap<ClusterId, Vec<u64>> {
    let mut out: BTreeMap<ClusterId, Vec<u64>> = BTreeMap::new();
    for fine in &closed.clusters {
        let id = fp.cluster_of(fine.id);
        let acc = out.entry(id).or_default();
        acc.resize(acc.len().max(fine.buckets.len()), 0);
        for (a, c) in acc.iter_mut().zip(&fine.buckets) {
            *a += c;
        }
    }
    out
}

/// The window's late entries by cluster (fine ids resolved and summed), most first.
fn late_clusters(closed: &ClosedWindow, fp: &Fingerprinter) -> Vec<LateCluster> {
    let mut by: BTreeMap<ClusterId, LateCluster> = BTreeMap::new();
    for late in &closed.late_clusters {
        let (id, template) = fp
            .resolve(late.id)
            .map_or((late.id, String::new()), |r| (r.id, r.template));
        let c = by.entry(id).or_insert_with(|| LateCluster {
            cluster: id,
            template: inert(&template),
            entries: 0,
            earliest: late.earliest,
        });
        c.entries += late.entries;
        c.earliest = c.earliest.min(late.earliest);
    }
    let mut out: Vec<LateCluster> = by.into_values().collect();
    out.sort_by(|a, b| (b.entries, a.cluster).cmp(&(a.entries, b.cluster)));
    out
}

/// One cluster's fine windows, merged.
struct Group<'a> {
    parts: Vec<&'a FineWindow>,
    stats: BucketStats,
}

/// What decides a cluster's priority and its action: the escalation rules and thresholds, and
/// the priority from which a cluster gets a GitHub issue.
#[derive(Debug, Clone, Copy)]
pub struct ReportPolicy<'a> {
    pub escalation: &'a Escalation,
    pub issue_min_priority: Priority,
}

pub fn build_report(
    closed: &ClosedWindow,
    fp: &Fingerprinter,
    settings: ReportPolicy<'_>,
    malformed: MalformedSummary,
) -> WindowReport {
    let mut groups: BTreeMap<(ClusterId, String), Group<'_>> = BTreeMap::new();
    for fine in closed.clusters.iter().filter(|f| f.stats.count() > 0) {
        let resolved = fp.resolve(fine.id);
        let (id, template) = resolved.map_or((fine.id, String::new()), |r| (r.id, r.template));
        let g = groups.entry((id, template)).or_insert_with(|| Group {
            parts: Vec::new(),
            stats: BucketStats::default(),
        });
        g.stats.merge(&fine.stats);
        g.parts.push(fine);
    }
    let mut clusters: Vec<ClusterReport> = groups
        .into_iter()
        .map(|((id, template), g)| cluster_report(id, template, &g, settings))
        .collect();
    clusters.sort_by(|a, b| (a.priority, b.count, a.id).cmp(&(b.priority, a.count, b.id)));

    let mut all = BucketStats::default();
    closed.clusters.iter().for_each(|f| all.merge(&f.stats));
    let totals = Totals {
        entries: all.count(),
        clusters: clusters.len() as u64,
        new_clusters: clusters.iter().filter(|c| c.new).count() as u64,
        by_severity: by_severity(&all),
        by_priority: clusters.iter().fold(BTreeMap::new(), |mut m, c| {
            *m.entry(c.priority).or_default() += c.count;
            m
        }),
        late: closed.late,
        duplicates: 0,
    };
    let services: BTreeSet<String> = clusters.iter().map(|c| c.service.clone()).collect();
    let mut report = WindowReport {
        schema: SCHEMA.to_owned(),
        window: closed.span,
        coverage: all
            .first_seen()
            .zip(all.last_seen())
            .map(|(first_entry, last_entry)| Coverage {
                first_entry,
                last_entry,
            }),
        services: services.into_iter().collect(),
        totals,
        late_clusters: late_clusters(closed, fp),
        malformed,
        field_warnings: BTreeMap::new(),
        actions: Vec::new(),
        incidents: Vec::new(),
        clusters,
        silent_before: None,
        github: None,
        revision: closed.revision.map(|r| RevisionReport {
            number: r.number,
            entries_before: r.entries_before,
            retracted: Vec::new(),
        }),
    };
    report.actions = plan(&report, settings);
    report
}

fn cluster_report(
    id: ClusterId,
    template: String,
    g: &Group<'_>,
    settings: ReportPolicy<'_>,
) -> ClusterReport {
    let first = g.parts[0];
    let severity = g
        .stats
        .max_severity()
        .unwrap_or(crate::entry::Severity::Default);
    let (baseline, known) = baseline(&g.parts);
    let logger = crate::escalate::logger_of(&first.location);
    let decision = settings.escalation.decide(&Evidence {
        template: &template,
        logger: &logger,
        service: &first.service,
        severity,
        count: g.stats.count(),
        baseline,
    });
    let sample = g
        .parts
        .iter()
        .filter_map(|p| p.sample.as_ref())
        .min_by(|a, b| (a.at_ms, &a.insert_id).cmp(&(b.at_ms, &b.insert_id)));
    ClusterReport {
        id,
        aliases: g.parts.iter().map(|p| p.id).filter(|a| *a != id).collect(),
        priority: decision.priority,
        reason: decision.reason,
        rule: decision.rule,
        count: g.stats.count(),
        severity,
        by_severity: by_severity(&g.stats),
        service: inert(&first.service),
        template: inert(&template),
        modules: distinct(
            g.parts
                .iter()
                .filter_map(|p| p.location.logger.as_deref().map(inert)),
        ),
        functions: distinct(
            g.parts
                .iter()
                .filter_map(|p| function_name(&p.location).map(|f| inert(&f))),
        ),
        first_seen: g.stats.first_seen().unwrap_or_default(),
        last_seen: g.stats.last_seen().unwrap_or_default(),
        new: known == 0,
        baseline,
        sample: sample.map(|s| quote_sample(s.entry())),
    }
}

/// Mean of the merged previous-window counts, and over how many windows.
fn baseline(parts: &[&FineWindow]) -> (Option<f64>, usize) {
    let known = parts.iter().map(|p| p.windows_known).max().unwrap_or(0);
    if known == 0 {
        return (None, 0);
    }
    let sum: u64 = parts.iter().flat_map(|p| p.history.iter()).sum();
    (Some(sum as f64 / known as f64), known)
}

fn function_name(loc: &crate::entry::CodeLocation) -> Option<String> {
    match (&loc.function, &loc.file) {
        (Some(f), Some(file)) => Some(format!("{f} ({file})")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(file)) => Some(file.clone()),
        (None, None) => None,
    }
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    items.collect::<BTreeSet<_>>().into_iter().collect()
}

fn by_severity(stats: &BucketStats) -> BTreeMap<crate::entry::Severity, u64> {
    crate::entry::Severity::ALL
        .into_iter()
        .filter(|s| stats.by_severity[*s as usize] > 0)
        .map(|s| (s, stats.by_severity[s as usize]))
        .collect()
}

/// The fields of an entry worth quoting (its resource, with the revision, kept; receive
/// bookkeeping left out). A [`KeptEntry`] reads only redacted, so what is quoted was redacted
/// whole (every field, before any was left out) and is not redacted again. The entry is real:
/// nothing is added or rewritten except secrets.
fn quote_sample(kept: &KeptEntry) -> serde_json::Value {
    const KEEP: [&str; 13] = [
        "timestamp",
        "resource",
        "severity",
        "insertId",
        "logName",
        "httpRequest",
        "jsonPayload",
        "textPayload",
        "protoPayload",
        "sourceLocation",
        "labels",
        "operation",
        "errorGroups",
    ];
    let redacted = kept.text();
    match serde_json::from_str(redacted) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.retain(|k, _| KEEP.contains(&k.as_str()));
            if let Some(serde_json::Value::Object(labels)) = m.get_mut("labels") {
                labels.remove("instanceId");
                if labels.is_empty() {
                    m.remove("labels");
                }
            }
            serde_json::Value::Object(m)
        }
        _ => serde_json::Value::String(redacted.to_owned()),
    }
}

/// The template for a title: runs of variables joined by `-:./_` or a space (`<*>-<*>-<*> <*>`,
/// a masked timestamp) read as one `<*>`. The report's `template` keeps the exact form.
pub fn readable(template: &str) -> String {
    const VAR: &str = "<*>";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(VAR) {
        out.push_str(&rest[..i]);
        out.push_str(VAR);
        rest = &rest[i + VAR.len()..];
        // Swallow `<sep><*>` repeats where <sep> is at most two of `-:./_` or a space.
        loop {
            let sep = rest
                .find(VAR)
                .filter(|&j| j <= 2 && rest[..j].chars().all(|c| "-:./_ ".contains(c)));
            match sep {
                Some(j) => rest = &rest[j + VAR.len()..],
                None => break,
            }
        }
    }
    out.push_str(rest);
    out
}

/// The action plan: one item per incident, then one per problem (P0–P3) that is in no
/// incident; noise needs none.
pub fn plan(r: &WindowReport, policy: ReportPolicy<'_>) -> Vec<Action> {
    let taken = r.in_incidents();
    let incidents = r
        .incidents
        .iter()
        .map(|i| action(i.id, i.priority, &i.title, policy));
    let problems = r
        .clusters
        .iter()
        .filter(|c| c.priority <= Priority::P3 && !taken.contains(&c.id))
        .map(|c| action(c.id, c.priority, &readable(&c.template), policy));
    let mut out: Vec<Action> = incidents.chain(problems).collect();
    out.sort_by_key(|a| a.priority);
    out
}

fn action(id: ClusterId, priority: Priority, title: &str, policy: ReportPolicy<'_>) -> Action {
    use crate::escalate::Priority::*;
    let what = match priority {
        P0 => "Page on-call and fix now",
        P1 => "Fix today",
        P2 => "Fix this week",
        P3 => "Backlog",
        P4 | P5 => "Monitor only, no action",
    };
    let issue = if priority <= policy.issue_min_priority {
        "; create/update its GitHub issue"
    } else {
        ""
    };
    Action {
        priority,
        cluster: id,
        title: inert(title),
        action: format!("{what}{issue}"),
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn readable_joins_variable_runs_but_keeps_words() {
        assert_eq!(
            readable("[<*>-<*>-<*> <*>:<*>:<*> <*>] [<*>] [INFO] Booting pid: <*>"),
            "[<*>] [<*>] [INFO] Booting pid: <*>"
        );
        assert_eq!(
            readable("User <*> logged in from <*> with <*>"),
            "User <*> logged in from <*> with <*>"
        );
        assert_eq!(
            readable("at <*>:<*>, then <*>, <*>"),
            "at <*>, then <*>, <*>"
        );
        assert_eq!(readable("no variables"), "no variables");
        assert_eq!(readable("<*><*>"), "<*>");
    }
}
