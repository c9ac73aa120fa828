//! The worklog's body, most urgent first: a headline, each incident (root cause, trend,
//! instances, the root cause's sample in full, the clusters that came with it), the other
//! problems (P0–P2 with a sample, P3 in a table), and the noise (P4/P5) as one table without
//! samples, so an hour of a thousand entries reads on one screen above the fold.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{code_span, fence, severities, shorten, table_cell, ts};
use crate::escalate::Priority;
use crate::fingerprint::ClusterId;
use crate::report::{readable, ClusterReport, IncidentReport, WindowReport};

/// Incidents and problems written in full (with a sample); past them problems are table rows,
/// and past [`ROWS`] rows one line counts the rest. A window of 20,000 clusters (a flood of
/// distinct messages) still reads from the top; the JSON worklog keeps every cluster.
pub(super) const FULL: usize = 50;
/// Table rows (and action plan lines) at most.
pub(super) const ROWS: usize = 500;

/// The line that stands for `n` items not written.
pub(super) fn more(o: &mut String, n: usize, what: &str) {
    if n > 0 {
        let _ = writeln!(o, "*… and {n} more {what}, in the JSON worklog.*\n");
    }
}

/// Clusters that belong to an incident (listed under it, not again on their own).
fn in_incidents(r: &WindowReport) -> BTreeSet<ClusterId> {
    r.incidents
        .iter()
        .flat_map(|i| i.members.iter().map(|m| m.cluster))
        .collect()
}

/// Problem clusters not in any incident, by priority.
fn standalone(r: &WindowReport) -> impl Iterator<Item = &ClusterReport> {
    let taken = in_incidents(r);
    r.clusters
        .iter()
        .filter(move |c| c.priority <= Priority::P3 && !taken.contains(&c.id))
}

/// One line that says what needs attention.
pub(super) fn headline(o: &mut String, r: &WindowReport) {
    let problems = standalone(r).count();
    let noise = r
        .clusters
        .iter()
        .filter(|c| c.priority > Priority::P3)
        .count();
    let top = r
        .incidents
        .first()
        .map(|i| (i.priority, i.title.clone()))
        .into_iter()
        .chain(standalone(r).map(|c| (c.priority, readable(&c.template))))
        .min_by_key(|(p, _)| *p);
    match top {
        None => {
            let _ = writeln!(
                o,
                "**Nothing needs attention** in this window ({noise} clusters of noise).\n"
            );
        }
        Some((p, title)) => {
            let _ = writeln!(
                o,
                "**{p}: {}** — {} incidents, {problems} other problems, {noise} clusters of noise.\n",
                code_span(&shorten(&title, 120)),
                r.incidents.len()
            );
        }
    }
}

pub(super) fn incidents(o: &mut String, r: &WindowReport) {
    if r.incidents.is_empty() {
        return;
    }
    o.push_str("## Incidents\n\n");
    for (n, i) in r.incidents.iter().take(FULL).enumerate() {
        incident(o, n + 1, i, r);
    }
    more(o, r.incidents.len().saturating_sub(FULL), "incidents");
}

fn incident(o: &mut String, n: usize, i: &IncidentReport, r: &WindowReport) {
    let kind = if i.crash_loop { " — crash loop" } else { "" };
    let _ = writeln!(
        o,
        "### {n}. [{}] {}{kind}\n",
        i.priority,
        code_span(&shorten(&i.title, 140))
    );
    o.push_str("| | |\n|---|---|\n");
    let _ = writeln!(
        o,
        "| **Priority** | **{}** ({}): {} |",
        i.priority,
        i.priority.meaning(),
        table_cell(&i.reason)
    );
    let _ = writeln!(
        o,
        "| **Count** | {} entries in {} clusters; {} instances |",
        i.count,
        i.members.len(),
        i.instances
    );
    let _ = writeln!(
        o,
        "| **Per minute** | `{}` |",
        i.trend.replace(' ', "\u{2007}")
    );
    let _ = writeln!(
        o,
        "| **First / last seen** | {} / {} |",
        ts(i.first_seen),
        ts(i.last_seen)
    );
    let _ = writeln!(
        o,
        "| **Services** | {} |",
        table_cell(&i.services.join(", "))
    );
    let _ = writeln!(o, "| **Incident id** | `{}` |\n", i.id);
    let root = r.clusters.iter().find(|c| c.id == i.root);
    if let Some(s) = root.and_then(|c| c.sample.as_ref()) {
        let pretty = serde_json::to_string_pretty(s).unwrap_or_default();
        let _ = writeln!(
            o,
            "**Root cause** (earliest entry, redacted):\n{}",
            fence(&pretty, "json")
        );
    }
    o.push_str("**With it**:\n\n| priority | entries | cluster | message |\n|---|---|---|---|\n");
    for m in &i.members {
        let _ = writeln!(
            o,
            "| {} | {} | `{}` | {} |",
            m.priority,
            m.count,
            m.cluster,
            code_span(&shorten(&readable(&m.template), 120))
        );
    }
    o.push('\n');
}

/// Problems outside incidents: P0–P2 each with its sample, P3 in one table.
pub(super) fn others(o: &mut String, r: &WindowReport) {
    let (mut urgent, mut later): (Vec<&ClusterReport>, Vec<&ClusterReport>) =
        standalone(r).partition(|c| c.priority <= Priority::P2);
    if urgent.is_empty() && later.is_empty() {
        return;
    }
    o.push_str("## Other problems\n\n");
    if urgent.len() > FULL {
        // The rest of P0–P2 lead the table.
        later.splice(0..0, urgent.split_off(FULL));
    }
    for (n, c) in urgent.iter().enumerate() {
        cluster(o, n + 1, c);
    }
    if !later.is_empty() {
        o.push_str("| priority | entries | message | why |\n|---|---|---|---|\n");
        for c in later.iter().take(ROWS) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                c.priority,
                c.count,
                code_span(&shorten(&readable(&c.template), 120)),
                table_cell(&c.reason)
            );
        }
        o.push('\n');
        more(o, later.len().saturating_sub(ROWS), "problems");
    }
}

fn cluster(o: &mut String, n: usize, c: &ClusterReport) {
    let _ = writeln!(
        o,
        "### {n}. [{}] {}\n",
        c.priority,
        code_span(&shorten(&readable(&c.template), 140))
    );
    let history = match c.baseline {
        None => "new".to_owned(),
        Some(b) => format!("mean {b:.1} per window before"),
    };
    let _ = writeln!(
        o,
        "**{}** ({}): {}. {} entries ({}), {history}; service {}; first {} last {}; cluster `{}`.\n",
        c.priority,
        c.priority.meaning(),
        table_cell(&c.reason),
        c.count,
        severities(&c.by_severity),
        code_span(&c.service),
        ts(c.first_seen),
        ts(c.last_seen),
        c.id
    );
    if !c.modules.is_empty() || !c.functions.is_empty() {
        let related: Vec<String> = c
            .modules
            .iter()
            .chain(&c.functions)
            .map(|m| code_span(m))
            .collect();
        let _ = writeln!(o, "**Related modules**: {}\n", related.join(", "));
    }
    if let Some(s) = &c.sample {
        let pretty = serde_json::to_string_pretty(s).unwrap_or_default();
        let _ = writeln!(
            o,
            "**Sample entry** (earliest in the window, redacted):\n{}",
            fence(&pretty, "json")
        );
    }
}

/// P4/P5 clusters: counts only.
pub(super) fn noise(o: &mut String, r: &WindowReport) {
    let noise: Vec<&ClusterReport> = r
        .clusters
        .iter()
        .filter(|c| c.priority > Priority::P3)
        .collect();
    if noise.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "## Noise\n\n{} clusters at P4/P5: informational, no action.\n\n| priority | entries | message |\n|---|---|---|",
        noise.len()
    );
    for c in noise.iter().take(ROWS) {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            c.priority,
            c.count,
            code_span(&shorten(&readable(&c.template), 120))
        );
    }
    o.push('\n');
    more(o, noise.len().saturating_sub(ROWS), "clusters of noise");
}
